//! amt-conformance: YAML scenarios of AMT provisioning (successes and every documented failure),
//! run in-process on a virtual clock, over loopback sockets, or against an external device, with
//! human, JSON and JUnit reports.
//!
//! - [`scenario`]: the file format (serde + schemars), loading with located errors.
//! - [`catalog`]: finding scenario files and bundles.
//! - [`runner`]: backends and the parallel driver; [`observe`]: what a run produced.
//! - [`expect`]: checking expectations, with diffs.
//! - [`report`]: human, JSON, JUnit, transcripts; [`bundle`]: repro bundles of failures.
//! - [`explain`]: from a pasted log line to its error-catalog entries, cause, fix and scenarios.

pub mod bundle;
pub mod catalog;
pub mod device_checks;
pub mod expect;
pub mod explain;
pub mod html;
pub mod observe;
pub mod overlay;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod schema_check;
pub mod testbed;
pub mod vocabulary;
