//! Reading an archive back to check it: recomputes the sha256 of every entry, checks
//! them against the manifest, checks the manifest and log against the summary, the
//! zstd checksum, and the archive's own sha256 against `ARCHIVE.sha256` when that file
//! is beside it.
//!
//! An archive to verify may be hostile (a small file that decompresses into a huge
//! manifest, millions of entries, names of 256 KiB), so memory stays bounded in bytes:
//! the tar stream is read by the one strict reader ([`crate::read::tar`]); the manifest
//! is checked line by line as it streams past (its records always name entries written
//! before it), each line capped; what is remembered per entry is a digest of its name
//! and of its content, at most [`MAX_ENTRIES`] of them; names kept to be quoted are cut
//! to a few hundred bytes ([`crate::read::shown`]); at most [`MAX_PROBLEMS`] problems
//! are kept (the rest are counted).

use crate::member::{is_manifest, is_record, LOG, MANIFEST, SUMMARY};
use crate::read::lines::{lines_within, MAX_RECORD_LINE};
use crate::read::{shown, Kind, ReadError, Reader, ZSTD_MAGIC};
use crate::records::summary::SealRead;
use crate::records::{ManifestRecord, ObjectKind};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;

/// The most entries whose hashes are remembered for the manifest to be checked against
/// (about 90 bytes each); past it, verification fails, saying so.
pub const MAX_ENTRIES: usize = 2_000_000;
/// The most problems kept in full.
pub const MAX_PROBLEMS: usize = 1000;
/// The largest summary read (a collector's is a few KiB; parsed, a document can hold
/// several times its bytes).
pub const MAX_SUMMARY: u64 = 2 << 20;
/// The most entry names kept to be quoted in problems.
const MAX_NAMES: usize = MAX_PROBLEMS * 10;
/// The most of the collector's own records (manifest parts, log, summary) remembered.
const MAX_RECORDS: usize = 10_000;
/// The longest problem kept, in bytes (a message may quote what the archive holds).
const MAX_PROBLEM: usize = 600;

/// The outcome of a verification.
#[derive(Debug, Default)]
pub struct Verification {
    pub entries: u64,
    pub manifest_records: u64,
    pub archive_sha256: String,
    /// The first [`MAX_PROBLEMS`] problems.
    pub problems: Vec<String>,
    /// Problems beyond those kept.
    pub more_problems: u64,
    /// Why the archive could not be read to its end (not zstd, truncated, damaged),
    /// when it could not: then the checks that need the whole archive are not made,
    /// and this is the problem that counts.
    pub broken: Option<String>,
    /// The `ARCHIVE.sha256` file the archive's sha256 was compared with (and matched,
    /// or a problem says otherwise), when there is one.
    pub sidecar: Option<std::path::PathBuf>,
    /// What cut the collection short, as its summary says: empty when complete,
    /// `None` when the summary does not say.
    pub cut_short: Option<Vec<String>>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, mut p: String) {
        if self.problems.len() >= MAX_PROBLEMS {
            self.more_problems += 1;
            return;
        }
        if p.len() > MAX_PROBLEM {
            let mut cut = MAX_PROBLEM;
            while !p.is_char_boundary(cut) {
                cut -= 1;
            }
            p.truncate(cut);
            p.push('…');
        }
        self.problems.push(p);
    }
}

/// A reader that hashes what passes through it, and says whether its input ended.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    eof: bool,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.eof |= n == 0 && !buf.is_empty();
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// A 128-bit digest of an entry's name: what is remembered instead of the name.
type Key = [u8; 16];

fn key(name: &[u8]) -> Key {
    let d = Sha256::digest(name);
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    k
}

/// What reading the archive gave, beyond the per-entry hashes.
#[derive(Default)]
struct Gathered {
    /// Each entry not yet named by a manifest record: its sha256 (`None` for a
    /// non-regular entry) and size. A record that names it takes it out, so what is
    /// left at the end is what the manifest does not list, and what is held at once is
    /// what lies between two manifest parts.
    seen: HashMap<Key, (Option<[u8; 32]>, u64)>,
    /// The collector's own records (manifest parts, log, summary), which the manifest
    /// does not list: name and sha256.
    records: HashMap<String, String>,
    /// The entries awaiting a record, in order, while few enough to name them in a
    /// problem: the digest of each name and the name as quoted.
    names: Vec<(Key, String)>,
    summary: Vec<u8>,
    too_many: bool,
    /// Reading stopped early: the last complete entry's name (as quoted), and why.
    stopped: Option<(Option<String>, ReadError)>,
}

