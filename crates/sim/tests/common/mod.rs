//! What several integration tests share: running a bundled scenario with its own seed.

// Each test crate that includes this module uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use mirror_sim::report::{FailoverReport, MirroringRole, MonitorSample, Report, StepReport};
use mirror_sim::scenario::Scenario;

/// The path of `name` in the repository's `sims/`.
pub fn sims_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../sims")
        .join(name)
}

/// Numbers the event streams written, so that runs on several threads never share a file.
static RUNS: AtomicUsize = AtomicUsize::new(0);

/// The `--events` stream of `file`, run with `seed` (its own when `None`).
pub fn events_of(file: &Path, seed: Option<u64>) -> Vec<u8> {
    let out = events_file(file, seed);
    let bytes = std::fs::read(&out).expect("the event stream was written");
    let _ = std::fs::remove_file(&out);
    bytes
}

/// The `--events` stream of the scenario `name` of `sims/`, run with its own seed, one JSON
/// value per event.
pub fn event_values(name: &str) -> Vec<serde_json::Value> {
    let events = events_of(&sims_file(name), None);
    String::from_utf8(events)
        .expect("UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// Runs `file` with `--events` to a temporary file and returns its path (the caller removes it).
pub fn events_file(file: &Path, seed: Option<u64>) -> PathBuf {
    let scenario = mirror_sim::scenario::load(file).unwrap_or_else(|e| panic!("{e}"));
    let out = std::env::temp_dir().join(format!(
        "mirrorsim-events-{}-{}-{}-{}.jsonl",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed),
        file.file_stem().unwrap().to_string_lossy(),
        seed.unwrap_or(u64::MAX)
    ));
    let options = mirror_sim::RunOptions {
        seed: seed.unwrap_or(scenario.seed),
        events: Some(out.clone()),
        ..Default::default()
    };
    let outcome = mirror_sim::run_scenario(&scenario, &options);
    assert!(
        outcome.output_errors.is_empty(),
        "{:?}",
        outcome.output_errors
    );
    out
}

/// The report of `scenario` run with its own seed.
pub fn run(scenario: &Scenario) -> Report {
    let options = mirror_sim::RunOptions {
        seed: scenario.seed,
        ..Default::default()
    };
    mirror_sim::run_scenario(scenario, &options).report
}

/// The report of the scenario `name` of `sims/`, run with its own seed.
pub fn report_of(name: &str) -> Report {
    let file = sims_file(name);
    let scenario = mirror_sim::scenario::load(&file)
        .unwrap_or_else(|e| panic!("{} does not load: {e}", file.display()));
    run(&scenario)
}

/// The principal's `monitor` sample taken at `at_us`.
pub fn principal_sample_at(report: &Report, at_us: u64) -> &MonitorSample {
    report
        .monitor
        .iter()
        .find(|m| m.role == MirroringRole::Principal && m.at_us == at_us)
        .unwrap_or_else(|| panic!("no principal sample at {at_us} us"))
}

/// The first step that failed with SQL Server error `error`.
pub fn step_failed_with(report: &Report, error: u32) -> &StepReport {
    report
        .steps
        .iter()
        .find(|s| s.error == Some(error))
        .unwrap_or_else(|| panic!("no step failed with {error}"))
}

/// The report's only failover (fails the test if there is not exactly one).
pub fn the_failover(report: &Report) -> &FailoverReport {
    let [failover] = report.failovers.as_slice() else {
        panic!("one failover: {:?}", report.failovers.len());
    };
    failover
}

/// The first row's value of `column` in the `SELECT` run on `on` at `at_us`.
pub fn queried<'a>(
    report: &'a Report,
    on: &str,
    at_us: u64,
    column: &str,
) -> &'a serde_json::Value {
    let query = report
        .queries
        .iter()
        .find(|q| q.on == on && q.at_us == at_us)
        .unwrap_or_else(|| panic!("the SELECT at {at_us} us on {on}"));
    let i = query
        .columns
        .iter()
        .position(|c| c == column)
        .unwrap_or_else(|| panic!("the column {column}"));
    &query.rows[0][i]
}
