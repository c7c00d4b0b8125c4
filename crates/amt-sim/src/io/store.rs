//! The NVRAM state store: one JSON file per device, written atomically (temp file in the same
//! directory, fsync, rename, fsync of the directory), so a crash or `kill -9` leaves either the old
//! or the new state. A torn or corrupt file is reported, never silently replaced by factory state.
//!
//! File format: `{"format":"amt-sim-nvram","version":1,"sha256":"<hex>","state":{…}}` where the
//! hash covers the compact JSON of `state`; a mismatch is [`StoreError::Corrupt`].

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};
use thiserror::Error;

/// File name of the state inside the state directory.
pub const STATE_FILE: &str = "nvram.json";
/// Name of the temporary file used while writing (a leftover one is ignored and overwritten).
pub const TEMP_FILE: &str = "nvram.json.tmp";
const FORMAT: &str = "amt-sim-nvram";
const VERSION: u32 = 1;
/// Largest state file accepted.
pub const MAX_STATE_BYTES: u64 = 16 << 20;

/// Errors of the state store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The directory could not be created or opened.
    #[error("state directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Reading or writing a file failed.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The state file exists but is not a valid, complete state.
    #[error(
        "state file {path} is corrupt ({detail}); refusing to reset to factory state, move it away to start fresh"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The state could not be serialised.
    #[error("cannot serialise state: {0}")]
    Serialize(String),
}

impl StoreError {
    /// Stable id.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Dir { .. } => "store/dir",
            Self::Io { .. } => "store/io",
            Self::Corrupt { .. } => "store/corrupt",
            Self::Serialize(_) => "store/serialize",
        }
    }
}

/// A device's state directory.
#[derive(Clone, Debug)]
pub struct StateStore {
    dir: PathBuf,
}

#[derive(Serialize, serde::Deserialize)]
struct Envelope {
    format: String,
    version: u32,
    sha256: String,
    state: serde_json::Value,
}

