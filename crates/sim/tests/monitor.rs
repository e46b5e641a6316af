//! The `monitor` samples of the report (spec/cli.md: the `sp_dbmmonitorresults` figures).

mod common;

use common::{principal_sample_at, report_of};
use mirror_sim::report::MirroringRole;
use mirror_sim::scenario::SessionState;
use std::ops::RangeBounds;

// Reference section 6: "Send queue = log on the principal not yet sent". A SUSPENDED or
// DISCONNECTED principal keeps generating log that waits for the mirror: its `unsent_log_kb`
// shows it (it read 0), and `queues.send_queue_max_bytes` is at least every sample.
#[test]
fn unsent_log_is_reported_while_suspended_or_disconnected() {
    for (file, state) in [
        (
            "suspended-session-fills-the-log-9002.toml",
            SessionState::Suspended,
        ),
        (
            "partner-off-while-mirror-powered-off-ends-session.toml",
            SessionState::Disconnected,
        ),
    ] {
        let report = report_of(file);
        let waiting: Vec<u64> = report
            .monitor
            .iter()
            .filter(|m| m.role == MirroringRole::Principal && m.mirroring_state == state)
            .map(|m| m.unsent_log_kb)
            .collect();
        assert!(!waiting.is_empty(), "{file}: no {state:?} principal sample");
        assert!(
            waiting.iter().all(|&kb| kb > 1024),
            "{file}: {state:?} principal samples {waiting:?} KB unsent"
        );
        for sample in &report.monitor {
            assert!(
                sample.unsent_log_kb * 1024 <= report.queues.send_queue_max_bytes,
                "{file}: a sample above send_queue_max_bytes: {sample:?}"
            );
        }
    }
}

// Reference section 6 again: a principal that restarts while the session is SUSPENDED still
// knows how far the mirror hardened, so its send queue is the log written since the suspension
// (about 40 MB at 45 s here), not its whole log (63 MB).
#[test]
fn a_restarted_principal_counts_only_the_log_the_mirror_lacks() {
    let report = report_of("suspended-principal-restarts-send-queue-counts-only-unsent.toml");
    let at_45s = principal_sample_at(&report, 45_000_000);
    assert!(
        (30_000..50_000).contains(&at_45s.unsent_log_kb),
        "unsent at 45 s: {} KB",
        at_45s.unsent_log_kb
    );
}

// Reference sections 2 and 4: SAFETY FULL after OFF returns the session to SYNCHRONIZING, and
// both partners report the same state (the mirror stayed SYNCHRONIZED).
#[test]
fn both_partners_report_synchronizing_after_safety_full() {
    let report = report_of("safety-full-after-a-lagging-off-both-partners-synchronizing.toml");
    let last_at = report
        .monitor
        .iter()
        .map(|m| m.at_us)
        .max()
        .expect("samples");
    let states: Vec<SessionState> = report
        .monitor
        .iter()
        .filter(|m| m.at_us == last_at)
        .map(|m| m.mirroring_state)
        .collect();
    assert_eq!(
        states,
        [SessionState::Synchronizing, SessionState::Synchronizing],
        "the last samples of principal and mirror"
    );
}

// Reference section 6: `transaction_delay` is the total time commits waited for the mirror.
// Pausing the mirror for 9 s at 5,000 tx/s makes about 45,000 commits wait 4.5 s on average;
// the sample that covers the stall counts each in full (it kept only the last 4,096 local
// flush times and measured the older commits from a later flush: 636 ms on average).
#[test]
fn transaction_delay_counts_every_commit_of_a_long_stall_in_full() {
    let report = report_of("mirror-paused-nine-seconds-commits-wait.toml");
    let stall = principal_sample_at(&report, 30_000_000);
    assert!(
        (2_000.0..3_500.0).contains(&stall.average_delay_ms),
        "average delay {} ms",
        stall.average_delay_ms
    );
    let total = stall.average_delay_ms * stall.transactions_per_sec as f64 * 15.0;
    assert!(
        (stall.transaction_delay_ms as f64 - total).abs() < total * 0.01,
        "transaction_delay {} ms against {total} ms",
        stall.transaction_delay_ms
    );
}

