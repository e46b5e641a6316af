//! The command line of `sim` (spec/cli.md), declared with clap's derive. `sim FILE` is
//! `sim run FILE`: the run options are accepted at the top level too, and a subcommand replaces
//! them.

use std::{fmt, num::NonZeroUsize, path::PathBuf, str::FromStr};

use clap::{Args, Parser, Subcommand};

/// Rehearse and verify SQL Server database mirroring: a deterministic simulator, a model
/// checker and a commit-latency benchmark.
///
/// Exit codes: 0 every invariant and expectation held; 1 something failed; 2 bad input.
#[derive(Debug, Parser)]
#[command(
    name = "sim",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    arg_required_else_help = true,
    allow_negative_numbers = true
)]
pub struct Cli {
    /// What to do; without one, `sim SCENARIO.toml` runs the scenario.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `sim SCENARIO.toml [options]`: the same as `sim run`.
    #[command(flatten)]
    pub run: RunArgs,
}

/// The commands of spec/cli.md.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one scenario and print the report.
    Run(RunArgs),
    /// Parse and validate a scenario only; print it resolved, every default filled in.
    Validate(ValidateArgs),
    /// Run one scenario over many seeds.
    Sweep(SweepArgs),
    /// Make a failing run smaller while it still fails the same way.
    Shrink(ShrinkArgs),
    /// Model-check the session models.
    Check(CheckArgs),
    /// The latency benchmark: FULL vs OFF commit latency and throughput.
    Bench(BenchArgs),
}

/// `sim run SCENARIO.toml [--seed N] [--json] [--trace FILE] [--events FILE]`.
#[derive(Debug, Args)]
// A negative number is a value, so that it gets the value's own error, not a tip to write it
// after `--` (which made it the scenario's path).
#[command(allow_negative_numbers = true)]
pub struct RunArgs {
    /// The scenario file.
    #[arg(value_name = "SCENARIO.toml", required = true)]
    pub scenario: Option<PathBuf>,
    /// Run with this seed instead of the scenario's `seed`.
    #[arg(long, value_name = "N", value_parser = parse_seed)]
    pub seed: Option<u64>,
    /// Print the report as one JSON object on stdout, and nothing else.
    #[arg(long)]
    pub json: bool,
    /// Write a Chrome/Perfetto timeline JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write every protocol event to FILE as JSON Lines.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Switch on a deliberate protocol bug (builds with `--features mutants` only).
    #[arg(long, value_name = "NAME", hide = true)]
    pub mutant: Option<String>,
}

/// `sim validate SCENARIO.toml`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The scenario file.
    #[arg(value_name = "SCENARIO.toml")]
    pub scenario: PathBuf,
}

/// `sim sweep SCENARIO.toml --seeds A..B [--swarm] [--jobs N] [--shard I/N] [--json]`.
#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct SweepArgs {
    /// The scenario file.
    #[arg(value_name = "SCENARIO.toml")]
    pub scenario: PathBuf,
    /// The seeds to run: A..B, both included.
    #[arg(long, value_name = "A..B", allow_hyphen_values = true)]
    pub seeds: SeedRange,
    /// Also randomise the faults and timings from each seed.
    #[arg(long)]
    pub swarm: bool,
    /// Run this many seeds at a time.
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub jobs: Option<NonZeroUsize>,
    /// Take every N-th seed, starting with the I-th (1 <= I <= N), so that N machines share a
    /// range.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Print the results as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Switch on a deliberate protocol bug (builds with `--features mutants` only).
    #[arg(long, value_name = "NAME", hide = true)]
    pub mutant: Option<String>,
}

/// `sim shrink SCENARIO.toml --seed N [-o SMALLER.toml]`.
#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct ShrinkArgs {
    /// The scenario file.
    #[arg(value_name = "SCENARIO.toml")]
    pub scenario: PathBuf,
    /// The seed of the failing run.
    #[arg(long, value_name = "N", value_parser = parse_seed)]
    pub seed: u64,
    /// Where to write the smaller scenario (standard output when not given).
    #[arg(short = 'o', long = "output", value_name = "SMALLER.toml")]
    pub output: Option<PathBuf>,
    /// Shrink the swarm variation of the scenario for this seed (what `sim sweep --swarm`
    /// ran), judged by the invariants alone.
    #[arg(long)]
    pub swarm: bool,
    /// Switch on a deliberate protocol bug (builds with `--features mutants` only).
    #[arg(long, value_name = "NAME", hide = true)]
    pub mutant: Option<String>,
}

