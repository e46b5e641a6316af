//! The report of one run: the `--json` object of spec/cli.md, field for field, the short human
//! summary that leads with the verdict, and the `[expect]` checks as a pure function of the
//! scenario and what the run ended with.
//!
//! Times are microseconds of simulated time unless a name says otherwise. Field names are
//! stable; new fields may be added.

use std::{fmt::Write, path::Path};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::scenario::{
    units::describe_duration, Comparison, Measure, RoleHolder, Scenario, SessionState,
};

/// The `--json` report of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The scenario's `name`.
    pub scenario: String,
    /// The seed the run used (the scenario's, or `--seed`).
    pub seed: u64,
    /// `pass` when every invariant and expectation held.
    pub verdict: Verdict,
    /// Simulated time covered, in µs.
    pub simulated_us: u64,
    /// Wall-clock time the run took, in ms (the only wall-clock figure).
    pub wall_ms: u64,
    /// Events the simulator processed.
    pub events: u64,
    /// One entry per `[[step]]`, in order.
    pub steps: Vec<StepReport>,
    /// Who held which role at the end, and the session's state.
    #[serde(rename = "final")]
    pub final_state: FinalState,
    /// Client transactions.
    pub transactions: Transactions,
    /// Commit latency of acknowledged transactions, in µs.
    pub commit_latency_us: LatencySummary,
    /// Every role change, in order.
    pub failovers: Vec<FailoverReport>,
    /// Overlaps of a forced-service principal with principals of older role sequences.
    pub split_brain: Vec<SplitBrainReport>,
    /// Queue high-water marks.
    pub queues: Queues,
    /// `sp_dbmmonitorresults` figures: one sample per instance per simulated 15 s.
    pub monitor: Vec<MonitorSample>,
    /// The rows of `SELECT` / `EXEC` steps, as of the moment they ran.
    pub queries: Vec<QueryResult>,
    /// The invariants of spec/scenario.md, each held or broken.
    pub invariants: Vec<InvariantCheck>,
    /// The `[expect]` checks, from [`evaluate_expectations`].
    pub expectations: Vec<ExpectationCheck>,
    /// Remarks about the run itself (absent from the JSON when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// `verdict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every invariant and expectation held: exit 0.
    Pass,
    /// Something failed: exit 1.
    Fail,
}

impl Verdict {
    /// `Pass` exactly when every invariant and every expectation held.
    pub fn of(invariants: &[InvariantCheck], expectations: &[ExpectationCheck]) -> Verdict {
        let held = invariants.iter().all(|check| check.held)
            && expectations.iter().all(|check| check.held);
        if held {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    }
}

/// `steps[]`: one operator step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReport {
    /// The step number, from 1.
    pub step: usize,
    /// The instance it ran on.
    pub on: String,
    /// Its `sql`.
    pub sql: String,
    /// When it started; `null` if it never did.
    pub start_us: Option<u64>,
    /// When it completed; `null` if it never finished.
    pub end_us: Option<u64>,
    /// The SQL Server error number it failed with; `null` on success (or never finished).
    pub error: Option<u32>,
    /// The error's message, as SQL Server words it, with the rule that failed (which of 1418's
    /// causes, which backup is missing); `null` when `error` is. Not in spec/cli.md's example:
    /// a number alone does not tell a DBA which of its causes to fix.
    #[serde(default)]
    pub message: Option<String>,
}

/// `final`: the end of the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalState {
    /// The instance serving the database, or `"none"`.
    pub principal: String,
    /// The mirror, or `"none"`.
    pub mirror: String,
    /// The witness, or `"none"`.
    pub witness: String,
    /// `mirroring_state`, lower case, or `"none"` when no session exists.
    pub state: SessionState,
    /// SAFETY; `"none"` when no session exists.
    #[serde(with = "none_when_absent")]
    pub safety: Option<Safety>,
    /// The witness's state as the principal sees it; `"none"` when no session or no witness
    /// exists.
    #[serde(with = "none_when_absent")]
    pub witness_state: Option<WitnessState>,
    /// `mirroring_role_sequence`.
    pub role_sequence: u64,
    /// `mirroring_failover_lsn`; `null` when no session exists.
    pub failover_lsn: Option<u64>,
}

impl FinalState {
    /// No session, no one serving: the state before anything ran.
    pub fn nothing() -> FinalState {
        FinalState {
            principal: NONE.to_string(),
            mirror: NONE.to_string(),
            witness: NONE.to_string(),
            state: SessionState::NoSession,
            safety: None,
            witness_state: None,
            role_sequence: 0,
            failover_lsn: None,
        }
    }
}

/// The word reports use for "no instance".
pub const NONE: &str = "none";

/// An absent value of `final` written as the string `"none"`, as spec/cli.md writes an absent
/// principal, mirror, witness or state: a reader of the report finds a string in each of
/// these fields, never `null`. Reads `"none"` or `null` as absent.
mod none_when_absent {
    use serde::{de::Error, Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => value.serialize(serializer),
            None => serializer.serialize_str(super::NONE),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum ValueOrNone<T> {
            Value(T),
            Absent(Option<String>),
        }
        match ValueOrNone::<T>::deserialize(deserializer)? {
            ValueOrNone::Value(value) => Ok(Some(value)),
            ValueOrNone::Absent(None) => Ok(None),
            ValueOrNone::Absent(Some(text)) if text == super::NONE => Ok(None),
            ValueOrNone::Absent(Some(text)) => Err(D::Error::custom(format!(
                "expected a value or \"none\", found \"{text}\""
            ))),
        }
    }
}

/// Transaction safety.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Safety {
    /// SAFETY FULL: synchronous commit.
    Full,
    /// SAFETY OFF: asynchronous commit.
    Off,
}

/// Witness state as a partner sees it (reference section 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WitnessState {
    /// UNKNOWN.
    Unknown,
    /// CONNECTED.
    Connected,
    /// DISCONNECTED.
    Disconnected,
}

