//! The operator's steps: T-SQL statements run in order on their instances, judged by the
//! catalogs (`mirror-setup`) and the protocol core, taking the time reference section 7 gives
//! them.

use std::collections::BTreeMap;

use mirror_protocol::{
    CommandId, Partner, Role, SessionCommand, SqlError, MILLISECOND, PING_INTERVAL, SECOND,
};
use mirror_setup::{views, BackupUndo, Effect, FailureKind, Query, StatementContext, Work};

use super::dblog::{histories_part_at, Body};
use super::world::{Ev, Process, World};

/// Error a client gets when it cannot connect to the instance at all (SQL Server's 53: "The
/// network path was not found").
const ERROR_INSTANCE_UNREACHABLE: u32 = 53;

/// How old (microseconds) the newest status row must be for `sp_dbmmonitorresults ...
/// @update_table = 1` to write another (SQL Server's 15 seconds).
const MONITOR_UPDATE_MIN_AGE_US: u64 = 15_000_000;

/// Error a client gets when the process it talks to dies under its statement (its host resets
/// the connection): SqlClient's 10054.
const ERROR_CONNECTION_RESET: u32 = 10054;

/// Error a client gets when the host it talks to goes silent under its statement: SqlClient's
/// 121 (the semaphore timeout).
const ERROR_CONNECTION_TIMED_OUT: u32 = 121;

/// How one step went.
#[derive(Clone, Debug, Default)]
pub struct StepState {
    /// When it started.
    pub start: Option<u64>,
    /// When it finished.
    pub end: Option<u64>,
    /// The error it failed with: its number and the message a DBA would read in SSMS.
    pub error: Option<SqlError>,
}

/// The step runner's state.
#[derive(Default)]
pub struct Steps {
    /// One per scenario step.
    pub states: Vec<StepState>,
    /// The protocol command a statement waits for: id -> (step, statement, issued at).
    pub waiting: BTreeMap<CommandId, (usize, usize, u64)>,
    next_command: CommandId,
    /// When the latest manual failover that was accepted was issued (its unavailability starts
    /// there; a later command issued during the failover does not move it).
    pub failover_issued_at: Option<u64>,
    /// How many leading steps (without `at`) must finish before an `after_setup` workload.
    pub leading: usize,
    /// The full or differential backup a statement is writing: (step, statement) -> backup
    /// set id; it reaches the end of log as of its completion.
    pub database_backups: BTreeMap<(usize, usize), u64>,
    /// The RESTORE DATABASE ... WITH RECOVERY statements under way that recover a copy's own
    /// log: (step, statement). A former mirror recovered so serves once the statement
    /// completes (a copy restored from backups holds their log from the statement's start:
    /// [`World::rebase_restored_copy`]).
    pub recoveries: std::collections::BTreeSet<(usize, usize)>,
    /// The statement running: (step, statement). Steps run one at a time, so a completion for
    /// any other is stale (its statement was interrupted).
    current: Option<(usize, usize)>,
    /// What a running backup statement changed, to take back if its instance stops first.
    backups: BTreeMap<(usize, usize), BackupUndo>,
    /// A statement failing softly, tried again until this moment: (step, statement, when the
    /// DBA sees the error).
    soft_deadline: Option<(usize, usize, u64)>,
    /// The SET PARTNER on a principal that waits for its session to start: (command, principal,
    /// mirror, the principal's address the mirror was prepared with).
    session_start: Option<(CommandId, usize, usize, mirror_setup::ServerAddress)>,
    /// The SET WITNESS under way: (command, witness, the port it names the witness at).
    witness_address: Option<(CommandId, usize, u16)>,
    /// The operator's SUSPEND statements not yet answered. One may be held by a take-over and
    /// applied long after it was issued.
    suspends: std::collections::BTreeSet<CommandId>,
}

