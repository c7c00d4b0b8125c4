//! `amt-conformance explain "<log line>"`: from a pasted log line to the error-catalog entries it
//! belongs to, their cause and fix, and the scenarios that reproduce them.
//!
//! The line may be a bare message, an SMS trace line (amtopmgr.log, amtproxymgr.log) or a CMTrace
//! line (oobmgmt.log); the framing is stripped with [`provisioner_core::logs::parse_line`]. The
//! message is matched against every text of [`provisioner_core::logs::CATALOG`]:
//!
//! 1. exactly (the template with its `{placeholders}` filled in, [`logs::match_message`]);
//! 2. with the line's own placeholders (`{uuid}`, `<UUID>`, `...`, `…`) taken as wildcards;
//! 3. tolerantly: ignoring case, runs of white space, curly versus straight quotes and a missing
//!    final period;
//! 4. partly: the line is a piece of a text, or a text is a piece of the line (the shorter side
//!    at least [`MIN_PARTIAL_CHARS`] characters of the line must stand against characters of the
//!    text, so a placeholder cannot swallow the whole line).
//!
//! Only the best tier that finds anything is reported. Catalog texts whose id starts with an
//! error-catalog entry (`A-18.isc` → A-18) are explained by the entry table in
//! `explain/entries.yaml` (error-catalog §3 in our words, correctable without touching Rust).

use std::fmt;
use std::path::PathBuf;
use std::sync::LazyLock;

use provisioner_core::logs::{self, CATALOG, LineFormat, LogFile, LogText, Versions, Wording};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The entry table, embedded at build time.
const ENTRIES_YAML: &str = include_str!("explain/entries.yaml");

/// Longest input considered, in characters; the rest is ignored (bounds the matcher's memory).
pub const MAX_INPUT_CHARS: usize = 2048;

/// Fewest characters of the line that must stand against characters of a text (not inside its
/// placeholders) for a partial match.
pub const MIN_PARTIAL_CHARS: usize = 20;

/// Fewest non-blank characters besides placeholders a line with placeholders needs; as many must
/// stand against characters of a text for it to match.
pub const MIN_WILDCARD_LITERALS: usize = 10;

/// How many nearest texts a line without a match gets as suggestions.
pub const MAX_SUGGESTIONS: usize = 3;

/// A scenario file, as the caller loaded it; `explain` lists those whose `source` names an entry.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
pub struct ScenarioRef {
    /// The scenario's `id`.
    pub id: String,
    /// The scenario's `title`.
    pub title: String,
    /// The scenario's `source`, free text such as `error-catalog A-18` or `seed 004 provisioning flow`.
    pub source: String,
    /// Where the scenario file is, as it should appear in the `run` command.
    pub path: PathBuf,
}

/// Whether the error catalog quotes log text for an entry.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogPresence {
    /// The catalog quotes log text; the provisioner's catalog has texts for the entry.
    Documented,
    /// The catalog gives no log line (see [`CatalogEntry::log_note`]).
    #[serde(rename = "none")]
    Absent,
}

/// One error-catalog entry (A-01…A-20) of `explain/entries.yaml`.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    /// The entry id: `A-18`.
    pub id: String,
    /// The slug of the catalog heading: `root-ca-key-over-2048`.
    pub name: String,
    /// One line for humans.
    pub title: String,
    /// Whether the catalog gives a log line.
    pub log: LogPresence,
    /// What the admin sees instead when there is no log line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_note: Option<String>,
    /// The entry whose texts this one writes (A-03 writes the A-02 texts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shares_texts_with: Option<String>,
    /// ConfigMgr 2007 service packs, as the catalog says (`SP1, SP2`, `SP2 (mixed mode)`).
    pub versions: String,
    /// Why it happens.
    pub cause: String,
    /// What to do about it.
    pub fix: String,
    /// The catalog's source tags (`S-DE; S-PREREQ`).
    pub source: String,
}

impl CatalogEntry {
    /// The entry id whose catalog texts this entry writes: its own, or [`Self::shares_texts_with`].
    pub fn texts_key(&self) -> &str {
        self.shares_texts_with.as_deref().unwrap_or(&self.id)
    }

    /// The provisioner's catalog texts of this entry, in catalog order.
    pub fn texts(&self) -> Vec<&'static LogText> {
        let key = self.texts_key();
        CATALOG
            .iter()
            .filter(|t| entry_key(t.id) == Some(key))
            .collect()
    }
}

/// The entry table could not be read (a mistake in `explain/entries.yaml`; the unit tests catch it).
#[derive(Clone, Debug, Eq, PartialEq, Error)]
#[error("explain/entries.yaml is invalid: {message}")]
pub struct EntriesError {
    /// The YAML parser's message, with line and column.
    pub message: String,
}

