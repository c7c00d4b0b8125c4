//! The transcript family: `transcript`, a snapshot file of the redacted protocol transcript.
//! Deterministic only on the virtual clock: not compared on the wall clock.

use std::path::Path;

use similar::TextDiff;

use super::{Expect, Mismatch, Snapshots};

/// Checks `expect.transcript` (the file is relative to `base_dir`).
pub(crate) fn check(
    expect: &Expect,
    actual: &str,
    base_dir: &Path,
    snapshots: Snapshots,
    out: &mut Vec<Mismatch>,
) {
    if let Some(file) = &expect.transcript {
        check_file(&base_dir.join(file), actual, snapshots, out);
    }
}

fn check_file(path: &Path, actual: &str, snapshots: Snapshots, out: &mut Vec<Mismatch>) {
    let what = format!("expect.transcript ({})", path.display());
    let write = |out: &mut Vec<Mismatch>| {
        if let Err(e) = std::fs::write(path, actual) {
            out.push(Mismatch::new(
                what.clone(),
                "a snapshot file",
                format!("cannot write it: {e}"),
            ));
        }
    };
    // Bounded: a snapshot is a page of text, never an endless file.
    let read = crate::scenario::read_bounded(path);
    let missing = matches!(
        &read,
        Err(crate::scenario::ScenarioError::Read { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound
    );
    match (read.map_err(|e| e.to_string()), snapshots) {
        (_, Snapshots::Update) => write(out),
        (Err(_), Snapshots::Compare) if missing => write(out),
        (Err(e), Snapshots::Compare) => out.push(Mismatch::new(
            what.clone(),
            "a readable snapshot",
            format!("cannot read it: {e}"),
        )),
        (Err(e), Snapshots::Strict) => out.push(Mismatch::new(
            what.clone(),
            "a committed snapshot",
            format!("{e} (run once with AMT_CONFORMANCE_UPDATE=1 and commit it)"),
        )),
        (Ok(expected), _) => {
            if expected != actual {
                let diff = TextDiff::from_lines(expected.as_str(), actual)
                    .unified_diff()
                    .context_radius(2)
                    .header("snapshot", "this run")
                    .to_string();
                out.push(
                    Mismatch::new(what.clone(), "the snapshot", "a different transcript")
                        .with_detail(diff),
                );
            }
        }
    }
}

/// On the wall clock: the snapshot is left out, with a note.
pub(crate) fn relax_for_wall_clock(expect: &mut Expect, notes: &mut Vec<String>) {
    if let Some(file) = expect.transcript.take() {
        notes.push(format!(
            "expect.transcript ({file}) not compared: the transcript is deterministic only on \
             the virtual clock (in-process)"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oversized_snapshot_is_a_mismatch_and_is_not_overwritten()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("x.transcript.txt");
        let size = crate::scenario::MAX_SCENARIO_BYTES + 1;
        std::fs::File::create(&path)?.set_len(size)?;
        let mut out = Vec::new();
        check_file(&path, "actual", Snapshots::Compare, &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(
            out.iter().any(|m| m.actual.contains("larger than")),
            "{out:?}"
        );
        assert_eq!(std::fs::metadata(&path)?.len(), size, "left as it was");
        // A missing snapshot is still written on a first run.
        let new = dir.path().join("new.transcript.txt");
        check_file(&new, "actual", Snapshots::Compare, &mut Vec::new());
        assert_eq!(std::fs::read_to_string(&new)?, "actual");
        Ok(())
    }
}
