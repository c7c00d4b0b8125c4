//! The hierarchy family: `site_logs` and `absent_site_logs` (log lines per site, same matching as
//! `logs`), `sites` (inbox counts, keys held, the site's record of the device, policies),
//! `clients` (policy, managed, reported errors, the pin) and `certificates` (issued, published,
//! issued but unpublished).

use std::collections::BTreeMap;

use provisioner_core::events::AmtStatus;
use provisioner_core::logs::LogFile;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::logs::Pattern;
use super::statmsg::Count;
use super::{Expect, Mismatch};
use crate::observe::{LogObs, Observation};

/// What a site must show at the end. Every key optional.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteExpect {
    /// Files in `despoolr.box\receive` at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive_now: Option<Count>,
    /// The most files `despoolr.box\receive` held at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive_max: Option<Count>,
    /// Instructions deleted after their last retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Count>,
    /// Instructions verified and executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executed: Option<Count>,
    /// Sites whose public key it holds, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
    /// Its record of the first device (`provisioned`, `not-provisioned`, …; `unknown` = no
    /// record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_status: Option<AmtStatus>,
    /// Policies re-signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies_resigned: Option<Count>,
    /// Policy authentication failures reported by clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_errors: Option<Count>,
    /// Files at the root of its server's drive (preinst output), exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drive_root: Option<Vec<String>>,
}

/// What a client must show.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientExpect {
    /// `accepted` or `refused`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Managed by its site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
    /// Policy authentication failures it reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_errors: Option<Count>,
    /// `AllowedRootCAHashCode` on its OS's key: upper-case hex, or `absent` (absent or empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_root: Option<String>,
}

/// The AMT web server certificates of the run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificatesExpect {
    /// Issued by the enterprise CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued: Option<Count>,
    /// Published to the site database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Count>,
    /// Issued but not published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpublished: Option<Count>,
}

fn count(out: &mut Vec<Mismatch>, what: String, want: Option<&Count>, n: usize) {
    if let Some(want) = want
        && !want.holds(n)
    {
        out.push(Mismatch::new(what, want.to_string(), n.to_string()));
    }
}

fn equal<T: std::fmt::Debug + PartialEq>(
    out: &mut Vec<Mismatch>,
    what: String,
    want: Option<&T>,
    got: &T,
) {
    if let Some(want) = want
        && want != got
    {
        out.push(Mismatch::new(what, format!("{want:?}"), format!("{got:?}")));
    }
}

/// Checks `site_logs`, `absent_site_logs`, `sites`, `clients` and `certificates`.
pub(crate) fn check(expect: &Expect, obs: &Observation, out: &mut Vec<Mismatch>) {
    let empty = LogObs::default();
    for (code, files) in &expect.site_logs {
        for (file, wanted) in files {
            let log = obs
                .sites
                .get(code)
                .and_then(|s| s.logs.get(file))
                .unwrap_or(&empty);
            check_lines(code, *file, wanted, log, out);
        }
    }
    for (code, files) in &expect.absent_site_logs {
        for (file, unwanted) in files {
            let log = obs
                .sites
                .get(code)
                .and_then(|s| s.logs.get(file))
                .unwrap_or(&empty);
            for (i, line) in unwanted.iter().enumerate() {
                let p = Pattern::new(line);
                let hay = if p.framed { &log.lines } else { &log.messages };
                if let Some(found) = hay.iter().find(|l| p.matches(l)) {
                    out.push(Mismatch::new(
                        format!("expect.absent_site_logs.{code}.{}[{i}]", file.file_name()),
                        format!("no line matching {line:?}"),
                        found.clone(),
                    ));
                }
            }
        }
    }
    for (code, want) in &expect.sites {
        let Some(site) = obs.sites.get(code) else {
            out.push(Mismatch::new(
                format!("expect.sites.{code}"),
                "a site of the hierarchy",
                "no such site",
            ));
            continue;
        };
        let w = |k: &str| format!("expect.sites.{code}.{k}");
        count(
            out,
            w("receive_now"),
            want.receive_now.as_ref(),
            site.receive_now,
        );
        count(
            out,
            w("receive_max"),
            want.receive_max.as_ref(),
            site.receive_max,
        );
        count(out, w("deleted"), want.deleted.as_ref(), site.deleted);
        count(out, w("executed"), want.executed.as_ref(), site.executed);
        equal(out, w("keys"), want.keys.as_ref(), &site.keys);
        let status = site.device_status.unwrap_or(AmtStatus::Unknown);
        equal(
            out,
            w("device_status"),
            want.device_status.as_ref(),
            &status,
        );
        let resigned = site.policies_resigned as usize;
        count(
            out,
            w("policies_resigned"),
            want.policies_resigned.as_ref(),
            resigned,
        );
        let errors = site.policy_errors as usize;
        count(out, w("policy_errors"), want.policy_errors.as_ref(), errors);
        equal(
            out,
            w("drive_root"),
            want.drive_root.as_ref(),
            &site.drive_root,
        );
    }
    for (name, want) in &expect.clients {
        let Some(c) = obs.clients.get(name) else {
            out.push(Mismatch::new(
                format!("expect.clients.{name}"),
                "a client of the hierarchy",
                "no such client",
            ));
            continue;
        };
        let w = |k: &str| format!("expect.clients.{name}.{k}");
        equal(out, w("policy"), want.policy.as_ref(), &c.policy);
        equal(out, w("managed"), want.managed.as_ref(), &c.managed);
        let errors = c.reported_errors as usize;
        count(
            out,
            w("reported_errors"),
            want.reported_errors.as_ref(),
            errors,
        );
        let pin = c
            .allowed_root
            .clone()
            .unwrap_or_else(|| "absent".to_owned());
        equal(out, w("allowed_root"), want.allowed_root.as_ref(), &pin);
    }
    if let Some(want) = &expect.certificates {
        let c = &obs.certificates;
        count(
            out,
            "expect.certificates.issued".into(),
            want.issued.as_ref(),
            c.issued,
        );
        count(
            out,
            "expect.certificates.published".into(),
            want.published.as_ref(),
            c.published,
        );
        let n = c.unpublished.len();
        count(
            out,
            "expect.certificates.unpublished".into(),
            want.unpublished.as_ref(),
            n,
        );
    }
}

/// Lines of one site's file, in order (as `logs`).
fn check_lines(
    code: &str,
    file: LogFile,
    wanted: &[String],
    log: &LogObs,
    out: &mut Vec<Mismatch>,
) {
    let mut from = 0;
    for (i, want) in wanted.iter().enumerate() {
        let p = Pattern::new(want);
        let hay = if p.framed { &log.lines } else { &log.messages };
        match hay.iter().skip(from).position(|l| p.matches(l)) {
            Some(pos) => from += pos + 1,
            None => {
                let detail = super::logs::nearest_diff(want, hay).unwrap_or_default();
                let listing: Vec<String> = hay.iter().take(40).map(|l| format!("  {l}")).collect();
                out.push(
                    Mismatch::new(
                        format!("expect.site_logs.{code}.{}[{i}]", file.file_name()),
                        want.clone(),
                        if hay.is_empty() {
                            "the file is empty"
                        } else {
                            "not found (in order)"
                        },
                    )
                    .with_detail(format!("{detail}{}", listing.join("\n"))),
                );
                break;
            }
        }
    }
}

/// Site logs keyed per site: `{ P01: { despool.log: [...] } }`.
pub type SiteLogs = BTreeMap<String, BTreeMap<LogFile, Vec<String>>>;
