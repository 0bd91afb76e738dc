//! UAC's `find`-style filters: which walked objects an artifact entry matches.

use crate::source::walk::Entry;
use crate::source::Kind;
use crate::spec::{Artifact, CollectorKind};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

fn base_name(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

/// True when the entry names something the artifact excludes: its path matches
/// `exclude_path_pattern`, or its name `exclude_name_pattern`. As UAC's `-prune`
/// groups, an excluded directory is not descended into either.
pub fn excluded(art: &Artifact, entry: &Entry<'_>) -> bool {
    art.exclude_path_pattern
        .as_ref()
        .is_some_and(|g| g.is_match(OsStr::from_bytes(entry.path)))
        || art
            .exclude_name_pattern
            .as_ref()
            .is_some_and(|g| g.is_match(OsStr::from_bytes(base_name(entry.path))))
}

/// True when the entry passes every test of the artifact, as UAC's `find` expression
/// does. `date_range` is the collection's `(start, end)` in epoch seconds, if any.
///
/// As in `find`: sizes are strict (`-size -Nc` is less than N bytes) and apply to every
/// kind (a directory's or a link's own size); the date test is the modification or the
/// change time (UAC's default; access times are not evidence of anything) and applies
/// to directories too. A `file` entry without `file_type` matches directories as well:
/// the visitor then takes them whole.
pub fn matches(art: &Artifact, entry: &Entry<'_>, date_range: Option<(i64, i64)>) -> bool {
    let meta = entry.meta;
    let kind = meta.kind();
    if art.min_depth.is_some_and(|d| entry.depth < d) {
        return false;
    }
    match &art.file_type {
        Some(types) if !types.contains(&kind.letter()) => return false,
        Some(_) => {}
        // Hashes are of regular files only.
        None if art.collector == CollectorKind::Hash && kind != Kind::File => return false,
        None => {}
    }
    let name = OsStr::from_bytes(base_name(entry.path));
    let path = OsStr::from_bytes(entry.path);
    if art.name_pattern.as_ref().is_some_and(|g| !g.is_match(name))
        || art.path_pattern.as_ref().is_some_and(|g| !g.is_match(path))
        || excluded(art, entry)
    {
        return false;
    }
    if art.max_file_size.is_some_and(|m| meta.size >= m)
        || art.min_file_size.is_some_and(|m| meta.size <= m)
    {
        return false;
    }
    if !art.permissions.is_empty() && !art.permissions.iter().any(|p| p.matches(meta.mode)) {
        return false;
    }
    if let Some((start, end)) = date_range {
        if !art.ignore_date_range {
            let within = |t: (i64, u32)| t.0 >= start && t.0 <= end;
            if !(within(meta.mtime) || within(meta.ctime)) {
                return false;
            }
        }
    }
    true
}
