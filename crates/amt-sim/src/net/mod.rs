//! The network shell: tokio listeners, connection tasks, the Hello sender and the event stream
//! around the sans-IO device core.
//!
//! The core ([`DeviceCore`], implemented by [`crate::device::Device`]) never sees a socket or the
//! clock: the shell reads the wall clock ([`clock::now`]) once per event, feeds the bytes it read to
//! the core and writes back what the core returns. Everything here is deliberately thin:
//!
//! - [`Bound`]: a device's HTTP and TLS listeners, bound before the device is built so that the
//!   core can be told the real ports (tests bind port 0).
//! - [`start`]: runs one device: an accept loop per listener, one task per connection (idle /
//!   slow-client timeout, bounded read buffer, a fair connection limit), the Hello sender and the event
//!   forwarding. Returns a [`RunningDevice`] to stop it.
//!   With [`Bound::bind_host_interface`], a third, loopback-only listener is the local host
//!   interface (LMS over HECI) for local agents' host-based setup.
//! - [`hello`]: sends one Hello beacon: one TCP connection, the whole packet in one write, then close
//!   (MeshCentral keeps only the first TCP chunk and parses on close).
//! - [`events::EventSink`]: JSON lines from every device to one writer, flushed after each batch.

pub mod clock;
pub mod events;
pub mod fleet;
pub mod hello;

mod conn;
mod core_impl;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use amt_wire::time::Timestamp;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

pub use events::EventSink;

/// What the shell needs from a device core. [`crate::device::Device`] implements it; tests drive
/// the shell with small fakes.
pub trait DeviceCore: Send + 'static {
    /// Per-connection protocol state (TLS records, HTTP decoder, session).
    type Connection: Send + 'static;

    /// A new TCP connection from `peer` arrived on the `listener` bound to `local`. `Err`
    /// carries the reason the device refuses it (for the log).
    fn accept(
        &mut self,
        listener: Listener,
        local: SocketAddr,
        peer: SocketAddr,
        now: Timestamp,
    ) -> Result<Self::Connection, String>;

    /// Bytes read from the connection; returns what to send back.
    fn receive(&mut self, conn: &mut Self::Connection, bytes: &[u8], now: Timestamp) -> Output;

    /// The peer closed its side (or the connection failed or timed out).
    fn peer_closed(&mut self, conn: &mut Self::Connection, now: Timestamp) -> Output;

    /// When the next Hello beacon is due, if any.
    fn next_hello_due(&self) -> Option<Timestamp>;

    /// The Hello beacon due at `now`, if any.
    fn poll_hello(&mut self, now: Timestamp) -> Option<Beacon>;

    /// Appends the events recorded since the last call, one JSON document per entry.
    fn drain_event_lines(&mut self, out: &mut Vec<String>);
}

/// Which of a device's two listeners a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Plain HTTP (16992).
    Http,
    /// TLS (16993).
    Tls,
    /// The local host interface: plain HTTP from agents on this host, as LMS tunnels it to the
    /// firmware over HECI (host-based setup is accepted only here). Bound to 127.0.0.1 only, and
    /// a peer that is not a loopback address is refused.
    HostInterface,
}

/// What the core asks the shell to do after a read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Bytes to write to the peer (possibly empty).
    pub send: Vec<u8>,
    /// Close the connection after writing `send`.
    pub close: bool,
    /// Wait this long before writing `send` (an injected fault).
    pub delay: Duration,
}

/// A Hello beacon to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beacon {
    /// The whole Hello packet.
    pub bytes: Vec<u8>,
    /// Where to send it.
    pub target: BeaconTarget,
}

/// The provisioning server a Hello goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeaconTarget {
    /// A resolved address.
    Address(SocketAddr),
    /// A DNS name and port, resolved by the shell at send time.
    Name(String, u16),
}

/// Knobs of the shell that are not part of the device profile.
#[derive(Debug, Clone)]
pub struct ShellOptions {
    /// A connection that produces no response for this long is closed: it bounds idle keep-alive
    /// connections and slow clients (a request head trickling in byte by byte), and every write.
    pub idle_timeout: Duration,
    /// Concurrent connections per device (both listeners together). When all are taken, a new
    /// connection replaces the one that has waited longest without an answer, if that one has
    /// had none for [`Self::eviction_grace`]; otherwise the new one is closed at once.
    pub max_connections: usize,
    /// How long a connection is safe from being replaced after its last answer.
    pub eviction_grace: Duration,
    /// Send Hello beacons when the core says they are due.
    pub hello: bool,
    /// Source address of Hello connections (the device's own address, so that a provisioning
    /// server that connects back to the Hello's source finds the device). `None`: the OS picks.
    pub hello_source: Option<IpAddr>,
    /// A label for logs (the UUID, or `device 3` in a fleet).
    pub label: String,
}

