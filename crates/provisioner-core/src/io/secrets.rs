//! The secrets file (`provisioning-secrets.txt`): the passwords the service point set on devices.
//!
//! Never loses a password: blocks are **appended** (one per device and run; a later run into the
//! same directory keeps the earlier ones), each write is flushed to disk before the caller goes on.
//! Never readable by others: a new file is created owner-only (0600) with `O_EXCL`, so a symlink
//! planted at the path is not followed; an existing symlink or non-regular file is refused; an
//! existing regular file with wider permissions is tightened to 0600 before anything is written.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// File name of the secrets file inside the log directory.
pub const SECRETS_FILE: &str = "provisioning-secrets.txt";

const HEADER: &str = "# Passwords set on AMT devices by amt-provision. Keep secret.\n";

/// Why the secrets file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The path is a symlink or not a regular file.
    #[error("{path} is not a regular file (symlink or special file); refusing to write secrets")]
    NotRegular {
        /// The path.
        path: PathBuf,
    },
    /// I/O error.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Cause.
        source: io::Error,
    },
}

impl SecretsError {
    /// Stable id.
    pub fn id(&self) -> &'static str {
        match self {
            Self::NotRegular { .. } => "secrets/not-regular",
            Self::Io { .. } => "secrets/io",
        }
    }
}

/// One device's passwords.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretBlock {
    /// The device (UUID text).
    pub device: String,
    /// A comment after the device (e.g. `pending: set before SetMEBxPassword`).
    pub note: Option<String>,
    /// `key = value` lines.
    pub entries: Vec<(String, String)>,
}

impl SecretBlock {
    fn render(&self) -> String {
        let mut text = format!("[{}]", self.device);
        if let Some(note) = &self.note {
            text.push_str(&format!(" # {}", note.replace(['\r', '\n'], " ")));
        }
        text.push('\n');
        for (k, v) in &self.entries {
            text.push_str(&format!("{k} = {}\n", v.replace(['\r', '\n'], " ")));
        }
        text
    }
}

/// Appends `block` to the secrets file at `path` (see the module docs).
pub fn append(path: &Path, block: &SecretBlock) -> Result<(), SecretsError> {
    let io_err = |source| SecretsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let (mut file, new) = open_private(path)?;
    let mut text = String::new();
    if new {
        text.push_str(HEADER);
    }
    text.push_str(&block.render());
    file.write_all(text.as_bytes()).map_err(io_err)?;
    file.sync_all().map_err(io_err)
}

/// Opens for appending, creating owner-only with `O_EXCL`; `true` when the file is new.
fn open_private(path: &Path) -> Result<(File, bool), SecretsError> {
    let io_err = |source| SecretsError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut options = OpenOptions::new();
            options.append(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                options.mode(0o600);
            }
            let file = options.open(path).map_err(io_err)?;
            Ok((file, true))
        }
        Err(e) => Err(io_err(e)),
        Ok(meta) if !meta.file_type().is_file() => Err(SecretsError::NotRegular {
            path: path.to_path_buf(),
        }),
        Ok(before) => {
            let file = OpenOptions::new().append(true).open(path).map_err(io_err)?;
            let meta = file.metadata().map_err(io_err)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
                // The path may have been swapped for a symlink since the check.
                if !meta.file_type().is_file()
                    || meta.dev() != before.dev()
                    || meta.ino() != before.ino()
                {
                    return Err(SecretsError::NotRegular {
                        path: path.to_path_buf(),
                    });
                }
                if meta.permissions().mode() & 0o077 != 0 {
                    file.set_permissions(std::fs::Permissions::from_mode(0o600))
                        .map_err(io_err)?;
                }
            }
            #[cfg(not(unix))]
            let _ = (meta, before);
            Ok((file, false))
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn block(device: &str, password: &str) -> SecretBlock {
        SecretBlock {
            device: device.into(),
            note: None,
            entries: vec![("admin_password".into(), password.into())],
        }
    }

    #[test]
    fn a_second_run_keeps_the_first_runs_secrets() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(SECRETS_FILE);
        append(&path, &block("dev-1", "First-P@ss1"))?;
        append(&path, &block("dev-1", "Second-P@ss2"))?;
        let text = std::fs::read_to_string(&path)?;
        assert!(
            text.contains("First-P@ss1") && text.contains("Second-P@ss2"),
            "{text}"
        );
        assert_eq!(text.matches(HEADER).count(), 1);
        assert_eq!(
            std::fs::metadata(&path)?.permissions().mode() & 0o777,
            0o600
        );
        Ok(())
    }

    #[test]
    fn a_symlink_is_refused_and_its_target_untouched() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep")?;
        let path = dir.path().join(SECRETS_FILE);
        std::os::unix::fs::symlink(&victim, &path)?;
        let r = append(&path, &block("d", "P@ssw0rd-1"));
        assert_eq!(r.map_err(|e| e.id()), Err("secrets/not-regular"));
        assert_eq!(std::fs::read(&victim)?, b"keep");
        // A dangling symlink is not followed either.
        let dangling = dir.path().join("other");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling)?;
        assert!(append(&dangling, &block("d", "P@ssw0rd-1")).is_err());
        assert!(!dir.path().join("nowhere").exists());
        Ok(())
    }

    #[test]
    fn an_existing_world_readable_file_is_tightened() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(SECRETS_FILE);
        std::fs::write(&path, "# old\n")?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        append(&path, &block("d", "P@ssw0rd-1"))?;
        assert_eq!(
            std::fs::metadata(&path)?.permissions().mode() & 0o777,
            0o600
        );
        assert!(std::fs::read_to_string(&path)?.starts_with("# old\n"));
        Ok(())
    }
}
