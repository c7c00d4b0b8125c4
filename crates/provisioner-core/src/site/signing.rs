//! Native mode (seed 003): the site server signing certificate of each primary site, the policy
//! provider's daily check (status 5112 once a day with the days remaining, once expiry is within
//! 10 days), re-signing every policy on a new certificate, and the client's pin: the hash of the
//! root it trusts in `AllowedRootCAHashCode` (32-bit or `Wow6432Node` key by OS). A new
//! certificate is accepted only if it chains to the pinned root; otherwise the client refuses the
//! policy, reports the failure to its management point and becomes unmanaged
//! (`reference/configmgr-sites.md` A.2).

use std::collections::BTreeMap;
use std::time::Duration;

use amt_wire::time::Timestamp;
use serde::Serialize;
use sha1::{Digest as _, Sha1};

use super::config::{ClientConfig, OsBits};
use super::{Hierarchy, HierarchyError};
use crate::logs::ids;

/// The value name of the pin (\[T\] seed 003).
pub const ALLOWED_ROOT_VALUE: &str = "AllowedRootCAHashCode";

/// How close to expiry the daily check starts raising 5112 (\[V\] S3-EN: "within 10 days").
const WARN_WITHIN: Duration = Duration::from_secs(10 * 86_400);

/// The hash code a client pins for root CA `root`: upper-case hex SHA-1, the form of a ConfigMgr
/// thumbprint (the algorithm is not documented, \[I\]; the root is modelled by its name).
pub fn root_hash(root: &str) -> String {
    hex::encode_upper(Sha1::digest(format!("root-ca:{root}").as_bytes()))
}

/// A site server signing certificate.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SigningCert {
    /// Upper-case hex thumbprint (derived from site, serial and root).
    pub thumbprint: String,
    /// The root CA it chains to.
    pub root: String,
    /// Expiry.
    pub not_after: Timestamp,
}

/// The client's view of its policy.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyState {
    /// The latest policy verified and applied.
    Accepted,
    /// The latest policy refused (signing certificate from another root).
    Refused,
}

/// A ConfigMgr client.
#[derive(Clone, Debug)]
pub struct ClientState {
    /// Computer name.
    pub name: String,
    /// Assigned site.
    pub site: String,
    /// 32 or 64-bit.
    pub os_bits: OsBits,
    /// Registry: key path → value name → data.
    pub registry: BTreeMap<String, BTreeMap<String, String>>,
    /// The thumbprint of the signing certificate it holds.
    pub cached_cert: Option<String>,
    /// Whether the site can manage it.
    pub managed: bool,
    /// Its latest policy.
    pub policy: PolicyState,
    /// Policy authentication failures it reported.
    pub reported_errors: u32,
    refused: Option<String>,
}

impl ClientState {
    /// The pinned root hash on its OS's path (`None`: absent or empty).
    pub fn pin(&self) -> Option<&str> {
        self.registry
            .get(self.os_bits.security_key())
            .and_then(|v| v.get(ALLOWED_ROOT_VALUE))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn set_pin(&mut self, hash: &str) {
        self.registry
            .entry(self.os_bits.security_key().to_owned())
            .or_default()
            .insert(ALLOWED_ROOT_VALUE.to_owned(), hash.to_owned());
    }
}

impl Hierarchy {
    /// The signing certificate covering site `code` (its own, or its primary parent's).
    fn signing_for(&self, code: &str) -> Option<(String, SigningCert)> {
        let primary = self.config.signing_site(code)?.code.clone();
        let cert = self.sites.get(&primary)?.signing.clone()?;
        Some((primary, cert))
    }

    pub(super) fn install_signing_cert(
        &mut self,
        code: &str,
        root: &str,
        valid_days: u32,
        now: Timestamp,
    ) {
        let Some(site) = self.sites.get_mut(code) else {
            return;
        };
        site.signing_serial += 1;
        let thumbprint = hex::encode_upper(Sha1::digest(
            format!("signing:{code}:{}:{root}", site.signing_serial).as_bytes(),
        ));
        site.signing = Some(SigningCert {
            thumbprint,
            root: root.to_owned(),
            not_after: now + Duration::from_secs(u64::from(valid_days) * 86_400),
        });
        site.expired_reported = false;
    }

    pub(super) fn renew_signing_cert(
        &mut self,
        code: &str,
        root: &str,
        valid_days: u32,
        now: Timestamp,
    ) -> Result<(), HierarchyError> {
        let primary = self
            .config
            .site(code)
            .filter(|s| s.kind == super::SiteKind::Primary)
            .ok_or_else(|| HierarchyError::Invalid {
                message: format!(
                    "{code}: the signing certificate is configured on a primary site's database"
                ),
            })?
            .code
            .clone();
        self.install_signing_cert(&primary, root, valid_days, now);
        if self.next_daily.is_none() {
            self.next_daily = Some(now);
        }
        let (count, thumbprint) = match self.sites.get_mut(&primary) {
            Some(site) => {
                site.policies_resigned += site.config.policies;
                (
                    site.config.policies.to_string(),
                    site.signing
                        .as_ref()
                        .map(|c| c.thumbprint.clone())
                        .unwrap_or_default(),
                )
            }
            None => return Ok(()),
        };
        self.emit(
            &primary,
            ids::N_00_RESIGNED,
            &[("count", &count), ("thumbprint", &thumbprint)],
            now,
        );
        Ok(())
    }

