//! The device-level interop suite: real clients against `amt-sim serve` on loopback.
//!
//! 1. MeshCentral (npm) provisions a device end to end: Hello → TLS-PKI ACM activation → TLS
//!    setup → commit → its management reconnect over TLS with the new admin password.
//! 2. Every request Intel's wsman-messages library builds is replayed with digest against the
//!    provisioned device; each answer is classified and compared with `expected-faults.txt`.
//! 3. PyPI `amt`'s `amtctrl` reads and changes the power state of the provisioned device.
//!
//! Steps 2 and 3 run a device provisioned by its profile (`xtask/interop/provisioned.yaml`: post
//! state, admin password set), so each step runs alone; step 1 checks that MeshCentral's new admin
//! password works on the device it provisioned.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};

use super::procs::{Proc, free_port, loopback_with_free, now};

/// The admin password MeshCentral sets (its device group's `amt.password`); strong as AMT wants.
pub(crate) const ADMIN_PASSWORD: &str = "Amt-Sim-Admin1!";
/// The MEBx password MeshCentral sets.
const MEBX_PASSWORD: &str = "Mebx-Sim-Pass1!";
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Paths the suite works with.
pub(crate) struct Env {
    /// The workspace root.
    pub(crate) root: PathBuf,
    /// The registry cache (npm and venv installs, MeshCentral's data directory).
    pub(crate) cache: PathBuf,
    /// The built `amt-sim` binary.
    pub(crate) bin: PathBuf,
    /// Scratch space for this run: logs, state directories, event streams.
    pub(crate) work: PathBuf,
    /// Rewrite `expected-faults.txt` to the observed answers instead of failing on differences.
    pub(crate) bless: bool,
}

impl Env {
    fn npm(&self) -> PathBuf {
        self.cache.join("npm")
    }

    /// `--profile` of a device that is already provisioned.
    fn provisioned_profile(&self) -> Vec<String> {
        vec![
            "--profile".into(),
            self.root
                .join("xtask/interop/provisioned.yaml")
                .display()
                .to_string(),
        ]
    }
}

/// A running `amt-sim serve` and what its ready line said.
pub(crate) struct Sim {
    proc: Proc,
    uuid: String,
    http: SocketAddr,
    tls: SocketAddr,
}

impl Sim {
    /// Starts `amt-sim serve ARGS` and waits for its ready line.
    fn start(env: &Env, name: &str, args: &[String]) -> Result<Self> {
        let mut cmd = Command::new(&env.bin);
        cmd.arg("serve").args(args).env("RUST_LOG", "info");
        let mut proc = Proc::spawn(name, &mut cmd, &env.work.join(format!("{name}.log")))?;
        let (_, line) = proc.wait_for(0, &["ready "], Duration::from_secs(30))?;
        let field = |key: &str| {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_string)
                .with_context(|| format!("no {key}= in ready line {line:?}"))
        };
        Ok(Self {
            uuid: field("uuid")?,
            http: field("http")?.parse().context("http= address")?,
            tls: field("tls")?.parse().context("tls= address")?,
            proc,
        })
    }

    /// SIGTERM; fails unless it exits cleanly.
    fn stop(mut self) -> Result<()> {
        ensure!(
            self.proc.terminate(Duration::from_secs(5)),
            "amt-sim did not exit cleanly on SIGTERM\n{}",
            self.proc.tail(10)
        );
        Ok(())
    }
}

/// Connects to `addr`, retrying refused connections until `limit`.
fn connect_retry(addr: SocketAddr, limit: Duration) -> Result<TcpStream> {
    let start = now();
    loop {
        match TcpStream::connect(addr) {
            Ok(s) => return Ok(s),
            Err(_) if start.elapsed() < limit => super::procs::pause(Duration::from_millis(100)),
            Err(e) => return Err(e).with_context(|| format!("connecting to {addr}")),
        }
    }
}

/// A device-level step.
pub(crate) type Step = fn(&Env) -> Verdict;

/// One client's verdict and what it measured.
pub(crate) struct Verdict {
    pub(crate) name: String,
    pub(crate) ok: bool,
    pub(crate) detail: String,
}

