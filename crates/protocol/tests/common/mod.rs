//! A tiny in-memory message loop for the protocol tests: one principal, one mirror, one
//! witness, a network of constant latency (FIFO per direction, as over TCP), timers, disk
//! flushes, and a log whose content is tracked so that durability can be checked by content.
//! It is a plain loop in the test, not the simulator.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use mirror_protocol::*;

/// The principal at the start.
pub const P: InstanceId = InstanceId(1);
/// The mirror at the start.
pub const M: InstanceId = InstanceId(2);
/// The witness.
pub const W: InstanceId = InstanceId(3);

/// One commit acknowledged to its client.
#[derive(Clone, Debug)]
pub struct Acked {
    pub tx: TxId,
    pub lsn: Lsn,
    pub role_sequence: u64,
    pub by: InstanceId,
    pub at: Nanos,
}

/// Log content: (commit LSN, transaction) in LSN order.
pub type Log = Vec<(Lsn, TxId)>;

#[derive(Clone, Debug)]
enum Work {
    Deliver(Envelope, Log),
    Timer(InstanceId, Timer),
    Flushed(InstanceId, Lsn, u32),
    RedoDrained(InstanceId),
    LogSent(InstanceId, Lsn),
}

/// The cluster under test.
pub struct Cluster {
    pub now: Nanos,
    pub partners: BTreeMap<InstanceId, Partner>,
    pub witness: Option<Witness>,
    pub logs: BTreeMap<InstanceId, Log>,
    pub latency: Nanos,
    pub flush_latency: Nanos,
    /// Directed links that drop everything.
    pub cut: BTreeSet<(InstanceId, InstanceId)>,
    /// Instances whose process is not running (crashed or powered off).
    pub down: BTreeSet<InstanceId>,
    work: BTreeMap<(Nanos, u64), Work>,
    timers: BTreeMap<(InstanceId, Timer), (Nanos, u64)>,
    seq: u64,
    pub acked: Vec<Acked>,
    pub failed: Vec<TxId>,
    pub outputs: Vec<(Nanos, InstanceId, Output)>,
    pub completions: BTreeMap<CommandId, Result<(), SqlError>>,
    /// (instance, role sequence) -> serving since.
    pub serving: BTreeMap<InstanceId, (u64, Nanos)>,
    pub violations: Vec<String>,
    next_tx: TxId,
    next_command: CommandId,
    pub forced: bool,
}

impl Cluster {
    /// P and M with a session set up (no witness yet): the SET PARTNER steps have run.
    pub fn pair() -> Self {
        let mut c = Self {
            now: 0,
            partners: BTreeMap::new(),
            witness: None,
            logs: BTreeMap::new(),
            latency: 250_000,
            flush_latency: 200_000,
            cut: BTreeSet::new(),
            down: BTreeSet::new(),
            work: BTreeMap::new(),
            timers: BTreeMap::new(),
            seq: 0,
            acked: Vec::new(),
            failed: Vec::new(),
            outputs: Vec::new(),
            completions: BTreeMap::new(),
            serving: BTreeMap::new(),
            violations: Vec::new(),
            next_tx: 1,
            next_command: 1,
            forced: false,
        };
        c.logs.insert(P, Vec::new());
        c.logs.insert(M, Vec::new());
        c.partners.insert(M, Partner::new_mirror(M, P, 0, Fork(0)));
        c.drain(M);
        let id = c.command_id();
        c.partners
            .insert(P, Partner::new_principal(P, M, 0, 0, Fork(0), id, c.now));
        c.serving.insert(P, (0, 0));
        c.drain(P);
        c
    }

