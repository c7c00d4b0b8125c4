//! Power and boot: `CIM_AssociatedPowerManagementService` (power state), `CIM_PowerManagementService`
//! (`RequestPowerStateChange`), `CIM_ComputerSystem`, `CIM_BootConfigSetting` (`ChangeBootOrder`),
//! `CIM_BootService` (`SetBootConfigRole`), `CIM_BootSourceSetting`, `AMT_BootSettingData` and
//! `AMT_BootCapabilities`.

use amt_wire::wsman::Fault;
use amt_wire::wsman::names::{AMT_SCHEMA, CIM_SCHEMA};

use super::model::{Call, Cx, Epr, Input, Instance, Invoked, MethodOut, Update, pt};
use super::{DeviceFacts, Note};
use crate::state::NvramState;

/// Name of the power management service.
const POWER_SERVICE: &str = "Intel(r) AMT Power Management Service";
/// Name of the boot service.
const BOOT_SERVICE: &str = "Intel(r) AMT Boot Service";
/// InstanceID of the boot configuration.
const BOOT_CONFIG: &str = "Intel(r) AMT: Boot Configuration 0";
/// InstanceID of the boot setting data.
const BOOT_SETTING_DATA: &str = "Intel(r) AMT:BootSettingData 0";
/// The boot sources: (InstanceID, StructuredBootString, ElementName).
const BOOT_SOURCES: &[(&str, &str, &str)] = &[
    (
        "Intel(r) AMT: Force Hard-drive Boot",
        "CIM:Hard-Disk:1",
        "Intel(r) AMT: Boot Source",
    ),
    (
        "Intel(r) AMT: Force PXE Boot",
        "CIM:Network:1",
        "Intel(r) AMT: Boot Source",
    ),
    (
        "Intel(r) AMT: Force CD/DVD Boot",
        "CIM:CD/DVD:1",
        "Intel(r) AMT: Boot Source",
    ),
];
/// The writable `AMT_BootSettingData` properties and their defaults.
const BOOT_SETTING_DEFAULTS: &[(&str, &str)] = &[
    ("BIOSPause", "false"),
    ("BIOSSetup", "false"),
    ("BootMediaIndex", "0"),
    ("ConfigurationDataReset", "false"),
    ("EnforceSecureBoot", "false"),
    ("FirmwareVerbosity", "0"),
    ("ForcedProgressEvents", "false"),
    ("IDERBootDevice", "0"),
    ("LockKeyboard", "false"),
    ("LockPowerButton", "false"),
    ("LockResetButton", "false"),
    ("LockSleepButton", "false"),
    ("ReflashBIOS", "false"),
    ("SecureErase", "false"),
    ("UseIDER", "false"),
    ("UseSOL", "false"),
    ("UseSafeMode", "false"),
    ("UserPasswordBypass", "false"),
];
/// One row of the power-transition table (behaviour as data): in power state `current`, the
/// `PowerState` values `RequestPowerStateChange` accepts, in the order firmware lists them in
/// `CIM_AssociatedPowerManagementService.AvailableRequestedPowerStates`.
///
/// Sources: DMTF DSP1027 (Power State Management Profile) 1.0 — `AvailableRequestedPowerStates`
/// lists the states a `RequestPowerStateChange` may ask for *as a function of the current power
/// state*, and a request outside that list does not change the state; §9.5 is the use case Intel
/// follows ("Change System Power State", Intel AMT SDK / Implementation and Reference Guide,
/// Remote Control use cases): on AMT before 9.0 the changeable states are 2 (on), 5 (power
/// cycle), 8 (off) and 10 (master bus reset); 9.0 adds 4 (sleep, S3) and 7 (hibernate, S4).
/// Which state each generation offers from which state follows the Device Management Toolkit's
/// "AMT Power States" table (start state of each action: 2 from off, asleep or hibernating;
/// 5, 8, 10 from on) and observed answers: `[10, 8, 5, 11]` while on (a captured AMT response
/// in Chromium's AMT client tests), `[2]` while off (MAAS's AMT fixture), `[8, 2, 5]` while
/// asleep (RPS test data). The graceful states 12–16 need Intel's in-OS agent (LMS), which this
/// device does not have, so they are never available.
#[derive(Debug, Clone, Copy)]
struct PowerRow {
    /// The current `PowerState`.
    current: u32,
    /// Available on every generation.
    available: &'static [u32],
    /// Available from AMT 9.0 on.
    since_amt9: &'static [u32],
}

