//! The recorded history and the invariant checkers of spec/scenario.md. They judge what each
//! instance did and when, in true simulated time, and the log content by generation (see
//! `dblog`), never an instance's opinion of itself.

use std::collections::{BTreeMap, BTreeSet};

use mirror_protocol::Nanos;

use super::acks::AckLsns;
use super::dblog::generation_at;
use super::rng::TxSizes;

/// The invariant names, in the order of the spec's table.
pub const INVARIANTS: [&str; 7] = [
    "single_principal",
    "acknowledged_durable",
    "log_prefix",
    "failover_allowed",
    "quorum_serving",
    "redo_behind_harden",
    "recovers",
];

/// A moment of simulated time in messages: seconds, to the microsecond.
pub fn at_seconds(ns: Nanos) -> String {
    format!("{:.6} s", ns as f64 / 1e9)
}

/// Messages kept per broken invariant (the first ones explain the rest).
const MESSAGES_MAX: usize = 2;

/// Runs of acknowledged commits kept exactly per generation before older ones are summarised
/// (a run breaks where a transaction failed or was not acknowledged: rare, so this is reached
/// only by very long, very disturbed runs).
const ACK_RUNS_EXACT_MAX: usize = 1 << 16;

/// An instance began serving.
#[derive(Clone, Debug)]
pub struct ServeStart {
    /// The instance.
    pub node: usize,
    /// At which role sequence.
    pub role_sequence: u64,
    /// When.
    pub at: Nanos,
    /// Its log's generations then (the newest [`SERVE_SEGMENTS_KEPT`]).
    pub segments: Vec<(u64, u64)>,
    /// Its end of log then.
    pub lsn_end: u64,
    /// Where the generations it keeps begin, once older ones were let go: a commit at or
    /// below it is not judged against this start.
    pub segments_floor: Option<u64>,
}

/// Serving starts remembered: enough to judge any commit a stale principal acknowledges (it is
/// behind by a few role changes, not thousands), and bounded, so that a run with a failover
/// every 20 s keeps its memory flat (each start holds its log's generations: thousands of
/// starts of thousands of generations grew quadratically, 2.2 GB in 30 simulated days).
const SERVE_STARTS_MAX: usize = 1024;

/// Generations kept per remembered serving start: its newest ones, which cover the LSNs a stale
/// principal acknowledges; a commit below them is not judged against that start.
const SERVE_SEGMENTS_KEPT: usize = 64;

impl ServeStart {
    /// Instance `node` begins serving at `role_sequence` at `at`, its log of `segments` (its
    /// generations) hardened to `lsn_end`. Only the newest [`SERVE_SEGMENTS_KEPT`] generations
    /// are copied.
    pub fn new(
        node: usize,
        role_sequence: u64,
        at: Nanos,
        segments: &[(u64, u64)],
        lsn_end: u64,
    ) -> Self {
        let kept = &segments[segments.len().saturating_sub(SERVE_SEGMENTS_KEPT)..];
        let let_go = kept.len() < segments.len();
        let segments_floor = kept.first().map(|&(from, _)| from).filter(|_| let_go);
        Self {
            node,
            role_sequence,
            at,
            segments: kept.to_vec(),
            lsn_end,
            segments_floor,
        }
    }

    /// Whether this start's log holds `lsn` of `generation`, as far as the generations it
    /// keeps tell (below them: taken to hold it, unjudged).
    fn holds(&self, lsn: u64, generation: u64) -> bool {
        if lsn > self.lsn_end {
            return false;
        }
        let unjudged = self.segments_floor.is_some_and(|floor| lsn <= floor);
        unjudged || generation_at(&self.segments, lsn) == Some(generation)
    }
}

/// The acknowledged commits of one generation (one writer incarnation).
#[derive(Clone, Debug, Default)]
struct Ledger {
    node: usize,
    role_sequence: u64,
    /// Recent acknowledged commit LSNs, in order.
    exact: AckLsns,
    /// Older ones hardened on both partners, summarised per session that hardened them (the
    /// session as [`session_of_role`] numbers it, count, LSN range): a later session's partners
    /// are not the earlier one's, and a copy of the earlier session lacks what they hardened.
    settled: Vec<(u64, u64, u64, u64)>,
    /// Older ones not known hardened on both, summarised when there were too many to keep
    /// exactly: count and LSN range. Kept apart from `settled` so that a loss among them
    /// does not count the settled commits before it as lost too (a copy recovered after SET
    /// PARTNER OFF counted every commit of the run as lost, from the first).
    summarised: Option<(u64, u64, u64)>,
    /// Where the generation's writer went on in a session set up again after SET PARTNER OFF
    /// (its log goes on across sessions): (first commit LSN acknowledged there, the role
    /// sequence it was acknowledged at, as the history numbers it). One entry per session.
    later_sessions: Vec<(u64, u64)>,
}

impl Ledger {
    /// The role sequence (as the history numbers it) the commit ending at `lsn` was
    /// acknowledged at.
    fn role_at(&self, lsn: u64) -> u64 {
        self.later_sessions
            .iter()
            .rev()
            .find(|&&(from, _)| from <= lsn)
            .map_or(self.role_sequence, |&(_, role)| role)
    }
}

