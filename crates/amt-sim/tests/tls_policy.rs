//! The firmware chain policy against the committed test PKI in `certs/`: every accept path and
//! every refusal reason, the order of checks, and robustness against mangled chains.

use std::path::PathBuf;

use amt_sim::tls::{
    AcceptedChain, CnRule, ProvisioningPolicy, RefusalAlert, TlsRefusal, TrustedHash,
    check_provisioning_chain,
};
use amt_wire::thumbprint::{HashAlgorithm, Thumbprint};
use amt_wire::time::Timestamp;
use proptest::prelude::*;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

/// 2026-01-01T00:00:00Z: every good test certificate is valid.
const NOW: Timestamp = Timestamp::from_unix_secs(1_767_225_600);
/// 2004-01-01T00:00:00Z: the un-set AMT clock ("date zero").
const DATE_ZERO: Timestamp = Timestamp::from_unix_secs(1_072_915_200);
const DOMAIN: &str = "corp.amt-sim.test";

fn certs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../certs")
}

fn chain(stem: &str) -> Vec<CertificateDer<'static>> {
    let path = certs_dir().join(format!("{stem}.chain.pem"));
    CertificateDer::pem_file_iter(&path)
        .expect("chain file")
        .collect::<Result<Vec<_>, _>>()
        .expect("chain PEM")
}

fn cert(stem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(certs_dir().join(format!("{stem}.cert.pem"))).expect("cert PEM")
}

fn hash(root: &str, alg: HashAlgorithm) -> TrustedHash {
    TrustedHash {
        thumbprint: Thumbprint::of_der(alg, cert(root).as_ref()),
        name: format!("{root}-{alg}"),
    }
}

/// A device trusting `root` by its SHA-256 hash, in the test PKI's domain, with the clock at NOW.
fn policy(root: &str) -> ProvisioningPolicy {
    ProvisioningPolicy::new(
        vec![hash(root, HashAlgorithm::Sha256)],
        Some(DOMAIN.to_owned()),
        NOW,
    )
}

fn check(stem: &str, policy: &ProvisioningPolicy) -> Result<AcceptedChain, TlsRefusal> {
    check_provisioning_chain(&chain(stem), policy)
}

fn refusal_id(result: Result<AcceptedChain, TlsRefusal>) -> String {
    match result {
        Ok(a) => format!("accepted ({})", a.leaf_cn),
        Err(r) => r.id().to_owned(),
    }
}

/// The `<stem> <role> <sha1> <sha256>` line of `certs/thumbprints.txt`.
fn committed_thumbprints(stem: &str) -> (String, String) {
    let text = std::fs::read_to_string(certs_dir().join("thumbprints.txt")).expect("thumbprints");
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(stem))
        .expect("stem listed");
    let fields: Vec<&str> = line.split_whitespace().collect();
    (fields[2].to_owned(), fields[3].to_owned())
}

// ----- accept paths -----

#[test]
fn oid_leaf_is_accepted_and_reports_the_match() {
    let accepted = check("prov-oid", &policy("root-rsa2048")).expect("accepted");
    let (_, sha256) = committed_thumbprints("root-rsa2048");
    assert_eq!(accepted.leaf_cn, "provisionserver.corp.amt-sim.test");
    assert_eq!(accepted.root_thumbprint_sha256.to_lower_hex(), sha256);
    assert_eq!(accepted.matched_hash_name, "root-rsa2048-sha256");
    assert_eq!(accepted.chain_len, 3);
}

#[test]
fn ou_leaf_without_oid_is_accepted() {
    let accepted = check("prov-ou", &policy("root-rsa2048")).expect("accepted");
    assert_eq!(accepted.leaf_cn, "provisionserver.corp.amt-sim.test");
}

#[test]
fn each_hash_algorithm_matches_and_the_first_matching_entry_is_named() {
    for alg in HashAlgorithm::ALL {
        let mut p = policy("root-rsa2048");
        p.trusted_hashes = vec![hash("root-sha1", alg), hash("root-rsa2048", alg)];
        let accepted = check("prov-oid", &p).expect("accepted");
        assert_eq!(accepted.matched_hash_name, format!("root-rsa2048-{alg}"));
    }
    // The SHA-1 value from thumbprints.txt, as a profile would carry it.
    let (sha1, _) = committed_thumbprints("root-rsa2048");
    let mut p = policy("root-rsa2048");
    p.trusted_hashes = vec![TrustedHash {
        thumbprint: Thumbprint::parse_hex(&sha1).expect("hex"),
        name: "from thumbprints.txt".to_owned(),
    }];
    assert!(check("prov-oid", &p).is_ok());
}

