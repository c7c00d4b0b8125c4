//! The `amt-provision` command line: provision one device at `HOST:PORT`, or listen for Hellos and
//! provision the devices that send them, with a provisioning certificate chain and key from files.
//!
//! Writes `amtopmgr.log`, `amtproxymgr.log` and `oobmgmt.log` (ConfigMgr formats) and
//! `events.jsonl` to `--logs DIR` (appended, never rewritten); passwords set on devices are appended
//! to `DIR/provisioning-secrets.txt` (created 0600 with `O_EXCL`, symlinks refused, never
//! overwritten: a second run keeps the first run's passwords), never to stdout or the logs. A
//! password is recorded there *before* it is sent to the device (write-ahead), and a later run
//! tries the passwords recorded for a device after the configured accounts, so a device cut off
//! after `CommitChanges` or `SetMEBxPassword` can be provisioned again. Exit status: 0 every
//! session provisioned its device, 1 a session failed, 2 bad input.

use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use amt_wire::hello::DeviceUuid;
use anyhow::{Context as _, Result, bail};
use clap::Parser;
use provisioner_core::ca::EnterpriseCaModel;
use provisioner_core::clock::Clock as _;
use provisioner_core::directory::Directory;
use provisioner_core::env::{AmtAccount, Environment, ImportedComputer, ProvisioningCertRef};
use provisioner_core::events::{EventLog, Outcome};
use provisioner_core::io::logfiles::LogAppender;
use provisioner_core::io::pki::{load_enterprise_ca, read_provisioning_cert};
use provisioner_core::io::secrets::{self, SECRETS_FILE, SecretBlock, SecretsFile};
use provisioner_core::logs::ids;
use provisioner_core::logs::{LogConfig, Logs};
use provisioner_core::net::hello_listener::HelloListener;
use provisioner_core::net::{SystemClock, TcpConnector};
use provisioner_core::servicepoint::{Input, Mode, ServicePoint};
use provisioner_core::session::{self, SessionCtx, SessionResult};
use provisioner_core::tls::ClientIdentity;
use rand::SeedableRng as _;

/// The ConfigMgr 2007 out-of-band service point: provisions Intel AMT devices (TLS-PKI, digest,
/// stage 1 and stage 2) and writes ConfigMgr's log files.
#[derive(Debug, Parser)]
#[command(name = "amt-provision", version)]
struct Cli {
    /// Environment file (YAML): site, imported computers, accounts, AD, CA, stage-2 settings.
    /// Without it, the built-in defaults are used.
    #[arg(long, value_name = "FILE")]
    env: Option<PathBuf>,
    /// Provisioning certificate chain (PEM, leaf first, root last). Overrides the environment's.
    #[arg(long, value_name = "PEM")]
    chain: Option<PathBuf>,
    /// Private key of the provisioning certificate (PEM). Overrides the environment's.
    #[arg(long, value_name = "PEM")]
    key: Option<PathBuf>,
    /// AMT provisioning account `USER:PASS`, tried in the order given. Overrides the environment's.
    #[arg(long, value_name = "USER:PASS")]
    account: Vec<String>,
    /// Directory for the log files, events and the secrets file.
    #[arg(long, value_name = "DIR")]
    logs: PathBuf,
    /// Provision the device at this TLS address directly (no Hello).
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "listen")]
    device: Option<String>,
    /// UUID of the device given with --device (selects the imported computer).
    #[arg(long, value_name = "UUID", requires = "device")]
    uuid: Option<String>,
    /// FQDN to give the device given with --device when it is not in the environment.
    #[arg(long, value_name = "FQDN", requires = "device")]
    fqdn: Option<String>,
    /// Listen for Hellos on this address (the provisioning port is 9971).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
    /// With --listen: stop after the first provisioning session.
    #[arg(long, requires = "listen")]
    once: bool,
    /// Seed of the random generator (admin passwords, nonces); random when absent.
    #[arg(long)]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Everything loaded from files before any session runs.
struct Site {
    env: Environment,
    identities: Vec<ClientIdentity>,
    ca: EnterpriseCaModel,
    directory: Directory,
}

