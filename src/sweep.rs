//! `sim sweep SCENARIO.toml --seeds A..B [--swarm] [--jobs N] [--shard I/N] [--json]`: one
//! scenario over many seeds (spec/cli.md). The verdict leads; each failing seed comes with the
//! command that reproduces it.

use std::fmt::Write;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use mirror_sim::sweep::{self, SeedOutcome, Seeds, SweepOptions, SweepSummary};
use serde_json::json;

use crate::cli::SweepArgs;
use crate::{command_line, load_with_mutant, path_argument, print_err, print_out, Exit};

/// Runs `sim sweep`.
pub fn run(arguments: &SweepArgs) -> Exit {
    let (scenario, mutant) =
        match load_with_mutant(&arguments.scenario, arguments.mutant.as_deref()) {
            Ok(loaded) => loaded,
            Err(exit) => return exit,
        };
    let seeds = Seeds {
        first: arguments.seeds.first,
        last: arguments.seeds.last,
        shard: arguments
            .shard
            .map_or((1, 1), |shard| (shard.index, shard.count)),
    };
    if arguments
        .jobs
        .is_some_and(|jobs| usize::from(jobs) > sweep::JOBS_MAX)
    {
        print_err(&format!(
            "sim sweep: --jobs is at most {} (runs at a time)",
            sweep::JOBS_MAX
        ));
        return Exit::BadInput;
    }
    let jobs = arguments.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let options = SweepOptions {
        swarm: arguments.swarm,
        jobs,
        mutant,
    };
    let bar = progress_bar(seeds.count());
    let summary = sweep::sweep(&scenario, seeds, &options, &|outcome: &SeedOutcome| {
        bar.inc(1);
        if !outcome.passed() {
            bar.println(format!("seed {} failed", outcome.seed));
        }
    });
    bar.finish_and_clear();
    let reproduce = |seed: u64| {
        reproduce(
            &arguments.scenario,
            seed,
            arguments.swarm,
            arguments.mutant.as_deref(),
        )
    };
    if arguments.json {
        match serde_json::to_string_pretty(&report_json(
            &scenario.name,
            arguments,
            &summary,
            &reproduce,
        )) {
            Ok(text) => print_out(&format!("{text}\n")),
            Err(error) => {
                print_err(&format!(
                    "sim sweep: cannot write the report as JSON: {error}"
                ));
                return Exit::Failed;
            }
        }
    } else {
        print_out(&render(&scenario.name, arguments, &summary, &reproduce));
    }
    if summary.failed == 0 {
        Exit::Held
    } else {
        Exit::Failed
    }
}

/// A progress bar on stderr (indicatif draws nothing when stderr is not a terminal).
fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} seeds, ETA {eta}") {
        bar.set_style(style);
    }
    bar
}

/// The commands that reproduce a failing seed (with the mutant, if any). A swarm failure is
/// shrunk into the current directory, never beside the scenario: `sims/` turns every file in
/// it into a test.
fn reproduce(file: &Path, seed: u64, swarm: bool, mutant: Option<&str>) -> Vec<String> {
    let stem = file
        .file_stem()
        .map_or_else(|| "scenario".into(), |stem| stem.to_string_lossy());
    let path = path_argument(&file.display().to_string());
    let words = |words: &[&str]| command_line(words, mutant);
    let seed_text = seed.to_string();
    if swarm {
        let range = format!("{seed}..{seed}");
        let smaller = path_argument(&format!("{stem}.seed-{seed}.toml"));
        vec![
            words(&["sim", "sweep", &path, "--seeds", &range, "--swarm"]),
            words(&[
                "sim", "shrink", &path, "--seed", &seed_text, "--swarm", "-o", &smaller,
            ]),
        ]
    } else {
        vec![words(&["sim", "run", &path, "--seed", &seed_text])]
    }
}

fn seeds_text(arguments: &SweepArgs) -> String {
    let mut text = format!("seeds {}", arguments.seeds);
    if let Some(shard) = arguments.shard {
        let _ = write!(text, ", shard {}/{}", shard.index, shard.count);
    }
    if arguments.swarm {
        text.push_str(", swarm: faults and timings varied, invariants judged");
    }
    text
}

