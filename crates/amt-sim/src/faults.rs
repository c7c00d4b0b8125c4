//! Fault injection: the `faults:` list of a device profile and the matcher that applies
//! step-addressed faults ("on the 2nd `CommitChanges` return 1") at run time.
//!
//! Each list entry is exactly one of:
//! - a step-addressed protocol fault: `on: {method|action|class|step, nth}` plus `do: …`;
//! - a certificate-policy fault: `hash_active`, `refuse_tls`, `cn_rule`, `max_root_key_bits`,
//!   `min_rsa_key_bits`, `refuse_sha1`;
//! - a network fault: `no_wired_link`, `hellos_off`, `refuse_port`, `wireless_only`.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::personality::CnRule;

/// One fault of the profile's `faults:` list: exactly one kind (see the module documentation).
/// YAML writes it as a [`FaultEntry`] mapping; an entry that is empty, mixes kinds or has invalid
/// values does not load.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultSpec {
    /// A step-addressed protocol fault: when it fires and what it does.
    Step {
        /// When it fires.
        on: FaultTrigger,
        /// What it does.
        action: FaultAction,
    },
    /// Override the active flag of hash-list entries.
    HashActive(HashActiveOverride),
    /// Refuse every setup TLS handshake as this refusal.
    RefuseTls(crate::tls::RefusalKind),
    /// Replace the personality's CN rule.
    CnRule(CnRule),
    /// Replace the largest accepted root key size (bits; 0 = no limit).
    MaxRootKeyBits(u32),
    /// Replace the smallest accepted RSA key size (bits; 0 = no limit).
    MinRsaKeyBits(u32),
    /// Replace whether SHA-1 in the chain is refused.
    RefuseSha1(bool),
    /// The wired link is down.
    NoWiredLink,
    /// Hellos are switched off.
    HellosOff,
    /// Connections to this local port are refused.
    RefusePort(u16),
    /// Only the wireless address answers.
    WirelessOnly,
}

impl Serialize for FaultSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        FaultEntry::from(self.clone()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for FaultSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::try_from(FaultEntry::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// The YAML shape ([`FaultEntry`]).
impl JsonSchema for FaultSpec {
    fn schema_name() -> Cow<'static, str> {
        FaultEntry::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        FaultEntry::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        FaultEntry::json_schema(generator)
    }
}

impl From<FaultSpec> for FaultEntry {
    fn from(f: FaultSpec) -> Self {
        let mut e = Self::default();
        match f {
            FaultSpec::Step { on, action } => {
                e.on = Some(on);
                e.action = Some(action);
            }
            FaultSpec::HashActive(h) => e.hash_active = Some(h),
            FaultSpec::RefuseTls(r) => e.refuse_tls = Some(r),
            FaultSpec::CnRule(r) => e.cn_rule = Some(r),
            FaultSpec::MaxRootKeyBits(b) => e.max_root_key_bits = Some(b),
            FaultSpec::MinRsaKeyBits(b) => e.min_rsa_key_bits = Some(b),
            FaultSpec::RefuseSha1(b) => e.refuse_sha1 = Some(b),
            FaultSpec::NoWiredLink => e.no_wired_link = true,
            FaultSpec::HellosOff => e.hellos_off = true,
            FaultSpec::RefusePort(p) => e.refuse_port = Some(p),
            FaultSpec::WirelessOnly => e.wireless_only = true,
        }
        e
    }
}

impl TryFrom<FaultEntry> for FaultSpec {
    type Error = String;

    /// Parses an entry: exactly one kind of fault, with valid values.
    fn try_from(e: FaultEntry) -> Result<Self, String> {
        e.validate()?;
        let spec = match e {
            FaultEntry {
                on: Some(on),
                action: Some(action),
                ..
            } => Self::Step { on, action },
            FaultEntry {
                hash_active: Some(h),
                ..
            } => Self::HashActive(h),
            FaultEntry {
                refuse_tls: Some(r),
                ..
            } => Self::RefuseTls(r),
            FaultEntry {
                cn_rule: Some(r), ..
            } => Self::CnRule(r),
            FaultEntry {
                max_root_key_bits: Some(b),
                ..
            } => Self::MaxRootKeyBits(b),
            FaultEntry {
                min_rsa_key_bits: Some(b),
                ..
            } => Self::MinRsaKeyBits(b),
            FaultEntry {
                refuse_sha1: Some(b),
                ..
            } => Self::RefuseSha1(b),
            FaultEntry {
                refuse_port: Some(p),
                ..
            } => Self::RefusePort(p),
            FaultEntry {
                no_wired_link: true,
                ..
            } => Self::NoWiredLink,
            FaultEntry {
                hellos_off: true, ..
            } => Self::HellosOff,
            FaultEntry {
                wireless_only: true,
                ..
            } => Self::WirelessOnly,
            FaultEntry { .. } => return Err("empty fault entry".into()),
        };
        Ok(spec)
    }
}

impl FaultSpec {
    /// Short description for the event log.
    pub fn describe(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "fault".into())
    }

    /// The delay a step-addressed fault injects, if it is one.
    pub fn delay(&self) -> Option<Duration> {
        match self {
            Self::Step {
                action: FaultAction::Delay(d),
                ..
            } => Some(d.0),
            _ => None,
        }
    }
}

