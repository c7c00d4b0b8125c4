//! The `amt-conformance` command line: `run`, `list`, `explain`, `schema`, `vocabulary`,
//! `check-device`.
//!
//! Exit codes (PRODUCT.md §6): 0 every scenario passed (skipped ones allowed, unless
//! `--fail-on-skip`), 1 a scenario failed, 2 invalid input (a scenario that does not load: the
//! others still run and the summary counts it as an error; a bad argument; a scenario that could
//! not be run).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use conformance::expect::Snapshots;
use conformance::explain::ScenarioRef;
use conformance::runner::{Backend, RunOptions, ScenarioReport};
use conformance::{bundle, catalog, report, scenario};

/// Conformance harness: runs YAML scenarios of AMT provisioning (every documented failure and the
/// successful flows) against the virtual device in-process, over loopback sockets, or against a
/// real device.
#[derive(Debug, Parser)]
#[command(name = "amt-conformance", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenarios (default: the catalog in scenarios/). Exit 0 all passed, 1 a scenario
    /// failed, 2 invalid input.
    Run(RunArgs),
    /// List the scenarios (id, source, title).
    List {
        /// Scenario files, directories or bundles.
        paths: Vec<PathBuf>,
        /// Only scenarios whose id, title or source contains TEXT (or `tag:NAME`).
        #[arg(long, value_name = "TEXT")]
        filter: Option<String>,
    },
    /// Find the error-catalog entries a log line belongs to: cause, fix, scenario to run
    /// (placeholders such as `{uuid}` or `...` allowed). Exit 0 found, 1 no match.
    Explain {
        /// The log line (a message, or a whole amtopmgr/amtproxymgr/oobmgmt line).
        line: String,
        /// Scenario directories to search for matching scenarios (default: scenarios/).
        #[arg(long = "scenarios", value_name = "DIR")]
        scenarios: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Print the JSON Schema of the scenario format.
    Schema,
    /// Print every id a scenario may name (steps, refusal kinds, log lines, client refusals, …)
    /// with one line of meaning.
    Vocabulary {
        /// Output format (`human` or `json`).
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// The firmware vendor's suite: requirement checks with ids and sources against a device
    /// (`amt-sim serve` or real AMT). Prints `PASS|FAIL|SKIP <id> …` per check and
    /// `N passed, N failed, N skipped` last. Exit 0 all applicable passed, 1 a check failed,
    /// 2 invalid input or device unreachable.
    CheckDevice(CheckDeviceArgs),
}

#[derive(Debug, clap::Args)]
struct CheckDeviceArgs {
    /// The device's TLS port (AMT: 16993).
    #[arg(long, value_name = "HOST:PORT", required_unless_present_any = ["list", "list_markdown"])]
    tls: Option<SocketAddr>,
    /// The device's plain HTTP port (default: the TLS port minus one, AMT's 16992).
    #[arg(long, value_name = "HOST:PORT")]
    http: Option<SocketAddr>,
    /// The admin password (before provisioning: the MEBx password, `admin` from the factory).
    #[arg(long, env = "AMT_CONFORMANCE_ADMIN_PASSWORD")]
    admin_password: Option<String>,
    /// Firmware generation whose rules apply (amt-6, amt-11, amt-16, …); default: read from
    /// Identify.
    #[arg(long, value_name = "NAME")]
    personality: Option<String>,
    /// Run destructive checks: provision the device, commit, unprovision it again.
    #[arg(long)]
    allow_reset: bool,
    /// Listen for the device's Hellos here (the device must send them to this address).
    #[arg(long, value_name = "ADDR:PORT")]
    hello_listen: Option<SocketAddr>,
    /// Seconds to wait for the first Hello.
    #[arg(long, default_value_t = 90, value_name = "SECS")]
    hello_wait: u64,
    /// Only checks whose id is or starts with ID (repeatable, e.g. DIGEST or TLS-0).
    #[arg(long, value_name = "ID-or-prefix")]
    filter: Vec<String>,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Also write check-device.{txt,json,xml,html} here.
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
    /// The test PKI with the provisioning chains (default: the repository's certs/).
    #[arg(long, value_name = "DIR")]
    certs: Option<PathBuf>,
    /// List the checks (id, kind, applicability, requirement, source) instead of running them.
    #[arg(long)]
    list: bool,
    /// Print DEVICE-CHECKS.md (generated from the catalog).
    #[arg(long, hide = true)]
    list_markdown: bool,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Scenario files, directories or repro bundles (default: scenarios/).
    paths: Vec<PathBuf>,
    /// Only scenarios whose id, title or source contains TEXT (or `tag:NAME`).
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Write transcripts (every scenario) and repro bundles (failed ones) here.
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
    /// Run over loopback sockets (amt-sim's network shell, the service point over TCP).
    #[arg(long, conflicts_with = "device")]
    network: bool,
    /// Run the device-side checks against an external device (its TLS port; the HTTP port is
    /// taken to be one less, as 16993/16992); scenarios that need device control, Hellos or
    /// device events are skipped, with the reason.
    #[arg(long, value_name = "HOST:PORT")]
    device: Option<SocketAddr>,
    /// Admin password of the external device, if it is already provisioned.
    #[arg(long, env = "AMT_CONFORMANCE_ADMIN_PASSWORD", requires = "device")]
    admin_password: Option<String>,
    /// Worker threads (default: one per core).
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Rewrite transcript snapshots instead of comparing them (also AMT_CONFORMANCE_UPDATE=1).
    #[arg(long)]
    update_snapshots: bool,
    /// A skipped scenario counts as a failure (exit 1), so CI of `--network` or `--device` runs
    /// cannot mistake a skip for a pass.
    #[arg(long)]
    fail_on_skip: bool,
}

#[derive(Clone, Copy, Debug, Eq, PartialEq, ValueEnum)]
enum Format {
    Human,
    Json,
    Junit,
    Html,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(args),
        Command::List { paths, filter } => list(paths, filter.as_deref()),
        Command::Explain {
            line,
            scenarios,
            format,
        } => explain(&line, scenarios, format),
        Command::CheckDevice(args) => check_device(args),
        Command::Vocabulary { format } => {
            let entries = conformance::vocabulary::entries();
            match format {
                Format::Json => match serde_json::to_string_pretty(&entries) {
                    Ok(text) => print_out(&text),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(2);
                    }
                },
                _ => print_out(&conformance::vocabulary::human(&entries)),
            }
            ExitCode::SUCCESS
        }
        Command::Schema => {
            let schema = scenario::json_schema();
            match serde_json::to_string_pretty(&schema) {
                Ok(text) => {
                    print_out(&text);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

fn or_default(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![catalog::default_dir()]
    } else {
        paths
    }
}

/// Loads scenarios for `run`: files that do not load are reported (once each) and counted, the
/// others still run. `None` = nothing can run (exit 2 at once).
fn load_for_run(
    paths: Vec<PathBuf>,
    filter: Option<&str>,
) -> Option<(Vec<scenario::LoadedScenario>, usize)> {
    let files = match catalog::scenario_files(&or_default(paths)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return None;
        }
    };
    let (mut loaded, errors) = catalog::load_all(&files);
    for e in &errors {
        eprintln!("error: {e}");
    }
    let dups = catalog::duplicate_ids(&loaded);
    for d in &dups {
        eprintln!("error: {d}");
    }
    if !dups.is_empty() {
        return None;
    }
    if let Some(f) = filter {
        loaded.retain(|s| catalog::matches_filter(&s.scenario, f));
    }
    if loaded.is_empty() {
        eprintln!("error: no scenario to run");
        return None;
    }
    Some((loaded, errors.len()))
}

/// Loads scenarios; prints load errors. `None` = invalid input (exit 2).
fn load(paths: Vec<PathBuf>, filter: Option<&str>) -> Option<Vec<scenario::LoadedScenario>> {
    let files = match catalog::scenario_files(&or_default(paths)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return None;
        }
    };
    let (mut loaded, errors) = catalog::load_all(&files);
    for e in &errors {
        eprintln!("error: {e}");
    }
    let dups = catalog::duplicate_ids(&loaded);
    for d in &dups {
        eprintln!("error: {d}");
    }
    if !errors.is_empty() || !dups.is_empty() {
        return None;
    }
    if let Some(f) = filter {
        loaded.retain(|s| catalog::matches_filter(&s.scenario, f));
    }
    if loaded.is_empty() {
        eprintln!("error: no scenario to run");
        return None;
    }
    Some(loaded)
}

#[expect(
    clippy::disallowed_methods,
    reason = "the CLI shell measures the run's wall time for the report"
)]
fn run(args: RunArgs) -> ExitCode {
    let started = std::time::Instant::now();
    let Some((scenarios, load_errors)) = load_for_run(args.paths, args.filter.as_deref()) else {
        return ExitCode::from(2);
    };
    let update =
        args.update_snapshots || std::env::var("AMT_CONFORMANCE_UPDATE").is_ok_and(|v| v == "1");
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    let mut options = RunOptions {
        backend: match (args.network, args.device) {
            (true, _) => Backend::Network,
            (false, Some(addr)) => Backend::Device(addr),
            (false, None) => Backend::InProcess,
        },
        snapshots: if update {
            Snapshots::Update
        } else if ci {
            Snapshots::Strict
        } else {
            Snapshots::Compare
        },
        admin_password: args.admin_password,
        ..RunOptions::default()
    };
    if let Some(j) = args.jobs {
        options.jobs = j.max(1);
    }
    let human = args.format == Format::Human;
    if human {
        eprintln!(
            "running {} scenario(s), backend {}, {} worker(s)",
            scenarios.len(),
            options.backend.name(),
            options.jobs
        );
    }
    let progress = |r: &ScenarioReport, done: usize, total: usize| {
        if human {
            eprintln!("{}", report::progress_line(r, done, total));
        }
    };
    let reports = conformance::runner::run_all(&scenarios, &options, &progress);
    let mut summary = report::Summary::of(&reports, started.elapsed());
    // Files that did not load are errors of the run (printed above, once each).
    summary.total += load_errors;
    summary.errors += load_errors;
    let out = match args.format {
        Format::Human => report::human(&reports, &summary),
        Format::Json => report::json(&reports, &summary, options.backend.name()),
        Format::Junit => report::junit(&reports, &summary, options.backend.name()),
        Format::Html => conformance::html::scenarios(&reports, &summary, options.backend.name()),
    };
    print_out(&out);
    if let Some(dir) = &args.report_dir {
        if let Err(e) = report::write_transcripts(&dir.join("transcripts"), &reports) {
            eprintln!("error: writing transcripts to {}: {e}", dir.display());
            return ExitCode::from(2);
        }
        for (loaded, r) in scenarios.iter().zip(&reports) {
            if matches!(r.verdict, conformance::runner::Verdict::Failed { .. }) {
                match bundle::write(&dir.join("bundles"), loaded, r) {
                    Ok(path) => eprintln!(
                        "repro bundle of {}: {} (replay: amt-conformance run {})",
                        r.id,
                        path.display(),
                        path.display()
                    ),
                    Err(e) => eprintln!("error: bundle of {}: {e}", r.id),
                }
            }
        }
    }
    if load_errors > 0 {
        eprintln!("error: {load_errors} scenario file(s) did not load (see above)");
    }
    let mut code = summary.exit_code();
    if args.fail_on_skip && summary.skipped > 0 && code == 0 {
        eprintln!(
            "{} skipped scenario(s) count as failures (--fail-on-skip)",
            summary.skipped
        );
        code = 1;
    }
    ExitCode::from(code)
}

