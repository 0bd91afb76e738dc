//! Reading an archive back: recomputes the sha256 of every entry, checks them against
//! the manifest, checks the manifest and log against the summary, the zstd checksum, and
//! the archive's own sha256 against `ARCHIVE.sha256` when that file is beside it.

use crate::archive::{is_manifest_name, ManifestRecord, LOG_NAME, MANIFEST_NAME, SUMMARY_NAME};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;

/// The outcome of a verification.
#[derive(Debug, Default)]
pub struct Verification {
    pub entries: u64,
    pub manifest_records: u64,
    pub archive_sha256: String,
    pub problems: Vec<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
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
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn sha_of(r: &mut dyn Read) -> io::Result<(String, u64, Vec<u8>)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut n = 0u64;
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                h.update(&buf[..k]);
                n += k as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((hex::encode(h.finalize()), n, Vec::new()))
}

/// Each entry's (sha256, size) by exact name; empty sha256 for non-regular entries.
type Seen = BTreeMap<Vec<u8>, (String, u64)>;

/// What reading the archive gave: every entry hashed, the manifest parts' text and
/// the summary's.
#[derive(Default)]
struct Gathered {
    seen: Seen,
    manifest: Vec<u8>,
    summary: Vec<u8>,
}

/// Verifies the archive at `path` (`-` for standard input).
pub fn verify(path: &str) -> io::Result<Verification> {
    let input: Box<dyn Read> = if path == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path)?)
    };
    let mut hr = HashingReader {
        inner: input,
        hasher: Sha256::new(),
    };
    let mut v = Verification::default();
    let read = read_entries(&mut hr, &mut v)?;
    let _ = io::copy(&mut hr.inner, &mut io::sink());
    v.archive_sha256 = hex::encode(hr.hasher.finalize());
    if !read.seen.contains_key(MANIFEST_NAME.as_bytes()) {
        v.problems.push(format!("{MANIFEST_NAME} missing"));
    }
    let listed = check_manifest(&read, &mut v);
    check_unlisted(&read.seen, &listed, &mut v);
    check_summary(&read, &mut v);
    if path != "-" {
        check_sidecar(path, &mut v);
    }
    Ok(v)
}

/// Reads every entry, hashing each; keeps the manifest and summary texts.
fn read_entries(
    hr: &mut HashingReader<Box<dyn Read + '_>>,
    v: &mut Verification,
) -> io::Result<Gathered> {
    let mut out = Gathered::default();
    let dec = zstd::stream::read::Decoder::new(hr)?;
    let mut ar = tar::Archive::new(dec);
    for entry in ar.entries()? {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                v.problems.push(format!("archive unreadable: {e}"));
                break;
            }
        };
        v.entries += 1;
        let name = entry.path_bytes().into_owned();
        if entry.header().entry_type() != tar::EntryType::Regular {
            out.seen.insert(name, (String::new(), 0));
            continue;
        }
        if is_manifest_name(&name) || name == SUMMARY_NAME.as_bytes() {
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf)?;
            let sha = hex::encode(Sha256::digest(&buf));
            out.seen.insert(name.clone(), (sha, buf.len() as u64));
            if is_manifest_name(&name) {
                out.manifest.extend_from_slice(&buf);
            } else {
                out.summary = buf;
            }
            continue;
        }
        match sha_of(&mut entry) {
            Ok((sha, n, _)) => {
                out.seen.insert(name, (sha, n));
            }
            Err(e) => {
                v.problems.push(format!(
                    "{}: unreadable: {e}",
                    String::from_utf8_lossy(&name)
                ));
                break;
            }
        }
    }
    // Drain to the end so the zstd frame checksum is checked and the file hash is whole.
    let mut rest = ar.into_inner();
    if let Err(e) = io::copy(&mut rest, &mut io::sink()) {
        v.problems.push(format!("compressed stream damaged: {e}"));
    }
    Ok(out)
}

