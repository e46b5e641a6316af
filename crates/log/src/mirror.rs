//! The mirror's log: verified blocks in, hardened, redone, truncated, rolled back.

use crate::block::{some_block_ends_at, Block, BlockRecords};
use crate::config::{LogConfig, DEBUG_WALK_BLOCKS_MAX};
use crate::error::LogError;
use crate::lsn::{Fork, Lsn, LsnRange};
use crate::record::RecordView;
use crate::writer::LogWriter;
use bytes::Bytes;
use std::collections::{vec_deque, VecDeque};

/// The mirror's log: holds the blocks received from the principal (the very same buffers, no
/// copy), hardens them, and feeds redo.
///
/// LSN order of the figures, always:
/// `lsn_retained_from <= lsn_redone <= lsn_hardened <= lsn_received`.
#[derive(Debug)]
pub struct MirrorLog {
    fork: Fork,
    bytes_buffered_max: u64,
    /// Received blocks from `lsn_retained_from` to `lsn_received`, contiguous.
    log: VecDeque<Block>,
    lsn_retained_from: Lsn,
    lsn_received: Lsn,
    lsn_hardened: Lsn,
    lsn_redone: Lsn,
    bytes_buffered: u64,
}

impl MirrorLog {
    /// A mirror whose log ends at `lsn_start`, hardened and redone (a database restored WITH
    /// NORECOVERY up to there), accepting blocks of recovery fork `fork`.
    pub fn new(config: LogConfig, lsn_start: Lsn, fork: Fork) -> Result<MirrorLog, LogError> {
        config.validate()?;
        let mirror = MirrorLog {
            fork,
            bytes_buffered_max: config.bytes_buffered_max,
            log: VecDeque::new(),
            lsn_retained_from: lsn_start,
            lsn_received: lsn_start,
            lsn_hardened: lsn_start,
            lsn_redone: lsn_start,
            bytes_buffered: 0,
        };
        mirror.check();
        Ok(mirror)
    }

    /// Verifies a block from the network and appends it to the log, keeping the buffer itself.
    /// Checks, in order: size, checksum, header and record framing, fork, continuity (the block
    /// must start exactly at [`lsn_received`](Self::lsn_received): [`LogError::Gap`] if later,
    /// [`LogError::Overlap`] if earlier), and the cap on buffered bytes. Returns the block's
    /// range; harden it with [`harden_to`](Self::harden_to) once the simulated disk has flushed
    /// it. On error nothing changes.
    pub fn receive(&mut self, bytes: Bytes) -> Result<LsnRange, LogError> {
        let block = Block::verify(bytes)?;
        self.check_acceptable(&block)?;
        let range = block.lsn_range();
        self.bytes_buffered += block.len() as u64;
        self.lsn_received = block.lsn_end();
        self.log.push_back(block);
        self.check();
        Ok(range)
    }

    /// Records that the mirror's disk has flushed the log below `lsn` (the end of a received
    /// block). An `lsn` at or below the hardened LSN is already done. Fails past the received
    /// log or off a block boundary.
    pub fn harden_to(&mut self, lsn: Lsn) -> Result<(), LogError> {
        if lsn <= self.lsn_hardened {
            return Ok(());
        }
        if lsn > self.lsn_received {
            return Err(LogError::Beyond {
                lsn,
                lsn_limit: self.lsn_received,
                limit: "received",
            });
        }
        if !some_block_ends_at(&self.log, lsn) {
            return Err(LogError::NotABlockBoundary { lsn });
        }
        self.lsn_hardened = lsn;
        self.check();
        Ok(())
    }

