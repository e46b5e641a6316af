//! Recovery models, backups and restores: the log backup chain (reference §6 and §7, steps 1
//! and 2; errors 4208, 4214, 4305, 4326, 4330, 3117 and their neighbours). Backups and restores
//! take their size divided by the disk throughput; recovery and model changes 1 ms.

use crate::backup::{BackupFile, BackupKind, BackupSet};
use crate::catalog::{key, BackupBase, Database, DatabaseState};
use crate::errors::sql;
use crate::estate::{Effect, Estate, Judged, Outcome, StatementContext, Work};
use crate::statement::{RecoveryModel, RestoreMode};

impl Estate {
    /// `ALTER DATABASE db SET RECOVERY ...`: 5011 unknown database; 5052 while RESTORING; 1468
    /// leaving FULL while mirrored. SIMPLE breaks the log backup chain (a full or differential
    /// backup starts a new one).
    pub(crate) fn set_recovery_model(
        &mut self,
        on: &str,
        database: &str,
        model: RecoveryModel,
    ) -> Judged<Outcome> {
        let copy = self
            .catalog(on)
            .database(database)
            .ok_or_else(|| sql::cannot_alter_database(database))?;
        if copy.state == DatabaseState::Restoring {
            return Err(sql::alter_while_restoring().into());
        }
        if copy.mirroring.is_some() && model != RecoveryModel::Full {
            return Err(sql::involved_in_mirroring(database).into());
        }
        let copy = self
            .catalog_mut(on)
            .database_mut(database)
            .expect("found above");
        copy.recovery_model = model;
        if model == RecoveryModel::Simple {
            copy.log_chain_lsn = None;
            copy.last_log_backup = None;
        }
        Ok(Outcome::catalog())
    }

    /// `BACKUP DATABASE db TO DISK = 'f' [WITH DIFFERENTIAL]`: 911 unknown database; 954 on a
    /// mirror; 927 while RESTORING; 3035 a differential without a full backup; 3241 the file is
    /// a certificate. A full backup writes the database size; it starts the log backup chain at
    /// the end of log as it starts, if there is none (FULL and BULK_LOGGED). The point a restore
    /// of it reaches is the end of log when it completes ([`Estate::complete_database_backup`]).
    pub(crate) fn backup_database(
        &mut self,
        on: &str,
        database: &str,
        file: &str,
        differential: bool,
        context: &StatementContext,
    ) -> Judged<Outcome> {
        let copy = self.backup_source(on, database)?;
        let base = copy.differential_base;
        if differential && base.is_none() {
            return Err(sql::no_full_backup_for_differential(database).into());
        }
        self.media_file(file)?;
        let end = context.end_of_log_lsn.max(copy.log_reaches());
        let (kind, bytes) = match (differential, base) {
            // The changed data since the base, never more than the whole database.
            (true, Some(base)) => (
                BackupKind::Differential,
                end.saturating_sub(base.lsn)
                    .min(context.database_size_bytes),
            ),
            _ => (BackupKind::Full, context.database_size_bytes),
        };
        let set = self.backup_set(
            on,
            copy,
            kind,
            end,
            end,
            if differential { base } else { None },
            bytes,
        );
        let id = set.id;
        self.backup_folder_mut().append(file, set);
        let copy = self
            .catalog_mut(on)
            .database_mut(database)
            .expect("found above");
        if kind == BackupKind::Full {
            copy.differential_base = Some(BackupBase {
                backup_id: id,
                lsn: end,
            });
        }
        if copy.recovery_model != RecoveryModel::Simple && copy.log_chain_lsn.is_none() {
            copy.log_chain_lsn = Some(end);
        }
        Ok(Outcome {
            work: Work::Disk { bytes },
            effect: Effect::DatabaseBackup { backup_id: id },
        })
    }

