//! The `amt-conformance` command line. Only `--help` and `--version` exist yet: no subcommand is built.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// Conformance harness: runs YAML scenarios of AMT provisioning against the virtual device or a real one.
///
/// No subcommand is implemented yet; they arrive with the issues that build this part
/// (see ARCHITECTURE.md for the plan).
#[derive(Debug, Parser)]
#[command(name = "amt-conformance", version)]
struct Cli {}

fn main() -> ExitCode {
    let _cli = Cli::parse();
    let help = Cli::command().render_long_help();
    eprintln!("{help}\nerror: no subcommand is implemented yet");
    ExitCode::from(2)
}