/// `transactions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transactions {
    /// Transactions the clients started.
    pub submitted: u64,
    /// Commits acknowledged to a client.
    pub acknowledged: u64,
    /// Transactions that got an error (no principal, log full, rolled back by a role change).
    pub failed: u64,
    /// Transactions still waiting for their commit when the run ended.
    pub in_flight: u64,
    /// Acknowledged commits missing from the final principal's database.
    pub lost_acknowledged: u64,
    /// The LSN ranges those lost commits occupied.
    pub lost_lsn_ranges: Vec<LsnRange>,
}

/// A range of log: from `start` (included) to `end` (excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LsnRange {
    /// The first LSN of the range.
    pub start: u64,
    /// The LSN just past the range.
    pub end: u64,
}

/// `commit_latency_us`: percentiles of commit latency, in µs. With no commit measured every
/// figure but `count` is written `null` (as `sim sweep` writes its worst p99): a 0 would read
/// as commits of no latency.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct LatencySummary {
    /// Commits measured.
    pub count: u64,
    /// Median.
    #[serde(deserialize_with = "zero_if_null")]
    pub p50: u64,
    /// 90th percentile.
    #[serde(deserialize_with = "zero_if_null")]
    pub p90: u64,
    /// 99th percentile.
    #[serde(deserialize_with = "zero_if_null")]
    pub p99: u64,
    /// 99.9th percentile.
    #[serde(deserialize_with = "zero_if_null")]
    pub p999: u64,
    /// Largest.
    #[serde(deserialize_with = "zero_if_null")]
    pub max: u64,
    /// Mean.
    #[serde(deserialize_with = "zero_if_null")]
    pub mean: f64,
}

impl Serialize for LatencySummary {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let measured = self.count > 0;
        let figure = |value: u64| measured.then_some(value);
        let mut out = serializer.serialize_struct("LatencySummary", 7)?;
        out.serialize_field("count", &self.count)?;
        out.serialize_field("p50", &figure(self.p50))?;
        out.serialize_field("p90", &figure(self.p90))?;
        out.serialize_field("p99", &figure(self.p99))?;
        out.serialize_field("p999", &figure(self.p999))?;
        out.serialize_field("max", &figure(self.max))?;
        out.serialize_field("mean", &measured.then_some(self.mean))?;
        out.end()
    }
}

/// Reads a `null` figure of [`LatencySummary`] back as the zero it stands for.
fn zero_if_null<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl LatencySummary {
    /// Summarises a histogram of commit latencies recorded in µs; all zero when empty.
    pub fn from_histogram(latencies_us: &hdrhistogram::Histogram<u64>) -> LatencySummary {
        if latencies_us.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: latencies_us.len(),
            p50: latencies_us.value_at_quantile(0.5),
            p90: latencies_us.value_at_quantile(0.9),
            p99: latencies_us.value_at_quantile(0.99),
            p999: latencies_us.value_at_quantile(0.999),
            max: latencies_us.max(),
            mean: latencies_us.mean(),
        }
    }

    /// The summary with its longest latency and its mean exact (`max_us` and `sum_us`, kept
    /// beside the histogram, which rounds each value up to its precision): no percentile is
    /// reported above the longest, and the mean lies between the shortest and the longest (the
    /// histogram's mean of commits of exactly 1 s each read 1,000,192 us, above the max).
    pub fn with_exact_max_and_mean(mut self, max_us: u64, sum_us: u128) -> LatencySummary {
        if self.count == 0 {
            return self;
        }
        self.max = max_us;
        self.mean = sum_us as f64 / self.count as f64;
        for p in [&mut self.p50, &mut self.p90, &mut self.p99, &mut self.p999] {
            *p = (*p).min(max_us);
        }
        self
    }
}

/// How a role change came about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailoverKind {
    /// The mirror took over with the witness's agreement.
    Automatic,
    /// `SET PARTNER FAILOVER`.
    Manual,
    /// `SET PARTNER FORCE_SERVICE_ALLOW_DATA_LOSS`.
    Forced,
}

impl FailoverKind {
    /// The lower-case word reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            FailoverKind::Automatic => "automatic",
            FailoverKind::Manual => "manual",
            FailoverKind::Forced => "forced",
        }
    }
}

/// `failovers[]`: one role change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverReport {
    /// Automatic, manual or forced.
    pub kind: FailoverKind,
    /// When the role change completed.
    pub at_us: u64,
    /// The old principal.
    pub from: String,
    /// The new principal.
    pub to: String,
    /// When the failure was noticed.
    pub detected_us: u64,
    /// From the failure (the fault, or the command for a manual failover) to the moment the
    /// new principal serves.
    pub unavailable_us: u64,
    /// Acknowledged commits this role change lost.
    pub lost_acknowledged: u64,
}

/// `split_brain[]`: a stretch when a forced-service principal and an older one both served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitBrainReport {
    /// When it began: the second of the two started serving.
    pub start_us: u64,
    /// When it ended (or the end of the run): one of them stopped serving; after a forced
    /// service, the one serving the abandoned fork.
    pub end_us: u64,
    /// The two principals. After a forced service they need not serve at the same moment: an
    /// old principal that serves its abandoned fork after the forced one went down still
    /// acknowledges commits the surviving history does not have.
    pub instances: Vec<String>,
    /// What made it: `forced_service`, or `partner_off` (SET PARTNER OFF on an instance whose
    /// partner never heard of it and took over).
    pub cause: String,
}

/// `queues`: high-water marks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queues {
    /// Largest send queue (log not yet sent), bytes.
    pub send_queue_max_bytes: u64,
    /// Largest redo queue (log hardened, not yet redone), bytes.
    pub redo_queue_max_bytes: u64,
}

/// A partner's role in `monitor[]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MirroringRole {
    /// PRINCIPAL.
    Principal,
    /// MIRROR.
    Mirror,
}

