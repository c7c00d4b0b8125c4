//! HTTP/1.1 messages as the virtual AMT device and the provisioner exchange them: sans-IO decoders
//! that take bytes as they arrive, and emitters that write exactly the header names they are given.
//!
//! Nothing here reads a socket or a clock. A connection handler feeds whatever it read into a
//! [`RequestDecoder`] or [`ResponseDecoder`], asks for complete messages (pipelined ones come out
//! one per call), and writes what [`Request::emit`] / [`Response::emit`] return. Heads are parsed
//! by `httparse` (lower-case names, bare `\n` line ends, runs of spaces in the start line and
//! blank lines before it are accepted); bodies may be `Content-Length`, `chunked` (extensions and
//! trailers read and dropped) or, for responses, delimited by the peer closing
//! ([`ResponseDecoder::finish`]). Not spoken: transfer codings other than `chunked`, obsolete
//! folded header lines, and responses to `HEAD` (the response decoder does not know the request
//! method, so a `HEAD` response with `Content-Length` would wait for a body; AMT clients never
//! send `HEAD`).
//!
//! Memory is bounded by [`Limits`]: a peer that streams an endless head, an endless chunked body or
//! an absurd `Content-Length` gets an [`HttpError`] at the limit, and a decoder never holds more
//! than `max_head_bytes + max_body_bytes` of raw input plus the part of one body already decoded. Decoding one byte at a time is linear: the
//! decoders remember how far they have scanned. After an error a decoder keeps returning that
//! error; the connection is then out of sync and should be closed (after answering
//! [`HttpError::status`] on the server side).
//!
//! Emission keeps header names as given (`WWW-Authenticate` stays `WWW-Authenticate`) and in the
//! given order. The framing header (`Content-Length` or `Transfer-Encoding: chunked`) is computed:
//! it takes the place of the first framing header the caller set, or goes last if there was none,
//! and any other framing header is dropped, so a message never carries both. CR and LF inside
//! names, values, the request line or the reason phrase are written as spaces, so no caller input
//! can inject a header. Chunk sizes are written as AMT firmware writes them: four upper-case hex
//! digits (`02FA`), the last chunk `0`.
//!
//! ```
//! use amt_wire::http::{Framing, Limits, RequestDecoder, Response};
//!
//! let mut decoder = RequestDecoder::new(Limits::default());
//! decoder.feed(b"POST /wsman HTTP/1.1\r\nHost: 192.168.1.20:16992\r\nContent-")?;
//! assert!(decoder.next_request()?.is_none()); // not all there yet
//! decoder.feed(b"Length: 5\r\n\r\nhello")?;
//! let request = decoder.next_request()?.expect("a whole request");
//! assert_eq!((request.method.as_str(), request.body.as_slice()), ("POST", &b"hello"[..]));
//!
//! let mut response = Response::new(401, "Unauthorized");
//! response.headers.push("WWW-Authenticate", r#"Digest realm="Digest:0123", qop="auth""#);
//! response.headers.push("Connection", "close");
//! let bytes = response.emit(Framing::ContentLength);
//! assert!(bytes.starts_with(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm="));
//! assert!(bytes.ends_with(b"Connection: close\r\nContent-Length: 0\r\n\r\n"));
//! # Ok::<(), amt_wire::http::HttpError>(())
//! ```

use thiserror::Error;

/// Bounds on what a decoder accepts from the network.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Limits {
    /// Longest message head (start line, header fields and the blank line), in bytes. Also bounds
    /// the trailer section of a chunked body.
    pub max_head_bytes: usize,
    /// Most header fields in one head.
    pub max_headers: usize,
    /// Longest body after removing chunked framing, in bytes.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    /// 16 KiB of head, 64 header fields, 1 MiB of body (AMT's `MaxEnvelopeSize` is far smaller).
    fn default() -> Self {
        Self {
            max_head_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 1024 * 1024,
        }
    }
}

impl Limits {
    /// Most raw bytes a decoder holds at once.
    fn buffer_limit(&self) -> usize {
        self.max_head_bytes.saturating_add(self.max_body_bytes)
    }
}

/// Longest chunk-size line (size, extensions, line end) a decoder waits for.
const MAX_CHUNK_LINE: usize = 1024;

/// How many characters of untrusted text an error keeps.
const ERROR_VALUE_CHARS: usize = 64;

/// Header fields in order, names spelled as received or as they will be emitted.
///
/// Lookups compare names case-insensitively; nothing is ever re-cased.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// No header fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of the first field called `name` (any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The values of every field called `name` (any case), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Appends a field, keeping the name's spelling.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.entries.push((name.into(), value.into()));
    }

    /// Replaces every field called `name` (any case) by one field `name: value`, at the position of
    /// the first one (or at the end when there was none).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self
            .entries
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some(first) => {
                let mut index = 0;
                self.entries.retain(|(n, _)| {
                    let keep = index <= first || !n.eq_ignore_ascii_case(&name);
                    index += 1;
                    keep
                });
                if let Some(entry) = self.entries.get_mut(first) {
                    *entry = (name, value);
                }
            }
            None => self.entries.push((name, value)),
        }
    }

    /// Removes every field called `name` (any case).
    pub fn remove(&mut self, name: &str) {
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// All fields as `(name, value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether any field called `name` holds `token` in its comma-separated list (both compared
    /// case-insensitively), as in `Connection: keep-alive, close`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.entries
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .flat_map(|value| value.split(','))
            .any(|item| item.trim().eq_ignore_ascii_case(token))
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        Self {
            entries: iter
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        }
    }
}

/// An HTTP request.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Request {
    /// The method, such as `POST`.
    pub method: String,
    /// The request target as sent, such as `/wsman`.
    pub target: String,
    /// 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub minor_version: u8,
    /// The header fields; a decoded request keeps its framing fields here too.
    pub headers: Headers,
    /// The body with any chunked framing removed.
    pub body: Vec<u8>,
}

impl Request {
    /// An HTTP/1.1 request with no header fields and an empty body.
    pub fn new(method: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            target: target.into(),
            minor_version: 1,
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// Whether the connection stays open after this request: on HTTP/1.1 unless `Connection:
    /// close`, on HTTP/1.0 only with `Connection: keep-alive`.
    pub fn keep_alive(&self) -> bool {
        keep_alive(self.minor_version, &self.headers)
    }

    /// The request on the wire: request line, the header fields as given, the framing field, the
    /// body.
    ///
    /// A `Transfer-Encoding` field whose last coding is `chunked` asks for a chunked body (written
    /// as one chunk); otherwise `Content-Length` is set from the body, except for a `GET` or `HEAD`
    /// with an empty body and no `Content-Length` field of its own, which gets no framing field.
    pub fn emit(&self) -> Vec<u8> {
        let framing = if last_coding_is_chunked(&self.headers) {
            FieldFraming::Chunked { max_chunk: 0 }
        } else if self.body.is_empty()
            && (self.method == "GET" || self.method == "HEAD")
            && self.headers.get("content-length").is_none()
        {
            FieldFraming::None
        } else {
            FieldFraming::Length
        };
        let mut out = Vec::with_capacity(self.body.len() + 256);
        push_text(&mut out, &self.method);
        out.push(b' ');
        push_text(&mut out, &self.target);
        out.extend_from_slice(format!(" HTTP/1.{}\r\n", self.minor_version).as_bytes());
        push_fields_and_body(&mut out, &self.headers, &self.body, framing);
        out
    }
}

/// An HTTP response.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Response {
    /// The status code, such as 401.
    pub status: u16,
    /// The reason phrase, such as `Unauthorized` (may be empty).
    pub reason: String,
    /// 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub minor_version: u8,
    /// The header fields; a decoded response keeps its framing fields here too.
    pub headers: Headers,
    /// The body with any chunked framing removed.
    pub body: Vec<u8>,
}

/// How [`Response::emit`] delimits the body.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Framing {
    /// A `Content-Length` field.
    ContentLength,
    /// `Transfer-Encoding: chunked`, chunks of at most `max_chunk` bytes (0: the whole body in one
    /// chunk).
    Chunked {
        /// Largest chunk in bytes; 0 means no limit.
        max_chunk: usize,
    },
}

impl Response {
    /// An HTTP/1.1 response with no header fields and an empty body.
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
            minor_version: 1,
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// Whether the connection stays open after this response: on HTTP/1.1 unless `Connection:
    /// close`, on HTTP/1.0 only with `Connection: keep-alive`. (A response whose body was delimited
    /// by the peer closing obviously ended the connection whatever this says.)
    pub fn keep_alive(&self) -> bool {
        keep_alive(self.minor_version, &self.headers)
    }

