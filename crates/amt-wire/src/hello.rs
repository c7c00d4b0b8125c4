//! The Hello packet an unprovisioned AMT device sends to its provisioning server (TCP, port 9971).
//!
//! Layout (all multi-byte fields little-endian), from the Intel AMT Implementation and Reference
//! Guide page "Setup Mode Hello Messages" and the parser in MeshCentral's `amtprovisioningserver.js`:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | u16 | admin credentials set (0 or 1) |
//! | 2 | u16 | interface version: 2 = PSK, 3 = PKI |
//! | 4 | u32 | retry count |
//! | 8 | 16 | device UUID, SMBIOS byte order |
//! | 24 | 8 | PSK only: PID |
//! | 24 | u8 | PKI only: hash count N |
//! | 25 | N × (u8 type, u8 size, size bytes) | PKI only: root-certificate hashes |
//!
//! Parsing is strict: a packet must be exactly as long as its fields say. This module does not send or
//! receive anything and does not decide what a hash list means; it only reads and writes the bytes.

use std::fmt;

use thiserror::Error;

use crate::thumbprint::{HashAlgorithm, Thumbprint};

/// A parsed Hello packet.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct HelloPacket {
    /// Whether the device reports admin credentials as set (wire value 1) or not (0).
    pub admin_credentials_set: bool,
    /// How many times the device has sent this Hello before (the firmware's retry counter).
    pub retry_count: u32,
    /// The device's UUID.
    pub uuid: DeviceUuid,
    /// The part that depends on the interface version.
    pub kind: HelloKind,
}

/// The version-dependent part of a Hello packet.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum HelloKind {
    /// Interface version 2 (PSK, removed in AMT 11): the PID of the pre-shared key.
    Psk {
        /// The 8-byte provisioning ID.
        pid: [u8; 8],
    },
    /// Interface version 3 (PKI): the device's active root-certificate hashes, in firmware order.
    Pki {
        /// The hashes, at most [`MAX_HASHES`].
        hashes: Vec<Thumbprint>,
    },
}

impl HelloPacket {
    /// Reads a Hello packet from exactly the bytes the device sent.
    pub fn parse(bytes: &[u8]) -> Result<Self, HelloError> {
        if bytes.len() > MAX_PACKET_LEN {
            return Err(HelloError::TooLong { len: bytes.len() });
        }
        let mut r = Reader { bytes, pos: 0 };
        let admin = r.u16("admin credentials set")?;
        let admin_credentials_set = match admin {
            0 => false,
            1 => true,
            value => return Err(HelloError::BadAdminCredentialsFlag { value }),
        };
        let version = r.u16("interface version")?;
        let retry_count = r.u32("retry count")?;
        let uuid = DeviceUuid::from_wire(r.array::<16>("uuid")?);
        let kind = match version {
            PSK_VERSION => HelloKind::Psk {
                pid: r.array::<8>("pid")?,
            },
            PKI_VERSION => {
                let count = r.u8("hash count")?;
                if usize::from(count) > MAX_HASHES {
                    return Err(HelloError::TooManyHashes { count });
                }
                let mut hashes = Vec::with_capacity(usize::from(count));
                for index in 0..usize::from(count) {
                    let alg_value = r.u8("hash type")?;
                    let size = r.u8("hash size")?;
                    let alg = HashAlgorithm::from_wire(alg_value).ok_or(
                        HelloError::UnknownHashAlgorithm {
                            index,
                            value: alg_value,
                        },
                    )?;
                    if usize::from(size) != alg.digest_len() {
                        return Err(HelloError::HashSizeMismatch { index, alg, size });
                    }
                    let digest = r.take(usize::from(size), "hash value")?;
                    let thumbprint = Thumbprint::from_bytes(alg, digest)
                        .map_err(|_| HelloError::HashSizeMismatch { index, alg, size })?;
                    hashes.push(thumbprint);
                }
                HelloKind::Pki { hashes }
            }
            version => return Err(HelloError::UnsupportedVersion { version }),
        };
        if r.pos != bytes.len() {
            return Err(HelloError::TrailingBytes {
                offset: r.pos,
                extra: bytes.len() - r.pos,
            });
        }
        Ok(Self {
            admin_credentials_set,
            retry_count,
            uuid,
            kind,
        })
    }

