//! Writes the in-memory ConfigMgr logs to a directory: `amtopmgr.log`, `amtproxymgr.log`, `oobmgmt.log`
//! (whole files with [`write_log_dir`], or appended as they grow with [`LogAppender`]).

use std::io::{self, Write};
use std::path::Path;

use crate::logs::{LogFile, Logs};

/// Writes the three log files into `dir` (created if missing), each atomically: the content goes
/// to a temporary file in the same directory which is then renamed over the target, so a reader
/// never sees a half-written log. Files with no lines are written empty.
pub fn write_log_dir(logs: &Logs, dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for file in LogFile::SERVICE_POINT {
        let target = dir.join(file.file_name());
        let tmp = dir.join(format!(".{}.tmp", file.file_name()));
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(logs.render(file).as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &target)?;
    }
    Ok(())
}

/// Appends what the logs and events gained since the last call to `amtopmgr.log`,
/// `amtproxymgr.log`, `oobmgmt.log` and `events.jsonl` in a directory: the cost of a write is the
/// new lines, not the whole log, and earlier runs' lines in the same directory are kept (ConfigMgr
/// appends to its logs too).
#[derive(Debug)]
pub struct LogAppender {
    dir: std::path::PathBuf,
    records_written: u64,
    events_written: usize,
}

/// File name of the event stream in the log directory.
pub const EVENTS_FILE: &str = "events.jsonl";

impl LogAppender {
    /// A writer into `dir` (created if missing).
    pub fn new(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            records_written: 0,
            events_written: 0,
        })
    }

    /// Appends the new log lines and events.
    pub fn append(&mut self, logs: &Logs, events: &crate::events::EventLog) -> io::Result<()> {
        for file in LogFile::SERVICE_POINT {
            let text = logs.render_since(file, self.records_written);
            append_file(&self.dir.join(file.file_name()), &text)?;
        }
        self.records_written = logs.emitted();
        append_file(
            &self.dir.join(EVENTS_FILE),
            &events.json_lines_since(self.events_written),
        )?;
        self.events_written = events.0.len();
        Ok(())
    }
}

/// Appends `text` (creating the file; nothing to do for empty text but creating it).
fn append_file(path: &Path, text: &str) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if !text.is_empty() {
        f.write_all(text.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use amt_wire::time::Timestamp;

    use super::*;
    use crate::logs::{LogConfig, ids};

    #[test]
    fn the_appender_adds_only_new_lines_and_keeps_earlier_runs() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let now = Timestamp::from_unix_secs(1_767_225_600);
        let mut logs = Logs::new(LogConfig::default());
        let events = crate::events::EventLog::new();
        let mut w = LogAppender::new(dir.path())?;
        logs.emit(
            ids::PROVISION_START,
            &[
                ("uuid", "u1"),
                ("fqdn", "a.b"),
                ("target", "t"),
                ("name", "n"),
                ("cert_id", "1"),
            ],
            now,
        )
        .map_err(io::Error::other)?;
        w.append(&logs, &events)?;
        w.append(&logs, &events)?;
        logs.emit(
            ids::PROVISION_START,
            &[
                ("uuid", "u2"),
                ("fqdn", "a.b"),
                ("target", "t"),
                ("name", "n"),
                ("cert_id", "1"),
            ],
            now,
        )
        .map_err(io::Error::other)?;
        w.append(&logs, &events)?;
        // A second run into the same directory.
        let mut second = LogAppender::new(dir.path())?;
        second.append(&logs, &events)?;
        let mut all = String::new();
        for file in LogFile::SERVICE_POINT {
            all.push_str(&std::fs::read_to_string(dir.path().join(file.file_name()))?);
        }
        assert_eq!(all.matches("u1").count(), 2, "{all}");
        assert_eq!(all.matches("u2").count(), 2, "{all}");
        assert_eq!(all.lines().count(), 4, "{all}");
        Ok(())
    }
}
