//! HTTP Digest authentication as Intel AMT speaks it: the `WWW-Authenticate` challenge, the client's
//! `Authorization` header, the MD5 response math (RFC 2617 with `qop=auth`, legacy RFC 2069 without
//! `qop`) and AMT's `DigestPassword` (HA1) encodings.
//!
//! This is a pure codec: it deliberately does no I/O, reads no clock and draws no randomness. Nonces
//! and cnonces come from the caller; nonce tables, `nc` replay checks, `stale` decisions, matching the
//! digest `uri` against the request line and checking the realm against the device's own realm are
//! the caller's job. Only MD5 with `qop=auth` (or no `qop`) is supported; `MD5-sess`, SHA-256,
//! `auth-int`, `userhash` and RFC 8187 `username*` are rejected with [`DigestError::Unsupported`].
//! One header value holds one challenge; lists of challenges for several schemes are not split.
//!
//! Parsing is tolerant in the ways real clients differ (any parameter order, optional whitespace
//! around `,` and `=`, quoted or unquoted values, backslash escapes, case-insensitive scheme and
//! parameter names, unknown parameters ignored) and strict where it matters (duplicate parameters,
//! malformed `response`/`nc`, unsupported algorithms). Work is bounded: values longer than
//! [`MAX_HEADER_LEN`] bytes or with more than [`MAX_PARAMETERS`] parameters are rejected before any
//! allocation proportional to them, and no input can make a parser panic.

use std::fmt;
use std::str::FromStr;

use md5::{Digest as _, Md5};
use thiserror::Error;

/// A digest realm.
///
/// AMT's realm is `Digest:` followed by 32 uppercase hex digits (also exposed as
/// `AMT_GeneralSettings.DigestRealm`); [`Realm::amt`] accepts exactly that. [`Realm::generic`]
/// accepts any realm a quoted-string can carry, for interoperating with other servers and for the
/// RFC examples.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct Realm(String);

impl Realm {
    /// Parses a realm in AMT's form `Digest:` + 32 uppercase hex digits.
    pub fn amt(value: &str) -> Result<Self, DigestError> {
        let digits = value
            .strip_prefix(AMT_REALM_PREFIX)
            .ok_or(DigestError::InvalidRealm {
                reason: "expected the prefix \"Digest:\"",
            })?;
        if digits.len() != 32 {
            return Err(DigestError::InvalidRealm {
                reason: "expected 32 hex digits after \"Digest:\"",
            });
        }
        if !digits
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        {
            return Err(DigestError::InvalidRealm {
                reason: "expected uppercase hex digits after \"Digest:\"",
            });
        }
        Ok(Self(value.to_owned()))
    }

    /// Builds an AMT realm from its 16 random bytes: `Digest:` + the bytes as uppercase hex.
    pub fn from_amt_bytes(bytes: [u8; 16]) -> Self {
        Self(format!("{AMT_REALM_PREFIX}{}", hex::encode_upper(bytes)))
    }

    /// Accepts any realm that fits a quoted-string: at most [`MAX_HEADER_LEN`] bytes and no control
    /// characters other than horizontal tab.
    pub fn generic(value: &str) -> Result<Self, DigestError> {
        if value.len() > MAX_HEADER_LEN {
            return Err(DigestError::InvalidRealm {
                reason: "longer than the header limit",
            });
        }
        if value.chars().any(is_forbidden_control) {
            return Err(DigestError::InvalidRealm {
                reason: "contains a control character",
            });
        }
        Ok(Self(value.to_owned()))
    }

    /// The realm as it appears on the wire (without quotes) and in the HA1 hash.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this realm has AMT's form `Digest:` + 32 uppercase hex digits.
    pub fn is_amt(&self) -> bool {
        Self::amt(&self.0).is_ok()
    }
}

impl AsRef<str> for Realm {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Realm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses with [`Realm::amt`] (the strict AMT form).
impl FromStr for Realm {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::amt(s)
    }
}

/// The digest algorithm. Only MD5 is supported; the parsers reject everything else.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Algorithm {
    /// `MD5` (RFC 2617), the default when no `algorithm` parameter is sent.
    Md5,
}

impl Algorithm {
    /// Parses an `algorithm` value: `MD5` (any case) is accepted; `MD5-sess`, SHA-256 and anything
    /// else give [`DigestError::Unsupported`].
    pub fn parse(value: &str) -> Result<Self, DigestError> {
        if value.eq_ignore_ascii_case("MD5") {
            Ok(Self::Md5)
        } else {
            Err(DigestError::Unsupported {
                parameter: "algorithm",
                value: clip(value),
            })
        }
    }

    /// The canonical wire token, `MD5`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The quality of protection. Only `auth` is supported (AMT offers nothing else); `auth-int` is
/// rejected.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Qop {
    /// `auth`: authentication of method and URI, no body integrity.
    Auth,
}

impl Qop {
    /// The wire token, `auth`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
        }
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The nonce count (`nc`) as the client sent it, plus its numeric value.
///
/// The text is kept exactly as sent because the response hash covers it byte for byte. The value
/// is read as follows:
/// - exactly 8 hex digits (either case): hexadecimal, the RFC 2617 form (`00000001`, `0000000a`);
/// - 1 to 7 decimal digits: decimal, the form MeshCentral sends (`1`, `10`).
///
/// Everything else (empty, 9+ characters, 1–7 characters with a hex letter, signs, spaces) is
/// rejected. The only ambiguity, an 8-digit all-decimal count, is read as hex as the RFC says; a
/// MeshCentral counter would need ten million requests on one nonce to get there.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct NonceCount {
    text: String,
    value: u32,
}

impl NonceCount {
    /// Parses an `nc` value; see the type documentation for the accepted forms.
    pub fn parse(text: &str) -> Result<Self, DigestError> {
        let value = if text.len() == 8 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            u32::from_str_radix(text, 16).ok()
        } else if (1..8).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
            text.parse::<u32>().ok()
        } else {
            None
        };
        let value = value.ok_or(DigestError::InvalidValue {
            parameter: "nc",
            reason: "expected 8 hex digits or 1 to 7 decimal digits",
        })?;
        Ok(Self {
            text: text.to_owned(),
            value,
        })
    }

    /// The RFC 2617 form of `value`: 8 lowercase hex digits.
    pub fn from_value(value: u32) -> Self {
        Self {
            text: format!("{value:08x}"),
            value,
        }
    }

    /// The text exactly as sent; this is what goes into the response hash.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The numeric count.
    pub fn value(&self) -> u32 {
        self.value
    }
}

impl fmt::Display for NonceCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for NonceCount {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A digest challenge: the value of a `WWW-Authenticate` header.
///
/// String fields must not contain control characters other than horizontal tab (a quoted-string
/// cannot carry them); values produced by [`Challenge::parse`] never do.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct Challenge {
    /// The protection space; AMT uses `Digest:` + 32 uppercase hex digits.
    pub realm: Realm,
    /// The server nonce, chosen by the caller.
    pub nonce: String,
    /// `Some(Qop::Auth)` when the server offers `qop="auth"` (AMT always does); `None` selects the
    /// legacy RFC 2069 exchange.
    pub qop: Option<Qop>,
    /// Whether the previous request failed only because its nonce was stale.
    pub stale: bool,
    /// Opaque data the client must echo back; AMT sends none.
    pub opaque: Option<String>,
    /// The algorithm parameter, emitted only when set; AMT sends none (MD5 implied).
    pub algorithm: Option<Algorithm>,
}

