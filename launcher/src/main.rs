//! `cairn` (also `kubectl cairn`): finds pods and collects forensic evidence from them.
//! Thin by design: it reaches the cluster, checks permissions, runs
//! `scripts/bootstrap.sh` through `pods/exec` with the collector on stdin, and files the
//! archives that come back. The evidence work is the collector's.

mod bootstrap_line;
mod cluster;
mod collect;
mod ephemeral;
mod gcs;
mod node;
mod progress;
mod rbac;
mod s3;
mod sidecar;
mod targets;

use anyhow::Context;
use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cairn",
    version,
    about = "Forensic evidence collection from Kubernetes pods"
)]
struct Cli {
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).
    #[arg(long, global = true)]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long, global = true)]
    context: Option<String>,
    /// Namespace (default: the context's).
    #[arg(short = 'n', long, global = true)]
    namespace: Option<String>,
    /// All namespaces.
    #[arg(short = 'A', long, global = true)]
    all_namespaces: bool,
    /// Label selector, e.g. app=web,tier=front.
    #[arg(short = 'l', long, global = true)]
    selector: Option<String>,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of the collect variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Prints a self-contained one-line command for manual deployment (a sidecar, SSM,
    /// `az aks command invoke`, a CI job): it downloads the collector, checks its
    /// sha256 and runs it with COLLECTOR ARGS, e.g. `-- collect --upload-url URL`.
    Bootstrap {
        /// Print the command (the only mode: cairn never runs it itself).
        #[arg(long, required = true)]
        print: bool,
        /// Where the target downloads the collector from (curl, wget or busybox wget).
        #[arg(long)]
        collector_url: String,
        /// The collector binary at that URL, to take its sha256 (default: as for collect).
        #[arg(long)]
        collector_bin: Option<PathBuf>,
        /// Arguments for the collector, after `--` (default: collect --output -).
        #[arg(last = true)]
        collector_args: Vec<String>,
    },
    /// Prints the patch that gives a workload's pods a collector sidecar (for clusters
    /// where ephemeral containers are not allowed), with how to apply and use it.
    Sidecar {
        /// The workload: NAME (a deployment) or KIND/NAME (deployment, statefulset,
        /// daemonset, replicaset).
        #[arg(long = "for", value_name = "WORKLOAD")]
        workload: String,
        /// The collector image (scripts/build-image.sh builds it).
        #[arg(long)]
        collector_image: Option<String>,
    },
    /// Lists pods and their containers with a verdict: exec-able, distroless, not running.
    Pods {
        /// Show system namespaces (kube-system and the like) too.
        #[arg(long)]
        include_system: bool,
        /// Output: table or json.
        #[arg(short = 'o', long, default_value = "table")]
        output: String,
        /// Also exec `sh -c 'exit 0'` into each running container (needs pods/exec):
        /// one without a shell is distroless whatever its image is called.
        #[arg(long)]
        probe: bool,
    },
    /// Collects evidence from POD[/CONTAINER]... or from the pods -l selects.
    Collect {
        /// Targets: POD or POD/CONTAINER in the namespace.
        targets: Vec<String>,
        /// Directory for the archives (named namespace_pod_container_UTC.tar.zst).
        #[arg(long, required_unless_present_any = ["s3", "azure_sas", "gcs", "upload_url_template"], conflicts_with_all = ["s3", "azure_sas", "gcs", "upload_url_template"])]
        output_dir: Option<PathBuf>,
        /// Upload straight from each pod to s3://BUCKET/PREFIX/NAME, presigned with the
        /// AWS credentials in this environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
        /// AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL for S3-compatible stores).
        #[arg(long, conflicts_with_all = ["azure_sas", "gcs", "upload_url_template"])]
        s3: Option<String>,
        /// Upload straight from each pod into an Azure Blob container, through its SAS
        /// URL (sr=c, with write and create permission); one blob per target, named as
        /// the archives of --output-dir.
        #[arg(long, value_name = "CONTAINER_SAS_URL", conflicts_with_all = ["gcs", "upload_url_template"])]
        azure_sas: Option<String>,
        /// Upload straight from each pod to gs://BUCKET/PREFIX/NAME: the launcher opens
        /// a resumable upload session per target with your Google access token
        /// (GOOGLE_OAUTH_ACCESS_TOKEN, else `gcloud auth print-access-token`) and the
        /// pod gets only the session URL. STORAGE_EMULATOR_HOST selects an emulator.
        #[arg(
            long,
            alias = "gcs-signed",
            value_name = "gs://BUCKET/PREFIX",
            conflicts_with = "upload_url_template"
        )]
        gcs: Option<String>,
        /// Upload straight from each pod to this URL with {namespace}, {pod},
        /// {container} and {name} (the archive's file name) filled in per target: for
        /// stores whose URLs allow any object name under one credential, e.g. an Azure
        /// container SAS with the blob path in it. The collector recognises the URL's
        /// kind; pass `-- --upload-kind KIND` when it cannot.
        #[arg(long, value_name = "URL")]
        upload_url_template: Option<String>,
        /// Parts per S3 upload plan (8 MiB each): the largest archive it takes.
        #[arg(long, default_value_t = 1024)]
        s3_parts: u16,
        /// How long presigned URLs stay valid (e.g. 6h).
        #[arg(long, default_value = "6h", value_parser = parse_duration)]
        url_expiry: std::time::Duration,
        /// The static collector to deliver (default: cairn-collector next to cairn, or
        /// $CAIRN_COLLECTOR_BIN).
        #[arg(long)]
        collector_bin: Option<PathBuf>,
        /// Let each target download the collector from this URL (curl, wget or busybox
        /// wget) instead of receiving it through the exec stream; the bootstrap checks
        /// it against the sha256 of --collector-bin and refuses anything else.
        #[arg(long)]
        collector_url: Option<String>,
        /// How to reach each container: exec (the bootstrap through pods/exec, the
        /// default), ephemeral (an ephemeral container of --collector-image beside it,
        /// for containers without a shell; it stays in the pod's spec, as Kubernetes
        /// never removes ephemeral containers), or auto (exec where the container has a
        /// shell, ephemeral where it has none), sidecar (the pod's collector sidecar
        /// that `cairn sidecar` adds), or node (a short-lived pod on the target's node
        /// reads the container from the runtime's directories, offline, drift
        /// included; it is deleted afterwards).
        #[arg(long, value_enum, default_value = "exec")]
        via: Via,
        /// The collector image for --via ephemeral (scripts/build-image.sh builds it;
        /// push it where the cluster pulls from).
        #[arg(long)]
        collector_image: Option<String>,
        /// Targets collected at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Time allowed per target (e.g. 90s, 30m); on expiry the exec stream closes,
        /// the collector's output breaks and the bootstrap removes it.
        #[arg(long, default_value = "30m", value_parser = parse_duration)]
        timeout: std::time::Duration,
        /// Show system namespaces' pods when selecting with -l.
        #[arg(long)]
        include_system: bool,
        /// Output of the final report: table or json.
        #[arg(short = 'o', long, default_value = "table")]
        output: String,
        /// Progress on stderr: bars on a terminal, a line per target start and end
        /// otherwise (auto), or always bars, lines, or nothing.
        #[arg(long, value_enum, default_value = "auto")]
        progress: progress::Mode,
        /// Arguments passed to the collector after `collect` (e.g. --profile full).
        #[arg(last = true)]
        collector_args: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Via {
    Exec,
    Ephemeral,
    Sidecar,
    Node,
    Auto,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}': expected e.g. 90s, 30m, 2h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("'{s}': the unit must be s, m or h")),
    };
    Ok(std::time::Duration::from_secs(secs))
}

