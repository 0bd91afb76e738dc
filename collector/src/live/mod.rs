//! Live response: the volatile state of the system at the moment of collection, read
//! straight from the kernel's files in Rust, so it works in a busybox or distroless
//! container, as root or not, with no `ps`, `netstat` or shell.
//!
//! Each native collector is an artifact the specs select with `collector: native` and
//! `native: NAME`, and writes JSON or JSON lines under `live_response/<folder>/`:
//! [`processes`] (and the process tree), [`executables`] (hashes, and copies of deleted
//! or suspiciously placed binaries), [`network`] (sockets mapped to their processes,
//! interfaces, routes, ARP), [`mounts`] (mountinfo, overlay layers, capacity),
//! [`system`] (host, kernel, modules, container and Kubernetes identity), [`memory`]
//! (process memory as core files, opt-in) and [`users`]
//! (decoded utmp/wtmp/btmp/lastlog), and [`drift`] (what a container changed against its
//! image, on a root rebuilt from a node's disk). [`parse`] holds the byte-level parsers;
//! /proc is read through [`crate::source::procfs`]. The engine hands each collector an [`Emit`] to
//! write into the archive and the log.

pub mod container;
pub mod drift;
pub mod executables;
pub mod memory;
pub mod mounts;
pub mod network;
pub mod parse;
pub mod processes;
pub mod redact;
pub mod system;
pub mod users;

use crate::source::Root;
use cairn_archive::write::Spool;
use cairn_protocol::{Level, LogEvent};
use std::collections::BTreeMap;
use std::io;

/// A native collector: the name a spec gives in `native:`, whether it reads the
/// running kernel (then it is not run on an offline tree), and what it does.
pub struct Native {
    pub name: &'static str,
    pub needs_kernel: bool,
    pub run: fn(&mut Run<'_>),
}

/// Every native collector, in one place: adding one is a module and a line here.
pub const NATIVE: &[Native] = &[
    Native {
        name: "processes",
        needs_kernel: true,
        run: processes::native,
    },
    Native {
        name: "executables",
        needs_kernel: true,
        run: executables::native,
    },
    Native {
        name: "network",
        needs_kernel: true,
        run: network::native,
    },
    Native {
        name: "mounts",
        needs_kernel: true,
        run: mounts::native,
    },
    Native {
        name: "system",
        needs_kernel: false,
        run: system::native,
    },
    Native {
        name: "users",
        needs_kernel: false,
        run: users::native,
    },
    Native {
        name: "memory",
        needs_kernel: true,
        run: memory::native,
    },
    Native {
        name: "drift",
        needs_kernel: false,
        run: drift::native,
    },
];

/// The native collector called `name`.
pub fn native(name: &str) -> Option<&'static Native> {
    NATIVE.iter().find(|n| n.name == name)
}

/// What a native collector is given for one artifact entry.
pub struct Run<'a> {
    pub artifact: &'a str,
    /// The artifact entry's own cap, where it gives one.
    pub max_file_size: Option<u64>,
    pub root: &'a Root,
    /// procfs, on a live root (always there for a collector that needs the kernel).
    pub proc: Option<&'a crate::source::procfs::ProcFs>,
    pub options: &'a LiveOptions,
    scan: &'a mut Option<processes::Scan>,
    pub emit: &'a mut dyn Emit,
}

impl Run<'_> {
    /// The process scan (made on first use and shared by the collectors of one
    /// collection), with the emitter; `None` without procfs.
    pub fn scan(&mut self) -> Option<(&mut processes::Scan, &mut dyn Emit)> {
        let proc = self.proc?;
        let (options, emit) = (self.options, &mut *self.emit);
        let scan = self
            .scan
            .get_or_insert_with(|| processes::scan(proc, options, emit));
        Some((scan, &mut *self.emit))
    }
}

/// Options of the live response.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Redact environment values whose names look secret.
    pub redact: bool,
    /// Where procfs is mounted.
    pub proc_path: std::path::PathBuf,
    /// What a memory capture may take.
    pub memory: memory::MemoryOptions,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            redact: true,
            proc_path: "/proc".into(),
            memory: memory::MemoryOptions::default(),
        }
    }
}

/// What a copied file became in the archive.
#[derive(Debug, Clone)]
pub struct Copied {
    pub archive_path: String,
    pub sha256: String,
    pub stored: u64,
    pub complete: bool,
}

/// Writes `records` as JSON lines.
pub fn json_lines<T: serde::Serialize>(records: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        push_line(&mut out, r);
    }
    out
}

/// Appends one record and its newline.
pub fn push_line<T: serde::Serialize>(out: &mut Vec<u8>, record: &T) {
    if serde_json::to_writer(&mut *out, record).is_ok() {
        out.push(b'\n');
    }
}

/// Pretty JSON for a document member.
pub fn pretty<T: serde::Serialize>(doc: &T) -> Vec<u8> {
    serde_json::to_vec_pretty(doc).unwrap_or_default()
}

