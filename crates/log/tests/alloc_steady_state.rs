//! The steady state of the log pipeline allocates nothing per record.
//!
//! A counting global allocator: it must be in its own test binary, since a `#[global_allocator]`
//! is per binary. Only allocations on the thread that armed the counter are counted, so tests
//! running in parallel do not disturb each other.

// `GlobalAlloc` is an unsafe trait: implementing it (to count, then forward to the system
// allocator) is the only unsafe code in the crate, and it lives in this test binary alone.
#![allow(unsafe_code)]

use mirror_log::{Fork, LogConfig, LogWriter, Lsn, MirrorLog, PayloadFiller, Record, TxId};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

struct CountingAllocator;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: the allocator also runs while thread-locals are being torn down.
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            ALLOCATIONS.with(|count| count.set(count.get() + 1));
        }
    });
}

// SAFETY: every call forwards to the system allocator with the caller's arguments unchanged;
// counting touches only a thread-local counter and never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Allocations made on this thread while `work` runs.
fn allocations_during(work: impl FnOnce()) -> u64 {
    ALLOCATIONS.with(|count| count.set(0));
    ARMED.with(|armed| armed.set(true));
    work();
    ARMED.with(|armed| armed.set(false));
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn the_counter_sees_an_allocation() {
    let counted = allocations_during(|| {
        black_box(vec![0u8; 100]);
    });
    assert_eq!(counted, 1);
}

/// A principal and a mirror moving transactions end to end: group commit every few
/// transactions, flush, send, verify, harden, redo, truncate.
struct Pipeline {
    principal: LogWriter,
    mirror: MirrorLog,
    filler: PayloadFiller,
    tx: u64,
    redone_bytes: usize,
}

impl Pipeline {
    fn new() -> Pipeline {
        let config = LogConfig::default();
        Pipeline {
            principal: LogWriter::new(config, Lsn::ZERO, Fork::new(1)).unwrap(),
            mirror: MirrorLog::new(config, Lsn::ZERO, Fork::new(1)).unwrap(),
            filler: PayloadFiller::new(3),
            tx: 0,
            redone_bytes: 0,
        }
    }

    fn transactions(&mut self, count: u64) {
        for _ in 0..count {
            self.transaction();
            if self.tx.is_multiple_of(4) {
                self.principal.seal();
                self.ship();
            }
        }
    }

    fn transaction(&mut self) {
        self.tx += 1;
        let tx = TxId::new(self.tx);
        let len = 64 + (self.tx as usize * 131) % 4000;
        let filler = &self.filler;
        self.principal.append(Record::Begin { tx }).unwrap();
        self.principal
            .append_modify_with(tx, len, |payload| filler.fill(tx, payload))
            .unwrap();
        self.principal.append(Record::Commit { tx }).unwrap();
    }

    fn ship(&mut self) {
        while let Some(block) = self.principal.next_to_flush() {
            self.principal.harden_to(block.lsn_end()).unwrap();
        }
        while let Some(block) = self.principal.next_to_send() {
            let range = self.mirror.receive(block.into_bytes()).unwrap();
            self.mirror.harden_to(range.end).unwrap();
        }
        let mut lsn_redone = self.mirror.lsn_redone();
        for view in self.mirror.redo_iter() {
            if let Record::Modify { payload, .. } = view.record() {
                self.redone_bytes += payload.len();
            }
            lsn_redone = view.lsn_end();
        }
        self.mirror.redo_to(lsn_redone).unwrap();
        self.mirror.truncate_below(lsn_redone).unwrap();
        self.principal.truncate_below(lsn_redone).unwrap();
    }
}

#[test]
fn the_steady_state_allocates_nothing_per_record() {
    let mut pipeline = Pipeline::new();
    // Warm-up: the pool allocates its chunks, the queues reach their working capacity.
    let warm_up = allocations_during(|| pipeline.transactions(2_000));
    assert!(
        warm_up > 0,
        "the warm-up allocates the pool (and the counter works)"
    );
    let redone_before = pipeline.redone_bytes;
    let steady = allocations_during(|| pipeline.transactions(20_000));
    assert_eq!(steady, 0, "allocations in 60,000 records of steady state");
    assert!(
        pipeline.redone_bytes > redone_before + 20_000 * 64,
        "the records went through"
    );
    pipeline.principal.invariants();
    pipeline.mirror.invariants();
}
