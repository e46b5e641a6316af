//! The errors this crate reports: SQL Server errors ([`SqlError`], with SQL Server's number and
//! its message, plus what to do about it where SQL Server leaves a DBA guessing), and the
//! driver's own mistakes ([`SetupError`]).

use std::time::Duration;

use mirror_protocol::SqlError;

/// A statement that failed. Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// SQL Server refused the statement with this error.
    #[error("{error}")]
    Sql {
        /// The SQL Server error.
        error: SqlError,
        /// When, after the statement started, the DBA sees the error: zero, except for a
        /// connection the acceptor drops silently (a soft 1418), which is noticed only after the
        /// default partner TIMEOUT plus one ping interval ([`SOFT_FAILURE_NOTICED_AFTER`]).
        reported_after: Duration,
    },
    /// The simulator named an instance the estate does not hold (a driver bug: the scenario
    /// validator rejects unknown instances).
    #[error("no instance named `{0}`")]
    UnknownInstance(String),
}

impl StatementError {
    /// The SQL Server error, if SQL Server refused the statement.
    pub fn sql_error(&self) -> Option<&SqlError> {
        match self {
            Self::Sql { error, .. } => Some(error),
            Self::UnknownInstance(_) => None,
        }
    }

    /// The SQL Server error number, if SQL Server refused the statement.
    pub fn number(&self) -> Option<u32> {
        self.sql_error().map(|error| error.number)
    }
}

impl From<SqlError> for StatementError {
    /// An error reported at once.
    fn from(error: SqlError) -> Self {
        Self::Sql {
            error,
            reported_after: Duration::ZERO,
        }
    }
}

/// How long a silently dropped connection takes to fail: the default partner TIMEOUT (10 s,
/// which applies before a session exists) plus one ping interval (reference §3 and §7).
pub const SOFT_FAILURE_NOTICED_AFTER: Duration = Duration::from_secs(11);

/// A mistake of the driver (the simulator), not of the DBA: building an estate or reporting
/// protocol events that do not fit it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// Two instances with one name.
    #[error("an instance named `{0}` already exists")]
    DuplicateInstance(String),
    /// Two instances on one host.
    #[error("host `{host}` already holds instance `{instance}`")]
    DuplicateHost {
        /// The host.
        host: String,
        /// The instance already there.
        instance: String,
    },
    /// No such instance.
    #[error("no instance named `{0}`")]
    UnknownInstance(String),
    /// The database already exists there.
    #[error("instance `{instance}` already has a database `{database}`")]
    DuplicateDatabase {
        /// The instance.
        instance: String,
        /// The database.
        database: String,
    },
    /// The database is in no session on that instance.
    #[error("database `{database}` on `{instance}` is in no mirroring session")]
    NoSession {
        /// The instance.
        instance: String,
        /// The database.
        database: String,
    },
}

/// SQL Server's errors, one constructor per number, named by what went wrong.
pub(crate) mod sql {
    use super::{text, SqlError};
    use crate::statement::ServerAddress;

    pub fn database_does_not_exist(database: &str) -> SqlError {
        SqlError::new(911, format!("Database '{database}' does not exist. Make sure that the name is entered correctly."))
    }

    pub fn database_is_restoring(database: &str) -> SqlError {
        SqlError::new(
            927,
            format!("Database '{database}' cannot be opened. It is in the middle of a restore."),
        )
    }

    pub fn database_is_a_mirror(database: &str) -> SqlError {
        SqlError::new(
            954,
            format!(
                "The database \"{database}\" cannot be opened. It is acting as a mirror database."
            ),
        )
    }

    pub fn already_mirrored_locally(database: &str, detail: &str) -> SqlError {
        SqlError::new(
            1405,
            format!(
                "The database \"{database}\" is already enabled for database mirroring. {detail}"
            ),
        )
    }

    pub fn remote_unrelated(database: &str, detail: &str) -> SqlError {
        SqlError::new(1407, format!("The remote copy of database \"{database}\" is not related to the local copy of the database. {detail}"))
    }

    pub fn already_mirrored_remotely(database: &str, instance: &str) -> SqlError {
        SqlError::new(1410, format!("The remote copy of database \"{database}\" is already enabled for database mirroring (on {instance})."))
    }

    pub fn remote_not_rolled_forward(database: &str, detail: &str) -> SqlError {
        SqlError::new(1412, format!("The remote copy of database \"{database}\" has not been rolled forward to a point in time that is encompassed in the local copy of the database log. {detail}"))
    }

    pub fn not_configured_for_mirroring(database: &str, detail: &str) -> SqlError {
        SqlError::new(1416, format!("{} {detail}", text::not_configured(database)))
    }

