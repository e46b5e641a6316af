//! The statements of spec/scenario.md ("The statements understood") as values, and the small
//! domain types they carry (endpoint settings, recovery models, server network addresses).
//!
//! Every statement prints back as canonical T-SQL (`Display`), which parses to the same value.

use std::fmt;

/// The state of a database mirroring endpoint (reference §7, prerequisite 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EndpointState {
    /// Listening and accepting mirroring connections.
    Started,
    /// Not listening (the default of CREATE ENDPOINT): peers get a hard error.
    Stopped,
    /// Disabled: peers get a hard error.
    Disabled,
}

impl EndpointState {
    /// The keyword as T-SQL and `sys.database_mirroring_endpoints.state_desc` spell it.
    pub fn as_sql(self) -> &'static str {
        match self {
            Self::Started => "STARTED",
            Self::Stopped => "STOPPED",
            Self::Disabled => "DISABLED",
        }
    }
}

/// The `ROLE` of a database mirroring endpoint: which parts its instance may play.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EndpointRole {
    /// Principal or mirror only.
    Partner,
    /// Witness only.
    Witness,
    /// Any part.
    All,
}

impl EndpointRole {
    /// Whether an instance whose endpoint has this role may play `part` (reference §7,
    /// prerequisite 2: a witness needs WITNESS or ALL, a partner PARTNER or ALL).
    pub fn allows(self, part: SessionPart) -> bool {
        matches!(
            (self, part),
            (Self::All, _)
                | (Self::Partner, SessionPart::Partner)
                | (Self::Witness, SessionPart::Witness)
        )
    }

    /// The keyword as T-SQL spells it.
    pub fn as_sql(self) -> &'static str {
        match self {
            Self::Partner => "PARTNER",
            Self::Witness => "WITNESS",
            Self::All => "ALL",
        }
    }
}

/// The part an instance plays in a mirroring session, as a connection needs to know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SessionPart {
    /// Principal or mirror.
    Partner,
    /// Witness.
    Witness,
}

impl fmt::Display for SessionPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Partner => "partner",
            Self::Witness => "witness",
        })
    }
}

/// The Windows authentication protocol of an endpoint (`AUTHENTICATION = WINDOWS ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WindowsProtocol {
    /// NEGOTIATE (the default): agrees with NTLM or Kerberos.
    Negotiate,
    /// NTLM only.
    Ntlm,
    /// Kerberos only.
    Kerberos,
}

impl WindowsProtocol {
    /// The keyword as T-SQL spells it.
    pub fn as_sql(self) -> &'static str {
        match self {
            Self::Negotiate => "NEGOTIATE",
            Self::Ntlm => "NTLM",
            Self::Kerberos => "KERBEROS",
        }
    }
}

/// How an endpoint authenticates mirroring connections (reference §7, prerequisite 3).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Authentication {
    /// `AUTHENTICATION = WINDOWS [protocol]`: the service accounts authenticate.
    Windows(WindowsProtocol),
    /// `AUTHENTICATION = CERTIFICATE name`: the endpoint's certificate authenticates.
    Certificate(String),
}

impl Default for Authentication {
    fn default() -> Self {
        Self::Windows(WindowsProtocol::Negotiate)
    }
}

/// Whether an endpoint encrypts mirroring traffic (`ENCRYPTION = ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EncryptionMode {
    /// Never encrypts: cannot talk to a REQUIRED endpoint.
    Disabled,
    /// Encrypts when the peer wants it.
    Supported,
    /// Always encrypts (the default): cannot talk to a DISABLED endpoint.
    Required,
}

impl EncryptionMode {
    /// The keyword as T-SQL spells it.
    pub fn as_sql(self) -> &'static str {
        match self {
            Self::Disabled => "DISABLED",
            Self::Supported => "SUPPORTED",
            Self::Required => "REQUIRED",
        }
    }
}

/// An encryption algorithm of a mirroring endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algorithm {
    /// RC4 (the default).
    Rc4,
    /// AES.
    Aes,
}

impl Algorithm {
    /// The keyword as T-SQL spells it.
    pub fn as_sql(self) -> &'static str {
        match self {
            Self::Rc4 => "RC4",
            Self::Aes => "AES",
        }
    }
}

