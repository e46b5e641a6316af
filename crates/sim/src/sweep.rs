//! Many seeds of one scenario (`sim sweep`, spec/cli.md), and the swarm variations of a scenario
//! that `--swarm` runs: each seed also decides which kinds of fault happen, when, and how fast
//! the network and the disks are.
//!
//! A sweep's memory does not grow with the number of seeds: each run is summed up into figures
//! and, when it fails, into a [`SeedOutcome`]; at most [`FAILURES_LISTED_MAX`] of those are kept
//! (the lowest seeds), the rest only counted. Runs are spread over threads, but the summary is
//! the same whatever the number of threads and whatever order the runs finish in.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::engine::rng::Stream;
use crate::report::{FailoverKind, Report};
use crate::scenario::{
    Expectations, Fault, FaultKind, HealScope, InstanceId, LinkParameters, Scenario,
};
use crate::{run_scenario, RunOptions};

/// The most runs a sweep makes at a time (`--jobs` above it is refused by the command line).
pub const JOBS_MAX: usize = 1_024;

/// How many failing seeds a sweep keeps with their details (the lowest ones); the others are
/// counted only.
pub const FAILURES_LISTED_MAX: usize = 1_000;

/// The seeds a sweep runs: `first..=last`, or this shard's share of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seeds {
    /// The first seed of the range.
    pub first: u64,
    /// The last seed of the range (included).
    pub last: u64,
    /// `--shard I/N`: this machine takes the seeds `first + (I - 1) + k * N`. `(1, 1)`: all.
    pub shard: (u64, u64),
}

impl Seeds {
    /// Every seed of `first..=last`.
    pub fn range(first: u64, last: u64) -> Seeds {
        Seeds {
            first,
            last,
            shard: (1, 1),
        }
    }

    /// How many seeds this shard runs (0 when the shard starts past the range).
    pub fn count(&self) -> u64 {
        let (index, count) = self.shard;
        debug_assert!(
            index >= 1 && index <= count,
            "a shard is I/N with 1 <= I <= N"
        );
        let span = u128::from(self.last) - u128::from(self.first) + 1;
        let offset = u128::from(index - 1);
        if offset >= span {
            return 0;
        }
        // At most 2^64 seeds in a range; this shard's share of them fits in a u64 unless the
        // whole range of seeds is asked for in one shard, which no machine would live to run.
        u64::try_from((span - offset - 1) / u128::from(count) + 1).unwrap_or(u64::MAX)
    }

    /// The `k`-th seed of this shard (`k < count()`).
    pub fn nth(&self, k: u64) -> u64 {
        let (index, count) = self.shard;
        self.first + (index - 1) + k * count
    }
}

/// How to run a sweep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepOptions {
    /// `--swarm`: vary the faults and timings from each seed ([`swarm`]); such runs are judged
    /// by the invariants alone.
    pub swarm: bool,
    /// Runs at a time (at least 1).
    pub jobs: usize,
    /// `--mutant NAME`: a deliberate protocol bug (builds with the `mutants` feature).
    pub mutant: Option<mirror_protocol::Mutant>,
}

/// A check a run failed: an invariant, an expectation, or a step that failed unexpectedly.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct FailedCheck {
    /// The invariant's name, or the expectation's key (`principal`, `step_errors`, ...).
    pub name: String,
    /// What broke it: the invariant's detail, or "wanted X, got Y".
    pub detail: String,
}

/// The checks `report` failed, invariants first. With `invariants_only` (swarm runs), the
/// expectations are not judged: they were written for the scenario as it is, not for its
/// variations.
pub fn failed_checks(report: &Report, invariants_only: bool) -> Vec<FailedCheck> {
    let mut failed: Vec<FailedCheck> = report
        .invariants
        .iter()
        .filter(|check| !check.held)
        .map(|check| FailedCheck {
            name: check.name.clone(),
            detail: check.detail.clone().unwrap_or_else(|| "broken".to_string()),
        })
        .collect();
    if !invariants_only {
        failed.extend(
            report
                .expectations
                .iter()
                .filter(|check| !check.held)
                .map(|check| FailedCheck {
                    name: check.name.clone(),
                    detail: format!("wanted {}, got {}", check.expected, check.actual),
                }),
        );
    }
    failed
}

