//! The T-SQL statements of spec/scenario.md ("The statements understood").

/// A statement the simulator understands (placeholder until the parser lands).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Statement {}

/// A statement that does not parse: the 1-based column (in characters of the step's `sql`) and
/// what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ParseError {
    /// 1-based column in the step's `sql` string.
    pub column: usize,
    /// What is wrong, in words a DBA understands.
    pub message: String,
}

/// Parses one step's `sql`: one or more statements separated by `;`.
pub fn parse_batch(sql: &str) -> Result<Vec<Statement>, ParseError> {
    let _ = sql;
    Ok(Vec::new())
}
