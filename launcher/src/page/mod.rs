//! `cairn report`'s pages: one self-contained HTML file per collection (findings
//! first, each linked to the evidence it rests on; then the identity, the process
//! tree, sockets, mounts, logins, drift, the Kubernetes evidence and the collection's
//! own record) and, for several, an `index.html` with one row per collection.
//!
//! Everything shown came from a hostile target, so every value goes through [`esc`]
//! (HTML's five special characters as entities, control and bidirectional characters
//! as visible `\xHH`), is only ever placed in element text or a quoted attribute, and
//! each page carries a Content-Security-Policy that allows no script but the index's
//! own sorting code (by its hash), no image, no fetch of any kind: a page opens offline
//! and from an evidence share, and a name that escaped escaping still could not run.

use crate::findings::facts::Facts;
use crate::findings::{Evidence, Finding, Severity};
use crate::read::text;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// The most rows of a table shown (the archive holds them all).
pub const MAX_ROWS: usize = 5_000;
/// The most characters of a command line shown.
const MAX_COMMAND: usize = 400;

/// Escapes text for HTML element text and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if cairn_protocol::bounded::is_unsafe_char(c) => {
                let mut b = [0u8; 4];
                for byte in c.encode_utf8(&mut b).bytes() {
                    let _ = write!(out, "\\x{byte:02x}");
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The first 12 characters of a hash, for a table (the full one in its title and in
/// the evidence).
fn short(sha: &str) -> String {
    if sha.len() > 12 {
        format!(
            "{}…",
            &sha[..sha.char_indices().nth(12).map_or(sha.len(), |(i, _)| i)]
        )
    } else {
        sha.to_owned()
    }
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1300px;padding:1em 2em;color:#1d1d1f}\
h1{font-size:1.5em;margin:.2em 0}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}\
table{border-collapse:collapse;width:100%;font-size:13px}td,th{border-bottom:1px solid #eee;padding:3px 6px;text-align:left;vertical-align:top}\
th{background:#f5f5f7;cursor:default}code,.mono{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}\
.sev{display:inline-block;min-width:4.5em;font-weight:600;text-transform:uppercase;font-size:11px}\
.high .sev{color:#b00020}.medium .sev{color:#a15c00}.info .sev{color:#555}\
ol.findings li{margin:.35em 0}.ev{font-size:12px;color:#555}.deleted{color:#b00020;font-weight:600}\
.muted{color:#777}pre.log{background:#f7f7f7;padding:.5em;max-height:30em;overflow:auto;white-space:pre-wrap}.ident td:first-child{width:14em;color:#555}a{color:#0645ad}";

/// The Content-Security-Policy of a page: nothing but inline style, and the scripts
/// whose sha256 are given.
fn csp(scripts: &[&str]) -> String {
    use base64::Engine as _;
    use sha2::Digest;
    let hashes: Vec<String> = scripts
        .iter()
        .map(|s| {
            format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD
                    .encode(sha2::Sha256::digest(s.as_bytes()))
            )
        })
        .collect();
    let script = if hashes.is_empty() {
        "'none'".to_owned()
    } else {
        hashes.join(" ")
    };
    format!("default-src 'none'; style-src 'unsafe-inline'; script-src {script}; img-src 'none'; form-action 'none'; base-uri 'none'")
}

fn head(out: &mut String, title: &str, scripts: &[&str]) {
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\
<meta name=\"referrer\" content=\"no-referrer\"><title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(&csp(scripts)),
        esc(title)
    );
}

/// Numbers the evidence of the findings, once each, for links.
struct Anchors {
    ids: HashMap<(String, String), usize>,
    list: Vec<Evidence>,
}

impl Anchors {
    fn id(&mut self, e: &Evidence) -> usize {
        let key = (e.archive.clone(), e.member.clone());
        if let Some(i) = self.ids.get(&key) {
            return *i;
        }
        let i = self.list.len() + 1;
        self.ids.insert(key, i);
        self.list.push(e.clone());
        i
    }
}

/// The page of one collection.
pub fn collection(f: &Facts, findings: &[Finding]) -> String {
    let mut o = String::new();
    let name = &f.collection.name;
    head(&mut o, &format!("cairn report: {name}"), &[]);
    let _ = write!(
        o,
        "<header><p class=\"muted\">cairn report, written {}</p><h1>{}</h1>",
        esc(&cairn_collector::units::now_rfc3339()),
        esc(name)
    );
    identity(&mut o, f);
    o.push_str("</header>\n");
    let mut anchors = Anchors {
        ids: HashMap::new(),
        list: Vec::new(),
    };
    let count = |s: Severity| findings.iter().filter(|x| x.severity == s).count();
    let _ = write!(
        o,
        "<section id=\"findings\"><h2>Findings: {} high, {} medium, {} info</h2>",
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Info)
    );
    if findings.is_empty() {
        o.push_str("<p>No rule matched. The sections below hold what was collected.</p>");
    } else {
        o.push_str("<ol class=\"findings\">");
        for x in findings {
            let _ = write!(
                o,
                "<li class=\"{}\" data-rule=\"{}\"><span class=\"sev\">{}</span> {} <span class=\"ev\">",
                x.severity.name(),
                x.rule,
                x.severity.name(),
                esc(&x.sentence)
            );
            for e in &x.evidence {
                let id = anchors.id(e);
                let _ = write!(
                    o,
                    "[<a class=\"evidence\" href=\"#ev-{id}\">{}{}</a>] ",
                    esc(&e.member),
                    if e.at.is_empty() {
                        String::new()
                    } else {
                        format!(", {}", esc(&e.at))
                    }
                );
            }
            let _ = write!(o, "<span class=\"muted\">({})</span></span></li>", x.rule);
        }
        o.push_str("</ol>");
    }
    o.push_str("</section>\n");
    processes(&mut o, f);
    sockets(&mut o, f);
    mounts(&mut o, f);
    logins(&mut o, f);
    drift(&mut o, f);
    kubernetes(&mut o, f);
    record(&mut o, f);
    o.push_str("<section id=\"evidence\"><h2>Evidence</h2><p>Each finding rests on a member of an archive; its sha256 was computed as the member was read, and equals the manifest's.</p><table><tr><th>#</th><th>archive</th><th>member</th><th>sha256</th></tr>");
    for (i, e) in anchors.list.iter().enumerate() {
        let _ = write!(
            o,
            "<tr id=\"ev-{}\"><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
            i + 1,
            i + 1,
            esc(&e.archive),
            esc(&e.member),
            esc(&e.sha256)
        );
    }
    o.push_str("</table></section></body></html>\n");
    o
}

fn row(o: &mut String, cells: &[String]) {
    o.push_str("<tr>");
    for c in cells {
        let _ = write!(o, "<td>{}</td>", esc(c));
    }
    o.push_str("</tr>");
}

fn table_head(o: &mut String, id: &str, title: &str, n: usize, columns: &[&str]) {
    let _ = write!(o, "<section id=\"{id}\"><h2>{title} ({n})</h2>");
    if n > MAX_ROWS {
        let _ = write!(
            o,
            "<p class=\"muted\">The first {MAX_ROWS} are shown; the archive holds all.</p>"
        );
    }
    o.push_str("<table><tr>");
    for c in columns {
        let _ = write!(o, "<th>{c}</th>");
    }
    o.push_str("</tr>");
}

fn identity(o: &mut String, f: &Facts) {
    let s = &f.summary;
    let sys = &f.system;
    let k = &sys["kubernetes"];
    let pod = &f.pod;
    let claims = &k["service_account_token"]["claims"];
    let mut rows: Vec<(&str, String)> = vec![
        (
            "namespace / pod",
            format!(
                "{} / {}",
                text(&pod["metadata"]["namespace"]).if_empty(text(&k["namespace"])),
                text(&pod["metadata"]["name"]).if_empty(text(&k["pod_name_from_hostname"]))
            ),
        ),
        ("image", text(&pod["spec"]["containers"][0]["image"])),
        ("node", text(&pod["spec"]["nodeName"])),
        (
            "service account",
            text(&pod["spec"]["serviceAccountName"]).if_empty(text(&claims["sub"])),
        ),
        (
            "token claims",
            if claims.is_null() {
                String::new()
            } else {
                claims.to_string()
            },
        ),
        (
            "container",
            format!(
                "{} {}",
                text(&sys["container"]["runtime"]),
                text(&sys["container"]["id"])
            ),
        ),
        ("hostname", text(&sys["hostname"])),
        (
            "collected",
            format!("{} to {}", text(&s["started"]), text(&s["ended"])),
        ),
        ("route", route_of(s)),
        ("root", text(&s["root"])),
        (
            "case",
            format!(
                "{} {}",
                text(&s["case"]["id"]),
                text(&s["case"]["examiner"])
            ),
        ),
        (
            "complete",
            match s["complete"].as_bool() {
                Some(true) => "yes".into(),
                Some(false) => format!("no: {}", text(&s["cut_short"])),
                None => String::new(),
            },
        ),
    ];
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

/// How the collector reached the target, from its invocation.
fn route_of(s: &Value) -> String {
    let i = &s["invocation"];
    if i["node_root"].is_string() {
        format!(
            "from the node's disk (the container rebuilt from its layers: {})",
            text(&i["container"]["id"])
        )
    } else if !i["target_pid"].is_null() {
        format!("from another container of the pod, through /proc/{}/root (ephemeral container or sidecar)", text(&i["target_pid"]))
    } else if i.is_object() && text(&i["root"]) != "/" {
        format!("an offline tree ({})", text(&i["root"]))
    } else if i.is_object() {
        "inside the container or system, live".into()
    } else {
        String::new()
    }
}

trait IfEmpty {
    fn if_empty(self, other: String) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, other: String) -> String {
        if self.is_empty() {
            other
        } else {
            self
        }
    }
}

fn processes(o: &mut String, f: &Facts) {
    let exe: HashMap<i64, &Value> = f
        .executables
        .iter()
        .filter_map(|e| Some((e["pid"].as_i64()?, e)))
        .collect();
    let mut children: BTreeMap<i64, Vec<&Value>> = BTreeMap::new();
    let pids: std::collections::HashSet<i64> = f
        .processes
        .iter()
        .filter_map(|p| p["pid"].as_i64())
        .collect();
    for p in &f.processes {
        let ppid = p["ppid"].as_i64().unwrap_or(0);
        let parent = if pids.contains(&ppid) && ppid != p["pid"].as_i64().unwrap_or(0) {
            ppid
        } else {
            0
        };
        children.entry(parent).or_default().push(p);
    }
    table_head(
        o,
        "processes",
        "Process tree",
        f.processes.len(),
        &["pid", "user", "started", "command", "executable", "sha256"],
    );
    let mut shown = 0;
    let mut stack: Vec<(&Value, usize)> = children
        .get(&0)
        .map(|c| c.iter().rev().map(|p| (*p, 0)).collect())
        .unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    while let Some((p, depth)) = stack.pop() {
        let pid = p["pid"].as_i64().unwrap_or(0);
        if !seen.insert(pid) || shown >= MAX_ROWS {
            continue;
        }
        shown += 1;
        let mut cmd = p["cmdline"]
            .as_array()
            .map(|a| a.iter().map(text).collect::<Vec<_>>().join(" "))
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| format!("[{}]", text(&p["comm"])));
        let chars = cmd.chars().count();
        if chars > MAX_COMMAND {
            cmd = format!(
                "{}… ({chars} characters; the archive holds all)",
                cmd.chars().take(MAX_COMMAND).collect::<String>()
            );
        }
        let deleted = p["exe_deleted"] == true;
        let sha = exe
            .get(&pid)
            .map(|e| text(&e["sha256"]))
            .unwrap_or_default();
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}{}</td><td class=\"mono\">{}{}</td><td class=\"mono\" title=\"{}\">{}</td></tr>",
            pid,
            esc(&text(&p["uid"]["real"])),
            esc(&text(&p["start_time"])),
            "&nbsp;&nbsp;".repeat(depth.min(20)),
            esc(&cmd),
            esc(&text(&p["exe"])),
            if deleted { " <span class=\"deleted\">(deleted)</span>" } else { "" },
            esc(&sha),
            esc(&short(&sha))
        );
        if let Some(c) = children.get(&pid) {
            for child in c.iter().rev() {
                stack.push((child, depth + 1));
            }
        }
    }
    o.push_str("</table></section>\n");
}

fn sockets(o: &mut String, f: &Facts) {
    let inet: Vec<&Value> = f
        .sockets
        .iter()
        .filter(|s| s["proto"].is_string())
        .collect();
    table_head(
        o,
        "sockets",
        "Sockets",
        inet.len(),
        &["proto", "local", "remote", "state", "processes"],
    );
    for s in inet.iter().take(MAX_ROWS) {
        let procs: Vec<String> = s["processes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|p| format!("{}/{}", text(&p["pid"]), text(&p["comm"])))
                    .collect()
            })
            .unwrap_or_default();
        row(
            o,
            &[
                text(&s["proto"]),
                format!("{}:{}", text(&s["local_address"]), text(&s["local_port"])),
                format!("{}:{}", text(&s["remote_address"]), text(&s["remote_port"])),
                text(&s["state"]),
                procs.join(", "),
            ],
        );
    }
    o.push_str("</table></section>\n");
}