/// One entry of the profile's `faults:` list as YAML writes it: a mapping with exactly one kind
/// of fault. It is parsed into a [`FaultSpec`] (the only form the device uses) when it loads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "FaultSpec")]
pub struct FaultEntry {
    /// Step-addressed fault: when it fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<FaultTrigger>,
    /// Step-addressed fault: what it does.
    #[serde(default, rename = "do", skip_serializing_if = "Option::is_none")]
    pub action: Option<FaultAction>,
    /// Override the active flag of hash-list entries (by name or 0-based index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_active: Option<HashActiveOverride>,
    /// Refuse every setup TLS handshake as this refusal (e.g. `root-not-in-hash-list`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refuse_tls: Option<crate::tls::RefusalKind>,
    /// Replace the personality's CN rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cn_rule: Option<CnRule>,
    /// Replace the largest accepted root key size (bits; 0 = no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_root_key_bits: Option<u32>,
    /// Replace the smallest accepted RSA key size (bits; 0 = no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_rsa_key_bits: Option<u32>,
    /// Replace whether SHA-1 in the chain is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refuse_sha1: Option<bool>,
    /// The wired link is down: no Hello, no connection on the wired address.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_wired_link: bool,
    /// Hellos are switched off (the device still answers connections).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hellos_off: bool,
    /// Connections to this local port are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refuse_port: Option<u16>,
    /// Only the wireless address answers (connections to the wired address are refused).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wireless_only: bool,
}

/// `hash_active: { name: "…", active: false }` or `{ index: 3, active: true }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HashActiveOverride {
    /// Friendly name of the entry (exact match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// 0-based position in the hash list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The new active flag.
    pub active: bool,
}

/// When a step-addressed fault fires.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultTrigger {
    /// Invoked method name (`CommitChanges`, `SetMEBxPassword`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// WS-MAN action short name (`Get`, `Put`, `Enumerate`, `Pull`, … or a method name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Class (last segment of the ResourceURI), e.g. `AMT_GeneralSettings`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// A non-HTTP step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Step>,
    /// Fire only on the nth matching occurrence (1-based); absent = every occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nth: Option<u32>,
    /// The fault may not fire during a scenario (otherwise a fault that never fires fails the
    /// scenario: it usually names a step the flow never reaches, or has a typo).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// Steps below HTTP that a fault can address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "FaultStep")]
pub enum Step {
    /// Accepting a TCP connection.
    TcpConnect,
    /// Right after the device's ServerHello flight was produced.
    TlsServerHello,
    /// An HTTP request (the default when `method`/`action`/`class` are given).
    HttpRequest,
}

/// What a step-addressed fault does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// Replace the method's `ReturnValue` (the request is otherwise processed normally).
    ReturnValue(u32),
    /// Close the connection: on a TLS step, after sending the flight; on an HTTP request, after
    /// processing the request but before sending the response.
    CloseConnection,
    /// Process the request and close without responding (same as `close_connection` on HTTP).
    CloseBeforeResponse,
    /// Send the response, then close.
    CloseAfterResponse,
    /// Answer 200 with an empty body.
    EmptyBody,
    /// Delay the response (`40s`, `1500ms`, `2m`).
    Delay(DurationText),
    /// Answer with this HTTP status and an empty body instead.
    HttpStatus(u16),
}

