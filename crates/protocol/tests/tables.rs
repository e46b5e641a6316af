//! Every row of reference/mirroring.md section 4 ("What happens when links or instances fail")
//! and of the section 5 role-switching table, walked through the in-memory loop with one
//! principal, one mirror and one witness.

mod common;
use common::*;
use mirror_protocol::*;

const LOAD: Nanos = 10 * MILLISECOND;
/// Enough for a soft error to be noticed (TIMEOUT + one ping) plus the take-over.
const DETECT: Nanos = 13 * SECOND;

fn safe(c: &Cluster) {
    assert!(c.check().is_empty(), "safety violated: {:?}", c.check());
}

fn acked_by(c: &Cluster, id: InstanceId, after: Nanos) -> usize {
    c.acked
        .iter()
        .filter(|a| a.by == id && a.at > after)
        .count()
}

fn high_performance_pair() -> Cluster {
    let mut c = Cluster::pair();
    c.run_for(2 * SECOND);
    c.command(P, SessionCommand::Safety(Safety::Off)).unwrap();
    c.run_with_load(2 * SECOND, LOAD);
    c
}

// ---- Section 4: "M lost, P-W connected" -------------------------------------------------------

#[test]
fn s4_mirror_lost_with_witness_principal_serves_exposed_after_witness_records_it() {
    let mut c = Cluster::trio();
    c.run_with_load(2 * SECOND, LOAD);
    c.power_off(M);
    let t = c.now;
    c.run_with_load(DETECT, LOAD);
    assert_eq!(c.p(P).state(), MirroringState::Disconnected);
    assert!(c.p(P).is_serving(), "P keeps serving, exposed");
    assert_eq!(
        c.w().record().unwrap().sync,
        SyncState::Unsynchronized,
        "W recorded the exposure first"
    );
    assert!(
        acked_by(&c, P, t + 12 * SECOND) > 0,
        "exposed commits acknowledged"
    );
    // When M returns it resynchronizes.
    c.restart(M);
    c.run_with_load(5 * SECOND, LOAD);
    assert_eq!(c.p(P).state(), MirroringState::Synchronized);
    assert_eq!(c.p(M).state(), MirroringState::Synchronized);
    assert_eq!(c.w().record().unwrap().sync, SyncState::Synchronized);
    safe(&c);
}

#[test]
fn s4_mirror_lost_without_witness_full_principal_serves_exposed() {
    let mut c = Cluster::pair();
    c.run_with_load(2 * SECOND, LOAD);
    c.power_off(M);
    let t = c.now;
    c.run_with_load(DETECT, LOAD);
    assert_eq!(c.p(P).state(), MirroringState::Disconnected);
    assert!(c.p(P).is_serving());
    assert!(acked_by(&c, P, t + 12 * SECOND) > 0);
    safe(&c);
}

#[test]
fn s4_mirror_lost_without_witness_off_never_affects_principal() {
    let mut c = high_performance_pair();
    c.power_off(M);
    let t = c.now;
    c.run_with_load(DETECT, LOAD);
    assert!(c.p(P).is_serving());
    // In OFF, commits never wait for the mirror: they keep being acknowledged right away.
    assert!(acked_by(&c, P, t) > (DETECT / LOAD) as usize - 5);
    safe(&c);
}

// ---- "W lost, P-M connected" ------------------------------------------------------------------

#[test]
fn s4_witness_lost_session_stays_synchronized_only_manual_failover() {
    let mut c = Cluster::trio();
    c.run_with_load(2 * SECOND, LOAD);
    c.power_off(W);
    c.run_with_load(DETECT, LOAD);
    assert_eq!(
        c.p(P).state(),
        MirroringState::Synchronized,
        "partner-to-partner quorum"
    );
    assert!(c.p(P).is_serving());
    assert_eq!(c.p(P).witness_state(), WitnessState::Disconnected);
    // Only manual failover is possible.
    let id = c
        .command(P, SessionCommand::Failover)
        .expect("manual failover allowed");
    c.run_with_load(3 * SECOND, LOAD);
    assert_eq!(c.completions[&id], Ok(()));
    assert_eq!(c.p(M).role(), Role::Principal);
    safe(&c);
}

