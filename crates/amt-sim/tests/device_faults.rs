//! Profile faults applied by the device: step-addressed protocol faults (ReturnValue on the nth
//! CommitChanges, empty body, HTTP status, delay, closes, close after the ServerHello), network
//! faults (refused port, wired link down) and a forced TLS refusal; plus the local host interface
//! (HECI) used by in-band provisioning.

mod device_support;

use std::time::Duration;

use amt_sim::device::{ConnectRefused, HeciError};
use amt_sim::events::{EventKind, TlsVerdict};
use amt_sim::profile::DeviceProfile;
use amt_sim::state::ProvisioningState;
use device_support::*;

fn with_faults(yaml: &str) -> DeviceProfile {
    DeviceProfile::from_yaml(yaml, std::path::Path::new(".")).expect("profile")
}

fn commit_body() -> String {
    let n = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationService";
    format!(
        "<Envelope xmlns=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" \
xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\"><Header><a:Action>{n}/CommitChanges</a:Action><a:To>/wsman</a:To>\
<w:ResourceURI>{n}</w:ResourceURI><a:MessageID>9</a:MessageID></Header><Body><r:CommitChanges_INPUT xmlns:r=\"{n}\">\
</r:CommitChanges_INPUT></Body></Envelope>"
    )
}

fn fault_applied(dev: &mut amt_sim::device::Device, index: usize) -> bool {
    dev.drain_events()
        .iter()
        .any(|e| matches!(e.kind, EventKind::FaultApplied { fault, .. } if fault == index))
}

#[test]
fn return_value_on_the_second_commit_changes() {
    let mut dev = device(with_faults(
        "faults:\n  - on: { method: CommitChanges, nth: 2 }\n    do: { return_value: 1 }\n",
    ));
    activate(&mut dev, T0); // first CommitChanges succeeds
    assert_eq!(dev.provisioning_state(), ProvisioningState::Post);
    let r = digest_plain(&mut dev, &commit_body(), "admin", ADMIN_PASSWORD, T0);
    assert_eq!((r.status, return_value(&body_text(&r))), (200, Some(1)));
    assert!(fault_applied(&mut dev, 0));
    let r = digest_plain(&mut dev, &commit_body(), "admin", ADMIN_PASSWORD, T0);
    assert_eq!(return_value(&body_text(&r)), Some(0), "only the 2nd one");
}

#[test]
fn empty_body_status_delay_and_close_faults() {
    let mut dev = device(with_faults(
        "provisioning: { state: post, admin_password: Adm1n-P@ssw0rd }\n\
         faults:\n\
         \x20 - on: { action: Get, class: AMT_GeneralSettings }\n    do: empty_body\n\
         \x20 - on: { action: Get, class: AMT_SetupAndConfigurationService }\n    do: { http_status: 500 }\n\
         \x20 - on: { action: Get, class: CIM_ComputerSystem }\n    do: { delay: 40s }\n\
         \x20 - on: { action: Get, class: AMT_EthernetPortSettings }\n    do: close_connection\n\
         \x20 - on: { action: Get, class: AMT_TimeSynchronizationService }\n    do: close_after_response\n",
    ));
    let r = digest_plain(
        &mut dev,
        &get_body("AMT_GeneralSettings"),
        "admin",
        ADMIN_PASSWORD,
        T0,
    );
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    let r = digest_plain(
        &mut dev,
        &get_body("AMT_SetupAndConfigurationService"),
        "admin",
        ADMIN_PASSWORD,
        T0,
    );
    assert_eq!(r.status, 500);

    let call = |dev: &mut amt_sim::device::Device, class: &str| {
        let body = get_body(class);
        let (challenge, _) = exchange(dev, &post(&body, None), T0);
        let a = answer(&challenge, "admin", ADMIN_PASSWORD, "1");
        let mut conn = dev.accept(http_addr(), peer(), T0).expect("accept");
        conn.receive(dev, &post(&body, Some(&a)), T0)
    };
    let out = call(&mut dev, "CIM_ComputerSystem");
    assert_eq!(out.delay, Duration::from_secs(40));
    assert!(!out.send.is_empty());
    let out = call(&mut dev, "AMT_EthernetPortSettings");
    assert!(out.close && out.send.is_empty());
    let out = call(&mut dev, "AMT_TimeSynchronizationService");
    assert!(out.close && !out.send.is_empty());
    assert!(fault_applied(&mut dev, 4));
}

