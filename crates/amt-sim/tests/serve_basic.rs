//! `amt-sim serve` over real sockets: the ready line, unauthenticated Identify, digest-authenticated
//! Get on a keep-alive connection, the event stream, and a clean exit on SIGTERM.

#![expect(
    clippy::disallowed_methods,
    reason = "a real-socket test polls a file in real time"
)]

mod serve_support;

use std::time::Duration;

use serve_support::{Client, Result, Sim, body_text, identify};

const GET_GENERAL_SETTINGS: &str =
    include_str!("../../amt-wire/testdata/wsman/requests/gwm_get_general_settings.xml");
const ADMIN_PASSWORD: &str = "Serve-Test-1!";

/// A profile of an already provisioned device (admin password set, no TLS).
fn provisioned_profile(dir: &std::path::Path) -> Result<std::path::PathBuf> {
    let path = dir.join("provisioned.yaml");
    std::fs::write(
        &path,
        format!(
            "uuid: 11111111-2222-3333-4444-555555555555\nprovisioning: {{ state: post, admin_password: \"{ADMIN_PASSWORD}\" }}\n"
        ),
    )?;
    Ok(path)
}

#[test]
fn serve_answers_identify_and_digest_get_then_stops_on_sigterm() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let profile = provisioned_profile(dir.path())?;
    let events = dir.path().join("events.jsonl");
    let state = dir.path().join("state");
    let (mut sim, ready) = Sim::serve(&[
        "--profile",
        profile.to_str().ok_or("path")?,
        "--http-port",
        "0",
        "--tls-port",
        "0",
        "--no-hello",
        "--state-dir",
        state.to_str().ok_or("path")?,
        "--events",
        events.to_str().ok_or("path")?,
    ])?;
    assert_eq!(ready.uuid, "11111111-2222-3333-4444-555555555555");
    assert_eq!(ready.http.ip().to_string(), "127.0.0.1");
    assert_ne!(ready.http.port(), 0);
    assert_ne!(ready.tls.port(), 0);

    let answer = identify(ready.http)?;
    assert_eq!(answer.status, 200, "{}", body_text(&answer));
    assert!(body_text(&answer).contains("IdentifyResponse"));

    // Digest: the first request draws the challenge, the next ones reuse the nonce (nc 2, 3 …)
    // on the same connection.
    let mut admin = Client::new(ready.http, "admin", ADMIN_PASSWORD);
    for _ in 0..3 {
        let answer = admin.post(GET_GENERAL_SETTINGS)?;
        assert_eq!(answer.status, 200, "{}", body_text(&answer));
        assert!(body_text(&answer).contains("DigestRealm"));
    }
    let mut wrong = Client::new(ready.http, "admin", "not-the-password");
    assert_eq!(wrong.post(GET_GENERAL_SETTINGS)?.status, 401);

    // The event stream is flushed as events happen: the Get shows while the device still runs.
    let mut live = String::new();
    for _ in 0..100 {
        live = std::fs::read_to_string(&events).unwrap_or_default();
        if live.contains("GeneralSettings") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        live.contains("GeneralSettings"),
        "events not flushed while running: {live}"
    );

    let status = sim.terminate(Duration::from_secs(10))?;
    assert!(status.success(), "exit after SIGTERM: {status}");

    let text = std::fs::read_to_string(&events)?;
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<std::result::Result<_, _>>()?;
    assert!(!lines.is_empty(), "events were written");
    assert!(
        lines.iter().all(|e| e["uuid"] == ready.uuid.as_str()),
        "{text}"
    );
    assert!(
        text.contains("GeneralSettings"),
        "the Get shows in the events: {text}"
    );
    assert!(!text.contains(ADMIN_PASSWORD), "no secrets in events");
    Ok(())
}

#[test]
fn the_default_profile_serves_and_says_where_hellos_go() -> Result<()> {
    let (mut sim, ready) = Sim::serve(&["--http-port", "0", "--tls-port", "0", "--no-hello"])?;
    assert_eq!(ready.uuid.len(), 36);
    // A fresh (pre-provisioning) device still answers Identify on its TLS-less port or refuses
    // cleanly; either way the process stays up and stops on SIGTERM.
    let _ = identify(ready.http);
    assert!(sim.terminate(Duration::from_secs(10))?.success());
    Ok(())
}
