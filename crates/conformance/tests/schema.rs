//! The published JSON Schema (`scenarios/scenario.schema.json`) is what the code generates, and
//! every scenario in the catalog fits it (structural check, `amt_sim::schema::mismatches`).

use std::path::{Path, PathBuf};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_checked_in_schema_is_up_to_date() -> TestResult {
    let path = repo().join("scenarios/scenario.schema.json");
    let committed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let generated = conformance::scenario::json_schema();
    assert!(
        committed == generated,
        "{} is stale: run `cargo run -p conformance -- schema > scenarios/scenario.schema.json`",
        path.display()
    );
    // The schema describes the format: required keys, and no unknown keys at the top.
    assert_eq!(generated["additionalProperties"], false);
    let required: Vec<&str> = generated["required"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(required, ["id", "title", "source", "expect"]);
    Ok(())
}

#[test]
fn every_catalog_scenario_fits_the_schema() -> TestResult {
    let schema = conformance::scenario::json_schema();
    let files = conformance::catalog::scenario_files(&[repo().join("scenarios")])?;
    assert!(!files.is_empty());
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        let doc: serde_json::Value = serde_saphyr::from_str(&text)?;
        let problems = amt_sim::schema::mismatches(&schema, &doc);
        assert!(
            problems.is_empty(),
            "{}: {}",
            file.display(),
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    // And the check can fail: a misspelt key is caught.
    let bad: serde_json::Value =
        serde_saphyr::from_str("id: x\ntitle: t\nsource: s\nexpect: { outcom: failed }\n")?;
    assert!(!amt_sim::schema::mismatches(&schema, &bad).is_empty());
    Ok(())
}
