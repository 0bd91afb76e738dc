//! Finding the container to collect when the collector runs beside it, in its PID
//! namespace: an ephemeral container (`targetContainerName`) or a sidecar
//! (`shareProcessNamespace`). Its processes are the ones whose root directory is not
//! the collector's own; the pod's `pause` process is left out. Its root filesystem is
//! then read through `/proc/PID/root` ([`super::Root::open_process`]).
//!
//! The target is hostile: a process of its container can change its own root
//! (`chroot`, a new mount namespace), so the lowest PID's root need not be the one its
//! other processes see. When a container's processes show more than one root, the
//! choice says so ([`Chosen::other_roots`]) and the collection log records it.

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

/// The roots of `pids` (ascending) other than the first one's, each with its link and
/// the PIDs that show it. Processes whose root cannot be read are left out.
fn other_roots(proc: &ProcFs, pids: &[u32]) -> Vec<(String, Vec<u32>)> {
    let mut groups: Vec<((u64, u64), String, Vec<u32>)> = Vec::new();
    for &pid in pids {
        let Ok(dir) = proc.process(pid as i32) else {
            continue;
        };
        let Ok(root) = dir.identity("root") else {
            continue;
        };
        match groups.iter_mut().find(|(r, _, _)| *r == root) {
            Some((_, _, p)) => p.push(pid),
            None => {
                let link = dir
                    .readlink("root")
                    .map(|l| String::from_utf8_lossy(&l).into_owned())
                    .unwrap_or_default();
                groups.push((root, link, vec![pid]));
            }
        }
    }
    groups.into_iter().skip(1).map(|(_, l, p)| (l, p)).collect()
}

/// True when process `pid`'s cgroup path names container `id` (runtimes put the
/// container ID in it: `/docker/ID`, `cri-containerd-ID.scope`, ...).
fn in_container(proc: &ProcFs, pid: u32, id: &str) -> bool {
    proc.read(&format!("{pid}/cgroup"), 1 << 20)
        .map(|c| String::from_utf8_lossy(&c).contains(id))
        .unwrap_or(false)
}

/// The process chosen, every candidate (for the log), and the roots other than the
/// chosen one that processes of the same container show.
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    pub pid: u32,
    pub candidates: Vec<Candidate>,
    /// Each other root: where it points (`PID/root`'s link) and the PIDs that show it.
    pub other_roots: Vec<(String, Vec<u32>)>,
}

impl Chosen {
    /// The warning for the log when the container's processes disagree on their root.
    pub fn warning(&self) -> Option<String> {
        if self.other_roots.is_empty() {
            return None;
        }
        let others: Vec<String> = self
            .other_roots
            .iter()
            .map(|(link, pids)| {
                let shown: Vec<String> = pids.iter().take(10).map(u32::to_string).collect();
                let more = pids.len().saturating_sub(10);
                format!(
                    "{link} (PID {}{})",
                    shown.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                )
            })
            .collect();
        Some(format!(
            "the target container's processes show {} roots: collected the root of PID {} (its lowest); others: {}. A process that changed its root (chroot, a new mount namespace) sees other files: collect those with --target-pid PID",
            self.other_roots.len() + 1,
            self.pid,
            others.join("; ")
        ))
    }
}

/// The process whose root to collect: `wanted`, or the lowest PID of the container whose
/// ID is `container_id`, or the lowest PID of the first other container.
pub fn choose(
    proc: &ProcFs,
    wanted: Option<u32>,
    container_id: Option<&str>,
) -> Result<Chosen, TargetError> {
    let (all, denied) = candidates(proc);
    let chosen = |pid: u32, other_roots| Chosen {
        pid,
        candidates: all.clone(),
        other_roots,
    };
    if let Some(id) = container_id.filter(|i| i.len() >= 12) {
        let theirs: Vec<u32> = pids(proc)
            .into_iter()
            .filter(|&p| in_container(proc, p, id))
            .collect();
        return match theirs.first() {
            Some(&pid) => Ok(chosen(pid, other_roots(proc, &theirs))),
            None => Err(TargetError::NoContainer(id.to_owned())),
        };
    }
    if let Some(pid) = wanted {
        return match proc.process(pid as i32).and_then(|d| d.identity("root")) {
            Ok(_) => Ok(chosen(pid, Vec::new())),
            Err(e) => Err(TargetError::NoSuchPid(pid, e.to_string())),
        };
    }
    match all.first() {
        Some(c) => Ok(chosen(c.pid, Vec::new())),
        None => Err(TargetError::NoneVisible {
            denied: if denied > 0 {
                format!("; the roots of {denied} processes could not be read (run with CAP_SYS_PTRACE, or as the target's own uid and gid)")
            } else {
                String::new()
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A procfs of processes 10, 11, 12 of container `abcdef0123456789` and 20 of
    /// another; 12 shows another root.
    fn fake_proc(t: &std::path::Path) -> ProcFs {
        let proc = t.join("proc");
        for d in ["rootA", "rootB", "rootC"] {
            std::fs::create_dir_all(t.join(d)).unwrap();
        }
        for (pid, root, cgroup) in [
            (
                10,
                "rootA",
                "0::/kubepods/cri-containerd-abcdef0123456789.scope",
            ),
            (
                11,
                "rootA",
                "0::/kubepods/cri-containerd-abcdef0123456789.scope",
            ),
            (
                12,
                "rootB",
                "0::/kubepods/cri-containerd-abcdef0123456789.scope",
            ),
            (
                20,
                "rootC",
                "0::/kubepods/cri-containerd-fedcba9876543210.scope",
            ),
        ] {
            let dir = proc.join(pid.to_string());
            std::fs::create_dir_all(&dir).unwrap();
            symlink(t.join(root), dir.join("root")).unwrap();
            std::fs::write(dir.join("cgroup"), cgroup).unwrap();
        }
        ProcFs::open(&proc).unwrap()
    }

    #[test]
    fn a_container_whose_processes_show_two_roots_is_collected_at_its_lowest_pid_with_a_warning() {
        let t = tempfile::tempdir().unwrap();
        let proc = fake_proc(t.path());
        let c = choose(&proc, None, Some("abcdef0123456789")).unwrap();
        assert_eq!(c.pid, 10);
        assert_eq!(c.other_roots.len(), 1);
        assert_eq!(c.other_roots[0].1, vec![12]);
        assert!(c.other_roots[0].0.ends_with("rootB"), "{:?}", c.other_roots);
        let w = c.warning().unwrap();
        assert!(w.contains("show 2 roots") && w.contains("PID 12"), "{w}");
        // One root: no warning.
        let c = choose(&proc, None, Some("fedcba9876543210")).unwrap();
        assert_eq!((c.pid, c.warning()), (20, None));
        assert!(matches!(
            choose(&proc, None, Some("0000000000000000")),
            Err(TargetError::NoContainer(_))
        ));
    }
}