/// The transition table (see [`PowerRow`]).
const POWER_TRANSITIONS: &[PowerRow] = &[
    // On (S0): reset, off, power cycle; AMT 9+: NMI, sleep, hibernate.
    PowerRow {
        current: 2,
        available: &[10, 8, 5],
        since_amt9: &[11, 4, 7],
    },
    // Asleep (S3): off, on, power cycle.
    PowerRow {
        current: 4,
        available: &[8, 2, 5],
        since_amt9: &[],
    },
    // Hibernating (S4): on.
    PowerRow {
        current: 7,
        available: &[2],
        since_amt9: &[],
    },
    // Off (S5): on. A reset or power cycle of a system that is off is not a transition.
    PowerRow {
        current: 8,
        available: &[2],
        since_amt9: &[],
    },
];

/// `ReturnValue` of a `RequestPowerStateChange` the current state does not allow: DSP1027's
/// value map for the method has 2 = "Unknown or Unspecified Error" (Intel's PT_STATUS 2 reads
/// "not ready"); real firmware answers 2 for a transition it cannot make, e.g. power off while
/// a redirection session holds the system (observed with amtctrl against AMT 11).
const RV_TRANSITION_UNAVAILABLE: u32 = 2;

/// The `PowerState` values requestable now (`AvailableRequestedPowerStates`).
pub(crate) fn available_power_states(current: u32, amt_major: u32) -> Vec<u32> {
    POWER_TRANSITIONS
        .iter()
        .find(|row| row.current == current)
        .map(|row| {
            let mut states = row.available.to_vec();
            if amt_major >= 9 {
                states.extend_from_slice(row.since_amt9);
            }
            states
        })
        .unwrap_or_default()
}

/// Where an accepted request ends: the on-ending actions (power cycle 5, master bus reset 10,
/// NMI 11) leave the system on; sleep (4), hibernate (7) and off (8) end in that state.
fn power_state_after(requested: u32) -> u32 {
    match requested {
        4 => 4,
        7 => 7,
        8 => 8,
        _ => 2,
    }
}

/// EPR of the power management service.
fn power_service_epr() -> Epr {
    Epr::new(
        format!("{CIM_SCHEMA}CIM_PowerManagementService"),
        &[
            ("CreationClassName", "CIM_PowerManagementService"),
            ("Name", POWER_SERVICE),
            ("SystemCreationClassName", "CIM_ComputerSystem"),
            ("SystemName", "Intel(r) AMT"),
        ],
    )
}

/// EPR of the managed computer system.
pub(crate) fn computer_system_epr() -> Epr {
    Epr::new(
        format!("{CIM_SCHEMA}CIM_ComputerSystem"),
        &[
            ("CreationClassName", "CIM_ComputerSystem"),
            ("Name", "ManagedSystem"),
        ],
    )
}

