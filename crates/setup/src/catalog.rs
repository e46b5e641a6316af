//! What each server instance holds (reference §7, prerequisites): its one database mirroring
//! endpoint, certificates, logins and their CONNECT grants, and its databases with their
//! restore state, recovery fork and log backup chain.
//!
//! Names of endpoints, certificates, logins and databases are compared without regard to case,
//! as under SQL Server's default collation: maps are keyed by the lower-case name and each value
//! keeps the spelling the DBA used.

use std::collections::{BTreeMap, BTreeSet};

use crate::statement::{
    Authentication, Encryption, EndpointRole, EndpointState, RecoveryModel, ServerAddress,
};

/// The key under which a name is filed (names are not case-sensitive).
pub(crate) fn key(name: &str) -> String {
    name.to_lowercase()
}

/// SQL Server's system databases, which cannot be mirrored (reference section 7: "user
/// databases only"). The simulator holds none of them.
pub const SYSTEM_DATABASES: [&str; 4] = ["master", "model", "msdb", "tempdb"];

/// Whether `name` is one of [`SYSTEM_DATABASES`] (names are not case-sensitive).
pub fn is_system_database(name: &str) -> bool {
    SYSTEM_DATABASES
        .iter()
        .any(|system| system.eq_ignore_ascii_case(name))
}

/// A SQL Server edition (spec/scenario.md `edition`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Edition {
    /// Enterprise (the default).
    #[default]
    Enterprise,
    /// Standard.
    Standard,
    /// Workgroup.
    Workgroup,
    /// Express (witness only, in SQL Server).
    Express,
}

/// How the scenario declares an instance: the simulator passes one to [`crate::Estate::add_instance`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceSpec {
    /// The instance's name in the scenario (`alpha`).
    pub name: String,
    /// The host in TCP:// addresses (`alpha.corp.example`); unique.
    pub host: String,
    /// The Windows account the instance runs under (`CORP\svc-alpha`).
    pub service_account: String,
    /// Its edition.
    pub edition: Edition,
}

impl InstanceSpec {
    /// An Enterprise instance.
    pub fn new(
        name: impl Into<String>,
        host: impl Into<String>,
        service_account: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            host: host.into(),
            service_account: service_account.into(),
            edition: Edition::Enterprise,
        }
    }
}

/// One server instance's catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceCatalog {
    /// The instance's name in the scenario.
    pub name: String,
    /// Its host.
    pub host: String,
    /// The Windows account it runs under.
    pub service_account: String,
    /// Its edition.
    pub edition: Edition,
    /// Its database mirroring endpoint (at most one per instance, reference §7).
    pub endpoint: Option<Endpoint>,
    /// Certificates in `master`, by lower-case name.
    pub certificates: BTreeMap<String, Certificate>,
    /// Logins, by lower-case name.
    pub logins: BTreeMap<String, Login>,
    /// Databases, by lower-case name.
    pub databases: BTreeMap<String, Database>,
    /// The `database_id` the next new database gets (user databases start at 5).
    pub next_database_id: u32,
}

impl InstanceCatalog {
    pub(crate) fn new(spec: InstanceSpec) -> Self {
        Self {
            name: spec.name,
            host: spec.host,
            service_account: spec.service_account,
            edition: spec.edition,
            endpoint: None,
            certificates: BTreeMap::new(),
            logins: BTreeMap::new(),
            databases: BTreeMap::new(),
            next_database_id: FIRST_USER_DATABASE_ID,
        }
    }

    /// The database of that name, if the instance has one.
    pub fn database(&self, name: &str) -> Option<&Database> {
        self.databases.get(&key(name))
    }

    /// The certificate of that name, if any.
    pub fn certificate(&self, name: &str) -> Option<&Certificate> {
        self.certificates.get(&key(name))
    }

    /// The login of that name, if any.
    pub fn login(&self, name: &str) -> Option<&Login> {
        self.logins.get(&key(name))
    }

    /// The address its endpoint listens on, if it has an endpoint.
    pub fn endpoint_address(&self) -> Option<ServerAddress> {
        self.endpoint
            .as_ref()
            .map(|endpoint| ServerAddress::new(self.host.clone(), endpoint.port))
    }

