//! `sim shrink` (spec/cli.md): makes a failing run smaller (fewer faults, fewer steps, a shorter
//! run, a lighter workload) while it still fails the same way, so that what is left is the
//! failure and little else.
//!
//! "The same way" is the same failures: the same invariants broken, the same expectations
//! missed with the same outcome (the same principal, mirror, state, split brain; for
//! expectations on figures, the comparison failing again), and the same steps failing with the
//! same errors, a step named by its SQL since removing steps renumbers them. Each candidate is
//! a resolved [`Scenario`], run with the failing seed; a candidate is kept only when it fails
//! the same way. Expectations that held are dropped first: they do not make the failure, and a
//! shorter run would break them for reasons of its own. Every check is judged, as `sim run`
//! judges the file written (a swarm variation has no expectations, but its steps are still
//! judged).

use std::collections::BTreeSet;

use crate::scenario::{Arrivals, Expectations, Scenario};
use crate::{run_scenario, RunOptions};

/// The shortest run a shrink tries, in ns: 100 ms, the unit durations are shortened by.
const DURATION_STEP_NS: u64 = 100_000_000;

/// The outcome of a shrink.
#[derive(Clone, Debug, PartialEq)]
pub struct Shrunk {
    /// The smaller scenario (its `seed` is the failing seed).
    pub scenario: Scenario,
    /// How it fails, as the original did ([`signature`]).
    pub signature: Vec<String>,
    /// How many runs the shrink took, the original's included.
    pub runs: u32,
}

/// Why nothing was shrunk.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShrinkError {
    /// The run passes: there is no failure to keep.
    #[error("seed {seed} passes: there is no failure to shrink")]
    Passes {
        /// The seed.
        seed: u64,
    },
}

/// How to run the candidates of a shrink.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShrinkOptions {
    /// `--mutant NAME`: a deliberate protocol bug (builds with the `mutants` feature).
    pub mutant: Option<mirror_protocol::Mutant>,
}

/// How a run of `scenario` with `seed` fails, sorted: one line per failure (empty: it passes).
pub fn signature(scenario: &Scenario, seed: u64, options: ShrinkOptions) -> Vec<String> {
    let run_options = RunOptions {
        seed,
        mutant: options.mutant,
        ..RunOptions::default()
    };
    let report = run_scenario(scenario, &run_options).report;
    let mut failures: BTreeSet<String> = report
        .invariants
        .iter()
        .filter(|check| !check.held)
        .map(|check| check.name.clone())
        .collect();
    let mut figures_missed = false;
    for check in report.expectations.iter().filter(|check| !check.held) {
        failures.insert(match check.name.as_str() {
            "principal" | "mirror" | "state" | "split_brain" => {
                format!("{} {}", check.name, check.actual)
            }
            "step_errors" => step_failures(scenario, &check.actual),
            // A figure nothing measured (a run too short for its workload to start) is not the
            // same failure as a figure measured and out of its bound: a p99 of 733 us against
            // "< 100us" shrank to a run with no commit at all (found by an audit).
            _ if check.actual == serde_json::json!("nothing measured") => {
                figures_missed = true;
                format!("{} nothing measured", check.name)
            }
            _ => {
                figures_missed = true;
                check.name.clone()
            }
        });
    }
    if figures_missed {
        // A figure (unavailable, lost commits, latency) can miss its bound for another reason
        // in a smaller run: an automatic failover that took too long becomes a session never
        // set up, with nobody serving after the fault until the end. The run's story is kept
        // too: whether a session ran, and the failovers by kind.
        failures.insert(story(&report));
    }
    failures.into_iter().collect()
}

/// What happened in a run, beyond its checks: whether a session existed at the end, and how
/// many failovers of each kind completed.
fn story(report: &crate::report::Report) -> String {
    let count = |kind| {
        report
            .failovers
            .iter()
            .filter(|failover| failover.kind == kind)
            .count()
    };
    let session = if report.final_state.state == crate::scenario::SessionState::NoSession {
        "no session"
    } else {
        "a session"
    };
    format!(
        "{session} at the end after {} automatic, {} manual and {} forced failovers",
        count(crate::report::FailoverKind::Automatic),
        count(crate::report::FailoverKind::Manual),
        count(crate::report::FailoverKind::Forced)
    )
}

