//! Runs a scenario and builds its report (spec/cli.md).

use mirror_protocol::{FailoverKind, Mutant, Partner, Role, SECOND};

use super::faults::session_state;
use super::record::Recorder;
use super::world::World;
use crate::report::{
    evaluate_expectations, ActualOutcome, FailoverCounts, FailoverReport, FinalState,
    InvariantCheck, LatencySummary, LsnRange, Queues, Report, SplitBrainReport, StepOutcome,
    StepReport, Transactions, Verdict, NONE,
};
use crate::scenario::{RoleHolder, Scenario, SessionState};

/// What one run produced.
pub struct RunResult {
    /// The report (its `wall_ms` is left 0: the simulator never reads a clock).
    pub report: Report,
    /// Why the event stream could not be written, if it could not.
    pub events_error: Option<String>,
    /// The timeline marks, when asked for.
    pub timeline: Vec<super::trace::Mark>,
    /// The instances' names, in scenario order.
    pub names: Vec<String>,
    /// Every acknowledged commit's latency in microseconds of simulated time (what
    /// `report.commit_latency_us` summarises, without the commits still in flight at the end),
    /// for callers that need the whole distribution (`sim bench`).
    pub latency_us: hdrhistogram::Histogram<u64>,
    /// The longest of those latencies and their sum, exact (the histogram rounds each value
    /// up to its precision), for an exact max and mean of the acknowledged commits.
    pub latency_max_us: u64,
    /// See `latency_max_us`.
    pub latency_sum_us: u128,
    /// When the client workload started, in nanoseconds of simulated time; `None` if it never
    /// did (no workload, or the setup steps never finished).
    pub workload_started_ns: Option<u64>,
}

/// Runs `scenario` with `seed` (and a mutant, in builds with the `mutants` feature), writing
/// events to `record`, keeping the timeline marks when `timeline` is set.
pub fn run(
    scenario: &Scenario,
    seed: u64,
    mutant: Option<Mutant>,
    record: Recorder,
    timeline: bool,
) -> RunResult {
    let mut world = World::new(scenario, seed, record, timeline);
    world.mutant = mutant;
    world.schedule_steps();
    world.schedule_faults();
    let starts_now = scenario
        .workload
        .as_ref()
        .is_some_and(|w| w.start == crate::scenario::WorkloadStart::AtStart);
    if starts_now || world.steps.leading == 0 {
        world.start_workload();
    }
    world.run(scenario.duration_ns);
    world.record_role_changes_not_yet_serving();
    world.finish_unavailability();
    // The acknowledged commits' latencies (the report adds the waits of those in flight).
    let latency_us = world.latency_us.clone();
    let (latency_max_us, latency_sum_us) = (world.latency_max_us, world.latency_sum_us);
    let report = world.report();
    let events_error = world.record.finish();
    let names = world.nodes.iter().map(|n| n.name.clone()).collect();
    RunResult {
        report,
        events_error,
        timeline: world.timeline.take().unwrap_or_default(),
        names,
        latency_us,
        latency_max_us,
        latency_sum_us,
        workload_started_ns: world.workload_started,
    }
}