    pub fn address_unreachable(address: &ServerAddress, detail: &str) -> SqlError {
        SqlError::new(1418, format!("{} [{detail}]", text::unreachable(address)))
    }

    pub fn witness_needs_interconnection(detail: &str) -> SqlError {
        SqlError::new(1426, format!("{} [{detail}]", text::not_interconnected()))
    }

    pub fn witness_is_a_partner(address: &ServerAddress) -> SqlError {
        SqlError::new(1429, format!("The witness server instance name must be distinct from both of the server instances that manage the database ({address} is a partner). The ALTER DATABASE SET WITNESS command failed."))
    }

    pub fn remote_database_missing(database: &str, instance: &str) -> SqlError {
        SqlError::new(1448, format!("The remote copy of database \"{database}\" does not exist on {instance}. Check the database name and reissue the command (restore it there WITH NORECOVERY under the same name)."))
    }

    pub fn partner_is_this_instance(address: &ServerAddress) -> SqlError {
        SqlError::new(1452, format!("The partner server instance name must be distinct from the server instance that manages the database ({address} is this instance). The ALTER DATABASE SET PARTNER command failed."))
    }

    pub fn remote_not_restoring(database: &str, instance: &str) -> SqlError {
        SqlError::new(1464, format!("Database \"{database}\" on {instance} is not in a recovering state which is required for a mirror database. The remote database must be restored using WITH NORECOVERY."))
    }

    pub fn not_full_recovery(database: &str, instance: &str) -> SqlError {
        SqlError::new(1465, format!("Database \"{database}\" is not in full recovery mode on each of the server instances (not on {instance}). The full recovery model is required for a database to participate in database mirroring."))
    }

    pub fn option_not_settable(option: &str, database: &str) -> SqlError {
        SqlError::new(
            5058,
            format!("Option '{option}' cannot be set in database '{database}'."),
        )
    }

    /// Not SQL Server's: the simulator holds one mirroring session, of the scenario's
    /// database. 50000 is the number SQL Server gives a message of no number of its own.
    pub fn second_session(database: &str, simulated: &str) -> SqlError {
        SqlError::new(50000, format!("The simulator holds one mirroring session, of \"{simulated}\" (the scenario's [database]): a session of \"{database}\" cannot be simulated beside it. Rehearse \"{database}\" in a scenario of its own."))
    }

    pub fn zero_length_device_name() -> SqlError {
        SqlError::new(3044, "Invalid zero-length device name. Reissue the BACKUP statement with a valid device name.")
    }

    pub fn involved_in_mirroring(database: &str) -> SqlError {
        SqlError::new(1468, format!("The operation cannot be performed on database \"{database}\" because it is involved in a database mirroring session."))
    }

    pub fn principal_only(database: &str) -> SqlError {
        SqlError::new(1470, text::principal_only(database))
    }

    pub fn force_service_without_a_copy(database: &str) -> SqlError {
        SqlError::new(1455, format!("{} [this instance holds no copy of it: FORCE_SERVICE_ALLOW_DATA_LOSS is issued on the mirror]", text::cannot_force(database)))
    }

    pub fn insufficient_log_on_mirror(database: &str) -> SqlError {
        SqlError::new(1478, format!("The mirror database, \"{database}\", has insufficient transaction log data to preserve the log backup chain of the principal database. This may happen if a log backup from the principal database has not been taken or has not been restored on the mirror database."))
    }

    pub fn no_full_backup_for_differential(database: &str) -> SqlError {
        SqlError::new(3035, format!("Cannot perform a differential backup for database \"{database}\", because a current database backup does not exist. Perform a full database backup by reissuing BACKUP DATABASE, omitting the WITH DIFFERENTIAL option."))
    }

    pub fn restore_on_mirrored_database(database: &str) -> SqlError {
        SqlError::new(3104, format!("RESTORE cannot operate on database '{database}' because it is configured for database mirroring. Use ALTER DATABASE to remove mirroring if you intend to restore the database."))
    }

    pub fn nothing_to_roll_forward(database: &str) -> SqlError {
        SqlError::new(3117, format!("The log or differential backup cannot be restored because no files are ready to rollforward (database '{database}' is not RESTORING: it was never restored, or was restored WITH RECOVERY)."))
    }

    pub fn wrong_backup_kind(file: &str, made_by: &str) -> SqlError {
        SqlError::new(3135, format!("The backup set in file '{file}' was created by {made_by} and cannot be used for this restore operation."))
    }

    pub fn differential_out_of_place() -> SqlError {
        SqlError::new(3136, "This differential backup cannot be restored because the database has not been restored to the correct earlier state.")
    }

    pub fn already_recovered() -> SqlError {
        SqlError::new(3153, "The database is already fully recovered.")
    }

