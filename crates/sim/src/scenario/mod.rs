//! Scenario files (spec/scenario.md): read one TOML file, check every value before anything is
//! simulated, and resolve it into a [`Scenario`] the simulator consumes directly.
//!
//! Two layers: `raw` is the file as written (unknown keys rejected, every value with its span);
//! `validate` resolves units, defaults, bounds, instance names and SQL into the [`model`] types,
//! so that every error can name the file, line and column, what is wrong and what to change:
//!
//! ```text
//! sims/x.toml:5:12: duration: "30" needs a unit, e.g. "30s" or "30ms"
//! ```
//!
//! Nothing in this module panics on any input: a bad file is a [`ScenarioError`].

pub(crate) mod error;
pub mod model;
mod raw;
mod render;
mod source;
pub mod units;
mod validate;

#[cfg(test)]
mod tests;

use std::{fs, io::Read, path::Path};

pub use error::{Problem, ScenarioError};
pub use model::{
    AllowedStepError, Arrivals, Database, Disk, Edition, Expectations, FailoverExpectations, Fault,
    FaultKind, HealScope, Instance, InstanceId, Link, LinkParameters, Network, RecoveryModel,
    RoleHolder, Scenario, SessionState, Step, Workload, WorkloadStart,
};
pub use render::to_toml;
pub use source::Location;
pub use units::{Comparison, Measure};

/// The longest `duration` of a run: 30 days, in ns.
pub const DURATION_MAX_NS: u64 = 30 * units::NANOS_PER_DAY;
/// The highest open-loop `rate`: 10 million transactions per second.
pub const RATE_MAX: f64 = 10_000_000.0;
/// The most closed-loop `clients`.
pub const CLIENTS_MAX: u32 = 100_000;
/// The most `cpus` (and `redo_threads`) of one instance.
pub const CPUS_MAX: u32 = 1_024;
/// The largest scenario file read, in bytes: a scenario is a page of text, not a data set.
pub const SCENARIO_BYTES_MAX: u64 = 4 << 20;

/// Reads, checks and resolves the scenario in `file`.
pub fn load(file: &Path) -> Result<Scenario, ScenarioError> {
    let source = read(file)?;
    parse(&source, file)
}

/// Checks and resolves a scenario whose text is `source`; `file` only names it in errors.
pub fn parse(source: &str, file: &Path) -> Result<Scenario, ScenarioError> {
    if let Some((span, key, entry)) = raw::misplaced_table(source) {
        return Err(validate::not_a_table(source, file, span, &key, entry));
    }
    let raw: raw::RawScenario =
        toml::from_str(source).map_err(|error| validate::toml_error(&error, source, file))?;
    validate::resolve(&raw, source, file)
}

/// Reads the file as UTF-8 text, refusing one larger than [`SCENARIO_BYTES_MAX`].
fn read(file: &Path) -> Result<String, ScenarioError> {
    let unreadable = |reason: String, source: Option<std::io::Error>| ScenarioError::Unreadable {
        file: file.to_path_buf(),
        reason,
        source,
    };
    let handle =
        fs::File::open(file).map_err(|error| unreadable(error.to_string(), Some(error)))?;
    let mut bytes = Vec::new();
    handle
        .take(SCENARIO_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| unreadable(error.to_string(), Some(error)))?;
    if bytes.len() as u64 > SCENARIO_BYTES_MAX {
        return Err(unreadable(
            format!(
                "larger than {} bytes; a scenario is a short text file",
                SCENARIO_BYTES_MAX
            ),
            None,
        ));
    }
    String::from_utf8(bytes).map_err(|error| {
        // Where the first invalid byte is, as an editor counts: lines and characters.
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        let valid = std::str::from_utf8(valid).expect("the bytes before it are UTF-8");
        let line = valid.matches('\n').count() + 1;
        let column = valid
            .rsplit('\n')
            .next()
            .map_or(0, |last| last.chars().count())
            + 1;
        unreadable(
            format!(
                "not UTF-8 text: line {line}, column {column} holds a byte that is not UTF-8 \
                 (offset {}); save the file as UTF-8",
                valid.len()
            ),
            None,
        )
    })
}
