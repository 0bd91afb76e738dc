//! From `--profile` and `--artifacts` to the artifact sets to run.
//!
//! Profiles and `--artifacts` both hold artifact names or globs (`files/logs/*`), with a
//! leading `!` to exclude; names may carry UAC's `.yaml` suffix. A `--artifacts` item or
//! a profile entry that names an existing YAML file is loaded from that file, so UAC's
//! own artifact files and profiles work as they are; a profile beside UAC's
//! `artifacts/` directory is read with UAC's own list rules ([`super::uac_list`]).

use super::builtin;
use super::load::{parse_artifact_file, ArtifactSet, SpecError};
use super::model::ProfileYaml;
use globset::GlobBuilder;
use std::collections::BTreeMap;
use std::path::Path;

/// Every built-in artifact set and profile.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub artifacts: BTreeMap<String, ArtifactSet>,
    pub profiles: BTreeMap<String, Profile>,
}

/// A parsed profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub entries: Vec<String>,
    /// Directory of a profile file, against which entries that are paths resolve.
    pub base: Option<std::path::PathBuf>,
}

/// What will run.
#[derive(Debug)]
pub struct Selection {
    pub sets: Vec<ArtifactSet>,
    pub profile: Option<String>,
}

/// A profile file: UAC's line rules ([`super::uac_dialect::parse_profile`]), which
/// keep `- !NAME` an exclusion; a profile written as a YAML flow list
/// (`artifacts: [a, b]`) is read as YAML.
fn parse_profile(origin: &str, text: &str, base: Option<&Path>) -> Result<Profile, SpecError> {
    let (name, description, entries) = match super::uac_dialect::parse_profile(origin, text) {
        Ok(p) if !p.entries.is_empty() => (p.name, p.description, p.entries),
        _ => {
            let p: ProfileYaml = serde_yaml_ng::from_str(text).map_err(|e| SpecError::Syntax {
                file: origin.to_owned(),
                line: e.location().map(|l| l.line()).unwrap_or(1),
                message: e.to_string(),
            })?;
            (p.name, p.description, p.artifacts)
        }
    };
    Ok(Profile {
        name: name.unwrap_or_else(|| origin.to_owned()),
        description: description.unwrap_or_default(),
        entries,
        base: base.map(Path::to_path_buf),
    })
}

impl Catalog {
    /// Loads the embedded specs. A broken built-in spec is a build defect, reported as such.
    pub fn builtin() -> Result<Catalog, SpecError> {
        let mut artifacts = BTreeMap::new();
        for (name, text) in builtin::artifact_files() {
            let origin = format!("artifact-specs/artifacts/{name}.yaml");
            artifacts.insert(name.clone(), parse_artifact_file(&name, &origin, text)?);
        }
        let mut profiles = BTreeMap::new();
        for (name, text) in builtin::profile_files() {
            let origin = format!("artifact-specs/profiles/{name}.yaml");
            let mut p = parse_profile(&origin, text, None)?;
            p.name = name.clone();
            profiles.insert(name, p);
        }
        Ok(Catalog {
            artifacts,
            profiles,
        })
    }

    /// Names of built-in artifacts matching a name or glob (with or without `.yaml`).
    fn matching(&self, pattern: &str) -> Result<Vec<String>, SpecError> {
        let pattern = pattern
            .trim()
            .trim_end_matches(".yaml")
            .trim_end_matches(".yml");
        let glob = GlobBuilder::new(pattern)
            .literal_separator(false)
            .build()
            .map_err(|e| SpecError::Selection(format!("bad artifact pattern `{pattern}`: {e}")))?
            .compile_matcher();
        Ok(self
            .artifacts
            .keys()
            .filter(|n| glob.is_match(n.as_str()))
            .cloned()
            .collect())
    }