/// `monitor[]`: one `sp_dbmmonitorresults` row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonitorSample {
    /// When it was taken.
    pub at_us: u64,
    /// The instance.
    pub on: String,
    /// Its role.
    pub role: MirroringRole,
    /// Its `mirroring_state`.
    pub mirroring_state: SessionState,
    /// The witness as it sees it.
    pub witness_status: WitnessState,
    /// `log_generation_rate`, KB/s.
    pub log_generation_rate_kbs: u64,
    /// `unsent_log` (send queue), KB.
    pub unsent_log_kb: u64,
    /// `send_rate`, KB/s.
    pub send_rate_kbs: u64,
    /// `unrestored_log` (redo queue), KB.
    pub unrestored_log_kb: u64,
    /// `recovery_rate`, KB/s.
    pub recovery_rate_kbs: u64,
    /// `transaction_delay`: total ms commits waited for the mirror.
    pub transaction_delay_ms: u64,
    /// `average_delay`: ms per transaction.
    pub average_delay_ms: f64,
    /// `transactions_per_sec`.
    pub transactions_per_sec: u64,
    /// `time_behind` as of the sample, microseconds (the rows `sp_dbmmonitorresults` returns;
    /// not part of spec/cli.md's `monitor`).
    #[serde(skip)]
    pub time_behind_us: u64,
}

/// `queries[]`: the rows one `SELECT` or `EXEC` step returned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueryResult {
    /// The step number.
    pub step: usize,
    /// The instance it ran on.
    pub on: String,
    /// When it ran.
    pub at_us: u64,
    /// Column names, as SQL Server names them.
    pub columns: Vec<String>,
    /// One array per row, one value per column.
    pub rows: Vec<Vec<Value>>,
}

/// `invariants[]`: one invariant of spec/scenario.md.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvariantCheck {
    /// Its name, e.g. `single_principal`.
    pub name: String,
    /// Whether it held for the whole run.
    pub held: bool,
    /// What broke it, when it broke (absent from the JSON otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `expectations[]`: one `[expect]` check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExpectationCheck {
    /// The key: `principal`, `failovers.automatic`, `step_errors`, ...
    pub name: String,
    /// What the scenario asked for, as it wrote it.
    pub expected: Value,
    /// What the run ended with.
    pub actual: Value,
    /// Whether `actual` satisfies `expected`.
    pub held: bool,
}

impl Report {
    /// The report of a run that simulated nothing: every step unstarted, no session, no
    /// checks, verdict `fail`. The engine fills it in; the placeholder returns it as is.
    pub fn unstarted(scenario: &Scenario, seed: u64) -> Report {
        let steps = scenario
            .steps
            .iter()
            .map(|step| StepReport {
                step: step.number,
                on: scenario.instance_name(step.on).to_string(),
                sql: step.sql.clone(),
                start_us: None,
                end_us: None,
                error: None,
                message: None,
            })
            .collect();
        Report {
            scenario: scenario.name.clone(),
            seed,
            verdict: Verdict::Fail,
            simulated_us: 0,
            wall_ms: 0,
            events: 0,
            steps,
            final_state: FinalState::nothing(),
            transactions: Transactions::default(),
            commit_latency_us: LatencySummary::default(),
            failovers: Vec::new(),
            split_brain: Vec::new(),
            queues: Queues::default(),
            monitor: Vec::new(),
            queries: Vec::new(),
            invariants: Vec::new(),
            expectations: Vec::new(),
            notes: Vec::new(),
        }
    }
}

// ---- [expect] -------------------------------------------------------------------------------

/// How one step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// Every statement succeeded.
    Succeeded,
    /// A statement failed with this SQL Server error number.
    Failed {
        /// The error number.
        error: u32,
    },
    /// Never started, or still running when the run ended: counts as failed.
    Unfinished,
}

/// Role changes by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailoverCounts {
    /// Automatic failovers.
    pub automatic: u64,
    /// Manual failovers.
    pub manual: u64,
    /// Forced services.
    pub forced: u64,
}

/// What a run ended with: the facts `[expect]` is checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActualOutcome {
    /// The instance serving at the end.
    pub principal: RoleHolder,
    /// The mirror at the end.
    pub mirror: RoleHolder,
    /// `mirroring_state` at the end.
    pub state: SessionState,
    /// `mirroring_role_sequence` at the end.
    pub role_sequence: u64,
    /// Acknowledged commits missing from the final principal.
    pub lost_acknowledged: u64,
    /// Whether any split brain was seen.
    pub split_brain: bool,
    /// Role changes by kind.
    pub failovers: FailoverCounts,
    /// One per scenario step, in order; missing entries count as [`StepOutcome::Unfinished`].
    pub steps: Vec<StepOutcome>,
    /// The 99th percentile of commit latency, in ns; `None` when nothing committed.
    pub commit_latency_p99_ns: Option<u64>,
    /// The longest stretch after the workload started with no instance serving, in ns.
    pub unavailable_ns: u64,
}

