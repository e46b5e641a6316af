//! Everything bounded (DESIGN.md rule 6): the writer's buffer pool stays flat in the steady
//! state, and both caps are typed errors that change nothing.

mod common;

use common::*;
use mirror_log::{Fork, LogConfig, LogError, LogWriter, Lsn, MirrorLog, PayloadFiller, Record};
use mirror_log::{TxId, BLOCK_BYTES_MAX};

/// Writes transaction `tx` (begin, one modify of `len` filler bytes, commit).
fn write_tx(writer: &mut LogWriter, filler: &PayloadFiller, tx: u64, len: usize) {
    let tx = TxId::new(tx);
    writer.append(Record::Begin { tx }).unwrap();
    writer
        .append_modify_with(tx, len, |payload| filler.fill(tx, payload))
        .unwrap();
    writer.append(Record::Commit { tx }).unwrap();
}

/// Ships, redoes and truncates everything sealed.
fn ship(writer: &mut LogWriter, mirror: &mut MirrorLog) {
    for block in drain_blocks(writer) {
        let range = mirror.receive(block.into_bytes()).unwrap();
        mirror.harden_to(range.end).unwrap();
    }
    redo_all(mirror);
    let lsn_hardened = mirror.lsn_hardened();
    mirror.truncate_below(lsn_hardened).unwrap();
    writer.truncate_below(lsn_hardened).unwrap();
}

#[test]
fn the_pool_stays_flat_when_the_log_is_truncated() {
    let filler = PayloadFiller::new(11);
    let mut writer = writer(Lsn::ZERO, Fork::new(1));
    let mut mirror = mirror(Lsn::ZERO, Fork::new(1));
    let mut after_warm_up = 0;
    for tx in 0..20_000u64 {
        write_tx(&mut writer, &filler, tx, 100 + (tx as usize * 37) % 3000);
        if tx.is_multiple_of(5) {
            writer.seal();
            ship(&mut writer, &mut mirror);
        }
        if tx == 1_000 {
            after_warm_up = writer.bytes_buffered();
        }
    }
    assert!(after_warm_up > 0);
    assert_eq!(writer.bytes_buffered(), after_warm_up, "the pool grew");
    assert!(after_warm_up <= 3 * LogConfig::default().chunk_bytes as u64);
    writer.invariants();
    mirror.invariants();
}

#[test]
fn the_writer_cap_is_a_typed_error_that_changes_nothing() {
    let config = LogConfig {
        bytes_buffered_max: 3 * BLOCK_BYTES_MAX as u64,
        chunk_bytes: BLOCK_BYTES_MAX,
    };
    let mut writer = LogWriter::new(config, Lsn::ZERO, Fork::new(1)).unwrap();
    let payload = vec![3u8; 30_000];
    let append = |writer: &mut LogWriter, tx: u64| {
        writer.append(Record::Modify {
            tx: TxId::new(tx),
            payload: &payload,
        })
    };
    // Two records per block, one block per chunk: three chunks hold six records.
    for tx in 0..6 {
        append(&mut writer, tx).unwrap();
        while let Some(block) = writer.next_to_flush() {
            writer.harden_to(block.lsn_end()).unwrap();
        }
    }
    let state = |w: &LogWriter| {
        (
            w.lsn_end(),
            w.lsn_sealed(),
            w.blocks().count(),
            w.bytes_retained(),
        )
    };
    let before = state(&writer);
    assert_eq!(
        append(&mut writer, 6),
        Err(LogError::BufferFull {
            bytes_buffered: 3 * BLOCK_BYTES_MAX as u64,
            bytes_needed: BLOCK_BYTES_MAX as u64,
            bytes_buffered_max: 3 * BLOCK_BYTES_MAX as u64,
        })
    );
    assert_eq!(state(&writer), before);
    writer.invariants();
    // Truncation returns the chunks to the pool (no one else holds the blocks).
    writer.truncate_below(writer.lsn_hardened()).unwrap();
    append(&mut writer, 6).unwrap();
    assert_eq!(writer.bytes_buffered(), 3 * BLOCK_BYTES_MAX as u64);
    writer.invariants();
}

