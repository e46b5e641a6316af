//! Tests of spec/scenario.md: the format, its defaults, and one error per rule, each checked
//! for its line and column and for a message that says what to change.

use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::scenario::units::{NANOS_PER_MILLISECOND, NANOS_PER_SECOND};

/// A minimal valid scenario; tests append to it or replace parts of it.
const BASE: &str = r#"name = "t"
duration = "60s"

[database]
name = "Sales"
on = "alpha"
size = "2GiB"

[[instance]]
name = "alpha"
host = "alpha.corp.example"
service_account = "CORP\\svc-alpha"

[[instance]]
name = "beta"
host = "beta.corp.example"
service_account = "CORP\\svc-beta"
"#;

/// Only the keys spec/scenario.md requires: `name`, `duration`, `[database]` (here empty) and one
/// `[[instance]]` with its name. Everything else takes the default the spec shows.
const MINIMAL: &str = r#"name = "m"
duration = "10s"

[database]

[[instance]]
name = "alpha"
"#;

/// The required keys with `[database].on` set, two instances and a `[workload]` that sets
/// neither `rate` nor `clients`.
const MINIMAL_WITH_ON: &str = r#"name = "m"
duration = "10s"

[database]
on = "beta"

[[instance]]
name = "alpha"

[[instance]]
name = "beta"

[workload]
"#;

/// The public acceptance scenarios, copied into `sims/`.
const ACCEPTANCE: &[(&str, &str)] = &[
    (
        "auto-failover-principal-power-off.toml",
        include_str!("../../../../sims/auto-failover-principal-power-off.toml"),
    ),
    (
        "forced-service-high-performance-loses-send-queue.toml",
        include_str!("../../../../sims/forced-service-high-performance-loses-send-queue.toml"),
    ),
    (
        "manual-failover-high-safety.toml",
        include_str!("../../../../sims/manual-failover-high-safety.toml"),
    ),
    (
        "setup-high-safety-witness.toml",
        include_str!("../../../../sims/setup-high-safety-witness.toml"),
    ),
    (
        "setup-without-log-backup-fails-1478.toml",
        include_str!("../../../../sims/setup-without-log-backup-fails-1478.toml"),
    ),
];

/// Every section and every fault kind, to check resolution and the round trip.
const EVERYTHING: &str = r#"name = "everything"
description = "every key of the format"
seed = 42
duration = "2h"

[database]
name = "Sales"
on = "alpha"
recovery_model = "bulk_logged"
size = "10GiB"
log_size = "2GiB"
log_backup_interval = "None"  # keywords in any case

[[instance]]
name = "alpha"
host = "alpha.corp.example"
service_account = "CORP\\svc-alpha"
edition = "standard"
cpus = 16

[[instance]]
name = "beta"
host = "beta.corp.example"
service_account = "CORP\\svc-beta"
cpus = 16

[[instance]]
name = "gamma"
host = "gamma.corp.example"
service_account = "CORP\\svc-gamma"
edition = "express"
redo_threads = 3
cpus = 2

[network]
one_way = "1.5ms"
jitter = "50us"
bandwidth = "10Gbit/s"
compression = 0.5

[[network.link]]
between = ["alpha", "beta"]
one_way = "5ms"

[[network.link]]
between = ["gamma", "beta"]
bandwidth = "100Mbit/s"

[disk]
flush = "1ms"
flush_jitter = "100us"
throughput = "1GB/s"
redo_rate = "50MiB/s"

[workload]
start = "at_start"
clients = 32
think = "1ms"
log_bytes = ["1KiB", "4KiB"]

[[step]]
on = "alpha"
sql = "CREATE ENDPOINT Mirroring STATE = STARTED AS TCP (LISTENER_PORT = 7022) FOR DATABASE_MIRRORING (ROLE = PARTNER)"

[[step]]
on = "beta"
sql = "ALTER DATABASE Sales SET PARTNER = 'TCP://alpha.corp.example:7022'"
at = "10s"
expect_error = 1418

[[fault]]
at = "1m"
kind = "crash"
target = "alpha"

[[fault]]
at = "1m"
kind = "power_off"
target = "beta"

[[fault]]
at = "1m"
kind = "restart"
target = "alpha"

[[fault]]
at = "1m"
kind = "pause"
target = "gamma"

[[fault]]
at = "1m"
kind = "resume"
target = "gamma"

[[fault]]
at = "1m"
kind = "partition"
between = ["alpha", "gamma"]
one_way = true

[[fault]]
at = "1m"
kind = "loss"
rate = 0.25

[[fault]]
at = "1m"
kind = "loss"
between = ["beta", "gamma"]
rate = 1

[[fault]]
at = "1m"
kind = "slow_link"
between = ["alpha", "beta"]
latency = "30ms"

[[fault]]
at = "1m"
kind = "slow_disk"
target = "beta"
flush = "20ms"

[[fault]]
at = "1m"
kind = "disk_full"
target = "beta"

[[fault]]
at = "1m"
kind = "corrupt_page"
target = "alpha"

[[fault]]
at = "1m"
kind = "clock_skew"
target = "gamma"
drift = "-0.5%"

[[fault]]
at = "1m"
kind = "heal"
target = "gamma"

[[fault]]
at = "1m"
kind = "heal"
between = ["alpha", "beta"]

[[fault]]
at = "90m"
kind = "heal"

[expect]
principal = "NONE"
mirror = "alpha"
state = "SYNCHRONIZED"
role_sequence = "1..3"
lost_acknowledged = 0
split_brain = true
failovers = { automatic = ">= 1", forced = 0 }
step_errors = [{ step = 1, error = 1418 }]
commit_latency_p99 = "<= 5ms"
unavailable = "< 15s"
"#;

fn parse_text(text: &str) -> Result<Scenario, ScenarioError> {
    parse(text, Path::new("sims/test.toml"))
}

/// The 1-based line and column where `needle` first occurs in `text`.
fn location_of(text: &str, needle: &str) -> Location {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} is not in the text"));
    Location::of_offset(text, offset)
}