/// Checks `scenario.expect` against `actual`: one entry per key present in `[expect]`, in the
/// order of spec/scenario.md (`failovers` gives one entry per kind it names). A step that fails
/// unexpectedly fails the run even when `[expect]` does not mention `step_errors`
/// (spec/scenario.md, "Steps"): then a failing `step_errors` entry says so.
///
/// Step errors: a step whose `expect_error` names exactly the error it failed with is not a step
/// error; one with `expect_error` that succeeded is; a step that never finished is a step error
/// that nothing can allow. The `step_errors` list allows the failures it names (step and error
/// number); it does not require them.
pub fn evaluate_expectations(scenario: &Scenario, actual: &ActualOutcome) -> Vec<ExpectationCheck> {
    let expect = &scenario.expect;
    let holder = |holder: RoleHolder| match holder {
        RoleHolder::Nobody => NONE.to_string(),
        RoleHolder::Instance(id) => scenario.instance_name(id).to_string(),
    };
    let mut checks = Vec::new();
    if let Some(principal) = expect.principal {
        checks.push(equality(
            "principal",
            holder(principal),
            holder(actual.principal),
        ));
    }
    if let Some(mirror) = expect.mirror {
        checks.push(equality("mirror", holder(mirror), holder(actual.mirror)));
    }
    if let Some(state) = expect.state {
        checks.push(equality("state", state.as_str(), actual.state.as_str()));
    }
    let counts = [
        ("role_sequence", expect.role_sequence, actual.role_sequence),
        (
            "lost_acknowledged",
            expect.lost_acknowledged,
            actual.lost_acknowledged,
        ),
    ];
    checks.extend(counts.into_iter().filter_map(|(name, expected, value)| {
        expected.map(|expected| count_check(name, expected, value))
    }));
    if let Some(split_brain) = expect.split_brain {
        checks.push(equality("split_brain", split_brain, actual.split_brain));
    }
    checks.extend(failover_checks(scenario, actual));
    let steps = step_errors_check(scenario, actual);
    // Written when [expect] names step_errors (spec/scenario.md: "each one present becomes a
    // named check"), and otherwise only to say why the run fails: a step failed unexpectedly.
    if expect.step_errors.is_some() || !steps.held {
        checks.push(steps);
    }
    if let Some(p99) = expect.commit_latency_p99 {
        checks.push(optional_duration_check(
            "commit_latency_p99",
            p99,
            actual.commit_latency_p99_ns,
        ));
    }
    if let Some(unavailable) = expect.unavailable {
        checks.push(optional_duration_check(
            "unavailable",
            unavailable,
            Some(actual.unavailable_ns),
        ));
    }
    checks
}

fn equality<T: PartialEq + Into<Value>>(name: &str, expected: T, actual: T) -> ExpectationCheck {
    let held = expected == actual;
    ExpectationCheck {
        name: name.to_string(),
        expected: expected.into(),
        actual: actual.into(),
        held,
    }
}

fn comparison_json(comparison: Comparison, measure: Measure) -> Value {
    match (comparison, measure) {
        (Comparison::Equal(value), Measure::Count) => json!(value),
        _ => json!(comparison.describe(measure)),
    }
}

fn count_check(name: &str, expected: Comparison, actual: u64) -> ExpectationCheck {
    ExpectationCheck {
        name: name.to_string(),
        expected: comparison_json(expected, Measure::Count),
        actual: json!(actual),
        held: expected.holds(actual),
    }
}

/// A duration check; `None` (nothing measured) never holds.
fn optional_duration_check(
    name: &str,
    expected: Comparison,
    actual_ns: Option<u64>,
) -> ExpectationCheck {
    let held = actual_ns.is_some_and(|ns| expected.holds(ns));
    // The exact figure, held or not: rounded, a failed check could read the same as the bound
    // it missed ("wanted \"10.71s\", got \"10.71s\""), and one format whatever the verdict
    // is what a tool reading `actual` needs (a held check was rounded, a failed one exact).
    ExpectationCheck {
        name: name.to_string(),
        expected: comparison_json(expected, Measure::Duration),
        actual: actual_ns.map_or_else(
            || json!("nothing measured"),
            |ns| json!(crate::scenario::units::exact_duration(ns)),
        ),
        held,
    }
}

fn failover_checks(scenario: &Scenario, actual: &ActualOutcome) -> Vec<ExpectationCheck> {
    let expected = scenario.expect.failovers;
    [
        (
            "failovers.automatic",
            expected.automatic,
            actual.failovers.automatic,
        ),
        ("failovers.manual", expected.manual, actual.failovers.manual),
        ("failovers.forced", expected.forced, actual.failovers.forced),
    ]
    .into_iter()
    .filter_map(|(name, expected, value)| {
        expected.map(|expected| count_check(name, expected, value))
    })
    .collect()
}

/// One step that did not end as its `expect_error` said.
struct StepError {
    step: usize,
    outcome: StepOutcome,
    expected_error: Option<u32>,
}

impl StepError {
    /// Whether `step_errors` may allow it: only a failure with an error number can be allowed.
    fn allowed_by(&self, scenario: &Scenario) -> bool {
        let StepOutcome::Failed { error } = self.outcome else {
            return false;
        };
        scenario.expect.step_errors.as_ref().is_some_and(|allowed| {
            allowed
                .iter()
                .any(|entry| entry.step == self.step && entry.error == error)
        })
    }

    fn to_json(&self) -> Value {
        match (self.outcome, self.expected_error) {
            (StepOutcome::Failed { error }, _) => json!({"step": self.step, "error": error}),
            (StepOutcome::Unfinished, _) => {
                json!({"step": self.step, "error": null, "outcome": "never finished"})
            }
            (StepOutcome::Succeeded, expected) => json!({
                "step": self.step,
                "error": null,
                "outcome": format!("succeeded; expect_error is {}", expected.unwrap_or(0)),
            }),
        }
    }
}

/// The steps that did not end as the scenario said they would.
fn step_errors(scenario: &Scenario, actual: &ActualOutcome) -> Vec<StepError> {
    scenario
        .steps
        .iter()
        .enumerate()
        .filter_map(|(index, step)| {
            let outcome = actual
                .steps
                .get(index)
                .copied()
                .unwrap_or(StepOutcome::Unfinished);
            let as_expected = match (outcome, step.expect_error) {
                (StepOutcome::Succeeded, None) => true,
                (StepOutcome::Failed { error }, Some(expected)) => error == expected,
                _ => false,
            };
            (!as_expected).then_some(StepError {
                step: step.number,
                outcome,
                expected_error: step.expect_error,
            })
        })
        .collect()
}

fn step_errors_check(scenario: &Scenario, actual: &ActualOutcome) -> ExpectationCheck {
    let errors = step_errors(scenario, actual);
    let expected = scenario
        .expect
        .step_errors
        .as_ref()
        .map_or_else(Vec::new, |allowed| {
            allowed
                .iter()
                .map(|entry| json!({"step": entry.step, "error": entry.error}))
                .collect()
        });
    ExpectationCheck {
        name: "step_errors".to_string(),
        expected: Value::Array(expected),
        actual: Value::Array(errors.iter().map(StepError::to_json).collect()),
        held: errors.iter().all(|error| error.allowed_by(scenario)),
    }
}

