//! The requirement catalog of the device suite as data: one [`Check`] row per requirement (id,
//! area, kind, personalities, requirement sentence, source with section or URL) pointing at the
//! function that checks it. `DEVICE-CHECKS.md` is generated from [`CHECKS`]
//! (`crates/conformance/tests/device_checks.rs` keeps it in sync).
//!
//! Checks run in table order against one device; the state-machine checks build on each other
//! (provision, commit, unprovision) and leave the device unprovisioned.

use std::collections::HashMap;
use std::time::Instant;

use amt_sim::personality::{CnRule, Personality, PersonalityTraits, SetupAuth};
use amt_wire::digest::{Challenge, NonceCount};
use amt_wire::hello::{HelloKind, HelloPacket};
use amt_wire::http::Response;
use amt_wire::thumbprint::{HashAlgorithm, Thumbprint};
use amt_wire::wsman::names::{
    ACTION_ENUMERATE, ACTION_GET, ACTION_PULL, ACTION_PUT, ACTION_RELEASE, AMT_SCHEMA, CIM_SCHEMA,
    IPS_SCHEMA,
};
use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;

use super::probe::{self, Conn, ProbeError, WsReply, clip, envelope, head_text, selectors};
use super::{CheckResult, Config, Evidence, SkipReason, SuiteError, SuiteReport, Verdict};

/// The area a check belongs to.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Area {
    /// HTTP/1.1 on the device ports.
    Http,
    /// HTTP digest authentication.
    Digest,
    /// Hello beacons.
    Hello,
    /// The TLS setup port before provisioning (the firmware's chain policy).
    Tls,
    /// WS-Management operations.
    Wsman,
    /// WS-Management faults.
    Fault,
    /// Enumerate/Pull/Release semantics.
    Enumeration,
    /// The object model.
    Object,
    /// The provisioning state machine (destructive).
    State,
}

impl Area {
    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Http => "HTTP",
            Self::Digest => "Digest",
            Self::Hello => "Hello",
            Self::Tls => "TLS setup port",
            Self::Wsman => "WS-MAN operations",
            Self::Fault => "WS-MAN faults",
            Self::Enumeration => "Enumeration",
            Self::Object => "Object model",
            Self::State => "State machine",
        }
    }
}

/// What a check needs from the device and the operator.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Reads only; no password needed.
    ReadOnly,
    /// Needs the admin password (before provisioning: the MEBx password); changes nothing.
    Admin,
    /// Changes the device's state (provisions, commits, unprovisions): needs `--allow-reset`.
    Destructive,
}

impl Kind {
    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Self::ReadOnly => "read-only",
            Self::Admin => "admin",
            Self::Destructive => "destructive",
        }
    }
}

/// Which firmware generations a check applies to (a predicate over the personality table).
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Applies {
    /// Every generation.
    All,
    /// Generations that match the CN on the last two labels (AMT 3.2.1+).
    CnLastTwoLabels,
    /// Generations with a stricter CN rule (AMT 2.6 `.com`/`.net` only, AMT 3.0 exact suffix).
    CnStrict,
    /// Generations that refuse root keys over 2048 bits (AMT ≤ 9).
    RootKeyLimit,
    /// Generations without that limit (AMT 11+).
    NoRootKeyLimit,
    /// Generations that refuse SHA-1 anywhere in the chain (ME 16+).
    RefusesSha1,
    /// Generations that accept SHA-1 signatures (before ME 16).
    AcceptsSha1,
    /// Generations with host-based setup (AMT 7+).
    HostBasedSetup,
    /// Generations whose setup session still demands digest (before AMT 11).
    SetupDigest,
    /// Generations whose setup session is authorised by the certificate (AMT 11+).
    SetupCertificate,
}

impl Applies {
    /// Whether it holds for `t`.
    pub fn holds(self, t: &PersonalityTraits) -> bool {
        match self {
            Self::All => true,
            Self::CnLastTwoLabels => t.cn_rule == CnRule::LastTwoLabels,
            Self::CnStrict => t.cn_rule != CnRule::LastTwoLabels,
            Self::RootKeyLimit => t.max_root_key_bits.is_some(),
            Self::NoRootKeyLimit => t.max_root_key_bits.is_none(),
            Self::RefusesSha1 => t.refuse_sha1,
            Self::AcceptsSha1 => !t.refuse_sha1,
            Self::HostBasedSetup => t.host_based_setup,
            Self::SetupDigest => t.setup_auth == SetupAuth::Digest,
            Self::SetupCertificate => t.setup_auth == SetupAuth::Certificate,
        }
    }

    /// What it means, for lists and skip reasons.
    pub fn describe(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::CnLastTwoLabels => "AMT 3.2.1+ (last-two-labels CN rule)",
            Self::CnStrict => "AMT 2.6/3.0 (strict CN rule)",
            Self::RootKeyLimit => "AMT <= 9 (root key <= 2048 bits)",
            Self::NoRootKeyLimit => "AMT 11+ (no root key limit)",
            Self::RefusesSha1 => "ME 16+ (no SHA-1)",
            Self::AcceptsSha1 => "before ME 16 (SHA-1 accepted)",
            Self::HostBasedSetup => "AMT 7+ (host-based setup)",
            Self::SetupDigest => "before AMT 11 (digest in the setup session)",
            Self::SetupCertificate => "AMT 11+ (certificate-authorised setup session)",
        }
    }
}

/// One requirement and its check.
#[derive(Clone, Copy)]
pub struct Check {
    /// Stable id (`DIGEST-07`).
    pub id: &'static str,
    /// Area.
    pub area: Area,
    /// Kind.
    pub kind: Kind,
    /// Personalities it applies to.
    pub applies: Applies,
    /// The requirement, one sentence.
    pub requirement: &'static str,
    /// Where it comes from (document, section or URL).
    pub source: &'static str,
    /// The check.
    pub run: fn(&mut Ctx) -> Step,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check").field("id", &self.id).finish()
    }
}

/// What a check function returns: `Ok(())` passes; `Err` fails or skips.
pub type Step = Result<(), Verdict>;

fn fail(expected: impl Into<String>, actual: impl Into<String>) -> Verdict {
    Verdict::Fail(Evidence {
        expected: expected.into(),
        actual: actual.into(),
        exchange: Vec::new(),
    })
}

fn skip(reason: SkipReason) -> Verdict {
    Verdict::Skip { reason }
}

fn prereq(detail: impl Into<String>) -> Verdict {
    skip(SkipReason::Prerequisite {
        detail: detail.into(),
    })
}

fn ensure(ok: bool, expected: impl Into<String>, actual: impl FnOnce() -> String) -> Step {
    if ok {
        Ok(())
    } else {
        Err(fail(expected, actual()))
    }
}

fn io(expected: &str) -> impl FnOnce(ProbeError) -> Verdict + '_ {
    move |e| fail(expected, format!("{} ({})", e, e.id()))
}

// Sources, cited by the rows.
const RFC7230_63: &str =
    "RFC 7230 §6.3 (persistence), https://www.rfc-editor.org/rfc/rfc7230#section-6.3";
const RFC7230_333: &str = "RFC 7230 §3.3.3 (message body length)";
const RFC7230_41: &str = "RFC 7230 §4.1 (chunked transfer coding)";
const RFC6585_5: &str =
    "RFC 6585 §5 (431) and RFC 7230 §3.2.5 (field limits: respond with a 4xx status)";
const RFC7231_6511: &str = "RFC 7231 §6.5.11 (413 Payload Too Large)";
const RFC7230_311: &str = "RFC 7230 §3.1.1 and §3.2.4 (invalid request line: 400)";
const RFC7231_511: &str = "RFC 7231 §5.1.1 (Expect: 100-continue)";
const AMT_HEADERS: &str = "reference/amt-protocol.md §3.1 (AMT 15.0.23 capture in RPS AMTMessages.ts; MeshCentral amt-wsman-comm.js reads the version from Server)";
const DSP0226_HTTP: &str =
    "DSP0226 1.0 Annex (HTTP binding: application/soap+xml), SOAP 1.2 Part 2 §7";
const RFC7616_33: &str = "RFC 7616 §3.3 (WWW-Authenticate), RFC 2617 §3.2.1";
const AMT_REALM: &str = "Intel AMT SDK AMT_GeneralSettings.DigestRealm; reference/amt-protocol.md §3.1 (realm Digest:<32 upper-case hex>)";
const RFC7616_34: &str = "RFC 7616 §3.4 (Authorization: nc, response), RFC 2617 §3.2.2";
const RFC7616_5: &str = "RFC 7616 §5.5 / RFC 2617 §4.5 (replay attacks: nc must increase)";
const RFC7616_STALE: &str = "RFC 7616 §3.3 (stale: nonce invalid but the digest valid)";
const RFC7616_USER: &str = "RFC 7616 §3.4.4 (username compared as sent); Intel AMT SDK 'Add a Digest User' (user names are case-sensitive)";
const RFC7616_ALG: &str = "RFC 7616 §3.3 / §3.4 (algorithm must be one the server offered; AMT offers MD5 only, amt-protocol.md §3.1)";
const RFC7616_URI: &str = "RFC 7616 §3.4.6 (digest-uri must match the request target)";
const DSP0226_ID: &str = "DSP0226 1.0 §11 (Identify: no authentication required)";
const IRG_HELLO: &str = "Intel AMT Implementation and Reference Guide, 'Setup Mode Hello Messages'; reference/amt-protocol.md §1.2";
const IRG_HASH: &str = "Intel AMT IRG 'Root Certificate Hashes'; reference/amt-protocol.md §1.2 (Hello carries the active hashes)";
const IRG_FLOW: &str = "Intel AMT IRG 'Remote Setup and Configuration Flow' step 3 (mutual TLS, chain to an active hash); reference/amt-protocol.md §2.1";
const IRG_CERT: &str = "Intel AMT IRG 'Acquiring an Intel vPro Certificate' (AMT OID 2.16.840.1.113741.1.2.3 or OU 'Intel(R) Client Setup Certificate', serverAuth); amt-protocol.md §2.2";
const SCCM_BLOG: &str = "ConfigMgr 2007 'OOB requirements for in-band provisioning' blog (AMT >= 3.2.1 matches the last two labels); amt-protocol.md §2.2";
const SCCM_PRE: &str = "ConfigMgr 2007 'Prerequisites for Out of Band Management' (CA keys over 2048 bits unsupported); amt-protocol.md §2.2";
const INTEL_SHA1: &str = "Intel IRG 'Root Certificate Hashes' and Intel support 000090051 (ME 16+: no SHA-1 anywhere in the chain); amt-protocol.md §2.2";
const RFC5280_VALID: &str =
    "RFC 5280 §6.1.3 (validity period); Intel AMT IRG TLS 'Detailed Description'";
const RFC8446_ALERT: &str = "RFC 8446 §6.2 / RFC 5246 §7.2.2 (error alerts); device-management-toolkit/deployment#165 (AMT sends certificate_unknown)";
const RFC8446_CERT: &str =
    "RFC 8446 §4.4.2 (sender's certificate first, each following certifies the one before)";
const DSP0226_GET: &str = "DSP0226 1.0 §7.1 (Get)";
const DSP0226_ADDR: &str =
    "DSP0226 1.0 §5.4.4 / WS-Addressing (RelatesTo carries the request MessageID)";
const DSP0226_INVOKE: &str =
    "DSP0226 1.0 §9 (custom actions); Intel AMT SDK AMT_SetupAndConfigurationService.GetUuid";
const DSP0226_FAULTS: &str = "DSP0226 1.0 §14.6 (master fault table)";
const DSP0226_MU: &str = "DSP0226 1.0 §5.2 / SOAP 1.2 §5.2.3 (mustUnderstand); Intel AMT IRG DSP0226 notes (OptionSet mustUnderstand)";
const DSP0226_MAXENV: &str =
    "DSP0226 1.0 §6.2 (MaxEnvelopeSize); Intel AMT IRG DSP0226 notes (minimum 50000)";
const DSP0226_ENUM: &str = "DSP0226 1.0 §8.2 / WS-Enumeration §3 (Enumerate, Pull, Release)";
const DSP0226_OPT: &str =
    "DSP0226 1.0 §8.2.3 (OptimizeEnumeration: EndOfSequence, no context when complete)";
const DSP0226_EPR: &str = "DSP0226 1.0 §8.7 (EnumerationMode EnumerateEPR / EnumerateObjectAndEPR)";
const DSP0227_KEYS: &str =
    "DSP0227 1.0 §7 (CIM binding: selectors are the class keys); Intel AMT SDK class reference";
const SDK_CLASSES: &str = "Intel AMT SDK class reference (https://software.intel.com/sites/manageability/AMT_Implementation_and_Reference_Guide/)";
const SDK_PT: &str = "Intel AMT SDK PT_STATUS codes; reference/amt-protocol.md §2.4 (2057 DATA_MISSING), GWM amterror";
const SDK_STATE: &str = "Intel AMT SDK AMT_SetupAndConfigurationService (ProvisioningState 0 pre, 1 in, 2 post; CommitChanges; Unprovision)";

