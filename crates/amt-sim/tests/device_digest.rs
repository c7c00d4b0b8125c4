//! Digest authentication as the device enforces it: the 401 shape, wrong/stale/replayed
//! credentials, nonce reuse with increasing `nc`, MeshCentral's `nc="1"` form, the empty POST,
//! unauthenticated Identify, and both setup-session authorisation modes.

mod device_support;

use std::time::Duration;

use amt_sim::auth::NONCE_TTL;
use amt_sim::events::{AuthFailure, EventKind};
use amt_sim::personality::SetupAuth;
use amt_sim::profile::DeviceProfile;
use device_support::*;

const GENERAL: &str = "AMT_GeneralSettings";

#[test]
fn missing_auth_gets_amt_shaped_401() {
    let mut dev = device(DeviceProfile::default());
    let (r, out) = exchange(&mut dev, &post(&get_body(GENERAL), None), T0);
    assert_eq!(r.status, 401);
    assert!(out.close);
    let www = r.headers.get("WWW-Authenticate").unwrap_or_default();
    let realm = dev.state().digest_realm().to_owned();
    assert!(realm.starts_with("Digest:") && realm.len() == 39, "{realm}");
    assert!(
        www.starts_with(&format!("Digest realm=\"{realm}\", nonce=\"")),
        "{www}"
    );
    assert!(www.ends_with("\",stale=\"false\",qop=\"auth\""), "{www}");
    assert_eq!(r.headers.get("Content-Type"), Some("text/html"));
    assert_eq!(r.headers.get("Connection"), Some("close"));
    assert_eq!(
        r.headers.get("Server"),
        Some("Intel(R) Active Management Technology 11.8.50.3399")
    );
    assert!(r.headers.get("Content-Length").is_some());
    assert!(body_text(&r).contains("Log on failed"));
    let events = dev.drain_events();
    assert!(events.iter().any(|e| matches!(
        e.kind,
        EventKind::AuthFailed {
            reason: AuthFailure::Missing,
            ..
        }
    )));
}

#[test]
fn correct_digest_gets_200_and_wrong_password_401() {
    let mut dev = device(DeviceProfile::default());
    let body = get_body(GENERAL);
    let (challenge, _) = exchange(&mut dev, &post(&body, None), T0);
    let wrong = answer(&challenge, "admin", "nope", "00000001");
    let (r, _) = exchange(&mut dev, &post(&body, Some(&wrong)), T0);
    assert_eq!(r.status, 401);
    let good = answer(&challenge, "admin", "admin", "00000001");
    let (r, out) = exchange(&mut dev, &post(&body, Some(&good)), T0);
    assert_eq!(r.status, 200, "{}", body_text(&r));
    assert!(!out.close);
    assert_eq!(
        r.headers.get("Content-Type"),
        Some("application/soap+xml; charset=UTF-8")
    );
    assert_eq!(r.headers.get("X-Frame-Options"), Some("DENY"));
    assert_eq!(r.headers.get("Transfer-Encoding"), Some("chunked"));
    assert!(body_text(&r).contains("DigestRealm"));
    let events = dev.drain_events();
    assert!(events.iter().any(|e| matches!(
        e.kind,
        EventKind::AuthFailed {
            reason: AuthFailure::Wrong,
            ..
        }
    )));
}

#[test]
fn stale_nonce_is_answered_stale_true() {
    let mut dev = device(DeviceProfile::default());
    let body = get_body(GENERAL);
    let (challenge, _) = exchange(&mut dev, &post(&body, None), T0);
    let good = answer(&challenge, "admin", "admin", "1");
    let late = T0 + NONCE_TTL + Duration::from_secs(1);
    let (r, _) = exchange(&mut dev, &post(&body, Some(&good)), late);
    assert_eq!(r.status, 401);
    let www = r.headers.get("WWW-Authenticate").unwrap_or_default();
    assert!(www.contains("stale=\"true\""), "{www}");
}

#[test]
fn nonce_reuse_with_increasing_nc_and_replay_refused() {
    let mut dev = device(DeviceProfile::default());
    let body = get_body(GENERAL);
    let (challenge, _) = exchange(&mut dev, &post(&body, None), T0);
    // MeshCentral: decimal nc without padding, increasing on one keep-alive connection.
    let mut conn = dev.accept(http_addr(), peer(), T0).expect("accept");
    for nc in ["1", "2", "3"] {
        let a = answer(&challenge, "admin", "admin", nc);
        let out = conn.receive(&mut dev, &post(&body, Some(&a)), T0);
        let r = responses(&out.send);
        assert_eq!(r.first().map(|r| r.status), Some(200), "nc={nc}");
        assert!(!out.close);
    }
    // Hex form continues the count on a new connection.
    let a = answer(&challenge, "admin", "admin", "00000004");
    let (r, _) = exchange(&mut dev, &post(&body, Some(&a)), T0);
    assert_eq!(r.status, 200);
    // Replaying an old count is refused.
    let a = answer(&challenge, "admin", "admin", "2");
    let (r, _) = exchange(&mut dev, &post(&body, Some(&a)), T0);
    assert_eq!(r.status, 401);
    assert!(dev.drain_events().iter().any(|e| matches!(
        e.kind,
        EventKind::AuthFailed {
            reason: AuthFailure::Replayed,
            ..
        }
    )));
}

