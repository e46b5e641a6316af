//! A partner of a mirroring session: the principal or the mirror of one database
//! (reference/mirroring.md sections 1 to 5). One state machine plays both roles, because a
//! failover turns one into the other.
//!
//! The handlers are small; the rules live in the helpers they call after every input
//! ([`Partner::settle`]): quorum, the exposure report to the witness, the switch LSN, serving,
//! the commit rule, the progress of pending commands, and the mirror's automatic-failover request.

use std::collections::VecDeque;

mod commands;

use crate::command::{SessionCommand, ERROR_DATABASE_UNAVAILABLE};

use crate::error::SqlError;
use crate::link::{Links, Received};
use crate::message::{Envelope, FailoverDenial, Hello, Message};
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
}

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

/// A principal or mirror of one session.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Partner {
    durable: PartnerDurable,
    links: Links,
    running: bool,
    ended: bool,
    state: MirroringState,
    witness_state: WitnessState,
    /// A principal: all log written. A mirror: all log received.
    lsn_end: Lsn,
    lsn_hardened: Lsn,
    /// Bumped whenever log is discarded, so that a flush of discarded log is not counted.
    epoch: u32,
    serving: bool,
    /// Taking over as principal: redo is draining (false) or the fixed cost is running (true).
    taking_over: Option<(FailoverKind, bool)>,
    /// How the next `Serve` came about.
    next_via: ServeVia,
    // Principal.
    mirror_ready: bool,
    lsn_shipped: Lsn,
    lsn_sent: Lsn,
    lsn_mirror_hardened: Lsn,
    switch_lsn: Option<Lsn>,
    exposure: Exposure,
    pending: VecDeque<(TxId, Lsn)>,
    manual_failover: Option<(CommandId, Lsn)>,
    set_partner: Option<(CommandId, Lsn)>,
    set_witness: Option<PendingWitness>,
    witness_off: Option<(Option<CommandId>, Numbers)>,
    // Mirror.
    handshaken: bool,
    told_synchronized: Option<Numbers>,
    witness_sees_principal: bool,
    failover_requested: bool,
    mutants: Mutants,
    out: Vec<Output>,
}

