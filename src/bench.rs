//! `sim bench [--out reports/] [--quick]`: the latency benchmark of spec/cli.md.
//!
//! Over a grid of round-trip times and loads (closed-loop clients, no think time), the same
//! two-partner session (no witness, no faults) is set up by the T-SQL a DBA would type and run
//! twice: with SAFETY FULL, and with SAFETY OFF, which is the same-run baseline every figure is
//! compared with. Each cell is a scenario written as TOML text, parsed by
//! `mirror_sim::scenario::parse` and run with one fixed seed: the same binary gives the same
//! figures. Only simulated time is measured (the bench never reads a clock), from the moment the
//! workload starts, after setup, to the end of the run.
//!
//! Outputs, in `--out`: `bench.md` (the report), three SVG charts and one `.hgrm` file per cell
//! (HdrHistogram's percentile distribution, in milliseconds).

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use mirror_sim::{
    report::{LatencySummary, Verdict},
    run_scenario,
    scenario::{self, Scenario},
    RunOptions,
};
use plotters::prelude::*;

use crate::{cli::BenchArgs, print_err, print_out, Exit};

/// The seed of every cell: one seed explains the whole bench.
const SEED: u64 = 1;

/// Simulated time allowed for setup (backup, restore, SET PARTNER) before the measured part;
/// the run lasts this plus the grid's workload time. Setup takes about 0.3 s at 40 ms RTT.
const SETUP_ALLOWANCE_S: u64 = 1;

/// The local log flush (harden) latency of both partners, and its exponential jitter.
const FLUSH_US: u64 = 200;
/// The mean of the exponential jitter added to each log flush.
const FLUSH_JITTER_US: u64 = 50;
/// The network jitter's mean, as a fraction (1/N) of the one-way latency.
const JITTER_DIVISOR: u64 = 10;
/// Log bytes per transaction: uniform in this range.
const LOG_BYTES: [u64; 2] = [200, 1000];

/// Which grid to run.
#[derive(Clone, Copy, Debug)]
struct Grid {
    /// `full` or `quick`: how the report names the grid.
    name: &'static str,
    /// Round-trip times between the partners, in microseconds (one way is half).
    rtts_us: &'static [u64],
    /// Closed-loop client counts.
    clients: &'static [u32],
    /// Simulated seconds of workload after the setup allowance.
    workload_s: u64,
}

/// The default grid: 4 RTTs x 3 loads x 2 safety levels.
const GRID_FULL: Grid = Grid {
    name: "full",
    rtts_us: &[500, 2_000, 10_000, 40_000],
    clients: &[1, 16, 128],
    workload_s: 10,
};

/// `--quick`: 2 RTTs x 2 loads x 2 safety levels, a shorter run (a second or so in release).
const GRID_QUICK: Grid = Grid {
    name: "quick",
    rtts_us: &[500, 10_000],
    clients: &[1, 16],
    workload_s: 2,
};

/// The transaction safety of a cell's session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Safety {
    /// Synchronous commit: high safety.
    Full,
    /// Asynchronous commit: high performance (the baseline).
    Off,
}

impl Safety {
    /// Both, FULL first.
    const BOTH: [Safety; 2] = [Safety::Full, Safety::Off];

    /// The T-SQL word.
    fn word(self) -> &'static str {
        match self {
            Safety::Full => "FULL",
            Safety::Off => "OFF",
        }
    }

    /// The lower-case word used in file names.
    fn file_word(self) -> &'static str {
        match self {
            Safety::Full => "full",
            Safety::Off => "off",
        }
    }
}

/// One point of the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Cell {
    /// Round-trip time in microseconds.
    rtt_us: u64,
    /// Closed-loop clients.
    clients: u32,
    /// SAFETY FULL or OFF.
    safety: Safety,
}

impl Cell {
    /// A name usable as a file stem: `rtt-0.5ms-clients-16-full`.
    fn name(&self) -> String {
        format!(
            "rtt-{}ms-clients-{}-{}",
            milliseconds(self.rtt_us),
            self.clients,
            self.safety.file_word()
        )
    }

    /// How a message names the cell: `RTT 0.5 ms, 16 clients, FULL`.
    fn label(&self) -> String {
        format!(
            "RTT {} ms, {} client{}, {}",
            milliseconds(self.rtt_us),
            self.clients,
            if self.clients == 1 { "" } else { "s" },
            self.safety.word()
        )
    }
}

/// What one cell measured.
#[derive(Clone, Debug)]
struct CellResult {
    /// The cell.
    cell: Cell,
    /// Acknowledged commits.
    acknowledged: u64,
    /// Simulated microseconds from the workload's start to the end of the run.
    window_us: u64,
    /// The latency summary (microseconds).
    latency: LatencySummary,
    /// The whole latency distribution (microseconds); empty when the run did not happen.
    histogram: Histogram<u64>,
    /// Why this cell failed, if it did.
    problem: Option<String>,
}

