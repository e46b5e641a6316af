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

    /// A uniform integer in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        if lo >= hi {
            lo
        } else {
            self.0.random_range(lo..=hi)
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_and_repeatable() {
        let mut a = Stream::new(7, "workload");
        let mut b = Stream::new(7, "workload");
        let mut c = Stream::new(7, "network");
        let xs: Vec<u64> = (0..8).map(|_| a.between(0, 1 << 40)).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.between(0, 1 << 40)).collect();
        let zs: Vec<u64> = (0..8).map(|_| c.between(0, 1 << 40)).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
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
