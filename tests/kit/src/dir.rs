//! A directory of its own for each test, in the manner of ripgrep's `tests/util.rs`:
//! a unique temporary directory named after the test, holding the tree the test
//! collects (`root/`) and everything the test writes (`out/`), removed when the test
//! ends. Nothing is written outside it, so tests run in parallel and twice in a row on
//! one machine without meeting each other's files.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub struct TestDir {
    tmp: tempfile::TempDir,
    root: PathBuf,
}

impl TestDir {
    /// A new directory for the test `name`, with an empty `root/` (mode 0755, as a
    /// filesystem root is) and `out/`.
    pub fn new(name: &str) -> TestDir {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("cairn-{name}-"))
            .tempdir()
            .expect("a temporary directory");
        let root = tmp.path().join("root");
        std::fs::create_dir_all(&root).expect("root/");
        std::fs::create_dir_all(tmp.path().join("out")).expect("out/");
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        TestDir { tmp, root }
    }

    /// The tree the test collects.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// A path in the tree.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root.join(rel)
    }

    /// Writes a file in the tree, creating its directories.
    pub fn write(&self, rel: impl AsRef<Path>, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.root.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir -p");
        }
        std::fs::write(&p, content).expect("write");
        p
    }

    /// Where the test writes `name` (an archive, a log): beside the tree, not in it.
    pub fn out(&self, name: &str) -> PathBuf {
        self.tmp.path().join("out").join(name)
    }

    /// The test's whole directory.
    pub fn base(&self) -> &Path {
        self.tmp.path()
    }
}

/// Asserts that everything under `dir` (not `dir` itself, which the test made) is as
/// cairn leaves what it writes for the responder: files 0600, directories 0700, no
/// symlinks; returns how many entries it checked, none being a failure too.
pub fn assert_private(dir: &Path) -> usize {
    let mut n = 0;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let m = std::fs::symlink_metadata(e.path()).expect("lstat");
            let mode = m.permissions().mode() & 0o7777;
            let p = e.path();
            if m.is_dir() {
                assert_eq!(mode, 0o700, "{}: mode {mode:o}", p.display());
                todo.push(p);
            } else {
                assert!(m.is_file(), "{}: not a regular file", p.display());
                assert_eq!(mode, 0o600, "{}: mode {mode:o}", p.display());
            }
            n += 1;
        }
    }
    assert!(n > 0, "{}: nothing to check", dir.display());
    n
}

#[cfg(test)]
mod tests {
    use super::TestDir;

    #[test]
    fn each_test_gets_its_own_tree_and_outputs_beside_it() {
        let (a, b) = (TestDir::new("same"), TestDir::new("same"));
        assert_ne!(a.path(), b.path());
        let f = a.write("etc/passwd", "x");
        assert!(f.starts_with(a.path()));
        assert!(!a.out("o.tar.zst").starts_with(a.path()));
        assert!(a.out("o.tar.zst").starts_with(a.base()));
        let base = a.base().to_path_buf();
        drop(a);
        assert!(!base.exists(), "removed when the test ends");
    }
}
