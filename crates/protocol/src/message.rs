//! Messages between the instances of a session. Each travels on one connection, identified by
//! a [`ConnId`]: a message that arrives on a connection that has been declared lost or replaced
//! is dropped (the TCP connection is gone; reference section 4).

use crate::types::{
    Fork, InstanceId, Lsn, Numbers, RoleChange, RoleView, SessionConfig, SyncState,
};

/// One mirroring connection between two instances. The instance with the lower id initiates
/// connections; the number comes from the initiator's durable counter, so it is never reused.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId {
    /// The instance that opened the connection.
    pub initiator: InstanceId,
    /// The initiator's counter.
    pub number: u32,
}

/// A message with its routing: who sent it, to whom, on which connection, and the sender's view
/// of the roles.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Envelope {
    /// The sender.
    pub from: InstanceId,
    /// The receiver.
    pub to: InstanceId,
    /// The connection it travels on.
    pub conn: ConnId,
    /// The sender's role sequence and principal (reference section 4: adopt higher, ignore lower).
    pub role: RoleView,
    /// What it says.
    pub body: Message,
}

/// What a partner tells its peers when a connection comes up, and whenever its roles change.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hello {
    /// The role changes the sender remembers, oldest first (at most
    /// [`crate::types::ROLE_HISTORY_MAX`]).
    pub role_history: Vec<RoleChange>,
    /// The session configuration, when the sender is the principal (it owns it).
    pub config: Option<SessionConfig>,
    /// The sender's end of log (a principal: all log written; a mirror: all log received).
    pub lsn_end: Lsn,
    /// The sender's writing incarnation: how many times it has (re)started writing the log as
    /// principal (a restart, a take-over) and the LSN it started at. Log a mirror received from
    /// an earlier incarnation past that LSN was never hardened by the principal and may differ
    /// from what it wrote since: the mirror discards it on the handshake.
    pub incarnation: (u64, Lsn),
}

