//! `cargo xtask interop`: runs real AMT clients' own code against what amt-wire reads and writes.
//!
//! The clients are installed from their registries into a cache outside the repository
//! (`$AMT_SIM_CACHE`, else `$XDG_CACHE_HOME/amt-sim`, else `~/.cache/amt-sim`), at pinned versions.
//! Wire level, today: MeshCentral's WS-MAN response parser and the PyPI `amt` package's response
//! reader read amt-wire's emitted responses and faults (the golden files), and the requests that
//! Intel's `@device-management-toolkit/wsman-messages` and PyPI `amt` build are parsed by amt-wire.
//! Device level (`device.rs`): MeshCentral provisions `amt-sim serve` end to end over loopback,
//! every wsman-messages request is replayed against the provisioned device, and `amtctrl` reads
//! and changes its power state.
//! Prints one pass/fail line per client and fails if any client fails.
//!
//! Usage: `cargo xtask interop [wire] [meshcentral] [wsman] [amtctrl] [--bless]` (no step names:
//! all; `--bless` rewrites `xtask/interop/expected-faults.txt` to the observed wsman answers).

mod device;
mod procs;

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

/// The steps, in the order they run.
const STEPS: &[&str] = &["wire", "meshcentral", "wsman", "amtctrl"];

/// Runs the interop steps named in `args` (all when empty); `root` is the workspace root.
pub(crate) fn run(root: &Path, args: &[&str]) -> Result<()> {
    let started = procs::now();
    let bless = args.contains(&"--bless");
    let args: Vec<&str> = args.iter().copied().filter(|a| *a != "--bless").collect();
    let args = args.as_slice();
    if let Some(bad) = args.iter().find(|a| !STEPS.contains(a)) {
        bail!("unknown interop step {bad:?}; steps: {}", STEPS.join(", "));
    }
    let wants = |step: &str| args.is_empty() || args.contains(&step);
    let cache = cache_dir()?;
    let npm_dir = cache.join("npm");
    let py_dir = cache.join("py");
    install_npm(&npm_dir).context(
        "installing the pinned npm packages failed (registry unreachable? the cache is reused once filled)",
    )?;
    install_pypi(&py_dir).context(
        "installing the pinned PyPI packages failed (registry unreachable? the cache is reused once filled)",
    )?;

    let mut results: Vec<(String, bool, String)> = Vec::new();
    // The wsman step replays the requests the wire step writes.
    if wants("wire") || (wants("wsman") && !root.join("target/interop/requests").exists()) {
        for (name, ok) in wire(root, &npm_dir, &py_dir)? {
            results.push((name.to_string(), ok, String::new()));
        }
    }
    if ["meshcentral", "wsman", "amtctrl"].iter().any(|s| wants(s)) {
        let env = device_env(root, &cache, bless)?;
        let steps: [(&str, device::Step); 3] = [
            ("meshcentral", device::meshcentral),
            ("wsman", device::wsman_messages),
            ("amtctrl", device::amtctrl),
        ];
        for (step, f) in steps {
            if wants(step) {
                let step_start = procs::now();
                let v = f(&env);
                let detail = format!("{} [{:.1}s]", v.detail, step_start.elapsed().as_secs_f64());
                results.push((v.name, v.ok, detail));
            }
        }
    }

    println!();
    for (name, ok, detail) in &results {
        println!("{} {name}", if *ok { "pass" } else { "FAIL" });
        if !detail.is_empty() {
            println!("     {}", detail.replace('\n', "\n     "));
        }
    }
    println!("interop wall time {:.1}s", started.elapsed().as_secs_f64());
    if results.iter().any(|(_, ok, _)| !ok) {
        bail!("interop failed");
    }
    Ok(())
}

/// Builds `amt-sim` and prepares the scratch directory of the device-level steps.
fn device_env(root: &Path, cache: &Path, bless: bool) -> Result<device::Env> {
    crate::run(
        Command::new("cargo")
            .args(["build", "--quiet", "-p", "amt-sim", "--bin", "amt-sim"])
            .current_dir(root),
    )?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let work = root.join("target/interop/device");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    Ok(device::Env {
        root: root.to_path_buf(),
        cache: cache.to_path_buf(),
        bin: target.join("debug/amt-sim"),
        work,
        bless,
    })
}

/// The wire-level checks: real clients' parsers read our golden responses; their requests are
/// written to `target/interop/requests` and parsed by amt-wire.
fn wire(root: &Path, npm_dir: &Path, py_dir: &Path) -> Result<Vec<(&'static str, bool)>> {
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
    Ok(results)
}

/// Where registry installs are cached, outside the repository.
pub(crate) fn cache_dir() -> Result<PathBuf> {
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