/// One seed's run, as a sweep keeps it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// What it failed (empty: it passed).
    pub failed: Vec<FailedCheck>,
    /// Acknowledged commits missing from the last principal's database.
    pub lost_acknowledged: u64,
    /// Failovers: automatic, manual, forced.
    pub failovers: [u64; 3],
    /// Whether forced service left two instances serving at once.
    pub split_brain: bool,
    /// The run's p99 commit latency, in µs (0 without commits).
    pub commit_latency_p99_us: u64,
}

impl SeedOutcome {
    fn of(seed: u64, report: &Report, invariants_only: bool) -> SeedOutcome {
        let mut failovers = [0; 3];
        for failover in &report.failovers {
            let slot = match failover.kind {
                FailoverKind::Automatic => 0,
                FailoverKind::Manual => 1,
                FailoverKind::Forced => 2,
            };
            failovers[slot] += 1;
        }
        SeedOutcome {
            seed,
            failed: failed_checks(report, invariants_only),
            lost_acknowledged: report.transactions.lost_acknowledged,
            failovers,
            split_brain: !report.split_brain.is_empty(),
            commit_latency_p99_us: report.commit_latency_us.p99,
        }
    }

    /// Whether the run passed.
    pub fn passed(&self) -> bool {
        self.failed.is_empty()
    }
}

/// What a sweep found: counts and extremes over every seed, and the failing seeds.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct SweepSummary {
    /// Seeds run.
    pub runs: u64,
    /// Seeds that passed.
    pub passed: u64,
    /// Seeds that failed.
    pub failed: u64,
    /// How many times each check failed, by name.
    pub failed_by_check: BTreeMap<String, u64>,
    /// The failing seeds, lowest first, at most [`FAILURES_LISTED_MAX`] of them.
    pub failures: Vec<SeedOutcome>,
    /// Seeds that lost acknowledged commits.
    pub seeds_losing_acknowledged: u64,
    /// The seed that lost the most acknowledged commits, and how many (lowest seed on a tie).
    pub most_lost_acknowledged: Option<(u64, u64)>,
    /// Failovers over every seed: automatic, manual, forced.
    pub failovers: [u64; 3],
    /// Seeds with a split brain.
    pub seeds_with_split_brain: u64,
    /// The seed with the highest p99 commit latency, and that p99 in µs (lowest seed on a tie).
    pub worst_commit_latency_p99_us: Option<(u64, u64)>,
}

impl SweepSummary {
    fn add(&mut self, outcome: SeedOutcome) {
        self.runs += 1;
        for (total, count) in self.failovers.iter_mut().zip(outcome.failovers) {
            *total += count;
        }
        if outcome.split_brain {
            self.seeds_with_split_brain += 1;
        }
        if outcome.lost_acknowledged > 0 {
            self.seeds_losing_acknowledged += 1;
            self.most_lost_acknowledged = worse(
                self.most_lost_acknowledged,
                (outcome.seed, outcome.lost_acknowledged),
            );
        }
        if outcome.commit_latency_p99_us > 0 {
            self.worst_commit_latency_p99_us = worse(
                self.worst_commit_latency_p99_us,
                (outcome.seed, outcome.commit_latency_p99_us),
            );
        }
        if outcome.passed() {
            self.passed += 1;
            return;
        }
        self.failed += 1;
        let names: BTreeSet<&str> = outcome.failed.iter().map(|c| c.name.as_str()).collect();
        for name in names {
            *self.failed_by_check.entry(name.to_string()).or_default() += 1;
        }
        // Keep the lowest seeds: the list is the same whichever runs finish first.
        let position = self
            .failures
            .partition_point(|kept| kept.seed < outcome.seed);
        if position < FAILURES_LISTED_MAX {
            self.failures.insert(position, outcome);
            self.failures.truncate(FAILURES_LISTED_MAX);
        }
    }
}

