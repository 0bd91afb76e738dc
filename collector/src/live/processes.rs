//! The process scan: every PID's identity, credentials, command line, executable,
//! namespaces, cgroup, capabilities, environment (redacted), open descriptors and
//! memory maps, read from /proc. Written as `live_response/processes/processes.jsonl`,
//! `fds.jsonl`, `maps.jsonl` and a `tree.txt` view. A process that exits mid-scan is
//! recorded with what was read before it went; a denied file is noted once per kind.

use super::parse;
use super::{redact, Denials, Emit, LiveOptions};
use crate::archive::Spool;
use crate::lines::escape;
use crate::source::procfs::{self, ProcDir, ProcFs};
use cairn_protocol::{Level, LogEvent};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

/// What other collectors need to know about one process.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub uid: Option<u32>,
    pub comm: String,
    /// Command line, escaped, joined by spaces (for tables and the tree).
    pub cmdline: String,
    /// `exe` link target, exact bytes, without the ` (deleted)` suffix.
    pub exe: Option<Vec<u8>>,
    pub exe_deleted: bool,
    pub netns: Option<u64>,
    pub mntns: Option<u64>,
}

/// One scan of /proc, made once per collection.
pub struct Scan {
    pub procs: Vec<Proc>,
    /// Socket inode → (pid, fd) that hold it.
    pub socket_owners: HashMap<u64, Vec<(i32, i32)>>,
    processes: Spool,
    fds: Spool,
    maps: Spool,
    pub denials: Denials,
    pub vanished: u64,
    pub seconds: f64,
    emitted: bool,
}

impl Scan {
    fn new() -> Scan {
        Scan {
            procs: Vec::new(),
            socket_owners: HashMap::new(),
            processes: Spool::new(),
            fds: Spool::new(),
            maps: Spool::new(),
            denials: Denials::default(),
            vanished: 0,
            seconds: 0.0,
            emitted: false,
        }
    }
}

fn lossless_list(items: &[&[u8]]) -> Value {
    Value::Array(items.iter().map(|a| Value::String(escape(a))).collect())
}

fn ids(status: &BTreeMap<String, String>, key: &str) -> Value {
    let n = status
        .get(key)
        .map(|v| parse::numbers(v))
        .unwrap_or_default();
    if n.len() < 4 {
        return Value::Null;
    }
    json!({"real": n[0], "effective": n[1], "saved": n[2], "filesystem": n[3]})
}

