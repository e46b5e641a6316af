//! The mutant zoo (issue 6): every deliberate protocol bug is caught by the model checker,
//! each by the property it breaks (`Mutant::breaks`), with its shortest counterexample printed.
//! Run with `cargo test -p mirror-model --release --features mutants`.
//!
//! Each mutant is checked in a small configuration chosen for it (bounded by budgets and by the
//! search stopping at the first violation, never by time), breadth-first, so the counterexample
//! printed is a shortest one. The same configuration without the mutant has no violation of that
//! property within the same number of steps: the bug, not the configuration, is the reason.

#![cfg(feature = "mutants")]

use mirror_model::check::{check, shortest, CheckOptions, Outcome, Strategy};
use mirror_model::config::{Configuration, Mode};
use mirror_model::report::render;
use mirror_model::SessionModel;
use mirror_protocol::Mutant;

/// The small configuration that exposes `mutant`, and the length of its shortest
/// counterexample (pinned: a change in the model or the protocol that lengthens or shortens it
/// shows up here).
fn killing(mutant: Mutant) -> (Configuration, usize) {
    let c = |mode| Configuration::new(mode).transactions(1);
    match mutant {
        // The principal goes exposed (a false suspicion of the mirror), its report reaches the
        // witness and is confirmed, a commit is acknowledged, the principal crashes: the witness
        // grants the failover although its record says UNSYNCHRONIZED (failover_allowed breaks
        // first), and the new principal lacks the commit.
        Mutant::FailoverWhileSynchronizing => {
            (c(Mode::HighSafetyWitness).crashes(1).suspicions(1), 11)
        }
        // The same path: the witness records the UNSYNCHRONIZED report as SYNCHRONIZED, so the
        // failover is granted by the rules as declared, and the new principal lacks the commit.
        Mutant::WitnessIgnoresExposed => (c(Mode::HighSafetyWitness).crashes(1).suspicions(1), 11),
        // A SYNCHRONIZED principal acknowledges after its own flush, crashes before the mirror
        // has the log, and the synchronized mirror fails over without it.
        Mutant::AckBeforeMirrorHarden => (c(Mode::HighSafetyWitness).crashes(1), 8),
        Mutant::ServeWithoutQuorum => (c(Mode::HighSafetyWitness).suspicions(2), 4),
        Mutant::RejoinWithoutRollback => (
            Configuration::new(Mode::HighSafety)
                .crashes(1)
                .suspicions(1),
            // 7 until the acceptor of a connection waited for the initiator's confirmation:
            // the rejoin now takes its delivery too.
            8,
        ),
        Mutant::IgnoreRoleSequence => (c(Mode::HighSafetyWitness).suspicions(2), 13),
        Mutant::ForceServiceWhilePrincipalConnected => (c(Mode::HighPerformance).commands(1), 1),
    }
    .into_mutant(mutant)
}

trait IntoMutant {
    fn into_mutant(self, mutant: Mutant) -> Self;
}

impl IntoMutant for (Configuration, usize) {
    fn into_mutant(self, mutant: Mutant) -> Self {
        (self.0.mutant(Some(mutant)), self.1)
    }
}

/// Runs `sim check`'s breadth-first search with `mutant` on, stopping at the first violation of
/// the property it breaks; prints and returns the shortest counterexample's length.
fn kill(mutant: Mutant) -> usize {
    let (configuration, _) = killing(mutant);
    let expected = mutant.breaks();
    let mut options = CheckOptions::new(Strategy::Bfs, 1);
    options.stop_at = Some(expected);
    options.shortest = true;
    let report = check(&configuration, &options);
    let property = report.property(expected).expect("checked");
    assert_eq!(
        property.outcome,
        Outcome::Violated,
        "{mutant} survives in {}",
        configuration.name()
    );
    let trace = property.trace.as_ref().expect("a counterexample");
    println!(
        "{mutant}: {expected} violated in {} after {} steps\n{}",
        configuration.name(),
        trace.len() - 1,
        render(trace, expected)
    );
    trace.len() - 1
}

/// The configuration without the mutant has no violation of the property within as many steps.
fn holds_without(mutant: Mutant, steps: usize) {
    let (configuration, _) = killing(mutant);
    let model = SessionModel::new(configuration.mutant(None));
    let found = shortest(&model, mutant.breaks(), steps);
    assert!(
        found.is_none(),
        "{} is violated without {mutant}: the configuration, not the mutant, is the reason",
        mutant.breaks()
    );
}

fn killed(mutant: Mutant) {
    let steps = kill(mutant);
    assert_eq!(
        steps,
        killing(mutant).1,
        "{mutant}: the shortest counterexample changed length"
    );
    holds_without(mutant, steps);
}

#[test]
fn failover_while_synchronizing_is_killed_by_acknowledged_durable() {
    killed(Mutant::FailoverWhileSynchronizing);
}

#[test]
fn witness_ignores_exposed_is_killed_by_acknowledged_durable() {
    killed(Mutant::WitnessIgnoresExposed);
}

#[test]
fn ack_before_mirror_harden_is_killed_by_acknowledged_durable() {
    killed(Mutant::AckBeforeMirrorHarden);
}

#[test]
fn serve_without_quorum_is_killed_by_quorum_serving() {
    killed(Mutant::ServeWithoutQuorum);
}

#[test]
fn rejoin_without_rollback_is_killed_by_log_prefix() {
    killed(Mutant::RejoinWithoutRollback);
}

#[test]
fn ignore_role_sequence_is_killed_by_single_principal() {
    killed(Mutant::IgnoreRoleSequence);
}

#[test]
fn force_service_while_principal_connected_is_killed_by_failover_allowed() {
    killed(Mutant::ForceServiceWhilePrincipalConnected);
}

/// Every mutant of the zoo has a killing configuration above (a new mutant without one fails
/// here rather than going unchecked).
#[test]
fn every_mutant_has_a_test() {
    assert_eq!(Mutant::ALL.len(), 7);
    for mutant in Mutant::ALL {
        assert_eq!(killing(mutant).0.mutant, Some(mutant));
    }
}

/// `sim check --mutant` stops each search at its first violation: with serve-without-quorum
/// its killing configuration has over 250 thousand states, and one thread depth-first meets a
/// violation within 14 thousand.
#[test]
fn a_search_with_a_mutant_stops_at_its_first_violation() {
    let (configuration, _) = killing(Mutant::ServeWithoutQuorum);
    let mut options = CheckOptions::new(Strategy::Dfs, 1);
    options.stop_at_first_violation = true;
    let report = check(&configuration, &options);
    assert!(!report.all_held(), "{}", configuration.name());
    assert!(!report.complete, "the search stopped early");
    assert!(
        report.unique_states < 100_000,
        "stopped after {} unique states",
        report.unique_states
    );
    let mut options = CheckOptions::new(Strategy::Dfs, 1);
    options.stop_at_first_violation = false;
    let whole = check(&configuration, &options);
    assert!(
        whole.complete && whole.unique_states > 250_000,
        "{} unique states",
        whole.unique_states
    );
}