macro_rules! row {
    ($id:literal, $area:ident, $kind:ident, $applies:ident, $req:literal, $src:expr, $f:expr) => {
        Check {
            id: $id,
            area: Area::$area,
            kind: Kind::$kind,
            applies: Applies::$applies,
            requirement: $req,
            source: $src,
            run: $f,
        }
    };
}

/// Every check, in run order.
pub const CHECKS: &[Check] = &[
    // HTTP.
    row!(
        "HTTP-01",
        Http,
        ReadOnly,
        All,
        "An HTTP/1.1 connection stays open for a second request (keep-alive).",
        RFC7230_63,
        http_keep_alive
    ),
    row!(
        "HTTP-02",
        Http,
        ReadOnly,
        All,
        "Every response is delimited by Content-Length or chunked transfer coding.",
        RFC7230_333,
        http_framing
    ),
    row!(
        "HTTP-03",
        Http,
        ReadOnly,
        All,
        "A request with a chunked body is read and answered.",
        RFC7230_41,
        http_chunked_request
    ),
    row!(
        "HTTP-04",
        Http,
        ReadOnly,
        All,
        "A request head over the device's limit is answered with a 4xx status, not a reset.",
        RFC6585_5,
        http_head_limit
    ),
    row!(
        "HTTP-05",
        Http,
        ReadOnly,
        All,
        "A declared body over the device's limit is answered with a 4xx status (413), not a reset.",
        RFC7231_6511,
        http_body_limit
    ),
    row!(
        "HTTP-06",
        Http,
        ReadOnly,
        All,
        "Responses carry Server: Intel(R) Active Management Technology <version>.",
        AMT_HEADERS,
        http_server_header
    ),
    row!(
        "HTTP-07",
        Http,
        ReadOnly,
        All,
        "A malformed request line is answered 400.",
        RFC7230_311,
        http_bad_request_line
    ),
    row!(
        "HTTP-08",
        Http,
        ReadOnly,
        All,
        "Expect: 100-continue is answered with 100 Continue before the final response.",
        RFC7231_511,
        http_expect_continue
    ),
    row!(
        "HTTP-09",
        Http,
        ReadOnly,
        All,
        "WS-MAN responses have Content-Type application/soap+xml.",
        DSP0226_HTTP,
        http_content_type
    ),
    // Digest.
    row!(
        "DIGEST-01",
        Digest,
        ReadOnly,
        All,
        "A request without credentials gets 401 with a Digest challenge.",
        RFC7616_33,
        digest_challenge
    ),
    row!(
        "DIGEST-02",
        Digest,
        ReadOnly,
        All,
        "The realm is 'Digest:' followed by 32 upper-case hex digits.",
        AMT_REALM,
        digest_realm_format
    ),
    row!(
        "DIGEST-03",
        Digest,
        ReadOnly,
        All,
        "The challenge offers qop=\"auth\" and no algorithm other than MD5.",
        RFC7616_33,
        digest_qop
    ),
    row!(
        "DIGEST-04",
        Digest,
        ReadOnly,
        All,
        "Each challenge carries a fresh nonce.",
        RFC7616_33,
        digest_fresh_nonce
    ),
    row!(
        "DIGEST-05",
        Digest,
        Admin,
        All,
        "Correct admin credentials are accepted (200).",
        RFC7616_34,
        digest_correct
    ),
    row!(
        "DIGEST-06",
        Digest,
        ReadOnly,
        All,
        "A wrong password is refused with 401 and stale=\"false\".",
        RFC7616_33,
        digest_wrong_password
    ),
    row!(
        "DIGEST-07",
        Digest,
        Admin,
        All,
        "A replayed nc on a nonce is refused (401).",
        RFC7616_5,
        digest_nc_replay
    ),
    row!(
        "DIGEST-08",
        Digest,
        Admin,
        All,
        "A nonce may be reused with an increasing nc.",
        RFC7616_34,
        digest_nc_increase
    ),
    row!(
        "DIGEST-09",
        Digest,
        Admin,
        All,
        "Correct credentials on an unknown or expired nonce get 401 with stale=\"true\".",
        RFC7616_STALE,
        digest_stale
    ),
    row!(
        "DIGEST-10",
        Digest,
        Admin,
        All,
        "User names are case-sensitive: ADMIN is not admin.",
        RFC7616_USER,
        digest_user_case
    ),
    row!(
        "DIGEST-11",
        Digest,
        Admin,
        All,
        "An answer with an algorithm the device did not offer (SHA-256) is refused.",
        RFC7616_ALG,
        digest_algorithm
    ),
    row!(
        "DIGEST-12",
        Digest,
        ReadOnly,
        All,
        "Nothing but Identify is answered without authentication (Get, Enumerate, Invoke, Put get 401).",
        DSP0226_ID,
        digest_only_identify_anonymous
    ),
    row!(
        "DIGEST-13",
        Digest,
        Admin,
        All,
        "An answer whose digest uri differs from the request target is refused.",
        RFC7616_URI,
        digest_uri_mismatch
    ),
    // Hello.
    row!(
        "HELLO-01",
        Hello,
        ReadOnly,
        All,
        "The device sends a Hello in the v3 (PKI) format to the provisioning server.",
        IRG_HELLO,
        hello_format
    ),
    row!(
        "HELLO-02",
        Hello,
        ReadOnly,
        All,
        "The Hello's retry count is within 0-14.",
        IRG_HELLO,
        hello_retry
    ),
    row!(
        "HELLO-03",
        Hello,
        Admin,
        All,
        "The Hello's UUID is the device's (AMT_SetupAndConfigurationService.GetUuid).",
        IRG_HELLO,
        hello_uuid
    ),
    row!(
        "HELLO-04",
        Hello,
        Admin,
        All,
        "The Hello's hash list is the active AMT_ProvisioningCertificateHash entries, in order.",
        IRG_HASH,
        hello_hashes
    ),
    // TLS setup port.
    row!(
        "TLS-01",
        Tls,
        ReadOnly,
        All,
        "A chain to an active hash-list root with the AMT OID and serverAuth is accepted.",
        IRG_FLOW,
        tls_prov_oid
    ),
    row!(
        "TLS-02",
        Tls,
        ReadOnly,
        All,
        "A chain whose leaf has OU 'Intel(R) Client Setup Certificate' (no OID) is accepted.",
        IRG_CERT,
        tls_prov_ou
    ),
    row!(
        "TLS-03",
        Tls,
        ReadOnly,
        All,
        "A leaf with neither the AMT OID nor the Intel OU is refused.",
        IRG_CERT,
        tls_prov_plain
    ),
    row!(
        "TLS-04",
        Tls,
        ReadOnly,
        All,
        "The OU rule is exact and case-sensitive: a lower-case OU is refused.",
        IRG_CERT,
        tls_ou_case
    ),
    row!(
        "TLS-05",
        Tls,
        ReadOnly,
        All,
        "A leaf whose CN is outside the device's DNS domain is refused.",
        IRG_CERT,
        tls_other_domain
    ),
    row!(
        "TLS-06",
        Tls,
        ReadOnly,
        CnLastTwoLabels,
        "A CN in a sibling domain sharing the last two labels is accepted (AMT 3.2.1+).",
        SCCM_BLOG,
        tls_sibling_accepted
    ),
    row!(
        "TLS-07",
        Tls,
        ReadOnly,
        CnStrict,
        "A CN in a sibling domain is refused by the strict CN rule (AMT 2.6/3.0).",
        SCCM_BLOG,
        tls_sibling_refused
    ),
    row!(
        "TLS-08",
        Tls,
        ReadOnly,
        All,
        "A leaf without serverAuth (clientAuth only) is refused.",
        IRG_FLOW,
        tls_no_server_auth
    ),
    row!(
        "TLS-09",
        Tls,
        ReadOnly,
        All,
        "A chain with an expired certificate is refused.",
        RFC5280_VALID,
        tls_expired
    ),
    row!(
        "TLS-10",
        Tls,
        ReadOnly,
        All,
        "A handshake without a client certificate gets no setup session.",
        IRG_FLOW,
        tls_no_client_cert
    ),
    row!(
        "TLS-11",
        Tls,
        ReadOnly,
        All,
        "A chain sent in the wrong order (root first) is refused.",
        RFC8446_CERT,
        tls_wrong_order
    ),
    row!(
        "TLS-12",
        Tls,
        ReadOnly,
        All,
        "A chain without its root is refused (the root must be presented to match the hash).",
        IRG_FLOW,
        tls_root_omitted
    ),
    row!(
        "TLS-13",
        Tls,
        Admin,
        All,
        "A chain to a root that is not in the hash list is refused.",
        IRG_FLOW,
        tls_root_not_listed
    ),
    row!(
        "TLS-14",
        Tls,
        Admin,
        All,
        "A chain to a root whose hash entry is inactive is refused.",
        IRG_HASH,
        tls_root_inactive
    ),
    row!(
        "TLS-15",
        Tls,
        Admin,
        RootKeyLimit,
        "A root key over 2048 bits is refused (AMT <= 9).",
        SCCM_PRE,
        tls_root4096_refused
    ),
    row!(
        "TLS-16",
        Tls,
        Admin,
        NoRootKeyLimit,
        "A root key over 2048 bits is accepted (AMT 11+).",
        SCCM_PRE,
        tls_root4096_accepted
    ),
    row!(
        "TLS-17",
        Tls,
        ReadOnly,
        RefusesSha1,
        "A SHA-1-signed leaf is refused (ME 16+).",
        INTEL_SHA1,
        tls_sha1_leaf_refused
    ),
    row!(
        "TLS-18",
        Tls,
        ReadOnly,
        AcceptsSha1,
        "A SHA-1-signed leaf under an active root is accepted before ME 16.",
        INTEL_SHA1,
        tls_sha1_leaf_accepted
    ),
    row!(
        "TLS-19",
        Tls,
        Admin,
        RefusesSha1,
        "A SHA-1-signed root is refused even when its hash is active (ME 16+).",
        INTEL_SHA1,
        tls_sha1_root_refused
    ),
    row!(
        "TLS-20",
        Tls,
        ReadOnly,
        All,
        "A refused chain ends the handshake with a fatal TLS alert, not a silent close.",
        RFC8446_ALERT,
        tls_alert
    ),
    // WS-MAN operations.
    row!(
        "WSMAN-01",
        Wsman,
        ReadOnly,
        All,
        "Identify without authentication returns an IdentifyResponse with the DSP0226 ProtocolVersion.",
        DSP0226_ID,
        wsman_identify
    ),
    row!(
        "WSMAN-02",
        Wsman,
        ReadOnly,
        All,
        "Identify names the vendor Intel and the AMT version the Server header carries.",
        AMT_HEADERS,
        wsman_identify_version
    ),
    row!(
        "WSMAN-03",
        Wsman,
        Admin,
        All,
        "Get AMT_GeneralSettings returns a GetResponse with the instance.",
        DSP0226_GET,
        wsman_get
    ),
    row!(
        "WSMAN-04",
        Wsman,
        Admin,
        All,
        "A response's RelatesTo is the request's MessageID.",
        DSP0226_ADDR,
        wsman_relates_to
    ),
    row!(
        "WSMAN-05",
        Wsman,
        Admin,
        All,
        "Invoke GetUuid returns GetUuid_OUTPUT with ReturnValue 0 and the UUID.",
        DSP0226_INVOKE,
        wsman_invoke
    ),
    // Faults.
    row!(
        "FAULT-01",
        Fault,
        Admin,
        All,
        "An unknown resource URI is answered wsa:DestinationUnreachable.",
        DSP0226_FAULTS,
        fault_unknown_resource
    ),
    row!(
        "FAULT-02",
        Fault,
        Admin,
        All,
        "An unknown method is answered wsa:ActionNotSupported.",
        DSP0226_FAULTS,
        fault_unknown_action
    ),
    row!(
        "FAULT-03",
        Fault,
        Admin,
        All,
        "A selector that matches no instance is answered wsman:InvalidSelectors.",
        DSP0226_FAULTS,
        fault_bad_selector
    ),
    row!(
        "FAULT-04",
        Fault,
        Admin,
        All,
        "A Put whose body is another class is answered wsman:SchemaValidationError.",
        DSP0226_FAULTS,
        fault_schema
    ),
    row!(
        "FAULT-05",
        Fault,
        Admin,
        All,
        "An unknown header with mustUnderstand=\"true\" is answered soap:MustUnderstand.",
        DSP0226_MU,
        fault_must_understand
    ),
    row!(
        "FAULT-06",
        Fault,
        Admin,
        All,
        "A MaxEnvelopeSize below the device's minimum is answered wsman:EncodingLimit.",
        DSP0226_MAXENV,
        fault_max_envelope
    ),
    row!(
        "FAULT-07",
        Fault,
        Admin,
        All,
        "A Pull with an unknown context is answered wsen:InvalidEnumerationContext.",
        DSP0226_ENUM,
        fault_bad_context
    ),
    row!(
        "FAULT-08",
        Fault,
        Admin,
        All,
        "A body that is not XML is answered 400 with a SOAP fault.",
        DSP0226_FAULTS,
        fault_not_xml
    ),
    row!(
        "FAULT-09",
        Fault,
        Admin,
        All,
        "An OptionSet with mustUnderstand=\"true\" is answered soap:MustUnderstand.",
        DSP0226_MU,
        fault_option_set
    ),
    row!(
        "FAULT-10",
        Fault,
        Admin,
        All,
        "Faults come with HTTP 400 or 500 and a fault Action.",
        DSP0226_HTTP,
        fault_http_status
    ),
    row!(
        "FAULT-11",
        Fault,
        Admin,
        All,
        "A wsa:To that is not the service is answered wsa:DestinationUnreachable.",
        DSP0226_FAULTS,
        fault_bad_to
    ),
    row!(
        "FAULT-12",
        Fault,
        Admin,
        All,
        "Get without selectors on a class with several instances is answered wsman:InvalidSelectors.",
        DSP0226_FAULTS,
        fault_insufficient_selectors
    ),
    // Enumeration.
    row!(
        "ENUM-01",
        Enumeration,
        Admin,
        All,
        "Enumerate returns an EnumerateResponse with an EnumerationContext.",
        DSP0226_ENUM,
        enum_context
    ),
    row!(
        "ENUM-02",
        Enumeration,
        Admin,
        All,
        "Pull ends with EndOfSequence and no further context.",
        DSP0226_ENUM,
        enum_pull_to_end
    ),
    row!(
        "ENUM-03",
        Enumeration,
        Admin,
        All,
        "An optimized enumeration that fits returns the items, EndOfSequence and no context.",
        DSP0226_OPT,
        enum_optimized_complete
    ),
    row!(
        "ENUM-04",
        Enumeration,
        Admin,
        All,
        "An optimized enumeration with MaxElements 1 returns one item and a context for the rest.",
        DSP0226_OPT,
        enum_optimized_partial
    ),
    row!(
        "ENUM-05",
        Enumeration,
        Admin,
        All,
        "Release ends a context: a Pull on it afterwards is InvalidEnumerationContext.",
        DSP0226_ENUM,
        enum_release
    ),
    row!(
        "ENUM-06",
        Enumeration,
        Admin,
        All,
        "EnumerateEPR returns endpoint references with ResourceURI and selectors.",
        DSP0226_EPR,
        enum_epr
    ),
    row!(
        "ENUM-07",
        Enumeration,
        Admin,
        All,
        "EnumerateObjectAndEPR returns each item with its object and its EPR.",
        DSP0226_EPR,
        enum_object_and_epr
    ),
    row!(
        "ENUM-08",
        Enumeration,
        Admin,
        All,
        "Pull with MaxElements 1 returns exactly one item.",
        DSP0226_ENUM,
        enum_max_elements
    ),
    // Object model.
    row!(
        "OBJ-01",
        Object,
        Admin,
        All,
        "AMT_GeneralSettings exposes DigestRealm, InstanceID, HostName, DomainName, AMTNetworkEnabled, ElementName.",
        SDK_CLASSES,
        obj_general
    ),
    row!(
        "OBJ-02",
        Object,
        Admin,
        All,
        "AMT_SetupAndConfigurationService exposes ProvisioningState, ProvisioningMode and its keys.",
        SDK_CLASSES,
        obj_setup
    ),
    row!(
        "OBJ-03",
        Object,
        Admin,
        All,
        "CIM_SoftwareIdentity instances expose InstanceID and VersionString.",
        SDK_CLASSES,
        obj_software
    ),
    row!(
        "OBJ-04",
        Object,
        Admin,
        All,
        "AMT_ProvisioningCertificateHash entries expose InstanceID, HashData, HashType, Enabled, IsDefault.",
        SDK_CLASSES,
        obj_hashes
    ),
    row!(
        "OBJ-05",
        Object,
        Admin,
        All,
        "AMT_AuthorizationService exposes its keys (Name, CreationClassName, SystemName).",
        SDK_CLASSES,
        obj_authorization
    ),
    row!(
        "OBJ-06",
        Object,
        Admin,
        All,
        "AMT_TimeSynchronizationService exposes Name and CreationClassName.",
        SDK_CLASSES,
        obj_time
    ),
    row!(
        "OBJ-07",
        Object,
        Admin,
        All,
        "AMT_TLSSettingData instances expose InstanceID and Enabled.",
        SDK_CLASSES,
        obj_tls
    ),
    row!(
        "OBJ-08",
        Object,
        Admin,
        All,
        "AMT_PublicKeyManagementService exposes Name.",
        SDK_CLASSES,
        obj_pki
    ),
    row!(
        "OBJ-09",
        Object,
        Admin,
        HostBasedSetup,
        "IPS_HostBasedSetupService exposes CurrentControlMode and AllowedControlModes (AMT 7+).",
        SDK_CLASSES,
        obj_host_based
    ),
    row!(
        "OBJ-10",
        Object,
        Admin,
        All,
        "AMT_GeneralSettings.DigestRealm is the realm of the digest challenge.",
        AMT_REALM,
        obj_realm_matches
    ),
    row!(
        "OBJ-11",
        Object,
        Admin,
        All,
        "CIM_SoftwareIdentity 'AMT' VersionString agrees with Identify's ProductVersion.",
        SDK_CLASSES,
        obj_version_matches
    ),
    row!(
        "OBJ-12",
        Object,
        Admin,
        All,
        "The selectors of each enumerated EPR Get the same instance (keys consistent across EPRs).",
        DSP0227_KEYS,
        obj_keys_consistent
    ),
    row!(
        "OBJ-13",
        Object,
        Admin,
        All,
        "Each HashData has the length its HashType implies (SHA-1 20, SHA-256 32, SHA-384 48 bytes).",
        IRG_HASH,
        obj_hash_lengths
    ),
    // State machine.
    row!(
        "STATE-01",
        State,
        Admin,
        All,
        "ProvisioningState is 0, 1 or 2, and 0 (pre) exactly when the setup port accepts the provisioning chain.",
        SDK_STATE,
        state_reported
    ),
    row!(
        "STATE-02",
        State,
        Destructive,
        All,
        "SetMEBxPassword with a weak password is refused with a PT_STATUS (2054 INVALID_PASSWORD).",
        SDK_PT,
        state_weak_mebx
    ),
    row!(
        "STATE-03",
        State,
        Destructive,
        All,
        "ExtendProvisioningPeriod(0) is refused with PT_STATUS_INVALID_PARAMETER (36).",
        SDK_PT,
        state_extend_invalid
    ),
    row!(
        "STATE-04",
        State,
        Destructive,
        All,
        "SetAdminAclEntryEx over the setup session succeeds and moves pre to in-provisioning (1), pending commit.",
        SDK_STATE,
        state_set_admin
    ),
    row!(
        "STATE-05",
        State,
        Destructive,
        All,
        "CommitChanges returns 0 and the device reports post-provisioning (2) to the new admin password.",
        SDK_STATE,
        state_commit
    ),
    row!(
        "STATE-06",
        State,
        Destructive,
        All,
        "After CommitChanges the provisioning chain no longer opens a setup session.",
        IRG_FLOW,
        state_setup_closed
    ),
    row!(
        "STATE-07",
        State,
        Destructive,
        All,
        "Put AMT_GeneralSettings after provisioning returns a PutResponse with the instance.",
        DSP0226_GET,
        state_put
    ),
    row!(
        "STATE-08",
        State,
        Destructive,
        All,
        "Unprovision with an invalid mode is refused (36); Unprovision(1) returns 0 and reopens the setup port (pre).",
        SDK_STATE,
        state_unprovision
    ),
    row!(
        "STATE-09",
        State,
        Destructive,
        All,
        "CommitChanges before an admin password is set returns 2057 PT_STATUS_DATA_MISSING.",
        SDK_PT,
        state_commit_without_admin
    ),
];

