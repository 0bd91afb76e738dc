//! The members of a collection's archive that hold times, each parsed as its record
//! type as it streams past: the bodyfile, processes and their executables' sha256,
//! logins, drift, YARA hits, the manifest (the sha256 of each collected file) and the
//! summary.
//! Lines that do not parse are counted and said, never fatal.

use super::{micros_of, Event, Source, Timeline};
use cairn_archive::member::{files, is_manifest, live, SUMMARY};
use cairn_archive::read::lines::{
    document, lines, records, records_within, weight, Tally, MAX_RECORD_LINE,
};
use cairn_archive::records::drift::Drift;
use cairn_archive::records::memory::YaraHit;
use cairn_archive::records::process::{Executable, Process};
use cairn_archive::records::summary::Summary;
use cairn_archive::records::users::Login;
use cairn_archive::records::{BodyfileLine, ManifestRecord, Status};
use std::collections::HashMap;
use std::io::BufReader;
use std::path::Path;

/// The most bytes of a JSON document member (summary.json: a few KiB).
const DOCUMENT_LIMIT: u64 = 2 << 20;
/// The most processes and drift records held until the archive's end, and the most
/// bytes of processes.
const MAX_HELD: usize = 100_000;
const MAX_HELD_BYTES: usize = 8 << 20;

/// What is held until the end of an archive: processes wait for their executables'
/// sha256.
#[derive(Default)]
struct Pending {
    processes: Vec<Process>,
    exe_sha: HashMap<i32, String>,
    held_bytes: usize,
    drift_bytes: usize,
    tally: Tally,
    hashes_dropped: u64,
    held_dropped: u64,
}

/// Reads one collection's archive into `t`.
pub fn read(path: &Path, target: u32, t: &mut Timeline) -> anyhow::Result<()> {
    let mut p = Pending::default();
    cairn_archive::read::members(path, |e| {
        let name = e.header.name.clone();
        let mut r = BufReader::new(e);
        match name.as_slice() {
            n if n == files::BODYFILE.as_bytes() => {
                p.tally += bodyfile(&mut r, target, t)?;
            }
            n if n == live::PROCESSES.as_bytes() => {
                p.tally += records::<Process>(&mut r, |x, line| {
                    let w = weight(line, std::mem::size_of::<Process>());
                    if p.processes.len() < MAX_HELD && p.held_bytes + w <= MAX_HELD_BYTES {
                        p.held_bytes += w;
                        p.processes.push(x);
                    } else {
                        p.held_dropped += 1;
                    }
                })?;
            }
            n if n == live::EXECUTABLES.as_bytes() => {
                p.tally += records::<Executable>(&mut r, |x, _| {
                    let sha = x.sha256.filter(|s| cairn_protocol::bounded::is_sha256(s));
                    if let (Some(sha), true) = (sha, p.exe_sha.len() < MAX_HELD) {
                        p.exe_sha.insert(x.pid, sha);
                    }
                })?;
            }
            n if n == live::LOGINS.as_bytes() => {
                let mut pushed = Ok(());
                p.tally += records::<Login>(&mut r, |x, _| {
                    if pushed.is_ok() {
                        pushed = login(&x, target, t);
                    }
                })?;
                pushed?;
            }
            n if n == live::YARA_HITS.as_bytes() => {
                let mut pushed = Ok(());
                p.tally += records::<YaraHit>(&mut r, |x, _| {
                    if pushed.is_ok() {
                        pushed = yara_hit(&x, target, t);
                    }
                })?;
                pushed?;
            }
            n if n == live::DRIFT.as_bytes() => {
                let (held, bytes) = (&mut p.held_dropped, &mut p.drift_bytes);
                p.tally += records::<Drift>(&mut r, |x, _| {
                    let small = x.path.len() <= 4096 && x.change.len() <= 64;
                    let w = 64 + x.path.len() + x.change.len();
                    if t.notes.drift.len() < MAX_HELD && small && *bytes + w <= MAX_HELD_BYTES {
                        *bytes += w;
                        t.notes.add_drift(target, x.path, x.change);
                    } else {
                        *held += 1;
                    }
                })?;
            }
            n if n == SUMMARY.as_bytes() => {
                if let Ok(s) = document::<Summary>(&mut r, DOCUMENT_LIMIT) {
                    collection(&s, target, t)?;
                }
            }
            n if is_manifest(n) => {
                let dropped = &mut p.hashes_dropped;
                p.tally += records_within::<ManifestRecord>(&mut r, MAX_RECORD_LINE, |x, _| {
                    if let (Some(sha), Some(Status::Complete)) = (&x.sha256, x.status) {
                        if !t.notes.add_sha(target, &x.source, sha) {
                            *dropped += 1;
                        }
                    }
                })?;
            }
            _ => {}
        }
        Ok::<(), std::io::Error>(())
    })?;
    for x in std::mem::take(&mut p.processes) {
        process(&x, &p.exe_sha, target, t)?;
    }
    said(path, &p, t);
    Ok(())
}

