//! ConfigMgr log files: the catalog of texts, the two line framings, and an in-memory log set.
//!
//! The service point writes `amtopmgr.log` (SMS_AMT_OPERATION_MANAGER), the site server
//! `amtproxymgr.log` (SMS_AMT_PROXY_COMPONENT), and the client agent `oobmgmt.log` (CMTrace format).
//! Callers emit a catalog id with named arguments ([`Logs::emit`]); the text comes from the one
//! table [`CATALOG`], the framing from `reference/error-catalog.md` §1. Writing the files is the
//! shell's job (`crate::io::logfiles::write_log_dir`).

mod catalog;
mod format;

use std::collections::{BTreeMap, VecDeque};

use amt_wire::time::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use catalog::{CATALOG, ids};
pub use format::{LineFormat, ParsedLine, parse_line};
pub(crate) use format::{despooler_time, statmsg_gmt};

/// One of the three log files the simulation writes.
#[derive(
    Clone, Copy, Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum LogFile {
    /// `amtopmgr.log`: the out-of-band service point (SMS trace format).
    #[serde(rename = "amtopmgr.log")]
    AmtOpMgr,
    /// `amtproxymgr.log`: the site server's AMT proxy component (SMS trace format).
    #[serde(rename = "amtproxymgr.log")]
    AmtProxyMgr,
    /// `oobmgmt.log`: the ConfigMgr client on the AMT computer (CMTrace format).
    #[serde(rename = "oobmgmt.log")]
    OobMgmt,
    /// `despool.log`: a site's despooler, incoming site-to-site transfers (SMS trace format, every
    /// message starting with `~`; `reference/configmgr-sites.md` A.1.2).
    #[serde(rename = "despool.log")]
    Despool,
    /// `hman.log`: a site's hierarchy manager (site keys, AD publishing; SMS trace format).
    #[serde(rename = "hman.log")]
    HMan,
    /// `policypv.log`: a primary site's policy provider (policy signing; SMS trace format).
    #[serde(rename = "policypv.log")]
    PolicyPv,
    /// `PolicyAgent.log`: the ConfigMgr client's policy download (CMTrace format).
    #[serde(rename = "PolicyAgent.log")]
    PolicyAgent,
}

impl LogFile {
    /// The service point's three files (what its log directory holds).
    pub const SERVICE_POINT: [Self; 3] = [Self::AmtOpMgr, Self::AmtProxyMgr, Self::OobMgmt];

    /// Every file: the service point's three, then the site hierarchy's (per site).
    pub const ALL: [Self; 7] = [
        Self::AmtOpMgr,
        Self::AmtProxyMgr,
        Self::OobMgmt,
        Self::Despool,
        Self::HMan,
        Self::PolicyPv,
        Self::PolicyAgent,
    ];

    /// The file name: `amtopmgr.log`, `amtproxymgr.log`, `oobmgmt.log`, `despool.log`, …
    pub fn file_name(self) -> &'static str {
        match self {
            Self::AmtOpMgr => "amtopmgr.log",
            Self::AmtProxyMgr => "amtproxymgr.log",
            Self::OobMgmt => "oobmgmt.log",
            Self::Despool => "despool.log",
            Self::HMan => "hman.log",
            Self::PolicyPv => "policypv.log",
            Self::PolicyAgent => "PolicyAgent.log",
        }
    }

    /// The file for a name as [`Self::file_name`] writes it (case-insensitive, as on Windows).
    pub fn from_file_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.file_name().eq_ignore_ascii_case(name))
    }

    /// The SMS component of a site-server file; `None` for the client's CMTrace files, whose
    /// component is configured ([`LogConfig::client_component`]) or the catalog row's.
    pub fn sms_component(self) -> Option<&'static str> {
        match self {
            Self::AmtOpMgr => Some("SMS_AMT_OPERATION_MANAGER"),
            Self::AmtProxyMgr => Some("SMS_AMT_PROXY_COMPONENT"),
            Self::Despool => Some("SMS_DESPOOLER"),
            Self::HMan => Some("SMS_HIERARCHY_MANAGER"),
            Self::PolicyPv => Some("SMS_POLICY_PROVIDER"),
            Self::OobMgmt | Self::PolicyAgent => None,
        }
    }

    /// The prefix real files put before every message: `~` in despool.log (SMS 1.2 and current
    /// branch logs; `reference/configmgr-sites.md` A.1.2 format notes), nothing elsewhere.
    pub fn message_prefix(self) -> &'static str {
        match self {
            Self::Despool => "~",
            _ => "",
        }
    }
}

