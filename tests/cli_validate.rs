//! `sim validate` and `sim FILE` over the scenario files: every good scenario validates (exit
//! 0); every bad one is refused with exit 2, one message on stderr naming the file, a line and
//! a column, nothing on stdout, and never a panic (spec/cli.md, "Exit codes").
//!
//! Runs the copies in `sims/` always, and the public acceptance folder beside the project when
//! it exists.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

const SIM: &str = env!("CARGO_BIN_EXE_sim");
const SIMS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sims");
const ACCEPTANCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/acceptance");

fn sim(arguments: &[&str]) -> Output {
    Command::new(SIM)
        .args(arguments)
        .output()
        .expect("the sim binary runs")
}

/// The `.toml` files directly in `directory`, sorted.
fn scenarios_in(directory: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "toml")
        })
        .collect();
    files.sort();
    files
}

/// The folders to check: `sims/` always; the shared acceptance folder only where it exists.
fn folders(below: &str) -> Vec<PathBuf> {
    let mut folders = vec![Path::new(SIMS).join(below)];
    let acceptance = Path::new(ACCEPTANCE);
    if acceptance.is_dir() {
        folders.push(acceptance.join(below));
    } else {
        eprintln!("{ACCEPTANCE} is absent: checking the copies in sims/ only");
    }
    folders
}

/// Whether `message` holds `FILE:LINE:COLUMN: ` with numbers >= 1.
fn names_line_and_column(message: &str, file: &Path) -> bool {
    let prefix = format!("{}:", file.display());
    let Some(rest) = message.strip_prefix(&prefix) else {
        return false;
    };
    let mut parts = rest.splitn(3, ':');
    let number = |part: Option<&str>| part.and_then(|text| text.parse::<usize>().ok());
    let (line, column) = (number(parts.next()), number(parts.next()));
    let after = parts.next().unwrap_or("");
    matches!((line, column), (Some(line), Some(column)) if line >= 1 && column >= 1)
        && after.starts_with(' ')
        && after.trim().len() > 10
}

#[test]
fn every_good_scenario_validates() {
    let mut checked = 0;
    for folder in folders("") {
        for file in scenarios_in(&folder) {
            let path = file.to_str().expect("a UTF-8 path");
            let output = sim(&["validate", path]);
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(0), "{path}: {stderr}");
            assert!(stderr.is_empty(), "{path}: {stderr}");
            assert!(stdout.contains("\n[database]\n"), "{path}: {stdout}");
            assert!(stdout.contains("\n[[instance]]\n"), "{path}: {stdout}");
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} good scenarios found");
}

