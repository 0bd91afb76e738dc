//! What `cairn collect` found per target, and the results table or JSON it prints
//! (not `cairn report`, which is `commands::report` and `examine::page`). What the
//! collector claims (its archive's size and sha256, from a pod that may be hostile) is
//! kept apart from what the launcher verified itself (bytes it hashed, the size the
//! store reports).

use crate::dest::Verified;
use crate::session::{Claimed, Phases};
use crate::targets::Target;
use cairn_protocol::escape::terminal;
use std::time::Instant;

/// What one collection gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub target: String,
    pub method: &'static str,
    /// The archive's path or object name.
    pub archive: Option<String>,
    pub claimed: Option<Claimed>,
    pub verified: Option<Verified>,
    /// Where the collector's binary was in the target (the exec route).
    pub binary: Option<cairn_protocol::Placed>,
    /// What cut the collection short (the collector's word); empty when complete.
    pub cut_short: Vec<String>,
    pub seconds: f64,
    pub error: Option<String>,
    pub phases: Option<Phases>,
    /// The Kubernetes evidence archive beside the archive, or why it is not there.
    pub k8s: Option<Result<crate::evidence::Written, String>>,
}

impl Outcome {
    pub fn failed(t: &Target, method: &'static str, started: Instant, error: String) -> Outcome {
        Outcome {
            target: t.name(),
            method,
            archive: None,
            claimed: None,
            verified: None,
            binary: None,
            cut_short: Vec::new(),
            seconds: started.elapsed().as_secs_f64(),
            error: Some(error),
            phases: None,
            k8s: None,
        }
    }

    /// The archive's size: verified where the launcher could, else claimed.
    pub fn bytes(&self) -> u64 {
        self.verified
            .as_ref()
            .and_then(|v| v.bytes)
            .or(self.claimed.as_ref().map(|c| c.bytes))
            .unwrap_or(0)
    }

    /// `ok`, `cut-short` (collected, valid, but a limit left things out) or `failed`.
    pub fn status(&self) -> &'static str {
        match (&self.error, self.cut_short.is_empty()) {
            (Some(_), _) => "failed",
            (None, false) => "cut-short",
            (None, true) => "ok",
        }
    }

    /// `bytes` and `sha256` are the collector's claim; `verified` what the launcher
    /// checked itself.
    pub fn to_json(&self) -> serde_json::Value {
        let claimed = self.claimed.as_ref();
        serde_json::json!({
            "target": self.target, "method": self.method,
            "archive": self.archive,
            "bytes": claimed.map(|c| c.bytes), "sha256": claimed.map(|c| &c.sha256),
            "verified": self.verified.as_ref().map(|v| serde_json::json!({
                "bytes": v.bytes, "sha256": v.sha256, "how": v.how,
            })),
            "target_writes": self.binary.as_ref().map(|b| serde_json::json!({
                "path": b.path, "bytes": b.bytes, "filesystem": b.filesystem, "memory": b.memory,
            })),
            "seconds": self.seconds,
            "status": self.status(), "error": self.error,
            "cut_short": self.cut_short,
            "k8s_evidence": self.k8s.as_ref().map(|k| match k {
                Ok(w) => serde_json::json!({
                    "archive": w.location(), "sha256": w.sha256,
                    "bytes": w.bytes, "refused": w.refused,
                    "not_stored": w.not_stored, "ms": w.ms,
                }),
                Err(e) => serde_json::json!({"error": e}),
            }),
            "phases": self.phases.map(|p| serde_json::json!({
                "exec_open_ms": p.exec_open_ms, "delivery_ms": p.delivery_ms,
                "collection_ms": p.collection_ms,
            })),
        })
    }
}

/// The outcomes as one pretty JSON array, written an outcome at a time: a run of
/// thousands of targets never holds the whole document (as serde_json's own pretty
/// printer writes an array: two spaces more per level).
fn print_json(out: &mut dyn std::io::Write, outcomes: &[Outcome]) -> std::io::Result<()> {
    if outcomes.is_empty() {
        return writeln!(out, "[]");
    }
    writeln!(out, "[")?;
    for (i, o) in outcomes.iter().enumerate() {
        let one = cairn_protocol::escape::json::to_string_pretty(&o.to_json())?;
        let sep = if i + 1 < outcomes.len() { "," } else { "" };
        let mut lines = one.lines().peekable();
        while let Some(l) = lines.next() {
            let end = if lines.peek().is_none() { sep } else { "" };
            writeln!(out, "  {l}{end}")?;
        }
    }
    writeln!(out, "]")
}

