//! Checking a scenario's expectations against what a run produced, and explaining every
//! difference: which expectation, what was expected, what happened, and for text a diff against
//! the closest actual line.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use crate::observe::Observation;
use crate::scenario::Expect;

/// One expectation that did not hold.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Mismatch {
    /// Which expectation (`expect.failed_step`, `expect.logs.amtopmgr.log[1]`).
    pub what: String,
    /// What the scenario expects.
    pub expected: String,
    /// What happened.
    pub actual: String,
    /// More context: a diff, or the lines that were there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Mismatch {
    fn new(
        what: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Self {
        Self {
            what: what.into(),
            expected: expected.into(),
            actual: actual.into(),
            detail: None,
        }
    }

    fn with_detail(mut self, detail: String) -> Self {
        self.detail = Some(detail);
        self
    }
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.what)?;
        writeln!(f, "  expected: {}", self.expected)?;
        writeln!(f, "  actual:   {}", self.actual)?;
        if let Some(d) = &self.detail {
            for line in d.lines() {
                writeln!(f, "  | {line}")?;
            }
        }
        Ok(())
    }
}

/// How transcript snapshots are treated.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Snapshots {
    /// Compare; a missing snapshot file is written (first run) unless running in CI.
    Compare,
    /// Write every snapshot (`AMT_CONFORMANCE_UPDATE=1`).
    Update,
    /// Compare; a missing snapshot is a mismatch (CI).
    Strict,
}

/// Checks `expect` against `obs`; paths (the transcript snapshot) are relative to `base_dir`.
pub fn check(
    expect: &Expect,
    obs: &Observation,
    base_dir: &Path,
    snapshots: Snapshots,
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let outcome = obs.outcome_name();
    if let Some(want) = expect.outcome
        && want.name() != outcome
    {
        let mut m = Mismatch::new("expect.outcome", want.name(), outcome);
        let mut detail = Vec::new();
        if let Some(s) = obs.last_session() {
            detail.push(format!(
                "last session: {} failed_step={} error={}",
                serde_json::to_string(&s.outcome).unwrap_or_default(),
                s.failed_step.map_or("-", |s| s.name()),
                s.error.as_deref().unwrap_or("-")
            ));
        }
        if let Some(e) = &obs.config_error {
            detail.push(format!("configuration error: {e}"));
        }
        if let Some(e) = &obs.client_refusal {
            detail.push(format!("client agent refused: {e}"));
        }
        if !detail.is_empty() {
            m = m.with_detail(detail.join("\n"));
        }
        out.push(m);
    }
    if let Some(want) = expect.failed_step {
        let actual = obs
            .last_session()
            .and_then(|s| s.failed_step)
            .map_or_else(|| "none".to_owned(), |s| s.name().to_owned());
        if actual != want.name() {
            out.push(Mismatch::new("expect.failed_step", want.name(), actual));
        }
    }
    if let Some(want) = expect.amt_status {
        let actual = obs.amt_status.unwrap_or_default();
        if actual != want {
            out.push(Mismatch::new(
                "expect.amt_status",
                want.to_string(),
                actual.to_string(),
            ));
        }
    }
    if let Some(want) = expect.sessions
        && want != obs.sessions.len()
    {
        out.push(Mismatch::new(
            "expect.sessions",
            want.to_string(),
            obs.sessions.len().to_string(),
        ));
    }
    if let Some(want) = &expect.config_error {
        match &obs.config_error {
            Some(actual) if actual.contains(want.as_str()) => {}
            actual => out.push(Mismatch::new(
                "expect.config_error",
                format!("an error containing {want:?}"),
                actual
                    .clone()
                    .unwrap_or_else(|| "no configuration error".into()),
            )),
        }
    }
    if let Some(want) = &expect.client_refusal
        && obs.client_refusal.as_deref() != Some(want.as_str())
    {
        out.push(Mismatch::new(
            "expect.client_refusal",
            want.clone(),
            obs.client_refusal.clone().unwrap_or_else(|| "none".into()),
        ));
    }
    check_device(expect, obs, &mut out);
    check_logs(expect, obs, &mut out);
    if let Some(want) = &expect.documented {
        let want: BTreeSet<String> = want.iter().cloned().collect();
        if want != obs.documented {
            out.push(Mismatch::new(
                "expect.documented",
                format!("{want:?}"),
                format!("{:?}", obs.documented),
            ));
        }
    }
    check_hellos(expect, obs, &mut out);
    if let Some(want) = expect.elapsed
        && want.0 != obs.elapsed
    {
        out.push(Mismatch::new(
            "expect.elapsed",
            want.to_string(),
            amt_sim::faults::DurationText(obs.elapsed).to_string(),
        ));
    }
    check_wire(expect, obs, &mut out);
    if let Some(file) = &expect.transcript {
        check_transcript(&base_dir.join(file), &obs.transcript, snapshots, &mut out);
    }
    out
}