// ---- "P loses both M and W" -------------------------------------------------------------------

#[test]
fn s4_principal_loses_both_stops_serving() {
    let mut c = Cluster::trio();
    c.run_with_load(2 * SECOND, LOAD);
    c.partition(P, M);
    c.partition(P, W);
    let t = c.now;
    c.run_with_load(DETECT, LOAD);
    assert!(!c.p(P).is_serving(), "no quorum: P stops serving");
    assert!(!c.p(P).accepts_commits());
    // No commit acknowledged after P declared both lost (quorum_serving), nor before the
    // mirror could harden it: nothing after the cut at all.
    assert_eq!(acked_by(&c, P, t + LOAD), 0);
    // M and W fail over (W's record said SYNCHRONIZED).
    assert_eq!(c.p(M).role(), Role::Principal);
    safe(&c);
}

// ---- "P-M link broken, both still see W" -------------------------------------------------------

#[test]
fn s4_partner_link_broken_both_see_witness_no_failover() {
    let mut c = Cluster::trio();
    c.run_with_load(2 * SECOND, LOAD);
    c.partition(P, M);
    c.run_with_load(DETECT + 5 * SECOND, LOAD);
    assert_eq!(
        c.p(M).role(),
        Role::Mirror,
        "W says P is alive: no failover"
    );
    assert!(c.p(P).is_serving(), "P serves exposed");
    assert_eq!(c.w().record().unwrap().sync, SyncState::Unsynchronized);
    c.heal();
    c.run_with_load(5 * SECOND, LOAD);
    assert_eq!(
        c.p(P).state(),
        MirroringState::Synchronized,
        "resynchronized on reconnect"
    );
    safe(&c);
}

#[test]
fn s4_partner_link_broken_no_witness_principal_exposed() {
    for safety in [Safety::Full, Safety::Off] {
        let mut c = Cluster::pair();
        c.run_for(SECOND);
        c.command(P, SessionCommand::Safety(safety)).unwrap();
        c.run_with_load(2 * SECOND, LOAD);
        c.partition(P, M);
        c.run_with_load(DETECT, LOAD);
        assert!(c.p(P).is_serving());
        assert_eq!(c.p(M).role(), Role::Mirror);
        assert_eq!(c.p(M).state(), MirroringState::Disconnected);
        safe(&c);
    }
}

// ---- "P lost, M-W connected, W's record says SYNCHRONIZED" -------------------------------------

#[test]
fn s4_principal_lost_synchronized_automatic_failover() {
    let mut c = Cluster::trio();
    c.run_with_load(3 * SECOND, LOAD);
    c.power_off(P);
    let t = c.now;
    c.run_with_load(DETECT, LOAD);
    assert_eq!(c.p(M).role(), Role::Principal);
    assert_eq!(c.p(M).role_sequence(), 1);
    assert!(c.p(M).is_serving());
    let serve = c.outputs.iter().find_map(|(at, id, o)| match o {
        Output::Serve {
            via: ServeVia::Automatic,
            ..
        } if *id == M => Some(*at),
        _ => None,
    });
    let unavailable = serve.expect("M serves via automatic failover") - t;
    assert!(
        (10 * SECOND..12 * SECOND).contains(&unavailable),
        "TIMEOUT..TIMEOUT+1s + 500 ms: {unavailable}"
    );
    // The old principal comes back and becomes the mirror.
    c.restart(P);
    c.run_with_load(5 * SECOND, LOAD);
    assert_eq!(c.p(P).role(), Role::Mirror);
    assert_eq!(c.p(P).state(), MirroringState::Synchronized);
    safe(&c);
}