impl Verdict {
    /// A pass with the step's detail line, or a fail with the whole error chain.
    fn from_result(name: String, result: Result<String>) -> Self {
        match result {
            Ok(detail) => Self {
                name,
                ok: true,
                detail,
            },
            Err(e) => Self {
                name,
                ok: false,
                detail: format!("{e:#}"),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 1. MeshCentral

/// MeshCentral provisions a fresh device end to end; its console, the device's event stream and a
/// digest request with the new admin password must all agree.
pub(crate) fn meshcentral(env: &Env) -> Verdict {
    let name = "npm meshcentral@1.1.55: Hello -> TLS-PKI ACM activation -> TLS -> commit -> management reconnect".to_string();
    Verdict::from_result(name, meshcentral_inner(env))
}

fn meshcentral_inner(env: &Env) -> Result<String> {
    // MeshCentral connects back to port 16993 of the Hello's source, hard-coded: find a loopback
    // address where it is free, and send the Hello from that address.
    let device_ip = loopback_with_free(&[16993])?;
    let data = env.cache.join("meshcentral-data");
    std::fs::create_dir_all(&data)?;
    // Fresh databases and logs each run; the server certificates MeshCentral made on its first
    // start (the slow part) are kept.
    for entry in std::fs::read_dir(&data)? {
        let path = entry?.path();
        let file = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default();
        if file.starts_with("meshcentral") && file.ends_with(".db")
            || file.ends_with(".log")
            || file == "mesherrors.txt"
        {
            std::fs::remove_file(&path)?;
        }
    }
    let hello_port = free_port(LOCALHOST)?;
    let web_port = free_port(LOCALHOST)?;
    let interop = env.root.join("xtask/interop/meshcentral");
    crate::run(
        Command::new("node")
            .arg(interop.join("setup.js"))
            .arg(&data)
            .arg(env.root.join("certs"))
            .arg(hello_port.to_string())
            .arg(web_port.to_string())
            .arg(ADMIN_PASSWORD)
            .arg(MEBX_PASSWORD)
            .stdout(Stdio::null()),
    )?;

    let started = now();
    let mut mc = Proc::spawn(
        "meshcentral",
        Command::new("node")
            .arg("-r")
            .arg(interop.join("preload.js"))
            .arg(env.npm().join("node_modules/meshcentral"))
            .arg("--datapath")
            .arg(&data)
            .args(["--debug", "amtsca,amt,cert"])
            .env("MC_BIND", "127.0.0.1")
            .env_remove("NODE_PATH")
            .current_dir(env.npm()),
        &env.work.join("meshcentral.log"),
    )?;
    mc.wait_for(
        0,
        &["Intel(R) AMT provisioning server running on port"],
        Duration::from_secs(240),
    )?;
    let mc_start = started.elapsed();

    // Smoke test of the Hello listener with the repository's sample Hello (real firmware hashes,
    // none of them our test root): MeshCentral must parse it and find no matching certificate.
    let mark = mc.mark();
    let sample = std::fs::read(
        env.root
            .join("crates/amt-wire/testdata/hello-pki-23-sha256.bin"),
    )?;
    // MeshCentral prints its "running" line before the listener is bound (the loopback patch
    // makes listen resolve a host first): retry the connection for a while.
    let mut s = connect_retry(
        SocketAddr::new(LOCALHOST, hello_port),
        Duration::from_secs(15),
    )?;
    s.write_all(&sample)?;
    drop(s);
    let (which, line) = mc.wait_for(
        mark,
        &[
            "Unable to find a matching ACM activation certificate",
            "Got invalid hello",
        ],
        Duration::from_secs(20),
    )?;
    ensure!(which == 0, "sample Hello: {line}");

    // The device.
    let state = env.work.join("mc-state");
    if state.exists() {
        std::fs::remove_dir_all(&state)?;
    }
    std::fs::create_dir_all(&state)?;
    let events = env.work.join("mc-events.jsonl");
    let mark = mc.mark();
    let activation = now();
    let sim = Sim::start(
        env,
        "amt-sim-meshcentral",
        &[
            "--bind".into(),
            device_ip.to_string(),
            "--http-port".into(),
            "0".into(),
            "--tls-port".into(),
            "16993".into(),
            "--provision-server".into(),
            format!("127.0.0.1:{hello_port}"),
            "--state-dir".into(),
            state.display().to_string(),
            "--events".into(),
            events.display().to_string(),
            "--seed".into(),
            "1".into(),
        ],
    )?;
    let failures = [
        "Intel AMT ACM activation completed.",
        "Failed",
        "Unable to",
        "Invalid",
        "Could not",
        "Got invalid hello",
    ];
    let (which, line) = mc.wait_for(mark, &failures, Duration::from_secs(180))?;
    ensure!(which == 0, "MeshCentral: {line}\n{}", mc.tail(25));
    let activated = activation.elapsed();
    let mark = mc.mark();
    mc.wait_for(
        mark,
        &["Intel AMT connected with TLS."],
        Duration::from_secs(90),
    )?;
    let managed = activation.elapsed();
    // Let the management session read its inventory; MeshCentral says "Done." at the end.
    let inventory = mc
        .wait_for(mark, &["Done."], Duration::from_secs(60))
        .map(|_| "inventory read")
        .unwrap_or("inventory not finished within 60 s");
    drop(mc);
    // The admin password MeshCentral set works over plain HTTP too (it left
    // AcceptNonSecureConnections on).
    let get = env
        .root
        .join("crates/amt-wire/testdata/wsman/requests/gwm_get_general_settings.xml");
    let answers = replay_files(env, sim.http, std::slice::from_ref(&get))?;
    ensure!(
        answers.values().all(|a| a.outcome == "ok"),
        "Get AMT_GeneralSettings as admin with MeshCentral's password: {answers:?}"
    );
    let (uuid, tls) = (sim.uuid.clone(), sim.tls);
    sim.stop()?;

    let events_text = std::fs::read_to_string(&events).unwrap_or_default();
    let reached_post = events_text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .any(|e| e["event"] == "state-changed" && e["to"] == "post");
    ensure!(
        reached_post,
        "the device's event stream has no state-changed event to post ({})",
        events.display()
    );
    Ok(format!(
        "device {uuid} TLS {tls}; MeshCentral start {:.1}s, activation {:.1}s, TLS management reconnect {:.1}s, {inventory}",
        mc_start.as_secs_f64(),
        activated.as_secs_f64(),
        managed.as_secs_f64(),
    ))
}

// ---------------------------------------------------------------------------------------------
// 2. wsman-messages replay

/// Whether a request only reads: replayed together on one device; every other request gets a
/// device restored from the provisioned state, so that one change cannot spoil the next.
fn read_only(name: &str) -> bool {
    let method = name.rsplit('.').next().unwrap_or_default();
    ["Get", "Enumerate", "Pull", "Read", "PositionTo"]
        .iter()
        .any(|p| method.starts_with(p))
}

/// One replayed request's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    outcome: String,
    reason: String,
}

fn replay_files(
    env: &Env,
    device: SocketAddr,
    files: &[PathBuf],
) -> Result<BTreeMap<String, Answer>> {
    let out = Command::new("node")
        .arg(env.root.join("xtask/interop/replay.js"))
        .arg(device.ip().to_string())
        .arg(device.port().to_string())
        .arg("admin")
        .arg(ADMIN_PASSWORD)
        .args(files)
        .output()
        .context("running replay.js")?;
    ensure!(
        out.status.success(),
        "replay.js failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut answers = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("replay.js said {line:?}"))?;
        let name = v["name"].as_str().unwrap_or_default().to_string();
        answers.insert(
            name,
            Answer {
                outcome: v["outcome"].as_str().unwrap_or_default().to_string(),
                reason: v["reason"].as_str().unwrap_or_default().to_string(),
            },
        );
    }
    ensure!(
        answers.len() == files.len(),
        "replay.js answered {} of {} requests",
        answers.len(),
        files.len()
    );
    Ok(answers)
}

/// `expected-faults.txt`: `NAME OUTCOME  # why` per line, for every request whose answer is not
/// a plain `ok`.
fn read_expected(path: &Path) -> Result<BTreeMap<String, String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut expected = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split_once('#').map_or(line, |(l, _)| l).trim();
        if line.is_empty() {
            continue;
        }
        let (name, outcome) = line.split_once(char::is_whitespace).with_context(|| {
            format!(
                "{}:{}: expected `NAME OUTCOME  # reason`",
                path.display(),
                n + 1
            )
        })?;
        expected.insert(name.to_string(), outcome.trim().to_string());
    }
    Ok(expected)
}

/// Rewrites the expected file to `answers`: unchanged entries keep their line (and reason), changed
/// ones are updated in place with a `TODO` reason, entries that now answer `ok` are dropped, new
/// ones are appended. Returns how many entries changed or are new.
fn bless(path: &Path, answers: &BTreeMap<String, Answer>) -> Result<usize> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = String::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut changed = 0;
    for line in text.lines() {
        let entry = line.split_once('#').map_or(line, |(l, _)| l).trim();
        let Some((name, outcome)) = entry.split_once(char::is_whitespace) else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        seen.insert(name.to_string());
        match answers.get(name) {
            Some(a) if a.outcome == outcome.trim() => {
                out.push_str(line);
                out.push('\n');
            }
            Some(a) if a.outcome != "ok" => {
                changed += 1;
                out.push_str(&format!(
                    "{name} {}  # TODO: why (was {})\n",
                    a.outcome,
                    outcome.trim()
                ));
            }
            _ => changed += 1, // now a plain ok, or no longer generated
        }
    }
    let new: Vec<_> = answers
        .iter()
        .filter(|(name, a)| a.outcome != "ok" && !seen.contains(*name))
        .collect();
    if !new.is_empty() {
        out.push_str("\n# --- New (cargo xtask interop wsman --bless): give each a reason\n");
        for (name, a) in new {
            changed += 1;
            out.push_str(&format!(
                "{name} {}  # TODO: why ({})\n",
                a.outcome, a.reason
            ));
        }
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))?;
    Ok(changed)
}

