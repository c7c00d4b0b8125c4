//! `amt-sim fleet`: many devices in one process, each with its own UUID and port pair, each
//! answering on its own sockets.

mod serve_support;

use std::collections::HashSet;
use std::time::Duration;

use serve_support::{Result, Sim, identify, parse_ready};

#[test]
fn fifty_devices_come_up_with_distinct_identities_and_each_answers() -> Result<()> {
    let count = 50;
    let mut sim = Sim::spawn(&[
        "fleet",
        "--count",
        &count.to_string(),
        "--http-port",
        "0",
        "--tls-port",
        "0",
        "--no-hello",
    ])?;
    let mut devices = Vec::new();
    for _ in 0..count {
        devices.push(parse_ready(&sim.line()?, "device")?);
    }
    assert_eq!(sim.line()?, format!("ready count={count}"));
    let uuids: HashSet<&str> = devices.iter().map(|d| d.uuid.as_str()).collect();
    assert_eq!(uuids.len(), count, "every device has its own UUID");
    let ports: HashSet<u16> = devices
        .iter()
        .flat_map(|d| [d.http.port(), d.tls.port()])
        .collect();
    assert_eq!(ports.len(), 2 * count, "every device has its own port pair");
    for device in &devices {
        let answer = identify(device.http)?;
        assert_eq!(answer.status, 200, "device {}", device.uuid);
    }
    assert!(sim.terminate(Duration::from_secs(10))?.success());
    Ok(())
}

#[test]
fn fleet_with_fixed_base_ports_steps_by_two() -> Result<()> {
    // Two devices need base .. base+3. Bases come from below the ephemeral range (where other
    // processes' connections do not land), checked free just before; a base taken meanwhile is
    // retried (bounded).
    let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
    let seed = u32::from(probe.local_addr()?.port());
    drop(probe);
    for attempt in 0..20u32 {
        let offset = (seed.wrapping_mul(7919).wrapping_add(attempt * 104_729)) % 12_000;
        let base = u16::try_from(20_000 + offset - offset % 4).unwrap_or(20_000);
        let free = (0..4).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if !free {
            continue;
        }
        let mut sim = Sim::spawn(&[
            "fleet",
            "--count",
            "2",
            "--http-port",
            &base.to_string(),
            "--tls-port",
            &(base + 1).to_string(),
            "--no-hello",
        ])?;
        let Ok(first) = sim.line() else {
            // Taken between the check and the bind: amt-sim reported it and exited; try another.
            let _ = sim.terminate(Duration::from_secs(5));
            continue;
        };
        let d0 = parse_ready(&first, "device")?;
        let d1 = parse_ready(&sim.line()?, "device")?;
        assert_eq!((d0.http.port(), d0.tls.port()), (base, base + 1));
        assert_eq!((d1.http.port(), d1.tls.port()), (base + 2, base + 3));
        assert_ne!(d0.uuid, d1.uuid);
        assert!(sim.terminate(Duration::from_secs(10))?.success());
        return Ok(());
    }
    Err("no free block of four ports below the ephemeral range in 20 tries".into())
}

#[test]
fn per_address_fleets_put_each_device_on_its_own_loopback_address() -> Result<()> {
    let mut sim = Sim::spawn(&[
        "fleet",
        "--count",
        "3",
        "--per-address",
        "--bind-base",
        "127.0.2.1",
        "--http-port",
        "0",
        "--tls-port",
        "0",
        "--no-hello",
    ])?;
    let mut devices = Vec::new();
    for _ in 0..3 {
        devices.push(parse_ready(&sim.line()?, "device")?);
    }
    assert_eq!(sim.line()?, "ready count=3");
    let addresses: Vec<String> = devices.iter().map(|d| d.http.ip().to_string()).collect();
    assert_eq!(addresses, ["127.0.2.1", "127.0.2.2", "127.0.2.3"]);
    for device in &devices {
        assert_eq!(device.tls.ip(), device.http.ip());
        assert_eq!(identify(device.http)?.status, 200);
    }
    assert!(sim.terminate(Duration::from_secs(10))?.success());
    Ok(())
}