/// `sim check`: the model checker's own arguments (crates/model).
pub use mirror_model::cli::CheckArgs;

/// `sim bench [--out reports/] [--quick]`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Where to write the Markdown report, the SVG charts and the `.hgrm` files.
    #[arg(long, value_name = "DIR", default_value = "reports/")]
    pub out: PathBuf,
    /// A smaller grid, for a quick look.
    #[arg(long)]
    pub quick: bool,
}

/// The largest seed: a scenario file's `seed` is a TOML integer (a signed 64-bit number), and a
/// seed given here must fit in the scenario `sim shrink` writes.
pub const SEED_MAX: u64 = i64::MAX.unsigned_abs();

/// `--seed N`: a whole number from 0 to [`SEED_MAX`].
fn parse_seed(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|&seed| seed <= SEED_MAX)
        .ok_or_else(|| format!("\"{text}\" is not a seed (a whole number from 0 to {SEED_MAX})"))
}

/// `--seeds A..B`: seeds A to B, both included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    /// The first seed.
    pub first: u64,
    /// The last seed.
    pub last: u64,
}

impl FromStr for SeedRange {
    type Err = String;

    fn from_str(text: &str) -> Result<SeedRange, String> {
        let (first, last) = text.split_once("..").ok_or_else(|| {
            format!("\"{text}\" is not a range of seeds; write A..B, e.g. 1..100")
        })?;
        let seed = parse_seed;
        let range = SeedRange {
            first: seed(first)?,
            last: seed(last.strip_prefix('=').unwrap_or(last))?,
        };
        if range.first > range.last {
            return Err(format!("{text} is empty: {} > {}", range.first, range.last));
        }
        Ok(range)
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}..{}", self.first, self.last)
    }
}

/// `--shard I/N`: this machine's share of a seed range (1 <= I <= N).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which share, from 1.
    pub index: u64,
    /// How many shares.
    pub count: u64,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let usage = || format!("\"{text}\" is not a shard; write I/N with 1 <= I <= N, e.g. 2/4");
        let (index, count) = text.split_once('/').ok_or_else(usage)?;
        let index = index.trim().parse::<u64>().map_err(|_| usage())?;
        let count = count.trim().parse::<u64>().map_err(|_| usage())?;
        if index == 0 || index > count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

/// A count of at least 1 (`--jobs`, `--threads`), with the range in its error: clap's own said
/// "number would be zero for non-zero type".
pub fn parse_positive(text: &str) -> Result<NonZeroUsize, String> {
    text.parse::<usize>()
        .ok()
        .and_then(NonZeroUsize::new)
        .ok_or_else(|| format!("{text:?} is not a count (a whole number from 1)"))
}

/// The error for a first word that is neither a command nor a scenario file, followed by more
/// words: a misspelt command (`sim runn scenario.toml`); or for a second scenario file (`sim
/// a.toml b.toml`). Clap took the first word for the scenario and said "the subcommand
/// 'scenario.toml' cannot be used with '<SCENARIO.toml>'".
pub fn misspelt_command(words: impl Iterator<Item = std::ffi::OsString>) -> Option<String> {
    use clap::CommandFactory;
    let words: Vec<String> = words
        .map(|w| w.to_str().map(str::to_string))
        .collect::<Option<_>>()?;
    let (first, rest) = words.split_first()?;
    let commands: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    let is_command = commands.iter().any(|c| c == first) || first == "help";
    if first.starts_with('-') || is_command {
        return None;
    }
    let may_be_a_file = first.ends_with(".toml") || std::path::Path::new(first).exists();
    if may_be_a_file {
        // `sim a.toml b.toml`, also after options (`sim a.toml --json b.toml`): clap called
        // the second file a subcommand.
        let extra = second_positional(rest)?;
        return Some(format!(
            "unexpected argument {extra:?}: sim runs one scenario at a time (sim SCENARIO.toml \
             [--seed N] [--json] [--trace FILE] [--events FILE])"
        ));
    }
    if rest.first()?.starts_with('-') {
        return None;
    }
    Some(format!(
        "{first:?} is not a command ({}), nor a scenario file; to run a scenario: sim SCENARIO.toml",
        commands.join(", ")
    ))
}

