//! The log family: `logs` (lines in order per file), `absent_logs`, `log_counts` (lines per id
//! and file), `log_sequences` (ids on consecutive lines) and `documented` (the exact set of error-catalog ids), with the line patterns (placeholders), the closest-line word diff, and
//! what the wall clock cannot compare (framed lines with literal virtual-clock times).

use std::collections::BTreeSet;

use similar::{ChangeTag, TextDiff};

use super::{Expect, Mismatch};
use crate::observe::Observation;

/// Checks `expect.logs` and `expect.absent_logs`.
pub(crate) fn check_logs(expect: &Expect, obs: &Observation, out: &mut Vec<Mismatch>) {
    for (file, wanted) in &expect.logs {
        let log = obs.logs.get(file).cloned().unwrap_or_default();
        let mut from = 0;
        // Every unmatched line is reported (the file's lines are listed with the first one);
        // the lines after an unmatched one are still looked for after the last match.
        let mut listed = false;
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
                    let mut detail = nearest_diff(want, haystack).unwrap_or_default();
                    if !listed {
                        let listing: Vec<String> =
                            haystack.iter().map(|l| format!("  {l}")).collect();
                        detail = format!("{detail}{}:\n{}", file.file_name(), listing.join("\n"));
                        listed = true;
                    }
                    out.push(
                        Mismatch::new(
                            format!("expect.logs.{}[{i}]", file.file_name()),
                            want.clone(),
                            actual,
                        )
                        .with_detail(detail),
                    );
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

/// Checks `expect.log_counts`: per file, how many lines carry each catalog id (`*`: every line).
pub(crate) fn check_counts(expect: &Expect, obs: &Observation, out: &mut Vec<Mismatch>) {
    for (file, counts) in &expect.log_counts {
        let log = obs.logs.get(file).cloned().unwrap_or_default();
        for (id, want) in counts {
            let got = if id == "*" {
                log.ids.len()
            } else {
                log.ids.iter().filter(|i| *i == id).count()
            };
            if got != *want {
                out.push(
                    Mismatch::new(
                        format!("expect.log_counts.{}.{id}", file.file_name()),
                        want.to_string(),
                        got.to_string(),
                    )
                    .with_detail(format!(
                        "ids of {}: {}",
                        file.file_name(),
                        log.ids.join(", ")
                    )),
                );
            }
        }
    }
}

/// Checks `expect.log_sequences`: per file, runs of ids that must follow each other directly
/// (no other line between), somewhere in the file.
pub(crate) fn check_sequences(expect: &Expect, obs: &Observation, out: &mut Vec<Mismatch>) {
    for (file, runs) in &expect.log_sequences {
        let log = obs.logs.get(file).cloned().unwrap_or_default();
        for (i, run) in runs.iter().enumerate() {
            let found = run.is_empty()
                || log
                    .ids
                    .windows(run.len())
                    .any(|w| w.iter().zip(run).all(|(a, b)| a == b));
            if !found {
                out.push(
                    Mismatch::new(
                        format!("expect.log_sequences.{}[{i}]", file.file_name()),
                        run.join(" then "),
                        "no such run of consecutive lines",
                    )
                    .with_detail(format!(
                        "ids of {}: {}",
                        file.file_name(),
                        log.ids.join(", ")
                    )),
                );
            }
        }
    }
}

/// Checks `expect.documented`.
pub(crate) fn check_documented(expect: &Expect, obs: &Observation, out: &mut Vec<Mismatch>) {
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
}

/// On the wall clock: drops expected framed lines that pin a literal date or time; the notes say
/// how many per file.
pub(crate) fn relax_for_wall_clock(expect: &mut Expect, notes: &mut Vec<String>) {
    for (file, lines) in &mut expect.logs {
        let before = lines.len();
        lines.retain(|l| !pins_a_time(l));
        let dropped = before - lines.len();
        if dropped > 0 {
            notes.push(format!(
                "expect.logs.{}: {dropped} framed line(s) with a literal date or time not \
                 compared (virtual-clock times; use {{date}} and {{time}} to compare them here)",
                file.file_name()
            ));
        }
    }
}

/// A framed log line (`$$<` or `<![LOG[`) with a literal time (`00:00:00`) or date
/// (`01-15-2027`) instead of the `{time}` / `{date}` placeholders.
fn pins_a_time(line: &str) -> bool {
    if !(line.contains("$$<") || line.contains("<![LOG[")) {
        return false;
    }
    let b = line.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    (0..b.len()).any(|i| {
        let time = digit(i)
            && digit(i + 1)
            && at(i + 2, b':')
            && digit(i + 3)
            && digit(i + 4)
            && at(i + 5, b':')
            && digit(i + 6)
            && digit(i + 7);
        let date = digit(i)
            && digit(i + 1)
            && at(i + 2, b'-')
            && digit(i + 3)
            && digit(i + 4)
            && at(i + 5, b'-')
            && (i + 6..i + 10).all(digit);
        time || date
    })
}

/// A character diff of `want` against the most similar line of `lines`.
pub(crate) fn nearest_diff(want: &str, lines: &[String]) -> Option<String> {
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
    // A placeholder the actual text fills (`{uuid}` → `8c4d…`) is no difference: show the text.
    let mut i = 0;
    while i + 1 < runs.len() {
        let filled = matches!(
            (&runs[i], &runs[i + 1]),
            ((ChangeTag::Delete, d), (ChangeTag::Insert, ins))
                if d.contains('{') && d.trim() != ins.trim() && Pattern::new(d.trim()).matches(ins.trim())
        );
        if filled {
            let text = runs[i + 1].1.clone();
            runs[i] = (ChangeTag::Equal, text);
            runs.remove(i + 1);
        }
        i += 1;
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
