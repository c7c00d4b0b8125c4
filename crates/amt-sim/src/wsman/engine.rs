//! The request dispatcher: header checks, access control, the WS-Transfer / WS-Enumeration /
//! method operations over the class table, enumeration contexts, and response/fault emission.
//!
//! It deliberately holds no NVRAM itself: the caller passes the state in on every call, so the
//! device core decides when and how it is persisted.

use amt_wire::time::Timestamp;
use amt_wire::wsman::enumeration::{
    EnumerateRequest, EnumerationMode, PullRequest, enumerate_response,
    optimized_enumerate_response, pull_response, release_context,
};
use amt_wire::wsman::fault::{
    DETAIL_INSUFFICIENT_SELECTORS, DETAIL_INVALID_RESOURCE_URI, DETAIL_INVALID_VALUE,
    DETAIL_MINIMUM_ENVELOPE_LIMIT, DETAIL_UNEXPECTED_SELECTORS,
};
use amt_wire::wsman::names::{
    ACTION_CREATE, ACTION_CREATE_RESPONSE, ACTION_DELETE, ACTION_DELETE_RESPONSE, ACTION_ENUMERATE,
    ACTION_ENUMERATE_RESPONSE, ACTION_GET, ACTION_GET_RESPONSE, ACTION_PULL, ACTION_PULL_RESPONSE,
    ACTION_PUT, ACTION_PUT_RESPONSE, ACTION_RELEASE, ACTION_RELEASE_RESPONSE, PREFIX_CLASS,
    PREFIX_ITEM, PREFIX_WSMAN, TRANSFER, WSMAN,
};
use amt_wire::wsman::{Element, Envelope, Fault, ResponseHeader, emit_response};

use super::assoc::{self, AssocQuery};
use super::classes::{self, ClassDef};
use super::model::{Cx, Input, Instance, MethodOut, SelectorMatch, Value, pt};
use super::{Note, Outcome, RequestContext, Session, identify_response, is_identify};
use crate::deviation::Deviation;
use crate::state::{NvramState, ProvisioningState};

/// At most this many open enumeration contexts; the least recently used one is dropped.
const MAX_CONTEXTS: usize = 64;
/// An enumeration context unused for this long is invalid.
const CONTEXT_TTL_MS: i64 = 10 * 60 * 1000;
/// AMT's minimum `MaxEnvelopeSize`.
const MIN_ENVELOPE_SIZE: u32 = 50_000;

/// The WS-Management engine of one device: open enumeration contexts and the response
/// `MessageID` counter. NVRAM is passed in per request.
#[derive(Debug, Default)]
pub struct Engine {
    /// Open enumeration contexts.
    contexts: Vec<EnumContext>,
    /// Counter for context ids.
    next_context: u32,
    /// Counter for response message ids.
    next_message: u64,
}

/// An open enumeration: the remaining items, snapshotted at Enumerate time.
#[derive(Debug)]
struct EnumContext {
    /// The context id as sent to the client.
    id: String,
    /// The classes whose instances it holds (one, or the results of an association filter):
    /// a Pull needs read access to each.
    classes: Vec<&'static ClassDef>,
    /// The resource URI echoed in PullResponses.
    resource_uri: String,
    /// Items not yet pulled.
    items: std::collections::VecDeque<Element>,
    /// Last use (device clock).
    last_used: Timestamp,
}

/// A successful response.
struct Reply {
    /// Response action.
    action: String,
    /// Echoed resource URI.
    resource_uri: Option<String>,
    /// Body element.
    body: Option<Element>,
}

/// Why a request failed.
enum Failure {
    /// A SOAP fault.
    Fault(Fault),
    /// No access: HTTP 401 with an empty body.
    Denied(String),
}

impl From<Fault> for Failure {
    fn from(fault: Fault) -> Self {
        Self::Fault(fault)
    }
}

/// Operation kinds for access control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Get, Enumerate, Pull, Release.
    Read,
    /// Put, Create, Delete.
    Write,
    /// A method.
    Invoke,
}

impl Engine {
    /// A fresh engine (no contexts, message ids from 1).
    pub fn new() -> Self {
        Self::default()
    }

