//! The state of one model: the protocol's own state machines, the network, the disks, the log
//! contents, the budgets left, and the ghost history the properties are judged from.

use crate::shared::Shared;

use mirror_protocol::{Envelope, FailoverKind, InstanceId, Lsn, Partner, ServeVia, TxId, Witness};

/// The instance that is principal when the session is set up ("alpha" in the reports).
pub const ALPHA: InstanceId = InstanceId(1);
/// The instance that is mirror when the session is set up ("beta").
pub const BETA: InstanceId = InstanceId(2);
/// The witness, in the modes that have one ("gamma").
pub const GAMMA: InstanceId = InstanceId(3);

/// Every instance, in index order.
pub const INSTANCES: [InstanceId; 3] = [ALPHA, BETA, GAMMA];

/// The index of an instance in [`INSTANCES`].
pub fn index(id: InstanceId) -> usize {
    usize::from(id.0 - 1)
}

/// The name of an instance in reports.
pub fn name(id: InstanceId) -> &'static str {
    match id.0 {
        1 => "alpha",
        2 => "beta",
        3 => "gamma",
        _ => "unknown",
    }
}

/// The queue of one directed pair of instances.
pub fn channel(from: InstanceId, to: InstanceId) -> usize {
    let (f, t) = (index(from), index(to));
    debug_assert_ne!(f, t, "no instance sends to itself");
    f * 2 + if t > f { t - 1 } else { t }
}

/// The directed pair of a queue (the inverse of [`channel`]).
pub fn channel_ends(channel: usize) -> (InstanceId, InstanceId) {
    let f = channel / 2;
    let mut t = channel % 2;
    if t >= f {
        t += 1;
    }
    (INSTANCES[f], INSTANCES[t])
}

/// The undirected link between two instances (0: alpha-beta, 1: alpha-gamma, 2: beta-gamma),
/// the unit a partition cuts.
pub fn link(a: InstanceId, b: InstanceId) -> usize {
    index(a) + index(b) - 1
}

/// The ends of an undirected link (the inverse of [`link`]).
pub fn link_ends(link: usize) -> (InstanceId, InstanceId) {
    match link {
        0 => (ALPHA, BETA),
        1 => (ALPHA, GAMMA),
        _ => (BETA, GAMMA),
    }
}

/// Log content: (commit LSN, transaction) in LSN order. One commit is one LSN.
pub type Log = Vec<(Lsn, TxId)>;

/// A message in flight, with the log content a `Log` message carries (the protocol names only
/// an LSN range; the model carries the records so that durability is judged by content).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Packet {
    /// The protocol's envelope.
    pub env: Envelope,
    /// For `Message::Log`: the records in its range, as the sender had them when it sent it. For
    /// `Message::Hello` and `Message::Config`: the sender's whole log when it sent it (the
    /// reference `log_prefix` judges a handshake against).
    pub records: Log,
    /// For `Message::FailoverRequest`: the conditions of reference section 5 that did not hold
    /// on the mirror as it declared them when it asked (empty when all held).
    pub declared: Vec<&'static str>,
}

/// One commit acknowledged to its client.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Acked {
    /// The transaction.
    pub tx: TxId,
    /// Its commit LSN.
    pub lsn: Lsn,
    /// The role sequence it was acknowledged at.
    pub role_sequence: u64,
    /// Who acknowledged it.
    pub by: InstanceId,
}

/// An instance began serving at a role sequence (its first `Serve` at that role sequence).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Served {
    /// Who.
    pub by: InstanceId,
    /// At which role sequence.
    pub role_sequence: u64,
    /// How it came about.
    pub via: ServeVia,
    /// The hardened log it started serving with.
    pub log: Log,
}

/// Forced service happened: a new recovery fork.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Forced {
    /// The instance that took over.
    pub by: InstanceId,
    /// Its new role sequence.
    pub role_sequence: u64,
    /// The fork LSN.
    pub fork_lsn: Lsn,
    /// The forcing mirror's log content when it took over.
    pub log: Log,
}

/// A role change that completed (the protocol's `Failover` output).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RoleSwitch {
    /// How.
    pub kind: FailoverKind,
    /// The new principal.
    pub to: InstanceId,
    /// The new role sequence.
    pub role_sequence: u64,
}