/// A forced service: (new role sequence, fork LSN, the forcing mirror's log generations then).
pub type ForcedService = (u64, u64, Vec<(u64, u64)>);

/// A stretch during which two instances served the database at once, by an operator's doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitBrain {
    /// When it began.
    pub start: Nanos,
    /// When it ended (`None`: still going at the end).
    pub end: Option<Nanos>,
    /// The two instances.
    pub nodes: [usize; 2],
    /// What made it.
    pub cause: SplitCause,
    /// For a forced service: the one of `nodes` serving at the older role sequence, the
    /// abandoned fork. The split brain lasts while it serves, whether or not the instance that
    /// forced service still does (it is the one acknowledging commits that will be lost).
    pub stale: Option<usize>,
}

/// What made a split brain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitCause {
    /// Forced service while an older principal still served (reference section 4).
    ForcedService,
    /// SET PARTNER OFF on an instance whose partner never heard of it and took over: the
    /// instance serves as a database without mirroring, outside the session.
    PartnerOff,
}

impl SplitCause {
    /// Its name in the report (`split_brain[].cause`).
    pub fn name(self) -> &'static str {
        match self {
            Self::ForcedService => "forced_service",
            Self::PartnerOff => "partner_off",
        }
    }
}

/// A stretch an instance spent outside any session: from the moment it ended its session (SET
/// PARTNER OFF, its own or one it heard of) until it starts another. The commits it
/// acknowledges there are not the session's: a partner that never heard of the end may take
/// over without them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outside {
    /// The instance.
    pub node: usize,
    /// When it left, and when it joined a session again (`None`: still outside).
    pub since: Nanos,
    pub until: Option<Nanos>,
    /// The commits it acknowledged meanwhile, per log generation: (generation, lowest commit
    /// LSN, highest). Acknowledgements go in LSN order, and all those made in the session came
    /// before, so the range holds exactly the commits acknowledged outside.
    pub acked: Vec<(u64, u64, u64)>,
}

impl Outside {
    /// Whether it is `node`'s stretch outside, and `at` within it.
    fn covers(&self, node: usize, at: Nanos) -> bool {
        self.node == node && self.since <= at && self.until.is_none_or(|until| at < until)
    }
}

/// What the history knows, and what broke.
#[derive(Default)]
pub struct History {
    /// Each transaction's log size (acknowledged commits are kept as runs of transactions).
    tx_sizes: TxSizes,
    /// The instances' names, by node index, for the messages of broken invariants.
    pub names: Vec<String>,
    /// The starts of serving, in order: the last [`SERVE_STARTS_MAX`].
    pub serve_starts: Vec<ServeStart>,
    /// The highest role sequence any instance began serving at.
    role_started_max: u64,
    /// Who serves now: node -> (role sequence, since, took over by forced service lineage).
    pub serving: BTreeMap<usize, (u64, Nanos)>,
    ledgers: BTreeMap<u64, Ledger>,
    /// Forced services: (new role sequence, fork LSN, the forcing mirror's log generations).
    pub forced: Vec<ForcedService>,
    /// The role sequences at which a copy recovered after SET PARTNER OFF began serving (its
    /// new line of history, also listed in `forced`), with the log generation it began: a
    /// separate database from then on, which ranks above no principal of its old session (see
    /// `World::last_principal`).
    pub recovered_lines: BTreeMap<u64, u64>,
    /// Per broken invariant: its first messages, and how many times it broke.
    broken: BTreeMap<&'static str, (Vec<String>, u64)>,
    /// Split brains seen.
    pub split_brains: Vec<SplitBrain>,
    /// Stretches instances spent outside any session, one per SET PARTNER OFF at most.
    pub outside: Vec<Outside>,
    /// The instances whose last session ended knowingly (see [`History::ended_knowingly`]).
    knowingly_out: BTreeSet<usize>,
    /// The sessions (their ranges of role sequences) set up from a copy restored from backups:
    /// another database by the DBA's choice, whatever serves outside them (see
    /// [`History::separate_session`]).
    separate_sessions: BTreeSet<u64>,
    /// Lost acknowledged commits (computed at the end).
    pub lost: u64,
    /// Their LSN ranges, per generation: (first, last).
    pub lost_ranges: Vec<(u64, u64)>,
    /// The lost acknowledged commits each forced service lost (by its role sequence): those
    /// past its fork that principals of older role sequences acknowledged.
    pub lost_by_forced: BTreeMap<u64, u64>,
}

impl History {
    /// An empty history of a run whose transactions are sized by `tx_sizes`, among `instances`.
    pub fn with_sizes(tx_sizes: TxSizes, instances: &[crate::scenario::Instance]) -> Self {
        Self {
            tx_sizes,
            names: instances.iter().map(|i| i.name.clone()).collect(),
            ..Self::default()
        }
    }

    /// The name of node `n` ("instance n" for a node the scenario does not name, as in unit
    /// tests).
    fn name(&self, n: usize) -> String {
        self.names
            .get(n)
            .cloned()
            .unwrap_or_else(|| format!("instance {n}"))
    }