    /// The response on the wire: status line, the header fields as given, the framing field chosen
    /// by `framing` (any `Content-Length` / `Transfer-Encoding` the caller set is replaced), the
    /// body.
    ///
    /// Statuses that cannot have a body (1xx, 204, 304) are written with neither framing field nor
    /// body.
    pub fn emit(&self, framing: Framing) -> Vec<u8> {
        let framing = if !status_has_body(self.status) {
            FieldFraming::None
        } else {
            match framing {
                Framing::ContentLength => FieldFraming::Length,
                Framing::Chunked { max_chunk } => FieldFraming::Chunked { max_chunk },
            }
        };
        let mut out = Vec::with_capacity(self.body.len() + 256);
        out.extend_from_slice(format!("HTTP/1.{} {} ", self.minor_version, self.status).as_bytes());
        push_text(&mut out, &self.reason);
        out.extend_from_slice(b"\r\n");
        push_fields_and_body(&mut out, &self.headers, &self.body, framing);
        out
    }
}

/// Why bytes could not be decoded as HTTP/1.1. After one of these the stream is out of sync.
#[derive(Clone, Debug, Eq, Error, PartialEq)]
#[non_exhaustive]
pub enum HttpError {
    /// The head (or a chunked body's trailer section) does not end within the limit.
    #[error("message head is longer than {limit} bytes")]
    HeadTooLarge {
        /// [`Limits::max_head_bytes`].
        limit: usize,
    },
    /// The head has more header fields than allowed.
    #[error("message head has more than {limit} header fields")]
    TooManyHeaders {
        /// [`Limits::max_headers`].
        limit: usize,
    },
    /// The start line or a header field is not HTTP/1.x syntax.
    #[error("malformed message: {detail}")]
    Malformed {
        /// What was wrong (with the start line's first characters).
        detail: String,
    },
    /// The body is or would be longer than allowed.
    #[error("body is longer than the limit of {limit} bytes (declared length: {declared:?})")]
    BodyTooLarge {
        /// [`Limits::max_body_bytes`].
        limit: usize,
        /// The `Content-Length` that announced it, if that is how the body was framed.
        declared: Option<u64>,
    },
    /// A `Content-Length` that is not a decimal number, or several that disagree.
    #[error("invalid Content-Length {value:?}")]
    BadContentLength {
        /// The offending field value (its first 64 characters).
        value: String,
    },
    /// Both `Content-Length` and `Transfer-Encoding` (the request-smuggling shape).
    #[error("message has both Content-Length and Transfer-Encoding")]
    ConflictingFraming,
    /// Chunked framing that does not parse.
    #[error("invalid chunked body: {detail}")]
    BadChunk {
        /// What was wrong.
        detail: String,
    },
    /// A transfer coding other than a lone `chunked`.
    #[error("unsupported Transfer-Encoding {value:?}")]
    UnsupportedTransferEncoding {
        /// The field value(s) (first 64 characters).
        value: String,
    },
    /// A version other than HTTP/1.0 and HTTP/1.1.
    #[error("unsupported HTTP version (only HTTP/1.0 and HTTP/1.1 are spoken)")]
    UnsupportedVersion,
    /// The peer closed the connection in the middle of a message.
    #[error("connection closed in the middle of a message")]
    Truncated,
    /// [`RequestDecoder::feed`] / [`ResponseDecoder::feed`] would hold more raw bytes than
    /// `max_head_bytes + max_body_bytes` (messages were fed without being taken out).
    #[error("more than {limit} bytes of undecoded input")]
    BufferFull {
        /// The raw-buffer limit.
        limit: usize,
    },
}

impl HttpError {
    /// A stable kebab-case identifier, for logs and tests.
    pub fn id(&self) -> &'static str {
        match self {
            Self::HeadTooLarge { .. } => "http/head-too-large",
            Self::TooManyHeaders { .. } => "http/too-many-headers",
            Self::Malformed { .. } => "http/malformed",
            Self::BodyTooLarge { .. } => "http/body-too-large",
            Self::BadContentLength { .. } => "http/bad-content-length",
            Self::ConflictingFraming => "http/conflicting-framing",
            Self::BadChunk { .. } => "http/bad-chunk",
            Self::UnsupportedTransferEncoding { .. } => "http/unsupported-transfer-encoding",
            Self::UnsupportedVersion => "http/unsupported-version",
            Self::Truncated => "http/truncated",
            Self::BufferFull { .. } => "http/buffer-full",
        }
    }

    /// The status a server answers with before closing the connection (400, 413, 431, 501, 505).
    pub fn status(&self) -> u16 {
        match self {
            Self::HeadTooLarge { .. } | Self::TooManyHeaders { .. } => 431,
            Self::BodyTooLarge { .. } | Self::BufferFull { .. } => 413,
            Self::UnsupportedTransferEncoding { .. } => 501,
            Self::UnsupportedVersion => 505,
            Self::Malformed { .. }
            | Self::BadContentLength { .. }
            | Self::ConflictingFraming
            | Self::BadChunk { .. }
            | Self::Truncated => 400,
        }
    }
}

/// The standard reason phrase for `status` (RFC 9110), or `""` for a code without one.
pub fn status_reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Decodes the requests a client sends on one connection.
#[derive(Debug)]
pub struct RequestDecoder {
    input: Input,
    pending: Option<Pending<RequestHead>>,
}

impl RequestDecoder {
    /// A decoder for a new connection.
    pub fn new(limits: Limits) -> Self {
        Self {
            input: Input::new(limits),
            pending: None,
        }
    }

    /// Appends bytes read from the connection. Fails (and stays failed) if the undecoded input
    /// would exceed `max_head_bytes + max_body_bytes`; call [`Self::next_request`] after each feed.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), HttpError> {
        self.input.feed(bytes)
    }

    /// The next complete request, or `None` until more bytes arrive. Call again after a request:
    /// pipelined requests come out one per call.
    pub fn next_request(&mut self) -> Result<Option<Request>, HttpError> {
        if let Some(error) = &self.input.failed {
            return Err(error.clone());
        }
        let result = self.step();
        if let Err(error) = &result {
            self.input.failed = Some(error.clone());
        }
        result
    }

    /// Whether a head with `Expect: 100-continue` has been read and its body is not complete yet:
    /// the caller may send `HTTP/1.1 100 Continue\r\n\r\n` (once).
    pub fn expects_continue(&self) -> bool {
        self.pending
            .as_ref()
            .is_some_and(|pending| pending.head.expect_continue)
    }

    /// Bytes held: undecoded input plus the decoded part of an incomplete chunked body.
    pub fn buffered(&self) -> usize {
        self.input.available() + self.pending.as_ref().map_or(0, |p| p.body.len())
    }

    /// Whether no part of a request is held (a connection may be closed without losing anything).
    pub fn is_idle(&self) -> bool {
        self.pending.is_none() && self.input.available() == 0
    }

    fn step(&mut self) -> Result<Option<Request>, HttpError> {
        if self.pending.is_none() {
            let Some(end) = self.input.find_head()? else {
                return Ok(None);
            };
            let head = parse_request_head(
                self.input.unread().get(..end).unwrap_or_default(),
                &self.input.limits,
            )?;
            self.input.consume(end);
            self.pending = Some(head);
        }
        let Some(pending) = self.pending.as_mut() else {
            return Ok(None);
        };
        if !self
            .input
            .read_body(&mut pending.state, &mut pending.body, false)?
        {
            return Ok(None);
        }
        Ok(self.pending.take().map(|pending| Request {
            method: pending.head.method,
            target: pending.head.target,
            minor_version: pending.head.minor_version,
            headers: pending.head.headers,
            body: pending.body,
        }))
    }
}

/// Decodes the responses a server sends on one connection.
#[derive(Debug)]
pub struct ResponseDecoder {
    input: Input,
    pending: Option<Pending<ResponseHead>>,
    closed: bool,
}

impl ResponseDecoder {
    /// A decoder for a new connection.
    pub fn new(limits: Limits) -> Self {
        Self {
            input: Input::new(limits),
            pending: None,
            closed: false,
        }
    }

