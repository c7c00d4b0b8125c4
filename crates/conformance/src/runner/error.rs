//! Why a scenario could not be run at all: a broken scenario or a harness failure, never an
//! outcome of the run (those are observations) and never a skip (a [`super::SkipReason`]).

use thiserror::Error;

/// A scenario that could not be run.
#[derive(Clone, Debug, Eq, PartialEq, Error)]
pub enum RunError {
    /// The device profile (or a file it names) could not be built.
    #[error("{0}")]
    Profile(String),
    /// A file the site needs (provisioning certificate, key) could not be read or parsed.
    #[error("{0}")]
    SiteFile(String),
    /// The test enterprise CA could not be set up.
    #[error("CA: {0}")]
    Ca(String),
    /// A device could not be created from its profile.
    #[error("device: {0}")]
    Device(String),
    /// The fleet could not be made from the scenario's device and environment.
    #[error("{0}")]
    Fleet(String),
    /// The device's local host interface (HECI) failed.
    #[error("HECI: {0}")]
    Heci(String),
    /// The harness's own sockets or runtime failed (binding, the tokio runtime).
    #[error("{0}")]
    Harness(String),
    /// The arm was given an address it cannot use (e.g. `--device` without an HTTP port below).
    #[error("{0}")]
    Address(String),
    /// A device index the arm does not have.
    #[error("no device {0}")]
    NoDevice(usize),
    /// A site step names a site, client or file the hierarchy does not have.
    #[error("site step: {0}")]
    Site(String),
}

impl RunError {
    /// Stable id.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Profile(_) => "run/profile",
            Self::SiteFile(_) => "run/site-file",
            Self::Ca(_) => "run/ca",
            Self::Device(_) => "run/device",
            Self::Fleet(_) => "run/fleet",
            Self::Heci(_) => "run/heci",
            Self::Harness(_) => "run/harness",
            Self::Address(_) => "run/address",
            Self::NoDevice(_) => "run/no-device",
            Self::Site(_) => "run/site",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_text_is_the_message() {
        let all = [
            RunError::Profile("p".into()),
            RunError::SiteFile("f".into()),
            RunError::Ca("c".into()),
            RunError::Device("d".into()),
            RunError::Fleet("l".into()),
            RunError::Heci("h".into()),
            RunError::Harness("r".into()),
            RunError::Address("a".into()),
            RunError::NoDevice(3),
        ];
        let ids: std::collections::BTreeSet<&str> = all.iter().map(RunError::id).collect();
        assert_eq!(ids.len(), all.len());
        assert_eq!(RunError::NoDevice(3).to_string(), "no device 3");
        assert_eq!(RunError::Ca("x".into()).to_string(), "CA: x");
    }
}
