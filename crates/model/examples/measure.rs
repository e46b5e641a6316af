//! Development aid: checks one configuration given as
//! `MODE TX CRASHES PARTITIONS SUSPICIONS COMMANDS [dfs|bfs] [STATE_MAX]` and prints its size.

use mirror_model::{check, CheckOptions, Configuration, Mode, Strategy};

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
    let strategy = if a.get(7).map(String::as_str) == Some("bfs") {
        Strategy::Bfs
    } else {
        Strategy::Dfs
    };
    let mut o = CheckOptions::new(strategy, if strategy == Strategy::Bfs { 1 } else { 2 });
    o.shortest = true;
    o.state_count_max = a.get(8).map_or(0, |s| s.parse().unwrap());
    #[allow(clippy::disallowed_methods)]
    let t = std::time::Instant::now();
    let r = check(&c, &o);
    let s = t.elapsed().as_secs_f64();
    println!(
        "{}: states {} unique {} depth {} complete {} {:.1}s {:.0}/s",
        c.name(),
        r.states,
        r.unique_states,
        r.depth,
        r.complete,
        s,
        r.unique_states as f64 / s
    );
    for p in &r.properties {
        println!(
            "  {} {} {:?}",
            p.name,
            p.outcome.name(),
            p.trace.as_ref().map(|t| t.len() - 1)
        );
    }
    let only = std::env::var("SHOW").unwrap_or_default();
    for p in &r.properties {
        if p.outcome != mirror_model::Outcome::Violated || (!only.is_empty() && only != p.name) {
            continue;
        }
        let t = p.trace.as_ref().unwrap();
        println!("\n{}:", p.name);
        for st in mirror_model::report::steps(t) {
            println!("{:>3}. {}", st.number, st.action);
            for c in st.changes {
                println!("      {c}");
            }
        }
        for l in mirror_model::properties::explain(&t.last().unwrap().0, p.name) {
            println!("  => {l}");
        }
    }
}