/// Parses `text`, expects bad input at the first occurrence of `at`, with every one of
/// `words` in the message; returns the message.
#[track_caller]
fn assert_error(text: &str, at: &str, words: &[&str]) -> String {
    let error = match parse_text(text) {
        Ok(_) => panic!("accepted, expected an error at {at:?}:\n{text}"),
        Err(error) => error,
    };
    let message = error.to_string();
    let expected = location_of(text, at);
    assert_eq!(error.location(), Some(expected), "{message}");
    assert!(
        message.starts_with(&format!(
            "sims/test.toml:{}:{}: ",
            expected.line, expected.column
        )),
        "{message}"
    );
    for word in words {
        assert!(message.contains(word), "{word:?} missing from: {message}");
    }
    message
}

fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} is not in the text");
    text.replacen(from, to, 1)
}

// ---- what a valid file resolves to ----------------------------------------------------------

#[test]
fn every_acceptance_scenario_is_valid() {
    for (name, text) in ACCEPTANCE {
        let scenario = parse(text, Path::new(name));
        assert!(scenario.is_ok(), "{name}: {}", scenario.unwrap_err());
    }
}

#[test]
fn defaults_are_the_spec_s() {
    let scenario = parse_text(BASE).unwrap();
    assert_eq!(scenario.seed, 0);
    assert_eq!(scenario.description, "");
    assert_eq!(scenario.duration_ns, 60 * NANOS_PER_SECOND);
    let alpha = &scenario.instances[0];
    assert_eq!(alpha.edition, Edition::Enterprise);
    assert_eq!(alpha.cpus, 8);
    assert_eq!(
        alpha.redo_threads, 2,
        "Enterprise, 8 CPUs: one redo thread per 4 CPUs"
    );
    assert_eq!(alpha.service_account, "CORP\\svc-alpha");
    let database = &scenario.database;
    assert_eq!(database.on, InstanceId(0));
    assert_eq!(database.recovery_model, RecoveryModel::Full);
    assert_eq!(database.size_bytes, 2 << 30);
    assert_eq!(database.log_size_bytes, (2u64 << 30) * 4 / 10);
    assert_eq!(
        database.log_backup_interval_ns,
        Some(15 * 60 * NANOS_PER_SECOND)
    );
    let link = scenario.network.default_link;
    assert_eq!(link.one_way_ns, 250_000);
    assert_eq!(link.jitter_ns, 0);
    assert_eq!(link.bandwidth_bits_per_second, 1_000_000_000);
    assert_eq!(scenario.network.compression, 1.0);
    assert_eq!(scenario.disk.flush_ns, 200_000);
    assert_eq!(scenario.disk.flush_jitter_ns, 0);
    assert_eq!(scenario.disk.throughput_bytes_per_second, 500 << 20);
    assert_eq!(scenario.disk.redo_rate_bytes_per_second, 100 << 20);
    assert!(scenario.workload.is_some(), "the spec's default workload");
    assert!(scenario.steps.is_empty() && scenario.faults.is_empty());
    assert_eq!(scenario.expect, Expectations::default());
}

// spec/scenario.md: "Required: `name`, `duration`, `[database]` and at least one
// `[[instance]]`; everything else has the default shown."
#[test]
fn a_scenario_with_only_the_required_keys_takes_the_spec_defaults() {
    let scenario = parse_text(MINIMAL).unwrap();
    let alpha = &scenario.instances[0];
    assert_eq!(alpha.host, "alpha.corp.example");
    assert_eq!(alpha.service_account, "CORP\\svc-alpha");
    let database = &scenario.database;
    assert_eq!(database.name, "Sales");
    assert_eq!(database.on, InstanceId(0), "the first [[instance]]");
    assert_eq!(database.size_bytes, 20 << 30);
    assert_eq!(database.log_size_bytes, (20u64 << 30) * 4 / 10, "8GiB");
    // No [workload] table: the workload the spec shows (it used to mean no transactions).
    assert_the_spec_workload(scenario.workload.as_ref().expect("the default workload"));

    let scenario = parse_text(MINIMAL_WITH_ON).unwrap();
    assert_eq!(scenario.database.on, InstanceId(1), "as written");
    assert_eq!(scenario.instances[1].host, "beta.corp.example");
    assert_eq!(scenario.instances[1].service_account, "CORP\\svc-beta");
    let workload = scenario.workload.unwrap();
    assert_eq!(
        workload.arrivals,
        Arrivals::OpenLoop {
            transactions_per_second: 2000.0
        },
        "neither rate nor clients: the open loop at the rate the spec shows"
    );
    assert_eq!(workload.start, WorkloadStart::AfterSetup);
}

#[test]
fn the_defaults_are_written_out_by_validate() {
    for text in [MINIMAL, MINIMAL_WITH_ON] {
        let resolved = to_toml(&parse_text(text).unwrap());
        for line in [
            "host = \"alpha.corp.example\"\n",
            // A literal string: the backslash as it is, no escape.
            "service_account = 'CORP\\svc-alpha'\n",
            "\n[database]\nname = \"Sales\"\n",
            "size = \"20GiB\"\n",
            "log_size = \"8GiB\"\n",
        ] {
            assert!(
                resolved.contains(line),
                "{line:?} missing from:\n{resolved}"
            );
        }
    }
    let resolved = to_toml(&parse_text(MINIMAL).unwrap());
    assert!(resolved.contains("\non = \"alpha\"\n"), "{resolved}");
    let resolved = to_toml(&parse_text(MINIMAL_WITH_ON).unwrap());
    assert!(resolved.contains("\non = \"beta\"\n"), "{resolved}");
    assert!(
        resolved.contains("host = \"beta.corp.example\"\n"),
        "{resolved}"
    );
    assert!(resolved.contains("\nrate = 2000.0\n"), "{resolved}");
}

#[test]
fn a_scenario_with_only_the_required_keys_runs() {
    let scenario = parse_text(MINIMAL_WITH_ON).unwrap();
    let options = crate::RunOptions {
        seed: scenario.seed,
        ..Default::default()
    };
    let report = crate::run_scenario(&scenario, &options).report;
    assert!(
        report.invariants.iter().all(|invariant| invariant.held),
        "{:?}",
        report.invariants
    );
    assert_eq!(report.verdict, crate::report::Verdict::Pass);
}

