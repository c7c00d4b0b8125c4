//! Hardware inventory from the device facts (profile `system`): `CIM_ComputerSystemPackage`,
//! `CIM_Chassis`, `CIM_Card`, `CIM_BIOSElement`, `CIM_Processor`, `CIM_PhysicalMemory`,
//! `CIM_Chip`, `CIM_MediaAccessDevice`, `CIM_PhysicalPackage`, `CIM_SystemPackaging`,
//! `CIM_Fan` and `CIM_NumericSensor` (Intel AMT SDK class reference, "Hardware Asset": fans
//! come from SMBIOS type 27, sensors are numeric readings), and the associations clients
//! traverse from the managed system: `CIM_SystemDevice` (system → processor, media device,
//! fans, sensors) and `CIM_AssociatedSensor` (tachometer → its fan). All read-only.

use amt_wire::wsman::names::CIM_SCHEMA;

use super::DeviceFacts;
use super::model::{Epr, Instance};
use super::power::computer_system_epr;
use crate::state::NvramState;

/// Chassis tag.
const CHASSIS_TAG: &str = "CIM_Chassis";
/// Baseboard tag.
const CARD_TAG: &str = "CIM_Card";

/// The chassis.
fn chassis(facts: &DeviceFacts) -> Instance {
    Instance::new(CIM_SCHEMA, "CIM_Chassis")
        .p("ChassisPackageType", facts.hardware.chassis_package_type)
        .key("CreationClassName", "CIM_Chassis")
        .p("ElementName", "Managed System Chassis")
        .p("Manufacturer", &facts.manufacturer)
        .p("Model", &facts.model)
        .p("OperationalStatus", 0)
        .p("PackageType", 3)
        .p("SerialNumber", &facts.serial)
        .key("Tag", CHASSIS_TAG)
        .p("Version", "")
}

/// The baseboard.
fn card(facts: &DeviceFacts) -> Instance {
    Instance::new(CIM_SCHEMA, "CIM_Card")
        .key("CreationClassName", "CIM_Card")
        .p("ElementName", "Managed System Base Board")
        .p("HostingBoard", "true")
        .p("Manufacturer", &facts.manufacturer)
        .p("Model", &facts.model)
        .p("OperationalStatus", 0)
        .p("PackageType", 9)
        .p("SerialNumber", &facts.serial)
        .key("Tag", CARD_TAG)
        .p("Version", "")
}

/// EPR of a physical package by class and tag.
fn package_epr(class: &str, tag: &str) -> Epr {
    Epr::new(
        format!("{CIM_SCHEMA}{class}"),
        &[("CreationClassName", class), ("Tag", tag)],
    )
}

/// Memory modules: the installed memory split over `memory_modules` DIMMs (the remainder on
/// the first).
fn memory(facts: &DeviceFacts) -> Vec<Instance> {
    let bytes = facts.memory_mb.saturating_mul(1024 * 1024);
    let dimms = u64::from(facts.hardware.memory_modules.max(1));
    let speed = facts.hardware.memory_mhz;
    (0..dimms)
        .map(|i| {
            let share = bytes / dimms + if i == 0 { bytes % dimms } else { 0 };
            Instance::new(CIM_SCHEMA, "CIM_PhysicalMemory")
                .p("BankLabel", format!("BANK {i}"))
                .p("Capacity", share)
                .p("ConfiguredMemoryClockSpeed", speed)
                .key("CreationClassName", "CIM_PhysicalMemory")
                .p("ElementName", "Managed System Memory Chip")
                .p("FormFactor", 13)
                .p("IsSpeedInMhz", "true")
                .p("Manufacturer", "Samsung")
                .p("MaxMemorySpeed", speed)
                .p("MemoryType", 26)
                .p("PartNumber", "M471A1K43DB1-CWE")
                .p("SerialNumber", format!("{:08X}", 0x1000_0000 + i))
                .p("Speed", speed)
                .key("Tag", format!("9876543210{i}"))
        })
        .collect()
}

