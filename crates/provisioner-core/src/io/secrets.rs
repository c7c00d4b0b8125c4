//! The secrets file (`provisioning-secrets.txt`): the passwords the service point set on devices.
//!
//! Never loses a password: blocks are **appended** (one per device and run; a later run into the
//! same directory keeps the earlier ones), each write is flushed to disk before the caller goes on.
//! Never readable by others: a new file is created owner-only (0600) with `O_EXCL`, so a symlink
//! planted at the path is not followed; an existing symlink or non-regular file is refused; an
//! existing regular file with wider permissions is tightened to 0600 before anything is written.
//!
//! Read back ([`read`], [`recorded_accounts`]) by a later run: a device provisioned by a session
//! that was cut off after `CommitChanges` (or after `SetMEBxPassword`) already has the passwords
//! recorded here, and the retry tries them after the configured accounts. A block whose note
//! starts with `pending` is a write-ahead record ([`WRITE_AHEAD_NOTE`]): written and flushed
//! before the password was sent to the device, so it may or may not have been set.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use amt_wire::hello::DeviceUuid;

use crate::env::AmtAccount;
use crate::session::SecretJournal;

/// File name of the secrets file inside the log directory.
pub const SECRETS_FILE: &str = "provisioning-secrets.txt";

const HEADER: &str = "# Passwords set on AMT devices by amt-provision. Keep secret.\n";

/// Note of a write-ahead block: the password was recorded before it was sent to the device.
pub const WRITE_AHEAD_NOTE: &str = "pending: recorded before it was sent to the device";

/// Largest secrets file [`read`] accepts (a runaway file is an error, not an endless read).
pub const MAX_SECRETS_FILE: u64 = 16 * 1024 * 1024;

