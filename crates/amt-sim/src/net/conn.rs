//! Accept loops and per-connection tasks: read from the socket into a fixed buffer, feed the core,
//! honour its delay, write its answer, close when it says so or when the peer stalls.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use super::{DeviceCore, Listener, Output, Shared, clock, stopped};

/// Bytes read from a socket at a time; the core bounds what it buffers across reads.
const READ_CHUNK: usize = 16 * 1024;

/// Accepts connections until `stop`; each gets its own task while a permit is free.
pub(crate) async fn accept_loop<D: DeviceCore>(
    shared: Arc<Shared<D>>,
    kind: Listener,
    listener: TcpListener,
    limit: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let label = shared.options.label.clone();
    let Ok(local) = listener.local_addr() else {
        tracing::error!(device = %label, "listener has no local address");
        return;
    };
    loop {
        let accepted = tokio::select! {
            () = stopped(&mut stop) => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(device = %label, %local, "accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            tracing::warn!(device = %label, %local, %peer, "too many connections; closing the new one");
            continue;
        };
        let shared = Arc::clone(&shared);
        let stop = stop.clone();
        tokio::spawn(async move {
            serve_connection(&shared, kind, stream, local, peer, stop).await;
            drop(permit);
        });
    }
}

/// Why a connection ended (for the log).
#[derive(Debug, PartialEq, Eq)]
enum End {
    Refused,
    PeerClosed,
    CoreClosed,
    Timeout,
    Io(std::io::ErrorKind),
    Shutdown,
}

async fn serve_connection<D: DeviceCore>(
    shared: &Shared<D>,
    kind: Listener,
    mut stream: TcpStream,
    local: SocketAddr,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    let label = &shared.options.label;
    let idle = shared.options.idle_timeout;
    let accepted = shared
        .with_core(|core| core.accept(kind, local, peer, clock::now()))
        .await;
    let mut conn = match accepted {
        Ok(conn) => conn,
        Err(reason) => {
            tracing::info!(device = %label, %local, %peer, "connection refused: {reason}");
            log_end(label, local, peer, &End::Refused);
            return;
        }
    };
    // Nagle off: responses are written whole, and clients wait for them.
    let _ = stream.set_nodelay(true);
    tracing::debug!(device = %label, %local, %peer, "connection accepted");
    let mut buf = vec![0_u8; READ_CHUNK];
    // The deadline moves only when the device answers: a client that trickles a request in
    // byte by byte, or stays idle, is cut off `idle` after the last answer (or the accept).
    let mut deadline = Instant::now() + idle;
    let end = loop {
        let read = tokio::select! {
            () = stopped(&mut stop) => break End::Shutdown,
            () = tokio::time::sleep_until(deadline) => break End::Timeout,
            read = stream.read(&mut buf) => read,
        };
        let n = match read {
            Ok(0) => break End::PeerClosed,
            Ok(n) => n,
            Err(e) => break End::Io(e.kind()),
        };
        let bytes = buf.get(..n).unwrap_or_default();
        let out = shared
            .with_core(|core| core.receive(&mut conn, bytes, clock::now()))
            .await;
        if !out.send.is_empty() {
            deadline = Instant::now() + idle + out.delay;
        }
        match write_output(&mut stream, &out, idle, &mut stop).await {
            Ok(()) if out.close => break End::CoreClosed,
            Ok(()) => {}
            Err(end) => break end,
        }
    };
    // Tell the core, and flush what it still has to say (a TLS close_notify, say) if the
    // socket can take it.
    let last = shared
        .with_core(|core| core.peer_closed(&mut conn, clock::now()))
        .await;
    if matches!(end, End::PeerClosed | End::CoreClosed) && !last.send.is_empty() {
        let _ = write_output(&mut stream, &last, idle, &mut stop).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
    log_end(label, local, peer, &end);
}

/// Waits `out.delay`, then writes `out.send` within `idle`.
async fn write_output(
    stream: &mut TcpStream,
    out: &Output,
    idle: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), End> {
    if !out.delay.is_zero() {
        tokio::select! {
            () = stopped(stop) => return Err(End::Shutdown),
            () = tokio::time::sleep(out.delay) => {}
        }
    }
    if out.send.is_empty() {
        return Ok(());
    }
    match tokio::time::timeout(idle, stream.write_all(&out.send)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(End::Io(e.kind())),
        Err(_) => Err(End::Timeout),
    }
}

fn log_end(label: &str, local: SocketAddr, peer: SocketAddr, end: &End) {
    match end {
        End::Timeout => {
            tracing::info!(device = %label, %local, %peer, "connection closed: no answer due within the idle timeout");
        }
        End::Io(kind) => {
            tracing::debug!(device = %label, %local, %peer, "connection closed: {kind}")
        }
        other => tracing::debug!(device = %label, %local, %peer, "connection closed: {other:?}"),
    }
}
