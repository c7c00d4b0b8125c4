//! The status-message family: `status_messages`, each entry a filter on the STATMSG stream of the
//! hierarchy (site, component, id, severity, insertion strings) and how many must match (a
//! number, `>=1`, `<=3`, `>0`, `<5` or a range `2..4`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::logs::Pattern;
use super::{Expect, Mismatch};
use crate::observe::{Observation, StatusObs};

pub use super::count::Count;

/// One filter on the status messages and how many must match it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusExpect {
    /// Site code (`P01`).
    pub site: String,
    /// Message id (`4404`).
    pub id: u32,
    /// Component (`SMS_DESPOOLER`); any if not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// `info`, `warning` or `error`; any if not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Insertion strings from `ISTR0` on, each a pattern (`{*}`, `{n}`, …); the rest are free.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub istr: Vec<String>,
    /// How many must match. Default `">=1"`.
    #[serde(default = "at_least_one")]
    pub count: Count,
}

fn at_least_one() -> Count {
    Count::AtLeast(1)
}

impl StatusExpect {
    fn matches(&self, m: &StatusObs) -> bool {
        m.site == self.site
            && m.id == self.id
            && self.component.as_ref().is_none_or(|c| *c == m.component)
            && self.severity.as_ref().is_none_or(|s| *s == m.severity)
            && self.istr.iter().enumerate().all(|(i, want)| {
                Pattern::new(want).matches(m.istr.get(i).map_or("", String::as_str))
            })
    }
}

/// Checks `expect.status_messages`.
pub(crate) fn check(expect: &Expect, obs: &Observation, out: &mut Vec<Mismatch>) {
    for (i, want) in expect.status_messages.iter().enumerate() {
        let n = obs
            .status_messages
            .iter()
            .filter(|m| want.matches(m))
            .count();
        if !want.count.holds(n) {
            let seen: Vec<String> = obs
                .status_messages
                .iter()
                .filter(|m| m.site == want.site && m.id == want.id)
                .take(5)
                .map(|m| format!("  {} {} {} {:?}", m.site, m.component, m.id, m.istr))
                .collect();
            out.push(
                Mismatch::new(
                    format!("expect.status_messages[{i}]"),
                    format!(
                        "{} of {} {} at {}",
                        want.count,
                        want.id,
                        want.istr.join(","),
                        want.site
                    ),
                    n.to_string(),
                )
                .with_detail(format!("first messages with that id:\n{}", seen.join("\n"))),
            );
        }
    }
}
