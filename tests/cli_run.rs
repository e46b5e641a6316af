//! `sim run` and `sim FILE`: the shape of the output and the exit codes of spec/cli.md, whatever
//! the engine concludes (a run exits 0 or 1; bad input and bad arguments exit 2).

use std::{
    path::Path,
    process::{Command, Output},
};

use serde_json::Value;

const SIM: &str = env!("CARGO_BIN_EXE_sim");
const SCENARIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/sims/setup-without-log-backup-fails-1478.toml"
);

fn sim(arguments: &[&str]) -> Output {
    Command::new(SIM)
        .args(arguments)
        .output()
        .expect("the sim binary runs")
}

fn json_report(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error}: {stdout}"))
}

#[test]
fn json_prints_one_object_with_the_report_fields() {
    let output = sim(&["run", SCENARIO, "--json"]);
    let code = output.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "{code:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = json_report(&output);
    for key in [
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
    ] {
        assert!(report.get(key).is_some(), "no {key} in {report}");
    }
    assert_eq!(report["scenario"], "setup-without-log-backup-fails-1478");
    assert_eq!(report["seed"], 1, "the scenario's seed");
    let verdict = report["verdict"].as_str().expect("a verdict");
    assert_eq!(
        code == Some(0),
        verdict == "pass",
        "exit code follows the verdict"
    );
    assert_eq!(report["steps"].as_array().map(Vec::len), Some(8));
}

#[test]
fn a_bare_file_is_a_run_and_seed_overrides() {
    let output = sim(&[SCENARIO, "--json", "--seed", "77"]);
    assert!(matches!(output.status.code(), Some(0 | 1)));
    assert_eq!(json_report(&output)["seed"], 77);
}

#[test]
fn the_human_report_leads_with_the_verdict() {
    let output = sim(&[SCENARIO]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let first = stdout.lines().next().unwrap_or("");
    let expected = if output.status.code() == Some(0) {
        "PASS"
    } else {
        "FAIL"
    };
    assert!(first.starts_with(expected), "{stdout}");
    assert!(first.contains("seed 1"), "{stdout}");
    if expected == "FAIL" {
        assert!(stdout.contains("reproduce: sim run "), "{stdout}");
    }
}

// Reference section 4: a split brain caused by forced service must be reported, not hidden;
// the JSON had it and the human report said nothing.
#[test]
fn the_human_report_names_a_split_brain() {
    let output = sim(&[concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sims/forced-service-split-brain-reported.toml"
    )]);
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(
            "split brain from 35.5s for 14.5s: alpha and beta served diverging histories"
        ),
        "{stdout}"
    );
}

#[test]
fn bad_arguments_exit_2() {
    for arguments in [
        vec![],
        vec!["run"],
        vec!["--bogus", SCENARIO],
        vec!["run", SCENARIO, "--seed", "minus-one"],
        vec!["validate"],
        vec!["check", "--bfs", "--dfs"],
        vec!["sweep", SCENARIO, "--seeds", "9..1"],
        vec!["shrink", SCENARIO],
    ] {
        let output = sim(&arguments);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}");
        assert!(output.stdout.is_empty(), "{arguments:?}: nothing on stdout");
        assert!(
            !output.stderr.is_empty(),
            "{arguments:?}: a message on stderr"
        );
    }
}

#[test]
fn help_exits_0() {
    let output = sim(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("validate"));
}

