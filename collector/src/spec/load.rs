//! Loading artifact files: YAML, or UAC's own dialect ([`super::uac_dialect`]) →
//! validated [`Artifact`]s.
//!
//! Errors name the file, the line and the field. YAML syntax and type errors carry
//! the parser's own location; for semantic errors (unknown field, missing `path`,
//! bad glob) the line is found by scanning the text for the entry and the field, since
//! serde does not keep spans for values that deserialize successfully.

pub use super::error::SpecError;
use super::model::{ArtifactFileYaml, ArtifactYaml, IGNORED_UAC_FIELDS, KNOWN_FIELDS};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// What an artifact entry does with the objects it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectorKind {
    /// Copy matched files into the archive.
    File,
    /// Write the list of matched paths.
    Find,
    /// Write the sha256 of every matched file.
    Hash,
    /// Write a bodyfile line for every matched object.
    Stat,
    /// A shell command: never run by cairn (the target may have no shell); logged.
    Command,
    /// A cairn native collector (live response), named by the entry's `native` field.
    Native,
}

impl CollectorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CollectorKind::File => "file",
            CollectorKind::Find => "find",
            CollectorKind::Hash => "hash",
            CollectorKind::Stat => "stat",
            CollectorKind::Command => "command",
            CollectorKind::Native => "native",
        }
    }
}

/// A `find -perm` test: exact mode, all bits (`-MODE`) or any bit (`/MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermTest {
    Exact(u32),
    All(u32),
    Any(u32),
}

impl PermTest {
    fn parse(text: &str) -> Option<PermTest> {
        let (ctor, digits): (fn(u32) -> PermTest, &str) = if let Some(d) = text.strip_prefix('-') {
            (PermTest::All, d)
        } else if let Some(d) = text.strip_prefix('/') {
            (PermTest::Any, d)
        } else {
            (PermTest::Exact, text)
        };
        u32::from_str_radix(digits, 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .map(ctor)
    }

    pub fn matches(self, mode: u32) -> bool {
        let m = mode & 0o7777;
        match self {
            PermTest::Exact(b) => m == b,
            PermTest::All(b) => m & b == b,
            PermTest::Any(b) => b == 0 || m & b != 0,
        }
    }
}

/// One validated artifact entry, ready to run.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// Name of the artifact file it came from (`files/logs/var_log`).
    pub set: String,
    /// Line of the entry in its file.
    pub line: usize,
    pub description: String,
    pub collector: CollectorKind,
    pub supported_os: Vec<String>,
    pub path: String,
    /// `path` split into the words UAC's shell sees: several paths, globs marked
    /// (empty for a file list).
    pub paths: Vec<super::words::Word>,
    pub name_pattern: Option<GlobSet>,
    pub path_pattern: Option<GlobSet>,
    pub exclude_name_pattern: Option<GlobSet>,
    pub exclude_path_pattern: Option<GlobSet>,
    pub exclude_file_system: Vec<String>,
    /// `find -type` letters; `None` means every type.
    pub file_type: Option<Vec<char>>,
    pub min_depth: Option<usize>,
    pub max_depth: Option<usize>,
    pub min_file_size: Option<u64>,
    pub max_file_size: Option<u64>,
    pub permissions: Vec<PermTest>,
    pub ignore_date_range: bool,
    pub exclude_nologin_users: bool,
    pub output_directory: Option<String>,
    pub output_file: Option<String>,
    pub is_file_list: bool,
    pub command: Option<String>,
    /// For `collector: native`: which native collector.
    pub native: Option<String>,
    /// Stay on the filesystem where the walk starts.
    pub one_file_system: bool,
    /// For `collector: file`: store at most this many bytes of each file.
    pub truncate_size: Option<u64>,
    /// UAC fields cairn reads but does not act on, with their values (the file's own
    /// `condition` included), for [`super::uac_differences`].
    pub ignored: Vec<(String, String)>,
}

impl Artifact {
    /// True when the entry applies to Linux (`supported_os` absent, `all` or `linux`).
    pub fn supports_linux(&self) -> bool {
        self.supported_os.is_empty()
            || self
                .supported_os
                .iter()
                .any(|o| o.eq_ignore_ascii_case("all") || o.eq_ignore_ascii_case("linux"))
    }
}

/// The entries of one artifact file.
#[derive(Debug, Clone)]
pub struct ArtifactSet {
    pub name: String,
    /// Where it was read from (`builtin:...` or a file path).
    pub origin: String,
    pub description: String,
    pub entries: Vec<Artifact>,
}