    /// Handle one authenticated request.
    ///
    /// Decisions where the references are silent:
    /// - No access (wrong session, missing realm, setup session after provisioning) answers
    ///   HTTP 401 with an empty body and a [`Note::Fault`] `wsman/AccessDenied`; the core
    ///   adds its digest challenge.
    /// - Unknown resource URI: `wsa:DestinationUnreachable` with detail `InvalidResourceURI`;
    ///   unknown method or an operation the class lacks: `wsa:ActionNotSupported`; a selector
    ///   naming no property: `wsman:InvalidSelectors` (`UnexpectedSelectors`); selectors that
    ///   match no instance: `wsman:InvalidSelectors` (`InvalidValue`); Get without selectors of
    ///   a class with several instances: `wsman:InvalidSelectors` (`InsufficientSelectors`).
    /// - FQDN quirk: once HostName.DomainName is longer than `quirks.fqdn_limit`, every request
    ///   other than Identify and a Put of `AMT_GeneralSettings` answers HTTP 400
    ///   `wsman:EncodingLimit` (our reading of "WS-MAN will fail").
    /// - A `wsa:To` that does not end in `/wsman` (or `/wsman-anon`) answers
    ///   `wsa:DestinationUnreachable`, as AMT does for a wrong `To`.
    /// - Before provisioning, any digest-authenticated user (the core decides who: `admin`
    ///   with the MEBx password, or the host-based setup's OS administrator) may read the
    ///   setup classes, call `GetUuid` and, over the local host interface only
    ///   (`RequestContext::host_interface`), run `IPS_HostBasedSetupService`; nothing else.
    /// - The first change made over the setup session moves Pre to In-provisioning.
    pub fn handle(
        &mut self,
        state: &mut NvramState,
        ctx: &mut RequestContext<'_>,
        request: &Envelope,
    ) -> Outcome {
        let message_id = self.message_id();
        if is_identify(request) {
            return Outcome {
                http_status: 200,
                body: identify_response(ctx.facts, !matches!(ctx.session, Session::Anonymous)),
                notes: Vec::new(),
                state_changed: false,
            };
        }
        let before = state.provisioning_state;
        let setup_session = matches!(ctx.session, Session::Setup);
        let mut cx = Cx {
            state,
            ctx,
            notes: Vec::new(),
            changed: false,
        };
        let result = self.dispatch(&mut cx, request);
        let unprovisioned = cx
            .notes
            .iter()
            .any(|n| matches!(n, Note::Unprovisioned { .. }));
        if cx.changed
            && setup_session
            && !unprovisioned
            && before == ProvisioningState::Pre
            && cx.state.provisioning_state == ProvisioningState::Pre
        {
            cx.state.provisioning_state = ProvisioningState::In;
        }
        let after = cx.state.provisioning_state;
        let mut notes = cx.notes;
        if before != after
            && !notes
                .iter()
                .any(|n| matches!(n, Note::ProvisioningStateChanged { .. }))
        {
            notes.push(Note::ProvisioningStateChanged {
                from: before,
                to: after,
            });
        }
        let relates_to = (request.header.message_id.clone())
            .filter(|_| !cx.ctx.facts.deviations.has(Deviation::MissingRelatesTo));
        match result {
            Ok(reply) => {
                let header = ResponseHeader {
                    action: reply.action,
                    relates_to,
                    message_id,
                    resource_uri: reply.resource_uri,
                };
                Outcome {
                    http_status: 200,
                    body: emit_response(&header, reply.body.as_ref()).into_bytes(),
                    notes,
                    state_changed: cx.changed,
                }
            }
            Err(Failure::Fault(fault)) => {
                notes.push(Note::Fault {
                    code: format!("wsman/{}", fault.subcode_local().unwrap_or("fault")),
                    detail: fault.reason.clone(),
                });
                Outcome {
                    http_status: fault.http_status(),
                    body: fault.emit(relates_to.as_deref(), &message_id).into_bytes(),
                    notes,
                    state_changed: cx.changed,
                }
            }
            Err(Failure::Denied(detail)) => {
                notes.push(Note::Fault {
                    code: "wsman/AccessDenied".to_owned(),
                    detail,
                });
                Outcome {
                    http_status: 401,
                    body: Vec::new(),
                    notes,
                    state_changed: cx.changed,
                }
            }
        }
    }