    /// P, M and W: the session is set up, synchronized, and the witness joined.
    pub fn trio() -> Self {
        let mut c = Self::pair();
        c.witness = Some(Witness::new(W));
        c.drain(W);
        c.run_for(3 * SECOND);
        let id = c.command_id();
        c.partners
            .get_mut(&P)
            .unwrap()
            .handle_command(c.now, id, SessionCommand::SetWitness(W))
            .expect("SET WITNESS accepted");
        c.drain(P);
        c.run_for(3 * SECOND);
        assert_eq!(
            c.completions.get(&id),
            Some(&Ok(())),
            "SET WITNESS completed"
        );
        c
    }

    pub fn command_id(&mut self) -> CommandId {
        self.next_command += 1;
        self.next_command
    }

    pub fn p(&self, id: InstanceId) -> &Partner {
        &self.partners[&id]
    }

    pub fn w(&self) -> &Witness {
        self.witness.as_ref().expect("a witness")
    }

    fn push(&mut self, at: Nanos, work: Work) {
        self.seq += 1;
        self.work.insert((at, self.seq), work);
    }

    /// Processes the outputs of one instance.
    pub fn drain(&mut self, id: InstanceId) {
        let outputs = if id == W {
            self.witness
                .as_mut()
                .map(Witness::take_outputs)
                .unwrap_or_default()
        } else {
            self.partners
                .get_mut(&id)
                .map(Partner::take_outputs)
                .unwrap_or_default()
        };
        for output in outputs {
            self.apply(id, output);
        }
    }

    fn apply(&mut self, id: InstanceId, output: Output) {
        self.outputs.push((self.now, id, output.clone()));
        match output {
            Output::Send(env) => self.send(env),
            Output::SetTimer { timer, after } => {
                self.seq += 1;
                self.timers
                    .insert((id, timer), (self.now + after, self.seq));
            }
            Output::Flush { lsn, epoch } => {
                self.push(self.now + self.flush_latency, Work::Flushed(id, lsn, epoch))
            }
            Output::Discard { lsn, .. } => {
                self.logs.get_mut(&id).unwrap().retain(|(l, _)| *l <= lsn)
            }
            Output::DrainRedo => self.push(self.now, Work::RedoDrained(id)),
            Output::Acknowledge {
                tx,
                lsn,
                role_sequence,
            } => {
                self.acked.push(Acked {
                    tx,
                    lsn,
                    role_sequence,
                    by: id,
                    at: self.now,
                });
            }
            Output::FailCommit { tx, .. } => self.failed.push(tx),
            Output::CommandCompleted { id, result } => {
                self.completions.insert(id, result);
            }
            Output::Serve { role_sequence, .. } => self.on_serve(id, role_sequence),
            Output::StopServing { .. } => {
                self.serving.remove(&id);
            }
            Output::NewFork { .. } => self.forced = true,
            _ => {}
        }
    }

    /// single_principal (spec/scenario.md): no two instances serve at the same role sequence.
    fn on_serve(&mut self, id: InstanceId, role_sequence: u64) {
        for (other, (seq, _)) in &self.serving {
            if *other != id && *seq == role_sequence {
                self.violations.push(format!(
                    "t={} {:?} and {:?} both serve at role sequence {}",
                    self.now, id, other, seq
                ));
            }
        }
        self.serving.insert(id, (role_sequence, self.now));
    }

    fn send(&mut self, env: Envelope) {
        if self.cut.contains(&(env.from, env.to)) || self.down.contains(&env.to) {
            return;
        }
        let payload = match env.body {
            Message::Log { lsn_from, lsn_to } => {
                let log = &self.logs[&env.from];
                let content = log
                    .iter()
                    .filter(|(l, _)| *l > lsn_from && *l <= lsn_to)
                    .copied()
                    .collect();
                self.push(self.now, Work::LogSent(env.from, lsn_to));
                content
            }
            _ => Vec::new(),
        };
        self.push(self.now + self.latency, Work::Deliver(env, payload));
    }

