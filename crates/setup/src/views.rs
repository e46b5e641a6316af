//! The rows of `sys.database_mirroring`, `sys.database_mirroring_witnesses` and
//! `msdb.dbo.sp_dbmmonitorresults`, with SQL Server's column names and codes, built from plain
//! structs the simulator fills from the protocol state at the moment of the query.

use crate::catalog::MirroringRole;
use crate::statement::ServerAddress;

/// One value of a result row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    /// An integer (tinyint, int, bit, numeric(25,0) LSNs; times in microseconds of simulated
    /// time, as the report gives every time).
    Int(i64),
    /// Text (nvarchar, uniqueidentifier).
    Text(String),
    /// NULL.
    Null,
}

/// The rows a query returns, under SQL Server's column names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultSet {
    /// Column names, in SQL Server's order.
    pub columns: Vec<&'static str>,
    /// One `Vec` per row, one value per column.
    pub rows: Vec<Vec<Value>>,
}

impl ResultSet {
    fn new(columns: &[&'static str], rows: Vec<Vec<Value>>) -> Self {
        for row in &rows {
            assert_eq!(
                row.len(),
                columns.len(),
                "every row has one value per column"
            );
        }
        Self {
            columns: columns.to_vec(),
            rows,
        }
    }
}

/// `mirroring_state` (reference §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MirroringState {
    /// 0.
    Suspended,
    /// 1.
    Disconnected,
    /// 2.
    Synchronizing,
    /// 3 (principal only).
    PendingFailover,
    /// 4.
    Synchronized,
}

impl MirroringState {
    fn number(self) -> i64 {
        match self {
            Self::Suspended => 0,
            Self::Disconnected => 1,
            Self::Synchronizing => 2,
            Self::PendingFailover => 3,
            Self::Synchronized => 4,
        }
    }

    fn as_sql(self) -> &'static str {
        match self {
            Self::Suspended => "SUSPENDED",
            Self::Disconnected => "DISCONNECTED",
            Self::Synchronizing => "SYNCHRONIZING",
            Self::PendingFailover => "PENDING_FAILOVER",
            Self::Synchronized => "SYNCHRONIZED",
        }
    }
}

/// The witness's state as a partner sees it (`mirroring_witness_state`, `witness_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WitnessState {
    /// 0.
    Unknown,
    /// 1.
    Connected,
    /// 2.
    Disconnected,
}

impl WitnessState {
    fn number(self) -> i64 {
        match self {
            Self::Unknown => 0,
            Self::Connected => 1,
            Self::Disconnected => 2,
        }
    }

    fn as_sql(self) -> &'static str {
        match self {
            Self::Unknown => "UNKNOWN",
            Self::Connected => "CONNECTED",
            Self::Disconnected => "DISCONNECTED",
        }
    }
}

/// `mirroring_safety_level` / `safety_level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SafetyLevel {
    /// 0: unknown.
    Unknown,
    /// 1: OFF (asynchronous).
    Off,
    /// 2: FULL (synchronous).
    Full,
}

impl SafetyLevel {
    fn number(self) -> i64 {
        match self {
            Self::Unknown => 0,
            Self::Off => 1,
            Self::Full => 2,
        }
    }

    fn as_sql(self) -> &'static str {
        match self {
            Self::Unknown => "UNKNOWN",
            Self::Off => "OFF",
            Self::Full => "FULL",
        }
    }
}

/// `partner_sync_state`: what the principal last reported to the witness (reference §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PartnerSyncState {
    /// No report since the witness restarted or adopted newer numbers: shown as NULL.
    Unknown,
    /// 5: the partners are synchronized; failover is possible.
    Synchronized,
    /// 6: the partners are not synchronized; failover is not possible now.
    Unsynchronized,
}

/// A database as `sys.database_mirroring` shows it on one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseMirroringView {
    /// `database_id` (the catalog's [`crate::Database::database_id`]).
    pub database_id: u32,
    /// The session it is in; `None` gives NULL in every other column.
    pub session: Option<MirroringSessionView>,
}