    /// The next response `MessageID` in AMT's form.
    fn message_id(&mut self) -> String {
        self.next_message = self.next_message.wrapping_add(1);
        format!("uuid:00000000-8086-8086-8086-{:012X}", self.next_message)
    }

    /// Route one request.
    fn dispatch(&mut self, cx: &mut Cx<'_, '_, '_>, request: &Envelope) -> Result<Reply, Failure> {
        let header = &request.header;
        if matches!(cx.ctx.session, Session::Anonymous) {
            return Err(Failure::Denied("unauthenticated request".to_owned()));
        }
        if let Some(name) = header
            .not_understood
            .first()
            .filter(|_| !cx.facts().deviations.has(Deviation::IgnoreMustUnderstand))
        {
            return Err(Fault::must_understand(name).into());
        }
        if header
            .option_set
            .as_ref()
            .is_some_and(|o| o.must_understand)
        {
            return Err(Fault::must_understand(&amt_wire::wsman::QualifiedName {
                namespace: Some(WSMAN.to_owned()),
                local: "OptionSet".to_owned(),
            })
            .into());
        }
        if header
            .max_envelope_size
            .is_some_and(|m| m.bytes < MIN_ENVELOPE_SIZE)
            && !cx.facts().deviations.has(Deviation::IgnoreEncodingLimit)
        {
            return Err(Fault::encoding_limit(Some(DETAIL_MINIMUM_ENVELOPE_LIMIT)).into());
        }
        if let Some(to) = header.to.as_deref()
            && !(to.ends_with("/wsman") || to.ends_with("/wsman-anon"))
            && !cx.facts().deviations.has(Deviation::AcceptAnyTo)
        {
            return Err(Fault::destination_unreachable(None).into());
        }
        let action = header.action.as_str();
        if action == ACTION_PULL || action == ACTION_RELEASE {
            return self.enumeration_followup(cx, request);
        }
        let uri = header
            .resource_uri
            .as_deref()
            .ok_or_else(|| Fault::destination_unreachable(Some(DETAIL_INVALID_RESOURCE_URI)))?;
        if action == ACTION_ENUMERATE {
            let body = EnumerateRequest::from_body(request.body.as_ref())
                .map_err(|e| Failure::Fault(e.to_fault()))?;
            if let Some(query) = body
                .filter
                .as_ref()
                .map(AssocQuery::parse)
                .transpose()?
                .flatten()
            {
                if !assoc::accepts_resource_uri(uri) {
                    return Err(
                        Fault::destination_unreachable(Some(DETAIL_INVALID_RESOURCE_URI)).into(),
                    );
                }
                if fqdn_too_long(cx.state, cx.facts()) {
                    return Err(fqdn_fault().into());
                }
                return Ok(self.enumerate_associations(cx, uri.trim(), &body, &query));
            }
        }
        let def = classes::lookup(uri).ok_or_else(|| {
            if cx
                .facts()
                .deviations
                .has(Deviation::UnknownResourceWrongFault)
            {
                Fault::action_not_supported()
            } else {
                Fault::destination_unreachable(Some(DETAIL_INVALID_RESOURCE_URI))
            }
        })?;
        let is_fqdn_fix = action == ACTION_PUT && def.name == "AMT_GeneralSettings";
        if !is_fqdn_fix && fqdn_too_long(cx.state, cx.facts()) {
            return Err(fqdn_fault().into());
        }
        match action {
            ACTION_GET => {
                check_access(cx, def, Op::Read, None)?;
                let target = resolve(cx, def, request, true)?;
                Ok(reply(
                    ACTION_GET_RESPONSE,
                    def,
                    Some(target.to_element(PREFIX_CLASS)),
                ))
            }
            ACTION_PUT => {
                check_access(cx, def, Op::Write, None)?;
                let target = resolve(cx, def, request, true)?;
                let body = request.body.as_ref();
                if let Some(body) = body
                    && body.name != def.name
                    && !cx.facts().deviations.has(Deviation::PutIgnoresClass)
                {
                    return Err(Fault::schema_validation_error().into());
                }
                classes::put(def, cx, &target, Input::new(body))?;
                let updated = resolve(cx, def, request, true).unwrap_or(target);
                Ok(reply(
                    ACTION_PUT_RESPONSE,
                    def,
                    Some(updated.to_element(PREFIX_CLASS)),
                ))
            }
            ACTION_CREATE => {
                check_access(cx, def, Op::Write, None)?;
                let body = request.body.as_ref();
                if let Some(body) = body
                    && body.name != def.name
                {
                    return Err(Fault::schema_validation_error().into());
                }
                let epr = classes::create(def, cx, Input::new(body))?;
                let mut created = Element::prefixed(PREFIX_CLASS, TRANSFER, "ResourceCreated");
                for child in epr.children() {
                    created = created.with_child(child);
                }
                Ok(reply(ACTION_CREATE_RESPONSE, def, Some(created)))
            }
            ACTION_DELETE => {
                check_access(cx, def, Op::Write, None)?;
                let target = resolve(cx, def, request, false)?;
                classes::delete(def, cx, &target)?;
                Ok(reply(ACTION_DELETE_RESPONSE, def, None))
            }
            ACTION_ENUMERATE => {
                check_access(cx, def, Op::Read, None)?;
                self.enumerate(cx, def, request)
            }
            _ => {
                let method = action
                    .strip_prefix(uri.trim())
                    .and_then(|m| m.strip_prefix('/'))
                    .filter(|m| !m.is_empty() && !m.contains('/'))
                    .ok_or_else(Fault::action_not_supported)?;
                check_access(cx, def, Op::Invoke, Some(method))?;
                self.invoke(cx, def, method, request)
            }
        }
    }

