//! The virtual AMT device (sans-IO): profile, NVRAM state, WS-MAN engine, digest nonces, Hello
//! beacons, faults, RNG, optional state store and event buffer. Time is always passed in; the
//! shells (in-process runner, tokio network shell) drive it and move the bytes.
//!
//! Connections are [`crate::conn::DeviceConnection`]s made by [`Device::accept`]. The local host
//! interface (HECI/MEI) used by the in-band ConfigMgr client is a set of plain methods
//! (`heci_*`), see `PROFILE.md`.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use amt_wire::hello::DeviceUuid;
use amt_wire::time::Timestamp;
use rand::{RngCore as _, SeedableRng};
use rand_chacha::ChaCha20Rng;
use thiserror::Error;

use crate::auth::DigestServer;
use crate::conn::DeviceConnection;
use crate::events::{DeviceEvent, EventKind};
use crate::faults::{FaultMatcher, Step};
use crate::hello::{BeaconState, HelloBeacon, Interface};
use crate::io::store::{StateStore, StoreError};
use crate::keypool;
use crate::personality::PersonalityTraits;
use crate::profile::{DeviceProfile, InitialState, ProfileError, ProvisioningMode};
use crate::state::{
    AdminAcl, NvramState, ProvisioningState, StoredCertificate, StoredKeyPair, TlsSetting,
};
use crate::tls::{DeviceIdentity, TlsError};
use crate::wsman::{
    DeviceFacts, Engine, HashFact, NetInterface, Note, Outcome, Quirks, RequestContext, Session,
};
use amt_wire::wsman::Envelope;

/// Most events buffered between two [`Device::drain_events`] calls (oldest dropped beyond).
pub const MAX_BUFFERED_EVENTS: usize = 4096;
/// Validity of the device's self-signed setup certificate, in days (from the device clock).
pub const SELF_SIGNED_VALIDITY_DAYS: u32 = 7305;

/// Errors creating a device.
#[derive(Debug, Error)]
pub enum DeviceError {
    /// The profile is invalid.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The saved state could not be loaded (a corrupt store is never silently reset).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The management certificate of a profile-declared post-provisioning device could not be
    /// made.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

impl DeviceError {
    /// Stable id.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Profile(e) => e.id(),
            Self::Store(e) => e.id(),
            Self::Tls(e) => e.id(),
        }
    }
}

/// Why a TCP connection was refused (the shell resets or never accepts it).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ConnectRefused {
    /// Nothing listens on that port.
    #[error("no listener on port {0}")]
    NoListener(u16),
    /// A fault closes the port.
    #[error("port {0} closed by a fault")]
    PortFault(u16),
    /// The wired link is down.
    #[error("the wired link is down")]
    NoWiredLink,
    /// Setup (or anything before provisioning) over the wireless interface.
    #[error("configuration sessions are not supported over wireless")]
    Wireless,
    /// Only the wireless address answers (fault).
    #[error("only the wireless address answers")]
    WiredClosed,
    /// The TLS port is closed in this state (not PKI mode, TLS not enabled after provisioning).
    #[error("TLS port closed: {0}")]
    TlsClosed(&'static str),
    /// The plain HTTP port is closed (TLS enforced after provisioning).
    #[error("plain HTTP port closed: TLS required")]
    PlainClosed,
    /// The TLS configuration could not be built.
    #[error("TLS configuration failed: {0}")]
    Tls(String),
    /// No local host interface: the host has no HECI/MEI driver.
    #[error("no local host interface (no HECI driver)")]
    NoHostInterface,
}

impl ConnectRefused {
    /// Stable id.
    pub fn id(&self) -> &'static str {
        self.kind().id()
    }

    /// The refusal's kind (the variant without its details).
    pub fn kind(&self) -> ConnectRefusalKind {
        match self {
            Self::NoListener(_) => ConnectRefusalKind::NoListener,
            Self::PortFault(_) => ConnectRefusalKind::PortFault,
            Self::NoWiredLink => ConnectRefusalKind::NoWiredLink,
            Self::Wireless => ConnectRefusalKind::Wireless,
            Self::WiredClosed => ConnectRefusalKind::WiredClosed,
            Self::TlsClosed(_) => ConnectRefusalKind::TlsClosed,
            Self::PlainClosed => ConnectRefusalKind::PlainClosed,
            Self::Tls(_) => ConnectRefusalKind::TlsConfig,
            Self::NoHostInterface => ConnectRefusalKind::NoHostInterface,
        }
    }
}

