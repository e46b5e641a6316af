//! `sim shrink SCENARIO.toml --seed N [-o SMALLER.toml] [--swarm]`: a failing run made smaller
//! while it still fails the same way, written as a scenario (spec/cli.md). What each try kept
//! goes to stderr; the scenario goes to the file, or to stdout without `-o`.

use std::fs;

use mirror_sim::scenario::{self, Arrivals, Scenario};
use mirror_sim::shrink::{self, ShrinkOptions, Shrunk};
use mirror_sim::sweep;

use crate::cli::ShrinkArgs;
use crate::{load, parse_mutant, print_err, print_out, Exit};

/// Runs `sim shrink`.
pub fn run(arguments: &ShrinkArgs) -> Exit {
    let original = match load(&arguments.scenario) {
        Ok(scenario) => scenario,
        Err(exit) => return exit,
    };
    let mutant = match parse_mutant(arguments.mutant.as_deref()) {
        Ok(mutant) => mutant,
        Err(message) => {
            print_err(&message);
            return Exit::BadInput;
        }
    };
    let seed = arguments.seed;
    let start = if arguments.swarm {
        sweep::swarm(&original, seed)
    } else {
        original.clone()
    };
    let options = ShrinkOptions {
        mutant,
        invariants_only: arguments.swarm,
    };
    print_err(&format!(
        "sim shrink: {} with seed {seed}{}",
        arguments.scenario.display(),
        if arguments.swarm {
            ", its swarm variation"
        } else {
            ""
        }
    ));
    let shrunk = match shrink::shrink(&start, seed, options, &mut |line| {
        print_err(&format!("  {line}"))
    }) {
        Ok(shrunk) => shrunk,
        Err(error) => {
            print_err(&format!("sim shrink: {error}"));
            return Exit::BadInput;
        }
    };
    let text = scenario_text(arguments, &start, &shrunk);
    // The written text must fail the same way when loaded again: the file is the product.
    let reloaded = match scenario::parse(&text, &arguments.scenario) {
        Ok(again) => format!("it fails {:?}", shrink::signature(&again, seed, options)),
        Err(error) => error.to_string(),
    };
    let expected = format!("it fails {:?}", shrunk.signature);
    if reloaded != expected {
        print_err(&format!(
            "sim shrink: a bug: the shrunk scenario, read back, does not fail the same way: \
             {reloaded}, not {expected}"
        ));
        return Exit::Failed;
    }
    match &arguments.output {
        Some(path) => {
            if let Err(error) = fs::write(path, &text) {
                print_err(&format!(
                    "sim shrink: {}: cannot write: {error}",
                    path.display()
                ));
                return Exit::BadInput;
            }
            print_err(&format!(
                "wrote {}; run it with: sim run {}",
                path.display(),
                path.display()
            ));
        }
        None => print_out(&text),
    }
    print_err(&summary(&start, &shrunk));
    Exit::Held
}

/// The shrunk scenario as a file: a comment saying where it comes from, then the scenario with
/// every default spelt out.
fn scenario_text(arguments: &ShrinkArgs, start: &Scenario, shrunk: &Shrunk) -> String {
    let mut scenario = shrunk.scenario.clone();
    let origin = format!(
        "shrunk by `sim shrink` from {} with seed {}{}",
        arguments.scenario.display(),
        arguments.seed,
        if arguments.swarm {
            " (its swarm variation)"
        } else {
            ""
        }
    );
    scenario.description = if start.description.is_empty() {
        format!("{origin}.")
    } else {
        format!("{}; {origin}.", start.description.trim_end_matches('.'))
    };
    format!(
        "# {origin}.\n# It fails: {}.\n\n{}",
        shrunk.signature.join(", "),
        scenario::to_toml(&scenario)
    )
}

/// What the shrink took away.
fn summary(start: &Scenario, shrunk: &Shrunk) -> String {
    let small = &shrunk.scenario;
    let mut parts = vec![
        format!("{} of {} faults", small.faults.len(), start.faults.len()),
        format!("{} of {} steps", small.steps.len(), start.steps.len()),
        format!(
            "{}s of {}s",
            small.duration_ns as f64 / 1e9,
            start.duration_ns as f64 / 1e9
        ),
    ];
    if let (Some(before), Some(after)) = (&start.workload, &small.workload) {
        match (before.arrivals, after.arrivals) {
            (
                Arrivals::OpenLoop {
                    transactions_per_second: before,
                },
                Arrivals::OpenLoop {
                    transactions_per_second: after,
                },
            ) => parts.push(format!("{after} of {before} transactions per second")),
            (
                Arrivals::ClosedLoop {
                    clients: before, ..
                },
                Arrivals::ClosedLoop { clients: after, .. },
            ) => parts.push(format!("{after} of {before} clients")),
            _ => {}
        }
    }
    format!(
        "shrunk to {}; it fails {}, as the original did ({} runs)",
        parts.join(", "),
        shrunk.signature.join(", "),
        shrunk.runs
    )
}
