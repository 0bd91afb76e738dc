//! Reading an archive back: recomputes the sha256 of every entry, checks them against
//! the manifest, checks the manifest and log against the summary, the zstd checksum, and
//! the archive's own sha256 against `ARCHIVE.sha256` when that file is beside it.
//!
//! An archive to verify may be hostile (a small file that decompresses into a huge
//! manifest, millions of entries), so memory stays bounded: the manifest is checked
//! line by line as it streams past (its records always name entries written before it),
//! each line is capped, what is remembered per entry is a digest of its name and of its
//! content, at most [`MAX_ENTRIES`] of them, and at most [`MAX_PROBLEMS`] problems are
//! kept (the rest are counted).

use crate::archive::{is_manifest_name, ManifestRecord, LOG_NAME, MANIFEST_NAME, SUMMARY_NAME};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, Read};
use std::path::Path;

/// The most entries whose hashes are remembered for the manifest to be checked against
/// (about 90 bytes each); past it, verification fails, saying so.
pub const MAX_ENTRIES: usize = 2_000_000;
/// The longest manifest line read; a longer one is a problem and skipped.
pub const MAX_LINE: usize = 1 << 20;
/// The most problems kept in full.
pub const MAX_PROBLEMS: usize = 1000;
/// The largest summary read.
pub const MAX_SUMMARY: u64 = 16 << 20;

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

    fn problem(&mut self, p: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        } else {
            self.more_problems += 1;
        }
    }
}

#[derive(Deserialize)]
struct ManifestLine {
    path: Option<String>,
    path_hex: Option<String>,
    size: u64,
    sha256: Option<String>,
    #[serde(rename = "type")]
    kind: String,
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    /// The input ended (a read returned nothing).
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

/// A reader that hashes what passes through it and counts it.
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

/// A 128-bit digest of an entry's name: what is remembered instead of the name.
type Key = [u8; 16];

fn key(name: &[u8]) -> Key {
    let d = Sha256::digest(name);
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    k
}

/// An entry's content as remembered: its sha256 (`None` for a non-regular entry) and
/// size.
type Seen = HashMap<Key, (Option<[u8; 32]>, u64)>;

/// What reading the archive gave, beyond the per-entry hashes.
#[derive(Default)]
struct Gathered {
    seen: Seen,
    /// Every name the manifest lists.
    listed: HashSet<Key>,
    /// Names of entries that are the collector's own records (manifest parts, log,
    /// summary), which the manifest does not list.
    records: Vec<(Vec<u8>, String)>,
    /// Names of the other entries, in order, only while few enough to name them in a
    /// problem; a digest of each is in `seen`.
    names: Vec<Vec<u8>>,
    summary: Vec<u8>,
    too_many: bool,
    /// Reading stopped early: the last complete entry's name, and why.
    stopped: Option<(Option<Vec<u8>>, io::Error)>,
}

/// The first bytes of every zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

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
        // Reading stopped early: where the input had ended, it is truncated.
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
    if !read
        .records
        .iter()
        .any(|(n, _)| n == MANIFEST_NAME.as_bytes())
    {
        v.problem(format!("{MANIFEST_NAME} missing"));
    }
    check_unlisted(&read, &mut v);
    check_summary(&read, &mut v);
    Ok(v)
}

/// Why reading stopped early: truncated (the input ended mid-way) or damaged.
fn broken_after(v: &Verification, ended: bool, last: Option<&[u8]>, e: &io::Error) -> String {
    let how = if ended || e.kind() == io::ErrorKind::UnexpectedEof {
        "truncated"
    } else {
        "damaged"
    };
    let last = last
        .map(|n| format!("last complete: {}", String::from_utf8_lossy(n)))
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
    let mut ar = tar::Archive::new(crate::archive::guard::Guarded::new(dec));
    let mut last: Option<Vec<u8>> = None;
    for entry in ar.entries()? {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                out.stopped = Some((last, e));
                return Ok(out);
            }
        };
        let name = entry.path_bytes().into_owned();
        let regular = entry.header().entry_type() == tar::EntryType::Regular;
        let result = if regular && is_manifest_name(&name) {
            check_manifest_part(&mut entry, &mut out, v)
        } else if regular && name == SUMMARY_NAME.as_bytes() {
            read_summary(&mut entry, &mut out)
        } else if regular {
            hash(&mut entry)
        } else {
            Ok((None, 0))
        };
        let (sha, n) = match result {
            Ok(r) => r,
            Err(e) => {
                out.stopped = Some((last, e));
                return Ok(out);
            }
        };
        v.entries += 1;
        remember(&mut out, &name, sha, n, v);
        last = Some(name);
    }
    // Drain to the end so the zstd frame checksum is checked and the file hash is whole.
    let mut rest = ar.into_inner();
    if let Err(e) = io::copy(&mut rest, &mut io::sink()) {
        out.stopped = Some((last, e));
    }
    Ok(out)
}