    /// Records that `invariant` broke, with what happened.
    pub fn violate(&mut self, invariant: &'static str, message: String) {
        debug_assert!(
            INVARIANTS.contains(&invariant),
            "unknown invariant {invariant}"
        );
        let (list, count) = self.broken.entry(invariant).or_default();
        *count += 1;
        if list.len() < MESSAGES_MAX {
            list.push(message);
        }
    }

    /// (name, held, detail) for every invariant, in the spec's order.
    pub fn verdicts(&self) -> Vec<(&'static str, bool, Option<String>)> {
        INVARIANTS
            .iter()
            .map(|name| match self.broken.get(name) {
                Some((messages, count)) => {
                    let mut detail = messages.join("; ");
                    let more = *count - messages.len() as u64;
                    if more > 0 {
                        detail.push_str(&format!("; and {more} more"));
                    }
                    (*name, false, Some(detail))
                }
                None => (*name, true, None),
            })
            .collect()
    }

    /// Instance `node` ended its session at `at`.
    pub fn left_session(&mut self, node: usize, at: Nanos) {
        if self.outside_at(node, at) {
            return;
        }
        self.outside.push(Outside {
            node,
            since: at,
            until: None,
            acked: Vec::new(),
        });
    }

    /// Instance `node` ended its session knowingly: its own SET PARTNER OFF, or one it heard
    /// of. Two copies that both left knowingly are separate databases by the DBA's choice (the
    /// way reference section 7 removes mirroring and recovers the mirror), not a split brain.
    pub fn ended_knowingly(&mut self, node: usize) {
        self.knowingly_out.insert(node);
    }

    /// The session that `role_sequence` is in was set up from a copy restored from backups:
    /// its principals and an instance serving in another session or outside every session are
    /// two databases, not a split brain. No instance can take the other for its partner: the
    /// restored copy's session was set up after the copy came from backups. Reported as a split
    /// brain caused by PARTNER OFF, a copy restored on a third instance and mirrored while the
    /// original still served (found by a regression audit).
    pub fn separate_session(&mut self, role_sequence: u64) {
        self.separate_sessions
            .insert(session_of_role(role_sequence));
    }

    /// Whether what serves at role sequences `a` and `b` are two databases: they are in two
    /// sessions, one of them set up from a restored copy ([`History::separate_session`]).
    fn separate_databases(&self, a: u64, b: u64) -> bool {
        let (a, b) = (session_of_role(a), session_of_role(b));
        a != b && (self.separate_sessions.contains(&a) || self.separate_sessions.contains(&b))
    }

    /// Instance `node` still holds a session its partner ended (hung or cut off through the
    /// PARTNER OFF): what it acknowledges from `at` on is outside any session, and it serves
    /// unaware of it, a split brain with whoever else serves.
    pub fn orphaned(&mut self, node: usize, at: Nanos) {
        self.knowingly_out.remove(&node);
        self.left_session(node, at);
    }

    /// Instance `node` starts a session again at `at`.
    pub fn joined_session(&mut self, node: usize, at: Nanos) {
        for o in &mut self.outside {
            if o.node == node && o.until.is_none() {
                o.until = Some(at);
            }
        }
    }

    /// Whether `node` was outside any session at `at`.
    fn outside_at(&self, node: usize, at: Nanos) -> bool {
        self.outside.iter().any(|o| o.covers(node, at))
    }

    /// Whether the commit ending at `lsn` in `generation` was acknowledged outside a session.
    fn acknowledged_outside(&self, generation: u64, lsn: u64) -> bool {
        self.outside.iter().any(|o| {
            o.acked
                .iter()
                .any(|&(g, lo, hi)| g == generation && (lo..=hi).contains(&lsn))
        })
    }

