//! Removing the provisioning data from a device (error-catalog removal path): TCP
//! connect, TLS with the device's management certificate (no client certificate), digest as
//! `admin` with the password the provisioning session set, then
//! `AMT_SetupAndConfigurationService.Unprovision(ProvisioningMode = 1)`, which puts the device
//! back into pre-provisioning.
//!
//! With `abort_after_tls` (A-19: SP2 and the CRL unreachable, the lines are already written by
//! the service point) the connection is closed right after the TLS handshake, as WinHTTP does
//! when the revocation check fails: no WS-MAN request, the device stays provisioned.

use std::net::SocketAddr;
use std::time::Duration;

use amt_wire::hello::DeviceUuid;
use amt_wire::wsman::Element;

use super::Sink;
use super::error::RemovalError;
use crate::env::Environment;
use crate::events::ProvisionEvent;
use crate::tls;
use crate::wsman_client::{ClientSettings, Credentials, WsmanClient, resource_uri};

/// What the removal did on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemovalResult {
    /// The device UUID.
    pub uuid: DeviceUuid,
    /// The device accepted `Unprovision` (ReturnValue 0).
    pub ok: bool,
    /// The TLS handshake with the device completed.
    pub tls_established: bool,
    /// Why the removal did not reach the device's `Unprovision`, if it did not.
    pub error: Option<RemovalError>,
}

/// Inputs of one removal.
pub(crate) struct Removal<'a> {
    pub(crate) env: &'a Environment,
    pub(crate) uuid: DeviceUuid,
    pub(crate) target: SocketAddr,
    pub(crate) admin_password: Option<&'a str>,
    pub(crate) abort_after_tls: bool,
}

impl Removal<'_> {
    /// Runs the removal over `connector`; events go to `sink`.
    pub(crate) fn run(
        &self,
        connector: &mut dyn crate::transport::Connector,
        sink: &mut Sink<'_>,
        seed: u64,
    ) -> RemovalResult {
        let mut result = RemovalResult {
            uuid: self.uuid,
            ok: false,
            tls_established: false,
            error: None,
        };
        let Some(password) = self.admin_password else {
            result.error = Some(RemovalError::NoAdminPassword);
            return result;
        };
        let config = match tls::anonymous_client_config() {
            Ok(c) => c,
            Err(e) => {
                result.error = Some(RemovalError::ClientConfig(e));
                return result;
            }
        };
        let settings = ClientSettings {
            target: self.target,
            tls: Some(config),
            connect_timeout: Duration::from_millis(self.env.timeouts.connect_ms),
            request_timeout: Duration::from_millis(self.env.timeouts.request_ms),
        };
        let mut client = WsmanClient::new(
            connector,
            settings,
            vec![Credentials::new("admin", password)],
            seed,
        );
        sink.reset_client_cursor();
        sink.log_digest = false;
        sink.event(ProvisionEvent::TlsConnect {
            target: self.target,
        });
        if let Err(e) = client.connect() {
            sink.event(ProvisionEvent::TlsFailed {
                detail: format!("{}: {e}", e.id()),
            });
            result.error = Some(RemovalError::Call(e));
            return result;
        }
        result.tls_established = true;
        sink.event(ProvisionEvent::TlsEstablished {
            server_cert_sha256: client
                .server_thumbprint()
                .unwrap_or_default()
                .to_ascii_lowercase(),
        });
        if self.abort_after_tls {
            client.disconnect();
            sink.event(ProvisionEvent::TlsFailed {
                detail: "certificate revocation check failed: 0x80072F8F".into(),
            });
            result.error = Some(RemovalError::RevocationCheck);
            return result;
        }
        let class = "AMT_SetupAndConfigurationService";
        let mode = Element::prefixed("h", resource_uri(class), "ProvisioningMode").with_text("1");
        let r = client.invoke(class, "Unprovision", &[], vec![mode]);
        sink.flush(&client);
        match r {
            Ok(out) if out.return_value == Some(0) => result.ok = true,
            Ok(out) => {
                result.error = Some(RemovalError::Unprovision(out.return_value));
            }
            Err(e) => result.error = Some(RemovalError::Call(e)),
        }
        result
    }
}
