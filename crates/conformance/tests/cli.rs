//! The `amt-conformance` binary: exit codes 0/1/2 (PRODUCT.md §6), located errors, `schema`,
//! `list`, JSON and JUnit output, transcripts and repro bundles in `--report-dir`, and replaying
//! a bundle.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn run(args: &[&str]) -> Result<Output, std::io::Error> {
    Command::new(env!("CARGO_BIN_EXE_amt-conformance"))
        .args(args)
        .env_remove("AMT_CONFORMANCE_UPDATE")
        .env("CI", "true")
        .output()
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

#[test]
fn help_and_version_work() -> TestResult {
    let help = run(&["--help"])?;
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for sub in ["run", "list", "explain", "schema"] {
        assert!(text.contains(sub), "{text}");
    }
    let version = run(&["--version"])?;
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        concat!("amt-conformance ", env!("CARGO_PKG_VERSION"))
    );
    Ok(())
}

#[test]
fn a_passing_scenario_exits_0_and_a_failing_one_exits_1() -> TestResult {
    let pass = run(&["run", s(&scenario("oob-success-sp2.yaml"))])?;
    assert_eq!(
        pass.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&pass.stderr)
    );
    let out = String::from_utf8_lossy(&pass.stdout);
    assert!(out.contains("1 scenarios: 1 passed, 0 failed"), "{out}");
    let fail = run(&["run", s(&data("wrong-expectation.yaml"))])?;
    assert_eq!(fail.status.code(), Some(1));
    let out = String::from_utf8_lossy(&fail.stdout);
    assert!(out.contains("FAILED wrong-expectation"), "{out}");
    assert!(out.contains("expect.failed_step"), "{out}");
    Ok(())
}

#[test]
fn invalid_input_exits_2_with_file_line_and_column() -> TestResult {
    let out = run(&["run", s(&data("invalid-key.yaml"))])?;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid-key.yaml:6:3"), "{err}");
    assert!(err.contains("failed_stpe"), "{err}");
    let out = run(&["run", s(&data("missing-profile.yaml"))])?;
    assert_eq!(
        out.status.code(),
        Some(2),
        "a scenario that cannot run is invalid input"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ERROR missing-profile") && text.contains("no-such-profile.yaml"),
        "{text}"
    );
    let out = run(&["run", "/nonexistent/scenario.yaml"])?;
    assert_eq!(out.status.code(), Some(2));
    let out = run(&[
        "run",
        s(&scenario("oob-success-sp2.yaml")),
        "--filter",
        "no-such-id",
    ])?;
    assert_eq!(
        out.status.code(),
        Some(2),
        "no scenario to run is invalid input"
    );
    Ok(())
}

#[test]
fn schema_is_json_and_list_names_the_catalog() -> TestResult {
    let out = run(&["schema"])?;
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert!(
        schema
            .get("properties")
            .and_then(|p| p.get("expect"))
            .is_some()
    );
    let out = run(&["list", s(&scenario(""))])?;
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("oob-success-sp2"), "{text}");
    assert!(text.contains("error-catalog A-18"), "{text}");
    Ok(())
}

#[test]
fn json_and_junit_reports() -> TestResult {
    let out = run(&[
        "run",
        "--format",
        "json",
        s(&scenario("a18-root-key-over-2048.yaml")),
        s(&data("wrong-expectation.yaml")),
    ])?;
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(json["version"], 1);
    assert_eq!(json["summary"]["passed"], 1);
    assert_eq!(json["summary"]["failed"], 1);
    assert_eq!(json["scenarios"][0]["status"], "passed");
    assert_eq!(json["scenarios"][1]["status"], "failed");
    assert_eq!(
        json["scenarios"][1]["mismatches"][0]["what"],
        "expect.outcome"
    );
    assert_eq!(
        json["scenarios"][0]["observed"]["sessions"][0]["failed_step"],
        "tls-handshake"
    );
    let out = run(&[
        "run",
        "--format",
        "junit",
        s(&scenario("a18-root-key-over-2048.yaml")),
        s(&data("wrong-expectation.yaml")),
    ])?;
    assert_eq!(out.status.code(), Some(1));
    let xml = String::from_utf8_lossy(&out.stdout);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains("<testcase name=\"wrong-expectation\""),
        "{xml}"
    );
    assert!(xml.contains("<failure"), "{xml}");
    Ok(())
}