impl Challenge {
    /// A challenge shaped like AMT's: `qop` `auth`, not stale, no opaque, no algorithm.
    pub fn new(realm: Realm, nonce: impl Into<String>) -> Self {
        Self {
            realm,
            nonce: nonce.into(),
            qop: Some(Qop::Auth),
            stale: false,
            opaque: None,
            algorithm: None,
        }
    }

    /// Parses a `WWW-Authenticate` value holding one `Digest` challenge.
    ///
    /// `realm` and `nonce` are required. `qop` is a comma-separated list (case-insensitive) that
    /// must contain `auth`; `stale` is true only for `true` (any case), as RFC 2617 says; `algorithm`
    /// must be `MD5`; `domain` and unknown parameters are ignored.
    pub fn parse(value: &str) -> Result<Self, DigestError> {
        let mut params = parse_params(value)?;
        let realm = take(&mut params, "realm")
            .ok_or(DigestError::MissingParameter { parameter: "realm" })?;
        let nonce = take(&mut params, "nonce")
            .ok_or(DigestError::MissingParameter { parameter: "nonce" })?;
        let qop = take(&mut params, "qop")
            .map(|list| {
                if list
                    .split(',')
                    .any(|item| item.trim_matches([' ', '\t']).eq_ignore_ascii_case("auth"))
                {
                    Ok(Qop::Auth)
                } else {
                    Err(DigestError::Unsupported {
                        parameter: "qop",
                        value: clip(&list),
                    })
                }
            })
            .transpose()?;
        let stale = take(&mut params, "stale").is_some_and(|s| s.eq_ignore_ascii_case("true"));
        let algorithm = take(&mut params, "algorithm")
            .map(|a| Algorithm::parse(&a))
            .transpose()?;
        Ok(Self {
            realm: Realm::generic(&realm)?,
            nonce,
            qop,
            stale,
            opaque: take(&mut params, "opaque"),
            algorithm,
        })
    }

    /// Emits the header value in AMT's exact shape, including its separator quirk (no space after
    /// the comma from `stale` on):
    ///
    /// `Digest realm="Digest:727734D63A1FC0423736E48DA554E462", nonce="B9AX94iAAAAAAAAAx6rrSfPHGUrx/3uA",stale="false",qop="auth"`
    ///
    /// `opaque` and `algorithm` follow in that order, in the same style, when set.
    pub fn emit(&self) -> String {
        let mut out = String::with_capacity(96 + self.realm.as_str().len() + self.nonce.len());
        out.push_str("Digest realm=");
        push_quoted(&mut out, self.realm.as_str());
        out.push_str(", nonce=");
        push_quoted(&mut out, &self.nonce);
        out.push_str(if self.stale {
            ",stale=\"true\""
        } else {
            ",stale=\"false\""
        });
        if let Some(qop) = self.qop {
            out.push_str(",qop=");
            push_quoted(&mut out, qop.as_str());
        }
        if let Some(opaque) = &self.opaque {
            out.push_str(",opaque=");
            push_quoted(&mut out, opaque);
        }
        if let Some(algorithm) = self.algorithm {
            out.push_str(",algorithm=");
            out.push_str(algorithm.as_str());
        }
        out
    }

    /// Answers this challenge as a client would (the provisioner talking to a device).
    ///
    /// With `qop` set, the answer uses `qop=auth`, the given `nc` (sent and hashed as its text) and
    /// `cnonce`; without `qop`, it is the RFC 2069 form and `nc`/`cnonce` are not used. `opaque` and
    /// `algorithm` are echoed. The cnonce must come from the caller: this module has no randomness.
    pub fn answer(
        &self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        nc: NonceCount,
        cnonce: &str,
    ) -> Authorization {
        let (nc, cnonce) = match self.qop {
            Some(_) => (Some(nc), Some(cnonce.to_owned())),
            None => (None, None),
        };
        let mut authorization = Authorization {
            username: username.to_owned(),
            realm: self.realm.clone(),
            nonce: self.nonce.clone(),
            uri: uri.to_owned(),
            response: String::new(),
            qop: self.qop,
            nc,
            cnonce,
            algorithm: self.algorithm,
            opaque: self.opaque.clone(),
        };
        let ha1 = ha1(username, self.realm.as_str(), password);
        authorization.response = authorization
            .expected_response(method, &ha1)
            .unwrap_or_default();
        authorization
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.emit())
    }
}

impl FromStr for Challenge {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A client's digest credentials: the value of an `Authorization` header.
///
/// String fields must not contain control characters other than horizontal tab; values produced
/// by [`Authorization::parse`] never do. `response` holds 32 hex digits after a successful parse.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct Authorization {
    /// The user name (after unescaping).
    pub username: String,
    /// The realm the client hashed with; the caller checks it against its own.
    pub realm: Realm,
    /// The server nonce the client answers.
    pub nonce: String,
    /// The digest URI; the caller checks it against the request line.
    pub uri: String,
    /// The 32 hex digit response as sent (either case).
    pub response: String,
    /// `Some(Qop::Auth)` for RFC 2617 answers; `None` for legacy RFC 2069 answers.
    pub qop: Option<Qop>,
    /// The nonce count; present exactly when `qop` is.
    pub nc: Option<NonceCount>,
    /// The client nonce; present exactly when `qop` is.
    pub cnonce: Option<String>,
    /// `Some(Algorithm::Md5)` when the client sent `algorithm=MD5`; `None` when it sent none.
    pub algorithm: Option<Algorithm>,
    /// The opaque value echoed from the challenge.
    pub opaque: Option<String>,
}

