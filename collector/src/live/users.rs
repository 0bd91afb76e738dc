//! Login records: utmp (who is logged in), wtmp (logins and logouts), btmp (failed
//! logins) decoded record by record, and lastlog, which is indexed by UID and
//! therefore sparse and possibly terabytes in apparent size: it is read only where it
//! holds data (SEEK_DATA/SEEK_HOLE), and copied raw only when small. Works on a live
//! root and on an offline tree. Written under `live_response/users/`.

use super::parse;
use super::Emit;
use crate::source::open::open_regular;
use crate::source::Root;
use cairn_archive::member::live;
use cairn_archive::records::users::{LastLogin, Login};
use cairn_archive::text::escape;
use cairn_protocol::{Level, LogEvent};
use rustix::fs::SeekFrom;
use std::collections::HashMap;
use std::io::Read;
use std::os::fd::OwnedFd;

/// The files decoded, as (path, kind).
const LOGIN_FILES: &[(&str, &str)] = &[
    ("/var/run/utmp", "utmp"),
    ("/run/utmp", "utmp"),
    ("/var/log/wtmp", "wtmp"),
    ("/var/log/btmp", "btmp"),
];
pub const LASTLOG: &str = "/var/log/lastlog";
/// lastlog is copied raw only up to this apparent size.
pub const LASTLOG_RAW_CAP: u64 = 64 << 20;
/// At most this many records are decoded from one file.
const MAX_RECORDS: u64 = 1_000_000;

fn open(root: &Root, path: &str) -> std::io::Result<OwnedFd> {
    let r = root
        .resolve(path.as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::NotFound, e.to_string()))?;
    open_regular(r.dir(), r.name())
}

pub fn run(root: &Root, artifact: &str, emit: &mut dyn Emit) {
    let names: HashMap<u32, Vec<u8>> = crate::source::users::users_of(root)
        .into_iter()
        .filter_map(|u| Some((u.uid?, u.name)))
        .collect();
    let mut out = Vec::new();
    let mut seen_inodes = Vec::new();
    for (path, kind) in LOGIN_FILES {
        let fd = match open(root, path) {
            Ok(fd) => fd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                emit.log(
                    Level::Warn,
                    LogEvent::Denied,
                    artifact,
                    Some(path.as_bytes()),
                    e.to_string(),
                );
                continue;
            }
        };
        // /var/run is usually a symlink to /run: decode the file once.
        if let Ok(st) = rustix::fs::fstat(&fd) {
            if seen_inodes.contains(&(st.st_dev, st.st_ino)) {
                continue;
            }
            seen_inodes.push((st.st_dev, st.st_ino));
        }
        let mut file = std::io::BufReader::new(std::fs::File::from(fd));
        let mut rec = vec![0u8; parse::UTMP_SIZE];
        let mut n = 0u64;
        while n < MAX_RECORDS && file.read_exact(&mut rec).is_ok() {
            n += 1;
            let Some(u) = parse::utmp(&rec) else { continue };
            if u.kind == 0 {
                continue;
            }
            let rec = Login {
                file: path.to_string(),
                kind: kind.to_string(),
                record_type: parse::utmp_kind(u.kind).to_owned(),
                pid: u.pid,
                line: escape(&u.line),
                id: escape(&u.id),
                user: escape(&u.user),
                host: escape(&u.host),
                session: u.session,
                time: cairn_archive::text::rfc3339(
                    u.time,
                    (u.micros.max(0) as u32).saturating_mul(1000),
                ),
                address: u.addr.map(|a| a.to_string()),
            };
            super::push_line(&mut out, &rec);
        }
    }
    emit.output(artifact, live::LOGINS, &out);
    lastlog(root, &names, artifact, emit);
}

fn lastlog(root: &Root, names: &HashMap<u32, Vec<u8>>, artifact: &str, emit: &mut dyn Emit) {
    let fd = match open(root, LASTLOG) {
        Ok(fd) => fd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            emit.log(
                Level::Warn,
                LogEvent::Denied,
                artifact,
                Some(LASTLOG.as_bytes()),
                e.to_string(),
            );
            return;
        }
    };
    let size = rustix::fs::fstat(&fd)
        .map(|s| s.st_size as u64)
        .unwrap_or(0);
    let mut out = Vec::new();
    let mut rec = vec![0u8; parse::LASTLOG_SIZE];
    let mut pos = 0u64;
    let mut decoded = 0u64;
    let record = parse::LASTLOG_SIZE as u64;
    while pos < size && decoded < MAX_RECORDS {
        // Jump to the next region holding data; holes are never-used UIDs.
        let data = match rustix::fs::seek(&fd, SeekFrom::Data(pos)) {
            Ok(d) => d,
            Err(_) => break, // ENXIO: no data after pos
        };
        let hole = rustix::fs::seek(&fd, SeekFrom::Hole(data)).unwrap_or(size);
        let mut uid = data / record;
        while uid * record < hole && decoded < MAX_RECORDS {
            let off = uid * record;
            match rustix::io::pread(&fd, &mut rec, off) {
                Ok(n) if n == rec.len() => {
                    if let Some((time, line, host)) = parse::lastlog(&rec) {
                        decoded += 1;
                        let rec = LastLogin {
                            uid,
                            user: names.get(&(uid as u32)).map(|n| escape(n)),
                            time: cairn_archive::text::rfc3339(time, 0),
                            line: escape(&line),
                            host: escape(&host),
                        };
                        super::push_line(&mut out, &rec);
                    }
                }
                _ => break,
            }
            uid += 1;
        }
        pos = hole.max(pos + 1);
    }
    emit.output(artifact, live::LASTLOG, &out);
    if size <= LASTLOG_RAW_CAP {
        let mut file = std::fs::File::from(fd);
        if let Err(e) = emit.copy(
            artifact,
            live::LASTLOG_RAW.as_bytes(),
            LASTLOG.as_bytes(),
            &mut file,
            LASTLOG_RAW_CAP,
        ) {
            emit.log(
                Level::Warn,
                LogEvent::Error,
                artifact,
                Some(LASTLOG.as_bytes()),
                e.to_string(),
            );
        }
    } else {
        emit.log(
            Level::Info,
            LogEvent::Skipped,
            artifact,
            Some(LASTLOG.as_bytes()),
            format!(
                "raw copy skipped: apparent size {size} bytes (sparse, indexed by UID) exceeds {LASTLOG_RAW_CAP}; {decoded} records decoded from its data regions into users/lastlog.jsonl"
            ),
        );
    }
}

/// The `users` native collector (from the tree's files).
pub fn native(r: &mut super::Run<'_>) {
    run(r.root, r.artifact, r.emit);
}
