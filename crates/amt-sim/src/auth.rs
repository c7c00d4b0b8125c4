//! The device's HTTP digest server (sans-IO): nonce issue and expiry, `nc` replay protection,
//! constant-time verification against stored HA1 values, and AMT's 401 response shape.
//!
//! Nonces are 18 bytes, base64 (24 characters, like AMT's): the issue time (6 bytes, Unix
//! milliseconds), 4 random bytes from the device RNG and an 8-byte tag (SHA-256 over a per-device
//! random key and those 10 bytes). Issuing a nonce keeps **no state**, so a flood of
//! unauthenticated requests (each answered 401 with a fresh nonce) cannot push an admin's nonce out
//! of a table: any nonce this device issued verifies for [`NONCE_TTL`]; after that, or with a tag
//! this device did not make (another device, or this one before a restart, which draws a new key),
//! a correct response is answered `stale="true"`.
//!
//! State is kept only for nonces that authenticated a request: per nonce the highest accepted
//! `nc`. A client may reuse a nonce with an increasing `nc` (decimal `1` or hex `00000001`, as
//! `amt_wire::digest::NonceCount` reads them); an equal or lower `nc` is a replay. That table holds
//! at most [`MAX_USED_NONCES`] entries; when one is evicted, every nonce issued up to its issue
//! time and not in the table is refused as stale from then on (it may have been used before), so
//! eviction never re-opens a replay. Only clients that know a password can fill that table.

use std::collections::VecDeque;
use std::time::Duration;

use amt_wire::digest::{Authorization, Challenge, Realm};
use amt_wire::time::Timestamp;
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest as _, Sha256};

use crate::deviation::Deviation;
use crate::events::AuthFailure;

/// How long a nonce stays fresh.
pub const NONCE_TTL: Duration = Duration::from_secs(300);
/// Most used nonces whose `nc` is remembered at once.
pub const MAX_USED_NONCES: usize = 1024;

/// Raw nonce layout: issue time (ms), random, tag.
const TIME_BYTES: usize = 6;
const RANDOM_BYTES: usize = 4;
const TAG_BYTES: usize = 8;
const NONCE_BYTES: usize = TIME_BYTES + RANDOM_BYTES + TAG_BYTES;

/// The HTML body of AMT's 401 answer.
pub const UNAUTHORIZED_BODY: &str = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" >\n<html><head><link rel=stylesheet href=/styles.css>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\n<title>Intel&reg; Active Management Technology</title></head>\n<body>\n<table class=header>\n<tr><td valign=top nowrap>\n<p class=top1>Intel<font class=r><sup>&reg;</sup></font> Active Management Technology\n</td></tr></table>\n<br>\n<h2 class=warn>Log on failed. Incorrect user name or password, or user account temporarily locked.</h2>\n\n<p>\n<form ENCTYPE=\"multipart/form-data\" method=\"post\" action=\"/index.htm\">\n<p>\n<input type=submit value=\"Try again\">\n</form>\n<p>\n\n</body>\n</html>\n";

#[derive(Clone, Debug)]
struct UsedNonce {
    raw: [u8; NONCE_BYTES],
    issued_ms: i64,
    /// Highest `nc` accepted so far (`0` after an RFC 2069 use without `nc`).
    last_nc: u32,
}

/// The device's nonce key and the `nc` table of used nonces.
#[derive(Clone)]
pub struct DigestServer {
    key: [u8; 32],
    used: VecDeque<UsedNonce>,
    /// Nonces issued at or before this instant (ms) that are not in `used` are refused as stale:
    /// an entry issued then was evicted, and one of them may have been used.
    forgotten_until_ms: Option<i64>,
    /// Deliberate deviations (test knobs): `accept-replayed-nc`, `no-stale`.
    pub deviations: crate::deviation::DeviationSet,
}

impl std::fmt::Debug for DigestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestServer")
            .field("used", &self.used.len())
            .field("forgotten_until_ms", &self.forgotten_until_ms)
            .finish_non_exhaustive()
    }
}

/// A successful verification.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Authenticated {
    /// The user name.
    pub user: String,
}

impl DigestServer {
    /// A server with a fresh nonce key drawn from `rng`.
    pub fn new(rng: &mut impl RngCore) -> Self {
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        Self {
            key,
            used: VecDeque::new(),
            forgotten_until_ms: None,
            deviations: crate::deviation::DeviationSet::default(),
        }
    }

