//! What the state machines ask their driver to do: the outbox.

use crate::error::SqlError;
use crate::message::Envelope;
use crate::types::{
    FailoverKind, Fork, InstanceId, Lsn, MirroringState, Nanos, Role, ServeVia, StateChangeEvent,
    TxId,
};

/// A timer an instance asks for. The driver fires it with `handle_timer` after the delay (late or
/// early when the instance's clock drifts; the model checker fires timers in any order).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// The once-a-second ping tick (reference section 3).
    Ping,
    /// The fixed cost of taking over, after redo (reference section 5, 500 ms).
    TakeOver,
}

/// A command the driver numbers, so that its completion can be matched.
pub type CommandId = u64;

/// The id of a command an instance issues itself (a mirror that cannot write its log suspends
/// the session; a page repair suspends and resumes it); the operator's are numbered from 1.
pub const INTERNAL_COMMAND: CommandId = 0;

/// Why a principal stopped serving.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StopReason {
    /// A witness is set and neither connection may count for quorum: both were declared lost,
    /// or the peer at the other end showed that it holds no session.
    NoQuorum,
    /// It became the mirror (failover, or it learned of a newer role sequence).
    RoleChange,
    /// A manual failover started (PENDING_FAILOVER).
    PendingFailover,
    /// It must confirm its exposure with the witness before acknowledging more, or hear a
    /// connected peer's greeting (its quorum is within reach, not there yet).
    AwaitingWitness,
    /// The session ended and this copy is no longer online.
    SessionEnded,
}

impl StopReason {
    /// The lower-case name used in events.
    pub fn name(self) -> &'static str {
        match self {
            Self::NoQuorum => "no_quorum",
            Self::RoleChange => "role_change",
            Self::PendingFailover => "pending_failover",
            Self::AwaitingWitness => "awaiting_witness",
            Self::SessionEnded => "session_ended",
        }
    }
}

/// One effect, drained by the driver after every handler.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Output {
    /// Put this message on its connection.
    Send(Envelope),
    /// Fire `timer` after `after` nanoseconds (replacing an earlier setting of the same timer).
    SetTimer {
        /// Which timer.
        timer: Timer,
        /// The delay.
        after: Nanos,
    },
    /// Harden the local log up to `lsn`; answer with `handle_flushed(lsn, epoch)`.
    Flush {
        /// Up to where.
        lsn: Lsn,
        /// The log epoch; a completion of an older epoch is ignored (its log was discarded).
        epoch: u32,
    },
    /// Throw away the local log past `lsn` (reference section 4, "Reconnecting").
    Discard {
        /// Keep the log up to here.
        lsn: Lsn,
        /// The fork of the log that is kept.
        fork: Fork,
    },
    /// A new recovery fork starts at `lsn` (forced service).
    NewFork {
        /// The new fork.
        fork: Fork,
        /// The fork LSN.
        lsn: Lsn,
    },
    /// Redo everything hardened, then answer with `handle_redo_drained`.
    DrainRedo,
    /// This instance can now acknowledge commits.
    Serve {
        /// Why.
        via: ServeVia,
        /// At which role sequence.
        role_sequence: u64,
        /// Its hardened end of log.
        lsn_end: Lsn,
    },
    /// This instance can no longer acknowledge commits.
    StopServing {
        /// Why.
        reason: StopReason,
        /// At which role sequence it had served.
        role_sequence: u64,
    },
    /// Tell the client of `tx` that its commit is durable.
    Acknowledge {
        /// The transaction.
        tx: TxId,
        /// Its commit LSN.
        lsn: Lsn,
        /// The role sequence it was acknowledged at.
        role_sequence: u64,
    },
    /// The commit of `tx` failed; the client gets this error.
    FailCommit {
        /// The transaction.
        tx: TxId,
        /// The error.
        error: SqlError,
    },
    /// The session ended (SET PARTNER OFF) while the commit of `tx` waited for the mirror. The
    /// database goes on without mirroring, so the commit completes on the local flush: a commit
    /// record the principal hardens is never rolled back, and failing it would tell the client
    /// that a durable commit did not happen.
    CommitWithoutMirroring {
        /// The transaction.
        tx: TxId,
        /// Its commit LSN.
        lsn: Lsn,
    },
    /// `mirroring_state` changed.
    StateChanged {
        /// Before.
        old: MirroringState,
        /// After.
        new: MirroringState,
    },
    /// This instance took a role.
    RoleChanged {
        /// The role.
        role: Role,
        /// At which role sequence.
        role_sequence: u64,
    },
    /// A role change completed: the new principal is about to serve.
    Failover {
        /// How.
        kind: FailoverKind,
        /// The old principal.
        from: InstanceId,
        /// The new principal.
        to: InstanceId,
        /// The new role sequence.
        role_sequence: u64,
        /// The failover LSN (the fork LSN for forced service).
        failover_lsn: Lsn,
    },
    /// A state-change event of trace class 167.
    Event(StateChangeEvent),
    /// A command accepted earlier has finished.
    CommandCompleted {
        /// The command.
        id: CommandId,
        /// Its result.
        result: Result<(), SqlError>,
    },
    /// The session is over on this instance (SET PARTNER OFF, here or on the partner).
    SessionEnded,
}
