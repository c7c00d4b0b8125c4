//! `cargo xtask junit-check`: validates `amt-conformance run --format junit` against a JUnit XML
//! schema with a real validator, both installed from registries into the cache (never committed):
//! the XSDs ship in the crates.io package `junit-report` 0.9.1 (`tests/JUnit.xsd`, the Jenkins
//! junit-4 schema; `tests/JUnit-alternative.xsd`, the Apache Ant schema), the validator is PyPI
//! `xmlschema`.
//!
//! Reports checked: `check-device` against `amt-sim serve --deviation accept-replayed-nc`
//! (passes, a failure with evidence, skips); the catalog plus the harness's deliberately wrong scenario and one whose
//! profile is missing (passes, a failure with a diff, an error), and a `--device` run against a closed port (skips and errors).
//! `JUnit.xsd` must accept every report; the stricter Ant schema's verdict is printed for
//! information (it requires attributes such as `hostname` and `package` that CI readers ignore).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The crates.io package that carries the schemas, pinned.
const XSD_CRATE: (&str, &str) = ("junit-report", "0.9.1");
/// The validator, pinned.
const VALIDATOR: &str = "xmlschema==4.3.2";

/// Runs the check.
pub(crate) fn run(root: &Path) -> Result<()> {
    let cache = crate::interop::cache_dir()?.join("junit");
    std::fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    let xsd_dir = fetch_xsds(&cache)?;
    let python = install_validator(&cache.join("venv"))?;
    let bin = build_conformance(root)?;
    // check-device against amt-sim serve with a deviation: passes, a failure, skips.
    let sim = crate::html::Sim::start(&bin.with_file_name("amt-sim"), &["accept-replayed-nc"])?;
    let reports = [
        (
            "catalog + wrong expectation + missing profile",
            vec![
                "run".to_owned(),
                "--format".into(),
                "junit".into(),
                path(&root.join("scenarios")),
                path(&root.join("crates/conformance/tests/data/wrong-expectation.yaml")),
                path(&root.join("crates/conformance/tests/data/missing-profile.yaml")),
            ],
        ),
        (
            "--device on a closed port",
            vec![
                "run".to_owned(),
                "--format".into(),
                "junit".into(),
                "--device".into(),
                "127.0.0.1:9".into(),
                path(&root.join("scenarios")),
            ],
        ),
        (
            "check-device against amt-sim with a deviation",
            vec![
                "check-device".to_owned(),
                "--format".into(),
                "junit".into(),
                "--tls".into(),
                sim.tls.clone(),
                "--http".into(),
                sim.http.clone(),
                "--admin-password".into(),
                "admin".into(),
                "--personality".into(),
                "amt-11".into(),
            ],
        ),
    ];
    let mut failed = false;
    for (name, args) in &reports {
        let out = Command::new(&bin)
            .args(args)
            .current_dir(root)
            .env_remove("CI")
            .output()
            .with_context(|| format!("running {}", bin.display()))?;
        let xml_path = cache.join(format!("{}.xml", name.replace([' ', '+', '-'], "_")));
        std::fs::write(&xml_path, &out.stdout)
            .with_context(|| format!("writing {}", xml_path.display()))?;
        let xml = String::from_utf8_lossy(&out.stdout);
        let counts = [
            ("testcase", xml.matches("<testcase ").count()),
            ("failure", xml.matches("<failure").count()),
            ("error", xml.matches("<error").count()),
            ("skipped", xml.matches("<skipped").count()),
        ];
        for (xsd, required) in [("JUnit.xsd", true), ("JUnit-alternative.xsd", false)] {
            let verdict = validate(&python, &xsd_dir.join(xsd), &xml_path)?;
            let label = match (&verdict, required) {
                (None, _) => "pass",
                (Some(_), true) => {
                    failed = true;
                    "FAIL"
                }
                (Some(_), false) => "info",
            };
            println!(
                "{label} {name} (exit {}, {}) against junit-report {}/tests/{xsd}",
                out.status.code().unwrap_or(-1),
                counts
                    .iter()
                    .map(|(k, n)| format!("{n} {k}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                XSD_CRATE.1
            );
            if let Some(reason) = verdict {
                println!(
                    "     {}",
                    reason.lines().take(6).collect::<Vec<_>>().join("\n     ")
                );
            }
        }
    }
    if failed {
        bail!("a JUnit report does not validate against JUnit.xsd");
    }
    Ok(())
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// Fetches the `junit-report` package with cargo (a throwaway manifest in the cache) and returns
/// the directory holding its XSDs.
fn fetch_xsds(cache: &Path) -> Result<PathBuf> {
    let dir = cache.join("fetch");
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"junit-xsd-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\n{} = \"={}\"\n\n[workspace]\n",
            XSD_CRATE.0, XSD_CRATE.1
        ),
    )?;
    std::fs::write(dir.join("src/lib.rs"), "")?;
    crate::run(Command::new("cargo").arg("fetch").current_dir(&dir))?;
    let out = Command::new("cargo")
        .args(["metadata", "--format-version", "1"])
        .current_dir(&dir)
        .output()
        .context("cargo metadata")?;
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("parsing cargo metadata")?;
    let manifest = meta["packages"]
        .as_array()
        .and_then(|ps| {
            ps.iter()
                .find(|p| p["name"] == XSD_CRATE.0 && p["version"] == XSD_CRATE.1)
        })
        .and_then(|p| p["manifest_path"].as_str())
        .context("junit-report not found in cargo metadata")?;
    let tests = Path::new(manifest)
        .parent()
        .context("manifest has no directory")?
        .join("tests");
    if !tests.join("JUnit.xsd").is_file() {
        bail!("{} has no JUnit.xsd", tests.display());
    }
    Ok(tests)
}

/// A venv with the validator; returns its python.
fn install_validator(venv: &Path) -> Result<PathBuf> {
    let stamp = venv.join("installed.txt");
    if !std::fs::read_to_string(&stamp).is_ok_and(|s| s == VALIDATOR) {
        crate::run(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
        crate::run(Command::new(venv.join("bin/pip")).args(["install", "--quiet", VALIDATOR]))?;
        std::fs::write(&stamp, VALIDATOR)?;
    }
    Ok(venv.join("bin/python"))
}

/// Builds the release `amt-conformance` and returns its path.
fn build_conformance(root: &Path) -> Result<PathBuf> {
    crate::run(
        Command::new("cargo")
            .args([
                "build",
                "--release",
                "-q",
                "-p",
                "conformance",
                "-p",
                "amt-sim",
            ])
            .current_dir(root),
    )?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    Ok(target.join("release/amt-conformance"))
}

/// `None` when `xml` is valid against `xsd`, else the validator's reason.
fn validate(python: &Path, xsd: &Path, xml: &Path) -> Result<Option<String>> {
    let script = "import sys, xmlschema\n\
                  schema = xmlschema.XMLSchema(sys.argv[1])\n\
                  errors = list(schema.iter_errors(sys.argv[2]))\n\
                  [print(e.reason, 'at', e.path) for e in errors[:5]]\n\
                  sys.exit(1 if errors else 0)\n";
    let out = Command::new(python)
        .args(["-c", script])
        .arg(xsd)
        .arg(xml)
        .output()
        .context("running the validator")?;
    if out.status.success() {
        Ok(None)
    } else {
        Ok(Some(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}
