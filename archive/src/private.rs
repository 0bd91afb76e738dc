//! Files for the responder: evidence, pages, timelines and case records hold command
//! lines, shell histories and log tails, so everything cairn writes for the responder
//! is created here, owner-only (files 0600, directories 0700), and never through a
//! link: a file is created with `O_CREAT|O_EXCL|O_NOFOLLOW`, so whatever someone placed
//! at the name first (a file, a symlink to one) makes the creation fail instead of being
//! written through.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// The mode of every file cairn writes for the responder.
pub const FILE_MODE: u32 = 0o600;
/// The mode of every directory cairn creates for the responder.
pub const DIR_MODE: u32 = 0o700;

/// Creates `path` (0600); fails when anything is at that name, a symlink included.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(|e| named(e, path))
}

/// Creates `path` (0600) in place of what is there (`--force`): a file or a symlink at
/// that name is removed first (the link itself, never what it points to), then the new
/// file is created as [`create_new`] does.
pub fn replace(path: &Path) -> io::Result<File> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(named(e, path)),
    }
    create_new(path)
}

/// [`create_new`], or [`replace`] when `force`.
pub fn create(path: &Path, force: bool) -> io::Result<File> {
    if force {
        replace(path)
    } else {
        create_new(path)
    }
}

/// Writes `bytes` to a new file at `path` (see [`create_new`]).
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = create_new(path)?;
    f.write_all(bytes).map_err(|e| named(e, path))?;
    f.sync_all().map_err(|e| named(e, path))
}

/// Creates `path` and any missing parents (0700 each). A directory that already
/// exists keeps its mode: it is the responder's.
pub fn dir_all(path: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
        .map_err(|e| named(e, path))
}

/// The error with the path in its message, and what an existing name means.
fn named(e: io::Error, path: &Path) -> io::Error {
    let what = if e.kind() == io::ErrorKind::AlreadyExists {
        "exists, and cairn does not write over a file or through a link".to_owned()
    } else if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        "is a symlink, and cairn does not write through a link".to_owned()
    } else {
        e.to_string()
    };
    io::Error::new(e.kind(), format!("{}: {what}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_are_owner_only_and_never_written_over() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("page.html");
        write_new(&p, b"one").unwrap();
        assert_eq!(mode(&p), 0o600);
        let e = write_new(&p, b"two").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(e.to_string().contains("page.html"), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
    }

    #[test]
    fn a_symlink_at_the_name_is_never_written_through() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let link = d.path().join("out.csv");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(create_new(&link).is_err());
        let dangling = d.path().join("dangling");
        std::os::unix::fs::symlink(d.path().join("nowhere"), &dangling).unwrap();
        assert!(create_new(&dangling).is_err());
        assert!(!d.path().join("nowhere").exists());
        // --force replaces the link itself, and the file it pointed to is untouched.
        let mut f = replace(&link).unwrap();
        f.write_all(b"new").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert_eq!(std::fs::read(&link).unwrap(), b"new");
        assert_eq!(mode(&link), 0o600);
    }

    #[test]
    fn new_directories_are_owner_only_and_existing_ones_kept() {
        let d = tempfile::tempdir().unwrap();
        let deep = d.path().join("a/b/c");
        dir_all(&deep).unwrap();
        for p in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&d.path().join(p)), 0o700, "{p}");
        }
        std::fs::set_permissions(d.path().join("a"), std::fs::Permissions::from_mode(0o750))
            .unwrap();
        dir_all(&deep).unwrap();
        assert_eq!(mode(&d.path().join("a")), 0o750);
    }
}
