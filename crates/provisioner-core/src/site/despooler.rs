//! The despooler of a receiving site: instruction files in `despoolr.box\receive`, signature
//! verification with the sender's key (key store, then AD, after the hierarchy manager imported
//! what lies in `hman.box`), the K-01 lines and status 4404/4405 when no key verifies, a retry
//! about every 5 minutes for the configured count, then deletion (`reference/configmgr-sites.md`
//! A.1.2–A.1.4). The retry count lives in the instruction, so nothing resets it.

use std::time::Duration;

use amt_wire::hello::DeviceUuid;
use amt_wire::time::Timestamp;

use super::{Hierarchy, PublicKey};
use crate::events::AmtStatus;
use crate::logs::ids;

/// What an instruction carries.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum InstructionKind {
    /// A site's key exchange instruction (sent at install and recovery).
    KeyExchange,
    /// Site control and status data (inter-site replication).
    SiteData,
    /// A software distribution package.
    Package,
    /// The out-of-band service point site's record of an AMT device.
    AmtRecord {
        /// The device.
        uuid: DeviceUuid,
        /// Its AMT status at the sending site.
        status: AmtStatus,
    },
}

impl InstructionKind {
    /// The instruction type despool.log prints. `TRANSFER` and `PACKAGE` are documented
    /// (\[V-2003\], \[V-CB\]); the key exchange type name is ours.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::KeyExchange => "MICROSOFT|SMS|MINIJOBINSTRUCTION|KEYEXCHANGE",
            Self::SiteData | Self::AmtRecord { .. } => "MICROSOFT|SMS|MINIJOBINSTRUCTION|TRANSFER",
            Self::Package => "MICROSOFT|SMS|MINIJOBINSTRUCTION|PACKAGE",
        }
    }

    /// Status message when unverifiable: 4404 for key exchange and package instructions, 4405 for
    /// replication data (the B.1 mapping of `configmgr-sites`; the sources disagree, A.1.4).
    fn status_id(&self) -> u32 {
        match self {
            Self::KeyExchange | Self::Package => 4404,
            Self::SiteData | Self::AmtRecord { .. } => 4405,
        }
    }
}

/// One instruction file in a site's `despoolr.box\receive`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Instruction {
    /// File name (`ds_00001.ist`).
    pub file: String,
    /// The sending site.
    pub from: String,
    /// What it carries.
    pub kind: InstructionKind,
    /// The key it is signed with.
    pub signed_with: PublicKey,
    /// Retries left (kept in the instruction, \[V-SMS1\] Q140374); `None` before the first failure.
    pub retries_left: Option<u32>,
    /// When it is next looked at.
    pub due: Timestamp,
}

impl Hierarchy {
    /// `from` signs an instruction with its current key and writes it into `to`'s receive box.
    pub(super) fn send(&mut self, from: &str, to: &str, kind: InstructionKind, now: Timestamp) {
        let Some(key) = self.sites.get(from).map(super::SiteState::key) else {
            return;
        };
        self.next_file += 1;
        let file = format!("ds_{:05x}.ist", self.next_file);
        if let Some(site) = self.sites.get_mut(to) {
            site.receive.push(Instruction {
                file,
                from: from.to_owned(),
                kind,
                signed_with: key,
                retries_left: None,
                due: now,
            });
            site.max_receive = site.max_receive.max(site.receive.len());
        }
    }

