//! Checking a scenario's expectations against what a run produced, and explaining every
//! difference: which expectation, what was expected, what happened, and for text a diff against
//! the closest actual line.
//!
//! One module per expectation family, each holding its YAML type, its check, what it needs of an
//! arm (its requirements) and what it leaves out on the wall clock: [`outcome`] (how the run
//! ended), [`device`] (the end state read back), [`logs`] (lines, absent lines, documented ids),
//! [`hellos`], [`elapsed`], [`wire`] (the device's own events, summarised), [`events`] (both
//! sides' events, matched field by field), [`site`] (the site's end state), [`transcript`],
//! [`statmsg`] (status messages of the site hierarchy) and [`sites`] (per-site logs, inboxes,
//! records, clients, published certificates). [`Expect`] is
//! the scenario's `expect:` mapping, one key per expectation.

pub mod count;
pub mod device;
pub mod elapsed;
pub mod events;
pub mod hellos;
pub mod logs;
pub mod outcome;
pub mod site;
pub mod sites;
pub mod statmsg;
pub mod transcript;
pub mod wire;

use std::collections::BTreeMap;
use std::path::Path;

use amt_sim::faults::DurationText;
use provisioner_core::events::{AmtStatus, Step};
use provisioner_core::logs::LogFile;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use self::device::{DeviceExpect, StateName};
pub use self::events::{EventMatch, EventsExpect};
pub use self::hellos::HelloExpect;
pub use self::outcome::ExpectedOutcome;
pub use self::site::SiteExpect;
pub use self::wire::WireExpect;
use crate::observe::Observation;
use crate::runner::requirements::Requirement;

/// What must come out. Every key is optional; what is not given is not checked.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// How the last provisioning session ended, or why there was none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ExpectedOutcome>,
    /// The step the last session failed at (`tls-handshake`, `digest`, `stage1`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<Step>,
    /// The stable id of the last session's failure cause (`wsman/return-value`,
    /// `tls/revocation-check`, `ca/template-permissions`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The last session's error text (as reports show it under `sessions[].error`) must match
    /// this pattern (placeholders as in `logs`), e.g. `AMT 3.0{*} is not natively supported{*}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_text: Option<String>,
    /// The AMT status the site records for the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amt_status: Option<AmtStatus>,
    /// Number of provisioning sessions (all devices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<count::Count>,
    /// Text the configuration error must contain (with `outcome: config-error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_error: Option<String>,
    /// Id of the client agent's refusal (with `outcome: client-refused`), e.g.
    /// `client/heci-missing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_refusal: Option<String>,
    /// The device's end state, read back over WS-MAN after the flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceExpect>,
    /// Lines each log file must contain, in this order (other lines may come between). A line
    /// is a message (`Error: …`) or, if it carries the framing (`$$<` or `<![LOG[`), a full
    /// framed line. Placeholders: `{uuid}`, `{ip}`, `{time}`, `{date}`, `{hex}`, `{n}`, `{*}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub logs: BTreeMap<LogFile, Vec<String>>,
    /// Lines no log file of that name may contain (same matching as `logs`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub absent_logs: BTreeMap<LogFile, Vec<String>>,
    /// Per file, how many lines carry each catalog id (`A-11`, `tls.failed`, `remove.completed`;
    /// `*` counts every line of the file): `{ amtopmgr.log: { A-11: 17, tls.failed: 0 } }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub log_counts: BTreeMap<LogFile, BTreeMap<String, usize>>,
    /// Per file, runs of line ids that must be written on consecutive lines, in this order
    /// (somewhere in the file): `{ amtopmgr.log: [[A-19.description, A-19.code]] }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub log_sequences: BTreeMap<LogFile, Vec<Vec<String>>>,
    /// The exact set of error-catalog line ids written to any log (`[A-18.isc, A-18.apply]`;
    /// `[]` = no documented error line at all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documented: Option<Vec<String>>,
    /// Hello counts and timing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hellos: Option<HelloExpect>,
    /// What the device saw on the wire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire: Option<WireExpect>,
    /// Events of the service point (`site`) and of the devices (`device`) that must (or, with
    /// `times`, must exactly so often) be in their event logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<EventsExpect>,
    /// The site's end state: AD accounts, certificates issued and revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<SiteExpect>,
    /// Virtual time the whole flow took (in-process; e.g. `40s` for three connect timeouts and
    /// two retry pauses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed: Option<DurationText>,
    /// A transcript snapshot file (relative to the scenario): the redacted protocol transcript
    /// must equal it. Written when missing or when `AMT_CONFORMANCE_UPDATE=1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
    /// Status messages of the hierarchy: each entry a filter (site, id, component, severity,
    /// insertion strings) and how many must match (`count: 3`, `">=1"`, `"2..4"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status_messages: Vec<statmsg::StatusExpect>,
    /// Lines each site's log files must contain, in order: `{ P01: { despool.log: [...] } }`
    /// (same matching as `logs`; despool.log messages are compared without their `~`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub site_logs: sites::SiteLogs,
    /// Lines a site's log file may not contain.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub absent_site_logs: sites::SiteLogs,
    /// What each site shows at the end: inbox counts, keys held, its record of the device,
    /// policies re-signed and policy errors reported.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sites: BTreeMap<String, sites::SiteExpect>,
    /// What each ConfigMgr client of the hierarchy shows: policy, managed, reported errors, pin.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub clients: BTreeMap<String, sites::ClientExpect>,
    /// AMT web server certificates issued, published, issued but unpublished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates: Option<sites::CertificatesExpect>,
}

