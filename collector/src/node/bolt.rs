//! A small read-only reader of bbolt (etcd-io/bbolt, BoltDB) files, which containerd
//! keeps its metadata in (`meta.db`, the snapshotters' `metadata.db`).
//!
//! Written by hand: the crates on crates.io are heavy or unfinished, and cairn needs
//! only to read buckets and keys from a file that may be corrupt or hostile, with every
//! offset bounds-checked and no panic. The format, as bbolt writes it (page.go, db.go,
//! bucket.go), little-endian throughout:
//!
//! - The file is pages of `page_size` bytes. Page N starts at `N * page_size`. Every page
//!   begins with a 16-byte header: `id u64, flags u16, count u16, overflow u32`; a page
//!   with `overflow = k` spans `k + 1` pages.
//! - Pages 0 and 1 are meta pages (flag 0x04). After the header: `magic u32 = 0xED0CDAED,
//!   version u32 = 2, page_size u32, flags u32, root bucket (root u64, sequence u64),
//!   freelist u64, pgid u64, txid u64, checksum u64`, the checksum being FNV-1a 64 of the
//!   meta bytes before it. The valid meta with the higher txid is current.
//! - Branch pages (0x01) hold `count` elements of 16 bytes, `pos u32, ksize u32, pgid u64`,
//!   and leaf pages (0x02) `count` elements of `flags u32, pos u32, ksize u32, vsize u32`;
//!   `pos` counts from the element's own start to its key, the value follows the key.
//!   A leaf element with flag 0x01 is a nested bucket: its value starts with the bucket
//!   header `root u64, sequence u64`; `root = 0` means an inline bucket, whose own leaf
//!   page follows the header inside the value.
//!
//! Reading is bounded: a tree deeper than [`MAX_DEPTH`], a page met twice in one
//! bucket's tree (in bbolt each page has one parent), or more than [`MAX_ELEMENTS`]
//! elements read from one file is an error, so a corrupt or hostile file cannot loop,
//! exhaust the stack, or make a few kilobytes of pages that all point at one child
//! into millions of entries.

use std::collections::BTreeMap;

const MAGIC: u32 = 0xED0C_DAED;
const VERSION: u32 = 2;
const PAGE_HEADER: usize = 16;
const ELEMENT: usize = 16;
const BRANCH: u16 = 0x01;
const LEAF: u16 = 0x02;
const META: u16 = 0x04;
const BUCKET_LEAF: u32 = 0x01;
/// Deeper trees are refused (a real one of billions of keys is under 10 levels).
pub const MAX_DEPTH: usize = 32;
/// The most page elements read from one file, over all its buckets (containerd's
/// metadata of thousands of containers reads a few hundred thousand).
pub const MAX_ELEMENTS: u64 = 4_000_000;

/// Why a bbolt file could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BoltError {
    #[error("not a bbolt database: {0}")]
    NotBolt(String),
    #[error("corrupt bbolt database: {0}")]
    Corrupt(String),
}

