//! Integration tests of the WS-Management codec: hostile inputs give specific typed errors,
//! sample requests in real clients' styles parse, golden responses stay byte-identical, and
//! property tests for never-panic / bounded parsing and emit → parse round trips.
//!
//! The sample requests under `testdata/wsman/requests` are hand-written in the style of each
//! client (GWM, MeshCentral, amtctrl/openwsman), not captures. Golden files are rewritten with
//! `UPDATE_GOLDEN=1`.

/// Everything lives in one module so that `cargo test -p amt-wire wsman` selects these tests.
mod wsman_codec {
    use std::path::PathBuf;
    use std::time::Duration;

    use amt_wire::wsman::names::{
        ACTION_ENUMERATE_RESPONSE, ACTION_GET_RESPONSE, ACTION_PULL_RESPONSE, AMT_SCHEMA,
        ANONYMOUS, WSMAN,
    };
    use amt_wire::wsman::{
        Element, Envelope, Fault, FaultCode, Header, Limits, Locale, MaxEnvelopeSize, Node,
        OperationTimeout, OptionSet, QualifiedName, Request, ResponseHeader, Selector,
        SelectorValue, WsmanError, WsmanOption, emit_response, enumeration,
    };
    use proptest::prelude::*;

    fn parse(input: &[u8]) -> Result<Envelope, WsmanError> {
        Envelope::parse(input, &Limits::default())
    }

    fn testdata(rel: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/wsman")
            .join(rel)
    }

    const GWM_GET: &str = include_str!("../testdata/wsman/requests/gwm_get_general_settings.xml");

    #[test]
    fn billion_laughs_is_rejected_fast() {
        let mut xml = String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
        for i in 1..=9 {
            let prev = if i == 1 {
                "lol".to_owned()
            } else {
                format!("lol{}", i - 1)
            };
            xml.push_str(&format!(
                "<!ENTITY lol{i} \"{}\">",
                format!("&{prev};").repeat(10)
            ));
        }
        xml.push_str("]><lolz>&lol9;</lolz>");
        assert_eq!(
            parse(xml.as_bytes()).unwrap_err(),
            WsmanError::Doctype { offset: 21 }
        );
        // The same entity used without its DTD is just an unknown entity.
        let err = parse(b"<lolz>&lol9;</lolz>").unwrap_err();
        assert_eq!(err.id(), "wsman/unknown-entity");
    }

    #[test]
    fn external_entity_doctype_is_rejected() {
        let xml = r#"<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&xxe;</s:Body></s:Envelope>"#;
        assert_eq!(parse(xml.as_bytes()).unwrap_err().id(), "wsman/doctype");
        // A DOCTYPE after the root, or an unterminated one, is rejected too.
        let late = format!("{}<!DOCTYPE x>", GWM_GET.trim_end());
        assert!(parse(late.as_bytes()).is_err());
        assert_eq!(parse(b"<!DOCTYPE x [").unwrap_err().id(), "wsman/doctype");
    }

    #[test]
    fn depth_bomb_hits_depth_limit() {
        let bomb = "<a>".repeat(20_000);
        assert_eq!(
            parse(bomb.as_bytes()).unwrap_err(),
            WsmanError::TooDeep {
                limit: 32,
                offset: 96
            }
        );
        let bomb = "<a>".repeat(300_000);
        assert_eq!(
            Envelope::parse(bomb.as_bytes(), &Limits::for_responses())
                .unwrap_err()
                .id(),
            "wsman/too-deep"
        );
    }

    #[test]
    fn oversize_is_rejected_before_parsing() {
        let mut big = GWM_GET.as_bytes().to_vec();
        big.resize(64 * 1024 + 1, b' ');
        assert_eq!(
            parse(&big).unwrap_err(),
            WsmanError::TooLarge {
                size: 65_537,
                limit: 65_536
            }
        );
        big.truncate(64 * 1024);
        assert!(parse(&big).is_ok());
    }

