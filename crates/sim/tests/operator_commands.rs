//! Operator commands issued while a role change is under way (reference sections 2, 4, 5 and 7).
//! The scenarios in `sims/` check roles and states; these tests check the report's figures.

mod common;

use common::{report_of, step_failed_with, the_failover};

// cli.md: a manual failover's unavailability runs from its command. A second FAILOVER refused
// with 1470 at 20.2 s, during the first one's take-over, moved the start to 20.2 s (about
// 300 ms instead of 500 ms), as did any command issued in that window.
#[test]
fn a_refused_command_during_a_manual_failover_does_not_move_its_start() {
    let report = report_of("refused-failover-during-a-manual-failover.toml");
    // The second FAILOVER is refused with 1470.
    let refused = step_failed_with(&report, 1470);
    assert_eq!(refused.start_us, Some(20_200_000));
    let failover = the_failover(&report);
    assert_eq!(
        failover.detected_us, 20_000_000,
        "from the accepted FAILOVER"
    );
    assert!(
        (490_000..600_000).contains(&failover.unavailable_us),
        "unavailable {} us",
        failover.unavailable_us
    );
}

// Reference section 4, commit table: while the principal is PENDING_FAILOVER a commit "waits
// and fails when the role changes or the database goes offline". Here the failover fails
// (1447) and the principal serves again: the commits that waited for it are committed. They
// failed at once with 955 (8,203 of them).
#[test]
fn commits_wait_while_the_principal_is_pending_failover() {
    let report = report_of("failover-before-the-lost-mirror-is-noticed-commits-wait.toml");
    // The FAILOVER fails with 1447 once the mirror is declared lost.
    let refused = step_failed_with(&report, 1447);
    assert!(refused.end_us.is_some_and(|t| t > 30_000_000));
    let tx = &report.transactions;
    assert_eq!(tx.failed, 0, "none fails: the role did not change");
    assert_eq!(tx.acknowledged + tx.in_flight, tx.submitted);
}

