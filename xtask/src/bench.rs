//! `cargo xtask bench`: runs the criterion benchmarks and reports each measurement as a ratio to
//! the baseline measured beside it in the same run (raw times on these shared machines vary by
//! ±20 %; ratios much less). `cargo xtask bench fleet-memory [N]` measures the fleet memory bar
//! instead (PRODUCT.md §7: 10,000 idle beaconing devices under 1 GiB resident).
//!
//! Forms:
//! - `cargo xtask bench [ARGS]`: every bench target in [`BENCHES`], ARGS going to criterion
//!   (e.g. `--warm-up-time 1 --measurement-time 3`, or a name filter);
//! - `cargo xtask bench codecs|device [ARGS]`: one bench target only;
//! - `cargo xtask bench fleet-memory [N]`: runs `crates/amt-sim/examples/fleet_memory.rs` in
//!   release with N devices (default 10,000), prints its numbers and fails above 1 GiB.

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};

/// Bench targets as (package, `[[bench]]` name).
const BENCHES: &[(&str, &str)] = &[("amt-wire", "codecs"), ("amt-sim", "device")];

/// (benchmark, baseline) pairs, as `group/function` ids of the targets in [`BENCHES`].
const PAIRS: &[(&str, &str)] = &[
    // crates/amt-wire/benches/codecs.rs
    ("hello/parse", "hello/copy"),
    ("wsman/parse", "wsman/tokenize"),
    ("digest/parse_and_verify", "digest/response_math"),
    ("http/decode_request", "http/httparse_head"),
    // crates/amt-sim/benches/device.rs: a full provisioning against the TLS limit (one mutual-auth
    // RSA-2048 handshake), and two of the costs that make up the difference.
    ("provisioning/full", "provisioning/tls_handshake"),
    ("provisioning/setup_config", "provisioning/tls_handshake"),
    ("provisioning/setup_identity", "provisioning/tls_handshake"),
    ("provisioning/pool_key", "provisioning/tls_handshake"),
    ("hello_schedule/replay_24h", "hello_schedule/emit_one"),
];

/// The fleet size of the quality bar.
const FLEET_DEVICES: u64 = 10_000;
/// The quality bar's resident-memory limit: 1 GiB, in KiB.
const FLEET_LIMIT_KIB: u64 = 1024 * 1024;

/// Dispatches `cargo xtask bench ARGS`.
pub(crate) fn run(root: &Path, args: &[&str]) -> Result<()> {
    match args {
        ["fleet-memory"] => fleet_memory(root, FLEET_DEVICES),
        ["fleet-memory", n] => fleet_memory(
            root,
            n.parse()
                .with_context(|| format!("fleet-memory takes a device count, not `{n}`"))?,
        ),
        [name, extra @ ..] if BENCHES.iter().any(|(_, b)| b == name) => {
            let selected: Vec<_> = BENCHES.iter().filter(|(_, b)| b == name).collect();
            criterion(root, &selected, extra)
        }
        extra => criterion(root, &BENCHES.iter().collect::<Vec<_>>(), extra),
    }
}

/// Runs the bench targets, then prints one line per pair measured in this run: both means and
/// their ratio.
fn criterion(root: &Path, benches: &[&(&str, &str)], extra: &[&str]) -> Result<()> {
    let started = run_started();
    for (package, bench) in benches {
        crate::run(
            Command::new("cargo")
                .args(["bench", "-p", package, "--bench", bench, "--"])
                .args(extra)
                .current_dir(root),
        )?;
    }
    println!("\nbenchmark vs baseline (means of this run)");
    for (bench, baseline) in PAIRS {
        match (
            mean_ns(root, bench, started)?,
            mean_ns(root, baseline, started)?,
        ) {
            (Some(b), Some(base)) => println!(
                "{bench:<30} {:>10} = {:>7.2} x {baseline} ({})",
                format_ns(b),
                b / base,
                format_ns(base)
            ),
            _ => println!("{bench:<30} not measured in this run (with {baseline})"),
        }
    }
    Ok(())
}

/// When this run started (estimates written before it are stale: filtered out or from another
/// target).
#[expect(
    clippy::disallowed_methods,
    reason = "xtask compares file times with the wall clock"
)]
fn run_started() -> SystemTime {
    SystemTime::now()
}

