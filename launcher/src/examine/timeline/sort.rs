//! Sorting the timeline within a memory budget: events are held until [`BUDGET`] bytes,
//! then sorted and written as a run to a private temporary file (unnamed, mode 0600,
//! gone when closed), and the runs are merged on output. A collection of millions of
//! files costs the budget, not its size, in memory.
//!
//! The runs are in a small binary form written here ([`encode`], [`decode`]): the
//! events are cairn's own, written and read back by this one process, so a general
//! serialization format would only cost time.

use super::{Event, Source};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};

/// The bytes of events held in memory before a run is written.
pub const BUDGET: usize = 24 << 20;
/// The most runs merged at once: past it, the runs are merged into one first, so the
/// open files and read buffers of the final merge stay few.
pub const MAX_RUNS: usize = 64;
/// The read buffer of each run being merged.
const RUN_BUFFER: usize = 32 << 10;

/// The order of the timeline: time, then target, message and description, so equal
/// times come out the same way every run.
pub fn order(a: &Event, b: &Event) -> Ordering {
    (a.micros, a.target, &a.message, &a.desc).cmp(&(b.micros, b.target, &b.message, &b.desc))
}

/// Events being gathered, and the runs already written.
pub struct Sorter {
    /// [`BUDGET`] and [`MAX_RUNS`] (smaller in tests).
    budget: usize,
    max_runs: usize,
    held: Vec<Event>,
    bytes: usize,
    runs: Vec<std::fs::File>,
    /// Runs written in all (some since merged).
    merged_runs: usize,
    /// Events in all.
    pub count: u64,
}

impl Default for Sorter {
    fn default() -> Sorter {
        Sorter::with_limits(BUDGET, MAX_RUNS)
    }
}

impl Sorter {
    fn with_limits(budget: usize, max_runs: usize) -> Sorter {
        Sorter {
            budget,
            max_runs,
            held: Vec::new(),
            bytes: 0,
            runs: Vec::new(),
            merged_runs: 0,
            count: 0,
        }
    }

    pub fn push(&mut self, e: Event) -> io::Result<()> {
        self.bytes += e.weight();
        self.count += 1;
        self.held.push(e);
        if self.bytes >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Sorts what is held and writes it as a run.
    fn spill(&mut self) -> io::Result<()> {
        self.held.sort_by(order);
        let mut f = tempfile::tempfile()?;
        {
            let mut w = BufWriter::new(&mut f);
            for e in self.held.drain(..) {
                encode(&e, &mut w)?;
            }
            w.flush()?;
        }
        f.rewind()?;
        self.runs.push(f);
        self.bytes = 0;
        self.merged_runs += 1;
        if self.runs.len() >= self.max_runs {
            self.compact()?;
        }
        Ok(())
    }

    /// Merges every run into one.
    fn compact(&mut self) -> io::Result<()> {
        let merged = merge(std::mem::take(&mut self.runs), Vec::new())?;
        let mut f = tempfile::tempfile()?;
        {
            let mut w = BufWriter::new(&mut f);
            for e in merged {
                encode(&e?, &mut w)?;
            }
            w.flush()?;
        }
        f.rewind()?;
        self.runs.push(f);
        Ok(())
    }

    /// Runs written to disk (0 when everything fit).
    pub fn runs(&self) -> usize {
        self.merged_runs
    }

    /// Every event, in order.
    pub fn into_sorted(mut self) -> io::Result<Merged> {
        self.held.sort_by(order);
        merge(self.runs, self.held)
    }
}

/// The runs and what is held in memory (sorted), merged.
fn merge(files: Vec<std::fs::File>, held: Vec<Event>) -> io::Result<Merged> {
    let mut heads = BinaryHeap::new();
    let mut runs = Vec::new();
    for (i, f) in files.into_iter().enumerate() {
        let mut r = BufReader::with_capacity(RUN_BUFFER, f);
        if let Some(e) = decode(&mut r)? {
            heads.push(Head(e, i));
        }
        runs.push(r);
    }
    Ok(Merged {
        memory: held.into_iter().peekable(),
        heads,
        runs,
    })
}

/// An event at the head of a run, ordered for a min-heap.
struct Head(Event, usize);

impl PartialEq for Head {
    fn eq(&self, o: &Head) -> bool {
        order(&self.0, &o.0) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, o: &Head) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Head {
    fn cmp(&self, o: &Head) -> Ordering {
        order(&o.0, &self.0)
    }
}

/// The runs and what stayed in memory, merged.
pub struct Merged {
    memory: std::iter::Peekable<std::vec::IntoIter<Event>>,
    heads: BinaryHeap<Head>,
    runs: Vec<BufReader<std::fs::File>>,
}

impl Iterator for Merged {
    type Item = io::Result<Event>;