    /// A node starts serving: no two instances serve at the same role sequence
    /// (`single_principal`); an overlap with an older principal after forced service, or with
    /// an instance serving outside the session, is a split brain.
    pub fn serve(&mut self, start: ServeStart) {
        type Forced = [ForcedService];
        let forced_above = |low: u64, high: u64, forced: &Forced| {
            forced.iter().any(|(seq, _, _)| *seq > low && *seq <= high)
        };
        let serving: Vec<(usize, u64)> = self
            .serving
            .iter()
            .map(|(&n, &(seq, _))| (n, seq))
            .collect();
        for (other, seq) in serving {
            if other == start.node {
                continue;
            }
            // Principals of two sessions at once: one session began after a PARTNER OFF the
            // other side never heard of, or from a copy recovered after it.
            let sessions_differ = session_of_role(seq) != session_of_role(start.role_sequence);
            let apart = sessions_differ
                || self.outside_at(other, start.at)
                || self.outside_at(start.node, start.at);
            let both_knew =
                self.knowingly_out.contains(&other) && self.knowingly_out.contains(&start.node);
            let separate = self.separate_databases(seq, start.role_sequence);
            if apart && (both_knew || separate) {
                continue;
            }
            if apart {
                if self.split_brain_between(other, start.node) {
                    continue; // one is reported already (an old principal of a forced service)
                }
                self.split_brains.push(SplitBrain {
                    start: start.at,
                    end: None,
                    nodes: [other, start.node],
                    cause: SplitCause::PartnerOff,
                    stale: None,
                });
                continue;
            }
            if seq == start.role_sequence {
                let message = format!(
                    "{} and {} both serve at role sequence {} (at {})",
                    self.name(other),
                    self.name(start.node),
                    shown_role(seq),
                    at_seconds(start.at)
                );
                self.violate("single_principal", message);
            } else {
                let (low, high) = (seq.min(start.role_sequence), seq.max(start.role_sequence));
                let stale = if seq < start.role_sequence {
                    other
                } else {
                    start.node
                };
                if forced_above(low, high, &self.forced) && !self.split_brain_open(stale) {
                    self.split_brains.push(SplitBrain {
                        start: start.at,
                        end: None,
                        nodes: [other, start.node],
                        cause: SplitCause::ForcedService,
                        stale: Some(stale),
                    });
                }
            }
        }
        if let Some(newer) = self.forced_principal_gone_before(&start) {
            if !self.split_brain_open(start.node) {
                self.split_brains.push(SplitBrain {
                    start: start.at,
                    end: None,
                    nodes: [newer, start.node],
                    cause: SplitCause::ForcedService,
                    stale: Some(start.node),
                });
            }
        }
        self.serving
            .insert(start.node, (start.role_sequence, start.at));
        self.remember(start);
    }

    /// Whether a split brain between `a` and `b` is still going.
    fn split_brain_between(&self, a: usize, b: usize) -> bool {
        self.split_brains
            .iter()
            .any(|sb| sb.end.is_none() && sb.nodes.contains(&a) && sb.nodes.contains(&b))
    }

    /// Whether a split brain of forced service in which `stale` serves the abandoned fork is
    /// still going.
    fn split_brain_open(&self, stale: usize) -> bool {
        self.split_brains
            .iter()
            .any(|sb| sb.end.is_none() && sb.stale == Some(stale))
    }

    /// The instance that began serving at a higher role sequence of `start`'s session, through
    /// a forced service above `start`'s role sequence, and no longer serves, if any: `start`
    /// then serves a fork that instance's history abandoned. Reference section 4: forcing
    /// service "can give two principals", reported as a split brain caused by forced service.
    /// They need not serve at the same moment: without a witness, an old principal powered off
    /// through the forced service and restarted after the new principal went down serves its
    /// old fork at its old role sequence, and acknowledged 24,945 commits the forced
    /// principal's history does not have, with no split brain reported (found by an audit).
    fn forced_principal_gone_before(&self, start: &ServeStart) -> Option<usize> {
        // Also when `start` serves outside any session: the instance that forced service ran
        // SET PARTNER OFF before it went down, and the old principal, restarted unaware,
        // served its abandoned fork with no split brain reported (found by an audit).
        let session = session_of_role(start.role_sequence);
        let forced_between = |high: u64| {
            self.forced.iter().any(|(seq, _, _)| {
                *seq > start.role_sequence
                    && *seq <= high
                    && !self.recovered_lines.contains_key(seq)
            })
        };
        // Two copies both of whose instances knowingly left the session are the DBA's choice,
        // as when both serve at once (`serve`).
        let both_knew = |other: usize| {
            self.knowingly_out.contains(&other) && self.knowingly_out.contains(&start.node)
        };
        self.serve_starts
            .iter()
            .filter(|s| s.node != start.node && !self.serving.contains_key(&s.node))
            .filter(|s| !both_knew(s.node))
            .filter(|s| session_of_role(s.role_sequence) == session)
            .filter(|s| s.role_sequence > start.role_sequence && forced_between(s.role_sequence))
            .max_by_key(|s| (s.role_sequence, s.at))
            .map(|s| s.node)
    }

    /// A node serving already goes on serving at another role sequence (the first of a
    /// session it set up while serving): no new overlap begins.
    pub fn serve_on(&mut self, start: ServeStart) {
        self.serving
            .insert(start.node, (start.role_sequence, start.at));
        self.remember(start);
    }

    /// Keeps `start` among the last [`SERVE_STARTS_MAX`].
    fn remember(&mut self, start: ServeStart) {
        self.role_started_max = self.role_started_max.max(start.role_sequence);
        if self.serve_starts.len() == SERVE_STARTS_MAX {
            self.serve_starts.remove(0);
        }
        self.serve_starts.push(start);
    }

    /// A node stops serving; any split brain it was part of ends, except one of forced service
    /// whose stale principal (the abandoned fork's) still serves.
    pub fn stop_serving(&mut self, node: usize, at: Nanos) {
        if self.serving.remove(&node).is_some() {
            for sb in &mut self.split_brains {
                let ends = sb
                    .stale
                    .map_or(sb.nodes.contains(&node), |stale| stale == node);
                if sb.end.is_none() && ends {
                    sb.end = Some(at);
                }
            }
        }
    }