#[test]
fn sibling_domain_is_accepted_only_by_the_last_two_labels_rule() {
    let mut p = policy("root-rsa2048");
    p.cn_rule = CnRule::LastTwoLabels;
    assert!(check("prov-sibling-domain", &p).is_ok());
    p.cn_rule = CnRule::ExactSuffix;
    assert_eq!(
        check("prov-sibling-domain", &p),
        Err(TlsRefusal::CnDomainMismatch {
            cn: "provisionserver.sales.amt-sim.test".to_owned(),
            domain: DOMAIN.to_owned(),
        })
    );
    // AMT 2.6: last two labels only for .com/.net; `.test` falls back to the exact suffix.
    p.cn_rule = CnRule::LastTwoLabelsComNetOnly;
    assert_eq!(
        refusal_id(check("prov-sibling-domain", &p)),
        "cn-domain-mismatch"
    );
    assert!(check("prov-oid", &p).is_ok());
}

#[test]
fn domain_comparison_ignores_case_and_a_trailing_dot() {
    let mut p = policy("root-rsa2048");
    p.cn_rule = CnRule::ExactSuffix;
    p.dns_suffix = Some("Corp.AMT-Sim.Test.".to_owned());
    assert!(check("prov-oid", &p).is_ok());
}

// ----- refusals, one per reason -----

#[test]
fn no_certificate_is_refused() {
    assert_eq!(
        check_provisioning_chain(&[], &policy("root-rsa2048")),
        Err(TlsRefusal::NoClientCertificate)
    );
}

#[test]
fn too_long_a_chain_is_refused_before_parsing() {
    let junk = vec![CertificateDer::from(vec![0u8; 4]); 9];
    assert_eq!(
        check_provisioning_chain(&junk, &policy("root-rsa2048")),
        Err(TlsRefusal::ChainTooLong { len: 9, max: 8 })
    );
}

#[test]
fn malformed_certificate_is_refused_with_its_index() {
    let mut c = chain("prov-oid");
    c[1] = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
    let result = check_provisioning_chain(&c, &policy("root-rsa2048"));
    assert!(
        matches!(result, Err(TlsRefusal::Malformed { index: 1, .. })),
        "{result:?}"
    );
    let mut c = chain("prov-oid");
    let mut trailing = c[0].to_vec();
    trailing.push(0);
    c[0] = CertificateDer::from(trailing);
    let result = check_provisioning_chain(&c, &policy("root-rsa2048"));
    assert!(
        matches!(&result, Err(TlsRefusal::Malformed { index: 0, detail }) if detail.contains("trailing")),
        "{result:?}"
    );
}

#[test]
fn chain_without_its_root_is_refused_as_root_not_presented() {
    let mut c = chain("prov-oid");
    c.pop();
    let result = check_provisioning_chain(&c, &policy("root-rsa2048"));
    let Err(TlsRefusal::RootNotPresented { subject, issuer }) = result else {
        panic!("expected RootNotPresented, got {result:?}");
    };
    assert!(subject.contains("Issuing CA"), "{subject}");
    assert!(issuer.contains("Root CA (RSA-2048)"), "{issuer}");
    // Chain order matters: root in the middle, intermediate last.
    let c = chain("prov-oid");
    let reordered = vec![c[0].clone(), c[2].clone(), c[1].clone()];
    assert_eq!(
        refusal_id(check_provisioning_chain(
            &reordered,
            &policy("root-rsa2048")
        )),
        "root-not-presented"
    );
}