impl Authorization {
    /// Parses an `Authorization` value holding `Digest` credentials.
    ///
    /// Required: `username`, `realm`, `nonce`, `uri`, `response` (32 hex digits). `qop` must be
    /// exactly `auth` (it enters the hash as sent) and then `nc` and `cnonce` are required; without
    /// `qop` they must be absent. `algorithm` must be `MD5`. Unknown parameters are ignored;
    /// duplicates are rejected.
    pub fn parse(value: &str) -> Result<Self, DigestError> {
        let mut params = parse_params(value)?;
        if params.iter().any(|p| p.name == "username*") {
            return Err(DigestError::Unsupported {
                parameter: "username*",
                value: String::from("extended (RFC 8187) user name"),
            });
        }
        if let Some(userhash) = take(&mut params, "userhash")
            && userhash.eq_ignore_ascii_case("true")
        {
            return Err(DigestError::Unsupported {
                parameter: "userhash",
                value: userhash,
            });
        }
        let username = require(&mut params, "username")?;
        let realm = Realm::generic(&require(&mut params, "realm")?)?;
        let nonce = require(&mut params, "nonce")?;
        let uri = require(&mut params, "uri")?;
        let response = require(&mut params, "response")?;
        if response.len() != 32 || !response.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DigestError::InvalidValue {
                parameter: "response",
                reason: "expected 32 hex digits",
            });
        }
        let qop = match take(&mut params, "qop") {
            Some(qop) if qop == "auth" => Some(Qop::Auth),
            Some(other) => {
                return Err(DigestError::Unsupported {
                    parameter: "qop",
                    value: clip(&other),
                });
            }
            None => None,
        };
        let nc = take(&mut params, "nc")
            .map(|nc| NonceCount::parse(&nc))
            .transpose()?;
        let cnonce = take(&mut params, "cnonce");
        match (qop, &nc, &cnonce) {
            (Some(_), None, _) => return Err(DigestError::MissingParameter { parameter: "nc" }),
            (Some(_), _, None) => {
                return Err(DigestError::MissingParameter {
                    parameter: "cnonce",
                });
            }
            (None, Some(_), _) => {
                return Err(DigestError::UnexpectedParameter {
                    parameter: "nc",
                    reason: "without qop",
                });
            }
            (None, _, Some(_)) => {
                return Err(DigestError::UnexpectedParameter {
                    parameter: "cnonce",
                    reason: "without qop",
                });
            }
            _ => {}
        }
        let algorithm = take(&mut params, "algorithm")
            .map(|a| Algorithm::parse(&a))
            .transpose()?;
        Ok(Self {
            username,
            realm,
            nonce,
            uri,
            response,
            qop,
            nc,
            cnonce,
            algorithm,
            opaque: take(&mut params, "opaque"),
        })
    }

    /// Emits the canonical form, in curl's order and quoting: `username`, `realm`, `nonce`, `uri`,
    /// `cnonce` and `response` quoted; `nc`, `qop` and `algorithm` unquoted; `opaque` quoted.
    /// Parameters that are `None` are left out. The result parses back to an equal value.
    pub fn emit(&self) -> String {
        let mut out = String::with_capacity(
            160 + self.username.len()
                + self.realm.as_str().len()
                + self.nonce.len()
                + self.uri.len(),
        );
        out.push_str("Digest username=");
        push_quoted(&mut out, &self.username);
        out.push_str(", realm=");
        push_quoted(&mut out, self.realm.as_str());
        out.push_str(", nonce=");
        push_quoted(&mut out, &self.nonce);
        out.push_str(", uri=");
        push_quoted(&mut out, &self.uri);
        if let Some(cnonce) = &self.cnonce {
            out.push_str(", cnonce=");
            push_quoted(&mut out, cnonce);
        }
        if let Some(nc) = &self.nc {
            out.push_str(", nc=");
            out.push_str(nc.as_str());
        }
        if let Some(qop) = self.qop {
            out.push_str(", qop=");
            out.push_str(qop.as_str());
        }
        out.push_str(", response=");
        push_quoted(&mut out, &self.response);
        if let Some(opaque) = &self.opaque {
            out.push_str(", opaque=");
            push_quoted(&mut out, opaque);
        }
        if let Some(algorithm) = self.algorithm {
            out.push_str(", algorithm=");
            out.push_str(algorithm.as_str());
        }
        out
    }

    /// The response (32 lowercase hex digits) a client knowing `ha1` would send for `method` with
    /// these parameters: RFC 2617 when `qop` is set, RFC 2069 otherwise. `None` when `qop` is set
    /// but `nc` or `cnonce` is missing.
    pub fn expected_response(&self, method: &str, ha1: &[u8; 16]) -> Option<String> {
        let ha1_hex = hex::encode(ha1);
        let ha2_hex = hex::encode(ha2(method, &self.uri));
        match self.qop {
            Some(qop) => {
                let nc = self.nc.as_ref()?;
                let cnonce = self.cnonce.as_deref()?;
                Some(response(
                    &ha1_hex,
                    &self.nonce,
                    nc.as_str(),
                    cnonce,
                    qop.as_str(),
                    &ha2_hex,
                ))
            }
            None => Some(response_rfc2069(&ha1_hex, &self.nonce, &ha2_hex)),
        }
    }

    /// Whether `response` matches what a client knowing `ha1` (the stored
    /// `MD5(username:realm:password)`) would send for `method`. The hex comparison is
    /// constant-time and case-insensitive.
    ///
    /// This checks the hash only: the caller must also check the user name, that `realm` is its own,
    /// that the nonce is one it issued and `nc` has not been seen, and that `uri` matches the
    /// request line.
    pub fn verify_with_ha1(&self, method: &str, ha1: &[u8; 16]) -> bool {
        self.expected_response(method, ha1).is_some_and(|expected| {
            constant_time_eq_hex(expected.as_bytes(), self.response.as_bytes())
        })
    }
}

impl fmt::Display for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.emit())
    }
}

