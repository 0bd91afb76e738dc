//! Opening files and directories for reading without side effects on the target:
//! `O_NOATIME` where the kernel allows it (owner or CAP_FOWNER), `O_NOFOLLOW` so a
//! symlink swapped in is never followed, and `O_NONBLOCK` so a FIFO swapped in between
//! listing and opening can never block the collector.

use super::meta::cstr;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use std::os::fd::{AsFd, OwnedFd};

fn open_with(dir: impl AsFd, name: &[u8], base: OFlags) -> std::io::Result<OwnedFd> {
    let c = cstr(if name.is_empty() { b"." } else { name })?;
    match rustix::fs::openat(&dir, &c, base | OFlags::NOATIME, Mode::empty()) {
        // O_NOATIME is refused with EPERM when we do not own the file and lack
        // CAP_FOWNER; reading then may update atime, which the log states once.
        Err(Errno::PERM) => Ok(rustix::fs::openat(&dir, &c, base, Mode::empty())?),
        other => Ok(other?),
    }
}

/// Opens a directory for listing.
pub fn open_dir(dir: impl AsFd, name: &[u8]) -> std::io::Result<OwnedFd> {
    open_with(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
    )
}

/// Opens what should be a regular file for reading. Fails with `InvalidInput` when the
/// object is not (or no longer) a regular file, so FIFOs and devices are never read.
pub fn open_regular(dir: impl AsFd, name: &[u8]) -> std::io::Result<OwnedFd> {
    let fd = open_with(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
    )?;
    let st = rustix::fs::fstat(&fd)?;
    if st.st_mode & 0o170000 != 0o100000 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file when opened",
        ));
    }
    Ok(fd)
}

/// True when `O_NOATIME` is honoured for this descriptor (it is silently kept only
/// when permitted, so the flag read back tells).
pub fn has_noatime(fd: impl AsFd) -> bool {
    rustix::fs::fcntl_getfl(fd)
        .map(|f| f.contains(OFlags::NOATIME))
        .unwrap_or(false)
}