/// Says what was left out.
fn said(path: &Path, p: &Pending, t: &mut Timeline) {
    let at = path.display();
    if p.tally.malformed > 0 {
        crate::examine::problem(
            &mut t.problems,
            format!("{at}: {} malformed line(s) left out", p.tally.malformed),
        );
    }
    if p.tally.long > 0 {
        crate::examine::problem(
            &mut t.problems,
            format!(
                "{at}: {} line(s) longer than {} bytes left out",
                p.tally.long,
                cairn_archive::read::lines::MAX_LINE
            ),
        );
    }
    if p.hashes_dropped > 0 {
        crate::examine::problem(
            &mut t.problems,
            format!(
                "{at}: the sha256 of {} file(s) past the first {} not joined to their times",
                p.hashes_dropped,
                super::MAX_FILE_HASHES
            ),
        );
    }
    if p.held_dropped > 0 {
        crate::examine::problem(&mut t.problems, format!(
            "{at}: {} process or drift record(s) past the first {MAX_HELD} (or {} MiB of processes) left out",
            p.held_dropped,
            MAX_HELD_BYTES >> 20
        ));
    }
}

/// The names of file times, as plaso and Timesketch name them.
fn time_name(letter: char) -> &'static str {
    match letter {
        'm' => "Content Modification Time",
        'a' => "Last Access Time",
        'c' => "Metadata Modification Time",
        _ => "Creation Time",
    }
}

/// One event per distinct time of each file in the bodyfile, its letters together
/// (`m.c.`).
fn bodyfile(r: &mut dyn std::io::BufRead, target: u32, t: &mut Timeline) -> std::io::Result<Tally> {
    let mut pushed = Ok(());
    let mut malformed = 0;
    let mut tally = lines(r, |l| {
        let Some(f) = BodyfileLine::parse(&String::from_utf8_lossy(l)) else {
            malformed += 1;
            return;
        };
        if pushed.is_ok() {
            pushed = file_events(&f, target, t);
        }
    })?;
    pushed?;
    tally.malformed += malformed;
    Ok(tally)
}

fn file_events(f: &BodyfileLine, target: u32, t: &mut Timeline) -> std::io::Result<()> {
    let times: Vec<(char, i64)> = [
        ('m', f.mtime),
        ('a', f.atime),
        ('c', f.ctime),
        ('b', f.crtime),
    ]
    .into_iter()
    .filter(|(_, s)| *s != 0)
    .collect();
    let mut distinct: Vec<i64> = times.iter().map(|(_, s)| *s).collect();
    distinct.sort_unstable();
    distinct.dedup();
    for s in distinct {
        let letters: Vec<char> = times
            .iter()
            .filter(|(_, x)| *x == s)
            .map(|(l, _)| *l)
            .collect();
        let macb: String = ['m', 'a', 'c', 'b']
            .iter()
            .map(|l| if letters.contains(l) { *l } else { '.' })
            .collect();
        let desc = letters
            .iter()
            .map(|l| time_name(*l))
            .collect::<Vec<_>>()
            .join("; ");
        t.push(Event {
            micros: s.saturating_mul(1_000_000),
            desc,
            message: format!("{} ({}, uid {}, {} bytes)", f.name, f.mode, f.uid, f.size),
            target,
            source: Source::File,
            path: Some(f.name.clone()),
            pid: None,
            user: None,
            sha256: None,
            macb: Some(macb),
        })?;
    }
    Ok(())
}