    /// The certificate with this thumbprint, if the instance holds it.
    pub fn certificate_by_thumbprint(&self, thumbprint: &str) -> Option<&Certificate> {
        self.certificates
            .values()
            .find(|certificate| certificate.thumbprint == thumbprint)
    }

    pub(crate) fn database_mut(&mut self, name: &str) -> Option<&mut Database> {
        self.databases.get_mut(&key(name))
    }
}

/// SQL Server numbers user databases from 5 (1-4 are master, tempdb, model, msdb).
const FIRST_USER_DATABASE_ID: u32 = 5;

/// A database mirroring endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Its name.
    pub name: String,
    /// LISTENER_PORT.
    pub port: u16,
    /// STARTED, STOPPED or DISABLED.
    pub state: EndpointState,
    /// PARTNER, WITNESS or ALL.
    pub role: EndpointRole,
    /// How it authenticates.
    pub authentication: Authentication,
    /// How it encrypts.
    pub encryption: Encryption,
    /// Lower-case names of the logins granted CONNECT on it (dropped with the endpoint).
    pub connect_granted: BTreeSet<String>,
}

/// A certificate in `master`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    /// Its name on this instance.
    pub name: String,
    /// Its subject.
    pub subject: String,
    /// Identifies the certificate across instances (derived from where and when it was made).
    pub thumbprint: String,
    /// Created here (`WITH SUBJECT`), so it can authenticate this instance's endpoint; an
    /// imported certificate (`FROM FILE`) has no private key.
    pub has_private_key: bool,
    /// The login named by `AUTHORIZATION`, which a peer presenting this certificate
    /// authenticates as.
    pub owner: Option<String>,
}

/// A login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    /// Its name (for a Windows login, the account `DOMAIN\name`).
    pub name: String,
    /// Where it comes from.
    pub source: LoginSource,
}

/// Where a login comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginSource {
    /// `FROM WINDOWS`: a Windows account.
    Windows,
    /// `FROM CERTIFICATE cert`: whoever presents that certificate (lower-case name).
    Certificate(String),
}

/// Whether a database is usable or waiting for more restores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DatabaseState {
    /// Recovered and usable (a principal, or a database not mirrored).
    Online,
    /// Restored WITH NORECOVERY: more log can be restored, or it can be a mirror.
    Restoring,
}

/// A line of a database's history: the family it was created in and the recovery fork it is
/// on. Two copies can be mirrored only within one family; log applies only within one fork.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecoveryFork {
    /// `family_guid`: which database this is a copy of.
    pub family_guid: String,
    /// Which recovery fork within the family (a new one starts at every recovery after a
    /// restore, and at forced service).
    pub fork: u64,
}

/// A full backup a database can take differentials against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackupBase {
    /// The full backup's id in the backup folder.
    pub backup_id: u64,
    /// The LSN at which it was taken.
    pub lsn: u64,
}

/// A database on one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Database {
    /// Its name.
    pub name: String,
    /// `database_id` on this instance.
    pub database_id: u32,
    /// ONLINE or RESTORING.
    pub state: DatabaseState,
    /// Its recovery model.
    pub recovery_model: RecoveryModel,
    /// Its family and recovery fork.
    pub fork: RecoveryFork,
    /// RESTORING: the LSN its restores have reached (where log must continue from). ONLINE:
    /// the LSN it was recovered at (0 for a database that was never restored).
    pub lsn_restored: u64,
    /// RESTORING: the full backup restored last (differentials must be based on it).
    pub restored_base: Option<BackupBase>,
    /// RESTORING: whether a log backup has been restored since the last full or differential
    /// (without one, the principal's SET PARTNER fails with 1478).
    pub log_restored_since_base: bool,
    /// ONLINE: the LSN the next log backup starts from (the end of the previous one); `None`
    /// while there is no log backup chain (no full backup yet under FULL, or broken by SIMPLE).
    pub log_chain_lsn: Option<u64>,
    /// RESTORING after it gave up the principal's role (a manual failover, or an old principal
    /// that learnt of a role change): the log backup chain it had. The chain lives in the log,
    /// so the new principal takes it over when its take-over completes; cleared once it is
    /// taken or the copy leaves the session.
    pub chain_given_up: Option<u64>,
    /// ONLINE: the full backup differentials are taken against.
    pub differential_base: Option<BackupBase>,
    /// The last log backup (its set's id) whose log this copy holds: ONLINE, the last one
    /// taken in its chain; RESTORING, the last one its restores cover. Every log backup holds
    /// some log on a real server, so a chain is judged by its sets as well as by LSNs: a log
    /// backup with nothing written since the previous one is still one the mirror must
    /// restore (1412, 4305).
    pub last_log_backup: Option<u64>,
    /// A mirror whose principal left the session first: the last log backup (its set's id, 0
    /// for none) taken while the session ran, which its copy covers once it hears of the end.
    pub session_end_covers: Option<u64>,
    /// Its mirroring configuration, if any.
    pub mirroring: Option<Mirroring>,
}

