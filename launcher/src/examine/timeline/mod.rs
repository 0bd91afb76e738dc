//! `cairn timeline`: one time-sorted timeline of what cairn archives hold. From each
//! collection's archive ([`archive`]): the bodyfile's file times (MACB, each file
//! marked when drift says it changed since the image, with the sha256 the manifest
//! gives), process start times, logins (utmp, wtmp, btmp), the matches of the
//! responder's YARA rules (`--yara`), and the collection itself;
//! from its Kubernetes evidence ([`kubernetes`]): the pod's and its containers'
//! lifecycle and the pod's events. Written for Timesketch (CSV with one header row, or
//! JSON lines, with `message`, `datetime` (ISO 8601), `timestamp_desc`) or as a
//! bodyfile for `mactime -b` ([`write`]).
//!
//! Sorted within a memory budget ([`sort`]): a collection of any size costs the budget.
//! Every value comes from the target and goes out as data: CSV quoting, JSON escaping,
//! and cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`) are
//! prefixed with `'` in CSV (the JSON lines keep them exact).

pub mod archive;
pub mod kubernetes;
pub mod sort;
pub mod write;

use super::inputs::Collection;
use std::collections::HashMap;

/// Where an event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    File,
    Process,
    Login,
    Kubernetes,
    Collection,
    Yara,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::File => "file",
            Source::Process => "process",
            Source::Login => "login",
            Source::Kubernetes => "kubernetes",
            Source::Collection => "collection",
            Source::Yara => "yara",
        }
    }

    fn from_u8(b: u8) -> Source {
        match b {
            0 => Source::File,
            1 => Source::Process,
            2 => Source::Login,
            3 => Source::Kubernetes,
            5 => Source::Yara,
            _ => Source::Collection,
        }
    }
}

/// One point in time.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Microseconds since the epoch, UTC.
    pub micros: i64,
    /// What the time is (`Content Modification Time`, `Process Start Time`...).
    pub desc: String,
    pub message: String,
    /// The collection it comes from: an index into [`Timeline::targets`], which are in
    /// name order.
    pub target: u32,
    pub source: Source,
    pub path: Option<String>,
    pub pid: Option<i64>,
    pub user: Option<String>,
    pub sha256: Option<String>,
    /// For file times: which of m, a, c, b this time is (`m.c.`), as mactime prints.
    pub macb: Option<String>,
}

impl Event {
    /// What it holds in memory, about.
    pub fn weight(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        std::mem::size_of::<Event>()
            + self.desc.len()
            + self.message.len()
            + opt(&self.path)
            + opt(&self.user)
            + opt(&self.sha256)
            + opt(&self.macb)
    }
}

/// What a file's events are completed with once the manifest and drift are read.
#[derive(Default)]
pub struct FileNotes {
    /// (target, hash of the path) → the manifest's sha256, sorted for lookup.
    sha: Vec<(u32, u64, [u8; 32])>,
    /// (target, path) → the drift change.
    drift: HashMap<(u32, String), String>,
}

/// The most files whose sha256 is kept to be joined to their times (40 bytes each).
pub const MAX_FILE_HASHES: usize = 600_000;

/// A path's 64-bit key in [`FileNotes`].
pub fn path_key(path: &str) -> u64 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(path.as_bytes());
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

impl FileNotes {
    /// Adds a file's sha256 from the manifest; false once [`MAX_FILE_HASHES`] are held.
    pub fn add_sha(&mut self, target: u32, path: &str, sha: &str) -> bool {
        let mut b = [0u8; 32];
        if hex::decode_to_slice(sha, &mut b).is_err() {
            return true;
        }
        if self.sha.len() >= MAX_FILE_HASHES {
            return false;
        }
        self.sha.push((target, path_key(path), b));
        true
    }

    pub fn add_drift(&mut self, target: u32, path: String, change: String) {
        self.drift.insert((target, path), change);
    }

    fn seal(&mut self) {
        self.sha.sort_unstable_by_key(|(t, k, _)| (*t, *k));
    }

    /// A file event completed: the manifest's sha256 and the drift mark.
    fn complete(&self, mut e: Event) -> Event {
        if e.source != Source::File {
            return e;
        }
        let Some(path) = e.path.as_deref() else {
            return e;
        };
        let key = (e.target, path_key(path));
        if let Ok(i) = self.sha.binary_search_by_key(&key, |(t, k, _)| (*t, *k)) {
            e.sha256 = Some(hex::encode(self.sha[i].2));
        }
        if let Some(c) = self.drift.get(&(e.target, path.to_owned())) {
            e.message.push_str(&format!("; drift: {c} since the image"));
        }
        e
    }
}

/// Everything read from the collections, and what could not be read.
#[derive(Default)]
pub struct Timeline {
    /// The collections' names, in order.
    pub targets: Vec<String>,
    pub sorter: sort::Sorter,
    pub notes: FileNotes,
    /// What could not be read or was malformed, one sentence each.
    pub problems: Vec<String>,
    /// Events left out for a time outside the years 0 to 9999.
    pub out_of_range: u64,
}

impl Timeline {
    /// Adds an event whose time ISO 8601 can write (counting the others), its text cut
    /// to [`MAX_MESSAGE`] and [`MAX_FIELD`] bytes (the archive holds all).
    pub fn push(&mut self, mut e: Event) -> std::io::Result<()> {
        if write::iso(e.micros).is_none() {
            self.out_of_range += 1;
            return Ok(());
        }
        cut(&mut e.message, MAX_MESSAGE);
        for s in [&mut e.path, &mut e.user, &mut e.sha256, &mut e.macb]
            .into_iter()
            .flatten()
        {
            cut(s, MAX_FIELD);
        }
        self.sorter.push(e)
    }

    /// The events, completed and in order.
    pub fn events(
        mut self,
    ) -> std::io::Result<(Vec<String>, impl Iterator<Item = std::io::Result<Event>>)> {
        self.notes.seal();
        let notes = self.notes;
        let merged = self.sorter.into_sorted()?;
        Ok((
            self.targets,
            merged.map(move |e| e.map(|e| notes.complete(e))),
        ))
    }
}

/// The most bytes of an event's message, and of its other text fields.
pub const MAX_MESSAGE: usize = 16 << 10;
pub const MAX_FIELD: usize = 4 << 10;

/// Cuts `s` to at most `max` bytes at a character boundary, marking the cut.
fn cut(s: &mut String, max: usize) {
    if s.len() > max {
        let mut at = max;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
        s.push('…');
    }
}

/// Reads every collection once into a timeline.
pub fn build(collections: &[Collection]) -> Timeline {
    let mut t = Timeline {
        targets: collections.iter().map(|c| c.name.clone()).collect(),
        ..Timeline::default()
    };
    for (i, c) in collections.iter().enumerate() {
        let target = i as u32;
        if let Some(a) = &c.archive {
            if let Err(e) = archive::read(a, target, &mut t) {
                crate::examine::problem(&mut t.problems, format!("{}: {e:#}", a.display()));
            }
        }
        if let Some(k) = &c.k8s {
            if let Err(e) = kubernetes::read(k, target, &mut t) {
                crate::examine::problem(&mut t.problems, format!("{}: {e:#}", k.display()));
            }
        }
    }
    if t.out_of_range > 0 {
        crate::examine::problem(&mut t.problems, format!(
            "{} event(s) with a time outside the years 0 to 9999 left out (hostile or damaged timestamps; the bodyfile keeps them)",
            t.out_of_range
        ));
    }
    t
}

/// RFC 3339 to microseconds since the epoch.
pub fn micros_of(rfc3339: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1000).ok()
}