fn load(cli: &Cli) -> Result<Site> {
    let mut env = match &cli.env {
        Some(path) => {
            let text = provisioner_core::io::pki::read_text_limited(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let base = path.parent().unwrap_or_else(|| Path::new("."));
            Environment::from_yaml(&text, base).with_context(|| path.display().to_string())?
        }
        None => Environment::default(),
    };
    if !cli.account.is_empty() {
        env.accounts = cli
            .account
            .iter()
            .map(|a| {
                let (user, password) = a
                    .split_once(':')
                    .with_context(|| format!("--account {a:?} is not USER:PASS"))?;
                Ok(AmtAccount {
                    user: user.to_owned(),
                    password: password.to_owned(),
                })
            })
            .collect::<Result<_>>()?;
    }
    let mut refs = Vec::new();
    match (&cli.chain, &cli.key) {
        (Some(chain), Some(key)) => refs.push(ProvisioningCertRef {
            chain_pem: chain.clone(),
            key_pem: key.clone(),
        }),
        (None, None) => refs.clone_from(&env.provisioning_certificates),
        _ => bail!("--chain and --key go together"),
    }
    if cli.chain.is_some() {
        env.provisioning_certificates.clone_from(&refs);
    }
    let identities = refs
        .iter()
        .map(|r| {
            let cert = read_provisioning_cert(r)?;
            ClientIdentity::from_der(cert.chain_der, cert.key_der)
                .with_context(|| r.chain_pem.display().to_string())
        })
        .collect::<Result<Vec<_>>>()?;
    if identities.is_empty() {
        bail!("no provisioning certificate: give --chain and --key");
    }
    let ca = load_enterprise_ca(&env.enterprise_ca).context("enterprise CA")?;
    let directory = Directory::from_env(&env.active_directory);
    Ok(Site {
        env,
        identities,
        ca,
        directory,
    })
}

fn run(cli: &Cli) -> Result<bool> {
    let mut site = load(cli)?;
    std::fs::create_dir_all(&cli.logs)
        .with_context(|| format!("creating {}", cli.logs.display()))?;
    let mut rng = match cli.seed {
        Some(seed) => rand_chacha::ChaCha20Rng::seed_from_u64(seed),
        None => rand_chacha::ChaCha20Rng::from_os_rng(),
    };
    if let Some(device) = &cli.device {
        run_device(cli, &mut site, device, &mut rng)
    } else if let Some(listen) = cli.listen {
        run_listen(cli, site, listen, &mut rng)
    } else {
        bail!("give --device HOST:PORT or --listen ADDR:PORT")
    }
}

fn run_device(
    cli: &Cli,
    site: &mut Site,
    device: &str,
    rng: &mut rand_chacha::ChaCha20Rng,
) -> Result<bool> {
    let target = device
        .to_socket_addrs()
        .with_context(|| format!("resolving {device}"))?
        .next()
        .with_context(|| format!("{device} has no address"))?;
    let uuid = cli
        .uuid
        .as_deref()
        .map(DeviceUuid::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--uuid: {e}"))?;
    let computer = match uuid.and_then(|u| site.env.computer(&u).cloned()) {
        Some(c) => c,
        None if uuid.is_none() && cli.fqdn.is_none() && site.env.computers.len() == 1 => {
            site.env.computers.first().cloned().context("no computer")?
        }
        None => synthetic_computer(uuid, cli.fqdn.as_deref(), target)?,
    };
    let mut env = site.env.clone();
    for account in recovered_accounts(&cli.logs, &computer.uuid)? {
        if !env.accounts.contains(&account) {
            env.accounts.push(account);
        }
    }
    let mut journal = SecretsFile(cli.logs.join(SECRETS_FILE));
    let mut logs = Logs::new(LogConfig::default());
    let mut events = EventLog::new();
    let clock = SystemClock;
    let identity = site.identities.first().context("no identity")?;
    logs.emit(
        ids::PROVISION_START,
        &[
            ("uuid", &computer.uuid.to_string()),
            ("fqdn", &computer.fqdn),
            ("target", &target.to_string()),
            ("name", Mode::OutOfBand.name()),
            ("cert_id", "1"),
        ],
        clock.now(),
    )
    .context("log line")?;
    let result = session::provision(&mut SessionCtx {
        env: &env,
        computer: &computer,
        target,
        mode: Mode::OutOfBand,
        identity,
        cert_index: 0,
        connector: &mut TcpConnector,
        clock: &clock,
        logs: &mut logs,
        events: &mut events,
        directory: &mut site.directory,
        ca: &mut site.ca,
        rng,
        journal: Some(&mut journal),
    });
    record_secrets(&cli.logs, &result)?;
    LogAppender::new(&cli.logs)
        .and_then(|mut w| w.append(&logs, &events))
        .with_context(|| format!("writing logs to {}", cli.logs.display()))?;
    print_summary(&computer, &result, &cli.logs);
    Ok(result.outcome == Outcome::Provisioned)
}

/// An imported-computer record for a device given on the command line.
fn synthetic_computer(
    uuid: Option<DeviceUuid>,
    fqdn: Option<&str>,
    target: SocketAddr,
) -> Result<ImportedComputer> {
    let fqdn = fqdn
        .context("the device is not in the environment: give --fqdn (and --uuid)")?
        .to_owned();
    let name = fqdn
        .split('.')
        .next()
        .unwrap_or("AMT-DEVICE")
        .to_ascii_uppercase();
    let domain = fqdn
        .split_once('.')
        .map(|(_, d)| d.to_owned())
        .unwrap_or_default();
    let uuid = uuid.unwrap_or_else(|| DeviceUuid::from_canonical([0; 16]));
    // Through serde, so that fields added later keep their defaults.
    let value = serde_json::json!({
        "name": name, "uuid": uuid.to_string(), "fqdn": fqdn, "domain": domain,
        "tls_port": target.port(),
    });
    serde_json::from_value(value).context("building the computer record")
}

fn run_listen(
    cli: &Cli,
    mut site: Site,
    listen: SocketAddr,
    rng: &mut rand_chacha::ChaCha20Rng,
) -> Result<bool> {
    let roots: Vec<Vec<u8>> = site
        .identities
        .iter()
        .filter_map(|i| i.root().map(|r| r.as_ref().to_vec()))
        .collect();
    let mut sp = ServicePoint::with_root_certificates(
        site.env.clone(),
        &roots,
        Logs::new(LogConfig::default()),
    );
    for computer in &site.env.computers {
        let accounts = recovered_accounts(&cli.logs, &computer.uuid)?;
        sp.add_recovered_accounts(computer.uuid, accounts);
    }
    sp.set_journal(Box::new(SecretsFile(cli.logs.join(SECRETS_FILE))));
    let listener = HelloListener::bind(listen).with_context(|| format!("binding {listen}"))?;
    println!("listening for Hellos on {}", listener.local_addr());
    let _ = std::io::stdout().flush();
    let clock = SystemClock;
    let mut results: Vec<SessionResult> = Vec::new();
    let mut writer = LogAppender::new(&cli.logs)
        .with_context(|| format!("writing logs to {}", cli.logs.display()))?;
    loop {
        let Some(hello) = listener.recv_timeout(Duration::from_millis(500)) else {
            let _ = sp.handle(Input::Tick { now: clock.now() });
            continue;
        };
        // A malformed Hello is logged by the service point and dropped.
        let actions = sp.handle_hello_bytes(hello.from, &hello.bytes, clock.now());
        for action in &actions {
            let Some(result) = session::run_action(
                &mut sp,
                action,
                &site.identities,
                &mut TcpConnector,
                &clock,
                &mut site.directory,
                &mut site.ca,
                rng,
            ) else {
                continue;
            };
            // The passwords first: nothing the device accepted may be lost.
            record_secrets(&cli.logs, &result)?;
            if let Some(password) = &result.admin_password {
                let account = AmtAccount {
                    user: "admin".to_owned(),
                    password: password.clone(),
                };
                sp.add_recovered_accounts(result.uuid, vec![account]);
            }
            if let Some(computer) = site.env.computer(&result.uuid) {
                print_summary(computer, &result, &cli.logs);
            }
            results.push(result);
        }
        writer
            .append(sp.logs(), sp.events())
            .with_context(|| format!("writing logs to {}", cli.logs.display()))?;
        if cli.once && !results.is_empty() {
            return Ok(results.iter().all(|r| r.outcome == Outcome::Provisioned));
        }
    }
}

/// The accounts recorded for `device` in the secrets file of `dir` by earlier runs (newest
/// first; none for a device given by address only).
fn recovered_accounts(dir: &Path, device: &DeviceUuid) -> Result<Vec<AmtAccount>> {
    if device.canonical() == [0; 16] {
        return Ok(Vec::new());
    }
    let path = dir.join(SECRETS_FILE);
    secrets::recovered_accounts(&path, device)
        .with_context(|| format!("reading {}", path.display()))
}

/// Appends the passwords a session set to the secrets file (0600, never rewritten).
fn record_secrets(dir: &Path, result: &SessionResult) -> Result<()> {
    if result.admin_password.is_none() && result.mebx_password.is_none() {
        return Ok(());
    }
    let mut entries = Vec::new();
    if let Some(p) = &result.admin_password {
        entries.push(("admin_user".to_owned(), "admin".to_owned()));
        entries.push(("admin_password".to_owned(), p.clone()));
    }
    if let Some(p) = &result.mebx_password {
        entries.push(("mebx_password".to_owned(), p.clone()));
    }
    let block = SecretBlock {
        device: result.uuid.to_string(),
        note: None,
        entries,
    };
    let path = dir.join(SECRETS_FILE);
    secrets::append(&path, &block).with_context(|| format!("writing {}", path.display()))
}

fn print_summary(computer: &ImportedComputer, result: &SessionResult, dir: &Path) {
    let outcome = match result.outcome {
        Outcome::Provisioned => "provisioned",
        Outcome::Failed => "failed",
    };
    println!(
        "device {} ({}): outcome={outcome} amt_status={} failed_step={} amt_version={}",
        result.uuid,
        computer.fqdn,
        result.amt_status,
        result.failed_step.map_or("-", |s| s.name()),
        result.amt_version.as_deref().unwrap_or("?"),
    );
    if let Some(error) = &result.error {
        println!("  error: {error}");
    }
    if result.admin_password.is_some() || result.mebx_password.is_some() {
        println!(
            "  passwords stored in {}",
            dir.join("provisioning-secrets.txt").display()
        );
    }
}
