//! Retries after an interrupted provisioning, in process: the passwords the first session
//! recorded in the secrets file (write-ahead, before they reach the device) are read back and
//! tried after the configured accounts, and what the interrupted stage 1 left on the device
//! (certificates, key pairs) does not pile up.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use amt_sim::device::Device;
use amt_sim::profile::DeviceProfile;
use conformance::testbed::SimNetwork;
use provisioner_core::ca::EnterpriseCaModel;
use provisioner_core::clock::{Clock as _, VirtualClock};
use provisioner_core::directory::Directory;
use provisioner_core::env::{AmtAccount, Environment, ImportedComputer};
use provisioner_core::events::{EventLog, Outcome, Step};
use provisioner_core::io::secrets::{self, SECRETS_FILE, SecretsFile};
use provisioner_core::logs::{LogConfig, Logs};
use provisioner_core::servicepoint::Mode;
use provisioner_core::session::{self, SecretJournal, SessionCtx, SessionResult};
use provisioner_core::tls::ClientIdentity;
use rand::SeedableRng as _;

use super::TestResult;

fn identity() -> ClientIdentity {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../certs");
    let chain = std::fs::read(dir.join("prov-oid.chain.pem")).unwrap_or_default();
    let key = std::fs::read(dir.join("prov-oid.TEST-ONLY.key.pem")).unwrap_or_default();
    ClientIdentity::from_pem(&chain, &key).unwrap_or_else(|e| panic!("test PKI: {e}"))
}

