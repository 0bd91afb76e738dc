//! One pass over a collection's archive: the members a person reads, each parsed as
//! its record type as it streams past and hashed; the manifest, last, checks their
//! hashes.

use super::budget::{weight, Budget};
use super::{check_manifest, Check, Facts, Hashing, HistoryLine, Member};
use super::{DOCUMENT_LIMIT, MAX_HISTORY_LINE, MAX_HISTORY_LINES, MAX_RECORDS};
use cairn_archive::member::{files, is_manifest, live, SUMMARY};
use cairn_archive::read::lines::{document, lines, records, Tally};
use cairn_archive::records::BodyfileLine;
use serde::de::DeserializeOwned;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The lists of records, each with its share of the memory budget.
struct Lists {
    processes: Budget,
    executables: Budget,
    sockets: Budget,
    mounts: Budget,
    logins: Budget,
    drift: Budget,
    history: Budget,
    cron: Budget,
    modes: Budget,
    memory: Budget,
}

impl Default for Lists {
    fn default() -> Lists {
        Lists {
            processes: Budget::sixteenths(3),
            executables: Budget::sixteenths(2),
            sockets: Budget::sixteenths(2),
            mounts: Budget::sixteenths(1),
            logins: Budget::sixteenths(1),
            drift: Budget::sixteenths(3),
            history: Budget::sixteenths(2),
            cron: Budget::sixteenths(1),
            modes: Budget::sixteenths(2),
            memory: Budget::sixteenths(1),
        }
    }
}

/// Reads the archive at `path` into `f`.
pub fn read(f: &mut Facts, path: &Path) -> anyhow::Result<()> {
    let mut lists = Lists::default();
    let mut tally = Tally::default();
    let mut histories_left_out = 0u64;
    cairn_archive::read::members(path, |e| {
        let name = String::from_utf8_lossy(&e.header.name).into_owned();
        let mut r = BufReader::new(e);
        if is_manifest(name.as_bytes()) {
            return check_manifest(&mut r, &mut f.members);
        }
        if !wanted(&name) {
            return Ok(());
        }
        let files_of_kind = if files::is_cron(&name) {
            f.cron_files.len()
        } else {
            f.history_files.len()
        };
        if (files::is_history(&name) || files::is_cron(&name))
            && (files_of_kind >= MAX_HISTORY_FILES || name.len() > MAX_HISTORY_NAME)
        {
            histories_left_out += 1;
            return Ok(());
        }
        let mut h = Hashing::new(&mut r);
        tally += member(f, &mut lists, &name, &mut h)?;
        let sha256 = h.finish()?;
        f.members.insert(
            name,
            Member {
                sha256,
                check: Check::Unlisted,
            },
        );
        Ok::<(), std::io::Error>(())
    })?;
    for (what, b) in [
        ("processes", lists.processes),
        ("executables", lists.executables),
        ("sockets", lists.sockets),
        ("mounts", lists.mounts),
        ("logins", lists.logins),
        ("drift records", lists.drift),
        ("history lines", lists.history),
        ("cron lines", lists.cron),
        ("bodyfile modes", lists.modes),
        ("memory and YARA records", lists.memory),
    ] {
        if b.over > 0 {
            crate::examine::problem(&mut f.problems, format!(
                "{} {what} past the {} MiB this report holds of them not shown (the archive holds all)",
                b.over,
                super::budget::HELD >> 20
            ));
        }
    }
    if histories_left_out > 0 {
        crate::examine::problem(&mut f.problems, format!(
            "{histories_left_out} shell history or cron file(s) past the first {MAX_HISTORY_FILES}, or with a path over {MAX_HISTORY_NAME} bytes, not read"
        ));
    }
    said(f, tally);
    Ok(())
}

/// The most shell history files read, and the longest path of one.
const MAX_HISTORY_FILES: usize = 1000;
const MAX_HISTORY_NAME: usize = 4096;

/// Says what reading lines left out.
fn said(f: &mut Facts, t: Tally) {
    if t.malformed > 0 {
        crate::examine::problem(
            &mut f.problems,
            format!(
                "{} record(s) that are not what their member holds left out",
                t.malformed
            ),
        );
    }
    if t.long > 0 {
        crate::examine::problem(
            &mut f.problems,
            format!(
                "{} line(s) longer than {} bytes left out",
                t.long,
                cairn_archive::read::lines::MAX_LINE
            ),
        );
    }
}

fn wanted(name: &str) -> bool {
    [
        SUMMARY,
        live::SYSTEM,
        live::PROCESSES,
        live::EXECUTABLES,
        live::SOCKETS,
        live::MOUNTS,
        live::LOGINS,
        live::DRIFT,
        live::YARA_HITS,
        live::MEMORY_PROCESSES,
        files::BODYFILE,
        files::LD_SO_PRELOAD,
    ]
    .contains(&name)
        || files::is_history(name)
        || files::is_cron(name)
}

