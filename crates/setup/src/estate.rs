//! The estate: every instance's catalog and the shared backup folder, and [`Estate::execute`],
//! which judges one statement on one instance and, when it succeeds, applies it and says what
//! work the simulator must schedule.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::backup::{BackupFolder, BackupKind};
use crate::catalog::{
    is_system_database, key, Database, DatabaseState, InstanceCatalog, InstanceSpec, Mirroring,
    MirroringRole, RecoveryFork,
};
use crate::connection::FailureKind;
use crate::errors::{sql, SetupError, StatementError};
use crate::guid::derived_guid;
use crate::statement::{RecoveryModel, ServerAddress, SessionCommand, Statement};
use mirror_protocol::SqlError;

/// How long a catalog change takes (reference §7).
pub const CATALOG_CHANGE: Duration = Duration::from_millis(1);

/// What the simulator knows at the moment a statement runs and this crate cannot: live
/// protocol and log state. Fields a statement does not use are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatementContext {
    /// The current end of log (LSN, a byte position) of the database the statement names, on
    /// the instance running it: where a full backup is taken, where a log backup ends, and the
    /// log a principal's SET PARTNER waits for the mirror to harden. For a backup it is the
    /// hardened end: a backup reads the log from disk, and a crash loses what is not there.
    pub end_of_log_lsn: u64,
    /// The data size of that database in bytes: what a full backup writes.
    pub database_size_bytes: u64,
    /// `SET PARTNER OFF`: the mirror's hardened end of log at this moment; the mirror copy stays
    /// RESTORING at this LSN, and a new session needs the log from here on.
    pub mirror_hardened_lsn: u64,
    /// `SET WITNESS`: the principal holds its connection to the mirror (reference §7, 1426; the
    /// witness's side is judged from the catalogs and `unreachable`). The mirror's catching up
    /// is not judged here: the statement waits until the mirror has hardened the log that
    /// existed when it was issued (`mirror_protocol::Partner`'s pending witness), because under
    /// a running workload some log is always on its way to the mirror at the instant of issue.
    pub witness_ready: bool,
    /// The instance running the statement has recorded the principal's role and is still
    /// taking over (redo draining, the fixed cost running): its catalog still says mirror,
    /// but sys.database_mirroring shows it as the principal, so SET WITNESS there is not
    /// "principal only" (1470) but not interconnected yet (1426).
    pub taking_over: bool,
    /// The TIMEOUT of the session the instance running the statement is in (`None` outside a
    /// session): a connection attempt dropped silently during SET WITNESS is noticed after it
    /// plus one ping interval (reference section 3: the default applies only before a session
    /// exists).
    pub session_timeout: Option<std::time::Duration>,
    /// Instances the instance running the statement cannot reach right now, and how that shows:
    /// [`FailureKind::Hard`] for a crashed process on a live host (connection reset),
    /// [`FailureKind::Soft`] for a powered-off or paused host or a partition.
    pub unreachable: BTreeMap<String, FailureKind>,
    /// Directions of the network cut right now between any two instances, as (from, to)
    /// instance names: what the mirror and the witness need to reach each other for SET WITNESS
    /// (reference section 7, 1426) is judged from it. A cut is silent (a soft failure).
    pub links_cut: BTreeSet<(String, String)>,
}

impl StatementContext {
    /// Whether `a` and `b` cannot exchange messages right now: either direction is cut (a
    /// connection needs both, so a one-way cut breaks it too; reference section 3).
    pub fn is_cut_between(&self, a: &str, b: &str) -> bool {
        let has =
            |from: &str, to: &str| self.links_cut.contains(&(from.to_string(), to.to_string()));
        has(a, b) || has(b, a)
    }
}

/// How long a successful statement runs: the simulator schedules its completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Work {
    /// A catalog change: completes after [`CATALOG_CHANGE`] (1 ms).
    Catalog,
    /// Disk work on the instance: completes after `bytes` / the instance's disk throughput.
    Disk {
        /// Bytes written (backup) or read (restore).
        bytes: u64,
    },
    /// `SET PARTNER` on the principal: completes once the mirror has hardened the log up to
    /// `lsn` (the end of log when the statement was issued). The session runs from now.
    UntilMirrorHardens {
        /// The LSN the mirror must harden.
        lsn: u64,
    },
    /// `SET WITNESS`: completes when the witness has durably recorded the session.
    UntilWitnessRecords,
    /// `SET PARTNER FAILOVER`: completes when the protocol core reports the role switch.
    UntilRoleSwitch,
    /// A query: completes at once.
    Immediate,
}