/// One expectation that did not hold.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Mismatch {
    /// Which expectation (`expect.failed_step`, `expect.logs.amtopmgr.log[1]`).
    pub what: String,
    /// What the scenario expects.
    pub expected: String,
    /// What happened.
    pub actual: String,
    /// More context: a diff, or the lines that were there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Mismatch {
    fn new(
        what: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Self {
        Self {
            what: what.into(),
            expected: expected.into(),
            actual: actual.into(),
            detail: None,
        }
    }

    fn with_detail(mut self, detail: String) -> Self {
        self.detail = Some(detail);
        self
    }
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.what)?;
        writeln!(f, "  expected: {}", self.expected)?;
        writeln!(f, "  actual:   {}", self.actual)?;
        if let Some(d) = &self.detail {
            for line in d.lines() {
                writeln!(f, "  | {line}")?;
            }
        }
        Ok(())
    }
}

/// How transcript snapshots are treated.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Snapshots {
    /// Compare; a missing snapshot file is written (first run) unless running in CI.
    Compare,
    /// Write every snapshot (`AMT_CONFORMANCE_UPDATE=1`).
    Update,
    /// Compare; a missing snapshot is a mismatch (CI).
    Strict,
}

/// Checks `expect` against `obs`; paths (the transcript snapshot) are relative to `base_dir`.
/// Families are checked in the order of their keys.
pub fn check(
    expect: &Expect,
    obs: &Observation,
    base_dir: &Path,
    snapshots: Snapshots,
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    outcome::check(expect, obs, &mut out);
    device::check_device(expect, obs, &mut out);
    logs::check_logs(expect, obs, &mut out);
    logs::check_counts(expect, obs, &mut out);
    logs::check_sequences(expect, obs, &mut out);
    logs::check_documented(expect, obs, &mut out);
    hellos::check_hellos(expect, obs, &mut out);
    elapsed::check(expect, obs, &mut out);
    wire::check_wire(expect, obs, &mut out);
    events::check(expect, obs, &mut out);
    site::check(expect, obs, &mut out);
    transcript::check(expect, &obs.transcript, base_dir, snapshots, &mut out);
    statmsg::check(expect, obs, &mut out);
    sites::check(expect, obs, &mut out);
    out
}

/// What the expectations need of an arm (compared with its capabilities before a run).
pub fn requirements(expect: &Expect) -> Vec<Requirement> {
    let mut out = Vec::new();
    wire::requirements(expect, &mut out);
    events::requirements(expect, &mut out);
    out
}

/// The expectations the wall clock can check: `expect` without what pins virtual-clock times
/// (the transcript snapshot, framed log lines with a literal date or time, `hellos.last_at`),
/// with a note for each thing left out. The socket arms check their observations against this
/// and put the notes in them.
pub fn wall_clock_expect(expect: &Expect) -> (Expect, Vec<String>) {
    let mut relaxed = expect.clone();
    let mut notes = Vec::new();
    transcript::relax_for_wall_clock(&mut relaxed, &mut notes);
    logs::relax_for_wall_clock(&mut relaxed, &mut notes);
    hellos::relax_for_wall_clock(&mut relaxed, &mut notes);
    (relaxed, notes)
}

