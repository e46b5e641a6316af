//! `sim shrink SCENARIO.toml --seed N [-o SMALLER.toml] [--swarm]`: a failing run made smaller
//! while it still fails the same way, written as a scenario (spec/cli.md). What each try kept
//! goes to stderr; the scenario goes to the file, or to stdout without `-o`.

use std::fs;

use mirror_sim::scenario::{self, Arrivals, Scenario};
use mirror_sim::shrink::{self, ShrinkOptions, Shrunk};
use mirror_sim::sweep;

use crate::cli::ShrinkArgs;
use crate::{command_line, load_with_mutant, path_argument, print_err, print_out, Exit};

/// Runs `sim shrink`.
pub fn run(arguments: &ShrinkArgs) -> Exit {
    let (original, mutant) =
        match load_with_mutant(&arguments.scenario, arguments.mutant.as_deref()) {
            Ok(loaded) => loaded,
            Err(exit) => return exit,
        };
    if let Err(message) = check_output(arguments) {
        print_err(&message);
        return Exit::BadInput;
    }
    let seed = arguments.seed;
    let start = if arguments.swarm {
        sweep::swarm(&original, seed)
    } else {
        original.clone()
    };
    let options = ShrinkOptions { mutant };
    // The heading comes with the first reduction kept: a seed that passes gets one message.
    let mut heading = Some(format!(
        "sim shrink: {} with seed {seed}{}",
        arguments.scenario.display(),
        if arguments.swarm {
            ", its swarm variation"
        } else {
            ""
        }
    ));
    let shrunk = match shrink::shrink(&start, seed, options, &mut |line| {
        if let Some(heading) = heading.take() {
            print_err(&heading);
        }
        print_err(&format!("  {line}"))
    }) {
        Ok(shrunk) => shrunk,
        Err(error) => {
            print_err(&format!("sim shrink: {error}"));
            return Exit::BadInput;
        }
    };
    let text = scenario_text(arguments, &shrunk);
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
            let file = path.display().to_string();
            let argument = path_argument(&file);
            let command = command_line(&["sim", "run", &argument], arguments.mutant.as_deref());
            print_err(&format!("wrote {file}; run it with: {command}"));
        }
        None => print_out(&text),
    }
    print_err(&summary(&start, &shrunk));
    Exit::Held
}

/// Refuses, before anything runs, an `-o` that cannot be written or that is the scenario
/// itself (the shrunk file would replace the one it came from).
fn check_output(arguments: &ShrinkArgs) -> Result<(), String> {
    let Some(path) = &arguments.output else {
        return Ok(());
    };
    if crate::same_file(path, &arguments.scenario) {
        return Err(format!(
            "sim shrink: -o {} is the scenario itself; write the smaller one elsewhere",
            path.display()
        ));
    }
    let existed = path.exists();
    fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|error| format!("sim shrink: -o {}: cannot write: {error}", path.display()))?;
    if !existed {
        // Only the check made it: leave nothing behind if the shrink fails.
        let _ = fs::remove_file(path);
    }
    Ok(())
}

/// The shrunk scenario as a file: a comment saying where it comes from and how it fails, then
/// the scenario with every default spelt out. Its description says the same: the original's
/// would describe steps and faults that may be gone.
fn scenario_text(arguments: &ShrinkArgs, shrunk: &Shrunk) -> String {
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
    let fails = shrunk.signature.join("; ");
    scenario.description = format!("{origin}. It fails: {fails}.");
    format!(
        "# {origin}.\n# It fails: {fails}.\n\n{}",
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
        "shrunk to {}; it fails as the original did ({}) ({} runs)",
        parts.join(", "),
        shrunk.signature.join("; "),
        shrunk.runs
    )
}
