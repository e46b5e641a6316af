//! A census of the witness mode's state graph, to judge reductions before building them:
//! `cargo run -p mirror-model --release --example census -- TX CRASHES PARTITIONS [full|process|one-step] [--projections]`.
//!
//! It explores the graph depth-first (its own loop, one thread, fingerprints only) and prints:
//! - unique states, edges, back edges (an edge to a state on the depth-first stack: the graph
//!   has a cycle, and a partial-order reduction needs a cycle proviso), deadlocks (states
//!   without actions), the first cycle found, and a histogram of the enabled actions per state;
//! - with `--projections`, how many states remain once a candidate dead variable is forgotten
//!   (the ghost history; the ghost as sets; the messages in flight; the budgets; connection
//!   numbers renumbered in order per initiator; `Link::lost`; the log carried by `Packet`s; the
//!   conditions a `FailoverRequest` declared): an upper bound on what canonicalising it merges;
//! - with `process` or `one-step`, the same figures for an *optimistic, unsound* reduced
//!   search, as an upper bound on what a partial-order reduction could gain. `process` expands
//!   only the enabled actions of one instance whose every input queue is non-empty (a
//!   persistent set by instance, ignoring the driver's reads across instances); `one-step`
//!   expands the smallest set of enabled actions closed under one-step dependency (two actions
//!   depend when either disables the other or the two orders reach different states), ignoring
//!   actions enabled later. Both lose deadlocks, so neither may be used to check anything.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use mirror_model::config::{Configuration, Mode};
use mirror_model::model::{Action, SessionModel};
use mirror_model::shared::Shared;
use mirror_model::state::{channel, Ghost, SessionState, GAMMA, INSTANCES};
use mirror_protocol::InstanceId;
use stateright::Model;

fn fp<T: Hash>(t: &T) -> u64 {
    ahash::RandomState::with_seeds(9, 8, 7, 6).hash_one(t)
}

#[derive(Copy, Clone, PartialEq, Eq)]
enum Reduction {
    Full,
    Process,
    OneStep,
}

/// One entry of the depth-first stack: a state, its actions, the next one to take, its
/// fingerprint.
type Frame = (SessionState, Vec<Action>, usize, u64);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: census TX CRASHES PARTITIONS [full|process|one-step] [--projections]";
    let budget = |k: usize| -> u8 { args.get(k).and_then(|a| a.parse().ok()).expect(usage) };
    let configuration = Configuration::new(Mode::HighSafetyWitness)
        .transactions(budget(0))
        .crashes(budget(1))
        .partitions(budget(2));
    let reduction = match args.get(3).map(String::as_str) {
        None | Some("full") | Some("--projections") => Reduction::Full,
        Some("process") => Reduction::Process,
        Some("one-step") => Reduction::OneStep,
        Some(_) => panic!("{usage}"),
    };
    let projections = args.iter().any(|a| a == "--projections");
    let model = SessionModel::new(configuration.clone());
    println!("{}", configuration.name());

    let expand = |s: &SessionState| {
        let mut actions = Vec::new();
        model.actions(s, &mut actions);
        match reduction {
            Reduction::Full => actions,
            Reduction::Process => by_process(s, actions),
            Reduction::OneStep => one_step(&model, s, actions),
        }
    };

    // Per fingerprint: whether the state is on the stack.
    let mut on_stack: HashMap<u64, bool> = HashMap::new();
    let (mut edges, mut back_edges, mut deadlocks) = (0usize, 0usize, 0usize);
    let mut enabled = [0usize; 16];
    let names = [
        "without the ghost",
        "ghost as sets",
        "without the messages in flight",
        "without the budgets",
        "connection numbers renumbered",
        "Link::lost forgotten",
        "Packet::records cleared",
        "Packet::declared cleared",
    ];
    let mut projected: Vec<HashSet<u64>> = vec![HashSet::new(); names.len()];
    let init = model.init_states().remove(0);
    let f = fp(&init);
    on_stack.insert(f, true);
    let actions = expand(&init);
    let mut stack: Vec<Frame> = vec![(init, actions, 0, f)];
    while let Some(top) = stack.last_mut() {
        if top.2 == 0 {
            enabled[top.1.len().min(15)] += 1;
            if top.1.is_empty() {
                deadlocks += 1;
            }
            if projections {
                for (k, p) in projected.iter_mut().enumerate() {
                    p.insert(project(&top.0, k));
                }
            }
        }
        if top.2 < top.1.len() {
            let action = top.1[top.2].clone();
            top.2 += 1;
            let next = model.next_state(&top.0, action).expect("a next state");
            edges += 1;
            let f = fp(&next);
            match on_stack.get(&f) {
                Some(true) => {
                    back_edges += 1;
                    if back_edges == 1 {
                        print_cycle(&stack, f);
                    }
                }
                Some(false) => {}
                None => {
                    on_stack.insert(f, true);
                    let actions = expand(&next);
                    stack.push((next, actions, 0, f));
                }
            }
        } else {
            on_stack.insert(top.3, false);
            stack.pop();
        }
    }
    println!(
        "unique {} edges {edges} back edges {back_edges} deadlocks {deadlocks}",
        on_stack.len()
    );
    println!("states by number of actions expanded: {enabled:?}");
    if projections {
        for (name, p) in names.iter().zip(&projected) {
            println!("{name}: {}", p.len());
        }
    }
}