/// The failing steps of a `step_errors` check's outcome, each named by its SQL and instance.
fn step_failures(scenario: &Scenario, outcome: &serde_json::Value) -> String {
    let entries = outcome.as_array().map(Vec::as_slice).unwrap_or_default();
    let steps: Vec<String> = entries
        .iter()
        .map(|entry| {
            let how = match (&entry["error"], &entry["outcome"]) {
                (serde_json::Value::Number(error), _) => format!("error {error}"),
                (_, serde_json::Value::String(outcome)) => outcome.clone(),
                _ => "failed".to_string(),
            };
            let step = entry["step"]
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .and_then(|n| scenario.steps.get(n.wrapping_sub(1)));
            match step {
                Some(step) => format!(
                    "{how} in `{}` on {}",
                    step.sql,
                    scenario.instance_name(step.on)
                ),
                None => how,
            }
        })
        .collect();
    format!("step_errors: {}", steps.join("; "))
}

/// Shrinks the run of `scenario` with `seed`. `log` hears of each reduction kept.
pub fn shrink(
    scenario: &Scenario,
    seed: u64,
    options: ShrinkOptions,
    log: &mut dyn FnMut(&str),
) -> Result<Shrunk, ShrinkError> {
    let target = signature(scenario, seed, options);
    if target.is_empty() {
        return Err(ShrinkError::Passes { seed });
    }
    let mut shrinker = Shrinker {
        target,
        seed,
        options,
        runs: 1,
        log,
    };
    let mut best = scenario.clone();
    best.seed = seed;
    // The names of the failed checks: each line of the signature starts with one.
    let failing: BTreeSet<&str> = shrinker
        .target
        .iter()
        .filter_map(|line| line.split([' ', ':']).next())
        .collect();
    let candidate = without_passing_expectations(&best, &failing);
    if candidate != best && shrinker.keeps(&candidate, "without the expectations that held") {
        best = candidate;
    }
    loop {
        let before = best.clone();
        shrinker.drop_faults(&mut best);
        shrinker.drop_steps(&mut best);
        shrinker.shorten(&mut best);
        shrinker.lighten_workload(&mut best);
        if best == before {
            break;
        }
    }
    Ok(Shrunk {
        scenario: best,
        signature: shrinker.target,
        runs: shrinker.runs,
    })
}

struct Shrinker<'a> {
    target: Vec<String>,
    seed: u64,
    options: ShrinkOptions,
    runs: u32,
    log: &'a mut dyn FnMut(&str),
}

