//! The `amt-sim` command line. Only `--help` and `--version` exist yet: no subcommand is built.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// The virtual Intel AMT device (Hello beacons, TLS-PKI setup, digest, WS-Management, NVRAM state).
///
/// No subcommand is implemented yet; they arrive with the issues that build this part
/// (see ARCHITECTURE.md for the plan).
#[derive(Debug, Parser)]
#[command(name = "amt-sim", version)]
struct Cli {}

fn main() -> ExitCode {
    let _cli = Cli::parse();
    let help = Cli::command().render_long_help();
    eprintln!("{help}\nerror: no subcommand is implemented yet");
    ExitCode::from(2)
}
