//! Status messages as a first-class output: the STATMSG stream of every site and component, the
//! table of the message ids the hierarchy raises (description, severity, wording tag, source), and
//! the STATMSG line each one also writes into its component's log.
//!
//! The English message strings of 4404, 4405 and 5112 were not found anywhere
//! (`reference/configmgr-sites.md` §1, B.6 item 1): the descriptions below are \[R\] candidates,
//! kept in this one table so they can be corrected in one place.

use amt_wire::time::Timestamp;

use crate::logs::{LogId, Severity, Wording, ids};

/// One status message id the simulation raises.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct StatusMessageDef {
    /// The message id (4404).
    pub id: u32,
    /// The component raising it.
    pub component: &'static str,
    /// Severity (`SEV=I|W|E`).
    pub severity: Severity,
    /// The description with `%1`, `%2` for the insertion strings.
    pub description: &'static str,
    /// How sure we are of the description.
    pub wording: Wording,
    /// Where the message and its meaning come from.
    pub source: &'static str,
    /// The catalog row of the STATMSG line it writes into the component's log.
    pub line: LogId,
}

/// Every status message the hierarchy raises.
pub static STATUS_MESSAGES: &[StatusMessageDef] = &[
    StatusMessageDef {
        id: 4404,
        component: "SMS_DESPOOLER",
        severity: Severity::Warning,
        description: "SMS Despooler could not process an instruction and package file from site %1 because it does not have a valid public key to verify the signature of the package. The instruction will be retried.",
        wording: Wording::Reconstructed,
        source: "configmgr-sites A.1.4: seed 000 \u{a7}SMS_Despooler [T] (the site does not allow unsigned key exchange); SCOM-4404 rule name [V]; text [R]",
        line: ids::K_01_STATMSG_4404,
    },
    StatusMessageDef {
        id: 4405,
        component: "SMS_DESPOOLER",
        severity: Severity::Error,
        description: "SMS Despooler received an instruction file containing inter-site replication data from site %1, but will not process it because it did not find a valid public key for the sending site.",
        wording: Wording::Reconstructed,
        source: "configmgr-sites A.1.4: seed 000 \u{a7}SMS_Despooler [T]; text [R]",
        line: ids::K_01_STATMSG_4405,
    },
    StatusMessageDef {
        id: 5112,
        component: "SMS_POLICY_PROVIDER",
        severity: Severity::Warning,
        description: "The site server signing certificate (thumbprint %1) will expire in %2 day(s). Renew the certificate and configure the site to use it.",
        wording: Wording::Reconstructed,
        source: "configmgr-sites A.2.1: seed 003 (5112, SMS_POLICY-PROVIDER, once a day within 10 days of expiry, with the days remaining [V] S3-EN); text [R]",
        line: ids::N_01_STATMSG_5112,
    },
];

/// The definition of message `id`.
pub fn definition(id: u32) -> Option<&'static StatusMessageDef> {
    STATUS_MESSAGES.iter().find(|d| d.id == id)
}

/// One raised status message.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct StatusMessage {
    /// The site that raised it.
    pub site: String,
    /// The component (`SMS_DESPOOLER`).
    pub component: String,
    /// The message id.
    pub id: u32,
    /// Severity.
    pub severity: Severity,
    /// Insertion strings (`ISTR0`…).
    pub istr: Vec<String>,
    /// When.
    pub at: Timestamp,
}

impl StatusMessage {
    /// The description with the insertion strings filled in (`%1` = `istr[0]`).
    pub fn text(&self) -> String {
        let Some(def) = definition(self.id) else {
            return String::new();
        };
        let mut out = def.description.to_owned();
        for (i, v) in self.istr.iter().enumerate().rev() {
            out = out.replace(&format!("%{}", i + 1), v);
        }
        out
    }
}

/// `SEV=` letter.
pub fn severity_letter(s: Severity) -> &'static str {
    match s {
        Severity::Info => "I",
        Severity::Warning => "W",
        Severity::Error => "E",
    }
}

/// `ISTR0="…" … ISTR9="…"`: ten insertion strings, missing ones empty.
pub fn render_istrs(istr: &[String]) -> String {
    (0..10)
        .map(|i| {
            format!(
                "ISTR{i}=\"{}\"",
                istr.get(i).map(String::as_str).unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_fill_insertion_strings_and_istrs_render_ten() {
        let m = StatusMessage {
            site: "P01".into(),
            component: "SMS_POLICY_PROVIDER".into(),
            id: 5112,
            severity: Severity::Warning,
            istr: vec!["AB12".into(), "9".into()],
            at: Timestamp::EPOCH,
        };
        assert_eq!(
            m.text(),
            "The site server signing certificate (thumbprint AB12) will expire in 9 day(s). Renew the certificate and configure the site to use it."
        );
        let r = render_istrs(&m.istr);
        assert!(
            r.starts_with("ISTR0=\"AB12\" ISTR1=\"9\" ISTR2=\"\""),
            "{r}"
        );
        assert!(r.ends_with("ISTR9=\"\""), "{r}");
        assert_eq!(severity_letter(Severity::Error), "E");
        for def in STATUS_MESSAGES {
            let row = crate::logs::lookup(def.line.as_str());
            assert!(
                row.is_some_and(|t| t.template.contains(&format!("ID={} ", def.id))),
                "{}",
                def.id
            );
        }
    }
}