/// The encryption settings of an endpoint: the mode and the algorithms in order of preference.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Encryption {
    /// DISABLED, SUPPORTED or REQUIRED.
    pub mode: EncryptionMode,
    /// In order of preference; empty exactly when `mode` is DISABLED.
    pub algorithms: Vec<Algorithm>,
}

impl Default for Encryption {
    /// `ENCRYPTION = REQUIRED ALGORITHM RC4`, SQL Server's default.
    fn default() -> Self {
        Self {
            mode: EncryptionMode::Required,
            algorithms: vec![Algorithm::Rc4],
        }
    }
}

/// `CREATE ENDPOINT name STATE = ... AS TCP (LISTENER_PORT = n) FOR DATABASE_MIRRORING (...)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointDefinition {
    /// The endpoint's name.
    pub name: String,
    /// STATE (default STOPPED, as in SQL Server).
    pub state: EndpointState,
    /// LISTENER_PORT.
    pub port: u16,
    /// ROLE.
    pub role: EndpointRole,
    /// AUTHENTICATION (default WINDOWS NEGOTIATE).
    pub authentication: Authentication,
    /// ENCRYPTION (default REQUIRED ALGORITHM RC4).
    pub encryption: Encryption,
}

/// A database's recovery model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecoveryModel {
    /// FULL: the log is kept until a log backup; required for mirroring.
    Full,
    /// BULK_LOGGED: keeps the log backup chain, but cannot be mirrored.
    BulkLogged,
    /// SIMPLE: no log backups, no mirroring.
    Simple,
}

impl RecoveryModel {
    /// The keyword as T-SQL spells it.
    pub fn as_sql(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::BulkLogged => "BULK_LOGGED",
            Self::Simple => "SIMPLE",
        }
    }
}

/// How a RESTORE leaves the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RestoreMode {
    /// WITH RECOVERY (the default): the database comes online on a new recovery fork and no
    /// further backup can be restored on it.
    Recovery,
    /// WITH NORECOVERY: the database stays RESTORING, ready for more log (or to be a mirror).
    NoRecovery,
}

impl RestoreMode {
    /// The keyword as T-SQL spells it.
    pub fn as_sql(self) -> &'static str {
        match self {
            Self::Recovery => "RECOVERY",
            Self::NoRecovery => "NORECOVERY",
        }
    }
}

/// The transaction safety of a session (`SET PARTNER SAFETY FULL | OFF`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Safety {
    /// FULL: high safety, synchronous.
    Full,
    /// OFF: high performance, asynchronous.
    Off,
}

/// A server network address, `TCP://host:port`: where an instance's endpoint listens.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerAddress {
    /// The host, as written (compared without regard to case).
    pub host: String,
    /// The TCP port.
    pub port: u16,
}

impl ServerAddress {
    /// The address `TCP://host:port`.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }

    /// Whether this address names `host` (host names are not case-sensitive).
    pub fn is_on_host(&self, host: &str) -> bool {
        self.host.eq_ignore_ascii_case(host)
    }
}

impl fmt::Display for ServerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TCP://{}:{}", self.host, self.port)
    }
}

/// The session commands of reference §5 and §7 that the protocol core judges and carries out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SessionCommand {
    /// `SET PARTNER FAILOVER`: manual failover (principal only).
    Failover,
    /// `SET PARTNER FORCE_SERVICE_ALLOW_DATA_LOSS` (mirror only).
    ForceServiceAllowDataLoss,
    /// `SET PARTNER SUSPEND`.
    Suspend,
    /// `SET PARTNER RESUME`.
    Resume,
    /// `SET PARTNER SAFETY FULL | OFF` (principal only).
    Safety(Safety),
    /// `SET PARTNER TIMEOUT n`, in seconds, as typed (the protocol core applies 0-4 -> 5 and
    /// the upper bound).
    Timeout(u64),
    /// `SET WITNESS OFF`.
    WitnessOff,
}

