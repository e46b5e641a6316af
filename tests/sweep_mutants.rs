//! `sim sweep --swarm` against a deliberate protocol bug (builds with `--features mutants`):
//! the swarm's fault episodes find the principal that serves without quorum, and `sim shrink`
//! keeps that failure in a smaller scenario. (The model checker kills every mutant; this shows
//! the simulator's own search is not blind.)
#![cfg(feature = "mutants")]

use std::process::{Command, Output};

use serde_json::Value;

fn sim(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(arguments)
        .output()
        .expect("the sim binary runs")
}

const SWEEP: [&str; 6] = [
    "sweep",
    "sims/quickstart.toml",
    "--seeds",
    "1..40",
    "--swarm",
    "--json",
];

#[test]
fn a_swarm_sweep_finds_a_principal_serving_without_quorum() {
    let clean = sim(&SWEEP);
    assert_eq!(clean.status.code(), Some(0), "the protocol as it is passes");
    let mutant: Vec<&str> = SWEEP
        .iter()
        .copied()
        .chain(["--mutant", "serve-without-quorum"])
        .collect();
    let output = sim(&mutant);
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(report["failed"].as_u64().is_some_and(|n| n > 0));
    assert!(
        report["failed_by_check"]["quorum_serving"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{}",
        report["failed_by_check"]
    );
    // The first failing seed shrinks to a scenario that still fails, with the mutant.
    let seed = report["failures"][0]["seed"].as_u64().expect("a seed");
    let seed = seed.to_string();
    let shrunk = sim(&[
        "shrink",
        "sims/quickstart.toml",
        "--seed",
        &seed,
        "--swarm",
        "--mutant",
        "serve-without-quorum",
    ]);
    assert_eq!(
        shrunk.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&shrunk.stderr)
    );
    let text = String::from_utf8_lossy(&shrunk.stdout);
    assert!(text.starts_with("# shrunk by `sim shrink`"), "{text}");
    assert!(text.contains("# It fails: "), "{text}");
}