/// A partner's view of its session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MirroringSessionView {
    /// `mirroring_guid`.
    pub mirroring_guid: String,
    /// `mirroring_state`.
    pub state: MirroringState,
    /// `mirroring_role`.
    pub role: MirroringRole,
    /// `mirroring_role_sequence`.
    pub role_sequence: u64,
    /// `mirroring_safety_level`.
    pub safety: SafetyLevel,
    /// `mirroring_safety_sequence`.
    pub safety_sequence: u64,
    /// `mirroring_partner_name`: the partner's address.
    pub partner_address: ServerAddress,
    /// `mirroring_partner_instance`: the partner's instance name.
    pub partner_instance: String,
    /// The witness, if one is set: `mirroring_witness_name` and `mirroring_witness_state`.
    pub witness: Option<(ServerAddress, WitnessState)>,
    /// `mirroring_failover_lsn`.
    pub failover_lsn: u64,
    /// `mirroring_connection_timeout`, in seconds.
    pub connection_timeout_seconds: u32,
    /// `mirroring_redo_queue` in MB; `None` for UNLIMITED (the default).
    pub redo_queue_limit_mb: Option<u64>,
    /// `mirroring_end_of_log_lsn`: the end of log hardened locally.
    pub end_of_log_lsn: u64,
    /// `mirroring_replication_lsn`: the highest LSN the mirror is known to have hardened.
    pub replication_lsn: u64,
}

/// A session as `sys.database_mirroring_witnesses` shows it on the witness (its durable
/// record, reference §4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessRecordView {
    /// `database_name`.
    pub database_name: String,
    /// `principal_server_name`.
    pub principal_server_name: String,
    /// `mirror_server_name`.
    pub mirror_server_name: String,
    /// `safety_level`.
    pub safety: SafetyLevel,
    /// `safety_sequence_number`.
    pub safety_sequence: u64,
    /// `role_sequence_number`.
    pub role_sequence: u64,
    /// `mirroring_guid`.
    pub mirroring_guid: String,
    /// `family_guid` (the catalog's [`crate::RecoveryFork::family_guid`]).
    pub family_guid: String,
    /// `is_suspended`.
    pub is_suspended: bool,
    /// `is_suspended_sequence_number`.
    pub suspend_sequence: u64,
    /// `partner_sync_state`.
    pub partner_sync_state: PartnerSyncState,
}

/// One row of `sp_dbmmonitorresults` (rates in KB/s, sizes in KB, delays in ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorSample {
    /// `database_name`.
    pub database_name: String,
    /// `role`.
    pub role: MirroringRole,
    /// `mirroring_state`.
    pub state: MirroringState,
    /// `witness_status`.
    pub witness: WitnessState,
    /// `log_generation_rate`, KB/s.
    pub log_generation_rate: u64,
    /// `unsent_log` (send queue), KB.
    pub unsent_log: u64,
    /// `send_rate`, KB/s.
    pub send_rate: u64,
    /// `unrestored_log` (redo queue), KB.
    pub unrestored_log: u64,
    /// `recovery_rate` (redo rate), KB/s.
    pub recovery_rate: u64,
    /// `transaction_delay`: total ms commits waited for the mirror.
    pub transaction_delay: u64,
    /// `transactions_per_sec`.
    pub transactions_per_sec: u64,
    /// `average_delay`: ms per transaction.
    pub average_delay: u64,
    /// `time_recorded`, simulated microseconds.
    pub time_recorded_us: u64,
    /// `time_behind`: the principal's time the mirror has caught up to, simulated microseconds.
    pub time_behind_us: u64,
    /// `local_time`, simulated microseconds.
    pub local_time_us: u64,
}

/// The columns of `sys.database_mirroring`.
pub const DATABASE_MIRRORING_COLUMNS: [&str; 21] = [
    "database_id",
    "mirroring_guid",
    "mirroring_state",
    "mirroring_state_desc",
    "mirroring_role",
    "mirroring_role_desc",
    "mirroring_role_sequence",
    "mirroring_safety_level",
    "mirroring_safety_level_desc",
    "mirroring_safety_sequence",
    "mirroring_partner_name",
    "mirroring_partner_instance",
    "mirroring_witness_name",
    "mirroring_witness_state",
    "mirroring_witness_state_desc",
    "mirroring_failover_lsn",
    "mirroring_connection_timeout",
    "mirroring_redo_queue",
    "mirroring_redo_queue_type",
    "mirroring_end_of_log_lsn",
    "mirroring_replication_lsn",
];

/// The columns of `sys.database_mirroring_witnesses`.
pub const DATABASE_MIRRORING_WITNESSES_COLUMNS: [&str; 13] = [
    "database_name",
    "principal_server_name",
    "mirror_server_name",
    "safety_level",
    "safety_level_desc",
    "safety_sequence_number",
    "role_sequence_number",
    "mirroring_guid",
    "family_guid",
    "is_suspended",
    "is_suspended_sequence_number",
    "partner_sync_state",
    "partner_sync_state_desc",
];

/// The columns of `sp_dbmmonitorresults`.
pub const MONITOR_RESULTS_COLUMNS: [&str; 15] = [
    "database_name",
    "role",
    "mirroring_state",
    "witness_status",
    "log_generation_rate",
    "unsent_log",
    "send_rate",
    "unrestored_log",
    "recovery_rate",
    "transaction_delay",
    "transactions_per_sec",
    "average_delay",
    "time_recorded",
    "time_behind",
    "local_time",
];