/// Instances.
pub(crate) fn instances(class: &str, state: &NvramState, facts: &DeviceFacts) -> Vec<Instance> {
    match class {
        "CIM_AssociatedPowerManagementService" => vec![
            Instance::new(CIM_SCHEMA, class)
                .list(
                    "AvailableRequestedPowerStates",
                    &available_power_states(state.power_state, facts.amt_major),
                )
                .p("PowerState", state.power_state)
                // The state the last request settled in (a reset's request is momentary).
                .p("RequestedPowerState", state.power_state)
                .key_epr("ServiceProvided", power_service_epr())
                .key_epr("UserOfService", computer_system_epr()),
        ],
        "CIM_PowerManagementService" => vec![
            Instance::new(CIM_SCHEMA, class)
                .key("CreationClassName", class)
                .p("ElementName", POWER_SERVICE)
                .key("Name", POWER_SERVICE)
                .key("SystemCreationClassName", "CIM_ComputerSystem")
                .key("SystemName", "Intel(r) AMT"),
        ],
        "CIM_ComputerSystem" => vec![
            Instance::new(CIM_SCHEMA, class)
                .key("CreationClassName", class)
                .p("Dedicated", 32)
                .p("ElementName", "Managed System")
                .p("EnabledState", if state.power_state == 2 { 2 } else { 3 })
                .p("HealthState", 5)
                .key("Name", "ManagedSystem")
                .p("NameFormat", "Other")
                .p("OperationalStatus", 0)
                .p("RequestedState", 12)
                .p("IdentifyingDescriptions", "CIM:GUID")
                .p("OtherIdentifyingInfo", facts.uuid),
        ],
        "CIM_BootConfigSetting" => vec![
            Instance::new(CIM_SCHEMA, class)
                .p("ElementName", "Intel(r) AMT: Boot Configuration")
                .key("InstanceID", BOOT_CONFIG),
        ],
        "CIM_BootService" => vec![
            Instance::new(CIM_SCHEMA, class)
                .key("CreationClassName", class)
                .p("ElementName", BOOT_SERVICE)
                .p("EnabledState", 2)
                .key("Name", BOOT_SERVICE)
                .p("OperationalStatus", 0)
                .p("RequestedState", 12)
                .key("SystemCreationClassName", "CIM_ComputerSystem")
                .key("SystemName", "Intel(r) AMT"),
        ],
        "CIM_BootSourceSetting" => BOOT_SOURCES
            .iter()
            .map(|(id, boot_string, name)| {
                let order = state
                    .boot
                    .order
                    .iter()
                    .position(|o| o == id)
                    .map_or(0, |p| p + 1);
                Instance::new(CIM_SCHEMA, class)
                    .p("BIOSBootString", "")
                    .p("BootString", "")
                    .p("ElementName", name)
                    .p("FailThroughSupported", 2)
                    .key("InstanceID", id)
                    .p("StructuredBootString", boot_string)
                    .p("PendingBootOrder", order)
            })
            .collect(),
        "AMT_BootSettingData" => {
            let mut i = Instance::new(AMT_SCHEMA, class)
                .p("ElementName", "Intel(r) AMT Boot Configuration Settings")
                .key("InstanceID", BOOT_SETTING_DATA)
                .p("OwningEntity", "Intel(r) AMT");
            for (name, default) in BOOT_SETTING_DEFAULTS {
                let value = state
                    .boot
                    .setting_data
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(*default, |(_, v)| v.as_str());
                i = i.p(name, value);
            }
            vec![i]
        }
        "AMT_BootCapabilities" => vec![
            Instance::new(AMT_SCHEMA, class)
                .b("BIOSPause", false)
                .b("BIOSReflash", true)
                .b("BIOSSecureBoot", true)
                .b("BIOSSetup", true)
                .p("ElementName", "Intel(r) AMT: Boot Capabilities")
                .b("ForceCDorDVDBoot", true)
                .b("ForceDiagnosticBoot", false)
                .b("ForceHardDriveBoot", true)
                .b("ForceHardDriveSafeModeBoot", false)
                .b("ForcePXEBoot", true)
                .b("ForcedProgressEvents", true)
                .b("IDER", true)
                .key("InstanceID", "Intel(r) AMT:BootCapabilities 0")
                .b("KeyboardLock", true)
                .b("PowerButtonLock", false)
                .b("ResetButtonLock", false)
                .b("SOL", true)
                .b("SecureErase", false)
                .b("SleepButtonLock", false)
                .b("UserPasswordBypass", true)
                .b("VerbosityQuiet", true)
                .b("VerbosityScreenBlank", false)
                .b("VerbosityVerbose", true),
        ],
        // DSP1012 (Boot Control Profile): the boot configuration is the managed system's
        // setting data (current, default and next); the KVM settings are the KVM SAP's.
        "CIM_ElementSettingData" => {
            let kvm_sap = super::redirection::instances("CIM_KVMRedirectionSAP", state, facts);
            let kvm_settings =
                super::redirection::instances("IPS_KVMRedirectionSettingData", state, facts);
            let boot = instances("CIM_BootConfigSetting", state, facts);
            let setting = |element: Epr, data: &Instance| {
                Instance::new(CIM_SCHEMA, class)
                    .p("IsCurrent", 1)
                    .p("IsDefault", 1)
                    .p("IsNext", 1)
                    .key_epr("ManagedElement", element)
                    .key_epr("SettingData", data.epr())
            };
            boot.iter()
                .map(|b| setting(computer_system_epr(), b))
                .chain(
                    kvm_sap
                        .iter()
                        .zip(kvm_settings.iter())
                        .map(|(sap, data)| setting(sap.epr(), data)),
                )
                .collect()
        }
        // The power (DSP1027) and boot (DSP1012) services manage the managed system
        // (ElementEffects 5 = "Manages").
        "CIM_ServiceAffectsElement" => [
            power_service_epr(),
            instances("CIM_BootService", state, facts)
                .first()
                .map_or_else(power_service_epr, Instance::epr),
        ]
        .into_iter()
        .map(|service| {
            Instance::new(CIM_SCHEMA, class)
                .key_epr("AffectedElement", computer_system_epr())
                .key_epr("AffectingElement", service)
                .list("ElementEffects", &[5])
        })
        .collect(),
        _ => Vec::new(),
    }
}