    fn next_due(&self) -> Option<Nanos> {
        let work = self.work.keys().next().map(|k| k.0);
        let timer = self.timers.values().map(|v| v.0).min();
        match (work, timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs every event due up to `until`.
    pub fn run_until(&mut self, until: Nanos) {
        while let Some(at) = self.next_due() {
            if at > until {
                break;
            }
            self.now = at;
            self.step();
        }
        self.now = self.now.max(until);
    }

    pub fn run_for(&mut self, d: Nanos) {
        self.run_until(self.now + d);
    }

    /// Runs for `d`, committing one transaction every `every` on whoever accepts commits.
    pub fn run_with_load(&mut self, d: Nanos, every: Nanos) {
        let end = self.now + d;
        while self.now + every <= end {
            self.run_for(every);
            self.commit(300);
        }
        self.run_until(end);
    }

    fn step(&mut self) {
        let work_first = self.work.keys().next().copied();
        let timer_first = self
            .timers
            .iter()
            .min_by_key(|(_, v)| **v)
            .map(|(k, v)| (*k, *v));
        let take_timer = match (work_first, timer_first) {
            (Some(w), Some((_, t))) => t < w,
            (None, Some(_)) => true,
            _ => false,
        };
        if take_timer {
            let (key, _) = timer_first.unwrap();
            self.timers.remove(&key);
            self.dispatch(Work::Timer(key.0, key.1));
        } else {
            let key = work_first.unwrap();
            let work = self.work.remove(&key).unwrap();
            self.dispatch(work);
        }
    }

    fn dispatch(&mut self, work: Work) {
        let now = self.now;
        let target = match &work {
            Work::Deliver(env, _) => env.to,
            Work::Timer(id, _)
            | Work::Flushed(id, _, _)
            | Work::RedoDrained(id)
            | Work::LogSent(id, _) => *id,
        };
        if self.down.contains(&target) {
            return;
        }
        if target == W {
            let w = self.witness.as_mut().expect("witness");
            match work {
                Work::Deliver(env, _) => w.handle_message(now, env),
                Work::Timer(_, timer) => w.handle_timer(now, timer),
                _ => {}
            }
            self.drain(W);
            return;
        }
        let Some(partner) = self.partners.get_mut(&target) else {
            return;
        };
        match work {
            Work::Deliver(env, payload) => {
                let before = partner.lsn_end();
                let is_log =
                    matches!(env.body, Message::Log { lsn_from, .. } if lsn_from == before);
                partner.handle_message(now, env);
                if is_log && partner.lsn_end() > before {
                    self.logs.get_mut(&target).unwrap().extend(payload);
                }
            }
            Work::Timer(_, timer) => partner.handle_timer(now, timer),
            Work::Flushed(_, lsn, epoch) => partner.handle_flushed(now, lsn, epoch),
            Work::RedoDrained(_) => partner.handle_redo_drained(now),
            Work::LogSent(_, lsn) => partner.handle_log_sent(now, lsn),
        }
        self.drain(target);
    }

    /// A client commits `size` bytes of log on whichever partner accepts commits.
    pub fn commit(&mut self, size: u64) -> Option<TxId> {
        let tx = self.next_tx;
        self.next_tx += 1;
        let now = self.now;
        let id = self
            .partners
            .iter()
            .filter(|(id, p)| !self.down.contains(id) && p.accepts_commits())
            .map(|(id, _)| *id)
            .max_by_key(|id| self.partners[id].role_sequence());
        let Some(id) = id else {
            self.failed.push(tx);
            return None;
        };
        let partner = self.partners.get_mut(&id).unwrap();
        let lsn = partner.lsn_end() + size;
        self.logs.get_mut(&id).unwrap().push((lsn, tx));
        let result = self
            .partners
            .get_mut(&id)
            .unwrap()
            .handle_commit(now, tx, lsn);
        if result.is_err() {
            self.logs.get_mut(&id).unwrap().pop();
            self.failed.push(tx);
        }
        self.drain(id);
        Some(tx)
    }

    pub fn command(
        &mut self,
        on: InstanceId,
        command: SessionCommand,
    ) -> Result<CommandId, SqlError> {
        let id = self.command_id();
        let now = self.now;
        let result = self
            .partners
            .get_mut(&on)
            .unwrap()
            .handle_command(now, id, command);
        self.drain(on);
        result.map(|()| id)
    }

    /// Whether the instance takes part (the witness only in a trio).
    pub fn exists(&self, id: InstanceId) -> bool {
        if id == W {
            self.witness.is_some()
        } else {
            self.partners.contains_key(&id)
        }
    }

    /// The SQL Server process dies; its host answers, so peers get a hard error at once.
    pub fn crash(&mut self, id: InstanceId) {
        if !self.exists(id) {
            return;
        }
        self.power_off(id);
        let now = self.now;
        for (peer, partner) in self.partners.iter_mut() {
            if *peer != id && !self.down.contains(peer) && partner.is_connected(id) {
                partner.handle_connection_lost(now, id, ErrorKind::Hard);
            }
        }
        if let Some(w) = self.witness.as_mut() {
            if id != W && !self.down.contains(&W) && w.is_connected(id) {
                w.handle_connection_lost(now, id, ErrorKind::Hard);
            }
        }
        for peer in [P, M, W] {
            self.drain(peer);
        }
    }

    /// The host goes silent; peers notice only by TIMEOUT.
    pub fn power_off(&mut self, id: InstanceId) {
        if !self.exists(id) || !self.down.insert(id) {
            return;
        }
        self.serving.remove(&id);
        if id == W {
            self.witness.as_mut().unwrap().crash();
        } else {
            let partner = self.partners.get_mut(&id).unwrap();
            partner.crash();
            let hardened = partner.lsn_hardened();
            self.logs
                .get_mut(&id)
                .unwrap()
                .retain(|(l, _)| *l <= hardened);
        }
        self.timers.retain(|(i, _), _| *i != id);
    }

    pub fn restart(&mut self, id: InstanceId) {
        if !self.down.remove(&id) {
            return;
        }
        let now = self.now;
        if id == W {
            self.witness.as_mut().unwrap().restart(now);
        } else {
            let hardened = self.partners[&id].lsn_hardened();
            self.partners.get_mut(&id).unwrap().restart(now, hardened);
        }
        self.drain(id);
    }

    pub fn partition(&mut self, a: InstanceId, b: InstanceId) {
        self.cut.insert((a, b));
        self.cut.insert((b, a));
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// The last principal (spec/scenario.md): serving at the end, else highest role sequence,
    /// then highest end of log.
    pub fn last_principal(&self) -> InstanceId {
        if let Some((id, _)) = self.serving.iter().max_by_key(|(_, (seq, _))| *seq) {
            return *id;
        }
        *self
            .partners
            .iter()
            .filter(|(_, p)| p.role() == Role::Principal)
            .max_by_key(|(_, p)| (p.role_sequence(), p.lsn_end()))
            .map(|(id, _)| id)
            .unwrap_or(&P)
    }

    /// acknowledged_durable (spec/scenario.md): every acknowledged commit is in the last
    /// principal's log (checked by content, not by LSN alone).
    pub fn check_durable(&self) -> Vec<String> {
        if self.forced {
            return Vec::new();
        }
        let last = self.last_principal();
        let log: BTreeSet<(Lsn, TxId)> = self.logs[&last].iter().copied().collect();
        self.acked
            .iter()
            .filter(|a| !log.contains(&(a.lsn, a.tx)))
            .map(|a| {
                format!(
                    "tx {} acknowledged by {:?} at seq {} (lsn {}) is missing from {:?}",
                    a.tx, a.by, a.role_sequence, a.lsn, last
                )
            })
            .collect()
    }

    /// Every safety violation seen so far.
    pub fn check(&self) -> Vec<String> {
        let mut v = self.violations.clone();
        v.extend(self.check_durable());
        v
    }

    pub fn serving_now(&self) -> Vec<InstanceId> {
        self.serving.keys().copied().collect()
    }
}
