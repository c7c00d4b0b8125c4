//! The device's HTTP digest server (sans-IO): nonce issue and expiry, `nc` replay protection,
//! constant-time verification against stored HA1 values, and AMT's 401 response shape.
//!
//! Nonces are 18 random bytes from the device RNG, base64 (24 characters, like AMT's). Each lives
//! [`NONCE_TTL`]; a correct response on an expired or unknown nonce is answered `stale="true"`.
//! The table keeps at most [`MAX_NONCES`] nonces (oldest evicted). Per nonce the highest accepted
//! `nc` is remembered: a client may reuse a nonce with an increasing `nc` (decimal `1` or hex
//! `00000001`, as `amt_wire::digest::NonceCount` reads them); an equal or lower `nc` is a replay.

use std::collections::VecDeque;
use std::time::Duration;

use amt_wire::digest::{Authorization, Challenge, Realm};
use amt_wire::time::Timestamp;
use base64::Engine as _;
use rand::RngCore;

use crate::deviation::Deviation;
use crate::events::AuthFailure;

/// How long a nonce stays fresh.
pub const NONCE_TTL: Duration = Duration::from_secs(300);
/// Most nonces remembered at once.
pub const MAX_NONCES: usize = 256;

/// The HTML body of AMT's 401 answer.
pub const UNAUTHORIZED_BODY: &str = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" >\n<html><head><link rel=stylesheet href=/styles.css>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\n<title>Intel&reg; Active Management Technology</title></head>\n<body>\n<table class=header>\n<tr><td valign=top nowrap>\n<p class=top1>Intel<font class=r><sup>&reg;</sup></font> Active Management Technology\n</td></tr></table>\n<br>\n<h2 class=warn>Log on failed. Incorrect user name or password, or user account temporarily locked.</h2>\n\n<p>\n<form ENCTYPE=\"multipart/form-data\" method=\"post\" action=\"/index.htm\">\n<p>\n<input type=submit value=\"Try again\">\n</form>\n<p>\n\n</body>\n</html>\n";

#[derive(Clone, Debug)]
struct NonceEntry {
    value: String,
    issued: Timestamp,
    /// Highest `nc` accepted so far (`Some(0)` after an RFC 2069 use without `nc`).
    last_nc: Option<u32>,
}

/// The device's nonce table and verifier.
#[derive(Clone, Debug, Default)]
pub struct DigestServer {
    nonces: VecDeque<NonceEntry>,
    /// Deliberate deviations (test knobs): `accept-replayed-nc`, `no-stale`.
    pub deviations: crate::deviation::DeviationSet,
}

/// A successful verification.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Authenticated {
    /// The user name.
    pub user: String,
}

impl DigestServer {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Issues a fresh nonce.
    pub fn issue(&mut self, rng: &mut impl RngCore, now: Timestamp) -> String {
        let mut raw = [0u8; 18];
        rng.fill_bytes(&mut raw);
        let value = base64::engine::general_purpose::STANDARD.encode(raw);
        if self.nonces.len() >= MAX_NONCES {
            self.nonces.pop_front();
        }
        self.nonces.push_back(NonceEntry {
            value: value.clone(),
            issued: now,
            last_nc: None,
        });
        value
    }

    /// Number of nonces held (bounded by [`MAX_NONCES`]).
    pub fn len(&self) -> usize {
        self.nonces.len()
    }

    /// Whether no nonce is held.
    pub fn is_empty(&self) -> bool {
        self.nonces.is_empty()
    }

    /// Verifies an `Authorization` header value for `method` on `request_uri`.
    ///
    /// `lookup` maps a user name to its stored HA1 (`MD5(user:realm:password)`). Order of checks:
    /// header present and parseable, realm and URI ours, user known and response correct
    /// (constant time), then nonce freshness (`Stale`) and `nc` (`Replayed`). Credentials are
    /// checked before the nonce so that `stale` is only ever said to a client that knows them.
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
        if auth.realm.as_str() != realm.as_str() || !uri_matches(&auth.uri, request_uri) {
            return Err((AuthFailure::Malformed, user));
        }
        let ha1 = lookup(&auth.username).ok_or_else(|| (AuthFailure::Wrong, user.clone()))?;
        if !auth.verify_with_ha1(method, &ha1) {
            return Err((AuthFailure::Wrong, user));
        }
        let stale = if self.deviations.has(Deviation::NoStale) {
            AuthFailure::Wrong
        } else {
            AuthFailure::Stale
        };
        let Some(entry) = self.nonces.iter_mut().find(|n| n.value == auth.nonce) else {
            return Err((stale, user));
        };
        if now.saturating_duration_since(entry.issued) > NONCE_TTL {
            return Err((stale, user));
        }
        let nc = match (&auth.qop, &auth.nc) {
            (Some(_), Some(nc)) => nc.value(),
            (Some(_), None) => return Err((AuthFailure::Malformed, user)),
            (None, _) => 0,
        };
        if entry.last_nc.is_some_and(|last| nc <= last)
            && !self.deviations.has(Deviation::AcceptReplayedNc)
        {
            return Err((AuthFailure::Replayed, user));
        }
        entry.last_nc = Some(nc);
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
pub fn challenge_header(realm: &Realm, nonce: &str, stale: bool) -> String {
    let mut c = Challenge::new(realm.clone(), nonce);
    c.stale = stale;
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
        let mut s = DigestServer::new();
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
        for _ in 0..(MAX_NONCES * 2) {
            s.issue(&mut rng, t0);
        }
        assert_eq!(s.len(), MAX_NONCES);
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_headers_never_verify_or_panic(header in "\\PC{0,300}", prefixed in proptest::bool::ANY) {
            let realm = Realm::amt(REALM).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let mut rng = ChaCha20Rng::seed_from_u64(2);
            let mut s = DigestServer::new();
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
        let h = challenge_header(&Realm::amt(REALM)?, "abc", true);
        assert_eq!(
            h,
            format!("Digest realm=\"{REALM}\", nonce=\"abc\",stale=\"true\",qop=\"auth\"")
        );
        Ok(())
    }
}