impl FromStr for Authorization {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// HA1 = MD5(`username:realm:password`), the secret a digest server stores instead of the
/// password (AMT's `DigestPassword`).
pub fn ha1(username: &str, realm: &str, password: &str) -> [u8; 16] {
    md5_parts(&[username, ":", realm, ":", password])
}

/// HA2 = MD5(`method:uri`) for `qop=auth` or no `qop`.
pub fn ha2(method: &str, uri: &str) -> [u8; 16] {
    md5_parts(&[method, ":", uri])
}

/// The RFC 2617 response with `qop`: MD5(`HA1:nonce:nc:cnonce:qop:HA2`) as 32 lowercase hex
/// digits. `ha1_hex` and `ha2_hex` are the lowercase hex forms of [`ha1`] and [`ha2`]; `nc` is the
/// nonce count exactly as sent.
pub fn response(
    ha1_hex: &str,
    nonce: &str,
    nc: &str,
    cnonce: &str,
    qop: &str,
    ha2_hex: &str,
) -> String {
    hex::encode(md5_parts(&[
        ha1_hex, ":", nonce, ":", nc, ":", cnonce, ":", qop, ":", ha2_hex,
    ]))
}

/// The legacy RFC 2069 response (no `qop`): MD5(`HA1:nonce:HA2`) as 32 lowercase hex digits.
pub fn response_rfc2069(ha1_hex: &str, nonce: &str, ha2_hex: &str) -> String {
    hex::encode(md5_parts(&[ha1_hex, ":", nonce, ":", ha2_hex]))
}

/// AMT's canonical `DigestPassword` form: standard Base64 (with padding) of the 16 raw HA1 bytes,
/// as `AddUserAclEntryEx` expects it (24 characters ending in `==`).
pub fn digest_password_base64(ha1: &[u8; 16]) -> String {
    base64_encode(ha1)
}

/// Decodes a Base64 `DigestPassword` back to the HA1 bytes. Strict: exactly 24 characters of the
/// standard alphabet ending in `==`, with zero padding bits.
pub fn ha1_from_base64(value: &str) -> Result<[u8; 16], DigestError> {
    base64_decode_16(value).ok_or(DigestError::InvalidDigestPassword {
        reason: "expected Base64 of 16 bytes (24 characters ending in \"==\")",
    })
}

/// Decodes the hex form of HA1 (32 hex digits, either case), as MeshCentral and host-based setup
/// send it.
pub fn ha1_from_hex(value: &str) -> Result<[u8; 16], DigestError> {
    let mut out = [0_u8; 16];
    hex::decode_to_slice(value, &mut out).map_err(|_| DigestError::InvalidDigestPassword {
        reason: "expected 32 hex digits",
    })?;
    Ok(out)
}

/// What went wrong while parsing or validating digest data.
#[derive(Clone, Debug, Eq, Error, PartialEq)]
pub enum DigestError {
    /// The header value is longer than [`MAX_HEADER_LEN`].
    #[error("header value is {len} bytes, over the limit of {max}")]
    TooLong {
        /// Length of the rejected value in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The header value has more than [`MAX_PARAMETERS`] parameters.
    #[error("more than {max} parameters")]
    TooManyParameters {
        /// The limit.
        max: usize,
    },
    /// The header value does not follow the `scheme k=v, k="v"` grammar.
    #[error("syntax error at byte {position}: {reason}")]
    Syntax {
        /// Byte offset into the header value.
        position: usize,
        /// What was expected or found.
        reason: &'static str,
    },
    /// The auth scheme is not `Digest`.
    #[error("auth scheme {scheme:?} is not digest")]
    WrongScheme {
        /// The scheme that was sent (clipped).
        scheme: String,
    },
    /// A required parameter is absent.
    #[error("missing required parameter {parameter}")]
    MissingParameter {
        /// The parameter name.
        parameter: &'static str,
    },
    /// A parameter appears twice (names compared case-insensitively).
    #[error("parameter {parameter} appears more than once")]
    DuplicateParameter {
        /// The parameter name, lowercased (clipped).
        parameter: String,
    },
    /// A parameter is present where the protocol forbids it.
    #[error("parameter {parameter} is not allowed {reason}")]
    UnexpectedParameter {
        /// The parameter name.
        parameter: &'static str,
        /// In which situation it is not allowed.
        reason: &'static str,
    },
    /// A parameter value is malformed.
    #[error("invalid {parameter} value: {reason}")]
    InvalidValue {
        /// The parameter name.
        parameter: &'static str,
        /// What was expected.
        reason: &'static str,
    },
    /// A well-formed value asks for something this module does not implement (`MD5-sess`,
    /// SHA-256, `auth-int`, `userhash`, `username*`).
    #[error("unsupported {parameter} value {value:?}")]
    Unsupported {
        /// The parameter name.
        parameter: &'static str,
        /// The value that was sent (clipped).
        value: String,
    },
    /// A realm does not have the required form.
    #[error("invalid realm: {reason}")]
    InvalidRealm {
        /// What was expected.
        reason: &'static str,
    },
    /// An encoded HA1 (`DigestPassword`) does not decode to 16 bytes.
    #[error("invalid digest password: {reason}")]
    InvalidDigestPassword {
        /// What was expected.
        reason: &'static str,
    },
}

impl DigestError {
    /// A stable identifier for this kind of error, e.g. `digest/missing-parameter`.
    pub fn id(&self) -> &'static str {
        match self {
            Self::TooLong { .. } => "digest/too-long",
            Self::TooManyParameters { .. } => "digest/too-many-parameters",
            Self::Syntax { .. } => "digest/syntax",
            Self::WrongScheme { .. } => "digest/wrong-scheme",
            Self::MissingParameter { .. } => "digest/missing-parameter",
            Self::DuplicateParameter { .. } => "digest/duplicate-parameter",
            Self::UnexpectedParameter { .. } => "digest/unexpected-parameter",
            Self::InvalidValue { .. } => "digest/invalid-value",
            Self::Unsupported { .. } => "digest/unsupported",
            Self::InvalidRealm { .. } => "digest/invalid-realm",
            Self::InvalidDigestPassword { .. } => "digest/invalid-digest-password",
        }
    }
}

/// One `name=value` pair: the name lowercased, the value unquoted and unescaped.
struct Param {
    name: String,
    value: String,
}

/// Splits `Digest k=v, k="v", …` into parameters, enforcing the size limits and rejecting
/// duplicates.
fn parse_params(input: &str) -> Result<Vec<Param>, DigestError> {
    if input.len() > MAX_HEADER_LEN {
        return Err(DigestError::TooLong {
            len: input.len(),
            max: MAX_HEADER_LEN,
        });
    }
    let bytes = input.as_bytes();
    let mut pos = skip_whitespace(bytes, 0);
    let scheme_end = scan(bytes, pos, is_tchar);
    if scheme_end == pos {
        return Err(DigestError::Syntax {
            position: pos,
            reason: "expected the auth scheme",
        });
    }
    let scheme = slice(input, pos, scheme_end)?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(DigestError::WrongScheme {
            scheme: clip(scheme),
        });
    }
    pos = skip_whitespace(bytes, scheme_end);
    if pos == scheme_end && pos < bytes.len() {
        return Err(DigestError::Syntax {
            position: pos,
            reason: "expected whitespace after the auth scheme",
        });
    }
    let mut params: Vec<Param> = Vec::new();
    loop {
        // Empty list elements (`a=1,,b=2`) are allowed by the RFC 9110 list rule.
        while bytes.get(pos) == Some(&b',') {
            pos = skip_whitespace(bytes, pos + 1);
        }
        if pos >= bytes.len() {
            break;
        }
        let name_end = scan(bytes, pos, is_tchar);
        if name_end == pos {
            return Err(DigestError::Syntax {
                position: pos,
                reason: "expected a parameter name",
            });
        }
        let name = slice(input, pos, name_end)?.to_ascii_lowercase();
        pos = skip_whitespace(bytes, name_end);
        if bytes.get(pos) != Some(&b'=') {
            return Err(DigestError::Syntax {
                position: pos,
                reason: "expected '=' after the parameter name",
            });
        }
        pos = skip_whitespace(bytes, pos + 1);
        let value = if bytes.get(pos) == Some(&b'"') {
            let (value, end) = parse_quoted(bytes, pos)?;
            pos = end;
            value
        } else {
            let end = scan(bytes, pos, is_unquoted_value_byte);
            if end == pos {
                return Err(DigestError::Syntax {
                    position: pos,
                    reason: "expected a parameter value",
                });
            }
            let value = slice(input, pos, end)?.to_owned();
            pos = end;
            value
        };
        if params.len() >= MAX_PARAMETERS {
            return Err(DigestError::TooManyParameters {
                max: MAX_PARAMETERS,
            });
        }
        if params.iter().any(|p| p.name == name) {
            return Err(DigestError::DuplicateParameter {
                parameter: clip(&name),
            });
        }
        params.push(Param { name, value });
        pos = skip_whitespace(bytes, pos);
        match bytes.get(pos) {
            None | Some(b',') => {}
            Some(_) => {
                return Err(DigestError::Syntax {
                    position: pos,
                    reason: "expected ',' between parameters",
                });
            }
        }
    }
    Ok(params)
}