/// Verifies the archive at `path` (`-` for standard input).
pub fn verify(path: &str) -> io::Result<Verification> {
    let mut input: Box<dyn Read> = if path == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path)?)
    };
    let mut head = Vec::with_capacity(4);
    (&mut input).take(4).read_to_end(&mut head)?;
    let mut hr = HashingReader {
        inner: Box::new(io::Cursor::new(head.clone()).chain(input)) as Box<dyn Read>,
        hasher: Sha256::new(),
        eof: false,
    };
    let mut v = Verification::default();
    if head != ZSTD_MAGIC {
        io::copy(&mut hr, &mut io::sink())?;
        v.archive_sha256 = hex::encode(hr.hasher.finalize());
        let why = if head.is_empty() {
            "empty: not a cairn archive".to_owned()
        } else {
            format!(
                "not a zstd archive (it starts with {}, not 28b52ffd): not a cairn archive",
                hex::encode(&head)
            )
        };
        v.problem(why.clone());
        v.broken = Some(why);
        return Ok(v);
    }
    let read = read_entries(&mut hr, &mut v)?;
    if let Some((last, e)) = &read.stopped {
        v.broken = Some(broken_after(&v, hr.eof, last.as_deref(), e));
    }
    let _ = io::copy(&mut hr, &mut io::sink());
    v.archive_sha256 = hex::encode(hr.hasher.finalize());
    if path != "-" {
        check_sidecar(path, &mut v);
    }
    if let Some(why) = v.broken.clone() {
        // What follows needs the whole archive; the one problem says why it is not.
        v.problem(why);
        return Ok(v);
    }
    if !read.records.contains_key(MANIFEST) {
        v.problem(format!("{MANIFEST} missing"));
    }
    check_unlisted(&read, &mut v);
    check_summary(&read, &mut v);
    Ok(v)
}

/// Why reading stopped early: truncated (the input ended mid-way) or damaged.
fn broken_after(v: &Verification, ended: bool, last: Option<&str>, e: &ReadError) -> String {
    let how = if ended || e.is_truncated() {
        "truncated"
    } else {
        "damaged"
    };
    let last = last
        .map(|n| format!("last complete: {n}"))
        .unwrap_or_else(|| "none complete".into());
    format!(
        "{how} after {} entries ({last}): {e}; the manifest and summary at its end cannot be checked",
        v.entries
    )
}

/// Reads every entry, hashing each; checks the manifest's records as they stream past
/// and keeps the summary's text.
fn read_entries(
    hr: &mut HashingReader<Box<dyn Read + '_>>,
    v: &mut Verification,
) -> io::Result<Gathered> {
    let mut out = Gathered::default();
    let dec = zstd::stream::read::Decoder::new(hr)?;
    let mut ar = Reader::new(dec);
    let mut last: Option<String> = None;
    loop {
        let mut entry = match ar.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) => {
                out.stopped = Some((last, e));
                return Ok(out);
            }
        };
        let name = std::mem::take(&mut entry.header.name);
        let regular = entry.header.kind == Kind::Regular;
        let result = if regular && is_manifest(&name) {
            check_manifest_part(&mut entry, &mut out, v)
        } else if regular && name == SUMMARY.as_bytes() {
            read_summary(&mut entry, &mut out)
        } else if regular {
            hash(&mut entry)
        } else {
            Ok((None, 0))
        };
        let (sha, n) = match result {
            Ok(r) => r,
            Err(e) => {
                out.stopped = Some((last, e.into()));
                return Ok(out);
            }
        };
        v.entries += 1;
        remember(&mut out, &name, sha, n, v);
        last = Some(shown(&name));
    }
    // Read to the end, so the zstd frame checksum is checked and the file hash is whole.
    match ar.finish() {
        Ok((_, 0)) => {}
        Ok((_, nonzero)) => v.problem(format!(
            "{nonzero} bytes that are not zeros after the archive's end blocks: something was appended"
        )),
        Err(e) => out.stopped = Some((last, e)),
    }
    Ok(out)
}

