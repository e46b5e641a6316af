//! The principal's log writer: records in, sealed blocks out to the local harden path and the
//! send queue.

use crate::block::{block_len_for, seal_block, some_block_ends_at, Block};
use crate::block::{BLOCK_ALIGN_BYTES, BLOCK_BYTES_MAX};
use crate::block::{BLOCK_HEADER_BYTES, RECORD_BYTES_MAX};
use crate::config::{LogConfig, DEBUG_WALK_BLOCKS_MAX};
use crate::error::LogError;
use crate::lsn::{Fork, Lsn, LsnRange, TxId};
use crate::mirror::MirrorLog;
use crate::pool::BufferPool;
use crate::record::{Record, MODIFY_HEADER_BYTES};
use bytes::BufMut;
use std::collections::VecDeque;

/// The principal's log: appends records into the open block and seals blocks (group commit).
///
/// Every sealed block stays in the writer's log until truncated, and two cursors walk it: the
/// *flush* cursor hands blocks to the local harden path ([`next_to_flush`](Self::next_to_flush)),
/// the *send* cursor to the mirror ([`next_to_send`](Self::next_to_send)); both hand out the
/// same buffer, reference-counted, never a copy. LSN order of the figures, always:
///
/// `lsn_retained_from <= lsn_hardened <= lsn_flush_requested <= lsn_sealed <= lsn_end` and
/// `lsn_retained_from <= lsn_sent <= lsn_sealed`.
#[derive(Debug)]
pub struct LogWriter {
    fork: Fork,
    pool: BufferPool,
    /// Records in the open block; `None` when no block is open.
    open_record_count: Option<u32>,
    /// Sealed blocks from `lsn_retained_from` to `lsn_sealed`, contiguous.
    log: VecDeque<Block>,
    lsn_retained_from: Lsn,
    lsn_sealed: Lsn,
    lsn_end: Lsn,
    lsn_flush_requested: Lsn,
    lsn_hardened: Lsn,
    lsn_sent: Lsn,
    bytes_retained: u64,
}

impl LogWriter {
    /// A writer whose first record will be at `lsn_start`, writing blocks of recovery fork
    /// `fork`. A new database starts at [`Lsn::ZERO`]; a new principal after a failover starts
    /// at its hardened LSN (see [`MirrorLog::into_writer`]); re-creating a dropped range of log
    /// starts where the range starts. Allocates nothing until the first record.
    pub fn new(config: LogConfig, lsn_start: Lsn, fork: Fork) -> Result<LogWriter, LogError> {
        config.validate()?;
        let writer = LogWriter {
            fork,
            pool: BufferPool::new(config.chunk_bytes, config.bytes_buffered_max),
            open_record_count: None,
            log: VecDeque::new(),
            lsn_retained_from: lsn_start,
            lsn_sealed: lsn_start,
            lsn_end: lsn_start,
            lsn_flush_requested: lsn_start,
            lsn_hardened: lsn_start,
            lsn_sent: lsn_start,
            bytes_retained: 0,
        };
        writer.check();
        Ok(writer)
    }

    /// Appends `record` to the open block, first sealing the open block if the record does not
    /// fit in it. Returns the record's place in the log: a commit is durable once hardened to
    /// `end`. Fails with [`LogError::RecordTooLarge`] or [`LogError::BufferFull`], changing
    /// nothing.
    #[inline]
    pub fn append(&mut self, record: Record<'_>) -> Result<LsnRange, LogError> {
        let len = record.encoded_len();
        self.make_room(len)?;
        let (header, header_len) = record.encode_header();
        let arena = self.pool.arena();
        arena.extend_from_slice(&header[..header_len]);
        if let Record::Modify { payload, .. } = record {
            arena.extend_from_slice(payload);
        }
        Ok(self.appended(len))
    }

