//! The provisioning side of a run, shared by every backend: building the site (service point,
//! provisioning certificates, directory, CA) from the environment, the Hello delivery rule of the
//! site's DNS, the `provision`, `in_band` and `remove: full` steps' site halves, and what is
//! observed of the site (sessions, logs, Hellos, wire summary, transcript, read-back).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use amt_sim::events::DeviceEvent;
use amt_sim::hello::HelloTarget;
use amt_wire::hello::DeviceUuid;
use amt_wire::thumbprint::{HashAlgorithm, Thumbprint};
use amt_wire::time::Timestamp;
use provisioner_core::ca::EnterpriseCaModel;
use provisioner_core::client_agent::{InBandStart, start_inband};
use provisioner_core::directory::Directory;
use provisioner_core::env::Environment;
use provisioner_core::events::ProvisionEvent;
use provisioner_core::logs::Logs;
use provisioner_core::servicepoint::{Action, ServicePoint};
use provisioner_core::session::SessionResult;
use provisioner_core::tls::ClientIdentity;
use provisioner_core::transport::Connector;

use super::inprocess::RunError;
use super::readback;
use super::transcript::Transcript;
use crate::observe::{DeviceObs, HelloObs, Observation, SessionObs};

/// The provisioning side of a site: the service point (its logs know the environment's
/// secrets), the provisioning certificates, the directory and the enterprise CA.
pub(crate) struct SiteParts {
    pub(crate) sp: ServicePoint,
    pub(crate) identities: Vec<ClientIdentity>,
    pub(crate) directory: Directory,
    pub(crate) ca: EnterpriseCaModel,
}

/// Builds the provisioning side of the site described by `env` (shared by every backend).
pub(crate) fn build_site(env: Environment) -> Result<SiteParts, RunError> {
    let mut identities = Vec::new();
    for cert in &env.provisioning_certificates {
        let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
        let chain = read(&cert.chain_pem)?;
        let key = read(&cert.key_pem)?;
        identities.push(
            ClientIdentity::from_pem(&chain, &key)
                .map_err(|e| format!("{}: {e}", cert.chain_pem.display()))?,
        );
    }
    let roots: Vec<Vec<u8>> = identities
        .iter()
        .filter_map(|i| i.root().map(|r| r.as_ref().to_vec()))
        .collect();
    let mut ca = EnterpriseCaModel::test_default().map_err(|e| format!("CA: {e}"))?;
    let mut ca_config = ca.config().clone();
    ca_config.deny = env.enterprise_ca.deny;
    ca_config.crl_reachable = env.enterprise_ca.crl_reachable;
    ca_config.revocation_denied = env.enterprise_ca.revocation_denied;
    ca.set_config(ca_config);
    let directory = Directory::from_env(&env.active_directory);
    let mut logs = Logs::new(env.logs.clone());
    for secret in env.secrets() {
        logs.register_secret(secret);
    }
    let sp = ServicePoint::with_root_certificates(env, &roots, logs);
    Ok(SiteParts {
        sp,
        identities,
        directory,
        ca,
    })
}

/// Whether a Hello to `target` reaches the service point: an address always does, a name only
/// when it is the site's ProvisionServer alias and the site's DNS resolves it.
pub(crate) fn hello_delivered(target: &HelloTarget, resolvable: bool) -> bool {
    match target {
        HelloTarget::Address(_) => true,
        HelloTarget::Name(name, _) => {
            resolvable && name.to_ascii_lowercase().starts_with("provisionserver.")
        }
    }
}

/// Keeps a session's result, after telling the logs the passwords it set.
pub(crate) fn record_result(
    sp: &mut ServicePoint,
    result: SessionResult,
    results: &mut Vec<SessionResult>,
) {
    if let Some(p) = &result.admin_password {
        sp.logs_mut().register_secret(p);
    }
    if let Some(p) = &result.mebx_password {
        sp.logs_mut().register_secret(p);
    }
    results.push(result);
}

/// The out-of-band session for device `uuid` from its imported record (no Hello), towards its
/// recorded wired address or else `fallback`. `None` (with a note) when it is not imported.
pub(crate) fn direct_provision(
    sp: &ServicePoint,
    uuid: DeviceUuid,
    fallback: Option<IpAddr>,
    notes: &mut Vec<String>,
) -> Result<Option<Action>, RunError> {
    let Some(computer) = sp.env().computer(&uuid).cloned() else {
        notes.push(format!("provision: {uuid} is not imported: nothing to do"));
        return Ok(None);
    };
    let ip = computer.wired_ip.or(fallback).ok_or("no device address")?;
    Ok(Some(Action::Provision {
        uuid,
        target: SocketAddr::new(ip, computer.tls_port),
        fqdn: computer.fqdn.clone(),
        mode: provisioner_core::servicepoint::Mode::OutOfBand,
        cert_index: 0,
    }))
}