static ENTRIES: LazyLock<Result<Vec<CatalogEntry>, EntriesError>> = LazyLock::new(|| {
    serde_saphyr::from_str(ENTRIES_YAML).map_err(|e| EntriesError {
        message: e.to_string(),
    })
});

/// The error-catalog entries A-01…A-20, in catalog order.
pub fn catalog_entries() -> Result<&'static [CatalogEntry], EntriesError> {
    ENTRIES.as_deref().map_err(Clone::clone)
}

/// The entry with this id (`A-18`); `None` if there is none or the table is invalid.
pub fn lookup_entry(id: &str) -> Option<&'static CatalogEntry> {
    catalog_entries().ok()?.iter().find(|e| e.id == id)
}

/// The entries a free-text source names as whole words (`error-catalog A-02/A-03` → A-02, A-03),
/// for checking a scenario's `source`. Empty if the table is invalid.
pub fn entries_named_in(source: &str) -> Vec<&'static CatalogEntry> {
    catalog_entries()
        .unwrap_or(&[])
        .iter()
        .filter(|e| names_token(source, &e.id))
        .collect()
}

/// The error-catalog entry id of a catalog text id: `A-18.isc` → `A-18`, `A-06` → `A-06`,
/// `hello.received` → `None`.
pub fn entry_key(text_id: &str) -> Option<&str> {
    let key = text_id.split('.').next()?;
    // A-: the AMT error catalog; K-, N-, C-: the site entries of `reference/configmgr-sites.md`
    // (key exchange, signing certificate, certificate publishing).
    let digits = ["A-", "K-", "N-", "C-"]
        .iter()
        .find_map(|p| key.strip_prefix(p))?;
    (digits.len() == 2 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(key)
}

/// The status message id a line asks about: `5112`, `status 5112`, `status message 4404`,
/// `message ID 4405` (a STATMSG line is matched as a log text instead).
fn status_query(message: &str) -> Option<u32> {
    let lower = message.trim().to_ascii_lowercase();
    let rest = [
        "status message id",
        "status message",
        "message id",
        "status",
        "id",
    ]
    .iter()
    .find_map(|p| lower.strip_prefix(p))
    .unwrap_or(&lower);
    let digits = rest.trim().trim_start_matches(['=', ':', '#']).trim();
    if digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

/// Which framing the explained line had.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Framing {
    /// SMS trace (amtopmgr.log, amtproxymgr.log).
    SmsTrace,
    /// CMTrace (oobmgmt.log).
    CmTrace,
    /// No framing: the line is the message.
    Bare,
}

impl From<LineFormat> for Framing {
    fn from(format: LineFormat) -> Self {
        match format {
            LineFormat::SmsTrace => Self::SmsTrace,
            LineFormat::CmTrace => Self::CmTrace,
            LineFormat::Bare => Self::Bare,
        }
    }
}

/// How a catalog text matched the line.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchKind {
    /// The message is the template with its placeholders filled in.
    Exact,
    /// The message is the template, with the line's own placeholders taken as wildcards.
    Wildcard,
    /// Equal once case, white space, quote style and a final period are ignored.
    Tolerant,
    /// The line is a piece of the text (a truncated copy, one line of a multi-line message).
    LineInText,
    /// The text is a piece of the line (extra words around it, two messages on one line).
    TextInLine,
    /// The line names a status message id (`5112`): its STATMSG text.
    StatusMessage,
}

impl MatchKind {
    /// Words for humans.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Exact => "exact match",
            Self::Wildcard => "match with your placeholders as wildcards",
            Self::Tolerant => "tolerant match: case, spacing, quotes or the final period differ",
            Self::LineInText => "partial match: your line is part of this text",
            Self::TextInLine => "partial match: this text is part of your line",
            Self::StatusMessage => "status message id: the STATMSG line it writes",
        }
    }
}

/// A placeholder value recovered from the line.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct PlaceholderValue {
    /// The placeholder name in the template (`uuid`).
    pub name: String,
    /// Its value in the line.
    pub value: String,
}

/// A scenario that reproduces a matched entry, with the command that runs it.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct ScenarioHit {
    /// The scenario's id.
    pub id: String,
    /// The scenario's title.
    pub title: String,
    /// The scenario file.
    pub path: PathBuf,
    /// `amt-conformance run <path>`.
    pub command: String,
}

/// A matched error-catalog entry and the scenarios that name it.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct EntryMatch {
    /// The entry.
    #[serde(flatten)]
    pub entry: CatalogEntry,
    /// Scenarios whose `source` names the entry id as a whole word.
    pub scenarios: Vec<ScenarioHit>,
}

