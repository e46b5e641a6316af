//! A partner of a mirroring session: the principal or the mirror of one database
//! (reference/mirroring.md sections 1 to 5). One state machine plays both roles, because a
//! failover turns one into the other.
//!
//! The handlers are small; the rules live in the helpers they call after every input
//! ([`Partner::settle`]): quorum, the exposure report to the witness, the switch LSN, serving,
//! the commit rule, the progress of pending commands, and the mirror's automatic-failover request.

use std::collections::VecDeque;

mod commands;

use crate::command::{commits_waiting_at_their_bound, SessionCommand, ERROR_DATABASE_UNAVAILABLE};

use crate::error::SqlError;
use crate::link::{LinkState, Links, Received};
use crate::message::{ConnId, Envelope, FailoverDenial, Forwarded, Hello, Message};
use crate::mutant::{Mutant, Mutants};
use crate::output::{CommandId, Output, StopReason, Timer};
use crate::types::*;

/// What a partner keeps on disk: it survives a crash or a power loss (reference section 4:
/// "Roles and sequence numbers are kept durably by the partners as well").
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartnerDurable {
    /// This instance.
    pub me: InstanceId,
    /// The other partner.
    pub partner: InstanceId,
    /// PRINCIPAL or MIRROR.
    pub role: Role,
    /// The session configuration (the principal's; a mirror keeps the last it was sent).
    pub config: SessionConfig,
    /// The role changes remembered, oldest first, at most [`ROLE_HISTORY_MAX`].
    pub role_history: Vec<RoleChange>,
    /// The recovery fork of the local log.
    pub fork: Fork,
    /// The role sequence at which the local log was last known to be a prefix of the
    /// principal's (a mirror's last completed handshake). Role changes after it may require a
    /// discard on the next handshake.
    pub synced_role_sequence: u64,
    /// A discard the mirror owes once the session resumes (after forced service the old
    /// principal stays SUSPENDED and discards only on RESUME; reference section 5).
    pub discard_pending: Option<Lsn>,
    /// The principal's status-report counter (the witness ignores older reports).
    pub report_counter: u64,
    /// This partner recorded WITNESS OFF for an unreachable witness: it takes no part in an
    /// automatic failover of this session any more (reference section 4).
    pub witness_excluded: bool,
    /// How many times this instance has started writing the log as principal (restarts and
    /// take-overs), and the lowest LSN from which its log may differ from what a mirror last
    /// in step with it holds: where the current incarnation started, or where the first of the
    /// incarnations since the mirror's last handshake did.
    pub incarnation: (u64, Lsn),
    /// A mirror: the principal and its incarnation at the last completed handshake.
    pub synced_incarnation: Option<(InstanceId, u64)>,
    /// A principal: whether the mirror has completed a handshake with the current incarnation.
    /// If not, the log written since the incarnation began may differ from what the mirror
    /// holds, and it is discarded should this instance rejoin as the mirror.
    pub incarnation_synced: bool,
    /// A mirror: the hardened ends it offered the witness as failover LSNs (its failover and
    /// forced-service requests, the latest [`FAILOVER_OFFERS_MAX`]), each with the lowest LSN
    /// past which it discarded its log since (rejoining a principal that restarted), until it
    /// takes over or learns of another role change. The witness may have granted an offer
    /// whose grant never arrived (lost with a crash); learnt later, its failover LSN is lowered
    /// to where the log was replaced, since past there the log is no longer what it was fixed
    /// on (found by `sim`: the old principal was cut back inside a log record).
    pub failover_offers: Vec<(Lsn, Option<Lsn>)>,
}

/// How many failover offers a mirror remembers ([`PartnerDurable::failover_offers`]).
pub const FAILOVER_OFFERS_MAX: usize = 4;

/// The principal's report of its exposure to the witness (reference section 4, "Running
/// exposed").
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exposure {
    /// No UNSYNCHRONIZED report is out at the current numbers on the current connection.
    Unreported,
    /// Report `n` (UNSYNCHRONIZED) is out, not yet confirmed.
    Reported(u64),
    /// The witness durably recorded report `n`: exposed commits may be acknowledged.
    Confirmed(u64),
}

/// What a peer's current connection has shown of its membership of the session.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Membership {
    /// Nothing yet (or no connection): its greeting may be on the way.
    Awaited,
    /// It greeted this instance, or sent any other session message: it holds the session.
    Member,
    /// It answered a ping before any greeting: it holds no session with this instance.
    NotMember,
}

/// A principal or mirror of one session.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Partner {
    durable: PartnerDurable,
    links: Links,
    running: bool,
    ended: bool,
    state: MirroringState,
    /// The state-change event last raised for SYNCHRONIZED (with or without witness), or None
    /// outside SYNCHRONIZED: a function of the state and the witness connection after every
    /// input, kept so that a change of the witness connection alone raises the event again.
    synchronized_event: Option<StateChangeEvent>,
    witness_state: WitnessState,
    /// A principal: all log written. A mirror: all log received.
    lsn_end: Lsn,
    lsn_hardened: Lsn,
    /// Bumped whenever log is discarded, so that a flush of discarded log is not counted.
    epoch: u32,
    serving: bool,
    /// The database is offline: a witness is set and both connections were declared lost.
    offline: bool,
    /// Taking over as principal: redo is draining (false) or the fixed cost is running (true).
    taking_over: Option<(FailoverKind, bool)>,
    /// How the next `Serve` came about: `Restart` from a (re)start until the first one, then
    /// `Resume`, except right after a take-over (its kind).
    next_via: ServeVia,
    /// A principal without a witness that restarted at this moment: it takes no commit until it
    /// has heard from its mirror (who may have forced service meanwhile: reference section 5,
    /// the old principal learns of it when it reconnects) or has found it unreachable (a
    /// refused connection at once, no answer within a ping interval). Serving at once made a
    /// split brain of every restart after a forced service, for the time of a round trip.
    awaiting_partner_since: Option<Nanos>,
    /// This principal was serving without its mirror when its process died (it had declared
    /// the mirror lost, and was not still waiting for it after a restart): on restart it serves
    /// at once, as before the crash. The mirror could force service all the while it was out
    /// of reach; waiting for it again cost a silent mirror's principal TIMEOUT of outage, where
    /// reference section 4 says of a lost mirror "P keeps serving".
    mirror_lost_at_crash: bool,
    // Principal.
    mirror_ready: bool,
    lsn_shipped: Lsn,
    lsn_sent: Lsn,
    lsn_mirror_hardened: Lsn,
    switch_lsn: Option<Lsn>,
    exposure: Exposure,
    /// What the partner's current connection showed of its membership of the session. Quorum
    /// is two of the *session's* instances with their connection up (reference section 4): a
    /// connection to an instance whose own PARTNER OFF ended the session there, while this
    /// principal was cut off, comes up but greets no one.
    partner_member: Membership,
    /// The same for the witness's connection. A witness that a PARTNER OFF on the mirror made
    /// drop its record accepts a principal's new connection and answers its pings, but sends
    /// no greeting. Counting that connection for quorum, a principal took commits that waited
    /// to the end for an exposure confirmation the witness would never send, where they fail
    /// with no quorum (found by an audit: 58,688 commits in flight at the end).
    witness_member: Membership,
    pending: VecDeque<(TxId, Lsn)>,
    manual_failover: Option<(CommandId, Lsn)>,
    set_partner: Option<PendingPartner>,
    set_witness: Option<PendingWitness>,
    witness_off: Option<PendingWitnessOff>,
    /// Mirror: the operator's command forwarded to the principal, waiting for its answer
    /// ([`Message::ForwardDone`]), with how many answers to the instance's own forwarded
    /// commands come before it.
    forwarded: Option<(CommandId, Forwarded, u8)>,
    /// Mirror: the instance's own forwarded commands not yet answered.
    internal_forwards: u8,
    /// SUSPEND (true) or RESUME (false) that arrived while this instance was taking over as
    /// principal: applied once it serves (see `apply_suspend`).
    suspend_after_take_over: Option<bool>,
    /// The mirror's forwarded SUSPENDs and RESUMEs held with it, in order: each answered once
    /// applied, so the mirror's statements complete only then, and fail (1456) if this
    /// instance goes down before it serves. (The mirror may forward its own SUSPEND, a damaged
    /// page, and the operator's: one answer for two left a statement unfinished.)
    forward_done_after_take_over: Vec<Forwarded>,
    /// SET PARTNER OFF arrived while this instance was taking over as principal: the session
    /// ends once it serves, so that the database comes online here (see `end_session`).
    /// `Some(true)`: issued here, so the peers are told then too.
    end_after_take_over: Option<bool>,
    /// The operator's SUSPEND, RESUME or SET PARTNER OFF held by the take-over: its statement
    /// completes when the command is applied.
    held_command: Option<CommandId>,
    // Mirror.
    /// FORCE_SERVICE_ALLOW_DATA_LOSS waiting for the witness's grant.
    forcing: Option<CommandId>,
    handshaken: bool,
    told_synchronized: Option<Numbers>,
    /// The witness's last word on whether it sees the principal. Until the witness has spoken
    /// on the current connection (after a restart, a new connection, a lost one) it is taken to
    /// see the principal: forced service is judged on this flag alone (reference section 5:
    /// 1406 while W still sees P), so not knowing must refuse, not allow.
    witness_sees_principal: bool,
    failover_requested: bool,
    /// The failover LSN of a manual failover the principal asked for, not yet hardened here
    /// (answered with [`Message::FailoverPrepared`] once it is).
    failover_prepare: Option<Lsn>,
    /// The principal's incarnation seen in its last Hello, recorded once the handshake is done.
    pending_incarnation: Option<(InstanceId, u64)>,
    /// A mirror: its principal's Hello came on the current connection at the current role
    /// sequence. A handshake held by SUSPENDED is finished by RESUME only then.
    greeted: bool,
    mutants: Mutants,
    out: Vec<Output>,
}

/// The principal's SET PARTNER in progress (reference section 7): it completes once the mirror
/// has hardened the log that existed when it was issued, and fails with 1418 when the mirror is
/// lost first.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct PendingPartner {
    id: CommandId,
    lsn_needed: Lsn,
    issued: Nanos,
}

/// A SET WITNESS in progress.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct PendingWitness {
    id: CommandId,
    witness: InstanceId,
    lsn_needed: Lsn,
    /// When the witness was first asked for: the statement's issue, or for a replacement the
    /// moment the old witness was removed (the deadline for a silent failure counts from here).
    issued: Nanos,
    joined_sent: bool,
    /// The statement replaces a witness, which has been removed already: if this half fails,
    /// the session is left without a witness, as after WITNESS OFF.
    replacing: bool,
}

/// The new witness a SET WITNESS that replaces one will ask for once the old witness's removal
/// has been recorded (the WITNESS OFF half of the statement).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Replacement {
    witness: InstanceId,
    /// The end of log when the statement was issued: the mirror must harden it (1426).
    lsn_needed: Lsn,
}

/// WITNESS OFF on its way to whoever records it (reference section 4).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct PendingWitnessOff {
    /// The operator's command (`None`: forwarded by the mirror, or the principal's own).
    id: Option<CommandId>,
    /// Forwarded by the mirror, whose statement waits for the answer ([`Message::ForwardDone`])
    /// once it is recorded, or cannot be.
    for_mirror: bool,
    /// The numbers with the witness sequence bumped.
    numbers: Numbers,
    /// The witness, or the mirror when the witness could not be reached.
    recorder: InstanceId,
    /// The connection it was sent on: if that one is lost, it is asked again.
    conn: Option<ConnId>,
    /// Set when this is the first half of a SET WITNESS that replaces the witness: once it is
    /// recorded, the new witness is asked for under the same command.
    replacement: Option<Replacement>,
}

impl Partner {
    /// The mirror side of `SET PARTNER` (reference section 7): a RESTORING copy hardened up to
    /// `lsn_hardened` in `fork`, waiting to be contacted by `principal`.
    pub fn new_mirror(
        me: InstanceId,
        principal: InstanceId,
        lsn_hardened: Lsn,
        fork: Fork,
    ) -> Self {
        let mut partner = Self::blank(me, principal, Role::Mirror, lsn_hardened, fork);
        partner.tick_now();
        partner.invariants();
        partner
    }

    /// The principal side of `SET PARTNER`, issued at `now`: the session starts (SYNCHRONIZING
    /// once the mirror answers). `lsn_end` is all log written, `lsn_hardened` all log flushed.
    /// The command `id` completes once the mirror has hardened the log that existed now, and
    /// fails with 1418 if the mirror is lost first (reference section 7).
    pub fn new_principal(
        me: InstanceId,
        mirror: InstanceId,
        lsn_end: Lsn,
        lsn_hardened: Lsn,
        fork: Fork,
        id: CommandId,
        now: Nanos,
    ) -> Self {
        let mut partner = Self::blank(me, mirror, Role::Principal, lsn_hardened, fork);
        partner.lsn_end = lsn_end;
        partner.serving = true; // the database was online and serving before the session
        partner.next_via = ServeVia::Resume; // it serves already: a later Serve restarts nothing
        partner.set_partner = Some(PendingPartner {
            id,
            lsn_needed: lsn_end,
            issued: now,
        });
        partner.tick_now();
        partner.invariants();
        partner
    }

    /// What the principal of a new session knows of its mirror before their first handshake:
    /// its copy was restored up to `lsn` (reference section 7). The send queue counts from
    /// there, not from the start of the log (the restores carried the rest).
    pub fn note_mirror_restored_to(&mut self, lsn: Lsn) {
        if self.durable.role == Role::Principal && !self.mirror_ready {
            self.lsn_mirror_hardened = lsn.min(self.lsn_hardened);
        }
        self.invariants();
    }

    fn blank(
        me: InstanceId,
        partner: InstanceId,
        role: Role,
        lsn_hardened: Lsn,
        fork: Fork,
    ) -> Self {
        let mut links = Links::new(me);
        links.add_peer(partner, me < partner);
        Self {
            durable: PartnerDurable {
                me,
                partner,
                role,
                config: SessionConfig::new(),
                role_history: Vec::new(),
                fork,
                synced_role_sequence: 0,
                discard_pending: None,
                report_counter: 0,
                witness_excluded: false,
                incarnation: (0, lsn_hardened),
                synced_incarnation: None,
                incarnation_synced: true,
                failover_offers: Vec::new(),
            },
            links,
            running: true,
            ended: false,
            state: MirroringState::Disconnected,
            synchronized_event: None,
            witness_state: WitnessState::Unknown,
            lsn_end: lsn_hardened,
            lsn_hardened,
            epoch: 0,
            serving: false,
            offline: false,
            taking_over: None,
            next_via: ServeVia::Restart,
            awaiting_partner_since: None,
            mirror_lost_at_crash: false,
            mirror_ready: false,
            lsn_shipped: lsn_hardened,
            lsn_sent: lsn_hardened,
            lsn_mirror_hardened: 0,
            switch_lsn: None,
            exposure: Exposure::Unreported,
            partner_member: Membership::Awaited,
            witness_member: Membership::Awaited,
            pending: VecDeque::new(),
            manual_failover: None,
            set_partner: None,
            set_witness: None,
            witness_off: None,
            forwarded: None,
            internal_forwards: 0,
            suspend_after_take_over: None,
            forward_done_after_take_over: Vec::new(),
            end_after_take_over: None,
            held_command: None,
            forcing: None,
            handshaken: false,
            told_synchronized: None,
            witness_sees_principal: true, // unknown until the witness speaks
            failover_requested: false,
            failover_prepare: None,
            pending_incarnation: None,
            greeted: false,
            mutants: Mutants::default(),
            out: Vec::new(),
        }
    }

    /// The first tick comes at once, so that a new session (or a restarted instance) connects
    /// without waiting a ping interval.
    pub(crate) fn tick_now(&mut self) {
        self.out.push(Output::SetTimer {
            timer: Timer::Ping,
            after: 0,
        });
    }

    fn start_ticking(&mut self) {
        self.out.push(Output::SetTimer {
            timer: Timer::Ping,
            after: PING_INTERVAL,
        });
    }

    // ----------------------------------------------------------------------------------------
    // Observers (what sys.database_mirroring shows, and what the checkers look at).

    /// This instance.
    pub fn me(&self) -> InstanceId {
        self.durable.me
    }
    /// The other partner.
    pub fn partner(&self) -> InstanceId {
        self.durable.partner
    }
    /// PRINCIPAL or MIRROR.
    pub fn role(&self) -> Role {
        self.durable.role
    }
    /// `mirroring_state`.
    pub fn state(&self) -> MirroringState {
        self.state
    }
    /// The witness's state as this partner sees it. A connection on which the witness has not
    /// yet shown that it holds the session (its greeting is on the way, or it dropped its
    /// record) is no witness connected: it does not count for quorum either.
    pub fn witness_state(&self) -> WitnessState {
        match self.witness_state {
            WitnessState::Connected if self.witness_member != Membership::Member => {
                WitnessState::Disconnected
            }
            state => state,
        }
    }
    /// The session configuration this partner holds.
    pub fn config(&self) -> SessionConfig {
        self.durable.config
    }
    /// `mirroring_role_sequence`.
    pub fn role_sequence(&self) -> u64 {
        self.durable.config.numbers.role
    }
    /// The durable part (what survives a crash).
    pub fn durable(&self) -> &PartnerDurable {
        &self.durable
    }
    /// The connections.
    pub fn links(&self) -> &Links {
        &self.links
    }
    /// All log written (principal) or received (mirror).
    pub fn lsn_end(&self) -> Lsn {
        self.lsn_end
    }
    /// The hardened end of the local log.
    pub fn lsn_hardened(&self) -> Lsn {
        self.lsn_hardened
    }
    /// The current log epoch (see [`Output::Flush`]).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }
    /// Sets the log epoch to `epoch` (model checking). The epoch is only compared, for
    /// equality, with the epoch a flush completion carries, so a model with no flush of an
    /// older epoch outstanding may renumber it: the partner cannot tell.
    pub fn renumber_epoch(&mut self, epoch: u32) {
        self.epoch = epoch;
    }
    /// The principal's knowledge of the mirror's hardened end.
    pub fn lsn_mirror_hardened(&self) -> Lsn {
        self.lsn_mirror_hardened
    }
    /// The principal's log not yet sent to the mirror (the send queue), in bytes; 0 on a mirror.
    ///
    /// Counted in every state: while the session is SUSPENDED or DISCONNECTED the log still waits
    /// to be sent (reference section 6, "Send queue = log on the principal not yet sent"), and
    /// `sp_dbmmonitorresults` shows it growing as `unsent_log`. Without a mirror connection, what
    /// was put on the wire before the connection was lost may never have arrived: the queue
    /// then starts where the mirror is known to have hardened (or where this role sequence
    /// began), where sending resumes once the mirror reconnects.
    pub fn send_queue_bytes(&self) -> u64 {
        if self.durable.role != Role::Principal {
            return 0;
        }
        let sent = if self.mirror_ready {
            self.lsn_sent
        } else {
            self.lsn_mirror_hardened
                .max(self.failover_lsn())
                .min(self.lsn_sent)
        };
        self.lsn_end.saturating_sub(sent)
    }
    /// Whether this instance holds the principal role but is still taking over (redo
    /// draining, the fixed cost running): it neither serves nor takes commits yet.
    pub fn is_taking_over(&self) -> bool {
        self.taking_over.is_some()
    }

    /// How the role change this instance is taking over by came about, while it takes over.
    pub fn take_over_kind(&self) -> Option<FailoverKind> {
        self.taking_over.map(|(kind, _)| kind)
    }

    /// Whether the mirror has asked the witness for an automatic failover and awaits the answer
    /// (the next ping tick retries an unanswered request).
    pub fn failover_requested(&self) -> bool {
        self.failover_requested
    }
    /// The switch LSN, once fixed (reference section 4).
    pub fn switch_lsn(&self) -> Option<Lsn> {
        self.switch_lsn
    }
    /// Whether this instance may acknowledge commits now.
    pub fn is_serving(&self) -> bool {
        self.serving
    }
    /// Whether the process runs (false between a crash and a restart).
    pub fn is_running(&self) -> bool {
        self.running
    }
    /// Whether the session ended here (SET PARTNER OFF).
    pub fn is_ended(&self) -> bool {
        self.ended
    }
    /// The numbers at which a mirror was told SYNCHRONIZED.
    pub fn told_synchronized(&self) -> Option<Numbers> {
        self.told_synchronized
    }
    /// The principal's exposure report.
    pub fn exposure(&self) -> Exposure {
        self.exposure
    }
    /// The failover LSN of the latest role change (`mirroring_failover_lsn`).
    pub fn failover_lsn(&self) -> Lsn {
        self.durable
            .role_history
            .last()
            .map_or(0, |c| c.failover_lsn)
    }
    /// Commits waiting for acknowledgement.
    pub fn pending_commits(&self) -> usize {
        self.pending.len()
    }
    /// Whether the connection to `peer` is up.
    pub fn is_connected(&self, peer: InstanceId) -> bool {
        self.links.is_up(peer)
    }
    /// Whether a new transaction can commit here (principal, online, not failing over).
    pub fn accepts_commits(&self) -> bool {
        self.running
            && !self.ended
            && self.durable.role == Role::Principal
            && self.taking_over.is_none()
            && self.state != MirroringState::PendingFailover
            && self.quorum_in_reach()
            && self.awaiting_partner_since.is_none()
    }

