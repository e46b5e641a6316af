//! Running the checkers: stateright's breadth-first and depth-first searches, and random walks
//! (run here, not by stateright's simulation checker: the walks are numbered and seeded, the
//! path of a discovery is the one walked, and the result does not depend on the thread count).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use stateright::{Checker, Expectation, HasDiscoveries, Model};

use crate::config::Configuration;
use crate::model::{Action, SessionModel};
use crate::state::SessionState;

/// How to explore.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Breadth-first (with one thread, the shortest path to each discovery).
    Bfs,
    /// Depth-first (far less memory).
    Dfs,
    /// `walks` random walks from the initial state, seeded with `seed`.
    Simulate {
        /// How many walks.
        walks: u64,
        /// The seed of walk 0 (walk i uses a seed derived from `seed` and i).
        seed: u64,
    },
}

impl Strategy {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bfs => "bfs",
            Self::Dfs => "dfs",
            Self::Simulate { .. } => "simulate",
        }
    }
}

/// Options of one check.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// How to explore.
    pub strategy: Strategy,
    /// Checker threads.
    pub threads: usize,
    /// Stop as soon as this property has a discovery (the mutant tests).
    pub stop_at: Option<&'static str>,
    /// Stop at the first violation of any `always` property (`sim check --mutant`: the point is
    /// to see the bug caught, and a mutant's space can be far larger than the correct one's).
    pub stop_at_first_violation: bool,
    /// Stop after about this many states (0: no bound).
    pub state_count_max: usize,
    /// Replace each counterexample by a shortest one (a second, breadth-first search no deeper
    /// than the counterexample found).
    pub shortest: bool,
    /// Print the unique states explored so far on stderr every few seconds (`sim check` does
    /// when stderr is a terminal).
    pub progress: bool,
}

impl CheckOptions {
    /// Exhaustive search with `strategy` on `threads` threads.
    pub fn new(strategy: Strategy, threads: usize) -> Self {
        Self {
            strategy,
            threads: threads.max(1),
            stop_at: None,
            stop_at_first_violation: false,
            state_count_max: 0,
            shortest: false,
            progress: false,
        }
    }
}

/// What became of one property.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An `always` property held in every state explored.
    Held,
    /// An `always` property was violated: a counterexample.
    Violated,
    /// A `sometimes` property was found: an example.
    Found,
    /// A `sometimes` property was not found in the states explored.
    NotFound,
}

impl Outcome {
    /// The word used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Violated => "violated",
            Self::Found => "found",
            Self::NotFound => "not found",
        }
    }
}

/// A path from the initial state: each state with the action taken from it (none for the last).
pub type Trace = Vec<(SessionState, Option<Action>)>;

/// The result for one property.
#[derive(Clone, Debug)]
pub struct PropertyReport {
    /// Its name.
    pub name: &'static str,
    /// Whether it is an `always` property (else `sometimes`).
    pub always: bool,
    /// What became of it.
    pub outcome: Outcome,
    /// The path to its discovery, if any.
    pub trace: Option<Trace>,
    /// The path as the explorer encodes it (`0/3/1/...`: the initial state, then action
    /// indices), if any.
    pub explorer_path: Option<String>,
}

/// The result of checking one configuration.
#[derive(Clone, Debug)]
pub struct CheckReport {
    /// What was checked.
    pub configuration: Configuration,
    /// How.
    pub strategy: Strategy,
    /// With how many threads.
    pub threads: usize,
    /// States generated, repeats included.
    pub states: usize,
    /// Distinct states.
    pub unique_states: usize,
    /// The deepest path explored.
    pub depth: usize,
    /// Whether the whole (bounded) state space was explored: no depth or state-count bound was
    /// reached and the search was not stopped early.
    pub complete: bool,
    /// Per property, in the model's order.
    pub properties: Vec<PropertyReport>,
}

impl CheckReport {
    /// The report for `name`.
    pub fn property(&self, name: &str) -> Option<&PropertyReport> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// Whether every `always` property held.
    pub fn all_held(&self) -> bool {
        self.properties
            .iter()
            .all(|p| !p.always || p.outcome == Outcome::Held)
    }

