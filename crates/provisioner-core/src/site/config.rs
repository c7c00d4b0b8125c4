//! The site hierarchy as environment data (`environment.hierarchy`): sites, their parents, AD
//! forests and schema, keys exchanged at start, signing certificates, clients, despooler cadence.
//!
//! Facts behind the defaults are in `reference/configmgr-sites.md` (A.1 key exchange, A.2 signing
//! certificate); what the sources leave open is marked here as ours.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The hierarchy. Empty `sites` means no hierarchy: the service point's site stands alone and
/// nothing of this module runs.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HierarchyConfig {
    /// Every site, parents before children.
    pub sites: Vec<SiteConfig>,
    /// The site hosting the out-of-band service point (a primary site). Default: the first
    /// primary site. Its computers are the ones the service point provisions.
    pub oob_service_point: Option<String>,
    /// The site whose console set the AMT provisioning certificate of the service point's site
    /// from a parent primary site the option of a child primary site is unavailable).
    /// Default: the service point's site itself.
    pub configured_from: Option<String>,
    /// The despooler's retry cadence for instructions it cannot verify.
    pub despooler: DespoolerConfig,
    /// ConfigMgr clients whose policy is signed (native mode, seed 003).
    pub clients: Vec<ClientConfig>,
    /// The Windows time-zone name in despool.log's `won't be processed till` lines (matches the
    /// `logs.bias_minutes` default of 480). Default `Pacific Standard Time`.
    pub time_zone_name: String,
    /// PID in STATMSG lines. Default 5428 (the PKGACT-CB sample).
    pub statmsg_pid: u32,
}

impl Default for HierarchyConfig {
    fn default() -> Self {
        Self {
            sites: Vec::new(),
            oob_service_point: None,
            configured_from: None,
            despooler: DespoolerConfig::default(),
            clients: Vec::new(),
            time_zone_name: "Pacific Standard Time".to_owned(),
            statmsg_pid: 5428,
        }
    }
}

/// Primary or secondary site.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SiteKind {
    /// A primary site (central or child): has a database, may host the out-of-band service point.
    #[default]
    Primary,
    /// A secondary site: no database, attached to a primary parent, inherits its site mode.
    Secondary,
}

/// One site.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SiteConfig {
    /// Three-character site code (`P01`).
    pub code: String,
    /// Primary or secondary.
    pub kind: SiteKind,
    /// The parent site's code (none for the central site).
    pub parent: Option<String>,
    /// The AD forest the site publishes in. Default `corp.amt-sim.test`.
    pub forest: String,
    /// The AD schema is extended for ConfigMgr 2007 in this site's forest, so its key can be
    /// published and looked up there. Default false.
    pub ad_schema_extended: bool,
    /// The site publishes its information (and public key) to AD. Default true.
    pub publish_to_ad: bool,
    /// "Require secure key exchange": default true (\[V-CB\] PREINST-CB; 2007 signs by default \[V\]).
    pub require_secure_key_exchange: bool,
    /// Installed when the run starts (false: an `install_site` step installs it). Default true.
    pub installed: bool,
    /// This site and its parent hold each other's current public key when the run starts (the
    /// exchange was done earlier). Default false.
    pub keys_exchanged: bool,
    /// The site server's FQDN (`SYS=` of STATMSG lines). Default `<code>SITE.CORP.AMT-SIM.TEST`.
    pub server: String,
    /// `<install directory>` as paths in log lines show it.
    pub install_dir: String,
    /// Native mode: the site server signing certificate of a primary site (secondary sites
    /// inherit their parent's). None: mixed mode, policies are not signed.
    pub signing_certificate: Option<SigningCertConfig>,
    /// How many client policies the site signs (counted when they are re-signed). Default 12.
    pub policies: u32,
}

impl Default for SiteConfig {
    fn default() -> Self {
        Self {
            code: String::new(),
            kind: SiteKind::Primary,
            parent: None,
            forest: "corp.amt-sim.test".to_owned(),
            ad_schema_extended: false,
            publish_to_ad: true,
            require_secure_key_exchange: true,
            installed: true,
            keys_exchanged: false,
            server: String::new(),
            install_dir: "C:\\Program Files\\Microsoft Configuration Manager".to_owned(),
            signing_certificate: None,
            policies: 12,
        }
    }
}

