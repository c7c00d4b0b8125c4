//! Parses every `*.xml` file in a directory as a WS-Management request with the device's default
//! limits and prints one line per file; exits 1 if any fails. `cargo xtask interop` runs it over the
//! requests that real clients' libraries generate.
//!
//! Usage: `cargo run -p amt-wire --example parse_envelopes -- DIR`

use std::path::PathBuf;
use std::process::ExitCode;

use amt_wire::wsman::{Envelope, Limits};

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: parse_envelopes DIR");
        return ExitCode::from(2);
    };
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "xml"))
            .collect(),
        Err(e) => {
            eprintln!("cannot read {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    files.sort();
    let limits = Limits::default();
    let mut failed = 0usize;
    for path in &files {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let outcome = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| Envelope::parse(&bytes, &limits).map_err(|e| e.to_string()));
        match outcome {
            Ok(env) => println!(
                "ok   {name}: {} {}",
                env.header.action,
                env.header.resource_uri.as_deref().unwrap_or("-")
            ),
            Err(e) => {
                failed += 1;
                println!("FAIL {name}: {e}");
            }
        }
    }
    println!(
        "amt-wire parse: {} of {} requests parsed",
        files.len() - failed,
        files.len()
    );
    if failed == 0 && !files.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