    /// Numbers this instance's next connections from `counter` on, where an earlier session on
    /// this instance left off: connection numbers are durable per instance (a peer that kept
    /// the old session's connection state, a witness that never heard of its end, refuses a
    /// connection numbered below the one it lost as a stale, delayed request).
    pub fn continue_connection_numbers(&mut self, counter: u32) {
        self.links.counter = self.links.counter.max(counter);
    }

    /// Switches a deliberate bug on (only in builds with the `mutants` feature).
    pub fn set_mutant(&mut self, mutant: Option<Mutant>) {
        self.mutants.set(mutant);
    }

    /// Whether the handlers have produced effects that [`Partner::drain_outputs`] has not yet
    /// taken.
    #[inline]
    pub fn has_outputs(&self) -> bool {
        !self.out.is_empty()
    }

    /// Moves every effect of the handlers since the last call into `into`, in order, keeping the
    /// outbox's capacity (no allocation per handler in a driver's steady state).
    #[inline]
    pub fn drain_outputs(&mut self, into: &mut Vec<Output>) {
        if self.out.is_empty() {
            return;
        }
        if into.is_empty() {
            // The usual case: hand the outbox over whole (the two buffers trade places, each
            // keeping its capacity) instead of moving the outputs one by one.
            std::mem::swap(into, &mut self.out);
        } else {
            into.append(&mut self.out);
        }
    }

    /// Drains the outbox: every effect of the handlers since the last call, in order.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    // ----------------------------------------------------------------------------------------
    // Inputs.

    /// A message arrived.
    pub fn handle_message(&mut self, now: Nanos, env: Envelope) {
        if !self.running || self.ended {
            return;
        }
        let from = env.from;
        let view = env.role;
        let pong = Message::Pong {
            witness_sees_principal: None,
        };
        match self
            .links
            .receive(now, env, self.role_view(), pong, &mut self.out)
        {
            Received::Nothing => {}
            Received::Established {
                peer,
                replaced,
                then,
            } => {
                if replaced {
                    self.on_link_lost(peer);
                }
                if peer == self.durable.partner {
                    // Not from the witness's handshake: its view may be a record of an older
                    // witness sequence, and its greeting that follows shows which.
                    self.adopt_from_handshake(view);
                }
                self.on_link_up(peer);
                if let Some(body) = then {
                    self.on_body(now, from, view, body);
                }
            }
            Received::Lost { peer } => self.on_link_lost(peer),
            Received::Refused { peer } => self.on_connection_refused(peer),
            Received::Deliver(body) => self.on_body(now, from, view, body),
        }
        self.settle(now);
    }

    /// A timer fired.
    pub fn handle_timer(&mut self, now: Nanos, timer: Timer) {
        if !self.running || self.ended {
            return;
        }
        match timer {
            Timer::Ping => {
                let timeout = self.durable.config.timeout();
                let lost = self
                    .links
                    .tick(now, timeout, self.role_view(), &mut self.out);
                // One event 10 when a tick declares the principal and the witness lost
                // together: each loss noted apart raised it twice.
                for &peer in &lost {
                    self.on_peer_lost(peer);
                }
                if !lost.is_empty() {
                    self.note_mirror_without_quorum();
                }
                self.note_witness_never_reached(now, timeout);
                if self
                    .awaiting_partner_since
                    .is_some_and(|since| now.saturating_sub(since) >= PING_INTERVAL)
                {
                    // The mirror did not answer within a ping interval (reference section 3: a
                    // connection is up while replies keep arriving, and pings go once a
                    // second): serve exposed. Waiting TIMEOUT for a mirror that went silent
                    // while this instance was down cost 11 s of outage more.
                    self.awaiting_partner_since = None;
                }
                self.start_ticking();
                self.failover_requested = false; // a request unanswered for a second is retried
                self.check_set_partner_deadline(now);
                self.check_set_witness_deadline(now);
            }
            Timer::TakeOver => {
                if let Some((kind, true)) = self.taking_over {
                    self.finish_take_over(kind);
                    self.settle(now);
                    self.apply_commands_held_by_take_over(now);
                    return;
                }
            }
        }
        self.settle(now);
    }

    /// Applies what the operator asked while this instance was taking over (held so that the
    /// role change completes first): SUSPEND or RESUME, then SET PARTNER OFF.
    fn apply_commands_held_by_take_over(&mut self, now: Nanos) {
        if let Some(suspend) = self.suspend_after_take_over.take() {
            self.apply_suspend(suspend);
            self.settle(now);
        }
        for command in std::mem::take(&mut self.forward_done_after_take_over) {
            let applied = true;
            self.send(
                self.durable.partner,
                Message::ForwardDone { command, applied },
            );
        }
        self.end_held_session();
        self.complete_held_command(Ok(()));
    }

    /// Ends the session if SET PARTNER OFF was held by the take-over, telling the peers when it
    /// was the operator's here (`Some(true)`) rather than a peer's message.
    fn end_held_session(&mut self) -> bool {
        let Some(tell_peers) = self.end_after_take_over.take() else {
            return false;
        };
        if tell_peers {
            self.send_partner_off();
        }
        self.end_session();
        true
    }

    /// The driver noticed a broken connection (a hard error at once; in the model checker, a
    /// connection declared lost at any time, even falsely).
    pub fn handle_connection_lost(&mut self, now: Nanos, peer: InstanceId, kind: ErrorKind) {
        if !self.running || self.ended {
            return;
        }
        // A connection being opened, from either side, or this restarted side's request that
        // the peer open one (`Links::ask_initiators_to_connect`): the peer's process is down
        // (its host reset the connection), as a connect request answered by a reset says. A
        // principal's SET PARTNER failed with 1418 only at its deadline, 11 s later, when the
        // mirror was the side opening the connection; a restarted principal without a witness
        // served a ping interval late, when its crashed mirror was (audit AW).
        let connecting = self.links.link(peer).is_some_and(|l| match l.state {
            LinkState::Connecting(_) | LinkState::Accepted(_) => true,
            LinkState::Down => !l.initiator,
            LinkState::Up(_) => false,
        });
        if self.links.connection_lost(peer, kind) {
            self.on_link_lost(peer);
        } else if connecting && kind == ErrorKind::Hard {
            self.on_connection_refused(peer);
        }
        self.settle(now);
    }

    /// The local log is hardened up to `lsn` (the answer to [`Output::Flush`]).
    pub fn handle_flushed(&mut self, now: Nanos, lsn: Lsn, epoch: u32) {
        if !self.running || self.ended || epoch != self.epoch {
            return;
        }
        let lsn = lsn.min(self.lsn_end);
        if lsn <= self.lsn_hardened {
            return;
        }
        self.lsn_hardened = lsn;
        if self.durable.role == Role::Mirror && self.handshaken {
            let body = Message::Hardened { lsn };
            let view = self.role_view();
            self.links
                .send(&mut self.out, view, self.durable.partner, body);
            self.answer_failover_prepare();
        }
        self.settle(now);
    }

    /// Mirror: tells the principal that the failover LSN of its manual failover is hardened
    /// here, once it is (reference section 5).
    fn answer_failover_prepare(&mut self) {
        if let Some(failover_lsn) = self.failover_prepare.filter(|&l| self.lsn_hardened >= l) {
            self.failover_prepare = None;
            self.send(
                self.durable.partner,
                Message::FailoverPrepared { failover_lsn },
            );
        }
    }

    /// The driver put the principal's log up to `lsn` on the wire to the mirror.
    pub fn handle_log_sent(&mut self, now: Nanos, lsn: Lsn) {
        if !self.running || self.ended || self.durable.role != Role::Principal {
            return;
        }
        self.lsn_sent = self.lsn_sent.max(lsn.min(self.lsn_shipped));
        // Only the switch LSN of a SYNCHRONIZING session reads the send queue (reference section
        // 4); elsewhere nothing else changed since the last handler settled. This runs once per
        // log block, so the rest of settling is skipped then (the invariants still run).
        if self.state == MirroringState::Synchronizing {
            self.settle(now);
        } else {
            self.invariants();
        }
    }

    /// Redo has caught up with the hardened log (the answer to [`Output::DrainRedo`]).
    pub fn handle_redo_drained(&mut self, now: Nanos) {
        if let Some((kind, false)) = self.taking_over {
            self.taking_over = Some((kind, true));
            self.out.push(Output::SetTimer {
                timer: Timer::TakeOver,
                after: FAILOVER_COST,
            });
        }
        self.settle(now);
    }

    /// Whether as many commits wait for the mirror as this principal keeps: the next is
    /// refused (error 701). A driver asks before it writes the commit's log, so that a refused
    /// commit leaves no record behind.
    pub fn commit_queue_full(&self) -> bool {
        self.pending.len() >= PENDING_COMMITS_MAX
    }

    /// A client commits `tx`, whose commit record ends at `lsn` (already appended by the driver).
    /// The commit is acknowledged later by [`Output::Acknowledge`] or fails by
    /// [`Output::FailCommit`]; it is refused at once when this instance cannot take commits.
    pub fn handle_commit(&mut self, now: Nanos, tx: TxId, lsn: Lsn) -> Result<(), SqlError> {
        if !self.accepts_commits() {
            return Err(SqlError::new(
                ERROR_DATABASE_UNAVAILABLE,
                "the database is not available: this instance is not a serving principal",
            ));
        }
        if self.commit_queue_full() {
            return Err(commits_waiting_at_their_bound("the mirror"));
        }
        assert!(
            lsn > self.lsn_end
                || (lsn == self.lsn_end && self.pending.back().is_none_or(|&(_, l)| l < lsn)),
            "commits arrive in LSN order"
        );
        self.lsn_end = lsn;
        self.pending.push_back((tx, lsn));
        self.out.push(Output::Flush {
            lsn,
            epoch: self.epoch,
        });
        self.ship();
        self.settle(now);
        Ok(())
    }

    /// The process dies (crash or power loss): everything but the durable part is gone. The
    /// driver fails the commits that were waiting.
    pub fn crash(&mut self) {
        self.mirror_lost_at_crash = self.durable.role == Role::Principal
            && self.awaiting_partner_since.is_none()
            && !self.links.is_up(self.durable.partner);
        self.running = false;
        self.serving = false;
        self.links.reset_all();
        self.partner_member = Membership::Awaited;
        self.witness_member = Membership::Awaited;
        self.pending.clear();
        self.taking_over = None;
        self.out.clear();
    }

    /// The process restarts with its log recovered up to `lsn_hardened`; it rejoins with its
    /// last role (reference section 4).
    pub fn restart(&mut self, now: Nanos, lsn_hardened: Lsn) {
        assert!(!self.running, "restart of a running instance");
        if self.ended {
            // SET PARTNER OFF removed the session from the database's metadata: a restart does
            // not bring it back (found by `sim sweep --swarm`: a mirror that crashed after
            // PARTNER OFF came back DISCONNECTED, holding the old session).
            // What the partner still says of the session is never shown (the driver asks
            // `is_ended` first); DISCONNECTED keeps it consistent with the connections the
            // crash reset, without telling anyone.
            self.running = true;
            self.state = MirroringState::Disconnected;
            self.synchronized_event = None;
            self.invariants();
            return;
        }
        // How far the mirror was known to have hardened survives the restart (SQL Server keeps
        // it with the database, as mirroring_failover_lsn): the send queue the principal reports
        // before it reconnects counts from there, not from the start of the log.
        let lsn_mirror_hardened = self.lsn_mirror_hardened.min(lsn_hardened);
        let mirror_lost_at_crash = self.mirror_lost_at_crash;
        let durable = self.durable.clone();
        let links = self.links.clone();
        let epoch = self.epoch.wrapping_add(1);
        *self = Self::blank(
            durable.me,
            durable.partner,
            durable.role,
            lsn_hardened,
            durable.fork,
        );
        self.durable = durable;
        self.links = links;
        self.epoch = epoch;
        self.lsn_mirror_hardened = lsn_mirror_hardened;
        if self.durable.role == Role::Principal {
            // Recovery: the log is written on from the hardened end, as a new incarnation. If
            // the mirror never handshook with the last one, the log may differ from the
            // mirror's already from where that one started: the mirror may hold blocks of an
            // earlier incarnation past it, which a second restart must not hide (found by an
            // audit: the mirror kept them, and its log was no prefix of the principal's).
            let start = if self.durable.incarnation_synced {
                lsn_hardened
            } else {
                self.durable.incarnation.1.min(lsn_hardened)
            };
            self.durable.incarnation = (self.durable.incarnation.0 + 1, start);
            self.durable.incarnation_synced = false;
        }
        if let Some(w) = self.durable.config.witness {
            self.links.add_peer(w, true);
            self.links.count_silence_from(w, now);
        }
        self.state = if self.durable.config.suspended {
            MirroringState::Suspended
        } else {
            MirroringState::Disconnected
        };
        if self.durable.role == Role::Principal && self.witness().is_none() && !mirror_lost_at_crash
        {
            self.awaiting_partner_since = Some(now);
        }
        // The partner with the lower id opens their connection: asked, it does so now, as this
        // instance opens its own connections at its first tick, now.
        let view = self.role_view();
        self.links.ask_initiators_to_connect(view, &mut self.out);
        self.tick_now();
        self.settle(now);
    }

    /// A session command issued on this instance (reference sections 5 and 7). `Err` means it
    /// was refused and nothing changed; `Ok` means it was accepted and
    /// [`Output::CommandCompleted`] follows (possibly at once).
    pub fn handle_command(
        &mut self,
        now: Nanos,
        id: CommandId,
        command: SessionCommand,
    ) -> Result<(), SqlError> {
        if !self.running || self.ended {
            return Err(SqlError::new(
                1416,
                "the database is not configured for database mirroring",
            ));
        }
        let result = self.command(now, id, command);
        self.settle(now);
        result
    }

    // ----------------------------------------------------------------------------------------
    // Roles and links.

    fn role_view(&self) -> RoleView {
        RoleView {
            role_sequence: self.role_sequence(),
            principal: Some(self.principal_id()),
        }
    }

    fn principal_id(&self) -> InstanceId {
        match self.durable.role {
            Role::Principal => self.durable.me,
            Role::Mirror => self.durable.partner,
        }
    }

    fn witness(&self) -> Option<InstanceId> {
        self.durable.config.witness
    }

    fn is_witness(&self, peer: InstanceId) -> bool {
        self.witness() == Some(peer) || self.set_witness.is_some_and(|p| p.witness == peer)
    }

    fn send(&mut self, peer: InstanceId, body: Message) {
        let view = self.role_view();
        self.links.send(&mut self.out, view, peer, body);
    }

    fn send_to_witness(&mut self, body: Message) {
        if let Some(w) = self.witness() {
            self.send(w, body);
        }
    }

    fn set_state(&mut self, new: MirroringState) {
        let old = self.state;
        if old == new {
            return;
        }
        assert!(
            new != MirroringState::PendingFailover || self.durable.role == Role::Principal,
            "PENDING_FAILOVER is shown on the principal only"
        );
        self.state = new;
        self.out.push(Output::StateChanged { old, new });
        let event = self.state_event(new);
        if let Some(event) = event {
            self.out.push(Output::Event(event));
        }
        self.synchronized_event = event.filter(|_| new == MirroringState::Synchronized);
        if old == MirroringState::Synchronized
            && matches!(
                new,
                MirroringState::Suspended | MirroringState::Synchronizing
            )
            && self.serving
            && self.durable.config.safety == Safety::Full
            && self.witness().is_none()
        {
            // Reference section 4: SUSPENDED and SYNCHRONIZING leave the principal exposed.
            // Without a witness nothing confirms it, so the event comes as the exposure starts
            // (a lost mirror's comes from `on_partner_lost`; with a witness, at confirmation).
            self.out
                .push(Output::Event(StateChangeEvent::PrincipalRunningExposed));
        }
    }

    fn state_event(&self, new: MirroringState) -> Option<StateChangeEvent> {
        use StateChangeEvent as E;
        // "Without witness" also covers a witness that is set but not connected, or connected
        // without having shown it holds the session (as `witness_state` shows it): that is how
        // a DBA's alert learns the session lost its witness (reference section 2, events 1-4).
        let with_witness = self.witness().is_some_and(|w| self.member_connected(w));
        Some(match (new, self.durable.role) {
            (MirroringState::Synchronized, Role::Principal) if with_witness => {
                E::SynchronizedPrincipalWithWitness
            }
            (MirroringState::Synchronized, Role::Principal) => {
                E::SynchronizedPrincipalWithoutWitness
            }
            (MirroringState::Synchronized, Role::Mirror) if with_witness => {
                E::SynchronizedMirrorWithWitness
            }
            (MirroringState::Synchronized, Role::Mirror) => E::SynchronizedMirrorWithoutWitness,
            (MirroringState::Suspended, _) => E::Suspended,
            (MirroringState::Synchronizing, Role::Mirror) => E::SynchronizingMirror,
            _ => return None,
        })
    }

    fn on_link_up(&mut self, peer: InstanceId) {
        if peer == self.durable.partner {
            self.send_hello();
        } else if self.is_witness(peer) {
            self.witness_state = WitnessState::Connected;
            self.exposure = Exposure::Unreported;
            self.failover_requested = false;
            self.witness_sees_principal = true; // unknown until its WitnessHello arrives
        }
    }

    fn send_hello(&mut self) {
        let hello = self.hello();
        self.send(self.durable.partner, hello);
    }

    /// The handshake message: this partner's role history, configuration (a principal's) and
    /// end of log.
    pub(super) fn hello(&self) -> Message {
        Message::Hello(Hello {
            role_history: self.durable.role_history.clone(),
            config: (self.durable.role == Role::Principal).then_some(self.durable.config),
            lsn_end: self.lsn_end,
            incarnation: self.durable.incarnation,
        })
    }

    fn on_link_lost(&mut self, peer: InstanceId) {
        self.on_peer_lost(peer);
        self.note_mirror_without_quorum();
    }

    /// Reference section 2, event 10 ("no quorum"), on a mirror: with a witness set, it has now
    /// lost both the principal and the witness. Only this instance's view (it cannot fail over,
    /// and cannot tell a lost principal from a cut link); the principal's own comes from
    /// `update_quorum`. The event was raised by principals only.
    fn note_mirror_without_quorum(&mut self) {
        let isolated = self.durable.role == Role::Mirror
            && !self.ended
            && !self.links.is_up(self.durable.partner)
            && self.witness().is_some_and(|w| !self.links.is_up(w));
        if isolated {
            self.out.push(Output::Event(StateChangeEvent::NoQuorum));
        }
    }

    /// A witness not reached since this partner restarted or learnt of it shows as
    /// DISCONNECTED once it has been silent for TIMEOUT, as a connection declared lost does
    /// (reference section 3: "declared lost at the first ping tick at which the last reply is
    /// older than TIMEOUT"). It stayed UNKNOWN for good, while the partner that had not
    /// restarted showed it DISCONNECTED (audit AD). In the model checker, whose clock stands
    /// still, the witness stays UNKNOWN until it is reached.
    fn note_witness_never_reached(&mut self, now: Nanos, timeout: Nanos) {
        if self.witness_state != WitnessState::Unknown {
            return;
        }
        let silent = self
            .witness()
            .and_then(|w| self.links.link(w))
            .is_some_and(|l| !l.is_up() && now.saturating_sub(l.last_reply) > timeout);
        if silent {
            self.witness_state = WitnessState::Disconnected;
        }
    }

    fn on_peer_lost(&mut self, peer: InstanceId) {
        if peer == self.durable.partner {
            self.on_partner_lost();
        } else if self.is_witness(peer) {
            self.witness_state = WitnessState::Disconnected;
            self.witness_member = Membership::Awaited;
            // A confirmed exposure stands: the witness has durably recorded UNSYNCHRONIZED at
            // the current numbers, which losing the connection does not change, and the
            // principal keeps quorum with its mirror (reference section 4: confirmed once per
            // exposed period and after every reconnection). A SAFETY OFF principal stopped
            // serving when only its witness went away. A report not yet confirmed never will be
            // on this connection.
            if !matches!(self.exposure, Exposure::Confirmed(_)) {
                self.exposure = Exposure::Unreported;
            }
            self.failover_requested = false;
            self.witness_sees_principal = true; // unknown until the witness speaks again
            self.fail_set_witness(
                peer,
                "the connection to the witness was lost before it recorded the session",
            );
            // The witness may have recorded the grant before its answer was lost: the role
            // change is then the witness's durable record, and this mirror takes it when it
            // hears from the witness again (or from an old principal that learnt of it there).
            self.refuse_forcing(
                "service cannot be forced safely: the connection to the witness was lost before it answered; if the witness had recorded the forced service, this mirror becomes the principal when it hears from the witness again",
            );
        }
    }

