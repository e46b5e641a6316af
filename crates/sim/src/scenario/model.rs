//! The resolved scenario: every default filled in, every unit resolved to an integer
//! (nanoseconds, bytes, bits or bytes per second, parts per million), every instance reference
//! resolved to an [`InstanceId`]. This is what the simulator consumes; nothing here needs
//! checking again.

use mirror_setup::Statement;

use super::units::Comparison;

/// An instance, as an index into [`Scenario::instances`] (file order, from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId(pub usize);

/// One scenario file, resolved and validated (spec/scenario.md).
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// `name`: how reports and traces call this scenario.
    pub name: String,
    /// `description`: free text ("" when absent).
    pub description: String,
    /// `seed`: the seed of the run unless `sim --seed N` overrides it (default 0).
    pub seed: u64,
    /// `duration`: simulated length of the whole run from t = 0, in ns (> 0, at most 30 days).
    pub duration_ns: u64,
    /// `[[instance]]`, in file order; [`InstanceId`] indexes this list. Never empty.
    pub instances: Vec<Instance>,
    /// `[database]`: the one database of the scenario.
    pub database: Database,
    /// `[[step]]`, in file order; step n of the report is `steps[n - 1]`.
    pub steps: Vec<Step>,
    /// `[network]` and `[[network.link]]`.
    pub network: Network,
    /// `[disk]`: the same disks on every instance.
    pub disk: Disk,
    /// `[workload]`; `None` when the file has none (no client transactions).
    pub workload: Option<Workload>,
    /// `[[fault]]`, in file order (not sorted by time).
    pub faults: Vec<Fault>,
    /// `[expect]`: the checks the run must pass, besides the invariants.
    pub expect: Expectations,
}

impl Scenario {
    /// The instance `id` refers to. Every `InstanceId` in a resolved scenario is valid for it.
    pub fn instance(&self, id: InstanceId) -> Option<&Instance> {
        self.instances.get(id.0)
    }

    /// The name of instance `id`, or `"?"` for an id from another scenario.
    pub fn instance_name(&self, id: InstanceId) -> &str {
        self.instance(id)
            .map_or("?", |instance| instance.name.as_str())
    }

    /// The instance with this exact name.
    pub fn instance_named(&self, name: &str) -> Option<InstanceId> {
        self.instances
            .iter()
            .position(|instance| instance.name == name)
            .map(InstanceId)
    }
}

/// `[[instance]]`: one SQL Server instance on its own host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// `name`: unique; how steps, faults and expectations refer to it.
    pub name: String,
    /// `host`: the host in `TCP://` addresses; unique (compared without regard to case).
    pub host: String,
    /// `service_account`: the account the instance runs under, e.g. `CORP\svc-alpha`.
    pub service_account: String,
    /// `edition` (default enterprise).
    pub edition: Edition,
    /// `cpus` (default 8; 1 to [`CPUS_MAX`](super::CPUS_MAX)).
    pub cpus: u32,
    /// `redo_threads`, or the default of reference section 6: one, except Enterprise with 5 or
    /// more CPUs: one per 4 CPUs.
    pub redo_threads: u32,
}

/// `edition`: the SQL Server edition of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edition {
    /// `enterprise` (the default).
    Enterprise,
    /// `standard`.
    Standard,
    /// `workgroup`.
    Workgroup,
    /// `express` (witness only, in SQL Server).
    Express,
}

impl Edition {
    /// The word the scenario format uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Edition::Enterprise => "enterprise",
            Edition::Standard => "standard",
            Edition::Workgroup => "workgroup",
            Edition::Express => "express",
        }
    }

    /// Redo threads by default (reference section 6): one, except Enterprise with 5 or more
    /// CPUs, which gets one per 4 CPUs, counting a part of 4 as a thread: read as floor, 5 to
    /// 7 CPUs would get the one thread of fewer than 5, and the threshold would mean nothing.
    pub fn redo_threads_default(self, cpus: u32) -> u32 {
        if self == Edition::Enterprise && cpus >= 5 {
            cpus.div_ceil(4)
        } else {
            1
        }
    }
}

