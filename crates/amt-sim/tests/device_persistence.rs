//! NVRAM persistence: a device provisioned in memory survives being dropped and recreated from
//! its state directory; `Unprovision` returns it to factory state (also on disk); and `kill -9` of
//! a process that saves in a loop never leaves a torn state file.

mod device_support;

use std::process::{Command, Stdio};
use std::time::Duration;

use amt_sim::device::Device;
use amt_sim::io::store::StateStore;
use amt_sim::profile::DeviceProfile;
use amt_sim::state::{NvramState, ProvisioningState};
use device_support::*;
use rand::{Rng, SeedableRng};

const CHILD_ENV: &str = "AMT_SIM_STORE_WRITER_DIR";

fn unprovision_body() -> String {
    let n = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationService";
    format!(
        "<Envelope xmlns=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" \
xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\"><Header><a:Action>{n}/Unprovision</a:Action><a:To>/wsman</a:To>\
<w:ResourceURI>{n}</w:ResourceURI><a:MessageID>9</a:MessageID></Header><Body><r:Unprovision_INPUT xmlns:r=\"{n}\">\
<r:ProvisioningMode>1</r:ProvisioningMode></r:Unprovision_INPUT></Body></Envelope>"
    )
}

#[test]
fn provisioned_state_survives_restart_and_unprovision_returns_to_factory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let open = || StateStore::open(dir.path()).expect("store");
    let mut dev = Device::new(DeviceProfile::default(), Some(open()), 7, T0).expect("device");
    let realm = dev.state().digest_realm().to_owned();
    activate(&mut dev, T0);
    assert_eq!(dev.provisioning_state(), ProvisioningState::Post);
    drop(dev);

    let mut dev = Device::new(DeviceProfile::default(), Some(open()), 99, T0).expect("reload");
    assert_eq!(dev.provisioning_state(), ProvisioningState::Post);
    assert_eq!(dev.state().digest_realm(), realm);
    let body = get_body("AMT_GeneralSettings");
    assert_eq!(
        digest_plain(&mut dev, &body, "admin", ADMIN_PASSWORD, T0).status,
        200
    );

    // Unprovision with the admin password: back to factory, on disk too.
    let r = digest_plain(&mut dev, &unprovision_body(), "admin", ADMIN_PASSWORD, T0);
    assert_eq!((r.status, return_value(&body_text(&r))), (200, Some(0)));
    assert_eq!(dev.provisioning_state(), ProvisioningState::Pre);
    assert!(dev.next_hello_due().is_some(), "the Hello window reopens");
    drop(dev);
    let dev = Device::new(DeviceProfile::default(), Some(open()), 7, T0).expect("reload");
    assert_eq!(dev.provisioning_state(), ProvisioningState::Pre);
    assert!(dev.state().admin.is_none());
    assert!(dev.state().mebx_password_is_default());
}

#[test]
fn corrupt_state_file_is_an_error_not_a_factory_reset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = StateStore::open(dir.path()).expect("store");
    let dev = Device::new(DeviceProfile::default(), Some(store.clone()), 7, T0).expect("device");
    drop(dev);
    std::fs::write(store.state_path(), b"{\"format\":\"amt-sim-nvram\",\"ver").expect("write");
    let err = Device::new(DeviceProfile::default(), Some(store), 7, T0).map(|_| ());
    assert!(
        matches!(&err, Err(e) if e.id() == "store/corrupt"),
        "{err:?}"
    );
}

/// Saves NVRAM states with increasing counters until `limit` (forever without one).
fn write_loop(dir: &std::path::Path, limit: Option<u32>) {
    let store = StateStore::open(dir).expect("store");
    let dev = Device::new(DeviceProfile::default(), None, 3, T0).expect("device");
    let mut state = dev.state().clone();
    let mut i = 0u32;
    while limit.is_none_or(|l| i < l) {
        state.general.host_name = format!("pw{i}");
        // Make the file a few hundred KiB so a kill often lands mid-write.
        state.configuration_nonce = vec![u8::try_from(i % 251).unwrap_or(0); 64 * 1024];
        store.save(&state).expect("save");
        i = i.wrapping_add(1);
    }
}

#[test]
fn store_writer_child() {
    match std::env::var_os(CHILD_ENV) {
        // Spawned by `kill_nine_never_leaves_a_torn_state`: write until killed.
        Some(dir) => write_loop(std::path::Path::new(&dir), None),
        // Run directly: a short bounded run of the same loop, then the last state loads.
        None => {
            let dir = tempfile::tempdir().expect("tempdir");
            write_loop(dir.path(), Some(5));
            let store = StateStore::open(dir.path()).expect("store");
            let s: Option<NvramState> = store.load().expect("load");
            assert_eq!(s.map(|s| s.general.host_name), Some("pw4".to_owned()));
        }
    }
}

#[test]
#[expect(
    clippy::disallowed_methods,
    reason = "the test waits real time for a child process to be mid-write"
)]
fn kill_nine_never_leaves_a_torn_state() {
    let exe = std::env::current_exe().expect("test binary");
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = StateStore::open(dir.path()).expect("store");
    let mut last_seen = None;
    for round in 0..8 {
        let mut child = Command::new(&exe)
            .args([
                "store_writer_child",
                "--exact",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn writer");
        // Wait until the child has written at least once in this round, then a random moment.
        for _ in 0..500 {
            let s: Option<NvramState> = store.load().ok().flatten();
            let pw = s.map(|s| s.general.host_name);
            if pw.is_some() && (round == 0 || pw != last_seen) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(1..40)));
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let loaded: Option<NvramState> = store
            .load()
            .unwrap_or_else(|e| panic!("round {round}: state torn after kill -9: {e}"));
        let pw = loaded.map(|s| s.general.host_name);
        assert!(
            pw.as_deref().is_some_and(|p| p.starts_with("pw")),
            "round {round}: {pw:?}"
        );
        last_seen = pw;
    }
}
