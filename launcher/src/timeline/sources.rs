//! The members of an archive that hold times, each parsed as it streams past: the
//! bodyfile (`outputs/live/timeline/bodyfile.txt`), processes and their executables'
//! sha256, logins, drift, the manifest (the sha256 of each collected file) and the
//! summary; and from the Kubernetes evidence `k8s/pod.json` and `k8s/events.json`.
//! Lines that do not parse are counted and said, never fatal.

use super::{micros_of, Event, Timeline};
use crate::read::stream;
use crate::read::text;
use anyhow::Context;
use serde_json::Value;
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::rc::Rc;

/// The most bytes of one member read (a bodyfile of millions of files fits).
const MEMBER_LIMIT: u64 = 4 << 30;
/// The most bytes of a JSON document member (pod.json, events.json, summary.json).
const DOCUMENT_LIMIT: u64 = 64 << 20;

use crate::read::member::{BODYFILE, DRIFT, EXECUTABLES, LOGINS, PROCESSES, SUMMARY};

/// A file's bodyfile line, kept until the manifest and drift (later in the archive)
/// are known.
struct FileTimes {
    name: Rc<str>,
    mode: String,
    uid: String,
    size: String,
    /// (letter, seconds) of m, a, c, b that are set.
    times: Vec<(char, i64)>,
}

/// Reads one collection's archive into `t`.
pub fn archive(
    path: &Path,
    target: &Rc<str>,
    keep: super::Keep,
    t: &mut Timeline,
) -> anyhow::Result<()> {
    let events = keep == super::Keep::Events;
    let mut files: Vec<FileTimes> = Vec::new();
    let mut body_lines: Vec<String> = Vec::new();
    let mut exe_sha: HashMap<i64, Rc<str>> = HashMap::new();
    let mut processes: Vec<Value> = Vec::new();
    let mut drift: HashMap<String, String> = HashMap::new();
    let mut sha_of: HashMap<Rc<str>, Rc<str>> = HashMap::new();
    let mut malformed: HashMap<&'static str, u64> = HashMap::new();
    let mut cut = 0;
    stream::members(path, MEMBER_LIMIT, |name, r| {
        match name {
            BODYFILE => {
                cut += stream::lines(r, |l| {
                    let line = String::from_utf8_lossy(l).into_owned();
                    match bodyfile_line(&line) {
                        Some(f) if events => files.push(f),
                        Some(_) => body_lines.push(line),
                        None => *malformed.entry("bodyfile").or_default() += 1,
                    }
                })?;
            }
            _ if !events => {}
            PROCESSES => {
                cut += json_lines(r, "processes", &mut malformed, |v| processes.push(v))?;
            }
            EXECUTABLES => {
                cut += json_lines(r, "executables", &mut malformed, |v| {
                    if let (Some(pid), Some(sha)) = (v["pid"].as_i64(), v["sha256"].as_str()) {
                        exe_sha.insert(pid, Rc::from(sha));
                    }
                })?;
            }
            LOGINS => {
                cut += json_lines(r, "logins", &mut malformed, |v| login(&v, target, t))?;
            }
            DRIFT => {
                cut += json_lines(r, "drift", &mut malformed, |v| {
                    if let (Some(p), Some(c)) = (v["path"].as_str(), v["change"].as_str()) {
                        drift.insert(p.to_owned(), c.to_owned());
                    }
                })?;
            }
            SUMMARY => {
                if let Some(v) = document(r) {
                    collection(&v, target, t);
                }
            }
            n if cairn_collector::archive::is_manifest_name(n.as_bytes()) => {
                cut += json_lines(r, "manifest", &mut malformed, |v| {
                    if let (Some(src), Some(sha)) = (v["source"].as_str(), v["sha256"].as_str()) {
                        if v["status"] == "complete" {
                            sha_of.insert(Rc::from(src), Rc::from(sha));
                        }
                    }
                })?;
            }
            _ => {}
        }
        Ok(())
    })?;
    for p in &processes {
        process(p, &exe_sha, target, t);
    }
    for f in files {
        file_events(f, &drift, &sha_of, target, t);
    }
    if !body_lines.is_empty() {
        t.bodyfiles.push((target.clone(), body_lines));
    }
    for (what, n) in malformed {
        t.problems.push(format!(
            "{}: {n} malformed {what} line(s) left out",
            path.display()
        ));
    }
    if cut > 0 {
        t.problems.push(format!(
            "{}: {cut} line(s) longer than {} bytes left out",
            path.display(),
            stream::MAX_LINE
        ));
    }
    Ok(())
}

