//! The properties, named as in the invariants table of spec/scenario.md (without its clock),
//! and the `sometimes` properties that show the model is not vacuous.
//!
//! | property | kind | judged |
//! |---|---|---|
//! | `single_principal` | always | no two instances begin serving at one role sequence (nor serve at once at one); no commit acknowledged at role sequence n after another instance began serving at a higher role sequence (not reached by forced service) without that commit in the log it started with; no commit acknowledged at n by an instance that was told of a higher role sequence and did not adopt it |
//! | `acknowledged_durable` | always | every acknowledged commit is in the last principal's log, by content; except commits acknowledged at a role sequence older than a forced service that the forcing mirror's log did not hold at the fork (above the fork LSN, or other records at those LSNs: judged by content) |
//! | `log_prefix` | always | when a mirror completes a reconnection handshake, its log is a prefix of the log its principal has generated, by content |
//! | `failover_allowed` | always | when the witness grants an automatic failover, every condition of reference section 5 holds as the instances have declared them at that moment; when forced service is accepted, its conditions hold (the mirror declared the principal lost; with a witness, the mirror is connected to it and the witness has declared the principal lost) |
//! | `quorum_serving` | always | with a witness set, no commit is acknowledged by a principal that has declared both its connections lost |
//! | `commit_acknowledged` | sometimes | a commit is acknowledged |
//! | `automatic_failover` | sometimes | an automatic failover completes (witness mode) |
//! | `manual_failover` | sometimes | a manual failover completes (high safety, with commands) |
//! | `forced_service_loses_acknowledged` | sometimes | an acknowledged commit is lost by forced service (high performance, with commands) |
//! | `split_brain_via_forced_service` | sometimes | two instances serve at once after forced service, the documented hazard (no witness, with commands): a discovery, not a failure |
//!
//! The **last principal** is the partner that holds the principal role, by its own durable
//! record, at the highest role sequence (then: serving now, then the longest log); when neither
//! does (half-way through a manual failover), the one that began serving at the highest role
//! sequence. The spec's "serving at the end" cannot be used in a model without an end, and a
//! new principal may not serve yet (it must first confirm its exposure with the witness) while
//! the old one has already stepped down and discarded its tail; the highest role sequence is
//! the one every instance adopts once they meet (reference section 4), so its log is the
//! database that survives.

use mirror_protocol::{FailoverKind, Role};
use stateright::Property;

use crate::config::{Configuration, Mode};
use crate::model::{switched, SessionModel};
use crate::state::{index, Acked, SessionState};

/// The `always` properties, in report order.
pub const ALWAYS: [&str; 5] = [
    "single_principal",
    "acknowledged_durable",
    "log_prefix",
    "failover_allowed",
    "quorum_serving",
];

/// The properties checked in `configuration`.
pub fn properties(configuration: &Configuration) -> Vec<Property<SessionModel>> {
    let mut properties = vec![
        Property::always("single_principal", |_, s: &SessionState| {
            holds(s, "single_principal")
        }),
        Property::always("acknowledged_durable", |_, s: &SessionState| {
            holds(s, "acknowledged_durable")
        }),
        Property::always("log_prefix", |_, s: &SessionState| holds(s, "log_prefix")),
        Property::always("failover_allowed", |_, s: &SessionState| {
            holds(s, "failover_allowed")
        }),
        Property::always("quorum_serving", |_, s: &SessionState| {
            holds(s, "quorum_serving")
        }),
        Property::sometimes("commit_acknowledged", |_, s: &SessionState| {
            !s.ghost.acked.is_empty()
        }),
    ];
    let commands = configuration.has_commands();
    if configuration.mode.has_witness() {
        properties.push(Property::sometimes(
            "automatic_failover",
            |_, s: &SessionState| switched(s, FailoverKind::Automatic),
        ));
    }
    if commands && configuration.mode != Mode::HighPerformance {
        properties.push(Property::sometimes(
            "manual_failover",
            |_, s: &SessionState| switched(s, FailoverKind::Manual),
        ));
    }
    if commands && configuration.mode == Mode::HighPerformance {
        properties.push(Property::sometimes(
            "forced_service_loses_acknowledged",
            |_, s: &SessionState| lost_acknowledged(s).iter().any(|l| l.forced),
        ));
    }
    if commands && !configuration.mode.has_witness() {
        properties.push(Property::sometimes(
            "split_brain_via_forced_service",
            |_, s: &SessionState| split_brain(s),
        ));
    }
    properties
}

/// Whether no event-based violation of `property` was recorded.
pub fn holds(s: &SessionState, property: &str) -> bool {
    s.ghost.violations.iter().all(|v| v.property() != property)
}

/// Two partners serve at once, after a forced service: the split brain of reference section 4.
pub fn split_brain(s: &SessionState) -> bool {
    let [a, b] = &s.partners;
    a.is_serving() && b.is_serving() && !s.ghost.forced.is_empty()
}

/// The partner whose log is the database that survives (see the module documentation): the
/// principal, by its own durable record, at the highest role sequence (then: serving, then the
/// longest log); when no partner holds the principal role (a manual failover half done), the
/// one that began serving at the highest role sequence.
pub fn last_principal(s: &SessionState) -> Option<usize> {
    let rank = |i: usize, role_sequence: u64| {
        let end = s.logs[i].last().map_or(0, |&(l, _)| l);
        ((role_sequence, s.partners[i].is_serving(), end), i)
    };
    let principal = (0..2)
        .filter(|&i| s.partners[i].role() == Role::Principal)
        .map(|i| rank(i, s.partners[i].role_sequence()))
        .max();
    principal
        .or_else(|| {
            s.ghost
                .served
                .iter()
                .map(|r| rank(index(r.by), r.role_sequence))
                .max()
        })
        .map(|(_, i)| i)
}

/// An acknowledged commit missing from the last principal's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lost {
    /// The acknowledgement.
    pub acked: Acked,
    /// Whether forced service excuses it: acknowledged at an older role sequence and not in
    /// the forcing mirror's log when it took over (above the fork LSN, or at or below it when
    /// the old principal had rewritten that log after a restart; the reference's definition
    /// only names the first case).
    pub forced: bool,
}

/// Every acknowledged commit missing from the last principal's log.
pub fn lost_acknowledged(s: &SessionState) -> Vec<Lost> {
    let Some(last) = last_principal(s) else {
        return Vec::new();
    };
    let log = &s.logs[last];
    s.ghost
        .acked
        .iter()
        .filter(|a| !log.contains(&(a.lsn, a.tx)))
        .map(|a| Lost {
            acked: a.clone(),
            forced: s.ghost.forced.iter().any(|f| {
                a.role_sequence < f.role_sequence
                    && (a.lsn > f.fork_lsn || !f.log.contains(&(a.lsn, a.tx)))
            }),
        })
        .collect()
}

/// Explains why the state violates `property` (for counterexamples).
pub fn explain(s: &SessionState, property: &str) -> Vec<String> {
    s.ghost
        .violations
        .iter()
        .filter(|v| v.property() == property)
        .map(|v| v.describe())
        .collect()
}
