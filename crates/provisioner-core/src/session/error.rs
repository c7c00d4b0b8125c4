//! Why a provisioning session or a removal failed: typed causes with stable ids, whose text is
//! what the session reports (`SessionResult::error`), all the way to the harness's report.

use thiserror::Error;

use crate::ca::CaError;
use crate::directory::AdError;
use crate::site::publish::PublishError;
use crate::tls::TlsError;
use crate::wsman_client::CallError;

/// What went wrong inside one sub-step (a WS-MAN call of stage 1, stage 2 or the certificate
/// request).
#[derive(Clone, Debug, Eq, PartialEq, Error)]
pub enum SubCause {
    /// The call itself failed (transport, TLS, digest, SOAP fault, HTTP status).
    #[error("{id}: {0}", id = .0.id())]
    Call(CallError),
    /// The method answered a `ReturnValue` other than 0 (or none at all).
    #[error("{}", return_value_text(*.0))]
    ReturnValue(Option<u32>),
    /// The answer lacked what the step needs (`no DigestRealm`).
    #[error("{0}")]
    Missing(&'static str),
    /// The write-ahead record of a password could not be made durable, so the password was not
    /// sent (see `SecretJournal`).
    #[error("write-ahead record of the password failed: {0}")]
    WriteAhead(String),
}

impl SubCause {
    /// Stable id: the call error's, `wsman/return-value` or `wsman/missing-output`.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Call(e) => e.id(),
            Self::ReturnValue(_) => "wsman/return-value",
            Self::Missing(_) => "wsman/missing-output",
            Self::WriteAhead(_) => "secrets/write-ahead",
        }
    }
}

/// `ReturnValue 1`, or `no ReturnValue` when the response had none.
fn return_value_text(value: Option<u32>) -> String {
    value.map_or_else(
        || "no ReturnValue".to_owned(),
        |v| format!("ReturnValue {v}"),
    )
}

/// A failed sub-step: which one (`CommitChanges`, `AMT_GeneralSettings`) and why.
#[derive(Clone, Debug, Eq, PartialEq, Error)]
#[error("{what}: {cause}")]
pub struct SubStepError {
    /// The sub-step.
    pub what: &'static str,
    /// What went wrong.
    pub cause: SubCause,
}

/// Why the in-band one-time-password check failed.
#[derive(Clone, Debug, Eq, PartialEq, Error)]
pub enum OtpError {
    /// Reading `AMT_SetupAndConfigurationService` failed.
    #[error("{id}: {0}", id = .0.id())]
    Read(CallError),
    /// The device reports no OTP.
    #[error("the device reports no ProvisioningServerOTP")]
    Absent,
    /// The OTP is not Base64.
    #[error("ProvisioningServerOTP: {0}")]
    Encoding(String),
    /// Its hash is not the one the client agent sent.
    #[error("the device's one-time password does not match the client's request")]
    Mismatch,
}

/// Why a provisioning session failed (its step is `SessionResult::failed_step`).
#[derive(Clone, Debug, Eq, PartialEq, Error)]
pub enum SessionError {
    /// The TLS client configuration could not be built (provisioning certificate or anonymous).
    #[error("{0}")]
    ClientConfig(TlsError),
    /// The TLS client failed outside a call.
    #[error("{id}: {0}", id = .0.id())]
    Tls(TlsError),
    /// The TCP connection could not be made.
    #[error("{id}: {0}", id = .0.id())]
    Connect(CallError),
    /// The device refused or broke the TLS handshake.
    #[error("{id}: {0}", id = .0.id())]
    TlsHandshake(CallError),
    /// No configured account was accepted.
    #[error("{id}: {0}", id = .0.id())]
    Digest(CallError),
    /// The first authenticated call failed otherwise.
    #[error("{id}: {0}", id = .0.id())]
    FirstCall(CallError),
    /// The firmware is older than 3.2.1 and the WS-MAN translator is off.
    #[error("AMT {0} is not natively supported (needs the Intel WS-MAN translator)")]
    UnsupportedVersion(String),
    /// The in-band OTP check failed.
    #[error("{0}")]
    Otp(OtpError),
    /// The computer's Active Directory account could not be created.
    #[error("{id}: {0}", id = .0.id())]
    Directory(AdError),
    /// The device's key pair or certificate request failed.
    #[error("{0}")]
    CertificateRequest(SubStepError),
    /// The enterprise CA refused the request.
    #[error("{id}: {0}", id = .0.id())]
    Ca(CaError),
    /// The issued certificate could not be published to the site database.
    #[error("{id}: {0}", id = .0.id())]
    Publish(PublishError),
    /// A stage-1 sub-step failed.
    #[error("{0}")]
    Stage1(SubStepError),
    /// WinRM's CRL check of the device's new certificate failed (SP2, A-19).
    #[error("tls/revocation-check: the CRL of the device certificate is unreachable (0x80072F8F)")]
    RevocationCheck,
    /// A stage-2 sub-step failed.
    #[error("{0}")]
    Stage2(SubStepError),
}

