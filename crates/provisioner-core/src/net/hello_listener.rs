//! The Hello listener: a thread accepting TCP connections on the provisioning port (9971), each
//! carrying one Hello packet that the device writes and then closes.
//!
//! Each connection is read until the peer closes, at most [`MAX_HELLO_BYTES`] (like MeshCentral)
//! and for at most [`HELLO_READ_TIMEOUT`]; the bytes are handed to the consumer over a channel
//! together with the sender's address. Parsing and the service point's decisions happen on the
//! consumer's side. The thread stops when the listener is dropped.

use std::io::{ErrorKind, Read as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

/// Largest Hello accepted (bytes); longer input is cut off and still handed over (the parser
/// rejects it).
pub const MAX_HELLO_BYTES: usize = 16_000;
/// How long one Hello connection may take.
pub const HELLO_READ_TIMEOUT: Duration = Duration::from_secs(10);

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
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let (tx, rx) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("hello-listener".into())
            .spawn(move || accept_loop(&listener, &tx, &flag))?;
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
fn accept_loop(listener: &TcpListener, tx: &Sender<ReceivedHello>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((socket, from)) => {
                let bytes = read_hello(socket);
                if tx.send(ReceivedHello { from, bytes }).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Reads until close, the size bound or the timeout.
fn read_hello(mut socket: TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    if socket.set_nonblocking(false).is_err()
        || socket.set_read_timeout(Some(HELLO_READ_TIMEOUT)).is_err()
    {
        return out;
    }
    let mut chunk = [0u8; 4096];
    while out.len() < MAX_HELLO_BYTES {
        match socket.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                let room = MAX_HELLO_BYTES - out.len();
                out.extend_from_slice(chunk.get(..n.min(room)).unwrap_or_default());
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
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
