//! Our ConfigMgr 2007 site as the provisioning side of a run ([`ConfigMgrSite`]): the service
//! point, its provisioning certificates, directory and CA (built by [`crate::testbed::site`]),
//! the Hello delivery rule of the site's DNS, the `provision`, `in_band` and `remove` halves of the
//! flow, and what is observed of the site (sessions, logs, Hellos, wire summary, transcript,
//! read-back). It runs on any [`World`]: sessions connect through the world's connector on the
//! world's clock.
//!
//! With `environment.hierarchy`, the site is one of several ([`Hierarchy`], built at the world's
//! start): the service point runs at the hierarchy's out-of-band service point site and sees only
//! the computers imported there; each session's result is replicated to the parent site through
//! the signed despooler path; an in-band client whose policy is refused never acts.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use amt_sim::device::Device;
use amt_sim::hello::HelloTarget;
use amt_wire::hello::DeviceUuid;
use amt_wire::thumbprint::{HashAlgorithm, Thumbprint};
use amt_wire::time::Timestamp;
use provisioner_core::client_agent::{InBandStart, start_inband};
use provisioner_core::env::Environment;
use provisioner_core::events::ProvisionEvent;
use provisioner_core::logs::{LogFile, Severity};
use provisioner_core::servicepoint::{Action, Input, Mode};
use provisioner_core::session::{self, SessionResult};
use provisioner_core::site::{Command, Hierarchy, HierarchyConfig, PolicyState};
use rand::SeedableRng as _;

use super::driver::{ProvisioningSide, World, WorldEnd};
use super::error::RunError;
use super::readback;
use super::transcript::Transcript;
use crate::observe::{
    CertificatesObs, ClientObs, DeviceObs, HelloObs, LogObs, Observation, SessionObs, SiteObs,
    SiteStateObs, StatusObs,
};
use crate::testbed::site::{SiteParts, build_site};

/// What [`ConfigMgrSite::observe_hierarchy`] returns: sites, status messages, clients.
type HierarchyObs = (
    BTreeMap<String, SiteObs>,
    Vec<StatusObs>,
    BTreeMap<String, ClientObs>,
);

/// The ConfigMgr site provisioning a world's devices.
pub(crate) struct ConfigMgrSite {
    parts: SiteParts,
    rng: rand_chacha::ChaCha8Rng,
    results: Vec<SessionResult>,
    pending: Vec<Action>,
    notes: Vec<String>,
    /// The hierarchy's configuration until the hierarchy is built at the world's start.
    hierarchy_config: HierarchyConfig,
    hierarchy: Option<Hierarchy>,
    log_config: provisioner_core::logs::LogConfig,
}

impl ConfigMgrSite {
    /// The site of `env`, its random choices from `seed`.
    pub(crate) fn new(mut env: Environment, seed: u64) -> Result<Self, RunError> {
        let mut notes = Vec::new();
        let hierarchy_config = env.hierarchy.clone();
        if let Some(sp_site) = hierarchy_config
            .service_point_site()
            .map(|s| s.code.clone())
        {
            // The service point's site is the hierarchy's; computers imported at another site
            // never reach its service point.
            env.configmgr.site_code.clone_from(&sp_site);
            env.computers.retain(|c| match &c.imported_at {
                Some(at) if *at != sp_site => {
                    notes.push(format!(
                        "computer {} was imported at site {at}: it does not reach the out-of-band \
                         service point of site {sp_site}",
                        c.name
                    ));
                    false
                }
                _ => true,
            });
        }
        let log_config = env.logs.clone();
        Ok(Self {
            parts: build_site(env)?,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
            results: Vec::new(),
            pending: Vec::new(),
            notes,
            hierarchy_config,
            hierarchy: None,
            log_config,
        })
    }

