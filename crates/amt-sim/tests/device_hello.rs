//! Hello beacons on a virtual clock: the 24-hour schedule (40 Hellos at the documented offsets,
//! then nothing), stopping when setup starts, and no Hellos without a wired link.

mod device_support;

use std::net::SocketAddr;
use std::time::Duration;

use amt_sim::events::EventKind;
use amt_sim::faults::FaultSpec;
use amt_sim::hello::HelloTarget;
use amt_sim::profile::{DeviceProfile, NetInterface};
use amt_wire::hello::{HelloKind, HelloPacket};
use amt_wire::thumbprint::Thumbprint;
use device_support::*;

/// Runs the device's Hello schedule on a virtual clock, jumping from one due time to the next.
fn replay(
    dev: &mut amt_sim::device::Device,
    until: Duration,
) -> Vec<(Duration, Vec<u8>, HelloTarget)> {
    let mut sent = Vec::new();
    let end = T0 + until;
    while let Some(due) = dev.next_hello_due() {
        if due > end {
            break;
        }
        while let Some(b) = dev.poll_hello(due) {
            sent.push((due - T0, b.bytes, b.target));
        }
    }
    sent
}

#[test]
fn default_schedule_emits_forty_hellos_in_24_hours_then_stops() {
    let mut dev = device(DeviceProfile::default());
    let sent = replay(&mut dev, Duration::from_secs(48 * 3600));
    assert_eq!(sent.len(), 40);
    let mins: Vec<u64> = sent.iter().map(|(d, _, _)| d.as_secs() / 60).collect();
    let mut expected: Vec<u64> = (0..5).collect();
    expected.extend((1..=12).map(|k| 5 * k));
    expected.extend((2..=24).map(|h| 60 * h));
    assert_eq!(mins, expected);
    assert_eq!(dev.next_hello_due(), None);
    assert!(
        dev.poll_hello(T0 + Duration::from_secs(100 * 3600))
            .is_none()
    );
    // Each Hello is a v3 PKI Hello with the active hashes and a saturating retry count.
    let target: SocketAddr = "127.0.0.1:9971".parse().expect("addr");
    let active = dev.profile().active_hashes();
    for (i, (_, bytes, t)) in sent.iter().enumerate() {
        assert_eq!(t, &HelloTarget::Address(target));
        let p = HelloPacket::parse(bytes).expect("hello parses");
        assert_eq!(p.uuid, dev.uuid());
        assert_eq!(p.retry_count, u32::try_from(i).expect("small").min(14));
        assert_eq!(
            p.kind,
            HelloKind::Pki {
                hashes: active.clone()
            }
        );
    }
    let test_root = Thumbprint::parse_hex(amt_sim::profile::TEST_ROOT_SHA256).expect("test root");
    assert!(active.contains(&test_root));
    let events = dev.drain_events();
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::HelloSent { .. }))
            .count(),
        40
    );
}

#[test]
fn six_hour_variant_and_explicit_offsets() {
    let profile = DeviceProfile::from_yaml(
        "hello: { schedule: six-hours }\n",
        std::path::Path::new("."),
    )
    .expect("profile");
    let mut dev = device(profile);
    let sent = replay(&mut dev, Duration::from_secs(48 * 3600));
    assert_eq!(sent.len(), 22);
    assert_eq!(
        sent.last().map(|s| s.0),
        Some(Duration::from_secs(6 * 3600))
    );
    let profile = DeviceProfile::from_yaml(
        "hello: { offsets: [0s, 30s, 2m] }\n",
        std::path::Path::new("."),
    )
    .expect("profile");
    let mut dev = device(profile);
    let offsets: Vec<u64> = replay(&mut dev, Duration::from_secs(3600))
        .iter()
        .map(|s| s.0.as_secs())
        .collect();
    assert_eq!(offsets, vec![0, 30, 120]);
}

#[test]
fn hellos_stop_when_the_setup_session_is_accepted() {
    let mut dev = device(DeviceProfile::default());
    let first = replay(&mut dev, Duration::from_secs(150));
    assert_eq!(first.len(), 3);
    let now = T0 + Duration::from_secs(150);
    let mut pipe = TlsPipe::connect(&mut dev, Some("prov-oid"), now);
    pipe.handshake(&mut dev, now).expect("handshake");
    assert!(pipe.conn.setup_accepted());
    assert_eq!(dev.next_hello_due(), None);
    assert!(replay(&mut dev, Duration::from_secs(48 * 3600)).is_empty());
    let events = dev.drain_events();
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::HelloStopped { reason } if reason == "setup-started"
    )));
}

