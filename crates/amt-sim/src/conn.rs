//! One TCP connection to the device (sans-IO): bytes in, bytes out. On the TLS port a rustls
//! `ServerConnection` is driven in memory (setup config with the firmware's certificate policy
//! before provisioning, management config after); HTTP requests are decoded with bounded buffers,
//! authenticated from the head before any body is parsed, and answered in AMT's shape.

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::time::Duration;

use amt_wire::digest::Realm;
use amt_wire::http::{Framing, Limits, Request, RequestDecoder, Response, status_reason};
use amt_wire::time::Timestamp;
use amt_wire::wsman::names::{IDENTITY, SOAP_ENVELOPE};
use amt_wire::wsman::{Element, Envelope};
use rand::RngCore;

use crate::auth::{UNAUTHORIZED_BODY, challenge_header};
use crate::deviation::Deviation;
use crate::device::{ConnectRefused, Device, PortKind};
use crate::events::{AuthFailure, EventKind, TlsSession, TlsVerdict};
use crate::faults::{FaultAction, RequestKey, Step};
use crate::personality::{SetupAuth, server_header};
use crate::state::{ADMIN_USER, ProvisioningState};
use crate::tls::{
    ProvisioningPolicy, TlsProfile, TrustedHash, VerdictSlot, identity_from_der,
    management_server_config, read_verdict, setup_server_config, verdict_after_error,
};
use crate::wsman::{Session, identify_response};

/// HTTP limits of a device connection: 16 KiB head, 64 fields, 512 KiB body.
pub const HTTP_LIMITS: Limits = Limits {
    max_head_bytes: 16 * 1024,
    max_headers: 64,
    max_body_bytes: 512 * 1024,
};

/// What the shell must do after feeding bytes in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnOutput {
    /// Bytes to write to the peer (after `delay`).
    pub send: Vec<u8>,
    /// Close the connection after writing `send`.
    pub close: bool,
    /// Injected delay before `send` is written.
    pub delay: Duration,
}

struct TlsState {
    conn: rustls::ServerConnection,
    /// The policy verdict slot of a setup session.
    slot: Option<VerdictSlot>,
    handshake_reported: bool,
    first_flight_checked: bool,
}

enum Transport {
    Plain,
    Tls(Box<TlsState>),
}

/// One connection.
pub struct DeviceConnection {
    kind: PortKind,
    local: SocketAddr,
    peer: SocketAddr,
    transport: Transport,
    decoder: RequestDecoder,
    /// The provisioning-certificate session was accepted on this connection.
    setup_accepted: bool,
    /// The connection came over the local host interface (LMS over HECI), not the network.
    host_interface: bool,
    closed: bool,
    continue_sent: bool,
    requests: u64,
}

impl std::fmt::Debug for DeviceConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceConnection")
            .field("kind", &self.kind)
            .field("local", &self.local)
            .field("peer", &self.peer)
            .field("setup_accepted", &self.setup_accepted)
            .field("closed", &self.closed)
            .field("requests", &self.requests)
            .finish_non_exhaustive()
    }
}

struct Reply {
    bytes: Vec<u8>,
    close: bool,
    delay: Duration,
}

impl DeviceConnection {
    pub(crate) fn new(
        device: &mut Device,
        kind: PortKind,
        local: SocketAddr,
        peer: SocketAddr,
        now: Timestamp,
    ) -> Result<Self, ConnectRefused> {
        let transport = match kind {
            PortKind::Http => Transport::Plain,
            PortKind::Tls => Transport::Tls(Box::new(tls_for(device, now)?)),
        };
        Ok(Self {
            kind,
            local,
            peer,
            transport,
            decoder: RequestDecoder::new(HTTP_LIMITS),
            setup_accepted: false,
            host_interface: false,
            closed: false,
            continue_sent: false,
            requests: 0,
        })
    }

    /// Marks the connection as coming over the local host interface.
    pub(crate) fn set_host_interface(&mut self) {
        self.host_interface = true;
    }

    /// Whether the connection came over the local host interface.
    pub fn is_host_interface(&self) -> bool {
        self.host_interface
    }

