//! A collection's Kubernetes evidence on the timeline: the pod's creation and start,
//! each container's runs (the previous one's too, where it restarted), and the pod's
//! events, from the fields read back of the API server's own objects.

use super::{micros_of, Event, Source, Timeline};
use cairn_archive::member::k8s;
use cairn_archive::read::lines::document;
use cairn_archive::records::k8s::{ContainerStatusView, EventsView, PodView, TerminatedView};
use std::io::BufReader;
use std::path::Path;

/// The most bytes of an API server's object read (pod.json, events.json).
const OBJECT_LIMIT: u64 = 16 << 20;

fn at(t: Option<&String>) -> Option<i64> {
    t.and_then(|t| micros_of(t))
}

/// Reads a Kubernetes evidence archive into `t`.
pub fn read(path: &Path, target: u32, t: &mut Timeline) -> anyhow::Result<()> {
    let mut pod: Option<PodView> = None;
    let mut events = EventsView::default();
    cairn_archive::read::members(path, |e| {
        let name = e.header.name.clone();
        let mut r = BufReader::new(e);
        if name == k8s::POD.as_bytes() {
            pod = document(&mut r, OBJECT_LIMIT).ok();
        } else if name == k8s::EVENTS.as_bytes() {
            events = document(&mut r, OBJECT_LIMIT).unwrap_or_default();
        }
        Ok::<(), std::io::Error>(())
    })
    .map_err(|e| anyhow::anyhow!("reading the Kubernetes evidence: {e}"))?;
    let mut out = Vec::new();
    if let Some(p) = &pod {
        lifecycle(p, &mut out);
    }
    for e in &events.items.items {
        let when = e
            .when()
            .and_then(micros_of)
            .or_else(|| at(e.metadata.creation_timestamp.as_ref()));
        let o = &e.involved_object;
        out.push((
            when,
            "Event Time",
            format!(
                "event {} {}: {} (x{}, {} {})",
                e.kind.as_deref().unwrap_or(""),
                e.reason.as_deref().unwrap_or(""),
                e.message.as_deref().unwrap_or(""),
                e.count.unwrap_or(1),
                o.kind.as_deref().unwrap_or(""),
                o.name.as_deref().unwrap_or("")
            ),
        ));
    }
    if events.items.left_out > 0 {
        crate::examine::problem(
            &mut t.problems,
            format!(
                "{}: {} event(s) past the first {} left out",
                path.display(),
                events.items.left_out,
                events.items.items.len()
            ),
        );
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
fn lifecycle(p: &PodView, out: &mut Vec<Point>) {
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
    for s in all.into_iter().flat_map(|c| &c.items) {
        container(s, out);
    }
}

fn container(s: &ContainerStatusView, out: &mut Vec<Point>) {
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
    let runs: [(Option<&TerminatedView>, &str); 2] = [
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
