//! The ConfigMgr 2007 site hierarchy, sans-IO on the caller's clock: sites with key pairs and
//! inboxes, AD forests, the despooler's signed site-to-site traffic (seed 000), the native-mode
//! signing certificate with its daily check and the clients' root pin (seed 003), and the status
//! message stream of every site. Certificate publishing (seed 002's pattern) is [`publish`].
//!
//! Time only enters as `now`: [`Hierarchy::apply`] runs a command, [`Hierarchy::advance`] runs
//! everything due up to `now` (despooler retries, the policy provider's daily check) in time
//! order, and [`Hierarchy::next_due`] says when the next thing is due, so a virtual clock replays
//! the 100 × 5 minute retry window at once. Each site has its own [`Logs`] (despool.log, hman.log,
//! policypv.log, amtproxymgr.log; the client's PolicyAgent.log under the client's site), so the
//! same file of two sites stays apart.
//!
//! Keys are modelled, not computed: a key pair is the site code and a generation (a recovered
//! site gets the next one); an instruction carries the key it was signed with; verifying is
//! comparing it with the key the receiver finds for the sender.

pub mod config;
mod despooler;
pub mod publish;
mod signing;
pub mod statmsg;

use std::collections::BTreeMap;
use std::time::Duration;

use amt_wire::hello::DeviceUuid;
use amt_wire::time::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use self::config::{
    ClientConfig, DespoolerConfig, HierarchyConfig, HierarchyError, OsBits, SigningCertConfig,
    SiteConfig, SiteKind,
};
pub use self::despooler::{Instruction, InstructionKind};
pub use self::signing::{ALLOWED_ROOT_VALUE, ClientState, PolicyState, SigningCert, root_hash};
use self::statmsg::StatusMessage;
use crate::events::AmtStatus;
use crate::logs::{LogConfig, LogError, LogId, Logs, ids};

/// A site's public key: the site and the generation of its key pair (`S01#1`).
#[derive(Clone, Debug, Eq, PartialEq, Ord, PartialOrd)]
pub struct PublicKey {
    /// The owning site.
    pub site: String,
    /// The key pair's generation (1 at install, +1 per recovery).
    pub generation: u32,
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.site, self.generation)
    }
}

/// A key file preinst writes (`S01.CT4`) with the public keys in it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct KeyFile {
    /// File name.
    pub name: String,
    /// The keys it holds.
    pub keys: Vec<PublicKey>,
}

/// `preinst.exe` key options (\[V\] KEYPARAM, file names \[V-CB\] PREINST-CB).
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PreinstOption {
    /// `/keyforparent`: `<site>.CT4`, the site's own key, for its parent's `hman.box`.
    Keyforparent,
    /// `/keyforchild`: `<site>.CT5`, the site's own key, for a child's `hman.box`.
    Keyforchild,
    /// `/childkeys`: `<site>.CT6`, its own key and its children's, for a recovering site.
    Childkeys,
    /// `/parentkeys`: `<site>.CT7`, its own key and its parents', for a recovering site.
    Parentkeys,
}

impl PreinstOption {
    /// The file extension it writes.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Keyforparent => "CT4",
            Self::Keyforchild => "CT5",
            Self::Childkeys => "CT6",
            Self::Parentkeys => "CT7",
        }
    }
}

/// Where a copied key file lands in the receiving site's inboxes.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
pub enum KeyFolder {
    /// `<install dir>\inboxes\hman.box`: the hierarchy manager imports it (\[V\] S0-EN).
    #[default]
    #[serde(rename = "hman.box")]
    HmanBox,
    /// `<install dir>\inboxes\hman.box\pubkey`: not looked at (\[V\] S0-EN "not in … pubkey").
    #[serde(rename = "hman.box/pubkey")]
    HmanPubkey,
}

/// What a sending site puts in an instruction (for `send_instruction`).
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Payload {
    /// Site control and status data (inter-site replication).
    SiteData,
    /// A software distribution package.
    Package,
    /// A key exchange instruction.
    KeyExchange,
}

