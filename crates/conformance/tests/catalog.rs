//! `cargo test` runs the whole scenario catalog (`scenarios/`) in-process, and proves the harness
//! can fail: a scenario with wrong expectations fails with a readable diff.

use std::path::{Path, PathBuf};

use conformance::catalog;
use conformance::expect::Snapshots;
use conformance::report::{self, Summary};
use conformance::runner::{self, RunOptions, Verdict};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn options() -> RunOptions {
    RunOptions {
        snapshots: Snapshots::Strict,
        ..RunOptions::default()
    }
}

#[test]
fn the_whole_catalog_passes_in_process() -> TestResult {
    let files = catalog::scenario_files(&[repo().join("scenarios")])?;
    let (scenarios, errors) = catalog::load_all(&files);
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(catalog::duplicate_ids(&scenarios).is_empty());
    assert!(scenarios.len() >= 2, "{} scenarios", scenarios.len());
    let reports = runner::run_all(&scenarios, &options(), &|_, _, _| {});
    let summary = Summary::of(&reports, std::time::Duration::ZERO);
    assert_eq!(
        summary.passed,
        scenarios.len(),
        "{}",
        report::human(&reports, &summary)
    );
    // Every scenario names where it comes from.
    assert!(
        scenarios
            .iter()
            .all(|s| !s.scenario.source.trim().is_empty())
    );
    Ok(())
}

#[test]
fn a_wrong_expectation_fails_with_a_readable_diff() -> TestResult {
    let loaded = conformance::scenario::Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/wrong-expectation.yaml"),
    )?;
    let r = runner::run_one(&loaded, &options());
    let Verdict::Failed { mismatches } = &r.verdict else {
        return Err(format!("expected a failure, got {:?}", r.verdict).into());
    };
    let what: Vec<&str> = mismatches.iter().map(|m| m.what.as_str()).collect();
    assert_eq!(
        what,
        [
            "expect.outcome",
            "expect.failed_step",
            "expect.device.provisioning_state",
            "expect.logs.amtopmgr.log[0]",
            "expect.wire.http_requests",
        ]
    );
    let summary = Summary::of(std::slice::from_ref(&r), std::time::Duration::ZERO);
    assert_eq!(summary.exit_code(), 1);
    let mut text = report::human(std::slice::from_ref(&r), &summary);
    // Wall times and the absolute path vary between runs.
    text = text.replace(&loaded.path.display().to_string(), "<file>");
    let text: String = text
        .lines()
        .map(|l| {
            if l.ends_with(" s") && l.contains("scenarios:") {
                "<summary>"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("wrong_expectation_human_report", text);
    Ok(())
}

#[test]
fn every_catalog_entry_has_a_scenario() -> TestResult {
    let files = catalog::scenario_files(&[repo().join("scenarios")])?;
    let (scenarios, _) = catalog::load_all(&files);
    let entries = conformance::explain::catalog_entries().map_err(|e| e.to_string())?;
    // A-01…A-20 and the site entries (K-00, K-01, N-01, N-02, C-01): every one has a scenario.
    assert_eq!(entries.len(), 25);
    let missing: Vec<&str> = entries
        .iter()
        .map(|e| e.id.as_str())
        .filter(|id| {
            !scenarios.iter().any(|s| {
                conformance::explain::entries_named_in(&s.scenario.source)
                    .iter()
                    .any(|e| e.id == *id)
            })
        })
        .collect();
    assert!(
        missing.is_empty(),
        "entries without a scenario: {missing:?}"
    );
    Ok(())
}