/// Remembers one entry's hash, within [`MAX_ENTRIES`]; a name met twice is a problem
/// (GNU tar extracts the last of them).
fn remember(out: &mut Gathered, name: &[u8], sha: Option<[u8; 32]>, n: u64, v: &mut Verification) {
    if is_record(name) {
        let shown = shown(name);
        if out.records.contains_key(&shown) {
            v.problem(format!("{shown}: in the archive twice"));
        } else if out.records.len() >= MAX_RECORDS {
            v.problem(format!(
                "{shown}: more than {MAX_RECORDS} manifest parts and records"
            ));
        } else {
            out.records
                .insert(shown, sha.map(hex::encode).unwrap_or_default());
        }
        return;
    }
    let k = key(name);
    if out.seen.contains_key(&k) {
        v.problem(format!("{}: in the archive twice", shown(name)));
    }
    if out.seen.len() >= MAX_ENTRIES {
        if !out.too_many {
            out.too_many = true;
            v.problem(format!(
                "more than {MAX_ENTRIES} entries before the manifest part that lists them: the rest are hashed but not checked against the manifest"
            ));
        }
        return;
    }
    out.seen.insert(k, (sha, n));
    if out.names.len() < MAX_NAMES {
        out.names.push((k, shown(name)));
    }
}

/// Hashes what `r` holds, counting it; at most `keep` bytes of it go to `kept`.
fn hash_keeping(
    r: &mut dyn Read,
    keep: u64,
    kept: &mut Vec<u8>,
) -> io::Result<(Option<[u8; 32]>, u64)> {
    let mut hasher = Sha256::new();
    let mut n = 0u64;
    let mut buf = [0u8; 64 << 10];
    loop {
        let k = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..k]);
        let room = keep.saturating_sub(n).min(k as u64) as usize;
        kept.extend_from_slice(&buf[..room]);
        n += k as u64;
    }
    Ok((Some(hasher.finalize().into()), n))
}

fn hash(r: &mut dyn Read) -> io::Result<(Option<[u8; 32]>, u64)> {
    hash_keeping(r, 0, &mut Vec::new())
}

/// Reads the summary (at most [`MAX_SUMMARY`] bytes are kept), hashing all of it.
fn read_summary(r: &mut dyn Read, out: &mut Gathered) -> io::Result<(Option<[u8; 32]>, u64)> {
    out.summary.clear();
    hash_keeping(r, MAX_SUMMARY, &mut out.summary)
}

/// A reader that hashes and counts what passes through it.
struct Tee<'r> {
    inner: &'r mut dyn Read,
    hasher: Sha256,
    n: u64,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.hasher.update(&buf[..k]);
        self.n += k as u64;
        Ok(k)
    }
}

/// Streams one manifest part, checking each record against the entries already seen
/// (records are written after the entries they name), hashing the part as it goes.
fn check_manifest_part(
    r: &mut dyn Read,
    out: &mut Gathered,
    v: &mut Verification,
) -> io::Result<(Option<[u8; 32]>, u64)> {
    let mut tee = Tee {
        inner: r,
        hasher: Sha256::new(),
        n: 0,
    };
    let mut number = 0u64;
    let tally = {
        let mut buffered = io::BufReader::new(&mut tee);
        lines_within(&mut buffered, MAX_RECORD_LINE, |line| {
            number += 1;
            if !line.is_empty() {
                check_record(line, number, out, v);
            }
        })?
    };
    if tally.long > 0 {
        v.problem(format!(
            "{MANIFEST}: {} line(s) longer than {MAX_RECORD_LINE} bytes: a line longer than the bound is not a record",
            tally.long
        ));
    }
    Ok((Some(tee.hasher.finalize().into()), tee.n))
}

/// One manifest record against the entry it names.
fn check_record(line: &[u8], number: u64, out: &mut Gathered, v: &mut Verification) {
    v.manifest_records += 1;
    let rec: ManifestRecord = match serde_json::from_slice(line) {
        Ok(r) => r,
        Err(e) => {
            v.problem(format!("{MANIFEST}:{number}: not a record: {e}"));
            return;
        }
    };
    let Some(p) = rec.path_bytes() else { return };
    match out.seen.remove(&key(&p)) {
        None if !out.too_many => v.problem(format!(
            "{}: in the manifest, missing from the archive (or listed twice)",
            shown(&p)
        )),
        None => {}
        Some((sha, n)) => check_content(&p, sha, n, &rec, v),
    }
}