/// One catalog text that matched the line.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct TextMatch {
    /// The catalog text id (`A-18.isc`, `hello.received`).
    pub text_id: String,
    /// How it matched.
    pub kind: MatchKind,
    /// The template with `{placeholders}`.
    pub template: String,
    /// The log files the text is written to (A-18: either, see `LogConfig::a18_file`).
    pub files: Vec<LogFile>,
    /// The service packs that write it.
    pub versions: Versions,
    /// How sure the catalog is of the wording.
    pub wording: Wording,
    /// Where the text comes from.
    pub text_source: String,
    /// Placeholder values recovered from the line (none for a placeholder the line left open).
    pub values: Vec<PlaceholderValue>,
    /// The error-catalog entries of the text; empty for texts outside the error catalog.
    pub entries: Vec<EntryMatch>,
    /// For texts outside the error catalog: scenarios whose `source` names the text id.
    pub scenarios: Vec<ScenarioHit>,
}

/// A catalog text near a line that matched nothing.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct Suggestion {
    /// The catalog text id.
    pub text_id: String,
    /// Its error-catalog entry, if any.
    pub entry: Option<String>,
    /// The template.
    pub template: String,
    /// Words (three letters or more) the line and the template share.
    pub common_words: usize,
    /// Similarity in percent (cosine of the word sets, rare words weighing more).
    pub score_percent: u32,
}

/// What `explain` found for one line: [`fmt::Display`] is the human output, [`Serialize`] the JSON.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct Explanation {
    /// The line as given (its first [`MAX_INPUT_CHARS`] characters).
    pub input: String,
    /// The framing found (of the first framed line, for a multi-line paste).
    pub framing: Framing,
    /// The component of a framed line.
    pub component: Option<String>,
    /// The message matched: the framing stripped, lines of a multi-line paste joined by a space.
    pub message: String,
    /// Whether the message contains placeholders taken as wildcards.
    pub wildcards: bool,
    /// The matching catalog texts, in catalog order.
    pub matches: Vec<TextMatch>,
    /// Nearest texts when nothing matched.
    pub suggestions: Vec<Suggestion>,
    /// When nothing matched: the entries that have no log line (`A-05 disjoint-namespace-unsupported`).
    pub entries_without_log_line: Vec<String>,
    /// Anything the reader should know about the input or the entry table.
    pub notes: Vec<String>,
}

