//! HTML reports (`--format html`) of `check-device` and of `run`: one self-contained file (inline
//! CSS, no script, no external resource), a summary table, one row per check or scenario with a
//! `<details>` drill-down (evidence, or the expectation diff), and verdict filters that work with
//! JavaScript off (links to `#only-fail` etc.; CSS `:target` hides the other rows).

use std::fmt::Write as _;

use crate::device_checks::{SuiteReport, Verdict as CheckVerdict};
use crate::report::Summary;
use crate::runner::{ScenarioReport, Verdict};

/// Escapes text for HTML.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.4em;margin:0 0 .3em}\
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}\
th{background:#f3f3f3}.n{text-align:right}\
.pass{color:#176f2c}.fail{color:#b00020;font-weight:bold}.skip{color:#7a6a00}\
nav a{margin-right:1em}\
.row{border-bottom:1px solid #eee;padding:.2em 0}.row summary{cursor:pointer}\
.tag{display:inline-block;width:3.3em;font-family:monospace}\
.id{font-family:monospace;margin-right:.6em}\
pre{background:#f7f7f7;border:1px solid #ddd;padding:.5em;white-space:pre-wrap;max-width:110em}\
.meta{color:#555}\
#only-fail:target .row:not(.r-fail),#only-pass:target .row:not(.r-pass),\
#only-skip:target .row:not(.r-skip){display:none}";

fn page(title: &str, summary: &str, rows: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
<title>{t}</title><style>{STYLE}</style></head><body>\
<div id=\"only-fail\"><div id=\"only-pass\"><div id=\"only-skip\"><div id=\"all\">\
<h1>{t}</h1>{summary}\
<nav>Show: <a href=\"#all\">all</a><a href=\"#only-fail\">failed</a><a href=\"#only-pass\">passed</a>\
<a href=\"#only-skip\">skipped</a></nav>{rows}</div></div></div></div>\
</body></html>\n",
        t = esc(title)
    )
}

fn counts_table(rows: &[(String, usize, usize, usize)]) -> String {
    let mut out = String::from(
        "<table id=\"summary\"><tr><th>Area</th><th class=\"n\">Passed</th><th class=\"n\">Failed</th><th class=\"n\">Skipped</th><th class=\"n\">Total</th></tr>",
    );
    for (name, p, f, s) in rows {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n pass\">{p}</td><td class=\"n fail\">{f}</td><td class=\"n skip\">{s}</td><td class=\"n\">{}</td></tr>",
            esc(name),
            p + f + s
        );
    }
    out.push_str("</table>");
    out
}

/// The check-device report.
pub fn check_device(report: &SuiteReport) -> String {
    let mut areas: Vec<(String, usize, usize, usize)> = Vec::new();
    for r in &report.results {
        let name = r.area.name().to_owned();
        let i = match areas.iter().position(|a| a.0 == name) {
            Some(i) => i,
            None => {
                areas.push((name, 0, 0, 0));
                areas.len() - 1
            }
        };
        if let Some(a) = areas.get_mut(i) {
            match r.verdict {
                CheckVerdict::Pass => a.1 += 1,
                CheckVerdict::Fail(_) => a.2 += 1,
                CheckVerdict::Skip { .. } => a.3 += 1,
            }
        }
    }
    let (p, f, s) = report.counts();
    areas.push(("All".to_owned(), p, f, s));
    let summary = format!(
        "<p class=\"meta\">Device <code>{}</code>, personality {} ({}). \
<strong id=\"counts\">{p} passed, {f} failed, {s} skipped</strong></p>{}",
        esc(&report.target),
        esc(report.personality.as_deref().unwrap_or("unknown")),
        esc(report.personality_source),
        counts_table(&areas)
    );
    let mut rows = String::new();
    for r in &report.results {
        let (class, tag) = match &r.verdict {
            CheckVerdict::Pass => ("pass", "PASS"),
            CheckVerdict::Fail(_) => ("fail", "FAIL"),
            CheckVerdict::Skip { .. } => ("skip", "SKIP"),
        };
        let mut detail = format!(
            "<p class=\"meta\">Kind {} · source: {}</p>",
            r.kind.name(),
            esc(r.source)
        );
        match &r.verdict {
            CheckVerdict::Pass => {}
            CheckVerdict::Skip { reason } => {
                let _ = write!(
                    detail,
                    "<p>Skipped ({}): {}</p>",
                    esc(reason.id()),
                    esc(&reason.to_string())
                );
            }
            CheckVerdict::Fail(e) => {
                let _ = write!(
                    detail,
                    "<p><b>Expected:</b> {}<br><b>Actual:</b> {}</p><pre>{}</pre>",
                    esc(&e.expected),
                    esc(&e.actual),
                    esc(&e.exchange.join("\n\n"))
                );
            }
        }
        let open = if class == "fail" { " open" } else { "" };
        let _ = write!(
            rows,
            "<details class=\"row r-{class}\"{open}><summary><span class=\"tag {class}\">{tag}</span>\
<span class=\"id\">{}</span>{}</summary>{detail}</details>",
            esc(r.id),
            esc(r.requirement)
        );
    }
    page("amt-conformance check-device", &summary, &rows)
}

/// The scenario report of `run`.
pub fn scenarios(reports: &[ScenarioReport], summary: &Summary, backend: &str) -> String {
    let head = format!(
        "<p class=\"meta\">Backend {}. <strong id=\"counts\">{} passed, {} failed, {} skipped, {} errors</strong> \
({} ms)</p>{}",
        esc(backend),
        summary.passed,
        summary.failed,
        summary.skipped,
        summary.errors,
        summary.wall_ms,
        counts_table(&[(
            "Scenarios".to_owned(),
            summary.passed,
            summary.failed + summary.errors,
            summary.skipped
        )])
    );
    let mut rows = String::new();
    for r in reports {
        let (class, tag, detail) = match &r.verdict {
            Verdict::Passed => ("pass", "PASS", String::new()),
            Verdict::Failed { mismatches } => (
                "fail",
                "FAIL",
                format!(
                    "<pre>{}</pre>",
                    esc(&mismatches
                        .iter()
                        .map(ToString::to_string)
                        .collect::<String>())
                ),
            ),
            Verdict::Skipped { reason } => (
                "skip",
                "SKIP",
                format!("<p>Skipped: {}</p>", esc(&reason.to_string())),
            ),
            Verdict::Error { message } => (
                "fail",
                "ERROR",
                format!("<pre>{}</pre>", esc(&message.to_string())),
            ),
        };
        let open = if class == "fail" { " open" } else { "" };
        let _ = write!(
            rows,
            "<details class=\"row r-{class}\"{open}><summary><span class=\"tag {class}\">{tag}</span>\
<span class=\"id\">{}</span>{}</summary><p class=\"meta\">source: {} · {}</p>{detail}</details>",
            esc(&r.id),
            esc(&r.title),
            esc(&r.source),
            esc(&r.path.display().to_string())
        );
    }
    page("amt-conformance run", &head, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_has_no_script_or_remote_resource() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let html = page("t", "<p>s</p>", "<details class=\"row r-pass\"></details>");
        assert!(!html.contains("<script"));
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(html.contains("#only-fail:target .row:not(.r-fail)"));
    }
}
