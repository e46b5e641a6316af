//! What can be wrong with a scenario file. Every error names the file, the line and column, what
//! is wrong and what to change: `sims/x.toml:5:12: duration: "30" needs a unit, e.g. "30s" or "30ms"`.

use std::{io, path::PathBuf};

use super::{
    source::Location,
    units::{ComparisonError, UnitError},
};

/// A scenario that cannot be run: bad input, exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read (missing, a directory, not UTF-8, too large).
    #[error("{}: cannot read the scenario: {reason}", file.display())]
    Unreadable {
        /// The file as named on the command line.
        file: PathBuf,
        /// Why, in words.
        reason: String,
        /// The operating system's error, when there is one.
        #[source]
        source: Option<io::Error>,
    },
    /// The file was read, and something in it is wrong. Control characters (a NUL in a step's
    /// SQL) are shown escaped, so that the message stays one readable line on any terminal.
    #[error("{}:{at}: {}", file.display(), escape_controls(&problem.to_string()))]
    Invalid {
        /// The file as named on the command line.
        file: PathBuf,
        /// Where in the file.
        at: Location,
        /// What is wrong and what to change (boxed: errors travel through every `Result`).
        problem: Box<Problem>,
    },
}

impl ScenarioError {
    /// Where in the file the problem is, if the file could be read.
    pub fn location(&self) -> Option<Location> {
        match self {
            ScenarioError::Unreadable { .. } => None,
            ScenarioError::Invalid { at, .. } => Some(*at),
        }
    }

    /// What is wrong, if the file could be read.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ScenarioError::Unreadable { .. } => None,
            ScenarioError::Invalid { problem, .. } => Some(problem.as_ref()),
        }
    }
}

/// What is wrong at one place of a scenario file. `key` names the value the way the file does:
/// `duration`, `network.bandwidth`, `instance 2: edition`, `fault 1 (crash): target`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// TOML syntax, an unknown key, a missing key or a value of the wrong type, as the TOML
    /// reader words it (with a suggestion when a key looks misspelt).
    #[error("{message}")]
    Toml {
        /// The reader's message, completed with what to change.
        message: String,
    },
    /// A value with a unit that could not be resolved.
    #[error("{key}: {written} {reason}")]
    Quantity {
        /// The key.
        key: String,
        /// The value as written (strings quoted).
        written: String,
        /// What is wrong with it.
        reason: UnitError,
    },
    /// An `[expect]` comparison that could not be read.
    #[error("{key}: {}", comparison_text(written, reason))]
    Comparison {
        /// The key.
        key: String,
        /// The value as written.
        written: String,
        /// What is wrong with it.
        reason: ComparisonError,
    },
    /// A value of the wrong kind for its key.
    #[error("{key}: expected {expected}, found {written}")]
    WrongType {
        /// The key.
        key: String,
        /// What the key takes, with an example.
        expected: &'static str,
        /// The value as written.
        written: String,
    },
    /// A value outside the bounds of spec/scenario.md.
    #[error("{key}: {written} is out of range; it must be {rule}")]
    OutOfRange {
        /// The key.
        key: String,
        /// The value as written, or as resolved.
        written: String,
        /// The bound, e.g. "between 1 and 100000".
        rule: String,
    },
    /// A word that is not one of the key's choices.
    #[error("{key}: \"{written}\" is not one of: {choices}")]
    UnknownWord {
        /// The key.
        key: String,
        /// The word as written.
        written: String,
        /// The words accepted.
        choices: &'static str,
    },
    /// A step, fault, link or expectation that names an instance no `[[instance]]` declares.
    #[error("{key}: no instance is named \"{name}\"; use one of {known}, or declare it with [[instance]]")]
    UnknownInstance {
        /// The key.
        key: String,
        /// The name as written.
        name: String,
        /// The declared names, comma-separated.
        known: String,
    },
    /// A name or host declared twice.
    #[error("{key}: \"{name}\" is already used on line {first_line}; {what} must be unique")]
    Duplicate {
        /// The key.
        key: String,
        /// The repeated value.
        name: String,
        /// Where it was first declared.
        first_line: usize,
        /// "instance names", "hosts", "links".
        what: &'static str,
    },
    /// A step's `sql` that does not parse.
    #[error(
        "step {step}: sql does not parse at column {sql_column} of the statement text: \
         {message}; see spec/scenario.md, \"The statements understood\""
    )]
    Sql {
        /// The step number (1-based, in file order).
        step: usize,
        /// The 1-based column within the `sql` string.
        sql_column: usize,
        /// The parser's message.
        message: String,
    },
    /// Any other rule of the format, worded with its remedy.
    #[error("{key}: {message}")]
    Rule {
        /// The key.
        key: String,
        /// What is wrong and what to change.
        message: String,
    },
}

/// The value as written, then why it is wrong, without saying the value twice: a reason that
/// already starts with it (`"~~ 3" is not a whole number`, where the whole text is the operand)
/// is shown alone; a reason about a part of it (`"> x"`: `"x" is not a whole number`) follows
/// it after a colon.
fn comparison_text(written: &str, reason: &ComparisonError) -> String {
    let reason = reason.to_string();
    if reason.starts_with(written) {
        reason
    } else if reason.starts_with('"') {
        format!("{written}: {reason}")
    } else {
        format!("{written} {reason}")
    }
}

/// `text` with every control character escaped (`\0` as `\u{0}`, a tab as `\t`).
pub(crate) fn escape_controls(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
