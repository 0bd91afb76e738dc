//! Finding the container to collect when the collector runs beside it, in its PID
//! namespace: an ephemeral container (`targetContainerName`) or a sidecar
//! (`shareProcessNamespace`). Its processes are the ones whose root directory is not
//! the collector's own; the pod's `pause` process is left out. Its root filesystem is
//! then read through `/proc/PID/root` ([`super::Root::open_process`]).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

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

/// The containers visible in `/proc` (another procfs mount may be given), lowest PID
/// first, and how many processes' roots could not be examined.
pub fn candidates(proc: &Path) -> (Vec<Candidate>, usize) {
    let own = std::fs::metadata(proc.join("self/root"))
        .map(|m| (m.dev(), m.ino()))
        .ok();
    let me = std::process::id();
    let mut groups: Vec<((u64, u64), Candidate)> = Vec::new();
    let mut denied = 0;
    let Ok(dir) = std::fs::read_dir(proc) else {
        return (Vec::new(), 0);
    };
    let mut pids: Vec<u32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&p| p != me)
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let base = proc.join(pid.to_string());
        let root = match std::fs::metadata(base.join("root")) {
            Ok(m) => (m.dev(), m.ino()),
            Err(_) => {
                denied += 1;
                continue;
            }
        };
        if Some(root) == own {
            continue;
        }
        let exe = std::fs::read_link(base.join("exe"))
            .map(|p| p.to_string_lossy().into_owned())
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

/// True when process `pid`'s cgroup path names container `id` (runtimes put the
/// container ID in it: `/docker/ID`, `cri-containerd-ID.scope`, ...).
fn in_container(proc: &Path, pid: u32, id: &str) -> bool {
    std::fs::read(proc.join(pid.to_string()).join("cgroup"))
        .map(|c| String::from_utf8_lossy(&c).contains(id))
        .unwrap_or(false)
}

/// The process whose root to collect: `wanted`, or the lowest PID of the container whose
/// ID is `container_id`, or the lowest PID of the first other container. Returns it with
/// every candidate, for the log.
pub fn choose(
    proc: &Path,
    wanted: Option<u32>,
    container_id: Option<&str>,
) -> Result<(u32, Vec<Candidate>), TargetError> {
    let (all, denied) = candidates(proc);
    if let Some(id) = container_id.filter(|i| i.len() >= 12) {
        // Every PID, not only each container's lowest: any of its processes will do.
        let mut pids: Vec<u32> = std::fs::read_dir(proc)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        pids.sort_unstable();
        return match pids.into_iter().find(|&p| in_container(proc, p, id)) {
            Some(pid) => Ok((pid, all)),
            None => Err(TargetError::NoContainer(id.to_owned())),
        };
    }
    if let Some(pid) = wanted {
        return match std::fs::metadata(proc.join(pid.to_string()).join("root")) {
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
