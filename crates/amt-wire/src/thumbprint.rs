//! Certificate thumbprints: SHA-1/256/384 of a certificate's DER, and their hex forms.
//!
//! A device's hash list, the Hello packet and the provisioning server's root check all speak of
//! thumbprints. This module computes them from DER and reads and writes the hex forms people see:
//! lower-case hex (`meshcmd amthashes`, RPS, OpenSSL without colons), upper-case hex without
//! separators (the ConfigMgr console and its logs, e.g. `55B7AF313A725CA10BB47A382494A3BD2927D1FB`)
//! and upper-case pairs separated by spaces (the MEBx hash screen; the grouping is an inference, see
//! `Thumbprint::to_mebx_hex`). It does not parse certificates: callers pass the DER bytes.

use std::fmt;

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384};
use thiserror::Error;

/// A hash algorithm that AMT uses for root-certificate thumbprints.
///
/// The wire numbers are the Hello packet's and HECI's `CERT_HASH_ALGORITHM` values.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum HashAlgorithm {
    /// SHA-1, 20 bytes, wire value 1. Refused by ME 16 and newer.
    Sha1,
    /// SHA-256, 32 bytes, wire value 2 (AMT 6.0 and newer).
    Sha256,
    /// SHA-384, 48 bytes, wire value 3 (AMT 6.0 and newer).
    Sha384,
}

impl HashAlgorithm {
    /// Every algorithm, in wire-value order.
    pub const ALL: [Self; 3] = [Self::Sha1, Self::Sha256, Self::Sha384];

    /// The algorithm for a Hello/HECI wire value, if it is one AMT uses in hash lists.
    pub fn from_wire(value: u8) -> Option<Self> {
        match value {
            1 => Some(Self::Sha1),
            2 => Some(Self::Sha256),
            3 => Some(Self::Sha384),
            _ => None,
        }
    }

    /// The Hello/HECI wire value.
    pub fn wire(self) -> u8 {
        match self {
            Self::Sha1 => 1,
            Self::Sha256 => 2,
            Self::Sha384 => 3,
        }
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
        }
    }

    /// The algorithm whose digest has `len` bytes.
    pub fn from_len(len: usize) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.digest_len() == len)
    }

    /// The name as written in profiles and logs: `sha1`, `sha256`, `sha384`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A certificate thumbprint: the digest of the certificate's DER under one algorithm.
///
/// The variant fixes the length, so a `Thumbprint` is always well formed.
#[derive(Clone, Copy, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Thumbprint {
    /// SHA-1 thumbprint.
    Sha1([u8; 20]),
    /// SHA-256 thumbprint.
    Sha256([u8; 32]),
    /// SHA-384 thumbprint.
    Sha384([u8; 48]),
}

impl Thumbprint {
    /// The thumbprint of `der` (a certificate's DER encoding) under `alg`.
    pub fn of_der(alg: HashAlgorithm, der: &[u8]) -> Self {
        match alg {
            HashAlgorithm::Sha1 => Self::Sha1(Sha1::digest(der).into()),
            HashAlgorithm::Sha256 => Self::Sha256(Sha256::digest(der).into()),
            HashAlgorithm::Sha384 => Self::Sha384(Sha384::digest(der).into()),
        }
    }

    /// A thumbprint from raw digest bytes; the length must fit `alg`.
    pub fn from_bytes(alg: HashAlgorithm, bytes: &[u8]) -> Result<Self, ThumbprintError> {
        let wrong_len = || ThumbprintError::WrongLength {
            alg,
            expected: alg.digest_len(),
            got: bytes.len(),
        };
        Ok(match alg {
            HashAlgorithm::Sha1 => Self::Sha1(bytes.try_into().map_err(|_| wrong_len())?),
            HashAlgorithm::Sha256 => Self::Sha256(bytes.try_into().map_err(|_| wrong_len())?),
            HashAlgorithm::Sha384 => Self::Sha384(bytes.try_into().map_err(|_| wrong_len())?),
        })
    }

