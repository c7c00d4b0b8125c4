//! Blocking TCP transport for sessions against `amt-sim serve` or a real AMT device.

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::transport::{Connector, Stream, TransportError};

/// Opens [`TcpTransport`]s with `TcpStream::connect_timeout`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpConnector;

/// A connected TCP stream implementing [`Stream`].
#[derive(Debug)]
pub struct TcpTransport {
    socket: TcpStream,
}

fn map_io(e: &std::io::Error) -> TransportError {
    match e.kind() {
        ErrorKind::ConnectionRefused => TransportError::Refused,
        ErrorKind::TimedOut | ErrorKind::WouldBlock => TransportError::Timeout,
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
            TransportError::Reset
        }
        _ => TransportError::Io(e.to_string()),
    }
}

impl Connector for TcpConnector {
    fn connect(
        &mut self,
        target: SocketAddr,
        timeout: Duration,
    ) -> Result<Box<dyn Stream>, TransportError> {
        let timeout = timeout.max(Duration::from_millis(1));
        let socket = TcpStream::connect_timeout(&target, timeout).map_err(|e| map_io(&e))?;
        socket.set_nodelay(true).map_err(|e| map_io(&e))?;
        socket
            .set_write_timeout(Some(timeout.max(Duration::from_secs(5))))
            .map_err(|e| map_io(&e))?;
        Ok(Box::new(TcpTransport { socket }))
    }
}

impl Stream for TcpTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.socket.write_all(bytes).map_err(|e| map_io(&e))
    }

    fn read(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<usize, TransportError> {
        self.socket
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .map_err(|e| map_io(&e))?;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.socket.read(&mut chunk) {
                Ok(n) => {
                    buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(map_io(&e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn connect_write_read_and_close() -> Result<(), Box<dyn std::error::Error>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let server = std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
            let (mut s, _) = listener.accept()?;
            let mut got = [0u8; 4];
            s.read_exact(&mut got)?;
            s.write_all(b"pong")?;
            Ok(got.to_vec())
        });
        let mut stream = TcpConnector.connect(addr, Duration::from_secs(5))?;
        stream.write_all(b"ping")?;
        let mut buf = Vec::new();
        while buf.len() < 4 {
            if stream.read(&mut buf, Duration::from_secs(5))? == 0 {
                break;
            }
        }
        assert_eq!(buf, b"pong");
        assert_eq!(stream.read(&mut buf, Duration::from_secs(5))?, 0, "closed");
        assert_eq!(server.join().map_err(|_| "server thread")??, b"ping");
        Ok(())
    }

    #[test]
    fn refused_and_timeout_are_typed() -> Result<(), Box<dyn std::error::Error>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        drop(listener);
        assert_eq!(
            TcpConnector.connect(addr, Duration::from_secs(5)).err(),
            Some(TransportError::Refused)
        );
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let mut stream = TcpConnector.connect(listener.local_addr()?, Duration::from_secs(5))?;
        let mut buf = Vec::new();
        assert_eq!(
            stream.read(&mut buf, Duration::from_millis(50)).err(),
            Some(TransportError::Timeout)
        );
        Ok(())
    }
}