/// How bad a line is. CMTrace `type=` 1, 2, 3; the SMS trace format has no severity field.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Informational (CMTrace type 1).
    Info,
    /// Warning (CMTrace type 2).
    Warning,
    /// Error (CMTrace type 3).
    Error,
}

impl Severity {
    /// The CMTrace `type=` value.
    pub fn cmtrace_type(self) -> u8 {
        match self {
            Self::Info => 1,
            Self::Warning => 2,
            Self::Error => 3,
        }
    }
}

/// How sure we are of a text: the verification tags of `reference/error-catalog.md`.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Wording {
    /// `[V]`: verbatim English read in the cited source.
    Verbatim,
    /// `[V-de]`: English quoted verbatim inside the German ConfigMgr topic.
    VerbatimFromGerman,
    /// `[R]`: back-translated from German; not verified.
    Reconstructed,
    /// `[V-2nd]`: verbatim English in a secondary source quoting the product documentation (a
    /// book excerpt; `reference/configmgr-sites.md` §0).
    VerbatimSecondary,
    /// `[V-2003]`, `[V-CB]`, `[V-SMS1]`: verbatim from another version of the product (an SMS 2003
    /// log a KB quotes, a current-branch article); the 2007 wording may differ.
    VerbatimOtherVersion,
    /// `[T]`: translated from a German or Japanese seed; the English original was not readable.
    Translated,
    /// No documented text exists (progress and success lines): the wording is ours.
    Invented,
}

/// Which ConfigMgr 2007 service packs write a text.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Versions {
    /// SP1 only.
    Sp1,
    /// SP2 only.
    Sp2,
    /// SP1 and SP2.
    Both,
}

/// One entry of the log-text catalog.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct LogText {
    /// Stable id: the error-catalog entry (`A-18.isc`) or a dotted name for invented lines.
    pub id: &'static str,
    /// The file the line goes to (A-18 lines: see [`LogConfig::a18_file`]).
    pub file: LogFile,
    /// The component documented for the line (for `oobmgmt.log` a default; the rendered value is
    /// [`LogConfig::client_component`]).
    pub component: &'static str,
    /// The text with `{name}` placeholders.
    pub template: &'static str,
    /// Severity (CMTrace `type=`).
    pub severity: Severity,
    /// How sure we are of the wording.
    pub wording: Wording,
    /// Where the text comes from, e.g. `error-catalog A-18 (S-DE)`.
    pub source: &'static str,
    /// Which service packs write it.
    pub versions: Versions,
}

impl LogText {
    /// The placeholder names in the template, in order of appearance (duplicates kept).
    pub fn placeholders(&self) -> Vec<&'static str> {
        placeholders(self.template)
    }

    /// Whether the id belongs to error-catalog A-18, whose file is configurable.
    pub fn is_a18(&self) -> bool {
        self.id.starts_with("A-18")
    }
}

/// The placeholder names (`{name}`, name = ASCII letters, digits, `_`) in a template.
fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end)
                if end > 0
                    && after[..end]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                out.push(&after[..end]);
                rest = &after[end + 1..];
            }
            _ => rest = after,
        }
    }
    out
}

/// The catalog entry with this id.
/// A log text's id. Code makes one only from the catalog ([`ids`]: a constant per row, so an
/// unknown id is a compile error) or by looking a name up ([`LogId::by_name`]).
///
/// ```
/// use provisioner_core::logs::{LogId, ids};
/// assert_eq!(ids::A_18_ISC.as_str(), "A-18.isc");
/// assert_eq!(LogId::by_name("A-18.isc"), Some(ids::A_18_ISC));
/// ```
///
/// A line the catalog does not have cannot be named:
///
/// ```compile_fail
/// let _ = provisioner_core::logs::ids::NO_SUCH_LINE;
/// ```
///
/// nor made up outside the catalog:
///
/// ```compile_fail
/// let _ = provisioner_core::logs::LogId("A-99");
/// ```
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct LogId(&'static str);

impl LogId {
    /// The id of a catalog row (used by the catalog's own macro only).
    pub(crate) const fn from_catalog(id: &'static str) -> Self {
        Self(id)
    }

    /// The catalog row named `name`, if there is one.
    pub fn by_name(name: &str) -> Option<Self> {
        lookup(name).map(|t| Self(t.id))
    }

    /// The id's text (`A-18.isc`).
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for LogId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl PartialEq<&str> for LogId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<LogId> for &str {
    fn eq(&self, other: &LogId) -> bool {
        *self == other.0
    }
}

/// The catalog row with id `id`.
pub fn lookup(id: &str) -> Option<&'static LogText> {
    CATALOG.iter().find(|t| t.id == id)
}

/// The catalog entry whose template produces `message`, with the placeholder values recovered.
///
/// Templates are tried in catalog order; a placeholder takes the shortest text up to the next
/// literal part (the rest of the message if it ends the template). Used to explain a pasted log
/// line; `message` is the text without framing (see [`parse_line`]).
pub fn match_message(message: &str) -> Option<(&'static LogText, Vec<(&'static str, String)>)> {
    CATALOG
        .iter()
        .find_map(|t| match_template(t.template, message).map(|args| (t, args)))
}