/// One entry of the device's hash list, as WS-MAN reports it.
#[derive(Clone, Debug)]
struct HashRow {
    hex: String,
    active: bool,
}

/// A provisioning chain of the test PKI.
struct Chain {
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

/// The state of a run.
pub struct Ctx {
    cfg: Config,
    traits: Option<PersonalityTraits>,
    exchange: Vec<String>,
    message: u32,
    challenge: Option<Challenge>,
    nc: u32,
    chains: HashMap<&'static str, Chain>,
    hashes: Option<Result<Vec<HashRow>, String>>,
    hello: Option<Result<HelloPacket, String>>,
    setup_state: Option<u32>,
    /// How far the state-machine sequence got (the step that last passed).
    state_step: u8,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").finish_non_exhaustive()
    }
}

const CHAIN_STEMS: [&str; 13] = [
    "prov-oid",
    "prov-ou",
    "prov-plain",
    "prov-ou-wrong-case",
    "prov-other-domain",
    "prov-sibling-domain",
    "prov-oid-no-serverauth",
    "prov-expired",
    "prov-root4096",
    "prov-sha1-leaf",
    "prov-sha1-root",
    "root-rsa4096",
    "root-sha1",
];

fn load_chains(dir: &std::path::Path) -> Result<HashMap<&'static str, Chain>, SuiteError> {
    let mut out = HashMap::new();
    for stem in CHAIN_STEMS {
        let (chain_file, key_file) = if stem.starts_with("root-") {
            (
                format!("{stem}.cert.pem"),
                format!("{stem}.TEST-ONLY.key.pem"),
            )
        } else {
            (
                format!("{stem}.chain.pem"),
                format!("{stem}.TEST-ONLY.key.pem"),
            )
        };
        let read = |f: &str| {
            std::fs::read(dir.join(f)).map_err(|e| SuiteError::Certs(format!("{f}: {e}")))
        };
        let certs = CertificateDer::pem_slice_iter(&read(&chain_file)?)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SuiteError::Certs(format!("{chain_file}: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(&read(&key_file)?)
            .map_err(|e| SuiteError::Certs(format!("{key_file}: {e}")))?;
        out.insert(stem, Chain { certs, key });
    }
    Ok(out)
}

/// Runs every selected check.
pub(super) fn run_all(cfg: Config) -> Result<SuiteReport, SuiteError> {
    let chains = load_chains(&cfg.certs)?;
    let mut ctx = Ctx {
        traits: cfg.personality.map(Personality::traits),
        cfg,
        exchange: Vec::new(),
        message: 0,
        challenge: None,
        nc: 0,
        chains,
        hashes: None,
        hello: None,
        setup_state: None,
        state_step: 0,
    };
    let (personality, source) = match ctx.cfg.personality {
        Some(p) => (Some(p), "given"),
        None => match ctx.identify().ok().and_then(|r| r.find("ProductVersion")) {
            Some(v) => {
                let p = super::personality_for_version(v.trim_start_matches("AMT ").trim());
                ctx.traits = p.map(Personality::traits);
                (p, if p.is_some() { "identify" } else { "unknown" })
            }
            None => (None, "unknown"),
        },
    };
    let mut results = Vec::new();
    for check in CHECKS {
        if !super::selected(check.id, &ctx.cfg.filter) {
            continue;
        }
        #[expect(
            clippy::disallowed_methods,
            reason = "the suite is a shell: it reports each check's wall time"
        )]
        let started = Instant::now();
        ctx.exchange.clear();
        let verdict = match ctx.gate(check) {
            Some(reason) => skip(reason),
            None => match (check.run)(&mut ctx) {
                Ok(()) => Verdict::Pass,
                Err(Verdict::Fail(mut e)) => {
                    e.exchange = std::mem::take(&mut ctx.exchange);
                    Verdict::Fail(e)
                }
                Err(other) => other,
            },
        };
        results.push(CheckResult {
            id: check.id,
            area: check.area,
            kind: check.kind,
            requirement: check.requirement,
            source: check.source,
            verdict,
            wall_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
    }
    Ok(SuiteReport {
        target: ctx.cfg.tls.to_string(),
        personality: personality.map(|p| p.name().to_owned()),
        personality_source: source,
        results,
    })
}

impl Ctx {
    /// Why `check` cannot run here, if it cannot.
    fn gate(&self, check: &Check) -> Option<SkipReason> {
        if check.applies != Applies::All {
            match &self.traits {
                None => return Some(SkipReason::PersonalityUnknown),
                Some(t) if !check.applies.holds(t) => {
                    return Some(SkipReason::NotApplicable {
                        personality: self.cfg.personality.map_or_else(
                            || format!("AMT {}", t.amt_version),
                            |p| p.name().to_owned(),
                        ),
                        applies: check.applies.describe().to_owned(),
                    });
                }
                Some(_) => {}
            }
        }
        if check.kind == Kind::Destructive && !self.cfg.allow_reset {
            return Some(SkipReason::NeedsReset);
        }
        if check.kind != Kind::ReadOnly && self.cfg.admin_password.is_none() {
            return Some(SkipReason::NeedsAdminPassword);
        }
        if check.area == Area::Hello && self.cfg.hello.is_none() {
            return Some(SkipReason::NeedsHelloListener);
        }
        None
    }

    fn record_request(&mut self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        self.exchange.push(format!(">>> {}", clip(&text, 700)));
    }

    fn record_response(&mut self, r: &Result<Response, ProbeError>) {
        let text = match r {
            Ok(r) => format!(
                "<<< {}\n\n{}",
                head_text(r),
                clip(&String::from_utf8_lossy(&r.body), 700)
            ),
            Err(e) => format!("<<< ({e})"),
        };
        self.exchange.push(text);
    }

    /// One request on a new plain connection.
    fn http(&mut self, bytes: &[u8]) -> Result<Response, ProbeError> {
        self.record_request(bytes);
        let r = Conn::plain(self.cfg.http).and_then(|mut c| {
            c.send(bytes)?;
            c.response()
        });
        self.record_response(&r);
        r
    }

    fn next_id(&mut self) -> String {
        self.message += 1;
        format!("uuid:00000000-8086-0000-0000-{:012}", self.message)
    }

    fn password(&self) -> String {
        self.cfg.admin_password.clone().unwrap_or_default()
    }

    /// Identify without authentication on the HTTP port.
    fn identify(&mut self) -> Result<WsReply, ProbeError> {
        let req = probe::post(self.cfg.http, probe::IDENTIFY, None, &[]);
        self.http(&req).map(|r| WsReply::of(&r))
    }

    /// A fresh challenge from an unauthenticated request.
    fn fresh_challenge(&mut self) -> Result<(Response, Challenge), Verdict> {
        let body = self.get_body("AMT_GeneralSettings", &[]);
        let req = probe::post(self.cfg.http, &body, None, &[]);
        let r = self.http(&req).map_err(io("401 with a Digest challenge"))?;
        let www = r
            .headers
            .get("WWW-Authenticate")
            .unwrap_or_default()
            .to_owned();
        let c = Challenge::parse(&www).map_err(|e| {
            fail(
                "a parseable Digest challenge",
                format!("status {}, WWW-Authenticate {www:?}: {e}", r.status),
            )
        })?;
        Ok((r, c))
    }

    /// The digest answer for the next request with `user`/`password` (cached nonce, next nc).
    fn answer(&mut self, user: &str, password: &str) -> Result<String, Verdict> {
        if self.challenge.is_none() {
            let (_, c) = self.fresh_challenge()?;
            self.challenge = Some(c);
            self.nc = 0;
        }
        self.nc += 1;
        let nc = self.nc;
        let c = self
            .challenge
            .as_ref()
            .ok_or_else(|| prereq("no challenge"))?;
        Ok(c.answer(
            user,
            password,
            "POST",
            "/wsman",
            NonceCount::from_value(nc),
            &format!("c{nc:08x}"),
        )
        .emit())
    }

    /// An authenticated WS-MAN exchange on the HTTP port (one retry with a fresh challenge).
    fn ws(&mut self, xml: &str) -> Result<WsReply, Verdict> {
        let password = self.password();
        for attempt in 0..2 {
            let auth = self.answer("admin", &password)?;
            let req = probe::post(self.cfg.http, xml, Some(&auth), &[]);
            let r = self.http(&req).map_err(io("a WS-MAN response"))?;
            if r.status == 401 && attempt == 0 {
                self.challenge = None;
                continue;
            }
            return Ok(WsReply::of(&r));
        }
        Err(fail("a WS-MAN response", "401 twice with fresh challenges"))
    }

    /// A TLS connection to the setup port presenting `certs` with `key` (or no certificate).
    fn tls_conn(
        &mut self,
        chain: Option<(Vec<CertificateDer<'static>>, &'static str)>,
    ) -> Result<Conn, ProbeError> {
        let config = match chain {
            Some((certs, stem)) => {
                let key = self
                    .chains
                    .get(stem)
                    .map(|c| c.key.clone_key())
                    .ok_or_else(|| ProbeError::Io(format!("no key for {stem}")))?;
                probe::client_config(Some((certs, &key)))?
            }
            None => probe::client_config(None)?,
        };
        Conn::tls(self.cfg.tls, config)
    }

    /// An exchange over the setup session (the prov-oid chain); digest with the admin
    /// (MEBx) password when the device asks for it.
    fn ws_setup(&mut self, xml: &str) -> Result<WsReply, Verdict> {
        let chain = self.chain("prov-oid")?;
        let mut auth: Option<String> = None;
        for _ in 0..3 {
            let req = probe::post(self.cfg.tls, xml, auth.as_deref(), &[]);
            self.record_request(&req);
            let r = self
                .tls_conn(Some((chain.clone(), "prov-oid")))
                .and_then(|mut c| {
                    c.send(&req)?;
                    c.response()
                });
            self.record_response(&r);
            let r = r.map_err(io("a WS-MAN response over the setup session"))?;
            if r.status == 401 {
                let www = r
                    .headers
                    .get("WWW-Authenticate")
                    .unwrap_or_default()
                    .to_owned();
                let c = Challenge::parse(&www)
                    .map_err(|e| fail("a Digest challenge", format!("{www:?}: {e}")))?;
                let pw = self.password();
                auth = Some(
                    c.answer(
                        "admin",
                        &pw,
                        "POST",
                        "/wsman",
                        NonceCount::from_value(1),
                        "c1",
                    )
                    .emit(),
                );
                continue;
            }
            return Ok(WsReply::of(&r));
        }
        Err(fail(
            "a WS-MAN response over the setup session",
            "401 with the admin password",
        ))
    }

    fn chain(&self, stem: &str) -> Result<Vec<CertificateDer<'static>>, Verdict> {
        self.chains
            .get(stem)
            .map(|c| c.certs.clone())
            .ok_or_else(|| prereq(format!("test chain {stem} missing")))
    }

    /// Whether the setup port accepts `certs`: `Ok(status)` of an Identify over the session, or
    /// the error that ended it.
    fn tls_try(
        &mut self,
        certs: Option<Vec<CertificateDer<'static>>>,
        stem: &'static str,
    ) -> Result<u16, ProbeError> {
        let req = probe::post(self.cfg.tls, probe::IDENTIFY, None, &[]);
        self.exchange.push(format!(
            ">>> TLS ClientHello … Certificate: {}",
            match &certs {
                Some(c) => format!("{stem} ({} certificate(s))", c.len()),
                None => "none".to_owned(),
            }
        ));
        let r = self.tls_conn(certs.map(|c| (c, stem))).and_then(|mut c| {
            c.send(&req)?;
            c.response()
        });
        self.record_response(&r);
        r.map(|r| r.status)
    }

    fn tls_expect(&mut self, stem: &'static str, accept: bool) -> Step {
        self.require_pre()?;
        let chain = self.chain(stem)?;
        self.tls_expect_chain(chain, stem, accept)
    }

    fn tls_expect_chain(
        &mut self,
        chain: Vec<CertificateDer<'static>>,
        stem: &'static str,
        accept: bool,
    ) -> Step {
        match (self.tls_try(Some(chain), stem), accept) {
            (Ok(_), true) | (Err(ProbeError::Tls { .. } | ProbeError::Closed), false) => Ok(()),
            (Ok(status), false) => Err(fail(
                format!("{stem}: handshake refused with an alert"),
                format!("setup session accepted (Identify answered {status})"),
            )),
            (Err(e), true) => Err(fail(
                format!("{stem}: setup session accepted"),
                format!("refused: {e}"),
            )),
            (Err(e), false) => Err(fail(
                format!("{stem}: handshake refused with an alert"),
                format!("{e} ({})", e.id()),
            )),
        }
    }

    /// A request that needs more than read access: over the setup session before provisioning,
    /// with digest after.
    fn ws_write(&mut self, xml: &str) -> Result<WsReply, Verdict> {
        if self.provisioning_state() == Some(2) {
            self.ws(xml)
        } else {
            self.ws_setup(xml)
        }
    }

    /// The device's provisioning state (reads AMT_SetupAndConfigurationService).
    fn provisioning_state(&mut self) -> Option<u32> {
        let body = self.get_body("AMT_SetupAndConfigurationService", &[]);
        let r = self.ws(&body).ok()?;
        r.find("ProvisioningState")?.parse().ok()
    }

    /// Skips unless the device is before provisioning (state unknown without a password: tried).
    fn require_pre(&mut self) -> Step {
        if self.setup_state.is_none() && self.cfg.admin_password.is_some() {
            self.setup_state = self.provisioning_state();
        }
        match self.setup_state {
            Some(2) => Err(skip(SkipReason::DeviceState {
                needs: "pre-provisioning (the setup port); the device is provisioned".into(),
            })),
            _ => Ok(()),
        }
    }

    fn get_body(&mut self, class: &str, sel: &[(&str, &str)]) -> String {
        let id = self.next_id();
        envelope(ACTION_GET, Some(&uri(class)), &id, &selectors(sel), "")
    }

    fn enumerate_body(&mut self, class: &str, inner: &str) -> String {
        let id = self.next_id();
        envelope(
            ACTION_ENUMERATE,
            Some(&uri(class)),
            &id,
            "",
            &format!("<n:Enumerate>{inner}</n:Enumerate>"),
        )
    }

    fn pull_body(&mut self, class: &str, context: &str, max: u32) -> String {
        let id = self.next_id();
        envelope(
            ACTION_PULL,
            Some(&uri(class)),
            &id,
            "",
            &format!(
                "<n:Pull><n:EnumerationContext>{context}</n:EnumerationContext><n:MaxElements>{max}</n:MaxElements></n:Pull>"
            ),
        )
    }

    fn invoke_body(&mut self, class: &str, method: &str, params: &str) -> String {
        let id = self.next_id();
        let u = uri(class);
        envelope(
            &format!("{u}/{method}"),
            Some(&u),
            &id,
            "",
            &format!("<h:{method}_INPUT xmlns:h=\"{u}\">{params}</h:{method}_INPUT>"),
        )
    }

    /// Every item of `class` (plain Enumerate, then Pull to the end).
    fn enumerate_all(&mut self, class: &str) -> Result<Vec<amt_wire::wsman::Element>, Verdict> {
        let body = self.enumerate_body(class, "");
        let r = self.ws(&body)?;
        let mut context = r
            .find("EnumerationContext")
            .ok_or_else(|| fail("an EnumerationContext", clip(&r.text, 300)))?;
        let mut items = Vec::new();
        for _ in 0..64 {
            let body = self.pull_body(class, &context, 100);
            let r = self.ws(&body)?;
            if r.fault.is_some() {
                return Err(fail("a PullResponse", clip(&r.text, 300)));
            }
            if let Some(list) = r.body().and_then(|b| b.child_by_local_name("Items")) {
                items.extend(list.elements().cloned());
            }
            let end = r
                .body()
                .and_then(|b| b.child_by_local_name("EndOfSequence"))
                .is_some();
            match r.find("EnumerationContext") {
                Some(next) if !end => context = next,
                _ => return Ok(items),
            }
        }
        Err(fail(
            "EndOfSequence within 64 pulls",
            "the enumeration did not end",
        ))
    }

    fn hash_rows(&mut self) -> Result<Vec<HashRow>, Verdict> {
        if self.hashes.is_none() {
            let got = self
                .enumerate_all("AMT_ProvisioningCertificateHash")
                .map(|items| {
                    items
                        .iter()
                        .map(|i| HashRow {
                            hex: probe::find(i, "HashData")
                                .unwrap_or_default()
                                .to_ascii_lowercase(),
                            active: probe::find(i, "Enabled").is_some_and(|v| v == "true"),
                        })
                        .collect()
                })
                .map_err(|v| match v {
                    Verdict::Fail(e) => e.actual,
                    other => other.tag().to_owned(),
                });
            self.hashes = Some(got);
        }
        match self.hashes.clone() {
            Some(Ok(rows)) => Ok(rows),
            Some(Err(e)) => Err(prereq(format!("cannot read the hash list: {e}"))),
            None => Err(prereq("hash list not read")),
        }
    }

    /// Whether the test root `stem` is in the hash list: `Some(active)`, or `None` if absent.
    fn root_listed(&mut self, stem: &str) -> Result<Option<bool>, Verdict> {
        let der = self
            .chains
            .get(stem)
            .and_then(|c| c.certs.last().cloned())
            .ok_or_else(|| prereq(format!("test root {stem} missing")))?;
        let sha1 = Thumbprint::of_der(HashAlgorithm::Sha1, der.as_ref()).to_lower_hex();
        let sha256 = Thumbprint::of_der(HashAlgorithm::Sha256, der.as_ref()).to_lower_hex();
        let rows = self.hash_rows()?;
        let matching: Vec<_> = rows
            .iter()
            .filter(|r| r.hex == sha1 || r.hex == sha256)
            .collect();
        if matching.is_empty() {
            return Ok(None);
        }
        Ok(Some(matching.iter().any(|r| r.active)))
    }

    fn hello(&mut self) -> Result<HelloPacket, Verdict> {
        if self.hello.is_none() {
            let got = match &self.cfg.hello {
                None => Err("no listener".to_owned()),
                Some(l) => match l.recv_timeout(self.cfg.hello_wait) {
                    None => Err(format!("no Hello within {:?}", self.cfg.hello_wait)),
                    Some(h) => {
                        self.exchange.push(format!(
                            "<<< Hello from {}: {}",
                            h.from,
                            clip(&hex::encode(&h.bytes), 200)
                        ));
                        HelloPacket::parse(&h.bytes).map_err(|e| format!("{e} ({})", e.id()))
                    }
                },
            };
            self.hello = Some(got);
        }
        match self.hello.clone() {
            Some(Ok(h)) => Ok(h),
            Some(Err(e)) => Err(fail("a v3 Hello", e)),
            None => Err(prereq("no Hello")),
        }
    }
}