impl CellResult {
    /// Acknowledged commits per simulated second of workload.
    fn throughput(&self) -> f64 {
        if self.window_us == 0 {
            return 0.0;
        }
        self.acknowledged as f64 * 1e6 / self.window_us as f64
    }
}

/// `sim bench`: runs the grid, writes the files, prints the summary.
pub fn bench(arguments: &BenchArgs) -> Exit {
    let grid = if arguments.quick {
        GRID_QUICK
    } else {
        GRID_FULL
    };
    let out = &arguments.out;
    if let Err(message) = prepare_out(out) {
        print_err(&message);
        return Exit::BadInput;
    }
    let cells = cells_of(&grid);
    let progress = progress_bar(cells.len());
    let mut results = Vec::with_capacity(cells.len());
    for cell in &cells {
        progress.set_message(cell.label());
        results.push(run_cell(cell, &grid));
        progress.inc(1);
    }
    progress.finish_and_clear();

    let files = match write_outputs(out, &grid, &results) {
        Ok(files) => files,
        Err(message) => {
            print_err(&message);
            return Exit::BadInput;
        }
    };
    print_out(&render_summary(&grid, &results, out, &files));
    if results.iter().any(|r| r.problem.is_some()) {
        Exit::Failed
    } else {
        Exit::Held
    }
}

/// Every cell of `grid`, in report order: by RTT, then clients, then FULL before OFF.
fn cells_of(grid: &Grid) -> Vec<Cell> {
    let mut cells = Vec::new();
    for &rtt_us in grid.rtts_us {
        for &clients in grid.clients {
            for safety in Safety::BOTH {
                cells.push(Cell {
                    rtt_us,
                    clients,
                    safety,
                });
            }
        }
    }
    cells
}

/// A progress bar on stderr; indicatif hides it when stderr is not a terminal.
fn progress_bar(cells: usize) -> ProgressBar {
    let progress = ProgressBar::new(cells as u64);
    if let Ok(style) = ProgressStyle::with_template("sim bench {pos}/{len} cells {bar:30} {msg}") {
        progress.set_style(style);
    }
    progress
}

/// Creates `--out` and checks that a file can be written there, before anything runs: an
/// unwritable directory is bad input, not a lost bench.
fn prepare_out(out: &Path) -> Result<(), String> {
    // The OS's "File exists" would read as if a directory were in the way.
    if let Some(file) = out.ancestors().find(|path| path.exists() && !path.is_dir()) {
        return Err(format!(
            "sim bench: --out {}: {} is a file, not a directory: name a directory for the report",
            out.display(),
            file.display()
        ));
    }
    fs::create_dir_all(out).map_err(|error| {
        format!(
            "sim bench: --out {}: cannot create the directory: {error}",
            out.display()
        )
    })?;
    let report = out.join("bench.md");
    fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&report)
        .map(drop)
        .map_err(|error| {
            format!(
                "sim bench: --out {}: cannot write {}: {error}",
                out.display(),
                report.display()
            )
        })
}

/// `us` microseconds as milliseconds, as short as exact: 500 -> `0.5`, 2000 -> `2`.
fn milliseconds(us: u64) -> String {
    // f64's Display writes whole numbers without a fraction (2.0 as `2`), and every
    // microsecond count below 2^53 is exact.
    (us as f64 / 1000.0).to_string()
}

