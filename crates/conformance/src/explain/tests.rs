//! Unit tests of `explain`: the entry table against the log catalog, the framings, the match tiers,
//! scenarios, suggestions, JSON and the human output.

use std::path::PathBuf;

use amt_wire::time::Timestamp;
use provisioner_core::logs::{LogConfig, LogId, Logs, ids};

use super::*;

const A18_ISC: &str = "Error 0x80090304 returned by InitializeSecurityContext during follow up TLS handshaking with server.";

fn scenario(id: &str, source: &str, path: &str) -> ScenarioRef {
    ScenarioRef {
        id: id.to_owned(),
        title: format!("title of {id}"),
        source: source.to_owned(),
        path: PathBuf::from(path),
    }
}

fn scenarios() -> Vec<ScenarioRef> {
    vec![
        scenario(
            "root-key-over-2048",
            "error-catalog A-18",
            "scenarios/a18-root-key-over-2048.yaml",
        ),
        scenario("not-a18", "error-catalog A-180", "scenarios/a180.yaml"),
        scenario(
            "device-internal-error",
            "error-catalog A-02/A-03",
            "scenarios/my dir/a02.yaml",
        ),
        scenario(
            "flow",
            "seed 004 provisioning flow; hello.received",
            "scenarios/flow.yaml",
        ),
    ]
}

fn ids(e: &Explanation) -> Vec<&str> {
    e.matches.iter().map(|m| m.text_id.as_str()).collect()
}

fn entry_ids(m: &TextMatch) -> Vec<&str> {
    m.entries.iter().map(|e| e.entry.id.as_str()).collect()
}

fn values(m: &TextMatch) -> Vec<(&str, &str)> {
    m.values
        .iter()
        .map(|v| (v.name.as_str(), v.value.as_str()))
        .collect()
}

#[test]
fn entry_table_has_the_twenty_catalog_entries_in_order() -> Result<(), EntriesError> {
    let entries = catalog_entries()?;
    let ids: Vec<&str> = entries
        .iter()
        .map(|e| e.id.as_str())
        .filter(|id| id.starts_with("A-"))
        .collect();
    let expected: Vec<String> = (1..=20).map(|n| format!("A-{n:02}")).collect();
    assert_eq!(ids, expected);
    let site_ids: Vec<&str> = entries
        .iter()
        .map(|e| e.id.as_str())
        .filter(|id| !id.starts_with("A-"))
        .collect();
    assert_eq!(site_ids, ["K-00", "K-01", "N-01", "N-02", "C-01"]);
    let mut names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), entries.len(), "names are unique");
    let a18 = entries.iter().find(|e| e.id == "A-18");
    assert_eq!(a18.map(|e| e.name.as_str()), Some("root-ca-key-over-2048"));
    for e in entries {
        for text in [&e.title, &e.cause, &e.fix, &e.source, &e.versions] {
            assert!(!text.trim().is_empty(), "{} has an empty field", e.id);
        }
        assert!(
            e.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{} name {:?} is a slug",
            e.id,
            e.name
        );
    }
    Ok(())
}

#[test]
fn every_catalog_entry_text_has_an_entry_and_log_presence_agrees() -> Result<(), EntriesError> {
    let entries = catalog_entries()?;
    for text in CATALOG {
        if text.id.starts_with("A-") {
            let key = entry_key(text.id);
            assert!(key.is_some(), "{} has a malformed entry id", text.id);
            assert!(
                entries.iter().any(|e| Some(e.id.as_str()) == key),
                "{} has no entry",
                text.id
            );
        }
    }
    for e in entries {
        let documented = e.log == LogPresence::Documented;
        assert_eq!(
            !e.texts().is_empty(),
            documented,
            "{}: log {:?} but {} catalog texts",
            e.id,
            e.log,
            e.texts().len()
        );
        assert_eq!(
            e.log_note.is_some(),
            !documented,
            "{}: log_note exactly when there is no log line",
            e.id
        );
    }
    let a03 = entries.iter().find(|e| e.id == "A-03");
    let a03_texts: Vec<&str> =
        a03.map_or_else(Vec::new, |e| e.texts().iter().map(|t| t.id).collect());
    assert_eq!(a03_texts, vec!["A-02.sp1", "A-02.sp2"]);
    Ok(())
}

