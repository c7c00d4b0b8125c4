//! The log catalog and formats: every entry renders with correct framing; every verbatim text
//! equals the text in `reference/error-catalog.md` byte for byte; files are written atomically.

use amt_wire::time::Timestamp;
use provisioner_core::io::logfiles::write_log_dir;
use provisioner_core::logs::{
    CATALOG, LogConfig, LogFile, LogText, Logs, Severity, Versions, Wording, lookup,
};
use provisioner_core::logs::{LogId, ids};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// 2009-11-19 19:35:01.250 UTC = 11:35:01.250 Pacific standard time (bias +480), the S-GODADDY line.
const GODADDY_TIME: Timestamp = Timestamp::from_unix_millis(1_258_659_301_250);

/// Arguments filling every placeholder of `text` with `<name>`.
fn dummy_args(text: &LogText) -> Vec<(String, String)> {
    text.placeholders()
        .into_iter()
        .map(|p| (p.to_owned(), format!("<{p}>")))
        .collect()
}

fn emit_owned(logs: &mut Logs, id: &str, args: &[(String, String)], now: Timestamp) -> TestResult {
    let borrowed: Vec<(&str, &str)> = args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let id = LogId::by_name(id).ok_or_else(|| format!("{id} is not in the catalog"))?;
    logs.emit(id, &borrowed, now)?;
    Ok(())
}

/// Checks the SMS trace framing of one line and returns the message part.
fn sms_message<'a>(
    line: &'a str,
    component: &str,
    date_time: &str,
    thread: &str,
) -> Option<&'a str> {
    let suffix = format!("  $$<{component}><{date_time}><thread={thread}>");
    line.strip_suffix(&suffix)
}

#[test]
fn every_entry_renders_with_the_framing_of_its_file() -> TestResult {
    for text in CATALOG {
        let mut logs = Logs::new(LogConfig::default());
        emit_owned(&mut logs, text.id, &dummy_args(text), GODADDY_TIME)?;
        let file = text.file;
        let lines = logs.lines(file);
        assert_eq!(lines.len(), 1, "{}", text.id);
        let messages = logs.messages(file);
        let message = &messages[0];
        assert!(
            !message.contains('{') || text.template.contains("{}"),
            "{}: {message}",
            text.id
        );
        let line = &lines[0];
        match file {
            LogFile::AmtOpMgr | LogFile::AmtProxyMgr => {
                let (component, thread) = if file == LogFile::AmtOpMgr {
                    ("SMS_AMT_OPERATION_MANAGER", "2880 (0x0B40)")
                } else {
                    ("SMS_AMT_PROXY_COMPONENT", "2632 (0x0A48)")
                };
                assert_eq!(text.component, component, "{}", text.id);
                let got = sms_message(line, component, "11-19-2009 11:35:01.250+480", thread);
                assert_eq!(got, Some(message.as_str()), "{}: {line}", text.id);
            }
            LogFile::Despool | LogFile::HMan | LogFile::PolicyPv => {
                let (component, thread, prefix) = match file {
                    LogFile::Despool => ("SMS_DESPOOLER", "4072 (0x0FE8)", "~"),
                    LogFile::HMan => ("SMS_HIERARCHY_MANAGER", "4116 (0x1014)", ""),
                    _ => ("SMS_POLICY_PROVIDER", "3180 (0x0C6C)", ""),
                };
                assert_eq!(text.component, component, "{}", text.id);
                let got = sms_message(line, component, "11-19-2009 11:35:01.250+480", thread);
                assert_eq!(
                    got,
                    Some(format!("{prefix}{message}").as_str()),
                    "{}: {line}",
                    text.id
                );
            }
            LogFile::PolicyAgent => {
                let expected = format!(
                    "<![LOG[{message}]LOG]!><time=\"11:35:01.250+480\" date=\"11-19-2009\" component=\"PolicyAgent_PolicyDownload\" context=\"\" type=\"{}\" thread=\"2724\" file=\"\">",
                    text.severity.cmtrace_type()
                );
                assert_eq!(line, &expected, "{}", text.id);
            }
            LogFile::OobMgmt => {
                let type_code = match text.severity {
                    Severity::Info => 1,
                    Severity::Warning => 2,
                    Severity::Error => 3,
                };
                let expected = format!(
                    "<![LOG[{message}]LOG]!><time=\"11:35:01.250+480\" date=\"11-19-2009\" component=\"OobMgmt\" context=\"\" type=\"{type_code}\" thread=\"2724\" file=\"\">"
                );
                assert_eq!(line, &expected, "{}", text.id);
            }
        }
        // Every entry says where it comes from, and documented ones name their catalog entry.
        assert!(!text.source.is_empty(), "{}", text.id);
        if text.wording != Wording::Invented {
            assert!(
                text.source.contains("error-catalog") || text.source.contains("configmgr-sites"),
                "{}: {}",
                text.id,
                text.source
            );
        } else {
            assert!(text.source.starts_with("invented"), "{}", text.id);
        }
    }
    Ok(())
}

