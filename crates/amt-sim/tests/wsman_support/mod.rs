//! Shared test harness for the `wsman_*` integration tests: a device (facts, NVRAM, engine,
//! seeded RNG, clock), GWM-shaped request builders and response readers that also check every
//! response parses as a WS-MAN envelope and has no self-closing tag.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]

use amt_sim::state::NvramState;
use amt_sim::wsman::{DeviceFacts, Engine, Note, RequestContext, Session};
use amt_wire::time::Timestamp;
use amt_wire::wsman::{Element, Envelope, Limits};
use rand::SeedableRng;

pub(crate) const AMT: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/";
pub(crate) const CIM: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/";
pub(crate) const IPS: &str = "http://intel.com/wbem/wscim/1/ips-schema/1/";
pub(crate) const TRANSFER: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/";
pub(crate) const ENUM: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration";
pub(crate) const ANON: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous";

/// 2026-01-01T00:00:00Z.
pub(crate) const NOW: Timestamp = Timestamp::from_unix_secs(1_767_225_600);

/// A device under test.
pub(crate) struct Device {
    pub(crate) facts: DeviceFacts,
    pub(crate) state: NvramState,
    pub(crate) engine: Engine,
    pub(crate) rng: rand_chacha::ChaCha8Rng,
    pub(crate) now: Timestamp,
    pub(crate) next_id: u32,
    pub(crate) override_return: Option<u32>,
    /// Requests come over the local host interface (host-based setup), not the network.
    pub(crate) host_interface: bool,
}

/// One answer.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) envelope: Option<Envelope>,
    pub(crate) notes: Vec<Note>,
    pub(crate) changed: bool,
}

impl Device {
    pub(crate) fn new() -> Self {
        Self::with_facts(DeviceFacts::sample())
    }

    pub(crate) fn with_facts(facts: DeviceFacts) -> Self {
        let state = NvramState::factory(&facts, 7);
        Self {
            facts,
            state,
            engine: Engine::new(),
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(99),
            now: NOW,
            next_id: 0,
            override_return: None,
            host_interface: false,
        }
    }

    /// Send raw XML over `session`.
    pub(crate) fn send_xml(&mut self, session: Session, xml: &str) -> Response {
        let request = Envelope::parse(xml.as_bytes(), &Limits::default())
            .unwrap_or_else(|e| panic!("request does not parse: {e}\n{xml}"));
        let now =
            Timestamp::from_unix_millis(self.now.unix_millis() + self.state.clock_offset_ms());
        let mut ctx = RequestContext {
            facts: &self.facts,
            now,
            session,
            local_port: 16993,
            host_interface: self.host_interface,
            rng: &mut self.rng,
            return_value_override: self.override_return,
        };
        let outcome = self.engine.handle(&mut self.state, &mut ctx, &request);
        let body = String::from_utf8(outcome.body).expect("utf-8 body");
        assert!(
            !body.contains("/>"),
            "self-closing tag in response:\n{body}"
        );
        assert!(!body.contains("CDATA"), "CDATA in response:\n{body}");
        let envelope = if body.is_empty() {
            None
        } else {
            Some(
                Envelope::parse(body.as_bytes(), &Limits::for_responses())
                    .unwrap_or_else(|e| panic!("response does not parse: {e}\n{body}")),
            )
        };
        Response {
            status: outcome.http_status,
            body,
            envelope,
            notes: outcome.notes,
            changed: outcome.state_changed,
        }
    }

    pub(crate) fn setup(&mut self, xml: &str) -> Response {
        self.send_xml(Session::Setup, xml)
    }

    pub(crate) fn admin(&mut self, xml: &str) -> Response {
        let user = self
            .state
            .admin_credential()
            .map(|(u, _)| u.to_owned())
            .unwrap_or_default();
        self.send_xml(Session::Digest { user }, xml)
    }

    pub(crate) fn id(&mut self) -> String {
        self.next_id += 1;
        self.next_id.to_string()
    }

    /// Enumerate + Pull everything (MaxElements 999) and return the items.
    pub(crate) fn enumerate_all(&mut self, session: Session, uri: &str) -> Vec<Element> {
        let id = self.id();
        let r = self.send_xml(session.clone(), &enumerate(&id, uri, ""));
        assert_eq!(r.status, 200, "{}", r.body);
        let mut context = r.find_text("EnumerationContext").expect("context");
        let mut items = Vec::new();
        loop {
            let id = self.id();
            let r = self.send_xml(session.clone(), &pull(&id, uri, &context, 999, None));
            assert_eq!(r.status, 200, "{}", r.body);
            let body = r.body_element();
            let list = body.child_by_local_name("Items").expect("Items");
            items.extend(list.elements().cloned());
            match body.child_by_local_name("EnumerationContext") {
                Some(c) => context = c.text().into_owned(),
                None => {
                    assert!(body.child_by_local_name("EndOfSequence").is_some());
                    break;
                }
            }
        }
        items
    }
}

impl Response {
    pub(crate) fn body_element(&self) -> &Element {
        self.envelope
            .as_ref()
            .and_then(|e| e.body.as_ref())
            .unwrap_or_else(|| panic!("no body: {}", self.body))
    }

    /// Text of the first descendant element with this local name.
    pub(crate) fn find_text(&self, local: &str) -> Option<String> {
        find(self.body_element(), local).map(|e| e.text().into_owned())
    }

    pub(crate) fn return_value(&self) -> u32 {
        self.find_text("ReturnValue")
            .unwrap_or_else(|| panic!("no ReturnValue: {}", self.body))
            .parse()
            .expect("number")
    }

    pub(crate) fn action(&self) -> String {
        self.envelope
            .as_ref()
            .map(|e| e.header.action.clone())
            .unwrap_or_default()
    }

