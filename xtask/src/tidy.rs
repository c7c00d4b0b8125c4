//! Repository consistency checks ("tidy"), run as ordinary `#[test]`s by `cargo test --workspace`.
//!
//! Each test enforces one invariant listed in `ARCHITECTURE.md`. They read files only; they never
//! run cargo or touch the network.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::workspace_root;

/// Crates that bring an async runtime, sockets or a TLS/HTTP stack. None of them may appear in the
/// dependency closure of a protocol core.
const IO_CRATES: &[&str] = &[
    "tokio",
    "tokio-rustls",
    "hyper",
    "hyper-util",
    "axum",
    "mio",
    "socket2",
];

/// Crates whose whole dependency closure must stay free of [`IO_CRATES`].
const PURE_CRATES: &[&str] = &["amt-wire"];

/// Crates with a sans-IO core and a shell: outside their shell paths no source file may name an
/// async runtime, a socket type or a wall clock.
const CORE_AND_SHELL_CRATES: &[&str] = &["crates/amt-sim", "crates/provisioner-core"];

/// Paths (relative to such a crate) where the shell lives.
/// `src/net/` holds sockets and the runtime, `src/io/` file access (state store, log files).
const SHELL_PATHS: &[&str] = &[
    "src/net/",
    "src/io/",
    "src/main.rs",
    "src/bin/",
    "tests/",
    "benches/",
];

/// Source text that marks I/O or a wall clock.
const IO_MARKERS: &[&str] = &[
    "tokio::",
    "hyper::",
    "axum::",
    "tokio_rustls::",
    "TcpStream",
    "TcpListener",
    "UdpSocket",
    "std::fs",
    "Instant::now",
    "SystemTime::now",
];