#[test]
fn a_workload_without_log_bytes_uses_200_to_4000() {
    let scenario = parse_text(&with("[workload]\nrate = 2000\n")).unwrap();
    assert_the_spec_workload(&scenario.workload.unwrap());
}

/// The `[workload]` spec/scenario.md shows: after setup, open loop at 2,000/s, 200 to 4,000
/// bytes of log a transaction.
fn assert_the_spec_workload(workload: &Workload) {
    assert_eq!(workload.start, WorkloadStart::AfterSetup);
    assert_eq!(
        workload.arrivals,
        Arrivals::OpenLoop {
            transactions_per_second: 2000.0
        }
    );
    assert_eq!(
        (workload.log_bytes_min, workload.log_bytes_max),
        (200, 4000)
    );
}

// reference section 6: "one (Standard edition; or fewer than 5 CPUs); Enterprise with 5+ CPUs:
// one per 4 CPUs". With 5 to 7 CPUs, floor gave the one thread of fewer than 5.
#[test]
fn enterprise_with_five_cpus_or_more_gets_one_redo_thread_per_four_started() {
    let threads = |edition: Edition, cpus| edition.redo_threads_default(cpus);
    assert_eq!(threads(Edition::Enterprise, 4), 1);
    assert_eq!(threads(Edition::Enterprise, 5), 2);
    assert_eq!(threads(Edition::Enterprise, 8), 2);
    assert_eq!(threads(Edition::Enterprise, 9), 3);
    assert_eq!(threads(Edition::Enterprise, 16), 4);
    assert_eq!(threads(Edition::Standard, 16), 1);
}

#[test]
fn every_key_resolves() {
    let scenario = parse_text(EVERYTHING).unwrap();
    let [alpha, beta, gamma] = [InstanceId(0), InstanceId(1), InstanceId(2)];
    assert_eq!(scenario.seed, 42);
    assert_eq!(scenario.duration_ns, 2 * 3600 * NANOS_PER_SECOND);
    assert_eq!(
        scenario.instances[0].redo_threads, 1,
        "Standard: one redo thread"
    );
    assert_eq!(scenario.instances[1].redo_threads, 4, "Enterprise, 16 CPUs");
    assert_eq!(scenario.instances[2].redo_threads, 3, "as written");
    assert_eq!(scenario.database.recovery_model, RecoveryModel::BulkLogged);
    assert_eq!(scenario.database.log_size_bytes, 2 << 30);
    assert_eq!(scenario.database.log_backup_interval_ns, None);
    let network = &scenario.network;
    assert_eq!(network.compression, 0.5);
    assert_eq!(network.default_link.one_way_ns, 1_500_000);
    let alpha_beta = network.link_between(beta, alpha);
    assert_eq!(alpha_beta.one_way_ns, 5 * NANOS_PER_MILLISECOND);
    assert_eq!(alpha_beta.jitter_ns, 50_000, "inherited from [network]");
    assert_eq!(alpha_beta.bandwidth_bits_per_second, 10_000_000_000);
    assert_eq!(
        network.link_between(beta, gamma).bandwidth_bits_per_second,
        100_000_000
    );
    assert_eq!(network.link_between(alpha, gamma), network.default_link);
    assert_eq!(scenario.disk.throughput_bytes_per_second, 1_000_000_000);
    let workload = scenario.workload.as_ref().unwrap();
    assert_eq!(workload.start, WorkloadStart::AtStart);
    assert_eq!(
        workload.arrivals,
        Arrivals::ClosedLoop {
            clients: 32,
            think_ns: NANOS_PER_MILLISECOND
        }
    );
    assert_eq!(
        (workload.log_bytes_min, workload.log_bytes_max),
        (1024, 4096)
    );
    let step = &scenario.steps[1];
    assert_eq!(
        (step.number, step.on, step.at_ns, step.expect_error),
        (2, beta, Some(10 * NANOS_PER_SECOND), Some(1418))
    );
    let kinds: Vec<FaultKind> = scenario.faults.iter().map(|fault| fault.kind).collect();
    assert_eq!(
        kinds,
        vec![
            FaultKind::Crash { target: alpha },
            FaultKind::PowerOff { target: beta },
            FaultKind::Restart { target: alpha },
            FaultKind::Pause { target: gamma },
            FaultKind::Resume { target: gamma },
            FaultKind::Partition {
                between: [alpha, gamma],
                one_way: true
            },
            FaultKind::Loss {
                between: None,
                rate: 0.25
            },
            FaultKind::Loss {
                between: Some([beta, gamma]),
                rate: 1.0
            },
            FaultKind::SlowLink {
                between: [alpha, beta],
                latency_ns: 30 * NANOS_PER_MILLISECOND,
                one_way: false
            },
            FaultKind::SlowDisk {
                target: beta,
                flush_ns: 20 * NANOS_PER_MILLISECOND
            },
            FaultKind::DiskFull { target: beta },
            FaultKind::CorruptPage { target: alpha },
            FaultKind::ClockSkew {
                target: gamma,
                drift_ppm: -5_000
            },
            FaultKind::Heal {
                scope: HealScope::Instance(gamma)
            },
            FaultKind::Heal {
                scope: HealScope::Link([alpha, beta])
            },
            FaultKind::Heal {
                scope: HealScope::Everything
            },
        ]
    );
    assert_eq!(scenario.faults[15].at_ns, 90 * 60 * NANOS_PER_SECOND);
    let expect = &scenario.expect;
    assert_eq!(expect.principal, Some(RoleHolder::Nobody));
    assert_eq!(expect.mirror, Some(RoleHolder::Instance(alpha)));
    assert_eq!(expect.state, Some(SessionState::Synchronized));
    assert_eq!(
        expect.role_sequence,
        Some(Comparison::Within { low: 1, high: 3 })
    );
    assert_eq!(expect.lost_acknowledged, Some(Comparison::Equal(0)));
    assert_eq!(expect.split_brain, Some(true));
    assert_eq!(
        expect.failovers,
        FailoverExpectations {
            automatic: Some(Comparison::GreaterOrEqual(1)),
            manual: None,
            forced: Some(Comparison::Equal(0)),
        }
    );
    assert_eq!(
        expect.step_errors,
        Some(vec![AllowedStepError {
            step: 1,
            error: 1418
        }])
    );
    assert_eq!(
        expect.commit_latency_p99,
        Some(Comparison::LessOrEqual(5 * NANOS_PER_MILLISECOND))
    );
    assert_eq!(
        expect.unavailable,
        Some(Comparison::Less(15 * NANOS_PER_SECOND))
    );
}

