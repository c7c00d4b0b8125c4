//! A line-echo stand-in for the device core, and the shell's tests driven by it over real sockets.

use std::net::SocketAddr;
use std::time::Duration;

use amt_wire::time::Timestamp;

use super::{Beacon, BeaconTarget, DeviceCore, Listener, Output};

/// Answers each `\n`-terminated line with `echo: LINE\n`; `close` closes, `delay MS` answers late.
/// Sends one Hello per entry of `hellos` to `hello_to`.
pub(crate) struct FakeCore {
    pub(crate) hellos: Vec<Timestamp>,
    pub(crate) hello_to: Option<SocketAddr>,
    pub(crate) events: Vec<String>,
    pub(crate) refuse: bool,
}

pub(crate) struct FakeConn {
    pending: Vec<u8>,
}

/// A line longer than this closes the connection (the core bounds its buffers).
const MAX_LINE: usize = 64 * 1024;

impl FakeCore {
    pub(crate) fn new() -> Self {
        Self {
            hellos: Vec::new(),
            hello_to: None,
            events: Vec::new(),
            refuse: false,
        }
    }
}

impl DeviceCore for FakeCore {
    type Connection = FakeConn;

    fn accept(
        &mut self,
        _listener: Listener,
        _local: SocketAddr,
        peer: SocketAddr,
        _now: Timestamp,
    ) -> Result<FakeConn, String> {
        if self.refuse {
            return Err("refused by the fake".into());
        }
        self.events
            .push(format!("{{\"event\":\"accepted\",\"peer\":\"{peer}\"}}"));
        Ok(FakeConn {
            pending: Vec::new(),
        })
    }