    /// Whether this is a TLS connection.
    pub fn is_tls(&self) -> bool {
        matches!(self.transport, Transport::Tls(_))
    }

    /// Whether a provisioning-certificate (setup) session was accepted on this connection.
    pub fn setup_accepted(&self) -> bool {
        self.setup_accepted
    }

    /// Whether the connection is finished (the shell should close it).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Feeds bytes received from the peer.
    pub fn receive(&mut self, device: &mut Device, bytes: &[u8], now: Timestamp) -> ConnOutput {
        if self.closed {
            return ConnOutput {
                close: true,
                ..ConnOutput::default()
            };
        }
        let out = match &mut self.transport {
            Transport::Plain => {
                if let Err(e) = self.decoder.feed(bytes) {
                    let reply = self.http_error(device, &e, now);
                    ConnOutput {
                        send: reply.bytes,
                        close: true,
                        delay: Duration::ZERO,
                    }
                } else {
                    let reply = self.process_http(device, now);
                    ConnOutput {
                        send: reply.bytes,
                        close: reply.close,
                        delay: reply.delay,
                    }
                }
            }
            Transport::Tls(_) => self.receive_tls(device, bytes, now),
        };
        if out.close {
            self.closed = true;
        }
        out
    }

    /// The peer closed its side.
    pub fn peer_closed(&mut self, device: &mut Device, now: Timestamp) -> ConnOutput {
        let _ = (device, now);
        let mut send = Vec::new();
        if let Transport::Tls(tls) = &mut self.transport
            && !self.closed
        {
            tls.conn.send_close_notify();
            let _ = tls.conn.write_tls(&mut send);
        }
        self.closed = true;
        ConnOutput {
            send,
            close: true,
            delay: Duration::ZERO,
        }
    }

