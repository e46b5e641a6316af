//! Development aid: `mutant NAME MODE TX CRASHES PARTITIONS SUSPICIONS COMMANDS` (mutants feature).
use mirror_model::{check, CheckOptions, Configuration, Mode, Strategy};
use std::str::FromStr;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let mutant = mirror_protocol::Mutant::from_str(&a[1]).unwrap();
    let mode = match a[2].as_str() {
        "hp" => Mode::HighPerformance,
        "hs" => Mode::HighSafety,
        _ => Mode::HighSafetyWitness,
    };
    let n = |i: usize| a[i].parse::<u8>().unwrap();
    let c = Configuration::new(mode)
        .transactions(n(3))
        .crashes(n(4))
        .partitions(n(5))
        .suspicions(n(6))
        .commands(n(7))
        .mutant(Some(mutant));
    let mut o = CheckOptions::new(Strategy::Bfs, 1);
    o.stop_at = Some(mutant.breaks());
    o.shortest = true;
    #[allow(clippy::disallowed_methods)]
    let t = std::time::Instant::now();
    let r = check(&c, &o);
    println!(
        "{} {}: states {} unique {} {:.1}s",
        mutant,
        c.name(),
        r.states,
        r.unique_states,
        t.elapsed().as_secs_f64()
    );
    for p in &r.properties {
        if p.outcome == mirror_model::Outcome::Violated {
            let t = p.trace.as_ref().unwrap();
            println!("  {} violated in {} steps", p.name, t.len() - 1);
            if p.name == mutant.breaks() {
                print!("{}", mirror_model::report::render(t, p.name));
            }
        }
    }
}