fn check_device(expect: &Expect, obs: &Observation, out: &mut Vec<Mismatch>) {
    let Some(want) = &expect.device else { return };
    let actual = obs.device.clone().unwrap_or_default();
    let unreadable = actual.error.is_some();
    if let Some(u) = want.unreadable
        && u != unreadable
    {
        out.push(Mismatch::new(
            "expect.device.unreadable",
            u.to_string(),
            actual
                .error
                .clone()
                .map_or_else(|| "false (read back fine)".into(), |e| format!("true: {e}")),
        ));
    }
    let mut field = |name: &str, want: Option<String>, got: &Option<String>| {
        if let Some(w) = want
            && got.as_deref() != Some(w.as_str())
        {
            let got = got.clone().unwrap_or_else(|| {
                actual
                    .error
                    .as_ref()
                    .map_or_else(|| "absent".into(), |e| format!("unreadable: {e}"))
            });
            out.push(Mismatch::new(format!("expect.device.{name}"), w, got));
        }
    };
    field(
        "provisioning_state",
        want.provisioning_state.map(|s| {
            serde_json::to_value(s)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        }),
        &actual.provisioning_state,
    );
    field("host_name", want.host_name.clone(), &actual.host_name);
    field("domain_name", want.domain_name.clone(), &actual.domain_name);
}

fn check_logs(expect: &Expect, obs: &Observation, out: &mut Vec<Mismatch>) {
    for (file, wanted) in &expect.logs {
        let log = obs.logs.get(file).cloned().unwrap_or_default();
        let mut from = 0;
        for (i, want) in wanted.iter().enumerate() {
            let pattern = Pattern::new(want);
            let haystack = if pattern.framed {
                &log.lines
            } else {
                &log.messages
            };
            match haystack.iter().skip(from).position(|l| pattern.matches(l)) {
                Some(pos) => from += pos + 1,
                None => {
                    let earlier = haystack.iter().take(from).any(|l| pattern.matches(l));
                    let actual = if earlier {
                        "present, but before the previous expected line (order)".to_owned()
                    } else if haystack.is_empty() {
                        format!("{} is empty", file.file_name())
                    } else {
                        "not found".to_owned()
                    };
                    let detail = nearest_diff(want, haystack).unwrap_or_default();
                    let listing: Vec<String> = haystack.iter().map(|l| format!("  {l}")).collect();
                    let detail = format!("{detail}{}:\n{}", file.file_name(), listing.join("\n"));
                    out.push(
                        Mismatch::new(
                            format!("expect.logs.{}[{i}]", file.file_name()),
                            want.clone(),
                            actual,
                        )
                        .with_detail(detail),
                    );
                    break;
                }
            }
        }
    }
    for (file, unwanted) in &expect.absent_logs {
        let log = obs.logs.get(file).cloned().unwrap_or_default();
        for (i, line) in unwanted.iter().enumerate() {
            let pattern = Pattern::new(line);
            let haystack = if pattern.framed {
                &log.lines
            } else {
                &log.messages
            };
            if let Some(found) = haystack.iter().find(|l| pattern.matches(l)) {
                out.push(Mismatch::new(
                    format!("expect.absent_logs.{}[{i}]", file.file_name()),
                    format!("no line matching {line:?}"),
                    found.clone(),
                ));
            }
        }
    }
}