/// A logical device of the managed system: the four keys AMT's devices share.
fn device(class: &str, id: &str) -> Instance {
    Instance::new(CIM_SCHEMA, class)
        .key("CreationClassName", class)
        .key("DeviceID", id)
        .key("SystemCreationClassName", "CIM_ComputerSystem")
        .key("SystemName", "ManagedSystem")
}

/// The fans (`DeviceID` `Fan N`), healthy and running.
fn fans(facts: &DeviceFacts) -> Vec<Instance> {
    facts
        .hardware
        .fans
        .iter()
        .enumerate()
        .map(|(i, (name, rpm))| {
            device("CIM_Fan", &format!("Fan {i}"))
                .b("ActiveCooling", true)
                .p("DesiredSpeed", rpm)
                .p("ElementName", name)
                .p("EnabledState", 2)
                .p("HealthState", 5)
                .p("OperationalStatus", 2)
                .p("RequestedState", 12)
                .b("VariableSpeed", true)
        })
        .collect()
}

/// One numeric sensor (`CIM_NumericSensor`): `SensorType` 2 temperature (`BaseUnits` 2,
/// degrees C) or 5 tachometer (`BaseUnits` 19, RPM); thresholds bracket the reading.
fn sensor(id: &str, name: &str, temperature: bool, reading: i64) -> Instance {
    let (sensor_type, units, upper_nc, upper_c, lower) = if temperature {
        (2, 2, 85, 95, 0)
    } else {
        (5, 19, 6000, 7000, 300)
    };
    device("CIM_NumericSensor", id)
        .p("BaseUnits", units)
        .p("CurrentReading", reading)
        .p("CurrentState", "Normal")
        .p("ElementName", name)
        .p("EnabledState", 2)
        .p("HealthState", 5)
        .b("IsLinear", true)
        .p("LowerThresholdNonCritical", lower)
        .p("OperationalStatus", 2)
        .list(
            "PossibleStates",
            &["Normal", "Upper Non-Critical", "Upper Critical"],
        )
        .p("RateUnits", 0)
        .p("RequestedState", 12)
        .p("SensorType", sensor_type)
        .p("UnitModifier", 0)
        .p("UpperThresholdCritical", upper_c)
        .p("UpperThresholdNonCritical", upper_nc)
}

/// The sensors: one tachometer per fan (`Fan N Tach`), then the temperature sensors.
fn sensors(facts: &DeviceFacts) -> Vec<Instance> {
    let tachs = facts
        .hardware
        .fans
        .iter()
        .enumerate()
        .map(|(i, (name, rpm))| {
            sensor(
                &format!("Fan {i} Tach"),
                &format!("{name} Tachometer"),
                false,
                i64::from(*rpm),
            )
        });
    let temps = facts
        .hardware
        .temperatures
        .iter()
        .enumerate()
        .map(|(i, (name, celsius))| sensor(&format!("Temp {i}"), name, true, i64::from(*celsius)));
    tachs.chain(temps).collect()
}

/// The processor.
fn processor(facts: &DeviceFacts) -> Instance {
    device("CIM_Processor", "CPU 0")
        .p("CPUStatus", 1)
        .p("CurrentClockSpeed", facts.hardware.cpu_mhz)
        .p("ElementName", "Managed System CPU")
        .p("EnabledState", 2)
        .p("ExternalBusClockSpeed", 100)
        .p("Family", 198)
        .p("HealthState", 0)
        .p("MaxClockSpeed", facts.hardware.cpu_max_mhz)
        .p("OperationalStatus", 0)
        .p("OtherFamilyDescription", &facts.cpu)
        .p("RequestedState", 12)
        .p("Role", "Central Processor")
        .p("Stepping", 3)
        .p("UpgradeMethod", 1)
}

