//! Management behaviour as the documents describe it (issue 14 item 4): power transitions that
//! follow the current state (DSP1027), firmware version entries, optimized enumerations that
//! end without a context (DSP0226 §8.2.3), association-filtered enumerations (DSP0227 CIM
//! binding) and the fan/sensor inventory.

mod wsman_support;

use amt_sim::state::{AdminAcl, ControlMode, ProvisioningState};
use amt_sim::wsman::{DeviceFacts, Note, Session};
use wsman_support::*;

const ADMIN_PASSWORD: &str = "Adm1n-P@ss";

fn provisioned_with(facts: DeviceFacts) -> Device {
    let mut d = Device::with_facts(facts);
    let ha1 = amt_wire::digest::ha1("admin", d.state.digest_realm(), ADMIN_PASSWORD);
    d.state.admin = Some(AdminAcl {
        username: "admin".into(),
        ha1,
    });
    d.state.provisioning_state = ProvisioningState::Post;
    d.state.control_mode = ControlMode::Admin;
    d
}

fn provisioned() -> Device {
    provisioned_with(DeviceFacts::sample())
}

fn admin() -> Session {
    Session::Digest {
        user: "admin".into(),
    }
}

/// `AvailableRequestedPowerStates` and `PowerState` as read now.
fn power_status(d: &mut Device) -> (Vec<u32>, u32) {
    let id = d.id();
    let r = d.admin(&get(
        &id,
        &format!("{CIM}CIM_AssociatedPowerManagementService"),
        &[],
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    let mut available = Vec::new();
    find_all(
        r.body_element(),
        "AvailableRequestedPowerStates",
        &mut available,
    );
    let available = available
        .iter()
        .filter_map(|e| e.text().trim().parse().ok())
        .collect();
    let state = r
        .find_text("PowerState")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    (available, state)
}

/// `RequestPowerStateChange(state)` on the managed system; the ReturnValue and notes.
fn request_power(d: &mut Device, state: u32) -> (u32, Vec<Note>) {
    let id = d.id();
    let managed = epr(
        &format!("{CIM}CIM_ComputerSystem"),
        &[("Name", "ManagedSystem")],
    );
    let r = d.admin(&invoke(
        &id,
        &format!("{CIM}CIM_PowerManagementService"),
        "RequestPowerStateChange",
        &[("Name", "Intel(r) AMT Power Management Service")],
        &format!(
            "<h:PowerState>{state}</h:PowerState><h:ManagedElement>{managed}</h:ManagedElement>"
        ),
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    (r.return_value(), r.notes)
}

#[test]
fn available_power_states_follow_the_current_state() {
    let mut d = provisioned();
    // On (AMT 16): reset, off, power cycle, NMI, sleep, hibernate; never "on" again.
    assert_eq!(power_status(&mut d), (vec![10, 8, 5, 11, 4, 7], 2));
    assert_eq!(request_power(&mut d, 8).0, 0);
    assert_eq!(power_status(&mut d), (vec![2], 8));
    // The managed system's EnabledState follows too.
    let id = d.id();
    let r = d.admin(&get(&id, &format!("{CIM}CIM_ComputerSystem"), &[]));
    assert_eq!(r.find_text("EnabledState").as_deref(), Some("3"));
    assert_eq!(
        request_power(&mut d, 4).0,
        2,
        "sleep is not offered while off"
    );
    assert_eq!(request_power(&mut d, 2).0, 0);
    assert_eq!(power_status(&mut d), (vec![10, 8, 5, 11, 4, 7], 2));
    assert_eq!(request_power(&mut d, 4).0, 0);
    assert_eq!(power_status(&mut d), (vec![8, 2, 5], 4));
}

#[test]
fn pre_amt9_firmware_offers_only_on_off_cycle_and_reset() {
    let mut facts = DeviceFacts::sample();
    facts.amt_version = "6.2.61.3535".into();
    facts.amt_major = 6;
    let mut d = provisioned_with(facts);
    assert_eq!(power_status(&mut d), (vec![10, 8, 5], 2));
    assert_eq!(request_power(&mut d, 7).0, 2, "hibernate came with AMT 9");
    assert_eq!(d.state.power_state, 2);
}

#[test]
fn unavailable_transitions_fail_and_change_nothing() {
    let mut d = provisioned();
    // Power on while on, and the graceful states (they need the in-OS agent).
    for state in [2, 12, 14] {
        let (rv, notes) = request_power(&mut d, state);
        assert_eq!(rv, 2, "PowerState {state}");
        assert!(
            !notes
                .iter()
                .any(|n| matches!(n, Note::PowerStateChanged { .. }))
        );
    }
    // Not a power state at all: invalid parameter.
    assert_eq!(request_power(&mut d, 99).0, 36);
    assert_eq!(request_power(&mut d, 8).0, 0);
    // Reset and power cycle of a system that is off are not transitions (DSP1027 §9.5).
    for state in [10, 5, 11] {
        let (rv, notes) = request_power(&mut d, state);
        assert_eq!(rv, 2, "PowerState {state} while off");
        assert!(
            notes
                .iter()
                .all(|n| !matches!(n, Note::PowerStateChanged { .. }))
        );
    }
    assert_eq!(power_status(&mut d).1, 8);
}

#[test]
fn reset_and_power_cycle_while_on_end_on_and_are_logged() {
    let mut d = provisioned();
    for state in [10, 5] {
        let (rv, notes) = request_power(&mut d, state);
        assert_eq!(rv, 0);
        assert!(notes.contains(&Note::PowerStateChanged { from: 2, to: 2 }));
        assert_eq!(power_status(&mut d).1, 2);
    }
    assert_eq!(d.state.message_log.len(), 2);
}

#[test]
fn software_identity_reports_the_build_number_once() {
    let mut d = Device::new();
    let items = d.enumerate_all(Session::Setup, &format!("{CIM}CIM_SoftwareIdentity"));
    let versions: Vec<(String, String)> = items
        .iter()
        .map(|i| {
            let text = |name: &str| {
                find(i, name)
                    .map(|e| e.text().into_owned())
                    .unwrap_or_default()
            };
            (text("InstanceID"), text("VersionString"))
        })
        .collect();
    let expected = [
        ("Flash", "16.1.25"),
        ("Netstack", "16.1.25"),
        ("AMTApps", "16.1.25"),
        ("AMT", "16.1.25"),
        ("Sku", "16392"),
        ("VendorID", "8086"),
        ("Build Number", "2124"),
        ("Recovery Version", "16.1.25"),
        ("Recovery Build Num", "2124"),
        ("Legacy Mode", "False"),
        ("AMT FW Core Version", "16.1.25"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    assert_eq!(versions, expected);
}

#[test]
fn a_complete_optimized_enumeration_has_end_of_sequence_and_no_context() {
    let mut d = Device::new();
    let uri = format!("{CIM}CIM_SoftwareIdentity");
    let extra = "<w:OptimizeEnumeration></w:OptimizeEnumeration><w:MaxElements>100</w:MaxElements>";
    let r = d.setup(&enumerate("1", &uri, extra));
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.body_element();
    assert_eq!(
        body.child_by_local_name("Items")
            .map(|i| i.elements().count()),
        Some(11)
    );
    assert!(body.child_by_local_name("EndOfSequence").is_some());
    assert!(
        body.child_by_local_name("EnumerationContext").is_none(),
        "nothing to Pull: {}",
        r.body
    );
    insta::assert_snapshot!("optimized_enumerate_complete", r.body);
    // A partial one still hands out the context of the rest, and the rest pulls.
    let extra = "<w:OptimizeEnumeration></w:OptimizeEnumeration><w:MaxElements>10</w:MaxElements>";
    let r = d.setup(&enumerate("2", &uri, extra));
    assert!(
        r.body_element()
            .child_by_local_name("EndOfSequence")
            .is_none()
    );
    let context = r.find_text("EnumerationContext").expect("context");
    let r = d.setup(&pull("3", &uri, &context, 10, None));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body_element()
            .child_by_local_name("EndOfSequence")
            .is_some()
    );
}

/// An Enumerate of `uri` with an association filter.
fn associated(id: &str, uri: &str, filter: &str, query: &str, optimize: bool) -> String {
    let optimize = if optimize {
        "<w:OptimizeEnumeration></w:OptimizeEnumeration><w:MaxElements>100</w:MaxElements>"
    } else {
        ""
    };
    enumerate(
        id,
        uri,
        &format!(
            "{optimize}<w:Filter Dialect=\"http://schemas.dmtf.org/wbem/wsman/1/cimbinding/associationFilter\"><b:{filter} xmlns:b=\"http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd\">{query}</b:{filter}></w:Filter>"
        ),
    )
}

/// `<b:Object>` naming the managed system.
fn managed_system_object() -> String {
    format!(
        "<b:Object>{}</b:Object>",
        epr(
            &format!("{CIM}CIM_ComputerSystem"),
            &[
                ("CreationClassName", "CIM_ComputerSystem"),
                ("Name", "ManagedSystem")
            ],
        )
    )
}

/// The class names of the items of an optimized enumeration.
fn item_classes(r: &Response) -> Vec<String> {
    r.body_element()
        .child_by_local_name("Items")
        .map(|items| items.elements().map(|e| e.name.clone()).collect())
        .unwrap_or_default()
}

#[test]
fn associated_instances_of_the_managed_system() {
    let mut d = provisioned();
    let all = "http://schemas.dmtf.org/wbem/wscim/1/*";
    // The power service, through CIM_AssociatedPowerManagementService.
    let query = format!(
        "{}<b:AssociationClassName>CIM_AssociatedPowerManagementService</b:AssociationClassName><b:ResultClassName>CIM_PowerManagementService</b:ResultClassName>",
        managed_system_object()
    );
    let r = d.admin(&associated("1", all, "AssociatedInstances", &query, true));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(item_classes(&r), ["CIM_PowerManagementService"]);
    assert_eq!(
        r.find_text("Name").as_deref(),
        Some("Intel(r) AMT Power Management Service")
    );
    // Its devices, through CIM_SystemDevice: processor, media device, fan, three sensors.
    let query = format!(
        "{}<b:AssociationClassName>CIM_SystemDevice</b:AssociationClassName><b:Role>GroupComponent</b:Role><b:ResultRole>PartComponent</b:ResultRole>",
        managed_system_object()
    );
    let r = d.admin(&associated("2", all, "AssociatedInstances", &query, true));
    assert_eq!(
        item_classes(&r),
        [
            "CIM_Processor",
            "CIM_MediaAccessDevice",
            "CIM_Fan",
            "CIM_NumericSensor",
            "CIM_NumericSensor",
            "CIM_NumericSensor"
        ]
    );
    // A superclass as ResultClassName.
    let query = format!(
        "{}<b:ResultClassName>CIM_Sensor</b:ResultClassName>",
        managed_system_object()
    );
    let r = d.admin(&associated("3", all, "AssociatedInstances", &query, true));
    assert_eq!(item_classes(&r).len(), 3);
    // Its setting data and the services that affect it.
    let query = format!(
        "{}<b:AssociationClassName>CIM_ElementSettingData</b:AssociationClassName>",
        managed_system_object()
    );
    let r = d.admin(&associated("4", all, "AssociatedInstances", &query, true));
    assert_eq!(item_classes(&r), ["CIM_BootConfigSetting"]);
    let query = format!(
        "{}<b:AssociationClassName>CIM_ServiceAffectsElement</b:AssociationClassName>",
        managed_system_object()
    );
    let r = d.admin(&associated("5", all, "AssociatedInstances", &query, true));
    assert_eq!(
        item_classes(&r),
        ["CIM_PowerManagementService", "CIM_BootService"]
    );
    insta::assert_snapshot!("associated_instances_services", r.body);
}

#[test]
fn association_instances_and_paged_association_enumerations() {
    let mut d = provisioned();
    let uri = format!("{CIM}CIM_ComputerSystem");
    let query = format!(
        "{}<b:ResultClassName>CIM_AssociatedPowerManagementService</b:ResultClassName>",
        managed_system_object()
    );
    let r = d.admin(&associated("1", &uri, "AssociationInstances", &query, true));
    assert_eq!(item_classes(&r), ["CIM_AssociatedPowerManagementService"]);
    assert_eq!(r.find_text("PowerState").as_deref(), Some("2"));
    // Not optimized: Enumerate, then Pull pages of the results.
    let query = format!(
        "{}<b:ResultClassName>CIM_SystemDevice</b:ResultClassName>",
        managed_system_object()
    );
    let r = d.admin(&associated(
        "2",
        &uri,
        "AssociationInstances",
        &query,
        false,
    ));
    let context = r.find_text("EnumerationContext").expect("context");
    let r = d.admin(&pull("3", &uri, &context, 100, None));
    assert_eq!(r.status, 200, "{}", r.body);
    let mut parts = Vec::new();
    find_all(r.body_element(), "PartComponent", &mut parts);
    assert_eq!(parts.len(), 6);
    assert!(
        r.body_element()
            .child_by_local_name("EndOfSequence")
            .is_some()
    );
    // A fan's tachometer through CIM_AssociatedSensor.
    let fan = format!(
        "<b:Object>{}</b:Object><b:AssociationClassName>CIM_AssociatedSensor</b:AssociationClassName>",
        epr(&format!("{CIM}CIM_Fan"), &[("DeviceID", "Fan 0")])
    );
    let r = d.admin(&associated("4", &uri, "AssociatedInstances", &fan, true));
    assert_eq!(item_classes(&r), ["CIM_NumericSensor"]);
    assert_eq!(r.find_text("SensorType").as_deref(), Some("5"));
}

#[test]
fn malformed_association_filters_and_unknown_objects() {
    let mut d = provisioned();
    let all = "http://schemas.dmtf.org/wbem/wscim/1/*";
    let r = d.admin(&associated("1", all, "AssociatedInstances", "", true));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.fault_subcode().as_deref(), Some("CannotProcessFilter"));
    let nobody = format!(
        "<b:Object>{}</b:Object>",
        epr(&format!("{CIM}CIM_ComputerSystem"), &[("Name", "Nobody")])
    );
    let r = d.admin(&associated("2", all, "AssociatedInstances", &nobody, true));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(item_classes(&r).is_empty());
    assert!(
        r.body_element()
            .child_by_local_name("EndOfSequence")
            .is_some()
    );
    // Without a filter the all-classes URI is no class.
    let r = d.admin(&enumerate("3", all, ""));
    assert_eq!(r.fault_subcode().as_deref(), Some("DestinationUnreachable"));
}

#[test]
fn fans_and_sensors_come_from_the_facts() {
    let mut facts = DeviceFacts::sample();
    facts.hardware.fans = vec![("Front Fan".into(), 1200), ("Rear Fan".into(), 1500)];
    facts.hardware.temperatures = vec![("CPU Temperature".into(), 61)];
    facts.hardware.chassis_package_type = 9;
    facts.hardware.memory_modules = 4;
    facts.hardware.cpu_max_mhz = 5000;
    let mut d = provisioned_with(facts);
    let fans = d.enumerate_all(admin(), &format!("{CIM}CIM_Fan"));
    assert_eq!(fans.len(), 2);
    assert_eq!(
        find(&fans[1], "DesiredSpeed")
            .map(|e| e.text().into_owned())
            .as_deref(),
        Some("1500")
    );
    let sensors = d.enumerate_all(admin(), &format!("{CIM}CIM_NumericSensor"));
    let readings: Vec<(String, String)> = sensors
        .iter()
        .map(|s| {
            let text = |n: &str| {
                find(s, n)
                    .map(|e| e.text().into_owned())
                    .unwrap_or_default()
            };
            (text("SensorType"), text("CurrentReading"))
        })
        .collect();
    assert_eq!(
        readings,
        [
            ("5".to_owned(), "1200".to_owned()),
            ("5".to_owned(), "1500".to_owned()),
            ("2".to_owned(), "61".to_owned())
        ]
    );
    let chassis = d.enumerate_all(admin(), &format!("{CIM}CIM_Chassis"));
    assert_eq!(
        find(&chassis[0], "ChassisPackageType")
            .map(|e| e.text().into_owned())
            .as_deref(),
        Some("9")
    );
    let memory = d.enumerate_all(admin(), &format!("{CIM}CIM_PhysicalMemory"));
    assert_eq!(memory.len(), 4);
    let processor = d.enumerate_all(admin(), &format!("{CIM}CIM_Processor"));
    assert_eq!(
        find(&processor[0], "MaxClockSpeed")
            .map(|e| e.text().into_owned())
            .as_deref(),
        Some("5000")
    );
    insta::assert_snapshot!(
        "numeric_sensor_items",
        sensors
            .iter()
            .map(|s| s.to_xml())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
