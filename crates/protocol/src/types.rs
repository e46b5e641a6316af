//! The vocabulary of reference/mirroring.md sections 1 and 2: roles, states, safety, sequence
//! numbers, LSNs and time.

/// A log sequence number: here a plain byte offset in the database's log stream (the log
/// engine supplies real ones). LSN 0 is the start of the log.
pub type Lsn = u64;

/// A client transaction, numbered by the driver.
pub type TxId = u64;

/// Simulated time in nanoseconds. The protocol never reads a clock: every handler takes `now`.
pub type Nanos = u64;

/// One millisecond in [`Nanos`].
pub const MILLISECOND: Nanos = 1_000_000;
/// One second in [`Nanos`].
pub const SECOND: Nanos = 1_000_000_000;

/// The interval between two pings on every mirroring connection (reference section 3).
pub const PING_INTERVAL: Nanos = SECOND;

/// The fixed cost of taking over as principal, after redo (reference section 5, **Decision**).
pub const FAILOVER_COST: Nanos = 500 * MILLISECOND;

/// The largest log block (reference section 6). The switch LSN is fixed when the principal's
/// unsent log first drops below one block.
pub const BLOCK_MAX_BYTES: u64 = 60 * 1024;

/// How many role changes a partner remembers (for the reconnection handshake). A mirror more
/// role changes behind than this rejoins from the oldest one remembered, which is only ever
/// more conservative (it discards more).
pub const ROLE_HISTORY_MAX: usize = 16;

/// How many commits may wait for acknowledgement on one principal; beyond it new commits fail.
pub const PENDING_COMMITS_MAX: usize = 1 << 20;

/// A server instance taking part in the session (principal, mirror or witness).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId(pub u8);

/// A recovery fork: forced service starts a new one (reference section 5).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fork(pub u32);

/// `mirroring_role` (reference section 2).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Serves the database to clients (1).
    Principal,
    /// Holds a RESTORING copy and rolls the principal's log forward (2).
    Mirror,
}

/// `mirroring_safety_level`: the transaction safety of the session (reference section 1).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Safety {
    /// Synchronous: a commit waits for the mirror's hardening acknowledgement.
    Full,
    /// Asynchronous (high performance).
    Off,
}

/// `mirroring_state` (reference section 2).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MirroringState {
    /// 0: no log is sent; the principal runs exposed.
    Suspended,
    /// 1: the partners cannot reach each other.
    Disconnected,
    /// 2: the mirror is catching up.
    Synchronizing,
    /// 3: a manual failover is under way (principal only).
    PendingFailover,
    /// 4: the mirror has hardened all log the principal sent.
    Synchronized,
}

impl MirroringState {
    /// The number `sys.database_mirroring.mirroring_state` shows.
    pub fn code(self) -> u8 {
        match self {
            Self::Suspended => 0,
            Self::Disconnected => 1,
            Self::Synchronizing => 2,
            Self::PendingFailover => 3,
            Self::Synchronized => 4,
        }
    }

    /// The upper-case name `mirroring_state_desc` shows.
    pub fn name(self) -> &'static str {
        match self {
            Self::Suspended => "SUSPENDED",
            Self::Disconnected => "DISCONNECTED",
            Self::Synchronizing => "SYNCHRONIZING",
            Self::PendingFailover => "PENDING_FAILOVER",
            Self::Synchronized => "SYNCHRONIZED",
        }
    }
}

/// The witness's state as a partner sees it (reference section 2).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WitnessState {
    /// 0: no witness, or not yet known.
    Unknown,
    /// 1: the partner's connection to the witness is up.
    Connected,
    /// 2: the partner has declared its connection to the witness lost.
    Disconnected,
}

/// The synchronization state the principal last reported to the witness (reference section 4).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SyncState {
    /// The mirror has every commit the principal acknowledged, and every future one will wait.
    Synchronized,
    /// The principal runs exposed: it may acknowledge commits the mirror does not have.
    Unsynchronized,
    /// Nothing trustworthy is known (after a witness restart, a lost mirror connection, ...).
    Unknown,
}

/// How a connection broke (reference section 3).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// Noticed at once: a reset, a closed port, a stopped endpoint.
    Hard,
    /// Noticed only by TIMEOUT: a hung server, a host without power, a pulled cable.
    Soft,
}

