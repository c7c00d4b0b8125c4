//! `amt-conformance vocabulary`: every id a scenario may name, with one line of meaning. The
//! lists come from where the ids are defined, so they cannot drift: the scenario JSON Schema (every
//! string enum with its documentation: failed steps, refusal kinds, personalities, fault steps, log
//! files, …), the one log catalog (every line id with its file and text), and the id tables of
//! the typed errors that reports show (client refusals, refused connections, skip reasons).

use amt_sim::device::ConnectRefusalKind;
use provisioner_core::logs::CATALOG;
use serde::Serialize;
use serde_json::Value;

/// One id.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Entry {
    /// What kind of id (`RefusalKind`, `log-line`, `client-refusal`, …).
    pub kind: String,
    /// The id as a scenario writes it.
    pub id: String,
    /// One line of meaning.
    pub meaning: String,
}

/// The in-band client's refusal ids (`expect.client_refusal`).
const CLIENT_REFUSALS: &[(&str, &str)] = &[
    (
        "client/not-installed",
        "no ConfigMgr client is installed on the computer",
    ),
    (
        "client/not-enabled",
        "the client's out-of-band management is not enabled",
    ),
    (
        "client/heci-missing",
        "the HECI (MEI) driver is missing on the host",
    ),
    (
        "client/no-valid-hash",
        "no device root hash matches the provisioning certificate's root",
    ),
    (
        "client/policy-refused",
        "the client refused its policy (signing certificate from another root)",
    ),
    ("client/log", "the client could not write its log line"),
];

/// Skip reason ids (reports).
const SKIP_REASONS: &[(&str, &str)] = &[
    (
        "skip/device-control",
        "needs device settings, faults or steps that only a simulated device has",
    ),
    (
        "skip/device-events",
        "`expect.wire` or device events need a device that reports its events",
    ),
    (
        "skip/virtual-clock",
        "a Hello window, long wait or long injected delay needs the virtual clock",
    ),
    (
        "skip/step-needs-device",
        "a flow step (Hellos, HECI, a local unprovision) needs the device",
    ),
    ("skip/fleet-size", "the fleet is larger than the arm holds"),
    (
        "skip/foreign-record",
        "an imported record names another address or port than the device's",
    ),
    (
        "skip/refused-connect",
        "the device refused a TCP connection, which a socket shell cannot show",
    ),
];

/// Every id, grouped by kind, in a stable order.
pub fn entries() -> Vec<Entry> {
    let mut out = Vec::new();
    let schema = crate::scenario::json_schema();
    if let Some(Value::Object(defs)) = schema.get("definitions") {
        for (name, def) in defs {
            for (id, meaning) in string_enum(def) {
                out.push(Entry {
                    kind: name.clone(),
                    id,
                    meaning,
                });
            }
        }
    }
    for text in CATALOG {
        out.push(Entry {
            kind: "log-line".to_owned(),
            id: text.id.to_owned(),
            meaning: format!("{}: {}", text.file.file_name(), text.template),
        });
    }
    let fixed = [
        ("client-refusal", CLIENT_REFUSALS),
        ("skip-reason", SKIP_REASONS),
    ];
    for (kind, rows) in fixed {
        for (id, meaning) in rows {
            out.push(Entry {
                kind: kind.to_owned(),
                id: (*id).to_owned(),
                meaning: (*meaning).to_owned(),
            });
        }
    }
    for kind in CONNECT_REFUSALS {
        out.push(Entry {
            kind: "refused-connection".to_owned(),
            id: kind.id().to_owned(),
            meaning: connect_meaning(kind).to_owned(),
        });
    }
    out
}

const CONNECT_REFUSALS: [ConnectRefusalKind; 9] = [
    ConnectRefusalKind::NoListener,
    ConnectRefusalKind::PortFault,
    ConnectRefusalKind::NoWiredLink,
    ConnectRefusalKind::Wireless,
    ConnectRefusalKind::WiredClosed,
    ConnectRefusalKind::TlsClosed,
    ConnectRefusalKind::PlainClosed,
    ConnectRefusalKind::TlsConfig,
    ConnectRefusalKind::NoHostInterface,
];

fn connect_meaning(kind: ConnectRefusalKind) -> &'static str {
    match kind {
        ConnectRefusalKind::NoListener => "nothing listens on that port",
        ConnectRefusalKind::PortFault => "a `refuse_port` fault closes the port",
        ConnectRefusalKind::NoWiredLink => "the wired link is down",
        ConnectRefusalKind::Wireless => "a configuration session over the wireless interface",
        ConnectRefusalKind::WiredClosed => "only the wireless address answers",
        ConnectRefusalKind::TlsClosed => "the TLS port is closed in this state",
        ConnectRefusalKind::PlainClosed => "the plain HTTP port is closed (TLS required)",
        ConnectRefusalKind::TlsConfig => "the device's TLS configuration could not be built",
        ConnectRefusalKind::NoHostInterface => "no local host interface (no HECI driver)",
    }
}

/// The values of a string-enum schema with their descriptions (`oneOf` of documented `const`s,
/// or a plain `enum`).
fn string_enum(def: &Value) -> Vec<(String, String)> {
    let description = |v: &Value| {
        v.get("description")
            .and_then(Value::as_str)
            .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    if let Some(Value::Array(branches)) = def.get("oneOf") {
        let values: Vec<(String, String)> = branches
            .iter()
            .filter_map(|b| {
                let c = b.get("const").and_then(Value::as_str)?;
                Some((c.to_owned(), description(b)))
            })
            .collect();
        if values.len() == branches.len() {
            return values;
        }
        return Vec::new();
    }
    if let Some(Value::Array(values)) = def.get("enum") {
        let meaning = description(def);
        return values
            .iter()
            .filter_map(Value::as_str)
            .map(|v| (v.to_owned(), meaning.clone()))
            .collect();
    }
    Vec::new()
}

/// The human listing: `KIND  ID  meaning`, one line each.
pub fn human(entries: &[Entry]) -> String {
    let kind_w = entries.iter().map(|e| e.kind.len()).max().unwrap_or(0);
    let id_w = entries.iter().map(|e| e.id.len()).max().unwrap_or(0);
    let mut out = String::new();
    for e in entries {
        out.push_str(&format!(
            "{:kind_w$}  {:id_w$}  {}\n",
            e.kind, e.id, e.meaning
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_id_is_listed_with_a_meaning() {
        let all = entries();
        let has = |kind: &str, id: &str| all.iter().any(|e| e.kind == kind && e.id == id);
        assert!(has("RefusalKind", "root-not-in-hash-list"));
        assert!(has("ExpectedOutcome", "client-refused"));
        assert!(has("log-line", "A-18.isc"));
        assert!(has("client-refusal", "client/heci-missing"));
        assert!(has("skip-reason", "skip/virtual-clock"));
        assert!(has("refused-connection", "connect/wireless"));
        // Every catalog line, and no id without a meaning.
        for text in CATALOG {
            assert!(has("log-line", text.id), "{}", text.id);
        }
        let bare: Vec<&Entry> = all
            .iter()
            .filter(|e| e.meaning.trim().is_empty() && e.kind != "Personality")
            .collect();
        assert!(bare.is_empty(), "ids without a meaning: {bare:?}");
        let text = human(&all);
        assert_eq!(text.lines().count(), all.len());
    }
}
