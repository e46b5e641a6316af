//! `sim check` (spec/cli.md): the flags, and the run that prints the verdict.
//!
//! The `sim` binary flattens [`CheckArgs`] into its `check` subcommand and exits with
//! [`run_check`]'s code: 0 every `always` property held and every `sometimes` property was found,
//! 1 a counterexample (or a `sometimes` property that an exhaustive search did not find), 2 bad
//! input. With `--json`, stdout carries one JSON object and nothing else; messages about bad
//! input go to stderr.

use std::io::{self, IsTerminal, Write};
use std::net::{TcpListener, ToSocketAddrs};
use std::num::NonZeroUsize;
use std::str::FromStr;
use std::time::Instant;

use mirror_protocol::Mutant;
use serde_json::{json, Value};
use stateright::{Checker, Model};

use crate::check::{check, CheckOptions, CheckReport, Outcome, PropertyReport, Strategy};
use crate::config::{Configuration, Mode};
use crate::model::SessionModel;
use crate::properties::explain;
use crate::report::{render, steps};

/// The most checker threads `--threads` accepts (each has its own stack; far beyond the cores
/// of any machine this runs on).
const THREADS_MAX: usize = 1024;

/// The explorer's default address: loopback only.
pub const EXPLORE_DEFAULT: &str = "127.0.0.1:3000";

/// `sim check [--mode MODE] [--bfs|--dfs|--simulate N] [--threads N] [--explore [ADDR]] [--json]`.
///
/// Without bounds on the command line, each mode is checked in its configurations without and
/// with operator commands ([`Configuration::for_check`]: two in each mode without a witness,
/// five in the witness mode); the bound flags replace the budgets of every selected
/// configuration.
#[derive(Clone, Debug, Default, clap::Args)]
#[command(group(clap::ArgGroup::new("search").args(["bfs", "dfs", "simulate"])))]
#[command(group(clap::ArgGroup::new("operator").args(["commands", "no_commands"])))]
#[command(allow_negative_numbers = true)]
pub struct CheckArgs {
    /// Check only this operating mode (all modes by default).
    #[arg(long, value_enum, value_name = "MODE")]
    pub mode: Option<Mode>,
    /// Breadth-first search: holds every state in memory (small configurations only: the
    /// witness mode's 12.7 million states outgrow 20 GB); counterexamples are shortened to the
    /// shortest.
    #[arg(long)]
    pub bfs: bool,
    /// Depth-first search (the default): memory for the visited set only, every core;
    /// counterexamples are shortened to the shortest (the examples that show a `sometimes`
    /// property are the first found, which may differ from run to run with several threads).
    #[arg(long)]
    pub dfs: bool,
    /// N random walks from the set-up session instead of an exhaustive search.
    #[arg(long, value_name = "N")]
    pub simulate: Option<u64>,
    /// The seed of the random walks (printed; the same seed gives the same walks).
    // `requires` alone let `--seed 5 --dfs` through (the search group satisfied it), the seed
    // ignored.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        requires = "simulate",
        conflicts_with_all = ["bfs", "dfs", "explore"]
    )]
    pub seed: u64,
    /// Checker threads (default: 1 for breadth-first search, every core otherwise; at most
    /// 1024).
    #[arg(long, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<NonZeroUsize>,
    /// Only the configurations with operator commands.
    #[arg(long)]
    pub commands: bool,
    /// Only the configurations without operator commands.
    #[arg(long)]
    pub no_commands: bool,
    /// Bound: client transactions (at least 1: without a commit, `commit_acknowledged` and the
    /// properties about acknowledged commits have nothing to judge).
    #[arg(long, value_name = "N", help_heading = "Bounds",
          value_parser = clap::value_parser!(u8).range(1..))]
    pub transactions: Option<u8>,
    /// Bound: process crashes (each may be followed by a restart).
    #[arg(long, value_name = "N", help_heading = "Bounds")]
    pub crashes: Option<u8>,
    /// Bound: link partitions (each may be healed).
    #[arg(long, value_name = "N", help_heading = "Bounds")]
    pub partitions: Option<u8>,
    /// Bound: connections declared lost falsely.
    #[arg(long, value_name = "N", help_heading = "Bounds")]
    pub suspicions: Option<u8>,
    /// Bound: operator commands, in the configurations that have them (0 leaves only the
    /// configurations without commands).
    #[arg(
        long,
        value_name = "N",
        help_heading = "Bounds",
        conflicts_with = "no_commands"
    )]
    pub operator_commands: Option<u8>,
    /// Let any queued message be delivered, not only the oldest of its connection: a network
    /// that is not TCP. The protocol relies on in-order delivery on each connection, as
    /// mirroring does over TCP, so violations are expected; they show which rules depend on it.
    #[arg(long, help_heading = "Network model")]
    pub reorder: bool,
    /// Serve stateright's model explorer for the first selected configuration at ADDR
    /// (127.0.0.1:3000 when no address is given) instead of checking.
    #[arg(
        long,
        value_name = "ADDR",
        num_args = 0..=1,
        default_missing_value = EXPLORE_DEFAULT,
        conflicts_with_all = ["json", "bfs", "dfs", "simulate"]
    )]
    pub explore: Option<String>,
    /// Print one JSON object on stdout, and nothing else.
    #[arg(long)]
    pub json: bool,
    /// Switch on one deliberate protocol bug (builds with the `mutants` feature only).
    #[arg(long, value_name = "NAME", hide = true)]
    pub mutant: Option<String>,
}

