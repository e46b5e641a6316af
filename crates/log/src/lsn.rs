//! Log sequence numbers, LSN ranges, recovery forks and transaction ids.

use std::fmt;

/// A log sequence number: the byte offset of a record in the log stream.
///
/// The log stream is the concatenation of the encoded records, in the order the principal wrote
/// them. Block framing (headers, padding to 512 bytes) is *not* part of the stream, so a record
/// keeps its LSN whichever block carries it: a backlog re-created with other block boundaries
/// (see the crate documentation) has the very same LSNs. The LSN of the end of a record is the LSN
/// of the next one; "hardened to `lsn`" means every byte below `lsn` is on disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(u64);

impl Lsn {
    /// The start of a log that has never been written.
    pub const ZERO: Lsn = Lsn(0);

    /// The LSN at byte offset `offset` of the log stream.
    #[inline]
    pub const fn new(offset: u64) -> Lsn {
        Lsn(offset)
    }

    /// The byte offset in the log stream.
    #[inline]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The LSN `bytes` further on.
    ///
    /// # Panics
    /// On overflow: 2^64 bytes of log is not a state the simulator can reach, so reaching it is a bug.
    #[inline]
    pub fn advance(self, bytes: u64) -> Lsn {
        Lsn(self.0.checked_add(bytes).expect("LSN overflow"))
    }

    /// The number of log bytes from `earlier` up to `self`.
    ///
    /// # Panics
    /// If `earlier` is after `self` (a caller mixed up its LSNs: a bug).
    #[inline]
    pub fn bytes_since(self, earlier: Lsn) -> u64 {
        self.0
            .checked_sub(earlier.0)
            .unwrap_or_else(|| panic!("bytes_since: {earlier} is after {self}"))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u64> for Lsn {
    fn from(offset: u64) -> Lsn {
        Lsn(offset)
    }
}

impl From<Lsn> for u64 {
    fn from(lsn: Lsn) -> u64 {
        lsn.0
    }
}

/// A half-open range of the log stream, `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LsnRange {
    /// The first byte of the range.
    pub start: Lsn,
    /// The first byte past the range.
    pub end: Lsn,
}

impl LsnRange {
    /// The range `start..end`.
    ///
    /// # Panics
    /// If `end` is before `start`.
    #[inline]
    pub fn new(start: Lsn, end: Lsn) -> LsnRange {
        assert!(start <= end, "LsnRange: end {end} before start {start}");
        LsnRange { start, end }
    }

    /// Log bytes in the range.
    #[inline]
    pub fn len(&self) -> u64 {
        self.end.bytes_since(self.start)
    }

    /// Whether the range holds no byte.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether `lsn` lies inside the range (`start <= lsn < end`).
    #[inline]
    pub fn contains(&self, lsn: Lsn) -> bool {
        self.start <= lsn && lsn < self.end
    }
}

impl fmt::Display for LsnRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// A recovery fork: forced service (and a mirror's log rolled back to the failover LSN) starts a
/// new one. Every block carries the fork of the log that wrote it; a mirror accepts only blocks
/// of the fork it expects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fork(u32);

impl Fork {
    /// The fork with id `id`.
    #[inline]
    pub const fn new(id: u32) -> Fork {
        Fork(id)
    }

    /// The fork's id.
    #[inline]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The fork that a forced service started from this one would get.
    ///
    /// # Panics
    /// After 2^32 - 1 forks (a bug).
    pub fn next(self) -> Fork {
        Fork(self.0.checked_add(1).expect("fork id overflow"))
    }
}

impl fmt::Display for Fork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u32> for Fork {
    fn from(id: u32) -> Fork {
        Fork(id)
    }
}

/// A transaction id, as written in begin, modify, commit and abort records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxId(u64);

impl TxId {
    /// The transaction with id `id`.
    #[inline]
    pub const fn new(id: u64) -> TxId {
        TxId(id)
    }

    /// The transaction's id.
    #[inline]
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u64> for TxId {
    fn from(id: u64) -> TxId {
        TxId(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_orders_and_measures_bytes() {
        let a = Lsn::new(100);
        let b = a.advance(28);
        assert!(a < b);
        assert_eq!(b.get(), 128);
        assert_eq!(b.bytes_since(a), 28);
        assert_eq!(b.to_string(), "128");
    }

    #[test]
    #[should_panic(expected = "is after")]
    fn bytes_since_refuses_a_later_lsn() {
        let _ = Lsn::new(1).bytes_since(Lsn::new(2));
    }

    #[test]
    #[should_panic(expected = "LSN overflow")]
    fn advance_refuses_to_wrap() {
        let _ = Lsn::new(u64::MAX).advance(1);
    }

    #[test]
    fn range_contains_its_start_not_its_end() {
        let range = LsnRange::new(Lsn::new(10), Lsn::new(20));
        assert!(range.contains(Lsn::new(10)));
        assert!(!range.contains(Lsn::new(20)));
        assert_eq!(range.len(), 10);
        assert_eq!(range.to_string(), "10..20");
    }

    #[test]
    fn fork_next_increments() {
        assert_eq!(Fork::new(3).next(), Fork::new(4));
    }
}
