//! One process's record: what its `/proc/PID` files say (stat, status, command line,
//! executable, namespaces, cgroups, environment), its descriptors and its memory maps,
//! read through a directory descriptor held open for the whole record.

use super::{Proc, Scan};
use crate::archive::Spool;
use crate::lines::escape;
use crate::live::{parse, redact, Denials, LiveOptions};
use crate::source::procfs::{self, ProcDir};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

pub(super) fn lossless_list(items: &[&[u8]]) -> Value {
    Value::Array(items.iter().map(|a| Value::String(escape(a))).collect())
}

pub(super) fn ids(status: &BTreeMap<String, String>, key: &str) -> Value {
    let n = status
        .get(key)
        .map(|v| parse::numbers(v))
        .unwrap_or_default();
    if n.len() < 4 {
        return Value::Null;
    }
    json!({"real": n[0], "effective": n[1], "saved": n[2], "filesystem": n[3]})
}

pub(super) fn seccomp_mode(v: Option<&String>) -> Value {
    match v.map(String::as_str) {
        Some("0") => json!("disabled"),
        Some("1") => json!("strict"),
        Some("2") => json!("filter"),
        Some(other) => json!(other),
        None => Value::Null,
    }
}

/// Classifies an fd link target: `socket:[123]`, `pipe:[5]`, `anon_inode:[eventfd]`,
/// `/memfd:x (deleted)`, or a path.
pub(super) fn fd_kind(target: &[u8]) -> (&'static str, Option<u64>) {
    let inode = |prefix: &[u8]| -> Option<u64> {
        let rest = target.strip_prefix(prefix)?.strip_suffix(b"]")?;
        std::str::from_utf8(rest).ok()?.parse().ok()
    };
    if let Some(i) = inode(b"socket:[") {
        ("socket", Some(i))
    } else if let Some(i) = inode(b"pipe:[") {
        ("pipe", Some(i))
    } else if target.starts_with(b"anon_inode:") {
        ("anon_inode", None)
    } else if target.starts_with(b"/memfd:") {
        ("memfd", None)
    } else if target.starts_with(b"/") {
        ("file", None)
    } else {
        ("other", None)
    }
}

pub(super) fn strip_deleted(target: Vec<u8>) -> (Vec<u8>, bool) {
    match target.strip_suffix(b" (deleted)") {
        Some(t) => (t.to_vec(), true),
        None => (target, false),
    }
}

pub(super) struct Reader<'a> {
    dir: &'a ProcDir,
    denials: &'a mut Denials,
    errors: Map<String, Value>,
    gone: bool,
}

impl Reader<'_> {
    fn fail(&mut self, what: &str, e: std::io::Error) {
        // ENOENT also comes from files a kernel thread does not have; the process has
        // gone only if its `stat` has gone too.
        if procfs::vanished(&e) && self.dir.read("stat", 4096).is_err() {
            self.gone = true;
            self.errors.insert(what.into(), json!("process exited"));
        } else if procfs::vanished(&e) {
            self.errors
                .insert(what.into(), json!("not available for this process"));
        } else {
            self.denials.note(what, &self.dir.path(what), &e);
            self.errors.insert(what.into(), json!(e.to_string()));
        }
    }
    fn read(&mut self, what: &str, limit: usize) -> Option<Vec<u8>> {
        if self.gone {
            return None;
        }
        match self.dir.read(what, limit) {
            Ok(v) => Some(v),
            Err(e) => {
                self.fail(what, e);
                None
            }
        }
    }
    fn link(&mut self, what: &str) -> Option<Vec<u8>> {
        if self.gone {
            return None;
        }
        match self.dir.readlink(what) {
            Ok(v) => Some(v),
            Err(e) => {
                // Kernel threads have no exe/cwd/root: ENOENT without exiting.
                if e.kind() == std::io::ErrorKind::NotFound {
                    return None;
                }
                self.fail(what, e);
                None
            }
        }
    }
}

/// How to turn kernel counters into times and bytes.
pub(super) struct Clock {
    pub boot: Option<i64>,
    pub hz: u64,
    pub page: u64,
}

