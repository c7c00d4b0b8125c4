//! Unit tests of the site hierarchy (`cargo test -p provisioner-core --lib sites`): the despooler
//! cadence, manual key exchange, AD lookup, the 5112 daily check, the client's pin and A-07.

use std::time::Duration;

use amt_wire::time::Timestamp;

use super::*;
use crate::logs::{LogError, LogFile};

const T0: Timestamp = Timestamp::from_unix_secs(1_800_000_000);

fn site(code: &str, kind: SiteKind, parent: Option<&str>) -> SiteConfig {
    SiteConfig {
        code: code.into(),
        kind,
        parent: parent.map(Into::into),
        ..SiteConfig::default()
    }
}

fn p01_s01(installed: bool) -> HierarchyConfig {
    let mut s01 = site("S01", SiteKind::Secondary, Some("P01"));
    s01.installed = installed;
    HierarchyConfig {
        sites: vec![site("P01", SiteKind::Primary, None), s01],
        ..HierarchyConfig::default()
    }
}

fn count(h: &Hierarchy, site: &str, id: u32) -> usize {
    h.status_messages()
        .iter()
        .filter(|m| m.site == site && m.id == id)
        .count()
}

fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

#[test]
fn sites_secondary_without_key_is_retried_101_times_then_deleted() -> Result<(), HierarchyError> {
    let mut h = Hierarchy::new(p01_s01(false), &LogConfig::default(), T0)?;
    h.apply(&Command::InstallSite("S01".into()), T0)?;
    h.advance(T0);
    let p01 = h
        .site("P01")
        .ok_or("P01")
        .map_err(|_| HierarchyError::Invalid {
            message: "P01".into(),
        })?;
    assert_eq!(p01.receive_box().len(), 2);
    // Just before the last retry both files are still there; at 8 h 20 min they are deleted.
    h.advance(T0 + Duration::from_secs(100 * 300 - 1));
    assert_eq!(h.site("P01").map(|s| s.receive_box().len()), Some(2));
    h.advance(T0 + hours(9));
    let p01 = h.site("P01").map(|s| (s.receive_box().len(), s.deleted()));
    assert_eq!(p01, Some((0, 2)));
    assert_eq!(count(&h, "P01", 4404), 101);
    assert_eq!(count(&h, "P01", 4405), 101);
    let messages = h
        .site("P01")
        .map(|s| s.logs().messages(LogFile::Despool))
        .unwrap_or_default();
    assert!(
        messages.contains(
            &"Cannot find valid public key for key exchange instruction coming from site S01"
                .to_owned()
        )
    );
    assert!(messages.iter().any(|m| m.starts_with("Will retry instruction C:\\Program Files\\Microsoft Configuration Manager\\inboxes\\despoolr.box\\receive\\ds_") && m.ends_with(" 100 more times, the next retry is in about 5 minutes")));
    assert!(!messages.iter().any(|m| m.contains(" 0 more times")));
    let lines = h
        .site("P01")
        .map(|s| s.logs().lines(LogFile::Despool))
        .unwrap_or_default();
    assert!(
        lines.iter().all(|l| l.starts_with('~')),
        "{:?}",
        lines.first()
    );
    assert!(h.log_errors().is_empty(), "{:?}", h.log_errors());
    Ok(())
}

#[test]
fn sites_key_copied_to_hman_box_fixes_at_the_next_retry_but_pubkey_does_not()
-> Result<(), HierarchyError> {
    for (folder, fixed) in [(KeyFolder::HmanBox, true), (KeyFolder::HmanPubkey, false)] {
        let mut h = Hierarchy::new(p01_s01(false), &LogConfig::default(), T0)?;
        h.apply(&Command::InstallSite("S01".into()), T0)?;
        h.advance(T0 + hours(1));
        let t = T0 + hours(1);
        h.apply(
            &Command::Preinst {
                site: "S01".into(),
                option: PreinstOption::Keyforparent,
            },
            t,
        )?;
        h.apply(
            &Command::CopyKey {
                file: "S01.CT4".into(),
                from: "S01".into(),
                to: "P01".into(),
                folder,
            },
            t,
        )?;
        h.advance(t + Duration::from_secs(300));
        let executed = h.site("P01").map(SiteState::executed);
        assert_eq!(executed, Some(if fixed { 2 } else { 0 }), "{folder:?}");
        h.advance(T0 + hours(9));
        assert_eq!(
            h.site("P01").map(SiteState::deleted),
            Some(if fixed { 0 } else { 2 })
        );
    }
    Ok(())
}