/// One T-SQL statement of a step.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Statement {
    /// `CREATE ENDPOINT ... FOR DATABASE_MIRRORING (...)`.
    CreateEndpoint(EndpointDefinition),
    /// `ALTER ENDPOINT name STATE = ...`.
    AlterEndpoint {
        /// The endpoint's name.
        endpoint: String,
        /// The new state.
        state: EndpointState,
    },
    /// `DROP ENDPOINT name`.
    DropEndpoint {
        /// The endpoint's name.
        endpoint: String,
    },
    /// `CREATE CERTIFICATE name WITH SUBJECT = '...'`: a new certificate with a private key.
    CreateCertificate {
        /// The certificate's name.
        certificate: String,
        /// Its subject.
        subject: String,
    },
    /// `BACKUP CERTIFICATE name TO FILE = 'f'`: writes the public certificate to the backup share.
    BackupCertificate {
        /// The certificate's name.
        certificate: String,
        /// The file written.
        file: String,
    },
    /// `CREATE CERTIFICATE name [AUTHORIZATION login] FROM FILE = 'f'`: imports a peer's
    /// certificate (no private key).
    ImportCertificate {
        /// The name it gets on this instance.
        certificate: String,
        /// The login that owns it (and so authenticates as it), if any.
        owner: Option<String>,
        /// The file read.
        file: String,
    },
    /// `CREATE LOGIN [account] FROM WINDOWS`.
    CreateWindowsLogin {
        /// The Windows account, `DOMAIN\name`.
        account: String,
    },
    /// `CREATE LOGIN name FROM CERTIFICATE cert`.
    CreateCertificateLogin {
        /// The login's name.
        login: String,
        /// The certificate it is mapped to.
        certificate: String,
    },
    /// `GRANT CONNECT ON ENDPOINT::name TO login`.
    GrantConnect {
        /// The endpoint's name.
        endpoint: String,
        /// The login granted.
        login: String,
    },
    /// `ALTER DATABASE db SET RECOVERY FULL | BULK_LOGGED | SIMPLE`.
    SetRecoveryModel {
        /// The database.
        database: String,
        /// The new recovery model.
        model: RecoveryModel,
    },
    /// `BACKUP DATABASE db TO DISK = 'f' [WITH DIFFERENTIAL]`.
    BackupDatabase {
        /// The database.
        database: String,
        /// The backup file (appended to, as SQL Server's default NOINIT does).
        file: String,
        /// WITH DIFFERENTIAL.
        differential: bool,
    },
    /// `BACKUP LOG db TO DISK = 'f'`.
    BackupLog {
        /// The database.
        database: String,
        /// The backup file (appended to).
        file: String,
    },
    /// `RESTORE DATABASE db FROM DISK = 'f' [WITH RECOVERY | NORECOVERY] [, REPLACE]` (a full or
    /// differential backup; the file's first backup set, as SQL Server's default FILE = 1).
    RestoreDatabase {
        /// The database restored (it may differ from the one backed up).
        database: String,
        /// The backup file.
        file: String,
        /// RECOVERY (the default) or NORECOVERY.
        mode: RestoreMode,
        /// WITH REPLACE: overwrite an existing ONLINE database (another database's, or one whose
        /// log tail was not backed up). Not in spec/scenario.md's list, but in most real
        /// runbooks.
        replace: bool,
    },
    /// `RESTORE LOG db FROM DISK = 'f' [WITH RECOVERY | NORECOVERY]`.
    RestoreLog {
        /// The database.
        database: String,
        /// The backup file.
        file: String,
        /// RECOVERY (the default) or NORECOVERY.
        mode: RestoreMode,
    },
    /// `RESTORE DATABASE db WITH RECOVERY`: brings a RESTORING database online (a new fork).
    RecoverDatabase {
        /// The database.
        database: String,
    },
    /// `ALTER DATABASE db SET PARTNER = 'TCP://host:port'`.
    SetPartner {
        /// The database.
        database: String,
        /// The partner's endpoint.
        partner: ServerAddress,
    },
    /// `ALTER DATABASE db SET WITNESS = 'TCP://host:port'`.
    SetWitness {
        /// The database.
        database: String,
        /// The witness's endpoint.
        witness: ServerAddress,
    },
    /// `ALTER DATABASE db SET PARTNER OFF`: ends the session.
    PartnerOff {
        /// The database.
        database: String,
    },
    /// A session command judged by the protocol core (FAILOVER, FORCE_SERVICE_ALLOW_DATA_LOSS,
    /// SUSPEND, RESUME, SAFETY, TIMEOUT, WITNESS OFF).
    Session {
        /// The database.
        database: String,
        /// The command.
        command: SessionCommand,
    },
    /// `SELECT * FROM sys.database_mirroring`.
    SelectDatabaseMirroring,
    /// `SELECT * FROM sys.database_mirroring_witnesses`.
    SelectDatabaseMirroringWitnesses,
    /// `EXEC msdb.dbo.sp_dbmmonitorresults db [, mode [, update_table]]`.
    MonitorResults {
        /// The database.
        database: String,
        /// `@mode` (rows to return: 0 = last row ... 9 = last 1,000,000 rows), if given.
        mode: Option<u32>,
        /// `@update_table`, if given.
        update_table: Option<u32>,
    },
}