    /// Fails a FORCE_SERVICE_ALLOW_DATA_LOSS waiting for the witness with 1406.
    fn refuse_forcing(&mut self, message: &str) {
        if let Some(id) = self.forcing.take() {
            self.complete(id, Err(SqlError::new(1406, message)));
        }
    }

    fn on_partner_lost(&mut self) {
        self.partner_member = Membership::Awaited;
        self.awaiting_partner_since = None;
        self.failover_prepare = None;
        self.handshaken = false;
        self.greeted = false;
        self.mirror_ready = false;
        self.switch_lsn = None;
        match self.durable.role {
            Role::Principal => {
                self.out
                    .push(Output::Event(StateChangeEvent::ConnectionWithMirrorLost));
                if self.serving
                    && self.durable.config.safety == Safety::Full
                    && self.witness().is_none()
                    && self.state == MirroringState::Synchronized
                {
                    // Reference section 4: without a witness the principal serves on, exposed
                    // (with one, the event comes when the witness has confirmed the exposure).
                    // Already exposed (SUSPENDED, SYNCHRONIZING), it said so then.
                    self.out
                        .push(Output::Event(StateChangeEvent::PrincipalRunningExposed));
                }
                if let Some((id, _)) = self.manual_failover.take() {
                    let error = SqlError::new(1447, "the mirror connection was lost during the failover; the failover was not done");
                    self.out.push(Output::CommandCompleted {
                        id,
                        result: Err(error),
                    });
                }
                self.abandon_set_witness(SqlError::new(
                    1426,
                    "the mirror connection was lost before the witness could be set",
                ));
                self.fail_set_partner(
                    "the connection to the mirror was lost before it hardened the log that existed when SET PARTNER was issued",
                );
            }
            Role::Mirror => {
                self.out
                    .push(Output::Event(StateChangeEvent::ConnectionWithPrincipalLost));
                self.fail_forwarded(
                    "the connection to the principal was lost before it confirmed the command",
                );
            }
        }
        if self.state != MirroringState::Suspended {
            self.set_state(MirroringState::Disconnected);
        }
    }

    fn complete(&mut self, id: CommandId, result: Result<(), SqlError>) {
        self.out.push(Output::CommandCompleted { id, result });
    }

    // ----------------------------------------------------------------------------------------
    // Messages.

    fn on_body(&mut self, now: Nanos, from: InstanceId, view: RoleView, body: Message) {
        // A greeting at any role sequence shows that the peer holds the session.
        self.note_greeting(from, &body);
        if self.mutants.is(Mutant::IgnoreRoleSequence) {
            return self.on_body_mutant_ignoring_roles(now, from, body);
        }
        if view.role_sequence < self.role_sequence() {
            return; // stale: a lower role sequence is ignored (reference section 4)
        }
        if view.role_sequence > self.role_sequence() && !self.adopt(view, &body) {
            return; // a newer role we cannot take yet; the details come with a Hello
        }
        if view.role_sequence == self.role_sequence() {
            self.learn_current_change(view, &body);
        }
        if from == self.durable.partner {
            if matches!(body, Message::Hello(_)) {
                // The mirror answered at this role sequence (a newer one was adopted above):
                // a restarted principal may serve (suspended or not).
                self.awaiting_partner_since = None;
            }
            self.on_partner_body(now, body);
        } else if self.is_witness(from) {
            self.on_witness_body(now, body);
        }
    }

    /// A session message from a peer on the current connection (its greeting comes first: a
    /// partner's Hello, a witness's WitnessHello, or Joined for a witness being set) shows that
    /// it holds the session: from now on it counts for quorum. An instance without the session
    /// answers pings, and says nothing else: a reply to a ping before any greeting shows that
    /// it holds none (a peer that holds the session greets as its side of the connection comes
    /// up, before any ping sent on it can arrive, and a connection delivers in order). A
    /// greeting that comes later all the same (messages reordered) counts the peer in again.
    fn note_greeting(&mut self, from: InstanceId, body: &Message) {
        let member = if from == self.durable.partner {
            &mut self.partner_member
        } else if self.is_witness(from) {
            &mut self.witness_member
        } else {
            return;
        };
        match body {
            Message::Ping | Message::Confirm => {}
            Message::Pong { .. } => {
                if *member == Membership::Awaited {
                    *member = Membership::NotMember;
                }
            }
            _ => *member = Membership::Member,
        }
    }

    /// Reference section 4: a higher role sequence is adopted "before doing anything else",
    /// and the connection request or acceptance carries the sender's. An old principal that
    /// regains quorum by the new principal's connection (its exposure confirmed before it
    /// lost quorum) served at its old role sequence until the first message after the
    /// handshake: a split brain of a few microseconds, reported as one.
    fn adopt_from_handshake(&mut self, view: RoleView) {
        if self.mutants.is(Mutant::IgnoreRoleSequence) || view.role_sequence <= self.role_sequence()
        {
            return;
        }
        // Without a role history only a role for another principal can be taken; this
        // instance's own promotion waits for the Hello or the grant that carries it.
        self.adopt(view, &Message::Ping);
    }

    fn on_body_mutant_ignoring_roles(&mut self, now: Nanos, from: InstanceId, body: Message) {
        if from == self.durable.partner {
            self.on_partner_body(now, body);
        } else if self.is_witness(from) {
            self.on_witness_body(now, body);
        }
    }

    /// The role changes a message carries that this instance may learn: a partner's whole
    /// history, or the witness's change at the current witness sequence.
    fn changes_in(&self, body: &Message) -> Vec<RoleChange> {
        // A role change from the witness counts only at the current witness sequence, and not
        // at all for an automatic failover once this mirror has recorded WITNESS OFF for its
        // principal (reference section 4: whoever recorded it takes no part in an automatic
        // failover any more). A grant asked for before that is refused when it arrives: the
        // principal, its witness gone, may already acknowledge commits this mirror lacks (found
        // by the model checker with WITNESS OFF among its commands).
        let from_witness = |change: &RoleChange, numbers: &Numbers| {
            numbers.witness == self.durable.config.numbers.witness
                && !(self.durable.witness_excluded && change.kind == FailoverKind::Automatic)
        };
        match body {
            Message::Hello(h) => h.role_history.clone(),
            Message::FailoverGranted { change, numbers } if from_witness(change, numbers) => {
                vec![*change]
            }
            Message::WitnessHello {
                last_change: Some(change),
                numbers,
                ..
            } if from_witness(change, numbers) => vec![*change],
            _ => Vec::new(),
        }
    }

    /// An instance that took the current role sequence from a connection handshake (a role for
    /// another principal, without the change itself) learns the change when a message at that
    /// sequence carries it, so that its own Hello passes it on. Without it, an old principal
    /// that learnt from the witness that it is the mirror greeted the new principal, whose
    /// grant the witness had recorded but never delivered, with a history lacking the change:
    /// both stayed mirrors while connected (found by an audit).
    fn learn_current_change(&mut self, view: RoleView, body: &Message) {
        let current = self.role_sequence();
        if self.durable.role != Role::Mirror
            || self
                .durable
                .role_history
                .iter()
                .any(|c| c.role_sequence == current)
        {
            return;
        }
        let change = self
            .changes_in(body)
            .into_iter()
            .find(|c| c.role_sequence == current && Some(c.principal) == view.principal);
        if let Some(change) = change.filter(|c| c.principal != self.durable.me) {
            self.merge_history(&[change]);
            if self.links.is_up(self.durable.partner) {
                // The Hello sent at the handshake lacked it: the partner named as principal
                // needs the change to take the role.
                self.send_hello();
            }
        }
    }

    /// Adopts a higher role sequence seen in a message, before anything else. Returns whether the
    /// message can now be handled.
    fn adopt(&mut self, view: RoleView, body: &Message) -> bool {
        let history = self.changes_in(body);
        let Some(principal) = view.principal else {
            return false;
        };
        let change = history
            .iter()
            .rev()
            .find(|c| c.role_sequence == view.role_sequence)
            .copied();
        self.merge_history(&history);
        match (principal == self.durable.me, change) {
            (true, Some(change)) => {
                if self.durable.role == Role::Mirror {
                    if change.kind == FailoverKind::Forced {
                        self.take_forced_service(change);
                    } else {
                        self.take_over(change);
                    }
                }
                true
            }
            (true, None) => false,
            // Reference section 4: a role change from the witness counts only at the current
            // witness sequence. A witness's record of an older one (a grant it recorded but
            // never delivered, before the principal replaced it and named it again) demoted a
            // serving principal, and no one served (found by an audit).
            (false, None) if self.witness_record_older(body) => false,
            (false, change) => {
                self.become_mirror(view.role_sequence);
                let from_witness = matches!(
                    body,
                    Message::WitnessHello { .. } | Message::FailoverGranted { .. }
                );
                if from_witness && change.is_some() && self.links.is_up(self.durable.partner) {
                    // The partner named as principal needs the change to take the role, and
                    // the Hello of this connection's handshake may have gone without it.
                    self.send_hello();
                }
                true
            }
        }
    }

    /// The witness's message carries a role change recorded at an older witness sequence than
    /// this partner's. A newer one is the new principal's doing (its WITNESS OFF or SET WITNESS
    /// after the change): refusing it left an old principal serving beside the new one (found
    /// by the model checker).
    fn witness_record_older(&self, body: &Message) -> bool {
        let numbers = match body {
            Message::WitnessHello {
                last_change: Some(_),
                numbers,
                ..
            }
            | Message::FailoverGranted { numbers, .. } => numbers,
            _ => return false,
        };
        numbers.witness < self.durable.config.numbers.witness
    }

    fn merge_history(&mut self, history: &[RoleChange]) {
        let h = &mut self.durable.role_history;
        for change in history {
            if !h.iter().any(|c| c.role_sequence == change.role_sequence) {
                h.push(*change);
            }
        }
        h.sort();
        let excess = h.len().saturating_sub(ROLE_HISTORY_MAX);
        h.drain(..excess);
    }

    fn on_partner_body(&mut self, now: Nanos, body: Message) {
        match (self.durable.role, body) {
            (Role::Mirror, Message::Hello(hello)) => self.on_principal_hello(now, hello),
            (Role::Mirror, Message::Log { lsn_from, lsn_to }) => self.on_log(lsn_from, lsn_to),
            (Role::Mirror, Message::Synchronized { numbers }) => self.on_synchronized(numbers),
            (Role::Mirror, Message::Config(config)) => self.on_config(now, config),
            (Role::Mirror, Message::FailoverPrepare { failover_lsn }) if self.handshaken => {
                self.failover_prepare = Some(failover_lsn);
                self.answer_failover_prepare();
            }
            (Role::Principal, Message::FailoverPrepared { failover_lsn }) => {
                self.on_failover_prepared(failover_lsn)
            }
            (Role::Mirror, Message::WitnessOff { numbers }) => {
                self.record_witness_off_for_principal(numbers)
            }
            (
                Role::Principal,
                Message::Ready {
                    lsn_end,
                    lsn_hardened,
                },
            ) => self.on_ready(lsn_end, lsn_hardened),
            (Role::Principal, Message::Hardened { lsn }) => {
                self.lsn_mirror_hardened = self.lsn_mirror_hardened.max(lsn.min(self.lsn_end));
            }
            (Role::Principal, Message::Forward(command)) => self.on_forwarded(now, command),
            (Role::Mirror, Message::ForwardDone { command, applied }) => {
                self.on_forward_done(command, applied)
            }
            (Role::Principal, Message::WitnessOffRecorded { witness_sequence }) => {
                self.on_witness_off_recorded(now, witness_sequence)
            }
            (_, Message::PartnerOff) => self.end_session(),
            _ => {}
        }
    }

    fn on_witness_body(&mut self, now: Nanos, body: Message) {
        match body {
            Message::WitnessHello {
                sees_principal,
                config,
                numbers,
                ..
            } => {
                self.witness_sees_principal = sees_principal;
                if self.durable.role == Role::Principal {
                    // A change made while the witness was away (reference section 4: the
                    // principal passes TIMEOUT to the witness, which uses it too). The sequence
                    // numbers are left out: every message carries them, and the witness learns
                    // them from the principal's next report anyway.
                    let ours = self.durable.config;
                    if (SessionConfig {
                        numbers: ours.numbers,
                        ..config
                    }) != ours
                    {
                        // A record that a WITNESS OFF removed, while none is under way here:
                        // it failed (1456), and the Hello tells the witness to keep the session.
                        let removal_failed =
                            config.witness != ours.witness && self.witness_off.is_none();
                        let answer = if removal_failed {
                            self.hello()
                        } else {
                            Message::Config(ours)
                        };
                        self.send_to_witness(answer);
                    }
                    // The witness lost track (its record is UNKNOWN): report afresh (reference
                    // section 4). An exposure it confirmed at these numbers stands: it is
                    // confirmed once per exposed period and after every reconnection to the
                    // witness (the connection coming up resets it), not each time the witness
                    // loses the mirror, and an UNKNOWN record grants no failover. A report still
                    // out reaches the witness after this hello left it (one connection, in
                    // order), so its confirmation will be of a record made since, also when the
                    // hello is at numbers older than the report's (the witness lost the mirror
                    // before the report of a SAFETY OFF or SUSPEND reached it). Resetting
                    // either stopped the principal for one more witness round trip whenever
                    // the witness lost the mirror (200 ms over a WAN, with SAFETY OFF too).
                    let exposed = self.needs_exposure();
                    match self.exposure {
                        Exposure::Confirmed(_) if exposed && numbers == ours.numbers => {
                            let kept = self.exposure;
                            self.report_status(SyncState::Unsynchronized);
                            self.exposure = kept;
                        }
                        Exposure::Reported(_) if exposed && numbers.not_ahead_of(&ours.numbers) => {
                        }
                        _ => {
                            self.exposure = Exposure::Unreported;
                            if !self.needs_exposure() {
                                self.report_status(SyncState::Synchronized);
                            }
                        }
                    }
                }
            }
            Message::WitnessView { sees_principal } => self.witness_sees_principal = sees_principal,
            Message::Pong {
                witness_sees_principal: Some(sees),
            } => self.witness_sees_principal = sees,
            Message::StatusRecorded { report } if self.exposure == Exposure::Reported(report) => {
                self.exposure = Exposure::Confirmed(report);
            }
            Message::FailoverGranted { .. } => {} // handled by adoption (the role sequence is higher)
            Message::FailoverDenied {
                reason: FailoverDenial::PrincipalConnected,
            } => {
                // Asked again as soon as the witness says it has lost the principal.
                self.failover_requested = false;
                self.witness_sees_principal = true;
            }
            Message::FailoverDenied { .. } => {
                // Any other refusal stands until the witness's record changes, which nothing
                // here announces: asked again at the next ping tick, as an unanswered request
                // is. Asking at once made a request and a refusal cross the network back and
                // forth for as long as the outage lasted (687 k requests in
                // principal-lost-after-exposed-no-failover; found by the model checker's
                // census, a cycle of two deliveries).
            }
            Message::ForceServiceDenied {
                reason: FailoverDenial::WitnessRemoved,
            } => self.force_service_without_the_removed_witness(now),
            Message::ForceServiceDenied { reason } => {
                if reason == FailoverDenial::PrincipalConnected {
                    self.witness_sees_principal = true;
                }
                self.refuse_forcing(match reason {
                    FailoverDenial::PrincipalConnected => {
                        "service cannot be forced safely: the witness is still connected to the principal"
                    }
                    _ => "service cannot be forced safely: the witness refused it (its record of the session differs)",
                });
            }
            Message::Joined { witness_sequence } => self.on_joined(witness_sequence),
            Message::WitnessOffRecorded { witness_sequence } => {
                self.on_witness_off_recorded(now, witness_sequence)
            }
            _ => {}
        }
    }

    // ----------------------------------------------------------------------------------------
    // The mirror's side of the handshake and of log shipping.

    /// The principal's handshake (reference section 4, "Reconnecting"): discard any log past the
    /// lowest of its end of log and the failover LSNs of every role change since this copy was
    /// last in step, then catch up from there.
    fn on_principal_hello(&mut self, now: Nanos, hello: Hello) {
        let Some(config) = hello.config else { return };
        if config.witness.is_some() {
            // The principal greets this mirror still naming a witness: a WITNESS OFF recorded
            // here whose answer never reached it failed there (1456, nothing changed), and
            // this mirror takes part in automatic failover again; it stayed out for good (found
            // by an audit). A WITNESS OFF still under way there comes after this greeting, on
            // the same connection, and is recorded again.
            self.durable.witness_excluded = false;
        }
        self.merge_history(&hello.role_history);
        // A principal that restarted since the last handshake may have written other log at the
        // LSNs past its recovered end than the blocks this mirror received before it crashed
        // (found by the model checker; the reference's list of discard points misses it).
        let incarnation = (self.durable.partner, hello.incarnation.0);
        let restarted = match self.durable.synced_incarnation {
            Some(synced) if synced != incarnation => Some(hello.incarnation.1),
            _ => None, // in step with this incarnation, or never synced (only restored log)
        };
        self.pending_incarnation = Some(incarnation);
        self.greeted = true;
        let lowest = hello
            .role_history
            .iter()
            .filter(|c| c.role_sequence > self.durable.synced_role_sequence)
            .map(|c| c.failover_lsn)
            .chain(std::iter::once(hello.lsn_end))
            .chain(restarted)
            .min()
            .expect("the chain has one element");
        self.durable.discard_pending = Some(
            self.durable
                .discard_pending
                .map_or(lowest, |d| d.min(lowest)),
        );
        self.durable.fork = hello
            .role_history
            .last()
            .map_or(self.durable.fork, |c| c.fork.max(self.durable.fork));
        self.apply_config(now, config);
        self.handshaken = false;
        if !config.suspended {
            self.finish_handshake();
        } else {
            self.set_state(MirroringState::Suspended);
        }
    }

    fn finish_handshake(&mut self) {
        if let Some(lsn) = self.durable.discard_pending.take() {
            if !self.mutants.is(Mutant::RejoinWithoutRollback) {
                self.discard_past(lsn);
            }
        }
        self.durable.synced_role_sequence = self.role_sequence();
        if let Some(incarnation) = self.pending_incarnation.take() {
            self.durable.synced_incarnation = Some(incarnation);
        }
        self.handshaken = true;
        self.told_synchronized = None;
        self.set_state(MirroringState::Synchronizing);
        let ready = Message::Ready {
            lsn_end: self.lsn_end,
            lsn_hardened: self.lsn_hardened,
        };
        self.send(self.durable.partner, ready);
    }

    fn discard_past(&mut self, lsn: Lsn) {
        if self.lsn_end <= lsn {
            return;
        }
        for (offered, replaced) in &mut self.durable.failover_offers {
            if lsn < *offered {
                *replaced = Some(replaced.map_or(lsn, |r| r.min(lsn)));
            }
        }
        self.lsn_end = lsn;
        self.lsn_hardened = self.lsn_hardened.min(lsn);
        self.epoch = self.epoch.wrapping_add(1);
        self.out.push(Output::Discard {
            lsn,
            fork: self.durable.fork,
        });
    }

    fn on_log(&mut self, lsn_from: Lsn, lsn_to: Lsn) {
        // Within one connection log arrives in order; anything else (a duplicate after a
        // reconnection, a reordering network in the model) is dropped, never applied out of order.
        if !self.handshaken || lsn_from != self.lsn_end || lsn_to <= lsn_from {
            return;
        }
        self.lsn_end = lsn_to;
        self.out.push(Output::Flush {
            lsn: lsn_to,
            epoch: self.epoch,
        });
    }

    fn on_synchronized(&mut self, numbers: Numbers) {
        if numbers != self.durable.config.numbers || !self.handshaken {
            return;
        }
        self.set_state(MirroringState::Synchronized);
        self.told_synchronized = Some(numbers);
    }

    fn on_config(&mut self, now: Nanos, config: SessionConfig) {
        let was_suspended = self.durable.config.suspended;
        let was_safety = self.durable.config.safety;
        self.apply_config(now, config);
        if config.suspended {
            self.handshaken = false;
            self.set_state(MirroringState::Suspended);
        } else if was_suspended && self.links.is_up(self.durable.partner) && self.greeted {
            // Only the handshake the principal's Hello began, with its discard point: a new
            // principal's configuration can come before its Hello (a SAFETY change during
            // its take-over), and a handshake finished on it kept log past the failover LSN
            // (found by an audit and the model checker's random walks: `log_prefix`).
            self.finish_handshake();
        } else if config.safety == Safety::Full
            && was_safety == Safety::Off
            && self.state == MirroringState::Synchronized
        {
            // Reference section 4: SAFETY FULL after OFF returns the session to SYNCHRONIZING,
            // and section 2: both partners report the same state. The principal's
            // `Synchronized` message brings the mirror back once the switch LSN is reached.
            self.set_state(MirroringState::Synchronizing);
        }
    }