fn uri(class: &str) -> String {
    let base = if class.starts_with("CIM_") {
        CIM_SCHEMA
    } else if class.starts_with("IPS_") {
        IPS_SCHEMA
    } else {
        AMT_SCHEMA
    };
    format!("{base}{class}")
}

// ---- HTTP ----

fn http_keep_alive(ctx: &mut Ctx) -> Step {
    let req = probe::post(ctx.cfg.http, probe::IDENTIFY, None, &[]);
    ctx.record_request(&req);
    let mut c = Conn::plain(ctx.cfg.http).map_err(io("a connection"))?;
    c.send(&req).map_err(io("first response"))?;
    let first = c.response();
    ctx.record_response(&first);
    let first = first.map_err(io("first response"))?;
    ensure(first.status == 200, "first Identify answered 200", || {
        format!("{}", first.status)
    })?;
    c.send(&req)
        .map_err(io("second response on the same connection"))?;
    let second = c.response();
    ctx.record_response(&second);
    let second = second.map_err(io("second response on the same connection"))?;
    ensure(
        second.status == 200,
        "second Identify answered 200 on the same connection",
        || format!("{}", second.status),
    )
}

fn framed(r: &Response) -> bool {
    let cl = r.headers.get("Content-Length").is_some();
    let chunked = r
        .headers
        .get("Transfer-Encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    cl != chunked
}

fn http_framing(ctx: &mut Ctx) -> Step {
    let id = ctx.identify().map_err(io("an Identify response"))?;
    let _ = id;
    let ok = ctx.exchange.clone();
    let (r401, _) = ctx.fresh_challenge()?;
    let req = probe::post(ctx.cfg.http, probe::IDENTIFY, None, &[]);
    let r200 = ctx.http(&req).map_err(io("an Identify response"))?;
    let _ = ok;
    ensure(
        framed(&r401),
        "401 with exactly one of Content-Length / chunked",
        || head_text(&r401),
    )?;
    ensure(
        framed(&r200),
        "200 with exactly one of Content-Length / chunked",
        || head_text(&r200),
    )
}

fn http_chunked_request(ctx: &mut Ctx) -> Step {
    let req = probe::post(
        ctx.cfg.http,
        probe::IDENTIFY,
        None,
        &[("Transfer-Encoding", "chunked")],
    );
    let r = ctx.http(&req).map_err(io("200"))?;
    ensure(
        r.status == 200,
        "Identify with a chunked body answered 200",
        || format!("{}", r.status),
    )
}

fn http_head_limit(ctx: &mut Ctx) -> Step {
    let big = "a".repeat(20 * 1024);
    let req = probe::post(ctx.cfg.http, probe::IDENTIFY, None, &[("X-Padding", &big)]);
    let r = ctx.http(&req).map_err(io("a 4xx status (431 or 400)"))?;
    ensure(
        (400..500).contains(&r.status),
        "a 4xx status (431 or 400)",
        || format!("{}", r.status),
    )
}

fn http_body_limit(ctx: &mut Ctx) -> Step {
    let head = format!(
        "POST /wsman HTTP/1.1\r\nHost: {}\r\nContent-Type: application/soap+xml\r\nContent-Length: 104857600\r\n\r\n",
        ctx.cfg.http
    );
    let r = ctx
        .http(head.as_bytes())
        .map_err(io("413 (or another 4xx)"))?;
    ensure(
        (400..500).contains(&r.status),
        "413 (or another 4xx)",
        || format!("{}", r.status),
    )
}

fn http_server_header(ctx: &mut Ctx) -> Step {
    let (r401, _) = ctx.fresh_challenge()?;
    let req = probe::post(ctx.cfg.http, probe::IDENTIFY, None, &[]);
    let r200 = ctx.http(&req).map_err(io("an Identify response"))?;
    for r in [&r401, &r200] {
        let server = r.headers.get("Server").unwrap_or_default();
        let version = server.strip_prefix("Intel(R) Active Management Technology ");
        ensure(
            version.is_some_and(|v| {
                !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.')
            }),
            "Server: Intel(R) Active Management Technology <version>",
            || format!("{} response: Server {server:?}", r.status),
        )?;
    }
    Ok(())
}

fn http_bad_request_line(ctx: &mut Ctx) -> Step {
    let r = ctx.http(b"THIS IS NOT HTTP\r\n\r\n").map_err(io("400"))?;
    ensure(r.status == 400, "400", || format!("{}", r.status))
}

fn http_expect_continue(ctx: &mut Ctx) -> Step {
    let body = probe::IDENTIFY;
    let head = format!(
        "POST /wsman HTTP/1.1\r\nHost: {}\r\nContent-Type: application/soap+xml\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        ctx.cfg.http,
        body.len()
    );
    ctx.record_request(head.as_bytes());
    let mut c = Conn::plain(ctx.cfg.http).map_err(io("a connection"))?;
    c.send(head.as_bytes()).map_err(io("100 Continue"))?;
    let got = c.wait_for(b"HTTP/1.1 100").map_err(io("100 Continue"))?;
    ctx.exchange.push(format!("<<< 100 Continue seen: {got}"));
    ensure(got, "HTTP/1.1 100 Continue before the body is sent", || {
        "another response".into()
    })?;
    c.send(body.as_bytes()).map_err(io("200"))?;
    let r = c.response();
    ctx.record_response(&r);
    let r = r.map_err(io("200"))?;
    ensure(r.status == 200, "200 after the body", || {
        format!("{}", r.status)
    })
}

fn http_content_type(ctx: &mut Ctx) -> Step {
    let req = probe::post(ctx.cfg.http, probe::IDENTIFY, None, &[]);
    let r = ctx.http(&req).map_err(io("an Identify response"))?;
    let ct = r
        .headers
        .get("Content-Type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    ensure(
        ct.starts_with("application/soap+xml"),
        "Content-Type application/soap+xml",
        || format!("{} with Content-Type {ct:?}", r.status),
    )
}

// ---- Digest ----

fn digest_challenge(ctx: &mut Ctx) -> Step {
    let (r, _) = ctx.fresh_challenge()?;
    ensure(r.status == 401, "401", || format!("{}", r.status))?;
    let www = r.headers.get("WWW-Authenticate").unwrap_or_default();
    ensure(
        www.trim_start().to_ascii_lowercase().starts_with("digest "),
        "WWW-Authenticate: Digest …",
        || www.to_owned(),
    )
}

fn digest_realm_format(ctx: &mut Ctx) -> Step {
    let (_, c) = ctx.fresh_challenge()?;
    let realm = c.realm.as_str();
    let hex = realm.strip_prefix("Digest:").unwrap_or_default();
    ensure(
        hex.len() == 32
            && hex
                .chars()
                .all(|ch| ch.is_ascii_digit() || ('A'..='F').contains(&ch)),
        "realm Digest:<32 upper-case hex>",
        || realm.to_owned(),
    )
}

fn digest_qop(ctx: &mut Ctx) -> Step {
    let (r, c) = ctx.fresh_challenge()?;
    let www = r.headers.get("WWW-Authenticate").unwrap_or_default();
    ensure(c.qop.is_some(), "qop=\"auth\"", || www.to_owned())?;
    ensure(
        c.algorithm
            .is_none_or(|a| a.as_str().eq_ignore_ascii_case("MD5")),
        "no algorithm, or MD5",
        || www.to_owned(),
    )
}

fn digest_fresh_nonce(ctx: &mut Ctx) -> Step {
    let (_, a) = ctx.fresh_challenge()?;
    let (_, b) = ctx.fresh_challenge()?;
    ensure(
        a.nonce != b.nonce && !a.nonce.is_empty(),
        "two different nonces",
        || format!("{:?} and {:?}", a.nonce, b.nonce),
    )
}

fn digest_correct(ctx: &mut Ctx) -> Step {
    let body = ctx.get_body("AMT_GeneralSettings", &[]);
    let r = ctx.ws(&body)?;
    ensure(r.status == 200, "200 with the admin password", || {
        format!("{}", r.status)
    })
}

fn authed_once(ctx: &mut Ctx, auth: &str) -> Result<Response, Verdict> {
    let body = ctx.get_body("AMT_GeneralSettings", &[]);
    let req = probe::post(ctx.cfg.http, &body, Some(auth), &[]);
    ctx.http(&req).map_err(io("a response"))
}

fn digest_wrong_password(ctx: &mut Ctx) -> Step {
    let (_, c) = ctx.fresh_challenge()?;
    let auth = c
        .answer(
            "admin",
            "Wr0ng-Passw0rd!",
            "POST",
            "/wsman",
            NonceCount::from_value(1),
            "c1",
        )
        .emit();
    let r = authed_once(ctx, &auth)?;
    let www = r
        .headers
        .get("WWW-Authenticate")
        .unwrap_or_default()
        .to_owned();
    ensure(r.status == 401, "401", || format!("{}", r.status))?;
    let stale = Challenge::parse(&www).map(|c| c.stale).unwrap_or(true);
    ensure(!stale, "stale=\"false\" (or absent)", || www)
}

fn digest_nc_replay(ctx: &mut Ctx) -> Step {
    let (_, c) = ctx.fresh_challenge()?;
    let pw = ctx.password();
    let auth = c
        .answer(
            "admin",
            &pw,
            "POST",
            "/wsman",
            NonceCount::from_value(1),
            "c1",
        )
        .emit();
    let first = authed_once(ctx, &auth)?;
    ensure(
        first.status == 200,
        "first use of nc=1 answered 200",
        || format!("{}", first.status),
    )?;
    let again = authed_once(ctx, &auth)?;
    ensure(
        again.status == 401,
        "the replayed nc=1 refused with 401",
        || format!("{}", again.status),
    )
}

fn digest_nc_increase(ctx: &mut Ctx) -> Step {
    let (_, c) = ctx.fresh_challenge()?;
    let pw = ctx.password();
    for nc in 1..=3 {
        let auth = c
            .answer(
                "admin",
                &pw,
                "POST",
                "/wsman",
                NonceCount::from_value(nc),
                &format!("c{nc}"),
            )
            .emit();
        let r = authed_once(ctx, &auth)?;
        ensure(
            r.status == 200,
            format!("nc={nc} on the same nonce answered 200"),
            || format!("{}", r.status),
        )?;
    }
    Ok(())
}

fn digest_stale(ctx: &mut Ctx) -> Step {
    let (_, mut c) = ctx.fresh_challenge()?;
    c.nonce = "AAAAAAAAAAAAAAAAAAAAAAAA".to_owned();
    let pw = ctx.password();
    let auth = c
        .answer(
            "admin",
            &pw,
            "POST",
            "/wsman",
            NonceCount::from_value(1),
            "c1",
        )
        .emit();
    let r = authed_once(ctx, &auth)?;
    let www = r
        .headers
        .get("WWW-Authenticate")
        .unwrap_or_default()
        .to_owned();
    ensure(r.status == 401, "401", || format!("{}", r.status))?;
    let stale = Challenge::parse(&www).map(|c| c.stale).unwrap_or(false);
    ensure(stale, "stale=\"true\"", || www)
}

fn digest_user_case(ctx: &mut Ctx) -> Step {
    let (_, c) = ctx.fresh_challenge()?;
    let pw = ctx.password();
    let auth = c
        .answer(
            "ADMIN",
            &pw,
            "POST",
            "/wsman",
            NonceCount::from_value(1),
            "c1",
        )
        .emit();
    let r = authed_once(ctx, &auth)?;
    ensure(r.status == 401, "ADMIN refused with 401", || {
        format!("{}", r.status)
    })
}

fn digest_algorithm(ctx: &mut Ctx) -> Step {
    use sha2::Digest as _;
    let (_, c) = ctx.fresh_challenge()?;
    let pw = ctx.password();
    let h = |s: String| hex::encode(sha2::Sha256::digest(s.as_bytes()));
    let ha1 = h(format!("admin:{}:{pw}", c.realm.as_str()));
    let ha2 = h("POST:/wsman".to_owned());
    let response = h(format!("{ha1}:{}:00000001:c1:auth:{ha2}", c.nonce));
    let auth = format!(
        "Digest username=\"admin\", realm=\"{}\", nonce=\"{}\", uri=\"/wsman\", algorithm=SHA-256, response=\"{response}\", qop=auth, nc=00000001, cnonce=\"c1\"",
        c.realm.as_str(),
        c.nonce
    );
    let r = authed_once(ctx, &auth)?;
    ensure(
        r.status == 401,
        "algorithm=SHA-256 refused with 401",
        || format!("{}", r.status),
    )
}

fn digest_only_identify_anonymous(ctx: &mut Ctx) -> Step {
    let bodies = [
        ("Get", ctx.get_body("AMT_GeneralSettings", &[])),
        (
            "Enumerate",
            ctx.enumerate_body("AMT_ProvisioningCertificateHash", ""),
        ),
        (
            "Invoke",
            ctx.invoke_body("AMT_SetupAndConfigurationService", "GetUuid", ""),
        ),
        ("Put", {
            let id = ctx.next_id();
            envelope(
                ACTION_PUT,
                Some(&uri("AMT_GeneralSettings")),
                &id,
                "",
                "<g:AMT_GeneralSettings xmlns:g=\"http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings\"/>",
            )
        }),
    ];
    for (op, body) in bodies {
        let req = probe::post(ctx.cfg.http, &body, None, &[]);
        let r = ctx.http(&req).map_err(io("401"))?;
        ensure(
            r.status == 401,
            format!("{op} without credentials answered 401"),
            || format!("{}", r.status),
        )?;
    }
    Ok(())
}

fn digest_uri_mismatch(ctx: &mut Ctx) -> Step {
    let (_, c) = ctx.fresh_challenge()?;
    let pw = ctx.password();
    let auth = c
        .answer(
            "admin",
            &pw,
            "POST",
            "/other",
            NonceCount::from_value(1),
            "c1",
        )
        .emit();
    let r = authed_once(ctx, &auth)?;
    ensure(
        r.status == 401,
        "uri=/other on a /wsman request refused with 401",
        || format!("{}", r.status),
    )
}

// ---- Hello ----

fn hello_format(ctx: &mut Ctx) -> Step {
    let h = ctx.hello()?;
    ensure(
        matches!(h.kind, HelloKind::Pki { .. }),
        "interface version 3 (PKI)",
        || format!("version {}", h.interface_version()),
    )
}

fn hello_retry(ctx: &mut Ctx) -> Step {
    let h = ctx.hello()?;
    ensure(h.retry_count <= 14, "retry count 0-14", || {
        h.retry_count.to_string()
    })
}

fn hello_uuid(ctx: &mut Ctx) -> Step {
    let h = ctx.hello()?;
    let body = ctx.invoke_body("AMT_SetupAndConfigurationService", "GetUuid", "");
    let r = ctx.ws(&body)?;
    let b64 = r
        .find("UUID")
        .ok_or_else(|| fail("GetUuid with a UUID", clip(&r.text, 300)))?;
    let wire = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| fail("a base64 UUID", format!("{b64}: {e}")))?;
    ensure(
        wire == h.uuid.to_wire(),
        "the Hello UUID equals GetUuid",
        || format!("Hello {}, GetUuid {}", h.uuid, hex::encode(&wire)),
    )
}

