//! What a collection's facts support, findings first: every rule is a documented
//! function over [`Facts`] with its tests, registered once in [`RULES`] (docs/findings.md
//! lists them; a test keeps it complete). Each finding names the evidence it rests on:
//! the member of an archive, its sha256 as it was read, and whether the manifest gives
//! the same. The target wrote all of it: nothing here is trusted, and the page escapes
//! all of it. Adding a rule is one function in the file of its subject plus one line
//! here.

mod executables;
mod history;
mod kubernetes;
mod memory;
mod network;
mod persistence;

use super::facts::{Check, Facts, Member};
use std::collections::HashMap;

/// How much a finding matters to a responder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    High,
    Medium,
    Info,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Info => "info",
        }
    }
}

/// The evidence a finding rests on: a member of an archive, and where in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The archive's file name.
    pub archive: String,
    /// The member's path in the archive.
    pub member: String,
    /// The member's sha256, computed as it was read (or, for a copied executable, the
    /// one its record gives).
    pub sha256: String,
    /// The manifest's word on that sha256.
    pub check: Check,
    /// Where in the member (`pid 42`, `line 7`), or empty.
    pub at: String,
}

/// One finding: a sentence, and what it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub severity: Severity,
    /// The rule's name (`deleted-executable`...), as docs/findings.md lists them.
    pub rule: &'static str,
    pub sentence: String,
    pub evidence: Vec<Evidence>,
}

/// A rule: reads the facts, adds its findings.
pub type Rule = fn(&Facts, &mut Vec<Finding>);

/// Every rule, in the order they run.
pub const RULES: &[(&str, Rule)] = &[
    ("deleted-executable", executables::deleted),
    ("writable-place-executable", executables::writable_place),
    ("history-command", history::commands),
    ("ld-so-preload", persistence::ld_so_preload),
    ("cron-entry", persistence::cron_entries),
    ("drift", persistence::drift),
    ("outbound-connection", network::outbound),
    ("listening-socket", network::listening),
    ("shell-socket", network::shell_socket),
    ("yara-match", memory::yara_match),
    ("memory-refused", memory::memory_refused),
    ("secret-in-environment", executables::secrets_in_environment),
    ("service-account-power", kubernetes::service_account_power),
];

/// The findings of one collection, most severe first.
pub fn all(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for (_, rule) in RULES {
        rule(f, &mut out);
    }
    out.sort_by_key(|x| x.severity);
    out
}

fn file_name(p: Option<&std::path::PathBuf>) -> String {
    p.and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn evidence(
    archive: String,
    members: &HashMap<String, Member>,
    member: &str,
    at: String,
) -> Evidence {
    let m = members.get(member);
    Evidence {
        archive,
        member: member.to_owned(),
        sha256: m.map(|m| m.sha256.clone()).unwrap_or_default(),
        check: m.map_or(Check::Unlisted, |m| m.check.clone()),
        at,
    }
}

/// Evidence in the collection's archive.
fn ev(f: &Facts, member: &str, at: String) -> Evidence {
    evidence(
        file_name(f.collection.archive.as_ref()),
        &f.members,
        member,
        at,
    )
}

/// Evidence in the collection's Kubernetes evidence.
fn k8s_ev(f: &Facts, member: &str, at: String) -> Evidence {
    evidence(
        file_name(f.collection.k8s.as_ref()),
        &f.k8s_members,
        member,
        at,
    )
}

/// Typed records from JSON, for the rules' tests.
#[cfg(test)]
pub(crate) fn typed<T: serde::de::DeserializeOwned>(v: Vec<serde_json::Value>) -> Vec<T> {
    v.into_iter()
        .map(|x| serde_json::from_value(x).expect("a record of its type"))
        .collect()
}

/// Empty facts, for the rules' tests.
#[cfg(test)]
pub(crate) fn facts() -> Facts {
    Facts::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_findings_md_lists_every_rule() {
        let doc = include_str!("../../../../docs/findings.md");
        for (name, _) in RULES {
            assert!(
                doc.contains(&format!("| `{name}` |")),
                "{name} is not in docs/findings.md"
            );
        }
    }
}