    fn receive_tls(&mut self, device: &mut Device, bytes: &[u8], now: Timestamp) -> ConnOutput {
        let Transport::Tls(tls) = &mut self.transport else {
            return ConnOutput::default();
        };
        let mut out = ConnOutput::default();
        let mut rd = bytes;
        let mut plaintext = Vec::new();
        // The peer sent close_notify: answer what it sent before, then close.
        let mut peer_finished = false;
        while !rd.is_empty() {
            match tls.conn.read_tls(&mut rd) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    report_tls_failure(device, tls, &e.to_string(), None, now);
                    out.close = true;
                    return out;
                }
            }
            if let Err(e) = tls.conn.process_new_packets() {
                let verdict = tls.slot.as_ref().and_then(|s| verdict_after_error(s, &e));
                report_tls_failure(device, tls, &e.to_string(), verdict, now);
                let _ = tls.conn.write_tls(&mut out.send);
                out.close = true;
                return out;
            }
            // The device's first flight (ServerHello …) is ready: step fault `tls-server-hello`.
            if !tls.first_flight_checked && tls.conn.wants_write() {
                tls.first_flight_checked = true;
                for (i, action) in device.faults.on_step(Step::TlsServerHello) {
                    if matches!(
                        action,
                        FaultAction::CloseConnection
                            | FaultAction::CloseAfterResponse
                            | FaultAction::CloseBeforeResponse
                    ) {
                        device.fault_applied(i, "close_connection after ServerHello", now);
                        let mut flight = Vec::new();
                        let _ = tls.conn.write_tls(&mut flight);
                        // Send only the first record (the ServerHello), then close.
                        let first = flight.get(3..5).map_or(flight.len(), |l| {
                            5 + usize::from(u16::from_be_bytes([l[0], l[1]]))
                        });
                        out.send
                            .extend_from_slice(flight.get(..first).unwrap_or(&flight));
                        out.close = true;
                        return out;
                    }
                    if let FaultAction::Delay(d) = action {
                        device.fault_applied(i, "delay after ServerHello", now);
                        out.delay += d.0;
                    }
                }
            }
            if !read_plaintext(&mut tls.conn, &mut plaintext) {
                peer_finished = true;
            }
        }
        if !tls.handshake_reported && !tls.conn.is_handshaking() {
            tls.handshake_reported = true;
            let verdict = tls.slot.as_ref().and_then(read_verdict);
            let session = if tls.slot.is_some() {
                TlsSession::Setup
            } else {
                TlsSession::Management
            };
            let forced = device.profile().forced_tls_refusal();
            match (verdict, forced) {
                (Some(Ok(_)), Some(id)) if tls.slot.is_some() => {
                    // Forced refusal: drop the connection without the device's last flight.
                    device.event(
                        now,
                        EventKind::TlsHandshake {
                            session,
                            verdict: TlsVerdict::Refused,
                            refusal: Some(id),
                            detail: Some("forced by a refuse_tls fault".into()),
                        },
                    );
                    return ConnOutput {
                        send: Vec::new(),
                        close: true,
                        delay: Duration::ZERO,
                    };
                }
                (Some(Ok(chain)), _) => {
                    self.setup_accepted = true;
                    device.event(
                        now,
                        EventKind::TlsHandshake {
                            session,
                            verdict: TlsVerdict::Ok,
                            refusal: None,
                            detail: Some(format!(
                                "{} (root {})",
                                chain.leaf_cn, chain.matched_hash_name
                            )),
                        },
                    );
                    device.setup_started(now);
                }
                (Some(Err(refusal)), _) => {
                    device.event(
                        now,
                        EventKind::TlsHandshake {
                            session,
                            verdict: TlsVerdict::Refused,
                            refusal: Some(refusal.kind()),
                            detail: Some(refusal.to_string()),
                        },
                    );
                }
                (None, _) => device.event(
                    now,
                    EventKind::TlsHandshake {
                        session,
                        verdict: TlsVerdict::Ok,
                        refusal: None,
                        detail: None,
                    },
                ),
            }
        }
        out.close |= peer_finished;
        if !plaintext.is_empty() {
            let reply = match self.decoder.feed(&plaintext) {
                Err(e) => self.http_error(device, &e, now),
                Ok(()) => self.process_http(device, now),
            };
            out.close |= reply.close;
            out.delay += reply.delay;
            if let Transport::Tls(tls) = &mut self.transport {
                let _ = tls.conn.writer().write_all(&reply.bytes);
            }
        }
        if let Transport::Tls(tls) = &mut self.transport {
            if out.close {
                tls.conn.send_close_notify();
            }
            while tls.conn.wants_write() {
                match tls.conn.write_tls(&mut out.send) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        out
    }

    fn process_http(&mut self, device: &mut Device, now: Timestamp) -> Reply {
        let mut reply = Reply {
            bytes: Vec::new(),
            close: false,
            delay: Duration::ZERO,
        };
        loop {
            match self.decoder.next_request() {
                Err(e) => {
                    let r = self.http_error(device, &e, now);
                    reply.bytes.extend_from_slice(&r.bytes);
                    reply.close = true;
                    return reply;
                }
                Ok(None) => {
                    if self.decoder.expects_continue() && !self.continue_sent {
                        self.continue_sent = true;
                        reply
                            .bytes
                            .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                    }
                    return reply;
                }
                Ok(Some(request)) => {
                    self.continue_sent = false;
                    self.requests = self.requests.saturating_add(1);
                    let r = self.handle_request(device, &request, now);
                    reply.bytes.extend_from_slice(&r.bytes);
                    reply.delay += r.delay;
                    if r.close {
                        reply.close = true;
                        return reply;
                    }
                }
            }
        }
    }

    fn http_error(
        &mut self,
        device: &mut Device,
        e: &amt_wire::http::HttpError,
        now: Timestamp,
    ) -> Reply {
        let status = e.status();
        device.event(
            now,
            EventKind::HttpError {
                id: e.id().into(),
                status,
            },
        );
        if device.facts().deviations.has(Deviation::LimitsReset) {
            return Reply {
                bytes: Vec::new(),
                close: true,
                delay: Duration::ZERO,
            };
        }
        let mut r = Response::new(status, status_reason(status));
        r.headers
            .push("Server", server_header(&device.profile().amt_version()));
        r.headers.push("Content-Type", "text/html");
        r.headers.push("Connection", "close");
        r.body = format!(
            "<html><body>{status} {}</body></html>",
            status_reason(status)
        )
        .into_bytes();
        Reply {
            bytes: r.emit(Framing::ContentLength),
            close: true,
            delay: Duration::ZERO,
        }
    }

    fn authenticate(
        &self,
        device: &mut Device,
        request: &Request,
        now: Timestamp,
    ) -> Result<Session, (AuthFailure, Option<String>)> {
        let setup_auth = device.traits().setup_auth;
        if self.setup_accepted && setup_auth == SetupAuth::Certificate {
            return Ok(Session::Setup);
        }
        let realm = realm_of(device);
        let header = request.headers.get("Authorization");
        let path = request_path(&request.target);
        if self.setup_accepted {
            let ha1 = device.state().mebx_ha1();
            return device
                .digest
                .verify(
                    header,
                    &request.method,
                    path,
                    &realm,
                    |u| (u == ADMIN_USER).then_some(ha1),
                    now,
                )
                .map(|_| Session::Setup);
        }
        let state = &device.state;
        device
            .digest
            .verify(
                header,
                &request.method,
                path,
                &realm,
                |u| state.digest_user(u),
                now,
            )
            .map(|a| Session::Digest { user: a.user })
    }

    fn handle_request(&mut self, device: &mut Device, request: &Request, now: Timestamp) -> Reply {
        let path_ok = request.method.eq_ignore_ascii_case("POST")
            && request_path(&request.target).eq_ignore_ascii_case("/wsman");
        let session = self.authenticate(device, request, now);
        let (session, user) = match session {
            Ok(s) => {
                let user = match &s {
                    Session::Digest { user } => Some(user.clone()),
                    Session::Setup => Some("<setup-certificate>".to_owned()),
                    Session::Anonymous => None,
                };
                (s, user)
            }
            Err((failure, claimed)) => {
                // Identify is answered without authentication; anything else gets the
                // challenge without its body ever being parsed as SOAP.
                if path_ok
                    && is_identify_request(&request.body)
                    && !device.facts().deviations.has(Deviation::IdentifyNeedsAuth)
                {
                    return self.identify(device, request, false, None, now);
                }
                device.event(
                    now,
                    EventKind::AuthFailed {
                        reason: failure,
                        user: claimed,
                    },
                );
                return self.unauthorized(device, request, failure == AuthFailure::Stale, now);
            }
        };
        if !path_ok {
            // Firmware before AMT 9 also serves its legacy SOAP services (`crate::eoi`).
            let path = request_path(&request.target);
            if request.method.eq_ignore_ascii_case("POST")
                && let Some(reply) = device.handle_eoi(&session, path, &request.body, now)
            {
                return self.eoi_reply(device, request, reply, user, now);
            }
            let mut r = Response::new(404, status_reason(404));
            r.headers
                .push("Server", server_header(&device.profile().amt_version()));
            r.headers.push("Content-Type", "text/html");
            device.event(
                now,
                EventKind::HttpRequest {
                    method: request.method.clone(),
                    action: None,
                    class: None,
                    status: 404,
                    user,
                },
            );
            return Reply {
                bytes: r.emit(Framing::ContentLength),
                close: !request.keep_alive(),
                delay: Duration::ZERO,
            };
        }
        if is_identify_request(&request.body) {
            return self.identify(device, request, true, user, now);
        }
        let limits = amt_wire::wsman::Limits::default();
        match Envelope::parse(&request.body, &limits) {
            Ok(env) => self.run_envelope(device, request, session, user, &env, now),
            Err(e) => {
                let fault = e.to_fault();
                let status = fault.http_status();
                let body = fault.emit(None, &message_id(device)).into_bytes();
                device.event(
                    now,
                    EventKind::WsmanFault {
                        detail: format!("{}: {e}", e.id()),
                    },
                );
                device.event(
                    now,
                    EventKind::HttpRequest {
                        method: request.method.clone(),
                        action: None,
                        class: None,
                        status,
                        user,
                    },
                );
                Reply {
                    bytes: soap_response(device, status, body, now),
                    close: !request.keep_alive(),
                    delay: Duration::ZERO,
                }
            }
        }
    }

    fn run_envelope(
        &mut self,
        device: &mut Device,
        request: &Request,
        session: Session,
        user: Option<String>,
        env: &Envelope,
        now: Timestamp,
    ) -> Reply {
        let action = last_segment(&env.header.action);
        let class = env.header.resource_uri.as_deref().map(last_segment);
        let is_method = !is_standard_action(&env.header.action);
        let fired = device.faults.on_request(RequestKey {
            action: Some(action),
            is_method,
            class,
        });
        let mut override_rv = None;
        let mut post = Vec::new();
        for (i, a) in fired {
            device.fault_applied(i, &format!("{a:?} on {action}"), now);
            match a {
                FaultAction::ReturnValue(v) => override_rv = Some(v),
                other => post.push(other),
            }
        }
        let outcome = device.handle_envelope(
            session,
            self.local.port(),
            self.host_interface,
            override_rv,
            env,
            now,
        );
        let (action, class) = (Some(action.to_owned()), class.map(str::to_owned));
        if outcome.http_status == 401 {
            device.event(
                now,
                EventKind::AuthFailed {
                    reason: AuthFailure::Wrong,
                    user: user.clone(),
                },
            );
            // Authenticated, but the engine denies this user or session the operation.
            let mut reply = self.unauthorized(device, request, false, now);
            for a in &post {
                if let FaultAction::Delay(d) = a {
                    reply.delay += d.0;
                }
            }
            return reply;
        }
        let mut status = outcome.http_status;
        let mut body = outcome.body;
        let mut reply = Reply {
            bytes: Vec::new(),
            close: !request.keep_alive(),
            delay: Duration::ZERO,
        };
        let mut send = true;
        for a in post {
            match a {
                FaultAction::EmptyBody => {
                    status = 200;
                    body.clear();
                }
                FaultAction::HttpStatus(s) => {
                    status = s;
                    body.clear();
                }
                FaultAction::Delay(d) => reply.delay += d.0,
                FaultAction::CloseConnection | FaultAction::CloseBeforeResponse => {
                    send = false;
                    reply.close = true;
                }
                FaultAction::CloseAfterResponse => reply.close = true,
                FaultAction::ReturnValue(_) => {}
            }
        }
        device.event(
            now,
            EventKind::HttpRequest {
                method: request.method.clone(),
                action,
                class,
                status,
                user,
            },
        );
        if send {
            reply.bytes = soap_response(device, status, body, now);
        }
        reply
    }

    /// The HTTP answer to a legacy SOAP request (`text/xml`, SOAP 1.1).
    fn eoi_reply(
        &mut self,
        device: &mut Device,
        request: &Request,
        reply: crate::eoi::EoiReply,
        user: Option<String>,
        now: Timestamp,
    ) -> Reply {
        let crate::eoi::EoiReply::Soap {
            status,
            body,
            operation,
            ..
        } = reply
        else {
            device.event(
                now,
                EventKind::AuthFailed {
                    reason: AuthFailure::Wrong,
                    user,
                },
            );
            return self.unauthorized(device, request, false, now);
        };
        device.event(
            now,
            EventKind::HttpRequest {
                method: request.method.clone(),
                action: operation,
                class: Some(
                    request_path(&request.target)
                        .trim_start_matches('/')
                        .to_owned(),
                ),
                status,
                user,
            },
        );
        let mut r = Response::new(status, status_reason(status));
        r.headers.push("Date", http_date(device.device_clock(now)));
        r.headers
            .push("Server", server_header(&device.profile().amt_version()));
        r.headers.push("Content-Type", "text/xml; charset=utf-8");
        r.body = body;
        Reply {
            bytes: r.emit(Framing::Chunked { max_chunk: 0 }),
            close: !request.keep_alive(),
            delay: Duration::ZERO,
        }
    }

    fn identify(
        &mut self,
        device: &mut Device,
        request: &Request,
        authenticated: bool,
        user: Option<String>,
        now: Timestamp,
    ) -> Reply {
        let body = identify_response(device.facts(), authenticated);
        device.event(
            now,
            EventKind::HttpRequest {
                method: request.method.clone(),
                action: Some("Identify".into()),
                class: None,
                status: 200,
                user,
            },
        );
        Reply {
            bytes: soap_response(device, 200, body, now),
            close: !request.keep_alive(),
            delay: Duration::ZERO,
        }
    }

    fn unauthorized(
        &mut self,
        device: &mut Device,
        request: &Request,
        stale: bool,
        now: Timestamp,
    ) -> Reply {
        let realm = realm_of(device);
        let nonce = device.digest.issue(&mut device.rng, now);
        let mut r = Response::new(401, "Unauthorized");
        let qop = !device
            .facts()
            .deviations
            .has(Deviation::ChallengeWithoutQop);
        r.headers.push(
            "WWW-Authenticate",
            challenge_header(&realm, &nonce, stale, qop),
        );
        r.headers.push("Content-Type", "text/html");
        r.headers
            .push("Server", server_header(&device.profile().amt_version()));
        r.headers.push("Connection", "close");
        r.body = UNAUTHORIZED_BODY.as_bytes().to_vec();
        device.event(
            now,
            EventKind::HttpRequest {
                method: request.method.clone(),
                action: None,
                class: None,
                status: 401,
                user: None,
            },
        );
        Reply {
            bytes: r.emit(Framing::ContentLength),
            close: true,
            delay: Duration::ZERO,
        }
    }
}

