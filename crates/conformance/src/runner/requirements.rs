//! What a scenario needs of the world it runs in ([`Requirement`]), what each arm offers
//! ([`Capabilities`]), and the typed reason a scenario is skipped ([`SkipReason`]).
//!
//! The requirements are computed once from the scenario, its built device profile and (when it
//! builds) its environment, in a fixed order; [`first_unmet`] compares them with an arm's
//! capabilities before anything runs. The first unmet one is the skip reason. Only one thing is
//! found while running: a device that refused a TCP connection, which a socket shell cannot show
//! as a refusal ([`SkipReason::RefusedConnect`]).

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use amt_sim::device::ConnectRefusalKind;
use amt_sim::profile::DeviceProfile;
use amt_wire::hello::DeviceUuid;
use provisioner_core::env::{Environment, ResolveTo};
use serde::{Serialize, Serializer};

use crate::scenario::{FlowStep, HelloWindow, RemovalKind, Scenario};

/// What the arm a scenario runs on offers.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Capabilities {
    /// Time is virtual: Hello windows and long waits replay in no time.
    pub virtual_clock: bool,
    /// Longest wait (step or injected device delay) the arm runs on the wall clock.
    pub max_wall_wait: Duration,
    /// The device is built from the scenario (profile, faults, personality, …), not given.
    pub device_control: bool,
    /// The device reports its own events (TLS verdicts, calls, refusals).
    pub device_events: bool,
    /// Largest fleet.
    pub max_fleet: usize,
    /// Imported records may name an address or port other than the device's, or its second
    /// (wireless) address.
    pub foreign_records: bool,
}

/// Something a scenario needs of the arm, in the order [`requirements`] lists them.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Requirement {
    /// Device settings or flow steps that only a device built from the scenario has.
    DeviceControl(Vec<ControlNeed>),
    /// `expect.wire`: the device's own event log.
    DeviceEvents,
    /// Time that only a virtual clock can give (or a wait longer than the arm's wall limit).
    Clock(ClockNeed),
    /// A flow step that needs the device (Hellos, HECI, a local unprovision).
    Step(StepName),
    /// A fleet of this many devices.
    Fleet(usize),
    /// An imported record that is not simply the device's own address and port.
    ForeignRecord(RecordNeed),
}

/// Why a scenario needs control of the device (each one a phrase of the skip text).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ControlNeed {
    /// `device.profile`.
    ProfileFile,
    /// `device.faults`.
    Faults,
    /// `device.personality`, `amt_version`, `setup_auth`.
    Personality,
    /// `device.hashes`.
    HashList,
    /// `device.network`, `provisioning`, `clock`.
    Settings,
    /// `device.hello`, `uuid`, `fqdn_limit`.
    HelloUuidLimits,
    /// Any other profile key (`ports`, `system`, …).
    OtherSettings,
    /// `fleet`.
    Fleet,
    /// A `hellos` step.
    Hellos,
    /// An `in_band` step.
    Heci,
    /// A `remove: partial` step.
    PartialUnprovision,
}

impl ControlNeed {
    fn phrase(self) -> &'static str {
        match self {
            Self::ProfileFile => "a device profile file",
            Self::Faults => "device faults",
            Self::Personality => "a device personality",
            Self::HashList => "a device hash list",
            Self::Settings => "device network/provisioning/clock settings",
            Self::HelloUuidLimits => "device Hello/UUID/limit settings",
            Self::OtherSettings => "other device settings",
            Self::Fleet => "a fleet",
            Self::Hellos => "Hellos on the virtual clock",
            Self::Heci => "HECI access (in band)",
            Self::PartialUnprovision => "a local partial unprovision",
        }
    }
}

/// Time a wall clock cannot give.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ClockNeed {
    /// A `hellos: <window>` step.
    HelloWindow(Duration),
    /// A `wait` step.
    Wait(Duration),
    /// A `delay` fault of the device.
    DeviceDelay(Duration),
}

/// A flow step named as the scenario writes it (`{"remove":"partial"}`, `"in_band"`).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct StepName(pub String);

/// An imported record loopback cannot model.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum RecordNeed {
    /// The record's address is not the device's.
    Address(IpAddr),
    /// The record's TLS port is not the device's.
    TlsPort(u16),
    /// The site resolves the device to its wireless address.
    Wireless,
}

