//! The one backup share every instance can read (spec/scenario.md: "backup files land in one
//! backup share"): database backups with their LSN ranges, and certificate files.
//!
//! LSNs are plain `u64` byte positions in the database's log: a log backup holds the log
//! `[first_lsn, last_lsn)`, so its size is `last_lsn - first_lsn`.

use std::collections::BTreeMap;

use crate::catalog::{key, RecoveryFork};
use crate::statement::RecoveryModel;

/// What a backup set holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BackupKind {
    /// `BACKUP DATABASE`: the whole database as of `last_lsn`, the end of log when it
    /// completed.
    Full,
    /// `BACKUP DATABASE ... WITH DIFFERENTIAL`: the changes since its base full backup.
    Differential,
    /// `BACKUP LOG`: the log since the previous log backup.
    Log,
}

impl BackupKind {
    /// The statement that made it, as SQL Server's restore errors name it.
    pub fn made_by(self) -> &'static str {
        match self {
            Self::Full | Self::Differential => "BACKUP DATABASE",
            Self::Log => "BACKUP LOG",
        }
    }
}

/// One backup set in a backup file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSet {
    /// Its id, in the order backups were taken.
    pub id: u64,
    /// Full, differential or log.
    pub kind: BackupKind,
    /// The database backed up.
    pub database: String,
    /// The instance it was taken on.
    pub taken_on: String,
    /// The database's family and fork when it was taken.
    pub fork: RecoveryFork,
    /// Full and differential: the end of log when it started (a log backup chain it starts
    /// begins there); log: the first LSN it holds.
    pub first_lsn: u64,
    /// The LSN just past the last log it holds: a restore of it reaches this LSN. For a full or
    /// differential backup, the end of log when it completed: it holds the log written while it
    /// ran, so the copy restored from it is consistent as of its end
    /// ([`crate::Estate::complete_database_backup`]).
    pub last_lsn: u64,
    /// Differential: the full backup it is based on.
    pub base: Option<crate::catalog::BackupBase>,
    /// Log: the log backup before it in its chain. Full and differential: the last log backup
    /// whose log it holds (taken before it completed). A copy restored from it holds that log.
    pub log_backup_before: Option<u64>,
    /// The recovery model the database had (a restored copy takes it).
    pub recovery_model: RecoveryModel,
    /// Its size: what writing and restoring it costs in disk time.
    pub bytes: u64,
}

/// A certificate written by `BACKUP CERTIFICATE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateFile {
    /// The certificate's name where it was backed up.
    pub certificate: String,
    /// The instance it was backed up on.
    pub taken_on: String,
    /// Its subject.
    pub subject: String,
    /// Its thumbprint: an import of this file is the same certificate.
    pub thumbprint: String,
}

/// A file in the backup share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackupFile {
    /// A backup media file: backup sets appended in order (SQL Server's default NOINIT); a
    /// RESTORE without FILE = n reads the first.
    Media(Vec<BackupSet>),
    /// A certificate file.
    Certificate(CertificateFile),
}

impl BackupFile {
    /// The backup sets the file holds (none in a certificate file).
    pub fn sets(&self) -> &[BackupSet] {
        match self {
            Self::Media(sets) => sets,
            Self::Certificate(_) => &[],
        }
    }

    /// The backup sets the file holds, to change.
    fn sets_mut(&mut self) -> &mut [BackupSet] {
        match self {
            Self::Media(sets) => sets,
            Self::Certificate(_) => &mut [],
        }
    }
}

/// The shared backup folder.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackupFolder {
    files: BTreeMap<String, (String, BackupFile)>,
    backups_taken: u64,
}

impl BackupFolder {
    /// The file of that name (file names are not case-sensitive on Windows).
    pub fn file(&self, name: &str) -> Option<&BackupFile> {
        self.files.get(&key(name)).map(|(_, file)| file)
    }