#[test]
fn entry_keys_come_from_the_text_id_prefix() {
    assert_eq!(entry_key("A-18.isc"), Some("A-18"));
    assert_eq!(entry_key("A-06"), Some("A-06"));
    assert_eq!(entry_key("hello.received"), None);
    assert_eq!(entry_key("A-1"), None);
    assert_eq!(entry_key("A-1x.y"), None);
    assert_eq!(entry_key("cert-expiry"), None);
}

#[test]
fn bare_message_matches_exactly_with_entry_and_scenario() {
    let e = explain(A18_ISC, &scenarios());
    assert_eq!(e.framing, Framing::Bare);
    assert_eq!(ids(&e), vec!["A-18.isc"]);
    let m = &e.matches[0];
    assert_eq!(m.kind, MatchKind::Exact);
    assert_eq!(m.files, vec![LogFile::AmtOpMgr, LogFile::AmtProxyMgr]);
    assert_eq!(m.versions, Versions::Both);
    assert_eq!(entry_ids(m), vec!["A-18"]);
    let hits: Vec<&str> = m.entries[0]
        .scenarios
        .iter()
        .map(|s| s.command.as_str())
        .collect();
    assert_eq!(
        hits,
        vec!["amt-conformance run scenarios/a18-root-key-over-2048.yaml"],
        "A-180 is not A-18"
    );
    assert!(e.suggestions.is_empty());
}

#[test]
fn exact_match_recovers_placeholder_values() {
    let e = explain("**** Error 0x6fcb970 returned by ApplyControlToken", &[]);
    assert_eq!(ids(&e), vec!["A-18.apply"]);
    assert_eq!(values(&e.matches[0]), vec![("hex", "0x6fcb970")]);
    let e = explain(
        "Error: The provisioning certificate with the thumbprint AB12 will expire in 7 day(s). Please ensure that this certificate is renewed. (CertID = 42)",
        &[],
    );
    assert_eq!(ids(&e), vec!["cert-expiry"]);
    assert_eq!(
        values(&e.matches[0]),
        vec![("thumbprint", "AB12"), ("days", "7"), ("cert_id", "42")]
    );
}

#[test]
fn framed_sms_trace_line_is_stripped() {
    let mut logs = Logs::new(LogConfig::default());
    assert_eq!(
        logs.emit(ids::A_18_APPLY, &[("hex", "0x193b95c")], Timestamp::EPOCH),
        Ok(())
    );
    let lines = logs.lines(LogFile::AmtOpMgr);
    let line = lines.first().map_or("", String::as_str);
    assert!(line.contains("$$<SMS_AMT_OPERATION_MANAGER>"), "{line}");
    let e = explain(line, &[]);
    assert_eq!(e.framing, Framing::SmsTrace);
    assert_eq!(e.component.as_deref(), Some("SMS_AMT_OPERATION_MANAGER"));
    assert_eq!(
        e.message,
        "**** Error 0x193b95c returned by ApplyControlToken"
    );
    assert_eq!(ids(&e), vec!["A-18.apply"]);
    assert_eq!(e.matches[0].kind, MatchKind::Exact);
    assert_eq!(values(&e.matches[0]), vec![("hex", "0x193b95c")]);
    assert_eq!(
        e.matches[0].files,
        vec![LogFile::AmtOpMgr],
        "the framing tells which of A-18's two files"
    );

    let hand_written = "ERROR: ICertRequest2->Submit failed: 0x80070005  $$<SMS_AMT_PROXY_COMPONENT><12-06-2016 03:11:46.039+300><thread=2632 (0x0A48)>";
    let e = explain(hand_written, &[]);
    assert_eq!(ids(&e), vec!["A-10"]);
    assert_eq!(entry_ids(&e.matches[0]), vec!["A-10"]);
    assert_eq!(e.matches[0].files, vec![LogFile::AmtProxyMgr]);
}

#[test]
fn cmtrace_line_is_stripped() {
    let line = "<![LOG[None certificate is valid between device and server certificate hash.]LOG]!><time=\"15:10:04.029-480\" date=\"07-14-2016\" component=\"OobMgmt\" context=\"\" type=\"3\" thread=\"2724\" file=\"\">";
    let e = explain(line, &scenarios());
    assert_eq!(e.framing, Framing::CmTrace);
    assert_eq!(e.component.as_deref(), Some("OobMgmt"));
    assert_eq!(ids(&e), vec!["A-12"]);
    assert_eq!(e.matches[0].files, vec![LogFile::OobMgmt]);
    assert_eq!(entry_ids(&e.matches[0]), vec!["A-12"]);
    assert!(e.to_string().contains("no scenario names A-12 yet"));
}

