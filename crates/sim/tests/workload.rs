//! The client workload's figures (spec/scenario.md, `[workload]`). The scenarios in `sims/`
//! check roles and states; these tests check the report's transaction counts.

mod common;

use common::report_of;

// spec/scenario.md: 9002 is "the log's capacity (error 9002 when full)". A burst of commits
// larger than the log the simulator buffers in memory waits for the flushes instead: 15,636
// of 100,000 commits failed with 9002 while 100 GiB of log was free.
#[test]
fn a_burst_larger_than_the_log_buffer_waits_for_the_flushes() {
    let report = report_of("a-burst-of-commits-larger-than-the-log-buffer-waits.toml");
    let tx = &report.transactions;
    assert_eq!(tx.failed, 0, "no 9002: the log file is far from full");
    assert!(tx.acknowledged > 10_000, "the workload ran: {tx:?}");
}

// Reference section 5: a mirror that crashed during its take-over (role change recorded, redo
// not yet drained) comes back as the principal it had become. It served without a writable
// copy, failing every commit with 9002 from its restart to the end (25,007 of 25,918).
#[test]
fn a_new_principal_restarted_after_a_crash_during_its_take_over_takes_commits() {
    let report = report_of("new-principal-crashes-during-its-take-over-then-restarts.toml");
    let tx = &report.transactions;
    // Only the commits of the outage (10 s to 15 s) fail, not those after the restart.
    assert!(tx.failed * 5 < tx.submitted, "{tx:?}");
    assert_eq!(report.failovers.len(), 1);
}

// spec/scenario.md: `log_bytes` is the "log generated per transaction", records included. A
// suspended session truncates nothing, so a 20 MiB log holds 20,971,520 / 200 = 104,857
// transactions of 200 bytes before 9002; it held 90,785 when each carried 31 bytes of records
// on top.
#[test]
fn log_bytes_is_the_log_each_transaction_generates() {
    let report = report_of("a-suspended-principal-fills-its-log-at-log-bytes-per-transaction.toml");
    let t = &report.transactions;
    assert!(
        (104_500..=104_857).contains(&t.acknowledged),
        "{} acknowledged before the log filled",
        t.acknowledged
    );
    assert_eq!(t.submitted, t.acknowledged + t.failed + t.in_flight);
}

// Reference section 4: with SAFETY OFF "M's problems never affect P". A mirror whose flushes
// take 10 s holds at most its own buffer of received log; the rest waits in the principal's
// send queue. 85,914 commits failed with 9002 (the blocks the mirror held pinned the
// principal's buffer memory), and with that fixed the mirror took log past its buffer and the
// simulator panicked.
#[test]
fn a_slow_mirror_disk_fails_no_commit_with_safety_off() {
    let report = report_of("a-mirror-with-a-slow-disk-never-fills-the-principals-log-buffer.toml");
    let t = &report.transactions;
    assert_eq!(t.failed, 0, "{t:?}");
    assert!(t.acknowledged > 570_000, "{t:?}");
    assert!(
        report.queues.send_queue_max_bytes > 10 << 20,
        "the log waited on the principal: {:?}",
        report.queues
    );
}

// spec/scenario.md bounds `rate` at 10 million per second so that a run stays bounded; a
// closed loop is held to the same. 100,000 clients without think time on a SAFETY OFF
// principal committed 98.8 million times in 0.4 s of workload.
#[test]
fn closed_loop_clients_commit_at_most_the_open_loops_most() {
    let report = report_of("closed-loop-clients-commit-at-most-the-open-loops-rate.toml");
    let seconds = report.simulated_us as f64 / 1e6;
    let most = (mirror_sim::scenario::RATE_MAX * seconds) as u64;
    let t = &report.transactions;
    assert!(
        t.submitted <= most,
        "{} submitted in {seconds} s",
        t.submitted
    );
    assert!(t.acknowledged > 1_000_000, "{t:?}");
}

