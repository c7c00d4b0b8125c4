//! Repro bundles: a failed scenario is written out as a self-contained directory (the scenario
//! rewritten to point at the copies, the effective device profile and environment, the
//! certificates they name, the seed, the transcript and the report), which
//! `amt-conformance run BUNDLE_DIR` replays.
//!
//! Layout: `bundle.json` (marker: id, seed, original file, verdict), `scenario.yaml`,
//! `device.yaml`, `environment.yaml`, `certs/…`, `transcript.txt`, and the scenario's transcript
//! snapshot if it names one.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalog::BUNDLE_MARKER;
use crate::runner::ScenarioReport;
use crate::scenario::{DeviceSpec, EnvSpec, LoadedScenario, ProvisionerSpec};

/// The marker file's content.
#[derive(Debug, Serialize)]
struct Marker<'a> {
    id: &'a str,
    seed: u64,
    original: &'a Path,
    report: &'a ScenarioReport,
}

/// Writes the bundle of `loaded` (which produced `report`) under `dir/<id>/`; returns its path.
pub fn write(
    dir: &Path,
    loaded: &LoadedScenario,
    report: &ScenarioReport,
) -> Result<PathBuf, String> {
    let s = &loaded.scenario;
    let out = dir.join(&s.id);
    let io = |what: &str, e: std::io::Error| format!("bundle {}: {what}: {e}", out.display());
    if out.exists() {
        std::fs::remove_dir_all(&out).map_err(|e| io("clear", e))?;
    }
    std::fs::create_dir_all(out.join("certs")).map_err(|e| io("create", e))?;
    let profile = s.device.build(&loaded.base_dir)?;
    let mut env = s.environment.build(&s.provisioner, &loaded.base_dir).ok();
    // Copy the certificate files the environment names, and point at the copies.
    if let Some(env) = &mut env {
        let mut n = 0;
        let mut copy = |p: &mut PathBuf| -> Result<(), String> {
            n += 1;
            let name = format!(
                "{n:02}-{}",
                p.file_name().and_then(|f| f.to_str()).unwrap_or("file")
            );
            std::fs::copy(&*p, out.join("certs").join(&name)).map_err(|e| io(&name, e))?;
            *p = PathBuf::from("certs").join(name);
            Ok(())
        };
        for c in &mut env.provisioning_certificates {
            copy(&mut c.chain_pem)?;
            copy(&mut c.key_pem)?;
        }
        copy(&mut env.enterprise_ca.issuer_cert_pem)?;
        copy(&mut env.enterprise_ca.issuer_key_pem)?;
        if let Some(x) = &mut env.stage2.ieee8021x
            && let Some(p) = &mut x.root_ca_pem
        {
            copy(p)?;
        }
    }
    std::fs::write(out.join("device.yaml"), yaml(&profile)?).map_err(|e| io("device.yaml", e))?;
    let mut scenario = s.clone();
    scenario.device = DeviceSpec {
        profile: Some("device.yaml".into()),
        ..DeviceSpec::default()
    };
    match &env {
        Some(env) => {
            std::fs::write(out.join("environment.yaml"), yaml(env)?)
                .map_err(|e| io("environment.yaml", e))?;
            scenario.environment = EnvSpec {
                file: Some("environment.yaml".into()),
                ..EnvSpec::default()
            };
            scenario.provisioner = ProvisionerSpec {
                mode: s.provisioner.mode,
                ..ProvisionerSpec::default()
            };
        }
        None => {
            // The environment itself is the failure: keep the scenario's own description, and
            // copy the file it names next to the scenario.
            if let Some(file) = &s.environment.file {
                let name = Path::new(file)
                    .file_name()
                    .and_then(|f| f.to_str())
                    .unwrap_or("environment-input.yaml")
                    .to_owned();
                std::fs::copy(loaded.base_dir.join(file), out.join(&name))
                    .map_err(|e| io(&name, e))?;
                scenario.environment.file = Some(name);
            }
        }
    }
    if let Some(snapshot) = &s.expect.transcript {
        let src = loaded.base_dir.join(snapshot);
        if src.exists() {
            std::fs::copy(&src, out.join("transcript.snapshot.txt"))
                .map_err(|e| io("snapshot", e))?;
        }
        scenario.expect.transcript = Some("transcript.snapshot.txt".into());
    }
    let text = format!(
        "# Repro bundle of {} (from {}), seed {}. Replay: amt-conformance run {}\n{}",
        s.id,
        loaded.path.display(),
        s.seed(),
        out.display(),
        yaml(&scenario)?
    );
    std::fs::write(out.join("scenario.yaml"), text).map_err(|e| io("scenario.yaml", e))?;
    if let Some(obs) = &report.observed {
        std::fs::write(out.join("transcript.txt"), &obs.transcript)
            .map_err(|e| io("transcript", e))?;
    }
    let marker = Marker {
        id: &s.id,
        seed: s.seed(),
        original: &loaded.path,
        report,
    };
    let json = serde_json::to_string_pretty(&marker).map_err(|e| e.to_string())?;
    std::fs::write(out.join(BUNDLE_MARKER), json).map_err(|e| io(BUNDLE_MARKER, e))?;
    Ok(out)
}

/// Any `Serialize` as YAML.
fn yaml<T: Serialize>(value: &T) -> Result<String, String> {
    serde_saphyr::to_string(value).map_err(|e| format!("yaml: {e}"))
}