#[cfg(test)]
mod tests {
    use super::logs::{Pattern, nearest_diff};
    use super::*;

    #[test]
    fn placeholders_match_their_kind_only() {
        let p = Pattern::new("Error: The hash list of AMT device {uuid} does not contain it.");
        assert!(p.matches(
            "Error: The hash list of AMT device 8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d does not contain it."
        ));
        assert!(!p.matches("Error: The hash list of AMT device  does not contain it."));
        assert!(!p.matches("Error: The hash list of AMT device zzz does not contain it."));
        let p = Pattern::new("Fail to connect and get core version of machine {ip}.");
        assert!(p.matches("Fail to connect and get core version of machine 127.0.0.1."));
        let p = Pattern::new("a {*} b");
        assert!(p.matches("a anything at all b"));
        assert!(!p.matches("a b"));
        let p = Pattern::new("literal {braces} stay");
        assert!(p.matches("literal {braces} stay"));
    }

    #[test]
    fn framed_patterns_are_recognised() {
        assert!(
            Pattern::new(
                "x  $$<SMS_AMT_OPERATION_MANAGER><{date} {time}+480><thread=2880 (0x0B40)>"
            )
            .framed
        );
        assert!(!Pattern::new("Error: x").framed);
        let p = Pattern::new(
            "x  $$<SMS_AMT_OPERATION_MANAGER><{date} {time}+480><thread={n} (0x0B40)>",
        );
        assert!(p.matches(
            "x  $$<SMS_AMT_OPERATION_MANAGER><01-15-2027 00:00:00.000+480><thread=2880 (0x0B40)>"
        ));
    }

    #[test]
    fn absent_calls_and_elapsed_can_fail() {
        let mut obs = Observation::default();
        obs.wire.calls = vec!["AMT_SetupAndConfigurationService.Unprovision".into()];
        obs.elapsed = std::time::Duration::from_secs(40);
        let expect = Expect {
            wire: Some(WireExpect {
                absent_calls: vec!["AMT_SetupAndConfigurationService.Unprovision".into()],
                ..Default::default()
            }),
            elapsed: Some(DurationText(std::time::Duration::from_secs(30))),
            ..Expect::default()
        };
        let what: Vec<String> = check(&expect, &obs, Path::new("."), Snapshots::Strict)
            .into_iter()
            .map(|m| m.what)
            .collect();
        assert_eq!(what, ["expect.elapsed", "expect.wire.absent_calls[0]"]);
    }

    #[test]
    fn every_unmatched_log_line_is_reported_and_the_file_listed_once() {
        let mut obs = Observation::default();
        obs.logs.insert(
            LogFile::AmtOpMgr,
            crate::observe::LogObs {
                ids: vec!["a".into(), "b".into()],
                messages: vec!["first line".into(), "third line".into()],
                lines: vec!["first line".into(), "third line".into()],
            },
        );
        let mut expect = Expect::default();
        expect.logs.insert(
            LogFile::AmtOpMgr,
            vec![
                "first line".into(),
                "second line".into(),
                "third line".into(),
                "fourth line".into(),
            ],
        );
        let found = check(&expect, &obs, Path::new("."), Snapshots::Strict);
        let what: Vec<&str> = found.iter().map(|m| m.what.as_str()).collect();
        assert_eq!(
            what,
            ["expect.logs.amtopmgr.log[1]", "expect.logs.amtopmgr.log[3]"]
        );
        let listings = found
            .iter()
            .filter(|m| {
                m.detail
                    .as_deref()
                    .is_some_and(|d| d.contains("amtopmgr.log:\n"))
            })
            .count();
        assert_eq!(listings, 1, "{found:?}");
    }