/// The kind of a refused TCP connection, named by its stable id (`connect/wireless`): what
/// device events carry.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ConnectRefusalKind {
    /// Nothing listens on that port.
    #[serde(rename = "connect/no-listener")]
    NoListener,
    /// A fault closes the port.
    #[serde(rename = "connect/port-fault")]
    PortFault,
    /// The wired link is down.
    #[serde(rename = "connect/no-wired-link")]
    NoWiredLink,
    /// A configuration session over wireless.
    #[serde(rename = "connect/wireless")]
    Wireless,
    /// Only the wireless address answers.
    #[serde(rename = "connect/wired-closed")]
    WiredClosed,
    /// The TLS port is closed in this state.
    #[serde(rename = "connect/tls-closed")]
    TlsClosed,
    /// The plain HTTP port is closed.
    #[serde(rename = "connect/plain-closed")]
    PlainClosed,
    /// The TLS configuration could not be built.
    #[serde(rename = "connect/tls-config")]
    TlsConfig,
    /// No local host interface.
    #[serde(rename = "connect/no-host-interface")]
    NoHostInterface,
}

impl ConnectRefusalKind {
    /// Stable id.
    pub fn id(self) -> &'static str {
        match self {
            Self::NoListener => "connect/no-listener",
            Self::PortFault => "connect/port-fault",
            Self::NoWiredLink => "connect/no-wired-link",
            Self::Wireless => "connect/wireless",
            Self::WiredClosed => "connect/wired-closed",
            Self::TlsClosed => "connect/tls-closed",
            Self::PlainClosed => "connect/plain-closed",
            Self::TlsConfig => "connect/tls-config",
            Self::NoHostInterface => "connect/no-host-interface",
        }
    }
}

/// Errors of the local host interface.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum HeciError {
    /// No HECI/MEI driver on the host.
    #[error("the HECI driver is not present")]
    NoDriver,
    /// The call is not allowed in the current provisioning state.
    #[error("not allowed in provisioning state {0:?}")]
    InvalidState(ProvisioningState),
    /// Remote configuration is not in PKI mode.
    #[error("the device is not in PKI mode")]
    NotPkiMode,
    /// OTP length outside 8–32 bytes.
    #[error("OTP must be 8 to 32 bytes, got {0}")]
    OtpLength(usize),
    /// The change could not be written to NVRAM (nothing changed).
    #[error("internal error: the NVRAM write failed")]
    StoreFailed,
}

/// Which listener a connection came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortKind {
    /// Plain HTTP (16992).
    Http,
    /// TLS (16993).
    Tls,
}

/// Where a device's random numbers (digest realm, nonce key and nonces, configuration nonce,
/// key-pool slot, generated codes) come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Randomness {
    /// The operating system's RNG: what a real device does, and the default of `serve`/`fleet`.
    Os,
    /// A ChaCha20 stream from this seed, so that scenario and test runs repeat exactly.
    Seeded(u64),
}

/// The virtual device.
pub struct Device {
    profile: DeviceProfile,
    traits: PersonalityTraits,
    facts: DeviceFacts,
    uuid: DeviceUuid,
    uuid_text: String,
    pub(crate) state: NvramState,
    pub(crate) engine: Engine,
    pub(crate) digest: DigestServer,
    beacons: BeaconState,
    pub(crate) faults: FaultMatcher,
    pub(crate) rng: ChaCha20Rng,
    store: Option<StateStore>,
    events: VecDeque<DeviceEvent>,
    start_host: Timestamp,
    clock_start: Timestamp,
    pool_index: usize,
    setup_identity: Option<DeviceIdentity>,
    hello_stopped_reported: bool,
    http_port: u16,
    tls_port: u16,
    seed: u64,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("uuid", &self.uuid_text)
            .field("state", &self.state.provisioning_state())
            .finish_non_exhaustive()
    }
}

impl Device {
    /// A device from `profile`: loads persisted state from `store` if any, else factory state
    /// (from the profile's `provisioning` section). `seed` drives every random choice (realm,
    /// nonces, key pool slot), for reproducible runs; `now` is the host time the device starts.
    /// Real-socket servers use [`Self::with_randomness`] with [`Randomness::Os`].
    pub fn new(
        profile: DeviceProfile,
        store: Option<StateStore>,
        seed: u64,
        now: Timestamp,
    ) -> Result<Self, DeviceError> {
        Self::with_randomness(profile, store, Randomness::Seeded(seed), now)
    }

