//! The `amt-provision` binary: `--help` and usage errors. Its `--device` and `--listen` modes
//! against a simulated device are tested in the harness (`crates/conformance/tests/provisioner/cli.rs`).

use std::path::Path;
use std::process::Command;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_amt-provision"))
}

#[test]
fn help_lists_the_modes() -> TestResult {
    let out = bin().arg("--help").output()?;
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout)?;
    for flag in [
        "--env",
        "--chain",
        "--key",
        "--account",
        "--logs",
        "--device",
        "--listen",
        "--once",
    ] {
        assert!(text.contains(flag), "{flag} missing from --help:\n{text}");
    }
    Ok(())
}

#[test]
fn no_mode_is_a_usage_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = bin()
        .current_dir(repo_root())
        .args(["--logs"])
        .arg(dir.path())
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    Ok(())
}

fn repo_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
