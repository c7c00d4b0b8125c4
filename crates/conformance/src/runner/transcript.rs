//! The protocol transcript of a run: service-point events, device events and log lines merged in
//! time order, one line each, with every known secret replaced by `<redacted>`.
//!
//! Line shape: `+HH:MM:SS.mmm <source> <what>`, where source is `sp` (the service point's event,
//! as JSON), `dev:<last 4 hex of the UUID>` (the device's event, as JSON) or a log file name
//! (the message). Deterministic for a seeded in-process run, so it can be a snapshot.

use std::fmt::Write as _;

use amt_sim::events::DeviceEvent;
use amt_wire::time::Timestamp;
use provisioner_core::events::ProvisionEvent;
use provisioner_core::logs::Logs;

/// Shortest secret that is redacted (shorter strings would hit ordinary words).
const MIN_SECRET: usize = 4;

/// Collects entries, then renders them.
#[derive(Debug)]
pub struct Transcript {
    start: Timestamp,
    entries: Vec<(i64, String, String)>,
}

impl Transcript {
    /// An empty transcript whose times are relative to `start`.
    pub fn new(start: Timestamp) -> Self {
        Self {
            start,
            entries: Vec::new(),
        }
    }

    /// Adds the service point's events.
    pub fn add_service_point(&mut self, events: &[(Timestamp, ProvisionEvent)]) {
        for (at, event) in events {
            let json = serde_json::to_string(event).unwrap_or_else(|e| format!("<{e}>"));
            self.entries.push((at.unix_millis(), "sp".to_owned(), json));
        }
    }

    /// Adds devices' events.
    pub fn add_device(&mut self, events: &[DeviceEvent]) {
        for event in events {
            let json = serde_json::to_string(&event.kind).unwrap_or_else(|e| format!("<{e}>"));
            let short = event
                .uuid
                .get(event.uuid.len().saturating_sub(4)..)
                .unwrap_or(&event.uuid);
            self.entries
                .push((event.at_ms, format!("dev:{short}"), json));
        }
    }

    /// Adds every log record.
    pub fn add_logs(&mut self, logs: &Logs) {
        for record in logs.all_records() {
            self.entries.push((
                record.at.unix_millis(),
                record.file.file_name().to_owned(),
                record.message.clone(),
            ));
        }
    }

    /// The text, time-ordered (stable within a time: service point, devices, logs), redacted.
    pub fn render(mut self, secrets: &[String]) -> String {
        self.entries.sort_by_key(|(at, _, _)| *at);
        let start = self.start.unix_millis();
        let mut out = String::new();
        for (at, source, what) in &self.entries {
            let ms = at.saturating_sub(start).max(0);
            let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
            let (m, rest) = (rest / 60_000, rest % 60_000);
            let (s, ms) = (rest / 1000, rest % 1000);
            let _ = writeln!(out, "+{h:02}:{m:02}:{s:02}.{ms:03} {source} {what}");
        }
        redact(&out, secrets)
    }
}

/// Replaces every secret of at least 4 characters (longest first) in `text`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut sorted: Vec<&String> = secrets.iter().filter(|s| s.len() >= MIN_SECRET).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for secret in sorted {
        out = out.replace(secret.as_str(), "<redacted>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_longest_first() {
        let text = "admin P@ssw0rd-MEBx1 and P@ssw0rd, ok";
        let out = redact(
            text,
            &["P@ssw0rd".into(), "P@ssw0rd-MEBx1".into(), "ok".into()],
        );
        assert_eq!(out, "admin <redacted> and <redacted>, ok");
    }

    #[test]
    fn lines_are_time_ordered_and_relative() {
        let t0 = Timestamp::from_unix_millis(1_000_000);
        let mut t = Transcript::new(t0);
        t.entries
            .push((1_000_000 + 3_723_004, "b".into(), "later".into()));
        t.entries.push((1_000_000, "a".into(), "first".into()));
        assert_eq!(
            t.render(&[]),
            "+00:00:00.000 a first\n+01:02:03.004 b later\n"
        );
    }
}