/// The larger figure of two (seed, figure) pairs; the lower seed on a tie, so that the result
/// does not depend on the order runs finish in.
fn worse(kept: Option<(u64, u64)>, new: (u64, u64)) -> Option<(u64, u64)> {
    match kept {
        Some(old) if (old.1, std::cmp::Reverse(old.0)) >= (new.1, std::cmp::Reverse(new.0)) => {
            Some(old)
        }
        _ => Some(new),
    }
}

/// Runs `scenario` for every seed of `seeds`, `options.jobs` at a time, calling `progress`
/// after each run (from the thread that ran it).
pub fn sweep(
    scenario: &Scenario,
    seeds: Seeds,
    options: &SweepOptions,
    progress: &(dyn Fn(&SeedOutcome) + Sync),
) -> SweepSummary {
    let total = seeds.count();
    let next = AtomicU64::new(0);
    let summary = Mutex::new(SweepSummary::default());
    let work = || loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        if k >= total {
            return;
        }
        let outcome = run_seed(scenario, seeds.nth(k), options);
        progress(&outcome);
        // A poisoned lock means another run panicked, which is a bug that the scope re-raises
        // when it joins: carry on with the summary as it is.
        let mut summary = summary.lock().unwrap_or_else(|poison| poison.into_inner());
        summary.add(outcome);
    };
    let jobs = options
        .jobs
        .clamp(1, JOBS_MAX)
        .min(usize::try_from(total).unwrap_or(usize::MAX));
    std::thread::scope(|scope| {
        // This thread is one of the jobs; a thread the system refuses is one job fewer.
        for _ in 1..jobs {
            let spawned = std::thread::Builder::new().spawn_scoped(scope, work);
            if spawned.is_err() {
                break;
            }
        }
        work();
    });
    summary
        .into_inner()
        .unwrap_or_else(|poison| poison.into_inner())
}

/// Runs one seed: of the scenario, or of its swarm variation for that seed.
pub fn run_seed(scenario: &Scenario, seed: u64, options: &SweepOptions) -> SeedOutcome {
    let run_options = RunOptions {
        seed,
        mutant: options.mutant,
        ..RunOptions::default()
    };
    let report = if options.swarm {
        run_scenario(&swarm(scenario, seed), &run_options).report
    } else {
        run_scenario(scenario, &run_options).report
    };
    SeedOutcome::of(seed, &report, options.swarm)
}

/// The chance that a swarm run leaves out every fault of one kind.
const SWARM_KIND_LEFT_OUT: f64 = 0.25;

/// The swarm variation of `scenario` for `seed` (swarm testing: each run leaves out some
/// features, so that what one fault would mask, another run shows):
/// - each kind of fault the scenario has is left out with probability 1/4;
/// - the faults move: each fault's time is scaled by a factor in [0.5, 1.5), and the faults keep
///   the order they had (a restart stays after its crash, a heal after its partition);
/// - on half of the runs, one or two fault episodes are added: a crash, a
///   power loss, a pause, a partition (both ways or one), packet loss or a slow disk, at a
///   random moment, on a random instance or link, ended (restart, resume, heal) some seconds
///   later unless the run ends first;
/// - the network's one-way latencies and the disks' flush latencies are scaled by a factor in
///   [0.5, 2); a jitter of 0 becomes a quarter of the latency on half of the runs;
/// - the expectations are dropped: they were written for the scenario as it is. Swarm runs are
///   judged by the invariants.
///
/// The seed, the steps, the workload and the duration are kept. The same scenario and seed give
/// the same variation.
pub fn swarm(scenario: &Scenario, seed: u64) -> Scenario {
    let mut rng = Stream::new(seed, "swarm");
    let mut varied = scenario.clone();
    let kinds: BTreeSet<&str> = scenario.faults.iter().map(|f| f.kind.name()).collect();
    let left_out: BTreeSet<&str> = kinds
        .into_iter()
        .filter(|_| rng.chance(SWARM_KIND_LEFT_OUT))
        .collect();
    varied
        .faults
        .retain(|fault| !left_out.contains(fault.kind.name()));
    move_faults(&mut varied, &mut rng);
    if rng.chance(0.5) {
        let episodes = if rng.chance(0.5) { 1 } else { 2 };
        add_episodes(&mut varied, episodes, &mut rng);
    }
    vary_link(&mut varied.network.default_link, &mut rng);
    for link in &mut varied.network.links {
        vary_link(&mut link.parameters, &mut rng);
    }
    let disk = &mut varied.disk;
    disk.flush_ns = scale(disk.flush_ns, 0.5 + 1.5 * rng.unit());
    disk.flush_jitter_ns = vary_jitter(disk.flush_jitter_ns, disk.flush_ns, &mut rng);
    varied.expect = Expectations::default();
    // Written in the order they happen (a stable sort: faults at one moment keep their order).
    varied.faults.sort_by_key(|fault| fault.at_ns);
    varied
}

