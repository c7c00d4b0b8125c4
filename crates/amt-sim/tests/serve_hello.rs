//! `amt-sim serve` sends its first Hello at start: one TCP connection from the device's address,
//! the whole packet in one write, then close (what MeshCentral's Hello listener needs).

#![expect(
    clippy::disallowed_methods,
    reason = "a real-socket test waits in real time"
)]

mod serve_support;

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use amt_wire::hello::HelloPacket;
use serve_support::{Result, Sim};

#[test]
fn the_first_hello_arrives_whole_in_one_read_then_the_connection_closes() -> Result<()> {
    let server = TcpListener::bind("127.0.0.1:0")?;
    let target = server.local_addr()?;
    let (mut sim, ready) = Sim::serve(&[
        "--http-port",
        "0",
        "--tls-port",
        "0",
        "--provision-server",
        &target.to_string(),
    ])?;
    let (mut conn, peer) = server.accept()?;
    assert_eq!(
        peer.ip(),
        ready.http.ip(),
        "the Hello comes from the device's address"
    );
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    // Let the whole packet arrive, then one read must return all of it.
    std::thread::sleep(Duration::from_millis(200));
    let mut buf = vec![0_u8; 4096];
    let n = conn.read(&mut buf)?;
    let hello = HelloPacket::parse(buf.get(..n).ok_or("read past the buffer")?)?;
    assert_eq!(hello.uuid.to_string(), ready.uuid);
    assert_eq!(conn.read(&mut buf)?, 0, "the device closes after the Hello");
    assert!(sim.terminate(Duration::from_secs(10))?.success());
    Ok(())
}
