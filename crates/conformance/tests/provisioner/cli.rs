//! The `amt-provision` binary's `--device` and `--listen` modes against an `amt_sim` device served
//! over a real loopback socket by a small shell in this test.

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use amt_sim::device::Device;
use amt_sim::profile::DeviceProfile;
use amt_wire::time::Timestamp;

use super::TestResult;

#[expect(clippy::disallowed_methods, reason = "the test shell's wall clock")]
fn wall_now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
    Timestamp::from_unix_millis(ms)
}

fn repo_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `amt-provision` binary of this build (built on demand when only this crate's tests were
/// built: `cargo test --workspace` builds it already).
fn bin() -> Command {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(|d| d.join("amt-provision")));
    if let Some(path) = exe.filter(|p| p.exists()) {
        return Command::new(path);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "provisioner-core",
            "--bin",
            "amt-provision",
        ])
        .current_dir(repo_root())
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "building amt-provision failed"
    );
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(|d| d.join("amt-provision")))
        .unwrap_or_default();
    Command::new(exe)
}

/// A one-device TLS server on 127.0.0.1 driving an `amt_sim::Device`, one connection at a time.
struct Shell {
    addr: SocketAddr,
    uuid: String,
    hello: Vec<u8>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Device>>,
}

impl Shell {
    fn start() -> Result<Self, Box<dyn std::error::Error>> {
        Self::start_with(DeviceProfile::default())
    }

    fn start_with(mut profile: DeviceProfile) -> Result<Self, Box<dyn std::error::Error>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        profile.ports.tls = addr.port();
        let uuid = profile.device_uuid().to_string();
        let mut device = Device::new(profile, None, 11, wall_now()).map_err(|e| e.to_string())?;
        let hello = device
            .poll_hello(wall_now())
            .map(|b| b.bytes)
            .unwrap_or_default();
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || serve(&listener, device, &flag));
        Ok(Self {
            addr,
            uuid,
            hello,
            stop,
            thread: Some(thread),
        })
    }

    fn stop(mut self) -> Option<Device> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().and_then(|t| t.join().ok())
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "the test shell polls and honours delays"
)]
fn serve(listener: &TcpListener, mut device: Device, stop: &AtomicBool) -> Device {
    while !stop.load(Ordering::SeqCst) {
        let (mut socket, peer) = match listener.accept() {
            Ok(s) => s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(_) => break,
        };
        let Ok(local) = socket.local_addr() else {
            continue;
        };
        let Ok(mut conn) = device.accept(local, peer, wall_now()) else {
            continue;
        };
        let _ = socket.set_nonblocking(false);
        let _ = socket.set_read_timeout(Some(Duration::from_millis(200)));
        let mut buf = [0u8; 16 * 1024];
        loop {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            match socket.read(&mut buf) {
                Ok(0) => {
                    let _ = conn.peer_closed(&mut device, wall_now());
                    break;
                }
                Ok(n) => {
                    let out =
                        conn.receive(&mut device, buf.get(..n).unwrap_or_default(), wall_now());
                    if !out.delay.is_zero() {
                        std::thread::sleep(out.delay);
                    }
                    if socket.write_all(&out.send).is_err() || out.close {
                        break;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
        let _ = socket.shutdown(std::net::Shutdown::Both);
        drop::<TcpStream>(socket);
    }
    device
}

#[test]
fn device_mode_provisions_an_amt_sim_device_over_loopback() -> TestResult {
    let shell = Shell::start()?;
    let dir = tempfile::tempdir()?;
    let certs = repo_root().join("certs");
    let out = bin()
        .current_dir(repo_root())
        .arg("--device")
        .arg(shell.addr.to_string())
        .args(["--fqdn", "amt-device-01.corp.amt-sim.test", "--seed", "5"])
        .arg("--chain")
        .arg(certs.join("prov-oid.chain.pem"))
        .arg("--key")
        .arg(certs.join("prov-oid.TEST-ONLY.key.pem"))
        .args(["--account", "admin:admin"])
        .arg("--logs")
        .arg(dir.path())
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("outcome=provisioned"), "{stdout}");
    assert!(stdout.contains("amt_status=Provisioned"), "{stdout}");
    assert!(
        stdout.contains(&shell.uuid),
        "the device's UUID, read over WS-MAN: {stdout}"
    );
    let op = std::fs::read_to_string(dir.path().join("amtopmgr.log"))?;
    assert!(op.contains("$$<SMS_AMT_OPERATION_MANAGER>"), "{op}");
    let secrets = dir.path().join("provisioning-secrets.txt");
    let text = std::fs::read_to_string(&secrets)?;
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("admin_password = "))
        .unwrap_or_default()
        .to_owned();
    assert_eq!(password.len(), 16);
    assert!(!stdout.contains(&password), "passwords never on stdout");
    assert!(!op.contains(&password), "passwords never in the logs");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&secrets)?.permissions().mode() & 0o777,
        0o600
    );
    let device = shell.stop().ok_or("shell thread")?;
    assert!(format!("{:?}", device.provisioning_state()).contains("Post"));
    Ok(())
}