/// Why a scenario was not run on an arm.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum SkipReason {
    /// A requirement the arm does not meet.
    Unmet {
        /// The requirement.
        requirement: Requirement,
        /// The arm's largest fleet (for [`Requirement::Fleet`]).
        max_fleet: usize,
    },
    /// The device refused a TCP connection, which a socket shell can only accept and close.
    RefusedConnect(ConnectRefusalKind),
}

impl SkipReason {
    /// Stable id.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Unmet { requirement, .. } => match requirement {
                Requirement::DeviceControl(_) => "skip/device-control",
                Requirement::DeviceEvents => "skip/device-events",
                Requirement::Clock(_) => "skip/virtual-clock",
                Requirement::Step(_) => "skip/step-needs-device",
                Requirement::Fleet(_) => "skip/fleet-size",
                Requirement::ForeignRecord(_) => "skip/foreign-record",
            },
            Self::RefusedConnect(_) => "skip/refused-connect",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unmet {
                requirement,
                max_fleet,
            } => match requirement {
                Requirement::DeviceControl(needs) => {
                    let phrases: Vec<&str> = needs.iter().map(|n| n.phrase()).collect();
                    write!(f, "needs {}", phrases.join(", "))
                }
                Requirement::DeviceEvents => f.write_str(
                    "expect.wire needs the device's own event log, which an external device \
                     does not report",
                ),
                Requirement::Clock(ClockNeed::HelloWindow(d)) => {
                    write!(f, "needs the virtual clock (Hello window of {})", span(*d))
                }
                Requirement::Clock(ClockNeed::Wait(d)) => {
                    write!(f, "needs the virtual clock (wait of {})", span(*d))
                }
                Requirement::Clock(ClockNeed::DeviceDelay(d)) => write!(
                    f,
                    "needs the virtual clock (an injected device delay of {})",
                    span(*d)
                ),
                Requirement::Step(StepName(name)) => {
                    write!(f, "the step {name} needs control of the device")
                }
                Requirement::Fleet(n) => write!(
                    f,
                    "a fleet of {n} devices is too many for loopback sockets (at most {max_fleet})"
                ),
                Requirement::ForeignRecord(RecordNeed::Address(ip)) => write!(
                    f,
                    "the imported record's address {ip} is not the device's: the in-process \
                     network models that"
                ),
                Requirement::ForeignRecord(RecordNeed::TlsPort(port)) => write!(
                    f,
                    "the imported record's TLS port {port} is not the device's: the in-process \
                     network models that"
                ),
                Requirement::ForeignRecord(RecordNeed::Wireless) => f.write_str(
                    "the site resolves the device to its wireless address: loopback gives each \
                     device one address (the in-process network has both)",
                ),
            },
            Self::RefusedConnect(reason) => write!(
                f,
                "the device refused a TCP connection ({}), which amt-sim's network shell \
                 can only accept and close (a reset, not a refused connect): needs the \
                 in-process network",
                reason.id()
            ),
        }
    }
}

/// Reports show the reason's text.
impl Serialize for SkipReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `24h`, `90m`, `40s` or `1500ms`.
pub(crate) fn span(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "0s".to_owned(),
        _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        _ => format!("{ms}ms"),
    }
}

/// What `scenario` needs, in the order they are compared: device control, device events, the
/// flow's time, steps that need the device, the fleet, the device's injected delays, then (when
/// the environment built) the imported record of each device (`fleet`: the devices and the
/// environment that imports them).
pub fn requirements(
    scenario: &Scenario,
    profile: &DeviceProfile,
    fleet: Option<(&[DeviceProfile], &Environment)>,
) -> Vec<Requirement> {
    let mut out = Vec::new();
    let control = control_needs(scenario);
    if !control.is_empty() {
        out.push(Requirement::DeviceControl(control));
    }
    out.extend(crate::expect::requirements(&scenario.expect));
    let flow = scenario.flow();
    for step in &flow {
        match step {
            FlowStep::Hellos(HelloWindow::Within(d)) => {
                out.push(Requirement::Clock(ClockNeed::HelloWindow(d.0)));
            }
            FlowStep::Wait(d) => out.push(Requirement::Clock(ClockNeed::Wait(d.0))),
            _ => {}
        }
    }
    for step in &flow {
        match step {
            FlowStep::StartUp
            | FlowStep::Provision
            | FlowStep::Remove(RemovalKind::Full)
            | FlowStep::Wait(_) => {}
            // Site steps run in the site hierarchy alone: every arm can do them.
            site if site.site_command().is_some() => {}
            other => out.push(Requirement::Step(StepName(
                serde_json::to_string(other).unwrap_or_default(),
            ))),
        }
    }
    let fleet_size = scenario.fleet.unwrap_or(1) as usize;
    if fleet_size > 1 {
        out.push(Requirement::Fleet(fleet_size));
    }
    for fault in &profile.faults {
        if let Some(d) = fault.delay() {
            out.push(Requirement::Clock(ClockNeed::DeviceDelay(d)));
        }
    }
    for (member, env) in fleet
        .into_iter()
        .flat_map(|(profiles, env)| profiles.iter().map(move |p| (p, env)))
    {
        let device_ip = member.network.wired.ipv4.map(IpAddr::V4);
        out.extend(record_needs(
            env,
            &member.device_uuid(),
            device_ip,
            member.ports.tls,
        ));
    }
    out
}