/// The scenario of one cell, as a DBA would write it: two partners, endpoints, logins, a full
/// and a log backup restored WITH NORECOVERY, SET PARTNER on the mirror then on the principal,
/// and for OFF, `SET PARTNER SAFETY OFF` on the principal. The workload starts after these steps.
fn scenario_toml(cell: &Cell, grid: &Grid) -> String {
    let one_way_us = cell.rtt_us / 2;
    let jitter_us = (one_way_us / JITTER_DIVISOR).max(1);
    let duration_s = SETUP_ALLOWANCE_S + grid.workload_s;
    let mut text = format!(
        r#"name = "bench-{name}"
description = "sim bench: {label}; two partners, no witness, no faults."
seed = {SEED}
duration = "{duration_s}s"

[database]
name = "Sales"
on = "alpha"
recovery_model = "full"
size = "64MiB"
log_size = "64GiB"
log_backup_interval = "none"

[[instance]]
name = "alpha"
host = "alpha.corp.example"
service_account = "CORP\\svc-alpha"

[[instance]]
name = "beta"
host = "beta.corp.example"
service_account = "CORP\\svc-beta"

[network]
one_way = "{one_way_us}us"
jitter = "{jitter_us}us"
bandwidth = "1Gbit/s"

[disk]
flush = "{FLUSH_US}us"
flush_jitter = "{FLUSH_JITTER_US}us"
throughput = "500MiB/s"

[workload]
clients = {clients}
think = "0s"
log_bytes = [{low}, {high}]

[[step]]
on = "alpha"
sql = "CREATE ENDPOINT Mirroring STATE = STARTED AS TCP (LISTENER_PORT = 7022) FOR DATABASE_MIRRORING (ROLE = PARTNER)"

[[step]]
on = "beta"
sql = "CREATE ENDPOINT Mirroring STATE = STARTED AS TCP (LISTENER_PORT = 7022) FOR DATABASE_MIRRORING (ROLE = PARTNER)"

[[step]]
on = "alpha"
sql = "CREATE LOGIN [CORP\\svc-beta] FROM WINDOWS; GRANT CONNECT ON ENDPOINT::Mirroring TO [CORP\\svc-beta]"

[[step]]
on = "beta"
sql = "CREATE LOGIN [CORP\\svc-alpha] FROM WINDOWS; GRANT CONNECT ON ENDPOINT::Mirroring TO [CORP\\svc-alpha]"

[[step]]
on = "alpha"
sql = "BACKUP DATABASE Sales TO DISK = 'sales_full.bak'"

[[step]]
on = "alpha"
sql = "BACKUP LOG Sales TO DISK = 'sales_log1.trn'"

[[step]]
on = "beta"
sql = "RESTORE DATABASE Sales FROM DISK = 'sales_full.bak' WITH NORECOVERY"

[[step]]
on = "beta"
sql = "RESTORE LOG Sales FROM DISK = 'sales_log1.trn' WITH NORECOVERY"

[[step]]
on = "beta"
sql = "ALTER DATABASE Sales SET PARTNER = 'TCP://alpha.corp.example:7022'"

[[step]]
on = "alpha"
sql = "ALTER DATABASE Sales SET PARTNER = 'TCP://beta.corp.example:7022'"
"#,
        name = cell.name(),
        label = cell.label(),
        clients = cell.clients,
        low = LOG_BYTES[0],
        high = LOG_BYTES[1],
    );
    if cell.safety == Safety::Off {
        text.push_str(
            r#"
[[step]]
on = "alpha"
sql = "ALTER DATABASE Sales SET PARTNER SAFETY OFF"
"#,
        );
    }
    text.push_str(
        r#"
[expect]
principal = "alpha"
mirror = "beta"
role_sequence = 0
lost_acknowledged = 0
split_brain = false
failovers = { automatic = 0, manual = 0, forced = 0 }
step_errors = []
"#,
    );
    text
}

/// Runs one cell; a cell that cannot run, fails its verdict or acknowledges nothing carries a
/// `problem`.
fn run_cell(cell: &Cell, grid: &Grid) -> CellResult {
    let mut result = CellResult {
        cell: *cell,
        acknowledged: 0,
        window_us: 0,
        latency: LatencySummary::default(),
        // 3 significant figures is within hdrhistogram's 0..=5: this cannot fail.
        histogram: Histogram::new(3).expect("3 significant figures is valid"),
        problem: None,
    };
    let file = PathBuf::from(format!("sim-bench/{}.toml", cell.name()));
    let scenario: Scenario = match scenario::parse(&scenario_toml(cell, grid), &file) {
        Ok(scenario) => scenario,
        Err(error) => {
            result.problem = Some(format!("its scenario does not parse: {error}"));
            return result;
        }
    };
    let options = RunOptions {
        seed: SEED,
        ..RunOptions::default()
    };
    let outcome = run_scenario(&scenario, &options);
    let report = &outcome.report;
    result.acknowledged = report.transactions.acknowledged;
    // Acknowledged commits only, as the commits column and the `.hgrm` files count them: the
    // report's summary adds the commits still waiting at the end (spec/cli.md), which put one
    // more value in each cell than it said, and a max above every acknowledged commit.
    // Its max and mean exact, as the report's are (the histogram rounds values up).
    result.latency = LatencySummary::from_histogram(&outcome.commit_latency_us)
        .with_exact_max_and_mean(outcome.commit_latency_max_us, outcome.commit_latency_sum_us);
    result.histogram = outcome.commit_latency_us;
    let Some(started_us) = outcome.workload_started_us else {
        result.problem = Some("the workload never started (setup did not finish)".to_string());
        return result;
    };
    result.window_us = (scenario.duration_ns / 1000).saturating_sub(started_us);
    if report.verdict == Verdict::Fail {
        let failed: Vec<&str> = report
            .invariants
            .iter()
            .filter(|i| !i.held)
            .map(|i| i.name.as_str())
            .chain(
                report
                    .expectations
                    .iter()
                    .filter(|e| !e.held)
                    .map(|e| e.name.as_str()),
            )
            .collect();
        result.problem = Some(format!("the run failed: {}", failed.join(", ")));
    } else if result.acknowledged == 0 {
        result.problem = Some("no commit was acknowledged".to_string());
    }
    result
}