/// A process's start.
fn process(
    p: &Process,
    exe_sha: &HashMap<i32, String>,
    target: u32,
    t: &mut Timeline,
) -> std::io::Result<()> {
    let Some(micros) = p.start_time().and_then(micros_of) else {
        return Ok(());
    };
    let cmdline = if p.cmdline.is_empty() {
        format!("[{}]", p.comm())
    } else {
        p.cmdline.join(" ")
    };
    let exe = p.exe.as_deref().filter(|e| !e.is_empty());
    let deleted = if p.deleted() { " (deleted)" } else { "" };
    let uid = p.uid().map(|u| u.to_string());
    t.push(Event {
        micros,
        desc: "Process Start Time".into(),
        message: format!(
            "process {} started: {cmdline} (ppid {}, uid {}, exe {}{deleted})",
            p.pid,
            p.ppid().map(|x| x.to_string()).unwrap_or_default(),
            uid.as_deref().unwrap_or(""),
            exe.unwrap_or("?")
        ),
        target,
        source: Source::Process,
        path: exe.map(str::to_owned),
        pid: Some(i64::from(p.pid)),
        user: uid,
        sha256: exe_sha.get(&p.pid).cloned(),
        macb: None,
    })
}

/// A login record (utmp, wtmp, btmp).
fn login(v: &Login, target: u32, t: &mut Timeline) -> std::io::Result<()> {
    let Some(micros) = micros_of(&v.time) else {
        return Ok(());
    };
    let failed = v.file.ends_with("btmp");
    t.push(Event {
        micros,
        desc: if failed {
            "Failed Login Time"
        } else {
            "Login Record Time"
        }
        .into(),
        message: format!(
            "{} {} on {} from {} (pid {}, {})",
            v.record_type, v.user, v.line, v.host, v.pid, v.file
        ),
        target,
        source: Source::Login,
        path: Some(v.file.clone()),
        pid: Some(i64::from(v.pid)),
        user: Some(v.user.clone()).filter(|u| !u.is_empty()),
        sha256: None,
        macb: None,
    })
}

/// A match of the responder's YARA rules, at the time it was made: in a process's
/// memory (its pid, the address) or in a file (its path and sha256).
fn yara_hit(h: &YaraHit, target: u32, t: &mut Timeline) -> std::io::Result<()> {
    let Some(micros) = h.time.as_deref().and_then(micros_of) else {
        return Ok(());
    };
    let tags = if h.tags.is_empty() {
        String::new()
    } else {
        format!(" [{}]", h.tags.join(", "))
    };
    let string = h
        .string
        .as_deref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let at = h
        .address
        .as_deref()
        .map(|a| format!(" at {a}"))
        .unwrap_or_default();
    let comm = h
        .comm
        .as_deref()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    let what = match (h.pid, h.path.as_deref()) {
        (Some(pid), _) if h.scanned == "memory" => format!("the memory of process {pid}{comm}{at}"),
        (Some(pid), Some(path)) => format!("the executable {path} of process {pid}{comm}"),
        (_, Some(path)) => format!("the file {path}"),
        _ => "an unnamed input".to_owned(),
    };
    let sha = h
        .sha256
        .clone()
        .filter(|s| cairn_protocol::bounded::is_sha256(s));
    t.push(Event {
        micros,
        desc: "YARA Match Time".into(),
        message: format!(
            "YARA rule {}:{}{tags} matched {what}{string}",
            h.namespace, h.rule
        ),
        target,
        source: Source::Yara,
        path: h.path.clone(),
        pid: h.pid.map(i64::from),
        user: None,
        sha256: sha,
        macb: None,
    })
}

/// The collection's start and end, from its summary.
fn collection(s: &Summary, target: u32, t: &mut Timeline) -> std::io::Result<()> {
    for (at, what) in [(&s.started, "started"), (&s.ended, "ended")] {
        if let Some(micros) = micros_of(at) {
            t.push(Event {
                micros,
                desc: "Collection Time".into(),
                message: format!("cairn collection {what} ({})", s.root),
                target,
                source: Source::Collection,
                path: None,
                pid: None,
                user: None,
                sha256: None,
                macb: None,
            })?;
        }
    }
    Ok(())
}
