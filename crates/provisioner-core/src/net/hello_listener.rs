//! The Hello listener: a thread accepting TCP connections on the provisioning port (9971), each
//! carrying one Hello packet that the device writes and then closes.
//!
//! Connections are read concurrently, each on its own short-lived thread (at most
//! [`MAX_CONCURRENT_HELLOS`] at once; more are closed at once), until the peer closes, at most
//! [`MAX_HELLO_BYTES`] (like MeshCentral) and within a **per-connection** deadline
//! ([`HELLO_DEADLINE`] from the accept, not per read): a client trickling a byte every few seconds
//! is cut off at the deadline and never delays other devices' Hellos. The bytes are handed to the
//! consumer over a channel together with the sender's address. Parsing and the service point's
//! decisions happen on the consumer's side. The threads stop when the listener is dropped.

use std::io::{ErrorKind, Read as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Largest Hello accepted (bytes); longer input is cut off and still handed over (the parser
/// rejects it).
pub const MAX_HELLO_BYTES: usize = 16_000;
/// How long one Hello connection may take, from accept to close.
pub const HELLO_DEADLINE: Duration = Duration::from_secs(10);
/// The former name of [`HELLO_DEADLINE`].
pub const HELLO_READ_TIMEOUT: Duration = HELLO_DEADLINE;
/// Most Hello connections read at once.
pub const MAX_CONCURRENT_HELLOS: usize = 256;

/// The raw bytes of one Hello connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedHello {
    /// The sender.
    pub from: SocketAddr,
    /// Everything it sent before closing (bounded).
    pub bytes: Vec<u8>,
}

/// A running Hello listener.
#[derive(Debug)]
pub struct HelloListener {
    local: SocketAddr,
    rx: Receiver<ReceivedHello>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HelloListener {
    /// Binds `addr` and starts accepting.
    pub fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        Self::bind_with_deadline(addr, HELLO_DEADLINE)
    }

    /// Binds `addr` with a per-connection `deadline` other than [`HELLO_DEADLINE`].
    pub fn bind_with_deadline(addr: SocketAddr, deadline: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let (tx, rx) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("hello-listener".into())
            .spawn(move || accept_loop(&listener, &tx, &flag, deadline))?;
        Ok(Self {
            local,
            rx,
            stop,
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The next Hello, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<ReceivedHello> {
        self.rx.recv_timeout(timeout).ok()
    }
}

impl Drop for HelloListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "the listener thread polls its non-blocking socket"
)]
fn accept_loop(
    listener: &TcpListener,
    tx: &Sender<ReceivedHello>,
    stop: &Arc<AtomicBool>,
    deadline: Duration,
) {
    let active = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((socket, from)) => {
                if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONCURRENT_HELLOS {
                    active.fetch_sub(1, Ordering::SeqCst);
                    drop(socket);
                    continue;
                }
                let tx = tx.clone();
                let counter = Arc::clone(&active);
                let stop = Arc::clone(stop);
                let spawned =
                    std::thread::Builder::new()
                        .name("hello-conn".into())
                        .spawn(move || {
                            let bytes = read_hello(socket, deadline, &stop);
                            let _ = tx.send(ReceivedHello { from, bytes });
                            counter.fetch_sub(1, Ordering::SeqCst);
                        });
                if spawned.is_err() {
                    active.fetch_sub(1, Ordering::SeqCst);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Reads until close, the size bound or the connection's deadline.
#[expect(
    clippy::disallowed_methods,
    reason = "the shell's reader measures its per-connection deadline"
)]
fn read_hello(mut socket: TcpStream, deadline: Duration, stop: &AtomicBool) -> Vec<u8> {
    let end = Instant::now() + deadline;
    let mut out = Vec::new();
    if socket.set_nonblocking(false).is_err() {
        return out;
    }
    let mut chunk = [0u8; 4096];
    while out.len() < MAX_HELLO_BYTES && !stop.load(Ordering::SeqCst) {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        // Wake up at least every 200 ms to notice a stop.
        if socket
            .set_read_timeout(Some(left.min(Duration::from_millis(200))))
            .is_err()
        {
            break;
        }
        match socket.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                let room = MAX_HELLO_BYTES - out.len();
                out.extend_from_slice(chunk.get(..n.min(room)).unwrap_or_default());
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn a_hello_is_read_until_close_and_handed_over() -> Result<(), Box<dyn std::error::Error>> {
        let listener = HelloListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let mut s = TcpStream::connect(listener.local_addr())?;
        s.write_all(&[1, 2, 3, 4])?;
        drop(s);
        let got = listener.recv_timeout(Duration::from_secs(5));
        assert_eq!(got.map(|h| h.bytes), Some(vec![1, 2, 3, 4]));
        Ok(())
    }

    #[test]
    #[expect(
        clippy::disallowed_methods,
        reason = "a real-socket test paces its client"
    )]
    fn a_trickling_sender_neither_delays_others_nor_outlives_its_deadline()
    -> Result<(), Box<dyn std::error::Error>> {
        let listener = HelloListener::bind_with_deadline(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            Duration::from_millis(1500),
        )?;
        let addr = listener.local_addr();
        // One byte every 200 ms, for longer than the deadline.
        let slow = std::thread::spawn(move || -> std::io::Result<()> {
            let mut s = TcpStream::connect(addr)?;
            for _ in 0..20 {
                if s.write_all(&[9]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Ok(())
        });
        std::thread::sleep(Duration::from_millis(100));
        let mut s = TcpStream::connect(addr)?;
        s.write_all(&[1, 2, 3])?;
        drop(s);
        // The other device's Hello comes first, well before the trickler's deadline.
        let first = listener.recv_timeout(Duration::from_millis(1000));
        assert_eq!(first.map(|h| h.bytes), Some(vec![1, 2, 3]));
        // The trickler is cut off at its deadline (not kept alive by each byte).
        let cut = listener.recv_timeout(Duration::from_secs(3));
        let cut = cut.map(|h| h.bytes.len()).unwrap_or(0);
        assert!((5..=10).contains(&cut), "{cut} bytes before the cut");
        let _ = slow.join();
        Ok(())
    }

    #[test]
    fn an_oversized_hello_is_cut_at_the_bound() -> Result<(), Box<dyn std::error::Error>> {
        let listener = HelloListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let mut s = TcpStream::connect(listener.local_addr())?;
        // The listener stops reading at the bound; the rest may not be accepted.
        let _ = s.write_all(&vec![7u8; MAX_HELLO_BYTES + 5000]);
        drop(s);
        let got = listener.recv_timeout(Duration::from_secs(5));
        assert_eq!(got.map(|h| h.bytes.len()), Some(MAX_HELLO_BYTES));
        Ok(())
    }
}