/// Scales every fault's time by a factor in [0.5, 1.5), then gives the new times back to the
/// faults in their old order, so that the order of the faults is kept.
fn move_faults(scenario: &mut Scenario, rng: &mut Stream) {
    let end = scenario.duration_ns;
    let mut order: Vec<usize> = (0..scenario.faults.len()).collect();
    order.sort_by_key(|&i| (scenario.faults[i].at_ns, i));
    let mut times: Vec<u64> = order
        .iter()
        .map(|&i| scale(scenario.faults[i].at_ns, 0.5 + rng.unit()).min(end))
        .collect();
    times.sort_unstable();
    for (&i, at_ns) in order.iter().zip(times) {
        scenario.faults[i].at_ns = at_ns;
    }
}

/// The longest fault episode a swarm run adds, in ns (long enough for a failover and for the
/// peers of a returning instance to have moved on).
const EPISODE_LENGTH_MAX_NS: u64 = 40_000_000_000;

/// Adds `count` fault episodes to `scenario`: each a fault that starts between a tenth and
/// four fifths of the run, on a random instance or link, and the fault or heal that ends it
/// 0.5 to 40 s later (left out when that is past the end of the run).
fn add_episodes(scenario: &mut Scenario, count: usize, rng: &mut Stream) {
    let instances = scenario.instances.len();
    if instances < 2 {
        return;
    }
    let end = scenario.duration_ns;
    for _ in 0..count {
        let start = scale(end, 0.1 + 0.7 * rng.unit());
        let length = 500_000_000 + scale(EPISODE_LENGTH_MAX_NS, rng.unit());
        let target = InstanceId(pick(instances, rng));
        let other = InstanceId((target.0 + 1 + pick(instances - 1, rng)) % instances);
        let between = [target, other];
        let (kind, ending) = match pick(6, rng) {
            0 => (FaultKind::Crash { target }, FaultKind::Restart { target }),
            1 => (
                FaultKind::PowerOff { target },
                FaultKind::Restart { target },
            ),
            2 => (FaultKind::Pause { target }, FaultKind::Resume { target }),
            3 => (
                FaultKind::Partition {
                    between,
                    one_way: rng.chance(0.3),
                },
                heal_link(between),
            ),
            4 => (
                FaultKind::Loss {
                    between: Some(between),
                    rate: 0.05 + 0.25 * rng.unit(),
                },
                heal_link(between),
            ),
            _ => (
                FaultKind::SlowDisk {
                    target,
                    flush_ns: 5_000_000 + scale(45_000_000, rng.unit()),
                },
                FaultKind::Heal {
                    scope: HealScope::Instance(target),
                },
            ),
        };
        scenario.faults.push(Fault { at_ns: start, kind });
        if start + length < end {
            scenario.faults.push(Fault {
                at_ns: start + length,
                kind: ending,
            });
        }
    }
}

fn heal_link(between: [InstanceId; 2]) -> FaultKind {
    FaultKind::Heal {
        scope: HealScope::Link(between),
    }
}