// reference §7: SET PARTNER OFF ends the session for good. The instance that was the mirror
// crashes after it and restarts: sys.database_mirroring on it shows no session (before the fix
// it came back DISCONNECTED as MIRROR, holding the removed session; found by sim sweep --swarm).
#[test]
fn a_session_removed_by_partner_off_stays_removed_after_a_restart() {
    let report =
        common::report_of("partner-off-then-old-mirror-restarts-session-stays-removed.toml");
    let query = report
        .queries
        .iter()
        .find(|q| q.on == "alpha" && q.at_us == 35_000_000)
        .expect("the SELECT at 35 s on alpha");
    let column = |name: &str| {
        let i = query.columns.iter().position(|c| c == name).expect(name);
        query
            .rows
            .iter()
            .map(|row| row[i].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(column("mirroring_state_desc"), [serde_json::Value::Null]);
    assert_eq!(column("mirroring_role_desc"), [serde_json::Value::Null]);
    assert_eq!(report.verdict, mirror_sim::report::Verdict::Pass);
}

// reference §5: each forced service loses what principals of older role sequences acknowledged
// past its fork. With two forced services the report gives each its own loss (before, both said
// 0 whenever there were two), and the losses add up to the run's.
#[test]
fn each_forced_service_reports_the_commits_it_lost() {
    let report = report_of("forced-service-twice-each-loses-its-own.toml");
    let lost: Vec<u64> = report
        .failovers
        .iter()
        .map(|f| f.lost_acknowledged)
        .collect();
    assert_eq!(lost.len(), 2);
    assert_eq!(
        lost[0], 0,
        "what alpha acknowledged is in its own log, the last principal's"
    );
    assert!(lost[1] > 0, "alpha's fork lacks what beta acknowledged");
    assert_eq!(
        lost.iter().sum::<u64>(),
        report.transactions.lost_acknowledged
    );
}

// spec/scenario.md, `pause`: a hung instance does no work. A FAILOVER issued on the principal
// while it hangs runs when it resumes at 22 s (before, the hung instance ran it at 20 s). The
// step started at 20 s all the same ("a step with `at` starts at that simulated time"): its
// `start_us` said 22 s.
#[test]
fn a_statement_on_a_hung_instance_waits_until_it_resumes() {
    let report = report_of("manual-failover-on-a-hung-principal-waits-for-it.toml");
    assert_eq!(report.failovers.len(), 1);
    assert!(
        report.failovers[0].at_us >= 22_000_000,
        "{}",
        report.failovers[0].at_us
    );
    let step = report
        .steps
        .iter()
        .find(|s| s.sql.contains("FAILOVER"))
        .expect("the FAILOVER step");
    assert_eq!(step.start_us, Some(20_000_000), "issued at its `at`");
    assert!(
        step.end_us.is_some_and(|end| end >= 22_000_000),
        "it runs when alpha runs again: {:?}",
        step.end_us
    );
}

// Reference section 3: "Before a session exists (during setup), the default applies". Once one
// exists, a connection SET WITNESS opens that the witness drops silently is given up after the
// session's TIMEOUT (20 s here) plus one ping interval; it took the default 11 s.
#[test]
fn set_witness_gives_up_after_the_session_timeout() {
    let report = report_of("set-witness-dropped-silently-after-timeout-20.toml");
    let refused = step_failed_with(&report, 1418);
    let took = refused
        .end_us
        .zip(refused.start_us)
        .map(|(end, start)| end - start);
    assert_eq!(took, Some(21_000_000));
}

// Reference §4: once the witness has recorded WITNESS OFF it takes no part in the session any
// more, and its sys.database_mirroring_witnesses lists the session no more (it still showed
// the session as SYNCHRONIZED).
#[test]
fn the_old_witness_lists_no_session_after_witness_off() {
    let report = common::report_of("witness-off-the-old-witness-lists-the-session-no-more.toml");
    let query = report
        .queries
        .iter()
        .find(|q| q.on == "gamma" && q.at_us == 20_000_000)
        .expect("the SELECT at 20 s on gamma");
    assert!(query.columns.iter().any(|c| c == "partner_sync_state_desc"));
    assert!(query.rows.is_empty(), "{:?}", query.rows);
    assert_eq!(report.verdict, mirror_sim::report::Verdict::Pass);
}

// Reference §2: `mirroring_failover_lsn` is the latest LSN known hardened on both partners; for
// a forced service, the fork LSN. The old principal, back as a SUSPENDED mirror before RESUME,
// still holds its own log past the fork: its view showed that log's end, commits the new
// principal never had.
#[test]
fn an_old_principal_after_forced_service_shows_the_fork_as_failover_lsn() {
    let report =
        common::report_of("forced-service-old-principal-shows-the-fork-as-failover-lsn.toml");
    let failover_lsn = |on: &str, at_us: u64| {
        common::queried(&report, on, at_us, "mirroring_failover_lsn")
            .as_u64()
            .expect("an LSN")
    };
    // The new principal's view right after forcing: the fork LSN.
    let fork = failover_lsn("beta", 33_000_000);
    assert!(fork > 0);
    assert_eq!(failover_lsn("alpha", 45_000_000), fork);
    assert!(failover_lsn("alpha", 60_000_000) >= fork);
}

// Reference §7: SET PARTNER OFF ends the session and the principal's database stays online.
// Commits waiting for the distant mirror (40 ms round trip) at that moment are hardened on the
// principal, so they complete; they failed with 955 "rolled back" (39 of them), telling clients
// that durable commits had not happened.
#[test]
fn partner_off_completes_the_commits_that_waited_for_the_mirror() {
    let report = report_of("partner-off-completes-the-commits-waiting-for-the-mirror.toml");
    let tx = &report.transactions;
    assert_eq!(tx.failed, 0, "nothing is rolled back");
    assert_eq!(tx.in_flight, 0);
    assert_eq!(tx.acknowledged, tx.submitted);
    assert!(tx.submitted > 10_000, "the workload ran: {}", tx.submitted);
}

// spec/scenario.md: a paused instance "hangs (no pings, no work)". A BACKUP DATABASE under way
// when alpha hung at 2 s completed at 4.1 s while alpha was still hung; it completes once
// alpha resumes at 30 s.
#[test]
fn a_backup_on_a_hung_instance_completes_after_it_resumes() {
    let report = report_of("a-backup-on-a-hung-instance-completes-after-it-resumes.toml");
    let backup = report
        .steps
        .iter()
        .find(|s| s.sql.starts_with("BACKUP DATABASE"))
        .expect("the full backup step");
    assert_eq!(backup.error, None);
    assert!(
        backup.end_us.is_some_and(|end| end >= 30_000_000),
        "{:?}",
        backup.end_us
    );
}

// cli.md: `unavailable_us` runs from the failure to the moment the new principal serves,
// whatever the failure: here every packet to and from the principal is lost from 20 s. It read
// 502 us, the failure being taken only from crashes, power-offs, pauses and partitions.
#[test]
fn a_failover_after_total_packet_loss_counts_its_unavailability_from_the_loss() {
    let report = report_of("automatic-failover-after-the-principal-loses-every-packet.toml");
    let failover = the_failover(&report);
    assert!(
        (10_000_000..12_000_000).contains(&failover.unavailable_us),
        "unavailable {} us",
        failover.unavailable_us
    );
}

// The same from a fault during the setup: alpha powers off at 8 s, the workload starts at
// 16.4 s, beta serves at 18.6 s. The failover counts from the fault (10.6 s); it read 2.2 s,
// the run's `unavailable`, which spec/scenario.md counts from the workload's start.
#[test]
fn a_failover_before_the_workload_counts_its_unavailability_from_the_fault() {
    let report = report_of("a-failover-before-the-workload-counts-from-the-fault.toml");
    let failover = the_failover(&report);
    assert!(
        (10_000_000..11_000_000).contains(&failover.unavailable_us),
        "unavailable {} us",
        failover.unavailable_us
    );
}

// spec/cli.md: `serving`/`not_serving` say when an instance can acknowledge commits; a
// RESTORING copy cannot. The old principal re-seeded with RESTORE ... WITH NORECOVERY never
// stopped serving in the report: the split brain ran on until the failback, 31 s too long,
// and its failback wrote no `serving`.
#[test]
fn a_copy_restored_over_stops_serving_and_ends_its_split_brain() {
    let report = report_of("disaster-recovery-drill-reseed-the-old-principal-then-fail-back.toml");
    let [split] = report.split_brain.as_slice() else {
        panic!("one split brain: {:?}", report.split_brain);
    };
    assert_eq!(split.cause, "partner_off");
    let restore = report
        .steps
        .iter()
        .rev()
        .find(|s| s.sql.starts_with("RESTORE DATABASE"))
        .expect("the drill re-seeds the old principal");
    assert_eq!(
        Some(split.end_us),
        restore.start_us,
        "it ends with the restore"
    );
}

// reference section 2: the mirror is the copy in the RESTORING state. An old principal that has
// learnt of the new role sequence is the mirror in its own catalog, even if its partner crashed
// before recording its take-over: backups on it fail with 954. They succeeded, the catalog
// waiting for the crashed new principal.
#[test]
fn an_old_principal_that_became_the_mirror_takes_no_backup() {
    let report = report_of("an-old-principal-that-learns-it-is-the-mirror-is-judged-as-one.toml");
    let errors: Vec<_> = report
        .steps
        .iter()
        .filter(|s| s.sql.starts_with("BACKUP"))
        .filter(|s| s.on == "alpha" && s.start_us >= Some(40_000_000))
        .map(|s| s.error)
        .collect();
    assert_eq!(errors, vec![Some(954), Some(954)]);
}

// cli.md: `unavailable_us` runs "to the moment the new principal serves". A new principal that
// took over but never served (its quorum lost with the witness) is unavailable to the end of
// the run: 20 s to 60 s. It read 0.
#[test]
fn a_failover_whose_principal_never_serves_is_unavailable_to_the_end() {
    let report = report_of("a-new-principal-that-never-serves-is-unavailable-to-the-end.toml");
    let failover = the_failover(&report);
    assert_eq!(report.final_state.principal, "none");
    assert!(
        (39_900_000..=40_000_000).contains(&failover.unavailable_us),
        "unavailable {} us",
        failover.unavailable_us
    );
}

// The latency figures keep three significant figures and the exact maximum: no percentile may
// be above the maximum (p99 read 9,994,239 us beside a max of 9,987,521 us).
#[test]
fn no_latency_percentile_is_above_the_maximum() {
    let report = report_of("a-stall-at-the-end-keeps-the-percentiles-under-the-max.toml");
    let l = &report.commit_latency_us;
    assert!(l.max > 5_000_000, "{l:?}");
    assert!(
        l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max,
        "{l:?}"
    );
    let tx = &report.transactions;
    assert_eq!(
        l.count,
        tx.acknowledged + tx.in_flight,
        "count: acknowledged and in flight"
    );
}

// cli.md: a failover's `unavailable_us` ends when the new principal serves, by whatever path:
// here it serves without mirroring after SET PARTNER OFF, 25 s after the failure. It ran to the
// end of the run (29.9 s), the flag that closes it being set only by a take-over's serve.
#[test]
fn a_failover_outage_ends_when_its_principal_serves_after_partner_off() {
    let report =
        report_of("a-new-principal-serving-after-partner-off-ends-its-failover-outage.toml");
    let failover = the_failover(&report);
    assert!(
        (24_900_000..=25_100_000).contains(&failover.unavailable_us),
        "unavailable {} us",
        failover.unavailable_us
    );
}

// spec/cli.md: a failover's `at_us` is when the role change happens and `detected_us` when
// the new principal noticed the failure. A mirror restarted after the principal was lost never
// declared a connection lost: forced at 31 s, both read 31.5 s (its serving moment, after the
// role change), and a loss declared before an earlier heal was taken as the detection.
#[test]
fn forced_service_on_a_restarted_mirror_is_recorded_when_forced() {
    let report = report_of("forced-service-on-a-restarted-mirror-is-recorded-when-forced.toml");
    let failover = the_failover(&report);
    assert_eq!(failover.at_us, 31_000_000);
    assert_eq!(failover.detected_us, 31_000_000);
    assert_eq!(failover.unavailable_us, 11_500_000, "from the power loss");
}

// Reference section 4: forcing service while the old principal still runs is a split brain
// "caused by forced service", also in a session set up again after PARTNER OFF. The principal
// went on serving into that session without a new start of serving, so the overlap was taken
// for two sessions' and put down to PARTNER OFF.
#[test]
fn forced_service_in_a_session_set_up_again_is_a_split_brain_of_forced_service() {
    let report = report_of(
        "forced-service-in-a-session-set-up-again-is-a-split-brain-of-forced-service.toml",
    );
    let causes: Vec<&str> = report
        .split_brain
        .iter()
        .map(|s| s.cause.as_str())
        .collect();
    assert_eq!(causes, ["forced_service"], "{:?}", report.split_brain);
}

// A statement issued to a hung instance has its client's connection: when the instance then
// crashes it fails as a running statement does, 10054, not 53 ("cannot connect, not running")
// beside a start_us of 20 s.
#[test]
fn a_step_issued_to_a_hung_instance_that_crashes_fails_with_10054() {
    let report = report_of("a-step-issued-to-a-hung-instance-that-crashes-fails-with-10054.toml");
    let step = step_failed_with(&report, 10054);
    assert_eq!(step.start_us, Some(20_000_000));
    assert_eq!(step.end_us, Some(22_000_000));
}

// A new partnership is a new session: after PARTNER OFF and SET PARTNER again, both partners
// show a new `mirroring_guid` (SQL Server's "ID of the mirroring partnership"); every session of
// a run showed one GUID, derived from the scenario's name.
#[test]
fn a_session_set_up_again_has_a_new_mirroring_guid() {
    let report = common::report_of("a-session-set-up-again-has-a-new-mirroring-guid.toml");
    let guid = |on: &str, at_us: u64| {
        let query = report
            .queries
            .iter()
            .find(|q| q.on == on && q.at_us == at_us)
            .expect("the SELECT");
        let column = query
            .columns
            .iter()
            .position(|c| c == "mirroring_guid")
            .expect("the column");
        query.rows[0][column].as_str().expect("a GUID").to_string()
    };
    let first = guid("alpha", 7_000_000);
    let second = guid("alpha", 25_000_000);
    assert_ne!(
        first, second,
        "the second partnership kept the first one's GUID"
    );
    assert_eq!(
        second,
        guid("beta", 25_000_000),
        "both partners show their session's"
    );
}

// Reference sections 4 and 7: quorum is two of the session's instances with their connection
// up. A mirror cut off from its principal runs PARTNER OFF; the witness drops its record. The
// principal, its witness declared lost at 45 s, connects again to the witness and (after the
// heal) to the old mirror: both connections come up, neither instance holds the session, and
// each answers a ping before any greeting. The principal has no quorum, and every commit it is
// given from then on fails (955). It counted those connections, and 22,136 commits waited to
// the end for an exposure confirmation the witness would never send.
#[test]
fn a_principal_left_alone_in_its_session_fails_its_commits_instead_of_holding_them() {
    let report =
        report_of("partner-off-on-a-cut-off-mirror-leaves-the-principal-without-quorum.toml");
    let tx = &report.transactions;
    assert_eq!(
        tx.in_flight, 0,
        "no commit waits for a witness without the session"
    );
    assert!(tx.failed > 20_000, "{} failed", tx.failed);
    assert_eq!(tx.acknowledged + tx.failed, tx.submitted);
    let witness_state = |at_us: u64| {
        common::queried(&report, "alpha", at_us, "mirroring_witness_state_desc")
            .as_str()
            .expect("a state")
            .to_owned()
    };
    assert_eq!(
        witness_state(60_000_000),
        "DISCONNECTED",
        "connected again, but the witness holds no session"
    );
}

// Reference section 2 ("witness state as each partner sees it") and section 3 (a silent peer is
// declared lost at the first ping tick at which its last reply is older than TIMEOUT): a
// principal restarted while its witness is powered off shows the witness UNKNOWN at first, then
// DISCONNECTED, as the mirror that did not restart does. It showed UNKNOWN for good, and so did
// `final.witness_state` (audit AD).
#[test]
fn a_witness_out_of_reach_since_a_restart_shows_disconnected_after_timeout() {
    let report =
        report_of("a-witness-out-of-reach-since-a-restart-shows-disconnected-after-timeout.toml");
    let witness_state = |on: &str, at_us: u64| {
        common::queried(&report, on, at_us, "mirroring_witness_state_desc")
            .as_str()
            .expect("a state")
            .to_owned()
    };
    assert_eq!(
        witness_state("alpha", 30_000_000),
        "UNKNOWN",
        "4 s after the restart"
    );
    assert_eq!(witness_state("alpha", 40_000_000), "DISCONNECTED");
    assert_eq!(witness_state("beta", 40_000_000), "DISCONNECTED");
    assert_eq!(
        report.final_state.witness_state,
        Some(mirror_sim::report::WitnessState::Disconnected)
    );
}

// spec/cli.md: `serving`'s `via` says how an instance came to serve. A former mirror recovered
// WITH RECOVERY after PARTNER OFF (reference section 7: "starts a new fork") was written as a
// `restart`, though nothing restarted; it is now `forced`, after its `fork` event, with
// `recovered` set, a field the spec allows.
#[test]
fn a_mirror_recovered_after_partner_off_serves_as_forced_and_recovered() {
    let events = common::event_values("disaster-recovery-partner-off-then-recover-the-mirror.toml");
    let serving: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "serving" && e["instance"] == "beta")
        .collect();
    assert_eq!(serving.len(), 1, "{serving:?}");
    assert_eq!(serving[0]["via"], "forced");
    assert_eq!(serving[0]["recovered"], true);
    let fork = events
        .iter()
        .position(|e| e["event"] == "fork" && e["instance"] == "beta")
        .expect("the recovery starts a fork");
    let served = events
        .iter()
        .position(|e| e["event"] == "serving" && e["instance"] == "beta")
        .expect("served");
    assert!(fork < served, "the fork comes first");
    // No other serving event carries the field.
    assert!(events
        .iter()
        .filter(|e| e["event"] == "serving" && e["instance"] != "beta")
        .all(|e| e.get("recovered").is_none()));
}

// reference section 3: a broken connection is re-established when the peer can be reached
// again. A witness back within TIMEOUT asks the exposed principal to connect; the reset that
// answers the principal's ping ends the old connection, and the new one follows at once, so
// quorum is back 1 ms later and no commit fails (1,019 failed while the principal waited for
// its next ping tick).
#[test]
fn a_witness_back_within_the_timeout_restores_quorum_at_once() {
    let report = report_of("a-witness-back-within-the-timeout-restores-quorum-at-once.toml");
    assert_eq!(report.transactions.failed, 0);
    let serving: Vec<(String, u64)> =
        common::event_values("a-witness-back-within-the-timeout-restores-quorum-at-once.toml")
            .into_iter()
            .filter(|e| e["event"] == "serving" || e["event"] == "not_serving")
            .filter(|e| e["t_us"].as_u64().expect("time") >= 30_000_000)
            .map(|e| {
                (
                    e["event"].as_str().unwrap().to_owned(),
                    e["t_us"].as_u64().unwrap(),
                )
            })
            .collect();
    assert_eq!(serving.len(), 2, "{serving:?}");
    assert_eq!(serving[0].0, "not_serving");
    assert_eq!(serving[1].0, "serving");
    assert!(
        serving[1].1 - serving[0].1 < 2_000,
        "quorum back within a round trip: {serving:?}"
    );
}