    /// The records waiting for redo, from [`lsn_redone`](Self::lsn_redone) up to the hardened
    /// LSN and never past it, in LSN order, as views borrowing the block buffers. Reading does not
    /// advance redo: report progress with [`redo_to`](Self::redo_to).
    pub fn redo_iter(&self) -> RedoIter<'_> {
        let first = self
            .log
            .partition_point(|block| block.lsn_end() <= self.lsn_redone);
        let end = self
            .log
            .partition_point(|block| block.lsn_end() <= self.lsn_hardened);
        if first >= end {
            return RedoIter {
                current: None,
                blocks: self.log.range(end..end),
            };
        }
        let current = self.log[first].records_from(self.lsn_redone);
        RedoIter {
            current: Some(current.expect("the redone LSN is a record boundary")),
            blocks: self.log.range(first + 1..end),
        }
    }

    /// Records that redo has applied the log below `lsn`, which must be the end of a record
    /// (a [`RecordView::lsn_end`]) and may not pass the hardened LSN. An `lsn` at or below the
    /// redone LSN is already done.
    pub fn redo_to(&mut self, lsn: Lsn) -> Result<(), LogError> {
        if lsn <= self.lsn_redone {
            return Ok(());
        }
        if lsn > self.lsn_hardened {
            return Err(LogError::Beyond {
                lsn,
                lsn_limit: self.lsn_hardened,
                limit: "hardened",
            });
        }
        if !self.is_record_boundary(lsn) {
            return Err(LogError::NotARecordBoundary { lsn });
        }
        self.lsn_redone = lsn;
        self.check();
        Ok(())
    }

    /// Releases the blocks that end at or below `lsn`, which may not pass the redone LSN.
    pub fn truncate_below(&mut self, lsn: Lsn) -> Result<(), LogError> {
        if lsn > self.lsn_redone {
            return Err(LogError::Beyond {
                lsn,
                lsn_limit: self.lsn_redone,
                limit: "redone",
            });
        }
        while self.log.front().is_some_and(|block| block.lsn_end() <= lsn) {
            let block = self.log.pop_front().expect("checked front");
            self.bytes_buffered -= block.len() as u64;
            self.lsn_retained_from = block.lsn_end();
        }
        self.check();
        Ok(())
    }

    /// Rolls the log back to `lsn`, discarding everything past it, and from then on accepts
    /// blocks of fork `fork` only: the old principal rejoining after a failover or a forced
    /// service, at the failover LSN. Hardened and redone LSNs drop to `lsn` if past it. A cut
    /// inside a retained block must fall on a record boundary; the records kept are copied into
    /// a new block (once per role change). Below the retained log everything retained goes.
    pub fn roll_back_to(&mut self, lsn: Lsn, fork: Fork) -> Result<(), LogError> {
        if lsn > self.lsn_received {
            return Err(LogError::Beyond {
                lsn,
                lsn_limit: self.lsn_received,
                limit: "received",
            });
        }
        let cut = self.log.partition_point(|block| block.lsn_end() <= lsn);
        let straddling = self.log.get(cut).filter(|block| block.lsn_first() < lsn);
        let prefix = match straddling {
            Some(block) => Some(
                block
                    .prefix_to(lsn)
                    .ok_or(LogError::NotARecordBoundary { lsn })?,
            ),
            None => None,
        };
        self.discard_from(cut);
        if let Some(block) = prefix {
            self.bytes_buffered += block.len() as u64;
            self.log.push_back(block);
        }
        self.lsn_retained_from = self.lsn_retained_from.min(lsn);
        self.lsn_received = lsn;
        self.lsn_hardened = self.lsn_hardened.min(lsn);
        self.lsn_redone = self.lsn_redone.min(lsn);
        self.fork = fork;
        self.check();
        Ok(())
    }

    /// Turns the mirror into the principal after a failover: a writer whose log continues at
    /// this mirror's hardened LSN with recovery fork `fork` (a new one for forced service).
    /// Received but unhardened log is lost. The caller finishes redo first (failover time
    /// grows with the redo queue, reference section 6).
    pub fn into_writer(self, config: LogConfig, fork: Fork) -> Result<LogWriter, LogError> {
        LogWriter::new(config, self.lsn_hardened, fork)
    }

    /// The recovery fork this mirror accepts.
    pub fn fork(&self) -> Fork {
        self.fork
    }

    /// The end of the received log: where the next block must start.
    pub fn lsn_received(&self) -> Lsn {
        self.lsn_received
    }

    /// The end of the log on the mirror's disk: what the mirror may acknowledge.
    pub fn lsn_hardened(&self) -> Lsn {
        self.lsn_hardened
    }

    /// The end of the log redo has applied.
    pub fn lsn_redone(&self) -> Lsn {
        self.lsn_redone
    }

    /// The oldest LSN whose block the mirror still holds.
    pub fn lsn_retained_from(&self) -> Lsn {
        self.lsn_retained_from
    }

    /// The redo queue in log bytes: hardened, not yet redone (the `unrestored_log` figure).
    pub fn redo_queue_bytes(&self) -> u64 {
        self.lsn_hardened.bytes_since(self.lsn_redone)
    }

    /// Bytes of the blocks the mirror holds (headers and padding included).
    pub fn bytes_buffered(&self) -> u64 {
        self.bytes_buffered
    }

    /// The cap on [`bytes_buffered`](Self::bytes_buffered).
    pub fn bytes_buffered_max(&self) -> u64 {
        self.bytes_buffered_max
    }

    /// The blocks the mirror holds, in LSN order.
    pub fn blocks(&self) -> impl ExactSizeIterator<Item = &Block> + '_ {
        self.log.iter()
    }

    /// Checks every invariant, panicking on a state that must never occur. Runs after each
    /// mutation in debug builds (walking at most [`DEBUG_WALK_BLOCKS_MAX`] blocks there); tests
    /// call it directly.
    pub fn invariants(&self) {
        self.invariants_walking(usize::MAX);
    }

    fn invariants_walking(&self, blocks_walked_max: usize) {
        self.invariants_lsns();
        if self.log.len() <= blocks_walked_max {
            self.invariants_blocks();
        } else {
            self.invariants_block_ends();
        }
    }

    fn invariants_lsns(&self) {
        let lsns = [self.lsn_retained_from, self.lsn_redone, self.lsn_hardened];
        assert!(lsns[0] <= lsns[1], "truncated log not redone");
        assert!(lsns[1] <= lsns[2], "redo passed the hardened LSN");
        assert!(
            self.lsn_hardened <= self.lsn_received,
            "hardened log never received"
        );
        assert!(
            self.bytes_buffered <= self.bytes_buffered_max,
            "over the buffer cap"
        );
        let hardened_at_boundary = self.lsn_hardened == self.lsn_retained_from
            || some_block_ends_at(&self.log, self.lsn_hardened);
        assert!(hardened_at_boundary, "hardened LSN inside a block");
        let redone_at_boundary = self.is_record_boundary(self.lsn_redone);
        assert!(redone_at_boundary, "redone LSN inside a record");
    }

    fn invariants_blocks(&self) {
        let mut lsn = self.lsn_retained_from;
        let mut bytes = 0;
        for block in &self.log {
            assert_eq!(block.lsn_first(), lsn, "blocks not contiguous");
            lsn = block.lsn_end();
            bytes += block.len() as u64;
        }
        assert_eq!(
            lsn, self.lsn_received,
            "blocks do not end at the received LSN"
        );
        assert_eq!(bytes, self.bytes_buffered, "buffered bytes miscounted");
    }

    /// The O(1) part of [`invariants_blocks`](Self::invariants_blocks).
    fn invariants_block_ends(&self) {
        let front = self.log.front().expect("more blocks than the walk limit");
        let back = self.log.back().expect("more blocks than the walk limit");
        assert_eq!(
            front.lsn_first(),
            self.lsn_retained_from,
            "log does not start at its start"
        );
        assert_eq!(
            back.lsn_end(),
            self.lsn_received,
            "blocks do not end at the received LSN"
        );
    }

    /// Everything but the bytes: a block of the right fork that starts where the log ends and
    /// fits under the cap.
    fn check_acceptable(&self, block: &Block) -> Result<(), LogError> {
        if block.fork() != self.fork {
            return Err(LogError::WrongFork {
                expected: self.fork,
                found: block.fork(),
            });
        }
        let lsn_first = block.lsn_first();
        let lsn_expected = self.lsn_received;
        if lsn_first > lsn_expected {
            return Err(LogError::Gap {
                lsn_expected,
                lsn_first,
            });
        }
        if lsn_first < lsn_expected {
            return Err(LogError::Overlap {
                lsn_expected,
                lsn_first,
            });
        }
        let bytes_needed = block.len() as u64;
        if self.bytes_buffered + bytes_needed > self.bytes_buffered_max {
            return Err(LogError::BufferFull {
                bytes_buffered: self.bytes_buffered,
                bytes_needed,
                bytes_buffered_max: self.bytes_buffered_max,
            });
        }
        Ok(())
    }

    /// Whether `lsn` is the start of the retained log or a record boundary inside it.
    fn is_record_boundary(&self, lsn: Lsn) -> bool {
        if lsn == self.lsn_retained_from {
            return true;
        }
        let index = self.log.partition_point(|block| block.lsn_end() < lsn);
        self.log
            .get(index)
            .is_some_and(|block| block.is_record_boundary(lsn))
    }

    /// Drops the blocks from index `cut` on.
    fn discard_from(&mut self, cut: usize) {
        for block in self.log.drain(cut..) {
            self.bytes_buffered -= block.len() as u64;
        }
    }

    fn check(&self) {
        if cfg!(debug_assertions) {
            self.invariants_walking(DEBUG_WALK_BLOCKS_MAX);
        }
    }
}