/// The session's sequence numbers (reference section 4). Every message carries the role
/// sequence; the others travel with the session configuration and the witness's record.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Numbers {
    /// Bumped by every failover and forced service.
    pub role: u64,
    /// Bumped by every SAFETY change.
    pub safety: u64,
    /// Bumped by SUSPEND and RESUME.
    pub suspend: u64,
    /// Bumped by SET WITNESS and WITNESS OFF.
    pub witness: u64,
}

impl Numbers {
    /// Whether every number is at most `other`'s: these are `other`'s, or an earlier state of
    /// the same session that has not yet heard of some of its changes.
    pub fn not_ahead_of(&self, other: &Numbers) -> bool {
        self.role <= other.role
            && self.safety <= other.safety
            && self.suspend <= other.suspend
            && self.witness <= other.witness
    }
}

/// How a role change came about.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailoverKind {
    /// The mirror took over with the witness's consent.
    Automatic,
    /// `SET PARTNER FAILOVER` on the principal.
    Manual,
    /// `SET PARTNER FORCE_SERVICE_ALLOW_DATA_LOSS` on the mirror.
    Forced,
}

impl FailoverKind {
    /// The lower-case name used in reports and events.
    pub fn name(self) -> &'static str {
        match self {
            Self::Automatic => "automatic",
            Self::Manual => "manual",
            Self::Forced => "forced",
        }
    }
}

/// One role change, as every partner and the witness remember it: the durable history the
/// reconnection handshake needs (reference section 4, "Reconnecting").
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleChange {
    /// The new role sequence.
    pub role_sequence: u64,
    /// Who serves from this role sequence on.
    pub principal: InstanceId,
    /// The failover LSN (for forced service, the fork LSN): log past it on the old principal was
    /// never acknowledged under the new one and is discarded when it rejoins.
    pub failover_lsn: Lsn,
    /// The recovery fork from this role sequence on.
    pub fork: Fork,
    /// How it came about.
    pub kind: FailoverKind,
}

/// Who serves at which role sequence, carried by every message so that stale ones can be
/// recognised and newer roles adopted before anything else (reference section 4).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleView {
    /// The sender's role sequence.
    pub role_sequence: u64,
    /// The principal at that role sequence, when the sender knows one.
    pub principal: Option<InstanceId>,
}

/// Why a principal started serving (the `via` of the `serving` event, spec/cli.md).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServeVia {
    /// The session was set up (or the database came online).
    Setup,
    /// After an automatic failover.
    Automatic,
    /// After a manual failover.
    Manual,
    /// After forced service.
    Forced,
    /// The first time after the process restarted.
    Restart,
    /// Again at the same role sequence, with nothing restarted: e.g. quorum came back, or the
    /// witness confirmed the principal's exposure (after SAFETY OFF, a lost mirror, a SUSPEND).
    Resume,
}

impl ServeVia {
    /// The lower-case name used in events.
    pub fn name(self) -> &'static str {
        match self {
            Self::Setup => "setup",
            Self::Automatic => "automatic",
            Self::Manual => "manual",
            Self::Forced => "forced",
            Self::Restart => "restart",
            Self::Resume => "resume",
        }
    }
}

impl From<FailoverKind> for ServeVia {
    fn from(kind: FailoverKind) -> Self {
        match kind {
            FailoverKind::Automatic => Self::Automatic,
            FailoverKind::Manual => Self::Manual,
            FailoverKind::Forced => Self::Forced,
        }
    }
}

/// The session configuration the principal owns and sends to the mirror and the witness
/// (reference sections 1, 3 and 4).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionConfig {
    /// The session's sequence numbers.
    pub numbers: Numbers,
    /// SAFETY FULL or OFF.
    pub safety: Safety,
    /// SUSPENDED by `SET PARTNER SUSPEND`.
    pub suspended: bool,
    /// The witness, when one is set.
    pub witness: Option<InstanceId>,
    /// The partner TIMEOUT in seconds as set (5 to 32767); see [`SessionConfig::timeout`].
    pub timeout_seconds: u32,
}