    /// Appends bytes read from the connection. Fails (and stays failed) if the undecoded input
    /// would exceed `max_head_bytes + max_body_bytes`; call [`Self::next_response`] after each feed.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), HttpError> {
        self.input.feed(bytes)
    }

    /// The next complete final response, or `None` until more bytes arrive. Interim 1xx responses
    /// (`100 Continue`) are read and dropped, except `101 Switching Protocols`, which is returned.
    /// A response without `Content-Length` or `Transfer-Encoding` only completes in
    /// [`Self::finish`].
    pub fn next_response(&mut self) -> Result<Option<Response>, HttpError> {
        if let Some(error) = &self.input.failed {
            return Err(error.clone());
        }
        let result = self.step();
        if let Err(error) = &result {
            self.input.failed = Some(error.clone());
        }
        result
    }

    /// The peer closed the connection: returns the response this completes (a close-delimited
    /// body, or one still buffered), `None` when nothing was pending, and [`HttpError::Truncated`]
    /// for a partial message. Call until it returns `None`.
    pub fn finish(&mut self) -> Result<Option<Response>, HttpError> {
        self.closed = true;
        self.next_response()
    }

    fn step(&mut self) -> Result<Option<Response>, HttpError> {
        loop {
            if self.pending.is_none() {
                let Some(end) = self.input.find_head()? else {
                    if self.closed && self.input.available() > 0 {
                        return Err(HttpError::Truncated);
                    }
                    return Ok(None);
                };
                let head = parse_response_head(
                    self.input.unread().get(..end).unwrap_or_default(),
                    &self.input.limits,
                )?;
                self.input.consume(end);
                let interim = (100..200).contains(&head.head.status) && head.head.status != 101;
                if interim {
                    continue;
                }
                self.pending = Some(head);
            }
            let Some(pending) = self.pending.as_mut() else {
                return Ok(None);
            };
            if !self
                .input
                .read_body(&mut pending.state, &mut pending.body, self.closed)?
            {
                return Ok(None);
            }
            return Ok(self.pending.take().map(|pending| Response {
                status: pending.head.status,
                reason: pending.head.reason,
                minor_version: pending.head.minor_version,
                headers: pending.head.headers,
                body: pending.body,
            }));
        }
    }
}

/// A parsed head whose body is still being read.
#[derive(Debug)]
struct Pending<H> {
    head: H,
    body: Vec<u8>,
    state: BodyState,
}

#[derive(Debug)]
struct RequestHead {
    method: String,
    target: String,
    minor_version: u8,
    headers: Headers,
    expect_continue: bool,
}

#[derive(Debug)]
struct ResponseHead {
    status: u16,
    reason: String,
    minor_version: u8,
    headers: Headers,
}

/// Where the body reader is.
#[derive(Debug)]
enum BodyState {
    /// This many bytes of a `Content-Length` body are still to come.
    Length(usize),
    /// Inside a chunked body.
    Chunked(ChunkState),
    /// Everything until the peer closes.
    UntilClose,
}

#[derive(Clone, Copy, Debug)]
enum ChunkState {
    /// Expecting a chunk-size line.
    Size,
    /// This many bytes of chunk data are still to come.
    Data(usize),
    /// Expecting the line end after chunk data.
    DataEnd,
    /// After the last chunk: trailer lines (this many bytes so far) until a blank line.
    Trailers(usize),
}

/// Raw input not yet decoded.
#[derive(Debug)]
struct Input {
    limits: Limits,
    buf: Vec<u8>,
    /// Bytes of `buf` already decoded.
    pos: usize,
    /// Bytes after `pos` already searched for a line end without finding what was wanted.
    scanned: usize,
    failed: Option<HttpError>,
    /// Bytes looked at by line searches (lets tests check that decoding is linear).
    #[cfg(test)]
    work: usize,
}

impl Input {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            buf: Vec::new(),
            pos: 0,
            scanned: 0,
            failed: None,
            #[cfg(test)]
            work: 0,
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), HttpError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let limit = self.limits.buffer_limit();
        if self.available().saturating_add(bytes.len()) > limit {
            let error = HttpError::BufferFull { limit };
            self.failed = Some(error.clone());
            return Err(error);
        }
        if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    fn unread(&self) -> &[u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    fn available(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Marks `n` unread bytes as decoded; the next line search starts afresh after them.
    fn consume(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.buf.len());
        self.scanned = 0;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
    }

    /// The first `n` unread bytes, consumed.
    fn take(&mut self, n: usize) -> Vec<u8> {
        let bytes = self.unread().get(..n).unwrap_or_default().to_vec();
        self.consume(n);
        bytes
    }

    /// Skips empty lines before a start line (RFC 9112 §2.2), then looks for the blank line that
    /// ends the head. Returns the head's length including that blank line.
    fn find_head(&mut self) -> Result<Option<usize>, HttpError> {
        loop {
            match self.unread() {
                [b'\n', ..] => self.consume(1),
                [b'\r', b'\n', ..] => self.consume(2),
                [b'\r'] => return Ok(None),
                _ => break,
            }
        }
        let limit = self.limits.max_head_bytes;
        // Borrow the field, not `self`, so the test-only work counter can be updated.
        let data = self.buf.get(self.pos..).unwrap_or_default();
        let from = self.scanned.saturating_sub(2);
        #[cfg(test)]
        {
            self.work += data.len().saturating_sub(from);
        }
        let mut at = from;
        let found = loop {
            let Some(offset) = data.get(at..).and_then(find_newline) else {
                break None;
            };
            let newline = at + offset;
            match (data.get(newline + 1), data.get(newline + 2)) {
                (Some(b'\n'), _) => break Some(newline + 2),
                (Some(b'\r'), Some(b'\n')) => break Some(newline + 3),
                _ => at = newline + 1,
            }
        };
        match found {
            Some(end) if end > limit => Err(HttpError::HeadTooLarge { limit }),
            Some(end) => Ok(Some(end)),
            None if data.len() > limit => Err(HttpError::HeadTooLarge { limit }),
            None => {
                self.scanned = data.len();
                Ok(None)
            }
        }
    }

    /// The length (including the `\n`) of the next unread line, if it is complete.
    fn find_line(&mut self) -> Option<usize> {
        // Borrow the field, not `self`, so the test-only work counter can be updated.
        let data = self.buf.get(self.pos..).unwrap_or_default();
        let from = self.scanned.min(data.len());
        #[cfg(test)]
        {
            self.work += data.len() - from;
        }
        match data.get(from..).and_then(find_newline) {
            Some(offset) => Some(from + offset + 1),
            None => {
                self.scanned = data.len();
                None
            }
        }
    }

    /// Moves body bytes from the input into `body`. `Ok(true)` when the body is complete; `closed`
    /// says the peer has closed, which completes a close-delimited body and truncates any other.
    fn read_body(
        &mut self,
        state: &mut BodyState,
        body: &mut Vec<u8>,
        closed: bool,
    ) -> Result<bool, HttpError> {
        let max_body = self.limits.max_body_bytes;
        let complete = match state {
            BodyState::Length(remaining) => {
                let n = (*remaining).min(self.available());
                body.extend_from_slice(self.unread().get(..n).unwrap_or_default());
                self.consume(n);
                *remaining -= n;
                *remaining == 0
            }
            BodyState::UntilClose => {
                let n = self.available();
                if body.len().saturating_add(n) > max_body {
                    return Err(HttpError::BodyTooLarge {
                        limit: max_body,
                        declared: None,
                    });
                }
                body.extend_from_slice(self.unread());
                self.consume(n);
                closed
            }
            BodyState::Chunked(chunk) => self.read_chunks(chunk, body)?,
        };
        if !complete && closed {
            return Err(HttpError::Truncated);
        }
        Ok(complete)
    }

    fn read_chunks(
        &mut self,
        state: &mut ChunkState,
        body: &mut Vec<u8>,
    ) -> Result<bool, HttpError> {
        let max_body = self.limits.max_body_bytes;
        loop {
            match *state {
                ChunkState::Size => {
                    let Some(len) = self.find_line() else {
                        if self.available() > MAX_CHUNK_LINE {
                            return Err(bad_chunk("chunk-size line too long"));
                        }
                        return Ok(false);
                    };
                    if len > MAX_CHUNK_LINE {
                        return Err(bad_chunk("chunk-size line too long"));
                    }
                    let line = self.take(len);
                    let size = parse_chunk_size(&line)?;
                    if size == 0 {
                        *state = ChunkState::Trailers(0);
                        continue;
                    }
                    let total = u64::try_from(body.len())
                        .unwrap_or(u64::MAX)
                        .saturating_add(size);
                    let size = match usize::try_from(size) {
                        Ok(size) if total <= u64::try_from(max_body).unwrap_or(u64::MAX) => size,
                        _ => {
                            return Err(HttpError::BodyTooLarge {
                                limit: max_body,
                                declared: None,
                            });
                        }
                    };
                    *state = ChunkState::Data(size);
                }
                ChunkState::Data(remaining) => {
                    let n = remaining.min(self.available());
                    if n == 0 {
                        return Ok(false);
                    }
                    body.extend_from_slice(self.unread().get(..n).unwrap_or_default());
                    self.consume(n);
                    *state = if remaining == n {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(remaining - n)
                    };
                }
                ChunkState::DataEnd => {
                    match self.unread() {
                        [b'\n', ..] => self.consume(1),
                        [b'\r', b'\n', ..] => self.consume(2),
                        [] | [b'\r'] => return Ok(false),
                        _ => return Err(bad_chunk("chunk data not followed by a line end")),
                    }
                    *state = ChunkState::Size;
                }
                ChunkState::Trailers(seen) => {
                    let limit = self.limits.max_head_bytes;
                    let Some(len) = self.find_line() else {
                        if seen.saturating_add(self.available()) > limit {
                            return Err(HttpError::HeadTooLarge { limit });
                        }
                        return Ok(false);
                    };
                    let blank = matches!(self.unread().get(..len), Some(b"\n" | b"\r\n"));
                    self.consume(len);
                    if blank {
                        return Ok(true);
                    }
                    let seen = seen.saturating_add(len);
                    if seen > limit {
                        return Err(HttpError::HeadTooLarge { limit });
                    }
                    *state = ChunkState::Trailers(seen);
                }
            }
        }
    }
}

