//! Codec benchmarks, each beside a baseline measured in the same run, so that `cargo xtask bench`
//! can report ratios rather than raw times (the machines are noisy):
//!
//! - `hello/parse` (the 807-byte 23-hash Hello) against `hello/copy` (copying the same bytes);
//! - `wsman/parse` (a full envelope into a typed header and element tree) against `wsman/tokenize`
//!   (quick-xml's bare event loop over the same bytes: the floor for any XML parser built on it);
//! - `digest/parse_and_verify` (parse an Authorization header, verify it from HA1) against
//!   `digest/response_math` (the MD5 computations alone, inputs already parsed);
//! - `http/decode_request` (MeshCentral's WS-MAN POST through `RequestDecoder`, headers and body
//!   copied out) against `http/httparse_head` (bare `httparse` over the same bytes, borrowed).

use std::hint::black_box;

use amt_wire::digest::{self, Authorization, Challenge, NonceCount, Realm};
use amt_wire::hello::HelloPacket;
use amt_wire::http::{self, RequestDecoder};
use amt_wire::wsman::{Envelope, Limits};
use criterion::{Criterion, criterion_group, criterion_main};

const HELLO: &[u8] = include_bytes!("../testdata/hello-pki-23-sha256.bin");
const HTTP_POST: &[u8] = include_bytes!("../testdata/http/meshcentral-post.http");
const REQUEST: &[u8] =
    include_bytes!("../testdata/wsman/requests/meshcentral_put_tls_settings.xml");

fn hello(c: &mut Criterion) {
    let mut group = c.benchmark_group("hello");
    group.bench_function("parse", |b| b.iter(|| HelloPacket::parse(black_box(HELLO))));
    group.bench_function("copy", |b| b.iter(|| black_box(HELLO).to_vec()));
    group.finish();
}

fn wsman(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("wsman");
    group.bench_function("parse", |b| {
        b.iter(|| Envelope::parse(black_box(REQUEST), &limits))
    });
    group.bench_function("tokenize", |b| {
        b.iter(|| {
            let mut reader = quick_xml::Reader::from_reader(black_box(REQUEST));
            let mut events = 0usize;
            loop {
                match reader.read_event() {
                    Ok(quick_xml::events::Event::Eof) | Err(_) => break,
                    Ok(_) => events += 1,
                }
            }
            events
        })
    });
    group.finish();
}

fn digest_auth(c: &mut Criterion) {
    let realm = Realm::from_amt_bytes([0x5a; 16]);
    let challenge = Challenge::new(realm.clone(), "B9AX94iAAAAAAAAAx6rrSfPHGUrx/3uA");
    let header = challenge
        .answer(
            "admin",
            "P@ssw0rd",
            "POST",
            "/wsman",
            NonceCount::from_value(1),
            "0a4f113b",
        )
        .emit();
    let ha1 = digest::ha1("admin", realm.as_str(), "P@ssw0rd");
    let ha1_hex = hex::encode(ha1);
    let mut group = c.benchmark_group("digest");
    group.bench_function("parse_and_verify", |b| {
        b.iter(|| {
            Authorization::parse(black_box(&header)).map(|auth| auth.verify_with_ha1("POST", &ha1))
        })
    });
    group.bench_function("response_math", |b| {
        b.iter(|| {
            let ha2 = hex::encode(digest::ha2(black_box("POST"), black_box("/wsman")));
            digest::response(
                &ha1_hex,
                black_box("B9AX94iAAAAAAAAAx6rrSfPHGUrx/3uA"),
                "00000001",
                "0a4f113b",
                "auth",
                &ha2,
            )
        })
    });
    group.finish();
}

fn http_request(c: &mut Criterion) {
    let mut group = c.benchmark_group("http");
    group.bench_function("decode_request", |b| {
        b.iter(|| {
            let mut decoder = RequestDecoder::new(http::Limits::default());
            decoder
                .feed(black_box(HTTP_POST))
                .and_then(|()| decoder.next_request())
        })
    });
    group.bench_function("httparse_head", |b| {
        b.iter(|| {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut request = httparse::Request::new(&mut headers);
            request
                .parse(black_box(HTTP_POST))
                .map(|status| status.is_complete())
        })
    });
    group.finish();
}

criterion_group!(benches, hello, wsman, digest_auth, http_request);
criterion_main!(benches);