/// The default partner TIMEOUT (reference section 3).
pub const TIMEOUT_DEFAULT_SECONDS: u32 = 10;
/// The largest partner TIMEOUT (reference section 3; 1476 above).
pub const TIMEOUT_MAX_SECONDS: u32 = 32767;
/// The smallest partner TIMEOUT: 0 to 4 become 5 (reference section 3).
pub const TIMEOUT_MIN_SECONDS: u32 = 5;

impl SessionConfig {
    /// A new session: SAFETY FULL, no witness, default TIMEOUT.
    pub fn new() -> Self {
        Self {
            numbers: Numbers::default(),
            safety: Safety::Full,
            suspended: false,
            witness: None,
            timeout_seconds: TIMEOUT_DEFAULT_SECONDS,
        }
    }

    /// The TIMEOUT in force: fixed at 10 s when SAFETY is OFF (reference section 3).
    pub fn timeout(&self) -> Nanos {
        let seconds = match self.safety {
            Safety::Off => TIMEOUT_DEFAULT_SECONDS,
            Safety::Full => self.timeout_seconds,
        };
        u64::from(seconds) * SECOND
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// Trace event class 167 (database mirroring state change) values (reference section 2).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StateChangeEvent {
    /// 1: synchronized principal with witness.
    SynchronizedPrincipalWithWitness,
    /// 2: synchronized principal without witness.
    SynchronizedPrincipalWithoutWitness,
    /// 3: synchronized mirror with witness.
    SynchronizedMirrorWithWitness,
    /// 4: synchronized mirror without witness.
    SynchronizedMirrorWithoutWitness,
    /// 5: connection with principal lost.
    ConnectionWithPrincipalLost,
    /// 6: connection with mirror lost.
    ConnectionWithMirrorLost,
    /// 7: manual failover.
    ManualFailover,
    /// 8: automatic failover.
    AutomaticFailover,
    /// 9: mirroring suspended.
    Suspended,
    /// 10: no quorum.
    NoQuorum,
    /// 11: synchronizing mirror.
    SynchronizingMirror,
    /// 12: principal running exposed.
    PrincipalRunningExposed,
}

impl StateChangeEvent {
    /// The number trace event class 167 carries.
    pub fn code(self) -> u8 {
        self as u8 + 1
    }

    /// A snake_case name for the simulator's event trace.
    pub fn name(self) -> &'static str {
        match self {
            Self::SynchronizedPrincipalWithWitness => "synchronized_principal_with_witness",
            Self::SynchronizedPrincipalWithoutWitness => "synchronized_principal_without_witness",
            Self::SynchronizedMirrorWithWitness => "synchronized_mirror_with_witness",
            Self::SynchronizedMirrorWithoutWitness => "synchronized_mirror_without_witness",
            Self::ConnectionWithPrincipalLost => "connection_with_principal_lost",
            Self::ConnectionWithMirrorLost => "connection_with_mirror_lost",
            Self::ManualFailover => "manual_failover",
            Self::AutomaticFailover => "automatic_failover",
            Self::Suspended => "suspended",
            Self::NoQuorum => "no_quorum",
            Self::SynchronizingMirror => "synchronizing_mirror",
            Self::PrincipalRunningExposed => "principal_running_exposed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(safety: Safety, timeout_seconds: u32) -> SessionConfig {
        SessionConfig {
            safety,
            timeout_seconds,
            ..SessionConfig::new()
        }
    }

    // reference §1 and §3: a new session is SAFETY FULL, no witness, TIMEOUT 10 s, numbers zero.
    #[test]
    fn new_session_config_is_safety_full_without_witness_and_default_timeout() {
        let c = SessionConfig::new();
        assert_eq!(c.safety, Safety::Full);
        assert_eq!(c.witness, None);
        assert!(!c.suspended);
        assert_eq!(c.numbers, Numbers::default());
        assert_eq!(c.timeout_seconds, 10);
        assert_eq!(c.timeout(), 10 * SECOND);
        assert_eq!(SessionConfig::default(), c);
    }

