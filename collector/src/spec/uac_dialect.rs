//! UAC's own artifact-file dialect, read the way UAC 3.3's shell parser reads it
//! (`lib/parse_artifact.sh`), so UAC's files load byte for byte unchanged. It is not
//! YAML: `path: %user_home%/.rhosts` and `description: 'top'-like utility` are plain
//! values there, and YAML refuses both.
//!
//! The rules, as UAC applies them: `#` starts a comment wherever it is; each line is a
//! key (its first word) and a value (the rest, trimmed); `artifacts:` must be followed by
//! a line holding only `-`, and each further `-` line ends one entry and starts the
//! next; list fields (`[a, b]` or `a, b`) lose their brackets, spaces around commas and
//! every quote, `\,` being a literal comma; sizes take UAC's suffixes (`k`, `M`, `G`...);
//! `"""` opens and closes a multi-line command. Where UAC silently drops something (a
//! line that is not `key: value`, fields written on a `-` line, a boolean that is
//! neither `true` nor `false`, which UAC would run as a shell command), cairn refuses the
//! file with its line instead.
//!
//! Written by hand because no crate reads this dialect. A file is read this way when its
//! `artifacts:` line is followed by a bare `-` ([`is_uac_layout`]); other files are YAML.

use super::error::SpecError;
use serde_yaml_ng::{Mapping, Value};

/// Fields UAC parses as lists (`_array_to_psv`).
const LIST_FIELDS: &[&str] = &[
    "exclude_file_system",
    "exclude_name_pattern",
    "exclude_path_pattern",
    "file_type",
    "name_pattern",
    "path_pattern",
    "permissions",
    "supported_os",
];

/// Fields UAC uses as `true`/`false` (it runs their value as a command).
const BOOL_FIELDS: &[&str] = &[
    "compress_output_file",
    "exclude_nologin_users",
    "ignore_date_range",
    "is_file_list",
    "no_group",
    "no_user",
    "redirect_stderr_to_stdout",
    "one_file_system",
];

/// Fields that are counts.
const COUNT_FIELDS: &[&str] = &["max_depth", "min_depth"];

/// Fields that are sizes with UAC's suffixes (`_convert_size`).
const SIZE_FIELDS: &[&str] = &["max_file_size", "min_file_size", "truncate_size"];

/// Fields whose value may be a `"""` block of several lines.
const BLOCK_FIELDS: &[&str] = &["command", "condition", "foreach"];

/// True when `text` is laid out as UAC lays out its files: the first line after
/// `artifacts:` (comments and blank lines aside) is a bare `-`.
pub fn is_uac_layout(text: &str) -> bool {
    let mut lines = logical_lines(text).into_iter();
    for (_, line) in lines.by_ref() {
        if first_word(&line).0 == "artifacts:" {
            return lines.next().is_some_and(|(_, l)| l == "-");
        }
    }
    false
}

/// The lines UAC's parser sees, each with its 1-based line number: comments (from `#`
/// on) cut, spaces trimmed, blank lines dropped.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let l = l.split('#').next().unwrap_or("");
            let l = l.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r');
            (!l.is_empty()).then(|| (i + 1, l.to_owned()))
        })
        .collect()
}

/// `read KEY VALUE` without `-r`: the first word, and the rest trimmed, a backslash
/// keeping the character after it (the same rule as a glob's escapes).
fn first_word(line: &str) -> (String, String) {
    let unescaped = super::words::unescape_glob(line);
    let t = unescaped.trim_start();
    match t.find([' ', '\t']) {
        Some(i) => (t[..i].to_owned(), t[i..].trim().to_owned()),
        None => (t.to_owned(), String::new()),
    }
}

/// UAC's `_array_to_psv`: brackets, spaces around commas, empty items and every quote
/// go; `\,` is a comma inside an item. (Here `read` has already turned `\,` into `,`, as
/// in UAC, so a comma always separates.)
pub fn list(value: &str) -> Vec<String> {
    let v = value.trim();
    let v = v.strip_prefix('[').unwrap_or(v);
    let v = v.strip_suffix(']').unwrap_or(v);
    v.split(',')
        .map(|item| item.trim().replace(['"', '\''], ""))
        .filter(|item| !item.is_empty())
        .collect()
}