fn hello_hashes(ctx: &mut Ctx) -> Step {
    let h = ctx.hello()?;
    let HelloKind::Pki { hashes } = &h.kind else {
        return Err(prereq("not a PKI Hello"));
    };
    let sent: Vec<String> = hashes.iter().map(Thumbprint::to_lower_hex).collect();
    let listed: Vec<String> = ctx
        .hash_rows()?
        .into_iter()
        .filter(|r| r.active)
        .map(|r| r.hex)
        .collect();
    ensure(
        sent == listed,
        "the Hello hashes equal the active hash entries",
        || {
            format!(
                "Hello {} hash(es), WS-MAN {} active",
                sent.len(),
                listed.len()
            )
        },
    )
}

// ---- TLS ----

fn tls_prov_oid(ctx: &mut Ctx) -> Step {
    ctx.tls_expect("prov-oid", true)
}
fn tls_prov_ou(ctx: &mut Ctx) -> Step {
    ctx.tls_expect("prov-ou", true)
}
fn tls_prov_plain(ctx: &mut Ctx) -> Step {
    ctx.tls_expect("prov-plain", false)
}
fn tls_ou_case(ctx: &mut Ctx) -> Step {
    ctx.tls_expect("prov-ou-wrong-case", false)
}
fn tls_other_domain(ctx: &mut Ctx) -> Step {
    ctx.tls_expect("prov-other-domain", false)
}
fn tls_sibling_accepted(ctx: &mut Ctx) -> Step {
    ctx.tls_expect("prov-sibling-domain", true)
}
fn tls_sibling_refused(ctx: &mut Ctx) -> Step {
    ctx.tls_expect("prov-sibling-domain", false)
}
fn tls_no_server_auth(ctx: &mut Ctx) -> Step {
    ctx.tls_expect("prov-oid-no-serverauth", false)
}
fn tls_expired(ctx: &mut Ctx) -> Step {
    ctx.tls_expect("prov-expired", false)
}

