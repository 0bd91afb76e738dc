//! Finding the container to collect when the collector runs beside it, in its PID
//! namespace: an ephemeral container (`targetContainerName`) or a sidecar
//! (`shareProcessNamespace`). Its processes are the ones whose root directory is not
//! the collector's own; the pod's `pause` process is left out. Its root filesystem is
//! then read through `/proc/PID/root` ([`super::Root::open_process`]).

use super::procfs::ProcFs;

/// A container seen in this PID namespace: its lowest PID and that process's executable.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub pid: u32,
    pub exe: String,
    pub processes: usize,
}

/// Why no target was found.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("no other container's process is visible here: the PID namespace is not shared (an ephemeral container needs targetContainerName, a sidecar needs shareProcessNamespace: true){denied}")]
    NoneVisible { denied: String },
    #[error("process {0} is not visible here ({1})")]
    NoSuchPid(u32, String),
    #[error("no process of container {0} is visible here (is it running, and does this container share its PID namespace?)")]
    NoContainer(String),
}

/// The containers visible in procfs (`--proc`), lowest PID first, and how many
/// processes' roots could not be examined.
pub fn candidates(proc: &ProcFs) -> (Vec<Candidate>, usize) {
    let own = proc.identity("self/root").ok();
    let me = std::process::id();
    let mut groups: Vec<((u64, u64), Candidate)> = Vec::new();
    let mut denied = 0;
    for pid in pids(proc).into_iter().filter(|&p| p != me) {
        let Ok(dir) = proc.process(pid as i32) else {
            continue;
        };
        let root = match dir.identity("root") {
            Ok(r) => r,
            Err(_) => {
                denied += 1;
                continue;
            }
        };
        if Some(root) == own {
            continue;
        }
        let exe = dir
            .readlink("exe")
            .map(|p| String::from_utf8_lossy(&p).into_owned())
            .unwrap_or_default();
        match groups.iter_mut().find(|(r, _)| *r == root) {
            Some((_, c)) => c.processes += 1,
            None => groups.push((
                root,
                Candidate {
                    pid,
                    exe,
                    processes: 1,
                },
            )),
        }
    }
    let out = groups
        .into_iter()
        .map(|(_, c)| c)
        // The pod sandbox's pause process holds namespaces, not evidence.
        .filter(|c| !c.exe.ends_with("/pause"))
        .collect();
    (out, denied)
}

/// Every PID visible, ascending.
fn pids(proc: &ProcFs) -> Vec<u32> {
    proc.pids()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| u32::try_from(p).ok())
        .collect()
}

/// True when process `pid`'s cgroup path names container `id` (runtimes put the
/// container ID in it: `/docker/ID`, `cri-containerd-ID.scope`, ...).
fn in_container(proc: &ProcFs, pid: u32, id: &str) -> bool {
    proc.read(&format!("{pid}/cgroup"), 1 << 20)
        .map(|c| String::from_utf8_lossy(&c).contains(id))
        .unwrap_or(false)
}

/// The process whose root to collect: `wanted`, or the lowest PID of the container whose
/// ID is `container_id`, or the lowest PID of the first other container. Returns it with
/// every candidate, for the log.
pub fn choose(
    proc: &ProcFs,
    wanted: Option<u32>,
    container_id: Option<&str>,
) -> Result<(u32, Vec<Candidate>), TargetError> {
    let (all, denied) = candidates(proc);
    if let Some(id) = container_id.filter(|i| i.len() >= 12) {
        // Every PID, not only each container's lowest: any of its processes will do.
        return match pids(proc).into_iter().find(|&p| in_container(proc, p, id)) {
            Some(pid) => Ok((pid, all)),
            None => Err(TargetError::NoContainer(id.to_owned())),
        };
    }
    if let Some(pid) = wanted {
        return match proc.process(pid as i32).and_then(|d| d.identity("root")) {
            Ok(_) => Ok((pid, all)),
            Err(e) => Err(TargetError::NoSuchPid(pid, e.to_string())),
        };
    }
    match all.first() {
        Some(c) => Ok((c.pid, all)),
        None => Err(TargetError::NoneVisible {
            denied: if denied > 0 {
                format!("; the roots of {denied} processes could not be read (run with CAP_SYS_PTRACE, or as the target's own uid and gid)")
            } else {
                String::new()
            },
        }),
    }
}