/// Each [V]/[V-de] entry: its id, the placeholder values that turn it into the documented form,
/// and the documented text, copied from `reference/error-catalog.md` (entry cited per line).
/// (catalog id, placeholder values, documented text).
type VerbatimCase = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

const VERBATIM: &[VerbatimCase] = &[
    // SP1 [V-de]
    (
        "A-02.sp1",
        &[],
        "Error: Device internal error. Check Schannel, provision certificate, network configuration, device.",
    ),
    // SP2 and later [V-de]
    (
        "A-02.sp2",
        &[],
        "Error: Device internal error. This may be caused by: 1. Schannel hotfix applied that can send our root certificate in provisioning certificate chain. 2. incorrect network configuration(DHCP option 6 and 15 required for AMT firmware). 3. AMT firmware self signed certificate issue(date zero). 4. AMT firmware is not ready for PKI provisioning. Check network interface is opening and AMT is in PKI mode. 5. Service point is trying to establish connection with wireless IP address of AMT firmware but wireless management has NOT enabled yet. AMT firmware doesn't support provision through wireless connection.",
    ),
    // A-04 [V-de]
    (
        "A-04.container",
        &[],
        "CActiveDirectoryUtils::CreateObject - failed to get container.",
    ),
    ("A-04.createobject", &[], "AD Task - CreateObject failed."),
    // A-06 [V-de]
    (
        "A-06",
        &[],
        "Error: Cannot provision computer in-band because the Configuration Manager client is not approved.",
    ),
    // A-09 [V-de]
    (
        "A-09",
        &[],
        "Error: Missed device certificate. To provision device with TLS server or Mutual authentication mode, device certificate is required.",
    ),
    // A-10 [V-de]
    (
        "A-10",
        &[],
        "ERROR: ICertRequest2->Submit failed: 0x80070005",
    ),
    // A-12 [V-de]
    (
        "A-12",
        &[],
        "None certificate is valid between device and server certificate hash.",
    ),
    // A-15 [V-de], curly apostrophe and stray '>' as printed
    (
        "A-15.alias",
        &[
            ("suffix", "<domain_suffix>"),
            ("sp_fqdn", "<out_of_band_service_point_FQDN>.domain_suffix"),
        ],
        "Send request to AMT proxy component to add the alias ProvisionServer.<domain_suffix> in the DNS. The machine\u{2019}s FQDN is <out_of_band_service_point_FQDN>.domain_suffix>",
    ),
    (
        "A-15.instruction",
        &[("path", "<ConfigMgrInstallationPath>")],
        "Unable to create instruction file for AMT Proxy task: <ConfigMgrInstallationPath>\\MP\\OUTBOXES\\Amtproxy.box",
    ),
    // A-18 [V-de]
    (
        "A-18.isc",
        &[],
        "Error 0x80090304 returned by InitializeSecurityContext during follow up TLS handshaking with server.",
    ),
    (
        "A-18.apply",
        &[("hex", "0x193b95c")],
        "**** Error 0x193b95c returned by ApplyControlToken",
    ),
    // A-19 [V-de]
    (
        "A-19.description",
        &[],
        "Description: A security error occurred",
    ),
    ("A-19.code", &[], "Error code: 0x80072F8F"),
    // A-20 [V-de]
    (
        "A-20",
        &[],
        "Error: Can not finish WSMAN call with target device. 1. Check if there is a winhttp proxy to block connection. 2. Service point is trying to establish connection with wireless IP address of AMT firmware but wireless management has NOT enabled yet. AMT firmware doesn't support provision through wireless connection. 3. For greater than 3.x AMT, there is a known issue in AMT firmware that WSMAN will fail with FQDN longer than 44 bytes.",
    ),
    // §1.1, S-GODADDY [V]
    (
        "cert-expiry",
        &[
            ("thumbprint", "55B7AF313A725CA10BB47A382494A3BD2927D1FB"),
            ("days", "4"),
            ("cert_id", "1"),
        ],
        "Error: The provisioning certificate with the thumbprint 55B7AF313A725CA10BB47A382494A3BD2927D1FB will expire in 4 day(s). Please ensure that this certificate is renewed. (CertID = 1)",
    ),
];