#[test]
fn root_not_in_hash_list_reports_both_thumbprints() {
    let (sha1, sha256) = committed_thumbprints("root-rsa2048");
    // Not listed at all, and listed only as another root (an inactive entry is simply not
    // passed in by the device, which is the same as not listed).
    for trusted in [vec![], vec![hash("root-rsa4096", HashAlgorithm::Sha256)]] {
        let mut p = policy("root-rsa2048");
        p.trusted_hashes = trusted;
        let result = check("prov-oid", &p);
        let Err(TlsRefusal::RootNotInHashList {
            sha1: got1,
            sha256: got256,
        }) = result
        else {
            panic!("expected RootNotInHashList, got {result:?}");
        };
        assert_eq!(got1.to_lower_hex(), sha1);
        assert_eq!(got256.to_lower_hex(), sha256);
    }
}

#[test]
fn leaf_without_oid_or_ou_is_refused() {
    let result = check("prov-plain", &policy("root-rsa2048"));
    let Err(TlsRefusal::NoIntelOidOrOu { subject }) = result else {
        panic!("expected NoIntelOidOrOu, got {result:?}");
    };
    assert!(subject.contains("provisionserver.corp.amt-sim.test"));
}

#[test]
fn ou_in_the_wrong_case_is_refused() {
    assert_eq!(
        refusal_id(check("prov-ou-wrong-case", &policy("root-rsa2048"))),
        "no-intel-oid-or-ou"
    );
}

#[test]
fn leaf_without_server_auth_is_refused() {
    assert_eq!(
        refusal_id(check("prov-oid-no-serverauth", &policy("root-rsa2048"))),
        "not-server-certificate"
    );
}

#[test]
fn cn_outside_the_domain_is_refused_under_every_rule() {
    for rule in [
        CnRule::ExactSuffix,
        CnRule::LastTwoLabels,
        CnRule::LastTwoLabelsComNetOnly,
    ] {
        let mut p = policy("root-rsa2048");
        p.cn_rule = rule;
        assert_eq!(
            check("prov-other-domain", &p),
            Err(TlsRefusal::CnDomainMismatch {
                cn: "provisionserver.other-domain.test".to_owned(),
                domain: DOMAIN.to_owned(),
            }),
            "{rule:?}"
        );
    }
}

#[test]
fn missing_or_blank_domain_is_refused() {
    for suffix in [None, Some(String::new()), Some("  ".to_owned())] {
        let mut p = policy("root-rsa2048");
        p.dns_suffix = suffix;
        assert_eq!(
            check("prov-oid", &p),
            Err(TlsRefusal::NoDomainSuffix),
            "{:?}",
            p.dns_suffix
        );
    }
}

#[test]
fn root_over_2048_bits_is_refused_only_with_the_limit() {
    let mut p = policy("root-rsa4096");
    assert!(check("prov-root4096", &p).is_ok());
    p.max_root_key_bits = Some(4096);
    assert!(check("prov-root4096", &p).is_ok());
    p.max_root_key_bits = Some(2048);
    assert_eq!(
        check("prov-root4096", &p),
        Err(TlsRefusal::RootKeyTooLong {
            bits: 4096,
            max: 2048
        })
    );
    // The 2048-bit root passes the same limit.
    let mut p = policy("root-rsa2048");
    p.max_root_key_bits = Some(2048);
    assert!(check("prov-oid", &p).is_ok());
}

#[test]
fn short_rsa_keys_are_refused_with_a_minimum() {
    let mut p = policy("root-rsa2048");
    p.min_rsa_key_bits = Some(2048);
    assert!(check("prov-oid", &p).is_ok());
    p.min_rsa_key_bits = Some(3072);
    let result = check("prov-oid", &p);
    let Err(TlsRefusal::RsaKeyTooShort { subject, bits, min }) = result else {
        panic!("expected RsaKeyTooShort, got {result:?}");
    };
    assert!(subject.contains("provisionserver"), "leaf first: {subject}");
    assert_eq!((bits, min), (2048, 3072));
}

#[test]
fn sha1_root_is_refused_only_when_sha1_is() {
    let mut p = policy("root-sha1");
    assert!(check("prov-sha1-root", &p).is_ok());
    p.refuse_sha1 = true;
    let result = check("prov-sha1-root", &p);
    let Err(TlsRefusal::Sha1InChain { subject }) = result else {
        panic!("expected Sha1InChain, got {result:?}");
    };
    assert!(subject.contains("Root CA (SHA-1)"), "{subject}");
    // A SHA-256 chain passes the same policy.
    let mut p = policy("root-rsa2048");
    p.refuse_sha1 = true;
    assert!(check("prov-oid", &p).is_ok());
}