/// What the simulator must do beyond scheduling the work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing: a catalog change only.
    None,
    /// The instance's endpoint was started, stopped, disabled or dropped: its mirroring
    /// connections must be judged again ([`Estate::judge_connection`]); those that fail now
    /// break at once (a hard error).
    EndpointChanged {
        /// The instance.
        instance: String,
    },
    /// Start a session (SYNCHRONIZING) in the protocol core. The catalog already shows it.
    StartSession {
        /// The database.
        database: String,
        /// The principal's instance.
        principal: String,
        /// The principal's endpoint address (the mirror connects back to it).
        principal_address: ServerAddress,
        /// The mirror's instance.
        mirror: String,
        /// The mirror's endpoint address.
        mirror_address: ServerAddress,
        /// `mirroring_guid` of the session.
        mirroring_guid: String,
    },
    /// Set the witness of a running session in the protocol core.
    SetWitness {
        /// The database.
        database: String,
        /// The witness's instance.
        witness: String,
        /// The witness's endpoint address.
        witness_address: ServerAddress,
    },
    /// End the session in the protocol core (`SET PARTNER OFF`); the catalog already shows the
    /// issuing instance's copy out of the session. The partner's leaves it when its instance
    /// hears of it: call [`Estate::session_ended`] then.
    EndSession {
        /// The database.
        database: String,
        /// The principal's instance.
        principal: String,
        /// The mirror's instance.
        mirror: String,
    },
    /// Hand the command to the protocol core, which judges it (1470, 1477, 1422, 1447, 1455,
    /// 1406, 1456, 1476, 1431) and carries it out; only if it accepts does the work run. After
    /// a role switch, call [`Estate::record_role_switch`].
    SessionCommand {
        /// The database.
        database: String,
        /// The command.
        command: SessionCommand,
    },
    /// Answer a query with rows built from the protocol state at this moment (see the `views`
    /// module).
    Query(Query),
    /// A full or differential backup is being written: when the statement completes, call
    /// [`Estate::complete_database_backup`] with the end of log at that moment.
    DatabaseBackup {
        /// The backup set's id.
        backup_id: u64,
    },
}

/// The queries a step may run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// `SELECT * FROM sys.database_mirroring`: [`crate::views::database_mirroring_rows`].
    DatabaseMirroring,
    /// `SELECT * FROM sys.database_mirroring_witnesses`:
    /// [`crate::views::database_mirroring_witnesses_rows`].
    DatabaseMirroringWitnesses,
    /// `EXEC msdb.dbo.sp_dbmmonitorresults`: [`crate::views::monitor_results_rows`].
    MonitorResults {
        /// The database.
        database: String,
        /// `@mode` (which rows; 0, the last row, when not given).
        mode: u32,
        /// `@update_table = 1`: a row as of now is added first (sp_dbmmonitorupdate).
        update_table: bool,
    },
}

/// A statement that succeeded: the work to schedule and the effect to apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// How long it runs.
    pub work: Work,
    /// What else the simulator must do.
    pub effect: Effect,
}

impl Outcome {
    pub(crate) fn catalog() -> Self {
        Self {
            work: Work::Catalog,
            effect: Effect::None,
        }
    }
}

/// A role switch the protocol core carried out (reference §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleSwitch {
    /// A manual or automatic failover, at this failover LSN.
    Failover {
        /// `mirroring_failover_lsn`: the new principal's log starts its new role here.
        failover_lsn: u64,
    },
    /// Forced service: a new recovery fork starts at the fork LSN.
    ForcedService {
        /// The new principal's hardened end of log when service was forced.
        fork_lsn: u64,
    },
}

impl RoleSwitch {
    fn lsn(self) -> u64 {
        match self {
            Self::Failover { failover_lsn } => failover_lsn,
            Self::ForcedService { fork_lsn } => fork_lsn,
        }
    }
}

/// Every instance's catalog and the shared backup folder.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Estate {
    instances: BTreeMap<String, InstanceCatalog>,
    backup_folder: BackupFolder,
    /// Recovery forks started so far: numbers new forks.
    forks_started: u64,
    /// Sessions started so far: tells apart the GUIDs of successive sessions of one database.
    sessions_started: u64,
    /// Certificates created so far: makes thumbprints unique.
    certificates_created: u64,
    /// The databases [`Self::add_database`] created, key to name: the only ones a session may
    /// be started for ([`Self::simulates`]).
    simulated: BTreeMap<String, String>,
}