    /// A full or differential backup completed with the end of log at `end_of_log_lsn`: a copy
    /// restored from it reaches that point, since the backup holds the log written while it ran
    /// (as SQL Server's does). So a log backup that a job took while it ran ends too early to
    /// apply after it (4326), and the next one applies; a log backup chain it started still
    /// begins where it started. An unknown id changes nothing.
    pub fn complete_database_backup(&mut self, backup_id: u64, end_of_log_lsn: u64) {
        let Some(set) = self.backup_folder_mut().set_mut(backup_id) else {
            return;
        };
        assert!(
            set.kind != BackupKind::Log,
            "backup set {backup_id} is a log backup"
        );
        // Never before where it started (a crash meanwhile may have cut the log back to its
        // hardened end).
        let end = end_of_log_lsn.max(set.last_lsn);
        set.last_lsn = end;
        let (on, database) = (set.taken_on.clone(), set.database.clone());
        let Some(copy) = self.catalog_mut(&on).database_mut(&database) else {
            return;
        };
        let last_log_backup = copy.last_log_backup;
        if let Some(base) = copy
            .differential_base
            .as_mut()
            .filter(|base| base.backup_id == backup_id)
        {
            base.lsn = end;
        }
        // The log backups a job took while it ran: their log is in it too.
        if let Some(set) = self.backup_folder_mut().set_mut(backup_id) {
            set.log_backup_before = last_log_backup;
        }
    }

    /// What a `BACKUP DATABASE` or `BACKUP LOG` about to run on `on` may change, to take back
    /// with [`Estate::abandon_backup`] if its instance stops before it completes. Taken before
    /// the statement runs.
    pub fn backup_undo(&self, on: &str, database: &str) -> BackupUndo {
        let copy = self.instance(on).and_then(|c| c.database(database));
        BackupUndo {
            backup_id: self.backup_folder().next_backup_id(),
            on: on.to_string(),
            database: database.to_string(),
            differential_base: copy.and_then(|c| c.differential_base),
            log_chain_lsn: copy.and_then(|c| c.log_chain_lsn),
            last_log_backup: copy.and_then(|c| c.last_log_backup),
        }
    }

    /// The instance a backup ran on stopped before the backup completed (SQL Server writes no
    /// backup set then): its set goes, and the database's differential base and log backup
    /// chain are as they were, unless something since has moved them on. A backup that wrote no
    /// set (it failed) changes nothing.
    pub fn abandon_backup(&mut self, undo: BackupUndo) {
        let Some(set) = self.backup_folder_mut().remove_set(undo.backup_id) else {
            return;
        };
        let Some(copy) = self.catalog_mut(&undo.on).database_mut(&undo.database) else {
            return;
        };
        if copy.differential_base.map(|b| b.backup_id) == Some(set.id) {
            copy.differential_base = undo.differential_base;
        }
        match set.kind {
            // A chain this full backup began is no chain without it, whatever log backups (the
            // job's) were taken from it meanwhile: the next one gets 4214.
            BackupKind::Full if undo.log_chain_lsn.is_none() => copy.log_chain_lsn = None,
            BackupKind::Full | BackupKind::Differential => {}
            BackupKind::Log if copy.log_chain_lsn == Some(set.last_lsn) => {
                copy.log_chain_lsn = undo.log_chain_lsn;
                if copy.last_log_backup == Some(set.id) {
                    copy.last_log_backup = undo.last_log_backup;
                }
            }
            // A later log backup (the job's) went on from it: its sets stand.
            BackupKind::Log => {}
        }
    }

    /// `BACKUP LOG db TO DISK = 'f'`: 911, 954, 927 as for BACKUP DATABASE; 4208 under SIMPLE;
    /// 4214 with no full backup since the chain began or broke; 3241 the file is a certificate.
    /// It holds the log since the previous log backup, up to the end of log.
    pub(crate) fn backup_log(
        &mut self,
        on: &str,
        database: &str,
        file: &str,
        context: &StatementContext,
    ) -> Judged<Outcome> {
        let copy = self.backup_source(on, database)?;
        if copy.recovery_model == RecoveryModel::Simple {
            return Err(sql::log_backup_under_simple(database).into());
        }
        let chain = copy
            .log_chain_lsn
            .ok_or_else(|| sql::no_current_database_backup(database))?;
        self.media_file(file)?;
        let end = context.end_of_log_lsn.max(copy.log_reaches());
        let set = self.backup_set(on, copy, BackupKind::Log, chain, end, None, end - chain);
        let (bytes, id) = (set.bytes, set.id);
        self.backup_folder_mut().append(file, set);
        let copy = self
            .catalog_mut(on)
            .database_mut(database)
            .expect("found above");
        copy.log_chain_lsn = Some(end);
        copy.last_log_backup = Some(id);
        Ok(Outcome {
            work: Work::Disk { bytes },
            effect: Effect::None,
        })
    }