fn corrupt(m: impl Into<String>) -> BoltError {
    BoltError::Corrupt(m.into())
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

fn fnv1a64(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// An open database: the whole file in memory (containerd's are a few MiB).
pub struct Db {
    data: Vec<u8>,
    page_size: usize,
    root: u64,
    budget: std::cell::Cell<u64>,
}

/// A value in a bucket: bytes, or a nested bucket.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Bytes(&'a [u8]),
    Bucket(Bucket<'a>),
}

/// A bucket: its root page in the file, or an inline leaf page inside a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket<'a> {
    db: &'a [u8],
    page_size: usize,
    root: Root<'a>,
    /// Elements the file may still have read from it.
    budget: &'a std::cell::Cell<u64>,
}

#[derive(Debug, Clone, PartialEq)]
enum Root<'a> {
    Page(u64),
    Inline(&'a [u8]),
}

impl Db {
    /// Checks the meta pages and opens the database held in `data`.
    pub fn open(data: Vec<u8>) -> Result<Db, BoltError> {
        let meta = |at: usize| -> Result<(u32, u64, u64), String> {
            let flags = u16_at(&data, at + 8).ok_or("file too short for a meta page")?;
            if flags & META == 0 {
                return Err(format!("page at {at} is not a meta page"));
            }
            let m = at + PAGE_HEADER;
            let magic = u32_at(&data, m).ok_or("short meta")?;
            if magic != MAGIC {
                return Err(format!("bad magic {magic:#x}"));
            }
            let version = u32_at(&data, m + 4).ok_or("short meta")?;
            if version != VERSION {
                return Err(format!("unsupported version {version}"));
            }
            let page_size = u32_at(&data, m + 8).ok_or("short meta")?;
            let root = u64_at(&data, m + 16).ok_or("short meta")?;
            let txid = u64_at(&data, m + 48).ok_or("short meta")?;
            let sum = u64_at(&data, m + 56).ok_or("short meta")?;
            let body = data.get(m..m + 56).ok_or("short meta")?;
            if fnv1a64(body) != sum {
                return Err("meta checksum mismatch".into());
            }
            Ok((page_size, root, txid))
        };
        let first = meta(0).map_err(BoltError::NotBolt)?;
        let page_size = first.0 as usize;
        if !(512..=1 << 20).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(BoltError::NotBolt(format!("page size {page_size}")));
        }
        // The second meta page may be newer; a broken one is ignored, as bbolt does.
        let chosen = match meta(page_size) {
            Ok(second) if second.2 > first.2 && second.0 as usize == page_size => second,
            _ => first,
        };
        Ok(Db {
            data,
            page_size,
            root: chosen.1,
            budget: std::cell::Cell::new(MAX_ELEMENTS),
        })
    }

    /// [`Db::open`] with another element budget than [`MAX_ELEMENTS`].
    pub fn open_with_budget(data: Vec<u8>, elements: u64) -> Result<Db, BoltError> {
        let db = Db::open(data)?;
        db.budget.set(elements);
        Ok(db)
    }

    /// The top-level bucket (holding the named top-level buckets).
    pub fn root(&self) -> Bucket<'_> {
        Bucket {
            db: &self.data,
            page_size: self.page_size,
            root: Root::Page(self.root),
            budget: &self.budget,
        }
    }
}

