//! The log pipeline end to end (reference `mirroring.md` section 6, log transport): records
//! round-trip, damaged / lost / duplicated / reordered blocks are typed errors, redo never passes
//! the hardened LSN, and the bytes are never copied.

mod common;

use bytes::Bytes;
use common::*;
use mirror_log::{Block, Fork, LogError, Lsn, LsnRange, Record, TxId};
use mirror_log::{BLOCK_ALIGN_BYTES, BLOCK_BYTES_MAX};
use proptest::prelude::*;

/// One step of the principal/mirror dance.
#[derive(Clone, Debug)]
enum Step {
    Append(Owned),
    /// Group commit.
    Seal,
    /// Flush, send, receive and harden what is sealed; redo and truncate.
    Ship,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => owned_record().prop_map(Step::Append),
        2 => Just(Step::Seal),
        1 => Just(Step::Ship),
    ]
}

/// Ships and redoes everything sealed; returns what redo saw.
fn ship(
    writer: &mut mirror_log::LogWriter,
    mirror: &mut mirror_log::MirrorLog,
) -> Vec<(LsnRange, Owned)> {
    for block in drain_blocks(writer) {
        assert_eq!(
            block.len() % BLOCK_ALIGN_BYTES,
            0,
            "block not sector-aligned"
        );
        assert!(block.len() <= BLOCK_BYTES_MAX, "block over 60 KiB");
        let range = mirror
            .receive(block.into_bytes())
            .expect("in-order intact block");
        mirror.harden_to(range.end).expect("received");
        mirror.invariants();
    }
    let redone = redo_all(mirror);
    let lsn_hardened = mirror.lsn_hardened();
    mirror.truncate_below(lsn_hardened).expect("redone");
    writer
        .truncate_below(lsn_hardened)
        .expect("hardened locally");
    writer.invariants();
    mirror.invariants();
    redone
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Section 6: what the principal writes is what the mirror redoes, record for record, at the
    /// same contiguous LSNs, whatever the seal points and shipping moments.
    #[test]
    fn records_round_trip_encode_flush_ship_verify_redo(
        lsn_start in 0u64..1 << 40,
        fork in any::<u32>(),
        steps in prop::collection::vec(step(), 1..120),
    ) {
        let (lsn_start, fork) = (Lsn::new(lsn_start), Fork::new(fork));
        let mut writer = writer(lsn_start, fork);
        let mut mirror = mirror(lsn_start, fork);
        let mut written = Vec::new();
        let mut redone = Vec::new();
        for step in steps {
            match step {
                Step::Append(record) => {
                    let range = writer.append(record.record()).expect("append");
                    written.push((range, record));
                }
                Step::Seal => {
                    writer.seal();
                }
                Step::Ship => redone.extend(ship(&mut writer, &mut mirror)),
            }
            writer.invariants();
        }
        writer.seal();
        redone.extend(ship(&mut writer, &mut mirror));

        prop_assert_eq!(&redone, &written);
        let mut lsn = lsn_start;
        for (range, _) in &redone {
            prop_assert_eq!(range.start, lsn, "LSNs not contiguous");
            lsn = range.end;
        }
        prop_assert_eq!(mirror.lsn_redone(), writer.lsn_end());
        prop_assert_eq!(mirror.redo_queue_bytes(), 0);
        prop_assert_eq!(writer.send_queue_bytes(), 0);
    }

    /// Flipping any bit pattern of any byte of a block is caught (the checksum covers every byte
    /// but itself, and itself is compared), and the mirror is left as it was.
    #[test]
    fn flipping_any_byte_of_a_block_is_detected(
        records in records_with_seals(1..40),
        which_block in any::<prop::sample::Index>(),
        which_byte in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let mut writer = writer(Lsn::ZERO, Fork::new(1));
        write_all(&mut writer, &records);
        let blocks = drain_blocks(&mut writer);
        let target = which_block.index(blocks.len());
        let mut mirror = mirror(Lsn::ZERO, Fork::new(1));
        for block in &blocks[..target] {
            mirror.receive(block.as_bytes().clone()).expect("intact block");
        }
        let mut damaged = blocks[target].as_bytes().to_vec();
        let at = which_byte.index(damaged.len());
        damaged[at] ^= mask;
        let before = mirror_state(&mirror);
        let error = mirror.receive(Bytes::from(damaged)).expect_err("damage undetected");
        prop_assert!(matches!(error, LogError::ChecksumMismatch { .. }), "{:?}", error);
        prop_assert_eq!(mirror_state(&mirror), before);
        mirror.invariants();
        // The state really is unchanged: the intact block still fits exactly.
        mirror.receive(blocks[target].as_bytes().clone()).expect("intact block");
    }

    /// A missing (gap), duplicated or reordered (overlap) block is a typed error naming both
    /// LSNs, never a panic, and never changes the mirror.
    #[test]
    fn missing_duplicated_or_reordered_blocks_are_typed_errors(
        records in records_with_seals(2..60),
        deliveries in prop::collection::vec(any::<prop::sample::Index>(), 1..40),
    ) {
        let mut writer = writer(Lsn::new(4096), Fork::new(3));
        write_all(&mut writer, &records);
        let blocks = drain_blocks(&mut writer);
        let mut mirror = mirror(Lsn::new(4096), Fork::new(3));
        let mut next = 0;
        for delivery in deliveries {
            let index = delivery.index(blocks.len());
            let before = mirror_state(&mirror);
            let lsn_first = blocks[index].lsn_first();
            let lsn_expected = mirror.lsn_received();
            let result = mirror.receive(blocks[index].as_bytes().clone());
            match index.cmp(&next) {
                std::cmp::Ordering::Equal => {
                    prop_assert_eq!(result, Ok(blocks[index].lsn_range()));
                    next += 1;
                }
                std::cmp::Ordering::Greater => {
                    prop_assert_eq!(result, Err(LogError::Gap { lsn_expected, lsn_first }));
                    prop_assert_eq!(mirror_state(&mirror), before);
                }
                std::cmp::Ordering::Less => {
                    prop_assert_eq!(result, Err(LogError::Overlap { lsn_expected, lsn_first }));
                    prop_assert_eq!(mirror_state(&mirror), before);
                }
            }
            mirror.invariants();
        }
    }

    /// Re-created log (scenario "Log space"): a fresh writer started where a dropped range began,
    /// fed the same records and seals, writes the same blocks byte for byte; fed the same records
    /// with other seals, it writes other blocks that the mirror accepts just the same, and redo
    /// sees the same records at the same LSNs.
    #[test]
    fn dropped_log_is_recreated_identically(
        records in records_with_seals(2..80),
        cut in any::<prop::sample::Index>(),
    ) {
        let fork = Fork::new(5);
        let mut original = writer(Lsn::new(777), fork);
        write_all(&mut original, &records);
        let blocks = drain_blocks(&mut original);
        let cut_block = cut.index(blocks.len());
        let lsn_cut = blocks[cut_block].lsn_first();
        // The records from the cut on: those whose LSN is at or past it.
        let mut lsn = Lsn::new(777);
        let mut tail = Vec::new();
        for (record, seal) in &records {
            if lsn >= lsn_cut {
                tail.push((record.clone(), *seal));
            }
            lsn = lsn.advance(record.record().encoded_len() as u64);
        }

        let mut same_seals = writer(lsn_cut, fork);
        write_all(&mut same_seals, &tail);
        prop_assert_eq!(drain_blocks(&mut same_seals), blocks[cut_block..].to_vec());

        let unsealed: Vec<(Owned, bool)> = tail.iter().map(|(r, _)| (r.clone(), false)).collect();
        let mut other_seals = writer(lsn_cut, fork);
        write_all(&mut other_seals, &unsealed);
        let mut mirror = mirror(Lsn::new(777), fork);
        for block in blocks[..cut_block].iter().chain(&drain_blocks(&mut other_seals)) {
            let range = mirror.receive(block.as_bytes().clone()).expect("continuous");
            mirror.harden_to(range.end).expect("received");
        }
        prop_assert_eq!(redo_all(&mut mirror), mirror_log_records(&blocks));
    }
}

