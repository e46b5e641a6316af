//! The stateright model: the driver that hands the protocol's state machines their inputs in
//! every order the configuration allows, and records what they do.
//!
//! It is a driver like the simulator, never a second implementation of the rules: every
//! decision (who serves, what is acknowledged, what a handshake discards, whether a command is
//! accepted) is taken by `mirror_protocol::{Partner, Witness}`; the model only routes their
//! outputs (messages to queues, flushes to the disk, timers to actions) and judges the result.

// The two partners index several parallel arrays (logs, flushes, timers): a range loop over
// their indices reads better than zipping four iterators.
#![allow(clippy::needless_range_loop)]

use mirror_protocol::{ConnId, Envelope, Fork, Lsn, Numbers};
use mirror_protocol::{
    ErrorKind, FailoverKind, InstanceId, LinkState, Message, Output, Partner, Role, Safety,
    SessionCommand, SyncState, Timer, Witness,
};
use stateright::{Model, Property};

use crate::config::{Configuration, Mode};
use crate::shared::Shared;
use crate::state::*;

/// The model of one configuration.
#[derive(Clone, Debug)]
pub struct SessionModel {
    /// What is checked.
    pub configuration: Configuration,
}

/// One nondeterministic step.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Deliver the message at `position` of the queue from `from` to `to` (always 0, the
    /// oldest, unless the configuration reorders).
    Deliver {
        /// The sender.
        from: InstanceId,
        /// The receiver.
        to: InstanceId,
        /// Which queued message.
        position: usize,
    },
    /// The ping tick of an instance (offered only when it does something: open a connection,
    /// resend a lost connect request, retry a failover request).
    Tick(InstanceId),
    /// The oldest outstanding log flush of a partner completes.
    Flushed(InstanceId),
    /// A partner's redo queue has drained (the answer to `DrainRedo`).
    RedoDrained(InstanceId),
    /// A partner's take-over timer fires.
    TakeOver(InstanceId),
    /// A client commits the next transaction on this partner.
    Commit(InstanceId),
    /// `on` declares its connection to `peer` lost: truly (partitioned link, stopped peer, or a
    /// connection the peer no longer holds) or, when `suspicion`, falsely.
    DeclareLost {
        /// Who declares.
        on: InstanceId,
        /// The peer.
        peer: InstanceId,
        /// Whether the connection is in fact fine (a false suspicion, budgeted).
        suspicion: bool,
    },
    /// The process of an instance dies (its durable state survives; unhardened log is lost).
    Crash(InstanceId),
    /// A crashed instance restarts.
    Restart(InstanceId),
    /// The link between two instances is partitioned (both directions).
    Partition(InstanceId, InstanceId),
    /// A partitioned link heals.
    Heal(InstanceId, InstanceId),
    /// An operator command issued on a partner (offered only when the protocol accepts it).
    Command {
        /// Where it is issued.
        on: InstanceId,
        /// What.
        command: SessionCommand,
    },
}

/// The operator commands the model tries. WITNESS OFF and SET WITNESS change the witness
/// sequence, which failovers are granted and accepted at (offered in the witness mode only;
/// SET WITNESS once WITNESS OFF has removed the witness: with one witness instance the model
/// never replaces a witness, whose two halves are these two procedures in turn). TIMEOUT and PARTNER OFF are left
/// out: the model has no clock, and a session that ends has nothing left to check.
const COMMANDS: [SessionCommand; 8] = [
    SessionCommand::Failover,
    SessionCommand::ForceService,
    SessionCommand::Suspend,
    SessionCommand::Resume,
    SessionCommand::Safety(Safety::Full),
    SessionCommand::Safety(Safety::Off),
    SessionCommand::WitnessOff,
    SessionCommand::SetWitness(GAMMA),
];

/// A bound on the deterministic setup prefix; the setup settles in far fewer steps.
const SETUP_STEPS_MAX: usize = 1_000;

impl SessionModel {
    /// The model of `configuration`.
    pub fn new(configuration: Configuration) -> Self {
        Self { configuration }
    }

    // ----------------------------------------------------------------------------------------
    // The set-up session (the deterministic prefix).

