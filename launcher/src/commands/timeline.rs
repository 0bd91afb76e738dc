//! `cairn timeline ARCHIVE|DIR...`: the collections' events in one time-sorted file for
//! Timesketch (csv, jsonl) or mactime (bodyfile). Needs no cluster.

use crate::cli::{TimelineArgs, TimelineFormat};
use crate::read::inputs;
use crate::timeline::{self, write};
use anyhow::Context;
use cairn_protocol::bounded::printable;
use std::io::Write;

pub fn run(a: TimelineArgs) -> anyhow::Result<i32> {
    let (collections, skipped) = inputs::find(&a.inputs)?;
    for s in &skipped {
        eprintln!("cairn: left out {}", printable(s));
    }
    let keep = match a.format {
        TimelineFormat::Bodyfile => timeline::Keep::Bodyfile,
        _ => timeline::Keep::Events,
    };
    let t = timeline::build(&collections, keep);
    for p in &t.problems {
        eprintln!("cairn: warning: {}", printable(p));
    }
    let to_stdout = a.output.as_deref().is_none_or(|p| p.as_os_str() == "-");
    let out: Box<dyn Write> = if to_stdout {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        let p = a.output.as_deref().unwrap_or(std::path::Path::new("-"));
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(!a.force)
            .create(true)
            .truncate(true)
            .open(p)
            .with_context(|| {
                format!("--output {} (it exists? --force replaces it)", p.display())
            })?;
        Box::new(std::io::BufWriter::new(f))
    };
    let written = match a.format {
        TimelineFormat::Csv => write::csv(&t, out),
        TimelineFormat::Jsonl => write::jsonl(&t, out),
        TimelineFormat::Bodyfile => write::bodyfile(&t, out, collections.len() > 1),
    };
    written.context("writing the timeline")?;
    let what = match a.format {
        TimelineFormat::Bodyfile => format!(
            "{} bodyfile line(s)",
            t.bodyfiles.iter().map(|(_, l)| l.len()).sum::<usize>()
        ),
        _ => format!("{} event(s)", t.events.len()),
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