/// The result of judging a statement inside this crate.
pub(crate) type Judged<T> = Result<T, StatementError>;

/// The refusals SQL Server gives from the statement's text alone, before it looks at any
/// database: a mirroring option on a system database (5058: reference section 7, user
/// databases only) and a backup device named by an empty string (3044).
fn refused_as_written(statement: &Statement) -> Option<SqlError> {
    let mirroring_option = match statement {
        Statement::SetWitness { database, .. }
        | Statement::Session {
            database,
            command: SessionCommand::WitnessOff,
        } => Some((database, "WITNESS")),
        Statement::SetPartner { database, .. }
        | Statement::PartnerOff { database }
        | Statement::Session { database, .. } => Some((database, "PARTNER")),
        _ => None,
    };
    if let Some((database, option)) = mirroring_option {
        return is_system_database(database).then(|| sql::option_not_settable(option, database));
    }
    match statement {
        Statement::BackupDatabase { file, .. }
        | Statement::BackupLog { file, .. }
        | Statement::RestoreDatabase { file, .. }
        | Statement::RestoreLog { file, .. }
            if file.is_empty() =>
        {
            Some(sql::zero_length_device_name())
        }
        _ => None,
    }
}

impl Estate {
    /// An empty estate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an instance with nothing on it (spec/scenario.md: "An instance starts with nothing
    /// but the database given by `[database].on`").
    pub fn add_instance(&mut self, spec: InstanceSpec) -> Result<(), SetupError> {
        if self.instances.contains_key(&spec.name) {
            return Err(SetupError::DuplicateInstance(spec.name));
        }
        if let Some(other) = self.instance_on_host(&spec.host) {
            return Err(SetupError::DuplicateHost {
                host: spec.host,
                instance: other.name.clone(),
            });
        }
        self.instances
            .insert(spec.name.clone(), InstanceCatalog::new(spec));
        Ok(())
    }

    /// Adds the scenario's database, ONLINE, on its first recovery fork, with no backups yet.
    pub fn add_database(
        &mut self,
        instance: &str,
        database: &str,
        recovery_model: RecoveryModel,
    ) -> Result<(), SetupError> {
        let catalog = self
            .instances
            .get(instance)
            .ok_or_else(|| SetupError::UnknownInstance(instance.into()))?;
        if catalog.database(database).is_some() {
            return Err(SetupError::DuplicateDatabase {
                instance: instance.into(),
                database: database.into(),
            });
        }
        self.simulated.insert(key(database), database.to_string());
        let family_guid = derived_guid(&["family", instance, &key(database)]);
        let fork = self.start_fork(family_guid);
        let catalog = self.catalog_mut(instance);
        let database_id = catalog.next_database_id;
        catalog.next_database_id += 1;
        catalog.databases.insert(
            key(database),
            Database {
                name: database.to_string(),
                database_id,
                state: DatabaseState::Online,
                recovery_model,
                fork,
                lsn_restored: 0,
                restored_base: None,
                log_restored_since_base: false,
                log_chain_lsn: None,
                chain_given_up: None,
                last_log_backup: None,
                session_end_covers: None,
                differential_base: None,
                mirroring: None,
            },
        );
        Ok(())
    }

    /// Whether `database` is one the caller simulates, i.e. one [`Self::add_database`] created.
    /// A copy restored from its backups under another name is a catalog entry only: the
    /// simulator holds one session per database it simulates, and a session of the copy
    /// cannot start (it took over the scenario's session, found by an audit).
    pub fn simulates(&self, database: &str) -> bool {
        self.simulated.contains_key(&key(database))
    }

    /// The names of the databases [`Self::add_database`] created, for a message.
    pub(crate) fn simulated_database_name(&self) -> String {
        let names: Vec<&str> = self.simulated.values().map(String::as_str).collect();
        names.join(", ")
    }

    /// The catalog of one instance.
    pub fn instance(&self, name: &str) -> Option<&InstanceCatalog> {
        self.instances.get(name)
    }

    /// Every instance's catalog, by name.
    pub fn instances(&self) -> impl Iterator<Item = &InstanceCatalog> {
        self.instances.values()
    }

    /// The shared backup folder.
    pub fn backup_folder(&self) -> &BackupFolder {
        &self.backup_folder
    }