    /// The state every run starts from: the session set up as reference section 7 describes
    /// (SET PARTNER on the mirror, then on the principal; SET WITNESS; SAFETY OFF for high
    /// performance), each step run to quiescence in a fixed order.
    pub fn initial_state(&self) -> SessionState {
        let cfg = &self.configuration;
        let mut beta = Partner::new_mirror(BETA, ALPHA, 0, Fork(0));
        beta.set_mutant(cfg.mutant);
        let mut alpha = Partner::new_principal(ALPHA, BETA, 0, 0, Fork(0), 0, 0);
        alpha.set_mutant(cfg.mutant);
        let mut s = SessionState {
            partners: [Shared::new(alpha), Shared::new(beta)],
            witness: None,
            network: Default::default(),
            flushes: Default::default(),
            logs: Default::default(),
            redo_pending: [false; 2],
            take_over_pending: [false; 2],
            cut: [false; 3],
            budgets: Budgets {
                next_tx: 1,
                crashes: 0,
                partitions: 0,
                suspicions: 0,
                commands: 0,
            },
            commands_issued: 0,
            ghost: Shared::default(),
        };
        // The database was online and serving before the session (Partner::new_principal).
        s.ghost_mut().served.push(Served {
            by: ALPHA,
            role_sequence: 0,
            via: mirror_protocol::ServeVia::Setup,
            log: Vec::new(),
        });
        self.drain(&mut s, BETA);
        self.drain(&mut s, ALPHA);
        self.settle(&mut s);
        if cfg.mode.has_witness() {
            let mut witness = Witness::new(GAMMA);
            witness.set_mutant(cfg.mutant);
            s.witness = Some(Shared::new(witness));
            self.drain(&mut s, GAMMA);
            self.setup_command(&mut s, SessionCommand::SetWitness(GAMMA));
        }
        if cfg.mode == Mode::HighPerformance {
            self.setup_command(&mut s, SessionCommand::Safety(Safety::Off));
        }
        let alpha = &s.partners[0];
        assert!(
            alpha.role() == Role::Principal && alpha.is_serving(),
            "setup: alpha serves"
        );
        assert_eq!(
            alpha.state(),
            mirror_protocol::MirroringState::Synchronized,
            "setup: the session is SYNCHRONIZED"
        );
        assert_eq!(
            alpha.config().witness.is_some(),
            cfg.mode.has_witness(),
            "setup: the witness is set"
        );
        assert!(
            s.ghost.violations.is_empty(),
            "setup: {:?}",
            s.ghost.violations
        );
        s.budgets = Budgets {
            next_tx: 1,
            crashes: cfg.crashes,
            partitions: cfg.partitions,
            suspicions: cfg.suspicions,
            commands: cfg.commands,
        };
        s
    }

    fn setup_command(&self, s: &mut SessionState, command: SessionCommand) {
        s.commands_issued += 1;
        let id = s.commands_issued;
        s.partner_mut(0)
            .handle_command(0, id, command)
            .unwrap_or_else(|e| panic!("setup: {command:?} refused: {e}"));
        self.drain(s, ALPHA);
        self.settle(s);
    }

    /// Runs the deterministic steps (oldest message of the first non-empty queue, flushes,
    /// redo, take-over, useful ticks) until none is left.
    fn settle(&self, s: &mut SessionState) {
        for _ in 0..SETUP_STEPS_MAX {
            let mut actions = Vec::new();
            self.progress_actions(s, &mut actions);
            self.tick_actions(s, &mut actions);
            let Some(action) = actions.into_iter().next() else {
                return;
            };
            self.apply(s, action);
        }
        panic!("setup: the session does not settle");
    }

    // ----------------------------------------------------------------------------------------
    // Actions.

    /// Deliveries, flushes, redo and take-over: the steps the instances' own work makes.
    fn progress_actions(&self, s: &SessionState, actions: &mut Vec<Action>) {
        for (ch, queue) in s.network.iter().enumerate() {
            let (from, to) = channel_ends(ch);
            if queue.is_empty() || s.is_cut(from, to) {
                continue;
            }
            let positions = if self.configuration.reorder {
                queue.len()
            } else {
                1
            };
            for position in 0..positions {
                actions.push(Action::Deliver { from, to, position });
            }
        }
        for i in 0..2 {
            let id = INSTANCES[i];
            if !s.flushes[i].is_empty() {
                actions.push(Action::Flushed(id));
            }
            if s.redo_pending[i] {
                actions.push(Action::RedoDrained(id));
            }
            if s.take_over_pending[i] {
                actions.push(Action::TakeOver(id));
            }
        }
    }

    /// Ping ticks that change something.
    fn tick_actions(&self, s: &SessionState, actions: &mut Vec<Action>) {
        for i in 0..2 {
            if self.tick_is_useful(s, i) {
                actions.push(Action::Tick(INSTANCES[i]));
            }
        }
    }

    /// Whether a ping tick on partner `i` would change the state: the partner itself changes
    /// (a connection is opened), or it sends something that is not a ping and not a redundant
    /// retry (tried on a copy of the partner).
    fn tick_is_useful(&self, s: &SessionState, i: usize) -> bool {
        let p = &s.partners[i];
        if !p.is_running() || p.is_ended() {
            return false;
        }
        // The model's clock stands still (every handler runs at time 0), so a tick on an up
        // connection only pings, and a down one waits for its initiator. With nothing being
        // opened and no failover request to retry, the tick only pings: no need to try it (the
        // trial copies the whole partner, which was an eighth of the checker's time).
        let idle_links = p
            .links()
            .links
            .iter()
            .all(|l| l.is_up() || (l.state == LinkState::Down && !l.initiator));
        if idle_links && !p.failover_requested() {
            return false;
        }
        let mut trial = Partner::clone(p);
        trial.handle_timer(0, Timer::Ping);
        let outputs = trial.take_outputs();
        trial != **p
            || outputs.iter().any(|o| match o {
                Output::Send(env) => {
                    !matches!(env.body, Message::Ping | Message::Pong { .. })
                        && s.is_running(env.to)
                        && !self.redundant_retry(s, env)
                }
                _ => false,
            })
    }

