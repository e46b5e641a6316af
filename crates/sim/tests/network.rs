//! Reference section 3: a connection breaks only on a reset or when a side declares it lost; a
//! lost packet is retransmitted, which shows up as delay. So a partition shorter than TIMEOUT,
//! or a lossy link that heals, delays commits and nothing more. The scenarios' own `[expect]`
//! cannot see a principal that still counts as serving but acknowledges nothing (the log stream
//! with a hole that an earlier simulator left behind): these tests check that the commits go on
//! after the heal.

use std::path::Path;

fn commits_go_on_after_the_heal(file: &str) {
    let scenario = mirror_sim::scenario::load(Path::new(file))
        .unwrap_or_else(|e| panic!("{file} does not load: {e}"));
    let options = mirror_sim::RunOptions {
        seed: scenario.seed,
        ..Default::default()
    };
    let report = mirror_sim::run_scenario(&scenario, &options).report;
    let t = &report.transactions;
    assert_eq!(report.verdict, mirror_sim::report::Verdict::Pass, "{file}");
    assert!(
        t.in_flight <= 10 && t.acknowledged * 100 >= t.submitted * 99,
        "{file}: {} acknowledged of {} submitted, {} still waiting at the end",
        t.acknowledged,
        t.submitted,
        t.in_flight
    );
}

#[test]
fn a_partition_shorter_than_timeout_only_delays_commits() {
    commits_go_on_after_the_heal("../../sims/short-partition-heals-before-timeout.toml");
}

#[test]
fn a_lossy_link_that_heals_only_delays_commits() {
    commits_go_on_after_the_heal("../../sims/lossy-link-healed-commits-go-on.toml");
}