    pub(super) fn apply_config(&mut self, now: Nanos, config: SessionConfig) {
        let old = self.durable.config;
        if old.numbers != config.numbers {
            self.told_synchronized = None;
        }
        if old.witness != config.witness {
            if let Some(w) = old.witness {
                self.drop_witness_connection(w);
                self.witness_state = WitnessState::Unknown;
            }
            if let Some(w) = config.witness {
                self.links.add_peer(w, true);
                self.links.count_silence_from(w, now);
                self.durable.witness_excluded = false;
                self.tick_now(); // connect to the new witness now
            }
        }
        self.durable.config = config;
    }

    // ----------------------------------------------------------------------------------------
    // The principal's side of the handshake and of log shipping.

    fn on_ready(&mut self, lsn_end: Lsn, lsn_hardened: Lsn) {
        self.mirror_ready = true;
        self.durable.incarnation_synced = true;
        self.lsn_shipped = lsn_end.min(self.lsn_end);
        self.lsn_sent = self.lsn_shipped;
        self.lsn_mirror_hardened = lsn_hardened.min(self.lsn_end);
        self.switch_lsn = None;
        if !self.durable.config.suspended && self.state != MirroringState::PendingFailover {
            // Still the same exposed period (reference section 4): a confirmed exposure stands,
            // since the witness's record says UNSYNCHRONIZED at these numbers until this
            // principal reports SYNCHRONIZED. Asking again stopped a SAFETY OFF principal whose
            // mirror came back while the witness was down, though it had quorum with the mirror.
            self.set_state(MirroringState::Synchronizing);
        }
        self.ship();
    }

    /// Sends the mirror the log it does not have yet, as it is written (reference section 6).
    fn ship(&mut self) {
        if self.durable.role != Role::Principal
            || !self.mirror_ready
            || self.durable.config.suspended
        {
            return;
        }
        if self.lsn_shipped < self.lsn_end {
            let body = Message::Log {
                lsn_from: self.lsn_shipped,
                lsn_to: self.lsn_end,
            };
            self.lsn_shipped = self.lsn_end;
            self.send(self.durable.partner, body);
        }
    }

    /// Whether the principal may acknowledge commits the mirror does not have (reference section
    /// 4, "Running exposed").
    fn needs_exposure(&self) -> bool {
        self.durable.config.safety == Safety::Off
            || matches!(
                self.state,
                MirroringState::Suspended
                    | MirroringState::Disconnected
                    | MirroringState::Synchronizing
            )
    }

    /// Whether every commit this principal acknowledges now waits for its mirror's hardening:
    /// SYNCHRONIZED under SAFETY FULL, or exposed without the witness's confirmation while its
    /// mirror takes the log ([`Self::mirror_takes_log`]). The driver judges from it whether a
    /// slow or silent mirror stops the principal's service.
    pub fn acknowledges_only_mirror_hardened(&self) -> bool {
        self.durable.role == Role::Principal
            && (self.synchronized_full()
                || (self.needs_exposure() && !self.exposure_confirmed() && self.mirror_takes_log()))
    }

    /// SYNCHRONIZED under SAFETY FULL: every commit waits for the mirror (the commit rule).
    fn synchronized_full(&self) -> bool {
        self.state == MirroringState::Synchronized && self.durable.config.safety == Safety::Full
    }

    /// The mirror is connected and receiving log: a commit it hardens may be acknowledged
    /// without the witness's confirmation of the exposure, which is needed only for commits the
    /// mirror does not have (reference section 4, the commit rule). An exposed principal whose
    /// witness is away (partner-to-partner quorum) still serves so, at the mirror's pace.
    fn mirror_takes_log(&self) -> bool {
        self.mirror_ready
            && !self.durable.config.suspended
            && self.links.is_up(self.durable.partner)
            && matches!(
                self.state,
                MirroringState::Synchronizing | MirroringState::Synchronized
            )
    }

    fn exposure_confirmed(&self) -> bool {
        if self.mutants.is(Mutant::ServeWithoutQuorum) {
            return true; // the bug: serving without asking the witness (or having quorum)
        }
        self.witness().is_none() || matches!(self.exposure, Exposure::Confirmed(_))
    }

    fn has_quorum(&self) -> bool {
        if self.mutants.is(Mutant::ServeWithoutQuorum) {
            return true;
        }
        self.quorum_by(Self::member_connected)
    }

    /// No witness is set, or the mirror or the witness `counts` (its connection, judged by
    /// what the peer has shown of its membership).
    pub(super) fn quorum_by(&self, counts: impl Fn(&Self, InstanceId) -> bool) -> bool {
        self.witness().is_none_or(|w| {
            [self.durable.partner, w]
                .into_iter()
                .any(|peer| counts(self, peer))
        })
    }

    /// Quorum is within reach: no witness is set, or the mirror's or the witness's connection
    /// is up and its peer has not shown that it holds no session (its greeting may still be on
    /// the way). The database stays online meanwhile, and the commits wait: a principal whose
    /// mirror was declared lost while its new connection to the witness awaited the greeting
    /// failed every commit that had waited for the mirror (found by a regression audit: 10,500
    /// of them, at 150 ms one way).
    fn quorum_in_reach(&self) -> bool {
        if self.mutants.is(Mutant::ServeWithoutQuorum) {
            return true;
        }
        self.quorum_by(Self::may_be_member)
    }

    /// The witness `w` is no longer this instance's (removed, replaced, or its SET WITNESS
    /// abandoned): its connection goes, and with it what the connection showed.
    pub(super) fn drop_witness_connection(&mut self, w: InstanceId) {
        self.links.remove_peer(w);
        self.witness_member = Membership::Awaited;
    }

    /// What `peer`'s current connection showed of its membership of the session.
    fn membership(&self, peer: InstanceId) -> Membership {
        if peer == self.durable.partner {
            self.partner_member
        } else if self.is_witness(peer) {
            self.witness_member
        } else {
            Membership::NotMember
        }
    }

    /// The connection to `peer` is up and `peer` has greeted this instance on it: it holds the
    /// session, and will answer what it is asked.
    fn member_connected(&self, peer: InstanceId) -> bool {
        self.links.is_up(peer) && self.membership(peer) == Membership::Member
    }

    /// The connection to `peer` is up, and `peer` has not shown that it holds no session.
    pub(super) fn may_be_member(&self, peer: InstanceId) -> bool {
        self.links.is_up(peer) && self.membership(peer) != Membership::NotMember
    }

    /// Commits are taken (`accepts_commits`), and quorum is there: a peer that holds the
    /// session is connected.
    fn can_acknowledge(&self) -> bool {
        self.accepts_commits() && self.has_quorum()
    }

    /// The commit rule of reference section 4, as the highest LSN up to which commits may be
    /// acknowledged now.
    fn ack_limit(&self) -> Lsn {
        if !self.serving {
            return 0;
        }
        // The bug: a SYNCHRONIZED FULL principal takes itself for exposed-free and acknowledges
        // after its own flush. It asks no witness, as a correct synchronous principal asks none,
        // so that the bug also acts in the mode with a witness.
        let exposed_limit =
            if self.synchronized_full() && self.mutants.is(Mutant::AckBeforeMirrorHarden) {
                Lsn::MAX
            } else if !self.exposure_confirmed() {
                0
            } else {
                match (self.state, self.durable.config.safety) {
                    (MirroringState::PendingFailover, _) => 0,
                    (MirroringState::Synchronized, Safety::Full) => 0,
                    (MirroringState::Synchronizing, Safety::Full) => {
                        self.switch_lsn.unwrap_or(Lsn::MAX)
                    }
                    _ => Lsn::MAX,
                }
            };
        self.lsn_hardened
            .min(self.lsn_mirror_hardened.max(exposed_limit))
    }

    fn acknowledge(&mut self) {
        let limit = self.ack_limit();
        let role_sequence = self.role_sequence();
        while let Some(&(tx, lsn)) = self.pending.front() {
            if lsn > limit {
                break;
            }
            self.pending.pop_front();
            self.out.push(Output::Acknowledge {
                tx,
                lsn,
                role_sequence,
            });
        }
    }

    fn fail_pending(&mut self, message: &str) {
        for (tx, _) in std::mem::take(&mut self.pending) {
            let error = SqlError::new(ERROR_DATABASE_UNAVAILABLE, message);
            self.out.push(Output::FailCommit { tx, error });
        }
    }

    /// The principal's status report to the witness: numbered, at the current numbers.
    fn report_status(&mut self, sync: SyncState) {
        let Some(w) = self.witness() else { return };
        if !self.links.is_up(w) {
            return;
        }
        self.durable.report_counter += 1;
        let report = self.durable.report_counter;
        let numbers = self.durable.config.numbers;
        self.send(
            w,
            Message::Status {
                report,
                sync,
                numbers,
            },
        );
        if sync == SyncState::Unsynchronized {
            self.exposure = Exposure::Reported(report);
        }
    }

    fn update_switch(&mut self) {
        if self.state != MirroringState::Synchronizing || !self.mirror_ready {
            return;
        }
        if self.switch_lsn.is_none() && self.lsn_end.saturating_sub(self.lsn_sent) < BLOCK_MAX_BYTES
        {
            self.switch_lsn = Some(self.lsn_end);
        }
        if self
            .switch_lsn
            .is_some_and(|s| self.lsn_mirror_hardened >= s)
        {
            self.become_synchronized();
        }
    }

    fn become_synchronized(&mut self) {
        self.set_state(MirroringState::Synchronized);
        let numbers = self.durable.config.numbers;
        self.send(self.durable.partner, Message::Synchronized { numbers });
        if self.durable.config.safety == Safety::Full {
            self.exposure = Exposure::Unreported;
            self.report_status(SyncState::Synchronized);
        }
    }

    fn update_exposure(&mut self) {
        if self.witness().is_some()
            && self.needs_exposure()
            && self.exposure == Exposure::Unreported
        {
            self.report_status(SyncState::Unsynchronized);
        }
        if !self.needs_exposure() && matches!(self.exposure, Exposure::Reported(_)) {
            // SYNCHRONIZED again: the UNSYNCHRONIZED report is superseded by the SYNCHRONIZED one.
            self.exposure = Exposure::Unreported;
        }
    }

    fn update_serving(&mut self) {
        let serving = self.durable.role == Role::Principal
            && self.can_acknowledge()
            && (self.exposure_confirmed() || !self.needs_exposure() || self.mirror_takes_log());
        if serving == self.serving {
            return;
        }
        self.serving = serving;
        let role_sequence = self.role_sequence();
        if serving {
            let via = self.serve_via();
            self.out.push(Output::Serve {
                via,
                role_sequence,
                lsn_end: self.lsn_hardened,
            });
            if self.needs_exposure() && self.durable.config.safety == Safety::Full {
                self.out
                    .push(Output::Event(StateChangeEvent::PrincipalRunningExposed));
            }
        } else {
            let reason = self.stop_reason();
            self.out.push(Output::StopServing {
                reason,
                role_sequence,
            });
        }
    }

    /// With a witness set, a principal that has declared both connections lost takes the
    /// database offline at once: every waiting commit fails, exposed ones awaiting the witness's
    /// confirmation included (reference section 4, "Running exposed" and the commit rule).
    fn update_quorum(&mut self) {
        let offline = !self.quorum_in_reach();
        if offline == self.offline {
            return;
        }
        self.offline = offline;
        if offline {
            self.out.push(Output::Event(StateChangeEvent::NoQuorum));
            self.fail_pending("the database is offline: the principal lost quorum");
        }
    }

    /// How this `Serve` came about. Every later one, until a restart or a take-over, resumes
    /// service at the same role sequence.
    fn serve_via(&mut self) -> ServeVia {
        std::mem::replace(&mut self.next_via, ServeVia::Resume)
    }

    fn stop_reason(&self) -> StopReason {
        if self.durable.role != Role::Principal {
            StopReason::RoleChange
        } else if self.state == MirroringState::PendingFailover {
            StopReason::PendingFailover
        } else if !self.quorum_in_reach() {
            StopReason::NoQuorum
        } else {
            StopReason::AwaitingWitness
        }
    }

    // ----------------------------------------------------------------------------------------
    // Role changes.

    /// This instance becomes the mirror at `role_sequence` (it learned of a newer role, or it
    /// finished a manual failover as the old principal).
    fn become_mirror(&mut self, role_sequence: u64) {
        // A Hello of the old role sequence began no handshake with the new principal.
        self.greeted = false;
        // Another role change came: no offer made before it can be granted any more.
        self.durable.failover_offers.clear();
        // The witness ignores a request made at an older role sequence: answer it here.
        self.refuse_forcing(
            "service cannot be forced: a newer role sequence was learnt before the witness answered",
        );
        self.fail_witness_off();
        self.awaiting_partner_since = None;
        let was_principal = self.durable.role == Role::Principal;
        if was_principal {
            // Log not yet hardened is lost with the role, as in a crash.
            self.discard_past(self.lsn_hardened);
            if !self.durable.incarnation_synced {
                // Written since a restart the mirror never heard of: the new principal's log
                // may hold other records at those LSNs (found by the model checker).
                let start = self.durable.incarnation.1;
                self.durable.discard_pending =
                    Some(self.durable.discard_pending.map_or(start, |d| d.min(start)));
            }
        }
        self.durable.role = Role::Mirror;
        self.durable.config.numbers.role = role_sequence;
        self.taking_over = None;
        // A SUSPEND or RESUME held for a take-over that did not finish is the new principal's
        // to decide; a held SET PARTNER OFF still ends the session (after this role change).
        self.suspend_after_take_over = None;
        // The partner that forwarded it, now principal, failed it when it took the role.
        self.forward_done_after_take_over.clear();
        self.manual_failover = None;
        self.mirror_ready = false;
        self.switch_lsn = None;
        self.handshaken = false;
        self.told_synchronized = None;
        self.failover_requested = false;
        self.exposure = Exposure::Unreported;
        self.fail_pending("the transaction was rolled back: the database changed roles");
        if was_principal {
            self.out.push(Output::RoleChanged {
                role: Role::Mirror,
                role_sequence,
            });
            if self.state == MirroringState::PendingFailover {
                // It resynchronizes from the new principal.
                self.leave_pending_failover();
            }
        }
        self.update_serving();
        if self.links.is_up(self.durable.partner) {
            self.send_hello();
        }
        if self.end_held_session() {
            self.complete_held_command(Ok(()));
        }
        self.complete_held_command(Err(SqlError::new(
            1456,
            "the take-over this instance had begun did not finish, and the SUSPEND or RESUME held for it was dropped: the new principal decides",
        )));
    }

    /// Records that this mirror offers its hardened end as a failover LSN (see
    /// [`PartnerDurable::failover_offers`]). An offer of a value already offered keeps what was
    /// recorded for it: the witness may have granted the first one.
    pub(super) fn offer_failover_lsn(&mut self) {
        let offers = &mut self.durable.failover_offers;
        if offers.iter().any(|&(lsn, _)| lsn == self.lsn_hardened) {
            return;
        }
        offers.push((self.lsn_hardened, None));
        let excess = offers.len().saturating_sub(FAILOVER_OFFERS_MAX);
        offers.drain(..excess);
    }

    /// The role change this mirror takes over by, its failover LSN lowered to where its log
    /// was replaced since it offered it ([`PartnerDurable::failover_offers`]): the old
    /// principal discards past it and is sent the log from there. The history records it so.
    pub(super) fn failover_lsn_still_held(&mut self, mut change: RoleChange) -> RoleChange {
        let replaced = self
            .durable
            .failover_offers
            .iter()
            .find(|&&(offered, _)| offered == change.failover_lsn)
            .and_then(|&(_, replaced)| replaced);
        if let Some(replaced) = replaced {
            if replaced < change.failover_lsn {
                change.failover_lsn = replaced;
                if let Some(c) = self
                    .durable
                    .role_history
                    .iter_mut()
                    .find(|c| c.role_sequence == change.role_sequence)
                {
                    c.failover_lsn = replaced;
                }
            }
        }
        self.durable.failover_offers.clear();
        change
    }

    /// This mirror takes over as principal after `change` was durably recorded (by the witness
    /// for an automatic failover, by the old principal for a manual one, here for forced
    /// service): record it, drain redo, pay the fixed cost, then serve (reference section 5).
    fn take_over(&mut self, change: RoleChange) {
        assert_eq!(self.durable.role, Role::Mirror, "only a mirror takes over");
        assert_eq!(change.principal, self.durable.me);
        self.failover_prepare = None;
        // Only a grant of the witness can have been fixed on an offer made before the log was
        // replaced (a manual failover's LSN is the old principal's, sent now).
        let change = if change.kind == FailoverKind::Automatic {
            self.failover_lsn_still_held(change)
        } else {
            change
        };
        self.durable.failover_offers.clear();
        if change.kind != FailoverKind::Forced {
            // An automatic or manual failover came first: there is nothing left to force, and
            // the witness will ignore the request made at the older role sequence.
            if let Some(id) = self.forcing.take() {
                let message = "service cannot be forced on the principal: this instance became principal by failover before the witness answered";
                self.complete(id, Err(SqlError::new(1455, message)));
            }
        }
        // Received but unhardened log was never acknowledged: it is lost with the role change,
        // as in a crash (the log engine turns a mirror log into a writer at its hardened LSN).
        self.discard_past(self.lsn_hardened);
        self.durable.incarnation = (self.durable.incarnation.0 + 1, self.lsn_hardened);
        self.durable.incarnation_synced = false;
        self.merge_history(&[change]);
        self.durable.role = Role::Principal;
        self.durable.config.numbers.role = change.role_sequence;
        self.durable.fork = change.fork;
        self.durable.synced_role_sequence = change.role_sequence;
        self.durable.discard_pending = None;
        self.told_synchronized = None;
        self.failover_requested = false;
        self.handshaken = false;
        self.mirror_ready = false;
        self.lsn_shipped = self.lsn_end;
        self.lsn_sent = self.lsn_end;
        self.lsn_mirror_hardened = 0;
        self.switch_lsn = None;
        self.exposure = Exposure::Unreported;
        self.taking_over = Some((change.kind, false));
        self.fail_forwarded(
            "this instance became the principal before the old one confirmed the command",
        );
        self.out.push(Output::RoleChanged {
            role: Role::Principal,
            role_sequence: change.role_sequence,
        });
        self.out.push(Output::DrainRedo);
        if self.state != MirroringState::Suspended {
            // Reference section 2: PENDING_FAILOVER is shown on the principal while a failover
            // is under way; DISCONNECTED only when the partners cannot reach each other.
            let state =
                if change.kind == FailoverKind::Manual && self.links.is_up(self.durable.partner) {
                    MirroringState::PendingFailover
                } else {
                    MirroringState::Disconnected
                };
            self.set_state(state);
        }
    }

    /// The failover is over on this side: SYNCHRONIZING while the partner is connected, else
    /// DISCONNECTED (reference section 2: DISCONNECTED is for partners that cannot reach each
    /// other).
    fn leave_pending_failover(&mut self) {
        let state = if self.links.is_up(self.durable.partner) {
            MirroringState::Synchronizing
        } else {
            MirroringState::Disconnected
        };
        self.set_state(state);
    }

    fn finish_take_over(&mut self, kind: FailoverKind) {
        self.taking_over = None;
        if self.state == MirroringState::PendingFailover {
            // The old principal, now the mirror, resynchronizes from here.
            self.leave_pending_failover();
        }
        let change = *self
            .durable
            .role_history
            .last()
            .expect("a take-over records its change");
        self.out.push(Output::Failover {
            kind,
            from: self.durable.partner,
            to: self.durable.me,
            role_sequence: change.role_sequence,
            failover_lsn: change.failover_lsn,
        });
        let event = match kind {
            FailoverKind::Automatic => Some(StateChangeEvent::AutomaticFailover),
            FailoverKind::Manual => Some(StateChangeEvent::ManualFailover),
            FailoverKind::Forced => None,
        };
        if let Some(event) = event {
            self.out.push(Output::Event(event));
        }
        // Tell the peers about the new role: the old principal adopts it, the witness records it.
        if self.links.is_up(self.durable.partner) {
            self.send_hello();
        }
        self.send_to_witness(Message::Config(self.durable.config));
        // The first Serve after a take-over names how it came about.
        self.next_via = ServeVia::from(kind);
    }

    // ----------------------------------------------------------------------------------------
    // After every input.

    /// Applies every rule that depends on the state just reached, then checks the invariants.
    fn settle(&mut self, now: Nanos) {
        if self.running && !self.ended {
            match self.durable.role {
                Role::Principal => self.settle_principal(),
                Role::Mirror => self.settle_mirror(),
            }
            self.announce_witness_change();
        }
        let _ = now;
        self.invariants();
    }

    /// A SYNCHRONIZED partner whose witness connection came up or went down (or whose witness
    /// was set or removed) raises its state-change event again: events 1 to 4 tell with or
    /// without witness (reference section 2).
    fn announce_witness_change(&mut self) {
        if self.state != MirroringState::Synchronized {
            return;
        }
        let event = self.state_event(self.state);
        if event != self.synchronized_event {
            self.synchronized_event = event;
            self.out.extend(event.map(Output::Event));
        }
    }

