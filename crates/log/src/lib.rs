//! # mirror-log: the zero-copy log pipeline
//!
//! Database mirroring is log shipping (reference `mirroring.md`, section 6). This crate is the log
//! engine the simulator and the protocol move real bytes through:
//!
//! - [`Lsn`]: a byte offset in the log stream (the concatenated records; block framing is not
//!   counted, so a record's LSN does not depend on which block carries it). [`Fork`]: the
//!   recovery fork. [`TxId`]: a transaction.
//! - [`Record`]: begin, modify (with a payload), commit, abort, checkpoint, in a compact binary
//!   framing (module `record`).
//! - [`Block`]: records packed into a 512-byte-aligned block of at most 60 KiB, with a header
//!   (first LSN, record-area length, record count, recovery fork) and a CRC-32 over everything
//!   but the checksum itself.
//! - [`LogWriter`], the principal's log: appends records into the open block; group commit seals
//!   it when a commit needs it ([`LogWriter::seal`]) or when it is full. A sealed block is an
//!   immutable, reference-counted `bytes::Bytes` handed to the local harden path
//!   ([`LogWriter::next_to_flush`]) and to the send queue ([`LogWriter::next_to_send`]) without
//!   copying. Blocks are cut from pooled chunks, so the steady state allocates nothing.
//! - [`MirrorLog`], the mirror's log: verifies each block (checksum, framing, fork, continuity)
//!   and returns a typed [`LogError`] without changing state when something is wrong; keeps the
//!   very same buffers; hardens on [`MirrorLog::harden_to`]; feeds redo
//!   ([`MirrorLog::redo_iter`]), which never passes the hardened LSN; truncates; rolls back to a
//!   failover LSN.
//! - Send queue and redo queue in bytes ([`LogWriter::send_queue_bytes`],
//!   [`MirrorLog::redo_queue_bytes`]); a cap on buffered bytes ([`LogConfig`]) with
//!   [`LogError::BufferFull`] when reached.
//! - [`PayloadFiller`]: payloads as a pure function of (seed, transaction), so log dropped from
//!   memory can be re-created byte for byte.
//!
//! The checksum is CRC-32 from the `crc32fast` crate, picked over `crc32c` and `crc-fast` on
//! measured evidence (module `checksum`; `cargo bench -p mirror-log --bench pipeline` prints its
//! throughput and the pipeline's cost against its floor: one copy of the payload and two checksum
//! passes).
//!
//! No clock, no randomness, no hash-map order: the same calls give the same bytes.
//!
//! ## How the simulator uses this crate
//!
//! One [`LogWriter`] per principal, one [`MirrorLog`] per mirror, blocks carried between them by
//! the simulated network as [`Block`] values (cloning one is a reference-count increment). The
//! simulator decides when things happen (disk flush latency, network delay, redo rate); this
//! crate only says what is allowed.
//!
//! ```
//! use mirror_log::{Fork, LogConfig, LogError, LogWriter, Lsn, LsnRange, MirrorLog};
//! use mirror_log::{PayloadFiller, Record, TxId};
//!
//! /// One client transaction; its payload is a function of (seed, tx), nothing else.
//! fn write_tx(log: &mut LogWriter, filler: &PayloadFiller, tx: TxId) -> Result<LsnRange, LogError> {
//!     log.append(Record::Begin { tx })?;
//!     log.append(Record::Modify { tx, payload: filler.payload(tx, 300) })?;
//!     log.append(Record::Commit { tx })
//! }
//!
//! # fn main() -> Result<(), LogError> {
//! let config = LogConfig::default();
//! let fork = Fork::new(1);
//! let filler = PayloadFiller::new(7); // from the run's seed
//! let mut principal = LogWriter::new(config, Lsn::ZERO, fork)?;
//! let mut mirror = MirrorLog::new(config, Lsn::ZERO, fork)?;
//!
//! // A FULL commit: append, then group commit seals the block (one seal for every commit
//! // waiting), which goes to the local disk and to the mirror at the same time.
//! let commit = write_tx(&mut principal, &filler, TxId::new(1))?;
//! principal.seal();
//! while let Some(block) = principal.next_to_flush() {
//!     // ... the simulated disk flushes `block`; when it is done:
//!     principal.harden_to(block.lsn_end())?;
//! }
//! while let Some(block) = principal.next_to_send() {
//!     // ... the simulated network delivers it; a damaged, lost, duplicated or reordered block
//!     // is an Err here and leaves the mirror unchanged.
//!     let range = mirror.receive(block.into_bytes())?;
//!     // ... the mirror's disk flushes it; then the mirror acknowledges `range.end`.
//!     mirror.harden_to(range.end)?;
//! }
//! // The commit completes once both logs are hardened past its record.
//! assert!(principal.lsn_hardened() >= commit.end && mirror.lsn_hardened() >= commit.end);
//!
//! // Redo, at the redo rate: views borrow the very buffers the principal sealed.
//! let mut redone = mirror.lsn_redone();
//! for view in mirror.redo_iter() {
//!     if let Record::Modify { payload, .. } = view.record() {
//!         assert_eq!(payload.len(), 300); // ... apply it
//!     }
//!     redone = view.lsn_end();
//! }
//! mirror.redo_to(redone)?;
//! assert_eq!(mirror.redo_queue_bytes(), 0);
//!
//! // Truncation releases blocks; a buffer returns to the principal's pool once neither side
//! // holds it. The principal's truncation point also waits for log backups and open transactions.
//! mirror.truncate_below(mirror.lsn_redone())?;
//! principal.truncate_below(mirror.lsn_hardened())?;
//!
//! // The mirror goes away. Its backlog need not stay in memory: keep only where it starts.
//! let backlog_start = principal.lsn_end();
//! write_tx(&mut principal, &filler, TxId::new(2))?;
//! write_tx(&mut principal, &filler, TxId::new(3))?;
//! principal.seal();
//! let dropped = principal.next_to_flush().expect("a sealed block"); // kept only to compare below
//! principal.harden_to(dropped.lsn_end())?;
//! principal.truncate_below(principal.lsn_hardened())?; // bytes gone; the figures go on
//! assert_eq!(principal.send_queue_bytes(), 0);
//!
//! // The mirror is back, hardened at `backlog_start`, which the principal no longer holds:
//! assert!(principal.resend_from(mirror.lsn_hardened()).is_err());
//! // ... so re-create the backlog: same start, same fork, same transactions, same seals.
//! let mut again = LogWriter::new(config, backlog_start, fork)?;
//! write_tx(&mut again, &filler, TxId::new(2))?;
//! write_tx(&mut again, &filler, TxId::new(3))?;
//! again.seal();
//! let recreated = again.next_to_send().expect("a sealed block");
//! assert_eq!(recreated.as_bytes(), dropped.as_bytes()); // byte for byte
//! mirror.receive(recreated.into_bytes())?;
//! // Then the send queue goes on from the log the principal still holds.
//! principal.resend_from(principal.lsn_retained_from())?;
//! assert_eq!(mirror.lsn_received(), principal.lsn_sealed());
//! # Ok(())
//! # }
//! ```
//!
//! Rules worth knowing:
//! - A record never spans blocks; a modify payload is at most [`MODIFY_PAYLOAD_BYTES_MAX`].
//! - Re-created log needs the same records and the same recovery fork from the same LSN; the
//!   same seal points give the same blocks byte for byte, other seal points give other blocks
//!   with the same records at the same LSNs, which the mirror accepts just the same.
//! - Role changes: [`MirrorLog::into_writer`] (a mirror becomes principal at its hardened LSN)
//!   and [`LogWriter::into_mirror_log`] then [`MirrorLog::roll_back_to`] (the old principal
//!   rejoins at the failover LSN, under the new fork).
//! - Every `Err` leaves the log as it was; a panic is a bug (the `invariants()` methods state
//!   what must always hold, and run after every mutation in debug builds).

mod block;
mod checksum;
mod config;
mod error;
mod lsn;
mod mirror;
mod payload;
mod pool;
mod record;
mod writer;

pub use block::{Block, BlockRecords, BLOCK_ALIGN_BYTES, BLOCK_BYTES_MAX, BLOCK_HEADER_BYTES};
pub use block::{MODIFY_PAYLOAD_BYTES_MAX, RECORD_BYTES_MAX};
pub use checksum::checksum;
pub use config::{LogConfig, CHUNK_BYTES_MAX, DEBUG_WALK_BLOCKS_MAX};
pub use error::LogError;
pub use lsn::{Fork, Lsn, LsnRange, TxId};
pub use mirror::{MirrorLog, RedoIter};
pub use payload::PayloadFiller;
pub use record::{Record, RecordView, MODIFY_HEADER_BYTES};
pub use writer::LogWriter;
