//! What `cairn collect` reports per target, and the final table or JSON.

use crate::session::Phases;
use crate::targets::Target;
use cairn_protocol::bounded::printable;
use std::time::Instant;

/// What one collection gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub target: String,
    pub method: &'static str,
    /// The archive's path or object name.
    pub archive: Option<String>,
    pub bytes: u64,
    pub sha256: Option<String>,
    pub seconds: f64,
    pub error: Option<String>,
    pub phases: Option<Phases>,
}

impl Outcome {
    pub fn failed(t: &Target, method: &'static str, started: Instant, error: String) -> Outcome {
        Outcome {
            target: t.name(),
            method,
            archive: None,
            bytes: 0,
            sha256: None,
            seconds: started.elapsed().as_secs_f64(),
            error: Some(error),
            phases: None,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "target": self.target, "method": self.method,
            "archive": self.archive,
            "bytes": self.bytes, "sha256": self.sha256, "seconds": self.seconds,
            "status": if self.error.is_none() { "ok" } else { "failed" }, "error": self.error,
            "phases": self.phases.map(|p| serde_json::json!({
                "exec_open_ms": p.exec_open_ms, "delivery_ms": p.delivery_ms,
                "collection_ms": p.collection_ms,
            })),
        })
    }
}

/// Prints the outcomes as a table or JSON (`output`).
pub fn print(outcomes: &[Outcome], output: &str) {
    if output == "json" {
        let v: Vec<_> = outcomes.iter().map(Outcome::to_json).collect();
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    println!(
        "{:<40} {:<7} {:>12} {:<64} {:>8} STATUS",
        "TARGET", "METHOD", "BYTES", "SHA256", "SECONDS"
    );
    for o in outcomes {
        let status = match &o.error {
            None => "ok".to_owned(),
            Some(e) => format!("failed: {e}"),
        };
        println!(
            "{:<40} {:<7} {:>12} {:<64} {:>8.1} {}",
            printable(&o.target),
            o.method,
            o.bytes,
            o.sha256.as_deref().unwrap_or("-"),
            o.seconds,
            printable(&status)
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
    use crate::targets::Verdict;

    #[test]
    fn archive_names_carry_namespace_pod_container_and_utc_time() {
        let t = Target {
            namespace: "shop".into(),
            pod: "web-7d9f".into(),
            container: "app/x".into(),
            image: String::new(),
            node: String::new(),
            phase: String::new(),
            user: None,
            container_id: None,
            verdict: Verdict::Exec,
        };
        let now = time::macros::datetime!(2026-11-23 18:30:05 UTC);
        assert_eq!(
            archive_name(&t, now),
            "shop_web-7d9f_app_x_20261123T183005Z.tar.zst"
        );
    }
}
