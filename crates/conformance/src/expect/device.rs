//! The device family: `device`, the device's end state read back over WS-MAN after the flow
//! (every arm reads it back through its own connector). Needs nothing of an arm.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Expect, Mismatch};
use crate::observe::Observation;

/// The device's end state, read over WS-MAN.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceExpect {
    /// `pre`, `in` or `post` (`AMT_SetupAndConfigurationService.ProvisioningState`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<StateName>,
    /// `AMT_GeneralSettings.HostName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    /// `AMT_GeneralSettings.DomainName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// The read-back itself must fail (e.g. WS-MAN refuses every request, A-20 FQDN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<bool>,
}

/// A provisioning state.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StateName {
    /// Pre-provisioning (factory).
    Pre,
    /// In provisioning.
    In,
    /// Post-provisioning.
    Post,
}

/// Checks `expect.device`.
pub(crate) fn check_device(expect: &Expect, obs: &Observation, out: &mut Vec<Mismatch>) {
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
