//! Log blocks: the unit the principal flushes, ships and the mirror hardens.
//!
//! A block is a multiple of 512 bytes and at most 60 KiB (reference section 6):
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | CRC-32 of bytes 4..end (header, records and padding) |
//! | 4..8 | magic `MLB1` |
//! | 8..16 | LSN of the first record (u64) |
//! | 16..20 | length of the record area in bytes (u32) |
//! | 20..24 | number of records (u32) |
//! | 24..28 | recovery fork (u32) |
//! | 28..32 | reserved, zero |
//! | 32.. | records, then zero padding to the next multiple of 512 |
//!
//! All integers are little-endian. The checksum covers every byte but itself, so flipping any
//! byte of a block is caught (CRC-32 detects every burst of up to 32 bits).

use crate::checksum::checksum;
use crate::error::LogError;
use crate::lsn::{Fork, Lsn, LsnRange};
use crate::record::{Record, RecordView, MODIFY_HEADER_BYTES};
use bytes::{BufMut, Bytes, BytesMut};

/// Blocks are multiples of this many bytes (a disk sector).
pub const BLOCK_ALIGN_BYTES: usize = 512;
/// The largest block: 60 KiB.
pub const BLOCK_BYTES_MAX: usize = 60 * 1024;
/// Bytes of the block header, before the first record.
pub const BLOCK_HEADER_BYTES: usize = 32;
/// The largest encoded record: it fills a largest block on its own.
pub const RECORD_BYTES_MAX: usize = BLOCK_BYTES_MAX - BLOCK_HEADER_BYTES;
/// The largest payload of a modify record.
pub const MODIFY_PAYLOAD_BYTES_MAX: usize = RECORD_BYTES_MAX - MODIFY_HEADER_BYTES;

const MAGIC: [u8; 4] = *b"MLB1";

/// The block length that holds `records_len` bytes of records: header plus records, rounded up
/// to a multiple of 512.
pub(crate) fn block_len_for(records_len: usize) -> usize {
    (BLOCK_HEADER_BYTES + records_len).div_ceil(BLOCK_ALIGN_BYTES) * BLOCK_ALIGN_BYTES
}

/// A sealed log block: an immutable, reference-counted buffer plus its decoded header.
///
/// Cloning a block clones a reference, never the bytes: the principal's log, its local harden
/// path, the send queue, the network, the mirror's log and redo all share one allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    bytes: Bytes,
    lsn_first: Lsn,
    records_len: u32,
    record_count: u32,
    fork: Fork,
}

impl Block {
    /// Checks a buffer received from outside and makes it a block: size, checksum, header and
    /// record framing. The buffer is kept as is (no copy).
    pub fn verify(bytes: Bytes) -> Result<Block, LogError> {
        check_size(bytes.len())?;
        let stored = read_u32(&bytes, 0);
        let computed = checksum(&bytes[4..]);
        if stored != computed {
            return Err(LogError::ChecksumMismatch { stored, computed });
        }
        let block = parse_header(bytes)?;
        check_framing(block.records_area(), block.record_count)?;
        Ok(block)
    }

    /// The LSN of the block's first record.
    #[inline]
    pub fn lsn_first(&self) -> Lsn {
        self.lsn_first
    }

    /// The LSN just past the block's last record: where the next block starts.
    #[inline]
    pub fn lsn_end(&self) -> Lsn {
        self.lsn_first.advance(u64::from(self.records_len))
    }

    /// The part of the log stream the block carries.
    #[inline]
    pub fn lsn_range(&self) -> LsnRange {
        LsnRange::new(self.lsn_first, self.lsn_end())
    }

    /// The recovery fork of the log that wrote the block.
    #[inline]
    pub fn fork(&self) -> Fork {
        self.fork
    }

    /// The number of records in the block.
    #[inline]
    pub fn record_count(&self) -> u32 {
        self.record_count
    }

    /// Log bytes the block carries (its records, without header and padding).
    #[inline]
    pub fn records_len(&self) -> u64 {
        u64::from(self.records_len)
    }