fn collector_path(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(p) = given.or_else(|| std::env::var_os("CAIRN_COLLECTOR_BIN").map(PathBuf::from)) {
        return Ok(p);
    }
    let exe = std::env::current_exe().context("locating cairn itself")?;
    let next = exe.with_file_name("cairn-collector");
    if next.is_file() {
        return Ok(next);
    }
    anyhow::bail!("no collector binary: pass --collector-bin PATH (the static cairn-collector) or set CAIRN_COLLECTOR_BIN")
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Installed as `kubectl-cairn` (a link or copy on PATH), kubectl runs it for
    // `kubectl cairn ...`; help and errors then name it that way.
    let as_plugin = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().starts_with("kubectl-"))
        })
        .unwrap_or(false);
    let mut command = <Cli as clap::CommandFactory>::command();
    if as_plugin {
        command = command
            .bin_name("kubectl cairn")
            .display_name("kubectl cairn");
    }
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&command.get_matches()) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cairn: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Bootstrap {
        collector_url,
        collector_bin,
        collector_args,
        ..
    } = &cli.command
    {
        let collector = collect::Collector::load(&collector_path(collector_bin.clone())?)?;
        let args = if collector_args.is_empty() {
            vec!["collect".to_owned(), "--output".to_owned(), "-".to_owned()]
        } else {
            collector_args.clone()
        };
        println!(
            "{}",
            bootstrap_line::one_line(collector_url, &collector.sha256, &args)
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Sidecar {
        workload,
        collector_image,
    } = &cli.command
    {
        let (kind, name) = sidecar::workload(workload)?;
        let image = collector_image
            .clone()
            .unwrap_or_else(ephemeral::default_image);
        let ns = cli.namespace.clone().unwrap_or_else(|| "NAMESPACE".into());
        print!("{}", sidecar::render(&kind, &name, &ns, &image));
        return Ok(ExitCode::SUCCESS);
    }
    let c = cluster::connect(cli.kubeconfig.as_deref(), cli.context.as_deref()).await?;
    let ns = cli
        .namespace
        .clone()
        .unwrap_or_else(|| c.default_namespace.clone());
    let scope = (!cli.all_namespaces).then_some(ns.as_str());
    match cli.command {
        Command::Pods {
            include_system,
            output,
            probe,
        } => {
            let pods =
                targets::list(&c.client, scope, cli.selector.as_deref(), include_system).await?;
            let mut all: Vec<targets::Target> = pods.iter().flat_map(targets::containers).collect();
            let mut probes = vec![None; all.len()];
            if probe {
                let client = &c.client;
                let found: Vec<(usize, targets::Probe)> = futures_util::stream::iter(
                    all.iter()
                        .enumerate()
                        .filter(|(_, t)| t.verdict == targets::Verdict::Exec),
                )
                .map(|(i, t)| async move { (i, targets::probe(client, t).await) })
                .buffer_unordered(8)
                .collect()
                .await;
                for (i, p) in found {
                    if p == targets::Probe::NoShell {
                        all[i].verdict = targets::Verdict::Distroless;
                    }
                    if let targets::Probe::Failed(why) = &p {
                        eprintln!("cairn: probe of {} failed: {why}", all[i].name());
                    }
                    probes[i] = Some(p);
                }
            }
            if output == "json" {
                let v: Vec<_> = all
                    .iter()
                    .zip(&probes)
                    .map(|(t, p)| {
                        let mut j = t.to_json();
                        if let Some(p) = p {
                            j["probe"] = match p {
                                targets::Probe::Shell => "shell".into(),
                                targets::Probe::NoShell => "no shell".into(),
                                targets::Probe::Failed(w) => format!("failed: {w}").into(),
                            };
                        }
                        j
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "{:<20} {:<30} {:<16} {:<12} {:<8} {:<12} IMAGE",
                    "NAMESPACE", "POD", "CONTAINER", "PHASE", "USER", "VERDICT"
                );
                for t in &all {
                    println!(
                        "{:<20} {:<30} {:<16} {:<12} {:<8} {:<12} {}",
                        t.namespace,
                        t.pod,
                        t.container,
                        t.phase,
                        t.user.map(|u| u.to_string()).unwrap_or_else(|| "-".into()),
                        t.verdict.name(),
                        t.image
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bootstrap { .. } | Command::Sidecar { .. } => unreachable!("handled above"),
        Command::Collect {
            targets: args,
            output_dir,
            s3,
            azure_sas,
            gcs,
            upload_url_template,
            s3_parts,
            url_expiry,
            collector_bin,
            collector_url,
            via,
            collector_image,
            concurrency,
            timeout,
            include_system,
            output,
            progress,
            collector_args,
        } => {
            let mut collector = collect::Collector::load(&collector_path(collector_bin)?)?;
            collector.url = collector_url;
            let dest = match (&output_dir, &s3) {
                (None, None) if azure_sas.is_some() => collect::Destination::AzureSas(
                    collect::azure_container_sas(azure_sas.as_deref().unwrap_or_default())?,
                ),
                (None, None) if upload_url_template.is_some() => collect::Destination::Template(
                    upload_url_template.clone().unwrap_or_default(),
                ),
                (None, None) if gcs.is_some() => collect::Destination::Gcs(std::sync::Arc::new(
                    gcs::Gcs::from_env(gcs.as_deref().unwrap_or_default())?,
                )),
                (Some(d), _) => {
                    std::fs::create_dir_all(d)
                        .with_context(|| format!("creating {}", d.display()))?;
                    collect::Destination::Dir(d.clone())
                }
                (None, Some(u)) => collect::Destination::S3(std::sync::Arc::new(s3::S3::from_env(
                    u, s3_parts, url_expiry,
                )?)),
                (None, None) => anyhow::bail!(
                    "give --output-dir DIR, --s3 s3://BUCKET/PREFIX, --azure-sas CONTAINER_SAS_URL, --gcs gs://BUCKET/PREFIX or --upload-url-template URL"
                ),
            };
            let mut chosen = Vec::new();
            for a in &args {
                chosen.push(targets::resolve(&c.client, &ns, a).await?);
            }
            if let Some(sel) = cli.selector.as_deref() {
                let pods = targets::list(&c.client, scope, Some(sel), include_system).await?;
                chosen.extend(pods.iter().flat_map(targets::containers));
            }
            if chosen.is_empty() {
                anyhow::bail!("no targets: name POD[/CONTAINER] or select with -l");
            }
            if let collect::Destination::Template(t) = &dest {
                collect::check_template(t, chosen.len())?;
            }
            // Permissions first, once per namespace: a clear refusal beats a failed exec.
            let mut namespaces: Vec<&str> = chosen.iter().map(|t| t.namespace.as_str()).collect();
            namespaces.sort();
            namespaces.dedup();
            let needs_ephemeral = |t: &targets::Target| match via {
                Via::Exec | Via::Sidecar | Via::Node => false,
                Via::Ephemeral => true,
                Via::Auto => t.verdict == targets::Verdict::Distroless,
            };
            let mut needs: Vec<rbac::Need> = rbac::EXEC.to_vec();
            if chosen.iter().any(needs_ephemeral) {
                needs.extend(rbac::EPHEMERAL.iter().cloned());
            }
            if via == Via::Node {
                needs.extend(rbac::NODE.iter().cloned());
            }
            for n in namespaces {
                let missing = rbac::missing(&c.client, n, &needs).await?;
                if !missing.is_empty() {
                    anyhow::bail!("{}", rbac::explain(n, &missing));
                }
            }
            let mut outcomes = Vec::new();
            let mut runnable = Vec::new();
            let image = collector_image.unwrap_or_else(ephemeral::default_image);
            let ephemeral_route = collect::Route::Ephemeral { image };
            for t in chosen {
                if via == Via::Sidecar && t.verdict != targets::Verdict::NotRunning {
                    runnable.push((t, collect::Route::Sidecar));
                    continue;
                }
                // Offline from the node's disk: a stopped container too.
                if via == Via::Node {
                    let image = match &ephemeral_route {
                        collect::Route::Ephemeral { image } => image.clone(),
                        _ => ephemeral::default_image(),
                    };
                    runnable.push((t, collect::Route::Node { image }));
                    continue;
                }
                match t.verdict {
                    targets::Verdict::Exec if via != Via::Ephemeral => {
                        runnable.push((t, collect::Route::Exec))
                    }
                    targets::Verdict::Exec | targets::Verdict::Distroless if via != Via::Exec => {
                        runnable.push((t, ephemeral_route.clone()))
                    }
                    targets::Verdict::Exec => runnable.push((t, collect::Route::Exec)),
                    v => {
                        let why = match v {
                            targets::Verdict::Distroless => format!("{} runs a distroless image ({}): it has no shell to exec; collect through an ephemeral container or the node instead (--via ephemeral, --via node)", t.name(), t.image),
                            _ => format!("{} is not running", t.name()),
                        };
                        outcomes.push(collect::Outcome::failed(&t, std::time::Instant::now(), why));
                    }
                }
            }
            let (client, collector, dir) = (&c.client, &collector, &dest);
            let extra = &collector_args;
            let pending: Vec<targets::Target> = runnable.iter().map(|(t, _)| t.clone()).collect();
            let ephemeral = &ephemeral_route;
            let finished = std::sync::Mutex::new(Vec::<collect::Outcome>::new());
            let board = progress::Board::new(progress, runnable.len() as u64);
            let board = &board;
            for o in &outcomes {
                board.say(&format!(
                    "cairn: {} not collected: {}",
                    o.target,
                    o.error.as_deref().unwrap_or_default()
                ));
            }
            let work = futures_util::stream::iter(runnable)
                .map(|(t, route)| async move {
                    let bar = std::sync::Arc::new(board.target(&t.name()));
                    let started = std::time::Instant::now();
                    let name = collect::archive_name(&t, time::OffsetDateTime::now_utc());
                    let attempt = async {
                        let o = collect::collect_one(
                            client, &t, &route, collector, dir, extra, bar.clone(), &name,
                        )
                        .await;
                        // --via auto: a container found to have no shell at exec time
                        // is collected through an ephemeral container instead.
                        let no_shell = o.error.as_deref().is_some_and(|e| e.contains("has no shell"));
                        if via == Via::Auto && route == collect::Route::Exec && no_shell {
                            return collect::collect_one(
                                client, &t, ephemeral, collector, dir, extra, bar.clone(), &name,
                            )
                            .await;
                        }
                        o
                    };
                    let o = match tokio::time::timeout(timeout, attempt).await {
                        Ok(o) => o,
                        Err(_) => {
                            let kept = collect::partial_path(dir, &name)
                                .and_then(|p| Some((std::fs::metadata(&p).ok()?.len(), p)))
                                .map(|(n, p)| format!("; the {n} bytes that arrived are kept in {} (incomplete)", p.display()))
                                .unwrap_or_default();
                            collect::Outcome::failed(
                                &t,
                                started,
                                format!(
                                    "timed out after {}s (--timeout); the exec stream was closed{kept}",
                                    timeout.as_secs()
                                ),
                            )
                        }
                    };
                    bar.finish(o.bytes, o.seconds, o.error.as_deref());
                    o
                })
                .buffer_unordered(concurrency.max(1))
                .for_each(|o| {
                    if let Ok(mut f) = finished.lock() {
                        f.push(o);
                    }
                    async {}
                });
            // Ctrl-C cancels what is running: dropping an exec stream closes it in the
            // pod, the collector's output breaks and the bootstrap removes it.
            let interrupted = tokio::select! {
                _ = work => false,
                _ = tokio::signal::ctrl_c() => true,
            };
            board.finish();
            let mut done = finished.into_inner().unwrap_or_default();
            if interrupted {
                let now = std::time::Instant::now();
                for t in pending {
                    if !done.iter().any(|o| o.target == t.name()) {
                        done.push(collect::Outcome::failed(
                            &t,
                            now,
                            "cancelled (Ctrl-C)".into(),
                        ));
                    }
                }
            }
            outcomes.append(&mut done);
            outcomes.sort_by(|a, b| a.target.cmp(&b.target));
            report(&outcomes, &output);
            let failed = outcomes.iter().filter(|o| o.error.is_some()).count();
            if interrupted {
                eprintln!("cairn: interrupted; {failed} target(s) not collected");
                return Ok(ExitCode::from(130));
            }
            if failed > 0 {
                eprintln!("cairn: {failed} of {} target(s) failed", outcomes.len());
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn report(outcomes: &[collect::Outcome], output: &str) {
    if output == "json" {
        let v: Vec<_> = outcomes.iter().map(collect::Outcome::to_json).collect();
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    println!(
        "{:<40} {:<7} {:>12} {:<64} {:>8} STATUS",
        "TARGET", "METHOD", "BYTES", "SHA256", "SECONDS"
    );
    for o in outcomes {
        println!(
            "{:<40} {:<7} {:>12} {:<64} {:>8.1} {}",
            o.target,
            o.method,
            o.bytes,
            o.sha256.as_deref().unwrap_or("-"),
            o.seconds,
            match &o.error {
                None => "ok".to_owned(),
                Some(e) => format!("failed: {e}"),
            }
        );
    }
}