/// Prints the outcomes as a table or JSON (`output`).
pub fn print(outcomes: &[Outcome], output: crate::cli::Format) {
    if output == crate::cli::Format::Json {
        let mut out = std::io::stdout().lock();
        let _ = print_json(&mut out, outcomes);
        return;
    }
    println!(
        "{:<40} {:<7} {:>12} {:<64} {:<8} {:>8} STATUS",
        "TARGET", "METHOD", "BYTES", "SHA256", "VERIFIED", "SECONDS"
    );
    for o in outcomes {
        let mut status = match &o.error {
            None => o.status().to_owned(),
            Some(e) => format!("failed: {e}"),
        };
        if o.error.is_none() {
            if !o.cut_short.is_empty() {
                status = format!("{status}: {}", o.cut_short.join("; "));
            }
            if let Some(b) = o.binary.as_ref().filter(|b| !b.memory) {
                status = format!("{status}; wrote {} to the target", b.describe());
            }
        }
        match &o.k8s {
            Some(Ok(w)) => {
                if w.refused > 0 {
                    let more = if w.refused > w.refused_reads.len() as u64 {
                        ", ..."
                    } else {
                        ""
                    };
                    status = format!(
                        "{status}; k8s evidence: {} read(s) refused, recorded in it: {}{more}",
                        w.refused,
                        w.refused_reads.join(", ")
                    );
                }
                if let Some(e) = &w.not_stored {
                    status = format!(
                        "{status}; k8s evidence not uploaded ({e}), kept in {}",
                        w.path.display()
                    );
                }
            }
            Some(Err(e)) => status = format!("{status}; k8s evidence not written: {e}"),
            None => {}
        }
        println!(
            "{:<40} {:<7} {:>12} {:<64} {:<8} {:>8.1} {}",
            terminal(&o.target),
            o.method,
            o.bytes(),
            o.claimed.as_ref().map_or("-", |c| c.sha256.as_str()),
            o.verified.as_ref().map_or("-", |v| v.short()),
            o.seconds,
            terminal(&status)
        );
    }
}

/// `ns_pod_container_UTC.tar.zst`, with characters unsafe in file names replaced.
pub fn archive_name(t: &Target, now: time::OffsetDateTime) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let stamp = now
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    format!(
        "{}_{}_{}_{stamp}.tar.zst",
        clean(&t.namespace),
        clean(&t.pod),
        clean(&t.container)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_carry_namespace_pod_container_and_utc_time() {
        let t = Target::running("shop", "web-7d9f", "app/x");
        let now = time::macros::datetime!(2026-11-23 18:30:05 UTC);
        assert_eq!(
            archive_name(&t, now),
            "shop_web-7d9f_app_x_20261123T183005Z.tar.zst"
        );
    }

    #[test]
    fn the_json_written_an_outcome_at_a_time_is_the_array_serde_would_print() {
        let now = Instant::now();
        let outcomes: Vec<Outcome> = ["a", "b\u{1b}[2J", "c"]
            .iter()
            .map(|p| {
                Outcome::failed(
                    &Target::running("ns", p, "c"),
                    "exec",
                    now,
                    format!("no {p}"),
                )
            })
            .collect();
        let mut streamed = Vec::new();
        print_json(&mut streamed, &outcomes).unwrap();
        let whole: Vec<_> = outcomes.iter().map(Outcome::to_json).collect();
        let expected = cairn_protocol::escape::json::to_string_pretty(&whole).unwrap() + "\n";
        assert_eq!(String::from_utf8(streamed).unwrap(), expected);
        let mut none = Vec::new();
        print_json(&mut none, &[]).unwrap();
        assert_eq!(none, b"[]\n");
    }
}