fn tls_no_client_cert(ctx: &mut Ctx) -> Step {
    ctx.require_pre()?;
    // A session without a certificate may exist (digest-only management), but it must not be a
    // setup session: anything but Identify needs digest.
    let body = ctx.get_body("AMT_GeneralSettings", &[]);
    let req = probe::post(ctx.cfg.tls, &body, None, &[]);
    ctx.exchange
        .push(">>> TLS ClientHello … Certificate: none".into());
    let r = ctx.tls_conn(None).and_then(|mut c| {
        c.send(&req)?;
        c.response()
    });
    ctx.record_response(&r);
    match r {
        Err(ProbeError::Tls { .. } | ProbeError::Closed) => Ok(()),
        Ok(r) if r.status == 401 => Ok(()),
        Ok(r) => Err(fail(
            "refused, or 401 without digest",
            format!("{}", r.status),
        )),
        Err(e) => Err(fail("refused with an alert", format!("{e} ({})", e.id()))),
    }
}

fn tls_wrong_order(ctx: &mut Ctx) -> Step {
    ctx.require_pre()?;
    let mut chain = ctx.chain("prov-oid")?;
    chain.reverse();
    ctx.tls_expect_chain(chain, "prov-oid", false)
}

fn tls_root_omitted(ctx: &mut Ctx) -> Step {
    ctx.require_pre()?;
    let mut chain = ctx.chain("prov-oid")?;
    chain.pop();
    ctx.tls_expect_chain(chain, "prov-oid", false)
}

fn tls_root_not_listed(ctx: &mut Ctx) -> Step {
    ctx.require_pre()?;
    for (root, leaf) in [
        ("root-rsa4096", "prov-root4096"),
        ("root-sha1", "prov-sha1-root"),
    ] {
        if ctx.root_listed(root)?.is_none() {
            return ctx.tls_expect(leaf, false);
        }
    }
    Err(prereq(
        "every test root (root-rsa4096, root-sha1) is in the device's hash list",
    ))
}

fn tls_root_inactive(ctx: &mut Ctx) -> Step {
    ctx.require_pre()?;
    for (root, leaf) in [
        ("root-rsa4096", "prov-root4096"),
        ("root-sha1", "prov-sha1-root"),
    ] {
        if ctx.root_listed(root)? == Some(false) {
            return ctx.tls_expect(leaf, false);
        }
    }
    Err(prereq(
        "no test root (root-rsa4096, root-sha1) has an inactive hash entry",
    ))
}

fn active_root(ctx: &mut Ctx, root: &str) -> Step {
    match ctx.root_listed(root)? {
        Some(true) => Ok(()),
        _ => Err(prereq(format!(
            "{root} is not active in the device's hash list"
        ))),
    }
}

fn tls_root4096_refused(ctx: &mut Ctx) -> Step {
    ctx.require_pre()?;
    active_root(ctx, "root-rsa4096")?;
    ctx.tls_expect("prov-root4096", false)
}
fn tls_root4096_accepted(ctx: &mut Ctx) -> Step {
    ctx.require_pre()?;
    active_root(ctx, "root-rsa4096")?;
    ctx.tls_expect("prov-root4096", true)
}
fn tls_sha1_leaf_refused(ctx: &mut Ctx) -> Step {
    ctx.tls_expect("prov-sha1-leaf", false)
}
fn tls_sha1_leaf_accepted(ctx: &mut Ctx) -> Step {
    ctx.tls_expect("prov-sha1-leaf", true)
}
fn tls_sha1_root_refused(ctx: &mut Ctx) -> Step {
    ctx.require_pre()?;
    active_root(ctx, "root-sha1")?;
    ctx.tls_expect("prov-sha1-root", false)
}

fn tls_alert(ctx: &mut Ctx) -> Step {
    ctx.require_pre()?;
    let chain = ctx.chain("prov-other-domain")?;
    match ctx.tls_try(Some(chain), "prov-other-domain") {
        Err(e) if e.alert().is_some() => Ok(()),
        Err(e) => Err(fail(
            "a fatal alert (certificate_unknown, bad_certificate or unknown_ca)",
            format!("{e} ({}), no alert", e.id()),
        )),
        Ok(status) => Err(fail("a fatal alert", format!("accepted ({status})"))),
    }
}

// ---- WS-MAN ----

fn wsman_identify(ctx: &mut Ctx) -> Step {
    let r = ctx.identify().map_err(io("200 IdentifyResponse"))?;
    ensure(r.status == 200, "200", || format!("{}", r.status))?;
    let pv = r.find("ProtocolVersion").unwrap_or_default();
    ensure(
        pv == amt_wire::wsman::names::WSMAN,
        "ProtocolVersion http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
        || format!("{pv:?}"),
    )
}

fn wsman_identify_version(ctx: &mut Ctx) -> Step {
    let req = probe::post(ctx.cfg.http, probe::IDENTIFY, None, &[]);
    let r = ctx.http(&req).map_err(io("200 IdentifyResponse"))?;
    let server = r.headers.get("Server").unwrap_or_default().to_owned();
    let w = WsReply::of(&r);
    let vendor = w.find("ProductVendor").unwrap_or_default();
    let version = w.find("ProductVersion").unwrap_or_default();
    ensure(
        vendor.to_ascii_lowercase().contains("intel"),
        "ProductVendor Intel",
        || vendor.clone(),
    )?;
    let v = version.trim_start_matches("AMT ").trim();
    let sv = server.rsplit(' ').next().unwrap_or_default();
    ensure(
        !v.is_empty() && sv.starts_with(v),
        "ProductVersion AMT <major.minor> of the Server version",
        || format!("ProductVersion {version:?}, Server {server:?}"),
    )
}

fn wsman_get(ctx: &mut Ctx) -> Step {
    let body = ctx.get_body("AMT_GeneralSettings", &[]);
    let r = ctx.ws(&body)?;
    ensure(
        r.status == 200 && r.action().ends_with("/transfer/GetResponse"),
        "200 GetResponse",
        || format!("{} {}", r.status, r.action()),
    )?;
    ensure(
        r.body().is_some_and(|b| b.name == "AMT_GeneralSettings"),
        "body AMT_GeneralSettings",
        || clip(&r.text, 300),
    )
}

fn wsman_relates_to(ctx: &mut Ctx) -> Step {
    let body = ctx.get_body("AMT_GeneralSettings", &[]);
    let sent = format!("uuid:00000000-8086-0000-0000-{:012}", ctx.message);
    let r = ctx.ws(&body)?;
    let got = r
        .envelope
        .as_ref()
        .and_then(|e| e.header.relates_to.clone())
        .unwrap_or_default();
    ensure(got == sent, format!("RelatesTo {sent}"), || {
        format!("{got:?}")
    })
}

fn wsman_invoke(ctx: &mut Ctx) -> Step {
    let body = ctx.invoke_body("AMT_SetupAndConfigurationService", "GetUuid", "");
    let r = ctx.ws(&body)?;
    ensure(
        r.action().ends_with("GetUuidResponse")
            && r.return_value() == Some(0)
            && r.find("UUID").is_some(),
        "GetUuidResponse, ReturnValue 0, UUID",
        || format!("{} {} {}", r.status, r.action(), clip(&r.text, 300)),
    )
}

