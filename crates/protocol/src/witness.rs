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
            Received::Established { peer, replaced } => {
                if replaced {
                    self.on_link_lost(peer);
                }
                self.on_link_up(peer);
            }
            Received::Lost { peer } => self.on_link_lost(peer),
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
        self.start_ticking();
        self.invariants();
    }

    fn on_link_up(&mut self, peer: InstanceId) {
        let Some(record) = self.record else { return };
        if !record.partners.contains(&peer) {
            return;
        }
        let hello = Message::WitnessHello {
            last_change: record.last_change,
            numbers: record.numbers,
            sees_principal: self.sees_principal(),
        };
        self.send(peer, hello);
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
        let hello = Message::WitnessHello {
            last_change: record.last_change,
            numbers: record.numbers,
            sees_principal: self.sees_principal(),
        };
        self.send(record.principal, hello);
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
            }) if from_principal => self.on_config(config),
            Message::FailoverRequest {
                numbers,
                told_synchronized,
                lsn_hardened,
                fork,
            } => {
                self.on_failover_request(from, numbers, told_synchronized, lsn_hardened, fork);
            }
            Message::WitnessOff { numbers } if from_principal => {
                let r = self.record.as_mut().expect("record exists");
                r.removed = true;
                r.numbers = numbers;
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
                let r = self.record.as_mut().expect("judged with a record");
                r.numbers.role = change.role_sequence;
                r.principal = from;
                r.sync = SyncState::Unknown;
                r.last_change = Some(change);
                Message::FailoverGranted {
                    change,
                    numbers: r.numbers,
                }
            }
        };
        self.send(from, reply);
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