#[test]
fn s4_principal_crash_hard_error_fails_over_fast() {
    let mut c = Cluster::trio();
    c.run_with_load(3 * SECOND, LOAD);
    c.crash(P);
    let t = c.now;
    c.run_with_load(2 * SECOND, LOAD);
    assert_eq!(
        c.p(M).role(),
        Role::Principal,
        "a hard error is noticed at once"
    );
    assert!(acked_by(&c, M, t) > 0);
    safe(&c);
}

#[test]
fn s4_principal_lost_without_witness_mirror_stops_service_can_be_forced() {
    for safety in [Safety::Full, Safety::Off] {
        let mut c = Cluster::pair();
        c.run_for(SECOND);
        c.command(P, SessionCommand::Safety(safety)).unwrap();
        c.run_with_load(2 * SECOND, LOAD);
        c.power_off(P);
        c.run_with_load(DETECT, LOAD);
        assert_eq!(
            c.p(M).role(),
            Role::Mirror,
            "no automatic failover without a witness"
        );
        assert_eq!(c.p(M).state(), MirroringState::Disconnected);
        c.command(M, SessionCommand::ForceService)
            .expect("service can be forced");
        c.run_with_load(2 * SECOND, LOAD);
        assert_eq!(c.p(M).role(), Role::Principal);
        assert_eq!(c.p(M).state(), MirroringState::Suspended);
        assert!(c.p(M).is_serving());
    }
}

// ---- "P lost, M-W connected, not SYNCHRONIZED (or P had gone exposed)" -------------------------

#[test]
fn s4_principal_lost_after_exposure_no_automatic_failover() {
    let mut c = Cluster::trio();
    c.run_with_load(2 * SECOND, LOAD);
    // P goes exposed: M is away, P reports UNSYNCHRONIZED.
    c.partition(P, M);
    c.run_with_load(DETECT, LOAD);
    assert_eq!(c.w().record().unwrap().sync, SyncState::Unsynchronized);
    // Now P's host dies; M and W are connected but must not fail over.
    c.power_off(P);
    c.heal();
    c.run_with_load(2 * DETECT, LOAD);
    assert_eq!(
        c.p(M).role(),
        Role::Mirror,
        "no automatic failover after exposure"
    );
    assert!(c.serving_now().is_empty(), "database unavailable");
    safe(&c);
}

#[test]
fn s4_principal_lost_while_synchronizing_no_automatic_failover() {
    let mut c = Cluster::trio();
    c.run_with_load(2 * SECOND, LOAD);
    c.command(P, SessionCommand::Suspend).unwrap();
    c.run_with_load(SECOND, LOAD);
    c.command(P, SessionCommand::Resume).unwrap();
    // Immediately after RESUME the session is SYNCHRONIZING; P dies before it is synchronized.
    c.power_off(P);
    c.run_with_load(2 * DETECT, LOAD);
    assert_eq!(c.p(M).role(), Role::Mirror);
    safe(&c);
}

// ---- "all three lose each other, then M+W reconnect" -------------------------------------------

#[test]
fn s4_all_three_lose_each_other_then_mirror_and_witness_reconnect_no_failover() {
    let mut c = Cluster::trio();
    c.run_with_load(2 * SECOND, LOAD);
    c.partition(P, M);
    c.partition(P, W);
    c.partition(M, W);
    c.run_with_load(DETECT, LOAD);
    // M and W reconnect; P stays cut off.
    c.cut.remove(&(M, W));
    c.cut.remove(&(W, M));
    c.run_with_load(2 * DETECT, LOAD);
    assert_eq!(
        c.p(M).role(),
        Role::Mirror,
        "W's record is stale: no failover"
    );
    assert!(c.serving_now().is_empty());
    // P returns: service resumes.
    c.heal();
    c.run_with_load(DETECT, LOAD);
    assert!(c.p(P).is_serving());
    safe(&c);
}

// ---- "old P comes back and learns from W or M of a higher role sequence" -----------------------