/// A safety property that a step violated, with what the step did. Event-based judgements (at
/// the moment of an acknowledgement, a grant, a handshake, a forced service) are made while the
/// step routes the protocol's outputs; state-based ones (two serving at once, a lost commit) on
/// the state the step reached. Violations are kept in the ghost history, so a property that broke
/// stays broken in every later state (runs go on: a mutant may break one property on its way to
/// breaking another).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Violation {
    /// `single_principal`: two instances began serving at the same role sequence.
    SameRoleSequence {
        /// The role sequence.
        role_sequence: u64,
        /// The two instances.
        instances: [InstanceId; 2],
    },
    /// `single_principal`: a commit acknowledged at role sequence n after another instance
    /// began serving at a higher role sequence (not by forced service) without that commit.
    StaleAcknowledgement {
        /// The acknowledgement.
        acked: Acked,
        /// The instance serving at the higher role sequence.
        newer: InstanceId,
        /// Its role sequence.
        newer_role_sequence: u64,
    },
    /// `single_principal`: a commit acknowledged at role sequence n by an instance that had been
    /// told of a higher role sequence (reference section 4: adopt before anything else).
    AcknowledgedAfterLearning {
        /// The acknowledgement.
        acked: Acked,
        /// The higher role sequence it had been told of.
        learned: u64,
    },
    /// `log_prefix`: after a reconnection handshake the mirror's log is not a prefix of the log
    /// the principal has generated.
    NotPrefix {
        /// The mirror.
        mirror: InstanceId,
        /// The mirror's log.
        mirror_log: Log,
        /// The principal's log.
        principal_log: Log,
    },
    /// `failover_allowed`: the witness granted an automatic failover although a condition of
    /// reference section 5 did not hold, as declared at that moment.
    FailoverNotAllowed {
        /// The mirror that asked.
        mirror: InstanceId,
        /// The conditions that failed.
        failed: Vec<&'static str>,
    },
    /// `failover_allowed`: forced service was accepted although a condition of reference
    /// section 5 did not hold.
    ForcedServiceNotAllowed {
        /// The mirror it was issued on.
        mirror: InstanceId,
        /// The conditions that failed.
        failed: Vec<&'static str>,
    },
    /// `quorum_serving`: with a witness set, a commit was acknowledged by a principal that had
    /// declared both its connections lost.
    AcknowledgedWithoutQuorum {
        /// The acknowledgement.
        acked: Acked,
    },
    /// `single_principal`: two partners serve at once at one role sequence.
    BothServing {
        /// The role sequence.
        role_sequence: u64,
    },
    /// `acknowledged_durable`: an acknowledged commit is missing from the last principal's log
    /// and no forced service excuses it.
    Lost {
        /// The acknowledgement.
        acked: Acked,
        /// The last principal.
        last: InstanceId,
    },
}

impl Violation {
    /// The property this violation breaks.
    pub fn property(&self) -> &'static str {
        match self {
            Self::SameRoleSequence { .. }
            | Self::StaleAcknowledgement { .. }
            | Self::AcknowledgedAfterLearning { .. }
            | Self::BothServing { .. } => "single_principal",
            Self::NotPrefix { .. } => "log_prefix",
            Self::FailoverNotAllowed { .. } | Self::ForcedServiceNotAllowed { .. } => {
                "failover_allowed"
            }
            Self::AcknowledgedWithoutQuorum { .. } => "quorum_serving",
            Self::Lost { .. } => "acknowledged_durable",
        }
    }

    /// A one-line explanation for reports.
    pub fn describe(&self) -> String {
        match self {
            Self::SameRoleSequence {
                role_sequence,
                instances,
            } => format!(
                "{} and {} both began serving at role sequence {role_sequence}",
                name(instances[0]),
                name(instances[1])
            ),
            Self::StaleAcknowledgement {
                acked,
                newer,
                newer_role_sequence,
            } => format!(
                "{} acknowledged tx {} (lsn {}) at role sequence {} after {} began serving at \
                 role sequence {newer_role_sequence} without it",
                name(acked.by),
                acked.tx,
                acked.lsn,
                acked.role_sequence,
                name(*newer)
            ),
            Self::AcknowledgedAfterLearning { acked, learned } => format!(
                "{} acknowledged tx {} (lsn {}) at role sequence {} after it had been told of \
                 role sequence {learned}",
                name(acked.by),
                acked.tx,
                acked.lsn,
                acked.role_sequence
            ),
            Self::NotPrefix {
                mirror,
                mirror_log,
                principal_log,
            } => format!(
                "after its handshake the mirror {} holds {} which is not a prefix of the \
                 principal's {}",
                name(*mirror),
                show_log(mirror_log),
                show_log(principal_log)
            ),
            Self::FailoverNotAllowed { mirror, failed } => format!(
                "the witness granted {} an automatic failover although: {}",
                name(*mirror),
                failed.join("; ")
            ),
            Self::ForcedServiceNotAllowed { mirror, failed } => format!(
                "forced service was accepted on {} although: {}",
                name(*mirror),
                failed.join("; ")
            ),
            Self::BothServing { role_sequence } => {
                format!("alpha and beta both serve at role sequence {role_sequence}")
            }
            Self::Lost { acked, last } => format!(
                "tx {} acknowledged by {} at role sequence {} (lsn {}) is missing from the last \
                 principal {}'s log",
                acked.tx,
                name(acked.by),
                acked.role_sequence,
                acked.lsn,
                name(*last)
            ),
            Self::AcknowledgedWithoutQuorum { acked } => format!(
                "{} acknowledged tx {} (lsn {}) with both its connections declared lost",
                name(acked.by),
                acked.tx,
                acked.lsn
            ),
        }
    }
}

/// Renders log content as `[1:t1 2:t2]`.
pub fn show_log(log: &Log) -> String {
    let items: Vec<String> = log.iter().map(|(l, t)| format!("{l}:t{t}")).collect();
    format!("[{}]", items.join(" "))
}