/// Why the secrets file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The path is a symlink or not a regular file.
    #[error("{path} is not a regular file (symlink or special file); refusing to write secrets")]
    NotRegular {
        /// The path.
        path: PathBuf,
    },
    /// The file is larger than [`MAX_SECRETS_FILE`].
    #[error("{path} is larger than {MAX_SECRETS_FILE} bytes; refusing to read it")]
    TooLarge {
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
            Self::TooLarge { .. } => "secrets/too-large",
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

/// Reads the blocks of the secrets file at `path`, oldest first; a missing file has none. A
/// symlink or special file is refused like on writing, and the read is bounded
/// ([`MAX_SECRETS_FILE`]).
pub fn read(path: &Path) -> Result<Vec<SecretBlock>, SecretsError> {
    use std::io::Read as _;
    let io_err = |source| SecretsError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(e)),
        Ok(meta) if !meta.file_type().is_file() => {
            return Err(SecretsError::NotRegular {
                path: path.to_path_buf(),
            });
        }
        Ok(_) => {}
    }
    let file = File::open(path).map_err(io_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_SECRETS_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_SECRETS_FILE {
        return Err(SecretsError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(parse(&String::from_utf8_lossy(&bytes)))
}

/// Parses the text of a secrets file (what [`append`] writes): `[device] # note` headers, then
/// `key = value` lines; comments and lines outside a block are skipped.
pub fn parse(text: &str) -> Vec<SecretBlock> {
    let mut blocks: Vec<SecretBlock> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix('[')
            && let Some((device, after)) = rest.split_once(']')
        {
            let note = after
                .trim()
                .strip_prefix('#')
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty());
            blocks.push(SecretBlock {
                device: device.trim().to_owned(),
                note,
                entries: Vec::new(),
            });
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if let (Some(block), Some((key, value))) = (blocks.last_mut(), line.split_once(" = ")) {
            block
                .entries
                .push((key.trim().to_owned(), value.to_owned()));
        }
    }
    blocks
}

/// The accounts a retry should try for `device` (UUID text, compared case-insensitively), newest
/// record first, without repeats: `admin` (or the recorded `admin_user`) with each recorded
/// admin password, and `admin` with each recorded MEBx password (the setup session of AMT ≤ 9
/// authenticates as `admin` with the MEBx password until the admin password is set).
pub fn recorded_accounts(blocks: &[SecretBlock], device: &str) -> Vec<(String, String)> {
    let mut accounts: Vec<(String, String)> = Vec::new();
    for block in blocks
        .iter()
        .rev()
        .filter(|b| b.device.eq_ignore_ascii_case(device))
    {
        let user = block
            .entries
            .iter()
            .find(|(k, _)| k == "admin_user")
            .map_or("admin", |(_, v)| v.as_str());
        for (key, value) in &block.entries {
            let account = match key.as_str() {
                "admin_password" => (user.to_owned(), value.clone()),
                "mebx_password" => ("admin".to_owned(), value.clone()),
                _ => continue,
            };
            if !accounts.contains(&account) {
                accounts.push(account);
            }
        }
    }
    accounts
}

/// The accounts recorded for `device` in the secrets file at `path` by earlier runs, newest
/// first (see [`recorded_accounts`]); none when there is no file.
pub fn recovered_accounts(
    path: &Path,
    device: &DeviceUuid,
) -> Result<Vec<AmtAccount>, SecretsError> {
    Ok(recorded_accounts(&read(path)?, &device.to_string())
        .into_iter()
        .map(|(user, password)| AmtAccount { user, password })
        .collect())
}

/// The secrets file as the sessions' write-ahead journal ([`SecretJournal`]): each record is
/// appended as a block noted [`WRITE_AHEAD_NOTE`] and flushed to disk before the session sends
/// the password.
#[derive(Debug, Clone)]
pub struct SecretsFile(pub PathBuf);

impl SecretJournal for SecretsFile {
    fn write_ahead(&mut self, device: DeviceUuid, key: &str, secret: &str) -> Result<(), String> {
        let block = SecretBlock {
            device: device.to_string(),
            note: Some(WRITE_AHEAD_NOTE.to_owned()),
            entries: vec![(key.to_owned(), secret.to_owned())],
        };
        append(&self.0, &block).map_err(|e| format!("{}: {e}", e.id()))
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
    fn recorded_passwords_are_read_back_newest_first() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(SECRETS_FILE);
        assert_eq!(read(&path)?, Vec::new());
        let device = "8C4E3D5A-0000-4000-8000-0000AB12CD34";
        append(&path, &block(device, "First-P@ss1"))?;
        append(&path, &block("other-device", "Other-P@ss9"))?;
        append(
            &path,
            &SecretBlock {
                device: device.into(),
                note: Some(WRITE_AHEAD_NOTE.into()),
                entries: vec![("mebx_password".into(), "Mebx-P@ss2 = x".into())],
            },
        )?;
        append(&path, &block(device, "First-P@ss1"))?;
        let blocks = read(&path)?;
        assert_eq!(blocks.len(), 4);
        assert_eq!(blocks[2].note.as_deref(), Some(WRITE_AHEAD_NOTE));
        let accounts = recorded_accounts(&blocks, &device.to_ascii_lowercase());
        let pair = |u: &str, p: &str| (u.to_owned(), p.to_owned());
        assert_eq!(
            accounts,
            vec![
                pair("admin", "First-P@ss1"),
                pair("admin", "Mebx-P@ss2 = x")
            ]
        );
        assert_eq!(recorded_accounts(&blocks, "unknown"), Vec::new());
        Ok(())
    }

    #[test]
    fn reading_refuses_symlinks_and_endless_files() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(SECRETS_FILE);
        std::os::unix::fs::symlink("/dev/zero", &path)?;
        assert_eq!(read(&path).map_err(|e| e.id()), Err("secrets/not-regular"));
        let big = dir.path().join("big");
        File::create(&big)?.set_len(MAX_SECRETS_FILE + 1)?;
        assert_eq!(read(&big).map_err(|e| e.id()), Err("secrets/too-large"));
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