    /// Appends a modify record of `payload_len` bytes whose payload `fill` writes in place, in
    /// the block buffer (for example [`PayloadFiller::fill`](crate::PayloadFiller::fill)): no
    /// intermediate buffer. Otherwise as [`append`](Self::append).
    pub fn append_modify_with(
        &mut self,
        tx: TxId,
        payload_len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<LsnRange, LogError> {
        let len = MODIFY_HEADER_BYTES.saturating_add(payload_len);
        self.make_room(len)?;
        let arena = self.pool.arena();
        arena.extend_from_slice(&Record::modify_header(tx, payload_len));
        let payload_start = arena.len();
        // Zeroing first costs a memset; filling uninitialised memory would need `unsafe`.
        arena.put_bytes(0, payload_len);
        fill(&mut arena[payload_start..]);
        Ok(self.appended(len))
    }

    /// Group commit: seals the open block so that it can be flushed and sent. Call it when a
    /// commit needs its log hardened; blocks that fill up are sealed without it. Returns the
    /// sealed block's range, or `None` when no block is open. Never fails: sealing needs no new
    /// buffer (the next block gets one when its first record arrives).
    pub fn seal(&mut self) -> Option<LsnRange> {
        self.open_record_count?;
        let range = self.seal_open();
        self.check();
        Some(range)
    }

    /// The next sealed block for the local harden path (the principal's own log disk), in LSN
    /// order; `None` when every sealed block has been handed out. Report the flush with
    /// [`harden_to`](Self::harden_to).
    pub fn next_to_flush(&mut self) -> Option<Block> {
        let block = self.block_starting_at(self.lsn_flush_requested)?.clone();
        self.lsn_flush_requested = block.lsn_end();
        self.check();
        Some(block)
    }

    /// Records that the local disk has flushed the log below `lsn` (the end of a block handed out
    /// by [`next_to_flush`](Self::next_to_flush)). An `lsn` at or below the hardened LSN is
    /// already done. Fails past the flush cursor or off a block boundary.
    pub fn harden_to(&mut self, lsn: Lsn) -> Result<(), LogError> {
        if lsn <= self.lsn_hardened {
            return Ok(());
        }
        if lsn > self.lsn_flush_requested {
            return Err(LogError::Beyond {
                lsn,
                lsn_limit: self.lsn_flush_requested,
                limit: "flush requested",
            });
        }
        if !self.is_block_boundary(lsn) {
            return Err(LogError::NotABlockBoundary { lsn });
        }
        self.lsn_hardened = lsn;
        self.check();
        Ok(())
    }

    /// The next block of the send queue for the mirror, in LSN order; `None` when the send queue
    /// is empty.
    pub fn next_to_send(&mut self) -> Option<Block> {
        let block = self.block_starting_at(self.lsn_sent)?.clone();
        self.lsn_sent = block.lsn_end();
        self.check();
        Some(block)
    }

    /// Restarts the send queue at `lsn`: after a reconnection, from the mirror's hardened LSN.
    /// Fails with [`LogError::NotRetained`] when the log there has been truncated (re-create it,
    /// see the crate documentation, then resend from [`lsn_retained_from`](Self::lsn_retained_from)).
    pub fn resend_from(&mut self, lsn: Lsn) -> Result<(), LogError> {
        if lsn < self.lsn_retained_from {
            return Err(LogError::NotRetained {
                lsn,
                lsn_retained_from: self.lsn_retained_from,
            });
        }
        if lsn > self.lsn_sealed {
            return Err(LogError::Beyond {
                lsn,
                lsn_limit: self.lsn_sealed,
                limit: "sealed",
            });
        }
        if !self.is_block_boundary(lsn) {
            return Err(LogError::NotABlockBoundary { lsn });
        }
        self.lsn_sent = lsn;
        self.check();
        Ok(())
    }

    /// Releases the blocks that end at or below `lsn`, which may not pass the hardened LSN. The
    /// truncation point is the simulator's: the lowest of the last log backup, the mirror's
    /// hardened LSN and the oldest open transaction (reference section 6), or lower still for log
    /// it means to drop and re-create. Unsent log below it leaves the send queue (to be
    /// re-created by the caller). The buffers return to the pool once no one else holds them.
    pub fn truncate_below(&mut self, lsn: Lsn) -> Result<(), LogError> {
        if lsn > self.lsn_hardened {
            return Err(LogError::Beyond {
                lsn,
                lsn_limit: self.lsn_hardened,
                limit: "hardened",
            });
        }
        while self.log.front().is_some_and(|block| block.lsn_end() <= lsn) {
            let block = self.log.pop_front().expect("checked front");
            self.bytes_retained -= block.len() as u64;
            self.lsn_retained_from = block.lsn_end();
        }
        self.lsn_sent = self.lsn_sent.max(self.lsn_retained_from);
        self.check();
        Ok(())
    }

    /// Turns the principal into a mirror (after a failover, or to rejoin): the new mirror's log
    /// ends at this writer's hardened LSN, with everything redone (a principal's data already
    /// holds its log). Log not yet hardened is lost, as in a crash. Roll it back to the failover
    /// LSN with [`MirrorLog::roll_back_to`].
    pub fn into_mirror_log(self, config: LogConfig) -> Result<MirrorLog, LogError> {
        MirrorLog::new(config, self.lsn_hardened, self.fork)
    }

    /// The recovery fork this writer writes.
    pub fn fork(&self) -> Fork {
        self.fork
    }

    /// The LSN the next record will get: the end of the log written so far.
    #[inline]
    pub fn lsn_end(&self) -> Lsn {
        self.lsn_end
    }

    /// The end of the sealed log; records past it are in the open block.
    #[inline]
    pub fn lsn_sealed(&self) -> Lsn {
        self.lsn_sealed
    }

    /// The end of the log handed to the local harden path.
    pub fn lsn_flush_requested(&self) -> Lsn {
        self.lsn_flush_requested
    }

    /// The end of the log on the principal's own disk.
    #[inline]
    pub fn lsn_hardened(&self) -> Lsn {
        self.lsn_hardened
    }

    /// The end of the log handed to the network: where the send queue starts.
    #[inline]
    pub fn lsn_sent(&self) -> Lsn {
        self.lsn_sent
    }

    /// The oldest LSN whose block the writer still holds (the truncation point).
    pub fn lsn_retained_from(&self) -> Lsn {
        self.lsn_retained_from
    }

    /// The send queue in log bytes: sealed log not yet handed to the network (the `unsent_log`
    /// figure, counting only the log this writer holds).
    #[inline]
    pub fn send_queue_bytes(&self) -> u64 {
        self.lsn_sealed.bytes_since(self.lsn_sent)
    }

    /// Bytes of the sealed blocks the writer holds (headers and padding included).
    pub fn bytes_retained(&self) -> u64 {
        self.bytes_retained
    }

    /// The writer's buffer memory: every pool chunk it has allocated.
    pub fn bytes_buffered(&self) -> u64 {
        self.pool.bytes_allocated()
    }

    /// The cap on [`bytes_buffered`](Self::bytes_buffered).
    pub fn bytes_buffered_max(&self) -> u64 {
        self.pool.bytes_allocated_max()
    }

    /// The sealed blocks the writer holds, in LSN order.
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
        self.invariants_cursors();
        if self.log.len() <= blocks_walked_max {
            self.invariants_blocks();
        } else {
            self.invariants_block_ends();
        }
        self.invariants_open_block();
        self.pool.invariants();
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
            self.lsn_sealed,
            "blocks do not end at the sealed LSN"
        );
        assert_eq!(back.fork(), self.fork, "block of another fork");
    }

    fn invariants_cursors(&self) {
        assert!(
            self.lsn_retained_from <= self.lsn_hardened,
            "truncated unhardened log"
        );
        assert!(
            self.lsn_hardened <= self.lsn_flush_requested,
            "hardened before flushing"
        );
        assert!(
            self.lsn_flush_requested <= self.lsn_sealed,
            "flushing an open block"
        );
        assert!(self.lsn_sealed <= self.lsn_end, "sealed past the end");
        assert!(
            self.lsn_retained_from <= self.lsn_sent,
            "send cursor in truncated log"
        );
        assert!(self.lsn_sent <= self.lsn_sealed, "sending an open block");
        for lsn in [self.lsn_hardened, self.lsn_flush_requested, self.lsn_sent] {
            assert!(self.is_block_boundary(lsn), "cursor {lsn} inside a block");
        }
    }

    fn invariants_blocks(&self) {
        let mut lsn = self.lsn_retained_from;
        let mut bytes = 0;
        for block in &self.log {
            assert_eq!(block.lsn_first(), lsn, "blocks not contiguous");
            assert_eq!(block.fork(), self.fork, "block of another fork");
            assert!(
                block.len().is_multiple_of(BLOCK_ALIGN_BYTES) && block.len() <= BLOCK_BYTES_MAX
            );
            assert!(block.record_count() > 0, "empty block");
            lsn = block.lsn_end();
            bytes += block.len() as u64;
        }
        assert_eq!(lsn, self.lsn_sealed, "blocks do not end at the sealed LSN");
        assert_eq!(bytes, self.bytes_retained, "retained bytes miscounted");
    }

    fn invariants_open_block(&self) {
        let open_len = self.open_len();
        match self.open_record_count {
            None => {
                assert_eq!(open_len, 0, "records outside any block");
                assert_eq!(
                    self.pool.arena_len(),
                    0,
                    "bytes in the arena with no open block"
                );
            }
            Some(count) => {
                assert!(count > 0 && open_len > 0, "open block without records");
                assert_eq!(
                    self.pool.arena_len(),
                    BLOCK_HEADER_BYTES + open_len,
                    "arena length"
                );
                assert!(
                    block_len_for(open_len) <= BLOCK_BYTES_MAX,
                    "open block too long"
                );
            }
        }
    }

    /// Makes room for a record of `len` bytes: in the open block, or in a new one (sealing the
    /// open block first). Checks everything that can fail before changing anything.
    #[inline]
    fn make_room(&mut self, len: usize) -> Result<(), LogError> {
        let open_len = self.open_len();
        let fits = BLOCK_HEADER_BYTES + open_len + len <= BLOCK_BYTES_MAX;
        if self.open_record_count.is_some() && fits {
            return Ok(());
        }
        self.open_new_block(len)
    }

    /// The slow path of [`make_room`](Self::make_room), once per block.
    #[cold]
    #[inline(never)]
    fn open_new_block(&mut self, len: usize) -> Result<(), LogError> {
        if len > RECORD_BYTES_MAX {
            return Err(LogError::RecordTooLarge {
                len,
                len_max: RECORD_BYTES_MAX,
            });
        }
        let used = match self.open_record_count {
            Some(_) => block_len_for(self.open_len()),
            None => 0,
        };
        self.pool.reserve_next_block(used)?;
        if self.open_record_count.is_some() {
            self.seal_open();
        }
        self.pool.start_block();
        self.pool.arena().put_bytes(0, BLOCK_HEADER_BYTES);
        self.open_record_count = Some(0);
        Ok(())
    }

    /// Log bytes in the open block.
    #[inline]
    fn open_len(&self) -> usize {
        // At most one block: the cast cannot truncate.
        self.lsn_end.bytes_since(self.lsn_sealed) as usize
    }

    /// Accounts for a record of `len` bytes just written into the open block.
    #[inline]
    fn appended(&mut self, len: usize) -> LsnRange {
        let start = self.lsn_end;
        self.lsn_end = start.advance(len as u64);
        let count = self
            .open_record_count
            .as_mut()
            .expect("make_room opened a block");
        *count += 1;
        self.check();
        LsnRange::new(start, self.lsn_end)
    }

    fn seal_open(&mut self) -> LsnRange {
        let count = self.open_record_count.take().expect("a block is open");
        let block = seal_block(self.pool.arena(), self.lsn_sealed, count, self.fork);
        let range = block.lsn_range();
        self.bytes_retained += block.len() as u64;
        self.lsn_sealed = block.lsn_end();
        self.log.push_back(block);
        range
    }

    /// The retained block that starts at `lsn`, if any.
    fn block_starting_at(&self, lsn: Lsn) -> Option<&Block> {
        // The send queue is usually one block: the newest.
        if let Some(last) = self.log.back().filter(|b| b.lsn_first() == lsn) {
            return Some(last);
        }
        let index = self.log.partition_point(|block| block.lsn_first() < lsn);
        self.log.get(index).filter(|block| block.lsn_first() == lsn)
    }

    /// Whether `lsn` is the start of the retained log or the end of a retained block.
    fn is_block_boundary(&self, lsn: Lsn) -> bool {
        lsn == self.lsn_retained_from || some_block_ends_at(&self.log, lsn)
    }

    fn check(&self) {
        if cfg!(debug_assertions) {
            self.invariants_walking(DEBUG_WALK_BLOCKS_MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer_with_blocks(blocks: u64) -> LogWriter {
        let mut writer = LogWriter::new(LogConfig::default(), Lsn::new(10), Fork::new(1)).unwrap();
        for tx in 0..blocks {
            writer.append(Record::Commit { tx: TxId::new(tx) }).unwrap();
            writer.seal();
        }
        writer
    }

    #[test]
    fn a_consistent_writer_passes_both_walks() {
        let writer = writer_with_blocks(3);
        writer.invariants();
        writer.invariants_walking(1);
    }

    #[test]
    #[should_panic(expected = "hardened before flushing")]
    fn invariants_catch_hardening_before_flushing() {
        let mut writer = writer_with_blocks(2);
        writer.lsn_hardened = writer.lsn_sealed;
        writer.invariants();
    }

    #[test]
    #[should_panic(expected = "retained bytes miscounted")]
    fn invariants_catch_a_miscount() {
        let mut writer = writer_with_blocks(2);
        writer.bytes_retained += 1;
        writer.invariants();
    }

    #[test]
    #[should_panic(expected = "do not end at the sealed LSN")]
    fn the_bounded_walk_still_checks_the_ends() {
        let mut writer = writer_with_blocks(3);
        writer.lsn_sealed = writer.lsn_sealed.advance(1);
        writer.lsn_end = writer.lsn_sealed;
        writer.invariants_walking(1);
    }

    #[test]
    #[should_panic(expected = "records outside any block")]
    fn invariants_catch_records_outside_a_block() {
        let mut writer = writer_with_blocks(1);
        writer.lsn_end = writer.lsn_end.advance(9);
        writer.invariants();
    }
}
