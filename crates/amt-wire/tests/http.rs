//! The HTTP codec against requests shaped like those real AMT clients send (MeshCentral, python
//! `requests`, curl, Go's net/http) and responses shaped like AMT 15's, byte-exact emission, pipelining
//! and limits.

use amt_wire::digest::{Authorization, Challenge};
use amt_wire::http::{
    Framing, Headers, HttpError, Limits, Request, RequestDecoder, Response, ResponseDecoder,
    status_reason,
};

const MESHCENTRAL_POST: &[u8] = include_bytes!("../testdata/http/meshcentral-post.http");
const AMT15_CHUNKED_200: &[u8] = include_bytes!("../testdata/http/amt15-chunked-200.http");

/// Feeds `bytes` in pieces of `step` bytes and collects every request.
fn requests_in_steps(bytes: &[u8], step: usize) -> Result<Vec<Request>, HttpError> {
    let mut decoder = RequestDecoder::new(Limits::default());
    let mut out = Vec::new();
    for piece in bytes.chunks(step.max(1)) {
        decoder.feed(piece)?;
        while let Some(request) = decoder.next_request()? {
            out.push(request);
        }
    }
    assert!(decoder.is_idle(), "bytes left over after the last request");
    Ok(out)
}

/// Feeds `bytes` in pieces of `step` bytes, then closes, and collects every response.
fn responses_in_steps(bytes: &[u8], step: usize) -> Result<Vec<Response>, HttpError> {
    let mut decoder = ResponseDecoder::new(Limits::default());
    let mut out = Vec::new();
    for piece in bytes.chunks(step.max(1)) {
        decoder.feed(piece)?;
        while let Some(response) = decoder.next_response()? {
            out.push(response);
        }
    }
    while let Some(response) = decoder.finish()? {
        out.push(response);
    }
    Ok(out)
}

fn single<T>(mut all: Vec<T>) -> T {
    assert_eq!(all.len(), 1, "expected exactly one message");
    all.remove(0)
}

fn names(headers: &Headers) -> Vec<&str> {
    headers.iter().map(|(name, _)| name).collect()
}

#[test]
fn meshcentral_post_with_digest_in_any_pieces() -> Result<(), HttpError> {
    for step in [1, 2, 7, 64, MESHCENTRAL_POST.len()] {
        let request = single(requests_in_steps(MESHCENTRAL_POST, step)?);
        assert_eq!(request.method, "POST");
        assert_eq!(request.target, "/wsman");
        assert_eq!(
            names(&request.headers),
            ["Authorization", "Host", "Content-Length"]
        );
        assert_eq!(request.headers.get("content-type"), None);
        assert!(request.keep_alive());
        assert!(
            request
                .body
                .starts_with(b"<?xml version=\"1.0\" encoding=\"utf-8\"?><Envelope")
        );
        assert!(request.body.ends_with(b"</Envelope>"));
        let auth = request
            .headers
            .get("Authorization")
            .map(Authorization::parse)
            .transpose()
            .map_err(|e| HttpError::Malformed {
                detail: e.to_string(),
            })?
            .ok_or(HttpError::Truncated)?;
        assert_eq!(auth.username, "admin");
        assert_eq!(auth.uri, request.target);
        // Emitting what was decoded gives back the same bytes.
        assert_eq!(request.emit(), MESHCENTRAL_POST);
    }
    Ok(())
}

