//! Where cairn does something other than UAC with an artifact entry, on purpose, one
//! sentence each: the collection log says them once per entry, and
//! `cairn-collector artifacts --explain FILE` lists them before anything runs.
//!
//! What cairn does the same way as UAC is not listed: the file collector's filters,
//! users and `%user_home%`, several paths and globs in `path`, directories taken whole
//! (see `collect::runner`), profiles and their `!` exclusions.

use super::{Artifact, CollectorKind};

/// Which of cairn's built-in artifacts covers what a UAC command artifact set runs,
/// by the set's name (`live_response/process/ps`).
pub fn covered_by(set: &str) -> Option<&'static str> {
    const TABLE: &[(&str, &str)] = &[
        (
            "live_response/process",
            "live/processes and live/executables",
        ),
        ("live_response/network", "live/network"),
        ("live_response/storage", "live/mounts"),
        ("live_response/containers", "live/system and live/drift"),
        ("live_response/system", "live/system and live/users"),
        ("live_response/packages", "files/packages"),
        ("packages/", "files/packages"),
        ("bodyfile/", "live/timeline"),
        (
            "hash_executables/",
            "files/executables and live/executables",
        ),
        ("system/bodyfile2filelists", "live/timeline"),
        (
            "system/getcap",
            "live/processes (each process's capabilities)",
        ),
    ];
    TABLE
        .iter()
        .find(|(prefix, _)| set.starts_with(prefix))
        .map(|(_, native)| *native)
}

/// What a UAC `command` entry is, for the log and `--explain`: not run, and what covers it.
pub fn command_not_run(set: &str, art: &Artifact) -> String {
    let cover = match covered_by(set) {
        Some(native) => format!("; native collectors cover the same ground: {native}"),
        None if set.starts_with("live_response/modifiers") => {
            "; a modifier changes the system (UAC runs it only with --enable-modifiers)".into()
        }
        None => "; no native artifact covers it".into(),
    };
    format!(
        "a shell command (`{}`): cairn never runs commands on the target{cover}",
        art.command.as_deref().unwrap_or("").trim()
    )
}

/// Every deliberate difference for a non-command entry that runs on Linux.
pub fn differences(art: &Artifact) -> Vec<String> {
    let mut out = Vec::new();
    for (field, value) in &art.ignored {
        let said = match field.as_str() {
            "condition" => format!(
                "`condition: {value}` is a shell command and is not evaluated: the entry runs whatever it would say"
            ),
            "no_user" | "no_group" if value == "true" => format!(
                "`{field}: true` is not applied: every file is listed whoever owns it (UAC judges owners by the collecting host's accounts, not the target's)"
            ),
            "hash_algorithm" => format!("hashes are sha256 only (UAC: {value})"),
            _ => continue,
        };
        out.push(said);
    }
    if art.is_file_list && art.path.contains("%temp_directory%") {
        out.push(format!(
            "its file list `{}` is written by a command entry, which cairn does not run: it finds nothing",
            art.path
        ));
    }
    if art.path.contains('$') {
        out.push(format!(
            "`$` in `path: {}` is not expanded (UAC expands the collecting host's environment): taken literally",
            art.path
        ));
    }
    if art.exclude_path_pattern.is_some() {
        out.push(
            "exclude_path_pattern is matched against paths in the collected root (UAC compares it with host paths, which never match under --mount-point)".into(),
        );
    }
    if art.collector == CollectorKind::File
        && (art.exclude_name_pattern.is_some() || art.exclude_path_pattern.is_some())
        && art.file_type.as_ref().is_none_or(|t| t.contains(&'d'))
    {
        out.push(
            "its exclusions also apply inside a directory it takes whole (UAC re-walks such directories without them)".into(),
        );
    }
    if art.collector == CollectorKind::Hash
        && !art.ignored.iter().any(|(f, _)| f == "hash_algorithm")
    {
        out.push("hashes are sha256 (UAC: md5 and sha1 by default)".into());
    }
    if matches!(
        art.collector,
        CollectorKind::Find | CollectorKind::Hash | CollectorKind::Stat
    ) {
        out.push(
            "its output names paths in the collected root (UAC prefixes its mount point)".into(),
        );
    }
    out
}

/// `--explain`'s lines for one entry: what cairn does with it.
pub fn explain(set: &str, art: &Artifact) -> Vec<String> {
    if !art.supports_linux() {
        return vec![format!("not run: for {} only", art.supported_os.join(", "))];
    }
    match art.collector {
        CollectorKind::Command => vec![format!("not run: {}", command_not_run(set, art))],
        CollectorKind::Native => vec!["cairn's native collector".into()],
        _ => {
            let d = differences(art);
            if d.is_empty() {
                vec!["as UAC does".into()]
            } else {
                d
            }
        }
    }
}
