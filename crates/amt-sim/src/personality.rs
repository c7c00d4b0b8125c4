//! Device personalities: the AMT firmware generations the simulator imitates and the
//! version-dependent behaviour each one implies (certificate rules, TLS, quirks, defaults).
//!
//! A personality is one row of a table ([`Personality::traits`]). The profile picks a row and may
//! override single values; everything here is data, so a scenario can name a personality and get
//! the behaviour the references document for that firmware generation
//! (`reference/amt-protocol.md` §2.2, §2.3, §3.3, §5).

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

pub use crate::tls::CnRule;

/// An AMT firmware generation.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Serialize, Deserialize)]
pub enum Personality {
    /// AMT 2.6 (ConfigMgr 2007 era, legacy SOAP only).
    #[serde(rename = "amt-2.6", alias = "amt-2")]
    Amt2_6,
    /// AMT 3.0 (first WS-Management firmware).
    #[serde(rename = "amt-3.0", alias = "amt-3")]
    Amt3_0,
    /// AMT 3.2.1 (last-two-labels domain matching).
    #[serde(rename = "amt-3.2.1", alias = "amt-3.2")]
    Amt3_2_1,
    /// AMT 4.x.
    #[serde(rename = "amt-4", alias = "amt-4.0")]
    Amt4,
    /// AMT 5.x.
    #[serde(rename = "amt-5", alias = "amt-5.0")]
    Amt5,
    /// AMT 6.x (ConfigMgr 2007 SP2 era).
    #[serde(rename = "amt-6", alias = "amt-6.0")]
    Amt6,
    /// AMT 7.x (host-based setup appears).
    #[serde(rename = "amt-7", alias = "amt-7.0")]
    Amt7,
    /// AMT 8.x.
    #[serde(rename = "amt-8", alias = "amt-8.0")]
    Amt8,
    /// AMT 9.x (legacy SOAP removed).
    #[serde(rename = "amt-9", alias = "amt-9.0")]
    Amt9,
    /// AMT 11.x.
    #[serde(rename = "amt-11", alias = "amt-11.0")]
    Amt11,
    /// AMT 12.x (TLS 1.2 added, TLS 1.0 removed).
    #[serde(rename = "amt-12", alias = "amt-12.0")]
    Amt12,
    /// AMT 15.x (CSME 15).
    #[serde(rename = "amt-15", alias = "amt-15.0")]
    Amt15,
    /// AMT 16.x (CSME 16: no SHA-1 anywhere in the chain, RSA < 2048 refused).
    #[serde(rename = "amt-16", alias = "amt-16.0")]
    Amt16,
}

/// How requests inside the provisioning-certificate (setup) TLS session are authorised.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SetupAuth {
    /// The mutually authenticated TLS session is the authorisation: any or no `Authorization`
    /// header is accepted (what MeshCentral relies on: `admin` with an empty password).
    Certificate,
    /// The device still demands HTTP digest: `admin` with the current MEBx password.
    Digest,
}

/// Which Hello schedule a personality uses by default.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleKind {
    /// ConfigMgr's documented schedule: 0–4 min, 5–60 min every 5, 2–24 h hourly (40 Hellos).
    #[serde(rename = "configmgr-24h")]
    ConfigMgr24h,
    /// The Altiris/HP variant: the same start but the window ends after 6 hours.
    SixHours,
}

/// The version-dependent behaviour of one firmware generation.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PersonalityTraits {
    /// Full firmware version string (as in the `Server` header and `CIM_SoftwareIdentity`).
    pub amt_version: &'static str,
    /// Major version number.
    pub amt_major: u8,
    /// Domain-suffix rule for the provisioning certificate's CN.
    pub cn_rule: CnRule,
    /// Largest accepted root-CA key, in bits (`None` = no limit).
    pub max_root_key_bits: Option<u32>,
    /// Smallest accepted RSA key anywhere in the chain, in bits (`None` = no limit).
    pub min_rsa_key_bits: Option<u32>,
    /// Whether any SHA-1 signature in the chain (root included) is refused, and SHA-1 hashes
    /// cannot be added.
    pub refuse_sha1: bool,
    /// FQDNs longer than this many bytes make WS-MAN calls that carry them fail (`None` = no limit).
    pub fqdn_limit: Option<usize>,
    /// Whether TLS 1.2 is offered (rustls offers only 1.2 and 1.3; older versions are not simulated).
    pub tls12: bool,
    /// Whether TLS 1.3 is offered (kept on for every personality, see `PROFILE.md`).
    pub tls13: bool,
    /// Whether `IPS_HostBasedSetupService` exists (AMT 7+).
    pub host_based_setup: bool,
    /// Default Hello schedule.
    pub hello_schedule: ScheduleKind,
    /// Default authorisation inside the setup TLS session.
    pub setup_auth: SetupAuth,
}