fn print_cycle(stack: &[Frame], f: u64) {
    let start = stack.iter().position(|e| e.3 == f).expect("on the stack");
    println!("first cycle:");
    for (s, actions, next, _) in &stack[start..] {
        let _ = s;
        println!(
            "  {}",
            mirror_model::report::action_name(&actions[next - 1])
        );
    }
    println!("  messages in flight where it starts:");
    for queue in &stack[start].0.network {
        for p in queue.iter() {
            println!("    {:?}", p.env);
        }
    }
}

/// The fingerprint of `s` with candidate dead variable `k` forgotten.
fn project(s: &SessionState, k: usize) -> u64 {
    let mut p = s.clone();
    match k {
        0 => p.ghost = Shared::default(),
        1 => {
            let mut g = Ghost::clone(&s.ghost);
            g.acked
                .sort_by_key(|a| (a.tx, a.lsn, a.role_sequence, a.by));
            g.acked.dedup();
            g.served.sort_by_key(|r| (r.by, r.role_sequence));
            g.forced.sort_by_key(|r| (r.by, r.role_sequence));
            g.switches.sort_by_key(|r| (r.kind, r.to, r.role_sequence));
            p.ghost = Shared::new(g);
        }
        2 => p.network = Default::default(),
        3 => {
            p.budgets.crashes = 0;
            p.budgets.partitions = 0;
            p.budgets.suspicions = 0;
        }
        4 => return fp(&renumbered(s)),
        5 => return fp(&without_lost(&renumbered(s))),
        6 | 7 => {
            for q in p.network.iter_mut() {
                let packets = q
                    .iter()
                    .map(|packet| {
                        let mut packet = packet.clone();
                        if k == 6 {
                            packet.records.clear();
                        } else {
                            packet.declared.clear();
                        }
                        packet
                    })
                    .collect();
                *q = Shared::new(packets);
            }
        }
        _ => unreachable!(),
    }
    fp(&p)
}

/// The state as text with every connection number (and each instance's connection counter)
/// replaced by its rank among the numbers of its initiator in the state: an order-preserving
/// renumbering (the protocol compares connection numbers by order, `Links::on_connect`).
fn renumbered(s: &SessionState) -> String {
    let text = format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        &*s.partners[0],
        &*s.partners[1],
        s.witness.as_deref(),
        s.network.iter().map(|q| q.to_vec()).collect::<Vec<_>>(),
        s.flushes,
        &*s.logs[0],
        &*s.logs[1],
        s.redo_pending,
        s.take_over_pending,
        s.budgets,
        &*s.ghost,
        s.commands_issued
    );
    let patterns = [
        ("ConnId { initiator: InstanceId(", "1), number: ", ' '),
        ("Links { me: InstanceId(", "1), counter: ", ','),
    ];
    // Every occurrence: (start of the number, end, initiator, number), in text order.
    let mut found = Vec::new();
    for (prefix, middle, end) in patterns {
        let mut at = 0;
        while let Some(k) = text[at..].find(prefix) {
            let id = at + k + prefix.len();
            let initiator: usize = text[id..id + 1].parse().expect("an instance");
            let from = id + middle.len();
            let to = from + text[from..].find(end).expect("a number's end");
            let number: u64 = text[from..to].parse().expect("a number");
            found.push((from, to, initiator, number));
            at = to;
        }
    }
    found.sort();
    let mut numbers: [Vec<u64>; 4] = Default::default();
    for &(_, _, i, n) in &found {
        numbers[i].push(n);
    }
    numbers.iter_mut().for_each(|v| {
        v.sort();
        v.dedup();
    });
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (from, to, i, n) in found {
        out.push_str(&text[at..from]);
        let rank = numbers[i].iter().position(|&m| m == n).expect("collected");
        out.push_str(&rank.to_string());
        at = to;
    }
    out.push_str(&text[at..]);
    out
}