/// FULL against OFF for one (RTT, clients): the ratios the report is about.
#[derive(Clone, Copy, Debug)]
struct Comparison<'r> {
    /// The SAFETY FULL cell.
    full: &'r CellResult,
    /// The SAFETY OFF cell, the baseline.
    off: &'r CellResult,
}

impl Comparison<'_> {
    /// FULL's p50 over OFF's.
    fn p50_ratio(&self) -> Option<f64> {
        ratio(self.full.latency.p50 as f64, self.off.latency.p50 as f64)
    }

    /// FULL's p99 over OFF's.
    fn p99_ratio(&self) -> Option<f64> {
        ratio(self.full.latency.p99 as f64, self.off.latency.p99 as f64)
    }

    /// FULL's throughput over OFF's.
    fn throughput_ratio(&self) -> Option<f64> {
        ratio(self.full.throughput(), self.off.throughput())
    }
}

/// `a / b`, or `None` when `b` is 0.
fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

/// Pairs each FULL cell with the OFF cell of the same RTT and clients, in report order.
fn comparisons(results: &[CellResult]) -> Vec<Comparison<'_>> {
    results
        .iter()
        .filter(|r| r.cell.safety == Safety::Full)
        .filter_map(|full| {
            let off = results.iter().find(|r| {
                r.cell
                    == Cell {
                        safety: Safety::Off,
                        ..full.cell
                    }
            })?;
            Some(Comparison { full, off })
        })
        .collect()
}

/// The files written, relative to `--out`.
#[derive(Clone, Debug, Default)]
struct Files {
    /// The SVG charts: (file name, what it shows).
    charts: Vec<(String, String)>,
    /// One `.hgrm` per cell, in cell order.
    histograms: Vec<String>,
}

/// Writes every `.hgrm`, the charts and `bench.md`; a write error names the file.
fn write_outputs(out: &Path, grid: &Grid, results: &[CellResult]) -> Result<Files, String> {
    let write = |name: &str, text: &str| {
        let path = out.join(name);
        fs::write(&path, text)
            .map_err(|error| format!("sim bench: cannot write {}: {error}", path.display()))
    };
    let mut files = Files::default();
    for result in results {
        let name = format!("{}.hgrm", result.cell.name());
        let exact = Some((result.latency.mean, result.latency.max));
        write(
            &name,
            &hgrm_text(&result.histogram, &result.cell.label(), exact),
        )?;
        files.histograms.push(name);
    }
    let charts = [
        (
            "latency-p50.svg",
            "p50 commit latency against RTT",
            Metric::P50,
        ),
        (
            "latency-p99.svg",
            "p99 commit latency against RTT",
            Metric::P99,
        ),
        (
            "throughput.svg",
            "throughput (commits/s) against RTT",
            Metric::Throughput,
        ),
    ];
    for (name, title, metric) in charts {
        let svg = chart_svg(grid, results, metric, title)
            .map_err(|error| format!("sim bench: cannot draw {name}: {error}"))?;
        write(name, &svg)?;
        files.charts.push((name.to_string(), title.to_string()));
    }
    write("bench.md", &render_markdown(grid, results, &files))?;
    Ok(files)
}

/// A histogram's percentile distribution in HdrHistogram's text format (as Java's
/// `outputPercentileDistribution` writes it, 5 ticks per half distance): values in
/// milliseconds with microsecond resolution, after a `#` line that says so. `exact` is the
/// mean and the max in microseconds as measured, for the footer: the histogram's own round
/// each value up to its bucket, and the footer then disagreed with `bench.md`'s table.
fn hgrm_text(histogram: &Histogram<u64>, title: &str, exact: Option<(f64, u64)>) -> String {
    const SCALE: f64 = 1000.0; // microseconds recorded, milliseconds written
    let mut text =
        format!("# sim bench: commit latency, {title}; values in milliseconds of simulated time\n");
    // Writing to a String cannot fail: the `let _ =` below discard an always-Ok result.
    let _ = write!(
        text,
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    for step in histogram.iter_quantiles(5) {
        total += step.count_since_last_iteration();
        let value = histogram.highest_equivalent(step.value_iterated_to()) as f64 / SCALE;
        let quantile = step.quantile_iterated_to();
        if quantile < 1.0 {
            let _ = writeln!(
                text,
                "{value:>12.3} {quantile:>2.12} {total:>10} {:>14.2}",
                1.0 / (1.0 - quantile)
            );
        } else {
            let _ = writeln!(text, "{value:>12.3} {quantile:>2.12} {total:>10}");
        }
    }
    let sub_buckets = (2 * 10u64.pow(u32::from(histogram.sigfig()))).next_power_of_two();
    let _ = writeln!(
        text,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]",
        exact.map_or_else(|| histogram.mean(), |(mean, _)| mean) / SCALE,
        histogram.stdev() / SCALE
    );
    let _ = writeln!(
        text,
        "#[Max     = {:>12.3}, Total count    = {:>12}]",
        exact.map_or_else(|| histogram.max(), |(_, max)| max) as f64 / SCALE,
        histogram.len()
    );
    let _ = writeln!(
        text,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        histogram.buckets(),
        sub_buckets
    );
    text
}

