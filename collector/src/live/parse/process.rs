//! Parsers of a process's and the kernel's own files: `stat`, `status`, `cmdline` and
//! `environ` lists, `maps`, mount options, `/proc/modules`.

use super::leading_fields;
use std::collections::BTreeMap;

/// Fields of `/proc/PID/stat` that live response uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stat {
    pub pid: i32,
    /// The command name between the parentheses, exact bytes (may hold spaces and `)`).
    pub comm: Vec<u8>,
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    pub tty_nr: i32,
    pub utime: u64,
    pub stime: u64,
    pub num_threads: i64,
    /// Clock ticks after boot when the process started.
    pub starttime: u64,
    /// Virtual memory size in bytes.
    pub vsize: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
}

/// Parses `/proc/PID/stat`. The name is found between the first `(` and the *last*
/// `)`, since a process may name itself `a) b (c`.
pub fn stat(content: &[u8]) -> Option<Stat> {
    let open = content.iter().position(|&b| b == b'(')?;
    let close = content.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let pid = std::str::from_utf8(&content[..open])
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let comm = content[open + 1..close].to_vec();
    let rest = std::str::from_utf8(content.get(close + 1..)?).ok()?;
    // Fields after the name, numbered from 3 as in proc(5); f[0] is field 3 (state).
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    let num = |i: usize| -> Option<i64> { f.get(i)?.parse().ok() };
    let unum = |i: usize| -> Option<u64> { f.get(i)?.parse().ok() };
    Some(Stat {
        pid,
        comm,
        state: f.first()?.chars().next()?,
        ppid: num(1)? as i32,
        pgrp: num(2)? as i32,
        session: num(3)? as i32,
        tty_nr: num(4)? as i32,
        utime: unum(11)?,
        stime: unum(12)?,
        num_threads: num(17)?,
        starttime: unum(19)?,
        vsize: unum(20)?,
        rss_pages: unum(21)?,
    })
}

/// `/proc/PID/status` as key → value (both trimmed). Values are kept as bytes are
/// mostly ASCII numbers; `Name` may not be UTF-8 and is converted lossily here (the
/// exact name comes from `stat`).
pub fn status(content: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in content.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let key = String::from_utf8_lossy(&line[..colon]).trim().to_owned();
        let value = String::from_utf8_lossy(&line[colon + 1..])
            .trim()
            .to_owned();
        if !key.is_empty() {
            out.insert(key, value);
        }
    }
    out
}

/// The numbers of a status line such as `Uid:\t0\t0\t0\t0`.
pub fn numbers(value: &str) -> Vec<u64> {
    value
        .split_ascii_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect()
}

/// NUL-separated strings (`cmdline`, `environ`), exact bytes. A trailing NUL does not
/// make an empty last item; an empty input gives no items.
pub fn nul_list(content: &[u8]) -> Vec<&[u8]> {
    let body = content.strip_suffix(b"\0").unwrap_or(content);
    if body.is_empty() {
        return Vec::new();
    }
    body.split(|&b| b == 0).collect()
}

/// One line of /proc/PID/maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub start: String,
    pub end: String,
    pub perms: String,
    pub offset: String,
    pub dev: String,
    pub inode: u64,
    /// The mapped file or pseudo-name (`[heap]`), exact bytes; `None` for anonymous.
    pub path: Option<Vec<u8>>,
}

impl Mapping {
    /// The archive's record of this mapping of `pid` (`maps.jsonl`, and the head of
    /// each line of the memory capture's `regions.jsonl`), its path escaped.
    pub fn record(&self, pid: i32) -> cairn_archive::records::process::MemoryMap {
        cairn_archive::records::process::MemoryMap {
            pid,
            start: self.start.clone(),
            end: self.end.clone(),
            perms: self.perms.clone(),
            offset: self.offset.clone(),
            dev: self.dev.clone(),
            inode: self.inode,
            path: self.path.as_deref().map(cairn_archive::text::escape),
        }
    }
}

/// Parses one maps line; the path is everything after the fifth field.
pub fn maps_line(line: &[u8]) -> Mapping {
    let (f, rest) = leading_fields(line, 5);
    let s = |x: &[u8]| String::from_utf8_lossy(x).into_owned();
    let range = s(f[0]);
    let (start, end) = range.split_once('-').unwrap_or((&range, ""));
    let path = {
        let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
        &rest[start..]
    };
    Mapping {
        start: start.to_owned(),
        end: end.to_owned(),
        perms: s(f[1]),
        offset: s(f[2]),
        dev: s(f[3]),
        inode: s(f[4]).parse().unwrap_or(0),
        path: (!path.is_empty()).then(|| path.to_vec()),
    }
}

/// The value of `key=` in a comma-separated option list (overlay's `upperdir=` etc.).
/// Overlay escapes commas inside paths as `\,`, which is honoured.
pub fn option_value(options: &[u8], key: &str) -> Option<Vec<u8>> {
    let mut items = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    while i < options.len() {
        match options[i] {
            b'\\' if options.get(i + 1) == Some(&b',') => {
                cur.push(b',');
                i += 2;
                continue;
            }
            b',' => items.push(std::mem::take(&mut cur)),
            b => cur.push(b),
        }
        i += 1;
    }
    items.push(cur);
    let prefix = format!("{key}=");
    items
        .into_iter()
        .find(|it| it.starts_with(prefix.as_bytes()))
        .map(|it| it[prefix.len()..].to_vec())
}

pub use cairn_archive::records::system::Module;

pub fn modules(content: &[u8]) -> Vec<Module> {
    String::from_utf8_lossy(content)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_ascii_whitespace().collect();
            Some(Module {
                name: f.first()?.to_string(),
                size: f.get(1)?.parse().ok()?,
                refcount: f.get(2)?.parse().unwrap_or(-1),
                used_by: f
                    .get(3)
                    .map(|u| {
                        u.split(',')
                            .filter(|x| !x.is_empty() && *x != "-")
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
                state: f.get(4).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}