    fn fault_actions(&self, s: &SessionState, actions: &mut Vec<Action>) {
        let has_witness = s.witness.is_some();
        let exists = |id: InstanceId| id != GAMMA || has_witness;
        // Connections declared lost.
        for on in INSTANCES.into_iter().filter(|&id| exists(id)) {
            if !s.is_running(on) {
                continue;
            }
            let links = match index(on) {
                i @ 0..=1 => s.partners[i].links().links.clone(),
                _ => s.witness.as_ref().expect("exists").links().links.clone(),
            };
            for l in links {
                let LinkState::Up(conn) = l.state else {
                    continue;
                };
                let peer = l.peer;
                // The peer still holds the connection (up, or its handshake under way).
                let peer_holds = s.is_running(peer)
                    && matches!(
                        self.link_state(s, peer, on),
                        Some(LinkState::Up(c) | LinkState::Accepted(c) | LinkState::Connecting(c)) if c == conn
                    );
                let suspicion = !s.is_cut(on, peer) && peer_holds;
                if suspicion && self.privileged_declarations_left(s) == 0 {
                    continue;
                }
                actions.push(Action::DeclareLost {
                    on,
                    peer,
                    suspicion,
                });
            }
        }
        // Crashes and restarts.
        for id in INSTANCES.into_iter().filter(|&id| exists(id)) {
            if s.is_running(id) {
                if s.budgets.crashes > 0 {
                    actions.push(Action::Crash(id));
                }
            } else {
                actions.push(Action::Restart(id));
            }
        }
        // Partitions and heals, when they are modelled literally (otherwise a partition is
        // the declaration it pays for: see `privileged_declarations_left`).
        if !self.configuration.literal_partitions {
            return;
        }
        for l in 0..3 {
            let (a, b) = link_ends(l);
            if !exists(a) || !exists(b) {
                continue;
            }
            if s.cut[l] {
                actions.push(Action::Heal(a, b));
            } else if s.budgets.partitions > 0 {
                actions.push(Action::Partition(a, b));
            }
        }
    }

    /// How many more connections that the peer still holds may be declared lost.
    ///
    /// Each false suspicion pays for one. So does each partition, unless partitions are
    /// modelled literally ([`Configuration::literal_partitions`]): a partition's only effect
    /// beyond what the asynchronous network already allows is one such declaration. A cut link
    /// only holds its messages, and the network may hold any message for as long as it likes.
    /// Once one end has declared the connection lost, the other end's declaration is true
    /// anyway (its peer no longer holds it), and no new connection can be opened across the cut.
    /// So a run with cuts and heals is, step for step, a run without them in which the first
    /// declaration on each cut link is paid by that partition; and a run of this model becomes
    /// one of the literal model by cutting the link just before such a declaration and healing
    /// it just after. The protocol takes a soft and a hard error the same way (reference
    /// section 3: either ends the connection). `literal_and_reduced_partitions_reach_the_same_states`
    /// checks this on small configurations. Cut links and their heals multiplied the states by
    /// about 1.25.
    fn privileged_declarations_left(&self, s: &SessionState) -> u8 {
        if self.configuration.literal_partitions {
            s.budgets.suspicions
        } else {
            s.budgets.suspicions + s.budgets.partitions
        }
    }

    /// Pays for a declaration that [`Self::privileged_declarations_left`] allowed: a false
    /// suspicion first, then a partition (one order, so that a run reaches one state).
    fn pay_privileged_declaration(&self, s: &mut SessionState) {
        if s.budgets.suspicions > 0 {
            s.budgets.suspicions -= 1;
        } else {
            assert!(
                !self.configuration.literal_partitions && s.budgets.partitions > 0,
                "a declaration on a held connection was offered without budget"
            );
            s.budgets.partitions -= 1;
        }
    }

    /// `on`'s connection to `peer`, when `peer` is one of its peers.
    fn link_state(&self, s: &SessionState, on: InstanceId, peer: InstanceId) -> Option<LinkState> {
        match index(on) {
            i @ 0..=1 => s.partners[i].links().link(peer).map(|l| l.state),
            _ => s
                .witness
                .as_ref()
                .and_then(|w| w.links().link(peer).map(|l| l.state)),
        }
    }

    fn client_actions(&self, s: &SessionState, actions: &mut Vec<Action>) {
        if s.budgets.next_tx > u64::from(self.configuration.transactions) {
            return;
        }
        for i in 0..2 {
            if s.partners[i].accepts_commits() {
                actions.push(Action::Commit(INSTANCES[i]));
            }
        }
    }

    fn command_actions(&self, s: &SessionState, actions: &mut Vec<Action>) {
        if s.budgets.commands == 0 {
            return;
        }
        for i in 0..2 {
            let p = &s.partners[i];
            if !p.is_running() || p.is_ended() {
                continue;
            }
            for command in COMMANDS {
                let witness_command = matches!(
                    command,
                    SessionCommand::WitnessOff | SessionCommand::SetWitness(_)
                );
                if witness_command && s.witness.is_none() {
                    continue;
                }
                if command == SessionCommand::SetWitness(GAMMA) && p.config().witness == Some(GAMMA)
                {
                    // Naming the witness already set changes nothing (it completes at once):
                    // offering it would only multiply states by the commands budget.
                    continue;
                }
                let mut trial = Partner::clone(p);
                if trial
                    .handle_command(0, s.commands_issued + 1, command)
                    .is_ok()
                {
                    actions.push(Action::Command {
                        on: INSTANCES[i],
                        command,
                    });
                }
            }
        }
    }

    // ----------------------------------------------------------------------------------------
    // Steps.

