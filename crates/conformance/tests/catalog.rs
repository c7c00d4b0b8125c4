//! `cargo test` runs the whole scenario catalog (`scenarios/`) in-process, snapshots the
//! documented (error-catalog) lines every scenario writes, framed as in the files, and proves the
//! harness can fail: a scenario with wrong expectations fails with a readable diff.
//!
//! `every_catalog_entry_has_a_scenario` enforces that every failure-catalog entry A-01…A-20 is
//! produced by a scenario (device, environment and flow in YAML).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use conformance::catalog;
use conformance::expect::Snapshots;
use conformance::report::{self, Summary};
use conformance::runner::{self, RunOptions, ScenarioReport, Verdict};
use provisioner_core::logs::LogFile;

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

/// The catalog, loaded and run once for every test of this file that needs its reports.
struct CatalogRun {
    scenarios: Vec<conformance::scenario::LoadedScenario>,
    reports: Vec<ScenarioReport>,
}

fn catalog_run() -> Result<&'static CatalogRun, String> {
    static RUN: OnceLock<Result<CatalogRun, String>> = OnceLock::new();
    RUN.get_or_init(|| {
        let files =
            catalog::scenario_files(&[repo().join("scenarios")]).map_err(|e| e.to_string())?;
        let (scenarios, errors) = catalog::load_all(&files);
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
        let reports = runner::run_all(&scenarios, &options(), &|_, _, _| {});
        Ok(CatalogRun { scenarios, reports })
    })
    .as_ref()
    .map_err(Clone::clone)
}

#[test]
fn the_whole_catalog_passes_in_process() -> TestResult {
    let CatalogRun { scenarios, reports } = catalog_run()?;
    assert!(catalog::duplicate_ids(scenarios).is_empty());
    assert!(scenarios.len() >= 2, "{} scenarios", scenarios.len());
    let summary = Summary::of(reports, std::time::Duration::ZERO);
    assert_eq!(
        summary.passed,
        scenarios.len(),
        "{}",
        report::human(reports, &summary)
    );
    // Every scenario names where it comes from.
    assert!(
        scenarios
            .iter()
            .all(|s| !s.scenario.source.trim().is_empty())
    );
    Ok(())
}

/// Every documented (A-xx) line each scenario wrote, framed as in its file, with the file name and
/// the line's id, scenario by scenario (ids in order; scenarios without one are left out).
#[test]
fn documented_lines_of_every_scenario_snapshot() -> TestResult {
    let CatalogRun { reports, .. } = catalog_run()?;
    let mut reports: Vec<&ScenarioReport> = reports.iter().collect();
    reports.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = Vec::new();
    for r in reports {
        let obs = r
            .observed
            .as_ref()
            .ok_or_else(|| format!("{}: not run ({:?})", r.id, r.verdict))?;
        let mut lines = Vec::new();
        for file in LogFile::ALL {
            let Some(log) = obs.logs.get(&file) else {
                continue;
            };
            for (id, line) in log.ids.iter().zip(&log.lines) {
                if id.starts_with("A-") {
                    lines.push(format!("{} [{id}] {line}", file.file_name()));
                }
            }
        }
        if !lines.is_empty() {
            out.push(format!("== {}", r.id));
            out.extend(lines);
        }
    }
    assert!(out.len() > 20, "{out:?}");
    insta::assert_snapshot!("documented_lines", out.join("\n"));
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
