//! Active Directory model: the AMT computer accounts (`<name>$iME`) the site server creates.
//!
//! Pure: no LDAP. Failures mirror error-catalog A-04 (container missing in the computer's domain)
//! and A-05 (disjoint namespace, unsupported). The caller logs (see [`AdError::log_ids`]).

use std::collections::BTreeMap;

use amt_wire::time::Timestamp;
use thiserror::Error;

use crate::env::ActiveDirectory;
use crate::logs::{LogError, Logs};
use crate::logs::{LogId, ids};

/// An AMT computer account in AD.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AdAccount {
    /// Distinguished name: `CN=<name>$iME,<container>`.
    pub dn: String,
    /// sAMAccountName: `<name>$iME`.
    pub sam: String,
    /// Service principal names: `HTTP/<fqdn>:16992`, `HTTP/<fqdn>:16993`, `HTTP/<host>:16992`,
    /// `HTTP/<host>:16993` (the AMT ports; Kerberos to AMT uses these).
    pub spn: Vec<String>,
    /// When it was created.
    pub created: Timestamp,
}

/// Why an account could not be created or deleted.
#[derive(Clone, Debug, Eq, PartialEq, Error)]
#[non_exhaustive]
pub enum AdError {
    /// The configured OU/container does not exist in the computer's domain.
    #[error("container {container:?} does not exist in domain {domain:?} (for {fqdn})")]
    ContainerMissing {
        /// The configured container.
        container: String,
        /// The computer's domain (from its FQDN).
        domain: String,
        /// The computer's FQDN.
        fqdn: String,
    },
    /// The DNS namespace differs from the AD namespace: not supported.
    #[error(
        "{fqdn}: DNS namespace differs from the Active Directory namespace (disjoint namespace is not supported)"
    )]
    DisjointNamespace {
        /// The computer's FQDN.
        fqdn: String,
    },
    /// No account with this sAMAccountName.
    #[error("no account {sam:?}")]
    NoSuchAccount {
        /// The name asked for.
        sam: String,
    },
}

impl AdError {
    /// A stable id: `ad/container-missing`, `ad/disjoint-namespace`, `ad/no-such-account`.
    pub fn id(&self) -> &'static str {
        match self {
            Self::ContainerMissing { .. } => "ad/container-missing",
            Self::DisjointNamespace { .. } => "ad/disjoint-namespace",
            Self::NoSuchAccount { .. } => "ad/no-such-account",
        }
    }

    /// The amtproxymgr.log catalog ids this failure writes, in order (A-04: the two documented
    /// lines plus our detail line with FQDN and container). A-05 has no documented line.
    pub fn log_ids(&self) -> &'static [LogId] {
        match self {
            Self::ContainerMissing { .. } => &[
                ids::A_04_CONTAINER,
                ids::A_04_CREATEOBJECT,
                ids::A_04_DETAIL,
            ],
            Self::DisjointNamespace { .. } | Self::NoSuchAccount { .. } => &[],
        }
    }

    /// Writes this failure's documented lines ([`Self::log_ids`]) to `logs` (amtproxymgr.log).
    pub fn emit_logs(&self, logs: &mut Logs, now: Timestamp) -> Result<(), LogError> {
        if let Self::ContainerMissing {
            container, fqdn, ..
        } = self
        {
            let args = [("fqdn", fqdn.as_str()), ("container", container.as_str())];
            for id in self.log_ids() {
                logs.emit(*id, &args, now)?;
            }
        }
        Ok(())
    }
}

/// The directory: which container exists where, and the accounts created so far.
#[derive(Clone, Debug)]
pub struct Directory {
    config: ActiveDirectory,
    accounts: BTreeMap<String, AdAccount>,
}

impl Directory {
    /// The directory the environment describes, with no AMT accounts yet.
    pub fn from_env(config: &ActiveDirectory) -> Self {
        Self {
            config: config.clone(),
            accounts: BTreeMap::new(),
        }
    }

