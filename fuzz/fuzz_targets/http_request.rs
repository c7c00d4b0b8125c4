//! Fuzz target: the HTTP decoders never panic, decode the same messages whether the bytes arrive at
//! once or in pieces, and every decoded message re-emits to bytes that decode to the same message.
#![no_main]

use amt_wire::http::{Framing, HttpError, Limits, Request, RequestDecoder, Response, ResponseDecoder};
use libfuzzer_sys::fuzz_target;

/// Every request in `data`, fed in pieces of `step` bytes, and the error that stopped decoding.
fn requests(data: &[u8], step: usize) -> (Vec<Request>, Option<HttpError>) {
    let mut decoder = RequestDecoder::new(Limits::default());
    let mut out = Vec::new();
    for piece in data.chunks(step) {
        if let Err(error) = decoder.feed(piece) {
            return (out, Some(error));
        }
        loop {
            match decoder.next_request() {
                Ok(Some(request)) => out.push(request),
                Ok(None) => break,
                Err(error) => return (out, Some(error)),
            }
        }
    }
    (out, None)
}

/// Every response in `data`, fed in pieces of `step` bytes and then closed.
fn responses(data: &[u8], step: usize) -> (Vec<Response>, Option<HttpError>) {
    let mut decoder = ResponseDecoder::new(Limits::default());
    let mut out = Vec::new();
    for piece in data.chunks(step) {
        if let Err(error) = decoder.feed(piece) {
            return (out, Some(error));
        }
        loop {
            match decoder.next_response() {
                Ok(Some(response)) => out.push(response),
                Ok(None) => break,
                Err(error) => return (out, Some(error)),
            }
        }
    }
    loop {
        match decoder.finish() {
            Ok(Some(response)) => out.push(response),
            Ok(None) => return (out, None),
            Err(error) => return (out, Some(error)),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The split size comes from the length so that seeds stay plain HTTP messages.
    let step = data.len() % 61 + 1;

    let whole = requests(data, data.len().max(1));
    let pieces = requests(data, step);
    assert_eq!(whole, pieces, "splitting the input changed the requests");
    for request in &whole.0 {
        let bytes = request.emit();
        let (again, error) = requests(&bytes, bytes.len().max(1));
        assert_eq!(error, None, "an emitted request does not decode: {bytes:?}");
        assert_eq!(again.len(), 1);
        let again = &again[0];
        assert_eq!(
            (&again.method, &again.target, again.minor_version, &again.body),
            (&request.method, &request.target, request.minor_version, &request.body)
        );
        assert_eq!(again.emit(), bytes);
    }

    let whole = responses(data, data.len().max(1));
    let pieces = responses(data, step);
    assert_eq!(whole, pieces, "splitting the input changed the responses");
    for response in &whole.0 {
        for framing in [Framing::ContentLength, Framing::Chunked { max_chunk: 7 }] {
            let bytes = response.emit(framing);
            let (again, error) = responses(&bytes, bytes.len().max(1));
            assert_eq!(error, None, "an emitted response does not decode: {bytes:?}");
            assert_eq!(again.len(), 1);
            let again = &again[0];
            assert_eq!(
                (again.status, &again.reason, again.minor_version, &again.body),
                (response.status, &response.reason, response.minor_version, &response.body)
            );
            assert_eq!(again.emit(framing), bytes);
        }
    }
});
