//! The typed errors of the log engine.
//!
//! Everything that comes from outside the crate (a block off the network, an LSN in a message, a
//! configuration from a scenario file) is checked, and a violation is one of these values. A call
//! that returns an error has changed nothing. A broken internal invariant is a bug and panics.

use crate::lsn::{Fork, Lsn};
use thiserror::Error;

/// Why a log operation was refused. The log is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LogError {
    /// The buffer is not a possible block size (a multiple of 512 bytes, from 512 to 60 KiB).
    #[error("a block of {len} bytes: blocks are multiples of 512 bytes, from 512 to 61440")]
    BlockSize {
        /// The buffer's length.
        len: usize,
    },
    /// The block's CRC-32 does not match its contents: it was damaged on the way.
    #[error(
        "checksum mismatch: the block says {stored:#010x}, its contents give {computed:#010x}"
    )]
    ChecksumMismatch {
        /// The checksum written in the block header.
        stored: u32,
        /// The checksum of the block's contents as received.
        computed: u32,
    },
    /// The checksum matches but the header is not one this crate writes.
    #[error("bad block header: {reason}")]
    BadHeader {
        /// Which field is wrong.
        reason: &'static str,
    },
    /// The checksum matches but the records do not tile the block's record area exactly.
    #[error("bad record framing at byte {offset} of the block's records")]
    BadFraming {
        /// Offset, from the start of the record area, of the record that does not parse.
        offset: usize,
    },
    /// The block belongs to another recovery fork than the one this log follows.
    #[error("wrong recovery fork: expected fork {expected}, the block is of fork {found}")]
    WrongFork {
        /// The fork this log accepts.
        expected: Fork,
        /// The fork in the block header.
        found: Fork,
    },
    /// The block starts past the end of the log: some log in between is missing.
    #[error(
        "gap in the log: expected a block starting at LSN {lsn_expected}, got one at {lsn_first}"
    )]
    Gap {
        /// The LSN the next block must start at.
        lsn_expected: Lsn,
        /// Where the block starts.
        lsn_first: Lsn,
    },
    /// The block starts before the end of the log: a duplicate or a block from the past.
    #[error("overlap: expected a block starting at LSN {lsn_expected}, got one at {lsn_first}")]
    Overlap {
        /// The LSN the next block must start at.
        lsn_expected: Lsn,
        /// Where the block starts.
        lsn_first: Lsn,
    },
    /// Taking `bytes_needed` more bytes would pass the configured cap on buffered bytes.
    #[error(
        "log buffers full: {bytes_buffered} bytes buffered, {bytes_needed} more needed, \
         cap {bytes_buffered_max} (truncate the log, or let the mirror catch up)"
    )]
    BufferFull {
        /// Bytes buffered now.
        bytes_buffered: u64,
        /// Bytes the operation needed.
        bytes_needed: u64,
        /// The configured cap.
        bytes_buffered_max: u64,
    },
    /// A record too large to fit in one block.
    #[error("a record of {len} bytes does not fit in a block (at most {len_max})")]
    RecordTooLarge {
        /// The encoded length of the record.
        len: usize,
        /// The largest encoded record a block holds.
        len_max: usize,
    },
    /// The LSN is not the start or end of a block, where the operation needs one.
    #[error("LSN {lsn} is not a block boundary")]
    NotABlockBoundary {
        /// The LSN given.
        lsn: Lsn,
    },
    /// The LSN falls inside a record, where the operation needs a record boundary.
    #[error("LSN {lsn} is not a record boundary")]
    NotARecordBoundary {
        /// The LSN given.
        lsn: Lsn,
    },
    /// The log below this LSN has been truncated: its bytes are no longer held.
    #[error("LSN {lsn} is below the retained log, which starts at {lsn_retained_from}")]
    NotRetained {
        /// The LSN given.
        lsn: Lsn,
        /// The oldest LSN still held.
        lsn_retained_from: Lsn,
    },
    /// The LSN lies past the point the operation may reach (see the method's documentation:
    /// hardening stops at the log written or received, redo at the hardened LSN, truncation at
    /// the hardened or redone LSN).
    #[error("LSN {lsn} is past {lsn_limit}, the {limit} LSN")]
    Beyond {
        /// The LSN given.
        lsn: Lsn,
        /// The furthest LSN allowed.
        lsn_limit: Lsn,
        /// What the limit is ("hardened", "received", ...).
        limit: &'static str,
    },
    /// A configuration value out of range.
    #[error("invalid log configuration: {reason}")]
    InvalidConfig {
        /// What to change.
        reason: &'static str,
    },
}
