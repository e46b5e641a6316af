//! Faults from the scenario (spec/scenario.md, "Faults"), the log backup job, and the monitor
//! samples, all on the same clock.

use mirror_protocol::{
    ConnId, ErrorKind, InstanceId, Links, Nanos, Partner, Role, SessionCommand, MILLISECOND, SECOND,
};

use super::world::{reset_window, Ev, PageRepair, Process, Window, World, MONITOR_INTERVAL};
use crate::report::{MirroringRole, MonitorSample, WitnessState};
use crate::scenario::units::{exact_duration, format_drift, format_duration};
use crate::scenario::{FaultKind, HealScope, SessionState};

/// How long fetching a damaged page from the principal takes (automatic page repair).
const PAGE_REPAIR: u64 = SECOND;

/// The fault state of every instance (process, paused, slow disk, disk full, clock drift) and
/// of every link direction (partitioned, loss rate, extra latency).
type FaultState = (
    Vec<(Process, bool, Option<Nanos>, bool, i64)>,
    Vec<(bool, u64, Nanos)>,
);

impl World<'_> {
    /// Schedules every fault of the scenario and the first monitor sample.
    pub fn schedule_faults(&mut self) {
        let end = self.scenario.duration_ns;
        for (index, fault) in self.scenario.faults.iter().enumerate() {
            if fault.at_ns > end {
                // Most likely a typo in `at` or `duration`: say so rather than ignore it quietly.
                self.notes.push(format!(
                    "fault {} is at {}, after the end of the run ({}): it never happens",
                    index + 1,
                    exact_duration(fault.at_ns),
                    exact_duration(end)
                ));
            }
            self.queue.push(fault.at_ns, Ev::Fault { index });
        }
        self.queue.push(MONITOR_INTERVAL, Ev::Monitor);
    }

    fn fault_event(&mut self, kind: &str, fields: serde_json::Value) {
        let mut object = serde_json::json!({"kind": kind});
        if let (Some(o), serde_json::Value::Object(more)) = (object.as_object_mut(), fields) {
            o.extend(more);
        }
        self.emit_global("fault", object);
    }

    fn names(&self, between: [crate::scenario::InstanceId; 2]) -> serde_json::Value {
        serde_json::json!([self.nodes[between[0].0].name, self.nodes[between[1].0].name])
    }

    /// Fault `index` of the scenario happens now.
    ///
    /// For `recovers`, a fault disturbs the session only when it changes something: a heal of
    /// a link that was never cut, or a resume of an instance that was not paused, starts no
    /// new wait for recovery (found by `sim sweep --swarm`: a heal of nothing made `recovers`
    /// judge a session that can never synchronize, with or without faults). A damaged page
    /// always disturbs.
    pub fn fault(&mut self, index: usize) {
        let fault = self.scenario.faults[index];
        let before = self.fault_state();
        self.apply_fault(fault);
        if !self.faults_active() && self.partners_connected() {
            // Everything healed and the session held together: a role change forced later
            // comes from none of these faults (a forced failover after an endpoint was stopped
            // counted from a 1% loss healed 35 s before).
            self.last_failure = None;
        }
        if matches!(fault.kind, FaultKind::CorruptPage { .. }) || self.fault_state() != before {
            self.last_disturbance = self.now;
            self.faulted = true;
            // SYNCHRONIZED at the heal itself counts (a cut between the mirror and the witness
            // never takes the partners out of it).
            self.synchronized_since_disturbance = self.session_synchronized();
        }
    }

    /// What faults change, on every instance and link.
    fn fault_state(&self) -> FaultState {
        let instances = self
            .nodes
            .iter()
            .map(|node| {
                (
                    node.process,
                    node.paused,
                    node.flush_override,
                    node.disk_full,
                    node.drift_ppm,
                )
            })
            .collect();
        let n = self.nodes.len();
        let links = (0..n * n)
            .map(|i| {
                let d = self.net.direction(i / n, i % n);
                (d.partitioned, d.loss.to_bits(), d.extra_latency)
            })
            .collect();
        (instances, links)
    }

    fn apply_fault(&mut self, fault: crate::scenario::Fault) {
        match fault.kind {
            FaultKind::Crash { target } => {
                self.fault_event(
                    "crash",
                    serde_json::json!({"target": self.nodes[target.0].name}),
                );
                self.note_failure(&[target.0]);
                self.stop_instance(target.0, Process::Crashed);
            }
            FaultKind::PowerOff { target } => {
                self.fault_event(
                    "power_off",
                    serde_json::json!({"target": self.nodes[target.0].name}),
                );
                self.note_failure(&[target.0]);
                self.stop_instance(target.0, Process::PoweredOff);
            }
            FaultKind::Restart { target } => {
                self.fault_event(
                    "restart",
                    serde_json::json!({"target": self.nodes[target.0].name}),
                );
                self.restart_instance(target.0);
            }
            FaultKind::Pause { target } => {
                self.fault_event(
                    "pause",
                    serde_json::json!({"target": self.nodes[target.0].name}),
                );
                // A process that is not running has nothing to hang: the instance restarted
                // later comes up running (it stayed hung, its session DISCONNECTED for good).
                if self.nodes[target.0].running() {
                    self.note_failure(&[target.0]);
                    self.nodes[target.0].paused = true;
                    self.nodes[target.0].paused_at = self.now;
                    self.record_serving(target.0, "paused");
                }
            }
            FaultKind::Resume { target } => {
                self.fault_event(
                    "resume",
                    serde_json::json!({"target": self.nodes[target.0].name}),
                );
                self.resume_instance(target.0);
            }
            FaultKind::Partition { between, one_way } => {
                self.fault_event(
                    "partition",
                    serde_json::json!({"between": self.names(between), "one_way": one_way}),
                );
                self.note_failure(&[between[0].0, between[1].0]);
                let [a, b] = [between[0].0, between[1].0];
                let directions: &[(usize, usize)] = if one_way {
                    &[(a, b)]
                } else {
                    &[(a, b), (b, a)]
                };
                for &(from, to) in directions {
                    if !self.net.direction(from, to).partitioned {
                        self.net.direction_mut(from, to).partitioned = true;
                        self.catch_on_the_wire(from, to);
                    }
                }
            }
            FaultKind::Loss { between, rate } => {
                let fields = between.map_or(
                    serde_json::json!({"rate": rate}),
                    |b| serde_json::json!({"between": self.names(b), "rate": rate}),
                );
                self.fault_event("loss", fields);
                if rate > 0.0 {
                    match between {
                        Some(b) => self.note_failure(&[b[0].0, b[1].0]),
                        None => self.last_failure = Some(self.now),
                    }
                }
                let now = self.now;
                self.for_links(between, |d| {
                    d.set_loss(now, rate);
                    d.faulted = true;
                });
            }
            FaultKind::SlowLink {
                between,
                latency_ns,
                one_way,
            } => {
                // The fault's fields as the scenario names and writes them (spec/cli.md), then
                // the same value in microseconds for tools that compute with it.
                let fields = serde_json::json!({
                    "between": self.names(between),
                    "latency": format_duration(latency_ns),
                    "latency_us": latency_ns / 1000,
                    "one_way": one_way,
                });
                self.fault_event("slow_link", fields);
                self.note_failure(&[between[0].0, between[1].0]);
                let [a, b] = [between[0].0, between[1].0];
                let directions: &[(usize, usize)] = if one_way {
                    &[(a, b)]
                } else {
                    &[(a, b), (b, a)]
                };
                for &(from, to) in directions {
                    let d = self.net.direction_mut(from, to);
                    d.extra_latency = latency_ns;
                    d.faulted = true;
                }
            }
            FaultKind::SlowDisk { target, flush_ns } => {
                let fields = serde_json::json!({
                    "target": self.nodes[target.0].name,
                    "flush": format_duration(flush_ns),
                    "flush_us": flush_ns / 1000,
                });
                self.fault_event("slow_disk", fields);
                self.nodes[target.0].flush_override = Some(flush_ns);
                // A faster disk ends the slower writes under way: the hardened end moves over
                // contiguous log only, so one 30 s write would hold up every 1 ms one behind it.
                self.speed_up_flush(target.0);
            }
            FaultKind::DiskFull { target } => {
                self.fault_event(
                    "disk_full",
                    serde_json::json!({"target": self.nodes[target.0].name}),
                );
                self.disk_full(target.0);
            }
            FaultKind::CorruptPage { target } => {
                self.fault_event(
                    "corrupt_page",
                    serde_json::json!({"target": self.nodes[target.0].name}),
                );
                self.corrupt_page(target.0);
            }
            FaultKind::ClockSkew { target, drift_ppm } => {
                let fields = serde_json::json!({
                    "target": self.nodes[target.0].name,
                    "drift": format_drift(drift_ppm),
                    "drift_ppm": drift_ppm,
                });
                self.fault_event("clock_skew", fields);
                self.set_drift(target.0, drift_ppm);
            }
            FaultKind::Heal { scope } => self.heal(scope),
        }
        self.track_unavailability();
    }

    /// A fault on these instances (one) or on the link between them (two) may be what a later
    /// role change comes from (`unavailable_us`), if every one of them takes part in a session
    /// (a partner or a named witness): a fault on an instance or link outside every session
    /// changed a split brain's forced failover from 20.5 s to 10.5 s (found by an audit).
    fn note_failure(&mut self, instances: &[usize]) {
        if instances.iter().all(|&n| self.takes_part(n)) {
            self.last_failure = Some(self.now);
        }
    }

    /// Whether some partner holds its connection to its partner.
    fn partners_connected(&self) -> bool {
        self.nodes
            .iter()
            .filter_map(|node| node.session())
            .any(|p| p.is_connected(p.partner()))
    }

    fn for_links(
        &mut self,
        between: Option<[crate::scenario::InstanceId; 2]>,
        f: impl Fn(&mut super::net::Direction),
    ) {
        let n = self.nodes.len();
        for a in 0..n {
            for b in 0..n {
                let hit = between.is_none_or(|[x, y]| (a, b) == (x.0, y.0) || (a, b) == (y.0, x.0));
                if a != b && hit {
                    f(self.net.direction_mut(a, b));
                }
            }
        }
    }

    fn heal(&mut self, scope: HealScope) {
        match scope {
            HealScope::Everything => {
                self.fault_event("heal", serde_json::json!({}));
                self.net.heal(self.now, None);
                self.release_held();
                self.resets_after_heal();
                for n in 0..self.nodes.len() {
                    self.heal_instance(n);
                }
            }
            HealScope::Instance(target) => {
                self.fault_event(
                    "heal",
                    serde_json::json!({"target": self.nodes[target.0].name}),
                );
                self.heal_instance(target.0);
            }
            HealScope::Link(between) => {
                self.fault_event("heal", serde_json::json!({"between": self.names(between)}));
                self.net.heal(self.now, Some((between[0].0, between[1].0)));
                self.release_held();
                self.resets_after_heal();
            }
        }
    }

    fn heal_instance(&mut self, n: usize) {
        self.set_drift(n, 0);
        if self.nodes[n].flush_override.take().is_some() {
            self.speed_up_flush(n);
        }
        let node = &mut self.nodes[n];
        node.disk_full = false;
        if node.paused {
            self.resume_instance(n);
        }
        if self.nodes[n].flush.requested > self.nodes[n].log.lsn_hardened() {
            let lsn = self.nodes[n].flush.requested;
            self.request_flush(n, lsn, None);
        }
    }

    /// Whether any fault is still in force (for `recovers`).
    pub fn faults_active(&self) -> bool {
        let n = self.nodes.len();
        let instances = self.nodes.iter().any(|node| {
            node.process != Process::Running
                || node.paused
                || node.flush_override.is_some()
                || node.disk_full
                || node.drift_ppm != 0
        });
        let links = (0..n).any(|a| {
            (0..n).any(|b| {
                let d = self.net.direction(a, b);
                // `faulted` is set with every loss and slow link and cleared with them.
                d.partitioned || d.faulted
            })
        });
        instances || links
    }

    /// The process stops: crash (peers see a hard error at once) or power off (peers notice by
    /// TIMEOUT). Everything not on disk is gone; waiting commits fail.
    fn stop_instance(&mut self, n: usize, how: Process) {
        // Per peer, the connection the dying process holds and when the last message it sent
        // that way arrives: its host's reset is for that connection alone (a peer's request it
        // never received may reach it once restarted) and follows that message (reference
        // section 3: in order; it overtook the log on a slow path, found by an audit). The
        // order of its connections is kept, so that a reset its closed port answers a later
        // ping with follows them too; a restarted process opens new connections, numbered
        // afresh.
        let dead_conns: Vec<(Option<ConnId>, Nanos)> = (0..self.nodes.len())
            .map(|i| {
                let conn = if i == n { None } else { self.held_conn(n, i) };
                (conn, self.net.direction(n, i).last_arrival())
            })
            .collect();
        if self.nodes[n].process == Process::Crashed && how == Process::PoweredOff {
            // The host of a crashed process loses power: it stops answering with resets and
            // goes silent (spec/scenario.md: peers notice only by TIMEOUT). The process is
            // already down, so nothing else changes.
            self.nodes[n].process = Process::PoweredOff;
            return;
        }
        if self.nodes[n].process != Process::Running {
            return;
        }
        let role_sequence = self.nodes[n].session().map_or(0, Partner::role_sequence);
        let reason = if how == Process::Crashed {
            "crash"
        } else {
            "power_off"
        };
        self.set_serving(n, false, role_sequence, reason);
        self.interrupt_statement(n, how == Process::Crashed);
        let node = &mut self.nodes[n];
        node.process = how;
        node.paused = false;
        // A catch-up read under way stops with the process (its `Ev::Pump` is dropped).
        node.pump_scheduled = false;
        node.catch_up_read_until = 0;
        // A step issued to the hung instance had its connection: it fails as a statement
        // running there does (10054 or 121), not as one that could not connect.
        node.deferred_control.clear();
        node.deferred_submits = 0;
        let waiting_steps: Vec<usize> = node
            .deferred
            .drain(..)
            .filter_map(|(_, ev)| match ev {
                Ev::StepStart { step } => Some(step),
                _ => None,
            })
            .collect();
        for step in waiting_steps {
            self.fail_issued_step(step, n, how == Process::Crashed);
        }
        let node = &mut self.nodes[n];
        node.incarnation += 1;
        // The writes under way die with the process: their completions name no write under
        // way any more, and are stale.
        node.flush.drop_writes_under_way();
        node.redo_scheduled = false;
        node.ship_envelope = None;
        if let Some(p) = node.partner.as_mut() {
            if p.is_running() {
                p.crash();
            }
        }
        if node.witness.is_running() {
            node.witness.crash();
        }
        node.log.crash();
        node.standalone.clear();
        node.held_commits.clear();
        let buffer_waiters = std::mem::take(&mut node.buffer_waiters);
        let waiting: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, t)| t.node == n)
            .map(|(tx, _)| tx)
            .collect();
        // Their clients' connections die with the process, as a statement's does: 10054 after a
        // crash, 121 after a power-off. They failed with 955 ("lacks quorum"), which a stopped
        // instance cannot send and which would have a DBA look for a quorum problem.
        let stopped = self.stopped_error(n, how == Process::Crashed);
        for tx in waiting.into_iter().chain(buffer_waiters) {
            self.fail_tx(tx, stopped.clone());
        }
        self.drop_held(n);
        if how == Process::Crashed {
            self.hard_errors_from(n, &dead_conns);
        }
    }

    /// Peers of a crashed process get a reset at once (its host still answers), unless the
    /// link from its host to them is cut (spec/scenario.md: a partition drops everything):
    /// then they notice only by TIMEOUT, as a soft error (reference section 3), or by the reset
    /// their next ping provokes once the link heals ([`World::resets_after_heal`]).
    fn hard_errors_from(&mut self, n: usize, dead_conns: &[(Option<ConnId>, Nanos)]) {
        for (i, &(conn, sent_before)) in dead_conns.iter().enumerate() {
            let Some(conn) = conn else {
                continue; // it held no connection to `i`: nothing of `i`'s is its to reset
            };
            self.send_reset(n, i, conn, sent_before);
        }
    }

    /// The host of instance `from` resets connection `conn` to instance `to` (its process died,
    /// or its endpoint stopped taking the connection). A link that loses every packet is cut
    /// as a partition is: no reset crosses it, and `to` notices by TIMEOUT (found by an audit:
    /// the reset crossed it at once, and the mirror took over in 0.5 s). Otherwise "at once"
    /// (spec/scenario.md): a packet's way there, slow link included, behind `sent_before`, the
    /// arrival of what `from` sent that way before (reference section 3: in order; the reset
    /// came first, and the log on a 20 ms link was dropped as stale). Through the dispatcher,
    /// which holds it for a hung instance until it runs again, after its ping ticks (found by
    /// an audit: a paused principal stopped serving on a peer's crash).
    pub(super) fn send_reset(&mut self, from: usize, to: usize, conn: ConnId, sent_before: Nanos) {
        let way = self.net.direction(from, to);
        if !self.nodes[to].running() || way.passes_nothing() {
            return;
        }
        let arrives = self
            .now
            .saturating_add(way.params.one_way_ns)
            .saturating_add(way.extra_latency)
            .max(sent_before);
        let reset = Ev::ConnectionReset {
            node: to,
            peer: from,
            conn: Some(conn),
        };
        self.net.direction_mut(from, to).note_on_the_wire(arrives);
        self.after(arrives - self.now, reset);
    }

    /// After a heal: an instance still holding a connection to a crashed process whose reset
    /// the cut link kept from it gets that reset now (its next ping reaches the host, which
    /// answers with a reset), if the link is open both ways.
    fn resets_after_heal(&mut self) {
        let count = self.nodes.len();
        for n in 0..count {
            if self.nodes[n].process != Process::Crashed {
                continue;
            }
            for i in 0..count {
                if i == n || !self.nodes[i].running() || self.link_cut(i, n) {
                    continue;
                }
                let conn = self.held_conn(i, n);
                self.dispatch(Ev::ConnectionReset {
                    node: i,
                    peer: n,
                    conn,
                });
            }
        }
    }

    /// The connection instance `i` holds to `peer` (up or being opened), if any.
    pub(super) fn held_conn(&self, i: usize, peer: usize) -> Option<ConnId> {
        self.links_of(i).conn(self.nodes[peer].pid)
    }

    /// Instance `i`'s connections: its session's, or its witness's when it holds no session.
    pub(super) fn links_of(&self, i: usize) -> &Links {
        let node = &self.nodes[i];
        match node.session() {
            Some(p) => p.links(),
            None => node.witness.links(),
        }
    }

    /// Instance `i` gets a reset on `conn`, its connection to the dead process of `peer`, if it
    /// still holds it. A connection opened since, to the process restarted, is not the dead
    /// one's: the reset, which now travels the link's latency, broke it, and the mirror took
    /// over from a principal that was running and synchronized (found by an audit).
    pub fn connection_reset(&mut self, i: usize, peer: usize, conn: Option<ConnId>) {
        if self.held_conn(i, peer) != conn || (conn.is_none() && self.nodes[peer].running()) {
            return;
        }
        self.hard_error_on(i, peer);
        self.drain(i);
    }

    /// Instance `i` takes a hard error on its connection to `peer`, up or being opened: its
    /// session's partner, or its witness when it holds no session, declares the connection
    /// lost (a request being made is refused; an acceptance not yet confirmed is given up).
    /// What that writes is left for the caller to drain.
    pub(super) fn hard_error_on(&mut self, i: usize, peer: usize) {
        if self.held_conn(i, peer).is_none() {
            return;
        }
        let pid = self.nodes[peer].pid;
        let now = self.clock_of(i);
        let node = &mut self.nodes[i];
        match node.partner.as_mut().filter(|p| !p.is_ended()) {
            Some(p) => p.handle_connection_lost(now, pid, ErrorKind::Hard),
            None => node
                .witness
                .handle_connection_lost(now, pid, ErrorKind::Hard),
        }
    }

    /// A crashed or powered-off instance comes back: recovery, then it rejoins with its last role.
    fn restart_instance(&mut self, n: usize) {
        if self.nodes[n].running() {
            return;
        }
        let now = self.clock_of(n);
        self.nodes[n].process = Process::Running;
        // A new process has declared nothing lost yet.
        self.principal_lost_at[n] = None;
        if self.nodes[n].page_repair != PageRepair::None {
            // The damaged page is still damaged: the restarted mirror goes on with its repair
            // (it stopped with the process, and the session stayed SUSPENDED for good).
            self.after(PAGE_REPAIR, Ev::PageRepaired { node: n });
        }
        let hardened = self.nodes[n].log.lsn_hardened();
        if let Some((partner, me, change)) = self.unfinished_take_over(n) {
            // Reference section 5: the role change was recorded before this mirror drained its
            // redo and crashed; recovery brings it up as the principal it had become, so the
            // role change completes now (its copy was never made writable, and every commit
            // failed with 9002 while the report showed no failover).
            self.on_failover(
                n,
                change.kind,
                partner,
                me,
                change.role_sequence,
                change.failover_lsn,
            );
        } else if self.is_writer(n) {
            // Recovery: the copy writes on from its hardened end, as a new generation.
            let role_sequence = self.nodes[n].session().map_or(0, Partner::role_sequence);
            let generation = self.new_generation(n, role_sequence);
            let fork = self.nodes[n].log.fork();
            self.nodes[n].log.start_writing(fork, generation);
            self.nodes[n].generation = generation;
        }
        let node = &mut self.nodes[n];
        if let Some(p) = node.partner.as_mut() {
            if !p.is_running() {
                p.restart(now, hardened);
            }
        }
        if !node.witness.is_running() {
            node.witness.restart(now);
        }
        self.serve_standalone(n);
        self.drain(n);
    }

    /// The role change node `n` recorded as the new principal but did not finish (it stopped
    /// during its take-over): (old principal, new principal, the change).
    fn unfinished_take_over(
        &self,
        n: usize,
    ) -> Option<(InstanceId, InstanceId, mirror_protocol::RoleChange)> {
        if self.is_writer(n) {
            return None;
        }
        let p = self.nodes[n].partner.as_ref()?;
        if p.is_ended() || p.role() != Role::Principal {
            return None;
        }
        let change = *p.durable().role_history.last()?;
        (change.principal == p.me()).then_some((p.partner(), p.me(), change))
    }

    /// The instance continues after a pause: first the ping ticks that fell due (declaring lost
    /// what timed out), then its queued messages (reference section 4).
    fn resume_instance(&mut self, n: usize) {
        if !self.nodes[n].paused {
            return;
        }
        self.nodes[n].paused = false;
        self.nodes[n].resumed_at = self.now;
        let deferred: Vec<(Nanos, Ev)> = self.nodes[n].deferred.drain(..).collect();
        self.nodes[n].deferred_control.clear();
        self.nodes[n].deferred_submits = 0;
        // Every tick that fell due, each as of its own moment, in time order: the reply age is
        // judged there, not at the resume (a pause just shorter than TIMEOUT declared its peers
        // lost at the resume). A tick re-armed from one that fell due may fall due too.
        let (mut replay, rest): (Vec<_>, Vec<_>) = deferred
            .into_iter()
            .partition(|(_, e)| matches!(e, Ev::Timer { .. }));
        while !replay.is_empty() {
            let first = (0..replay.len())
                .min_by_key(|&i| replay[i].0)
                .expect("not empty");
            let (at, tick) = replay.swap_remove(first);
            let Ev::Timer {
                node,
                timer,
                generation,
            } = tick
            else {
                continue;
            };
            self.replay_due = Some(at);
            self.fire_timer_due(node, timer, generation, at);
            self.replay_due = None;
            replay.append(&mut self.replayed_ticks);
        }
        self.release_replayed_acks();
        for (_, ev) in rest {
            self.queue.push(self.now, ev);
        }
        // After what queued up: it may have learnt of a newer role meanwhile.
        self.queue.push(self.now, Ev::Resumed { node: n });
        // Its peers' log held back while it hung flows again (see `World::silent`).
        for peer in 0..self.nodes.len() {
            if peer != n && !self.silent(peer) {
                self.pump(peer);
            }
        }
    }

    /// Log writes fail: 9002 on a principal (its commits fail); a mirror suspends the session.
    fn disk_full(&mut self, n: usize) {
        self.nodes[n].disk_full = true;
        self.mirror_write_failed(n);
    }

    /// A mirror that cannot write its log suspends the session (spec/scenario.md, `disk_full`),
    /// unless it is suspended already. Asked again at each log it cannot write until the
    /// principal's SUSPEND reaches it (its own forwarded SUSPEND may be lost with a connection).
    pub fn mirror_write_failed(&mut self, n: usize) {
        if self.nodes[n].mirror_cannot_write() {
            self.internal_command(n, SessionCommand::Suspend);
        }
    }

    /// A damaged page (reference section 6): on a mirror the session suspends until the page
    /// comes from the principal; on a principal it is repaired from a SYNCHRONIZED mirror.
    fn corrupt_page(&mut self, n: usize) {
        let Some(p) = self.nodes[n].session() else {
            self.notes.push(format!(
                "{}: a damaged page and no mirror to repair it from",
                self.nodes[n].name
            ));
            return;
        };
        match p.role() {
            Role::Mirror if p.config().suspended => {
                // The operator's SUSPEND stands; the page is fetched once the session runs again
                // (not modelled further: nothing waits for it while suspended).
            }
            Role::Mirror => {
                self.nodes[n].page_repair = PageRepair::Suspending;
                self.advance_page_repair(n);
            }
            Role::Principal if p.state() != mirror_protocol::MirroringState::Synchronized => {
                self.notes.push(format!(
                    "{}: a damaged page could not be repaired (the session is not SYNCHRONIZED)",
                    self.nodes[n].name
                ));
            }
            // The page comes from the mirror's copy (reference section 6); the statement that
            // read it waits a round trip, which no commit does. The note shows the fault was
            // met (an audit found no trace of it).
            Role::Principal => self.notes.push(format!(
                "{}: a damaged page was repaired from the mirror's copy",
                self.nodes[n].name
            )),
        }
    }

    /// A page repair's next step, PAGE_REPAIR after the previous one: suspend the session if
    /// that could not be done yet, or resume it once the page has come from the principal,
    /// until it runs again. The page comes only over a connection to the principal; an
    /// operator's SUSPEND or RESUME in the meantime ends the repair's hold on the session
    /// (`PageRepair::None`).
    pub fn page_repaired(&mut self, n: usize) {
        if !self.nodes[n].running() {
            return; // the repair goes on when the process restarts
        }
        match self.nodes[n].page_repair {
            PageRepair::None => {}
            PageRepair::Suspending => self.advance_page_repair(n),
            PageRepair::Fetching | PageRepair::Resuming(_) => {
                let session = self.nodes[n].session();
                let connection = session
                    .filter(|p| p.is_connected(p.partner()))
                    .and_then(|p| p.links().conn(p.partner()));
                let suspended = session.is_some_and(|p| p.config().suspended);
                if !suspended {
                    // The session runs again: the page came, and the repair is over.
                    self.nodes[n].page_repair = PageRepair::None;
                    return;
                }
                let sent_on = match self.nodes[n].page_repair {
                    PageRepair::Resuming(conn) => Some(conn),
                    _ => None,
                };
                if let Some(conn) = connection.filter(|&c| Some(c) != sent_on) {
                    // Asked again on a new connection until the session runs: a RESUME sent
                    // over a link cut silently is lost with its connection (the session stayed
                    // SUSPENDED for good after the partition healed; found by an audit).
                    self.nodes[n].page_repair = PageRepair::Resuming(conn);
                    self.internal_command(n, SessionCommand::Resume);
                }
                self.after(PAGE_REPAIR, Ev::PageRepaired { node: n });
            }
        }
    }

    /// Suspends the session for a damaged page, or tries again later if the mirror cannot
    /// (it is not connected to its principal).
    fn advance_page_repair(&mut self, n: usize) {
        let suspended = |world: &Self| {
            world.nodes[n]
                .session()
                .is_some_and(|p| p.config().suspended)
        };
        // Once: a second SUSPEND, replayed after the repair had resumed the session (a hang
        // across the repair), suspended it for good.
        if !suspended(self) {
            self.internal_command(n, SessionCommand::Suspend);
        }
        if suspended(self) {
            self.nodes[n].page_repair = PageRepair::Fetching;
        }
        self.after(PAGE_REPAIR, Ev::PageRepaired { node: n });
    }

    pub(super) fn internal_command(&mut self, n: usize, command: SessionCommand) {
        if self.nodes[n].paused {
            // A hung instance does no work (spec/scenario.md, `pause`): it suspends for a full
            // disk or a damaged page once it runs again.
            let now = self.now;
            self.nodes[n]
                .deferred
                .push_back((now, Ev::InternalCommand { node: n, command }));
            return;
        }
        let now = self.clock_of(n);
        if let Some(p) = self.nodes[n]
            .partner
            .as_mut()
            .filter(|p| !p.is_ended() && p.is_running())
        {
            let _ = p.handle_command(now, mirror_protocol::INTERNAL_COMMAND, command);
        }
        self.drain(n);
    }

    // ---------------------------------------------------------------------------------------

    /// The log backup job: a BACKUP LOG on the instance where the database is ONLINE; the log is
    /// then truncated as far as mirroring allows (reference section 6).
    pub fn log_backup_job(&mut self) {
        if let Some(interval) = self.scenario.database.log_backup_interval_ns {
            self.after(interval, Ev::LogBackup);
        }
        let Some(n) = (0..self.nodes.len()).find(|&n| {
            self.nodes[n].running() && self.is_writer(n) && self.nodes[n].serving_recorded
        }) else {
            return;
        };
        let db = &self.scenario.database.name;
        let sql = format!(
            "BACKUP LOG [{db}] TO DISK = 'log_backup_job_{}.trn'",
            self.now / MILLISECOND
        );
        let Ok(statements) = mirror_setup::parse_batch(&sql) else {
            return;
        };
        let context = mirror_setup::StatementContext {
            end_of_log_lsn: self.backup_end(n),
            database_size_bytes: self.scenario.database.size_bytes,
            ..Default::default()
        };
        let name = self.nodes[n].name.clone();
        if self.estate.execute(&name, &statements[0], &context).is_ok() {
            self.log_backup_end = context.end_of_log_lsn;
            self.emit(
                n,
                "log_backup",
                serde_json::json!({"end_lsn": context.end_of_log_lsn}),
            );
            self.release_memory(n);
        }
    }

    /// One `sp_dbmmonitorresults` sample per session partner.
    pub fn sample_monitor(&mut self) {
        self.queue.push(self.now + MONITOR_INTERVAL, Ev::Monitor);
        self.last_monitor_tick = self.now;
        for n in 0..self.nodes.len() {
            let window = reset_window(&mut self.nodes[n]);
            if self.nodes[n].paused {
                // The monitor job runs on the instance: a hung one records nothing (a
                // powered-off one neither), and the next row's rates start afresh.
                continue;
            }
            let Some(sample) = self.monitor_sample(n, &window, MONITOR_INTERVAL) else {
                continue;
            };
            let Some(p) = self.nodes[n].session() else {
                continue;
            };
            let principal_end = (p.role() == Role::Principal).then(|| p.lsn_end());
            self.send_queue_max = self.send_queue_max.max(p.send_queue_bytes());
            let redo = self.nodes[n].log.redo_queue_bytes();
            self.redo_queue_max = self.redo_queue_max.max(redo);
            self.monitor.push(sample);
            if let Some(lsn) = principal_end {
                self.note_log_time(n, lsn);
            }
        }
    }

    /// Instance `n`'s `sp_dbmmonitorresults` figures as of now, the rates taken over `window`,
    /// which covers the last `window_ns`; `None` when it holds no running session.
    pub(super) fn monitor_sample(
        &self,
        n: usize,
        window: &Window,
        window_ns: u64,
    ) -> Option<MonitorSample> {
        let p = self.nodes[n].session().filter(|p| p.is_running())?;
        // Per second over the window (KB/s for bytes): exact integer division, so a full 15 s
        // window gives what dividing by 15 gives.
        let per_second = |amount: u64| {
            let rate = u128::from(amount) * u128::from(SECOND) / u128::from(window_ns.max(1));
            u64::try_from(rate).unwrap_or(u64::MAX)
        };
        let at_us = self.now / 1000;
        Some(MonitorSample {
            at_us,
            on: self.nodes[n].name.clone(),
            role: match p.role() {
                Role::Principal => MirroringRole::Principal,
                Role::Mirror => MirroringRole::Mirror,
            },
            mirroring_state: session_state(p.state()),
            witness_status: match p.witness_state() {
                mirror_protocol::WitnessState::Unknown => WitnessState::Unknown,
                mirror_protocol::WitnessState::Connected => WitnessState::Connected,
                mirror_protocol::WitnessState::Disconnected => WitnessState::Disconnected,
            },
            log_generation_rate_kbs: per_second(window.log_generated / 1024),
            unsent_log_kb: p.send_queue_bytes() / 1024,
            send_rate_kbs: per_second(window.sent / 1024),
            unrestored_log_kb: self.nodes[n].log.redo_queue_bytes() / 1024,
            recovery_rate_kbs: per_second(window.redone / 1024),
            transaction_delay_ms: window.delay / MILLISECOND,
            average_delay_ms: if window.transactions == 0 {
                0.0
            } else {
                (window.delay as f64 / window.transactions as f64) / MILLISECOND as f64
            },
            transactions_per_sec: per_second(window.transactions),
            // A row cannot know of catching up after it was recorded.
            time_behind_us: self.time_behind(n, p).min(at_us),
        })
    }
}

/// The report's name for a protocol state.
pub fn session_state(s: mirror_protocol::MirroringState) -> SessionState {
    use mirror_protocol::MirroringState as M;
    match s {
        M::Suspended => SessionState::Suspended,
        M::Disconnected => SessionState::Disconnected,
        M::Synchronizing => SessionState::Synchronizing,
        M::PendingFailover => SessionState::PendingFailover,
        M::Synchronized => SessionState::Synchronized,
    }
}
