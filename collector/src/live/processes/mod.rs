//! The process scan: every PID's identity, credentials, command line, executable,
//! namespaces, cgroup, capabilities, environment (redacted), open descriptors and
//! memory maps, read from /proc. Written as `live_response/processes/processes.jsonl`,
//! `fds.jsonl`, `maps.jsonl` and a `tree.txt` view. A process that exits mid-scan is
//! recorded with what was read before it went; a denied file is noted once per kind.

mod record;

use super::{Denials, Emit, LiveOptions};
use crate::archive::Spool;
use crate::source::procfs::{self, ProcFs};
use cairn_protocol::{Level, LogEvent};
use record::{scan_one, Clock};
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

/// Scans every process visible in `proc`.
pub fn scan(proc: &ProcFs, opts: &LiveOptions, emit: &mut dyn Emit) -> Scan {
    let started = std::time::Instant::now();
    let mut scan = Scan::new();
    let clock = Clock {
        boot: procfs::boot_time(proc),
        hz: procfs::ticks_per_second(),
        page: rustix::param::page_size() as u64,
    };
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
        scan_one(&dir, &mut scan, opts, &clock);
    }
    scan.seconds = started.elapsed().as_secs_f64();
    scan
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
    use super::record::*;
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
        let clock = Clock {
            boot: Some(0),
            hz: 100,
            page: 4096,
        };
        scan_one(&dir, &mut scan, &LiveOptions::default(), &clock);
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
        let rec: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
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