    #[test]
    fn element_and_text_bombs_hit_limits() {
        let wide = format!("<a>{}</a>", "<b></b>".repeat(5000));
        assert_eq!(
            parse(wide.as_bytes()).unwrap_err().id(),
            "wsman/too-many-elements"
        );
        let text = format!("<a>{}</a>", "x".repeat(40_000));
        assert_eq!(
            parse(text.as_bytes()).unwrap_err().id(),
            "wsman/text-too-long"
        );
        let attrs: String = (0..40).map(|i| format!(" x{i}=\"1\"")).collect();
        let attrs = format!("<a{attrs}></a>");
        assert_eq!(
            parse(attrs.as_bytes()).unwrap_err().id(),
            "wsman/too-many-attributes"
        );
    }

    #[test]
    fn wrong_namespace_action_and_missing_body() {
        let wrong = GWM_GET
            .replace("<a:Action>", "<x:Action xmlns:x=\"urn:wrong\">")
            .replace("</a:Action>", "</x:Action>");
        assert_eq!(
            parse(wrong.as_bytes()).unwrap_err(),
            WsmanError::MissingAction
        );
        let no_body = GWM_GET.replace("<Body></Body>", "");
        assert_eq!(
            parse(no_body.as_bytes()).unwrap_err(),
            WsmanError::MissingBody
        );
    }

    #[test]
    fn every_truncation_is_a_typed_error() {
        let bytes = GWM_GET.trim_end().as_bytes();
        for cut in 0..bytes.len() {
            let err = parse(&bytes[..cut]).unwrap_err();
            assert!(
                matches!(
                    err.id(),
                    "wsman/truncated" | "wsman/no-root-element" | "wsman/malformed"
                ),
                "cut at {cut}: {err}"
            );
        }
        assert!(parse(bytes).is_ok());
    }

    #[test]
    fn non_utf8_and_garbage() {
        let latin1 = GWM_GET.replace("PT60S", "PT60S\u{e9}").into_bytes();
        let pos = latin1.iter().position(|&b| b == 0xc3).unwrap();
        let mut latin1 = latin1;
        latin1.splice(pos..pos + 2, [0xe9]);
        assert_eq!(
            parse(&latin1).unwrap_err(),
            WsmanError::NotUtf8 { offset: pos }
        );
        let utf16: Vec<u8> = "\u{feff}<a/>"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(parse(&utf16).unwrap_err().id(), "wsman/not-utf8");

        let cases: &[(&[u8], &str)] = &[
            (b"HTTP/1.1 200 OK\r\n\r\n", "wsman/malformed"),
            (b"{\"json\": true}", "wsman/malformed"),
            (b"<<<>>>", "wsman/truncated"),
            (b"\x00\x01\x02", "wsman/malformed"),
            (
                b"<html><body>Bad Request</body></html>",
                "wsman/not-an-envelope",
            ),
            (b"", "wsman/no-root-element"),
        ];
        for (input, id) in cases {
            assert_eq!(parse(input).unwrap_err().id(), *id, "{input:?}");
        }
        let trailing = format!("{}<x/>", GWM_GET.trim_end());
        assert_eq!(
            parse(trailing.as_bytes()).unwrap_err().id(),
            "wsman/trailing-content"
        );
        let trailing = format!("{}garbage", GWM_GET.trim_end());
        assert_eq!(
            parse(trailing.as_bytes()).unwrap_err().id(),
            "wsman/trailing-content"
        );
    }

    #[test]
    fn errors_map_to_faults() {
        let fault = parse(b"<!DOCTYPE x><x/>").unwrap_err().to_fault();
        assert_eq!(fault.code, FaultCode::Sender);
        assert!(fault.is(WSMAN, "SchemaValidationError"));
        let big = vec![b' '; 70_000];
        assert!(
            parse(&big)
                .unwrap_err()
                .to_fault()
                .is(WSMAN, "EncodingLimit")
        );
    }

