//! `sim check` without the `sim` binary, for working on the model:
//! `cargo run -p mirror-model --release --example check -- --mode high-safety-witness --dfs`.

use clap::Parser;
use mirror_model::CheckArgs;

/// The `check` subcommand's flags.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    check: CheckArgs,
}

fn main() {
    let cli = Cli::parse();
    std::process::exit(mirror_model::run_check(&cli.check));
}