    /// A device whose random numbers come from `randomness`: the OS RNG (realm and nonce key
    /// unpredictable and different on every start) or a seed.
    pub fn with_randomness(
        profile: DeviceProfile,
        store: Option<StateStore>,
        randomness: Randomness,
        now: Timestamp,
    ) -> Result<Self, DeviceError> {
        let (mut rng, seed) = match randomness {
            Randomness::Seeded(seed) => (ChaCha20Rng::seed_from_u64(seed), seed),
            Randomness::Os => {
                let mut rng = ChaCha20Rng::from_os_rng();
                let seed = rng.next_u64();
                (rng, seed)
            }
        };
        profile.validate()?;
        let traits = profile.traits();
        let facts = facts_of(&profile, &traits);
        let uuid = profile.device_uuid();
        let loaded: Option<NvramState> = match &store {
            Some(s) => s.load::<NvramState>()?.map(NvramState::upgraded),
            None => None,
        };
        let fresh = loaded.is_none();
        let pool_index = usize::try_from(seed % keypool::POOL_SIZE as u64).unwrap_or(0);
        let state = match loaded {
            Some(s) => s,
            None => {
                let os_rng = (randomness == Randomness::Os).then_some(&mut rng);
                let clock = profile.clock_start(now);
                initial_state(&profile, &facts, seed, os_rng, pool_index, clock)?
            }
        };
        let device = Self {
            beacons: BeaconState::new(profile.hello_schedule(), now),
            faults: FaultMatcher::new(&profile.faults),
            clock_start: profile.clock_start(now),
            uuid_text: uuid.to_string(),
            uuid,
            traits,
            facts,
            state,
            engine: Engine::new(),
            digest: DigestServer::new(&mut rng),
            rng,
            store,
            events: VecDeque::new(),
            start_host: now,
            pool_index,
            setup_identity: None,
            hello_stopped_reported: false,
            http_port: profile.ports.http,
            tls_port: profile.ports.tls,
            seed,
            profile,
        };
        if fresh && let Some(store) = &device.store {
            // A device that cannot store its factory state does not start.
            store.save(&device.state)?;
        }
        Ok(device)
    }

    /// The device UUID.
    pub fn uuid(&self) -> DeviceUuid {
        self.uuid
    }

    /// The profile.
    pub fn profile(&self) -> &DeviceProfile {
        &self.profile
    }

    /// The behaviour table in force (personality + overrides + policy faults).
    pub fn traits(&self) -> &PersonalityTraits {
        &self.traits
    }

    /// The facts the WS-MAN engine sees.
    pub fn facts(&self) -> &DeviceFacts {
        &self.facts
    }

    /// The NVRAM state.
    pub fn state(&self) -> &NvramState {
        &self.state
    }

    /// The provisioning state.
    pub fn provisioning_state(&self) -> ProvisioningState {
        self.state.provisioning_state()
    }

    /// Turns on deliberate deviations (test knobs, [`crate::deviation`]). The realm deviation
    /// rewrites the realm the device holds now (a factory reset draws a correct one again).
    pub fn set_deviations(&mut self, deviations: crate::deviation::DeviationSet) {
        self.facts.deviations = deviations;
        self.digest.deviations = deviations;
        if deviations.has(crate::deviation::Deviation::LowercaseRealm) {
            // The MEBx password is kept as its HA1 for the realm: a factory MEBx password is
            // re-keyed to the new realm (a changed one cannot be, and keeps the old realm's HA1).
            let factory = self.profile.provisioning.mebx_password.clone();
            let was_factory = self.state.mebx_password_matches(&factory);
            self.state.digest_realm = self
                .state
                .digest_realm
                .to_ascii_lowercase()
                .replacen("digest:", "Digest:", 1);
            if was_factory {
                self.state.set_mebx_password(&factory);
            }
        }
    }

    /// The ports the shell actually bound (tests bind port 0), so [`Self::accept`] can tell
    /// plain from TLS connections.
    pub fn set_bound_ports(&mut self, http: u16, tls: u16) {
        self.http_port = http;
        self.tls_port = tls;
    }