/// `[database]`: the database that will be mirrored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Database {
    /// `name`, e.g. `Sales`.
    pub name: String,
    /// `on`: the instance where the database exists at t = 0.
    pub on: InstanceId,
    /// `recovery_model` at t = 0 (default full).
    pub recovery_model: RecoveryModel,
    /// `size`: data size in bytes (drives backup and restore time).
    pub size_bytes: u64,
    /// `log_size`: the log's capacity in bytes (default 4 x size / 10); error 9002 when full.
    pub log_size_bytes: u64,
    /// `log_backup_interval` in ns, from the moment the workload starts (default 15 min);
    /// `None` for `"none"`: no log backup job.
    pub log_backup_interval_ns: Option<u64>,
}

/// `recovery_model`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveryModel {
    /// `full` (the default; the only one mirroring accepts).
    Full,
    /// `bulk_logged`.
    BulkLogged,
    /// `simple`.
    Simple,
}

impl RecoveryModel {
    /// The word the scenario format uses.
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryModel::Full => "full",
            RecoveryModel::BulkLogged => "bulk_logged",
            RecoveryModel::Simple => "simple",
        }
    }
}

/// `[[step]]`: T-SQL an operator runs on one instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The step's number: 1-based, in file order (how reports and `step_errors` name it).
    pub number: usize,
    /// `on`: the instance that runs it.
    pub on: InstanceId,
    /// `sql` as written.
    pub sql: String,
    /// `sql`, parsed by `mirror_setup::parse_batch`: the statements in order.
    pub statements: Vec<Statement>,
    /// `at` in ns: the step starts then, or when the previous step completes if that is
    /// later. `None`: when the previous step completes.
    pub at_ns: Option<u64>,
    /// `expect_error`: the step must fail with this SQL Server error number.
    pub expect_error: Option<u32>,
}

/// Latency, jitter and bandwidth of one link (each direction on its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkParameters {
    /// `one_way`: one-way latency in ns (default 250 us).
    pub one_way_ns: u64,
    /// `jitter`: mean of the exponential added latency in ns (default 0: none).
    pub jitter_ns: u64,
    /// `bandwidth` per direction, in bits per second (default 1 Gbit/s).
    pub bandwidth_bits_per_second: u64,
}

/// `[network]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// The parameters of every link that `links` does not override.
    pub default_link: LinkParameters,
    /// `compression` in (0, 1]: bytes on the wire per log byte (default 1.0).
    pub compression: f64,
    /// `[[network.link]]`: per-pair overrides, keys absent from a link taken from
    /// `default_link`. At most one per pair of instances.
    pub links: Vec<Link>,
}

impl Network {
    /// The parameters of the link between `a` and `b` (either order).
    pub fn link_between(&self, a: InstanceId, b: InstanceId) -> LinkParameters {
        self.links
            .iter()
            .find(|link| link.between == [a, b] || link.between == [b, a])
            .map_or(self.default_link, |link| link.parameters)
    }
}

/// `[[network.link]]`: the parameters of one pair of instances, both directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// `between`: two different instances.
    pub between: [InstanceId; 2],
    /// The link's parameters, resolved (absent keys from `[network]`).
    pub parameters: LinkParameters,
}

/// `[disk]`: the disks of every instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Disk {
    /// `flush`: log flush (harden) latency in ns (default 200 us).
    pub flush_ns: u64,
    /// `flush_jitter`: mean of the exponential added flush latency in ns (default 0).
    pub flush_jitter_ns: u64,
    /// `throughput`: sequential bytes per second, for backups, restores and catch-up
    /// (default 500 MiB/s).
    pub throughput_bytes_per_second: u64,
    /// `redo_rate`: redo speed per redo thread on a mirror, bytes per second
    /// (default 100 MiB/s).
    pub redo_rate_bytes_per_second: u64,
}