#[test]
fn sites_ad_lookup_works_in_one_forest_only() -> Result<(), HierarchyError> {
    for (forest, verified) in [("corp.amt-sim.test", true), ("other.test", false)] {
        let mut cfg = p01_s01(false);
        for s in &mut cfg.sites {
            s.ad_schema_extended = true;
        }
        cfg.sites[1].forest = forest.into();
        let mut h = Hierarchy::new(cfg, &LogConfig::default(), T0)?;
        h.apply(&Command::InstallSite("S01".into()), T0)?;
        h.advance(T0);
        assert_eq!(
            h.site("P01").map(SiteState::executed),
            Some(if verified { 2 } else { 0 })
        );
        assert_eq!(count(&h, "P01", 4404) > 0, !verified);
    }
    Ok(())
}

#[test]
fn sites_5112_is_raised_daily_within_ten_days_with_the_days_left() -> Result<(), HierarchyError> {
    let mut cfg = p01_s01(true);
    cfg.sites[0].signing_certificate = Some(SigningCertConfig {
        root: "corp-root".into(),
        valid_days: 12,
    });
    let mut h = Hierarchy::new(cfg, &LogConfig::default(), T0)?;
    h.advance(T0 + hours(14 * 24));
    let days: Vec<String> = h
        .status_messages()
        .iter()
        .filter(|m| m.id == 5112)
        .map(|m| m.istr[1].clone())
        .collect();
    assert_eq!(days, ["10", "9", "8", "7", "6", "5", "4", "3", "2", "1"]);
    Ok(())
}

#[test]
fn sites_client_refuses_another_root_and_only_the_right_registry_path_fixes_it()
-> Result<(), HierarchyError> {
    let mut cfg = p01_s01(true);
    cfg.sites[0].signing_certificate = Some(SigningCertConfig {
        root: "corp-root".into(),
        valid_days: 365,
    });
    cfg.clients.push(ClientConfig {
        name: "PC-01".into(),
        site: "P01".into(),
        os_bits: OsBits::Bits64,
        pinned_root: None,
    });
    let mut h = Hierarchy::new(cfg, &LogConfig::default(), T0)?;
    let renew = |root: &str| Command::RenewSigningCertificate {
        site: "P01".into(),
        root: root.into(),
        valid_days: 365,
    };
    h.apply(&renew("corp-root"), T0)?;
    h.apply(&Command::PolicyCycle, T0)?;
    assert_eq!(
        h.client_has_policy("PC-01"),
        Some(true),
        "same root: accepted"
    );
    h.apply(&renew("new-root"), T0)?;
    h.apply(&Command::PolicyCycle, T0)?;
    assert_eq!(h.client_has_policy("PC-01"), Some(false));
    assert_eq!(h.client("PC-01").map(|c| c.reported_errors), Some(1));
    h.apply(
        &Command::ClearAllowedRoot {
            client: "PC-01".into(),
            path: Some(config::SECURITY_KEY_32.into()),
        },
        T0,
    )?;
    h.apply(&Command::PolicyCycle, T0)?;
    assert_eq!(
        h.client_has_policy("PC-01"),
        Some(false),
        "wrong path: no effect"
    );
    h.apply(
        &Command::ClearAllowedRoot {
            client: "PC-01".into(),
            path: None,
        },
        T0,
    )?;
    h.apply(&Command::PolicyCycle, T0)?;
    assert_eq!(h.client_has_policy("PC-01"), Some(true));
    let pin = h.client("PC-01").and_then(|c| c.pin().map(str::to_owned));
    assert_eq!(pin, Some(root_hash("new-root")));
    Ok(())
}

#[test]
fn sites_child_primary_option_from_the_parent_is_refused() {
    let cfg = HierarchyConfig {
        sites: vec![
            site("P01", SiteKind::Primary, None),
            site("P02", SiteKind::Primary, Some("P01")),
        ],
        oob_service_point: Some("P02".into()),
        configured_from: Some("P01".into()),
        ..HierarchyConfig::default()
    };
    assert_eq!(
        cfg.validate().map_err(|e| e.id()),
        Err("hierarchy/child-site-option")
    );
    let on_secondary = HierarchyConfig {
        oob_service_point: Some("S01".into()),
        ..p01_s01(true)
    };
    assert_eq!(
        on_secondary.validate().map_err(|e| e.id()),
        Err("hierarchy/invalid")
    );
}