/// What a chart plots against RTT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Metric {
    /// Median commit latency, milliseconds.
    P50,
    /// 99th percentile commit latency, milliseconds.
    P99,
    /// Acknowledged commits per simulated second.
    Throughput,
}

impl Metric {
    /// The value of one cell, or `None` when the cell has nothing to show (log axes need > 0).
    fn of(self, result: &CellResult) -> Option<f64> {
        let value = match self {
            Metric::P50 => result.latency.p50 as f64 / 1000.0,
            Metric::P99 => result.latency.p99 as f64 / 1000.0,
            Metric::Throughput => result.throughput(),
        };
        (value > 0.0).then_some(value)
    }

    /// The y axis's description.
    fn axis(self) -> &'static str {
        match self {
            Metric::P50 => "p50 commit latency (ms)",
            Metric::P99 => "p99 commit latency (ms)",
            Metric::Throughput => "acknowledged commits per second",
        }
    }
}

/// One chart: `metric` against RTT on log-log axes, one line per load and safety (FULL solid,
/// OFF dashed, one colour per load), with the legend in a panel on the right. The SVG backend
/// writes text as `<text>` elements and plotters, without its `ttf` feature, only estimates
/// text sizes, so no font is needed.
fn chart_svg(
    grid: &Grid,
    results: &[CellResult],
    metric: Metric,
    title: &str,
) -> Result<String, String> {
    let values: Vec<f64> = results.iter().filter_map(|r| metric.of(r)).collect();
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(0.0, f64::max);
    let (y_low, y_high) = if values.is_empty() {
        (0.1, 1.0)
    } else {
        (low / 1.5, high * 1.5)
    };
    let rtt_low = grid.rtts_us.iter().copied().min().unwrap_or(500) as f64 / 1000.0;
    let rtt_high = grid.rtts_us.iter().copied().max().unwrap_or(500) as f64 / 1000.0;
    // The x axis is labelled at the grid's RTTs: its only points.
    let rtts_ms: Vec<f64> = grid.rtts_us.iter().map(|&r| r as f64 / 1000.0).collect();
    let number = |v: &f64| {
        if *v >= 10.0 {
            format!("{v:.0}")
        } else {
            format!("{v}")
        }
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (860, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (plot_area, legend_area) = root.split_horizontally(680);
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(
                (rtt_low / 1.5..rtt_high * 1.5)
                    .log_scale()
                    .with_key_points(rtts_ms),
                (y_low..y_high).log_scale(),
            )
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_desc("round-trip time (ms)")
            .y_desc(metric.axis())
            .x_label_formatter(&number)
            .y_label_formatter(&number)
            .draw()
            .map_err(|e| e.to_string())?;
        let mut legend_row = 0;
        for (index, &clients) in grid.clients.iter().enumerate() {
            let colour = Palette99::pick(index).to_rgba();
            let style = ShapeStyle::from(&colour).stroke_width(2);
            for safety in Safety::BOTH {
                let points: Vec<(f64, f64)> = results
                    .iter()
                    .filter(|r| r.cell.clients == clients && r.cell.safety == safety)
                    .filter_map(|r| Some((r.cell.rtt_us as f64 / 1000.0, metric.of(r)?)))
                    .collect();
                match safety {
                    Safety::Full => chart.draw_series(LineSeries::new(points.clone(), style)),
                    Safety::Off => {
                        chart.draw_series(DashedLineSeries::new(points.clone(), 8, 5, style))
                    }
                }
                .map_err(|e| e.to_string())?;
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 3, style.filled())))
                    .map_err(|e| e.to_string())?;
                let y = 60 + 24 * legend_row;
                legend_row += 1;
                let sample = match safety {
                    Safety::Full => vec![vec![(8, y), (40, y)]],
                    Safety::Off => vec![vec![(8, y), (18, y)], vec![(24, y), (34, y)]],
                };
                for segment in sample {
                    legend_area
                        .draw(&PathElement::new(segment, style))
                        .map_err(|e| e.to_string())?;
                }
                let label = format!(
                    "{clients} client{}, {}",
                    if clients == 1 { "" } else { "s" },
                    safety.word()
                );
                legend_area
                    .draw(&Text::new(
                        label,
                        (48, y - 7),
                        ("sans-serif", 14).into_font().color(&BLACK),
                    ))
                    .map_err(|e| e.to_string())?;
            }
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// A latency in microseconds, as milliseconds with microsecond resolution.
fn ms3(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

/// A ratio with two decimals, or `n/a`.
fn ratio_text(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.2}"))
}

/// The one-line verdict that leads both the report and the summary.
fn verdict_line(grid: &Grid, results: &[CellResult]) -> String {
    let failed: Vec<String> = results
        .iter()
        .filter_map(|r| {
            r.problem
                .as_ref()
                .map(|p| format!("{}: {p}", r.cell.label()))
        })
        .collect();
    if !failed.is_empty() {
        return format!(
            "FAIL  sim bench ({} grid): {} of {} cells failed: {}",
            grid.name,
            failed.len(),
            results.len(),
            failed.join("; ")
        );
    }
    let all = comparisons(results);
    let span = |values: Vec<f64>| {
        let low = values.iter().copied().fold(f64::INFINITY, f64::min);
        let high = values.iter().copied().fold(0.0, f64::max);
        format!("{low:.2}x to {high:.2}x")
    };
    format!(
        "PASS  sim bench ({} grid): {} cells; FULL's p50 commit latency is {} OFF's, its throughput {} OFF's",
        grid.name,
        results.len(),
        span(all.iter().filter_map(Comparison::p50_ratio).collect()),
        span(all.iter().filter_map(Comparison::throughput_ratio).collect()),
    )
}

/// The comparison table (Markdown, also printed on stdout): one row per RTT and load.
fn comparison_table(results: &[CellResult]) -> String {
    let mut text = String::from(
        "| RTT ms | clients | p50 ms FULL | p50 ms OFF | p50 FULL/OFF | p50 FULL-OFF ms | p99 ms FULL | p99 ms OFF | p99 FULL/OFF | commits/s FULL | commits/s OFF | commits/s FULL/OFF |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for c in comparisons(results) {
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {} | {:.3} | {} | {} | {} | {:.1} | {:.1} | {} |",
            milliseconds(c.full.cell.rtt_us),
            c.full.cell.clients,
            ms3(c.full.latency.p50),
            ms3(c.off.latency.p50),
            ratio_text(c.p50_ratio()),
            (c.full.latency.p50 as f64 - c.off.latency.p50 as f64) / 1000.0,
            ms3(c.full.latency.p99),
            ms3(c.off.latency.p99),
            ratio_text(c.p99_ratio()),
            c.full.throughput(),
            c.off.throughput(),
            ratio_text(c.throughput_ratio()),
        );
    }
    text
}

