//! A collection's Kubernetes evidence on the timeline: the pod's creation and start,
//! each container's runs (the previous one's too, where it restarted), and the pod's
//! events, from the API server's own objects.

use super::{Event, Source, Timeline};
use crate::examine::facts::kubernetes::Events;
use cairn_archive::member::k8s;
use cairn_archive::read::lines::document;
use k8s_openapi::api::core::v1::{ContainerStateTerminated, ContainerStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::io::BufReader;
use std::path::Path;

/// The most bytes of a JSON document member (pod.json, events.json).
const DOCUMENT_LIMIT: u64 = 64 << 20;

fn at(t: Option<&Time>) -> Option<i64> {
    t.map(|t| t.0.as_microsecond())
}

/// Reads a Kubernetes evidence archive into `t`.
pub fn read(path: &Path, target: u32, t: &mut Timeline) -> anyhow::Result<()> {
    let mut pod: Option<Pod> = None;
    let mut events = Events::default();
    cairn_archive::read::members(path, |e| {
        let name = e.header.name.clone();
        let mut r = BufReader::new(e);
        if name == k8s::POD.as_bytes() {
            pod = document(&mut r, DOCUMENT_LIMIT).ok();
        } else if name == k8s::EVENTS.as_bytes() {
            events = document(&mut r, DOCUMENT_LIMIT).unwrap_or_default();
        }
        Ok::<(), std::io::Error>(())
    })
    .map_err(|e| anyhow::anyhow!("reading the Kubernetes evidence: {e}"))?;
    let mut out = Vec::new();
    if let Some(p) = &pod {
        lifecycle(p, &mut out);
    }
    for e in &events.items {
        let when = e
            .event_time
            .as_ref()
            .map(|t| t.0.as_microsecond())
            .or_else(|| at(e.last_timestamp.as_ref()))
            .or_else(|| at(e.first_timestamp.as_ref()))
            .or_else(|| at(e.metadata.creation_timestamp.as_ref()));
        let o = &e.involved_object;
        out.push((
            when,
            "Event Time",
            format!(
                "event {} {}: {} (x{}, {} {})",
                e.type_.as_deref().unwrap_or(""),
                e.reason.as_deref().unwrap_or(""),
                e.message.as_deref().unwrap_or(""),
                e.count.unwrap_or(1),
                o.kind.as_deref().unwrap_or(""),
                o.name.as_deref().unwrap_or("")
            ),
        ));
    }
    for (micros, desc, message) in out {
        if let Some(micros) = micros {
            t.push(Event {
                micros,
                desc: desc.into(),
                message,
                target,
                source: Source::Kubernetes,
                path: None,
                pid: None,
                user: None,
                sha256: None,
                macb: None,
            })?;
        }
    }
    Ok(())
}

type Point = (Option<i64>, &'static str, String);

/// The pod's creation and start, and each container's runs.
fn lifecycle(p: &Pod, out: &mut Vec<Point>) {
    let name = p.metadata.name.as_deref().unwrap_or("");
    let node = p
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("");
    out.push((
        at(p.metadata.creation_timestamp.as_ref()),
        "Creation Time",
        format!("pod {name} created"),
    ));
    let Some(status) = &p.status else { return };
    out.push((
        at(status.start_time.as_ref()),
        "Start Time",
        format!("pod {name} taken by the kubelet on node {node}"),
    ));
    let all = [
        &status.init_container_statuses,
        &status.container_statuses,
        &status.ephemeral_container_statuses,
    ];
    for s in all.into_iter().flatten().flatten() {
        container(s, out);
    }
}

fn container(s: &ContainerStatus, out: &mut Vec<Point>) {
    let c = &s.name;
    let running = s.state.as_ref().and_then(|x| x.running.as_ref());
    out.push((
        at(running.and_then(|r| r.started_at.as_ref())),
        "Start Time",
        format!(
            "container {c} started (image {}, restarts {})",
            s.image, s.restart_count
        ),
    ));
    let runs: [(Option<&ContainerStateTerminated>, &str); 2] = [
        (
            s.last_state.as_ref().and_then(|x| x.terminated.as_ref()),
            "previous run",
        ),
        (s.state.as_ref().and_then(|x| x.terminated.as_ref()), "run"),
    ];
    for (state, when) in runs {
        let Some(t) = state else { continue };
        out.push((
            at(t.started_at.as_ref()),
            "Start Time",
            format!("container {c} {when} started"),
        ));
        out.push((
            at(t.finished_at.as_ref()),
            "End Time",
            format!(
                "container {c} {when} ended: exit code {}, {} {}",
                t.exit_code,
                t.reason.as_deref().unwrap_or(""),
                t.message.as_deref().unwrap_or("")
            )
            .trim_end()
            .to_owned(),
        ));
    }
}