    /// Enumerate: snapshot the items, open a context, return the first items when optimized.
    fn enumerate(
        &mut self,
        cx: &mut Cx<'_, '_, '_>,
        def: &'static ClassDef,
        request: &Envelope,
    ) -> Result<Reply, Failure> {
        let body = EnumerateRequest::from_body(request.body.as_ref())
            .map_err(|e| Failure::Fault(e.to_fault()))?;
        let instances = classes::instances(def, cx.state, cx.facts());
        let items = instances
            .iter()
            .map(|i| item_element(i, body.mode))
            .collect();
        let uri = format!("{}{}", def.base, def.name);
        let keep = cx
            .facts()
            .deviations
            .has(Deviation::OptimizedEnumKeepsContext);
        let response = self.open(cx.ctx.now, &body, items, vec![def], &uri, keep);
        Ok(reply(ACTION_ENUMERATE_RESPONSE, def, Some(response)))
    }

    /// Enumerate with an association filter ([`assoc`]): the associated (or association)
    /// instances of the filter's `Object`, paged like any enumeration.
    fn enumerate_associations(
        &mut self,
        cx: &mut Cx<'_, '_, '_>,
        uri: &str,
        body: &EnumerateRequest,
        query: &AssocQuery,
    ) -> Reply {
        let mut defs: Vec<&'static ClassDef> = Vec::new();
        let mut items = std::collections::VecDeque::new();
        for (def, instance) in assoc::run(query, cx.state, cx.facts()) {
            if check_access(cx, def, Op::Read, None).is_err() {
                continue;
            }
            if !defs.iter().any(|d| std::ptr::eq(*d, def)) {
                defs.push(def);
            }
            items.push_back(item_element(&instance, body.mode));
        }
        let response = self.open(cx.ctx.now, body, items, defs, uri, false);
        Reply {
            action: ACTION_ENUMERATE_RESPONSE.to_owned(),
            resource_uri: Some(uri.to_owned()),
            body: Some(response),
        }
    }