    /// The device clock at host time `host_now`: the profile clock (host, or an un-set epoch
    /// running since the device started) plus the offset set by time synchronisation.
    pub fn device_clock(&self, host_now: Timestamp) -> Timestamp {
        let running = host_now.unix_millis() - self.start_host.unix_millis();
        Timestamp::from_unix_millis(
            self.clock_start
                .unix_millis()
                .saturating_add(running)
                .saturating_add(self.state.clock_offset_ms()),
        )
    }

    /// When the next Hello is due (`None`: no more Hellos).
    pub fn next_hello_due(&self) -> Option<Timestamp> {
        if self.hello_stop_reason().is_some() {
            return None;
        }
        self.beacons.next_due()
    }

    fn hello_stop_reason(&self) -> Option<&'static str> {
        if self.beacons.is_finished() {
            return Some("schedule-ended");
        }
        if self.profile.provisioning.mode != ProvisioningMode::Pki {
            return Some("not-pki-mode");
        }
        if !self.profile.hello.enabled {
            return Some("hellos-disabled");
        }
        match self.state.provisioning_state() {
            ProvisioningState::Pre => None,
            ProvisioningState::In => Some("setup-started"),
            ProvisioningState::Post => Some("provisioned"),
        }
    }

    /// The Hello due at `now`, if any. Suppressed Hellos (no wired link, Hellos off, no DNS
    /// domain …) are consumed from the schedule and recorded as events. Call until `None`.
    pub fn poll_hello(&mut self, now: Timestamp) -> Option<HelloBeacon> {
        loop {
            if let Some(reason) = self.hello_stop_reason() {
                self.stop_beacons(reason, now);
                return None;
            }
            let (index, retry_count) = self.beacons.take_due(now)?;
            let suppressed = if self.profile.no_wired_link() {
                Some("no-wired-link")
            } else if self.profile.hellos_off() {
                Some("hellos-off")
            } else {
                None
            };
            if let Some(reason) = suppressed {
                self.event(
                    now,
                    EventKind::HelloSuppressed {
                        reason: reason.into(),
                    },
                );
                continue;
            }
            let target = match self.profile.hello_target() {
                Ok(t) => t,
                Err(reason) => {
                    self.event(
                        now,
                        EventKind::HelloSuppressed {
                            reason: reason.into(),
                        },
                    );
                    continue;
                }
            };
            let hashes = self.profile.active_hashes();
            let bytes = match crate::hello::encode(self.uuid, &hashes, retry_count) {
                Ok(b) => b,
                Err(e) => {
                    self.event(
                        now,
                        EventKind::HelloSuppressed {
                            reason: e.id().into(),
                        },
                    );
                    continue;
                }
            };
            self.event(
                now,
                EventKind::HelloSent {
                    target: target.to_string(),
                    retry_count,
                    index,
                    hashes: hashes.len(),
                },
            );
            return Some(HelloBeacon {
                bytes,
                target,
                interface: Interface::Wired,
                index,
                retry_count,
            });
        }
    }

    fn stop_beacons(&mut self, reason: &str, now: Timestamp) {
        self.beacons.stop();
        if !self.hello_stopped_reported {
            self.hello_stopped_reported = true;
            self.event(
                now,
                EventKind::HelloStopped {
                    reason: reason.into(),
                },
            );
        }
    }

    /// Accepts a TCP connection to `local` from `peer` (the listener kind follows from the
    /// bound ports, see [`Self::set_bound_ports`]).
    pub fn accept(
        &mut self,
        local: SocketAddr,
        peer: SocketAddr,
        now: Timestamp,
    ) -> Result<DeviceConnection, ConnectRefused> {
        let kind = if local.port() == self.tls_port {
            PortKind::Tls
        } else if local.port() == self.http_port {
            PortKind::Http
        } else {
            let refused = ConnectRefused::NoListener(local.port());
            self.refused(local.port(), &refused, now);
            return Err(refused);
        };
        self.accept_on(kind, local, peer, now)
    }

    /// Accepts a connection on a listener of the given kind.
    pub fn accept_on(
        &mut self,
        kind: PortKind,
        local: SocketAddr,
        peer: SocketAddr,
        now: Timestamp,
    ) -> Result<DeviceConnection, ConnectRefused> {
        let result = self.check_accept(kind, local, now);
        let result = result.and_then(|()| DeviceConnection::new(self, kind, local, peer, now));
        if let Err(refused) = &result {
            self.refused(local.port(), refused, now);
        }
        result
    }

    /// Accepts a connection from the host OS over the local host interface: the host's
    /// management service (LMS) tunnels it to the firmware over HECI/MEI, so it is not a network
    /// connection (no link, wireless or TLS-port rules apply). Host-based setup
    /// (`IPS_HostBasedSetupService`) is accepted only on such connections. Needs the HECI driver.
    pub fn accept_host_interface(
        &mut self,
        kind: PortKind,
        now: Timestamp,
    ) -> Result<DeviceConnection, ConnectRefused> {
        let port = match kind {
            PortKind::Http => self.http_port,
            PortKind::Tls => self.tls_port,
        };
        let local = SocketAddr::from(([127, 0, 0, 1], port));
        let result = if self.profile.provisioning.heci_driver_present {
            DeviceConnection::new(
                self,
                kind,
                local,
                SocketAddr::from(([127, 0, 0, 1], 0)),
                now,
            )
        } else {
            Err(ConnectRefused::NoHostInterface)
        };
        match result {
            Ok(mut conn) => {
                conn.set_host_interface();
                Ok(conn)
            }
            Err(refused) => {
                self.refused(port, &refused, now);
                Err(refused)
            }
        }
    }

    fn refused(&mut self, port: u16, refused: &ConnectRefused, now: Timestamp) {
        self.event(
            now,
            EventKind::ConnectionRefused {
                port,
                reason: refused.kind(),
            },
        );
    }

    fn check_accept(
        &mut self,
        kind: PortKind,
        local: SocketAddr,
        now: Timestamp,
    ) -> Result<(), ConnectRefused> {
        if self.profile.port_refused(local.port()) {
            return Err(ConnectRefused::PortFault(local.port()));
        }
        if let Some((i, action)) = self.faults.on_step(Step::TcpConnect).into_iter().next() {
            self.fault_applied(i, &format!("{action:?} at tcp-connect"), now);
            return Err(ConnectRefused::PortFault(local.port()));
        }
        let wireless = self
            .profile
            .network
            .wireless
            .as_ref()
            .and_then(|w| w.ipv4)
            .is_some_and(|ip| IpAddr::V4(ip) == local.ip());
        if wireless {
            if self.state.provisioning_state() != ProvisioningState::Post {
                return Err(ConnectRefused::Wireless);
            }
        } else {
            if self.profile.wireless_only() {
                return Err(ConnectRefused::WiredClosed);
            }
            if self.profile.no_wired_link() {
                return Err(ConnectRefused::NoWiredLink);
            }
        }
        let post = self.state.provisioning_state() == ProvisioningState::Post;
        match kind {
            PortKind::Http => {
                if post && !self.state.committed_tls().accept_non_secure {
                    return Err(ConnectRefused::PlainClosed);
                }
            }
            PortKind::Tls => {
                if post {
                    if !self.state.committed_tls().tls_enabled {
                        return Err(ConnectRefused::TlsClosed("TLS not enabled"));
                    }
                } else if self.profile.provisioning.mode != ProvisioningMode::Pki {
                    return Err(ConnectRefused::TlsClosed("not in PKI mode"));
                }
            }
        }
        Ok(())
    }

    /// The self-signed setup identity (made on first use, notBefore = device clock then).
    pub(crate) fn setup_identity(&mut self, now: Timestamp) -> Result<DeviceIdentity, TlsError> {
        if let Some(id) = &self.setup_identity {
            return Ok(id.clone());
        }
        let id = crate::tls::self_signed_identity(
            self.pool_index,
            &self.profile.fqdn(),
            self.device_clock(now),
            SELF_SIGNED_VALIDITY_DAYS,
        )?;
        self.setup_identity = Some(id.clone());
        Ok(id)
    }

    /// Called when a setup TLS session was accepted: the provisioning window's Hellos stop.
    pub(crate) fn setup_started(&mut self, now: Timestamp) {
        if !self.beacons.is_finished() {
            self.stop_beacons("setup-started", now);
        }
    }

    /// Writes the state to the store (if any) and records the outcome; `false` when the write
    /// failed (the caller must not acknowledge the change, and puts the old state back).
    pub(crate) fn persist(&mut self, now: Timestamp) -> bool {
        let Some(store) = &self.store else {
            return true;
        };
        let result = store.save(&self.state);
        let (ok, error) = match result {
            Ok(()) => (true, None),
            Err(e) => (false, Some(e.to_string())),
        };
        self.event(now, EventKind::Stored { ok, error });
        ok
    }

    /// A copy of the state to roll back to if the coming change cannot be stored (only when
    /// there is a store: without one nothing can fail).
    fn snapshot(&self) -> Option<NvramState> {
        self.store.as_ref().map(|_| self.state.clone())
    }

    /// Persists a change; on failure puts `snapshot` back so that memory matches the disk.
    fn commit_or_roll_back(&mut self, snapshot: Option<NvramState>, now: Timestamp) -> bool {
        if self.persist(now) {
            return true;
        }
        if let Some(old) = snapshot {
            self.state = old;
        }
        false
    }

    /// Records a state change after a request, persisting and reporting it.
    pub(crate) fn after_change(&mut self, before: ProvisioningState, now: Timestamp) {
        let after = self.state.provisioning_state();
        if before != after {
            self.event(
                now,
                EventKind::StateChanged {
                    from: before,
                    to: after,
                },
            );
            if after == ProvisioningState::Pre {
                // Unprovision: back to factory. A new setup certificate next time; the Hello
                // window reopens (the firmware restarts its provisioning period).
                self.setup_identity = None;
                self.beacons = BeaconState::new(self.profile.hello_schedule(), now);
                self.hello_stopped_reported = false;
            }
        }
    }

    /// Records that fault `index` was applied.
    pub(crate) fn fault_applied(&mut self, index: usize, description: &str, now: Timestamp) {
        self.event(
            now,
            EventKind::FaultApplied {
                fault: index,
                description: description.to_owned(),
            },
        );
    }

    /// Appends an event (bounded buffer).
    pub(crate) fn event(&mut self, now: Timestamp, kind: EventKind) {
        if self.events.len() >= MAX_BUFFERED_EVENTS {
            self.events.pop_front();
        }
        self.events
            .push_back(DeviceEvent::new(self.uuid_text.clone(), now, kind));
    }

    /// Takes the buffered events.
    pub fn drain_events(&mut self) -> Vec<DeviceEvent> {
        self.events.drain(..).collect()
    }

    /// Runs one authenticated (or anonymous Identify) WS-MAN request through the engine, then
    /// persists and reports what changed.
    pub(crate) fn handle_envelope(
        &mut self,
        session: Session,
        local_port: u16,
        host_interface: bool,
        return_value_override: Option<u32>,
        envelope: &Envelope,
        now: Timestamp,
    ) -> Outcome {
        let before = self.state.provisioning_state();
        let snapshot = self.snapshot();
        let device_now = self.device_clock(now);
        let mut ctx = RequestContext {
            facts: &self.facts,
            now: device_now,
            session,
            local_port,
            host_interface,
            rng: &mut self.rng,
            return_value_override,
        };
        let outcome = self.engine.handle(&mut self.state, &mut ctx, envelope);
        for note in &outcome.notes {
            match note {
                Note::Fault { code, detail } => self.event(
                    now,
                    EventKind::WsmanFault {
                        detail: format!("{code}: {detail}"),
                    },
                ),
                Note::MethodFailed {
                    method,
                    return_value,
                } => self.event(
                    now,
                    EventKind::WsmanFault {
                        detail: format!("{method} returned {return_value}"),
                    },
                ),
                _ => {}
            }
        }
        if outcome.state_changed {
            if !self.commit_or_roll_back(snapshot, now) {
                // Never acknowledge a change NVRAM did not take: the firmware's internal error,
                // and the state in memory is the one on disk.
                self.event(
                    now,
                    EventKind::WsmanFault {
                        detail: "wsman:InternalError: the NVRAM write failed; change rolled back"
                            .into(),
                    },
                );
                let fault = amt_wire::wsman::Fault::internal_error()
                    .with_detail(Some("NVRAM write failed"));
                let relates = envelope.header.message_id.clone();
                let message_id = format!("uuid:{:032x}", self.rng.next_u64());
                return Outcome {
                    http_status: fault.http_status(),
                    body: fault.emit(relates.as_deref(), &message_id).into_bytes(),
                    notes: Vec::new(),
                    state_changed: false,
                };
            }
            self.after_change(before, now);
        }
        outcome
    }

    /// The seed the device was created with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    // ----- Local host interface (HECI/MEI) -----

    fn heci_check(&mut self, command: &str, now: Timestamp) -> Result<(), HeciError> {
        if !self.profile.provisioning.heci_driver_present {
            self.event(
                now,
                EventKind::Heci {
                    command: command.into(),
                    ok: false,
                },
            );
            return Err(HeciError::NoDriver);
        }
        Ok(())
    }

    fn heci_done<T>(
        &mut self,
        command: &str,
        now: Timestamp,
        r: Result<T, HeciError>,
    ) -> Result<T, HeciError> {
        self.event(
            now,
            EventKind::Heci {
                command: command.into(),
                ok: r.is_ok(),
            },
        );
        r
    }

    /// Whether the host has the HECI driver (what the in-band client checks first).
    pub fn heci_driver_present(&self) -> bool {
        self.profile.provisioning.heci_driver_present
    }

    /// `CFG_GetCertificateHashEntry` for every entry: the hash list with active flags.
    pub fn heci_get_hashes(&mut self, now: Timestamp) -> Result<Vec<HashFact>, HeciError> {
        self.heci_check("get-hashes", now)?;
        let hashes = self.facts.hashes.clone();
        self.heci_done("get-hashes", now, Ok(hashes))
    }

    /// `CFG_GetProvisioningState`.
    pub fn heci_get_provisioning_state(
        &mut self,
        now: Timestamp,
    ) -> Result<ProvisioningState, HeciError> {
        self.heci_check("get-provisioning-state", now)?;
        let s = self.state.provisioning_state();
        self.heci_done("get-provisioning-state", now, Ok(s))
    }

    /// `CFG_SetOTP`: stores the one-time password (Pre state only, 8–32 bytes). It is exposed as
    /// `AMT_SetupAndConfigurationService.ProvisioningServerOTP` in In-provisioning.
    pub fn heci_set_otp(&mut self, otp: &[u8], now: Timestamp) -> Result<(), HeciError> {
        self.heci_check("set-otp", now)?;
        let r = if self.state.provisioning_state() != ProvisioningState::Pre {
            Err(HeciError::InvalidState(self.state.provisioning_state()))
        } else if !(8..=32).contains(&otp.len()) {
            Err(HeciError::OtpLength(otp.len()))
        } else {
            let snapshot = self.snapshot();
            self.state.set_otp(otp.to_vec());
            if self.commit_or_roll_back(snapshot, now) {
                Ok(())
            } else {
                Err(HeciError::StoreFailed)
            }
        };
        self.heci_done("set-otp", now, r)
    }

    /// `CFG_StartConfiguration`: opens the network interface for setup without a Hello; the
    /// device goes to In-provisioning and accepts the setup TLS session.
    pub fn heci_start_configuration(&mut self, now: Timestamp) -> Result<(), HeciError> {
        self.heci_check("start-configuration", now)?;
        let before = self.state.provisioning_state();
        let r = if before != ProvisioningState::Pre {
            Err(HeciError::InvalidState(before))
        } else if self.profile.provisioning.mode != ProvisioningMode::Pki {
            Err(HeciError::NotPkiMode)
        } else {
            let snapshot = self.snapshot();
            self.state.provisioning_state = ProvisioningState::In;
            if self.commit_or_roll_back(snapshot, now) {
                Ok(())
            } else {
                Err(HeciError::StoreFailed)
            }
        };
        if r.is_ok() {
            self.after_change(before, now);
        }
        self.heci_done("start-configuration", now, r)
    }
}