// ---- the human report -------------------------------------------------------------------------

/// The short human report: the verdict first, then what failed, then the figures. A failing
/// run ends its first block with the command that reproduces it.
pub fn render_human(report: &Report, scenario_file: &Path) -> String {
    let mut text = String::new();
    verdict_block(&mut text, report, scenario_file);
    figures_block(&mut text, report);
    text
}

fn verdict_block(text: &mut String, report: &Report, scenario_file: &Path) {
    let invariants_held = report.invariants.iter().filter(|check| check.held).count();
    let expectations_held = report
        .expectations
        .iter()
        .filter(|check| check.held)
        .count();
    let verdict = match report.verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
    };
    // Writing to a String cannot fail, here and below.
    let _ = writeln!(
        text,
        "{verdict}  {}  seed {}: {invariants_held}/{} invariants, {expectations_held}/{} \
         expectations held",
        crate::scenario::error::escape_controls(&report.scenario),
        report.seed,
        report.invariants.len(),
        report.expectations.len()
    );
    for check in report.invariants.iter().filter(|check| !check.held) {
        let detail = check.detail.as_deref().unwrap_or("broken");
        let _ = writeln!(text, "  invariant {}: {detail}", check.name);
    }
    for check in report.expectations.iter().filter(|check| !check.held) {
        let _ = writeln!(
            text,
            "  expect {}: wanted {}, got {}",
            check.name, check.expected, check.actual
        );
    }
    for note in &report.notes {
        let _ = writeln!(text, "  note: {note}");
    }
    if report.verdict == Verdict::Fail {
        let _ = writeln!(
            text,
            "reproduce: sim run {} --seed {}",
            scenario_file.display(),
            report.seed
        );
    }
}

/// A moment of the run, in seconds to the millisecond: "90.209s", where a duration's short
/// form would round it to "1.5m".
fn moment(microseconds: u64) -> String {
    let millis = microseconds.saturating_add(500) / 1_000;
    let text = format!("{}.{:03}", millis / 1_000, millis % 1_000);
    format!("{}s", text.trim_end_matches('0').trim_end_matches('.'))
}

