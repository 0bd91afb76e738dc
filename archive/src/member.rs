//! Where everything is in an archive: the names the writer uses and the readers look
//! for, spelled once. docs/archive-format.md describes each member.

/// Top folder of copied files: `files/<original path>`.
pub const FILES_DIR: &str = "files";
/// Top folder of what the node keeps about a container outside its filesystem:
/// `node/<path on the node>` (the kubelet's logs of it).
pub const NODE_DIR: &str = "node";
/// Top folder of generated outputs (find lists, hash lists, bodyfiles).
pub const OUTPUTS_DIR: &str = "outputs";
/// Top folder of the native live response's records.
pub const LIVE_DIR: &str = "live_response";

/// The manifest's last part: one [`crate::records::ManifestRecord`] per line.
pub const MANIFEST: &str = "manifest.jsonl";
/// The collection log: one [`crate::records::LogRecord`] per line.
pub const LOG: &str = "collection.log";
/// The collection's summary, which seals the manifest and the log.
pub const SUMMARY: &str = "summary.json";

/// Earlier parts of the manifest on very large trees: `manifest-0001.jsonl`, ...
/// (flushed so memory stays bounded; [`MANIFEST`] is always the last part).
pub fn manifest_part(n: usize) -> String {
    format!("manifest-{n:04}.jsonl")
}

/// True for [`MANIFEST`] and its numbered parts.
pub fn is_manifest(name: &[u8]) -> bool {
    name == MANIFEST.as_bytes()
        || (name.starts_with(b"manifest-") && name.ends_with(b".jsonl") && !name.contains(&b'/'))
}

/// True for the collector's own records (manifest parts, log, summary), which the
/// manifest does not list.
pub fn is_record(name: &[u8]) -> bool {
    is_manifest(name) || name == LOG.as_bytes() || name == SUMMARY.as_bytes()
}

/// The live response's members (`live_response/...`).
pub mod live {
    pub const PROCESSES: &str = "live_response/processes/processes.jsonl";
    pub const FDS: &str = "live_response/processes/fds.jsonl";
    pub const MAPS: &str = "live_response/processes/maps.jsonl";
    pub const TREE: &str = "live_response/processes/tree.txt";
    pub const EXECUTABLES: &str = "live_response/processes/executables.jsonl";
    /// Process memory: `<prefix><pid>.core` (ELF core files), and the records.
    pub const MEMORY: &str = "live_response/memory/";
    pub const MEMORY_PROCESSES: &str = "live_response/memory/processes.jsonl";
    pub const MEMORY_REGIONS: &str = "live_response/memory/regions.jsonl";
    /// What the responder's YARA rules matched.
    pub const YARA_HITS: &str = "live_response/yara/hits.jsonl";
    /// Copies of running executables: `<prefix><pid>_<name>`.
    pub const EXECUTABLE_COPIES: &str = "live_response/processes/executables/";
    pub const SOCKETS: &str = "live_response/network/sockets.jsonl";
    pub const LISTENING: &str = "live_response/network/listening.txt";
    pub const ESTABLISHED: &str = "live_response/network/established.txt";
    pub const INTERFACES: &str = "live_response/network/interfaces.json";
    pub const ROUTES: &str = "live_response/network/routes.json";
    pub const ARP: &str = "live_response/network/arp.json";
    /// The raw `/proc/net` files: `<prefix><netns label>/<file>`.
    pub const NET_PROC: &str = "live_response/network/proc/";
    pub const MOUNTS: &str = "live_response/mounts/mountinfo.jsonl";
    pub const MOUNTINFO_RAW: &str = "live_response/mounts/proc/mountinfo";
    pub const FILESYSTEMS: &str = "live_response/mounts/filesystems.json";
    pub const OVERLAY: &str = "live_response/mounts/overlay.json";
    pub const SYSTEM: &str = "live_response/system/system.json";
    pub const MODULES: &str = "live_response/system/modules.jsonl";
    pub const LOGINS: &str = "live_response/users/logins.jsonl";
    pub const LASTLOG: &str = "live_response/users/lastlog.jsonl";
    pub const LASTLOG_RAW: &str = "live_response/users/raw/lastlog";
    pub const DRIFT: &str = "live_response/drift/drift.jsonl";
    pub const DRIFT_SUMMARY: &str = "live_response/drift/summary.json";
    /// Copies of what changed since the image: `<prefix><path>`.
    pub const DRIFT_COPIES: &str = "live_response/drift/files";
}

