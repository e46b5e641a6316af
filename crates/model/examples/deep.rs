//! Development aid: depth-first search for the first path longer than DEPTH; prints its tail.
use mirror_model::{report, Configuration, Mode, SessionModel};
use stateright::Model;
use std::collections::HashSet;

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
    let depth: usize = a[7].parse().unwrap();
    let model = SessionModel::new(c);
    let init = model.initial_state();
    let mut seen = HashSet::new();
    seen.insert(init.clone());
    let mut stack = vec![(
        init,
        Vec::<(mirror_model::SessionState, mirror_model::Action)>::new(),
    )];
    while let Some((s, path)) = stack.pop() {
        if path.len() >= depth {
            for (k, (st, act)) in path.iter().enumerate().skip(path.len().saturating_sub(60)) {
                println!("{k}. {}", report::describe(st, act));
            }
            for i in 0..3 {
                println!("     {}", report::summarize(&s, i));
            }
            println!(
                "{:?}",
                s.network.iter().map(|q| q.len()).collect::<Vec<_>>()
            );
            return;
        }
        let mut actions = Vec::new();
        model.actions(&s, &mut actions);
        for action in actions {
            let next = model.next_state(&s, action.clone()).unwrap();
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push((s.clone(), action));
                stack.push((next, p));
            }
        }
    }
    println!("no path of length {depth}; {} states", seen.len());
}