    /// A generation begins on `node` at `role_sequence`.
    pub fn generation(&mut self, generation: u64, node: usize, role_sequence: u64) {
        self.ledgers.insert(
            generation,
            Ledger {
                node,
                role_sequence,
                ..Ledger::default()
            },
        );
    }

    /// A commit acknowledged by `node` at `role_sequence`, its commit record ending at `lsn` in
    /// `generation`. Checks the second half of `single_principal`: an acknowledgement at role
    /// sequence n after another instance began serving at a higher one must be in the log that
    /// instance started serving with.
    pub fn acknowledged(
        &mut self,
        at: Nanos,
        node: usize,
        tx: u64,
        role_sequence: u64,
        lsn: u64,
        generation: u64,
    ) {
        let ledger = self.ledgers.entry(generation).or_insert_with(|| Ledger {
            node,
            role_sequence,
            ..Ledger::default()
        });
        ledger.exact.push_back(tx, lsn, &self.tx_sizes);
        if ledger.exact.runs() > ACK_RUNS_EXACT_MAX {
            for _ in 0..ACK_RUNS_EXACT_MAX / 2 {
                let Some((count, first, last)) = ledger.exact.pop_front_run() else {
                    break;
                };
                let (n, lo, hi) = ledger.summarised.unwrap_or((0, first, last));
                ledger.summarised = Some((n + count, lo.min(first), hi.max(last)));
            }
        }
        if let Some(outside) = self.outside.iter_mut().find(|o| o.covers(node, at)) {
            // A database without mirroring: not the session's (a split brain, if any).
            match outside.acked.iter_mut().find(|(g, _, _)| *g == generation) {
                Some((_, lo, hi)) => {
                    *lo = (*lo).min(lsn);
                    *hi = (*hi).max(lsn);
                }
                None => outside.acked.push((generation, lsn, lsn)),
            }
            return;
        }
        let ledger = self.ledgers.get_mut(&generation).expect("inserted above");
        if session_of_role(role_sequence) > session_of_role(ledger.role_at(lsn)) {
            ledger.later_sessions.push((lsn, role_sequence));
        }
        let forced = &self.forced;
        let mut problem = None;
        // Only a start at a higher role sequence can make this acknowledgement stale: none,
        // the common case, and the walk over every start is skipped.
        let starts = if role_sequence < self.role_started_max {
            &self.serve_starts[..]
        } else {
            &[]
        };
        for s in starts.iter().rev() {
            if s.node == node || s.role_sequence <= role_sequence || s.at > at {
                continue;
            }
            // Another session's principal serves another database (two sessions run side by
            // side only after a PARTNER OFF one partner never heard of, or a copy recovered and
            // mirrored again: a split brain of PARTNER OFF, reported as such).
            if session_of_role(s.role_sequence) != session_of_role(role_sequence) {
                continue;
            }
            if forced
                .iter()
                .any(|(seq, _, _)| *seq > role_sequence && *seq <= s.role_sequence)
            {
                continue; // forced service: a split brain, reported separately
            }
            if !s.holds(lsn, generation) {
                problem = Some(format!(
                    "{} acknowledged a commit at lsn {lsn} (role sequence {}) at {}, after {} began serving at role sequence {} without it",
                    self.name(node),
                    shown_role(role_sequence),
                    at_seconds(at),
                    self.name(s.node),
                    shown_role(s.role_sequence)
                ));
                break;
            }
        }
        if let Some(message) = problem {
            self.violate("single_principal", message);
        }
    }

    /// Drops exact records that can no longer be lost: acknowledged commits of `generation` at
    /// or below `lsn` (hardened on both partners in that generation).
    /// `role_offset` is the settling session's (see `Node::role_offset`).
    pub fn settle_durable(&mut self, generation: u64, lsn: u64, role_offset: u64) {
        let session = session_of_role(role_offset);
        if let Some(ledger) = self.ledgers.get_mut(&generation) {
            while ledger.exact.front().is_some_and(|l| l <= lsn) {
                let l = ledger.exact.pop_front(&self.tx_sizes).expect("checked");
                match ledger.settled.last_mut() {
                    Some((s, n, lo, hi)) if *s == session => {
                        *n += 1;
                        *lo = (*lo).min(l);
                        *hi = (*hi).max(l);
                    }
                    _ => ledger.settled.push((session, 1, l, l)),
                }
            }
            ledger.exact.invariants();
        }
    }