/// Put of `AMT_BootSettingData`.
pub(crate) fn put(cx: &mut Cx<'_, '_, '_>, put: Update<'_>) -> Result<(), Fault> {
    put.only("AMT_BootSettingData")?;
    let input = put.input;
    let mut data = cx.state.boot.setting_data.clone();
    for (name, default) in BOOT_SETTING_DEFAULTS {
        let Some(value) = input.text(name) else {
            continue;
        };
        let is_bool = matches!(*default, "true" | "false");
        let ok = if is_bool {
            super::model::parse_bool(&value).is_ok()
        } else {
            value.parse::<u32>().is_ok()
        };
        if !ok {
            return Err(Fault::schema_validation_error());
        }
        data.retain(|(n, _)| n != name);
        if value != *default {
            data.push(((*name).to_owned(), value));
        }
    }
    if data != cx.state.boot.setting_data {
        cx.state.boot.setting_data = data;
        cx.changed(None);
    }
    Ok(())
}

/// Methods.
pub(crate) fn invoke(cx: &mut Cx<'_, '_, '_>, call: Call<'_>) -> Invoked {
    let Call {
        class,
        method,
        input,
        ..
    } = call;
    let out = match (class, method) {
        ("CIM_PowerManagementService", "RequestPowerStateChange") => power_change(cx, input),
        ("CIM_BootConfigSetting", "ChangeBootOrder") => Ok(change_boot_order(cx, input)),
        ("CIM_BootService", "SetBootConfigRole") => set_boot_role(cx, input),
        ("CIM_BootService", "RequestStateChange") => input.u32("RequestedState").map(|s| match s {
            Some(2 | 3) => MethodOut::ok(),
            _ => MethodOut::status(pt::INVALID_PARAMETER),
        }),
        _ => return None,
    };
    Some(out)
}