#[test]
fn an_unwritable_events_file_is_bad_input_before_the_run() {
    let output = sim(&[
        "run",
        SCENARIO,
        "--json",
        "--events",
        "Cargo.toml/dir/events.jsonl",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(
        stderr.contains("--events Cargo.toml/dir/events.jsonl"),
        "{stderr}"
    );
    assert!(Path::new(SCENARIO).exists());
}

// A report that cannot be written (stdout on a full disk) is lost: exit 2 with a message, as
// for an unwritable `--events`, whatever the verdict. It exited 0 with the report lost (found
// by the bad-input audit); a reader that closes the pipe early is no failure.
#[cfg(target_os = "linux")]
#[test]
fn a_report_that_cannot_be_written_exits_2() {
    for arguments in [
        vec!["run", SCENARIO],
        vec!["run", SCENARIO, "--json"],
        vec!["validate", SCENARIO],
    ] {
        let full = std::fs::File::create("/dev/full").expect("Linux has /dev/full");
        let output = Command::new(SIM)
            .args(&arguments)
            .stdout(full)
            .output()
            .expect("the sim binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}: {stderr}");
        assert!(stderr.contains("cannot write"), "{arguments:?}: {stderr}");
    }
}

// The brief: nothing a user gives us can corrupt a file of theirs. `--events` naming the
// scenario replaced the scenario with the event stream (exit 0); `--trace` and `--events`
// naming one file wrote both into it.
#[test]
fn an_output_naming_the_scenario_or_the_other_output_is_bad_input() {
    // A copy: were the check to fail, the bundled scenario would be overwritten.
    let before = std::fs::read(SCENARIO).expect("the scenario reads");
    let copy = std::env::temp_dir().join(format!("mirrorsim-self-{}.toml", std::process::id()));
    std::fs::write(&copy, &before).expect("the temporary directory is writable");
    // A hard link is the same file under another name: no resolution of the path shows it, and
    // `--events` through one overwrote the scenario.
    let link = std::env::temp_dir().join(format!("mirrorsim-link-{}.toml", std::process::id()));
    let _ = std::fs::remove_file(&link);
    std::fs::hard_link(&copy, &link).expect("the temporary directory takes a hard link");
    let copy = copy.to_str().expect("a UTF-8 path");
    let link = link.to_str().expect("a UTF-8 path");
    for flag in ["--events", "--trace"] {
        for output_path in [copy, link] {
            let output = sim(&["run", copy, flag, output_path]);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{output_path}: {stderr}");
            assert!(stderr.contains("that is the scenario file"), "{stderr}");
            assert_eq!(std::fs::read(copy).expect("it reads"), before);
        }
    }
    let _ = std::fs::remove_file(copy);
    let _ = std::fs::remove_file(link);
    let both = std::env::temp_dir().join(format!("mirrorsim-both-{}.out", std::process::id()));
    let both = both.to_str().expect("a UTF-8 path");
    let dotted = format!(
        "{}/./{}",
        std::env::temp_dir().display(),
        std::path::Path::new(both)
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a name")
    );
    let output = sim(&["run", SCENARIO, "--events", both, "--trace", &dotted]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("name the same file"), "{stderr}");
    let _ = std::fs::remove_file(both);
}

// spec/cli.md: `--trace` writes the timeline. The first principal serves from t = 0; its span
// was missing (the event came before the timeline was switched on), leaving only an orphan
// `not_serving` at the power loss.
#[test]
fn the_trace_shows_the_first_principal_serving_from_the_start() {
    let trace = std::env::temp_dir().join(format!("mirrorsim-trace-{}.json", std::process::id()));
    let output = sim(&[
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sims/auto-failover-principal-power-off.toml"
        ),
        "--trace",
        trace.to_str().expect("a UTF-8 temporary path"),
    ]);
    assert_eq!(output.status.code(), Some(0));
    let text = std::fs::read_to_string(&trace).expect("the trace is written");
    let _ = std::fs::remove_file(&trace);
    let value: Value = serde_json::from_str(&text).expect("the trace is JSON");
    let events = value["traceEvents"].as_array().expect("traceEvents");
    let alpha_spans: Vec<&Value> = events
        .iter()
        .filter(|e| e["tid"] == 1 && (e["ph"] == "B" || e["ph"] == "E"))
        .collect();
    assert_eq!(
        alpha_spans.first().map(|e| &e["ph"]),
        Some(&Value::from("B"))
    );
    assert_eq!(alpha_spans[0]["ts"], 0.0);
    assert!(
        alpha_spans.iter().any(|e| e["ph"] == "E"),
        "alpha stops serving at the power loss: {alpha_spans:?}"
    );
}

/// The bundled quickstart with `extra` appended, written to a temporary file named by `tag`.
fn quickstart_with(tag: &str, extra: &str) -> String {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/sims/quickstart.toml"))
            .expect("the quickstart reads");
    let file = std::env::temp_dir().join(format!("mirrorsim-{tag}-{}.toml", std::process::id()));
    std::fs::write(&file, text + extra).expect("the temporary directory is writable");
    file.to_str().expect("a UTF-8 path").to_string()
}

/// `sim COMMAND FILE`'s stderr, once its exit code is checked.
fn stderr_of(command: &str, file: &str, code: i32) -> String {
    let output = sim(&[command, file]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(code), "{command}: {stderr}");
    stderr
}

// A fault timed after the end of the run is valid (spec/scenario.md asks only `at` >= 0) but
// never happens; the run said nothing of it. Now stderr says so, and the verdict is unchanged.
#[test]
fn a_fault_after_the_end_of_the_run_is_noted_on_stderr() {
    let file = &quickstart_with(
        "late",
        "\n[[fault]]\nat = \"10m\"\nkind = \"crash\"\ntarget = \"alpha\"\n",
    );
    for command in ["run", "validate"] {
        let stderr = stderr_of(command, file, 0);
        assert!(
            stderr.contains("(crash) at 10m comes after the end of the run (")
                && stderr.contains("it never happens"),
            "{command}: {stderr}"
        );
    }
    // The bundled scenario itself has no such fault: nothing is said.
    let quiet = sim(&[
        "validate",
        concat!(env!("CARGO_MANIFEST_DIR"), "/sims/quickstart.toml"),
    ]);
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    let _ = std::fs::remove_file(file);
}

// The same for a step timed after the end of the run: it never runs and counts as failed
// (spec/scenario.md: a step still running at the end), which `sim validate` did not say
// (audit AQ).
#[test]
fn a_step_after_the_end_of_the_run_is_noted_on_stderr() {
    let file = &quickstart_with(
        "late-step",
        "\n[[step]]\nat = \"10m\"\non = \"alpha\"\nsql = \"SELECT * FROM sys.database_mirroring\"\n",
    );
    // The run fails the step (never finished): exit 1.
    for (command, code) in [("run", 1), ("validate", 0)] {
        let stderr = stderr_of(command, file, code);
        assert!(
            stderr.contains("at 10m comes after the end of the run (")
                && stderr.contains("it never runs, and counts as failed"),
            "{command}: {stderr}"
        );
    }
    let _ = std::fs::remove_file(file);
}

// spec/cli.md: `--events` writes every protocol event as JSON Lines, to any file, a named pipe
// too. sim opened the path to compare it with the scenario and to try it out before the run:
// on a pipe whose only other end was a reader, the first open waited for a writer forever
// (found by an audit), and a try-out would have ended the stream for the reader. The pipe now
// gets the whole stream, once.
#[cfg(unix)]
#[test]
fn events_into_a_named_pipe_reach_its_reader() {
    use std::io::Read;
    use std::time::Duration;

    let folder = std::env::temp_dir().join(format!("sim-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("a temporary folder");
    let pipe = folder.join("events.pipe");
    let _ = std::fs::remove_file(&pipe);
    let made = Command::new("mkfifo").arg(&pipe).status().expect("mkfifo");
    assert!(made.success());
    let reader = {
        let pipe = pipe.clone();
        std::thread::spawn(move || {
            let mut stream = String::new();
            std::fs::File::open(&pipe)
                .expect("the pipe opens once sim writes")
                .read_to_string(&mut stream)
                .expect("the stream reads to its end");
            stream
        })
    };
    let mut child = Command::new(SIM)
        .args(["run", SCENARIO, "--events"])
        .arg(&pipe)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the sim binary runs");
    // A bounded wait (6,000 polls 20 ms apart, two minutes at least): a hang fails the test
    // instead of holding CI.
    let mut polls = 0;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits") {
            break status;
        }
        polls += 1;
        if polls > 6_000 {
            let _ = child.kill();
            let _ = std::fs::remove_file(&pipe);
            panic!("sim run --events PIPE did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(matches!(status.code(), Some(0 | 1)), "{status:?}");
    let stream = reader.join().expect("the reader");
    let _ = std::fs::remove_dir_all(&folder);
    assert!(
        stream.lines().count() > 100,
        "{} lines",
        stream.lines().count()
    );
    assert!(stream.lines().all(|line| line.starts_with('{')));
}