    /// Parses any of the hex forms this module writes, and OpenSSL's colon form: separators
    /// (space, `:`, `-`) are ignored, case does not matter, and the length picks the algorithm
    /// (40 hex digits SHA-1, 64 SHA-256, 96 SHA-384).
    pub fn parse_hex(text: &str) -> Result<Self, ThumbprintError> {
        if text.len() > MAX_HEX_INPUT {
            return Err(ThumbprintError::TooLong { len: text.len() });
        }
        let mut bytes = Vec::with_capacity(48);
        let mut high: Option<u8> = None;
        for (offset, c) in text.char_indices() {
            if matches!(c, ' ' | ':' | '-') && high.is_none() {
                continue;
            }
            let nibble = c
                .to_digit(16)
                .and_then(|d| u8::try_from(d).ok())
                .ok_or(ThumbprintError::NotHex { offset, found: c })?;
            match high.take() {
                None => high = Some(nibble),
                Some(h) => bytes.push(h << 4 | nibble),
            }
        }
        if high.is_some() {
            return Err(ThumbprintError::OddDigits);
        }
        let alg = HashAlgorithm::from_len(bytes.len())
            .ok_or(ThumbprintError::UnknownLength { len: bytes.len() })?;
        Self::from_bytes(alg, &bytes)
    }

    /// The algorithm of this thumbprint.
    pub fn algorithm(&self) -> HashAlgorithm {
        match self {
            Self::Sha1(_) => HashAlgorithm::Sha1,
            Self::Sha256(_) => HashAlgorithm::Sha256,
            Self::Sha384(_) => HashAlgorithm::Sha384,
        }
    }

    /// The raw digest bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Sha1(b) => b,
            Self::Sha256(b) => b,
            Self::Sha384(b) => b,
        }
    }

    /// Whether `der` hashes to this thumbprint under this thumbprint's algorithm.
    pub fn matches_der(&self, der: &[u8]) -> bool {
        Self::of_der(self.algorithm(), der) == *self
    }

    /// Lower-case hex, no separators (`meshcmd amthashes`, RPS). Also the `Display` form.
    pub fn to_lower_hex(&self) -> String {
        hex::encode(self.as_bytes())
    }

    /// Upper-case hex, no separators: the form of the ConfigMgr console and its log lines.
    pub fn to_configmgr_hex(&self) -> String {
        hex::encode_upper(self.as_bytes())
    }

    /// Upper-case hex pairs separated by single spaces, the way the MEBx hash screen groups them
    /// (grouping inferred from MEBx screenshots in vendor guides; no text source states it).
    pub fn to_mebx_hex(&self) -> String {
        let upper = self.to_configmgr_hex();
        let mut out = String::with_capacity(upper.len() * 3 / 2);
        for (i, pair) in upper.as_bytes().chunks(2).enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.extend(pair.iter().map(|&b| char::from(b)));
        }
        out
    }
}

impl fmt::Display for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_lower_hex())
    }
}

impl fmt::Debug for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm(), self.to_lower_hex())
    }
}

/// Why a thumbprint could not be read.
#[derive(Clone, Debug, Eq, Error, PartialEq)]
#[non_exhaustive]
pub enum ThumbprintError {
    /// A character that is neither a hex digit nor an allowed separator.
    #[error("thumbprint has a non-hex character {found:?} at offset {offset}")]
    NotHex {
        /// Byte offset of the character in the input.
        offset: usize,
        /// The character found.
        found: char,
    },
    /// An odd number of hex digits.
    #[error("thumbprint has an odd number of hex digits")]
    OddDigits,
    /// Input far longer than any thumbprint.
    #[error("thumbprint text is {len} bytes, longer than any thumbprint")]
    TooLong {
        /// Length of the input in bytes.
        len: usize,
    },
    /// A digest length that is not SHA-1, SHA-256 or SHA-384.
    #[error("thumbprint of {len} bytes matches no hash algorithm (20, 32 or 48 bytes)")]
    UnknownLength {
        /// Number of bytes decoded.
        len: usize,
    },
    /// Raw bytes whose length does not fit the stated algorithm.
    #[error("{alg} thumbprint must be {expected} bytes, got {got}")]
    WrongLength {
        /// The stated algorithm.
        alg: HashAlgorithm,
        /// Its digest length.
        expected: usize,
        /// The length given.
        got: usize,
    },
}

impl ThumbprintError {
    /// A stable identifier for this kind of error, for scenarios and reports.
    pub fn id(&self) -> &'static str {
        match self {
            Self::NotHex { .. } => "thumbprint/not-hex",
            Self::OddDigits => "thumbprint/odd-digits",
            Self::TooLong { .. } => "thumbprint/too-long",
            Self::UnknownLength { .. } => "thumbprint/unknown-length",
            Self::WrongLength { .. } => "thumbprint/wrong-length",
        }
    }
}

/// Longest hex input accepted: SHA-384 as space-separated pairs, with room for stray separators.
const MAX_HEX_INPUT: usize = 256;