/// Matches `message` against one template; the placeholder values on success.
fn match_template<'t>(template: &'t str, message: &str) -> Option<Vec<(&'t str, String)>> {
    let names = placeholders(template);
    if names.is_empty() {
        return (template == message).then(Vec::new);
    }
    // Literal parts around the placeholders: names.len() + 1 of them.
    let mut literals = Vec::with_capacity(names.len() + 1);
    let mut rest = template;
    for name in &names {
        let token = format!("{{{name}}}");
        let at = rest.find(&token)?;
        literals.push(&rest[..at]);
        rest = &rest[at + token.len()..];
    }
    literals.push(rest);
    let mut text = message.strip_prefix(*literals.first()?)?;
    let mut args = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let next = *literals.get(i + 1)?;
        let end = if i + 1 == names.len() {
            text.strip_suffix(next)?.len()
        } else if next.is_empty() {
            return None; // adjacent placeholders would be ambiguous; no template has them
        } else {
            text.find(next)?
        };
        if end == 0 {
            return None;
        }
        args.push((*name, text[..end].to_owned()));
        text = &text[end + next.len()..];
    }
    Some(args)
}

/// The catalog ids an error-catalog entry (`"A-18"`) writes, in order, for a service pack: every
/// entry whose id is `entry` or starts with `entry.` and whose versions include `version`.
/// A-03 writes the A-02 texts. Entries without documented lines give an empty list.
pub fn entry_lines(entry: &str, version: crate::env::ConfigMgrVersion) -> Vec<&'static str> {
    let entry = if entry == "A-03" { "A-02" } else { entry };
    let prefix = format!("{entry}.");
    CATALOG
        .iter()
        .filter(|t| t.id == entry || t.id.starts_with(&prefix))
        .filter(|t| match (t.versions, version) {
            (Versions::Both, _)
            | (Versions::Sp1, crate::env::ConfigMgrVersion::Sp1)
            | (Versions::Sp2, crate::env::ConfigMgrVersion::Sp2) => true,
            (Versions::Sp1, _) | (Versions::Sp2, _) => false,
        })
        .map(|t| t.id)
        .collect()
}

/// A pointer-like value for the `{hex}` of `A-18.apply` (`0x193b95c`, `0x6fcb970` in real posts):
/// seven hex digits, 4-byte aligned, from the passed-in RNG.
pub fn pointer_like_hex(rng: &mut dyn rand::RngCore) -> String {
    let value = 0x0100_0000 + (rng.next_u32() % 0x0700_0000);
    format!("{:#x}", value & !0x3)
}

/// Argument names that must never reach a log file.
const SECRET_NAMES: [&str; 5] = ["password", "ha1", "otp", "secret", "passphrase"];

/// Whether an argument name looks like a secret (`password`, `ha1`, `otp`, `key`, …).
fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|s| lower.contains(s)) || lower == "key" || lower.ends_with("_key")
}