    /// Bytes of the whole block buffer: header, records and padding; a multiple of 512.
    #[inline]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: an empty block is never sealed. (Here for clippy's `len_without_is_empty`.)
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The block buffer, as shipped and hardened.
    #[inline]
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The block buffer, giving up the decoded header.
    #[inline]
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// The block's records in LSN order, borrowing the block buffer.
    #[inline]
    pub fn records(&self) -> BlockRecords<'_> {
        BlockRecords {
            area: self.records_area(),
            offset: 0,
            lsn_first: self.lsn_first,
        }
    }

    /// The block's records from `lsn` on, or `None` if `lsn` is not the LSN of one of its records
    /// or its end.
    pub fn records_from(&self, lsn: Lsn) -> Option<BlockRecords<'_>> {
        let offset = self.record_offset(lsn)?;
        Some(BlockRecords {
            area: self.records_area(),
            offset,
            lsn_first: self.lsn_first,
        })
    }

    /// Whether `lsn` starts a record of this block or is the block's end.
    pub fn is_record_boundary(&self, lsn: Lsn) -> bool {
        self.record_offset(lsn).is_some()
    }

    /// A new block holding only the records below `lsn` (a record boundary strictly inside the
    /// block), for rolling a log back into the middle of a block. This copies the kept records:
    /// it runs once per role change, never on the log path.
    pub(crate) fn prefix_to(&self, lsn: Lsn) -> Option<Block> {
        let offset = self.record_offset(lsn)?;
        assert!(
            offset > 0 && offset < self.records_len as usize,
            "prefix_to: not inside"
        );
        let count = self.records().take_while(|view| view.lsn() < lsn).count();
        let mut buffer = BytesMut::with_capacity(block_len_for(offset));
        buffer.put_bytes(0, BLOCK_HEADER_BYTES);
        buffer.put_slice(&self.records_area()[..offset]);
        let count = u32::try_from(count).expect("a block holds fewer than 2^32 records");
        Some(seal_block(&mut buffer, self.lsn_first, count, self.fork))
    }

    /// A new block holding only the records from `lsn` on (a record boundary strictly inside
    /// the block), or `None` if `lsn` is not one: for shipping to a mirror that rolled back into
    /// the middle of this block ([`MirrorLog::roll_back_to`](crate::MirrorLog::roll_back_to)
    /// keeps the records below `lsn`). Copies the records, once per such role change.
    pub fn suffix_from(&self, lsn: Lsn) -> Option<Block> {
        let offset = self.record_offset(lsn)?;
        if offset == 0 || offset == self.records_len as usize {
            return None;
        }
        let count = self.records().filter(|view| view.lsn() >= lsn).count();
        let kept = &self.records_area()[offset..];
        let mut buffer = BytesMut::with_capacity(block_len_for(kept.len()));
        buffer.put_bytes(0, BLOCK_HEADER_BYTES);
        buffer.put_slice(kept);
        let count = u32::try_from(count).expect("a block holds fewer than 2^32 records");
        Some(seal_block(&mut buffer, lsn, count, self.fork))
    }

    /// The records area: the bytes after the header, up to the end of the last record.
    #[inline]
    fn records_area(&self) -> &[u8] {
        &self.bytes[BLOCK_HEADER_BYTES..BLOCK_HEADER_BYTES + self.records_len as usize]
    }

    fn record_offset(&self, lsn: Lsn) -> Option<usize> {
        if lsn < self.lsn_first || lsn > self.lsn_end() {
            return None;
        }
        let offset = usize::try_from(lsn.bytes_since(self.lsn_first)).ok()?;
        // The ends need no walk; redo and hardening ask about them most.
        if offset == 0 || offset == self.records_len as usize {
            return Some(offset);
        }
        let mut walk = 0;
        while walk < offset {
            let (_, len) = Record::decode(self.records_area(), walk).expect("verified block");
            walk += len;
        }
        (walk == offset).then_some(offset)
    }
}

impl From<Block> for Bytes {
    fn from(block: Block) -> Bytes {
        block.bytes
    }
}

/// Seals the block held in `buffer`: `buffer` starts with `BLOCK_HEADER_BYTES` of placeholder
/// followed by the records. Pads to 512, writes the header and the checksum, and splits the
/// block off the front of `buffer` (no copy: the block shares `buffer`'s allocation, and `buffer`
/// keeps the capacity after it).
pub(crate) fn seal_block(
    buffer: &mut BytesMut,
    lsn_first: Lsn,
    record_count: u32,
    fork: Fork,
) -> Block {
    let records_len = buffer.len() - BLOCK_HEADER_BYTES;
    assert!(records_len > 0, "sealing an empty block");
    let block_len = block_len_for(records_len);
    assert!(block_len <= BLOCK_BYTES_MAX, "block of {block_len} bytes");
    buffer.put_bytes(0, block_len - buffer.len());
    let records_len = u32::try_from(records_len).expect("block size checked");
    write_header(
        &mut buffer[..BLOCK_HEADER_BYTES],
        lsn_first,
        records_len,
        record_count,
        fork,
    );
    let crc = checksum(&buffer[4..block_len]);
    buffer[0..4].copy_from_slice(&crc.to_le_bytes());
    Block {
        bytes: buffer.split_to(block_len).freeze(),
        lsn_first,
        records_len,
        record_count,
        fork,
    }
}

