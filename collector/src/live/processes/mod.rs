//! The process scan: every PID's identity, credentials, command line, executable,
//! namespaces, cgroup, capabilities, environment (redacted), open descriptors and
//! memory maps, read from /proc. Written as `live_response/processes/processes.jsonl`,
//! `fds.jsonl`, `maps.jsonl` and a `tree.txt` view. A process that exits mid-scan is
//! recorded with what was read before it went; a denied file is noted once per kind.

mod record;

use super::{Denials, Emit, LiveOptions};
use crate::source::procfs::{self, ProcFs};
use cairn_archive::member::live;
use cairn_archive::write::Spool;
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
    /// Started as cairn's bootstrap (`sh -c SCRIPT cairn-bootstrap ...`): its command
    /// without the script. What it is counts only for an ancestor of the collector (see
    /// [`own`]).
    pub bootstrap: Option<String>,
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
    /// The procfs scanned is the collector's own (`/proc`), so its PID is its own.
    own_procfs: bool,
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
            own_procfs: false,
        }
    }
}

/// Scans every process visible in `proc`.
pub fn scan(proc: &ProcFs, opts: &LiveOptions, emit: &mut dyn Emit) -> Scan {
    let started = std::time::Instant::now();
    let mut scan = Scan::new();
    scan.own_procfs = proc.base() == std::path::Path::new("/proc");
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

/// The collector's PID as the scanned procfs numbers it, when that procfs is the
/// collector's own (`/proc`); another procfs numbers another PID namespace.
pub fn self_pid(scan: &Scan) -> Option<i32> {
    scan.own_procfs.then(|| std::process::id() as i32)
}

/// cairn's own processes: the collector; and when a bootstrap started it, the
/// bootstrap's shells among its ancestors and everything they started (the watch loop's
/// `cat` and `sleep`). Only ancestry from the collector counts, so a process that merely
/// calls itself `cairn-bootstrap` is not hidden behind the mark.
pub fn own(procs: &[Proc], me: Option<i32>) -> std::collections::BTreeSet<i32> {
    let mut mine = std::collections::BTreeSet::new();
    let Some(me) = me.filter(|m| procs.iter().any(|p| p.pid == *m)) else {
        return mine;
    };
    mine.insert(me);
    let by_pid: HashMap<i32, &Proc> = procs.iter().map(|p| (p.pid, p)).collect();
    let mut top = None;
    let mut at = me;
    // Up through the bootstrap shells (bounded: a PID cycle cannot loop).
    for _ in 0..procs.len() {
        let Some(parent) = by_pid.get(&at).and_then(|p| by_pid.get(&p.ppid)) else {
            break;
        };
        if parent.bootstrap.is_none() || parent.pid == at {
            break;
        }
        top = Some(parent.pid);
        at = parent.pid;
    }
    if let Some(top) = top {
        // Down from the outermost bootstrap shell: all it started is cairn's.
        let mut stack = vec![top];
        while let Some(pid) = stack.pop() {
            mine.insert(pid);
            stack.extend(
                procs
                    .iter()
                    .filter(|p| p.ppid == pid && !mine.contains(&p.pid))
                    .map(|p| p.pid),
            );
        }
    }
    mine
}

/// An indented process tree, roots first, children by PID; cairn's own processes
/// (`mine`) end in `(cairn)`, and a bootstrap shell's command line is shortened to its
/// arguments (the script itself is in processes.jsonl).
pub fn tree(procs: &[Proc], mine: &std::collections::BTreeSet<i32>) -> String {
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
        } else if let (Some(b), true) = (&p.bootstrap, mine.contains(&p.pid)) {
            b.clone()
        } else {
            p.cmdline.clone()
        };
        let mut mark = if p.exe_deleted { " (exe deleted)" } else { "" }.to_owned();
        if mine.contains(&p.pid) {
            mark.push_str(" (cairn)");
        }
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
    emit.output_spool(artifact, live::PROCESSES, &mut scan.processes);
    emit.output_spool(artifact, live::FDS, &mut scan.fds);
    emit.output_spool(artifact, live::MAPS, &mut scan.maps);
    let mine = own(&scan.procs, self_pid(scan));
    emit.output(artifact, live::TREE, tree(&scan.procs, &mine).as_bytes());
    if !mine.is_empty() {
        let pids: Vec<String> = mine.iter().map(i32::to_string).collect();
        emit.log(
            Level::Info,
            LogEvent::Live,
            artifact,
            None,
            format!(
                "cairn's own processes (the collector, and the bootstrap that started it with its helpers), marked (cairn) in tree.txt: PIDs {}",
                pids.join(", ")
            ),
        );
    }
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

/// The `processes` native collector.
pub fn native(r: &mut super::Run<'_>) {
    let artifact = r.artifact;
    if let Some((scan, out)) = r.scan() {
        emit(scan, artifact, out);
    }
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
            bootstrap: None,
        }
    }

    #[test]
    fn cairns_own_processes_are_the_collector_and_what_its_bootstrap_started() {
        let args: [&[u8]; 10] = [
            b"sh",
            b"-c",
            b"S cairn-bootstrap S",
            b"cairn-bootstrap",
            b"stdin",
            b"100",
            b"abc",
            b"watch",
            b"--",
            b"collect",
        ];
        let shown = record::bootstrap_command(&args);
        assert_eq!(
            shown.as_deref(),
            Some("sh -c <the bootstrap script> cairn-bootstrap stdin 100 abc watch -- collect")
        );
        // Under qemu-user the interpreter and the shell's path come first.
        let mut qemu: Vec<&[u8]> = vec![b"/usr/libexec/qemu-binfmt/aarch64-binfmt-P", b"/bin/sh"];
        qemu.extend_from_slice(&args);
        assert_eq!(record::bootstrap_command(&qemu), shown);
        assert_eq!(record::bootstrap_command(&[b"sh", b"-c", b"x"]), None);
        let boot = |pid, ppid| Proc {
            bootstrap: shown.clone(),
            cmdline: "sh -c SCRIPT cairn-bootstrap stdin 100 abc watch -- collect".into(),
            ..p(pid, ppid, "sh")
        };
        let procs = [
            p(1, 0, "nginx"),
            boot(20, 0),
            boot(21, 20),
            p(22, 21, "cat"),
            p(23, 20, "cairn-collector collect"),
            // Calls itself a bootstrap, but the collector does not descend from it.
            boot(30, 1),
            p(31, 30, "evil"),
        ];
        let mine = own(&procs, Some(23));
        assert_eq!(mine.into_iter().collect::<Vec<_>>(), vec![20, 21, 22, 23]);
        let t = tree(&procs, &own(&procs, Some(23)));
        assert!(t.contains("20\t0\t0\tsh -c <the bootstrap script> cairn-bootstrap stdin 100 abc watch -- collect (cairn)"), "{t}");
        assert!(t.contains("22\t21\t0\t    cat (cairn)"), "{t}");
        assert!(t.contains("31\t30\t0\t    evil\n"), "{t}");
        assert!(
            t.contains("30\t1\t0\t  sh -c SCRIPT cairn-bootstrap"),
            "{t}"
        );
        // Run by hand (no bootstrap above it): only the collector.
        assert_eq!(own(&procs[..1], None).len(), 0);
        assert_eq!(own(&[p(5, 1, "cairn-collector")], Some(5)).len(), 1);
    }

    #[test]
    fn tree_nests_children_and_survives_cycles() {
        let t = tree(
            &[
                p(1, 0, "init"),
                p(7, 1, "sh"),
                p(9, 7, "sleep"),
                p(3, 1, "nginx"),
                p(50, 51, "a"),
                p(51, 50, "b"),
            ],
            &Default::default(),
        );
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