/// How the logs are framed: time zone, thread ids, the unknown client component, A-18's file.
///
/// Also the `logs:` section of the environment YAML (every key optional).
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Minutes to add to local time to get UTC (`+480` = US Pacific standard time). Default 480.
    pub bias_minutes: i32,
    /// Thread id of amtopmgr.log lines. Default 2880 (the S-GODADDY sample).
    pub service_point_thread: u32,
    /// Thread id of amtproxymgr.log lines. Default 2632 (the S-DE A-17 sample).
    pub proxy_thread: u32,
    /// Thread id of oobmgmt.log lines. Default 2724.
    pub client_thread: u32,
    /// `component=` of oobmgmt.log lines: unknown in every source, so configurable. Default `OobMgmt`.
    pub client_component: String,
    /// `file=` of oobmgmt.log lines (the client's source file): unknown; default empty.
    pub client_source_file: String,
    /// File of the A-18 lines: the doc says amtproxymgr.log, S-321 shows the same wording in
    /// amtopmgr.log. Default [`LogFile::AmtOpMgr`].
    pub a18_file: LogFile,
    /// Replacement templates by id (to correct an `[R]` wording without a rebuild).
    pub overrides: BTreeMap<String, String>,
    /// Most records kept in memory (all files together); older ones are dropped first, as when a
    /// ConfigMgr log rolls over. Bounds memory when Hellos flood in. Default 1,000,000.
    pub max_records: usize,
    /// Thread id of despool.log lines. Default 4072 (the TID of the PKGACT-CB STATMSG sample).
    pub despool_thread: u32,
    /// Thread id of hman.log lines. Default 4116 (the cmtraceopen SMS_HIERARCHY_MANAGER sample).
    pub hman_thread: u32,
    /// Thread id of policypv.log lines. Default 3180 (invented).
    pub policy_provider_thread: u32,
    /// Thread id of PolicyAgent.log lines. Default 2724 (as oobmgmt.log: the same client).
    pub policy_agent_thread: u32,
    /// Appended to every SMS trace message (amtopmgr/amtproxymgr): some ConfigMgr components end
    /// messages with `~~`; whether the AMT components do is unknown. Default empty.
    pub sms_message_suffix: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            bias_minutes: 480,
            service_point_thread: 2880,
            proxy_thread: 2632,
            client_thread: 2724,
            client_component: "OobMgmt".to_owned(),
            client_source_file: String::new(),
            a18_file: LogFile::AmtOpMgr,
            overrides: BTreeMap::new(),
            max_records: 1_000_000,
            sms_message_suffix: String::new(),
            despool_thread: 4072,
            hman_thread: 4116,
            policy_provider_thread: 3180,
            policy_agent_thread: 2724,
        }
    }
}

/// Why a line could not be emitted.
#[derive(Clone, Debug, Eq, PartialEq, Error)]
#[non_exhaustive]
pub enum LogError {
    /// No catalog entry has this id.
    #[error("log id {id:?} is not in the catalog")]
    UnknownId {
        /// The id asked for.
        id: String,
    },
    /// The template needs an argument the caller did not pass.
    #[error("log id {id:?} needs argument {{{name}}}")]
    MissingArgument {
        /// The catalog id.
        id: String,
        /// The missing placeholder name.
        name: String,
    },
    /// An argument is named like a secret; secrets never go to logs.
    #[error("log id {id:?}: argument {name:?} looks like a secret and is refused")]
    SecretArgument {
        /// The catalog id.
        id: String,
        /// The refused argument name.
        name: String,
    },
}

impl LogError {
    /// A stable id for scenarios and tests: `log/unknown-id`, `log/missing-argument`, `log/secret-argument`.
    pub fn id(&self) -> &'static str {
        match self {
            Self::UnknownId { .. } => "log/unknown-id",
            Self::MissingArgument { .. } => "log/missing-argument",
            Self::SecretArgument { .. } => "log/secret-argument",
        }
    }
}

/// One emitted line, before framing.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct LogRecord {
    /// The catalog id.
    pub id: &'static str,
    /// The file it went to.
    pub file: LogFile,
    /// The rendered message text.
    pub message: String,
    /// Severity from the catalog.
    pub severity: Severity,
    /// When it was written.
    pub at: Timestamp,
}

/// Known secret values; `Debug` shows only how many there are.
#[derive(Clone, Default)]
struct Secrets(Vec<String>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} redacted)", self.0.len())
    }
}

/// What replaces a registered secret value found in a rendered message.
pub const REDACTED: &str = "<redacted>";

/// Shortest value [`Logs::register_secret`] accepts (shorter ones would redact ordinary words).
pub const MIN_SECRET_LEN: usize = 4;

/// The three logs in memory, in emission order.
#[derive(Clone, Debug, Default)]
pub struct Logs {
    config: LogConfig,
    records: VecDeque<LogRecord>,
    dropped: u64,
    secrets: Secrets,
}