    fn tag(&self, body: &[u8]) -> [u8; TAG_BYTES] {
        let mut h = Sha256::new();
        h.update(b"amt-sim digest nonce v1");
        h.update(self.key);
        h.update(body);
        let full = h.finalize();
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(full.get(..TAG_BYTES).unwrap_or(&[0; TAG_BYTES]));
        tag
    }

    /// Issues a fresh nonce (no state is kept).
    pub fn issue(&mut self, rng: &mut impl RngCore, now: Timestamp) -> String {
        let mut raw = [0u8; NONCE_BYTES];
        let ms = now.unix_millis().max(0).to_be_bytes();
        raw[..TIME_BYTES].copy_from_slice(&ms[8 - TIME_BYTES..]);
        rng.fill_bytes(&mut raw[TIME_BYTES..TIME_BYTES + RANDOM_BYTES]);
        let tag = self.tag(&raw[..TIME_BYTES + RANDOM_BYTES]);
        raw[TIME_BYTES + RANDOM_BYTES..].copy_from_slice(&tag);
        base64::engine::general_purpose::STANDARD.encode(raw)
    }

    /// The issue time of a nonce this device made, `None` for anything else.
    fn open(&self, nonce: &str) -> Option<([u8; NONCE_BYTES], i64)> {
        if nonce.len() != 24 {
            return None;
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(nonce)
            .ok()?;
        let raw: [u8; NONCE_BYTES] = bytes.try_into().ok()?;
        let expected = self.tag(&raw[..TIME_BYTES + RANDOM_BYTES]);
        let got = &raw[TIME_BYTES + RANDOM_BYTES..];
        let diff = expected
            .iter()
            .zip(got)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 {
            return None;
        }
        let mut ms = [0u8; 8];
        ms[8 - TIME_BYTES..].copy_from_slice(&raw[..TIME_BYTES]);
        Some((raw, i64::from_be_bytes(ms)))
    }

    /// Number of used nonces whose `nc` is remembered (bounded by [`MAX_USED_NONCES`]).
    pub fn len(&self) -> usize {
        self.used.len()
    }

    /// Whether no used nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.used.is_empty()
    }

    fn forget_oldest(&mut self) {
        if let Some(old) = self.used.pop_front() {
            self.forgotten_until_ms = Some(
                self.forgotten_until_ms
                    .map_or(old.issued_ms, |f| f.max(old.issued_ms)),
            );
        }
    }

    /// Verifies an `Authorization` header value for `method` on `request_uri`.
    ///
    /// `lookup` maps a user name to its stored HA1 (`MD5(user:realm:password)`). Order of checks:
    /// header present and parseable, realm and URI ours, user known and response correct
    /// (constant time), then nonce origin and freshness (`Stale`) and `nc` (`Replayed`).
    /// Credentials are checked before the nonce so that `stale` is only ever said to a client
    /// that knows them.
    pub fn verify(
        &mut self,
        header: Option<&str>,
        method: &str,
        request_uri: &str,
        realm: &Realm,
        lookup: impl Fn(&str) -> Option<[u8; 16]>,
        now: Timestamp,
    ) -> Result<Authenticated, (AuthFailure, Option<String>)> {
        let header = header.ok_or((AuthFailure::Missing, None))?;
        if !header
            .trim_start()
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case("digest"))
        {
            return Err((AuthFailure::Missing, None));
        }
        let auth = Authorization::parse(header).map_err(|_| (AuthFailure::Malformed, None))?;
        let user = Some(auth.username.clone());
        if auth.realm.as_str() != realm.as_str()
            || !(uri_matches(&auth.uri, request_uri)
                || self.deviations.has(Deviation::AcceptDigestUriMismatch))
        {
            return Err((AuthFailure::Malformed, user));
        }
        let ha1 = lookup(&auth.username).ok_or_else(|| (AuthFailure::Wrong, user.clone()))?;
        if !auth.verify_with_ha1(method, &ha1) {
            let stale = self.deviations.has(Deviation::WrongPasswordStale);
            return Err((
                if stale {
                    AuthFailure::Stale
                } else {
                    AuthFailure::Wrong
                },
                user,
            ));
        }
        // The `no-stale` deviation answers an outdated nonce as a wrong password (no `stale`).
        let stale = if self.deviations.has(Deviation::NoStale) {
            AuthFailure::Wrong
        } else {
            AuthFailure::Stale
        };
        let Some((raw, issued_ms)) = self.open(&auth.nonce) else {
            return Err((stale, user));
        };
        let ttl_ms = i64::try_from(NONCE_TTL.as_millis()).unwrap_or(i64::MAX);
        let now_ms = now.unix_millis();
        if now_ms.saturating_sub(issued_ms) > ttl_ms {
            return Err((stale, user));
        }
        let nc = match (&auth.qop, &auth.nc) {
            (Some(_), Some(nc)) => nc.value(),
            (Some(_), None) => return Err((AuthFailure::Malformed, user)),
            (None, _) => 0,
        };
        if let Some(entry) = self.used.iter_mut().find(|n| n.raw == raw) {
            if (nc <= entry.last_nc && !self.deviations.has(Deviation::AcceptReplayedNc))
                || self.deviations.has(Deviation::SingleUseNonce)
            {
                return Err((AuthFailure::Replayed, user));
            }
            entry.last_nc = nc;
            return Ok(Authenticated {
                user: auth.username,
            });
        }
        if self.forgotten_until_ms.is_some_and(|f| issued_ms <= f) {
            return Err((stale, user));
        }
        // Expired entries can go: their nonces are refused as stale by the TTL check.
        while self
            .used
            .front()
            .is_some_and(|n| now_ms.saturating_sub(n.issued_ms) > ttl_ms)
        {
            self.forget_oldest();
        }
        if self.used.len() >= MAX_USED_NONCES {
            self.forget_oldest();
        }
        self.used.push_back(UsedNonce {
            raw,
            issued_ms,
            last_nc: nc,
        });
        Ok(Authenticated {
            user: auth.username,
        })
    }
}

