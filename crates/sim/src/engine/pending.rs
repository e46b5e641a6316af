//! The client transactions submitted and not yet acknowledged or failed, by transaction id.
//!
//! Ids are handed out in increasing order and most transactions finish in about that order, so
//! a deque sorted by id serves the hot path (submit at the back, finish near the front) in
//! constant time, where a map paid a tree walk per transaction: four lookups per transaction
//! at 5,000 transactions a second. A transaction that finishes out of order is found by binary
//! search and left as a hole, dropped once it reaches either end: removing it from the middle
//! moved half the deque, and a million commits waiting that failed one by one from the middle
//! (a paused principal whose disk was full, at 100,000 a second) took minutes. Memory is one
//! entry per transaction between the oldest and the newest waiting.

use std::collections::VecDeque;

/// Transactions waiting for their outcome, in id order (`None`: a hole, finished).
#[derive(Debug)]
pub struct PendingTxs<T> {
    waiting: VecDeque<(u64, Option<T>)>,
    /// How many of `waiting` are not holes.
    live: usize,
}

impl<T> Default for PendingTxs<T> {
    fn default() -> Self {
        Self {
            waiting: VecDeque::new(),
            live: 0,
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
        self.waiting.push_back((tx, Some(value)));
        self.live += 1;
    }

    /// Where `tx` is held, hole or not. The ends are tried first: a transaction is written just
    /// after it is submitted (the back) and mostly finishes in order (the front).
    fn slot(&self, tx: u64) -> Option<usize> {
        let (&(first, _), &(last, _)) = (self.waiting.front()?, self.waiting.back()?);
        if tx == first {
            Some(0)
        } else if tx == last {
            Some(self.waiting.len() - 1)
        } else {
            self.waiting.binary_search_by_key(&tx, |&(id, _)| id).ok()
        }
    }

    /// Where `tx` waits.
    fn position(&self, tx: u64) -> Option<usize> {
        self.slot(tx).filter(|&i| self.waiting[i].1.is_some())
    }

    /// Whether `tx` is waiting.
    pub fn contains(&self, tx: u64) -> bool {
        self.position(tx).is_some()
    }

    /// The waiting transaction `tx`, to update.
    pub fn get_mut(&mut self, tx: u64) -> Option<&mut T> {
        let i = self.position(tx)?;
        self.waiting
            .get_mut(i)
            .and_then(|(_, value)| value.as_mut())
    }

    /// Takes `tx` out (it was acknowledged or failed).
    pub fn remove(&mut self, tx: u64) -> Option<T> {
        let i = self.position(tx)?;
        let value = self.waiting[i].1.take();
        self.live -= 1;
        // Holes at either end go at once; one inside waits until the ends reach it.
        while self.waiting.front().is_some_and(|(_, v)| v.is_none()) {
            self.waiting.pop_front();
        }
        while self.waiting.back().is_some_and(|(_, v)| v.is_none()) {
            self.waiting.pop_back();
        }
        value
    }

    /// The waiting transactions, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> + '_ {
        self.waiting
            .iter()
            .filter_map(|(tx, value)| value.as_ref().map(|v| (*tx, v)))
    }

    /// How many transactions wait.
    pub fn len(&self) -> usize {
        self.live
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

    // A hole left in the middle goes when an end reaches it, and never counts as waiting.
    #[test]
    fn holes_go_when_the_ends_reach_them() {
        let mut p = PendingTxs::default();
        for tx in 1..=5 {
            p.insert(tx, ());
        }
        assert_eq!(p.remove(3), Some(()));
        assert_eq!(p.waiting.len(), 5, "a hole in the middle stays for now");
        assert_eq!(p.len(), 4);
        assert!(!p.contains(3) && p.get_mut(3).is_none());
        p.remove(1);
        p.remove(2);
        assert_eq!(
            p.waiting.front().map(|&(tx, _)| tx),
            Some(4),
            "the hole went with the front"
        );
        p.remove(5);
        p.remove(4);
        assert!(p.waiting.is_empty() && p.len() == 0);
        p.insert(6, ());
        assert_eq!(p.iter().map(|(tx, ())| tx).collect::<Vec<_>>(), [6]);
    }

    #[test]
    #[should_panic(expected = "submitted in id order")]
    fn an_older_id_is_refused() {
        let mut p = PendingTxs::default();
        p.insert(5, ());
        p.insert(3, ());
    }
}
