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
