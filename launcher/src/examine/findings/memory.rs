//! Rules on process memory: what the responder's YARA rules matched in a process's
//! memory or executable (`--yara`), and the processes whose memory the collector was
//! refused, so a gap in a memory capture is seen where the findings are.

use super::{ev, Finding, Severity};
use crate::examine::facts::Facts;
use cairn_archive::member::live::{MEMORY_PROCESSES, YARA_HITS};

/// A YARA rule of the responder's matched a process's memory or its executable.
pub fn yara_match(f: &Facts, out: &mut Vec<Finding>) {
    for (i, h) in f.yara.iter().enumerate() {
        let pid = h.pid.map_or_else(String::new, |p| p.to_string());
        let comm = h.comm.as_deref().unwrap_or("");
        let place = match (h.scanned.as_str(), &h.address, &h.path) {
            ("memory", Some(a), _) => format!("the memory of process {pid} ({comm}) at 0x{a}"),
            ("executable", _, Some(p)) => format!(
                "the executable {p} of process {pid} ({comm}), sha256 {}",
                h.sha256.as_deref().unwrap_or("")
            ),
            _ => format!("process {pid} ({comm})"),
        };
        let tags = if h.tags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", h.tags.join(", "))
        };
        out.push(Finding {
            severity: Severity::High,
            rule: "yara-match",
            sentence: format!(
                "YARA rule {}:{}{tags} matched {place}{}",
                h.namespace,
                h.rule,
                h.string
                    .as_deref()
                    .map(|s| format!(" (string {s})"))
                    .unwrap_or_default()
            ),
            evidence: vec![ev(f, YARA_HITS, format!("line {}", i + 1))],
        });
    }
}

/// Processes whose memory was asked for and refused to the collector.
pub fn memory_refused(f: &Facts, out: &mut Vec<Finding>) {
    let refused: Vec<_> = f
        .memory
        .iter()
        .filter(|p| {
            p.core.is_none()
                && p.why
                    .as_deref()
                    .is_some_and(|w| w.contains("CAP_SYS_PTRACE"))
        })
        .collect();
    if refused.is_empty() {
        return;
    }
    let list: Vec<String> = refused
        .iter()
        .map(|p| format!("{} ({})", p.pid, p.comm))
        .collect();
    out.push(Finding {
        severity: Severity::Info,
        rule: "memory-refused",
        sentence: format!(
            "the memory of {} process(es) was refused to the collector: {}; it needs CAP_SYS_PTRACE (--via ephemeral)",
            refused.len(),
            list.join(", ")
        ),
        evidence: vec![ev(f, MEMORY_PROCESSES, String::new())],
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::examine::findings::{facts, typed};
    use serde_json::json;

    #[test]
    fn a_yara_hit_in_memory_or_an_executable_is_high_and_a_refusal_is_info() {
        let mut f = facts();
        f.yara = typed(vec![
            json!({"rule": "miner", "namespace": "ir", "tags": ["crypto"], "scanned": "memory", "pid": 7, "comm": "kworker", "address": "7f00", "string": "$a"}),
            json!({"rule": "dropper", "namespace": "ir", "scanned": "executable", "pid": 8, "comm": "x", "path": "/tmp/x", "sha256": "ab"}),
        ]);
        f.memory = typed(vec![
            json!({"pid": 7, "comm": "kworker", "core": "live_response/memory/7.core"}),
            json!({"pid": 9, "comm": "nginx", "why": "EACCES (errno 13) (needs CAP_SYS_PTRACE: use --via ephemeral)"}),
        ]);
        let mut out = Vec::new();
        yara_match(&f, &mut out);
        memory_refused(&f, &mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].severity, Severity::High);
        assert_eq!(
            out[0].sentence,
            "YARA rule ir:miner [crypto] matched the memory of process 7 (kworker) at 0x7f00 (string $a)"
        );
        assert_eq!(out[0].evidence[0].at, "line 1");
        assert!(out[1]
            .sentence
            .contains("the executable /tmp/x of process 8 (x), sha256 ab"));
        assert_eq!(out[2].severity, Severity::Info);
        assert!(out[2]
            .sentence
            .contains("1 process(es) was refused to the collector: 9 (nginx)"));
    }
}
