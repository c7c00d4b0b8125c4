//! Hardware inventory from the device facts: `CIM_ComputerSystemPackage`, `CIM_Chassis`,
//! `CIM_Card`, `CIM_BIOSElement`, `CIM_Processor`, `CIM_PhysicalMemory`, `CIM_Chip`,
//! `CIM_MediaAccessDevice`, `CIM_PhysicalPackage` and `CIM_SystemPackaging` (read-only).
//! Sensors and fans are not modelled: their classes fault as unknown, and clients move on.

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
        .p("ChassisPackageType", 3)
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

/// Memory modules: the installed memory split over two DIMMs when it is even.
fn memory(facts: &DeviceFacts) -> Vec<Instance> {
    let bytes = facts.memory_mb.saturating_mul(1024 * 1024);
    let dimms: u64 = if facts.memory_mb >= 2048 && facts.memory_mb.is_multiple_of(2) {
        2
    } else {
        1
    };
    (0..dimms)
        .map(|i| {
            Instance::new(CIM_SCHEMA, "CIM_PhysicalMemory")
                .p("BankLabel", format!("BANK {i}"))
                .p("Capacity", bytes / dimms)
                .p("ConfiguredMemoryClockSpeed", 3200)
                .key("CreationClassName", "CIM_PhysicalMemory")
                .p("ElementName", "Managed System Memory Chip")
                .p("FormFactor", 13)
                .p("IsSpeedInMhz", "true")
                .p("Manufacturer", "Samsung")
                .p("MaxMemorySpeed", 3200)
                .p("MemoryType", 26)
                .p("PartNumber", "M471A1K43DB1-CWE")
                .p("SerialNumber", format!("{:08X}", 0x1000_0000 + i))
                .key("Tag", format!("9876543210{i}"))
        })
        .collect()
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
        "CIM_Processor" => vec![
            Instance::new(CIM_SCHEMA, class)
                .p("CPUStatus", 1)
                .key("CreationClassName", class)
                .p("CurrentClockSpeed", 2600)
                .key("DeviceID", "CPU 0")
                .p("ElementName", "Managed System CPU")
                .p("EnabledState", 2)
                .p("ExternalBusClockSpeed", 100)
                .p("Family", 198)
                .p("HealthState", 0)
                .p("MaxClockSpeed", 4800)
                .p("OperationalStatus", 0)
                .p("OtherFamilyDescription", &facts.cpu)
                .p("RequestedState", 12)
                .p("Role", "Central Processor")
                .p("Stepping", 3)
                .key("SystemCreationClassName", "CIM_ComputerSystem")
                .key("SystemName", "ManagedSystem")
                .p("UpgradeMethod", 1),
        ],
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
        "CIM_MediaAccessDevice" => vec![
            Instance::new(CIM_SCHEMA, class)
                .list("Capabilities", &[4, 10])
                .key("CreationClassName", class)
                .key("DeviceID", "MEDIA DEV 0")
                .p("ElementName", "Managed System Media Access Device")
                .p("EnabledDefault", 2)
                .p("EnabledState", 0)
                .p("MaxMediaSize", 500_107_862)
                .p("OperationalStatus", 0)
                .p("RequestedState", 12)
                .p("Security", 2)
                .key("SystemCreationClassName", "CIM_ComputerSystem")
                .key("SystemName", "ManagedSystem"),
        ],
        _ => Vec::new(),
    }
}

/// The same package as another class (for `CIM_PhysicalPackage` enumeration).
fn retag(mut instance: Instance, class: &str) -> Instance {
    instance.class = class.to_owned();
    instance.uri = format!("{CIM_SCHEMA}{class}");
    instance
}
