//! The two ConfigMgr log-line framings: SMS trace (site server, service point) and CMTrace (client).
//!
//! Both follow `reference/error-catalog.md` §1. Local time is UTC minus the bias in minutes
//! (`+480` = US Pacific standard time, `-480` = UTC+8), the sign convention both formats share.

use amt_wire::time::Timestamp;
use time::OffsetDateTime;

/// Date and time parts of a local timestamp, as the two formats print them.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct LocalTime {
    month: u8,
    day: u8,
    year: i32,
    hour: u8,
    minute: u8,
    second: u8,
    millis: u16,
}

impl LocalTime {
    /// The local time of `now` under `bias_minutes` (local = UTC − bias).
    pub(crate) fn of(now: Timestamp, bias_minutes: i32) -> Self {
        let local_ms = now
            .unix_millis()
            .saturating_sub(i64::from(bias_minutes).saturating_mul(60_000));
        let secs = local_ms.div_euclid(1000);
        let millis = u16::try_from(local_ms.rem_euclid(1000)).unwrap_or(0);
        // Out-of-range instants (beyond year ±9999) clamp to the epoch: the log stays well formed.
        let dt = OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Self {
            month: u8::from(dt.month()),
            day: dt.day(),
            year: dt.year(),
            hour: dt.hour(),
            minute: dt.minute(),
            second: dt.second(),
            millis,
        }
    }

    /// `MM-DD-YYYY`.
    pub(crate) fn date(&self) -> String {
        format!("{:02}-{:02}-{:04}", self.month, self.day, self.year)
    }

    /// `HH:MM:SS.mmm`.
    pub(crate) fn time(&self) -> String {
        format!(
            "{:02}:{:02}:{:02}.{:03}",
            self.hour, self.minute, self.second, self.millis
        )
    }
}

/// The bias as both formats print it: always signed (`+480`, `-60`, `+0`).
pub(crate) fn bias(bias_minutes: i32) -> String {
    format!("{bias_minutes:+}")
}