impl SiteConfig {
    /// The server FQDN, or the default made from the site code.
    pub fn server_name(&self) -> String {
        if self.server.is_empty() {
            format!("{}SITE.CORP.AMT-SIM.TEST", self.code)
        } else {
            self.server.clone()
        }
    }
}

/// A site server signing certificate (document signing, \[V\] CERTREQ-NM).
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SigningCertConfig {
    /// The name of the root CA it chains to (the client pins this root's hash).
    pub root: String,
    /// Days from the start of the run until it expires.
    pub valid_days: u32,
}

/// The despooler's retry cadence (\[V\] "about every five minutes, one hundred times"; the SMS 2003
/// log's "100 more times" read as 1 + 100 attempts, \[R\]).
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DespoolerConfig {
    /// Retries after the first failed attempt. Default 100.
    pub retries: u32,
    /// Seconds between attempts. Default 300.
    pub retry_interval_s: u64,
}

impl Default for DespoolerConfig {
    fn default() -> Self {
        Self {
            retries: 100,
            retry_interval_s: 300,
        }
    }
}

/// 32- or 64-bit Windows: decides where the client keeps `AllowedRootCAHashCode`.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
pub enum OsBits {
    /// 32-bit: `HKLM\SOFTWARE\Microsoft\CCM\Security`.
    #[default]
    #[serde(rename = "32")]
    Bits32,
    /// 64-bit: `HKLM\SOFTWARE\Wow6432Node\Microsoft\CCM\Security`.
    #[serde(rename = "64")]
    Bits64,
}

/// The 32-bit registry key of the client's signing-certificate pin (\[T\] seed 003).
pub const SECURITY_KEY_32: &str = "HKLM\\SOFTWARE\\Microsoft\\CCM\\Security";
/// The 64-bit registry key (\[T\] seed 003).
pub const SECURITY_KEY_64: &str = "HKLM\\SOFTWARE\\Wow6432Node\\Microsoft\\CCM\\Security";

impl OsBits {
    /// The registry key holding `AllowedRootCAHashCode` on this OS.
    pub fn security_key(self) -> &'static str {
        match self {
            Self::Bits32 => SECURITY_KEY_32,
            Self::Bits64 => SECURITY_KEY_64,
        }
    }
}

/// A ConfigMgr client in native mode.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Computer name (the in-band client of an imported computer has the computer's name).
    pub name: String,
    /// Assigned site (its management point serves the policy).
    pub site: String,
    /// 32- or 64-bit OS. Default 32.
    #[serde(default)]
    pub os_bits: OsBits,
    /// The root CA name whose hash the client pinned when installed. Default: the root of its
    /// site's signing certificate at the start. `""`: no pin.
    #[serde(default)]
    pub pinned_root: Option<String>,
}

/// Why a hierarchy or a command on it is unusable.
#[derive(Clone, Debug, Eq, PartialEq, Error)]
#[non_exhaustive]
pub enum HierarchyError {
    /// A site code that no site has.
    #[error("no site {code} in the hierarchy")]
    UnknownSite {
        /// The code.
        code: String,
    },
    /// A client name that no client has.
    #[error("no client {name} in the hierarchy")]
    UnknownClient {
        /// The name.
        name: String,
    },
    /// A file that is not where the step looks for it.
    #[error("no file {file} at {place}")]
    NoSuchFile {
        /// The file name.
        file: String,
        /// Where it was looked for.
        place: String,
    },
    /// The structure is wrong (duplicate code, parent missing or after the child, a secondary
    /// site hosting the service point, …).
    #[error("hierarchy: {message}")]
    Invalid {
        /// What is wrong.
        message: String,
    },
    /// A07: the AMT provisioning certificate of a child primary site set from its parent.
    #[error(
        "the AMT provisioning certificate of child primary site {child} cannot be set from parent site {parent}: in a console connected to {parent} the option is unavailable for {child}; configure it on {child} itself"
    )]
    ChildSiteOption {
        /// The child site hosting the service point.
        child: String,
        /// The parent site the console was connected to.
        parent: String,
    },
}