impl World<'_> {
    /// Schedules the first step and notes how many leading steps the workload waits for.
    pub fn schedule_steps(&mut self) {
        let steps = &self.scenario.steps;
        self.steps.states = vec![StepState::default(); steps.len()];
        self.steps.leading = steps
            .iter()
            .position(|s| s.at_ns.is_some())
            .unwrap_or(steps.len());
        if let Some(first) = steps.first() {
            self.queue
                .push(first.at_ns.unwrap_or(0), Ev::StepStart { step: 0 });
        }
    }

    /// Step `i` starts now.
    pub fn start_step(&mut self, i: usize) {
        // Issued earlier to a hung instance, it started then.
        self.steps.states[i].start.get_or_insert(self.now);
        self.run_statement(i, 0);
    }

    fn finish_step(&mut self, i: usize, error: Option<SqlError>) {
        self.steps.current = None;
        self.steps.soft_deadline = None;
        // The step belongs to the instance it ran on (spec/cli.md: null is for faults only).
        let on = self.scenario.steps[i].on.0;
        self.emit(
            on,
            "step",
            serde_json::json!({
                "step": i + 1,
                "error": error.as_ref().map(|e| e.number),
                "message": error.as_ref().map(|e| e.message.as_str()),
            }),
        );
        let state = &mut self.steps.states[i];
        state.end = Some(self.now);
        state.error = error;
        if let Some(next) = self.scenario.steps.get(i + 1) {
            let at = next.at_ns.unwrap_or(0).max(self.now);
            self.queue.push(at, Ev::StepStart { step: i + 1 });
        }
        if i + 1 == self.steps.leading {
            self.leading_steps_done();
        }
    }

    /// The workload waits for the leading steps unless it starts at t = 0.
    pub fn leading_steps_done(&mut self) {
        let after_setup = self
            .scenario
            .workload
            .as_ref()
            .is_some_and(|w| w.start == crate::scenario::WorkloadStart::AfterSetup);
        if after_setup {
            self.start_workload();
        }
    }

    fn command_id(&mut self) -> CommandId {
        self.steps.next_command += 1;
        self.steps.next_command
    }

    /// A statement's protocol command finished.
    pub fn command_completed(&mut self, id: CommandId, result: Result<(), SqlError>) {
        if self.steps.suspends.remove(&id) && result.is_ok() {
            // The operator's SUSPEND, applied now, takes the session's suspension over from a
            // page repair that began while it was held (reference section 2: an operator's
            // SUSPEND persists; the repair must not resume it). Not a RESUME: applied before
            // the repair's own SUSPEND, ending the repair's hold left the session suspended
            // for good, where the page's arrival resumes it (reference section 6).
            self.end_page_repairs();
        }
        let mut witness = None;
        if let Some((_, w, port)) = self
            .steps
            .witness_address
            .take_if(|(command, ..)| *command == id)
        {
            witness = Some(format!("TCP://{}:{port}", self.scenario.instances[w].host));
            if result.is_ok() {
                for partner in (0..self.nodes.len()).filter(|&p| p != w) {
                    self.session_ports.insert((partner, w), port);
                }
            }
        }
        if let Some((_, p, m, address)) =
            self.steps.session_start.take_if(|(start, ..)| *start == id)
        {
            if result.is_err() {
                // Reference section 7: the statement changes nothing. The session it began is
                // taken down (after this handler): the principal goes on without mirroring, the
                // mirror waits again for the address it was prepared with.
                self.queue.push(
                    self.now,
                    Ev::SessionStartFailed {
                        principal: p,
                        mirror: m,
                        address: Box::new(address),
                    },
                );
            }
        }
        if let Some((step, statement, issued)) = self.steps.waiting.remove(&id) {
            let on = self.scenario.steps[step].on.0;
            let result = result.map_err(|error| self.in_sql_server_words(on, error, witness));
            // A session command takes at least the time of a catalog change (reference §7).
            self.queue.push(
                self.now.max(issued + MILLISECOND),
                Ev::StatementDone {
                    step,
                    statement,
                    result: result.map_err(Box::new),
                },
            );
        }
    }

    /// Statement `k` of step `i` finished.
    pub fn statement_done(&mut self, i: usize, k: usize, result: Result<(), SqlError>) {
        if self.steps.current != Some((i, k)) {
            // Interrupted: its step has already failed.
            return;
        }
        let n = self.scenario.steps[i].on.0;
        if self.nodes[n].running() && self.nodes[n].paused {
            // A hung instance does no work (spec/scenario.md, `pause`): a backup or restore
            // under way when it hung completes once it resumes, not during the pause.
            let ev = Ev::StatementDone {
                step: i,
                statement: k,
                result: result.map_err(Box::new),
            };
            self.nodes[n].deferred.push_back((self.now, ev));
            return;
        }
        self.steps.backups.remove(&(i, k));
        if self.steps.recoveries.remove(&(i, k)) && result.is_ok() {
            // Not a restart (it wrote `restart`, though nothing restarted): the operator brings
            // the copy into service on a fork of its own, accepting the loss, as forced service
            // does (reference section 7).
            self.serve_a_recovered_mirror(n, "forced");
        }
        if let Some(backup_id) = self.steps.database_backups.remove(&(i, k)) {
            if result.is_ok() {
                let on = self.scenario.steps[i].on.0;
                let end = self.backup_end(on);
                self.estate.complete_database_backup(backup_id, end);
            }
        }
        match result {
            Ok(()) => self.run_statement(i, k + 1),
            Err(error) => self.finish_step(i, Some(error)),
        }
    }

    /// Statement `k` of step `i` failed with `error`, which the DBA sees `after` from now. A
    /// soft failure (a connection attempt dropped silently: noticed only after TIMEOUT plus a
    /// ping) is tried again at every ping interval until then, as the connection attempts
    /// are: a pause, partition or power loss that heals meanwhile lets it connect (reference
    /// section 3). It failed with 1418 ten seconds after a half-second partition had healed.
    /// The last try is at the deadline itself: a connection that comes up in the last second
    /// counts.
    fn fail_statement_after(&mut self, i: usize, k: usize, error: SqlError, after: u64) {
        let deadline = match self.steps.soft_deadline {
            // A hard error on a retry (the peer crashed meanwhile) shows at once.
            _ if after == 0 => self.now,
            Some((step, statement, deadline)) if (step, statement) == (i, k) => deadline,
            _ => self.now.saturating_add(after),
        };
        let retry = self.now.saturating_add(PING_INTERVAL);
        if after > 0 && retry <= deadline {
            self.steps.soft_deadline = Some((i, k, deadline));
            self.queue.push(
                retry,
                Ev::StatementRetry {
                    step: i,
                    statement: k,
                },
            );
            return;
        }
        self.steps.soft_deadline = None;
        self.queue.push(
            deadline.max(self.now),
            Ev::StatementDone {
                step: i,
                statement: k,
                result: Err(Box::new(error)),
            },
        );
    }

    /// A statement that failed softly is tried again, unless it was interrupted meanwhile.
    pub fn retry_statement(&mut self, i: usize, k: usize) {
        if self.steps.current == Some((i, k)) {
            self.run_statement(i, k);
        }
    }

    /// Node `n` stopped (crash or power off): a statement running on it fails now, since its
    /// client's connection is gone, and the steps after it go on. A backup it was writing
    /// leaves no backup set. (The protocol work it started, a session or a failover, goes on or
    /// stops with the instance as the protocol decides.)
    pub fn interrupt_statement(&mut self, n: usize, crashed: bool) {
        let Some((i, k)) = self.steps.current else {
            return;
        };
        if self.scenario.steps[i].on.0 != n || self.steps.states[i].start.is_none() {
            return;
        }
        self.steps
            .waiting
            .retain(|_, &mut (step, statement, _)| (step, statement) != (i, k));
        self.steps.database_backups.remove(&(i, k));
        if let Some(undo) = self.steps.backups.remove(&(i, k)) {
            self.estate.abandon_backup(undo);
        }
        let error = self.stopped_error(n, crashed);
        self.finish_step(i, Some(error));
    }

    /// Step `i`, issued to node `n` while it hung, never ran: the node stopped. Its client's
    /// connection is gone, as a running statement's is.
    pub fn fail_issued_step(&mut self, i: usize, n: usize, crashed: bool) {
        let error = self.stopped_error(n, crashed);
        self.finish_step(i, Some(error));
    }

    /// What the client of a statement on node `n` sees when the node stops: 10054 after a
    /// crash, 121 after a power-off.
    pub(super) fn stopped_error(&self, n: usize, crashed: bool) -> SqlError {
        let name = &self.nodes[n].name;
        if crashed {
            SqlError::new(
                ERROR_CONNECTION_RESET,
                format!("A transport-level error has occurred when receiving results from the server. (provider: TCP Provider, error: 0 - An existing connection was forcibly closed by the remote host.) [{name}'s SQL Server process stopped]"),
            )
        } else {
            SqlError::new(
                ERROR_CONNECTION_TIMED_OUT,
                format!("A transport-level error has occurred when receiving results from the server. (provider: TCP Provider, error: 0 - The semaphore timeout period has expired.) [{name}'s host lost power]"),
            )
        }
    }

    fn node_named(&self, name: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .expect("the catalog names only scenario instances")
    }

    fn run_statement(&mut self, i: usize, k: usize) {
        let step = &self.scenario.steps[i];
        let Some(statement) = step.statements.get(k).cloned() else {
            self.finish_step(i, None);
            return;
        };
        self.steps.current = Some((i, k));
        let n = step.on.0;
        if self.nodes[n].process != Process::Running {
            let error = SqlError::new(
                ERROR_INSTANCE_UNREACHABLE,
                format!(
                    "cannot connect to {}: the instance is not running",
                    self.nodes[n].name
                ),
            );
            self.queue.push(
                self.now,
                Ev::StatementDone {
                    step: i,
                    statement: k,
                    result: Err(Box::new(error)),
                },
            );
            return;
        }
        let mut context = self.statement_context(n);
        if matches!(
            statement,
            mirror_setup::Statement::BackupDatabase { .. }
                | mirror_setup::Statement::BackupLog { .. }
        ) {
            context.end_of_log_lsn = self.backup_end(n);
        }
        let name = self.nodes[n].name.clone();
        let undo = match &statement {
            mirror_setup::Statement::BackupDatabase { database, .. }
            | mirror_setup::Statement::BackupLog { database, .. } => {
                Some(self.estate.backup_undo(&name, database))
            }
            _ => None,
        };
        // Which peers the catalogs admit before the statement: an endpoint change breaks only
        // the connections it stops admitting (`rejudge_connections`).
        let admitted_before = self.peers_admitted(n);
        let outcome = match self.estate.execute(&name, &statement, &context) {
            Ok(outcome) => {
                if let Some((error, after)) = self.witness_not_yet_reconnected(n, &outcome.effect) {
                    // Tried again at the next ping, as a soft failure is, until the deadline
                    // of the first try (kept in `soft_deadline`).
                    self.fail_statement_after(i, k, error, after);
                    return;
                }
                self.steps.soft_deadline = None;
                if let Some(undo) = undo {
                    self.steps.backups.insert((i, k), undo);
                }
                outcome
            }
            Err(e) => {
                let (error, after) = match e {
                    mirror_setup::StatementError::Sql {
                        error,
                        reported_after,
                    } => (error, reported_after),
                    other => (
                        SqlError::new(50000, other.to_string()),
                        std::time::Duration::ZERO,
                    ),
                };
                let after = u64::try_from(after.as_nanos()).unwrap_or(u64::MAX);
                self.fail_statement_after(i, k, error, after);
                return;
            }
        };
        if matches!(statement, mirror_setup::Statement::BackupLog { .. }) {
            self.log_backup_end = context.end_of_log_lsn;
            self.release_memory(n);
        }
        let restores_over = matches!(
            statement,
            mirror_setup::Statement::RestoreDatabase {
                mode: mirror_setup::RestoreMode::NoRecovery,
                ..
            } | mirror_setup::Statement::RestoreLog {
                mode: mirror_setup::RestoreMode::NoRecovery,
                ..
            }
        );
        if restores_over {
            self.stop_serving_a_restored_copy(n);
        }
        // A restore from a backup replaces the copy's log with the backups' log; RESTORE
        // DATABASE db WITH RECOVERY alone recovers the log the copy holds. For the scenario's
        // database only: a copy restored under another name is a catalog entry.
        let recovers = match &statement {
            mirror_setup::Statement::RecoverDatabase { database } => {
                self.estate.simulates(database)
            }
            mirror_setup::Statement::RestoreDatabase { database, mode, .. }
            | mirror_setup::Statement::RestoreLog { database, mode, .. }
                if self.estate.simulates(database) =>
            {
                self.nodes[n].log_from_backups = true;
                *mode == mirror_setup::RestoreMode::Recovery
            }
            _ => false,
        };
        if recovers && self.nodes[n].log_from_backups {
            // As the catalog does, from the statement's start: a crash during the restore
            // left a copy ONLINE in the catalog at the backups' end with the log engine still
            // holding the old log, and a session set up from it served from that log's end
            // (found by a regression audit).
            self.rebase_restored_copy(n);
        } else if recovers {
            // Its own log: it serves once the statement completes.
            self.steps.recoveries.insert((i, k));
        }
        match self.apply_effect(i, k, n, outcome.effect, &admitted_before) {
            Err(error) => self.queue.push(
                self.now,
                Ev::StatementDone {
                    step: i,
                    statement: k,
                    result: Err(Box::new(error)),
                },
            ),
            Ok(true) => {} // waits for a protocol command
            Ok(false) => {
                let after = match outcome.work {
                    Work::Catalog => MILLISECOND,
                    Work::Disk { bytes } => {
                        super::duration_of(bytes, self.scenario.disk.throughput_bytes_per_second)
                    }
                    Work::Immediate => 0,
                    _ => MILLISECOND,
                };
                self.after(
                    after,
                    Ev::StatementDone {
                        step: i,
                        statement: k,
                        result: Ok(()),
                    },
                );
            }
        }
    }

    /// SET WITNESS naming the witness the session already has, on a principal whose connection
    /// to it is not up: the catalogs found the witness reachable (a restart or a heal has just
    /// made it so), and the principal's connection to it is on its way (reference section 3:
    /// asked for at every ping tick). The statement waits for it as a connection attempt does,
    /// and fails with 1418 after TIMEOUT plus a ping if it never comes up. It failed with 1426
    /// ("not connected to its witness") at the very instant the witness came back (audit AI).
    fn witness_not_yet_reconnected(&self, n: usize, effect: &Effect) -> Option<(SqlError, u64)> {
        let Effect::SetWitness {
            witness,
            witness_address,
            ..
        } = effect
        else {
            return None;
        };
        let w = self.node_named(witness);
        let pid = self.nodes[w].pid;
        let principal = self.nodes[n].session()?;
        // At the address the session knows it by: named at another one (its endpoint moved),
        // the session's connection would never come up there, and the protocol core's 1426
        // answers at once (`sims/a-failed-set-witness-to-a-moved-witness-changes-nothing.toml`).
        let waiting = principal.role() == Role::Principal
            && !principal.is_taking_over()
            && principal.config().witness == Some(pid)
            && !principal.is_connected(pid)
            && self.address_of(n, w).port == witness_address.port;
        if !waiting {
            return None;
        }
        let timeout = principal.config().timeout();
        let error = SqlError::new(
            1418,
            "the principal's connection to its witness did not come up",
        );
        let error = mirror_setup::errors::in_sql_server_words(
            error,
            &self.scenario.database.name,
            &witness_address.to_string(),
        );
        Some((error, timeout.saturating_add(PING_INTERVAL)))
    }

    /// What the catalogs cannot know: live log and reachability.
    /// Where a backup taken on instance `n` now ends: its hardened end of log. A backup reads
    /// the log from disk, so log not yet flushed is not in it; a crash may still lose that log
    /// (reference section 4), and a backup holding it would put log on a restored mirror that
    /// its principal no longer has, and start a log chain past the end of the log.
    pub(super) fn backup_end(&self, n: usize) -> u64 {
        self.nodes[n].log.lsn_hardened()
    }

    fn statement_context(&self, n: usize) -> StatementContext {
        let mut unreachable = BTreeMap::new();
        for (j, other) in self.nodes.iter().enumerate() {
            if j == n {
                continue;
            }
            let kind = match other.process {
                Process::Crashed => Some(FailureKind::Hard),
                Process::PoweredOff => Some(FailureKind::Soft),
                Process::Running if other.paused => Some(FailureKind::Soft),
                Process::Running
                    if self.net.direction(n, j).partitioned
                        || self.net.direction(j, n).partitioned =>
                {
                    Some(FailureKind::Soft)
                }
                Process::Running => None,
            };
            if let Some(kind) = kind {
                unreachable.insert(other.name.clone(), kind);
            }
        }
        let node = &self.nodes[n];
        let mirror_hardened = node.session().map_or(0, |p| {
            let m = self.index_of(p.partner());
            match p.role() {
                Role::Principal => self.nodes[m].log.lsn_hardened(),
                Role::Mirror => node.log.lsn_hardened(),
            }
        });
        let witness_ready = node
            .session()
            .is_some_and(|p| p.role() == Role::Principal && p.is_connected(p.partner()));
        let taking_over = node.session().is_some_and(|p| p.is_taking_over());
        let session_timeout = node
            .session()
            .map(|p| std::time::Duration::from_nanos(p.config().timeout()));
        StatementContext {
            end_of_log_lsn: node.log.lsn_end(),
            session_timeout,
            database_size_bytes: self.scenario.database.size_bytes,
            mirror_hardened_lsn: mirror_hardened,
            witness_ready,
            taking_over,
            unreachable,
            links_cut: self.links_cut(),
        }
    }

    /// Every direction partitioned right now, by instance names (what the catalogs judge the
    /// connections between the other instances by, e.g. the mirror and the witness).
    fn links_cut(&self) -> std::collections::BTreeSet<(String, String)> {
        let n = self.nodes.len();
        (0..n * n)
            .map(|i| (i / n, i % n))
            .filter(|&(from, to)| from != to && self.net.direction(from, to).partitioned)
            .map(|(from, to)| (self.nodes[from].name.clone(), self.nodes[to].name.clone()))
            .collect()
    }

    /// Applies a statement's effect. `Ok(true)`: the statement now waits for a protocol command.
    /// `admitted_before`: [`Self::peers_admitted`] of instance `n` before the statement ran.
    fn apply_effect(
        &mut self,
        i: usize,
        k: usize,
        n: usize,
        effect: Effect,
        admitted_before: &[bool],
    ) -> Result<bool, SqlError> {
        match effect {
            Effect::None => Ok(false),
            Effect::DatabaseBackup { backup_id } => {
                self.steps.database_backups.insert((i, k), backup_id);
                Ok(false)
            }
            Effect::EndpointChanged { instance } => {
                let node = self.node_named(&instance);
                let before = if node == n {
                    admitted_before.to_vec()
                } else {
                    vec![true; self.nodes.len()]
                };
                self.rejudge_connections(node, &before);
                Ok(false)
            }
            Effect::StartSession {
                principal,
                mirror,
                principal_address,
                mirror_address,
                ..
            } => {
                let (p, m) = (self.node_named(&principal), self.node_named(&mirror));
                // The partners reach each other at the addresses the session was set up with,
                // wherever their endpoints listen later.
                self.session_ports.insert((p, m), mirror_address.port);
                self.session_ports.insert((m, p), principal_address.port);
                let id = self.command_id();
                self.start_session(p, m, id);
                self.steps.waiting.insert(id, (i, k, self.now));
                self.steps.session_start = Some((id, p, m, principal_address));
                Ok(true)
            }
            Effect::SetWitness {
                witness,
                witness_address,
                ..
            } => {
                let w = self.node_named(&witness);
                // The session names the witness by this address once the statement succeeds
                // (a failed one changes nothing); while it runs, a new witness is reached where
                // its endpoint listens, as the catalogs judged it. Its command is the next.
                let command = self.steps.next_command + 1;
                self.steps.witness_address = Some((command, w, witness_address.port));
                let pid = self.nodes[w].pid;
                self.witnesses_named.insert(w);
                self.session_command(i, k, n, SessionCommand::SetWitness(pid))
            }
            Effect::EndSession { .. } => {
                self.session_removed = true;
                self.session_command(i, k, n, SessionCommand::PartnerOff)
            }
            Effect::SessionCommand { command, .. } => {
                let command = protocol_command(command);
                self.session_command(i, k, n, command)
            }
            Effect::Query(query) => {
                self.answer_query(i, n, query);
                Ok(false)
            }
        }
    }

    fn session_command(
        &mut self,
        i: usize,
        k: usize,
        n: usize,
        command: SessionCommand,
    ) -> Result<bool, SqlError> {
        let suspension = matches!(command, SessionCommand::Suspend | SessionCommand::Resume);
        if suspension {
            // The operator takes the session's suspension over from any page repair.
            self.end_page_repairs();
        }
        let id = self.command_id();
        let now = self.now;
        let clock = self.clock_of(n);
        let Some(partner) = self.nodes[n].partner.as_mut().filter(|p| !p.is_ended()) else {
            let error = SqlError::new(1416, "no mirroring session holds this copy");
            return Err(self.in_sql_server_words(n, error, None));
        };
        self.steps.waiting.insert(id, (i, k, now));
        let result = partner.handle_command(clock, id, command);
        let result = result.map_err(|error| self.in_sql_server_words(n, error, None));
        if result.is_err() {
            self.steps.waiting.remove(&id);
        } else {
            if command == SessionCommand::Suspend {
                self.steps.suspends.insert(id);
            }
            if command == SessionCommand::Failover {
                self.steps.failover_issued_at = Some(now);
            }
            // An accepted command gets the time to settle a fault gets before `recovers` asks
            // that some instance serve (a FAILOVER 5 s before the end, its redo still running,
            // is no failure to recover). It asks for no new SYNCHRONIZED: the spec asks for one
            // since the last heal, and a command is no fault (a RESUME still catching up at the
            // end, in a run without faults, is a session that recovered).
            self.last_disturbance = now;
        }
        self.drain(n);
        result.map(|()| true)
    }

    /// A session command's error on instance `n` in SQL Server's words, the protocol's rule
    /// kept in brackets. The remote instance it names is the witness being set (`witness`,
    /// its address) or else `n`'s partner, by the address its session knows it by.
    fn in_sql_server_words(&self, n: usize, error: SqlError, witness: Option<String>) -> SqlError {
        let remote = witness.unwrap_or_else(|| {
            self.nodes[n]
                .partner
                .as_ref()
                .map_or_else(String::new, |p| {
                    self.address_of(n, self.index_of(p.partner())).to_string()
                })
        });
        let database = &self.scenario.database.name;
        mirror_setup::errors::in_sql_server_words(error, database, &remote)
    }

    /// Ends every page repair's hold on the session: the operator's SUSPEND or RESUME decides.
    fn end_page_repairs(&mut self) {
        for node in &mut self.nodes {
            node.page_repair = super::world::PageRepair::None;
        }
    }

    /// SET PARTNER on the principal succeeded in the catalogs: the session starts in the
    /// protocol core (SYNCHRONIZING once the mirror answers).
    fn start_session(&mut self, p: usize, m: usize, id: CommandId) {
        // A principal whose copy was restored from backups (it does not serve, and the log
        // engine holds the restored copy) begins a line of history of its own: a range of role
        // sequences of its own even as the first session, the database's original line
        // holding the range below.
        let restored_principal = !self.nodes[p].serving
            && matches!(self.nodes[p].log.body, super::dblog::Body::Mirror(_));
        if restored_principal {
            self.sessions_started = self.sessions_started.max(1);
        }
        self.nodes[p].log_from_backups = false;
        self.nodes[m].log_from_backups = false;
        if self.sessions_started > 0 {
            // A session set up again numbers its roles from 0: the history keeps them above
            // the earlier sessions' (see `Node::role_offset`).
            let offset = self.sessions_started * super::world::SESSION_ROLES;
            self.nodes[p].role_offset = offset;
            self.nodes[m].role_offset = offset;
            // The principal serves this newer session: it outranks the copies of older ones.
            let principal = &mut self.nodes[p];
            principal.session_role_served = principal.session_role_served.max(offset);
            // Serving on into it, it serves at the new session's role sequence 0 from now (a
            // forced service of this session was put down to PARTNER OFF, and the last
            // principal was ranked by its old session's number).
            if principal.serving_recorded {
                let start = super::history::ServeStart::new(
                    p,
                    offset,
                    self.now,
                    principal.log.segments(),
                    principal.log.lsn_hardened(),
                );
                let end_lsn = start.lsn_end;
                self.history.serve_on(start);
                // The event stream says so too: the old session's serving ends and the new
                // one's begins at its role sequence 0, as its acknowledgements say (the stream
                // went on with the old session's role sequence, which a later failover of the
                // new session then served at: two instances at one role sequence to a reader).
                let served_at = self.nodes[p].serving_role_sequence;
                self.emit(
                    p,
                    "not_serving",
                    serde_json::json!({"role_sequence": served_at, "reason": "new_session"}),
                );
                self.nodes[p].serving_role_sequence = 0;
                self.emit(
                    p,
                    "serving",
                    serde_json::json!({"role_sequence": 0, "end_lsn": end_lsn, "via": "setup"}),
                );
            }
        }
        // It serves from its restore point at the new session's role sequence 0: its SET
        // PARTNER is what sends the clients to it. Served before the session's numbering, its
        // stream went from role sequence 1 back to 0 (found by a regression audit).
        if restored_principal {
            let offset = self.nodes[p].role_offset;
            self.history.separate_session(offset);
            self.serve_a_recovered_mirror(p, "setup");
        }
        self.sessions_started += 1;
        self.history.joined_session(p, self.now);
        self.history.joined_session(m, self.now);
        let restored = self.catalog_copy(m).map_or(0, |d| d.lsn_restored);
        let fork = self.nodes[p].log.fork();
        // The copy's log is the restored one from now: what it hardened past the restore point
        // (flushes that completed after an earlier session ended) is gone, and the event stream
        // says so before its hardened end goes back (spec/cli.md, `discarded`).
        let old = &self.nodes[m].log;
        if old.lsn_hardened() > restored {
            let old_fork = old.fork();
            self.emit(
                m,
                "discarded",
                serde_json::json!({"after_lsn": restored, "fork": old_fork}),
            );
        }
        // The backups carry the principal's content up to the restore point: commits
        // acknowledged before it are in this copy (a session set up again after PARTNER OFF).
        self.nodes[m].log = super::dblog::DbLog::restored(
            self.seed,
            self.tx_sizes,
            restored,
            fork,
            self.nodes[p].log.segments(),
        );
        let (ppid, mpid) = (self.nodes[p].pid, self.nodes[m].pid);
        let counter_of =
            |node: &super::world::Node| node.partner.as_ref().map_or(0, |q| q.links().counter);
        let (p_counter, m_counter) = (counter_of(&self.nodes[p]), counter_of(&self.nodes[m]));
        self.nodes[m].partner = Some(Partner::new_mirror(
            mpid,
            ppid,
            restored,
            mirror_protocol::Fork(fork),
        ));
        let (end, hardened) = (
            self.nodes[p].log.lsn_end(),
            self.nodes[p].log.lsn_hardened(),
        );
        let clock = self.clock_of(p);
        let mut principal = Partner::new_principal(
            ppid,
            mpid,
            end,
            hardened,
            mirror_protocol::Fork(fork),
            id,
            clock,
        );
        principal.set_mutant(self.mutant);
        principal.continue_connection_numbers(p_counter);
        principal.note_mirror_restored_to(restored);
        self.nodes[p].partner = Some(principal);
        if let Some(mp) = self.nodes[m].partner.as_mut() {
            mp.set_mutant(self.mutant);
            mp.continue_connection_numbers(m_counter);
        }
        self.session_removed = false;
        self.emit(
            p,
            "role",
            serde_json::json!({"role": "principal", "role_sequence": 0}),
        );
        self.emit(
            m,
            "role",
            serde_json::json!({"role": "mirror", "role_sequence": 0}),
        );
        self.drain(m);
        self.drain(p);
    }

    /// An endpoint changed: connections that no longer pass the catalogs break. The instance
    /// whose endpoint changed drops its side at once; each peer learns of it from the reset its
    /// endpoint sends, which travels like a packet, does not cross a cut link (the peer then
    /// notices by TIMEOUT), and waits for a hung peer to run again
    /// ([`World::send_reset`]). Both sides used to break at once: a principal cut off from its
    /// partners noticed a stopped endpoint through the partition and the mirror took over 8 s
    /// early, and a hung principal handled the loss and acknowledged commits while it hung
    /// (found by an audit).
    ///
    /// Only connections the change stopped admitting break (`admitted_before`, by peer): a
    /// connection refused for another reason (a peer's process down) is not the change's to
    /// break, and refusing its request at once told a restarted principal that its mirror's
    /// port was closed before the request had reached the host (found by a regression audit:
    /// it served 0.7 s early). Every connection the instance holds breaks, requests out and
    /// acceptances not yet confirmed too: one half open through a one-way cut (the acceptance
    /// held on the cut link) came up at the heal through a stopped endpoint, and a principal
    /// cut off from its witness served with a quorum no stopped endpoint could give (found by
    /// an audit).
    fn rejudge_connections(&mut self, changed: usize, admitted_before: &[bool]) {
        let broken: Vec<usize> = (0..self.nodes.len())
            .filter(|&peer| {
                peer != changed
                    && admitted_before.get(peer).copied().unwrap_or(true)
                    && (self.holds_any_connection(changed, peer)
                        || self.connected_to(peer, changed))
                    && !self.judge_connect_pair(changed, peer)
            })
            .collect();
        if broken.is_empty() {
            // Nothing to handle: draining anyway moved a new witness's first ping tick (an
            // endpoint created during setup), and with it every later tick.
            return;
        }
        // Nothing the instance writes on losing these connections goes out on them: its status
        // report to the witness, written when it lost the mirror, went out on the witness's
        // connection the same endpoint was closing, reached the witness before the reset, and
        // the witness denied the failover (the mirror not synchronized: found by
        // `sim sweep --swarm`).
        for &peer in &broken {
            self.hard_error_on(changed, peer);
        }
        self.endpoint_closing = Some((changed, broken.clone()));
        self.drain(changed);
        self.endpoint_closing = None;
        for peer in broken {
            // The peer's own connection (the same one, unless `changed` had already given it
            // up): the reset is for that, and arrives behind what `changed` sent before.
            if let Some(conn) = self.held_conn(peer, changed) {
                let sent_before = self.net.direction(changed, peer).last_arrival();
                self.send_reset(changed, peer, conn, sent_before);
            }
        }
    }

    /// Whether running instance `a` holds an up connection to `b`.
    fn connected_to(&self, a: usize, b: usize) -> bool {
        self.nodes[a].running() && self.links_of(a).is_up(self.nodes[b].pid)
    }

    /// Whether running instance `a` holds a connection with `b`: up, being requested, or
    /// accepted and not yet confirmed.
    fn holds_any_connection(&self, a: usize, b: usize) -> bool {
        self.nodes[a].running() && self.held_conn(a, b).is_some()
    }

    /// Whether the catalogs admit a connection between instance `n` and each instance (by
    /// index; `false` for `n` itself).
    fn peers_admitted(&self, n: usize) -> Vec<bool> {
        (0..self.nodes.len())
            .map(|peer| peer != n && self.judge_connect_pair(n, peer))
            .collect()
    }

    /// The SET PARTNER that began a session between principal `p` and mirror `m` failed: the
    /// session goes, as if the statement had never run.
    pub fn session_start_failed(
        &mut self,
        p: usize,
        m: usize,
        address: mirror_setup::ServerAddress,
    ) {
        self.internal_command(p, SessionCommand::PartnerOff);
        // The mirror's side never took a commit: it simply goes, and its copy waits again.
        self.nodes[m].partner = None;
        self.emit(m, "session_ended", serde_json::json!({}));
        self.history.left_session(m, self.now);
        self.history.ended_knowingly(m);
        self.note_state(m);
        let db = self.scenario.database.name.clone();
        let name = self.nodes[m].name.clone();
        self.estate.prepared_again(&name, &db, address);
        self.session_removed = true;
    }

    /// The `mirroring_guid` of the session instance `n`'s copy is in: the catalog's, new with
    /// each session set up (a session set up again after PARTNER OFF showed the first one's).
    fn mirroring_guid(&self, n: usize) -> String {
        self.catalog_copy(n)
            .and_then(|copy| copy.session())
            .map_or_else(
                || mirror_setup::derived_guid(&[&self.scenario.name, &self.scenario.database.name]),
                |session| session.mirroring_guid.clone(),
            )
    }

    /// Instance `n`'s copy of the scenario's database in its catalog, if it has one.
    fn catalog_copy(&self, n: usize) -> Option<&mirror_setup::Database> {
        self.estate
            .instance(&self.nodes[n].name)
            .and_then(|c| c.database(&self.scenario.database.name))
    }

    /// A database without mirroring that serves, restored over (RESTORE ... WITH NORECOVERY):
    /// a RESTORING copy acknowledges nothing, so it stops serving (a split brain it was part
    /// of ends there).
    fn stop_serving_a_restored_copy(&mut self, n: usize) {
        let restoring = self
            .catalog_copy(n)
            .is_some_and(|d| d.state == mirror_setup::DatabaseState::Restoring);
        if restoring && self.nodes[n].serving && self.nodes[n].session().is_none() {
            let role_sequence = self.last_role_sequence(n);
            self.set_serving(n, false, role_sequence, "restore");
        }
    }

    /// A copy brought ONLINE from backups (`RESTORE ... FROM DISK ... WITH RECOVERY`, or
    /// `RESTORE DATABASE db WITH RECOVERY` after such restores) stands at its restore point
    /// with the backups' log: the log engine holds it there from now, with the content of the
    /// instance that took the last backup restored, as a mirror's restored copy is held. What
    /// the instance held before (a former mirror's log) is gone. The copy does not serve: the
    /// clients still reach the database where they did, and it serves once it is the principal
    /// of a session set up from it ([`Self::start_session`]). Before, the log engine kept the
    /// old log: a log backup of the copy started past its end, which panicked, and a session
    /// set up from it had a principal that never served (found by an audit).
    fn rebase_restored_copy(&mut self, n: usize) {
        let Some(copy) = self.catalog_copy(n) else {
            return;
        };
        let online = copy.state == mirror_setup::DatabaseState::Online;
        if !online || self.nodes[n].session().is_some() || self.nodes[n].serving {
            return;
        }
        let point = copy.lsn_restored;
        let last_restored = copy
            .last_log_backup
            .max(copy.differential_base.map(|base| base.backup_id));
        let source = last_restored
            .and_then(|id| self.estate.backup_folder().set(id))
            .map(|set| set.taken_on.clone())
            .map(|name| self.node_named(&name));
        let (segments, fork) = source.map_or((Vec::new(), 0), |s| {
            (
                self.nodes[s].log.segments().to_vec(),
                self.nodes[s].log.fork(),
            )
        });
        self.nodes[n].flush.drop_writes_under_way();
        self.nodes[n].log =
            super::dblog::DbLog::restored(self.seed, self.tx_sizes, point, fork, &segments);
        self.nodes[n].log_from_backups = false;
    }

    /// A former mirror recovered after SET PARTNER OFF (reference section 7: "recovering it
    /// (RESTORE DATABASE db WITH RECOVERY) starts a new fork"): its copy is ONLINE at its
    /// hardened end and serves without mirroring, the disaster-recovery path without forced
    /// service. What an older principal acknowledged past that end is lost, as after forced
    /// service (the recovery is recorded as one for the loss accounting); an old principal
    /// still serving makes a split brain caused by PARTNER OFF.
    fn serve_a_recovered_mirror(&mut self, n: usize, via: &str) {
        let online = self
            .catalog_copy(n)
            .is_some_and(|d| d.state == mirror_setup::DatabaseState::Online);
        let node = &self.nodes[n];
        let former_mirror = matches!(node.log.body, super::dblog::Body::Mirror(_));
        if !online || !former_mirror || node.session().is_some() || node.serving || !node.running()
        {
            return;
        }
        // A new line of history, on a fork of its own: above every role sequence of its
        // session so far, or the first of the session it is the principal of.
        let offset = self.nodes[n].role_offset;
        let history_role = if via == "setup" {
            offset
        } else {
            self.role_high.get(&offset).map_or(offset, |&high| high) + 1
        };
        let role_sequence = history_role - self.nodes[n].role_offset;
        let fork = (0..self.nodes.len())
            .map(|m| self.nodes[m].log.fork())
            .max()
            .unwrap_or(0)
            + 1;
        let fork_lsn = self.nodes[n].log.lsn_hardened();
        let segments = self.nodes[n].log.segments().to_vec();
        self.history.forced.push((history_role, fork_lsn, segments));
        let generation = self.new_generation(n, role_sequence);
        self.history
            .recovered_lines
            .insert(history_role, generation);
        self.nodes[n].log.start_writing(fork, generation);
        // The mirror's writes of received log under way are not the writer's (a completion
        // applied to the new log panicked: it ended past the writer's flush cursor).
        self.nodes[n].flush.drop_writes_under_way();
        self.nodes[n].generation = generation;
        self.nodes[n].log.lsn_redone = fork_lsn;
        self.emit(
            n,
            "fork",
            serde_json::json!({"fork": fork, "fork_lsn": fork_lsn}),
        );
        self.nodes[n].recovered_copy = true;
        self.set_serving(n, true, role_sequence, via);
        let name = &self.nodes[n].name;
        self.notes.push(if via == "setup" {
            format!(
                "{name} was restored from backups and serves from lsn {fork_lsn} as the \
                 principal of the session set up from it"
            )
        } else {
            format!(
                "{name} was recovered after SET PARTNER OFF and serves without mirroring from \
                 lsn {fork_lsn}"
            )
        });
    }

    fn answer_query(&mut self, i: usize, n: usize, query: Query) {
        let set = match query {
            Query::DatabaseMirroring => {
                // One row per database the instance has: none on one without a copy.
                let rows: Vec<_> = self.mirroring_view(n).into_iter().collect();
                views::database_mirroring_rows(&rows)
            }
            Query::DatabaseMirroringWitnesses => {
                // After WITNESS OFF the instance is no longer this session's witness: its row
                // goes, as it does when the session ends.
                let record = self.nodes[n]
                    .witness
                    .record()
                    .copied()
                    .filter(|r| !r.removed);
                let rows: Vec<_> = record.into_iter().map(|r| self.witness_view(&r)).collect();
                views::database_mirroring_witnesses_rows(&rows)
            }
            Query::MonitorResults {
                mode, update_table, ..
            } => {
                let (rows, written) = self.monitor_rows(n, mode, update_table);
                // The row @update_table = 1 wrote stays in the status table for later calls.
                self.monitor_updates.extend(written);
                views::monitor_results_rows(&rows)
            }
        };
        let rows = set
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|v| match v {
                        views::Value::Int(x) => serde_json::json!(x),
                        views::Value::Text(s) => serde_json::json!(s),
                        views::Value::Null => serde_json::Value::Null,
                    })
                    .collect()
            })
            .collect();
        self.queries.push(crate::report::QueryResult {
            step: i + 1,
            on: self.nodes[n].name.clone(),
            at_us: self.now / 1000,
            columns: set.columns.iter().map(|c| c.to_string()).collect(),
            rows,
        });
    }

    fn mirroring_view(&self, n: usize) -> Option<views::DatabaseMirroringView> {
        let database_id = self.catalog_copy(n)?.database_id;
        let session = self.nodes[n].session().map(|p| {
            let other = self.index_of(p.partner());
            let witness = p.config().witness.map(|w| {
                let wi = self.index_of(w);
                (self.address_of(n, wi), witness_state(p.witness_state()))
            });
            views::MirroringSessionView {
                mirroring_guid: self.mirroring_guid(n),
                state: mirroring_state(p.state()),
                role: match p.role() {
                    Role::Principal => mirror_setup::MirroringRole::Principal,
                    Role::Mirror => mirror_setup::MirroringRole::Mirror,
                },
                role_sequence: p.role_sequence(),
                safety: match p.config().safety {
                    mirror_protocol::Safety::Full => views::SafetyLevel::Full,
                    mirror_protocol::Safety::Off => views::SafetyLevel::Off,
                },
                safety_sequence: p.config().numbers.safety,
                partner_address: self.address_of(n, other),
                partner_instance: self.nodes[other].name.clone(),
                witness,
                failover_lsn: self.failover_lsn_known(p),
                // The TIMEOUT in force: 10 s while SAFETY is OFF (reference section 3).
                connection_timeout_seconds: u32::try_from(p.config().timeout() / SECOND)
                    .unwrap_or(u32::MAX),
                redo_queue_limit_mb: None,
                // SQL Server's page: "the local end-of-log that has been flushed to disk" (it
                // read the log written or received, unflushed included).
                end_of_log_lsn: p.lsn_hardened(),
                replication_lsn: self.failover_lsn_known(p),
            }
        });
        Some(views::DatabaseMirroringView {
            database_id,
            session,
        })
    }

    fn witness_view(&self, r: &mirror_protocol::WitnessRecord) -> views::WitnessRecordView {
        let principal = self.index_of(r.principal);
        let mirror = self.index_of(r.mirror());
        views::WitnessRecordView {
            database_name: self.scenario.database.name.clone(),
            principal_server_name: self.nodes[principal].name.clone(),
            mirror_server_name: self.nodes[mirror].name.clone(),
            safety: match r.config.safety {
                mirror_protocol::Safety::Full => views::SafetyLevel::Full,
                mirror_protocol::Safety::Off => views::SafetyLevel::Off,
            },
            safety_sequence: r.numbers.safety,
            role_sequence: r.numbers.role,
            mirroring_guid: self.mirroring_guid(principal),
            family_guid: mirror_setup::derived_guid(&["family", &self.scenario.database.name]),
            is_suspended: r.config.suspended,
            suspend_sequence: r.numbers.suspend,
            partner_sync_state: match r.sync {
                mirror_protocol::SyncState::Synchronized => views::PartnerSyncState::Synchronized,
                mirror_protocol::SyncState::Unsynchronized => {
                    views::PartnerSyncState::Unsynchronized
                }
                mirror_protocol::SyncState::Unknown => views::PartnerSyncState::Unknown,
            },
        }
    }

    /// The rows `EXEC msdb.dbo.sp_dbmmonitorresults db, @mode, @update_table` returns on
    /// instance `n`, newest first, and the row it wrote, if any. `@mode` picks them: 0 the latest
    /// row; 1 to 5 those of the last 2, 4, 8, 24 or 48 hours; 6 to 9 the last 100, 500, 1,000
    /// or 1,000,000 rows. `@update_table = 1` first records a row as of now
    /// (sp_dbmmonitorupdate), its rates taken since the last 15 s sample, kept for later calls
    /// (not in the report's `monitor`, one sample per 15 s); otherwise the newest row is the
    /// last one recorded, as recorded.
    fn monitor_rows(
        &self,
        n: usize,
        mode: u32,
        update_table: bool,
    ) -> (
        Vec<views::MonitorSample>,
        Option<crate::report::MonitorSample>,
    ) {
        let name = &self.nodes[n].name;
        let mut kept: Vec<&crate::report::MonitorSample> = self
            .monitor
            .iter()
            .chain(&self.monitor_updates)
            .filter(|s| &s.on == name)
            .collect();
        kept.sort_by_key(|s| std::cmp::Reverse(s.at_us));
        // sp_dbmmonitorresults updates the status table only when its newest row is 15 s old or
        // more ("if the status table has been updated within the previous 15 seconds ... runs
        // without updating the status"): a call 0.5 s after a sample wrote a row beside it, and
        // two calls at one instant wrote two identical rows.
        let stale = kept
            .first()
            .is_none_or(|newest| self.now / 1000 >= newest.at_us + MONITOR_UPDATE_MIN_AGE_US);
        let mut recorded = kept.into_iter();
        let mut written = None;
        // The node's window runs since the last 15 s sample, not since its last recorded row (a
        // hang or a stop skips rows, and the rates after one were divided by 25 s for 10 s of
        // counts). A call at the instant of a sample writes no row of its own: the sample is
        // that instant's row (a call just before it wrote one beside it, two identical rows).
        // Before the sample it finds the row before; after it, the sample's.
        let since_ns = self.last_monitor_tick;
        let sample_due_now =
            self.now > 0 && self.now.is_multiple_of(super::world::MONITOR_INTERVAL);
        let newest = if update_table && stale && !sample_due_now && self.now > since_ns {
            let window = self.nodes[n].window;
            written = self.monitor_sample(n, &window, self.now - since_ns);
            written.as_ref().map(|sample| self.monitor_row(sample))
        } else {
            recorded
                .next()
                .and_then(|sample| self.monitor_view(n, sample))
        };
        let Some(newest) = newest else {
            return (Vec::new(), written);
        };
        let now_us = self.now / 1000;
        const HOUR_US: u64 = 3_600_000_000;
        let (hours, count) = match mode {
            0 => (None, 1),
            1 => (Some(2), usize::MAX),
            2 => (Some(4), usize::MAX),
            3 => (Some(8), usize::MAX),
            4 => (Some(24), usize::MAX),
            5 => (Some(48), usize::MAX),
            6 => (None, 100),
            7 => (None, 500),
            8 => (None, 1_000),
            _ => (None, 1_000_000),
        };
        let since_us = hours.map_or(0, |h| now_us.saturating_sub(h * HOUR_US));
        let rows = std::iter::once(newest)
            .chain(recorded.map(|sample| self.monitor_row(sample)))
            .take(count)
            .take_while(|row| row.time_recorded_us >= since_us)
            .collect();
        (rows, written)
    }

    /// The newest `sp_dbmmonitorresults` row of instance `n`, as recorded (none without a
    /// session). Its role and states are those of its `time_recorded`, as its figures are: it
    /// showed the role and states of the moment it was asked, so a row recorded at 30 s said
    /// SUSPENDED when asked after a SUSPEND at 31 s. `@update_table = 1` records a fresh row.
    fn monitor_view(
        &self,
        n: usize,
        sample: &crate::report::MonitorSample,
    ) -> Option<views::MonitorSample> {
        self.nodes[n].session()?;
        Some(self.monitor_row(sample))
    }

    /// A recorded sample as an `sp_dbmmonitorresults` row.
    fn monitor_row(&self, sample: &crate::report::MonitorSample) -> views::MonitorSample {
        views::MonitorSample {
            database_name: self.scenario.database.name.clone(),
            role: match sample.role {
                crate::report::MirroringRole::Principal => mirror_setup::MirroringRole::Principal,
                crate::report::MirroringRole::Mirror => mirror_setup::MirroringRole::Mirror,
            },
            state: recorded_state(sample.mirroring_state),
            witness: recorded_witness(sample.witness_status),
            log_generation_rate: sample.log_generation_rate_kbs,
            unsent_log: sample.unsent_log_kb,
            send_rate: sample.send_rate_kbs,
            unrestored_log: sample.unrestored_log_kb,
            recovery_rate: sample.recovery_rate_kbs,
            transaction_delay: sample.transaction_delay_ms,
            transactions_per_sec: sample.transactions_per_sec,
            average_delay: sample.average_delay_ms as u64,
            time_recorded_us: sample.at_us,
            time_behind_us: sample.time_behind_us,
            // "System clock time on the local server instance when this row was updated".
            local_time_us: sample.at_us,
        }
    }

    /// `mirroring_failover_lsn` (reference section 2): the latest LSN hardened on both partners,
    /// never below the failover LSN of the last role change (where a new mirror resynchronizes
    /// from). The principal knows its mirror's hardened end from its acknowledgements; the view
    /// of a mirror takes the principal's hardened end as the simulation knows it.
    pub(super) fn failover_lsn_known(&self, p: &Partner) -> u64 {
        let both = match p.role() {
            Role::Principal => p.lsn_hardened().min(p.lsn_mirror_hardened()),
            Role::Mirror => {
                let mirror = &self.nodes[self.index_of(p.durable().me)];
                let principal = &self.nodes[self.index_of(p.partner())];
                // An old principal back after forced service, its log not yet rolled back, holds
                // another history past the fork: only what both hold counts.
                let parted = histories_part_at(mirror.log.segments(), principal.log.segments());
                p.lsn_hardened()
                    .min(principal.log.lsn_hardened())
                    .min(parted.unwrap_or(u64::MAX))
            }
        };
        both.max(p.failover_lsn())
    }

    /// `time_behind`: the principal's time up to which the mirror has hardened its log, from
    /// the principal's end of log at each monitor sample, taken as growing evenly between two
    /// samples (and from the start of the run to the first); now when the mirror has all of
    /// it, the oldest sample kept when it lacks even that.
    pub(super) fn time_behind(&self, n: usize, p: &Partner) -> u64 {
        let (principal, hardened) = match p.role() {
            // At least the failover LSN: a new principal hears of its mirror's hardening only
            // with the mirror's first acknowledgement, and read as behind the start of the run
            // until then, though the mirror held everything up to the failover.
            // Only what the mirror holds of this principal's history: an old principal back
            // after forced service reports log of its abandoned fork, past the fork LSN (a new
            // principal read its suspended mirror as caught up).
            Role::Principal => {
                let mirror = &self.nodes[self.index_of(p.partner())];
                let parted = histories_part_at(mirror.log.segments(), self.nodes[n].log.segments());
                let held = p.lsn_mirror_hardened().min(parted.unwrap_or(u64::MAX));
                (n, held.max(p.failover_lsn()))
            }
            // The same on the mirror's side: its log past where the histories part is not the
            // principal's (an old principal back SUSPENDED read as caught up).
            Role::Mirror => {
                let principal = self.index_of(p.partner());
                let parted = histories_part_at(
                    self.nodes[n].log.segments(),
                    self.nodes[principal].log.segments(),
                );
                (principal, p.lsn_hardened().min(parted.unwrap_or(u64::MAX)))
            }
        };
        let principal_end = self.nodes[principal].log.lsn_end();
        if hardened >= principal_end {
            return self.now / 1000;
        }
        let times = &self.nodes[principal].log_times;
        // The log up to the failover LSN was written by the principal before the role change,
        // now the other partner: the failover LSN is placed on its timeline (a new principal's
        // rows placed it between the start of the run and its own first sample, and moved it
        // as time went on), and the log past it on this principal's own, from there.
        let other = if principal == n {
            self.index_of(p.partner())
        } else {
            n
        };
        let failover_lsn = p.failover_lsn();
        // The samples, preceded by the start of the run while none has been dropped, and
        // followed by the end of log now (a sample's own row is computed before its point is
        // kept: the mirror read as behind the start of the run).
        let start = (times.len() < super::world::LOG_TIMES_MAX).then_some((0, 0));
        let now = (self.now / 1000, principal_end);
        let before: Vec<(u64, u64)> = start
            .into_iter()
            .chain(self.nodes[other].log_times.iter().copied())
            .chain(times.iter().copied())
            .chain(std::iter::once(now))
            .collect();
        let failover_at = first_reached(before, failover_lsn);
        if hardened <= failover_lsn {
            return failover_at;
        }
        let after: Vec<(u64, u64)> = std::iter::once((failover_at, failover_lsn))
            .chain(times.iter().copied())
            .chain(std::iter::once(now))
            .filter(|&(at, lsn)| at >= failover_at && lsn >= failover_lsn)
            .collect();
        first_reached(after, hardened)
    }

    /// The address instance `from`'s session names instance `n` by: the one it was set up with
    /// (SET PARTNER, SET WITNESS), else where `n`'s endpoint listens.
    fn address_of(&self, from: usize, n: usize) -> mirror_setup::ServerAddress {
        let port = self
            .session_ports
            .get(&(from, n))
            .copied()
            .unwrap_or_else(|| {
                self.estate
                    .instance(&self.nodes[n].name)
                    .and_then(|c| c.endpoint_address())
                    .map_or(7022, |a| a.port)
            });
        mirror_setup::ServerAddress::new(self.nodes[n].host.clone(), port)
    }

    /// Whether the database is ONLINE and writable on `n` (a principal or a database without a
    /// session).
    pub fn is_writer(&self, n: usize) -> bool {
        matches!(self.nodes[n].log.body, Body::Writer(_))
    }
}

