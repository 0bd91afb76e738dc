//! `cairn collect`: targets are chosen (names and `-l`), planned (a route each, the
//! permissions those routes need, checked once per namespace before any exec), and
//! collected a few at once, each within `--timeout`; Ctrl-C cancels what runs. The
//! final table or JSON lists every target, and the exit status says whether all went
//! well.

use crate::cli::CollectArgs;
use crate::cluster::Cluster;
use crate::collector::Collectors;
use crate::dest::Arrived;
use crate::plan::{self, Job};
use crate::progress::{Board, TargetBar};
use crate::results::{self, Outcome};
use crate::route::{default_image, Env, Via};
use crate::session::{self, Context, Failure};
use crate::targets::{self, Target};
use crate::{janitor, rbac, route};
use cairn_protocol::{exit, flags};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod case;
mod schedule;
mod yara;

/// How long past `--timeout` what cairn makes or hands out may live.
const LIFETIME_MARGIN: Duration = Duration::from_secs(120);
/// How long `cairn` waits for cleanups before exiting.
const CLEANUP_WAIT: Duration = Duration::from_secs(30);

/// What selects targets, from the global flags.
pub struct Selection<'a> {
    pub namespace: &'a str,
    /// `None` for all namespaces.
    pub scope: Option<&'a str>,
    pub selector: Option<&'a str>,
}

pub async fn run(a: CollectArgs, c: &Cluster, sel: Selection<'_>) -> anyhow::Result<i32> {
    let started_at = cairn_archive::text::now_rfc3339();
    // A route that cannot do what is asked, and a bad key, are refused before anything
    // runs.
    route_for(&a)?;
    let rules = a.yara.as_deref().map(yara::document).transpose()?;
    let signer = a
        .sign_key
        .as_deref()
        .map(crate::case::Signer::load)
        .transpose()?;
    let mut collectors = Collectors::find(&a.collector_bin)?;
    collectors.url = a.collector_url.clone();
    // What a route creates, and what a pod is given, outlives the collection by a
    // little at most.
    let lifetime = a.timeout + LIFETIME_MARGIN;
    let relay = crate::dest::relay::RunDir::create(&a.relay_dir)?;
    let dest = a.dest.choose(&crate::dest::Setting {
        lifetime,
        relay_dir: relay.path().to_owned(),
    })?;
    let plan = plan_jobs(&a, c, &sel, lifetime, dest.as_ref()).await?;
    let extra = collector_args(&a);
    let cx = Context {
        env: Env {
            client: &c.client,
            collectors: &collectors,
        },
        dest: dest.as_ref(),
        extra: &extra,
        yara: rules.as_deref(),
        limits: session::Limits {
            max_archive: a.max_archive_size,
            idle: a.idle_timeout,
        },
        timeout: a.timeout,
        relay_dir: relay.path(),
        k8s: (!a.no_k8s_evidence).then_some(crate::evidence::Options {
            max_log: a.max_log_size,
            case: a.case.clone(),
            examiner: a.examiner.clone(),
        }),
    };
    let (outcomes, interrupted) = collect_all(&cx, &a, plan).await;
    results::print(&outcomes, a.output);
    if let Some(c) = cx.dest.outliving_credentials() {
        eprintln!("cairn: note: {c}");
    }
    let record = case::Record {
        args: &a,
        started: &started_at,
        collectors: &collectors,
        identity: crate::case::identity(&c.client, &c.who).await,
        signer: signer.as_ref(),
    };
    match case::write(&cx, &record, &outcomes).await {
        Ok(at) => eprintln!(
            "cairn: case record {at}{}",
            if signer.is_some() {
                " (signed: FILE.sig)"
            } else {
                ""
            }
        ),
        Err(e) => {
            eprintln!("cairn: error: the case record: {e:#}");
            return Ok(exit::FAILED);
        }
    }
    Ok(status(&outcomes, interrupted))
}