pub(super) fn scan_one(dir: &ProcDir, scan: &mut Scan, opts: &LiveOptions, clock: &Clock) {
    let pid = dir.pid;
    let mut r = Reader {
        dir,
        denials: &mut scan.denials,
        errors: Map::new(),
        gone: false,
    };
    let mut rec = Map::new();
    rec.insert("pid".into(), json!(pid));
    let stat = r.read("stat", 64 << 10).and_then(|s| parse::stat(&s));
    let status = r
        .read("status", 256 << 10)
        .map(|s| parse::status(&s))
        .unwrap_or_default();
    if let Some(s) = &stat {
        stat_fields(&mut rec, s, clock);
    }
    status_fields(&mut rec, &status);
    let cmdline_raw = r.read("cmdline", procfs::READ_LIMIT).unwrap_or_default();
    let args = parse::nul_list(&cmdline_raw);
    rec.insert("cmdline".into(), lossless_list(&args));
    rec.insert("cmdline_hex".into(), json!(hex::encode(&cmdline_raw)));
    let cmd_text = args.iter().map(|a| escape(a)).collect::<Vec<_>>().join(" ");
    let exe = r.link("exe").map(strip_deleted);
    if let Some((path, deleted)) = &exe {
        rec.insert("exe".into(), json!(escape(path)));
        rec.insert("exe_deleted".into(), json!(deleted));
    }
    for (key, link) in [("cwd", "cwd"), ("root", "root")] {
        if let Some(t) = r.link(link) {
            rec.insert(key.into(), json!(escape(&t)));
        }
    }
    let (netns, mntns) = namespaces(&mut r, &mut rec);
    environ_fields(&mut r, &mut rec, opts.redact);
    let sinks = FdSinks {
        fds: &mut scan.fds,
        socket_owners: &mut scan.socket_owners,
    };
    let fd_count = if r.gone {
        0
    } else {
        descriptors(&mut r, sinks)
    };
    rec.insert("fd_count".into(), json!(fd_count));
    let map_count = maps(&mut r, &mut scan.maps);
    rec.insert("map_count".into(), json!(map_count));
    if r.gone {
        scan.vanished += 1;
        rec.insert("exited_during_scan".into(), json!(true));
    }
    if !r.errors.is_empty() {
        rec.insert(
            "unreadable".into(),
            Value::Object(std::mem::take(&mut r.errors)),
        );
    }
    push_line(&mut scan.processes, &Value::Object(rec));
    let uid = status
        .get("Uid")
        .and_then(|u| parse::numbers(u).first().copied())
        .map(|u| u as u32);
    let (exe, exe_deleted) = match exe {
        Some((p, d)) => (Some(p), d),
        None => (None, false),
    };
    scan.procs.push(Proc {
        pid,
        ppid: stat.as_ref().map(|s| s.ppid).unwrap_or(0),
        uid,
        comm: stat.as_ref().map(|s| escape(&s.comm)).unwrap_or_default(),
        cmdline: cmd_text,
        exe,
        exe_deleted,
        netns,
        mntns,
        bootstrap: bootstrap_command(&args),
    });
}

/// What `/proc/PID/stat` says: parentage, state, start time, CPU and memory.
pub(super) fn stat_fields(rec: &mut Map<String, Value>, s: &parse::Stat, clock: &Clock) {
    let hz = clock.hz;
    let start = clock.boot.map(|b| {
        let secs = s.starttime / hz;
        let frac = ((s.starttime % hz) * 1_000_000_000 / hz) as u32;
        crate::units::rfc3339(b + secs as i64, frac)
    });
    rec.insert("ppid".into(), json!(s.ppid));
    rec.insert("comm".into(), json!(escape(&s.comm)));
    rec.insert("state".into(), json!(s.state.to_string()));
    rec.insert("pgrp".into(), json!(s.pgrp));
    rec.insert("session".into(), json!(s.session));
    rec.insert("tty_nr".into(), json!(s.tty_nr));
    rec.insert("threads".into(), json!(s.num_threads));
    rec.insert("start_time".into(), json!(start));
    rec.insert("start_ticks".into(), json!(s.starttime));
    rec.insert(
        "cpu_seconds".into(),
        json!((s.utime + s.stime) as f64 / hz as f64),
    );
    rec.insert("rss_bytes".into(), json!(s.rss_pages * clock.page));
    rec.insert("vsz_bytes".into(), json!(s.vsize));
}

/// What `/proc/PID/status` says: identities, capabilities, confinement, tracing.
pub(super) fn status_fields(
    rec: &mut Map<String, Value>,
    status: &std::collections::BTreeMap<String, String>,
) {
    rec.insert("uid".into(), ids(status, "Uid"));
    rec.insert("gid".into(), ids(status, "Gid"));
    rec.insert(
        "groups".into(),
        json!(status
            .get("Groups")
            .map(|g| parse::numbers(g))
            .unwrap_or_default()),
    );
    let caps: Map<String, Value> = [
        ("inheritable", "CapInh"),
        ("permitted", "CapPrm"),
        ("effective", "CapEff"),
        ("bounding", "CapBnd"),
        ("ambient", "CapAmb"),
    ]
    .iter()
    .filter_map(|(k, s)| status.get(*s).map(|v| (k.to_string(), json!(v))))
    .collect();
    rec.insert("capabilities".into(), Value::Object(caps));
    rec.insert("seccomp".into(), seccomp_mode(status.get("Seccomp")));
    rec.insert(
        "no_new_privs".into(),
        json!(status.get("NoNewPrivs").map(|v| v == "1")),
    );
    rec.insert(
        "tracer_pid".into(),
        json!(status.get("TracerPid").and_then(|v| v.parse::<i64>().ok())),
    );
    rec.insert(
        "nspid".into(),
        json!(status.get("NSpid").map(|v| parse::numbers(v))),
    );
}