// spec/scenario.md: "a numeric key takes a number (must be equal)". A duration's bare 0 needs
// no unit (it was refused: "needs a unit"); any other bare number still does.
#[test]
fn a_bare_zero_is_a_duration_of_zero() {
    let scenario = parse_text(&with("[expect]\nunavailable = 0\n")).unwrap();
    assert_eq!(scenario.expect.unavailable, Some(Comparison::Equal(0)));
    assert_error(
        &with("[expect]\nunavailable = 1\n"),
        "1\n",
        &["1 needs a unit"],
    );
}

#[test]
fn the_resolved_text_parses_back_to_the_same_scenario() {
    let texts = ACCEPTANCE.iter().map(|(_, text)| *text).chain([
        BASE,
        EVERYTHING,
        MINIMAL,
        MINIMAL_WITH_ON,
    ]);
    for text in texts {
        let scenario = parse_text(text).unwrap();
        let resolved = to_toml(&scenario);
        let again = parse_text(&resolved).unwrap_or_else(|error| panic!("{error}\n{resolved}"));
        assert_eq!(again, scenario, "{resolved}");
        assert_eq!(to_toml(&again), resolved, "canonical text is a fixed point");
    }
}

// ---- one error per rule ---------------------------------------------------------------------

#[test]
fn the_public_bad_scenarios_are_rejected_where_they_go_wrong() {
    let bare = include_str!("../../../../sims/bad/bare-number-duration.toml");
    let message = assert_error(bare, "30\n", &["duration: 30 needs a unit", "\"30s\""]);
    assert!(message.starts_with("sims/test.toml:4:12: "), "{message}");
    let unknown_key = include_str!("../../../../sims/bad/unknown-key.toml");
    assert_error(
        unknown_key,
        "durration",
        &["unknown key `durration`", "`duration`"],
    );
    let unknown_instance = include_str!("../../../../sims/bad/fault-unknown-instance.toml");
    assert_error(
        unknown_instance,
        "\"delta\"",
        &["target", "\"delta\"", "alpha, beta"],
    );
}

#[test]
fn a_duration_string_without_a_unit() {
    let text = replaced(BASE, "duration = \"60s\"", "duration = \"30\"");
    let message = assert_error(&text, "\"30\"", &[]);
    assert!(
        message.ends_with("duration: \"30\" needs a unit, e.g. \"30s\" or \"30ms\""),
        "{message}"
    );
}

#[test]
fn top_level_errors() {
    let missing_name = BASE.replacen("name = \"t\"\n", "", 1);
    let message = parse_text(&missing_name).unwrap_err().to_string();
    assert!(message.starts_with("sims/test.toml:"), "{message}");
    assert!(message.contains("missing key `name`"), "{message}");
    assert_error(
        &replaced(BASE, "name = \"t\"", "name = \" \""),
        "\" \"",
        &["name", "empty"],
    );
    assert_error(
        &format!("seed = -1\n{BASE}"),
        "-1",
        &["seed", "out of range"],
    );
    for (duration, words) in [
        ("\"0s\"", &["greater than 0s"][..]),
        ("\"31d\"", &["at most 30 days"]),
        ("\"99999999999h\"", &["at most 30d"]),
        ("\"10 parsecs\"", &["unknown unit \"parsecs\""]),
        ("\"-5s\"", &["negative"]),
        ("true", &["expected a duration"]),
        ("1.5", &["1.5 needs a unit", "\"1.5s\""]),
    ] {
        let text = replaced(BASE, "\"60s\"", duration);
        assert_error(&text, duration, words);
    }
    assert_error(&with("nonsense = = 1\n"), "= 1", &[]);
}

// spec/scenario.md: "Every value is checked before the run starts"; the protocol numbers
// instances with one byte, so a 256th [[instance]] is refused at its header, not at run time
// (it passed validation and then panicked).
#[test]
fn at_most_255_instances() {
    let more = |n: usize| {
        let extra: String = (3..=n)
            .map(|i| format!("\n[[instance]]\nname = \"i{i}\"\n"))
            .collect();
        with(&extra)
    };
    assert!(parse_text(&more(255)).is_ok());
    let text = more(256);
    let message = assert_error(&text, "[[instance]]\nname = \"i256\"", &["at most 255"]);
    assert!(message.contains("instance"), "{message}");
}

// spec/scenario.md: the tables are written with their keys. The reader would take an array of
// the values in field order, giving each to whichever key sits at its position.
#[test]
fn a_table_written_as_an_array_of_values_is_refused() {
    let base = EVERYTHING;
    let text = replaced(
        base,
        "failovers = { automatic = \">= 1\", forced = 0 }",
        "failovers = [1, 0, 0]",
    );
    assert_error(&text, "[1, 0, 0]", &["expect.failovers", "not an array"]);
    let text = replaced(
        base,
        "step_errors = [{ step = 1, error = 1418 }]",
        "step_errors = [[1, 1418]]",
    );
    assert_error(&text, "[1, 1418]]", &["expect.step_errors", "each entry"]);
}

