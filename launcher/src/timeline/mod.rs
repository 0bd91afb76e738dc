//! `cairn timeline`: one time-sorted timeline of what cairn archives hold. From each
//! collection's archive: the bodyfile's file times (MACB, each file marked when drift
//! says it changed since the image, with the sha256 the manifest gives), process start
//! times, logins (utmp, wtmp, btmp), and the collection itself; from its Kubernetes
//! evidence: the pod's and its containers' lifecycle and the pod's events. Written for
//! Timesketch (CSV with one header row, or JSON lines, with `message`, `datetime`
//! (ISO 8601), `timestamp_desc`) or as a bodyfile for `mactime -b` ([`write`]).
//!
//! Every value comes from the target and goes out as data: CSV quoting, JSON escaping,
//! and cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`) are
//! prefixed with `'` in CSV (the JSON lines keep them exact).

pub mod sources;
pub mod write;

use crate::read::inputs::Collection;
use std::rc::Rc;

/// One point in time.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Microseconds since the epoch, UTC.
    pub micros: i64,
    /// What the time is (`Content Modification Time`, `Process Start Time`...).
    pub desc: String,
    pub message: String,
    /// The collection it comes from (its archive's name).
    pub target: Rc<str>,
    /// `file`, `process`, `login`, `kubernetes`, `collection`.
    pub source: &'static str,
    pub path: Option<Rc<str>>,
    pub pid: Option<i64>,
    pub user: Option<String>,
    pub sha256: Option<Rc<str>>,
    /// For file times: which of m, a, c, b this time is (`m.c.`), as mactime prints.
    pub macb: Option<String>,
}

/// Everything read from the collections, and what could not be read.
#[derive(Debug, Default)]
pub struct Timeline {
    pub events: Vec<Event>,
    /// Each collection's bodyfile lines, with the collection's name, for `mactime`.
    pub bodyfiles: Vec<(Rc<str>, Vec<String>)>,
    /// What could not be read or was malformed, one sentence each.
    pub problems: Vec<String>,
}

/// What to keep: the events (CSV, JSON lines), or the bodyfile lines (mactime). Only
/// one is held, so a collection of a million files costs one of them in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Events,
    Bodyfile,
}

/// Reads every collection once and sorts the events by time (then target, then
/// message, so that equal times come out the same way every run).
pub fn build(collections: &[Collection], keep: Keep) -> Timeline {
    let mut t = Timeline::default();
    for c in collections {
        let target: Rc<str> = Rc::from(c.name.as_str());
        if let Some(a) = &c.archive {
            if let Err(e) = sources::archive(a, &target, keep, &mut t) {
                t.problems.push(format!("{}: {e:#}", a.display()));
            }
        }
        if let Some(k) = c.k8s.as_ref().filter(|_| keep == Keep::Events) {
            if let Err(e) = sources::kubernetes(k, &target, &mut t) {
                t.problems.push(format!("{}: {e:#}", k.display()));
            }
        }
    }
    let before = t.events.len();
    t.events.retain(|e| write::iso(e.micros).is_some());
    if t.events.len() < before {
        t.problems.push(format!(
            "{} event(s) with a time outside the years 0 to 9999 left out (hostile or damaged timestamps; the bodyfile keeps them)",
            before - t.events.len()
        ));
    }
    t.events.sort_by(|a, b| {
        (a.micros, &a.target, &a.message, &a.desc).cmp(&(b.micros, &b.target, &b.message, &b.desc))
    });
    t
}

/// RFC 3339 to microseconds since the epoch.
pub fn micros_of(rfc3339: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1000).ok()
}
