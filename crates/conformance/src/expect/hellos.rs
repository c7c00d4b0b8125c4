//! The Hello family: `hellos` (counts of all devices, the last Hello's time, whether the
//! schedules stopped). `last_at` is a virtual-clock time: not compared on the wall clock.

use amt_sim::faults::DurationText;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::count::Count;
use super::{Expect, Mismatch};
use crate::observe::Observation;

/// Hello counts and timing (all devices).
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HelloExpect {
    /// Hellos the devices sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<Count>,
    /// Hellos that reached the service point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<Count>,
    /// Hellos whose target name DNS did not resolve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unresolved: Option<Count>,
    /// Hellos the service point discarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discarded: Option<Count>,
    /// Time of the last Hello after the start (`24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<DurationText>,
    /// The devices stopped sending Hellos by the end of the flow (schedule over or provisioned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<bool>,
}

/// Checks `expect.hellos`.
pub(crate) fn check_hellos(expect: &Expect, obs: &Observation, out: &mut Vec<Mismatch>) {
    let Some(want) = &expect.hellos else { return };
    let h = &obs.hellos;
    for (name, w, a) in [
        ("sent", want.sent, h.sent),
        ("delivered", want.delivered, h.delivered),
        ("unresolved", want.unresolved, h.unresolved),
        ("discarded", want.discarded, h.discarded),
    ] {
        if let Some(w) = w
            && !w.holds(a)
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
            h.last_at
                .map_or_else(|| "no Hello".into(), |d| DurationText(d).to_string()),
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

/// On the wall clock: `last_at` is left out, with a note.
pub(crate) fn relax_for_wall_clock(expect: &mut Expect, notes: &mut Vec<String>) {
    if let Some(h) = &mut expect.hellos
        && h.last_at.take().is_some()
    {
        notes.push("expect.hellos.last_at not compared: a virtual-clock time".to_owned());
    }
}