fn mounts(o: &mut String, f: &Facts) {
    table_head(
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
                text(&m["mount_point"]),
                text(&m["fstype"]),
                text(&m["source"]),
                text(&m["options"]),
            ],
        );
    }
    o.push_str("</table></section>\n");
}

fn logins(o: &mut String, f: &Facts) {
    table_head(
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
                text(&l["time"]),
                text(&l["type"]),
                text(&l["user"]),
                text(&l["line"]),
                text(&l["host"]),
                text(&l["file"]),
            ],
        );
    }
    o.push_str("</table></section>\n");
}

fn drift(o: &mut String, f: &Facts) {
    table_head(
        o,
        "drift",
        "Changed since the image (drift)",
        f.drift.len(),
        &["change", "path", "type", "mode", "sha256"],
    );
    for d in f.drift.iter().take(MAX_ROWS) {
        let path = text(&d["path"]);
        let mode = f.modes.get(&path).cloned().unwrap_or_default();
        row(
            o,
            &[
                text(&d["change"]),
                path,
                text(&d["type"]),
                mode,
                text(&d["sha256"]),
            ],
        );
    }
    if f.drift.is_empty() {
        o.push_str("<tr><td colspan=\"5\" class=\"muted\">None in this archive (drift is computed on the node route, from the image's layers).</td></tr>");
    }
    o.push_str("</table></section>\n");
}