    fn settle_principal(&mut self) {
        if self.taking_over.is_some() {
            return;
        }
        self.update_switch();
        self.update_quorum();
        self.update_exposure();
        self.update_serving();
        self.acknowledge();
        self.progress_commands();
    }

    fn settle_mirror(&mut self) {
        self.request_failover();
    }

    /// The mirror's side of automatic failover (reference section 5): every condition it can
    /// observe must hold before it asks the witness.
    fn request_failover(&mut self) {
        let config = self.durable.config;
        let Some(w) = config.witness else { return };
        let eligible = !self.failover_requested
            && !self.durable.witness_excluded
            && config.safety == Safety::Full
            && !self.links.is_up(self.durable.partner)
            && self.links.is_up(w)
            && !self.witness_sees_principal
            && (self.told_synchronized == Some(config.numbers)
                || self.mutants.is(Mutant::FailoverWhileSynchronizing));
        if eligible {
            self.failover_requested = true;
            self.offer_failover_lsn();
            let body = Message::FailoverRequest {
                numbers: config.numbers,
                told_synchronized: config.numbers,
                lsn_hardened: self.lsn_hardened,
                fork: self.durable.fork,
            };
            self.send(w, body);
        }
    }

    /// Asserts the states that must never occur (DESIGN.md rule 4).
    pub fn invariants(&self) {
        assert!(
            self.lsn_hardened <= self.lsn_end,
            "hardened past the end of log: {} > {}",
            self.lsn_hardened,
            self.lsn_end
        );
        assert!(self.durable.role_history.len() <= ROLE_HISTORY_MAX);
        assert!(
            self.durable
                .role_history
                .windows(2)
                .all(|w| w[0].role_sequence < w[1].role_sequence),
            "role history out of order"
        );
        if let Some(last) = self.durable.role_history.last() {
            assert!(
                last.role_sequence <= self.role_sequence(),
                "a recorded role change is newer than the role sequence"
            );
        }
        assert!(
            (self.forwarded.is_none() && self.internal_forwards == 0)
                || self.durable.role == Role::Mirror,
            "only a mirror forwards commands"
        );
        assert!(
            self.partner_member == Membership::Awaited || self.links.is_up(self.durable.partner),
            "the partner was heard on a connection that is not up"
        );
        assert!(
            self.witness_member == Membership::Awaited
                || [self.witness(), self.set_witness.map(|p| p.witness)]
                    .into_iter()
                    .flatten()
                    .any(|w| self.links.is_up(w)),
            "the witness was heard on a connection that is not up"
        );
        if self.serving {
            assert_eq!(
                self.durable.role,
                Role::Principal,
                "only a principal serves"
            );
            assert!(self.running && self.has_quorum(), "serving without quorum");
            assert!(
                self.state != MirroringState::PendingFailover,
                "serving while failing over"
            );
        }
        if self.durable.role == Role::Mirror {
            assert!(self.pending.is_empty(), "a mirror holds commits");
            assert!(self.manual_failover.is_none());
            assert!(self.state != MirroringState::PendingFailover);
        } else {
            assert!(
                self.told_synchronized.is_none(),
                "a principal holds a mirror's notice"
            );
            assert!(
                self.failover_prepare.is_none(),
                "a principal holds a manual failover to harden"
            );
            assert!(
                self.lsn_sent <= self.lsn_shipped && self.lsn_shipped <= self.lsn_end,
                "send queue accounting"
            );
            assert!(
                self.lsn_mirror_hardened <= self.lsn_end,
                "the mirror hardened log the principal never wrote"
            );
            // Commits are only pushed at the back, in LSN order (`handle_commit` asserts it),
            // and taken from the front: the ends bound them all.
            if let (Some(first), Some(last)) = (self.pending.front(), self.pending.back()) {
                assert!(
                    first.1 <= last.1 && last.1 <= self.lsn_end,
                    "pending commits out of LSN order or past the end of log"
                );
            }
            if self.state == MirroringState::Synchronized
                && self.durable.config.safety == Safety::Full
            {
                assert!(
                    self.links.is_up(self.durable.partner),
                    "SYNCHRONIZED without a mirror connection"
                );
            }
        }
        if matches!(self.exposure, Exposure::Confirmed(_)) {
            // The witness's durable record confirms it; its connection may have gone since.
            assert!(
                self.witness().is_some(),
                "an exposure confirmed without a witness set"
            );
        }
        if !self.running {
            assert!(!self.serving && self.pending.is_empty());
        }
    }
}

#[cfg(test)]
mod tests {
    //! Unit tests of one partner state machine, fed by hand. The helpers are shared with the
    //! command tests in `commands.rs`.

    use super::*;
    use crate::message::ConnId;

    pub(super) const P: InstanceId = InstanceId(1);
    pub(super) const M: InstanceId = InstanceId(2);
    pub(super) const W: InstanceId = InstanceId(3);

    pub(super) fn conn(initiator: InstanceId, number: u32) -> ConnId {
        ConnId { initiator, number }
    }

    /// An envelope sent by `from` at role sequence `role`, naming `principal`.
    pub(super) fn env(
        from: InstanceId,
        to: InstanceId,
        conn: ConnId,
        role: u64,
        principal: InstanceId,
        body: Message,
    ) -> Envelope {
        Envelope {
            from,
            to,
            conn,
            role: RoleView {
                role_sequence: role,
                principal: Some(principal),
            },
            body,
        }
    }

    /// Feeds `env`, checks the invariants, returns every output since the last drain.
    pub(super) fn deliver(p: &mut Partner, now: Nanos, env: Envelope) -> Vec<Output> {
        p.handle_message(now, env);
        p.invariants();
        p.take_outputs()
    }

    /// `body` from `from` on the current connection, sent with `p`'s own view of the roles.
    pub(super) fn from_peer(
        p: &mut Partner,
        now: Nanos,
        from: InstanceId,
        body: Message,
    ) -> Vec<Output> {
        let conn = p.links().conn(from).expect("a connection");
        let role = p.role_view();
        deliver(
            p,
            now,
            Envelope {
                from,
                to: p.me(),
                conn,
                role,
                body,
            },
        )
    }