impl HierarchyError {
    /// A stable id: `hierarchy/unknown-site`, `hierarchy/unknown-client`, `hierarchy/no-such-file`,
    /// `hierarchy/invalid`, `hierarchy/child-site-option`.
    pub fn id(&self) -> &'static str {
        match self {
            Self::UnknownSite { .. } => "hierarchy/unknown-site",
            Self::UnknownClient { .. } => "hierarchy/unknown-client",
            Self::NoSuchFile { .. } => "hierarchy/no-such-file",
            Self::Invalid { .. } => "hierarchy/invalid",
            Self::ChildSiteOption { .. } => "hierarchy/child-site-option",
        }
    }
}

impl HierarchyConfig {
    /// Whether there is a hierarchy at all.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    /// The site with this code.
    pub fn site(&self, code: &str) -> Option<&SiteConfig> {
        self.sites.iter().find(|s| s.code == code)
    }

    /// The site hosting the out-of-band service point.
    pub fn service_point_site(&self) -> Option<&SiteConfig> {
        match &self.oob_service_point {
            Some(code) => self.site(code),
            None => self.sites.iter().find(|s| s.kind == SiteKind::Primary),
        }
    }

    /// Checks the structure and the A-07 console rule.
    pub fn validate(&self) -> Result<(), HierarchyError> {
        let invalid = |message: String| HierarchyError::Invalid { message };
        for (i, s) in self.sites.iter().enumerate() {
            if s.code.is_empty() {
                return Err(invalid(format!("sites[{i}]: code must not be empty")));
            }
            if self.sites[..i].iter().any(|o| o.code == s.code) {
                return Err(invalid(format!("sites[{i}]: site {} twice", s.code)));
            }
            match (&s.parent, s.kind) {
                (Some(p), _) if !self.sites[..i].iter().any(|o| &o.code == p) => {
                    return Err(invalid(format!(
                        "site {}: parent {p} must be listed before it",
                        s.code
                    )));
                }
                (None, SiteKind::Secondary) => {
                    return Err(invalid(format!("secondary site {} needs a parent", s.code)));
                }
                _ => {}
            }
            if s.kind == SiteKind::Secondary && s.signing_certificate.is_some() {
                return Err(invalid(format!(
                    "secondary site {}: the signing certificate is inherited from the parent",
                    s.code
                )));
            }
        }
        if self.sites.is_empty() {
            return Ok(());
        }
        let sp = self
            .service_point_site()
            .ok_or_else(|| HierarchyError::UnknownSite {
                code: self.oob_service_point.clone().unwrap_or_default(),
            })?;
        if sp.kind == SiteKind::Secondary {
            return Err(invalid(format!(
                "the out-of-band service point cannot be on secondary site {} (a primary site hosts it)",
                sp.code
            )));
        }
        for c in &self.clients {
            if self.site(&c.site).is_none() {
                return Err(HierarchyError::UnknownSite {
                    code: c.site.clone(),
                });
            }
        }
        if let Some(from) = &self.configured_from {
            if self.site(from).is_none() {
                return Err(HierarchyError::UnknownSite { code: from.clone() });
            }
            if from != &sp.code && self.is_ancestor(from, &sp.code) {
                return Err(HierarchyError::ChildSiteOption {
                    child: sp.code.clone(),
                    parent: from.clone(),
                });
            }
        }
        Ok(())
    }

    /// Whether `ancestor` is a parent (or grand-parent …) of `code`.
    pub fn is_ancestor(&self, ancestor: &str, code: &str) -> bool {
        let mut at = self.site(code).and_then(|s| s.parent.clone());
        let mut hops = 0;
        while let Some(p) = at {
            if p == ancestor {
                return true;
            }
            hops += 1;
            if hops > self.sites.len() {
                return false;
            }
            at = self.site(&p).and_then(|s| s.parent.clone());
        }
        false
    }

    /// The primary site whose signing certificate covers `code` (itself, or a secondary's parent).
    pub fn signing_site(&self, code: &str) -> Option<&SiteConfig> {
        let s = self.site(code)?;
        match s.kind {
            SiteKind::Primary => Some(s),
            SiteKind::Secondary => s.parent.as_deref().and_then(|p| self.site(p)),
        }
    }
}