/// The records of `blocks` with their ranges, in order.
fn mirror_log_records(blocks: &[Block]) -> Vec<(LsnRange, Owned)> {
    blocks
        .iter()
        .flat_map(|block| block.records())
        .map(owned_view)
        .collect()
}

fn modify(tx: u64, payload: &[u8]) -> Record<'_> {
    Record::Modify {
        tx: TxId::new(tx),
        payload,
    }
}

/// Three sealed blocks of two records each, starting at LSN 0, fork 1.
fn three_blocks() -> Vec<Block> {
    let mut writer = writer(Lsn::ZERO, Fork::new(1));
    for tx in 0..3 {
        writer.append(Record::Begin { tx: TxId::new(tx) }).unwrap();
        writer.append(modify(tx, b"payload")).unwrap();
        writer.seal();
    }
    drain_blocks(&mut writer)
}

#[test]
fn a_block_of_another_fork_is_refused_without_change() {
    let blocks = three_blocks();
    let mut mirror = mirror(Lsn::ZERO, Fork::new(2));
    let before = mirror_state(&mirror);
    assert_eq!(
        mirror.receive(blocks[0].as_bytes().clone()),
        Err(LogError::WrongFork {
            expected: Fork::new(2),
            found: Fork::new(1)
        })
    );
    assert_eq!(mirror_state(&mirror), before);
}

