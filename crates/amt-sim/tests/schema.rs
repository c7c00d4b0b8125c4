//! The device-profile JSON Schema against the profile files kept in the repository: every file
//! fits the schema structurally (`amt_sim::schema::mismatches`) and loads.

use std::path::{Path, PathBuf};

use amt_sim::profile::DeviceProfile;
use amt_sim::schema::{mismatches, profile_schema};
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// `*.yaml` files directly in `dir`, sorted.
fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

#[test]
fn repository_profiles_fit_the_schema() -> TestResult {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema = profile_schema();
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .ok_or("schema has no properties")?;
    let mut files = yaml_files(&root.join("profiles"))?;
    files.extend(yaml_files(&root.join("../../xtask/interop"))?);
    assert!(files.len() >= 2, "{files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path)?;
        let doc: Value = serde_saphyr::from_str(&text)?;
        for key in doc.as_object().into_iter().flat_map(|o| o.keys()) {
            assert!(properties.contains_key(key), "{}: {key}", path.display());
        }
        let found = mismatches(&schema, &doc);
        assert!(found.is_empty(), "{}: {found:?}", path.display());
        let base = path.parent().ok_or("no parent")?;
        let loaded = DeviceProfile::from_yaml(&text, base);
        assert!(loaded.is_ok(), "{}: {loaded:?}", path.display());
    }
    Ok(())
}