/// Replays every wsman-messages request against the provisioned device.
pub(crate) fn wsman_messages(env: &Env) -> Verdict {
    let name =
        "npm @device-management-toolkit/wsman-messages@5.14.1: every request replayed with digest"
            .to_string();
    Verdict::from_result(name, wsman_inner(env))
}

fn wsman_inner(env: &Env) -> Result<String> {
    let corpus = env.root.join("target/interop/requests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .with_context(|| format!("reading {} (the wire step generates it)", corpus.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let f = p.file_name().and_then(|f| f.to_str()).unwrap_or_default();
            f.ends_with(".xml") && ["AMT.", "CIM.", "IPS."].iter().any(|s| f.starts_with(s))
        })
        .collect();
    files.sort();
    ensure!(
        files.len() > 150,
        "only {} wsman-messages requests in {}",
        files.len(),
        corpus.display()
    );
    let stem = |p: &PathBuf| {
        p.file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string()
    };
    let (reads, changes): (Vec<PathBuf>, Vec<PathBuf>) =
        files.iter().cloned().partition(|p| read_only(&stem(p)));

    // No state directory: each start is the profile's freshly provisioned device.
    let mut args = env.provisioned_profile();
    args.extend(
        [
            "--bind",
            "127.0.0.1",
            "--http-port",
            "0",
            "--tls-port",
            "0",
            "--no-hello",
        ]
        .map(String::from),
    );
    let sim = Sim::start(env, "amt-sim-replay", &args)?;
    let mut answers = replay_files(env, sim.http, &reads)?;
    sim.stop()?;
    for file in &changes {
        let sim = Sim::start(env, "amt-sim-replay-change", &args)?;
        answers.extend(replay_files(env, sim.http, std::slice::from_ref(file))?);
        sim.stop()?;
    }

    // Keep the observed outcomes next to the logs, in the expected file's format.
    let mut observed = String::new();
    for (name, a) in &answers {
        if a.outcome != "ok" {
            observed.push_str(&format!("{name} {}  # {}\n", a.outcome, a.reason));
        }
    }
    std::fs::write(env.work.join("wsman-outcomes.txt"), &observed)?;

    let expected_path = env.root.join("xtask/interop/expected-faults.txt");
    if env.bless {
        let changed = bless(&expected_path, &answers)?;
        return Ok(format!(
            "blessed: {} rewritten, {changed} entries changed or new (give each `TODO` a reason)",
            expected_path.display()
        ));
    }
    let expected = read_expected(&expected_path)?;
    let mut problems = Vec::new();
    for (name, a) in &answers {
        match expected.get(name) {
            None if a.outcome == "ok" => {}
            None => problems.push(format!("unexpected: {name} {} ({})", a.outcome, a.reason)),
            Some(want) if *want == a.outcome => {}
            Some(want) => problems.push(format!(
                "{name}: expected {want}, got {} ({})",
                a.outcome, a.reason
            )),
        }
    }
    for name in expected.keys().filter(|n| !answers.contains_key(*n)) {
        problems.push(format!(
            "{name}: listed in {} but not generated",
            expected_path.display()
        ));
    }
    let plain = answers.values().filter(|a| a.outcome == "ok").count();
    if !problems.is_empty() {
        bail!(
            "{} of {} answers differ from {} (observed list: {}):\n  {}",
            problems.len(),
            answers.len(),
            expected_path.display(),
            env.work.join("wsman-outcomes.txt").display(),
            problems.join("\n  ")
        );
    }
    Ok(format!(
        "{} requests ({} read-only on one connection, {} changes each on a restored device): {plain} ok, {} as listed in expected-faults.txt",
        answers.len(),
        reads.len(),
        changes.len(),
        answers.len() - plain
    ))
}