/// A command from a scenario step (preinst, copying a file, a site event, a certificate renewal,
/// a client fix).
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Command {
    /// A site that was not installed is installed: it gets its key pair, publishes it to AD
    /// (if it can) and sends its key exchange instruction and site data to its parent.
    InstallSite(String),
    /// A site is recovered with a new key pair; its key store is lost; it sends its new key
    /// exchange instruction and site data to its parent.
    RecoverSite(String),
    /// `preinst /<option>` on `site`: a key file at the root of the site server's drive.
    Preinst {
        /// Where preinst runs.
        site: String,
        /// Which option.
        option: PreinstOption,
    },
    /// An administrator copies key file `file` from `from`'s drive root to `to`'s inbox folder.
    CopyKey {
        /// File name (`S01.CT4`).
        file: String,
        /// The site where it was written.
        from: String,
        /// The receiving site.
        to: String,
        /// Which folder.
        folder: KeyFolder,
    },
    /// `from` sends an instruction with `payload` to `to`.
    Send {
        /// Sender.
        from: String,
        /// Receiver.
        to: String,
        /// What it carries.
        payload: Payload,
    },
    /// A primary site is configured with a new signing certificate (new key pair) from `root`;
    /// every policy is re-signed.
    RenewSigningCertificate {
        /// The primary site.
        site: String,
        /// The root CA the new certificate chains to.
        root: String,
        /// Days until it expires.
        valid_days: u32,
    },
    /// Every client downloads its policy from its management point.
    PolicyCycle,
    /// A script deletes the value data of `AllowedRootCAHashCode` under `path` (default: the path
    /// of the client's OS).
    ClearAllowedRoot {
        /// The client.
        client: String,
        /// The registry key the script edits.
        path: Option<String>,
    },
    /// The client is reinstalled with the current signing certificate (`CCMSetup.exe /native
    /// SMSSIGNCERT=…`): it trusts the certificate and pins its root.
    ReinstallClient(String),
}

/// One site's state.
#[derive(Clone, Debug)]
pub struct SiteState {
    config: SiteConfig,
    installed: bool,
    generation: u32,
    known_keys: BTreeMap<String, PublicKey>,
    hman_box: Vec<KeyFile>,
    hman_pubkey: Vec<KeyFile>,
    drive_root: Vec<KeyFile>,
    receive: Vec<Instruction>,
    max_receive: usize,
    deleted: usize,
    executed: usize,
    received_site_data: BTreeMap<String, u32>,
    packages: u32,
    logs: Logs,
    signing: Option<SigningCert>,
    expired_reported: bool,
    signing_serial: u32,
    policies_resigned: u32,
    policy_errors_reported: u32,
    amt_records: BTreeMap<DeviceUuid, AmtStatus>,
}

impl SiteState {
    /// The site's configuration.
    pub fn config(&self) -> &SiteConfig {
        &self.config
    }

    /// Whether the site is installed.
    pub fn installed(&self) -> bool {
        self.installed
    }

    /// The site's current public key.
    pub fn key(&self) -> PublicKey {
        PublicKey {
            site: self.config.code.clone(),
            generation: self.generation,
        }
    }

    /// The site's logs.
    pub fn logs(&self) -> &Logs {
        &self.logs
    }

    /// Instruction files in `despoolr.box\receive` now.
    pub fn receive_box(&self) -> &[Instruction] {
        &self.receive
    }

    /// The most files `despoolr.box\receive` held at once.
    pub fn max_receive(&self) -> usize {
        self.max_receive
    }

    /// Instructions deleted after their last retry.
    pub fn deleted(&self) -> usize {
        self.deleted
    }

    /// Instructions verified and executed.
    pub fn executed(&self) -> usize {
        self.executed
    }

    /// Site data instructions executed, by sending site.
    pub fn received_site_data(&self) -> &BTreeMap<String, u32> {
        &self.received_site_data
    }