#[test]
fn instance_errors() {
    let no_instances = &BASE[..BASE.find("[[instance]]").unwrap()];
    let message = parse_text(no_instances).unwrap_err().to_string();
    assert!(message.contains("at least one [[instance]]"), "{message}");
    assert!(message.starts_with("sims/test.toml:1:1: "), "{message}");

    let twice =
        with("\n[[instance]]\nname = \"alpha\"\nhost = \"other\"\nservice_account = \"x\"\n");
    let message = parse_text(&twice).unwrap_err().to_string();
    assert!(
        message.contains("\"alpha\" is already used on line 10"),
        "{message}"
    );
    assert!(message.starts_with("sims/test.toml:20:8: "), "{message}");

    let same_host = with(
        "\n[[instance]]\nname = \"gamma\"\nhost = \"BETA.corp.example\"\nservice_account = \"x\"\n",
    );
    assert_error(
        &same_host,
        "\"BETA.corp",
        &["hosts must be unique", "line 16"],
    );

    let edition = replaced(
        BASE,
        "service_account = \"CORP\\\\svc-beta\"",
        "service_account = \"x\"\nedition = \"enterprize\"",
    );
    assert_error(
        &edition,
        "\"enterprize\"",
        &["edition", "enterprise, standard"],
    );
    let cpus = with("cpus = 0\n");
    assert_error(&cpus, "0\n", &["instance 2: cpus", "from 1 to 1024"]);
    let threads = with("redo_threads = 0\n");
    assert_error(&threads, "0\n", &["redo_threads", "from 1"]);
    let none = replaced(BASE, "name = \"beta\"", "name = \"none\"");
    assert_error(&none, "\"none\"", &["choose another name"]);
    let none = replaced(BASE, "name = \"beta\"", "name = \"None\"");
    assert_error(&none, "\"None\"", &["choose another name"]);
    let empty_host = replaced(BASE, "host = \"beta.corp.example\"", "host = \" \"");
    assert_error(
        &empty_host,
        "\" \"",
        &["instance 2: host", "must not be empty"],
    );
    let empty_account = replaced(BASE, "\"CORP\\\\svc-beta\"", "\"\"");
    assert_error(
        &empty_account,
        "\"\"\n",
        &["instance 2: service_account", "must not be empty"],
    );
    let no_name = replaced(BASE, "name = \"beta\"\n", "");
    assert_error(
        &no_name,
        "[[instance]]\nhost = \"beta",
        &["missing key `name`", "no default"],
    );
    let misspelt = with("servce_account = \"x\"\n");
    assert_error(
        &misspelt,
        "servce_account",
        &["did you mean `service_account`?"],
    );
}

// A defaulted host is checked like a written one: unique, case aside. It has no value in the
// file, so the error points at the name it is made from.
#[test]
fn a_defaulted_host_must_be_unique_too() {
    let no_host = replaced(BASE, "host = \"beta.corp.example\"\n", "");
    assert_eq!(
        parse_text(&no_host).unwrap().instances[1].host,
        "beta.corp.example"
    );

    let taken = replaced(&no_host, "\"alpha.corp.example\"", "\"Beta.corp.example\"");
    let message = assert_error(
        &taken,
        "\"beta\"\n",
        &[
            "instance 2: host: not set, so it is \"beta.corp.example\"",
            "the default for the name \"beta\"",
            "already used on line 11",
            "hosts must be unique",
        ],
    );
    assert!(message.starts_with("sims/test.toml:15:8: "), "{message}");

    // The other way round: a written host that an earlier instance has by default.
    let no_alpha_host = replaced(BASE, "host = \"alpha.corp.example\"\n", "");
    let taken = replaced(
        &no_alpha_host,
        "\"beta.corp.example\"",
        "\"ALPHA.corp.example\"",
    );
    assert_error(
        &taken,
        "\"ALPHA.corp",
        &[
            "instance 2: host: \"ALPHA.corp.example\"",
            "is already the host of instance \"alpha\" (line 10) by default",
            "hosts must be unique",
        ],
    );

    // Names differ by case, hosts do not: both defaulted, still a collision.
    let both = with("\n[[instance]]\nname = \"ALPHA\"\n");
    let no_alpha_host = replaced(&both, "host = \"alpha.corp.example\"\n", "");
    assert_error(
        &no_alpha_host,
        "\"ALPHA\"",
        &[
            "instance 3: host: not set, so it is \"ALPHA.corp.example\"",
            "is already the host of instance \"alpha\" (line 10) by default",
        ],
    );
}

#[test]
fn database_errors() {
    let on = replaced(BASE, "on = \"alpha\"", "on = \"delta\"");
    assert_error(
        &on,
        "\"delta\"",
        &["database.on", "no instance is named \"delta\""],
    );
    for (size, words) in [
        ("\"0B\"", &["database.size", "greater than 0"][..]),
        ("20", &["20 needs a unit", "\"20MiB\""]),
        ("\"2 gigs\"", &["unknown unit"]),
    ] {
        assert_error(&replaced(BASE, "\"2GiB\"", size), size, words);
    }
    let model = replaced(
        BASE,
        "size = \"2GiB\"",
        "size = \"2GiB\"\nrecovery_model = \"fulll\"",
    );
    assert_error(&model, "\"fulll\"", &["full, bulk_logged, simple"]);
    let never = replaced(
        BASE,
        "size = \"2GiB\"",
        "size = \"2GiB\"\nlog_backup_interval = \"never\"",
    );
    assert_error(&never, "\"never\"", &["nor \"none\""]);
    let zero = replaced(
        BASE,
        "size = \"2GiB\"",
        "size = \"2GiB\"\nlog_backup_interval = \"0s\"",
    );
    assert_error(&zero, "\"0s\"", &["at least 1s"]);
    // A job every microsecond would make a short run take minutes.
    let tiny = replaced(
        BASE,
        "size = \"2GiB\"",
        "size = \"2GiB\"\nlog_backup_interval = \"1us\"",
    );
    assert_error(&tiny, "\"1us\"", &["log_backup_interval", "at least 1s"]);
    let log = replaced(
        BASE,
        "size = \"2GiB\"",
        "size = \"2GiB\"\nlog_size = \"0KiB\"",
    );
    assert_error(&log, "\"0KiB\"", &["log_size", "greater than 0"]);
}