    /// Whether every `sometimes` property was found.
    pub fn all_found(&self) -> bool {
        self.properties
            .iter()
            .all(|p| p.always || p.outcome == Outcome::Found)
    }
}

/// Checks one configuration.
pub fn check(configuration: &Configuration, options: &CheckOptions) -> CheckReport {
    let model = SessionModel::new(configuration.clone());
    match options.strategy {
        Strategy::Simulate { walks, seed } => simulate(model, walks, seed, options),
        Strategy::Bfs | Strategy::Dfs => {
            let mut report = search(model.clone(), options);
            if options.shortest {
                shorten(&model, &mut report);
            }
            report
        }
    }
}

fn builder(
    model: SessionModel,
    options: &CheckOptions,
) -> stateright::CheckerBuilder<SessionModel> {
    let depth_max = model.configuration.max_depth;
    let mut builder = model.checker().threads(options.threads);
    if depth_max > 0 {
        builder = builder.target_max_depth(depth_max);
    }
    if options.state_count_max > 0 {
        builder = builder.target_state_count(options.state_count_max);
    }
    if let Some(name) = options.stop_at {
        builder = builder.finish_when(HasDiscoveries::AnyOf(BTreeSet::from([name])));
    } else if options.stop_at_first_violation {
        builder = builder.finish_when(HasDiscoveries::AnyFailures);
    }
    builder
}

fn search(model: SessionModel, options: &CheckOptions) -> CheckReport {
    let configuration = model.configuration.clone();
    let b = builder(model, options);
    match options.strategy {
        Strategy::Bfs => finish(b.spawn_bfs(), configuration, options),
        _ => finish(b.spawn_dfs(), configuration, options),
    }
}

/// Waits for a running checker (showing its progress when asked) and reports on it.
fn finish<C: Checker<SessionModel>>(
    checker: C,
    configuration: Configuration,
    options: &CheckOptions,
) -> CheckReport {
    watch(&checker, &configuration, options);
    collect(checker.join(), configuration, options)
}

/// While the checker runs, prints its progress on stderr every five seconds (when asked): a
/// large configuration runs for minutes, and silence looks like a hang.
fn watch<C: Checker<SessionModel>>(
    checker: &C,
    configuration: &Configuration,
    options: &CheckOptions,
) {
    const TICK: std::time::Duration = std::time::Duration::from_millis(100);
    const TICKS_PER_LINE: u32 = 50;
    if !options.progress {
        return;
    }
    let mut ticks = 0;
    while !checker.is_done() {
        std::thread::sleep(TICK);
        ticks += 1;
        if ticks % TICKS_PER_LINE == 0 {
            eprintln!(
                "sim check: {}: {} unique states so far, depth {}",
                configuration.name(),
                checker.unique_state_count(),
                checker.max_depth()
            );
        }
    }
}

fn collect<C: Checker<SessionModel>>(
    checker: C,
    configuration: Configuration,
    options: &CheckOptions,
) -> CheckReport {
    let model = checker.model();
    let discoveries = checker.discoveries();
    let properties: Vec<PropertyReport> = model
        .properties()
        .into_iter()
        .map(|p| {
            let always = p.expectation == Expectation::Always;
            let path = discoveries.get(p.name);
            let outcome = match (always, path.is_some()) {
                (true, false) => Outcome::Held,
                (true, true) => Outcome::Violated,
                (false, true) => Outcome::Found,
                (false, false) => Outcome::NotFound,
            };
            PropertyReport {
                name: p.name,
                always,
                outcome,
                explorer_path: path.map(|path| path.encode(model)),
                trace: path.map(|path| path.clone().into_vec()),
            }
        })
        .collect();
    let depth = checker.max_depth();
    let depth_bound = configuration.max_depth;
    let violated = properties.iter().any(|p| p.outcome == Outcome::Violated);
    let stopped = options
        .stop_at
        .is_some_and(|name| discoveries.contains_key(name))
        || (options.stop_at_first_violation && violated)
        || discoveries.len() == model.properties().len();
    let count_bound =
        options.state_count_max > 0 && checker.state_count() >= options.state_count_max;
    CheckReport {
        complete: !(stopped || count_bound || (depth_bound > 0 && depth >= depth_bound)),
        configuration,
        strategy: options.strategy,
        threads: options.threads,
        states: checker.state_count(),
        unique_states: checker.unique_state_count(),
        depth,
        properties,
    }
}