/// Runs `sim check` and returns the exit code (0 held and found, 1 counterexample, 2 bad
/// input). The report goes to stdout.
pub fn run_check(args: &CheckArgs) -> i32 {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    run_check_to(args, &mut out)
}

/// [`run_check`], writing the report to `out` (messages about bad input go to stderr).
pub fn run_check_to(args: &CheckArgs, out: &mut dyn Write) -> i32 {
    match run(args, out) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("sim check: {message}");
            2
        }
    }
}

fn run(args: &CheckArgs, out: &mut dyn Write) -> Result<i32, String> {
    let mutant = parse_mutant(args.mutant.as_deref())?;
    if args.simulate == Some(0) {
        return Err("--simulate needs at least one walk".into());
    }
    if let Some(n) = args.threads.filter(|n| n.get() > THREADS_MAX) {
        return Err(format!(
            "--threads {n}: at most {THREADS_MAX} checker threads"
        ));
    }
    if args.commands && args.operator_commands == Some(0) {
        return Err(
            "--commands with --operator-commands 0 selects nothing: a configuration with \
             commands needs at least one (or use --no-commands)"
                .into(),
        );
    }
    let configurations = selected(args, mutant);
    if configurations.is_empty() {
        return Err("no configuration is selected".into());
    }
    if let Some(address) = &args.explore {
        return explore(args, &configurations[0], address);
    }
    // Depth-first unless asked: breadth-first keeps whole states queued, and the default
    // configurations (up to 37 million states) would exhaust memory.
    let strategy = match (args.simulate, args.bfs) {
        (Some(walks), _) => Strategy::Simulate {
            walks,
            seed: args.seed,
        },
        (None, true) => Strategy::Bfs,
        (None, false) => Strategy::Dfs,
    };
    let threads = args.threads.map_or_else(
        || match strategy {
            Strategy::Bfs => 1,
            _ => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        },
        NonZeroUsize::get,
    );
    let mut options = CheckOptions::new(strategy, threads);
    options.shortest = true;
    options.progress = io::stderr().is_terminal();
    options.stop_at_first_violation = mutant.is_some();
    let mut text = Text {
        out,
        quiet: args.json,
        failed: None,
    };
    text.line(&format!(
        "sim check: {} configuration{}, {}{}, {} thread{}{}",
        configurations.len(),
        plural(configurations.len()),
        strategy.name(),
        match strategy {
            Strategy::Simulate { walks, seed } => {
                format!(" ({walks} walk{}, seed {seed})", plural(walks as usize))
            }
            _ => String::new(),
        },
        threads,
        plural(threads),
        mutant.map_or(String::new(), |m| format!(
            ", mutant {m} (each search stops at its first violation)"
        ))
    ));
    let mut results = Vec::new();
    for configuration in &configurations {
        let (report, seconds) = timed(|| check(configuration, &options));
        print_report(&mut text, args, &report, seconds);
        results.push((report, seconds));
    }
    let pass = results.iter().all(|(r, _)| passes(r));
    if args.json {
        let object = json_report(args, mutant, &results, pass);
        writeln!(text.out, "{object}").map_err(|e| format!("cannot write the report: {e}"))?;
    } else {
        print_verdict(&mut text, &results, pass);
        text.out
            .flush()
            .or_else(ignore_closed_pipe)
            .map_err(|e| format!("cannot write the report: {e}"))?;
        if let Some(error) = text.failed {
            return Err(format!("cannot write the report: {error}"));
        }
    }
    Ok(i32::from(!pass))
}

