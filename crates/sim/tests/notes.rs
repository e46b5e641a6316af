//! The report's notes tell the user about input that parses but cannot mean what it says.

mod common;

// spec/scenario.md rejects unknown keys "so that a typo never silently changes a run"; a fault
// scheduled after the end of the run is the same kind of typo (in `at` or `duration`). It is
// valid input, so the run goes on, and the report says that the fault never happened.
#[test]
fn a_fault_after_the_end_of_the_run_is_noted() {
    let (scenario, report) = quickstart_with_fault("500.5s", "crash");
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
    let noted = |at: &str| quickstart_with_fault(at, "corrupt_page").1.notes;
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

/// The quickstart scenario with one more fault of `kind` on alpha at `at`, and its report.
fn quickstart_with_fault(
    at: &str,
    kind: &str,
) -> (mirror_sim::scenario::Scenario, mirror_sim::report::Report) {
    let file = common::sims_file("quickstart.toml");
    let source = std::fs::read_to_string(&file).expect("the quickstart scenario");
    let source =
        format!("{source}\n[[fault]]\nat = \"{at}\"\nkind = \"{kind}\"\ntarget = \"alpha\"\n");
    let scenario = mirror_sim::scenario::parse(&source, &file).expect("valid input");
    let report = common::run(&scenario);
    (scenario, report)
}
