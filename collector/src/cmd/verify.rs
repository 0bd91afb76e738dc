//! `cairn-collector verify`: every hash of an archive recomputed and checked against
//! its manifest and summary; the final line says whether the archive is intact,
//! whether its `.sha256` was compared, and whether the collection was complete.

use anyhow::{Context, Result};
use cairn_archive::verify::{self, Verification};
use cairn_protocol::escape::terminal;
use cairn_protocol::exit;

pub fn run(archive: &str) -> Result<i32> {
    let v = verify::verify(archive).with_context(|| format!("reading {archive}"))?;
    if let Some(why) = &v.broken {
        // One line: what follows a break cannot be checked, so nothing else is listed
        // but what was wrong before it.
        for p in v.problems.iter().filter(|p| *p != why) {
            println!("MISMATCH {}", terminal(p));
        }
        println!(
            "FAILED {}; archive sha256 {}",
            terminal(why),
            v.archive_sha256
        );
        return Ok(exit::FAILED);
    }
    // Entry names are the archive's, which an attacker may have chosen.
    for p in &v.problems {
        println!("MISMATCH {}", terminal(p));
    }
    if v.more_problems > 0 {
        println!("MISMATCH ... and {} more problem(s)", v.more_problems);
    }
    if v.ok() {
        println!(
            "OK {} manifest records verified ({} entries in all: they, and the manifest, collection.log and summary.json); archive sha256 {} ({}); {}",
            v.manifest_records,
            v.entries,
            v.archive_sha256,
            sidecar(&v, archive),
            completeness(&v)
        );
        Ok(exit::OK)
    } else {
        println!(
            "FAILED {} problem(s); archive sha256 {}",
            v.problems.len() as u64 + v.more_problems,
            v.archive_sha256
        );
        Ok(exit::FAILED)
    }
}

/// Whether the archive's own sha256 was compared with a `.sha256` beside it.
fn sidecar(v: &Verification, archive: &str) -> String {
    match &v.sidecar {
        Some(p) => format!("matches {}", terminal(&p.display().to_string())),
        None if archive == "-" => "read from stdin: no .sha256 compared".into(),
        None => format!(
            "no {}.sha256 beside it: compare the sha256 with the one recorded at collection",
            terminal(archive)
        ),
    }
}

/// Whether the collection was complete, as the archive's summary says.
fn completeness(v: &Verification) -> String {
    match &v.cut_short {
        Some(c) if c.is_empty() => "collection complete".into(),
        Some(c) => format!(
            "collection CUT SHORT: {}",
            c.iter()
                .map(|w| terminal(w).into_owned())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        None => "the summary does not say whether the collection was complete".into(),
    }
}