/// The messages of the mirroring protocol.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Message {
    /// Opens a connection (initiator to acceptor).
    Connect,
    /// Accepts a connection (acceptor to initiator).
    Accept,
    /// Confirms the acceptance (initiator to acceptor), TCP's third leg of the handshake: the
    /// acceptor counts the connection as up only once it hears from the initiator on it.
    Confirm,
    /// A reset: the receiver's connection is gone (a hard error for the sender's peer).
    Reset,
    /// A ping; the peer replies with [`Message::Pong`].
    Ping,
    /// The reply to a ping. A witness adds whether its own connection to the principal is up,
    /// which is what forced service needs to know (reference section 5).
    Pong {
        /// From a witness: whether it sees the principal.
        witness_sees_principal: Option<bool>,
    },
    /// Roles, configuration and end of log, sent by a partner when a connection comes up.
    Hello(Hello),
    /// Mirror to principal, after the handshake: the mirror has discarded what it had to and is
    /// ready to receive log from `lsn_end` on. `lsn_hardened` is its hardened end.
    Ready {
        /// Where the principal resumes shipping.
        lsn_end: Lsn,
        /// The mirror's hardened end of log.
        lsn_hardened: Lsn,
    },
    /// Principal to mirror: the log in `[lsn_from, lsn_to)`. The driver carries the bytes.
    Log {
        /// First LSN of the range.
        lsn_from: Lsn,
        /// End of the range.
        lsn_to: Lsn,
    },
    /// Mirror to principal: log hardened up to this LSN.
    Hardened {
        /// The mirror's hardened end of log.
        lsn: Lsn,
    },
    /// Principal to mirror: the session is SYNCHRONIZED at these numbers (the switch LSN has been
    /// acknowledged; reference section 4).
    Synchronized {
        /// The numbers at which the mirror was told.
        numbers: Numbers,
    },
    /// Principal to mirror and witness: the configuration changed.
    Config(SessionConfig),
    /// Principal to witness: its synchronization state, numbered.
    Status {
        /// The report's number (the witness ignores older ones).
        report: u64,
        /// SYNCHRONIZED or UNSYNCHRONIZED.
        sync: SyncState,
        /// The numbers at which it is reported.
        numbers: Numbers,
    },
    /// Witness to principal: report `report` is durably recorded.
    StatusRecorded {
        /// The report's number.
        report: u64,
    },
    /// Witness to a partner, when their connection comes up: the witness's record.
    WitnessHello {
        /// The latest role change the witness recorded.
        last_change: Option<RoleChange>,
        /// The numbers the witness holds.
        numbers: Numbers,
        /// The session's configuration as the witness last recorded it from the principal (a
        /// principal resends its own when they differ: a TIMEOUT change made while the witness
        /// was away reaches it, reference section 4).
        config: SessionConfig,
        /// Whether the witness sees the principal.
        sees_principal: bool,
    },
    /// Witness to mirror: whether the witness's connection to the principal is up.
    WitnessView {
        /// Whether the witness sees the principal.
        sees_principal: bool,
    },
    /// Mirror to witness: may I take over? (reference section 5, automatic failover)
    FailoverRequest {
        /// The numbers the mirror holds.
        numbers: Numbers,
        /// The numbers at which the mirror was told SYNCHRONIZED.
        told_synchronized: Numbers,
        /// The mirror's hardened end of log: the failover LSN if granted.
        lsn_hardened: Lsn,
        /// The mirror's recovery fork.
        fork: Fork,
    },
    /// Witness to mirror: the failover is granted and durably recorded.
    FailoverGranted {
        /// The new role change.
        change: RoleChange,
        /// The numbers after the change.
        numbers: Numbers,
    },
    /// Witness to mirror: refused, with the rule that stopped it.
    FailoverDenied {
        /// Why.
        reason: FailoverDenial,
    },
    /// Mirror to witness: FORCE_SERVICE_ALLOW_DATA_LOSS was issued on me; may I take over?
    /// (reference section 5, forced service with a witness). Granted atomically, as an automatic
    /// failover is, with [`Message::FailoverGranted`] of kind `Forced`; refused with
    /// [`Message::ForceServiceDenied`].
    ForceServiceRequest {
        /// The numbers the mirror holds.
        numbers: Numbers,
        /// The mirror's hardened end of log: the fork LSN if granted.
        lsn_hardened: Lsn,
        /// The mirror's recovery fork (the new fork is the next one).
        fork: Fork,
    },
    /// Witness to mirror: forced service refused, with the rule that stopped it.
    ForceServiceDenied {
        /// Why.
        reason: FailoverDenial,
    },
    /// Mirror to principal: a command issued on the mirror that the principal applies.
    Forward(Forwarded),
    /// Principal to mirror: the forwarded command was applied (`applied`), or could not be
    /// (WITNESS OFF with neither the witness nor the mirror able to record it). The statement on
    /// the mirror completes with this answer.
    ForwardDone {
        /// The command answered (a WITNESS OFF is answered when recorded, so after a SUSPEND
        /// forwarded later may be).
        command: Forwarded,
        /// Whether the principal applied it.
        applied: bool,
    },
    /// Principal to witness (or, when the witness is unreachable, to the mirror): record that the
    /// witness is removed at this witness sequence.
    WitnessOff {
        /// The numbers after removal.
        numbers: Numbers,
    },
    /// The reply to [`Message::WitnessOff`]: durably recorded.
    WitnessOffRecorded {
        /// The witness sequence recorded.
        witness_sequence: u64,
    },
    /// Principal to witness: join this session (SET WITNESS).
    Join {
        /// The two partners.
        partners: [InstanceId; 2],
        /// The configuration with the new witness sequence.
        config: SessionConfig,
    },
    /// Witness to principal: the session is durably recorded.
    Joined {
        /// The witness sequence recorded.
        witness_sequence: u64,
    },
    /// Either partner to the others: the session is over (SET PARTNER OFF).
    PartnerOff,
    /// Principal to mirror: SET PARTNER FAILOVER was issued; harden the log up to
    /// `failover_lsn` and say so (reference section 5, manual failover: "M records that LSN as
    /// the failover LSN").
    FailoverPrepare {
        /// The principal's end of log when the statement was issued.
        failover_lsn: Lsn,
    },
    /// Mirror to principal: the log up to `failover_lsn` is hardened here, recorded as the
    /// failover LSN. Only on this answer does the principal become the mirror: a mirror already
    /// current but gone (powered off, cut off) would otherwise be handed a role it never heard
    /// of, and no one would serve until it came back.
    FailoverPrepared {
        /// The failover LSN the principal asked for.
        failover_lsn: Lsn,
    },
}

/// A command issued on the mirror and carried out by the principal (reference section 4).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Forwarded {
    /// SET PARTNER SUSPEND.
    Suspend,
    /// SET PARTNER RESUME.
    Resume,
    /// SET WITNESS OFF.
    WitnessOff,
}

/// Why a witness refused an automatic failover.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailoverDenial {
    /// The witness has no record of this session, or it was removed.
    NoSession,
    /// The witness still sees the principal.
    PrincipalConnected,
    /// The numbers differ from the witness's record.
    NumbersDiffer,
    /// The witness's record does not say SYNCHRONIZED at those numbers.
    NotSynchronized,
    /// The requester is not the session's mirror.
    NotTheMirror,
    /// The witness recorded SET WITNESS OFF for this session: it takes no part in its role
    /// changes any more (reference section 4). A mirror that never heard of the removal learns
    /// it here, and forces service as a session without a witness does.
    WitnessRemoved,
}