/// A reader that went away (a pipe to `head`) takes nothing more: not an error of the check.
fn ignore_closed_pipe(error: io::Error) -> io::Result<()> {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(error)
    }
}

fn parse_mutant(name: Option<&str>) -> Result<Option<Mutant>, String> {
    let Some(name) = name else { return Ok(None) };
    if !cfg!(feature = "mutants") {
        return Err("--mutant needs a build with the `mutants` feature".into());
    }
    Mutant::from_str(name).map(Some)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Human output, silenced by `--json`.
struct Text<'a> {
    out: &'a mut dyn Write,
    quiet: bool,
    /// The first error writing it (a full disk): the check then exits 2, its report lost.
    failed: Option<io::Error>,
}

impl Text<'_> {
    fn line(&mut self, line: &str) {
        if !self.quiet && self.failed.is_none() {
            if let Err(error) = writeln!(self.out, "{line}").or_else(ignore_closed_pipe) {
                self.failed = Some(error);
            }
        }
    }
}

/// The configurations the flags select, each with the bounds and the mutant applied.
fn selected(args: &CheckArgs, mutant: Option<Mutant>) -> Vec<Configuration> {
    let modes = args.mode.map_or(Mode::ALL.to_vec(), |m| vec![m]);
    modes
        .into_iter()
        .flat_map(Configuration::for_check)
        .filter(|c| !args.commands || c.has_commands())
        // `--operator-commands 0` leaves only the configurations without commands, as
        // `--no-commands` does: it turned the witness mode's configurations with commands into
        // two more without them, of other bounds than the defaults.
        .filter(|c| !((args.no_commands || args.operator_commands == Some(0)) && c.has_commands()))
        .map(|mut c| {
            c.transactions = args.transactions.unwrap_or(c.transactions);
            c.crashes = args.crashes.unwrap_or(c.crashes);
            c.partitions = args.partitions.unwrap_or(c.partitions);
            c.suspicions = args.suspicions.unwrap_or(c.suspicions);
            if c.has_commands() {
                c.commands = args.operator_commands.unwrap_or(c.commands);
            }
            c.reorder |= args.reorder;
            c.mutant(mutant)
        })
        .fold(Vec::new(), |mut kept: Vec<Configuration>, c| {
            // Bounds given on the command line can make two defaults the same configuration.
            if kept.iter().all(|k| k.name() != c.name()) {
                kept.push(c);
            }
            kept
        })
}

/// Whether a report passes: every `always` property held, and every `sometimes` property was
/// found (random walks are not exhaustive: a `sometimes` property they miss is not a failure).
fn passes(report: &CheckReport) -> bool {
    let walks = matches!(report.strategy, Strategy::Simulate { .. });
    report.all_held() && (walks || report.all_found())
}

/// Runs `f` and measures its wall-clock time, for the summary only (never for a decision).
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    // The one clock read of the model crate: elapsed seconds in the `sim check` summary.
    #[allow(clippy::disallowed_methods)]
    let start = Instant::now();
    let value = f();
    (value, start.elapsed().as_secs_f64())
}