/// Stateright's breadth-first search records, for each property, the last violating state it
/// visited, not the first; this replaces each counterexample by a shortest one ([`shortest`],
/// searching no deeper than the one found).
fn shorten(model: &SessionModel, report: &mut CheckReport) {
    for p in &mut report.properties {
        if p.outcome != Outcome::Violated {
            continue;
        }
        let len = p.trace.as_ref().map_or(usize::MAX, |t| t.len() - 1);
        if let Some(trace) = shortest(model, p.name, len) {
            if trace.len() - 1 < len {
                p.explorer_path = Some(encode(model, &trace));
                p.trace = Some(trace);
            }
        }
    }
}

/// A shortest path from the initial state to a state that violates (for `always`) or
/// satisfies (for `sometimes`) `property`, of at most `depth_max` steps: a plain breadth-first
/// search that stops at the first such state. It keeps one fingerprint per state visited, one
/// parent link per state, and the states of the current level only.
pub fn shortest(model: &SessionModel, property: &str, depth_max: usize) -> Option<Trace> {
    let p = model
        .properties()
        .into_iter()
        .find(|p| p.name == property)?;
    let discovered = |s: &SessionState| {
        let holds = (p.condition)(model, s);
        if p.expectation == Expectation::Always {
            !holds
        } else {
            holds
        }
    };
    let init = model.initial_state();
    // Per state visited: (parent index, action from the parent).
    let mut parents: Vec<(usize, Option<Action>)> = vec![(0, None)];
    let mut seen = HashSet::from([fingerprint(&init)]);
    let mut level = vec![(0usize, init)];
    let mut found = None;
    let mut depth = 0;
    'search: while !level.is_empty() {
        for (k, s) in &level {
            if discovered(s) {
                found = Some(*k);
                break 'search;
            }
        }
        if depth == depth_max {
            break;
        }
        depth += 1;
        let mut next_level = Vec::new();
        let mut actions = Vec::new();
        for (k, s) in level {
            actions.clear();
            model.actions(&s, &mut actions);
            for action in actions.drain(..) {
                let next = model
                    .next_state(&s, action.clone())
                    .expect("every offered action has a next state");
                if seen.insert(fingerprint(&next)) {
                    parents.push((k, Some(action)));
                    next_level.push((parents.len() - 1, next));
                }
            }
        }
        level = next_level;
    }
    let mut k = found?;
    let mut actions = Vec::new();
    while let (parent, Some(action)) = &parents[k] {
        actions.push(action.clone());
        k = *parent;
    }
    actions.reverse();
    let mut trace = Vec::new();
    let mut state = model.initial_state();
    for action in actions {
        let next = model
            .next_state(&state, action.clone())
            .expect("every offered action has a next state");
        trace.push((state, Some(action)));
        state = next;
    }
    trace.push((state, None));
    Some(trace)
}

/// A small deterministic generator for the walks (splitmix64): no unseeded randomness.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fingerprint(s: &SessionState) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// What the walks found, shared between threads.
struct Walks {
    /// Per property: (walk number, trace) of the lowest-numbered walk that found it.
    found: Vec<Option<(u64, Trace)>>,
    states: usize,
    depth: usize,
    seen: HashSet<u64>,
}