/// An unsigned figure as a value. Figures beyond `i64` (8 EiB of log) never occur.
fn int(value: u64) -> Value {
    Value::Int(i64::try_from(value).expect("simulated figures stay below 2^63"))
}

fn text(value: impl Into<String>) -> Value {
    Value::Text(value.into())
}

/// `SELECT * FROM sys.database_mirroring`: one row per database, in the order given.
pub fn database_mirroring_rows(databases: &[DatabaseMirroringView]) -> ResultSet {
    let rows = databases
        .iter()
        .map(|database| {
            let mut row = vec![int(u64::from(database.database_id))];
            match &database.session {
                Some(session) => row.extend(session_values(session)),
                None => row.extend(std::iter::repeat_n(
                    Value::Null,
                    DATABASE_MIRRORING_COLUMNS.len() - 1,
                )),
            }
            row
        })
        .collect();
    ResultSet::new(&DATABASE_MIRRORING_COLUMNS, rows)
}

fn session_values(session: &MirroringSessionView) -> Vec<Value> {
    let (witness_name, witness_state, witness_state_desc) = match &session.witness {
        Some((address, state)) => (
            text(address.to_string()),
            Value::Int(state.number()),
            text(state.as_sql()),
        ),
        // No witness: SQL Server shows an empty name and the state UNKNOWN.
        None => (
            text(""),
            Value::Int(WitnessState::Unknown.number()),
            text(WitnessState::Unknown.as_sql()),
        ),
    };
    let (redo_queue, redo_queue_type) = match session.redo_queue_limit_mb {
        Some(megabytes) => (int(megabytes), text("MB")),
        None => (Value::Null, text("UNLIMITED")),
    };
    vec![
        text(session.mirroring_guid.clone()),
        Value::Int(session.state.number()),
        text(session.state.as_sql()),
        Value::Int(session.role.number()),
        text(session.role.as_sql()),
        int(session.role_sequence),
        Value::Int(session.safety.number()),
        text(session.safety.as_sql()),
        int(session.safety_sequence),
        text(session.partner_address.to_string()),
        text(session.partner_instance.clone()),
        witness_name,
        witness_state,
        witness_state_desc,
        int(session.failover_lsn),
        int(u64::from(session.connection_timeout_seconds)),
        redo_queue,
        redo_queue_type,
        int(session.end_of_log_lsn),
        int(session.replication_lsn),
    ]
}

/// `SELECT * FROM sys.database_mirroring_witnesses`: one row per session the instance is the
/// witness of.
pub fn database_mirroring_witnesses_rows(records: &[WitnessRecordView]) -> ResultSet {
    let rows = records
        .iter()
        .map(|record| {
            let (sync_state, sync_state_desc) = match record.partner_sync_state {
                PartnerSyncState::Unknown => (Value::Null, Value::Null),
                PartnerSyncState::Synchronized => (Value::Int(5), text("SYNCHRONIZED")),
                PartnerSyncState::Unsynchronized => (Value::Int(6), text("UNSYNCHRONIZED")),
            };
            vec![
                text(record.database_name.clone()),
                text(record.principal_server_name.clone()),
                text(record.mirror_server_name.clone()),
                Value::Int(record.safety.number()),
                text(record.safety.as_sql()),
                int(record.safety_sequence),
                int(record.role_sequence),
                text(record.mirroring_guid.clone()),
                text(record.family_guid.clone()),
                Value::Int(i64::from(record.is_suspended)),
                int(record.suspend_sequence),
                sync_state,
                sync_state_desc,
            ]
        })
        .collect();
    ResultSet::new(&DATABASE_MIRRORING_WITNESSES_COLUMNS, rows)
}

