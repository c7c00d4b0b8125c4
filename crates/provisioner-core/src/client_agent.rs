//! The ConfigMgr SP1+ client on the AMT computer, as far as in-band provisioning needs it.
//!
//! error-catalog §2 (in-band paragraph), A-12, A-13: the client needs a provisioning policy
//! (collection with automatic AMT provisioning, per-computer flag enabled), checks the HECI driver,
//! checks that a provisioning root thumbprint is among the device's hashes (read over HECI by the
//! caller, e.g. from `amt_sim`'s `heci_get_hashes()`), generates a one-time password (OTP) from a
//! passed-in RNG, and returns the OTP to set on the device over HECI plus the request (UUID and
//! SHA-256 of the OTP) for the site server. It writes `oobmgmt.log`.

use amt_wire::hello::DeviceUuid;
use amt_wire::thumbprint::Thumbprint;
use amt_wire::time::Timestamp;
use rand::RngCore;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::env::ImportedComputer;
use crate::logs::ids;
use crate::logs::{LogError, Logs};

/// OTP length in bytes (AMT accepts 8 to 32).
pub const OTP_LEN: usize = 16;

/// What the client sends the site server: the device identity and the OTP's hash.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct OtpRequest {
    /// The device UUID.
    pub uuid: DeviceUuid,
    /// SHA-256 of the OTP bytes.
    pub otp_hash: [u8; 32],
}

/// A started in-band provisioning: the request for the site server and the OTP for the device.
#[derive(Clone, PartialEq, Eq)]
pub struct InBandStart {
    /// For the site server ([`crate::servicepoint::Input::InBandRequest`]).
    pub request: OtpRequest,
    /// The OTP to set on the device over HECI (`SetProvisioningServerOTP`). Secret: `Debug` redacts it.
    pub otp: Vec<u8>,
}

impl std::fmt::Debug for InBandStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InBandStart")
            .field("request", &self.request)
            .field("otp", &"<redacted>")
            .finish()
    }
}

/// Why the client does not start in-band provisioning.
#[derive(Clone, Debug, Eq, PartialEq, Error)]
#[non_exhaustive]
pub enum ClientAgentError {
    /// No ConfigMgr client on this computer.
    #[error("no Configuration Manager client is installed")]
    NotInstalled,
    /// No provisioning policy: the computer is not in a collection with automatic AMT provisioning,
    /// or its per-computer flag is disabled (A-13; nothing is logged).
    #[error("automatic AMT provisioning is not enabled for this computer")]
    NotEnabled,
    /// The HECI (MEI) driver is missing (logged in oobmgmt.log).
    #[error("the HECI driver is not installed")]
    HeciMissing,
    /// No device hash matches a provisioning root (A-12, logged in oobmgmt.log).
    #[error("none of the device's root hashes matches a provisioning root")]
    NoValidHash,
    /// A log line could not be written (a catalog bug).
    #[error(transparent)]
    Log(#[from] LogError),
}

impl ClientAgentError {
    /// A stable id: `client/not-installed`, `client/not-enabled`, `client/heci-missing`,
    /// `client/no-valid-hash`, `client/log`.
    pub fn id(&self) -> &'static str {
        match self {
            Self::NotInstalled => "client/not-installed",
            Self::NotEnabled => "client/not-enabled",
            Self::HeciMissing => "client/heci-missing",
            Self::NoValidHash => "client/no-valid-hash",
            Self::Log(_) => "client/log",
        }
    }
}