fn without_lost(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(k) = rest.find("lost: Some(") {
        out.push_str(&rest[..k]);
        out.push_str("lost: None");
        let after = &rest[k..];
        rest = &after[after.find("}),").expect("a ConnId") + 2..];
    }
    out.push_str(rest);
    out
}

/// The instance an action belongs to.
fn owner(a: &Action) -> InstanceId {
    match *a {
        Action::Deliver { to, .. } => to,
        Action::Tick(i)
        | Action::Flushed(i)
        | Action::RedoDrained(i)
        | Action::TakeOver(i)
        | Action::Commit(i)
        | Action::Crash(i)
        | Action::Restart(i) => i,
        Action::DeclareLost { on, .. } | Action::Command { on, .. } => on,
        Action::Partition(..) | Action::Heal(..) => unreachable!("not with reduced partitions"),
    }
}

/// Optimistic: the enabled actions of the instance with the fewest, among those whose every
/// input queue is non-empty (else every action).
fn by_process(s: &SessionState, actions: Vec<Action>) -> Vec<Action> {
    let mut best: Option<Vec<Action>> = None;
    for p in INSTANCES {
        let mine: Vec<Action> = actions.iter().filter(|a| owner(a) == p).cloned().collect();
        let fed = INSTANCES.iter().all(|&q| {
            q == p || (q == GAMMA && s.witness.is_none()) || !s.network[channel(q, p)].is_empty()
        });
        if !mine.is_empty() && fed && best.as_ref().is_none_or(|b| mine.len() < b.len()) {
            best = Some(mine);
        }
    }
    best.unwrap_or(actions)
}

/// Optimistic: the smallest set of enabled actions closed under one-step dependency.
fn one_step(model: &SessionModel, s: &SessionState, actions: Vec<Action>) -> Vec<Action> {
    let n = actions.len();
    if n <= 1 {
        return actions;
    }
    let next: Vec<SessionState> = actions
        .iter()
        .map(|a| model.next_state(s, a.clone()).expect("a next state"))
        .collect();
    let offered: Vec<Vec<Action>> = next
        .iter()
        .map(|t| {
            let mut v = Vec::new();
            model.actions(t, &mut v);
            v
        })
        .collect();
    let mut dependent = vec![vec![false; n]; n];
    for i in 0..n {
        for j in i + 1..n {
            let d = !offered[i].contains(&actions[j])
                || !offered[j].contains(&actions[i])
                || model.next_state(&next[i], actions[j].clone())
                    != model.next_state(&next[j], actions[i].clone());
            dependent[i][j] = d;
            dependent[j][i] = d;
        }
    }
    let mut best: Option<Vec<usize>> = None;
    for start in 0..n {
        let mut set = vec![start];
        let mut k = 0;
        while k < set.len() {
            let x = set[k];
            for (y, &d) in dependent[x].iter().enumerate() {
                if d && !set.contains(&y) {
                    set.push(y);
                }
            }
            k += 1;
        }
        if best.as_ref().is_none_or(|b| set.len() < b.len()) {
            best = Some(set);
        }
    }
    let mut best = best.expect("n > 1");
    best.sort();
    best.into_iter().map(|i| actions[i].clone()).collect()
}
