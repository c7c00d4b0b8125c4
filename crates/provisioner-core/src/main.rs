//! The `amt-provision` command line. Only `--help` and `--version` exist yet: no subcommand is built.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// The ConfigMgr 2007 out-of-band service point: provisions AMT devices (Hello intake, TLS-PKI, digest, stage 1 and 2).
///
/// No subcommand is implemented yet; they arrive with the issues that build this part
/// (see ARCHITECTURE.md for the plan).
#[derive(Debug, Parser)]
#[command(name = "amt-provision", version)]
struct Cli {}

fn main() -> ExitCode {
    let _cli = Cli::parse();
    let help = Cli::command().render_long_help();
    eprintln!("{help}\nerror: no subcommand is implemented yet");
    ExitCode::from(2)
}
