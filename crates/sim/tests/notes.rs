//! The report's notes tell the user about input that parses but cannot mean what it says.

mod common;

// spec/scenario.md rejects unknown keys "so that a typo never silently changes a run"; a fault
// scheduled after the end of the run is the same kind of typo (in `at` or `duration`). It is
// valid input, so the run goes on, and the report says that the fault never happened.
#[test]
fn a_fault_after_the_end_of_the_run_is_noted() {
    let file = common::sims_file("quickstart.toml");
    let source = std::fs::read_to_string(&file).expect("the quickstart scenario");
    let source =
        format!("{source}\n[[fault]]\nat = \"500.5s\"\nkind = \"crash\"\ntarget = \"alpha\"\n");
    let scenario = mirror_sim::scenario::parse(&source, &file).expect("valid input");
    let report = common::run(&scenario);
    let last = scenario.faults.len();
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains(&format!("fault {last} is at 500.5s, after the end"))),
        "notes: {:?}",
        report.notes
    );
}