impl Statement {
    /// The database the statement names, if it names one.
    pub fn database(&self) -> Option<&str> {
        match self {
            Self::SetRecoveryModel { database, .. }
            | Self::BackupDatabase { database, .. }
            | Self::BackupLog { database, .. }
            | Self::RestoreDatabase { database, .. }
            | Self::RestoreLog { database, .. }
            | Self::RecoverDatabase { database }
            | Self::SetPartner { database, .. }
            | Self::SetWitness { database, .. }
            | Self::PartnerOff { database }
            | Self::Session { database, .. }
            | Self::MonitorResults { database, .. } => Some(database),
            _ => None,
        }
    }
}

/// Writes an identifier, bracketed when it is not a plain word (so that it parses back).
pub(crate) struct Identifier<'a>(pub(crate) &'a str);

impl fmt::Display for Identifier<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = self
            .0
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && self.0.chars().all(crate::parse::is_word_char)
            && !crate::parse::is_reserved(self.0);
        if plain {
            f.write_str(self.0)
        } else {
            write!(f, "[{}]", self.0.replace(']', "]]"))
        }
    }
}

/// Writes a string literal with its quotes doubled.
struct Literal<'a>(&'a str);

impl fmt::Display for Literal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'", self.0.replace('\'', "''"))
    }
}

impl fmt::Display for EndpointDefinition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CREATE ENDPOINT {} STATE = {} AS TCP (LISTENER_PORT = {}) FOR DATABASE_MIRRORING (ROLE = {}",
            Identifier(&self.name),
            self.state.as_sql(),
            self.port,
            self.role.as_sql()
        )?;
        match &self.authentication {
            Authentication::Windows(protocol) => {
                write!(f, ", AUTHENTICATION = WINDOWS {}", protocol.as_sql())?
            }
            Authentication::Certificate(name) => {
                write!(f, ", AUTHENTICATION = CERTIFICATE {}", Identifier(name))?
            }
        }
        write!(f, ", ENCRYPTION = {}", self.encryption.mode.as_sql())?;
        if !self.encryption.algorithms.is_empty() {
            f.write_str(" ALGORITHM")?;
            for algorithm in &self.encryption.algorithms {
                write!(f, " {}", algorithm.as_sql())?;
            }
        }
        f.write_str(")")
    }
}