/// The index of the first `\n` in `bytes`, eight bytes at a time (a whole head is searched this way
/// on every request, which made the byte-by-byte search the largest cost of decoding).
fn find_newline(bytes: &[u8]) -> Option<usize> {
    const LOW: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    const NEWLINES: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for word in words.by_ref() {
        let mut array = [0u8; 8];
        array.copy_from_slice(word);
        let x = u64::from_ne_bytes(array) ^ NEWLINES;
        // Non-zero exactly when some byte of `x` is zero, i.e. some byte of the word is `\n`.
        if x.wrapping_sub(LOW) & !x & HIGH != 0 {
            return word.iter().position(|&b| b == b'\n').map(|i| offset + i);
        }
        offset += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| offset + i)
}

fn bad_chunk(detail: &str) -> HttpError {
    HttpError::BadChunk {
        detail: detail.to_owned(),
    }
}

/// Reads a chunk-size line (`1A2B;ext=1\r\n`): hex digits, optional blanks, optional extensions.
fn parse_chunk_size(line: &[u8]) -> Result<u64, HttpError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    if digits == 0 {
        return Err(HttpError::BadChunk {
            detail: format!(
                "chunk size {:?} is not hexadecimal",
                clip(&String::from_utf8_lossy(line))
            ),
        });
    }
    let mut size: u64 = 0;
    for &b in line.get(..digits).unwrap_or_default() {
        let digit = char::from(b).to_digit(16).map(u64::from).unwrap_or(0);
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(digit))
            .ok_or_else(|| bad_chunk("chunk size overflows 64 bits"))?;
    }
    let rest = line.get(digits..).unwrap_or_default();
    let rest = rest.trim_ascii_start();
    if !(rest.is_empty() || rest.starts_with(b";")) {
        return Err(HttpError::BadChunk {
            detail: format!(
                "unexpected {:?} after the chunk size",
                clip(&String::from_utf8_lossy(rest))
            ),
        });
    }
    Ok(size)
}

fn parse_request_head(head: &[u8], limits: &Limits) -> Result<Pending<RequestHead>, HttpError> {
    // One slot more than the limit: the limit counts the fields an emitter copies, not the
    // framing field it writes itself (see [`check_reemittable`]).
    let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers.saturating_add(1)];
    let mut parsed = httparse::Request::new(&mut slots);
    let mut config = httparse::ParserConfig::default();
    config.allow_multiple_spaces_in_request_line_delimiters(true);
    let status = config.parse_request(&mut parsed, head);
    check_head_parse(status, head, limits, true)?;
    let (Some(method), Some(target), Some(minor_version)) =
        (parsed.method, parsed.path, parsed.version)
    else {
        return Err(malformed("incomplete request line", head));
    };
    let headers = collect_headers(parsed.headers);
    check_reemittable(
        method.len() + target.len() + " HTTP/1.x\r\n".len() + 1,
        &headers,
        limits,
    )?;
    let state = body_state(&headers, limits, false)?;
    let expect_continue = headers
        .get_all("expect")
        .any(|v| v.eq_ignore_ascii_case("100-continue"));
    Ok(Pending {
        head: RequestHead {
            method: method.to_owned(),
            target: target.to_owned(),
            minor_version,
            headers,
            expect_continue,
        },
        body: Vec::new(),
        state,
    })
}

fn parse_response_head(head: &[u8], limits: &Limits) -> Result<Pending<ResponseHead>, HttpError> {
    // One slot more than the limit: the limit counts the fields an emitter copies, not the
    // framing field it writes itself (see [`check_reemittable`]).
    let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers.saturating_add(1)];
    let mut parsed = httparse::Response::new(&mut slots);
    let mut config = httparse::ParserConfig::default();
    config
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_spaces_after_header_name_in_responses(true);
    let status = config.parse_response(&mut parsed, head);
    check_head_parse(status, head, limits, false)?;
    let (Some(minor_version), Some(code), Some(reason)) =
        (parsed.version, parsed.code, parsed.reason)
    else {
        return Err(malformed("incomplete status line", head));
    };
    if code < 100 {
        return Err(malformed("status code below 100", head));
    }
    let headers = collect_headers(parsed.headers);
    check_reemittable(
        "HTTP/1.x 000 \r\n".len() + reason.trim_matches([' ', '\t']).len(),
        &headers,
        limits,
    )?;
    let state = if status_has_body(code) {
        body_state(&headers, limits, true)?
    } else {
        BodyState::Length(0)
    };
    Ok(Pending {
        head: ResponseHead {
            status: code,
            reason: reason.trim_matches([' ', '\t']).to_owned(),
            minor_version,
            headers,
        },
        body: Vec::new(),
        state,
    })
}

/// Turns an `httparse` outcome on a whole head into ours.
fn check_head_parse(
    status: httparse::Result<usize>,
    head: &[u8],
    limits: &Limits,
    request: bool,
) -> Result<(), HttpError> {
    match status {
        Ok(httparse::Status::Complete(len)) if len == head.len() => Ok(()),
        Ok(_) => Err(malformed("head does not end at its blank line", head)),
        Err(httparse::Error::TooManyHeaders) => Err(HttpError::TooManyHeaders {
            limit: limits.max_headers,
        }),
        Err(httparse::Error::Version) => {
            let line = first_line(head);
            let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
            let version = if request {
                words.next_back()
            } else {
                words.next()
            };
            if version.is_some_and(|v| v.starts_with(b"HTTP/")) {
                Err(HttpError::UnsupportedVersion)
            } else {
                Err(malformed("invalid HTTP version", head))
            }
        }
        Err(error) => Err(malformed(&error.to_string(), head)),
    }
}

fn first_line(head: &[u8]) -> &[u8] {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn malformed(what: &str, head: &[u8]) -> HttpError {
    HttpError::Malformed {
        detail: format!(
            "{what} (start line {:?})",
            clip(&String::from_utf8_lossy(first_line(head)))
        ),
    }
}

/// Bytes an emitter may add for the framing field it computes (`Content-Length: <20 digits>` or
/// `Transfer-Encoding: chunked`, with CRLF).
const FRAMING_FIELD_RESERVE: usize = 40;

/// The limits apply to the message as this module would emit it again, so that every decoded
/// message re-emits within the same limits and decodes again: at most `max_headers` fields besides
/// the framing fields (an emitter replaces those by the one it computes), and the emitted head
/// (`name: value` with one space, the computed framing field) at most `max_head_bytes`.
fn check_reemittable(
    start_line: usize,
    headers: &Headers,
    limits: &Limits,
) -> Result<(), HttpError> {
    let mut fields = 0usize;
    let mut bytes = start_line
        .saturating_add(FRAMING_FIELD_RESERVE)
        .saturating_add(2);
    for (name, value) in headers.iter() {
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            continue;
        }
        fields += 1;
        bytes = bytes.saturating_add(name.len() + value.len() + 4);
    }
    if fields > limits.max_headers {
        return Err(HttpError::TooManyHeaders {
            limit: limits.max_headers,
        });
    }
    if bytes > limits.max_head_bytes {
        return Err(HttpError::HeadTooLarge {
            limit: limits.max_head_bytes,
        });
    }
    Ok(())
}