/// Keeps the records of a list within its count and its budget.
fn list<T: DeserializeOwned>(
    r: &mut dyn BufRead,
    out: &mut Vec<T>,
    budget: &mut Budget,
    what: &str,
    problems: &mut Vec<String>,
) -> std::io::Result<Tally> {
    let mut over = 0u64;
    let t = records::<T>(r, |rec, line| {
        if out.len() >= MAX_RECORDS {
            over += 1;
        } else if budget.take(weight(line, std::mem::size_of::<T>())) {
            out.push(rec);
        }
    })?;
    if over > 0 {
        crate::examine::problem(
            problems,
            format!("{what}: {over} record(s) past the first {MAX_RECORDS} not shown"),
        );
    }
    Ok(t)
}

/// Reads one wanted member.
fn member(f: &mut Facts, l: &mut Lists, name: &str, r: &mut Hashing<'_>) -> std::io::Result<Tally> {
    let p = &mut f.problems;
    let t = match name {
        SUMMARY => {
            f.summary = doc(r, name, p);
            Tally::default()
        }
        live::SYSTEM => {
            f.system = doc(r, name, p);
            Tally::default()
        }
        live::PROCESSES => list(r, &mut f.processes, &mut l.processes, name, p)?,
        live::EXECUTABLES => list(r, &mut f.executables, &mut l.executables, name, p)?,
        live::SOCKETS => list(r, &mut f.sockets, &mut l.sockets, name, p)?,
        live::MOUNTS => list(r, &mut f.mounts, &mut l.mounts, name, p)?,
        live::LOGINS => list(r, &mut f.logins, &mut l.logins, name, p)?,
        live::DRIFT => list(r, &mut f.drift, &mut l.drift, name, p)?,
        live::YARA_HITS => list(r, &mut f.yara, &mut l.memory, name, p)?,
        live::MEMORY_PROCESSES => list(r, &mut f.memory, &mut l.memory, name, p)?,
        files::BODYFILE => {
            let modes = &mut f.modes;
            let budget = &mut l.modes;
            lines(r, |line| {
                let Some(b) = BodyfileLine::parse(&String::from_utf8_lossy(line)) else {
                    return;
                };
                if b.is_executable_or_setid() && budget.take(weight(line, 64)) {
                    modes.insert(b.name, b.mode);
                }
            })?
        }
        files::LD_SO_PRELOAD => {
            let mut text = Vec::new();
            r.take(64 << 10).read_to_end(&mut text)?;
            f.preload = Some(String::from_utf8_lossy(&text).into_owned());
            Tally::default()
        }
        n if files::is_cron(n) => {
            let to = Lines {
                files: &mut f.cron_files,
                lines: &mut f.cron,
                budget: &mut l.cron,
            };
            line_file(to, &mut f.problems, n, r)?
        }
        n => {
            let to = Lines {
                files: &mut f.history_files,
                lines: &mut f.history,
                budget: &mut l.history,
            };
            line_file(to, &mut f.problems, n, r)?
        }
    };
    Ok(t)
}

/// A JSON document member, or `None` (said) when it is not its type.
fn doc<T: DeserializeOwned>(r: &mut dyn Read, name: &str, problems: &mut Vec<String>) -> Option<T> {
    match document(r, DOCUMENT_LIMIT) {
        Ok(d) => Some(d),
        Err(e) => {
            crate::examine::problem(problems, format!("{name}: {e}"));
            None
        }
    }
}

/// Where the lines of a file go: its name, its lines, their budget.
struct Lines<'a> {
    files: &'a mut Vec<String>,
    lines: &'a mut Vec<HistoryLine>,
    budget: &'a mut Budget,
}

/// A shell history's (or a crontab's) lines, each cut to [`MAX_HISTORY_LINE`] bytes,
/// the file named once.
fn line_file(
    to: Lines<'_>,
    problems: &mut Vec<String>,
    name: &str,
    r: &mut Hashing<'_>,
) -> std::io::Result<Tally> {
    let file = to.files.len();
    to.files.push(name.to_owned());
    let mut number = 0;
    let mut over = 0u64;
    let (history, budget) = (to.lines, to.budget);
    let t = lines(r, |line| {
        number += 1;
        let text = &line[..line.len().min(MAX_HISTORY_LINE)];
        if history.len() >= MAX_HISTORY_LINES {
            over += 1;
        } else if budget.take(text.len() + std::mem::size_of::<HistoryLine>()) {
            history.push(HistoryLine {
                file,
                number,
                text: String::from_utf8_lossy(text).into_owned(),
            });
        }
    })?;
    if over > 0 {
        crate::examine::problem(
            problems,
            format!("{name}: {over} line(s) past the first {MAX_HISTORY_LINES} lines not read"),
        );
    }
    Ok(t)
}