// ---------------------------------------------------------------------------------------------
// 3. amtctrl

/// `amtctrl status`, `off`, `status`, `on`, `status` against the provisioned device on port 16992.
pub(crate) fn amtctrl(env: &Env) -> Verdict {
    let name = "PyPI amt==0.8.0: amtctrl status / off / on".to_string();
    Verdict::from_result(name, amtctrl_inner(env))
}

fn amtctrl_inner(env: &Env) -> Result<String> {
    // amtctrl's URL is fixed to port 16992; any loopback address will do for the host.
    let ip = loopback_with_free(&[16992])?;
    let mut args = env.provisioned_profile();
    args.extend(
        [
            "--bind",
            &ip.to_string(),
            "--http-port",
            "16992",
            "--tls-port",
            "0",
            "--no-hello",
        ]
        .map(String::from),
    );
    let sim = Sim::start(env, "amt-sim-amtctrl", &args)?;
    let xdg = env.work.join("amtctrl-xdg");
    std::fs::create_dir_all(&xdg)?;
    let amtctrl = env.cache.join("py/bin/amtctrl");
    let run = |command: &str| -> Result<String> {
        let mut child = Command::new(&amtctrl)
            .args(["-p", &ip.to_string(), command])
            .env("XDG_CONFIG_HOME", &xdg)
            .env_remove("REQUESTS_CA_BUNDLE")
            .env_remove("CURL_CA_BUNDLE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting amtctrl")?;
        if let Some(mut stdin) = child.stdin.take() {
            writeln!(stdin, "{ADMIN_PASSWORD}")?;
        }
        let out = child.wait_with_output()?;
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
        ensure!(
            out.status.success() && !stdout.starts_with("Error"),
            "amtctrl {command}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(stdout)
    };
    let mut transcript = Vec::new();
    for (command, want) in [
        ("status", "on"),
        ("off", ""),
        ("status", "off"),
        ("on", ""),
        ("status", "on"),
    ] {
        let got = run(command)?;
        ensure!(
            got == want,
            "amtctrl {command}: expected {want:?}, got {got:?} (so far: {})",
            transcript.join(", ")
        );
        transcript.push(format!(
            "{command}{}",
            if got.is_empty() {
                String::new()
            } else {
                format!("={got}")
            }
        ));
    }
    sim.stop()?;
    Ok(format!("{} on {ip}:16992", transcript.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bless_keeps_unchanged_lines_updates_changed_drops_ok_and_appends_new() -> Result<()> {
        let path = std::env::temp_dir().join(format!("amt-sim-bless-{}.txt", std::process::id()));
        std::fs::write(
            &path,
            "# header\nA.B.Get fault X  # kept reason\nA.B.Put fault Y  # old\nA.C.Get fault Z  # now ok\n",
        )?;
        let answer = |outcome: &str| Answer {
            outcome: outcome.into(),
            reason: "r".into(),
        };
        let answers: BTreeMap<String, Answer> = [
            ("A.B.Get".to_string(), answer("fault X")),
            ("A.B.Put".to_string(), answer("fault W")),
            ("A.C.Get".to_string(), answer("ok")),
            ("A.D.Get".to_string(), answer("ok rv=36")),
        ]
        .into();
        assert_eq!(bless(&path, &answers)?, 3);
        let text = std::fs::read_to_string(&path)?;
        std::fs::remove_file(&path)?;
        assert!(
            text.starts_with("# header\nA.B.Get fault X  # kept reason\n"),
            "{text}"
        );
        assert!(
            text.contains("A.B.Put fault W  # TODO: why (was fault Y)"),
            "{text}"
        );
        assert!(!text.contains("A.C.Get"), "{text}");
        assert!(text.contains("A.D.Get ok rv=36  # TODO: why (r)"), "{text}");
        let expected = read_expected_for_test(&text);
        assert_eq!(
            expected.get("A.D.Get").map(String::as_str),
            Some("ok rv=36")
        );
        Ok(())
    }

    fn read_expected_for_test(text: &str) -> BTreeMap<String, String> {
        let path = std::env::temp_dir().join(format!("amt-sim-read-{}.txt", std::process::id()));
        let parsed = std::fs::write(&path, text)
            .map_err(anyhow::Error::from)
            .and_then(|()| read_expected(&path));
        let _ = std::fs::remove_file(&path);
        parsed.unwrap_or_default()
    }
}