fn seccomp_mode(v: Option<&String>) -> Value {
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
fn fd_kind(target: &[u8]) -> (&'static str, Option<u64>) {
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

fn strip_deleted(target: Vec<u8>) -> (Vec<u8>, bool) {
    match target.strip_suffix(b" (deleted)") {
        Some(t) => (t.to_vec(), true),
        None => (target, false),
    }
}

struct Reader<'a> {
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

/// Scans every process visible in `proc`.
pub fn scan(proc: &ProcFs, opts: &LiveOptions, emit: &mut dyn Emit) -> Scan {
    let started = std::time::Instant::now();
    let mut scan = Scan::new();
    let boot = procfs::boot_time(proc);
    let hz = procfs::ticks_per_second();
    let page = rustix::param::page_size() as u64;
    let pids = match proc.pids() {
        Ok(p) => p,
        Err(e) => {
            emit.log(
                Level::Error,
                LogEvent::Error,
                "live/processes",
                None,
                format!("cannot list {}: {e}", proc.base().display()),
            );
            return scan;
        }
    };
    for pid in pids {
        if emit.expired() {
            break;
        }
        let dir = match proc.process(pid) {
            Ok(d) => d,
            Err(_) => {
                scan.vanished += 1;
                continue;
            }
        };
        scan_one(&dir, &mut scan, opts, boot, hz, page);
    }
    scan.seconds = started.elapsed().as_secs_f64();
    scan
}

fn scan_one(
    dir: &ProcDir,
    scan: &mut Scan,
    opts: &LiveOptions,
    boot: Option<i64>,
    hz: u64,
    page: u64,
) {
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
        let start = boot.map(|b| {
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
        rec.insert("rss_bytes".into(), json!(s.rss_pages * page));
        rec.insert("vsz_bytes".into(), json!(s.vsize));
    }
    rec.insert("uid".into(), ids(&status, "Uid"));
    rec.insert("gid".into(), ids(&status, "Gid"));
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
    let ns = match dir.namespaces() {
        Ok(n) => n,
        Err(e) => {
            r.fail("ns", e);
            Vec::new()
        }
    };
    let ns_of = |n: &str| ns.iter().find(|(k, _)| k == n).map(|(_, v)| *v);
    let (netns, mntns) = (ns_of("net"), ns_of("mnt"));
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

    if let Some(env) = r.read("environ", procfs::READ_LIMIT) {
        let mut redacted = Vec::new();
        let mut entries = Vec::new();
        for item in parse::nul_list(&env) {
            let (text, was) = redact::entry(item, opts.redact);
            if was {
                let name = item.split(|&b| b == b'=').next().unwrap_or(item);
                redacted.push(escape(name));
            }
            entries.push(Value::String(escape(&text)));
        }
        rec.insert("environ".into(), Value::Array(entries));
        rec.insert("environ_redacted".into(), json!(redacted));
    }

    // Open descriptors.
    let mut fd_count = 0u64;
    if !r.gone {
        match dir.fds() {
            Ok(fds) => {
                for fd in fds {
                    let name = format!("fd/{fd}");
                    let Ok(target) = dir.readlink(&name) else {
                        continue;
                    };
                    fd_count += 1;
                    let (kind, inode) = fd_kind(&target);
                    if kind == "socket" {
                        if let Some(i) = inode {
                            scan.socket_owners.entry(i).or_default().push((pid, fd));
                        }
                    }
                    let line = json!({
                        "pid": pid, "fd": fd, "kind": kind, "inode": inode,
                        "target": escape(&target),
                        "deleted": target.ends_with(b" (deleted)"),
                    });
                    push_line(&mut scan.fds, &line);
                }
            }
            Err(e) => r.fail("fd", e),
        }
    }
    rec.insert("fd_count".into(), json!(fd_count));

    // Memory maps: one record per mapping, the path kept exactly (escaped).
    let mut map_count = 0u64;
    if let Some(maps) = r.read("maps", procfs::READ_LIMIT) {
        for line in maps.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let m = parse::maps_line(line);
            map_count += 1;
            let line = json!({
                "pid": pid, "start": m.start, "end": m.end, "perms": m.perms,
                "offset": m.offset, "dev": m.dev, "inode": m.inode,
                "path": m.path.as_deref().map(escape),
            });
            push_line(&mut scan.maps, &line);
        }
    }
    rec.insert("map_count".into(), json!(map_count));
    if r.gone {
        scan.vanished += 1;
        rec.insert("exited_during_scan".into(), json!(true));
    }
    if !r.errors.is_empty() {
        rec.insert("unreadable".into(), Value::Object(r.errors));
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
    });
}

fn push_line(spool: &mut Spool, value: &Value) {
    if let Ok(mut line) = serde_json::to_vec(value) {
        line.push(b'\n');
        spool.push(&line);
    }
}

/// An indented process tree, roots first, children by PID.
pub fn tree(procs: &[Proc]) -> String {
    let pids: std::collections::HashSet<i32> = procs.iter().map(|p| p.pid).collect();
    let mut children: BTreeMap<i32, Vec<&Proc>> = BTreeMap::new();
    let mut roots = Vec::new();
    for p in procs {
        if p.ppid == 0 || !pids.contains(&p.ppid) || p.ppid == p.pid {
            roots.push(p);
        } else {
            children.entry(p.ppid).or_default().push(p);
        }
    }
    for kids in children.values_mut() {
        kids.sort_by_key(|p| p.pid);
    }
    roots.sort_by_key(|p| p.pid);
    let mut out = String::from("PID\tPPID\tUID\tCOMMAND\n");
    let mut stack: Vec<(&Proc, usize)> = roots.into_iter().rev().map(|p| (p, 0)).collect();
    let mut printed = std::collections::HashSet::new();
    let mut leftovers = procs.iter().rev();
    loop {
        let Some((p, depth)) = stack.pop() else {
            // Processes whose parents form a cycle (PID reuse mid-scan) become roots.
            match leftovers.find(|p| !printed.contains(&p.pid)) {
                Some(p) => {
                    stack.push((p, 0));
                    continue;
                }
                None => break,
            }
        };
        if !printed.insert(p.pid) {
            continue;
        }
        let cmd = if p.cmdline.is_empty() {
            format!("[{}]", p.comm)
        } else {
            p.cmdline.clone()
        };
        let mark = if p.exe_deleted { " (exe deleted)" } else { "" };
        out.push_str(&format!(
            "{}\t{}\t{}\t{}{}{}\n",
            p.pid,
            p.ppid,
            p.uid.map(|u| u.to_string()).unwrap_or_else(|| "?".into()),
            "  ".repeat(depth),
            cmd,
            mark
        ));
        if let Some(kids) = children.get(&p.pid) {
            for k in kids.iter().rev() {
                stack.push((k, depth + 1));
            }
        }
    }
    out
}

/// Writes the scan's outputs (once, even if several artifacts ask).
pub fn emit(scan: &mut Scan, artifact: &str, emit: &mut dyn Emit) {
    if scan.emitted {
        return;
    }
    scan.emitted = true;
    emit.output_spool(artifact, "processes/processes.jsonl", &mut scan.processes);
    emit.output_spool(artifact, "processes/fds.jsonl", &mut scan.fds);
    emit.output_spool(artifact, "processes/maps.jsonl", &mut scan.maps);
    emit.output(artifact, "processes/tree.txt", tree(&scan.procs).as_bytes());
    scan.denials.flush(emit, artifact);
    emit.log(
        Level::Info,
        LogEvent::Live,
        artifact,
        None,
        format!(
            "{} processes scanned in {:.3}s ({} exited during the scan)",
            scan.procs.len(),
            scan.seconds,
            scan.vanished
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, ppid: i32, cmd: &str) -> Proc {
        Proc {
            pid,
            ppid,
            uid: Some(0),
            comm: cmd.into(),
            cmdline: cmd.into(),
            exe: None,
            exe_deleted: false,
            netns: None,
            mntns: None,
        }
    }

    #[test]
    fn tree_nests_children_and_survives_cycles() {
        let t = tree(&[
            p(1, 0, "init"),
            p(7, 1, "sh"),
            p(9, 7, "sleep"),
            p(3, 1, "nginx"),
            p(50, 51, "a"),
            p(51, 50, "b"),
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[1], "1\t0\t0\tinit");
        assert_eq!(lines[2], "3\t1\t0\t  nginx");
        assert_eq!(lines[3], "7\t1\t0\t  sh");
        assert_eq!(lines[4], "9\t7\t0\t    sleep");
        // A parent cycle (possible only through PID reuse mid-scan) is not lost or looped.
        assert_eq!(lines.len(), 7);
        assert!(lines[5..].iter().any(|l| l.starts_with("50\t")), "{t}");
        assert!(
            lines[5..]
                .iter()
                .any(|l| l.contains("  b") || l.contains("  a")),
            "{t}"
        );
    }

    #[test]
    fn a_process_that_exits_mid_scan_is_recorded_not_lost() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let proc = ProcFs::open(std::path::Path::new("/proc")).unwrap();
        // The directory is opened (the scan has seen the PID), then the process exits
        // and is reaped before its files are read.
        let dir = proc.process(child.id() as i32).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        let mut scan = Scan::new();
        scan_one(&dir, &mut scan, &LiveOptions::default(), Some(0), 100, 4096);
        assert_eq!(scan.vanished, 1);
        assert_eq!(scan.procs.len(), 1);
        assert!(scan.denials.is_empty(), "an exit is not a denial");
        let mut text = String::new();
        use std::io::Read;
        scan.processes
            .reader()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        let rec: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(rec["pid"], child.id());
        assert_eq!(rec["exited_during_scan"], true);
    }

    #[test]
    fn fd_targets() {
        assert_eq!(fd_kind(b"socket:[51234]"), ("socket", Some(51234)));
        assert_eq!(fd_kind(b"pipe:[7]"), ("pipe", Some(7)));
        assert_eq!(fd_kind(b"anon_inode:[eventfd]").0, "anon_inode");
        assert_eq!(fd_kind(b"/memfd:x (deleted)").0, "memfd");
        assert_eq!(fd_kind(b"/var/log/a.log").0, "file");
        assert_eq!(
            strip_deleted(b"/tmp/x (deleted)".to_vec()),
            (b"/tmp/x".to_vec(), true)
        );
    }
}