/// A duration written as text: `<number><unit>` with unit `ms`, `s`, `m` or `h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurationText(pub Duration);

impl DurationText {
    /// Parses `40s`, `1500ms`, `2m`, `1h` (the format is `amt_wire::time`'s).
    pub fn parse(text: &str) -> Result<Self, String> {
        amt_wire::time::parse_duration_text(text)
            .map(Self)
            .map_err(|e| e.to_string())
    }
}

impl fmt::Display for DurationText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&amt_wire::time::format_duration_text(self.0))
    }
}

impl Serialize for DurationText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(n) => Ok(Self(Duration::from_secs(n))),
            Raw::Text(t) => Self::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

/// Longest delay a fault may inject (a day: anything longer cannot be a real device's pause, and
/// would overflow the shell's timers).
pub const MAX_DELAY: Duration = Duration::from_secs(24 * 3600);

/// The JSON Schema `pattern` of a [`DurationText`] written as a string.
pub use amt_wire::time::DURATION_PATTERN;

/// Hand-written (the `Deserialize` is): a whole number of seconds, or a string matching
/// [`DURATION_PATTERN`].
impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "DurationText".into()
    }

    fn schema_id() -> Cow<'static, str> {
        "amt_sim::faults::DurationText".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: `<number><unit>` with unit `ms`, `s`, `m` (or `min`) or \
                            `h`, e.g. `40s`, `1500ms`, `2m`, `1h`; a bare number counts seconds.",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": DURATION_PATTERN },
            ],
        })
    }
}

impl FaultEntry {
    /// Checks that the entry is exactly one kind of fault; returns a message otherwise.
    pub fn validate(&self) -> Result<(), String> {
        let step = self.on.is_some() || self.action.is_some();
        let kinds = [
            step,
            self.hash_active.is_some(),
            self.refuse_tls.is_some(),
            self.cn_rule.is_some(),
            self.max_root_key_bits.is_some(),
            self.min_rsa_key_bits.is_some(),
            self.refuse_sha1.is_some(),
            self.no_wired_link,
            self.hellos_off,
            self.refuse_port.is_some(),
            self.wireless_only,
        ];
        match kinds.iter().filter(|k| **k).count() {
            0 => return Err("empty fault entry".into()),
            1 => {}
            _ => return Err("a fault entry must describe exactly one fault".into()),
        }
        if step {
            let (Some(on), Some(_)) = (&self.on, &self.action) else {
                return Err("a step-addressed fault needs both `on` and `do`".into());
            };
            if on.method.is_none() && on.action.is_none() && on.class.is_none() && on.step.is_none()
            {
                return Err("`on` needs at least one of method, action, class, step".into());
            }
            if on.nth == Some(0) {
                return Err("`nth` counts from 1".into());
            }
            match &self.action {
                Some(FaultAction::HttpStatus(code)) if !(100..=599).contains(code) => {
                    return Err(format!(
                        "http_status {code} is not an HTTP status (100-599)"
                    ));
                }
                Some(FaultAction::Delay(d)) if d.0 > MAX_DELAY => {
                    return Err(format!(
                        "a delay of {} is longer than the {} a fault may wait",
                        d,
                        DurationText(MAX_DELAY)
                    ));
                }
                _ => {}
            }
        }
        if let Some(h) = &self.hash_active
            && h.name.is_none() == h.index.is_none()
        {
            return Err("`hash_active` needs exactly one of name, index".into());
        }
        Ok(())
    }
}

/// What a request looked like, for matching.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestKey<'a> {
    /// Action short name (`Get`, `CommitChanges`, …).
    pub action: Option<&'a str>,
    /// Whether the action is a custom method (Invoke) rather than a WS-Transfer/Enumeration verb.
    pub is_method: bool,
    /// Class name.
    pub class: Option<&'a str>,
}

/// Run-time state of the step-addressed faults: occurrence counters.
#[derive(Clone, Debug, Default)]
pub struct FaultMatcher {
    /// (index into the profile's fault list, trigger, action, occurrences seen so far).
    entries: Vec<(usize, FaultTrigger, FaultAction, u32)>,
}