/// `RequestPowerStateChange(PowerState, ManagedElement)` (DSP1027 §9.5): a `PowerState` that
/// is no power state at all, or a `ManagedElement` other than the managed system, is
/// PT_STATUS_INVALID_PARAMETER (36); a state the current one does not offer (not in
/// `AvailableRequestedPowerStates`, e.g. reset or power cycle while off, power on while on)
/// returns [`RV_TRANSITION_UNAVAILABLE`] and changes nothing; an available one returns 0 and
/// the new state is what later reads of `CIM_AssociatedPowerManagementService.PowerState` and
/// `CIM_ComputerSystem.EnabledState` show. Every accepted request is a message-log event.
fn power_change(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> Result<MethodOut, Fault> {
    let Some(requested) = input.u32("PowerState")? else {
        return Ok(MethodOut::status(pt::INVALID_PARAMETER));
    };
    // The method's PowerState value map (CIM_PowerManagementService, as DSP1027 uses it):
    // 2 On … 11 Diagnostic Interrupt (NMI), 12–16 the graceful variants.
    if !(2..=16).contains(&requested) {
        return Ok(MethodOut::status(pt::INVALID_PARAMETER));
    }
    if let Some(element) = input.epr("ManagedElement")
        && !computer_system_epr().matches(&element)
    {
        return Ok(MethodOut::status(pt::INVALID_PARAMETER));
    }
    let amt_major = cx.facts().amt_major;
    let now = cx.ctx.now;
    match apply_power_request(cx.state, requested, amt_major, now) {
        Ok((from, to)) => {
            cx.changed(Some(Note::PowerStateChanged { from, to }));
            Ok(MethodOut::ok())
        }
        Err(rv) => Ok(MethodOut::status(rv)),
    }
}

/// Apply a power request to NVRAM if the current state offers it (the one transition rule
/// WS-MAN `RequestPowerStateChange` and the legacy SOAP `RemoteControl` share): the new state
/// and a message-log record; `Ok((from, to))`, or `Err(ReturnValue)` with nothing changed.
pub(crate) fn apply_power_request(
    state: &mut NvramState,
    requested: u32,
    amt_major: u32,
    now: amt_wire::time::Timestamp,
) -> Result<(u32, u32), u32> {
    let from = state.power_state;
    if !available_power_states(from, amt_major).contains(&requested) {
        return Err(RV_TRANSITION_UNAVAILABLE);
    }
    let to = power_state_after(requested);
    state.power_state = to;
    let record = crate::state::LogRecord {
        timestamp: now.unix_secs(),
        sensor_type: 0x22,
        event_type: 0x6F,
        event_offset: u8::try_from(requested).unwrap_or(0),
        event_source_type: 0x68,
        event_severity: 0x08,
        sensor_number: 0xFF,
        entity: 0x22,
        entity_instance: 0,
        event_data: [0; 8],
    };
    super::logs::push_event(state, record);
    Ok((from, to))
}

/// `ChangeBootOrder(Source)`: a `CIM_BootSourceSetting` EPR first in order; no source clears.
fn change_boot_order(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> MethodOut {
    let order = match input.epr("Source") {
        None => Vec::new(),
        Some(epr) => {
            let id = epr.selector("InstanceID").unwrap_or_default().to_owned();
            if !BOOT_SOURCES.iter().any(|(s, _, _)| *s == id) {
                return MethodOut::status(pt::INVALID_PARAMETER);
            }
            vec![id]
        }
    };
    if cx.state.boot.order != order {
        cx.state.boot.order = order;
        cx.changed(None);
    }
    MethodOut::ok()
}

/// `SetBootConfigRole(BootConfigSetting, Role)`: role 1 (is next) or 32768 (next single use).
fn set_boot_role(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> Result<MethodOut, Fault> {
    let role = input.u32("Role")?;
    let config_ok = input
        .epr("BootConfigSetting")
        .is_none_or(|e| e.selector("InstanceID").is_none_or(|id| id == BOOT_CONFIG));
    match role {
        Some(r @ (1 | 32768)) if config_ok => {
            if cx.state.boot.role != Some(r) {
                cx.state.boot.role = Some(r);
                cx.changed(None);
            }
            Ok(MethodOut::ok())
        }
        _ => Ok(MethodOut::status(pt::INVALID_PARAMETER)),
    }
}