/// Members read back by path from the copied files and outputs.
pub mod files {
    /// The bodyfile of the built-in `live/timeline` artifact.
    pub const BODYFILE: &str = "outputs/live/timeline/bodyfile.txt";
    pub const LD_SO_PRELOAD: &str = "files/etc/ld.so.preload";

    /// Where cron (and busybox crond, and anacron) read scheduled commands, under
    /// `files/`.
    pub fn is_cron(member: &str) -> bool {
        let Some(path) = member.strip_prefix("files") else {
            return false;
        };
        ["/etc/crontab", "/etc/anacrontab"].contains(&path)
            || [
                "/etc/cron.d/",
                "/etc/cron.hourly/",
                "/etc/cron.daily/",
                "/etc/cron.weekly/",
                "/etc/cron.monthly/",
                "/etc/crontabs/",
                "/etc/periodic/",
                "/var/spool/cron/",
            ]
            .iter()
            .any(|d| path.starts_with(d) && path.len() > d.len())
    }

    /// A shell history file, by its name under `files/`.
    pub fn is_history(member: &str) -> bool {
        let name = member.rsplit('/').next().unwrap_or(member);
        member.starts_with("files/")
            && (name.ends_with("_history") || name == "fish_history" || name == ".history")
    }
}

/// The members of the Kubernetes evidence archive (`NAME.k8s.tar.zst`), which the
/// launcher writes beside a collection's archive.
pub mod k8s {
    /// The pod, as the API server gave it.
    pub const POD: &str = "k8s/pod.json";
    /// The pod's events (an `EventList`).
    pub const EVENTS: &str = "k8s/events.json";
    /// The node the pod runs on.
    pub const NODE: &str = "k8s/node.json";
    pub const SERVICE_ACCOUNT: &str = "k8s/serviceaccount.json";
    /// [`crate::records::k8s::Rbac`].
    pub const RBAC: &str = "k8s/rbac.json";
    /// The owner chain: [`crate::records::k8s::Owner`]s.
    pub const OWNERS: &str = "k8s/owners.json";
    /// [`crate::records::k8s::References`].
    pub const REFERENCES: &str = "k8s/references.json";
    /// [`crate::records::k8s::NetworkPolicies`].
    pub const NETWORK_POLICIES: &str = "k8s/networkpolicies.json";
    /// Container logs: `logs/<container>.log`, `logs/<container>.previous.log`.
    pub const LOGS_DIR: &str = "logs/";

    /// A container log's member name.
    pub fn log(container: &str, previous: bool) -> String {
        let safe: String = container
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-._".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!(
            "{LOGS_DIR}{safe}{}",
            if previous { ".previous.log" } else { ".log" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_histories_are_known_by_name_under_files() {
        assert!(files::is_history("files/root/.ash_history"));
        assert!(files::is_history("files/home/ada/.bash_history"));
        assert!(files::is_history(
            "files/root/.local/share/fish/fish_history"
        ));
        assert!(!files::is_history("live_response/x_history"));
        assert!(!files::is_history("files/etc/passwd"));
    }

    #[test]
    fn manifest_parts_and_records_are_known_by_name() {
        assert!(is_manifest(manifest_part(3).as_bytes()));
        assert!(!is_manifest(b"files/manifest-1.jsonl"));
        assert!(is_record(b"summary.json") && !is_record(b"files/summary.json"));
        assert_eq!(k8s::log("a/b", true), "logs/a_b.previous.log");
    }
}
