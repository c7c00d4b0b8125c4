//! Logs: `AMT_MessageLog` (`PositionToFirstRecord`, `GetRecords` with 21-byte event records,
//! newest first) and `AMT_AuditLog` (`ReadRecords`), plus the helpers that append records.

use amt_wire::wsman::Fault;
use amt_wire::wsman::names::AMT_SCHEMA;

use super::DeviceFacts;
use super::model::{Call, Cx, Input, Instance, Invoked, MethodOut, b64_encode, pt};
use crate::state::{AuditRecord, LogRecord, NvramState};

/// Most message log records kept (older ones are overwritten).
pub(crate) const MAX_MESSAGE_RECORDS: usize = 390;
/// Most audit records kept.
pub(crate) const MAX_AUDIT_RECORDS: usize = 256;
/// Most audit records per `ReadRecords`.
const AUDIT_PER_CALL: usize = 10;

/// Append an event record (bounded).
pub(crate) fn push_event(state: &mut NvramState, record: LogRecord) {
    if state.message_log.len() >= MAX_MESSAGE_RECORDS {
        state.message_log.remove(0);
    }
    state.message_log.push(record);
}

/// Append an audit record (bounded).
pub(crate) fn push_audit(state: &mut NvramState, record: AuditRecord) {
    if state.audit_log.len() >= MAX_AUDIT_RECORDS {
        state.audit_log.remove(0);
    }
    state.audit_log.push(record);
}

/// The 21-byte wire form of an event record.
fn event_bytes(r: &LogRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(21);
    out.extend_from_slice(&u32::try_from(r.timestamp).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&[
        0xFF,
        r.sensor_type,
        r.event_type,
        r.event_offset,
        r.event_source_type,
        r.event_severity,
        r.sensor_number,
        r.entity,
        r.entity_instance,
    ]);
    out.extend_from_slice(&r.event_data);
    out
}

/// The wire form of an audit record (MeshCentral's `amt.js` reader layout).
fn audit_bytes(r: &AuditRecord) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&r.app_id.to_be_bytes());
    out.extend_from_slice(&r.event_id.to_be_bytes());
    out.push(0); // initiator: HTTP digest user
    let name = r.initiator.as_bytes();
    let name = name.get(..name.len().min(32)).unwrap_or_default();
    out.push(u8::try_from(name.len()).unwrap_or(0));
    out.extend_from_slice(name);
    out.extend_from_slice(&u32::try_from(r.timestamp).unwrap_or(0).to_be_bytes());
    out.push(0); // location: IPv4
    out.push(0); // no address
    out.push(0); // no extended data
    out
}

/// Instances.
pub(crate) fn instances(class: &str, state: &NvramState, _facts: &DeviceFacts) -> Vec<Instance> {
    match class {
        "AMT_MessageLog" => vec![
            Instance::new(AMT_SCHEMA, class)
                .list("Capabilities", &[2, 7])
                .key("CreationClassName", class)
                .p("CurrentNumberOfRecords", state.message_log.len())
                .p("ElementName", "Intel(r) AMT:MessageLog 1")
                .p("EnabledState", 2)
                .p("HealthState", 5)
                .p("IsFrozen", "false")
                .p("LogState", 4)
                .p("MaxNumberOfRecords", MAX_MESSAGE_RECORDS)
                .key("Name", "Intel(r) AMT:MessageLog 1")
                .p("OverwritePolicy", 2)
                .p("RequestedState", 12),
        ],
        "AMT_AuditLog" => vec![
            Instance::new(AMT_SCHEMA, class)
                .key("CreationClassName", class)
                .p("CurrentNumberOfRecords", state.audit_log.len())
                .p("ElementName", "Intel(r) AMT:Audit Log")
                .p("EnabledState", 2)
                .p("MaxAllowedAuditors", 1)
                .p("MaxNumberOfRecords", MAX_AUDIT_RECORDS)
                .key("Name", "Intel(r) AMT:Audit Log")
                .p("OverwritePolicy", 2)
                .p(
                    "PercentageFree",
                    100 - state.audit_log.len() * 100 / MAX_AUDIT_RECORDS,
                )
                .p("RequestedState", 12)
                .p("StoragePolicy", 1)
                .p(
                    "TimeOfLastRecord",
                    state.audit_log.last().map_or(0, |r| r.timestamp),
                ),
        ],
        _ => Vec::new(),
    }
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
        ("AMT_MessageLog", "PositionToFirstRecord") => {
            Ok(MethodOut::ok().out("IterationIdentifier", 1))
        }
        ("AMT_MessageLog", "GetRecords") => get_records(cx, input),
        ("AMT_MessageLog", "ClearLog") => {
            cx.state.message_log.clear();
            cx.changed(None);
            Ok(MethodOut::ok())
        }
        ("AMT_AuditLog", "ReadRecords") => read_audit(cx, input),
        _ => return None,
    };
    Some(out)
}

/// `GetRecords(IterationIdentifier, MaxReadRecords)`: newest first, 1-based identifier.
fn get_records(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> Result<MethodOut, Fault> {
    let start = input.u32("IterationIdentifier")?.unwrap_or(1);
    let max = input.u32("MaxReadRecords")?.unwrap_or(390).clamp(1, 390) as usize;
    if start == 0 {
        return Ok(MethodOut::status(pt::INVALID_PARAMETER));
    }
    let skip = start as usize - 1;
    let records: Vec<String> = cx
        .state
        .message_log
        .iter()
        .rev()
        .skip(skip)
        .take(max)
        .map(|r| b64_encode(&event_bytes(r)))
        .collect();
    let next = skip + records.len();
    let done = next >= cx.state.message_log.len();
    Ok(MethodOut::ok()
        .out("IterationIdentifier", next + 1)
        .out("NoMoreRecords", if done { "true" } else { "false" })
        .out_list("RecordArray", &records))
}

/// `ReadRecords(StartIndex)`: at most 10 records from the 1-based index, oldest first.
fn read_audit(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> Result<MethodOut, Fault> {
    let start = input.u32("StartIndex")?.unwrap_or(1).max(1) as usize;
    let records: Vec<String> = cx
        .state
        .audit_log
        .iter()
        .skip(start - 1)
        .take(AUDIT_PER_CALL)
        .map(|r| b64_encode(&audit_bytes(r)))
        .collect();
    Ok(MethodOut::ok()
        .out("TotalRecordCount", cx.state.audit_log.len())
        .out("RecordsReturned", records.len())
        .out_list("EventRecords", &records))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_records_are_21_bytes() {
        let r = LogRecord {
            timestamp: 1_700_000_000,
            sensor_type: 15,
            event_type: 111,
            event_offset: 2,
            event_source_type: 104,
            event_severity: 8,
            sensor_number: 255,
            entity: 34,
            entity_instance: 0,
            event_data: [0; 8],
        };
        let bytes = event_bytes(&r);
        assert_eq!(bytes.len(), 21);
        assert_eq!(bytes.get(..4), Some(&1_700_000_000u32.to_le_bytes()[..]));
    }
}
