//! The site family: `site`, the site's end state after the flow: the AMT computer accounts in
//! Active Directory and the web server certificates the enterprise CA issued and revoked. The
//! site is ours on every arm, so it needs nothing of an arm.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Expect, Mismatch};
use crate::observe::Observation;

/// The site's end state.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteExpect {
    /// The exact set of AMT computer accounts (sAMAccountName, `AMT-DEVICE-01$iME`) in Active
    /// Directory at the end (`[]`: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_accounts: Option<Vec<String>>,
    /// How many web server certificates the enterprise CA issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates_issued: Option<usize>,
    /// How many of them it revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates_revoked: Option<usize>,
}

/// Checks `expect.site`.
pub(crate) fn check(expect: &Expect, obs: &Observation, out: &mut Vec<Mismatch>) {
    let Some(want) = &expect.site else { return };
    let site = &obs.site;
    if let Some(w) = &want.ad_accounts {
        let mut w = w.clone();
        w.sort();
        let mut got = site.ad_accounts.clone();
        got.sort();
        if w != got {
            out.push(Mismatch::new(
                "expect.site.ad_accounts",
                format!("{w:?}"),
                format!("{got:?}"),
            ));
        }
    }
    for (name, want, got) in [
        (
            "certificates_issued",
            want.certificates_issued,
            &site.certificates_issued,
        ),
        (
            "certificates_revoked",
            want.certificates_revoked,
            &site.certificates_revoked,
        ),
    ] {
        if let Some(n) = want
            && n != got.len()
        {
            out.push(
                Mismatch::new(
                    format!("expect.site.{name}"),
                    n.to_string(),
                    got.len().to_string(),
                )
                .with_detail(format!("serials: {got:?}")),
            );
        }
    }
}