/// A uniform choice in `0..n` (`n` > 0).
fn pick(n: usize, rng: &mut Stream) -> usize {
    ((rng.unit() * n as f64) as usize).min(n - 1)
}

fn vary_link(link: &mut LinkParameters, rng: &mut Stream) {
    link.one_way_ns = scale(link.one_way_ns, 0.5 + 1.5 * rng.unit());
    link.jitter_ns = vary_jitter(link.jitter_ns, link.one_way_ns, rng);
}

/// A jitter scaled like its latency; a jitter of 0 becomes a quarter of the latency on half of
/// the runs.
fn vary_jitter(jitter_ns: u64, latency_ns: u64, rng: &mut Stream) -> u64 {
    let factor = 0.5 + 1.5 * rng.unit();
    if jitter_ns == 0 {
        if rng.chance(0.5) {
            three_digits(latency_ns / 4)
        } else {
            0
        }
    } else {
        scale(jitter_ns, factor)
    }
}

/// `ns * factor` to three significant digits, rounded down (`factor` is a small positive
/// number): a varied scenario written out by `sim shrink` reads "38.3s", not "38328271178ns".
fn scale(ns: u64, factor: f64) -> u64 {
    three_digits((ns as f64 * factor) as u64)
}

fn three_digits(ns: u64) -> u64 {
    let mut unit = 1;
    while ns / unit >= 1_000 {
        unit *= 10;
    }
    ns / unit * unit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_takes_every_nth_seed() {
        let all = Seeds::range(10, 19);
        assert_eq!(all.count(), 10);
        assert_eq!(
            (0..10).map(|k| all.nth(k)).collect::<Vec<_>>(),
            (10..20).collect::<Vec<_>>()
        );
        let shards: Vec<Vec<u64>> = (1..=3)
            .map(|index| {
                let shard = Seeds {
                    shard: (index, 3),
                    ..all
                };
                (0..shard.count()).map(|k| shard.nth(k)).collect()
            })
            .collect();
        assert_eq!(
            shards,
            [vec![10, 13, 16, 19], vec![11, 14, 17], vec![12, 15, 18]]
        );
        let past = Seeds {
            first: 5,
            last: 6,
            shard: (3, 4),
        };
        assert_eq!(
            past.count(),
            0,
            "a shard that starts past the range runs nothing"
        );
        assert_eq!(Seeds::range(0, u64::MAX - 1).count(), u64::MAX);
    }

    fn scenario(name: &str) -> Scenario {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../sims")
            .join(name);
        crate::scenario::load(&file).expect("a bundled scenario")
    }

    /// The faults as (time, what), in the order they happen.
    fn in_order(faults: &[Fault]) -> Vec<(u64, String)> {
        let mut order: Vec<(u64, usize, String)> = faults
            .iter()
            .enumerate()
            .map(|(i, f)| (f.at_ns, i, format!("{:?}", f.kind)))
            .collect();
        order.sort();
        order.into_iter().map(|(at, _, kind)| (at, kind)).collect()
    }

    #[test]
    fn moved_faults_keep_their_order() {
        let original = scenario("all-partitioned-mirror-witness-reconnect-no-failover.toml");
        let kinds = |faults: &[Fault]| -> Vec<String> {
            in_order(faults).into_iter().map(|(_, kind)| kind).collect()
        };
        let mut moved = 0;
        for seed in 0..40 {
            let mut varied = original.clone();
            move_faults(&mut varied, &mut Stream::new(seed, "swarm"));
            assert_eq!(
                kinds(&varied.faults),
                kinds(&original.faults),
                "seed {seed}"
            );
            assert!(varied.faults.iter().all(|f| f.at_ns <= varied.duration_ns));
            moved += usize::from(varied.faults != original.faults);
        }
        assert!(moved >= 38, "the faults move: {moved} of 40");
    }

    #[test]
    fn an_episode_is_a_fault_and_its_end_within_the_run() {
        let original = scenario("quickstart.toml");
        let mut ended = 0;
        for seed in 0..60 {
            let mut varied = original.clone();
            add_episodes(&mut varied, 1, &mut Stream::new(seed, "swarm"));
            let added = &varied.faults[original.faults.len()..];
            assert!(matches!(added.len(), 1 | 2), "seed {seed}: {added:?}");
            let start = added[0];
            assert!(start.at_ns >= varied.duration_ns / 10 && start.at_ns < varied.duration_ns);
            if let [_, end] = added {
                ended += 1;
                assert!(end.at_ns > start.at_ns && end.at_ns < varied.duration_ns);
                let ends_it = match (start.kind, end.kind) {
                    (
                        FaultKind::Crash { target } | FaultKind::PowerOff { target },
                        FaultKind::Restart { target: t },
                    ) => target == t,
                    (FaultKind::Pause { target }, FaultKind::Resume { target: t }) => target == t,
                    (
                        FaultKind::SlowDisk { target, .. },
                        FaultKind::Heal {
                            scope: HealScope::Instance(t),
                        },
                    ) => target == t,
                    (
                        FaultKind::Partition { between, .. }
                        | FaultKind::Loss {
                            between: Some(between),
                            ..
                        },
                        FaultKind::Heal {
                            scope: HealScope::Link(b),
                        },
                    ) => between == b,
                    _ => false,
                };
                assert!(ends_it, "seed {seed}: {added:?}");
            }
            for fault in added {
                let ids: Vec<InstanceId> = match fault.kind {
                    FaultKind::Partition { between, .. } => between.to_vec(),
                    FaultKind::Crash { target } | FaultKind::Restart { target } => vec![target],
                    _ => Vec::new(),
                };
                assert!(ids.iter().all(|id| id.0 < varied.instances.len()));
                if let [a, b] = ids[..] {
                    assert_ne!(a, b, "a link joins two instances");
                }
            }
        }
        assert!(
            (30..60).contains(&ended),
            "most episodes end within the run: {ended}"
        );
    }

    #[test]
    fn varied_times_keep_three_significant_digits() {
        assert_eq!(three_digits(38_328_271_178), 38_300_000_000);
        assert_eq!(three_digits(200_286), 200_000);
        assert_eq!(three_digits(999), 999);
        assert_eq!(three_digits(1_999), 1_990);
        assert_eq!(three_digits(0), 0);
    }

    #[test]
    fn the_worst_figure_keeps_the_lowest_seed_on_a_tie() {
        assert_eq!(worse(None, (5, 10)), Some((5, 10)));
        assert_eq!(worse(Some((5, 10)), (3, 10)), Some((3, 10)));
        assert_eq!(worse(Some((3, 10)), (5, 10)), Some((3, 10)));
        assert_eq!(worse(Some((3, 10)), (5, 11)), Some((5, 11)));
        assert_eq!(worse(Some((3, 12)), (1, 11)), Some((3, 12)));
    }

    fn failing(seed: u64) -> SeedOutcome {
        SeedOutcome {
            seed,
            failed: vec![FailedCheck {
                name: "single_principal".into(),
                detail: "two".into(),
            }],
            lost_acknowledged: 0,
            failovers: [0; 3],
            split_brain: false,
            commit_latency_p99_us: 0,
        }
    }

    #[test]
    fn the_failures_kept_are_the_lowest_seeds_whatever_the_order() {
        let total = FAILURES_LISTED_MAX as u64 + 50;
        let mut forward = SweepSummary::default();
        let mut backward = SweepSummary::default();
        for seed in 0..total {
            forward.add(failing(seed));
            backward.add(failing(total - 1 - seed));
        }
        assert_eq!(forward, backward);
        assert_eq!(forward.failed, total);
        assert_eq!(forward.failures.len(), FAILURES_LISTED_MAX);
        assert_eq!(forward.failures.last().map(|f| f.seed), Some(total - 51));
        assert_eq!(forward.failed_by_check["single_principal"], total);
    }
}