/// Factory (or profile-declared) state of a fresh device.
///
/// `state: post` with an `admin_password` is a device another solution provisioned: digest
/// checks that admin password, and its TLS port serves a management certificate (self-signed
/// with pool key `pool_index`, notBefore `clock`, no client certificate required); plain HTTP
/// stays open (`AcceptNonSecureConnections`).
fn initial_state(
    profile: &DeviceProfile,
    facts: &DeviceFacts,
    seed: u64,
    os_rng: Option<&mut ChaCha20Rng>,
    pool_index: usize,
    clock: Timestamp,
) -> Result<NvramState, TlsError> {
    let mut state = NvramState::factory(facts, seed);
    if let Some(rng) = os_rng {
        state.randomize_identity(rng);
    }
    let mebx = &profile.provisioning.mebx_password;
    if mebx != crate::state::DEFAULT_MEBX_PASSWORD {
        state.set_mebx_password(mebx);
    }
    match profile.provisioning.state {
        InitialState::Pre => {}
        InitialState::In => state.provisioning_state = ProvisioningState::In,
        InitialState::Post => {
            state.provisioning_state = ProvisioningState::Post;
            if let Some(pw) = &profile.provisioning.admin_password {
                let user = crate::state::ADMIN_USER;
                state.admin = Some(AdminAcl {
                    username: user.to_owned(),
                    ha1: amt_wire::digest::ha1(user, &state.digest_realm, pw),
                });
                install_management_tls(&mut state, pool_index, &profile.fqdn(), clock)?;
            }
        }
    }
    Ok(state)
}

