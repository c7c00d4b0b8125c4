//! Project automation, run as `cargo xtask <command>` (the alias lives in `.cargo/config.toml`).
//!
//! Commands: `ci` runs the CI gates exactly as `.ci/run` does; `certs` regenerates the test PKI in
//! `certs/` and `certs --check` verifies the committed files against the table that generates them.
//! The repository's consistency checks ("tidy") are `#[test]`s in `tidy.rs`, run by `cargo test`.

mod certs;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci                 run the CI gates (fmt, clippy, tests, docs) exactly as .ci/run does
  certs [--out DIR]  regenerate the test PKI in certs/ (or DIR), reusing the keys already there
  certs --fresh-keys regenerate with new keys (every thumbprint changes)
  certs --check      verify the committed certs/ against the table that generates them
";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let root = workspace_root();
    match args.as_slice() {
        ["ci"] => {
            let status = Command::new("bash")
                .arg(root.join(".ci/run"))
                .current_dir(&root)
                .status()
                .context("running .ci/run")?;
            if !status.success() {
                bail!(".ci/run failed ({status})");
            }
            Ok(())
        }
        ["certs"] => certs::generate(&root.join("certs"), false),
        ["certs", "--fresh-keys"] => certs::generate(&root.join("certs"), true),
        ["certs", "--out", dir] => certs::generate(Path::new(dir), false),
        ["certs", "--check"] => certs::check(&root.join("certs")),
        ["help" | "--help" | "-h"] | [] => {
            print!("{USAGE}");
            Ok(())
        }
        _ => bail!("unknown arguments {args:?}\n\n{USAGE}"),
    }
}

/// The workspace root: the parent of this crate's manifest directory.
pub(crate) fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}