/// 1-based lines where the entries of the top-level `artifacts:` list start.
fn item_lines(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let mut in_list = false;
    let mut indent: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let ind = line.len() - trimmed.len();
        if ind == 0 && !trimmed.starts_with('-') {
            in_list = trimmed.starts_with("artifacts:");
            continue;
        }
        if in_list && trimmed.starts_with('-') && *indent.get_or_insert(ind) == ind {
            lines.push(i + 1);
        }
    }
    lines
}

/// The line of `field` inside the entry starting at `start` (before `end`), or `start`.
fn field_line(text: &str, start: usize, end: usize, field: &str) -> usize {
    let key = format!("{field}:");
    text.lines()
        .enumerate()
        .skip(start.saturating_sub(1))
        .take(end.saturating_sub(start).max(1))
        .find(|(_, l)| {
            l.trim_start()
                .trim_start_matches('-')
                .trim_start()
                .starts_with(&key)
        })
        .map(|(i, _)| i + 1)
        .unwrap_or(start)
}

fn globs(list: &Option<super::model::OneOrMany<String>>) -> Result<Option<GlobSet>, String> {
    let Some(list) = list else { return Ok(None) };
    let mut b = GlobSetBuilder::new();
    for p in list.to_vec() {
        // find(1) semantics: `*` also matches `/` in -path patterns.
        let g = GlobBuilder::new(&p)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|e| format!("bad pattern `{p}`: {e}"))?;
        b.add(g);
    }
    b.build().map(Some).map_err(|e| e.to_string())
}

/// Parses and validates one artifact file.
pub fn parse_artifact_file(name: &str, origin: &str, text: &str) -> Result<ArtifactSet, SpecError> {
    let (yaml, raw) = if super::uac_dialect::is_uac_layout(text) {
        let raw = super::uac_dialect::parse(origin, text)?;
        let yaml: ArtifactFileYaml =
            serde_yaml_ng::from_value(raw.clone()).map_err(|e| SpecError::File {
                file: origin.to_owned(),
                message: e.to_string(),
            })?;
        (yaml, raw)
    } else {
        let yaml: ArtifactFileYaml =
            serde_yaml_ng::from_str(text).map_err(|e| SpecError::Syntax {
                file: origin.to_owned(),
                line: e.location().map(|l| l.line()).unwrap_or(1),
                message: e.to_string(),
            })?;
        let raw: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(text).map_err(|e| SpecError::File {
                file: origin.to_owned(),
                message: e.to_string(),
            })?;
        (yaml, raw)
    };
    let starts = item_lines(text);
    let total_lines = text.lines().count() + 1;
    let span = |i: usize| {
        let s = starts.get(i).copied().unwrap_or(1);
        let e = starts.get(i + 1).copied().unwrap_or(total_lines);
        (s, e)
    };
    let field_err = |i: usize, field: &str, message: String| {
        let (s, e) = span(i);
        SpecError::Field {
            file: origin.to_owned(),
            line: field_line(text, s, e, field),
            field: field.to_owned(),
            message,
        }
    };

    let text_of = |v: &serde_yaml_ng::Value| match v {
        serde_yaml_ng::Value::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_owned(),
    };
    let mut ignored: Vec<Vec<(String, String)>> = Vec::new();
    if let Some(items) = raw.get("artifacts").and_then(|v| v.as_sequence()) {
        for (i, item) in items.iter().enumerate() {
            let Some(map) = item.as_mapping() else {
                return Err(SpecError::Syntax {
                    file: origin.to_owned(),
                    line: span(i).0,
                    message: "an artifact entry must be a mapping of fields".into(),
                });
            };
            let mut mine = Vec::new();
            if let Some(c) = raw.get("condition") {
                mine.push(("condition".to_owned(), text_of(c)));
            }
            for (key, value) in map {
                let k = key.as_str().unwrap_or("?");
                if !KNOWN_FIELDS.contains(&k) && !IGNORED_UAC_FIELDS.contains(&k) {
                    return Err(field_err(i, k, "unknown field (a typo?)".into()));
                }
                if IGNORED_UAC_FIELDS.contains(&k) {
                    mine.push((k.to_owned(), text_of(value)));
                }
            }
            ignored.push(mine);
        }
    }
    if yaml.artifacts.is_empty() {
        return Err(SpecError::File {
            file: origin.to_owned(),
            message: "`artifacts` is empty".into(),
        });
    }

    let mut entries = Vec::new();
    for (i, a) in yaml.artifacts.into_iter().enumerate() {
        let mut art = compile(name, i, span(i).0, a, &yaml.output_directory, &field_err)?;
        art.ignored = ignored.get(i).cloned().unwrap_or_default();
        entries.push(art);
    }
    Ok(ArtifactSet {
        name: name.to_owned(),
        origin: origin.to_owned(),
        description: yaml.description.unwrap_or_default(),
        entries,
    })
}

