//! `cargo xtask bench`: runs the criterion benchmarks and reports each measurement as a ratio to
//! the baseline measured beside it in the same run (raw times on these shared machines vary by
//! ±20 %; ratios much less).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

/// (benchmark, baseline) pairs, as `group/function` ids of `crates/amt-wire/benches/codecs.rs`.
const PAIRS: &[(&str, &str)] = &[
    ("hello/parse", "hello/copy"),
    ("wsman/parse", "wsman/tokenize"),
    ("digest/parse_and_verify", "digest/response_math"),
];

/// Runs the benchmarks, then prints one line per pair: both means and their ratio.
pub(crate) fn run(root: &Path, extra: &[&str]) -> Result<()> {
    crate::run(
        Command::new("cargo")
            .args(["bench", "-p", "amt-wire", "--bench", "codecs", "--"])
            .args(extra)
            .current_dir(root),
    )?;
    println!("\nbenchmark vs baseline (means of this run)");
    for (bench, baseline) in PAIRS {
        let b = mean_ns(root, bench)?;
        let base = mean_ns(root, baseline)?;
        println!(
            "{bench:<26} {:>10} = {:>6.1} x {baseline} ({})",
            format_ns(b),
            b / base,
            format_ns(base)
        );
    }
    Ok(())
}

/// The mean estimate, in nanoseconds, that criterion wrote for `id` in its last run.
fn mean_ns(root: &Path, id: &str) -> Result<f64> {
    let path = root
        .join("target/criterion")
        .join(id)
        .join("new/estimates.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    json.pointer("/mean/point_estimate")
        .and_then(serde_json::Value::as_f64)
        .with_context(|| format!("{} has no mean.point_estimate", path.display()))
}

fn format_ns(ns: f64) -> String {
    if ns >= 1_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else if ns >= 1_000.0 {
        format!("{:.2} µs", ns / 1_000.0)
    } else {
        format!("{ns:.0} ns")
    }
}
