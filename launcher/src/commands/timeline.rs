//! `cairn timeline ARCHIVE|DIR...`: the collections' events in one time-sorted file for
//! Timesketch (csv, jsonl) or mactime (bodyfile). Needs no cluster.

use crate::cli::{TimelineArgs, TimelineFormat};
use crate::examine::inputs;
use crate::examine::timeline::{self, write};
use anyhow::Context;
use cairn_protocol::escape::terminal;
use std::io::Write;

pub fn run(a: TimelineArgs) -> anyhow::Result<i32> {
    let (collections, skipped) = inputs::find(&a.inputs)?;
    for s in &skipped {
        eprintln!("cairn: left out {}", terminal(s));
    }
    let to_stdout = a.output.as_deref().is_none_or(|p| p.as_os_str() == "-");
    let out: Box<dyn Write> = if to_stdout {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        let p = a.output.as_deref().unwrap_or(std::path::Path::new("-"));
        let f = cairn_archive::private::create(p, a.force)
            .context("--output (--force replaces a file)")?;
        Box::new(std::io::BufWriter::new(f))
    };
    let what = if a.format == TimelineFormat::Bodyfile {
        let (n, problems) = write::bodyfile(&collections, out, collections.len() > 1)
            .context("writing the timeline")?;
        warn(&problems);
        format!("{n} bodyfile line(s)")
    } else {
        let t = timeline::build(&collections);
        warn(&t.problems);
        if t.sorter.runs() > 0 {
            eprintln!(
                "cairn: {} events, more than the {} MiB held in memory: sorted in {} run(s) on disk (a private temporary file, gone on exit)",
                t.sorter.count,
                timeline::sort::BUDGET >> 20,
                t.sorter.runs()
            );
        }
        let (targets, events) = t.events().context("sorting the timeline")?;
        let n = match a.format {
            TimelineFormat::Csv => write::csv(&targets, events, out),
            _ => write::jsonl(&targets, events, out),
        }
        .context("writing the timeline")?;
        format!("{n} event(s)")
    };
    eprintln!(
        "cairn: timeline of {what} from {} collection(s){}",
        collections.len(),
        a.output
            .as_deref()
            .filter(|_| !to_stdout)
            .map(|p| format!(" in {}", p.display()))
            .unwrap_or_default()
    );
    Ok(cairn_protocol::exit::OK)
}

fn warn(problems: &[String]) {
    for p in problems {
        eprintln!("cairn: warning: {}", terminal(p));
    }
}