#[test]
fn network_and_disk_errors() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "[network]\nbandwidth = \"0Gbit/s\"\n",
            "\"0Gbit/s\"",
            &["network.bandwidth", "greater than 0"],
        ),
        (
            "[network]\nbandwidth = \"1Gbit\"\n",
            "\"1Gbit\"",
            &["unknown unit \"Gbit\"", "Gbit/s"],
        ),
        (
            "[network]\ncompression = 0\n",
            "0\n",
            &["compression", "(0, 1]"],
        ),
        (
            "[network]\ncompression = 1.5\n",
            "1.5",
            &["compression", "(0, 1]"],
        ),
        (
            "[network]\ncompression = \"0.5\"\n",
            "\"0.5\"",
            &["a number from 0 to 1"],
        ),
        ("[network]\none_way = \"-1ms\"\n", "\"-1ms\"", &["negative"]),
        (
            "[[network.link]]\nbetween = [\"alpha\"]\n",
            "[\"alpha\"]",
            &["exactly two"],
        ),
        (
            "[[network.link]]\nbetween = [\"alpha\", \"alpha\"]\n",
            "\"alpha\"]",
            &["same instance twice"],
        ),
        (
            "[[network.link]]\nbetween = [\"alpha\", \"delta\"]\n",
            "\"delta\"",
            &["network.link 1: between", "\"delta\""],
        ),
        (
            "[[network.link]]\nbetween = [\"alpha\", \"beta\"]\nlatency = \"1ms\"\n",
            "latency",
            &["unknown key `latency`"],
        ),
        (
            "[disk]\nthroughput = \"1bit/s\"\n",
            "\"1bit/s\"",
            &["whole number of bytes per second"],
        ),
        (
            "[disk]\nflush = \"fast\"\n",
            "\"fast\"",
            &["disk.flush", "not a number with a unit"],
        ),
        (
            "[disk]\nredo_rate = 100\n",
            "100",
            &["100 needs a unit", "\"100MiB/s\""],
        ),
    ];
    for (extra, at, words) in cases {
        assert_error(&with(extra), at, words);
    }
    let twice = with("[[network.link]]\nbetween = [\"alpha\", \"beta\"]\n[[network.link]]\nbetween = [\"beta\", \"alpha\"]\n");
    assert_error(
        &twice,
        "[\"beta\", \"alpha\"]",
        &["one [[network.link]] per pair", "line 19"],
    );
}

#[test]
fn workload_errors() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("rate = 10\nclients = 2\n", "2\n", &["not both"]),
        (
            "think = \"1ms\"\n",
            "\"1ms\"",
            &["closed loop", "rate = 2000 by default", "set `clients`"],
        ),
        ("rate = 0\n", "0\n", &["workload.rate", "greater than 0"]),
        ("rate = 20000000\n", "20000000", &["at most 10000000"]),
        ("rate = nan\n", "nan", &["workload.rate"]),
        (
            "rate = \"1000/s\"\n",
            "\"1000/s\"",
            &["a number of transactions per second"],
        ),
        ("clients = 100001\n", "100001", &["from 1 to 100000"]),
        ("clients = 0\n", "0\n", &["from 1 to 100000"]),
        ("rate = 5\nthink = \"1ms\"\n", "\"1ms\"", &["closed loop"]),
        ("clients = 5\nthink = 3\n", "3\n", &["3 needs a unit"]),
        (
            "rate = 5\nlog_bytes = [0, 10]\n",
            "[0, 10]",
            &["1 <= least <= most"],
        ),
        (
            "rate = 5\nlog_bytes = [10, 5]\n",
            "[10, 5]",
            &["1 <= least <= most"],
        ),
        ("rate = 5\nlog_bytes = [10]\n", "[10]", &["[least, most]"]),
        (
            "rate = 5\nlog_bytes = [\"1 KiB\", \"1 parsec\"]\n",
            "[\"1 KiB\"",
            &["unknown unit \"parsec\""],
        ),
        (
            "rate = 5\nstart = \"later\"\n",
            "\"later\"",
            &["after_setup, at_start"],
        ),
        ("rate = 5\nrte = 6\n", "rte", &["did you mean `rate`?"]),
    ];
    for (extra, at, words) in cases {
        assert_error(&with(&format!("[workload]\n{extra}")), at, words);
    }
}

#[test]
fn step_errors_in_steps() {
    let step = |extra: &str| {
        with(&format!(
            "[[step]]\non = \"alpha\"\nsql = \"SELECT * FROM sys.database_mirroring\"\n{extra}"
        ))
    };
    assert_error(
        &replaced(&step(""), "on = \"alpha\"\nsql", "on = \"delta\"\nsql"),
        "\"delta\"",
        &["step 1: on", "\"delta\""],
    );
    assert_error(
        &step("expect_error = 0\n"),
        "0\n",
        &["step 1: expect_error", "from 1"],
    );
    assert_error(&step("at = \"5\"\n"), "\"5\"", &["step 1: at", "\"5s\""]);
    assert_error(&step("when = \"5s\"\n"), "when", &["unknown key `when`"]);
    assert_error(
        &with("[[step]]\non = \"alpha\"\n"),
        "[[step]]",
        &["missing key `sql`"],
    );
}

// Words in the format are read without regard to case (`edition`, `recovery_model`, `state`):
// a fault's `kind` too (it refused "Crash").
#[test]
fn a_fault_kind_is_read_without_regard_to_case() {
    let text = with("[[fault]]\nat = \"1s\"\nkind = \" Crash\"\ntarget = \"alpha\"\n");
    let scenario = parse_text(&text).expect("valid");
    assert!(matches!(
        scenario.faults.last().map(|f| &f.kind),
        Some(FaultKind::Crash { .. })
    ));
}