/// Whether one of `log`'s blocks (in LSN order) ends at `lsn`. The newest few blocks are tried
/// first: a flush ends at or just before the newest block (blocks sealed while it ran), and the
/// search is on the hot path; older ends are found by binary search.
pub(crate) fn some_block_ends_at(log: &std::collections::VecDeque<Block>, lsn: Lsn) -> bool {
    const NEWEST_TRIED: usize = 4;
    for b in log.iter().rev().take(NEWEST_TRIED) {
        match b.lsn_end().cmp(&lsn) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => return false,
            std::cmp::Ordering::Greater => {}
        }
    }
    log.binary_search_by_key(&lsn, Block::lsn_end).is_ok()
}

fn write_header(header: &mut [u8], lsn_first: Lsn, records_len: u32, count: u32, fork: Fork) {
    header[4..8].copy_from_slice(&MAGIC);
    header[8..16].copy_from_slice(&lsn_first.get().to_le_bytes());
    header[16..20].copy_from_slice(&records_len.to_le_bytes());
    header[20..24].copy_from_slice(&count.to_le_bytes());
    header[24..28].copy_from_slice(&fork.get().to_le_bytes());
    header[28..32].copy_from_slice(&[0; 4]);
}

fn check_size(len: usize) -> Result<(), LogError> {
    let aligned = len.is_multiple_of(BLOCK_ALIGN_BYTES);
    if !aligned || !(BLOCK_ALIGN_BYTES..=BLOCK_BYTES_MAX).contains(&len) {
        return Err(LogError::BlockSize { len });
    }
    Ok(())
}

/// Decodes and checks the header of a buffer whose size and checksum are good.
fn parse_header(bytes: Bytes) -> Result<Block, LogError> {
    if bytes[4..8] != MAGIC {
        return Err(LogError::BadHeader { reason: "magic" });
    }
    if bytes[28..32] != [0; 4] {
        return Err(LogError::BadHeader {
            reason: "reserved bytes not zero",
        });
    }
    let lsn_first = Lsn::new(read_u64(&bytes, 8));
    let records_len = read_u32(&bytes, 16);
    if records_len == 0 || block_len_for(records_len as usize) != bytes.len() {
        return Err(LogError::BadHeader {
            reason: "record area length does not match the block length",
        });
    }
    if lsn_first
        .get()
        .checked_add(u64::from(records_len))
        .is_none()
    {
        return Err(LogError::BadHeader {
            reason: "LSN past the end of the log stream",
        });
    }
    Ok(Block {
        lsn_first,
        records_len,
        record_count: read_u32(&bytes, 20),
        fork: Fork::new(read_u32(&bytes, 24)),
        bytes,
    })
}

/// Checks that the records tile `area` exactly and that there are `count` of them.
fn check_framing(area: &[u8], count: u32) -> Result<(), LogError> {
    let mut offset = 0;
    let mut found: u32 = 0;
    while offset < area.len() {
        let len = Record::framed_len(area, offset).ok_or(LogError::BadFraming { offset })?;
        offset += len;
        found += 1;
    }
    if found != count {
        return Err(LogError::BadHeader {
            reason: "record count does not match the records",
        });
    }
    Ok(())
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// The records of one block in LSN order, as views borrowing the block buffer.
#[derive(Clone, Debug)]
pub struct BlockRecords<'a> {
    area: &'a [u8],
    offset: usize,
    lsn_first: Lsn,
}

impl<'a> Iterator for BlockRecords<'a> {
    type Item = RecordView<'a>;