/// The human report: the verdict, the failing seeds with their commands, then the figures.
fn render(
    name: &str,
    arguments: &SweepArgs,
    summary: &SweepSummary,
    reproduce: &dyn Fn(u64) -> Vec<String>,
) -> String {
    let mut text = String::new();
    let verdict = if summary.failed == 0 { "PASS" } else { "FAIL" };
    // Writing to a String cannot fail, here and below.
    let _ = writeln!(
        text,
        "{verdict}  sweep of {name}: {} of {} {} passed ({})",
        summary.passed,
        summary.runs,
        if summary.runs == 1 { "run" } else { "runs" },
        seeds_text(arguments)
    );
    if summary.runs == 0 {
        let _ = writeln!(text, "  no seed of the range falls in this shard");
    }
    if !summary.failed_by_check.is_empty() {
        let counts: Vec<String> = summary
            .failed_by_check
            .iter()
            .map(|(name, count)| format!("{name} in {count}"))
            .collect();
        let _ = writeln!(text, "  failed: {}", counts.join(", "));
    }
    // spec/cli.md: "prints each failing seed with the command that reproduces it", as far as
    // the sweep keeps them (memory stays flat however many fail).
    for outcome in &summary.failures {
        let _ = writeln!(text, "\nseed {}", outcome.seed);
        for check in &outcome.failed {
            let _ = writeln!(text, "  {}: {}", check.name, check.detail);
        }
        for command in reproduce(outcome.seed) {
            let _ = writeln!(text, "  reproduce: {command}");
        }
    }
    let unlisted = summary.failed - summary.failures.len() as u64;
    if unlisted > 0 {
        let _ = writeln!(
            text,
            "\nand {unlisted} more failing seeds (the first {} are listed)",
            sweep::FAILURES_LISTED_MAX
        );
    }
    figures(&mut text, summary);
    text
}

fn figures(text: &mut String, summary: &SweepSummary) {
    let [automatic, manual, forced] = summary.failovers;
    let _ = writeln!(
        text,
        "\nfailovers  automatic {automatic}, manual {manual}, forced {forced} (over every run)"
    );
    let lost = match summary.most_lost_acknowledged {
        None => "none in any run".to_string(),
        Some((seed, count)) => format!(
            "in {} runs, at most {count} (seed {seed})",
            summary.seeds_losing_acknowledged
        ),
    };
    let _ = writeln!(text, "lost acknowledged commits  {lost}");
    let _ = writeln!(
        text,
        "split brain  in {} runs",
        summary.seeds_with_split_brain
    );
    if let Some((seed, p99)) = summary.worst_commit_latency_p99_us {
        let latency = if p99 >= 1_000_000 {
            format!("{:.3} s", p99 as f64 / 1e6)
        } else {
            format!("{:.3} ms", p99 as f64 / 1e3)
        };
        let _ = writeln!(text, "worst p99 commit latency  {latency} (seed {seed})");
    }
}

/// The JSON report: the summary, each listed failure with the commands that reproduce it.
fn report_json(
    name: &str,
    arguments: &SweepArgs,
    summary: &SweepSummary,
    reproduce: &dyn Fn(u64) -> Vec<String>,
) -> serde_json::Value {
    let failures: Vec<serde_json::Value> = summary
        .failures
        .iter()
        .map(|outcome| {
            json!({
                "seed": outcome.seed,
                "failed": outcome.failed,
                "lost_acknowledged": outcome.lost_acknowledged,
                "split_brain": outcome.split_brain,
                "reproduce": reproduce(outcome.seed),
            })
        })
        .collect();
    let pair = |figure: Option<(u64, u64)>, key: &str| {
        figure.map(|(seed, value)| json!({ "seed": seed, key: value }))
    };
    json!({
        "scenario": name,
        "file": arguments.scenario.display().to_string(),
        "seeds": arguments.seeds.to_string(),
        "shard": arguments.shard.map(|shard| format!("{}/{}", shard.index, shard.count)),
        "swarm": arguments.swarm,
        "verdict": if summary.failed == 0 { "pass" } else { "fail" },
        "runs": summary.runs,
        "passed": summary.passed,
        "failed": summary.failed,
        "failed_by_check": summary.failed_by_check,
        "failures": failures,
        "failures_listed_max": sweep::FAILURES_LISTED_MAX,
        "failovers": {
            "automatic": summary.failovers[0],
            "manual": summary.failovers[1],
            "forced": summary.failovers[2],
        },
        "runs_losing_acknowledged": summary.seeds_losing_acknowledged,
        "most_lost_acknowledged": pair(summary.most_lost_acknowledged, "lost_acknowledged"),
        "runs_with_split_brain": summary.seeds_with_split_brain,
        "worst_commit_latency_p99_us": pair(summary.worst_commit_latency_p99_us, "p99_us"),
    })
}
