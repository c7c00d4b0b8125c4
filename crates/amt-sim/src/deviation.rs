//! Deviations: **test knobs** that make the simulated device break one named requirement on
//! purpose (`amt-sim serve --deviation NAME`), so that the device conformance suite
//! (`amt-conformance check-device`) is shown able to fail each of its checks.
//!
//! One table row per deviation ([`Deviation::ALL`], [`Deviation::row`]): its name, the check ids
//! of `crates/conformance/src/device_checks/` it makes fail (exactly those, proven by
//! `crates/conformance/tests/device_checks.rs`), and a description. Each deviation is consulted at
//! the one place that implements the requirement it breaks. A device never has a deviation unless
//! one is asked for; they are not profile keys, so a scenario cannot turn one on by accident.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// One deliberate deviation from a requirement.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Deviation {
    /// The digest server accepts a repeated `nc` on a nonce (no replay protection).
    AcceptReplayedNc,
    /// An unknown or expired nonce with correct credentials is answered `stale="false"`.
    NoStale,
    /// Identify is answered only with authentication (401 without it).
    IdentifyNeedsAuth,
    /// The provisioning chain's leaf is not checked for the AMT OID or the Intel OU.
    SkipOidOuCheck,
    /// An expired certificate in the provisioning chain is accepted.
    AcceptExpiredChain,
    /// An optimized enumeration that returned every item still opens a context and omits
    /// `EndOfSequence`.
    OptimizedEnumKeepsContext,
    /// An unknown resource URI is answered `wsa:ActionNotSupported` instead of
    /// `wsa:DestinationUnreachable`.
    UnknownResourceWrongFault,
    /// A header with `mustUnderstand="true"` that the device does not know is ignored.
    IgnoreMustUnderstand,
    /// A request over the HTTP limits (or malformed) is answered by closing the connection,
    /// without a status.
    LimitsReset,
    /// `CommitChanges` succeeds although no admin password was set during provisioning.
    CommitWithoutAdmin,
    /// The realm is sent with lower-case hex (`Digest:` + 32 lower-case hex digits).
    LowercaseRealm,
    /// A digest answer whose `uri` differs from the request target is accepted.
    AcceptDigestUriMismatch,
    /// A WS-MAN response carries no `RelatesTo` (the request's `MessageID` is not echoed).
    MissingRelatesTo,
    /// A `MaxEnvelopeSize` below the device's minimum is ignored (no `wsman:EncodingLimit`).
    IgnoreEncodingLimit,
    /// A `wsa:To` that is not the service is accepted (no `wsa:DestinationUnreachable`).
    AcceptAnyTo,
    /// `Release` is answered but the context stays open.
    ReleaseIgnored,
    /// The Pull that returns the last items keeps its context and omits `EndOfSequence`.
    PullKeepsContext,
    /// A provisioning leaf whose CN is outside the device's DNS domain is accepted.
    IgnoreCnDomain,
    /// A provisioning chain whose root is not an active hash-list entry is accepted.
    AcceptUnlistedRoot,
    /// Selectors that match no instance are answered `wsa:DestinationUnreachable`, not `wsman:InvalidSelectors`.
    NoMatchWrongFault,
    /// `CommitChanges` returns 0 but does not move the device to post-provisioning.
    CommitStaysIn,
    /// `Unprovision` returns 0 but the device is not reset to pre-provisioning.
    UnprovisionKeepsState,
    /// A Get without selectors on a class with several instances returns the first instance.
    GetWithoutSelectorsFirst,
    /// A wrong password is answered `stale="true"`.
    WrongPasswordStale,
    /// A nonce is refused on its second use even with a higher `nc`.
    SingleUseNonce,
    /// `AMT_ProvisioningCertificateHash` entries leave out the `IsDefault` property.
    HashWithoutIsDefault,
    /// A provisioning leaf without the serverAuth key purpose is accepted.
    SkipServerAuthCheck,
    /// `Pull` ignores `MaxElements` and returns every remaining item.
    PullIgnoresMaxElements,
    /// The digest challenge offers no `qop`.
    ChallengeWithoutQop,
    /// Identify's `ProductVersion` names a major version one higher than the firmware's.
    IdentifyWrongVersion,
    /// `GetUuid` returns `ReturnValue` 0 but no `UUID`.
    GetUuidWithoutUuid,
    /// A Put whose body is another class is not answered `wsman:SchemaValidationError`.
    PutIgnoresClass,
    /// A Pull on an unknown context is answered `wsa:DestinationUnreachable`, not `wsen:InvalidEnumerationContext`.
    UnknownContextWrongFault,
}