    /// Open an enumeration over `items`: the `EnumerateResponse` with a new context, or with
    /// an optimized enumeration the first `MaxElements` items and then either the context of
    /// the rest or, when everything fitted, `EndOfSequence` and no context (DSP0226 §8.2.3;
    /// see [`optimized_enumerate_response`]). A context is kept only while items remain.
    fn open(
        &mut self,
        now: Timestamp,
        body: &EnumerateRequest,
        mut items: std::collections::VecDeque<Element>,
        classes: Vec<&'static ClassDef>,
        resource_uri: &str,
        keep_context: bool,
    ) -> Element {
        self.expire(now);
        let first: Option<Vec<Element>> = body.optimize.then(|| {
            let max = body.max_elements.unwrap_or(1).max(1) as usize;
            let take = max.min(items.len());
            items.drain(..take).collect()
        });
        if first.is_some() && items.is_empty() && !keep_context {
            return optimized_enumerate_response(first.unwrap_or_default(), None);
        }
        self.next_context = self.next_context.wrapping_add(1);
        let bytes = self.next_context.to_le_bytes();
        let id = format!(
            "{:02X}{:02X}{:02X}{:02X}-0000-0000-0000-000000000000",
            bytes[0], bytes[1], bytes[2], bytes[3]
        );
        if self.contexts.len() >= MAX_CONTEXTS
            && let Some(oldest) = self
                .contexts
                .iter()
                .enumerate()
                .min_by_key(|(_, c)| c.last_used)
                .map(|(i, _)| i)
        {
            self.contexts.swap_remove(oldest);
        }
        self.contexts.push(EnumContext {
            id: id.clone(),
            classes,
            resource_uri: resource_uri.to_owned(),
            items,
            last_used: now,
        });
        match first {
            Some(first) => optimized_enumerate_response(first, Some(&id)),
            None => enumerate_response(&id, None),
        }
    }

    /// Pull or Release on an open context.
    fn enumeration_followup(
        &mut self,
        cx: &mut Cx<'_, '_, '_>,
        request: &Envelope,
    ) -> Result<Reply, Failure> {
        let now = cx.ctx.now;
        self.expire(now);
        if request.header.action == ACTION_RELEASE {
            let id =
                release_context(request.body.as_ref()).map_err(|e| Failure::Fault(e.to_fault()))?;
            let index = self
                .contexts
                .iter()
                .position(|c| c.id == id)
                .ok_or_else(Fault::invalid_enumeration_context)?;
            let defs = self
                .contexts
                .get(index)
                .map(|c| c.classes.clone())
                .unwrap_or_default();
            for def in defs {
                check_access(cx, def, Op::Read, None)?;
            }
            if !cx.facts().deviations.has(Deviation::ReleaseIgnored) {
                self.contexts.swap_remove(index);
            }
            return Ok(Reply {
                action: ACTION_RELEASE_RESPONSE.to_owned(),
                resource_uri: request.header.resource_uri.clone(),
                body: None,
            });
        }
        let pull = PullRequest::from_body(request.body.as_ref())
            .map_err(|e| Failure::Fault(e.to_fault()))?;
        let index = self
            .contexts
            .iter()
            .position(|c| c.id == pull.context)
            .ok_or_else(|| {
                match cx
                    .ctx
                    .facts
                    .deviations
                    .has(Deviation::UnknownContextWrongFault)
                {
                    true => Fault::destination_unreachable(None),
                    false => Fault::invalid_enumeration_context(),
                }
            })?;
        let (defs, resource_uri) = self
            .contexts
            .get(index)
            .map(|c| (c.classes.clone(), c.resource_uri.clone()))
            .ok_or_else(Fault::invalid_enumeration_context)?;
        for def in defs {
            check_access(cx, def, Op::Read, None)?;
        }
        let Some(context) = self.contexts.get_mut(index) else {
            return Err(Fault::invalid_enumeration_context().into());
        };
        context.last_used = now;
        let mut max_elements = pull.max_elements.unwrap_or(1).max(1) as usize;
        if cx
            .ctx
            .facts
            .deviations
            .has(Deviation::PullIgnoresMaxElements)
        {
            max_elements = usize::MAX;
        }
        let max_chars = pull.max_characters.map(|m| m as usize);
        let mut page = Vec::new();
        let mut chars = 0usize;
        while page.len() < max_elements {
            let Some(next) = context.items.front() else {
                break;
            };
            let len = next.to_xml().len();
            if let Some(max) = max_chars
                && !page.is_empty()
                && chars + len > max
            {
                break;
            }
            chars += len;
            if let Some(item) = context.items.pop_front() {
                page.push(item);
            }
        }
        let done =
            context.items.is_empty() && !cx.ctx.facts.deviations.has(Deviation::PullKeepsContext);
        let id = context.id.clone();
        if done {
            self.contexts.swap_remove(index);
        }
        Ok(Reply {
            action: ACTION_PULL_RESPONSE.to_owned(),
            resource_uri: Some(resource_uri),
            body: Some(pull_response(page, (!done).then_some(id.as_str()))),
        })
    }