fn kubernetes(o: &mut String, f: &Facts) {
    if f.collection.k8s.is_none() {
        return;
    }
    let items = f.events["items"].as_array().cloned().unwrap_or_default();
    table_head(
        o,
        "kubernetes",
        "Pod events",
        items.len(),
        &["time", "type", "reason", "message"],
    );
    for e in items.iter().take(MAX_ROWS) {
        let when = ["eventTime", "lastTimestamp", "firstTimestamp"]
            .iter()
            .map(|k| text(&e[k]))
            .find(|t| !t.is_empty())
            .unwrap_or_default();
        row(
            o,
            &[
                when,
                text(&e["type"]),
                text(&e["reason"]),
                text(&e["message"]),
            ],
        );
    }
    o.push_str("</table>");
    for (member, tail, count) in &f.logs {
        let _ = write!(
            o,
            "<h3>{} (the last {} of {count} lines)</h3><pre class=\"mono log\">",
            esc(member),
            tail.len()
        );
        for l in tail {
            let _ = writeln!(o, "{}", esc(l));
        }
        o.push_str("</pre>");
    }
    let bindings = f.rbac["bindings"].as_array().cloned().unwrap_or_default();
    let _ = write!(o, "<h3>What the service account may do ({} binding(s))</h3><table><tr><th>binding</th><th>role</th><th>rules</th></tr>", bindings.len());
    for b in bindings.iter().take(MAX_ROWS) {
        row(
            o,
            &[
                format!("{} {}", text(&b["kind"]), text(&b["name"])),
                format!(
                    "{} {}",
                    text(&b["roleRef"]["kind"]),
                    text(&b["roleRef"]["name"])
                ),
                text(&b["rules"]),
            ],
        );
    }
    o.push_str("</table></section>\n");
}