fn check_hellos(expect: &Expect, obs: &Observation, out: &mut Vec<Mismatch>) {
    let Some(want) = &expect.hellos else { return };
    let h = &obs.hellos;
    for (name, w, a) in [
        ("sent", want.sent, h.sent),
        ("delivered", want.delivered, h.delivered),
        ("unresolved", want.unresolved, h.unresolved),
        ("discarded", want.discarded, h.discarded),
    ] {
        if let Some(w) = w
            && w != a
        {
            out.push(Mismatch::new(
                format!("expect.hellos.{name}"),
                w.to_string(),
                a.to_string(),
            ));
        }
    }
    if let Some(w) = want.last_at
        && h.last_at != Some(w.0)
    {
        out.push(Mismatch::new(
            "expect.hellos.last_at",
            w.to_string(),
            h.last_at.map_or_else(
                || "no Hello".into(),
                |d| amt_sim::faults::DurationText(d).to_string(),
            ),
        ));
    }
    if let Some(w) = want.stopped
        && w != h.stopped
    {
        out.push(Mismatch::new(
            "expect.hellos.stopped",
            w.to_string(),
            h.stopped.to_string(),
        ));
    }
}

fn check_wire(expect: &Expect, obs: &Observation, out: &mut Vec<Mismatch>) {
    let Some(want) = &expect.wire else { return };
    let w = &obs.wire;
    if let Some(tls) = &want.tls
        && tls != &w.tls
    {
        out.push(Mismatch::new(
            "expect.wire.tls",
            format!("{tls:?}"),
            format!("{:?}", w.tls),
        ));
    }
    if let Some(n) = want.http_requests
        && n != w.http_requests
    {
        out.push(Mismatch::new(
            "expect.wire.http_requests",
            n.to_string(),
            w.http_requests.to_string(),
        ));
    }
    if let Some(r) = &want.refused_connections
        && r != &w.refused_connections
    {
        out.push(Mismatch::new(
            "expect.wire.refused_connections",
            format!("{r:?}"),
            format!("{:?}", w.refused_connections),
        ));
    }
    if let Some(n) = want.auth_failures
        && n != w.auth_failures
    {
        out.push(Mismatch::new(
            "expect.wire.auth_failures",
            n.to_string(),
            w.auth_failures.to_string(),
        ));
    }
    for (i, call) in want.calls.iter().enumerate() {
        if !w.calls.iter().any(|c| c == call) {
            out.push(
                Mismatch::new(
                    format!("expect.wire.calls[{i}]"),
                    call.clone(),
                    "not answered with 200",
                )
                .with_detail(format!("answered: {}", w.calls.join(", "))),
            );
        }
    }
    for (i, call) in want.absent_calls.iter().enumerate() {
        let n = w.calls.iter().filter(|c| *c == call).count();
        if n > 0 {
            out.push(Mismatch::new(
                format!("expect.wire.absent_calls[{i}]"),
                format!("{call} never answered with 200"),
                format!("answered {n} time(s)"),
            ));
        }
    }
}

