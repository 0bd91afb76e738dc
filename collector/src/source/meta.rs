//! File metadata as the collector records it, read with `statx` (birth time included
//! where the kernel and filesystem give it), with a plain `fstatat` fallback for old kernels.

use cairn_archive::records::{ManifestRecord, ObjectKind};
use cairn_archive::text::{lossless, octal_mode, rfc3339};
use rustix::fs::{AtFlags, StatxFlags};
use std::os::fd::AsFd;

/// What kind of filesystem object an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Unknown,
}

impl Kind {
    /// From the `st_mode` file-type bits.
    pub fn from_mode(mode: u32) -> Kind {
        match mode & 0o170000 {
            0o100000 => Kind::File,
            0o040000 => Kind::Dir,
            0o120000 => Kind::Symlink,
            0o010000 => Kind::Fifo,
            0o140000 => Kind::Socket,
            0o020000 => Kind::CharDevice,
            0o060000 => Kind::BlockDevice,
            _ => Kind::Unknown,
        }
    }

    /// The kind as records name it.
    pub fn object(self) -> ObjectKind {
        match self {
            Kind::File => ObjectKind::File,
            Kind::Dir => ObjectKind::Dir,
            Kind::Symlink => ObjectKind::Symlink,
            Kind::Fifo => ObjectKind::Fifo,
            Kind::Socket => ObjectKind::Socket,
            Kind::CharDevice => ObjectKind::CharDevice,
            Kind::BlockDevice => ObjectKind::BlockDevice,
            Kind::Unknown => ObjectKind::Unknown,
        }
    }

    /// The name used in the manifest and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "dir",
            Kind::Symlink => "symlink",
            Kind::Fifo => "fifo",
            Kind::Socket => "socket",
            Kind::CharDevice => "char_device",
            Kind::BlockDevice => "block_device",
            Kind::Unknown => "unknown",
        }
    }

    /// The single letter of `find -type` and UAC's `file_type`.
    pub fn letter(self) -> char {
        match self {
            Kind::File => 'f',
            Kind::Dir => 'd',
            Kind::Symlink => 'l',
            Kind::Fifo => 'p',
            Kind::Socket => 's',
            Kind::CharDevice => 'c',
            Kind::BlockDevice => 'b',
            Kind::Unknown => '?',
        }
    }
}

/// A timestamp: seconds and nanoseconds since the epoch.
pub type Time = (i64, u32);

/// Metadata of one filesystem object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// Allocated 512-byte blocks (sparse files have far fewer than `size / 512`).
    pub blocks: u64,
    pub ino: u64,
    pub dev: u64,
    pub nlink: u64,
    pub rdev: (u32, u32),
    pub dev_pair: (u32, u32),
    pub atime: Time,
    pub mtime: Time,
    pub ctime: Time,
    pub btime: Option<Time>,
}

impl Meta {
    pub fn kind(&self) -> Kind {
        Kind::from_mode(self.mode)
    }

    /// True when far less is allocated than the apparent size (a sparse file).
    pub fn is_sparse(&self) -> bool {
        self.size > 1 << 20 && self.blocks.saturating_mul(512) < self.size / 2
    }

    /// A manifest record for the object at `source` on the root, filled from this
    /// metadata; what became of it is for the caller to set.
    pub fn record(&self, source: &[u8], artifact: &str) -> ManifestRecord {
        let (s, s_hex) = lossless(source);
        let kind = self.kind();
        ManifestRecord {
            source: s,
            source_hex: s_hex,
            kind: kind.object(),
            source_size: self.size,
            mode: octal_mode(self.mode),
            uid: self.uid,
            gid: self.gid,
            inode: self.ino,
            nlink: self.nlink,
            mtime: rfc3339(self.mtime.0, self.mtime.1),
            atime: rfc3339(self.atime.0, self.atime.1),
            ctime: rfc3339(self.ctime.0, self.ctime.1),
            btime: self.btime.map(|b| rfc3339(b.0, b.1)),
            device: matches!(kind, Kind::CharDevice | Kind::BlockDevice)
                .then(|| format!("{}:{}", self.rdev.0, self.rdev.1)),
            sparse: self.is_sparse(),
            artifact: artifact.to_owned(),
            ..ManifestRecord::default()
        }
    }
}