/// The first word of `rest` (what follows the scenario file of `sim SCENARIO.toml ...`) that is
/// neither an option nor an option's value.
fn second_positional(rest: &[String]) -> Option<&String> {
    let mut words = rest.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--" => return words.next(),
            "--seed" | "--trace" | "--events" | "--mutant" => {
                words.next();
            }
            option if option.starts_with('-') => {}
            positional => return Some(word).filter(|_| !positional.is_empty()),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_misspelt_command_is_named_as_such() {
        let words = |line: &str| {
            line.split(' ')
                .map(std::ffi::OsString::from)
                .collect::<Vec<_>>()
        };
        for line in [
            "x.toml y.toml",
            "x.toml --json y.toml",
            "x.toml --seed 5 y.toml",
            "x.toml -- y.toml",
        ] {
            let message = misspelt_command(words(line).into_iter()).expect("an error");
            assert!(
                message.starts_with("unexpected argument \"y.toml\": sim runs one scenario"),
                "{line}: {message}"
            );
        }
        let message = misspelt_command(words("runn x.toml").into_iter()).expect("an error");
        assert!(
            message.starts_with("\"runn\" is not a command (run, validate"),
            "{message}"
        );
        for fine in [
            "run x.toml",
            "x.toml --seed 3",
            "sweep x.toml --seeds 1..2",
            "help run",
            "runn",
            "--json x.toml",
            "x.toml --seed 5 --events e.jsonl",
        ] {
            assert_eq!(misspelt_command(words(fine).into_iter()), None, "{fine}");
        }
    }

    #[test]
    fn negative_numbers_get_the_values_own_error() {
        let error = Cli::try_parse_from(["sim", "run", "x.toml", "--seed", "-1"]).unwrap_err();
        assert!(error.to_string().contains("is not a seed"), "{error}");
        let error =
            Cli::try_parse_from(["sim", "sweep", "x.toml", "--seeds", "-1..5"]).unwrap_err();
        assert!(error.to_string().contains("is not a seed"), "{error}");
        let error =
            Cli::try_parse_from(["sim", "sweep", "x.toml", "--seeds", "1..5", "--jobs", "0"])
                .unwrap_err();
        assert!(error.to_string().contains("is not a count"), "{error}");
    }

    #[test]
    fn seed_ranges() {
        assert_eq!(
            "1..100".parse(),
            Ok(SeedRange {
                first: 1,
                last: 100
            })
        );
        assert_eq!("5..=5".parse(), Ok(SeedRange { first: 5, last: 5 }));
        assert!("100..1".parse::<SeedRange>().is_err());
        assert!("1-100".parse::<SeedRange>().is_err());
        assert!("a..b".parse::<SeedRange>().is_err());
    }

    #[test]
    fn shards() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        assert!("0/4".parse::<Shard>().is_err());
        assert!("5/4".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }

    #[test]
    fn a_bare_file_is_a_run() {
        let cli = Cli::try_parse_from(["sim", "x.toml", "--seed", "3", "--json"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.scenario, Some(PathBuf::from("x.toml")));
        assert_eq!(cli.run.seed, Some(3));
        assert!(cli.run.json);
        let cli = Cli::try_parse_from(["sim", "run", "x.toml"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Run(_))));
    }

    #[test]
    fn usage_errors_exit_2() {
        for arguments in [
            vec!["sim"],
            vec!["sim", "run"],
            vec!["sim", "x.toml", "--seed", "minus"],
            vec!["sim", "x.toml", "--bogus"],
            vec!["sim", "check", "--bfs", "--dfs"],
            vec!["sim", "sweep", "x.toml"],
            vec!["sim", "sweep", "x.toml", "--seeds", "9..1"],
            vec!["sim", "shrink", "x.toml"],
        ] {
            let error = Cli::try_parse_from(&arguments).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{arguments:?}: {error}");
        }
    }
}