/// The targets, each with a route, the permissions checked first.
async fn plan_jobs(
    a: &CollectArgs,
    c: &Cluster,
    sel: &Selection<'_>,
    lifetime: Duration,
    dest: &dyn crate::dest::Destination,
) -> anyhow::Result<plan::Plan> {
    let mut chosen = choose(a, c, sel).await?;
    targets::attach_arch(&c.client, &mut chosen).await;
    dest.check(chosen.len())?;
    let options = plan::RouteOptions {
        image: a.collector_image.clone().unwrap_or_else(default_image),
        collector_namespace: a.collector_namespace.clone(),
        lifetime,
        seccomp: a.seccomp_profile.clone(),
        node_logs: a.node_logs,
        no_disk_writes: a.no_disk_writes,
        concurrency: a.concurrency,
        per_node: a.per_node.map(|n| n as usize),
        pod_per_target: a.pod_per_target,
    };
    if (a.memory || a.memory_on_hit) && a.via == Via::Exec {
        eprintln!("cairn: --memory over exec: the collector has the container's rights, usually without CAP_SYS_PTRACE, so processes it may not read are recorded as denied; --via ephemeral captures them");
    }
    let plan = plan::make(chosen, route_for(a)?, &options);
    let by_node = |j: &Job| {
        std::iter::once(&j.route)
            .chain(j.fallback.as_ref())
            .any(|r| r.method() == "node")
    };
    if a.node_logs && !plan.jobs.iter().any(by_node) {
        eprintln!("cairn: --node-logs reads the node's disk, which only --via node reaches; no target goes that way, so no node logs are taken");
    }
    preflight(c, &plan).await?;
    if !a.no_k8s_evidence {
        evidence_preflight(c, &plan).await;
    }
    Ok(plan)
}

/// The route asked for, as `--memory` needs it: one whose collector may read other
/// processes' memory, or a sentence saying why none of those asked can.
fn route_for(a: &CollectArgs) -> anyhow::Result<Via> {
    if !a.memory && a.yara.is_none() {
        return Ok(a.via);
    }
    match a.via {
        Via::Node if a.memory || a.memory_on_hit => anyhow::bail!("--memory reads the target's running processes, and --via node reads a container offline from the node's disk: use --via ephemeral or --via sidecar, whose collector holds CAP_SYS_PTRACE"),
        Via::Auto => Ok(Via::Ephemeral),
        via => Ok(via),
    }
}

/// What every collector is given beyond its route's flags: the case goes into every
/// collector's summary too.
fn collector_args(a: &CollectArgs) -> Vec<String> {
    let mut extra = a.collector_args.clone();
    if a.memory {
        extra.push(flags::MEMORY.to_owned());
    }
    if a.yara.is_some() {
        extra.extend([flags::YARA.to_owned(), flags::STDIO.to_owned()]);
    }
    if a.memory_on_hit {
        extra.push(flags::MEMORY_ON_HIT.to_owned());
    }
    if let Some(id) = &a.case {
        extra.extend([flags::CASE.to_owned(), id.clone()]);
    }
    if let Some(name) = &a.examiner {
        extra.extend([flags::EXAMINER.to_owned(), name.clone()]);
    }
    extra
}

/// Runs every job (the refused ones are outcomes already), cleans up after cut-off
/// ones; the outcomes by target, and the signal that cut the run short, if one did.
async fn collect_all(
    cx: &Context<'_>,
    a: &CollectArgs,
    plan: plan::Plan,
) -> (Vec<Outcome>, Option<&'static str>) {
    let nodes: Vec<String> = plan.jobs.iter().map(|j| j.target.node.clone()).collect();
    let board = Board::for_targets(a.progress, &nodes);
    let now = Instant::now();
    let mut outcomes: Vec<Outcome> = plan
        .refused
        .iter()
        .map(|(t, method, why)| Outcome::failed(t, method, now, why.clone()))
        .collect();
    for o in &outcomes {
        board.say(&format!(
            "cairn: {} not collected: {}",
            o.target,
            o.error.as_deref().unwrap_or_default()
        ));
    }
    let caps = (a.concurrency, a.per_node.map(|n| n as usize));
    let (mut done, interrupted) = run_jobs(cx, plan.jobs, &board, a.timeout, caps).await;
    let why = interrupted.map(|s| format!("cancelled ({s})"));
    board.finish(why.as_deref().unwrap_or("stopped"));
    // What cut-off collections left (pods, ephemeral containers, open uploads) is
    // undone before exiting, Ctrl-C included.
    let left = janitor::drain(CLEANUP_WAIT).await;
    if left > 0 {
        eprintln!("cairn: {left} cleanup(s) did not finish within {}s; the cluster's deadlines and the URLs' expiry end them", CLEANUP_WAIT.as_secs());
    }
    outcomes.append(&mut done);
    outcomes.sort_by(|a, b| a.target.cmp(&b.target));
    (outcomes, interrupted)
}

