//! The session commands of reference section 5 (`ALTER DATABASE db SET PARTNER ...` and
//! `SET WITNESS ...` once a session exists), as the protocol core judges them.

use crate::error::SqlError;
use crate::types::{InstanceId, Safety};

/// The error a client gets when its commit cannot be served (database offline, role change,
/// no principal). SQL Server's 955: "Database is enabled for Database Mirroring, but the database
/// lacks quorum: the database cannot be opened."
pub const ERROR_DATABASE_UNAVAILABLE: u32 = 955;

/// The error a client gets when its commit would join a queue of waiting commits already at the
/// simulator's bound ([`crate::types::PENDING_COMMITS_MAX`]): SQL Server's 701, "There is
/// insufficient system memory in resource pool 'default' to run this query". Not 955: the
/// database has its quorum, and the commits already waiting are still served.
pub const ERROR_INSUFFICIENT_MEMORY: u32 = 701;

/// That refusal, for a commit that would wait for `waiting_for` ("the mirror", "a hung
/// instance", "the failover").
pub fn commits_waiting_at_their_bound(waiting_for: &str) -> SqlError {
    SqlError::new(
        ERROR_INSUFFICIENT_MEMORY,
        format!(
            "there is insufficient system memory to run this query: 1,048,576 commits already \
             wait for {waiting_for} (the simulator's bound on waiting commits)"
        ),
    )
}

/// A session command issued on one partner.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SessionCommand {
    /// `SET PARTNER FAILOVER` (manual failover; principal only).
    Failover,
    /// `SET PARTNER FORCE_SERVICE_ALLOW_DATA_LOSS` (mirror only).
    ForceService,
    /// `SET PARTNER SUSPEND` (either partner).
    Suspend,
    /// `SET PARTNER RESUME` (either partner).
    Resume,
    /// `SET PARTNER SAFETY FULL|OFF` (principal only).
    Safety(Safety),
    /// `SET PARTNER TIMEOUT n` (principal only), as typed.
    Timeout(u64),
    /// `SET WITNESS OFF` (either partner).
    WitnessOff,
    /// `SET PARTNER OFF` (either partner).
    PartnerOff,
    /// `SET WITNESS = 'TCP://...'` (principal only), naming the witness instance.
    SetWitness(InstanceId),
}
