//! Publishing the issued AMT web server certificate to the site database (seed 002's pattern in
//! stage 1): after the enterprise CA issues it, the site records it; the database may be
//! unavailable once or always, which fails the session at step `certificate-publish`.
//!
//! Seed 002 is a Lync Server 2010 phone ("data store unavailable.", \[V\] S2-EN); the phone itself is
//! not modelled. Nothing about an AMT publish step is documented: the step and its lines are ours
//! (`reference/configmgr-sites.md` B.3 Tier A).

use amt_wire::time::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// `environment.site_database`: the fault of the store the certificate is published to.
#[derive(Clone, Debug, Default, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SiteDatabaseConfig {
    /// When the database is unavailable for publishing: `never` (default), `once` (the first
    /// publish fails, later ones work) or `always`.
    pub unavailable: Unavailable,
}

/// When publishing fails.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Unavailable {
    /// Always available.
    #[default]
    Never,
    /// The first publish attempt fails.
    Once,
    /// Every publish attempt fails.
    Always,
}

/// Why a publish failed.
#[derive(Clone, Debug, Eq, PartialEq, Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The site database could not be reached.
    #[error("the site database is unavailable")]
    Unavailable,
}

impl PublishError {
    /// A stable id: `publish/unavailable`.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Unavailable => "publish/unavailable",
        }
    }
}

/// A certificate recorded in the site database.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PublishedCertificate {
    /// The CA's serial (hex).
    pub serial: String,
    /// The device's FQDN.
    pub fqdn: String,
    /// When.
    pub at: Timestamp,
}

/// The site database's record of issued AMT web server certificates.
#[derive(Clone, Debug, Default)]
pub struct SiteDatabase {
    attempts: u32,
    published: Vec<PublishedCertificate>,
}

impl SiteDatabase {
    /// Records certificate `serial` of `fqdn`, unless `config` makes the database unavailable.
    pub fn publish(
        &mut self,
        config: &SiteDatabaseConfig,
        serial: &str,
        fqdn: &str,
        now: Timestamp,
    ) -> Result<(), PublishError> {
        self.attempts = self.attempts.saturating_add(1);
        let down = match config.unavailable {
            Unavailable::Never => false,
            Unavailable::Once => self.attempts == 1,
            Unavailable::Always => true,
        };
        if down {
            return Err(PublishError::Unavailable);
        }
        self.published.push(PublishedCertificate {
            serial: serial.to_owned(),
            fqdn: fqdn.to_owned(),
            at: now,
        });
        Ok(())
    }

    /// Every published certificate, in order.
    pub fn published(&self) -> &[PublishedCertificate] {
        &self.published
    }

    /// Whether `serial` (hex, any case) is published.
    pub fn is_published(&self, serial: &str) -> bool {
        self.published
            .iter()
            .any(|p| p.serial.eq_ignore_ascii_case(serial))
    }

    /// How many publish attempts were made.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_fails_the_first_attempt_only_and_always_every_one() {
        let once = SiteDatabaseConfig {
            unavailable: Unavailable::Once,
        };
        let mut db = SiteDatabase::default();
        let now = Timestamp::EPOCH;
        assert_eq!(
            db.publish(&once, "01", "a", now).map_err(|e| e.id()),
            Err("publish/unavailable")
        );
        assert_eq!(db.publish(&once, "02", "a", now), Ok(()));
        assert!(db.is_published("02") && !db.is_published("01"));
        let always = SiteDatabaseConfig {
            unavailable: Unavailable::Always,
        };
        let mut db = SiteDatabase::default();
        for _ in 0..3 {
            assert!(db.publish(&always, "03", "a", now).is_err());
        }
        assert_eq!((db.attempts(), db.published().len()), (3, 0));
    }
}
