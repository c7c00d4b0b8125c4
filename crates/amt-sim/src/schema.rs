//! JSON Schemas of the YAML formats (draft-07, generated with schemars from the serde types) and a
//! small structural check of a parsed YAML document against such a schema.
//!
//! The check is not a full JSON Schema validator: it follows local `$ref`s, `anyOf`/`oneOf`/`allOf`,
//! and checks `type`, `enum`, `const`, `minimum`/`maximum`, `properties`, `additionalProperties`,
//! `required` and `items`. It ignores `pattern`, `format` and every other keyword (the YAML loaders
//! still check those values). Its purpose is to catch drift between the schema and what the files
//! really contain: a key the schema does not know, a spelling it does not list.

use std::fmt;

use schemars::JsonSchema;
use serde_json::{Map, Value};

use crate::profile::DeviceProfile;

/// How deep the check follows schemas and documents before it gives up (a cycle guard).
const MAX_DEPTH: usize = 64;

/// The draft-07 JSON Schema of `T` (the deserialisation contract: what the YAML accepts), with
/// shared types under `definitions`.
pub fn draft07<T: JsonSchema>() -> Value {
    schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// The draft-07 JSON Schema of a device profile ([`DeviceProfile`]).
pub fn profile_schema() -> Value {
    draft07::<DeviceProfile>()
}

/// One place where a document does not fit the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// Where, as a dotted path with indices (`hashes[2].value`; empty for the document itself).
    pub path: String,
    /// What does not fit.
    pub message: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "(document): {}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Checks `doc` (a parsed YAML or JSON document) against `root` (a schema from [`draft07`]) with
/// the keywords listed in the module documentation; returns every mismatch (empty = fits).
///
/// A `null` document counts as an empty mapping (an empty YAML file is the all-defaults value).
pub fn mismatches(root: &Value, doc: &Value) -> Vec<Mismatch> {
    let empty = Value::Object(Map::new());
    let doc = if doc.is_null() { &empty } else { doc };
    let mut out = Vec::new();
    check(root, root, doc, "", 0, &mut out);
    out
}

fn push(out: &mut Vec<Mismatch>, path: &str, message: impl Into<String>) {
    out.push(Mismatch {
        path: path.to_owned(),
        message: message.into(),
    });
}

fn child_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn type_matches(name: &str, doc: &Value) -> bool {
    match name {
        "null" => doc.is_null(),
        "boolean" => doc.is_boolean(),
        "string" => doc.is_string(),
        "number" => doc.is_number(),
        "integer" => {
            doc.is_i64()
                || doc.is_u64()
                || doc
                    .as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.is_finite())
        }
        "array" => doc.is_array(),
        "object" => doc.is_object(),
        _ => false,
    }
}

fn kind_of(doc: &Value) -> &'static str {
    match doc {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "mapping",
    }
}

fn check(
    root: &Value,
    schema: &Value,
    doc: &Value,
    path: &str,
    depth: usize,
    out: &mut Vec<Mismatch>,
) {
    if depth > MAX_DEPTH {
        push(out, path, "schema or document nested too deeply to check");
        return;
    }
    let schema = match schema {
        Value::Bool(true) => return,
        Value::Bool(false) => return push(out, path, "not allowed here"),
        Value::Object(map) => map,
        _ => return push(out, path, "schema is neither an object nor a boolean"),
    };
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        match reference
            .strip_prefix('#')
            .and_then(|pointer| root.pointer(pointer))
        {
            Some(target) => check(root, target, doc, path, depth + 1, out),
            None => push(out, path, format!("unresolvable $ref {reference}")),
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for sub in all {
            check(root, sub, doc, path, depth + 1, out);
        }
    }
    for keyword in ["anyOf", "oneOf"] {
        if let Some(branches) = schema.get(keyword).and_then(Value::as_array) {
            check_alternatives(root, branches, doc, path, depth, out);
        }
    }
    match schema.get("type") {
        Some(Value::String(t)) if !type_matches(t, doc) => {
            return push(out, path, format!("expected {t}, found {}", kind_of(doc)));
        }
        Some(Value::Array(ts))
            if !ts
                .iter()
                .any(|t| t.as_str().is_some_and(|t| type_matches(t, doc))) =>
        {
            let names: Vec<&str> = ts.iter().filter_map(Value::as_str).collect();
            return push(
                out,
                path,
                format!("expected {}, found {}", names.join(" or "), kind_of(doc)),
            );
        }
        _ => {}
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(doc)
    {
        push(
            out,
            path,
            format!("{doc} is not one of {}", Value::from(allowed.clone())),
        );
    }
    if let Some(constant) = schema.get("const")
        && constant != doc
    {
        push(out, path, format!("{doc} is not {constant}"));
    }
    if let Some(n) = doc.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            push(out, path, format!("{doc} is below the minimum {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            push(out, path, format!("{doc} is above the maximum {max}"));
        }
    }
    match doc {
        Value::Object(fields) => check_object(root, schema, fields, path, depth, out),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(
                        root,
                        item_schema,
                        item,
                        &format!("{path}[{i}]"),
                        depth + 1,
                        out,
                    );
                }
            }
        }
        _ => {}
    }
}