/// `statx` of `name` relative to `dir`, without following a final symlink. An empty
/// `name` means `dir` itself.
pub fn stat_at(dir: impl AsFd, name: &[u8]) -> std::io::Result<Meta> {
    let mut flags = AtFlags::SYMLINK_NOFOLLOW | AtFlags::NO_AUTOMOUNT;
    if name.is_empty() {
        flags |= AtFlags::EMPTY_PATH;
    }
    let name = cstr(name)?;
    match rustix::fs::statx(
        &dir,
        &name,
        flags,
        StatxFlags::BASIC_STATS | StatxFlags::BTIME,
    ) {
        Ok(s) => Ok(Meta {
            mode: u32::from(s.stx_mode),
            uid: s.stx_uid,
            gid: s.stx_gid,
            size: s.stx_size,
            blocks: s.stx_blocks,
            ino: s.stx_ino,
            dev: dev_id(u64::from(s.stx_dev_major), u64::from(s.stx_dev_minor)),
            dev_pair: (s.stx_dev_major, s.stx_dev_minor),
            nlink: u64::from(s.stx_nlink),
            rdev: (s.stx_rdev_major, s.stx_rdev_minor),
            atime: (s.stx_atime.tv_sec, s.stx_atime.tv_nsec),
            mtime: (s.stx_mtime.tv_sec, s.stx_mtime.tv_nsec),
            ctime: (s.stx_ctime.tv_sec, s.stx_ctime.tv_nsec),
            btime: (s.stx_mask & StatxFlags::BTIME.bits() != 0)
                .then_some((s.stx_btime.tv_sec, s.stx_btime.tv_nsec)),
        }),
        Err(rustix::io::Errno::NOSYS) => {
            let s = rustix::fs::statat(&dir, &name, flags)?;
            let dev = s.st_dev;
            let major = rustix::fs::major(dev);
            let minor = rustix::fs::minor(dev);
            Ok(Meta {
                mode: s.st_mode,
                uid: s.st_uid,
                gid: s.st_gid,
                size: s.st_size as u64,
                blocks: s.st_blocks as u64,
                ino: s.st_ino,
                dev: dev_id(u64::from(major), u64::from(minor)),
                dev_pair: (major, minor),
                // u64 on x86_64, u32 on aarch64.
                #[allow(clippy::useless_conversion)]
                nlink: u64::from(s.st_nlink),
                rdev: (rustix::fs::major(s.st_rdev), rustix::fs::minor(s.st_rdev)),
                atime: (s.st_atime, s.st_atime_nsec as u32),
                mtime: (s.st_mtime, s.st_mtime_nsec as u32),
                ctime: (s.st_ctime, s.st_ctime_nsec as u32),
                btime: None,
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// A device number as [`Meta::dev`] holds it: the major number in the high 32 bits,
/// the minor in the low ones. The one place this encoding is written.
pub fn dev_id(major: u64, minor: u64) -> u64 {
    (major << 32) | (minor & 0xffff_ffff)
}

/// [`dev_id`] of a raw `st_dev`.
pub fn dev_of(st_dev: u64) -> u64 {
    dev_id(
        u64::from(rustix::fs::major(st_dev)),
        u64::from(rustix::fs::minor(st_dev)),
    )
}

/// A path component as a C string; names with a NUL byte cannot exist on Linux.
pub(crate) fn cstr(name: &[u8]) -> std::io::Result<std::ffi::CString> {
    std::ffi::CString::new(name).map_err(|_| std::io::Error::other("name contains a NUL byte"))
}