/// A deviation's table row.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct DeviationRow {
    /// The `--deviation` name.
    pub name: &'static str,
    /// The check ids it makes fail (and no other).
    pub checks: &'static [&'static str],
    /// What the device does wrong.
    pub description: &'static str,
}

impl Deviation {
    /// Every deviation, in table order.
    pub const ALL: [Self; 33] = [
        Self::AcceptReplayedNc,
        Self::NoStale,
        Self::LowercaseRealm,
        Self::IdentifyNeedsAuth,
        Self::SkipOidOuCheck,
        Self::AcceptExpiredChain,
        Self::OptimizedEnumKeepsContext,
        Self::UnknownResourceWrongFault,
        Self::IgnoreMustUnderstand,
        Self::LimitsReset,
        Self::CommitWithoutAdmin,
        Self::AcceptDigestUriMismatch,
        Self::MissingRelatesTo,
        Self::IgnoreEncodingLimit,
        Self::AcceptAnyTo,
        Self::ReleaseIgnored,
        Self::PullKeepsContext,
        Self::IgnoreCnDomain,
        Self::AcceptUnlistedRoot,
        Self::NoMatchWrongFault,
        Self::CommitStaysIn,
        Self::UnprovisionKeepsState,
        Self::GetWithoutSelectorsFirst,
        Self::WrongPasswordStale,
        Self::SingleUseNonce,
        Self::HashWithoutIsDefault,
        Self::SkipServerAuthCheck,
        Self::PullIgnoresMaxElements,
        Self::ChallengeWithoutQop,
        Self::IdentifyWrongVersion,
        Self::GetUuidWithoutUuid,
        Self::PutIgnoresClass,
        Self::UnknownContextWrongFault,
    ];

