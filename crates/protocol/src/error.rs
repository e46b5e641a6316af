//! Errors that reach a DBA: SQL Server error numbers with a message they recognise.

use std::fmt;

/// A SQL Server error: its number (1418, 1455, ...) and a message in the words a DBA
/// recognises. A failing T-SQL statement or session command returns one of these and leaves
/// every state unchanged (DESIGN.md rule 5).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SqlError {
    /// The SQL Server error number, e.g. 1418.
    pub number: u32,
    /// The message, naming the rule that failed.
    pub message: String,
}

impl SqlError {
    /// An error with this number and message.
    pub fn new(number: u32, message: impl Into<String>) -> Self {
        Self {
            number,
            message: message.into(),
        }
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Msg {}: {}", self.number, self.message)
    }
}

impl std::error::Error for SqlError {}