/// Remembers one entry's hash, within [`MAX_ENTRIES`].
fn remember(out: &mut Gathered, name: &[u8], sha: Option<[u8; 32]>, n: u64, v: &mut Verification) {
    let special =
        is_manifest_name(name) || name == LOG_NAME.as_bytes() || name == SUMMARY_NAME.as_bytes();
    if special {
        out.records
            .push((name.to_vec(), sha.map(hex::encode).unwrap_or_default()));
    }
    if out.seen.len() >= MAX_ENTRIES {
        if !out.too_many {
            out.too_many = true;
            v.problem(format!(
                "more than {MAX_ENTRIES} entries: the rest are hashed but not checked against the manifest"
            ));
        }
        return;
    }
    out.seen.insert(key(name), (sha, n));
    if !special && out.names.len() < MAX_PROBLEMS * 10 {
        out.names.push(name.to_vec());
    }
}

/// Hashes an entry to its end.
fn hash(r: &mut dyn Read) -> io::Result<(Option<[u8; 32]>, u64)> {
    let mut tee = Tee {
        inner: r,
        hasher: Sha256::new(),
        n: 0,
    };
    io::copy(&mut tee, &mut io::sink())?;
    Ok((Some(tee.hasher.finalize().into()), tee.n))
}

/// Reads the summary (at most [`MAX_SUMMARY`] bytes are kept), hashing all of it.
fn read_summary(r: &mut dyn Read, out: &mut Gathered) -> io::Result<(Option<[u8; 32]>, u64)> {
    let mut tee = Tee {
        inner: r,
        hasher: Sha256::new(),
        n: 0,
    };
    out.summary.clear();
    (&mut tee).take(MAX_SUMMARY).read_to_end(&mut out.summary)?;
    io::copy(&mut tee, &mut io::sink())?;
    Ok((Some(tee.hasher.finalize().into()), tee.n))
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
    let mut lines = io::BufReader::new(&mut tee);
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let n = (&mut lines)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        number += 1;
        if line.len() > MAX_LINE && !line.ends_with(b"\n") {
            v.problem(format!(
                "{MANIFEST_NAME}:{number}: a line longer than {MAX_LINE} bytes"
            ));
            skip_line(&mut lines)?;
            continue;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if !text.is_empty() {
            check_record(text, number, out, v);
        }
    }
    drop(lines);
    Ok((Some(tee.hasher.finalize().into()), tee.n))
}

fn skip_line(r: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                r.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    }
}

/// One manifest record against the entry it names.
fn check_record(line: &[u8], number: u64, out: &mut Gathered, v: &mut Verification) {
    v.manifest_records += 1;
    let rec: ManifestLine = match serde_json::from_slice(line) {
        Ok(r) => r,
        Err(e) => {
            v.problem(format!("{MANIFEST_NAME}:{number}: not a record: {e}"));
            return;
        }
    };
    let bytes = ManifestRecord {
        path: rec.path.clone(),
        path_hex: rec.path_hex.clone(),
        ..ManifestRecord::default()
    }
    .path_bytes();
    let Some(p) = bytes else { return };
    let shown = String::from_utf8_lossy(&p).into_owned();
    let k = key(&p);
    if out.listed.len() < MAX_ENTRIES {
        out.listed.insert(k);
    }
    match (out.seen.get(&k), &rec.sha256) {
        (None, _) if !out.too_many => v.problem(format!(
            "{shown}: in the manifest, missing from the archive"
        )),
        (Some((sha, n)), Some(want)) if rec.kind != "symlink" => {
            let have = sha.map(hex::encode).unwrap_or_default();
            if &have != want {
                v.problem(format!(
                    "{shown}: sha256 {have} does not match the manifest's {want}"
                ));
            }
            if *n != rec.size {
                v.problem(format!(
                    "{shown}: {n} bytes, the manifest says {}",
                    rec.size
                ));
            }
        }
        _ => {}
    }
}