/// Builds a field error at entry `i`.
type FieldErr<'f> = &'f dyn Fn(usize, &str, String) -> SpecError;

fn compile(
    set: &str,
    i: usize,
    line: usize,
    a: ArtifactYaml,
    file_output_dir: &Option<String>,
    field_err: FieldErr<'_>,
) -> Result<Artifact, SpecError> {
    let collector = collector_kind(i, &a, field_err)?;
    required_fields(i, &a, collector, field_err)?;
    let file_type = file_types(i, &a, field_err)?;
    let permissions = permission_tests(i, &a, field_err)?;
    let g = |field: &str, v: &Option<super::model::OneOrMany<String>>| {
        globs(v).map_err(|m| field_err(i, field, m))
    };
    Ok(Artifact {
        set: set.to_owned(),
        line,
        description: a.description.unwrap_or_default(),
        collector,
        supported_os: a.supported_os.map(|s| s.to_vec()).unwrap_or_default(),
        paths: match (&a.path, a.is_file_list.unwrap_or(false)) {
            (Some(p), false) => super::words::split(p).map_err(|m| field_err(i, "path", m))?,
            _ => Vec::new(),
        },
        path: a.path.unwrap_or_default(),
        name_pattern: g("name_pattern", &a.name_pattern)?,
        path_pattern: g("path_pattern", &a.path_pattern)?,
        exclude_name_pattern: g("exclude_name_pattern", &a.exclude_name_pattern)?,
        exclude_path_pattern: g("exclude_path_pattern", &a.exclude_path_pattern)?,
        exclude_file_system: a
            .exclude_file_system
            .map(|s| s.to_vec())
            .unwrap_or_default(),
        file_type,
        min_depth: a.min_depth,
        // UAC: 0 is no limit (find gets no -maxdepth).
        max_depth: a.max_depth.filter(|d| *d > 0),
        min_file_size: a.min_file_size,
        max_file_size: a.max_file_size,
        permissions,
        ignore_date_range: a.ignore_date_range.unwrap_or(false),
        exclude_nologin_users: a.exclude_nologin_users.unwrap_or(false),
        output_directory: a.output_directory.or_else(|| file_output_dir.clone()),
        output_file: a.output_file,
        is_file_list: a.is_file_list.unwrap_or(false),
        command: a.command,
        native: a.native,
        one_file_system: a.one_file_system.unwrap_or(false),
        truncate_size: a.truncate_size,
        ignored: Vec::new(),
    })
}

/// The entry's `collector`.
fn collector_kind(
    i: usize,
    a: &ArtifactYaml,
    field_err: FieldErr<'_>,
) -> Result<CollectorKind, SpecError> {
    Ok(match a.collector.as_deref() {
        Some("file") => CollectorKind::File,
        Some("find") => CollectorKind::Find,
        Some("hash") => CollectorKind::Hash,
        Some("stat") => CollectorKind::Stat,
        Some("command") => CollectorKind::Command,
        Some("native") => CollectorKind::Native,
        Some(other) => {
            return Err(field_err(
                i,
                "collector",
                format!(
                "unknown collector `{other}` (expected file, find, hash, stat, command or native)"
            ),
            ))
        }
        None => return Err(field_err(i, "collector", "missing".into())),
    })
}