/// The client agent's start of the in-band path for device `uuid`, given the active hashes
/// the device reported over HECI. `None` (with a note) when the device is not imported or the
/// agent refuses (`client-refused:<id>`).
pub(crate) fn in_band_start(
    sp: &mut ServicePoint,
    identities: &[ClientIdentity],
    rng: &mut dyn rand::RngCore,
    uuid: DeviceUuid,
    hashes: &[Thumbprint],
    now: Timestamp,
    notes: &mut Vec<String>,
) -> Option<InBandStart> {
    let roots: Vec<Thumbprint> = identities
        .iter()
        .filter_map(|i| i.root_thumbprint(HashAlgorithm::Sha256))
        .collect();
    let Some(computer) = sp.env().computer(&uuid).cloned() else {
        notes.push(format!("in_band: {uuid} is not imported: no client agent"));
        return None;
    };
    match start_inband(&computer, &roots, hashes, rng, sp.logs_mut(), now) {
        Ok(s) => Some(s),
        Err(e) => {
            notes.push(format!("client-refused:{}", e.id()));
            None
        }
    }
}

/// The active hashes a device reports over HECI (what the client agent reads first).
pub(crate) fn heci_active_hashes(
    device: &mut amt_sim::device::Device,
    now: Timestamp,
) -> Result<Vec<Thumbprint>, RunError> {
    Ok(device
        .heci_get_hashes(now)
        .map_err(|e| format!("HECI: {e}"))?
        .into_iter()
        .filter(|h| h.active)
        .map(|h| h.thumbprint)
        .collect())
}

/// The client agent hands the device its OTP and opens the network interface (HECI).
pub(crate) fn heci_hand_over(
    device: &mut amt_sim::device::Device,
    start: &InBandStart,
    now: Timestamp,
) -> Result<(), RunError> {
    device
        .heci_set_otp(&start.otp, now)
        .and_then(|()| device.heci_start_configuration(now))
        .map_err(|e| format!("HECI: {e}"))
}

/// The site server receives the client agent's request: the actions to run.
pub(crate) fn in_band_request(
    sp: &mut ServicePoint,
    start: &InBandStart,
    now: Timestamp,
) -> Vec<Action> {
    sp.handle(provisioner_core::servicepoint::Input::InBandRequest {
        uuid: start.request.uuid,
        otp_hash: start.request.otp_hash,
        now,
    })
}

/// The console's "Remove provisioning data" for device `uuid` (revoking the web certificate of
/// its last session): the actions to run.
pub(crate) fn full_removal(
    sp: &mut ServicePoint,
    directory: &mut Directory,
    ca: &mut EnterpriseCaModel,
    results: &[SessionResult],
    uuid: DeviceUuid,
    now: Timestamp,
) -> Vec<Action> {
    let serial = results
        .iter()
        .rev()
        .find(|r| r.uuid == uuid)
        .and_then(|r| r.web_cert_serial.clone());
    sp.remove_provisioning(&uuid, directory, ca, serial.as_deref(), now)
}

/// What every backend observes of the provisioning side: notes (a client refusal apart),
/// sessions, the first device's AMT status, Hellos (with the service point's discards), logs,
/// the device events' wire summary and the transcript (times relative to `start`).
pub(crate) fn observe_site(
    sp: &ServicePoint,
    results: &[SessionResult],
    hellos: &HelloObs,
    device_events: &[DeviceEvent],
    notes: Vec<String>,
    first_uuid: Option<&DeviceUuid>,
    start: Timestamp,
) -> Observation {
    let mut obs = Observation::default();
    for note in notes {
        if let Some(id) = note.strip_prefix("client-refused:") {
            obs.client_refusal = Some(id.to_owned());
        } else {
            obs.notes.push(note);
        }
    }
    obs.sessions = results
        .iter()
        .map(|r| SessionObs {
            uuid: r.uuid.to_string(),
            outcome: r.outcome,
            failed_step: r.failed_step,
            amt_status: r.amt_status,
            error: r.error.clone(),
        })
        .collect();
    obs.amt_status = first_uuid.map(|u| sp.status(u));
    obs.hellos = hellos.clone();
    obs.hellos.discarded = sp
        .events()
        .events()
        .filter(|e| matches!(e, ProvisionEvent::HelloDiscarded { .. }))
        .count();
    super::fill_logs(&mut obs, sp.logs());
    super::fill_wire(&mut obs, device_events);
    let mut transcript = Transcript::new(start);
    transcript.add_service_point(&sp.events().0);
    transcript.add_device(device_events);
    transcript.add_logs(sp.logs());
    let mut secrets: Vec<String> = sp.env().secrets().map(str::to_owned).collect();
    for r in results {
        secrets.extend(r.admin_password.clone());
        secrets.extend(r.mebx_password.clone());
    }
    obs.transcript = transcript.render(&secrets);
    obs
}

/// The device's end state over WS-MAN, trying the password the site set for `uuid`, the site's
/// MEBx password and `device_passwords` (the device's own MEBx password, when known).
pub(crate) fn read_back(
    sp: &ServicePoint,
    uuid: &DeviceUuid,
    device_passwords: impl IntoIterator<Item = String>,
    connector: &mut dyn Connector,
    (http, tls): (SocketAddr, SocketAddr),
    seed: u64,
) -> DeviceObs {
    let admin = sp.admin_password(uuid).map(str::to_owned);
    let mut mebx = vec![sp.env().mebx_password.clone()];
    mebx.extend(device_passwords);
    readback::read_state(connector, http, tls, admin.as_deref(), &mebx, seed)
}
