//! Which collections `ARCHIVE|DIR...` names: a file as given; a directory's `*.tar.zst`
//! (what `cairn collect --output-dir` wrote), each collection's archive paired with the
//! Kubernetes evidence beside it (`NAME.k8s.tar.zst`). Files cut off (`.part`) or
//! altered on arrival (`.corrupt`) do not end in `.tar.zst` and are said, not read.

use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const ARCHIVE: &str = ".tar.zst";
const K8S: &str = ".k8s.tar.zst";

/// One target's collection: its archive, its Kubernetes evidence, or both.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Collection {
    /// The archive's name without `.tar.zst` (`NS_POD_CONTAINER_UTCTIME`).
    pub name: String,
    pub archive: Option<PathBuf>,
    pub k8s: Option<PathBuf>,
}

/// The collections the arguments name, in name order, and what was left out and why.
pub fn find(args: &[PathBuf]) -> anyhow::Result<(Vec<Collection>, Vec<String>)> {
    let mut by_name: BTreeMap<String, Collection> = BTreeMap::new();
    let mut skipped = Vec::new();
    for a in args {
        let meta = std::fs::metadata(a).with_context(|| format!("{}", a.display()))?;
        if meta.is_dir() {
            let mut found = 0;
            let mut entries: Vec<PathBuf> = std::fs::read_dir(a)
                .with_context(|| format!("reading {}", a.display()))?
                .flatten()
                .map(|e| e.path())
                .collect();
            entries.sort();
            for p in entries {
                let n = file_name(&p);
                if n.ends_with(ARCHIVE) && p.is_file() {
                    add(&mut by_name, p);
                    found += 1;
                } else if n.ends_with(".part") || n.ends_with(".corrupt") {
                    skipped.push(format!(
                        "{}: {} (cut off or altered on arrival; it does not verify)",
                        p.display(),
                        if n.ends_with(".part") {
                            "incomplete"
                        } else {
                            "altered"
                        }
                    ));
                }
            }
            if found == 0 {
                bail!("{}: no cairn archive (*.tar.zst) in it", a.display());
            }
        } else if file_name(a).ends_with(ARCHIVE) {
            add(&mut by_name, a.clone());
        } else {
            bail!(
                "{}: not a cairn archive (NAME.tar.zst) or a directory of them",
                a.display()
            );
        }
    }
    Ok((by_name.into_values().collect(), skipped))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn add(by_name: &mut BTreeMap<String, Collection>, p: PathBuf) {
    let n = file_name(&p);
    let (name, k8s) = match n.strip_suffix(K8S) {
        Some(base) => (base.to_owned(), true),
        None => (n.trim_end_matches(ARCHIVE).to_owned(), false),
    };
    let c = by_name.entry(name.clone()).or_insert_with(|| Collection {
        name,
        ..Collection::default()
    });
    if k8s {
        c.k8s = Some(p);
    } else {
        c.archive = Some(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_pairs_each_archive_with_its_evidence_and_says_what_it_leaves_out() {
        let d = tempfile::tempdir().unwrap();
        for n in [
            "shop_web_main_20261130T100000Z.tar.zst",
            "shop_web_main_20261130T100000Z.k8s.tar.zst",
            "shop_web_main_20261130T100000Z.tar.zst.sha256",
            "shop_api_app_20261130T100001Z.tar.zst",
            "shop_db_pg_20261130T100002Z.tar.zst.part",
            "case.json",
        ] {
            std::fs::write(d.path().join(n), b"x").unwrap();
        }
        let (found, skipped) = find(&[d.path().to_owned()]).unwrap();
        let names: Vec<(&str, bool, bool)> = found
            .iter()
            .map(|c| (c.name.as_str(), c.archive.is_some(), c.k8s.is_some()))
            .collect();
        assert_eq!(
            names,
            [
                ("shop_api_app_20261130T100001Z", true, false),
                ("shop_web_main_20261130T100000Z", true, true),
            ]
        );
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].contains("shop_db_pg") && skipped[0].contains("incomplete"));
        assert!(find(&[d.path().join("case.json")]).is_err());
        let empty = tempfile::tempdir().unwrap();
        assert!(find(&[empty.path().to_owned()]).is_err());
    }
}
