//! The outcome family: `outcome`, `failed_step`, `failure`, `failure_text`, `amt_status`,
//! `sessions`, `config_error` and `client_refusal`: how the run ended, from the sessions and the
//! site. Needs nothing of an arm.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Expect, Mismatch};
use crate::observe::Observation;

/// How the run ended.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectedOutcome {
    /// The last session provisioned the device (every device, for a fleet).
    Provisioned,
    /// The last session failed.
    Failed,
    /// No provisioning session ran (Hellos discarded, request refused, nothing arrived).
    NoSession,
    /// The in-band client agent refused to start.
    ClientRefused,
    /// The environment file was refused before anything ran.
    ConfigError,
}

impl ExpectedOutcome {
    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Provisioned => "provisioned",
            Self::Failed => "failed",
            Self::NoSession => "no-session",
            Self::ClientRefused => "client-refused",
            Self::ConfigError => "config-error",
        }
    }
}

/// Checks the outcome family.
pub(crate) fn check(expect: &Expect, obs: &Observation, out: &mut Vec<Mismatch>) {
    let outcome = obs.outcome_name();
    if let Some(want) = expect.outcome
        && want.name() != outcome
    {
        let mut m = Mismatch::new("expect.outcome", want.name(), outcome);
        let mut detail = Vec::new();
        if let Some(s) = obs.last_session() {
            detail.push(format!(
                "last session: {} failed_step={} error={}",
                serde_json::to_string(&s.outcome).unwrap_or_default(),
                s.failed_step.map_or("-", |s| s.name()),
                s.error.as_deref().unwrap_or("-")
            ));
        }
        if let Some(e) = &obs.config_error {
            detail.push(format!("configuration error: {e}"));
        }
        if let Some(e) = &obs.client_refusal {
            detail.push(format!("client agent refused: {e}"));
        }
        if !detail.is_empty() {
            m = m.with_detail(detail.join("\n"));
        }
        out.push(m);
    }
    if let Some(want) = expect.failed_step {
        let actual = obs
            .last_session()
            .and_then(|s| s.failed_step)
            .map_or_else(|| "none".to_owned(), |s| s.name().to_owned());
        if actual != want.name() {
            out.push(Mismatch::new("expect.failed_step", want.name(), actual));
        }
    }
    if let Some(want) = &expect.failure {
        let actual = obs
            .last_session()
            .and_then(|s| s.cause.clone())
            .unwrap_or_else(|| "none".to_owned());
        if &actual != want {
            out.push(Mismatch::new("expect.failure", want.clone(), actual));
        }
    }
    if let Some(want) = &expect.failure_text {
        let actual = obs.last_session().and_then(|s| s.error.clone());
        if !actual
            .as_deref()
            .is_some_and(|a| super::logs::Pattern::new(want).matches(a))
        {
            out.push(Mismatch::new(
                "expect.failure_text",
                want.clone(),
                actual.unwrap_or_else(|| "no session error".into()),
            ));
        }
    }
    if let Some(want) = expect.amt_status {
        let actual = obs.amt_status.unwrap_or_default();
        if actual != want {
            out.push(Mismatch::new(
                "expect.amt_status",
                want.to_string(),
                actual.to_string(),
            ));
        }
    }
    if let Some(want) = expect.sessions
        && !want.holds(obs.sessions.len())
    {
        out.push(Mismatch::new(
            "expect.sessions",
            want.to_string(),
            obs.sessions.len().to_string(),
        ));
    }
    if let Some(want) = &expect.config_error {
        match &obs.config_error {
            Some(actual) if actual.contains(want.as_str()) => {}
            actual => out.push(Mismatch::new(
                "expect.config_error",
                format!("an error containing {want:?}"),
                actual
                    .clone()
                    .unwrap_or_else(|| "no configuration error".into()),
            )),
        }
    }
    if let Some(want) = &expect.client_refusal
        && obs.client_refusal.as_deref() != Some(want.as_str())
    {
        out.push(Mismatch::new(
            "expect.client_refusal",
            want.clone(),
            obs.client_refusal.clone().unwrap_or_else(|| "none".into()),
        ));
    }
}