/// What the properties are judged from: what happened, recorded as it happened. Never read by
/// the protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ghost {
    /// Every acknowledged commit, in order.
    pub acked: Vec<Acked>,
    /// Who began serving at which role sequence, with what log.
    pub served: Vec<Served>,
    /// Every forced service.
    pub forced: Vec<Forced>,
    /// Every completed role change.
    pub switches: Vec<RoleSwitch>,
    /// Per partner: the highest role sequence it was told of in a message it accepted but did
    /// not adopt (0 when it always adopted; a correct partner adopts before anything else).
    pub ignored_role: [u64; 2],
    /// The violations, in order: the first of each property ([`Ghost::violate`]).
    pub violations: Vec<Violation>,
}

impl Ghost {
    /// Records `violation` unless its property is already broken: the first counterexample of
    /// each property is the one reported, and a state that goes on after a violation (a mutant
    /// may break one property on its way to breaking another) does not grow a new ghost at
    /// every step, which would make every later state distinct and the search unbounded.
    pub fn violate(&mut self, violation: Violation) {
        let property = violation.property();
        if self.violations.iter().all(|v| v.property() != property) {
            self.violations.push(violation);
        }
    }
}

/// The budgets still available.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Budgets {
    /// The next transaction number; commits are allowed while it is at most the budget.
    pub next_tx: TxId,
    /// Crashes left.
    pub crashes: u8,
    /// Partitions left.
    pub partitions: u8,
    /// False suspicions left.
    pub suspicions: u8,
    /// Operator commands left.
    pub commands: u8,
}

/// One state of the model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionState {
    /// alpha and beta, the protocol's own state machines. Shared between states until a step
    /// changes one ([`SessionState::partner_mut`]): most steps touch one instance, and cloning
    /// and dropping whole state machines was most of the checker's time.
    pub partners: [Shared<Partner>; 2],
    /// gamma, when the mode has a witness (shared the same way, [`SessionState::witness_mut`]).
    pub witness: Option<Shared<Witness>>,
    /// Messages in flight per directed pair (see [`channel`]), oldest first; each queue shared
    /// between states until changed ([`SessionState::queue_mut`]).
    pub network: [Shared<Vec<Packet>>; 6],
    /// Per partner: the flushes asked for and not yet completed, (lsn, epoch), oldest first.
    pub flushes: [Vec<(Lsn, u32)>; 2],
    /// Per partner: the log content written (principal) or received (mirror); shared until
    /// changed ([`SessionState::log_mut`]).
    pub logs: [Shared<Log>; 2],
    /// Per partner: a `DrainRedo` is outstanding.
    pub redo_pending: [bool; 2],
    /// Per partner: the take-over timer is set.
    pub take_over_pending: [bool; 2],
    /// Per undirected link (see [`link`]): whether it is partitioned. A partitioned link holds
    /// its messages (TCP retransmits them) until it heals or the connection is declared lost.
    pub cut: [bool; 3],
    /// The budgets left.
    pub budgets: Budgets,
    /// Operator commands issued so far (their ids).
    pub commands_issued: u64,
    /// The ghost history (shared until changed, [`SessionState::ghost_mut`]).
    pub ghost: Shared<Ghost>,
}

impl SessionState {
    /// Whether an instance exists in this model and its process runs.
    pub fn is_running(&self, id: InstanceId) -> bool {
        match index(id) {
            i @ 0..=1 => self.partners[i].is_running(),
            _ => self.witness.as_ref().is_some_and(|w| w.is_running()),
        }
    }

    /// Whether `on` holds its connection to `peer` up.
    pub fn is_connected(&self, on: InstanceId, peer: InstanceId) -> bool {
        match index(on) {
            i @ 0..=1 => self.partners[i].is_connected(peer),
            _ => self.witness.as_ref().is_some_and(|w| w.is_connected(peer)),
        }
    }

    /// The partner that `id` names.
    pub fn partner(&self, id: InstanceId) -> &Partner {
        &self.partners[index(id)]
    }

    /// Partner `i` (0: alpha, 1: beta), to change: copied first if another state shares it.
    pub fn partner_mut(&mut self, i: usize) -> &mut Partner {
        self.partners[i].make_mut()
    }

    /// The witness, to change (copied first if shared); `None` in modes without one.
    pub fn witness_mut(&mut self) -> Option<&mut Witness> {
        self.witness.as_mut().map(Shared::make_mut)
    }

    /// The queue of directed pair `ch`, to change (copied first if shared).
    pub fn queue_mut(&mut self, ch: usize) -> &mut Vec<Packet> {
        self.network[ch].make_mut()
    }

    /// Partner `i`'s log content, to change (copied first if shared).
    pub fn log_mut(&mut self, i: usize) -> &mut Log {
        self.logs[i].make_mut()
    }

    /// The ghost history, to change (copied first if shared).
    pub fn ghost_mut(&mut self) -> &mut Ghost {
        self.ghost.make_mut()
    }

    /// Whether the link between `a` and `b` is partitioned.
    pub fn is_cut(&self, a: InstanceId, b: InstanceId) -> bool {
        self.cut[link(a, b)]
    }
}