/// Checks each manifest record against the entry it names; returns the names listed.
fn check_manifest(read: &Gathered, v: &mut Verification) -> BTreeMap<Vec<u8>, ()> {
    let mut in_manifest: BTreeMap<Vec<u8>, ()> = BTreeMap::new();
    for (i, line) in read.manifest.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        v.manifest_records += 1;
        let rec: ManifestLine = match serde_json::from_slice(line) {
            Ok(r) => r,
            Err(e) => {
                v.problems
                    .push(format!("{MANIFEST_NAME}:{}: not a record: {e}", i + 1));
                continue;
            }
        };
        let bytes = ManifestRecord {
            path: rec.path.clone(),
            path_hex: rec.path_hex.clone(),
            ..ManifestRecord::default()
        }
        .path_bytes();
        let Some(p) = bytes else { continue };
        let shown = String::from_utf8_lossy(&p).into_owned();
        in_manifest.insert(p.clone(), ());
        match (read.seen.get(&p), &rec.sha256) {
            (None, _) => v.problems.push(format!(
                "{shown}: in the manifest, missing from the archive"
            )),
            (Some((sha, n)), Some(want)) if rec.kind != "symlink" => {
                if sha != want {
                    v.problems.push(format!(
                        "{shown}: sha256 {sha} does not match the manifest's {want}"
                    ));
                }
                if *n != rec.size {
                    v.problems.push(format!(
                        "{shown}: {n} bytes, the manifest says {}",
                        rec.size
                    ));
                }
            }
            _ => {}
        }
    }
    in_manifest
}

/// Entries the manifest does not list (other than the records themselves).
fn check_unlisted(seen: &Seen, in_manifest: &BTreeMap<Vec<u8>, ()>, v: &mut Verification) {
    for name in seen.keys() {
        let special = is_manifest_name(name)
            || [LOG_NAME, SUMMARY_NAME]
                .iter()
                .any(|s| s.as_bytes() == name.as_slice());
        if !special && !in_manifest.contains_key(name) {
            v.problems.push(format!(
                "{}: in the archive, not in the manifest",
                String::from_utf8_lossy(name)
            ));
        }
    }
}

/// The summary's hashes of the manifest parts and the log.
fn check_summary(read: &Gathered, v: &mut Verification) {
    let s = match serde_json::from_slice::<serde_json::Value>(&read.summary) {
        Ok(s) => s,
        Err(e) => {
            v.problems
                .push(format!("{SUMMARY_NAME} missing or unreadable: {e}"));
            return;
        }
    };
    let seen = &read.seen;
    let parts = s["manifest"]["earlier_parts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for part in &parts {
        let file = part["path"].as_str().unwrap_or("");
        let want = part["sha256"].as_str().unwrap_or("");
        match seen.get(file.as_bytes()) {
            Some((sha, _)) if sha == want => {}
            Some((sha, _)) => v.problems.push(format!(
                "{file}: sha256 {sha} does not match the summary's {want}"
            )),
            None => v.problems.push(format!(
                "{file}: listed in the summary, missing from the archive"
            )),
        }
    }
    let listed = parts.len() + 1;
    let present = seen.keys().filter(|k| is_manifest_name(k)).count();
    if present != listed {
        v.problems.push(format!(
            "{present} manifest parts in the archive, the summary lists {listed}"
        ));
    }
    for (key, file) in [("manifest", MANIFEST_NAME), ("log", LOG_NAME)] {
        let want = s[key]["sha256"].as_str().unwrap_or("");
        match seen.get(file.as_bytes()) {
            Some((sha, _)) if sha == want => {}
            Some((sha, _)) => v.problems.push(format!(
                "{file}: sha256 {sha} does not match the summary's {want}"
            )),
            None => v.problems.push(format!("{file} missing")),
        }
    }
}

/// The `.sha256` file beside the archive, when there is one.
fn check_sidecar(path: &str, v: &mut Verification) {
    let mut side = std::ffi::OsString::from(path);
    side.push(".sha256");
    if let Ok(text) = std::fs::read_to_string(Path::new(&side)) {
        let want = text.split_whitespace().next().unwrap_or("");
        if want != v.archive_sha256 {
            v.problems.push(format!(
                "archive sha256 {} does not match {} ({want})",
                v.archive_sha256,
                Path::new(&side).display()
            ));
        }
    }
}
