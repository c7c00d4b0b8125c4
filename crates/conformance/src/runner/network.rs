//! The socket backends: `--network` (the device as amt-sim's tokio shell on loopback, the
//! service point over TCP) and `--device HOST:PORT` (an external device).

use std::net::SocketAddr;

use crate::observe::Observation;
use crate::scenario::LoadedScenario;

/// Runs `loaded` over loopback sockets. `Ok(None)`: the scenario cannot run this way.
pub fn run_loopback(loaded: &LoadedScenario) -> Result<Option<Observation>, String> {
    let _ = loaded;
    Err("skip:the network backend is not built yet".to_owned())
}

/// Runs the device-side checks of `loaded` against the external device at `addr`.
pub fn run_external(
    loaded: &LoadedScenario,
    addr: SocketAddr,
    admin_password: Option<&str>,
) -> Result<Option<Observation>, String> {
    let _ = (loaded, addr, admin_password);
    Err("skip:the external-device backend is not built yet".to_owned())
}
