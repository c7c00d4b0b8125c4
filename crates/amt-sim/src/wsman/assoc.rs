//! Association traversal for `Enumerate` with the CIM binding's association filter
//! (dialect [`ASSOCIATION_DIALECT`], DSP0227 WS-CIM mapping §8 / DSP0226 Annex: filter
//! `AssociatedInstances` = CIM `Associators`, `AssociationInstances` = CIM `References`).
//!
//! Behaviour as data: an association is any class in the class table whose instances carry two
//! or more EPR-valued key properties (the roles, e.g. `CIM_SystemDevice.GroupComponent` /
//! `PartComponent`); the graph is read from those instances, so a new association class
//! answers filtered enumerations by being a table row with instances. Class-name filters match
//! a class or any ancestor listed in [`SUPERCLASSES`].
//!
//! Decisions where the references are silent: the enumeration's resource URI may be a class
//! the table knows or the all-classes URI (`…/wscim/1/*`, `…/cim-schema/2/*`); results are
//! de-duplicated and in table order; results of classes the user may not read are left out;
//! `IncludeResultProperty` is ignored (whole instances are returned); an `Object` naming no
//! instance gives an empty result.

use amt_wire::wsman::Element;
use amt_wire::wsman::Fault;
use amt_wire::wsman::fault::FaultCode;
use amt_wire::wsman::names::{ACTION_ENUMERATION_FAULT, CIM_BINDING, ENUMERATION};

use super::DeviceFacts;
use super::classes::{self, CLASSES, ClassDef};
use super::model::{Epr, Instance, Value, class_name};
use crate::state::NvramState;

/// The association filter dialect.
pub(crate) const ASSOCIATION_DIALECT: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/cimbinding/associationFilter";

/// Ancestors of the classes the device answers, for `ResultClassName` /
/// `AssociationClassName` filters naming a superclass (CIM schema 2.x class hierarchy).
const SUPERCLASSES: &[(&str, &[&str])] = &[
    (
        "CIM_Fan",
        &[
            "CIM_CoolingDevice",
            "CIM_LogicalDevice",
            "CIM_ManagedElement",
        ],
    ),
    (
        "CIM_NumericSensor",
        &["CIM_Sensor", "CIM_LogicalDevice", "CIM_ManagedElement"],
    ),
    (
        "CIM_Processor",
        &["CIM_LogicalDevice", "CIM_ManagedElement"],
    ),
    (
        "CIM_MediaAccessDevice",
        &["CIM_LogicalDevice", "CIM_ManagedElement"],
    ),
    (
        "CIM_ComputerSystem",
        &[
            "CIM_System",
            "CIM_EnabledLogicalElement",
            "CIM_ManagedElement",
        ],
    ),
    (
        "CIM_PowerManagementService",
        &["CIM_Service", "CIM_ManagedElement"],
    ),
    ("CIM_BootService", &["CIM_Service", "CIM_ManagedElement"]),
    (
        "CIM_BootConfigSetting",
        &["CIM_SettingData", "CIM_ManagedElement"],
    ),
    (
        "IPS_KVMRedirectionSettingData",
        &["CIM_SettingData", "CIM_ManagedElement"],
    ),
    (
        "CIM_Chassis",
        &[
            "CIM_PhysicalFrame",
            "CIM_PhysicalPackage",
            "CIM_PhysicalElement",
        ],
    ),
    ("CIM_Card", &["CIM_PhysicalPackage", "CIM_PhysicalElement"]),
    ("CIM_PhysicalMemory", &["CIM_Chip", "CIM_PhysicalElement"]),
    (
        "CIM_AssociatedPowerManagementService",
        &["CIM_ServiceAvailableToElement"],
    ),
    (
        "CIM_SystemDevice",
        &["CIM_SystemComponent", "CIM_Component"],
    ),
    (
        "CIM_ComputerSystemPackage",
        &["CIM_SystemPackaging", "CIM_Dependency"],
    ),
    ("CIM_SystemPackaging", &["CIM_Dependency"]),
    ("CIM_AssociatedSensor", &["CIM_Dependency"]),
];

/// Whether `class` is `name` or one of its listed ancestors (case-insensitive, as CIM names).
pub(crate) fn is_a(class: &str, name: &str) -> bool {
    class.eq_ignore_ascii_case(name)
        || SUPERCLASSES.iter().any(|(c, ancestors)| {
            c.eq_ignore_ascii_case(class) && ancestors.iter().any(|a| a.eq_ignore_ascii_case(name))
        })
}

/// A parsed association filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AssocQuery {
    /// `AssociatedInstances`: the instances associated with `object`.
    Associated {
        /// The source instance.
        object: Epr,
        /// Only through associations of this class.
        association_class: Option<String>,
        /// The role `object` plays in the association.
        role: Option<String>,
        /// Only results of this class.
        result_class: Option<String>,
        /// The role the result plays.
        result_role: Option<String>,
    },
    /// `AssociationInstances`: the association instances referring to `object`.
    Association {
        /// The source instance.
        object: Epr,
        /// Only associations of this class.
        result_class: Option<String>,
        /// The role `object` plays.
        role: Option<String>,
    },
}

/// `wsen:CannotProcessFilter` with a reason.
fn cannot_process(reason: &str) -> Fault {
    Fault::new(
        ACTION_ENUMERATION_FAULT,
        FaultCode::Sender,
        Some((ENUMERATION, "CannotProcessFilter")),
        reason,
    )
}