/// Builds the TLS side of a new connection on the TLS port.
fn tls_for(device: &mut Device, now: Timestamp) -> Result<TlsState, ConnectRefused> {
    let traits = device.traits().clone();
    let profile = TlsProfile {
        tls12: traits.tls12,
        tls13: traits.tls13,
    };
    let err = |e: &dyn std::fmt::Display| ConnectRefused::Tls(e.to_string());
    let (config, slot) = if device.state().provisioning_state() == ProvisioningState::Post {
        let committed = device.state().committed_tls();
        let (Some(cert), Some(pool)) = (committed.cert_der, committed.key_pool_index) else {
            return Err(ConnectRefused::TlsClosed(
                "no TLS certificate with a pool key",
            ));
        };
        let identity = identity_from_der(cert, pool);
        let config = management_server_config(&identity, profile).map_err(|e| err(&e))?;
        (config, None)
    } else {
        let identity = device.setup_identity(now).map_err(|e| err(&e))?;
        let policy = ProvisioningPolicy {
            trusted_hashes: device
                .profile()
                .hash_list()
                .into_iter()
                .filter(|h| h.active)
                .map(|h| TrustedHash {
                    thumbprint: h.thumbprint,
                    name: h.name,
                })
                .collect(),
            dns_suffix: device.profile().dns_domain().map(str::to_owned),
            cn_rule: traits.cn_rule,
            max_root_key_bits: traits.max_root_key_bits,
            min_rsa_key_bits: traits.min_rsa_key_bits,
            refuse_sha1: traits.refuse_sha1,
            now: device.device_clock(now),
            alert: crate::tls::RefusalAlert::default(),
            deviations: device.facts().deviations,
        };
        let (config, slot) =
            setup_server_config(&identity, policy, profile).map_err(|e| err(&e))?;
        (config, Some(slot))
    };
    let conn = rustls::ServerConnection::new(config).map_err(|e| err(&e))?;
    Ok(TlsState {
        conn,
        slot,
        handshake_reported: false,
        first_flight_checked: false,
    })
}

