//! The event queue: one queue ordered by (simulated time, sequence number), so that two events
//! at the same nanosecond run in the order they were scheduled, on every machine.
//!
//! Events that are scheduled in time order (a link's departures: its FIFO hands them out in the
//! order they will leave) can take a side lane, a plain FIFO, instead of the heap. The order
//! they run in is the same (the lane's front and the heap's top are compared by time and
//! sequence number); only the heap's sift work is saved.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use mirror_protocol::Nanos;

struct Scheduled<E> {
    at: Nanos,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Scheduled<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<E> Eq for Scheduled<E> {}
impl<E> PartialOrd for Scheduled<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Scheduled<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest first.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl<E> Scheduled<E> {
    fn key(&self) -> (Nanos, u64) {
        (self.at, self.seq)
    }
}

/// A deterministic priority queue of events.
pub struct EventQueue<E> {
    heap: BinaryHeap<Scheduled<E>>,
    /// Events pushed with [`EventQueue::push_in_order`], oldest first: their keys never
    /// decrease from front to back.
    lane: VecDeque<Scheduled<E>>,
    seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            lane: VecDeque::new(),
            seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    /// Schedules `event` at `at`.
    pub fn push(&mut self, at: Nanos, event: E) {
        self.seq += 1;
        self.heap.push(Scheduled {
            at,
            seq: self.seq,
            event,
        });
    }

    /// Schedules `event` at `at`, where the caller expects `at` to be no earlier than the last
    /// event it pushed this way (a FIFO's departures): it goes to the side lane, without heap
    /// work. An earlier `at` is still correct: it goes to the heap.
    pub fn push_in_order(&mut self, at: Nanos, event: E) {
        self.seq += 1;
        let scheduled = Scheduled {
            at,
            seq: self.seq,
            event,
        };
        if self.lane.back().is_none_or(|last| last.at <= at) {
            self.lane.push_back(scheduled);
        } else {
            self.heap.push(scheduled);
        }
    }

    /// Whether the lane's front runs before the heap's top.
    fn lane_first(&self) -> bool {
        match (self.lane.front(), self.heap.peek()) {
            (Some(l), Some(h)) => l.key() < h.key(),
            (Some(_), None) => true,
            _ => false,
        }
    }

    /// The earliest event, if any.
    pub fn pop(&mut self) -> Option<(Nanos, E)> {
        let next = if self.lane_first() {
            self.lane.pop_front()
        } else {
            self.heap.pop()
        };
        next.map(|s| (s.at, s.event))
    }

    /// Takes out every event `pick` chooses, earliest first (by time, then by scheduling
    /// order). The others keep their places. Linear in the queue's length: meant for rare
    /// moments such as a fault, never for every event.
    pub fn extract(&mut self, mut pick: impl FnMut(&E) -> bool) -> Vec<(Nanos, E)> {
        let mut taken = Vec::new();
        let mut kept = Vec::with_capacity(self.heap.len());
        for scheduled in std::mem::take(&mut self.heap).into_vec() {
            if pick(&scheduled.event) {
                taken.push(scheduled);
            } else {
                kept.push(scheduled);
            }
        }
        // The order events run in depends only on their (time, sequence) keys, which are
        // unique, so rebuilding the heap changes nothing but its layout.
        self.heap = BinaryHeap::from(kept);
        for scheduled in std::mem::take(&mut self.lane) {
            if pick(&scheduled.event) {
                taken.push(scheduled);
            } else {
                self.lane.push_back(scheduled);
            }
        }
        taken.sort_by_key(Scheduled::key);
        taken.into_iter().map(|s| (s.at, s.event)).collect()
    }

    /// When the earliest event is due.
    pub fn peek_time(&self) -> Option<Nanos> {
        if self.lane_first() {
            self.lane.front().map(|s| s.at)
        } else {
            self.heap.peek().map(|s| s.at)
        }
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len() + self.lane.len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty() && self.lane.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_time_then_insertion() {
        let mut q = EventQueue::default();
        q.push(5, "c");
        q.push(1, "a");
        q.push(5, "d");
        q.push(1, "b");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, ["a", "b", "c", "d"]);
    }

    /// The lane changes no order: events pushed in order, out of order and on the heap come out
    /// by (time, sequence number), exactly as with the heap alone.
    #[test]
    fn the_lane_keeps_the_order_of_the_heap() {
        let mut q = EventQueue::default();
        let mut heap_only = EventQueue::default();
        let pushes = [
            (10, true),
            (5, false),
            (10, false),
            (12, true),
            (11, true), // earlier than the lane's back: goes to the heap
            (12, false),
            (12, true),
            (3, false),
            (20, true),
        ];
        for (i, &(at, in_order)) in pushes.iter().enumerate() {
            if in_order {
                q.push_in_order(at, i);
            } else {
                q.push(at, i);
            }
            heap_only.push(at, i);
        }
        assert_eq!(q.len(), pushes.len());
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        let expected: Vec<_> = std::iter::from_fn(|| heap_only.pop()).collect();
        assert_eq!(order, expected);
        assert_eq!(
            order.iter().map(|&(_, i)| i).collect::<Vec<_>>(),
            [7, 1, 0, 2, 4, 3, 5, 6, 8]
        );
        assert!(q.is_empty());
    }

    /// Extracting takes the chosen events out in the order they would have run, from the heap
    /// and the lane alike, and leaves the others in theirs.
    #[test]
    fn extract_takes_the_chosen_events_in_order_and_keeps_the_rest() {
        let mut q = EventQueue::default();
        q.push(7, 70);
        q.push_in_order(2, 21);
        q.push(2, 20);
        q.push_in_order(9, 91);
        q.push(1, 11);
        q.push_in_order(9, 90);
        q.push(5, 51);
        let taken = q.extract(|e| e % 2 == 1);
        assert_eq!(taken, [(1, 11), (2, 21), (5, 51), (9, 91)]);
        assert_eq!(q.len(), 3);
        let rest: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(rest, [(2, 20), (7, 70), (9, 90)]);
        assert!(q.extract(|_| true).is_empty());
    }
}
