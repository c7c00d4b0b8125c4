//! The `amt-sim` command line: `serve` runs one virtual AMT device on real sockets, `fleet` many.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use amt_sim::net::events::EventWriter;
use amt_sim::net::fleet::Layout;
use amt_sim::net::{Bound, EventSink, RunningDevice, ShellOptions, clock, start};
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

/// The virtual Intel AMT device (Hello beacons, TLS-PKI setup, digest, WS-Management, NVRAM state).
#[derive(Debug, Parser)]
#[command(name = "amt-sim", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log filter for stderr (tracing `EnvFilter` syntax, e.g. `info` or `amt_sim=debug`);
    /// defaults to `RUST_LOG`, else `warn`.
    #[arg(long, global = true)]
    log: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one device until Ctrl-C or SIGTERM. Prints one line
    /// `ready uuid=… http=ADDR tls=ADDR hello=…` once it listens.
    Serve(ServeArgs),
    /// Run COUNT devices in one process, each with its own UUID (the profile's plus its index)
    /// and its own port pair or loopback address. Prints `device index=… uuid=… http=… tls=…` per
    /// device, then `ready count=N`.
    ///
    /// Each device holds two listening sockets: raise `ulimit -n` above 2 x COUNT. For thousands
    /// of devices prefer `--per-address`: fixed ports on distinct addresses start in linear time,
    /// while thousands of OS-picked ports can slow the start down.
    Fleet(FleetArgs),
    /// List the deviations `--deviation` accepts, one per line: `NAME CHECK-ID[,CHECK-ID…]
    /// description`. They are test knobs: each breaks one requirement on purpose so that the
    /// device conformance suite (`amt-conformance check-device`) is shown able to fail.
    Deviations,
}

/// Options shared by `serve` and `fleet`.
#[derive(Debug, Args)]
struct DeviceArgs {
    /// Device profile (YAML); the embedded default profile otherwise.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Keep NVRAM state (provisioning, passwords, certificates) here across runs; a fleet uses
    /// one subdirectory per device. Without it the state lives in memory only.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Port of the plain HTTP listener (0: any free port); the profile's otherwise.
    #[arg(long)]
    http_port: Option<u16>,
    /// Port of the TLS listener (0: any free port); the profile's otherwise.
    #[arg(long)]
    tls_port: Option<u16>,
    /// Send Hellos to this provisioning server instead of the profile's.
    #[arg(long, value_name = "HOST:PORT")]
    provision_server: Option<String>,
    /// Send no Hello beacons.
    #[arg(long)]
    no_hello: bool,
    /// Append device events to FILE as JSON lines (flushed as they happen).
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Seed of the device's random numbers (realm, nonces, key-pool slot), for reproducible runs;
    /// a fleet adds the index. Without it they come from the operating system's RNG, so that
    /// nothing captured before a restart is accepted after it.
    #[arg(long)]
    seed: Option<u64>,
    /// Close a connection that has had no answer for this many seconds (idle keep-alive or a
    /// client trickling its request in).
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    idle_timeout: f64,
    /// Most concurrent connections per device (HTTP and TLS together). When all are taken, a new
    /// connection replaces the one that has waited longest without an answer (at least 2 s), so
    /// idle or trickling clients cannot lock others out; otherwise it is closed at once (counted,
    /// one warning per 10 s).
    #[arg(long, default_value_t = 32, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65536))]
    max_connections: u32,
    /// TEST KNOB: break one requirement on purpose (repeatable; `amt-sim deviations` lists
    /// them). Never for anything but testing a conformance suite.
    #[arg(long = "deviation", value_name = "NAME")]
    deviations: Vec<amt_sim::deviation::Deviation>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    device: DeviceArgs,
    /// Address to listen on (also the source of Hellos).
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Also serve the local host interface (what LMS offers local agents over HECI; e.g. 16992
    /// on the host's loopback) on 127.0.0.1:PORT (0: a free port): plain HTTP, host-based setup
    /// accepted, loopback peers only. Needs `provisioning.heci_driver_present`.
    #[arg(long, value_name = "PORT")]
    host_interface_port: Option<u16>,
}

#[derive(Debug, Args)]
struct FleetArgs {
    #[command(flatten)]
    device: DeviceArgs,
    /// Number of devices.
    #[arg(long)]
    count: u32,
    /// Address of device 0.
    #[arg(long, default_value = "127.0.0.1")]
    bind_base: IpAddr,
    /// Give device i the address BIND_BASE + i (same ports on each, default 16992/16993)
    /// instead of ports BASE + 2i on one address (default: ports the OS picks).
    #[arg(long)]
    per_address: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log.as_deref());
    if matches!(cli.command, Command::Deviations) {
        for d in amt_sim::deviation::Deviation::ALL {
            let row = d.row();
            if say(&format!(
                "{} {} {}",
                row.name,
                row.checks.join(","),
                row.description
            ))
            .is_err()
            {
                return ExitCode::FAILURE;
            }
        }
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Fleet(args) => fleet(args).await,
            Command::Deviations => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // Bad input (an invalid profile or option value) exits 2 like the other binaries
            // and clap's usage errors; anything else 1.
            if e.downcast_ref::<BadInput>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Marks an error as invalid input (exit status 2).
#[derive(Debug)]
struct BadInput;

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid input")
    }
}