fn report_tls_failure(
    device: &mut Device,
    tls: &mut TlsState,
    error: &str,
    refusal: Option<crate::tls::TlsRefusal>,
    now: Timestamp,
) {
    if tls.handshake_reported && refusal.is_none() {
        return;
    }
    tls.handshake_reported = true;
    let session = if tls.slot.is_some() {
        TlsSession::Setup
    } else {
        TlsSession::Management
    };
    let kind = match refusal {
        Some(refusal) => EventKind::TlsHandshake {
            session,
            verdict: TlsVerdict::Refused,
            refusal: Some(refusal.kind()),
            detail: Some(refusal.to_string()),
        },
        None => EventKind::TlsHandshake {
            session,
            verdict: TlsVerdict::Failed,
            refusal: None,
            detail: Some(error.to_owned()),
        },
    };
    device.event(now, kind);
}

/// Moves decrypted bytes into `out`; `false` when the peer sent close_notify.
fn read_plaintext(conn: &mut rustls::ServerConnection, out: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 8192];
    loop {
        match conn.reader().read(&mut buf) {
            Ok(0) => return false,
            Ok(n) => out.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(_) => return true,
        }
    }
}

fn realm_of(device: &Device) -> Realm {
    let text = device.state().digest_realm();
    Realm::amt(text)
        .or_else(|_| Realm::generic(text))
        .unwrap_or_else(|_| Realm::from_amt_bytes([0; 16]))
}

