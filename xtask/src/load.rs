//! `cargo xtask load`: a bounded load test of one device on loopback. Builds `amt-sim` in release,
//! serves one device on 127.0.0.1 (OS-chosen ports, default connection cap and idle timeout), then
//! at once: N concurrent clients (default 1,000) each send one unauthenticated Identify (retrying
//! a refused connection, with backoff, for up to [`CLIENT_LIMIT`], as real clients do), a
//! slowloris holds S connections (default 100) trickling a never-ending request head one byte per
//! second, and a well-behaved client sends Identify requests one after another (reconnecting when
//! refused). Prints served/failed counts of the crowd and the good client's p50/p99/max latency.
//! Bounded: every socket has timeouts, the whole run stops after [`RUN_LIMIT`] and the device is
//! killed at the end. Loopback only.

#![expect(
    clippy::disallowed_methods,
    reason = "a load test measures real time and paces its slow clients"
)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The whole run stops after this long.
const RUN_LIMIT: Duration = Duration::from_secs(60);
/// A crowd client gives up after this long.
const CLIENT_LIMIT: Duration = Duration::from_secs(20);

const IDENTIFY: &str = "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" \
xmlns:wsmid=\"http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd\"><s:Header></s:Header>\
<s:Body><wsmid:Identify></wsmid:Identify></s:Body></s:Envelope>";

struct Device(Child);

impl Drop for Device {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the load test; `args`: `[--clients N] [--slowloris S]`.
pub(crate) fn run(root: &Path, args: &[&str]) -> Result<()> {
    let mut clients = 1000usize;
    let mut slow = 100usize;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || -> Result<usize> {
            it.next()
                .context("a value is missing")?
                .parse()
                .context("not a number")
        };
        match *a {
            "--clients" => clients = value()?,
            "--slowloris" => slow = value()?,
            other => bail!("unknown load option {other}"),
        }
    }
    crate::run(
        Command::new("cargo")
            .args(["build", "--release", "-q", "-p", "amt-sim"])
            .current_dir(root),
    )?;
    let mut child = Command::new(root.join("target/release/amt-sim"))
        .args([
            "serve",
            "--bind",
            "127.0.0.1",
            "--http-port",
            "0",
            "--tls-port",
            "0",
            "--no-hello",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting amt-sim")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let stderr = child.stderr.take().context("no stderr")?;
    let device = Device(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let http: SocketAddr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http="))
        .context("no http= in the ready line")?
        .parse()?;
    if !http.ip().is_loopback() {
        bail!("the load test targets loopback only, got {http}");
    }
    let warnings = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .filter(|l| l.contains("WARN"))
            .count()
    });
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));

    // The slowloris.
    let mut slow_threads = Vec::new();
    for _ in 0..slow {
        let stop = Arc::clone(&stop);
        slow_threads.push(spawn_small(move || slowloris(http, &stop))?);
    }
    std::thread::sleep(Duration::from_millis(300));

    // The good client, measuring each request (reconnects included).
    let good_stop = Arc::clone(&stop);
    let good = spawn_small(move || {
        let mut latencies = Vec::new();
        let mut failures = 0u64;
        while !good_stop.load(Ordering::SeqCst) {
            let t = Instant::now();
            let mut ok = false;
            while t.elapsed() < Duration::from_secs(5) && !ok {
                ok = identify(http, Duration::from_secs(5)).is_ok();
                if !ok {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            if ok {
                latencies.push(t.elapsed());
            } else {
                failures += 1;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        (latencies, failures)
    })?;

    // The crowd.
    let served = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut crowd = Vec::new();
    for _ in 0..clients {
        let (served, failed) = (Arc::clone(&served), Arc::clone(&failed));
        crowd.push(spawn_small(move || {
            // Like a real client: a refused or cut connection is retried until the limit.
            let t = Instant::now();
            let mut ok = false;
            let mut attempt = 0u64;
            while !ok && t.elapsed() < CLIENT_LIMIT {
                ok = identify(http, CLIENT_LIMIT.saturating_sub(t.elapsed())).is_ok();
                if !ok {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(20 * attempt.min(10)));
                }
            }
            if ok { &served } else { &failed }.fetch_add(1, Ordering::SeqCst);
        })?);
    }
    for t in crowd {
        let _ = t.join();
    }
    let crowd_time = started.elapsed();
    // Let the slowloris run a little longer than the eviction grace so the good client sees it.
    while started.elapsed() < crowd_time + Duration::from_secs(3) && started.elapsed() < RUN_LIMIT {
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::SeqCst);
    let (mut latencies, good_failures) = good.join().map_err(|_| anyhow::anyhow!("good client"))?;
    for t in slow_threads {
        let _ = t.join();
    }
    drop(device);
    let warning_lines = warnings.join().unwrap_or(0);
    latencies.sort();
    let pct = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "load: device {http} (default cap 32, idle timeout 30 s); crowd of {clients} concurrent Identify clients: served={} failed={} in {:.1} s; slowloris: {slow} trickling connections",
        served.load(Ordering::SeqCst),
        failed.load(Ordering::SeqCst),
        crowd_time.as_secs_f64()
    );
    println!(
        "load: good client: {} requests answered, {good_failures} not answered within 5 s; latency p50={:.1} ms p99={:.1} ms max={:.1} ms",
        latencies.len(),
        pct(50),
        pct(99),
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    );
    println!("load: device warning lines on stderr: {warning_lines}");
    Ok(())
}

fn spawn_small<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<std::thread::JoinHandle<T>> {
    std::thread::Builder::new()
        .stack_size(128 * 1024)
        .spawn(f)
        .context("starting a load-test thread")
}

/// One Identify on a fresh connection (`Connection: close`); `Ok` on a 200.
fn identify(addr: SocketAddr, limit: Duration) -> Result<()> {
    let end = Instant::now() + limit;
    let mut s = TcpStream::connect_timeout(&addr, limit)?;
    let left = || {
        end.saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    s.set_write_timeout(Some(left()))?;
    let request = format!(
        "POST /wsman HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/soap+xml\r\nContent-Length: {}\r\n\r\n{IDENTIFY}",
        IDENTIFY.len()
    );
    s.write_all(request.as_bytes())?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        s.set_read_timeout(Some(left()))?;
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(buf.get(..n).unwrap_or_default());
        if got.ends_with(b"0\r\n\r\n") {
            break;
        }
        if Instant::now() >= end {
            bail!("timed out");
        }
    }
    if got.starts_with(b"HTTP/1.1 200") {
        Ok(())
    } else {
        bail!("no 200 answer")
    }
}

/// Holds a connection trickling a request head one byte per second; reconnects when cut off.
fn slowloris(addr: SocketAddr, stop: &AtomicBool) {
    let head = b"POST /wsman HTTP/1.1\r\nHost: x\r\nX-Pad: ";
    while !stop.load(Ordering::SeqCst) {
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
        for byte in head.iter().chain(std::iter::repeat(&b'a')) {
            if stop.load(Ordering::SeqCst) || s.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}
