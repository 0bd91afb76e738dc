//! `cairn report ARCHIVE|DIR...`: a page per collection, findings first, and for
//! several an index. Reads each archive once; needs no cluster.

use crate::cli::ReportArgs;
use crate::examine::findings::{self, Severity};
use crate::examine::{facts, inputs, page};
use anyhow::{bail, Context};
use cairn_protocol::escape::terminal;
use std::path::Path;

pub fn run(a: ReportArgs) -> anyhow::Result<i32> {
    let (collections, skipped) = inputs::find(&a.inputs)?;
    for s in &skipped {
        eprintln!("cairn: left out {}", terminal(s));
    }
    let single = collections.len() == 1 && !a.output.is_dir();
    if !single {
        if a.output.is_file() {
            bail!("--output {}: {} collections make one page each and an index.html: give a directory", a.output.display(), collections.len());
        }
        cairn_archive::private::dir_all(&a.output)
            .with_context(|| format!("creating {}", a.output.display()))?;
    }
    let mut rows = Vec::new();
    for c in &collections {
        let f = facts::read(c);
        for p in &f.problems {
            eprintln!("cairn: warning: {}: {}", terminal(&c.name), terminal(p));
        }
        let found = findings::all(&f);
        let html = page::collection(&f, &found);
        let file = if single {
            a.output.clone()
        } else {
            a.output.join(format!("{}.html", c.name))
        };
        write_new(&file, &html, a.force)?;
        let n = |s: Severity| found.iter().filter(|x| x.severity == s).count();
        eprintln!(
            "cairn: {}: {} finding(s), {} high -> {}",
            terminal(&c.name),
            found.len(),
            n(Severity::High),
            file.display()
        );
        rows.push(page::IndexRow {
            name: c.name.clone(),
            // Always a relative path: a name like `javascript:x` stays a file name.
            page: format!("./{}.html", c.name),
            high: n(Severity::High),
            medium: n(Severity::Medium),
            info: n(Severity::Info),
            complete: match f.complete() {
                Some(true) => "yes".into(),
                Some(false) => "cut short".into(),
                None => "-".into(),
            },
        });
    }
    if !single {
        let index = a.output.join("index.html");
        write_new(&index, &page::index(&mut rows), a.force)?;
        eprintln!(
            "cairn: index of {} collection(s) -> {}",
            rows.len(),
            index.display()
        );
    }
    Ok(cairn_protocol::exit::OK)
}

/// Writes `path`, refusing to replace a file unless `force`.
fn write_new(path: &Path, text: &str, force: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = cairn_archive::private::create(path, force)
        .context("the page (--force replaces a file)")?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