/// One entry's content against its record: a file's sha256 and size, a link a link.
fn check_content(
    p: &[u8],
    sha: Option<[u8; 32]>,
    n: u64,
    rec: &ManifestRecord,
    v: &mut Verification,
) {
    let kind = rec.kind.as_str();
    let Some(sha) = sha else {
        if rec.kind != ObjectKind::Symlink {
            v.problem(format!(
                "{}: a link in the archive, the manifest says {kind}",
                shown(p)
            ));
        }
        return;
    };
    let Some(want) = rec
        .sha256
        .as_deref()
        .filter(|_| rec.kind != ObjectKind::Symlink)
    else {
        v.problem(format!(
            "{}: a stored file, which the manifest gives as a {kind} without a sha256",
            shown(p)
        ));
        return;
    };
    let have = hex::encode(sha);
    if have != want {
        v.problem(format!(
            "{}: sha256 {have} does not match the manifest's {}",
            shown(p),
            shown(want.as_bytes())
        ));
    }
    if n != rec.size {
        v.problem(format!(
            "{}: {n} bytes, the manifest says {}",
            shown(p),
            rec.size
        ));
    }
}

/// Entries the manifest does not list (other than the records themselves): those no
/// record took out of `seen`.
fn check_unlisted(read: &Gathered, v: &mut Verification) {
    if read.too_many || read.seen.is_empty() {
        return;
    }
    // Name them where the names were kept; count them otherwise.
    let mut named = 0;
    let mut said = std::collections::HashSet::new();
    for (k, name) in &read.names {
        if read.seen.contains_key(k) && said.insert(k) {
            v.problem(format!("{name}: in the archive, not in the manifest"));
            named += 1;
        }
    }
    let rest = read.seen.len().saturating_sub(named);
    if rest > 0 {
        v.problem(format!(
            "{rest} more entries in the archive, not in the manifest"
        ));
    }
}

/// The summary's hashes of the manifest parts and the log.
fn check_summary(read: &Gathered, v: &mut Verification) {
    let s: SealRead = match serde_json::from_slice(&read.summary) {
        Ok(s) => s,
        Err(e) => {
            v.problem(format!("{SUMMARY} missing or unreadable: {e}"));
            return;
        }
    };
    v.cut_short = match (s.complete, &s.cut_short, s.timed_out) {
        (Some(_), Some(a), _) => Some(
            a.iter()
                .take(16)
                .map(|w| w.chars().take(500).collect())
                .collect(),
        ),
        // Before the summary listed them: the timeout was all it said.
        (_, _, Some(true)) => Some(vec!["--timeout reached".into()]),
        _ => None,
    };
    let sha_of = |file: &str| read.records.get(file).map(String::as_str);
    let mut expect = |file: &str, want: &str, what: &str| match sha_of(file) {
        Some(sha) if sha == want => {}
        Some(sha) => v.problem(format!(
            "{}: sha256 {sha} does not match the summary's {}",
            shown(file.as_bytes()),
            shown(want.as_bytes())
        )),
        None => v.problem(what.replace("{}", &shown(file.as_bytes()))),
    };
    let parts = s
        .manifest
        .as_ref()
        .map(|m| m.earlier_parts.clone())
        .unwrap_or_default();
    for part in &parts {
        expect(
            &part.path,
            &part.sha256,
            "{}: listed in the summary, missing from the archive",
        );
    }
    let manifest_sha = s
        .manifest
        .as_ref()
        .map(|m| m.sha256.clone())
        .unwrap_or_default();
    let log_sha = s.log.as_ref().map(|l| l.sha256.clone()).unwrap_or_default();
    expect(MANIFEST, &manifest_sha, "{} missing");
    expect(LOG, &log_sha, "{} missing");
    let listed = parts.len() + 1;
    let present = read
        .records
        .keys()
        .filter(|n| is_manifest(n.as_bytes()))
        .count();
    if present != listed {
        v.problem(format!(
            "{present} manifest parts in the archive, the summary lists {listed}"
        ));
    }
}

/// The `.sha256` file beside the archive, when there is one.
fn check_sidecar(path: &str, v: &mut Verification) {
    let mut side = std::ffi::OsString::from(path);
    side.push(".sha256");
    let Ok(f) = std::fs::File::open(Path::new(&side)) else {
        return;
    };
    let mut bytes = Vec::new();
    if f.take(4096).read_to_end(&mut bytes).is_err() {
        return;
    }
    // A file there that is not text is compared as it is, and so does not match.
    let text = String::from_utf8_lossy(&bytes);
    let want = text.split_whitespace().next().unwrap_or("");
    v.sidecar = Some(Path::new(&side).to_path_buf());
    if want != v.archive_sha256 {
        v.problem(format!(
            "archive sha256 {} does not match {} ({})",
            v.archive_sha256,
            Path::new(&side).display(),
            shown(want.as_bytes())
        ));
    }
}
