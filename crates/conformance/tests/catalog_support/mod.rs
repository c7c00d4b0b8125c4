//! Shared harness of `tests/provisioner_catalog.rs`: one simulated site (service point, site server, AD, CA)
//! and one `amt_sim` device on an in-process network, both built from the YAML files under
//! `crates/conformance/tests/provisioner_catalog_data/`, driven on a virtual clock through Hello → service point → session, the
//! in-band client-agent path, or the removal path.
//!
//! Paths inside the YAML files are relative to the repository root (both loaders get it as their
//! `base_dir`), so `certs/prov-root4096.chain.pem` names the committed test PKI.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use amt_sim::device::Device;
use amt_sim::events::EventKind;
use amt_sim::hello::HelloTarget;
use amt_sim::profile::DeviceProfile;
use amt_wire::hello::HelloPacket;
use amt_wire::thumbprint::{HashAlgorithm, Thumbprint};
use amt_wire::time::Timestamp;
use conformance::testbed::SimNetwork;
use provisioner_core::ca::EnterpriseCaModel;
use provisioner_core::client_agent::{ClientAgentError, start_inband};
use provisioner_core::clock::{Clock as _, VirtualClock};
use provisioner_core::directory::Directory;
use provisioner_core::env::Environment;
use provisioner_core::events::{ProvisionEvent, Step};
use provisioner_core::logs::{LogFile, Logs};
use provisioner_core::servicepoint::{Action, Input, ServicePoint};
use provisioner_core::session::{self, SessionResult};
use provisioner_core::tls::ClientIdentity;
use rand::SeedableRng as _;

/// Test error type.
pub(crate) type BoxError = Box<dyn std::error::Error>;

/// 2027-01-15 08:00:00 UTC = 01-15-2027 00:00:00.000 at the default bias +480.
pub(crate) const T0: Timestamp = Timestamp::from_unix_millis(1_800_000_000_000);

/// The repository root.
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn catalog_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/provisioner_catalog_data")
}

/// Reads `crates/conformance/tests/provisioner_catalog_data/<file>`.
pub(crate) fn read_catalog_file(file: &str) -> Result<String, BoxError> {
    let path = catalog_dir().join(file);
    std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()).into())
}

/// `crates/conformance/tests/provisioner_catalog_data/<name>.env.yaml` through [`Environment::from_yaml`].
pub(crate) fn load_env(name: &str) -> Result<Environment, BoxError> {
    let text = read_catalog_file(&format!("{name}.env.yaml"))?;
    Ok(Environment::from_yaml(&text, &repo_root())?)
}

/// `crates/conformance/tests/provisioner_catalog_data/<name>.device.yaml` through [`DeviceProfile::from_yaml`]; the default profile
/// when the file does not exist.
pub(crate) fn load_profile(name: &str) -> Result<DeviceProfile, BoxError> {
    let path = catalog_dir().join(format!("{name}.device.yaml"));
    if !path.exists() {
        return Ok(DeviceProfile::default());
    }
    let text = std::fs::read_to_string(&path)?;
    Ok(DeviceProfile::from_yaml(&text, &repo_root())?)
}

/// What happened to one Hello the device sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HelloFate {
    /// It reached the service point (target address or a name DNS resolves).
    Delivered,
    /// Its target is a name DNS does not resolve (`ProvisionServer.<suffix>` not registered).
    Unresolved(String),
}

/// One site and one device.
pub(crate) struct Site {
    /// The virtual clock everything runs on.
    pub(crate) clock: VirtualClock,
    /// The in-process network holding the device (index 0).
    pub(crate) net: SimNetwork,
    /// The service point (and site-server logs).
    pub(crate) sp: ServicePoint,
    /// Loaded provisioning certificates, in environment order.
    pub(crate) identities: Vec<ClientIdentity>,
    /// Active Directory model.
    pub(crate) directory: Directory,
    /// Enterprise CA model.
    pub(crate) ca: EnterpriseCaModel,
    /// Randomness.
    pub(crate) rng: rand_chacha::ChaCha8Rng,
    /// Session results, in order.
    pub(crate) results: Vec<SessionResult>,
    /// Every Hello the device emitted and what became of it.
    pub(crate) hellos: Vec<HelloFate>,
}

