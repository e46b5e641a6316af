//! `sim`: rehearse and verify SQL Server database mirroring (spec/cli.md).
//!
//! Exit codes: 0 every invariant and expectation held; 1 an invariant or expectation failed;
//! 2 bad input (unreadable file, TOML error, unknown key, bad value, bad arguments). Bad input
//! prints one message on stderr and nothing on stdout; a panic is a bug, never a way to report
//! bad input.

mod bench;
mod cli;
mod shrink;
mod sweep;

use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

use clap::Parser;
use mirror_sim::{
    report::{self, Verdict},
    run_scenario,
    scenario::{self, units::format_duration, Scenario},
    RunOptions,
};

use cli::{Cli, Command, RunArgs};

/// mimalloc instead of the system allocator: the model checker allocates and frees a few small
/// parts of a state at every step it tries (a fifth of its instructions went to glibc's malloc
/// and free).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The exit codes of spec/cli.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exit {
    /// Every invariant and expectation held.
    Held = 0,
    /// An invariant or expectation failed, or a step failed unexpectedly.
    Failed = 1,
    /// Bad input.
    BadInput = 2,
}

fn main() -> ExitCode {
    if let Some(message) = cli::misspelt_command(std::env::args_os().skip(1)) {
        eprintln!("error: {message}");
        return ExitCode::from(Exit::BadInput as u8);
    }
    // Clap prints its own usage errors and exits 2 (0 for --help and --version).
    let cli = Cli::parse();
    let exit = match &cli.command {
        None => run(&cli.run),
        Some(Command::Run(arguments)) => run(arguments),
        Some(Command::Validate(arguments)) => validate(&arguments.scenario),
        Some(Command::Sweep(arguments)) => sweep::run(arguments),
        Some(Command::Shrink(arguments)) => shrink::run(arguments),
        Some(Command::Check(arguments)) => check(arguments),
        Some(Command::Bench(arguments)) => bench::bench(arguments),
    };
    let exit = if STDOUT_FAILED.load(std::sync::atomic::Ordering::Relaxed) {
        Exit::BadInput
    } else {
        exit
    };
    ExitCode::from(exit as u8)
}

