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

mod index;
mod kubernetes;
mod sections;

pub use index::{index, IndexRow};
pub use sections::{route_word, target_of};

use super::facts::{Check, Facts};
use super::findings::{Evidence, Finding, Severity};
use std::collections::HashMap;
use std::fmt::Write as _;

/// The most rows of a table shown (the archive holds them all).
pub const MAX_ROWS: usize = 5_000;

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
            c if cairn_protocol::escape::is_unsafe_char(c) => {
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
pub(super) fn short(sha: &str) -> String {
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
.banner{padding:.6em 1em;font-weight:600;border-left:6px solid #999;background:#f5f5f7}\
.st-bad{border-color:#c00;background:#fde8e8;color:#900}\
.st-cut{border-color:#c90;background:#fff6dd}\
h1{font-size:1.5em;margin:.2em 0}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}\
table{border-collapse:collapse;width:100%;font-size:13px}td,th{border-bottom:1px solid #eee;padding:3px 6px;text-align:left;vertical-align:top}\
th{background:#f5f5f7;cursor:default}code,.mono{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}\
.sev{display:inline-block;min-width:4.5em;font-weight:600;text-transform:uppercase;font-size:11px}\
.high .sev{color:#b00020}.medium .sev{color:#a15c00}.info .sev{color:#555}\
ol.findings li{margin:.35em 0}.ev{font-size:12px;color:#555}.deleted{color:#b00020;font-weight:600}\
.muted{color:#777}pre.log{background:#f7f7f7;padding:.5em;max-height:30em;overflow:auto;white-space:pre-wrap}.ident td:first-child{width:14em;color:#555}a{color:#0645ad}";

/// The Content-Security-Policy of a page: nothing but inline style, and the scripts
/// whose sha256 are given.
pub(super) fn csp(scripts: &[&str]) -> String {
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

pub(super) fn head(out: &mut String, title: &str, scripts: &[&str]) {
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\
<meta name=\"referrer\" content=\"no-referrer\"><title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(&csp(scripts)),
        esc(title)
    );
}

/// The style class of a status (named so that no class spells a status: a page's text
/// is searched for them).
pub(super) fn status_class(status: &str) -> &'static str {
    match status {
        "damaged" | "failed" => "st-bad",
        "cut short" | "partial" => "st-cut",
        _ => "st-ok",
    }
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
        esc(&cairn_archive::text::now_rfc3339()),
        esc(name)
    );
    let (status, why) = f.status();
    let _ = write!(
        o,
        "<p class=\"banner {}\" id=\"status\">{}: {}</p>",
        status_class(status.name()),
        esc(&status.name().to_uppercase()),
        esc(&why)
    );
    sections::identity(&mut o, f);
    o.push_str("</header>\n");
    let mut anchors = Anchors {
        ids: HashMap::new(),
        list: Vec::new(),
    };
    findings_list(&mut o, findings, &mut anchors);
    sections::processes(&mut o, f);
    sections::sockets(&mut o, f);
    sections::mounts(&mut o, f);
    sections::logins(&mut o, f);
    sections::drift(&mut o, f);
    kubernetes::section(&mut o, f);
    kubernetes::record(&mut o, f);
    evidence_table(&mut o, &anchors.list);
    // Said again at the end, where "Read with problems" lists the damage.
    let _ = write!(
        o,
        "<footer><p class=\"banner {}\">{}: {}</p></footer>",
        status_class(status.name()),
        esc(&status.name().to_uppercase()),
        esc(&why)
    );
    o.push_str("</body></html>\n");
    o
}

/// The findings, most severe first, each linked to its evidence.
fn findings_list(o: &mut String, findings: &[Finding], anchors: &mut Anchors) {
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
}

/// What the manifest says of a member's sha256, as the evidence table shows it.
fn checked(c: &Check) -> String {
    match c {
        Check::Matches => "equals the manifest's".into(),
        Check::Differs(m) => format!("DIFFERS from the manifest's {m}"),
        Check::Unlisted => "no manifest record names it".into(),
    }
}

/// The evidence the findings rest on, each member with its sha256 as read and what the
/// manifest says of it.
fn evidence_table(o: &mut String, list: &[Evidence]) {
    o.push_str("<section id=\"evidence\"><h2>Evidence</h2><p>Each finding rests on a member of an archive; its sha256 was computed as the member was read and compared with the manifest's record of it.</p><table><tr><th>#</th><th>archive</th><th>member</th><th>sha256</th><th>manifest</th></tr>");
    for (i, e) in list.iter().enumerate() {
        let _ = write!(
            o,
            "<tr id=\"ev-{}\"><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
            i + 1,
            i + 1,
            esc(&e.archive),
            esc(&e.member),
            esc(&e.sha256),
            esc(&checked(&e.check))
        );
    }
    o.push_str("</table></section>");
}

/// Ends a table [`table_head`] began, and its section.
pub(super) fn table_end(o: &mut String, fold: Fold) {
    o.push_str("</table>");
    if fold.0 {
        o.push_str("</details>");
    }
    o.push_str("</section>\n");
}

/// One row of text cells, each escaped.
pub(super) fn row(o: &mut String, cells: &[String]) {
    o.push_str("<tr>");
    for c in cells {
        let _ = write!(o, "<td>{}</td>", esc(c));
    }
    o.push_str("</tr>");
}

/// Tables longer than this are folded (a `<details>` to open: no script), except the
/// processes and sockets, which a reader reads whole.
pub const FOLD_ROWS: usize = 12;
const UNFOLDED: &[&str] = &["processes", "sockets"];

/// Whether a table [`table_head`] began is folded, for [`table_end`].
#[must_use]
pub(super) struct Fold(bool);

/// A table's heading: `title (n)`, a note when only the first rows are shown, and the
/// fold of a long table, which [`table_end`] closes.
pub(super) fn table_head(
    o: &mut String,
    id: &str,
    title: &str,
    n: usize,
    columns: &[&str],
) -> Fold {
    let _ = write!(o, "<section id=\"{id}\"><h2>{title} ({n})</h2>");
    if n > MAX_ROWS {
        let _ = write!(
            o,
            "<p class=\"muted\">The first {MAX_ROWS} are shown; the archive holds all.</p>"
        );
    }
    let fold = Fold(n > FOLD_ROWS && !UNFOLDED.contains(&id));
    if fold.0 {
        let _ = write!(o, "<details><summary>show the {n} rows</summary>");
    }
    o.push_str("<table><tr>");
    for c in columns {
        let _ = write!(o, "<th>{c}</th>");
    }
    o.push_str("</tr>");
    fold
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
        let i = csp(&[index::SORT]);
        assert!(i.contains("script-src 'sha256-"), "{i}");
    }
}