#[test]
fn meshcommander_chunked_post() -> Result<(), HttpError> {
    // MeshCommander's browser build frames the body as one chunk with an upper-case hex size.
    let body = "<Envelope>…</Envelope>";
    let wire = format!(
        "POST /wsman HTTP/1.1\r\nHost: 10.0.0.5:16992\r\nTransfer-Encoding: chunked\r\n\r\n{:X}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let request = single(requests_in_steps(wire.as_bytes(), 3)?);
    assert_eq!(request.body, body.as_bytes());
    assert_eq!(request.headers.get("transfer-encoding"), Some("chunked"));
    Ok(())
}

#[test]
fn python_requests_post() -> Result<(), HttpError> {
    let body = b"<s:Envelope/>";
    let wire = [
        b"POST /wsman HTTP/1.1\r\nHost: 127.0.0.1:16992\r\nUser-Agent: python-requests/2.31.0\r\n\
          Accept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\n\
          Content-Length: 13\r\n\r\n"
            .as_slice(),
        body,
    ]
    .concat();
    let request = single(requests_in_steps(&wire, 5)?);
    assert_eq!(request.body, body);
    assert!(request.keep_alive());
    assert_eq!(request.headers.len(), 6);
    Ok(())
}

#[test]
fn curl_empty_posts_have_empty_bodies() -> Result<(), HttpError> {
    // `curl -X POST URL` sends no Content-Length at all; `curl -d '' URL` sends `Content-Length: 0`.
    let bare = b"POST /wsman HTTP/1.1\r\nHost: 127.0.0.1:16992\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";
    let with_zero = b"POST /wsman HTTP/1.1\r\nHost: 127.0.0.1:16992\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\
                      Content-Length: 0\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n";
    for wire in [&bare[..], &with_zero[..]] {
        let request = single(requests_in_steps(wire, 1)?);
        assert_eq!(request.method, "POST");
        assert!(request.body.is_empty());
    }
    Ok(())
}

#[test]
fn go_client_with_lowercase_and_canonical_names() -> Result<(), HttpError> {
    let wire = b"POST /wsman HTTP/1.1\r\nHost: amt.example:16993\r\nuser-agent: Go-http-client/1.1\r\n\
                 Content-Length: 4\r\nauthorization: Digest username=\"admin\"\r\n\
                 Content-Type: application/soap+xml; charset=utf-8\r\nAccept-Encoding: gzip\r\n\r\n<x/>";
    let request = single(requests_in_steps(wire, 11)?);
    assert_eq!(
        request.headers.get("Authorization"),
        Some("Digest username=\"admin\"")
    );
    assert_eq!(
        names(&request.headers),
        [
            "Host",
            "user-agent",
            "Content-Length",
            "authorization",
            "Content-Type",
            "Accept-Encoding"
        ]
    );
    assert_eq!(request.body, b"<x/>");
    Ok(())
}

#[test]
fn curl_expect_continue() -> Result<(), HttpError> {
    let mut decoder = RequestDecoder::new(Limits::default());
    decoder.feed(
        b"POST /wsman HTTP/1.1\r\nHost: h\r\nContent-Length: 2000\r\nExpect: 100-continue\r\n\r\n",
    )?;
    assert_eq!(decoder.next_request()?, None);
    assert!(decoder.expects_continue());
    decoder.feed(&[b'x'; 2000])?;
    let request = decoder.next_request()?.ok_or(HttpError::Truncated)?;
    assert_eq!(request.body.len(), 2000);
    assert!(!decoder.expects_continue());
    Ok(())
}

#[test]
fn amt15_chunked_200_in_any_pieces() -> Result<(), HttpError> {
    for step in [1, 3, 100, AMT15_CHUNKED_200.len()] {
        let response = single(responses_in_steps(AMT15_CHUNKED_200, step)?);
        assert_eq!((response.status, response.reason.as_str()), (200, "OK"));
        assert_eq!(
            names(&response.headers),
            [
                "Date",
                "Server",
                "X-Frame-Options",
                "Content-Type",
                "Transfer-Encoding"
            ]
        );
        assert!(
            response
                .headers
                .get("server")
                .is_some_and(|s| s.starts_with("Intel(R) Active Management Technology 15."))
        );
        assert_eq!(response.body.len(), 886);
        assert!(response.body.ends_with(b"</a:Envelope>"));
        // Re-emitted with the chunk size the capture used, the bytes are the same.
        assert_eq!(
            response.emit(Framing::Chunked { max_chunk: 0x220 }),
            AMT15_CHUNKED_200
        );
    }
    Ok(())
}

/// The 401 AMT 15 sends to a request without credentials (RPS test fixture shape).
fn amt_401() -> Response {
    let mut response = Response::new(401, status_reason(401));
    response.headers.push(
        "WWW-Authenticate",
        r#"Digest realm="Digest:727734D63A1FC0423736E48DA554E462", nonce="B9AX94iAAAAAAAAAx6rrSfPHGUrx/3uA",stale="false",qop="auth""#,
    );
    response.headers.push("Content-Type", "text/html");
    response.headers.push(
        "Server",
        "Intel(R) Active Management Technology 15.0.23.1706",
    );
    response.headers.push("Content-Length", "");
    response.headers.push("Connection", "close");
    response.body = b"<html><h2 class=warn>Log on failed.</h2></html>".to_vec();
    response
}

#[test]
fn amt_401_emits_exactly_and_parses_back() -> Result<(), HttpError> {
    let wire = amt_401().emit(Framing::ContentLength);
    let expected = "HTTP/1.1 401 Unauthorized\r\n\
        WWW-Authenticate: Digest realm=\"Digest:727734D63A1FC0423736E48DA554E462\", nonce=\"B9AX94iAAAAAAAAAx6rrSfPHGUrx/3uA\",stale=\"false\",qop=\"auth\"\r\n\
        Content-Type: text/html\r\n\
        Server: Intel(R) Active Management Technology 15.0.23.1706\r\n\
        Content-Length: 47\r\n\
        Connection: close\r\n\
        \r\n\
        <html><h2 class=warn>Log on failed.</h2></html>";
    assert_eq!(String::from_utf8_lossy(&wire), expected);

    let response = single(responses_in_steps(&wire, 9)?);
    assert_eq!(response.status, 401);
    assert!(!response.keep_alive());
    let challenge = response
        .headers
        .get("www-authenticate")
        .map(Challenge::parse)
        .transpose()
        .map_err(|e| HttpError::Malformed {
            detail: e.to_string(),
        })?;
    assert!(challenge.is_some());
    assert_eq!(response.body, amt_401().body);
    Ok(())
}

#[test]
fn amt_401_can_be_chunked_too() -> Result<(), HttpError> {
    let wire = amt_401().emit(Framing::Chunked { max_chunk: 16 });
    let text = String::from_utf8_lossy(&wire);
    assert!(text.contains("Server: Intel(R) Active Management Technology 15.0.23.1706\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0010\r\n"));
    assert!(!text.contains("Content-Length"));
    let response = single(responses_in_steps(&wire, 1)?);
    assert_eq!(response.body, amt_401().body);
    Ok(())
}

#[test]
fn pipelined_requests_and_responses() -> Result<(), HttpError> {
    let mut second = Request::new("POST", "/wsman");
    second.headers.push("Host", "192.168.1.20:16993");
    second.body = b"<Envelope>2</Envelope>".to_vec();
    let wire = [
        MESHCENTRAL_POST,
        &second.emit(),
        b"GET /index.htm HTTP/1.1\r\nHost: h\r\n\r\n",
    ]
    .concat();
    for step in [1, 13, wire.len()] {
        let requests = requests_in_steps(&wire, step)?;
        let targets: Vec<&str> = requests.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, ["/wsman", "/wsman", "/index.htm"]);
        assert_eq!(requests[1], {
            let mut expected = second.clone();
            expected.headers.push("Content-Length", "22");
            expected
        });
    }

    let mut ok = Response::new(200, "OK");
    ok.body = b"first".to_vec();
    let wire = [
        &b"HTTP/1.1 100 Continue\r\n\r\n"[..],
        &ok.emit(Framing::Chunked { max_chunk: 2 }),
        &ok.emit(Framing::ContentLength),
        &amt_401().emit(Framing::ContentLength),
    ]
    .concat();
    for step in [1, 5, wire.len()] {
        let statuses: Vec<u16> = responses_in_steps(&wire, step)?
            .iter()
            .map(|r| r.status)
            .collect();
        assert_eq!(statuses, [200, 200, 401]);
    }
    Ok(())
}