/// One device, a site, and the secrets file of a `--logs` directory.
struct Site {
    net: SimNetwork,
    clock: VirtualClock,
    env: Environment,
    computer: ImportedComputer,
    target: SocketAddr,
    identity: ClientIdentity,
    secrets: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Site {
    fn new(profile: DeviceProfile) -> Result<Self, Box<dyn std::error::Error>> {
        let digest = profile.setup_auth.is_some();
        let mut site = Self::with_env(profile, Environment::default_for_tests())?;
        if digest {
            // The factory MEBx password is the provisioning account of a digest setup session.
            site.env.accounts = vec![AmtAccount {
                user: "admin".into(),
                password: "admin".into(),
            }];
        }
        Ok(site)
    }

    fn with_env(
        profile: DeviceProfile,
        env: Environment,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let clock = VirtualClock::default();
        let net = SimNetwork::new(clock.clone());
        let tls_port = profile.ports.tls;
        let uuid = profile.device_uuid();
        let index = net.add_device(Device::new(profile, None, 7, clock.now())?);
        let ip = net
            .address(index)
            .unwrap_or_else(|| IpAddr::from([127, 0, 0, 1]));
        let mut computer = env.computers.first().cloned().ok_or("no computer")?;
        computer.uuid = uuid;
        let dir = tempfile::tempdir()?;
        Ok(Self {
            secrets: dir.path().join(SECRETS_FILE),
            _dir: dir,
            net,
            clock,
            env,
            computer,
            target: SocketAddr::new(ip, tls_port),
            identity: identity(),
        })
    }

    /// One session as `amt-provision` runs it: the configured accounts, then those recorded for
    /// the device in the secrets file; passwords written ahead to `journal`.
    fn run(
        &self,
        seed: u64,
        journal: &mut dyn SecretJournal,
    ) -> Result<SessionResult, Box<dyn std::error::Error>> {
        let mut env = self.env.clone();
        for account in secrets::recovered_accounts(&self.secrets, &self.computer.uuid)? {
            if !env.accounts.contains(&account) {
                env.accounts.push(account);
            }
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut connector = self.net.clone();
        let mut ca = EnterpriseCaModel::test_default()?;
        Ok(session::provision(&mut SessionCtx {
            env: &env,
            computer: &self.computer,
            target: self.target,
            mode: Mode::OutOfBand,
            identity: &self.identity,
            cert_index: 0,
            connector: &mut connector,
            clock: &self.clock,
            logs: &mut Logs::new(LogConfig::default()),
            events: &mut EventLog::new(),
            directory: &mut Directory::from_env(&env.active_directory),
            ca: &mut ca,
            rng: &mut rng,
            journal: Some(journal),
        }))
    }

    fn journal(&self) -> SecretsFile {
        SecretsFile(self.secrets.clone())
    }

    /// Certificates and key pairs in the device's NVRAM.
    fn store_sizes(&self) -> (usize, usize) {
        self.net
            .with_device(0, |d| {
                (d.state().certificates.len(), d.state().key_pairs.len())
            })
            .unwrap_or_default()
    }

    fn device_state(&self) -> String {
        self.net
            .with_device(0, |d| format!("{:?}", d.provisioning_state()))
            .unwrap_or_default()
    }
}

fn with_faults(
    mut profile: DeviceProfile,
    faults: &[&str],
) -> Result<DeviceProfile, Box<dyn std::error::Error>> {
    for yaml in faults {
        profile.faults.push(serde_saphyr::from_str(yaml)?);
    }
    Ok(profile)
}

/// An AMT 6-style device: a digest setup session (admin with the MEBx password), MEBx password
/// still the factory default.
fn amt6_style() -> Result<DeviceProfile, Box<dyn std::error::Error>> {
    Ok(DeviceProfile {
        setup_auth: Some(serde_saphyr::from_str("digest")?),
        ..DeviceProfile::default()
    })
}

/// The journal of a session that fails: nothing is ever made durable.
struct FullDisk;

impl SecretJournal for FullDisk {
    fn write_ahead(
        &mut self,
        _device: amt_wire::hello::DeviceUuid,
        _key: &str,
        _secret: &str,
    ) -> Result<(), String> {
        Err("No space left on device".into())
    }
}

#[test]
fn a_device_cut_off_after_commit_is_provisioned_with_the_recorded_admin_password() -> TestResult {
    // The first session commits, then loses the device in stage 2 (as a kill after
    // CommitChanges does); the process records nothing after the session, only the write-ahead
    // records remain.
    let profile = with_faults(
        DeviceProfile::default(),
        &["on: { method: SetPowerScheme, nth: 1 }\ndo: close_connection\n"],
    )?;
    let site = Site::new(profile)?;
    let first = site.run(1, &mut site.journal())?;
    assert_eq!(first.failed_step, Some(Step::Stage2), "{first:?}");
    assert!(site.device_state().contains("Post"));
    // The configured accounts alone no longer open the device.
    let without = site.run_without_recovery(2, &mut FullDisk)?;
    assert_eq!(without.failed_step, Some(Step::Digest), "{without:?}");
    let retry = site.run(3, &mut site.journal())?;
    assert_eq!(retry.outcome, Outcome::Provisioned, "{retry:?}");
    Ok(())
}

impl Site {
    /// A session with the configured accounts only (what `amt-provision` did before it read the
    /// secrets file back).
    fn run_without_recovery(
        &self,
        seed: u64,
        journal: &mut dyn SecretJournal,
    ) -> Result<SessionResult, Box<dyn std::error::Error>> {
        let empty = Self {
            secrets: self.secrets.with_file_name("no-such-file"),
            net: self.net.clone(),
            clock: self.clock.clone(),
            env: self.env.clone(),
            computer: self.computer.clone(),
            target: self.target,
            identity: identity(),
            _dir: tempfile::tempdir()?,
        };
        empty.run(seed, journal)
    }
}

#[test]
fn an_amt6_device_cut_off_after_set_mebx_password_is_provisioned_with_the_recorded_one()
-> TestResult {
    // CommitChanges never happens (an injected ReturnValue changes nothing): the device keeps the
    // new MEBx password, which the setup session's digest now needs.
    let profile = with_faults(
        amt6_style()?,
        &["on: { method: CommitChanges, nth: 1 }\ndo: { return_value: 1 }\n"],
    )?;
    let site = Site::new(profile)?;
    let first = site.run(1, &mut site.journal())?;
    assert_eq!(first.failed_step, Some(Step::Stage1), "{first:?}");
    let changed = site
        .net
        .with_device(0, |d| !d.state().mebx_password_is_default())
        .unwrap_or_default();
    assert!(changed, "the MEBx password was set before the cut");
    // The write-ahead record is in the secrets file although the session reported nothing.
    let blocks = secrets::read(&site.secrets)?;
    let recorded = secrets::recorded_accounts(&blocks, &site.computer.uuid.to_string());
    assert!(
        recorded.contains(&("admin".to_owned(), site.env.mebx_password.clone())),
        "no MEBx record"
    );
    let without = site.run_without_recovery(2, &mut FullDisk)?;
    assert_eq!(without.failed_step, Some(Step::Digest), "{without:?}");
    let retry = site.run(3, &mut site.journal())?;
    assert_eq!(retry.outcome, Outcome::Provisioned, "{retry:?}");
    assert!(site.device_state().contains("Post"));
    Ok(())
}

#[test]
fn a_password_that_cannot_be_recorded_first_is_never_sent() -> TestResult {
    let site = Site::new(amt6_style()?)?;
    let result = site.run(1, &mut FullDisk)?;
    assert_eq!(result.failed_step, Some(Step::Stage1), "{result:?}");
    assert_eq!(
        result.error.as_ref().map(|e| e.id()),
        Some("secrets/write-ahead")
    );
    let untouched = site
        .net
        .with_device(0, |d| {
            d.state().mebx_password_is_default() && d.state().admin.is_none()
        })
        .unwrap_or_default();
    assert!(untouched, "neither password reached the device");
    Ok(())
}

#[test]
fn retries_after_interrupted_stage_1s_leave_no_stale_keys_or_certificates() -> TestResult {
    // Reference: one clean provisioning.
    let clean = Site::new(DeviceProfile::default())?;
    let ok = clean.run(1, &mut clean.journal())?;
    assert_eq!(ok.outcome, Outcome::Provisioned, "{ok:?}");
    let expected = clean.store_sizes();
    // Three sessions cut off before CommitChanges (each left a key pair, a certificate and the
    // credential context), then the retry.
    let profile = with_faults(
        DeviceProfile::default(),
        &[
            "on: { method: CommitChanges, nth: 1 }\ndo: { return_value: 1 }\n",
            "on: { method: CommitChanges, nth: 2 }\ndo: { return_value: 1 }\n",
            "on: { method: CommitChanges, nth: 3 }\ndo: { return_value: 1 }\n",
        ],
    )?;
    let site = Site::new(profile)?;
    for seed in 1..=3 {
        let cut = site.run(seed, &mut site.journal())?;
        assert_eq!(cut.failed_step, Some(Step::Stage1), "{cut:?}");
    }
    let retry = site.run(4, &mut site.journal())?;
    assert_eq!(retry.outcome, Outcome::Provisioned, "{retry:?}");
    assert_eq!(site.store_sizes(), expected, "(certificates, key pairs)");
    Ok(())
}