#[test]
fn fault_errors() {
    let fault = |body: &str| with(&format!("[[fault]]\nat = \"1s\"\n{body}"));
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "kind = \"meteor\"\ntarget = \"alpha\"\n",
            "\"meteor\"",
            &["fault 1: kind", "crash, power_off"],
        ),
        (
            "kind = \"crash\"\nbetween = [\"alpha\", \"beta\"]\n",
            "[\"alpha\"",
            &["does not apply to a crash fault", "target"],
        ),
        ("kind = \"crash\"\n", "\"crash\"", &["needs `target`"]),
        (
            "kind = \"partition\"\n",
            "\"partition\"",
            &["needs `between`"],
        ),
        (
            "kind = \"partition\"\nbetween = [\"alpha\", \"zeta\"]\n",
            "\"zeta\"",
            &["\"zeta\""],
        ),
        ("kind = \"loss\"\nrate = 1.5\n", "1.5", &["rate", "[0, 1]"]),
        ("kind = \"loss\"\n", "\"loss\"", &["needs `rate`"]),
        (
            "kind = \"slow_link\"\nbetween = [\"alpha\", \"beta\"]\n",
            "\"slow_link\"",
            &["needs `latency`"],
        ),
        (
            "kind = \"slow_link\"\nbetween = [\"alpha\", \"beta\"]\nlatency = 5\n",
            "5\n",
            &["5 needs a unit"],
        ),
        (
            "kind = \"slow_disk\"\ntarget = \"beta\"\nflush = \"slow\"\n",
            "\"slow\"",
            &["flush"],
        ),
        (
            "kind = \"clock_skew\"\ntarget = \"beta\"\ndrift = \"2\"\n",
            "\"2\"",
            &["drift", "\"+2%\""],
        ),
        // A bare fraction, as the fault table words it: 0.02 is 2%.
        (
            "kind = \"clock_skew\"\ntarget = \"beta\"\ndrift = -0.005\n",
            "-0.005",
            &["drift", "\"-0.5%\""],
        ),
        (
            "kind = \"clock_skew\"\ntarget = \"beta\"\ndrift = \"-100%\"\n",
            "\"-100%\"",
            &["greater than -100%"],
        ),
        (
            "kind = \"heal\"\ntarget = \"beta\"\nbetween = [\"alpha\", \"beta\"]\n",
            "[\"alpha\"",
            &["not both"],
        ),
        (
            "kind = \"pause\"\ntarget = \"alpha\"\nflush = \"1ms\"\n",
            "\"1ms\"",
            &["does not apply to a pause fault"],
        ),
        (
            "kind = \"crash\"\ntargte = \"alpha\"\n",
            "targte",
            &["did you mean `target`?"],
        ),
    ];
    for (body, at, words) in cases {
        assert_error(&fault(body), at, words);
    }
    assert_error(
        &with("[[fault]]\nat = 20\nkind = \"crash\"\ntarget = \"alpha\"\n"),
        "20",
        &["fault 1: at", "\"20s\""],
    );
}

// A comparison's text is said once: `"~~ 3" is not a whole number`, not `"~~ 3" "~~ 3" ...`;
// a bad operand inside an operator is named after the whole text.
#[test]
fn a_bad_comparison_says_its_text_once() {
    let text = with("\n[expect]\nrole_sequence = \"~~ 3\"\n");
    let message = assert_error(&text, "\"~~ 3\"", &["expect.role_sequence"]);
    assert!(
        message.ends_with(
            "expect.role_sequence: \"~~ 3\" is not a whole number; write e.g. \"> 0\", \"<= 2\" or \"1..3\""
        ),
        "{message}"
    );
    let text = with("\n[expect]\nrole_sequence = \"> x\"\n");
    let message = assert_error(&text, "\"> x\"", &[]);
    assert!(
        message.contains("expect.role_sequence: \"> x\": \"x\" is not a whole number"),
        "{message}"
    );
}

// TOML type errors name the key and say what it takes in the scenario's words; a key set twice
// is named; `[instance]` for `[[instance]]` says so; control characters are escaped.
#[test]
fn reader_errors_name_the_key_in_the_files_words() {
    let seed = assert_error(
        &replaced(BASE, "duration = \"60s\"", "seed = 1.5\nduration = \"60s\""),
        "1.5",
        &["seed: expected a whole number, found 1.5"],
    );
    assert!(!seed.contains("floating point"), "{seed}");
    assert_error(
        &replaced(
            BASE,
            "duration = \"60s\"",
            "duration = \"60s\"\nname = \"u\"",
        ),
        "name = \"u\"",
        &["duplicate key `name`"],
    );
    assert_error(
        &with("\n[expect]\nfailovers = \"none\"\n"),
        "\"none\"",
        &[
            "expect.failovers: expected a table, e.g. { automatic = 1",
            "found \"none\"",
        ],
    );
    assert_error(
        &replaced(
            BASE,
            "[[instance]]\nname = \"alpha\"",
            "[instance]\nname = \"alpha\"",
        ),
        "instance]]",
        &["[instance] declares a single table", "write [[instance]]"],
    );
    let nul = assert_error(
        &with("\n[[step]]\non = \"alpha\"\nsql = \"BACKUP\\u0000DATABASE Sales\"\n"),
        "\\u0000",
        &["\\u{0}"],
    );
    assert!(!nul.contains('\0'), "{nul:?}");
}

#[test]
fn expectation_errors() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "principal = \"delta\"\n",
            "\"delta\"",
            &["expect.principal", "\"delta\""],
        ),
        ("mirror = \"zeta\"\n", "\"zeta\"", &["expect.mirror"]),
        (
            "state = \"synced\"\n",
            "\"synced\"",
            &["synchronized, synchronizing"],
        ),
        ("role_sequence = \"< 0\"\n", "\"< 0\"", &["can never hold"]),
        ("role_sequence = -1\n", "-1", &["negative"]),
        (
            "lost_acknowledged = \"> x\"\n",
            "\"> x\"",
            &["not a whole number"],
        ),
        (
            "lost_acknowledged = \"5..2\"\n",
            "\"5..2\"",
            &["empty range"],
        ),
        (
            "lost_acknowledged = true\n",
            "true",
            &["a whole number or a comparison"],
        ),
        (
            "commit_latency_p99 = \"< 5\"\n",
            "\"< 5\"",
            &["needs a unit", "\"5s\""],
        ),
        ("unavailable = 15\n", "15", &["15 needs a unit"]),
        (
            "step_errors = [{ step = 1, error = 1418 }]\n",
            "1, error",
            &["no [[step]]"],
        ),
        (
            "failovers = { automatc = 1 }\n",
            "automatc",
            &["did you mean `automatic`?"],
        ),
        (
            "failovers = { manual = \"many\" }\n",
            "\"many\"",
            &["expect.failovers.manual"],
        ),
        (
            "witness = \"gamma\"\n",
            "witness",
            &["unknown key `witness`"],
        ),
    ];
    for (body, at, words) in cases {
        assert_error(&with(&format!("[expect]\n{body}")), at, words);
    }
    let one_step = with("[[step]]\non = \"alpha\"\nsql = \"SELECT * FROM sys.database_mirroring\"\n[expect]\nstep_errors = [{ step = 2, error = 1418 }]\n");
    assert_error(&one_step, "2, error", &["from 1 to 1"]);
    let error_zero = with("[[step]]\non = \"alpha\"\nsql = \"SELECT * FROM sys.database_mirroring\"\n[expect]\nstep_errors = [{ step = 1, error = 0 }]\n");
    assert_error(&error_zero, "0 }", &["expect.step_errors: error", "from 1"]);
}

