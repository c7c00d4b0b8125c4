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
/// Power states `RequestPowerStateChange` accepts (CIM values).
const POWER_STATES: &[u32] = &[2, 4, 5, 7, 8, 10, 11, 12, 13, 14, 15, 16];

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
                .list("AvailableRequestedPowerStates", &[2, 8, 5, 10])
                .p("PowerState", state.power_state)
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

/// `RequestPowerStateChange(PowerState, ManagedElement)`: on (2), cycles and resets (5, 10,
/// 14, 16) end on; sleep (4), hibernate (7) and the off states (8, 12, 13, 15) end in that
/// state (off reported as 8).
fn power_change(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> Result<MethodOut, Fault> {
    let Some(requested) = input.u32("PowerState")? else {
        return Ok(MethodOut::status(pt::INVALID_PARAMETER));
    };
    if !POWER_STATES.contains(&requested) {
        return Ok(MethodOut::status(pt::INVALID_PARAMETER));
    }
    if let Some(element) = input.epr("ManagedElement")
        && !computer_system_epr().matches(&element)
    {
        return Ok(MethodOut::status(pt::INVALID_PARAMETER));
    }
    let to = match requested {
        2 | 5 | 10 | 11 | 14 | 16 => 2,
        4 => 4,
        7 => 7,
        _ => 8,
    };
    let from = cx.state.power_state;
    if from != to || to == 2 && requested != 2 {
        cx.state.power_state = to;
        cx.changed(Some(Note::PowerStateChanged { from, to }));
        let record = crate::state::LogRecord {
            timestamp: cx.ctx.now.unix_secs(),
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
        super::logs::push_event(cx.state, record);
    }
    Ok(MethodOut::ok())
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