    /// The hierarchy, built at `start` on first use (`None` without one).
    fn hierarchy(&mut self, start: Timestamp) -> Result<Option<&mut Hierarchy>, RunError> {
        if self.hierarchy.is_none() && !self.hierarchy_config.is_empty() {
            let h = Hierarchy::new(self.hierarchy_config.clone(), &self.log_config, start)
                .map_err(|e| RunError::Site(format!("{} ({})", e, e.id())))?;
            self.hierarchy = Some(h);
        }
        Ok(self.hierarchy.as_mut())
    }

    fn next_seed(&mut self) -> u64 {
        rand::RngCore::next_u64(&mut self.rng)
    }

    /// Runs the service point's actions through the world's connector on its clock.
    fn run_actions(&mut self, world: &mut dyn World, actions: &[Action]) {
        if let Err(e) = self.hierarchy(world.start()) {
            self.notes.push(e.to_string());
        }
        for action in actions {
            let mut connector = world.connector();
            let site = &mut self.parts;
            if let Some(result) = session::run_action(
                &mut site.sp,
                action,
                &site.identities,
                connector.as_mut(),
                world.clock(),
                &mut site.directory,
                &mut site.ca,
                &mut self.rng,
            ) {
                // The logs learn the passwords the session set before anything renders them.
                if let Some(p) = &result.admin_password {
                    site.sp.logs_mut().register_secret(p);
                }
                if let Some(p) = &result.mebx_password {
                    site.sp.logs_mut().register_secret(p);
                }
                if let Some(h) = self.hierarchy.as_mut() {
                    h.replicate_amt_status(result.uuid, result.amt_status, world.clock().now());
                }
                self.results.push(result);
            }
        }
    }

    /// The client agent's start of the in-band path for `uuid`, given the active hashes the
    /// device reported over HECI. `None` (with a note) when the device is not imported or the
    /// agent refuses (`client-refused:<id>`).
    fn in_band_start(
        &mut self,
        uuid: DeviceUuid,
        hashes: &[Thumbprint],
        now: Timestamp,
    ) -> Option<InBandStart> {
        let roots: Vec<Thumbprint> = self
            .parts
            .identities
            .iter()
            .filter_map(|i| i.root_thumbprint(HashAlgorithm::Sha256))
            .collect();
        let Some(computer) = self.parts.sp.env().computer(&uuid).cloned() else {
            self.notes
                .push(format!("in_band: {uuid} is not imported: no client agent"));
            return None;
        };
        if let Some(h) = self.hierarchy.as_mut() {
            // The client evaluates its policy first: a refused policy carries no automatic AMT
            // provisioning policy, so the client does nothing (seed 003's AMT link).
            h.policy_cycle_for(&computer.name, now);
            if h.client_has_policy(&computer.name) == Some(false) {
                self.notes
                    .push("client-refused:client/policy-refused".to_owned());
                return None;
            }
        }
        let sp = &mut self.parts.sp;
        match start_inband(&computer, &roots, hashes, &mut self.rng, sp.logs_mut(), now) {
            Ok(s) => Some(s),
            Err(e) => {
                self.notes.push(format!("client-refused:{}", e.id()));
                None
            }
        }
    }