// Reference section 2: `mirroring_failover_lsn` is the latest LSN known hardened on both
// partners (it read 0 until a role change); section 6's `time_behind` is how far in the
// principal's time the mirror has caught up (it read 0 always).
#[test]
fn the_views_say_how_far_a_lagging_mirror_has_hardened() {
    let report = report_of("monitor-a-lagging-mirror-in-safety-off.toml");
    let column = |step: usize, name: &str| {
        let query = report
            .queries
            .iter()
            .find(|q| q.step == step)
            .unwrap_or_else(|| panic!("step {step} ran its query"));
        let at = query.columns.iter().position(|c| c == name).expect(name);
        query.rows[0][at].as_u64().expect("a number")
    };
    let steps: Vec<usize> = report.queries.iter().map(|q| q.step).collect();
    let [monitor, on_alpha, on_beta] = steps[..] else {
        panic!("three queries: {steps:?}");
    };
    let (alpha_lsn, beta_lsn) = (
        column(on_alpha, "mirroring_failover_lsn"),
        column(on_beta, "mirroring_failover_lsn"),
    );
    assert_eq!(alpha_lsn, beta_lsn, "the same on both partners");
    assert_eq!(beta_lsn, column(on_beta, "mirroring_end_of_log_lsn"));
    assert!(alpha_lsn > 0 && alpha_lsn < column(on_alpha, "mirroring_end_of_log_lsn"));
    // The mirror lags by tens of seconds: it has caught up to a time well before now.
    let (behind, now) = (
        column(monitor, "time_behind"),
        column(monitor, "local_time"),
    );
    assert!(
        behind > 0 && behind + 15_000_000 <= now,
        "{behind} of {now}"
    );
}

// Reference section 6: a transaction larger than a log block spans several blocks. The writer
// keeps at most 64 KiB of unsent blocks and re-creates the rest for the mirror; re-creation
// started only at a transaction, so the first block to end inside one stopped the mirror for
// good (21 of 1,618 commits acknowledged, the session still SYNCHRONIZED, every check held).
#[test]
fn transactions_larger_than_a_block_reach_the_mirror() {
    let report = report_of("large-transactions-span-log-blocks.toml");
    let tx = &report.transactions;
    assert!(tx.submitted > 1_500, "{tx:?}");
    assert_eq!(tx.acknowledged, tx.submitted, "{tx:?}");
    assert!(
        report.queues.send_queue_max_bytes < 1 << 20,
        "the mirror keeps up: {:?}",
        report.queues
    );
}

// Reference section 6: the log is truncated by log backups alone in the FULL recovery model.
// Under SIMPLE, and under FULL before a full backup starts a log backup chain, SQL Server
// truncates it at each checkpoint; the simulator kept it all and failed every commit with 9002
// once the log was full.
#[test]
fn without_a_log_backup_chain_the_log_truncates_at_checkpoints() {
    let file = common::sims_file("simple-recovery-log-truncates-at-checkpoint.toml");
    let text = std::fs::read_to_string(&file).expect("bundled scenario");
    for model in ["simple", "full"] {
        let text = text.replace(
            "recovery_model = \"simple\"",
            &format!("recovery_model = \"{model}\""),
        );
        let scenario = mirror_sim::scenario::parse(&text, &file).expect("valid");
        let report = common::run(&scenario);
        let tx = &report.transactions;
        assert!(tx.submitted > 29_000, "{model}: {tx:?}");
        assert_eq!(tx.failed, 0, "{model}: no 9002: {tx:?}");
    }
}