/// The namespaces and cgroups of the process; returns its network and mount
/// namespace inodes.
pub(super) fn namespaces(
    r: &mut Reader<'_>,
    rec: &mut Map<String, Value>,
) -> (Option<u64>, Option<u64>) {
    let ns = match r.dir.namespaces() {
        Ok(n) => n,
        Err(e) => {
            r.fail("ns", e);
            Vec::new()
        }
    };
    let ns_of = |n: &str| ns.iter().find(|(k, _)| k == n).map(|(_, v)| *v);
    let found = (ns_of("net"), ns_of("mnt"));
    rec.insert(
        "namespaces".into(),
        Value::Object(ns.iter().map(|(k, v)| (k.clone(), json!(v))).collect()),
    );
    let cgroup = r.read("cgroup", 64 << 10).unwrap_or_default();
    rec.insert(
        "cgroup".into(),
        json!(String::from_utf8_lossy(&cgroup)
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()),
    );
    found
}

/// The environment, with the values of secret-looking names redacted when asked.
pub(super) fn environ_fields(
    r: &mut Reader<'_>,
    rec: &mut Map<String, Value>,
    redact_secrets: bool,
) {
    let Some(env) = r.read("environ", procfs::READ_LIMIT) else {
        return;
    };
    let mut redacted = Vec::new();
    let mut entries = Vec::new();
    for item in parse::nul_list(&env) {
        let (text, was) = redact::entry(item, redact_secrets);
        if was {
            let name = item.split(|&b| b == b'=').next().unwrap_or(item);
            redacted.push(escape(name));
        }
        entries.push(Value::String(escape(&text)));
    }
    rec.insert("environ".into(), Value::Array(entries));
    rec.insert("environ_redacted".into(), json!(redacted));
}

/// Where the descriptors of the scan go.
pub(super) struct FdSinks<'s> {
    fds: &'s mut Spool,
    socket_owners: &'s mut HashMap<u64, Vec<(i32, i32)>>,
}

/// The open descriptors, one line each; sockets are remembered by inode for the
/// network collector. Returns how many were read.
pub(super) fn descriptors(r: &mut Reader<'_>, out: FdSinks<'_>) -> u64 {
    let dir = r.dir;
    let fds = match dir.fds() {
        Ok(f) => f,
        Err(e) => {
            r.fail("fd", e);
            return 0;
        }
    };
    let mut count = 0u64;
    for fd in fds {
        let name = format!("fd/{fd}");
        let Ok(target) = dir.readlink(&name) else {
            continue;
        };
        count += 1;
        let (kind, inode) = fd_kind(&target);
        if kind == "socket" {
            if let Some(i) = inode {
                out.socket_owners.entry(i).or_default().push((dir.pid, fd));
            }
        }
        let line = json!({
            "pid": dir.pid, "fd": fd, "kind": kind, "inode": inode,
            "target": escape(&target),
            "deleted": target.ends_with(b" (deleted)"),
        });
        push_line(out.fds, &line);
    }
    count
}

/// The memory maps, one record per mapping, the path kept exactly (escaped).
/// Returns how many.
pub(super) fn maps(r: &mut Reader<'_>, out: &mut Spool) -> u64 {
    let mut count = 0u64;
    if let Some(maps) = r.read("maps", procfs::READ_LIMIT) {
        for line in maps.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let m = parse::maps_line(line);
            count += 1;
            let line = json!({
                "pid": r.dir.pid, "start": m.start, "end": m.end, "perms": m.perms,
                "offset": m.offset, "dev": m.dev, "inode": m.inode,
                "path": m.path.as_deref().map(escape),
            });
            push_line(out, &line);
        }
    }
    count
}

pub(super) fn push_line(spool: &mut Spool, value: &Value) {
    if let Ok(mut line) = serde_json::to_vec(value) {
        line.push(b'\n');
        spool.push(&line);
    }
}

/// For `sh -c SCRIPT cairn-bootstrap ARGS...` (under qemu-user, binfmt's P flag puts
/// the interpreter and the shell's path first), the command with the script left out:
/// `sh -c <the bootstrap script> cairn-bootstrap ARGS...`.
pub(super) fn bootstrap_command(args: &[&[u8]]) -> Option<String> {
    let at = args
        .windows(3)
        .take(4)
        .position(|w| w[0] == b"-c" && w[2] == b"cairn-bootstrap")?;
    let rest: Vec<String> = args[at + 2..].iter().map(|a| escape(a)).collect();
    Some(format!("sh -c <the bootstrap script> {}", rest.join(" ")))
}