fn collect_headers(parsed: &[httparse::Header<'_>]) -> Headers {
    parsed
        .iter()
        .map(|h| {
            let value = match std::str::from_utf8(h.value) {
                Ok(text) => text.trim_matches([' ', '\t']).to_owned(),
                Err(_) => String::from_utf8_lossy(h.value)
                    .trim_matches([' ', '\t'])
                    .to_owned(),
            };
            (h.name.to_owned(), value)
        })
        .collect()
}

/// How the body after a head is delimited (RFC 9112 §6.3, minus what AMT never needs).
fn body_state(headers: &Headers, limits: &Limits, response: bool) -> Result<BodyState, HttpError> {
    let has_length = headers.get("content-length").is_some();
    if headers.get("transfer-encoding").is_some() {
        if has_length {
            return Err(HttpError::ConflictingFraming);
        }
        let mut codings = headers
            .get_all("transfer-encoding")
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|c| !c.is_empty());
        let only_chunked = codings
            .next()
            .is_some_and(|c| c.eq_ignore_ascii_case("chunked"))
            && codings.next().is_none();
        if !only_chunked {
            let value: Vec<&str> = headers.get_all("transfer-encoding").collect();
            return Err(HttpError::UnsupportedTransferEncoding {
                value: clip(&value.join(", ")),
            });
        }
        return Ok(BodyState::Chunked(ChunkState::Size));
    }
    if !has_length {
        return Ok(if response {
            BodyState::UntilClose
        } else {
            BodyState::Length(0)
        });
    }
    let mut length: Option<u64> = None;
    for value in headers.get_all("content-length") {
        let bad = || HttpError::BadContentLength { value: clip(value) };
        for part in value.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let n: u64 = part.parse().map_err(|_| bad())?;
            if length.is_some_and(|seen| seen != n) {
                return Err(bad());
            }
            length = Some(n);
        }
    }
    let declared = length.unwrap_or(0);
    match usize::try_from(declared) {
        Ok(n) if n <= limits.max_body_bytes => Ok(BodyState::Length(n)),
        _ => Err(HttpError::BodyTooLarge {
            limit: limits.max_body_bytes,
            declared: Some(declared),
        }),
    }
}

fn status_has_body(status: u16) -> bool {
    !((100..200).contains(&status) || status == 204 || status == 304)
}

fn keep_alive(minor_version: u8, headers: &Headers) -> bool {
    if headers.has_token("connection", "close") {
        return false;
    }
    minor_version >= 1 || headers.has_token("connection", "keep-alive")
}

fn last_coding_is_chunked(headers: &Headers) -> bool {
    headers
        .get_all("transfer-encoding")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .last()
        .is_some_and(|c| c.eq_ignore_ascii_case("chunked"))
}

/// The framing field an emitted message gets.
#[derive(Clone, Copy)]
enum FieldFraming {
    /// No framing field, no body.
    None,
    /// `Content-Length`.
    Length,
    /// `Transfer-Encoding: chunked`.
    Chunked { max_chunk: usize },
}

