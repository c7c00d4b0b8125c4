//! The `amt-conformance` command line. Only `--help` and `--version` exist yet: no subcommand is built.

use clap::{CommandFactory, Parser};

/// Conformance harness: runs YAML scenarios of AMT provisioning against the virtual device or a real one.
///
/// No subcommand is implemented yet; they arrive with the issues that build this part
/// (see ARCHITECTURE.md for the plan).
#[derive(Debug, Parser)]
#[command(name = "amt-conformance", version)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    let mut cmd = Cli::command();
    let help = cmd.render_long_help();
    anyhow::bail!("no subcommand is implemented yet\n\n{help}")
}
