//! Simulated time: a wall-clock instant passed into protocol code instead of read from the system.
//!
//! Protocol logic in every crate takes `now: Timestamp` as a parameter. The in-process runner
//! advances a virtual clock; the network shells read the system clock once per event and pass
//! it in. Milliseconds since the Unix epoch are enough for every AMT rule (certificate validity,
//! nonce expiry, the Hello schedule, `GetLowAccuracyTimeSynch` seconds).

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::time::Duration;

/// An instant on the simulated wall clock, in milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Self = Self(0);

    /// An instant `millis` milliseconds after the Unix epoch (negative values are before it).
    pub const fn from_unix_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// An instant `secs` seconds after the Unix epoch.
    pub const fn from_unix_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (rounded towards negative infinity).
    pub const fn unix_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// The time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Self) -> Duration {
        u64::try_from(self.0.saturating_sub(earlier.0))
            .map_or(Duration::ZERO, Duration::from_millis)
    }

    /// `self + d`, saturating at the end of the representable range.
    pub fn saturating_add(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(ms))
    }

    /// `self - d`, saturating at the start of the representable range.
    pub fn saturating_sub(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_sub(ms))
    }
}

impl Add<Duration> for Timestamp {
    type Output = Self;
    fn add(self, rhs: Duration) -> Self {
        self.saturating_add(rhs)
    }
}

impl AddAssign<Duration> for Timestamp {
    fn add_assign(&mut self, rhs: Duration) {
        *self = self.saturating_add(rhs);
    }
}

impl Sub for Timestamp {
    type Output = Duration;
    /// Saturating difference: zero when `rhs` is later than `self`.
    fn sub(self, rhs: Self) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Display for Timestamp {
    /// Formats as `<secs>.<millis>s` since the epoch, for logs and test messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.unix_secs(), self.0.rem_euclid(1000))
    }
}

/// The JSON Schema `pattern` of a duration written as text (what [`parse_duration_text`]
/// accepts): `<number><unit>` with unit `ms`, `s`, `m` (or `min`) or `h`; no unit counts seconds.
/// Both the device profile (fault delays) and the scenarios (waits, windows) write durations so.
pub const DURATION_PATTERN: &str = r"^\s*[0-9]+(ms|s|min|m|h)?\s*$";

/// Why a duration text was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationTextError {
    /// The number part is missing or not a whole number.
    #[error("invalid duration {0:?}: expected e.g. 40s, 1500ms, 2m, 1h")]
    Number(String),
    /// The unit is none of `ms`, `s`, `m`, `min`, `h`.
    #[error("invalid duration unit in {0:?}: use ms, s, m or h")]
    Unit(String),
}

impl DurationTextError {
    /// Stable id.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Number(_) => "duration/number",
            Self::Unit(_) => "duration/unit",
        }
    }
}

/// Parses `40s`, `1500ms`, `2m`, `1h` (surrounding white space ignored; no unit = seconds).
pub fn parse_duration_text(text: &str) -> Result<Duration, DurationTextError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| DurationTextError::Number(text.to_owned()))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" | "min" => Ok(Duration::from_secs(n.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(n.saturating_mul(3600))),
        _ => Err(DurationTextError::Unit(text.to_owned())),
    }
}

/// Formats a duration as [`parse_duration_text`] reads it: whole seconds as `<n>s`, else `<n>ms`.
pub fn format_duration_text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_and_round_trips() {
        let t = Timestamp::from_unix_secs(1_000);
        assert_eq!((t + Duration::from_millis(1_500)).unix_millis(), 1_001_500);
        assert_eq!(t - (t + Duration::from_secs(5)), Duration::ZERO);
        assert_eq!((t + Duration::from_secs(5)) - t, Duration::from_secs(5));
        assert_eq!(
            Timestamp::from_unix_millis(i64::MAX) + Duration::from_secs(1),
            Timestamp::from_unix_millis(i64::MAX)
        );
        assert_eq!(Timestamp::from_unix_millis(-1).unix_secs(), -1);
        assert_eq!(Timestamp::from_unix_millis(1_234).to_string(), "1.234s");
    }

    #[test]
    fn duration_text_parses_units_and_round_trips() {
        for (text, d) in [
            ("40s", Duration::from_secs(40)),
            (" 1500ms ", Duration::from_millis(1500)),
            ("2m", Duration::from_secs(120)),
            ("3min", Duration::from_secs(180)),
            ("1h", Duration::from_secs(3600)),
            ("7", Duration::from_secs(7)),
        ] {
            assert_eq!(parse_duration_text(text), Ok(d), "{text}");
            assert_eq!(parse_duration_text(&format_duration_text(d)), Ok(d));
        }
        assert_eq!(
            parse_duration_text("5 parsecs").map_err(|e| e.id()),
            Err("duration/unit")
        );
        assert_eq!(
            parse_duration_text("s").map_err(|e| e.id()),
            Err("duration/number")
        );
    }
}
