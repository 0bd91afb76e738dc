//! The index of several collections: one row each, most findings first, sortable by
//! a column with the page's one script (allowed by its hash, nothing else).

use super::{esc, head};
use std::fmt::Write as _;

/// The index's one script: sorts the table by a column when its header is clicked, and
/// marks the table sortable (which shows it ran under the page's CSP).
pub(super) const SORT: &str = "document.querySelector('table').dataset.sortable='yes';document.querySelectorAll('th[data-col]').forEach(function(h){h.addEventListener('click',function(){var t=h.closest('table'),i=+h.dataset.col,rows=[].slice.call(t.querySelectorAll('tr.row'));var num=h.dataset.num;rows.sort(function(a,b){var x=a.children[i].dataset.v||a.children[i].textContent,y=b.children[i].dataset.v||b.children[i].textContent;return num?(+y)-(+x):x.localeCompare(y)});rows.forEach(function(r){t.appendChild(r)})})})";

/// One row of the index.
pub struct IndexRow {
    pub name: String,
    pub page: String,
    /// `namespace/pod/container`.
    pub target: String,
    pub route: String,
    /// When the collection started (RFC 3339), or `-`.
    pub time: String,
    /// complete, partial, cut short, damaged, failed.
    pub status: String,
    pub high: usize,
    pub medium: usize,
    pub info: usize,
    /// The most severe finding's sentence, cut, or empty.
    pub top: String,
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
    let bad = rows
        .iter()
        .filter(|r| r.status == "damaged" || r.status == "failed")
        .count();
    let _ = write!(o, "<h1>{} collection(s)</h1>", rows.len());
    if bad > 0 {
        let _ = write!(o, "<p class=\"banner st-bad\">{bad} collection(s) damaged or failed: what they show is not the target's state.</p>");
    }
    let _ = write!(o, "<p class=\"muted\">Click a column to sort; most findings first.</p><table><tr><th data-col=\"0\">collection</th><th data-col=\"1\">namespace/pod/container</th><th data-col=\"2\">status</th><th data-col=\"3\">route</th><th data-col=\"4\">started</th><th data-col=\"5\" data-num=\"1\">high</th><th data-col=\"6\" data-num=\"1\">medium</th><th data-col=\"7\" data-num=\"1\">info</th><th data-col=\"8\">top finding</th></tr>");
    for r in rows.iter() {
        let _ = write!(
            o,
            "<tr class=\"row\"><td><a href=\"{}\">{}</a></td><td>{}</td><td class=\"status {}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.page),
            esc(&r.name),
            esc(&r.target),
            super::status_class(&r.status),
            esc(&r.status),
            esc(&r.route),
            esc(&r.time),
            r.high,
            r.medium,
            r.info,
            esc(&r.top)
        );
    }
    let _ = writeln!(o, "</table><script>{SORT}</script></body></html>");
    o
}
