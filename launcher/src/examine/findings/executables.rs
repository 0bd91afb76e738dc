//! Rules on what runs: executables deleted from disk, run from a place anyone may write
//! or from memory only, and secrets in processes' environments. The collector's own
//! processes are never a finding.

use super::{ev, Evidence, Finding, Severity};
use crate::examine::facts::{Check, Facts};
use cairn_archive::member::live::{EXECUTABLES, PROCESSES};
use std::collections::HashSet;

/// The collector's own processes.
fn collector_pids(f: &Facts) -> HashSet<i32> {
    f.executables
        .iter()
        .filter(|e| e.collector)
        .map(|e| e.pid)
        .collect()
}

/// A record's sha256 (what the collector wrote; bounded with the record it is in).
fn sha(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

/// A running process whose executable was deleted from disk: what an attacker's
/// dropper does after starting its payload.
pub fn deleted(f: &Facts, out: &mut Vec<Finding>) {
    let own = collector_pids(f);
    for e in f
        .executables
        .iter()
        .filter(|e| e.deleted && !own.contains(&e.pid))
    {
        let mut evidence = vec![ev(f, EXECUTABLES, format!("pid {}", e.pid))];
        if let Some(copy) = &e.copy {
            evidence.push(Evidence {
                member: copy.clone(),
                sha256: sha(&e.sha256).to_owned(),
                check: f
                    .members
                    .get(copy)
                    .map_or(Check::Unlisted, |m| m.check.clone()),
                at: "the executable, copied from /proc/PID/exe".into(),
                ..ev(f, copy, String::new())
            });
        }
        out.push(Finding {
            severity: Severity::High,
            rule: "deleted-executable",
            sentence: format!(
                "process {} ({}) runs {}, which was deleted from disk{} (sha256 {})",
                e.pid,
                e.comm,
                e.exe,
                if e.world_writable_place {
                    ", from a place anyone may write"
                } else {
                    ""
                },
                sha(&e.sha256)
            ),
            evidence,
        });
    }
}

/// A running process whose executable is in a world-writable place (/tmp, /var/tmp,
/// /dev/shm, a user's home) or in memory only (memfd).
pub fn writable_place(f: &Facts, out: &mut Vec<Finding>) {
    let own = collector_pids(f);
    for e in &f.executables {
        let memfd = e.exe.starts_with("/memfd:");
        if own.contains(&e.pid) || e.deleted && !memfd {
            continue;
        }
        if !e.world_writable_place && !memfd {
            continue;
        }
        out.push(Finding {
            severity: Severity::High,
            rule: "writable-place-executable",
            sentence: format!(
                "process {} ({}) runs {}, {} (sha256 {})",
                e.pid,
                e.comm,
                e.exe,
                if memfd {
                    "from memory only (memfd)"
                } else {
                    "from a place anyone may write"
                },
                sha(&e.sha256)
            ),
            evidence: vec![ev(f, EXECUTABLES, format!("pid {}", e.pid))],
        });
    }
}

/// Processes whose environment holds secrets (names only; the collector redacted the
/// values).
pub fn secrets_in_environment(f: &Facts, out: &mut Vec<Finding>) {
    for p in &f.processes {
        let names = p.environ_redacted.as_deref().unwrap_or_default();
        if names.is_empty() {
            continue;
        }
        out.push(Finding {
            severity: Severity::Info,
            rule: "secret-in-environment",
            sentence: format!(
                "process {} ({})'s environment holds secrets an intruder in it could read: {} (values redacted in the archive)",
                p.pid,
                p.comm(),
                names.join(", ")
            ),
            evidence: vec![ev(f, PROCESSES, format!("pid {}", p.pid))],
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::{all, facts, typed};
    use serde_json::json;

    #[test]
    fn a_deleted_or_memfd_or_tmp_executable_is_high_and_the_collector_never_is() {
        let mut f = facts();
        f.executables = typed(vec![
            json!({"pid": 7, "comm": "kworkerd", "exe": "/tmp/.x/kworkerd", "deleted": true, "world_writable_place": true, "sha256": "aa", "copy": "live_response/processes/executables/7_kworkerd"}),
            json!({"pid": 8, "comm": "m", "exe": "/memfd:payload", "deleted": true, "sha256": "bb"}),
            json!({"pid": 9, "comm": "miner", "exe": "/dev/shm/miner", "world_writable_place": true, "sha256": "cc"}),
            json!({"pid": 10, "comm": "cairn-collector", "exe": "/dev/shm/c", "deleted": true, "world_writable_place": true, "collector": true}),
            json!({"pid": 11, "comm": "nginx", "exe": "/usr/sbin/nginx"}),
        ]);
        let found = all(&f);
        let rules: Vec<(&str, String)> =
            found.iter().map(|x| (x.rule, x.sentence.clone())).collect();
        assert_eq!(found.len(), 4, "{rules:#?}");
        assert!(rules
            .iter()
            .any(|(r, s)| *r == "deleted-executable" && s.contains("/tmp/.x/kworkerd")));
        assert!(rules
            .iter()
            .any(|(r, s)| *r == "writable-place-executable" && s.contains("memfd")));
        assert!(rules
            .iter()
            .any(|(r, s)| *r == "writable-place-executable" && s.contains("/dev/shm/miner")));
        assert!(found
            .iter()
            .all(|x| !x.sentence.contains("cairn-collector")));
        let copy = &found
            .iter()
            .find(|x| x.rule == "deleted-executable")
            .unwrap()
            .evidence[1];
        assert_eq!(
            copy.member,
            "live_response/processes/executables/7_kworkerd"
        );
        assert_eq!(copy.sha256, "aa");
    }
}