    /// Applies one action to `s` (the protocol's handlers, then their outputs).
    pub fn apply(&self, s: &mut SessionState, action: Action) {
        match action {
            Action::Deliver { from, to, position } => {
                let packet = &s.network[channel(from, to)][position];
                let connect = (packet.env.body == Message::Connect).then_some(packet.env.conn);
                self.deliver(s, from, to, position);
                if let Some(conn) = connect {
                    self.establish(s, from, to, conn);
                }
            }
            Action::Tick(id) => {
                s.partner_mut(index(id)).handle_timer(0, Timer::Ping);
                self.drain(s, id);
            }
            Action::Flushed(id) => {
                let i = index(id);
                let (lsn, epoch) = s.flushes[i].remove(0);
                s.partner_mut(i).handle_flushed(0, lsn, epoch);
                self.drain(s, id);
            }
            Action::RedoDrained(id) => {
                let i = index(id);
                s.redo_pending[i] = false;
                s.partner_mut(i).handle_redo_drained(0);
                self.drain(s, id);
            }
            Action::TakeOver(id) => {
                let i = index(id);
                s.take_over_pending[i] = false;
                s.partner_mut(i).handle_timer(0, Timer::TakeOver);
                self.drain(s, id);
            }
            Action::Commit(id) => self.commit(s, id),
            Action::DeclareLost {
                on,
                peer,
                suspicion,
            } => {
                let kind = if suspicion {
                    self.pay_privileged_declaration(s);
                    ErrorKind::Soft
                } else {
                    ErrorKind::Hard
                };
                match index(on) {
                    i @ 0..=1 => s.partner_mut(i).handle_connection_lost(0, peer, kind),
                    _ => s
                        .witness_mut()
                        .expect("exists")
                        .handle_connection_lost(0, peer, kind),
                }
                self.drain(s, on);
            }
            Action::Crash(id) => self.crash(s, id),
            Action::Restart(id) => {
                match index(id) {
                    i @ 0..=1 => {
                        let hardened = s.partners[i].lsn_hardened();
                        s.partner_mut(i).restart(0, hardened);
                    }
                    _ => s.witness_mut().expect("exists").restart(0),
                }
                self.drain(s, id);
            }
            Action::Partition(a, b) => {
                s.budgets.partitions -= 1;
                s.cut[link(a, b)] = true;
            }
            Action::Heal(a, b) => s.cut[link(a, b)] = false,
            Action::Command { on, command } => self.command(s, on, command),
        }
        self.normalize(s);
        self.judge_state(s);
    }

    /// Drops what can no longer have an effect:
    /// - flushes of discarded log (an older epoch) or of log already hardened: `handle_flushed`
    ///   ignores both. With them gone, every outstanding flush is of the current epoch, and the
    ///   epoch is renumbered 0: a partner compares epochs only with its flush completions, so
    ///   states that differ only in how many times their log was discarded or recovered have
    ///   the same futures (a seventh of the states of the witness mode with a crash);
    /// - messages of a connection that neither end holds any more (both declared it lost, or
    ///   restarted): delivered, they would only be answered by a reset that the other end
    ///   ignores. A connect request whose initiator gave the connection up is dropped too: the
    ///   initiator's side of the TCP handshake is gone. So is a restarted acceptor's request
    ///   that its initiator connect now (`Links::ask_initiators_to_connect`), which no one
    ///   holds: answered, it opens the link as the initiator's next tick would, and the model
    ///   offers that tick at any moment (its clock stands still), so the request only makes
    ///   the simulator's reconnection prompt.
    fn normalize(&self, s: &mut SessionState) {
        for i in 0..2 {
            let p = &s.partners[i];
            let (epoch, hardened) = (p.epoch(), p.lsn_hardened());
            s.flushes[i].retain(|&(lsn, e)| e == epoch && lsn > hardened);
        }
        if self.configuration.renumber_epochs {
            renumber_epochs(s);
        }
        for ch in 0..s.network.len() {
            if s.network[ch].is_empty() {
                continue;
            }
            let (from, to) = channel_ends(ch);
            let holds = |on: InstanceId, peer: InstanceId, conn: ConnId| {
                s.is_running(on)
                    && matches!(
                        self.link_state(s, on, peer),
                        Some(LinkState::Up(c) | LinkState::Accepted(c) | LinkState::Connecting(c)) if c == conn
                    )
            };
            let keep = |p: &Packet| {
                let conn = p.env.conn;
                match p.env.body {
                    Message::Connect => holds(from, to, conn),
                    _ => holds(from, to, conn) || holds(to, from, conn),
                }
            };
            // Most steps drop nothing: look first, so that only a drop copies the queue.
            if s.network[ch].iter().all(keep) {
                continue;
            }
            let queue: Vec<Packet> = s.network[ch].iter().filter(|p| keep(p)).cloned().collect();
            s.network[ch] = Shared::new(queue);
        }
    }

    /// A connection is established on both ends in one step: when the acceptor accepts, its
    /// `Accept` is delivered at once. Nothing can tell the two ends' moments apart: the
    /// initiator sends nothing on a connection it is still opening, and what the acceptor sends
    /// queues behind its `Accept`; every other event on either end commutes with the delivery
    /// (it touches the other end, or a connection the initiator no longer holds). This removes
    /// the states with an `Accept` in flight, a reduction of partial-order kind.
    fn establish(
        &self,
        s: &mut SessionState,
        initiator: InstanceId,
        acceptor: InstanceId,
        conn: ConnId,
    ) {
        if s.is_cut(initiator, acceptor)
            || !s.is_running(initiator)
            || self.link_state(s, initiator, acceptor) != Some(LinkState::Connecting(conn))
        {
            return;
        }
        let queue = &s.network[channel(acceptor, initiator)];
        let accept = queue
            .iter()
            .position(|p| p.env.conn == conn && p.env.body == Message::Accept);
        if let Some(position) = accept {
            self.deliver(s, acceptor, initiator, position);
        }
    }

