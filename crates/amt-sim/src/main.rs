//! The `amt-sim` command line. Only `--help` and `--version` exist yet: no subcommand is built.

use clap::{CommandFactory, Parser};

/// The virtual Intel AMT device (Hello beacons, TLS-PKI setup, digest, WS-Management, NVRAM state).
///
/// No subcommand is implemented yet; they arrive with the issues that build this part
/// (see ARCHITECTURE.md for the plan).
#[derive(Debug, Parser)]
#[command(name = "amt-sim", version)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    let mut cmd = Cli::command();
    let help = cmd.render_long_help();
    anyhow::bail!("no subcommand is implemented yet\n\n{help}")
}