/// The first requirement `caps` does not meet, as a skip reason.
pub fn first_unmet(requirements: &[Requirement], caps: &Capabilities) -> Option<SkipReason> {
    requirements
        .iter()
        .find(|r| !met(r, caps))
        .map(|r| SkipReason::Unmet {
            requirement: r.clone(),
            max_fleet: caps.max_fleet,
        })
}

fn met(requirement: &Requirement, caps: &Capabilities) -> bool {
    match requirement {
        Requirement::DeviceControl(_) | Requirement::Step(_) => caps.device_control,
        Requirement::DeviceEvents => caps.device_events,
        Requirement::Clock(ClockNeed::HelloWindow(_)) => caps.virtual_clock,
        Requirement::Clock(ClockNeed::Wait(d) | ClockNeed::DeviceDelay(d)) => {
            caps.virtual_clock || *d <= caps.max_wall_wait
        }
        Requirement::Fleet(n) => *n <= caps.max_fleet,
        Requirement::ForeignRecord(_) => caps.foreign_records,
    }
}

/// The profile keys with a phrase of their own in [`ControlNeed`].
const PHRASED_KEYS: &[&str] = &[
    "personality",
    "amt_version",
    "setup_auth",
    "hashes",
    "network",
    "provisioning",
    "clock",
    "hello",
    "uuid",
    "fqdn_limit",
];

fn control_needs(scenario: &Scenario) -> Vec<ControlNeed> {
    let d = &scenario.device;
    let mut what = Vec::new();
    let mut need = |yes: bool, n: ControlNeed| {
        if yes {
            what.push(n);
        }
    };
    let set = |keys: &[&str]| keys.iter().any(|k| d.overrides.contains(k));
    need(d.profile.is_some(), ControlNeed::ProfileFile);
    need(!d.faults.is_empty(), ControlNeed::Faults);
    need(
        set(&["personality", "amt_version", "setup_auth"]),
        ControlNeed::Personality,
    );
    need(set(&["hashes"]), ControlNeed::HashList);
    need(
        set(&["network", "provisioning", "clock"]),
        ControlNeed::Settings,
    );
    need(
        set(&["hello", "uuid", "fqdn_limit"]),
        ControlNeed::HelloUuidLimits,
    );
    // Any other profile key is a device setting too.
    need(
        d.overrides.keys().any(|k| !PHRASED_KEYS.contains(&k)),
        ControlNeed::OtherSettings,
    );
    need(scenario.fleet.is_some(), ControlNeed::Fleet);
    let flow = scenario.flow();
    need(
        flow.iter().any(|s| matches!(s, FlowStep::Hellos(_))),
        ControlNeed::Hellos,
    );
    need(flow.contains(&FlowStep::InBand), ControlNeed::Heci);
    need(
        flow.contains(&FlowStep::Remove(RemovalKind::Partial)),
        ControlNeed::PartialUnprovision,
    );
    what
}