#[test]
fn verbatim_texts_equal_the_error_catalog_byte_for_byte() -> TestResult {
    for (id, args, expected) in VERBATIM {
        let text = lookup(id).ok_or_else(|| format!("{id} missing"))?;
        assert!(
            matches!(
                text.wording,
                Wording::Verbatim | Wording::VerbatimFromGerman
            ),
            "{id} is tagged {:?}",
            text.wording
        );
        let mut logs = Logs::new(LogConfig::default());
        let log_id = LogId::by_name(id).ok_or_else(|| format!("{id} is not in the catalog"))?;
        logs.emit(log_id, args, Timestamp::EPOCH)?;
        assert_eq!(
            logs.messages(text.file),
            vec![(*expected).to_owned()],
            "{id}"
        );
    }
    // No verbatim entry escapes the check.
    for text in CATALOG {
        if matches!(
            text.wording,
            Wording::Verbatim | Wording::VerbatimFromGerman
        ) {
            assert!(
                VERBATIM.iter().any(|(id, _, _)| *id == text.id),
                "{} unchecked",
                text.id
            );
        }
    }
    Ok(())
}

#[test]
fn documented_entries_have_the_documented_file_tag_and_versions() -> TestResult {
    let expect: &[(&str, LogFile, Wording, Versions)] = &[
        (
            "A-02.sp1",
            LogFile::AmtOpMgr,
            Wording::VerbatimFromGerman,
            Versions::Sp1,
        ),
        (
            "A-02.sp2",
            LogFile::AmtOpMgr,
            Wording::VerbatimFromGerman,
            Versions::Sp2,
        ),
        (
            "A-04.container",
            LogFile::AmtProxyMgr,
            Wording::VerbatimFromGerman,
            Versions::Both,
        ),
        (
            "A-04.createobject",
            LogFile::AmtProxyMgr,
            Wording::VerbatimFromGerman,
            Versions::Both,
        ),
        (
            "A-06",
            LogFile::AmtOpMgr,
            Wording::VerbatimFromGerman,
            Versions::Sp2,
        ),
        (
            "A-09",
            LogFile::AmtOpMgr,
            Wording::VerbatimFromGerman,
            Versions::Both,
        ),
        (
            "A-10",
            LogFile::AmtProxyMgr,
            Wording::VerbatimFromGerman,
            Versions::Both,
        ),
        (
            "A-11",
            LogFile::AmtOpMgr,
            Wording::Reconstructed,
            Versions::Both,
        ),
        (
            "A-12",
            LogFile::OobMgmt,
            Wording::VerbatimFromGerman,
            Versions::Both,
        ),
        (
            "A-15.alias",
            LogFile::AmtOpMgr,
            Wording::VerbatimFromGerman,
            Versions::Both,
        ),
        (
            "A-15.instruction",
            LogFile::AmtOpMgr,
            Wording::VerbatimFromGerman,
            Versions::Both,
        ),
        (
            "A-17.revoke",
            LogFile::AmtProxyMgr,
            Wording::Reconstructed,
            Versions::Both,
        ),
        (
            "A-17.revoke-existed",
            LogFile::AmtProxyMgr,
            Wording::Reconstructed,
            Versions::Both,
        ),
        (
            "A-18.isc",
            LogFile::AmtOpMgr,
            Wording::VerbatimFromGerman,
            Versions::Both,
        ),
        (
            "A-18.apply",
            LogFile::AmtOpMgr,
            Wording::VerbatimFromGerman,
            Versions::Both,
        ),
        (
            "A-18.core-version",
            LogFile::AmtOpMgr,
            Wording::Reconstructed,
            Versions::Both,
        ),
        (
            "A-19.description",
            LogFile::AmtOpMgr,
            Wording::VerbatimFromGerman,
            Versions::Sp2,
        ),
        (
            "A-19.code",
            LogFile::AmtOpMgr,
            Wording::VerbatimFromGerman,
            Versions::Sp2,
        ),
        (
            "A-20",
            LogFile::AmtOpMgr,
            Wording::VerbatimFromGerman,
            Versions::Sp2,
        ),
        (
            "cert-expiry",
            LogFile::AmtOpMgr,
            Wording::Verbatim,
            Versions::Both,
        ),
    ];
    for (id, file, wording, versions) in expect {
        let text = lookup(id).ok_or_else(|| format!("{id} missing"))?;
        assert_eq!(
            (text.file, text.wording, text.versions),
            (*file, *wording, *versions),
            "{id}"
        );
    }
    // Reconstructed back-translations, exactly as error-catalog.md gives them.
    let mut logs = Logs::new(LogConfig::default());
    logs.emit(ids::A_11, &[("uuid", "<UUID>")], Timestamp::EPOCH)?;
    logs.emit(
        ids::A_18_CORE_VERSION,
        &[("ip", "<IP address of the computer to provision>")],
        Timestamp::EPOCH,
    )?;
    logs.emit(
        ids::A_17_REVOKE,
        &[("cert_id", "<certificate ID>")],
        Timestamp::EPOCH,
    )?;
    logs.emit(
        ids::A_17_REVOKE_EXISTED,
        &[("cert_id", "<certificate ID>")],
        Timestamp::EPOCH,
    )?;
    assert_eq!(
        logs.messages(LogFile::AmtOpMgr),
        vec![
            "Error: The hash list of AMT device <UUID> does not contain the provisioning server certificate hash.",
            "Fail to connect and get core version of machine <IP address of the computer to provision>.",
        ]
    );
    assert_eq!(
        logs.messages(LogFile::AmtProxyMgr),
        vec![
            "Error: CCAUtils::RevokeCertificate failed to revoke certificate <certificate ID> with 0x80070005",
            "Error: CCAUtils::RevokeExistedCertificate failed to revoke certificate <certificate ID>.",
        ]
    );
    Ok(())
}