/// Whether the digest `uri` parameter names the request target (exact, or the same path when one
/// of them is absolute-form).
fn uri_matches(digest_uri: &str, request_uri: &str) -> bool {
    fn path(u: &str) -> &str {
        match u.find("://") {
            Some(i) => u
                .get(i + 3..)
                .and_then(|r| r.find('/').map(|p| &r[p..]))
                .unwrap_or("/"),
            None => u,
        }
    }
    digest_uri == request_uri || path(digest_uri) == path(request_uri)
}

/// The `WWW-Authenticate` value AMT sends.
/// `qop` false leaves `qop="auth"` out (only for the `challenge-without-qop` deviation).
pub fn challenge_header(realm: &Realm, nonce: &str, stale: bool, qop: bool) -> String {
    let mut c = Challenge::new(realm.clone(), nonce);
    c.stale = stale;
    if !qop {
        c.qop = None;
    }
    c.emit()
}

#[cfg(test)]
mod tests {
    use amt_wire::digest::{NonceCount, ha1};
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;

    const REALM: &str = "Digest:727734D63A1FC0423736E48DA554E462";

    fn answer(nonce: &str, pass: &str, nc: &str) -> Result<String, amt_wire::digest::DigestError> {
        let realm = Realm::amt(REALM)?;
        let c = Challenge::new(realm, nonce);
        Ok(c.answer(
            "admin",
            pass,
            "POST",
            "/wsman",
            NonceCount::parse(nc)?,
            "cn",
        )
        .emit())
    }

    #[test]
    fn verifies_counts_and_expires() -> Result<(), amt_wire::digest::DigestError> {
        let realm = Realm::amt(REALM)?;
        let stored = ha1("admin", REALM, "P@ssw0rd");
        let lookup = |u: &str| (u == "admin").then_some(stored);
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut s = DigestServer::new(&mut rng);
        let t0 = Timestamp::from_unix_secs(100);
        let n = s.issue(&mut rng, t0);
        assert_eq!(n.len(), 24);
        let v = |s: &mut DigestServer, h: &str, t| {
            s.verify(Some(h), "POST", "/wsman", &realm, lookup, t)
        };
        assert!(v(&mut s, &answer(&n, "P@ssw0rd", "1")?, t0).is_ok());
        assert_eq!(
            v(&mut s, &answer(&n, "P@ssw0rd", "1")?, t0).map_err(|e| e.0),
            Err(AuthFailure::Replayed)
        );
        assert!(v(&mut s, &answer(&n, "P@ssw0rd", "00000002")?, t0).is_ok());
        assert_eq!(
            v(&mut s, &answer(&n, "wrong", "3")?, t0).map_err(|e| e.0),
            Err(AuthFailure::Wrong)
        );
        let late = t0 + NONCE_TTL + Duration::from_secs(1);
        assert_eq!(
            v(&mut s, &answer(&n, "P@ssw0rd", "3")?, late).map_err(|e| e.0),
            Err(AuthFailure::Stale)
        );
        assert_eq!(
            s.verify(None, "POST", "/wsman", &realm, lookup, t0)
                .map_err(|e| e.0),
            Err(AuthFailure::Missing)
        );
        // A nonce of another device (another key) is stale, even with the right password.
        let other = DigestServer::new(&mut rng).issue(&mut rng, t0);
        assert_eq!(
            v(&mut s, &answer(&other, "P@ssw0rd", "1")?, t0).map_err(|e| e.0),
            Err(AuthFailure::Stale)
        );
        Ok(())
    }

