//! Who and what was collected, for `summary.json`: host or container identity read from
//! the root (offline) or the kernel (live), and the collector's own footprint.

use crate::source::Root;
use cairn_archive::records::summary::{Footprint, Identity};

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_owned()
}

fn os_release(root: &Root) -> Option<String> {
    let text = root.read_small(b"/etc/os-release", 64 << 10).ok()?;
    String::from_utf8_lossy(&text)
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
}

/// Identity of the collected system.
pub fn identity(root: &Root) -> Identity {
    let exists = |p: &[u8]| root.resolve(p).is_ok();
    if root.is_live() {
        let uts = rustix::system::uname();
        Identity {
            hostname: Some(uts.nodename().to_string_lossy().into_owned()),
            kernel: Some(uts.release().to_string_lossy().into_owned()),
            machine: Some(uts.machine().to_string_lossy().into_owned()),
            os: os_release(root),
            docker: exists(b"/.dockerenv"),
            podman: Some(exists(b"/run/.containerenv")),
            kubernetes: Some(
                std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
                    || exists(b"/var/run/secrets/kubernetes.io/serviceaccount"),
            ),
            offline: false,
        }
    } else {
        Identity {
            hostname: root
                .read_small(b"/etc/hostname", 4096)
                .ok()
                .map(|h| first_line(&h)),
            os: os_release(root),
            docker: exists(b"/.dockerenv"),
            offline: true,
            ..Identity::default()
        }
    }
}

/// What the collector itself is and does on the target, for the log and the summary;
/// `output`: where its archive is written when that is inside the collected tree
/// ([`output_in_tree`]).
pub fn footprint(root: &Root, output: Option<&cairn_protocol::Placed>) -> Footprint {
    let binary = binary_in_target(root);
    let mut writes = match &output {
        Some(o) => format!(
            "the collector writes one file itself, its archive, inside the collected tree at {} on {} ({})",
            o.path,
            o.filesystem,
            if o.memory { "memory" } else { "a disk" }
        ),
        None => "the collector writes nothing itself inside the collected tree (its archive goes to stdout, an upload, or a file elsewhere)".into(),
    };
    writes.push_str(&match &binary {
        Some(b) => format!(
            "; its own binary, placed by whoever started it, is {}",
            b.describe()
        ),
        None => "; its own binary is outside the collected system".into(),
    });
    Footprint {
        pid: std::process::id(),
        exe: std::fs::read_link("/proc/self/exe")
            .ok()
            .map(|p| p.display().to_string()),
        exe_sha256: exe_sha256(),
        uid: rustix::process::getuid().as_raw(),
        euid: rustix::process::geteuid().as_raw(),
        gid: rustix::process::getgid().as_raw(),
        cwd: std::env::current_dir()
            .ok()
            .map(|p| p.display().to_string()),
        privileges: crate::live::system::privileges(),
        binary,
        output: output.cloned(),
        writes,
    }
}

/// Where the archive is written when that is a regular file inside the collected tree
/// (the running system's `/`, a directory given as `--root`, or under a process's
/// `/proc/PID/root`): its path, size so far and filesystem. A later collection of the
/// same tree takes that file in as evidence, like any other.
pub fn output_in_tree(root: &Root, sink: &crate::sink::Sink) -> Option<cairn_protocol::Placed> {
    let (f, path) = sink.local_file()?;
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let full = std::fs::canonicalize(parent).ok()?.join(name);
    let tree = std::fs::canonicalize(root.path()).ok()?;
    if !full.starts_with(&tree) {
        return None;
    }
    let fs = rustix::fs::fstatfs(f).ok()?;
    let (filesystem, memory) = filesystem_name(fs.f_type as u64 as u32);
    Some(cairn_protocol::Placed {
        path: full.display().to_string(),
        bytes: f.metadata().ok()?.len(),
        filesystem,
        memory,
    })
}

/// The warning for an archive written inside the collected tree: what it changes and
/// why cairn still collects such files later.
pub fn output_in_tree_warning(o: &cairn_protocol::Placed) -> String {
    format!(
        "the archive is written inside the collected tree, at {}{}; a later collection of this tree takes it in again as evidence: cairn skips no file by its name or content, which would let an attacker hide files the same way. --output - (stdout) or an upload leaves nothing in the target",
        o.path,
        if o.memory {
            format!(" on {} (memory: the disk is untouched)", o.filesystem)
        } else {
            format!(" on {}: the target's disk changes", o.filesystem)
        }
    )
}

/// Where this collector's binary is, when it is inside the collected system (a live
/// root: the collector runs in the target): path, size and filesystem, from the
/// running executable itself.
pub fn binary_in_target(root: &Root) -> Option<cairn_protocol::Placed> {
    if !root.is_live() {
        return None;
    }
    let f = std::fs::File::open("/proc/self/exe").ok()?;
    let bytes = f.metadata().ok()?.len();
    let fs = rustix::fs::fstatfs(&f).ok()?;
    let (filesystem, memory) = filesystem_name(fs.f_type as u64 as u32);
    Some(cairn_protocol::Placed {
        path: std::fs::read_link("/proc/self/exe")
            .ok()?
            .display()
            .to_string(),
        bytes,
        filesystem,
        memory,
    })
}

/// A filesystem's name from its statfs magic number, and whether it is memory.
fn filesystem_name(magic: u32) -> (String, bool) {
    let name = match magic {
        0x0102_1994 => return ("tmpfs".into(), true),
        0x8584_58f6 => return ("ramfs".into(), true),
        0x794c_7630 => "overlay",
        0xef53 => "ext4",
        0x5846_5342 => "xfs",
        0x9123_683e => "btrfs",
        0x6969 => "nfs",
        0x6573_5546 => "fuse",
        0x7371_7368 => "squashfs",
        other => return (format!("filesystem 0x{other:08x}"), false),
    };
    (name.into(), false)
}

/// The sha256 of the running executable, so the log names the exact binary that ran
/// (a bootstrap checked the same hash before starting it).
fn exe_sha256() -> Option<String> {
    let mut f = std::fs::File::open("/proc/self/exe").ok()?;
    cairn_archive::hash::sha256_all(&mut f).ok()
}
