//! One pass over a collection's Kubernetes evidence: the fields shown of the pod and
//! its events as the API server served them, their lists capped, the service account's
//! bindings ([`Rbac`]), and the last lines of each container log; each member hashed
//! and checked against the evidence archive's manifest.

use super::{check_manifest, Check, Facts, Hashing, LogTail, Member};
use super::{DOCUMENT_LIMIT, LOG_TAIL, MAX_LOGS, MAX_LOG_LINE, OBJECT_LIMIT};
use cairn_archive::member::{is_manifest, k8s};
use cairn_archive::read::lines::{document, lines};
use cairn_archive::records::k8s::{EventsView, PodView, Rbac};
use std::collections::VecDeque;
use std::io::BufReader;
use std::path::Path;

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
            k8s::POD => match document::<PodView>(&mut h, OBJECT_LIMIT) {
                Ok(p) => f.pod = Some(p),
                Err(e) => crate::examine::problem(&mut f.problems, doc_problem(&e)),
            },
            k8s::RBAC => match document::<Rbac>(&mut h, DOCUMENT_LIMIT) {
                Ok(r) => f.rbac = Some(r),
                Err(e) => crate::examine::problem(&mut f.problems, doc_problem(&e)),
            },
            k8s::EVENTS => match document::<EventsView>(&mut h, OBJECT_LIMIT) {
                Ok(ev) => {
                    if ev.items.left_out > 0 {
                        crate::examine::problem(
                            &mut f.problems,
                            format!(
                                "{name}: {} event(s) past the first {} not shown",
                                ev.items.left_out,
                                ev.items.items.len()
                            ),
                        );
                    }
                    f.events = ev.items.items;
                }
                Err(e) => crate::examine::problem(&mut f.problems, doc_problem(&e)),
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
