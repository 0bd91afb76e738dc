//! The sections of a collection's page that show what the collector found: who and
//! what was collected (identity), the process tree, sockets, mounts, logins and drift.
//! Each value goes through `esc`; each table shows at most `MAX_ROWS` rows.

use super::{esc, row, short, table_end, table_head, MAX_ROWS};
use crate::examine::facts::Facts;
use cairn_archive::records::process::Process;
use cairn_archive::records::summary::Summary;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

/// The most characters of a command line shown.
const MAX_COMMAND: usize = 400;

/// The first of `values` that is not empty.
fn first(values: &[Option<&str>]) -> String {
    values
        .iter()
        .flatten()
        .find(|v| !v.is_empty())
        .map(|v| (*v).to_owned())
        .unwrap_or_default()
}

/// The identity table: the pod, its image and node, the container, the collection's
/// times, route, root, case and completeness.
pub fn identity(o: &mut String, f: &Facts) {
    let pod = f.pod.as_ref();
    let spec = pod.and_then(|p| p.spec.as_ref());
    let sys = f.system.as_ref();
    let k = sys.map(|s| &s.kubernetes);
    let claims = k
        .and_then(|k| k.service_account_token.as_ref())
        .and_then(|t| t.claims());
    let s = f.summary.as_ref();
    let mut rows: Vec<(&str, String)> = vec![
        ("namespace / pod", {
            let (namespace, pod) = namespace_and_pod(f);
            format!("{namespace} / {pod}")
        }),
        (
            "image",
            first(&[spec
                .and_then(|s| s.containers.items.first())
                .and_then(|c| c.image.as_deref())]),
        ),
        ("node", first(&[spec.and_then(|s| s.node_name.as_deref())])),
        (
            "service account",
            first(&[
                spec.and_then(|s| s.service_account_name.as_deref()),
                claims.and_then(|c| c.sub.as_deref()),
            ]),
        ),
        (
            "token claims",
            claims
                .and_then(|c| serde_json::to_string(c).ok())
                .unwrap_or_default(),
        ),
        (
            "container",
            sys.and_then(|s| s.container.as_ref())
                .map(|c| {
                    format!(
                        "{} {}",
                        c.runtime.as_deref().unwrap_or(""),
                        c.id.as_deref().unwrap_or("")
                    )
                })
                .unwrap_or_default(),
        ),
        (
            "hostname",
            first(&[sys.and_then(|s| s.hostname.as_deref())]),
        ),
    ];
    if let Some(s) = s {
        rows.extend(collection_rows(s));
    }
    rows.retain(|(_, v)| !v.trim().is_empty() && v.trim() != "/");
    o.push_str("<table class=\"ident\">");
    for (k, v) in rows {
        let _ = write!(
            o,
            "<tr><td>{k}</td><td class=\"mono\">{}</td></tr>",
            esc(&v)
        );
    }
    o.push_str("</table>");
}

/// The identity rows the collection's own summary gives.
fn collection_rows(s: &Summary) -> Vec<(&'static str, String)> {
    vec![
        ("collected", format!("{} to {}", s.started, s.ended)),
        ("route", route_of(s)),
        ("root", s.root.clone()),
        (
            "case",
            format!(
                "{} {}",
                s.case.id.as_deref().unwrap_or(""),
                s.case.examiner.as_deref().unwrap_or("")
            ),
        ),
        (
            "complete",
            if s.seal.complete {
                "yes".into()
            } else {
                format!(
                    "no: {}",
                    serde_json::to_string(&s.seal.cut_short).unwrap_or_default()
                )
            },
        ),
    ]
}

/// The namespace and the pod, as the evidence gives them: the pod's own record first,
/// then what the collector saw from inside.
fn namespace_and_pod(f: &Facts) -> (String, String) {
    let meta = f.pod.as_ref().map(|p| &p.metadata);
    let k = f.system.as_ref().map(|s| &s.kubernetes);
    (
        first(&[
            meta.and_then(|m| m.namespace.as_deref()),
            k.and_then(|k| k.namespace.as_deref()),
        ]),
        first(&[
            meta.and_then(|m| m.name.as_deref()),
            k.and_then(|k| k.pod_name_from_hostname.as_deref()),
        ]),
    )
}

/// `namespace/pod/container`, for the index (the container from the archive's name,
/// `NS_POD_CONTAINER_UTC`), or `-` for a collection of no pod (a host, a tree offline).
pub fn target_of(f: &Facts) -> String {
    let (namespace, pod) = namespace_and_pod(f);
    if namespace.is_empty() && pod.is_empty() {
        return "-".into();
    }
    let container = f
        .collection
        .name
        .rsplit_once('_')
        .and_then(|(rest, _)| rest.rsplit('_').next())
        .unwrap_or("");
    format!("{namespace}/{pod}/{container}")
}