/// What the imported record of `uuid` needs beyond "the device's own address and TLS port".
fn record_needs(
    env: &Environment,
    uuid: &DeviceUuid,
    device_ip: Option<IpAddr>,
    device_tls_port: u16,
) -> Vec<Requirement> {
    let mut out = Vec::new();
    for c in env.computers.iter().filter(|c| c.uuid == *uuid) {
        if let Some(recorded) = c.wired_ip
            && Some(recorded) != device_ip
        {
            out.push(Requirement::ForeignRecord(RecordNeed::Address(recorded)));
        }
        if c.tls_port != device_tls_port {
            out.push(Requirement::ForeignRecord(RecordNeed::TlsPort(c.tls_port)));
        }
        if c.wireless_ip.is_some() && env.dns.resolve_to == ResolveTo::Wireless {
            out.push(Requirement::ForeignRecord(RecordNeed::Wireless));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOPBACK: Capabilities = Capabilities {
        virtual_clock: false,
        max_wall_wait: Duration::from_secs(5),
        device_control: true,
        device_events: true,
        max_fleet: 20,
        foreign_records: false,
    };

    #[test]
    fn spans_print_in_their_largest_whole_unit() {
        assert_eq!(span(Duration::from_secs(86_400)), "24h");
        assert_eq!(span(Duration::from_secs(5400)), "90m");
        assert_eq!(span(Duration::from_secs(40)), "40s");
        assert_eq!(span(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn hello_windows_and_long_waits_are_unmet_on_the_wall_clock_short_waits_are_not() {
        let day = Requirement::Clock(ClockNeed::HelloWindow(Duration::from_secs(86_400)));
        let skip = first_unmet(std::slice::from_ref(&day), &LOOPBACK);
        assert_eq!(
            skip.as_ref().map(ToString::to_string).as_deref(),
            Some("needs the virtual clock (Hello window of 24h)")
        );
        assert_eq!(skip.map(|s| s.id()), Some("skip/virtual-clock"));
        let long = Requirement::Clock(ClockNeed::Wait(Duration::from_secs(600)));
        assert_eq!(
            first_unmet(&[long], &LOOPBACK).map(|s| s.to_string()),
            Some("needs the virtual clock (wait of 10m)".to_owned())
        );
        let short = Requirement::Clock(ClockNeed::Wait(Duration::from_millis(100)));
        assert_eq!(first_unmet(&[short], &LOOPBACK), None);
        let virtual_clock = Capabilities {
            virtual_clock: true,
            ..LOOPBACK
        };
        assert_eq!(first_unmet(&[day], &virtual_clock), None);
    }

    #[test]
    fn the_first_unmet_requirement_in_order_is_the_reason() {
        let reqs = [
            Requirement::Fleet(50),
            Requirement::ForeignRecord(RecordNeed::Wireless),
        ];
        let skip = first_unmet(&reqs, &LOOPBACK);
        assert_eq!(
            skip.map(|s| s.to_string()).as_deref(),
            Some("a fleet of 50 devices is too many for loopback sockets (at most 20)")
        );
        let control = Requirement::DeviceControl(vec![ControlNeed::Faults, ControlNeed::Heci]);
        let external = Capabilities {
            device_control: false,
            device_events: false,
            foreign_records: true,
            max_fleet: 1,
            ..LOOPBACK
        };
        assert_eq!(
            first_unmet(&[control, Requirement::DeviceEvents], &external)
                .map(|s| s.to_string())
                .as_deref(),
            Some("needs device faults, HECI access (in band)")
        );
    }

    #[test]
    fn a_minimal_scenario_needs_the_device_for_its_hellos() -> Result<(), Box<dyn std::error::Error>>
    {
        let text = "id: ok\ntitle: t\nsource: s\nexpect: { outcome: provisioned }\n";
        let s = Scenario::from_yaml(text, std::path::Path::new("s.yaml"))?;
        let needs = requirements(&s, &DeviceProfile::default(), None);
        assert_eq!(
            needs.first(),
            Some(&Requirement::DeviceControl(vec![ControlNeed::Hellos]))
        );
        let external = first_unmet(&needs, &crate::runner::network::EXTERNAL_DEVICE);
        assert_eq!(
            external.as_ref().map(SkipReason::id),
            Some("skip/device-control")
        );
        assert_eq!(
            external.map(|s| s.to_string()).as_deref(),
            Some("needs Hellos on the virtual clock")
        );
        assert_eq!(first_unmet(&needs, &crate::runner::network::LOOPBACK), None);
        Ok(())
    }

    #[test]
    fn a_refused_connection_names_its_reason() {
        let skip = SkipReason::RefusedConnect(ConnectRefusalKind::TlsClosed);
        assert!(skip.to_string().contains("connect/tls-closed"));
        assert_eq!(skip.id(), "skip/refused-connect");
    }
}
