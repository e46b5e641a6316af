//! The acknowledged commits of one log generation, kept exactly in a few bytes per thousand.
//!
//! While a mirror is away or catching up, every commit the principal acknowledges may still be
//! lost, so the checkers keep each one until both partners have hardened it. Commits are
//! acknowledged in log order, and a transaction's log size is a function of its id
//! ([`TxSizes`]), so consecutive transactions acknowledged one after the other are a run (first
//! transaction, its commit's end LSN, count) from which every commit's LSN follows: a two-minute
//! outage at 5,000 tx/s costs a few runs, not megabytes (spec/scenario.md, "Log space").

use std::collections::VecDeque;

use super::dblog::tx_log_len;
use super::rng::TxSizes;

/// Transactions `tx..tx + count`, acknowledged in order, written back to back: the first
/// commit's record ends at `first_end`, the last one's at `last_end`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Run {
    tx: u64,
    count: u64,
    first_end: u64,
    last_end: u64,
}

/// A queue of acknowledged commits (their commit records' end LSNs) in acknowledgement order.
#[derive(Clone, Debug, Default)]
pub struct AckLsns {
    runs: VecDeque<Run>,
    len: u64,
}

impl AckLsns {
    /// Commits held.
    #[cfg(test)]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Appends transaction `tx`, whose commit record ends at `lsn`.
    pub fn push_back(&mut self, tx: u64, lsn: u64, sizes: &TxSizes) {
        self.len += 1;
        if let Some(r) = self.runs.back_mut() {
            if tx == r.tx + r.count && lsn == r.last_end + tx_log_len(sizes.of(tx)) {
                r.count += 1;
                r.last_end = lsn;
                return;
            }
        }
        self.runs.push_back(Run {
            tx,
            count: 1,
            first_end: lsn,
            last_end: lsn,
        });
    }

    /// Runs held.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Removes the oldest run: (commits, first LSN, last LSN).
    pub fn pop_front_run(&mut self) -> Option<(u64, u64, u64)> {
        let r = self.runs.pop_front()?;
        self.len -= r.count;
        Some((r.count, r.first_end, r.last_end))
    }

    /// The oldest commit's LSN.
    pub fn front(&self) -> Option<u64> {
        self.runs.front().map(|r| r.first_end)
    }

    /// Removes the oldest commit and returns its LSN.
    pub fn pop_front(&mut self, sizes: &TxSizes) -> Option<u64> {
        let r = self.runs.front_mut()?;
        let lsn = r.first_end;
        self.len -= 1;
        if r.count == 1 {
            self.runs.pop_front();
        } else {
            r.tx += 1;
            r.count -= 1;
            r.first_end += tx_log_len(sizes.of(r.tx));
        }
        Some(lsn)
    }

    /// The commits' LSNs, oldest first.
    pub fn iter<'a>(&'a self, sizes: &'a TxSizes) -> impl Iterator<Item = u64> + 'a {
        self.runs.iter().flat_map(move |r| {
            let mut lsn = r.first_end;
            (r.tx..r.tx + r.count).map(move |tx| {
                if tx > r.tx {
                    lsn += tx_log_len(sizes.of(tx));
                }
                lsn
            })
        })
    }

    /// Checks the bookkeeping (a bug here would miscount lost commits).
    pub fn invariants(&self) {
        assert_eq!(
            self.len,
            self.runs.iter().map(|r| r.count).sum::<u64>(),
            "the count matches the runs"
        );
        assert!(
            self.runs
                .iter()
                .all(|r| r.count >= 1 && r.last_end >= r.first_end),
            "acknowledgement runs out of shape: {:?}",
            self.runs
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Transactions `txs` written back to back from LSN 0: (tx, commit end).
    fn commits(sizes: &TxSizes, txs: impl IntoIterator<Item = u64>) -> Vec<(u64, u64)> {
        let mut end = 0;
        txs.into_iter()
            .map(|tx| {
                end += tx_log_len(sizes.of(tx));
                (tx, end)
            })
            .collect()
    }

    #[test]
    fn keeps_every_commit_in_order_with_gaps_and_strays() {
        let sizes = TxSizes::new(3, 1024, 4096);
        let mut all = commits(&sizes, (1..=5_000).chain(5_100..=6_000));
        // Not acknowledged: a commit in flight when the principal failed.
        all.remove(2_500);
        // An acknowledgement out of pattern (another writer's LSN).
        all.push((9_000, 1));
        let mut acks = AckLsns::default();
        for &(tx, lsn) in &all {
            acks.push_back(tx, lsn, &sizes);
        }
        acks.invariants();
        assert_eq!(
            acks.runs.len(),
            4,
            "split at the gap, the hole and the stray"
        );
        let lsns: Vec<u64> = all.iter().map(|&(_, l)| l).collect();
        assert_eq!(acks.len(), lsns.len() as u64);
        assert_eq!(acks.iter(&sizes).collect::<Vec<_>>(), lsns);
        for &l in &lsns[..3_000] {
            assert_eq!(acks.front(), Some(l));
            assert_eq!(acks.pop_front(&sizes), Some(l));
        }
        acks.invariants();
        assert_eq!(acks.iter(&sizes).collect::<Vec<_>>(), lsns[3_000..]);
        assert_eq!(acks.runs(), 3);
        let (count, first, last) = acks.pop_front_run().unwrap();
        assert_eq!((count, first), (2_000 - 1, lsns[3_000]));
        assert_eq!(last, lsns[3_000 + 1_998]);
        while acks.pop_front(&sizes).is_some() {}
        assert!(acks.len() == 0 && acks.front().is_none());
    }
}