    fn deliver(&self, s: &mut SessionState, from: InstanceId, to: InstanceId, position: usize) {
        let packet = s.queue_mut(channel(from, to)).remove(position);
        let env = packet.env;
        if to == GAMMA {
            let mut failed = match env.body {
                Message::FailoverRequest { numbers, .. } => {
                    self.witness_conditions(s, from, numbers)
                }
                Message::ForceServiceRequest { .. } => self.forced_witness_conditions(s, from),
                _ => Vec::new(),
            };
            failed.extend(packet.declared.iter().copied());
            let witness = s.witness_mut().expect("messages reach an existing witness");
            witness.handle_message(0, env);
            let outputs = witness.take_outputs();
            let granted = outputs.iter().find_map(|o| match o {
                Output::Send(e) if e.to == from => match e.body {
                    Message::FailoverGranted { change, .. } => Some(change.kind),
                    _ => None,
                },
                _ => None,
            });
            match granted {
                Some(_) if failed.is_empty() => {}
                Some(FailoverKind::Forced) => {
                    s.ghost_mut().violate(Violation::ForcedServiceNotAllowed {
                        mirror: from,
                        failed,
                    });
                }
                Some(_) => s.ghost_mut().violate(Violation::FailoverNotAllowed {
                    mirror: from,
                    failed,
                }),
                None => {}
            }
            self.route(s, GAMMA, outputs);
            return;
        }
        let i = index(to);
        let partner = &s.partners[i];
        let accepted = partner.is_running()
            && !partner.is_ended()
            && matches!(
                partner.links().link(from).map(|l| l.state),
                Some(LinkState::Up(c) | LinkState::Accepted(c)) if c == env.conn
            )
            && !matches!(
                env.body,
                Message::Connect | Message::Accept | Message::Reset | Message::Confirm
            );
        let told = env.role.role_sequence;
        let end_before = partner.lsn_end();
        let is_log = matches!(env.body, Message::Log { lsn_from, .. } if lsn_from == end_before);
        s.partner_mut(i).handle_message(0, env);
        let partner = &s.partners[i];
        if is_log && partner.lsn_end() > end_before {
            let end = partner.lsn_end();
            s.log_mut(i)
                .extend(packet.records.iter().copied().filter(|&(l, _)| l <= end));
        }
        if accepted && told > s.partners[i].role_sequence() {
            s.ghost_mut().ignored_role[i] = s.ghost.ignored_role[i].max(told);
        }
        let outputs = s.partner_mut(i).take_outputs();
        let handshake = outputs
            .iter()
            .any(|o| matches!(o, Output::Send(e) if matches!(e.body, Message::Ready { .. })));
        self.route(s, to, outputs);
        if handshake {
            self.check_prefix(s, to, from, &packet.records);
        }
    }

    fn commit(&self, s: &mut SessionState, id: InstanceId) {
        let i = index(id);
        let tx = s.budgets.next_tx;
        s.budgets.next_tx += 1;
        let lsn = s.partners[i].lsn_end() + 1;
        s.log_mut(i).push((lsn, tx));
        s.partner_mut(i)
            .handle_commit(0, tx, lsn)
            .expect("offered only where commits are accepted");
        self.drain(s, id);
    }

    fn crash(&self, s: &mut SessionState, id: InstanceId) {
        s.budgets.crashes -= 1;
        match index(id) {
            i @ 0..=1 => {
                s.partner_mut(i).crash();
                let hardened = s.partners[i].lsn_hardened();
                s.log_mut(i).retain(|&(l, _)| l <= hardened);
                s.flushes[i].clear();
                s.redo_pending[i] = false;
                s.take_over_pending[i] = false;
            }
            _ => s.witness_mut().expect("exists").crash(),
        }
        // Messages to a dead process are gone; those it sent may still arrive.
        for (ch, queue) in s.network.iter_mut().enumerate() {
            if channel_ends(ch).1 == id && !queue.is_empty() {
                *queue = Shared::default();
            }
        }
    }

    fn command(&self, s: &mut SessionState, on: InstanceId, command: SessionCommand) {
        s.budgets.commands -= 1;
        s.commands_issued += 1;
        let failed = if command == SessionCommand::ForceService {
            self.forced_service_conditions(s, on)
        } else {
            Vec::new()
        };
        let i = index(on);
        let was_mirror = s.partners[i].role() == Role::Mirror;
        let id = s.commands_issued;
        s.partner_mut(i)
            .handle_command(0, id, command)
            .expect("offered only when accepted");
        // Forced service taken at once (no witness set) is judged now; with a witness it is
        // judged when the witness grants it (`deliver`).
        let forced_now = was_mirror && s.partners[i].role() == Role::Principal;
        if forced_now && !failed.is_empty() {
            s.ghost_mut()
                .violate(Violation::ForcedServiceNotAllowed { mirror: on, failed });
        }
        self.drain(s, on);
    }

    // ----------------------------------------------------------------------------------------
    // Outputs.

    /// Routes every output of `id` since its last handler.
    fn drain(&self, s: &mut SessionState, id: InstanceId) {
        let outputs = match index(id) {
            i @ 0..=1 => s.partner_mut(i).take_outputs(),
            _ => s.witness_mut().expect("exists").take_outputs(),
        };
        self.route(s, id, outputs);
    }

    fn route(&self, s: &mut SessionState, id: InstanceId, outputs: Vec<Output>) {
        let mut log_sent: Option<Lsn> = None;
        for output in outputs {
            self.output(s, id, output, &mut log_sent);
        }
        if let Some(lsn) = log_sent {
            // The driver put the log on the wire (the protocol's send-queue accounting).
            s.partner_mut(index(id)).handle_log_sent(0, lsn);
            self.drain(s, id);
        }
    }

