//! Project automation, run as `cargo xtask <command>` (the alias lives in `.cargo/config.toml`).
//!
//! Commands: `ci` runs the CI gates exactly as `.ci/run` does; `certs` regenerates the test PKI in
//! `certs/` and `certs --check` verifies the committed files against the table that generates them;
//! `interop` runs real AMT clients' code against amt-wire; `bench` runs the benchmarks and reports
//! ratios to same-run baselines; `junit-check` validates the harness's JUnit report with a real
//! XML schema validator; `fuzz` runs the parser fuzz targets; `load` is the bounded loopback load
//! test of one device (crowd, slowloris, good client's p99).
//! The repository's consistency checks ("tidy") are `#[test]`s in `tidy.rs`, run by `cargo test`.

mod bench;
mod certs;
mod crash;
mod html;
mod interop;
mod junit;
mod load;
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
  certs --check [DIR] verify certs/ (or DIR) against the table that generates it
  interop [STEP..]   real clients (npm meshcentral, wsman-messages; PyPI amt), installed into a
                     cache: wire (they read our responses, we parse their requests), meshcentral
                     (provisions amt-sim serve end to end), wsman (every wsman-messages request
                     replayed), amtctrl (power status/off/on); no STEP: all;
                     --bless rewrites xtask/interop/expected-faults.txt to what wsman observed
  bench [ARGS]       run the criterion benchmarks (ARGS go to criterion) and print each one as a
                     ratio to its same-run baseline
  bench codecs|device [ARGS]  only amt-wire's codec or amt-sim's device benchmarks
  bench fleet-memory [N]      N (10000) idle beaconing devices in release: peak RSS vs 1 GiB
  junit-check        validate `amt-conformance run --format junit` against the JUnit XSD (from the
                     crates.io package junit-report) with PyPI xmlschema, both installed into the cache
  load [--clients N] [--slowloris S]  bounded loopback load test of one amt-sim device: N (1000)
                     concurrent Identify clients and S (100) slowloris connections; prints
                     served/failed counts and the good client's p50/p99
  crash [--rounds N] kill -9 the device at random points of N (20) provisionings on loopback and
                     check that the next session provisions it
  html-check         render the HTML reports (check-device with deviations, run with a failure) in
                     headless Chromium (Debian package chromium): the DOM must show the counts;
                     PNG screenshots in target/html-check/
  fuzz [--seconds N] run every fuzz target in fuzz/ for N seconds each (default 60); installs
                     cargo-fuzz if missing and uses RUSTC_BOOTSTRAP=1 on the stable toolchain
";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let root = workspace_root();
    match args.as_slice() {
        ["ci"] => run(Command::new("bash")
            .arg(root.join(".ci/run"))
            .current_dir(&root)),
        ["certs"] => certs::generate(&root.join("certs"), false),
        ["certs", "--fresh-keys"] => certs::generate(&root.join("certs"), true),
        ["certs", "--out", dir] => certs::generate(Path::new(dir), false),
        ["certs", "--check"] => certs::check(&root.join("certs")),
        ["certs", "--check", dir] => certs::check(Path::new(dir)),
        ["interop", steps @ ..] => interop::run(&root, steps),
        ["bench", extra @ ..] => bench::run(&root, extra),
        ["junit-check"] => junit::run(&root),
        ["load", extra @ ..] => load::run(&root, extra),
        ["crash", extra @ ..] => crash::run(&root, extra),
        ["html-check"] => html::run(&root),
        ["fuzz"] => fuzz(&root, 60),
        ["fuzz", "--seconds", n] => fuzz(&root, n.parse().context("--seconds takes a number")?),
        ["help" | "--help" | "-h"] | [] => {
            print!("{USAGE}");
            Ok(())
        }
        _ => bail!("unknown arguments {args:?}\n\n{USAGE}"),
    }
}

/// The fuzz targets in `fuzz/Cargo.toml`, each with the test-data files that seed its corpus.
const FUZZ_TARGETS: &[(&str, &[&str])] = &[
    ("hello", &["crates/amt-wire/testdata"]),
    ("digest_header", &["crates/amt-wire/testdata/digest"]),
    (
        "wsman_envelope",
        &[
            "crates/amt-wire/testdata/wsman/requests",
            "crates/amt-wire/testdata/wsman/golden",
        ],
    ),
    ("http_request", &["crates/amt-wire/testdata/http"]),
];

/// Runs every fuzz target for `seconds` each, its corpus seeded from the test data. cargo-fuzz
/// needs nightly-only sanitizer flags; the pinned stable toolchain accepts them with
/// `RUSTC_BOOTSTRAP=1`.
fn fuzz(root: &Path, seconds: u32) -> anyhow::Result<()> {
    let have_fuzz = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_fuzz {
        run(Command::new("cargo").args(["install", "--locked", "cargo-fuzz"]))?;
    }
    for (target, seed_dirs) in FUZZ_TARGETS {
        let corpus = root.join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&corpus)
            .with_context(|| format!("creating {}", corpus.display()))?;
        for dir in *seed_dirs {
            for entry in std::fs::read_dir(root.join(dir))
                .with_context(|| format!("reading {dir}"))?
                .flatten()
                .filter(|e| e.path().is_file())
            {
                std::fs::copy(entry.path(), corpus.join(entry.file_name()))
                    .with_context(|| format!("seeding {}", corpus.display()))?;
            }
        }
        println!("== fuzz {target} for {seconds} s");
        run(Command::new("cargo")
            .args(["fuzz", "run", target, "--"])
            .arg(format!("-max_total_time={seconds}"))
            .env("RUSTC_BOOTSTRAP", "1")
            .current_dir(root.join("fuzz")))?;
    }
    Ok(())
}

pub(crate) fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

/// The workspace root: the parent of this crate's manifest directory.
pub(crate) fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}
