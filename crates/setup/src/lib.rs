//! mirror-setup: the operator's T-SQL runbook. A parser for the statements a DBA types to set
//! up and run database mirroring, per-instance catalogs (endpoints, certificates, logins,
//! databases, backups), connection judging between endpoints, and the setup rules of
//! reference/mirroring.md section 7 with their SQL Server error numbers.
//!
//! The crate is pure: no clock, no I/O, no randomness. Whatever is live (the end of log, who can
//! reach whom, whether the mirror has caught up) comes in through a [`StatementContext`]; what
//! takes time comes back as [`Work`] for the simulator to schedule; what the protocol core must
//! do comes back as an [`Effect`]. A statement that fails returns a [`StatementError`] carrying a
//! [`mirror_protocol::SqlError`] and changes nothing.
//!
//! # How the simulator drives this crate
//!
//! 1. Build an [`Estate`]: [`Estate::add_instance`] per `[[instance]]`, [`Estate::add_database`]
//!    for `[database]`.
//! 2. For each step, [`parse_batch`] its `sql` (the validator does this before the run, and
//!    reports a [`ParseError`]'s column) and run the statements in order with
//!    [`Estate::execute`]; the first failure ends the step.
//! 3. Schedule each outcome's [`Work`]: [`Work::Catalog`] = [`CATALOG_CHANGE`] (1 ms),
//!    [`Work::Disk`] = bytes / disk throughput, [`Work::UntilMirrorHardens`],
//!    [`Work::UntilWitnessRecords`] and [`Work::UntilRoleSwitch`] wait for the protocol core.
//!    An error is reported after its `reported_after` (11 s for a soft 1418, else at once).
//! 4. Apply each [`Effect`] to the protocol core: start a session, set (or replace) its witness,
//!    end it, pass a session command on (the core judges 1470, 1477, 1422, 1447, 1455, 1406,
//!    1456, 1476, 1431), rebuild the connections of an instance whose endpoint changed
//!    ([`Estate::judge_connection`]), or answer a query with the [`views`] functions.
//! 5. When the protocol core switches roles (failover, forced service), call
//!    [`Estate::record_role_switch`].
//!
//! ```
//! use mirror_setup::{parse_batch, Effect, Estate, InstanceSpec, RecoveryModel, StatementContext, Work};
//!
//! let mut estate = Estate::new();
//! for (name, account) in [("alpha", r"CORP\svc-alpha"), ("beta", r"CORP\svc-beta")] {
//!     estate.add_instance(InstanceSpec::new(name, format!("{name}.corp.example"), account))?;
//! }
//! estate.add_database("alpha", "Sales", RecoveryModel::Full)?;
//!
//! let endpoint = "CREATE ENDPOINT Mirroring STATE = STARTED AS TCP (LISTENER_PORT = 7022) \
//!                 FOR DATABASE_MIRRORING (ROLE = PARTNER)";
//! let steps = [
//!     ("alpha", endpoint.to_string()),
//!     ("beta", endpoint.to_string()),
//!     ("alpha", r"CREATE LOGIN [CORP\svc-beta] FROM WINDOWS; GRANT CONNECT ON ENDPOINT::Mirroring TO [CORP\svc-beta]".into()),
//!     ("beta", r"CREATE LOGIN [CORP\svc-alpha] FROM WINDOWS; GRANT CONNECT ON ENDPOINT::Mirroring TO [CORP\svc-alpha]".into()),
//!     ("alpha", "BACKUP DATABASE Sales TO DISK = 'sales_full.bak'".into()),
//!     ("alpha", "BACKUP LOG Sales TO DISK = 'sales_log1.trn'".into()),
//!     ("beta", "RESTORE DATABASE Sales FROM DISK = 'sales_full.bak' WITH NORECOVERY".into()),
//!     ("beta", "RESTORE LOG Sales FROM DISK = 'sales_log1.trn' WITH NORECOVERY".into()),
//!     ("beta", "ALTER DATABASE Sales SET PARTNER = 'TCP://alpha.corp.example:7022'".into()),
//!     ("alpha", "ALTER DATABASE Sales SET PARTNER = 'TCP://beta.corp.example:7022'".into()),
//! ];
//! let mut end_of_log_lsn = 1_000; // the simulator's log engine knows this
//! for (on, sql) in &steps {
//!     for statement in parse_batch(sql)? {
//!         let context = StatementContext {
//!             end_of_log_lsn,
//!             database_size_bytes: 2 << 30,
//!             ..StatementContext::default()
//!         };
//!         let outcome = estate.execute(on, &statement, &context)?;
//!         match outcome.work {
//!             Work::Catalog => { /* complete the statement 1 ms from now */ }
//!             Work::Disk { bytes } => { /* complete it after bytes / disk throughput */ }
//!             Work::UntilMirrorHardens { lsn } => { /* complete it when the mirror hardens lsn */ }
//!             _ => {}
//!         }
//!         if let Effect::StartSession { principal, mirror, .. } = &outcome.effect {
//!             assert_eq!((principal.as_str(), mirror.as_str()), ("alpha", "beta"));
//!         }
//!         end_of_log_lsn += 4_096; // the workload keeps writing log
//!     }
//! }
//! let sales_on_beta = estate.instance("beta").and_then(|beta| beta.database("Sales"));
//! assert!(sales_on_beta.is_some_and(|copy| copy.session().is_some()));
//!
//! // A step the DBA gets wrong: Sales is already mirrored.
//! let again = parse_batch("ALTER DATABASE Sales SET PARTNER = 'TCP://beta.corp.example:7022'")?;
//! let error = estate.execute("alpha", &again[0], &StatementContext::default()).unwrap_err();
//! assert_eq!(error.number(), Some(1405));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod backup;
pub mod catalog;
pub mod connection;
pub mod errors;
pub mod estate;
pub mod guid;
pub mod parse;
mod rules;
pub mod statement;
pub mod views;

pub use backup::{BackupFile, BackupFolder, BackupKind, BackupSet, CertificateFile};
pub use catalog::{
    is_system_database, BackupBase, Certificate, Database, DatabaseState, Edition, Endpoint,
    InstanceCatalog, InstanceSpec, Login, LoginSource, Mirroring, MirroringRole, RecoveryFork,
    SessionMembership,
};
pub use connection::{
    ConnectionFailure, ConnectionRule, FailureKind, Negotiated, NegotiatedAuthentication,
};
pub use errors::{SetupError, StatementError, SOFT_FAILURE_NOTICED_AFTER};
pub use estate::{
    Effect, Estate, Outcome, Query, RoleSwitch, StatementContext, Work, CATALOG_CHANGE,
};
pub use guid::derived_guid;
pub use parse::{is_host_name, parse_batch, ParseError, Statement, IDENTIFIER_CHARS_MAX};
pub use rules::backups::BackupUndo;
pub use statement::{
    Algorithm, Authentication, Encryption, EncryptionMode, EndpointDefinition, EndpointRole,
    EndpointState, RecoveryModel, RestoreMode, Safety, ServerAddress, SessionCommand, SessionPart,
    WindowsProtocol,
};