impl<'a> Bucket<'a> {
    /// The page `id` as a slice (header and all its overflow pages).
    fn page(&self, id: u64) -> Result<&'a [u8], BoltError> {
        let ps = self.page_size as u64;
        let start = id
            .checked_mul(ps)
            .ok_or_else(|| corrupt(format!("page {id} out of range")))?;
        let start = usize::try_from(start).map_err(|_| corrupt("page offset"))?;
        let overflow = u32_at(self.db, start + 12)
            .ok_or_else(|| corrupt(format!("page {id} beyond the end of the file")))?;
        let len = (u64::from(overflow) + 1) * ps;
        let end = start
            .checked_add(usize::try_from(len).map_err(|_| corrupt("page length"))?)
            .ok_or_else(|| corrupt("page length"))?;
        // The last page of a file may be shorter than its overflow claims only if the
        // file is truncated: refuse it.
        self.db.get(start..end).ok_or_else(|| {
            corrupt(format!(
                "page {id} (+{overflow}) beyond the end of the file"
            ))
        })
    }

    /// Every key and value of the bucket, in key order.
    pub fn entries(&self) -> Result<Vec<(&'a [u8], Value<'a>)>, BoltError> {
        let mut out = Vec::new();
        match &self.root {
            Root::Inline(p) => self.leaf(p, &mut out)?,
            Root::Page(id) => {
                let mut path = Vec::new();
                let mut visited = std::collections::HashSet::new();
                self.descend(*id, &mut path, &mut visited, &mut out)?;
            }
        }
        Ok(out)
    }

    /// Takes `n` elements from the file's budget.
    fn spend(&self, n: usize) -> Result<(), BoltError> {
        let left = self.budget.get();
        if (n as u64) > left {
            self.budget.set(0);
            return Err(corrupt(format!(
                "more than {MAX_ELEMENTS} elements read from one file: refusing to go on"
            )));
        }
        self.budget.set(left - n as u64);
        Ok(())
    }

    fn descend(
        &self,
        id: u64,
        path: &mut Vec<u64>,
        visited: &mut std::collections::HashSet<u64>,
        out: &mut Vec<(&'a [u8], Value<'a>)>,
    ) -> Result<(), BoltError> {
        if path.len() >= MAX_DEPTH {
            return Err(corrupt("tree deeper than 32 levels"));
        }
        if path.contains(&id) || id < 2 {
            return Err(corrupt(format!("page {id} refers back into its own path")));
        }
        if !visited.insert(id) {
            return Err(corrupt(format!(
                "page {id} is reached twice in one bucket (a page has one parent)"
            )));
        }
        let page = self.page(id)?;
        let flags = u16_at(page, 8).ok_or_else(|| corrupt("short page"))?;
        if flags & LEAF != 0 {
            return self.leaf(page, out);
        }
        if flags & BRANCH == 0 {
            return Err(corrupt(format!(
                "page {id} is neither branch nor leaf ({flags:#x})"
            )));
        }
        let count = usize::from(u16_at(page, 10).ok_or_else(|| corrupt("short page"))?);
        self.spend(count)?;
        path.push(id);
        for i in 0..count {
            let e = PAGE_HEADER + i * ELEMENT;
            let child = u64_at(page, e + 8)
                .ok_or_else(|| corrupt(format!("branch element {i} of page {id} out of range")))?;
            self.descend(child, path, visited, out)?;
        }
        path.pop();
        Ok(())
    }

    fn leaf(&self, page: &'a [u8], out: &mut Vec<(&'a [u8], Value<'a>)>) -> Result<(), BoltError> {
        let flags = u16_at(page, 8).ok_or_else(|| corrupt("short leaf page"))?;
        if flags & LEAF == 0 {
            return Err(corrupt(format!("expected a leaf page, flags {flags:#x}")));
        }
        let count = usize::from(u16_at(page, 10).ok_or_else(|| corrupt("short leaf page"))?);
        self.spend(count)?;
        for i in 0..count {
            let e = PAGE_HEADER + i * ELEMENT;
            let bad = || corrupt(format!("leaf element {i} out of range"));
            let eflags = u32_at(page, e).ok_or_else(bad)?;
            let pos = u32_at(page, e + 4).ok_or_else(bad)? as usize;
            let ksize = u32_at(page, e + 8).ok_or_else(bad)? as usize;
            let vsize = u32_at(page, e + 12).ok_or_else(bad)? as usize;
            let k0 = e.checked_add(pos).ok_or_else(bad)?;
            let v0 = k0.checked_add(ksize).ok_or_else(bad)?;
            let v1 = v0.checked_add(vsize).ok_or_else(bad)?;
            let key = page.get(k0..v0).ok_or_else(bad)?;
            let value = page.get(v0..v1).ok_or_else(bad)?;
            let v = if eflags & BUCKET_LEAF != 0 {
                let root = u64_at(value, 0).ok_or_else(|| {
                    corrupt(format!(
                        "bucket header of key {:?} too short",
                        String::from_utf8_lossy(key)
                    ))
                })?;
                Value::Bucket(Bucket {
                    db: self.db,
                    page_size: self.page_size,
                    budget: self.budget,
                    root: if root == 0 {
                        Root::Inline(value.get(16..).unwrap_or_default())
                    } else {
                        Root::Page(root)
                    },
                })
            } else {
                Value::Bytes(value)
            };
            out.push((key, v));
        }
        Ok(())
    }

    /// The value of `key`, if it is bytes.
    pub fn get(&self, key: &[u8]) -> Result<Option<&'a [u8]>, BoltError> {
        Ok(self.entries()?.into_iter().find_map(|(k, v)| match v {
            Value::Bytes(b) if k == key => Some(b),
            _ => None,
        }))
    }

    /// The nested bucket `key`, if there is one.
    pub fn bucket(&self, key: &[u8]) -> Result<Option<Bucket<'a>>, BoltError> {
        Ok(self.entries()?.into_iter().find_map(|(k, v)| match v {
            Value::Bucket(b) if k == key => Some(b),
            _ => None,
        }))
    }

    /// Follows a path of nested bucket names.
    pub fn path(&self, names: &[&[u8]]) -> Result<Option<Bucket<'a>>, BoltError> {
        let mut b = self.clone();
        for n in names {
            match b.bucket(n)? {
                Some(next) => b = next,
                None => return Ok(None),
            }
        }
        Ok(Some(b))
    }

    /// The bucket's byte values as text, for label buckets.
    pub fn strings(&self) -> Result<BTreeMap<String, String>, BoltError> {
        Ok(self
            .entries()?
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::Bytes(b) => Some((
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(b).into_owned(),
                )),
                Value::Bucket(_) => None,
            })
            .collect())
    }
}

/// Builds bbolt files for tests (and fuzzing seeds): one leaf page as the root, nested
/// buckets inline. Follows the layout above; bbolt itself reads such files.
#[doc(hidden)]
pub mod build {
    /// A tree of buckets and values.
    pub enum Node {
        Bytes(Vec<u8>),
        Bucket(Vec<(Vec<u8>, Node)>),
    }