/// `anyOf`/`oneOf`: fine if some branch fits. Otherwise, if some branch got past the shape of
/// this node (its mismatches are deeper), its mismatches are the useful ones (fewest wins);
/// else one mismatch lists what would have fitted.
fn check_alternatives(
    root: &Value,
    branches: &[Value],
    doc: &Value,
    path: &str,
    depth: usize,
    out: &mut Vec<Mismatch>,
) {
    let mut deeper: Option<Vec<Mismatch>> = None;
    for sub in branches {
        let mut found = Vec::new();
        check(root, sub, doc, path, depth + 1, &mut found);
        if found.is_empty() {
            return;
        }
        if found.iter().any(|m| m.path != path)
            && deeper.as_ref().is_none_or(|b| found.len() < b.len())
        {
            deeper = Some(found);
        }
    }
    match deeper {
        Some(found) => out.extend(found),
        None => {
            let mut expected = Vec::new();
            for sub in branches {
                describe(root, sub, depth + 1, &mut expected);
            }
            push(
                out,
                path,
                format!("{doc} fits none of: {}", expected.join(", ")),
            );
        }
    }
}

/// Short descriptions of what a schema accepts (`"wired"`, `string`, `{delay}`), flattening
/// `$ref`s and alternatives.
fn describe(root: &Value, schema: &Value, depth: usize, into: &mut Vec<String>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Some(map) = schema.as_object() else {
        into.push(schema.to_string());
        return;
    };
    if let Some(target) = map
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| root.pointer(pointer))
    {
        return describe(root, target, depth + 1, into);
    }
    for keyword in ["anyOf", "oneOf"] {
        if let Some(branches) = map.get(keyword).and_then(Value::as_array) {
            for sub in branches {
                describe(root, sub, depth + 1, into);
            }
            return;
        }
    }
    if let Some(constant) = map.get("const") {
        into.push(constant.to_string());
    } else if let Some(values) = map.get("enum").and_then(Value::as_array) {
        into.extend(values.iter().map(Value::to_string));
    } else if let Some(properties) = map.get("properties").and_then(Value::as_object) {
        let keys: Vec<&str> = properties.keys().map(String::as_str).collect();
        into.push(format!("{{{}}}", keys.join(", ")));
    } else if let Some(t) = map.get("type") {
        into.push(match t {
            Value::String(t) => t.clone(),
            other => other.to_string(),
        });
    } else {
        into.push("anything".to_owned());
    }
}

