//! The order of the `[[instance]]` tables is not part of the protocol: a scenario and the same
//! scenario with its instance tables reversed tell the same story (reference section 3: "a
//! broken connection is re-established by a handshake when the peer can be reached again",
//! whichever side opens it). Audits AU and AW found restarts, handshakes cut by a crash and a
//! RESUME whose outcome or outage changed with the order; each case below failed before its
//! fix. Timings may move by the one-way trip that the side opening the connection costs at
//! setup, so outages are compared within a few milliseconds, not exactly.

mod common;

use mirror_sim::report::Report;

/// The story of a run: what a DBA reads in the report (outages are compared apart, within a
/// few milliseconds).
#[derive(Debug, PartialEq)]
struct Story {
    verdict: String,
    final_roles: (String, String, String, String, u64),
    failovers: Vec<(String, String, String)>,
    lost_acknowledged: u64,
    split_brains: usize,
    step_errors: Vec<(usize, Option<u32>, bool)>,
}

fn story(report: &Report) -> Story {
    let f = &report.final_state;
    Story {
        verdict: format!("{:?}", report.verdict),
        final_roles: (
            f.principal.clone(),
            f.mirror.clone(),
            f.witness.clone(),
            format!("{:?}", f.state),
            f.role_sequence,
        ),
        failovers: report
            .failovers
            .iter()
            .map(|x| (format!("{:?}", x.kind), x.from.clone(), x.to.clone()))
            .collect(),
        lost_acknowledged: report.transactions.lost_acknowledged,
        split_brains: report.split_brain.len(),
        step_errors: report
            .steps
            .iter()
            .map(|s| (s.step, s.error, s.end_us.is_some()))
            .collect(),
    }
}

/// Each failover's outage, in microseconds (the scenarios' `[expect] unavailable` bounds the
/// longest, through the verdict).
fn outages(report: &Report) -> Vec<u64> {
    report.failovers.iter().map(|f| f.unavailable_us).collect()
}

/// `name` from `sims/` with its `[[instance]]` tables in reverse order.
fn reversed(name: &str) -> mirror_sim::scenario::Scenario {
    let file = common::sims_file(name);
    let text = std::fs::read_to_string(&file).expect("readable");
    let mut doc: toml::Table = text.parse().expect("valid TOML");
    let instances = doc
        .get_mut("instance")
        .and_then(toml::Value::as_array_mut)
        .expect("[[instance]] tables");
    instances.reverse();
    let text = toml::to_string(&doc).expect("serialisable");
    mirror_sim::scenario::parse(&text, &file).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn reversing_the_instance_tables_tells_the_same_story() {
    for name in [
        // Each failed before this session's fixes, in one order or the other.
        "a-restarted-principal-listed-second-reconnects-at-once.toml",
        "a-principal-listed-second-back-within-the-timeout-reconnects-at-once.toml",
        "a-witness-back-within-the-timeout-restores-quorum-at-once.toml",
        "a-restarted-principal-listed-second-whose-mirror-crashed-serves-at-once.toml",
        "set-partner-to-a-mirror-listed-first-that-crashes-mid-handshake-is-1418-at-once.toml",
        "resume-on-a-forced-principal-listed-first-whose-old-principal-left-stays-disconnected.toml",
        "principal-lost-no-witness-full-returns-as-principal.toml",
        "witness-hung-while-the-principal-crashes-and-returns.toml",
        // The common stories.
        "quickstart.toml",
        "auto-failover-principal-power-off.toml",
        "auto-failover-principal-crash-fast.toml",
        "manual-failover-high-safety-witness.toml",
        "forced-service-high-safety-no-witness-nothing-lost.toml",
        "mirror-crash-witness-principal-exposed.toml",
        "disaster-recovery-partner-off-then-recover-the-mirror.toml",
    ] {
        let as_bundled = common::report_of(name);
        let other = common::run(&reversed(name));
        assert_eq!(story(&as_bundled), story(&other), "{name}");
        for (a, b) in outages(&as_bundled).into_iter().zip(outages(&other)) {
            assert!(
                a.abs_diff(b) <= 5_000,
                "{name}: an outage of {a} us in the bundled order, {b} us reversed"
            );
        }
    }
}