    fn leaf(entries: &[(Vec<u8>, Node)]) -> Vec<u8> {
        let mut sorted: Vec<&(Vec<u8>, Node)> = entries.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let values: Vec<(u32, &Vec<u8>, Vec<u8>)> = sorted
            .iter()
            .map(|(k, n)| match n {
                Node::Bytes(b) => (0u32, k, b.clone()),
                Node::Bucket(inner) => {
                    let mut v = vec![0u8; 16];
                    v.extend(leaf(inner));
                    (1u32, k, v)
                }
            })
            .collect();
        let mut page = vec![0u8; 16];
        page[8..10].copy_from_slice(&0x02u16.to_le_bytes());
        page[10..12].copy_from_slice(&(values.len() as u16).to_le_bytes());
        let elems_end = 16 + 16 * values.len();
        let mut data = Vec::new();
        let mut elems = Vec::new();
        for (i, (flags, k, v)) in values.iter().enumerate() {
            let at = 16 + 16 * i;
            let pos = (elems_end + data.len() - at) as u32;
            elems.extend(flags.to_le_bytes());
            elems.extend(pos.to_le_bytes());
            elems.extend((k.len() as u32).to_le_bytes());
            elems.extend((v.len() as u32).to_le_bytes());
            data.extend_from_slice(k);
            data.extend_from_slice(v);
        }
        page.extend(elems);
        page.extend(data);
        page
    }

    fn meta(page_size: u32, root: u64, txid: u64, id: u64) -> Vec<u8> {
        let mut p = vec![0u8; 16];
        p[0..8].copy_from_slice(&id.to_le_bytes());
        p[8..10].copy_from_slice(&0x04u16.to_le_bytes());
        let mut m = Vec::new();
        m.extend(0xED0C_DAEDu32.to_le_bytes());
        m.extend(2u32.to_le_bytes());
        m.extend(page_size.to_le_bytes());
        m.extend(0u32.to_le_bytes());
        m.extend(root.to_le_bytes());
        m.extend(0u64.to_le_bytes());
        m.extend(2u64.to_le_bytes()); // freelist page
        m.extend(4u64.to_le_bytes()); // high water mark
        m.extend(txid.to_le_bytes());
        let sum = super::fnv1a64(&m);
        m.extend(sum.to_le_bytes());
        p.extend(m);
        p
    }