    /// Appends the wire form to `out`.
    ///
    /// Fails only for a PKI Hello with more than [`MAX_HASHES`] hashes, which no device sends.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), HelloError> {
        let (version, tail_len) = match &self.kind {
            HelloKind::Psk { .. } => (PSK_VERSION, 8),
            HelloKind::Pki { hashes } => (
                PKI_VERSION,
                1 + hashes.iter().map(|h| 2 + h.as_bytes().len()).sum::<usize>(),
            ),
        };
        if let HelloKind::Pki { hashes } = &self.kind
            && hashes.len() > MAX_HASHES
        {
            return Err(HelloError::TooManyHashes {
                count: u8::try_from(hashes.len()).unwrap_or(u8::MAX),
            });
        }
        out.reserve(HEADER_LEN + tail_len);
        out.extend_from_slice(&u16::from(self.admin_credentials_set).to_le_bytes());
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(&self.retry_count.to_le_bytes());
        out.extend_from_slice(&self.uuid.to_wire());
        match &self.kind {
            HelloKind::Psk { pid } => out.extend_from_slice(pid),
            HelloKind::Pki { hashes } => {
                // Length checked above: at most MAX_HASHES (< 256) entries of at most 48 bytes.
                out.push(u8::try_from(hashes.len()).unwrap_or(u8::MAX));
                for hash in hashes {
                    out.push(hash.algorithm().wire());
                    out.push(u8::try_from(hash.as_bytes().len()).unwrap_or(u8::MAX));
                    out.extend_from_slice(hash.as_bytes());
                }
            }
        }
        Ok(())
    }

    /// The wire form as a new vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>, HelloError> {
        let mut out = Vec::new();
        self.emit(&mut out)?;
        Ok(out)
    }

    /// The interface version on the wire: 2 for PSK, 3 for PKI.
    pub fn interface_version(&self) -> u16 {
        match self.kind {
            HelloKind::Psk { .. } => PSK_VERSION,
            HelloKind::Pki { .. } => PKI_VERSION,
        }
    }
}

/// JSON Schema `pattern` of an SMBIOS UUID in text form (what [`DeviceUuid::parse`] accepts:
/// 8-4-4-4-12 hex digits, optionally in braces). The device profile and the site's imported
/// computers both name devices so.
pub const UUID_PATTERN: &str = r"^(\{[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\}|[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12})$";

/// A device UUID as AMT and SMBIOS store it.
///
/// On the wire the first three fields are little-endian (the Microsoft GUID layout), so the
/// canonical text form swaps bytes 0–3, 4–5 and 6–7: wire `4b529b93 d413 181d e487…` is
/// `939b524b-13d4-1d18-e487-…`. Both ConfigMgr and MeshCentral show the text form.
#[derive(Clone, Copy, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct DeviceUuid {
    /// The 16 bytes in canonical (text) order.
    canonical: [u8; 16],
}

impl DeviceUuid {
    /// A UUID from its 16 bytes in canonical (text) order.
    pub fn from_canonical(canonical: [u8; 16]) -> Self {
        Self { canonical }
    }

    /// A UUID from its 16 bytes in wire (SMBIOS) order.
    pub fn from_wire(wire: [u8; 16]) -> Self {
        Self {
            canonical: swap_guid_fields(wire),
        }
    }

    /// The 16 bytes in canonical (text) order.
    pub fn canonical(&self) -> [u8; 16] {
        self.canonical
    }

    /// The 16 bytes in wire (SMBIOS) order.
    pub fn to_wire(&self) -> [u8; 16] {
        swap_guid_fields(self.canonical)
    }

    /// Reads the text form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, either case, optionally in braces.
    pub fn parse(text: &str) -> Result<Self, HelloError> {
        let bad = || HelloError::BadUuidText {
            text: text.chars().take(64).collect(),
        };
        let inner = text
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(text);
        let groups: Vec<&str> = inner.split('-').collect();
        let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        if lens != [8, 4, 4, 4, 12] {
            return Err(bad());
        }
        let digits: String = groups.concat();
        let mut canonical = [0u8; 16];
        hex::decode_to_slice(&digits, &mut canonical).map_err(|_| bad())?;
        Ok(Self { canonical })
    }
}

impl fmt::Display for DeviceUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = hex::encode(self.canonical);
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

impl fmt::Debug for DeviceUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceUuid({self})")
    }
}

