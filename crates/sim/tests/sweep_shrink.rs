//! `sim sweep` and `sim shrink` (spec/cli.md): many seeds, their swarm variations, and a failing
//! run made smaller.

mod common;

use std::path::Path;

use common::sims_file;
use mirror_sim::scenario::{self, FaultKind, Scenario};
use mirror_sim::shrink::{self, ShrinkError, ShrinkOptions};
use mirror_sim::sweep::{self, Seeds, SweepOptions};

fn load(name: &str) -> Scenario {
    let file = sims_file(name);
    scenario::load(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

#[test]
fn a_swarm_variation_is_a_function_of_the_seed_and_a_valid_scenario() {
    let original = load("all-partitioned-mirror-witness-reconnect-no-failover.toml");
    let (mut left_out_some, mut added_some) = (0, 0);
    for seed in 0..40 {
        let varied = sweep::swarm(&original, seed);
        assert_eq!(varied, sweep::swarm(&original, seed), "seed {seed}");
        assert!(varied.faults.iter().all(|f| f.at_ns <= varied.duration_ns));
        left_out_some += usize::from(varied.faults.len() < original.faults.len());
        added_some += usize::from(varied.faults.len() > original.faults.len());
        // Expectations were written for the scenario as it is.
        assert_eq!(varied.expect, Default::default());
        // The variation is a valid scenario: written out, it reads back the same.
        let text = scenario::to_toml(&varied);
        let again = scenario::parse(&text, Path::new("swarm.toml"))
            .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
        assert_eq!(scenario::to_toml(&again), text);
    }
    assert!(
        (1..40).contains(&left_out_some) && (1..40).contains(&added_some),
        "some runs leave faults out, some add some: {left_out_some} and {added_some} of 40"
    );
}

#[test]
fn a_sweep_reports_the_same_whatever_the_number_of_threads() {
    let scenario = load("auto-failover-principal-crash-fast.toml");
    let seeds = Seeds::range(1, 8);
    let summary = |jobs: usize| {
        let options = SweepOptions {
            swarm: true,
            jobs,
            mutant: None,
        };
        sweep::sweep(&scenario, seeds, &options, &|_| {})
    };
    let one = summary(1);
    assert_eq!(one, summary(3));
    assert_eq!(one.runs, 8);
    assert_eq!(one.passed + one.failed, 8);
    assert!(one.failovers[0] > 0, "the principal's crash fails over");
}

/// The forced-service scenario that loses the send queue, told to expect no loss (so it fails
/// `lost_acknowledged`), with an expectation that holds and two faults that play no part.
fn failing_forced_service() -> Scenario {
    let file = sims_file("forced-service-high-performance-loses-send-queue.toml");
    let text = std::fs::read_to_string(&file).expect("bundled scenario");
    let text = text.replace("lost_acknowledged = \"> 0\"", "lost_acknowledged = 0");
    let text = text.replace(
        "[expect]",
        "[[fault]]\nat = \"3s\"\nkind = \"clock_skew\"\ntarget = \"beta\"\ndrift = \"+1%\"\n\n\
         [[fault]]\nat = \"4s\"\nkind = \"heal\"\ntarget = \"beta\"\n\n[expect]",
    );
    scenario::parse(&text, &file).expect("still a valid scenario")
}

#[test]
fn a_shrunk_run_fails_the_same_way_with_less() {
    let original = failing_forced_service();
    let options = ShrinkOptions::default();
    assert_eq!(
        shrink::signature(&original, 1, options),
        ["lost_acknowledged"]
    );
    let mut log = Vec::new();
    let shrunk = shrink::shrink(&original, 1, options, &mut |line| {
        log.push(line.to_string())
    })
    .expect("seed 1 fails");
    assert_eq!(shrunk.signature, ["lost_acknowledged"]);
    let small = &shrunk.scenario;
    // The power loss makes the failure; the clock skew and its heal do not.
    let kinds: Vec<&str> = small.faults.iter().map(|f| f.kind.name()).collect();
    assert_eq!(kinds, ["power_off"], "{log:?}");
    assert!(matches!(small.faults[0].kind, FaultKind::PowerOff { .. }));
    // Forced service is issued at 35 s: the run cannot end before it.
    assert!(
        small.duration_ns < original.duration_ns && small.duration_ns > 35_000_000_000,
        "{} ns",
        small.duration_ns
    );
    // Expectations that held are gone; the one that failed stays.
    assert!(small.expect.principal.is_none());
    assert!(small.expect.lost_acknowledged.is_some());
    assert_eq!(small.seed, 1);
    assert!(shrunk.runs as usize > log.len(), "every try is a run");
    // Written and read back, it still fails the same way.
    let text = scenario::to_toml(small);
    let again = scenario::parse(&text, Path::new("small.toml")).expect("valid");
    assert_eq!(shrink::signature(&again, 1, options), ["lost_acknowledged"]);
}

#[test]
fn a_passing_run_has_nothing_to_shrink() {
    let scenario = load("quickstart.toml");
    let outcome = shrink::shrink(&scenario, 3, ShrinkOptions::default(), &mut |_| {});
    assert_eq!(outcome, Err(ShrinkError::Passes { seed: 3 }));
}