    #[inline]
    fn next(&mut self) -> Option<RecordView<'a>> {
        if self.offset == self.area.len() {
            return None;
        }
        // The block was checked when sealed or verified, so every record parses.
        let (record, len) = Record::decode(self.area, self.offset).expect("verified block");
        let view = RecordView::new(self.lsn_first.advance(self.offset as u64), record);
        self.offset += len;
        Some(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsn::TxId;

    /// A block built the way the writer builds one.
    fn block_of(records: &[Record<'_>], lsn_first: Lsn, fork: Fork) -> Block {
        let mut buffer = BytesMut::with_capacity(BLOCK_BYTES_MAX);
        buffer.put_bytes(0, BLOCK_HEADER_BYTES);
        for record in records {
            let (header, len) = record.encode_header();
            buffer.put_slice(&header[..len]);
            if let Record::Modify { payload, .. } = record {
                buffer.put_slice(payload);
            }
        }
        seal_block(&mut buffer, lsn_first, records.len() as u32, fork)
    }

    fn sample() -> Block {
        block_of(
            &[
                Record::Begin { tx: TxId::new(9) },
                Record::Modify {
                    tx: TxId::new(9),
                    payload: b"hello",
                },
                Record::Commit { tx: TxId::new(9) },
            ],
            Lsn::new(1000),
            Fork::new(2),
        )
    }

    #[test]
    fn sealed_block_is_aligned_and_verifies() {
        let block = sample();
        assert_eq!(block.len(), 512);
        assert_eq!(block.records_len(), 9 + 18 + 9);
        assert_eq!(
            block.lsn_range(),
            LsnRange::new(Lsn::new(1000), Lsn::new(1036))
        );
        let verified = Block::verify(block.as_bytes().clone()).expect("intact block");
        assert_eq!(verified, block);
        let lsns: Vec<u64> = verified.records().map(|view| view.lsn().get()).collect();
        assert_eq!(lsns, [1000, 1009, 1027]);
    }

    #[test]
    fn block_sizes_round_up_to_sectors() {
        assert_eq!(block_len_for(1), 512);
        assert_eq!(block_len_for(512 - 32), 512);
        assert_eq!(block_len_for(512 - 31), 1024);
        assert_eq!(block_len_for(RECORD_BYTES_MAX), BLOCK_BYTES_MAX);
    }

    #[test]
    fn wrong_sizes_are_refused() {
        for len in [0, 100, 511, 513, BLOCK_BYTES_MAX + 512] {
            let bytes = Bytes::from(vec![0u8; len]);
            assert_eq!(Block::verify(bytes), Err(LogError::BlockSize { len }));
        }
    }

    /// Rewrites a header field and fixes the checksum, as a buggy peer would.
    fn with_field(block: &Block, at: usize, value: &[u8]) -> Bytes {
        let mut bytes = block.as_bytes().to_vec();
        bytes[at..at + value.len()].copy_from_slice(value);
        let crc = checksum(&bytes[4..]);
        bytes[0..4].copy_from_slice(&crc.to_le_bytes());
        Bytes::from(bytes)
    }

    #[test]
    fn inconsistent_headers_with_good_checksums_are_refused() {
        let block = sample();
        let bad_magic = with_field(&block, 4, b"XXXX");
        assert!(matches!(
            Block::verify(bad_magic),
            Err(LogError::BadHeader { .. })
        ));
        let reserved = with_field(&block, 28, &[1]);
        assert!(matches!(
            Block::verify(reserved),
            Err(LogError::BadHeader { .. })
        ));
        let long = with_field(&block, 16, &600u32.to_le_bytes());
        assert!(matches!(
            Block::verify(long),
            Err(LogError::BadHeader { .. })
        ));
        let count = with_field(&block, 20, &4u32.to_le_bytes());
        assert!(matches!(
            Block::verify(count),
            Err(LogError::BadHeader { .. })
        ));
        // Claim one more byte of records than there are: the padding byte is not a record.
        let framing = with_field(&block, 16, &37u32.to_le_bytes());
        assert_eq!(
            Block::verify(framing),
            Err(LogError::BadFraming { offset: 36 })
        );
    }

    #[test]
    fn records_from_needs_a_record_boundary() {
        let block = sample();
        assert_eq!(
            block.records_from(Lsn::new(1009)).map(|r| r.count()),
            Some(2)
        );
        assert_eq!(
            block.records_from(Lsn::new(1036)).map(|r| r.count()),
            Some(0)
        );
        assert!(block.records_from(Lsn::new(1010)).is_none());
        assert!(block.records_from(Lsn::new(999)).is_none());
        assert!(block.records_from(Lsn::new(1037)).is_none());
    }

    #[test]
    fn prefix_keeps_the_records_below_the_cut() {
        let block = sample();
        let prefix = block.prefix_to(Lsn::new(1027)).expect("record boundary");
        assert_eq!(
            prefix.lsn_range(),
            LsnRange::new(Lsn::new(1000), Lsn::new(1027))
        );
        assert_eq!(prefix.record_count(), 2);
        assert_eq!(prefix.fork(), block.fork());
        let verified = Block::verify(prefix.as_bytes().clone()).expect("intact");
        assert!(verified.records().eq(block.records().take(2)));
    }

    // A prefix and a suffix cut at one record boundary give back the block's records, so a
    // mirror rolled back into a block can be shipped the rest of it.
    #[test]
    fn suffix_keeps_the_records_from_the_cut() {
        let block = sample();
        let suffix = block.suffix_from(Lsn::new(1027)).expect("record boundary");
        assert_eq!(
            suffix.lsn_range(),
            LsnRange::new(Lsn::new(1027), block.lsn_end())
        );
        assert_eq!(suffix.record_count(), block.record_count() - 2);
        let verified = Block::verify(suffix.as_bytes().clone()).expect("intact");
        assert!(verified.records().eq(block.records().skip(2)));
        assert!(
            block.suffix_from(Lsn::new(1010)).is_none(),
            "not a boundary"
        );
        assert!(block.suffix_from(block.lsn_first()).is_none(), "not inside");
        assert!(block.suffix_from(block.lsn_end()).is_none(), "not inside");
    }
}