    /// Looks at the first instruction due at `due` (sites in code order, files in arrival order).
    pub(super) fn despool_due(&mut self, due: Timestamp) {
        let found = self.sites.iter().find_map(|(code, s)| {
            s.receive
                .iter()
                .position(|i| i.due == due)
                .map(|at| (code.clone(), at))
        });
        let Some((code, at)) = found else {
            return;
        };
        let Some(site) = self.sites.get(&code) else {
            return;
        };
        let Some(ins) = site.receive.get(at).cloned() else {
            return;
        };
        let path = site.path(&ins.file);
        let kind = ins.kind.type_name();
        self.emit(&code, ids::K_00_FOUND, &[("file", &ins.file)], due);
        self.emit(
            &code,
            ids::K_01_VERIFY,
            &[("path", &path), ("kind", kind)],
            due,
        );
        if self.verifies(&code, &ins) {
            self.execute(&code, at, &ins, due);
            return;
        }
        let from = ins.from.clone();
        match ins.kind {
            InstructionKind::KeyExchange => {
                self.emit(&code, ids::K_01_NO_KEY_EXCHANGE, &[("site", &from)], due);
                self.emit(&code, ids::K_01_RETRY_UNTRUSTED, &[("path", &path)], due);
            }
            _ => {
                self.emit(
                    &code,
                    ids::K_01_NO_KEY,
                    &[("path", &path), ("site", &from)],
                    due,
                );
            }
        }
        self.raise(
            &code,
            ins.kind.status_id(),
            vec![from.clone(), path.clone()],
            due,
        );
        let retries = self.config.despooler.retries;
        let interval = Duration::from_secs(self.config.despooler.retry_interval_s);
        let left = ins.retries_left.unwrap_or(retries);
        if left == 0 {
            let count = retries.to_string();
            self.emit(
                &code,
                ids::K_01_DELETED,
                &[("path", &path), ("site", &from), ("count", &count)],
                due,
            );
            if let Some(site) = self.sites.get_mut(&code) {
                site.receive.remove(at);
                site.deleted += 1;
            }
            return;
        }
        let next = due + interval;
        let count = left.to_string();
        self.emit(
            &code,
            ids::K_01_RETRY_COUNT,
            &[("path", &path), ("count", &count)],
            due,
        );
        let bias = self
            .sites
            .get(&code)
            .map_or(0, |s| s.logs.config().bias_minutes);
        let when = crate::logs::despooler_time(next, bias, &self.config.time_zone_name);
        self.emit(
            &code,
            ids::K_01_DEFERRED,
            &[("path", &path), ("when", &when)],
            due,
        );
        if let Some(i) = self
            .sites
            .get_mut(&code)
            .and_then(|s| s.receive.get_mut(at))
        {
            i.retries_left = Some(left - 1);
            i.due = next;
        }
    }

    /// Whether receiver `code` verifies `ins`: secure key exchange not required, or the key found
    /// for the sender (key store first, then AD, which also refreshes the store) is the signing key.
    fn verifies(&mut self, code: &str, ins: &Instruction) -> bool {
        let Some(site) = self.sites.get(code) else {
            return false;
        };
        if !site.config.require_secure_key_exchange {
            return true;
        }
        if site.known_keys.get(&ins.from) == Some(&ins.signed_with) {
            return true;
        }
        match self.ad_key(code, &ins.from) {
            Some(key) if key == ins.signed_with => {
                if let Some(site) = self.sites.get_mut(code) {
                    site.known_keys.insert(ins.from.clone(), key);
                }
                true
            }
            _ => false,
        }
    }

    fn execute(&mut self, code: &str, at: usize, ins: &Instruction, now: Timestamp) {
        let from = ins.from.clone();
        let kind = ins.kind.type_name();
        self.emit(code, ids::K_00_SIG_OK, &[("site", &from)], now);
        self.emit(code, ids::K_00_EXEC, &[("kind", kind)], now);
        let mut record = None;
        if let Some(site) = self.sites.get_mut(code) {
            site.receive.remove(at);
            site.executed += 1;
            match &ins.kind {
                InstructionKind::KeyExchange => {
                    site.known_keys
                        .insert(from.clone(), ins.signed_with.clone());
                }
                InstructionKind::SiteData => {
                    *site.received_site_data.entry(from.clone()).or_default() += 1;
                }
                InstructionKind::Package => site.packages += 1,
                InstructionKind::AmtRecord { uuid, status } => {
                    site.amt_records.insert(*uuid, *status);
                    record = Some((uuid.to_string(), status.to_string()));
                }
            }
        }
        if let Some((uuid, status)) = record {
            self.emit(
                code,
                ids::OOB_RECORD_UPDATED,
                &[("uuid", &uuid), ("site", &from), ("status", &status)],
                now,
            );
        }
        self.emit(code, ids::K_00_DONE, &[], now);
    }
}
