//! One seed, split into named streams (DESIGN.md rule 2): each subsystem draws from its own
//! ChaCha8 stream, so adding a fault does not shift the workload's draws.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use mirror_protocol::Nanos;

/// A named random stream derived from the run's seed.
#[derive(Clone, Debug)]
pub struct Stream(ChaCha8Rng);

/// FNV-1a: a stable number for a stream name (never the std hasher, whose seed varies).
fn stream_id(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Stream {
    /// The stream `name` of run `seed`.
    pub fn new(seed: u64, name: &str) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream_id(name));
        Self(rng)
    }

    /// A uniform draw in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0.random::<f64>()
    }

    /// An exponential draw with this mean, in nanoseconds (0 when the mean is 0).
    pub fn exponential(&mut self, mean: Nanos) -> Nanos {
        if mean == 0 {
            return 0;
        }
        let u = self.unit();
        // -ln(1-u) is finite for u in [0, 1); cap the tail at 50 means so one draw cannot stall
        // a run.
        let x = -(1.0 - u).ln() * mean as f64;
        x.min(mean as f64 * 50.0) as Nanos
    }

    /// Whether an event of probability `p` happens.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }
}

/// The log each transaction writes, a pure function of (seed, transaction): uniform in the
/// workload's `log_bytes` range. Being a function rather than a draw, the transaction index can
/// keep runs of consecutive transactions instead of one entry per transaction, so its memory does
/// not grow with the log a mirror has not received yet (spec/scenario.md, "Log space").
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TxSizes {
    key: u64,
    least: u32,
    span: u64,
}

impl Default for TxSizes {
    /// One byte per transaction (a run without a workload).
    fn default() -> Self {
        Self::new(0, 1, 1)
    }
}

impl TxSizes {
    /// Sizes uniform in `least..=most` bytes (clamped to `u32`) for run `seed`.
    pub fn new(seed: u64, least: u64, most: u64) -> Self {
        let least = u32::try_from(least).unwrap_or(u32::MAX);
        let most = u32::try_from(most).unwrap_or(u32::MAX).max(least);
        Self {
            key: mix(seed ^ stream_id("tx-size")),
            least,
            span: u64::from(most - least) + 1,
        }
    }

    /// The log transaction `tx` generates, records included (spec/scenario.md: `log_bytes`,
    /// "log generated per transaction").
    pub fn log_len_of(&self, tx: u64) -> u32 {
        let h = mix(self.key ^ mix(tx));
        // Multiply-shift maps the hash onto the span without a division.
        let offset = (u128::from(h) * u128::from(self.span)) >> 64;
        self.least + u32::try_from(offset).expect("offset < span <= 2^32")
    }

    /// The payload bytes transaction `tx` writes: what its log leaves once its begin, modify
    /// and commit records are counted (see [`super::dblog::payload_within`]).
    pub fn of(&self, tx: u64) -> u32 {
        super::dblog::payload_within(self.log_len_of(tx))
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

    #[test]
    fn streams_are_independent_and_repeatable() {
        let mut a = Stream::new(7, "workload");
        let mut b = Stream::new(7, "workload");
        let mut c = Stream::new(7, "network");
        let xs: Vec<f64> = (0..8).map(|_| a.unit()).collect();
        let ys: Vec<f64> = (0..8).map(|_| b.unit()).collect();
        let zs: Vec<f64> = (0..8).map(|_| c.unit()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn transaction_sizes_are_repeatable_and_cover_the_range() {
        let sizes = TxSizes::new(9, 1024, 4096);
        assert_eq!(sizes.of(17), TxSizes::new(9, 1024, 4096).of(17));
        let all: Vec<u32> = (0..20_000).map(|tx| sizes.log_len_of(tx)).collect();
        assert!(all.iter().all(|s| (1024..=4096).contains(s)));
        let mean = all.iter().map(|&s| u64::from(s)).sum::<u64>() / all.len() as u64;
        assert!((2500..2620).contains(&mean), "mean {mean}");
        assert!(
            all.contains(&1024) && all.contains(&4096),
            "both ends reachable"
        );
        assert_ne!(all[..64], TxSizes::new(10, 1024, 4096).of_many(64)[..]);
        assert_eq!(TxSizes::new(1, 5, 5).log_len_of(3), 5);
    }

    impl TxSizes {
        fn of_many(&self, n: u64) -> Vec<u32> {
            (0..n).map(|tx| self.log_len_of(tx)).collect()
        }
    }

    #[test]
    fn exponential_has_roughly_its_mean() {
        let mut s = Stream::new(1, "disk");
        let n = 20_000;
        let total: u64 = (0..n).map(|_| s.exponential(1_000)).sum();
        let mean = total / n;
        assert!((900..1100).contains(&mean), "mean {mean}");
    }
}