    /// Packages received.
    pub fn packages(&self) -> u32 {
        self.packages
    }

    /// Keys in the site's key store, by site.
    pub fn known_keys(&self) -> &BTreeMap<String, PublicKey> {
        &self.known_keys
    }

    /// Files at the root of the site server's drive (preinst output).
    pub fn drive_root(&self) -> &[KeyFile] {
        &self.drive_root
    }

    /// Files lying in `hman.box\pubkey` (never imported).
    pub fn hman_pubkey(&self) -> &[KeyFile] {
        &self.hman_pubkey
    }

    /// The current signing certificate (primary sites in native mode).
    pub fn signing(&self) -> Option<&SigningCert> {
        self.signing.as_ref()
    }

    /// How many times policies were re-signed (sum of policies over renewals).
    pub fn policies_resigned(&self) -> u32 {
        self.policies_resigned
    }

    /// Policy authentication failures clients reported to this site's management point.
    pub fn policy_errors_reported(&self) -> u32 {
        self.policy_errors_reported
    }

    /// The site's record of AMT devices (replicated from the service point's site, or its own).
    pub fn amt_records(&self) -> &BTreeMap<DeviceUuid, AmtStatus> {
        &self.amt_records
    }

    fn path(&self, file: &str) -> String {
        format!(
            "{}\\inboxes\\despoolr.box\\receive\\{file}",
            self.config.install_dir
        )
    }
}

/// The hierarchy.
#[derive(Clone, Debug)]
pub struct Hierarchy {
    config: HierarchyConfig,
    sites: BTreeMap<String, SiteState>,
    clients: BTreeMap<String, ClientState>,
    status: Vec<StatusMessage>,
    next_file: u32,
    next_daily: Option<Timestamp>,
    log_errors: Vec<LogError>,
}

impl Hierarchy {
    /// The hierarchy of `config` at `now` (the start of the run): installed sites have their keys
    /// (published to AD where they can), sites marked `keys_exchanged` and their parents know each
    /// other's key, primary sites in native mode have their signing certificate, clients are
    /// installed and pinned. Logs are framed by `logs`.
    pub fn new(
        config: HierarchyConfig,
        logs: &LogConfig,
        now: Timestamp,
    ) -> Result<Self, HierarchyError> {
        config.validate()?;
        let mut h = Self {
            sites: BTreeMap::new(),
            clients: BTreeMap::new(),
            status: Vec::new(),
            next_file: 0,
            next_daily: None,
            log_errors: Vec::new(),
            config,
        };
        for s in h.config.sites.clone() {
            let code = s.code.clone();
            let state = SiteState {
                installed: s.installed,
                generation: 1,
                known_keys: BTreeMap::new(),
                hman_box: Vec::new(),
                hman_pubkey: Vec::new(),
                drive_root: Vec::new(),
                receive: Vec::new(),
                max_receive: 0,
                deleted: 0,
                executed: 0,
                received_site_data: BTreeMap::new(),
                packages: 0,
                logs: Logs::new(logs.clone()),
                signing: None,
                expired_reported: false,
                signing_serial: 0,
                policies_resigned: 0,
                policy_errors_reported: 0,
                amt_records: BTreeMap::new(),
                config: s.clone(),
            };
            h.sites.insert(code.clone(), state);
            if s.installed {
                h.publish_key(&code, now);
            }
            if let Some(cert) = &s.signing_certificate {
                h.install_signing_cert(&code, &cert.root, cert.valid_days, now);
                h.next_daily = Some(now);
            }
        }
        for s in h.config.sites.clone() {
            if let (true, Some(parent)) = (s.keys_exchanged, &s.parent) {
                h.exchange_keys(&s.code, parent);
            }
        }
        for c in h.config.clients.clone() {
            h.install_client(&c, now);
        }
        Ok(h)
    }

    /// The configuration.
    pub fn config(&self) -> &HierarchyConfig {
        &self.config
    }