    #[test]
    fn log_counts_site_and_failure_text_can_fail() -> Result<(), Box<dyn std::error::Error>> {
        let mut obs = Observation::default();
        obs.logs.insert(
            LogFile::AmtOpMgr,
            crate::observe::LogObs {
                ids: vec!["hello.received".into(), "A-11".into(), "A-11".into()],
                ..Default::default()
            },
        );
        obs.site.ad_accounts = vec!["AMT-DEVICE-01$iME".into()];
        obs.site.certificates_issued = vec!["01".into()];
        obs.sessions.push(crate::observe::SessionObs {
            uuid: "u".into(),
            outcome: provisioner_core::events::Outcome::Failed,
            failed_step: Some(Step::Directory),
            amt_status: AmtStatus::NotProvisioned,
            error: Some("ad/container-missing: x".into()),
            cause: Some("ad/container-missing".into()),
        });
        let text = "log_counts: { amtopmgr.log: { A-11: 2, \"*\": 3, tls.failed: 0 } }\n\
                    log_sequences: { amtopmgr.log: [[hello.received, A-11], [A-11, A-11]] }\n\
                    site: { ad_accounts: [\"AMT-DEVICE-01$iME\"], certificates_issued: 1 }\n\
                    failure_text: \"ad/container-missing: {*}\"\n";
        let good: Expect = serde_saphyr::from_str(text)?;
        assert!(check(&good, &obs, Path::new("."), Snapshots::Strict).is_empty());
        let text = "log_counts: { amtopmgr.log: { A-11: 1, \"*\": 2 } }\n\
                    log_sequences: { amtopmgr.log: [[A-11, hello.received]] }\n\
                    site: { ad_accounts: [], certificates_issued: 0, certificates_revoked: 1 }\n\
                    failure_text: \"ad/disjoint-namespace: {*}\"\n";
        let bad: Expect = serde_saphyr::from_str(text)?;
        let what: Vec<String> = check(&bad, &obs, Path::new("."), Snapshots::Strict)
            .into_iter()
            .map(|m| m.what)
            .collect();
        assert_eq!(
            what,
            [
                "expect.failure_text",
                "expect.log_counts.amtopmgr.log.*",
                "expect.log_counts.amtopmgr.log.A-11",
                "expect.log_sequences.amtopmgr.log[0]",
                "expect.site.ad_accounts",
                "expect.site.certificates_issued",
                "expect.site.certificates_revoked",
            ]
        );
        Ok(())
    }

    #[test]
    fn nearest_line_diff_marks_the_difference() {
        let lines = vec![
            "Error: Device internal error.".to_owned(),
            "other".to_owned(),
        ];
        let d = nearest_diff("Error: Device internal errors.", &lines).unwrap_or_default();
        assert!(d.contains("Device internal [-errors.-]{+error.+}"), "{d}");
        // A filled placeholder is not a difference; the real one still is.
        let lines = vec![
            "First-stage provisioning of AMT device 8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d completed."
                .to_owned(),
        ];
        let d = nearest_diff(
            "First-stage provisioning of AMT device {uuid} complete.",
            &lines,
        )
        .unwrap_or_default();
        assert!(
            d.contains(
                "AMT device 8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d [-complete.-]{+completed.+}"
            ),
            "{d}"
        );
        assert!(!d.contains("[-{uuid}-]"), "{d}");
    }

    #[test]
    fn only_virtual_clock_expectations_are_left_out() -> Result<(), Box<dyn std::error::Error>> {
        let text = "outcome: failed\ntranscript: data/x.txt\nhellos: { sent: 1, last_at: 0s }\n\
                    logs:\n  amtopmgr.log:\n    - \"Error: x\"\n\
                    \x20   - \"Error: y  $$<SMS_AMT_OPERATION_MANAGER><01-15-2027 00:00:00.000+480><thread=2880 (0x0B40)>\"\n\
                    \x20   - \"Error: z  $$<SMS_AMT_OPERATION_MANAGER><{date} {time}+480><thread=2880 (0x0B40)>\"\n";
        let expect: Expect = serde_saphyr::from_str(text)?;
        let (relaxed, notes) = wall_clock_expect(&expect);
        assert_eq!(relaxed.transcript, None);
        assert_eq!(relaxed.outcome, expect.outcome);
        let hellos = relaxed.hellos.ok_or("hellos kept")?;
        assert_eq!(
            (hellos.sent, hellos.last_at),
            (Some(count::Count::Exactly(1)), None)
        );
        let lines: Vec<&String> = relaxed.logs.values().flatten().collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines.iter().all(|l| !l.contains("01-15-2027")));
        assert_eq!(notes.len(), 3, "{notes:?}");
        Ok(())
    }
}
