//! The collection engine: the state of one collection (the root, the options, the
//! [`super::recorder::Recorder`] that writes the archive, what was already collected,
//! the deadline) and [`collect`], which runs every selected artifact set in order and
//! seals the archive. The work itself is in [`super::runner`] (artifact entries),
//! [`super::files`] (files into the archive), [`super::emit`] (the live response's
//! writes) and [`super::summary`] (the end).

use super::identity;
use super::options::Options;
use super::recorder::Recorder;
use super::summary::{finish, CollectError, Ended, Report, Run};
use crate::progress::Progress;
use crate::sink::{Sink, Target};
use crate::source::mounts::{MountTable, PSEUDO_FILESYSTEMS};
use crate::source::procfs::ProcFs;
use crate::source::users::{users_of, User};
use crate::source::Root;
use crate::spec::Selection;
use cairn_archive::write::ArchiveWriter;
use cairn_protocol::event::{self, Event};
use cairn_protocol::{Level, LogEvent};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::time::Instant;

pub struct Engine<'a> {
    pub root: &'a Root,
    pub opts: &'a Options,
    pub rec: Recorder<'a>,
    /// Paths already collected, by the first 64 bits of the path's sha256: overlapping
    /// artifacts store each file once. A path that would be skipped for another must
    /// share those 64 bits with it: by chance, under one in ten million over a million
    /// paths; on purpose (an attacker naming a file to hide an evidence file), a search
    /// of 2^64 sha256 computations. (A keyless 64-bit hash, as std's default, can be
    /// collided at will.)
    seen: HashSet<u64>,
    /// The (device, inode) of the collector's own output file, never collected.
    pub own_output: Option<(u64, u64)>,
    /// Where that file is, when it is inside the collected tree.
    pub output_in_tree: Option<cairn_protocol::Placed>,
    /// The collector's own executable (a bootstrap drops it in /dev/shm or /tmp, which
    /// the default profile collects): skipped, its path and hash are in the footprint.
    pub own_exe: Option<(u64, u64)>,
    pub mounts: MountTable,
    users: Option<Vec<User>>,
    pub deadline: Option<Instant>,
    pub timed_out: bool,
    /// The archive directory files go under: `files` for the root, `node` while
    /// collecting what the node keeps beside it ([`super::beside`]).
    pub top: &'static str,
    /// The read buffer of in-place hashing.
    pub buf: Vec<u8>,
    /// State shared by the native live-response collectors (the process scan).
    pub live: crate::live::Session,
    /// What the responder's YARA rules matched (`--yara`): in collected files as they
    /// streamed, in processes' memory and executables; written last as hits.jsonl.
    pub yara_hits: Vec<u8>,
    /// The rules over collected files, on a thread of their own.
    pub yara_files: Option<super::yara_files::FileScanner>,
}

/// `top/path` with exactly one `/` between.
pub fn archive_path(top: &str, path: &[u8]) -> Vec<u8> {
    let mut p = top.as_bytes().to_vec();
    if !path.starts_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(path);
    p
}

impl Engine<'_> {
    /// True once the deadline has passed (logged the first time).
    pub fn expired(&mut self) -> bool {
        if !self.timed_out && self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.timed_out = true;
            self.rec.log(Level::Warn, LogEvent::Timeout, None, None, "the --timeout deadline was reached; the collection stops here and the archive is closed");
        }
        self.timed_out
    }

    /// True the first time `path` is met in this collection (under [`Engine::top`]: a
    /// file of the container never hides one of the node at the same path).
    pub fn first_time(&mut self, path: &[u8]) -> bool {
        let digest = Sha256::digest(archive_path(self.top, path));
        let mut key = [0u8; 8];
        key.copy_from_slice(&digest[..8]);
        self.seen.insert(u64::from_le_bytes(key))
    }

    /// The root's users (from its own /etc/passwd), read once.
    pub fn users(&mut self) -> &[User] {
        if self.users.is_none() {
            self.users = Some(users_of(self.root));
        }
        self.users.as_deref().unwrap_or(&[])
    }

    /// Records an object a walk could not list or examine: an error unless refused.
    pub fn walk_error(&mut self, set: &str, path: &[u8], action: &str, err: &std::io::Error) {
        let (status, reason) = super::classify::classify(err);
        let c = &mut self.rec.counts;
        let (level, event) = if status == cairn_archive::records::Status::Denied {
            c.denied += 1;
            (Level::Warn, LogEvent::Denied)
        } else {
            c.errors += 1;
            (Level::Error, LogEvent::Error)
        };
        self.rec.log(
            level,
            event,
            Some(set),
            Some(path),
            format!("{action}: {reason}"),
        );
    }

    /// True when device `dev` holds a pseudo-filesystem (procfs, sysfs...).
    pub fn is_pseudo(&self, dev: u64) -> bool {
        self.mounts
            .fstype(dev)
            .is_some_and(|t| PSEUDO_FILESYSTEMS.contains(&t))
    }
}

