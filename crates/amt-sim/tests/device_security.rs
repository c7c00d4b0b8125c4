//! Security and durability of the device core: OS randomness (nothing captured before a restart
//! works after it), host-based setup only over the local host interface, and a failed NVRAM write
//! never acknowledged (internal error, rolled back, memory matches disk).

mod device_support;

use amt_sim::conn::DeviceConnection;
use amt_sim::device::{Device, PortKind, Randomness};
use amt_sim::events::{AuthFailure, EventKind};
use amt_sim::io::store::{STATE_FILE, StateStore, TEMP_FILE};
use amt_sim::profile::DeviceProfile;
use amt_sim::state::{NvramState, ProvisioningState};
use amt_wire::http::Response;
use amt_wire::time::Timestamp;
use device_support::*;

const GENERAL: &str = "AMT_GeneralSettings";
const IPS: &str = "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_HostBasedSetupService";

/// The default profile on a host with the HECI/MEI driver (the local interface exists).
fn with_heci() -> DeviceProfile {
    let mut profile = DeviceProfile::default();
    profile.provisioning.heci_driver_present = true;
    profile
}

fn os_device(store: Option<StateStore>) -> Device {
    Device::with_randomness(DeviceProfile::default(), store, Randomness::Os, T0).expect("device")
}

/// `IPS_HostBasedSetupService.Setup` with `password` as the new admin password.
fn setup_body(realm: &str, password: &str) -> String {
    let ha1 = hex::encode(amt_wire::digest::ha1("admin", realm, password));
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Envelope xmlns=\"http://www.w3.org/2003/05/soap-envelope\" \
xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\">\
<Header><a:Action>{IPS}/Setup</a:Action><a:To>/wsman</a:To>\
<w:ResourceURI>{IPS}</w:ResourceURI><a:MessageID>1</a:MessageID>\
<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>\
</Header><Body><r:Setup_INPUT xmlns:r=\"{IPS}\"><r:NetAdminPassEncryptionType>2</r:NetAdminPassEncryptionType>\
<r:NetworkAdminPassword>{ha1}</r:NetworkAdminPassword></r:Setup_INPUT></Body></Envelope>"
    )
}

/// A digest-authenticated request (challenge, answer) on connections made by `connect`.
fn digest_on(
    dev: &mut Device,
    connect: impl Fn(&mut Device) -> DeviceConnection,
    body: &str,
    pass: &str,
    now: Timestamp,
) -> Response {
    let mut conn = connect(dev);
    let out = conn.receive(dev, &post(body, None), now);
    let challenge = responses(&out.send).into_iter().next().expect("a 401");
    assert_eq!(challenge.status, 401);
    let a = answer(&challenge, "admin", pass, "00000001");
    let mut conn = connect(dev);
    let out = conn.receive(dev, &post(body, Some(&a)), now);
    responses(&out.send).into_iter().next().expect("a response")
}

fn network(dev: &mut Device) -> DeviceConnection {
    dev.accept(http_addr(), peer(), T0).expect("accept")
}

fn host_interface(dev: &mut Device) -> DeviceConnection {
    dev.accept_host_interface(PortKind::Http, T0)
        .expect("host interface")
}

#[test]
fn os_randomness_gives_every_start_its_own_realm_and_nonces() {
    let mut a = os_device(None);
    let mut b = os_device(None);
    assert_ne!(a.state().digest_realm(), b.state().digest_realm());
    let challenge = |d: &mut Device| {
        exchange(d, &post(&get_body(GENERAL), None), T0)
            .0
            .headers
            .get("WWW-Authenticate")
            .map(str::to_owned)
    };
    assert_ne!(challenge(&mut a), challenge(&mut b));
    // A seed still repeats exactly.
    let s1 = Device::new(DeviceProfile::default(), None, 5, T0).expect("device");
    let s2 = Device::new(DeviceProfile::default(), None, 5, T0).expect("device");
    assert_eq!(s1.state().digest_realm(), s2.state().digest_realm());
}

#[test]
fn a_header_captured_before_a_restart_is_refused_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let open = || StateStore::open(dir.path()).expect("store");
    let mut dev = os_device(Some(open()));
    let body = get_body(GENERAL);
    let (challenge, _) = exchange(&mut dev, &post(&body, None), T0);
    let captured = post(
        &body,
        Some(&answer(&challenge, "admin", "admin", "00000001")),
    );
    assert_eq!(exchange(&mut dev, &captured, T0).0.status, 200);
    drop(dev);
    // Same NVRAM (same realm), new start: the old header must not work, whatever its body.
    let mut dev = os_device(Some(open()));
    let (r, _) = exchange(&mut dev, &captured, T0);
    assert_eq!(r.status, 401);
    assert!(
        r.headers
            .get("WWW-Authenticate")
            .is_some_and(|h| h.contains("stale=\"true\"")),
        "{:?}",
        r.headers.get("WWW-Authenticate")
    );
    assert!(dev.drain_events().iter().any(|e| matches!(
        e.kind,
        EventKind::AuthFailed {
            reason: AuthFailure::Stale,
            ..
        }
    )));
}

