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

// spec/scenario.md: `loss` retransmits after 200 ms, doubling, and `heal` ends it; reference
// section 3: a lost packet shows up as delay. Each retransmission draws the loss of its moment,
// so after a heal the next one gets through: a 0.5 s burst of total loss costs well under a
// second, and the delay is commit latency, not a connection declared lost.
#[test]
fn a_healed_burst_of_total_loss_costs_well_under_a_second() {
    let name = "loss-burst-healed-next-retransmission-gets-through.toml";
    let report = common::report_of(name);
    assert_eq!(report.verdict, mirror_sim::report::Verdict::Pass, "{name}");
    let max = report.commit_latency_us.max;
    assert!(
        (200_000..1_000_000).contains(&max),
        "{name}: the longest commit took {max} us: the first retransmission after the heal (about 0.6 s) should end the stall"
    );
    assert!(report.failovers.is_empty(), "{name}: no failover");
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

// spec/cli.md: a failover's `unavailable_us` "runs from the failure (the fault ...)". With
// SAFETY OFF or no witness the old principal serves on, and a forced failover's count starts at
// the fault that cut the partners: a loss of every packet as a partition; never a fault healed
// before with the session resynchronized or held together (a 1% loss: the failure is then the
// endpoint the DBA stopped, and the count starts with the take-over), nor a fault on a link to
// an instance that is neither partner nor witness.
#[test]
fn a_forced_failover_counts_from_the_fault_that_cut_the_partners() {
    let cases = [
        // From the loss at 30 s to beta serving at 45.5 s.
        (
            "a-forced-failovers-unavailability-runs-from-a-loss-fault.toml",
            15_500_000,
        ),
        (
            "a-forced-failovers-unavailability-ignores-a-fault-healed-before.toml",
            15_500_000,
        ),
        // From the partition at 20 s to beta serving at 40.5 s.
        (
            "a-forced-failovers-unavailability-ignores-a-fault-outside-the-session.toml",
            20_500_000,
        ),
        (
            "a-forced-failovers-unavailability-ignores-a-light-loss-healed-long-before.toml",
            500_000,
        ),
    ];
    for (name, unavailable_us) in cases {
        let report = common::report_of(name);
        let failover = report.failovers.first().expect("a forced failover");
        assert_eq!(failover.unavailable_us, unavailable_us, "{name}");
    }
}

// Reference section 3: a crashed process's host resets the connections that process held. A
// request the restarted process accepted is not one of them: the late reset broke it, the
// principal lost quorum, and 120 commits failed with 955 (18 fail at the crash itself).
#[test]
fn a_dead_processs_reset_spares_a_request_it_never_received() {
    let report = common::report_of("a-dead-processs-reset-spares-a-request-it-never-received.toml");
    assert_eq!(report.verdict, mirror_sim::report::Verdict::Pass);
    let failed = report.transactions.failed;
    assert!(
        failed < 40,
        "{failed} commits failed: the new connection was reset"
    );
}

// Reference section 7: a session's instances connect to each other in both directions, and
// which instance a scenario lists first is no part of the rules. After alpha's endpoint is
// created again without CONNECT for beta's login, the session stays DISCONNECTED in either
// order; judged from the first-listed side only, it reconnected when alpha came first.
#[test]
fn a_grant_missing_one_way_breaks_the_session_whichever_instance_is_listed_first() {
    let name = "an-endpoint-recreated-without-the-partners-grant-keeps-the-session-down.toml";
    let file = common::sims_file(name);
    let source = std::fs::read_to_string(&file).expect("the scenario");
    let alpha = "[[instance]]\nname = \"alpha\"\nhost = \"alpha.corp.example\"\nservice_account = \"ALPHA\\\\sqlsvc\"\n";
    let beta = "[[instance]]\nname = \"beta\"\nhost = \"beta.corp.example\"\nservice_account = \"NT Service\\\\MSSQLSERVER\"\n";
    let listed = format!("{alpha}\n{beta}");
    assert!(
        source.contains(&listed),
        "the scenario lists alpha, then beta"
    );
    let swapped = source.replace(&listed, &format!("{beta}\n{alpha}"));
    for source in [source.clone(), swapped] {
        let scenario = mirror_sim::scenario::parse(&source, &file).expect("valid input");
        let report = common::run(&scenario);
        assert_eq!(
            report.final_state.state,
            mirror_sim::scenario::SessionState::Disconnected
        );
        assert_eq!(report.final_state.principal, "alpha");
    }
}
