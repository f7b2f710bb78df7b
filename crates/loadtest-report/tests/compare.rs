//! compare: B against A on the committed runs (see data/README.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn compare_a_with_b() {
    let md = loadtest_report::compare_runs(&data("run_a"), &data("run_b")).unwrap();
    assert!(md.contains("- Compared (same load mode and level in both runs): concurrency 1, concurrency 4, concurrency 16"), "{md}");
    assert!(md.contains("- Only in A (not compared): none"));
    assert!(md.contains("- Only in B (not compared): concurrency 32"));
    assert!(md.contains("## Load concurrency 16"));
    assert!(!md.contains("## Load concurrency 32"));
    assert!(md.contains("**worse**") && md.contains("better"));
    // B had injected faults at every load.
    assert!(md.contains("| failed share | 0.0 % |"));
    assert!(!md.contains("NaN"));
    insta::with_settings!({filters => vec![(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]")]}, {
        insta::assert_snapshot!("compare_a_b", md);
    });
}

#[test]
fn compare_is_directional_and_handles_no_common_load() {
    let ab = loadtest_report::compare_runs(&data("run_a"), &data("run_b")).unwrap();
    let ba = loadtest_report::compare_runs(&data("run_b"), &data("run_a")).unwrap();
    assert!(ba.contains("- Only in A (not compared): concurrency 32"));
    assert_ne!(ab, ba);
    let a = loadtest_report::RunData::load(&data("run_a")).unwrap();
    let mut other = loadtest_report::RunData::load(&data("run_no_metrics")).unwrap();
    for s in &mut other.summary.steps {
        s.load += 100.0;
    }
    let md = loadtest_report::render_compare(&a, &other, &Default::default())
        .unwrap()
        .markdown;
    assert!(md.contains("The runs share no load level: nothing to compare."));
    // Server rows need server data in both runs.
    let nm = loadtest_report::RunData::load(&data("run_no_metrics")).unwrap();
    let md = loadtest_report::render_compare(&a, &nm, &Default::default())
        .unwrap()
        .markdown;
    assert!(!md.contains("server gen tok/s"));
    assert!(md.contains("| TTFT p99 |"));
}

#[test]
fn compare_reports_a_missing_run() {
    let err = loadtest_report::compare_runs(&data("run_a"), &data("no_such_run")).unwrap_err();
    assert!(err.to_string().contains("no_such_run"), "{err}");
}

#[test]
fn a_run_against_itself_has_no_significant_change() {
    let c = loadtest_report::compare_runs_with(
        &data("run_a"),
        &data("run_a"),
        &loadtest_report::CompareOptions::default(),
    )
    .unwrap();
    assert!(c.regressions.is_empty(), "{:?}", c.regressions);
    assert!(!c.markdown.contains(" better |") && !c.markdown.contains("**worse**"));
    assert!(
        c.markdown
            .contains("None: the runs used the same settings.")
    );
    assert!(c.markdown.contains("| TTFT p99 |") && c.markdown.contains("| n A |"));
}

#[test]
fn compare_is_seeded_and_bounded_options_are_checked() {
    let opts = loadtest_report::CompareOptions::default();
    let one = loadtest_report::compare_runs_with(&data("run_a"), &data("run_b"), &opts).unwrap();
    let two = loadtest_report::compare_runs_with(&data("run_a"), &data("run_b"), &opts).unwrap();
    assert_eq!(one.markdown, two.markdown);
    assert!(!one.regressions.is_empty());
    let bad = loadtest_report::CompareOptions {
        resamples: 0,
        ..opts.clone()
    };
    assert!(loadtest_report::compare_runs_with(&data("run_a"), &data("run_b"), &bad).is_err());
    // A larger practical threshold calls fewer changes.
    let strict = loadtest_report::CompareOptions {
        min_change: 5.0,
        ..opts
    };
    let c = loadtest_report::compare_runs_with(&data("run_a"), &data("run_b"), &strict).unwrap();
    assert!(
        c.regressions.len() < one.regressions.len(),
        "{:?}",
        c.regressions
    );
}