/// `bench.md`: what was run, the grid, the results, why, and links to the files. It holds
/// simulated figures only, so two runs of one binary write the same bytes.
fn render_markdown(grid: &Grid, results: &[CellResult], files: &Files) -> String {
    let mut text = String::from("# sim bench: FULL against OFF commit latency\n\n");
    let _ = writeln!(text, "{}\n", verdict_line(grid, results));
    let rtts: Vec<String> = grid.rtts_us.iter().map(|&r| milliseconds(r)).collect();
    let clients: Vec<String> = grid.clients.iter().map(u32::to_string).collect();
    let _ = write!(
        text,
        "## What was run\n\n\
         `sim bench{quick}`, the {name} grid: round-trip times {rtts} ms (one way is half, plus \
         exponential jitter with a mean of a tenth of it) x closed-loop loads of {clients} clients \
         (no think time, so throughput follows latency) x SAFETY FULL and SAFETY OFF: {cells} \
         cells. Each cell is one simulated run of two partners (no witness, no faults), set up by \
         the T-SQL a DBA would type: endpoints, logins, a full and a log backup restored WITH \
         NORECOVERY on the mirror, SET PARTNER on the mirror then on the principal, and for OFF \
         `ALTER DATABASE Sales SET PARTNER SAFETY OFF` on the principal. Log flush {flush} us plus \
         exponential jitter with a mean of {flush_jitter} us on both partners, 1 Gbit/s links, \
         {low} to {high} bytes of log per transaction, seed {SEED}, {duration} s simulated per run. \
         The workload starts when setup is done; commits are measured from then to the end of \
         the run (throughput: acknowledged commits per simulated second of workload). All times \
         are simulated: the same binary gives the same figures. SAFETY OFF is the baseline each \
         FULL figure is compared with.\n\n",
        quick = if grid.name == "quick" { " --quick" } else { "" },
        name = grid.name,
        rtts = rtts.join(", "),
        clients = clients.join(", "),
        cells = results.len(),
        flush = FLUSH_US,
        flush_jitter = FLUSH_JITTER_US,
        low = LOG_BYTES[0],
        high = LOG_BYTES[1],
        duration = SETUP_ALLOWANCE_S + grid.workload_s,
    );
    text.push_str(
        "## Why FULL costs what it costs\n\n\
         With SAFETY OFF a commit is acknowledged once the principal has hardened its log: one \
         local flush. With SAFETY FULL it is acknowledged only when the mirror has hardened it \
         too: the log block travels to the mirror, the mirror flushes it, and the acknowledgement \
         travels back, while the principal's own flush runs meanwhile. So a FULL commit costs \
         about one round trip plus the mirror's flush, and FULL's p50 exceeds OFF's by about one \
         round trip (the column p50 FULL-OFF; the network jitter adds a tenth of it each way). \
         In a closed loop each client waits for its commit before the next, so FULL's throughput \
         falls as the round trip grows, while OFF's does not depend on it.\n\n",
    );
    text.push_str("## FULL against OFF\n\n");
    text.push_str(&comparison_table(results));
    text.push_str("\n## Every cell\n\nLatencies in milliseconds of simulated time.\n");
    for &rtt_us in grid.rtts_us {
        let _ = write!(
            text,
            "\n### RTT {} ms\n\n\
             | clients | safety | commits | commits/s | p50 | p90 | p99 | p99.9 | max | mean | histogram |\n\
             |---:|:--|---:|---:|---:|---:|---:|---:|---:|---:|:--|\n",
            milliseconds(rtt_us)
        );
        for r in results.iter().filter(|r| r.cell.rtt_us == rtt_us) {
            let _ = writeln!(
                text,
                "| {} | {} | {} | {:.1} | {} | {} | {} | {} | {} | {:.3} | [{name}.hgrm]({name}.hgrm) |",
                r.cell.clients,
                r.cell.safety.word(),
                r.acknowledged,
                r.throughput(),
                ms3(r.latency.p50),
                ms3(r.latency.p90),
                ms3(r.latency.p99),
                ms3(r.latency.p999),
                ms3(r.latency.max),
                r.latency.mean / 1000.0,
                name = r.cell.name(),
            );
        }
    }
    text.push_str("\n## Charts\n\n");
    for (name, title) in &files.charts {
        let _ = writeln!(text, "![{title}]({name})\n");
    }
    text.push_str(
        "The `.hgrm` files are HdrHistogram percentile distributions (values in milliseconds); \
         they load into HdrHistogram's plotter to compare cells.\n",
    );
    text
}