    /// Site `code`.
    pub fn site(&self, code: &str) -> Option<&SiteState> {
        self.sites.get(code)
    }

    /// Every site, by code.
    pub fn sites(&self) -> &BTreeMap<String, SiteState> {
        &self.sites
    }

    /// Client `name`.
    pub fn client(&self, name: &str) -> Option<&ClientState> {
        self.clients.get(name)
    }

    /// Every client, by name.
    pub fn clients(&self) -> &BTreeMap<String, ClientState> {
        &self.clients
    }

    /// Every status message raised, in order.
    pub fn status_messages(&self) -> &[StatusMessage] {
        &self.status
    }

    /// Lines that could not be written (a catalog mistake; tests keep this empty).
    pub fn log_errors(&self) -> &[LogError] {
        &self.log_errors
    }

    /// The code of the site hosting the out-of-band service point.
    pub fn service_point_site(&self) -> Option<String> {
        self.config.service_point_site().map(|s| s.code.clone())
    }

    /// Runs `command` at `now` (then [`Self::advance`] runs what became due).
    pub fn apply(&mut self, command: &Command, now: Timestamp) -> Result<(), HierarchyError> {
        match command {
            Command::InstallSite(code) => {
                let site = self.site_mut(code)?;
                site.installed = true;
                self.publish_key(code, now);
                self.announce_to_parent(code, now);
            }
            Command::RecoverSite(code) => {
                let site = self.site_mut(code)?;
                site.generation += 1;
                site.known_keys.clear();
                site.installed = true;
                self.emit(code, ids::HMAN_NEW_KEYS, &[("site", code)], now);
                self.publish_key(code, now);
                self.announce_to_parent(code, now);
            }
            Command::Preinst { site, option } => self.preinst(site, *option)?,
            Command::CopyKey {
                file,
                from,
                to,
                folder,
            } => self.copy_key(file, from, to, *folder, now)?,
            Command::Send { from, to, payload } => {
                let kind = match payload {
                    Payload::SiteData => InstructionKind::SiteData,
                    Payload::Package => InstructionKind::Package,
                    Payload::KeyExchange => InstructionKind::KeyExchange,
                };
                self.site_mut(from)?;
                self.site_mut(to)?;
                self.send(from, to, kind, now);
            }
            Command::RenewSigningCertificate {
                site,
                root,
                valid_days,
            } => self.renew_signing_cert(site, root, *valid_days, now)?,
            Command::PolicyCycle => {
                let names: Vec<String> = self.clients.keys().cloned().collect();
                for name in names {
                    self.policy_cycle(&name, now);
                }
            }
            Command::ClearAllowedRoot { client, path } => {
                self.clear_allowed_root(client, path.as_deref(), now)?;
            }
            Command::ReinstallClient(client) => self.reinstall_client(client, now)?,
        }
        Ok(())
    }