    fn output(
        &self,
        s: &mut SessionState,
        id: InstanceId,
        output: Output,
        log_sent: &mut Option<Lsn>,
    ) {
        match output {
            Output::Send(env) => self.send(s, id, env, log_sent),
            Output::SetTimer {
                timer: Timer::TakeOver,
                ..
            } => s.take_over_pending[index(id)] = true,
            Output::Flush { lsn, epoch } => s.flushes[index(id)].push((lsn, epoch)),
            Output::Discard { lsn, .. } => {
                let i = index(id);
                s.log_mut(i).retain(|&(l, _)| l <= lsn);
            }
            Output::NewFork { lsn, .. } => {
                let role_sequence = s.partners[index(id)].role_sequence();
                let log = Log::clone(&s.logs[index(id)]);
                s.ghost_mut().forced.push(Forced {
                    by: id,
                    role_sequence,
                    fork_lsn: lsn,
                    log,
                });
            }
            Output::DrainRedo => s.redo_pending[index(id)] = true,
            Output::Serve {
                via,
                role_sequence,
                lsn_end,
            } => self.on_serve(s, id, via, role_sequence, lsn_end),
            Output::Acknowledge {
                tx,
                lsn,
                role_sequence,
            } => self.on_acknowledge(
                s,
                Acked {
                    tx,
                    lsn,
                    role_sequence,
                    by: id,
                },
            ),
            Output::Failover {
                kind,
                to,
                role_sequence,
                ..
            } => s.ghost_mut().switches.push(RoleSwitch {
                kind,
                to,
                role_sequence,
            }),
            // Ping ticks stay armed while an instance runs: they are the `Tick` action.
            Output::SetTimer {
                timer: Timer::Ping, ..
            }
            | Output::StopServing { .. }
            | Output::FailCommit { .. }
            | Output::StateChanged { .. }
            | Output::RoleChanged { .. }
            | Output::Event(_)
            | Output::CommandCompleted { .. }
            // The model never ends a session (PARTNER OFF is not among its commands).
            | Output::CommitWithoutMirroring { .. }
            | Output::SessionEnded => {}
        }
    }

    fn send(
        &self,
        s: &mut SessionState,
        from: InstanceId,
        env: Envelope,
        log_sent: &mut Option<Lsn>,
    ) {
        // Pings and their replies only feed the clock-based detector, which the model replaces
        // with the `DeclareLost` action.
        if matches!(env.body, Message::Ping | Message::Pong { .. }) {
            return;
        }
        let to = env.to;
        if !s.is_running(to) {
            return; // nobody listens: the sender sees a hard error via `DeclareLost`
        }
        let mut records = Vec::new();
        let principal_hello = matches!(&env.body, Message::Hello(h) if h.config.is_some());
        if principal_hello || matches!(env.body, Message::Config(_)) {
            // What the sender had generated when it opened the handshake (for `log_prefix`).
            records = Log::clone(&s.logs[index(from)]);
        }
        if let Message::Log { lsn_from, lsn_to } = env.body {
            records = s.logs[index(from)]
                .iter()
                .filter(|&&(l, _)| l > lsn_from && l <= lsn_to)
                .copied()
                .collect();
            *log_sent = Some(log_sent.map_or(lsn_to, |l| l.max(lsn_to)));
        }
        let declared = match env.body {
            Message::FailoverRequest { .. } => self.mirror_conditions(s, from),
            Message::ForceServiceRequest { .. } => self.forced_service_mirror_conditions(s, from),
            _ => Vec::new(),
        };
        let packet = Packet {
            env,
            records,
            declared,
        };
        if self.redundant_retry(s, &packet.env) {
            return;
        }
        let queue = s.queue_mut(channel(from, to));
        queue.push(packet);
    }

    /// A retry (a repeated connect request, a repeated failover request) that cannot change
    /// anything is not queued: the same message is still queued, or its answer is (a reset
    /// included: the connection is gone). Messages are
    /// never lost in the model (a partition holds them), so the original will be answered.
    /// Without this rule every ping tick would queue one more copy and the state space would
    /// have no bound.
    fn redundant_retry(&self, s: &SessionState, env: &Envelope) -> bool {
        let (from, to, conn) = (env.from, env.to, env.conn);
        let answered = |answer: fn(&Message) -> bool| {
            s.network[channel(to, from)]
                .iter()
                .any(|p| p.env.conn == conn && answer(&p.env.body))
        };
        let queued = s.network[channel(from, to)].iter().any(|p| p.env == *env);
        match env.body {
            Message::Connect => {
                queued
                    || matches!(
                        self.link_state(s, to, from),
                        Some(LinkState::Up(c) | LinkState::Accepted(c)) if c == conn
                    )
                    || answered(|m| matches!(m, Message::Accept | Message::Reset))
            }
            Message::FailoverRequest { .. } => {
                queued
                    || answered(|m| {
                        matches!(
                            m,
                            Message::FailoverGranted { .. }
                                | Message::FailoverDenied { .. }
                                | Message::Reset
                        )
                    })
            }
            _ => false,
        }
    }

    // ----------------------------------------------------------------------------------------
    // The ghost history and the event-based properties.