/// Writes the header fields (framing field computed, see the module docs), the blank line and the
/// body.
fn push_fields_and_body(out: &mut Vec<u8>, headers: &Headers, body: &[u8], framing: FieldFraming) {
    let mut placed = false;
    for (name, value) in headers.iter() {
        let is_length = name.eq_ignore_ascii_case("content-length");
        let is_coding = name.eq_ignore_ascii_case("transfer-encoding");
        if !is_length && !is_coding {
            push_field(out, name, value);
            continue;
        }
        if !placed {
            placed = true;
            // Keep the caller's spelling when the field kind stays the same.
            let spelling = match framing {
                FieldFraming::Length if is_length => Some(name),
                FieldFraming::Chunked { .. } if is_coding => Some(name),
                _ => None,
            };
            push_framing_field(out, spelling, body.len(), framing);
        }
    }
    if !placed {
        push_framing_field(out, None, body.len(), framing);
    }
    out.extend_from_slice(b"\r\n");
    match framing {
        FieldFraming::None => {}
        FieldFraming::Length => out.extend_from_slice(body),
        FieldFraming::Chunked { max_chunk } => {
            let size = if max_chunk == 0 {
                body.len()
            } else {
                max_chunk
            };
            for chunk in body.chunks(size.max(1)) {
                out.extend_from_slice(format!("{:04X}\r\n", chunk.len()).as_bytes());
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        }
    }
}

fn push_framing_field(
    out: &mut Vec<u8>,
    spelling: Option<&str>,
    len: usize,
    framing: FieldFraming,
) {
    match framing {
        FieldFraming::None => {}
        FieldFraming::Length => {
            push_field(out, spelling.unwrap_or("Content-Length"), &len.to_string());
        }
        FieldFraming::Chunked { .. } => {
            push_field(out, spelling.unwrap_or("Transfer-Encoding"), "chunked");
        }
    }
}

fn push_field(out: &mut Vec<u8>, name: &str, value: &str) {
    push_text(out, name);
    out.extend_from_slice(b": ");
    push_text(out, value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `text` with CR and LF written as spaces (no caller input can end a line).
fn push_text(out: &mut Vec<u8>, text: &str) {
    out.extend(text.bytes().map(|b| match b {
        b'\r' | b'\n' => b' ',
        other => other,
    }));
}

/// Truncates untrusted text kept in an error to a short prefix.
fn clip(value: &str) -> String {
    value.chars().take(ERROR_VALUE_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_requests(input: &[u8], limits: Limits) -> Result<Vec<Request>, HttpError> {
        let mut decoder = RequestDecoder::new(limits);
        decoder.feed(input)?;
        let mut out = Vec::new();
        while let Some(request) = decoder.next_request()? {
            out.push(request);
        }
        Ok(out)
    }

    fn one_request(input: &[u8]) -> Result<Request, HttpError> {
        let mut all = decode_requests(input, Limits::default())?;
        assert_eq!(all.len(), 1, "expected exactly one request");
        all.pop().ok_or(HttpError::Truncated)
    }

    fn one_response(input: &[u8]) -> Result<Response, HttpError> {
        let mut decoder = ResponseDecoder::new(Limits::default());
        decoder.feed(input)?;
        let response = match decoder.next_response()? {
            Some(r) => r,
            None => decoder.finish()?.ok_or(HttpError::Truncated)?,
        };
        assert_eq!(decoder.finish()?, None);
        Ok(response)
    }

    #[test]
    fn headers_lookup_is_case_insensitive_and_keeps_spelling() {
        let mut h = Headers::new();
        h.push("WWW-Authenticate", "a");
        h.push("www-authenticate", "b");
        h.push("Host", "x");
        assert_eq!(h.get("Www-Authenticate"), Some("a"));
        assert_eq!(
            h.get_all("WWW-AUTHENTICATE").collect::<Vec<_>>(),
            ["a", "b"]
        );
        h.set("Www-authenticate", "c");
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            [("Www-authenticate", "c"), ("Host", "x")]
        );
        h.set("Server", "s");
        assert_eq!(h.len(), 3);
        h.remove("HOST");
        assert_eq!(h.get("host"), None);
        assert!(!h.is_empty());
        assert!(Headers::new().is_empty());
    }

    #[test]
    fn connection_tokens_decide_keep_alive() {
        let mut r = Request::new("POST", "/wsman");
        assert!(r.keep_alive());
        r.headers.push("Connection", "Keep-Alive, Close");
        assert!(!r.keep_alive());
        r.headers = Headers::new();
        r.minor_version = 0;
        assert!(!r.keep_alive());
        r.headers.push("connection", "keep-alive");
        assert!(r.keep_alive());
        let mut resp = Response::new(401, "Unauthorized");
        resp.headers.push("Connection", "close");
        assert!(!resp.keep_alive());
    }

    #[test]
    fn content_length_request() -> Result<(), HttpError> {
        let r = one_request(b"POST /wsman HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")?;
        assert_eq!(r.method, "POST");
        assert_eq!(r.target, "/wsman");
        assert_eq!(r.minor_version, 1);
        assert_eq!(r.body, b"abc");
        assert_eq!(r.headers.get("content-length"), Some("3"));
        Ok(())
    }

    #[test]
    fn no_framing_means_empty_request_body() -> Result<(), HttpError> {
        let all = decode_requests(
            b"POST /wsman HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.0\r\n\r\n",
            Limits::default(),
        )?;
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|r| r.body.is_empty()));
        assert_eq!(all[1].minor_version, 0);
        Ok(())
    }

    #[test]
    fn chunked_request_with_extensions_and_trailers() -> Result<(), HttpError> {
        let r = one_request(
            b"POST /wsman HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
              3;name=value\r\nabc\r\n2 \r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n",
        )?;
        assert_eq!(r.body, b"abcde");
        Ok(())
    }

    #[test]
    fn bare_newlines_and_leading_blank_lines_are_tolerated() -> Result<(), HttpError> {
        let r = one_request(b"\r\n\nPOST  /wsman  HTTP/1.1\nhost:h\ncontent-length:  2 \n\nhi")?;
        assert_eq!(r.body, b"hi");
        assert_eq!(r.headers.get("Host"), Some("h"));
        assert_eq!(r.headers.get("Content-Length"), Some("2"));
        Ok(())
    }

    #[test]
    fn framing_errors() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                "http/conflicting-framing",
            ),
            (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "http/bad-content-length"),
            (b"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", "http/bad-content-length"),
            (b"POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", "http/bad-content-length"),
            (b"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", "http/bad-content-length"),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                "http/bad-content-length",
            ),
            (b"POST / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n", "http/bad-content-length"),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                "http/bad-content-length",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                "http/unsupported-transfer-encoding",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                "http/unsupported-transfer-encoding",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n",
                "http/bad-chunk",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
                "http/bad-chunk",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n",
                "http/bad-chunk",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1 x\r\n",
                "http/bad-chunk",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFF\r\n",
                "http/body-too-large",
            ),
            (b"GET / HTTP/2.0\r\n\r\n", "http/unsupported-version"),
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "http/unsupported-version"),
            (b"GET / FTP/1.1\r\n\r\n", "http/malformed"),
            (b"GET /\r\n\r\n", "http/malformed"),
            (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", "http/malformed"),
            (b"GET / HTTP/1.1\r\n folded: x\r\n\r\n", "http/malformed"),
        ];
        for (input, id) in cases {
            let got = decode_requests(input, Limits::default());
            assert_eq!(
                got.as_ref().map_err(HttpError::id).err(),
                Some(*id),
                "{:?} gave {got:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn same_content_length_twice_is_accepted() -> Result<(), HttpError> {
        let r =
            one_request(b"POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2, 2\r\n\r\nok")?;
        assert_eq!(r.body, b"ok");
        Ok(())
    }

    #[test]
    fn errors_are_sticky_and_carry_a_status() {
        let mut d = RequestDecoder::new(Limits::default());
        assert_eq!(d.feed(b"GET / HTTP/3.0\r\n\r\n"), Ok(()));
        let first = d.next_request();
        assert_eq!(first, Err(HttpError::UnsupportedVersion));
        assert_eq!(d.next_request(), first);
        assert_eq!(
            d.feed(b"GET / HTTP/1.1\r\n\r\n"),
            Err(HttpError::UnsupportedVersion)
        );
        assert_eq!(HttpError::UnsupportedVersion.status(), 505);
        assert_eq!(HttpError::HeadTooLarge { limit: 1 }.status(), 431);
        assert_eq!(
            HttpError::BodyTooLarge {
                limit: 1,
                declared: None
            }
            .status(),
            413
        );
        assert_eq!(HttpError::ConflictingFraming.status(), 400);
        assert_eq!(
            HttpError::UnsupportedTransferEncoding {
                value: "gzip".into()
            }
            .status(),
            501
        );
    }

    /// Fuzz finding (`http_request`): a response with exactly 64 header fields and no framing
    /// field decoded, but its re-emission (which adds `Content-Length`) had 65 and did not.
    #[test]
    fn a_message_at_the_header_limit_re_emits_and_decodes_again() -> Result<(), HttpError> {
        let corpus = include_bytes!("../testdata/http/response-64-headers.http");
        let mut d = ResponseDecoder::new(Limits::default());
        d.feed(corpus)?;
        let response = d.finish()?.ok_or_else(|| malformed("no response", b""))?;
        assert_eq!(response.headers.iter().count(), 64);
        for framing in [Framing::ContentLength, Framing::Chunked { max_chunk: 7 }] {
            let bytes = response.emit(framing);
            let mut again = ResponseDecoder::new(Limits::default());
            again.feed(&bytes)?;
            let decoded = match again.next_response()? {
                Some(r) => r,
                None => again.finish()?.ok_or_else(|| malformed("none", b""))?,
            };
            assert_eq!(decoded.body, response.body);
            assert_eq!(decoded.emit(framing), bytes);
        }
        // 65 fields besides framing stay over the limit.
        let mut over = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..65 {
            over.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        over.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        let mut d = ResponseDecoder::new(Limits::default());
        let r = d.feed(&over).and_then(|()| d.next_response());
        assert_eq!(r.map(|_| ()), Err(HttpError::TooManyHeaders { limit: 64 }));
        Ok(())
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_head_bytes: 64,
            max_headers: 2,
            max_body_bytes: 8,
        };
        let long_head = [
            b"GET / HTTP/1.1\r\nX: ".as_slice(),
            &[b'a'; 45],
            b"\r\n\r\n",
        ]
        .concat();
        assert_eq!(
            decode_requests(&long_head, limits),
            Err(HttpError::HeadTooLarge { limit: 64 })
        );
        assert_eq!(
            decode_requests(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits),
            Err(HttpError::TooManyHeaders { limit: 2 })
        );
        assert_eq!(
            decode_requests(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n", limits),
            Err(HttpError::BodyTooLarge {
                limit: 8,
                declared: Some(9)
            })
        );
        assert_eq!(
            decode_requests(
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\naaaaa\r\n4\r\n",
                limits
            ),
            Err(HttpError::BodyTooLarge {
                limit: 8,
                declared: None
            })
        );
        let mut d = RequestDecoder::new(limits);
        assert_eq!(
            d.feed(&[b'G'; 73]),
            Err(HttpError::BufferFull { limit: 72 })
        );
    }

    #[test]
    fn endless_head_fails_at_the_limit_without_buffering_more() {
        let limits = Limits::default();
        let mut d = RequestDecoder::new(limits);
        let mut result = Ok(());
        let mut fed = 0usize;
        for byte in b"GET / HTTP/1.1\r\nX: "
            .iter()
            .chain(std::iter::repeat(&b'a'))
        {
            result = d
                .feed(std::slice::from_ref(byte))
                .and_then(|()| d.next_request().map(drop));
            fed += 1;
            if result.is_err() {
                break;
            }
        }
        assert_eq!(
            result,
            Err(HttpError::HeadTooLarge {
                limit: limits.max_head_bytes
            })
        );
        assert_eq!(fed, limits.max_head_bytes + 1);
        assert!(d.buffered() <= limits.max_head_bytes + 1);
    }

    #[test]
    fn endless_trailers_and_chunk_lines_fail() {
        let limits = Limits {
            max_head_bytes: 128,
            ..Limits::default()
        };
        let mut d = RequestDecoder::new(limits);
        let mut result = d.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n");
        for _ in 0..200 {
            result = result
                .and_then(|()| d.feed(b"T: x\r\n"))
                .and_then(|()| d.next_request().map(drop));
        }
        assert_eq!(result, Err(HttpError::HeadTooLarge { limit: 128 }));

        let mut d = RequestDecoder::new(limits);
        let mut result = d.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;");
        for _ in 0..MAX_CHUNK_LINE {
            result = result
                .and_then(|()| d.feed(b"e"))
                .and_then(|()| d.next_request().map(drop));
        }
        assert_eq!(result.map_err(|e| e.id()), Err("http/bad-chunk"));
    }

    #[test]
    fn byte_at_a_time_decoding_is_linear() -> Result<(), HttpError> {
        let mut message = b"POST /wsman HTTP/1.1\r\nTransfer-Encoding: chunked\r\n".to_vec();
        for i in 0..500 {
            message.extend_from_slice(format!("X-Header-{i}: value\r\n").as_bytes());
        }
        message.extend_from_slice(b"\r\n");
        for _ in 0..200 {
            message.extend_from_slice(b"0005;some-extension=with-a-long-value\r\nhello\r\n");
        }
        message.extend_from_slice(b"0\r\n\r\n");
        let limits = Limits {
            max_head_bytes: 64 * 1024,
            max_headers: 1000,
            ..Limits::default()
        };
        let mut d = RequestDecoder::new(limits);
        let mut got = None;
        for byte in &message {
            d.feed(std::slice::from_ref(byte))?;
            if let Some(r) = d.next_request()? {
                got = Some(r);
            }
        }
        let request = got.ok_or(HttpError::Truncated)?;
        assert_eq!(request.body.len(), 1000);
        assert!(
            d.input.work <= 3 * message.len(),
            "scanned {} bytes for a {}-byte message",
            d.input.work,
            message.len()
        );
        assert!(d.is_idle());
        Ok(())
    }

    #[test]
    fn expect_continue_until_the_body_is_complete() -> Result<(), HttpError> {
        let mut d = RequestDecoder::new(Limits::default());
        d.feed(b"POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n")?;
        assert!(!d.expects_continue());
        assert_eq!(d.next_request()?, None);
        assert!(d.expects_continue());
        assert!(!d.is_idle());
        d.feed(b"ok")?;
        assert!(d.next_request()?.is_some());
        assert!(!d.expects_continue());
        assert!(d.is_idle());
        Ok(())
    }

    #[test]
    fn request_emit_frames_the_body() {
        let mut r = Request::new("POST", "/wsman");
        r.headers.push("Authorization", "Digest x");
        r.headers.push("Host", "h:16992");
        r.body = b"<x/>".to_vec();
        assert_eq!(
            r.emit(),
            b"POST /wsman HTTP/1.1\r\nAuthorization: Digest x\r\nHost: h:16992\r\nContent-Length: 4\r\n\r\n<x/>"
        );
        r.headers.push("transfer-encoding", "chunked");
        assert_eq!(
            r.emit(),
            b"POST /wsman HTTP/1.1\r\nAuthorization: Digest x\r\nHost: h:16992\r\ntransfer-encoding: chunked\r\n\r\n0004\r\n<x/>\r\n0\r\n\r\n"
        );
        assert_eq!(Request::new("GET", "/").emit(), b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(
            Request::new("POST", "/").emit(),
            b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn response_emit_replaces_caller_framing_in_place() {
        let mut r = Response::new(200, "OK");
        r.headers.push("Server", "AMT");
        r.headers.push("content-length", "999");
        r.headers.push("Transfer-Encoding", "gzip");
        r.headers.push("X-Frame-Options", "DENY");
        r.body = b"abcde".to_vec();
        assert_eq!(
            r.emit(Framing::ContentLength),
            b"HTTP/1.1 200 OK\r\nServer: AMT\r\ncontent-length: 5\r\nX-Frame-Options: DENY\r\n\r\nabcde"
        );
        assert_eq!(
            r.emit(Framing::Chunked { max_chunk: 2 }),
            b"HTTP/1.1 200 OK\r\nServer: AMT\r\nTransfer-Encoding: chunked\r\nX-Frame-Options: DENY\r\n\r\n\
              0002\r\nab\r\n0002\r\ncd\r\n0001\r\ne\r\n0\r\n\r\n"
        );
        let mut empty = Response::new(200, "OK");
        assert_eq!(
            empty.emit(Framing::Chunked { max_chunk: 0 }),
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        );
        empty.status = 204;
        empty.reason = "No Content".into();
        empty.body = b"ignored".to_vec();
        assert_eq!(
            empty.emit(Framing::ContentLength),
            b"HTTP/1.1 204 No Content\r\n\r\n"
        );
    }

    #[test]
    fn emit_cannot_inject_lines() {
        let mut r = Response::new(200, "OK\r\nX-Evil: 1");
        r.headers.push("X-A", "b\r\nX-Evil: 2");
        let bytes = r.emit(Framing::ContentLength);
        let Ok(Some(parsed)) = ({
            let mut d = ResponseDecoder::new(Limits::default());
            d.feed(&bytes).and_then(|()| d.next_response())
        }) else {
            panic!(
                "emitted response did not parse: {:?}",
                String::from_utf8_lossy(&bytes)
            );
        };
        assert_eq!(parsed.headers.get("x-evil"), None);
        assert_eq!(parsed.headers.len(), 2);
    }

    #[test]
    fn response_bodies() -> Result<(), HttpError> {
        let r = one_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")?;
        assert_eq!(
            (r.status, r.reason.as_str(), r.body.as_slice()),
            (200, "OK", &b"ok"[..])
        );
        let r = one_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        )?;
        assert_eq!(r.body, b"ok");
        let r = one_response(b"HTTP/1.0 200 OK\r\n\r\nuntil close")?;
        assert_eq!(r.body, b"until close");
        let r = one_response(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n")?;
        assert!(r.body.is_empty());
        let r = one_response(b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")?;
        assert_eq!(r.reason, "");
        Ok(())
    }

    #[test]
    fn interim_responses_are_skipped() -> Result<(), HttpError> {
        let mut d = ResponseDecoder::new(Limits::default());
        d.feed(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n")?;
        assert_eq!(d.next_response()?, None);
        d.feed(b"HTTP/1.1 204 No Content\r\n\r\n")?;
        assert_eq!(d.next_response()?.map(|r| r.status), Some(204));
        assert_eq!(d.finish()?, None);
        Ok(())
    }

    #[test]
    fn close_delimited_needs_finish_and_truncation_is_reported() -> Result<(), HttpError> {
        let mut d = ResponseDecoder::new(Limits::default());
        d.feed(b"HTTP/1.1 200 OK\r\n\r\npart")?;
        assert_eq!(d.next_response()?, None);
        d.feed(b" two")?;
        assert_eq!(d.finish()?.map(|r| r.body), Some(b"part two".to_vec()));

        let mut d = ResponseDecoder::new(Limits::default());
        d.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")?;
        assert_eq!(d.next_response()?, None);
        assert_eq!(d.finish(), Err(HttpError::Truncated));

        let mut d = ResponseDecoder::new(Limits::default());
        d.feed(b"HTTP/1.1 200 OK\r\nContent-")?;
        assert_eq!(d.finish(), Err(HttpError::Truncated));

        let mut d = ResponseDecoder::new(Limits {
            max_body_bytes: 4,
            ..Limits::default()
        });
        d.feed(b"HTTP/1.1 200 OK\r\n\r\n12345")?;
        assert_eq!(
            d.next_response(),
            Err(HttpError::BodyTooLarge {
                limit: 4,
                declared: None
            })
        );
        Ok(())
    }

    #[test]
    fn response_version_and_status_errors() {
        for (input, id) in [
            (&b"HTTP/2 200 OK\r\n\r\n"[..], "http/unsupported-version"),
            (b"HTTP/1.1 099 Odd\r\n\r\n", "http/malformed"),
            (b"HTTP/1.1 2000 OK\r\n\r\n", "http/malformed"),
            (b"SSH-2.0-OpenSSH\r\n\r\n", "http/malformed"),
        ] {
            assert_eq!(one_response(input).map_err(|e| e.id()).err(), Some(id));
        }
    }

    #[test]
    fn chunk_size_parsing() {
        assert_eq!(parse_chunk_size(b"02FA\r\n"), Ok(0x2fa));
        assert_eq!(parse_chunk_size(b"ff ; a=b\n"), Ok(255));
        assert_eq!(parse_chunk_size(b"FFFFFFFFFFFFFFFF\r\n"), Ok(u64::MAX));
        assert!(parse_chunk_size(b"1FFFFFFFFFFFFFFFF\r\n").is_err());
        assert!(parse_chunk_size(b"\r\n").is_err());
        assert!(parse_chunk_size(b" 1\r\n").is_err());
    }

    #[test]
    fn find_newline_agrees_with_a_plain_search() {
        let mut bytes = [b'a'; 40];
        assert_eq!(find_newline(&bytes), None);
        for at in 0..bytes.len() {
            bytes[at] = b'\n';
            for start in 0..=at {
                assert_eq!(find_newline(&bytes[start..]), Some(at - start));
            }
            bytes[at] = 0x8a; // the low bits of `\n` with the high bit set
            assert_eq!(find_newline(&bytes), None);
            bytes[at] = 0x0b;
        }
    }

    #[test]
    fn error_ids_are_distinct_kebab_case_and_statuses_are_errors() {
        let all = [
            HttpError::HeadTooLarge { limit: 1 },
            HttpError::TooManyHeaders { limit: 1 },
            HttpError::Malformed { detail: "x".into() },
            HttpError::BodyTooLarge {
                limit: 1,
                declared: Some(2),
            },
            HttpError::BadContentLength { value: "x".into() },
            HttpError::ConflictingFraming,
            HttpError::BadChunk { detail: "x".into() },
            HttpError::UnsupportedTransferEncoding { value: "x".into() },
            HttpError::UnsupportedVersion,
            HttpError::Truncated,
            HttpError::BufferFull { limit: 1 },
        ];
        let ids: std::collections::BTreeSet<&str> = all.iter().map(HttpError::id).collect();
        assert_eq!(ids.len(), all.len());
        for error in &all {
            let id = error.id();
            assert!(
                id.strip_prefix("http/")
                    .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
            );
            assert!((400..600).contains(&error.status()));
            assert!(!status_reason(error.status()).is_empty());
            assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn status_reasons() {
        assert_eq!(status_reason(200), "OK");
        assert_eq!(status_reason(401), "Unauthorized");
        assert_eq!(status_reason(400), "Bad Request");
        assert_eq!(status_reason(431), "Request Header Fields Too Large");
        assert_eq!(status_reason(299), "");
    }

    mod props {
        use proptest::prelude::*;

        use super::super::*;

        fn method() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("POST".to_owned()),
                Just("GET".to_owned()),
                Just("HEAD".to_owned()),
                "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}",
            ]
        }

        fn target() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("/wsman".to_owned()),
                "/[!-~\u{a0}-\u{2ff}]{0,40}",
                Just("*".to_owned()),
            ]
        }

        fn field_name() -> impl Strategy<Value = String> {
            "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}".prop_filter("not a framing field", |n| {
                !n.eq_ignore_ascii_case("content-length")
                    && !n.eq_ignore_ascii_case("transfer-encoding")
            })
        }

        fn field_value() -> impl Strategy<Value = String> {
            // No leading or trailing blanks: the decoder trims them (RFC 9112 §5).
            "([!-~\u{a0}-\u{3ff}]([ \t!-~\u{a0}-\u{3ff}]{0,30}[!-~\u{a0}-\u{3ff}])?)?"
        }

        fn headers() -> impl Strategy<Value = Headers> {
            proptest::collection::vec((field_name(), field_value()), 0..10)
                .prop_map(|fields| fields.into_iter().collect())
        }

        fn body() -> impl Strategy<Value = Vec<u8>> {
            proptest::collection::vec(any::<u8>(), 0..300)
        }

        prop_compose! {
            fn request()(
                method in method(),
                target in target(),
                minor_version in 0u8..=1,
                mut headers in headers(),
                body in body(),
                chunked in proptest::option::of(any::<usize>()),
            ) -> Request {
                if let Some(at) = chunked {
                    let mut fields: Vec<(String, String)> =
                        headers.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
                    fields.insert(at % (fields.len() + 1), ("Transfer-Encoding".into(), "chunked".into()));
                    headers = fields.into_iter().collect();
                }
                Request { method, target, minor_version, headers, body }
            }
        }

        prop_compose! {
            fn response()(
                status in prop_oneof![Just(200u16), Just(401), Just(400), Just(204), Just(304), 200u16..=999],
                reason in "([A-Za-z]([A-Za-z0-9 ]{0,18}[A-Za-z0-9])?)?",
                minor_version in 0u8..=1,
                headers in headers(),
                body in body(),
            ) -> Response {
                Response { status, reason, minor_version, headers, body }
            }
        }

        fn framing() -> impl Strategy<Value = Framing> {
            prop_oneof![
                Just(Framing::ContentLength),
                (0usize..64).prop_map(|max_chunk| Framing::Chunked { max_chunk }),
            ]
        }

        fn limits() -> impl Strategy<Value = Limits> {
            prop_oneof![
                Just(Limits::default()),
                (0usize..200, 0usize..8, 0usize..200).prop_map(|(h, n, b)| Limits {
                    max_head_bytes: h,
                    max_headers: n,
                    max_body_bytes: b,
                }),
            ]
        }

        /// `bytes` cut at the given points (taken modulo its length).
        fn pieces(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
            let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            at.push(0);
            at.push(bytes.len());
            at.sort_unstable();
            at.windows(2)
                .filter_map(|w| bytes.get(w[0]..w[1]).map(<[u8]>::to_vec))
                .collect()
        }

        fn framing_free(headers: &Headers) -> Vec<(&str, &str)> {
            headers
                .iter()
                .filter(|(n, _)| {
                    !n.eq_ignore_ascii_case("content-length")
                        && !n.eq_ignore_ascii_case("transfer-encoding")
                })
                .collect()
        }

        fn decode_all_requests(
            bytes: &[u8],
            cuts: &[usize],
        ) -> Result<(Vec<Request>, RequestDecoder), HttpError> {
            let mut decoder = RequestDecoder::new(Limits::default());
            let mut out = Vec::new();
            for piece in pieces(bytes, cuts) {
                decoder.feed(&piece)?;
                while let Some(request) = decoder.next_request()? {
                    out.push(request);
                }
            }
            Ok((out, decoder))
        }

        /// Where a mutation goes and what it does.
        #[derive(Clone, Debug)]
        enum Mutation {
            Replace(usize, u8),
            Insert(usize, u8),
            Delete(usize),
        }

        fn mutation() -> impl Strategy<Value = Mutation> {
            let interesting = prop_oneof![
                Just(b'\r'),
                Just(b'\n'),
                Just(b' '),
                Just(b':'),
                Just(b';'),
                Just(b'0'),
                Just(b'f'),
                Just(b'-'),
                any::<u8>()
            ];
            prop_oneof![
                (any::<usize>(), interesting.clone()).prop_map(|(i, b)| Mutation::Replace(i, b)),
                (any::<usize>(), interesting).prop_map(|(i, b)| Mutation::Insert(i, b)),
                any::<usize>().prop_map(Mutation::Delete),
            ]
        }

        fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
            for m in mutations {
                let len = bytes.len();
                match *m {
                    Mutation::Replace(i, b) if len > 0 => {
                        if let Some(slot) = bytes.get_mut(i % len) {
                            *slot = b;
                        }
                    }
                    Mutation::Insert(i, b) => bytes.insert(i % (len + 1), b),
                    Mutation::Delete(i) if len > 0 => {
                        bytes.remove(i % len);
                    }
                    _ => {}
                }
            }
            bytes
        }

        fn input() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..600),
                (request(), proptest::collection::vec(mutation(), 0..6))
                    .prop_map(|(r, m)| mutate(r.emit(), &m)),
                (
                    response(),
                    framing(),
                    proptest::collection::vec(mutation(), 0..6)
                )
                    .prop_map(|(r, f, m)| mutate(r.emit(f), &m)),
            ]
        }

        proptest! {
            #[test]
            fn find_newline_is_position(bytes in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(0x8a_u8), Just(0x0b_u8), any::<u8>()], 0..80)
            ) {
                prop_assert_eq!(find_newline(&bytes), bytes.iter().position(|&b| b == b'\n'));
            }

            #[test]
            fn request_round_trips_in_any_pieces(
                r in request(),
                cuts in proptest::collection::vec(any::<usize>(), 0..8),
            ) {
                let bytes = r.emit();
                let (mut got, decoder) = decode_all_requests(&bytes, &cuts)
                    .map_err(|e| TestCaseError::fail(format!("{e}: {:?}", String::from_utf8_lossy(&bytes))))?;
                prop_assert_eq!(got.len(), 1);
                prop_assert!(decoder.is_idle());
                let d = got.remove(0);
                prop_assert_eq!(&d.method, &r.method);
                prop_assert_eq!(&d.target, &r.target);
                prop_assert_eq!(d.minor_version, r.minor_version);
                prop_assert_eq!(framing_free(&d.headers), framing_free(&r.headers));
                prop_assert_eq!(&d.body, &r.body);
                prop_assert_eq!(d.keep_alive(), r.keep_alive());
                prop_assert_eq!(d.emit(), bytes);
            }

            #[test]
            fn pipelined_requests_come_out_in_order(
                rs in proptest::collection::vec(request(), 1..4),
                cuts in proptest::collection::vec(any::<usize>(), 0..12),
            ) {
                let bytes: Vec<u8> = rs.iter().flat_map(Request::emit).collect();
                let (got, decoder) = decode_all_requests(&bytes, &cuts)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(decoder.is_idle());
                prop_assert_eq!(got.len(), rs.len());
                for (d, r) in got.iter().zip(&rs) {
                    prop_assert_eq!(d.emit(), r.emit());
                    prop_assert_eq!(&d.body, &r.body);
                }
            }

            #[test]
            fn response_round_trips_in_any_pieces(
                rs in proptest::collection::vec((response(), framing()), 1..3),
                cuts in proptest::collection::vec(any::<usize>(), 0..8),
            ) {
                let bytes: Vec<u8> = rs.iter().flat_map(|(r, f)| r.emit(*f)).collect();
                let mut decoder = ResponseDecoder::new(Limits::default());
                let mut got = Vec::new();
                for piece in pieces(&bytes, &cuts) {
                    decoder.feed(&piece).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    while let Some(response) = decoder.next_response().map_err(|e| TestCaseError::fail(e.to_string()))? {
                        got.push(response);
                    }
                }
                prop_assert_eq!(decoder.finish(), Ok(None));
                prop_assert_eq!(got.len(), rs.len());
                for (d, (r, framing)) in got.iter().zip(&rs) {
                    prop_assert_eq!(d.status, r.status);
                    prop_assert_eq!(&d.reason, &r.reason);
                    prop_assert_eq!(d.minor_version, r.minor_version);
                    prop_assert_eq!(framing_free(&d.headers), framing_free(&r.headers));
                    let expected: &[u8] = if status_has_body(r.status) { &r.body } else { &[] };
                    prop_assert_eq!(d.body.as_slice(), expected);
                    prop_assert_eq!(d.emit(*framing), r.emit(*framing));
                }
            }

            #[test]
            fn decoders_never_panic_and_stay_bounded(
                bytes in input(),
                cuts in proptest::collection::vec(any::<usize>(), 0..10),
                limits in limits(),
            ) {
                let bound = limits.max_head_bytes + 2 * limits.max_body_bytes + 2;
                let mut requests = RequestDecoder::new(limits);
                let mut responses = ResponseDecoder::new(limits);
                for piece in pieces(&bytes, &cuts) {
                    if requests.feed(&piece).is_ok() {
                        while let Ok(Some(_)) = requests.next_request() {}
                    }
                    prop_assert!(requests.buffered() <= bound);
                    let _ = requests.expects_continue();
                    if responses.feed(&piece).is_ok() {
                        while let Ok(Some(_)) = responses.next_response() {}
                    }
                }
                while let Ok(Some(_)) = responses.finish() {}
                prop_assert!(responses.next_response().is_err() || responses.finish() == Ok(None));
            }
        }
    }
}
