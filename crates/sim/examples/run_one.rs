//! Runs one scenario with the engine and prints the JSON report (a development aid; the `sim`
//! binary is the product).

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: run_one SCENARIO.toml [EVENTS]");
    let scenario =
        mirror_sim::scenario::load(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{e}"));
    let options = mirror_sim::RunOptions {
        seed: scenario.seed,
        events: std::env::args().nth(2).map(Into::into),
        ..Default::default()
    };
    let outcome = mirror_sim::run_scenario(&scenario, &options);
    println!(
        "{}",
        serde_json::to_string_pretty(&outcome.report).expect("serialisable")
    );
}
