//! Child processes for the interop suite: output captured line by line (and teed to a log file),
//! waiting for a console line, ports, and SIGTERM-then-kill on drop.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A running child whose stdout and stderr lines are collected.
pub(crate) struct Proc {
    name: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    log: PathBuf,
}

impl Proc {
    /// Spawns `cmd` with stdout and stderr captured into memory and `log`. Stdin stays open
    /// (a pipe) until the process ends.
    pub(crate) fn spawn(name: &str, cmd: &mut Command, log: &Path) -> Result<Self> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {name}: {cmd:?}"))?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let file = Arc::new(Mutex::new(
            File::create(log).with_context(|| format!("creating {}", log.display()))?,
        ));
        let stdout = child.stdout.take().context("child stdout")?;
        let stderr = child.stderr.take().context("child stderr")?;
        for (stream, tag) in [
            (Box::new(stdout) as Box<dyn Read + Send>, ""),
            (Box::new(stderr), "stderr: "),
        ] {
            let lines = Arc::clone(&lines);
            let file = Arc::clone(&file);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut buf = Vec::new();
                while reader.read_until(b'\n', &mut buf).is_ok_and(|n| n > 0) {
                    let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                    buf.clear();
                    if let Ok(mut f) = file.lock() {
                        let _ = writeln!(f, "{tag}{line}");
                    }
                    lines
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(line);
                }
            });
        }
        Ok(Self {
            name: name.to_string(),
            child,
            lines,
            log: log.to_path_buf(),
        })
    }

    /// Every line so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many lines there are so far: a mark for [`Proc::wait_for`].
    pub(crate) fn mark(&self) -> usize {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The first line from index `from` on containing any of `needles`, as (index into needles,
    /// line).
    pub(crate) fn find(&self, from: usize, needles: &[&str]) -> Option<(usize, String)> {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        lines.iter().skip(from).find_map(|line| {
            needles
                .iter()
                .position(|n| line.contains(n))
                .map(|i| (i, line.clone()))
        })
    }

    /// Waits until a line from index `from` on contains one of `needles`; fails on timeout or if
    /// the process exits.
    pub(crate) fn wait_for(
        &mut self,
        from: usize,
        needles: &[&str],
        timeout: Duration,
    ) -> Result<(usize, String)> {
        let start = now();
        loop {
            if let Some(found) = self.find(from, needles) {
                return Ok(found);
            }
            if let Some(status) = self.child.try_wait()? {
                // Let the reader threads catch up before reporting.
                pause(Duration::from_millis(200));
                if let Some(found) = self.find(from, needles) {
                    return Ok(found);
                }
                bail!(
                    "{} exited ({status}) before printing any of {needles:?}; log: {}\n{}",
                    self.name,
                    self.log.display(),
                    self.tail(20)
                );
            }
            if start.elapsed() > timeout {
                bail!(
                    "{} printed none of {needles:?} within {timeout:?}; log: {}\n{}",
                    self.name,
                    self.log.display(),
                    self.tail(20)
                );
            }
            pause(Duration::from_millis(50));
        }
    }

    /// The last `n` lines, indented, for error messages.
    pub(crate) fn tail(&self, n: usize) -> String {
        let lines = self.lines();
        let from = lines.len().saturating_sub(n);
        lines
            .get(from..)
            .unwrap_or_default()
            .iter()
            .map(|l| format!("    {l}\n"))
            .collect()
    }

    /// Sends SIGTERM and waits up to `grace` for the exit, then kills. Returns whether it
    /// exited successfully by itself.
    pub(crate) fn terminate(&mut self, grace: Duration) -> bool {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status.success();
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = now();
        while start.elapsed() < grace {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            pause(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.terminate(Duration::from_secs(3));
    }
}

/// Whether `port` on `ip` can be bound now.
pub(crate) fn port_free(ip: IpAddr, port: u16) -> bool {
    TcpListener::bind(SocketAddr::new(ip, port)).is_ok()
}

/// A port on `ip` that was free a moment ago.
pub(crate) fn free_port(ip: IpAddr) -> Result<u16> {
    Ok(TcpListener::bind(SocketAddr::new(ip, 0))?
        .local_addr()?
        .port())
}

/// The first loopback address 127.0.0.1 … 127.0.0.9 on which every port in `ports` is free.
pub(crate) fn loopback_with_free(ports: &[u16]) -> Result<IpAddr> {
    for last in 1..=9_u8 {
        let ip = IpAddr::from([127, 0, 0, last]);
        if ports.iter().all(|p| port_free(ip, *p)) {
            return Ok(ip);
        }
    }
    bail!("ports {ports:?} are taken on 127.0.0.1 … 127.0.0.9")
}

/// The wall clock: the interop suite drives real processes in real time.
#[expect(clippy::disallowed_methods, reason = "xtask waits for real processes")]
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// Sleeps the calling thread while polling a child process.
#[expect(clippy::disallowed_methods, reason = "xtask waits for real processes")]
pub(crate) fn pause(d: Duration) {
    std::thread::sleep(d);
}
