//! Fleet memory (PRODUCT.md §7: "10,000 idle beaconing devices in one process under 1 GiB
//! resident"): creates N default-profile devices with distinct UUIDs, MACs, addresses, host names
//! and seeds, lets each send its first Hello (so each holds live beacon state), and prints the
//! process's resident memory from `/proc/self/status` before and after.
//!
//! Usage: `cargo run --release -p amt-sim --example fleet_memory -- [N]` (default 10000), or
//! `cargo xtask bench fleet-memory [N]`, which runs it and checks the 1 GiB bar. Linux only.
//!
//! Output: the inline sizes of the main types, one `phase=…` line per step (resident memory after
//! building the profiles, the devices, the first Hellos, then after the event buffers are drained
//! as the event-log shell would), then the summary line
//! `devices=N vm_rss_kib=… vm_hwm_kib=… baseline_rss_kib=… per_device_bytes=… events=…`.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::ExitCode;

use amt_sim::device::Device;
use amt_sim::profile::DeviceProfile;
use amt_wire::time::Timestamp;

/// 2026-01-01T00:00:00Z.
const T0: Timestamp = Timestamp::from_unix_secs(1_767_225_600);

/// VmRSS and VmHWM of this process, in KiB.
#[derive(Clone, Copy, Debug)]
struct Memory {
    rss_kib: u64,
    hwm_kib: u64,
}

fn memory() -> Result<Memory, String> {
    let bytes = amt_sim::io::read_file(Path::new("/proc/self/status"))
        .map_err(|e| format!("reading /proc/self/status: {e}"))?;
    let text = String::from_utf8_lossy(&bytes);
    let field = |name: &str| -> Result<u64, String> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| format!("no {name} in /proc/self/status"))
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// The default profile made unique for device `i`.
fn profile_for(base: &DeviceProfile, i: u32) -> DeviceProfile {
    let mut p = base.clone();
    let [_, b1, b2, b3] = i.to_be_bytes();
    p.uuid = format!("8c4d6b2a-1f3e-4a5b-9c7d-{i:012x}");
    p.network.wired.mac = format!("00:16:3e:{b1:02x}:{b2:02x}:{b3:02x}");
    p.network.wired.ipv4 = Some(Ipv4Addr::from(0x0a00_0000 | (i + 1)));
    p.network.hostname = format!("amt-device-{i:05}");
    p.system.serial = format!("AMTSIM{i:06}");
    p
}

fn per_device_bytes(from: Memory, to: Memory, n: usize) -> u64 {
    to.rss_kib.saturating_sub(from.rss_kib) * 1024 / (n.max(1) as u64)
}

fn phase(name: &str, from: Memory, n: usize) -> Result<Memory, String> {
    let m = memory()?;
    println!(
        "phase={name} vm_rss_kib={} vm_hwm_kib={} delta_per_device_bytes={}",
        m.rss_kib,
        m.hwm_kib,
        per_device_bytes(from, m, n)
    );
    Ok(m)
}

fn run(n: usize) -> Result<(), String> {
    let base = DeviceProfile::default();
    println!(
        "inline_bytes device={} profile={} nvram={}",
        size_of::<Device>(),
        size_of::<DeviceProfile>(),
        size_of::<amt_sim::state::NvramState>()
    );
    let baseline = memory()?;
    println!(
        "phase=baseline vm_rss_kib={} vm_hwm_kib={}",
        baseline.rss_kib, baseline.hwm_kib
    );
    let count = u32::try_from(n).map_err(|_| format!("{n} devices is too many"))?;

    let profiles: Vec<DeviceProfile> = (0..count).map(|i| profile_for(&base, i)).collect();
    let m = phase("profiles", baseline, n)?;

    let mut devices = Vec::with_capacity(n);
    for (i, p) in profiles.into_iter().enumerate() {
        let dev = Device::new(p, None, i as u64, T0).map_err(|e| format!("device {i}: {e}"))?;
        devices.push(dev);
    }
    let m = phase("devices", m, n)?;

    let mut hellos = 0usize;
    for dev in &mut devices {
        if dev.poll_hello(T0).is_some() {
            hellos += 1;
        }
    }
    if hellos != n {
        return Err(format!(
            "only {hellos} of {n} devices sent their first Hello"
        ));
    }
    let m = phase("first-hello", m, n)?;

    let events: usize = devices.iter_mut().map(|d| d.drain_events().len()).sum();
    phase("events-drained", m, n)?;

    // Every device is still beaconing: its next Hello is due one minute later.
    let beaconing = devices
        .iter()
        .filter(|d| d.next_hello_due().is_some_and(|due| due > T0))
        .count();
    if beaconing != n {
        return Err(format!(
            "only {beaconing} of {n} devices are still beaconing"
        ));
    }

    let end = memory()?;
    println!(
        "devices={n} vm_rss_kib={} vm_hwm_kib={} baseline_rss_kib={} per_device_bytes={} events={events}",
        end.rss_kib,
        end.hwm_kib,
        baseline.rss_kib,
        per_device_bytes(baseline, end, n)
    );
    drop(devices);
    Ok(())
}

fn main() -> ExitCode {
    let n = match std::env::args().nth(1).map(|a| a.parse::<usize>()) {
        None => 10_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: fleet_memory [N]   (N > 0 devices, default 10000)");
            return ExitCode::from(2);
        }
    };
    match run(n) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet_memory: {e}");
            ExitCode::FAILURE
        }
    }
}
