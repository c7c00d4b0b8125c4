//! [`DeviceCore`] for the real device: the shell's calls mapped onto [`Device`] and
//! [`DeviceConnection`].

use std::net::SocketAddr;

use amt_wire::time::Timestamp;

use super::{Beacon, BeaconTarget, DeviceCore, Listener, Output};
use crate::conn::{ConnOutput, DeviceConnection};
use crate::device::{Device, PortKind};
use crate::hello::HelloTarget;

impl From<ConnOutput> for Output {
    fn from(out: ConnOutput) -> Self {
        Self {
            send: out.send,
            close: out.close,
            delay: out.delay,
        }
    }
}

impl DeviceCore for Device {
    type Connection = DeviceConnection;

    fn accept(
        &mut self,
        listener: Listener,
        local: SocketAddr,
        peer: SocketAddr,
        now: Timestamp,
    ) -> Result<DeviceConnection, String> {
        let kind = match listener {
            Listener::Http => PortKind::Http,
            Listener::Tls => PortKind::Tls,
            Listener::HostInterface => {
                return self
                    .accept_host_interface(PortKind::Http, now)
                    .map_err(|refused| format!("{refused} ({})", refused.id()));
            }
        };
        self.accept_on(kind, local, peer, now)
            .map_err(|refused| format!("{refused} ({})", refused.id()))
    }

    fn receive(&mut self, conn: &mut DeviceConnection, bytes: &[u8], now: Timestamp) -> Output {
        conn.receive(self, bytes, now).into()
    }

    fn peer_closed(&mut self, conn: &mut DeviceConnection, now: Timestamp) -> Output {
        conn.peer_closed(self, now).into()
    }

    fn next_hello_due(&self) -> Option<Timestamp> {
        Self::next_hello_due(self)
    }

    fn poll_hello(&mut self, now: Timestamp) -> Option<Beacon> {
        Self::poll_hello(self, now).map(|beacon| Beacon {
            bytes: beacon.bytes,
            target: match beacon.target {
                HelloTarget::Address(addr) => BeaconTarget::Address(addr),
                HelloTarget::Name(name, port) => BeaconTarget::Name(name, port),
            },
        })
    }

    fn drain_event_lines(&mut self, out: &mut Vec<String>) {
        for event in self.drain_events() {
            match serde_json::to_string(&event) {
                Ok(line) => out.push(line),
                Err(e) => tracing::warn!("event not serialisable: {e}"),
            }
        }
    }
}
