//! The artifact specs shipped in `artifact-specs/`, embedded in the binary at build time
//! so the collector needs no files on the target.

use include_dir::{include_dir, Dir};

static SPECS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../artifact-specs");

/// The profile used when neither `--profile` nor `--artifacts` selects anything.
pub const DEFAULT_PROFILE: &str = "container-triage";

/// Built-in artifact files as (name, text), the name being the path under
/// `artifact-specs/artifacts/` without `.yaml`.
pub fn artifact_files() -> Vec<(String, &'static str)> {
    files_under("artifacts")
}

/// Built-in profiles as (name, text).
pub fn profile_files() -> Vec<(String, &'static str)> {
    files_under("profiles")
}

fn files_under(top: &str) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    let mut stack: Vec<&Dir<'static>> = SPECS.get_dir(top).into_iter().collect();
    while let Some(dir) = stack.pop() {
        stack.extend(dir.dirs());
        for f in dir.files() {
            let path = f.path().to_string_lossy();
            let Some(rel) = path.strip_prefix(top).map(|r| r.trim_start_matches('/')) else {
                continue;
            };
            let Some(name) = rel
                .strip_suffix(".yaml")
                .or_else(|| rel.strip_suffix(".yml"))
            else {
                continue;
            };
            if let Some(text) = f.contents_utf8() {
                out.push((name.to_owned(), text));
            }
        }
    }
    out.sort();
    out
}
