//! The whole log pipeline against its physical floor, on the same bytes, in the same run.
//!
//! Pipeline: the principal appends modify records (the payload copied into the block buffer),
//! seals full blocks (CRC-32), hands each block to the local harden path and to the send queue;
//! the mirror verifies it (CRC-32, framing, fork, continuity), hardens it, redo iterates its
//! records; both sides truncate, and the buffers go back to the pool.
//!
//! Floor: the same payloads copied once into a block-sized buffer, and that buffer checksummed
//! twice (the record must be written once and checksummed on each side; nothing else is
//! necessary).
//!
//! Prints `pipeline/floor ratio <size>: <ratio>` (floor time / pipeline time: 1.0 would mean the
//! pipeline costs nothing beyond the unavoidable work) and the pipeline's GB/s (10^9 bytes) of
//! payload. Those lines come from the fastest of many short rounds run alternately (see
//! `side_by_side`), which holds steady on a shared machine; criterion's own table above them
//! shows the spread, other processes included.
//!
//! `cargo bench -p mirror-log --bench pipeline`

use criterion::{black_box, Criterion, Throughput};
use mirror_log::{checksum, Fork, LogConfig, LogWriter, Lsn, MirrorLog, PayloadFiller, Record};
use mirror_log::{TxId, BLOCK_BYTES_MAX, BLOCK_HEADER_BYTES};
use std::time::{Duration, Instant};

/// Payload bytes each iteration moves, whatever the record size.
const PAYLOAD_BYTES_PER_ITERATION: usize = 1 << 20;
/// Payloads are slices of this source, at shifting offsets, so that they differ.
const SOURCE_BYTES: usize = 64 * 1024;
const RECORD_SIZES: [usize; 3] = [128, 1024, 8192];

/// The principal, the mirror, and the bytes the clients write.
struct Pipeline {
    principal: LogWriter,
    mirror: MirrorLog,
    source: Vec<u8>,
}

impl Pipeline {
    fn new(source: Vec<u8>) -> Pipeline {
        let config = LogConfig::default();
        let fork = Fork::new(1);
        Pipeline {
            principal: LogWriter::new(config, Lsn::ZERO, fork).expect("valid config"),
            mirror: MirrorLog::new(config, Lsn::ZERO, fork).expect("valid config"),
            source,
        }
    }

    /// Moves `count` records of `size` payload bytes end to end; returns what redo saw, so that
    /// nothing can be optimised away.
    fn run(&mut self, size: usize, count: usize) -> usize {
        let mut redone_bytes = 0;
        for i in 0..count {
            let offset = (i * 64) % (SOURCE_BYTES - size);
            let payload = &self.source[offset..offset + size];
            let tx = TxId::new(i as u64);
            self.principal
                .append(Record::Modify { tx, payload })
                .expect("room in the pool");
            // A block sealed because it was full is ready: ship it at once, as the log writer
            // does, so that the bytes are still in cache on the mirror side.
            if self.principal.lsn_sealed() > self.principal.lsn_sent() {
                redone_bytes += self.ship();
            }
        }
        self.principal.seal();
        redone_bytes + self.ship()
    }

    /// Flushes, sends, hardens, redoes and truncates every sealed block.
    fn ship(&mut self) -> usize {
        while let Some(block) = self.principal.next_to_flush() {
            // The simulated disk flushes at once.
            self.principal.harden_to(block.lsn_end()).expect("flushed");
        }
        while let Some(block) = self.principal.next_to_send() {
            let range = self
                .mirror
                .receive(block.into_bytes())
                .expect("intact block");
            self.mirror.harden_to(range.end).expect("received");
        }
        let redone_bytes = self.redo();
        let lsn_hardened = self.mirror.lsn_hardened();
        self.mirror.truncate_below(lsn_hardened).expect("redone");
        self.principal
            .truncate_below(lsn_hardened)
            .expect("hardened");
        redone_bytes
    }

    fn redo(&mut self) -> usize {
        let mut redone_bytes = 0;
        let mut lsn_redone = self.mirror.lsn_redone();
        for view in self.mirror.redo_iter() {
            if let Record::Modify { payload, .. } = view.record() {
                redone_bytes += payload.len();
            }
            lsn_redone = view.lsn_end();
        }
        self.mirror.redo_to(lsn_redone).expect("hardened");
        redone_bytes
    }
}