    #[test]
    fn an_unauthenticated_flood_does_not_evict_an_admins_nonce()
    -> Result<(), amt_wire::digest::DigestError> {
        let realm = Realm::amt(REALM)?;
        let stored = ha1("admin", REALM, "P@ssw0rd");
        let lookup = |u: &str| (u == "admin").then_some(stored);
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let mut s = DigestServer::new(&mut rng);
        let t0 = Timestamp::from_unix_secs(100);
        let admin_nonce = s.issue(&mut rng, t0);
        // 7,000 unauthenticated requests a second for a 50 ms round trip is 350 challenges;
        // ten thousand is far beyond it.
        for _ in 0..10_000 {
            let _ = s.issue(&mut rng, t0);
        }
        let later = t0 + Duration::from_millis(50);
        let r = s.verify(
            Some(&answer(&admin_nonce, "P@ssw0rd", "1")?),
            "POST",
            "/wsman",
            &realm,
            lookup,
            later,
        );
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(s.len(), 1, "issuing keeps no state");
        Ok(())
    }

    #[test]
    fn evicted_used_nonces_are_never_replayable() -> Result<(), amt_wire::digest::DigestError> {
        let realm = Realm::amt(REALM)?;
        let stored = ha1("admin", REALM, "P@ssw0rd");
        let lookup = |u: &str| (u == "admin").then_some(stored);
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let mut s = DigestServer::new(&mut rng);
        let t0 = Timestamp::from_unix_secs(100);
        let first = s.issue(&mut rng, t0);
        let header = answer(&first, "P@ssw0rd", "1")?;
        assert!(
            s.verify(Some(&header), "POST", "/wsman", &realm, lookup, t0)
                .is_ok()
        );
        for _ in 0..MAX_USED_NONCES {
            let n = s.issue(&mut rng, t0);
            let h = answer(&n, "P@ssw0rd", "1")?;
            assert!(
                s.verify(Some(&h), "POST", "/wsman", &realm, lookup, t0)
                    .is_ok()
            );
        }
        assert_eq!(s.len(), MAX_USED_NONCES);
        // `first` was evicted: replaying its header is refused (stale), not accepted.
        assert_eq!(
            s.verify(Some(&header), "POST", "/wsman", &realm, lookup, t0)
                .map_err(|e| e.0),
            Err(AuthFailure::Stale)
        );
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_headers_never_verify_or_panic(header in "\\PC{0,300}", prefixed in proptest::bool::ANY) {
            let realm = Realm::amt(REALM).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let mut rng = ChaCha20Rng::seed_from_u64(2);
            let mut s = DigestServer::new(&mut rng);
            let t0 = Timestamp::from_unix_secs(100);
            let _ = s.issue(&mut rng, t0);
            let h = if prefixed { format!("Digest {header}") } else { header };
            let stored = ha1("admin", REALM, "x");
            let r = s.verify(Some(&h), "POST", "/wsman", &realm, |_| Some(stored), t0);
            proptest::prop_assert!(r.is_err());
        }
    }

    #[test]
    fn challenge_has_amt_shape() -> Result<(), amt_wire::digest::DigestError> {
        let h = challenge_header(&Realm::amt(REALM)?, "abc", true, true);
        assert_eq!(
            h,
            format!("Digest realm=\"{REALM}\", nonce=\"abc\",stale=\"true\",qop=\"auth\"")
        );
        Ok(())
    }
}
