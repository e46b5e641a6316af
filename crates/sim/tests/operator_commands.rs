//! Operator commands issued while a role change is under way (reference sections 2, 4, 5 and 7).
//! The scenarios in `sims/` check roles and states; these tests check the report's figures.

mod common;

use common::report_of;

// cli.md: a manual failover's unavailability runs from its command. A second FAILOVER refused
// with 1470 at 20.2 s, during the first one's take-over, moved the start to 20.2 s (about
// 300 ms instead of 500 ms), as did any command issued in that window.
#[test]
fn a_refused_command_during_a_manual_failover_does_not_move_its_start() {
    let report = report_of("refused-failover-during-a-manual-failover.toml");
    let refused = report
        .steps
        .iter()
        .find(|s| s.error == Some(1470))
        .expect("the second FAILOVER is refused with 1470");
    assert_eq!(refused.start_us, Some(20_200_000));
    let [failover] = report.failovers.as_slice() else {
        panic!("one failover: {:?}", report.failovers.len());
    };
    assert_eq!(
        failover.detected_us, 20_000_000,
        "from the accepted FAILOVER"
    );
    assert!(
        (490_000..600_000).contains(&failover.unavailable_us),
        "unavailable {} us",
        failover.unavailable_us
    );
}