    /// (to, body) of every message sent, pings and pongs left out.
    pub(super) fn sent(out: &[Output]) -> Vec<(InstanceId, Message)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send(e) if !matches!(e.body, Message::Ping | Message::Pong { .. }) => {
                    Some((e.to, e.body.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// The state-change events raised.
    pub(super) fn events(out: &[Output]) -> Vec<StateChangeEvent> {
        out.iter()
            .filter_map(|o| match o {
                Output::Event(e) => Some(*e),
                _ => None,
            })
            .collect()
    }

    pub(super) fn acked(out: &[Output]) -> Vec<TxId> {
        out.iter()
            .filter_map(|o| match o {
                Output::Acknowledge { tx, .. } => Some(*tx),
                _ => None,
            })
            .collect()
    }

    pub(super) fn discards(out: &[Output]) -> Vec<Lsn> {
        out.iter()
            .filter_map(|o| match o {
                Output::Discard { lsn, .. } => Some(*lsn),
                _ => None,
            })
            .collect()
    }

    pub(super) fn commit(p: &mut Partner, tx: TxId, lsn: Lsn) {
        p.handle_commit(0, tx, lsn).expect("commit accepted");
        p.invariants();
    }

    pub(super) fn flushed(p: &mut Partner, lsn: Lsn) -> Vec<Output> {
        p.handle_flushed(0, lsn, p.epoch());
        p.invariants();
        p.take_outputs()
    }

    pub(super) fn lose(p: &mut Partner, peer: InstanceId) -> Vec<Output> {
        p.handle_connection_lost(0, peer, ErrorKind::Hard);
        p.invariants();
        p.take_outputs()
    }

    pub(super) fn hello(history: Vec<RoleChange>, config: SessionConfig, lsn_end: Lsn) -> Message {
        Message::Hello(Hello {
            role_history: history,
            config: Some(config),
            lsn_end,
            incarnation: (0, 0),
        })
    }

    pub(super) fn witness_config() -> SessionConfig {
        SessionConfig {
            witness: Some(W),
            numbers: Numbers {
                witness: 1,
                ..Numbers::default()
            },
            ..SessionConfig::new()
        }
    }

    /// P, principal with `lsn` written and hardened, connected to M on (P, 0) and greeted by
    /// its Hello; M not yet ready.
    pub(super) fn connected_principal(lsn: Lsn) -> Partner {
        let mut p = Partner::new_principal(P, M, lsn, lsn, Fork(0), 1, 0);
        p.handle_timer(0, Timer::Ping);
        deliver(&mut p, 0, env(M, P, conn(P, 0), 0, P, Message::Accept));
        from_peer(&mut p, 0, M, mirror_hello(lsn));
        p
    }

    /// The witness's greeting on a new connection: its record holds `config` and no role
    /// change, and it sees the principal.
    pub(super) fn witness_greeting(config: SessionConfig) -> Message {
        Message::WitnessHello {
            last_change: None,
            numbers: config.numbers,
            config,
            sees_principal: true,
        }
    }

    /// The mirror's Hello: no history, no configuration, hardened up to `lsn_end`.
    pub(super) fn mirror_hello(lsn_end: Lsn) -> Message {
        Message::Hello(Hello {
            role_history: Vec::new(),
            config: None,
            lsn_end,
            incarnation: (0, 0),
        })
    }

    /// P SYNCHRONIZED with M at LSN 0, SAFETY FULL, no witness.
    pub(super) fn synchronized_principal() -> Partner {
        let mut p = connected_principal(0);
        from_peer(
            &mut p,
            0,
            M,
            Message::Ready {
                lsn_end: 0,
                lsn_hardened: 0,
            },
        );
        assert_eq!(p.state(), MirroringState::Synchronized);
        p
    }

    /// P SYNCHRONIZED with M, and W joined at witness sequence 1 on (P, 1).
    pub(super) fn principal_with_witness() -> Partner {
        let mut p = synchronized_principal();
        p.handle_command(0, 2, SessionCommand::SetWitness(W))
            .expect("SET WITNESS accepted");
        p.handle_timer(0, Timer::Ping);
        deliver(&mut p, 0, env(W, P, conn(P, 1), 0, P, Message::Accept));
        let out = from_peer(
            &mut p,
            0,
            W,
            Message::Joined {
                witness_sequence: 1,
            },
        );
        assert!(out.contains(&Output::CommandCompleted {
            id: 2,
            result: Ok(())
        }));
        assert_eq!(p.config(), witness_config());
        p
    }

    /// M, mirror hardened up to `lsn`, with P's connection (P, 0) accepted; no handshake yet.
    pub(super) fn connected_mirror(lsn: Lsn) -> Partner {
        let mut m = Partner::new_mirror(M, P, lsn, Fork(0));
        m.handle_timer(0, Timer::Ping);
        deliver(&mut m, 0, env(P, M, conn(P, 0), 0, P, Message::Connect));
        m
    }

    /// M after P's handshake at LSN 0 with `config`, told SYNCHRONIZED.
    pub(super) fn synchronized_mirror(config: SessionConfig) -> Partner {
        let mut m = connected_mirror(0);
        from_peer(&mut m, 0, P, hello(vec![], config, 0));
        from_peer(
            &mut m,
            0,
            P,
            Message::Synchronized {
                numbers: config.numbers,
            },
        );
        assert_eq!(m.state(), MirroringState::Synchronized);
        m
    }

    /// M with a witness set, connected to P and (on (M, 0)) to W; told SYNCHRONIZED if `told`.
    pub(super) fn mirror_with_witness(told: bool) -> Partner {
        let config = witness_config();
        let mut m = connected_mirror(0);
        from_peer(&mut m, 0, P, hello(vec![], config, 0));
        m.handle_timer(0, Timer::Ping);
        deliver(&mut m, 0, env(W, M, conn(M, 0), 0, P, Message::Accept));
        assert_eq!(
            m.witness_state(),
            WitnessState::Disconnected,
            "not before the witness shows it holds the session"
        );
        from_peer(&mut m, 0, W, witness_greeting(config));
        assert_eq!(m.witness_state(), WitnessState::Connected);
        if told {
            from_peer(
                &mut m,
                0,
                P,
                Message::Synchronized {
                    numbers: config.numbers,
                },
            );
        }
        m
    }

    fn change(
        role_sequence: u64,
        principal: InstanceId,
        failover_lsn: Lsn,
        kind: FailoverKind,
    ) -> RoleChange {
        RoleChange {
            role_sequence,
            principal,
            failover_lsn,
            fork: Fork(0),
            kind,
        }
    }

    fn config_at(role: u64) -> SessionConfig {
        let mut config = SessionConfig::new();
        config.numbers.role = role;
        config
    }

    fn position(out: &[Output], pred: impl Fn(&Output) -> bool) -> usize {
        out.iter()
            .position(pred)
            .unwrap_or_else(|| panic!("not found in {out:?}"))
    }

    // reference §3 (message.rs: "the instance with the lower id initiates connections"):
    // between partners the lower id connects, whatever its role.
    #[test]
    fn lower_id_partner_initiates_the_connection() {
        let mut p = Partner::new_principal(P, M, 0, 0, Fork(0), 1, 0);
        assert!(p.links().link(M).unwrap().initiator);
        p.handle_timer(0, Timer::Ping);
        assert_eq!(sent(&p.take_outputs()), vec![(M, Message::Connect)]);

        let mut m = Partner::new_mirror(M, P, 0, Fork(0));
        assert!(!m.links().link(P).unwrap().initiator);
        m.handle_timer(0, Timer::Ping);
        assert!(sent(&m.take_outputs()).is_empty());

        let mut high = Partner::new_principal(InstanceId(5), InstanceId(4), 0, 0, Fork(0), 1, 0);
        high.handle_timer(0, Timer::Ping);
        assert!(
            sent(&high.take_outputs()).is_empty(),
            "the principal with the higher id waits"
        );
        let low = Partner::new_mirror(InstanceId(4), InstanceId(5), 0, Fork(0));
        assert!(low.links().link(InstanceId(5)).unwrap().initiator);
    }

    // reference §4: "when the principal's unsent log first drops below one block, it fixes the
    // switch LSN = its current end of log"; SYNCHRONIZED once the mirror acknowledges it.
    // reference §4: an instance "adopts the newer roles before doing anything else", "old P
    // comes back and learns from W or M of a higher role sequence: old P becomes the mirror", and
    // "partners accept a role change from the witness only at the current witness sequence". The
    // witness's connection handshake shows no witness sequence, so the role is taken from its
    // greeting, and the old principal passes the change on to its partner, which needs it to
    // take the role (the grant that named it never arrived). A greeting of another witness
    // sequence changes nothing.
    #[test]
    fn a_role_from_the_witness_is_taken_at_its_witness_sequence_and_passed_on() {
        let restarted = || {
            let mut p = principal_with_witness();
            p.crash();
            p.restart(0, 0);
            p.handle_timer(0, Timer::Ping);
            p.take_outputs();
            let to_witness = p.links().conn(W).expect("dialling W");
            deliver(&mut p, 0, env(W, P, to_witness, 1, M, Message::Accept));
            assert_eq!((p.role(), p.role_sequence()), (Role::Principal, 0));
            let to_partner = p.links().conn(M).expect("dialling M");
            deliver(&mut p, 0, env(M, P, to_partner, 0, P, Message::Accept));
            (p, to_witness)
        };
        let change = RoleChange {
            role_sequence: 1,
            principal: M,
            failover_lsn: 0,
            fork: Fork(0),
            kind: FailoverKind::Automatic,
        };
        let greeting = |numbers: Numbers, config| Message::WitnessHello {
            last_change: Some(change),
            numbers,
            config,
            sees_principal: false,
        };

        let (mut p, to_witness) = restarted();
        let config = p.config();
        let stale = Numbers {
            witness: config.numbers.witness - 1,
            ..config.numbers
        };
        let body = greeting(stale, config);
        deliver(&mut p, 0, env(W, P, to_witness, 1, M, body));
        assert_eq!((p.role(), p.role_sequence()), (Role::Principal, 0), "stale");

        let (mut p, to_witness) = restarted();
        let body = greeting(p.config().numbers, p.config());
        let out = deliver(&mut p, 0, env(W, P, to_witness, 1, M, body));
        assert_eq!((p.role(), p.role_sequence()), (Role::Mirror, 1));
        let passed_on = sent(&out).iter().any(|(to, m)| {
            *to == M && matches!(m, Message::Hello(h) if h.role_history == vec![change])
        });
        assert!(passed_on, "{out:?}");
    }

    // reference §4, Reconnecting, and §5: the returning old principal "discards its log past the
    // failover LSN and resynchronizes" -- the handshake that does it begins with the principal's
    // Hello. A configuration that lifts SUSPEND, arriving first, finishes no handshake.
    #[test]
    fn a_resume_before_the_principals_hello_finishes_no_handshake() {
        let mut m = connected_mirror(1_000);
        let suspended = SessionConfig {
            suspended: true,
            ..SessionConfig::new()
        };
        from_peer(&mut m, 0, P, Message::Config(suspended));
        assert_eq!(m.state(), MirroringState::Suspended);
        let out = from_peer(&mut m, 0, P, Message::Config(SessionConfig::new()));
        let ready = |out: &[Output]| {
            sent(out)
                .iter()
                .any(|(to, b)| *to == P && matches!(b, Message::Ready { .. }))
        };
        assert!(!ready(&out), "no Hello yet: {out:?}");
        let out = from_peer(&mut m, 0, P, hello(Vec::new(), SessionConfig::new(), 500));
        assert!(ready(&out), "{out:?}");
        assert_eq!(discards(&out), vec![500], "the Hello's discard point");
    }

    // reference §4, Reconnecting: "a mirror can briefly hold log that a crashed principal
    // never hardened ... the mirror discards any log past" the principal's recovered end. After
    // two restarts without the mirror, the log differs from the first recovered end on: the
    // principal's handshake offers that one, until a mirror has been in step again.
    #[test]
    fn a_second_restart_before_the_mirror_returns_keeps_the_first_restart_point() {
        let incarnation = |p: &Partner| match p.hello() {
            Message::Hello(hello) => hello.incarnation,
            other => panic!("not a Hello: {other:?}"),
        };
        let mut p = synchronized_principal();
        p.crash();
        p.restart(0, 1_000);
        assert_eq!(incarnation(&p), (1, 1_000));
        p.crash();
        p.restart(0, 5_000);
        assert_eq!(incarnation(&p), (2, 1_000), "the first restart point stays");

        // The mirror returns and completes its handshake.
        p.handle_timer(0, Timer::Ping);
        let connection = p.links().conn(M).expect("dialling");
        deliver(&mut p, 0, env(M, P, connection, 0, P, Message::Accept));
        let ready = Message::Ready {
            lsn_end: 0,
            lsn_hardened: 0,
        };
        from_peer(&mut p, 0, M, ready);
        assert!(p.durable().incarnation_synced);
        p.crash();
        p.restart(0, 7_000);
        assert_eq!(
            incarnation(&p),
            (3, 7_000),
            "in step again: from this restart"
        );
    }

    #[test]
    fn switch_lsn_is_fixed_when_unsent_log_drops_below_one_block() {
        let end = 200_000;
        let mut p = connected_principal(end);
        let out = from_peer(
            &mut p,
            0,
            M,
            Message::Ready {
                lsn_end: 0,
                lsn_hardened: 0,
            },
        );
        assert!(sent(&out).contains(&(
            M,
            Message::Log {
                lsn_from: 0,
                lsn_to: end
            }
        )));
        assert_eq!(p.state(), MirroringState::Synchronizing);
        assert_eq!(p.send_queue_bytes(), end);
        assert_eq!(p.switch_lsn(), None);

        p.handle_log_sent(0, end - BLOCK_MAX_BYTES);
        assert_eq!(
            p.switch_lsn(),
            None,
            "exactly one block unsent is not below one block"
        );
        p.handle_log_sent(0, end - BLOCK_MAX_BYTES + 1);
        assert_eq!(p.switch_lsn(), Some(end));
        p.take_outputs();

        from_peer(&mut p, 0, M, Message::Hardened { lsn: end - 1 });
        assert_eq!(p.state(), MirroringState::Synchronizing);
        let out = from_peer(&mut p, 0, M, Message::Hardened { lsn: end });
        assert_eq!(p.state(), MirroringState::Synchronized);
        assert!(out.contains(&Output::StateChanged {
            old: MirroringState::Synchronizing,
            new: MirroringState::Synchronized
        }));
        assert!(sent(&out).contains(&(
            M,
            Message::Synchronized {
                numbers: Numbers::default()
            }
        )));
    }

    // reference §4 commit rule, SYNCHRONIZING, SAFETY FULL, no witness: below the switch LSN
    // (here: before it is fixed) after the local flush; above it, as SYNCHRONIZED.
    #[test]
    fn synchronizing_commit_below_switch_lsn_acks_after_flush_and_above_waits_for_mirror() {
        let mut p = connected_principal(200_000);
        from_peer(
            &mut p,
            0,
            M,
            Message::Ready {
                lsn_end: 0,
                lsn_hardened: 0,
            },
        );
        commit(&mut p, 1, 200_100);
        assert_eq!(
            acked(&flushed(&mut p, 200_100)),
            vec![1],
            "exposed: acknowledged after flush"
        );

        p.handle_log_sent(0, 200_100);
        assert_eq!(p.switch_lsn(), Some(200_100));
        commit(&mut p, 2, 200_200);
        assert!(
            acked(&flushed(&mut p, 200_200)).is_empty(),
            "above the switch LSN it waits"
        );
        let out = from_peer(&mut p, 0, M, Message::Hardened { lsn: 200_100 });
        assert_eq!(p.state(), MirroringState::Synchronized);
        assert!(acked(&out).is_empty());
        let out = from_peer(&mut p, 0, M, Message::Hardened { lsn: 200_200 });
        assert_eq!(acked(&out), vec![2]);
    }

    // reference §4 commit rule, SYNCHRONIZED, SAFETY FULL: "after its own flush and the
    // mirror's hardening acknowledgement for the commit's LSN".
    #[test]
    fn synchronized_full_commit_waits_for_the_mirrors_hardened() {
        let mut p = synchronized_principal();
        commit(&mut p, 1, 100);
        let out = p.take_outputs();
        assert!(out.contains(&Output::Flush { lsn: 100, epoch: 0 }));
        assert!(sent(&out).contains(&(
            M,
            Message::Log {
                lsn_from: 0,
                lsn_to: 100
            }
        )));
        assert!(
            acked(&flushed(&mut p, 100)).is_empty(),
            "the local flush is not enough"
        );
        assert!(acked(&from_peer(&mut p, 0, M, Message::Hardened { lsn: 99 })).is_empty());
        let out = from_peer(&mut p, 0, M, Message::Hardened { lsn: 100 });
        assert!(out.contains(&Output::Acknowledge {
            tx: 1,
            lsn: 100,
            role_sequence: 0
        }));
    }

    // reference §4: the mirror's acknowledgement alone is not enough either: the principal's own
    // flush is needed too.
    #[test]
    fn synchronized_full_commit_waits_for_the_local_flush_too() {
        let mut p = synchronized_principal();
        commit(&mut p, 1, 100);
        assert!(acked(&from_peer(&mut p, 0, M, Message::Hardened { lsn: 100 })).is_empty());
        assert_eq!(acked(&flushed(&mut p, 100)), vec![1]);
    }

    // reference §4 commit rule, DISCONNECTED without witness ("Decision" in §4: P serves,
    // exposed): acknowledged after the local flush.
    #[test]
    fn disconnected_principal_without_witness_acks_after_local_flush() {
        let mut p = synchronized_principal();
        let out = lose(&mut p, M);
        assert!(out.contains(&Output::Event(StateChangeEvent::ConnectionWithMirrorLost)));
        assert!(
            out.contains(&Output::Event(StateChangeEvent::PrincipalRunningExposed)),
            "reference section 2, event 12: it now runs exposed"
        );
        assert_eq!(p.state(), MirroringState::Disconnected);
        assert!(p.is_serving());
        assert!(!out.iter().any(|o| matches!(o, Output::StopServing { .. })));
        commit(&mut p, 1, 100);
        assert_eq!(acked(&flushed(&mut p, 100)), vec![1]);
    }

    // reference §4 commit rule, SAFETY OFF, SYNCHRONIZED, no witness: after its own flush.
    #[test]
    fn safety_off_principal_acks_after_local_flush_without_the_mirror() {
        let mut p = synchronized_principal();
        p.handle_command(0, 5, SessionCommand::Safety(Safety::Off))
            .unwrap();
        assert_eq!(p.state(), MirroringState::Synchronized);
        commit(&mut p, 1, 100);
        assert_eq!(acked(&flushed(&mut p, 100)), vec![1]);
    }

    // reference §4 "Running exposed": with a witness set, no exposed commit is acknowledged
    // until the witness confirms it recorded the UNSYNCHRONIZED report at the current numbers.
    #[test]
    fn exposed_principal_with_witness_acks_only_after_status_recorded() {
        let mut p = principal_with_witness();
        let out = lose(&mut p, M);
        let report = match sent(&out).as_slice() {
            [(
                W,
                Message::Status {
                    report,
                    sync: SyncState::Unsynchronized,
                    numbers,
                },
            )] => {
                assert_eq!(*numbers, witness_config().numbers);
                *report
            }
            other => panic!("expected one UNSYNCHRONIZED report, got {other:?}"),
        };
        assert!(out.contains(&Output::StopServing {
            reason: StopReason::AwaitingWitness,
            role_sequence: 0
        }));
        assert_eq!(p.exposure(), Exposure::Reported(report));
        assert!(p.accepts_commits(), "quorum (P-W) holds: the commit waits");
        commit(&mut p, 1, 100);
        assert!(acked(&flushed(&mut p, 100)).is_empty());
        // A confirmation of an earlier report does not count.
        let out = from_peer(&mut p, 0, W, Message::StatusRecorded { report: report - 1 });
        assert!(acked(&out).is_empty());
        assert!(!p.is_serving());
        let out = from_peer(&mut p, 0, W, Message::StatusRecorded { report });
        assert_eq!(p.exposure(), Exposure::Confirmed(report));
        assert!(p.is_serving());
        assert!(out.contains(&Output::Event(StateChangeEvent::PrincipalRunningExposed)));
        assert_eq!(acked(&out), vec![1]);
    }

    // reference §4: high performance with a witness, the principal must keep quorum, and the
    // witness confirms its exposure "once per exposed period, and again after every
    // reconnection to the witness". Losing the witness with the mirror still connected keeps
    // quorum and the confirmation (the witness's record still says UNSYNCHRONIZED): it served
    // no more, awaiting a witness that was gone.
    #[test]
    fn a_confirmed_exposure_outlives_the_loss_of_the_witness() {
        let mut p = principal_with_witness();
        p.take_outputs();
        p.handle_command(0, 5, SessionCommand::Safety(Safety::Off))
            .expect("SAFETY OFF accepted");
        let out = p.take_outputs();
        let report = exposure_report(&out).expect("SAFETY OFF is reported to the witness");
        from_peer(&mut p, 0, W, Message::StatusRecorded { report });
        assert!(p.is_serving());
        let out = lose(&mut p, W);
        assert!(p.is_serving(), "quorum with the mirror, exposure confirmed");
        assert!(!out.iter().any(|o| matches!(o, Output::StopServing { .. })));
        commit(&mut p, 1, 100);
        assert_eq!(acked(&flushed(&mut p, 100)), vec![1]);
        p.invariants();
    }

    // reference §4: the witness's state becomes UNKNOWN "when it declares its connection to the
    // mirror lost ... only a fresh report from the principal makes it known again"; but the
    // exposure is confirmed "once per exposed period, and again after every reconnection to the
    // witness". The witness losing the mirror is neither: the principal reports afresh and goes
    // on serving (it stopped for a witness round trip, 200 ms over a WAN). At other numbers the
    // confirmation is not the current one, and it waits.
    #[test]
    fn a_witness_that_loses_the_mirror_gets_a_fresh_report_without_a_stall() {
        let exposed = || {
            let mut p = principal_with_witness();
            p.handle_command(0, 5, SessionCommand::Safety(Safety::Off))
                .expect("SAFETY OFF accepted");
            let Exposure::Reported(report) = p.exposure() else {
                panic!("SAFETY OFF is reported to the witness: {:?}", p.exposure());
            };
            from_peer(&mut p, 0, W, Message::StatusRecorded { report });
            assert!(p.is_serving());
            p.take_outputs();
            p
        };
        let hello = |numbers: Numbers| Message::WitnessHello {
            last_change: None,
            numbers,
            config: witness_config(),
            sees_principal: true,
        };
        let mut p = exposed();
        commit(&mut p, 7, 50);
        let out = flushed(&mut p, 50);
        assert_eq!(acked(&out), vec![7]);
        let numbers = p.config().numbers; // SAFETY OFF bumped the safety sequence
        let out = from_peer(&mut p, 0, W, hello(numbers));
        assert!(p.is_serving(), "the confirmed exposure stands: {out:?}");
        assert!(!out.iter().any(|o| matches!(o, Output::StopServing { .. })));
        assert!(
            sent(&out).iter().any(|(to, body)| *to == W
                && matches!(
                    body,
                    Message::Status {
                        sync: SyncState::Unsynchronized,
                        ..
                    }
                )),
            "a fresh report makes the witness's record known again: {out:?}"
        );
        commit(&mut p, 8, 100);
        assert_eq!(acked(&flushed(&mut p, 100)), vec![8]);
        p.invariants();

        let mut p = exposed();
        let other = Numbers {
            witness: p.config().numbers.witness + 1,
            ..p.config().numbers
        };
        from_peer(&mut p, 0, W, hello(other));
        assert!(!matches!(p.exposure(), Exposure::Confirmed(_)));

        // A report still out when the witness lost the mirror reaches it after the hello left:
        // its confirmation stands for the record made since (it was asked again, a round trip
        // more).
        let mut p = principal_with_witness();
        lose(&mut p, M);
        let Exposure::Reported(report) = p.exposure() else {
            panic!("the lost mirror is reported: {:?}", p.exposure());
        };
        let numbers = p.config().numbers;
        let out = from_peer(&mut p, 0, W, hello(numbers));
        assert_eq!(p.exposure(), Exposure::Reported(report));
        assert!(
            !sent(&out)
                .iter()
                .any(|(_, body)| matches!(body, Message::Status { .. })),
            "{out:?}"
        );
        from_peer(&mut p, 0, W, Message::StatusRecorded { report });
        assert!(p.is_serving());

        // So does a report of SAFETY OFF the witness had not received when it lost the mirror:
        // its hello is at the numbers before the change.
        let mut p = principal_with_witness();
        let before = p.config().numbers;
        p.handle_command(0, 5, SessionCommand::Safety(Safety::Off))
            .expect("SAFETY OFF accepted");
        let Exposure::Reported(report) = p.exposure() else {
            panic!("SAFETY OFF is reported: {:?}", p.exposure());
        };
        p.take_outputs();
        let out = from_peer(&mut p, 0, W, hello(before));
        assert_eq!(p.exposure(), Exposure::Reported(report), "{out:?}");
        from_peer(&mut p, 0, W, Message::StatusRecorded { report });
        assert!(p.is_serving());
    }

    // reference §5: after a forced service, "when the old P reconnects it learns of n+1". A
    // principal without a witness that restarts takes no commit before its mirror answered or
    // stayed silent for a ping interval: serving at once, it overlapped the principal that
    // forced service for a round trip, a split brain on every such restart. It waited TIMEOUT
    // once: 16 s of outage for a 5 s restart when the mirror had gone meanwhile.
    #[test]
    fn a_restarted_principal_without_witness_waits_for_its_mirror_a_ping_interval() {
        let mut p = synchronized_principal();
        p.crash();
        p.restart(SECOND, 0);
        p.take_outputs();
        assert!(!p.accepts_commits(), "its mirror has not answered yet");
        assert!(!p.is_serving());
        p.handle_timer(SECOND + PING_INTERVAL - 1, Timer::Ping);
        assert!(!p.accepts_commits(), "a ping interval has not passed");
        p.handle_timer(SECOND + PING_INTERVAL, Timer::Ping);
        assert!(
            p.accepts_commits(),
            "the mirror is silent: it serves exposed"
        );
        assert!(p.is_serving());
        p.invariants();
    }

    // reference §4, the failure table: M lost, no witness, "P keeps serving". A principal that
    // had declared its mirror lost and served alone before it crashed serves again as soon as
    // it restarts: waiting for the silent mirror cost TIMEOUT more of outage. One that crashes
    // again before its mirror answered still waits (it never knew the mirror lost).
    #[test]
    fn a_principal_that_lost_its_mirror_before_a_crash_serves_at_once_on_restart() {
        let mut p = synchronized_principal();
        lose(&mut p, M);
        assert!(p.is_serving(), "serves exposed without its mirror");
        p.crash();
        p.restart(SECOND, 0);
        assert!(p.accepts_commits(), "it served alone before the crash");
        assert!(p.is_serving());
        p.invariants();

        let mut p = synchronized_principal();
        p.crash();
        p.restart(SECOND, 0);
        p.crash();
        p.restart(2 * SECOND, 0);
        assert!(
            !p.accepts_commits(),
            "still waiting for the mirror's answer"
        );
    }

    // reference §4, the commit rule: with a witness set, the witness's confirmation is needed
    // only "for a commit the mirror has not hardened". SAFETY OFF issued while the witness is
    // away (partner-to-partner quorum) left the principal acknowledging nothing, though its
    // mirror hardened every commit.
    #[test]
    fn an_exposed_principal_without_its_witness_acknowledges_what_the_mirror_hardened() {
        let mut p = principal_with_witness();
        lose(&mut p, W);
        p.handle_command(0, 5, SessionCommand::Safety(Safety::Off))
            .expect("SAFETY OFF accepted");
        p.take_outputs();
        assert!(!p.exposure_confirmed(), "no witness to confirm it");
        assert!(p.is_serving(), "the mirror takes the log");
        commit(&mut p, 1, 100);
        assert!(
            acked(&flushed(&mut p, 100)).is_empty(),
            "not on its own flush"
        );
        let out = from_peer(&mut p, 0, M, Message::Hardened { lsn: 100 });
        assert_eq!(acked(&out), vec![1]);
        // Without the mirror as well, no quorum: it stops.
        lose(&mut p, M);
        assert!(!p.is_serving());
        p.invariants();
    }

    // reference §4: "a principal that has declared both its mirror and its witness connections
    // lost stops serving at once"; its waiting commits fail and new ones are refused.
    #[test]
    fn principal_losing_witness_then_mirror_stops_serving_for_lack_of_quorum() {
        let mut p = principal_with_witness();
        commit(&mut p, 1, 100);
        lose(&mut p, W);
        assert!(p.is_serving(), "partner-to-partner quorum");
        assert_eq!(p.witness_state(), WitnessState::Disconnected);
        let out = lose(&mut p, M);
        assert!(out.contains(&Output::StopServing {
            reason: StopReason::NoQuorum,
            role_sequence: 0
        }));
        assert!(out.contains(&Output::Event(StateChangeEvent::NoQuorum)));
        assert!(out
            .iter()
            .any(|o| matches!(o, Output::FailCommit { tx: 1, error } if error.number == 955)));
        assert!(!p.accepts_commits());
        assert_eq!(p.handle_commit(0, 2, 200).unwrap_err().number, 955);
        assert_eq!(p.pending_commits(), 0);
    }

    /// The number of the UNSYNCHRONIZED report `out` sends the witness, if any.
    fn exposure_report(out: &[Output]) -> Option<u64> {
        sent(out).into_iter().find_map(|(to, m)| match m {
            Message::Status {
                report,
                sync: SyncState::Unsynchronized,
                ..
            } if to == W => Some(report),
            _ => None,
        })
    }

    /// The commits `out` failed with 955.
    fn failed_955(out: &[Output]) -> Vec<TxId> {
        out.iter()
            .filter_map(|o| match o {
                Output::FailCommit { tx, error } if error.number == 955 => Some(*tx),
                _ => None,
            })
            .collect()
    }

    /// `p` connects to `peer` again (the acceptance arrives): up, nothing heard on it yet.
    fn reconnect(p: &mut Partner, now: Nanos, peer: InstanceId) -> Vec<Output> {
        p.handle_timer(now, Timer::Ping);
        let conn = p.links().conn(peer).expect("reconnecting");
        deliver(p, now, env(peer, P, conn, 0, P, Message::Accept))
    }

    fn pong(sees_principal: bool) -> Message {
        Message::Pong {
            witness_sees_principal: Some(sees_principal),
        }
    }

    // reference §2: SYNCHRONIZING is a mirror behind and catching up. RESUME on a principal
    // whose connection to its partner is up, but on which the partner has not shown it holds
    // the session (no greeting; an instance that left the session with PARTNER OFF accepts as
    // a witness would and answers pings), leaves it DISCONNECTED: it went SYNCHRONIZING with no
    // mirror, for good (audit AW). The partner's greeting brings the session back as usual.
    #[test]
    fn resume_over_a_connection_the_partner_has_not_greeted_stays_disconnected() {
        let mut p = synchronized_principal();
        p.handle_command(0, 2, SessionCommand::Suspend)
            .expect("SUSPEND accepted");
        lose(&mut p, M);
        reconnect(&mut p, SECOND, M);
        from_peer(&mut p, SECOND, M, pong(false));
        p.handle_command(SECOND, 3, SessionCommand::Resume)
            .expect("RESUME accepted");
        p.invariants();
        assert_eq!(p.state(), MirroringState::Disconnected);

        // RESUME before the partner's greeting has arrived: the handshake brings the session
        // back, as after any reconnection (the mirror's Ready, once it has the RESUME).
        let mut p = synchronized_principal();
        p.handle_command(0, 2, SessionCommand::Suspend)
            .expect("SUSPEND accepted");
        lose(&mut p, M);
        reconnect(&mut p, SECOND, M);
        p.handle_command(SECOND, 3, SessionCommand::Resume)
            .expect("RESUME accepted");
        assert_eq!(p.state(), MirroringState::Disconnected);
        from_peer(&mut p, SECOND, M, mirror_hello(0));
        from_peer(
            &mut p,
            SECOND,
            M,
            Message::Ready {
                lsn_end: 0,
                lsn_hardened: 0,
            },
        );
        p.invariants();
        assert!(
            matches!(
                p.state(),
                MirroringState::Synchronizing | MirroringState::Synchronized
            ),
            "{:?}",
            p.state()
        );
    }

    // reference §4: quorum is two of the *session's* instances with their connection up. A
    // witness whose record a PARTNER OFF on the mirror dropped accepts the principal's new
    // connection and answers its pings, but never greets it. A principal counted that
    // connection, and took commits that waited to the end for an exposure confirmation that
    // never came (found by an audit: 58,688 commits in flight at the end of its run). Until the
    // witness is heard, its greeting may be on the way: the database is back online and commits
    // wait. A reply to a ping before any greeting shows it holds no session (it would have
    // greeted first): no quorum, the commits fail (955). Its greeting counts it in.
    #[test]
    fn a_witness_that_answers_pings_without_greeting_gives_no_quorum() {
        let mut p = principal_with_witness();
        lose(&mut p, M);
        lose(&mut p, W);
        assert!(!p.accepts_commits(), "no quorum");
        reconnect(&mut p, SECOND, W);
        assert!(
            p.accepts_commits(),
            "the witness's greeting may be on the way"
        );
        assert!(!p.is_serving());
        assert_eq!(p.witness_state(), WitnessState::Disconnected);
        commit(&mut p, 1, 100);
        assert!(acked(&flushed(&mut p, 100)).is_empty(), "no quorum yet");
        let out = from_peer(&mut p, SECOND, W, pong(true));
        assert_eq!(failed_955(&out), vec![1], "a pong before any greeting");
        assert!(out.contains(&Output::Event(StateChangeEvent::NoQuorum)));
        assert!(!p.accepts_commits());
        assert_eq!(p.handle_commit(SECOND, 2, 200).unwrap_err().number, 955);
        let refused = p
            .handle_command(SECOND, 3, SessionCommand::Safety(Safety::Off))
            .expect_err("neither the partner nor the witness is available");
        assert_eq!(refused.number, 1431);
        from_peer(&mut p, SECOND, W, witness_greeting(witness_config()));
        assert!(p.accepts_commits(), "quorum with the witness");
        assert_eq!(p.witness_state(), WitnessState::Connected);
        // A new connection is heard afresh.
        lose(&mut p, W);
        reconnect(&mut p, 2 * SECOND, W);
        assert_eq!(p.witness_state(), WitnessState::Disconnected);
        from_peer(&mut p, 2 * SECOND, W, pong(true));
        assert!(!p.accepts_commits());
    }

    // reference §4 and §7: an instance whose PARTNER OFF ended the session there, while the
    // principal was cut off, accepts the principal's connection without holding the session: it
    // sends no Hello, and answers pings. The principal does not count it for quorum.
    #[test]
    fn a_partner_that_answers_pings_without_greeting_gives_no_quorum() {
        let mut p = principal_with_witness();
        lose(&mut p, W);
        lose(&mut p, M);
        assert!(!p.accepts_commits(), "no quorum");
        reconnect(&mut p, SECOND, M);
        assert!(p.accepts_commits(), "the mirror's Hello may be on the way");
        assert!(!p.is_serving());
        from_peer(
            &mut p,
            SECOND,
            M,
            Message::Pong {
                witness_sees_principal: None,
            },
        );
        assert!(!p.accepts_commits(), "it holds no session");
        from_peer(&mut p, SECOND, M, mirror_hello(0));
        assert!(p.accepts_commits(), "partner-to-partner quorum");
    }

    // reference §4: "WITNESS OFF is applied by the principal only after the witness (or, if the
    // witness cannot be reached, the mirror) has durably recorded it". A witness whose greeting
    // is still on its way is reachable: it is asked, not the mirror (asked the mirror, a
    // regression audit found the witness listing the session to the end). Once it answers a
    // ping without greeting, it holds no session, and the mirror is asked instead.
    #[test]
    fn witness_off_asks_a_witness_whose_greeting_is_on_its_way() {
        let mut p = principal_with_witness();
        lose(&mut p, W);
        reconnect(&mut p, SECOND, W);
        p.handle_command(SECOND, 7, SessionCommand::WitnessOff)
            .expect("WITNESS OFF accepted");
        p.invariants();
        let asked = |out: &[Output]| -> Vec<InstanceId> {
            sent(out)
                .into_iter()
                .filter(|(_, m)| matches!(m, Message::WitnessOff { .. }))
                .map(|(to, _)| to)
                .collect()
        };
        assert_eq!(asked(&p.take_outputs()), vec![W]);
        let out = from_peer(&mut p, SECOND, W, pong(true));
        assert_eq!(asked(&out), vec![M], "the witness holds no session");
    }

    // reference §4, "M lost, P-W connected: P keeps serving, exposed (after W records it)". A
    // principal whose mirror is declared lost while its new connection to the witness awaits
    // the witness's greeting keeps the commits that waited for the mirror: the greeting, then
    // the witness's record of the exposure, let them be acknowledged. They failed with 955 when
    // the principal counted only a witness it had heard (found by a regression audit: 10,500
    // commits at 150 ms one way).
    #[test]
    fn commits_survive_a_lost_mirror_while_the_witness_greeting_is_on_its_way() {
        let mut p = principal_with_witness();
        lose(&mut p, W);
        commit(&mut p, 1, 100);
        assert!(
            acked(&flushed(&mut p, 100)).is_empty(),
            "waits for the mirror"
        );
        reconnect(&mut p, SECOND, W);
        let mut out = lose(&mut p, M);
        assert!(failed_955(&out).is_empty(), "{out:?}");
        assert!(!out.contains(&Output::Event(StateChangeEvent::NoQuorum)));
        assert!(!p.is_serving());
        out.extend(from_peer(
            &mut p,
            SECOND,
            W,
            witness_greeting(witness_config()),
        ));
        assert!(!p.is_serving(), "until the witness records the exposure");
        let report = exposure_report(&out).expect("the exposure reported to the witness");
        let out = from_peer(&mut p, SECOND, W, Message::StatusRecorded { report });
        assert_eq!(acked(&out), vec![1]);
        assert!(p.is_serving());
    }

    // reference §4: "Without that confirmation those commits wait; if quorum is then lost, they
    // fail" (and the commit-rule table: "no quorum while a witness is set: ... fails when ... the
    // database goes offline").
    #[test]
    fn commits_waiting_for_the_witness_fail_when_quorum_is_then_lost() {
        let mut p = principal_with_witness();
        lose(&mut p, M);
        commit(&mut p, 1, 100);
        assert!(acked(&flushed(&mut p, 100)).is_empty());
        let out = lose(&mut p, W);
        assert!(!p.accepts_commits());
        assert!(
            out.iter()
                .any(|o| matches!(o, Output::FailCommit { tx: 1, .. })),
            "the waiting commit must fail when quorum is lost: {out:?}"
        );
        assert!(out.contains(&Output::Event(StateChangeEvent::NoQuorum)));
        assert_eq!(p.pending_commits(), 0);
    }

    // reference §5 manual failover and §4 commit rule: in PENDING_FAILOVER P stops
    // acknowledging and refuses commits; once M hardened the tail, P is mirror at n+1 and the
    // commits that waited fail with the role change.
    #[test]
    fn pending_failover_refuses_commits_and_completes_when_mirror_hardens_the_tail() {
        let mut p = synchronized_principal();
        commit(&mut p, 1, 100);
        flushed(&mut p, 100);
        p.handle_command(0, 7, SessionCommand::Failover)
            .expect("accepted");
        let out = p.take_outputs();
        assert_eq!(p.state(), MirroringState::PendingFailover);
        assert!(out.contains(&Output::StopServing {
            reason: StopReason::PendingFailover,
            role_sequence: 0
        }));
        assert!(sent(&out).contains(&(M, Message::FailoverPrepare { failover_lsn: 100 })));
        assert!(!out
            .iter()
            .any(|o| matches!(o, Output::CommandCompleted { .. })));
        assert!(!p.accepts_commits());
        assert_eq!(p.handle_commit(0, 2, 200).unwrap_err().number, 955);

        // The mirror's hardening alone is not its answer: it must have recorded the failover
        // LSN (reference section 5, "M records that LSN as the failover LSN").
        let out = from_peer(&mut p, 0, M, Message::Hardened { lsn: 100 });
        assert!(
            acked(&out).is_empty(),
            "PENDING_FAILOVER never acknowledges"
        );
        assert_eq!(p.role(), Role::Principal);
        assert!(!out
            .iter()
            .any(|o| matches!(o, Output::CommandCompleted { .. })));
        let out = from_peer(
            &mut p,
            0,
            M,
            Message::FailoverPrepared { failover_lsn: 100 },
        );
        assert!(out
            .iter()
            .any(|o| matches!(o, Output::FailCommit { tx: 1, .. })));
        assert!(out.contains(&Output::RoleChanged {
            role: Role::Mirror,
            role_sequence: 1
        }));
        assert!(out.contains(&Output::CommandCompleted {
            id: 7,
            result: Ok(())
        }));
        let expected = change(1, M, 100, FailoverKind::Manual);
        assert_eq!(p.durable().role_history, vec![expected]);
        assert!(sent(&out).iter().any(|(to, m)| *to == M
            && matches!(m, Message::Hello(h) if h.role_history == vec![expected])));
        assert_eq!(p.role(), Role::Mirror);
        assert_eq!(p.failover_lsn(), 100);
    }

    // reference §5, manual failover: "sends the tail of its log and waits until M has hardened
    // it; M records that LSN as the failover LSN; P records durably that it is mirror". A
    // mirror already current that has gone silent never answers: after TIMEOUT the statement
    // fails with 1447 and the principal serves again (it became the mirror at once, and no one
    // served until the old mirror came back).
    #[test]
    fn manual_failover_to_a_current_mirror_that_is_gone_fails_with_1447() {
        let mut p = synchronized_principal();
        commit(&mut p, 1, 100);
        flushed(&mut p, 100);
        from_peer(&mut p, 0, M, Message::Hardened { lsn: 100 });
        p.take_outputs();
        p.handle_command(SECOND, 7, SessionCommand::Failover)
            .expect("accepted");
        p.take_outputs();
        assert_eq!(
            p.role(),
            Role::Principal,
            "nothing heard from the mirror yet"
        );
        p.handle_connection_lost(12 * SECOND, M, ErrorKind::Soft);
        let out = p.take_outputs();
        assert!(out.iter().any(|o| matches!(
            o,
            Output::CommandCompleted { id: 7, result: Err(e) } if e.number == 1447
        )));
        assert_eq!(p.role(), Role::Principal);
        assert_ne!(p.state(), MirroringState::PendingFailover);
        assert!(p.is_serving(), "serves again, exposed");
    }

    // reference §4: the witness records "the failover LSN of the last role change", and a
    // partner adopts a role change from the witness at the current witness sequence. The old
    // principal tells the witness of its hand-over along with the mirror.
    #[test]
    fn a_manual_failover_is_told_to_the_witness_too() {
        let mut p = principal_with_witness();
        p.handle_command(SECOND, 7, SessionCommand::Failover)
            .expect("accepted");
        p.take_outputs();
        let out = from_peer(
            &mut p,
            SECOND,
            M,
            Message::FailoverPrepared { failover_lsn: 0 },
        );
        let expected = change(1, M, 0, FailoverKind::Manual);
        for peer in [M, W] {
            assert!(
                sent(&out).iter().any(|(to, m)| *to == peer
                    && matches!(m, Message::Hello(h) if h.role_history == vec![expected])),
                "{peer:?}: {:?}",
                sent(&out)
            );
        }
    }

    // reference §4, as above, from the mirror's side: the hand-over itself was cut off (the
    // link broke after the mirror answered); the witness's greeting carries the change, at the
    // current witness sequence, and the mirror that prepared it takes over.
    #[test]
    fn a_mirror_takes_over_a_manual_failover_the_witness_passes_on() {
        let mut m = mirror_with_witness(true);
        from_peer(&mut m, 0, P, Message::FailoverPrepare { failover_lsn: 0 });
        lose(&mut m, P);
        let manual = change(1, M, 0, FailoverKind::Manual);
        deliver(
            &mut m,
            SECOND,
            env(
                W,
                M,
                conn(M, 0),
                1,
                M,
                Message::WitnessHello {
                    last_change: Some(manual),
                    numbers: Numbers {
                        role: 1,
                        ..witness_config().numbers
                    },
                    config: witness_config(),
                    sees_principal: true,
                },
            ),
        );
        assert_eq!(m.role(), Role::Principal);
        assert_eq!(m.role_sequence(), 1);
        assert_eq!(m.take_over_kind(), Some(FailoverKind::Manual));
        assert_eq!(m.failover_lsn(), 0);
    }

    #[test]
    fn a_mirror_answers_a_manual_failover_once_the_failover_lsn_is_hardened() {
        let mut m = synchronized_mirror(SessionConfig::new());
        m.take_outputs();
        from_peer(
            &mut m,
            0,
            P,
            Message::Log {
                lsn_from: 0,
                lsn_to: 150,
            },
        );
        let out = from_peer(&mut m, 0, P, Message::FailoverPrepare { failover_lsn: 150 });
        assert!(!sent(&out)
            .iter()
            .any(|(_, msg)| matches!(msg, Message::FailoverPrepared { .. })));
        m.handle_flushed(SECOND, 150, m.epoch);
        let out = m.take_outputs();
        assert!(sent(&out).contains(&(P, Message::FailoverPrepared { failover_lsn: 150 })));
        m.invariants();
    }

    // reference §6 / §4: the mirror hardens received log, then acknowledges: never before the
    // flush completes (persist before acknowledging).
    #[test]
    fn mirror_acknowledges_log_only_after_it_is_flushed() {
        let mut m = connected_mirror(0);
        let out = from_peer(&mut m, 0, P, hello(vec![], SessionConfig::new(), 0));
        assert!(sent(&out).contains(&(
            P,
            Message::Ready {
                lsn_end: 0,
                lsn_hardened: 0
            }
        )));
        assert_eq!(m.state(), MirroringState::Synchronizing);
        let out = from_peer(
            &mut m,
            0,
            P,
            Message::Log {
                lsn_from: 0,
                lsn_to: 100,
            },
        );
        assert!(out.contains(&Output::Flush {
            lsn: 100,
            epoch: m.epoch()
        }));
        assert!(
            sent(&out).is_empty(),
            "no acknowledgement before the flush: {out:?}"
        );
        assert_eq!((m.lsn_end(), m.lsn_hardened()), (100, 0));
        let out = flushed(&mut m, 60);
        assert_eq!(sent(&out), vec![(P, Message::Hardened { lsn: 60 })]);
        let out = flushed(&mut m, 100);
        assert_eq!(sent(&out), vec![(P, Message::Hardened { lsn: 100 })]);
    }

    // reference §4 ("Within one connection log arrives in order"): log that does not continue
    // the mirror's end of log is dropped, never applied out of order.
    #[test]
    fn mirror_drops_log_that_does_not_continue_its_end_of_log() {
        let mut m = connected_mirror(0);
        from_peer(
            &mut m,
            0,
            P,
            Message::Log {
                lsn_from: 0,
                lsn_to: 100,
            },
        );
        assert_eq!(m.lsn_end(), 0, "no log before the handshake");
        from_peer(&mut m, 0, P, hello(vec![], SessionConfig::new(), 0));
        from_peer(
            &mut m,
            0,
            P,
            Message::Log {
                lsn_from: 0,
                lsn_to: 100,
            },
        );
        let out = from_peer(
            &mut m,
            0,
            P,
            Message::Log {
                lsn_from: 50,
                lsn_to: 150,
            },
        );
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(m.lsn_end(), 100);
    }

    // reference §4 "Reconnecting" / output.rs: a flush completion of an older log epoch (its
    // log was discarded meanwhile) is ignored.
    #[test]
    fn flush_completion_of_an_older_epoch_is_ignored() {
        let mut m = connected_mirror(0);
        from_peer(&mut m, 0, P, hello(vec![], SessionConfig::new(), 0));
        from_peer(
            &mut m,
            0,
            P,
            Message::Log {
                lsn_from: 0,
                lsn_to: 1200,
            },
        );
        let old_epoch = m.epoch();
        // P restarts having hardened only 1000 and reconnects: M discards past 1000.
        lose(&mut m, P);
        deliver(&mut m, 0, env(P, M, conn(P, 1), 0, P, Message::Connect));
        let out = from_peer(&mut m, 0, P, hello(vec![], SessionConfig::new(), 1000));
        assert_eq!(discards(&out), vec![1000]);
        assert_ne!(m.epoch(), old_epoch);
        m.handle_flushed(0, 1200, old_epoch);
        m.invariants();
        assert_eq!(m.lsn_hardened(), 0, "the old epoch's flush is not counted");
        assert!(sent(&m.take_outputs()).is_empty());
        assert_eq!(
            sent(&flushed(&mut m, 1000)),
            vec![(P, Message::Hardened { lsn: 1000 })]
        );
    }

    // reference §4 "Reconnecting": the mirror discards log past the principal's end of log (it
    // can hold log a crashed principal never hardened); nothing when its log is a prefix.
    #[test]
    fn handshake_discards_mirror_log_past_the_principals_end_of_log() {
        let mut m = connected_mirror(1000);
        let out = from_peer(&mut m, 0, P, hello(vec![], SessionConfig::new(), 700));
        assert_eq!(discards(&out), vec![700]);
        assert!(sent(&out).contains(&(
            P,
            Message::Ready {
                lsn_end: 700,
                lsn_hardened: 700
            }
        )));

        let mut m = connected_mirror(1000);
        let out = from_peer(&mut m, 0, P, hello(vec![], SessionConfig::new(), 2000));
        assert!(discards(&out).is_empty());
        assert!(sent(&out).contains(&(
            P,
            Message::Ready {
                lsn_end: 1000,
                lsn_hardened: 1000
            }
        )));
    }

    // reference §4 "Reconnecting": the lowest of the end of log and the failover LSNs of every
    // role change since the mirror was last in step.
    #[test]
    fn handshake_discards_past_the_lowest_failover_lsn_of_newer_role_changes() {
        let mut m = connected_mirror(1000);
        let history = vec![
            change(1, M, 600, FailoverKind::Automatic),
            change(2, P, 800, FailoverKind::Manual),
        ];
        let out = deliver(
            &mut m,
            0,
            env(
                P,
                M,
                conn(P, 0),
                2,
                P,
                hello(history.clone(), config_at(2), 900),
            ),
        );
        assert_eq!(discards(&out), vec![600]);
        assert_eq!(m.role_sequence(), 2);
        assert_eq!(m.durable().role_history, history);
        assert_eq!(m.durable().synced_role_sequence, 2);
        assert_eq!(m.lsn_end(), 600);
    }

    /// P, principal hardened to 1000 with a commit at 1100 not yet flushed, hears from M that M
    /// became principal at role 1 (failover LSN 800) and has written up to 1500.
    fn old_principal_rejoins(kind: FailoverKind, config: SessionConfig) -> (Partner, Vec<Output>) {
        let mut p = connected_principal(1000);
        commit(&mut p, 1, 1100);
        p.take_outputs();
        let mut c = change(1, M, 800, kind);
        if kind == FailoverKind::Forced {
            c.fork = Fork(1);
        }
        let out = deliver(
            &mut p,
            0,
            env(M, P, conn(P, 0), 1, M, hello(vec![c], config, 1500)),
        );
        (p, out)
    }

    // reference §4: "an instance that sees a higher role sequence than its own adopts the newer
    // roles before doing anything else"; §5: the old P "becomes the mirror, discards its log past
    // the failover LSN and resynchronizes".
    #[test]
    fn old_principal_adopts_higher_role_sequence_first_then_discards_past_failover_lsn() {
        let (p, out) = old_principal_rejoins(FailoverKind::Automatic, config_at(1));
        assert_eq!(p.role(), Role::Mirror);
        assert_eq!(p.role_sequence(), 1);
        let role_changed = position(&out, |o| {
            *o == Output::RoleChanged {
                role: Role::Mirror,
                role_sequence: 1,
            }
        });
        let failed = position(&out, |o| matches!(o, Output::FailCommit { tx: 1, .. }));
        let to_failover_lsn = position(&out, |o| matches!(o, Output::Discard { lsn: 800, .. }));
        let ready = position(
            &out,
            |o| matches!(o, Output::Send(e) if e.body == Message::Ready { lsn_end: 800, lsn_hardened: 800 }),
        );
        assert!(
            role_changed < to_failover_lsn && failed < to_failover_lsn && to_failover_lsn < ready
        );
        assert_eq!(
            discards(&out),
            vec![1000, 800],
            "unhardened log goes with the role, then the tail"
        );
        assert!(out.contains(&Output::StopServing {
            reason: StopReason::RoleChange,
            role_sequence: 1
        }));
        assert_eq!(p.state(), MirroringState::Synchronizing);
        assert_eq!(p.durable().synced_role_sequence, 1);
        assert_eq!(p.failover_lsn(), 800);
    }

    // reference §4 "Reconnecting": role changes the mirror was already in step with are not
    // discarded again on the next handshake.
    #[test]
    fn role_changes_already_in_step_are_not_discarded_again() {
        let (mut p, _) = old_principal_rejoins(FailoverKind::Automatic, config_at(1));
        from_peer(
            &mut p,
            0,
            M,
            Message::Log {
                lsn_from: 800,
                lsn_to: 1200,
            },
        );
        flushed(&mut p, 1200);
        lose(&mut p, M);
        p.handle_timer(SECOND, Timer::Ping);
        assert!(sent(&p.take_outputs()).contains(&(M, Message::Connect)));
        deliver(&mut p, SECOND, env(M, P, conn(P, 1), 1, M, Message::Accept));
        let c = change(1, M, 800, FailoverKind::Automatic);
        let out = deliver(
            &mut p,
            SECOND,
            env(M, P, conn(P, 1), 1, M, hello(vec![c], config_at(1), 1500)),
        );
        assert!(discards(&out).is_empty(), "{out:?}");
        assert!(sent(&out).contains(&(
            M,
            Message::Ready {
                lsn_end: 1200,
                lsn_hardened: 1200
            }
        )));
    }

    /// After forced service on M (role 1, SUSPENDED, fork 1 at 800) the old P rejoins.
    fn old_principal_after_forced_service() -> (Partner, SessionConfig) {
        let mut config = config_at(1);
        config.suspended = true;
        config.numbers.suspend = 1;
        let (p, out) = old_principal_rejoins(FailoverKind::Forced, config);
        assert_eq!(
            discards(&out),
            vec![1000],
            "only the unhardened log so far: {out:?}"
        );
        (p, config)
    }

    // reference §5 forced service: "When the old P reconnects it learns of n+1, becomes the
    // mirror and stays SUSPENDED; on RESUME it discards its log past the fork LSN".
    #[test]
    fn old_principal_after_forced_service_stays_suspended_and_discards_only_on_resume() {
        let (mut p, config) = old_principal_after_forced_service();
        assert_eq!(p.role(), Role::Mirror);
        assert_eq!(p.state(), MirroringState::Suspended);
        assert_eq!(p.durable().discard_pending, Some(800));
        assert_eq!(p.durable().fork, Fork(1));
        let resumed = SessionConfig {
            suspended: false,
            numbers: Numbers {
                suspend: 2,
                ..config.numbers
            },
            ..config
        };
        let out = from_peer(&mut p, 0, M, Message::Config(resumed));
        assert_eq!(discards(&out), vec![800]);
        assert!(sent(&out).contains(&(
            M,
            Message::Ready {
                lsn_end: 800,
                lsn_hardened: 800
            }
        )));
        assert_eq!(p.state(), MirroringState::Synchronizing);
        assert_eq!(p.durable().discard_pending, None);
    }

    // reference §4: "messages with a lower role sequence are ignored".
    #[test]
    fn messages_with_a_lower_role_sequence_are_ignored() {
        let (mut p, config) = old_principal_after_forced_service();
        let resumed = SessionConfig {
            suspended: false,
            numbers: Numbers {
                suspend: 2,
                ..config.numbers
            },
            ..config
        };
        let stale = env(M, P, conn(P, 0), 0, M, Message::Config(resumed));
        let out = deliver(&mut p, 0, stale.clone());
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(p.state(), MirroringState::Suspended);
        assert_eq!(p.config(), config);
        let current = Envelope {
            role: RoleView {
                role_sequence: 1,
                principal: Some(M),
            },
            ..stale
        };
        let out = deliver(&mut p, 0, current);
        assert_eq!(
            p.state(),
            MirroringState::Synchronizing,
            "the same message at role 1 counts"
        );
        assert_eq!(discards(&out), vec![800]);
    }

    // reference §4: the mirror keeps "told SYNCHRONIZED at numbers X" only from the principal's
    // notice at its current numbers; any change of numbers or a return to SYNCHRONIZING clears it.
    #[test]
    fn mirror_told_synchronized_only_at_current_numbers_and_forgets_it_on_change() {
        let mut m = connected_mirror(0);
        from_peer(&mut m, 0, P, hello(vec![], SessionConfig::new(), 0));
        let other = Numbers {
            safety: 1,
            ..Numbers::default()
        };
        from_peer(&mut m, 0, P, Message::Synchronized { numbers: other });
        assert_eq!(m.told_synchronized(), None);
        assert_eq!(m.state(), MirroringState::Synchronizing);

        let mut m = synchronized_mirror(SessionConfig::new());
        assert_eq!(m.told_synchronized(), Some(Numbers::default()));
        from_peer(
            &mut m,
            0,
            P,
            Message::Config(SessionConfig {
                safety: Safety::Off,
                numbers: other,
                ..SessionConfig::new()
            }),
        );
        assert_eq!(m.told_synchronized(), None, "a change of numbers clears it");

        let mut m = synchronized_mirror(SessionConfig::new());
        from_peer(&mut m, 0, P, hello(vec![], SessionConfig::new(), 0));
        assert_eq!(m.state(), MirroringState::Synchronizing);
        assert_eq!(
            m.told_synchronized(),
            None,
            "a return to SYNCHRONIZING clears it"
        );
    }

    // Reference section 2, event 10 ("no quorum"): a mirror with a witness set that has lost
    // both the principal and the witness has no quorum, and says so once, at the second loss,
    // whichever goes first. It was raised by principals only.
    #[test]
    fn a_mirror_that_loses_principal_and_witness_raises_no_quorum() {
        let no_quorum = Output::Event(StateChangeEvent::NoQuorum);
        for first in [P, W] {
            let second = if first == P { W } else { P };
            let mut m = mirror_with_witness(true);
            let out = lose(&mut m, first);
            assert!(!out.contains(&no_quorum), "{first:?} alone: {out:?}");
            let out = lose(&mut m, second);
            assert_eq!(
                out.iter().filter(|o| **o == no_quorum).count(),
                1,
                "{first:?} then {second:?}: {out:?}"
            );
        }
        // Both declared lost on one ping tick, TIMEOUT after both fell silent: one event, not
        // one per loss (audit AE: the event stream showed event 10 twice).
        let mut m = mirror_with_witness(true);
        m.handle_timer(60 * SECOND, Timer::Ping);
        m.invariants();
        let out = m.take_outputs();
        let lost = Output::Event(StateChangeEvent::ConnectionWithPrincipalLost);
        assert!(
            out.contains(&lost),
            "the tick declares the principal lost: {out:?}"
        );
        assert_eq!(m.witness_state(), WitnessState::Disconnected);
        assert_eq!(
            out.iter().filter(|o| **o == no_quorum).count(),
            1,
            "{out:?}"
        );
        // Without a witness a lost principal is no loss of quorum.
        let mut m = connected_mirror(0);
        from_peer(&mut m, 0, P, hello(vec![], SessionConfig::default(), 0));
        assert!(!lose(&mut m, P).contains(&no_quorum));
    }

    // Reference section 2 ("witness state as each partner sees it") and section 3 (a silent
    // peer is declared lost at the first ping tick at which its last reply is older than
    // TIMEOUT): a partner that restarts while the witness is out of reach shows it UNKNOWN,
    // then DISCONNECTED once it has been silent for TIMEOUT since the restart, not UNKNOWN for
    // good (audit AD); CONNECTED again once the witness greets it.
    #[test]
    fn a_witness_out_of_reach_since_a_restart_shows_disconnected_after_timeout() {
        let mut m = mirror_with_witness(true);
        m.crash();
        let restart = 20 * SECOND;
        m.restart(restart, m.lsn_hardened());
        m.take_outputs();
        assert_eq!(m.witness_state(), WitnessState::Unknown);
        m.handle_timer(restart + 10 * SECOND, Timer::Ping);
        m.invariants();
        assert_eq!(
            m.witness_state(),
            WitnessState::Unknown,
            "silent for TIMEOUT, not longer"
        );
        m.handle_timer(restart + 11 * SECOND, Timer::Ping);
        m.invariants();
        assert_eq!(m.witness_state(), WitnessState::Disconnected);
        let out = m.take_outputs();
        let conn = out
            .iter()
            .find_map(|o| match o {
                Output::Send(e) if e.to == W && e.body == Message::Connect => Some(e.conn),
                _ => None,
            })
            .expect("the mirror keeps asking the witness for a connection");
        deliver(
            &mut m,
            restart + 12 * SECOND,
            env(W, M, conn, 0, P, Message::Accept),
        );
        from_peer(
            &mut m,
            restart + 12 * SECOND,
            W,
            witness_greeting(witness_config()),
        );
        assert_eq!(m.witness_state(), WitnessState::Connected);
    }

    // reference §5 automatic failover: M asks W only when SAFETY FULL, a witness is set, M has
    // declared P lost, M's connection to W is up, W has declared P lost, and M was told
    // SYNCHRONIZED at the current numbers.
    #[test]
    fn mirror_asks_witness_for_failover_only_when_every_condition_holds() {
        let mut m = mirror_with_witness(true);
        let numbers = witness_config().numbers;
        let witness_hello = Message::WitnessHello {
            last_change: None,
            numbers,
            config: witness_config(),
            sees_principal: true,
        };
        from_peer(&mut m, 0, W, witness_hello);
        let out = lose(&mut m, P);
        assert!(out.contains(&Output::Event(
            StateChangeEvent::ConnectionWithPrincipalLost
        )));
        assert_eq!(m.state(), MirroringState::Disconnected);
        assert!(sent(&out).is_empty(), "W still sees P: {out:?}");
        let out = from_peer(
            &mut m,
            0,
            W,
            Message::WitnessView {
                sees_principal: false,
            },
        );
        assert_eq!(
            sent(&out),
            vec![(
                W,
                Message::FailoverRequest {
                    numbers,
                    told_synchronized: numbers,
                    lsn_hardened: 0,
                    fork: Fork(0)
                }
            )]
        );
        // One request at a time.
        let out = from_peer(
            &mut m,
            0,
            W,
            Message::WitnessView {
                sees_principal: false,
            },
        );
        assert!(sent(&out).is_empty());
    }

    // reference §5: "M had been told it was SYNCHRONIZED at those numbers" -- and SAFETY FULL.
    #[test]
    fn mirror_not_told_synchronized_or_in_safety_off_never_asks_for_failover() {
        let mut m = mirror_with_witness(false);
        lose(&mut m, P);
        let out = from_peer(
            &mut m,
            0,
            W,
            Message::WitnessView {
                sees_principal: false,
            },
        );
        assert!(sent(&out).is_empty(), "{out:?}");

        let mut m = mirror_with_witness(false);
        let off = SessionConfig {
            safety: Safety::Off,
            numbers: Numbers {
                safety: 1,
                ..witness_config().numbers
            },
            ..witness_config()
        };
        from_peer(&mut m, 0, P, Message::Config(off));
        from_peer(
            &mut m,
            0,
            P,
            Message::Synchronized {
                numbers: off.numbers,
            },
        );
        assert_eq!(m.told_synchronized(), Some(off.numbers));
        lose(&mut m, P);
        let out = from_peer(
            &mut m,
            0,
            W,
            Message::WitnessView {
                sees_principal: false,
            },
        );
        assert!(sent(&out).is_empty(), "{out:?}");
    }

    /// M asked W for a failover after losing P, once W said it had lost P too (until W has
    /// spoken on the connection, M takes it to see P and does not ask).
    fn mirror_awaiting_grant() -> Partner {
        let mut m = mirror_with_witness(true);
        let out = lose(&mut m, P);
        assert!(sent(&out).is_empty(), "{out:?}");
        let out = from_peer(
            &mut m,
            0,
            W,
            Message::WitnessView {
                sees_principal: false,
            },
        );
        assert!(matches!(
            sent(&out).as_slice(),
            [(W, Message::FailoverRequest { .. })]
        ));
        m
    }

    // reference §5: a request the witness refuses for its record (here: not SYNCHRONIZED at
    // those numbers) is asked again at the next ping tick, not at once. Asked at once, the
    // request and its refusal crossed the network back and forth for the whole outage (687 k
    // requests in sims/principal-lost-after-exposed-no-failover.toml). A refusal because the
    // witness still sees the principal waits for the witness to say it lost it, as before.
    #[test]
    fn a_refused_failover_request_is_asked_again_at_the_next_tick_only() {
        let mut m = mirror_awaiting_grant();
        let denied = Message::FailoverDenied {
            reason: FailoverDenial::NotSynchronized,
        };
        let out = deliver(&mut m, SECOND, env(W, M, conn(M, 0), 1, M, denied));
        assert!(sent(&out).is_empty(), "not asked again at once: {out:?}");
        m.handle_timer(2 * SECOND, Timer::Ping);
        let out = m.take_outputs();
        let requests = sent(&out)
            .into_iter()
            .filter(|(_, body)| matches!(body, Message::FailoverRequest { .. }))
            .count();
        assert_eq!(requests, 1, "asked again at the tick: {out:?}");
    }

    /// The witness grants `m` an automatic failover to role sequence 1: the change and what
    /// `m` did.
    fn grant_automatic_failover(m: &mut Partner) -> (RoleChange, Vec<Output>) {
        let c = change(1, M, 0, FailoverKind::Automatic);
        let numbers = Numbers {
            role: 1,
            ..witness_config().numbers
        };
        let grant = Message::FailoverGranted { change: c, numbers };
        (c, deliver(m, SECOND, env(W, M, conn(M, 0), 1, M, grant)))
    }

    // reference §5: the failover LSN is the mirror's hardened end as it reported it. A grant
    // learnt after the mirror discarded its log below that point (it crashed before the grant
    // arrived, then rejoined a principal that had restarted) names log the mirror no longer
    // holds: the take-over lowers it to where the log was replaced, so that the old principal
    // discards past a point both logs share (found by `sim`: it was cut inside a log record).
    #[test]
    fn a_grant_learnt_after_the_log_was_replaced_lowers_its_failover_lsn() {
        let mut m = mirror_awaiting_grant();
        assert_eq!(m.durable.failover_offers, vec![(0, None)]);
        // As if it had offered 1000, then rejoined a principal that restarted at 600.
        m.durable.failover_offers = vec![(1000, None)];
        m.lsn_end = 1200;
        m.discard_past(600);
        assert_eq!(m.durable.failover_offers, vec![(1000, Some(600))]);
        m.discard_past(800); // nothing past 600 is left to discard
        assert_eq!(m.durable.failover_offers, vec![(1000, Some(600))]);
        let c = change(1, M, 1000, FailoverKind::Automatic);
        let held = m.failover_lsn_still_held(c);
        assert_eq!(held.failover_lsn, 600);
        assert!(m.durable.failover_offers.is_empty());

        // A grant of an offer whose log was kept keeps its failover LSN.
        let mut m = mirror_awaiting_grant();
        m.durable.failover_offers = vec![(1000, Some(600)), (1500, None)];
        let held = m.failover_lsn_still_held(change(1, M, 1500, FailoverKind::Automatic));
        assert_eq!(held.failover_lsn, 1500);
    }

    // reference §4: whoever recorded WITNESS OFF "takes no part in an automatic failover of
    // this session any more" -- not even through a grant it asked for before recording it,
    // which arrives after (found by the model checker: the principal, its witness gone,
    // acknowledged a commit, then the mirror took over without it).
    #[test]
    fn a_grant_that_arrives_after_the_mirror_recorded_witness_off_is_refused() {
        let mut m = mirror_awaiting_grant();
        m.durable.witness_excluded = true; // as `record_witness_off_for_principal` leaves it
        let (_, out) = grant_automatic_failover(&mut m);
        m.invariants();
        assert_eq!(m.role(), Role::Mirror, "{out:?}");
        assert_eq!(m.role_sequence(), 0);
        assert!(!out.iter().any(|o| matches!(o, Output::Serve { .. })));
    }

    // A pending WITNESS OFF fails (1404) when its principal learns of a newer role: left
    // pending, it was asked again later with the numbers of the older role, and its recorder
    // went back to that role sequence (found by the model checker).
    #[test]
    fn a_pending_witness_off_fails_when_the_principal_becomes_the_mirror() {
        let mut p = principal_with_witness();
        p.handle_command(0, 15, SessionCommand::WitnessOff)
            .expect("accepted");
        p.take_outputs();
        let c = change(1, M, 0, FailoverKind::Automatic);
        let out = deliver(
            &mut p,
            SECOND,
            env(M, P, conn(P, 0), 1, M, hello(vec![c], config_at(1), 0)),
        );
        p.invariants();
        assert_eq!(p.role(), Role::Mirror);
        let failed = out.iter().find_map(|o| match o {
            Output::CommandCompleted { id: 15, result } => Some(result.clone()),
            _ => None,
        });
        assert_eq!(failed.map(|r| r.map_err(|e| e.number)), Some(Err(1404)));
        // A late answer to it changes nothing.
        let before = p.config().numbers;
        deliver(
            &mut p,
            SECOND,
            env(
                M,
                P,
                conn(P, 0),
                1,
                M,
                Message::WitnessOffRecorded {
                    witness_sequence: 2,
                },
            ),
        );
        assert_eq!(p.config().numbers, before);
    }

    /// A mirror that has the witness's grant and is taking over (redo drained, the fixed cost
    /// running).
    fn mirror_taking_over() -> Partner {
        let mut m = mirror_awaiting_grant();
        grant_automatic_failover(&mut m);
        m.handle_redo_drained(SECOND);
        m.take_outputs();
        m
    }

    // reference §5: manual failover needs a synchronized mirror (1422). An instance taking over
    // is the principal (its role is recorded) but not yet synchronized with its new mirror: a
    // FAILOVER issued on it is 1422, not the principal-only 1470.
    #[test]
    fn failover_on_an_instance_still_taking_over_is_1422() {
        let mut m = mirror_taking_over();
        let refused = m.handle_command(SECOND, 21, SessionCommand::Failover);
        assert_eq!(refused.map_err(|e| e.number), Err(1422));
        m.invariants();
    }

    // reference §2: SUSPEND from either partner suspends the session. Issued while this
    // instance takes over, it is applied once the take-over is done (it was dropped).
    #[test]
    fn suspend_during_a_take_over_is_applied_when_it_completes() {
        let mut m = mirror_taking_over();
        m.handle_command(SECOND, 21, SessionCommand::Suspend)
            .expect("accepted");
        assert_ne!(
            m.state(),
            MirroringState::Suspended,
            "not during the take-over"
        );
        m.handle_timer(SECOND + FAILOVER_COST, Timer::TakeOver);
        m.invariants();
        assert_eq!(m.state(), MirroringState::Suspended);
        assert!(m.config().suspended);
        let out = m.take_outputs();
        assert!(out.iter().any(|o| matches!(o, Output::Failover { .. })));
    }

    // reference §5 and §7: once the role change is recorded the new principal drains redo and
    // serves; SET PARTNER OFF then leaves its database online. Arriving during the take-over,
    // it ends the session only after the take-over (it ended it at once: no one served).
    #[test]
    fn partner_off_during_a_take_over_ends_the_session_after_it() {
        let mut m = mirror_taking_over();
        m.handle_command(SECOND, 22, SessionCommand::PartnerOff)
            .expect("accepted");
        assert!(!m.is_ended(), "the take-over finishes first");
        m.handle_timer(SECOND + FAILOVER_COST, Timer::TakeOver);
        let out = m.take_outputs();
        let failover = out
            .iter()
            .position(|o| matches!(o, Output::Failover { .. }))
            .expect("the take-over completes");
        let ended = out
            .iter()
            .position(|o| *o == Output::SessionEnded)
            .expect("then the session ends");
        assert!(failover < ended);
        assert!(m.is_ended() && m.role() == Role::Principal);
    }

    // reference §5 automatic failover steps: M records the grant, drains redo, pays 500 ms and
    // serves -- with a witness only once W recorded that it runs exposed (§4).
    #[test]
    fn mirror_takes_over_after_the_grant_and_serves_once_its_exposure_is_recorded() {
        let mut m = mirror_awaiting_grant();
        let (c, out) = grant_automatic_failover(&mut m);
        assert!(out.contains(&Output::RoleChanged {
            role: Role::Principal,
            role_sequence: 1
        }));
        assert!(out.contains(&Output::DrainRedo));
        assert_eq!(m.role(), Role::Principal);
        assert_eq!(m.durable().role_history, vec![c]);
        assert!(!m.accepts_commits(), "not before the take-over completes");

        m.handle_redo_drained(SECOND);
        assert!(m.take_outputs().contains(&Output::SetTimer {
            timer: Timer::TakeOver,
            after: FAILOVER_COST
        }));
        m.handle_timer(SECOND + FAILOVER_COST, Timer::TakeOver);
        m.invariants();
        let out = m.take_outputs();
        assert!(out.contains(&Output::Failover {
            kind: FailoverKind::Automatic,
            from: P,
            to: M,
            role_sequence: 1,
            failover_lsn: 0
        }));
        assert!(out.contains(&Output::Event(StateChangeEvent::AutomaticFailover)));
        assert!(
            !out.iter().any(|o| matches!(o, Output::Serve { .. })),
            "exposed: waits for W"
        );
        let report = exposure_report(&out).expect("an UNSYNCHRONIZED report to W");
        let out = from_peer(&mut m, 2 * SECOND, W, Message::StatusRecorded { report });
        assert!(out.contains(&Output::Serve {
            via: ServeVia::Automatic,
            role_sequence: 1,
            lsn_end: 0
        }));
        assert!(m.is_serving());
    }

    // reference §4: "Partners accept a role change from the witness only at the current witness
    // sequence."
    #[test]
    fn failover_grant_at_another_witness_sequence_is_ignored() {
        let mut m = mirror_awaiting_grant();
        let c = change(1, M, 0, FailoverKind::Automatic);
        let numbers = Numbers {
            role: 1,
            witness: 2,
            ..Numbers::default()
        };
        let grant = Message::FailoverGranted { change: c, numbers };
        let out = deliver(&mut m, SECOND, env(W, M, conn(M, 0), 1, M, grant));
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(m.role(), Role::Mirror);
        assert_eq!(m.role_sequence(), 0);
        assert!(m.durable().role_history.is_empty());
    }

    // reference §2: events 1/2 (principal) and 3/4 (mirror) tell whether the synchronized
    // partner has its witness. Losing the witness connection raises "without witness" and its
    // return "with witness" again, with no change of mirroring state (before, code 1 stayed the
    // last word while the witness was down).
    #[test]
    fn losing_and_regaining_the_witness_raises_the_synchronized_event_again() {
        let mut p = principal_with_witness();
        let out = lose(&mut p, W);
        assert_eq!(p.state(), MirroringState::Synchronized);
        assert_eq!(
            events(&out),
            [StateChangeEvent::SynchronizedPrincipalWithoutWitness]
        );
        p.handle_timer(SECOND, Timer::Ping);
        let conn = p.links().conn(W).expect("reconnecting");
        let out = deliver(&mut p, SECOND, env(W, P, conn, 0, P, Message::Accept));
        assert!(
            events(&out).is_empty(),
            "not before the witness shows it holds the session: {out:?}"
        );
        let out = from_peer(&mut p, SECOND, W, witness_greeting(witness_config()));
        assert_eq!(
            events(&out),
            [StateChangeEvent::SynchronizedPrincipalWithWitness]
        );
        // Nothing more while nothing changes.
        let out = from_peer(&mut p, SECOND, M, Message::Ping);
        assert!(events(&out).is_empty(), "{out:?}");

        let mut m = mirror_with_witness(true);
        let out = lose(&mut m, W);
        assert_eq!(
            events(&out),
            [StateChangeEvent::SynchronizedMirrorWithoutWitness]
        );
    }

    // reference §4: "A TIMEOUT change is sent by the principal to the mirror and the witness".
    // A witness that was away when it was made tells its record in its greeting, and the
    // principal sends it the configuration it lacks; a witness that has it gets nothing.
    #[test]
    fn a_witness_greeting_with_an_old_timeout_is_answered_with_the_configuration() {
        let mut p = principal_with_witness();
        p.handle_command(0, 3, SessionCommand::Timeout(20))
            .expect("TIMEOUT accepted");
        p.take_outputs();
        let out = from_peer(&mut p, 0, W, witness_greeting(witness_config()));
        let configs: Vec<_> = sent(&out)
            .into_iter()
            .filter_map(|(to, body)| match body {
                Message::Config(c) if to == W => Some(c),
                _ => None,
            })
            .collect();
        assert_eq!(configs, [p.config()]);
        assert_eq!(p.config().timeout_seconds, 20);
        let current = witness_greeting(p.config());
        let out = from_peer(&mut p, 0, W, current);
        assert!(
            !sent(&out)
                .iter()
                .any(|(_, body)| matches!(body, Message::Config(_))),
            "{out:?}"
        );
    }
}