    // reference §3: with SAFETY FULL the TIMEOUT in force is the one set.
    #[test]
    fn timeout_with_safety_full_is_the_timeout_set() {
        assert_eq!(config(Safety::Full, 5).timeout(), 5 * SECOND);
        assert_eq!(config(Safety::Full, 37).timeout(), 37 * SECOND);
        assert_eq!(
            config(Safety::Full, TIMEOUT_MAX_SECONDS).timeout(),
            32_767 * SECOND
        );
    }

    // reference §3: TIMEOUT is "fixed at 10 s when SAFETY is OFF", whatever was set.
    #[test]
    fn timeout_with_safety_off_is_ten_seconds_whatever_timeout_says() {
        for set in [5, 9, 11, 60, TIMEOUT_MAX_SECONDS] {
            assert_eq!(
                config(Safety::Off, set).timeout(),
                10 * SECOND,
                "TIMEOUT {set} with SAFETY OFF"
            );
        }
    }

    // reference §3: the bounds of TIMEOUT (0-4 become 5, at most 32767, default 10).
    #[test]
    fn timeout_bounds_match_the_reference() {
        assert_eq!(TIMEOUT_MIN_SECONDS, 5);
        assert_eq!(TIMEOUT_MAX_SECONDS, 32_767);
        assert_eq!(TIMEOUT_DEFAULT_SECONDS, 10);
        assert_eq!(PING_INTERVAL, SECOND);
        assert_eq!(FAILOVER_COST, 500 * MILLISECOND);
    }

    // reference §2: mirroring_state values 0..=4 and their names.
    #[test]
    fn mirroring_state_codes_and_names_match_sys_database_mirroring() {
        let table = [
            (MirroringState::Suspended, 0, "SUSPENDED"),
            (MirroringState::Disconnected, 1, "DISCONNECTED"),
            (MirroringState::Synchronizing, 2, "SYNCHRONIZING"),
            (MirroringState::PendingFailover, 3, "PENDING_FAILOVER"),
            (MirroringState::Synchronized, 4, "SYNCHRONIZED"),
        ];
        for (state, code, name) in table {
            assert_eq!(state.code(), code, "{state:?}");
            assert_eq!(state.name(), name, "{state:?}");
        }
    }

    // reference §2: trace event class 167 values 1..=12, in the order the reference lists them.
    #[test]
    fn state_change_event_codes_run_from_1_to_12_in_reference_order() {
        use StateChangeEvent as E;
        let table = [
            (E::SynchronizedPrincipalWithWitness, 1),
            (E::SynchronizedPrincipalWithoutWitness, 2),
            (E::SynchronizedMirrorWithWitness, 3),
            (E::SynchronizedMirrorWithoutWitness, 4),
            (E::ConnectionWithPrincipalLost, 5),
            (E::ConnectionWithMirrorLost, 6),
            (E::ManualFailover, 7),
            (E::AutomaticFailover, 8),
            (E::Suspended, 9),
            (E::NoQuorum, 10),
            (E::SynchronizingMirror, 11),
            (E::PrincipalRunningExposed, 12),
        ];
        for (event, code) in table {
            assert_eq!(event.code(), code, "{event:?}");
        }
        let mut names: Vec<_> = table.iter().map(|(e, _)| e.name()).collect();
        assert!(names
            .iter()
            .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 12, "every event has its own name");
        assert_eq!(E::NoQuorum.name(), "no_quorum");
        assert_eq!(
            E::PrincipalRunningExposed.name(),
            "principal_running_exposed"
        );
    }

    // reference §5: the way a role change came about names the `serving` event that follows it.
    #[test]
    fn serve_via_follows_the_failover_kind() {
        assert_eq!(ServeVia::from(FailoverKind::Automatic), ServeVia::Automatic);
        assert_eq!(ServeVia::from(FailoverKind::Manual), ServeVia::Manual);
        assert_eq!(ServeVia::from(FailoverKind::Forced), ServeVia::Forced);
        for kind in [
            FailoverKind::Automatic,
            FailoverKind::Manual,
            FailoverKind::Forced,
        ] {
            assert_eq!(ServeVia::from(kind).name(), kind.name());
        }
        assert_eq!(ServeVia::Setup.name(), "setup");
        assert_eq!(ServeVia::Restart.name(), "restart");
        assert_eq!(ServeVia::Resume.name(), "resume");
    }
}
