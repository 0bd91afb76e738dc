//! `cairn-collector verify`: every hash of an archive recomputed and checked against
//! its manifest and summary.

use anyhow::{Context, Result};
use cairn_collector::verify;
use cairn_protocol::bounded::printable;
use cairn_protocol::exit;

pub fn run(archive: &str) -> Result<i32> {
    let v = verify::verify(archive).with_context(|| format!("reading {archive}"))?;
    // Entry names are the archive's, which an attacker may have chosen.
    for p in &v.problems {
        println!("MISMATCH {}", printable(p));
    }
    if v.more_problems > 0 {
        println!("MISMATCH ... and {} more problem(s)", v.more_problems);
    }
    if v.ok() {
        println!(
            "OK {} entries, {} manifest records verified; archive sha256 {}",
            v.entries, v.manifest_records, v.archive_sha256
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