    /// What the hierarchy shows: each site, the status messages, the clients.
    fn observe_hierarchy(&self, first: Option<DeviceUuid>) -> HierarchyObs {
        let mut sites = BTreeMap::new();
        let mut status = Vec::new();
        let mut clients = BTreeMap::new();
        let Some(h) = self.hierarchy.as_ref() else {
            return (sites, status, clients);
        };
        for (code, s) in h.sites() {
            let mut logs = BTreeMap::new();
            for file in LogFile::ALL {
                let messages = s.logs().messages(file);
                if !messages.is_empty() {
                    logs.insert(
                        file,
                        LogObs {
                            messages,
                            lines: s.logs().lines(file),
                            ids: s.logs().ids(file).into_iter().map(str::to_owned).collect(),
                        },
                    );
                }
            }
            sites.insert(
                code.clone(),
                SiteObs {
                    logs,
                    receive_now: s.receive_box().len(),
                    receive_max: s.max_receive(),
                    deleted: s.deleted(),
                    executed: s.executed(),
                    keys: s.known_keys().keys().cloned().collect(),
                    device_status: first.and_then(|u| s.amt_records().get(&u).copied()),
                    policies_resigned: s.policies_resigned(),
                    policy_errors: s.policy_errors_reported(),
                    drive_root: s.drive_root().iter().map(|f| f.name.clone()).collect(),
                },
            );
        }
        for m in h.status_messages() {
            status.push(StatusObs {
                site: m.site.clone(),
                component: m.component.clone(),
                id: m.id,
                severity: match m.severity {
                    Severity::Info => "info",
                    Severity::Warning => "warning",
                    Severity::Error => "error",
                }
                .to_owned(),
                istr: m.istr.clone(),
            });
        }
        for (name, c) in h.clients() {
            clients.insert(
                name.clone(),
                ClientObs {
                    policy: match c.policy {
                        PolicyState::Accepted => "accepted",
                        PolicyState::Refused => "refused",
                    }
                    .to_owned(),
                    managed: c.managed,
                    reported_errors: c.reported_errors,
                    allowed_root: c.pin().map(str::to_owned),
                },
            );
        }
        (sites, status, clients)
    }

    /// The device's end state over WS-MAN, trying the password the site set for `uuid`, the
    /// site's MEBx password and the device's own passwords.
    fn read_back(&mut self, world: &mut dyn World, index: usize) -> Option<DeviceObs> {
        let uuid = world.uuid(index).ok()?;
        let (http, tls) = world.targets(index).ok()?;
        let admin = self.parts.sp.admin_password(&uuid).map(str::to_owned);
        let mut mebx = vec![self.parts.sp.env().mebx_password.clone()];
        mebx.extend(world.device_passwords(index));
        let seed = self.next_seed();
        let mut connector = world.connector();
        Some(readback::read_state(
            connector.as_mut(),
            http,
            tls,
            admin.as_deref(),
            &mebx,
            seed,
        ))
    }
}

impl ProvisioningSide for ConfigMgrSite {
    fn start_up(&mut self, world: &mut dyn World) -> Result<(), RunError> {
        let now = world.clock().now();
        let actions = self.parts.sp.handle(Input::Tick { now });
        self.run_actions(world, &actions);
        Ok(())
    }

    /// An address always reaches the site; a name only when it is the site's ProvisionServer
    /// alias and the site's DNS resolves it.
    fn reaches(&self, target: &HelloTarget) -> bool {
        let resolvable = self.parts.sp.env().dns.provision_server_resolvable();
        match target {
            HelloTarget::Address(_) => true,
            HelloTarget::Name(name, _) => {
                resolvable && name.to_ascii_lowercase().starts_with("provisionserver.")
            }
        }
    }

    fn hello(&mut self, from: SocketAddr, bytes: &[u8], now: Timestamp) {
        let actions = self.parts.sp.handle_hello_bytes(from, bytes, now);
        self.pending.extend(actions);
    }

    fn flush(&mut self, world: &mut dyn World) -> Result<(), RunError> {
        let actions = std::mem::take(&mut self.pending);
        self.run_actions(world, &actions);
        Ok(())
    }

    /// The out-of-band session from the imported record (no Hello), towards its recorded wired
    /// address or else the device's.
    fn provision(&mut self, world: &mut dyn World, index: usize) -> Result<(), RunError> {
        let uuid = world.uuid(index)?;
        let Some(computer) = self.parts.sp.env().computer(&uuid).cloned() else {
            self.notes
                .push(format!("provision: {uuid} is not imported: nothing to do"));
            return Ok(());
        };
        let ip = computer
            .wired_ip
            .or_else(|| world.address(index))
            .ok_or_else(|| RunError::Address("no device address".to_owned()))?;
        let action = Action::Provision {
            uuid,
            target: SocketAddr::new(ip, computer.tls_port),
            fqdn: computer.fqdn.clone(),
            mode: Mode::OutOfBand,
            cert_index: 0,
        };
        self.run_actions(world, &[action]);
        Ok(())
    }