/// The path of a request target (origin-form or absolute-form), without the query.
fn request_path(target: &str) -> &str {
    let path = match target.find("://") {
        Some(i) => target
            .get(i + 3..)
            .and_then(|r| r.find('/').and_then(|p| r.get(p..)))
            .unwrap_or("/"),
        None => target,
    };
    path.split('?').next().unwrap_or(path)
}

/// Whether `body` is a WS-Management Identify request (which carries no `wsa:Action`, so the
/// envelope parser is not used): the first child of the SOAP Body is `wsmid:Identify`.
fn is_identify_request(body: &[u8]) -> bool {
    if body.is_empty() {
        return false;
    }
    let Ok(root) = Element::parse(body, &amt_wire::wsman::Limits::default()) else {
        return false;
    };
    root.is(SOAP_ENVELOPE, "Envelope")
        && root
            .child(SOAP_ENVELOPE, "Body")
            .and_then(Element::first_element)
            .is_some_and(|e| e.is(IDENTITY, "Identify"))
}

fn last_segment(uri: &str) -> &str {
    uri.rsplit('/').next().unwrap_or(uri)
}

/// WS-Transfer / WS-Enumeration / WS-Eventing verbs (everything else is an Invoke).
fn is_standard_action(action: &str) -> bool {
    action.starts_with("http://schemas.xmlsoap.org/ws/2004/09/transfer/")
        || action.starts_with("http://schemas.xmlsoap.org/ws/2004/09/enumeration/")
        || action.starts_with("http://schemas.xmlsoap.org/ws/2004/08/eventing/")
        || action.starts_with("http://schemas.dmtf.org/wbem/wsman/1/wsman/")
}