/// `[workload]`: the client transactions.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// `start` (default after_setup).
    pub start: WorkloadStart,
    /// `rate` (open loop) or `clients` and `think` (closed loop).
    pub arrivals: Arrivals,
    /// `log_bytes[0]`: least log per transaction, bytes (>= 1).
    pub log_bytes_min: u64,
    /// `log_bytes[1]`: most log per transaction, bytes (>= `log_bytes_min`); uniform between.
    pub log_bytes_max: u64,
}

/// `start`: when the clients begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkloadStart {
    /// `after_setup`: once the leading steps that have no `at` are done (the default).
    AfterSetup,
    /// `at_start`: at t = 0.
    AtStart,
}

/// How transactions arrive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Arrivals {
    /// `rate`: Poisson arrivals, independent of how fast commits complete.
    OpenLoop {
        /// Transactions per second, > 0 and at most [`RATE_MAX`](super::RATE_MAX).
        transactions_per_second: f64,
    },
    /// `clients`: each waits for its commit, then thinks, then submits the next.
    ClosedLoop {
        /// Clients, 1 to [`CLIENTS_MAX`](super::CLIENTS_MAX).
        clients: u32,
        /// `think`: pause between a commit and the next, ns (default 0).
        think_ns: u64,
    },
}

/// `[[fault]]`: something that goes wrong at a moment of the run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fault {
    /// `at`: when, in ns from t = 0.
    pub at_ns: u64,
    /// `kind` and its fields.
    pub kind: FaultKind,
}

/// `kind` and the fields it takes (the table of spec/scenario.md, "Faults").
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultKind {
    /// `crash`: the process dies, the host stays up: peers see a hard error at once.
    Crash {
        /// `target`.
        target: InstanceId,
    },
    /// `power_off`: the host goes silent: peers notice only by TIMEOUT.
    PowerOff {
        /// `target`.
        target: InstanceId,
    },
    /// `restart`: a crashed or powered-off instance comes back.
    Restart {
        /// `target`.
        target: InstanceId,
    },
    /// `pause`: the instance hangs (no pings, no work).
    Pause {
        /// `target`.
        target: InstanceId,
    },
    /// `resume`: a paused instance continues.
    Resume {
        /// `target`.
        target: InstanceId,
    },
    /// `partition`: the link drops everything.
    Partition {
        /// `between`: two different instances.
        between: [InstanceId; 2],
        /// `one_way`: only from `between[0]` to `between[1]` (default false: both ways).
        one_way: bool,
    },
    /// `loss`: this fraction of packets is lost and retransmitted after 200 ms (doubling).
    Loss {
        /// `between`; `None`: every link.
        between: Option<[InstanceId; 2]>,
        /// `rate` in [0, 1].
        rate: f64,
    },
    /// `slow_link`: the link works, with extra one-way latency (a gray failure).
    SlowLink {
        /// `between`: two different instances.
        between: [InstanceId; 2],
        /// `latency`: extra one-way latency, ns.
        latency_ns: u64,
        /// `one_way`: only from `between[0]` to `between[1]` (default false).
        one_way: bool,
    },
    /// `slow_disk`: the instance's log flushes take this long.
    SlowDisk {
        /// `target`.
        target: InstanceId,
        /// `flush`: flush latency while the fault lasts, ns.
        flush_ns: u64,
    },
    /// `disk_full`: log writes fail on this instance.
    DiskFull {
        /// `target`.
        target: InstanceId,
    },
    /// `corrupt_page`: one data page of the instance's database is damaged.
    CorruptPage {
        /// `target`.
        target: InstanceId,
    },
    /// `clock_skew`: the instance's clock runs fast or slow.
    ClockSkew {
        /// `target`.
        target: InstanceId,
        /// `drift` in parts per million: `"+2%"` is +20,000 (greater than -1,000,000, at
        /// most +1,000,000).
        drift_ppm: i64,
    },
    /// `heal`: ends faults (never a crash or power off: those need `restart`).
    Heal {
        /// `target`, `between`, or neither.
        scope: HealScope,
    },
}