#[test]
fn limits_turn_into_server_answers() {
    let huge_length = b"POST /wsman HTTP/1.1\r\nContent-Length: 1073741824\r\n\r\n";
    let error = requests_in_steps(huge_length, 64).err();
    assert_eq!(
        error,
        Some(HttpError::BodyTooLarge {
            limit: 1024 * 1024,
            declared: Some(1 << 30)
        })
    );
    assert_eq!(
        error.map(|e| (e.id(), e.status())),
        Some(("http/body-too-large", 413))
    );

    let mut decoder = RequestDecoder::new(Limits::default());
    let mut endless = b"GET / HTTP/1.1\r\n".to_vec();
    endless.extend(std::iter::repeat_n(b'a', 32 * 1024));
    let error = endless
        .chunks(1000)
        .try_for_each(|piece| {
            decoder
                .feed(piece)
                .and_then(|()| decoder.next_request().map(drop))
        })
        .err();
    assert_eq!(error.as_ref().map(HttpError::status), Some(431));
    assert!(decoder.buffered() <= 17 * 1024);

    let smuggle =
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n";
    assert_eq!(
        requests_in_steps(smuggle, 100).err(),
        Some(HttpError::ConflictingFraming)
    );
}

#[test]
fn closing_mid_response_is_truncation_and_meshcentral_close_body_completes() -> Result<(), HttpError>
{
    let wire = amt_401().emit(Framing::ContentLength);
    let mut decoder = ResponseDecoder::new(Limits::default());
    decoder.feed(wire.get(..wire.len() - 1).unwrap_or_default())?;
    assert_eq!(decoder.next_response()?, None);
    assert_eq!(decoder.finish(), Err(HttpError::Truncated));

    // No framing field: the body runs until the peer closes.
    let close_delimited =
        b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n<html>Bad Request</html>";
    let response = single(responses_in_steps(close_delimited, 4)?);
    assert_eq!(response.body, b"<html>Bad Request</html>");
    Ok(())
}