#[test]
fn placeholders_in_the_input_are_wildcards() {
    for line in [
        "Error: The hash list of AMT device <UUID> does not contain the provisioning server certificate hash.",
        "Error: The hash list of AMT device {uuid} does not contain the provisioning server certificate hash.",
        "Error: The hash list of AMT device ... does not contain the provisioning server certificate hash.",
        "Error: The hash list of AMT device … does not contain the provisioning server certificate hash.",
    ] {
        let e = explain(line, &[]);
        assert!(e.wildcards, "{line}");
        assert_eq!(ids(&e), vec!["A-11"], "{line}");
        assert_eq!(e.matches[0].kind, MatchKind::Wildcard, "{line}");
        assert!(e.matches[0].values.is_empty(), "the uuid is not known");
    }
    // A wildcard may also stand for more than a template placeholder.
    let e = explain("**** Error <hex> returned by ...", &[]);
    assert_eq!(ids(&e), vec!["A-18.apply"]);
    // The doc's own rendering of A-15, with `<…>` placeholders and the curly apostrophe.
    let e = explain(
        "Send request to AMT proxy component to add the alias ProvisionServer.<domain_suffix> in the DNS. The machine\u{2019}s FQDN is <out_of_band_service_point_FQDN>.domain_suffix>",
        &[],
    );
    assert_eq!(ids(&e), vec!["A-15.alias"]);
    assert_eq!(e.matches[0].kind, MatchKind::Wildcard);
}

#[test]
fn a_line_of_placeholders_alone_is_too_vague() {
    let e = explain("<uuid> on {ip} ...", &[]);
    assert!(e.matches.is_empty());
    assert!(e.notes.iter().any(|n| n.contains("too little text")));
    let e = explain("   ", &[]);
    assert!(e.matches.is_empty() && e.suggestions.is_empty());
    assert!(e.notes.iter().any(|n| n.contains("no text")));
}

#[test]
fn case_whitespace_quotes_and_period_differences_match_tolerantly() {
    let e = explain(
        "error:  the HASH list of amt device 8A3C-11 does not contain\tthe provisioning server certificate hash",
        &[],
    );
    assert_eq!(ids(&e), vec!["A-11"]);
    let m = &e.matches[0];
    assert_eq!(m.kind, MatchKind::Tolerant);
    assert_eq!(
        values(m),
        vec![("uuid", "8A3C-11")],
        "case of values is kept"
    );
    assert_eq!(m.wording, Wording::Reconstructed);
    assert!(e.to_string().contains("back-translated from German"));

    let e = explain(
        "Send request to AMT proxy component to add the alias ProvisionServer.corp.example in the DNS. The machine's FQDN is sp.corp.example>",
        &[],
    );
    assert_eq!(ids(&e), vec!["A-15.alias"]);
    assert_eq!(e.matches[0].kind, MatchKind::Tolerant);
    assert_eq!(
        values(&e.matches[0]),
        vec![("suffix", "corp.example"), ("sp_fqdn", "sp.corp.example")]
    );
}

#[test]
fn pieces_of_a_text_and_texts_inside_a_line_match_partially() {
    // The blog's real-log form of the SP2 text, one line of it.
    let e = explain(
        "1. SChannel hotfix applied that can send our root certificate in provisioning certificate chain.",
        &[],
    );
    assert_eq!(ids(&e), vec!["A-02.sp2"]);
    assert_eq!(e.matches[0].kind, MatchKind::LineInText);
    assert_eq!(entry_ids(&e.matches[0]), vec!["A-02", "A-03"]);

    // Its first line belongs to both service packs' texts; each entry is shown once with both.
    let e = explain("Error: Device internal error.", &[]);
    assert_eq!(ids(&e), vec!["A-02.sp1", "A-02.sp2"]);
    let text = e.to_string();
    assert_eq!(
        text.matches("A-02 schannel-hotfix-942841-overwritten:")
            .count(),
        1
    );
    assert_eq!(
        text.matches("A-03 dns-dhcp-infrastructure-misconfigured:")
            .count(),
        1
    );
    assert!(
        text.contains(
            "  text:   A-02.sp2 (amtopmgr.log, SP2; partial match: your line is part of this text);"
        ),
        "{text}"
    );

    // The German doc joins the two A-19 lines with "and".
    let e = explain(
        "Description: A security error occurred and Error code: 0x80072F8F",
        &[],
    );
    assert_eq!(ids(&e), vec!["A-19.description", "A-19.code"]);
    assert!(e.matches.iter().all(|m| m.kind == MatchKind::TextInLine));

    // Too short to be a piece of anything.
    let e = explain("Error: Device", &[]);
    assert!(e.matches.is_empty());
}