    /// Runs one statement on `on`. On success the catalogs show its effect and the outcome says
    /// what to schedule; on failure nothing changed.
    pub fn execute(
        &mut self,
        on: &str,
        statement: &Statement,
        context: &StatementContext,
    ) -> Result<Outcome, StatementError> {
        if !self.instances.contains_key(on) {
            return Err(StatementError::UnknownInstance(on.into()));
        }
        let outcome = self.dispatch(on, statement, context);
        self.assert_invariants();
        outcome
    }

    fn dispatch(
        &mut self,
        on: &str,
        statement: &Statement,
        context: &StatementContext,
    ) -> Judged<Outcome> {
        if let Some(error) = refused_as_written(statement) {
            return Err(error.into());
        }
        match statement {
            Statement::CreateEndpoint(definition) => self.create_endpoint(on, definition),
            Statement::AlterEndpoint { endpoint, state } => {
                self.alter_endpoint(on, endpoint, *state)
            }
            Statement::DropEndpoint { endpoint } => self.drop_endpoint(on, endpoint),
            Statement::CreateCertificate {
                certificate,
                subject,
            } => self.create_certificate(on, certificate, subject),
            Statement::BackupCertificate { certificate, file } => {
                self.backup_certificate(on, certificate, file)
            }
            Statement::ImportCertificate {
                certificate,
                owner,
                file,
            } => self.import_certificate(on, certificate, owner.as_deref(), file),
            Statement::CreateWindowsLogin { account } => self.create_windows_login(on, account),
            Statement::CreateCertificateLogin { login, certificate } => {
                self.create_certificate_login(on, login, certificate)
            }
            Statement::GrantConnect { endpoint, login } => self.grant_connect(on, endpoint, login),
            Statement::SetRecoveryModel { database, model } => {
                self.set_recovery_model(on, database, *model)
            }
            Statement::BackupDatabase {
                database,
                file,
                differential,
            } => self.backup_database(on, database, file, *differential, context),
            Statement::BackupLog { database, file } => self.backup_log(on, database, file, context),
            Statement::RestoreDatabase {
                database,
                file,
                mode,
                replace,
            } => self.restore_database(on, database, file, *mode, *replace, context),
            Statement::RestoreLog {
                database,
                file,
                mode,
            } => self.restore_log(on, database, file, *mode),
            Statement::RecoverDatabase { database } => self.recover_database(on, database),
            Statement::SetPartner { database, partner } => {
                self.set_partner(on, database, partner, context)
            }
            Statement::SetWitness { database, witness } => {
                self.set_witness(on, database, witness, context)
            }
            Statement::PartnerOff { database } => self.partner_off(on, database, context),
            Statement::Session { database, command } => {
                self.session_command(on, database, *command)
            }
            Statement::SelectDatabaseMirroring => Ok(query(Query::DatabaseMirroring)),
            Statement::SelectDatabaseMirroringWitnesses => {
                Ok(query(Query::DatabaseMirroringWitnesses))
            }
            Statement::MonitorResults { database, .. }
                if self.catalog(on).database(database).is_none() =>
            {
                // The procedure names a database this instance does not have: its rows would
                // be another database's.
                Err(crate::errors::sql::database_does_not_exist(database).into())
            }
            Statement::MonitorResults {
                database,
                mode,
                update_table,
            } => Ok(query(Query::MonitorResults {
                database: database.clone(),
                mode: mode.unwrap_or(0),
                update_table: *update_table == Some(1),
            })),
        }
    }

    /// A take-over finished on a copy that left its session meanwhile (SET PARTNER OFF waited
    /// for the take-over): the new principal's database serves without mirroring, ONLINE, as a
    /// principal's database stays after PARTNER OFF. Nothing changes for any other copy.
    pub fn online_after_take_over(&mut self, database: &str, instance: &str) {
        let Some(copy) = self
            .instances
            .get_mut(instance)
            .and_then(|catalog| catalog.database_mut(database))
        else {
            return;
        };
        if copy.session().is_none() && copy.state == DatabaseState::Restoring {
            copy.state = DatabaseState::Online;
            copy.chain_given_up = None;
        }
    }