// Reference section 6 again: the send queue grows with every commit while the session is
// SUSPENDED, between monitor samples too. The run ends before the first sample, at about 18 MB
// waiting (queues.send_queue_max_bytes read 2 KB, the queue when log last departed).
#[test]
fn the_send_queue_peak_is_kept_between_monitor_samples() {
    let report = report_of("suspended-send-queue-peaks-between-monitor-samples.toml");
    assert!(report.monitor.is_empty(), "{:?}", report.monitor);
    let peak = report.queues.send_queue_max_bytes;
    assert!((15_000_000..20_000_000).contains(&peak), "peak {peak} B");
}

// Reference sections 3 and 6: a mirror whose host lost power, or which hangs, takes in no log
// (a soft error, noticed only by TIMEOUT), so what the principal generates waits in its send
// queue until it declares the mirror lost, as behind a partition. The 15 s sample (9 s after
// the mirror went silent at 6 s, before TIMEOUT) read 0 unsent, the log counted as sent.
#[test]
fn log_for_a_silent_mirror_stays_in_the_send_queue() {
    for file in [
        "log-sent-to-a-powered-off-mirror-stays-in-the-send-queue.toml",
        "log-sent-to-a-hung-mirror-stays-in-the-send-queue.toml",
    ] {
        let report = report_of(file);
        let at_15s = principal_sample_at(&report, 15_000_000);
        assert_eq!(at_15s.mirroring_state, SessionState::Synchronized, "{file}");
        assert!(
            (8_000..9_500).contains(&at_15s.unsent_log_kb),
            "{file}: unsent at 15 s: {} KB",
            at_15s.unsent_log_kb
        );
        assert!(
            at_15s.send_rate_kbs < at_15s.log_generation_rate_kbs / 2,
            "{file}: sent {} KB/s of {} KB/s generated",
            at_15s.send_rate_kbs,
            at_15s.log_generation_rate_kbs
        );
    }
}

// Reference section 2: `mirroring_failover_lsn` is the latest LSN known hardened on both
// partners, and `final.failover_lsn` reports it at the end. It was the last role change's
// LSN: 0 for a session that never failed over, however much log both partners held.
#[test]
fn the_final_failover_lsn_is_what_both_partners_hardened() {
    let report = report_of("setup-high-safety-witness.toml");
    assert_eq!(report.final_state.role_sequence, 0);
    let lsn = report.final_state.failover_lsn.expect("a session exists");
    assert!(lsn > 1_000_000, "final.failover_lsn {lsn}");
}

// sp_dbmmonitorresults' @mode picks the rows (0 the latest; 1 the last two hours; 6 the last
// 100 rows) and @update_table = 1 records a row as of the call. The mode was parsed and
// ignored: every call returned the latest 15 s row.
#[test]
fn monitor_results_modes_pick_the_rows() {
    let report = report_of("monitor-results-modes-pick-the-rows.toml");
    let recorded = |step: usize| -> Vec<u64> {
        let query = report
            .queries
            .iter()
            .find(|q| q.step == step)
            .unwrap_or_else(|| panic!("step {step} ran its query"));
        let at = query.columns.iter().position(|c| c == "time_recorded");
        let at = at.expect("time_recorded");
        query
            .rows
            .iter()
            .map(|row| row[at].as_u64().expect("a number"))
            .collect()
    };
    // The principal's samples so far, newest first.
    let mut samples: Vec<u64> = report
        .monitor
        .iter()
        .filter(|s| s.on == "alpha" && s.at_us <= 46_000_000)
        .map(|s| s.at_us)
        .collect();
    samples.reverse();
    assert!(samples.len() >= 3, "{samples:?}");
    assert_eq!(recorded(12), samples[..1], "no mode: the latest row");
    assert_eq!(recorded(13), samples, "@mode 1: the last two hours");
    assert_eq!(recorded(14), samples, "@mode 6: the last 100 rows");
    assert_eq!(
        recorded(15),
        samples[..1],
        "@update_table = 1: no new row, the 45 s row is younger than 15 s"
    );
}

