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

// Reference section 6: a damaged page on the principal is fetched from the mirror only when
// the session is SYNCHRONIZED. Either way the report says what became of it: the repair left
// no trace when it succeeded (found by an audit), so the fault could not be told from a typo.
#[test]
fn a_damaged_page_on_the_principal_is_noted_repaired_or_not() {
    let file = common::sims_file("quickstart.toml");
    let source = std::fs::read_to_string(&file).expect("the quickstart scenario");
    let noted = |at: &str| {
        let source = format!(
            "{source}\n[[fault]]\nat = \"{at}\"\nkind = \"corrupt_page\"\ntarget = \"alpha\"\n"
        );
        let scenario = mirror_sim::scenario::parse(&source, &file).expect("valid input");
        common::run(&scenario).notes
    };
    let synchronized = noted("20s");
    assert!(
        synchronized
            .iter()
            .any(|n| n == "alpha: a damaged page was repaired from the mirror's copy"),
        "notes: {synchronized:?}"
    );
    // At 0.5 s the session is not set up yet.
    let early = noted("500ms");
    assert!(
        early
            .iter()
            .any(|n| n == "alpha: a damaged page and no mirror to repair it from"),
        "notes: {early:?}"
    );
}
