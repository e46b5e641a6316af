//! `sim check`: exit codes, bad input, and what its reports say (spec/cli.md), on configurations
//! small enough to check in a fraction of a second.

use std::process::{Command, Output};

use serde_json::Value;

const SIM: &str = env!("CARGO_BIN_EXE_sim");

/// One transaction, no crash, no partition (and no suspicion unless the arguments say).
const TINY: [&str; 6] = ["--transactions", "1", "--crashes", "0", "--partitions", "0"];

fn sim_check(arguments: &[&str]) -> Output {
    Command::new(SIM)
        .arg("check")
        .args(arguments)
        .output()
        .expect("the sim binary runs")
}

/// `sim check` with `arguments` in a one-transaction configuration without faults (9 states in
/// each mode).
fn tiny(arguments: &[&str]) -> Output {
    let mut all: Vec<&str> = arguments.iter().chain(TINY.iter()).copied().collect();
    if !arguments.contains(&"--suspicions") {
        all.extend(["--suspicions", "0"]);
    }
    sim_check(&all)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json(output: &Output) -> Value {
    let text = stdout(output);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn property<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["configurations"][0]["properties"]
        .as_array()
        .expect("properties")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {report}"))
}

#[test]
fn bad_arguments_exit_2_with_one_message_and_nothing_on_stdout() {
    for arguments in [
        // Each thread has its own stack: a huge count used to abort with a Rust backtrace.
        vec!["--threads", "100000"],
        vec!["--threads", "0"],
        vec!["--simulate", "0"],
        // No configuration with commands can have none.
        vec!["--commands", "--operator-commands", "0"],
        // The bound would be ignored.
        vec!["--no-commands", "--operator-commands", "2"],
        // The explorer serves a page: no report, no search strategy.
        vec!["--explore", "--json"],
        vec!["--explore", "127.0.0.1:0", "--bfs"],
        vec!["--mode", "witness"],
    ] {
        let output = sim_check(&arguments);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}");
        assert!(output.stdout.is_empty(), "{arguments:?}: nothing on stdout");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.is_empty() && !stderr.contains("panicked"),
            "{arguments:?}: {stderr}"
        );
    }
}

#[test]
fn operator_commands_0_leaves_the_configurations_without_commands() {
    let output = tiny(&[
        "--mode",
        "high-safety",
        "--operator-commands",
        "0",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let report = json(&output);
    let configurations = report["configurations"].as_array().expect("configurations");
    assert_eq!(configurations.len(), 1, "{report}");
    assert_eq!(configurations[0]["commands"], 0);
}

#[test]
fn an_exhaustive_pass_reports_every_property_with_example_lengths() {
    let output = tiny(&["--mode", "high-safety", "--no-commands"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(text.contains("explored completely"), "{text}");
    assert!(
        text.contains("commit_acknowledged                found (an example of 5 steps)"),
        "{text}"
    );
    assert!(
        text.contains("verdict: pass (every always property held, every sometimes property found)"),
        "{text}"
    );
}

// spec/cli.md: exit 1 when a check fails; an exhaustive search that never reaches a `sometimes`
// property says so, and why it may be the bounds rather than the protocol.
#[test]
fn a_sometimes_property_the_bounds_exclude_fails_with_a_hint() {
    let output = tiny(&["--mode", "high-safety-witness", "--no-commands", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let report = json(&output);
    assert_eq!(report["verdict"], "fail");
    let failover = property(&report, "automatic_failover");
    assert_eq!(failover["result"], "not_found");
    let note = failover["note"].as_str().expect("a note");
    assert!(note.contains("--crashes"), "{note}");
    assert_eq!(
        property(&report, "commit_acknowledged")["note"],
        Value::Null
    );
}

// Random walks prove nothing unreachable: they pass with what they did not reach named, never
// with the words of an exhaustive pass.
#[test]
fn random_walks_do_not_claim_every_sometimes_property_was_found() {
    let walks = [
        "--mode",
        "high-safety-witness",
        "--no-commands",
        "--simulate",
        "3",
        "--seed",
        "1",
    ];
    let output = tiny(&walks);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(text.contains("random walks (not exhaustive)"), "{text}");
    assert!(text.contains("(3 walks, seed 1)"), "{text}");
    assert!(
        text.contains("automatic_failover                 not found (no walk reached it"),
        "{text}"
    );
    assert!(!text.contains("every sometimes property found"), "{text}");
    assert!(text.contains("1 sometimes property not reached"), "{text}");
    let again = tiny(&walks);
    let strip = |t: &str| -> String {
        t.lines()
            .filter(|l| !l.contains(" s, "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(&text),
        strip(&stdout(&again)),
        "the same seed, the same walks"
    );
}

#[test]
fn forced_service_split_brain_is_a_discovery_in_text_and_json() {
    let forced_service = [
        "--mode",
        "high-safety",
        "--commands",
        "--suspicions",
        "1",
        "--operator-commands",
        "1",
    ];
    let output = tiny(&[&forced_service[..], &["--json"]].concat());
    let report = json(&output);
    let split = property(&report, "split_brain_via_forced_service");
    assert_eq!(split["result"], "found", "{report}");
    assert!(
        split["note"]
            .as_str()
            .is_some_and(|n| n.contains("a discovery, not a failure")),
        "{split}"
    );
    // The text shows how the split brain is reached, as it shows a counterexample.
    let text = stdout(&tiny(&forced_service));
    let path = text
        .split_once("discovery: split_brain_via_forced_service reached after")
        .map(|(_, path)| path)
        .unwrap_or_else(|| panic!("no discovery path: {text}"));
    assert!(path.contains("FORCE_SERVICE_ALLOW_DATA_LOSS"), "{path}");
    assert!(path.contains("begins serving"), "{path}");
    let explorer = split["explorer_path"].as_str().expect("a path");
    assert!(path.contains(&format!("/#/steps/{explorer}")), "{path}");
    assert!(!text.contains("counterexample:"), "{text}");
}