/// The media access device.
fn media_device() -> Instance {
    device("CIM_MediaAccessDevice", "MEDIA DEV 0")
        .list("Capabilities", &[4, 10])
        .p("ElementName", "Managed System Media Access Device")
        .p("EnabledDefault", 2)
        .p("EnabledState", 0)
        .p("MaxMediaSize", 500_107_862)
        .p("OperationalStatus", 0)
        .p("RequestedState", 12)
        .p("Security", 2)
}

/// Instances.
pub(crate) fn instances(class: &str, _state: &NvramState, facts: &DeviceFacts) -> Vec<Instance> {
    match class {
        "CIM_ComputerSystemPackage" => vec![
            Instance::new(CIM_SCHEMA, class)
                .key_epr("Antecedent", package_epr("CIM_Chassis", CHASSIS_TAG))
                .key_epr("Dependent", computer_system_epr())
                .p("PlatformGUID", hex::encode_upper(facts.uuid.to_wire())),
        ],
        "CIM_Chassis" => vec![chassis(facts)],
        "CIM_Card" => vec![card(facts)],
        "CIM_PhysicalPackage" => vec![
            retag(chassis(facts), "CIM_PhysicalPackage"),
            retag(card(facts), "CIM_PhysicalPackage"),
        ],
        "CIM_SystemPackaging" => vec![
            Instance::new(CIM_SCHEMA, class)
                .key_epr("Antecedent", package_epr("CIM_Chassis", CHASSIS_TAG))
                .key_epr("Dependent", computer_system_epr()),
            Instance::new(CIM_SCHEMA, class)
                .key_epr("Antecedent", package_epr("CIM_Card", CARD_TAG))
                .key_epr("Dependent", computer_system_epr()),
        ],
        "CIM_BIOSElement" => vec![
            Instance::new(CIM_SCHEMA, class)
                .p("ElementName", "Primary BIOS")
                .p("Manufacturer", &facts.manufacturer)
                .key("Name", "Primary BIOS")
                .p("OperationalStatus", 0)
                .p("PrimaryBIOS", "true")
                .datetime("ReleaseDate", "2023-06-01T00:00:00Z")
                .key("SoftwareElementID", &facts.bios_version)
                .key("SoftwareElementState", 2)
                .key("TargetOperatingSystem", 66)
                .key("Version", &facts.bios_version),
        ],
        "CIM_Processor" => vec![processor(facts)],
        "CIM_Chip" => vec![
            Instance::new(CIM_SCHEMA, class)
                .p("CanBeFRUed", "true")
                .key("CreationClassName", class)
                .p("ElementName", "Managed System Processor Chip")
                .p("Manufacturer", "Intel(R) Corporation")
                .p("OperationalStatus", 0)
                .key("Tag", "CPU 0")
                .p("Version", &facts.cpu),
        ],
        "CIM_PhysicalMemory" => memory(facts),
        "CIM_MediaAccessDevice" => vec![media_device()],
        "CIM_Fan" => fans(facts),
        "CIM_NumericSensor" => sensors(facts),
        "CIM_SystemDevice" => [
            vec![processor(facts), media_device()],
            fans(facts),
            sensors(facts),
        ]
        .concat()
        .iter()
        .map(|part| {
            Instance::new(CIM_SCHEMA, class)
                .key_epr("GroupComponent", computer_system_epr())
                .key_epr("PartComponent", part.epr())
        })
        .collect(),
        "CIM_AssociatedSensor" => fans(facts)
            .iter()
            .zip(sensors(facts))
            .map(|(fan, tach)| {
                Instance::new(CIM_SCHEMA, class)
                    .key_epr("Antecedent", tach.epr())
                    .key_epr("Dependent", fan.epr())
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The same package as another class (for `CIM_PhysicalPackage` enumeration).
fn retag(mut instance: Instance, class: &str) -> Instance {
    instance.class = class.to_owned();
    instance.uri = format!("{CIM_SCHEMA}{class}");
    instance
}
