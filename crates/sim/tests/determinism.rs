//! Determinism (spec/cli.md, "Determinism"): the same scenario, seed and program give the same
//! event stream byte for byte; another seed gives another one. Golden event streams for two
//! small scenarios show any change in behaviour as a diff (regenerate them with
//! `UPDATE_GOLDEN=1 cargo test -p mirror-sim --test determinism` and review the diff).

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{events_file, events_of};

/// A bundled scenario of `sims/`, by name.
fn bundled(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../sims")
        .join(format!("{name}.toml"))
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

#[test]
fn the_same_seed_gives_the_same_events_and_another_seed_differs() {
    for name in ["manual-failover.toml", "auto-failover.toml"] {
        let file = golden(name);
        let first = events_of(&file, None);
        let second = events_of(&file, None);
        assert!(!first.is_empty());
        assert!(
            first == second,
            "{name}: two runs with the same seed differ"
        );
        let other = events_of(&file, Some(12345));
        assert!(first != other, "{name}: another seed gave the same events");
    }
}

#[test]
fn golden_event_streams_are_unchanged() {
    for name in ["manual-failover", "auto-failover"] {
        let events = events_of(&golden(&format!("{name}.toml")), None);
        let expected_file = golden(&format!("{name}.jsonl"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&expected_file, &events).expect("golden file written");
            continue;
        }
        let expected = std::fs::read(&expected_file).unwrap_or_else(|_| {
            panic!(
                "{} is missing: run with UPDATE_GOLDEN=1",
                expected_file.display()
            )
        });
        if events != expected {
            let got = String::from_utf8_lossy(&events);
            let want = String::from_utf8_lossy(&expected);
            let line = got
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(got.lines().count().min(want.lines().count()));
            panic!(
                "{name}: the event stream changed at line {}:\n  now:    {}\n  golden: {}\n(if the change is intended, regenerate with UPDATE_GOLDEN=1 and review the diff)",
                line + 1,
                got.lines().nth(line).unwrap_or("<end>"),
                want.lines().nth(line).unwrap_or("<end>")
            );
        }
    }
}

// spec/cli.md: an event's `instance` is "a name, or null for faults". A step is its instance's
// (the one it ran on); a failed transaction is the instance's that refused it, and only a
// transaction refused while no running instance held the principal role (the manual failover
// golden never has such a moment) has none.
#[test]
fn steps_and_failed_transactions_name_their_instance() {
    for name in ["manual-failover", "auto-failover"] {
        let file = golden(&format!("{name}.toml"));
        let scenario = mirror_sim::scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let events = events_of(&file, None);
        let (mut steps, mut failed_named) = (0, 0);
        for line in String::from_utf8(events).expect("UTF-8").lines() {
            let event: serde_json::Value = serde_json::from_str(line).expect("one JSON object");
            match event["event"].as_str() {
                Some("step") => {
                    let number = event["step"].as_u64().expect("a step number") as usize;
                    let on = scenario.instance_name(scenario.steps[number - 1].on);
                    assert_eq!(event["instance"], serde_json::json!(on), "{name}: {line}");
                    steps += 1;
                }
                Some("failed") if name == "manual-failover" => {
                    assert!(event["instance"].is_string(), "{name}: {line}");
                    failed_named += 1;
                }
                Some("failed") => failed_named += usize::from(event["instance"].is_string()),
                _ => {}
            }
        }
        assert_eq!(steps, scenario.steps.len(), "{name}");
        assert!(
            failed_named > 0,
            "{name}: no failed transaction names its instance"
        );
    }
}

/// spec/cli.md: `serving` is written when an instance "starts being able to acknowledge
/// commits", `not_serving` when it stops. No bundled scenario's stream shows an acknowledgement
/// from an instance between the two (a principal resuming from a pause acknowledged before its
/// `serving`).
/// The fields of an event line that the serving check reads (borrowed: the check reads every
/// line of every bundled scenario's stream, and a whole `serde_json::Value` per line made it
/// the longest test of the suite).
#[derive(serde::Deserialize)]
struct ServingLine<'a> {
    #[serde(borrow)]
    event: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    instance: Option<std::borrow::Cow<'a, str>>,
}

/// Panics if the stream of `file` acknowledges a commit on an instance that it last said was not
/// serving.
fn assert_acknowledges_only_while_serving(file: &Path) {
    use std::io::BufRead;
    // Read line by line: the longest streams are hundreds of megabytes, two at a time.
    let out = events_file(file, None);
    let stream = std::io::BufReader::new(std::fs::File::open(&out).expect("the event stream"));
    let mut serving = std::collections::BTreeMap::new();
    for line in stream.lines() {
        let line = line.expect("a UTF-8 line");
        let event: ServingLine = serde_json::from_str(&line).expect("one JSON object");
        let instance = event.instance.unwrap_or_default();
        match event.event.as_ref() {
            "serving" => {
                serving.insert(instance.to_string(), true);
            }
            "not_serving" => {
                serving.insert(instance.to_string(), false);
            }
            "acknowledged" => assert!(
                serving.get(instance.as_ref()).copied().unwrap_or(false),
                "{}: {instance} acknowledged while not serving: {line}",
                file.display()
            ),
            _ => {}
        }
    }
    let _ = std::fs::remove_file(&out);
}

#[test]
fn no_bundled_scenario_acknowledges_while_its_stream_says_not_serving() {
    let sims = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sims");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&sims)
        .expect("the bundled scenarios")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() > 100, "{} scenarios", files.len());
    // Every scenario is one run: spread them over the machine's cores (the test took five
    // minutes of CI on one), each thread taking the next file not yet taken.
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some(file) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    assert_acknowledges_only_while_serving(file);
                }
            });
        }
    });
}

