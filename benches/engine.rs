//! `cargo bench --bench engine`: the simulator's speed against its own floor, in the same run.
//!
//! - `bare_queue`: a bare event-queue loop (push and pop of small events in time order), the
//!   least any discrete-event simulator pays per event;
//! - `scenario`: `sims/bench/ten-seconds-5k.toml` (5,000 tx/s, FULL with a witness) through the
//!   whole engine: protocol, log bytes, network, disks, checkers.
//!
//! It prints events per second of each and their ratio (`engine/bare ratio`).

#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use mirror_sim::engine::queue::EventQueue;

const BARE_EVENTS: u64 = 1_000_000;

/// Pushes and pops events the way a simulation does: each popped event schedules the next.
fn bare_queue_loop() -> u64 {
    let mut queue = EventQueue::default();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..64u64 {
        queue.push(i, i);
    }
    let mut handled = 0;
    while let Some((at, ev)) = queue.pop() {
        handled += 1;
        if handled >= BARE_EVENTS {
            break;
        }
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        queue.push(at + 1 + (state % 1000), ev ^ state);
    }
    black_box(handled)
}

fn scenario() -> mirror_sim::scenario::Scenario {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("sims/bench/ten-seconds-5k.toml");
    mirror_sim::scenario::load(&file).expect("the bench scenario loads")
}

fn run_scenario(scenario: &mirror_sim::scenario::Scenario) -> u64 {
    let options = mirror_sim::RunOptions {
        seed: scenario.seed,
        ..Default::default()
    };
    mirror_sim::run_scenario(scenario, &options).report.events
}

#[allow(clippy::disallowed_methods)] // the bench measures wall time, outside the simulator
fn events_per_second(f: impl Fn() -> u64, rounds: u32) -> f64 {
    let mut best = f64::MAX;
    let mut events = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        events = f();
        best = best.min(start.elapsed().as_secs_f64());
    }
    events as f64 / best
}

fn bench(c: &mut Criterion) {
    let scenario = scenario();
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.bench_function("bare_queue", |b| b.iter(bare_queue_loop));
    group.bench_function("scenario_10s_5k", |b| b.iter(|| run_scenario(&scenario)));
    group.finish();
    let bare = events_per_second(bare_queue_loop, 5);
    let engine = events_per_second(|| run_scenario(&scenario), 3);
    println!("bare event-queue loop: {:.1} M events/s", bare / 1e6);
    println!(
        "engine (10 s at 5,000 tx/s): {:.2} M events/s",
        engine / 1e6
    );
    println!("engine/bare ratio: {:.3}", engine / bare);
}

criterion_group!(benches, bench);
criterion_main!(benches);