/// The exit status the outcomes give, said in a sentence.
fn status(outcomes: &[Outcome], interrupted: Option<&str>) -> i32 {
    let failed = outcomes.iter().filter(|o| o.error.is_some()).count();
    let cut = outcomes
        .iter()
        .filter(|o| o.status() == "cut-short")
        .count();
    if let Some(signal) = interrupted {
        eprintln!("cairn: interrupted ({signal}); {failed} target(s) not collected");
        return exit::INTERRUPTED;
    }
    if failed > 0 {
        eprintln!("cairn: {failed} of {} target(s) failed", outcomes.len());
        return exit::FAILED;
    }
    if cut > 0 {
        eprintln!(
            "cairn: {cut} of {} target(s) cut short: their archives are valid but incomplete (see STATUS)",
            outcomes.len()
        );
        return exit::CUT_SHORT;
    }
    exit::OK
}

/// The targets named and those `-l` selects.
async fn choose(a: &CollectArgs, c: &Cluster, sel: &Selection<'_>) -> anyhow::Result<Vec<Target>> {
    let mut chosen = Vec::new();
    // With -A, a named pod is looked for in every namespace.
    for t in &a.targets {
        let ns = sel.scope.map(|_| sel.namespace);
        chosen.push(targets::resolve(&c.client, ns, t, a.container.as_deref()).await?);
    }
    if let Some(s) = sel.selector {
        let found = targets::list(&c.client, sel.scope, Some(s), a.include_system).await?;
        if found.is_empty() {
            let scope = match sel.scope {
                Some(ns) => format!("namespace {ns}"),
                None if a.include_system => "any namespace".to_owned(),
                None => "any namespace (system namespaces left out; --include-system adds them)"
                    .to_owned(),
            };
            anyhow::bail!("no pods match -l {s} in {scope}");
        }
        chosen.extend(found);
    }
    if chosen.is_empty() {
        anyhow::bail!("no targets: name POD[/CONTAINER], or select pods with -l LABEL=VALUE");
    }
    Ok(chosen)
}

/// Permissions first, once per namespace: a clear refusal beats a failed exec.
async fn preflight(c: &Cluster, plan: &plan::Plan) -> anyhow::Result<()> {
    for (ns, needs) in &plan.needs {
        let missing = rbac::missing(&c.client, ns, needs).await?;
        if !missing.is_empty() {
            anyhow::bail!("{}", rbac::explain(&c.who, ns, &missing));
        }
    }
    Ok(())
}

/// Says, once per namespace, which reads of the Kubernetes evidence the user may not
/// make: the collection goes on, and each refusal is recorded in the evidence.
async fn evidence_preflight(c: &Cluster, plan: &plan::Plan) {
    let namespaces: std::collections::BTreeSet<&str> = plan
        .jobs
        .iter()
        .map(|j| j.target.namespace.as_str())
        .collect();
    for ns in namespaces {
        match rbac::refused_reads(&c.client, ns).await {
            Ok(refused) if refused.is_empty() => {}
            Ok(refused) => eprintln!(
                "cairn: {} may not {} in namespace {ns}: the Kubernetes evidence (NAME.k8s.tar.zst) records each refusal; deploy/rbac.yaml's cairn-k8s-evidence and cairn-nodes roles grant them",
                c.who,
                refused.join(", ")
            ),
            Err(e) => eprintln!("cairn: which evidence reads are allowed is unknown: {e:#}"),
        }
    }
}

