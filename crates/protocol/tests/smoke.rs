//! Smoke tests of the in-memory loop: a session forms and commits flow (reference sections 1, 4).

mod common;
use common::*;
use mirror_protocol::*;

#[test]
fn pair_synchronizes_and_acknowledges() {
    let mut c = Cluster::pair();
    c.run_with_load(5 * SECOND, 10 * MILLISECOND);
    assert_eq!(c.p(P).state(), MirroringState::Synchronized);
    assert_eq!(c.p(M).state(), MirroringState::Synchronized);
    assert!(c.acked.len() > 400, "acked {}", c.acked.len());
    assert!(c.check().is_empty(), "{:?}", c.check());
}

#[test]
fn trio_synchronizes_with_witness() {
    let mut c = Cluster::trio();
    c.run_with_load(5 * SECOND, 10 * MILLISECOND);
    assert_eq!(c.p(P).state(), MirroringState::Synchronized);
    assert_eq!(c.p(P).witness_state(), WitnessState::Connected);
    assert_eq!(c.p(M).witness_state(), WitnessState::Connected);
    let record = c.w().record().expect("witness record");
    assert_eq!(record.sync, SyncState::Synchronized);
    assert!(c.check().is_empty(), "{:?}", c.check());
}