fn fault_events_of(sims_file: &str) -> Vec<serde_json::Value> {
    common::event_values(sims_file)
        .into_iter()
        .filter(|event| event["event"] == "fault" && event["kind"] != "heal")
        .collect()
}

// spec/cli.md: a `fault` event carries "`kind` and the fault's fields", which a user's checker
// reads by the names the scenario gives them (they were only `latency_us`, `flush_us` and
// `drift_ppm`).
#[test]
fn fault_events_carry_the_fields_by_their_scenario_names() {
    for (file, kind, field) in [
        (
            "slow-link-commit-latency-no-failover.toml",
            "slow_link",
            "latency",
        ),
        (
            "a-slow-disk-healed-ends-the-flush-it-was-slowing.toml",
            "slow_disk",
            "flush",
        ),
        (
            "a-slow-mirror-clock-does-not-stretch-the-take-over.toml",
            "clock_skew",
            "drift",
        ),
    ] {
        let events = fault_events_of(file);
        let fault = events
            .iter()
            .find(|e| e["kind"] == kind)
            .unwrap_or_else(|| panic!("{file}: no {kind} event in {events:?}"));
        // Written as in the scenario: a number with its unit ("5ms", "1m", "-50%").
        let value = fault[field].as_str().unwrap_or_default();
        assert!(
            value.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-')
                && value.ends_with(|c: char| c.is_ascii_alphabetic() || c == '%'),
            "{file}: {field} = {:?} in {fault}",
            fault[field]
        );
    }
}

// spec/cli.md: `hardened` is the "new end of hardened log" and `discarded` is written when "the
// instance throws away its log past this LSN": within one fork an instance's hardened end never
// goes back unless a discard came first. A mirror set up again from its restored copy after
// PARTNER OFF went back from 21,578,000 to 21,576,000 with no `discarded`.
#[test]
fn the_hardened_end_goes_back_only_after_a_discard() {
    for name in [
        "a-mirror-set-up-again-after-partner-off-says-what-it-discarded",
        "forced-service-old-principal-rejoins-suspended-then-resume",
        "manual-failover-high-safety",
        "set-witness-again-on-a-witness-that-missed-partner-off",
    ] {
        let file = bundled(name);
        let events = events_of(&file, None);
        let mut hardened: std::collections::BTreeMap<(String, u64), u64> = Default::default();
        let mut discards = 0;
        for line in String::from_utf8_lossy(&events).lines() {
            let e: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let instance = e["instance"].as_str().unwrap_or("").to_string();
            let fork = e["fork"].as_u64().unwrap_or(0);
            match e["event"].as_str() {
                Some("hardened") => {
                    let lsn = e["lsn"].as_u64().expect("an lsn");
                    let end = hardened.entry((instance, fork)).or_insert(0);
                    assert!(
                        lsn > *end,
                        "{name}: hardened went back without a discard: {line}"
                    );
                    *end = lsn;
                }
                Some("discarded") => {
                    discards += 1;
                    let after = e["after_lsn"].as_u64().expect("an after_lsn");
                    for ((i, _), end) in hardened.iter_mut() {
                        if *i == instance {
                            *end = (*end).min(after);
                        }
                    }
                }
                _ => {}
            }
        }
        assert!(!hardened.is_empty(), "{name}: nothing hardened");
        if name.starts_with("a-mirror-set-up-again") {
            assert!(discards > 0, "{name}: the restored copy discarded nothing");
        }
    }
}

// spec/cli.md: a `failover` event for each role change, which tools outside the simulator rely
// on: one per entry of the report's `failovers[]`, also for a take-over that never finished and
// for a manual failover's hand-over the new principal never heard of (the report listed them
// and the stream had none).
#[test]
fn every_listed_failover_has_its_event() {
    for name in [
        "a-mirror-that-crashes-during-its-take-over-still-counts-the-failover",
        "a-manual-failover-whose-hand-over-never-reaches-the-mirror-is-listed",
        "manual-failover-high-safety",
    ] {
        let file = bundled(name);
        let scenario = mirror_sim::scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let options = mirror_sim::RunOptions {
            seed: scenario.seed,
            ..Default::default()
        };
        let listed = mirror_sim::run_scenario(&scenario, &options)
            .report
            .failovers
            .len();
        let events = events_of(&file, None);
        let emitted = String::from_utf8_lossy(&events)
            .lines()
            .filter(|l| l.contains(r#""event":"failover""#))
            .count();
        assert!(listed > 0, "{name}: no failover listed");
        assert_eq!(
            emitted, listed,
            "{name}: failover events against failovers[]"
        );
    }
}

// spec/cli.md: `serving` names the role sequence an instance serves at, and `role` the one
// it takes. A principal restored from backups serves at its session's role sequence 0, once:
// it was first shown serving at 1 (a new line above its old session), then not serving, then
// serving at 0, all in one instant (found by a regression audit).
#[test]
fn a_principal_restored_from_backups_serves_at_its_sessions_role_sequence() {
    for (name, principal) in [
        (
            "a-session-set-up-again-the-other-way-through-backups",
            "beta",
        ),
        (
            "a-copy-restored-on-a-third-instance-and-mirrored-is-another-database",
            "gamma",
        ),
    ] {
        let serving: Vec<serde_json::Value> = common::event_values(&format!("{name}.toml"))
            .into_iter()
            .filter(|e| e["instance"] == principal)
            .filter(|e| matches!(e["event"].as_str(), Some("serving" | "not_serving")))
            .collect();
        assert_eq!(serving.len(), 1, "{name}: {serving:?}");
        assert_eq!(serving[0]["event"], "serving", "{name}");
        assert_eq!(serving[0]["role_sequence"], 0, "{name}");
        assert_eq!(serving[0]["via"], "setup", "{name}");
    }
}
