//! Development aid: how many distinct states remain when parts of the state are ignored.
use mirror_model::{Configuration, Mode, SessionModel, SessionState};
use stateright::Model;
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

fn h<T: Hash>(t: &T) -> u64 {
    let mut s = DefaultHasher::new();
    t.hash(&mut s);
    s.finish()
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let mode = match a[1].as_str() {
        "hp" => Mode::HighPerformance,
        "hs" => Mode::HighSafety,
        _ => Mode::HighSafetyWitness,
    };
    let n = |i: usize| a[i].parse::<u8>().unwrap();
    let c = Configuration::new(mode)
        .transactions(n(2))
        .crashes(n(3))
        .partitions(n(4))
        .suspicions(n(5))
        .commands(n(6));
    let model = SessionModel::new(c);
    let init = model.initial_state();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut stack = vec![init];
    let mut proj: Vec<HashSet<u64>> = vec![HashSet::new(); 6];
    while let Some(s) = stack.pop() {
        let f = |s: &SessionState| -> [u64; 6] {
            let net: Vec<Vec<_>> = s
                .network
                .iter()
                .map(|q| q.iter().map(|p| p.env.clone()).collect())
                .collect();
            [
                h(&(
                    &s.partners,
                    &s.witness,
                    &net,
                    &s.flushes,
                    &s.logs,
                    &s.redo_pending,
                    &s.take_over_pending,
                    &s.cut,
                    &s.budgets,
                )),
                h(&(
                    &s.partners,
                    &s.witness,
                    &net,
                    &s.flushes,
                    &s.logs,
                    &s.redo_pending,
                    &s.take_over_pending,
                )),
                h(&(&s.partners, &s.witness)),
                h(&(&s.partners[0], &s.partners[1])),
                h(&s.ghost),
                h(&(&net)),
            ]
        };
        let p = f(&s);
        for k in 0..6 {
            proj[k].insert(p[k]);
        }
        let mut actions = Vec::new();
        model.actions(&s, &mut actions);
        for action in actions {
            let next = model.next_state(&s, action).unwrap();
            if seen.insert(h(&next)) {
                stack.push(next);
            }
        }
    }
    println!("unique {}", seen.len());
    for (k, name) in [
        "no ghost/records",
        "+no cut/budgets",
        "instances only",
        "partners only",
        "ghost only",
        "network only",
    ]
    .iter()
    .enumerate()
    {
        println!("{name}: {}", proj[k].len());
    }
}