    /// A database whose root bucket holds `top`: meta pages 0 and 1, an empty freelist
    /// page 2, the root leaf page 3 (with overflow pages when it is large).
    pub fn db(top: &[(Vec<u8>, Node)]) -> Vec<u8> {
        let ps = 4096usize;
        let mut root = leaf(top);
        root[0..8].copy_from_slice(&3u64.to_le_bytes());
        let pages = root.len().div_ceil(ps).max(1);
        root[12..16].copy_from_slice(&((pages - 1) as u32).to_le_bytes());
        let mut out = vec![0u8; ps * (3 + pages)];
        let m0 = meta(ps as u32, 3, 1, 0);
        let m1 = meta(ps as u32, 3, 2, 1);
        out[..m0.len()].copy_from_slice(&m0);
        out[ps..ps + m1.len()].copy_from_slice(&m1);
        out[2 * ps + 8..2 * ps + 10].copy_from_slice(&0x10u16.to_le_bytes());
        out[3 * ps..3 * ps + root.len()].copy_from_slice(&root);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::build::{db, Node};
    use super::*;

    fn b(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }

    fn sample() -> Vec<u8> {
        db(&[(
            b("v1"),
            Node::Bucket(vec![(
                b("k8s.io"),
                Node::Bucket(vec![(
                    b("containers"),
                    Node::Bucket(vec![(
                        b("abc"),
                        Node::Bucket(vec![
                            (b("image"), Node::Bytes(b("docker.io/library/busybox:1"))),
                            (b("snapshotKey"), Node::Bytes(b("abc"))),
                            (
                                b("labels"),
                                Node::Bucket(vec![(
                                    b("io.kubernetes.pod.name"),
                                    Node::Bytes(b("web")),
                                )]),
                            ),
                        ]),
                    )]),
                )]),
            )]),
        )])
    }

    #[test]
    fn nested_inline_buckets_and_values_read_back() {
        let d = Db::open(sample()).unwrap();
        let c = d
            .root()
            .path(&[b"v1", b"k8s.io", b"containers", b"abc"])
            .unwrap()
            .unwrap();
        assert_eq!(
            c.get(b"image").unwrap(),
            Some(&b"docker.io/library/busybox:1"[..])
        );
        assert_eq!(c.get(b"nope").unwrap(), None);
        let labels = c.bucket(b"labels").unwrap().unwrap().strings().unwrap();
        assert_eq!(labels["io.kubernetes.pod.name"], "web");
        assert!(d.root().path(&[b"v1", b"moby"]).unwrap().is_none());
    }

    #[test]
    fn not_bolt_and_truncated_and_corrupt_files_are_errors_not_panics() {
        assert!(matches!(Db::open(Vec::new()), Err(BoltError::NotBolt(_))));
        assert!(matches!(
            Db::open(vec![0u8; 8192]),
            Err(BoltError::NotBolt(_))
        ));
        let good = sample();
        // A flipped byte in the first meta: its checksum fails.
        let mut bad = good.clone();
        bad[40] ^= 0xff;
        assert!(Db::open(bad).is_err());
        // Truncated before the root page.
        let d = Db::open(good[..3 * 4096].to_vec()).unwrap();
        assert!(d.root().entries().is_err());
        // Every single-byte corruption of the data pages: an answer or an error.
        for at in (3 * 4096..good.len()).step_by(7) {
            for x in [0x01u8, 0x80, 0xff] {
                let mut c = good.clone();
                c[at] ^= x;
                if let Ok(d) = Db::open(c) {
                    if let Ok(Some(v1)) = d.root().bucket(b"v1") {
                        let _ = v1.path(&[b"k8s.io", b"containers"]);
                    }
                }
            }
        }
    }

    #[test]
    fn a_branch_page_that_points_at_itself_is_refused() {
        let mut f = sample();
        let ps = 4096;
        // Turn the root leaf into a branch whose single child is itself.
        f[3 * ps + 8..3 * ps + 10].copy_from_slice(&0x01u16.to_le_bytes());
        f[3 * ps + 10..3 * ps + 12].copy_from_slice(&1u16.to_le_bytes());
        f[3 * ps + 16 + 8..3 * ps + 16 + 16].copy_from_slice(&3u64.to_le_bytes());
        let d = Db::open(f).unwrap();
        let e = d.root().entries().unwrap_err();
        assert!(e.to_string().contains("refers back"), "{e}");
    }

    /// A branch page whose children are one page, over and over: a few kilobytes that
    /// a naive reader turns into a tree of 255^3 leaves.
    #[test]
    fn pages_shared_between_parents_are_refused_and_reading_is_bounded() {
        let ps = 4096;
        let mut f = sample();
        let leaf_at = f[3 * ps..4 * ps].to_vec();
        f.resize(7 * ps, 0);
        let branch = |id: u64, child: u64| {
            let mut p = vec![0u8; ps];
            p[0..8].copy_from_slice(&id.to_le_bytes());
            p[8..10].copy_from_slice(&0x01u16.to_le_bytes());
            p[10..12].copy_from_slice(&255u16.to_le_bytes());
            for i in 0..255 {
                let e = 16 + 16 * i;
                p[e + 8..e + 16].copy_from_slice(&child.to_le_bytes());
            }
            p
        };
        // Root 3 -> 255 x page 4 -> 255 x page 5 -> 255 x leaf 6.
        f[3 * ps..4 * ps].copy_from_slice(&branch(3, 4));
        f[4 * ps..5 * ps].copy_from_slice(&branch(4, 5));
        f[5 * ps..6 * ps].copy_from_slice(&branch(5, 6));
        f[6 * ps..7 * ps].copy_from_slice(&leaf_at);
        f[6 * ps..6 * ps + 8].copy_from_slice(&6u64.to_le_bytes());
        let d = Db::open(f).unwrap();
        let e = d.root().entries().unwrap_err();
        assert!(e.to_string().contains("reached twice"), "{e}");

        // Many buckets sharing one subtree: each read alone is fine, together they
        // exhaust the file's budget.
        let big: Vec<(Vec<u8>, Node)> = (0..200)
            .map(|i| (format!("k{i:03}").into_bytes(), Node::Bytes(b("v"))))
            .collect();
        let d = Db::open_with_budget(db(&big), 1000).unwrap();
        let mut result = Ok(());
        for _ in 0..10 {
            if let Err(e) = d.root().entries() {
                result = Err(e);
                break;
            }
        }
        let e = result.unwrap_err();
        assert!(e.to_string().contains("refusing to go on"), "{e}");
    }
}