#[test]
fn the_godaddy_line_renders_as_the_documented_raw_equivalent() -> TestResult {
    let mut logs = Logs::new(LogConfig::default());
    logs.emit(
        ids::CERT_EXPIRY,
        &[
            ("thumbprint", "55B7AF313A725CA10BB47A382494A3BD2927D1FB"),
            ("days", "4"),
            ("cert_id", "1"),
        ],
        Timestamp::from_unix_millis(1_258_659_301_000),
    )?;
    // error-catalog §1.1 with the assumed `.000+480`.
    assert_eq!(
        logs.render(LogFile::AmtOpMgr),
        "Error: The provisioning certificate with the thumbprint 55B7AF313A725CA10BB47A382494A3BD2927D1FB will expire in 4 day(s). Please ensure that this certificate is renewed. (CertID = 1)  $$<SMS_AMT_OPERATION_MANAGER><11-19-2009 11:35:01.000+480><thread=2880 (0x0B40)>\r\n"
    );
    Ok(())
}

#[test]
fn client_component_and_bias_are_configurable() -> TestResult {
    let mut logs = Logs::new(LogConfig {
        client_component: "OOBMgmt_Agent".to_owned(),
        client_source_file: "oobmgmt.cpp:42".to_owned(),
        bias_minutes: -60,
        ..LogConfig::default()
    });
    logs.emit(ids::A_12, &[], GODADDY_TIME)?;
    assert_eq!(
        logs.lines(LogFile::OobMgmt),
        vec![
            "<![LOG[None certificate is valid between device and server certificate hash.]LOG]!><time=\"20:35:01.250-60\" date=\"11-19-2009\" component=\"OOBMgmt_Agent\" context=\"\" type=\"3\" thread=\"2724\" file=\"oobmgmt.cpp:42\">"
        ]
    );
    Ok(())
}

