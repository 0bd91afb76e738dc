//! UAC's `find`-style filters: which walked objects an artifact entry matches.

use crate::source::walk::Entry;
use crate::source::Kind;
use crate::spec::{Artifact, CollectorKind};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

fn base_name(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

/// True when the directory must not be descended into (`exclude_path_pattern`, like
/// `find -path P -prune`).
pub fn prunes(art: &Artifact, entry: &Entry<'_>) -> bool {
    art.exclude_path_pattern
        .as_ref()
        .is_some_and(|g| g.is_match(OsStr::from_bytes(entry.path)))
}

/// True when the entry satisfies every test of the artifact. `date_range` is the
/// collection's `(start, end)` in epoch seconds, if any.
pub fn matches(art: &Artifact, entry: &Entry<'_>, date_range: Option<(i64, i64)>) -> bool {
    let meta = entry.meta;
    let kind = meta.kind();
    if art.min_depth.is_some_and(|d| entry.depth < d) {
        return false;
    }
    match &art.file_type {
        Some(types) if !types.contains(&kind.letter()) => return false,
        Some(_) => {}
        // A file collector copies everything but directories (whose contents it walks).
        None if art.collector == CollectorKind::File && kind == Kind::Dir => return false,
        // Hashes are of regular files only.
        None if art.collector == CollectorKind::Hash && kind != Kind::File => return false,
        None => {}
    }
    let name = OsStr::from_bytes(base_name(entry.path));
    let path = OsStr::from_bytes(entry.path);
    if art.name_pattern.as_ref().is_some_and(|g| !g.is_match(name))
        || art
            .exclude_name_pattern
            .as_ref()
            .is_some_and(|g| g.is_match(name))
        || art.path_pattern.as_ref().is_some_and(|g| !g.is_match(path))
        || art
            .exclude_path_pattern
            .as_ref()
            .is_some_and(|g| g.is_match(path))
    {
        return false;
    }
    if kind == Kind::File
        && (art.max_file_size.is_some_and(|m| meta.size > m)
            || art.min_file_size.is_some_and(|m| meta.size < m))
    {
        return false;
    }
    if !art.permissions.is_empty() && !art.permissions.iter().any(|p| p.matches(meta.mode)) {
        return false;
    }
    if let Some((start, end)) = date_range {
        if !art.ignore_date_range && kind != Kind::Dir {
            let within = |t: (i64, u32)| t.0 >= start && t.0 <= end;
            if !(within(meta.mtime) || within(meta.atime) || within(meta.ctime)) {
                return false;
            }
        }
    }
    true
}