/// Stores a self-signed management certificate and its pool key, and commits remote TLS with it
/// (server authentication only, non-secure connections still accepted).
fn install_management_tls(
    state: &mut NvramState,
    pool_index: usize,
    common_name: &str,
    clock: Timestamp,
) -> Result<(), TlsError> {
    let identity = crate::tls::self_signed_identity(
        pool_index,
        common_name,
        clock,
        SELF_SIGNED_VALIDITY_DAYS,
    )?;
    let der = identity.cert_der.to_vec();
    let public = crate::wsman::pki::certificate_public_key(&der).unwrap_or_default();
    let key_handle = state.counters.next_key_handle;
    state.counters.next_key_handle = key_handle.wrapping_add(1);
    let cert_handle = state.counters.next_cert_handle;
    state.counters.next_cert_handle = cert_handle.wrapping_add(1);
    state.key_pairs.push(StoredKeyPair {
        handle: key_handle,
        pool_index: Some(pool_index),
        pkcs8_der: None,
        public_pkcs1_der: public,
    });
    state.certificates.push(StoredCertificate {
        handle: cert_handle,
        der,
        trusted_root: false,
        read_only: false,
    });
    state.tls_credential_cert = Some(cert_handle);
    let remote = TlsSetting {
        enabled: true,
        mutual_authentication: false,
        accept_non_secure_connections: true,
        trusted_cn: Vec::new(),
    };
    state.tls_pending.remote = remote.clone();
    state.tls_committed.remote = remote;
    Ok(())
}

