//! mirror-sim: the deterministic discrete-event simulator of SQL Server database mirroring
//! (DESIGN.md). It loads a scenario file ([`scenario`]), runs the session it describes on
//! simulated time, and reports what happened ([`report`]).

use std::path::PathBuf;

pub mod engine;
pub mod report;
pub mod scenario;
pub mod shrink;
pub mod sweep;

use report::Report;
use scenario::Scenario;

/// How to run a scenario, as the command line asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// The seed of this run: `--seed N`, or the scenario's `seed`.
    pub seed: u64,
    /// `--trace FILE`: write a Chrome/Perfetto timeline JSON there.
    pub trace: Option<PathBuf>,
    /// `--events FILE`: write every protocol event there, as JSON Lines.
    pub events: Option<PathBuf>,
    /// `--mutant NAME` (hidden; builds with the `mutants` feature): a deliberate protocol bug
    /// the checkers must catch.
    pub mutant: Option<mirror_protocol::Mutant>,
}

/// What a run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutcome {
    /// The report; its `verdict` decides the exit code (pass 0, fail 1).
    pub report: Report,
    /// Output files (`--trace`, `--events`) that could not be written, each as one message
    /// naming the file and the reason. Any entry makes the run bad input: exit 2.
    pub output_errors: Vec<String>,
    /// The whole commit-latency distribution in microseconds of simulated time, of which
    /// `report.commit_latency_us` is the summary: `sim bench` writes it out as `.hgrm` files.
    /// Not part of the JSON report.
    pub commit_latency_us: hdrhistogram::Histogram<u64>,
    /// The longest latency in `commit_latency_us` and the sum of them all, exact (the
    /// histogram rounds each value up to its precision).
    pub commit_latency_max_us: u64,
    /// See `commit_latency_max_us`.
    pub commit_latency_sum_us: u128,
    /// When the client workload started, in microseconds of simulated time (`None`: it never
    /// did); commits are measured from then to the end of the run.
    pub workload_started_us: Option<u64>,
}

/// Runs `scenario` on simulated time and reports what happened. The same scenario, seed and
/// program give the same report (but for `wall_ms`, which the caller fills) and the same
/// `--events` bytes.
pub fn run_scenario(scenario: &Scenario, options: &RunOptions) -> RunOutcome {
    let mut output_errors = Vec::new();
    let recorder = match &options.events {
        None => engine::Recorder::off(),
        Some(path) => match std::fs::File::create(path) {
            Ok(file) => engine::Recorder::to_file(file),
            Err(e) => {
                output_errors.push(format!(
                    "{}: cannot write the event stream: {e}",
                    path.display()
                ));
                engine::Recorder::off()
            }
        },
    };
    let result = engine::run(
        scenario,
        options.seed,
        options.mutant,
        recorder,
        options.trace.is_some(),
    );
    if let (Some(path), Some(e)) = (&options.events, &result.events_error) {
        output_errors.push(format!(
            "{}: writing the event stream failed: {e}",
            path.display()
        ));
    }
    if let Some(path) = &options.trace {
        let end = scenario.duration_ns;
        if let Err(e) = engine::trace::write(path, &result.names, &result.timeline, end) {
            output_errors.push(format!(
                "{}: cannot write the timeline: {e}",
                path.display()
            ));
        }
    }
    RunOutcome {
        report: result.report,
        output_errors,
        commit_latency_us: result.latency_us,
        commit_latency_max_us: result.latency_max_us,
        commit_latency_sum_us: result.latency_sum_us,
        workload_started_us: result.workload_started_ns.map(|ns| ns / 1000),
    }
}