    fn receive(&mut self, conn: &mut FakeConn, bytes: &[u8], _now: Timestamp) -> Output {
        conn.pending.extend_from_slice(bytes);
        let mut out = Output::default();
        while let Some(pos) = conn.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = conn.pending.drain(..=pos).collect();
            let text = String::from_utf8_lossy(line.get(..pos).unwrap_or_default()).into_owned();
            if text == "close" {
                out.close = true;
                return out;
            }
            if let Some(ms) = text.strip_prefix("delay ").and_then(|ms| ms.parse().ok()) {
                out.delay = Duration::from_millis(ms);
            }
            self.events
                .push(format!("{{\"event\":\"line\",\"len\":{}}}", text.len()));
            out.send
                .extend_from_slice(format!("echo: {text}\n").as_bytes());
        }
        if conn.pending.len() > MAX_LINE {
            out.send.extend_from_slice(b"too long\n");
            out.close = true;
        }
        out
    }

    fn peer_closed(&mut self, _conn: &mut FakeConn, _now: Timestamp) -> Output {
        self.events.push("{\"event\":\"closed\"}".into());
        Output::default()
    }

    fn next_hello_due(&self) -> Option<Timestamp> {
        self.hello_to?;
        self.hellos.first().copied()
    }

    fn poll_hello(&mut self, now: Timestamp) -> Option<Beacon> {
        let to = self.hello_to?;
        let due = *self.hellos.first()?;
        if due > now {
            return None;
        }
        self.hellos.remove(0);
        Some(Beacon {
            bytes: format!("hello {}", self.hellos.len()).into_bytes(),
            target: BeaconTarget::Address(to),
        })
    }

    fn drain_event_lines(&mut self, out: &mut Vec<String>) {
        out.append(&mut self.events);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use anyhow::Context as _;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::net::events::EventWriter;
    use crate::net::{Bound, RunningDevice, ShellOptions, clock, start};

    async fn serve(
        core: FakeCore,
        options: ShellOptions,
    ) -> anyhow::Result<(RunningDevice, SocketAddr, SocketAddr)> {
        let bound = Bound::bind("127.0.0.1:0".parse()?, "127.0.0.1:0".parse()?).await?;
        let (http, tls) = (bound.http_addr()?, bound.tls_addr()?);
        Ok((start(bound, core, options, None), http, tls))
    }

    async fn ask(stream: &mut BufReader<TcpStream>, line: &str) -> anyhow::Result<String> {
        stream
            .get_mut()
            .write_all(format!("{line}\n").as_bytes())
            .await?;
        let mut answer = String::new();
        stream.read_line(&mut answer).await?;
        Ok(answer)
    }

    #[tokio::test]
    async fn both_listeners_answer_and_close_on_request() -> anyhow::Result<()> {
        let (device, http, tls) = serve(FakeCore::new(), ShellOptions::default()).await?;
        for addr in [http, tls] {
            let mut s = BufReader::new(TcpStream::connect(addr).await?);
            assert_eq!(ask(&mut s, "one").await?, "echo: one\n");
            assert_eq!(ask(&mut s, "two").await?, "echo: two\n");
            s.get_mut().write_all(b"close\n").await?;
            let mut rest = Vec::new();
            s.read_to_end(&mut rest).await?;
            assert!(rest.is_empty(), "closed without more output");
        }
        device.shutdown().await;
        Ok(())
    }

    #[tokio::test]
    async fn a_slow_client_is_cut_off_without_stalling_others() -> anyhow::Result<()> {
        let options = ShellOptions {
            idle_timeout: Duration::from_millis(600),
            ..ShellOptions::default()
        };
        let (device, http, _) = serve(FakeCore::new(), options).await?;
        let slow = tokio::spawn(async move {
            let mut s = TcpStream::connect(http).await?;
            let started = tokio::time::Instant::now();
            // One byte every 50 ms, never a full line: the shell must close us.
            loop {
                if s.write_all(b"x").await.is_err() {
                    break;
                }
                let mut byte = [0_u8; 1];
                match tokio::time::timeout(Duration::from_millis(50), s.read(&mut byte)).await {
                    Ok(Ok(0) | Err(_)) => break,
                    Ok(Ok(_)) => anyhow::bail!("unexpected answer to a partial line"),
                    Err(_) => {}
                }
                anyhow::ensure!(
                    started.elapsed() < Duration::from_secs(5),
                    "slow client never cut off"
                );
            }
            Ok(started.elapsed())
        });
        // Meanwhile a normal client keeps getting answers.
        let mut fast = BufReader::new(TcpStream::connect(http).await?);
        for n in 0..10 {
            let asked = tokio::time::Instant::now();
            assert_eq!(
                ask(&mut fast, &format!("q{n}")).await?,
                format!("echo: q{n}\n")
            );
            assert!(asked.elapsed() < Duration::from_millis(300));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let cut = slow.await??;
        assert!(
            cut >= Duration::from_millis(550) && cut < Duration::from_secs(3),
            "cut after {cut:?}"
        );
        device.shutdown().await;
        Ok(())
    }

    #[tokio::test]
    async fn delay_is_honoured_and_garbage_does_not_hurt_the_server() -> anyhow::Result<()> {
        let (device, http, tls) = serve(FakeCore::new(), ShellOptions::default()).await?;
        let mut s = BufReader::new(TcpStream::connect(http).await?);
        let asked = tokio::time::Instant::now();
        assert_eq!(ask(&mut s, "delay 300").await?, "echo: delay 300\n");
        assert!(asked.elapsed() >= Duration::from_millis(290));
        // 100 KiB without a newline: the core closes, the server carries on.
        let mut g = TcpStream::connect(tls).await?;
        let garbage: Vec<u8> = (0..100 * 1024).map(|i| (i % 251) as u8 | 0x80).collect();
        let _ = g.write_all(&garbage).await;
        let mut rest = Vec::new();
        let _ = g.read_to_end(&mut rest).await;
        assert!(rest.ends_with(b"too long\n"));
        let mut again = BufReader::new(TcpStream::connect(tls).await?);
        assert_eq!(ask(&mut again, "still here").await?, "echo: still here\n");
        device.shutdown().await;
        Ok(())
    }

    #[tokio::test]
    async fn idle_and_trickling_connections_do_not_starve_a_good_client() -> anyhow::Result<()> {
        let options = ShellOptions {
            max_connections: 4,
            eviction_grace: Duration::from_millis(200),
            idle_timeout: Duration::from_secs(30),
            ..ShellOptions::default()
        };
        let (device, http, tls) = serve(FakeCore::new(), options).await?;
        // Four connections take every slot: two idle, two trickling a line that never ends.
        let mut hogs = Vec::new();
        for addr in [http, tls, http, tls] {
            hogs.push(TcpStream::connect(addr).await?);
        }
        for _ in 0..5 {
            for hog in hogs.iter_mut().skip(2) {
                let _ = hog.write_all(b"x").await;
            }
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        // A good client still gets in (taking the longest-idle slot) and is answered at once.
        let mut good = BufReader::new(TcpStream::connect(http).await?);
        let answer = tokio::time::timeout(Duration::from_secs(2), ask(&mut good, "hi")).await??;
        assert_eq!(answer, "echo: hi\n");
        assert_eq!(ask(&mut good, "again").await?, "echo: again\n");
        device.shutdown().await;
        Ok(())
    }

    #[test]
    fn refusal_warnings_are_rate_limited() {
        let slots = crate::net::conn::Slots::new(1, Duration::from_secs(3600));
        let held = slots.take();
        assert!(matches!(
            held,
            crate::net::conn::Admission::Admitted(_, false)
        ));
        let logged: Vec<u64> = (0..10_000)
            .filter_map(|_| match slots.take() {
                crate::net::conn::Admission::Refused(log) => log,
                crate::net::conn::Admission::Admitted(..) => Some(u64::MAX),
            })
            .collect();
        assert_eq!(logged, [1], "one warning line for ten thousand refusals");
    }

    #[tokio::test]
    async fn connections_over_the_limit_are_closed_and_refusals_too() -> anyhow::Result<()> {
        let options = ShellOptions {
            max_connections: 2,
            ..ShellOptions::default()
        };
        let (device, http, _) = serve(FakeCore::new(), options).await?;
        let mut a = BufReader::new(TcpStream::connect(http).await?);
        let mut b = BufReader::new(TcpStream::connect(http).await?);
        assert_eq!(ask(&mut a, "a").await?, "echo: a\n");
        assert_eq!(ask(&mut b, "b").await?, "echo: b\n");
        let mut c = TcpStream::connect(http).await?;
        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(2), c.read_to_end(&mut rest)).await??;
        assert_eq!(n, 0, "third connection closed at once");
        drop(a);
        // The permit comes back when the first connection's task ends.
        let mut d = None;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let mut s = BufReader::new(TcpStream::connect(http).await?);
            if ask(&mut s, "d").await.is_ok_and(|a| a == "echo: d\n") {
                d = Some(s);
                break;
            }
        }
        assert!(d.is_some(), "a slot frees up after a client leaves");
        device.shutdown().await;

        let mut refusing = FakeCore::new();
        refusing.refuse = true;
        let (device, http, _) = serve(refusing, ShellOptions::default()).await?;
        let mut r = TcpStream::connect(http).await?;
        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(2), r.read_to_end(&mut rest)).await??;
        assert_eq!(n, 0);
        device.shutdown().await;
        Ok(())
    }

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn hellos_go_out_when_due_and_events_reach_the_stream() -> anyhow::Result<()> {
        let server = TcpListener::bind("127.0.0.1:0").await?;
        let mut core = FakeCore::new();
        let now = clock::now();
        core.hellos = vec![
            now,
            now + Duration::from_millis(200),
            now + Duration::from_millis(400),
        ];
        core.hello_to = Some(server.local_addr()?);
        let out = Lines::default();
        let (sink, writer) = EventWriter::start(Box::new(out.clone()))?;
        let bound = Bound::bind("127.0.0.1:0".parse()?, "127.0.0.1:0".parse()?).await?;
        let http = bound.http_addr()?;
        let options = ShellOptions {
            hello_source: Some("127.0.0.1".parse()?),
            ..ShellOptions::default()
        };
        let device = start(bound, core, options, Some(sink));
        let started = tokio::time::Instant::now();
        let mut got = Vec::new();
        for _ in 0..3 {
            let (mut s, _) =
                tokio::time::timeout(Duration::from_secs(3), server.accept()).await??;
            let mut hello = Vec::new();
            s.read_to_end(&mut hello).await?;
            got.push(String::from_utf8(hello)?);
        }
        assert_eq!(got, ["hello 2", "hello 1", "hello 0"]);
        assert!(started.elapsed() >= Duration::from_millis(350));
        let mut s = BufReader::new(TcpStream::connect(http).await?);
        assert_eq!(ask(&mut s, "hi").await?, "echo: hi\n");
        drop(s);
        tokio::time::sleep(Duration::from_millis(100)).await;
        device.shutdown().await;
        let count = tokio::task::spawn_blocking(move || writer.finish()).await??;
        let text = String::from_utf8(
            out.0
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .clone(),
        )?;
        assert_eq!(count, 3, "accepted, line, closed: {text}");
        let kinds: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).map(|v| v["event"].to_string()))
            .collect::<Result<_, _>>()
            .context("event lines are JSON")?;
        assert_eq!(kinds, ["\"accepted\"", "\"line\"", "\"closed\""]);
        Ok(())
    }
}
