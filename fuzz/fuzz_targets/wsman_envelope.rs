//! Fuzz target: `Envelope::parse` never panics and stays inside its limits on any bytes.
#![no_main]

use amt_wire::wsman::{Envelope, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Envelope::parse(data, &Limits::default());
});