fn check_transcript(path: &Path, actual: &str, snapshots: Snapshots, out: &mut Vec<Mismatch>) {
    let what = format!("expect.transcript ({})", path.display());
    let write = |out: &mut Vec<Mismatch>| {
        if let Err(e) = std::fs::write(path, actual) {
            out.push(Mismatch::new(
                what.clone(),
                "a snapshot file",
                format!("cannot write it: {e}"),
            ));
        }
    };
    match (std::fs::read_to_string(path), snapshots) {
        (_, Snapshots::Update) => write(out),
        (Err(_), Snapshots::Compare) => write(out),
        (Err(e), Snapshots::Strict) => out.push(Mismatch::new(
            what.clone(),
            "a committed snapshot",
            format!("{e} (run once with AMT_CONFORMANCE_UPDATE=1 and commit it)"),
        )),
        (Ok(expected), _) => {
            if expected != actual {
                let diff = TextDiff::from_lines(expected.as_str(), actual)
                    .unified_diff()
                    .context_radius(2)
                    .header("snapshot", "this run")
                    .to_string();
                out.push(
                    Mismatch::new(what.clone(), "the snapshot", "a different transcript")
                        .with_detail(diff),
                );
            }
        }
    }
}

/// A character diff of `want` against the most similar line of `lines`.
fn nearest_diff(want: &str, lines: &[String]) -> Option<String> {
    let best = lines.iter().max_by(|a, b| {
        let ra = TextDiff::from_chars(want, a.as_str()).ratio();
        let rb = TextDiff::from_chars(want, b.as_str()).ratio();
        ra.total_cmp(&rb)
    })?;
    if TextDiff::from_chars(want, best.as_str()).ratio() < 0.5 {
        return None;
    }
    // Word level, runs of one kind grouped: `[-{uuid}-]{+8c4d…+} [-complete.-]{+completed.+}`.
    let diff = TextDiff::from_words(want, best.as_str());
    let mut runs: Vec<(ChangeTag, String)> = Vec::new();
    for change in diff.iter_all_changes() {
        match runs.last_mut() {
            Some((tag, text)) if *tag == change.tag() => text.push_str(change.value()),
            _ => runs.push((change.tag(), change.value().to_owned())),
        }
    }
    let mut marked = String::new();
    for (tag, text) in runs {
        let (open, close) = match tag {
            ChangeTag::Equal => {
                marked.push_str(&text);
                continue;
            }
            ChangeTag::Delete => ("[-", "-]"),
            ChangeTag::Insert => ("{+", "+}"),
        };
        let trimmed = text.trim_end();
        marked.push_str(open);
        marked.push_str(trimmed);
        marked.push_str(close);
        marked.push_str(&text[trimmed.len()..]);
    }
    Some(format!(
        "closest line ([-expected-] {{+actual+}}):\n  {marked}\n"
    ))
}

/// A log line with placeholders.
#[derive(Debug)]
pub struct Pattern {
    parts: Vec<Part>,
    /// It includes the framing, so it matches whole framed lines.
    pub framed: bool,
}