/// The route in a word or two, for the index: live (inside the target: exec, or run by
/// hand), node, ephemeral/sidecar, offline.
pub fn route_word(f: &Facts) -> &'static str {
    let Some(s) = f.summary.as_ref() else {
        return "-";
    };
    let i = &s.options.invocation;
    if i.node_root.is_some() {
        "node"
    } else if i.target_pid.is_some() {
        "ephemeral/sidecar"
    } else if i.root.is_empty() || i.root == "/" {
        "live"
    } else {
        "offline"
    }
}

/// How the collector reached the target, from its invocation.
fn route_of(s: &Summary) -> String {
    let i = &s.options.invocation;
    if i.node_root.is_some() {
        format!(
            "from the node's disk (the container rebuilt from its layers: {})",
            i.container.as_ref().map_or("", |c| c.id.as_str())
        )
    } else if let Some(pid) = i.target_pid {
        format!("from another container of the pod, through /proc/{pid}/root (ephemeral container or sidecar)")
    } else if !i.root.is_empty() && i.root != "/" {
        format!("an offline tree ({})", i.root)
    } else if !i.root.is_empty() {
        "inside the container or system, live".into()
    } else {
        String::new()
    }
}

/// A process's command line as shown: its arguments, or `[comm]`, cut to
/// [`MAX_COMMAND`] characters.
fn command(p: &Process) -> String {
    let mut cmd = p.cmdline.join(" ");
    if cmd.is_empty() {
        cmd = format!("[{}]", p.comm());
    }
    let chars = cmd.chars().count();
    if chars > MAX_COMMAND {
        cmd = format!(
            "{}… ({chars} characters; the archive holds all)",
            cmd.chars().take(MAX_COMMAND).collect::<String>()
        );
    }
    cmd
}

/// cairn's own processes, as the collector marks them in `tree.txt`: the collector
/// (`collector: true` in executables.jsonl), the bootstrap shells above it
/// (`sh -c SCRIPT cairn-bootstrap ...`) and all they started. Only ancestry from the
/// collector counts, so a process that merely calls itself `cairn-bootstrap` is shown.
fn own(f: &Facts) -> HashSet<i32> {
    let mut mine = HashSet::new();
    let Some(me) = f.executables.iter().find(|e| e.collector).map(|e| e.pid) else {
        return mine;
    };
    let by_pid: HashMap<i32, &Process> = f.processes.iter().map(|p| (p.pid, p)).collect();
    let bootstrap = |p: &Process| {
        p.cmdline
            .windows(3)
            .any(|w| w[0] == "-c" && w[2] == "cairn-bootstrap")
    };
    mine.insert(me);
    let (mut at, mut top) = (me, None);
    for _ in 0..f.processes.len() {
        let Some(parent) = by_pid
            .get(&at)
            .and_then(|p| p.ppid())
            .and_then(|pp| by_pid.get(&pp))
        else {
            break;
        };
        if !bootstrap(parent) || parent.pid == at {
            break;
        }
        top = Some(parent.pid);
        at = parent.pid;
    }
    // Down from the outermost bootstrap shell: all it started is cairn's.
    let mut stack: Vec<i32> = top.into_iter().collect();
    while let Some(pid) = stack.pop() {
        mine.insert(pid);
        let started = f.processes.iter().filter(|p| p.ppid() == Some(pid));
        stack.extend(started.map(|p| p.pid).filter(|c| !mine.contains(c)));
    }
    mine
}