fn simulate(model: SessionModel, walks: u64, seed: u64, options: &CheckOptions) -> CheckReport {
    let properties = model.properties();
    let shared = Mutex::new(Walks {
        found: vec![None; properties.len()],
        states: 0,
        depth: 0,
        seen: HashSet::new(),
    });
    let threads = options.threads.max(1) as u64;
    let depth_max = if model.configuration.max_depth > 0 {
        model.configuration.max_depth
    } else {
        1_000
    };
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (model, properties, shared) = (&model, &properties, &shared);
            scope.spawn(move || {
                let mut walk = t;
                while walk < walks {
                    let mut rng = seed ^ walk.wrapping_mul(0xA076_1D64_78BD_642F);
                    let result = walk_once(model, properties, &mut rng, depth_max);
                    let mut shared = shared.lock().expect("a walk thread panicked");
                    shared.states += result.states.len();
                    shared.depth = shared.depth.max(result.states.len().saturating_sub(1));
                    shared.seen.extend(result.states.iter().copied());
                    for (k, trace) in result.found.into_iter().enumerate() {
                        let Some(trace) = trace else { continue };
                        let better = shared.found[k].as_ref().is_none_or(|(w, _)| walk < *w);
                        if better {
                            shared.found[k] = Some((walk, trace));
                        }
                    }
                    walk += threads;
                }
            });
        }
    });
    let shared = shared.into_inner().expect("a walk thread panicked");
    let reports = properties
        .iter()
        .zip(shared.found)
        .map(|(p, found)| {
            let always = p.expectation == Expectation::Always;
            let outcome = match (always, found.is_some()) {
                (true, false) => Outcome::Held,
                (true, true) => Outcome::Violated,
                (false, true) => Outcome::Found,
                (false, false) => Outcome::NotFound,
            };
            let trace = found.map(|(_, t)| t);
            PropertyReport {
                name: p.name,
                always,
                outcome,
                explorer_path: trace.as_ref().map(|t| encode(&model, t)),
                trace,
            }
        })
        .collect();
    CheckReport {
        configuration: model.configuration.clone(),
        strategy: options.strategy,
        threads: options.threads,
        states: shared.states,
        unique_states: shared.seen.len(),
        depth: shared.depth,
        complete: false,
        properties: reports,
    }
}

struct Walk {
    states: Vec<u64>,
    found: Vec<Option<Trace>>,
}

fn walk_once(
    model: &SessionModel,
    properties: &[stateright::Property<SessionModel>],
    rng: &mut u64,
    depth_max: usize,
) -> Walk {
    let mut state = model.initial_state();
    let mut trace: Trace = Vec::new();
    let mut seen = HashSet::new();
    let mut walk = Walk {
        states: Vec::new(),
        found: vec![None; properties.len()],
    };
    let mut actions = Vec::new();
    loop {
        let fp = fingerprint(&state);
        walk.states.push(fp);
        for (k, p) in properties.iter().enumerate() {
            let holds = (p.condition)(model, &state);
            let discovered = match p.expectation {
                Expectation::Always => !holds,
                _ => holds,
            };
            if discovered && walk.found[k].is_none() {
                let mut t = trace.clone();
                t.push((state.clone(), None));
                walk.found[k] = Some(t);
            }
        }
        if !seen.insert(fp) || trace.len() >= depth_max {
            break;
        }
        actions.clear();
        model.actions(&state, &mut actions);
        if actions.is_empty() {
            break;
        }
        let pick = (splitmix(rng) % actions.len() as u64) as usize;
        let action = actions.swap_remove(pick);
        let next = model
            .next_state(&state, action.clone())
            .expect("every offered action has a next state");
        trace.push((state, Some(action)));
        state = next;
    }
    walk
}

/// Encodes a trace as the explorer does: the initial state's index, then each action's index
/// among the actions offered in its state.
pub fn encode(model: &SessionModel, trace: &Trace) -> String {
    let mut parts = vec!["0".to_string()];
    for (state, action) in trace {
        let Some(action) = action else { continue };
        let mut actions = Vec::new();
        model.actions(state, &mut actions);
        let k = actions
            .iter()
            .position(|a| a == action)
            .expect("the action was offered in its state");
        parts.push(k.to_string());
    }
    parts.join("/")
}