/// A despooler time in the current-branch style of `won't be processed till`: local time as
/// `M/D/YYYY h:mm:ss AM` followed by the Windows time-zone name (`configmgr-sites` A.1.2, [V-CB];
/// the 2007 style is assumed the same, [R]).
pub(crate) fn despooler_time(now: Timestamp, bias_minutes: i32, zone: &str) -> String {
    let t = LocalTime::of(now, bias_minutes);
    let (hour, half) = match t.hour {
        0 => (12, "AM"),
        h @ 1..=11 => (h, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    format!(
        "{}/{}/{} {hour}:{:02}:{:02} {half} {zone}",
        t.month, t.day, t.year, t.minute, t.second
    )
}

/// The `GMTDATE=` of a STATMSG line, `ctime` style in UTC: `Mon May 16 16:31:21.400 2016`
/// (`configmgr-sites` A.1.2 format notes, [V-CB]).
pub(crate) fn statmsg_gmt(now: Timestamp) -> String {
    let secs = now.unix_millis().div_euclid(1000);
    let millis = now.unix_millis().rem_euclid(1000);
    let dt = OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let weekday = &dt.weekday().to_string()[..3];
    let month = &dt.month().to_string()[..3];
    format!(
        "{weekday} {month} {:02} {:02}:{:02}:{:02}.{millis:03} {}",
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.year()
    )
}

/// One SMS trace line (amtopmgr.log, amtproxymgr.log), without a line terminator:
/// `<text>  $$<COMPONENT><MM-DD-YYYY HH:MM:SS.mmm+BIAS><thread=TID (0xTIDHEX)>`.
pub(crate) fn sms_line(
    text: &str,
    component: &str,
    now: Timestamp,
    bias_minutes: i32,
    thread: u32,
) -> String {
    let t = LocalTime::of(now, bias_minutes);
    format!(
        "{text}  $$<{component}><{} {}{}><thread={thread} (0x{thread:04X})>",
        t.date(),
        t.time(),
        bias(bias_minutes)
    )
}

/// One CMTrace line (oobmgmt.log), without a line terminator:
/// `<![LOG[<text>]LOG]!><time="HH:MM:SS.mmm+BIAS" date="MM-DD-YYYY" component="…" context="" type="1|2|3" thread="TID" file="…">`.
pub(crate) fn cmtrace_line(
    text: &str,
    component: &str,
    now: Timestamp,
    bias_minutes: i32,
    thread: u32,
    type_code: u8,
    source_file: &str,
) -> String {
    let t = LocalTime::of(now, bias_minutes);
    format!(
        "<![LOG[{text}]LOG]!><time=\"{}{}\" date=\"{}\" component=\"{component}\" context=\"\" type=\"{type_code}\" thread=\"{thread}\" file=\"{source_file}\">",
        t.time(),
        bias(bias_minutes),
        t.date()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_line_matches_the_documented_sample_framing() {
        // 12-06-2016 03:11:46.039 local, bias +300 → 08:11:46.039 UTC.
        let now = Timestamp::from_unix_millis(1_481_011_906_039);
        let line = sms_line(
            "---->: An event has occurred, the event code is: 0x1",
            "SMS_SITE_SYSTEM_STATUS_SUMMARIZER",
            now,
            300,
            4840,
        );
        assert_eq!(
            line,
            "---->: An event has occurred, the event code is: 0x1  $$<SMS_SITE_SYSTEM_STATUS_SUMMARIZER><12-06-2016 03:11:46.039+300><thread=4840 (0x12E8)>"
        );
    }

    #[test]
    fn cmtrace_line_matches_the_documented_sample_framing() {
        // 07-14-2016 15:10:04.029 local at -480 (UTC+8) → 07:10:04.029 UTC.
        let now = Timestamp::from_unix_millis(1_468_480_204_029);
        let line = cmtrace_line("x", "TSManager", now, -480, 2724, 3, "instruction.cxx:895");
        assert_eq!(
            line,
            "<![LOG[x]LOG]!><time=\"15:10:04.029-480\" date=\"07-14-2016\" component=\"TSManager\" context=\"\" type=\"3\" thread=\"2724\" file=\"instruction.cxx:895\">"
        );
    }

    #[test]
    fn bias_is_always_signed_and_thread_hex_is_padded() {
        assert_eq!(bias(0), "+0");
        assert_eq!(bias(-60), "-60");
        let line = sms_line("t", "C", Timestamp::EPOCH, 0, 7);
        assert_eq!(
            line,
            "t  $$<C><01-01-1970 00:00:00.000+0><thread=7 (0x0007)>"
        );
        let before = LocalTime::of(Timestamp::EPOCH, 480);
        assert_eq!(
            (before.date(), before.time()),
            ("12-31-1969".to_owned(), "16:00:00.000".to_owned())
        );
    }
}

/// Which framing a parsed line had.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Hash)]
pub enum LineFormat {
    /// SMS trace: `text  $$<COMPONENT><date time+bias><thread=N (0xN)>` (amtopmgr/amtproxymgr).
    SmsTrace,
    /// CMTrace: `<![LOG[text]LOG]!><time=… date=… component=… …>` (oobmgmt).
    CmTrace,
    /// No framing: the line is the message text.
    Bare,
}

/// A log line split into message and framing fields (strings as written; not validated beyond shape).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ParsedLine {
    /// The framing found.
    pub format: LineFormat,
    /// The message text.
    pub message: String,
    /// The component, if framed.
    pub component: Option<String>,
    /// `MM-DD-YYYY`, if framed.
    pub date: Option<String>,
    /// `HH:MM:SS.mmm`, if framed.
    pub time: Option<String>,
    /// The bias in minutes, if framed and numeric.
    pub bias_minutes: Option<i32>,
    /// The decimal thread id, if framed and numeric.
    pub thread: Option<u32>,
}

/// Splits a line in either ConfigMgr format (or none) into message and fields. Never fails: a line
/// without recognisable framing is [`LineFormat::Bare`]. Trailing CR/LF are ignored.
pub fn parse_line(line: &str) -> ParsedLine {
    let line = line.trim_end_matches(['\r', '\n']);
    parse_cmtrace(line)
        .or_else(|| parse_sms(line))
        .unwrap_or_else(|| ParsedLine {
            format: LineFormat::Bare,
            message: line.to_owned(),
            component: None,
            date: None,
            time: None,
            bias_minutes: None,
            thread: None,
        })
}

/// Splits `HH:MM:SS.mmm+BIAS` (or `-BIAS`) at the sign.
fn split_bias(time_bias: &str) -> (String, Option<i32>) {
    match time_bias.rfind(['+', '-']) {
        Some(i) => (time_bias[..i].to_owned(), time_bias[i..].parse().ok()),
        None => (time_bias.to_owned(), None),
    }
}

fn parse_sms(line: &str) -> Option<ParsedLine> {
    let start = line.rfind("$$<")?;
    let message = line[..start].strip_suffix("  ").unwrap_or(&line[..start]);
    // Some components end the message with `~~` (error-catalog §1.1); it is framing, not text.
    let message = message.strip_suffix("~~").unwrap_or(message);
    let rest = &line[start + 3..];
    let (component, rest) = rest.split_once("><")?;
    // despool.log starts every message with `~` (configmgr-sites A.1.2); framing as well.
    let message = if component == "SMS_DESPOOLER" {
        message.strip_prefix('~').unwrap_or(message)
    } else {
        message
    };
    let (date_time, rest) = rest.split_once("><thread=")?;
    let thread_part = rest.strip_suffix('>')?;
    let thread = thread_part.split(' ').next().and_then(|t| t.parse().ok());
    let (date, time_bias) = date_time.split_once(' ')?;
    let (time, bias) = split_bias(time_bias);
    Some(ParsedLine {
        format: LineFormat::SmsTrace,
        message: message.to_owned(),
        component: Some(component.to_owned()),
        date: Some(date.to_owned()),
        time: Some(time),
        bias_minutes: bias,
        thread,
    })
}

/// The value of `name="…"` in CMTrace attributes.
fn attribute<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let start = attrs.find(&key)? + key.len();
    let end = attrs[start..].find('"')? + start;
    Some(&attrs[start..end])
}

fn parse_cmtrace(line: &str) -> Option<ParsedLine> {
    let body = line.strip_prefix("<![LOG[")?;
    let end = body.rfind("]LOG]!>")?;
    let message = &body[..end];
    let attrs = &body[end + "]LOG]!>".len()..];
    let (time, bias) = attribute(attrs, "time").map_or((None, None), |t| {
        let (time, bias) = split_bias(t);
        (Some(time), bias)
    });
    Some(ParsedLine {
        format: LineFormat::CmTrace,
        message: message.to_owned(),
        component: attribute(attrs, "component").map(str::to_owned),
        date: attribute(attrs, "date").map(str::to_owned),
        time,
        bias_minutes: bias,
        thread: attribute(attrs, "thread").and_then(|t| t.parse().ok()),
    })
}

#[cfg(test)]
mod parse_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn framed_lines_parse_back(
            text in "[ -~]{0,80}",
            millis in -10_000_000_000_000i64..10_000_000_000_000,
            bias in -720i32..=720,
            thread in any::<u32>(),
            type_code in 1u8..=3,
        ) {
            prop_assume!(!text.contains("$$<") && !text.contains("]LOG]!>") && !text.ends_with("~~"));
            let now = Timestamp::from_unix_millis(millis);
            let local = LocalTime::of(now, bias);
            let sms = parse_line(&sms_line(&text, "SMS_AMT_OPERATION_MANAGER", now, bias, thread));
            prop_assert_eq!(sms.format, LineFormat::SmsTrace);
            prop_assert_eq!(&sms.message, &text);
            prop_assert_eq!(sms.thread, Some(thread));
            prop_assert_eq!(sms.bias_minutes, Some(bias));
            prop_assert_eq!(sms.date, Some(local.date()));
            prop_assert_eq!(sms.time, Some(local.time()));
            let cm = parse_line(&cmtrace_line(&text, "OobMgmt", now, bias, thread, type_code, "f.cpp:1"));
            prop_assert_eq!(cm.format, LineFormat::CmTrace);
            prop_assert_eq!(&cm.message, &text);
            prop_assert_eq!(cm.component.as_deref(), Some("OobMgmt"));
            prop_assert_eq!(cm.thread, Some(thread));
            prop_assert_eq!(cm.bias_minutes, Some(bias));
        }

        #[test]
        fn parse_line_never_panics(line in "\\PC{0,200}") {
            let parsed = parse_line(&line);
            prop_assert!(parsed.message.len() <= line.len());
        }
    }

    #[test]
    fn bare_lines_stay_bare() {
        let p = parse_line("Error code: 0x80072F8F\r\n");
        assert_eq!(p.format, LineFormat::Bare);
        assert_eq!(p.message, "Error code: 0x80072F8F");
    }
}
