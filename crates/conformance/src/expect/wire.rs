//! The wire family: `wire`, what the device saw (TLS verdicts, HTTP requests, refused
//! connections, digest refusals, calls) from its own event log. Requires an arm whose devices
//! report their events ([`Requirement::DeviceEvents`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::count::Count;
use super::{Expect, Mismatch};
use crate::observe::Observation;
use crate::runner::requirements::Requirement;

/// What the device saw on the wire (from its event log; all devices).
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WireExpect {
    /// TLS handshakes in order: `ok` or the refusal id (`root-not-presented`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Vec<String>>,
    /// Number of HTTP requests the device answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_requests: Option<Count>,
    /// Reasons of refused TCP connections, in order (`connect/wireless`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_connections: Option<Vec<String>>,
    /// Number of digest refusals (HTTP 401), the first challenge of each connection included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_failures: Option<Count>,
    /// WS-MAN calls (`Class.Method` or `Class.Get`) that must have been answered with 200.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<String>,
    /// WS-MAN calls (`Class.Action`) the device must never have answered with 200.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absent_calls: Vec<String>,
}

/// Checks `expect.wire`.
pub(crate) fn check_wire(expect: &Expect, obs: &Observation, out: &mut Vec<Mismatch>) {
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
        && !n.holds(w.http_requests)
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
        && !n.holds(w.auth_failures)
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

/// What the wire family needs of an arm.
pub(crate) fn requirements(expect: &Expect, out: &mut Vec<Requirement>) {
    if expect.wire.is_some() {
        out.push(Requirement::DeviceEvents);
    }
}