/// spec/scenario.md: "Required: `name`, `duration`, `[database]` and at least one
/// `[[instance]]`; everything else has the default shown." `sim validate` prints those defaults,
/// and what it prints validates again to the same scenario.
#[test]
fn validate_prints_the_defaults_of_the_keys_left_out_and_reads_them_back() {
    let file = Path::new(SIMS).join("minimal-keys-take-the-spec-defaults.toml");
    let output = sim(&["validate", file.to_str().expect("a UTF-8 path")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    for line in [
        "\n[database]\nname = \"Sales\"\non = \"alpha\"\n",
        "\nsize = \"20GiB\"\n",
        "\nname = \"alpha\"\nhost = \"alpha.corp.example\"\nservice_account = 'CORP\\svc-alpha'\n",
        "\nname = \"beta\"\nhost = \"beta.corp.example\"\nservice_account = 'CORP\\svc-beta'\n",
        "\n[workload]\nstart = \"after_setup\"\nrate = 2000.0\n",
    ] {
        assert!(printed.contains(line), "{line:?} missing from:\n{printed}");
    }
    let again_file =
        std::env::temp_dir().join(format!("mirrorsim-validated-{}.toml", std::process::id()));
    fs::write(&again_file, &printed).expect("written");
    let again = sim(&["validate", again_file.to_str().expect("a UTF-8 path")]);
    fs::remove_file(&again_file).ok();
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    // The first line names the file validated; the scenario after it is the same.
    let body = |text: &str| text.split_once('\n').map(|(_, rest)| rest.to_string());
    assert_eq!(
        body(&String::from_utf8_lossy(&again.stdout)),
        body(&printed),
        "printed again differently"
    );
}

#[test]
fn every_bad_scenario_is_refused_with_exit_2_and_one_located_message() {
    let mut checked = 0;
    for folder in folders("bad") {
        for file in scenarios_in(&folder) {
            let path = file.to_str().expect("a UTF-8 path");
            for arguments in [
                vec!["validate", path],
                vec![path],
                vec!["run", path, "--json"],
            ] {
                let output = sim(&arguments);
                let stdout = String::from_utf8_lossy(&output.stdout);
                let stderr = String::from_utf8_lossy(&output.stderr);
                assert_eq!(output.status.code(), Some(2), "{arguments:?}: {stderr}");
                assert!(stdout.is_empty(), "{arguments:?}: stdout: {stdout}");
                assert!(!stderr.contains("panicked"), "{arguments:?}: {stderr}");
                assert_eq!(
                    stderr.lines().count(),
                    1,
                    "{arguments:?}: one message: {stderr}"
                );
                assert!(
                    names_line_and_column(&stderr, &file),
                    "{arguments:?}: {stderr}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} bad scenarios found");
}

#[test]
fn the_bad_scenarios_say_what_to_change() {
    let bad = Path::new(SIMS).join("bad");
    let expectations = [
        (
            "bare-number-duration.toml",
            ":4:12: duration: 30 needs a unit, e.g. \"30s\"",
        ),
        (
            "unknown-key.toml",
            ":5:1: unknown key `durration`; did you mean `duration`?",
        ),
        (
            "disk-as-positional-array.toml",
            ":5:8: disk: expected one table of named keys (`[disk]`",
        ),
        (
            "fault-unknown-instance.toml",
            ":77:10: fault 1 (crash): target: no instance is named \"delta\"",
        ),
        ("sql-does-not-parse.toml", ":52:"),
        (
            "duplicate-key.toml",
            ":4:1: duplicate key `seed`: it is already set",
        ),
        (
            "instance-table-not-array.toml",
            ":17:3: duplicate key `instance`: [instance] declares a single table, so it cannot be \
             declared again; write [[instance]] (two brackets)",
        ),
        (
            "workload-rate-beyond-any-number.toml",
            ":37:8: workload.rate: the number is too large",
        ),
        (
            "disk-table-declared-twice.toml",
            ":110:2: duplicate key `disk`: [disk] is declared twice; declare it once",
        ),
        (
            "step-errors-not-an-array.toml",
            "expect.step_errors: expected an array, e.g. [{ step = 7, error = 1418 }], found 1478",
        ),
        (
            "expect-failovers-string.toml",
            ":111:13: expect.failovers: expected a table, e.g. { automatic = 1, manual = 0, \
             forced = 0 }, found \"none\"",
        ),
        (
            "step-expect-error-string.toml",
            ":102:16: step 16: expect_error: expected a whole number, found \"1418\"",
        ),
        (
            "seed-too-large.toml",
            ":3:8: seed: 99999999999999999999999 is too large",
        ),
        (
            "seed-datetime.toml",
            ":3:8: seed: expected a whole number, found a date-time, 1979-05-27T07:32:00Z",
        ),
        (
            "host-with-port.toml",
            ":24:8: instance 3: host: \"gamma.corp.example:7022\" is not a host name",
        ),
        (
            "system-database.toml",
            ":7:8: database.name: \"MSDB\" is a system database, and database mirroring mirrors \
             user databases only",
        ),
        (
            "seed-float.toml",
            ":3:8: seed: expected a whole number, found 1.5",
        ),
        (
            "expect-bad-comparison.toml",
            ":108:17: expect.role_sequence: \"~~ 3\" is not a whole number;",
        ),
        (
            "defaulted-host-taken.toml",
            ":13:8: instance 2: host: not set, so it is \"beta.corp.example\" (the default for \
             the name \"beta\": <name>.corp.example), which is already used on line 10; hosts \
             must be unique",
        ),
        (
            "log-bytes-too-large.toml",
            ":38:13: workload.log_bytes: [\"1MiB\", \"300MiB\"] is out of range; it must be at \
             most 128MiB of log per transaction",
        ),
        (
            "flush-longer-than-any-run.toml",
            ":33:9: disk.flush: \"18446744073000000000ns\" is out of range; it must be at most \
             30 days (\"720h\"), the longest run",
        ),
        (
            "sql-control-character.toml",
            ":78:14: step 10: sql does not parse at column 7 of the statement text: unexpected \
             character `\\u{0}`",
        ),
    ];
    for (name, expected) in expectations {
        let file = bad.join(name);
        let output = sim(&["validate", file.to_str().expect("a UTF-8 path")]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(expected),
            "{name}: want {expected:?} in: {stderr}"
        );
        // The reader's Rust type names are not the user's words.
        for internal in ["Raw", "struct ", "i128", "i64"] {
            assert!(
                !stderr.contains(internal),
                "{name}: {internal:?} in: {stderr}"
            );
        }
        assert!(
            !stderr.chars().any(|c| c.is_control() && c != '\n'),
            "{name}: a control character in: {stderr:?}"
        );
    }
}

#[test]
fn an_unreadable_file_is_bad_input() {
    for arguments in [
        vec!["validate", "/nonexistent/scenario.toml"],
        vec!["/nonexistent/scenario.toml"],
        vec!["run", "/nonexistent/scenario.toml", "--json"],
        vec!["validate", "/"],
    ] {
        let output = sim(&arguments);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{arguments:?}");
        assert!(
            stderr.contains("cannot read the scenario"),
            "{arguments:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{arguments:?}: {stderr}");
    }
}
