//! The witness: holds no data, only a durable record of the session, and votes
//! (reference/mirroring.md sections 4 and 5). Its record is what makes automatic failover safe:
//! it grants a failover only if, at that moment, it has itself declared the principal lost and its
//! record says SYNCHRONIZED at exactly the numbers the mirror presents.

use crate::link::{Links, Received};
use crate::message::{Envelope, FailoverDenial, Hello, Message};
use crate::mutant::{Mutant, Mutants};
use crate::output::{Output, Timer};
use crate::types::*;

/// What the witness keeps durably per session (`sys.database_mirroring_witnesses`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WitnessRecord {
    /// The two partners.
    pub partners: [InstanceId; 2],
    /// Who is principal at `numbers.role`.
    pub principal: InstanceId,
    /// The highest numbers heard.
    pub numbers: Numbers,
    /// The session configuration last heard from the principal.
    pub config: SessionConfig,
    /// The last synchronization state the principal reported.
    pub sync: SyncState,
    /// The numbers that report was made at.
    pub sync_numbers: Numbers,
    /// (role sequence, report number) of the last report recorded; older ones are ignored.
    pub report: (u64, u64),
    /// The latest role change, with its failover LSN.
    pub last_change: Option<RoleChange>,
    /// WITNESS OFF was recorded: this witness takes no part in the session any more.
    pub removed: bool,
}

impl WitnessRecord {
    /// The partner that is not the principal.
    pub fn mirror(&self) -> InstanceId {
        if self.partners[0] == self.principal {
            self.partners[1]
        } else {
            self.partners[0]
        }
    }
}

/// The witness of a session, on one instance.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Witness {
    me: InstanceId,
    links: Links,
    record: Option<WitnessRecord>,
    running: bool,
    mutants: Mutants,
    out: Vec<Output>,
}

impl Witness {
    /// A witness with no session yet; it accepts the connection of a principal about to name it.
    pub fn new(me: InstanceId) -> Self {
        let mut links = Links::new(me);
        links.accept_any = true;
        let mut witness = Self {
            me,
            links,
            record: None,
            running: true,
            mutants: Mutants::default(),
            out: Vec::new(),
        };
        witness.start_ticking();
        witness
    }

    fn start_ticking(&mut self) {
        self.out.push(Output::SetTimer {
            timer: Timer::Ping,
            after: PING_INTERVAL,
        });
    }

    /// This instance.
    pub fn me(&self) -> InstanceId {
        self.me
    }
    /// The durable record, when a session named this witness.
    pub fn record(&self) -> Option<&WitnessRecord> {
        self.record.as_ref()
    }
    /// The connections.
    pub fn links(&self) -> &Links {
        &self.links
    }
    /// Whether the connection to `peer` is up.
    pub fn is_connected(&self, peer: InstanceId) -> bool {
        self.links.is_up(peer)
    }
    /// Whether the process runs.
    pub fn is_running(&self) -> bool {
        self.running
    }
    /// Switches a deliberate bug on (only in builds with the `mutants` feature).
    pub fn set_mutant(&mut self, mutant: Option<Mutant>) {
        self.mutants.set(mutant);
    }

    /// Whether the handlers have produced effects not yet drained.
    #[inline]
    pub fn has_outputs(&self) -> bool {
        !self.out.is_empty()
    }

    /// Moves the outbox into `into`, keeping its capacity.
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