#[test]
fn close_after_server_hello() {
    let mut dev = device(with_faults(
        "faults:\n  - on: { step: tls-server-hello }\n    do: close_connection\n",
    ));
    let mut pipe = TlsPipe::connect(&mut dev, Some("prov-oid"), T0);
    let _ = pipe.handshake(&mut dev, T0);
    assert!(pipe.closed);
    assert!(pipe.client.is_handshaking());
    assert!(!pipe.conn.setup_accepted());
    assert!(fault_applied(&mut dev, 0));
}

#[test]
fn network_faults_refuse_connections() {
    let mut dev = device(with_faults("faults:\n  - refuse_port: 16993\n"));
    assert_eq!(
        dev.accept(tls_addr(), peer(), T0).map(|_| ()),
        Err(ConnectRefused::PortFault(16993))
    );
    assert!(dev.accept(http_addr(), peer(), T0).is_ok());
    let mut dev = device(with_faults("faults:\n  - no_wired_link: true\n"));
    assert_eq!(
        dev.accept(http_addr(), peer(), T0).map(|_| ()),
        Err(ConnectRefused::NoWiredLink)
    );
    assert!(
        dev.drain_events()
            .iter()
            .any(|e| matches!(e.kind, EventKind::ConnectionRefused { .. }))
    );
}

#[test]
fn forced_tls_refusal_and_policy_fault() {
    let mut dev = device(with_faults(
        "faults:\n  - refuse_tls: root-not-in-hash-list\n",
    ));
    let mut pipe = TlsPipe::connect(&mut dev, Some("prov-oid"), T0);
    let _ = pipe.handshake(&mut dev, T0);
    assert!(!pipe.conn.setup_accepted());
    assert!(pipe.closed);
    assert!(dev.drain_events().iter().any(|e| matches!(
        &e.kind,
        EventKind::TlsHandshake { verdict: TlsVerdict::Refused, refusal: Some(id), .. } if id.id() == "root-not-in-hash-list"
    )));
    // Deactivating the test root's hash makes the real policy refuse the chain.
    let mut dev = device(with_faults(
        "faults:\n  - hash_active: { name: amt-sim Test Root (TEST ONLY), active: false }\n",
    ));
    let mut pipe = TlsPipe::connect(&mut dev, Some("prov-oid"), T0);
    let _ = pipe.handshake(&mut dev, T0);
    assert!(!pipe.conn.setup_accepted());
    assert!(dev.drain_events().iter().any(|e| matches!(
        &e.kind,
        EventKind::TlsHandshake {
            verdict: TlsVerdict::Refused,
            ..
        }
    )));
}

#[test]
fn heci_in_band_flow() {
    let mut profile = DeviceProfile::default();
    profile.hello.enabled = false;
    let mut dev = device(profile.clone());
    assert_eq!(
        dev.heci_get_hashes(T0).map(|_| ()),
        Err(HeciError::NoDriver)
    );
    profile.provisioning.heci_driver_present = true;
    let mut dev = device(profile);
    let hashes = dev.heci_get_hashes(T0).expect("hashes");
    assert_eq!(hashes.len(), dev.profile().hashes.len());
    assert!(hashes.iter().all(|h| h.active));
    assert_eq!(
        dev.heci_get_provisioning_state(T0),
        Ok(ProvisioningState::Pre)
    );
    assert_eq!(dev.heci_set_otp(b"short", T0), Err(HeciError::OtpLength(5)));
    dev.heci_set_otp(b"OTP-12345678", T0).expect("otp");
    dev.heci_start_configuration(T0).expect("start");
    assert_eq!(dev.provisioning_state(), ProvisioningState::In);
    assert_eq!(
        dev.heci_set_otp(b"OTP-99999999", T0),
        Err(HeciError::InvalidState(ProvisioningState::In))
    );
    // The setup session works without any Hello, and exposes the OTP.
    let mut pipe = TlsPipe::connect(&mut dev, Some("prov-oid"), T0);
    pipe.handshake(&mut dev, T0).expect("handshake");
    assert!(pipe.conn.setup_accepted());
    let (s, b) = setup_call(
        &mut pipe,
        &mut dev,
        &get_body("AMT_SetupAndConfigurationService"),
        T0,
    );
    assert_eq!(s, 200);
    use base64::Engine as _;
    let otp = base64::engine::general_purpose::STANDARD.encode(b"OTP-12345678");
    assert_eq!(element_text(&b, "ProvisioningServerOTP"), Some(otp));
}