    /// `acknowledged_durable` at the end: every acknowledged commit is in the last principal's
    /// log (`segments`, up to `lsn_end`), except those a principal of an older role sequence
    /// acknowledged above the fork LSN of a forced service. Every acknowledged commit missing
    /// is counted as lost (spec/scenario.md, `lost_acknowledged`: "acknowledged commits
    /// missing from the final principal's database"), excused or not.
    ///
    /// `last_role` is the role sequence the last principal served at: when it is a copy of an
    /// older session still serving (an orphan of SET PARTNER OFF, or a copy recovered after
    /// it), the commits acknowledged in a later session are another database's, lost to the
    /// split brain that PARTNER OFF caused.
    pub fn judge_durability(&mut self, segments: &[(u64, u64)], lsn_end: u64, last_role: u64) {
        let mut lost = 0;
        let mut lost_by_forced = BTreeMap::new();
        let mut ranges = Vec::new();
        let mut broken = Vec::new();
        for (&generation, ledger) in &self.ledgers {
            let here =
                |lsn: u64| lsn <= lsn_end && generation_at(segments, lsn) == Some(generation);
            let mut missing: Vec<u64> = ledger
                .exact
                .iter(&self.tx_sizes)
                .filter(|&l| !here(l))
                .collect();
            let settled = ledger.settled.iter().map(|&(_, n, lo, hi)| (n, lo, hi));
            for (n, lo, hi) in settled.chain(ledger.summarised) {
                if !(here(lo) && here(hi)) {
                    // Summarised commits are judged as a block (they are old; this only happens
                    // when a very long backlog is lost).
                    lost += n;
                    ranges.push((lo, hi));
                }
            }
            if missing.is_empty() {
                continue;
            }
            missing.sort_unstable();
            // Lost through forced service: acknowledged by a principal of an older role sequence
            // and not in the forcing mirror's log when it took over, judged by content. Above the
            // fork LSN (the reference's definition) that is always so; at or below it, only when
            // the old principal had restarted and rewritten log the mirror never received (a
            // case the reference's definition misses).
            // The forced service that lost it: the first after the role sequence that
            // acknowledged it whose fork does not hold it.
            // A recovered copy's line is ranked by no role sequence: what it lost is whatever
            // others acknowledged past its fork, when the last principal's log is that line.
            // (Its line, begun at the fork LSN, may hold no record yet: the copy's log then
            // lists it without a record, see `DbLog::cut_writers_bookkeeping`.)
            let ranks_above = |seq: u64, l: u64| match self.recovered_lines.get(&seq) {
                Some(&line) => segments.iter().any(|&(_, g)| g == line),
                None => seq > ledger.role_at(l),
            };
            let lost_by = |l: u64| {
                self.forced
                    .iter()
                    .filter(|(seq, fork_lsn, forker)| {
                        ranks_above(*seq, l)
                            && (l > *fork_lsn || generation_at(forker, l) != Some(generation))
                    })
                    .map(|(seq, _, _)| *seq)
                    .min()
            };
            // A session set up from a restored copy and any other line are two databases: what
            // one acknowledged is lost to the other, charged to no role change in it. (Judged
            // by the forced services, the original's commits were charged to a forced service
            // inside the restored copy's session, or broke the invariant after a manual
            // failover in it, found by a regression audit.)
            let another_database = |l: u64| self.separate_databases(ledger.role_at(l), last_role);
            let mut unexcused = Vec::new();
            let mut lost_here = Vec::new();
            for l in missing {
                if another_database(l) {
                    lost_here.push(l);
                    continue;
                }
                match lost_by(l) {
                    Some(seq) => {
                        *lost_by_forced.entry(seq).or_insert(0) += 1;
                        lost_here.push(l);
                    }
                    // Written outside the session, after SET PARTNER OFF: lost to the session
                    // that went on without it.
                    None if self.acknowledged_outside(generation, l) => lost_here.push(l),
                    // Acknowledged in a session set up after the last principal's.
                    None if session_of_role(ledger.role_at(l)) > session_of_role(last_role) => {
                        lost_here.push(l)
                    }
                    None => unexcused.push(l),
                }
            }
            // Commits missing without excuse are lost too (the report's count is every
            // acknowledged commit missing from the last principal's log), and they break the
            // invariant.
            for part in [&lost_here, &unexcused] {
                lost += part.len() as u64;
                if let (Some(first), Some(last)) = (part.first(), part.last()) {
                    ranges.push((*first, *last));
                }
            }
            if let Some(first) = unexcused.first() {
                broken.push(format!(
                    "{} acknowledged commits of {} (role sequence {}) are missing from the last principal's log, the first at lsn {first}",
                    unexcused.len(),
                    self.name(ledger.node),
                    shown_role(ledger.role_sequence)
                ));
            }
        }
        for message in broken {
            self.violate("acknowledged_durable", message);
        }
        self.lost = lost;
        ranges.sort_unstable();
        self.lost_ranges = ranges;
        self.lost_by_forced = lost_by_forced;
    }
}

/// Whether two logs hold the same content over (lo, hi]: the same generation everywhere.
pub fn same_content(a: &[(u64, u64)], b: &[(u64, u64)], lo: u64, hi: u64) -> bool {
    if hi <= lo {
        return true;
    }
    let points = std::iter::once(lo).chain(
        a.iter()
            .chain(b)
            .map(|&(from, _)| from)
            .filter(|&f| f > lo && f < hi),
    );
    for x in points {
        if generation_at(a, x + 1) != generation_at(b, x + 1) {
            return false;
        }
    }
    true
}

/// The session a history role sequence belongs to (0 for the first; see `Node::role_offset`).
fn session_of_role(role_sequence: u64) -> u64 {
    role_sequence / super::world::SESSION_ROLES
}