fn per_second(unique: usize, seconds: f64) -> u64 {
    if seconds > 0.0 {
        (unique as f64 / seconds) as u64
    } else {
        0
    }
}

/// The flags that select this configuration alone (for the explorer hint).
fn selector(args: &CheckArgs, c: &Configuration) -> String {
    let mut flags = format!(
        "--mode {} {} --transactions {} --crashes {} --partitions {} --suspicions {}",
        c.mode,
        if c.has_commands() {
            "--commands"
        } else {
            "--no-commands"
        },
        c.transactions,
        c.crashes,
        c.partitions,
        c.suspicions
    );
    if c.has_commands() {
        flags.push_str(&format!(" --operator-commands {}", c.commands));
    }
    if c.reorder {
        flags.push_str(" --reorder");
    }
    if let Some(m) = &args.mutant {
        flags.push_str(&format!(" --mutant {m}"));
    }
    flags
}

fn print_report(text: &mut Text<'_>, args: &CheckArgs, report: &CheckReport, seconds: f64) {
    let c = &report.configuration;
    text.line("");
    text.line(&format!(
        "{}: {}",
        c.name(),
        match (report.strategy, report.complete) {
            (Strategy::Simulate { .. }, _) => "random walks (not exhaustive)",
            (_, true) => "explored completely",
            (_, false) if args.mutant.is_some() && !report.all_held() => {
                "explored in part (stopped at the first violation)"
            }
            (_, false) => "explored in part (a bound was reached or the search stopped)",
        }
    ));
    for p in &report.properties {
        let kind = if p.always { "always" } else { "sometimes" };
        let steps = match (&p.trace, p.outcome) {
            (Some(t), Outcome::Violated) => format!(" in {}", step_count(t.len() - 1)),
            (Some(t), _) => format!(" (an example of {})", step_count(t.len() - 1)),
            (None, _) => String::new(),
        };
        let note = if p.outcome == Outcome::Held && !report.complete {
            " (in the part explored)".to_string()
        } else {
            property_note(report, p).map_or(String::new(), |n| format!(" ({n})"))
        };
        text.line(&format!(
            "  {kind:<9} {:<34} {}{steps}{note}",
            p.name,
            p.outcome.name()
        ));
    }
    text.line(&format!(
        "  states {}, unique {}, depth {}, {:.1} s, {} unique states/s",
        report.states,
        report.unique_states,
        report.depth,
        seconds,
        per_second(report.unique_states, seconds)
    ));
    for p in &report.properties {
        // Counterexamples, and the documented hazard's example: how a split brain is reached
        // is what a DBA reads it for.
        let Some(trace) = &p.trace else {
            continue;
        };
        let steps = step_count(trace.len() - 1);
        let heading = match p.outcome {
            Outcome::Violated => format!("counterexample: {} violated after {steps}", p.name),
            Outcome::Found if is_discovery(p) => {
                format!("discovery: {} reached after {steps}", p.name)
            }
            _ => continue,
        };
        text.line("");
        text.line(&format!("  {heading}"));
        for line in render(trace, p.name).lines() {
            text.line(&format!("  {line}"));
        }
        if let Some(path) = &p.explorer_path {
            text.line(&format!(
                "  explorer: sim check {} --explore, then open http://{EXPLORE_DEFAULT}/#/steps/{path}",
                selector(args, c)
            ));
        }
    }
}

/// "1 step", "7 steps".
fn step_count(n: usize) -> String {
    format!("{n} step{}", plural(n))
}

/// Whether a `sometimes` property reports a documented hazard (the split brain that forced
/// service without a witness allows), whose example is printed in full.
fn is_discovery(p: &PropertyReport) -> bool {
    !p.always && p.name == "split_brain_via_forced_service"
}