#[test]
fn a_multi_line_paste_is_joined() {
    let pasted = "Error: Device internal error. This may be caused by:\n\
        1. SChannel hotfix applied that can send our root certificate in provisioning certificate chain.\n\
        2. incorrect network configuration(DHCP option 6 and 15 required for AMT firmware).\n\
        3. AMT firmware self signed certificate issue(date zero).\n\
        4. AMT firmware is not ready for PKI provisioning. Check network interface is opening and AMT is in PKI mode.\n\
        5. Service point is trying to establish connection with wireless IP address of AMT firmware but wireless management has NOT enabled yet. AMT firmware doesn't support provision through wireless connection.";
    let e = explain(pasted, &[]);
    assert_eq!(ids(&e), vec!["A-02.sp2"]);
    assert_eq!(e.matches[0].kind, MatchKind::Tolerant);
}

#[test]
fn non_catalog_texts_match_and_say_so() {
    let e = explain(
        "Received AMT Hello message from 10.0.0.5 for device 8a3c0000-0000-0000-0000-000000000001.",
        &scenarios(),
    );
    assert_eq!(ids(&e), vec!["hello.received"]);
    let m = &e.matches[0];
    assert_eq!(m.kind, MatchKind::Exact);
    assert!(m.entries.is_empty());
    assert_eq!(
        values(m),
        vec![
            ("ip", "10.0.0.5"),
            ("uuid", "8a3c0000-0000-0000-0000-000000000001")
        ]
    );
    assert_eq!(
        m.scenarios.len(),
        1,
        "the flow scenario names hello.received"
    );
    let text = e.to_string();
    assert!(
        text.starts_with(
            "hello.received: not an error-catalog entry (amtopmgr.log, SP1 and SP2; exact match)"
        ),
        "{text}"
    );
    assert!(text.contains("amt-conformance run scenarios/flow.yaml"));
}

#[test]
fn no_match_gives_the_nearest_texts() {
    let e = explain(
        "The hash list of the device does not contain the certificate",
        &[],
    );
    assert!(e.matches.is_empty());
    assert_eq!(
        e.suggestions.first().map(|s| s.text_id.as_str()),
        Some("A-11")
    );
    assert!(e.suggestions.len() <= MAX_SUGGESTIONS);
    assert!(
        e.entries_without_log_line
            .contains(&"A-05 disjoint-namespace-unsupported".to_owned())
    );
    let text = e.to_string();
    assert!(text.contains("no catalog text matches"), "{text}");
    assert!(
        text.contains("nearest texts:\n  A-11: Error: The hash list"),
        "{text}"
    );

    let e = explain("zzzz qqqq", &[]);
    assert!(e.matches.is_empty() && e.suggestions.is_empty());
    assert!(
        e.to_string()
            .contains("no catalog text shares a word with it")
    );
}

#[test]
fn scenario_sources_name_entries_as_whole_words() {
    assert!(names_token("error-catalog A-18", "A-18"));
    assert!(names_token("error-catalog a-18, seed 001", "A-18"));
    assert!(names_token("error-catalog A-02/A-03", "A-03"));
    assert!(names_token("A-18.isc line", "A-18"));
    assert!(!names_token("error-catalog A-180", "A-18"));
    assert!(!names_token("error-catalog XA-18", "A-18"));
    assert!(!names_token("A-18-bis", "A-18"));
    assert!(!names_token("anything", ""));

    let e = explain(
        "Error: Device internal error. Check Schannel, provision certificate, network configuration, device.",
        &scenarios(),
    );
    let m = &e.matches[0];
    assert_eq!(entry_ids(m), vec!["A-02", "A-03"]);
    for entry in &m.entries {
        let commands: Vec<&str> = entry.scenarios.iter().map(|s| s.command.as_str()).collect();
        assert_eq!(
            commands,
            vec!["amt-conformance run 'scenarios/my dir/a02.yaml'"],
            "{}",
            entry.entry.id
        );
    }
}