#[test]
fn empty_post_and_garbage_body_get_401_not_400() {
    let mut dev = device(DeviceProfile::default());
    let (r, _) = exchange(&mut dev, &post("", None), T0);
    assert_eq!(r.status, 401);
    let (r, _) = exchange(&mut dev, &post("<not-xml", None), T0);
    assert_eq!(r.status, 401);
}

#[test]
fn identify_is_answered_without_auth() {
    let mut dev = device(DeviceProfile::default());
    let (r, _) = exchange(&mut dev, &post(IDENTIFY, None), T0);
    assert_eq!(r.status, 200, "{}", body_text(&r));
    let text = body_text(&r);
    assert!(text.contains("IdentifyResponse"), "{text}");
    assert!(text.contains("AMT 11.8"), "{text}");
}

#[test]
fn setup_session_certificate_mode_accepts_any_authorization() {
    let mut dev = device(DeviceProfile::default());
    assert_eq!(dev.traits().setup_auth, SetupAuth::Certificate);
    let mut pipe = TlsPipe::connect(&mut dev, Some("prov-oid"), T0);
    pipe.handshake(&mut dev, T0).expect("handshake");
    let r = pipe
        .request(&mut dev, &post(&get_body(GENERAL), None), T0)
        .expect("request");
    assert_eq!(r.first().map(|r| r.status), Some(200));
    assert!(pipe.conn.setup_accepted());
}

#[test]
fn setup_session_digest_mode_demands_admin_and_mebx_password() {
    let mut profile = DeviceProfile {
        setup_auth: Some(SetupAuth::Digest),
        ..DeviceProfile::default()
    };
    profile.provisioning.mebx_password = "Mebx-P@ss1".into();
    let mut dev = device(profile);
    let body = get_body(GENERAL);
    let mut pipe = TlsPipe::connect(&mut dev, Some("prov-oid"), T0);
    pipe.handshake(&mut dev, T0).expect("handshake");
    let r = pipe
        .request(&mut dev, &post(&body, None), T0)
        .expect("request");
    let challenge = r.into_iter().next().expect("401");
    assert_eq!(challenge.status, 401);
    // A second account with the wrong password fails, admin + MEBx password works.
    let mut pipe = TlsPipe::connect(&mut dev, Some("prov-oid"), T0);
    pipe.handshake(&mut dev, T0).expect("handshake");
    let a = answer(&challenge, "admin", "admin", "00000001");
    let r = pipe
        .request(&mut dev, &post(&body, Some(&a)), T0)
        .expect("request");
    assert_eq!(r.first().map(|r| r.status), Some(401));
    let mut pipe = TlsPipe::connect(&mut dev, Some("prov-oid"), T0);
    pipe.handshake(&mut dev, T0).expect("handshake");
    let a = answer(&challenge, "admin", "Mebx-P@ss1", "00000002");
    let r = pipe
        .request(&mut dev, &post(&body, Some(&a)), T0)
        .expect("request");
    assert_eq!(r.first().map(|r| r.status), Some(200));
}

#[test]
fn transcripts_of_the_401_and_identify_are_stable() {
    let mut dev = device(DeviceProfile::default());
    let mut conn = dev.accept(http_addr(), peer(), T0).expect("accept");
    let out = conn.receive(&mut dev, &post(&get_body(GENERAL), None), T0);
    insta::assert_snapshot!("unauthorized_401", String::from_utf8_lossy(&out.send));
    let mut conn = dev.accept(http_addr(), peer(), T0).expect("accept");
    let out = conn.receive(&mut dev, &post(IDENTIFY, None), T0);
    insta::assert_snapshot!("identify_200", String::from_utf8_lossy(&out.send));
}

#[test]
fn an_unauthenticated_flood_does_not_lock_out_the_admin() {
    let mut dev = device(DeviceProfile::default());
    let body = get_body(GENERAL);
    let (challenge, _) = exchange(&mut dev, &post(&body, None), T0);
    // While the admin's answer is on its way, a flood of unauthenticated requests, each
    // answered 401 with a fresh nonce.
    for _ in 0..5_000 {
        let (r, _) = exchange(&mut dev, &post(&body, None), T0);
        assert_eq!(r.status, 401);
    }
    let a = answer(&challenge, "admin", "admin", "00000001");
    let later = T0 + Duration::from_millis(50);
    assert_eq!(
        exchange(&mut dev, &post(&body, Some(&a)), later).0.status,
        200
    );
    // Replay protection stays.
    let (r, _) = exchange(&mut dev, &post(&body, Some(&a)), later);
    assert_eq!(r.status, 401);
}