fn figures_block(text: &mut String, report: &Report) {
    let us = |microseconds: u64| describe_duration(microseconds.saturating_mul(1_000));
    let end = &report.final_state;
    let _ = writeln!(
        text,
        "\nfinal      principal {}, mirror {}, witness {}, state {}, role sequence {}",
        end.principal,
        end.mirror,
        end.witness,
        end.state.as_str(),
        end.role_sequence
    );
    let tx = &report.transactions;
    let _ = writeln!(
        text,
        "commits    {} acknowledged of {} submitted, {} failed, {} in flight, {} acknowledged \
         and lost",
        tx.acknowledged, tx.submitted, tx.failed, tx.in_flight, tx.lost_acknowledged
    );
    let latency = &report.commit_latency_us;
    if latency.count > 0 {
        let _ = writeln!(
            text,
            "latency    p50 {}, p99 {}, p99.9 {}, max {}",
            us(latency.p50),
            us(latency.p99),
            us(latency.p999),
            us(latency.max)
        );
    }
    for failover in &report.failovers {
        let _ = writeln!(
            text,
            "failover   {} at {}: {} -> {}, unavailable {}, {} acknowledged lost",
            failover.kind.as_str(),
            moment(failover.at_us),
            failover.from,
            failover.to,
            us(failover.unavailable_us),
            failover.lost_acknowledged
        );
    }
    for split in &report.split_brain {
        // Reference section 4: a split brain caused by forced service is reported, not hidden.
        let cause = match split.cause.as_str() {
            "partner_off" => "caused by SET PARTNER OFF that its partner never heard of",
            _ => "caused by forced service",
        };
        let _ = writeln!(
            text,
            "split brain from {} for {}: {} served diverging histories ({cause})",
            moment(split.start_us),
            // The length, not the end: a stretch shorter than the display's rounding (a
            // principal acknowledging queued commits as it resumes) would read "from 45s to 45s".
            us(split.end_us.saturating_sub(split.start_us)),
            split.instances.join(" and ")
        );
    }
    for step in report.steps.iter() {
        if let Some(error) = step.error {
            let message = step.message.as_deref().unwrap_or_default();
            let _ = writeln!(
                text,
                "step {:<6} on {}: error {error}: {message}",
                step.step, step.on
            );
        }
    }
    let unfinished: Vec<String> = report
        .steps
        .iter()
        .filter(|step| step.end_us.is_none() && step.error.is_none())
        .map(|step| step.step.to_string())
        .collect();
    if !unfinished.is_empty() {
        let _ = writeln!(text, "unfinished steps {}", unfinished.join(", "));
    }
    let _ = writeln!(
        text,
        "run        {} simulated in {} ms, {} events",
        us(report.simulated_us),
        report.wall_ms,
        report.events
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{self, InstanceId};

    // A failover at 90.209 s read "at 1.5m".
    #[test]
    fn a_moment_reads_in_seconds_to_the_millisecond() {
        assert_eq!(moment(90_209_007), "90.209s");
        assert_eq!(moment(0), "0s");
        assert_eq!(moment(90_208_000), "90.208s");
        assert_eq!(moment(30_000_000), "30s");
        assert_eq!(moment(500), "0.001s");
        assert_eq!(moment(3_725_500_000), "3725.5s");
    }

    // A duration check shows the exact figure: 10,711,261 us against "< 10.71s" read
    // "wanted \"< 10.71s\", got \"10.71s\"". A check that holds shows it too: it was rounded
    // ("10.71s"), so `actual` had one format for a held check and another for a failed one.
    #[test]
    fn a_duration_check_shows_the_exact_figure_whatever_its_verdict() {
        use crate::scenario::units::Comparison;
        let failed = optional_duration_check(
            "unavailable",
            Comparison::Less(10_710_000_000),
            Some(10_711_261_000),
        );
        assert!(!failed.held);
        assert_eq!(failed.actual, json!("10.711261s"));
        let held = optional_duration_check(
            "unavailable",
            Comparison::Less(20_000_000_000),
            Some(10_711_261_000),
        );
        assert!(held.held);
        assert_eq!(held.actual, json!("10.711261s"));
    }

    const SCENARIO: &str = r#"name = "report-test"
seed = 9
duration = "30s"

[database]
name = "Sales"
on = "alpha"
size = "1GiB"

[[instance]]
name = "alpha"
host = "alpha"
service_account = "CORP\\a"

[[instance]]
name = "beta"
host = "beta"
service_account = "CORP\\b"

[[step]]
on = "alpha"
sql = "SELECT * FROM sys.database_mirroring"

[[step]]
on = "beta"
sql = "SELECT * FROM sys.database_mirroring"

[[step]]
on = "alpha"
sql = "SELECT * FROM sys.database_mirroring"
expect_error = 1418
"#;

    fn scenario_with(expect: &str) -> Scenario {
        let text = format!("{SCENARIO}\n[expect]\n{expect}");
        scenario::parse(&text, Path::new("t.toml")).unwrap_or_else(|error| panic!("{error}"))
    }

    fn outcome() -> ActualOutcome {
        ActualOutcome {
            principal: RoleHolder::Instance(InstanceId(1)),
            mirror: RoleHolder::Instance(InstanceId(0)),
            state: SessionState::Synchronized,
            role_sequence: 1,
            lost_acknowledged: 0,
            split_brain: false,
            failovers: FailoverCounts {
                automatic: 1,
                manual: 0,
                forced: 0,
            },
            steps: vec![
                StepOutcome::Succeeded,
                StepOutcome::Succeeded,
                StepOutcome::Failed { error: 1418 },
            ],
            commit_latency_p99_ns: Some(1_400_000),
            unavailable_ns: 11_200_000_000,
        }
    }

    fn check<'a>(checks: &'a [ExpectationCheck], name: &str) -> &'a ExpectationCheck {
        checks
            .iter()
            .find(|check| check.name == name)
            .unwrap_or_else(|| panic!("no check named {name}: {checks:?}"))
    }

    #[test]
    fn every_key_becomes_a_check_in_spec_order() {
        let scenario = scenario_with(
            r#"principal = "beta"
mirror = "alpha"
state = "synchronized"
role_sequence = 1
lost_acknowledged = 0
split_brain = false
failovers = { automatic = 1, manual = 0, forced = 0 }
step_errors = []
commit_latency_p99 = "< 5ms"
unavailable = "< 15s"
"#,
        );
        let checks = evaluate_expectations(&scenario, &outcome());
        let names: Vec<&str> = checks.iter().map(|check| check.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "principal",
                "mirror",
                "state",
                "role_sequence",
                "lost_acknowledged",
                "split_brain",
                "failovers.automatic",
                "failovers.manual",
                "failovers.forced",
                "step_errors",
                "commit_latency_p99",
                "unavailable",
            ]
        );
        assert!(checks.iter().all(|check| check.held), "{checks:?}");
        let principal = check(&checks, "principal");
        assert_eq!(
            (&principal.expected, &principal.actual),
            (&json!("beta"), &json!("beta"))
        );
        let p99 = check(&checks, "commit_latency_p99");
        assert_eq!(
            (&p99.expected, &p99.actual),
            (&json!("< 5ms"), &json!("1.4ms"))
        );
        assert_eq!(check(&checks, "role_sequence").expected, json!(1));
    }

    #[test]
    fn checks_that_fail_say_what_was_found() {
        let scenario = scenario_with(
            "principal = \"alpha\"\nstate = \"none\"\nlost_acknowledged = \"> 0\"\n\
             split_brain = true\nunavailable = \"< 10s\"\nfailovers = { automatic = 0 }\n",
        );
        let checks = evaluate_expectations(&scenario, &outcome());
        for name in [
            "principal",
            "state",
            "lost_acknowledged",
            "split_brain",
            "unavailable",
            "failovers.automatic",
        ] {
            assert!(!check(&checks, name).held, "{name} should fail: {checks:?}");
        }
        assert_eq!(check(&checks, "principal").actual, json!("beta"));
        assert_eq!(check(&checks, "state").actual, json!("synchronized"));
        assert_eq!(check(&checks, "unavailable").actual, json!("11.2s"));
        // No step failed and [expect] does not name step_errors: no such check.
        assert!(checks.iter().all(|check| check.name != "step_errors"));
    }

    #[test]
    fn nobody_serving_reads_none() {
        let scenario = scenario_with("principal = \"none\"\nmirror = \"none\"\n");
        let mut actual = outcome();
        actual.principal = RoleHolder::Nobody;
        let checks = evaluate_expectations(&scenario, &actual);
        assert!(check(&checks, "principal").held);
        assert_eq!(check(&checks, "principal").actual, json!("none"));
        assert!(!check(&checks, "mirror").held);
    }

    #[test]
    fn no_latency_measured_never_holds() {
        let scenario = scenario_with("commit_latency_p99 = \"< 5ms\"\n");
        let mut actual = outcome();
        actual.commit_latency_p99_ns = None;
        let checks = evaluate_expectations(&scenario, &actual);
        assert!(!check(&checks, "commit_latency_p99").held);
    }

    /// Whether the run's steps pass: the `step_errors` check holds, or there is none (it is
    /// written only when [expect] names it or a step failed unexpectedly).
    fn step_errors_held(expect: &str, steps: Vec<StepOutcome>) -> bool {
        let scenario = scenario_with(expect);
        let actual = ActualOutcome { steps, ..outcome() };
        let checks = evaluate_expectations(&scenario, &actual);
        let found = checks.iter().find(|check| check.name == "step_errors");
        assert_eq!(
            found.is_some(),
            expect.contains("step_errors") || found.is_some_and(|c| !c.held),
            "{checks:?}"
        );
        found.is_none_or(|check| check.held)
    }

    #[test]
    fn step_errors_follow_the_spec() {
        use StepOutcome::{Failed, Succeeded, Unfinished};
        let expected_1418 = Failed { error: 1418 };
        // The expected error of step 3 is not a step error, with or without `step_errors`.
        assert!(step_errors_held(
            "",
            vec![Succeeded, Succeeded, expected_1418]
        ));
        assert!(step_errors_held(
            "step_errors = []",
            vec![Succeeded, Succeeded, expected_1418]
        ));
        // An unexpected failure fails the run even when [expect] does not name step_errors.
        assert!(!step_errors_held(
            "",
            vec![Failed { error: 1418 }, Succeeded, expected_1418]
        ));
        assert!(!step_errors_held(
            "step_errors = []",
            vec![Succeeded, Failed { error: 1 }, expected_1418]
        ));
        // ... unless step_errors allows exactly that step and error.
        let allow = "step_errors = [{ step = 2, error = 1478 }]";
        assert!(step_errors_held(
            allow,
            vec![Succeeded, Failed { error: 1478 }, expected_1418]
        ));
        assert!(!step_errors_held(
            allow,
            vec![Succeeded, Failed { error: 1418 }, expected_1418]
        ));
        assert!(!step_errors_held(
            allow,
            vec![Failed { error: 1478 }, Succeeded, expected_1418]
        ));
        // Allowed, not required.
        assert!(step_errors_held(
            allow,
            vec![Succeeded, Succeeded, expected_1418]
        ));
        // A step that expected an error and succeeded, or failed with another one, is an error.
        assert!(!step_errors_held("", vec![Succeeded, Succeeded, Succeeded]));
        assert!(!step_errors_held(
            "",
            vec![Succeeded, Succeeded, Failed { error: 1412 }]
        ));
        let allow_other = "step_errors = [{ step = 3, error = 1412 }]";
        assert!(step_errors_held(
            allow_other,
            vec![Succeeded, Succeeded, Failed { error: 1412 }]
        ));
        // A step that never finished counts as failed, and nothing allows it.
        assert!(!step_errors_held(
            "",
            vec![Succeeded, Unfinished, expected_1418]
        ));
        assert!(!step_errors_held(
            allow,
            vec![Succeeded, Unfinished, expected_1418]
        ));
        assert!(
            !step_errors_held("", vec![Succeeded, Succeeded]),
            "a missing outcome is unfinished"
        );
    }

    #[test]
    fn step_error_entries_name_the_step_and_the_error() {
        let scenario = scenario_with("");
        let actual = ActualOutcome {
            steps: vec![StepOutcome::Failed { error: 1418 }, StepOutcome::Unfinished],
            ..outcome()
        };
        let step_errors = check(&evaluate_expectations(&scenario, &actual), "step_errors").clone();
        assert_eq!(step_errors.expected, json!([]));
        assert_eq!(
            step_errors.actual,
            json!([
                {"step": 1, "error": 1418},
                {"step": 2, "error": null, "outcome": "never finished"},
                {"step": 3, "error": null, "outcome": "never finished"},
            ])
        );
    }

    #[test]
    fn the_json_report_has_the_fields_of_the_spec() {
        let scenario = scenario_with("");
        let mut report = Report::unstarted(&scenario, 9);
        report.failovers.push(FailoverReport {
            kind: FailoverKind::Automatic,
            at_us: 31_000_000,
            from: "alpha".to_string(),
            to: "beta".to_string(),
            detected_us: 31_000_000,
            unavailable_us: 11_200_000,
            lost_acknowledged: 0,
        });
        let json = serde_json::to_value(&report).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
            "scenario",
            "seed",
            "verdict",
            "simulated_us",
            "wall_ms",
            "events",
            "steps",
            "final",
            "transactions",
            "commit_latency_us",
            "failovers",
            "split_brain",
            "queues",
            "monitor",
            "queries",
            "invariants",
            "expectations",
        ];
        let mut keys_sorted = keys.clone();
        keys_sorted.sort_unstable();
        expected.sort_unstable();
        assert_eq!(keys_sorted, expected, "no notes: no notes key");
        assert_eq!(json["verdict"], json!("fail"));
        assert_eq!(json["seed"], json!(9));
        assert_eq!(json["final"]["principal"], json!("none"));
        assert_eq!(json["final"]["state"], json!("none"));
        assert_eq!(json["final"]["failover_lsn"], json!(null));
        // Strings in every field that names something, as spec/cli.md writes them.
        assert_eq!(json["final"]["safety"], json!("none"));
        assert_eq!(json["final"]["witness_state"], json!("none"));
        assert_eq!(json["steps"][2]["step"], json!(3));
        assert_eq!(json["steps"][2]["end_us"], json!(null));
        assert_eq!(json["failovers"][0]["kind"], json!("automatic"));
        for key in ["count", "p50", "p90", "p99", "p999", "max", "mean"] {
            assert!(json["commit_latency_us"].get(key).is_some(), "{key}");
        }
        for key in [
            "submitted",
            "acknowledged",
            "failed",
            "in_flight",
            "lost_acknowledged",
            "lost_lsn_ranges",
        ] {
            assert!(json["transactions"].get(key).is_some(), "{key}");
        }
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back, report);
        // A session's values are written as themselves and read back.
        report.final_state.safety = Some(Safety::Off);
        report.final_state.witness_state = Some(WitnessState::Disconnected);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["final"]["safety"], json!("off"));
        assert_eq!(json["final"]["witness_state"], json!("disconnected"));
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back, report);
        let mut json = serde_json::to_value(&report).unwrap();
        json["final"]["safety"] = json!("sometimes");
        assert!(serde_json::from_value::<Report>(json).is_err());
    }

    #[test]
    fn a_monitor_sample_serialises_with_the_spec_s_names() {
        let sample = MonitorSample {
            at_us: 60_000_000,
            on: "alpha".to_string(),
            role: MirroringRole::Principal,
            mirroring_state: SessionState::Synchronized,
            witness_status: WitnessState::Connected,
            log_generation_rate_kbs: 3900,
            unsent_log_kb: 12,
            send_rate_kbs: 3900,
            unrestored_log_kb: 40,
            recovery_rate_kbs: 3800,
            transaction_delay_ms: 1200,
            average_delay_ms: 0.6,
            transactions_per_sec: 2000,
            time_behind_us: 59_000_000,
        };
        // `time_behind_us` serves the procedure's rows only: the spec's names, no more.
        let expected = json!({"at_us": 60000000, "on": "alpha", "role": "principal",
            "mirroring_state": "synchronized", "witness_status": "connected",
            "log_generation_rate_kbs": 3900, "unsent_log_kb": 12, "send_rate_kbs": 3900,
            "unrestored_log_kb": 40, "recovery_rate_kbs": 3800, "transaction_delay_ms": 1200,
            "average_delay_ms": 0.6, "transactions_per_sec": 2000});
        assert_eq!(serde_json::to_value(&sample).unwrap(), expected);
    }

    #[test]
    fn latency_summary_from_a_histogram() {
        let mut histogram = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        for latency in 1..=1000 {
            histogram.record(latency).unwrap();
        }
        let summary = LatencySummary::from_histogram(&histogram);
        assert_eq!((summary.count, summary.p50, summary.max), (1000, 500, 1000));
        assert!(summary.p99 >= 989 && summary.p99 <= 991, "{summary:?}");
        let empty = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        assert_eq!(
            LatencySummary::from_histogram(&empty),
            LatencySummary::default()
        );
    }

    // With no commit measured, no figure but the count: a 0 would read as commits that took
    // no time. Either way the summary reads back as it was.
    #[test]
    fn an_empty_latency_summary_writes_null_figures() {
        let json = serde_json::to_value(LatencySummary::default()).unwrap();
        assert_eq!(
            json,
            json!({"count": 0, "p50": null, "p90": null, "p99": null, "p999": null, "max": null, "mean": null})
        );
        let back: LatencySummary = serde_json::from_value(json).unwrap();
        assert_eq!(back, LatencySummary::default());
        let measured = LatencySummary {
            count: 2,
            p50: 610,
            p90: 880,
            p99: 1400,
            p999: 2100,
            max: 10_400,
            mean: 690.5,
        };
        let json = serde_json::to_value(&measured).unwrap();
        assert_eq!(json["p99"], json!(1400));
        assert_eq!(json["mean"], json!(690.5));
        assert_eq!(
            serde_json::from_value::<LatencySummary>(json).unwrap(),
            measured
        );
    }

    /// Commits of exactly 1 s each: the histogram rounds them up (its mean read 1,000,192 us,
    /// above the max); the exact max and sum give 1 s for both.
    #[test]
    fn the_exact_mean_lies_between_the_shortest_and_the_longest() {
        let mut histogram = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        for _ in 0..15 {
            histogram.record(1_000_000).unwrap();
        }
        let rounded = LatencySummary::from_histogram(&histogram);
        assert!(rounded.mean > 1_000_000.0, "{rounded:?}");
        let exact = rounded.with_exact_max_and_mean(1_000_000, 15 * 1_000_000);
        assert_eq!((exact.max, exact.mean), (1_000_000, 1_000_000.0));
        assert_eq!(exact.p99, 1_000_000);
        let empty = LatencySummary::default().with_exact_max_and_mean(0, 0);
        assert_eq!(empty, LatencySummary::default());
    }

    #[test]
    fn the_verdict_needs_everything_held() {
        let invariant = |held| InvariantCheck {
            name: "single_principal".to_string(),
            held,
            detail: None,
        };
        let expectation = |held| ExpectationCheck {
            name: "principal".to_string(),
            expected: json!("beta"),
            actual: json!("beta"),
            held,
        };
        assert_eq!(Verdict::of(&[], &[]), Verdict::Pass);
        assert_eq!(
            Verdict::of(&[invariant(true)], &[expectation(true)]),
            Verdict::Pass
        );
        assert_eq!(
            Verdict::of(&[invariant(false)], &[expectation(true)]),
            Verdict::Fail
        );
        assert_eq!(
            Verdict::of(&[invariant(true)], &[expectation(false)]),
            Verdict::Fail
        );
    }

    #[test]
    fn the_human_report_leads_with_the_verdict() {
        let scenario = scenario_with("principal = \"beta\"");
        let mut report = Report::unstarted(&scenario, 9);
        report.expectations = evaluate_expectations(&scenario, &outcome());
        report.invariants.push(InvariantCheck {
            name: "single_principal".to_string(),
            held: true,
            detail: None,
        });
        report.verdict = Verdict::of(&report.invariants, &report.expectations);
        let text = render_human(&report, Path::new("sims/t.toml"));
        assert!(
            text.starts_with("PASS  report-test  seed 9: 1/1 invariants, 1/1 expectations held\n"),
            "{text}"
        );
        assert!(!text.contains("reproduce"), "{text}");

        report.expectations =
            evaluate_expectations(&scenario_with("principal = \"alpha\""), &outcome());
        report.verdict = Verdict::of(&report.invariants, &report.expectations);
        let text = render_human(&report, Path::new("sims/t.toml"));
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("FAIL  report-test  seed 9: 1/1 invariants, 0/1 expectations held")
        );
        assert_eq!(
            lines.next(),
            Some("  expect principal: wanted \"alpha\", got \"beta\"")
        );
        assert_eq!(
            lines.next(),
            Some("reproduce: sim run sims/t.toml --seed 9")
        );
        assert!(text.contains("unfinished steps 1, 2, 3"), "{text}");
    }
}