/// The mean estimate, in nanoseconds, that criterion wrote for `id` in its last run; `None` if
/// that run was before `since`, or there was none.
fn mean_ns(root: &Path, id: &str, since: SystemTime) -> Result<Option<f64>> {
    let path = root
        .join("target/criterion")
        .join(id)
        .join("new/estimates.json");
    let Ok(meta) = std::fs::metadata(&path) else {
        return Ok(None);
    };
    if meta.modified().is_ok_and(|m| m < since) {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    json.pointer("/mean/point_estimate")
        .and_then(serde_json::Value::as_f64)
        .map(Some)
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

/// The summary line of the fleet example, parsed.
#[derive(Debug, PartialEq, Eq)]
struct FleetSummary {
    devices: u64,
    vm_rss_kib: u64,
    vm_hwm_kib: u64,
    baseline_rss_kib: u64,
    per_device_bytes: u64,
}

/// Finds and parses the `devices=… vm_rss_kib=… …` line in the example's output.
fn parse_fleet_summary(stdout: &str) -> Option<FleetSummary> {
    let line = stdout.lines().rev().find(|l| l.starts_with("devices="))?;
    let field = |name: &str| -> Option<u64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
    };
    Some(FleetSummary {
        devices: field("devices")?,
        vm_rss_kib: field("vm_rss_kib")?,
        vm_hwm_kib: field("vm_hwm_kib")?,
        baseline_rss_kib: field("baseline_rss_kib")?,
        per_device_bytes: field("per_device_bytes")?,
    })
}

/// Runs the fleet example in release with `n` devices and checks the 1 GiB bar (peak resident
/// memory; for another `n`, the baseline plus the per-device cost times 10,000).
fn fleet_memory(root: &Path, n: u64) -> Result<()> {
    let mut cmd = Command::new("cargo");
    cmd.args([
        "run",
        "--release",
        "-p",
        "amt-sim",
        "--example",
        "fleet_memory",
        "--",
    ])
    .arg(n.to_string())
    .current_dir(root);
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let s = parse_fleet_summary(&stdout).context("the example printed no summary line")?;
    let at_bar = if s.devices == FLEET_DEVICES {
        s.vm_hwm_kib
    } else {
        s.baseline_rss_kib + s.per_device_bytes * FLEET_DEVICES / 1024
    };
    let verdict = if at_bar < FLEET_LIMIT_KIB {
        "PASS"
    } else {
        "FAIL"
    };
    println!(
        "\nfleet memory: {} devices, peak {:.1} MiB resident ({} bytes per device); \
         {FLEET_DEVICES} devices {} {:.1} MiB: {verdict} (limit 1024 MiB)",
        s.devices,
        s.vm_hwm_kib as f64 / 1024.0,
        s.per_device_bytes,
        if s.devices == FLEET_DEVICES {
            "peak"
        } else {
            "extrapolated"
        },
        at_bar as f64 / 1024.0,
    );
    if verdict == "FAIL" {
        bail!("fleet memory above 1 GiB");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fleet_summary_line() {
        let out = "phase=baseline vm_rss_kib=2000 vm_hwm_kib=2000\n\
                   devices=10000 vm_rss_kib=90000 vm_hwm_kib=95000 baseline_rss_kib=2000 \
                   per_device_bytes=9011 events=0\n";
        assert_eq!(
            parse_fleet_summary(out),
            Some(FleetSummary {
                devices: 10_000,
                vm_rss_kib: 90_000,
                vm_hwm_kib: 95_000,
                baseline_rss_kib: 2000,
                per_device_bytes: 9011,
            })
        );
        assert_eq!(parse_fleet_summary("devices=1 vm_rss_kib=x\n"), None);
        assert_eq!(parse_fleet_summary(""), None);
    }

    #[test]
    fn every_pair_names_benchmarks_of_the_bench_targets() {
        let root = crate::workspace_root();
        let sources: Vec<String> = BENCHES
            .iter()
            .map(|(package, bench)| {
                let path = root.join(format!("crates/{package}/benches/{bench}.rs"));
                std::fs::read_to_string(&path).unwrap_or_default()
            })
            .collect();
        for (bench, baseline) in PAIRS {
            for id in [bench, baseline] {
                let (group, function) = id.split_once('/').unwrap_or((id, ""));
                let group = format!("benchmark_group(\"{group}\")");
                let function = format!("bench_function(\"{function}\"");
                assert!(
                    sources
                        .iter()
                        .any(|s| s.contains(&group) && s.contains(&function)),
                    "{id} is in no bench target"
                );
            }
        }
    }
}