/// Parses the JSON lines of a member, counting those that do not parse.
fn json_lines(
    r: &mut dyn BufRead,
    what: &'static str,
    malformed: &mut HashMap<&'static str, u64>,
    mut f: impl FnMut(Value),
) -> std::io::Result<u64> {
    stream::lines(r, |l| match serde_json::from_slice::<Value>(l) {
        Ok(v) => f(v),
        Err(_) => *malformed.entry(what).or_default() += 1,
    })
}

/// A JSON document member, up to [`DOCUMENT_LIMIT`].
fn document(r: &mut dyn BufRead) -> Option<Value> {
    Some(crate::read::document(r, DOCUMENT_LIMIT)).filter(|v| !v.is_null())
}

/// `MD5|name|inode|mode|UID|GID|size|atime|mtime|ctime|crtime` (names have `|`
/// escaped, so there are exactly eleven fields).
fn bodyfile_line(line: &str) -> Option<FileTimes> {
    let f: Vec<&str> = line.split('|').collect();
    if f.len() != 11 {
        return None;
    }
    let secs = |s: &str| s.trim().parse::<i64>().ok();
    let mut times = Vec::new();
    for (letter, field) in [('m', f[8]), ('a', f[7]), ('c', f[9]), ('b', f[10])] {
        match secs(field)? {
            0 => {}
            s => times.push((letter, s)),
        }
    }
    Some(FileTimes {
        name: Rc::from(f[1]),
        mode: f[3].to_owned(),
        uid: f[4].to_owned(),
        size: f[6].to_owned(),
        times,
    })
}

/// The names of file times, as plaso and Timesketch name them.
fn time_name(letter: char) -> &'static str {
    match letter {
        'm' => "Content Modification Time",
        'a' => "Last Access Time",
        'c' => "Metadata Modification Time",
        _ => "Creation Time",
    }
}

/// One event per distinct time of a file, its letters together (`m.c.`).
fn file_events(
    f: FileTimes,
    drift: &HashMap<String, String>,
    sha_of: &HashMap<Rc<str>, Rc<str>>,
    target: &Rc<str>,
    t: &mut Timeline,
) {
    let mut distinct: Vec<i64> = f.times.iter().map(|(_, s)| *s).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let changed = drift.get(&*f.name);
    let sha = sha_of.get(&f.name).cloned();
    for s in distinct {
        let letters: Vec<char> = f
            .times
            .iter()
            .filter(|(_, x)| *x == s)
            .map(|(l, _)| *l)
            .collect();
        let macb: String = ['m', 'a', 'c', 'b']
            .iter()
            .map(|l| if letters.contains(l) { *l } else { '.' })
            .collect();
        let desc = letters
            .iter()
            .map(|l| time_name(*l))
            .collect::<Vec<_>>()
            .join("; ");
        let mut message = format!("{} ({}, uid {}, {} bytes)", f.name, f.mode, f.uid, f.size);
        if let Some(c) = changed {
            message.push_str(&format!("; drift: {c} since the image"));
        }
        t.events.push(Event {
            micros: s.saturating_mul(1_000_000),
            desc,
            message,
            target: target.clone(),
            source: "file",
            path: Some(f.name.clone()),
            pid: None,
            user: None,
            sha256: sha.clone(),
            macb: Some(macb),
        });
    }
}

/// A process's start.
fn process(p: &Value, exe_sha: &HashMap<i64, Rc<str>>, target: &Rc<str>, t: &mut Timeline) {
    let Some(micros) = p["start_time"].as_str().and_then(micros_of) else {
        return;
    };
    let pid = p["pid"].as_i64();
    let cmdline = match p["cmdline"].as_array() {
        Some(a) if !a.is_empty() => a.iter().map(text).collect::<Vec<_>>().join(" "),
        _ => format!("[{}]", text(&p["comm"])),
    };
    let exe = p["exe"].as_str().filter(|e| !e.is_empty());
    let deleted = if p["exe_deleted"] == true {
        " (deleted)"
    } else {
        ""
    };
    t.events.push(Event {
        micros,
        desc: "Process Start Time".into(),
        message: format!(
            "process {} started: {cmdline} (ppid {}, uid {}, exe {}{deleted})",
            pid.unwrap_or(-1),
            text(&p["ppid"]),
            text(&p["uid"]["real"]),
            exe.unwrap_or("?")
        ),
        target: target.clone(),
        source: "process",
        path: exe.map(Rc::from),
        pid,
        user: p["uid"]["real"].as_i64().map(|u| u.to_string()),
        sha256: pid.and_then(|p| exe_sha.get(&p).cloned()),
        macb: None,
    });
}

