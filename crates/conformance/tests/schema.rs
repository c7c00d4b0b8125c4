//! The JSON Schemas of the three YAML formats against the code and the files: the published
//! scenario schema (`scenarios/scenario.schema.json`) is what the code generates and every catalog
//! scenario fits it; every device profile and environment file in the repository fits its schema
//! and loads; the structural check (`conformance::schema_check::mismatches`) reports what the
//! loaders reject.

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
        let problems = conformance::schema_check::mismatches(&schema, &doc);
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
    assert!(!conformance::schema_check::mismatches(&schema, &bad).is_empty());
    Ok(())
}

/// The device-profile schema (generated in `amt_sim::schema`) against documents and the loader.
mod profile_format {
    use std::path::Path;

    use amt_sim::faults::{DURATION_PATTERN, DurationText, FaultSpec};
    use amt_sim::personality::{PERSONALITY_ALIASES, Personality};
    use amt_sim::profile::{DEFAULT_PROFILE_YAML, DeviceProfile};
    use amt_sim::schema::profile_schema;
    use conformance::schema_check::mismatches;
    use serde_json::Value;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn definition<'a>(schema: &'a Value, name: &str) -> Result<&'a Value, String> {
        schema
            .pointer(&format!("/definitions/{name}"))
            .ok_or_else(|| format!("no definition {name}"))
    }

    fn property_names(schema: &Value) -> Vec<&str> {
        schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// The strings a string-enum definition allows (`enum`, or `oneOf` of `const`s).
    fn string_values(def: &Value) -> Vec<&str> {
        let listed = def.get("enum").and_then(Value::as_array);
        let consts = def.get("oneOf").and_then(Value::as_array).map(|branches| {
            branches
                .iter()
                .filter_map(|b| b.get("const"))
                .collect::<Vec<_>>()
        });
        listed
            .map(|l| l.iter().collect::<Vec<_>>())
            .or(consts)
            .unwrap_or_default()
            .into_iter()
            .filter_map(Value::as_str)
            .collect()
    }

    fn yaml(text: &str) -> Result<Value, serde_saphyr::Error> {
        serde_saphyr::from_str(text)
    }

    #[test]
    fn hand_written_schemas_describe_what_the_parsers_accept() -> TestResult {
        let schema = profile_schema();
        let personality = definition(&schema, "Personality")?;
        let names = string_values(personality);
        assert_eq!(
            names.len(),
            Personality::ALL.len() + PERSONALITY_ALIASES.len()
        );
        for p in Personality::ALL {
            assert!(names.contains(&p.name()), "{p}");
        }
        for (alias, _) in PERSONALITY_ALIASES {
            assert!(names.contains(&alias), "{alias}");
        }
        for text in names {
            let parsed: Result<Personality, _> = serde_saphyr::from_str(text);
            assert!(parsed.is_ok(), "{text}");
        }
        let duration = definition(&schema, "DurationText")?;
        assert_eq!(
            duration.pointer("/anyOf/1/pattern").and_then(Value::as_str),
            Some(DURATION_PATTERN)
        );
        for ok in ["40s", "1500ms", "2m", "5min", "1h", "7"] {
            assert!(DurationText::parse(ok).is_ok(), "{ok}");
        }
        assert!(mismatches(duration, &Value::from(40)).is_empty());
        assert!(!mismatches(duration, &Value::from(true)).is_empty());
        let clock = schema.pointer("/definitions/Clock").ok_or("no Clock")?;
        assert!(
            mismatches(&schema, &yaml("clock: host\n")?).is_empty(),
            "{clock}"
        );
        assert!(mismatches(&schema, &yaml("clock: { epoch: 2004-01-01T00:00:00Z }\n")?).is_empty());
        assert!(!mismatches(&schema, &yaml("clock: sundial\n")?).is_empty());
        Ok(())
    }

    #[test]
    fn the_embedded_default_profile_fits_the_schema() -> TestResult {
        let schema = profile_schema();
        let doc = yaml(DEFAULT_PROFILE_YAML)?;
        let fields = doc.as_object().ok_or("default profile is not a mapping")?;
        assert_eq!(
            fields.keys().map(String::as_str).collect::<Vec<_>>(),
            property_names(&schema)
                .into_iter()
                .filter(|p| !["amt_version", "setup_auth", "fqdn_limit"].contains(p))
                .collect::<Vec<_>>(),
            "the default spells out every field but the commented-out overrides"
        );
        assert_eq!(mismatches(&schema, &doc), []);
        // The schema's own defaults are the default profile's values.
        let default = serde_json::to_value(DeviceProfile::default())?;
        for (key, value) in default.as_object().ok_or("not an object")? {
            assert_eq!(
                schema.pointer(&format!("/properties/{key}/default")),
                Some(value),
                "{key}"
            );
        }
        assert_eq!(mismatches(&schema, &default), []);
        Ok(())
    }

    #[test]
    fn the_check_reports_what_the_loader_rejects() -> TestResult {
        let schema = profile_schema();
        let cases = [
            ("bogus_field: 1\n", "bogus_field"),
            (
                "network: { wired: { mac: x, speed: 10 } }\n",
                "network.wired.speed",
            ),
            ("ports: { http: 99999 }\n", "ports.http"),
            ("personality: amt-10\n", "personality"),
            (
                "hashes: [ { name: a, algorithm: md5 } ]\n",
                "hashes[0].algorithm",
            ),
            (
                "faults: [ { on: { method: X }, do: explode } ]\n",
                "faults[0].do",
            ),
            (
                "faults: [ { do: { delay: true } } ]\n",
                "faults[0].do.delay",
            ),
            ("hash_active_typo: []\n", "hash_active_typo"),
            ("hello: { offsets: [0s, {}] }\n", "hello.offsets[1]"),
        ];
        for (text, path) in cases {
            let found = mismatches(&schema, &yaml(text)?);
            assert!(
                found.iter().any(|m| m.path == path),
                "{text:?}: expected a mismatch at {path}, got {found:?}"
            );
            assert!(
                DeviceProfile::from_yaml(text, Path::new(".")).is_err(),
                "{text:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn mismatch_messages_name_what_would_fit() -> TestResult {
        let schema = profile_schema();
        let found = mismatches(&schema, &yaml("hello: { schedule: weekly }\n")?);
        assert_eq!(
            found.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [r#"hello.schedule: "weekly" fits none of: "configmgr-24h", "six-hours", null"#]
        );
        let found = mismatches(&schema, &yaml("faults: [ { do: explode } ]\n")?);
        assert_eq!(
            found.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [concat!(
                r#"faults[0].do: "explode" fits none of: {return_value}, "close_connection", "#,
                r#""close_before_response", "close_after_response", "empty_body", {delay}, "#,
                r#"{http_status}, null"#
            )]
        );
        // A branch that got past the shape reports the deeper mismatch.
        let found = mismatches(&schema, &yaml("faults: [ { do: { delay: true } } ]\n")?);
        assert_eq!(
            found.iter().map(|m| m.path.as_str()).collect::<Vec<_>>(),
            ["faults[0].do.delay"]
        );
        Ok(())
    }

    #[test]
    fn fault_entries_fit_their_definition() -> TestResult {
        let schema = profile_schema();
        let text = "- on: { method: CommitChanges, nth: 2 }\n  do: { return_value: 1 }\n\
                    - on: { step: tls-server-hello }\n  do: close_connection\n\
                    - on: { action: Put }\n  do: { delay: 40s }\n\
                    - hash_active: { index: 0, active: false }\n\
                    - cn_rule: last-two-labels-com-net-only\n- refuse_port: 16993\n";
        let parsed: Vec<FaultSpec> = serde_saphyr::from_str(text)?;
        assert_eq!(parsed.len(), 6);
        let doc = serde_json::json!({ "faults": yaml(text)? });
        assert_eq!(mismatches(&schema, &doc), []);
        Ok(())
    }
}

/// The environment schema (generated in `provisioner_core::env`) against documents and the loader.
mod environment_format {
    use std::path::Path;

    use conformance::schema_check::mismatches;
    use provisioner_core::env::{Environment, TEST_DOMAIN, environment_schema};
    use serde_json::Value;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn definition<'a>(schema: &'a Value, name: &str) -> Result<&'a Value, String> {
        schema
            .pointer(&format!("/definitions/{name}"))
            .ok_or_else(|| format!("no definition {name}"))
    }

    /// The strings a string-enum definition allows (`enum`, or `oneOf` of `const`s).
    fn string_values(def: &Value) -> Vec<&str> {
        match (def.get("enum"), def.get("oneOf")) {
            (Some(Value::Array(values)), _) => values.iter().filter_map(Value::as_str).collect(),
            (_, Some(Value::Array(branches))) => branches
                .iter()
                .filter_map(|b| b.get("const").and_then(Value::as_str))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn yaml(text: &str) -> Result<Value, serde_saphyr::Error> {
        serde_saphyr::from_str(text)
    }

    #[test]
    fn environment_and_profile_share_one_generator_without_name_clashes() {
        // The conformance harness embeds both in one scenario schema.
        let mut generator = schemars::generate::SchemaSettings::draft07().into_generator();
        let env = generator.subschema_for::<Environment>();
        let profile = generator.subschema_for::<amt_sim::profile::DeviceProfile>();
        assert_eq!(
            env.get("$ref"),
            Some(&Value::from("#/definitions/Environment"))
        );
        assert_eq!(
            profile.get("$ref"),
            Some(&Value::from("#/definitions/DeviceProfile"))
        );
        let names: Vec<&String> = generator.definitions().keys().collect();
        for name in [
            "Dhcp",
            "DhcpOptions",
            "Dns",
            "Network",
            "LogConfig",
            "FaultSpec",
        ] {
            assert!(names.iter().any(|n| *n == name), "{name}: {names:?}");
        }
        // schemars renames clashing definitions `Name2`, `Name3`, …
        assert!(
            names
                .iter()
                .all(|n| !n.ends_with(|c: char| c.is_ascii_digit())),
            "{names:?}"
        );
        // The default draft (2020-12) works too.
        let latest = schemars::schema_for!(Environment);
        assert!(latest.get("$defs").is_some());
    }

    #[test]
    fn serde_attributes_shape_the_schema() -> TestResult {
        let schema = environment_schema();
        let computer = definition(&schema, "ImportedComputer")?;
        assert_eq!(
            computer.get("required"),
            Some(&serde_json::json!(["name", "uuid", "fqdn"]))
        );
        assert_eq!(
            computer.pointer("/properties/uuid/type"),
            Some(&Value::from("string"))
        );
        assert_eq!(
            computer
                .pointer("/properties/uuid/pattern")
                .and_then(Value::as_str),
            Some(amt_wire::hello::UUID_PATTERN)
        );
        assert_eq!(
            computer.pointer("/properties/tls_port/default"),
            Some(&Value::from(16993))
        );
        assert_eq!(
            computer.pointer("/properties/domain/default"),
            Some(&Value::from(TEST_DOMAIN))
        );
        assert_eq!(
            definition(&schema, "AclUser")?.pointer("/properties/access/default"),
            Some(&Value::from(2))
        );
        assert_eq!(
            string_values(definition(&schema, "CaDenial")?),
            ["template-permissions", "dcom-access-denied"]
        );
        assert_eq!(
            string_values(definition(&schema, "AliasState")?),
            [
                "registered",
                "not-registered",
                "registered-before-service-point"
            ]
        );
        assert_eq!(
            string_values(definition(&schema, "ResolveTo")?),
            ["wired", "wireless"]
        );
        assert_eq!(
            string_values(definition(&schema, "ConfigMgrVersion")?),
            ["sp1", "sp2"]
        );
        assert_eq!(
            string_values(definition(&schema, "SiteMode")?),
            ["native", "mixed"]
        );
        assert_eq!(
            string_values(definition(&schema, "LogFile")?),
            [
                "amtopmgr.log",
                "amtproxymgr.log",
                "oobmgmt.log",
                "despool.log",
                "hman.log",
                "policypv.log",
                "PolicyAgent.log"
            ]
        );
        // Container defaults are the default environment's values.
        let default = serde_json::to_value(Environment::default())?;
        for (key, value) in default.as_object().ok_or("not an object")? {
            assert_eq!(
                schema.pointer(&format!("/properties/{key}/default")),
                Some(value),
                "{key}"
            );
        }
        assert_eq!(mismatches(&schema, &default), []);
        assert_eq!(
            mismatches(
                &schema,
                &serde_json::to_value(Environment::default_for_tests())?
            ),
            []
        );
        Ok(())
    }

    #[test]
    fn the_check_reports_what_the_loader_rejects() -> TestResult {
        let schema = environment_schema();
        let computer =
            "computers: [ { name: A, uuid: 8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d, fqdn: a.b";
        let cases = [
            ("bogus: 1\n".to_owned(), "bogus"),
            (
                "configmgr: { version: sp3 }\n".to_owned(),
                "configmgr.version",
            ),
            (
                "dns: { resolve_to: carrier-pigeon }\n".to_owned(),
                "dns.resolve_to",
            ),
            (
                "enterprise_ca: { deny: yes-please }\n".to_owned(),
                "enterprise_ca.deny",
            ),
            (
                "logs: { a18_file: other.log }\n".to_owned(),
                "logs.a18_file",
            ),
            ("logs: { bias: 60 }\n".to_owned(), "logs.bias"),
            (
                "stage2: { power_scheme: 300 }\n".to_owned(),
                "stage2.power_scheme",
            ),
            ("computers: [ { name: A } ]\n".to_owned(), "computers[0]"),
            (
                format!("{computer}, tls_port: 70000 }} ]\n"),
                "computers[0].tls_port",
            ),
            (
                format!("{computer}, colour: red }} ]\n"),
                "computers[0].colour",
            ),
        ];
        for (text, path) in cases {
            let found = mismatches(&schema, &yaml(&text)?);
            assert!(
                found.iter().any(|m| m.path == path),
                "{text:?}: expected a mismatch at {path}, got {found:?}"
            );
            assert!(
                Environment::from_yaml(&text, Path::new(".")).is_err(),
                "{text:?}"
            );
        }
        let fits = format!("{computer}, wired_ip: 10.0.0.5 }} ]\n");
        assert_eq!(mismatches(&schema, &yaml(&fits)?), []);
        Ok(())
    }
}

/// Every device profile kept in the repository fits the profile schema and loads.
mod profile_files {
    use std::path::{Path, PathBuf};

    use amt_sim::profile::DeviceProfile;
    use amt_sim::schema::profile_schema;
    use conformance::schema_check::mismatches;
    use serde_json::Value;

    use super::{TestResult, repo};

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
        let root = repo().join("crates/amt-sim");
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
}

/// Every example environment fits the environment schema and loads.
mod environment_files {
    use std::path::{Path, PathBuf};

    use conformance::schema_check::mismatches;
    use provisioner_core::env::{Environment, environment_schema};
    use serde_json::Value;

    use super::{TestResult, repo};

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

    #[test]
    fn environment_files_fit_the_environment_schema() -> TestResult {
        let root = repo().join("crates/provisioner-core");
        let schema = environment_schema();
        let examples = root.join("examples/env");
        let files = files_ending(&examples, ".yaml")?;
        assert!(files.len() >= 3, "found only {} files", files.len());
        for path in files {
            check_file(&schema, &path, &examples, load_env)?;
        }
        Ok(())
    }
}