#[test]
fn the_matcher_handles_wildcards_on_both_sides() {
    let t = template_tokens("a {x} b {y}");
    assert_eq!(
        align(&input_tokens("a 1 b 22"), &t, same, 0),
        Some(vec![Some("1".to_owned()), Some("22".to_owned())])
    );
    assert_eq!(
        align(&input_tokens("a ... b 22"), &t, same, 0),
        Some(vec![None, Some("22".to_owned())])
    );
    assert_eq!(align(&input_tokens("a 1 c 22"), &t, same, 0), None);
    assert_eq!(
        align(&input_tokens("A 1 B 2"), &t, same, 0),
        None,
        "strict is case-sensitive"
    );
    assert!(align(&input_tokens("A 1 B 2"), &t, fold, 0).is_some());
    assert_eq!(
        normalize(&input_tokens("  x \t y ...  ")),
        vec![
            Tok::Lit('x'),
            Tok::Lit(' '),
            Tok::Lit('y'),
            Tok::Lit(' '),
            Tok::Any(None)
        ],
        "a final `...` is a wildcard, not a period"
    );
    assert_eq!(
        normalize(&input_tokens("x y. ")),
        vec![Tok::Lit('x'), Tok::Lit(' '), Tok::Lit('y')]
    );
    assert_eq!(
        input_tokens("{} <>"),
        vec![
            Tok::Lit('{'),
            Tok::Lit('}'),
            Tok::Lit(' '),
            Tok::Lit('<'),
            Tok::Lit('>')
        ],
        "empty braces are text"
    );
}

#[test]
fn long_input_is_bounded() {
    let long = format!("{A18_ISC} {}", "x".repeat(10 * MAX_INPUT_CHARS));
    let e = explain(&long, &[]);
    assert!(e.notes.iter().any(|n| n.contains("only its start")));
    assert_eq!(ids(&e), vec!["A-18.isc"]);
    assert_eq!(e.matches[0].kind, MatchKind::TextInLine);
    assert_eq!(e.input.chars().count(), MAX_INPUT_CHARS);
}

#[test]
fn json_output_carries_entries_flattened() -> Result<(), serde_json::Error> {
    let e = explain(A18_ISC, &scenarios());
    let json = serde_json::to_value(&e)?;
    assert_eq!(json["framing"], "bare");
    assert_eq!(json["matches"][0]["text_id"], "A-18.isc");
    assert_eq!(json["matches"][0]["kind"], "exact");
    assert_eq!(json["matches"][0]["versions"], "both");
    assert_eq!(json["matches"][0]["wording"], "verbatim-from-german");
    assert_eq!(
        json["matches"][0]["files"],
        serde_json::json!(["amtopmgr.log", "amtproxymgr.log"])
    );
    let entry = &json["matches"][0]["entries"][0];
    assert_eq!(entry["id"], "A-18");
    assert_eq!(entry["name"], "root-ca-key-over-2048");
    assert_eq!(entry["log"], "documented");
    assert_eq!(
        entry["scenarios"][0]["path"],
        "scenarios/a18-root-key-over-2048.yaml"
    );
    Ok(())
}

#[test]
fn human_output_for_the_a18_line() {
    let line = format!(
        "{A18_ISC}  $$<SMS_AMT_OPERATION_MANAGER><12-06-2016 03:11:46.039+480><thread=2880 (0x0B40)>"
    );
    insta::assert_snapshot!(explain(&line, &scenarios()).to_string());
}

#[test]
fn human_output_without_a_match() {
    insta::assert_snapshot!(
        explain("The AMT device refused the certificate chain", &[]).to_string()
    );
}

#[test]
fn a_placeholder_cannot_swallow_a_partial_line() {
    let template = template_tokens("Start of the text {x} and its end.");
    let mut line = vec![Tok::Any(None)];
    line.extend(input_tokens("a whole line with none of the words"));
    line.push(Tok::Any(None));
    assert_eq!(align(&line, &template, fold, 0), Some(vec![None]));
    assert_eq!(align(&line, &template, fold, MIN_PARTIAL_CHARS), None);
    let e = explain("a whole line with none of the words of any text", &[]);
    assert!(e.matches.is_empty(), "{:?}", ids(&e));
}