/// The WS-MAN engine's view of the profile.
pub fn facts_of(profile: &DeviceProfile, traits: &PersonalityTraits) -> DeviceFacts {
    let iface = |i: &crate::profile::NetInterface| NetInterface {
        mac: parse_mac(&i.mac),
        ipv4: i.ipv4.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
        dhcp: i.dhcp,
        link_up: i.link_up,
    };
    let amt_version = profile.amt_version();
    let amt_major = amt_version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| u32::from(traits.amt_major));
    let mut wired = iface(&profile.network.wired);
    if profile.no_wired_link() {
        wired.link_up = false;
    }
    DeviceFacts {
        uuid: profile.device_uuid(),
        amt_version,
        amt_major,
        quirks: Quirks {
            fqdn_limit: traits.fqdn_limit,
            refuse_sha1_hashes: traits.refuse_sha1,
            host_based_setup: traits.host_based_setup,
            strict_digest_password_base64: !profile.lenient_digest_password,
        },
        wired,
        wireless: profile.network.wireless.as_ref().map(iface),
        dhcp_domain: profile.network.dhcp.domain.clone(),
        mebx_domain: profile.network.mebx_domain.clone(),
        hostname: profile.network.hostname.clone(),
        hashes: profile
            .hash_list()
            .into_iter()
            .map(|h| HashFact {
                name: h.name,
                thumbprint: h.thumbprint,
                default: h.is_default,
                active: h.active,
            })
            .collect(),
        pki_mode_enabled: profile.provisioning.mode == ProvisioningMode::Pki,
        wireless_capable: profile.network.wireless.is_some(),
        manufacturer: profile.system.manufacturer.clone(),
        model: profile.system.model.clone(),
        serial: profile.system.serial.clone(),
        bios_version: profile.system.bios_version.clone(),
        memory_mb: u64::from(profile.system.memory_mb),
        cpu: profile.system.cpu.clone(),
        hardware: profile.system.hardware_facts(),
        deviations: crate::deviation::DeviationSet::NONE,
    }
}

/// `aa:bb:cc:dd:ee:ff` (or `-` separated) to bytes; zeros where unparsable.
fn parse_mac(text: &str) -> [u8; 6] {
    let mut out = [0u8; 6];
    for (slot, part) in out.iter_mut().zip(text.split([':', '-'])) {
        *slot = u8::from_str_radix(part, 16).unwrap_or(0);
    }
    out
}