#[derive(Debug, PartialEq)]
enum Part {
    Literal(String),
    Hole(Hole),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Hole {
    Uuid,
    Ip,
    Time,
    Date,
    Hex,
    Number,
    Any,
}

impl Hole {
    fn accepts(self, c: char) -> bool {
        match self {
            Self::Uuid | Self::Hex => c.is_ascii_hexdigit() || c == '-' || c == 'x',
            Self::Ip => c.is_ascii_hexdigit() || c == '.' || c == ':',
            Self::Time => c.is_ascii_digit() || c == ':' || c == '.',
            Self::Date => c.is_ascii_digit() || c == '-',
            Self::Number => c.is_ascii_digit(),
            Self::Any => true,
        }
    }
}

impl Pattern {
    /// Parses `{uuid}`, `{ip}`, `{time}`, `{date}`, `{hex}`, `{n}`, `{*}`; other braces are text.
    pub fn new(text: &str) -> Self {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let (before, after) = rest.split_at(open);
            literal.push_str(before);
            let hole = [
                ("{uuid}", Hole::Uuid),
                ("{ip}", Hole::Ip),
                ("{time}", Hole::Time),
                ("{date}", Hole::Date),
                ("{hex}", Hole::Hex),
                ("{n}", Hole::Number),
                ("{*}", Hole::Any),
            ]
            .into_iter()
            .find(|(token, _)| after.starts_with(token));
            match hole {
                Some((token, hole)) => {
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Hole(hole));
                    rest = &after[token.len()..];
                }
                None => {
                    literal.push('{');
                    rest = &after[1..];
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Self {
            parts,
            framed: text.contains("$$<") || text.contains("<![LOG["),
        }
    }

    /// Whether the whole `line` matches.
    pub fn matches(&self, line: &str) -> bool {
        match_parts(&self.parts, line)
    }
}

fn match_parts(parts: &[Part], text: &str) -> bool {
    match parts.split_first() {
        None => text.is_empty(),
        Some((Part::Literal(l), rest)) => text
            .strip_prefix(l.as_str())
            .is_some_and(|t| match_parts(rest, t)),
        Some((Part::Hole(h), rest)) => {
            // Try every non-empty run of accepted characters, shortest first.
            let mut end = 0;
            for (i, c) in text.char_indices() {
                if !h.accepts(c) {
                    break;
                }
                end = i + c.len_utf8();
                if match_parts(rest, &text[end..]) {
                    return true;
                }
            }
            let _ = end;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_match_their_kind_only() {
        let p = Pattern::new("Error: The hash list of AMT device {uuid} does not contain it.");
        assert!(p.matches(
            "Error: The hash list of AMT device 8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d does not contain it."
        ));
        assert!(!p.matches("Error: The hash list of AMT device  does not contain it."));
        assert!(!p.matches("Error: The hash list of AMT device zzz does not contain it."));
        let p = Pattern::new("Fail to connect and get core version of machine {ip}.");
        assert!(p.matches("Fail to connect and get core version of machine 127.0.0.1."));
        let p = Pattern::new("a {*} b");
        assert!(p.matches("a anything at all b"));
        assert!(!p.matches("a b"));
        let p = Pattern::new("literal {braces} stay");
        assert!(p.matches("literal {braces} stay"));
    }

    #[test]
    fn framed_patterns_are_recognised() {
        assert!(
            Pattern::new(
                "x  $$<SMS_AMT_OPERATION_MANAGER><{date} {time}+480><thread=2880 (0x0B40)>"
            )
            .framed
        );
        assert!(!Pattern::new("Error: x").framed);
        let p = Pattern::new(
            "x  $$<SMS_AMT_OPERATION_MANAGER><{date} {time}+480><thread={n} (0x0B40)>",
        );
        assert!(p.matches(
            "x  $$<SMS_AMT_OPERATION_MANAGER><01-15-2027 00:00:00.000+480><thread=2880 (0x0B40)>"
        ));
    }

    #[test]
    fn absent_calls_and_elapsed_can_fail() {
        let mut obs = Observation::default();
        obs.wire.calls = vec!["AMT_SetupAndConfigurationService.Unprovision".into()];
        obs.elapsed = std::time::Duration::from_secs(40);
        let expect = Expect {
            wire: Some(crate::scenario::WireExpect {
                absent_calls: vec!["AMT_SetupAndConfigurationService.Unprovision".into()],
                ..Default::default()
            }),
            elapsed: Some(amt_sim::faults::DurationText(
                std::time::Duration::from_secs(30),
            )),
            ..Expect::default()
        };
        let what: Vec<String> = check(&expect, &obs, Path::new("."), Snapshots::Strict)
            .into_iter()
            .map(|m| m.what)
            .collect();
        assert_eq!(what, ["expect.elapsed", "expect.wire.absent_calls[0]"]);
    }

    #[test]
    fn nearest_line_diff_marks_the_difference() {
        let lines = vec![
            "Error: Device internal error.".to_owned(),
            "other".to_owned(),
        ];
        let d = nearest_diff("Error: Device internal errors.", &lines).unwrap_or_default();
        assert!(d.contains("Device internal [-errors.-]{+error.+}"), "{d}");
    }
}
