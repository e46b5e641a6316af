//! Helpers shared by the integration tests: owned records and a principal/mirror pair.

#![allow(dead_code)] // each test binary uses its own subset

use mirror_log::{Block, Fork, LogConfig, LogWriter, Lsn, LsnRange, MirrorLog, Record, TxId};
use mirror_log::{RecordView, MODIFY_PAYLOAD_BYTES_MAX};
use proptest::prelude::*;

/// An owned log record, for generating and comparing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owned {
    Begin(u64),
    Modify(u64, Vec<u8>),
    Commit(u64),
    Abort(u64),
    Checkpoint(u64),
}

impl Owned {
    pub fn record(&self) -> Record<'_> {
        match self {
            Owned::Begin(tx) => Record::Begin { tx: TxId::new(*tx) },
            Owned::Modify(tx, payload) => Record::Modify {
                tx: TxId::new(*tx),
                payload,
            },
            Owned::Commit(tx) => Record::Commit { tx: TxId::new(*tx) },
            Owned::Abort(tx) => Record::Abort { tx: TxId::new(*tx) },
            Owned::Checkpoint(lsn) => Record::Checkpoint {
                lsn_oldest_active: Lsn::new(*lsn),
            },
        }
    }

    pub fn from_record(record: Record<'_>) -> Owned {
        match record {
            Record::Begin { tx } => Owned::Begin(tx.get()),
            Record::Modify { tx, payload } => Owned::Modify(tx.get(), payload.to_vec()),
            Record::Commit { tx } => Owned::Commit(tx.get()),
            Record::Abort { tx } => Owned::Abort(tx.get()),
            Record::Checkpoint { lsn_oldest_active } => Owned::Checkpoint(lsn_oldest_active.get()),
        }
    }
}

/// Records of every kind; payloads mostly small, sometimes large enough to fill a block alone.
pub fn owned_record() -> impl Strategy<Value = Owned> {
    let payload = prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 0..600),
        1 => (20_000..=MODIFY_PAYLOAD_BYTES_MAX).prop_map(|len| vec![0xa5; len]),
    ];
    prop_oneof![
        2 => any::<u64>().prop_map(Owned::Begin),
        5 => (any::<u64>(), payload).prop_map(|(tx, payload)| Owned::Modify(tx, payload)),
        2 => any::<u64>().prop_map(Owned::Commit),
        1 => any::<u64>().prop_map(Owned::Abort),
        1 => any::<u64>().prop_map(Owned::Checkpoint),
    ]
}

/// Records, each with whether group commit seals the block after it.
pub fn records_with_seals(
    len: std::ops::Range<usize>,
) -> impl Strategy<Value = Vec<(Owned, bool)>> {
    prop::collection::vec((owned_record(), prop::bool::weighted(0.2)), len)
}

pub fn writer(lsn_start: Lsn, fork: Fork) -> LogWriter {
    LogWriter::new(LogConfig::default(), lsn_start, fork).expect("valid config")
}

pub fn mirror(lsn_start: Lsn, fork: Fork) -> MirrorLog {
    MirrorLog::new(LogConfig::default(), lsn_start, fork).expect("valid config")
}

/// Appends `records` (sealing where asked, and at the end), checking that LSNs are contiguous,
/// and returns where each record landed.
pub fn write_all(writer: &mut LogWriter, records: &[(Owned, bool)]) -> Vec<LsnRange> {
    let mut ranges = Vec::with_capacity(records.len());
    for (record, seal) in records {
        let lsn_before = writer.lsn_end();
        let range = writer.append(record.record()).expect("append");
        assert_eq!(range.start, lsn_before, "LSNs not contiguous");
        assert_eq!(range.len(), record.record().encoded_len() as u64);
        if *seal {
            writer.seal();
        }
        writer.invariants();
        ranges.push(range);
    }
    writer.seal();
    writer.invariants();
    ranges
}

/// Every block the writer has sealed and not yet sent, hardening them locally on the way.
pub fn drain_blocks(writer: &mut LogWriter) -> Vec<Block> {
    while let Some(block) = writer.next_to_flush() {
        writer.harden_to(block.lsn_end()).expect("flushed");
    }
    let mut blocks = Vec::new();
    while let Some(block) = writer.next_to_send() {
        blocks.push(block);
    }
    writer.invariants();
    blocks
}

/// The records waiting for redo, owned, with their ranges.
pub fn redo_pending(mirror: &MirrorLog) -> Vec<(LsnRange, Owned)> {
    mirror.redo_iter().map(owned_view).collect()
}

pub fn owned_view(view: RecordView<'_>) -> (LsnRange, Owned) {
    let range = LsnRange::new(view.lsn(), view.lsn_end());
    (range, Owned::from_record(view.record()))
}

/// Redoes everything the mirror has hardened; returns the records with their ranges.
pub fn redo_all(mirror: &mut MirrorLog) -> Vec<(LsnRange, Owned)> {
    let redone = redo_pending(mirror);
    if let Some((range, _)) = redone.last() {
        mirror.redo_to(range.end).expect("hardened");
    }
    mirror.invariants();
    redone
}

/// A snapshot of a mirror's observable state, to show an error changed nothing.
pub fn mirror_state(mirror: &MirrorLog) -> (Lsn, Lsn, Lsn, Lsn, u64, Fork, Vec<Block>) {
    (
        mirror.lsn_retained_from(),
        mirror.lsn_received(),
        mirror.lsn_hardened(),
        mirror.lsn_redone(),
        mirror.bytes_buffered(),
        mirror.fork(),
        mirror.blocks().cloned().collect(),
    )
}