/// Collects every job, `concurrency` at once, until done or a signal
/// ([`crate::interrupt`]); returns the outcomes and the signal, if one came.
async fn run_jobs(
    cx: &Context<'_>,
    jobs: Vec<Job>,
    board: &Board,
    timeout: Duration,
    (concurrency, per_node): (usize, Option<usize>),
) -> (Vec<Outcome>, Option<&'static str>) {
    let pending: Vec<(Target, &'static str)> = jobs
        .iter()
        .map(|j| (j.target.clone(), j.route.method()))
        .collect();
    let finished = Mutex::new(Vec::<Outcome>::new());
    // Each started target's archive name, start and route, for what a cancelled one
    // left and how long it ran.
    let names = Mutex::new(Started::new());
    let work = schedule::run_capped(
        jobs,
        |j| Some(j.target.node.clone()).filter(|n| !n.is_empty()),
        concurrency,
        per_node,
        |job| run_job(cx, job, board, timeout, &names),
        |o| {
            if let Ok(mut f) = finished.lock() {
                f.push(o);
            }
        },
    );
    // A signal cancels what is running: dropping an exec stream closes it in the pod,
    // the collector's output breaks and the bootstrap removes it.
    let interrupted = tokio::select! {
        _ = work => None,
        s = crate::interrupt::signalled() => Some(s),
    };
    let mut done = finished.into_inner().unwrap_or_default();
    if let Some(signal) = interrupted {
        let now = Instant::now();
        let names = names.into_inner().unwrap_or_default();
        for (t, method) in pending {
            if !done.iter().any(|o| o.target == t.name()) {
                let (kept, method, since) = match names.get(&t.name()) {
                    Some(s) => (kept(cx, &s.name), s.method, s.at),
                    None => ("; it had not started".into(), method, now),
                };
                done.push(Outcome::failed(
                    &t,
                    method,
                    since,
                    format!("cancelled ({signal}){kept}"),
                ));
            }
        }
    }
    (done, interrupted)
}

/// A started target: its archive's name, when it started, the route it is on.
struct Start {
    name: String,
    at: Instant,
    method: &'static str,
}

/// The started targets, by name.
type Started = std::collections::BTreeMap<String, Start>;

/// Notes that the target named `target` is now on the route `method`.
fn moved(names: &Mutex<Started>, target: &str, method: &'static str) {
    if let Some(s) = names.lock().ok().as_mut().and_then(|n| n.get_mut(target)) {
        s.method = method;
    }
}

/// What a cut-off collection left, for its report: `; the N bytes that arrived are
/// kept in PATH (incomplete)`, or nothing.
fn kept(cx: &Context<'_>, name: &str) -> String {
    cx.dest
        .partial(name)
        .and_then(|p| Some((std::fs::metadata(&p).ok()?.len(), p)))
        .map(|(n, p)| {
            format!(
                "; the {n} bytes that arrived are kept in {} (incomplete: cut off mid-stream, it will not verify)",
                p.display()
            )
        })
        .unwrap_or_default()
}

/// Removes the `.part` a first route opened before it found no shell (or no place to
/// run from memory), so that the fallback can create its own, as files are never
/// written over. No collector ran, so what it holds is the runtime's own error text,
/// never archive bytes; anything but a plain file is left alone.
fn discard_failed_partial(cx: &Context<'_>, name: &str) {
    if let Some(p) = cx.dest.partial(name) {
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file()) {
            let _ = std::fs::remove_file(&p);
        }
    }
}

/// One target within `timeout`, with its fallback route where the first finds no shell.
async fn run_job(
    cx: &Context<'_>,
    job: Job,
    board: &Board,
    timeout: Duration,
    names: &Mutex<Started>,
) -> Outcome {
    let t = &job.target;
    let bar = Arc::new(board.target_on(&t.name(), &t.node));
    let started = Instant::now();
    let name = results::archive_name(t, time::OffsetDateTime::now_utc());
    if let Ok(mut n) = names.lock() {
        let method = job.route.method();
        let at = started;
        n.insert(
            t.name(),
            Start {
                name: name.clone(),
                at,
                method,
            },
        );
    }
    let attempt = async {
        let first = attempt(cx, t, job.route.as_ref(), &bar, &name, started).await;
        match (&first, &job.fallback) {
            (Err((_, Failure::NoShell(_) | Failure::NoMemoryPlace(_))), Some(f)) => {
                discard_failed_partial(cx, &name);
                moved(names, &t.name(), f.method());
                attempt(cx, t, f.as_ref(), &bar, &name, started).await
            }
            _ => first,
        }
    };
    // Bound first, so that a cut-off attempt is dropped (its cleanups spawned, a relay's
    // bytes kept) before the outcome looks for what it left.
    let result = tokio::time::timeout(timeout, attempt).await;
    let o = match result {
        Ok(Ok(o)) => o,
        Ok(Err((method, e))) => Outcome::failed(t, method, started, e.to_string()),
        Err(_) => {
            let kept = kept(cx, &name);
            let method = names
                .lock()
                .ok()
                .and_then(|n| n.get(&t.name()).map(|s| s.method))
                .unwrap_or(job.route.method());
            Outcome::failed(
                t,
                method,
                started,
                format!(
                    "timed out after {}s (--timeout); the exec stream was closed{kept}",
                    timeout.as_secs()
                ),
            )
        }
    };
    let mut o = o;
    if let Some(opts) = &cx.k8s {
        bar.phase("reading what the cluster knows about it");
        o.k8s = Some(evidence_beside(cx, t, &name.replace(".tar.zst", ".k8s.tar.zst"), opts).await);
    }
    bar.finish(o.bytes(), o.seconds, o.error.as_deref());
    o
}