/// What each kind of collector needs: a known `native` name, a `command`, or an
/// absolute `path`.
fn required_fields(
    i: usize,
    a: &ArtifactYaml,
    collector: CollectorKind,
    field_err: FieldErr<'_>,
) -> Result<(), SpecError> {
    match collector {
        CollectorKind::Native => match a.native.as_deref() {
            Some(n) if crate::live::native(n).is_some() => Ok(()),
            Some(n) => Err(field_err(
                i,
                "native",
                format!(
                    "unknown native collector `{n}` (expected one of {})",
                    crate::live::NATIVE
                        .iter()
                        .map(|n| n.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            None => Err(field_err(
                i,
                "native",
                "missing for a native collector".into(),
            )),
        },
        CollectorKind::Command if a.command.is_none() => Err(field_err(
            i,
            "command",
            "missing for a command collector".into(),
        )),
        CollectorKind::Command => Ok(()),
        _ => match a.path.as_deref() {
            None | Some("") => Err(field_err(
                i,
                "path",
                format!("missing for a {} collector", collector.as_str()),
            )),
            Some(_) if a.is_file_list.unwrap_or(false) => Ok(()),
            Some(p) => {
                let words = super::words::split(p).map_err(|m| field_err(i, "path", m))?;
                // The first word must be absolute (`path: var/log` is a mistake); a
                // later relative word, as UAC's photos.yaml has from an unquoted space,
                // is skipped with a warning when the entry runs.
                match words
                    .first()
                    .filter(|w| !w.pattern.starts_with('/') && !w.pattern.starts_with('%'))
                {
                    Some(w) => Err(field_err(
                        i,
                        "path",
                        format!("`{}` must be absolute (in `{p}`)", w.literal()),
                    )),
                    None => Ok(()),
                }
            }
        },
    }
}

/// `file_type` as letters (f, d, l, p, s, b, c).
fn file_types(
    i: usize,
    a: &ArtifactYaml,
    field_err: FieldErr<'_>,
) -> Result<Option<Vec<char>>, SpecError> {
    let Some(list) = &a.file_type else {
        return Ok(None);
    };
    let mut letters = Vec::new();
    for t in list.to_vec() {
        let t = t.trim();
        match t {
            "f" | "d" | "l" | "p" | "s" | "b" | "c" => letters.push(t.as_bytes()[0] as char),
            _ => {
                return Err(field_err(
                    i,
                    "file_type",
                    format!("`{t}` is not one of f, d, l, p, s, b, c"),
                ))
            }
        }
    }
    Ok(Some(letters))
}

/// `permissions` as tests (exact, any-of, all-of).
fn permission_tests(
    i: usize,
    a: &ArtifactYaml,
    field_err: FieldErr<'_>,
) -> Result<Vec<PermTest>, SpecError> {
    let mut permissions = Vec::new();
    for p in a
        .permissions
        .as_ref()
        .map(|p| p.to_vec())
        .unwrap_or_default()
    {
        let text = p.as_text();
        permissions.push(PermTest::parse(&text).ok_or_else(|| {
            field_err(
                i,
                "permissions",
                format!("`{text}` is not an octal mode like 755, -001 or /111"),
            )
        })?);
    }
    Ok(permissions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uac_file_loads() {
        let text = "version: 1.0\nartifacts:\n  -\n    description: Collect shell history files.\n    supported_os: [all]\n    collector: file\n    path: /%user_home%\n    name_pattern: [\".*_history\", \".lesshst\"]\n    max_depth: 2\n    compress_output_file: true\n  -\n    description: exec\n    supported_os: [linux]\n    collector: find\n    path: /\n    file_type: f\n    permissions: -001\n    output_file: x.txt\n";
        let set = parse_artifact_file("files/shell/history", "t.yaml", text).unwrap();
        assert_eq!(set.entries.len(), 2);
        assert_eq!(set.entries[0].line, 3);
        assert_eq!(set.entries[1].line, 11);
        assert_eq!(set.entries[1].permissions, vec![PermTest::All(1)]);
        assert!(set.entries[0]
            .name_pattern
            .as_ref()
            .unwrap()
            .is_match(".bash_history"));
    }

    #[test]
    fn errors_name_file_line_field() {
        let text = "artifacts:\n  - description: a\n    collector: file\n    path: /etc\n  - description: b\n    collector: file\n    pth: /etc\n";
        let e = parse_artifact_file("x", "bad.yaml", text)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "bad.yaml:7: field `pth`: unknown field (a typo?)");
        let text = "artifacts:\n  - collector: file\n    path: /etc\n    max_depth: deep\n";
        let e = parse_artifact_file("x", "bad.yaml", text)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("bad.yaml:4:"), "{e}");
        assert!(e.contains("max_depth"), "{e}");
        let text = "artifacts:\n  - collector: file\n    file_type: [f, z]\n    path: /etc\n";
        let e = parse_artifact_file("x", "bad.yaml", text)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "bad.yaml:3: field `file_type`: `z` is not one of f, d, l, p, s, b, c"
        );
        let text = "artifacts:\n  - collector: copy\n    path: /etc\n";
        let e = parse_artifact_file("x", "bad.yaml", text)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("bad.yaml:2: field `collector`"), "{e}");
        let text = "artifacts:\n  - collector: file\n";
        let e = parse_artifact_file("x", "bad.yaml", text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("field `path`: missing"), "{e}");
    }

    #[test]
    fn perms() {
        assert!(PermTest::parse("-001").unwrap().matches(0o755));
        assert!(!PermTest::parse("-001").unwrap().matches(0o750));
        assert!(PermTest::parse("/4000").unwrap().matches(0o4755));
        assert!(PermTest::parse("644").unwrap().matches(0o100644));
        assert!(PermTest::parse("abc").is_none());
    }
}
