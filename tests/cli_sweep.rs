//! `sim sweep` and `sim shrink` from the command line (spec/cli.md): exit codes, the verdict
//! first, a command that reproduces each failing seed, and a shrunk scenario that still fails.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::Value;

fn sim(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(arguments)
        .output()
        .expect("the sim binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("one JSON object on stdout")
}

/// A directory of this test's own.
fn scratch(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!("mirrorsim-{name}-{}", std::process::id()));
    fs::create_dir_all(&directory).expect("a temporary directory");
    directory
}

/// The forced-service scenario told to expect no loss: every seed fails `lost_acknowledged`.
fn failing_scenario(directory: &Path) -> PathBuf {
    let text = fs::read_to_string("sims/forced-service-high-performance-loses-send-queue.toml")
        .expect("bundled scenario");
    let file = directory.join("expects-no-loss.toml");
    fs::write(
        &file,
        text.replace("lost_acknowledged = \"> 0\"", "lost_acknowledged = 0"),
    )
    .expect("writable");
    file
}

#[test]
fn a_passing_sweep_exits_0_and_leads_with_the_verdict() {
    let output = sim(&["sweep", "sims/quickstart.toml", "--seeds", "1..3"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with("PASS  sweep of quickstart: 3 of 3 runs passed (seeds 1..3)"),
        "{text}"
    );
    let report = json(&sim(&[
        "sweep",
        "sims/quickstart.toml",
        "--seeds",
        "1..4",
        "--shard",
        "2/2",
        "--json",
    ]));
    assert_eq!(report["verdict"], "pass");
    assert_eq!(report["runs"], 2, "seeds 2 and 4");
    assert_eq!(report["shard"], "2/2");
    assert_eq!(report["failures"], Value::Array(Vec::new()));
}

#[test]
fn a_failing_sweep_exits_1_with_a_command_for_each_failing_seed() {
    let directory = scratch("sweep-fails");
    let file = failing_scenario(&directory);
    let file = file.to_str().expect("a UTF-8 path");
    let output = sim(&["sweep", file, "--seeds", "1..2"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("FAIL  sweep of "), "{text}");
    assert!(text.contains("failed: lost_acknowledged in 2"), "{text}");
    assert!(
        text.contains(&format!("reproduce: sim run {file} --seed 2")),
        "{text}"
    );
    let report = json(&sim(&["sweep", file, "--seeds", "1..2", "--json"]));
    assert_eq!(report["verdict"], "fail");
    assert_eq!(report["failed"], 2);
    let first = &report["failures"][0];
    assert_eq!(first["seed"], 1);
    assert_eq!(first["failed"][0]["name"], "lost_acknowledged");
    assert_eq!(first["reproduce"][0], format!("sim run {file} --seed 1"));
    // The command it prints reproduces the failure.
    assert_eq!(sim(&["run", file, "--seed", "1"]).status.code(), Some(1));
    fs::remove_dir_all(&directory).ok();
}

#[test]
fn bad_sweep_arguments_exit_2_with_nothing_on_stdout() {
    let sweep = |extra: &[&'static str]| {
        [
            &["sweep", "sims/quickstart.toml", "--seeds", "1..5"][..],
            extra,
        ]
        .concat()
    };
    let shrink_to = |output: &'static str| {
        vec![
            "shrink",
            "sims/quickstart.toml",
            "--seed",
            "1",
            "-o",
            output,
        ]
    };
    for arguments in [
        vec!["sweep", "sims/quickstart.toml", "--seeds", "5..1"],
        sweep(&["--shard", "3/2"]),
        sweep(&["--jobs", "0"]),
        vec!["sweep", "sims/no-such-file.toml", "--seeds", "1..5"],
        vec!["shrink", "sims/no-such-file.toml", "--seed", "1"],
        sweep(&["--jobs", "5000"]),
        // -o is judged before anything runs: not the scenario itself, and writable.
        shrink_to("sims/quickstart.toml"),
        shrink_to("Cargo.toml/x.toml"),
    ] {
        let output = sim(&arguments);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}");
        assert!(output.stdout.is_empty(), "{arguments:?}");
        let message = stderr(&output);
        // One message (clap adds its usual hint line after a usage error).
        let lines = message
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with("For more information"));
        assert_eq!(lines.count(), 1, "{arguments:?}: {message}");
        if arguments.contains(&"-o") {
            assert!(message.contains("-o "), "{message}");
        }
    }
}

#[test]
fn a_shrunk_scenario_is_written_and_still_fails() {
    let directory = scratch("shrink");
    let file = failing_scenario(&directory);
    let smaller = directory.join("smaller.toml");
    let shrink_into = |output: &Path| {
        sim(&[
            "shrink",
            file.to_str().expect("UTF-8"),
            "--seed",
            "1",
            "-o",
            output.to_str().expect("UTF-8"),
        ])
    };
    let output = shrink_into(&smaller);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(output.stdout.is_empty(), "the scenario went to the file");
    assert!(
        stderr(&output).contains(
            "it fails as the original did (a session at the end after 0 automatic, 0 manual \
             and 1 forced failovers; lost_acknowledged)"
        ),
        "{}",
        stderr(&output)
    );
    let text = fs::read_to_string(&smaller).expect("written");
    assert!(text.starts_with("# shrunk by `sim shrink` from "), "{text}");
    // -o through a hard link to the scenario is the scenario itself: refused, nothing written
    // (it replaced the user's scenario with the shrunk one).
    let link = directory.join("link.toml");
    fs::hard_link(&file, &link).expect("a hard link");
    let original = fs::read(&file).expect("the scenario reads");
    let through_link = shrink_into(&link);
    assert_eq!(
        through_link.status.code(),
        Some(2),
        "{}",
        stderr(&through_link)
    );
    assert!(stderr(&through_link).contains("is the scenario itself"));
    assert_eq!(fs::read(&file).expect("the scenario reads"), original);
    let run = sim(&["run", smaller.to_str().expect("UTF-8")]);
    assert_eq!(run.status.code(), Some(1));
    assert!(stdout(&run).contains("expect lost_acknowledged"));
    // A seed that passes has nothing to shrink.
    let passing = sim(&["shrink", "sims/quickstart.toml", "--seed", "1"]);
    assert_eq!(passing.status.code(), Some(2));
    assert!(stderr(&passing).contains("passes: there is no failure to shrink"));
    fs::remove_dir_all(&directory).ok();
}
