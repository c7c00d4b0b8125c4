//! `AMT_AuthorizationService`: the admin ACL entry (`SetAdminAclEntryEx`, accepting Intel's
//! Base64 and MeshCentral's hex `DigestPassword`), digest user ACL entries (add, update,
//! enumerate, get, remove, enable/disable) and their realms.

use amt_wire::wsman::Fault;
use amt_wire::wsman::names::AMT_SCHEMA;

use super::classes::KNOWN_REALMS;
use super::model::{Call, Cx, Input, Instance, Invoked, MethodOut, pt};
use super::{DeviceFacts, Note};
use crate::state::{AdminAcl, NvramState, UserAcl};

/// Name of the service.
const SERVICE: &str = "Intel(r) AMT Authorization Service";
/// Most user ACL entries the firmware keeps.
const MAX_USERS: usize = 7;
/// Most handles `EnumerateUserAclEntries` returns per call.
const HANDLES_PER_CALL: usize = 50;

/// The single service instance.
pub(crate) fn instances(class: &str, _state: &NvramState, _facts: &DeviceFacts) -> Vec<Instance> {
    if class != "AMT_AuthorizationService" {
        return Vec::new();
    }
    vec![
        Instance::new(AMT_SCHEMA, class)
            .b("AllowHttpQopAuthOnly", false)
            .p("CreationClassName", class)
            .p("ElementName", SERVICE)
            .p("EnabledState", 5)
            .key("Name", SERVICE)
            .p("RequestedState", 12)
            .p("SystemCreationClassName", "CIM_ComputerSystem")
            .p("SystemName", "Intel(r) AMT"),
    ]
}

/// A valid AMT user name: 1–16 characters of 7-bit ASCII 33–126 without `: , < > & "`.
fn valid_username(name: &str) -> bool {
    (1..=16).contains(&name.len())
        && name
            .bytes()
            .all(|b| (33..=126).contains(&b) && !b":,<>&\"".contains(&b))
}

/// Decode a `DigestPassword`: Base64 of the 16-byte HA1, or (unless strict) 32 hex digits.
fn digest_password(text: &str, strict: bool) -> Option<[u8; 16]> {
    if let Ok(ha1) = amt_wire::digest::ha1_from_base64(text) {
        return Some(ha1);
    }
    if strict {
        return None;
    }
    amt_wire::digest::ha1_from_hex(text).ok()
}

/// Methods.
pub(crate) fn invoke(cx: &mut Cx<'_, '_, '_>, call: Call<'_>) -> Invoked {
    let method = call.method_on("AMT_AuthorizationService")?;
    let input = call.input;
    let out =
        match method {
            "SetAdminAclEntryEx" => Ok(set_admin(cx, input)),
            "GetAdminAclEntry" => {
                let name = cx
                    .state
                    .admin_credential()
                    .map(|(n, _)| n.to_owned())
                    .unwrap_or_default();
                Ok(MethodOut::ok().out("Username", name))
            }
            "GetAdminAclEntryStatus" | "GetAdminNetAclEntryStatus" => Ok(MethodOut::ok().out(
                "IsDefault",
                if cx.state.admin.is_none() {
                    "true"
                } else {
                    "false"
                },
            )),
            "AddUserAclEntryEx" => add_user(cx, input),
            "UpdateUserAclEntryEx" => update_user(cx, input),
            "EnumerateUserAclEntries" => enumerate_users(cx, input),
            "GetUserAclEntryEx" => get_user(cx, input),
            "RemoveUserAclEntry" => input.u32("Handle").map(|h| {
                let before = cx.state.users.len();
                let handle = h.unwrap_or(u32::MAX);
                cx.state.users.retain(|u| u.handle != handle);
                if cx.state.users.len() == before {
                    MethodOut::status(pt::INVALID_HANDLE)
                } else {
                    cx.changed(Some(Note::UserAclChanged { handle }));
                    MethodOut::ok()
                }
            }),
            "GetAclEnabledState" => input.u32("Handle").map(|h| {
                match cx.state.users.iter().find(|u| Some(u.handle) == h) {
                    Some(u) => MethodOut::ok().out("Enabled", u.enabled),
                    None => MethodOut::status(pt::INVALID_HANDLE),
                }
            }),
            "SetAclEnabledState" => (|| {
                let handle = input.u32("Handle")?;
                let enabled = input.bool("Enabled")?.unwrap_or(true);
                Ok(
                    match cx.state.users.iter_mut().find(|u| Some(u.handle) == handle) {
                        Some(u) => {
                            let handle = u.handle;
                            u.enabled = enabled;
                            cx.changed(Some(Note::UserAclChanged { handle }));
                            MethodOut::ok()
                        }
                        None => MethodOut::status(pt::INVALID_HANDLE),
                    },
                )
            })(),
            _ => return None,
        };
    Some(out)
}