/// What a reader should know about a property's outcome, beyond held or found.
fn property_note(report: &CheckReport, p: &PropertyReport) -> Option<&'static str> {
    let walks = matches!(report.strategy, Strategy::Simulate { .. });
    match p.outcome {
        Outcome::Found if is_discovery(p) => {
            Some("the documented hazard of forced service: a discovery, not a failure")
        }
        Outcome::NotFound if walks => Some("no walk reached it; walks are not exhaustive"),
        Outcome::NotFound if report.complete => Some(match p.name {
            "automatic_failover" => {
                "no run within these bounds reaches it; an automatic failover needs a fault: \
                 --crashes, --partitions or --suspicions"
            }
            "forced_service_loses_acknowledged" | "split_brain_via_forced_service" => {
                "no run within these bounds reaches it; forced service needs the principal \
                 declared lost: --crashes, --partitions or --suspicions"
            }
            _ => "no run within these bounds reaches it; the bounds may be too small",
        }),
        _ => None,
    }
}

fn print_verdict(text: &mut Text<'_>, results: &[(CheckReport, f64)], pass: bool) {
    let states: usize = results.iter().map(|(r, _)| r.states).sum();
    let unique: usize = results.iter().map(|(r, _)| r.unique_states).sum();
    let seconds: f64 = results.iter().map(|(_, s)| s).sum();
    text.line("");
    text.line(&format!(
        "total: states {states}, unique {unique}, {seconds:.1} s, {} unique states/s",
        per_second(unique, seconds)
    ));
    if pass {
        let unreached = results
            .iter()
            .flat_map(|(r, _)| &r.properties)
            .filter(|p| p.outcome == Outcome::NotFound)
            .count();
        text.line(&if unreached == 0 {
            "verdict: pass (every always property held, every sometimes property found)".into()
        } else {
            format!(
                "verdict: pass (every always property held in the walks; {unreached} sometimes \
                 propert{} not reached, which random walks do not prove unreachable)",
                if unreached == 1 { "y" } else { "ies" }
            )
        });
        return;
    }
    let failures: Vec<String> = results
        .iter()
        .flat_map(|(r, _)| {
            r.properties
                .iter()
                .filter(|p| match p.outcome {
                    Outcome::Violated => true,
                    // Not reached is worth naming after a search that stopped for nothing
                    // else: not after walks, nor after a search cut short by a violation.
                    Outcome::NotFound => {
                        !matches!(r.strategy, Strategy::Simulate { .. })
                            && (r.complete || r.all_held())
                    }
                    _ => false,
                })
                .map(|p| {
                    format!(
                        "{} {} in {}",
                        p.name,
                        p.outcome.name(),
                        r.configuration.name()
                    )
                })
        })
        .collect();
    text.line(&format!("verdict: fail ({})", failures.join("; ")));
}

fn json_property(report: &CheckReport, p: &PropertyReport) -> Value {
    let counterexample = match (&p.trace, p.outcome) {
        (Some(trace), Outcome::Violated) => {
            let steps: Vec<Value> = steps(trace)
                .into_iter()
                .map(|s| json!({"step": s.number, "action": s.action, "changes": s.changes}))
                .collect();
            let explanation = trace.last().map_or(Vec::new(), |(s, _)| explain(s, p.name));
            json!({"steps": steps, "explanation": explanation})
        }
        _ => Value::Null,
    };
    json!({
        "name": p.name,
        "expectation": if p.always { "always" } else { "sometimes" },
        "result": p.outcome.name().replace(' ', "_"),
        "steps": p.trace.as_ref().map(|t| t.len() - 1),
        "explorer_path": p.explorer_path,
        "counterexample": counterexample,
        "note": property_note(report, p),
    })
}