/// Why a Hello packet (or a UUID text) could not be read.
#[derive(Clone, Debug, Eq, Error, PartialEq)]
#[non_exhaustive]
pub enum HelloError {
    /// The admin-credentials field is neither 0 nor 1.
    #[error("hello admin-credentials flag is {value}, expected 0 or 1")]
    BadAdminCredentialsFlag {
        /// The value found.
        value: u16,
    },
    /// A UUID text that is not `8-4-4-4-12` hex digits.
    #[error("{text:?} is not a uuid (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")]
    BadUuidText {
        /// The text (its first 64 characters).
        text: String,
    },
    /// A hash entry whose size does not fit its algorithm.
    #[error("hello hash #{index} is {alg} but has size {size} (expected {})", alg.digest_len())]
    HashSizeMismatch {
        /// Index of the entry in the hash list.
        index: usize,
        /// The algorithm the entry names.
        alg: HashAlgorithm,
        /// The size byte found.
        size: u8,
    },
    /// More hash entries than any firmware holds.
    #[error("hello has {count} hashes, more than the firmware maximum of {MAX_HASHES}")]
    TooManyHashes {
        /// The count found.
        count: u8,
    },
    /// A packet longer than the largest valid Hello.
    #[error("hello is {len} bytes, longer than the largest valid hello ({MAX_PACKET_LEN})")]
    TooLong {
        /// The packet length.
        len: usize,
    },
    /// Bytes left over after the last field.
    #[error("hello has {extra} unexpected bytes after its last field at offset {offset}")]
    TrailingBytes {
        /// Where the last field ended.
        offset: usize,
        /// How many bytes followed.
        extra: usize,
    },
    /// The packet ends inside a field.
    #[error("hello truncated in {field} at offset {offset}: need {need} more bytes, have {have}")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Where the field starts.
        offset: usize,
        /// Bytes the field needs.
        need: usize,
        /// Bytes left.
        have: usize,
    },
    /// A hash entry with an algorithm number AMT does not use in Hellos.
    #[error("hello hash #{index} has unknown algorithm {value} (expected 1, 2 or 3)")]
    UnknownHashAlgorithm {
        /// Index of the entry in the hash list.
        index: usize,
        /// The type byte found.
        value: u8,
    },
    /// An interface version other than 2 (PSK) or 3 (PKI).
    #[error("hello interface version {version} is not supported (expected 2 or 3)")]
    UnsupportedVersion {
        /// The version found.
        version: u16,
    },
}

impl HelloError {
    /// A stable identifier for this kind of error, for scenarios and reports.
    pub fn id(&self) -> &'static str {
        match self {
            Self::BadAdminCredentialsFlag { .. } => "hello/bad-admin-credentials-flag",
            Self::BadUuidText { .. } => "hello/bad-uuid-text",
            Self::HashSizeMismatch { .. } => "hello/hash-size-mismatch",
            Self::TooManyHashes { .. } => "hello/too-many-hashes",
            Self::TooLong { .. } => "hello/too-long",
            Self::TrailingBytes { .. } => "hello/trailing-bytes",
            Self::Truncated { .. } => "hello/truncated",
            Self::UnknownHashAlgorithm { .. } => "hello/unknown-hash-algorithm",
            Self::UnsupportedVersion { .. } => "hello/unsupported-version",
        }
    }
}

/// The most hash entries a firmware hash list holds (`CERT_HASH_MAX_NUMBER`).
pub const MAX_HASHES: usize = 33;

/// The largest valid Hello: a PKI header plus [`MAX_HASHES`] SHA-384 entries.
pub const MAX_PACKET_LEN: usize = HEADER_LEN + 1 + MAX_HASHES * (2 + 48);

/// Interface version of a PSK Hello.
pub const PSK_VERSION: u16 = 2;

/// Interface version of a PKI Hello.
pub const PKI_VERSION: u16 = 3;

/// Bytes before the version-dependent part.
const HEADER_LEN: usize = 24;

/// A cursor over the packet that reports which field ran out.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], HelloError> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let taken = rest.get(..n).ok_or(HelloError::Truncated {
            field,
            offset: self.pos,
            need: n,
            have: rest.len(),
        })?;
        self.pos += n;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], HelloError> {
        let slice = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, HelloError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, HelloError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, HelloError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }
}