fn protocol_command(command: mirror_setup::SessionCommand) -> SessionCommand {
    use mirror_setup::SessionCommand as S;
    match command {
        S::Failover => SessionCommand::Failover,
        S::ForceServiceAllowDataLoss => SessionCommand::ForceService,
        S::Suspend => SessionCommand::Suspend,
        S::Resume => SessionCommand::Resume,
        S::Safety(mirror_setup::Safety::Full) => {
            SessionCommand::Safety(mirror_protocol::Safety::Full)
        }
        S::Safety(mirror_setup::Safety::Off) => {
            SessionCommand::Safety(mirror_protocol::Safety::Off)
        }
        S::Timeout(n) => SessionCommand::Timeout(n),
        S::WitnessOff => SessionCommand::WitnessOff,
    }
}

fn mirroring_state(s: mirror_protocol::MirroringState) -> views::MirroringState {
    use mirror_protocol::MirroringState as M;
    match s {
        M::Suspended => views::MirroringState::Suspended,
        M::Disconnected => views::MirroringState::Disconnected,
        M::Synchronizing => views::MirroringState::Synchronizing,
        M::PendingFailover => views::MirroringState::PendingFailover,
        M::Synchronized => views::MirroringState::Synchronized,
    }
}

/// A recorded sample's state as `sp_dbmmonitorresults` shows it. Samples are taken of
/// sessions only, so never "no session".
fn recorded_state(s: crate::scenario::SessionState) -> views::MirroringState {
    use crate::scenario::SessionState as S;
    match s {
        S::Suspended => views::MirroringState::Suspended,
        S::Synchronizing => views::MirroringState::Synchronizing,
        S::PendingFailover => views::MirroringState::PendingFailover,
        S::Synchronized => views::MirroringState::Synchronized,
        S::Disconnected | S::NoSession => views::MirroringState::Disconnected,
    }
}