    /// The table row.
    pub fn row(self) -> DeviationRow {
        let (name, checks, description): (_, &'static [&'static str], _) = match self {
            Self::AcceptReplayedNc => (
                "accept-replayed-nc",
                &["DIGEST-07"],
                "TEST KNOB: the digest server accepts a repeated nc on a nonce (no replay protection)",
            ),
            Self::NoStale => (
                "no-stale",
                &["DIGEST-09"],
                "TEST KNOB: an unknown or expired nonce with correct credentials gets stale=\"false\"",
            ),
            Self::LowercaseRealm => (
                "lowercase-realm",
                &["DIGEST-02"],
                "TEST KNOB: the digest realm is Digest: + 32 lower-case hex digits",
            ),
            Self::IdentifyNeedsAuth => (
                "identify-needs-auth",
                &[
                    "HTTP-01", "HTTP-03", "HTTP-08", "HTTP-09", "WSMAN-01", "WSMAN-02", "OBJ-11",
                ],
                "TEST KNOB: Identify without authentication is answered 401 (the HTTP checks probe with an anonymous Identify)",
            ),
            Self::SkipOidOuCheck => (
                "skip-oid-ou-check",
                &["TLS-03", "TLS-04"],
                "TEST KNOB: the provisioning leaf is not checked for the AMT OID or the Intel OU",
            ),
            Self::AcceptExpiredChain => (
                "accept-expired-chain",
                &["TLS-09"],
                "TEST KNOB: an expired certificate in the provisioning chain is accepted",
            ),
            Self::OptimizedEnumKeepsContext => (
                "optimized-enum-keeps-context",
                &["ENUM-03"],
                "TEST KNOB: a complete optimized enumeration keeps a context and has no EndOfSequence",
            ),
            Self::UnknownResourceWrongFault => (
                "unknown-resource-wrong-fault",
                &["FAULT-01"],
                "TEST KNOB: an unknown resource URI is answered wsa:ActionNotSupported",
            ),
            Self::IgnoreMustUnderstand => (
                "ignore-must-understand",
                &["FAULT-05"],
                "TEST KNOB: an unknown mustUnderstand header is ignored instead of faulted",
            ),
            Self::LimitsReset => (
                "limits-reset",
                &["HTTP-04", "HTTP-05", "HTTP-07"],
                "TEST KNOB: requests over the HTTP limits or malformed are answered by a close, no status",
            ),
            Self::CommitWithoutAdmin => (
                "commit-without-admin",
                &["STATE-09"],
                "TEST KNOB: CommitChanges succeeds without an admin password set",
            ),
            Self::AcceptDigestUriMismatch => (
                "accept-digest-uri-mismatch",
                &["DIGEST-13"],
                "TEST KNOB: a digest answer whose uri differs from the request target is accepted",
            ),
            Self::MissingRelatesTo => (
                "missing-relates-to",
                &["WSMAN-04"],
                "TEST KNOB: responses (but Identify's) carry no RelatesTo",
            ),
            Self::IgnoreEncodingLimit => (
                "ignore-encoding-limit",
                &["FAULT-06"],
                "TEST KNOB: a MaxEnvelopeSize below the device's minimum is ignored instead of faulted",
            ),
            Self::AcceptAnyTo => (
                "accept-any-to",
                &["FAULT-11"],
                "TEST KNOB: a wsa:To that is not the service is accepted",
            ),
            Self::ReleaseIgnored => (
                "release-ignored",
                &["ENUM-05"],
                "TEST KNOB: Release answers ReleaseResponse but keeps the context open",
            ),
            Self::PullKeepsContext => (
                "pull-keeps-context",
                &[
                    "ENUM-02", "ENUM-04", "OBJ-01", "OBJ-02", "OBJ-03", "OBJ-04", "OBJ-05",
                    "OBJ-06", "OBJ-07", "OBJ-08", "OBJ-09", "OBJ-11", "OBJ-13",
                ],
                "TEST KNOB: the last Pull keeps a context and has no EndOfSequence (the object checks, which pull to the end, never see one)",
            ),
            Self::IgnoreCnDomain => (
                "ignore-cn-domain",
                &["TLS-05", "TLS-20"],
                "TEST KNOB: a provisioning leaf whose CN is outside the device's DNS domain is accepted (TLS-20 probes its alert with such a chain)",
            ),
            Self::AcceptUnlistedRoot => (
                "accept-unlisted-root",
                &["TLS-13"],
                "TEST KNOB: a chain whose root is not an active hash-list entry is accepted (as the first entry)",
            ),
            Self::NoMatchWrongFault => (
                "no-match-wrong-fault",
                &["FAULT-03"],
                "TEST KNOB: selectors that match no instance are answered wsa:DestinationUnreachable",
            ),
            Self::CommitStaysIn => (
                "commit-stays-in",
                &["STATE-05"],
                "TEST KNOB: CommitChanges returns 0 but the device stays in-provisioning",
            ),
            Self::UnprovisionKeepsState => (
                "unprovision-keeps-state",
                &["STATE-08"],
                "TEST KNOB: Unprovision returns 0 but the device stays provisioned",
            ),
            Self::GetWithoutSelectorsFirst => (
                "get-without-selectors-first",
                &["FAULT-12"],
                "TEST KNOB: Get without selectors on a class with several instances returns the first",
            ),
            Self::WrongPasswordStale => (
                "wrong-password-stale",
                &["DIGEST-06"],
                "TEST KNOB: a wrong password is answered stale=\"true\" (as if only the nonce were old)",
            ),
            Self::SingleUseNonce => (
                "single-use-nonce",
                &["DIGEST-08"],
                "TEST KNOB: a nonce is refused on its second use, even with a higher nc",
            ),
            Self::HashWithoutIsDefault => (
                "hash-without-is-default",
                &["OBJ-04"],
                "TEST KNOB: AMT_ProvisioningCertificateHash entries leave out IsDefault",
            ),
            Self::SkipServerAuthCheck => (
                "skip-server-auth-check",
                &["TLS-08"],
                "TEST KNOB: a provisioning leaf without serverAuth (clientAuth only) is accepted",
            ),
            Self::PullIgnoresMaxElements => (
                "pull-ignores-max-elements",
                &["ENUM-08"],
                "TEST KNOB: Pull ignores MaxElements and returns every remaining item",
            ),
            Self::ChallengeWithoutQop => (
                "challenge-without-qop",
                &["DIGEST-03", "DIGEST-08"],
                "TEST KNOB: the digest challenge offers no qop (RFC 2069 style; without qop there is no nc, so a nonce cannot be reused)",
            ),
            Self::IdentifyWrongVersion => (
                "identify-wrong-version",
                &["WSMAN-02", "OBJ-11"],
                "TEST KNOB: Identify's ProductVersion names a major version one higher than the firmware's",
            ),
            Self::GetUuidWithoutUuid => (
                "get-uuid-without-uuid",
                &["WSMAN-05"],
                "TEST KNOB: GetUuid returns ReturnValue 0 but no UUID",
            ),
            Self::PutIgnoresClass => (
                "put-ignores-class",
                &["FAULT-04"],
                "TEST KNOB: a Put whose body is another class is applied instead of faulted",
            ),
            Self::UnknownContextWrongFault => (
                "unknown-context-wrong-fault",
                &["FAULT-07", "ENUM-05"],
                "TEST KNOB: a Pull on an unknown context is answered wsa:DestinationUnreachable (ENUM-05 pulls a released context)",
            ),
        };
        DeviationRow {
            name,
            checks,
            description,
        }
    }

    /// The `--deviation` name.
    pub fn name(self) -> &'static str {
        self.row().name
    }

    fn bit(self) -> u64 {
        1 << (self as u32)
    }
}