/// Runs the client's in-band checks for `computer` and, when they pass, generates the OTP.
///
/// `prov_roots`: thumbprints of the provisioning roots (any algorithm); `device_hashes`: the
/// device's active root hashes as read over HECI. A match needs equal algorithm and digest.
pub fn start_inband(
    computer: &ImportedComputer,
    prov_roots: &[Thumbprint],
    device_hashes: &[Thumbprint],
    rng: &mut dyn RngCore,
    logs: &mut Logs,
    now: Timestamp,
) -> Result<InBandStart, ClientAgentError> {
    if !computer.client_installed {
        return Err(ClientAgentError::NotInstalled);
    }
    if !computer.auto_provision {
        return Err(ClientAgentError::NotEnabled);
    }
    if !computer.heci_driver {
        logs.emit(ids::CLIENT_HECI_MISSING, &[], now)?;
        return Err(ClientAgentError::HeciMissing);
    }
    let Some(found) = device_hashes.iter().find(|h| prov_roots.contains(h)) else {
        logs.emit(ids::A_12, &[], now)?;
        return Err(ClientAgentError::NoValidHash);
    };
    logs.emit(
        ids::CLIENT_HASH_FOUND,
        &[("thumbprint", &found.to_configmgr_hex())],
        now,
    )?;
    let mut otp = vec![0u8; OTP_LEN];
    rng.fill_bytes(&mut otp);
    let otp_hash: [u8; 32] = Sha256::digest(&otp).into();
    let uuid = computer.uuid;
    logs.emit(ids::CLIENT_OTP_SENT, &[("uuid", &uuid.to_string())], now)?;
    Ok(InBandStart {
        request: OtpRequest { uuid, otp_hash },
        otp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Environment;
    use crate::logs::{LogConfig, LogFile};
    use amt_wire::thumbprint::HashAlgorithm;
    use rand::SeedableRng;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn computer() -> Result<ImportedComputer, &'static str> {
        let mut c = Environment::default_for_tests()
            .computers
            .first()
            .ok_or("default env has a computer")?
            .clone();
        c.client_installed = true;
        Ok(c)
    }

    #[test]
    fn generates_an_otp_whose_hash_is_sent() -> TestResult {
        let c = computer()?;
        let root = Thumbprint::of_der(HashAlgorithm::Sha256, b"root");
        let other = Thumbprint::of_der(HashAlgorithm::Sha256, b"other");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut logs = Logs::new(LogConfig::default());
        let start = start_inband(
            &c,
            &[root],
            &[other, root],
            &mut rng,
            &mut logs,
            Timestamp::EPOCH,
        )?;
        assert_eq!(start.otp.len(), OTP_LEN);
        let hash: [u8; 32] = Sha256::digest(&start.otp).into();
        assert_eq!(start.request.otp_hash, hash);
        assert_eq!(
            logs.ids(LogFile::OobMgmt),
            vec![ids::CLIENT_HASH_FOUND, ids::CLIENT_OTP_SENT]
        );
        assert!(!format!("{start:?}").contains(&hex::encode(&start.otp)));
        Ok(())
    }

    #[test]
    fn refusals() -> TestResult {
        let c = computer()?;
        let root = Thumbprint::of_der(HashAlgorithm::Sha256, b"root");
        let root_sha1 = Thumbprint::of_der(HashAlgorithm::Sha1, b"root");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut logs = Logs::new(LogConfig::default());
        let now = Timestamp::EPOCH;
        let r = start_inband(&c, &[root], &[root_sha1], &mut rng, &mut logs, now);
        assert_eq!(r.map_err(|e| e.id()), Err("client/no-valid-hash"));
        let no_heci = ImportedComputer {
            heci_driver: false,
            ..c.clone()
        };
        let r = start_inband(&no_heci, &[root], &[root], &mut rng, &mut logs, now);
        assert_eq!(r.map_err(|e| e.id()), Err("client/heci-missing"));
        let disabled = ImportedComputer {
            auto_provision: false,
            ..c.clone()
        };
        let r = start_inband(&disabled, &[root], &[root], &mut rng, &mut logs, now);
        assert_eq!(r.map_err(|e| e.id()), Err("client/not-enabled"));
        let none = ImportedComputer {
            client_installed: false,
            ..c
        };
        let r = start_inband(&none, &[root], &[root], &mut rng, &mut logs, now);
        assert_eq!(r.map_err(|e| e.id()), Err("client/not-installed"));
        assert_eq!(
            logs.ids(LogFile::OobMgmt),
            vec![ids::A_12, ids::CLIENT_HECI_MISSING]
        );
        Ok(())
    }
}
