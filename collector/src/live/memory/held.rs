//! Files a process still holds open but that are gone from the filesystem: deleted
//! files (`/proc/PID/fd/N` → `/path (deleted)`) and memfd files (`/memfd:NAME`), where
//! fileless payloads live. Each is copied through its descriptor's magic link, which
//! still reaches the inode, up to a cap, into `live_response/memory/fds/PID_FD_NAME`,
//! once per file however many descriptors share it, and recorded with its process and
//! descriptor.

use super::super::Emit;
use crate::source::procfs::ProcDir;
use cairn_archive::records::memory::HeldFile;
use cairn_archive::text::escape;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;

/// The most bytes copied of one held file.
pub const COPY_CAP: u64 = 100 << 20;
/// Where the copies go: `<prefix><pid>_<fd>_<name>`.
pub const COPIES: &str = "live_response/memory/fds/";

/// Whether a descriptor's link names a file that is gone: deleted, or a memfd.
pub fn gone(link: &[u8]) -> bool {
    link.starts_with(b"/memfd:") || (link.starts_with(b"/") && link.ends_with(b" (deleted)"))
}

/// Copies the gone files `pid` holds open; `seen` maps (dev, inode) to the copy made
/// already. Returns the records and how many descriptors could not be read.
pub fn copy(
    dir: &ProcDir,
    pid: i32,
    seen: &mut HashMap<(u64, u64), HeldFile>,
    emit: &mut dyn Emit,
    artifact: &str,
) -> (Vec<HeldFile>, u64) {
    let mut out = Vec::new();
    let mut failed = 0;
    for fd in dir.fds().unwrap_or_default() {
        let name = format!("fd/{fd}");
        let Ok(link) = dir.readlink(&name) else {
            continue;
        };
        if !gone(&link) {
            continue;
        }
        let opened = dir.open(&name).and_then(|f| Ok((f.metadata()?, f)));
        let (meta, mut file) = match opened {
            Ok(x) if x.0.is_file() => x,
            Ok(_) => continue,
            Err(_) => {
                failed += 1;
                continue;
            }
        };
        let key = (meta.dev(), meta.ino());
        if let Some(first) = seen.get(&key) {
            out.push(HeldFile {
                fd,
                ..first.clone()
            });
            continue;
        }
        let mut rec = HeldFile {
            fd,
            target: escape(&link),
            size: meta.len(),
            ..HeldFile::default()
        };
        let base = link.strip_suffix(b" (deleted)").unwrap_or(&link);
        let base = base.rsplit(|&b| b == b'/').next().unwrap_or(b"file");
        let mut member = format!("{COPIES}{pid}_{fd}_").into_bytes();
        member.extend(
            base.iter()
                .map(|&b| if b == 0 || b == b'/' { b'_' } else { b }),
        );
        let source = dir.path(&name);
        match emit.copy(artifact, &member, source.as_bytes(), &mut file, COPY_CAP) {
            Ok(c) => {
                rec.copy = Some(c.archive_path);
                rec.sha256 = c.complete.then_some(c.sha256);
                rec.complete = c.complete;
            }
            Err(_) => failed += 1,
        }
        seen.insert(key, rec.clone());
        out.push(rec);
    }
    (out, failed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn deleted_files_and_memfds_are_gone_and_the_rest_is_not() {
        for link in [
            &b"/tmp/x (deleted)"[..],
            b"/memfd:payload (deleted)",
            b"/memfd:x",
        ] {
            assert!(super::gone(link), "{}", String::from_utf8_lossy(link));
        }
        for link in [
            &b"/tmp/x"[..],
            b"socket:[123]",
            b"pipe:[4]",
            b"anon_inode:[eventfd]",
        ] {
            assert!(!super::gone(link), "{}", String::from_utf8_lossy(link));
        }
    }
}
