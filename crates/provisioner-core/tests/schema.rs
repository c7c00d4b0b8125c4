//! The scenario-file JSON Schemas against the YAML kept in this crate: every environment
//! (`examples/env/*.yaml`, `tests/catalog/*.env.yaml`) and every device profile
//! (`tests/catalog/*.device.yaml`) has only keys its schema lists, fits the schema structurally
//! (`amt_sim::schema::mismatches`), and passes the loader's YAML/type stage (a file may still
//! fail the loader's value checks on purpose, as `a01.env.yaml` does).

use std::path::{Path, PathBuf};

use amt_sim::profile::DeviceProfile;
use amt_sim::schema::{draft07, mismatches, profile_schema};
use provisioner_core::env::Environment;
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Files directly in `dir` whose name ends with `suffix`, sorted.
fn files_ending(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.to_string_lossy().ends_with(suffix) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The repository root: catalog files are loaded against it (as `tests/catalog.rs` does).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Checks one file: top-level keys, structural fit, and that the loader, given `base` for relative
/// paths, raises no YAML-stage error (`*/yaml`: syntax, type, unknown key).
fn check_file(
    schema: &Value,
    path: &Path,
    base: &Path,
    load: impl Fn(&str, &Path) -> Result<(), (&'static str, String)>,
) -> TestResult {
    let text = std::fs::read_to_string(path)?;
    let doc: Value = serde_saphyr::from_str(&text)?;
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .ok_or("schema has no properties")?;
    for key in doc.as_object().into_iter().flat_map(|o| o.keys()) {
        assert!(
            properties.contains_key(key),
            "{}: top-level key {key} not in the schema",
            path.display()
        );
    }
    let found = mismatches(schema, &doc);
    assert!(found.is_empty(), "{}: {found:?}", path.display());
    if let Err((id, message)) = load(&text, base) {
        assert!(
            !id.ends_with("/yaml"),
            "{}: {id}: {message}",
            path.display()
        );
    }
    Ok(())
}

fn load_env(text: &str, base: &Path) -> Result<(), (&'static str, String)> {
    Environment::from_yaml(text, base)
        .map(drop)
        .map_err(|e| (e.id(), e.to_string()))
}

fn load_profile(text: &str, base: &Path) -> Result<(), (&'static str, String)> {
    DeviceProfile::from_yaml(text, base)
        .map(drop)
        .map_err(|e| (e.id(), e.to_string()))
}

#[test]
fn environment_files_fit_the_environment_schema() -> TestResult {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema = draft07::<Environment>();
    let examples = root.join("examples/env");
    let mut files: Vec<(PathBuf, PathBuf)> = files_ending(&examples, ".yaml")?
        .into_iter()
        .map(|f| (f, examples.clone()))
        .collect();
    for f in files_ending(&root.join("tests/catalog"), ".env.yaml")? {
        files.push((f, repo_root()));
    }
    assert!(files.len() >= 30, "found only {} files", files.len());
    for (path, base) in files {
        check_file(&schema, &path, &base, load_env)?;
    }
    Ok(())
}

#[test]
fn catalog_device_profiles_fit_the_profile_schema() -> TestResult {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema = profile_schema();
    let files = files_ending(&root.join("tests/catalog"), ".device.yaml")?;
    assert!(files.len() >= 10, "found only {} files", files.len());
    for path in files {
        check_file(&schema, &path, &repo_root(), load_profile)?;
    }
    // Every catalog YAML is one of the two kinds (none escapes the checks above).
    let all = files_ending(&root.join("tests/catalog"), ".yaml")?;
    for path in all {
        let name = path.to_string_lossy();
        assert!(
            name.ends_with(".env.yaml") || name.ends_with(".device.yaml"),
            "{name}"
        );
    }
    Ok(())
}