    fn on_serve(
        &self,
        s: &mut SessionState,
        id: InstanceId,
        via: mirror_protocol::ServeVia,
        role_sequence: u64,
        lsn_end: Lsn,
    ) {
        let served = &s.ghost.served;
        if served
            .iter()
            .any(|r| r.by == id && r.role_sequence == role_sequence)
        {
            return;
        }
        if let Some(other) = served
            .iter()
            .find(|r| r.by != id && r.role_sequence == role_sequence)
        {
            let instances = [other.by, id];
            s.ghost_mut().violate(Violation::SameRoleSequence {
                role_sequence,
                instances,
            });
        }
        let log = s.logs[index(id)]
            .iter()
            .filter(|&&(l, _)| l <= lsn_end)
            .copied()
            .collect();
        s.ghost_mut().served.push(Served {
            by: id,
            role_sequence,
            via,
            log,
        });
    }

    fn on_acknowledge(&self, s: &mut SessionState, acked: Acked) {
        let i = index(acked.by);
        let n = acked.role_sequence;
        let mut violations = Vec::new();
        // single_principal: a principal that was told of a newer role sequence adopts it before
        // anything else (reference section 4), so it acknowledges nothing more at the old one.
        if s.ghost.ignored_role[i] > n {
            violations.push(Violation::AcknowledgedAfterLearning {
                acked: acked.clone(),
                learned: s.ghost.ignored_role[i],
            });
        }
        // single_principal: after another instance began serving at a higher role sequence, an
        // old principal may finish only commits its successor started with. Forced service
        // (a role change in between that was forced) is the documented split brain, not this.
        for r in &s.ghost.served {
            if r.by == acked.by || r.role_sequence <= n {
                continue;
            }
            let forced = s
                .ghost
                .forced
                .iter()
                .any(|f| f.role_sequence > n && f.role_sequence <= r.role_sequence);
            if !forced && !r.log.contains(&(acked.lsn, acked.tx)) {
                violations.push(Violation::StaleAcknowledgement {
                    acked: acked.clone(),
                    newer: r.by,
                    newer_role_sequence: r.role_sequence,
                });
            }
        }
        // quorum_serving: with a witness set, never after declaring both connections lost.
        let p = &s.partners[i];
        if let Some(w) = p.config().witness {
            if !p.is_connected(p.partner()) && !p.is_connected(w) {
                violations.push(Violation::AcknowledgedWithoutQuorum {
                    acked: acked.clone(),
                });
            }
        }
        for v in violations {
            s.ghost_mut().violate(v);
        }
        s.ghost_mut().acked.push(acked);
    }

    /// The state-based judgements, on the state a step reached: two partners serving at one
    /// role sequence (`single_principal`), an acknowledged commit missing from the last
    /// principal's log without a forced service to excuse it (`acknowledged_durable`).
    fn judge_state(&self, s: &mut SessionState) {
        let [a, b] = &s.partners;
        if a.is_serving() && b.is_serving() && a.role_sequence() == b.role_sequence() {
            let role_sequence = a.role_sequence();
            s.ghost_mut()
                .violate(Violation::BothServing { role_sequence });
        }
        // The common case first, without allocating: every acknowledged commit is in the last
        // principal's log (or acknowledged_durable is already broken: the first violation is
        // the one reported).
        if s.ghost.acked.is_empty() || !crate::properties::holds(s, "acknowledged_durable") {
            return;
        }
        let Some(last) = crate::properties::last_principal(s) else {
            return;
        };
        let log = &s.logs[last];
        if s.ghost.acked.iter().all(|a| log.contains(&(a.lsn, a.tx))) {
            return;
        }
        let lost = crate::properties::lost_acknowledged(s)
            .into_iter()
            .find(|l| !l.forced)
            .map(|l| l.acked);
        if let Some(acked) = lost {
            let last = INSTANCES[last];
            s.ghost_mut().violate(Violation::Lost { acked, last });
        }
    }

    /// log_prefix: when a mirror completes a reconnection handshake (it answers the principal's
    /// `Hello`, or the `Config` that resumes the session, with `Ready`), its log is a prefix of
    /// the log the principal had generated when it sent that message (`reference`), or of the
    /// principal's log now (a reordering network may deliver later log before the handshake).
    /// Judged after the mirror's discard, by content.
    fn check_prefix(
        &self,
        s: &mut SessionState,
        mirror: InstanceId,
        principal: InstanceId,
        reference: &Log,
    ) {
        let mirror_log = &s.logs[index(mirror)];
        let now = &s.logs[index(principal)];
        if !reference.starts_with(mirror_log) && !now.starts_with(mirror_log) {
            let violation = Violation::NotPrefix {
                mirror,
                mirror_log: Log::clone(mirror_log),
                principal_log: reference.clone(),
            };
            s.ghost_mut().violate(violation);
        }
    }

