//! The merged view of overlay layers, in user space: what a container sees through its
//! overlay mount, rebuilt from the layer directories on the node without mounting
//! anything (no CAP_SYS_ADMIN) and without writing.
//!
//! Layers are ordered upper first. A name in a merged directory is the topmost layer's
//! object of that name, unless a layer above hides it with a whiteout: a character
//! device 0/0 of that name, which overlayfs itself writes when a container deletes a
//! file, and which runtimes write when they unpack an image layer's `.wh.NAME` entry. A
//! directory continues into the same directory of lower layers until one of them is
//! opaque (`trusted.overlay.opaque=y`, which only the kernel and the runtime can set),
//! or a lower layer holds a non-directory of that name.
//!
//! Markers a container can write itself are never obeyed: a file named `.wh.NAME` or
//! `.wh..wh..opq` in its writable layer, and `user.overlay.*` extended attributes.
//! cairn reads the rootful runtime directories only (`/var/lib/docker`,
//! `/var/lib/containerd`), and rootful Docker and containerd mount overlayfs without
//! `userxattr`, so the kernel ignores those markers there too: they are ordinary files
//! and attributes, shown and collected as such, and drift ([`crate::live::drift`])
//! flags them as the attempts to hide evidence they are. Rootless runtimes, whose
//! mounts do use `user.overlay.*`, keep their layers under a user's home, which
//! `--node-root` does not read.

use super::meta::{stat_at, Kind, Meta};
use super::open::open_dir;
use rustix::fs::Dir;
use std::collections::BTreeMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Prefix of whiteout entries in image layer tars; in a layer directory on disk, a file
/// of this name is a container's own doing (see the module documentation).
pub const WH_PREFIX: &[u8] = b".wh.";
/// Marks a directory opaque in image layer tars; on disk, the same.
pub const WH_OPAQUE: &[u8] = b".wh..wh..opq";
/// Prefix of the overlay attributes that only rootless (`userxattr`) mounts obey.
pub const USER_OVERLAY_XATTR: &str = "user.overlay.";

/// One directory of the merged view: the same directory in each layer where it is
/// visible, upper first, with the layer index of each.
pub struct MergedDir {
    pub parts: Vec<(usize, OwnedFd)>,
}

/// True when `meta` is an overlay whiteout (character device 0/0).
pub fn is_whiteout(meta: &Meta) -> bool {
    meta.kind() == Kind::CharDevice && meta.rdev == (0, 0)
}

/// True when the open directory is opaque (hides every lower layer's same directory):
/// `trusted.overlay.opaque=y`, set by the kernel or the runtime.
pub fn is_opaque(dir: BorrowedFd<'_>) -> bool {
    let mut buf = [0u8; 8];
    matches!(
        rustix::fs::fgetxattr(dir, "trusted.overlay.opaque", &mut buf),
        Ok(n) if buf.get(..n) == Some(b"y")
    )
}

/// The `user.overlay.*` attributes of the regular file or directory `name` in `dir`:
/// markers only a container can have written in its own layer. (The kernel allows
/// `user.*` attributes on regular files and directories only; nothing else is opened.)
pub fn user_overlay_xattrs(dir: BorrowedFd<'_>, name: &[u8], kind: Kind) -> Vec<String> {
    let fd = match kind {
        Kind::File => super::open::open_regular(dir, name),
        Kind::Dir => open_dir(dir, name),
        _ => return Vec::new(),
    };
    let Ok(fd) = fd else {
        return Vec::new();
    };
    let mut buf = vec![0u8; 4096];
    let Ok(n) = rustix::fs::flistxattr(&fd, &mut buf) else {
        return Vec::new();
    };
    buf[..n]
        .split(|&b| b == 0)
        .filter(|x| x.starts_with(USER_OVERLAY_XATTR.as_bytes()))
        .map(|x| String::from_utf8_lossy(x).into_owned())
        .collect()
}

/// What `name` is in the merged directory: the index in `dir.parts` of the part whose
/// object shows, and its metadata; `None` when absent or whited out.
pub fn lookup(dir: &MergedDir, name: &[u8]) -> Option<(usize, Meta)> {
    for (i, (_, fd)) in dir.parts.iter().enumerate() {
        match stat_at(fd.as_fd(), name) {
            Ok(m) if is_whiteout(&m) => return None,
            Ok(m) => return Some((i, m)),
            Err(_) => continue,
        }
    }
    None
}

