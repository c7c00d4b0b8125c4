//! The golden file format: one text file per exchange set, line-oriented headers and
//! length-prefixed raw HTTP blocks, so that the file is readable, diffs line by line and keeps every
//! byte (CRLF included). See `tests/data/golden/README.md`.
//!
//! ```text
//! # comment lines start with '#'
//! connect 1 tls accept version=TLSv1_3 chain=3
//! request 1 connection=1 bytes=812
//! <812 bytes of HTTP request>
//! response 1 bytes=730
//! <730 bytes of HTTP response>
//! connect 2 failed transport/timeout
//! ```
//!
//! Answers: `response N bytes=L` (optionally `then-close`), `closed N` (the device closed without
//! answering), `failed N <transport id>` (the read failed, e.g. `transport/timeout`).

use std::fmt;

use provisioner_core::transport::TransportError;

/// How the device's side of a TLS handshake went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsPlan {
    /// The handshake completes.
    Accept,
    /// The device refuses the client's certificate with this alert (rustls' name, e.g.
    /// `CertificateUnknown`).
    Alert(String),
    /// The device sends its first record (the ServerHello) and closes.
    CloseAfterServerHello,
    /// The device closes, without an alert, once the client's flight arrived.
    CloseAfterClientFlight,
}

impl fmt::Display for TlsPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Accept => f.write_str("accept"),
            Self::Alert(name) => write!(f, "alert:{name}"),
            Self::CloseAfterServerHello => f.write_str("close-after-server-hello"),
            Self::CloseAfterClientFlight => f.write_str("close-after-client-flight"),
        }
    }
}

impl TlsPlan {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "accept" => Some(Self::Accept),
            "close-after-server-hello" => Some(Self::CloseAfterServerHello),
            "close-after-client-flight" => Some(Self::CloseAfterClientFlight),
            other => other
                .strip_prefix("alert:")
                .map(|name| Self::Alert(name.to_owned())),
        }
    }
}

/// One connection the provisioner opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Connection {
    /// The TCP connect failed.
    Failed(TransportError),
    /// TCP connected; TLS went as `plan`.
    Tls {
        /// The device's side of the handshake.
        plan: TlsPlan,
        /// The negotiated version (`TLSv1_3`), when the handshake completed.
        version: Option<String>,
        /// How many certificates the provisioner presented (`None`: none were seen).
        chain: Option<usize>,
    },
}

/// What the device did with one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// These response bytes; `close`: the device closed the connection after them.
    Respond {
        /// The raw HTTP response.
        bytes: Vec<u8>,
        /// The device closed after the response.
        close: bool,
    },
    /// The device closed without answering.
    Closed,
    /// Reading the answer failed.
    Failed(TransportError),
}

/// One request and its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// The 0-based connection it was sent on.
    pub connection: usize,
    /// The raw HTTP request as the provisioner sent it.
    pub request: Vec<u8>,
    /// The device's answer.
    pub answer: Answer,
}

/// A whole exchange set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Golden {
    /// Comment lines (without `# `), written at the top.
    pub comments: Vec<String>,
    /// Connections in the order they were opened.
    pub connections: Vec<Connection>,
    /// Exchanges in the order they happened.
    pub exchanges: Vec<Exchange>,
}

/// The transport errors a golden file can name.
pub fn transport_error(id: &str) -> Option<TransportError> {
    match id {
        "transport/refused" => Some(TransportError::Refused),
        "transport/timeout" => Some(TransportError::Timeout),
        "transport/reset" => Some(TransportError::Reset),
        _ => None,
    }
}

