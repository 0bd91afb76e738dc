//! One pass over a collection's Kubernetes evidence: the pod and its events as the
//! API server served them (the Kubernetes API's own types), the service account's
//! bindings ([`Rbac`]), and the last lines of each container log; each member hashed
//! and checked against the evidence archive's manifest.

use super::{check_manifest, Check, Facts, Hashing, LogTail, Member};
use super::{DOCUMENT_LIMIT, LOG_TAIL, MAX_LOGS, MAX_LOG_LINE};
use cairn_archive::member::{is_manifest, k8s};
use cairn_archive::read::lines::{document, lines};
use cairn_archive::records::k8s::Rbac;
use k8s_openapi::api::core::v1::{Event, Pod};
use std::collections::VecDeque;
use std::io::BufReader;
use std::path::Path;

/// `k8s/events.json`: an `EventList`, of which only the items are read.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Events {
    #[serde(default)]
    pub items: Vec<Event>,
}

/// Reads the evidence archive at `path` into `f`.
pub fn read(f: &mut Facts, path: &Path) -> anyhow::Result<()> {
    cairn_archive::read::members(path, |e| {
        let name = String::from_utf8_lossy(&e.header.name).into_owned();
        let mut r = BufReader::new(e);
        if is_manifest(name.as_bytes()) {
            return check_manifest(&mut r, &mut f.k8s_members);
        }
        let logs_full = f.logs.len() >= MAX_LOGS;
        let wanted = [k8s::POD, k8s::RBAC, k8s::EVENTS].contains(&name.as_str())
            || (name.starts_with(k8s::LOGS_DIR) && !logs_full && name.len() < 1024);
        if !wanted {
            return Ok(());
        }
        let mut h = Hashing::new(&mut r);
        let doc_problem = |e: &dyn std::fmt::Display| format!("{name}: {e}");
        match name.as_str() {
            k8s::POD => match document::<Pod>(&mut h, DOCUMENT_LIMIT) {
                Ok(p) => f.pod = Some(p),
                Err(e) => f.problems.push(doc_problem(&e)),
            },
            k8s::RBAC => match document::<Rbac>(&mut h, DOCUMENT_LIMIT) {
                Ok(r) => f.rbac = Some(r),
                Err(e) => f.problems.push(doc_problem(&e)),
            },
            k8s::EVENTS => match document::<Events>(&mut h, DOCUMENT_LIMIT) {
                Ok(ev) => f.events = ev.items,
                Err(e) => f.problems.push(doc_problem(&e)),
            },
            _ => f.logs.push(tail(&name, &mut h)?),
        }
        let sha256 = h.finish()?;
        f.k8s_members.insert(
            name,
            Member {
                sha256,
                check: Check::Unlisted,
            },
        );
        Ok::<(), std::io::Error>(())
    })?;
    Ok(())
}

/// The last [`LOG_TAIL`] lines of a log, each cut to [`MAX_LOG_LINE`] bytes.
fn tail(member: &str, r: &mut Hashing<'_>) -> std::io::Result<LogTail> {
    let mut kept = VecDeque::with_capacity(LOG_TAIL);
    let mut count = 0;
    lines(r, |l| {
        count += 1;
        if kept.len() == LOG_TAIL {
            kept.pop_front();
        }
        kept.push_back(String::from_utf8_lossy(&l[..l.len().min(MAX_LOG_LINE)]).into_owned());
    })?;
    Ok(LogTail {
        member: member.to_owned(),
        lines: kept.into(),
        count,
    })
}
