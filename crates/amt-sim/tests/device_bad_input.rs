//! Hostile input never panics and never grows memory without bound: malformed and oversized
//! HTTP, entity expansion and DOCTYPE, deep nesting, bodies over the limit, TLS garbage, a client
//! sending one byte at a time, and random bytes into `receive`.

mod device_support;

use amt_sim::conn::HTTP_LIMITS;
use amt_sim::events::EventKind;
use amt_sim::profile::DeviceProfile;
use device_support::*;
use proptest::prelude::*;

#[test]
fn malformed_request_line_gets_400_and_close() {
    let mut dev = device(DeviceProfile::default());
    let (r, out) = exchange(&mut dev, b"GARBAGE\r\n\r\n", T0);
    assert_eq!(r.status, 400);
    assert!(out.close);
    assert!(
        dev.drain_events()
            .iter()
            .any(|e| matches!(e.kind, EventKind::HttpError { status: 400, .. }))
    );
}

#[test]
fn oversized_head_gets_431_and_close() {
    let mut dev = device(DeviceProfile::default());
    let mut req = b"POST /wsman HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..2000 {
        req.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "a".repeat(20)).as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    let (r, out) = exchange(&mut dev, &req, T0);
    assert!(matches!(r.status, 431 | 400), "{}", r.status);
    assert!(out.close);
}

#[test]
fn body_over_limit_gets_413_and_close() {
    let mut dev = device(DeviceProfile::default());
    let len = HTTP_LIMITS.max_body_bytes + 1;
    let req = format!("POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Length: {len}\r\n\r\n");
    let (r, out) = exchange(&mut dev, req.as_bytes(), T0);
    assert_eq!(r.status, 413);
    assert!(out.close);
}

const LAUGHS: &str = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Header></Header><Body>&lol3;</Body></Envelope>"#;

#[test]
fn entity_expansion_and_doctype_get_a_fault_after_auth() {
    let mut dev = device(DeviceProfile::default());
    // Unauthenticated: 401, the body is never parsed.
    let (r, _) = exchange(&mut dev, &post(LAUGHS, None), T0);
    assert_eq!(r.status, 401);
    // Authenticated: a SOAP fault, not a crash or an expansion.
    let r = digest_plain(&mut dev, LAUGHS, "admin", "admin", T0);
    assert_eq!(r.status, 400, "{}", body_text(&r));
    assert!(body_text(&r).contains("Fault"));
    assert!(r.body.len() < 4096);
}

#[test]
fn deep_nesting_gets_a_fault() {
    let mut dev = device(DeviceProfile::default());
    let deep = format!(
        "<Envelope xmlns=\"http://www.w3.org/2003/05/soap-envelope\"><Header></Header><Body>{}{}</Body></Envelope>",
        "<a>".repeat(10_000),
        "</a>".repeat(10_000)
    );
    let r = digest_plain(&mut dev, &deep, "admin", "admin", T0);
    assert_eq!(r.status, 400);
    assert!(body_text(&r).contains("Fault"));
}

#[test]
fn one_byte_at_a_time_works_and_stays_bounded() {
    let mut dev = device(DeviceProfile::default());
    let body = get_body("AMT_GeneralSettings");
    let (challenge, _) = exchange(&mut dev, &post(&body, None), T0);
    let a = answer(&challenge, "admin", "admin", "1");
    let req = post(&body, Some(&a));
    let mut conn = dev.accept(http_addr(), peer(), T0).expect("accept");
    let mut sent = Vec::new();
    for b in &req {
        let out = conn.receive(&mut dev, std::slice::from_ref(b), T0);
        sent.extend_from_slice(&out.send);
        assert!(!out.close);
    }
    assert_eq!(responses(&sent).first().map(|r| r.status), Some(200));

    // A head that never ends: the connection is closed once the head limit is passed.
    let mut conn = dev.accept(http_addr(), peer(), T0).expect("accept");
    let mut closed_after = None;
    let junk = b"POST /wsman HTTP/1.1\r\nX: ";
    for i in 0..(HTTP_LIMITS.max_head_bytes * 2) {
        let byte = junk.get(i).copied().unwrap_or(b'a');
        let out = conn.receive(&mut dev, &[byte], T0);
        if out.close {
            closed_after = Some(i);
            break;
        }
    }
    assert!(closed_after.is_some_and(|i| i <= HTTP_LIMITS.max_head_bytes + 1));
}

#[test]
fn tls_garbage_closes_without_panic() {
    let mut dev = device(DeviceProfile::default());
    let mut conn = dev.accept(tls_addr(), peer(), T0).expect("accept");
    let out = conn.receive(&mut dev, b"GET / HTTP/1.1\r\n\r\n", T0);
    assert!(out.close);
    let mut conn = dev.accept(tls_addr(), peer(), T0).expect("accept");
    let out = conn.receive(&mut dev, &[0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3], T0);
    assert!(!out.close || out.send.len() < 64);
    let events = dev.drain_events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e.kind, EventKind::TlsHandshake { .. }))
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_into_receive_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..2048), 1..8), tls in any::<bool>()) {
        let mut dev = device(DeviceProfile::default());
        let local = if tls { tls_addr() } else { http_addr() };
        let mut conn = dev.accept(local, peer(), T0).expect("accept");
        for c in &chunks {
            let out = conn.receive(&mut dev, c, T0);
            prop_assert!(out.send.len() < 64 * 1024);
            if out.close {
                break;
            }
        }
        let out = conn.peer_closed(&mut dev, T0);
        prop_assert!(out.close);
    }
}