/// The summary on stdout: the verdict, the comparison table, where the files are.
fn render_summary(grid: &Grid, results: &[CellResult], out: &Path, files: &Files) -> String {
    let mut text = verdict_line(grid, results);
    text.push_str("\n\n");
    text.push_str(&comparison_table(results));
    let _ = writeln!(
        text,
        "\nwrote {}: bench.md, {} charts ({}), {} .hgrm files",
        out.display(),
        files.charts.len(),
        files
            .charts
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        files.histograms.len()
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses the data lines of an `.hgrm` text: (value, percentile, total count).
    fn data_lines(text: &str) -> Vec<(f64, f64, u64)> {
        text.lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .skip(1) // the column header
            .map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                (
                    fields[0].parse().unwrap(),
                    fields[1].parse().unwrap(),
                    fields[2].parse().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn hgrm_has_the_columns_and_the_footer() {
        let mut histogram = Histogram::<u64>::new(3).unwrap();
        for us in 1..=1000 {
            histogram.record(us).unwrap();
        }
        let text = hgrm_text(&histogram, "test", None);
        let mut lines = text.lines();
        assert!(lines.next().unwrap().contains("milliseconds"));
        let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(
            header,
            ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
        );
        let rows = data_lines(&text);
        assert!(rows.len() > 20, "{text}");
        assert!(rows
            .windows(2)
            .all(|w| w[0].1 <= w[1].1 && w[0].2 <= w[1].2));
        assert!(rows.windows(2).all(|w| w[0].0 <= w[1].0));
        let last = rows.last().unwrap();
        assert_eq!((last.0, last.1, last.2), (1.0, 1.0, 1000));
        // The median of 1..=1000 us is 0.5 ms.
        let median = rows.iter().find(|r| r.1 >= 0.5).unwrap();
        assert_eq!(median.0, 0.5);
        // The last line has no 1/(1-Percentile) column; the others have four.
        let data: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .skip(1)
            .collect();
        assert!(data[..data.len() - 1]
            .iter()
            .all(|l| l.split_whitespace().count() == 4));
        assert_eq!(data[data.len() - 1].split_whitespace().count(), 3);
        assert!(text.contains("#[Mean    =        0.500, StdDeviation   =        0.289]"));
        assert!(text.contains("#[Max     =        1.000, Total count    =         1000]"));
        assert!(text.contains("SubBuckets     =         2048]"));
    }

    #[test]
    fn hgrm_of_an_empty_histogram_is_a_header_and_a_footer() {
        let histogram = Histogram::<u64>::new(3).unwrap();
        let text = hgrm_text(&histogram, "empty", None);
        assert!(data_lines(&text).is_empty());
        assert!(text.contains("Total count    =            0]"));
    }

    #[test]
    fn hgrm_values_are_milliseconds_of_the_recorded_microseconds() {
        let mut histogram = Histogram::<u64>::new(3).unwrap();
        histogram.record_n(1234, 3).unwrap();
        let rows = data_lines(&hgrm_text(&histogram, "one value", None));
        assert!(rows.iter().all(|r| r.0 == 1.234), "{rows:?}");
        assert_eq!(rows.last().unwrap().2, 3);
    }

    #[test]
    fn every_cell_scenario_parses() {
        for grid in [GRID_QUICK, GRID_FULL] {
            for cell in cells_of(&grid) {
                let text = scenario_toml(&cell, &grid);
                let file = PathBuf::from(format!("{}.toml", cell.name()));
                let parsed = scenario::parse(&text, &file);
                assert!(parsed.is_ok(), "{}: {:?}", cell.name(), parsed.err());
                assert_eq!(
                    text.contains("SAFETY OFF"),
                    cell.safety == Safety::Off,
                    "{}",
                    cell.name()
                );
            }
        }
    }

    /// A result for `cell` with `acknowledged` commits of 1 ms each over one second.
    fn result(cell: Cell, acknowledged: u64, problem: Option<&str>) -> CellResult {
        let mut histogram = Histogram::<u64>::new(3).unwrap();
        if acknowledged > 0 {
            histogram.record_n(1000, acknowledged).unwrap();
        }
        CellResult {
            cell,
            acknowledged,
            window_us: 1_000_000,
            latency: LatencySummary::from_histogram(&histogram),
            histogram,
            problem: problem.map(str::to_string),
        }
    }

    #[test]
    fn a_cells_max_and_mean_are_exact_not_the_histograms() {
        let cell = cells_of(&GRID_QUICK)[0];
        let result = run_cell(&cell, &GRID_QUICK);
        assert!(result.problem.is_none(), "{:?}", result.problem);
        let histogram = &result.histogram;
        assert_eq!(result.latency.count, histogram.len());
        // The histogram rounds each value up to its bucket; the exact figures lie within the
        // recorded range and differ from the bucketed ones.
        assert!(result.latency.max <= histogram.max());
        assert!(result.latency.mean >= histogram.min() as f64);
        assert!(result.latency.mean <= result.latency.max as f64);
        assert_ne!(result.latency.mean, histogram.mean());
    }

    #[test]
    fn a_failed_cell_makes_the_verdict_fail_and_is_named() {
        let cells = cells_of(&GRID_QUICK);
        let mut results: Vec<CellResult> = cells.iter().map(|&c| result(c, 10, None)).collect();
        assert!(verdict_line(&GRID_QUICK, &results).starts_with("PASS"));
        results[3] = result(cells[3], 0, Some("no commit was acknowledged"));
        let verdict = verdict_line(&GRID_QUICK, &results);
        assert!(verdict.starts_with("FAIL"), "{verdict}");
        assert!(
            verdict.contains(&format!("{}: no commit was acknowledged", cells[3].label())),
            "{verdict}"
        );
        // Its comparison shows no ratio rather than dividing by zero.
        let table = comparison_table(&results);
        assert!(table.contains("n/a"), "{table}");
    }

    #[test]
    fn comparisons_pair_full_with_off_of_the_same_rtt_and_load() {
        let results: Vec<CellResult> = cells_of(&GRID_FULL)
            .into_iter()
            .map(|c| result(c, if c.safety == Safety::Full { 10 } else { 40 }, None))
            .collect();
        let pairs = comparisons(&results);
        assert_eq!(
            pairs.len(),
            GRID_FULL.rtts_us.len() * GRID_FULL.clients.len()
        );
        for pair in pairs {
            assert_eq!(pair.full.cell.rtt_us, pair.off.cell.rtt_us);
            assert_eq!(pair.full.cell.clients, pair.off.cell.clients);
            assert_eq!(pair.throughput_ratio(), Some(0.25));
            assert_eq!(pair.p50_ratio(), Some(1.0));
        }
    }

    #[test]
    fn milliseconds_are_short_and_exact() {
        assert_eq!(milliseconds(500), "0.5");
        assert_eq!(milliseconds(2_000), "2");
        assert_eq!(milliseconds(40_000), "40");
        assert_eq!(milliseconds(1_250), "1.25");
    }
}
