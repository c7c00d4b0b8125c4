//! In-band identity check: the OTP the device holds must hash to what the client agent reported.
//!
//! The ConfigMgr client set the OTP over HECI and sent SHA-256 of it to the site server; before
//! stage 1 the service point reads `AMT_SetupAndConfigurationService.ProvisioningServerOTP`
//! (base64, readable while the device is in-provisioning) and compares the hashes (error-catalog
//! §2, in-band paragraph). A mismatch ends the session at the in-band step.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest as _, Sha256};

use super::Failure;
use super::error::{OtpError, SessionError};
use crate::events::Step;
use crate::wsman_client::WsmanClient;

/// Reads the device's OTP and compares its SHA-256 with `expected`.
pub(crate) fn check_otp(client: &mut WsmanClient<'_>, expected: &[u8; 32]) -> Result<(), Failure> {
    let service = client
        .get("AMT_SetupAndConfigurationService", &[])
        .map_err(|e| Failure::new(Step::InBand, SessionError::Otp(OtpError::Read(e))))?;
    let otp = service
        .child_by_local_name("ProvisioningServerOTP")
        .map(|e| e.text().trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Failure::new(Step::InBand, SessionError::Otp(OtpError::Absent)))?;
    let otp = B64.decode(otp).map_err(|e| {
        Failure::new(
            Step::InBand,
            SessionError::Otp(OtpError::Encoding(e.to_string())),
        )
    })?;
    let hash: [u8; 32] = Sha256::digest(&otp).into();
    if &hash == expected {
        Ok(())
    } else {
        Err(Failure::new(
            Step::InBand,
            SessionError::Otp(OtpError::Mismatch),
        ))
    }
}
