//! JSON Schemas of the device-profile format (draft-07, generated with schemars from the serde
//! types). The structural check of documents against them lives in the harness
//! (`conformance::schema_check`), where the scenario, profile and environment schemas meet.

use schemars::JsonSchema;
use serde_json::Value;

use crate::profile::DeviceProfile;

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

#[cfg(test)]
mod tests {
    use super::*;

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
            string_values(definition(&schema, "FaultStep")?),
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
}