// A row's `time_behind` is as of its own `time_recorded`: the same row asked three times gives
// the same figure, about where the mirror had hardened (9.36 s by the events). It followed the
// mirror's progress at the time of the query (7.7, 10.8, then 15 s), and the log was taken as
// growing from the start of the run rather than from the workload's start.
#[test]
fn a_monitor_rows_time_behind_is_its_own() {
    let report = report_of("a-monitor-rows-time-behind-is-its-own.toml");
    let behind: Vec<(u64, u64)> = report
        .queries
        .iter()
        .map(|q| {
            let column = |name: &str| q.columns.iter().position(|c| c == name).expect(name);
            let row = &q.rows[0];
            let number = |at: usize| row[at].as_u64().expect("a number");
            (
                number(column("time_recorded")),
                number(column("time_behind")),
            )
        })
        .collect();
    assert_eq!(behind.len(), 3, "{behind:?}");
    assert!(behind.iter().all(|&b| b == behind[0]), "{behind:?}");
    let (recorded, behind) = behind[0];
    assert_eq!(recorded, 15_000_000);
    assert!((9_000_000..10_000_000).contains(&behind), "{behind}");
}

/// Column `column` of every query row on instance `on` (any instance when empty) whose
/// `key` column is `value`.
/// Asserts that every figure of `values` lies in `range`.
fn assert_all_within(values: &[u64], range: impl RangeBounds<u64> + std::fmt::Debug) {
    assert!(
        values.iter().all(|v| range.contains(v)),
        "{values:?} not all within {range:?}"
    );
}

fn column_where(
    report: &mirror_sim::report::Report,
    on: &str,
    (key, value): (&str, u64),
    column: &str,
) -> Vec<u64> {
    report
        .queries
        .iter()
        .filter(|q| on.is_empty() || q.on == on)
        .flat_map(|q| {
            let at = |name: &str| q.columns.iter().position(|c| c == name);
            let (key_at, column_at) = (at(key), at(column));
            q.rows.iter().filter_map(move |row| {
                let number = |i: Option<usize>| i.and_then(|i| row[i].as_u64());
                (number(key_at) == Some(value))
                    .then(|| number(column_at))
                    .flatten()
            })
        })
        .collect()
}

// spec/cli.md: the monitor samples are the sp_dbmmonitorresults figures, and a query shows the
// rows as of its moment. A row recorded at 30 s, asked after a SUSPEND at 31 s, still says
// SYNCHRONIZED (4): the newest row took the state of the moment it was asked (SUSPENDED, 0).
#[test]
fn a_monitor_row_keeps_the_state_it_was_recorded_with() {
    let report = report_of("a-monitor-row-keeps-the-state-it-was-recorded-with.toml");
    let states = column_where(
        &report,
        "",
        ("time_recorded", 30_000_000),
        "mirroring_state",
    );
    assert_eq!(states, [4, 4, 4], "{states:?}");
}

// Reference section 6's `time_behind` after an automatic failover: the new principal's mirror
// holds its log up to the failover LSN, written about 20 s into the run; the row recorded at
// 45 s said 0, the new principal not having heard from its mirror since.
#[test]
fn a_new_principals_time_behind_starts_at_the_failover() {
    let report = report_of("a-new-principals-time-behind-starts-at-the-failover.toml");
    let behind = column_where(
        &report,
        "beta",
        ("time_recorded", 45_000_000),
        "time_behind",
    );
    assert_eq!(behind.len(), 1, "{behind:?}");
    assert!((18_000_000..22_000_000).contains(&behind[0]), "{behind:?}");
}