/// Swaps the byte order of the first three GUID fields (4, 2 and 2 bytes); its own inverse.
fn swap_guid_fields(mut b: [u8; 16]) -> [u8; 16] {
    b[0..4].reverse();
    b[4..6].reverse();
    b[6..8].reverse();
    b
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::thumbprint::strategies::any_thumbprint;

    /// A 59-byte PKI Hello: the header of the first example packet in MeshCentral's
    /// `amtprovisioningserver.js` with its first hash entry only (SHA-256 of Go Daddy Class 2 CA).
    const EXAMPLE_59: &str = concat!(
        "0100",                                                             // admin credentials set
        "0300",                                                             // version 3 (PKI)
        "00000000",                                                         // retry 0
        "4b529b93d413181de4871c697a6b7a2b",                                 // uuid, wire order
        "01",                                                               // one hash
        "0220",                                                             // SHA-256, 32 bytes
        "c3846bf24b9e93ca64274c0ec67c1ecc5e024ffcacd2d74019350e81fe546ae4", // Go Daddy Class 2 CA
    );

    fn example() -> Vec<u8> {
        hex::decode(EXAMPLE_59).unwrap()
    }

    #[test]
    fn parses_the_59_byte_example() {
        let bytes = example();
        assert_eq!(bytes.len(), 59);
        let hello = HelloPacket::parse(&bytes).unwrap();
        assert!(hello.admin_credentials_set);
        assert_eq!(hello.retry_count, 0);
        assert_eq!(hello.interface_version(), 3);
        assert_eq!(
            hello.uuid.to_string(),
            "939b524b-13d4-1d18-e487-1c697a6b7a2b"
        );
        let HelloKind::Pki { hashes } = &hello.kind else {
            panic!("expected a PKI hello, got {hello:?}");
        };
        assert_eq!(hashes.len(), 1);
        assert_eq!(hashes[0].algorithm(), HashAlgorithm::Sha256);
        assert_eq!(
            hashes[0].to_lower_hex(),
            "c3846bf24b9e93ca64274c0ec67c1ecc5e024ffcacd2d74019350e81fe546ae4"
        );
        assert_eq!(hello.to_bytes().unwrap(), bytes);
    }

    #[test]
    fn parses_the_807_byte_meshcentral_example() {
        let bytes = include_bytes!("../testdata/hello-pki-23-sha256.bin");
        let hello = HelloPacket::parse(bytes).unwrap();
        let HelloKind::Pki { hashes } = &hello.kind else {
            panic!("expected a PKI hello, got {hello:?}");
        };
        assert_eq!(hashes.len(), 23);
        assert!(
            hashes
                .iter()
                .all(|h| h.algorithm() == HashAlgorithm::Sha256)
        );
        assert!(hashes[0].to_lower_hex().starts_with("c3846bf2"));
        assert!(hashes[22].to_lower_hex().starts_with("2cabeafe"));
        assert_eq!(hello.to_bytes().unwrap(), bytes);
    }

    #[test]
    fn parses_a_psk_hello() {
        let mut bytes = hex::decode("000002000e000000").unwrap();
        bytes.extend_from_slice(&[0x11; 16]);
        bytes.extend_from_slice(b"PID-1234");
        let hello = HelloPacket::parse(&bytes).unwrap();
        assert_eq!(hello.retry_count, 14);
        assert!(!hello.admin_credentials_set);
        assert_eq!(hello.kind, HelloKind::Psk { pid: *b"PID-1234" });
        assert_eq!(hello.to_bytes().unwrap(), bytes);
    }

    #[test]
    fn every_truncation_is_a_truncated_error() {
        let bytes = example();
        for len in 0..bytes.len() {
            let err = HelloPacket::parse(&bytes[..len]).unwrap_err();
            assert!(
                matches!(err, HelloError::Truncated { .. }),
                "len {len}: {err}"
            );
        }
    }

    #[test]
    fn typed_errors_for_inconsistent_packets() {
        let base = example();
        let with = |offset: usize, value: u8| {
            let mut b = base.clone();
            b[offset] = value;
            HelloPacket::parse(&b).unwrap_err()
        };
        assert_eq!(with(0, 2), HelloError::BadAdminCredentialsFlag { value: 2 });
        assert_eq!(with(2, 4), HelloError::UnsupportedVersion { version: 4 });
        assert_eq!(
            with(25, 9),
            HelloError::UnknownHashAlgorithm { index: 0, value: 9 }
        );
        assert_eq!(
            with(25, 1),
            HelloError::HashSizeMismatch {
                index: 0,
                alg: HashAlgorithm::Sha1,
                size: 32
            }
        );
        // Count says two hashes, only one follows.
        assert!(matches!(with(24, 2), HelloError::Truncated { field, .. } if field == "hash type"));
        assert_eq!(with(24, 200), HelloError::TooManyHashes { count: 200 });
        // Count says zero, one hash follows.
        assert_eq!(
            with(24, 0),
            HelloError::TrailingBytes {
                offset: 25,
                extra: 34
            }
        );
        let mut long = base.clone();
        long.push(0);
        assert_eq!(
            HelloPacket::parse(&long).unwrap_err().id(),
            "hello/trailing-bytes"
        );
        let huge = vec![0u8; 100_000];
        assert_eq!(
            HelloPacket::parse(&huge).unwrap_err(),
            HelloError::TooLong { len: 100_000 }
        );
    }

    #[test]
    fn emit_refuses_more_hashes_than_firmware_holds() {
        let hello = HelloPacket {
            admin_credentials_set: true,
            retry_count: 0,
            uuid: DeviceUuid::from_canonical([0; 16]),
            kind: HelloKind::Pki {
                hashes: vec![Thumbprint::Sha1([0; 20]); MAX_HASHES + 1],
            },
        };
        assert_eq!(hello.to_bytes().unwrap_err().id(), "hello/too-many-hashes");
    }

    #[test]
    fn largest_valid_hello_parses() {
        let hello = HelloPacket {
            admin_credentials_set: true,
            retry_count: u32::MAX,
            uuid: DeviceUuid::from_canonical([0xab; 16]),
            kind: HelloKind::Pki {
                hashes: vec![Thumbprint::Sha384([7; 48]); MAX_HASHES],
            },
        };
        let bytes = hello.to_bytes().unwrap();
        assert_eq!(bytes.len(), MAX_PACKET_LEN);
        assert_eq!(HelloPacket::parse(&bytes).unwrap(), hello);
    }

    #[test]
    fn uuid_text_forms() {
        let uuid = DeviceUuid::parse("{939B524B-13D4-1D18-E487-1C697A6B7A2B}").unwrap();
        assert_eq!(uuid.to_string(), "939b524b-13d4-1d18-e487-1c697a6b7a2b");
        assert_eq!(
            hex::encode(uuid.to_wire()),
            "4b529b93d413181de4871c697a6b7a2b"
        );
        assert_eq!(DeviceUuid::from_wire(uuid.to_wire()), uuid);
        for bad in [
            "",
            "939b524b",
            "939b524b-13d4-1d18-e487-1c697a6b7a2g",
            "939b524b13d41d18e4871c697a6b7a2b",
        ] {
            assert_eq!(
                DeviceUuid::parse(bad).unwrap_err().id(),
                "hello/bad-uuid-text"
            );
        }
    }

    fn any_hello() -> impl Strategy<Value = HelloPacket> {
        let kind = prop_oneof![
            any::<[u8; 8]>().prop_map(|pid| HelloKind::Psk { pid }),
            proptest::collection::vec(any_thumbprint(), 0..=MAX_HASHES)
                .prop_map(|hashes| HelloKind::Pki { hashes }),
        ];
        (any::<bool>(), any::<u32>(), any::<[u8; 16]>(), kind).prop_map(
            |(admin_credentials_set, retry_count, uuid, kind)| HelloPacket {
                admin_credentials_set,
                retry_count,
                uuid: DeviceUuid::from_canonical(uuid),
                kind,
            },
        )
    }

    proptest! {
        #[test]
        fn emit_then_parse_round_trips(hello in any_hello()) {
            let bytes = hello.to_bytes().unwrap();
            prop_assert_eq!(HelloPacket::parse(&bytes), Ok(hello));
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let _ = HelloPacket::parse(&bytes);
        }

        #[test]
        fn parse_then_emit_reproduces_the_bytes(hello in any_hello(), flip in any::<(usize, u8)>()) {
            // Mutate one byte of a valid packet: whatever still parses must emit the same bytes.
            let mut bytes = hello.to_bytes().unwrap();
            let at = flip.0 % bytes.len();
            bytes[at] ^= flip.1;
            if let Ok(parsed) = HelloPacket::parse(&bytes) {
                prop_assert_eq!(parsed.to_bytes().unwrap(), bytes);
            }
        }

        #[test]
        fn uuid_text_round_trips(bytes in any::<[u8; 16]>()) {
            let uuid = DeviceUuid::from_canonical(bytes);
            prop_assert_eq!(DeviceUuid::parse(&uuid.to_string()), Ok(uuid));
            prop_assert_eq!(DeviceUuid::from_wire(uuid.to_wire()), uuid);
        }
    }
}
