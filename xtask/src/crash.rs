//! `cargo xtask crash [--rounds N]`: kills the device at random points of a provisioning and
//! checks that the next session provisions it. Each round: a fresh state directory, `amt-sim
//! serve` on loopback, `amt-provision --device` against it, `kill -9` of the device after a random
//! 0–300 ms, the device restarted on the same NVRAM, `amt-provision` again into the same log
//! directory. Rounds are classified by the NVRAM state at the kill: `pre` (nothing changed yet),
//! `in` (killed between the first stage-1 change and `CommitChanges`) and `post` (committed: the
//! device is provisioned; its admin password is the one the first session recorded, which the
//! retry reads back from the secrets file). Every round's retry must provision the device.
//! Bounded: N rounds (default 20), every process killed at the end of its round.

#![expect(
    clippy::disallowed_methods,
    reason = "a crash test waits a random real time before the kill"
)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(bin: &Path, state: &Path) -> Result<(Killed, String)> {
    let mut child = Command::new(bin.join("amt-sim"))
        .args(["serve", "--http-port", "0", "--tls-port", "0", "--no-hello"])
        .arg("--state-dir")
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting amt-sim")?;
    let out = child.stdout.take().context("no stdout")?;
    let child = Killed(child);
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line)?;
    let tls = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("tls="))
        .context("no tls= in the ready line")?
        .to_owned();
    Ok((child, tls))
}

fn provision(bin: &Path, env: &Path, tls: &str, logs: &Path) -> Result<Child> {
    Command::new(bin.join("amt-provision"))
        .arg("--env")
        .arg(env)
        .args(["--device", tls, "--logs"])
        .arg(logs)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting amt-provision")
}

fn nvram_state(state: &Path) -> String {
    let text = std::fs::read_to_string(state.join("nvram.json")).unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            v["state"]["provisioning_state"]
                .as_str()
                .map(str::to_lowercase)
        })
        .unwrap_or_else(|| "none".into())
}

/// Runs the crash test; `args`: `[--rounds N]`.
pub(crate) fn run(root: &Path, args: &[&str]) -> Result<()> {
    let rounds: u32 = match args {
        [] => 20,
        ["--rounds", n] => n.parse().context("--rounds takes a number")?,
        _ => bail!("usage: cargo xtask crash [--rounds N]"),
    };
    crate::run(
        Command::new("cargo")
            .args([
                "build",
                "--release",
                "-q",
                "-p",
                "amt-sim",
                "-p",
                "provisioner-core",
            ])
            .current_dir(root),
    )?;
    let bin = root.join("target/release");
    let env = root.join("crates/provisioner-core/examples/env/default.yaml");
    let work = tempdir_in_target(root)?;
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let mut tally: std::collections::BTreeMap<String, (u32, u32)> = Default::default();
    for round in 0..rounds {
        // xorshift: a random kill point without another dependency.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let kill_after = Duration::from_millis(seed % 300);
        let dir = work.join(format!("round-{round:03}"));
        let (state, logs) = (dir.join("state"), dir.join("logs"));
        std::fs::create_dir_all(&dir)?;
        let (device, tls) = serve(&bin, &state)?;
        let mut first = Killed(provision(&bin, &env, &tls, &logs)?);
        std::thread::sleep(kill_after);
        drop(device);
        let _ = first.0.wait();
        drop(first);
        let at_kill = nvram_state(&state);
        let (_device, tls) = serve(&bin, &state)?;
        let mut retry = provision(&bin, &env, &tls, &logs)?;
        let ok = retry.wait()?.success();
        let entry = tally.entry(at_kill.clone()).or_default();
        entry.0 += 1;
        entry.1 += u32::from(ok);
        println!(
            "crash: round {round}: killed after {} ms in state {at_kill}; retry {}",
            kill_after.as_millis(),
            if ok { "provisioned" } else { "failed" }
        );
    }
    for (state, (n, ok)) in &tally {
        println!("crash: killed in {state}: {n} round(s), retry provisioned {ok}");
    }
    let _ = std::fs::remove_dir_all(&work);
    let failed: Vec<&str> = tally
        .iter()
        .filter(|(_, (n, ok))| n != ok)
        .map(|(state, _)| state.as_str())
        .collect();
    if !failed.is_empty() {
        bail!(
            "a retry after a kill failed (killed in {})",
            failed.join(", ")
        );
    }
    Ok(())
}

fn tempdir_in_target(root: &Path) -> Result<std::path::PathBuf> {
    let dir = root.join("target/xtask-crash");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
