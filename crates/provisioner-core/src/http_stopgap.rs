//! Stop-gap HTTP/1.1 client codec, API-compatible with the planned `amt_wire::http` (branch
//! `wire-http`), used only until that module lands; then this file is deleted and
//! `wsman_client` imports `amt_wire::http` instead.

/// Size limits for decoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_head_bytes: usize,
    pub(crate) max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_head_bytes: 16 * 1024,
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// Ordered header list with case-insensitive lookup.
#[derive(Debug, Clone, Default)]
pub(crate) struct Headers(Vec<(String, String)>);

impl Headers {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub(crate) fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }
}

/// A request to emit.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) headers: Headers,
    pub(crate) body: Vec<u8>,
}

impl Request {
    pub(crate) fn new(method: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            target: target.into(),
            headers: Headers::default(),
            body: Vec::new(),
        }
    }
    pub(crate) fn emit(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\n", self.method, self.target).into_bytes();
        for (n, v) in &self.headers.0 {
            out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", self.body.len()).as_bytes());
        out.extend_from_slice(&self.body);
        out
    }
}

/// A decoded response.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Headers,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn keep_alive(&self) -> bool {
        !self
            .headers
            .get("Connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// Decoding failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("malformed HTTP response: {0}")]
pub(crate) struct HttpError(String);

/// Incremental response decoder (Content-Length, chunked, close-delimited).
#[derive(Debug)]
pub(crate) struct ResponseDecoder {
    limits: Limits,
    buf: Vec<u8>,
}

impl ResponseDecoder {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            buf: Vec::new(),
        }
    }
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<(), HttpError> {
        if self.buf.len() + bytes.len() > self.limits.max_head_bytes + self.limits.max_body_bytes {
            return Err(HttpError("response too large".into()));
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }
    fn head(&self) -> Result<Option<(usize, u16, Headers)>, HttpError> {
        let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            if self.buf.len() > self.limits.max_head_bytes {
                return Err(HttpError("head too large".into()));
            }
            return Ok(None);
        };
        let text = std::str::from_utf8(self.buf.get(..end).unwrap_or_default())
            .map_err(|_| HttpError("head is not UTF-8".into()))?;
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| HttpError(format!("bad status line {status_line:?}")))?;
        let mut headers = Headers::default();
        for line in lines {
            let (n, v) = line
                .split_once(':')
                .ok_or_else(|| HttpError(format!("bad header {line:?}")))?;
            headers.push(n.trim(), v.trim());
        }
        Ok(Some((end + 4, status, headers)))
    }
    pub(crate) fn next_response(&mut self) -> Result<Option<Response>, HttpError> {
        let Some((start, status, headers)) = self.head()? else {
            return Ok(None);
        };
        let rest = self.buf.get(start..).unwrap_or_default();
        let chunked = headers
            .get("Transfer-Encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let (body, used) = if chunked {
            let mut body = Vec::new();
            let mut pos = 0usize;
            loop {
                let tail = rest.get(pos..).unwrap_or_default();
                let Some(eol) = tail.windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                let size_text = std::str::from_utf8(tail.get(..eol).unwrap_or_default())
                    .map_err(|_| HttpError("bad chunk size".into()))?;
                let size_text = size_text.split(';').next().unwrap_or_default().trim();
                let size = usize::from_str_radix(size_text, 16)
                    .map_err(|_| HttpError(format!("bad chunk size {size_text:?}")))?;
                if size > self.limits.max_body_bytes {
                    return Err(HttpError("chunk too large".into()));
                }
                let data_start = pos + eol + 2;
                if size == 0 {
                    // Trailers end with an empty line.
                    let after = rest.get(data_start..).unwrap_or_default();
                    let Some(t) = after.windows(4).position(|w| w == b"\r\n\r\n") else {
                        if after.starts_with(b"\r\n") {
                            break (body, data_start + 2);
                        }
                        return Ok(None);
                    };
                    if after.starts_with(b"\r\n") {
                        break (body, data_start + 2);
                    }
                    break (body, data_start + t + 4);
                }
                let Some(data) = rest.get(data_start..data_start + size) else {
                    return Ok(None);
                };
                body.extend_from_slice(data);
                if body.len() > self.limits.max_body_bytes {
                    return Err(HttpError("body too large".into()));
                }
                if rest.len() < data_start + size + 2 {
                    return Ok(None);
                }
                pos = data_start + size + 2;
            }
        } else if let Some(len) = headers.get("Content-Length") {
            let len: usize = len
                .parse()
                .map_err(|_| HttpError(format!("bad Content-Length {len:?}")))?;
            if len > self.limits.max_body_bytes {
                return Err(HttpError("body too large".into()));
            }
            let Some(body) = rest.get(..len) else {
                return Ok(None);
            };
            (body.to_vec(), len)
        } else {
            return Ok(None);
        };
        self.buf.drain(..start + used);
        Ok(Some(Response {
            status,
            headers,
            body,
        }))
    }
    pub(crate) fn finish(&mut self) -> Result<Option<Response>, HttpError> {
        if let Some(r) = self.next_response()? {
            return Ok(Some(r));
        }
        let Some((start, status, headers)) = self.head()? else {
            return if self.buf.is_empty() {
                Ok(None)
            } else {
                Err(HttpError("truncated".into()))
            };
        };
        if headers.get("Content-Length").is_some() || headers.get("Transfer-Encoding").is_some() {
            return Err(HttpError("truncated".into()));
        }
        let body = self.buf.get(start..).unwrap_or_default().to_vec();
        self.buf.clear();
        Ok(Some(Response {
            status,
            headers,
            body,
        }))
    }
}