    /// The policy provider's check of every primary site's signing certificate.
    pub(super) fn daily_check(&mut self, now: Timestamp) {
        let codes: Vec<String> = self.sites.keys().cloned().collect();
        for code in codes {
            let Some(site) = self.sites.get(&code) else {
                continue;
            };
            let Some(cert) = site.signing.clone() else {
                continue;
            };
            if cert.not_after <= now {
                if !site.expired_reported {
                    self.emit(
                        &code,
                        ids::N_00_EXPIRED,
                        &[("thumbprint", &cert.thumbprint)],
                        now,
                    );
                    if let Some(site) = self.sites.get_mut(&code) {
                        site.expired_reported = true;
                    }
                }
                continue;
            }
            let left = cert.not_after.saturating_duration_since(now);
            if left <= WARN_WITHIN {
                let days = (left.as_secs() / 86_400).to_string();
                self.raise(&code, 5112, vec![cert.thumbprint.clone(), days], now);
            }
        }
    }

    pub(super) fn install_client(&mut self, c: &ClientConfig, now: Timestamp) {
        let cert = self.signing_for(&c.site).map(|(_, cert)| cert);
        let mut state = ClientState {
            name: c.name.clone(),
            site: c.site.clone(),
            os_bits: c.os_bits,
            registry: BTreeMap::new(),
            cached_cert: cert.as_ref().map(|c| c.thumbprint.clone()),
            managed: true,
            policy: PolicyState::Accepted,
            reported_errors: 0,
            refused: None,
        };
        let root = c
            .pinned_root
            .clone()
            .or_else(|| cert.as_ref().map(|c| c.root.clone()));
        if let Some(root) = root.filter(|r| !r.is_empty()) {
            state.set_pin(&root_hash(&root));
        }
        self.clients.insert(c.name.clone(), state);
        let _ = now;
    }

    /// Client `name` downloads its policy from its management point.
    pub(super) fn policy_cycle(&mut self, name: &str, now: Timestamp) {
        let Some(client) = self.clients.get(name).cloned() else {
            return;
        };
        let site = client.site.clone();
        let mp = self
            .config
            .site(&site)
            .map(super::SiteConfig::server_name)
            .unwrap_or_default();
        let Some((primary, cert)) = self.signing_for(&site) else {
            // Mixed mode: policy is not signed.
            if let Some(c) = self.clients.get_mut(name) {
                c.policy = PolicyState::Accepted;
            }
            return;
        };
        if client.cached_cert.as_deref() == Some(cert.thumbprint.as_str()) {
            if let Some(c) = self.clients.get_mut(name) {
                c.policy = PolicyState::Accepted;
                c.managed = true;
            }
            return;
        }
        let hash = root_hash(&cert.root);
        let path = client.os_bits.security_key();
        if client.refused.as_deref() != Some(cert.thumbprint.as_str()) {
            self.emit(
                &site,
                ids::N_00_MISMATCH,
                &[("mp", &mp), ("thumbprint", &cert.thumbprint)],
                now,
            );
        }
        match client.pin() {
            None => {
                self.emit(
                    &site,
                    ids::N_00_PINNED,
                    &[("root_hash", &hash), ("path", path)],
                    now,
                );
                self.accept(name, &site, &mp, &cert, &hash, now);
            }
            Some(pin) if pin == hash => self.accept(name, &site, &mp, &cert, &hash, now),
            Some(pin) => {
                if client.refused.as_deref() == Some(cert.thumbprint.as_str()) {
                    return;
                }
                let pin = pin.to_owned();
                self.emit(
                    &site,
                    ids::N_02_REFUSED,
                    &[
                        ("mp", &mp),
                        ("thumbprint", &cert.thumbprint),
                        ("root_hash", &pin),
                    ],
                    now,
                );
                self.emit(&site, ids::N_02_REPORTED, &[("mp", &mp)], now);
                if let Some(c) = self.clients.get_mut(name) {
                    c.policy = PolicyState::Refused;
                    c.managed = false;
                    c.reported_errors += 1;
                    c.refused = Some(cert.thumbprint.clone());
                }
                if let Some(s) = self.sites.get_mut(&primary) {
                    s.policy_errors_reported += 1;
                }
            }
        }
    }

    fn accept(
        &mut self,
        name: &str,
        site: &str,
        _mp: &str,
        cert: &SigningCert,
        hash: &str,
        now: Timestamp,
    ) {
        self.emit(
            site,
            ids::N_00_ACCEPTED,
            &[("thumbprint", &cert.thumbprint), ("root_hash", hash)],
            now,
        );
        if let Some(c) = self.clients.get_mut(name) {
            if c.pin().is_none() {
                c.set_pin(hash);
            }
            c.cached_cert = Some(cert.thumbprint.clone());
            c.policy = PolicyState::Accepted;
            c.managed = true;
            c.refused = None;
        }
    }

    pub(super) fn clear_allowed_root(
        &mut self,
        name: &str,
        path: Option<&str>,
        _now: Timestamp,
    ) -> Result<(), HierarchyError> {
        let c = self
            .clients
            .get_mut(name)
            .ok_or_else(|| HierarchyError::UnknownClient {
                name: name.to_owned(),
            })?;
        let path = path.unwrap_or_else(|| c.os_bits.security_key()).to_owned();
        if let Some(values) = c.registry.get_mut(&path)
            && let Some(v) = values.get_mut(ALLOWED_ROOT_VALUE)
        {
            v.clear();
        }
        Ok(())
    }

    pub(super) fn reinstall_client(
        &mut self,
        name: &str,
        now: Timestamp,
    ) -> Result<(), HierarchyError> {
        let config = self
            .clients
            .get(name)
            .map(|c| ClientConfig {
                name: c.name.clone(),
                site: c.site.clone(),
                os_bits: c.os_bits,
                pinned_root: None,
            })
            .ok_or_else(|| HierarchyError::UnknownClient {
                name: name.to_owned(),
            })?;
        self.install_client(&config, now);
        Ok(())
    }
}
