//! Log records and their binary framing.
//!
//! A record is one kind byte followed by a fixed little-endian body; a modify record adds a
//! payload length and the payload. Records never span blocks, so a block's record area is a
//! whole number of records and redo can hand out payloads as plain slices of the block.
//!
//! | kind | byte | body |
//! |---|---|---|
//! | begin | 1 | tx (u64) |
//! | modify | 2 | tx (u64), payload length (u32), payload |
//! | commit | 3 | tx (u64) |
//! | abort | 4 | tx (u64) |
//! | checkpoint | 5 | oldest active LSN (u64) |

use crate::lsn::{Lsn, TxId};

const KIND_BEGIN: u8 = 1;
const KIND_MODIFY: u8 = 2;
const KIND_COMMIT: u8 = 3;
const KIND_ABORT: u8 = 4;
const KIND_CHECKPOINT: u8 = 5;

/// Encoded length of every record but a modify: the kind byte and one u64.
const SHORT_RECORD_BYTES: usize = 9;

/// Encoded length of a modify record without its payload.
pub const MODIFY_HEADER_BYTES: usize = 13;

/// The longest header any record has; the writer encodes headers into a stack array this long.
pub(crate) const RECORD_HEADER_BYTES_MAX: usize = MODIFY_HEADER_BYTES;

/// One log record. The payload of a modify record is borrowed: when writing, from the caller;
/// when redoing, from the block buffer the principal flushed (no copy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Record<'a> {
    /// A transaction starts.
    Begin {
        /// The transaction.
        tx: TxId,
    },
    /// A transaction changes data; `payload` is what redo applies.
    Modify {
        /// The transaction.
        tx: TxId,
        /// The change, opaque to the log.
        payload: &'a [u8],
    },
    /// A transaction commits: durable once the log is hardened past the end of this record.
    Commit {
        /// The transaction.
        tx: TxId,
    },
    /// A transaction rolls back.
    Abort {
        /// The transaction.
        tx: TxId,
    },
    /// A checkpoint: recovery may start from `lsn_oldest_active`.
    Checkpoint {
        /// The LSN of the oldest transaction still open at the checkpoint.
        lsn_oldest_active: Lsn,
    },
}

impl<'a> Record<'a> {
    /// Bytes the record takes in the log stream (so the LSN of the next record is this record's
    /// LSN plus this).
    #[inline]
    pub fn encoded_len(&self) -> usize {
        match self {
            Record::Modify { payload, .. } => MODIFY_HEADER_BYTES + payload.len(),
            _ => SHORT_RECORD_BYTES,
        }
    }

    /// The transaction the record belongs to; `None` for a checkpoint.
    #[inline]
    pub fn tx(&self) -> Option<TxId> {
        match *self {
            Record::Begin { tx }
            | Record::Modify { tx, .. }
            | Record::Commit { tx }
            | Record::Abort { tx } => Some(tx),
            Record::Checkpoint { .. } => None,
        }
    }

    /// The record's header (everything but a modify's payload) and its length.
    #[inline]
    pub(crate) fn encode_header(&self) -> ([u8; RECORD_HEADER_BYTES_MAX], usize) {
        let mut header = [0u8; RECORD_HEADER_BYTES_MAX];
        let (kind, word) = match *self {
            Record::Begin { tx } => (KIND_BEGIN, tx.get()),
            Record::Modify { tx, .. } => (KIND_MODIFY, tx.get()),
            Record::Commit { tx } => (KIND_COMMIT, tx.get()),
            Record::Abort { tx } => (KIND_ABORT, tx.get()),
            Record::Checkpoint { lsn_oldest_active } => (KIND_CHECKPOINT, lsn_oldest_active.get()),
        };
        header[0] = kind;
        header[1..9].copy_from_slice(&word.to_le_bytes());
        if let Record::Modify { payload, .. } = self {
            header[9..13].copy_from_slice(&payload_len_bytes(payload.len()));
            return (header, MODIFY_HEADER_BYTES);
        }
        (header, SHORT_RECORD_BYTES)
    }

    /// The header of a modify record of transaction `tx` whose payload is `payload_len` bytes,
    /// for writers that produce the payload in place.
    #[inline]
    pub(crate) fn modify_header(tx: TxId, payload_len: usize) -> [u8; MODIFY_HEADER_BYTES] {
        let mut header = [0u8; MODIFY_HEADER_BYTES];
        header[0] = KIND_MODIFY;
        header[1..9].copy_from_slice(&tx.get().to_le_bytes());
        header[9..13].copy_from_slice(&payload_len_bytes(payload_len));
        header
    }

    /// Parses the record at `offset` of a record area; `None` if the bytes there are not a whole
    /// record. Returns the record and its encoded length.
    #[inline]
    pub(crate) fn decode(area: &'a [u8], offset: usize) -> Option<(Record<'a>, usize)> {
        let kind = *area.get(offset)?;
        let word = u64::from_le_bytes(area.get(offset + 1..offset + 9)?.try_into().ok()?);
        let record = match kind {
            KIND_BEGIN => Record::Begin {
                tx: TxId::new(word),
            },
            KIND_COMMIT => Record::Commit {
                tx: TxId::new(word),
            },
            KIND_ABORT => Record::Abort {
                tx: TxId::new(word),
            },
            KIND_CHECKPOINT => Record::Checkpoint {
                lsn_oldest_active: Lsn::new(word),
            },
            KIND_MODIFY => return Self::decode_modify(area, offset, TxId::new(word)),
            _ => return None,
        };
        Some((record, SHORT_RECORD_BYTES))
    }

