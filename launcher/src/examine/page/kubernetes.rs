//! The sections of a collection's page from the Kubernetes evidence (the pod's events,
//! the tails of its logs, what its service account may do) and from the collection's
//! own record (its counts, cuts, the collector and its footprint, the files read, and
//! what could not be read).

use super::{esc, row, table_end, table_head, MAX_ROWS};
use crate::examine::facts::Facts;
use std::fmt::Write as _;

/// Events, log tails and the service account's bindings.
pub fn section(o: &mut String, f: &Facts) {
    if f.collection.k8s.is_none() {
        return;
    }
    let fold = table_head(
        o,
        "kubernetes",
        "Pod events",
        f.events.len(),
        &["time", "type", "reason", "message"],
    );
    for e in f.events.iter().take(MAX_ROWS) {
        row(
            o,
            &[
                e.when().unwrap_or_default().to_owned(),
                e.kind.clone().unwrap_or_default(),
                e.reason.clone().unwrap_or_default(),
                e.message.clone().unwrap_or_default(),
            ],
        );
    }
    o.push_str("</table>");
    for t in &f.logs {
        let _ = write!(
            o,
            "<h3>{} (the last {} of {} lines)</h3><pre class=\"mono log\">",
            esc(&t.member),
            t.lines.len(),
            t.count
        );
        for l in &t.lines {
            let _ = writeln!(o, "{}", esc(l));
        }
        o.push_str("</pre>");
    }
    let bindings = f
        .rbac
        .as_ref()
        .map(|r| r.bindings.as_slice())
        .unwrap_or_default();
    let _ = write!(o, "<h3>What the service account may do ({} binding(s))</h3><table><tr><th>binding</th><th>role</th><th>rules</th></tr>", bindings.len());
    for b in bindings.iter().take(MAX_ROWS) {
        row(
            o,
            &[
                format!("{} {}", b.kind, b.name),
                format!("{} {}", b.role_ref.kind, b.role_ref.name),
                serde_json::to_string(&b.rules).unwrap_or_default(),
            ],
        );
    }
    table_end(o, fold);
}

/// A collection's counts as a sentence: what was read and stored, then what was not
/// (each only when there is some).
pub fn counts_text(c: &cairn_protocol::event::Counts) -> String {
    let size = cairn_protocol::size::format;
    let mut t = format!(
        "{} files ({} read, {} stored), {} symlinks, {} special files, {} outputs of {} entries",
        c.files,
        size(c.bytes_read),
        size(c.bytes_stored),
        c.symlinks,
        c.special,
        c.outputs,
        c.entries_run
    );
    let lost = [
        (c.truncated, "cut at a size limit"),
        (c.changed, "changed while read"),
        (c.skipped, "skipped"),
        (c.denied, "denied"),
        (c.live_denied, "live-response reads denied"),
        (c.errors, "errors"),
        (
            c.atime_not_preserved,
            "read without keeping their access time",
        ),
    ];
    for (n, what) in lost.iter().filter(|(n, _)| *n > 0) {
        let _ = write!(t, "; {n} {what}");
    }
    t
}

/// The collection's own record: what it counted and cut, the collector, the files.
pub fn record(o: &mut String, f: &Facts) {
    o.push_str(
        "<section id=\"collection\"><h2>The collection's own record</h2><table class=\"ident\">",
    );
    let s = f.summary.as_ref();
    let path = |p: Option<&std::path::PathBuf>| {
        p.map(|p| p.display().to_string())
            .unwrap_or_else(|| "none".into())
    };
    let rows = [
        (
            "counts",
            s.map(|s| counts_text(&s.counts)).unwrap_or_default(),
        ),
        (
            "cut short",
            s.map(|s| s.seal.cut_short.join("; ")).unwrap_or_default(),
        ),
        (
            "collector",
            s.map(|s| {
                format!(
                    "{} (sha256 {})",
                    s.collector.exe.as_deref().unwrap_or(""),
                    s.collector.exe_sha256.as_deref().unwrap_or("")
                )
            })
            .unwrap_or_default(),
        ),
        (
            "footprint",
            s.map(|s| s.collector.writes.clone()).unwrap_or_default(),
        ),
        ("archive", path(f.collection.archive.as_ref())),
        ("kubernetes evidence", path(f.collection.k8s.as_ref())),
    ];
    for (k, v) in rows {
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
