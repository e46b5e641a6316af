//! Deterministic transaction payloads, so that log dropped from memory can be re-created.

use crate::lsn::TxId;

/// Fills modify payloads with bytes that are a pure function of (seed, transaction id): the
/// simulator can drop log it is only keeping for an absent mirror and write the very same bytes
/// again when it sends them (scenario "Log space"). A splitmix64 stream keyed by the seed and the
/// transaction: no random number generator, no clock, several GB/s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadFiller {
    seed: u64,
}

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

impl PayloadFiller {
    /// A filler for the run with seed `seed`.
    pub const fn new(seed: u64) -> PayloadFiller {
        PayloadFiller { seed }
    }

    /// Fills `payload` with transaction `tx`'s bytes. The same seed, transaction and length
    /// always give the same bytes, and a shorter payload is a prefix of a longer one.
    pub fn fill(&self, tx: TxId, payload: &mut [u8]) {
        // One well-mixed key per transaction, then a cheap, vectorisable sequence from it: the
        // bytes need to be deterministic and distinct per transaction, not random, and filling
        // tens of gigabytes per simulated hour is on the simulator's hot path.
        let key = mix(self.seed ^ mix(tx.get().wrapping_add(GOLDEN_GAMMA)));
        // Word i is v ^ (v >> 29) with v = key + (i + 1) * GAMMA: kept as a running sum (no
        // multiply per word) so the loop vectorises with plain 64-bit adds, shifts and xors.
        let word = |v: u64| (v ^ (v >> 29)).to_le_bytes();
        let mut v = key.wrapping_add(GOLDEN_GAMMA);
        let mut words = payload.chunks_exact_mut(8);
        for chunk in &mut words {
            chunk.copy_from_slice(&word(v));
            v = v.wrapping_add(GOLDEN_GAMMA);
        }
        let tail = words.into_remainder();
        let last = word(v);
        tail.copy_from_slice(&last[..tail.len()]);
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