impl Shrinker<'_> {
    /// Whether `candidate` fails the same way; if so, `log` hears what changed (`what`).
    fn keeps(&mut self, candidate: &Scenario, what: &str) -> bool {
        self.runs += 1;
        let same = signature(candidate, self.seed, self.options) == self.target;
        if same {
            (self.log)(&format!("{what}: still fails"));
        }
        same
    }

    /// Takes out each fault in turn, the last first.
    fn drop_faults(&mut self, best: &mut Scenario) {
        for i in (0..best.faults.len()).rev() {
            let mut candidate = best.clone();
            let fault = candidate.faults.remove(i);
            let what = format!(
                "without the {} fault at {}",
                fault.kind.name(),
                seconds(fault.at_ns)
            );
            if self.keeps(&candidate, &what) {
                *best = candidate;
            }
        }
    }

    /// Takes out each step in turn, the last first.
    fn drop_steps(&mut self, best: &mut Scenario) {
        for i in (0..best.steps.len()).rev() {
            let candidate = without_step(best, i);
            let what = format!("without step {} ({})", i + 1, best.steps[i].sql);
            if self.keeps(&candidate, &what) {
                *best = candidate;
            }
        }
    }

    /// Finds a shorter duration that still fails, by bisection in steps of 100 ms (a failure
    /// need not stay once it has appeared, so each length is run, never assumed).
    fn shorten(&mut self, best: &mut Scenario) {
        let mut high = best.duration_ns.div_ceil(DURATION_STEP_NS);
        let mut low = 1;
        while low < high {
            let middle = low + (high - low) / 2;
            let candidate = with_duration(best, middle * DURATION_STEP_NS);
            let what = format!("cut to {}", seconds(candidate.duration_ns));
            if self.keeps(&candidate, &what) {
                *best = candidate;
                high = middle;
            } else {
                low = middle + 1;
            }
        }
    }

    /// Halves the workload's rate or clients while the run still fails the same way.
    fn lighten_workload(&mut self, best: &mut Scenario) {
        loop {
            let mut candidate = best.clone();
            let Some(workload) = candidate.workload.as_mut() else {
                return;
            };
            let what = match &mut workload.arrivals {
                Arrivals::OpenLoop {
                    transactions_per_second: rate,
                } if *rate >= 2.0 => {
                    *rate = (*rate / 2.0).floor();
                    format!("at half the rate ({rate} per second)")
                }
                Arrivals::ClosedLoop { clients, .. } if *clients >= 2 => {
                    *clients /= 2;
                    format!("with half the clients ({clients})")
                }
                _ => return,
            };
            if !self.keeps(&candidate, &what) {
                return;
            }
            *best = candidate;
        }
    }
}

/// `scenario` without the expectations that are not among `failing` (`step_errors` stays: it
/// allows step failures, and without it they would fail the run).
fn without_passing_expectations(scenario: &Scenario, failing: &BTreeSet<&str>) -> Scenario {
    let mut candidate = scenario.clone();
    let expect = &scenario.expect;
    let keep = |name: &str| failing.contains(name);
    candidate.expect = Expectations {
        principal: expect.principal.filter(|_| keep("principal")),
        mirror: expect.mirror.filter(|_| keep("mirror")),
        state: expect.state.filter(|_| keep("state")),
        role_sequence: expect.role_sequence.filter(|_| keep("role_sequence")),
        lost_acknowledged: expect
            .lost_acknowledged
            .filter(|_| keep("lost_acknowledged")),
        split_brain: expect.split_brain.filter(|_| keep("split_brain")),
        failovers: crate::scenario::FailoverExpectations {
            automatic: expect
                .failovers
                .automatic
                .filter(|_| keep("failovers.automatic")),
            manual: expect.failovers.manual.filter(|_| keep("failovers.manual")),
            forced: expect.failovers.forced.filter(|_| keep("failovers.forced")),
        },
        step_errors: expect.step_errors.clone(),
        commit_latency_p99: expect
            .commit_latency_p99
            .filter(|_| keep("commit_latency_p99")),
        unavailable: expect.unavailable.filter(|_| keep("unavailable")),
    };
    candidate
}

/// `scenario` without step `index` (0-based): the later steps are renumbered, and so are the
/// step errors `[expect]` allows; those of the removed step go.
fn without_step(scenario: &Scenario, index: usize) -> Scenario {
    let mut candidate = scenario.clone();
    candidate.steps.remove(index);
    for (i, step) in candidate.steps.iter_mut().enumerate() {
        step.number = i + 1;
    }
    let removed = index + 1;
    if let Some(allowed) = candidate.expect.step_errors.as_mut() {
        allowed.retain(|error| error.step != removed);
        for error in allowed.iter_mut() {
            if error.step > removed {
                error.step -= 1;
            }
        }
    }
    candidate
}

/// `scenario` cut to `duration_ns`, without the faults that would come after its end.
fn with_duration(scenario: &Scenario, duration_ns: u64) -> Scenario {
    let mut candidate = scenario.clone();
    candidate.duration_ns = duration_ns;
    candidate.faults.retain(|fault| fault.at_ns < duration_ns);
    candidate
}

/// A time in seconds, for messages.
fn seconds(ns: u64) -> String {
    format!("{}s", ns as f64 / 1e9)
}