/// The records waiting for redo, in LSN order, borrowing the mirror's block buffers. Made by
/// [`MirrorLog::redo_iter`]; stops at the hardened LSN.
#[derive(Clone, Debug)]
pub struct RedoIter<'a> {
    current: Option<BlockRecords<'a>>,
    blocks: vec_deque::Iter<'a, Block>,
}

impl<'a> Iterator for RedoIter<'a> {
    type Item = RecordView<'a>;

    #[inline]
    fn next(&mut self) -> Option<RecordView<'a>> {
        loop {
            if let Some(view) = self.current.as_mut().and_then(Iterator::next) {
                return Some(view);
            }
            self.current = Some(self.blocks.next()?.records());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsn::TxId;
    use crate::record::Record;

    fn mirror_with_blocks(blocks: u64) -> MirrorLog {
        let config = LogConfig::default();
        let mut writer = LogWriter::new(config, Lsn::ZERO, Fork::new(1)).unwrap();
        let mut mirror = MirrorLog::new(config, Lsn::ZERO, Fork::new(1)).unwrap();
        for tx in 0..blocks {
            writer.append(Record::Begin { tx: TxId::new(tx) }).unwrap();
            writer.append(Record::Commit { tx: TxId::new(tx) }).unwrap();
            writer.seal();
        }
        while let Some(block) = writer.next_to_send() {
            let range = mirror.receive(block.into_bytes()).unwrap();
            mirror.harden_to(range.end).unwrap();
        }
        mirror
    }

    #[test]
    fn a_consistent_mirror_passes_both_walks() {
        let mirror = mirror_with_blocks(3);
        mirror.invariants();
        mirror.invariants_walking(1);
    }

    #[test]
    #[should_panic(expected = "redo passed the hardened LSN")]
    fn invariants_catch_redo_past_hardened() {
        let mut mirror = mirror_with_blocks(2);
        mirror.lsn_hardened = Lsn::new(18);
        mirror.lsn_redone = mirror.lsn_received;
        mirror.invariants();
    }

    #[test]
    #[should_panic(expected = "redone LSN inside a record")]
    fn invariants_catch_redo_inside_a_record() {
        let mut mirror = mirror_with_blocks(2);
        mirror.lsn_redone = Lsn::new(4);
        mirror.invariants();
    }

    #[test]
    #[should_panic(expected = "hardened LSN inside a block")]
    fn invariants_catch_hardening_inside_a_block() {
        let mut mirror = mirror_with_blocks(2);
        mirror.lsn_hardened = Lsn::new(9);
        mirror.invariants();
    }

    #[test]
    #[should_panic(expected = "do not end at the received LSN")]
    fn the_bounded_walk_still_checks_the_ends() {
        let mut mirror = mirror_with_blocks(3);
        mirror.lsn_received = mirror.lsn_received.advance(1);
        mirror.invariants_walking(1);
    }
}
