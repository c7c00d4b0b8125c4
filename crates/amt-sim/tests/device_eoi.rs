//! The pre-AMT-9 SOAP interface through the device (HTTP, digest, SOAP 1.1) as amttool uses it:
//! core version, host and domain name, power state and remote control on an AMT 6 personality;
//! AMT 9+ answers the same paths with 404.

mod device_support;

use amt_sim::profile::DeviceProfile;
use amt_wire::digest::{Challenge, NonceCount};
use amt_wire::time::Timestamp;
use device_support::*;

const ADMIN_PASSWORD: &str = "Amt-Sim-Admin1!";

fn now() -> Timestamp {
    Timestamp::from_unix_secs(1_800_000_000)
}

fn provisioned(personality: &str) -> amt_sim::device::Device {
    let yaml = format!(
        "personality: {personality}\nprovisioning:\n  state: post\n  admin_password: \"{ADMIN_PASSWORD}\"\n"
    );
    let profile = DeviceProfile::from_yaml(&yaml, &certs_dir()).expect("profile");
    device(profile)
}

/// A raw POST to `path` with an optional Authorization header.
fn post_to(path: &str, body: &str, authorization: Option<&str>) -> Vec<u8> {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:16992\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: \"\"\r\n"
    );
    if let Some(a) = authorization {
        head.push_str(&format!("Authorization: {a}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// A SOAP 1.1 call as amttool (SOAP::Lite) sends it.
fn soap(service: &str, operation: &str, params: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soap:Body><{operation} xmlns=\"http://schemas.intel.com/platform/client/{service}/2004/01\">{params}</{operation}></soap:Body></soap:Envelope>"
    )
}

/// Challenge, then the digest answer for `path`: the final response.
fn call(
    dev: &mut amt_sim::device::Device,
    service: &str,
    body: &str,
    password: &str,
) -> amt_wire::http::Response {
    let path = format!("/{service}");
    let (challenge, _) = exchange(dev, &post_to(&path, body, None), now());
    assert_eq!(challenge.status, 401);
    let c = Challenge::parse(
        challenge
            .headers
            .get("WWW-Authenticate")
            .expect("challenge"),
    )
    .expect("parse");
    let a = c
        .answer(
            "admin",
            password,
            "POST",
            &path,
            NonceCount::parse("00000001").expect("nc"),
            "0a4f113b",
        )
        .emit();
    exchange(dev, &post_to(&path, body, Some(&a)), now()).0
}

#[test]
fn amt6_serves_core_version_names_and_power_over_legacy_soap() {
    let mut dev = provisioned("amt-6");
    let r = call(
        &mut dev,
        "SecurityAdministrationService",
        &soap("SecurityAdministrationService", "GetCoreVersion", ""),
        ADMIN_PASSWORD,
    );
    assert_eq!(r.status, 200, "{}", body_text(&r));
    assert_eq!(
        r.headers.get("Content-Type"),
        Some("text/xml; charset=utf-8")
    );
    let body = body_text(&r);
    assert!(!body.contains("/>"), "{body}");
    assert_eq!(element_text(&body, "StatusCode").as_deref(), Some("0"));
    let version = element_text(&body, "Version").expect("Version");
    assert_eq!(version.split('.').count(), 3, "{version}");
    assert!(version.starts_with("6."), "{version}");

    let r = call(
        &mut dev,
        "NetworkAdministrationService",
        &soap("NetworkAdministrationService", "GetHostName", ""),
        ADMIN_PASSWORD,
    );
    assert!(element_text(&body_text(&r), "HostName").is_some_and(|h| !h.is_empty()));

    let status = |dev: &mut amt_sim::device::Device| {
        let r = call(
            dev,
            "RemoteControlService",
            &soap("RemoteControlService", "GetSystemPowerState", ""),
            ADMIN_PASSWORD,
        );
        element_text(&body_text(&r), "SystemPowerState")
    };
    assert_eq!(status(&mut dev).as_deref(), Some("0"), "S0: on");
    let control = |dev: &mut amt_sim::device::Device, command: u32| {
        let r = call(
            dev,
            "RemoteControlService",
            &soap(
                "RemoteControlService",
                "RemoteControl",
                &format!("<Command>{command}</Command><IanaOemNumber>4542</IanaOemNumber>"),
            ),
            ADMIN_PASSWORD,
        );
        element_text(&body_text(&r), "StatusCode")
    };
    assert_eq!(control(&mut dev, 18).as_deref(), Some("0"), "power down");
    assert_eq!(status(&mut dev).as_deref(), Some("5"), "S5: soft off");
    assert_eq!(
        control(&mut dev, 16).as_deref(),
        Some("2"),
        "reset while off"
    );
    assert_eq!(control(&mut dev, 17).as_deref(), Some("0"), "power up");
    assert_eq!(status(&mut dev).as_deref(), Some("0"));
    // The WS-MAN view agrees.
    assert_eq!(dev.state().power_state, 2);
}

#[test]
fn unknown_operations_fault_and_wrong_passwords_are_refused() {
    let mut dev = provisioned("amt-5");
    let r = call(
        &mut dev,
        "GeneralInfoService",
        &soap("GeneralInfoService", "GetNothing", ""),
        ADMIN_PASSWORD,
    );
    assert_eq!(r.status, 500);
    assert!(body_text(&r).contains("faultcode"), "{}", body_text(&r));
    let r = call(
        &mut dev,
        "GeneralInfoService",
        &soap("GeneralInfoService", "GetCoreVersion", ""),
        "wrong",
    );
    assert_eq!(r.status, 401);
}

#[test]
fn amt9_and_later_answer_legacy_paths_with_404() {
    for personality in ["amt-9", "amt-11"] {
        let mut dev = provisioned(personality);
        let r = call(
            &mut dev,
            "SecurityAdministrationService",
            &soap("SecurityAdministrationService", "GetCoreVersion", ""),
            ADMIN_PASSWORD,
        );
        assert_eq!(r.status, 404, "{personality}");
    }
}
