//! `AMT_TimeSynchronizationService`: `GetLowAccuracyTimeSynch` reads the device clock,
//! `SetHighAccuracyTimeSynch(Ta0, Tm1, Tm2)` moves it (IRG: time = Ta3 + ((Tm1+Tm2)−(Ta0+Ta3))/2).

use amt_wire::wsman::Fault;
use amt_wire::wsman::names::AMT_SCHEMA;

use super::model::{Call, Cx, Input, Instance, Invoked, MethodOut, pt};
use super::{DeviceFacts, Note};
use crate::state::NvramState;

/// Name of the service.
const SERVICE: &str = "Intel(r) AMT Time Synchronization Service";

/// The single service instance.
pub(crate) fn instances(class: &str, _state: &NvramState, _facts: &DeviceFacts) -> Vec<Instance> {
    if class != "AMT_TimeSynchronizationService" {
        return Vec::new();
    }
    vec![
        Instance::new(AMT_SCHEMA, class)
            .p("CreationClassName", class)
            .p("ElementName", SERVICE)
            .p("EnabledState", 5)
            .p("LocalTimeSyncEnabled", 0)
            .key("Name", SERVICE)
            .p("RequestedState", 12)
            .p("SystemCreationClassName", "CIM_ComputerSystem")
            .p("SystemName", "Intel(r) AMT")
            .p("TimeSource", 0),
    ]
}

/// Methods.
pub(crate) fn invoke(cx: &mut Cx<'_, '_, '_>, call: Call<'_>) -> Invoked {
    let method = call.method_on("AMT_TimeSynchronizationService")?;
    let input = call.input;
    let out = match method {
        "GetLowAccuracyTimeSynch" => Ok(MethodOut::ok().out("Ta0", cx.ctx.now.unix_secs())),
        "SetHighAccuracyTimeSynch" => set_time(cx, input),
        _ => return None,
    };
    Some(out)
}

/// `SetHighAccuracyTimeSynch`: the times are uint32 seconds and Ta0 must not lie in the device's
/// future (36 INVALID_PARAMETER otherwise).
fn set_time(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> Result<MethodOut, Fault> {
    let (Some(ta0), Some(tm1), Some(tm2)) =
        (input.i64("Ta0")?, input.i64("Tm1")?, input.i64("Tm2")?)
    else {
        return Ok(MethodOut::status(pt::INVALID_PARAMETER));
    };
    let ta3 = cx.ctx.now.unix_secs();
    // The times are uint32 Unix seconds on the wire.
    let in_range = |t: i64| (0..=i64::from(u32::MAX)).contains(&t);
    if !(in_range(ta0) && in_range(tm1) && in_range(tm2)) || ta0 > ta3 || tm2 < tm1 {
        return Ok(MethodOut::status(pt::INVALID_PARAMETER));
    }
    let delta_secs = tm1
        .saturating_add(tm2)
        .saturating_sub(ta0.saturating_add(ta3))
        / 2;
    let offset_ms = cx
        .state
        .time_offset_ms
        .saturating_add(delta_secs.saturating_mul(1000));
    cx.state.time_offset_ms = offset_ms;
    cx.state.time_set = true;
    cx.changed(Some(Note::ClockSet { offset_ms }));
    Ok(MethodOut::ok())
}
