//! `sim bench --quick`: the files it writes, what its figures must show (simulated time, so
//! these are behaviour assertions, not timings), determinism, and bad input (spec/cli.md).

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

const SIM: &str = env!("CARGO_BIN_EXE_sim");

/// A fresh directory under the system's temporary directory, unique to this process and test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sim-cli-bench-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("the temporary directory is writable");
    dir
}

fn bench_quick(out: &Path) -> Output {
    Command::new(SIM)
        .args(["bench", "--quick", "--out"])
        .arg(out)
        .output()
        .expect("the sim binary runs")
}

fn ok_bench_quick(out: &Path) -> Output {
    let output = bench_quick(out);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// One row of bench.md's per-cell tables.
#[derive(Debug)]
struct CellRow {
    rtt_ms: f64,
    clients: u32,
    safety: String,
    commits: u64,
    p50_ms: f64,
    max_ms: f64,
    mean_ms: f64,
    hgrm: String,
}

/// The per-cell rows of bench.md: those that link a `.hgrm` file.
fn cell_rows(markdown: &str) -> Vec<CellRow> {
    markdown
        .lines()
        .filter(|line| line.starts_with('|') && line.contains(".hgrm]("))
        .map(|line| {
            let fields: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let link = fields[10];
            let hgrm = link[link.find("](").unwrap() + 2..link.len() - 1].to_string();
            // rtt-0.5ms-clients-16-full.hgrm
            let rtt_ms = hgrm
                .strip_prefix("rtt-")
                .and_then(|rest| rest.split_once("ms-"))
                .unwrap()
                .0
                .parse()
                .unwrap();
            CellRow {
                rtt_ms,
                clients: fields[0].parse().unwrap(),
                safety: fields[1].to_string(),
                commits: fields[2].parse().unwrap(),
                p50_ms: fields[4].parse().unwrap(),
                max_ms: fields[8].parse().unwrap(),
                mean_ms: fields[9].parse().unwrap(),
                hgrm,
            }
        })
        .collect()
}

/// Checks an `.hgrm` text and returns its data lines: (value, percentile, total count).
fn parse_hgrm(text: &str) -> Vec<(f64, f64, u64)> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap();
    assert!(
        first.starts_with('#') && first.contains("milliseconds"),
        "{first}"
    );
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
    );
    let mut rows = Vec::new();
    for line in lines.filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(matches!(fields.len(), 3 | 4), "{line}");
        rows.push((
            fields[0].parse().unwrap(),
            fields[1].parse().unwrap(),
            fields[2].parse().unwrap(),
        ));
    }
    for footer in [
        "#[Mean    =",
        "#[Max     =",
        "Total count    =",
        "#[Buckets =",
    ] {
        assert!(text.contains(footer), "no {footer} in\n{text}");
    }
    rows
}

/// A footer figure of an `.hgrm` text: `#[Mean    =       11.209, ...` for "Mean".
fn hgrm_footer(text: &str, name: &str) -> f64 {
    let after = text
        .split(&format!("#[{name:<8}="))
        .nth(1)
        .unwrap_or_else(|| panic!("no {name} in\n{text}"));
    after.split(',').next().unwrap().trim().parse().unwrap()
}