/// The target's Kubernetes evidence, beside its archive: written into the output
/// directory; for a store, written into `--relay-dir`, uploaded with the responder's
/// credential and removed once stored, or kept there (and said) when the store refuses
/// it.
async fn evidence_beside(
    cx: &Context<'_>,
    t: &Target,
    name: &str,
    opts: &crate::evidence::Options,
) -> Result<crate::evidence::Written, String> {
    let local = cx.dest.local_dir();
    let path = local.unwrap_or(cx.relay_dir).join(name);
    let read = crate::evidence::write(cx.env.client, t, &path, opts);
    let mut w = match tokio::time::timeout(K8S_EVIDENCE_TIMEOUT, read).await {
        Ok(Ok(w)) => w,
        Ok(Err(e)) => return Err(format!("{e:#}")),
        Err(_) => {
            return Err(format!(
                "not finished within {} s",
                K8S_EVIDENCE_TIMEOUT.as_secs()
            ))
        }
    };
    if let (None, Some(why)) = (local, cx.dest.no_place_for(Some(t))) {
        w.not_stored = Some(why);
    } else if local.is_none() {
        let arrived = Arrived {
            bytes: w.bytes,
            sha256: w.sha256.clone(),
        };
        match cx.dest.put(Some(t), name, &path, &arrived).await {
            Ok(at) => {
                w.stored = Some(at);
                for p in [path.clone(), crate::case::beside(&path, ".sha256")] {
                    if let Err(e) = std::fs::remove_file(&p) {
                        tracing::warn!("removing {} once stored: {e}", p.display());
                    }
                }
            }
            Err(e) => w.not_stored = Some(format!("{e:#}")),
        }
    }
    Ok(w)
}

/// The most time the Kubernetes evidence of one target may take.
const K8S_EVIDENCE_TIMEOUT: Duration = Duration::from_secs(120);

type Attempt = Result<Outcome, (&'static str, Failure)>;

async fn attempt(
    cx: &Context<'_>,
    t: &Target,
    route: &dyn route::Route,
    bar: &Arc<TargetBar>,
    name: &str,
    started: Instant,
) -> Attempt {
    match session::collect(cx, t, route, bar.clone(), name, started).await {
        Ok(c) => Ok(Outcome {
            target: t.name(),
            method: route.method(),
            archive: Some(c.delivered.location),
            claimed: Some(c.claimed),
            verified: Some(c.delivered.verified),
            // Where the binary ran is the target's disk only on the exec route.
            binary: c.binary.filter(|_| route.binary_in_target()),
            cut_short: c.cut_short,
            seconds: started.elapsed().as_secs_f64(),
            error: None,
            phases: Some(c.phases),
            k8s: None,
        }),
        Err(e) => Err((route.method(), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> CollectArgs {
        let mut argv = vec!["cairn", "collect", "--output-dir", "x"];
        argv.extend(extra);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Collect(a) => a,
            _ => unreachable!(),
        }
    }

    #[test]
    fn memory_and_yara_choose_a_route_whose_collector_reads_processes() {
        // exec by default, as without them (the exec route records what it may not read).
        assert_eq!(route_for(&args(&["--memory"])).unwrap(), Via::Exec);
        assert_eq!(route_for(&args(&["--via", "auto"])).unwrap(), Via::Auto);
        for m in ["--memory", "--yara=r"] {
            assert_eq!(
                route_for(&args(&[m, "--via", "auto"])).unwrap(),
                Via::Ephemeral
            );
        }
        // The node route scans the files it collects; it has no processes to capture.
        assert_eq!(
            route_for(&args(&["--yara", "r", "--via", "node"])).unwrap(),
            Via::Node
        );
        assert!(route_for(&args(&["--memory", "--via", "node"])).is_err());
        assert!(route_for(&args(&["--yara=r", "--memory-on-hit", "--via", "node"])).is_err());
        assert!(crate::cli::Cli::try_parse_from([
            "cairn",
            "collect",
            "--output-dir",
            "x",
            "--memory-on-hit"
        ])
        .is_err());
        let extra = collector_args(&args(&["--yara", "r", "--memory-on-hit"]));
        assert_eq!(extra, ["--yara", "-", "--memory-on-hit"]);
    }
}