/// How native collectors write into the archive; implemented by the engine.
pub trait Emit {
    /// Adds a generated file at `member` (`cairn_archive::member::live`).
    fn output(&mut self, artifact: &str, member: &str, data: &[u8]);
    /// Adds a generated file at `member` from a spool.
    fn output_spool(&mut self, artifact: &str, member: &str, spool: &mut Spool);
    /// Streams an open file into the archive at `member`, at most `cap` bytes, with a
    /// manifest record naming `source`.
    fn copy(
        &mut self,
        artifact: &str,
        member: &[u8],
        source: &[u8],
        file: &mut std::fs::File,
        cap: u64,
    ) -> io::Result<Copied>;
    /// Streams a generated output of exactly `size` bytes from `src` (a process's
    /// memory as a core file) into the archive as it is read; a source that ends early
    /// or is stopped by the deadline is padded with zeros and recorded as truncated.
    fn output_stream(
        &mut self,
        artifact: &str,
        member: &str,
        size: u64,
        src: &mut dyn io::Read,
    ) -> io::Result<Copied>;
    /// Writes a collection-log record.
    fn log(
        &mut self,
        level: Level,
        event: LogEvent,
        artifact: &str,
        path: Option<&[u8]>,
        message: String,
    );
    /// True once the deadline has passed.
    fn expired(&mut self) -> bool;
    /// Counts `items` refused reads for the summary (the log holds them aggregated).
    fn count_denied(&mut self, items: u64);
    /// Adds YARA hits (JSON lines) to `live_response/yara/hits.jsonl`, which the
    /// engine writes once at the end with the hits in collected files.
    fn yara_hits(&mut self, lines: &[u8]);
}

/// Denials and failures of one kind, aggregated so a non-root run that is refused
/// `environ` for 300 processes writes one log line, not 300.
#[derive(Debug, Default)]
pub struct Denials {
    by_kind: BTreeMap<(String, String), (u64, Vec<String>)>,
}

impl Denials {
    /// Records that reading `what` (such as `environ`) at `path` failed with `err`.
    pub fn note(&mut self, what: &str, path: &str, err: &io::Error) {
        let errno = err
            .raw_os_error()
            .map(errno_name)
            .unwrap_or_else(|| err.to_string());
        let slot = self
            .by_kind
            .entry((what.to_owned(), errno))
            .or_insert((0, Vec::new()));
        slot.0 += 1;
        if slot.1.len() < 5 {
            slot.1.push(path.to_owned());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_kind.is_empty()
    }

    /// Total failures noted.
    pub fn total(&self) -> u64 {
        self.by_kind.values().map(|v| v.0).sum()
    }

    /// Writes one log record per (what, errno) and forgets them.
    pub fn flush(&mut self, emit: &mut dyn Emit, artifact: &str) {
        for ((what, errno), (count, examples)) in std::mem::take(&mut self.by_kind) {
            let denied = errno.contains("EACCES") || errno.contains("EPERM");
            let (level, event) = if denied {
                (Level::Warn, LogEvent::Denied)
            } else {
                (Level::Info, LogEvent::Unreadable)
            };
            if denied {
                emit.count_denied(count);
            }
            let first = examples.first().cloned().unwrap_or_default();
            emit.log(
                level,
                event,
                artifact,
                Some(first.as_bytes()),
                format!(
                    "{what}: {errno} for {count} item(s); e.g. {}",
                    examples.join(", ")
                ),
            );
        }
    }
}

/// The symbolic name of an errno, as responders grep for it (`EACCES (errno 13)`).
pub fn errno_name(code: i32) -> String {
    use rustix::io::Errno;
    let name = [
        (Errno::ACCESS, "EACCES"),
        (Errno::PERM, "EPERM"),
        (Errno::NOENT, "ENOENT"),
        (Errno::SRCH, "ESRCH"),
        (Errno::IO, "EIO"),
        (Errno::INVAL, "EINVAL"),
        (Errno::NXIO, "ENXIO"),
        (Errno::LOOP, "ELOOP"),
        (Errno::NOTDIR, "ENOTDIR"),
        (Errno::AGAIN, "EAGAIN"),
    ]
    .iter()
    .find(|(e, _)| e.raw_os_error() == code)
    .map(|(_, n)| *n)
    .unwrap_or("E?");
    format!("{name} (errno {code})")
}

/// State shared by the native collectors of one collection: procfs, opened once, and
/// the process scan, made once and used by processes, executables and network.
#[derive(Default)]
pub struct Session {
    pub options: LiveOptions,
    proc: Option<Result<crate::source::procfs::ProcFs, String>>,
    scan: Option<processes::Scan>,
}

impl Session {
    pub fn new(options: LiveOptions) -> Session {
        Session {
            options,
            ..Session::default()
        }
    }
}

/// Runs the native collector `name` for the artifact set `artifact`.
/// `max_file_size` is the artifact entry's own cap, where it gives one.
pub fn run(
    name: &str,
    artifact: &str,
    max_file_size: Option<u64>,
    root: &Root,
    session: &mut Session,
    emit: &mut dyn Emit,
) {
    let Some(native) = native(name) else {
        emit.log(
            Level::Error,
            LogEvent::Spec,
            artifact,
            None,
            format!("unknown native collector `{name}`"),
        );
        return;
    };
    if native.needs_kernel && !root.is_live() {
        emit.log(
            Level::Info,
            LogEvent::NotRun,
            artifact,
            None,
            format!(
                "native collector `{name}` reads the running kernel and is not run on an offline tree"
            ),
        );
        return;
    }
    let Session {
        options,
        proc,
        scan,
    } = session;
    let proc = if root.is_live() {
        let opened = proc.get_or_insert_with(|| {
            crate::source::procfs::ProcFs::open(&options.proc_path)
                .map_err(|e| format!("cannot open {}: {e}", options.proc_path.display()))
        });
        match opened {
            Ok(p) => Some(&*p),
            Err(msg) => {
                if native.needs_kernel {
                    emit.log(Level::Error, LogEvent::Error, artifact, None, msg.clone());
                    return;
                }
                None
            }
        }
    } else {
        None
    };
    (native.run)(&mut Run {
        artifact,
        max_file_size,
        root,
        proc,
        options,
        scan,
        emit,
    });
}