/// Section 6: the mirror redoes only hardened log.
#[test]
fn redo_never_passes_the_hardened_lsn() {
    let blocks = three_blocks();
    let mut mirror = mirror(Lsn::ZERO, Fork::new(1));
    for block in &blocks {
        mirror.receive(block.as_bytes().clone()).unwrap();
    }
    assert_eq!(mirror.redo_iter().count(), 0, "nothing hardened yet");
    mirror.harden_to(blocks[0].lsn_end()).unwrap();
    let views = redo_pending(&mirror);
    assert_eq!(views.len(), 2);
    assert!(views
        .iter()
        .all(|(range, _)| range.end <= mirror.lsn_hardened()));
    let past = blocks[1].lsn_end();
    assert_eq!(
        mirror.redo_to(past),
        Err(LogError::Beyond {
            lsn: past,
            lsn_limit: blocks[0].lsn_end(),
            limit: "hardened"
        })
    );
    let inside_record = views[1].0.start.advance(1);
    assert_eq!(
        mirror.redo_to(inside_record),
        Err(LogError::NotARecordBoundary { lsn: inside_record })
    );
    // Redo one record, then the rest continues from there.
    mirror.redo_to(views[0].0.end).unwrap();
    assert_eq!(redo_pending(&mirror), views[1..]);
    mirror.invariants();
}

#[test]
fn harden_needs_a_received_block_end() {
    let blocks = three_blocks();
    let mut mirror = mirror(Lsn::ZERO, Fork::new(1));
    mirror.receive(blocks[0].as_bytes().clone()).unwrap();
    let inside = blocks[0].lsn_first().advance(1);
    assert_eq!(
        mirror.harden_to(inside),
        Err(LogError::NotABlockBoundary { lsn: inside })
    );
    let beyond = blocks[1].lsn_end();
    assert!(matches!(
        mirror.harden_to(beyond),
        Err(LogError::Beyond {
            limit: "received",
            ..
        })
    ));
    mirror.harden_to(blocks[0].lsn_end()).unwrap();
    // An older flush completing late changes nothing.
    mirror.harden_to(Lsn::ZERO).unwrap();
    assert_eq!(mirror.lsn_hardened(), blocks[0].lsn_end());
}

#[test]
fn truncation_stops_at_redo_and_releases_whole_blocks() {
    let blocks = three_blocks();
    let mut mirror = mirror(Lsn::ZERO, Fork::new(1));
    for block in &blocks {
        let range = mirror.receive(block.as_bytes().clone()).unwrap();
        mirror.harden_to(range.end).unwrap();
    }
    assert!(matches!(
        mirror.truncate_below(blocks[0].lsn_end()),
        Err(LogError::Beyond {
            limit: "redone",
            ..
        })
    ));
    let records = redo_pending(&mirror);
    mirror.redo_to(records[3].0.end).unwrap(); // the end of block 1
    mirror.truncate_below(records[3].0.end).unwrap();
    assert_eq!(mirror.blocks().count(), 1);
    assert_eq!(mirror.bytes_buffered(), blocks[2].len() as u64);
    assert_eq!(mirror.lsn_retained_from(), blocks[2].lsn_first());
    assert_eq!(mirror.redo_queue_bytes(), blocks[2].records_len());
    mirror.invariants();
}

#[test]
fn writer_cursors_refuse_impossible_lsns() {
    let mut writer = writer(Lsn::new(100), Fork::new(1));
    for tx in 0..3 {
        writer.append(modify(tx, &[1; 100])).unwrap();
        writer.seal();
    }
    let first = writer.next_to_flush().unwrap();
    assert!(matches!(
        writer.harden_to(writer.lsn_sealed()),
        Err(LogError::Beyond {
            limit: "flush requested",
            ..
        })
    ));
    writer.harden_to(first.lsn_end()).unwrap();
    assert!(matches!(
        writer.truncate_below(writer.lsn_sealed()),
        Err(LogError::Beyond {
            limit: "hardened",
            ..
        })
    ));
    let inside = first.lsn_first().advance(1);
    assert_eq!(
        writer.resend_from(inside),
        Err(LogError::NotABlockBoundary { lsn: inside })
    );
    writer.truncate_below(first.lsn_end()).unwrap();
    assert_eq!(
        writer.resend_from(Lsn::new(100)),
        Err(LogError::NotRetained {
            lsn: Lsn::new(100),
            lsn_retained_from: first.lsn_end()
        })
    );
    // The unsent first block left the send queue with the truncation.
    assert_eq!(writer.lsn_sent(), first.lsn_end());
    assert_eq!(writer.next_to_send().unwrap().lsn_first(), first.lsn_end());
    writer.resend_from(first.lsn_end()).unwrap();
    assert_eq!(writer.send_queue_bytes(), 2 * first.records_len());
    writer.invariants();
}