#[test]
fn a_second_run_into_the_same_logs_provisions_a_device_cut_off_after_commit() -> TestResult {
    // The first run commits, then loses the device in stage 2 (as a kill after CommitChanges
    // does): the device keeps the admin password only the secrets file knows.
    let mut profile = DeviceProfile::default();
    profile.faults.push(serde_saphyr::from_str(
        "on: { method: SetPowerScheme, nth: 1 }\ndo: close_connection\n",
    )?);
    let shell = Shell::start_with(profile)?;
    let dir = tempfile::tempdir()?;
    let certs = repo_root().join("certs");
    let run = || {
        bin()
            .current_dir(repo_root())
            .arg("--device")
            .arg(shell.addr.to_string())
            .args(["--fqdn", "amt-device-01.corp.amt-sim.test"])
            .args(["--uuid", &shell.uuid])
            .arg("--chain")
            .arg(certs.join("prov-oid.chain.pem"))
            .arg("--key")
            .arg(certs.join("prov-oid.TEST-ONLY.key.pem"))
            .args(["--account", "admin:admin"])
            .arg("--logs")
            .arg(dir.path())
            .output()
    };
    let first = run()?;
    let stdout = String::from_utf8_lossy(&first.stdout).into_owned();
    assert_eq!(first.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("failed_step=stage2"), "{stdout}");
    let second = run()?;
    let stdout = String::from_utf8_lossy(&second.stdout).into_owned();
    assert_eq!(second.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("outcome=provisioned"), "{stdout}");
    let device = shell.stop().ok_or("shell thread")?;
    assert!(format!("{:?}", device.provisioning_state()).contains("Post"));
    Ok(())
}

#[test]
fn listen_mode_provisions_the_device_that_sends_a_hello() -> TestResult {
    use std::io::BufRead as _;
    let shell = Shell::start()?;
    let dir = tempfile::tempdir()?;
    let certs = repo_root().join("certs").canonicalize()?;
    let uuid = shell.uuid.clone();
    let env_file = dir.path().join("env.yaml");
    std::fs::write(
        &env_file,
        format!(
            "computers:\n  - {{ name: AMT-DEVICE-01, uuid: {uuid}, fqdn: amt-device-01.corp.amt-sim.test, tls_port: {port} }}\n\
             provisioning_certificates:\n  - {{ chain_pem: {c}/prov-oid.chain.pem, key_pem: {c}/prov-oid.TEST-ONLY.key.pem }}\n\
             enterprise_ca:\n  issuer_cert_pem: {c}/enterprise-ca.cert.pem\n  issuer_key_pem: {c}/enterprise-ca.TEST-ONLY.key.pem\n",
            port = shell.addr.port(),
            c = certs.display(),
        ),
    )?;
    let logs = dir.path().join("logs");
    let mut child = bin()
        .arg("--env")
        .arg(&env_file)
        .args(["--listen", "127.0.0.1:0", "--once", "--seed", "3"])
        .arg("--logs")
        .arg(&logs)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("stdout")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let first = lines.next().ok_or("no ready line")??;
    let addr: SocketAddr = first
        .strip_prefix("listening for Hellos on ")
        .ok_or("unexpected first line")?
        .parse()?;
    let hello = shell.hello.clone();
    let mut s = TcpStream::connect(addr)?;
    s.write_all(&hello)?;
    drop(s);
    let status = child.wait()?;
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert_eq!(status.code(), Some(0), "stdout: {rest:?}\nstderr: {err}");
    assert!(
        rest.iter().any(|l| l.contains("outcome=provisioned")),
        "{rest:?}"
    );
    let op = std::fs::read_to_string(logs.join("amtopmgr.log"))?;
    assert!(op.contains("provisioned successfully"), "{op}");
    let device = shell.stop().ok_or("shell thread")?;
    assert!(format!("{:?}", device.provisioning_state()).contains("Post"));
    Ok(())
}
