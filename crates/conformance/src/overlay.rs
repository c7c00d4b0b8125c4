//! A generic overlay of top-level keys onto a base value ([`Overlay`]): what a scenario's
//! `device:` and `environment:` write besides their own few keys. Any top-level key of the base
//! type may be given; it replaces the base's value whole. So a new device-profile or environment
//! key needs no change in the harness, and its JSON Schema is the base type's.
//!
//! Keys are checked when the scenario loads: the overlay must deserialise as the base type on its
//! own (the base types default every field and deny unknown ones), so a misspelt key or a wrong
//! value is a load error.

use std::borrow::Cow;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Top-level keys of `T` that replace the base's (see the module docs).
pub struct Overlay<T> {
    keys: Map<String, Value>,
    base: PhantomData<fn() -> T>,
}

impl<T> Clone for Overlay<T> {
    fn clone(&self) -> Self {
        Self {
            keys: self.keys.clone(),
            base: PhantomData,
        }
    }
}

impl<T> Default for Overlay<T> {
    fn default() -> Self {
        Self {
            keys: Map::new(),
            base: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Overlay<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.keys.iter()).finish()
    }
}

impl<T: Serialize + DeserializeOwned> Overlay<T> {
    /// Whether the overlay sets `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.keys.contains_key(key)
    }

    /// The keys it sets, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Whether it sets nothing.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// `base` with every key of the overlay replaced.
    pub fn apply(&self, base: &T) -> Result<T, String> {
        let mut value = serde_json::to_value(base).map_err(|e| e.to_string())?;
        let Value::Object(fields) = &mut value else {
            return Err("the base is not a mapping".to_owned());
        };
        for (k, v) in &self.keys {
            fields.insert(k.clone(), v.clone());
        }
        T::deserialize(value).map_err(|e| e.to_string())
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Overlay<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let keys = Map::<String, Value>::deserialize(d)?;
        // The base type on its own says whether every key and value is one of its own.
        T::deserialize(Value::Object(keys.clone())).map_err(serde::de::Error::custom)?;
        Ok(Self {
            keys,
            base: PhantomData,
        })
    }
}

impl<T> Serialize for Overlay<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.keys.serialize(s)
    }
}

impl<T: JsonSchema> Overlay<T> {
    /// `T`'s own object schema with nothing required, plus `extra` properties (the spec's own
    /// keys): what a spec that flattens an overlay of `T` accepts.
    pub fn schema_with(
        generator: &mut SchemaGenerator,
        description: &str,
        extra: &[(&str, Schema)],
    ) -> Schema {
        let mut schema = T::json_schema(generator);
        if let Some(obj) = schema.as_object_mut() {
            obj.remove("required");
            obj.insert("description".to_owned(), Value::from(description));
            obj.insert("additionalProperties".to_owned(), Value::Bool(false));
            if let Some(Value::Object(props)) = obj.get_mut("properties") {
                for (name, s) in extra {
                    props.insert((*name).to_owned(), s.clone().to_value());
                }
            }
        }
        schema
    }
}

impl<T: JsonSchema> JsonSchema for Overlay<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("{}Overlay", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        Self::schema_with(generator, "Top-level keys replacing the base's.", &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(default, deny_unknown_fields)]
    struct Base {
        a: u32,
        b: Vec<String>,
        c: Option<bool>,
    }

    #[test]
    fn keys_replace_the_base_whole_and_others_stay() -> Result<(), Box<dyn std::error::Error>> {
        let base = Base {
            a: 1,
            b: vec!["x".into(), "y".into()],
            c: Some(true),
        };
        let o: Overlay<Base> = serde_json::from_str(r#"{"b": ["z"]}"#)?;
        assert!(o.contains("b") && !o.contains("a"));
        assert_eq!(
            o.apply(&base)?,
            Base {
                a: 1,
                b: vec!["z".into()],
                c: Some(true)
            }
        );
        assert!(Overlay::<Base>::default().is_empty());
        Ok(())
    }

    #[test]
    fn unknown_keys_and_wrong_values_are_load_errors() {
        let unknown = serde_json::from_str::<Overlay<Base>>(r#"{"bb": 1}"#);
        assert!(
            unknown.is_err_and(|e| e.to_string().contains("bb")),
            "a misspelt key names itself"
        );
        assert!(serde_json::from_str::<Overlay<Base>>(r#"{"a": "many"}"#).is_err());
    }

    #[test]
    fn the_schema_is_the_base_schema_with_the_extra_keys() {
        let mut generator = schemars::generate::SchemaSettings::draft07().into_generator();
        let extra = [("file", generator.subschema_for::<String>())];
        let schema = Overlay::<Base>::schema_with(&mut generator, "d", &extra).to_value();
        let props: Vec<&str> = schema["properties"]
            .as_object()
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(props, ["a", "b", "c", "file"]);
        assert_eq!(schema["additionalProperties"], false);
        assert!(schema.get("required").is_none());
    }
}