/// Opens the merged directory `name` found at part `at` of `parent` (by [`lookup`]).
pub fn child(parent: &MergedDir, name: &[u8], at: usize) -> std::io::Result<MergedDir> {
    let mut parts = Vec::new();
    for (layer, fd) in parent.parts.iter().skip(at) {
        match stat_at(fd.as_fd(), name) {
            Ok(m) if m.kind() == Kind::Dir => {
                let d = open_dir(fd.as_fd(), name)?;
                let opaque = is_opaque(d.as_fd());
                parts.push((*layer, d));
                if opaque {
                    break;
                }
            }
            // A whiteout or a non-directory ends the directory's reach downwards.
            Ok(_) => break,
            Err(_) => continue,
        }
    }
    Ok(MergedDir { parts })
}

/// The merged root directory of `layers` (upper first).
pub fn root(layers: &[OwnedFd]) -> std::io::Result<MergedDir> {
    let mut parts = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let d = open_dir(l.as_fd(), b"")?;
        let opaque = is_opaque(d.as_fd());
        parts.push((i, d));
        if opaque {
            break;
        }
    }
    Ok(MergedDir { parts })
}

/// A visible name and the index of the part whose object shows.
pub type Visible = (Vec<u8>, usize);

/// The visible names of a merged directory, sorted, each with the index of the part
/// whose object shows. Errors listing a part are returned with the part's layer.
pub fn list(dir: &MergedDir) -> (Vec<Visible>, Vec<(usize, std::io::Error)>) {
    let mut seen: BTreeMap<Vec<u8>, Option<usize>> = BTreeMap::new();
    let mut errors = Vec::new();
    for (i, (layer, fd)) in dir.parts.iter().enumerate() {
        let names = match Dir::read_from(fd) {
            Ok(mut d) => {
                let mut names = Vec::new();
                while let Some(e) = d.read() {
                    match e {
                        Ok(e) => names.push(e.file_name().to_bytes().to_vec()),
                        Err(err) => {
                            errors.push((*layer, err.into()));
                            break;
                        }
                    }
                }
                names
            }
            Err(e) => {
                errors.push((*layer, e.into()));
                continue;
            }
        };
        for n in names {
            if n == b"." || n == b".." {
                continue;
            }
            if seen.contains_key(&n) {
                continue;
            }
            let shown = match stat_at(fd.as_fd(), &n) {
                Ok(m) if is_whiteout(&m) => None,
                Ok(_) => Some(i),
                Err(_) => continue,
            };
            seen.insert(n, shown);
        }
    }
    let names = seen
        .into_iter()
        .filter_map(|(n, shown)| shown.map(|i| (n, i)))
        .collect();
    (names, errors)
}

impl super::tree::TreeDir for MergedDir {
    fn list(&self) -> (Vec<(Vec<u8>, usize)>, Vec<std::io::Error>) {
        let (names, errors) = list(self);
        let errors = errors
            .into_iter()
            .map(|(layer, e)| std::io::Error::new(e.kind(), format!("layer {layer}: {e}")))
            .collect();
        (names, errors)
    }

    fn part(&self, part: usize) -> Option<BorrowedFd<'_>> {
        self.parts.get(part).map(|(_, fd)| fd.as_fd())
    }

    fn lookup(&self, name: &[u8]) -> std::io::Result<Option<(usize, Meta)>> {
        Ok(lookup(self, name))
    }

    fn child(&self, name: &[u8], part: usize) -> std::io::Result<Self> {
        child(self, name, part)
    }

    /// Looking further into a merged directory needs its markers, so it is opened as
    /// for listing.
    fn step(&self, name: &[u8], part: usize) -> std::io::Result<Self> {
        child(self, name, part)
    }
}

#[cfg(test)]
mod tests {
    use crate::source::walk::{Entry, Flow, Visitor};
    use crate::source::{ResolveError, Root};
    use std::os::fd::AsFd;
    use std::path::Path;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    struct Paths(Vec<String>);
    impl Visitor for Paths {
        fn entry(&mut self, e: &Entry<'_>) -> Flow {
            self.0.push(String::from_utf8_lossy(e.path).into_owned());
            Flow::Descend
        }
        fn error(&mut self, p: &[u8], a: &'static str, e: &std::io::Error) {
            panic!("{a} {}: {e}", String::from_utf8_lossy(p));
        }
    }