    /// The mirror's half of the conditions of reference section 5 for an automatic failover, as
    /// the mirror declares them when it asks (its request is its declaration; it cannot take it
    /// back once sent): a witness is set, SAFETY FULL, it is the mirror, it has declared the
    /// principal lost, its connection to the witness is up, and it was told SYNCHRONIZED at its
    /// current numbers. Returns those that fail.
    fn mirror_conditions(&self, s: &SessionState, mirror: InstanceId) -> Vec<&'static str> {
        let mut failed = Vec::new();
        let m = s.partner(mirror);
        let config = m.config();
        if config.witness != Some(GAMMA) {
            failed.push("the mirror has no witness set");
        }
        if config.safety != Safety::Full {
            failed.push("the mirror's SAFETY is not FULL");
        }
        if m.role() != Role::Mirror {
            failed.push("the requester is not the mirror");
        }
        if m.is_connected(m.partner()) {
            failed.push("the mirror had not declared the principal lost");
        }
        if !m.is_connected(GAMMA) {
            failed.push("the mirror's connection to the witness was not up");
        }
        if m.told_synchronized() != Some(config.numbers) {
            failed.push("the mirror had not been told SYNCHRONIZED at its numbers");
        }
        failed
    }

    /// The witness's half, at the moment it grants: it has a record of the session, SAFETY FULL,
    /// its connection to the mirror is up, it has itself declared the principal lost, and its
    /// record says SYNCHRONIZED at exactly the numbers the mirror presents. Returns those that
    /// fail.
    fn witness_conditions(
        &self,
        s: &SessionState,
        mirror: InstanceId,
        presented: Numbers,
    ) -> Vec<&'static str> {
        let mut failed = Vec::new();
        let witness = s
            .witness
            .as_ref()
            .expect("a request reaches an existing witness");
        let Some(record) = witness.record().filter(|r| !r.removed) else {
            return vec!["the witness has no record of the session"];
        };
        let principal = s.partner(mirror).partner();
        if record.config.safety != Safety::Full {
            failed.push("the witness's SAFETY is not FULL");
        }
        if !witness.is_connected(mirror) {
            failed.push("the witness's connection to the mirror is not up");
        }
        if witness.is_connected(principal) {
            failed.push("the witness has not declared the principal lost");
        }
        if record.sync != SyncState::Synchronized
            || record.sync_numbers != record.numbers
            || record.numbers != presented
        {
            failed.push("the witness's record does not say SYNCHRONIZED at the numbers presented");
        }
        failed
    }

    /// The conditions of reference section 5 for forced service taken at once (no witness is
    /// set; with a witness only a mutant takes it at once): the mirror's and, when a witness is
    /// set, the witness's at this instant. Returns those that fail.
    fn forced_service_conditions(&self, s: &SessionState, mirror: InstanceId) -> Vec<&'static str> {
        let mut failed = self.forced_service_mirror_conditions(s, mirror);
        if s.partner(mirror).config().witness.is_some() {
            if s.witness.is_none() {
                failed.push("a witness is set and does not exist");
            } else {
                failed.extend(self.forced_witness_conditions(s, mirror));
            }
        }
        failed
    }

    /// The mirror's half of forced service, as it declares it when it acts: issued on the
    /// mirror, which has declared the principal lost and, when a witness is set, is connected
    /// to it.
    fn forced_service_mirror_conditions(
        &self,
        s: &SessionState,
        mirror: InstanceId,
    ) -> Vec<&'static str> {
        let mut failed = Vec::new();
        let m = s.partner(mirror);
        if m.role() != Role::Mirror {
            failed.push("it is not issued on the mirror");
        }
        if m.is_connected(m.partner()) {
            failed.push("the mirror has not declared the principal lost");
        }
        if let Some(w) = m.config().witness {
            if !m.is_connected(w) {
                failed.push("the mirror is not connected to the witness");
            }
        }
        failed
    }

    /// The witness's half of forced service, at the moment it grants (issue 6: granted by the
    /// witness atomically): its connection to the mirror is up and it has itself declared the
    /// principal lost.
    fn forced_witness_conditions(&self, s: &SessionState, mirror: InstanceId) -> Vec<&'static str> {
        let mut failed = Vec::new();
        let Some(witness) = s.witness.as_ref() else {
            return vec!["a witness is set and does not exist"];
        };
        if !witness.is_connected(mirror) {
            failed.push("the witness's connection to the mirror is not up");
        }
        if witness.is_connected(s.partner(mirror).partner()) {
            failed.push("the witness has not declared the principal lost");
        }
        failed
    }
}

impl Model for SessionModel {
    type State = SessionState;
    type Action = Action;

    fn init_states(&self) -> Vec<SessionState> {
        vec![self.initial_state()]
    }

    fn actions(&self, s: &SessionState, actions: &mut Vec<Action>) {
        self.progress_actions(s, actions);
        self.client_actions(s, actions);
        self.tick_actions(s, actions);
        self.fault_actions(s, actions);
        self.command_actions(s, actions);
    }

    fn next_state(&self, s: &SessionState, action: Action) -> Option<SessionState> {
        let mut next = s.clone();
        self.apply(&mut next, action);
        Some(next)
    }

    fn format_action(&self, action: &Action) -> String {
        crate::report::action_name(action)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        crate::properties::properties(&self.configuration)
    }

    fn within_boundary(&self, _state: &SessionState) -> bool {
        true
    }
}

/// Renumbers each partner's log epoch 0, with its outstanding flushes, which must all be of
/// its current epoch (`SessionModel::normalize` drops the others first).
pub fn renumber_epochs(s: &mut SessionState) {
    for i in 0..2 {
        let epoch = s.partners[i].epoch();
        if epoch == 0 {
            continue;
        }
        assert!(
            s.flushes[i].iter().all(|&(_, e)| e == epoch),
            "only flushes of the current epoch are outstanding"
        );
        s.partner_mut(i).renumber_epoch(0);
        s.flushes[i].iter_mut().for_each(|f| f.1 = 0);
    }
}

/// Whether a role change of this kind happened in `s`.
pub fn switched(s: &SessionState, kind: FailoverKind) -> bool {
    s.ghost.switches.iter().any(|r| r.kind == kind)
}
