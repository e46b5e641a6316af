//! Reference section 3: a connection breaks only on a reset or when a side declares it lost; a
//! lost packet is retransmitted, which shows up as delay. So a partition shorter than TIMEOUT,
//! or a lossy link that heals, delays commits and nothing more. The scenarios' own `[expect]`
//! cannot see a principal that still counts as serving but acknowledges nothing (the log stream
//! with a hole that an earlier simulator left behind): these tests check that the commits go on
//! after the heal, and that a cut link keeps a crashed process's reset from its peers.

mod common;

fn commits_go_on_after_the_heal(name: &str) {
    let report = common::report_of(name);
    let t = &report.transactions;
    assert_eq!(report.verdict, mirror_sim::report::Verdict::Pass, "{name}");
    assert!(
        t.in_flight <= 10 && t.acknowledged * 100 >= t.submitted * 99,
        "{name}: {} acknowledged of {} submitted, {} still waiting at the end",
        t.acknowledged,
        t.submitted,
        t.in_flight
    );
}

#[test]
fn a_partition_shorter_than_timeout_only_delays_commits() {
    commits_go_on_after_the_heal("short-partition-heals-before-timeout.toml");
}

#[test]
fn a_lossy_link_that_heals_only_delays_commits() {
    commits_go_on_after_the_heal("lossy-link-healed-commits-go-on.toml");
}

// Reference section 3: a crash whose host answers is a reset, noticed at once; across a cut
// link the reset does not arrive and the peer notices by TIMEOUT. The witness on the far side
// of a partition declares the crashed principal lost only after TIMEOUT, and only then is the
// automatic failover granted.
#[test]
fn a_crash_behind_a_partition_is_noticed_by_timeout() {
    let name = "crashed-principal-reset-does-not-cross-a-partition-to-the-witness.toml";
    let report = common::report_of(name);
    assert_eq!(report.verdict, mirror_sim::report::Verdict::Pass, "{name}");
    let failover = report.failovers.first().expect("an automatic failover");
    assert!(
        failover.at_us >= 20_000_000,
        "{name}: the failover at {} us came before the witness's TIMEOUT ran out",
        failover.at_us
    );
}