/// Runs a whole collection of `selection` on `root` into `target`.
pub fn collect(
    root: &Root,
    selection: &Selection,
    opts: &Options,
    target: Target,
    progress: &mut Progress,
    invocation: cairn_archive::records::summary::Invocation,
) -> Result<Report, CollectError> {
    crate::source::walk::raise_fd_limit();
    let started = cairn_archive::text::now_rfc3339();
    let clock = Instant::now();
    let shown = target.describe();
    let sink = Sink::open(target).map_err(|e| CollectError::Output(shown, e))?;
    let own_output = sink.file_identity();
    let upload_events = sink.events();
    let output_in_tree = identity::output_in_tree(root, &sink);
    let archive = ArchiveWriter::new(sink, opts.workers).map_err(CollectError::Write)?;
    let proc = ProcFs::open(&opts.live.proc_path).ok();
    let mounts = proc.as_ref().map(|p| {
        let pid = root.target_pid().map_or("self".into(), |p| p.to_string());
        MountTable::of_process(p, &pid)
    });
    let mut engine = Engine {
        root,
        opts,
        rec: Recorder::new(archive, progress, upload_events, opts.manifest_part_bytes),
        seen: HashSet::new(),
        own_output,
        output_in_tree,
        own_exe: proc.as_ref().and_then(|p| p.identity("self/exe").ok()),
        mounts: mounts.unwrap_or_default(),
        users: None,
        deadline: opts.timeout.map(|t| clock + t),
        timed_out: false,
        top: cairn_archive::member::FILES_DIR,
        buf: vec![0u8; cairn_archive::write::writer::CHUNK],
        live: crate::live::Session::new(opts.live.clone()),
        yara_hits: Vec::new(),
        yara_files: opts
            .live
            .memory
            .yara
            .clone()
            .map(super::yara_files::FileScanner::start),
    };
    begin(&mut engine, selection);
    for set in &selection.sets {
        if engine.rec.failed.is_some() {
            break;
        }
        engine.rec.begin(&set.name);
        engine.run_set(set);
    }
    for b in &opts.beside {
        if engine.rec.failed.is_some() || engine.expired() {
            break;
        }
        engine.rec.begin(&b.artifact);
        engine.collect_beside(b);
    }
    if opts.live.memory.yara.is_some() {
        let mut hits = std::mem::take(&mut engine.yara_hits);
        if let Some(s) = engine.yara_files.take() {
            hits.extend(s.finish());
        }
        engine.rec.output(
            "yara",
            cairn_archive::member::live::YARA_HITS.as_bytes(),
            &hits,
        );
    }
    if let Some(e) = engine.rec.failed.take() {
        return Err(CollectError::Write(e));
    }
    let ended = cairn_archive::text::now_rfc3339();
    let c = &engine.rec.counts;
    let end = format!(
        "{} files, {} bytes stored, {:.1}s",
        c.files,
        c.bytes_stored,
        clock.elapsed().as_secs_f64()
    );
    engine.rec.log(Level::Info, LogEvent::End, None, None, end);
    let run = Run {
        selection,
        opts,
        started,
        ended,
        clock,
        invocation,
    };
    let ended = Ended {
        rec: engine.rec,
        root,
        timed_out: engine.timed_out,
        output_in_tree: engine.output_in_tree,
    };
    finish(ended, run)
}

/// The log's first records and the `start` event.
fn begin(engine: &mut Engine<'_>, selection: &Selection) {
    let root = engine.root;
    let kind = if root.is_live() {
        "live"
    } else {
        "offline tree"
    };
    let start = format!(
        "cairn-collector {} collecting {} ({kind})",
        env!("CARGO_PKG_VERSION"),
        root.path().display(),
    );
    let rec = &mut engine.rec;
    rec.log(Level::Info, LogEvent::Start, None, None, start);
    rec.log.record_data(
        Level::Info,
        LogEvent::Footprint,
        None,
        None,
        "the collector's own footprint (data: its process, binary and what it wrote)",
        Some(identity::footprint(root, engine.output_in_tree.as_ref())),
    );
    if let Some(o) = &engine.output_in_tree {
        rec.log(
            Level::Warn,
            LogEvent::Footprint,
            None,
            None,
            identity::output_in_tree_warning(o),
        );
    }
    if let Some(s) = &engine.opts.sandbox {
        let level = if s.complete { Level::Info } else { Level::Warn };
        rec.log(level, LogEvent::Footprint, None, None, s.line.clone());
    }
    for note in root.notes() {
        rec.log(Level::Warn, LogEvent::Target, None, None, note.clone());
    }
    rec.progress.emit(&Event::Start(event::Start {
        root: root.path().display().to_string(),
        artifacts: selection.sets.iter().map(|s| s.name.clone()).collect(),
    }));
}
