//! Repro bundles: a failed scenario is written out as a self-contained directory (the scenario
//! rewritten to point at the copies, the effective device profile and environment, the
//! certificates they name, the seed, the transcript and the report), which
//! `amt-conformance run BUNDLE_DIR` replays.
//!
//! Layout: `bundle.json` (marker: id, seed, original file, verdict), `scenario.yaml`,
//! `device.yaml`, `environment.yaml`, `certs/…`, `transcript.txt`, and the scenario's transcript
//! snapshot if it names one.
//!
//! **No secrets.** A bundle may be attached to a bug report, so it carries no password and no
//! private key:
//! - Private keys are never copied: `key_pem` and `issuer_key_pem` point at the original files by
//!   absolute path (the committed TEST-ONLY keys under `certs/`, or wherever the scenario's own
//!   keys are), so the bundle replays on the machine that wrote it. Certificates are copied.
//! - Passwords (environment accounts, MEBx password, ACL users, wireless passphrases; the
//!   device's admin and MEBx passwords) are **replaced by stand-ins**, not blanked: each distinct
//!   secret gets one stand-in of the same length and the same character class at every position
//!   (upper, lower, digit, other symbol; `:` `,` `"` `_` and space kept), drawn from a counter,
//!   so equal secrets stay equal, different ones stay different and every strength rule (AMT's
//!   MEBx rule, the provisioner's checks) judges the stand-in as it judged the secret: the
//!   replay fails the same way. The factory default MEBx password `admin` is public and kept.
//!   An environment file that failed to load is copied with the values of `password`,
//!   `passphrase`, `mebx_password` and `admin_password` lines replaced the same way (line
//!   numbers kept).

use std::collections::BTreeMap;
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
    let mut stand_ins = StandIns::default();
    // Copy the certificate files the environment names and point at the copies; private keys
    // stay where they are (absolute paths).
    if let Some(env) = &mut env {
        let base = &loaded.base_dir;
        let refer = |p: &mut PathBuf| {
            let full = if p.is_relative() {
                base.join(&*p)
            } else {
                p.clone()
            };
            *p = std::fs::canonicalize(&full).unwrap_or(full);
        };
        for c in &mut env.provisioning_certificates {
            refer(&mut c.key_pem);
        }
        refer(&mut env.enterprise_ca.issuer_key_pem);
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
        }
        copy(&mut env.enterprise_ca.issuer_cert_pem)?;
        if let Some(x) = &mut env.stage2.ieee8021x
            && let Some(p) = &mut x.root_ca_pem
        {
            copy(p)?;
        }
    }
    std::fs::write(out.join("device.yaml"), yaml(&stand_ins.redact(&profile)?)?)
        .map_err(|e| io("device.yaml", e))?;
    let mut scenario = s.clone();
    scenario.device = DeviceSpec {
        profile: Some("device.yaml".into()),
        ..DeviceSpec::default()
    };
    match &env {
        Some(env) => {
            std::fs::write(out.join("environment.yaml"), yaml(&stand_ins.redact(env)?)?)
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
                let text = crate::scenario::read_bounded(&loaded.base_dir.join(file))
                    .map_err(|e| format!("bundle {}: {name}: {e}", out.display()))?;
                std::fs::write(out.join(&name), stand_ins.redact_lines(&text))
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
        yaml(&stand_ins.redact(&scenario)?)?
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

/// Keys whose string values are secrets, wherever they appear in a profile or an environment.
const SECRET_KEYS: &[&str] = &["password", "passphrase", "mebx_password", "admin_password"];

/// The stand-ins of the secrets of one bundle (see the module docs).
#[derive(Default)]
struct StandIns(BTreeMap<String, String>);

impl StandIns {
    /// The stand-in of `secret` (the same for the same secret).
    fn of(&mut self, secret: &str) -> String {
        if secret.is_empty() || secret == "admin" {
            return secret.to_owned();
        }
        if let Some(s) = self.0.get(secret) {
            return s.clone();
        }
        let mut n = self.0.len() as u64 + 1;
        loop {
            let candidate = stand_in(secret, n);
            if candidate != secret && !self.0.values().any(|v| *v == candidate) {
                self.0.insert(secret.to_owned(), candidate.clone());
                return candidate;
            }
            n += 7919;
        }
    }

    /// `value` serialized, with every string under a [`SECRET_KEYS`] key replaced.
    fn redact<T: Serialize>(&mut self, value: &T) -> Result<serde_json::Value, String> {
        let mut json = serde_json::to_value(value).map_err(|e| e.to_string())?;
        self.walk(&mut json, false);
        Ok(json)
    }

    fn walk(&mut self, value: &mut serde_json::Value, secret: bool) {
        match value {
            serde_json::Value::String(s) if secret => *s = self.of(s),
            serde_json::Value::Array(items) => {
                for item in items {
                    self.walk(item, secret);
                }
            }
            serde_json::Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    self.walk(item, SECRET_KEYS.contains(&key.as_str()));
                }
            }
            _ => {}
        }
    }

    /// YAML text with the value of every `key: value` line of a [`SECRET_KEYS`] key replaced
    /// (quoted); other lines, and so line numbers, unchanged.
    fn redact_lines(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            let body = line.trim_end_matches(['\r', '\n']);
            let end = line.get(body.len()..).unwrap_or_default();
            let key_start = body.len() - body.trim_start_matches([' ', '-']).len();
            let replaced = body.get(key_start..).and_then(|rest| {
                let (key, value) = rest.split_once(':')?;
                let key = key.trim().trim_matches(['"', '\'']);
                let value = value.trim();
                if !SECRET_KEYS.contains(&key) || value.is_empty() {
                    return None;
                }
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                    .unwrap_or(value);
                let stand_in = self.of(value).replace('\\', "\\\\").replace('"', "\\\"");
                let indent = body.get(..key_start).unwrap_or_default();
                Some(format!("{indent}{key}: \"{stand_in}\""))
            });
            out.push_str(replaced.as_deref().unwrap_or(body));
            out.push_str(end);
        }
        out
    }
}

