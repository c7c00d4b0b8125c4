//! The `amt-provision` binary starts, answers `--help` and `--version`, and refuses to pretend it has subcommands.

use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_amt-provision"))
        .args(args)
        .output()
        .expect("run amt-provision")
}

#[test]
fn help_and_version_work() {
    let help = run(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Usage: amt-provision"), "{text}");

    let version = run(&["--version"]);
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        concat!("amt-provision ", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn without_a_subcommand_it_says_so_and_fails() {
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("no subcommand is implemented yet"), "{text}");
}