/// Explains one log line (see the module documentation for the matching rules).
pub fn explain(input: &str, scenarios: &[ScenarioRef]) -> Explanation {
    let mut notes = Vec::new();
    let bounded: String = input.chars().take(MAX_INPUT_CHARS).collect();
    if bounded.len() < input.len() {
        notes.push(format!(
            "the line is longer than {MAX_INPUT_CHARS} characters; only its start was used"
        ));
    }
    let (framing, component, message) = strip_framing(&bounded);
    let entries = catalog_entries().unwrap_or_else(|e| {
        notes.push(e.to_string());
        &[]
    });
    let framed_file = match framing {
        Framing::SmsTrace => LogFile::ALL
            .into_iter()
            .find(|f| f.sms_component().is_some() && f.sms_component() == component.as_deref()),
        Framing::CmTrace => Some(LogFile::OobMgmt),
        Framing::Bare => None,
    };
    let query = Query::new(&message);
    let mut matches = Vec::new();
    if query.literals == 0 {
        notes.push("the line has no text to match".to_owned());
    } else if query.wildcards && query.literals < MIN_WILDCARD_LITERALS {
        notes.push(format!(
            "too little text besides placeholders (at least {MIN_WILDCARD_LITERALS} characters needed)"
        ));
    } else if let Some(def) =
        status_query(&message).and_then(provisioner_core::site::statmsg::definition)
    {
        if let Some(text) = logs::lookup(def.line.as_str()) {
            matches.push(text_match(
                text,
                MatchKind::StatusMessage,
                Vec::new(),
                entries,
                scenarios,
            ));
        }
        notes.push(format!(
            "status message {} ({}, severity {:?}): {} [{}; {}]",
            def.id,
            def.component,
            def.severity,
            def.description,
            wording_text(def.wording),
            def.source
        ));
    } else {
        matches = find_matches(&query, &message)
            .into_iter()
            .map(|(text, kind, values)| {
                let mut m = text_match(text, kind, values, entries, scenarios);
                // A framed line tells which file it came from (A-18 texts go to either).
                if let Some(file) = framed_file
                    && m.files.contains(&file)
                {
                    m.files = vec![file];
                }
                m
            })
            .collect();
    }
    let (suggestions, entries_without_log_line) = if matches.is_empty() {
        (
            suggest(&message),
            entries
                .iter()
                .filter(|e| e.log == LogPresence::Absent)
                .map(|e| format!("{} {}", e.id, e.name))
                .collect(),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    Explanation {
        input: bounded,
        framing,
        component,
        message,
        wildcards: query.wildcards,
        matches,
        suggestions,
        entries_without_log_line,
        notes,
    }
}

/// Strips the framing of every line; a multi-line paste gives its messages joined by a space.
fn strip_framing(input: &str) -> (Framing, Option<String>, String) {
    let mut framing = Framing::Bare;
    let mut component = None;
    let mut messages = Vec::new();
    for line in input.lines().filter(|l| !l.trim().is_empty()) {
        let parsed = logs::parse_line(line.trim());
        if framing == Framing::Bare && parsed.format != LineFormat::Bare {
            framing = parsed.format.into();
            component = parsed.component;
        }
        // despool.log messages start with `~`, which pasted bare lines keep.
        messages.push(parsed.message.trim().trim_start_matches('~').to_owned());
    }
    (framing, component, messages.join(" "))
}

/// Builds the report of one matched text.
fn text_match(
    text: &'static LogText,
    kind: MatchKind,
    values: Vec<(&'static str, String)>,
    entries: &[CatalogEntry],
    scenarios: &[ScenarioRef],
) -> TextMatch {
    let key = entry_key(text.id);
    let entries: Vec<EntryMatch> = key.map_or_else(Vec::new, |key| {
        entries
            .iter()
            .filter(|e| e.texts_key() == key)
            .map(|e| EntryMatch {
                entry: e.clone(),
                scenarios: scenarios_naming(&e.id, scenarios),
            })
            .collect()
    });
    let files = if text.is_a18() {
        vec![LogFile::AmtOpMgr, LogFile::AmtProxyMgr]
    } else {
        vec![text.file]
    };
    TextMatch {
        text_id: text.id.to_owned(),
        kind,
        template: text.template.to_owned(),
        files,
        versions: text.versions,
        wording: text.wording,
        text_source: text.source.to_owned(),
        values: values
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(name, value)| PlaceholderValue {
                name: name.to_owned(),
                value,
            })
            .collect(),
        scenarios: if key.is_none() {
            scenarios_naming(text.id, scenarios)
        } else {
            Vec::new()
        },
        entries,
    }
}

/// The scenarios whose `source` names `token` as a whole word (case-insensitive).
fn scenarios_naming(token: &str, scenarios: &[ScenarioRef]) -> Vec<ScenarioHit> {
    scenarios
        .iter()
        .filter(|s| names_token(&s.source, token))
        .map(|s| ScenarioHit {
            id: s.id.clone(),
            title: s.title.clone(),
            path: s.path.clone(),
            command: format!(
                "amt-conformance run {}",
                shell_quote(&s.path.to_string_lossy())
            ),
        })
        .collect()
}

/// Whether `haystack` contains `token` not glued to other letters, digits, `-` or `_`
/// (`error-catalog A-18` and `A-02/A-03` name A-18 and A-03; `A-180` does not name A-18).
fn names_token(haystack: &str, token: &str) -> bool {
    if token.is_empty() {
        return false;
    }
    let hay = haystack.to_ascii_lowercase();
    let token = token.to_ascii_lowercase();
    let glued = |c: char| c.is_alphanumeric() || c == '_';
    hay.match_indices(&token).any(|(at, _)| {
        let before = hay.get(..at).and_then(|s| s.chars().next_back());
        let after = hay.get(at + token.len()..).and_then(|s| s.chars().next());
        !before.is_some_and(|c| glued(c) || c == '-' || c == '.')
            && !after.is_some_and(|c| glued(c) || c == '-')
    })
}

/// A path as a shell word: unchanged when it is plain, else in single quotes.
fn shell_quote(path: &str) -> String {
    let plain = !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%=,".contains(c));
    if plain {
        path.to_owned()
    } else {
        format!("'{}'", path.replace('\'', r"'\''"))
    }
}

// ---------------------------------------------------------------------------------------------
// Matching

/// One position of a pattern: a character, or a wildcard (a template placeholder carries its index).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Tok {
    Lit(char),
    Any(Option<usize>),
}

/// The line, tokenised once.
struct Query {
    /// Characters as given, the line's placeholders as wildcards.
    strict: Vec<Tok>,
    /// The same, normalised (see [`normalize`]).
    loose: Vec<Tok>,
    /// Whether the line has placeholders.
    wildcards: bool,
    /// Non-blank characters besides placeholders.
    literals: usize,
}

impl Query {
    fn new(message: &str) -> Self {
        let strict = input_tokens(message);
        let wildcards = strict.iter().any(|t| matches!(t, Tok::Any(_)));
        let literals = strict
            .iter()
            .filter(|t| matches!(t, Tok::Lit(c) if !c.is_whitespace()))
            .count();
        let loose = normalize(&strict);
        Self {
            strict,
            loose,
            wildcards,
            literals,
        }
    }
}

/// A matched text, how it matched, and the placeholder values found.
type Found = (&'static LogText, MatchKind, Vec<(&'static str, String)>);