// The same after a forced service with the old principal powered off: every row of the new
// principal says the mirror is current as of about 20 s, when alpha lost power. The failover
// LSN was placed between the start of the run and the new principal's own samples, and the
// figure moved back as time went on (32.6, 25.8, 23.1, 22.7 s).
#[test]
fn a_new_principals_time_behind_stays_while_its_mirror_is_down() {
    let report = report_of("a-new-principals-time-behind-stays-while-its-mirror-is-down.toml");
    let behind = column_where(&report, "beta", ("role", 1), "time_behind");
    assert!(behind.len() >= 3, "{behind:?}");
    assert_all_within(&behind, 19_000_000..=21_000_000);
}

// A row `@update_table = 1` writes (sp_dbmmonitorupdate) stays in the status table: the latest
// row at 33 s is the one written at 32 s, and the 50 s call lists it among the 15 s samples. It
// was returned once and forgotten. It is written because the newest row was 17 s old (alpha hung
// through the 30 s sample): a younger one is kept as it is (SQL Server's 15 s rule).
#[test]
fn a_row_written_by_update_table_is_kept_for_later_calls() {
    let report = report_of("a-row-written-by-update-table-is-kept-for-later-calls.toml");
    let recorded = |at_us: u64| -> Vec<u64> {
        let query = report
            .queries
            .iter()
            .find(|q| q.on == "alpha" && q.at_us == at_us)
            .expect("a query then");
        let column = query
            .columns
            .iter()
            .position(|c| c == "time_recorded")
            .expect("time_recorded");
        query
            .rows
            .iter()
            .map(|row| row[column].as_u64().expect("a number"))
            .collect()
    };
    assert_eq!(recorded(33_000_000), [32_000_000]);
    assert!(recorded(50_000_000).contains(&32_000_000));
    let on_beta = report
        .queries
        .iter()
        .find(|q| q.on == "beta" && q.at_us == 32_000_000)
        .expect("beta's call at 32 s");
    let column = on_beta.columns.iter().position(|c| c == "time_recorded");
    assert_eq!(
        on_beta.rows[0][column.expect("time_recorded")],
        serde_json::json!(30_000_000),
        "beta's 30 s row is 2 s old: no new row"
    );
}

// After a forced service, the old principal back SUSPENDED holds nothing of the new principal's
// log past the fork: the new principal's row at 45 s says its mirror is current as of about
// 15 s, when the old principal wrote the fork LSN. It said 45 s, caught up, taking the old
// principal's log of the abandoned fork for its own.
#[test]
fn a_suspended_old_principal_does_not_make_its_successor_caught_up() {
    let report = report_of("a-suspended-old-principal-does-not-make-its-successor-caught-up.toml");
    let behind = column_where(
        &report,
        "beta",
        ("time_recorded", 45_000_000),
        "time_behind",
    );
    assert!(!behind.is_empty(), "{behind:?}");
    assert_all_within(&behind, 14_000_000..=16_000_000);
}

// Two `@update_table = 1` calls at one instant: the second row's rates were taken over the zero
// time since the first (2,155,000,000,000 KB/s, kept for later calls), and a call at a 15 s
// sample's instant wrote a row of zeros beside it. Every row's rate stays that of a workload of
// about 1,000 transactions a second (about 2 MB/s; less in the first sample, which the workload
// started inside).
#[test]
fn two_update_table_calls_at_one_instant_give_the_same_rates() {
    let report = report_of("two-update-table-calls-at-one-instant-give-the-same-rates.toml");
    let rates = column_where(&report, "alpha", ("role", 1), "log_generation_rate");
    assert!(rates.len() >= 8, "{rates:?}");
    assert_all_within(&rates, 1..5_000);
}

// A split brain healed after forced service: the old principal comes back SUSPENDED, holding
// the new principal's history only up to the fork LSN, written about 20 s into the run. Both
// rows at 60 s say so (rows written at 55 s by @update_table said the new principal's was
// 30 s, the old principal's 55 s).
#[test]
fn a_healed_split_brain_old_principal_holds_only_the_fork() {
    let report = report_of("a-healed-split-brain-old-principal-holds-only-the-fork.toml");
    let behind = column_where(&report, "", ("time_recorded", 60_000_000), "time_behind");
    assert_eq!(behind.len(), 2, "{behind:?}");
    assert_all_within(&behind, 19_000_000..=21_000_000);
}

