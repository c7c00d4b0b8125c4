//! Fuzz target: `HelloPacket::parse` never panics, and whatever parses emits the same bytes again.
#![no_main]

use amt_wire::hello::HelloPacket;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(hello) = HelloPacket::parse(data) {
        let again = hello.to_bytes().expect("a parsed hello can be emitted");
        assert_eq!(again, data, "parse/emit must reproduce the packet");
    }
});
