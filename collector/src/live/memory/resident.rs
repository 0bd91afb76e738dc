//! Which pages of a process are resident, so that only those are read: reading a page
//! that is not in memory would fault it in (from its file or swap) and grow the target,
//! a known problem of memory scanners. `/proc/PID/smaps` gives each mapping's resident
//! size (a mapping with none is not scanned further); `/proc/PID/pagemap` gives, per
//! page, whether it is present (bit 63), read in chunks and within a budget per
//! mapping, so that a hostile mapping of 2^47 bytes costs a bounded scan.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Pagemap entries read per call (64 KiB of entries: 32 MiB of address space).
const CHUNK: usize = 8192;
const PRESENT: u64 = 1 << 63;

/// The resident bytes of each mapping by its start address, from `smaps`.
pub fn rss_by_start(smaps: &[u8]) -> HashMap<u64, u64> {
    let mut out = HashMap::new();
    let mut current = None;
    for line in smaps.split(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(b"Rss:") {
            if let Some(start) = current.take() {
                let kb = String::from_utf8_lossy(rest)
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
                out.insert(start, kb.saturating_mul(1024));
            }
            continue;
        }
        // A mapping's first line: `START-END perms ...`.
        let first = line.split(|&b| b == b' ').next().unwrap_or_default();
        if let Some(dash) = first.iter().position(|&b| b == b'-') {
            let hex = |b: &[u8]| u64::from_str_radix(&String::from_utf8_lossy(b), 16).ok();
            if let (Some(start), Some(_)) = (hex(&first[..dash]), hex(&first[dash + 1..])) {
                current = Some(start);
            }
        }
    }
    out
}

/// Runs of resident pages in `[start, end)`, as (address, length), scanning at most
/// `budget` pages; the second value is false when the budget ended the scan first.
pub fn runs(
    pagemap: &File,
    start: u64,
    end: u64,
    page: u64,
    budget: u64,
) -> io::Result<(Vec<(u64, u64)>, bool)> {
    let first = start / page;
    let last = end.div_ceil(page);
    let stop = last.min(first.saturating_add(budget));
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut buf = vec![0u8; CHUNK * 8];
    let mut at = first;
    while at < stop {
        let n = ((stop - at) as usize).min(CHUNK);
        let got = pagemap.read_at(&mut buf[..n * 8], at * 8)?;
        if got < 8 {
            break;
        }
        for (i, e) in buf[..got / 8 * 8].chunks_exact(8).enumerate() {
            let entry = u64::from_le_bytes(e.try_into().unwrap_or([0; 8]));
            if entry & PRESENT == 0 {
                continue;
            }
            let addr = (at + i as u64) * page;
            match out.last_mut() {
                Some((s, len)) if *s + *len == addr => *len += page,
                _ => out.push((addr, page)),
            }
        }
        at += (got / 8) as u64;
    }
    Ok((out, stop == last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smaps_gives_each_mappings_resident_bytes() {
        let smaps = b"55d0a000-55d0b000 r-xp 00000000 08:01 12 /bin/x\nSize:  4 kB\nRss:  4 kB\nPss: 4 kB\n7f00-7f10 rw-p 00000000 00:00 0 \nSize: 64 kB\nRss: 0 kB\n";
        let m = rss_by_start(smaps);
        assert_eq!(m.get(&0x55d0a000), Some(&4096));
        assert_eq!(m.get(&0x7f00), Some(&0));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn the_collectors_own_touched_buffer_is_resident_and_its_untouched_tail_is_not() {
        let page = rustix::param::page_size() as u64;
        // 64 pages, only the first 8 touched (a fresh allocation this large is mapped
        // but not populated).
        let mut v: Vec<u8> = Vec::with_capacity((page * 64) as usize);
        v.resize((page * 8) as usize, 7);
        let start = (v.as_ptr() as u64).div_ceil(page) * page;
        let pm = File::open("/proc/self/pagemap").unwrap();
        let (r, whole) = runs(&pm, start, start + page * 4, page, 1 << 20).unwrap();
        assert!(whole);
        assert_eq!(r, vec![(start, page * 4)]);
        let (_, whole) = runs(&pm, start, start + page * 64, page, 3).unwrap();
        assert!(!whole, "a budget of 3 pages ends the scan");
        std::hint::black_box(&v);
    }
}