// ---- Faults ----

fn expect_fault(r: &WsReply, subcode: &str) -> Step {
    let got = r.fault.as_ref().map(|f| {
        f.subcode_local()
            .unwrap_or_else(|| f.code.local_name())
            .to_owned()
    });
    ensure(
        got.as_deref() == Some(subcode),
        format!("fault {subcode}"),
        || {
            format!(
                "{} {}",
                r.status,
                got.unwrap_or_else(|| format!("no fault: {}", clip(&r.text, 200)))
            )
        },
    )
}

fn fault_unknown_resource(ctx: &mut Ctx) -> Step {
    let id = ctx.next_id();
    let body = envelope(
        ACTION_GET,
        Some("http://intel.com/wbem/wscim/1/amt-schema/1/AMT_NoSuchClass"),
        &id,
        "",
        "",
    );
    let r = ctx.ws(&body)?;
    expect_fault(&r, "DestinationUnreachable")
}

fn fault_unknown_action(ctx: &mut Ctx) -> Step {
    let body = ctx.invoke_body("AMT_SetupAndConfigurationService", "NoSuchMethod", "");
    let r = ctx.ws_write(&body)?;
    expect_fault(&r, "ActionNotSupported")
}

fn fault_bad_selector(ctx: &mut Ctx) -> Step {
    let body = ctx.get_body(
        "AMT_ProvisioningCertificateHash",
        &[("InstanceID", "No Such Instance")],
    );
    let r = ctx.ws(&body)?;
    expect_fault(&r, "InvalidSelectors")
}

fn fault_schema(ctx: &mut Ctx) -> Step {
    let id = ctx.next_id();
    let body = envelope(
        ACTION_PUT,
        Some(&uri("AMT_GeneralSettings")),
        &id,
        "",
        "<g:AMT_TimeSynchronizationService xmlns:g=\"http://intel.com/wbem/wscim/1/amt-schema/1/AMT_TimeSynchronizationService\"><g:Name>x</g:Name></g:AMT_TimeSynchronizationService>",
    );
    let r = ctx.ws_write(&body)?;
    expect_fault(&r, "SchemaValidationError")
}

fn fault_must_understand(ctx: &mut Ctx) -> Step {
    let id = ctx.next_id();
    let body = envelope(
        ACTION_GET,
        Some(&uri("AMT_GeneralSettings")),
        &id,
        "<x:Unknown xmlns:x=\"urn:amt-sim:check\" s:mustUnderstand=\"true\">1</x:Unknown>",
        "",
    );
    let r = ctx.ws(&body)?;
    expect_fault(&r, "MustUnderstand")
}

fn fault_max_envelope(ctx: &mut Ctx) -> Step {
    let id = ctx.next_id();
    let body = envelope(
        ACTION_GET,
        Some(&uri("AMT_GeneralSettings")),
        &id,
        "<w:MaxEnvelopeSize s:mustUnderstand=\"true\">1000</w:MaxEnvelopeSize>",
        "",
    );
    let r = ctx.ws(&body)?;
    expect_fault(&r, "EncodingLimit")
}

fn fault_bad_context(ctx: &mut Ctx) -> Step {
    let body = ctx.pull_body(
        "AMT_ProvisioningCertificateHash",
        "FF000000-0000-0000-0000-000000000000",
        1,
    );
    let r = ctx.ws(&body)?;
    expect_fault(&r, "InvalidEnumerationContext")
}

fn fault_not_xml(ctx: &mut Ctx) -> Step {
    let r = ctx.ws("this is not XML <<<")?;
    ensure(
        r.status == 400 && r.fault.is_some(),
        "400 with a SOAP fault",
        || format!("{} {}", r.status, clip(&r.text, 200)),
    )
}

fn fault_option_set(ctx: &mut Ctx) -> Step {
    let id = ctx.next_id();
    let body = envelope(
        ACTION_GET,
        Some(&uri("AMT_GeneralSettings")),
        &id,
        "<w:OptionSet s:mustUnderstand=\"true\"><w:Option Name=\"x\">1</w:Option></w:OptionSet>",
        "",
    );
    let r = ctx.ws(&body)?;
    expect_fault(&r, "MustUnderstand")
}

fn fault_http_status(ctx: &mut Ctx) -> Step {
    let id = ctx.next_id();
    let body = envelope(
        ACTION_GET,
        Some("http://intel.com/wbem/wscim/1/amt-schema/1/AMT_NoSuchClass"),
        &id,
        "",
        "",
    );
    let r = ctx.ws(&body)?;
    let action = r.action().to_owned();
    ensure(
        matches!(r.status, 400 | 500) && r.fault.is_some() && action.ends_with("/fault"),
        "HTTP 400 or 500 with a SOAP fault and a …/fault Action",
        || format!("{} Action {action:?}", r.status),
    )
}

fn fault_bad_to(ctx: &mut Ctx) -> Step {
    let id = ctx.next_id();
    let body = envelope(ACTION_GET, Some(&uri("AMT_GeneralSettings")), &id, "", "").replace(
        "<a:To s:mustUnderstand=\"true\">/wsman</a:To>",
        "<a:To s:mustUnderstand=\"true\">/elsewhere</a:To>",
    );
    let r = ctx.ws(&body)?;
    expect_fault(&r, "DestinationUnreachable")
}

fn fault_insufficient_selectors(ctx: &mut Ctx) -> Step {
    let body = ctx.get_body("AMT_ProvisioningCertificateHash", &[]);
    let r = ctx.ws(&body)?;
    expect_fault(&r, "InvalidSelectors")
}

// ---- Enumeration ----

const HASH_CLASS: &str = "AMT_ProvisioningCertificateHash";

fn enum_context(ctx: &mut Ctx) -> Step {
    let body = ctx.enumerate_body(HASH_CLASS, "");
    let r = ctx.ws(&body)?;
    ensure(
        r.action().ends_with("/enumeration/EnumerateResponse")
            && r.find("EnumerationContext").is_some_and(|c| !c.is_empty()),
        "EnumerateResponse with an EnumerationContext",
        || format!("{} {}", r.action(), clip(&r.text, 300)),
    )
}

fn enum_pull_to_end(ctx: &mut Ctx) -> Step {
    let items = ctx.enumerate_all(HASH_CLASS)?;
    ensure(
        !items.is_empty(),
        "at least one item before EndOfSequence",
        || "none".into(),
    )
}

fn enum_optimized_complete(ctx: &mut Ctx) -> Step {
    let body = ctx.enumerate_body(
        "AMT_GeneralSettings",
        "<w:OptimizeEnumeration/><w:MaxElements>100</w:MaxElements>",
    );
    let r = ctx.ws(&body)?;
    let b = r
        .body()
        .ok_or_else(|| fail("an EnumerateResponse", clip(&r.text, 300)))?;
    let items = b
        .child_by_local_name("Items")
        .map_or(0, |i| i.elements().count());
    let end = b.child_by_local_name("EndOfSequence").is_some();
    let context = b.child_by_local_name("EnumerationContext").is_some();
    ensure(
        items == 1 && end && !context,
        "1 item, EndOfSequence, no EnumerationContext",
        || format!("{items} item(s), EndOfSequence {end}, EnumerationContext {context}"),
    )
}

fn enum_optimized_partial(ctx: &mut Ctx) -> Step {
    let total = ctx.enumerate_all(HASH_CLASS)?.len();
    if total < 2 {
        return Err(prereq("the hash list has fewer than 2 entries"));
    }
    let body = ctx.enumerate_body(
        HASH_CLASS,
        "<w:OptimizeEnumeration/><w:MaxElements>1</w:MaxElements>",
    );
    let r = ctx.ws(&body)?;
    let b = r
        .body()
        .ok_or_else(|| fail("an EnumerateResponse", clip(&r.text, 300)))?;
    let items = b
        .child_by_local_name("Items")
        .map_or(0, |i| i.elements().count());
    let context = r.find("EnumerationContext");
    ensure(
        items == 1 && context.is_some(),
        "1 item and an EnumerationContext",
        || format!("{items} item(s), context {context:?}"),
    )?;
    let mut count = items;
    let mut context = context.unwrap_or_default();
    for _ in 0..64 {
        let body = ctx.pull_body(HASH_CLASS, &context, 100);
        let r = ctx.ws(&body)?;
        count += r
            .body()
            .and_then(|b| b.child_by_local_name("Items"))
            .map_or(0, |i| i.elements().count());
        match r.find("EnumerationContext") {
            Some(c)
                if r.body()
                    .and_then(|b| b.child_by_local_name("EndOfSequence"))
                    .is_none() =>
            {
                context = c
            }
            _ => break,
        }
    }
    ensure(count == total, format!("{total} items in all"), || {
        format!("{count}")
    })
}

fn enum_release(ctx: &mut Ctx) -> Step {
    let body = ctx.enumerate_body(HASH_CLASS, "");
    let r = ctx.ws(&body)?;
    let context = r
        .find("EnumerationContext")
        .ok_or_else(|| fail("an EnumerationContext", clip(&r.text, 300)))?;
    let id = ctx.next_id();
    let release = envelope(
        ACTION_RELEASE,
        Some(&uri(HASH_CLASS)),
        &id,
        "",
        &format!("<n:Release><n:EnumerationContext>{context}</n:EnumerationContext></n:Release>"),
    );
    let r = ctx.ws(&release)?;
    ensure(
        r.status == 200 && r.action().ends_with("ReleaseResponse"),
        "200 ReleaseResponse",
        || format!("{} {}", r.status, r.action()),
    )?;
    let body = ctx.pull_body(HASH_CLASS, &context, 1);
    let r = ctx.ws(&body)?;
    expect_fault(&r, "InvalidEnumerationContext")
}

fn optimized_items(ctx: &mut Ctx, mode: &str) -> Result<Vec<amt_wire::wsman::Element>, Verdict> {
    let inner = format!(
        "<w:OptimizeEnumeration/><w:MaxElements>100</w:MaxElements><w:EnumerationMode>{mode}</w:EnumerationMode>"
    );
    let body = ctx.enumerate_body(HASH_CLASS, &inner);
    let r = ctx.ws(&body)?;
    let items: Vec<_> = r
        .body()
        .and_then(|b| b.child_by_local_name("Items"))
        .map(|i| i.elements().cloned().collect())
        .unwrap_or_default();
    if items.is_empty() {
        return Err(fail(format!("items in {mode} mode"), clip(&r.text, 300)));
    }
    Ok(items)
}

fn enum_epr(ctx: &mut Ctx) -> Step {
    let items = optimized_items(ctx, "EnumerateEPR")?;
    for item in &items {
        let ok = probe::find(item, "ResourceURI").is_some_and(|u| u.ends_with(HASH_CLASS))
            && probe::find(item, "Selector").is_some();
        ensure(
            ok,
            "each item an EPR with ResourceURI and SelectorSet",
            || item.to_xml(),
        )?;
    }
    Ok(())
}

fn enum_object_and_epr(ctx: &mut Ctx) -> Step {
    let items = optimized_items(ctx, "EnumerateObjectAndEPR")?;
    for item in &items {
        let ok = item.name == "Item"
            && item.elements().any(|e| e.name == HASH_CLASS)
            && item.elements().any(|e| e.name == "EndpointReference");
        ensure(
            ok,
            "each wsman:Item with the object and its EndpointReference",
            || clip(&item.to_xml(), 300),
        )?;
    }
    Ok(())
}

fn enum_max_elements(ctx: &mut Ctx) -> Step {
    let body = ctx.enumerate_body(HASH_CLASS, "");
    let r = ctx.ws(&body)?;
    let context = r
        .find("EnumerationContext")
        .ok_or_else(|| fail("an EnumerationContext", clip(&r.text, 300)))?;
    let body = ctx.pull_body(HASH_CLASS, &context, 1);
    let r = ctx.ws(&body)?;
    let n = r
        .body()
        .and_then(|b| b.child_by_local_name("Items"))
        .map_or(0, |i| i.elements().count());
    ensure(n == 1, "exactly 1 item", || n.to_string())
}

// ---- Object model ----

fn has_properties(ctx: &mut Ctx, class: &str, props: &[&str]) -> Step {
    let items = ctx.enumerate_all(class)?;
    if items.is_empty() {
        return Err(fail(format!("at least one {class}"), "none"));
    }
    for item in &items {
        let missing: Vec<_> = props
            .iter()
            .filter(|p| item.child_by_local_name(p).is_none())
            .collect();
        ensure(
            missing.is_empty(),
            format!("{class} with {}", props.join(", ")),
            || format!("missing {missing:?} in {}", clip(&item.to_xml(), 300)),
        )?;
    }
    Ok(())
}