    pub fn backup_of_other_database(database: &str) -> SqlError {
        SqlError::new(3154, format!("The backup set holds a backup of a database other than the existing '{database}' database."))
    }

    pub fn tail_not_backed_up(database: &str) -> SqlError {
        SqlError::new(3159, format!("The tail of the log for the database \"{database}\" has not been backed up. Use BACKUP LOG WITH NORECOVERY to backup the log if it contains work you do not want to lose. Use the WITH REPLACE or WITH STOPAT clause of the RESTORE statement to just overwrite the contents of the log."))
    }

    pub fn cannot_open_backup_device(file: &str) -> SqlError {
        SqlError::new(3201, format!("Cannot open backup device '{file}'. Operating system error 2(The system cannot find the file specified.)."))
    }

    pub fn media_incorrectly_formed(file: &str) -> SqlError {
        SqlError::new(3241, format!("The media family on device '{file}' is incorrectly formed. SQL Server cannot process this media family."))
    }

    pub fn log_backup_under_simple(database: &str) -> SqlError {
        SqlError::new(4208, format!("The statement BACKUP LOG is not allowed while the recovery model is SIMPLE (database '{database}'). Use BACKUP DATABASE or change the recovery model using ALTER DATABASE."))
    }

    pub fn no_current_database_backup(database: &str) -> SqlError {
        SqlError::new(4214, format!("BACKUP LOG cannot be performed because there is no current database backup (database '{database}': take a full backup first)."))
    }

    pub fn log_too_recent(first_lsn: u64, needed_lsn: u64) -> SqlError {
        SqlError::new(4305, format!("The log in this backup set begins at LSN {first_lsn}, which is too recent to apply to the database. An earlier log backup that includes LSN {needed_lsn} can be restored."))
    }

    pub fn log_backup_skipped(first_lsn: u64, previous: u64) -> SqlError {
        SqlError::new(4305, format!("The log in this backup set begins at LSN {first_lsn}, which is too recent to apply to the database: the log backup taken before it (backup set {previous}) has not been restored, though no log was written in between (the simulator's log backups may be empty; SQL Server's never are). Restore it first."))
    }

    /// 4326 for a log backup that holds no log (nothing was written since the one before) and
    /// was restored already: its LSNs alone would read "terminates at LSN n ... includes LSN
    /// n".
    pub fn empty_log_backup_restored_again(backup_set: u64) -> SqlError {
        SqlError::new(4326, format!("The log in this backup set terminates too early to apply to the database: backup set {backup_set} holds no log (nothing was written since the log backup before it) and has been restored already. Restore the next log backup."))
    }

    pub fn log_too_early(last_lsn: u64, needed_lsn: u64) -> SqlError {
        SqlError::new(4326, format!("The log in this backup set terminates at LSN {last_lsn}, which is too early to apply to the database. A more recent log backup that includes LSN {needed_lsn} can be restored."))
    }

    pub fn inconsistent_recovery_path() -> SqlError {
        SqlError::new(4330, "This backup set cannot be applied because it is on a recovery path that is inconsistent with the database. The recovery path is the sequence of data and log backups that have brought the database to a particular recovery point. Find a compatible backup to restore.")
    }

    pub fn cannot_alter_database(database: &str) -> SqlError {
        SqlError::new(5011, format!("User does not have permission to alter database '{database}', the database does not exist, or the database is not in a state that allows access checks."))
    }

    pub fn alter_while_restoring() -> SqlError {
        SqlError::new(
            5052,
            "ALTER DATABASE is not permitted while a database is in the Restoring state.",
        )
    }

    pub fn second_mirroring_endpoint(existing: &str) -> SqlError {
        SqlError::new(7862, format!("An endpoint of the requested type already exists ('{existing}'). Only one endpoint of this type is supported. Use ALTER ENDPOINT or DROP the existing endpoint and execute the CREATE ENDPOINT command."))
    }

    pub fn principal_exists(name: &str) -> SqlError {
        SqlError::new(
            15025,
            format!("The server principal '{name}' already exists."),
        )
    }

    /// 15151: `kind` is "endpoint", "login", "certificate" or "user".
    pub fn cannot_find(kind: &str, name: &str) -> SqlError {
        SqlError::new(15151, format!("Cannot find the {kind} '{name}', because it does not exist or you do not have permission."))
    }

    pub fn certificate_file_invalid(file: &str) -> SqlError {
        SqlError::new(15208, format!("The certificate, asymmetric key, or private key file is not valid or does not exist; or you do not have permissions for it ('{file}')."))
    }

    pub fn certificate_exists(name: &str) -> SqlError {
        SqlError::new(15232, format!("A certificate with name '{name}' already exists or this certificate already has been added to the database."))
    }

