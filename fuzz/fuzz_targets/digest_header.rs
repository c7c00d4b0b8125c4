//! Fuzz target: the digest header parsers never panic, and what parses emits a form that parses
//! to the same value.
#![no_main]

use amt_wire::digest::{Authorization, Challenge};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(challenge) = Challenge::parse(text) {
        let again = Challenge::parse(&challenge.emit()).expect("an emitted challenge parses");
        assert_eq!(again, challenge);
    }
    if let Ok(auth) = Authorization::parse(text) {
        let again = Authorization::parse(&auth.emit()).expect("an emitted authorization parses");
        assert_eq!(again, auth);
    }
});
