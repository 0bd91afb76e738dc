//! The responder's YARA rules as the launcher hands them to a collector in a pod
//! (`cairn collect --yara FILE|DIR` → the collector's `--yara -`): one JSON document on
//! the collector's stdin, after the upload plan or URL when there is one, holding each
//! rule file's name (its namespace) and source. The rules never reach a file or an
//! argument list in the pod.
//!
//! The document is written in ASCII only (every other character as a `\u` escape):
//! the exec route's bootstrap keeps the collector's stdin in a shell variable and checks
//! its length in characters, which a shell in a UTF-8 locale counts differently from
//! bytes. Includes are not followed in rules sent this way (the files they name are
//! on the responder's machine, not in the pod): the collector compiles with them
//! disabled, and so does the launcher's check before any target is touched.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The most bytes of rules sent into a pod (the document, escaped).
pub const MAX_BYTES: usize = 8 << 20;

/// One rule file: its namespace (the file's stem) and its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleFile {
    pub name: String,
    pub source: String,
}

/// The rules of one `--yara` argument.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSet {
    pub files: Vec<RuleFile>,
}

/// Why a rule set could not be read or sent.
#[derive(Debug, thiserror::Error)]
pub enum RuleSetError {
    #[error("{0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0}: no .yar or .yara file in it")]
    Empty(PathBuf),
    #[error("{0}: not UTF-8 text (YARA rules are text)")]
    NotText(PathBuf),
    #[error("the YARA rules come to {0} bytes, more than the {MAX_BYTES} sent into a pod: give fewer rules")]
    TooBig(usize),
    #[error("the YARA rules on stdin: {0}")]
    Document(String),
}

/// The rule files `path` names: itself, or each `.yar`/`.yara` file in the directory,
/// in name order.
pub fn rule_files(path: &Path) -> Result<Vec<PathBuf>, RuleSetError> {
    let read = |e| RuleSetError::Read(path.to_owned(), e);
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut f: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(read)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yar" | "yara")))
        .collect();
    f.sort();
    if f.is_empty() {
        return Err(RuleSetError::Empty(path.to_owned()));
    }
    Ok(f)
}

/// The namespace of a rule file: its stem.
pub fn namespace(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl RuleSet {
    /// Reads the rule files `path` names.
    pub fn read(path: &Path) -> Result<RuleSet, RuleSetError> {
        let mut files = Vec::new();
        for f in rule_files(path)? {
            let bytes = std::fs::read(&f).map_err(|e| RuleSetError::Read(f.clone(), e))?;
            let source = String::from_utf8(bytes).map_err(|_| RuleSetError::NotText(f.clone()))?;
            files.push(RuleFile {
                name: namespace(&f),
                source,
            });
        }
        Ok(RuleSet { files })
    }

    /// The document sent on the collector's stdin: JSON in ASCII, at most [`MAX_BYTES`].
    pub fn to_document(&self) -> Result<String, RuleSetError> {
        let json =
            serde_json::to_string(self).map_err(|e| RuleSetError::Document(e.to_string()))?;
        let mut out = String::with_capacity(json.len());
        for c in json.chars() {
            if c.is_ascii() {
                out.push(c);
            } else {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
        if out.len() > MAX_BYTES {
            return Err(RuleSetError::TooBig(out.len()));
        }
        Ok(out)
    }

    /// Reads one document from `r`, reading no byte past its end (stdin may stay open)
    /// and at most [`MAX_BYTES`].
    pub fn from_reader(r: &mut dyn std::io::Read) -> Result<RuleSet, RuleSetError> {
        let mut de =
            serde_json::Deserializer::from_reader(std::io::Read::take(r, MAX_BYTES as u64));
        let set =
            RuleSet::deserialize(&mut de).map_err(|e| RuleSetError::Document(e.to_string()))?;
        if set.files.is_empty() {
            return Err(RuleSetError::Document("no rule file in it".into()));
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_set_travels_in_ascii_and_reads_back_identically_leaving_what_follows() {
        let set = RuleSet {
            files: vec![
                RuleFile {
                    name: "ir".into(),
                    source: "rule r { meta: author = \"Müller 🦀\" strings: $a = \"x\\\"y\" condition: $a }\n".into(),
                },
                RuleFile {
                    name: "two".into(),
                    source: "rule s { condition: true }\u{0}".into(),
                },
            ],
        };
        let doc = set.to_document().unwrap();
        assert!(doc.is_ascii(), "{doc}");
        let mut stream = format!("{doc}\nREST").into_bytes();
        let mut r = &stream[..];
        assert_eq!(RuleSet::from_reader(&mut r).unwrap(), set);
        assert_eq!(r, b"\nREST");
        stream.truncate(doc.len() - 3);
        assert!(RuleSet::from_reader(&mut &stream[..]).is_err());
        assert!(RuleSet::from_reader(&mut &b"{\"files\":[]}"[..]).is_err());
    }

    #[test]
    fn a_directory_gives_its_rule_files_in_order_and_one_without_is_refused() {
        let d = std::env::temp_dir().join(format!("cairn-yara-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        for (n, t) in [
            ("b.yara", "rule b { condition: true }"),
            ("a.yar", "rule a { condition: true }"),
            ("c.txt", "no"),
        ] {
            std::fs::write(d.join(n), t).unwrap();
        }
        let set = RuleSet::read(&d).unwrap();
        let names: Vec<&str> = set.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        let empty = d.join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        assert!(matches!(RuleSet::read(&empty), Err(RuleSetError::Empty(_))));
        std::fs::write(d.join("bin.yar"), [0xff, 0xfe]).unwrap();
        assert!(matches!(RuleSet::read(&d), Err(RuleSetError::NotText(_))));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