#[test]
fn every_rust_file_starts_with_a_module_doc_line() {
    let offenders: Vec<String> = rust_files()
        .into_iter()
        .filter(|path| {
            let text = fs::read_to_string(path).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|path| display(&path))
        .collect();
    assert!(
        offenders.is_empty(),
        "files without a leading `//!` line: {offenders:#?}"
    );
}

#[test]
fn no_ignored_or_should_panic_tests() {
    let markers = ["#[ignore", "#[should_panic"];
    let this_file = Path::new(file!()).file_name();
    let offenders: Vec<String> = rust_files()
        .into_iter()
        .filter(|path| path.file_name() != this_file)
        .filter(|path| {
            let text = fs::read_to_string(path).unwrap_or_default();
            markers.iter().any(|m| text.contains(m))
        })
        .map(|path| display(&path))
        .collect();
    assert!(
        offenders.is_empty(),
        "assert today's behaviour with a FIXME instead of #[ignore]/#[should_panic]: {offenders:#?}"
    );
}

#[test]
fn pure_crates_have_no_io_crate_in_their_dependency_closure() {
    let lock = fs::read_to_string(workspace_root().join("Cargo.lock")).expect("read Cargo.lock");
    let graph = parse_lock(&lock);
    assert!(
        graph.contains_key("amt-wire") && graph.contains_key("quick-xml"),
        "Cargo.lock parse found no workspace crates; the parser in tidy.rs is out of date"
    );
    for krate in PURE_CRATES {
        let closure = closure(&graph, krate);
        let bad: Vec<&&str> = IO_CRATES
            .iter()
            .filter(|io| closure.contains(**io))
            .collect();
        assert!(
            bad.is_empty(),
            "{krate} must stay sans-IO but depends (maybe transitively) on {bad:?}"
        );
    }
}

#[test]
fn the_lock_parser_sees_transitive_io_dependencies() {
    // Proves the check above can fail: a made-up lock where a pure crate reaches tokio via a friend.
    let lock = r#"
[[package]]
name = "amt-wire"
version = "0.1.0"
dependencies = [
 "friend",
]

[[package]]
name = "friend"
version = "1.0.0"
dependencies = [
 "tokio 1.50.0",
]

[[package]]
name = "tokio"
version = "1.50.0"
"#;
    let graph = parse_lock(lock);
    assert!(closure(&graph, "amt-wire").contains("tokio"));
}

/// The dependency arrows ARCHITECTURE.md forbids: (from, to, why). Checked over every kind of
/// dependency Cargo.lock records (normal, dev, build), transitively.
const FORBIDDEN_ARROWS: &[(&str, &str, &str)] = &[
    (
        "provisioner-core",
        "amt-sim",
        "the provisioner must work against real firmware, not only our reading of the spec",
    ),
    (
        "amt-sim",
        "provisioner-core",
        "the device is an independent reading of the spec",
    ),
    (
        "amt-sim",
        "conformance",
        "the harness builds on the device, never the other way",
    ),
    (
        "provisioner-core",
        "conformance",
        "the harness builds on the provisioner, never the other way",
    ),
    ("amt-wire", "amt-sim", "the shared codecs know neither side"),
    (
        "amt-wire",
        "provisioner-core",
        "the shared codecs know neither side",
    ),
    (
        "amt-wire",
        "conformance",
        "the shared codecs know neither side",
    ),
    (
        "xtask",
        "amt-sim",
        "project automation uses the codecs only (amt-wire)",
    ),
    (
        "xtask",
        "provisioner-core",
        "project automation uses the codecs only (amt-wire)",
    ),
    (
        "xtask",
        "conformance",
        "project automation uses the codecs only (amt-wire)",
    ),
];

/// Every forbidden arrow present in `graph` (transitively), as readable lines.
fn forbidden_arrows_in(graph: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    FORBIDDEN_ARROWS
        .iter()
        .filter(|(from, to, _)| closure(graph, from).contains(*to))
        .map(|(from, to, why)| format!("{from} -> {to}: forbidden, {why}"))
        .collect()
}

#[test]
fn forbidden_dependency_arrows_are_absent() {
    let lock = fs::read_to_string(workspace_root().join("Cargo.lock")).expect("read Cargo.lock");
    let graph = parse_lock(&lock);
    for krate in [
        "amt-wire",
        "amt-sim",
        "provisioner-core",
        "conformance",
        "xtask",
    ] {
        assert!(
            graph.contains_key(krate),
            "{krate} not in Cargo.lock; the parser in tidy.rs is out of date"
        );
    }
    let found = forbidden_arrows_in(&graph);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn forbidden_dependency_arrows_are_found_when_added() {
    // Proves the check above can fail: the real lock with one arrow added, once per table row,
    // directly and through an intermediate crate (a dev-dependency is an entry like any other).
    let lock = fs::read_to_string(workspace_root().join("Cargo.lock")).expect("read Cargo.lock");
    for (from, to, _) in FORBIDDEN_ARROWS {
        let mut graph = parse_lock(&lock);
        graph
            .entry((*from).to_owned())
            .or_default()
            .push((*to).to_owned());
        let found = forbidden_arrows_in(&graph);
        assert!(
            found
                .iter()
                .any(|l| l.starts_with(&format!("{from} -> {to}:"))),
            "{from} -> {to} added but not found: {found:?}"
        );
        let mut graph = parse_lock(&lock);
        graph.insert("helper-crate".to_owned(), vec![(*to).to_owned()]);
        graph
            .entry((*from).to_owned())
            .or_default()
            .push("helper-crate".to_owned());
        assert!(
            forbidden_arrows_in(&graph)
                .iter()
                .any(|l| l.starts_with(&format!("{from} -> {to}:"))),
            "{from} -> helper-crate -> {to} not found"
        );
    }
}

#[test]
fn protocol_cores_keep_io_in_their_shell() {
    let root = workspace_root();
    let mut offenders = Vec::new();
    for krate in CORE_AND_SHELL_CRATES {
        let krate_dir = root.join(krate);
        for path in rust_files_under(&krate_dir) {
            let rel = path
                .strip_prefix(&krate_dir)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            if SHELL_PATHS.iter().any(|shell| rel.starts_with(shell)) {
                continue;
            }
            let text = fs::read_to_string(&path).unwrap_or_default();
            for marker in IO_MARKERS.iter().filter(|m| text.contains(**m)) {
                offenders.push(format!("{}: {marker}", display(&path)));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "I/O or wall clock outside a shell path ({SHELL_PATHS:?}): {offenders:#?}"
    );
}

/// Package name → names of its direct dependencies, read from `Cargo.lock` (format v3/v4).
fn parse_lock(lock: &str) -> BTreeMap<String, Vec<String>> {
    let mut graph = BTreeMap::new();
    for block in lock.split("[[package]]").skip(1) {
        let mut name = None;
        let mut deps = Vec::new();
        let mut in_deps = false;
        for line in block.lines().map(str::trim) {
            if let Some(value) = line.strip_prefix("name = ") {
                name = Some(value.trim_matches('"').to_owned());
            } else if line.starts_with("dependencies = [") {
                in_deps = true;
            } else if in_deps && line.starts_with(']') {
                in_deps = false;
            } else if in_deps {
                let entry = line.trim_end_matches(',').trim_matches('"');
                let dep = entry.split_whitespace().next().unwrap_or(entry);
                deps.push(dep.to_owned());
            }
        }
        if let Some(name) = name {
            graph.insert(name, deps);
        }
    }
    graph
}

/// Every package reachable from `start` (including `start`).
fn closure(graph: &BTreeMap<String, Vec<String>>, start: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![start.to_owned()];
    while let Some(name) = todo.pop() {
        if seen.insert(name.clone()) {
            todo.extend(graph.get(&name).into_iter().flatten().cloned());
        }
    }
    seen
}

/// Every tracked Rust source file of the workspace and of `fuzz/`.
fn rust_files() -> Vec<PathBuf> {
    let root = workspace_root();
    ["crates", "xtask", "fuzz"]
        .iter()
        .flat_map(|dir| rust_files_under(&root.join(dir)))
        .collect()
}

fn rust_files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" && name != "corpus" && name != "artifacts" {
                    todo.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn display(path: &Path) -> String {
    path.strip_prefix(workspace_root())
        .unwrap_or(path)
        .display()
        .to_string()
}