impl FaultKind {
    /// The `kind` word of the scenario format.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Crash { .. } => "crash",
            FaultKind::PowerOff { .. } => "power_off",
            FaultKind::Restart { .. } => "restart",
            FaultKind::Pause { .. } => "pause",
            FaultKind::Resume { .. } => "resume",
            FaultKind::Partition { .. } => "partition",
            FaultKind::Loss { .. } => "loss",
            FaultKind::SlowLink { .. } => "slow_link",
            FaultKind::SlowDisk { .. } => "slow_disk",
            FaultKind::DiskFull { .. } => "disk_full",
            FaultKind::CorruptPage { .. } => "corrupt_page",
            FaultKind::ClockSkew { .. } => "clock_skew",
            FaultKind::Heal { .. } => "heal",
        }
    }
}

/// What a `heal` fault ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealScope {
    /// No `target` nor `between`: every fault except crash and power_off.
    Everything,
    /// `target`: the faults on that instance (pause, slow_disk, disk_full, clock_skew).
    Instance(InstanceId),
    /// `between`: the faults on that link (partition, loss, slow_link), both directions.
    Link([InstanceId; 2]),
}

/// Who holds a role at the end of a run: an instance, or no one (`"none"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleHolder {
    /// `"none"`: no instance holds the role.
    Nobody,
    /// This instance.
    Instance(InstanceId),
}

/// A database's `mirroring_state` at the end of a run, or `"none"` when no session exists.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// `"none"`: no mirroring session exists.
    #[serde(rename = "none")]
    NoSession,
    /// SUSPENDED.
    Suspended,
    /// DISCONNECTED.
    Disconnected,
    /// SYNCHRONIZING.
    Synchronizing,
    /// PENDING_FAILOVER.
    PendingFailover,
    /// SYNCHRONIZED.
    Synchronized,
}

impl SessionState {
    /// Every state, for parsing and messages.
    pub const ALL: [SessionState; 6] = [
        SessionState::NoSession,
        SessionState::Suspended,
        SessionState::Disconnected,
        SessionState::Synchronizing,
        SessionState::PendingFailover,
        SessionState::Synchronized,
    ];

    /// The lower-case name reports and scenarios use.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::NoSession => "none",
            SessionState::Suspended => "suspended",
            SessionState::Disconnected => "disconnected",
            SessionState::Synchronizing => "synchronizing",
            SessionState::PendingFailover => "pending_failover",
            SessionState::Synchronized => "synchronized",
        }
    }
}

/// `[expect]`: what must hold at the end. Every field is optional; each present one becomes a
/// named check in the report. Numeric ones are [`Comparison`]s of counts, or of ns for
/// `commit_latency_p99` and `unavailable`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Expectations {
    /// `principal`: which instance serves the database at the end.
    pub principal: Option<RoleHolder>,
    /// `mirror`: which instance is the mirror at the end.
    pub mirror: Option<RoleHolder>,
    /// `state`: `mirroring_state` at the end.
    pub state: Option<SessionState>,
    /// `role_sequence` at the end.
    pub role_sequence: Option<Comparison>,
    /// `lost_acknowledged`: acknowledged commits missing from the final principal.
    pub lost_acknowledged: Option<Comparison>,
    /// `split_brain`: whether an overlap of principals was seen.
    pub split_brain: Option<bool>,
    /// `failovers`: counts by kind.
    pub failovers: FailoverExpectations,
    /// `step_errors`: the only step errors allowed. `None` (absent) allows none, as `[]` does.
    pub step_errors: Option<Vec<AllowedStepError>>,
    /// `commit_latency_p99`, in ns.
    pub commit_latency_p99: Option<Comparison>,
    /// `unavailable`: the longest stretch after the workload starts with no instance serving,
    /// in ns.
    pub unavailable: Option<Comparison>,
}

/// `failovers = { automatic = .., manual = .., forced = .. }`; each key optional.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailoverExpectations {
    /// `automatic`.
    pub automatic: Option<Comparison>,
    /// `manual`.
    pub manual: Option<Comparison>,
    /// `forced`.
    pub forced: Option<Comparison>,
}

/// One entry of `step_errors`: step `step` may fail with error `error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllowedStepError {
    /// The step number (1-based).
    pub step: usize,
    /// The SQL Server error number.
    pub error: u32,
}