fn check_object(
    root: &Value,
    schema: &Map<String, Value>,
    fields: &Map<String, Value>,
    path: &str,
    depth: usize,
    out: &mut Vec<Mismatch>,
) {
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    for (key, value) in fields {
        let here = child_key(path, key);
        match (properties.and_then(|p| p.get(key)), additional) {
            (Some(sub), _) => check(root, sub, value, &here, depth + 1, out),
            (None, Some(Value::Bool(false))) => {
                let known: Vec<&str> = properties
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                push(
                    out,
                    &here,
                    format!("unknown key (known: {})", known.join(", ")),
                );
            }
            (None, Some(sub)) => check(root, sub, value, &here, depth + 1, out),
            (None, None) => {}
        }
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            if !fields.contains_key(key) {
                push(out, path, format!("missing required key `{key}`"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::faults::{DURATION_PATTERN, DurationText, FaultSpec};
    use crate::personality::{PERSONALITY_ALIASES, Personality};
    use crate::profile::DEFAULT_PROFILE_YAML;

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
    fn profile_schema_serialises_and_lists_the_fields() -> TestResult {
        let schema = profile_schema();
        let text = serde_json::to_string_pretty(&schema)?;
        assert!(text.contains("draft-07"), "{text}");
        assert_eq!(
            schema.get("$schema").and_then(Value::as_str),
            Some("http://json-schema.org/draft-07/schema#")
        );
        assert_eq!(
            property_names(&schema),
            [
                "amt_version",
                "clock",
                "faults",
                "fqdn_limit",
                "hashes",
                "hello",
                "lenient_digest_password",
                "network",
                "personality",
                "ports",
                "provisioning",
                "setup_auth",
                "system",
                "uuid",
            ]
        );
        // The default draft (2020-12) works too.
        let latest = schemars::schema_for!(DeviceProfile);
        assert!(latest.get("$defs").is_some());
        // Every field has a default: nothing is required at the top.
        assert!(schema.get("required").is_none());
        // Doc comments become descriptions.
        assert_eq!(
            schema
                .pointer("/properties/uuid/description")
                .and_then(Value::as_str),
            Some("SMBIOS UUID in canonical text form.")
        );
        Ok(())
    }

    #[test]
    fn deny_unknown_fields_becomes_additional_properties_false() -> TestResult {
        let schema = profile_schema();
        assert_eq!(
            schema.get("additionalProperties"),
            Some(&Value::Bool(false))
        );
        for name in [
            "HashEntry",
            "Network",
            "NetInterface",
            "DhcpOptions",
            "Provisioning",
            "Ports",
            "HelloSettings",
            "SystemInfo",
            "FaultSpec",
            "FaultTrigger",
            "HashActiveOverride",
        ] {
            assert_eq!(
                definition(&schema, name)?.get("additionalProperties"),
                Some(&Value::Bool(false)),
                "{name}"
            );
        }
        // The name table is a map of addresses, not a closed struct.
        assert_eq!(
            schema.pointer("/definitions/Network/properties/dns/additionalProperties/format"),
            Some(&Value::from("ip"))
        );
        Ok(())
    }

    #[test]
    fn serde_attributes_shape_the_schema() -> TestResult {
        let schema = profile_schema();
        // `rename = "do"` and per-field defaults.
        let fault = definition(&schema, "FaultSpec")?;
        assert!(property_names(fault).contains(&"do"));
        assert!(!property_names(fault).contains(&"action"));
        let hash = definition(&schema, "HashEntry")?;
        assert_eq!(
            hash.pointer("/properties/active/default"),
            Some(&Value::Bool(true))
        );
        assert_eq!(hash.get("required"), None);
        assert_eq!(
            definition(&schema, "HashActiveOverride")?.get("required"),
            Some(&serde_json::json!(["active"]))
        );
        assert_eq!(
            definition(&schema, "NetInterface")?.get("required"),
            Some(&serde_json::json!(["mac"]))
        );
        // rename_all on enums.
        assert_eq!(
            string_values(definition(&schema, "HashAlgorithmName")?),
            ["sha1", "sha256", "sha384"]
        );
        assert_eq!(
            string_values(definition(&schema, "Step")?),
            ["tcp-connect", "tls-server-hello", "http-request"]
        );
        assert_eq!(
            string_values(definition(&schema, "ScheduleKind")?),
            ["configmgr-24h", "six-hours"]
        );
        assert_eq!(
            string_values(definition(&schema, "SetupAuth")?),
            ["certificate", "digest"]
        );
        // Container defaults are spelled out.
        assert_eq!(
            schema.pointer("/properties/ports/default"),
            Some(&serde_json::json!({ "http": 16992, "tls": 16993 }))
        );
        Ok(())
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
