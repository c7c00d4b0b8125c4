//! File access for the device (the only place `std::fs` may appear outside the binaries): the
//! NVRAM state store and reading files a profile names.

pub mod store;

use std::path::Path;

/// Largest file a profile may name (certificates), and largest profile.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Reads a whole file (certificate files named by a profile). Bounded to [`MAX_FILE_BYTES`]; the
/// bound is enforced while reading, so a device file such as `/dev/zero` (size 0 in its metadata,
/// endless when read) fails fast.
pub fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    read_limited(path, MAX_FILE_BYTES)
}

/// Reads at most `max` bytes of `path`; a longer file is an `InvalidData` error.
pub fn read_limited(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)?;
    let mut out = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut out)?;
    if u64::try_from(out.len()).unwrap_or(u64::MAX) > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("file larger than {max} bytes"),
        ));
    }
    Ok(out)
}

#[cfg(all(test, unix))]
mod tests {
    #[test]
    fn an_endless_file_fails_fast() {
        let r = super::read_file(std::path::Path::new("/dev/zero"));
        assert_eq!(
            r.map(|b| b.len()).map_err(|e| e.kind()),
            Err(std::io::ErrorKind::InvalidData)
        );
    }
}