/// A history role sequence as a message shows it: the session's own number, and which
/// session when it is not the first (see `Node::role_offset`).
fn shown_role(role_sequence: u64) -> String {
    let session_roles = super::world::SESSION_ROLES;
    match role_sequence / session_roles {
        0 => role_sequence.to_string(),
        k => format!("{} of session {}", role_sequence % session_roles, k + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(node: usize, seq: u64, at: Nanos, segments: Vec<(u64, u64)>, end: u64) -> ServeStart {
        ServeStart::new(node, seq, at, &segments, end)
    }

    // A serving start keeps its log's newest generations only (memory stays flat however many
    // failovers): below them a commit is not judged against it; above, as before.
    #[test]
    fn a_serving_start_keeps_its_newest_generations() {
        let segments: Vec<(u64, u64)> = (0..100).map(|g| (g * 10, g)).collect();
        let s = ServeStart::new(0, 1, 0, &segments, 2_000);
        assert_eq!(s.segments.len(), SERVE_SEGMENTS_KEPT);
        assert_eq!(s.segments_floor, Some(360));
        assert!(s.holds(100, 77), "below the kept ones: unjudged");
        assert!(s.holds(995, 99) && !s.holds(995, 98), "judged above them");
        assert!(!s.holds(2_001, 99), "past its end");
        let short = ServeStart::new(0, 1, 0, &segments[..10], 2_000);
        assert_eq!((short.segments.len(), short.segments_floor), (10, None));
    }

    #[test]
    fn two_principals_at_one_role_sequence_break_single_principal() {
        let mut h = History::default();
        h.serve(start(0, 1, 10, vec![(0, 1)], 0));
        h.serve(start(1, 1, 20, vec![(0, 1)], 0));
        assert!(h
            .verdicts()
            .iter()
            .any(|(n, held, _)| *n == "single_principal" && !held));
    }

    #[test]
    fn an_old_principal_may_finish_what_its_successor_has_never_new_commits() {
        let mut h = History::default();
        h.generation(1, 0, 0);
        h.serve(start(1, 1, 100, vec![(0, 1), (500, 2)], 500));
        h.acknowledged(150, 0, 7, 0, 400, 1); // the successor has it
        assert!(h.verdicts().iter().all(|(_, held, _)| *held));
        h.acknowledged(160, 0, 8, 0, 600, 1); // a new one: not in the successor's log
        assert!(h
            .verdicts()
            .iter()
            .any(|(n, held, _)| *n == "single_principal" && !held));
    }

    #[test]
    fn forced_service_losses_are_counted_not_violations() {
        let mut h = History::default();
        h.generation(1, 0, 0);
        for lsn in [100, 200, 300, 400] {
            h.acknowledged(lsn, 0, lsn, 0, lsn, 1);
        }
        h.forced.push((1, 250, vec![(0, 1)]));
        h.judge_durability(&[(0, 1), (250, 2)], 1000, 1);
        assert_eq!(h.lost, 2);
        assert!(h.verdicts().iter().all(|(_, held, _)| *held));
        // Without the forced service the same loss is a violation.
        let mut h2 = History::default();
        h2.generation(1, 0, 0);
        h2.acknowledged(1, 0, 3, 0, 300, 1);
        h2.judge_durability(&[(0, 1), (250, 2)], 1000, 1);
        assert!(h2
            .verdicts()
            .iter()
            .any(|(n, held, _)| *n == "acknowledged_durable" && !held));
    }

    // Reference section 4: forcing service can give two principals, reported as a split brain.
    // An old principal that serves its abandoned fork after the forced principal went down is
    // one, though they never serve at once; it lasts while the old one serves, and a restart of
    // the forced principal meanwhile does not open a second one.
    #[test]
    fn an_old_principal_serving_after_the_forced_one_went_down_is_a_split_brain() {
        let mut h = History::default();
        h.serve(start(0, 0, 0, vec![(0, 1)], 0));
        h.stop_serving(0, 10); // powered off
        h.forced.push((1, 250, vec![(0, 1)]));
        h.serve(start(1, 1, 20, vec![(0, 1), (250, 2)], 250));
        h.stop_serving(1, 30); // the forced principal crashes
        assert!(h.split_brains.is_empty());
        h.serve(start(0, 0, 40, vec![(0, 1)], 300)); // the old one restarts, unaware
        assert_eq!(h.split_brains.len(), 1);
        let sb = &h.split_brains[0];
        assert_eq!((sb.start, sb.end, sb.nodes), (40, None, [1, 0]));
        assert_eq!((sb.cause, sb.stale), (SplitCause::ForcedService, Some(0)));
        h.serve(start(1, 1, 50, vec![(0, 1), (250, 2)], 250)); // restarted
        assert_eq!(h.split_brains.len(), 1, "the same split brain goes on");
        h.stop_serving(1, 55);
        assert_eq!(
            h.split_brains[0].end, None,
            "the stale principal still serves"
        );
        h.stop_serving(0, 60);
        assert_eq!(h.split_brains[0].end, Some(60));
        // Without a forced service, an instance serving again at an older role sequence after
        // an automatic failover is no split brain (single_principal judges its commits).
        let mut h2 = History::default();
        h2.serve(start(0, 0, 0, vec![(0, 1)], 0));
        h2.stop_serving(0, 10);
        h2.serve(start(1, 1, 20, vec![(0, 1)], 250));
        h2.stop_serving(1, 30);
        h2.serve(start(0, 0, 40, vec![(0, 1)], 300));
        assert!(h2.split_brains.is_empty());
        // Both instances knowingly removed mirroring (each ran or heard SET PARTNER OFF): two
        // copies serving are the DBA's choice, whether or not the forced one still serves.
        let mut h3 = History::default();
        h3.serve(start(0, 0, 0, vec![(0, 1)], 0));
        h3.stop_serving(0, 10);
        h3.forced.push((1, 250, vec![(0, 1)]));
        h3.serve(start(1, 1, 20, vec![(0, 1), (250, 2)], 250));
        for node in [0, 1] {
            h3.left_session(node, 25);
            h3.ended_knowingly(node);
        }
        h3.stop_serving(1, 30);
        h3.serve(start(0, 0, 40, vec![(0, 1)], 300));
        assert!(h3.split_brains.is_empty());
    }

    // reference section 7: SET PARTNER OFF ends the session on the instance that runs it. A
    // mirror that never heard of it takes over (with its witness) while the old principal goes
    // on as a database without mirroring: two serve at once, by the operator's doing. That is
    // a split brain caused by PARTNER OFF, and what the old principal acknowledged after it
    // left is lost to the session; before it left, the same gap is a broken invariant.
    #[test]
    fn commits_acknowledged_outside_the_session_are_a_split_brain_not_a_violation() {
        let mut h = History::default();
        h.generation(1, 0, 0);
        h.serve(start(0, 0, 0, vec![(0, 1)], 0));
        h.acknowledged(10, 0, 1, 0, 100, 1); // in the session, and on the mirror
        h.left_session(0, 20);
        h.acknowledged(25, 0, 2, 0, 200, 1); // a database without mirroring
        h.serve(start(1, 1, 30, vec![(0, 1)], 150)); // the mirror takes over without it
        h.acknowledged(35, 0, 3, 0, 300, 1);
        assert_eq!(h.split_brains.len(), 1);
        assert_eq!(h.split_brains[0].cause, SplitCause::PartnerOff);
        h.judge_durability(&[(0, 1)], 150, 0);
        assert_eq!(h.lost, 2);
        assert!(h.verdicts().iter().all(|(_, held, _)| *held));
        // Had it not left the session, the same history breaks both invariants.
        let mut h2 = History::default();
        h2.generation(1, 0, 0);
        h2.serve(start(0, 0, 0, vec![(0, 1)], 0));
        h2.acknowledged(10, 0, 1, 0, 100, 1);
        h2.serve(start(1, 1, 30, vec![(0, 1)], 150));
        h2.acknowledged(35, 0, 3, 0, 300, 1);
        h2.judge_durability(&[(0, 1)], 150, 0);
        let broken: Vec<_> = h2
            .verdicts()
            .into_iter()
            .filter(|(_, held, _)| !held)
            .map(|(n, _, _)| n)
            .collect();
        assert_eq!(broken, vec!["single_principal", "acknowledged_durable"]);
    }

    // reference section 7: a principal that ran SET PARTNER OFF while cut off and mirrored its
    // database again began a second session (role sequences from SESSION_ROLES on), its log
    // going on in the same generation. Its old mirror took over the first session and serves at
    // the end: the second session's commits are another database's, lost to the split brain,
    // not a broken `acknowledged_durable`; judged against the second session's log, the same
    // gap is one.
    #[test]
    fn commits_of_a_later_session_are_lost_to_an_older_sessions_copy_not_broken() {
        let session_2 = crate::engine::world::SESSION_ROLES;
        let history = || {
            let mut h = History::default();
            h.generation(1, 0, 0);
            h.serve(start(0, 0, 0, vec![(0, 1)], 0));
            h.acknowledged(10, 0, 1, 0, 100, 1);
            h.left_session(0, 20);
            h.acknowledged(25, 0, 2, 0, 200, 1); // outside any session
            h.joined_session(0, 30);
            h.acknowledged(35, 0, 3, session_2, 300, 1); // in the second session
            h
        };
        let mut h = history();
        h.judge_durability(&[(0, 1)], 150, 1);
        assert_eq!(h.lost, 2);
        assert!(h.verdicts().iter().all(|(_, held, _)| *held));
        let mut h2 = history();
        h2.judge_durability(&[(0, 1)], 250, session_2);
        assert_eq!(h2.lost, 1);
        assert!(h2
            .verdicts()
            .iter()
            .any(|(n, held, _)| *n == "acknowledged_durable" && !held));
    }

    #[test]
    fn same_content_compares_generations() {
        assert!(same_content(&[(0, 1)], &[(0, 1), (900, 2)], 0, 900));
        assert!(!same_content(&[(0, 1)], &[(0, 1), (500, 2)], 0, 900));
    }
}
