//! The deterministic discrete-event engine (issue 5): one event queue keyed by (time, sequence
//! number), named random streams from one seed, the network, the disks, the instances driven by
//! the protocol core and the log engine, the operator's steps, the workload, the faults, the
//! history with its checkers, and the report.

pub(crate) mod acks;
pub(crate) mod dblog;
pub(crate) mod faults;
pub(crate) mod history;
pub(crate) mod net;
pub(crate) mod pending;
pub mod queue;
pub mod record;
pub(crate) mod retransmit;
pub(crate) mod rng;
pub mod run;
pub(crate) mod steps;
pub mod trace;
pub(crate) mod world;

pub use record::Recorder;
pub use run::{run, RunResult};

use mirror_protocol::{Nanos, SECOND};

/// How long `amount` (bytes, bits) takes at `per_second` of it, in ns: computed wide, so
/// that a 20 GiB backup is not cut short by an overflow (bytes x 10^9 passes 2^64 above
/// 17.2 GiB), and saturating only past what a u64 of ns holds.
pub(crate) fn duration_of(amount: u64, per_second: u64) -> Nanos {
    let ns = u128::from(amount) * u128::from(SECOND) / u128::from(per_second.max(1));
    Nanos::try_from(ns).unwrap_or(Nanos::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference section 7: a backup takes its size divided by the disk throughput. The default
    // 20 GiB at 500 MiB/s is 40.96 s; the product overflowed and gave 35.18 s.
    #[test]
    fn durations_do_not_overflow_for_large_sizes() {
        assert_eq!(duration_of(20 << 30, 500 << 20), 40_960_000_000);
        assert_eq!(duration_of(1 << 40, 1 << 30), 1024 * SECOND);
        assert_eq!(duration_of(u64::MAX, 1), Nanos::MAX);
        assert_eq!(duration_of(1, 0), SECOND);
    }
}
