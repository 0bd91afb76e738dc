//! `cairn report ARCHIVE|DIR...`: a page per collection, its status (complete, cut
//! short, damaged, failed) first as a banner, then the findings; for several an index
//! with each one's target, status, route, time and top finding. Reads each archive
//! once; needs no cluster. Exits 1 when a collection is damaged or failed.

use crate::cli::ReportArgs;
use crate::examine::findings::{self, Severity};
use crate::examine::{facts, inputs, page};
use anyhow::{bail, Context};
use cairn_protocol::escape::terminal;
use std::path::{Path, PathBuf};

pub fn run(a: ReportArgs) -> anyhow::Result<i32> {
    let (collections, skipped) = inputs::find(&a.inputs)?;
    for s in &skipped {
        eprintln!("cairn: left out {}", terminal(s));
    }
    let output = a.output.clone().unwrap_or_else(|| {
        PathBuf::from(if collections.len() == 1 {
            DEFAULT_PAGE
        } else {
            DEFAULT_DIR
        })
    });
    let single = collections.len() == 1 && !output.is_dir();
    if !single {
        if output.is_file() {
            bail!("--output {}: {} collections make one page each and an index.html: give a directory", output.display(), collections.len());
        }
        if output.extension().is_some_and(|e| e == "html") {
            bail!("--output {}: {} collections make a directory of pages (one each and index.html), not one page: give a directory name", output.display(), collections.len());
        }
        cairn_archive::private::dir_all(&output)
            .with_context(|| format!("creating {}", output.display()))?;
    }
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for c in &collections {
        let f = facts::read(c);
        for p in &f.problems {
            eprintln!("cairn: warning: {}: {}", terminal(&c.name), terminal(p));
        }
        let found = findings::all(&f);
        let file = if single {
            output.clone()
        } else {
            output.join(format!("{}.html", c.name))
        };
        write_new(&file, &page::collection(&f, &found), a.force)?;
        let (status, why) = f.status();
        if status.bad() {
            bad.push(c.name.clone());
        }
        let n = |s: Severity| found.iter().filter(|x| x.severity == s).count();
        eprintln!(
            "cairn: {}: {}; {} finding(s), {} high -> {}",
            terminal(&c.name),
            terminal(&format!(
                "{}{}",
                status.name(),
                if status == facts::Status::Complete {
                    String::new()
                } else {
                    format!(" ({why})")
                }
            )),
            found.len(),
            n(Severity::High),
            file.display()
        );
        rows.push(row(c, &f, &found, status));
    }
    if !single {
        let index = output.join("index.html");
        write_new(&index, &page::index(&mut rows), a.force)?;
        eprintln!(
            "cairn: index of {} collection(s) -> {}",
            rows.len(),
            index.display()
        );
    }
    if !bad.is_empty() {
        eprintln!(
            "cairn: {} collection(s) damaged or failed: {} (their pages say why)",
            bad.len(),
            terminal(&bad.join(", "))
        );
        return Ok(cairn_protocol::exit::FAILED);
    }
    Ok(cairn_protocol::exit::OK)
}

/// Where the report goes without --output: one page, or a directory for several.
const DEFAULT_PAGE: &str = "report.html";
const DEFAULT_DIR: &str = "report";

/// The most characters of the top finding the index shows.
const TOP_CHARS: usize = 160;

/// One collection's row of the index.
fn row(
    c: &inputs::Collection,
    f: &facts::Facts,
    found: &[findings::Finding],
    status: facts::Status,
) -> page::IndexRow {
    let n = |s: Severity| found.iter().filter(|x| x.severity == s).count();
    let top = found
        .first()
        .map(|x| {
            let cut: String = x.sentence.chars().take(TOP_CHARS).collect();
            format!("{}: {cut}", x.severity.name())
        })
        .unwrap_or_default();
    page::IndexRow {
        name: c.name.clone(),
        // Always a relative path: a name like `javascript:x` stays a file name.
        page: format!("./{}.html", c.name),
        target: page::target_of(f),
        route: page::route_word(f).to_owned(),
        time: f
            .summary
            .as_ref()
            .map_or("-".to_owned(), |s| to_the_second(&s.started)),
        status: status.name().to_owned(),
        high: n(Severity::High),
        medium: n(Severity::Medium),
        info: n(Severity::Info),
        top,
    }
}

/// An RFC 3339 time without its fraction of a second (`...T10:00:00.123Z` →
/// `...T10:00:00Z`); anything else as it is.
fn to_the_second(t: &str) -> String {
    match (t.split_once('.'), t.ends_with('Z')) {
        (Some((whole, frac)), true)
            if frac[..frac.len() - 1].bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("{whole}Z")
        }
        _ => t.to_owned(),
    }
}

/// Writes `path`, refusing to replace a file unless `force`.
fn write_new(path: &Path, text: &str, force: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = cairn_archive::private::create(path, force)
        .context("the page (--force replaces a file)")?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_index_gives_times_to_the_second() {
        let t = super::to_the_second;
        assert_eq!(t("2026-12-07T16:30:41.452223429Z"), "2026-12-07T16:30:41Z");
        assert_eq!(t("2026-12-07T16:30:41Z"), "2026-12-07T16:30:41Z");
        assert_eq!(
            t("2026-12-07T16:30:41.5+01:00"),
            "2026-12-07T16:30:41.5+01:00"
        );
        assert_eq!(t("-"), "-");
    }
}