impl Personality {
    /// Every personality, oldest first.
    pub const ALL: [Self; 13] = [
        Self::Amt2_6,
        Self::Amt3_0,
        Self::Amt3_2_1,
        Self::Amt4,
        Self::Amt5,
        Self::Amt6,
        Self::Amt7,
        Self::Amt8,
        Self::Amt9,
        Self::Amt11,
        Self::Amt12,
        Self::Amt15,
        Self::Amt16,
    ];

    /// The profile spelling (`amt-6`, `amt-3.2.1`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Amt2_6 => "amt-2.6",
            Self::Amt3_0 => "amt-3.0",
            Self::Amt3_2_1 => "amt-3.2.1",
            Self::Amt4 => "amt-4",
            Self::Amt5 => "amt-5",
            Self::Amt6 => "amt-6",
            Self::Amt7 => "amt-7",
            Self::Amt8 => "amt-8",
            Self::Amt9 => "amt-9",
            Self::Amt11 => "amt-11",
            Self::Amt12 => "amt-12",
            Self::Amt15 => "amt-15",
            Self::Amt16 => "amt-16",
        }
    }

    /// The behaviour table row for this generation.
    pub fn traits(self) -> PersonalityTraits {
        let (amt_version, amt_major) = match self {
            Self::Amt2_6 => ("2.6.3", 2),
            Self::Amt3_0 => ("3.0.0", 3),
            Self::Amt3_2_1 => ("3.2.1", 3),
            Self::Amt4 => ("4.0.0", 4),
            Self::Amt5 => ("5.2.70", 5),
            Self::Amt6 => ("6.2.61.3535", 6),
            Self::Amt7 => ("7.1.91.3272", 7),
            Self::Amt8 => ("8.1.40.1416", 8),
            Self::Amt9 => ("9.5.30.1720", 9),
            Self::Amt11 => ("11.8.50.3399", 11),
            Self::Amt12 => ("12.0.45.1509", 12),
            Self::Amt15 => ("15.0.23.1706", 15),
            Self::Amt16 => ("16.1.25.1885", 16),
        };
        let cn_rule = match self {
            Self::Amt2_6 => CnRule::LastTwoLabelsComNetOnly,
            Self::Amt3_0 => CnRule::ExactSuffix,
            _ => CnRule::LastTwoLabels,
        };
        let modern = amt_major >= 16;
        PersonalityTraits {
            amt_version,
            amt_major,
            cn_rule,
            // ConfigMgr 2007 era: CA keys over 2048 bits unsupported (SCCM-pre). Lifted from 11 on
            // (decision: the SCCM note covers the firmware ConfigMgr 2007/2012 supported, ≤ 9).
            max_root_key_bits: (amt_major <= 9).then_some(2048),
            min_rsa_key_bits: modern.then_some(2048),
            refuse_sha1: modern,
            // Decision: the "FQDN > 44 bytes" WS-MAN failure applies to AMT 4.x–8.x (newer than
            // 3.x, ConfigMgr 2007 supported up to 8); see PROFILE.md.
            fqdn_limit: (4..=8).contains(&amt_major).then_some(44),
            // TLS 1.2 was added in AMT 12; rustls cannot speak 1.0/1.1, so older personalities
            // still get 1.2 (documented approximation) and every personality keeps 1.3 on.
            tls12: true,
            tls13: true,
            host_based_setup: amt_major >= 7,
            hello_schedule: ScheduleKind::ConfigMgr24h,
            setup_auth: if amt_major >= 11 {
                SetupAuth::Certificate
            } else {
                SetupAuth::Digest
            },
        }
    }
}

