//! Archives as the collector lays them out (entries, then the manifest, the log and a
//! summary that seals both), written with the crate's own writer, and read back whole.
#![allow(dead_code)]

use cairn_archive::member::{LOG, MANIFEST, SUMMARY};
use cairn_archive::read::{self, Kind};
use cairn_archive::records::summary::{LogSeal, ManifestSeal, Seal};
use cairn_archive::records::{ManifestRecord, ObjectKind, Status};
use cairn_archive::write::{ArchiveWriter, EntryHeader, Spool};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// One entry to write: a regular file, or a symlink.
#[derive(Debug, Clone)]
pub enum Item {
    File(Vec<u8>, Vec<u8>),
    Link(Vec<u8>, Vec<u8>),
}

fn header() -> EntryHeader {
    EntryHeader {
        mode: 0o644,
        uid: 1000,
        gid: 1000,
        mtime: 1_700_000_000,
    }
}

/// Writes `items` as a collection into `path`.
pub fn write_collection(path: &Path, items: &[Item]) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = ArchiveWriter::new(f, 0).unwrap();
    let mut manifest = Spool::new();
    for item in items {
        let name = match item {
            Item::File(n, _) | Item::Link(n, _) => n,
        };
        let (source, source_hex) =
            cairn_archive::text::lossless(name.strip_prefix(b"files").unwrap_or(name));
        let mut rec = ManifestRecord {
            source,
            source_hex,
            kind: ObjectKind::File,
            artifact: "test".into(),
            status: Some(Status::Complete),
            ..ManifestRecord::default()
        };
        match item {
            Item::File(name, data) => {
                let o = w
                    .append_stream(name, &header(), data.len() as u64, &mut &data[..], &|| {
                        false
                    })
                    .unwrap();
                rec.sha256 = Some(o.sha256);
                rec.size = data.len() as u64;
                rec.set_path(name);
            }
            Item::Link(name, target) => {
                w.append_symlink(name, &header(), target).unwrap();
                rec.kind = ObjectKind::Symlink;
                rec.set_path(name);
            }
        }
        let mut line = serde_json::to_vec(&rec).unwrap();
        line.push(b'\n');
        manifest.push(&line);
    }
    let mut log = Spool::new();
    log.push(b"");
    let log_sha = w.append_spool(LOG.as_bytes(), &header(), &mut log).unwrap();
    let size = manifest.len();
    let manifest_sha = w
        .append_spool(MANIFEST.as_bytes(), &header(), &mut manifest)
        .unwrap();
    let seal = Seal {
        complete: true,
        cut_short: vec![],
        log: LogSeal {
            path: LOG.into(),
            sha256: log_sha,
            size: 0,
            warnings: 0,
            errors: 0,
        },
        manifest: ManifestSeal {
            path: MANIFEST.into(),
            sha256: manifest_sha,
            size,
            earlier_parts: vec![],
        },
    };
    let text = serde_json::to_vec_pretty(&seal).unwrap();
    w.append_bytes(SUMMARY.as_bytes(), &header(), &text)
        .unwrap();
    w.finish().unwrap().flush().unwrap();
}

/// An entry as the reader gives it: name, kind, link, data.
pub type ReadBack = (Vec<u8>, Kind, Option<Vec<u8>>, Vec<u8>);

/// Every entry of the archive at `path`.
pub fn read_back(path: &Path) -> Vec<ReadBack> {
    let mut out = Vec::new();
    read::members(path, |e| {
        let mut data = Vec::new();
        e.read_to_end(&mut data)?;
        out.push((
            e.header.name.clone(),
            e.header.kind,
            e.header.link.clone(),
            data,
        ));
        Ok::<(), std::io::Error>(())
    })
    .unwrap();
    out
}

/// A temporary archive path.
pub fn temp() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("a.tar.zst");
    (d, p)
}

/// `bytes` (a raw tar stream) compressed into a file.
pub fn zstd_file(path: &Path, bytes: &[u8]) {
    std::fs::write(path, zstd::encode_all(bytes, 3).unwrap()).unwrap();
}