impl Site {
    /// The site of catalog entry `name`: `<name>.env.yaml` and (optional) `<name>.device.yaml`.
    pub(crate) fn load(name: &str) -> Result<Self, BoxError> {
        Self::new(load_env(name)?, load_profile(name)?)
    }

    /// A site from an environment and a device profile, clock at [`T0`].
    pub(crate) fn new(env: Environment, profile: DeviceProfile) -> Result<Self, BoxError> {
        let clock = VirtualClock::new(T0);
        let net = SimNetwork::new(clock.clone());
        let device = Device::new(profile, None, 7, clock.now())?;
        net.add_device(device);
        let mut identities = Vec::new();
        for cert in &env.provisioning_certificates {
            let chain = std::fs::read(&cert.chain_pem)?;
            let key = std::fs::read(&cert.key_pem)?;
            identities.push(ClientIdentity::from_pem(&chain, &key)?);
        }
        let roots: Vec<Vec<u8>> = identities
            .iter()
            .filter_map(|i| i.root().map(|r| r.as_ref().to_vec()))
            .collect();
        let mut ca = EnterpriseCaModel::test_default()?;
        let mut ca_config = ca.config().clone();
        ca_config.deny = env.enterprise_ca.deny;
        ca_config.crl_reachable = env.enterprise_ca.crl_reachable;
        ca_config.revocation_denied = env.enterprise_ca.revocation_denied;
        ca.set_config(ca_config);
        let directory = Directory::from_env(&env.active_directory);
        let logs = Logs::new(env.logs.clone());
        let sp = ServicePoint::with_root_certificates(env, &roots, logs);
        Ok(Self {
            clock,
            net,
            sp,
            identities,
            directory,
            ca,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(2007),
            results: Vec::new(),
            hellos: Vec::new(),
        })
    }

    /// The device's wired address.
    pub(crate) fn device_ip(&self) -> IpAddr {
        self.net
            .address(0)
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// Start-up of the service point (`Input::Tick` at the current time).
    pub(crate) fn start_up(&mut self) {
        let now = self.clock.now();
        self.sp.handle(Input::Tick { now });
    }

    /// Delivers the Hellos due now (DNS decides whether a name target reaches the service point)
    /// and runs every session the service point asks for. Returns the actions.
    pub(crate) fn hello_round(&mut self) -> Result<Vec<Action>, BoxError> {
        let now = self.clock.now();
        let resolvable = self.sp.env().dns.provision_server_resolvable();
        let mut actions = Vec::new();
        for (index, beacon) in self.net.poll_hellos(now) {
            let delivered = match &beacon.target {
                HelloTarget::Address(_) => true,
                HelloTarget::Name(name, _) => {
                    resolvable && name.to_ascii_lowercase().starts_with("provisionserver.")
                }
            };
            if !delivered {
                self.hellos
                    .push(HelloFate::Unresolved(beacon.target.to_string()));
                continue;
            }
            self.hellos.push(HelloFate::Delivered);
            let packet = HelloPacket::parse(&beacon.bytes)?;
            let from = SocketAddr::new(self.net.address(index).ok_or("no address")?, 50_000);
            actions.extend(self.sp.handle(Input::Hello { from, packet, now }));
        }
        self.run_actions(&actions);
        Ok(actions)
    }

    /// Runs `actions`: provisioning sessions (results kept) and removals (`Action::Unprovision`).
    pub(crate) fn run_actions(&mut self, actions: &[Action]) {
        for action in actions {
            let mut connector = self.net.clone();
            if let Some(result) = session::run_action(
                &mut self.sp,
                action,
                &self.identities,
                &mut connector,
                &self.clock,
                &mut self.directory,
                &mut self.ca,
                &mut self.rng,
            ) {
                self.results.push(result);
            }
        }
    }

    /// Hello rounds over the first `span` of the device's schedule.
    pub(crate) fn hellos_for(&mut self, span: Duration) -> Result<Vec<Action>, BoxError> {
        let end = self.clock.now() + span;
        let mut actions = self.hello_round()?;
        while let Some(due) = self.net.next_hello_due() {
            if due > end {
                break;
            }
            self.clock.advance_to(due);
            actions.extend(self.hello_round()?);
        }
        Ok(actions)
    }

    /// The in-band path: the client agent reads the device hashes over HECI and checks them
    /// (lines to oobmgmt.log, i.e. the service point's `Logs`); on success the OTP goes to the
    /// device, the network interface opens, and the site server gets the request. Runs the
    /// resulting sessions. `Err` is the client agent's refusal.
    pub(crate) fn in_band(&mut self) -> Result<Result<Vec<Action>, ClientAgentError>, BoxError> {
        let now = self.clock.now();
        let hashes: Vec<Thumbprint> = self
            .net
            .with_device(0, |d| d.heci_get_hashes(now))
            .ok_or("no device")?
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|h| h.active)
            .map(|h| h.thumbprint)
            .collect();
        let roots: Vec<Thumbprint> = self
            .identities
            .iter()
            .filter_map(|i| i.root_thumbprint(HashAlgorithm::Sha256))
            .collect();
        let computer = self
            .sp
            .env()
            .computers
            .first()
            .cloned()
            .ok_or("no computer")?;
        let start = match start_inband(
            &computer,
            &roots,
            &hashes,
            &mut self.rng,
            self.sp.logs_mut(),
            now,
        ) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        self.net
            .with_device(0, |d| {
                d.heci_set_otp(&start.otp, now)
                    .and_then(|()| d.heci_start_configuration(now))
                    .map_err(|e| e.to_string())
            })
            .ok_or("no device")??;
        let actions = self.sp.handle(Input::InBandRequest {
            uuid: start.request.uuid,
            otp_hash: start.request.otp_hash,
            now,
        });
        self.run_actions(&actions);
        Ok(Ok(actions))
    }