#[test]
fn a_refused_setup_session_does_not_stop_hellos() {
    let mut dev = device(DeviceProfile::default());
    let mut pipe = TlsPipe::connect(&mut dev, Some("prov-plain"), T0);
    let _ = pipe.handshake(&mut dev, T0);
    assert!(!pipe.conn.setup_accepted());
    assert_eq!(replay(&mut dev, Duration::from_secs(48 * 3600)).len(), 40);
}

#[test]
fn no_hellos_over_wireless_only() {
    let mut profile = DeviceProfile::default();
    profile.network.wired.link_up = false;
    profile.network.wireless = Some(NetInterface {
        mac: "00:16:3e:a3:7c:02".into(),
        ipv4: Some("127.0.0.2".parse().expect("ip")),
        dhcp: true,
        link_up: true,
    });
    let mut dev = device(profile);
    assert!(replay(&mut dev, Duration::from_secs(48 * 3600)).is_empty());
    let events = dev.drain_events();
    let suppressed = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::HelloSuppressed { reason } if reason == "no-wired-link"))
        .count();
    assert_eq!(suppressed, 40);
    // Setup over the wireless address is refused at connect time.
    let wireless = SocketAddr::from(([127, 0, 0, 2], 16993));
    assert!(dev.accept(wireless, peer(), T0).is_err());
}

#[test]
fn hellos_off_and_missing_dhcp_domain_are_recorded() {
    let mut profile = DeviceProfile::default();
    profile.faults.push(FaultSpec::HellosOff);
    let mut dev = device(profile);
    assert!(replay(&mut dev, Duration::from_secs(3600)).is_empty());
    assert!(dev.drain_events().iter().any(
        |e| matches!(&e.kind, EventKind::HelloSuppressed { reason } if reason == "hellos-off")
    ));
    let mut profile = DeviceProfile::default();
    profile.network.dhcp.domain = None;
    let mut dev = device(profile);
    assert!(replay(&mut dev, Duration::from_secs(3600)).is_empty());
    assert!(dev.drain_events().iter().any(
        |e| matches!(&e.kind, EventKind::HelloSuppressed { reason } if reason == "no-dns-domain")
    ));
}

#[test]
fn a_fleet_replays_a_day_of_hellos_in_order_on_one_virtual_clock() {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut fleet: Vec<amt_sim::device::Device> = (0..100u64)
        .map(|i| {
            let p = DeviceProfile {
                uuid: format!("8c4d6b2a-1f3e-4a5b-9c7d-{i:012x}"),
                ..DeviceProfile::default()
            };
            amt_sim::device::Device::new(p, None, i, T0 + Duration::from_secs(i)).expect("device")
        })
        .collect();
    let mut heap: BinaryHeap<Reverse<(amt_wire::time::Timestamp, usize)>> = fleet
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.next_hello_due().map(|t| Reverse((t, i))))
        .collect();
    let mut sent = 0usize;
    let mut last = T0;
    while let Some(Reverse((due, i))) = heap.pop() {
        assert!(due >= last, "virtual time never goes back");
        last = due;
        let dev = &mut fleet[i];
        while let Some(b) = dev.poll_hello(due) {
            assert_eq!(
                HelloPacket::parse(&b.bytes).map(|p| p.uuid).ok(),
                Some(dev.uuid())
            );
            sent += 1;
        }
        if let Some(next) = dev.next_hello_due() {
            heap.push(Reverse((next, i)));
        }
    }
    assert_eq!(sent, 100 * 40);
    assert_eq!(last, T0 + Duration::from_secs(99 + 24 * 3600));
}

#[test]
fn disabled_hellos_have_no_schedule() {
    let mut profile = DeviceProfile::default();
    profile.hello.enabled = false;
    let mut dev = device(profile);
    assert_eq!(dev.next_hello_due(), None);
    assert!(dev.poll_hello(T0).is_none());
    assert!(dev.drain_events().iter().any(
        |e| matches!(&e.kind, EventKind::HelloStopped { reason } if reason == "hellos-disabled")
    ));
}