/// Entries the manifest does not list (other than the records themselves).
fn check_unlisted(read: &Gathered, v: &mut Verification) {
    if read.too_many {
        return;
    }
    let unlisted = read
        .seen
        .keys()
        .filter(|k| !read.listed.contains(*k))
        .count();
    let records = read.records.len();
    if unlisted <= records {
        return;
    }
    // Name them where the names were kept; count them otherwise.
    let mut named = 0;
    for name in &read.names {
        if !read.listed.contains(&key(name)) {
            v.problem(format!(
                "{}: in the archive, not in the manifest",
                String::from_utf8_lossy(name)
            ));
            named += 1;
        }
    }
    let rest = unlisted - records - named;
    if rest > 0 {
        v.problem(format!(
            "{rest} more entries in the archive, not in the manifest"
        ));
    }
}

/// The summary's hashes of the manifest parts and the log.
fn check_summary(read: &Gathered, v: &mut Verification) {
    let s = match serde_json::from_slice::<serde_json::Value>(&read.summary) {
        Ok(s) => s,
        Err(e) => {
            v.problem(format!("{SUMMARY_NAME} missing or unreadable: {e}"));
            return;
        }
    };
    v.cut_short = match (&s["complete"], &s["cut_short"], &s["timed_out"]) {
        (serde_json::Value::Bool(_), serde_json::Value::Array(a), _) => Some(
            a.iter()
                .take(16)
                .map(|w| w.as_str().unwrap_or("?").chars().take(500).collect())
                .collect(),
        ),
        // Before the summary listed them: the timeout was all it said.
        (_, _, serde_json::Value::Bool(true)) => Some(vec!["--timeout reached".into()]),
        _ => None,
    };
    let sha_of = |file: &str| {
        read.records
            .iter()
            .find(|(n, _)| n == file.as_bytes())
            .map(|(_, sha)| sha.as_str())
    };
    let parts = s["manifest"]["earlier_parts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for part in &parts {
        let file = part["path"].as_str().unwrap_or("");
        let want = part["sha256"].as_str().unwrap_or("");
        match sha_of(file) {
            Some(sha) if sha == want => {}
            Some(sha) => v.problem(format!(
                "{file}: sha256 {sha} does not match the summary's {want}"
            )),
            None => v.problem(format!(
                "{file}: listed in the summary, missing from the archive"
            )),
        }
    }
    let listed = parts.len() + 1;
    let present = read
        .records
        .iter()
        .filter(|(n, _)| is_manifest_name(n))
        .count();
    if present != listed {
        v.problem(format!(
            "{present} manifest parts in the archive, the summary lists {listed}"
        ));
    }
    for (key, file) in [("manifest", MANIFEST_NAME), ("log", LOG_NAME)] {
        let want = s[key]["sha256"].as_str().unwrap_or("");
        match sha_of(file) {
            Some(sha) if sha == want => {}
            Some(sha) => v.problem(format!(
                "{file}: sha256 {sha} does not match the summary's {want}"
            )),
            None => v.problem(format!("{file} missing")),
        }
    }
}

/// The `.sha256` file beside the archive, when there is one.
fn check_sidecar(path: &str, v: &mut Verification) {
    let mut side = std::ffi::OsString::from(path);
    side.push(".sha256");
    let Ok(f) = std::fs::File::open(Path::new(&side)) else {
        return;
    };
    let mut text = String::new();
    if f.take(4096).read_to_string(&mut text).is_err() {
        return;
    }
    let want = text.split_whitespace().next().unwrap_or("");
    v.sidecar = Some(Path::new(&side).to_path_buf());
    if want != v.archive_sha256 {
        v.problem(format!(
            "archive sha256 {} does not match {} ({want})",
            v.archive_sha256,
            Path::new(&side).display()
        ));
    }
}