    /// The ONLINE database a backup reads.
    fn backup_source(&self, on: &str, database: &str) -> Judged<&Database> {
        let copy = self
            .catalog(on)
            .database(database)
            .ok_or_else(|| sql::database_does_not_exist(database))?;
        match (copy.state, copy.session()) {
            (DatabaseState::Online, _) => Ok(copy),
            (DatabaseState::Restoring, Some(_)) => Err(sql::database_is_a_mirror(database).into()),
            (DatabaseState::Restoring, None) => Err(sql::database_is_restoring(database).into()),
        }
    }

    /// A backup appends to a media file; a certificate file is not one.
    fn media_file(&self, file: &str) -> Judged<()> {
        match self.backup_folder().file(file) {
            Some(BackupFile::Certificate(_)) => Err(sql::media_incorrectly_formed(file).into()),
            _ => Ok(()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn backup_set(
        &self,
        on: &str,
        copy: &Database,
        kind: BackupKind,
        first_lsn: u64,
        last_lsn: u64,
        base: Option<BackupBase>,
        bytes: u64,
    ) -> BackupSet {
        BackupSet {
            id: self.backup_folder().next_backup_id(),
            kind,
            database: copy.name.clone(),
            taken_on: on.to_string(),
            fork: copy.fork.clone(),
            first_lsn,
            last_lsn,
            base,
            log_backup_before: copy.last_log_backup,
            recovery_model: copy.recovery_model,
            bytes,
        }
    }

    /// The first backup set of a file (RESTORE without FILE = n), of the kinds allowed: 3201
    /// missing file; 3241 a certificate file; 3135 a backup of the wrong kind.
    fn backup_to_restore(&self, file: &str, allowed: &[BackupKind]) -> Judged<BackupSet> {
        let sets = match self.backup_folder().file(file) {
            None => return Err(sql::cannot_open_backup_device(file).into()),
            Some(BackupFile::Certificate(_)) => {
                return Err(sql::media_incorrectly_formed(file).into())
            }
            Some(BackupFile::Media(sets)) => sets,
        };
        let set = sets
            .first()
            .expect("a media file holds at least the backup set that created it");
        if !allowed.contains(&set.kind) {
            return Err(sql::wrong_backup_kind(file, set.kind.made_by()).into());
        }
        Ok(set.clone())
    }

    /// `RESTORE DATABASE db FROM DISK = 'f' WITH ...` (full or differential): 3201, 3241, 3135
    /// for the file; 3104 onto a database in a mirroring session; a full backup over an
    /// ONLINE database: 3154 another database, 3159 its log tail not backed up (FULL or
    /// BULK_LOGGED: log written since its last log backup), both unless WITH REPLACE; a
    /// differential: 3117 onto a database that is not RESTORING, 3136 onto the wrong base.
    pub(crate) fn restore_database(
        &mut self,
        on: &str,
        database: &str,
        file: &str,
        mode: RestoreMode,
        replace: bool,
        context: &StatementContext,
    ) -> Judged<Outcome> {
        let set = self.backup_to_restore(file, &[BackupKind::Full, BackupKind::Differential])?;
        let existing = self.catalog(on).database(database);
        if existing.is_some_and(|copy| copy.session().is_some()) {
            return Err(sql::restore_on_mirrored_database(database).into());
        }
        let restored = match set.kind {
            BackupKind::Full => {
                // Its log is in log backups up to its end (one taken, or the last one its
                // restores covered, with nothing written since): no tail would be lost.
                let tail_backed_up = existing.is_some_and(|copy| {
                    copy.last_log_backup.is_some()
                        && copy
                            .log_chain_lsn
                            .is_some_and(|lsn| lsn >= context.end_of_log_lsn)
                });
                self.full_restore(on, database, existing, &set, replace, tail_backed_up)?
            }
            _ => differential_restore(database, existing, &set)?,
        };
        self.finish_restore(on, restored, mode);
        Ok(Outcome {
            work: Work::Disk { bytes: set.bytes },
            effect: Effect::None,
        })
    }

    fn full_restore(
        &self,
        on: &str,
        database: &str,
        existing: Option<&Database>,
        set: &BackupSet,
        replace: bool,
        tail_backed_up: bool,
    ) -> Judged<Database> {
        let online = existing.filter(|copy| copy.state == DatabaseState::Online);
        if let Some(copy) = online.filter(|_| !replace) {
            if copy.fork.family_guid != set.fork.family_guid {
                return Err(sql::backup_of_other_database(database).into());
            }
            if copy.recovery_model != RecoveryModel::Simple && !tail_backed_up {
                return Err(sql::tail_not_backed_up(database).into());
            }
        }
        let base = BackupBase {
            backup_id: set.id,
            lsn: set.last_lsn,
        };
        Ok(Database {
            name: existing.map_or_else(|| database.to_string(), |copy| copy.name.clone()),
            database_id: existing
                .map_or(self.catalog(on).next_database_id, |copy| copy.database_id),
            state: DatabaseState::Restoring,
            recovery_model: set.recovery_model,
            fork: set.fork.clone(),
            lsn_restored: set.last_lsn,
            restored_base: Some(base),
            log_restored_since_base: false,
            log_chain_lsn: None,
            chain_given_up: None,
            differential_base: None,
            last_log_backup: set.log_backup_before,
            session_end_covers: None,
            mirroring: None,
        })
    }

    /// `RESTORE LOG db FROM DISK = 'f' WITH ...`: 3201, 3241, 3135 for the file; 3104 onto a
    /// database in a mirroring session; 3117 onto a database that is not RESTORING; 3154 a
    /// log of another database; 4330 of another recovery fork; 4305 the log begins after the
    /// database's point (a log backup in between is missing); 4326 it ends before it (already
    /// restored).
    pub(crate) fn restore_log(
        &mut self,
        on: &str,
        database: &str,
        file: &str,
        mode: RestoreMode,
    ) -> Judged<Outcome> {
        let set = self.backup_to_restore(file, &[BackupKind::Log])?;
        let copy = self.catalog(on).database(database);
        if copy.is_some_and(|copy| copy.session().is_some()) {
            return Err(sql::restore_on_mirrored_database(database).into());
        }
        let copy = copy
            .filter(|copy| copy.state == DatabaseState::Restoring)
            .ok_or_else(|| sql::nothing_to_roll_forward(database))?;
        if copy.fork.family_guid != set.fork.family_guid {
            return Err(sql::backup_of_other_database(database).into());
        }
        if copy.fork != set.fork {
            return Err(sql::inconsistent_recovery_path().into());
        }
        let point = copy.lsn_restored;
        if set.first_lsn > point {
            return Err(sql::log_too_recent(set.first_lsn, point).into());
        }
        // A log backup holds [first, last). One that ends before the copy's point was taken
        // before the backup the copy stands on completed, or was restored already. One that
        // ends at the point applies and adds nothing when it has no log at all, or when it is
        // the first after a full or differential backup (taken as that backup completed, with
        // no log written in between); otherwise it is one already restored.
        let empty = set.first_lsn == set.last_lsn;
        let already_covered = copy.last_log_backup >= Some(set.id);
        let at_point_again =
            set.last_lsn == point && !empty && copy.log_restored_since_base && already_covered;
        if set.last_lsn < point || at_point_again {
            return Err(sql::log_too_early(set.last_lsn, point).into());
        }
        // A log backup in between is missing, though it added no LSN (nothing was written
        // between the two): on a real server every log backup holds log.
        if let Some(previous) = set
            .log_backup_before
            .filter(|&p| Some(p) > copy.last_log_backup)
        {
            return Err(sql::log_backup_skipped(set.first_lsn, previous).into());
        }
        if empty && already_covered {
            return Err(sql::empty_log_backup_restored_again(set.id).into());
        }
        let mut restored = copy.clone();
        restored.lsn_restored = set.last_lsn;
        // The recovery model is a logged change: rolling the log forward brings the one in
        // force when the log backup was taken (a full backup under BULK_LOGGED, then FULL and
        // a log backup, leaves the copy in FULL, as on the principal).
        restored.recovery_model = set.recovery_model;
        restored.log_restored_since_base = true;
        restored.last_log_backup = Some(set.id);
        self.finish_restore(on, restored, mode);
        Ok(Outcome {
            work: Work::Disk { bytes: set.bytes },
            effect: Effect::None,
        })
    }

    /// `RESTORE DATABASE db WITH RECOVERY`: 911 unknown database; 3104 in a mirroring
    /// session; 3153 already ONLINE. Starts a new recovery fork.
    pub(crate) fn recover_database(&mut self, on: &str, database: &str) -> Judged<Outcome> {
        let copy = self
            .catalog(on)
            .database(database)
            .ok_or_else(|| sql::database_does_not_exist(database))?;
        if copy.session().is_some() {
            return Err(sql::restore_on_mirrored_database(database).into());
        }
        if copy.state == DatabaseState::Online {
            return Err(sql::already_recovered().into());
        }
        let copy = copy.clone();
        self.finish_restore(on, copy, RestoreMode::Recovery);
        Ok(Outcome::catalog())
    }

    /// Files the restored copy; WITH RECOVERY brings it online on a new recovery fork, with the
    /// log backup chain starting at its recovery point, and no longer waiting to be a mirror.
    ///
    /// A restore onto a copy prepared on the mirror side (in no session yet) is allowed:
    /// reference section 7 names no error for it, and restoring the log backup a failed SET
    /// PARTNER asked for (1412, 1478) is how a DBA completes the setup. A log or differential
    /// restore WITH NORECOVERY keeps the address the copy waits for.
    fn finish_restore(&mut self, on: &str, mut copy: Database, mode: RestoreMode) {
        if mode == RestoreMode::Recovery {
            copy.mirroring = None;
            copy.fork = self.start_fork(copy.fork.family_guid.clone());
            copy.state = DatabaseState::Online;
            copy.log_chain_lsn =
                (copy.recovery_model != RecoveryModel::Simple).then_some(copy.lsn_restored);
            copy.chain_given_up = None;
            copy.differential_base = copy.restored_base.take();
            copy.log_restored_since_base = false;
        }
        let catalog = self.catalog_mut(on);
        if catalog.database(&copy.name).is_none() {
            assert_eq!(
                copy.database_id, catalog.next_database_id,
                "a new database takes the next id"
            );
            catalog.next_database_id += 1;
        }
        catalog.databases.insert(key(&copy.name), copy);
    }
}

fn differential_restore(
    database: &str,
    existing: Option<&Database>,
    set: &BackupSet,
) -> Judged<Database> {
    let copy = existing
        .filter(|copy| copy.state == DatabaseState::Restoring)
        .ok_or_else(|| sql::nothing_to_roll_forward(database))?;
    let on_its_base =
        copy.restored_base.is_some() && copy.restored_base == set.base && copy.fork == set.fork;
    if !on_its_base || set.last_lsn < copy.lsn_restored {
        return Err(sql::differential_out_of_place().into());
    }
    let mut restored = copy.clone();
    restored.lsn_restored = set.last_lsn;
    restored.log_restored_since_base = false;
    restored.last_log_backup = restored.last_log_backup.max(set.log_backup_before);
    Ok(restored)
}

/// What a backup statement changed, kept while it runs ([`Estate::backup_undo`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupUndo {
    /// The id its backup set gets.
    backup_id: u64,
    /// The instance it runs on.
    on: String,
    /// The database.
    database: String,
    /// The database's differential base before it.
    differential_base: Option<BackupBase>,
    /// The database's log backup chain before it.
    log_chain_lsn: Option<u64>,
    /// The database's last log backup before it.
    last_log_backup: Option<u64>,
}