/// Parses the quoted-string starting at `start` (which holds `"`); returns the unescaped text and
/// the offset just after the closing quote.
fn parse_quoted(bytes: &[u8], start: usize) -> Result<(String, usize), DigestError> {
    let mut out = Vec::new();
    let mut pos = start + 1;
    loop {
        match bytes.get(pos).copied() {
            None => {
                return Err(DigestError::Syntax {
                    position: start,
                    reason: "unterminated quoted string",
                });
            }
            Some(b'"') => break,
            Some(b'\\') => match bytes.get(pos + 1).copied() {
                Some(escaped) if !is_forbidden_control_byte(escaped) => {
                    out.push(escaped);
                    pos += 2;
                }
                Some(_) => {
                    return Err(DigestError::Syntax {
                        position: pos + 1,
                        reason: "control character in quoted string",
                    });
                }
                None => {
                    return Err(DigestError::Syntax {
                        position: start,
                        reason: "unterminated quoted string",
                    });
                }
            },
            Some(byte) if is_forbidden_control_byte(byte) => {
                return Err(DigestError::Syntax {
                    position: pos,
                    reason: "control character in quoted string",
                });
            }
            Some(byte) => {
                out.push(byte);
                pos += 1;
            }
        }
    }
    // Only ASCII backslashes were removed from valid UTF-8, so this cannot fail; map it anyway.
    let text = String::from_utf8(out).map_err(|_| DigestError::Syntax {
        position: start,
        reason: "quoted string is not valid UTF-8",
    })?;
    Ok((text, pos + 1))
}

/// Removes the parameter `name` (lowercase) and returns its value.
fn take(params: &mut Vec<Param>, name: &str) -> Option<String> {
    let index = params.iter().position(|p| p.name == name)?;
    Some(params.swap_remove(index).value)
}

/// Like [`take`], but a missing parameter is an error.
fn require(params: &mut Vec<Param>, name: &'static str) -> Result<String, DigestError> {
    take(params, name).ok_or(DigestError::MissingParameter { parameter: name })
}

/// `input[start..end]` without panicking.
fn slice(input: &str, start: usize, end: usize) -> Result<&str, DigestError> {
    input.get(start..end).ok_or(DigestError::Syntax {
        position: start,
        reason: "not at a character boundary",
    })
}

/// The first offset at or after `pos` whose byte does not satisfy `accept`.
fn scan(bytes: &[u8], mut pos: usize, accept: fn(u8) -> bool) -> usize {
    while bytes.get(pos).is_some_and(|&b| accept(b)) {
        pos += 1;
    }
    pos
}