#[test]
fn date_zero_clock_mints_an_old_self_signed_certificate() {
    let profile = with_faults("clock: { epoch: 2004-01-01T00:00:00Z }\n");
    let mut dev = device(profile);
    assert_eq!(
        dev.device_clock(T0),
        Timestamp::from_unix_secs(1_072_915_200)
    );
    assert_eq!(
        dev.device_clock(T0 + Duration::from_secs(60)),
        Timestamp::from_unix_secs(1_072_915_260)
    );
    let mut pipe = TlsPipe::connect(&mut dev, Some("prov-oid"), T0);
    let _ = pipe.handshake(&mut dev, T0);
    let certs = pipe.client.peer_certificates().expect("device certificate");
    let der = certs.first().expect("leaf").as_ref().to_vec();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("x509");
    assert_eq!(cert.validity().not_before.timestamp(), 1_072_915_200);
    // The un-set clock is before the provisioning certificate's notBefore: refused.
    assert!(!pipe.conn.setup_accepted());
    assert!(dev.drain_events().iter().any(|e| matches!(
        &e.kind,
        EventKind::TlsHandshake {
            verdict: TlsVerdict::Refused,
            ..
        }
    )));
}

use amt_wire::time::Timestamp;

#[test]
fn initial_states_from_the_profile() {
    let mut dev = device(with_faults(
        "provisioning: { state: post, admin_password: Adm1n-P@ssw0rd }\n",
    ));
    assert_eq!(dev.provisioning_state(), ProvisioningState::Post);
    assert_eq!(dev.next_hello_due(), None);
    // Provisioned by another solution: the TLS port serves a self-signed management certificate
    // without asking for a client certificate, and digest checks the admin password there.
    let mut pipe = TlsPipe::connect(&mut dev, None, T0);
    pipe.handshake(&mut dev, T0)
        .expect("management TLS handshake");
    assert!(!pipe.conn.setup_accepted());
    let chain = pipe.client.peer_certificates().expect("server certificate");
    assert_eq!(chain.len(), 1);
    let (_, cert) = x509_parser::parse_x509_certificate(chain[0].as_ref()).expect("x509");
    assert_eq!(cert.subject(), cert.issuer(), "self-signed");
    let body = get_body("AMT_GeneralSettings");
    // One TLS connection per request (a 401 closes the connection).
    let over_tls = |dev: &mut amt_sim::device::Device, auth: Option<&str>| {
        let mut pipe = TlsPipe::connect(dev, None, T0);
        pipe.handshake(dev, T0).expect("handshake");
        let mut r = pipe.request(dev, &post(&body, auth), T0).expect("request");
        r.pop().expect("a response")
    };
    let challenge = over_tls(&mut dev, None);
    assert_eq!(challenge.status, 401);
    let wrong = answer(&challenge, "admin", "Not-The-P@ss1", "00000001");
    assert_eq!(over_tls(&mut dev, Some(&wrong)).status, 401);
    let challenge = over_tls(&mut dev, None);
    let right = answer(&challenge, "admin", ADMIN_PASSWORD, "00000001");
    assert_eq!(over_tls(&mut dev, Some(&right)).status, 200);
    // Non-secure connections stay accepted: plain HTTP takes the admin password too.
    let r = digest_plain(
        &mut dev,
        &get_body("AMT_GeneralSettings"),
        "admin",
        ADMIN_PASSWORD,
        T0,
    );
    assert_eq!(r.status, 200);
    let mut dev = device(with_faults("provisioning: { state: in }\n"));
    assert_eq!(dev.provisioning_state(), ProvisioningState::In);
    let mut pipe = TlsPipe::connect(&mut dev, Some("prov-oid"), T0);
    pipe.handshake(&mut dev, T0).expect("handshake");
    assert!(pipe.conn.setup_accepted());
    let mut dev = device(with_faults("provisioning: { mode: disabled }\n"));
    assert_eq!(dev.next_hello_due(), None);
    assert!(matches!(
        dev.accept(tls_addr(), peer(), T0),
        Err(ConnectRefused::TlsClosed(_))
    ));
}