impl SessionError {
    /// Stable id a scenario can name: the underlying typed error's id where there is one.
    pub fn id(&self) -> &'static str {
        match self {
            Self::ClientConfig(e) | Self::Tls(e) => e.id(),
            Self::Connect(e)
            | Self::TlsHandshake(e)
            | Self::Digest(e)
            | Self::FirstCall(e)
            | Self::Otp(OtpError::Read(e)) => e.id(),
            Self::UnsupportedVersion(_) => "session/unsupported-version",
            Self::Otp(OtpError::Absent) => "inband/otp-absent",
            Self::Otp(OtpError::Encoding(_)) => "inband/otp-encoding",
            Self::Otp(OtpError::Mismatch) => "inband/otp-mismatch",
            Self::Directory(e) => e.id(),
            Self::Ca(e) => e.id(),
            Self::Publish(e) => e.id(),
            Self::CertificateRequest(s) | Self::Stage1(s) | Self::Stage2(s) => s.cause.id(),
            Self::RevocationCheck => "tls/revocation-check",
        }
    }
}

/// Why a removal (`Unprovision` over TLS) failed.
#[derive(Clone, Debug, Eq, PartialEq, Error)]
pub enum RemovalError {
    /// The site has no admin password for the device.
    #[error("removal/no-admin-password: no admin password recorded")]
    NoAdminPassword,
    /// The TLS client configuration could not be built.
    #[error("removal/tls-config: {0}")]
    ClientConfig(TlsError),
    /// A call failed.
    #[error("{id}: {0}", id = .0.id())]
    Call(CallError),
    /// WinRM's CRL check failed (SP2, A-19 at removal).
    #[error("tls/revocation-check: the CRL of the device certificate is unreachable (0x80072F8F)")]
    RevocationCheck,
    /// `Unprovision` answered a `ReturnValue` other than 0.
    #[error("removal/unprovision: ReturnValue {}", .0.map_or_else(|| "missing".to_owned(), |v| v.to_string()))]
    Unprovision(Option<u32>),
}

impl RemovalError {
    /// Stable id.
    pub fn id(&self) -> &'static str {
        match self {
            Self::NoAdminPassword => "removal/no-admin-password",
            Self::ClientConfig(_) => "removal/tls-config",
            Self::Call(e) => e.id(),
            Self::RevocationCheck => "tls/revocation-check",
            Self::Unprovision(_) => "removal/unprovision",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_the_reported_details_and_ids_are_stable() {
        let sub = SubStepError {
            what: "CommitChanges",
            cause: SubCause::ReturnValue(Some(1)),
        };
        assert_eq!(sub.to_string(), "CommitChanges: ReturnValue 1");
        let e = SessionError::Stage1(sub);
        assert_eq!(e.to_string(), "CommitChanges: ReturnValue 1");
        assert_eq!(e.id(), "wsman/return-value");
        let missing = SubStepError {
            what: "AMT_GeneralSettings",
            cause: SubCause::Missing("no DigestRealm"),
        };
        assert_eq!(
            SessionError::Stage1(missing.clone()).to_string(),
            "AMT_GeneralSettings: no DigestRealm"
        );
        assert_eq!(missing.cause.id(), "wsman/missing-output");
        assert_eq!(SubCause::ReturnValue(None).to_string(), "no ReturnValue");
        assert_eq!(SessionError::RevocationCheck.id(), "tls/revocation-check");
        assert_eq!(
            SessionError::UnsupportedVersion("3.0".into()).to_string(),
            "AMT 3.0 is not natively supported (needs the Intel WS-MAN translator)"
        );
        assert_eq!(
            RemovalError::Unprovision(None).to_string(),
            "removal/unprovision: ReturnValue missing"
        );
        assert_eq!(
            RemovalError::NoAdminPassword.id(),
            "removal/no-admin-password"
        );
        assert_eq!(
            SessionError::Otp(OtpError::Mismatch).id(),
            "inband/otp-mismatch"
        );
    }
}
