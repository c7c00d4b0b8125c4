//! The provisioning side of a test site built from an environment: the service point (its logs
//! know the environment's secrets), the provisioning certificates read from their files, the
//! directory and the test enterprise CA. Shared by every arm.

use std::path::Path;

use provisioner_core::ca::EnterpriseCaModel;
use provisioner_core::directory::Directory;
use provisioner_core::env::Environment;
use provisioner_core::logs::Logs;
use provisioner_core::servicepoint::ServicePoint;
use provisioner_core::tls::ClientIdentity;

use crate::runner::RunError;

/// The provisioning side of a site.
pub struct SiteParts {
    /// The out-of-band service point.
    pub sp: ServicePoint,
    /// The provisioning certificates (chain and key), in the environment's order.
    pub identities: Vec<ClientIdentity>,
    /// Active Directory.
    pub directory: Directory,
    /// The enterprise CA.
    pub ca: EnterpriseCaModel,
}

/// Builds the provisioning side of the site described by `env`.
pub fn build_site(env: Environment) -> Result<SiteParts, RunError> {
    let mut identities = Vec::new();
    for cert in &env.provisioning_certificates {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| RunError::SiteFile(format!("{}: {e}", p.display())))
        };
        let chain = read(&cert.chain_pem)?;
        let key = read(&cert.key_pem)?;
        identities.push(
            ClientIdentity::from_pem(&chain, &key)
                .map_err(|e| RunError::SiteFile(format!("{}: {e}", cert.chain_pem.display())))?,
        );
    }
    let roots: Vec<Vec<u8>> = identities
        .iter()
        .filter_map(|i| i.root().map(|r| r.as_ref().to_vec()))
        .collect();
    let mut ca = EnterpriseCaModel::test_default().map_err(|e| RunError::Ca(e.to_string()))?;
    let mut ca_config = ca.config().clone();
    ca_config.deny = env.enterprise_ca.deny;
    ca_config.crl_reachable = env.enterprise_ca.crl_reachable;
    ca_config.revocation_denied = env.enterprise_ca.revocation_denied;
    ca.set_config(ca_config);
    let directory = Directory::from_env(&env.active_directory);
    let mut logs = Logs::new(env.logs.clone());
    for secret in env.secrets() {
        logs.register_secret(secret);
    }
    let sp = ServicePoint::with_root_certificates(env, &roots, logs);
    Ok(SiteParts {
        sp,
        identities,
        directory,
        ca,
    })
}
