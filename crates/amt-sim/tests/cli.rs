//! The `amt-sim` command line: help text, subcommands and option errors (no sockets).

use std::process::{Command, Output};

fn amt_sim(args: &[&str]) -> std::io::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_amt-sim"))
        .args(args)
        .output()
}

#[test]
fn help_lists_serve_and_fleet() -> std::io::Result<()> {
    let out = amt_sim(&["--help"])?;
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("serve") && text.contains("fleet"), "{text}");
    Ok(())
}

#[test]
fn serve_help_documents_every_option_of_the_product_spec() -> std::io::Result<()> {
    let out = amt_sim(&["serve", "--help"])?;
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--profile",
        "--state-dir",
        "--bind",
        "--http-port",
        "--tls-port",
        "--provision-server",
        "--no-hello",
        "--events",
        "--seed",
        "--idle-timeout",
        "--log",
    ] {
        assert!(
            text.contains(option),
            "{option} missing from serve --help:\n{text}"
        );
    }
    let out = amt_sim(&["fleet", "--help"])?;
    let text = String::from_utf8_lossy(&out.stdout);
    for option in ["--count", "--bind-base", "--per-address", "--profile"] {
        assert!(
            text.contains(option),
            "{option} missing from fleet --help:\n{text}"
        );
    }
    Ok(())
}

#[test]
fn bad_arguments_exit_with_usage_errors() -> std::io::Result<()> {
    // clap's usage errors exit 2.
    for args in [
        &["serve", "--http-port", "70000"][..],
        &["serve", "--bind", "not-an-address"],
        &["fleet"],
        &["frobnicate"],
    ] {
        let out = amt_sim(args)?;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
    Ok(())
}

#[test]
fn invalid_profiles_exit_2_and_impossible_values_are_load_errors() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let cases = [
        ("mac", "network:\n  wired:\n    mac: \"zz:zz\"\n"),
        (
            "status",
            "faults:\n  - on: { method: CommitChanges }\n    do: { http_status: 0 }\n",
        ),
        (
            "wait",
            "faults:\n  - on: { method: CommitChanges }\n    do: { delay: 18446744073709551615 }\n",
        ),
        ("yaml", "uuid: [unclosed\n"),
    ];
    for (name, yaml) in cases {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, yaml)?;
        let p = path.to_string_lossy().into_owned();
        let out = amt_sim(&[
            "serve",
            "--profile",
            &p,
            "--http-port",
            "0",
            "--tls-port",
            "0",
        ])?;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A profile that never ends fails fast instead of being read forever.
    let out = amt_sim(&["serve", "--profile", "/dev/zero", "--http-port", "0"])?;
    assert_eq!(out.status.code(), Some(2));
    Ok(())
}