impl Database {
    /// Where the catalog knows this copy's log reaches at least: the point it was restored to
    /// and the end of its last log backup. A backup never ends before it, whatever end of log
    /// the caller passes: a copy brought ONLINE by a restore from backups (`RESTORE ... FROM
    /// DISK ... WITH RECOVERY`) stands at this point even where the caller's log for the
    /// instance ends earlier (a log backup of such a copy ended before its chain and panicked,
    /// found by an audit; the simulator now holds the restored log, and this bound stays for
    /// any caller that does not).
    pub fn log_reaches(&self) -> u64 {
        self.lsn_restored.max(self.log_chain_lsn.unwrap_or(0))
    }
}

/// A database's part in mirroring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mirroring {
    /// A RESTORING copy prepared with `SET PARTNER` on the mirror: waits to be contacted by the
    /// principal at this address.
    Prepared {
        /// The principal's address as the DBA gave it.
        principal: ServerAddress,
    },
    /// In a session.
    Session(SessionMembership),
}

/// A database's place in a running session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionMembership {
    /// Principal or mirror.
    pub role: MirroringRole,
    /// The other partner's instance name.
    pub partner: String,
    /// The other partner's endpoint address, as the session uses it.
    pub partner_address: ServerAddress,
    /// `mirroring_guid`, derived from the session's names.
    pub mirroring_guid: String,
}

/// The role of a partner (`mirroring_role`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MirroringRole {
    /// 1: serves the database.
    Principal,
    /// 2: a RESTORING copy rolling the principal's log forward.
    Mirror,
}

impl MirroringRole {
    /// The value of `mirroring_role` and `sp_dbmmonitorresults.role`.
    pub fn number(self) -> i64 {
        match self {
            Self::Principal => 1,
            Self::Mirror => 2,
        }
    }

    /// The value of `mirroring_role_desc`.
    pub fn as_sql(self) -> &'static str {
        match self {
            Self::Principal => "PRINCIPAL",
            Self::Mirror => "MIRROR",
        }
    }
}

impl Database {
    /// The session this database is in, if it is in one (not merely prepared).
    pub fn session(&self) -> Option<&SessionMembership> {
        match &self.mirroring {
            Some(Mirroring::Session(membership)) => Some(membership),
            _ => None,
        }
    }

    /// Checks the states that must never occur, whatever statements ran.
    pub(crate) fn assert_invariants(&self) {
        match self.state {
            DatabaseState::Online => {
                assert!(
                    !matches!(self.mirroring, Some(Mirroring::Prepared { .. })),
                    "{}: only a RESTORING copy can wait to be a mirror",
                    self.name
                );
                assert!(
                    self.session()
                        .is_none_or(|session| session.role == MirroringRole::Principal),
                    "{}: an ONLINE copy in a session is its principal",
                    self.name
                );
                assert!(
                    self.recovery_model != RecoveryModel::Simple || self.log_chain_lsn.is_none(),
                    "{}: SIMPLE keeps no log backup chain",
                    self.name
                );
                assert!(
                    self.chain_given_up.is_none(),
                    "{}: an ONLINE copy holds its own chain, none given up",
                    self.name
                );
            }
            DatabaseState::Restoring => {
                assert!(
                    self.session()
                        .is_none_or(|session| session.role == MirroringRole::Mirror),
                    "{}: a RESTORING copy in a session is its mirror",
                    self.name
                );
                assert!(
                    self.log_chain_lsn.is_none(),
                    "{}: a RESTORING copy takes no log backups",
                    self.name
                );
            }
        }
    }
}