/// The floor on the same payloads: one copy into a block-sized buffer, two checksums of it.
fn floor(source: &[u8], buffer: &mut [u8], size: usize, count: usize) -> u32 {
    let capacity = BLOCK_BYTES_MAX - BLOCK_HEADER_BYTES;
    let mut filled = 0;
    let mut checksums = 0;
    for i in 0..count {
        if filled + size > capacity {
            checksums ^= checksum_twice(&buffer[..filled]);
            filled = 0;
        }
        let offset = (i * 64) % (SOURCE_BYTES - size);
        buffer[filled..filled + size].copy_from_slice(&source[offset..offset + size]);
        filled += size;
    }
    checksums ^ checksum_twice(&buffer[..filled])
}

fn checksum_twice(bytes: &[u8]) -> u32 {
    // black_box: the two passes are the principal's and the mirror's; neither may be merged.
    checksum(black_box(bytes)) ^ checksum(black_box(bytes)).rotate_left(1)
}

/// Times `iterations` runs of `routine`.
// A benchmark measures wall-clock time by nature; the clock ban (DESIGN.md rule 1) is for the
// simulated system, not for its benches.
#[allow(clippy::disallowed_methods)]
fn timed(iterations: u64, mut routine: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iterations {
        routine();
    }
    start.elapsed()
}

/// Rounds of the side-by-side comparison, and iterations per round of each side. Short rounds
/// (about a millisecond), many of them: on a shared machine most rounds are interrupted, and a
/// short round has a fair chance of running whole.
const ROUNDS: usize = 300;
const ITERATIONS_PER_ROUND: u64 = 4;

/// The pipeline and the floor timed alternately, round after round, in this process: whatever
/// else the machine does hits both alike. The fastest round of each is its time (interference
/// only ever adds time). Returns nanoseconds per iteration of (pipeline, floor).
fn side_by_side(mut pipeline: impl FnMut(), mut floor: impl FnMut()) -> (f64, f64) {
    let per_iteration = |elapsed: Duration| elapsed.as_nanos() as f64 / ITERATIONS_PER_ROUND as f64;
    let (mut pipeline_ns, mut floor_ns) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..ROUNDS {
        pipeline_ns = pipeline_ns.min(per_iteration(timed(ITERATIONS_PER_ROUND, &mut pipeline)));
        floor_ns = floor_ns.min(per_iteration(timed(ITERATIONS_PER_ROUND, &mut floor)));
    }
    (pipeline_ns, floor_ns)
}

fn bench_size(c: &mut Criterion, source: &[u8], size: usize) {
    let count = PAYLOAD_BYTES_PER_ITERATION / size;
    let mut pipeline = Pipeline::new(source.to_vec());
    assert_eq!(pipeline.run(size, count), count * size, "redo lost records");
    let mut buffer = vec![0u8; BLOCK_BYTES_MAX];

    let mut group = c.benchmark_group(format!("log/{size}B"));
    group.throughput(Throughput::Bytes((count * size) as u64));
    group.bench_function("pipeline", |b| b.iter(|| pipeline.run(size, count)));
    group.bench_function("floor", |b| {
        b.iter(|| floor(source, &mut buffer, size, count))
    });
    group.finish();

    let (pipeline_ns, floor_ns) = side_by_side(
        || {
            black_box(pipeline.run(size, count));
        },
        || {
            black_box(floor(source, &mut buffer, size, count));
        },
    );
    let bytes = (count * size) as f64;
    println!("pipeline/floor ratio {size}: {:.2}", floor_ns / pipeline_ns);
    println!(
        "pipeline {size}: {:.1} GB/s (floor {:.1} GB/s)",
        bytes / pipeline_ns,
        bytes / floor_ns
    );
}

/// The checksum alone on a largest block, the figure the checksum crate was picked on.
fn bench_checksum(c: &mut Criterion, source: &[u8]) {
    let block = &source[..BLOCK_BYTES_MAX];
    let mut group = c.benchmark_group("checksum");
    group.throughput(Throughput::Bytes(block.len() as u64));
    group.bench_function("60KiB", |b| b.iter(|| checksum(black_box(block))));
    group.finish();
}

fn main() {
    let mut source = vec![0u8; SOURCE_BYTES];
    let filler = PayloadFiller::new(1);
    for (tx, chunk) in (1..).zip(source.chunks_mut(4096)) {
        filler.fill(TxId::new(tx), chunk);
    }
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench_checksum(&mut c, &source);
    for size in RECORD_SIZES {
        bench_size(&mut c, &source, size);
    }
    c.final_summary();
}
