//! Reports of a `check-device` run: human lines (`PASS|FAIL|SKIP <id> …`, evidence under each
//! failure, the count line last), JSON (documented in `crates/conformance/REPORTS.md`), JUnit
//! (quick-junit, one test case per check) and the `--list` table.

use std::fmt::Write as _;
use std::time::Duration;

use amt_sim::personality::Personality;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

use super::{CHECKS, Check, SuiteReport, Verdict};

/// Version of the check-device JSON layout.
pub const JSON_VERSION: u32 = 1;

/// The last line: `N passed, N failed, N skipped`.
pub fn count_line(report: &SuiteReport) -> String {
    let (p, f, s) = report.counts();
    format!("{p} passed, {f} failed, {s} skipped")
}

/// One line per check, evidence indented under failures, the count line last.
pub fn human(report: &SuiteReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "device {} personality {} ({})",
        report.target,
        report.personality.as_deref().unwrap_or("unknown"),
        report.personality_source
    );
    for r in &report.results {
        match &r.verdict {
            Verdict::Pass => {
                let _ = writeln!(out, "PASS {} {}", r.id, r.requirement);
            }
            Verdict::Skip { reason } => {
                let _ = writeln!(
                    out,
                    "SKIP {} {} [{}: {reason}]",
                    r.id,
                    r.requirement,
                    reason.id()
                );
            }
            Verdict::Fail(e) => {
                let _ = writeln!(out, "FAIL {} {}", r.id, r.requirement);
                let _ = writeln!(out, "     source:   {}", r.source);
                let _ = writeln!(out, "     expected: {}", e.expected);
                let _ = writeln!(out, "     actual:   {}", e.actual);
                for x in &e.exchange {
                    for line in x.lines().take(12) {
                        let _ = writeln!(out, "     | {line}");
                    }
                }
            }
        }
    }
    out.push_str(&count_line(report));
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    kind: &'static str,
    #[serde(flatten)]
    report: &'a SuiteReport,
    summary: JsonSummary,
}

#[derive(Serialize)]
struct JsonSummary {
    total: usize,
    passed: usize,
    failed: usize,
    skipped: usize,
}

/// The JSON report (REPORTS.md, "check-device JSON").
pub fn json(report: &SuiteReport) -> String {
    let (passed, failed, skipped) = report.counts();
    let doc = JsonReport {
        version: JSON_VERSION,
        kind: "check-device",
        report,
        summary: JsonSummary {
            total: report.results.len(),
            passed,
            failed,
            skipped,
        },
    };
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The JUnit report: one suite per area, one case per check.
pub fn junit(report: &SuiteReport) -> String {
    let mut junit = Report::new("amt-conformance check-device");
    let mut suites: Vec<TestSuite> = Vec::new();
    for r in &report.results {
        let name = format!("check-device.{}", r.area.name());
        let status = match &r.verdict {
            Verdict::Pass => TestCaseStatus::success(),
            Verdict::Fail(e) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!("expected {}; actual {}", e.expected, e.actual));
                s.set_type("requirement");
                s.set_description(format!(
                    "source: {}\nexpected: {}\nactual: {}\n{}",
                    r.source,
                    e.expected,
                    e.actual,
                    e.exchange.join("\n")
                ));
                s
            }
            Verdict::Skip { reason } => {
                let mut s = TestCaseStatus::skipped();
                s.set_description(format!("{}: {reason}", reason.id()));
                s
            }
        };
        let mut case = TestCase::new(format!("{} {}", r.id, r.requirement), status);
        case.set_classname(format!(
            "device.{}",
            r.id.split('-').next().unwrap_or("check")
        ));
        case.set_time(Duration::from_millis(r.wall_ms));
        match suites.iter_mut().find(|s| s.name.as_str() == name) {
            Some(s) => {
                s.add_test_case(case);
            }
            None => {
                let mut s = TestSuite::new(name);
                s.add_test_case(case);
                suites.push(s);
            }
        }
    }
    junit.add_test_suites(suites);
    let xml = junit
        .to_string()
        .unwrap_or_else(|e| format!("<!-- junit serialisation failed: {e} -->"));
    crate::report::without_testsuites_skipped(&xml)
}

/// `--list`: one line per check: id, kind, applies (for the personality, when given), source,
/// requirement. With a personality, checks that do not apply are marked `n/a`.
pub fn list(personality: Option<Personality>) -> String {
    let mut out = String::new();
    let traits = personality.map(Personality::traits);
    for c in CHECKS {
        let applies = match &traits {
            None => c.applies.describe().to_owned(),
            Some(t) if c.applies.holds(t) => "applies".to_owned(),
            Some(_) => format!("n/a ({})", c.applies.describe()),
        };
        let _ = writeln!(
            out,
            "{:<9} {:<11} {:<48} {} [{}]",
            c.id,
            c.kind.name(),
            applies,
            c.requirement,
            c.source
        );
    }
    if let Some(p) = personality {
        let n = CHECKS
            .iter()
            .filter(|c| traits.as_ref().is_some_and(|t| c.applies.holds(t)))
            .count();
        let _ = write!(out, "{n} of {} checks apply to {p}", CHECKS.len());
    } else {
        let _ = write!(out, "{} checks", CHECKS.len());
    }
    out
}

/// `DEVICE-CHECKS.md`, generated from the catalog.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Device checks\n\n\
         Generated from `crates/conformance/src/device_checks/catalog.rs` by \
         `amt-conformance check-device --list-markdown`; do not edit by hand \
         (`crates/conformance/tests/device_checks.rs` fails when this file and the catalog differ).\n\n\
         Kinds: **read-only** (no password), **admin** (needs `--admin-password`; before provisioning \
         that is the MEBx password), **destructive** (provisions and unprovisions the device; needs \
         `--allow-reset`). \"Applies\" names the firmware generations a check is for; \
         `check-device --list --personality NAME` shows which apply to one.\n",
    );
    let mut area = None;
    for c in CHECKS {
        if area != Some(c.area) {
            area = Some(c.area);
            let _ = write!(
                out,
                "\n## {}\n\n| Id | Kind | Applies | Requirement | Source |\n|---|---|---|---|---|\n",
                c.area.name()
            );
        }
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            c.id,
            c.kind.name(),
            c.applies.describe(),
            c.requirement.replace('|', "\\|"),
            c.source.replace('|', "\\|")
        );
    }
    out
}

/// The check with this id.
pub fn find(id: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.id == id)
}
