//! The structural check of a parsed YAML document against a draft-07 JSON Schema (the schemas of
//! the scenario, device-profile and environment formats are checked here, in the harness, where
//! all three meet).
//!
//! The check is not a full JSON Schema validator: it follows local `$ref`s, `anyOf`/`oneOf`/`allOf`,
//! and checks `type`, `enum`, `const`, `minimum`/`maximum`, `properties`, `additionalProperties`,
//! `required` and `items`. It ignores `pattern`, `format` and every other keyword (the YAML loaders
//! still check those values). Its purpose is to catch drift between the schema and what the files
//! really contain: a key the schema does not know, a spelling it does not list.

use std::fmt;

use schemars::JsonSchema;
use serde_json::{Map, Value};

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