/// UAC's `_convert_size`: digits and an optional suffix (b, c, k, M, G, T, with or
/// without a trailing `b`/`B`, any case).
pub fn size(value: &str) -> Option<u64> {
    let digits: String = value.chars().filter(|c| c.is_ascii_digit()).collect();
    let suffix: String = value.chars().filter(|c| !c.is_ascii_digit()).collect();
    let n: u64 = digits.parse().ok()?;
    let unit: u64 = match suffix.as_str() {
        "" | "b" | "c" => 1,
        "k" | "K" | "kb" | "KB" | "Kb" | "kB" => 1 << 10,
        "m" | "M" | "mb" | "MB" | "Mb" | "mB" => 1 << 20,
        "g" | "G" | "gb" | "GB" | "Gb" | "gB" => 1 << 30,
        "t" | "T" | "tb" | "TB" | "Tb" | "tB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(unit)
}

/// Parses a file in UAC's dialect into the same shape YAML gives: a mapping of the
/// file's fields with `artifacts`, a list of entries (mappings of typed values).
pub fn parse(origin: &str, text: &str) -> Result<Value, SpecError> {
    let err = |line: usize, message: String| SpecError::Syntax {
        file: origin.to_owned(),
        line,
        message,
    };
    let lines = logical_lines(text);
    let mut top = Mapping::new();
    let mut entries: Vec<Value> = Vec::new();
    let mut entry: Option<Mapping> = None;
    let mut in_artifacts = false;
    let mut i = 0;
    while i < lines.len() {
        let (n, line) = &lines[i];
        let (key, mut value) = first_word(line);
        i += 1;
        if key == "artifacts:" {
            if in_artifacts {
                return Err(err(*n, "a second `artifacts:`".into()));
            }
            if !value.is_empty() {
                return Err(err(*n, "`artifacts:` takes no value on its line".into()));
            }
            match lines.get(i) {
                Some((_, l)) if l == "-" => i += 1,
                _ => {
                    return Err(err(
                        *n,
                        "`artifacts:` must be followed by a line holding only `-` (UAC: invalid 'artifacts' sequence of mappings)".into(),
                    ))
                }
            }
            in_artifacts = true;
            entry = Some(Mapping::new());
            continue;
        }
        if key == "-" {
            if !in_artifacts {
                return Err(err(*n, "`-` before `artifacts:`".into()));
            }
            if !value.is_empty() {
                return Err(err(
                    *n,
                    format!("`- {value}`: UAC reads only a bare `-` here and would ignore the rest; put each field on its own line"),
                ));
            }
            if let Some(done) = entry.take() {
                entries.push(Value::Mapping(done));
            }
            entry = Some(Mapping::new());
            continue;
        }
        let Some(field) = key.strip_suffix(':').filter(|f| !f.is_empty()) else {
            return Err(err(
                *n,
                format!("`{line}` is not `key: value` (UAC would silently ignore this line)"),
            ));
        };
        if BLOCK_FIELDS.contains(&field) && value == "\"\"\"" {
            value.clear();
            loop {
                let Some((_, l)) = lines.get(i) else {
                    return Err(err(*n, format!("`{field}: \"\"\"` is never closed")));
                };
                i += 1;
                let l = super::words::unescape_glob(l).trim().to_owned();
                if l == "\"\"\"" {
                    break;
                }
                value.push_str(&l);
                value.push('\n');
            }
        }
        let typed = typed(field, &value).map_err(|m| SpecError::Field {
            file: origin.to_owned(),
            line: *n,
            field: field.to_owned(),
            message: m,
        })?;
        let map = if in_artifacts {
            entry.get_or_insert_with(Mapping::new)
        } else {
            &mut top
        };
        map.insert(Value::String(field.to_owned()), typed);
    }
    if let Some(last) = entry.take().filter(|m| !m.is_empty()) {
        entries.push(Value::Mapping(last));
    }
    if in_artifacts {
        top.insert(Value::String("artifacts".into()), Value::Sequence(entries));
    }
    Ok(Value::Mapping(top))
}

/// A profile read as UAC reads one (`lib/parse_profile.sh`): comments cut, every line
/// that starts with `-` an entry (the dash and the spaces after it dropped), `name:` and
/// `description:` lines kept. A `!` entry stays an exclusion here, where YAML would take
/// it for a tag. Quotes around a whole entry are dropped, as YAML would (UAC's own
/// profiles have none).
pub fn parse_profile(origin: &str, text: &str) -> Result<ProfileLines, SpecError> {
    let (mut name, mut description, mut entries) = (None, None, Vec::new());
    for (n, line) in logical_lines(text) {
        if let Some(entry) = line.strip_prefix('-') {
            let e = entry.trim();
            let e = ['"', '\'']
                .iter()
                .find_map(|q| e.strip_prefix(*q).and_then(|x| x.strip_suffix(*q)))
                .unwrap_or(e);
            if !e.is_empty() {
                entries.push(e.to_owned());
            }
            continue;
        }
        let (key, value) = first_word(&line);
        match key.as_str() {
            "name:" => name = Some(value),
            "description:" => description = Some(value),
            "artifacts:" if value.is_empty() => {}
            other => {
                return Err(SpecError::Syntax {
                    file: origin.to_owned(),
                    line: n,
                    message: format!(
                        "`{other}`: a profile has `name:`, `description:` and `artifacts:` with one `- ARTIFACT` per line"
                    ),
                })
            }
        }
    }
    Ok(ProfileLines {
        name,
        description,
        entries,
    })
}

/// A profile's lines: its name, description and entries.
#[derive(Debug)]
pub struct ProfileLines {
    pub name: Option<String>,
    pub description: Option<String>,
    pub entries: Vec<String>,
}

/// A field's value with the type UAC gives it.
fn typed(field: &str, value: &str) -> Result<Value, String> {
    if LIST_FIELDS.contains(&field) {
        return Ok(Value::Sequence(
            list(value).into_iter().map(Value::String).collect(),
        ));
    }
    if BOOL_FIELDS.contains(&field) {
        return match value {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            other => Err(format!("`{other}` is neither true nor false")),
        };
    }
    if COUNT_FIELDS.contains(&field) {
        return value
            .parse::<u64>()
            .map(|n| Value::Number(n.into()))
            .map_err(|_| format!("`{value}` is not a whole number"));
    }
    if SIZE_FIELDS.contains(&field) {
        return size(value)
            .map(|n| Value::Number(n.into()))
            .ok_or_else(|| format!("`{value}` is not a size (digits and b, k, M, G or T)"));
    }
    Ok(Value::String(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_yaml_refuses_as_uac_does() {
        let text = "version: 1.0\n# a comment\nartifacts:\n  -\n    description: 'top'-like utility # inline comment\n    supported_os: [all]\n    collector: file\n    path: %user_home%/.rhosts /etc/hosts.equiv\n    name_pattern: [\"*.log\", 'a b', c\\,d ]\n    max_file_size: 10M\n    exclude_nologin_users: true\n    max_depth: 2\n  -\n    collector: command\n    command: \"\"\"\n      echo one\n      echo two\n    \"\"\"\n    output_file: x.txt\n";
        assert!(is_uac_layout(text));
        let v = parse("t.yaml", text).unwrap();
        let a = &v["artifacts"][0];
        assert_eq!(a["description"], "'top'-like utility");
        assert_eq!(a["path"], "%user_home%/.rhosts /etc/hosts.equiv");
        assert_eq!(a["name_pattern"][0], "*.log");
        assert_eq!(a["name_pattern"][1], "a b");
        assert_eq!(a["name_pattern"][2], "c");
        assert_eq!(a["name_pattern"][3], "d");
        assert_eq!(a["max_file_size"], 10 << 20);
        assert_eq!(a["exclude_nologin_users"], true);
        assert_eq!(a["max_depth"], 2);
        assert_eq!(v["artifacts"][1]["command"], "echo one\necho two\n");
        assert_eq!(v["version"], "1.0");
    }

    #[test]
    fn refuses_with_the_line_what_uac_would_drop_silently() {
        let e = |t: &str| parse("t.yaml", t).unwrap_err().to_string();
        assert_eq!(
            e("artifacts:\n  description: x\n"),
            "t.yaml:1: `artifacts:` must be followed by a line holding only `-` (UAC: invalid 'artifacts' sequence of mappings)"
        );
        assert!(e("artifacts:\n  -\n    path /etc\n").starts_with("t.yaml:3: `path /etc` is not"));
        assert!(e("artifacts:\n  -\n    path: /etc\n  - collector: file\n")
            .starts_with("t.yaml:4: `- collector: file`"));
        assert_eq!(
            e("artifacts:\n  -\n    is_file_list: yes\n"),
            "t.yaml:3: field `is_file_list`: `yes` is neither true nor false"
        );
        assert_eq!(
            e("artifacts:\n  -\n    max_file_size: 3X\n"),
            "t.yaml:3: field `max_file_size`: `3X` is not a size (digits and b, k, M, G or T)"
        );
    }

    #[test]
    fn profiles_keep_exclusions_that_yaml_would_take_for_tags() {
        let p = parse_profile(
            "p.yaml",
            "name: t # comment\ndescription: d\nartifacts:\n  - live/*\n  - !live/x.yaml\n  - \"*\"\n",
        )
        .unwrap();
        assert_eq!(p.name.as_deref(), Some("t"));
        assert_eq!(p.entries, vec!["live/*", "!live/x.yaml", "*"]);
        assert!(parse_profile("p.yaml", "nmae: t\n").is_err());
    }

    #[test]
    fn sizes_and_lists_as_uac_converts_them() {
        assert_eq!(size("1024"), Some(1024));
        assert_eq!(size("2k"), Some(2048));
        assert_eq!(size("1GB"), Some(1 << 30));
        assert_eq!(size("5q"), None);
        assert_eq!(list("[f, d]"), vec!["f", "d"]);
        assert_eq!(list(" linux,  aix ,"), vec!["linux", "aix"]);
        assert!(list("[]").is_empty());
    }
}
