//! The client transactions submitted and not yet acknowledged or failed, by transaction id.
//!
//! Ids are handed out in increasing order and most transactions finish in about that order, so
//! a deque sorted by id serves the hot path (submit at the back, finish near the front) in
//! constant time, where a map paid a tree walk per transaction: four lookups per transaction
//! at 5,000 transactions a second. A transaction that finishes out of order is found by binary
//! search and removed from the middle. Memory is one entry per transaction waiting, as with a
//! map: there are no holes.

use std::collections::VecDeque;

/// Transactions waiting for their outcome, in id order.
#[derive(Debug)]
pub struct PendingTxs<T> {
    waiting: VecDeque<(u64, T)>,
}

impl<T> Default for PendingTxs<T> {
    fn default() -> Self {
        Self {
            waiting: VecDeque::new(),
        }
    }
}

impl<T> PendingTxs<T> {
    /// Adds transaction `tx`, which must be newer than every transaction held.
    pub fn insert(&mut self, tx: u64, value: T) {
        assert!(
            self.waiting.back().is_none_or(|&(last, _)| last < tx),
            "transactions are submitted in id order: {tx} after {:?}",
            self.waiting.back().map(|&(last, _)| last)
        );
        self.waiting.push_back((tx, value));
    }

    /// Where `tx` is held. The ends are tried first: a transaction is written just after it is
    /// submitted (the back) and mostly finishes in order (the front).
    fn position(&self, tx: u64) -> Option<usize> {
        let (&(first, _), &(last, _)) = (self.waiting.front()?, self.waiting.back()?);
        if tx == first {
            Some(0)
        } else if tx == last {
            Some(self.waiting.len() - 1)
        } else {
            self.waiting.binary_search_by_key(&tx, |&(id, _)| id).ok()
        }
    }

    /// Whether `tx` is waiting.
    pub fn contains(&self, tx: u64) -> bool {
        self.position(tx).is_some()
    }

    /// The waiting transaction `tx`, to update.
    pub fn get_mut(&mut self, tx: u64) -> Option<&mut T> {
        let i = self.position(tx)?;
        self.waiting.get_mut(i).map(|(_, value)| value)
    }

    /// Takes `tx` out (it was acknowledged or failed).
    pub fn remove(&mut self, tx: u64) -> Option<T> {
        let i = self.position(tx)?;
        self.waiting.remove(i).map(|(_, value)| value)
    }

    /// The waiting transactions, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> + '_ {
        self.waiting.iter().map(|(tx, value)| (*tx, value))
    }

    /// How many transactions wait.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finishes_in_and_out_of_order() {
        let mut p = PendingTxs::default();
        for tx in 1..=6 {
            p.insert(tx, tx * 10);
        }
        assert_eq!(p.remove(1), Some(10), "the front");
        assert_eq!(p.remove(4), Some(40), "the middle");
        assert_eq!(p.remove(4), None, "only once");
        assert!(!p.contains(1) && p.contains(2) && p.contains(6));
        *p.get_mut(5).expect("waiting") += 1;
        assert_eq!(p.get_mut(7), None);
        p.insert(9, 90); // ids may skip: transactions that never waited
        let left: Vec<_> = p.iter().map(|(tx, v)| (tx, *v)).collect();
        assert_eq!(left, [(2, 20), (3, 30), (5, 51), (6, 60), (9, 90)]);
        assert_eq!(p.len(), 5);
    }

    #[test]
    #[should_panic(expected = "submitted in id order")]
    fn an_older_id_is_refused() {
        let mut p = PendingTxs::default();
        p.insert(5, ());
        p.insert(3, ());
    }
}