fn recorded_witness(s: crate::report::WitnessState) -> views::WitnessState {
    use crate::report::WitnessState as W;
    match s {
        W::Unknown => views::WitnessState::Unknown,
        W::Connected => views::WitnessState::Connected,
        W::Disconnected => views::WitnessState::Disconnected,
    }
}

fn witness_state(s: mirror_protocol::WitnessState) -> views::WitnessState {
    match s {
        mirror_protocol::WitnessState::Unknown => views::WitnessState::Unknown,
        mirror_protocol::WitnessState::Connected => views::WitnessState::Connected,
        mirror_protocol::WitnessState::Disconnected => views::WitnessState::Disconnected,
    }
}

/// The first moment a log whose end was at each of `points` (time, LSN) reached `lsn`, taken as
/// growing evenly between two points: between the last point below it and the first at or above
/// it. Several points may hold the same LSN (a principal that stopped writing): the first is
/// when it was written. The points are put in time order, one line of history: a point below an
/// earlier one is of another fork.
fn first_reached(mut points: Vec<(u64, u64)>, lsn: u64) -> u64 {
    points.sort_unstable();
    let mut highest = 0;
    points.retain(|&(_, at_lsn)| {
        let keep = at_lsn >= highest;
        highest = highest.max(at_lsn);
        keep
    });
    let Some(reached) = points.iter().position(|&(_, at_lsn)| at_lsn >= lsn) else {
        return points.last().map_or(0, |&(at, _)| at);
    };
    let (next_at, next_lsn) = points[reached];
    let Some(&(at, at_lsn)) = reached.checked_sub(1).and_then(|i| points.get(i)) else {
        return next_at;
    };
    let share = u128::from(lsn - at_lsn) * u128::from(next_at - at) / u128::from(next_lsn - at_lsn);
    at + u64::try_from(share).unwrap_or(0)
}