/// `EXEC msdb.dbo.sp_dbmmonitorresults db`: one row per sample, in the order given (the
/// simulator picks the samples `@mode` asks for).
pub fn monitor_results_rows(samples: &[MonitorSample]) -> ResultSet {
    let rows = samples
        .iter()
        .map(|sample| {
            vec![
                text(sample.database_name.clone()),
                Value::Int(sample.role.number()),
                Value::Int(sample.state.number()),
                Value::Int(sample.witness.number()),
                int(sample.log_generation_rate),
                int(sample.unsent_log),
                int(sample.send_rate),
                int(sample.unrestored_log),
                int(sample.recovery_rate),
                int(sample.transaction_delay),
                int(sample.transactions_per_sec),
                int(sample.average_delay),
                int(sample.time_recorded_us),
                int(sample.time_behind_us),
                int(sample.local_time_us),
            ]
        })
        .collect();
    ResultSet::new(&MONITOR_RESULTS_COLUMNS, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> MirroringSessionView {
        MirroringSessionView {
            mirroring_guid: "G".into(),
            state: MirroringState::Synchronized,
            role: MirroringRole::Principal,
            role_sequence: 1,
            safety: SafetyLevel::Full,
            safety_sequence: 1,
            partner_address: ServerAddress::new("beta.corp.example", 7022),
            partner_instance: "beta".into(),
            witness: Some((
                ServerAddress::new("gamma.corp.example", 7022),
                WitnessState::Connected,
            )),
            failover_lsn: 100,
            connection_timeout_seconds: 10,
            redo_queue_limit_mb: None,
            end_of_log_lsn: 200,
            replication_lsn: 200,
        }
    }

    fn column<'a>(set: &'a ResultSet, row: usize, name: &str) -> &'a Value {
        let index = set
            .columns
            .iter()
            .position(|column| *column == name)
            .expect("a column");
        &set.rows[row][index]
    }

    // reference §2: states, roles and witness states as sys.database_mirroring codes them.
    #[test]
    fn database_mirroring_codes_and_nulls() {
        let set = database_mirroring_rows(&[
            DatabaseMirroringView {
                database_id: 5,
                session: Some(session()),
            },
            DatabaseMirroringView {
                database_id: 6,
                session: None,
            },
        ]);
        assert_eq!(set.columns.len(), 21);
        assert_eq!(column(&set, 0, "mirroring_state"), &Value::Int(4));
        assert_eq!(
            column(&set, 0, "mirroring_state_desc"),
            &Value::Text("SYNCHRONIZED".into())
        );
        assert_eq!(
            column(&set, 0, "mirroring_role_desc"),
            &Value::Text("PRINCIPAL".into())
        );
        assert_eq!(
            column(&set, 0, "mirroring_partner_name"),
            &Value::Text("TCP://beta.corp.example:7022".into())
        );
        assert_eq!(column(&set, 0, "mirroring_witness_state"), &Value::Int(1));
        assert_eq!(column(&set, 0, "mirroring_redo_queue"), &Value::Null);
        assert_eq!(
            column(&set, 0, "mirroring_redo_queue_type"),
            &Value::Text("UNLIMITED".into())
        );
        assert_eq!(column(&set, 1, "database_id"), &Value::Int(6));
        assert!(set.rows[1][1..].iter().all(|value| *value == Value::Null));
    }

    // reference §4: the witness's durable record; partner_sync_state 5 / 6.
    #[test]
    fn witness_rows() {
        let record = WitnessRecordView {
            database_name: "Sales".into(),
            principal_server_name: "alpha".into(),
            mirror_server_name: "beta".into(),
            safety: SafetyLevel::Full,
            safety_sequence: 1,
            role_sequence: 2,
            mirroring_guid: "G".into(),
            family_guid: "F".into(),
            is_suspended: false,
            suspend_sequence: 0,
            partner_sync_state: PartnerSyncState::Unsynchronized,
        };
        let set = database_mirroring_witnesses_rows(&[record]);
        assert_eq!(column(&set, 0, "partner_sync_state"), &Value::Int(6));
        assert_eq!(column(&set, 0, "is_suspended"), &Value::Int(0));
        assert_eq!(column(&set, 0, "role_sequence_number"), &Value::Int(2));
    }

    // reference §6: the monitoring figures under sp_dbmmonitorresults' names.
    #[test]
    fn monitor_rows() {
        let sample = MonitorSample {
            database_name: "Sales".into(),
            role: MirroringRole::Mirror,
            state: MirroringState::Synchronizing,
            witness: WitnessState::Disconnected,
            log_generation_rate: 3900,
            unsent_log: 12,
            send_rate: 3900,
            unrestored_log: 40,
            recovery_rate: 3800,
            transaction_delay: 1200,
            transactions_per_sec: 2000,
            average_delay: 1,
            time_recorded_us: 60_000_000,
            time_behind_us: 59_999_000,
            local_time_us: 60_000_000,
        };
        let set = monitor_results_rows(&[sample]);
        assert_eq!(set.columns, MONITOR_RESULTS_COLUMNS.to_vec());
        assert_eq!(column(&set, 0, "role"), &Value::Int(2));
        assert_eq!(column(&set, 0, "mirroring_state"), &Value::Int(2));
        assert_eq!(column(&set, 0, "witness_status"), &Value::Int(2));
        assert_eq!(column(&set, 0, "unrestored_log"), &Value::Int(40));
    }
}
