//! Access to the kernel's /proc, wherever `--proc` says it is mounted: bounded reads of
//! its files, and per-process directories held open by descriptor, so a PID reused by
//! a new process mid-scan is never confused with the one being read (its files then
//! fail with ESRCH). Every read of procfs in the collector goes through [`ProcFs`].

use rustix::fs::{Mode, OFlags};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Default cap on one /proc file read (maps of a huge process, a long environ).
pub const READ_LIMIT: usize = 8 << 20;

fn open_at(dir: impl AsFd, name: &str, flags: OFlags) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dir,
        name,
        flags | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )?)
}

fn read_fd(fd: OwnedFd, limit: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    std::fs::File::from(fd)
        .take(limit as u64)
        .read_to_end(&mut out)?;
    Ok(out)
}

fn read_at(dir: impl AsFd, name: &str, limit: usize) -> io::Result<Vec<u8>> {
    read_fd(
        open_at(dir, name, OFlags::RDONLY | OFlags::NONBLOCK)?,
        limit,
    )
}

fn numeric_entries(dir: OwnedFd) -> io::Result<Vec<i32>> {
    let mut out = Vec::new();
    for entry in rustix::fs::Dir::read_from(&dir)? {
        let entry = entry?;
        if let Ok(n) = entry.file_name().to_string_lossy().parse::<i32>() {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// A procfs mount (normally `/proc`).
#[derive(Debug)]
pub struct ProcFs {
    base: PathBuf,
    dir: OwnedFd,
}

impl ProcFs {
    pub fn open(base: &Path) -> io::Result<ProcFs> {
        let dir = rustix::fs::open(
            base,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(ProcFs {
            base: base.to_path_buf(),
            dir,
        })
    }

    /// The mount point, for messages (`/proc`).
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// The PIDs visible now, in ascending order.
    pub fn pids(&self) -> io::Result<Vec<i32>> {
        numeric_entries(open_at(&self.dir, ".", OFlags::RDONLY | OFlags::DIRECTORY)?)
    }

    /// Reads a file under the mount (`net/tcp`, `self/mountinfo`), at most `limit` bytes.
    pub fn read(&self, rel: &str, limit: usize) -> io::Result<Vec<u8>> {
        read_at(&self.dir, rel, limit)
    }

    /// Opens one process's directory; fails if it has exited.
    pub fn process(&self, pid: i32) -> io::Result<ProcDir> {
        let fd = open_at(
            &self.dir,
            &pid.to_string(),
            OFlags::RDONLY | OFlags::DIRECTORY,
        )?;
        Ok(ProcDir {
            pid,
            fd,
            base: self.base.clone(),
        })
    }

    /// `PID/root` (or `self/root`) under the mount: another process's root directory.
    pub fn root_path(&self, pid: &str) -> PathBuf {
        self.base.join(pid).join("root")
    }

    /// (device, inode) of what `rel` (such as `self/exe`) points to, links followed,
    /// in [`super::meta::dev_id`] form.
    pub fn identity(&self, rel: &str) -> io::Result<(u64, u64)> {
        let st = rustix::fs::statat(&self.dir, rel, rustix::fs::AtFlags::empty())?;
        Ok((super::meta::dev_of(st.st_dev), st.st_ino))
    }
}

/// One process's /proc directory, held open.
#[derive(Debug)]
pub struct ProcDir {
    pub pid: i32,
    fd: OwnedFd,
    base: PathBuf,
}

impl ProcDir {
    /// `/proc/PID/<name>` as a display path.
    pub fn path(&self, name: &str) -> String {
        format!("{}/{}/{name}", self.base.display(), self.pid)
    }

    /// (device, inode) of what `name` (such as `root` or `exe`) points to.
    pub fn identity(&self, name: &str) -> io::Result<(u64, u64)> {
        let st = rustix::fs::statat(&self.fd, name, rustix::fs::AtFlags::empty())?;
        Ok((super::meta::dev_of(st.st_dev), st.st_ino))
    }

    pub fn read(&self, name: &str, limit: usize) -> io::Result<Vec<u8>> {
        read_at(&self.fd, name, limit)
    }

    /// The target of a symlink such as `exe`, `cwd` or `fd/3`, exact bytes.
    pub fn readlink(&self, name: &str) -> io::Result<Vec<u8>> {
        Ok(rustix::fs::readlinkat(&self.fd, name, Vec::new())?.into_bytes())
    }

    /// Opens a file through its magic link (`exe`): works even when it was deleted.
    pub fn open(&self, name: &str) -> io::Result<std::fs::File> {
        Ok(std::fs::File::from(open_at(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::NONBLOCK,
        )?))
    }

    /// Descriptor numbers in `fd/`.
    pub fn fds(&self) -> io::Result<Vec<i32>> {
        numeric_entries(open_at(&self.fd, "fd", OFlags::RDONLY | OFlags::DIRECTORY)?)
    }

    /// Thread IDs in `task/`.
    pub fn tasks(&self) -> io::Result<Vec<i32>> {
        numeric_entries(open_at(
            &self.fd,
            "task",
            OFlags::RDONLY | OFlags::DIRECTORY,
        )?)
    }

    /// Namespace links in `ns/` as (name, inode).
    pub fn namespaces(&self) -> io::Result<Vec<(String, u64)>> {
        let dir = open_at(&self.fd, "ns", OFlags::RDONLY | OFlags::DIRECTORY)?;
        let mut out = Vec::new();
        for entry in rustix::fs::Dir::read_from(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if let Ok(target) = rustix::fs::readlinkat(&dir, entry.file_name(), Vec::new()) {
                // `net:[4026531840]`
                let t = target.to_string_lossy();
                if let Some(ino) = t
                    .split_once('[')
                    .and_then(|(_, r)| r.trim_end_matches(']').parse().ok())
                {
                    out.push((name, ino));
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

/// True when an error means the process went away while it was read.
pub fn vanished(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(code) if code == rustix::io::Errno::SRCH.raw_os_error()
            || code == rustix::io::Errno::NOENT.raw_os_error()
    )
}

/// Seconds since the epoch at which the system booted (`btime` in /proc/stat).
pub fn boot_time(proc: &ProcFs) -> Option<i64> {
    let stat = proc.read("stat", 1 << 20).ok()?;
    String::from_utf8_lossy(&stat)
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// Kernel clock ticks per second (USER_HZ), for `starttime` and CPU times.
pub fn ticks_per_second() -> u64 {
    rustix::param::clock_ticks_per_second().max(1)
}