    /// Whiteouts as the kernel and runtimes write them: 0/0 character devices and
    /// `trusted.overlay.opaque` (which need root: mknod and CAP_SYS_ADMIN).
    fn whiteout(dir: &Path, name: &str) {
        std::fs::create_dir_all(dir).unwrap();
        let d = rustix::fs::open(dir, rustix::fs::OFlags::PATH, rustix::fs::Mode::empty()).unwrap();
        rustix::fs::mknodat(
            &d,
            name,
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0o600),
            rustix::fs::makedev(0, 0),
        )
        .unwrap();
    }

    fn root_or_skip(what: &str) -> bool {
        if rustix::process::geteuid().is_root() {
            return true;
        }
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{what} needs root under CI=true"
        );
        eprintln!("\n!!!!! SKIPPING {what}: needs root (mknod, trusted.* xattrs) !!!!!\n");
        false
    }

    #[test]
    fn whiteouts_opaque_directories_and_shadowing_merge_like_overlayfs() {
        if !root_or_skip("the overlay merge test") {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        for f in ["a/keep", "a/gone", "b/x", "c", "d/old", "link-target/t"] {
            write(&lower, f, "lower");
        }
        std::os::unix::fs::symlink("/link-target", lower.join("l")).unwrap();
        whiteout(&upper.join("a"), "gone");
        write(&upper, "a/new", "upper");
        write(&upper, "a/keep", "upper keep");
        write(&upper, "b/y", "upper");
        rustix::fs::setxattr(
            upper.join("b"),
            "trusted.overlay.opaque",
            b"y",
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
        write(&upper, "c/z", "upper");
        whiteout(&upper, "d");
        let root = Root::open_layers(Path::new("test"), &[upper, lower]).unwrap();
        let names = |p: &[u8]| -> Vec<String> {
            root.list_dir(p)
                .into_iter()
                .map(|(n, _)| String::from_utf8_lossy(&n).into_owned())
                .collect()
        };
        assert_eq!(names(b"/"), ["a", "b", "c", "l", "link-target"]);
        assert_eq!(names(b"/a"), ["keep", "new"]);
        assert_eq!(names(b"/b"), ["y"]);
        assert_eq!(names(b"/c"), ["z"]);
        assert_eq!(root.read_small(b"/a/keep", 100).unwrap(), b"upper keep");
        assert_eq!(root.read_small(b"/l/t", 100).unwrap(), b"lower");
        assert!(matches!(
            root.resolve(b"/a/gone"),
            Err(ResolveError::NotFound)
        ));
        assert!(matches!(root.resolve(b"/b/x"), Err(ResolveError::NotFound)));
        assert!(matches!(
            root.resolve(b"/d/old"),
            Err(ResolveError::NotFound)
        ));
        let mut seen = Paths(Vec::new());
        let r = root.resolve(b"/").unwrap();
        root.walk(&r, None, &mut seen);
        assert_eq!(
            seen.0,
            [
                "/",
                "/a",
                "/a/keep",
                "/a/new",
                "/b",
                "/b/y",
                "/c",
                "/c/z",
                "/l",
                "/link-target",
                "/link-target/t"
            ]
        );
    }

    /// What a container can write in its own layer hides nothing: `.wh.` files and
    /// `user.overlay.*` attributes are ordinary objects.
    #[test]
    fn markers_a_container_can_write_hide_nothing() {
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        for f in ["tmp/evil", "usr/bin/ls", "etc/passwd"] {
            write(&lower, f, "image");
        }
        write(&upper, "tmp/evil", "dropped");
        write(&upper, "tmp/.wh.evil", "");
        write(&upper, "usr/bin/.wh..wh..opq", "");
        write(&upper, "etc/hostname", "upper");
        let attr = rustix::fs::setxattr(
            upper.join("etc"),
            "user.overlay.opaque",
            b"y",
            rustix::fs::XattrFlags::empty(),
        );
        let root = Root::open_layers(Path::new("test"), &[upper.clone(), lower]).unwrap();
        let names = |p: &[u8]| -> Vec<String> {
            root.list_dir(p)
                .into_iter()
                .map(|(n, _)| String::from_utf8_lossy(&n).into_owned())
                .collect()
        };
        assert_eq!(names(b"/tmp"), [".wh.evil", "evil"]);
        assert_eq!(root.read_small(b"/tmp/evil", 100).unwrap(), b"dropped");
        assert_eq!(names(b"/usr/bin"), [".wh..wh..opq", "ls"]);
        assert_eq!(root.read_small(b"/usr/bin/ls", 100).unwrap(), b"image");
        assert_eq!(root.read_small(b"/etc/passwd", 100).unwrap(), b"image");
        if attr.is_ok() {
            let marks = super::user_overlay_xattrs(
                rustix::fs::open(&upper, rustix::fs::OFlags::PATH, rustix::fs::Mode::empty())
                    .unwrap()
                    .as_fd(),
                b"etc",
                crate::source::Kind::Dir,
            );
            assert_eq!(marks, ["user.overlay.opaque"]);
        }
    }
}