#[test]
fn rendered_logs_snapshot() -> TestResult {
    let mut logs = Logs::new(LogConfig::default());
    let t = |s: i64| Timestamp::from_unix_millis(1_800_000_000_000 + s * 1000);
    let uuid = "8c4d6b2a-1f3e-4a5b-9c7d-0e1f2a3b4c5d";
    logs.emit(
        ids::HELLO_RECEIVED,
        &[("ip", "192.0.2.10"), ("uuid", uuid)],
        t(0),
    )?;
    logs.emit(ids::A_11, &[("uuid", uuid)], t(1))?;
    logs.emit(ids::A_04_CONTAINER, &[], t(2))?;
    logs.emit(ids::A_04_CREATEOBJECT, &[], t(2))?;
    logs.emit(
        ids::A_04_DETAIL,
        &[
            ("fqdn", "amt-device-01.corp.amt-sim.test"),
            ("container", "OU=AMT Computers,DC=corp,DC=amt-sim,DC=test"),
        ],
        t(2),
    )?;
    logs.emit(ids::A_12, &[], t(3))?;
    logs.emit(ids::CLIENT_OTP_SENT, &[("uuid", uuid)], t(4))?;
    let all: String = LogFile::SERVICE_POINT
        .iter()
        .map(|f| {
            format!(
                "== {} ==\n{}",
                f.file_name(),
                logs.render(*f).replace("\r\n", "\n")
            )
        })
        .collect();
    insta::assert_snapshot!(all);
    Ok(())
}

#[test]
fn write_log_dir_writes_three_files_atomically() -> TestResult {
    let dir = tempfile::tempdir()?;
    let target = dir.path().join("logs");
    let mut logs = Logs::new(LogConfig::default());
    logs.emit(ids::A_10, &[], GODADDY_TIME)?;
    write_log_dir(&logs, &target)?;
    let proxy = std::fs::read_to_string(target.join("amtproxymgr.log"))?;
    assert_eq!(proxy, logs.render(LogFile::AmtProxyMgr));
    assert!(proxy.ends_with("\r\n"));
    assert_eq!(std::fs::read_to_string(target.join("amtopmgr.log"))?, "");
    assert_eq!(std::fs::read_to_string(target.join("oobmgmt.log"))?, "");
    let mut names: Vec<String> = std::fs::read_dir(&target)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    assert_eq!(
        names,
        vec!["amtopmgr.log", "amtproxymgr.log", "oobmgmt.log"]
    );
    // Rewriting replaces the content.
    logs.emit(ids::A_10, &[], GODADDY_TIME)?;
    write_log_dir(&logs, &target)?;
    assert_eq!(
        std::fs::read_to_string(target.join("amtproxymgr.log"))?
            .lines()
            .count(),
        2
    );
    Ok(())
}

#[test]
fn file_names_round_trip() {
    for f in LogFile::ALL {
        assert_eq!(LogFile::from_file_name(f.file_name()), Some(f));
    }
    assert_eq!(
        LogFile::from_file_name("Amtopmgr.log"),
        Some(LogFile::AmtOpMgr)
    );
    assert_eq!(LogFile::from_file_name("adctrl.log"), None);
}

mod explain {
    use super::*;
    use proptest::prelude::*;
    use provisioner_core::logs::{LineFormat, match_message, parse_line};

    proptest! {
        /// Every entry, rendered with arbitrary plain values and framed, parses back to its own id
        /// and values: no two templates can be confused.
        #[test]
        fn every_rendered_entry_matches_back_to_itself(
            index in 0..CATALOG.len(),
            value in "[A-Za-z0-9_-]{1,20}",
            millis in 0i64..4_000_000_000_000,
        ) {
            let text = &CATALOG[index];
            let args: Vec<(String, String)> = text
                .placeholders()
                .into_iter()
                .map(|p| (p.to_owned(), format!("{value}-{p}")))
                .collect();
            let mut logs = Logs::new(LogConfig::default());
            let borrowed: Vec<(&str, &str)> = args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let id = LogId::by_name(text.id);
            prop_assert!(id.is_some());
            prop_assert!(id.is_some_and(|id| logs.emit(id, &borrowed, Timestamp::from_unix_millis(millis)).is_ok()));
            let line = logs.lines(text.file).pop().unwrap_or_default();
            let parsed = parse_line(&line);
            prop_assert_ne!(parsed.format, LineFormat::Bare);
            let matched = match_message(&parsed.message);
            let (found, values) = matched.ok_or_else(|| TestCaseError::fail(format!("{} did not match", text.id)))?;
            prop_assert_eq!(found.id, text.id);
            let got: Vec<(String, String)> = values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            prop_assert_eq!(got.len(), text.placeholders().len());
            for (k, v) in got {
                prop_assert_eq!(v, format!("{value}-{k}"));
            }
        }
    }
}