impl Default for ShellOptions {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30),
            max_connections: 32,
            eviction_grace: Duration::from_secs(2),
            hello: true,
            hello_source: None,
            label: String::from("device"),
        }
    }
}

/// A device's two listeners, bound but not yet serving.
#[derive(Debug)]
pub struct Bound {
    http: TcpListener,
    tls: TcpListener,
    host: Option<TcpListener>,
}

impl Bound {
    /// Binds the plain HTTP and TLS listeners (port 0 picks a free port).
    ///
    /// # Errors
    /// When either address cannot be bound.
    pub async fn bind(http: SocketAddr, tls: SocketAddr) -> std::io::Result<Self> {
        let http = TcpListener::bind(http).await?;
        let tls = TcpListener::bind(tls).await?;
        Ok(Self {
            http,
            tls,
            host: None,
        })
    }

    /// Also binds the local host-interface listener ([`Listener::HostInterface`]) on
    /// `127.0.0.1:port` (0 picks a free port); returns its address. Never on another address.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn bind_host_interface(&mut self, port: u16) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        let addr = listener.local_addr()?;
        self.host = Some(listener);
        Ok(addr)
    }

    /// The address the HTTP listener is bound to.
    ///
    /// # Errors
    /// When the OS cannot report it.
    pub fn http_addr(&self) -> std::io::Result<SocketAddr> {
        self.http.local_addr()
    }

    /// The address the TLS listener is bound to.
    ///
    /// # Errors
    /// When the OS cannot report it.
    pub fn tls_addr(&self) -> std::io::Result<SocketAddr> {
        self.tls.local_addr()
    }
}

/// State shared by a device's tasks.
pub(crate) struct Shared<D> {
    core: Mutex<D>,
    /// Signalled after every call into the core that may have moved the Hello schedule.
    changed: Notify,
    events: Option<EventSink>,
    options: ShellOptions,
}

impl<D: DeviceCore> Shared<D> {
    fn lock(&self) -> MutexGuard<'_, D> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the core, then forwards the events it recorded and wakes the Hello sender.
    async fn with_core<R>(&self, f: impl FnOnce(&mut D) -> R) -> R {
        let mut lines = Vec::new();
        let result = {
            let mut core = self.lock();
            let result = f(&mut core);
            if self.events.is_some() {
                core.drain_event_lines(&mut lines);
            } else {
                // Keep the core's buffer bounded even when nobody listens.
                core.drain_event_lines(&mut Vec::new());
            }
            result
        };
        if let Some(sink) = &self.events {
            for line in lines {
                sink.send(line).await;
            }
        }
        self.changed.notify_one();
        result
    }
}

/// A device being served; dropping it stops nothing, call [`RunningDevice::shutdown`].
#[derive(Debug)]
pub struct RunningDevice {
    tasks: JoinSet<()>,
    stop: watch::Sender<bool>,
}

impl RunningDevice {
    /// Stops accepting, ends every connection and the Hello sender, and waits for them.
    pub async fn shutdown(mut self) {
        // Receivers may all be gone already; nothing to tell then.
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Starts serving `core` on the listeners in `bound`.
///
/// Must be called inside a tokio runtime.
pub fn start<D: DeviceCore>(
    bound: Bound,
    core: D,
    options: ShellOptions,
    events: Option<EventSink>,
) -> RunningDevice {
    let (stop, stop_rx) = watch::channel(false);
    let slots = conn::Slots::new(options.max_connections, options.eviction_grace);
    let hello = options.hello;
    let shared = Arc::new(Shared {
        core: Mutex::new(core),
        changed: Notify::new(),
        events,
        options,
    });
    let mut tasks = JoinSet::new();
    let host = bound.host.map(|l| (Listener::HostInterface, l));
    for (kind, listener) in [(Listener::Http, bound.http), (Listener::Tls, bound.tls)]
        .into_iter()
        .chain(host)
    {
        tasks.spawn(conn::accept_loop(
            Arc::clone(&shared),
            kind,
            listener,
            Arc::clone(&slots),
            stop_rx.clone(),
        ));
    }
    if hello {
        tasks.spawn(hello::beacon_loop(Arc::clone(&shared), stop_rx));
    }
    RunningDevice { tasks, stop }
}

/// Waits until `stop` turns true (or its sender is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: treat it as a stop.
    let _ = stop.wait_for(|s| *s).await;
}

#[cfg(test)]
pub(crate) mod fake;
