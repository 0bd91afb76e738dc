//! The responder's YARA rules (`--yara FILE|DIR`): compiled once, before anything is
//! collected (a rule that does not compile is an error naming its file, line and
//! column), then run over each process's resident memory, run by run of resident pages
//! (whether or not the pages are stored), over each process's executable, and over each
//! collected file up to 64 MiB as it streams (`collect/files.rs`), with a time bound
//! per scan. boreal, a pure-Rust YARA engine, scans the buffers; its own
//! process scanning is not used, since cairn reads only resident pages.
//!
//! A run larger than [`WINDOW`] is scanned in windows that overlap by [`OVERLAP`], so a
//! string up to that long is found across a window's edge; conditions on the whole
//! object (`filesize`) see one run or window.

use boreal::compiler::CompilerParams;
use boreal::scanner::ScanParams;
use boreal::{Compiler, MetadataValue, Scanner};
use cairn_archive::records::memory::YaraHit;
use cairn_protocol::yara::{namespace, rule_files, RuleSet};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The most bytes scanned in one call.
pub const WINDOW: usize = 64 << 20;
/// How much consecutive windows share.
pub const OVERLAP: usize = 1 << 20;
/// The most time one scan may take.
const SCAN_TIMEOUT: Duration = Duration::from_secs(10);

/// Compiled rules.
pub struct Rules {
    scanner: Scanner,
    /// The rule files, for the log.
    pub files: Vec<PathBuf>,
}

impl std::fmt::Debug for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rules").field("files", &self.files).finish()
    }
}

/// Compiles the rule file `path`, or every `.yar`/`.yara` file in the directory
/// `path`, each in a namespace named after the file; includes are followed from the
/// file's own directory.
pub fn compile(path: &Path) -> Result<Rules, String> {
    let files = rule_files(path).map_err(|e| e.to_string())?;
    let mut compiler = Compiler::new();
    for f in &files {
        compiler
            .add_rules_file_in_namespace(f, namespace(f))
            .map_err(|e| format!("YARA rules {}: {e}", f.display()))?;
    }
    Ok(finish(compiler, files))
}

/// Compiles rules the launcher sent (`--yara -`), includes disabled: the files they
/// would name are not in the pod.
pub fn compile_set(set: &RuleSet) -> Result<Rules, String> {
    let mut compiler = Compiler::new();
    compiler.set_params(CompilerParams::default().disable_includes(true));
    for f in &set.files {
        compiler
            .add_rules_str_in_namespace(&f.source, &f.name)
            .map_err(|e| {
                let at =
                    boreal::compiler::generate_description(&e.to_diagnostic(), &f.name, &f.source);
                format!("YARA rules {at}")
            })?;
    }
    let names = set.files.iter().map(|f| PathBuf::from(&f.name)).collect();
    Ok(finish(compiler, names))
}

fn finish(compiler: Compiler, files: Vec<PathBuf>) -> Rules {
    let mut scanner = compiler.finalize();
    scanner.set_scan_params(
        ScanParams::default()
            .timeout_duration(Some(SCAN_TIMEOUT))
            .compute_full_matches(true)
            .string_max_nb_matches(16),
    );
    Rules { scanner, files }
}