impl Logs {
    /// Empty logs framed by `config`.
    pub fn new(config: LogConfig) -> Self {
        Self {
            config,
            records: VecDeque::new(),
            dropped: 0,
            secrets: Secrets::default(),
        }
    }

    /// Registers a secret value (a password, passphrase, OTP in text form): from now on any
    /// rendered message containing it shows [`REDACTED`] instead. A second line of defence behind
    /// the argument-name guard of [`Self::emit`]; values shorter than [`MIN_SECRET_LEN`] are ignored.
    pub fn register_secret(&mut self, secret: &str) {
        if secret.len() >= MIN_SECRET_LEN && !self.secrets.0.iter().any(|s| s == secret) {
            self.secrets.0.push(secret.to_owned());
            // Longest first, so a secret containing another is replaced whole.
            self.secrets.0.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// The framing configuration.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Renders catalog text `id` with `args` and appends it to its file.
    ///
    /// Fails for an unknown id, a placeholder without an argument, or an argument whose name looks
    /// like a secret (`password`, `ha1`, `otp`, `key`, …). Extra arguments are ignored.
    pub fn emit(
        &mut self,
        id: LogId,
        args: &[(&str, &str)],
        now: Timestamp,
    ) -> Result<(), LogError> {
        let id = id.as_str();
        let text = lookup(id).ok_or_else(|| LogError::UnknownId { id: id.to_owned() })?;
        if let Some((name, _)) = args.iter().find(|(name, _)| is_secret_name(name)) {
            return Err(LogError::SecretArgument {
                id: id.to_owned(),
                name: (*name).to_owned(),
            });
        }
        let template = self
            .config
            .overrides
            .get(id)
            .map_or(text.template, String::as_str);
        let mut message = render_template(id, template, args)?;
        for secret in &self.secrets.0 {
            if message.contains(secret.as_str()) {
                message = message.replace(secret.as_str(), REDACTED);
            }
        }
        let file = if text.is_a18() {
            self.config.a18_file
        } else {
            text.file
        };
        if self.records.len() >= self.config.max_records.max(1) {
            // Like a ConfigMgr log rolling over: the oldest lines go.
            self.records.pop_front();
            self.dropped = self.dropped.saturating_add(1);
        }
        self.records.push_back(LogRecord {
            id: text.id,
            file,
            message,
            severity: text.severity,
            at: now,
        });
        Ok(())
    }

    /// Every record of `file`, in order.
    pub fn records(&self, file: LogFile) -> impl Iterator<Item = &LogRecord> {
        self.records.iter().filter(move |r| r.file == file)
    }

    /// Every record of every file, in emission order.
    pub fn all_records(&self) -> impl Iterator<Item = &LogRecord> {
        self.records.iter()
    }

    /// How many of the oldest records were dropped to stay within [`LogConfig::max_records`].
    pub fn dropped_records(&self) -> u64 {
        self.dropped
    }

    /// The catalog ids emitted to `file`, in order.
    pub fn ids(&self, file: LogFile) -> Vec<&'static str> {
        self.records(file).map(|r| r.id).collect()
    }

    /// The framed lines of `file` (no line terminators).
    pub fn lines(&self, file: LogFile) -> Vec<String> {
        self.records(file).map(|r| self.frame(r)).collect()
    }

    /// The message texts of `file`, without framing.
    pub fn messages(&self, file: LogFile) -> Vec<String> {
        self.records(file).map(|r| r.message.clone()).collect()
    }

    /// How many records were ever emitted (held plus dropped): a position for
    /// [`Self::render_since`].
    pub fn emitted(&self) -> u64 {
        self.dropped
            .saturating_add(u64::try_from(self.records.len()).unwrap_or(u64::MAX))
    }

    /// The framed lines (CRLF-ended) of `file` among the records emitted at or after position
    /// `since` (see [`Self::emitted`]): what a log writer appends after its last write.
    pub fn render_since(&self, file: LogFile, since: u64) -> String {
        let skip = usize::try_from(since.saturating_sub(self.dropped)).unwrap_or(usize::MAX);
        let mut out = String::new();
        for r in self.records.iter().skip(skip).filter(|r| r.file == file) {
            out.push_str(&self.frame(r));
            out.push_str("\r\n");
        }
        out
    }

    /// The whole file as written to disk: framed lines, each ended by CRLF as on Windows.
    pub fn render(&self, file: LogFile) -> String {
        let mut out = String::new();
        for line in self.lines(file) {
            out.push_str(&line);
            out.push_str("\r\n");
        }
        out
    }

    /// Frames one record in the format of its file.
    fn frame(&self, r: &LogRecord) -> String {
        let c = &self.config;
        match r.file.sms_component() {
            Some(component) => {
                let thread = match r.file {
                    LogFile::AmtOpMgr => c.service_point_thread,
                    LogFile::Despool => c.despool_thread,
                    LogFile::HMan => c.hman_thread,
                    LogFile::PolicyPv => c.policy_provider_thread,
                    _ => c.proxy_thread,
                };
                let text = format!(
                    "{}{}{}",
                    r.file.message_prefix(),
                    r.message,
                    c.sms_message_suffix
                );
                format::sms_line(&text, component, r.at, c.bias_minutes, thread)
            }
            None if r.file == LogFile::PolicyAgent => format::cmtrace_line(
                &r.message,
                lookup(r.id).map_or("PolicyAgent", |t| t.component),
                r.at,
                c.bias_minutes,
                c.policy_agent_thread,
                r.severity.cmtrace_type(),
                "",
            ),
            None => format::cmtrace_line(
                &r.message,
                &c.client_component,
                r.at,
                c.bias_minutes,
                c.client_thread,
                r.severity.cmtrace_type(),
                &c.client_source_file,
            ),
        }
    }
}

/// Substitutes every `{name}` of `template` from `args`.
fn render_template(id: &str, template: &str, args: &[(&str, &str)]) -> Result<String, LogError> {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let name = after
            .find('}')
            .map(|end| &after[..end])
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        match name {
            Some(name) => {
                let value = args
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| LogError::MissingArgument {
                        id: id.to_owned(),
                        name: name.to_owned(),
                    })?;
                out.push_str(value);
                rest = &after[name.len() + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_placeholders_parse() {
        let mut ids: Vec<&str> = CATALOG.iter().map(|t| t.id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before, "duplicate catalog ids");
        assert_eq!(
            lookup("A-18.apply").map(LogText::placeholders),
            Some(vec!["hex"])
        );
        assert!(lookup("nope").is_none());
    }

    #[test]
    fn emit_checks_ids_arguments_and_secrets() {
        let mut logs = Logs::new(LogConfig::default());
        let now = Timestamp::EPOCH;
        // An unknown id cannot be written (ids are the catalog's constants); by name it is absent.
        assert_eq!(LogId::by_name("nope"), None);
        assert_eq!(LogId::by_name("A-11"), Some(ids::A_11));
        assert_eq!(ids::A_18_ISC.as_str(), "A-18.isc");
        assert_eq!(
            logs.emit(ids::A_11, &[], now).map_err(|e| e.id()),
            Err("log/missing-argument")
        );
        for name in [
            "password",
            "admin_password",
            "ha1",
            "otp",
            "key",
            "mebx_key",
        ] {
            assert_eq!(
                logs.emit(ids::A_11, &[("uuid", "u"), (name, "x")], now)
                    .map_err(|e| e.id()),
                Err("log/secret-argument"),
                "{name}"
            );
        }
        assert_eq!(logs.emit(ids::A_11, &[("uuid", "u")], now), Ok(()));
        assert_eq!(
            logs.messages(LogFile::AmtOpMgr),
            vec![
                "Error: The hash list of AMT device u does not contain the provisioning server certificate hash."
            ]
        );
    }

    #[test]
    fn sms_suffix_is_configurable_and_parsed_away() {
        let mut logs = Logs::new(LogConfig {
            sms_message_suffix: "~~".to_owned(),
            ..LogConfig::default()
        });
        assert_eq!(logs.emit(ids::A_10, &[], Timestamp::EPOCH), Ok(()));
        let line = logs.lines(LogFile::AmtProxyMgr).join("");
        assert!(line.starts_with("ERROR: ICertRequest2->Submit failed: 0x80070005~~  $$<"));
        assert_eq!(
            logs.messages(LogFile::AmtProxyMgr),
            vec!["ERROR: ICertRequest2->Submit failed: 0x80070005"]
        );
        let parsed = parse_line(&line);
        assert_eq!(
            parsed.message,
            "ERROR: ICertRequest2->Submit failed: 0x80070005"
        );
        assert_eq!(
            match_message(&parsed.message).map(|(t, _)| t.id),
            Some("A-10")
        );
    }

    #[test]
    fn memory_is_bounded_by_dropping_the_oldest_records() {
        let mut logs = Logs::new(LogConfig {
            max_records: 3,
            ..LogConfig::default()
        });
        for i in 0..5 {
            let uuid = i.to_string();
            assert_eq!(
                logs.emit(ids::A_11, &[("uuid", &uuid)], Timestamp::EPOCH),
                Ok(())
            );
        }
        assert_eq!(logs.all_records().count(), 3);
        assert_eq!(logs.dropped_records(), 2);
        assert!(logs.messages(LogFile::AmtOpMgr)[0].contains("device 2 "));
    }

    #[test]
    fn registered_secrets_never_reach_a_message() {
        let mut logs = Logs::new(LogConfig::default());
        logs.register_secret("P@ssw0rd");
        logs.register_secret("P@ssw0rd-long");
        logs.register_secret("abc");
        let r = logs.emit(
            ids::TLS_FAILED,
            &[
                ("uuid", "u"),
                ("target", "t"),
                ("detail", "auth P@ssw0rd-long then P@ssw0rd, abc"),
            ],
            Timestamp::EPOCH,
        );
        assert_eq!(r, Ok(()));
        assert_eq!(
            logs.messages(LogFile::AmtOpMgr),
            vec![
                "Error: TLS handshake with AMT device u at t failed: auth <redacted> then <redacted>, abc"
            ]
        );
        assert!(!format!("{logs:?}").contains("P@ssw0rd"));
    }

    #[test]
    fn a18_file_and_overrides_are_configurable() {
        let mut config = LogConfig {
            a18_file: LogFile::AmtProxyMgr,
            ..LogConfig::default()
        };
        config
            .overrides
            .insert("A-11".to_owned(), "hash list {uuid} bad".to_owned());
        let mut logs = Logs::new(config);
        assert_eq!(logs.emit(ids::A_18_ISC, &[], Timestamp::EPOCH), Ok(()));
        assert_eq!(
            logs.emit(ids::A_11, &[("uuid", "u")], Timestamp::EPOCH),
            Ok(())
        );
        assert_eq!(logs.ids(LogFile::AmtProxyMgr), vec!["A-18.isc"]);
        assert_eq!(logs.messages(LogFile::AmtOpMgr), vec!["hash list u bad"]);
        assert!(
            logs.lines(LogFile::AmtProxyMgr)[0].contains("$$<SMS_AMT_PROXY_COMPONENT>"),
            "A-18 in amtproxymgr.log takes that file's component"
        );
    }

    #[test]
    fn messages_match_back_to_their_entry() {
        let m = match_message("**** Error 0x6fcb970 returned by ApplyControlToken");
        assert_eq!(
            m.map(|(t, a)| (t.id, a)),
            Some(("A-18.apply", vec![("hex", "0x6fcb970".to_owned())]))
        );
        let m = match_message("Error code: 0x80072F8F").map(|(t, _)| t.id);
        assert_eq!(m, Some("A-19.code"));
        assert!(match_message("something else entirely").is_none());
    }

    #[test]
    fn entry_lines_follow_the_service_pack() {
        use crate::env::ConfigMgrVersion::{Sp1, Sp2};
        assert_eq!(entry_lines("A-02", Sp1), vec!["A-02.sp1"]);
        assert_eq!(entry_lines("A-03", Sp2), vec!["A-02.sp2"]);
        assert_eq!(
            entry_lines("A-18", Sp1),
            vec!["A-18.isc", "A-18.apply", "A-18.core-version"]
        );
        assert_eq!(entry_lines("A-19", Sp2).len(), 2);
        assert!(entry_lines("A-19", Sp1).is_empty());
        assert_eq!(entry_lines("A-1", Sp2), Vec::<&str>::new());
        assert!(entry_lines("A-05", Sp2).is_empty());
    }

    #[test]
    fn pointer_like_hex_looks_like_the_samples() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..100 {
            let h = pointer_like_hex(&mut rng);
            assert!(h.starts_with("0x") && h.len() == 9, "{h}");
            let v = u32::from_str_radix(&h[2..], 16).unwrap_or(1);
            assert_eq!(v % 4, 0);
        }
    }

    #[test]
    fn braces_that_are_not_placeholders_stay() {
        assert_eq!(
            render_template("x", "a {} b {not closed", &[]),
            Ok("a {} b {not closed".to_owned())
        );
        assert_eq!(placeholders("{a}{b c}{d_1}"), vec!["a", "d_1"]);
    }
}