/// A stand-in for `secret` drawn from counter `n`: same length, same class at each position.
fn stand_in(secret: &str, n: u64) -> String {
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    const DIGIT: &[u8] = b"0123456789";
    const SYMBOL: &[u8] = b"!#%*+-=?@^";
    let mut state = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    secret
        .chars()
        .map(|c| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let pick = |set: &[u8]| {
                let i = (state % set.len() as u64) as usize;
                char::from(set.get(i).copied().unwrap_or(b'x'))
            };
            match c {
                'A'..='Z' => pick(UPPER),
                'a'..='z' => pick(LOWER),
                '0'..='9' => pick(DIGIT),
                ':' | ',' | '"' | '_' | ' ' => c,
                _ if c.is_ascii() => pick(SYMBOL),
                _ => c,
            }
        })
        .collect()
}

/// Any `Serialize` as YAML.
fn yaml<T: Serialize>(value: &T) -> Result<String, String> {
    serde_saphyr::to_string(value).map_err(|e| format!("yaml: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stand_ins_keep_equality_length_and_classes_but_not_the_secret() {
        let mut s = StandIns::default();
        let a = s.of("P@ssw0rd-MEBx1");
        assert_ne!(a, "P@ssw0rd-MEBx1");
        assert_eq!(a, s.of("P@ssw0rd-MEBx1"));
        assert_ne!(a, s.of("P@ssw0rd-MEBx2"));
        let class = |c: char| match c {
            'A'..='Z' => 'A',
            'a'..='z' => 'a',
            '0'..='9' => '0',
            ':' | ',' | '"' | '_' | ' ' => c,
            _ => '!',
        };
        let classes = |t: &str| t.chars().map(class).collect::<String>();
        assert_eq!(classes(&a), classes("P@ssw0rd-MEBx1"));
        assert_eq!(s.of("admin"), "admin", "the factory default is public");
    }

    #[test]
    fn secret_lines_are_replaced_in_place() {
        let mut s = StandIns::default();
        let text = "accounts:\n  - user: admin\n    password: \"P@ssw0rd\"\nmebx_password: P@ssw0rd\r\nname: x\n";
        let out = s.redact_lines(text);
        assert!(!out.contains("P@ssw0rd"), "{out}");
        assert_eq!(out.lines().count(), text.lines().count());
        assert!(
            out.contains("  - user: admin\n") && out.ends_with("\r\nname: x\n"),
            "{out}"
        );
        let value =
            s.redact(&serde_json::json!({"a": [{"password": "P@ssw0rd"}], "b": "P@ssw0rd"}));
        let value = value.unwrap_or_default();
        assert_eq!(value["b"], "P@ssw0rd", "only secret keys are replaced");
        assert_eq!(value["a"][0]["password"], s.of("P@ssw0rd"));
    }
}
