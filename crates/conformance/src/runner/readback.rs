//! Reading a device's end state back over WS-MAN (and the admin's local partial unprovision),
//! over any `Connector`: the in-memory network, loopback sockets, or an external device.
//!
//! The read-back tries plain HTTP (16992: a device before or in provisioning, or one that accepts
//! non-secure connections) and then TLS (16993, any server certificate), each with digest as
//! `admin` and every password that may be current: the admin password the site set, the MEBx
//! passwords (site and factory).

use std::net::SocketAddr;
use std::time::Duration;

use amt_wire::wsman::Element;
use provisioner_core::env::Environment;
use provisioner_core::tls;
use provisioner_core::transport::Connector;
use provisioner_core::wsman_client::{ClientSettings, Credentials, WsmanClient, resource_uri};

use crate::observe::DeviceObs;

const TIMEOUT: Duration = Duration::from_secs(10);

fn text_of(e: &Element, name: &str) -> Option<String> {
    e.child_by_local_name(name)
        .map(|c| c.text().trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// Reads `ProvisioningState`, `HostName` and `DomainName`.
pub fn read_state(
    connector: &mut dyn Connector,
    http: SocketAddr,
    tls_target: SocketAddr,
    admin_password: Option<&str>,
    mebx_passwords: &[String],
    seed: u64,
) -> DeviceObs {
    let mut accounts: Vec<Credentials> = admin_password
        .map(|p| Credentials::new("admin", p))
        .into_iter()
        .collect();
    for p in mebx_passwords {
        if !accounts.iter().any(|a| &a.password == p) {
            accounts.push(Credentials::new("admin", p.clone()));
        }
    }
    let mut errors = Vec::new();
    let tls_config = match tls::anonymous_client_config() {
        Ok(c) => Some(c),
        Err(e) => {
            errors.push(format!("tls config: {e}"));
            None
        }
    };
    let mut attempts = vec![(http, None)];
    if let Some(c) = tls_config {
        attempts.push((tls_target, Some(c)));
    }
    for (target, tls) in attempts {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let settings = ClientSettings {
            target,
            tls,
            connect_timeout: TIMEOUT,
            request_timeout: TIMEOUT,
        };
        let mut client = WsmanClient::new(connector, settings, accounts.clone(), seed);
        match client.get("AMT_SetupAndConfigurationService", &[]) {
            Ok(setup) => {
                let state = text_of(&setup, "ProvisioningState").map(|s| match s.as_str() {
                    "0" => "pre".to_owned(),
                    "1" => "in".to_owned(),
                    "2" => "post".to_owned(),
                    other => other.to_owned(),
                });
                let general = client.get("AMT_GeneralSettings", &[]).ok();
                client.disconnect();
                return DeviceObs {
                    provisioning_state: state,
                    host_name: general.as_ref().and_then(|g| text_of(g, "HostName")),
                    domain_name: general.as_ref().and_then(|g| text_of(g, "DomainName")),
                    error: None,
                };
            }
            Err(e) => errors.push(format!("{scheme} {target}: {}: {e}", e.id())),
        }
    }
    DeviceObs {
        error: Some(errors.join("; ")),
        ..DeviceObs::default()
    }
}

/// `AMT_SetupAndConfigurationService.PartialUnprovision` as `admin` over TLS (an admin's local
/// tool): the device keeps its admin ACL entry and names.
pub fn partial_unprovision(
    connector: &mut dyn Connector,
    target: SocketAddr,
    admin_password: Option<&str>,
    env: &Environment,
    seed: u64,
) -> Result<(), String> {
    let password = admin_password.ok_or("no admin password recorded for the device")?;
    let config = tls::anonymous_client_config().map_err(|e| e.to_string())?;
    let settings = ClientSettings {
        target,
        tls: Some(config),
        connect_timeout: Duration::from_millis(env.timeouts.connect_ms),
        request_timeout: Duration::from_millis(env.timeouts.request_ms),
    };
    let mut client = WsmanClient::new(
        connector,
        settings,
        vec![Credentials::new("admin", password)],
        seed,
    );
    let class = "AMT_SetupAndConfigurationService";
    let mode = Element::prefixed("h", resource_uri(class), "ProvisioningMode").with_text("1");
    let out = client
        .invoke(class, "PartialUnprovision", &[], vec![mode])
        .map_err(|e| format!("{}: {e}", e.id()))?;
    client.disconnect();
    match out.return_value {
        Some(0) => Ok(()),
        other => Err(format!("PartialUnprovision returned {other:?}")),
    }
}