    /// Creates (or replaces) the AMT account of computer `name` reached as `fqdn`.
    ///
    /// The computer's domain is the FQDN after the first label; the container must exist
    /// (`container_exists`) and the domain be one of `domains` (case-insensitive), else A-04.
    pub fn create_computer_account(
        &mut self,
        name: &str,
        fqdn: &str,
        now: Timestamp,
    ) -> Result<AdAccount, AdError> {
        if self.config.disjoint_namespace {
            return Err(AdError::DisjointNamespace {
                fqdn: fqdn.to_owned(),
            });
        }
        let (host, domain) = fqdn.split_once('.').unwrap_or((fqdn, ""));
        let known_domain = self
            .config
            .domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain));
        if !self.config.container_exists || !known_domain {
            return Err(AdError::ContainerMissing {
                container: self.config.container.clone(),
                domain: domain.to_owned(),
                fqdn: fqdn.to_owned(),
            });
        }
        let sam = format!("{name}$iME");
        let account = AdAccount {
            dn: format!("CN={sam},{}", self.config.container),
            spn: vec![
                format!("HTTP/{fqdn}:16992"),
                format!("HTTP/{fqdn}:16993"),
                format!("HTTP/{host}:16992"),
                format!("HTTP/{host}:16993"),
            ],
            sam: sam.clone(),
            created: now,
        };
        self.accounts
            .insert(sam.to_ascii_lowercase(), account.clone());
        Ok(account)
    }

    /// Deletes the AMT account `sam` (`<name>$iME`), returning it.
    pub fn delete_account(&mut self, sam: &str) -> Result<AdAccount, AdError> {
        self.accounts
            .remove(&sam.to_ascii_lowercase())
            .ok_or_else(|| AdError::NoSuchAccount {
                sam: sam.to_owned(),
            })
    }

    /// The account `sam`, if it exists.
    pub fn account(&self, sam: &str) -> Option<&AdAccount> {
        self.accounts.get(&sam.to_ascii_lowercase())
    }

    /// Every account, ordered by name.
    pub fn accounts(&self) -> impl Iterator<Item = &AdAccount> {
        self.accounts.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_accounts_with_spns_and_deletes_them() {
        let mut dir = Directory::from_env(&ActiveDirectory::default());
        let acc = dir.create_computer_account(
            "AMT-DEVICE-01",
            "amt-device-01.corp.amt-sim.test",
            Timestamp::EPOCH,
        );
        let Ok(acc) = acc else {
            panic!("create failed: {acc:?}");
        };
        assert_eq!(acc.sam, "AMT-DEVICE-01$iME");
        assert_eq!(
            acc.dn,
            "CN=AMT-DEVICE-01$iME,OU=AMT Computers,DC=corp,DC=amt-sim,DC=test"
        );
        assert!(
            acc.spn
                .contains(&"HTTP/amt-device-01.corp.amt-sim.test:16993".to_owned())
        );
        assert!(dir.account("amt-device-01$ime").is_some());
        assert_eq!(
            dir.delete_account("AMT-DEVICE-01$iME").map(|a| a.sam),
            Ok(acc.sam)
        );
        assert_eq!(
            dir.delete_account("AMT-DEVICE-01$iME").map_err(|e| e.id()),
            Err("ad/no-such-account")
        );
    }

    #[test]
    fn container_missing_and_disjoint_namespace() {
        let missing = ActiveDirectory {
            container_exists: false,
            ..ActiveDirectory::default()
        };
        let err = Directory::from_env(&missing)
            .create_computer_account("A", "a.corp.amt-sim.test", Timestamp::EPOCH)
            .map_err(|e| (e.id(), e.log_ids().len()));
        assert_eq!(err, Err(("ad/container-missing", 3)));
        let other_domain = Directory::from_env(&ActiveDirectory::default())
            .create_computer_account("A", "a.sales.amt-sim.test", Timestamp::EPOCH)
            .map_err(|e| e.id());
        assert_eq!(other_domain, Err("ad/container-missing"));
        let disjoint = ActiveDirectory {
            disjoint_namespace: true,
            ..ActiveDirectory::default()
        };
        let err = Directory::from_env(&disjoint)
            .create_computer_account("A", "a.corp.amt-sim.test", Timestamp::EPOCH)
            .map_err(|e| e.id());
        assert_eq!(err, Err("ad/disjoint-namespace"));
    }
}
