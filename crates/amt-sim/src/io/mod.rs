//! File access for the device (the only place `std::fs` may appear outside the binaries): the
//! NVRAM state store and reading files a profile names.

pub mod store;

use std::path::Path;

/// Reads a whole file (certificate files named by a profile). Bounded to 1 MiB.
pub fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    const MAX: u64 = 1 << 20;
    let meta = std::fs::metadata(path)?;
    if meta.len() > MAX {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("file larger than {MAX} bytes"),
        ));
    }
    std::fs::read(path)
}