#[test]
fn s4_old_principal_learns_from_witness_and_becomes_mirror() {
    let mut c = Cluster::trio();
    c.run_with_load(3 * SECOND, LOAD);
    c.power_off(P);
    c.run_with_load(DETECT, LOAD);
    assert_eq!(c.p(M).role(), Role::Principal);
    // P restarts but can only reach W at first.
    c.partition(P, M);
    c.restart(P);
    c.run_with_load(3 * SECOND, LOAD);
    assert_eq!(
        c.p(P).role(),
        Role::Mirror,
        "learned role sequence 1 from the witness"
    );
    assert_eq!(c.p(P).role_sequence(), 1);
    assert!(!c.p(P).is_serving());
    c.heal();
    c.run_with_load(5 * SECOND, LOAD);
    assert_eq!(
        c.p(P).state(),
        MirroringState::Synchronized,
        "resynchronized as mirror"
    );
    safe(&c);
}

// ---- High performance with a witness ---------------------------------------------------------

#[test]
fn s4_high_performance_with_witness_needs_quorum() {
    let mut c = Cluster::trio();
    c.run_for(SECOND);
    c.command(P, SessionCommand::Safety(Safety::Off)).unwrap();
    c.run_with_load(2 * SECOND, LOAD);
    assert!(c.p(P).is_serving());
    c.partition(P, M);
    c.partition(P, W);
    c.run_with_load(DETECT, LOAD);
    assert!(
        !c.p(P).is_serving(),
        "OFF with a witness still needs quorum"
    );
    // Forcing service needs M-W connected and W to have declared P lost: here it is.
    assert_eq!(c.p(M).role(), Role::Mirror, "no automatic failover in OFF");
    c.command(M, SessionCommand::ForceService)
        .expect("forced service with M-W connected");
    safe(&c);
}

/// How `id` came to serve each time since `after`, in order.
fn serve_vias(c: &Cluster, id: InstanceId, after: Nanos) -> Vec<ServeVia> {
    c.outputs
        .iter()
        .filter_map(|(at, by, o)| match o {
            Output::Serve { via, .. } if *by == id && *at > after => Some(*via),
            _ => None,
        })
        .collect()
}

// Section 4 (quorum, running exposed): a principal that serves again at the same role sequence,
// once quorum is back or the witness confirmed its exposure, resumes: nothing restarted. Only the
// first Serve after a process restart is a restart.
#[test]
fn s4_serving_again_at_the_same_role_sequence_is_a_resume_not_a_restart() {
    let mut c = Cluster::trio();
    c.run_for(SECOND);
    c.command(P, SessionCommand::Safety(Safety::Off)).unwrap();
    c.run_with_load(2 * SECOND, LOAD);
    assert!(c.p(P).is_serving());
    let t = c.now;
    c.partition(P, M);
    c.partition(P, W);
    c.run_with_load(DETECT, LOAD);
    assert!(!c.p(P).is_serving(), "no quorum");
    c.heal();
    c.run_with_load(DETECT, LOAD);
    assert!(c.p(P).is_serving(), "quorum is back");
    assert_eq!(c.p(P).role_sequence(), 0);
    let vias = serve_vias(&c, P, t);
    assert!(!vias.is_empty());
    assert!(
        vias.iter().all(|v| *v == ServeVia::Resume),
        "nothing restarted: {vias:?}"
    );

    let t = c.now;
    c.crash(P);
    c.restart(P);
    c.run_with_load(DETECT, LOAD);
    assert!(c.p(P).is_serving());
    assert_eq!(
        serve_vias(&c, P, t).first(),
        Some(&ServeVia::Restart),
        "the first Serve after the process restarted"
    );
    safe(&c);
}

// ---- Section 5: role switching table ----------------------------------------------------------

#[test]
fn s5_automatic_failover_only_with_high_safety_and_witness() {
    // High performance with witness: no automatic failover.
    let mut c = Cluster::trio();
    c.run_for(SECOND);
    c.command(P, SessionCommand::Safety(Safety::Off)).unwrap();
    c.run_with_load(2 * SECOND, LOAD);
    c.power_off(P);
    c.run_with_load(2 * DETECT, LOAD);
    assert_eq!(c.p(M).role(), Role::Mirror);
    // High safety without witness: none either.
    let mut c = Cluster::pair();
    c.run_with_load(2 * SECOND, LOAD);
    c.power_off(P);
    c.run_with_load(2 * DETECT, LOAD);
    assert_eq!(c.p(M).role(), Role::Mirror);
    // High safety with witness: yes (s4_principal_lost_synchronized_automatic_failover).
}