impl fmt::Display for Deviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `--deviation` name that is not in the table.
#[derive(Clone, Debug, Error, Eq, PartialEq)]
#[error("unknown deviation {0:?} (`amt-sim deviations` lists them)")]
pub struct UnknownDeviation(pub String);

impl UnknownDeviation {
    /// Stable id.
    pub fn id(&self) -> &'static str {
        "deviation/unknown"
    }
}

impl FromStr for Deviation {
    type Err = UnknownDeviation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| UnknownDeviation(s.to_owned()))
    }
}

// A deviation is one bit of a `DeviationSet`.
const _: () = assert!(Deviation::ALL.len() <= 64);

/// The deviations a device has (none by default).
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub struct DeviationSet(u64);

impl DeviationSet {
    /// No deviation.
    pub const NONE: Self = Self(0);

    /// The set of `deviations`.
    pub fn of(deviations: &[Deviation]) -> Self {
        Self(deviations.iter().fold(0, |acc, d| acc | d.bit()))
    }

    /// Whether `d` is on.
    pub fn has(self, d: Deviation) -> bool {
        self.0 & d.bit() != 0
    }

    /// Whether no deviation is on.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The deviations on, in table order.
    pub fn list(self) -> Vec<Deviation> {
        Deviation::ALL
            .into_iter()
            .filter(|d| self.has(*d))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        let mut names: Vec<_> = Deviation::ALL.iter().map(|d| d.name()).collect();
        for d in Deviation::ALL {
            assert_eq!(d.name().parse::<Deviation>(), Ok(d));
            assert!(!d.row().checks.is_empty(), "{d}");
            assert!(d.row().description.starts_with("TEST KNOB"), "{d}");
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Deviation::ALL.len());
        assert_eq!(
            "nope".parse::<Deviation>().map_err(|e| e.id()),
            Err("deviation/unknown")
        );
        let set = DeviationSet::of(&[Deviation::NoStale, Deviation::LimitsReset]);
        assert!(set.has(Deviation::NoStale) && !set.has(Deviation::AcceptReplayedNc));
        assert_eq!(set.list(), vec![Deviation::NoStale, Deviation::LimitsReset]);
        assert!(DeviationSet::NONE.is_empty());
    }
}
