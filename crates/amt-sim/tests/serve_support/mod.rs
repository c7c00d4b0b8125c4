//! Shared helpers of the `serve_*` tests: run the built `amt-sim` binary, read its ready lines,
//! talk HTTP (with digest) to it over real sockets, stop it with SIGTERM.

#![allow(dead_code, unreachable_pub, clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use amt_wire::digest::{Challenge, NonceCount};
use amt_wire::http::{Limits, Request, Response, ResponseDecoder};

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A WS-Management Identify request (no authentication needed).
pub const IDENTIFY: &str = concat!(
    r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" "#,
    r#"xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd">"#,
    "<s:Header></s:Header><s:Body><wsmid:Identify></wsmid:Identify></s:Body></s:Envelope>"
);

/// A running `amt-sim` process.
pub struct Sim {
    pub child: Child,
    pub stdout: BufReader<ChildStdout>,
}

/// What a `ready` or `device` line says.
#[derive(Debug, Clone)]
pub struct Ready {
    pub uuid: String,
    pub http: SocketAddr,
    pub tls: SocketAddr,
}

impl Sim {
    /// Starts `amt-sim ARGS`.
    pub fn spawn(args: &[&str]) -> Result<Self> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_amt-sim"))
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        Ok(Self { child, stdout })
    }

    /// The next stdout line (without newline); an error at EOF.
    pub fn line(&mut self) -> Result<String> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err("amt-sim closed stdout".into());
        }
        Ok(line.trim_end().to_string())
    }

    /// Starts `amt-sim serve ARGS` and parses its ready line.
    pub fn serve(args: &[&str]) -> Result<(Self, Ready)> {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        let mut sim = Self::spawn(&all)?;
        let line = sim.line()?;
        let ready = parse_ready(&line, "ready")?;
        Ok((sim, ready))
    }

    /// Sends SIGTERM and waits (at most `limit`) for the exit.
    pub fn terminate(&mut self, limit: Duration) -> Result<ExitStatus> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        if !status.success() {
            return Err("kill -TERM failed".into());
        }
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if start.elapsed() > limit {
                return Err(format!("amt-sim still running {limit:?} after SIGTERM").into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses `KIND key=value …`.
pub fn parse_ready(line: &str, kind: &str) -> Result<Ready> {
    let mut words = line.split_whitespace();
    if words.next() != Some(kind) {
        return Err(format!("expected a {kind} line, got {line:?}").into());
    }
    let fields: Vec<(&str, &str)> = words.filter_map(|w| w.split_once('=')).collect();
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("no {key}= in {line:?}"))
    };
    Ok(Ready {
        uuid: get("uuid")?.to_string(),
        http: get("http")?.parse()?,
        tls: get("tls")?.parse()?,
    })
}

/// One HTTP/1.1 keep-alive connection that answers digest challenges.
pub struct Client {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    decoder: ResponseDecoder,
    user: String,
    password: String,
    challenge: Option<Challenge>,
    nc: u32,
}

impl Client {
    /// A client for `addr` with these digest credentials.
    pub fn new(addr: SocketAddr, user: &str, password: &str) -> Self {
        Self {
            addr,
            stream: None,
            decoder: ResponseDecoder::new(Limits::default()),
            user: user.into(),
            password: password.into(),
            challenge: None,
            nc: 0,
        }
    }

    fn connection(&mut self) -> Result<&mut TcpStream> {
        if self.stream.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            self.stream = Some(stream);
            self.decoder = ResponseDecoder::new(Limits::default());
        }
        self.stream.as_mut().ok_or_else(|| "no connection".into())
    }

    /// POSTs `body` to `/wsman` once, with an Authorization from the last challenge if any.
    pub fn post_once(&mut self, body: &str) -> Result<Response> {
        let mut request = Request::new("POST", "/wsman");
        request.headers.push("Host", self.addr.to_string());
        request
            .headers
            .push("Content-Type", "application/soap+xml; charset=UTF-8");
        if let Some(challenge) = &self.challenge {
            self.nc += 1;
            let auth = challenge.answer(
                &self.user,
                &self.password,
                "POST",
                "/wsman",
                NonceCount::from_value(self.nc),
                "0a4f113b",
            );
            request.headers.push("Authorization", auth.emit());
        }
        request.body = body.as_bytes().to_vec();
        let bytes = request.emit();
        let stream = self.connection()?;
        stream.write_all(&bytes)?;
        let response = self.read_response()?;
        if !response.keep_alive() {
            self.stream = None;
        }
        Ok(response)
    }

    /// POSTs `body`, answering one 401 challenge.
    pub fn post(&mut self, body: &str) -> Result<Response> {
        let first = self.post_once(body)?;
        if first.status != 401 {
            return Ok(first);
        }
        let header = first
            .headers
            .get("WWW-Authenticate")
            .ok_or("401 without WWW-Authenticate")?;
        self.challenge = Some(Challenge::parse(header)?);
        self.nc = 0;
        self.post_once(body)
    }

    fn read_response(&mut self) -> Result<Response> {
        let mut buf = [0_u8; 8192];
        loop {
            if let Some(response) = self.decoder.next_response()? {
                return Ok(response);
            }
            let stream = self.stream.as_mut().ok_or("no connection")?;
            let n = stream.read(&mut buf)?;
            if n == 0 {
                self.stream = None;
                return self
                    .decoder
                    .finish()?
                    .ok_or_else(|| "connection closed without a response".into());
            }
            self.decoder.feed(buf.get(..n).unwrap_or_default())?;
        }
    }
}

/// An unauthenticated Identify on a fresh connection; returns the response.
pub fn identify(addr: SocketAddr) -> Result<Response> {
    Client::new(addr, "", "").post_once(IDENTIFY)
}

/// Whether `text` contains `needle`.
pub fn body_text(response: &Response) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}
