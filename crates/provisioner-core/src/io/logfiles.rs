//! Writes the in-memory ConfigMgr logs to a directory: `amtopmgr.log`, `amtproxymgr.log`, `oobmgmt.log`.

use std::io::{self, Write};
use std::path::Path;

use crate::logs::{LogFile, Logs};

/// Writes the three log files into `dir` (created if missing), each atomically: the content goes
/// to a temporary file in the same directory which is then renamed over the target, so a reader
/// never sees a half-written log. Files with no lines are written empty.
pub fn write_log_dir(logs: &Logs, dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for file in LogFile::ALL {
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
