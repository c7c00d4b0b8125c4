//! How many, as expectations write it: a number (exactly), `">=1"`, `"<=3"`, `">0"`, `"<5"`,
//! `"=2"` or an inclusive range `"2..4"`. Parsed when the scenario loads (a text that is no count
//! is a load error); used by every counting expectation (sessions, Hellos, wire counts, status
//! messages, site counts).

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A count expectation (see the module docs).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Count {
    /// Exactly this many.
    Exactly(usize),
    /// At least this many.
    AtLeast(usize),
    /// At most this many.
    AtMost(usize),
    /// Between these, both included.
    Range(usize, usize),
}

impl Count {
    /// Whether `n` satisfies the count.
    pub fn holds(self, n: usize) -> bool {
        match self {
            Self::Exactly(v) => n == v,
            Self::AtLeast(v) => n >= v,
            Self::AtMost(v) => n <= v,
            Self::Range(lo, hi) => lo <= n && n <= hi,
        }
    }

    /// Parses `3`, `>=1`, `<=3`, `>0`, `<5`, `=2`, `2..4`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bad = || format!("{text:?} is not a count (3, >=1, <=3, >0, <5 or 2..4)");
        let num = |t: &str| t.trim().parse::<usize>().map_err(|_| bad());
        if let Some((lo, hi)) = text.split_once("..") {
            let (lo, hi) = (num(lo)?, num(hi)?);
            return if lo <= hi {
                Ok(Self::Range(lo, hi))
            } else {
                Err(bad())
            };
        }
        if let Some(rest) = text.strip_prefix(">=") {
            return num(rest).map(Self::AtLeast);
        }
        if let Some(rest) = text.strip_prefix("<=") {
            return num(rest).map(Self::AtMost);
        }
        if let Some(rest) = text.strip_prefix('>') {
            return num(rest).map(|v| Self::AtLeast(v.saturating_add(1)));
        }
        if let Some(rest) = text.strip_prefix('<') {
            let v = num(rest)?;
            return v.checked_sub(1).map(Self::AtMost).ok_or_else(bad);
        }
        if let Some(rest) = text.strip_prefix('=') {
            return num(rest).map(Self::Exactly);
        }
        num(text).map(Self::Exactly)
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exactly(n) => write!(f, "{n}"),
            Self::AtLeast(n) => write!(f, ">={n}"),
            Self::AtMost(n) => write!(f, "<={n}"),
            Self::Range(lo, hi) => write!(f, "{lo}..{hi}"),
        }
    }
}

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Exactly(n) => s.serialize_u64(*n as u64),
            other => s.collect_str(other),
        }
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(usize),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Self::Exactly(n)),
            Raw::Text(t) => Self::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

/// The JSON Schema `pattern` of a count written as text.
pub const COUNT_PATTERN: &str = r"^\s*(([<>]=?|=)?\s*[0-9]+|[0-9]+\s*\.\.\s*[0-9]+)\s*$";

impl JsonSchema for Count {
    fn schema_name() -> Cow<'static, str> {
        "Count".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "How many: a number (exactly), or `>=1`, `<=3`, `>0`, `<5`, `=2` or an \
                            inclusive range `2..4`.",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": COUNT_PATTERN },
            ],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse_comparisons_and_ranges() {
        let c = |t: &str| Count::parse(t);
        assert!(Count::Exactly(2).holds(2));
        assert_eq!(c(">=1").map(|c| c.holds(0)), Ok(false));
        assert_eq!(c(">=1").map(|c| c.holds(101)), Ok(true));
        assert_eq!(c("<=3").map(|c| c.holds(4)), Ok(false));
        assert_eq!(c("2..4").map(|c| c.holds(3)), Ok(true));
        assert_eq!(c("2..4").map(|c| c.holds(5)), Ok(false));
        assert_eq!(c(">0").map(|c| c.holds(0)), Ok(false));
        assert_eq!(c("<5").map(|c| c.holds(4)), Ok(true));
        assert_eq!(c("7").map(|c| c.holds(7)), Ok(true));
        assert!(c("many").is_err());
        assert!(c("4..2").is_err());
        assert!(c("<0").is_err());
    }

    #[test]
    fn numbers_and_texts_load_and_a_typo_does_not() {
        let n: Result<Count, _> = serde_json::from_str("3");
        assert_eq!(n.ok(), Some(Count::Exactly(3)));
        let r: Result<Count, _> = serde_json::from_str("\"2..4\"");
        assert_eq!(r.ok(), Some(Count::Range(2, 4)));
        assert!(serde_json::from_str::<Count>("\"lots\"").is_err());
        assert_eq!(Count::AtLeast(1).to_string(), ">=1");
    }
}