#[test]
fn s5_manual_failover_high_safety_without_witness() {
    let mut c = Cluster::pair();
    c.run_with_load(3 * SECOND, LOAD);
    let id = c.command(P, SessionCommand::Failover).expect("accepted");
    c.run_with_load(3 * SECOND, LOAD);
    assert_eq!(c.completions[&id], Ok(()));
    assert_eq!(c.p(M).role(), Role::Principal);
    assert_eq!(c.p(P).role(), Role::Mirror);
    assert_eq!(c.p(M).role_sequence(), 1);
    assert_eq!(c.p(M).state(), MirroringState::Synchronized);
    assert!(c.outputs.iter().any(|(_, id, o)| *id == M
        && matches!(
            o,
            Output::Serve {
                via: ServeVia::Manual,
                ..
            }
        )));
    safe(&c);
}

#[test]
fn s5_manual_failover_high_safety_with_witness() {
    let mut c = Cluster::trio();
    c.run_with_load(3 * SECOND, LOAD);
    c.command(P, SessionCommand::Failover).expect("accepted");
    c.run_with_load(3 * SECOND, LOAD);
    assert_eq!(c.p(M).role(), Role::Principal);
    assert_eq!(c.w().record().unwrap().principal, M);
    assert_eq!(c.w().record().unwrap().sync, SyncState::Synchronized);
    // And back again: a second manual failover at role sequence 2.
    c.command(M, SessionCommand::Failover).expect("accepted");
    c.run_with_load(3 * SECOND, LOAD);
    assert_eq!(c.p(P).role(), Role::Principal);
    assert_eq!(c.p(P).role_sequence(), 2);
    safe(&c);
}

#[test]
fn s5_manual_failover_errors_in_order() {
    let mut c = high_performance_pair();
    assert_eq!(
        c.command(M, SessionCommand::Failover).unwrap_err().number,
        1470,
        "on the mirror"
    );
    assert_eq!(
        c.command(P, SessionCommand::Failover).unwrap_err().number,
        1477,
        "SAFETY OFF"
    );
    c.command(P, SessionCommand::Safety(Safety::Full)).unwrap();
    assert_eq!(
        c.command(P, SessionCommand::Failover).unwrap_err().number,
        1422,
        "SYNCHRONIZING"
    );
    c.run_with_load(2 * SECOND, LOAD);
    c.power_off(M);
    c.run_for(DETECT);
    assert_eq!(
        c.command(P, SessionCommand::Failover).unwrap_err().number,
        1447,
        "DISCONNECTED: the partners are not connected"
    );
    assert_eq!(c.p(P).role(), Role::Principal, "nothing changed");
}

#[test]
fn s5_manual_failover_not_connected_is_1447() {
    let mut c = Cluster::pair();
    c.run_with_load(2 * SECOND, LOAD);
    // The principal still believes it is SYNCHRONIZED, but the connection dropped (hard error).
    c.partners
        .get_mut(&P)
        .unwrap()
        .handle_connection_lost(c.now, M, ErrorKind::Hard);
    c.drain(P);
    let err = c.command(P, SessionCommand::Failover).unwrap_err();
    assert!(err.number == 1447 || err.number == 1422, "{err}");
}