#[test]
fn sha1_signed_leaf_validates_on_old_firmware_and_is_refused_on_me16() {
    // Path validation verifies the SHA-1 signature (webpki alone cannot).
    let p = policy("root-rsa2048");
    assert!(check("prov-sha1-leaf", &p).is_ok());
    let mut p = policy("root-rsa2048");
    p.refuse_sha1 = true;
    let result = check("prov-sha1-leaf", &p);
    let Err(TlsRefusal::Sha1InChain { subject }) = result else {
        panic!("expected Sha1InChain, got {result:?}");
    };
    assert!(subject.contains("provisionserver"), "{subject}");
    // A tampered SHA-1 signature is still caught by path validation.
    let mut c = chain("prov-sha1-leaf");
    let mut leaf = c[0].to_vec();
    if let Some(last) = leaf.last_mut() {
        *last ^= 0x80;
    }
    c[0] = CertificateDer::from(leaf);
    assert_eq!(
        refusal_id(check_provisioning_chain(&c, &policy("root-rsa2048"))),
        "path-invalid"
    );
}

#[test]
fn expired_leaf_is_refused() {
    let result = check("prov-expired", &policy("root-rsa2048"));
    let Err(TlsRefusal::Expired {
        subject,
        not_after,
        now,
    }) = &result
    else {
        panic!("expected Expired, got {result:?}");
    };
    assert!(subject.contains("provisionserver"));
    assert_eq!(*not_after, Timestamp::from_unix_secs(1_609_459_200)); // 2021-01-01
    assert_eq!(*now, NOW);
    let message = result.expect_err("refused").to_string();
    assert!(message.contains("2021-01-01T00:00:00Z"), "{message}");
    // The same certificate inside its validity period passes.
    let mut p = policy("root-rsa2048");
    p.now = Timestamp::from_unix_secs(1_590_969_600); // 2020-06-01
    assert!(check("prov-expired", &p).is_ok());
}

#[test]
fn date_zero_device_clock_makes_the_chain_not_yet_valid() {
    let mut p = policy("root-rsa2048");
    p.now = DATE_ZERO;
    let result = check("prov-oid", &p);
    let Err(TlsRefusal::NotYetValid {
        subject,
        not_before,
        now,
    }) = result
    else {
        panic!("expected NotYetValid, got {result:?}");
    };
    assert!(subject.contains("provisionserver"), "leaf first: {subject}");
    assert_eq!(not_before, Timestamp::from_unix_secs(1_735_689_600)); // 2025-01-01
    assert_eq!(now, DATE_ZERO);
}

#[test]
fn broken_signature_or_foreign_issuer_is_path_invalid() {
    // Leaf signature flipped.
    let mut c = chain("prov-oid");
    let mut leaf = c[0].to_vec();
    if let Some(last) = leaf.last_mut() {
        *last ^= 0x01;
    }
    c[0] = CertificateDer::from(leaf);
    let result = check_provisioning_chain(&c, &policy("root-rsa2048"));
    assert!(
        matches!(result, Err(TlsRefusal::PathInvalid { .. })),
        "{result:?}"
    );
    // The prov-oid leaf presented under the SHA-1 root's intermediate and root.
    let foreign = chain("prov-sha1-root");
    let mixed = vec![
        chain("prov-oid")[0].clone(),
        foreign[1].clone(),
        foreign[2].clone(),
    ];
    let result = check_provisioning_chain(&mixed, &policy("root-sha1"));
    assert!(
        matches!(result, Err(TlsRefusal::PathInvalid { .. })),
        "{result:?}"
    );
}

#[test]
fn leaf_presented_without_its_intermediate_is_path_invalid() {
    let c = chain("prov-oid");
    let short = vec![c[0].clone(), c[2].clone()];
    assert_eq!(
        refusal_id(check_provisioning_chain(&short, &policy("root-rsa2048"))),
        "path-invalid"
    );
}

// ----- order of checks -----