    /// Drains the outbox.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    fn role_view(&self) -> RoleView {
        match &self.record {
            Some(r) => RoleView {
                role_sequence: r.numbers.role,
                principal: Some(r.principal),
            },
            None => RoleView::default(),
        }
    }

    fn timeout(&self) -> Nanos {
        self.record
            .map_or(SessionConfig::new().timeout(), |r| r.config.timeout())
    }

    fn sees_principal(&self) -> bool {
        self.record.is_some_and(|r| self.links.is_up(r.principal))
    }

    fn send(&mut self, peer: InstanceId, body: Message) {
        let view = self.role_view();
        self.links.send(&mut self.out, view, peer, body);
    }

    /// A message arrived.
    pub fn handle_message(&mut self, now: Nanos, env: Envelope) {
        if !self.running {
            return;
        }
        let from = env.from;
        let view = env.role;
        let pong = Message::Pong {
            witness_sees_principal: Some(self.sees_principal()),
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
                self.on_link_up(peer);
                if let Some(body) = then {
                    self.on_body(from, view, body);
                }
            }
            Received::Lost { peer } => self.on_link_lost(peer),
            // The witness opens no connections: nothing of its own can be refused.
            Received::Refused { .. } => {}
            Received::Deliver(body) => self.on_body(from, view, body),
        }
        self.invariants();
    }

    /// A timer fired (only the ping tick).
    pub fn handle_timer(&mut self, now: Nanos, timer: Timer) {
        if !self.running || timer != Timer::Ping {
            return;
        }
        let timeout = self.timeout();
        for peer in self
            .links
            .tick(now, timeout, self.role_view(), &mut self.out)
        {
            self.on_link_lost(peer);
        }
        self.start_ticking();
        self.invariants();
    }

    /// The driver noticed a broken connection (hard error), or the model declares one lost.
    pub fn handle_connection_lost(&mut self, _now: Nanos, peer: InstanceId, kind: ErrorKind) {
        if self.running && self.links.connection_lost(peer, kind) {
            self.on_link_lost(peer);
        }
        self.invariants();
    }

    /// The process dies; the record survives.
    pub fn crash(&mut self) {
        self.running = false;
        self.links.reset_all();
        self.out.clear();
    }

    /// The process restarts: its record is read back, and its state becomes UNKNOWN until the
    /// principal reports afresh (reference section 4).
    pub fn restart(&mut self, _now: Nanos) {
        assert!(!self.running, "restart of a running witness");
        self.running = true;
        if let Some(r) = &mut self.record {
            r.sync = SyncState::Unknown;
        }
        // The partners open the connections to a witness: asked, they do so now rather than at
        // their next tick.
        let view = self.role_view();
        self.links.ask_initiators_to_connect(view, &mut self.out);
        self.start_ticking();
        self.invariants();
    }

    fn on_link_up(&mut self, peer: InstanceId) {
        let Some(record) = self.record else { return };
        if !record.partners.contains(&peer) {
            return;
        }
        self.send_hello(peer, &record);
        if peer == record.principal {
            self.send(
                record.mirror(),
                Message::WitnessView {
                    sees_principal: true,
                },
            );
        }
    }

    fn on_link_lost(&mut self, peer: InstanceId) {
        let Some(record) = self.record else { return };
        if peer == record.mirror() {
            self.forget_sync();
        } else if peer == record.principal {
            self.send(
                record.mirror(),
                Message::WitnessView {
                    sees_principal: false,
                },
            );
        }
    }

    /// The record's synchronization state becomes UNKNOWN; the principal is asked to report.
    fn forget_sync(&mut self) {
        let Some(record) = &mut self.record else {
            return;
        };
        if record.sync == SyncState::Unknown {
            return;
        }
        record.sync = SyncState::Unknown;
        let record = *record;
        self.send_hello(record.principal, &record);
    }

    fn on_body(&mut self, from: InstanceId, view: RoleView, body: Message) {
        if let Message::Join { partners, config } = body {
            self.on_join(from, view, partners, config);
            return;
        }
        let Some(record) = self.record else { return };
        if !record.partners.contains(&from) {
            return;
        }
        if view.role_sequence < record.numbers.role {
            return; // stale
        }
        if view.role_sequence > record.numbers.role {
            self.adopt(view, &body);
            self.ask_principal_to_report(from, &body);
        }
        let record = self.record.expect("adoption keeps the record");
        let from_principal = from == record.principal;
        match body {
            Message::Status {
                report,
                sync,
                numbers,
            } if from_principal => self.on_status(from, view, report, sync, numbers),
            Message::Config(config) if from_principal => self.on_config(config),
            Message::Hello(Hello {
                config: Some(config),
                ..
            }) if from_principal => self.on_principal_hello(config),
            Message::FailoverRequest {
                numbers,
                told_synchronized,
                lsn_hardened,
                fork,
            } => {
                self.on_failover_request(from, numbers, told_synchronized, lsn_hardened, fork);
            }
            Message::ForceServiceRequest {
                numbers,
                lsn_hardened,
                fork,
            } => self.on_force_service_request(from, numbers, lsn_hardened, fork),
            Message::WitnessOff { numbers } if from_principal => {
                let r = self.record.as_mut().expect("record exists");
                r.removed = true;
                // Only the witness sequence: a request can be older than the record's other
                // numbers, and a sequence number never goes back.
                r.numbers.witness = r.numbers.witness.max(numbers.witness);
                self.send(
                    from,
                    Message::WitnessOffRecorded {
                        witness_sequence: numbers.witness,
                    },
                );
            }
            Message::PartnerOff => {
                for peer in record.partners {
                    self.links.remove_peer(peer);
                }
                self.record = None;
            }
            _ => {}
        }
    }

    /// A higher role sequence from a partner: adopt it; the synchronization state is unknown
    /// until the (new) principal reports (reference section 4).
    /// After adopting higher numbers from anyone but the principal, the record's state is
    /// UNKNOWN until the principal reports afresh (reference section 4); it is asked to, as when
    /// the witness loses the mirror. The principal does not answer the WitnessHello the witness
    /// sent when their connection came up, if that carried the older role sequence (a principal
    /// ignores lower ones): a witness that was down during a manual failover learnt of it from
    /// the new mirror and stayed UNKNOWN, with no automatic failover possible any more.
    ///
    /// The principal itself is asked too unless what it sent is its report: its first message
    /// to a witness that comes back may be a ping or a hello at the new numbers, and it ignored
    /// the witness's greeting at the old ones. Found with network jitter: when the principal's
    /// message reached the witness before the mirror's, the record stayed UNKNOWN.
    fn ask_principal_to_report(&mut self, from: InstanceId, body: &Message) {
        let reported = matches!(body, Message::Status { .. });
        let Some(record) = self.record.filter(|r| r.principal != from || !reported) else {
            return;
        };
        self.send_hello(record.principal, &record);
    }

    /// Tells `peer` what the witness's record holds (a `WitnessHello`): when their connection
    /// comes up, and to ask the principal for a fresh report.
    fn send_hello(&mut self, peer: InstanceId, record: &WitnessRecord) {
        let hello = Message::WitnessHello {
            last_change: record.last_change,
            numbers: record.numbers,
            // At the numbers the hello carries anyway: only the rest of the configuration is
            // news to the principal.
            // A record removed by a WITNESS OFF says so: the session it holds has no witness.
            config: SessionConfig {
                numbers: record.numbers,
                witness: record.config.witness.filter(|_| !record.removed),
                ..record.config
            },
            sees_principal: self.sees_principal(),
        };
        self.send(peer, hello);
    }

    fn adopt(&mut self, view: RoleView, body: &Message) {
        let Some(principal) = view.principal else {
            return;
        };
        let r = self.record.as_mut().expect("record exists");
        if !r.partners.contains(&principal) {
            return;
        }
        r.numbers.role = view.role_sequence;
        r.principal = principal;
        r.sync = SyncState::Unknown;
        if let Message::Hello(hello) = body {
            if let Some(change) = hello
                .role_history
                .iter()
                .rev()
                .find(|c| c.role_sequence == view.role_sequence)
            {
                r.last_change = Some(*change);
            }
        }
    }

    fn on_join(
        &mut self,
        from: InstanceId,
        view: RoleView,
        partners: [InstanceId; 2],
        config: SessionConfig,
    ) {
        if !partners.contains(&from) || config.witness != Some(self.me) {
            return;
        }
        for peer in partners {
            self.links.add_peer(peer, false);
        }
        self.record = Some(WitnessRecord {
            partners,
            principal: from,
            numbers: Numbers {
                role: view.role_sequence,
                ..config.numbers
            },
            config,
            sync: SyncState::Unknown,
            sync_numbers: Numbers::default(),
            report: (view.role_sequence, 0),
            last_change: None,
            removed: false,
        });
        self.send(
            from,
            Message::Joined {
                witness_sequence: config.numbers.witness,
            },
        );
    }

    fn on_status(
        &mut self,
        from: InstanceId,
        view: RoleView,
        report: u64,
        sync: SyncState,
        numbers: Numbers,
    ) {
        let r = self.record.as_mut().expect("record exists");
        let key = (view.role_sequence, report);
        if key < r.report {
            return; // an older report than one recorded
        }
        r.report = key;
        let ignores_exposure = self.mutants.is(Mutant::WitnessIgnoresExposed);
        r.sync = if ignores_exposure && sync == SyncState::Unsynchronized {
            SyncState::Synchronized
        } else {
            sync
        };
        r.sync_numbers = numbers;
        r.numbers = numbers;
        self.send(from, Message::StatusRecorded { report });
    }

    /// The principal's Hello, its answer to a greeting that showed the record removed while it
    /// has no WITNESS OFF under way: a WITNESS OFF recorded here whose answer never reached it
    /// failed there (1456, "the configuration was not changed"), so the session keeps its
    /// witness, and so does the record. Left removed, the record refused every automatic
    /// failover for good while both partners showed the witness connected (found by an audit).
    /// A principal with a WITNESS OFF under way answers with its `Config` instead, which
    /// restores nothing: the removal recorded here may yet be applied there.
    fn on_principal_hello(&mut self, config: SessionConfig) {
        if config.witness == Some(self.me) {
            if let Some(r) = self.record.as_mut() {
                r.removed = false;
            }
        }
        self.on_config(config);
    }

    fn on_config(&mut self, config: SessionConfig) {
        let me = self.me;
        let r = self.record.as_mut().expect("record exists");
        if r.numbers != config.numbers {
            r.sync = SyncState::Unknown;
        }
        r.numbers = config.numbers;
        r.config = config;
        if config.witness != Some(me) {
            r.removed = true;
        }
    }

    /// Automatic failover, the witness's half (reference section 5): granted atomically, only if
    /// at this moment the witness has itself declared the principal lost, its record says
    /// SYNCHRONIZED at exactly the numbers presented, and the mirror was told SYNCHRONIZED at
    /// those numbers. The new role sequence and the failover LSN are recorded before the reply.
    fn on_failover_request(
        &mut self,
        from: InstanceId,
        numbers: Numbers,
        told: Numbers,
        lsn_hardened: Lsn,
        fork: Fork,
    ) {
        let verdict = self.judge_failover(from, numbers, told);
        let reply = match verdict {
            Err(reason) => Message::FailoverDenied { reason },
            Ok(()) => {
                let change = RoleChange {
                    role_sequence: numbers.role + 1,
                    principal: from,
                    failover_lsn: lsn_hardened,
                    fork,
                    kind: FailoverKind::Automatic,
                };
                self.record_grant(change)
            }
        };
        self.send(from, reply);
    }

    /// Records a granted role change durably (the new principal at role sequence n+1, nothing
    /// known of its synchronization yet) and returns the grant to send.
    fn record_grant(&mut self, change: RoleChange) -> Message {
        let r = self.record.as_mut().expect("judged with a record");
        r.numbers.role = change.role_sequence;
        r.principal = change.principal;
        r.sync = SyncState::Unknown;
        r.last_change = Some(change);
        Message::FailoverGranted {
            change,
            numbers: r.numbers,
        }
    }

    /// Forced service with a witness, the witness's half: granted atomically, only if at this
    /// moment the witness has itself declared the principal lost and the mirror presents the
    /// role and witness sequence of its record; the new role sequence (the mirror principal, the
    /// fork at the mirror's hardened end) is recorded before the reply. Unlike an automatic
    /// failover, the record need not say SYNCHRONIZED: forced service may lose data.
    ///
    /// Reference section 5 has the mirror check "W has itself declared P lost" from what the
    /// witness last told it, which races the witness's next word (see issue 6): the witness
    /// itself decides here, as it does for an automatic failover.
    fn on_force_service_request(
        &mut self,
        from: InstanceId,
        numbers: Numbers,
        lsn_hardened: Lsn,
        fork: Fork,
    ) {
        let reply = match self.judge_force_service(from, numbers) {
            Err(reason) => Message::ForceServiceDenied { reason },
            Ok(()) => {
                let change = RoleChange {
                    role_sequence: numbers.role + 1,
                    principal: from,
                    failover_lsn: lsn_hardened,
                    fork: Fork(fork.0 + 1),
                    kind: FailoverKind::Forced,
                };
                self.record_grant(change)
            }
        };
        self.send(from, reply);
    }

    fn judge_force_service(
        &self,
        from: InstanceId,
        numbers: Numbers,
    ) -> Result<(), FailoverDenial> {
        let Some(r) = self.record else {
            return Err(FailoverDenial::NoSession);
        };
        if r.removed && from == r.mirror() {
            // The principal removed this witness (WITNESS OFF recorded here) while the mirror
            // was out of reach: the mirror of a session without a witness may force service,
            // and refusing it left the database down for good (1406 on every try).
            return Err(FailoverDenial::WitnessRemoved);
        }
        if r.removed {
            return Err(FailoverDenial::NoSession);
        }
        if from != r.mirror() {
            return Err(FailoverDenial::NotTheMirror);
        }
        if self.links.is_up(r.principal) {
            return Err(FailoverDenial::PrincipalConnected);
        }
        if numbers.role != r.numbers.role || numbers.witness != r.numbers.witness {
            return Err(FailoverDenial::NumbersDiffer);
        }
        Ok(())
    }

    fn judge_failover(
        &self,
        from: InstanceId,
        numbers: Numbers,
        told: Numbers,
    ) -> Result<(), FailoverDenial> {
        let Some(r) = self.record.filter(|r| !r.removed) else {
            return Err(FailoverDenial::NoSession);
        };
        if from != r.mirror() {
            return Err(FailoverDenial::NotTheMirror);
        }
        if self.links.is_up(r.principal) {
            return Err(FailoverDenial::PrincipalConnected);
        }
        if numbers != r.numbers {
            return Err(FailoverDenial::NumbersDiffer);
        }
        let synchronized =
            r.sync == SyncState::Synchronized && r.sync_numbers == numbers && told == numbers;
        if !synchronized && !self.mutants.is(Mutant::FailoverWhileSynchronizing) {
            return Err(FailoverDenial::NotSynchronized);
        }
        Ok(())
    }

    /// Asserts the states that must never occur.
    pub fn invariants(&self) {
        if let Some(r) = &self.record {
            assert!(
                r.partners[0] != r.partners[1],
                "a session has two distinct partners"
            );
            assert!(
                r.partners.contains(&r.principal),
                "the principal is one of the partners"
            );
            assert!(
                !r.partners.contains(&self.me),
                "the witness is distinct from both partners"
            );
            if let Some(c) = r.last_change {
                assert!(
                    c.role_sequence <= r.numbers.role,
                    "a recorded change is newer than the record"
                );
            }
            if r.sync != SyncState::Unknown {
                assert!(
                    r.sync_numbers.role == r.numbers.role,
                    "a known sync state at another role sequence"
                );
            }
        }
        if !self.running {
            assert!(
                self.links.links.iter().all(|l| !l.is_up()),
                "a stopped witness has no connections"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::ConnId;

    const P: InstanceId = InstanceId(1);
    const M: InstanceId = InstanceId(2);
    const W: InstanceId = InstanceId(3);
    /// The principal's and the mirror's connections to the witness.
    const PW: ConnId = ConnId {
        initiator: P,
        number: 1,
    };
    const MW: ConnId = ConnId {
        initiator: M,
        number: 0,
    };

    fn env(from: InstanceId, role: u64, principal: InstanceId, body: Message) -> Envelope {
        Envelope {
            from,
            to: W,
            conn: if from == P { PW } else { MW },
            role: RoleView {
                role_sequence: role,
                principal: Some(principal),
            },
            body,
        }
    }

    /// Delivers `body` from `from` at role sequence `role` with P as principal; returns the
    /// witness's outputs.
    fn deliver(
        w: &mut Witness,
        now: Nanos,
        from: InstanceId,
        role: u64,
        body: Message,
    ) -> Vec<Output> {
        w.handle_message(now, env(from, role, P, body));
        w.invariants();
        w.take_outputs()
    }

    /// (to, sender's role view, body) of every message sent, pings and pongs left out.
    fn sent(out: &[Output]) -> Vec<(InstanceId, RoleView, Message)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send(e) if !matches!(e.body, Message::Ping | Message::Pong { .. }) => {
                    Some((e.to, e.role, e.body.clone()))
                }
                _ => None,
            })
            .collect()
    }

    fn numbers() -> Numbers {
        Numbers {
            witness: 1,
            ..Numbers::default()
        }
    }

    fn config(timeout_seconds: u32) -> SessionConfig {
        SessionConfig {
            witness: Some(W),
            numbers: numbers(),
            timeout_seconds,
            ..SessionConfig::new()
        }
    }

    /// A witness that P named (SET WITNESS) and that both partners are connected to, at time 0.
    fn joined(timeout_seconds: u32) -> Witness {
        let mut w = Witness::new(W);
        deliver(&mut w, 0, P, 0, Message::Connect);
        let partners = [P, M];
        let config = config(timeout_seconds);
        let out = deliver(&mut w, 0, P, 0, Message::Join { partners, config });
        assert_eq!(
            sent(&out)[0].2,
            Message::Joined {
                witness_sequence: 1
            }
        );
        deliver(&mut w, 0, M, 0, Message::Connect);
        deliver(&mut w, 0, M, 0, Message::Confirm);
        w
    }

    fn status(w: &mut Witness, report: u64, sync: SyncState, numbers: Numbers) -> Vec<Output> {
        let body = Message::Status {
            report,
            sync,
            numbers,
        };
        deliver(w, 0, P, numbers.role, body)
    }

    /// A session whose principal reported SYNCHRONIZED and which the witness then lost.
    fn synchronized_principal_lost() -> Witness {
        let mut w = joined(10);
        status(&mut w, 1, SyncState::Synchronized, numbers());
        w.handle_connection_lost(SECOND, P, ErrorKind::Hard);
        w.take_outputs();
        w
    }

    fn request(w: &mut Witness, from: InstanceId, numbers: Numbers, told: Numbers) -> Vec<Output> {
        let body = Message::FailoverRequest {
            numbers,
            told_synchronized: told,
            lsn_hardened: 4242,
            fork: Fork(0),
        };
        deliver(w, 2 * SECOND, from, numbers.role, body)
    }

    /// The one message `out` sends.
    fn only_reply(out: &[Output]) -> Message {
        match sent(out).as_slice() {
            [(_, _, body)] => body.clone(),
            other => panic!("expected one reply, got {other:?}"),
        }
    }

    fn denial(out: &[Output]) -> FailoverDenial {
        match only_reply(out) {
            Message::FailoverDenied { reason } => reason,
            other => panic!("expected a failover denial, got {other:?}"),
        }
    }

    // reference §4: "The principal numbers its status reports; the witness ignores a report
    // older than one it has."
    #[test]
    fn witness_ignores_a_status_report_older_than_the_one_it_holds() {
        let mut w = joined(10);
        let out = status(&mut w, 5, SyncState::Synchronized, numbers());
        assert_eq!(
            sent(&out),
            vec![(
                P,
                RoleView {
                    role_sequence: 0,
                    principal: Some(P)
                },
                Message::StatusRecorded { report: 5 }
            )]
        );
        let out = status(&mut w, 4, SyncState::Unsynchronized, numbers());
        assert!(sent(&out).is_empty(), "an older report is not confirmed");
        let r = w.record().unwrap();
        assert_eq!(r.sync, SyncState::Synchronized);
        assert_eq!(r.report, (0, 5));
        // A newer one is recorded.
        let out = status(&mut w, 6, SyncState::Unsynchronized, numbers());
        assert_eq!(sent(&out)[0].2, Message::StatusRecorded { report: 6 });
        assert_eq!(w.record().unwrap().sync, SyncState::Unsynchronized);
    }

    // reference §4: the synchronization state is "the last ... the principal reported": a
    // status from the mirror is not recorded.
    #[test]
    fn witness_records_status_only_from_the_principal() {
        let mut w = joined(10);
        let body = Message::Status {
            report: 9,
            sync: SyncState::Synchronized,
            numbers: numbers(),
        };
        let out = deliver(&mut w, 0, M, 0, body);
        assert!(sent(&out).is_empty());
        assert_eq!(w.record().unwrap().sync, SyncState::Unknown);
    }

    // reference §5: granted only if the witness has declared P lost, its record is SYNCHRONIZED
    // at exactly the numbers presented and told == numbers; it records role n+1 with M as
    // principal and the failover LSN = M's hardened end before it replies.
    #[test]
    fn witness_grants_failover_and_records_role_and_failover_lsn_before_replying() {
        let mut w = synchronized_principal_lost();
        let out = request(&mut w, M, numbers(), numbers());
        let change = RoleChange {
            role_sequence: 1,
            principal: M,
            failover_lsn: 4242,
            fork: Fork(0),
            kind: FailoverKind::Automatic,
        };
        let new_numbers = Numbers {
            role: 1,
            ..numbers()
        };
        // The reply travels with the witness's view after the change: it was recorded first.
        assert_eq!(
            sent(&out),
            vec![(
                M,
                RoleView {
                    role_sequence: 1,
                    principal: Some(M)
                },
                Message::FailoverGranted {
                    change,
                    numbers: new_numbers
                }
            )]
        );
        let r = w.record().unwrap();
        assert_eq!(r.numbers, new_numbers);
        assert_eq!(r.principal, M);
        assert_eq!(r.mirror(), P);
        assert_eq!(r.last_change, Some(change));
        assert_eq!(
            r.sync,
            SyncState::Unknown,
            "no report from the new principal yet"
        );
        // The record survives a restart (it is durable).
        w.crash();
        w.restart(3 * SECOND);
        assert_eq!(w.record().unwrap().last_change, Some(change));
        assert_eq!(w.record().unwrap().numbers.role, 1);
    }

    fn force_request(w: &mut Witness, from: InstanceId, numbers: Numbers) -> Vec<Output> {
        let (lsn_hardened, fork) = (77, Fork(0));
        let body = Message::ForceServiceRequest {
            numbers,
            lsn_hardened,
            fork,
        };
        deliver(w, 2 * SECOND, from, numbers.role, body)
    }

    fn force_denial(out: &[Output]) -> FailoverDenial {
        match only_reply(out) {
            Message::ForceServiceDenied { reason } => reason,
            other => panic!("expected a forced-service denial, got {other:?}"),
        }
    }

    // Forced service with a witness (issue 6's change to reference section 5): the witness
    // grants it atomically, only if it has itself declared the principal lost, and records role
    // n+1 with the mirror principal and the new fork at the mirror's hardened end before it
    // replies. The record need not say SYNCHRONIZED (an exposed principal may have been lost:
    // forcing service is what loses data).
    #[test]
    fn witness_grants_forced_service_only_when_it_has_declared_the_principal_lost() {
        let mut w = joined(10);
        status(&mut w, 1, SyncState::Unsynchronized, numbers());
        let out = force_request(&mut w, M, numbers());
        assert_eq!(force_denial(&out), FailoverDenial::PrincipalConnected);
        assert_eq!(w.record().unwrap().last_change, None, "nothing recorded");
        let out = force_request(&mut w, P, numbers());
        assert_eq!(force_denial(&out), FailoverDenial::NotTheMirror);
        w.handle_connection_lost(SECOND, P, ErrorKind::Hard);
        w.take_outputs();
        let stale = Numbers {
            witness: 2,
            ..numbers()
        };
        let out = force_request(&mut w, M, stale);
        assert_eq!(force_denial(&out), FailoverDenial::NumbersDiffer);
        let out = force_request(&mut w, M, numbers());
        let change = RoleChange {
            role_sequence: 1,
            principal: M,
            failover_lsn: 77,
            fork: Fork(1),
            kind: FailoverKind::Forced,
        };
        let recorded = Numbers {
            role: 1,
            ..numbers()
        };
        assert_eq!(
            sent(&out),
            vec![(
                M,
                RoleView {
                    role_sequence: 1,
                    principal: Some(M)
                },
                Message::FailoverGranted {
                    change,
                    numbers: recorded
                }
            )]
        );
        let r = w.record().unwrap();
        assert_eq!(
            (r.principal, r.numbers, r.last_change),
            (M, recorded, Some(change))
        );
        // A second request at the old role sequence is stale: ignored, the grant is given once.
        let out = force_request(&mut w, M, numbers());
        assert!(sent(&out).is_empty());
        assert_eq!(w.record().unwrap().last_change, Some(change));
    }

    // reference §5: no failover while the witness itself still sees the principal.
    #[test]
    fn witness_denies_failover_while_it_sees_the_principal() {
        let mut w = joined(10);
        status(&mut w, 1, SyncState::Synchronized, numbers());
        let out = request(&mut w, M, numbers(), numbers());
        assert_eq!(denial(&out), FailoverDenial::PrincipalConnected);
        assert_eq!(w.record().unwrap().numbers.role, 0, "nothing recorded");
        assert_eq!(w.record().unwrap().last_change, None);
    }

    // reference §5: the numbers presented must be exactly the record's.
    #[test]
    fn witness_denies_failover_when_numbers_differ() {
        let mut w = synchronized_principal_lost();
        for numbers in [
            Numbers {
                safety: 1,
                ..numbers()
            },
            Numbers {
                suspend: 1,
                ..numbers()
            },
            Numbers {
                witness: 2,
                ..numbers()
            },
        ] {
            let out = request(&mut w, M, numbers, numbers);
            assert_eq!(denial(&out), FailoverDenial::NumbersDiffer, "{numbers:?}");
        }
        assert_eq!(w.record().unwrap().principal, P);
    }

    // reference §5: the record must say SYNCHRONIZED (P never reported itself exposed).
    #[test]
    fn witness_denies_failover_when_its_record_is_not_synchronized() {
        let mut w = joined(10);
        status(&mut w, 1, SyncState::Unsynchronized, numbers());
        w.handle_connection_lost(SECOND, P, ErrorKind::Hard);
        w.take_outputs();
        let out = request(&mut w, M, numbers(), numbers());
        assert_eq!(denial(&out), FailoverDenial::NotSynchronized);
        assert_eq!(w.record().unwrap().numbers.role, 0);
    }

    // reference §5: "... and M says it was told SYNCHRONIZED at those numbers".
    #[test]
    fn witness_denies_failover_when_mirror_was_not_told_synchronized_at_those_numbers() {
        let mut w = synchronized_principal_lost();
        let told = Numbers {
            suspend: 1,
            ..numbers()
        };
        let out = request(&mut w, M, numbers(), told);
        assert_eq!(denial(&out), FailoverDenial::NotSynchronized);
        let out = request(&mut w, M, numbers(), Numbers::default());
        assert_eq!(denial(&out), FailoverDenial::NotSynchronized);
        assert_eq!(w.record().unwrap().principal, P);
    }

    // reference §5: only the session's mirror may ask (checked before anything else).
    #[test]
    fn witness_denies_failover_to_an_instance_that_is_not_the_mirror() {
        let mut w = joined(10);
        status(&mut w, 1, SyncState::Synchronized, numbers());
        let out = request(&mut w, P, numbers(), numbers());
        assert_eq!(denial(&out), FailoverDenial::NotTheMirror);
    }

    // reference §4: after WITNESS OFF "whoever recorded it takes no part in an automatic
    // failover of this session any more".
    #[test]
    fn witness_off_marks_the_record_removed_and_later_requests_find_no_session() {
        let mut w = joined(10);
        status(&mut w, 1, SyncState::Synchronized, numbers());
        let off = Numbers {
            witness: 2,
            ..numbers()
        };
        let out = deliver(&mut w, 0, P, 0, Message::WitnessOff { numbers: off });
        assert_eq!(
            sent(&out)[0].2,
            Message::WitnessOffRecorded {
                witness_sequence: 2
            }
        );
        let r = w.record().unwrap();
        assert!(r.removed);
        assert_eq!(r.numbers, off);
        w.handle_connection_lost(SECOND, P, ErrorKind::Hard);
        w.take_outputs();
        let out = request(&mut w, M, off, off);
        assert_eq!(denial(&out), FailoverDenial::NoSession);
        // Forced service is refused too, with the reason that tells the mirror the witness is
        // gone: it forces service as a session without a witness does.
        let out = force_request(&mut w, M, numbers());
        assert!(
            sent(&out).iter().any(|(_, _, m)| *m
                == Message::ForceServiceDenied {
                    reason: FailoverDenial::WitnessRemoved
                }),
            "{out:?}"
        );
        assert!(w.record().unwrap().removed, "nothing recorded");
    }

    // reference §4: WITNESS OFF is "applied by the principal only after [it is] durably
    // recorded ... if neither can be reached it fails with 1456", and a failed statement changes
    // nothing (section 7). A removal recorded here whose answer was lost is shown to the
    // principal when it reconnects; its Hello, still naming this witness, restores the record.
    // A Config restores nothing: it may come from a principal whose WITNESS OFF is under way.
    #[test]
    fn a_principal_that_still_names_the_witness_restores_a_removed_record() {
        let mut w = joined(10);
        let off = Numbers {
            witness: 2,
            ..numbers()
        };
        deliver(&mut w, 0, P, 0, Message::WitnessOff { numbers: off });
        w.handle_connection_lost(SECOND, P, ErrorKind::Hard);
        // P's new connection.
        let again = |w: &mut Witness, body: Message| {
            let conn = ConnId {
                initiator: P,
                number: 2,
            };
            w.handle_message(
                SECOND,
                Envelope {
                    conn,
                    ..env(P, 0, P, body)
                },
            );
            w.invariants();
            sent(&w.take_outputs())
        };
        again(&mut w, Message::Connect);
        let greeting = again(&mut w, Message::Confirm);
        let shows_removal = greeting.iter().any(|(to, _, m)| {
            *to == P
                && matches!(m, Message::WitnessHello { config, .. } if config.witness.is_none())
        });
        assert!(shows_removal, "{greeting:?}");

        again(&mut w, Message::Config(config(10)));
        let hello = Hello {
            role_history: Vec::new(),
            config: Some(config(10)),
            lsn_end: 0,
            incarnation: (0, 0),
        };
        assert!(w.record().unwrap().removed, "a Config restores nothing");
        again(&mut w, Message::Hello(hello));
        assert!(
            !w.record().unwrap().removed,
            "the Hello restores the record"
        );
    }

    // reference §4: WITNESS OFF is the principal's to apply; the mirror cannot remove the witness.
    #[test]
    fn witness_off_from_the_mirror_is_ignored() {
        let mut w = joined(10);
        let off = Numbers {
            witness: 2,
            ..numbers()
        };
        let out = deliver(&mut w, 0, M, 0, Message::WitnessOff { numbers: off });
        assert!(sent(&out).is_empty());
        assert!(!w.record().unwrap().removed);
    }

    // reference §4: "The witness's state becomes UNKNOWN when it restarts".
    #[test]
    fn witness_restart_makes_the_sync_state_unknown() {
        let mut w = joined(10);
        status(&mut w, 1, SyncState::Synchronized, numbers());
        let before = *w.record().unwrap();
        w.crash();
        assert!(!w.is_running());
        assert!(!w.is_connected(P) && !w.is_connected(M));
        w.restart(5 * SECOND);
        let after = *w.record().unwrap();
        assert_eq!(after.sync, SyncState::Unknown);
        assert_eq!(
            WitnessRecord {
                sync: before.sync,
                ..after
            },
            before,
            "only the sync state is forgotten"
        );
        assert!(w.take_outputs().contains(&Output::SetTimer {
            timer: Timer::Ping,
            after: PING_INTERVAL
        }));
    }

    // reference §4: "... when it declares its connection to the mirror lost"; and the principal
    // is asked to report afresh.
    #[test]
    fn witness_declaring_the_mirror_lost_makes_the_sync_state_unknown() {
        let mut w = joined(10);
        status(&mut w, 1, SyncState::Synchronized, numbers());
        w.take_outputs();
        w.handle_connection_lost(SECOND, M, ErrorKind::Hard);
        assert_eq!(w.record().unwrap().sync, SyncState::Unknown);
        let out = w.take_outputs();
        assert!(
            matches!(
                sent(&out).as_slice(),
                [(
                    P,
                    _,
                    Message::WitnessHello {
                        sees_principal: true,
                        ..
                    }
                )]
            ),
            "{out:?}"
        );
    }

    // reference §4/§5: losing the principal keeps the record (it is what a failover needs) and
    // tells the mirror that the witness no longer sees the principal.
    #[test]
    fn witness_losing_the_principal_keeps_the_record_and_tells_the_mirror() {
        let mut w = joined(10);
        status(&mut w, 1, SyncState::Synchronized, numbers());
        w.handle_connection_lost(SECOND, P, ErrorKind::Soft);
        assert_eq!(w.record().unwrap().sync, SyncState::Synchronized);
        assert_eq!(
            sent(&w.take_outputs()),
            vec![(
                M,
                RoleView {
                    role_sequence: 0,
                    principal: Some(P)
                },
                Message::WitnessView {
                    sees_principal: false
                }
            )]
        );
    }

    // reference §5 (forced service needs to know whether W still sees P): the witness's pongs
    // say whether its own connection to the principal is up.
    #[test]
    fn witness_pongs_say_whether_it_sees_the_principal() {
        let mut w = joined(10);
        let pongs = |out: &[Output]| -> Vec<Message> {
            out.iter()
                .filter_map(|o| match o {
                    Output::Send(e) if e.to == M => Some(e.body.clone()),
                    _ => None,
                })
                .collect()
        };
        let out = deliver(&mut w, SECOND, M, 0, Message::Ping);
        assert_eq!(
            pongs(&out),
            vec![Message::Pong {
                witness_sees_principal: Some(true)
            }]
        );
        w.handle_connection_lost(SECOND, P, ErrorKind::Hard);
        w.take_outputs();
        let out = deliver(&mut w, 2 * SECOND, M, 0, Message::Ping);
        assert_eq!(
            pongs(&out),
            vec![Message::Pong {
                witness_sees_principal: Some(false)
            }]
        );
    }

    // reference §3: the witness uses the session's TIMEOUT (sent by the principal) to declare
    // the principal lost: at the first tick at which its last reply is older than TIMEOUT.
    #[test]
    fn witness_declares_the_principal_lost_with_the_session_timeout() {
        let mut w = joined(20);
        // The mirror keeps answering; the principal goes silent after its connect at time 0.
        w.handle_timer(20 * SECOND, Timer::Ping);
        deliver(
            &mut w,
            20 * SECOND,
            M,
            0,
            Message::Pong {
                witness_sees_principal: None,
            },
        );
        assert!(
            w.is_connected(P),
            "a reply exactly TIMEOUT old still counts"
        );
        w.take_outputs();
        w.handle_timer(21 * SECOND, Timer::Ping);
        assert!(!w.is_connected(P));
        assert!(w.is_connected(M));
        assert!(sent(&w.take_outputs()).contains(&(
            M,
            RoleView {
                role_sequence: 0,
                principal: Some(P)
            },
            Message::WitnessView {
                sees_principal: false
            }
        )));
    }

    // reference §4: the witness's state becomes UNKNOWN "when it adopts higher numbers from
    // anyone but the principal" (here: M after forced service, at role sequence 1).
    #[test]
    fn witness_adopting_a_higher_role_sequence_from_the_mirror_forgets_the_sync_state() {
        let mut w = joined(10);
        status(&mut w, 1, SyncState::Synchronized, numbers());
        let forced = SessionConfig {
            numbers: Numbers {
                role: 1,
                suspend: 1,
                ..numbers()
            },
            suspended: true,
            ..config(10)
        };
        w.handle_message(
            0,
            Envelope {
                role: RoleView {
                    role_sequence: 1,
                    principal: Some(M),
                },
                ..env(M, 1, M, Message::Config(forced))
            },
        );
        let r = w.record().unwrap();
        assert_eq!(r.principal, M);
        assert_eq!(r.numbers.role, 1);
        assert_eq!(r.sync, SyncState::Unknown);
        assert_eq!(
            r.config, forced,
            "then it handled the message as the new principal's"
        );
    }

    // reference §4: "only a fresh report from the principal makes it known again". A witness
    // that was down during a manual failover hears of the new role sequence from the new mirror
    // (the old principal, here P at role sequence 1 with M principal) and asks M to report: M
    // ignored the greeting the witness sent at the older role sequence, so the record stayed
    // UNKNOWN and no automatic failover could ever be granted.
    #[test]
    fn witness_adopting_from_the_mirror_asks_the_principal_to_report() {
        let mut w = joined(10);
        status(&mut w, 1, SyncState::Synchronized, numbers());
        w.take_outputs();
        w.handle_message(
            0,
            env(
                P,
                1,
                M,
                Message::Pong {
                    witness_sees_principal: None,
                },
            ),
        );
        w.invariants();
        let r = w.record().unwrap();
        assert_eq!((r.principal, r.numbers.role), (M, 1));
        assert_eq!(r.sync, SyncState::Unknown);
        let asked = sent(&w.take_outputs());
        assert!(
            asked.iter().any(|(to, view, body)| *to == M
                && view.role_sequence == 1
                && matches!(body, Message::WitnessHello { .. })),
            "{asked:?}"
        );
    }

    // reference §4: the witness records "the failover LSN of the last role change". The old
    // principal's hand-over of a manual failover reaches the witness as well; the witness
    // records it and passes it to the new principal with its greeting, so that a mirror cut off
    // from the hand-over can take over from the witness's word.
    #[test]
    fn witness_records_a_manual_hand_over_and_passes_it_on() {
        let mut w = joined(10);
        status(&mut w, 1, SyncState::Synchronized, numbers());
        w.take_outputs();
        let manual = RoleChange {
            role_sequence: 1,
            principal: M,
            failover_lsn: 77,
            fork: Fork(0),
            kind: FailoverKind::Manual,
        };
        w.handle_message(
            0,
            env(
                P,
                1,
                M,
                Message::Hello(Hello {
                    role_history: vec![manual],
                    config: None,
                    lsn_end: 77,
                    incarnation: (0, 0),
                }),
            ),
        );
        w.invariants();
        let r = w.record().unwrap();
        assert_eq!((r.principal, r.numbers.role), (M, 1));
        assert_eq!(r.last_change, Some(manual));
        let greeted = sent(&w.take_outputs());
        assert!(
            greeted.iter().any(|(to, _, body)| *to == M
                && matches!(body, Message::WitnessHello { last_change: Some(c), .. } if *c == manual)),
            "{greeted:?}"
        );
    }

    // reference §4: "messages with a lower role sequence are ignored" -- the old principal's
    // report after the witness recorded a failover changes nothing.
    #[test]
    fn witness_ignores_messages_with_a_lower_role_sequence() {
        let mut w = synchronized_principal_lost();
        request(&mut w, M, numbers(), numbers());
        // The old principal comes back on a new connection, still at role sequence 0.
        let reconnect = ConnId {
            initiator: P,
            number: 2,
        };
        for body in [Message::Connect, Message::Confirm] {
            w.handle_message(
                3 * SECOND,
                Envelope {
                    conn: reconnect,
                    ..env(P, 0, P, body)
                },
            );
        }
        assert!(w.is_connected(P));
        w.take_outputs();
        let body = Message::Status {
            report: 7,
            sync: SyncState::Synchronized,
            numbers: numbers(),
        };
        w.handle_message(
            3 * SECOND,
            Envelope {
                conn: reconnect,
                ..env(P, 0, P, body)
            },
        );
        let out = w.take_outputs();
        assert!(out.is_empty(), "{out:?}");
        let r = w.record().unwrap();
        assert_eq!(r.principal, M);
        assert_eq!(r.sync, SyncState::Unknown);
        assert_eq!(r.report, (0, 1));
    }

    // reference §4: a configuration at other numbers makes the recorded sync state stale.
    #[test]
    fn witness_config_at_new_numbers_forgets_the_sync_state() {
        let mut w = joined(10);
        status(&mut w, 1, SyncState::Synchronized, numbers());
        let same = config(10);
        deliver(&mut w, 0, P, 0, Message::Config(same));
        assert_eq!(w.record().unwrap().sync, SyncState::Synchronized);
        let off = SessionConfig {
            safety: Safety::Off,
            numbers: Numbers {
                safety: 1,
                ..numbers()
            },
            ..config(10)
        };
        deliver(&mut w, 0, P, 0, Message::Config(off));
        let r = w.record().unwrap();
        assert_eq!(r.sync, SyncState::Unknown);
        assert_eq!(r.numbers.safety, 1);
        assert!(!r.removed);
    }
}