/// Every catalog text matching the line at the best tier that finds any, in catalog order.
fn find_matches(query: &Query, message: &str) -> Vec<Found> {
    let exact = if query.wildcards {
        None
    } else {
        logs::match_message(message)
    };
    // A line with placeholders must keep some text of its own against the template's.
    let min_pairs = if query.wildcards {
        MIN_WILDCARD_LITERALS
    } else {
        0
    };
    let mut full = Vec::new();
    for text in CATALOG {
        if let Some((hit, values)) = &exact
            && hit.id == text.id
        {
            full.push((text, MatchKind::Exact, values.clone()));
            continue;
        }
        let names = text.placeholders();
        let template = template_tokens(text.template);
        let strict_kind = if query.wildcards {
            MatchKind::Wildcard
        } else {
            MatchKind::Exact
        };
        if let Some(values) = align(&query.strict, &template, same, min_pairs) {
            full.push((text, strict_kind, named(&names, values)));
        } else if let Some(values) = align(&query.loose, &normalize(&template), fold, min_pairs) {
            full.push((text, MatchKind::Tolerant, named(&names, values)));
        }
    }
    if full.iter().any(|(_, kind, _)| *kind == MatchKind::Exact) {
        full.retain(|(_, kind, _)| *kind == MatchKind::Exact);
    }
    if !full.is_empty() {
        return full;
    }
    let mut partial = Vec::new();
    let wrap = |tokens: &[Tok]| {
        let mut wrapped = Vec::with_capacity(tokens.len() + 2);
        wrapped.push(Tok::Any(None));
        wrapped.extend_from_slice(tokens);
        wrapped.push(Tok::Any(None));
        wrapped
    };
    let wrapped_line = wrap(&query.loose);
    for text in CATALOG {
        let names = text.placeholders();
        let template = normalize(&template_tokens(text.template));
        if let Some(values) = align(&wrapped_line, &template, fold, MIN_PARTIAL_CHARS) {
            partial.push((text, MatchKind::LineInText, named(&names, values)));
        } else if let Some(values) = align(&query.loose, &wrap(&template), fold, MIN_PARTIAL_CHARS)
        {
            partial.push((text, MatchKind::TextInLine, named(&names, values)));
        }
    }
    partial
}

/// Pairs placeholder names with the values found (unknown values dropped).
fn named(names: &[&'static str], values: Vec<Option<String>>) -> Vec<(&'static str, String)> {
    names
        .iter()
        .zip(values)
        .filter_map(|(name, value)| value.map(|v| (*name, v)))
        .collect()
}

/// Characters as they are.
fn same(c: char) -> char {
    c
}

/// A character with case and quote style removed.
fn fold(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '`' | '\u{00b4}' => '\'',
        '\u{201c}' | '\u{201d}' => '"',
        _ => c.to_lowercase().next().unwrap_or(c),
    }
}

/// Whether `s` (1 to 60 characters) can be the inside of a `{…}` or `<…>` placeholder of a line.
fn is_placeholder_body(s: &str) -> bool {
    (1..=60).contains(&s.chars().count()) && !s.contains(['{', '}', '<', '>', '\n'])
}