fn list(paths: Vec<PathBuf>, filter: Option<&str>) -> ExitCode {
    let Some(scenarios) = load(paths, filter) else {
        return ExitCode::from(2);
    };
    let width = scenarios
        .iter()
        .map(|s| s.scenario.id.len())
        .max()
        .unwrap_or(0);
    for s in &scenarios {
        print_out(&format!(
            "{:<width$}  {:<22}  {}",
            s.scenario.id, s.scenario.source, s.scenario.title
        ));
    }
    ExitCode::SUCCESS
}

fn explain(line: &str, dirs: Vec<PathBuf>, format: Format) -> ExitCode {
    // Scenarios are only looked up, never run: files that do not load are left out.
    let refs: Vec<ScenarioRef> = catalog::scenario_files(&or_default(dirs))
        .map(|files| catalog::load_all(&files).0)
        .unwrap_or_default()
        .into_iter()
        .map(|s| ScenarioRef {
            id: s.scenario.id,
            title: s.scenario.title,
            source: s.scenario.source,
            path: s.path,
        })
        .collect();
    let explanation = conformance::explain::explain(line, &refs);
    match format {
        Format::Json | Format::Junit | Format::Html => {
            match serde_json::to_string_pretty(&explanation) {
                Ok(text) => print_out(&text),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        Format::Human => print_out(&explanation.to_string()),
    }
    if explanation.matches.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn check_device(args: CheckDeviceArgs) -> ExitCode {
    use conformance::device_checks::{self, report as dreport};
    let personality = match args.personality.as_deref().map(|p| {
        serde_saphyr::from_str::<amt_sim::personality::Personality>(p)
            .map_err(|_| format!("unknown personality {p:?} (amt-2.6 … amt-16)"))
    }) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.list_markdown {
        print_out(&dreport::markdown());
        return ExitCode::SUCCESS;
    }
    if args.list {
        print_out(&dreport::list(personality));
        return ExitCode::SUCCESS;
    }
    let Some(tls) = args.tls else {
        eprintln!("error: --tls HOST:PORT is required");
        return ExitCode::from(2);
    };
    let http = args
        .http
        .unwrap_or_else(|| SocketAddr::new(tls.ip(), tls.port().saturating_sub(1)));
    let hello = match args.hello_listen {
        None => None,
        Some(addr) => match provisioner_core::net::hello_listener::HelloListener::bind(addr) {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("error: cannot listen for Hellos on {addr}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let config = device_checks::Config {
        tls,
        http,
        admin_password: args.admin_password,
        personality,
        allow_reset: args.allow_reset,
        hello,
        hello_wait: std::time::Duration::from_secs(args.hello_wait),
        filter: args.filter,
        certs: args.certs.unwrap_or_else(device_checks::default_certs_dir),
    };
    let report = match device_checks::run(config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e} ({})", e.id());
            return ExitCode::from(2);
        }
    };
    let out = match args.format {
        Format::Human => dreport::human(&report),
        Format::Json => dreport::json(&report),
        Format::Junit => dreport::junit(&report),
        Format::Html => conformance::html::check_device(&report),
    };
    print_out(&out);
    if let Some(dir) = &args.report_dir {
        let files = [
            ("check-device.txt", dreport::human(&report)),
            ("check-device.json", dreport::json(&report)),
            ("check-device.xml", dreport::junit(&report)),
            (
                "check-device.html",
                conformance::html::check_device(&report),
            ),
        ];
        let written = std::fs::create_dir_all(dir).and_then(|()| {
            files
                .iter()
                .try_for_each(|(name, text)| std::fs::write(dir.join(name), text))
        });
        if let Err(e) = written {
            eprintln!("error: writing reports to {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    }
    ExitCode::from(report.exit_code())
}

/// Writes `text` and a newline to stdout; a closed pipe (`| head`) is not an error.
fn print_out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
}