/// Proptest strategies for thumbprints, shared by this crate's tests.
#[cfg(test)]
pub(crate) mod strategies {
    use proptest::prelude::*;

    use super::{HashAlgorithm, Thumbprint};

    /// Any thumbprint of any algorithm.
    pub(crate) fn any_thumbprint() -> impl Strategy<Value = Thumbprint> {
        prop_oneof![
            any::<[u8; 20]>().prop_map(Thumbprint::Sha1),
            any::<[u8; 32]>().prop_map(Thumbprint::Sha256),
            proptest::collection::vec(any::<u8>(), 48).prop_map(|v| {
                Thumbprint::from_bytes(HashAlgorithm::Sha384, &v).expect("48 bytes")
            }),
        ]
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::strategies::any_thumbprint;
    use super::*;

    #[test]
    fn known_digests_of_empty_input() {
        let sha1 = Thumbprint::of_der(HashAlgorithm::Sha1, b"");
        assert_eq!(
            sha1.to_lower_hex(),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        let sha256 = Thumbprint::of_der(HashAlgorithm::Sha256, b"");
        assert_eq!(
            sha256.to_configmgr_hex(),
            "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
        );
        let sha384 = Thumbprint::of_der(HashAlgorithm::Sha384, b"");
        assert!(sha384.to_lower_hex().starts_with("38b060a751ac9638"));
        assert!(sha1.matches_der(b""));
        assert!(!sha1.matches_der(b"x"));
    }

    #[test]
    fn reads_every_written_form_and_openssl_colons() {
        let t = Thumbprint::parse_hex("742c3192e607e424eb4549542be1bbc53e6174e2").unwrap();
        assert_eq!(t.algorithm(), HashAlgorithm::Sha1);
        assert_eq!(
            t.to_mebx_hex(),
            "74 2C 31 92 E6 07 E4 24 EB 45 49 54 2B E1 BB C5 3E 61 74 E2"
        );
        for form in [
            t.to_lower_hex(),
            t.to_configmgr_hex(),
            t.to_mebx_hex(),
            "74:2C:31:92:E6:07:E4:24:EB:45:49:54:2B:E1:BB:C5:3E:61:74:E2".to_owned(),
        ] {
            assert_eq!(Thumbprint::parse_hex(&form), Ok(t), "{form}");
        }
    }

    #[test]
    fn rejects_bad_hex_with_a_reason() {
        assert_eq!(
            Thumbprint::parse_hex("abc").unwrap_err(),
            ThumbprintError::OddDigits
        );
        assert_eq!(
            Thumbprint::parse_hex("zz").unwrap_err(),
            ThumbprintError::NotHex {
                offset: 0,
                found: 'z'
            }
        );
        assert_eq!(
            Thumbprint::parse_hex("00112233").unwrap_err().id(),
            "thumbprint/unknown-length"
        );
        assert_eq!(
            Thumbprint::parse_hex(&"0".repeat(1000)).unwrap_err().id(),
            "thumbprint/too-long"
        );
        // A separator inside a pair is not a separator.
        assert!(Thumbprint::parse_hex(&format!("7 4{}", "00".repeat(19))).is_err());
        assert_eq!(
            Thumbprint::from_bytes(HashAlgorithm::Sha256, &[0; 20]).unwrap_err(),
            ThumbprintError::WrongLength {
                alg: HashAlgorithm::Sha256,
                expected: 32,
                got: 20
            }
        );
    }

    #[test]
    fn wire_values_round_trip() {
        for alg in HashAlgorithm::ALL {
            assert_eq!(HashAlgorithm::from_wire(alg.wire()), Some(alg));
            assert_eq!(HashAlgorithm::from_len(alg.digest_len()), Some(alg));
        }
        assert_eq!(HashAlgorithm::from_wire(0), None);
        assert_eq!(HashAlgorithm::from_wire(4), None);
    }

    proptest! {
        #[test]
        fn hex_forms_round_trip(t in any_thumbprint()) {
            prop_assert_eq!(Thumbprint::parse_hex(&t.to_lower_hex()), Ok(t));
            prop_assert_eq!(Thumbprint::parse_hex(&t.to_configmgr_hex()), Ok(t));
            prop_assert_eq!(Thumbprint::parse_hex(&t.to_mebx_hex()), Ok(t));
            prop_assert_eq!(Thumbprint::from_bytes(t.algorithm(), t.as_bytes()), Ok(t));
        }

        #[test]
        fn parse_hex_never_panics(s in ".{0,300}") {
            let _ = Thumbprint::parse_hex(&s);
        }
    }
}