    /// Messages of one log file.
    pub(crate) fn messages(&self, file: LogFile) -> Vec<String> {
        self.sp.logs().messages(file)
    }

    /// Framed lines of one log file.
    pub(crate) fn lines(&self, file: LogFile) -> Vec<String> {
        self.sp.logs().lines(file)
    }

    /// The only session result.
    pub(crate) fn result(&self) -> Result<&SessionResult, BoxError> {
        match self.results.as_slice() {
            [one] => Ok(one),
            other => Err(format!("expected one session, got {}", other.len()).into()),
        }
    }

    /// The failing step of the only session.
    pub(crate) fn failed_step(&self) -> Result<Option<Step>, BoxError> {
        Ok(self.result()?.failed_step)
    }

    /// The device's provisioning state (`Pre`, `In`, `Post`).
    pub(crate) fn device_state(&self) -> String {
        self.net
            .with_device(0, |d| format!("{:?}", d.provisioning_state()))
            .unwrap_or_default()
    }

    /// Drains the device's events.
    pub(crate) fn device_events(&self) -> Vec<EventKind> {
        self.net
            .with_device(0, |d| d.drain_events())
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    /// The service point's provisioning events.
    pub(crate) fn sp_events(&self) -> Vec<ProvisionEvent> {
        self.sp.events().events().cloned().collect()
    }
}

/// Refusal ids of the device's TLS handshakes (`None` entries: accepted handshakes).
pub(crate) fn tls_refusals(events: &[EventKind]) -> Vec<Option<String>> {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::TlsHandshake { refusal, .. } => Some(refusal.map(|r| r.id().to_owned())),
            _ => None,
        })
        .collect()
}

/// Number of HTTP requests the device answered.
pub(crate) fn http_requests(events: &[EventKind]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, EventKind::HttpRequest { .. }))
        .count()
}

/// The SMS trace suffix of an amtopmgr.log line at `date_time` with the default framing.
pub(crate) fn op_suffix(date_time: &str) -> String {
    format!("  $$<SMS_AMT_OPERATION_MANAGER><{date_time}+480><thread=2880 (0x0B40)>")
}

/// The SMS trace suffix of an amtproxymgr.log line at `date_time` with the default framing.
pub(crate) fn proxy_suffix(date_time: &str) -> String {
    format!("  $$<SMS_AMT_PROXY_COMPONENT><{date_time}+480><thread=2632 (0x0A48)>")
}