    /// The client agent reads the active hashes over HECI, hands the device its OTP and opens
    /// the network interface; the site server receives the request.
    fn in_band(&mut self, world: &mut dyn World, index: usize) -> Result<(), RunError> {
        let now = world.clock().now();
        let mut hashes = Vec::new();
        world.with_device(index, &mut |d: &mut Device| {
            hashes = d
                .heci_get_hashes(now)
                .map_err(|e| RunError::Heci(e.to_string()))?
                .into_iter()
                .filter(|h| h.active)
                .map(|h| h.thumbprint)
                .collect();
            Ok(())
        })?;
        let uuid = world.uuid(index)?;
        self.hierarchy(world.start())?;
        let Some(start) = self.in_band_start(uuid, &hashes, now) else {
            return Ok(());
        };
        world.with_device(index, &mut |d: &mut Device| {
            d.heci_set_otp(&start.otp, now)
                .and_then(|()| d.heci_start_configuration(now))
                .map_err(|e| RunError::Heci(e.to_string()))
        })?;
        let actions = self.parts.sp.handle(Input::InBandRequest {
            uuid: start.request.uuid,
            otp_hash: start.request.otp_hash,
            now,
        });
        self.run_actions(world, &actions);
        Ok(())
    }

    /// `full`: the console's "Remove provisioning data" (revoking the web certificate of the
    /// device's last session); `partial`: the admin's local `PartialUnprovision`.
    fn remove(
        &mut self,
        world: &mut dyn World,
        index: usize,
        kind: crate::scenario::RemovalKind,
    ) -> Result<(), RunError> {
        let uuid = world.uuid(index)?;
        match kind {
            crate::scenario::RemovalKind::Full => {
                let now = world.clock().now();
                let serial = self
                    .results
                    .iter()
                    .rev()
                    .find(|r| r.uuid == uuid)
                    .and_then(|r| r.web_cert_serial.clone());
                let site = &mut self.parts;
                let actions = site.sp.remove_provisioning(
                    &uuid,
                    &mut site.directory,
                    &mut site.ca,
                    serial.as_deref(),
                    now,
                );
                self.run_actions(world, &actions);
            }
            crate::scenario::RemovalKind::Partial => {
                let password = self.parts.sp.admin_password(&uuid).map(str::to_owned);
                let (_, tls) = world.targets(index)?;
                let env = self.parts.sp.env().clone();
                let seed = self.next_seed();
                let mut connector = world.connector();
                if let Err(e) = readback::partial_unprovision(
                    connector.as_mut(),
                    tls,
                    password.as_deref(),
                    &env,
                    seed,
                ) {
                    self.notes.push(format!("remove partial: {e}"));
                }
            }
        }
        Ok(())
    }

    fn site(&mut self, world: &mut dyn World, command: &Command) -> Result<(), RunError> {
        let now = world.clock().now();
        let Some(h) = self.hierarchy(world.start())? else {
            return Err(RunError::Site(
                "the environment has no hierarchy (environment.hierarchy.sites)".to_owned(),
            ));
        };
        h.apply(command, now)
            .map_err(|e| RunError::Site(format!("{e} ({})", e.id())))
    }

    fn site_due(&self) -> Option<Timestamp> {
        self.hierarchy.as_ref().and_then(Hierarchy::next_due)
    }

    /// The first call (before the first step) builds the hierarchy at the run's start.
    fn site_advance(&mut self, now: Timestamp) {
        match self.hierarchy(now) {
            Ok(Some(h)) => h.advance(now),
            Ok(None) => {}
            Err(e) => self.notes.push(e.to_string()),
        }
    }

