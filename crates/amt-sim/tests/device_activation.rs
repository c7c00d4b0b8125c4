//! A full in-memory activation: a rustls client presenting `certs/prov-oid.chain.pem` runs
//! MeshCentral's activation sequence against `Device::accept` on the TLS port, the device ends in
//! Post state, and a management client reconnects over TLS (no client certificate) with the new
//! admin password.

mod device_support;

use amt_sim::events::{EventKind, TlsVerdict};
use amt_sim::profile::DeviceProfile;
use amt_sim::state::ProvisioningState;
use device_support::*;

#[test]
fn meshcentral_activation_reaches_post_and_management_reconnects_over_tls() {
    let mut dev = device(DeviceProfile::default());
    let _ = dev.poll_hello(T0);
    activate(&mut dev, T0);
    assert_eq!(dev.provisioning_state(), ProvisioningState::Post);
    let events = dev.drain_events();
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::TlsHandshake { session, verdict: TlsVerdict::Ok, .. } if *session == amt_sim::events::TlsSession::Setup
    )));
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::StateChanged { to, .. } if *to == ProvisioningState::Post
    )));
    assert_eq!(dev.next_hello_due(), None);

    // Management over TLS, digest with the new admin password.
    let body = get_body("AMT_GeneralSettings");
    let mut pipe = TlsPipe::connect(&mut dev, None, T0);
    pipe.handshake(&mut dev, T0).expect("management handshake");
    let r = pipe
        .request(&mut dev, &post(&body, None), T0)
        .expect("request");
    let challenge = r.into_iter().next().expect("401");
    assert_eq!(challenge.status, 401);
    let mut pipe = TlsPipe::connect(&mut dev, None, T0);
    pipe.handshake(&mut dev, T0).expect("management handshake");
    let a = answer(&challenge, "admin", ADMIN_PASSWORD, "1");
    let r = pipe
        .request(&mut dev, &post(&body, Some(&a)), T0)
        .expect("request");
    assert_eq!(r.first().map(|r| r.status), Some(200));
    // The old (MEBx) password no longer works; plain HTTP is still open (AcceptNonSecure).
    let r = digest_plain(&mut dev, &body, "admin", MEBX_PASSWORD, T0);
    assert_eq!(r.status, 401);
    let r = digest_plain(&mut dev, &body, "admin", ADMIN_PASSWORD, T0);
    assert_eq!(r.status, 200);
}

#[test]
fn refused_chain_gets_an_alert_and_an_event() {
    let mut dev = device(DeviceProfile::default());
    let mut pipe = TlsPipe::connect(&mut dev, Some("prov-other-domain"), T0);
    let result = pipe.handshake(&mut dev, T0);
    // TLS 1.3: the client may finish its side before the alert arrives; either way the device
    // closed and recorded the refusal.
    let _ = result;
    assert!(pipe.closed || pipe.conn.is_closed());
    let events = dev.drain_events();
    assert!(
        events.iter().any(|e| matches!(
            &e.kind,
            EventKind::TlsHandshake {
                verdict: TlsVerdict::Refused,
                refusal: Some(_),
                ..
            }
        )),
        "{events:?}"
    );
    assert_eq!(dev.provisioning_state(), ProvisioningState::Pre);
}

#[test]
fn a_request_followed_by_close_notify_is_still_answered() {
    use std::io::{Read as _, Write as _};
    let mut dev = device(DeviceProfile::default());
    let mut pipe = TlsPipe::connect(&mut dev, Some("prov-oid"), T0);
    pipe.handshake(&mut dev, T0).expect("handshake");
    pipe.client
        .writer()
        .write_all(&post(&get_body("AMT_GeneralSettings"), None))
        .expect("write");
    pipe.client.send_close_notify();
    pipe.pump(&mut dev, T0).expect("pump");
    assert!(pipe.closed);
    let mut plain = Vec::new();
    let _ = pipe.client.reader().read_to_end(&mut plain);
    assert_eq!(responses(&plain).first().map(|r| r.status), Some(200));
}

#[test]
fn events_of_a_whole_activation_carry_no_secrets() {
    let mut dev = device(DeviceProfile::default());
    let realm = dev.state().digest_realm().to_owned();
    activate(&mut dev, T0);
    let _ = digest_plain(
        &mut dev,
        &get_body("AMT_GeneralSettings"),
        "admin",
        ADMIN_PASSWORD,
        T0,
    );
    let lines: Vec<String> = dev
        .drain_events()
        .iter()
        .map(|e| serde_json::to_string(e).expect("json"))
        .collect();
    assert!(lines.len() > 10);
    let ha1 = hex::encode(amt_wire::digest::ha1("admin", &realm, ADMIN_PASSWORD));
    for line in &lines {
        for secret in [ADMIN_PASSWORD, MEBX_PASSWORD, ha1.as_str()] {
            assert!(!line.contains(secret), "secret in event: {line}");
        }
    }
}