    /// The encoded length of the record at `offset` of a record area, reading only what framing
    /// needs (the kind, and a modify's payload length); `None` if no whole record is there.
    #[inline]
    pub(crate) fn framed_len(area: &[u8], offset: usize) -> Option<usize> {
        let len = match *area.get(offset)? {
            KIND_BEGIN | KIND_COMMIT | KIND_ABORT | KIND_CHECKPOINT => SHORT_RECORD_BYTES,
            KIND_MODIFY => {
                let len_bytes = area.get(offset + 9..offset + MODIFY_HEADER_BYTES)?;
                let payload_len = u32::from_le_bytes(len_bytes.try_into().ok()?) as usize;
                MODIFY_HEADER_BYTES.checked_add(payload_len)?
            }
            _ => return None,
        };
        (offset.checked_add(len)? <= area.len()).then_some(len)
    }

    #[inline]
    fn decode_modify(area: &'a [u8], offset: usize, tx: TxId) -> Option<(Record<'a>, usize)> {
        let len_bytes = area.get(offset + 9..offset + MODIFY_HEADER_BYTES)?;
        let len = u32::from_le_bytes(len_bytes.try_into().ok()?) as usize;
        let start = offset + MODIFY_HEADER_BYTES;
        let payload = area.get(start..start.checked_add(len)?)?;
        Some((Record::Modify { tx, payload }, MODIFY_HEADER_BYTES + len))
    }
}

#[inline]
fn payload_len_bytes(len: usize) -> [u8; 4] {
    // Callers check the record against the block size first, so the length fits.
    u32::try_from(len)
        .expect("payload length checked against the block size")
        .to_le_bytes()
}

/// A record read back from the log, with its position in the log stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordView<'a> {
    lsn: Lsn,
    record: Record<'a>,
}

impl<'a> RecordView<'a> {
    pub(crate) fn new(lsn: Lsn, record: Record<'a>) -> RecordView<'a> {
        RecordView { lsn, record }
    }

    /// The LSN of the record's first byte.
    #[inline]
    pub fn lsn(&self) -> Lsn {
        self.lsn
    }

    /// The LSN just past the record: the next record's LSN, and the LSN that must be hardened for
    /// this record to be durable.
    #[inline]
    pub fn lsn_end(&self) -> Lsn {
        self.lsn.advance(self.record.encoded_len() as u64)
    }

    /// The record; a modify's payload borrows the block buffer.
    #[inline]
    pub fn record(&self) -> Record<'a> {
        self.record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(record: &Record<'_>) -> Vec<u8> {
        let (header, len) = record.encode_header();
        let mut bytes = header[..len].to_vec();
        if let Record::Modify { payload, .. } = record {
            bytes.extend_from_slice(payload);
        }
        assert_eq!(bytes.len(), record.encoded_len());
        bytes
    }

    #[test]
    fn every_kind_round_trips() {
        let payload = [7u8, 8, 9];
        let records = [
            Record::Begin { tx: TxId::new(1) },
            Record::Modify {
                tx: TxId::new(u64::MAX),
                payload: &payload,
            },
            Record::Modify {
                tx: TxId::new(2),
                payload: &[],
            },
            Record::Commit { tx: TxId::new(3) },
            Record::Abort { tx: TxId::new(4) },
            Record::Checkpoint {
                lsn_oldest_active: Lsn::new(77),
            },
        ];
        for record in records {
            let bytes = encode(&record);
            assert_eq!(Record::decode(&bytes, 0), Some((record, bytes.len())));
        }
    }

    #[test]
    fn truncated_or_unknown_records_do_not_parse() {
        let bytes = encode(&Record::Modify {
            tx: TxId::new(5),
            payload: &[1, 2, 3, 4],
        });
        for cut in 0..bytes.len() {
            assert_eq!(Record::decode(&bytes[..cut], 0), None, "cut at {cut}");
        }
        let mut unknown = encode(&Record::Commit { tx: TxId::new(1) });
        unknown[0] = 0;
        assert_eq!(Record::decode(&unknown, 0), None);
        unknown[0] = 6;
        assert_eq!(Record::decode(&unknown, 0), None);
    }

    #[test]
    fn framing_agrees_with_decoding_on_every_prefix() {
        let mut area = encode(&Record::Begin { tx: TxId::new(1) });
        area.extend(encode(&Record::Modify {
            tx: TxId::new(1),
            payload: &[9; 20],
        }));
        area.extend(encode(&Record::Checkpoint {
            lsn_oldest_active: Lsn::new(3),
        }));
        for cut in 0..=area.len() {
            for offset in [0, 9, 9 + 33] {
                let decoded = Record::decode(&area[..cut], offset).map(|(_, len)| len);
                assert_eq!(
                    Record::framed_len(&area[..cut], offset),
                    decoded,
                    "{cut} {offset}"
                );
            }
        }
    }

    #[test]
    fn modify_header_matches_the_encoded_header() {
        let payload = [1u8; 300];
        let record = Record::Modify {
            tx: TxId::new(77),
            payload: &payload,
        };
        let (header, len) = record.encode_header();
        assert_eq!(Record::modify_header(TxId::new(77), 300), header[..len]);
    }

    #[test]
    fn view_end_is_start_plus_encoded_length() {
        let view = RecordView::new(
            Lsn::new(100),
            Record::Modify {
                tx: TxId::new(1),
                payload: &[0; 10],
            },
        );
        assert_eq!(view.lsn_end(), Lsn::new(123));
    }
}
