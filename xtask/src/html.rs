//! `cargo xtask html-check`: renders the HTML reports in headless Chromium (Debian package
//! `chromium`, not installed by this step) and checks that the page shows the counts.
//!
//! Reports: `check-device --format html` against `amt-sim serve` with two deviations (so the page
//! has failures with evidence), and `run --format html` of the catalog plus the harness's
//! deliberately wrong scenario. For each: `chromium --headless --dump-dom` must contain the count
//! line of the JSON report (the DOM after rendering, no script involved), and `--screenshot`
//! writes a PNG of the page and of its `#only-fail` filter into `target/html-check/` to look at.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

/// Deviations the served device gets, so that the report has failures.
const DEVIATIONS: [&str; 2] = ["accept-replayed-nc", "optimized-enum-keeps-context"];

/// Runs the check.
pub(crate) fn run(root: &Path) -> Result<()> {
    let chromium = which_chromium()?;
    crate::run(
        Command::new("cargo")
            .args(["build", "-q", "-p", "conformance", "-p", "amt-sim"])
            .current_dir(root),
    )?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let out = target.join("html-check");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let conformance = target.join("debug/amt-conformance");
    let sim = Sim::start(&target.join("debug/amt-sim"), &DEVIATIONS)?;

    let device_args = |format: &str| {
        vec![
            "check-device".to_owned(),
            "--tls".into(),
            sim.tls.clone(),
            "--http".into(),
            sim.http.clone(),
            "--admin-password".into(),
            "admin".into(),
            "--allow-reset".into(),
            "--personality".into(),
            "amt-11".into(),
            "--format".into(),
            format.into(),
        ]
    };
    let html = output(&conformance, &device_args("html"), root)?;
    let json = output(&conformance, &device_args("json"), root)?;
    drop(sim);
    let doc: serde_json::Value = serde_json::from_str(&json).context("check-device JSON")?;
    let s = &doc["summary"];
    let expected = format!(
        "{} passed, {} failed, {} skipped",
        s["passed"], s["failed"], s["skipped"]
    );
    let mut failed = false;
    failed |= !check_page(
        &chromium,
        &out,
        "check-device",
        &html,
        &[&expected, "DIGEST-07", "ENUM-03"],
    )?;

    let scenario_args = |format: &str| {
        vec![
            "run".to_owned(),
            "--format".into(),
            format.into(),
            root.join("scenarios").display().to_string(),
            root.join("crates/conformance/tests/data/wrong-expectation.yaml")
                .display()
                .to_string(),
        ]
    };
    let html = output(&conformance, &scenario_args("html"), root)?;
    let json = output(&conformance, &scenario_args("json"), root)?;
    let doc: serde_json::Value = serde_json::from_str(&json).context("run JSON")?;
    let s = &doc["summary"];
    let expected = format!(
        "{} passed, {} failed, {} skipped, {} errors",
        s["passed"], s["failed"], s["skipped"], s["errors"]
    );
    failed |= !check_page(&chromium, &out, "run", &html, &[&expected])?;
    if failed {
        bail!("an HTML report did not render its counts (see above)");
    }
    println!(
        "html-check: both reports render their counts; screenshots in {}",
        out.display()
    );
    Ok(())
}

fn which_chromium() -> Result<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(o) = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            && o.status.success()
        {
            let p = String::from_utf8_lossy(&o.stdout).trim().to_owned();
            if !p.is_empty() {
                return Ok(PathBuf::from(p));
            }
        }
    }
    bail!("chromium not found: install the Debian package (apt-get install -y chromium)")
}

fn output(bin: &Path, args: &[String], root: &Path) -> Result<String> {
    let out = Command::new(bin)
        .args(args)
        .current_dir(root)
        .env_remove("CI")
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    if !matches!(out.status.code(), Some(0 | 1)) {
        bail!(
            "{} {args:?} exited {:?}: {}",
            bin.display(),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Writes the page, dumps its DOM and screenshots it (whole page and the failed-only filter).
fn check_page(
    chromium: &Path,
    out: &Path,
    name: &str,
    html: &str,
    needles: &[&str],
) -> Result<bool> {
    let file = out.join(format!("{name}.html"));
    std::fs::write(&file, html).with_context(|| format!("writing {}", file.display()))?;
    let url = format!("file://{}", file.display());
    let base = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
    ];
    let dom = Command::new(chromium)
        .args(base)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .context("chromium --dump-dom")?;
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    std::fs::write(out.join(format!("{name}.dom.html")), dom_text.as_bytes())?;
    let mut ok = true;
    for needle in needles {
        let found = dom_text.contains(needle);
        println!("html-check {name}: DOM contains {needle:?}: {found}");
        ok &= found;
    }
    for (suffix, fragment) in [("", ""), ("-only-fail", "#only-fail")] {
        let png = out.join(format!("{name}{suffix}.png"));
        let status = Command::new(chromium)
            .args(base)
            .arg("--window-size=1280,1600")
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("{url}{fragment}"))
            .output()
            .context("chromium --screenshot")?;
        let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
        println!(
            "html-check {name}: screenshot {} ({size} bytes, exit {:?})",
            png.display(),
            status.status.code()
        );
        ok &= size > 0;
    }
    Ok(ok)
}

/// `amt-sim serve` on OS-chosen loopback ports with [`DEVIATIONS`]; stopped when dropped.
pub(crate) struct Sim {
    child: Child,
    /// The TLS address.
    pub(crate) tls: String,
    /// The HTTP address.
    pub(crate) http: String,
}

impl Sim {
    pub(crate) fn start(bin: &Path, deviations: &[&str]) -> Result<Self> {
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--http-port", "0", "--tls-port", "0", "--no-hello"]);
        for d in deviations {
            cmd.args(["--deviation", d]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("amt-sim stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .context("reading the ready line")?;
        let field = |key: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .map(str::to_owned)
        };
        match (field("tls="), field("http=")) {
            (Some(tls), Some(http)) => Ok(Self { child, tls, http }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("amt-sim did not print its ready line: {line:?}")
            }
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