fn record(o: &mut String, f: &Facts) {
    let s = &f.summary;
    let _ = write!(
        o,
        "<section id=\"collection\"><h2>The collection's own record</h2><table class=\"ident\">"
    );
    let counts = &s["counts"];
    for (k, v) in [
        ("counts", counts.to_string()),
        ("cut short", text(&s["cut_short"])),
        (
            "collector",
            format!(
                "{} (sha256 {})",
                text(&s["collector"]["exe"]),
                text(&s["collector"]["exe_sha256"])
            ),
        ),
        ("footprint", text(&s["collector"]["writes"])),
        (
            "archive",
            f.collection
                .archive
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "none".into()),
        ),
        (
            "kubernetes evidence",
            f.collection
                .k8s
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "none".into()),
        ),
    ] {
        if !v.is_empty() && v != "null" {
            let _ = write!(
                o,
                "<tr><td>{k}</td><td class=\"mono\">{}</td></tr>",
                esc(&v)
            );
        }
    }
    o.push_str("</table>");
    if !f.problems.is_empty() {
        o.push_str("<h3>Read with problems</h3><ul>");
        for p in &f.problems {
            let _ = write!(o, "<li>{}</li>", esc(p));
        }
        o.push_str("</ul>");
    }
    o.push_str("</section>\n");
}