/// The line's characters, its placeholders (`{name}`, `<name>`, `...`, `…`) as wildcards.
fn input_tokens(message: &str) -> Vec<Tok> {
    let mut out = Vec::with_capacity(message.len());
    let mut rest = message;
    while let Some(c) = rest.chars().next() {
        let close = match c {
            '{' => Some('}'),
            '<' => Some('>'),
            _ => None,
        };
        if let Some(close) = close
            && let Some(end) = rest[1..].find(close)
            && is_placeholder_body(&rest[1..=end])
        {
            out.push(Tok::Any(None));
            rest = &rest[end + 2..];
            continue;
        }
        if rest.starts_with("...") {
            out.push(Tok::Any(None));
            rest = rest.trim_start_matches('.');
            continue;
        }
        out.push(if c == '…' {
            Tok::Any(None)
        } else {
            Tok::Lit(c)
        });
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// A catalog template's characters, each `{name}` placeholder a wildcard with its index
/// (the placeholder rule of `LogText::placeholders`: ASCII letters, digits and `_`).
fn template_tokens(template: &str) -> Vec<Tok> {
    let mut out = Vec::with_capacity(template.len());
    let mut index = 0;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '{'
            && let Some(end) = rest[1..].find('}')
            && end > 0
            && rest[1..=end]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            out.push(Tok::Any(Some(index)));
            index += 1;
            rest = &rest[end + 2..];
            continue;
        }
        out.push(Tok::Lit(c));
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// White space runs become one space, leading and trailing blanks and final periods go.
fn normalize(tokens: &[Tok]) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::with_capacity(tokens.len());
    for &t in tokens {
        match t {
            Tok::Lit(c) if c.is_whitespace() => {
                if !matches!(out.last(), None | Some(Tok::Lit(' '))) {
                    out.push(Tok::Lit(' '));
                }
            }
            other => out.push(other),
        }
    }
    while matches!(out.last(), Some(Tok::Lit(' ' | '.'))) {
        out.pop();
    }
    out
}

/// A wildcard in the code arrays of [`align`] (no `char` has this value).
const ANY: u32 = u32::MAX;

/// The comparison codes of a pattern: each character (folded by `key`), wildcards as [`ANY`].
fn codes(tokens: &[Tok], key: fn(char) -> char) -> Vec<u32> {
    tokens
        .iter()
        .map(|t| match t {
            Tok::Lit(c) => u32::from(key(*c)),
            Tok::Any(_) => ANY,
        })
        .collect()
}

/// Whether the characters before the first wildcard of either side, and those after the last,
/// agree: a cheap necessary condition for a whole-line alignment.
fn ends_agree(line: &[u32], template: &[u32]) -> bool {
    let front = line
        .iter()
        .zip(template)
        .take_while(|(a, b)| **a != ANY && **b != ANY)
        .all(|(a, b)| a == b);
    let back = line
        .iter()
        .rev()
        .zip(template.iter().rev())
        .take_while(|(a, b)| **a != ANY && **b != ANY)
        .all(|(a, b)| a == b);
    let literal = |codes: &[u32]| !codes.contains(&ANY);
    // Without wildcards on either side the lengths must agree too.
    front && back && (line.len() == template.len() || !literal(line) || !literal(template))
}

/// Aligns the line with a template: some text must match both patterns (wildcards on either side
/// match any run, also of the other side's wildcards), with at least `min_pairs` characters of
/// the line standing against characters of the template (so a placeholder cannot swallow the
/// whole line). Characters compare after `key` (identity, or [`fold`]). Among the alignments
/// with the most such pairs, placeholders take the shortest text, as `match_message` does. On
/// success, the text each template placeholder took from the line; `None` where a wildcard of the
/// line covered it.
fn align(
    line: &[Tok],
    template: &[Tok],
    key: fn(char) -> char,
    min_pairs: usize,
) -> Option<Vec<Option<String>>> {
    let (lc, tc) = (codes(line, key), codes(template, key));
    let whole = lc.first() != Some(&ANY) && tc.first() != Some(&ANY);
    if whole && !ends_agree(&lc, &tc) {
        return None;
    }
    let (n, m) = (lc.len(), tc.len());
    let width = m + 1;
    // best[i * width + j]: 1 + the most character pairs in an alignment of line[i..] with
    // template[j..], 0 if there is none. Inputs are bounded by MAX_INPUT_CHARS, so it fits.
    let mut best = vec![0u16; (n + 1) * width];
    {
        let last = &mut best[n * width..];
        last[m] = 1;
        for j in (0..m).rev() {
            last[j] = if tc[j] == ANY { last[j + 1] } else { 0 };
        }
    }
    for i in (0..n).rev() {
        let (head, below) = best.split_at_mut((i + 1) * width);
        let row = &mut head[i * width..];
        let a = lc[i];
        row[m] = if a == ANY { below[m] } else { 0 };
        for j in (0..m).rev() {
            let b = tc[j];
            row[j] = if a == ANY || b == ANY {
                let (x, y) = (below[j], row[j + 1]);
                if x > y { x } else { y }
            } else if a == b && below[j + 1] > 0 {
                below[j + 1].saturating_add(1)
            } else {
                0
            };
        }
    }
    let total = best[0];
    if total == 0 || usize::from(total - 1) < min_pairs {
        return None;
    }
    let count = template
        .iter()
        .filter(|t| matches!(t, Tok::Any(Some(_))))
        .count();
    let mut values: Vec<Option<String>> = vec![Some(String::new()); count];
    let unknown = |values: &mut Vec<Option<String>>, t: Option<&Tok>| {
        if let Some(Tok::Any(Some(k))) = t
            && let Some(v) = values.get_mut(*k)
        {
            *v = None;
        }
    };
    // Walk one best alignment; every step keeps the score of the remaining alignment.
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        let here = best[i * width + j];
        let keeps = |i: usize, j: usize| i <= n && j <= m && best[i * width + j] == here;
        match (line.get(i), template.get(j)) {
            (Some(Tok::Any(_)), t) => {
                // A wildcard of the line facing a placeholder covers it; else it ends early.
                if matches!(t, Some(Tok::Any(_))) && keeps(i, j + 1) {
                    unknown(&mut values, t);
                    j += 1;
                } else if keeps(i + 1, j) {
                    i += 1;
                } else {
                    unknown(&mut values, t);
                    j += 1;
                }
            }
            (l, Some(Tok::Any(k))) => {
                if keeps(i, j + 1) {
                    j += 1;
                } else {
                    if let (Some(Tok::Lit(c)), Some(k)) = (l, k)
                        && let Some(Some(v)) = values.get_mut(*k)
                    {
                        v.push(*c);
                    }
                    i += 1;
                }
            }
            _ => {
                i += 1;
                j += 1;
            }
        }
    }
    Some(values)
}