impl fmt::Display for SessionCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failover => f.write_str("PARTNER FAILOVER"),
            Self::ForceServiceAllowDataLoss => f.write_str("PARTNER FORCE_SERVICE_ALLOW_DATA_LOSS"),
            Self::Suspend => f.write_str("PARTNER SUSPEND"),
            Self::Resume => f.write_str("PARTNER RESUME"),
            Self::Safety(Safety::Full) => f.write_str("PARTNER SAFETY FULL"),
            Self::Safety(Safety::Off) => f.write_str("PARTNER SAFETY OFF"),
            Self::Timeout(seconds) => write!(f, "PARTNER TIMEOUT {seconds}"),
            Self::WitnessOff => f.write_str("WITNESS OFF"),
        }
    }
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreateEndpoint(definition) => definition.fmt(f),
            Self::AlterEndpoint { endpoint, state } => {
                write!(
                    f,
                    "ALTER ENDPOINT {} STATE = {}",
                    Identifier(endpoint),
                    state.as_sql()
                )
            }
            Self::DropEndpoint { endpoint } => write!(f, "DROP ENDPOINT {}", Identifier(endpoint)),
            Self::CreateCertificate {
                certificate,
                subject,
            } => write!(
                f,
                "CREATE CERTIFICATE {} WITH SUBJECT = {}",
                Identifier(certificate),
                Literal(subject)
            ),
            Self::BackupCertificate { certificate, file } => write!(
                f,
                "BACKUP CERTIFICATE {} TO FILE = {}",
                Identifier(certificate),
                Literal(file)
            ),
            Self::ImportCertificate {
                certificate,
                owner,
                file,
            } => {
                write!(f, "CREATE CERTIFICATE {}", Identifier(certificate))?;
                if let Some(owner) = owner {
                    write!(f, " AUTHORIZATION {}", Identifier(owner))?;
                }
                write!(f, " FROM FILE = {}", Literal(file))
            }
            Self::CreateWindowsLogin { account } => {
                write!(f, "CREATE LOGIN {} FROM WINDOWS", Identifier(account))
            }
            Self::CreateCertificateLogin { login, certificate } => write!(
                f,
                "CREATE LOGIN {} FROM CERTIFICATE {}",
                Identifier(login),
                Identifier(certificate)
            ),
            Self::GrantConnect { endpoint, login } => write!(
                f,
                "GRANT CONNECT ON ENDPOINT::{} TO {}",
                Identifier(endpoint),
                Identifier(login)
            ),
            Self::SetRecoveryModel { database, model } => write!(
                f,
                "ALTER DATABASE {} SET RECOVERY {}",
                Identifier(database),
                model.as_sql()
            ),
            Self::BackupDatabase {
                database,
                file,
                differential,
            } => {
                write!(
                    f,
                    "BACKUP DATABASE {} TO DISK = {}",
                    Identifier(database),
                    Literal(file)
                )?;
                if *differential {
                    f.write_str(" WITH DIFFERENTIAL")?;
                }
                Ok(())
            }
            Self::BackupLog { database, file } => {
                write!(
                    f,
                    "BACKUP LOG {} TO DISK = {}",
                    Identifier(database),
                    Literal(file)
                )
            }
            Self::RestoreDatabase {
                database,
                file,
                mode,
                replace,
            } => {
                write!(
                    f,
                    "RESTORE DATABASE {} FROM DISK = {} WITH {}",
                    Identifier(database),
                    Literal(file),
                    mode.as_sql()
                )?;
                if *replace {
                    f.write_str(", REPLACE")?;
                }
                Ok(())
            }
            Self::RestoreLog {
                database,
                file,
                mode,
            } => write!(
                f,
                "RESTORE LOG {} FROM DISK = {} WITH {}",
                Identifier(database),
                Literal(file),
                mode.as_sql()
            ),
            Self::RecoverDatabase { database } => {
                write!(f, "RESTORE DATABASE {} WITH RECOVERY", Identifier(database))
            }
            Self::SetPartner { database, partner } => write!(
                f,
                "ALTER DATABASE {} SET PARTNER = {}",
                Identifier(database),
                Literal(&partner.to_string())
            ),
            Self::SetWitness { database, witness } => write!(
                f,
                "ALTER DATABASE {} SET WITNESS = {}",
                Identifier(database),
                Literal(&witness.to_string())
            ),
            Self::PartnerOff { database } => {
                write!(f, "ALTER DATABASE {} SET PARTNER OFF", Identifier(database))
            }
            Self::Session { database, command } => {
                write!(f, "ALTER DATABASE {} SET {command}", Identifier(database))
            }
            Self::SelectDatabaseMirroring => f.write_str("SELECT * FROM sys.database_mirroring"),
            Self::SelectDatabaseMirroringWitnesses => {
                f.write_str("SELECT * FROM sys.database_mirroring_witnesses")
            }
            Self::MonitorResults {
                database,
                mode,
                update_table,
            } => {
                write!(
                    f,
                    "EXEC msdb.dbo.sp_dbmmonitorresults {}",
                    Literal(database)
                )?;
                if let Some(mode) = mode {
                    write!(f, ", {mode}")?;
                    if let Some(update_table) = update_table {
                        write!(f, ", {update_table}")?;
                    }
                }
                Ok(())
            }
        }
    }
}
