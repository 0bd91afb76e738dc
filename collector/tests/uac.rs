//! UAC compatibility, against UAC 3.3.0 itself (vendored in `tests/uac-3.3`): every
//! artifact file and profile of the release loads; the UAC-only ones are said.

use cairn_collector::spec::load::parse_artifact_file;
use cairn_collector::spec::{select, Catalog};
use std::path::{Path, PathBuf};

fn uac_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/uac-3.3")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(yaml_files(&p));
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// All 421 artifact files and 4 profiles of UAC 3.3, byte for byte as released.
#[test]
fn every_artifact_file_and_profile_of_uac_3_3_loads() {
    let arts = uac_dir().join("artifacts");
    let files = yaml_files(&arts);
    assert_eq!(files.len(), 421, "the vendored release is incomplete");
    let mut failed = Vec::new();
    let mut entries = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let name = f
            .strip_prefix(&arts)
            .unwrap()
            .to_string_lossy()
            .trim_end_matches(".yaml")
            .to_owned();
        match parse_artifact_file(&name, &f.display().to_string(), &text) {
            Ok(set) => entries += set.entries.len(),
            Err(e) => failed.push(e.to_string()),
        }
    }
    assert!(
        failed.is_empty(),
        "{} refused:\n{}",
        failed.len(),
        failed.join("\n")
    );
    // Every `-` of every file became an entry.
    let dashes: usize = files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .filter(|l| l.trim() == "-")
                .count()
        })
        .sum();
    assert_eq!(entries, dashes);

    let catalog = Catalog::builtin().unwrap();
    let profiles = yaml_files(&uac_dir().join("profiles"));
    assert_eq!(profiles.len(), 4);
    for p in &profiles {
        let s = select(&catalog, Some(p.to_str().unwrap()), None)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(
            s.sets
                .iter()
                .all(|set| set.origin.contains("/tests/uac-3.3/artifacts/")),
            "{}: a UAC profile took a cairn built-in",
            p.display()
        );
    }
    // ir_triage: `live_response/packages/*` then `!live_response/packages/package_owns_file.yaml`.
    let s = select(
        &catalog,
        Some(uac_dir().join("profiles/ir_triage.yaml").to_str().unwrap()),
        None,
    )
    .unwrap();
    let names: Vec<&str> = s.sets.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"live_response/packages/rpm"), "{names:?}");
    assert!(
        !names.contains(&"live_response/packages/package_owns_file"),
        "{names:?}"
    );
    assert!(names.contains(&"chkrootkit/chkrootkit"), "{names:?}");
}