/// The footer's `Total count`.
fn hgrm_total_count(text: &str) -> u64 {
    let after = text.split("Total count    =").nth(1).unwrap();
    after
        .trim_start()
        .split(']')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn quick_bench_writes_the_report_the_charts_and_one_hgrm_per_cell() {
    let out = scratch("files");
    let output = ok_bench_quick(&out);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("PASS"), "{stdout}");
    assert!(stdout.contains("bench.md"), "{stdout}");
    // The progress bar hides itself off a terminal.
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let markdown = fs::read_to_string(out.join("bench.md")).unwrap();
    for part in [
        "## FULL against OFF",
        "round trip",
        "latency-p99.svg",
        "throughput.svg",
    ] {
        assert!(markdown.contains(part), "no {part} in bench.md");
    }
    let rows = cell_rows(&markdown);
    assert_eq!(
        rows.len(),
        8,
        "2 RTTs x 2 loads x 2 safety levels:\n{markdown}"
    );
    let hgrm_files = fs::read_dir(&out)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "hgrm")
        })
        .count();
    assert_eq!(hgrm_files, rows.len());
    for row in &rows {
        assert!(row.commits > 0, "{row:?}");
        let text = fs::read_to_string(out.join(&row.hgrm)).unwrap();
        let data = parse_hgrm(&text);
        assert!(!data.is_empty(), "{}", row.hgrm);
        assert!(
            data.windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1 && w[0].2 <= w[1].2),
            "{}: values, percentiles and counts ascend",
            row.hgrm
        );
        let last = data.last().unwrap();
        assert_eq!(last.1, 1.0, "{}", row.hgrm);
        assert_eq!(last.2, row.commits, "{}: final total count", row.hgrm);
        assert_eq!(hgrm_total_count(&text), row.commits, "{}", row.hgrm);
        // The table's figures are the file's: acknowledged commits only (the commits still
        // waiting at the end of the run had put a value more in the table's percentiles).
        assert_eq!(hgrm_footer(&text, "Mean"), row.mean_ms, "{}", row.hgrm);
        assert_eq!(hgrm_footer(&text, "Max"), row.max_ms, "{}", row.hgrm);
    }
    for chart in ["latency-p50.svg", "latency-p99.svg", "throughput.svg"] {
        let svg = fs::read_to_string(out.join(chart)).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{chart}"
        );
        assert!(
            svg.contains("<text") && svg.contains("round-trip time"),
            "{chart}"
        );
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }
    let _ = fs::remove_dir_all(&out);
}

#[test]
fn full_p50_exceeds_off_at_every_rtt_and_grows_with_rtt() {
    let out = scratch("behaviour");
    ok_bench_quick(&out);
    let rows = cell_rows(&fs::read_to_string(out.join("bench.md")).unwrap());
    let mut clients: Vec<u32> = rows.iter().map(|r| r.clients).collect();
    clients.dedup();
    for load in clients {
        let p50 = |safety: &str| {
            let mut points: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.clients == load && r.safety == safety)
                .map(|r| (r.rtt_ms, r.p50_ms))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            points
        };
        let (full, off) = (p50("FULL"), p50("OFF"));
        assert_eq!(full.len(), 2);
        assert_eq!(off.len(), 2);
        for (f, o) in full.iter().zip(&off) {
            assert_eq!(f.0, o.0);
            // FULL waits for the mirror: at least one round trip more than OFF.
            assert!(
                f.1 > o.1 + f.0 * 0.9,
                "{load} clients, RTT {} ms: FULL {} OFF {}",
                f.0,
                f.1,
                o.1
            );
        }
        assert!(
            full[1].1 > full[0].1,
            "{load} clients: FULL p50 grows with RTT: {full:?}"
        );
    }
    let _ = fs::remove_dir_all(&out);
}

#[test]
fn two_runs_write_the_same_report() {
    let (first, second) = (scratch("determinism-1"), scratch("determinism-2"));
    ok_bench_quick(&first);
    ok_bench_quick(&second);
    for file in [
        "bench.md",
        "latency-p99.svg",
        "rtt-10ms-clients-16-full.hgrm",
    ] {
        let a = fs::read(first.join(file)).unwrap();
        let b = fs::read(second.join(file)).unwrap();
        assert!(a == b, "{file} differs between two runs");
    }
    let _ = fs::remove_dir_all(&first);
    let _ = fs::remove_dir_all(&second);
}

#[test]
fn an_unwritable_out_is_bad_input() {
    let dir = scratch("unwritable");
    let file = dir.join("a-file");
    fs::write(&file, "not a directory").unwrap();
    let out = file.join("reports");
    let output = bench_quick(&out);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(stderr.contains(&out.display().to_string()), "{stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one message: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("is a file, not a directory"), "{stderr}");
    // `--out` naming the file itself says the same.
    let output = bench_quick(&file);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is a file, not a directory"), "{stderr}");
    let _ = fs::remove_dir_all(&dir);
}