impl AssocQuery {
    /// Read a `wsman:Filter` element. `Ok(None)` when it is not the association dialect (the
    /// engine ignores other dialects, as before); a malformed association filter is
    /// `wsen:CannotProcessFilter`.
    pub(crate) fn parse(filter: &Element) -> Result<Option<Self>, Fault> {
        let dialect = filter
            .attributes
            .iter()
            .find(|a| a.name == "Dialect")
            .map(|a| a.value.trim());
        if dialect != Some(ASSOCIATION_DIALECT) {
            return Ok(None);
        }
        let query = filter
            .elements()
            .next()
            .ok_or_else(|| cannot_process("The association filter is empty."))?;
        let text = |name: &str| {
            query
                .child(CIM_BINDING, name)
                .map(|e| e.text().trim().to_owned())
                .filter(|t| !t.is_empty())
        };
        let object = query
            .child(CIM_BINDING, "Object")
            .and_then(Epr::read)
            .ok_or_else(|| cannot_process("The association filter names no Object."))?;
        if !query.is(CIM_BINDING, "AssociatedInstances")
            && !query.is(CIM_BINDING, "AssociationInstances")
        {
            return Err(cannot_process(
                "The association filter is neither AssociatedInstances nor AssociationInstances.",
            ));
        }
        if query.name == "AssociatedInstances" {
            Ok(Some(Self::Associated {
                object,
                association_class: text("AssociationClassName"),
                role: text("Role"),
                result_class: text("ResultClassName"),
                result_role: text("ResultRole"),
            }))
        } else {
            Ok(Some(Self::Association {
                object,
                result_class: text("ResultClassName"),
                role: text("Role"),
            }))
        }
    }

    /// The source instance's EPR.
    fn object(&self) -> &Epr {
        match self {
            Self::Associated { object, .. } | Self::Association { object, .. } => object,
        }
    }
}

/// Whether a resource URI may carry an association enumeration: a class of the table or an
/// all-classes URI.
pub(crate) fn accepts_resource_uri(uri: &str) -> bool {
    let uri = uri.trim();
    classes::lookup(uri).is_some()
        || uri == "http://schemas.dmtf.org/wbem/wscim/1/*"
        || (uri.ends_with("/*")
            && (uri.starts_with("http://schemas.dmtf.org/wbem/wscim/1/")
                || uri.starts_with("http://intel.com/wbem/wscim/1/")))
}

/// The EPR-valued key properties (roles) of an association instance.
fn roles(instance: &Instance) -> Vec<(&str, &Epr)> {
    instance
        .props
        .iter()
        .filter(|(name, _)| instance.keys.iter().any(|k| k == name))
        .filter_map(|(name, value)| match value {
            Value::Epr(epr) => Some((name.as_str(), epr)),
            _ => None,
        })
        .collect()
}

/// Whether an optional name filter admits `value`.
fn admits(filter: Option<&String>, value: &str) -> bool {
    filter.is_none_or(|f| f.eq_ignore_ascii_case(value))
}

/// The instance an EPR names, with its class row.
fn resolve(
    epr: &Epr,
    state: &NvramState,
    facts: &DeviceFacts,
) -> Option<(&'static ClassDef, Instance)> {
    let def = classes::lookup(&epr.resource_uri).or_else(|| {
        let name = class_name(&epr.resource_uri);
        CLASSES.iter().find(|d| d.name == name)
    })?;
    classes::instances(def, state, facts)
        .into_iter()
        .find(|i| i.epr().matches(epr))
        .map(|i| (def, i))
}

/// Run `query`: the result instances with their class rows, de-duplicated, in table order.
pub(crate) fn run(
    query: &AssocQuery,
    state: &NvramState,
    facts: &DeviceFacts,
) -> Vec<(&'static ClassDef, Instance)> {
    let object = query.object();
    let mut out: Vec<(&'static ClassDef, Instance)> = Vec::new();
    let mut push = |def: &'static ClassDef, instance: Instance| {
        if !out.iter().any(|(_, i)| *i == instance) {
            out.push((def, instance));
        }
    };
    for def in CLASSES {
        for association in classes::instances(def, state, facts) {
            let roles = roles(&association);
            if roles.len() < 2 {
                break;
            }
            for (role, referenced) in &roles {
                if !referenced.matches(object) {
                    continue;
                }
                match query {
                    AssocQuery::Association {
                        result_class,
                        role: want_role,
                        ..
                    } => {
                        if admits(want_role.as_ref(), role)
                            && result_class.as_ref().is_none_or(|c| is_a(def.name, c))
                        {
                            push(def, association.clone());
                        }
                    }
                    AssocQuery::Associated {
                        association_class,
                        role: want_role,
                        result_class,
                        result_role,
                        ..
                    } => {
                        if !admits(want_role.as_ref(), role)
                            || !association_class.as_ref().is_none_or(|c| is_a(def.name, c))
                        {
                            continue;
                        }
                        for (other_role, other) in &roles {
                            if other_role == role || !admits(result_role.as_ref(), other_role) {
                                continue;
                            }
                            if let Some((rdef, result)) = resolve(other, state, facts)
                                && result_class.as_ref().is_none_or(|c| is_a(rdef.name, c))
                            {
                                push(rdef, result);
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn superclass_names_match_their_subclasses() {
        assert!(is_a("CIM_Fan", "cim_logicaldevice"));
        assert!(is_a("CIM_Processor", "CIM_Processor"));
        assert!(!is_a("CIM_Processor", "CIM_Fan"));
    }

    #[test]
    fn all_class_uris_are_accepted_others_not() {
        assert!(accepts_resource_uri(
            "http://schemas.dmtf.org/wbem/wscim/1/*"
        ));
        assert!(accepts_resource_uri(
            "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/*"
        ));
        assert!(accepts_resource_uri(
            "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ComputerSystem"
        ));
        assert!(!accepts_resource_uri("http://example.com/*"));
    }
}