/// A login record (utmp, wtmp, btmp).
fn login(v: &Value, target: &Rc<str>, t: &mut Timeline) {
    let Some(micros) = v["time"].as_str().and_then(micros_of) else {
        return;
    };
    let file = text(&v["file"]);
    let kind = text(&v["type"]);
    let user = text(&v["user"]);
    let failed = file.ends_with("btmp");
    t.events.push(Event {
        micros,
        desc: if failed {
            "Failed Login Time"
        } else {
            "Login Record Time"
        }
        .into(),
        message: format!(
            "{kind} {user} on {} from {} (pid {}, {file})",
            text(&v["line"]),
            text(&v["host"]),
            text(&v["pid"])
        ),
        target: target.clone(),
        source: "login",
        path: Some(Rc::from(file.as_str())),
        pid: v["pid"].as_i64(),
        user: Some(user).filter(|u| !u.is_empty()),
        sha256: None,
        macb: None,
    });
}

/// The collection's start and end, from its summary.
fn collection(v: &Value, target: &Rc<str>, t: &mut Timeline) {
    for (key, what) in [("started", "started"), ("ended", "ended")] {
        if let Some(micros) = v[key].as_str().and_then(micros_of) {
            t.events.push(Event {
                micros,
                desc: "Collection Time".into(),
                message: format!("cairn collection {what} ({})", text(&v["root"])),
                target: target.clone(),
                source: "collection",
                path: None,
                pid: None,
                user: None,
                sha256: None,
                macb: None,
            });
        }
    }
}

/// Reads a Kubernetes evidence archive into `t`: the pod's lifecycle and its events.
pub fn kubernetes(path: &Path, target: &Rc<str>, t: &mut Timeline) -> anyhow::Result<()> {
    let mut pod = None;
    let mut events = None;
    stream::members(path, DOCUMENT_LIMIT, |name, r| {
        match name {
            "k8s/pod.json" => pod = document(r),
            "k8s/events.json" => events = document(r),
            _ => {}
        }
        Ok(())
    })
    .context("reading the Kubernetes evidence")?;
    let mut push = |micros: Option<i64>, desc: &str, message: String| {
        if let Some(micros) = micros {
            t.events.push(Event {
                micros,
                desc: desc.into(),
                message,
                target: target.clone(),
                source: "kubernetes",
                path: None,
                pid: None,
                user: None,
                sha256: None,
                macb: None,
            });
        }
    };
    let at = |v: &Value| v.as_str().and_then(micros_of);
    if let Some(p) = &pod {
        let name = text(&p["metadata"]["name"]);
        push(
            at(&p["metadata"]["creationTimestamp"]),
            "Creation Time",
            format!("pod {name} created"),
        );
        push(
            at(&p["status"]["startTime"]),
            "Start Time",
            format!(
                "pod {name} taken by the kubelet on node {}",
                text(&p["spec"]["nodeName"])
            ),
        );
        for s in [
            "initContainerStatuses",
            "containerStatuses",
            "ephemeralContainerStatuses",
        ]
        .iter()
        .flat_map(|k| p["status"][k].as_array().cloned().unwrap_or_default())
        {
            let c = text(&s["name"]);
            let running = &s["state"]["running"];
            push(
                at(&running["startedAt"]),
                "Start Time",
                format!(
                    "container {c} started (image {}, restarts {})",
                    text(&s["image"]),
                    text(&s["restartCount"])
                ),
            );
            for (state, when) in [
                (&s["lastState"]["terminated"], "previous run"),
                (&s["state"]["terminated"], "run"),
            ] {
                push(
                    at(&state["startedAt"]),
                    "Start Time",
                    format!("container {c} {when} started"),
                );
                push(
                    at(&state["finishedAt"]),
                    "End Time",
                    format!(
                        "container {c} {when} ended: exit code {}, {} {}",
                        text(&state["exitCode"]),
                        text(&state["reason"]),
                        text(&state["message"])
                    )
                    .trim_end()
                    .to_owned(),
                );
            }
        }
    }
    for e in events
        .as_ref()
        .and_then(|v| v["items"].as_array())
        .cloned()
        .unwrap_or_default()
    {
        let when = ["eventTime", "lastTimestamp", "firstTimestamp"]
            .iter()
            .find_map(|k| at(&e[k]))
            .or_else(|| at(&e["metadata"]["creationTimestamp"]));
        push(
            when,
            "Event Time",
            format!(
                "event {} {}: {} (x{}, {} {})",
                text(&e["type"]),
                text(&e["reason"]),
                text(&e["message"]),
                e["count"].as_i64().unwrap_or(1),
                text(&e["involvedObject"]["kind"]),
                text(&e["involvedObject"]["name"])
            ),
        );
    }
    Ok(())
}