/// One HTTP message for the text form: the raw bytes, framed by the caller.
fn push_block(out: &mut Vec<u8>, header: &str, bytes: &[u8]) {
    out.extend_from_slice(header.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(bytes);
    out.push(b'\n');
}

impl Golden {
    /// The text form (see the module docs). Connections are written where they were opened:
    /// before the first exchange that uses them (failed connects in their order).
    pub fn emit(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for c in &self.comments {
            out.extend_from_slice(format!("# {c}\n").as_bytes());
        }
        let mut next_conn = 0;
        let mut emit_conns_up_to = |out: &mut Vec<u8>, last: usize| {
            while next_conn <= last {
                if let Some(c) = self.connections.get(next_conn) {
                    let line = match c {
                        Connection::Failed(e) => {
                            format!("connect {} failed {}", next_conn + 1, e.id())
                        }
                        Connection::Tls {
                            plan,
                            version,
                            chain,
                        } => {
                            let mut line = format!("connect {} tls {plan}", next_conn + 1);
                            if let Some(v) = version {
                                line.push_str(&format!(" version={v}"));
                            }
                            if let Some(n) = chain {
                                line.push_str(&format!(" chain={n}"));
                            }
                            line
                        }
                    };
                    out.extend_from_slice(line.as_bytes());
                    out.push(b'\n');
                }
                next_conn += 1;
            }
        };
        for (i, x) in self.exchanges.iter().enumerate() {
            emit_conns_up_to(&mut out, x.connection);
            let n = i + 1;
            push_block(
                &mut out,
                &format!(
                    "request {n} connection={} bytes={}",
                    x.connection + 1,
                    x.request.len()
                ),
                &x.request,
            );
            match &x.answer {
                Answer::Respond { bytes, close } => {
                    let close = if *close { " then-close" } else { "" };
                    push_block(
                        &mut out,
                        &format!("response {n} bytes={}{close}", bytes.len()),
                        bytes,
                    );
                }
                Answer::Closed => out.extend_from_slice(format!("closed {n}\n").as_bytes()),
                Answer::Failed(e) => {
                    out.extend_from_slice(format!("failed {n} {}\n", e.id()).as_bytes());
                }
            }
        }
        emit_conns_up_to(&mut out, self.connections.len().saturating_sub(1));
        out
    }

    /// Parses the text form.
    pub fn parse(input: &[u8]) -> Result<Self, String> {
        let mut golden = Self::default();
        let mut rest = input;
        let mut line_no = 0;
        while !rest.is_empty() {
            line_no += 1;
            let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
            let line = std::str::from_utf8(rest.get(..end).unwrap_or_default())
                .map_err(|e| format!("line {line_no}: {e}"))?;
            rest = rest.get(end + 1..).unwrap_or_default();
            let bad = |what: &str| format!("line {line_no}: {what}: {line:?}");
            if let Some(comment) = line.strip_prefix('#') {
                golden.comments.push(comment.trim_start().to_owned());
                continue;
            }
            let words: Vec<&str> = line.split(' ').collect();
            let field = |key: &str| {
                words
                    .iter()
                    .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
            };
            let number = |w: Option<&&str>| w.and_then(|w| w.parse::<usize>().ok());
            match words.first().copied() {
                Some("connect") => {
                    if number(words.get(1)) != Some(golden.connections.len() + 1) {
                        return Err(bad("connections must be numbered 1, 2, … in order"));
                    }
                    let conn = match words.get(2).copied() {
                        Some("failed") => Connection::Failed(
                            words
                                .get(3)
                                .and_then(|id| transport_error(id))
                                .ok_or_else(|| bad("unknown transport error"))?,
                        ),
                        Some("tls") => Connection::Tls {
                            plan: words
                                .get(3)
                                .and_then(|p| TlsPlan::parse(p))
                                .ok_or_else(|| bad("unknown TLS plan"))?,
                            version: field("version").map(str::to_owned),
                            chain: field("chain").and_then(|n| n.parse().ok()),
                        },
                        _ => return Err(bad("expected `failed` or `tls`")),
                    };
                    golden.connections.push(conn);
                }
                Some("request") => {
                    if number(words.get(1)) != Some(golden.exchanges.len() + 1) {
                        return Err(bad("requests must be numbered 1, 2, … in order"));
                    }
                    let connection = number(field("connection").as_ref())
                        .and_then(|c| c.checked_sub(1))
                        .ok_or_else(|| bad("no connection=N"))?;
                    let (request, after) = take_block(rest, field("bytes"))
                        .ok_or_else(|| bad("bytes=N does not match the block"))?;
                    rest = after;
                    let (answer, after) = parse_answer(rest, golden.exchanges.len() + 1)
                        .map_err(|e| format!("after line {line_no}: {e}"))?;
                    rest = after;
                    golden.exchanges.push(Exchange {
                        connection,
                        request,
                        answer,
                    });
                }
                Some("") if words.len() == 1 => {}
                _ => return Err(bad("unknown line")),
            }
        }
        Ok(golden)
    }

    /// The first difference between `self` (expected) and `other` (actual), if any, in the
    /// order things happened (a connection is checked before the first exchange on it).
    pub fn first_difference(&self, other: &Self) -> Option<String> {
        let connection = |i: usize| {
            let (a, b) = (self.connections.get(i), other.connections.get(i));
            (a != b).then(|| format!("connection {}: expected {a:?}, actual {b:?}", i + 1))
        };
        let mut checked = 0;
        for i in 0..self.exchanges.len().max(other.exchanges.len()) {
            let (a, b) = (self.exchanges.get(i), other.exchanges.get(i));
            let upto = a.iter().chain(b.iter()).map(|x| x.connection + 1).max();
            for c in checked..upto.unwrap_or(checked) {
                if let Some(diff) = connection(c) {
                    return Some(diff);
                }
            }
            checked = checked.max(upto.unwrap_or(checked));
            if a != b {
                return Some(format!(
                    "exchange {}: expected {}\n--- actual {}",
                    i + 1,
                    show(a),
                    show(b)
                ));
            }
        }
        (checked..self.connections.len().max(other.connections.len())).find_map(connection)
    }
}

/// An exchange as text for a difference report.
fn show(x: Option<&Exchange>) -> String {
    let Some(x) = x else {
        return "nothing".to_owned();
    };
    let answer = match &x.answer {
        Answer::Respond { bytes, close } => format!(
            "response{}:\n{}",
            if *close { " then-close" } else { "" },
            String::from_utf8_lossy(bytes)
        ),
        other => format!("{other:?}"),
    };
    format!(
        "on connection {}:\n{}\n{answer}",
        x.connection + 1,
        String::from_utf8_lossy(&x.request)
    )
}

/// Takes `len` bytes plus the closing newline off `rest`.
fn take_block<'a>(rest: &'a [u8], len: Option<&str>) -> Option<(Vec<u8>, &'a [u8])> {
    let len: usize = len?.parse().ok()?;
    let block = rest.get(..len)?;
    if rest.get(len) != Some(&b'\n') {
        return None;
    }
    Some((block.to_vec(), rest.get(len + 1..).unwrap_or_default()))
}

