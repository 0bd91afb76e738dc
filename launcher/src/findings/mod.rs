//! What an archive's contents support, findings first: [`facts`] reads what a person
//! needs from one collection (its archive and its Kubernetes evidence) in one pass,
//! bounded, each member hashed as it is read so every finding can name the evidence
//! it rests on (the member's path in the archive and its sha256); [`rules`] holds every
//! rule in one place, each a documented function with its tests. The target wrote all
//! of it: nothing here is trusted, and [`crate::page`] escapes all of it.

pub mod facts;
pub mod rules;

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
    /// The member's sha256, computed as it was read.
    pub sha256: String,
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
