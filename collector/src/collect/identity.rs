//! Who and what was collected, for `summary.json`: host or container identity read from
//! the root (offline) or the kernel (live), and the collector's own footprint.

use crate::source::Root;
use serde_json::{json, Value};

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
pub fn identity(root: &Root) -> Value {
    let exists = |p: &[u8]| root.resolve(p).is_ok();
    if root.is_live() {
        let uts = rustix::system::uname();
        json!({
            "hostname": uts.nodename().to_string_lossy(),
            "kernel": uts.release().to_string_lossy(),
            "machine": uts.machine().to_string_lossy(),
            "os": os_release(root),
            "docker": exists(b"/.dockerenv"),
            "podman": exists(b"/run/.containerenv"),
            "kubernetes": std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
                || exists(b"/var/run/secrets/kubernetes.io/serviceaccount"),
        })
    } else {
        json!({
            "hostname": root.read_small(b"/etc/hostname", 4096).ok().map(|h| first_line(&h)),
            "os": os_release(root),
            "docker": exists(b"/.dockerenv"),
            "offline": true,
        })
    }
}

/// What the collector itself is and does on the target, for the log.
pub fn footprint() -> Value {
    json!({
        "pid": std::process::id(),
        "exe": std::fs::read_link("/proc/self/exe").ok().map(|p| p.display().to_string()),
        "exe_sha256": exe_sha256(),
        "uid": rustix::process::getuid().as_raw(),
        "euid": rustix::process::geteuid().as_raw(),
        "gid": rustix::process::getgid().as_raw(),
        "cwd": std::env::current_dir().ok().map(|p| p.display().to_string()),
        "privileges": crate::live::system::privileges(),
        "writes": "nothing on the target except the --output file when one is given; no temporary files",
    })
}

/// The sha256 of the running executable, so the log names the exact binary that ran
/// (a bootstrap checked the same hash before starting it).
fn exe_sha256() -> Option<String> {
    let mut f = std::fs::File::open("/proc/self/exe").ok()?;
    crate::hash::sha256_all(&mut f).ok()
}
