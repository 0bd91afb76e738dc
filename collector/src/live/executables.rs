//! Executables of running processes: the sha256 of each, read through
//! `/proc/PID/exe` (which still reaches a binary deleted from disk), and a copy of
//! those that were deleted or live in a world-writable place (/tmp, /var/tmp,
//! /dev/shm, a user's home), capped in size. Written as
//! `live_response/processes/executables.jsonl` plus the copies under
//! `live_response/processes/executables/`.

use super::processes::{Proc, Scan};
use super::Emit;
use crate::source::procfs::{ProcDir, ProcFs};
use cairn_archive::member::live::{EXECUTABLES, EXECUTABLE_COPIES};
use cairn_archive::records::process::Executable;
use cairn_archive::text::escape;
use cairn_protocol::{Level, LogEvent};
use std::collections::HashMap;

/// Default cap on one executable copy.
pub const DEFAULT_COPY_CAP: u64 = 100 << 20;

/// Directories anyone may write to, where a legitimate binary rarely runs from.
pub const WRITABLE_PLACES: &[&[u8]] = &[b"/tmp/", b"/var/tmp/", b"/dev/shm/", b"/run/user/"];

/// True when `path` lies in a world-writable place or under one of `homes`.
pub fn suspicious_place(path: &[u8], homes: &[Vec<u8>]) -> bool {
    WRITABLE_PLACES.iter().any(|p| path.starts_with(p))
        || homes.iter().any(|h| {
            let mut prefix = h.clone();
            if !prefix.ends_with(b"/") {
                prefix.push(b'/');
            }
            path.starts_with(&prefix)
        })
}

fn basename(path: &[u8]) -> Vec<u8> {
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    let name: Vec<u8> = name
        .iter()
        .map(|&b| if b == b'/' || b == 0 { b'_' } else { b })
        .collect();
    if name.is_empty() {
        b"exe".to_vec()
    } else {
        name
    }
}

/// The sha256 of an executable (when read whole) and the archive path of its copy.
type Result_ = (Option<String>, Option<String>);

/// What a pass over the executables needs.
struct Pass<'p> {
    cap: u64,
    artifact: &'p str,
    denials: super::Denials,
}

/// Hashes, and copies where warranted, the executable of every scanned process.
pub fn run(
    proc: &ProcFs,
    scan: &Scan,
    homes: &[Vec<u8>],
    cap: u64,
    artifact: &str,
    emit: &mut dyn Emit,
) {
    let mut out = Vec::new();
    // (dev, ino) → the record already written, so a binary run 50 times is read once.
    let mut done: HashMap<(u64, u64), Result_> = HashMap::new();
    let mut pass = Pass {
        cap,
        artifact,
        denials: super::Denials::default(),
    };
    for p in &scan.procs {
        let Some(exe) = &p.exe else { continue };
        if emit.expired() {
            break;
        }
        let Ok(dir) = proc.process(p.pid) else {
            continue;
        };
        let mut file = match dir.open("exe") {
            Ok(f) => f,
            Err(e) => {
                if !crate::source::procfs::vanished(&e) {
                    pass.denials.note("exe", &dir.path("exe"), &e);
                }
                continue;
            }
        };
        let meta = match crate::source::meta::stat_at(&file, b"") {
            Ok(m) => m,
            Err(e) => {
                pass.denials.note("exe", &dir.path("exe"), &e);
                continue;
            }
        };
        let place = suspicious_place(exe, homes);
        // The collector itself, dropped by a bootstrap in /dev/shm or /tmp: hashed, not
        // copied (the footprint in the log names it and its sha256).
        let is_self = p.pid as i64 == i64::from(std::process::id());
        let want_copy = (p.exe_deleted || place) && !is_self;
        let (sha, copied) = done
            .entry((meta.dev, meta.ino))
            .or_insert_with(|| pass.take(p, exe, &dir, &mut file, meta.size, want_copy, emit))
            .clone();
        let rec = Executable {
            pid: p.pid,
            comm: p.comm.clone(),
            exe: escape(exe),
            deleted: p.exe_deleted,
            world_writable_place: place,
            size: meta.size,
            inode: meta.ino,
            sha256: sha,
            copy: copied,
            collector: is_self,
        };
        super::push_line(&mut out, &rec);
    }
    emit.output(artifact, EXECUTABLES, &out);
    pass.denials.flush(emit, artifact);
}

impl Pass<'_> {
    /// Copies the executable when warranted and small enough, else hashes it.
    #[allow(clippy::too_many_arguments)]
    fn take(
        &mut self,
        p: &Proc,
        exe: &[u8],
        dir: &ProcDir,
        file: &mut std::fs::File,
        size: u64,
        want_copy: bool,
        emit: &mut dyn Emit,
    ) -> Result_ {
        let cap = self.cap;
        if want_copy && size <= cap {
            let mut rel = format!("{EXECUTABLE_COPIES}{}_", p.pid).into_bytes();
            rel.extend_from_slice(&basename(exe));
            let source = dir.path("exe").into_bytes();
            return match emit.copy(self.artifact, &rel, &source, file, cap) {
                Ok(c) if c.complete => (Some(c.sha256), Some(c.archive_path)),
                Ok(c) => (None, Some(c.archive_path)),
                Err(e) => {
                    self.denials.note("exe copy", &dir.path("exe"), &e);
                    (None, None)
                }
            };
        }
        if want_copy {
            emit.log(
                Level::Warn,
                LogEvent::Skipped,
                self.artifact,
                Some(exe),
                format!(
                    "executable of pid {} not copied: {size} bytes exceed the cap of {cap}; hashed only",
                    p.pid
                ),
            );
        }
        match cairn_archive::hash::sha256_all(file) {
            Ok(h) => (Some(h), None),
            Err(e) => {
                self.denials.note("exe read", &dir.path("exe"), &e);
                (None, None)
            }
        }
    }
}

/// The `executables` native collector: the artifact entry's `max_file_size` caps the
/// copies.
pub fn native(r: &mut super::Run<'_>) {
    let homes = crate::source::users::users_of(r.root)
        .into_iter()
        .map(|u| u.home)
        .filter(|h| h.len() > 1)
        .collect::<Vec<_>>();
    let cap = r.max_file_size.unwrap_or(DEFAULT_COPY_CAP);
    let (artifact, proc) = (r.artifact, r.proc);
    if let (Some(proc), Some((scan, emit))) = (proc, r.scan()) {
        run(proc, scan, &homes, cap, artifact, emit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places() {
        let homes = vec![b"/home/app".to_vec(), b"/root".to_vec()];
        assert!(suspicious_place(b"/tmp/x", &homes));
        assert!(suspicious_place(b"/dev/shm/.a/b", &homes));
        assert!(suspicious_place(b"/home/app/miner", &homes));
        assert!(suspicious_place(b"/root/x", &homes));
        assert!(!suspicious_place(b"/rootkit", &homes));
        assert!(!suspicious_place(b"/usr/bin/sleep", &homes));
        assert_eq!(basename(b"/tmp/evil"), b"evil");
        assert_eq!(basename(b"/"), b"exe");
    }
}