fn json_report(
    args: &CheckArgs,
    mutant: Option<Mutant>,
    results: &[(CheckReport, f64)],
    pass: bool,
) -> Value {
    let configurations: Vec<Value> = results
        .iter()
        .map(|(r, seconds)| {
            let c = &r.configuration;
            let properties: Vec<Value> = r.properties.iter().map(|p| json_property(r, p)).collect();
            json!({
                "name": c.name(),
                "mode": c.mode.name(),
                "selector": selector(args, c),
                "transactions": c.transactions,
                "crashes": c.crashes,
                "partitions": c.partitions,
                "suspicions": c.suspicions,
                "commands": c.commands,
                "reorder": c.reorder,
                "complete": r.complete,
                "states": r.states,
                "unique_states": r.unique_states,
                "depth": r.depth,
                "seconds": seconds,
                "unique_states_per_second": per_second(r.unique_states, *seconds),
                "pass": passes(r),
                "properties": properties,
            })
        })
        .collect();
    let (strategy, threads) = results
        .first()
        .map_or(("dfs", 1), |(r, _)| (r.strategy.name(), r.threads));
    let seed = results.first().and_then(|(r, _)| match r.strategy {
        Strategy::Simulate { seed, .. } => Some(seed),
        _ => None,
    });
    let states: usize = results.iter().map(|(r, _)| r.states).sum();
    let unique: usize = results.iter().map(|(r, _)| r.unique_states).sum();
    let seconds: f64 = results.iter().map(|(_, s)| s).sum();
    json!({
        "verdict": if pass { "pass" } else { "fail" },
        "strategy": strategy,
        "threads": threads,
        "seed": seed,
        "mutant": mutant.map(|m| m.name()),
        "explore_address": EXPLORE_DEFAULT,
        "configurations": configurations,
        "total": {
            "states": states,
            "unique_states": unique,
            "seconds": seconds,
            "unique_states_per_second": per_second(unique, seconds),
        },
    })
}

/// Serves stateright's explorer for one configuration; runs until the process is stopped.
fn explore(args: &CheckArgs, configuration: &Configuration, address: &str) -> Result<i32, String> {
    let resolved: Vec<_> = address
        .to_socket_addrs()
        .map_err(|e| format!("--explore {address}: {e}"))?
        .collect();
    let Some(&first) = resolved.first() else {
        return Err(format!("--explore {address}: no address"));
    };
    // stateright panics when it cannot listen: try first, so that a taken port is bad input
    // (and port 0 becomes the port the system chose, to print).
    let first = TcpListener::bind(first)
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("--explore {address}: cannot listen: {e}"))?;
    eprintln!(
        "sim check: exploring {} at http://{first}/ (stop with Ctrl-C)",
        configuration.name()
    );
    let threads = args.threads.map_or(1, NonZeroUsize::get);
    let model = SessionModel::new(configuration.clone());
    let checker = model.checker().threads(threads).serve(first);
    // `serve` returns only if its web server stops.
    Ok(i32::from(!checker.is_done()))
}

/// `--threads`: from 1 to 1024, said in the error (clap's own read "number would be zero for
/// non-zero type").
fn parse_threads(text: &str) -> Result<NonZeroUsize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|&n| n <= THREADS_MAX)
        .and_then(NonZeroUsize::new)
        .ok_or_else(|| {
            format!("{text:?} is not a number of threads (a whole number from 1 to 1024)")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(args: &CheckArgs) -> Vec<String> {
        selected(args, None)
            .iter()
            .map(Configuration::name)
            .collect()
    }

    // README: "`--operator-commands 0` leaves only the configurations without commands", the
    // same as `--no-commands` (it selected two more, the witness mode's with their commands
    // removed).
    #[test]
    fn operator_commands_0_selects_the_configurations_without_commands() {
        let without = names(&CheckArgs {
            no_commands: true,
            ..CheckArgs::default()
        });
        let zero = names(&CheckArgs {
            operator_commands: Some(0),
            ..CheckArgs::default()
        });
        assert_eq!(zero, without);
        assert!(names(&CheckArgs::default()).len() > without.len());
    }

    #[test]
    fn a_seed_needs_random_walks() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            check: CheckArgs,
        }
        assert!(Cli::try_parse_from(["check", "--seed", "5", "--dfs"]).is_err());
        assert!(Cli::try_parse_from(["check", "--seed", "5", "--explore"]).is_err());
        assert!(Cli::try_parse_from(["check", "--seed", "5"]).is_err());
        assert!(Cli::try_parse_from(["check", "--seed", "5", "--simulate", "3"]).is_ok());
    }
}