/// A catalog row, its sample arguments and the quote it must render.
type Quote = (LogId, &'static [(&'static str, &'static str)], &'static str);

/// The verbatim site lines equal the quotes of `reference/configmgr-sites.md` A.1.2 byte for byte
/// (sample values of the sources filled in; the `~` of despool.log is framing).
#[test]
fn sites_verbatim_lines_equal_the_reference_quotes() -> Result<(), LogError> {
    let cases: &[Quote] = &[
        (
            ids::K_01_NO_KEY_EXCHANGE,
            &[("site", "S01")],
            "Cannot find valid public key for key exchange instruction coming from site S01",
        ),
        (
            ids::K_01_RETRY_UNTRUSTED,
            &[(
                "path",
                "C:\\SMS\\inboxes\\despoolr.box\\receive\\ds_1vfda.ist",
            )],
            "Retry the instruction (C:\\SMS\\inboxes\\despoolr.box\\receive\\ds_1vfda.ist) because this site does not allow untrusted child sites.",
        ),
        (
            ids::K_01_RETRY_COUNT,
            &[
                (
                    "path",
                    "C:\\SMS\\inboxes\\despoolr.box\\receive\\ds_1vfda.ist",
                ),
                ("count", "100"),
            ],
            "Will retry instruction C:\\SMS\\inboxes\\despoolr.box\\receive\\ds_1vfda.ist 100 more times, the next retry is in about 5 minutes",
        ),
        (
            ids::K_01_DEFERRED,
            &[
                (
                    "path",
                    "E:\\ConfigMgr\\inboxes\\despoolr.box\\receive\\ds_3kyyh.sni",
                ),
                ("when", "5/16/2016 12:29:11 PM Eastern Daylight Time"),
            ],
            "Instruction E:\\ConfigMgr\\inboxes\\despoolr.box\\receive\\ds_3kyyh.sni won't be processed till 5/16/2016 12:29:11 PM Eastern Daylight Time",
        ),
        (
            ids::K_01_VERIFY,
            &[
                (
                    "path",
                    "C:\\SMS\\inboxes\\despoolr.box\\receive\\ds_1vfda.ist",
                ),
                ("kind", "MICROSOFT|SMS|MINIJOBINSTRUCTION|TRANSFER"),
            ],
            "Verifying signature for instruction C:\\SMS\\inboxes\\despoolr.box\\receive\\ds_1vfda.ist of type MICROSOFT|SMS|MINIJOBINSTRUCTION|TRANSFER",
        ),
        (
            ids::K_00_SIG_OK,
            &[("site", "CS1")],
            "Signature checked out OK for instruction coming from site CS1, proceed with the instruction execution.",
        ),
        (
            ids::K_00_FOUND,
            &[("file", "202sqcs1.sni")],
            "Found ready instruction 202sqcs1.sni",
        ),
        (
            ids::K_00_EXEC,
            &[("kind", "MICROSOFT|SMS|MINIJOBINSTRUCTION|PACKAGE")],
            "Executing instruction of type MICROSOFT|SMS|MINIJOBINSTRUCTION|PACKAGE",
        ),
        (
            ids::K_00_DONE,
            &[],
            "Despooler successfully executed one instruction.",
        ),
    ];
    for (id, args, quote) in cases {
        let mut logs = Logs::new(LogConfig::default());
        logs.emit(*id, args, T0)?;
        assert_eq!(
            logs.messages(LogFile::Despool),
            vec![(*quote).to_owned()],
            "{id}"
        );
    }
    // The despooler's time format is the current-branch one.
    let t = Timestamp::from_unix_secs(1_463_415_551); // 2016-05-16 16:19:11 UTC
    assert_eq!(
        crate::logs::despooler_time(t, 240, "Eastern Daylight Time"),
        "5/16/2016 12:19:11 PM Eastern Daylight Time"
    );
    assert_eq!(crate::logs::statmsg_gmt(t), "Mon May 16 16:19:11.000 2016");
    Ok(())
}