#[test]
fn a_record_too_large_for_a_block_is_refused_without_change() {
    let mut writer = writer(Lsn::ZERO, Fork::new(1));
    writer.append(modify(1, b"small")).unwrap();
    let payload = vec![0u8; mirror_log::MODIFY_PAYLOAD_BYTES_MAX + 1];
    let error = writer.append(modify(2, &payload)).unwrap_err();
    assert_eq!(
        error,
        LogError::RecordTooLarge {
            len: mirror_log::RECORD_BYTES_MAX + 1,
            len_max: mirror_log::RECORD_BYTES_MAX
        }
    );
    assert_eq!(writer.lsn_end(), Lsn::new(18));
    assert_eq!(
        writer.lsn_sealed(),
        Lsn::ZERO,
        "the open block was not sealed"
    );
    // The largest payload fits, alone in its own block.
    let largest = vec![0u8; mirror_log::MODIFY_PAYLOAD_BYTES_MAX];
    writer.append(modify(3, &largest)).unwrap();
    writer.seal();
    let blocks = drain_blocks(&mut writer);
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[1].len(), BLOCK_BYTES_MAX);
}

/// Group commit: a block is sealed when a commit asks, or when the next record does not fit.
#[test]
fn blocks_seal_on_commit_or_when_full() {
    let mut writer = writer(Lsn::ZERO, Fork::new(1));
    assert_eq!(writer.seal(), None, "nothing to seal");
    let payload = [7u8; 1000];
    let mut records = 0;
    while writer.lsn_sealed() == Lsn::ZERO {
        writer.append(modify(records, &payload)).unwrap();
        records += 1;
    }
    // 32 bytes of header, then 1013-byte records: 60 fit in 61440 bytes, the 61st does not.
    assert_eq!(records, 61);
    let full = writer.next_to_flush().unwrap();
    assert_eq!(full.record_count(), 60);
    assert_eq!(
        full.len(),
        119 * 512,
        "32 + 60 * 1013 bytes, rounded up to a sector"
    );
    let sealed = writer.seal().expect("the 61st record is open");
    assert_eq!(sealed.len(), 1013);
    assert_eq!(writer.next_to_flush().unwrap().len(), 1536);
}

/// The zero-copy claim: the payloads redo reads are inside the very allocation the principal
/// flushed, and the mirror holds the very same buffers.
#[test]
fn redo_views_point_into_the_buffers_the_principal_flushed() {
    let mut writer = writer(Lsn::ZERO, Fork::new(1));
    let payloads: Vec<Vec<u8>> = (0..200u8).map(|i| vec![i; 700 + usize::from(i)]).collect();
    for (tx, payload) in payloads.iter().enumerate() {
        writer.append(modify(tx as u64, payload)).unwrap();
    }
    writer.seal();
    let mut flushed = Vec::new();
    while let Some(block) = writer.next_to_flush() {
        writer.harden_to(block.lsn_end()).unwrap();
        flushed.push(block);
    }
    let mut mirror = mirror(Lsn::ZERO, Fork::new(1));
    while let Some(block) = writer.next_to_send() {
        let range = mirror.receive(block.into_bytes()).unwrap();
        mirror.harden_to(range.end).unwrap();
    }
    assert!(flushed.len() > 1, "the test needs several blocks");
    for (mirror_block, flushed_block) in mirror.blocks().zip(&flushed) {
        assert_eq!(
            mirror_block.as_bytes().as_ptr(),
            flushed_block.as_bytes().as_ptr()
        );
    }
    let inside_flushed = |pointer: *const u8| {
        flushed
            .iter()
            .any(|block| block.as_bytes().as_ptr_range().contains(&pointer))
    };
    let mut seen = 0;
    for (view, expected) in mirror.redo_iter().zip(&payloads) {
        let Record::Modify { payload, .. } = view.record() else {
            panic!("only modify records were written");
        };
        assert_eq!(payload, expected.as_slice());
        assert!(inside_flushed(payload.as_ptr()), "redo payload is a copy");
        seen += 1;
    }
    assert_eq!(seen, payloads.len());
}