impl StateStore {
    /// Opens (creating if needed) the state directory. The directory is made owner-only (0700)
    /// and an existing state file owner-only (0600): NVRAM holds password hashes and keys.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        let dir_err = |source| StoreError::Dir {
            path: dir.clone(),
            source,
        };
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        builder.create(&dir).map_err(dir_err)?;
        let store = Self { dir };
        store.make_private()?;
        Ok(store)
    }

    /// Tightens the directory to 0700 and the state file to 0600 where they are wider.
    #[cfg(unix)]
    fn make_private(&self) -> Result<(), StoreError> {
        use std::os::unix::fs::PermissionsExt as _;
        for (path, mode) in [(self.dir.clone(), 0o700), (self.state_path(), 0o600)] {
            let meta = match fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(StoreError::Io { path, source }),
            };
            if meta.permissions().mode() & 0o077 != 0 {
                fs::set_permissions(&path, fs::Permissions::from_mode(mode))
                    .map_err(|source| StoreError::Io { path, source })?;
            }
        }
        Ok(())
    }

    #[cfg(not(unix))]
    fn make_private(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the state file.
    pub fn state_path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// Loads the saved state; `Ok(None)` if nothing was ever saved.
    pub fn load<T: DeserializeOwned>(&self) -> Result<Option<T>, StoreError> {
        let path = self.state_path();
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let corrupt = |detail: String| StoreError::Corrupt {
            path: path.clone(),
            detail,
        };
        if meta.len() > MAX_STATE_BYTES {
            return Err(corrupt(format!("larger than {MAX_STATE_BYTES} bytes")));
        }
        let bytes = fs::read(&path).map_err(io)?;
        let env: Envelope =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("not JSON: {e}")))?;
        if env.format != FORMAT || env.version != VERSION {
            return Err(corrupt(format!(
                "unknown format {:?} version {}",
                env.format, env.version
            )));
        }
        let canonical = serde_json::to_vec(&env.state).map_err(|e| corrupt(e.to_string()))?;
        if hex::encode(Sha256::digest(&canonical)) != env.sha256 {
            return Err(corrupt("checksum mismatch".into()));
        }
        serde_json::from_value(env.state)
            .map(Some)
            .map_err(|e| corrupt(format!("unexpected content: {e}")))
    }

    /// Saves `state` atomically.
    pub fn save<T: Serialize>(&self, state: &T) -> Result<(), StoreError> {
        let value =
            serde_json::to_value(state).map_err(|e| StoreError::Serialize(e.to_string()))?;
        let canonical =
            serde_json::to_vec(&value).map_err(|e| StoreError::Serialize(e.to_string()))?;
        let env = Envelope {
            format: FORMAT.into(),
            version: VERSION,
            sha256: hex::encode(Sha256::digest(&canonical)),
            state: value,
        };
        let bytes = serde_json::to_vec(&env).map_err(|e| StoreError::Serialize(e.to_string()))?;
        let tmp = self.dir.join(TEMP_FILE);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        // A leftover temporary file (or anything planted there) goes first; the new one is
        // created exclusively (O_EXCL: a symlink is not followed) and owner-only.
        match fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&tmp)(e)),
        }
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp).map_err(io(&tmp))?;
        f.write_all(&bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        let dest = self.state_path();
        fs::rename(&tmp, &dest).map_err(io(&dest))?;
        // Make the rename durable.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))?;
        Ok(())
    }

    /// Removes the saved state (factory reset of the store).
    pub fn clear(&self) -> Result<(), StoreError> {
        let path = self.state_path();
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Io { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    type State = BTreeMap<String, u32>;

    #[test]
    fn round_trip_and_leftover_temp_file() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = StateStore::open(dir.path())?;
        assert_eq!(store.load::<State>()?, None);
        fs::write(dir.path().join(TEMP_FILE), b"{half a wri")?;
        assert_eq!(store.load::<State>()?, None);
        let s: State = BTreeMap::from([("a".into(), 1), ("b".into(), 2)]);
        store.save(&s)?;
        assert_eq!(store.load::<State>()?, Some(s.clone()));
        fs::write(dir.path().join(TEMP_FILE), b"garbage")?;
        assert_eq!(store.load::<State>()?, Some(s));
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn state_directory_and_file_are_private() -> Result<(), Box<dyn std::error::Error>> {
        use std::os::unix::fs::PermissionsExt as _;
        let parent = tempfile::tempdir()?;
        let dir = parent.path().join("state");
        let store = StateStore::open(&dir)?;
        store.save(&BTreeMap::from([("a".to_string(), 1u32)]))?;
        let mode = |p: &Path| fs::metadata(p).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode(&dir)?, 0o700);
        assert_eq!(mode(&store.state_path())?, 0o600);
        // An existing directory and file with wider permissions are tightened on open.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
        fs::set_permissions(store.state_path(), fs::Permissions::from_mode(0o644))?;
        let store = StateStore::open(&dir)?;
        assert_eq!(mode(&dir)?, 0o700);
        assert_eq!(mode(&store.state_path())?, 0o600);
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_temp_path_is_not_followed() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = StateStore::open(dir.path())?;
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep")?;
        std::os::unix::fs::symlink(&victim, dir.path().join(TEMP_FILE))?;
        store.save(&BTreeMap::from([("a".to_string(), 1u32)]))?;
        assert_eq!(fs::read(&victim)?, b"keep");
        assert_eq!(
            store.load::<State>()?,
            Some(BTreeMap::from([("a".into(), 1)]))
        );
        Ok(())
    }

    #[test]
    fn corrupt_or_torn_file_is_an_error() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = StateStore::open(dir.path())?;
        store.save(&BTreeMap::from([("a".to_string(), 1u32)]))?;
        let full = fs::read(store.state_path())?;
        fs::write(store.state_path(), &full[..full.len() / 2])?;
        let e = store.load::<State>();
        assert!(matches!(e, Err(StoreError::Corrupt { .. })), "{e:?}");
        let tampered = String::from_utf8(full)?.replace("\"a\":1", "\"a\":2");
        fs::write(store.state_path(), tampered)?;
        let e = store.load::<State>();
        assert!(
            matches!(&e, Err(StoreError::Corrupt { detail, .. }) if detail.contains("checksum")),
            "{e:?}"
        );
        Ok(())
    }
}