#[test]
fn unreadable_files_are_bad_input_too() {
    let missing = load(Path::new("/nonexistent/scenario.toml")).unwrap_err();
    assert!(matches!(missing, ScenarioError::Unreadable { .. }));
    assert!(missing
        .to_string()
        .starts_with("/nonexistent/scenario.toml: cannot read"));
    let directory = load(Path::new("/")).unwrap_err();
    assert!(
        matches!(directory, ScenarioError::Unreadable { .. }),
        "{directory}"
    );
    // A byte that is not UTF-8 is located as an editor counts, by line and column.
    let file = std::env::temp_dir().join(format!("mirrorsim-latin1-{}.toml", std::process::id()));
    std::fs::write(&file, b"name = \"x\"\ndescription = \"caf\xe9\"\n").expect("written");
    let latin1 = load(&file).unwrap_err().to_string();
    std::fs::remove_file(&file).ok();
    assert!(
        latin1.contains("not UTF-8 text: line 2, column 19"),
        "{latin1}"
    );
}

// ---- no input panics ------------------------------------------------------------------------

/// Values that stress every reader: wrong types, bad units, huge numbers, odd text.
const TRICKY_VALUES: &[&str] = &[
    "\"\"",
    "0",
    "-1",
    "1.5",
    "true",
    "[]",
    "{}",
    "\"0s\"",
    "\"-1s\"",
    "\"1e99h\"",
    "\"99999999999999999999999999999999h\"",
    "\"µs\"",
    "\"1..\"",
    "\"..\"",
    "\"< \"",
    "\"<= -1\"",
    "\"none\"",
    "\"alpha\"",
    "[\"alpha\"]",
    "[\"alpha\", \"alpha\"]",
    "[\"alpha\", \"beta\", \"gamma\"]",
    "9223372036854775807",
    "-9223372036854775808",
    "nan",
    "inf",
    "-inf",
    "\"+101%\"",
    "\"-%\"",
    "\"\\u0000\"",
    "'''\nx'''",
    "[1, 2]",
    "[0, 0]",
    "[\"1KiB\", 2]",
    "{ step = 0, error = 0 }",
    "[{ step = 99, error = -1 }]",
    "\"18446744073709551615ns\"",
    "\"0.0000000001s\"",
    "\"1GiB/s\"",
    "\"1Tbit/s\"",
];

/// Lines of `text` whose shape is `key = value`, as (offset of the value, length of the line).
fn value_positions(text: &str) -> Vec<(usize, usize)> {
    let mut positions = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if let Some(equals) = line.find(" = ") {
            let start = offset + equals + 3;
            let end = offset + line.trim_end_matches('\n').len();
            positions.push((start, end));
        }
        offset += line.len();
    }
    positions
}

fn corpus() -> Vec<&'static str> {
    ACCEPTANCE
        .iter()
        .map(|(_, text)| *text)
        .chain([BASE, EVERYTHING, MINIMAL, MINIMAL_WITH_ON])
        .collect()
}

/// Parses `text` and checks that an error, if any, points inside the file.
fn parse_never_panics(text: &str) {
    if let Err(error) = parse_text(text) {
        let message = error.to_string();
        assert!(!message.is_empty());
        let at = error.location().unwrap_or(Location::START);
        assert!(at.line >= 1 && at.column >= 1, "{message}");
        assert!(at.line <= text.lines().count() + 1, "{message}");
    }
}

#[test]
fn every_value_of_every_file_replaced_by_every_tricky_value() {
    for text in corpus() {
        for (start, end) in value_positions(text) {
            for value in TRICKY_VALUES {
                let mutated = format!("{}{value}{}", &text[..start], &text[end..]);
                parse_never_panics(&mutated);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn random_edits_never_panic(
        file in 0..9usize,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0..8usize, "[ -~\\n\"'\\[\\]{}=.µ]{0,6}"), 1..6),
    ) {
        let files = corpus();
        let mut text = files[file % files.len()].to_string();
        for (position, removed, inserted) in edits {
            let mut start = position.index(text.len() + 1);
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            let mut end = (start + removed).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            text.replace_range(start..end, &inserted);
        }
        parse_never_panics(&text);
    }

    #[test]
    fn random_values_never_panic(file in 0..9usize, line in any::<prop::sample::Index>(), value in ".{0,24}") {
        let files = corpus();
        let text = files[file % files.len()];
        let positions = value_positions(text);
        let (start, end) = positions[line.index(positions.len())];
        parse_never_panics(&format!("{}{value}{}", &text[..start], &text[end..]));
        parse_never_panics(&format!("{}\"{value}\"{}", &text[..start], &text[end..]));
    }
}

// SQL Server names are at most 128 characters: a longer database name is refused where it is
// written, not at every step that names it.
#[test]
fn a_database_name_longer_than_sql_server_takes_is_refused_at_its_line() {
    let long = "S".repeat(129);
    assert_error(
        &replaced(BASE, "name = \"Sales\"", &format!("name = \"{long}\"")),
        &format!("\"{long}\""),
        &["database.name", "129 characters", "at most 128"],
    );
    let longest = "S".repeat(128);
    parse_text(&replaced(
        BASE,
        "name = \"Sales\"",
        &format!("name = \"{longest}\""),
    ))
    .expect("128 characters is a name");
}