    pub fn cannot_write_file(file: &str) -> SqlError {
        SqlError::new(15240, format!("Cannot write into file '{file}'. Verify that you have write permissions, that the file path is valid, and that the file does not already exist."))
    }

    pub fn not_a_windows_name(name: &str) -> SqlError {
        SqlError::new(15407, format!("'{name}' is not a valid Windows NT name. Give the complete name: <domain\\username>."))
    }
}

/// SQL Server's text of the errors both the catalog ([`sql`]) and the protocol core
/// ([`in_sql_server_words`]) raise, without the rule that failed.
mod text {
    use std::fmt::Display;

    /// 1416.
    pub fn not_configured(database: &str) -> String {
        format!("Database \"{database}\" is not configured for database mirroring.")
    }

    /// 1418.
    pub fn unreachable(address: impl Display) -> String {
        format!("The server network address \"{address}\" can not be reached or does not exist. Check the network address name and that the ports for the local and remote endpoints are operational.")
    }

    /// 1426.
    pub fn not_interconnected() -> String {
        "To issue ALTER DATABASE SET WITNESS, all three server instances must be interconnected, and the mirror database must be caught up. When these conditions are met, reissue the command.".to_string()
    }

    /// 1455.
    pub fn cannot_force(database: &str) -> String {
        format!("The database mirroring service cannot be forced for database \"{database}\" because the database is not in the correct state to become the principal database.")
    }

    /// 1470.
    pub fn principal_only(database: &str) -> String {
        format!("The alter database for this partner config values may only be initiated on the current principal server for database \"{database}\".")
    }
}

/// SQL Server's own words for an error the protocol core raised on a session command, with
/// the protocol's account of the rule that failed kept in brackets (the protocol knows no
/// database names). `database` is the mirrored database; `remote` names the server instance
/// the command needed to reach (the partner, or the witness's address for 1418). Errors
/// already in SQL Server's words, and numbers this table does not know, pass unchanged.
pub fn in_sql_server_words(error: SqlError, database: &str, remote: &str) -> SqlError {
    let text = match error.number {
        1404 => "The command failed because the database mirror is busy. Reissue the command later.".to_string(),
        1406 => format!("Unable to force service safely. Remove database mirroring and recover database \"{database}\" to gain access."),
        1416 => text::not_configured(database),
        1418 => text::unreachable(remote),
        1422 => format!("The mirror server instance is not caught up to the recent changes to database \"{database}\". Unable to fail over."),
        1426 => text::not_interconnected(),
        1431 => format!("Neither the partner nor the witness server instance for database \"{database}\" is available. Reissue the command when at least one of the instances becomes available."),
        1447 => format!("ALTER DATABASE \"{database}\" command cannot be executed until both partner server instances are up, running, and connected. Start the partner and reissue the command."),
        1455 => text::cannot_force(database),
        1456 => format!("The ALTER DATABASE command could not be sent to the remote server instance '{remote}'. The database mirroring configuration was not changed. Verify that the server is connected, and try again."),
        1470 => text::principal_only(database),
        1477 => format!("The database mirroring safety level must be FULL to manually failover database \"{database}\". Set safety level to FULL and retry."),
        _ => return error,
    };
    if error.message.starts_with(&text) {
        return error;
    }
    SqlError::new(error.number, format!("{text} [{}]", error.message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_protocol_error_gets_sql_servers_text_and_keeps_its_rule() {
        let error = SqlError::new(
            1422,
            "the mirror is not synchronized (the session is SYNCHRONIZING)",
        );
        let said = in_sql_server_words(error, "Sales", "beta");
        assert_eq!(said.number, 1422);
        assert_eq!(
            said.message,
            "The mirror server instance is not caught up to the recent changes to database \"Sales\". \
             Unable to fail over. [the mirror is not synchronized (the session is SYNCHRONIZING)]"
        );
        // Once is enough: words already SQL Server's pass unchanged.
        assert_eq!(in_sql_server_words(said.clone(), "Sales", "beta"), said);
    }

    #[test]
    fn errors_outside_the_table_pass_unchanged() {
        let error = SqlError::new(
            1476,
            "Database mirroring timeout value 40000 exceeds the maximum value 32767.",
        );
        assert_eq!(in_sql_server_words(error.clone(), "Sales", "beta"), error);
    }

    #[test]
    fn the_remote_instance_is_named_where_sql_server_names_it() {
        let error = SqlError::new(1456, "the witness is unreachable");
        let said = in_sql_server_words(error, "Sales", "TCP://gamma.corp.example:7022");
        assert!(said
            .message
            .contains("remote server instance 'TCP://gamma.corp.example:7022'"));
    }
}
