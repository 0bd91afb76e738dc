//! One process's record: what its `/proc/PID` files say (stat, status, command line,
//! executable, namespaces, cgroups, environment), its descriptors and its memory maps,
//! read through a directory descriptor held open for the whole record.

use super::{Proc, Scan};
use crate::live::{parse, redact, Denials, LiveOptions};
use crate::source::procfs::{self, ProcDir};
use cairn_archive::records::process::{Capabilities, Fd, Ids, Process, Stat};
use cairn_archive::text::escape;
use cairn_archive::write::Spool;
use std::collections::{BTreeMap, HashMap};

pub(super) fn escaped_list(items: &[&[u8]]) -> Vec<String> {
    items.iter().map(|a| escape(a)).collect()
}

pub(super) fn ids(status: &BTreeMap<String, String>, key: &str) -> Option<Ids> {
    let n = status
        .get(key)
        .map(|v| parse::numbers(v))
        .unwrap_or_default();
    (n.len() >= 4).then(|| Ids {
        real: n[0],
        effective: n[1],
        saved: n[2],
        filesystem: n[3],
    })
}

pub(super) fn seccomp_mode(v: Option<&String>) -> Option<String> {
    v.map(|v| {
        match v.as_str() {
            "0" => "disabled",
            "1" => "strict",
            "2" => "filter",
            other => other,
        }
        .to_owned()
    })
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
    errors: BTreeMap<String, String>,
    gone: bool,
}

impl Reader<'_> {
    fn fail(&mut self, what: &str, e: std::io::Error) {
        // ENOENT also comes from files a kernel thread does not have; the process has
        // gone only if its `stat` has gone too.
        if procfs::vanished(&e) && self.dir.read("stat", 4096).is_err() {
            self.gone = true;
            self.errors.insert(what.into(), "process exited".into());
        } else if procfs::vanished(&e) {
            self.errors
                .insert(what.into(), "not available for this process".into());
        } else {
            self.denials.note(what, &self.dir.path(what), &e);
            self.errors.insert(what.into(), e.to_string());
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
        errors: BTreeMap::new(),
        gone: false,
    };
    let mut rec = Process {
        pid,
        ..Process::default()
    };
    let stat = r.read("stat", 64 << 10).and_then(|s| parse::stat(&s));
    let status = r
        .read("status", 256 << 10)
        .map(|s| parse::status(&s))
        .unwrap_or_default();
    rec.stat = stat.as_ref().map(|s| stat_fields(s, clock));
    status_fields(&mut rec, &status);
    let cmdline_raw = r.read("cmdline", procfs::READ_LIMIT).unwrap_or_default();
    let args = parse::nul_list(&cmdline_raw);
    rec.cmdline = escaped_list(&args);
    rec.cmdline_hex = hex::encode(&cmdline_raw);
    let cmd_text = rec.cmdline.join(" ");
    let exe = r.link("exe").map(strip_deleted);
    if let Some((path, deleted)) = &exe {
        rec.exe = Some(escape(path));
        rec.exe_deleted = Some(*deleted);
    }
    rec.cwd = r.link("cwd").map(|t| escape(&t));
    rec.root = r.link("root").map(|t| escape(&t));
    let (netns, mntns) = namespaces(&mut r, &mut rec);
    environ_fields(&mut r, &mut rec, opts.redact);
    let sinks = FdSinks {
        fds: &mut scan.fds,
        socket_owners: &mut scan.socket_owners,
    };
    rec.fd_count = if r.gone {
        0
    } else {
        descriptors(&mut r, sinks)
    };
    rec.map_count = maps(&mut r, &mut scan.maps);
    if r.gone {
        scan.vanished += 1;
        rec.exited_during_scan = true;
    }
    rec.unreadable = std::mem::take(&mut r.errors);
    push_line(&mut scan.processes, &rec);
    let uid = rec.uid.map(|u| u.real as u32);
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
pub(super) fn stat_fields(s: &parse::Stat, clock: &Clock) -> Stat {
    let hz = clock.hz;
    let start = clock.boot.map(|b| {
        let secs = s.starttime / hz;
        let frac = ((s.starttime % hz) * 1_000_000_000 / hz) as u32;
        cairn_archive::text::rfc3339(b + secs as i64, frac)
    });
    Stat {
        ppid: s.ppid,
        comm: escape(&s.comm),
        state: s.state.to_string(),
        pgrp: s.pgrp,
        session: s.session,
        tty_nr: s.tty_nr,
        threads: s.num_threads,
        start_time: start,
        start_ticks: s.starttime,
        cpu_seconds: (s.utime + s.stime) as f64 / hz as f64,
        rss_bytes: s.rss_pages * clock.page,
        vsz_bytes: s.vsize,
    }
}

/// What `/proc/PID/status` says: identities, capabilities, confinement, tracing.
pub(super) fn status_fields(rec: &mut Process, status: &BTreeMap<String, String>) {
    rec.uid = ids(status, "Uid");
    rec.gid = ids(status, "Gid");
    rec.groups = status
        .get("Groups")
        .map(|g| parse::numbers(g))
        .unwrap_or_default();
    let cap = |k: &str| status.get(k).cloned();
    rec.capabilities = Capabilities {
        inheritable: cap("CapInh"),
        permitted: cap("CapPrm"),
        effective: cap("CapEff"),
        bounding: cap("CapBnd"),
        ambient: cap("CapAmb"),
    };
    rec.seccomp = seccomp_mode(status.get("Seccomp"));
    rec.no_new_privs = status.get("NoNewPrivs").map(|v| v == "1");
    rec.tracer_pid = status.get("TracerPid").and_then(|v| v.parse::<i64>().ok());
    rec.nspid = status.get("NSpid").map(|v| parse::numbers(v));
}

/// The namespaces and cgroups of the process; returns its network and mount
/// namespace inodes.
pub(super) fn namespaces(r: &mut Reader<'_>, rec: &mut Process) -> (Option<u64>, Option<u64>) {
    let ns = match r.dir.namespaces() {
        Ok(n) => n,
        Err(e) => {
            r.fail("ns", e);
            Vec::new()
        }
    };
    let ns_of = |n: &str| ns.iter().find(|(k, _)| k == n).map(|(_, v)| *v);
    let found = (ns_of("net"), ns_of("mnt"));
    rec.namespaces = ns.iter().map(|(k, v)| (k.clone(), *v)).collect();
    let cgroup = r.read("cgroup", 64 << 10).unwrap_or_default();
    rec.cgroup = String::from_utf8_lossy(&cgroup)
        .lines()
        .map(str::to_owned)
        .collect();
    found
}

/// The environment, with the values of secret-looking names redacted when asked.
pub(super) fn environ_fields(r: &mut Reader<'_>, rec: &mut Process, redact_secrets: bool) {
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
        entries.push(escape(&text));
    }
    rec.environ = Some(entries);
    rec.environ_redacted = Some(redacted);
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
        let line = Fd {
            pid: dir.pid,
            fd,
            kind: kind.to_owned(),
            inode,
            target: escape(&target),
            deleted: target.ends_with(b" (deleted)"),
        };
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
            push_line(out, &m.record(r.dir.pid));
        }
    }
    count
}

pub(super) fn push_line<T: serde::Serialize>(spool: &mut Spool, value: &T) {
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