    /// `; did you mean NAME?` for the built-in artifact closest to a name that matched
    /// nothing, when one is close enough to be a typo of it.
    fn suggest(&self, wrong: &str) -> String {
        let wrong = wrong.trim_end_matches(".yaml").trim_end_matches(".yml");
        self.artifacts
            .keys()
            .map(|n| (strsim::normalized_damerau_levenshtein(wrong, n), n))
            .filter(|(score, _)| *score >= 0.7)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, n)| format!("; did you mean `{n}`?"))
            .unwrap_or_default()
    }
}

/// Loads an artifact file under `name` (a profile entry without `.yaml`, or the file
/// stem for `--artifacts FILE`), keeping its path as the origin.
fn load_file(path: &Path, name: &str) -> Result<ArtifactSet, SpecError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| SpecError::File {
        file: origin.clone(),
        message: e.to_string(),
    })?;
    parse_artifact_file(name, &origin, &text)
}

fn looks_like_file(item: &str) -> bool {
    item.ends_with(".yaml") || item.ends_with(".yml") || item.contains("./")
}

/// Artifact sets chosen so far, and the exclusions to apply.
#[derive(Default)]
struct Chosen {
    sets: BTreeMap<String, ArtifactSet>,
    excludes: Vec<String>,
}

/// Resolves the selection. `profile` is a built-in name or a profile file; `artifacts`
/// is the comma-separated `--artifacts` list.
pub fn select(
    catalog: &Catalog,
    profile: Option<&str>,
    artifacts: Option<&str>,
) -> Result<Selection, SpecError> {
    let items: Vec<&str> = artifacts
        .map(|a| {
            a.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let adds_any = items.iter().any(|i| !i.starts_with('!'));
    let profile_name = match profile {
        Some(p) => Some(p),
        None if !adds_any => Some(builtin::DEFAULT_PROFILE),
        None => None,
    };
    let profile = profile_name.map(|p| load_profile(catalog, p)).transpose()?;
    let mut chosen = Chosen::default();
    if let Some(p) = &profile {
        add_profile(catalog, p, &mut chosen)?;
    }
    for item in items {
        add_item(catalog, item, &mut chosen)?;
    }
    for ex in &chosen.excludes {
        let pattern = ex.trim_end_matches(".yaml");
        let glob = GlobBuilder::new(pattern)
            .literal_separator(false)
            .build()
            .map_err(|e| SpecError::Selection(format!("bad exclusion `!{ex}`: {e}")))?
            .compile_matcher();
        chosen
            .sets
            .retain(|name, _| !glob.is_match(name.as_str()) && name != ex);
    }
    if chosen.sets.is_empty() {
        return Err(SpecError::Selection(
            "the selection is empty: nothing to collect".into(),
        ));
    }
    Ok(Selection {
        sets: chosen.sets.into_values().collect(),
        profile: profile.map(|p| p.name),
    })
}

/// A built-in profile by name, or a profile file.
fn load_profile(catalog: &Catalog, p: &str) -> Result<Profile, SpecError> {
    if let Some(found) = catalog.profiles.get(p) {
        return Ok(found.clone());
    }
    if Path::new(p).is_file() {
        let text = std::fs::read_to_string(p).map_err(|e| SpecError::File {
            file: p.to_owned(),
            message: e.to_string(),
        })?;
        return parse_profile(p, &text, Path::new(p).parent());
    }
    Err(SpecError::Selection(format!(
        "unknown profile `{p}` (built-in: {}; or give a profile YAML file)",
        catalog
            .profiles
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// The profile's entries: built-in names or globs, files relative to it (or to UAC's
/// `artifacts/` beside it), `!` exclusions.
fn add_profile(catalog: &Catalog, p: &Profile, chosen: &mut Chosen) -> Result<(), SpecError> {
    // A profile of UAC's own (beside UAC's artifacts/): its entries are UAC's, read with
    // UAC's rules, never cairn's built-in names.
    if let Some(dir) = p
        .base
        .as_ref()
        .and_then(|b| b.join("../artifacts").canonicalize().ok())
        .filter(|d| d.is_dir())
    {
        let builtin = |item: &str| catalog.matching(item).unwrap_or_default();
        let listed = super::uac_list::resolve(&dir, &p.entries, &builtin).map_err(|e| {
            SpecError::Selection(match e {
                super::uac_list::ListError::Missing(item) => format!(
                    "profile `{}`: entry `{item}` is neither a built-in artifact (see `cairn-collector artifacts`) nor an artifact file under {} (UAC refuses it too){}",
                    p.name,
                    dir.display(),
                    catalog.suggest(&item)
                ),
                super::uac_list::ListError::Pattern(m) => format!("profile `{}`: {m}", p.name),
            })
        })?;
        for l in listed {
            let set = match l {
                super::uac_list::Listed::File { path, name } => load_file(&path, &name)?,
                super::uac_list::Listed::Builtin(name) => catalog.artifacts[&name].clone(),
            };
            chosen.sets.insert(set.name.clone(), set);
        }
        return Ok(());
    }
    for entry in &p.entries {
        if let Some(ex) = entry.strip_prefix('!') {
            chosen.excludes.push(ex.to_owned());
            continue;
        }
        let names = catalog.matching(entry)?;
        if !names.is_empty() {
            for n in names {
                chosen.sets.insert(n.clone(), catalog.artifacts[&n].clone());
            }
            continue;
        }
        // A UAC profile names files relative to UAC's artifacts/ directory.
        let file = p.base.as_ref().and_then(|b| {
            [b.join(entry), b.join("../artifacts").join(entry)]
                .into_iter()
                .find(|f| f.is_file())
        });
        match file {
            Some(f) => {
                let set = load_file(&f, entry.trim_end_matches(".yaml").trim_end_matches(".yml"))?;
                chosen.sets.insert(set.name.clone(), set);
            }
            // A typo would otherwise drop evidence silently: refuse, as --artifacts does.
            None => {
                let looked = match &p.base {
                    Some(b) => format!(
                        " (no file {} or {})",
                        b.join(entry).display(),
                        b.join("../artifacts").join(entry).display()
                    ),
                    None => String::new(),
                };
                return Err(SpecError::Selection(format!(
                    "profile `{}`: entry `{entry}` is neither a built-in artifact (see `cairn-collector artifacts`) nor an artifact YAML file{looked}{}",
                    p.name,
                    catalog.suggest(entry)
                )));
            }
        }
    }
    Ok(())
}

/// One `--artifacts` item: a built-in name or glob, an artifact file, or `!NAME`.
fn add_item(catalog: &Catalog, item: &str, chosen: &mut Chosen) -> Result<(), SpecError> {
    if let Some(ex) = item.strip_prefix('!') {
        chosen.excludes.push(ex.to_owned());
        return Ok(());
    }
    let names = if looks_like_file(item) && Path::new(item).is_file() {
        Vec::new()
    } else {
        catalog.matching(item)?
    };
    if names.is_empty() {
        if !Path::new(item).is_file() {
            return Err(SpecError::Selection(format!(
                "`{item}` is neither a built-in artifact (see `cairn-collector artifacts`) nor an artifact YAML file{}",
                catalog.suggest(item)
            )));
        }
        // Named by its path under UAC's `artifacts/` when it is in such a tree (two of
        // UAC's files may share a stem), else by its stem.
        let name = match item.rsplit_once("/artifacts/") {
            Some((_, rel)) => rel
                .trim_end_matches(".yaml")
                .trim_end_matches(".yml")
                .to_owned(),
            None => Path::new(item)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| item.to_owned()),
        };
        let set = load_file(Path::new(item), &name)?;
        chosen.sets.insert(set.name.clone(), set);
    }
    for n in names {
        chosen.sets.insert(n.clone(), catalog.artifacts[&n].clone());
    }
    Ok(())
}
