//! The provisioner against the simulated device: tests that need both real halves, kept in the
//! harness crate because `provisioner-core` and `amt-sim` never depend on each other. Sessions
//! over the in-memory testbed on a virtual clock, the service point against the device's Hello
//! schedule, the TLS client against the device's TLS server, and the `amt-provision` binary
//! against a device on loopback; the capture and drift check of the provisioner's golden exchanges.

mod cli;
mod golden;
mod recovery;
mod servicepoint;
mod sessions;
mod tls;

use amt_wire::time::Timestamp;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// 2027-01-15 08:00:00 UTC, the virtual clock's start.
const T0: Timestamp = Timestamp::from_unix_millis(1_800_000_000_000);