    fn observe(
        &mut self,
        world: &mut dyn World,
        hellos: &HelloObs,
        end: &WorldEnd,
        notes: Vec<String>,
    ) -> Observation {
        let site_obs = self.observe_hierarchy(world.uuid(0).ok());
        let sp = &self.parts.sp;
        let mut obs = Observation::default();
        for note in std::mem::take(&mut self.notes).into_iter().chain(notes) {
            if let Some(id) = note.strip_prefix("client-refused:") {
                obs.client_refusal = Some(id.to_owned());
            } else {
                obs.notes.push(note);
            }
        }
        obs.sessions = self
            .results
            .iter()
            .map(|r| SessionObs {
                uuid: r.uuid.to_string(),
                outcome: r.outcome,
                failed_step: r.failed_step,
                amt_status: r.amt_status,
                error: r.error.as_ref().map(ToString::to_string),
                cause: r.error.as_ref().map(|e| e.id().to_owned()),
            })
            .collect();
        let first = world.uuid(0).ok();
        obs.amt_status = first.as_ref().map(|u| sp.status(u));
        obs.hellos = hellos.clone();
        obs.hellos.discarded = sp
            .events()
            .events()
            .filter(|e| matches!(e, ProvisionEvent::HelloDiscarded { .. }))
            .count();
        super::fill_logs(&mut obs, sp.logs());
        super::fill_wire(&mut obs, &end.events);
        let start = world.start();
        let mut transcript = Transcript::new(start);
        transcript.add_service_point(&sp.events().0);
        transcript.add_device(&end.events);
        transcript.add_logs(sp.logs());
        let mut secrets: Vec<String> = sp.env().secrets().map(str::to_owned).collect();
        for r in &self.results {
            secrets.extend(r.admin_password.clone());
            secrets.extend(r.mebx_password.clone());
        }
        obs.transcript = transcript.render(&secrets);
        obs.events.site = sp
            .events()
            .events()
            .filter_map(|e| serde_json::to_value(e).ok())
            .collect();
        redact_events(&mut obs.events.site, &secrets);
        redact_events(&mut obs.events.device, &secrets);
        obs.site = SiteStateObs {
            ad_accounts: self
                .parts
                .directory
                .accounts()
                .map(|a| a.sam.clone())
                .collect(),
            certificates_issued: self
                .parts
                .ca
                .issued()
                .iter()
                .map(|c| c.serial.clone())
                .collect(),
            certificates_revoked: self
                .parts
                .ca
                .issued()
                .iter()
                .filter(|c| self.parts.ca.is_revoked(&c.serial))
                .map(|c| c.serial.clone())
                .collect(),
        };
        obs.elapsed = world.clock().now().saturating_duration_since(start);
        let ca = &self.parts.ca;
        let db = ca.site_database();
        obs.certificates = CertificatesObs {
            issued: ca.issued().len(),
            published: db.published().len(),
            unpublished: ca
                .issued()
                .iter()
                .filter(|c| !db.is_published(&c.serial))
                .map(|c| c.serial.clone())
                .collect(),
        };
        (obs.sites, obs.status_messages, obs.clients) = site_obs;
        // Device 0's end state over WS-MAN (its own events are not part of the run).
        obs.device = self.read_back(world, 0);
        obs
    }
}

/// Replaces every secret the run knows in `events` (as in the transcript): each event's JSON
/// text is redacted and read back; an event that no longer parses is kept as its redacted text.
fn redact_events(events: &mut [serde_json::Value], secrets: &[String]) {
    for event in events {
        let text = event.to_string();
        let redacted = super::transcript::redact(&text, secrets);
        if redacted != text {
            *event = serde_json::from_str(&redacted).unwrap_or(serde_json::Value::String(redacted));
        }
    }
}

/// The address a Hello from device `index` comes from in process: its wired address, or the
/// loopback address when it has none.
pub(crate) fn hello_source(address: Option<IpAddr>) -> SocketAddr {
    SocketAddr::new(address.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)), 50_000)
}