/// `SetAdminAclEntryEx(Username, DigestPassword)`.
fn set_admin(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> MethodOut {
    let (Some(user), Some(password)) = (input.text("Username"), input.text("DigestPassword"))
    else {
        return MethodOut::status(pt::INVALID_PARAMETER);
    };
    if !valid_username(&user) {
        return MethodOut::status(pt::INVALID_NAME);
    }
    let strict = cx.facts().quirks.strict_digest_password_base64;
    let Some(ha1) = digest_password(&password, strict) else {
        return MethodOut::status(pt::INVALID_PARAMETER);
    };
    cx.state.admin = Some(AdminAcl {
        username: user.clone(),
        ha1,
    });
    cx.changed(Some(Note::AdminAclSet { user }));
    MethodOut::ok()
}

/// Realms from the input; `None` if one is unknown.
fn realms(input: Input<'_>) -> Option<Vec<u32>> {
    input
        .texts("Realms")
        .iter()
        .map(|t| t.parse::<u32>().ok().filter(|r| KNOWN_REALMS.contains(r)))
        .collect()
}

/// `AddUserAclEntryEx(DigestUsername, DigestPassword, KerberosUserSid, AccessPermission, Realms)`.
fn add_user(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> Result<MethodOut, Fault> {
    let access = input.u32("AccessPermission")?.unwrap_or(2);
    if access > 2 {
        return Ok(MethodOut::status(pt::INVALID_PARAMETER));
    }
    let Some(realms) = realms(input) else {
        return Ok(MethodOut::status(pt::INVALID_REALM));
    };
    let sid = input.text("KerberosUserSid").filter(|s| !s.is_empty());
    let user = input.text("DigestUsername").unwrap_or_default();
    let ha1 = if user.is_empty() {
        if sid.is_none() {
            return Ok(MethodOut::status(pt::INVALID_PARAMETER));
        }
        None
    } else {
        if !valid_username(&user) || cx.state.is_admin(&user) {
            return Ok(MethodOut::status(pt::INVALID_NAME));
        }
        let strict = cx.facts().quirks.strict_digest_password_base64;
        match input
            .text("DigestPassword")
            .and_then(|p| digest_password(&p, strict))
        {
            Some(ha1) => Some(ha1),
            None => return Ok(MethodOut::status(pt::INVALID_PASSWORD)),
        }
    };
    if !user.is_empty() && cx.state.users.iter().any(|u| u.username == user) {
        return Ok(MethodOut::status(pt::DUPLICATE));
    }
    if cx.state.users.len() >= MAX_USERS {
        return Ok(MethodOut::status(pt::MAX_LIMIT_REACHED));
    }
    cx.state.counters.next_user_handle = cx.state.counters.next_user_handle.max(1);
    let handle = cx.state.counters.next_user_handle;
    cx.state.counters.next_user_handle = handle.wrapping_add(1);
    cx.state.users.push(UserAcl {
        handle,
        username: user,
        ha1,
        kerberos_sid: sid,
        realms,
        access_permission: access,
        enabled: true,
    });
    cx.changed(Some(Note::UserAclChanged { handle }));
    Ok(MethodOut::ok().out("Handle", handle))
}

/// `UpdateUserAclEntryEx(Handle, …)`: replaces the entry's fields that are given.
fn update_user(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> Result<MethodOut, Fault> {
    let handle = input.u32("Handle")?;
    let access = input.u32("AccessPermission")?;
    let Some(realms) = realms(input) else {
        return Ok(MethodOut::status(pt::INVALID_REALM));
    };
    let strict = cx.facts().quirks.strict_digest_password_base64;
    let password = match input.text("DigestPassword") {
        Some(p) => match digest_password(&p, strict) {
            Some(ha1) => Some(ha1),
            None => return Ok(MethodOut::status(pt::INVALID_PASSWORD)),
        },
        None => None,
    };
    let name = input.text("DigestUsername").filter(|n| !n.is_empty());
    if let Some(name) = &name
        && (!valid_username(name) || cx.state.is_admin(name))
    {
        return Ok(MethodOut::status(pt::INVALID_NAME));
    }
    let Some(entry) = cx.state.users.iter_mut().find(|u| Some(u.handle) == handle) else {
        return Ok(MethodOut::status(pt::INVALID_HANDLE));
    };
    if let Some(name) = name {
        entry.username = name;
    }
    if let Some(ha1) = password {
        entry.ha1 = Some(ha1);
    }
    if let Some(access) = access {
        entry.access_permission = access.min(2);
    }
    if !realms.is_empty() {
        entry.realms = realms;
    }
    let handle = entry.handle;
    cx.changed(Some(Note::UserAclChanged { handle }));
    Ok(MethodOut::ok())
}

/// `EnumerateUserAclEntries(StartIndex)` (1-based).
fn enumerate_users(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> Result<MethodOut, Fault> {
    let start = input.u32("StartIndex")?.unwrap_or(1);
    if start == 0 {
        return Ok(MethodOut::status(pt::INVALID_PARAMETER));
    }
    let handles: Vec<u32> = cx
        .state
        .users
        .iter()
        .skip(start as usize - 1)
        .take(HANDLES_PER_CALL)
        .map(|u| u.handle)
        .collect();
    Ok(MethodOut::ok()
        .out("TotalCount", cx.state.users.len())
        .out("HandlesCount", handles.len())
        .out_list("Handles", &handles))
}

/// `GetUserAclEntryEx(Handle)`.
fn get_user(cx: &mut Cx<'_, '_, '_>, input: Input<'_>) -> Result<MethodOut, Fault> {
    let handle = input.u32("Handle")?;
    let Some(u) = cx.state.users.iter().find(|u| Some(u.handle) == handle) else {
        return Ok(MethodOut::status(pt::INVALID_HANDLE));
    };
    let mut out = MethodOut::ok();
    if !u.username.is_empty() {
        out = out.out("DigestUsername", &u.username);
    }
    if let Some(sid) = &u.kerberos_sid {
        out = out.out("KerberosUserSid", sid);
    }
    Ok(out
        .out("AccessPermission", u.access_permission)
        .out_list("Realms", &u.realms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_password_takes_base64_and_hex_unless_strict() {
        let ha1 = amt_wire::digest::ha1("admin", "Digest:00", "P@ssw0rd");
        let b64 = amt_wire::digest::digest_password_base64(&ha1);
        let hex = hex::encode(ha1);
        assert_eq!(digest_password(&b64, true), Some(ha1));
        assert_eq!(digest_password(&hex, false), Some(ha1));
        assert_eq!(digest_password(&hex, true), None);
        assert_eq!(digest_password("short", false), None);
    }

    #[test]
    fn usernames_follow_the_amt_rules() {
        assert!(valid_username("operator"));
        assert!(!valid_username(""));
        assert!(!valid_username("a:b"));
        assert!(!valid_username("seventeen-chars-x"));
    }
}
