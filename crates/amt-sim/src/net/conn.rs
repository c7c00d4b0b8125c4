//! Accept loops and per-connection tasks: read from the socket into a fixed buffer, feed the core,
//! honour its delay, write its answer, close when it says so or when the peer stalls.
//!
//! Connection slots are fair: when all [`super::ShellOptions::max_connections`] slots are taken, a
//! new connection takes the slot of the connection that has waited longest without an answer
//! (idle keep-alive, or a client trickling a request in), provided that one has had none for at
//! least [`super::ShellOptions::eviction_grace`]; only when every connection was answered more
//! recently is the new one refused. So idle or slowloris clients cannot starve a well-behaved one.
//! Refusals are counted and logged at most once per [`REFUSAL_LOG_INTERVAL`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::{DeviceCore, Listener, Output, Shared, clock, stopped};

/// Bytes read from a socket at a time; the core bounds what it buffers across reads.
const READ_CHUNK: usize = 16 * 1024;
/// At most one warning line about refused connections per this interval (with the count).
pub(crate) const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

struct Slot {
    /// When the device last answered (or accepted) this connection.
    last_answer: Instant,
    evict: Arc<Notify>,
}

#[derive(Default)]
struct SlotTable {
    slots: HashMap<u64, Slot>,
    next_id: u64,
    refused_since_log: u64,
    last_log: Option<Instant>,
}

/// The connection slots of one device (both listeners share them).
pub(crate) struct Slots {
    table: Mutex<SlotTable>,
    max: usize,
    grace: Duration,
}

/// A taken slot; dropping it frees the slot.
pub(crate) struct SlotGuard {
    slots: Arc<Slots>,
    id: u64,
    evict: Arc<Notify>,
}

impl SlotGuard {
    /// The device answered: the connection is not idle.
    fn answered(&self) {
        let mut t = self.slots.lock();
        if let Some(slot) = t.slots.get_mut(&self.id) {
            slot.last_answer = Instant::now();
        }
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.slots.lock().slots.remove(&self.id);
    }
}

/// What [`Slots::take`] decided.
pub(crate) enum Admission {
    /// A slot (possibly freed by evicting the longest-idle connection).
    Admitted(SlotGuard, bool),
    /// Every slot is busy; `Some(n)`: log a warning now, covering `n` refusals.
    Refused(Option<u64>),
}

impl Slots {
    pub(crate) fn new(max: usize, grace: Duration) -> Arc<Self> {
        Arc::new(Self {
            table: Mutex::new(SlotTable::default()),
            max: max.max(1),
            grace,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlotTable> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a slot for a new connection.
    pub(crate) fn take(self: &Arc<Self>) -> Admission {
        let now = Instant::now();
        let mut t = self.lock();
        let mut evicted = false;
        if t.slots.len() >= self.max {
            let oldest = t
                .slots
                .iter()
                .min_by_key(|(_, s)| s.last_answer)
                .map(|(id, s)| (*id, s.last_answer));
            match oldest {
                Some((id, since)) if now.saturating_duration_since(since) >= self.grace => {
                    if let Some(slot) = t.slots.remove(&id) {
                        slot.evict.notify_one();
                    }
                    evicted = true;
                }
                _ => {
                    t.refused_since_log += 1;
                    let due = t
                        .last_log
                        .is_none_or(|l| now.saturating_duration_since(l) >= REFUSAL_LOG_INTERVAL);
                    if due {
                        t.last_log = Some(now);
                        let n = std::mem::take(&mut t.refused_since_log);
                        return Admission::Refused(Some(n));
                    }
                    return Admission::Refused(None);
                }
            }
        }
        let id = t.next_id;
        t.next_id += 1;
        let evict = Arc::new(Notify::new());
        t.slots.insert(
            id,
            Slot {
                last_answer: now,
                evict: Arc::clone(&evict),
            },
        );
        Admission::Admitted(
            SlotGuard {
                slots: Arc::clone(self),
                id,
                evict,
            },
            evicted,
        )
    }
}

/// Accepts connections until `stop`; each gets its own task while a slot is free (or can be
/// freed from an idle connection).
/// Whether `peer` may connect to the `kind` listener: anyone on the network listeners, only a
/// loopback address on the host interface.
fn peer_allowed(kind: Listener, peer: SocketAddr) -> bool {
    kind != Listener::HostInterface || peer.ip().is_loopback()
}

pub(crate) async fn accept_loop<D: DeviceCore>(
    shared: Arc<Shared<D>>,
    kind: Listener,
    listener: TcpListener,
    slots: Arc<Slots>,
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
        // The host interface is local: a peer from the network is never served (the listener
        // is bound to 127.0.0.1, so this is a second line of defence).
        if !peer_allowed(kind, peer) {
            tracing::warn!(device = %label, %local, %peer, "host-interface connection from a non-loopback peer refused");
            drop(stream);
            continue;
        }
        let slot = match slots.take() {
            Admission::Admitted(slot, evicted) => {
                if evicted {
                    tracing::debug!(device = %label, %local, %peer, "all connection slots taken; closed the longest-idle connection for the new one");
                }
                slot
            }
            Admission::Refused(log) => {
                if let Some(n) = log {
                    tracing::warn!(device = %label, %local, %peer, refused = n, "too many busy connections (limit {}); refused {n} connection(s) since the last warning", slots.max);
                }
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        let stop = stop.clone();
        tokio::spawn(async move {
            serve_connection(&shared, kind, stream, local, peer, stop, &slot).await;
            drop(slot);
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
    Evicted,
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
    slot: &SlotGuard,
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
            () = slot.evict.notified() => break End::Evicted,
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
            slot.answered();
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

#[cfg(test)]
mod peer_tests {
    use super::*;

    #[test]
    fn the_host_interface_admits_loopback_peers_only() {
        let peer = |ip: [u8; 4]| SocketAddr::from((ip, 40_000));
        assert!(peer_allowed(Listener::HostInterface, peer([127, 0, 0, 1])));
        assert!(peer_allowed(
            Listener::HostInterface,
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 1))
        ));
        assert!(!peer_allowed(Listener::HostInterface, peer([192, 0, 2, 7])));
        assert!(peer_allowed(Listener::Http, peer([192, 0, 2, 7])));
        assert!(peer_allowed(Listener::Tls, peer([192, 0, 2, 7])));
    }
}