fn obj_general(ctx: &mut Ctx) -> Step {
    has_properties(
        ctx,
        "AMT_GeneralSettings",
        &[
            "DigestRealm",
            "InstanceID",
            "HostName",
            "DomainName",
            "AMTNetworkEnabled",
            "ElementName",
        ],
    )
}
fn obj_setup(ctx: &mut Ctx) -> Step {
    has_properties(
        ctx,
        "AMT_SetupAndConfigurationService",
        &[
            "ProvisioningState",
            "ProvisioningMode",
            "Name",
            "CreationClassName",
            "SystemName",
            "SystemCreationClassName",
        ],
    )
}
fn obj_software(ctx: &mut Ctx) -> Step {
    has_properties(
        ctx,
        "CIM_SoftwareIdentity",
        &["InstanceID", "VersionString"],
    )
}
fn obj_hashes(ctx: &mut Ctx) -> Step {
    has_properties(
        ctx,
        HASH_CLASS,
        &["InstanceID", "HashData", "HashType", "Enabled", "IsDefault"],
    )
}
fn obj_authorization(ctx: &mut Ctx) -> Step {
    has_properties(
        ctx,
        "AMT_AuthorizationService",
        &["Name", "CreationClassName", "SystemName"],
    )
}
fn obj_time(ctx: &mut Ctx) -> Step {
    has_properties(
        ctx,
        "AMT_TimeSynchronizationService",
        &["Name", "CreationClassName"],
    )
}
fn obj_tls(ctx: &mut Ctx) -> Step {
    has_properties(ctx, "AMT_TLSSettingData", &["InstanceID", "Enabled"])
}
fn obj_pki(ctx: &mut Ctx) -> Step {
    has_properties(ctx, "AMT_PublicKeyManagementService", &["Name"])
}
fn obj_host_based(ctx: &mut Ctx) -> Step {
    has_properties(
        ctx,
        "IPS_HostBasedSetupService",
        &["CurrentControlMode", "AllowedControlModes"],
    )
}

fn obj_realm_matches(ctx: &mut Ctx) -> Step {
    let (_, c) = ctx.fresh_challenge()?;
    let body = ctx.get_body("AMT_GeneralSettings", &[]);
    let r = ctx.ws(&body)?;
    let realm = r.find("DigestRealm").unwrap_or_default();
    ensure(
        realm == c.realm.as_str(),
        format!("DigestRealm {}", c.realm.as_str()),
        || realm.clone(),
    )
}

fn obj_version_matches(ctx: &mut Ctx) -> Step {
    let identify = ctx.identify().map_err(io("an IdentifyResponse"))?;
    let product = identify.find("ProductVersion").unwrap_or_default();
    let v = product.trim_start_matches("AMT ").trim().to_owned();
    let items = ctx.enumerate_all("CIM_SoftwareIdentity")?;
    let amt = items
        .iter()
        .find(|i| probe::find(i, "InstanceID").as_deref() == Some("AMT"))
        .and_then(|i| probe::find(i, "VersionString"));
    ensure(
        amt.as_deref()
            .is_some_and(|s| !v.is_empty() && s.starts_with(&v)),
        format!("VersionString starting with {v}"),
        || format!("{amt:?}"),
    )
}

fn obj_keys_consistent(ctx: &mut Ctx) -> Step {
    let items = optimized_items(ctx, "EnumerateEPR")?;
    for item in items.iter().take(4) {
        let mut sels = Vec::new();
        probe::find_all(item, "Selector", &mut sels);
        let pairs: Vec<(String, String)> = sels
            .iter()
            .map(|s| {
                (
                    s.attribute(None, "Name").unwrap_or_default().to_owned(),
                    s.text().trim().to_owned(),
                )
            })
            .collect();
        let borrowed: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let body = ctx.get_body(HASH_CLASS, &borrowed);
        let r = ctx.ws(&body)?;
        let want = pairs
            .iter()
            .find(|(n, _)| n == "InstanceID")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let got = r.find("InstanceID").unwrap_or_default();
        ensure(
            r.fault.is_none() && got == want,
            format!("Get by the EPR's selectors returns InstanceID {want}"),
            || format!("{} {got:?}", r.status),
        )?;
    }
    Ok(())
}

fn obj_hash_lengths(ctx: &mut Ctx) -> Step {
    let items = ctx.enumerate_all(HASH_CLASS)?;
    for item in &items {
        let t = probe::find(item, "HashType").unwrap_or_default();
        let data = probe::find(item, "HashData").unwrap_or_default();
        let want = match t.as_str() {
            "1" => 40,
            "2" => 64,
            "3" => 96,
            _ => 0,
        };
        ensure(
            want != 0 && data.len() == want && data.chars().all(|c| c.is_ascii_hexdigit()),
            format!("HashType {t}: {want} hex digits"),
            || format!("{} characters: {data}", data.len()),
        )?;
    }
    Ok(())
}

// ---- State machine ----

/// Skips a later step when an earlier one did not pass.
fn after(ctx: &Ctx, step: u8) -> Step {
    if ctx.state_step >= step {
        Ok(())
    } else {
        Err(prereq(format!(
            "an earlier STATE step (STATE-0{step}) did not pass"
        )))
    }
}

fn state_reported(ctx: &mut Ctx) -> Step {
    let state = ctx.provisioning_state();
    ctx.setup_state = state;
    let Some(state) = state else {
        return Err(fail("ProvisioningState 0, 1 or 2", "unreadable"));
    };
    ensure(state <= 2, "ProvisioningState 0, 1 or 2", || {
        state.to_string()
    })?;
    let chain = ctx.chain("prov-oid")?;
    let setup = ctx.tls_try(Some(chain), "prov-oid").is_ok();
    ensure(
        (state == 0) == setup || state == 1,
        "setup port open exactly before provisioning",
        || {
            format!(
                "ProvisioningState {state}, setup session {}",
                if setup { "accepted" } else { "refused" }
            )
        },
    )?;
    if state == 0 {
        ctx.state_step = 1;
        Ok(())
    } else {
        Err(skip(SkipReason::DeviceState {
            needs: "a fresh (pre-provisioning) device for the state machine".into(),
        }))
    }
}

fn state_weak_mebx(ctx: &mut Ctx) -> Step {
    after(ctx, 1)?;
    let body = ctx.invoke_body(
        "AMT_SetupAndConfigurationService",
        "SetMEBxPassword",
        "<h:Password>weak</h:Password>",
    );
    let r = ctx.ws_setup(&body)?;
    ensure(
        matches!(r.return_value(), Some(v) if v != 0),
        "a non-zero PT_STATUS (2054)",
        || format!("{:?}", r.return_value()),
    )
}

fn state_extend_invalid(ctx: &mut Ctx) -> Step {
    after(ctx, 1)?;
    let body = ctx.invoke_body(
        "AMT_SetupAndConfigurationService",
        "ExtendProvisioningPeriod",
        "<h:Duration>0</h:Duration>",
    );
    let r = ctx.ws_setup(&body)?;
    ensure(r.return_value() == Some(36), "ReturnValue 36", || {
        format!("{:?} {}", r.return_value(), clip(&r.text, 200))
    })
}

fn state_set_admin(ctx: &mut Ctx) -> Step {
    after(ctx, 1)?;
    let body = ctx.get_body("AMT_GeneralSettings", &[]);
    let r = ctx.ws_setup(&body)?;
    let realm = r
        .find("DigestRealm")
        .ok_or_else(|| fail("DigestRealm over the setup session", clip(&r.text, 200)))?;
    let pw = ctx.password();
    let ha1 = amt_wire::digest::ha1("admin", &realm, &pw);
    let b64 = amt_wire::digest::digest_password_base64(&ha1);
    let body = ctx.invoke_body(
        "AMT_AuthorizationService",
        "SetAdminAclEntryEx",
        &format!("<h:Username>admin</h:Username><h:DigestPassword>{b64}</h:DigestPassword>"),
    );
    let r = ctx.ws_setup(&body)?;
    ensure(
        r.return_value() == Some(0),
        "SetAdminAclEntryEx ReturnValue 0",
        || format!("{:?}", r.return_value()),
    )?;
    let body = ctx.get_body("AMT_SetupAndConfigurationService", &[]);
    let r = ctx.ws_setup(&body)?;
    let state = r.find("ProvisioningState").unwrap_or_default();
    ensure(
        state == "1",
        "ProvisioningState 1 (in) before CommitChanges",
        || state.clone(),
    )?;
    ctx.state_step = 4;
    Ok(())
}

fn state_commit(ctx: &mut Ctx) -> Step {
    after(ctx, 4)?;
    let body = ctx.invoke_body("AMT_SetupAndConfigurationService", "CommitChanges", "");
    let r = ctx.ws_setup(&body)?;
    ensure(
        r.return_value() == Some(0),
        "CommitChanges ReturnValue 0",
        || format!("{:?}", r.return_value()),
    )?;
    ctx.challenge = None;
    let state = ctx.provisioning_state();
    ensure(
        state == Some(2),
        "ProvisioningState 2 with the new admin password",
        || format!("{state:?}"),
    )?;
    ctx.setup_state = Some(2);
    ctx.state_step = 5;
    Ok(())
}

fn state_setup_closed(ctx: &mut Ctx) -> Step {
    after(ctx, 5)?;
    let chain = ctx.chain("prov-oid")?;
    let body = ctx.get_body("AMT_GeneralSettings", &[]);
    let req = probe::post(ctx.cfg.tls, &body, None, &[]);
    ctx.record_request(&req);
    let r = ctx.tls_conn(Some((chain, "prov-oid"))).and_then(|mut c| {
        c.send(&req)?;
        c.response()
    });
    ctx.record_response(&r);
    match r {
        Ok(r) if r.status == 200 => Err(fail(
            "no setup session after provisioning",
            "Get answered 200 without digest",
        )),
        _ => Ok(()),
    }
}

fn state_put(ctx: &mut Ctx) -> Step {
    after(ctx, 5)?;
    let body = ctx.get_body("AMT_GeneralSettings", &[]);
    let r = ctx.ws(&body)?;
    let host = r.find("HostName").unwrap_or_default();
    let id = ctx.next_id();
    let u = uri("AMT_GeneralSettings");
    let put = envelope(
        ACTION_PUT,
        Some(&u),
        &id,
        &selectors(&[("InstanceID", "Intel(r) AMT: General Settings")]),
        &format!(
            "<g:AMT_GeneralSettings xmlns:g=\"{u}\"><g:HostName>{host}</g:HostName><g:InstanceID>Intel(r) AMT: General Settings</g:InstanceID></g:AMT_GeneralSettings>"
        ),
    );
    let r = ctx.ws(&put)?;
    ensure(
        r.status == 200
            && r.action().ends_with("/transfer/PutResponse")
            && r.find("HostName").as_deref() == Some(host.as_str()),
        "200 PutResponse with the instance",
        || format!("{} {} {}", r.status, r.action(), clip(&r.text, 200)),
    )
}

fn state_unprovision(ctx: &mut Ctx) -> Step {
    after(ctx, 5)?;
    let body = ctx.invoke_body(
        "AMT_SetupAndConfigurationService",
        "Unprovision",
        "<h:ProvisioningMode>7</h:ProvisioningMode>",
    );
    let r = ctx.ws(&body)?;
    ensure(
        r.return_value() == Some(36),
        "Unprovision(7) ReturnValue 36",
        || format!("{:?}", r.return_value()),
    )?;
    let body = ctx.invoke_body(
        "AMT_SetupAndConfigurationService",
        "Unprovision",
        "<h:ProvisioningMode>1</h:ProvisioningMode>",
    );
    let r = ctx.ws(&body)?;
    ensure(
        r.return_value() == Some(0),
        "Unprovision(1) ReturnValue 0",
        || format!("{:?}", r.return_value()),
    )?;
    ctx.challenge = None;
    ctx.setup_state = Some(0);
    let chain = ctx.chain("prov-oid")?;
    let open = ctx.tls_try(Some(chain), "prov-oid");
    ensure(
        open.is_ok(),
        "the setup port accepts the provisioning chain again (pre)",
        || format!("{open:?}"),
    )?;
    ctx.state_step = 8;
    Ok(())
}

fn state_commit_without_admin(ctx: &mut Ctx) -> Step {
    after(ctx, 8)?;
    let body = ctx.invoke_body("AMT_SetupAndConfigurationService", "CommitChanges", "");
    let r = ctx.ws_setup(&body)?;
    let rv = r.return_value();
    if rv == Some(0) {
        // The device committed: put it back (best effort) before reporting.
        ctx.challenge = None;
        let body = ctx.invoke_body(
            "AMT_SetupAndConfigurationService",
            "Unprovision",
            "<h:ProvisioningMode>1</h:ProvisioningMode>",
        );
        let _ = ctx.ws(&body);
        ctx.challenge = None;
    }
    ensure(
        rv == Some(2057),
        "ReturnValue 2057 (PT_STATUS_DATA_MISSING)",
        || format!("{rv:?}"),
    )
}