/// The process tree, depth first, each with its executable's sha256; cairn's own
/// processes folded into one marked line at its end.
pub fn processes(o: &mut String, f: &Facts) {
    let mine = own(f);
    let exe: HashMap<i32, &str> = f
        .executables
        .iter()
        .map(|e| (e.pid, e.sha256.as_deref().unwrap_or("")))
        .collect();
    let pids: HashSet<i32> = f.processes.iter().map(|p| p.pid).collect();
    let mut children: BTreeMap<i32, Vec<&Process>> = BTreeMap::new();
    for p in &f.processes {
        let ppid = p.ppid().unwrap_or(0);
        let parent = if pids.contains(&ppid) && ppid != p.pid {
            ppid
        } else {
            0
        };
        children.entry(parent).or_default().push(p);
    }
    let fold = table_head(
        o,
        "processes",
        "Process tree",
        f.processes.len(),
        &["pid", "user", "started", "command", "executable", "sha256"],
    );
    let mut shown = 0;
    let mut stack: Vec<(&Process, usize)> = children
        .get(&0)
        .map(|c| c.iter().rev().map(|p| (*p, 0)).collect())
        .unwrap_or_default();
    let mut seen = HashSet::new();
    while let Some((p, depth)) = stack.pop() {
        if mine.contains(&p.pid) || !seen.insert(p.pid) || shown >= MAX_ROWS {
            continue;
        }
        shown += 1;
        let sha = exe.get(&p.pid).copied().unwrap_or("");
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}{}</td><td class=\"mono\">{}{}</td><td class=\"mono\" title=\"{}\">{}</td></tr>",
            p.pid,
            p.uid().map(|u| u.to_string()).unwrap_or_default(),
            esc(p.start_time().unwrap_or("")),
            "&nbsp;&nbsp;".repeat(depth.min(20)),
            esc(&command(p)),
            esc(p.exe.as_deref().unwrap_or("")),
            if p.deleted() { " <span class=\"deleted\">(deleted)</span>" } else { "" },
            esc(sha),
            esc(&short(sha))
        );
        if let Some(c) = children.get(&p.pid) {
            for child in c.iter().rev() {
                stack.push((child, depth + 1));
            }
        }
    }
    if !mine.is_empty() {
        let mut pids: Vec<i32> = mine.iter().copied().collect();
        pids.sort_unstable();
        let list: Vec<String> = pids.iter().map(i32::to_string).collect();
        let _ = write!(
            o,
            "<tr class=\"own\"><td colspan=\"6\" class=\"muted\">cairn's own processes, folded: the bootstrap and the collector ({} process(es), PIDs {}; the archive holds them)</td></tr>",
            pids.len(),
            esc(&list.join(", "))
        );
    }
    table_end(o, fold);
}

/// Internet sockets (unix sockets are in the archive).
pub fn sockets(o: &mut String, f: &Facts) {
    let inet: Vec<_> = f.sockets.iter().filter(|s| !s.is_unix()).collect();
    let fold = table_head(
        o,
        "sockets",
        "Sockets",
        inet.len(),
        &["proto", "local", "remote", "state", "processes"],
    );
    let port = |p: Option<u16>| p.map(|p| p.to_string()).unwrap_or_default();
    for s in inet.iter().take(MAX_ROWS) {
        let procs: Vec<String> = s
            .processes
            .iter()
            .map(|p| format!("{}/{}", p.pid, p.comm.as_deref().unwrap_or("")))
            .collect();
        row(
            o,
            &[
                s.proto.clone(),
                format!(
                    "{}:{}",
                    s.local_address.as_deref().unwrap_or(""),
                    port(s.local_port)
                ),
                format!(
                    "{}:{}",
                    s.remote_address.as_deref().unwrap_or(""),
                    port(s.remote_port)
                ),
                s.state.clone(),
                procs.join(", "),
            ],
        );
    }
    table_end(o, fold);
}

pub fn mounts(o: &mut String, f: &Facts) {
    let fold = table_head(
        o,
        "mounts",
        "Mounts",
        f.mounts.len(),
        &["mount point", "type", "source", "options"],
    );
    for m in f.mounts.iter().take(MAX_ROWS) {
        row(
            o,
            &[
                m.mount_point.clone(),
                m.fstype.clone(),
                m.source.clone(),
                m.options.clone(),
            ],
        );
    }
    table_end(o, fold);
}

pub fn logins(o: &mut String, f: &Facts) {
    let fold = table_head(
        o,
        "logins",
        "Logins",
        f.logins.len(),
        &["time", "type", "user", "line", "host", "file"],
    );
    for l in f.logins.iter().take(MAX_ROWS) {
        row(
            o,
            &[
                l.time.clone(),
                l.record_type.clone(),
                l.user.clone(),
                l.line.clone(),
                l.host.clone(),
                l.file.clone(),
            ],
        );
    }
    table_end(o, fold);
}

pub fn drift(o: &mut String, f: &Facts) {
    let fold = table_head(
        o,
        "drift",
        "Changed since the image (drift)",
        f.drift.len(),
        &["change", "path", "type", "mode", "sha256"],
    );
    for d in f.drift.iter().take(MAX_ROWS) {
        let mode = f.modes.get(&d.path).cloned().unwrap_or_default();
        row(
            o,
            &[
                d.change.clone(),
                d.path.clone(),
                d.kind.as_str().to_owned(),
                mode,
                d.sha256.clone().unwrap_or_default(),
            ],
        );
    }
    if f.drift.is_empty() {
        o.push_str("<tr><td colspan=\"5\" class=\"muted\">None in this archive (drift is computed on the node route, from the image's layers).</td></tr>");
    }
    table_end(o, fold);
}
