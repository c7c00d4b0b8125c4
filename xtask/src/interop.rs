//! `cargo xtask interop`: runs real AMT clients' own code against what amt-wire reads and writes.
//!
//! The clients are installed from their registries into a cache outside the repository
//! (`$AMT_SIM_CACHE`, else `$XDG_CACHE_HOME/amt-sim`, else `~/.cache/amt-sim`), at pinned versions.
//! Wire level, today: MeshCentral's WS-MAN response parser and the PyPI `amt` package's response
//! reader read amt-wire's emitted responses and faults (the golden files), and the requests that
//! Intel's `@device-management-toolkit/wsman-messages` and PyPI `amt` build are parsed by amt-wire.
//! The device-level suite (real clients provisioning `amt-sim serve`) is not built yet.
//! Prints one pass/fail line per client and fails if any client fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// npm packages, pinned.
const NPM_PACKAGES: &[&str] = &[
    "meshcentral@1.1.55",
    "@device-management-toolkit/wsman-messages@5.14.1",
];

/// PyPI packages, pinned.
const PYPI_PACKAGES: &[&str] = &["amt==0.8.0"];

/// Runs the wire-level interop checks; `root` is the workspace root.
pub(crate) fn run(root: &Path) -> Result<()> {
    let cache = cache_dir()?;
    let npm_dir = cache.join("npm");
    let py_dir = cache.join("py");
    install_npm(&npm_dir)?;
    install_pypi(&py_dir)?;

    let golden = root.join("crates/amt-wire/testdata/wsman/golden");
    let corpus = root.join("target/interop/requests");
    if corpus.exists() {
        std::fs::remove_dir_all(&corpus)
            .with_context(|| format!("clearing {}", corpus.display()))?;
    }
    std::fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;

    let mut results = Vec::new();
    let node = Command::new("node")
        .arg(root.join("xtask/interop/wire.js"))
        .arg(&golden)
        .arg(&corpus)
        .env("NODE_PATH", npm_dir.join("node_modules"))
        .status()
        .context("running node (is Node.js installed?)")?;
    results.push((
        "npm meshcentral (amt-xml.js reads our responses) + wsman-messages (requests)",
        node.success(),
    ));

    let python = Command::new(py_dir.join("bin/python"))
        .arg(root.join("xtask/interop/wire.py"))
        .arg(&golden)
        .arg(&corpus)
        .status()
        .context("running the interop venv's python")?;
    results.push((
        "PyPI amt (reads our responses, builds requests)",
        python.success(),
    ));

    let parse = Command::new("cargo")
        .args([
            "run",
            "--quiet",
            "-p",
            "amt-wire",
            "--example",
            "parse_envelopes",
            "--",
        ])
        .arg(&corpus)
        .current_dir(root)
        .status()
        .context("running amt-wire's parse_envelopes example")?;
    results.push((
        "amt-wire parses every request the clients built",
        parse.success(),
    ));

    println!();
    for (name, ok) in &results {
        println!("{} {name}", if *ok { "pass" } else { "FAIL" });
    }
    if results.iter().any(|(_, ok)| !ok) {
        bail!("interop failed");
    }
    Ok(())
}

/// Where registry installs are cached, outside the repository.
fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("AMT_SIM_CACHE") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("amt-sim"));
    }
    let home = std::env::var_os("HOME").context("neither AMT_SIM_CACHE nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cache/amt-sim"))
}

/// Installs [`NPM_PACKAGES`] into `dir` unless the same list is already there.
fn install_npm(dir: &Path) -> Result<()> {
    let stamp = dir.join("installed.txt");
    let want = NPM_PACKAGES.join("\n");
    if std::fs::read_to_string(&stamp).is_ok_and(|have| have == want) {
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let manifest = dir.join("package.json");
    if !manifest.exists() {
        std::fs::write(&manifest, "{\"private\": true}\n")
            .with_context(|| format!("writing {}", manifest.display()))?;
    }
    crate::run(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--ignore-scripts"])
            .args(NPM_PACKAGES)
            .current_dir(dir),
    )?;
    std::fs::write(&stamp, want).with_context(|| format!("writing {}", stamp.display()))
}

/// Creates a virtualenv in `dir` with [`PYPI_PACKAGES`] unless the same list is already there.
fn install_pypi(dir: &Path) -> Result<()> {
    let stamp = dir.join("installed.txt");
    let want = PYPI_PACKAGES.join("\n");
    if std::fs::read_to_string(&stamp).is_ok_and(|have| have == want) {
        return Ok(());
    }
    crate::run(Command::new("python3").args(["-m", "venv"]).arg(dir))?;
    crate::run(
        Command::new(dir.join("bin/pip"))
            .args(["install", "--quiet"])
            .args(PYPI_PACKAGES),
    )?;
    std::fs::write(&stamp, want).with_context(|| format!("writing {}", stamp.display()))
}
