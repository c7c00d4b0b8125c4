//! `amt-sim serve --host-interface-port`: the local host interface over a real loopback socket.
//! Host-based setup (`IPS_HostBasedSetupService.Setup` as `admin` with the factory password)
//! provisions the device there, while the same request on the network HTTP port is refused.

mod serve_support;

use serve_support::{Client, Result, Sim, body_text, parse_ready};

const IPS: &str = "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_HostBasedSetupService";
const GET_GENERAL_SETTINGS: &str =
    include_str!("../../amt-wire/testdata/wsman/requests/gwm_get_general_settings.xml");

/// `Setup` with `password` as the new admin password, for `realm`.
fn setup_body(realm: &str, password: &str) -> String {
    let ha1 = hex::encode(amt_wire::digest::ha1("admin", realm, password));
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Envelope xmlns=\"http://www.w3.org/2003/05/soap-envelope\" \
xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\">\
<Header><a:Action>{IPS}/Setup</a:Action><a:To>/wsman</a:To>\
<w:ResourceURI>{IPS}</w:ResourceURI><a:MessageID>1</a:MessageID>\
<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>\
</Header><Body><r:Setup_INPUT xmlns:r=\"{IPS}\"><r:NetAdminPassEncryptionType>2</r:NetAdminPassEncryptionType>\
<r:NetworkAdminPassword>{ha1}</r:NetworkAdminPassword></r:Setup_INPUT></Body></Envelope>"
    )
}

#[test]
fn host_based_setup_works_on_the_host_interface_listener_only() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let profile = dir.path().join("heci.yaml");
    std::fs::write(&profile, "provisioning: { heci_driver_present: true }\n")?;
    let mut sim = Sim::spawn(&[
        "serve",
        "--profile",
        profile.to_str().ok_or("path")?,
        "--http-port",
        "0",
        "--tls-port",
        "0",
        "--no-hello",
        "--host-interface-port",
        "0",
    ])?;
    let line = sim.line()?;
    let ready = parse_ready(&line, "ready")?;
    let host: std::net::SocketAddr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("host-interface="))
        .ok_or("no host-interface= in the ready line")?
        .parse()?;
    assert!(host.ip().is_loopback(), "{host}");
    assert_ne!(host.port(), ready.http.port());

    // The realm, from an authenticated Get on the host interface.
    let mut local = Client::new(host, "admin", "admin");
    let settings = local.post(GET_GENERAL_SETTINGS)?;
    assert_eq!(settings.status, 200, "{}", body_text(&settings));
    let text = body_text(&settings);
    let realm = text
        .split("DigestRealm>")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .ok_or("no DigestRealm")?
        .to_owned();
    let body = setup_body(&realm, "Host-Setup-P@ss1");

    // Over the network the firmware refuses host-based setup.
    let refused = Client::new(ready.http, "admin", "admin").post(&body)?;
    assert_eq!(refused.status, 401, "{}", body_text(&refused));

    let done = local.post(&body)?;
    assert_eq!(done.status, 200, "{}", body_text(&done));
    assert!(
        body_text(&done).contains("ReturnValue>0<"),
        "{}",
        body_text(&done)
    );
    let _ = sim.child.kill();
    let _ = sim.child.wait();
    Ok(())
}
