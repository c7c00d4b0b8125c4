//! Finding scenarios: files and directories given on the command line (default: the repository's
//! `scenarios/`), repro bundles, and `--filter`.
//!
//! A directory contributes every `*.yaml` file in it and in its subdirectories, except
//! subdirectories named `data` (support files: profiles, environments, snapshots) and files whose
//! name starts with `_`. A repro bundle (a directory with `bundle.json`) contributes its
//! `scenario.yaml` only.

use std::path::{Path, PathBuf};

use crate::scenario::{LoadedScenario, Scenario, ScenarioError};

/// The catalog shipped with the repository.
pub fn default_dir() -> PathBuf {
    let local = PathBuf::from("scenarios");
    if local.is_dir() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

/// Name of the marker file of a repro bundle.
pub const BUNDLE_MARKER: &str = "bundle.json";

/// The scenario files under `paths` (sorted within each directory).
pub fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ScenarioError> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut out).map_err(|source| ScenarioError::Read {
                path: path.clone(),
                source,
            })?;
        } else if path.exists() {
            out.push(path.clone());
        } else {
            return Err(ScenarioError::Read {
                path: path.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file or directory",
                ),
            });
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if dir.join(BUNDLE_MARKER).is_file() {
        out.push(dir.join("scenario.yaml"));
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "data" && !name.starts_with('.') {
                walk(&path, out)?;
            }
        } else if name.ends_with(".yaml") && !name.starts_with('_') {
            out.push(path);
        }
    }
    Ok(())
}

/// Loads every file; the errors are returned beside the scenarios that loaded.
pub fn load_all(files: &[PathBuf]) -> (Vec<LoadedScenario>, Vec<ScenarioError>) {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        match Scenario::load(file) {
            Ok(s) => ok.push(s),
            Err(e) => errors.push(e),
        }
    }
    (ok, errors)
}

/// Duplicate ids (each reported once, with both files).
pub fn duplicate_ids(scenarios: &[LoadedScenario]) -> Vec<String> {
    let mut seen: std::collections::BTreeMap<&str, &Path> = std::collections::BTreeMap::new();
    let mut dups = Vec::new();
    for s in scenarios {
        if let Some(first) = seen.insert(&s.scenario.id, &s.path) {
            dups.push(format!(
                "id {:?} is used by {} and {}",
                s.scenario.id,
                first.display(),
                s.path.display()
            ));
        }
    }
    dups
}

/// Whether `s` matches `filter`: `tag:X` matches a tag; otherwise a case-insensitive substring
/// of the id, title or source.
pub fn matches_filter(s: &Scenario, filter: &str) -> bool {
    if let Some(tag) = filter.strip_prefix("tag:") {
        return s.tags.iter().any(|t| t.eq_ignore_ascii_case(tag));
    }
    let f = filter.to_ascii_lowercase();
    [&s.id, &s.title, &s.source]
        .iter()
        .any(|t| t.to_ascii_lowercase().contains(&f))
}