    /// The log backup chain a new principal takes over at a role switch at `switch_lsn`, and its
    /// last log backup: the chain lives in the log, so it holds the log backups whose end the
    /// new principal's log reaches. A log backup that ends past the switch was taken after the
    /// new principal's log stopped coming (the session SUSPENDED or disconnected before a forced
    /// service): its record is in a log this copy never held, so the chain goes back along the
    /// backups before it to the last one within reach. The new principal counted it: it kept
    /// its log from the fork, not from the last backup it knew of, and its 9002 came 5 s late.
    /// With no such backup in the chain, the switch point (log past it may be discarded).
    fn chain_within(
        &self,
        chain: Option<u64>,
        last_log_backup: Option<u64>,
        switch_lsn: u64,
    ) -> (Option<u64>, Option<u64>) {
        match chain {
            Some(end) if end > switch_lsn => {
                let mut id = last_log_backup;
                while let Some(set) = id.and_then(|id| self.backup_folder().set(id)) {
                    if set.kind == BackupKind::Log && set.last_lsn <= switch_lsn {
                        return (Some(set.last_lsn), Some(set.id));
                    }
                    id = set.log_backup_before;
                }
                (Some(switch_lsn), last_log_backup)
            }
            _ => (chain, last_log_backup),
        }
    }

    /// Records a role switch the protocol core carried out: `new_principal`'s copy becomes the
    /// ONLINE principal, and its partner's copy the RESTORING mirror if `old_knows` (its
    /// instance has taken the mirror's role already); otherwise when it does
    /// ([`Estate::record_became_mirror`]): an old principal cut off or down still holds its
    /// role, and its statements are judged so. Call it on every role switch, so that later
    /// statements (backups, SET WITNESS, PARTNER OFF) see the right roles. Recording a
    /// failover that is already recorded changes nothing.
    pub fn record_role_switch(
        &mut self,
        database: &str,
        new_principal: &str,
        switch: RoleSwitch,
        old_knows: bool,
    ) -> Result<(), SetupError> {
        let no_session = || SetupError::NoSession {
            instance: new_principal.into(),
            database: database.into(),
        };
        let catalog = self
            .instance(new_principal)
            .ok_or_else(|| SetupError::UnknownInstance(new_principal.into()))?;
        let membership = catalog
            .database(database)
            .and_then(Database::session)
            .ok_or_else(no_session)?;
        let partner = membership.partner.clone();
        let guid = membership.mirroring_guid.clone();
        let own_copy = catalog.database(database).expect("found above");
        // The partner may have left the session already (PARTNER OFF it heard while this
        // instance was cut off): then only this copy changes.
        let partner_copy = self
            .instance(&partner)
            .and_then(|catalog| catalog.database(database))
            .filter(|copy| copy.session().is_some_and(|s| s.mirroring_guid == guid));
        // The log backup chain lives in the log, so it moves with the principal's role; take it
        // from whichever copy is the principal now (the call may repeat a switch already made).
        let current_principal = match (membership.role, partner_copy) {
            (MirroringRole::Mirror, Some(partner_copy)) => partner_copy,
            _ => own_copy,
        };
        let partner_in_session = partner_copy.is_some();
        let differential_base = current_principal.differential_base;
        let family_guid = current_principal.fork.family_guid.clone();
        let mut fork = current_principal.fork.clone();
        // An old principal that took the mirror's role first (a manual failover) gave its
        // chain up then: the new principal takes it over now (it got 4214 after a manual
        // failover, and its log never truncated).
        let (log_chain_lsn, last_log_backup) = self.chain_within(
            current_principal
                .log_chain_lsn
                .or(partner_copy.and_then(|copy| copy.chain_given_up)),
            current_principal.last_log_backup,
            switch.lsn(),
        );
        if let RoleSwitch::ForcedService { .. } = switch {
            fork = self.start_fork(family_guid);
        }
        let new = self
            .catalog_mut(new_principal)
            .database_mut(database)
            .expect("checked above");
        new.state = DatabaseState::Online;
        new.fork = fork.clone();
        new.log_chain_lsn = log_chain_lsn;
        new.chain_given_up = None;
        new.differential_base = differential_base;
        new.last_log_backup = last_log_backup;
        set_role(new, MirroringRole::Principal);
        if partner_in_session {
            let old = self
                .catalog_mut(&partner)
                .database_mut(database)
                .expect("checked above");
            if old_knows {
                demote(old, fork);
            }
            // Taken over: the chain is the new principal's now.
            old.chain_given_up = None;
        }
        self.assert_invariants();
        Ok(())
    }

