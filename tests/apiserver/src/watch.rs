//! `?watch=true` on pods lists: a stream of newline-separated watch events (`ADDED`,
//! `MODIFIED`, `DELETED`) found by polling Docker twice a second and comparing with the
//! last look. A watch without a resourceVersion (or "0") starts with an `ADDED` for
//! every pod, as a real API server does; one resuming from a list's resourceVersion
//! starts from what is there now. Objects are pods, or one-row Tables when kubectl asks
//! for `as=Table`. `timeoutSeconds` ends the stream; so does the client going away.

use crate::pods;
use http_body_util::StreamBody;
use hyper::body::{Bytes, Frame};
use serde_json::json;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::{Duration, Instant};

pub struct Watch {
    pub namespace: Option<String>,
    pub selector: String,
    pub table: bool,
    pub from_start: bool,
    pub timeout: Duration,
}

type Frames =
    StreamBody<futures_util::stream::BoxStream<'static, Result<Frame<Bytes>, Infallible>>>;

fn visible(w: &Watch, all: Vec<pods::Pod>) -> BTreeMap<String, pods::Pod> {
    all.into_iter()
        .filter(|p| w.namespace.as_deref().is_none_or(|n| p.namespace == n))
        .filter(|p| pods::matches(&w.selector, &p.labels))
        .map(|p| (format!("{}/{}", p.namespace, p.name), p))
        .collect()
}

fn event(w: &Watch, kind: &str, p: &pods::Pod, version: u64) -> Bytes {
    let mut object = if w.table {
        crate::pods::table(std::slice::from_ref(p))
    } else {
        p.to_json()
    };
    let rv = json!(version.to_string());
    if w.table {
        object["metadata"]["resourceVersion"] = rv.clone();
        object["rows"][0]["object"]["metadata"]["resourceVersion"] = rv;
    } else {
        object["metadata"]["resourceVersion"] = rv;
    }
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

/// The events between two looks, in a stable order.
fn changes(
    before: &BTreeMap<String, pods::Pod>,
    now: &BTreeMap<String, pods::Pod>,
) -> Vec<(&'static str, pods::Pod)> {
    let mut out = Vec::new();
    for (k, p) in now {
        match before.get(k) {
            None => out.push(("ADDED", p.clone())),
            Some(old) if old.to_json() != p.to_json() => out.push(("MODIFIED", p.clone())),
            Some(_) => {}
        }
    }
    for (k, p) in before {
        if !now.contains_key(k) {
            out.push(("DELETED", p.clone()));
        }
    }
    out
}

/// The streaming body of a watch.
pub fn stream(w: Watch) -> Frames {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        let ends = Instant::now() + w.timeout;
        let mut version = 1u64;
        let mut seen = match pods::all().await {
            Ok(all) => visible(&w, all),
            Err(_) => BTreeMap::new(),
        };
        if w.from_start {
            for p in seen.values() {
                version += 1;
                if tx.send(event(&w, "ADDED", p, version)).await.is_err() {
                    return;
                }
            }
        }
        while Instant::now() < ends {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = tx.closed() => return,
            }
            let Ok(all) = pods::all().await else { continue };
            let now = visible(&w, all);
            for (kind, p) in changes(&seen, &now) {
                version += 1;
                if tx.send(event(&w, kind, &p, version)).await.is_err() {
                    return;
                }
            }
            seen = now;
        }
    });
    let s = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok(Frame::data(b)), rx))
    });
    StreamBody::new(Box::pin(s) as futures_util::stream::BoxStream<'static, _>)
}