/// The alternative spellings a profile may use (`#[serde(alias)]`), with the generation each
/// means; the JSON Schema lists them next to the canonical [`Personality::name`]s.
pub const PERSONALITY_ALIASES: [(&str, Personality); 13] = [
    ("amt-2", Personality::Amt2_6),
    ("amt-3", Personality::Amt3_0),
    ("amt-3.2", Personality::Amt3_2_1),
    ("amt-4.0", Personality::Amt4),
    ("amt-5.0", Personality::Amt5),
    ("amt-6.0", Personality::Amt6),
    ("amt-7.0", Personality::Amt7),
    ("amt-8.0", Personality::Amt8),
    ("amt-9.0", Personality::Amt9),
    ("amt-11.0", Personality::Amt11),
    ("amt-12.0", Personality::Amt12),
    ("amt-15.0", Personality::Amt15),
    ("amt-16.0", Personality::Amt16),
];

/// Hand-written because schemars does not list serde aliases: a string enum of every canonical
/// name (oldest first) followed by every alias.
impl JsonSchema for Personality {
    fn schema_name() -> Cow<'static, str> {
        "Personality".into()
    }

    fn schema_id() -> Cow<'static, str> {
        "amt_sim::personality::Personality".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = Self::ALL
            .iter()
            .map(|p| p.name())
            .chain(PERSONALITY_ALIASES.iter().map(|(alias, _)| *alias))
            .collect();
        json_schema!({
            "description": "AMT firmware generation (`amt-2.6` … `amt-16`; `amt-6.0` etc. are \
                            aliases). Sets the version string, CN rule, key limits, setup \
                            authorisation and Hello schedule.",
            "type": "string",
            "enum": names,
        })
    }
}

impl Default for Personality {
    /// AMT 11: MeshCentral-compatible certificate setup session, SHA-256 hashes, no RSA/SHA-1 limits.
    fn default() -> Self {
        Self::Amt11
    }
}

impl fmt::Display for Personality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The `Server` header AMT sends: `Intel(R) Active Management Technology <version>`.
pub fn server_header(amt_version: &str) -> String {
    format!("Intel(R) Active Management Technology {amt_version}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_encodes_documented_version_rules() {
        assert_eq!(
            Personality::Amt2_6.traits().cn_rule,
            CnRule::LastTwoLabelsComNetOnly
        );
        assert_eq!(Personality::Amt3_0.traits().cn_rule, CnRule::ExactSuffix);
        assert_eq!(
            Personality::Amt3_2_1.traits().cn_rule,
            CnRule::LastTwoLabels
        );
        assert_eq!(Personality::Amt6.traits().max_root_key_bits, Some(2048));
        assert_eq!(Personality::Amt16.traits().max_root_key_bits, None);
        assert!(Personality::Amt16.traits().refuse_sha1);
        assert!(!Personality::Amt15.traits().refuse_sha1);
        assert_eq!(Personality::Amt16.traits().min_rsa_key_bits, Some(2048));
        assert_eq!(Personality::Amt3_2_1.traits().fqdn_limit, None);
        assert_eq!(Personality::Amt6.traits().fqdn_limit, Some(44));
        assert_eq!(Personality::Amt11.traits().fqdn_limit, None);
        assert!(!Personality::Amt6.traits().host_based_setup);
        assert!(Personality::Amt7.traits().host_based_setup);
        assert_eq!(Personality::Amt8.traits().setup_auth, SetupAuth::Digest);
        assert_eq!(
            Personality::Amt11.traits().setup_auth,
            SetupAuth::Certificate
        );
        assert!(Personality::ALL.iter().all(|p| p.traits().tls13));
    }

    #[test]
    fn names_round_trip_through_yaml() -> Result<(), serde_saphyr::Error> {
        for p in Personality::ALL {
            let parsed: Personality = serde_saphyr::from_str(p.name())?;
            assert_eq!(parsed, p);
        }
        let alias: Personality = serde_saphyr::from_str("amt-6.0")?;
        assert_eq!(alias, Personality::Amt6);
        for (alias, p) in PERSONALITY_ALIASES {
            let parsed: Personality = serde_saphyr::from_str(alias)?;
            assert_eq!(parsed, p, "{alias}");
        }
        assert_eq!(
            server_header("15.0.23.1706"),
            "Intel(R) Active Management Technology 15.0.23.1706"
        );
        Ok(())
    }
}