    /// `instance` has taken the mirror's role: its copy becomes the RESTORING mirror, on its
    /// partner's fork if the partner's copy is the principal already (else its own; the
    /// partner's take-over, recorded by [`Estate::record_role_switch`], moves it to the new
    /// fork). A partner that crashed before finishing its take-over is still the mirror in its
    /// own catalog: both copies are mirrors until it restarts and completes it.
    pub fn record_became_mirror(&mut self, database: &str, instance: &str) {
        let Some((session, own_fork)) = self
            .instance(instance)
            .and_then(|c| c.database(database))
            .and_then(|copy| Some((copy.session()?.clone(), copy.fork.clone())))
            .filter(|(s, _)| s.role == MirroringRole::Principal)
        else {
            return;
        };
        let fork = self
            .instance(&session.partner)
            .and_then(|c| c.database(database))
            .filter(|copy| {
                copy.session().is_some_and(|s| {
                    s.mirroring_guid == session.mirroring_guid && s.role == MirroringRole::Principal
                })
            })
            .map_or(own_fork, |copy| copy.fork.clone());
        let copy = self
            .catalog_mut(instance)
            .database_mut(database)
            .expect("found above");
        demote(copy, fork);
        self.assert_invariants();
    }

    pub(crate) fn catalog(&self, instance: &str) -> &InstanceCatalog {
        self.instances
            .get(instance)
            .expect("execute checked that the instance exists")
    }

    pub(crate) fn catalog_mut_if_exists(&mut self, instance: &str) -> Option<&mut InstanceCatalog> {
        self.instances.get_mut(instance)
    }

    pub(crate) fn catalog_mut(&mut self, instance: &str) -> &mut InstanceCatalog {
        self.instances
            .get_mut(instance)
            .expect("execute checked that the instance exists")
    }

    pub(crate) fn instance_on_host(&self, host: &str) -> Option<&InstanceCatalog> {
        self.instances
            .values()
            .find(|catalog| catalog.host.eq_ignore_ascii_case(host))
    }

    pub(crate) fn backup_folder_mut(&mut self) -> &mut BackupFolder {
        &mut self.backup_folder
    }

    /// A new recovery fork in a family.
    pub(crate) fn start_fork(&mut self, family_guid: String) -> RecoveryFork {
        self.forks_started += 1;
        RecoveryFork {
            family_guid,
            fork: self.forks_started,
        }
    }

    /// The GUID of a new session.
    pub(crate) fn new_mirroring_guid(
        &mut self,
        database: &str,
        principal: &str,
        mirror: &str,
    ) -> String {
        self.sessions_started += 1;
        derived_guid(&[
            "mirroring",
            &key(database),
            principal,
            mirror,
            &self.sessions_started.to_string(),
        ])
    }

    /// A thumbprint for a certificate created now.
    pub(crate) fn new_thumbprint(&mut self, instance: &str, certificate: &str) -> String {
        self.certificates_created += 1;
        derived_guid(&[
            "certificate",
            instance,
            &key(certificate),
            &self.certificates_created.to_string(),
        ])
    }

    pub(crate) fn assert_invariants(&self) {
        for catalog in self.instances.values() {
            for database in catalog.databases.values() {
                database.assert_invariants();
                let Some(session) = database.session() else {
                    continue;
                };
                // The partner's copy is in the same session, or has left it (a PARTNER OFF this
                // instance has not heard of). Their roles are each instance's own: both may be
                // principals for a while (an old principal that has not heard of the role
                // switch yet), or both mirrors (a new principal that crashed during its
                // take-over).
                let partner = self
                    .instances
                    .get(&session.partner)
                    .and_then(|partner| partner.database(&database.name))
                    .and_then(Database::session)
                    .filter(|partner| partner.mirroring_guid == session.mirroring_guid);
                assert!(
                    partner.is_none_or(|partner| partner.partner == catalog.name),
                    "{} on {}: the partner's copy must be in the same session with this instance",
                    database.name,
                    catalog.name
                );
            }
        }
    }
}

/// An old principal's copy once it is the mirror: RESTORING on the new principal's fork, with no
/// log backup chain of its own.
fn demote(copy: &mut Database, fork: crate::catalog::RecoveryFork) {
    copy.state = DatabaseState::Restoring;
    copy.fork = fork;
    if let Some(chain) = copy.log_chain_lsn.take() {
        copy.chain_given_up = Some(chain);
    }
    set_role(copy, MirroringRole::Mirror);
}

fn set_role(database: &mut Database, role: MirroringRole) {
    if let Some(Mirroring::Session(membership)) = &mut database.mirroring {
        membership.role = role;
    }
}

fn query(query: Query) -> Outcome {
    Outcome {
        work: Work::Immediate,
        effect: Effect::Query(query),
    }
}
