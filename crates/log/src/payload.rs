//! Deterministic transaction payloads, so that log dropped from memory can be re-created.

use std::sync::Arc;

use crate::block::MODIFY_PAYLOAD_BYTES_MAX;
use crate::lsn::TxId;

/// How many places a transaction's payload can start at in the pool (8 bytes apart).
const POOL_STARTS: usize = 4096;

/// Makes modify payloads that are a pure function of (seed, transaction id): the simulator can
/// drop log it is only keeping for an absent mirror and write the very same bytes again when it
/// sends them (scenario "Log space").
///
/// A transaction's payload is a stretch of a pool of splitmix64 words generated once from the
/// seed, starting at one of 4,096 places chosen by a hash of the seed and the transaction: no
/// random number generator and no clock, and a payload goes into the log as one copy from a
/// pool small enough to stay in cache. Filling tens of gigabytes per simulated hour is on the
/// simulator's hot path; generating every byte (and zeroing the buffer first) took twice as long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadFiller {
    seed: u64,
    pool: Arc<[u8]>,
}

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

impl PayloadFiller {
    /// A filler for the run with seed `seed` (generates its 62 KiB pool).
    pub fn new(seed: u64) -> PayloadFiller {
        let len = POOL_STARTS * 8 + MODIFY_PAYLOAD_BYTES_MAX;
        let mut pool = Vec::with_capacity(len.next_multiple_of(8));
        let mut v = mix(seed ^ GOLDEN_GAMMA);
        while pool.len() < len {
            v = v.wrapping_add(GOLDEN_GAMMA);
            pool.extend_from_slice(&mix(v).to_le_bytes());
        }
        pool.truncate(len);
        PayloadFiller {
            seed,
            pool: pool.into(),
        }
    }

    /// Transaction `tx`'s first `len` bytes of payload. The same seed, transaction and length
    /// always give the same bytes, and a shorter payload is a prefix of a longer one. Panics
    /// past [`MODIFY_PAYLOAD_BYTES_MAX`], which no modify record can carry.
    pub fn payload(&self, tx: TxId, len: usize) -> &[u8] {
        assert!(
            len <= MODIFY_PAYLOAD_BYTES_MAX,
            "a modify payload of {len} bytes is longer than any record"
        );
        let key = mix(self.seed ^ mix(tx.get().wrapping_add(GOLDEN_GAMMA)));
        let start = (key % POOL_STARTS as u64) as usize * 8;
        &self.pool[start..start + len]
    }

    /// Fills `payload` with transaction `tx`'s bytes ([`payload`](Self::payload) of its
    /// length), for a buffer that is already there.
    pub fn fill(&self, tx: TxId, payload: &mut [u8]) {
        payload.copy_from_slice(self.payload(tx, payload.len()));
    }
}

/// The splitmix64 finaliser: a bijection on u64 that spreads every input bit over the output.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(seed: u64, tx: u64, len: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; len];
        PayloadFiller::new(seed).fill(TxId::new(tx), &mut bytes);
        bytes
    }

    #[test]
    fn same_key_same_bytes() {
        assert_eq!(payload(7, 42, 1000), payload(7, 42, 1000));
    }

    #[test]
    fn another_transaction_or_seed_gives_other_bytes() {
        let base = payload(7, 42, 64);
        assert_ne!(base, payload(7, 43, 64));
        assert_ne!(base, payload(8, 42, 64));
    }

    #[test]
    fn transactions_start_at_spread_places() {
        let filler = PayloadFiller::new(5);
        let distinct: std::collections::BTreeSet<&[u8]> = (0..1000)
            .map(|tx| filler.payload(TxId::new(tx), 64))
            .collect();
        assert!(distinct.len() > 850, "{} distinct of 1000", distinct.len());
    }

    #[test]
    fn the_longest_payload_fits_wherever_it_starts() {
        let filler = PayloadFiller::new(9);
        for tx in 0..2000 {
            let bytes = filler.payload(TxId::new(tx), MODIFY_PAYLOAD_BYTES_MAX);
            assert_eq!(bytes.len(), MODIFY_PAYLOAD_BYTES_MAX);
        }
    }

    #[test]
    #[should_panic(expected = "longer than any record")]
    fn a_payload_longer_than_a_record_is_refused() {
        PayloadFiller::new(9).payload(TxId::new(1), MODIFY_PAYLOAD_BYTES_MAX + 1);
    }

    #[test]
    fn shorter_is_a_prefix_of_longer() {
        let long = payload(1, 2, 100);
        for len in [0, 1, 7, 8, 9, 63, 64, 99] {
            assert_eq!(payload(1, 2, len), long[..len], "len {len}");
        }
    }

    #[test]
    fn bytes_are_not_trivially_constant() {
        let bytes = payload(0, 0, 4096);
        let mut seen = [false; 256];
        for byte in bytes {
            seen[byte as usize] = true;
        }
        assert!(
            seen.iter().filter(|&&s| s).count() > 200,
            "poorly spread bytes"
        );
    }
}