impl FaultMatcher {
    /// Collects the step-addressed faults from a profile's list.
    pub fn new(faults: &[FaultSpec]) -> Self {
        let entries = faults
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match f {
                FaultSpec::Step { on, action } => Some((i, on.clone(), action.clone(), 0)),
                _ => None,
            })
            .collect();
        Self { entries }
    }

    /// Faults that fire for this HTTP request (counting the occurrence for each matching trigger).
    pub fn on_request(&mut self, key: RequestKey<'_>) -> Vec<(usize, FaultAction)> {
        let mut fired = Vec::new();
        for (i, on, action, seen) in &mut self.entries {
            if on.step.is_some_and(|s| s != Step::HttpRequest) {
                continue;
            }
            let eq = |want: &Option<String>, have: Option<&str>| {
                want.as_deref()
                    .is_none_or(|w| have.is_some_and(|h| h.eq_ignore_ascii_case(w)))
            };
            let method_ok = on.method.as_deref().is_none_or(|w| {
                key.is_method && key.action.is_some_and(|h| h.eq_ignore_ascii_case(w))
            });
            if method_ok && eq(&on.action, key.action) && eq(&on.class, key.class) {
                *seen = seen.saturating_add(1);
                if on.nth.is_none_or(|n| n == *seen) {
                    fired.push((*i, action.clone()));
                }
            }
        }
        fired
    }

    /// Faults that fire at a non-HTTP step.
    pub fn on_step(&mut self, step: Step) -> Vec<(usize, FaultAction)> {
        let mut fired = Vec::new();
        for (i, on, action, seen) in &mut self.entries {
            if on.step == Some(step) {
                *seen = seen.saturating_add(1);
                if on.nth.is_none_or(|n| n == *seen) {
                    fired.push((*i, action.clone()));
                }
            }
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Vec<FaultSpec>, serde_saphyr::Error> {
        serde_saphyr::from_str(yaml)
    }

    #[test]
    fn issue_syntax_parses_and_matches_nth_occurrence() -> Result<(), serde_saphyr::Error> {
        let faults = parse(
            "- on: { method: CommitChanges, nth: 2 }\n  do: { return_value: 1 }\n\
             - on: { action: Get, class: AMT_GeneralSettings }\n  do: empty_body\n\
             - on: { step: tls-server-hello }\n  do: close_connection\n\
             - on: { action: Put }\n  do: { delay: 40s }\n\
             - no_wired_link: true\n",
        )?;
        assert_eq!(faults[3].delay(), Some(Duration::from_secs(40)));
        assert_eq!(faults[4], FaultSpec::NoWiredLink);
        let mut m = FaultMatcher::new(&faults);
        let commit = RequestKey {
            action: Some("CommitChanges"),
            is_method: true,
            class: Some("AMT_SetupAndConfigurationService"),
        };
        assert!(m.on_request(commit).is_empty());
        assert_eq!(m.on_request(commit), vec![(0, FaultAction::ReturnValue(1))]);
        assert!(m.on_request(commit).is_empty());
        let get = RequestKey {
            action: Some("Get"),
            is_method: false,
            class: Some("AMT_GeneralSettings"),
        };
        assert_eq!(m.on_request(get), vec![(1, FaultAction::EmptyBody)]);
        assert_eq!(
            m.on_step(Step::TlsServerHello),
            vec![(2, FaultAction::CloseConnection)]
        );
        Ok(())
    }

    #[test]
    fn invalid_entries_are_rejected() -> Result<(), serde_saphyr::Error> {
        assert!(parse("- on: { method: X }\n  do: explode\n").is_err());
        assert!(parse("- bogus: 1\n").is_err());
        // Parse, don't validate: an entry that is not exactly one fault does not load.
        let two = parse("- hellos_off: true\n  no_wired_link: true\n");
        assert!(two.is_err_and(|e| e.to_string().contains("exactly one fault")));
        let half = parse("- on: { method: X }\n");
        assert!(half.is_err_and(|e| e.to_string().contains("both `on` and `do`")));
        assert!(parse("- {}\n").is_err_and(|e| e.to_string().contains("empty fault entry")));
        assert!(parse("- on: { method: X, nth: 0 }\n  do: empty_body\n").is_err());
        assert!(DurationText::parse("5 parsecs").is_err());
        assert_eq!(
            DurationText::parse("1500ms").map(|d| d.0),
            Ok(Duration::from_millis(1500))
        );
        Ok(())
    }
}