impl Rules {
    /// The rules that match `bytes`, each with the offset of its first string match in
    /// `bytes`; whether the scan ran to its end (not cut by the time bound).
    pub fn scan(&self, bytes: &[u8]) -> (Vec<(YaraHit, Option<u64>)>, bool) {
        let (result, whole) = match self.scanner.scan_mem(bytes) {
            Ok(r) => (r, true),
            Err((_, r)) => (r, false),
        };
        let s = &self.scanner;
        let now = cairn_archive::text::now_rfc3339();
        let hits = result
            .rules
            .iter()
            .filter(|r| r.matched)
            .map(|r| {
                let first = r
                    .matches
                    .iter()
                    .flat_map(|m| m.matches.iter().map(move |x| (m.name, x.offset)))
                    .min_by_key(|(_, o)| *o);
                let meta: BTreeMap<String, String> = r
                    .metadatas
                    .iter()
                    .map(|m| {
                        let v = match m.value {
                            MetadataValue::Bytes(b) => {
                                cairn_archive::text::escape(s.get_bytes_symbol(b))
                            }
                            MetadataValue::Integer(i) => i.to_string(),
                            MetadataValue::Boolean(b) => b.to_string(),
                        };
                        (s.get_string_symbol(m.name).to_owned(), v)
                    })
                    .collect();
                let hit = YaraHit {
                    rule: r.name.to_owned(),
                    namespace: r.namespace.to_owned(),
                    tags: r
                        .tags
                        .iter()
                        .map(|t| s.get_string_symbol(*t).to_owned())
                        .collect(),
                    meta,
                    string: first.map(|(n, _)| format!("${n}")),
                    time: Some(now.clone()),
                    ..YaraHit::default()
                };
                (hit, first.map(|(_, o)| o as u64))
            })
            .collect();
        (hits, whole)
    }
}

/// The windows `[start, end)` a run of `len` bytes is scanned in.
pub fn windows(len: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let end = (at + WINDOW).min(len);
        out.push((at, end));
        if end == len {
            return out;
        }
        at = end - OVERLAP;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_matches_with_its_meta_tags_and_offset_and_a_broken_one_names_its_line() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("ir.yar"),
            "rule planted : tag1 { meta: author = \"ir\" severity = 3 strings: $a = \"MARKER\" condition: $a }\n",
        )
        .unwrap();
        let rules = compile(d.path()).unwrap();
        let (hits, whole) = rules.scan(b"....MARKER....");
        assert!(whole);
        assert_eq!(hits.len(), 1);
        let (h, offset) = &hits[0];
        assert_eq!((h.rule.as_str(), h.namespace.as_str()), ("planted", "ir"));
        assert_eq!(h.tags, ["tag1"]);
        assert_eq!(h.meta["author"], "ir");
        assert_eq!(h.meta["severity"], "3");
        assert_eq!((h.string.as_deref(), *offset), (Some("$a"), Some(4)));
        assert!(rules.scan(b"nothing here").0.is_empty());
        std::fs::write(d.path().join("bad.yara"), "rule x {\n condition: nope }\n").unwrap();
        let e = compile(d.path()).unwrap_err();
        assert!(e.contains("bad.yara") && e.contains(":2:"), "{e}");
    }

    #[test]
    fn the_modules_rule_sets_import_are_there() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("m.yar"),
            "import \"elf\"\nimport \"hash\"\nimport \"pe\"\nimport \"math\"\n\
             rule an_elf { condition: elf.type == elf.ET_DYN or elf.type == elf.ET_EXEC }\n\
             rule abc { condition: hash.md5(0, filesize) == \"900150983cd24fb0d6963f7d28e17f72\" }\n\
             rule a_pe { condition: pe.is_pe }\n\
             rule flat { condition: math.entropy(0, filesize) < 1.0 }\n",
        )
        .unwrap();
        let rules = compile(d.path()).unwrap();
        let names = |b: &[u8]| -> Vec<String> {
            let mut v: Vec<String> = rules.scan(b).0.into_iter().map(|(h, _)| h.rule).collect();
            v.sort();
            v
        };
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(names(&exe).contains(&"an_elf".to_owned()));
        assert_eq!(names(b"abc"), ["abc"]);
        assert_eq!(names(b"aaaa"), ["flat"]);
    }

    #[test]
    fn windows_cover_a_run_and_overlap() {
        assert_eq!(windows(10), [(0, 10)]);
        let w = windows(WINDOW * 2);
        assert_eq!(w[0], (0, WINDOW));
        assert_eq!(w[1].0, WINDOW - OVERLAP);
        assert_eq!(w.last().unwrap().1, WINDOW * 2);
    }
}