    /// Drop expired contexts.
    fn expire(&mut self, now: Timestamp) {
        self.contexts.retain(|c| {
            now.unix_millis().saturating_sub(c.last_used.unix_millis()) < CONTEXT_TTL_MS
        });
    }

    /// Invoke a method.
    fn invoke(
        &mut self,
        cx: &mut Cx<'_, '_, '_>,
        def: &'static ClassDef,
        method: &str,
        request: &Envelope,
    ) -> Result<Reply, Failure> {
        let selectors = &request.header.selector_set;
        let instances = classes::instances(def, cx.state, cx.facts());
        let target = if selectors.is_empty() {
            instances.first().cloned()
        } else {
            Some(select(&instances, selectors)?)
        };
        let input = Input::new(request.body.as_ref());
        // Probe that the method exists without side effects when a fault is injected.
        let out = if let Some(value) = cx.ctx.return_value_override {
            // Injected fault: the method must exist, but nothing changes.
            let mut scratch = cx.state.clone();
            let mut probe = Cx {
                state: &mut scratch,
                ctx: &mut *cx.ctx,
                notes: Vec::new(),
                changed: false,
            };
            if classes::invoke(def, method, &mut probe, target.as_ref(), input).is_none() {
                return Err(Fault::action_not_supported().into());
            }
            MethodOut::status(value)
        } else {
            classes::invoke(def, method, cx, target.as_ref(), input)
                .ok_or_else(Fault::action_not_supported)??
        };
        if out.return_value != pt::SUCCESS {
            cx.notes.push(Note::MethodFailed {
                method: format!("{}.{method}", def.name),
                return_value: out.return_value,
            });
        }
        let uri = format!("{}{}", def.base, def.name);
        let mut body = Element::prefixed(PREFIX_CLASS, uri.as_str(), format!("{method}_OUTPUT"));
        let g = |name: &str| Element::prefixed(PREFIX_CLASS, uri.as_str(), name);
        for (name, value) in &out.outputs {
            match value {
                Value::Text(t) => body = body.with_child(g(name).with_text(t.as_str())),
                Value::List(items) => {
                    for item in items {
                        body = body.with_child(g(name).with_text(item.as_str()));
                    }
                }
                Value::Epr(epr) => {
                    let mut e = g(name);
                    for child in epr.children() {
                        e = e.with_child(child);
                    }
                    body = body.with_child(e);
                }
                Value::Datetime(t) => body = body.with_child(g(name).with_text(t.as_str())),
            }
        }
        body = body.with_child(g("ReturnValue").with_text(out.return_value.to_string()));
        Ok(Reply {
            action: format!("{uri}/{method}Response"),
            resource_uri: Some(uri),
            body: Some(body),
        })
    }
}

/// A reply with the class's resource URI.
fn reply(action: &str, def: &ClassDef, body: Option<Element>) -> Reply {
    Reply {
        action: action.to_owned(),
        resource_uri: Some(format!("{}{}", def.base, def.name)),
        body,
    }
}

/// The item element of an enumeration in the requested mode.
fn item_element(instance: &Instance, mode: EnumerationMode) -> Element {
    match mode {
        EnumerationMode::Objects => instance.to_element(PREFIX_ITEM),
        EnumerationMode::Epr => instance.epr().to_element("EndpointReference"),
        EnumerationMode::ObjectAndEpr => Element::prefixed(PREFIX_WSMAN, WSMAN, "Item")
            .with_child(instance.to_element(PREFIX_ITEM))
            .with_child(instance.epr().to_element("EndpointReference")),
    }
}

