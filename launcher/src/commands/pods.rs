//! `cairn pods`: the pods and containers a selection finds, each with a verdict that is
//! true for what was checked: `running` (exec not tried), and with `--probe`, which
//! runs `sh -c 'exit 0'` in each, `exec-able` or `distroless`; `not running`,
//! `exec-denied`. Whether a container has a shell cannot be told from its spec, and
//! probing starts a process in every target, so it is asked for, never done by default.

use crate::cli::PodsArgs;
use crate::cluster::Cluster;
use crate::targets::{self, Target, Verdict};
use cairn_protocol::escape::terminal;
use futures_util::StreamExt;
use kube::Client;
use std::time::Duration;

/// What a probe exec of `sh` found.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    Shell,
    NoShell,
    /// The probe could not tell (denied, timed out, the runtime failed).
    Failed(String),
}

impl Probe {
    fn describe(&self) -> String {
        match self {
            Probe::Shell => "shell".into(),
            Probe::NoShell => "no shell".into(),
            Probe::Failed(w) => format!("failed: {w}"),
        }
    }
}

pub async fn run(
    a: PodsArgs,
    c: &Cluster,
    scope: Option<&str>,
    selector: Option<&str>,
) -> anyhow::Result<i32> {
    let mut all = targets::list(&c.client, scope, selector, a.include_system).await?;
    // Exec-able only for a user who may exec there: asked once per namespace.
    let mut denied = std::collections::BTreeSet::new();
    let namespaces: std::collections::BTreeSet<String> =
        all.iter().map(|t| t.namespace.clone()).collect();
    for ns in namespaces {
        if !crate::rbac::missing(&c.client, &ns, &[crate::rbac::EXEC])
            .await?
            .is_empty()
        {
            denied.insert(ns);
        }
    }
    let mut probes: Vec<Option<Probe>> = vec![None; all.len()];
    if a.probe {
        let client = &c.client;
        let found: Vec<(usize, Probe)> = futures_util::stream::iter(
            all.iter()
                .enumerate()
                .filter(|(_, t)| t.verdict == Verdict::Exec && !denied.contains(&t.namespace)),
        )
        .map(|(i, t)| async move { (i, probe(client, t).await) })
        .buffer_unordered(8)
        .collect()
        .await;
        for (i, p) in found {
            if p == Probe::NoShell {
                all[i].verdict = Verdict::Distroless;
            }
            if let Probe::Failed(why) = &p {
                let line = format!("cairn: probe of {} failed: {why}", all[i].name());
                eprintln!("{}", terminal(&line));
            }
            probes[i] = Some(p);
        }
    }
    if a.output == crate::cli::Format::Json {
        let v: Vec<_> = all
            .iter()
            .zip(&probes)
            .map(|(t, p)| {
                let mut j = t.to_json();
                j["verdict"] = verdict(t, p.as_ref(), &denied).into();
                if let Some(p) = p {
                    j["probe"] = p.describe().into();
                }
                j
            })
            .collect();
        println!("{}", cairn_protocol::escape::json::to_string_pretty(&v)?);
    } else {
        println!(
            "{:<20} {:<30} {:<16} {:<12} {:<8} {:<12} IMAGE",
            "NAMESPACE", "POD", "CONTAINER", "PHASE", "USER", "VERDICT"
        );
        for (t, p) in all.iter().zip(&probes) {
            println!(
                "{:<20} {:<30} {:<16} {:<12} {:<8} {:<12} {}",
                terminal(&t.namespace),
                terminal(&t.pod),
                terminal(&t.container),
                terminal(&t.phase),
                t.user.map(|u| u.to_string()).unwrap_or_else(|| "-".into()),
                verdict(t, p.as_ref(), &denied),
                terminal(&t.image)
            );
        }
    }
    let unprobed = all
        .iter()
        .zip(&probes)
        .any(|(t, p)| verdict(t, p.as_ref(), &denied) == UNPROBED);
    if unprobed {
        eprintln!("cairn: {UNPROBED}: exec was not tried; --probe runs `sh -c 'exit 0'` in each to tell exec-able from distroless (a shell-less container needs --via ephemeral or node; --via auto finds out by itself)");
    }
    if !denied.is_empty() {
        let list: Vec<&str> = denied.iter().map(String::as_str).collect();
        eprintln!(
            "cairn: you may not create pods/exec in {}: its running containers show as {EXEC_DENIED} (deploy/rbac.yaml has the least each route needs)",
            terminal(&list.join(", "))
        );
    }
    Ok(cairn_protocol::exit::OK)
}

/// The verdict of a running container the user may not exec into.
const EXEC_DENIED: &str = "exec-denied";
/// The verdict of a running container whose shell was not probed.
const UNPROBED: &str = "running";

/// What is known of `t`: its probe's answer, or only that it runs.
fn verdict(
    t: &Target,
    probe: Option<&Probe>,
    denied: &std::collections::BTreeSet<String>,
) -> &'static str {
    match t.verdict {
        Verdict::Exec if denied.contains(&t.namespace) => EXEC_DENIED,
        Verdict::Exec if !matches!(probe, Some(Probe::Shell)) => UNPROBED,
        v => v.name(),
    }
}

/// Runs `sh -c 'exit 0'` in the container: a runtime that cannot find `sh` (its Status,
/// or 126/127 with no word from sh) means a distroless container, whatever its image
/// is called.
pub async fn probe(client: &Client, t: &Target) -> Probe {
    use cairn_protocol::exit;
    let status = crate::exec::run_quiet(
        client,
        &t.namespace,
        &t.pod,
        &t.container,
        &["sh", "-c", "exit 0"],
        Duration::from_secs(10),
    )
    .await;
    match status {
        Err(e) => Probe::Failed(e),
        Ok(s) => match crate::exec::exit_code(&s) {
            Some(0) => Probe::Shell,
            Some(exit::CANNOT_EXECUTE | exit::NOT_FOUND) => Probe::NoShell,
            Some(c) => Probe::Failed(format!("sh exited {c}")),
            None if crate::exec::not_found(&s) => Probe::NoShell,
            None => Probe::Failed(s.message.unwrap_or_default()),
        },
    }
}