    fn next(&mut self) -> Option<io::Result<Event>> {
        let from_disk = match (self.memory.peek(), self.heads.peek()) {
            (None, None) => return None,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(m), Some(h)) => order(&h.0, m) == Ordering::Less,
        };
        if !from_disk {
            return self.memory.next().map(Ok);
        }
        let Head(e, i) = self.heads.pop()?;
        match decode(&mut self.runs[i]) {
            Ok(Some(next)) => self.heads.push(Head(next, i)),
            Ok(None) => {}
            Err(err) => return Some(Err(err)),
        }
        Some(Ok(e))
    }
}

fn put_str(w: &mut impl Write, s: &str) -> io::Result<()> {
    w.write_all(&(s.len() as u32).to_le_bytes())?;
    w.write_all(s.as_bytes())
}

fn put_opt(w: &mut impl Write, s: Option<&str>) -> io::Result<()> {
    match s {
        Some(s) => {
            w.write_all(&[1])?;
            put_str(w, s)
        }
        None => w.write_all(&[0]),
    }
}

/// One event in a run.
pub fn encode(e: &Event, w: &mut impl Write) -> io::Result<()> {
    w.write_all(&e.micros.to_le_bytes())?;
    w.write_all(&e.target.to_le_bytes())?;
    w.write_all(&[e.source as u8])?;
    match e.pid {
        Some(p) => {
            w.write_all(&[1])?;
            w.write_all(&p.to_le_bytes())?;
        }
        None => w.write_all(&[0])?,
    }
    put_str(w, &e.desc)?;
    put_str(w, &e.message)?;
    for s in [&e.path, &e.user, &e.sha256, &e.macb] {
        put_opt(w, s.as_deref())?;
    }
    Ok(())
}

fn get<const N: usize>(r: &mut impl Read) -> io::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)?;
    Ok(b)
}

fn get_str(r: &mut impl Read) -> io::Result<String> {
    let n = u32::from_le_bytes(get(r)?) as usize;
    let mut b = vec![0u8; n];
    r.read_exact(&mut b)?;
    String::from_utf8(b).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn get_opt(r: &mut impl Read) -> io::Result<Option<String>> {
    match get::<1>(r)?[0] {
        0 => Ok(None),
        _ => get_str(r).map(Some),
    }
}

/// The next event of a run, `None` at its end.
pub fn decode(r: &mut impl Read) -> io::Result<Option<Event>> {
    let mut first = [0u8; 8];
    match r.read(&mut first[..1])? {
        0 => return Ok(None),
        _ => r.read_exact(&mut first[1..])?,
    }
    let micros = i64::from_le_bytes(first);
    let target = u32::from_le_bytes(get(r)?);
    let source = Source::from_u8(get::<1>(r)?[0]);
    let pid = match get::<1>(r)?[0] {
        0 => None,
        _ => Some(i64::from_le_bytes(get(r)?)),
    };
    Ok(Some(Event {
        micros,
        target,
        source,
        pid,
        desc: get_str(r)?,
        message: get_str(r)?,
        path: get_opt(r)?,
        user: get_opt(r)?,
        sha256: get_opt(r)?,
        macb: get_opt(r)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(micros: i64, message: &str) -> Event {
        Event {
            micros,
            desc: "Content Modification Time".into(),
            message: message.into(),
            target: 1,
            source: Source::File,
            path: Some(format!("/f/{message}")),
            pid: (micros % 2 == 0).then_some(micros),
            user: None,
            sha256: Some("ab".into()),
            macb: Some("m...".into()),
        }
    }

    #[test]
    fn many_runs_are_merged_into_one_before_the_last_merge() {
        let mut s = Sorter::with_limits(64 << 10, 4);
        let mut all = Vec::new();
        for i in 0..20_000i64 {
            let e = event((i * 7919) % 10_007, &format!("m{i}"));
            all.push(e.clone());
            s.push(e).unwrap();
        }
        assert!(s.runs() > 8, "{} runs", s.runs());
        assert!(s.runs.len() < 4, "{} files open", s.runs.len());
        all.sort_by(order);
        let merged: Vec<Event> = s.into_sorted().unwrap().map(Result::unwrap).collect();
        assert!(merged == all);
    }

    #[test]
    fn runs_merge_into_the_same_order_as_one_sort_in_memory() {
        let mut s = Sorter::default();
        let mut all = Vec::new();
        // Enough to spill several runs.
        let big = "x".repeat(2000);
        for i in 0..40_000i64 {
            let e = event((i * 7919) % 10_007, &format!("{big}{i}"));
            all.push(e.clone());
            s.push(e).unwrap();
        }
        assert!(s.runs() >= 2, "{} runs", s.runs());
        all.sort_by(order);
        let merged: Vec<Event> = s.into_sorted().unwrap().map(Result::unwrap).collect();
        assert_eq!(merged.len(), all.len());
        assert!(merged == all);
    }
}
