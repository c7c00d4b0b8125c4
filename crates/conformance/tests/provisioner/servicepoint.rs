//! The service point against the default `amt_sim` device: its Hellos over the whole schedule
//! reach the service point, which provisions it (once, while the session runs); the in-band OTP
//! the client agent hands over is the one the device accepts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use amt_sim::device::Device;
use amt_sim::profile::DeviceProfile;
use amt_wire::hello::HelloPacket;
use amt_wire::thumbprint::Thumbprint;
use amt_wire::time::Timestamp;
use provisioner_core::client_agent::start_inband;
use provisioner_core::env::Environment;
use provisioner_core::events::{DiscardReason, ProvisionEvent};
use provisioner_core::logs::{LogConfig, LogFile, Logs};
use provisioner_core::servicepoint::{Action, Input, Mode, ServicePoint};
use rand::SeedableRng;

use super::{T0, TestResult};

/// SHA-256 of `certs/root-rsa2048.cert.pem` (certs/README.md).
const ROOT_SHA256: &str = "8a108eff0eac6ccca7800ca8dcacd316bb8e724e6626d12cb36bb5f8fd1d353d";

fn at(secs: u64) -> Timestamp {
    T0 + Duration::from_secs(secs)
}

fn tp(hex: &str) -> Result<Thumbprint, Box<dyn std::error::Error>> {
    Ok(Thumbprint::parse_hex(hex)?)
}

fn service_point(env: Environment) -> Result<ServicePoint, Box<dyn std::error::Error>> {
    Ok(ServicePoint::new(
        env,
        vec![tp(ROOT_SHA256)?],
        Logs::new(LogConfig::default()),
    ))
}

fn discards(sp: &ServicePoint) -> Vec<DiscardReason> {
    sp.events()
        .events()
        .filter_map(|e| match e {
            ProvisionEvent::HelloDiscarded { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

fn inband_env() -> Environment {
    let mut env = Environment::default_for_tests();
    if let Some(c) = env.computers.first_mut() {
        c.client_installed = true;
        c.wired_ip = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    env
}

fn device(profile: DeviceProfile) -> Result<Device, Box<dyn std::error::Error>> {
    Ok(Device::new(profile, None, 7, T0)?)
}

/// Every Hello of the schedule, parsed, with the time it was sent.
fn hellos(
    device: &mut Device,
) -> Result<Vec<(Timestamp, HelloPacket)>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    let end = T0 + Duration::from_secs(25 * 3600);
    let mut now = T0;
    while let Some(due) = device.next_hello_due() {
        if due > end {
            break;
        }
        now = now.max(due);
        while let Some(beacon) = device.poll_hello(now) {
            out.push((now, HelloPacket::parse(&beacon.bytes)?));
        }
    }
    Ok(out)
}

#[test]
fn default_device_is_provisioned_from_its_first_hello() -> TestResult {
    let mut dev = device(DeviceProfile::default())?;
    let env = Environment::default_for_tests();
    assert_eq!(
        env.computers[0].uuid,
        dev.uuid(),
        "default env imports the default device"
    );
    let mut sp = service_point(env)?;
    let from = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40_000);
    let all = hellos(&mut dev)?;
    assert_eq!(all.len(), 40, "PRODUCT.md §3 schedule");
    let mut actions = Vec::new();
    let mut first_hour = 0;
    for (now, packet) in all {
        let new = sp.handle(Input::Hello { from, packet, now });
        if now < at(3600) {
            first_hour += new.len();
        }
        actions.extend(new);
    }
    // One session in the first hour (later Hellos wait for it); a session that never reports
    // is presumed lost after an hour, so the 60-minute Hello and each hourly one start anew.
    assert_eq!(first_hour, 1);
    assert_eq!(actions.len(), 1 + 1 + 23);
    assert!(matches!(
        &actions[0],
        Action::Provision { target, mode: Mode::OutOfBand, cert_index: 0, fqdn, .. }
            if *target == SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 16993)
                && fqdn == "amt-device-01.corp.amt-sim.test"
    ));
    assert_eq!(discards(&sp).len(), 40 - 25);
    Ok(())
}

#[test]
fn device_without_the_test_root_gets_a11_on_every_hello() -> TestResult {
    let mut profile = DeviceProfile::default();
    profile.hashes.retain(|h| !h.name.contains("amt-sim"));
    let mut dev = device(profile)?;
    let mut sp = service_point(Environment::default_for_tests())?;
    let from = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40_000);
    let mut count = 0;
    for (now, packet) in hellos(&mut dev)? {
        assert_eq!(sp.handle(Input::Hello { from, packet, now }), vec![]);
        count += 1;
    }
    let a11 = sp
        .logs()
        .ids(LogFile::AmtOpMgr)
        .into_iter()
        .filter(|id| *id == "A-11")
        .count();
    assert_eq!((count, a11), (40, 40));
    Ok(())
}

#[test]
fn in_band_otp_from_the_client_agent_is_accepted_by_the_device() -> TestResult {
    let mut profile = DeviceProfile::default();
    profile.provisioning.heci_driver_present = true;
    let mut dev = device(profile)?;
    let env = inband_env();
    let computer = env.computers[0].clone();
    let hashes: Vec<Thumbprint> = dev
        .heci_get_hashes(T0)?
        .into_iter()
        .filter(|h| h.active)
        .map(|h| h.thumbprint)
        .collect();
    let mut sp = service_point(env)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let start = start_inband(
        &computer,
        &[tp(ROOT_SHA256)?],
        &hashes,
        &mut rng,
        sp.logs_mut(),
        T0,
    )?;
    dev.heci_set_otp(&start.otp, T0)?;
    let actions = sp.handle(Input::InBandRequest {
        uuid: start.request.uuid,
        otp_hash: start.request.otp_hash,
        now: T0,
    });
    assert!(matches!(
        &actions[..],
        [Action::Provision {
            mode: Mode::InBand { .. },
            ..
        }]
    ));
    Ok(())
}