    /// Every file, by name as first written, in name order.
    pub fn files(&self) -> impl Iterator<Item = (&str, &BackupFile)> {
        self.files
            .values()
            .map(|(name, file)| (name.as_str(), file))
    }

    /// Every backup set of one database taken on one instance, oldest first.
    pub fn backups_of(&self, instance: &str, database: &str) -> Vec<&BackupSet> {
        let mut sets: Vec<&BackupSet> = self
            .files
            .values()
            .flat_map(|(_, file)| file.sets())
            .filter(|set| set.taken_on == instance && key(&set.database) == key(database))
            .collect();
        sets.sort_by_key(|set| set.id);
        sets
    }

    /// The id the next backup set gets.
    pub(crate) fn next_backup_id(&self) -> u64 {
        self.backups_taken + 1
    }

    /// Appends a backup set to a media file (created if absent). The caller has checked that
    /// the name is not a certificate file.
    pub(crate) fn append(&mut self, file: &str, set: BackupSet) {
        assert_eq!(
            set.id,
            self.next_backup_id(),
            "backup ids follow the order backups are taken"
        );
        self.backups_taken = set.id;
        let entry = self
            .files
            .entry(key(file))
            .or_insert_with(|| (file.to_string(), BackupFile::Media(Vec::new())));
        match &mut entry.1 {
            BackupFile::Media(sets) => sets.push(set),
            BackupFile::Certificate(_) => {
                unreachable!("the caller checked that {file} is a media file")
            }
        }
    }

    /// Takes back the backup set with this id: its statement stopped before it completed, and
    /// an interrupted backup leaves no set to restore. A media file left empty goes too.
    pub(crate) fn remove_set(&mut self, id: u64) -> Option<BackupSet> {
        let (name, removed) = self.files.iter_mut().find_map(|(name, (_, file))| {
            let BackupFile::Media(sets) = file else {
                return None;
            };
            let at = sets.iter().position(|set| set.id == id)?;
            Some((name.clone(), sets.remove(at)))
        })?;
        if matches!(self.files.get(&name), Some((_, BackupFile::Media(sets))) if sets.is_empty()) {
            self.files.remove(&name);
        }
        Some(removed)
    }

    /// Whether the log backups of the database on `fork` lead from `from` to `to`, each one
    /// holding the log just past where the one before ends: a copy restored to `from` can be
    /// rolled forward with them to where the chain now stands. They do not when a switch to
    /// SIMPLE broke the chain in between (the next chain begins at a later full backup), or
    /// when a backup on the way was overwritten.
    pub fn log_backups_join(&self, fork: &RecoveryFork, from: u64, to: u64) -> bool {
        let mut reached = from;
        while reached < to {
            let next = self
                .files
                .values()
                .flat_map(|(_, file)| file.sets())
                .filter(|set| {
                    set.kind == BackupKind::Log
                        && set.fork == *fork
                        && set.first_lsn <= reached
                        && reached < set.last_lsn
                })
                .map(|set| set.last_lsn)
                .max();
            match next {
                Some(end) => reached = end, // strictly further: the loop ends
                None => return false,
            }
        }
        true
    }

    /// The backup set with this id, if it was written and not taken back.
    pub fn set(&self, id: u64) -> Option<&BackupSet> {
        self.files
            .values()
            .flat_map(|(_, file)| file.sets())
            .find(|set| set.id == id)
    }

    /// The backup set with this id, to change.
    pub(crate) fn set_mut(&mut self, id: u64) -> Option<&mut BackupSet> {
        self.files
            .values_mut()
            .flat_map(|(_, file)| file.sets_mut())
            .find(|set| set.id == id)
    }

    /// Writes a certificate file. The caller has checked that the name is free.
    pub(crate) fn write_certificate(&mut self, file: &str, certificate: CertificateFile) {
        let previous = self.files.insert(
            key(file),
            (file.to_string(), BackupFile::Certificate(certificate)),
        );
        assert!(
            previous.is_none(),
            "the caller checked that {file} does not exist"
        );
    }
}