/// The texts nearest to the message: cosine similarity of their word sets, each word weighted by
/// how rare it is in the catalog (so `chain` counts for more than `AMT` or `device`).
fn suggest(message: &str) -> Vec<Suggestion> {
    let line = words(&strip_wildcards(message));
    if line.is_empty() {
        return Vec::new();
    }
    let templates: Vec<Vec<String>> = CATALOG
        .iter()
        .map(|t| words(&strip_placeholders(t.template)))
        .collect();
    let total = templates.len() as f64;
    let weight = |word: &String| {
        let df = templates.iter().filter(|t| t.contains(word)).count();
        let df = df as f64;
        (total / df.max(1.0)).ln() + 1.0
    };
    let norm = |ws: &[String]| ws.iter().map(|w| weight(w).powi(2)).sum::<f64>().sqrt();
    let line_norm = norm(&line);
    let mut scored: Vec<(f64, Suggestion)> = CATALOG
        .iter()
        .zip(&templates)
        .filter_map(|(text, template)| {
            let common: Vec<&String> = line.iter().filter(|w| template.contains(w)).collect();
            if common.is_empty() {
                return None;
            }
            let dot: f64 = common.iter().map(|w| weight(w).powi(2)).sum();
            let score = dot / (line_norm * norm(template)).max(f64::MIN_POSITIVE);
            // A cosine in 0..=1 scaled to percent: the cast cannot truncate.
            let score_percent = (score * 100.0).round().clamp(0.0, 100.0) as u32;
            Some((
                score,
                Suggestion {
                    text_id: text.id.to_owned(),
                    entry: entry_key(text.id).map(str::to_owned),
                    template: text.template.to_owned(),
                    common_words: common.len(),
                    score_percent,
                },
            ))
        })
        .collect();
    // Stable: equal scores keep catalog order.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.truncate(MAX_SUGGESTIONS);
    scored.into_iter().map(|(_, s)| s).collect()
}

/// Distinct lower-case words of three or more letters or digits, sorted.
fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .collect();
    out.sort();
    out.dedup();
    out
}

fn strip_placeholders(template: &str) -> String {
    template_tokens(template)
        .into_iter()
        .map(|t| match t {
            Tok::Lit(c) => c,
            Tok::Any(_) => ' ',
        })
        .collect()
}