/// The instance a Get/Put/Delete addresses.
fn resolve(
    cx: &Cx<'_, '_, '_>,
    def: &ClassDef,
    request: &Envelope,
    allow_single_without_selectors: bool,
) -> Result<Instance, Fault> {
    let instances = classes::instances(def, cx.state, cx.facts());
    let selectors = &request.header.selector_set;
    if selectors.is_empty() {
        return match instances.len() {
            0 => Err(Fault::destination_unreachable(None)),
            1 if allow_single_without_selectors => instances
                .into_iter()
                .next()
                .ok_or_else(Fault::internal_error),
            _ if cx
                .facts()
                .deviations
                .has(Deviation::GetWithoutSelectorsFirst) =>
            {
                instances
                    .into_iter()
                    .next()
                    .ok_or_else(Fault::internal_error)
            }
            _ => Err(Fault::invalid_selectors(Some(
                DETAIL_INSUFFICIENT_SELECTORS,
            ))),
        };
    }
    select(&instances, selectors).map_err(|f| {
        if cx.facts().deviations.has(Deviation::NoMatchWrongFault) {
            Fault::destination_unreachable(None)
        } else {
            f
        }
    })
}

/// The instance matching `selectors`.
fn select(
    instances: &[Instance],
    selectors: &[amt_wire::wsman::Selector],
) -> Result<Instance, Fault> {
    let mut unknown = instances.is_empty();
    for instance in instances {
        match instance.selector_match(selectors) {
            SelectorMatch::Match => return Ok(instance.clone()),
            SelectorMatch::UnknownName => unknown = true,
            SelectorMatch::NoMatch => {}
        }
    }
    if unknown && !instances.is_empty() {
        Err(Fault::invalid_selectors(Some(DETAIL_UNEXPECTED_SELECTORS)))
    } else {
        Err(Fault::invalid_selectors(Some(DETAIL_INVALID_VALUE)))
    }
}

/// The fault every request gets while the FQDN quirk is triggered.
fn fqdn_fault() -> Fault {
    let mut fault = Fault::encoding_limit(None);
    fault.reason =
        "The FQDN (host name and domain name) is longer than the firmware supports.".to_owned();
    fault
}

/// Whether the FQDN quirk is triggered.
fn fqdn_too_long(state: &NvramState, facts: &super::DeviceFacts) -> bool {
    let Some(limit) = facts.quirks.fqdn_limit else {
        return false;
    };
    let host = &state.general.host_name;
    let domain = &state.general.domain_name;
    let len = if domain.is_empty() {
        host.len()
    } else {
        host.len() + 1 + domain.len()
    };
    len > limit
}

/// Access control (see [`Engine::handle`]).
fn check_access(
    cx: &Cx<'_, '_, '_>,
    def: &ClassDef,
    op: Op,
    method: Option<&str>,
) -> Result<(), Failure> {
    let state = &*cx.state;
    let deny = |why: &str| Err(Failure::Denied(format!("{} {why}", def.name)));
    match &cx.ctx.session {
        Session::Anonymous => deny("needs authentication"),
        Session::Setup => {
            if state.provisioning_state == ProvisioningState::Post {
                deny("is not available over the setup session after provisioning")
            } else if def.setup {
                Ok(())
            } else {
                deny("is not available over the setup session")
            }
        }
        Session::Digest { user } => {
            if state.provisioning_state == ProvisioningState::Pre {
                // Whoever the core authenticated (admin with the MEBx password, or the local
                // OS administrator account of host-based setup) may read the setup classes
                // and run the host-based setup; nothing else before provisioning.
                let host_based = def.name == "IPS_HostBasedSetupService";
                if host_based && op == Op::Invoke && !cx.ctx.host_interface {
                    // Host-based setup is the local OS administrator's: over the network a
                    // factory device refuses it (else `admin` with the factory MEBx password
                    // would take any device over).
                    return deny("is available only over the local host interface");
                }
                let local_method =
                    def.name == "AMT_SetupAndConfigurationService" && method == Some("GetUuid");
                if host_based || local_method || (def.setup && op == Op::Read) {
                    return Ok(());
                }
                return deny("is not available before provisioning");
            }
            if state.is_admin(user) {
                return Ok(());
            }
            match state.user_acl(user) {
                Some(acl) if def.realm != 0 && acl.enabled && acl.realms.contains(&def.realm) => {
                    Ok(())
                }
                _ => deny("is outside the user's realms"),
            }
        }
    }
}