/// Parses the answer line (and block) of exchange `n`.
fn parse_answer(rest: &[u8], n: usize) -> Result<(Answer, &[u8]), String> {
    let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    let line =
        std::str::from_utf8(rest.get(..end).unwrap_or_default()).map_err(|e| e.to_string())?;
    let after = rest.get(end + 1..).unwrap_or_default();
    let words: Vec<&str> = line.split(' ').collect();
    if words.get(1).and_then(|w| w.parse::<usize>().ok()) != Some(n) {
        return Err(format!("expected the answer of exchange {n}: {line:?}"));
    }
    match words.first().copied() {
        Some("response") => {
            let len = words.iter().find_map(|w| w.strip_prefix("bytes="));
            let (bytes, after) = take_block(after, len)
                .ok_or_else(|| format!("bytes=N does not match the block: {line:?}"))?;
            let close = words.contains(&"then-close");
            Ok((Answer::Respond { bytes, close }, after))
        }
        Some("closed") => Ok((Answer::Closed, after)),
        Some("failed") => words
            .get(2)
            .and_then(|id| transport_error(id))
            .map(|e| (Answer::Failed(e), after))
            .ok_or_else(|| format!("unknown transport error: {line:?}")),
        _ => Err(format!("expected response, closed or failed: {line:?}")),
    }
}