/// The index's one script: sorts the table by a column when its header is clicked, and
/// marks the table sortable (which shows it ran under the page's CSP).
const SORT: &str = "document.querySelector('table').dataset.sortable='yes';document.querySelectorAll('th[data-col]').forEach(function(h){h.addEventListener('click',function(){var t=h.closest('table'),i=+h.dataset.col,rows=[].slice.call(t.querySelectorAll('tr.row'));var num=h.dataset.num;rows.sort(function(a,b){var x=a.children[i].dataset.v||a.children[i].textContent,y=b.children[i].dataset.v||b.children[i].textContent;return num?(+y)-(+x):x.localeCompare(y)});rows.forEach(function(r){t.appendChild(r)})})})";

/// One row of the index.
pub struct IndexRow {
    pub name: String,
    pub page: String,
    pub high: usize,
    pub medium: usize,
    pub info: usize,
    pub complete: String,
}

/// The index of several collections, most findings first.
pub fn index(rows: &mut [IndexRow]) -> String {
    rows.sort_by(|a, b| {
        (b.high, b.medium, b.info)
            .cmp(&(a.high, a.medium, a.info))
            .then(a.name.cmp(&b.name))
    });
    let mut o = String::new();
    head(&mut o, "cairn report: index", &[SORT]);
    let _ = write!(o, "<h1>{} collection(s)</h1><p class=\"muted\">Click a column to sort; most findings first.</p><table><tr><th data-col=\"0\">target</th><th data-col=\"1\" data-num=\"1\">high</th><th data-col=\"2\" data-num=\"1\">medium</th><th data-col=\"3\" data-num=\"1\">info</th><th data-col=\"4\">complete</th></tr>", rows.len());
    for r in rows.iter() {
        let _ = write!(
            o,
            "<tr class=\"row\"><td><a href=\"{}\">{}</a></td><td data-v=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.page),
            esc(&r.name),
            r.high,
            r.high,
            r.medium,
            r.info,
            esc(&r.complete)
        );
    }
    let _ = writeln!(o, "</table><script>{SORT}</script></body></html>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_target_wrote_is_text_and_nothing_else() {
        assert_eq!(
            esc("<script>alert(1)</script>\"><img src=x onerror=alert(1)>'&"),
            "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&#39;&amp;"
        );
        assert_eq!(esc("a\u{202e}b\x1b[31m"), "a\\xe2\\x80\\xaeb\\x1b[31m");
    }

    #[test]
    fn pages_allow_no_script_but_the_index_sorter() {
        let c = csp(&[]);
        assert!(
            c.contains("script-src 'none'") && c.contains("default-src 'none'"),
            "{c}"
        );
        let i = csp(&[SORT]);
        assert!(i.contains("script-src 'sha256-"), "{i}");
    }
}