    #[test]
    fn sample_requests_parse() {
        let dir = testdata("requests");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        assert!(names.len() >= 4);
        for path in names {
            let bytes = std::fs::read(&path).unwrap();
            let env = parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!env.header.action.is_empty());
            assert!(env.header.not_understood.is_empty(), "{}", path.display());
        }

        let power = std::fs::read(testdata("requests/amtctrl_power_change.xml")).unwrap();
        let env = parse(&power).unwrap();
        let body = env.body.unwrap();
        let ns = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_PowerManagementService";
        assert_eq!(body.child_text(ns, "PowerState").as_deref(), Some("2"));
        let selector = body
            .child(ns, "ManagedElement")
            .and_then(|m| m.child_by_local_name("ReferenceParameters"))
            .and_then(|r| r.child(WSMAN, "SelectorSet"))
            .and_then(|s| s.child(WSMAN, "Selector"))
            .unwrap();
        assert_eq!(selector.attribute(Some(WSMAN), "Name"), Some("Name"));
        assert_eq!(selector.text(), "ManagedSystem");

        let put = std::fs::read(testdata("requests/meshcentral_put_tls_settings.xml")).unwrap();
        let env = parse(&put).unwrap();
        assert_eq!(
            env.header.selector_set,
            vec![Selector {
                name: "InstanceID".to_owned(),
                value: SelectorValue::Text("Intel(r) AMT 802.3 TLS Settings".to_owned()),
            }]
        );
    }

    fn check_golden(name: &str, actual: &str) {
        let path = testdata("golden").join(name);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, actual).unwrap();
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
        assert_eq!(actual, expected, "golden {name} differs");
    }

    #[test]
    fn golden_responses() {
        let ns = format!("{AMT_SCHEMA}AMT_GeneralSettings");
        let settings = Element::prefixed("g", ns.as_str(), "AMT_GeneralSettings")
            .with_property("AMTNetworkEnabled", "1")
            .with_property("DigestRealm", "Digest:62FFAC181B3F3457C5B3894ED21F3E6E")
            .with_property("DomainName", "")
            .with_property("ElementName", "Intel(r) AMT: General Settings")
            .with_property("HostName", "")
            .with_property("InstanceID", "Intel(r) AMT: General Settings");
        let get = emit_response(
            &ResponseHeader {
                action: ACTION_GET_RESPONSE.to_owned(),
                relates_to: Some("0".to_owned()),
                message_id: "uuid:00000000-8086-8086-8086-000000000001".to_owned(),
                resource_uri: Some(ns.clone()),
            },
            Some(&settings),
        );
        check_golden("get_general_settings_response.xml", &get);

        let item = Element::prefixed("h", ns.as_str(), "AMT_GeneralSettings")
            .with_property("InstanceID", "Intel(r) AMT: General Settings");
        let pull = emit_response(
            &ResponseHeader {
                action: ACTION_PULL_RESPONSE.to_owned(),
                relates_to: Some("3".to_owned()),
                message_id: "uuid:00000000-8086-8086-8086-000000000003".to_owned(),
                resource_uri: Some(ns.clone()),
            },
            Some(&enumeration::pull_response(vec![item], None)),
        );
        check_golden("pull_last_page_response.xml", &pull);

        let enumerate = emit_response(
            &ResponseHeader {
                action: ACTION_ENUMERATE_RESPONSE.to_owned(),
                relates_to: Some("2".to_owned()),
                message_id: "uuid:00000000-8086-8086-8086-000000000002".to_owned(),
                resource_uri: Some(ns),
            },
            Some(&enumeration::enumerate_response(
                "14000000-0000-0000-0000-000000000000",
                None,
            )),
        );
        check_golden("enumerate_response.xml", &enumerate);

        // An optimized enumeration whose items all fitted: EndOfSequence, no context
        // (DSP0226 §8.2.3). MeshCentral's parser reads it in `cargo xtask interop wire`.
        let item = Element::prefixed(
            "h",
            format!("{AMT_SCHEMA}AMT_GeneralSettings"),
            "AMT_GeneralSettings",
        )
        .with_property("InstanceID", "Intel(r) AMT: General Settings");
        let optimized = emit_response(
            &ResponseHeader {
                action: ACTION_ENUMERATE_RESPONSE.to_owned(),
                relates_to: Some("4".to_owned()),
                message_id: "uuid:00000000-8086-8086-8086-000000000006".to_owned(),
                resource_uri: Some(format!("{AMT_SCHEMA}AMT_GeneralSettings")),
            },
            Some(&enumeration::optimized_enumerate_response(vec![item], None)),
        );
        assert!(!optimized.contains("EnumerationContext"), "{optimized}");
        check_golden("optimized_enumerate_complete_response.xml", &optimized);

        let fault =
            Fault::already_exists().emit(Some("9"), "uuid:00000000-8086-8086-8086-000000000004");
        check_golden("already_exists_fault.xml", &fault);
        let fault = Fault::destination_unreachable(None)
            .emit(Some("10"), "uuid:00000000-8086-8086-8086-000000000005");
        check_golden("destination_unreachable_fault.xml", &fault);

        for xml in [&get, &pull, &enumerate, &optimized, &fault] {
            assert!(!xml.contains("/>"), "{xml}");
            assert!(!xml.contains("<![CDATA["), "{xml}");
            assert!(!xml.starts_with("<?xml"), "{xml}");
            parse(xml.as_bytes()).unwrap();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Property tests

    /// Small limits so that random inputs reach every limit.
    const SMALL: Limits = Limits {
        max_bytes: 4096,
        max_depth: 6,
        max_elements: 40,
        max_attributes_per_element: 4,
        max_text_len: 64,
    };

    /// Assert a parsed tree respects `limits`.
    fn assert_within(element: &Element, limits: &Limits, depth: usize, count: &mut usize) {
        assert!(depth <= limits.max_depth);
        *count += 1;
        assert!(*count <= limits.max_elements);
        assert!(
            element.attributes.len() + element.declarations.len()
                <= limits.max_attributes_per_element
        );
        for a in &element.attributes {
            assert!(a.value.len() <= limits.max_text_len);
        }
        for child in &element.children {
            match child {
                Node::Element(e) => assert_within(e, limits, depth + 1, count),
                Node::Text(t) => assert!(t.len() <= limits.max_text_len),
            }
        }
    }

    fn corpus() -> Vec<Vec<u8>> {
        let mut out = vec![GWM_GET.as_bytes().to_vec()];
        for name in [
            "gwm_commit_changes.xml",
            "meshcentral_put_tls_settings.xml",
            "amtctrl_power_change.xml",
        ] {
            out.push(std::fs::read(testdata("requests").join(name)).unwrap());
        }
        out.push(
            Fault::invalid_selectors(None)
                .emit(Some("1"), "2")
                .into_bytes(),
        );
        out
    }

    /// Characters XML can carry, biased towards the ones needing escapes and non-ASCII.
    fn xml_char() -> impl Strategy<Value = char> {
        prop_oneof![
            4 => prop::sample::select(vec!['<', '&', '>', '"', '\'', ' ', '\t', '\n', '\r', ']', 'é', '中', '😀', ';', '#']),
            4 => proptest::char::range('a', 'z'),
            1 => any::<char>().prop_filter("xml char", |c| matches!(*c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)),
        ]
    }

    fn xml_string(max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(xml_char(), 0..max).prop_map(|v| v.into_iter().collect())
    }

    /// Header values are trimmed by the parser, so generate them trimmed.
    fn trimmed_string(max: usize) -> impl Strategy<Value = String> {
        xml_string(max).prop_map(|s| s.trim_matches([' ', '\t', '\r', '\n']).to_owned())
    }

    fn name() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "A", "b", "Item", "x-y", "_z", "n.1", "Envelope", "Body",
        ])
        .prop_map(str::to_owned)
    }

    fn namespace() -> impl Strategy<Value = Option<String>> {
        prop::sample::select(vec![
            None,
            Some("urn:a"),
            Some("urn:b"),
            Some("http://x/y?q=1&r=<2>\""),
            Some(WSMAN),
            Some("http://www.w3.org/2003/05/soap-envelope"),
        ])
        .prop_map(|o| o.map(str::to_owned))
    }

    fn prefix() -> impl Strategy<Value = Option<String>> {
        prop::sample::select(vec![
            None,
            Some("p"),
            Some("a"),
            Some("w"),
            Some("g"),
            Some("ns0"),
        ])
        .prop_map(|o| o.map(str::to_owned))
    }

    fn attributes() -> impl Strategy<Value = Vec<amt_wire::wsman::Attribute>> {
        prop::collection::vec((namespace(), name(), prefix(), xml_string(8)), 0..3).prop_map(|v| {
            let mut out: Vec<amt_wire::wsman::Attribute> = Vec::new();
            for (namespace, name, prefix, value) in v {
                if out
                    .iter()
                    .any(|a| a.namespace == namespace && a.name == name)
                {
                    continue;
                }
                out.push(amt_wire::wsman::Attribute {
                    namespace,
                    name,
                    prefix,
                    value,
                });
            }
            out
        })
    }

    fn element() -> impl Strategy<Value = Element> {
        let leaf = (namespace(), name(), prefix(), attributes(), xml_string(12)).prop_map(
            |(namespace, name, prefix, attributes, text)| {
                Element {
                    namespace,
                    name,
                    prefix,
                    attributes,
                    ..Element::default()
                }
                .with_text(text)
            },
        );
        leaf.prop_recursive(4, 24, 4, |inner| {
            (
                namespace(),
                name(),
                prefix(),
                attributes(),
                prop::collection::vec(inner, 0..4),
            )
                .prop_map(|(namespace, name, prefix, attributes, children)| Element {
                    namespace,
                    name,
                    prefix,
                    attributes,
                    children: children.into_iter().map(Node::Element).collect(),
                    ..Element::default()
                })
        })
    }

    fn header() -> impl Strategy<Value = Header> {
        let selectors = prop::collection::vec(
            (
                xml_string(10),
                prop_oneof![
                    trimmed_string(16).prop_map(SelectorValue::Text),
                    element().prop_map(SelectorValue::EndpointReference),
                ],
            )
                .prop_map(|(name, value)| Selector { name, value }),
            0..3,
        );
        let option_set = prop::option::of(
            (
                any::<bool>(),
                prop::collection::vec(
                    (xml_string(6), xml_string(10))
                        .prop_map(|(name, value)| WsmanOption { name, value }),
                    0..3,
                ),
            )
                .prop_map(|(must_understand, options)| OptionSet {
                    must_understand,
                    options,
                }),
        );
        let misc = (
            prop::option::of((0u64..100_000, 0u32..1000)),
            prop::option::of((any::<u32>(), any::<bool>())),
            prop::option::of((xml_string(6), any::<bool>())),
        );
        (
            (
                trimmed_string(40),
                prop::option::of(trimmed_string(20)),
                prop::option::of(trimmed_string(40)),
                prop::option::of(trimmed_string(20)),
                prop::option::of(trimmed_string(20)),
                prop::option::of(trimmed_string(20)),
            ),
            selectors,
            option_set,
            misc,
        )
            .prop_map(
                |(
                    (action, to, resource_uri, message_id, relates_to, reply_to),
                    selector_set,
                    option_set,
                    (timeout, size, locale),
                )| Header {
                    action,
                    to,
                    resource_uri,
                    message_id,
                    relates_to,
                    reply_to,
                    selector_set,
                    operation_timeout: timeout.map(|(s, ms)| {
                        OperationTimeout::from_duration(
                            Duration::from_secs(s) + Duration::from_millis(u64::from(ms)),
                        )
                    }),
                    max_envelope_size: size.map(|(bytes, must_understand)| MaxEnvelopeSize {
                        bytes,
                        must_understand,
                    }),
                    option_set,
                    locale: locale.map(|(lang, must_understand)| Locale {
                        lang,
                        must_understand,
                    }),
                    not_understood: Vec::new(),
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn parse_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = Envelope::parse(&bytes, &SMALL);
            if let Ok(root) = Element::parse(&bytes, &SMALL) {
                assert_within(&root, &SMALL, 1, &mut 0);
            }
        }

        #[test]
        fn parse_never_panics_on_mutated_envelopes(
            which in 0usize..5,
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..8),
        ) {
            let corpus = corpus();
            let mut bytes = corpus[which % corpus.len()].clone();
            for (index, byte, op) in edits {
                if bytes.is_empty() {
                    break;
                }
                let i = index.index(bytes.len());
                match op {
                    0 => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    2 => { bytes.remove(i); }
                    _ => bytes.truncate(i),
                }
            }
            for limits in [SMALL, Limits::default()] {
                let _ = Envelope::parse(&bytes, &limits);
                if let Ok(root) = Element::parse(&bytes, &limits) {
                    assert_within(&root, &limits, 1, &mut 0);
                }
            }
        }

        #[test]
        fn request_round_trips(header in header(), body in prop::option::of(element())) {
            let request = Request { header, body };
            let xml = request.emit();
            prop_assert!(!xml.contains("/>"));
            prop_assert!(!xml.contains("<![CDATA["));
            let parsed = Envelope::parse(xml.as_bytes(), &Limits::default())
                .map_err(|e| TestCaseError::fail(format!("{e}\n{xml}")))?;
            prop_assert_eq!(&parsed.header, &request.header, "{}", xml);
            prop_assert_eq!(&parsed.body, &request.body, "{}", xml);
        }

        #[test]
        fn responses_have_no_self_closing_tags_and_parse_back(
            action in trimmed_string(30),
            relates_to in prop::option::of(trimmed_string(20)),
            message_id in trimmed_string(20),
            resource_uri in prop::option::of(trimmed_string(30)),
            body in prop::option::of(element()),
        ) {
            let header = ResponseHeader { action, relates_to, message_id, resource_uri };
            let xml = emit_response(&header, body.as_ref());
            prop_assert!(!xml.contains("/>"), "{}", xml);
            prop_assert!(!xml.contains("<![CDATA["), "{}", xml);
            let parsed = Envelope::parse(xml.as_bytes(), &Limits::default())
                .map_err(|e| TestCaseError::fail(format!("{e}\n{xml}")))?;
            prop_assert_eq!(parsed.header.action, header.action);
            prop_assert_eq!(parsed.header.relates_to, header.relates_to);
            prop_assert_eq!(parsed.header.message_id, Some(header.message_id));
            prop_assert_eq!(parsed.header.resource_uri, header.resource_uri);
            prop_assert_eq!(parsed.header.to.as_deref(), Some(ANONYMOUS));
            prop_assert_eq!(parsed.body, body);
        }

        #[test]
        fn faults_round_trip(
            reason in xml_string(40),
            detail in prop::option::of(trimmed_string(30)),
            relates_to in prop::option::of(trimmed_string(10)),
            subcode_ns in namespace(),
            local in name(),
            code in prop::sample::select(vec![FaultCode::Sender, FaultCode::Receiver, FaultCode::MustUnderstand]),
        ) {
            let fault = Fault {
                action: "urn:fault".to_owned(),
                code,
                subcode: Some(QualifiedName { namespace: subcode_ns, local }),
                reason,
                detail,
            };
            let xml = fault.emit(relates_to.as_deref(), "m");
            prop_assert!(!xml.contains("/>"), "{}", xml);
            let parsed = Envelope::parse(xml.as_bytes(), &Limits::default())
                .map_err(|e| TestCaseError::fail(format!("{e}\n{xml}")))?;
            prop_assert_eq!(parsed.fault().map_err(|e| TestCaseError::fail(e.to_string()))?, Some(fault));
        }
    }
}