// spec/scenario.md, `disk_full`: "log writes fail on this instance (9002 on a principal)". The
// commits whose log was written just before the disk filled waited for a flush that could never
// come: 7 of 8 closed-loop clients stalled for the last 40 s of the run, their commits in flight
// at the end. They fail with 9002, and every client goes on getting 9002 for its new commits.
#[test]
fn a_full_log_disk_fails_the_commits_waiting_for_their_flush() {
    let report = report_of("a-full-log-disk-fails-the-commits-waiting-for-their-flush.toml");
    let tx = &report.transactions;
    assert_eq!(tx.in_flight, 0, "{tx:?}");
    assert!(tx.failed >= 8 * 40, "every client keeps failing: {tx:?}");
    assert!(
        report.commit_latency_us.max < 1_000_000,
        "no commit waited for the disk: {:?}",
        report.commit_latency_us
    );
}

/// The `failed` events of the bundled scenario `name` at the instant `at_us`, as
/// (instance, error) pairs.
fn failures_at(name: &str, at_us: u64) -> Vec<(String, u64)> {
    common::event_values(name)
        .into_iter()
        .filter(|e| e["event"] == "failed" && e["t_us"] == at_us)
        .map(|e| {
            let instance = e["instance"].as_str().unwrap_or_default().to_string();
            (instance, e["error"].as_u64().expect("an error number"))
        })
        .collect()
}

// The commits a principal holds when its process stops fail as a statement running there does
// (README, "A statement whose instance stops fails at once"): 10054 after a
// crash, 121 after a power-off. They failed with 955 ("the database lacks quorum"), which a
// stopped instance cannot send and which points a DBA at the witness and the mirror.
#[test]
fn commits_in_flight_when_the_principal_stops_fail_as_its_connections_do() {
    for (name, error) in [
        ("auto-failover-principal-crash-fast.toml", 10054),
        ("auto-failover-principal-power-off.toml", 121),
    ] {
        let failed = failures_at(name, 20_000_000);
        assert!(
            !failed.is_empty(),
            "{name}: no commit in flight at the fault"
        );
        assert!(
            failed.iter().all(|f| *f == ("alpha".to_string(), error)),
            "{name}: {failed:?}"
        );
    }
}

// Reference sections 5 and 6: a log backup taken on the principal while the session is
// SUSPENDED is in no log the mirror holds, so the principal that forced service keeps its log
// from the last backup its own log holds, as if that backup had never been taken. It counted
// the old principal's backup: its log was kept only from the fork LSN, and it failed with 9002
// about 5 s later (27,988 failed commits against 28,025).
#[test]
fn a_backup_the_forced_principal_never_held_frees_none_of_its_log() {
    let file = common::sims_file(
        "a-log-backup-taken-while-suspended-is-not-in-the-forced-principals-chain.toml",
    );
    let scenario = mirror_sim::scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let with_backup = common::run(&scenario);
    let mut without = scenario.clone();
    let suspended_backup = without
        .steps
        .iter()
        .position(|s| s.sql.contains("l3.trn"))
        .expect("the backup taken while suspended");
    without.steps.remove(suspended_backup);
    let without_backup = common::run(&without);
    assert!(with_backup.transactions.failed > 0, "the log filled");
    assert_eq!(
        with_backup.transactions.failed,
        without_backup.transactions.failed
    );
}

// Reference section 4's commit rule: a commit submitted while the principal is
// PENDING_FAILOVER "waits and fails when the role changes or the database goes offline". When
// the mirror's SET PARTNER OFF ends the session under the failover, neither happens: the
// database goes on without mirroring and the held commits complete. They failed with 955.
#[test]
fn commits_held_for_a_failover_that_partner_off_ends_complete() {
    let report =
        common::report_of("a-failover-crossed-by-the-mirrors-partner-off-fails-with-1416.toml");
    let transactions = &report.transactions;
    assert_eq!(transactions.failed, 0, "{transactions:?}");
    assert_eq!(transactions.in_flight, 0, "{transactions:?}");
    assert_eq!(transactions.acknowledged, transactions.submitted);
    common::step_failed_with(&report, 1416);
}
