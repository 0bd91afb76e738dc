//! UAC's artifact list, as `uac -a LIST` and a UAC profile give it
//! (`lib/validate_artifact_list.sh`): items in order, each a shell glob under UAC's
//! `artifacts/` directory (a leading `./` or `artifacts/` dropped, every `../`
//! removed) or an absolute one, expanded and then walked like `find -print`, so a
//! directory brings every file under it; `!ITEM` removes what it finds from the list
//! built so far, and a later item may add it back; an item that finds nothing is
//! refused, as UAC refuses it; each file keeps its first place. Only regular files
//! remain (`lib/build_artifact_list.sh`).
//!
//! One addition: an item that finds nothing under UAC's directory may name cairn's
//! built-in artifacts (`live/*`), so one profile can mix UAC's files with cairn's native
//! collectors. Where UAC's directory has the item, UAC's files win.

use std::path::{Path, PathBuf};

/// One artifact of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    /// A file: its path and its name (the path under the artifacts directory without
    /// `.yaml`, e.g. `files/logs/var_log`).
    File { path: PathBuf, name: String },
    /// A cairn built-in artifact, by name.
    Builtin(String),
}

impl Listed {
    pub fn name(&self) -> &str {
        match self {
            Listed::File { name, .. } | Listed::Builtin(name) => name,
        }
    }
}

/// Why a list cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub enum ListError {
    /// An item that finds nothing (UAC: "Artifact 'X' does not exist").
    Missing(String),
    /// An item that is not a valid glob.
    Pattern(String),
}

/// Resolves `items` against `artifacts` (UAC's `artifacts/` directory); `builtin`
/// gives the names of cairn's built-in artifacts an item matches.
pub fn resolve(
    artifacts: &Path,
    items: &[String],
    builtin: &dyn Fn(&str) -> Vec<String>,
) -> Result<Vec<Listed>, ListError> {
    let mut list: Vec<Listed> = Vec::new();
    for raw in items {
        let item = raw.trim();
        if item.is_empty() {
            continue;
        }
        let (exclude, item) = match item.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, item),
        };
        let files = find(artifacts, item)?;
        let found: Vec<Listed> = if files.is_empty() {
            builtin(item).into_iter().map(Listed::Builtin).collect()
        } else {
            files
                .into_iter()
                .filter(|f| f.is_file())
                .map(|path| Listed::File {
                    name: name_of(artifacts, &path),
                    path,
                })
                .collect()
        };
        if found.is_empty() {
            return Err(ListError::Missing(item.to_owned()));
        }
        if exclude {
            list.retain(|f| !found.contains(f));
        } else {
            for f in found {
                if !list.contains(&f) {
                    list.push(f);
                }
            }
        }
    }
    Ok(list)
}

/// `files/logs/var_log` for `ARTIFACTS/files/logs/var_log.yaml`.
fn name_of(artifacts: &Path, path: &Path) -> String {
    path.strip_prefix(artifacts)
        .unwrap_or(path)
        .to_string_lossy()
        .trim_end_matches(".yaml")
        .trim_end_matches(".yml")
        .to_owned()
}

/// What `find DIR/ITEM -print` lists once the shell has expanded ITEM's globs: each
/// match, and everything under a directory that matches, in order.
fn find(artifacts: &Path, item: &str) -> Result<Vec<PathBuf>, ListError> {
    let cleaned = item.replace("../", "");
    let pattern = if cleaned.starts_with('/') {
        cleaned
    } else {
        let rel = cleaned.trim_start_matches("./");
        let rel = rel.strip_prefix("artifacts/").unwrap_or(rel);
        format!(
            "{}/{rel}",
            glob::Pattern::escape(&artifacts.to_string_lossy())
        )
    };
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let matches = glob::glob_with(&pattern, options)
        .map_err(|e| ListError::Pattern(format!("`{item}` is not a valid pattern: {e}")))?;
    let mut out = Vec::new();
    for m in matches.flatten() {
        for e in walkdir::WalkDir::new(&m)
            .sort_by_file_name()
            .into_iter()
            .flatten()
        {
            out.push(e.into_path());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        for f in [
            "files/logs/var_log.yaml",
            "files/logs/wtmp.yaml",
            "files/shell/history.yaml",
            "live/ps.yaml",
            "live/.hidden.yaml",
        ] {
            let p = t.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        t
    }

    fn names(l: &[Listed]) -> Vec<&str> {
        l.iter().map(Listed::name).collect()
    }

    fn none(_: &str) -> Vec<String> {
        Vec::new()
    }

    #[test]
    fn globs_directories_exclusions_and_order_as_uac() {
        let t = tree();
        let items = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let l = resolve(
            t.path(),
            &items(&[
                "live/*",
                "files/logs",
                "!files/logs/wtmp.yaml",
                "./artifacts/files/shell/*",
            ]),
            &none,
        )
        .unwrap();
        assert_eq!(
            names(&l),
            vec!["live/ps", "files/logs/var_log", "files/shell/history"]
        );
        // An exclusion applies to what came before it only.
        let l = resolve(
            t.path(),
            &items(&["!live/ps.yaml", "live/*", "live/*"]),
            &none,
        )
        .unwrap();
        assert_eq!(names(&l), vec!["live/ps"]);
        // What UAC's directory lacks may be a built-in; UAC's files win otherwise.
        let builtin = |i: &str| match i {
            "native/*" | "live/*" => vec!["native/sockets".to_owned()],
            _ => Vec::new(),
        };
        let l = resolve(t.path(), &items(&["native/*", "live/*"]), &builtin).unwrap();
        assert_eq!(l[0], Listed::Builtin("native/sockets".into()));
        assert_eq!(names(&l), vec!["native/sockets", "live/ps"]);
        let e = resolve(t.path(), &items(&["files/nothing/*"]), &none).unwrap_err();
        assert_eq!(e, ListError::Missing("files/nothing/*".into()));
    }
}