/// Skips optional whitespace (SP and HTAB).
fn skip_whitespace(bytes: &[u8], pos: usize) -> usize {
    scan(bytes, pos, |b| b == b' ' || b == b'\t')
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Bytes allowed in an unquoted value. Wider than `token` on purpose: clients send unquoted
/// `uri=/wsman` or Base64 nonces, so any visible ASCII except `,` and `"` is accepted.
fn is_unquoted_value_byte(b: u8) -> bool {
    b.is_ascii_graphic() && b != b',' && b != b'"'
}

/// Control characters a quoted-string cannot carry (all but HTAB).
fn is_forbidden_control_byte(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// Character form of [`is_forbidden_control_byte`].
fn is_forbidden_control(c: char) -> bool {
    u8::try_from(c).is_ok_and(is_forbidden_control_byte)
}

/// Appends `value` as a quoted-string, escaping `"` and `\`.
fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Truncates untrusted text kept in an error to a short prefix.
fn clip(value: &str) -> String {
    value.chars().take(ERROR_VALUE_CHARS).collect()
}

/// MD5 over the concatenation of `parts`.
fn md5_parts(parts: &[&str]) -> [u8; 16] {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
}

/// Compares lowercase hex `expected` with `received` (either case) in time that depends only on
/// the lengths.
fn constant_time_eq_hex(expected: &[u8], received: &[u8]) -> bool {
    if expected.len() != received.len() {
        return false;
    }
    let diff = expected
        .iter()
        .zip(received)
        .fold(0_u8, |acc, (a, b)| acc | (a ^ b.to_ascii_lowercase()));
    diff == 0
}

/// Standard Base64 with padding.
fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let triple = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        for i in 0..4 {
            if i <= chunk.len() {
                let index = (triple >> (18 - 6 * i)) & 0x3f;
                out.push(char::from(
                    BASE64_ALPHABET.get(index as usize).copied().unwrap_or(b'='),
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Strict decoding of the 24-character Base64 form of 16 bytes.
fn base64_decode_16(value: &str) -> Option<[u8; 16]> {
    let data = value.strip_suffix("==")?.as_bytes();
    if data.len() != 22 {
        return None;
    }
    let mut out = [0_u8; 16];
    let mut written = 0;
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in data {
        let sextet = BASE64_ALPHABET.iter().position(|&a| a == c)?;
        acc = (acc << 6) | u32::try_from(sextet).ok()?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(written)? = u8::try_from(acc >> bits).ok()?;
            written += 1;
            acc &= (1 << bits) - 1;
        }
    }
    (written == 16 && acc == 0).then_some(out)
}

/// Longest header value the parsers accept, in bytes.
pub const MAX_HEADER_LEN: usize = 4096;

/// Most parameters (known and unknown) the parsers accept in one header value.
pub const MAX_PARAMETERS: usize = 32;

/// The prefix of every AMT realm.
const AMT_REALM_PREFIX: &str = "Digest:";

/// How many characters of untrusted input an error keeps.
const ERROR_VALUE_CHARS: usize = 64;

/// The standard Base64 alphabet (RFC 4648 §4).
const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RPS_CHALLENGE: &str = "Digest realm=\"Digest:727734D63A1FC0423736E48DA554E462\", nonce=\"B9AX94iAAAAAAAAAx6rrSfPHGUrx/3uA\",stale=\"false\",qop=\"auth\"";

    const RFC2617_AUTHORIZATION: &str = "Digest username=\"Mufasa\",\n realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

    fn rfc_authorization() -> Authorization {
        // The RFC folds the header over lines; a real header value has no newline.
        Authorization::parse(&RFC2617_AUTHORIZATION.replace('\n', "")).expect("rfc example parses")
    }

    #[test]
    fn rps_capture_challenge_parses_and_emits_identically() {
        let challenge = Challenge::parse(RPS_CHALLENGE).expect("capture parses");
        assert_eq!(
            challenge.realm.as_str(),
            "Digest:727734D63A1FC0423736E48DA554E462"
        );
        assert!(challenge.realm.is_amt());
        assert_eq!(challenge.nonce, "B9AX94iAAAAAAAAAx6rrSfPHGUrx/3uA");
        assert_eq!(challenge.qop, Some(Qop::Auth));
        assert!(!challenge.stale);
        assert_eq!(challenge.opaque, None);
        assert_eq!(challenge.algorithm, None);
        assert_eq!(challenge.emit(), RPS_CHALLENGE);
        let built = Challenge::new(
            Realm::amt("Digest:727734D63A1FC0423736E48DA554E462").expect("amt realm"),
            "B9AX94iAAAAAAAAAx6rrSfPHGUrx/3uA",
        );
        assert_eq!(built, challenge);
        assert_eq!(built.to_string(), RPS_CHALLENGE);
    }

    #[test]
    fn challenge_emit_with_optional_parameters() {
        let mut challenge = Challenge::new(Realm::from_amt_bytes([0xab; 16]), "n");
        challenge.stale = true;
        challenge.opaque = Some("o\"q".to_owned());
        challenge.algorithm = Some(Algorithm::Md5);
        assert_eq!(
            challenge.emit(),
            "Digest realm=\"Digest:ABABABABABABABABABABABABABABABAB\", nonce=\"n\",stale=\"true\",qop=\"auth\",opaque=\"o\\\"q\",algorithm=MD5"
        );
        assert_eq!(Challenge::parse(&challenge.emit()), Ok(challenge));
    }

    #[test]
    fn challenge_parse_is_tolerant() {
        let challenge = Challenge::parse(
            "  dIgEsT   QOP=\"auth-int, AUTH\" ,STALE=TRUE,nonce=abc/+==,  realm = \"r\" , domain=\"/\", foo=bar,",
        )
        .expect("tolerant parse");
        assert_eq!(challenge.realm.as_str(), "r");
        assert!(!challenge.realm.is_amt());
        assert_eq!(challenge.nonce, "abc/+==");
        assert_eq!(challenge.qop, Some(Qop::Auth));
        assert!(challenge.stale);
        let legacy = Challenge::parse("Digest realm=r, nonce=n, stale=maybe").expect("legacy");
        assert_eq!(legacy.qop, None);
        assert!(!legacy.stale);
    }

    #[test]
    fn challenge_parse_rejects() {
        let id = |s: &str| Challenge::parse(s).map_err(|e| e.id());
        assert_eq!(id("Basic realm=\"x\""), Err("digest/wrong-scheme"));
        assert_eq!(id("Digest nonce=\"n\""), Err("digest/missing-parameter"));
        assert_eq!(id("Digest realm=\"r\""), Err("digest/missing-parameter"));
        assert_eq!(
            id("Digest realm=r, nonce=n, algorithm=MD5-sess"),
            Err("digest/unsupported")
        );
        assert_eq!(
            id("Digest realm=r, nonce=n, algorithm=SHA-256"),
            Err("digest/unsupported")
        );
        assert_eq!(
            id("Digest realm=r, nonce=n, qop=\"auth-int\""),
            Err("digest/unsupported")
        );
        assert_eq!(
            id("Digest realm=r, Realm=s, nonce=n"),
            Err("digest/duplicate-parameter")
        );
        assert_eq!(id(""), Err("digest/syntax"));
        assert_eq!(id("Digest"), Err("digest/missing-parameter"));
    }

    #[test]
    fn rfc2617_example_response() {
        let authorization = rfc_authorization();
        assert_eq!(authorization.username, "Mufasa");
        assert_eq!(authorization.realm.as_str(), "testrealm@host.com");
        assert_eq!(authorization.qop, Some(Qop::Auth));
        assert_eq!(authorization.nc.as_ref().map(NonceCount::value), Some(1));
        assert_eq!(authorization.cnonce.as_deref(), Some("0a4f113b"));
        assert_eq!(
            authorization.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        let ha1 = ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
        assert_eq!(hex::encode(ha1), "939e7578ed9e3c518a452acee763bce9");
        let ha2 = ha2("GET", "/dir/index.html");
        assert_eq!(hex::encode(ha2), "39aff3a2bab6126f332b942af96d3366");
        assert_eq!(
            response(
                &hex::encode(ha1),
                "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                "00000001",
                "0a4f113b",
                "auth",
                &hex::encode(ha2),
            ),
            "6629fae49393a05397450978507c4ef1"
        );
        assert!(authorization.verify_with_ha1("GET", &ha1));
        assert!(!authorization.verify_with_ha1("POST", &ha1));
        let wrong = super::ha1("Mufasa", "testrealm@host.com", "circle of life");
        assert!(!authorization.verify_with_ha1("GET", &wrong));
        let mut upper = authorization.clone();
        upper.response = upper.response.to_ascii_uppercase();
        assert!(upper.verify_with_ha1("GET", &ha1));
    }

    #[test]
    fn rfc2069_legacy_response() {
        // RFC 2069 §2.4's inputs (no qop). Its printed response does not match them (a known
        // erratum), so the expected value was computed independently with Python's hashlib.
        let authorization = Authorization::parse(
            "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", response=\"1949323746fe6a43ef61f9606e7febea\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .expect("legacy parses");
        assert_eq!(authorization.qop, None);
        let ha1 = ha1("Mufasa", "testrealm@host.com", "CircleOfLife");
        assert!(authorization.verify_with_ha1("GET", &ha1));
        let challenge = Challenge {
            qop: None,
            ..Challenge::new(
                Realm::generic("testrealm@host.com").expect("realm"),
                "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            )
        };
        let answer = challenge.answer(
            "Mufasa",
            "CircleOfLife",
            "GET",
            "/dir/index.html",
            NonceCount::from_value(1),
            "ignored",
        );
        assert_eq!(answer.response, "1949323746fe6a43ef61f9606e7febea");
        assert_eq!(answer.nc, None);
        assert_eq!(answer.cnonce, None);
    }

    #[test]
    fn unquoted_and_quoted_qop_nc_any_order() {
        let expected = rfc_authorization();
        let variants = [
            // GWM style: everything quoted, no spaces.
            "Digest username=\"Mufasa\",realm=\"testrealm@host.com\",nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",uri=\"/dir/index.html\",response=\"6629fae49393a05397450978507c4ef1\",qop=\"auth\",nc=\"00000001\",cnonce=\"0a4f113b\",opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
            // Reversed order, odd spacing, lowercase/uppercase names, unknown parameter.
            "digest OPAQUE=\"5ccc069c403ebaf9f0171e9517f40e41\" ,  Response = \"6629fae49393a05397450978507c4ef1\",cnonce=0a4f113b,NC=00000001,qop=auth,x-extra=\"whatever, with comma\",uri=/dir/index.html,nonce=dcd98b7102dd2f0e8b11d0f600bfb0c093,realm=\"testrealm@host.com\",username=Mufasa",
        ];
        for variant in variants {
            assert_eq!(
                Authorization::parse(variant).as_ref(),
                Ok(&expected),
                "{variant}"
            );
        }
        let with_algorithm = Authorization::parse(&format!("{}, algorithm=md5", expected.emit()))
            .expect("algorithm=md5");
        assert_eq!(with_algorithm.algorithm, Some(Algorithm::Md5));
    }

    #[test]
    fn meshcentral_decimal_nc_is_hashed_as_sent() {
        let realm = Realm::from_amt_bytes([0x12; 16]);
        let challenge = Challenge::new(realm.clone(), "nonce");
        let answer = challenge.answer(
            "admin",
            "P@ssw0rd",
            "POST",
            "/wsman",
            NonceCount::parse("1").expect("decimal nc"),
            "cn",
        );
        let header = answer.emit();
        assert!(header.contains(", nc=1,"), "{header}");
        let parsed = Authorization::parse(&header).expect("parses");
        assert_eq!(parsed.nc.as_ref().map(NonceCount::as_str), Some("1"));
        assert_eq!(parsed.nc.as_ref().map(NonceCount::value), Some(1));
        let ha1 = ha1("admin", realm.as_str(), "P@ssw0rd");
        assert!(parsed.verify_with_ha1("POST", &ha1));
        // The same request with the RFC form of nc hashes differently.
        let mut padded = parsed.clone();
        padded.nc = Some(NonceCount::from_value(1));
        assert!(!padded.verify_with_ha1("POST", &ha1));
        // Quoted decimal nc, as MeshCentral sends it.
        let quoted = header.replace(", nc=1,", ", nc=\"1\",");
        assert_eq!(Authorization::parse(&quoted), Ok(parsed));
    }

    #[test]
    fn nonce_count_forms() {
        let value = |s: &str| NonceCount::parse(s).map(|nc| nc.value());
        assert_eq!(value("00000001"), Ok(1));
        assert_eq!(value("0000000a"), Ok(10));
        assert_eq!(value("0000000A"), Ok(10));
        assert_eq!(value("00000010"), Ok(16));
        assert_eq!(value("ffffffff"), Ok(u32::MAX));
        assert_eq!(value("1"), Ok(1));
        assert_eq!(value("10"), Ok(10));
        assert_eq!(value("9999999"), Ok(9_999_999));
        for bad in [
            "",
            "a",
            "0x1",
            "-1",
            "+1",
            " 1",
            "000000001",
            "0000000g",
            "1e",
        ] {
            assert_eq!(
                NonceCount::parse(bad).map_err(|e| e.id()),
                Err("digest/invalid-value"),
                "{bad:?}"
            );
        }
        assert_eq!(NonceCount::from_value(26).as_str(), "0000001a");
    }

    #[test]
    fn authorization_rejects() {
        let base = rfc_authorization();
        let id = |s: &str| Authorization::parse(s).map_err(|e| e.id());
        let parts = [
            ("username", "\"Mufasa\""),
            ("realm", "\"testrealm@host.com\""),
            ("nonce", "\"dcd98b7102dd2f0e8b11d0f600bfb0c093\""),
            ("uri", "\"/dir/index.html\""),
            ("qop", "auth"),
            ("nc", "00000001"),
            ("cnonce", "\"0a4f113b\""),
            ("response", "\"6629fae49393a05397450978507c4ef1\""),
        ];
        for (missing, _) in parts {
            if missing == "qop" {
                continue;
            }
            let header = parts
                .iter()
                .filter(|(name, _)| *name != missing)
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join(", ");
            let header = format!("Digest {header}");
            assert_eq!(
                Authorization::parse(&header),
                Err(DigestError::MissingParameter { parameter: missing }),
                "{header}"
            );
        }
        let emitted = base.emit();
        assert_eq!(
            id(&format!("{emitted}, algorithm=MD5-sess")),
            Err("digest/unsupported")
        );
        assert_eq!(
            id(&format!("{emitted}, algorithm=SHA-256")),
            Err("digest/unsupported")
        );
        assert_eq!(
            id(&emitted.replace("qop=auth", "qop=auth-int")),
            Err("digest/unsupported")
        );
        assert_eq!(
            id(&format!("{emitted}, userhash=true")),
            Err("digest/unsupported")
        );
        assert_eq!(
            id(&format!("{emitted}, username*=UTF-8''J%C3%A4s")),
            Err("digest/unsupported")
        );
        assert_eq!(
            id(&format!("{emitted}, nonce=\"other\"")),
            Err("digest/duplicate-parameter")
        );
        assert_eq!(
            id(&format!("{emitted}, NONCE=other")),
            Err("digest/duplicate-parameter")
        );
        assert_eq!(
            id(&emitted.replace("6629fae49393a05397450978507c4ef1", "6629fae4")),
            Err("digest/invalid-value")
        );
        assert_eq!(
            id(&emitted.replace(
                "6629fae49393a05397450978507c4ef1",
                "6629fae49393a05397450978507c4efg"
            )),
            Err("digest/invalid-value")
        );
        assert_eq!(
            id(&emitted.replace("nc=00000001", "nc=0x1")),
            Err("digest/invalid-value")
        );
        assert_eq!(
            id(&emitted.replace(", qop=auth", "")),
            Err("digest/unexpected-parameter")
        );
    }

    #[test]
    fn escapes_in_quoted_strings() {
        let parsed = Authorization::parse(
            "Digest username=\"a\\\"b\\\\c\\d\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"00000000000000000000000000000000\"",
        )
        .expect("escapes");
        assert_eq!(parsed.username, "a\"b\\cd");
        assert_eq!(
            parsed.emit(),
            "Digest username=\"a\\\"b\\\\cd\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"00000000000000000000000000000000\""
        );
        assert_eq!(Authorization::parse(&parsed.emit()), Ok(parsed));
    }

    #[test]
    fn oversized_and_too_many_parameters() {
        let long = format!("Digest realm=\"{}\", nonce=n", "a".repeat(MAX_HEADER_LEN));
        assert_eq!(
            Challenge::parse(&long),
            Err(DigestError::TooLong {
                len: long.len(),
                max: MAX_HEADER_LEN
            })
        );
        let many = (0..=MAX_PARAMETERS)
            .map(|i| format!("p{i}=v"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            Challenge::parse(&format!("Digest {many}")),
            Err(DigestError::TooManyParameters {
                max: MAX_PARAMETERS
            })
        );
        let exactly = (0..MAX_PARAMETERS - 2)
            .map(|i| format!("p{i}=v"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(Challenge::parse(&format!("Digest realm=r,nonce=n,{exactly}")).is_ok());
    }

    #[test]
    fn garbage_is_rejected_with_syntax_errors() {
        let cases = [
            "Digest realm=\"unterminated",
            "Digest realm=\"x\\",
            "Digest realm=\"a\u{1}b\", nonce=n",
            "Digest realm=\"a\\\u{0}b\", nonce=n",
            "Digest realm",
            "Digest realm=",
            "Digest realm=,nonce=n",
            "Digest =x",
            "Digest realm=\"r\" nonce=\"n\"",
            "Digest realm=r nonce=n",
            "Digest\u{0}realm=r",
            "Digest realm=r\u{e9}, nonce=n",
            "Digest realm=\"r\"x, nonce=n",
            "\u{ff}\u{fe}\u{0}garbage",
            "Digest, realm=r, nonce=n",
        ];
        for case in cases {
            let result = Challenge::parse(case);
            assert!(
                matches!(
                    result,
                    Err(DigestError::Syntax { .. } | DigestError::WrongScheme { .. })
                ),
                "{case:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn realm_forms() {
        assert!(Realm::amt("Digest:727734D63A1FC0423736E48DA554E462").is_ok());
        for bad in [
            "digest:727734D63A1FC0423736E48DA554E462",
            "Digest:727734d63a1fc0423736e48da554e462",
            "Digest:727734D63A1FC0423736E48DA554E46",
            "Digest:727734D63A1FC0423736E48DA554E4620",
            "Digest:727734D63A1FC0423736E48DA554E46G",
            "Digest: 727734D63A1FC0423736E48DA554E46",
            "",
        ] {
            assert_eq!(
                bad.parse::<Realm>().map_err(|e| e.id()),
                Err("digest/invalid-realm"),
                "{bad:?}"
            );
        }
        let realm = Realm::from_amt_bytes([
            0x72, 0x77, 0x34, 0xd6, 0x3a, 0x1f, 0xc0, 0x42, 0x37, 0x36, 0xe4, 0x8d, 0xa5, 0x54,
            0xe4, 0x62,
        ]);
        assert_eq!(realm.to_string(), "Digest:727734D63A1FC0423736E48DA554E462");
        assert!(Realm::generic("testrealm@host.com").is_ok());
        assert!(Realm::generic("tab\tok").is_ok());
        assert!(Realm::generic("bad\nrealm").is_err());
    }

    #[test]
    fn digest_password_forms() {
        let ha1 = ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
        let base64 = digest_password_base64(&ha1);
        assert_eq!(base64, "k551eO2ePFGKRSrO52O86Q==");
        assert_eq!(ha1_from_base64(&base64), Ok(ha1));
        // The value from the Go WS-MAN messages test suite.
        let gwm = ha1_from_base64("AMviB05zT+twP2E9Tn/hPA==").expect("gwm value");
        assert_eq!(digest_password_base64(&gwm), "AMviB05zT+twP2E9Tn/hPA==");
        assert_eq!(ha1_from_hex("939e7578ed9e3c518a452acee763bce9"), Ok(ha1));
        assert_eq!(ha1_from_hex("939E7578ED9E3C518A452ACEE763BCE9"), Ok(ha1));
        for bad in [
            "",
            "k551eO2ePFGKRSrO52O86Q=",
            "k551eO2ePFGKRSrO52O86R==",
            "k551eO2ePFGKRSrO52O86Q",
            "k551eO2ePFGKRSrO52O8*Q==",
            "k551eO2ePFGKRSrO52O86Q==k551eO2ePFGKRSrO52O86Q==",
        ] {
            assert_eq!(
                ha1_from_base64(bad).map_err(|e| e.id()),
                Err("digest/invalid-digest-password"),
                "{bad:?}"
            );
        }
        assert!(ha1_from_hex("939e7578").is_err());
        assert!(ha1_from_hex("zz9e7578ed9e3c518a452acee763bce9").is_err());
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn error_display_and_ids() {
        let errors = [
            DigestError::TooLong {
                len: 5000,
                max: 4096,
            },
            DigestError::TooManyParameters { max: 32 },
            DigestError::Syntax {
                position: 3,
                reason: "expected a parameter name",
            },
            DigestError::WrongScheme {
                scheme: "Basic".to_owned(),
            },
            DigestError::MissingParameter { parameter: "nonce" },
            DigestError::DuplicateParameter {
                parameter: "realm".to_owned(),
            },
            DigestError::UnexpectedParameter {
                parameter: "nc",
                reason: "without qop",
            },
            DigestError::InvalidValue {
                parameter: "nc",
                reason: "expected 8 hex digits or 1 to 7 decimal digits",
            },
            DigestError::Unsupported {
                parameter: "algorithm",
                value: "SHA-256".to_owned(),
            },
            DigestError::InvalidRealm { reason: "x" },
            DigestError::InvalidDigestPassword { reason: "x" },
        ];
        let mut ids = Vec::new();
        for error in &errors {
            let text = error.to_string();
            assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
            assert!(!text.ends_with('.'), "{text}");
            assert!(error.id().starts_with("digest/"));
            ids.push(error.id());
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), errors.len());
        assert_eq!(
            DigestError::MissingParameter { parameter: "nonce" }.to_string(),
            "missing required parameter nonce"
        );
    }

    /// Text a quoted-string can carry: printable ASCII (including `"` and `\`), tab and some
    /// non-ASCII.
    fn quotable() -> impl Strategy<Value = String> {
        "[\t -~éß€日]{0,24}"
    }

    fn realm() -> impl Strategy<Value = Realm> {
        prop_oneof![
            any::<[u8; 16]>().prop_map(Realm::from_amt_bytes),
            quotable().prop_map(|s| Realm::generic(&s).expect("quotable realm")),
        ]
    }

    fn nonce_count() -> impl Strategy<Value = NonceCount> {
        prop_oneof![
            any::<u32>().prop_map(NonceCount::from_value),
            (0_u32..10_000_000)
                .prop_map(|n| NonceCount::parse(&n.to_string()).expect("decimal nc")),
            "[0-9A-F]{8}".prop_map(|s| NonceCount::parse(&s).expect("uppercase hex nc")),
        ]
    }

    fn challenge() -> impl Strategy<Value = Challenge> {
        (
            realm(),
            quotable(),
            proptest::option::of(Just(Qop::Auth)),
            any::<bool>(),
            proptest::option::of(quotable()),
            proptest::option::of(Just(Algorithm::Md5)),
        )
            .prop_map(|(realm, nonce, qop, stale, opaque, algorithm)| Challenge {
                realm,
                nonce,
                qop,
                stale,
                opaque,
                algorithm,
            })
    }

    fn authorization() -> impl Strategy<Value = Authorization> {
        (
            (quotable(), realm(), quotable(), quotable()),
            "[0-9a-fA-F]{32}",
            proptest::option::of((nonce_count(), quotable())),
            proptest::option::of(Just(Algorithm::Md5)),
            proptest::option::of(quotable()),
        )
            .prop_map(
                |((username, realm, nonce, uri), response, qop, algorithm, opaque)| {
                    let (qop, nc, cnonce) = match qop {
                        Some((nc, cnonce)) => (Some(Qop::Auth), Some(nc), Some(cnonce)),
                        None => (None, None, None),
                    };
                    Authorization {
                        username,
                        realm,
                        nonce,
                        uri,
                        response,
                        qop,
                        nc,
                        cnonce,
                        algorithm,
                        opaque,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn challenge_round_trips(challenge in challenge()) {
            prop_assert_eq!(Challenge::parse(&challenge.emit()), Ok(challenge));
        }

        #[test]
        fn authorization_round_trips(authorization in authorization()) {
            prop_assert_eq!(Authorization::parse(&authorization.emit()), Ok(authorization));
        }

        #[test]
        fn answer_verifies(
            challenge in challenge(),
            username in quotable(),
            password in quotable(),
            uri in quotable(),
            nc in nonce_count(),
            cnonce in quotable(),
        ) {
            let answer = challenge.answer(&username, &password, "POST", &uri, nc, &cnonce);
            let parsed = Authorization::parse(&answer.emit());
            prop_assert_eq!(parsed.as_ref(), Ok(&answer));
            let ha1 = ha1(&username, challenge.realm.as_str(), &password);
            prop_assert!(answer.verify_with_ha1("POST", &ha1));
            prop_assert!(!answer.verify_with_ha1("GET", &ha1));
            let other = super::ha1(&username, challenge.realm.as_str(), &format!("{password}x"));
            prop_assert!(!answer.verify_with_ha1("POST", &other));
        }

        #[test]
        fn parse_never_panics(input in any::<String>()) {
            let _ = Challenge::parse(&input);
            let _ = Authorization::parse(&input);
        }

        #[test]
        fn parse_never_panics_on_digest_like_input(
            input in "[Dd]igest[ \t]{0,2}[a-z=\", \\\\\t\u{0}\u{7f}é0-9]{0,80}"
        ) {
            let _ = Challenge::parse(&input);
            let _ = Authorization::parse(&input);
        }

        #[test]
        fn base64_round_trips(bytes in any::<[u8; 16]>()) {
            prop_assert_eq!(ha1_from_base64(&digest_password_base64(&bytes)), Ok(bytes));
        }
    }
}