/// Forced service (section 5) then the old principal rejoins: its log is rolled back to the
/// failover LSN and follows the new fork.
#[test]
fn the_old_principal_rolls_back_to_the_failover_lsn() {
    let config = mirror_log::LogConfig::default();
    let mut alpha = writer(Lsn::ZERO, Fork::new(1));
    for tx in 0..3 {
        alpha.append(modify(tx, b"alpha")).unwrap();
        alpha.seal();
    }
    let blocks = drain_blocks(&mut alpha);
    let mut beta = mirror(Lsn::ZERO, Fork::new(1));
    for block in &blocks[..2] {
        let range = beta.receive(block.as_bytes().clone()).unwrap();
        beta.harden_to(range.end).unwrap();
    }
    let lsn_failover = beta.lsn_hardened();
    redo_all(&mut beta);
    let mut beta = beta.into_writer(config, Fork::new(2)).unwrap();
    assert_eq!(beta.lsn_end(), lsn_failover);
    let mut alpha = alpha.into_mirror_log(config).unwrap();
    assert_eq!(alpha.lsn_hardened(), blocks[2].lsn_end(), "alpha is ahead");
    alpha.roll_back_to(lsn_failover, Fork::new(2)).unwrap();
    assert_eq!(alpha.lsn_received(), lsn_failover);
    assert_eq!(alpha.lsn_redone(), lsn_failover);
    // Alpha's own third block is of the old fork: refused.
    assert!(matches!(
        alpha.receive(blocks[2].as_bytes().clone()),
        Err(LogError::WrongFork { .. })
    ));
    beta.append(modify(10, b"beta")).unwrap();
    beta.seal();
    for block in drain_blocks(&mut beta) {
        let range = alpha.receive(block.into_bytes()).unwrap();
        alpha.harden_to(range.end).unwrap();
    }
    let redone = redo_all(&mut alpha);
    assert_eq!(
        redone,
        [(
            LsnRange::new(lsn_failover, lsn_failover.advance(17)),
            Owned::Modify(10, b"beta".to_vec())
        )]
    );
}

#[test]
fn roll_back_into_a_block_keeps_the_records_before_the_cut() {
    let mut writer = writer(Lsn::ZERO, Fork::new(1));
    for tx in 0..4 {
        writer.append(modify(tx, b"abc")).unwrap();
    }
    writer.seal();
    let blocks = drain_blocks(&mut writer);
    let mut mirror = mirror(Lsn::ZERO, Fork::new(1));
    let range = mirror.receive(blocks[0].as_bytes().clone()).unwrap();
    mirror.harden_to(range.end).unwrap();
    let cut = Lsn::new(2 * 16); // after two 16-byte records
    let before = mirror_state(&mirror);
    assert_eq!(
        mirror.roll_back_to(cut.advance(1), Fork::new(2)),
        Err(LogError::NotARecordBoundary {
            lsn: cut.advance(1)
        })
    );
    assert!(matches!(
        mirror.roll_back_to(range.end.advance(1), Fork::new(2)),
        Err(LogError::Beyond {
            limit: "received",
            ..
        })
    ));
    assert_eq!(mirror_state(&mirror), before);
    mirror.roll_back_to(cut, Fork::new(2)).unwrap();
    mirror.invariants();
    assert_eq!((mirror.lsn_received(), mirror.lsn_hardened()), (cut, cut));
    let kept: Vec<_> = redo_all(&mut mirror)
        .into_iter()
        .map(|(_, record)| record)
        .collect();
    assert_eq!(
        kept,
        [
            Owned::Modify(0, b"abc".to_vec()),
            Owned::Modify(1, b"abc".to_vec())
        ]
    );
    // The new principal's log continues at the cut, in the new fork.
    let mut successor = common::writer(cut, Fork::new(2));
    successor
        .append(Record::Commit { tx: TxId::new(9) })
        .unwrap();
    successor.seal();
    for block in drain_blocks(&mut successor) {
        mirror.receive(block.into_bytes()).unwrap();
    }
    assert_eq!(mirror.lsn_received(), cut.advance(9));
}

#[test]
fn a_garbage_buffer_is_an_error_not_a_panic() {
    let mut mirror = mirror(Lsn::ZERO, Fork::new(1));
    for len in [0, 1, 511, 512, 1024, BLOCK_BYTES_MAX, BLOCK_BYTES_MAX + 512] {
        let garbage = Bytes::from(vec![0x5a; len]);
        assert!(mirror.receive(garbage).is_err(), "{len} bytes accepted");
    }
    mirror.invariants();
}
