//! Running the responder's YARA rules ([`super::yara`]) over a process: its resident
//! memory, run by run (read again from `/proc/PID/mem`, whether or not the pages are
//! stored), and its executable through `/proc/PID/exe`, once per file. Hits are
//! appended to `hits.jsonl` with where they were found.

use super::core::{CoreReader, Segment};
use super::yara::{self, Rules};
use crate::live::processes::Proc;
use crate::live::push_line;
use crate::source::procfs::ProcDir;
use cairn_archive::text::escape;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::Read;
use std::os::unix::fs::MetadataExt;

/// The most bytes of an executable scanned.
const EXE_CAP: u64 = 256 << 20;

/// Scans each resident run `(address, length, mapping start)` of `p`; returns how many
/// windows the time bound cut short or could not be read.
pub fn memory(
    rules: &Rules,
    p: &Proc,
    mem: &std::fs::File,
    runs: &[(u64, u64, u64)],
    page: u64,
    hits: &mut Vec<u8>,
) -> u64 {
    let mut cut = 0;
    let mut buf = Vec::new();
    for &(addr, len, region) in runs {
        for (from, to) in yara::windows(len as usize) {
            let seg = [Segment {
                vaddr: addr + from as u64,
                len: (to - from) as u64,
                flags: 0,
            }];
            buf.clear();
            buf.resize(to - from, 0);
            let mut r = CoreReader::new(Vec::new(), &seg, mem, page);
            if r.read_exact(&mut buf).is_err() {
                cut += 1;
                continue;
            }
            let (found, whole) = rules.scan(&buf);
            cut += u64::from(!whole);
            for (mut hit, offset) in found {
                hit.scanned = "memory".into();
                hit.pid = Some(p.pid);
                hit.comm = Some(escape(p.comm.as_bytes()));
                hit.region_start = Some(format!("{region:x}"));
                hit.address = offset.map(|o| format!("{:x}", seg[0].vaddr + o));
                push_line(hits, &hit);
            }
        }
    }
    cut
}

/// Scans `p`'s executable, unless a process with the same file was scanned.
pub fn executable(
    rules: &Rules,
    p: &Proc,
    dir: &ProcDir,
    seen: &mut HashSet<(u64, u64)>,
    hits: &mut Vec<u8>,
) {
    let Ok(file) = dir.open("exe") else { return };
    let Ok(meta) = file.metadata() else { return };
    if !meta.is_file() || !seen.insert((meta.dev(), meta.ino())) {
        return;
    }
    let mut bytes = Vec::new();
    if file.take(EXE_CAP).read_to_end(&mut bytes).is_err() {
        return;
    }
    let sha256 = hex::encode(Sha256::digest(&bytes));
    for (mut hit, _) in rules.scan(&bytes).0 {
        hit.scanned = "executable".into();
        hit.pid = Some(p.pid);
        hit.comm = Some(escape(p.comm.as_bytes()));
        hit.path = p.exe.as_deref().map(escape);
        hit.sha256 = Some(sha256.clone());
        push_line(hits, &hit);
    }
}
