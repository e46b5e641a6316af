//! Development aid: one random walk, printed step by step.
use mirror_model::{report, Configuration, Mode, SessionModel};
use stateright::Model;

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
    let steps: usize = a[7].parse().unwrap();
    let mut seed: u64 = a[8].parse().unwrap();
    let model = SessionModel::new(c);
    let mut s = model.initial_state();
    let mut log: std::collections::VecDeque<String> = Default::default();
    let mut k = 0;
    for _ in 0..steps {
        k += 1;
        let mut actions = Vec::new();
        model.actions(&s, &mut actions);
        if actions.is_empty() {
            println!("terminal");
            break;
        }
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let pick = ((seed >> 33) as usize) % actions.len();
        let action = actions[pick].clone();
        let text = report::describe(&s, &action);
        s = model.next_state(&s, action).unwrap();
        let mut entry = format!("{k}. {text}\n");
        for i in 0..3 {
            entry.push_str(&format!("     {}\n", report::summarize(&s, i)));
        }
        log.push_back(entry);
        if log.len() > 40 {
            log.pop_front();
        }
    }
    for e in &log {
        print!("{e}");
    }
    println!("length {k}");
    println!(
        "{:?}",
        s.network.iter().map(|q| q.len()).collect::<Vec<_>>()
    );
}