#[test]
fn checks_run_in_the_documented_order() {
    // Hash list before validity: an expired chain under an unknown root is a hash problem.
    let mut p = policy("root-rsa4096");
    assert_eq!(
        refusal_id(check("prov-expired", &p)),
        "root-not-in-hash-list"
    );
    // Personality limits before validity.
    p = policy("root-sha1");
    p.refuse_sha1 = true;
    p.now = DATE_ZERO;
    assert_eq!(refusal_id(check("prov-sha1-root", &p)), "sha1-in-chain");
    // Validity before the OID/OU rule.
    p = policy("root-rsa2048");
    p.now = DATE_ZERO;
    assert_eq!(refusal_id(check("prov-plain", &p)), "not-yet-valid");
    // OID/OU before the CN rule.
    p = policy("root-rsa2048");
    p.dns_suffix = None;
    assert_eq!(refusal_id(check("prov-plain", &p)), "no-intel-oid-or-ou");
    // Root key limit before the RSA minimum.
    p = policy("root-rsa4096");
    p.max_root_key_bits = Some(2048);
    p.min_rsa_key_bits = Some(3072);
    assert_eq!(refusal_id(check("prov-root4096", &p)), "root-key-too-long");
}

#[test]
fn alert_mapping_follows_the_policy() {
    let refused = check("prov-plain", &policy("root-rsa2048")).expect_err("refused");
    for (alert, want) in [
        (
            RefusalAlert::CertificateUnknown,
            rustls::AlertDescription::CertificateUnknown,
        ),
        (RefusalAlert::UnknownCa, rustls::AlertDescription::UnknownCA),
        (
            RefusalAlert::BadCertificate,
            rustls::AlertDescription::BadCertificate,
        ),
    ] {
        assert_eq!(refused.alert(alert), want);
    }
    assert_eq!(RefusalAlert::default(), RefusalAlert::CertificateUnknown);
}

/// Every leaf of the test PKI under the main device policy, with the message the device logs.
#[test]
fn verdicts_for_the_whole_test_pki() {
    let mut p = policy("root-rsa2048");
    p.trusted_hashes
        .push(hash("root-rsa4096", HashAlgorithm::Sha256));
    p.trusted_hashes
        .push(hash("root-sha1", HashAlgorithm::Sha1));
    p.cn_rule = CnRule::LastTwoLabels;
    let old = ProvisioningPolicy {
        max_root_key_bits: Some(2048),
        ..p.clone()
    };
    let me16 = ProvisioningPolicy {
        refuse_sha1: true,
        min_rsa_key_bits: Some(2048),
        cn_rule: CnRule::ExactSuffix,
        ..p.clone()
    };
    let date_zero = ProvisioningPolicy {
        now: DATE_ZERO,
        ..p.clone()
    };
    let mut out = String::new();
    for stem in [
        "prov-oid",
        "prov-ou",
        "prov-plain",
        "prov-other-domain",
        "prov-expired",
        "prov-root4096",
        "prov-sha1-root",
        "prov-ou-wrong-case",
        "prov-oid-no-serverauth",
        "prov-sibling-domain",
        "prov-sha1-leaf",
        "device-web-01",
    ] {
        for (name, policy) in [("amt-6", &old), ("me-16", &me16), ("date-zero", &date_zero)] {
            let line = match check(stem, policy) {
                Ok(a) => format!("accepted: cn={} hash={}", a.leaf_cn, a.matched_hash_name),
                Err(r) => format!("{}: {r}", r.id()),
            };
            out.push_str(&format!("{stem} [{name}] {line}\n"));
        }
    }
    insta::assert_snapshot!(out);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Mangled chains (bytes flipped anywhere, certificates truncated) never panic.
    #[test]
    fn mangled_chains_never_panic(
        which in 0usize..3,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut c = chain("prov-oid");
        let mut der = c[which].to_vec();
        for (at, xor) in flips {
            let i = at.index(der.len());
            der[i] ^= xor;
        }
        if let Some(cut) = cut {
            der.truncate(cut.index(der.len()));
        }
        c[which] = CertificateDer::from(der);
        let result = check_provisioning_chain(&c, &policy("root-rsa2048"));
        if let Err(r) = &result {
            prop_assert!(TlsRefusal::IDS.contains(&r.id()));
        }
    }
}