/// A command line a user can paste into a POSIX shell: `words`, then `--mutant NAME` when a
/// mutant was given (a mutant's failure reproduces only with it), each word quoted when it
/// holds anything but letters, digits and `-_./:=+,@%`.
fn command_line(words: &[&str], mutant: Option<&str>) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=+,@%".contains(c);
    let flag = mutant.map(|name| ["--mutant", name]);
    words
        .iter()
        .chain(flag.iter().flatten())
        .map(|word| {
            if !word.is_empty() && word.chars().all(plain) {
                word.to_string()
            } else {
                format!("'{}'", word.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A path as a command-line word: one that begins with `-` gets `./` before it, or the command
/// would read it as an option (an audit found `sim run -dash.toml --seed 3` printed as the
/// command that reproduces a failure, which exits 2).
fn path_argument(path: &str) -> String {
    if path.starts_with('-') {
        format!("./{path}")
    } else {
        path.to_string()
    }
}

/// Writes to stdout; a closed pipe (`sim ... | head`) is not worth a panic.
fn print_out(text: &str) {
    let mut out = io::stdout().lock();
    let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    if let Err(error) = written {
        stdout_failed(&error);
    }
}

/// Whether writing to stdout failed (other than a closed pipe): the command's output is lost,
/// so it exits 2 whatever its verdict.
static STDOUT_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Says that stdout could not be written and makes the exit 2. A reader that went away (a
/// pipe to `head`) takes nothing more: not worth a word, and not a failure of the command.
fn stdout_failed(error: &io::Error) {
    if error.kind() != io::ErrorKind::BrokenPipe {
        print_err(&format!("sim: cannot write to standard output: {error}"));
        STDOUT_FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Writes one message to stderr, ending the line.
fn print_err(message: &str) {
    let _ = writeln!(io::stderr().lock(), "{message}");
}

/// Loads a scenario, or reports why not (exit 2).
fn load(file: &Path) -> Result<Scenario, Exit> {
    scenario::load(file).map_err(|error| {
        print_err(&error.to_string());
        Exit::BadInput
    })
}

/// Loads a scenario and the hidden `--mutant NAME`, or reports why not (exit 2).
fn load_with_mutant(
    file: &Path,
    mutant: Option<&str>,
) -> Result<(Scenario, Option<mirror_protocol::Mutant>), Exit> {
    let scenario = load(file)?;
    let mutant = parse_mutant(mutant).map_err(|message| {
        print_err(&message);
        Exit::BadInput
    })?;
    Ok((scenario, mutant))
}

/// `sim run` and `sim FILE`.
fn run(arguments: &RunArgs) -> Exit {
    let Some(file) = &arguments.scenario else {
        print_err("sim: missing SCENARIO.toml; usage: sim run SCENARIO.toml [--seed N] [--json]");
        return Exit::BadInput;
    };
    let scenario = match load(file) {
        Ok(scenario) => scenario,
        Err(exit) => return exit,
    };
    note_what_comes_after_the_end(&scenario);
    if let Err(message) = prepare_outputs(arguments, file) {
        print_err(&message);
        return Exit::BadInput;
    }
    let mutant = match parse_mutant(arguments.mutant.as_deref()) {
        Ok(mutant) => mutant,
        Err(message) => {
            print_err(&message);
            return Exit::BadInput;
        }
    };
    let options = RunOptions {
        seed: arguments.seed.unwrap_or(scenario.seed),
        trace: arguments.trace.clone(),
        events: arguments.events.clone(),
        mutant,
    };
    #[allow(clippy::disallowed_methods)] // wall_ms only: the report's one wall-clock figure
    let started = Instant::now();
    let mut outcome = run_scenario(&scenario, &options);
    outcome.report.wall_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if !outcome.output_errors.is_empty() {
        print_err(&outcome.output_errors.join("; "));
        return Exit::BadInput;
    }
    if arguments.json {
        // Streamed, not built as one string first: a long run's report holds a monitor sample
        // per instance per 15 s, and a 30-day run's text took 600 MB before it was written.
        let mut out = io::BufWriter::new(io::stdout().lock());
        let written = serde_json::to_writer_pretty(&mut out, &outcome.report)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
            .and_then(|()| out.flush());
        // A report that cannot be written (a full disk) is lost: exit 2, as for `--events`.
        if let Err(error) = written {
            stdout_failed(&error);
        }
    } else {
        let text = report::render_human(&outcome.report, file);
        // The renderer writes the plain command; a path with spaces needs quoting, and a
        // mutant run is reproduced only with its mutant.
        let (path, seed) = (file.display().to_string(), outcome.report.seed.to_string());
        let plain = format!("reproduce: sim run {path} --seed {seed}");
        let argument = path_argument(&path);
        let words = ["sim", "run", &argument, "--seed", &seed];
        let exact = format!(
            "reproduce: {}",
            command_line(&words, arguments.mutant.as_deref())
        );
        print_out(&text.replacen(&plain, &exact, 1));
    }
    match outcome.report.verdict {
        Verdict::Pass => Exit::Held,
        Verdict::Fail => Exit::Failed,
    }
}

/// `sim check`: model-check the protocol (crates/model); its exit code follows spec/cli.md.
fn check(arguments: &cli::CheckArgs) -> Exit {
    match mirror_model::cli::run_check(arguments) {
        0 => Exit::Held,
        1 => Exit::Failed,
        _ => Exit::BadInput,
    }
}

/// `--mutant NAME`: only in builds with the `mutants` feature, and only a known name.
fn parse_mutant(name: Option<&str>) -> Result<Option<mirror_protocol::Mutant>, String> {
    let Some(name) = name else { return Ok(None) };
    if !cfg!(feature = "mutants") {
        return Err("sim: --mutant needs a build with `--features mutants`".to_string());
    }
    name.parse()
        .map(Some)
        .map_err(|e| format!("sim: --mutant: {e}"))
}

/// Creates the `--trace` and `--events` files before anything runs, so that an unwritable
/// path is bad input (exit 2) rather than a lost run. Neither may be the scenario itself (it
/// would be overwritten) nor the other one.
fn prepare_outputs(arguments: &RunArgs, scenario: &Path) -> Result<(), String> {
    let outputs = [
        ("--trace", &arguments.trace),
        ("--events", &arguments.events),
    ];
    if let (Some(trace), Some(events)) = (&arguments.trace, &arguments.events) {
        if same_file(trace, events) {
            return Err(format!(
                "sim: --trace and --events name the same file, {}: give each its own",
                events.display()
            ));
        }
    }
    for (flag, path) in outputs {
        if let Some(path) = path {
            if same_file(path, scenario) {
                return Err(format!(
                    "sim: {flag} {}: that is the scenario file, which it would overwrite",
                    path.display()
                ));
            }
            // A pipe is opened once, by the run: opening it here too ended the stream for its
            // reader, and the run's own open then waited for a reader that had gone.
            if !is_stream(path) {
                fs::File::create(path).map_err(|error| {
                    format!("sim: {flag} {}: cannot write: {error}", path.display())
                })?;
            }
        }
    }
    Ok(())
}

/// Whether two paths name one file: the same file on disk (also through a hard link, which no
/// resolution of the path shows: `--events` through one overwrote the scenario), or, for a file
/// that does not exist yet, the same path once resolved through its folder (`x` and `./x`).
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    if is_stream(a) || is_stream(b) {
        // Comparing opens both files, and opening a named pipe waits for its other end: with
        // only a reader there, `--events` into a pipe hung before the run (found by an audit).
        return same_path(a, b);
    }
    same_file::is_same_file(a, b).unwrap_or(false) || same_path(a, b)
}

/// Whether `path` names an existing file that is neither a regular file nor a folder: a named
/// pipe, a terminal, `/dev/stdout`. Such a file is written as a stream, never compared or tried.
fn is_stream(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| !meta.is_file() && !meta.is_dir())
}

/// Whether two paths resolve to one (a file that does not exist yet through its folder).
fn same_path(a: &Path, b: &Path) -> bool {
    fn resolved(path: &Path) -> PathBuf {
        fs::canonicalize(path).unwrap_or_else(|_| {
            let folder = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            match (fs::canonicalize(folder), path.file_name()) {
                (Ok(folder), Some(name)) => folder.join(name),
                _ => path.to_path_buf(),
            }
        })
    }
    resolved(a) == resolved(b)
}

/// Says on stderr which faults and steps come after the end of the run. Valid (spec/scenario.md
/// asks only `at` >= 0) but never applied, which a run's report cannot show: a fault meant for
/// `at = "31s"` in a 30 s run left no trace. A step that late fails as never finished, which
/// `sim validate` did not say (audit AQ).
fn note_what_comes_after_the_end(scenario: &Scenario) {
    for step in &scenario.steps {
        if let Some(at) = step.at_ns.filter(|&at| at > scenario.duration_ns) {
            print_err(&format!(
                "sim: note: step {} at {} comes after the end of the run ({}): it never runs, and counts as failed",
                step.number,
                format_duration(at),
                format_duration(scenario.duration_ns)
            ));
        }
    }
    for (index, fault) in scenario.faults.iter().enumerate() {
        if fault.at_ns > scenario.duration_ns {
            print_err(&format!(
                "sim: note: fault {} ({}) at {} comes after the end of the run ({}): it never happens",
                index + 1,
                fault.kind.name(),
                format_duration(fault.at_ns),
                format_duration(scenario.duration_ns)
            ));
        }
    }
}

/// `sim validate`: the resolved scenario on stdout.
fn validate(file: &Path) -> Exit {
    match load(file) {
        Ok(scenario) => {
            note_what_comes_after_the_end(&scenario);
            let header = format!(
                "# {} is valid. Resolved, with every default filled in:\n\n",
                file.display()
            );
            print_out(&(header + &scenario::to_toml(&scenario)));
            Exit::Held
        }
        Err(exit) => exit,
    }
}

#[cfg(test)]
mod tests {
    use super::{command_line, path_argument};

    #[test]
    fn a_command_line_quotes_what_a_shell_would_split() {
        assert_eq!(
            command_line(&["sim", "run", "sims/x.toml", "--seed", "7"], None),
            "sim run sims/x.toml --seed 7"
        );
        assert_eq!(
            command_line(&["sim", "run", "my dir/it's.toml"], None),
            "sim run 'my dir/it'\\''s.toml'"
        );
        assert_eq!(command_line(&["a", ""], None), "a ''");
        // A path that begins with a dash is not taken for an option.
        assert_eq!(
            command_line(&["sim", "run", &path_argument("-x.toml")], None),
            "sim run ./-x.toml"
        );
        assert_eq!(path_argument("sims/-x.toml"), "sims/-x.toml");
        assert_eq!(
            command_line(&["sim", "run", "x.toml"], Some("serve-without-quorum")),
            "sim run x.toml --mutant serve-without-quorum"
        );
    }
}