#[test]
fn s5_forced_service_errors() {
    let mut c = Cluster::trio();
    c.run_with_load(2 * SECOND, LOAD);
    assert_eq!(
        c.command(P, SessionCommand::ForceService)
            .unwrap_err()
            .number,
        1455,
        "on the principal"
    );
    assert_eq!(
        c.command(M, SessionCommand::ForceService)
            .unwrap_err()
            .number,
        1455,
        "M still connected to P"
    );
    // M loses P but the witness still sees P: 1406.
    c.partition(P, M);
    c.run_with_load(DETECT, LOAD);
    assert_eq!(
        c.command(M, SessionCommand::ForceService)
            .unwrap_err()
            .number,
        1406,
        "W still sees P"
    );
    // M loses the witness too: 1406.
    c.partition(M, W);
    c.run_with_load(DETECT, LOAD);
    assert_eq!(
        c.command(M, SessionCommand::ForceService)
            .unwrap_err()
            .number,
        1406,
        "M not connected to W"
    );
    assert_eq!(c.p(M).role(), Role::Mirror, "nothing changed");
}

#[test]
fn s5_forced_service_high_performance_loses_the_send_queue() {
    let mut c = high_performance_pair();
    // A thin link: the mirror falls behind (messages to M are dropped from now on).
    c.cut.insert((P, M));
    c.run_with_load(SECOND, LOAD);
    c.power_off(P);
    c.heal();
    c.run_with_load(DETECT, LOAD);
    c.command(M, SessionCommand::ForceService).unwrap();
    c.run_with_load(2 * SECOND, LOAD);
    assert_eq!(c.p(M).role(), Role::Principal);
    assert_eq!(c.p(M).state(), MirroringState::Suspended);
    let fork_lsn = c.p(M).failover_lsn();
    let lost = c
        .acked
        .iter()
        .filter(|a| a.by == P && a.lsn > fork_lsn)
        .count();
    assert!(lost > 0, "acknowledged commits above the fork LSN are lost");
    // The old principal returns: it becomes the mirror and stays SUSPENDED.
    c.restart(P);
    c.run_with_load(3 * SECOND, LOAD);
    assert_eq!(c.p(P).role(), Role::Mirror);
    assert_eq!(c.p(P).state(), MirroringState::Suspended);
    // On RESUME it discards its log past the fork LSN and resynchronizes.
    c.command(M, SessionCommand::Resume).unwrap();
    c.run_with_load(5 * SECOND, LOAD);
    assert_eq!(c.p(P).state(), MirroringState::Synchronized);
    let discarded = c
        .outputs
        .iter()
        .any(|(_, id, o)| *id == P && matches!(o, Output::Discard { lsn, .. } if *lsn == fork_lsn));
    assert!(discarded, "the old principal discarded past the fork LSN");
    // From the resume on, the two logs agree by content up to the mirror's end.
    let m_log = &c.logs[&M];
    let p_log = &c.logs[&P];
    assert!(m_log.starts_with(p_log) || p_log.len() + 5 >= m_log.len());
    assert!(
        p_log.iter().all(|e| m_log.contains(e)),
        "log_prefix after the handshake"
    );
}

#[test]
fn s5_forced_service_with_witness_allowed_when_witness_lost_principal() {
    let mut c = Cluster::trio();
    c.run_for(SECOND);
    c.command(P, SessionCommand::Safety(Safety::Off)).unwrap();
    c.run_with_load(2 * SECOND, LOAD);
    c.power_off(P);
    c.run_with_load(DETECT, LOAD);
    c.command(M, SessionCommand::ForceService)
        .expect("M and W connected, W declared P lost");
    c.run_with_load(3 * SECOND, LOAD);
    assert!(c.p(M).is_serving());
    assert_eq!(c.w().record().unwrap().principal, M);
}

// ---- Other section 4 and 5 commands -----------------------------------------------------------