    /// When the next despooler retry or daily check is due.
    pub fn next_due(&self) -> Option<Timestamp> {
        let retries = self
            .sites
            .values()
            .flat_map(|s| s.receive.iter().map(|i| i.due))
            .min();
        match (retries, self.next_daily) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs everything due at or before `now`, in time order, each at its own due time.
    pub fn advance(&mut self, now: Timestamp) {
        while let Some(due) = self.next_due().filter(|d| *d <= now) {
            if self.next_daily == Some(due) {
                self.daily_check(due);
                self.next_daily = Some(due + Duration::from_secs(86_400));
                continue;
            }
            self.despool_due(due);
        }
    }

    /// The service point's site sends its record of device `uuid` (AMT status `status`) to its
    /// parent ("out of band management site replication"); it keeps its own record too.
    pub fn replicate_amt_status(&mut self, uuid: DeviceUuid, status: AmtStatus, now: Timestamp) {
        let Some(sp) = self.service_point_site() else {
            return;
        };
        if let Some(site) = self.sites.get_mut(&sp) {
            site.amt_records.insert(uuid, status);
        }
        let Some(parent) = self.sites.get(&sp).and_then(|s| s.config.parent.clone()) else {
            return;
        };
        let status_text = status.to_string();
        let uuid_text = uuid.to_string();
        self.emit(
            &sp,
            ids::OOB_REPLICATE,
            &[
                ("uuid", &uuid_text),
                ("status", &status_text),
                ("site", &parent),
            ],
            now,
        );
        self.send(
            &sp,
            &parent,
            InstructionKind::AmtRecord { uuid, status },
            now,
        );
    }

    /// Whether client `name` holds an accepted policy (an unknown client: `None`).
    pub fn client_has_policy(&self, name: &str) -> Option<bool> {
        self.clients
            .get(name)
            .map(|c| c.policy == PolicyState::Accepted && c.managed)
    }

    /// Runs a policy cycle for client `name` now (the in-band path evaluates policy first).
    pub fn policy_cycle_for(&mut self, name: &str, now: Timestamp) {
        if self.clients.contains_key(name) {
            self.policy_cycle(name, now);
        }
    }

    fn site_mut(&mut self, code: &str) -> Result<&mut SiteState, HierarchyError> {
        self.sites
            .get_mut(code)
            .ok_or_else(|| HierarchyError::UnknownSite {
                code: code.to_owned(),
            })
    }

    /// Writes catalog line `id` into site `code`'s logs.
    fn emit(&mut self, code: &str, id: LogId, args: &[(&str, &str)], now: Timestamp) {
        if let Some(site) = self.sites.get_mut(code)
            && let Err(e) = site.logs.emit(id, args, now)
        {
            self.log_errors.push(e);
        }
    }

    /// Raises status message `id` at site `code` and writes its STATMSG line.
    fn raise(&mut self, code: &str, id: u32, istr: Vec<String>, now: Timestamp) {
        let Some(def) = statmsg::definition(id) else {
            return;
        };
        let Some(site) = self.sites.get(code) else {
            return;
        };
        let system = site.config.server_name();
        let cfg = site.logs.config();
        let tid = match def.component {
            "SMS_DESPOOLER" => cfg.despool_thread,
            "SMS_POLICY_PROVIDER" => cfg.policy_provider_thread,
            _ => cfg.proxy_thread,
        }
        .to_string();
        let pid = self.config.statmsg_pid.to_string();
        let gmt = crate::logs::statmsg_gmt(now);
        let istrs = statmsg::render_istrs(&istr);
        self.emit(
            code,
            def.line,
            &[
                ("system", &system),
                ("site", code),
                ("pid", &pid),
                ("tid", &tid),
                ("gmtdate", &gmt),
                ("istrs", &istrs),
            ],
            now,
        );
        self.status.push(StatusMessage {
            site: code.to_owned(),
            component: def.component.to_owned(),
            id,
            severity: def.severity,
            istr,
            at: now,
        });
    }

    /// Publishes site `code`'s current key to AD, when its forest's schema is extended and it
    /// publishes.
    fn publish_key(&mut self, code: &str, now: Timestamp) {
        let Some(site) = self.sites.get(code) else {
            return;
        };
        if site.config.ad_schema_extended && site.config.publish_to_ad {
            let forest = site.config.forest.clone();
            self.emit(
                code,
                ids::HMAN_KEY_PUBLISHED,
                &[("site", code), ("forest", &forest)],
                now,
            );
        }
    }

    /// The key AD in `receiver`'s forest holds for `sender` (the sender's current key), if the
    /// lookup can work: both sites in the same forest with the schema extended, the sender
    /// installed and publishing (\[V\] S0-EN, SMS03-KEYS).
    fn ad_key(&self, receiver: &str, sender: &str) -> Option<PublicKey> {
        let r = self.sites.get(receiver)?;
        let s = self.sites.get(sender)?;
        (s.installed
            && s.config.publish_to_ad
            && s.config.ad_schema_extended
            && r.config.ad_schema_extended
            && s.config.forest == r.config.forest)
            .then(|| s.key())
    }

    fn exchange_keys(&mut self, a: &str, b: &str) {
        let (Some(ka), Some(kb)) = (
            self.sites.get(a).map(SiteState::key),
            self.sites.get(b).map(SiteState::key),
        ) else {
            return;
        };
        if let Some(s) = self.sites.get_mut(a) {
            s.known_keys.insert(b.to_owned(), kb);
        }
        if let Some(s) = self.sites.get_mut(b) {
            s.known_keys.insert(a.to_owned(), ka);
        }
    }

    /// A newly installed (or recovered) site sends its key exchange instruction and its site
    /// data to its parent.
    fn announce_to_parent(&mut self, code: &str, now: Timestamp) {
        let Some(parent) = self.sites.get(code).and_then(|s| s.config.parent.clone()) else {
            return;
        };
        self.send(code, &parent, InstructionKind::KeyExchange, now);
        self.send(code, &parent, InstructionKind::SiteData, now);
    }

    fn preinst(&mut self, code: &str, option: PreinstOption) -> Result<(), HierarchyError> {
        let own = self.site_mut(code)?.key();
        let mut keys = vec![own];
        match option {
            PreinstOption::Keyforparent | PreinstOption::Keyforchild => {}
            PreinstOption::Childkeys => {
                let children: Vec<String> = self
                    .config
                    .sites
                    .iter()
                    .filter(|s| self.config.is_ancestor(code, &s.code))
                    .map(|s| s.code.clone())
                    .collect();
                let site = self.site_mut(code)?;
                keys.extend(
                    children
                        .iter()
                        .filter_map(|c| site.known_keys.get(c).cloned()),
                );
            }
            PreinstOption::Parentkeys => {
                let parents: Vec<String> = self
                    .config
                    .sites
                    .iter()
                    .filter(|s| self.config.is_ancestor(&s.code, code))
                    .map(|s| s.code.clone())
                    .collect();
                let site = self.site_mut(code)?;
                keys.extend(
                    parents
                        .iter()
                        .filter_map(|p| site.known_keys.get(p).cloned()),
                );
            }
        }
        let name = format!("{code}.{}", option.extension());
        let site = self.site_mut(code)?;
        site.drive_root.retain(|f| f.name != name);
        site.drive_root.push(KeyFile { name, keys });
        Ok(())
    }

    fn copy_key(
        &mut self,
        file: &str,
        from: &str,
        to: &str,
        folder: KeyFolder,
        now: Timestamp,
    ) -> Result<(), HierarchyError> {
        let source = self.site_mut(from)?;
        let key_file = source
            .drive_root
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(file))
            .cloned()
            .ok_or_else(|| HierarchyError::NoSuchFile {
                file: file.to_owned(),
                place: format!("the drive root of {from}'s site server"),
            })?;
        let target = self.site_mut(to)?;
        match folder {
            KeyFolder::HmanPubkey => target.hman_pubkey.push(key_file),
            KeyFolder::HmanBox => {
                target.hman_box.push(key_file);
                self.hierarchy_manager(to, now);
            }
        }
        Ok(())
    }

    /// The hierarchy manager of site `code` imports the key files lying in its `hman.box`.
    fn hierarchy_manager(&mut self, code: &str, now: Timestamp) {
        let Some(site) = self.sites.get_mut(code) else {
            return;
        };
        let files = std::mem::take(&mut site.hman_box);
        let dir = format!("{}\\inboxes\\hman.box", site.config.install_dir);
        for file in files {
            for key in &file.keys {
                if key.site == code {
                    continue;
                }
                if let Some(site) = self.sites.get_mut(code) {
                    site.known_keys.insert(key.site.clone(), key.clone());
                }
                let path = format!("{dir}\\{}", file.name);
                let sender = key.site.clone();
                self.emit(
                    code,
                    ids::HMAN_KEY_IMPORTED,
                    &[("site", &sender), ("path", &path)],
                    now,
                );
            }
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod sites_tests;