// spec/scenario.md, `pause`: "the instance hangs (no pings, no work)". The monitor job runs on
// the instance: a hung principal records no row at 30 s (it recorded one, as principal and
// SYNCHRONIZED), and records rows again once it runs.
#[test]
fn a_hung_instance_records_no_monitor_row() {
    let report = report_of("a-principal-hung-through-a-monitor-sample-records-no-row.toml");
    let rows_of = |at_us: u64| {
        report
            .monitor
            .iter()
            .filter(|m| m.at_us == at_us && m.on == "alpha")
            .count()
    };
    assert_eq!(rows_of(15_000_000), 1, "alpha runs at 15 s");
    assert_eq!(rows_of(30_000_000), 0, "alpha hangs at 30 s");
    assert_eq!(rows_of(45_000_000), 1, "alpha runs again at 45 s");
}

// `@update_table = 1` gives rates since the last 15 s sample. alpha, hung across the 30 s
// sample, recorded no row then; its rates at 40 s were divided by the 25 s since its 15 s row,
// for the 10 s of counts since the 30 s sample: 422 transactions a second under a workload of
// 1,000 a second.
#[test]
fn update_table_rates_after_a_hang_run_since_the_last_sample() {
    let report = report_of("update-table-rates-after-a-hang-across-a-sample.toml");
    let rates = column_where(&report, "alpha", ("role", 1), "transactions_per_sec");
    assert_eq!(rates.len(), 1, "{rates:?}");
    assert!((900..1_100).contains(&rates[0]), "{rates:?}");
}

// Reference section 2: a SUSPENDED session sends no log. The log a principal queued on the
// connection it has since declared lost is not sent when the link heals (the mirror would drop
// it): the rows of the suspended principal read no send rate while its send queue grows by the
// log it writes. The row at 60 s read 1,379 KB/s, 20 MB the mirror never received.
#[test]
fn a_suspended_principal_sends_nothing_at_a_heal() {
    let report = report_of("a-suspended-principal-sends-nothing-when-its-partition-heals.toml");
    let suspended: Vec<_> = report
        .monitor
        .iter()
        .filter(|m| {
            m.role == MirroringRole::Principal && m.mirroring_state == SessionState::Suspended
        })
        .collect();
    assert_eq!(suspended.len(), 3, "rows at 45, 60 and 75 s");
    for pair in suspended.windows(2) {
        assert_eq!(pair[1].send_rate_kbs, 0, "{:?}", pair[1]);
        assert!(
            pair[1].unsent_log_kb > pair[0].unsent_log_kb + 20_000,
            "{pair:?}"
        );
    }
}

// sp_dbmmonitorresults with @update_table = 1 at the instant of a 15 s sample: the sample is
// that instant's row ("if the status table has been updated within the previous 15 seconds ...
// runs without updating the status"). The call ran just before the sample and wrote a row of
// its own: the later calls listed two identical 30 s rows, on the principal and the mirror.
#[test]
fn an_update_table_call_at_a_sample_instant_writes_no_second_row() {
    let report = report_of("an-update-table-call-at-a-sample-instant-writes-no-second-row.toml");
    for on in ["alpha", "beta"] {
        let at_40s = report
            .queries
            .iter()
            .rev()
            .find(|q| q.on == on && q.at_us == 40_000_000)
            .expect("the 40 s call of @mode 6");
        let column = at_40s.columns.iter().position(|c| c == "time_recorded");
        let rows: Vec<u64> = at_40s
            .rows
            .iter()
            .map(|row| {
                row[column.expect("time_recorded")]
                    .as_u64()
                    .expect("a number")
            })
            .collect();
        assert_eq!(rows, [30_000_000, 15_000_000], "{on}");
    }
}