#[test]
fn s4_timeout_change_is_bounded_and_passed_on() {
    let mut c = Cluster::trio();
    assert_eq!(
        c.command(P, SessionCommand::Timeout(40_000))
            .unwrap_err()
            .number,
        1476
    );
    c.command(P, SessionCommand::Timeout(2)).unwrap();
    c.run_for(SECOND);
    assert_eq!(c.p(P).config().timeout_seconds, 5, "0-4 become 5");
    assert_eq!(c.p(M).config().timeout_seconds, 5, "passed to the mirror");
    assert_eq!(
        c.w().record().unwrap().config.timeout_seconds,
        5,
        "passed to the witness"
    );
    assert_eq!(
        c.command(M, SessionCommand::Timeout(20))
            .unwrap_err()
            .number,
        1470
    );
    // With SAFETY OFF the timeout is fixed at 10 s.
    c.command(P, SessionCommand::Safety(Safety::Off)).unwrap();
    assert_eq!(c.p(P).config().timeout(), 10 * SECOND);
}

#[test]
fn s4_suspend_from_the_mirror_is_forwarded_and_resume_resynchronizes() {
    let mut c = Cluster::pair();
    c.run_with_load(2 * SECOND, LOAD);
    c.command(M, SessionCommand::Suspend).unwrap();
    c.run_with_load(SECOND, LOAD);
    assert_eq!(c.p(P).state(), MirroringState::Suspended);
    assert_eq!(c.p(M).state(), MirroringState::Suspended);
    assert_eq!(c.p(P).config().numbers.suspend, 1);
    assert!(c.p(P).is_serving(), "SUSPENDED: the principal runs exposed");
    c.command(M, SessionCommand::Resume).unwrap();
    c.run_with_load(3 * SECOND, LOAD);
    assert_eq!(c.p(P).state(), MirroringState::Synchronized);
    assert_eq!(c.p(P).config().numbers.suspend, 2);
    safe(&c);
}

#[test]
fn s4_witness_off_turns_automatic_failover_off() {
    let mut c = Cluster::trio();
    c.run_with_load(2 * SECOND, LOAD);
    let id = c.command(M, SessionCommand::WitnessOff).unwrap();
    c.run_with_load(SECOND, LOAD);
    assert_eq!(c.completions[&id], Ok(()));
    assert_eq!(c.p(P).config().witness, None);
    assert_eq!(c.p(M).config().witness, None);
    assert!(c.w().record().unwrap().removed);
    c.power_off(P);
    c.run_with_load(2 * DETECT, LOAD);
    assert_eq!(
        c.p(M).role(),
        Role::Mirror,
        "no automatic failover without a witness"
    );
}

#[test]
fn s4_witness_off_with_witness_unreachable_is_recorded_by_the_mirror() {
    let mut c = Cluster::trio();
    c.run_with_load(2 * SECOND, LOAD);
    c.power_off(W);
    c.run_for(DETECT);
    let id = c.command(P, SessionCommand::WitnessOff).unwrap();
    c.run_for(SECOND);
    assert_eq!(c.completions[&id], Ok(()));
    assert!(c.p(M).durable().witness_excluded);
    // Neither reachable: 1456.
    let mut c = Cluster::trio();
    c.run_with_load(2 * SECOND, LOAD);
    c.partition(P, M);
    c.partition(P, W);
    c.run_for(DETECT);
    assert_eq!(
        c.command(P, SessionCommand::WitnessOff).unwrap_err().number,
        1456
    );
}

#[test]
fn s5_partner_off_ends_the_session_on_both() {
    let mut c = Cluster::trio();
    c.run_with_load(2 * SECOND, LOAD);
    c.command(M, SessionCommand::PartnerOff).unwrap();
    c.run_for(SECOND);
    assert!(c.p(M).is_ended());
    assert!(c.p(P).is_ended());
    assert!(c.w().record().is_none());
}

#[test]
fn s7_set_witness_errors() {
    let mut c = Cluster::pair();
    c.run_for(2 * SECOND);
    assert_eq!(
        c.command(M, SessionCommand::SetWitness(W))
            .unwrap_err()
            .number,
        1470
    );
    assert_eq!(
        c.command(P, SessionCommand::SetWitness(M))
            .unwrap_err()
            .number,
        1429
    );
    c.power_off(M);
    c.run_for(DETECT);
    assert_eq!(
        c.command(P, SessionCommand::SetWitness(W))
            .unwrap_err()
            .number,
        1426
    );
}