impl std::error::Error for BadInput {}

fn init_logging(filter: Option<&str>) {
    let filter = filter
        .map(tracing_subscriber::EnvFilter::new)
        .or_else(|| tracing_subscriber::EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

impl DeviceArgs {
    fn shell_options(&self, label: String, source: IpAddr) -> Result<ShellOptions> {
        let idle = Duration::try_from_secs_f64(self.idle_timeout)
            .ok()
            .filter(|d| !d.is_zero())
            .context("--idle-timeout must be a positive number of seconds")?;
        Ok(ShellOptions {
            idle_timeout: idle,
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            hello: !self.no_hello,
            hello_source: Some(source),
            label,
            ..ShellOptions::default()
        })
    }

    fn events(&self) -> Result<Option<(EventSink, EventWriter)>> {
        let Some(path) = &self.events else {
            return Ok(None);
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening the event stream {}", path.display()))?;
        let (sink, writer) = EventWriter::start(Box::new(std::io::BufWriter::new(file)))?;
        Ok(Some((sink, writer)))
    }
}

/// One line on stdout, flushed at once (scripts wait for it).
fn say(line: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

async fn serve(args: ServeArgs) -> Result<()> {
    let stop = StopSignal::install();
    let factory = device::Factory::new(&args.device, false).map_err(|e| e.context(BadInput))?;
    args.device
        .shell_options(String::new(), args.bind)
        .map_err(|e| e.context(BadInput))?;
    let (http_port, tls_port) = factory.ports(&args.device);
    let mut bound = Bound::bind(
        SocketAddr::new(args.bind, http_port),
        SocketAddr::new(args.bind, tls_port),
    )
    .await
    .with_context(|| {
        format!(
            "binding {}:{http_port} and {}:{tls_port}",
            args.bind, args.bind
        )
    })?;
    let host = match args.host_interface_port {
        Some(port) => Some(
            bound
                .bind_host_interface(port)
                .await
                .with_context(|| format!("binding the host interface 127.0.0.1:{port}"))?,
        ),
        None => None,
    };
    let (http, tls) = (bound.http_addr()?, bound.tls_addr()?);
    let built = factory.build(&args.device, 0, http, tls)?;
    let events = args.device.events()?;
    let options = args.device.shell_options(built.uuid.clone(), args.bind)?;
    let hello = if options.hello {
        built.hello.clone()
    } else {
        "off".into()
    };
    let running = start(
        bound,
        built.core,
        options,
        events.as_ref().map(|(s, _)| s.clone()),
    );
    let host = host
        .map(|h| format!(" host-interface={h}"))
        .unwrap_or_default();
    say(&format!(
        "ready uuid={} http={http} tls={tls} hello={hello}{host}",
        built.uuid
    ))?;
    stop.wait().await;
    stop_all(vec![running], events).await
}

async fn fleet(args: FleetArgs) -> Result<()> {
    let stop = StopSignal::install();
    let factory = device::Factory::new(&args.device, true).map_err(|e| e.context(BadInput))?;
    args.device
        .shell_options(String::new(), args.bind_base)
        .map_err(|e| e.context(BadInput))?;
    let layout = if args.per_address {
        let (http, tls) = factory.ports(&args.device);
        Layout::Addresses {
            base: args.bind_base,
            http,
            tls,
        }
    } else {
        Layout::Ports {
            addr: args.bind_base,
            http: args.device.http_port.unwrap_or(0),
            tls: args.device.tls_port.unwrap_or(0),
        }
    };
    let events = args.device.events()?;
    let mut running = Vec::new();
    for index in 0..args.count {
        let (http, tls) = layout.endpoints(index)?;
        let bound = Bound::bind(http, tls)
            .await
            .with_context(|| format!("device {index}: binding {http} and {tls}"))?;
        let (http, tls) = (bound.http_addr()?, bound.tls_addr()?);
        let built = factory.build(&args.device, index, http, tls)?;
        let options = args
            .device
            .shell_options(format!("{index}:{}", built.uuid), http.ip())?;
        running.push(start(
            bound,
            built.core,
            options,
            events.as_ref().map(|(s, _)| s.clone()),
        ));
        say(&format!(
            "device index={index} uuid={} http={http} tls={tls}",
            built.uuid
        ))?;
    }
    say(&format!("ready count={}", args.count))?;
    stop.wait().await;
    stop_all(running, events).await
}

/// Ctrl-C or SIGTERM. Created before the ready line is printed, so that a SIGTERM sent as soon as
/// the line appears is already caught (and ends the process cleanly).
struct StopSignal {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl StopSignal {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let term = signal(SignalKind::terminate())
                .map_err(|e| tracing::warn!("cannot catch SIGTERM: {e}"))
                .ok();
            Self { term }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    async fn wait(self) {
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        {
            match self.term {
                Some(mut term) => {
                    tokio::select! {
                        () = ctrl_c => {}
                        _ = term.recv() => {}
                    }
                }
                None => ctrl_c.await,
            }
        }
        #[cfg(not(unix))]
        {
            ctrl_c.await;
        }
        tracing::info!("stopping");
    }
}

async fn stop_all(
    running: Vec<RunningDevice>,
    events: Option<(EventSink, EventWriter)>,
) -> Result<()> {
    for device in running {
        device.shutdown().await;
    }
    if let Some((sink, writer)) = events {
        drop(sink);
        tokio::task::spawn_blocking(move || writer.finish())
            .await
            .context("event writer")?
            .context("writing the event stream")?;
    }
    Ok(())
}

/// A device built for the shell.
struct Built<D> {
    core: D,
    uuid: String,
    /// Where its Hellos go, for the ready line.
    hello: String,
}

/// Building real devices from the profile and options.
mod device {
    use std::path::Path;

    use amt_sim::device::{Device, Randomness};
    use amt_sim::io::store::StateStore;
    use amt_sim::net::fleet::nth_uuid;
    use amt_sim::profile::{DEFAULT_PROFILE_YAML, DeviceProfile};

    use super::*;

    /// The profile (with the options applied) every device of this process starts from.
    pub(super) struct Factory {
        profile: DeviceProfile,
        /// One state subdirectory per device (`fleet`) or the directory itself (`serve`).
        per_device_state: bool,
    }

    impl Factory {
        pub(super) fn new(args: &DeviceArgs, per_device_state: bool) -> Result<Self> {
            let mut profile = match &args.profile {
                Some(path) => {
                    let bytes = amt_sim::io::read_file(path)
                        .with_context(|| format!("reading the profile {}", path.display()))?;
                    let text = String::from_utf8(bytes)
                        .with_context(|| format!("the profile {} is not UTF-8", path.display()))?;
                    let base = path.parent().unwrap_or_else(|| Path::new("."));
                    DeviceProfile::from_yaml(&text, base)
                        .with_context(|| format!("profile {}", path.display()))?
                }
                None => DeviceProfile::from_yaml(DEFAULT_PROFILE_YAML, Path::new("."))
                    .context("the embedded default profile")?,
            };
            if let Some(server) = &args.provision_server {
                profile.provisioning.server = Some(server.clone());
            }
            profile.validate().context("profile")?;
            Ok(Self {
                profile,
                per_device_state,
            })
        }

        /// The ports to bind: the options', else the profile's.
        pub(super) fn ports(&self, args: &DeviceArgs) -> (u16, u16) {
            (
                args.http_port.unwrap_or(self.profile.ports.http),
                args.tls_port.unwrap_or(self.profile.ports.tls),
            )
        }

        /// Device `index`, told the addresses its listeners are bound to.
        pub(super) fn build(
            &self,
            args: &DeviceArgs,
            index: u32,
            http: SocketAddr,
            tls: SocketAddr,
        ) -> Result<Built<Device>> {
            let mut profile = self.profile.clone();
            let uuid = nth_uuid(profile.device_uuid(), index);
            profile.uuid = uuid.to_string();
            profile.ports.http = http.port();
            profile.ports.tls = tls.port();
            if let IpAddr::V4(ip) = http.ip()
                && !ip.is_unspecified()
            {
                // The device's own (wired) address is where it listens.
                profile.network.wired.ipv4 = Some(ip);
            }
            let hello = profile
                .hello_target()
                .map_or_else(|reason| format!("none({reason})"), |t| t.to_string());
            let store = match &args.state_dir {
                None => None,
                Some(dir) => {
                    let dir = if self.per_device_state {
                        dir.join(format!("device-{index:05}"))
                    } else {
                        dir.clone()
                    };
                    Some(
                        StateStore::open(&dir)
                            .with_context(|| format!("state directory {}", dir.display()))?,
                    )
                }
            };
            let randomness = match args.seed {
                Some(seed) => Randomness::Seeded(seed.wrapping_add(u64::from(index))),
                None => Randomness::Os,
            };
            let mut core = Device::with_randomness(profile, store, randomness, clock::now())
                .with_context(|| format!("device {index} ({uuid})"))?;
            core.set_bound_ports(http.port(), tls.port());
            if !args.deviations.is_empty() {
                let set = amt_sim::deviation::DeviationSet::of(&args.deviations);
                tracing::warn!("TEST KNOBS on: deviations {:?}", set.list());
                core.set_deviations(set);
            }
            Ok(Built {
                core,
                uuid: uuid.to_string(),
                hello,
            })
        }
    }
}
