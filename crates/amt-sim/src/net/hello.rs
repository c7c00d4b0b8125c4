//! Hello delivery: when the core says a beacon is due, open one TCP connection to the provisioning
//! server, write the whole Hello in ONE write, and close.
//!
//! One write matters: MeshCentral 1.1.55's Hello listener keeps only the first TCP chunk it reads
//! (`Buffer.concat` result not assigned) and parses on close. Nagle is off so the packet leaves at
//! once. The source address is the device's own address when it has one, because a provisioning
//! server connects back to the Hello's source.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;
use tokio::sync::watch;

use super::{Beacon, BeaconTarget, DeviceCore, Shared, clock, stopped};

/// How long a Hello connection may take to connect and write.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a Hello could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum HelloSendError {
    /// The provisioning server's name did not resolve.
    #[error("cannot resolve provisioning server {name}:{port}: {source}")]
    Resolve {
        /// The name.
        name: String,
        /// The port.
        port: u16,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// The name resolved to no address.
    #[error("provisioning server {0}:{1} resolved to no address")]
    NoAddress(String, u16),
    /// Connecting or writing failed.
    #[error("sending Hello to {target}: {source}")]
    Io {
        /// Where it was going.
        target: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// Connecting or writing took longer than the send timeout.
    #[error("sending Hello to {0}: timed out")]
    Timeout(SocketAddr),
}

/// Delivers one Hello: connect (from `source` if given), one write of the whole packet, close.
/// Returns the address it went to.
///
/// # Errors
/// When the target does not resolve, refuses the connection, or the write fails or times out.
pub async fn send(beacon: &Beacon, source: Option<IpAddr>) -> Result<SocketAddr, HelloSendError> {
    let target = match &beacon.target {
        BeaconTarget::Address(addr) => *addr,
        BeaconTarget::Name(name, port) => {
            let mut addrs = tokio::net::lookup_host((name.as_str(), *port))
                .await
                .map_err(|source| HelloSendError::Resolve {
                    name: name.clone(),
                    port: *port,
                    source,
                })?;
            let same_family = |a: &SocketAddr| source.is_none_or(|s| s.is_ipv4() == a.is_ipv4());
            addrs
                .find(same_family)
                .ok_or_else(|| HelloSendError::NoAddress(name.clone(), *port))?
        }
    };
    let io = |source| HelloSendError::Io { target, source };
    let deliver = async {
        let socket = if target.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(io)?;
        if let Some(ip) =
            source.filter(|ip| !ip.is_unspecified() && ip.is_ipv4() == target.is_ipv4())
        {
            socket.bind(SocketAddr::new(ip, 0)).map_err(io)?;
        }
        let mut stream = socket.connect(target).await.map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        // The whole packet in one write; write_all only loops if the kernel took part of it.
        stream.write_all(&beacon.bytes).await.map_err(io)?;
        stream.shutdown().await.map_err(io)?;
        Ok(target)
    };
    tokio::time::timeout(SEND_TIMEOUT, deliver)
        .await
        .unwrap_or(Err(HelloSendError::Timeout(target)))
}

/// Sends each Hello when it is due until `stop`; wakes up early when the core's schedule may have
/// changed (after every request the device handled).
pub(crate) async fn beacon_loop<D: DeviceCore>(
    shared: Arc<Shared<D>>,
    mut stop: watch::Receiver<bool>,
) {
    let label = shared.options.label.clone();
    // Only the first of a run of failed deliveries is a warning (a fleet beaconing to a server
    // that is down would otherwise flood the log).
    let mut failing = false;
    loop {
        let due = shared.lock().next_hello_due();
        let wait = async {
            match due {
                Some(due) => {
                    tokio::select! {
                        () = tokio::time::sleep(clock::until(due)) => {}
                        () = shared.changed.notified() => {}
                    }
                }
                None => shared.changed.notified().await,
            }
        };
        tokio::select! {
            () = stopped(&mut stop) => return,
            () = wait => {}
        }
        let now = clock::now();
        if due.is_none_or(|due| due > now) {
            continue; // woken by a change: look at the schedule again
        }
        let Some(beacon) = shared.with_core(|core| core.poll_hello(now)).await else {
            // Due but nothing to send: do not spin on a due time in the past.
            tokio::select! {
                () = stopped(&mut stop) => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = shared.changed.notified() => {}
            }
            continue;
        };
        match send(&beacon, shared.options.hello_source).await {
            Ok(to) => {
                failing = false;
                tracing::info!(device = %label, %to, bytes = beacon.bytes.len(), "Hello sent");
            }
            Err(e) if failing => tracing::debug!(device = %label, "Hello not delivered: {e}"),
            Err(e) => {
                failing = true;
                tracing::warn!(
                    device = %label,
                    "Hello not delivered: {e} (further failures are logged at debug level)"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn a_hello_arrives_in_one_read_then_eof_from_the_given_source() -> anyhow::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let target = listener.local_addr()?;
        let bytes: Vec<u8> = (0..=255).cycle().take(807).collect();
        let beacon = Beacon {
            bytes: bytes.clone(),
            target: BeaconTarget::Address(target),
        };
        let sender = tokio::spawn(async move {
            send(&beacon, Some("127.0.0.1".parse()?))
                .await
                .map_err(anyhow::Error::from)
        });
        let (mut stream, peer) = listener.accept().await?;
        assert_eq!(peer.ip(), "127.0.0.1".parse::<IpAddr>()?);
        // Give the whole packet time to arrive, then a single read must return all of it.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut buf = vec![0; 4096];
        let first = stream.read(&mut buf).await?;
        assert_eq!(&buf[..first], &bytes[..]);
        assert_eq!(
            stream.read(&mut buf).await?,
            0,
            "the sender closes after the Hello"
        );
        assert_eq!(sender.await??, target);
        Ok(())
    }

    #[tokio::test]
    async fn a_refused_connection_and_an_unknown_name_are_errors() -> anyhow::Result<()> {
        let closed = TcpListener::bind("127.0.0.1:0").await?.local_addr()?; // listener dropped
        let refused = send(
            &Beacon {
                bytes: vec![1],
                target: BeaconTarget::Address(closed),
            },
            None,
        )
        .await;
        assert!(
            matches!(refused, Err(HelloSendError::Io { .. })),
            "{refused:?}"
        );
        let unknown = send(
            &Beacon {
                bytes: vec![1],
                target: BeaconTarget::Name("provisionserver.invalid".into(), 9971),
            },
            None,
        )
        .await;
        assert!(
            matches!(
                unknown,
                Err(HelloSendError::Resolve { .. } | HelloSendError::NoAddress(..))
            ),
            "{unknown:?}"
        );
        Ok(())
    }
}