impl World<'_> {
    /// A role change whose new principal has not served by the end of the run is a failover
    /// of the run all the same (reference section 2: the role sequence counts role switches;
    /// section 5: forced service makes the mirror principal "at once"; an automatic failover's
    /// role sequence n+1 is recorded before the redo). One still taking over, or that crashed
    /// during its take-over, is listed; every failover whose new principal never served is
    /// unavailable to the end of the run.
    fn record_role_changes_not_yet_serving(&mut self) {
        for n in 0..self.nodes.len() {
            let (change, from, to, handed_over) = match self.unserved_role_change(n) {
                Some((change, from)) => (change, from, n, None),
                None => match self.unheard_hand_over(n) {
                    Some((change, to)) => {
                        let at = self.mirror_role_at[n].unwrap_or(self.now);
                        (change, n, to, Some(at))
                    }
                    None => continue,
                },
            };
            let role_sequence = change.role_sequence;
            let history_role = self.nodes[to].role_offset + role_sequence;
            let listed = self
                .failovers
                .iter()
                .any(|f| f.to == to && f.role_sequence == history_role);
            if listed {
                continue;
            }
            let mut record = self.failover_record(change.kind, from, to, role_sequence);
            let note = match handed_over {
                // The old principal's hand-over is the role change: the new one never got it.
                Some(at) => {
                    record.at = at.max(record.detected);
                    format!(
                        "{} handed the principal role (role sequence {role_sequence}) to {}, which never heard of it before the run ended",
                        self.nodes[from].name, self.nodes[to].name
                    )
                }
                None => format!(
                    "{} took the principal role (role sequence {role_sequence}) but had not served when the run ended",
                    self.nodes[to].name
                ),
            };
            self.notes.push(note);
            self.failovers.push(record);
            // One `failover` event per entry of `failovers[]` (spec/cli.md: tools rely on it);
            // this one never completed its take-over, and says so. A hand-over the new
            // principal never heard of is the old principal's to report.
            let on = if handed_over.is_some() { from } else { to };
            self.emit(
                on,
                "failover",
                serde_json::json!({
                    "kind": change.kind.name(),
                    "from": self.nodes[from].name,
                    "to": self.nodes[to].name,
                    "role_sequence": role_sequence,
                    "failover_lsn": change.failover_lsn,
                    "served": false,
                }),
            );
        }
        let unserved_since = self.unserved_since;
        let unserved: Vec<usize> = (0..self.failovers.len())
            .filter(|&i| !self.failovers[i].served)
            .collect();
        for i in unserved {
            let failure = self.failure_behind(&self.failovers[i], unserved_since);
            self.failovers[i].unavailable = self.now.saturating_sub(failure);
        }
    }

    /// A manual failover instance `n` completed as the old principal (it is the mirror at the
    /// new role sequence, its partner the principal) that its partner never heard of: the hand-
    /// over was on its way when the partner went down or was cut off. The statement succeeded
    /// and the role sequence counts it (reference section 2); the report listed no failover.
    fn unheard_hand_over(&self, n: usize) -> Option<(mirror_protocol::RoleChange, usize)> {
        let (p, change) = self.current_role_change(n)?;
        let handed = p.role() == Role::Mirror && change.principal == p.partner();
        let to = self.index_of(p.partner());
        let unheard = self
            .session_of(to)
            .is_some_and(|q| q.role_sequence() < change.role_sequence);
        (handed && unheard).then_some((change, to))
    }

    /// Instance `n`'s view of the current session and the role change that made its current
    /// role sequence, if it remembers one. The current session's view only: an instance that
    /// never heard of a PARTNER OFF holds an older session, whose role sequences the history
    /// numbers differently.
    fn current_role_change(&self, n: usize) -> Option<(&Partner, mirror_protocol::RoleChange)> {
        let p = self.session_of(n)?;
        let change = p.durable().role_history.last().copied()?;
        (change.role_sequence == p.role_sequence()).then_some((p, change))
    }

    /// The role change by which instance `n` holds the principal role of the current session
    /// without having served at it yet (taking over, or crashed during its take-over), and the
    /// instance it took the role from.
    fn unserved_role_change(&self, n: usize) -> Option<(mirror_protocol::RoleChange, usize)> {
        let (p, change) = self.current_role_change(n)?;
        let holds_it = p.role() == Role::Principal && change.principal == p.me();
        let history_role = self.nodes[n].role_offset + change.role_sequence;
        let served = self
            .history
            .serve_starts
            .iter()
            .any(|s| s.node == n && s.role_sequence == history_role);
        (holds_it && !served).then(|| (change, self.index_of(p.partner())))
    }

    /// Commits still waiting at the end for their mirror's answer, TIMEOUT or more after they
    /// were issued and hardened locally: from the oldest, no commit could be acknowledged in
    /// time (as a stall of the mirror's connection still under way at the end).
    fn finish_late_answers(&mut self) {
        // Not for a hung principal (its hang is judged as such) nor while another serves.
        let judged = |n: usize| !self.nodes[n].paused && !self.another_serves(n);
        let oldest = self.pending.iter().find(|(_, tx)| {
            tx.node < self.nodes.len()
                && judged(tx.node)
                && self.nodes[tx.node].resumed_at <= tx.intended
                && self.mirror_wait_timeout(tx.node).is_some_and(|timeout| {
                    self.now.saturating_sub(tx.intended) >= timeout
                        && self.nodes[tx.node].log.lsn_hardened() >= tx.lsn
                })
        });
        if let Some((_, tx)) = oldest {
            let (from, now) = (tx.intended, self.now);
            self.note_unserved(from, now);
        }
    }

    fn finish_unavailability(&mut self) {
        self.finish_late_answers();
        if let Some(since) = self
            .workload_started
            .and_then(|start| self.finish_mirror_stall(start))
        {
            self.unserved_since = Some(self.unserved_since.map_or(since, |s| s.min(since)));
        }
        if let Some(since) = self.unserved_since.take() {
            self.note_unserved(since, self.now);
        }
    }

    /// The last principal (spec/scenario.md): serving at the end, else the one that served most
    /// recently (highest role sequence, then highest end of log).
    ///
    /// One case the spec's wording leaves open: the instance serving at the end may be stale,
    /// another having served since at a higher role sequence that no longer serves. After
    /// forced service, the old principal may still serve (a split brain) while the instance
    /// that forced service is down or cut off; a principal paused (hung) through an automatic
    /// failover still holds its old role when the new principal loses quorum. The higher role
    /// sequence is the history that survives (reference section 5: the old principal, once it
    /// hears of it, becomes the mirror and discards its log past the fork LSN), so its
    /// instance is the last principal; what a split brain's old principal acknowledged past
    /// the fork is lost (counted in `lost_acknowledged`), not a broken
    /// `acknowledged_durable`.
    fn last_principal(&self) -> Option<usize> {
        // Copies serving without mirroring (SET PARTNER OFF, a mirror recovered after it) are
        // separate databases from then on: neither will discard the other's log, and no role
        // sequence ranks them. When such a copy serves beside another at the end, the commits
        // are judged against the one the report names as the principal.
        let serving: Vec<usize> = (0..self.nodes.len())
            .filter(|&n| self.serves_at_end(n))
            .collect();
        if serving.len() > 1 && serving.iter().any(|&n| self.session_of(n).is_none()) {
            return self.principal_at_end();
        }
        let chosen = self.last_principal_served();
        // An instance still taking over holds the highest role sequence: its history survives,
        // though it has not served yet (a forced service's fork is what the others are judged
        // against).
        let role_of = |n: usize| self.nodes[n].role_offset + self.role_sequence_of(n);
        let taking_over = (0..self.nodes.len())
            .filter(|&n| self.unserved_role_change(n).is_some())
            .max_by_key(|&n| role_of(n));
        match (chosen, taking_over) {
            (Some(c), Some(t)) if role_of(t) > self.last_served_role(c) => Some(t),
            (None, t) => t,
            (c, _) => c,
        }
    }

    /// The last principal among the instances that served (see [`World::last_principal`]).
    fn last_principal_served(&self) -> Option<usize> {
        let serving = (0..self.nodes.len())
            .filter(|&n| self.nodes[n].serving_recorded)
            .max_by_key(|&n| self.serving_role(n));
        let Some(serving) = serving else {
            // The role sequence each served at, not the one its session holds now: an old
            // principal that has learnt of a forced service holds the new role sequence as the
            // mirror, with a longer log of the abandoned fork (found by `sim sweep --swarm`).
            return self
                .history
                .serve_starts
                .iter()
                .max_by_key(|s| (s.role_sequence, self.nodes[s.node].log.lsn_hardened()))
                .map(|s| s.node);
        };
        // The history's role sequences, which keep growing across sessions set up again.
        let starts = &self.history.serve_starts;
        let serving_at = self.serving_role(serving);
        // A newer role sequence of the same session has served: the one serving at the end is
        // stale, either the old principal of a split brain or one that was paused (hung)
        // through the role change. Another session's copy is another database: the one serving
        // at the end is the one spec/scenario.md names, and what is judged against (a later
        // session's principal down at the end made the report name one copy and judge the
        // commits against the other's log).
        let session = |role_sequence: u64| role_sequence / super::world::SESSION_ROLES;
        // A copy recovered after SET PARTNER OFF is such another database too, though its line
        // is numbered in its old session (a recovered copy, mirrored again and down at the end,
        // had the commits of the old principal serving its clients judged against its log).
        let recovered = &self.history.recovered_lines;
        match starts
            .iter()
            .filter(|s| session(s.role_sequence) == session(serving_at))
            .filter(|s| !recovered.contains_key(&s.role_sequence))
            .max_by_key(|s| (s.role_sequence, s.at))
        {
            Some(newest) if newest.role_sequence > serving_at => Some(newest.node),
            _ => Some(serving),
        }
    }

    /// Whether instance `n` serves at the end. A paused instance only thinks it does: hung, it
    /// acknowledges nothing (spec/scenario.md, `pause`).
    fn serves_at_end(&self, n: usize) -> bool {
        self.nodes[n].serving_recorded
    }

    /// Whether instance `n` is paused (hung) and another has served since at a higher role
    /// sequence: what it thinks of the session is stale.
    fn hung_and_replaced(&self, n: usize) -> bool {
        self.nodes[n].paused && self.replaced(n)
    }

    /// Whether another instance began serving at a higher role sequence than `n` last did.
    fn replaced(&self, n: usize) -> bool {
        let starts = &self.history.serve_starts;
        let at = starts
            .iter()
            .rev()
            .find(|s| s.node == n)
            .map(|s| s.role_sequence);
        at.is_some_and(|at| starts.iter().any(|s| s.node != n && s.role_sequence > at))
    }

    fn role_sequence_of(&self, n: usize) -> u64 {
        self.nodes[n].session().map_or(0, Partner::role_sequence)
    }

    /// Instance `n`'s view of a mirroring session that still exists: its partner still holds
    /// the same session with it. A partner that was away (powered off, cut off) when the other
    /// ran SET PARTNER OFF keeps an orphaned view, DISCONNECTED once it runs again, as
    /// `sys.database_mirroring` on it would show until the DBA removes it there too; that view
    /// is of a session that no longer exists, so the report does not take it as the session.
    fn session_of(&self, n: usize) -> Option<&Partner> {
        let p = self.nodes[n].session()?;
        let other = self.nodes.get(self.index_of(p.partner()))?;
        other
            .session()
            .is_some_and(|q| q.partner() == p.me())
            .then_some(p)
    }

    /// The role sequence (as the history numbers it) instance `n`, serving, serves at: the one
    /// it last began serving at, or its session's if higher. A principal that goes on serving
    /// into a session it sets up again records a start there (`History::serve_on`); before it
    /// did, a later session's principal serving alone at the end was ranked by its old
    /// session's number, below its old mirror's failover, and its commits were judged against
    /// that mirror's log.
    fn serving_role(&self, n: usize) -> u64 {
        let held = self.nodes[n].role_offset + self.role_sequence_of(n);
        self.last_served_role(n).max(held)
    }

    /// The role sequence (as the history numbers it) instance `n` last began serving at.
    fn last_served_role(&self, n: usize) -> u64 {
        self.history
            .serve_starts
            .iter()
            .rev()
            .find(|s| s.node == n)
            .map_or(0, |s| s.role_sequence)
    }

    /// The instance `final.principal` names: serving at the end, of the highest role sequence
    /// at which it began serving in a session (a forced service's new principal outranks the
    /// old principal it cut off, even when the clients went back to the old one and both
    /// sessions have ended: found by `sim sweep --swarm`, the new principal's commits were
    /// flagged as broken durability; a copy recovered after SET PARTNER OFF took no role
    /// change and ranks by nothing of it); then of the highest role sequence it holds; among
    /// copies no role sequence ranks, the one the clients use, then the one whose history is
    /// newest.
    fn principal_at_end(&self) -> Option<usize> {
        (0..self.nodes.len())
            .filter(|&n| self.serves_at_end(n))
            .max_by_key(|&n| {
                (
                    self.nodes[n].session_role_served,
                    self.role_sequence_of(n),
                    self.clients_with() == Some(n),
                    self.last_served_role(n),
                )
            })
    }

    fn final_state(&self) -> (FinalState, RoleHolder, RoleHolder, SessionState) {
        let principal = self.principal_at_end();
        let partners: Vec<usize> = (0..self.nodes.len())
            .filter(|&n| self.session_of(n).is_some())
            .collect();
        // A hung instance that was replaced holds a stale view of itself: it ranks last, and
        // its view is not the session's. Then the higher role sequence: a down principal of
        // role sequence 1 is the last principal, not its old principal restarted at 0 unaware
        // of the failover (found by an audit: the report named the new principal the mirror).
        let by_role = |role: Role| {
            partners
                .iter()
                .copied()
                .filter(|&n| self.session_of(n).is_some_and(|p| p.role() == role))
                .max_by_key(|&n| {
                    (
                        !self.hung_and_replaced(n),
                        // Across sessions set up again, the later session ranks first.
                        self.nodes[n].role_offset + self.role_sequence_of(n),
                        self.nodes[n].running(),
                    )
                })
        };
        let last_principal = principal
            .filter(|&n| self.session_of(n).is_some())
            .or_else(|| by_role(Role::Principal));
        // The named principal's own session: its partner is the mirror, whatever other session
        // runs beside it (two sessions after PARTNER OFF: the report paired one session's
        // principal with the other's mirror).
        // With no one serving, the last principal's own partner too: two sessions' mirrors
        // otherwise tied, and the report paired one with the other's principal.
        let own_mirror = last_principal
            .and_then(|p| self.session_of(p))
            .map(|view| self.index_of(view.partner()))
            .filter(|&m| self.session_of(m).is_some_and(|v| v.role() == Role::Mirror));
        // An old principal that is down or cut off has not learnt of the role change yet: its
        // own view still says principal, but in the session it is the mirror, the new
        // principal's partner (the spec's example after an automatic failover), unless it still
        // serves (a split brain after forced service: two principals, no mirror).
        let mirror = own_mirror.or_else(|| by_role(Role::Mirror)).or_else(|| {
            let p = last_principal?;
            let m = self.index_of(self.session_of(p)?.partner());
            (m != p && self.session_of(m).is_some() && !self.serves_at_end(m)).then_some(m)
        });
        // A principal serving outside every session both partners still hold (its partner ran
        // PARTNER OFF unheard of, or went on to another session, or it is a copy of its own):
        // another session's mirror and state are another database's, so `final` is its own
        // view, as `sys.database_mirroring` on it shows (DISCONNECTED, its partner named), or no
        // session when it has none (it reported no session while its view, witness and all,
        // showed one).
        let outside = principal.filter(|&p| self.serves_at_end(p) && self.session_of(p).is_none());
        let own_view = outside.and_then(|p| self.nodes[p].session());
        // Its partner named, as its own view names it, even when that partner serves outside
        // the session (it ran PARTNER OFF cut off: `sims/the-principal-after-an-unheard-
        // partner-off-reports-its-own-session.toml`).
        let mirror = match outside {
            Some(_) => own_view.map(|v| self.index_of(v.partner())),
            None => mirror,
        };
        // The state as a running partner reports it (a stopped or hung instance's view is
        // frozen); the principal's view first, as `sys.database_mirroring` on it would show.
        let running = |n: &usize| !self.silent(*n);
        let view = match outside {
            Some(_) => own_view,
            None => last_principal
                .filter(running)
                .or(mirror.filter(running))
                .or(last_principal)
                .or(mirror)
                .and_then(|n| self.session_of(n)),
        };
        let state = view.map_or(SessionState::NoSession, |p| session_state(p.state()));
        // Both partners down or hung: neither answers a ping, whatever the views frozen at the
        // power-off or the hang say (both partners lost power while SYNCHRONIZED read
        // synchronized, the witness connected). SUSPENDED persists across restarts (reference
        // section 2) and stays.
        let partners_down = outside.is_none()
            && [last_principal, mirror]
                .into_iter()
                .flatten()
                .all(|n| self.silent(n));
        let state = match state {
            SessionState::Synchronized
            | SessionState::Synchronizing
            | SessionState::PendingFailover
                if partners_down =>
            {
                SessionState::Disconnected
            }
            other => other,
        };
        let name = |n: Option<usize>| n.map_or(NONE.to_string(), |n| self.nodes[n].name.clone());
        let witness = view
            .and_then(|p| p.config().witness)
            .map(|w| self.index_of(w));
        let final_state = FinalState {
            principal: name(principal),
            mirror: name(mirror),
            witness: name(witness),
            state,
            safety: view.map(|p| match p.config().safety {
                mirror_protocol::Safety::Full => crate::report::Safety::Full,
                mirror_protocol::Safety::Off => crate::report::Safety::Off,
            }),
            witness_state: view.filter(|p| p.config().witness.is_some()).map(|p| {
                match p.witness_state() {
                    _ if partners_down => crate::report::WitnessState::Disconnected,
                    mirror_protocol::WitnessState::Unknown => crate::report::WitnessState::Unknown,
                    mirror_protocol::WitnessState::Connected => {
                        crate::report::WitnessState::Connected
                    }
                    mirror_protocol::WitnessState::Disconnected => {
                        crate::report::WitnessState::Disconnected
                    }
                }
            }),
            // With no session left (SET PARTNER OFF), the role sequence the session last reached.
            role_sequence: outside
                .map(|p| vec![self.last_role_sequence(p)])
                .unwrap_or_else(|| partners.iter().map(|&n| self.role_sequence_of(n)).collect())
                .into_iter()
                .max()
                .unwrap_or_else(|| {
                    (0..self.nodes.len())
                        .map(|n| self.last_role_sequence(n))
                        .max()
                        .unwrap_or(0)
                }),
            // As sys.database_mirroring shows it (reference section 2: the latest LSN known
            // hardened on both partners), not only the last role change's: a session that
            // never failed over read 0.
            failover_lsn: view.map(|p| self.failover_lsn_known(p)),
        };
        let holder = |n: Option<usize>| {
            n.map_or(RoleHolder::Nobody, |n| {
                RoleHolder::Instance(crate::scenario::InstanceId(n))
            })
        };
        (final_state, holder(principal), holder(mirror), state)
    }

    /// `recovers`: once every fault has been healed (and the last operator command accepted)
    /// long enough, some instance serves, and with SAFETY FULL the session has been
    /// SYNCHRONIZED since the last heal. A run without faults has no heal: a session that can
    /// never synchronize (more log than its link carries) is what `[expect] state` judges.
    fn judge_recovery(&mut self, state: SessionState) {
        let session = (0..self.nodes.len()).find_map(|n| self.session_of(n).map(|p| p.config()));
        let Some(config) = session else { return };
        if state == SessionState::Suspended || config.suspended || self.faults_active() {
            return;
        }
        let quiet = self.now.saturating_sub(self.last_disturbance);
        if quiet < 2 * config.timeout() + 5 * SECOND {
            return;
        }
        let serving = self.nodes.iter().any(|n| n.serving_recorded);
        let synchronized_now = self.session_synchronized();
        if !serving {
            self.history.violate(
                "recovers",
                format!(
                    "the last fault or accepted SET PARTNER or SET WITNESS command was {} s before the end, yet no instance serves",
                    quiet / SECOND
                ),
            );
        } else if config.safety == mirror_protocol::Safety::Full
            && self.faulted
            && !(self.synchronized_since_disturbance || synchronized_now)
        {
            self.history.violate("recovers", format!("the last fault or accepted SET PARTNER or SET WITNESS command was {} s before the end, yet the session has not been SYNCHRONIZED since the last heal", quiet / SECOND));
        }
    }

    fn report(&mut self) -> Report {
        self.record_waits_of_commits_in_flight();
        let (final_state, principal, mirror, state) = self.final_state();
        if let Some(last) = self.last_principal() {
            let segments = self.nodes[last].log.segments().to_vec();
            let end = self.nodes[last]
                .log
                .lsn_hardened()
                .max(if self.nodes[last].running() {
                    self.nodes[last].log.lsn_end()
                } else {
                    0
                });
            // The role it served at or holds (one still taking over has not served yet).
            let held = self.nodes[last].role_offset + self.last_role_sequence(last);
            let last_role = self.serving_role(last).max(held);
            self.history.judge_durability(&segments, end, last_role);
            if let RoleHolder::Instance(serving) = principal {
                if serving.0 != last {
                    // A split brain's old principal still serves: say which log the commits
                    // were judged against, since it is not the one serving.
                    self.notes.push(format!(
                        "acknowledged commits are judged against {}'s log, the principal of the \
                         highest role sequence, whose history survives; {} still serves an \
                         older one (reference section 5)",
                        self.nodes[last].name, self.nodes[serving.0].name
                    ));
                }
            }
        }
        self.judge_recovery(state);
        let lost = self.history.lost;
        let counts = self.failover_counts();
        let steps = self.step_reports();
        let outcomes = self.steps.states.iter().map(|s| match (s.end, &s.error) {
            (None, _) => StepOutcome::Unfinished,
            (Some(_), Some(error)) => StepOutcome::Failed {
                error: error.number,
            },
            (Some(_), None) => StepOutcome::Succeeded,
        });
        // The histogram keeps three significant figures; the longest wait and the sum of all
        // are kept exactly.
        let latency = LatencySummary::from_histogram(&self.latency_us)
            .with_exact_max_and_mean(self.latency_max_us, self.latency_sum_us);
        let actual = ActualOutcome {
            principal,
            mirror,
            state,
            role_sequence: final_state.role_sequence,
            lost_acknowledged: lost,
            split_brain: !self.history.split_brains.is_empty(),
            failovers: counts,
            steps: outcomes.collect(),
            commit_latency_p99_ns: (latency.count > 0).then_some(latency.p99 * 1000),
            // In whole microseconds, the report's resolution: a bound copied from the report
            // (`unavailable_us`, event times) then holds exactly.
            unavailable_ns: self.unserved.longest / 1000 * 1000,
        };
        let expectations = evaluate_expectations(self.scenario, &actual);
        let invariants: Vec<InvariantCheck> = self
            .history
            .verdicts()
            .into_iter()
            .map(|(name, held, detail)| InvariantCheck {
                name: name.to_string(),
                held,
                detail,
            })
            .collect();
        let verdict = Verdict::of(&invariants, &expectations);
        let failovers = self
            .failovers
            .iter()
            .map(|f| FailoverReport {
                kind: match f.kind {
                    FailoverKind::Automatic => crate::report::FailoverKind::Automatic,
                    FailoverKind::Manual => crate::report::FailoverKind::Manual,
                    FailoverKind::Forced => crate::report::FailoverKind::Forced,
                },
                at_us: f.at / 1000,
                from: self.nodes[f.from].name.clone(),
                to: self.nodes[f.to].name.clone(),
                detected_us: f.detected / 1000,
                unavailable_us: f.unavailable / 1000,
                // Only forced service loses acknowledged commits by design; those a bug lost
                // break acknowledged_durable and are nobody's failover's.
                lost_acknowledged: match f.kind {
                    FailoverKind::Forced => self
                        .history
                        .lost_by_forced
                        .get(&f.role_sequence)
                        .copied()
                        .unwrap_or(0),
                    _ => 0,
                },
            })
            .collect();
        let split_brain = self
            .history
            .split_brains
            .iter()
            .map(|sb| SplitBrainReport {
                start_us: sb.start / 1000,
                end_us: sb.end.unwrap_or(self.now) / 1000,
                instances: sb
                    .nodes
                    .iter()
                    .map(|&n| self.nodes[n].name.clone())
                    .collect(),
                cause: sb.cause.name().to_string(),
            })
            .collect();
        Report {
            scenario: self.scenario.name.clone(),
            seed: self.seed,
            verdict,
            simulated_us: self.now / 1000,
            wall_ms: 0,
            events: self.events,
            steps,
            final_state,
            transactions: Transactions {
                submitted: self.submitted,
                acknowledged: self.acknowledged,
                failed: self.failed,
                in_flight: self.pending.len() as u64,
                lost_acknowledged: lost,
                lost_lsn_ranges: self
                    .history
                    .lost_ranges
                    .iter()
                    .map(|&(start, end)| LsnRange { start, end })
                    .collect(),
            },
            commit_latency_us: latency,
            failovers,
            split_brain,
            queues: Queues {
                send_queue_max_bytes: self.send_queue_max,
                redo_queue_max_bytes: self.redo_queue_max,
            },
            monitor: std::mem::take(&mut self.monitor),
            queries: std::mem::take(&mut self.queries),
            invariants,
            expectations,
            notes: std::mem::take(&mut self.notes),
        }
    }

    /// Commits still waiting when the run ends count in the latency figures at the time they
    /// have waited so far: spec/cli.md's example counts `acknowledged` plus `in_flight`, and
    /// a run that ends in a stall should not report the latency of the commits before it.
    fn record_waits_of_commits_in_flight(&mut self) {
        let now = self.now;
        let waits: Vec<u64> = self
            .pending
            .iter()
            .map(|(_, pending)| (now.saturating_sub(pending.intended) / 1000).max(1))
            .collect();
        for wait in waits {
            self.record_latency_us(wait);
        }
    }

    fn failover_counts(&self) -> FailoverCounts {
        let count = |kind| self.failovers.iter().filter(|f| f.kind == kind).count() as u64;
        FailoverCounts {
            automatic: count(FailoverKind::Automatic),
            manual: count(FailoverKind::Manual),
            forced: count(FailoverKind::Forced),
        }
    }

    fn step_reports(&self) -> Vec<StepReport> {
        self.scenario
            .steps
            .iter()
            .zip(&self.steps.states)
            .map(|(step, state)| StepReport {
                step: step.number,
                on: self.nodes[step.on.0].name.clone(),
                sql: step.sql.clone(),
                start_us: state.start.map(|t| t / 1000),
                end_us: state.end.map(|t| t / 1000),
                error: state.error.as_ref().map(|e| e.number),
                message: state.error.as_ref().map(|e| e.message.clone()),
            })
            .collect()
    }
}
