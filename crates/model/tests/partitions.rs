//! Partitions are modelled by what they add to an asynchronous network: one declaration of a
//! connection the peer still holds (`SessionModel::privileged_declarations_left`). This test
//! explores small configurations both ways, the literal way too (cut links that hold their
//! messages and heal at any moment), and shows that both reach the same states once the cut
//! links and the split between the partition and suspicion budgets are set aside: the same
//! instances, messages in flight, disks, logs and ghost history, so the same properties hold.
//! Should the protocol ever tell a soft error from a hard one, or the model read the cut
//! anywhere else, the reduction would no longer be exact and this test would fail.

use std::collections::{HashSet, VecDeque};

use mirror_model::config::{Configuration, Mode};
use mirror_model::model::SessionModel;
use mirror_model::state::SessionState;
use stateright::Model;

/// A state without what the two models keep differently.
fn projected(s: &SessionState) -> SessionState {
    let mut p = s.clone();
    p.cut = [false; 3];
    p.budgets.partitions = 0;
    p.budgets.suspicions = 0;
    p
}

/// Every reachable state of `configuration`, each passed through `view`, with the number of
/// states explored.
// A state's shared parts cache their hash in a `OnceLock`: interior mutability that never
// changes the hash (it is set once, from the immutable value), so states are sound set keys.
#[allow(clippy::mutable_key_type)]
fn explored(
    configuration: Configuration,
    view: impl Fn(SessionState) -> SessionState,
) -> (HashSet<SessionState>, usize) {
    let model = SessionModel::new(configuration);
    let mut seen = HashSet::new();
    let mut queue: VecDeque<SessionState> = model.init_states().into();
    for s in &queue {
        seen.insert(s.clone());
    }
    let mut actions = Vec::new();
    while let Some(s) = queue.pop_front() {
        actions.clear();
        model.actions(&s, &mut actions);
        for action in actions.drain(..) {
            let next = model
                .next_state(&s, action)
                .expect("every action has a next state");
            if seen.insert(next.clone()) {
                queue.push_back(next);
            }
        }
    }
    let count = seen.len();
    (seen.into_iter().map(view).collect(), count)
}

/// Every reachable state of `configuration`, projected, with the number of states explored.
#[allow(clippy::mutable_key_type)] // see `explored`
fn reachable(configuration: Configuration) -> (HashSet<SessionState>, usize) {
    explored(configuration, |s| projected(&s))
}

#[allow(clippy::mutable_key_type)] // see `reachable`
fn same_states(configuration: Configuration) {
    let (literal, literal_states) = reachable(configuration.clone().literal_partitions(true));
    let (reduced, reduced_states) = reachable(configuration.clone());
    let name = configuration.name();
    let only_literal = literal.difference(&reduced).count();
    let only_reduced = reduced.difference(&literal).count();
    assert_eq!(
        (only_literal, only_reduced),
        (0, 0),
        "{name}: states reached by one model only (literal {literal_states} states, reduced \
         {reduced_states})"
    );
    assert!(
        reduced_states < literal_states,
        "{name}: the reduction removed nothing ({reduced_states} against {literal_states})"
    );
    // Partitions were exercised: the literal model cut links (more states than projections).
    assert!(
        literal_states > literal.len(),
        "{name}: no link was ever cut"
    );
}

#[test]
fn literal_and_reduced_partitions_reach_the_same_states_with_a_witness() {
    same_states(
        Configuration::new(Mode::HighSafetyWitness)
            .transactions(1)
            .partitions(1),
    );
}

#[test]
fn literal_and_reduced_partitions_reach_the_same_states_without_a_witness() {
    for mode in [Mode::HighSafety, Mode::HighPerformance] {
        same_states(
            Configuration::new(mode)
                .transactions(1)
                .crashes(1)
                .partitions(2)
                .suspicions(1),
        );
    }
}

/// Every reachable state of `configuration`, each renumbered as the default model renumbers
/// log epochs, then projected.
#[allow(clippy::mutable_key_type)] // see `explored`
fn renumbered(configuration: Configuration) -> (HashSet<SessionState>, usize) {
    explored(configuration, |mut s| {
        mirror_model::model::renumber_epochs(&mut s);
        projected(&s)
    })
}

/// Renumbering log epochs (`SessionModel::normalize`) is exact: the model that keeps the
/// partners' own epochs reaches, once each of its states is renumbered, exactly the states the
/// default model reaches. Should the protocol ever use its epoch for anything but matching flush
/// completions, the two would part and this test would fail.
#[allow(clippy::mutable_key_type)] // see `reachable`
fn same_states_with_epochs_renumbered(configuration: Configuration) {
    let (kept, kept_states) = renumbered(configuration.clone().renumber_epochs(false));
    let (default, default_states) = reachable(configuration.clone());
    let name = configuration.name();
    assert_eq!(
        (
            kept.difference(&default).count(),
            default.difference(&kept).count()
        ),
        (0, 0),
        "{name}: states reached by one model only"
    );
    assert!(
        default_states < kept_states,
        "{name}: renumbering merged nothing ({default_states} against {kept_states})"
    );
}

#[test]
fn renumbered_epochs_reach_the_same_states_with_a_witness_and_a_crash() {
    same_states_with_epochs_renumbered(
        Configuration::new(Mode::HighSafetyWitness)
            .transactions(1)
            .crashes(1),
    );
}

#[test]
fn renumbered_epochs_reach_the_same_states_with_commands() {
    same_states_with_epochs_renumbered(Configuration::new(Mode::HighSafety).crashes(1).commands(1));
}