    pub(crate) fn fault_subcode(&self) -> Option<String> {
        let envelope = self.envelope.as_ref()?;
        let fault = envelope.fault().ok()??;
        fault.subcode_local().map(str::to_owned)
    }
}

/// First descendant (or self) with local name `local`.
pub(crate) fn find<'a>(e: &'a Element, local: &str) -> Option<&'a Element> {
    if e.name == local {
        return Some(e);
    }
    e.elements().find_map(|c| find(c, local))
}

/// All descendants with local name `local`.
pub(crate) fn find_all<'a>(e: &'a Element, local: &str, out: &mut Vec<&'a Element>) {
    if e.name == local {
        out.push(e);
    }
    for c in e.elements() {
        find_all(c, local, out);
    }
}

/// A GWM-shaped request.
pub(crate) fn request(
    id: &str,
    action: &str,
    uri: &str,
    selectors: &[(&str, &str)],
    body: &str,
) -> String {
    let mut sel = String::new();
    if !selectors.is_empty() {
        sel.push_str("<w:SelectorSet>");
        for (n, v) in selectors {
            sel.push_str(&format!("<w:Selector Name=\"{n}\">{v}</w:Selector>"));
        }
        sel.push_str("</w:SelectorSet>");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Envelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\" xmlns=\"http://www.w3.org/2003/05/soap-envelope\"><Header><a:Action>{action}</a:Action><a:To>/wsman</a:To><w:ResourceURI>{uri}</w:ResourceURI><a:MessageID>{id}</a:MessageID><a:ReplyTo><a:Address>{ANON}</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout>{sel}</Header><Body>{body}</Body></Envelope>"
    )
}

pub(crate) fn get(id: &str, uri: &str, selectors: &[(&str, &str)]) -> String {
    request(id, &format!("{TRANSFER}Get"), uri, selectors, "")
}

pub(crate) fn delete(id: &str, uri: &str, selectors: &[(&str, &str)]) -> String {
    request(id, &format!("{TRANSFER}Delete"), uri, selectors, "")
}

pub(crate) fn put(
    id: &str,
    uri: &str,
    selectors: &[(&str, &str)],
    class: &str,
    props: &str,
) -> String {
    let body = format!("<h:{class} xmlns:h=\"{uri}\">{props}</h:{class}>");
    request(id, &format!("{TRANSFER}Put"), uri, selectors, &body)
}

pub(crate) fn create(id: &str, uri: &str, class: &str, props: &str) -> String {
    let body = format!("<h:{class} xmlns:h=\"{uri}\">{props}</h:{class}>");
    request(id, &format!("{TRANSFER}Create"), uri, &[], &body)
}

pub(crate) fn enumerate(id: &str, uri: &str, extra: &str) -> String {
    let body = format!("<Enumerate xmlns=\"{ENUM}\">{extra}</Enumerate>");
    request(id, &format!("{ENUM}/Enumerate"), uri, &[], &body)
}

pub(crate) fn pull(id: &str, uri: &str, context: &str, max: u32, max_chars: Option<u32>) -> String {
    let chars = max_chars
        .map(|c| format!("<MaxCharacters>{c}</MaxCharacters>"))
        .unwrap_or_default();
    let body = format!(
        "<Pull xmlns=\"{ENUM}\"><EnumerationContext>{context}</EnumerationContext><MaxElements>{max}</MaxElements>{chars}</Pull>"
    );
    request(id, &format!("{ENUM}/Pull"), uri, &[], &body)
}

pub(crate) fn release(id: &str, uri: &str, context: &str) -> String {
    let body = format!(
        "<Release xmlns=\"{ENUM}\"><EnumerationContext>{context}</EnumerationContext></Release>"
    );
    request(id, &format!("{ENUM}/Release"), uri, &[], &body)
}

/// A method call: `<h:Method_INPUT xmlns:h="uri">inputs</h:Method_INPUT>`.
pub(crate) fn invoke(
    id: &str,
    uri: &str,
    method: &str,
    selectors: &[(&str, &str)],
    inputs: &str,
) -> String {
    let body = format!("<h:{method}_INPUT xmlns:h=\"{uri}\">{inputs}</h:{method}_INPUT>");
    request(id, &format!("{uri}/{method}"), uri, selectors, &body)
}

/// An EPR as GWM writes it inside a method input or Create body.
pub(crate) fn epr(uri: &str, selectors: &[(&str, &str)]) -> String {
    let sel: String = selectors
        .iter()
        .map(|(n, v)| format!("<w:Selector Name=\"{n}\">{v}</w:Selector>"))
        .collect();
    format!(
        "<a:Address>/wsman</a:Address><a:ReferenceParameters><w:ResourceURI>{uri}</w:ResourceURI><w:SelectorSet>{sel}</w:SelectorSet></a:ReferenceParameters>"
    )
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn unb64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .expect("base64")
}

/// DER of the first certificate in a PEM file under `certs/`.
pub(crate) fn cert_der(name: &str) -> Vec<u8> {
    pem_blocks(name).into_iter().next().expect("a certificate")
}

/// DERs of all PEM blocks in a file under `certs/`.
pub(crate) fn pem_blocks(name: &str) -> Vec<Vec<u8>> {
    let path = format!("{}/../../certs/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("-----BEGIN") {
            current = Some(String::new());
        } else if line.starts_with("-----END") {
            if let Some(b) = current.take() {
                out.push(unb64(&b));
            }
        } else if let Some(b) = current.as_mut() {
            b.push_str(line.trim());
        }
    }
    out
}

pub(crate) fn read_cert_file(name: &str) -> String {
    let path = format!("{}/../../certs/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