#[test]
fn host_based_setup_is_refused_over_the_network_and_works_over_the_host_interface() {
    let mut dev = device(with_heci());
    let realm = dev.state().digest_realm().to_owned();
    let body = setup_body(&realm, ADMIN_PASSWORD);
    let r = digest_on(&mut dev, network, &body, "admin", T0);
    assert_eq!(r.status, 401, "{}", body_text(&r));
    assert_eq!(dev.provisioning_state(), ProvisioningState::Pre);
    assert!(dev.state().admin.is_none());

    let r = digest_on(&mut dev, host_interface, &body, "admin", T0);
    assert_eq!(
        (r.status, return_value(&body_text(&r))),
        (200, Some(0)),
        "{}",
        body_text(&r)
    );
    assert_eq!(dev.provisioning_state(), ProvisioningState::Post);
}

#[test]
fn the_host_interface_needs_the_heci_driver() {
    let mut profile = DeviceProfile::default();
    profile.provisioning.heci_driver_present = false;
    let mut dev = device(profile);
    let r = dev.accept_host_interface(PortKind::Http, T0).map(|_| ());
    assert_eq!(r.map_err(|e| e.id()), Err("connect/no-host-interface"));
}

#[test]
fn a_failed_nvram_save_is_an_internal_error_and_nothing_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = StateStore::open(dir.path()).expect("store");
    let mut dev = Device::new(with_heci(), Some(store.clone()), 7, T0).expect("dev");
    dev.drain_events();
    // The next save cannot create its temporary file (as with a full disk or a read-only
    // directory; a directory in the way fails even for root).
    std::fs::create_dir(dir.path().join(TEMP_FILE)).expect("block the temp file");
    std::fs::write(dir.path().join(TEMP_FILE).join("x"), b"x").expect("non-empty");
    let realm = dev.state().digest_realm().to_owned();
    let r = digest_on(
        &mut dev,
        host_interface,
        &setup_body(&realm, ADMIN_PASSWORD),
        "admin",
        T0,
    );
    let text = body_text(&r);
    assert_eq!(r.status, 500, "{text}");
    assert!(text.contains("InternalError"), "{text}");
    assert_eq!(dev.provisioning_state(), ProvisioningState::Pre);
    assert!(dev.state().admin.is_none());
    let on_disk: NvramState = store.load().expect("load").expect("saved");
    assert_eq!(&on_disk, dev.state(), "memory matches the disk");
    let events = dev.drain_events();
    assert!(
        events.iter().any(|e| matches!(
            &e.kind,
            EventKind::Stored { ok: false, error: Some(why) } if why.contains(TEMP_FILE)
        )),
        "{events:?}"
    );
    // Once the disk takes writes again, the same request succeeds.
    std::fs::remove_dir_all(dir.path().join(TEMP_FILE)).expect("unblock");
    let r = digest_on(
        &mut dev,
        host_interface,
        &setup_body(&realm, ADMIN_PASSWORD),
        "admin",
        T0,
    );
    assert_eq!(return_value(&body_text(&r)), Some(0));
    let on_disk: NvramState = store.load().expect("load").expect("saved");
    assert_eq!(on_disk.provisioning_state(), ProvisioningState::Post);
    assert!(dir.path().join(STATE_FILE).exists());
}

#[test]
fn a_failed_save_of_a_heci_change_is_an_error_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = StateStore::open(dir.path()).expect("store");
    let mut dev = Device::new(with_heci(), Some(store.clone()), 7, T0).expect("dev");
    std::fs::create_dir(dir.path().join(TEMP_FILE)).expect("block");
    std::fs::write(dir.path().join(TEMP_FILE).join("x"), b"x").expect("non-empty");
    assert_eq!(
        dev.heci_set_otp(b"12345678", T0),
        Err(amt_sim::device::HeciError::StoreFailed)
    );
    assert_eq!(dev.state().otp, None);
    assert_eq!(
        dev.heci_start_configuration(T0),
        Err(amt_sim::device::HeciError::StoreFailed)
    );
    assert_eq!(dev.provisioning_state(), ProvisioningState::Pre);
}

#[test]
fn the_mebx_password_is_never_stored_in_the_clear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut profile = DeviceProfile::default();
    profile.provisioning.mebx_password = "Mebx-P@ss1".into();
    let store = StateStore::open(dir.path()).expect("store");
    let dev = Device::new(profile.clone(), Some(store.clone()), 7, T0).expect("dev");
    assert!(dev.state().mebx_password_matches("Mebx-P@ss1"));
    drop(dev);
    let file = std::fs::read_to_string(dir.path().join(STATE_FILE)).expect("NVRAM file");
    assert!(
        !file.contains("Mebx-P@ss1"),
        "cleartext MEBx password in NVRAM"
    );
    // What is stored (the HA1 for the device's realm) is enough after a restart.
    let dev = Device::new(profile, Some(store), 7, T0).expect("restart");
    assert!(dev.state().mebx_password_matches("Mebx-P@ss1"));
    assert!(!dev.state().mebx_password_matches("admin"));
    assert!(!dev.state().mebx_password_is_default());
}