fn strip_wildcards(message: &str) -> String {
    input_tokens(message)
        .into_iter()
        .map(|t| match t {
            Tok::Lit(c) => c,
            Tok::Any(_) => ' ',
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Human output

/// Column where field text starts (`  cause:  `).
const INDENT: usize = 10;
/// Width human output wraps at.
const WIDTH: usize = 100;

fn versions_text(versions: Versions) -> &'static str {
    match versions {
        Versions::Sp1 => "SP1",
        Versions::Sp2 => "SP2",
        Versions::Both => "SP1 and SP2",
    }
}

fn wording_text(wording: Wording) -> &'static str {
    match wording {
        Wording::Verbatim => "verbatim [V]",
        Wording::VerbatimFromGerman => "verbatim, quoted in the German doc [V-de]",
        Wording::Reconstructed => "back-translated from German or reconstructed, not verified [R]",
        Wording::VerbatimSecondary => {
            "verbatim in a secondary source quoting the product documentation [V-2nd]"
        }
        Wording::VerbatimOtherVersion => {
            "verbatim from another product version (SMS 2003 or current branch) [V-2003/V-CB]"
        }
        Wording::Translated => "translated from a German or Japanese seed [T]",
        Wording::Invented => "our wording, no documented text",
    }
}

fn files_text(files: &[LogFile]) -> String {
    files
        .iter()
        .map(|f| f.file_name())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Writes `  label:  text`, wrapped at [`WIDTH`] with continuation lines indented.
fn field(f: &mut fmt::Formatter<'_>, label: &str, text: &str) -> fmt::Result {
    let mut line = format!("  {:<width$}", format!("{label}:"), width = INDENT - 2);
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            writeln!(f, "{line}")?;
            line = " ".repeat(INDENT);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    writeln!(f, "{line}")
}

fn scenario_lines(
    f: &mut fmt::Formatter<'_>,
    scenarios: &[ScenarioHit],
    missing: Option<&str>,
) -> fmt::Result {
    if scenarios.is_empty()
        && let Some(id) = missing
    {
        field(f, "run", &format!("no scenario names {id} yet"))?;
    }
    // Not wrapped, so the command stays one line to copy (`#` starts a shell comment).
    for s in scenarios {
        writeln!(f, "  {:<8}{}   # {}", "run:", s.command, s.title)?;
    }
    Ok(())
}

impl TextMatch {
    /// `amtopmgr.log, SP1 and SP2; exact match`.
    fn place(&self) -> String {
        format!(
            "{}, {}; {}",
            files_text(&self.files),
            versions_text(self.versions),
            self.kind.describe()
        )
    }

    /// `A-18.isc, verbatim, quoted in the German doc [V-de]; source: …`.
    fn text_line(&self) -> String {
        format!(
            "{}, {}; source: {}",
            self.text_id,
            wording_text(self.wording),
            self.text_source
        )
    }

    /// The `values:` field, if any value was recovered.
    fn values_field(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.values.is_empty() {
            return Ok(());
        }
        let values = self
            .values
            .iter()
            .map(|v| format!("{} = {}", v.name, v.value))
            .collect::<Vec<_>>()
            .join(", ");
        field(f, "values", &values)
    }
}

/// A text outside the error catalog.
fn write_other(f: &mut fmt::Formatter<'_>, m: &TextMatch) -> fmt::Result {
    writeln!(
        f,
        "{}: not an error-catalog entry ({})",
        m.text_id,
        m.place()
    )?;
    field(f, "text", &m.text_line())?;
    m.values_field(f)?;
    scenario_lines(f, &m.scenarios, None)
}

/// One error-catalog entry with the matched texts that belong to it.
fn write_entry(f: &mut fmt::Formatter<'_>, m: &EntryMatch, texts: &[&TextMatch]) -> fmt::Result {
    let e = &m.entry;
    match texts {
        [one] => {
            writeln!(f, "{} {}: {} ({})", e.id, e.name, e.title, one.place())?;
            field(f, "text", &one.text_line())?;
            one.values_field(f)?;
        }
        _ => {
            writeln!(f, "{} {}: {}", e.id, e.name, e.title)?;
            for t in texts {
                let line = format!(
                    "{} ({}); {}; source: {}",
                    t.text_id,
                    t.place(),
                    wording_text(t.wording),
                    t.text_source
                );
                field(f, "text", &line)?;
                t.values_field(f)?;
            }
        }
    }
    field(f, "cause", &e.cause)?;
    field(f, "fix", &e.fix)?;
    field(f, "source", &e.source)?;
    scenario_lines(f, &m.scenarios, Some(&e.id))
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.framing {
            Framing::Bare => {}
            Framing::SmsTrace | Framing::CmTrace => {
                let kind = if self.framing == Framing::SmsTrace {
                    "SMS trace"
                } else {
                    "CMTrace"
                };
                let component = self
                    .component
                    .as_deref()
                    .map_or_else(String::new, |c| format!(" from {c}"));
                writeln!(f, "{kind} line{component}; message: {}", self.message)?;
            }
        }
        if self.wildcards && !self.matches.is_empty() {
            writeln!(f, "placeholders in the line were taken as wildcards")?;
        }
        // Each entry once, with all its matched texts (A-02.sp1 and A-02.sp2 under A-02).
        let mut written: Vec<&str> = Vec::new();
        for m in &self.matches {
            if m.entries.is_empty() {
                write_other(f, m)?;
            }
            for em in &m.entries {
                if written.contains(&em.entry.id.as_str()) {
                    continue;
                }
                written.push(&em.entry.id);
                let texts: Vec<&TextMatch> = self
                    .matches
                    .iter()
                    .filter(|t| t.entries.iter().any(|x| x.entry.id == em.entry.id))
                    .collect();
                write_entry(f, em, &texts)?;
            }
        }
        if self.matches.is_empty() {
            writeln!(f, "no catalog text matches {:?}", self.message)?;
            if self.suggestions.is_empty() {
                writeln!(f, "no catalog text shares a word with it")?;
            } else {
                writeln!(f, "nearest texts:")?;
                for s in &self.suggestions {
                    let label = match &s.entry {
                        Some(e) if *e != s.text_id => format!("{e} ({})", s.text_id),
                        _ => s.text_id.clone(),
                    };
                    writeln!(f, "  {label}: {}", s.template)?;
                }
            }
            if !self.entries_without_log_line.is_empty() {
                writeln!(
                    f,
                    "entries with no log line (match them by symptom): {}",
                    self.entries_without_log_line.join(", ")
                )?;
            }
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