/// A SET WITNESS in progress.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct PendingWitness {
    id: CommandId,
    witness: InstanceId,
    lsn_needed: Lsn,
    issued: Nanos,
    joined_sent: bool,
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

    /// The principal side of `SET PARTNER`: the session starts (SYNCHRONIZING once the mirror
    /// answers). `lsn_end` is all log written, `lsn_hardened` all log flushed. The command `id`
    /// completes once the mirror has hardened the log that existed now (reference section 7).
    pub fn new_principal(
        me: InstanceId,
        mirror: InstanceId,
        lsn_end: Lsn,
        lsn_hardened: Lsn,
        fork: Fork,
        id: CommandId,
    ) -> Self {
        let mut partner = Self::blank(me, mirror, Role::Principal, lsn_hardened, fork);
        partner.lsn_end = lsn_end;
        partner.serving = true; // the database was online and serving before the session
        partner.set_partner = Some((id, lsn_end));
        partner.tick_now();
        partner.invariants();
        partner
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
            },
            links,
            running: true,
            ended: false,
            state: MirroringState::Disconnected,
            witness_state: WitnessState::Unknown,
            lsn_end: lsn_hardened,
            lsn_hardened,
            epoch: 0,
            serving: false,
            taking_over: None,
            next_via: ServeVia::Restart,
            mirror_ready: false,
            lsn_shipped: lsn_hardened,
            lsn_sent: lsn_hardened,
            lsn_mirror_hardened: 0,
            switch_lsn: None,
            exposure: Exposure::Unreported,
            pending: VecDeque::new(),
            manual_failover: None,
            set_partner: None,
            set_witness: None,
            witness_off: None,
            handshaken: false,
            told_synchronized: None,
            witness_sees_principal: false,
            failover_requested: false,
            mutants: Mutants::default(),
            out: Vec::new(),
        }
    }

    /// The first tick comes at once, so that a new session (or a restarted instance) connects
    /// without waiting a ping interval.
    fn tick_now(&mut self) {
        self.out.push(Output::SetTimer { timer: Timer::Ping, after: 0 });
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
    /// The witness's state as this partner sees it.
    pub fn witness_state(&self) -> WitnessState {
        self.witness_state
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
    /// The principal's knowledge of the mirror's hardened end.
    pub fn lsn_mirror_hardened(&self) -> Lsn {
        self.lsn_mirror_hardened
    }
    /// The principal's log not yet put on the wire to the mirror (the send queue), in bytes.
    pub fn send_queue_bytes(&self) -> u64 {
        if self.durable.role == Role::Principal
            && self.mirror_ready
            && !self.durable.config.suspended
        {
            self.lsn_end.saturating_sub(self.lsn_sent)
        } else {
            0
        }
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
            && self.has_quorum()
    }

    /// Switches a deliberate bug on (only in builds with the `mutants` feature).
    pub fn set_mutant(&mut self, mutant: Option<Mutant>) {
        self.mutants.set(mutant);
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
            Received::Established { peer, replaced } => {
                if replaced {
                    self.on_link_lost(peer);
                }
                self.on_link_up(peer);
            }
            Received::Lost { peer } => self.on_link_lost(peer),
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
                for peer in self
                    .links
                    .tick(now, timeout, self.role_view(), &mut self.out)
                {
                    self.on_link_lost(peer);
                }
                self.start_ticking();
                self.failover_requested = false; // a request unanswered for a second is retried
                self.check_set_witness_deadline(now);
            }
            Timer::TakeOver => {
                if let Some((kind, true)) = self.taking_over {
                    self.finish_take_over(kind);
                }
            }
        }
        self.settle(now);
    }

    /// The driver noticed a broken connection (a hard error at once; in the model checker, a
    /// connection declared lost at any time, even falsely).
    pub fn handle_connection_lost(&mut self, now: Nanos, peer: InstanceId, kind: ErrorKind) {
        if !self.running || self.ended {
            return;
        }
        if self.links.connection_lost(peer, kind) {
            self.on_link_lost(peer);
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
        }
        self.settle(now);
    }

    /// The driver put the principal's log up to `lsn` on the wire to the mirror.
    pub fn handle_log_sent(&mut self, now: Nanos, lsn: Lsn) {
        if !self.running || self.ended || self.durable.role != Role::Principal {
            return;
        }
        self.lsn_sent = self.lsn_sent.max(lsn.min(self.lsn_shipped));
        self.settle(now);
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
        if self.pending.len() >= PENDING_COMMITS_MAX {
            return Err(SqlError::new(
                ERROR_DATABASE_UNAVAILABLE,
                "too many commits are waiting for the mirror",
            ));
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
        self.running = false;
        self.serving = false;
        self.links.reset_all();
        self.pending.clear();
        self.taking_over = None;
        self.out.clear();
    }

    /// The process restarts with its log recovered up to `lsn_hardened`; it rejoins with its
    /// last role (reference section 4).
    pub fn restart(&mut self, now: Nanos, lsn_hardened: Lsn) {
        assert!(!self.running, "restart of a running instance");
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
        if let Some(w) = self.durable.config.witness {
            self.links.add_peer(w, true);
        }
        self.state = if self.durable.config.suspended {
            MirroringState::Suspended
        } else {
            MirroringState::Disconnected
        };
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
        if let Some(event) = self.state_event(new) {
            self.out.push(Output::Event(event));
        }
    }

    fn state_event(&self, new: MirroringState) -> Option<StateChangeEvent> {
        use StateChangeEvent as E;
        let with_witness = self.witness().is_some();
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
        }
    }

    fn send_hello(&mut self) {
        let hello = Hello {
            role_history: self.durable.role_history.clone(),
            config: (self.durable.role == Role::Principal).then_some(self.durable.config),
            lsn_end: self.lsn_end,
        };
        self.send(self.durable.partner, Message::Hello(hello));
    }

    fn on_link_lost(&mut self, peer: InstanceId) {
        if peer == self.durable.partner {
            self.on_partner_lost();
        } else if self.is_witness(peer) {
            self.witness_state = WitnessState::Disconnected;
            self.exposure = Exposure::Unreported;
            self.failover_requested = false;
            self.witness_sees_principal = false;
        }
    }

    fn on_partner_lost(&mut self) {
        self.handshaken = false;
        self.mirror_ready = false;
        self.switch_lsn = None;
        match self.durable.role {
            Role::Principal => {
                self.out
                    .push(Output::Event(StateChangeEvent::ConnectionWithMirrorLost));
                if let Some((id, _)) = self.manual_failover.take() {
                    let error = SqlError::new(1447, "the mirror connection was lost during the failover; the failover was not done");
                    self.out.push(Output::CommandCompleted {
                        id,
                        result: Err(error),
                    });
                }
                if let Some(p) = self.set_witness.take() {
                    self.complete(
                        p.id,
                        Err(SqlError::new(
                            1426,
                            "the mirror connection was lost before the witness could be set",
                        )),
                    );
                }
            }
            Role::Mirror => self
                .out
                .push(Output::Event(StateChangeEvent::ConnectionWithPrincipalLost)),
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
        if self.mutants.is(Mutant::IgnoreRoleSequence) {
            return self.on_body_mutant_ignoring_roles(now, from, body);
        }
        if view.role_sequence < self.role_sequence() {
            return; // stale: a lower role sequence is ignored (reference section 4)
        }
        if view.role_sequence > self.role_sequence() && !self.adopt(view, &body) {
            return; // a newer role we cannot take yet; the details come with a Hello
        }
        if from == self.durable.partner {
            self.on_partner_body(now, body);
        } else if self.is_witness(from) {
            self.on_witness_body(body);
        }
    }

    fn on_body_mutant_ignoring_roles(&mut self, now: Nanos, from: InstanceId, body: Message) {
        if from == self.durable.partner {
            self.on_partner_body(now, body);
        } else if self.is_witness(from) {
            self.on_witness_body(body);
        }
    }

    /// Adopts a higher role sequence seen in a message, before anything else. Returns whether the
    /// message can now be handled.
    fn adopt(&mut self, view: RoleView, body: &Message) -> bool {
        let history: Vec<RoleChange> = match body {
            Message::Hello(h) => h.role_history.clone(),
            Message::FailoverGranted { change, numbers }
                if numbers.witness == self.durable.config.numbers.witness =>
            {
                vec![*change]
            }
            Message::WitnessHello {
                last_change: Some(change),
                numbers,
                ..
            } if numbers.witness == self.durable.config.numbers.witness => vec![*change],
            _ => Vec::new(),
        };
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
                    self.take_over(change);
                }
                true
            }
            (true, None) => false,
            (false, _) => {
                self.become_mirror(view.role_sequence);
                true
            }
        }
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
            (Role::Mirror, Message::Hello(hello)) => self.on_principal_hello(hello),
            (Role::Mirror, Message::Log { lsn_from, lsn_to }) => self.on_log(lsn_from, lsn_to),
            (Role::Mirror, Message::Synchronized { numbers }) => self.on_synchronized(numbers),
            (Role::Mirror, Message::Config(config)) => self.on_config(config),
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
            (Role::Principal, Message::WitnessOffRecorded { witness_sequence }) => {
                self.on_witness_off_recorded(witness_sequence)
            }
            (_, Message::PartnerOff) => self.end_session(),
            _ => {}
        }
    }

    fn on_witness_body(&mut self, body: Message) {
        match body {
            Message::WitnessHello { sees_principal, .. } => {
                self.witness_sees_principal = sees_principal;
                if self.durable.role == Role::Principal {
                    // The witness (re)connected or lost track: report afresh (reference section 4).
                    self.exposure = Exposure::Unreported;
                    if !self.needs_exposure() {
                        self.report_status(SyncState::Synchronized);
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
            Message::FailoverDenied { reason } => {
                self.failover_requested = false;
                if reason == FailoverDenial::PrincipalConnected {
                    self.witness_sees_principal = true;
                }
            }
            Message::Joined { witness_sequence } => self.on_joined(witness_sequence),
            Message::WitnessOffRecorded { witness_sequence } => {
                self.on_witness_off_recorded(witness_sequence)
            }
            _ => {}
        }
    }

    // ----------------------------------------------------------------------------------------
    // The mirror's side of the handshake and of log shipping.

    /// The principal's handshake (reference section 4, "Reconnecting"): discard any log past the
    /// lowest of its end of log and the failover LSNs of every role change since this copy was
    /// last in step, then catch up from there.
    fn on_principal_hello(&mut self, hello: Hello) {
        let Some(config) = hello.config else { return };
        self.merge_history(&hello.role_history);
        let lowest = hello
            .role_history
            .iter()
            .filter(|c| c.role_sequence > self.durable.synced_role_sequence)
            .map(|c| c.failover_lsn)
            .chain(std::iter::once(hello.lsn_end))
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
        self.apply_config(config);
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

    fn on_config(&mut self, config: SessionConfig) {
        let was_suspended = self.durable.config.suspended;
        self.apply_config(config);
        if config.suspended {
            self.handshaken = false;
            self.set_state(MirroringState::Suspended);
        } else if was_suspended && self.links.is_up(self.durable.partner) {
            self.finish_handshake();
        }
    }

    fn apply_config(&mut self, config: SessionConfig) {
        let old = self.durable.config;
        if old.numbers != config.numbers {
            self.told_synchronized = None;
        }
        if old.witness != config.witness {
            if let Some(w) = old.witness {
                self.links.remove_peer(w);
                self.witness_state = WitnessState::Unknown;
            }
            if let Some(w) = config.witness {
                self.links.add_peer(w, true);
                self.durable.witness_excluded = false;
            }
        }
        self.durable.config = config;
    }

    // ----------------------------------------------------------------------------------------
    // The principal's side of the handshake and of log shipping.

    fn on_ready(&mut self, lsn_end: Lsn, lsn_hardened: Lsn) {
        self.mirror_ready = true;
        self.lsn_shipped = lsn_end.min(self.lsn_end);
        self.lsn_sent = self.lsn_shipped;
        self.lsn_mirror_hardened = lsn_hardened.min(self.lsn_end);
        self.switch_lsn = None;
        if !self.durable.config.suspended && self.state != MirroringState::PendingFailover {
            self.set_state(MirroringState::Synchronizing);
            self.exposure_numbers_changed();
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

    fn exposure_confirmed(&self) -> bool {
        self.witness().is_none() || matches!(self.exposure, Exposure::Confirmed(_))
    }

    fn exposure_numbers_changed(&mut self) {
        self.exposure = Exposure::Unreported;
    }

    fn has_quorum(&self) -> bool {
        if self.mutants.is(Mutant::ServeWithoutQuorum) {
            return true;
        }
        match self.witness() {
            None => true,
            Some(w) => self.links.is_up(self.durable.partner) || self.links.is_up(w),
        }
    }

    fn can_acknowledge(&self) -> bool {
        self.accepts_commits()
    }

    /// The commit rule of reference section 4, as the highest LSN up to which commits may be
    /// acknowledged now.
    fn ack_limit(&self) -> Lsn {
        if !self.serving {
            return 0;
        }
        let exposed_limit = if !self.exposure_confirmed() {
            0
        } else {
            match (self.state, self.durable.config.safety) {
                (MirroringState::PendingFailover, _) => 0,
                (MirroringState::Synchronized, Safety::Full)
                    if self.mutants.is(Mutant::AckBeforeMirrorHarden) =>
                {
                    Lsn::MAX
                }
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

    fn update_quorum_and_exposure(&mut self) {
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
            && (self.exposure_confirmed() || !self.needs_exposure());
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
            if reason == StopReason::NoQuorum {
                self.out.push(Output::Event(StateChangeEvent::NoQuorum));
                self.fail_pending("the database is offline: the principal lost quorum");
            }
        }
    }

    fn serve_via(&mut self) -> ServeVia {
        std::mem::replace(&mut self.next_via, ServeVia::Restart)
    }

    fn stop_reason(&self) -> StopReason {
        if self.durable.role != Role::Principal {
            StopReason::RoleChange
        } else if self.state == MirroringState::PendingFailover {
            StopReason::PendingFailover
        } else if !self.has_quorum() {
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
        let was_principal = self.durable.role == Role::Principal;
        if was_principal {
            // Log not yet hardened is lost with the role, as in a crash.
            self.discard_past(self.lsn_hardened);
        }
        self.durable.role = Role::Mirror;
        self.durable.config.numbers.role = role_sequence;
        self.taking_over = None;
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
                self.state = MirroringState::Disconnected;
            }
        }
        self.update_serving();
        if self.links.is_up(self.durable.partner) {
            self.send_hello();
        }
    }

    /// This mirror takes over as principal after `change` was durably recorded (by the witness
    /// for an automatic failover, by the old principal for a manual one, here for forced
    /// service): record it, drain redo, pay the fixed cost, then serve (reference section 5).
    fn take_over(&mut self, change: RoleChange) {
        assert_eq!(self.durable.role, Role::Mirror, "only a mirror takes over");
        assert_eq!(change.principal, self.durable.me);
        // Received but unhardened log was never acknowledged: it is lost with the role change,
        // as in a crash (the log engine turns a mirror log into a writer at its hardened LSN).
        self.discard_past(self.lsn_hardened);
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
        self.out.push(Output::RoleChanged {
            role: Role::Principal,
            role_sequence: change.role_sequence,
        });
        self.out.push(Output::DrainRedo);
        if self.state != MirroringState::Suspended {
            self.set_state(MirroringState::Disconnected);
        }
    }

    fn finish_take_over(&mut self, kind: FailoverKind) {
        self.taking_over = None;
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
        }
        let _ = now;
        self.invariants();
    }

    fn settle_principal(&mut self) {
        if self.taking_over.is_some() {
            return;
        }
        self.update_switch();
        self.update_quorum_and_exposure();
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
                self.lsn_sent <= self.lsn_shipped && self.lsn_shipped <= self.lsn_end,
                "send queue accounting"
            );
            assert!(
                self.lsn_mirror_hardened <= self.lsn_end,
                "the mirror hardened log the principal never wrote"
            );
            assert!(
                self.pending
                    .iter()
                    .zip(self.pending.iter().skip(1))
                    .all(|(a, b)| a.1 <= b.1),
                "pending commits out of LSN order"
            );
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
            assert!(
                self.witness().is_some_and(|w| self.links.is_up(w)),
                "an exposure confirmed by an unreachable witness"
            );
        }
        if !self.running {
            assert!(!self.serving && self.pending.is_empty());
        }
    }
}
