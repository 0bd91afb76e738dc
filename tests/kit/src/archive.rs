//! Reading a cairn archive back (tar + zstd) with the one reader every reader of an
//! archive uses (`cairn_archive::read`), entry by entry with exact path bytes, with its
//! manifest, collection log and summary parsed; and artifact specs for tests.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// Content and link target of one archive entry.
pub type EntryData = (Vec<u8>, Option<Vec<u8>>);

/// Every regular/symlink entry of an archive, by exact path bytes.
pub struct Archive {
    pub entries: BTreeMap<Vec<u8>, EntryData>,
}

impl Archive {
    pub fn read(path: &Path) -> Archive {
        let mut entries = BTreeMap::new();
        cairn_archive::read::members(path, |e| {
            let mut data = Vec::new();
            e.read_to_end(&mut data)?;
            entries.insert(e.header.name.clone(), (data, e.header.link.clone()));
            Ok::<(), std::io::Error>(())
        })
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        Archive { entries }
    }

    /// True when any entry's content contains `needle`.
    pub fn contains_bytes(&self, needle: &[u8]) -> bool {
        self.entries
            .values()
            .any(|(d, _)| d.windows(needle.len()).any(|w| w == needle))
    }

    pub fn get(&self, p: &str) -> Option<&Vec<u8>> {
        self.entries.get(p.as_bytes()).map(|(d, _)| d)
    }

    pub fn text(&self, p: &str) -> String {
        String::from_utf8_lossy(self.get(p).unwrap_or_else(|| panic!("{p} missing"))).into_owned()
    }

    pub fn manifest(&self) -> Vec<serde_json::Value> {
        self.text("manifest.jsonl")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn log(&self) -> Vec<serde_json::Value> {
        self.text("collection.log")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn summary(&self) -> serde_json::Value {
        serde_json::from_str(&self.text("summary.json")).unwrap()
    }

    pub fn record(&self, source: &str) -> serde_json::Value {
        self.manifest()
            .into_iter()
            .find(|r| r["source"] == source)
            .unwrap_or_else(|| panic!("no manifest record for {source}"))
    }
}

/// Writes an artifact YAML that copies everything under `path`.
pub fn spec_all(dir: &Path, path: &str) -> String {
    let f = dir.join("all.yaml");
    std::fs::write(
        &f,
        format!("artifacts:\n  - description: all\n    collector: file\n    path: {path}\n"),
    )
    .unwrap();
    f.to_str().unwrap().to_owned()
}
