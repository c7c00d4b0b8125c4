//! The conformance harness: YAML scenarios, a runner that drives the provisioner against the device
//! (in-process on a virtual clock, over loopback sockets, or against a real device), and reports.
//!
//! Not built yet beyond this crate and its binary's `--help`; it comes with its own issue.

pub mod explain;