#[test]
fn a_block_the_mirror_still_holds_keeps_its_chunk_from_reuse() {
    let config = LogConfig {
        bytes_buffered_max: 2 * BLOCK_BYTES_MAX as u64,
        chunk_bytes: BLOCK_BYTES_MAX,
    };
    let mut writer = LogWriter::new(config, Lsn::ZERO, Fork::new(1)).unwrap();
    let mut mirror = MirrorLog::new(LogConfig::default(), Lsn::ZERO, Fork::new(1)).unwrap();
    let payload = vec![1u8; 40_000];
    let mut tx = 0;
    let mut append = |writer: &mut LogWriter| {
        tx += 1;
        writer.append(Record::Modify {
            tx: TxId::new(tx),
            payload: &payload,
        })
    };
    // One record per block and per chunk. The mirror keeps the first block.
    append(&mut writer).unwrap();
    append(&mut writer).unwrap();
    for block in drain_blocks(&mut writer) {
        mirror.receive(block.into_bytes()).unwrap();
    }
    writer.truncate_below(writer.lsn_hardened()).unwrap();
    assert!(matches!(
        append(&mut writer),
        Err(LogError::BufferFull { .. })
    ));
    // Once the mirror lets go too, the chunk is reused.
    mirror.harden_to(mirror.lsn_received()).unwrap();
    redo_all(&mut mirror);
    mirror.truncate_below(mirror.lsn_redone()).unwrap();
    append(&mut writer).unwrap();
    assert_eq!(writer.bytes_buffered(), 2 * BLOCK_BYTES_MAX as u64);
}

#[test]
fn the_mirror_cap_is_a_typed_error_that_changes_nothing() {
    let config = LogConfig {
        bytes_buffered_max: BLOCK_BYTES_MAX as u64,
        chunk_bytes: BLOCK_BYTES_MAX,
    };
    let mut writer = writer(Lsn::ZERO, Fork::new(1));
    let payload = vec![9u8; 50_000];
    for tx in 0..2 {
        writer
            .append(Record::Modify {
                tx: TxId::new(tx),
                payload: &payload,
            })
            .unwrap();
    }
    writer.seal();
    let blocks = drain_blocks(&mut writer);
    assert_eq!(blocks.len(), 2, "one record per block");
    let mut mirror = MirrorLog::new(config, Lsn::ZERO, Fork::new(1)).unwrap();
    let range = mirror.receive(blocks[0].as_bytes().clone()).unwrap();
    let before = mirror_state(&mirror);
    let len = blocks[0].len() as u64;
    assert_eq!(
        mirror.receive(blocks[1].as_bytes().clone()),
        Err(LogError::BufferFull {
            bytes_buffered: len,
            bytes_needed: blocks[1].len() as u64,
            bytes_buffered_max: BLOCK_BYTES_MAX as u64,
        })
    );
    assert_eq!(mirror_state(&mirror), before);
    mirror.harden_to(range.end).unwrap();
    redo_all(&mut mirror);
    mirror.truncate_below(range.end).unwrap();
    mirror.receive(blocks[1].as_bytes().clone()).unwrap();
    mirror.invariants();
}

#[test]
fn invalid_configurations_are_refused() {
    let config = LogConfig {
        bytes_buffered_max: 1,
        chunk_bytes: BLOCK_BYTES_MAX,
    };
    assert!(matches!(
        LogWriter::new(config, Lsn::ZERO, Fork::new(1)),
        Err(LogError::InvalidConfig { .. })
    ));
    assert!(matches!(
        MirrorLog::new(config, Lsn::ZERO, Fork::new(1)),
        Err(LogError::InvalidConfig { .. })
    ));
}
