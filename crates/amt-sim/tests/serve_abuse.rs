//! `amt-sim serve` under bad clients: a slow client is cut off at the idle timeout without
//! stalling others, TLS garbage and HTTP garbage close only their own connection.

#![expect(
    clippy::disallowed_methods,
    reason = "a real-socket test measures real time"
)]

mod serve_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serve_support::{Result, Sim, identify};

#[test]
fn a_slow_client_is_cut_off_at_the_idle_timeout_while_others_are_served() -> Result<()> {
    let (mut sim, ready) = Sim::serve(&[
        "--http-port",
        "0",
        "--tls-port",
        "0",
        "--no-hello",
        "--idle-timeout",
        "1",
    ])?;
    let http = ready.http;
    let slow = std::thread::spawn(move || -> Result<Duration> {
        let mut s = TcpStream::connect(http)?;
        s.set_read_timeout(Some(Duration::from_millis(100)))?;
        let start = Instant::now();
        let head = b"POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n";
        for byte in head.iter().cycle() {
            // One byte per 100 ms; the read doubles as the pause.
            if s.write_all(&[*byte]).is_err() {
                break;
            }
            let mut buf = [0_u8; 512];
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => break,
            }
            if start.elapsed() > Duration::from_secs(10) {
                return Err("the slow client was never cut off".into());
            }
        }
        Ok(start.elapsed())
    });
    // Meanwhile others are answered promptly.
    for _ in 0..5 {
        let asked = Instant::now();
        assert_eq!(identify(ready.http)?.status, 200);
        assert!(asked.elapsed() < Duration::from_millis(900));
        std::thread::sleep(Duration::from_millis(100));
    }
    let cut = slow.join().map_err(|_| "slow client panicked")??;
    assert!(
        cut >= Duration::from_millis(900) && cut < Duration::from_secs(4),
        "cut off after {cut:?}"
    );
    assert!(sim.terminate(Duration::from_secs(10))?.success());
    Ok(())
}

#[test]
fn tls_and_http_garbage_close_only_their_connection() -> Result<()> {
    let (mut sim, ready) = Sim::serve(&["--http-port", "0", "--tls-port", "0", "--no-hello"])?;
    // Not a TLS record at all, then a TLS-looking record with a silly length.
    for junk in [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        vec![0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3, 4],
        (0..4096_u32).map(|i| (i * 7 % 256) as u8).collect(),
    ] {
        let mut s = TcpStream::connect(ready.tls)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let _ = s.write_all(&junk);
        let mut rest = Vec::new();
        // The device answers with an alert (or nothing) and closes.
        let closed = match s.read_to_end(&mut rest) {
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        };
        assert!(closed, "the TLS port closes a garbage connection");
    }
    // HTTP garbage: a clear error status, then close.
    let mut s = TcpStream::connect(ready.http)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"\x00\x01\x02 NOT HTTP\r\n\r\n")?;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 4"), "{text}");
    // The server is unharmed.
    assert_eq!(identify(ready.http)?.status, 200);
    assert!(sim.terminate(Duration::from_secs(10))?.success());
    Ok(())
}