fn message_id(device: &mut Device) -> String {
    let mut b = [0u8; 16];
    device.rng.fill_bytes(&mut b);
    let h = hex::encode(b);
    format!(
        "uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A SOAP response in AMT's shape: `Date`, `Server`, `X-Frame-Options`, SOAP content type,
/// chunked.
fn soap_response(device: &Device, status: u16, body: Vec<u8>, now: Timestamp) -> Vec<u8> {
    let mut r = Response::new(status, status_reason(status));
    r.headers.push("Date", http_date(device.device_clock(now)));
    r.headers
        .push("Server", server_header(&device.profile().amt_version()));
    r.headers.push("X-Frame-Options", "DENY");
    r.headers
        .push("Content-Type", "application/soap+xml; charset=UTF-8");
    r.body = body;
    r.emit(Framing::Chunked { max_chunk: 0 })
}

/// IMF-fixdate (`Sun, 22 Nov 2026 03:21:45 GMT`).
pub fn http_date(t: Timestamp) -> String {
    let Ok(dt) = time::OffsetDateTime::from_unix_timestamp(t.unix_secs()) else {
        return "Thu, 01 Jan 1970 00:00:00 GMT".into();
    };
    let wd = dt.weekday().to_string();
    let mo = dt.month().to_string();
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        wd.get(..3).unwrap_or("Mon"),
        dt.day(),
        mo.get(..3).unwrap_or("Jan"),
        dt.year(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_shape_paths_actions_and_dates() {
        assert_eq!(request_path("/wsman?x=1"), "/wsman");
        assert_eq!(request_path("http://h:16992/wsman"), "/wsman");
        assert_eq!(
            last_segment("http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"),
            "Get"
        );
        assert!(is_standard_action(
            "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
        ));
        assert!(!is_standard_action(
            "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationService/CommitChanges"
        ));
        assert_eq!(
            http_date(Timestamp::from_unix_secs(1_795_317_705)),
            "Sun, 22 Nov 2026 03:21:45 GMT"
        );
    }
}