#[test]
fn entries_can_be_looked_up_and_found_in_sources() {
    assert_eq!(
        lookup_entry("A-12").map(|e| e.name.as_str()),
        Some("inband-no-valid-hash-match")
    );
    assert!(lookup_entry("A-21").is_none());
    let named: Vec<&str> = entries_named_in("error-catalog A-02/A-03, see also A-180")
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(named, vec!["A-02", "A-03"]);
    assert!(entries_named_in("seed 004 provisioning flow").is_empty());
}

#[test]
fn human_output_for_a_line_shared_by_two_entries_and_two_texts() {
    insta::assert_snapshot!(explain("Error: Device internal error.", &scenarios()).to_string());
}

#[test]
fn every_catalog_text_explains_back_from_its_framed_line() {
    for text in CATALOG {
        let names = text.placeholders();
        assert_eq!(
            template_tokens(text.template)
                .iter()
                .filter(|t| matches!(t, Tok::Any(Some(_))))
                .count(),
            names.len(),
            "{}: same placeholder rule as the log catalog",
            text.id
        );
        let owned: Vec<(&str, String)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, format!("v{i}-{n}")))
            .collect();
        let args: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let mut logs = Logs::new(LogConfig::default());
        let id = LogId::by_name(text.id);
        assert_eq!(
            id.map(|id| logs.emit(id, &args, Timestamp::EPOCH)),
            Some(Ok(())),
            "{}",
            text.id
        );
        let lines = logs.lines(text.file);
        let line = lines.last().map_or("", String::as_str);
        let e = explain(line, &[]);
        let m = e.matches.iter().find(|m| m.text_id == text.id);
        assert_eq!(
            m.map(|m| m.kind),
            Some(MatchKind::Exact),
            "{}: {line}",
            text.id
        );
        let found: Vec<(&str, String)> = m.map_or_else(Vec::new, |m| {
            m.values
                .iter()
                .map(|v| (v.name.as_str(), v.value.clone()))
                .collect()
        });
        assert_eq!(found, owned, "{}", text.id);
        assert_eq!(
            m.map(|m| m.entries.is_empty()),
            Some(entry_key(text.id).is_none()),
            "{}",
            text.id
        );
    }
}

#[test]
fn odd_inputs_never_panic() {
    for line in [
        "",
        "{",
        "<",
        "}{",
        "<<>>",
        "…",
        "....",
        "$$<",
        "x  $$<A><B><thread=",
        "<![LOG[",
        "<![LOG[]LOG]!>",
        "é ü ß 漢字 {uuid} <ip> ... Error: 🙂",
        "\r\n\r\n",
        "**** Error {hex",
    ] {
        let e = explain(line, &scenarios());
        let shown = e.to_string();
        assert!(!shown.is_empty(), "{line:?}");
        assert!(serde_json::to_string(&e).is_ok(), "{line:?}");
    }
}

#[test]
fn site_lines_and_status_ids_find_their_entry() {
    let scenarios = vec![scenario(
        "k01",
        "seed 000 (bb693771); K-01",
        "scenarios/k01-secondary-without-key-transfer.yaml",
    )];
    let e = explain(
        "Cannot find valid public key for key exchange instruction coming from site S01",
        &scenarios,
    );
    assert_eq!(ids(&e), ["K-01.no-key-exchange"]);
    assert_eq!(entry_ids(&e.matches[0]), ["K-01"]);
    assert_eq!(e.matches[0].entries[0].scenarios.len(), 1);
    let framed = "~Signature checked out OK for instruction coming from site CS1, proceed with the instruction execution.  $$<SMS_DESPOOLER><05-16-2016 12:24:11.190+240><thread=4072 (0x0FE8)>";
    let e = explain(framed, &scenarios);
    assert_eq!(ids(&e), ["K-00.sig-ok"]);
    assert_eq!(e.matches[0].files, vec![LogFile::Despool]);
    for q in ["5112", "status message 5112", "Status 5112"] {
        let e = explain(q, &[]);
        assert_eq!(ids(&e), ["N-01.statmsg-5112"], "{q}");
        assert_eq!(e.matches[0].kind, MatchKind::StatusMessage);
        assert!(
            e.notes
                .iter()
                .any(|n| n.contains("will expire in %2 day(s)")),
            "{:?}",
            e.notes
        );
    }
    assert_eq!(ids(&explain("status 4404", &[])), ["K-01.statmsg-4404"]);
    assert!(explain("status 1234", &[]).matches.is_empty());
}
