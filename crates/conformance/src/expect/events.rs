//! The event family: `events`, what the service point's and the devices' own event logs must
//! (or must not) hold: each expected event is a subset of an event's JSON object (the shape the
//! transcript shows, `{event: tls-handshake, session: management, verdict: ok}`), matched in
//! order, or counted with `times`. The site's events need nothing of an arm; the devices' events
//! require an arm whose devices report them ([`Requirement::DeviceEvents`]).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::logs::Pattern;
use super::{Expect, Mismatch};
use crate::observe::Observation;
use crate::runner::requirements::Requirement;

/// Events of both sides.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventsExpect {
    /// The service point's events (`hello-discarded`, `in-band-request`, `digest`, `ca`,
    /// `tls-established`, `wsman-call`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub site: Vec<EventMatch>,
    /// The devices' events (`hello-sent`, `tls-handshake`, `http-request`, `auth-failed`,
    /// `wsman-fault`, `connection-refused`, …), all devices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device: Vec<EventMatch>,
}

/// One expected event.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventMatch {
    /// Fields the event must have with these values (others are not compared). A string value
    /// is a pattern with the log placeholders (`{uuid}`, `{ip}`, `{n}`, `{*}`, …) and also
    /// matches a number or boolean written the same way.
    #[serde(rename = "match")]
    pub fields: BTreeMap<String, Value>,
    /// Exactly this many events match (`0`: none may). Without it, at least one must, after
    /// the event the previous entry without `times` matched (in order, others between).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<usize>,
}

impl EventMatch {
    /// Whether `event` has every expected field.
    fn matches(&self, event: &Value) -> bool {
        self.fields
            .iter()
            .all(|(key, want)| event.get(key).is_some_and(|got| value_matches(want, got)))
    }

    fn show(&self) -> String {
        serde_json::to_string(&self.fields).unwrap_or_default()
    }
}

fn value_matches(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::String(w), Value::String(g)) => Pattern::new(w).matches(g),
        (Value::String(w), Value::Number(_) | Value::Bool(_)) => {
            Pattern::new(w).matches(&got.to_string())
        }
        (Value::Object(w), Value::Object(g)) => w
            .iter()
            .all(|(k, v)| g.get(k).is_some_and(|gv| value_matches(v, gv))),
        _ => want == got,
    }
}

/// Checks `expect.events`.
pub(crate) fn check(expect: &Expect, obs: &Observation, out: &mut Vec<Mismatch>) {
    let Some(want) = &expect.events else { return };
    check_side("site", &want.site, &obs.events.site, out);
    check_side("device", &want.device, &obs.events.device, out);
}

fn check_side(side: &str, wanted: &[EventMatch], events: &[Value], out: &mut Vec<Mismatch>) {
    let listing = || {
        let lines: Vec<String> = events.iter().map(|e| format!("  {e}")).collect();
        format!("{side} events:\n{}", lines.join("\n"))
    };
    let mut from = 0;
    for (i, m) in wanted.iter().enumerate() {
        let what = format!("expect.events.{side}[{i}]");
        match m.times {
            Some(n) => {
                let got = events.iter().filter(|e| m.matches(e)).count();
                if got != n {
                    out.push(
                        Mismatch::new(
                            what,
                            format!("{n} event(s) matching {}", m.show()),
                            format!("{got}"),
                        )
                        .with_detail(listing()),
                    );
                }
            }
            None => match events.iter().skip(from).position(|e| m.matches(e)) {
                Some(pos) => from += pos + 1,
                None => {
                    let earlier = events.iter().take(from).any(|e| m.matches(e));
                    let actual = if earlier {
                        "present, but before the previous expected event (order)"
                    } else {
                        "not found"
                    };
                    out.push(
                        Mismatch::new(what, format!("an event matching {}", m.show()), actual)
                            .with_detail(listing()),
                    );
                }
            },
        }
    }
}

/// What the event family needs of an arm: the devices' own events when any is expected.
pub(crate) fn requirements(expect: &Expect, out: &mut Vec<Requirement>) {
    if expect.events.as_ref().is_some_and(|e| !e.device.is_empty())
        && !out.contains(&Requirement::DeviceEvents)
    {
        out.push(Requirement::DeviceEvents);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(yaml: &str) -> Result<EventMatch, Box<dyn std::error::Error>> {
        Ok(serde_saphyr::from_str(yaml)?)
    }

    #[test]
    fn subsets_patterns_and_counts() -> Result<(), Box<dyn std::error::Error>> {
        let events = vec![
            serde_json::json!({"event": "digest", "user": "admin", "ok": false, "account_index": 0}),
            serde_json::json!({"event": "tls-established"}),
            serde_json::json!({"event": "digest", "user": "admin", "ok": true, "account_index": 1}),
        ];
        let mut out = Vec::new();
        let wanted = vec![
            m("match: { event: digest, ok: false }")?,
            m("match: { event: digest, ok: true, account_index: \"{n}\" }")?,
            m("{ match: { event: digest }, times: 2 }")?,
            m("{ match: { event: tls-failed }, times: 0 }")?,
        ];
        check_side("site", &wanted, &events, &mut out);
        assert!(out.is_empty(), "{out:?}");
        let wrong = vec![
            m("match: { event: digest, ok: true }")?,
            m("match: { event: digest, ok: false }")?,
            m("{ match: { event: tls-established }, times: 0 }")?,
            m("match: { event: digest, user: root }")?,
        ];
        check_side("site", &wrong, &events, &mut out);
        let what: Vec<(&str, &str)> = out
            .iter()
            .map(|m| (m.what.as_str(), m.actual.as_str()))
            .collect();
        assert_eq!(
            what,
            [
                (
                    "expect.events.site[1]",
                    "present, but before the previous expected event (order)"
                ),
                ("expect.events.site[2]", "1"),
                ("expect.events.site[3]", "not found"),
            ]
        );
        Ok(())
    }
}