#[test]
fn a_failure_leaves_a_bundle_that_replays_the_same_failure() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = run(&[
        "run",
        "--report-dir",
        s(dir.path()),
        s(&data("wrong-expectation.yaml")),
    ])?;
    assert_eq!(out.status.code(), Some(1));
    let bundle = dir.path().join("bundles/wrong-expectation");
    for f in [
        "bundle.json",
        "scenario.yaml",
        "device.yaml",
        "environment.yaml",
        "transcript.txt",
    ] {
        assert!(bundle.join(f).is_file(), "{f} missing in the bundle");
    }
    assert!(
        dir.path()
            .join("transcripts/wrong-expectation.transcript.txt")
            .is_file()
    );
    // Secrets never reach the files: no password of the environment (the default one's are
    // `P@ssw0rd` and `P@ssw0rd-MEBx1`), no private key.
    let mut files = 0;
    for entry in walk(&bundle)? {
        let text = String::from_utf8_lossy(&std::fs::read(&entry)?).into_owned();
        assert!(
            !text.contains("P@ssw0rd"),
            "{} leaks a password",
            entry.display()
        );
        assert!(
            !text.contains("PRIVATE KEY"),
            "{} holds a private key",
            entry.display()
        );
        files += 1;
    }
    assert!(files >= 6, "{files} files");
    let environment = std::fs::read_to_string(bundle.join("environment.yaml"))?;
    assert!(
        environment.contains("TEST-ONLY.key.pem"),
        "keys are referenced"
    );
    let replay = run(&["run", "--format", "json", s(&bundle)])?;
    assert_eq!(
        replay.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&replay.stdout)?;
    let mismatches = json["scenarios"][0]["mismatches"].as_array().map(Vec::len);
    assert_eq!(mismatches, Some(5), "{json}");
    Ok(())
}

/// Every file under `dir`, recursively.
fn walk(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files.extend(walk(&path)?);
        } else {
            files.push(path);
        }
    }
    Ok(files)
}

#[test]
fn a_directory_with_a_broken_file_runs_the_others_and_exits_2() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("good.yaml"),
        "id: good\ntitle: the default device is provisioned\nsource: test\n\
         expect: { outcome: provisioned }\n",
    )?;
    std::fs::write(
        dir.path().join("broken.yaml"),
        "id: broken\ntitle: t\nsource: test\nexpect: { outcom: failed }\n",
    )?;
    let out = run(&["run", s(dir.path())])?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("2 scenarios: 1 passed, 0 failed, 0 skipped, 1 errors"),
        "the summary counts the run scenario and the broken file: {stdout}"
    );
    assert!(stderr.contains("PASS  good"), "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("error: ") && l.contains("broken.yaml:4:11"))
            .count(),
        1,
        "the load error is printed once: {stderr}"
    );
    Ok(())
}

#[test]
fn fail_on_skip_turns_a_skip_into_exit_1() -> TestResult {
    // A 24-hour Hello window needs the virtual clock: skipped over loopback, before anything runs.
    let window = scenario("unknown-uuid-24h.yaml");
    let plain = run(&["run", "--network", s(&window)])?;
    assert_eq!(
        plain.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&plain.stdout)
    );
    assert!(String::from_utf8_lossy(&plain.stdout).contains("1 skipped"));
    let strict = run(&["run", "--network", "--fail-on-skip", s(&window)])?;
    assert_eq!(strict.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&strict.stderr).contains("count as failures (--fail-on-skip)"));
    Ok(())
}

#[test]
fn a_fault_that_never_fires_fails_the_scenario_unless_optional() -> TestResult {
    let dir = tempfile::tempdir()?;
    let scenario = |optional: &str| {
        format!(
            "id: typo\ntitle: a misspelt method never fires\nsource: test\n\
             device:\n  faults:\n    - on: {{ method: CommitChange{optional} }}\n      do: {{ return_value: 1 }}\n\
             expect: {{ outcome: provisioned }}\n"
        )
    };
    let strict = dir.path().join("strict.yaml");
    std::fs::write(&strict, scenario(""))?;
    let out = run(&["run", s(&strict)])?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("device.faults"), "{stdout}");
    assert!(stdout.contains("it never fired"), "{stdout}");
    let optional = dir.path().join("optional.yaml");
    std::fs::write(&optional, scenario(", optional: true"))?;
    let out = run(&["run", s(&optional)])?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    Ok(())
}
