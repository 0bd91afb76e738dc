//! Collecting from one container through `pods/exec`: the bootstrap runs as the `sh -c`
//! script, the collector binary follows on stdin (so pods without egress work), the
//! archive comes back on stdout into `--output-dir`, hashed on arrival and compared with
//! the sha256 the collector reports in its `done` event. Stdin stays open until the
//! command ends: under v4.channel.k8s.io closing it early loses stdout.

use crate::progress::TargetBar;
use crate::targets::Target;
use anyhow::{bail, Context};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};
use kube::Client;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

pub const BOOTSTRAP: &str = include_str!("../../scripts/bootstrap.sh");

/// Where archives go.
#[derive(Clone)]
pub enum Destination {
    /// Back over the exec stdout into this directory.
    Dir(PathBuf),
    /// Straight from the pod to S3, through a plan the launcher presigns.
    S3(Arc<crate::s3::S3>),
    /// Straight from the pod to an Azure container, through the responder's container
    /// SAS; each archive becomes a blob named after its target.
    AzureSas(String),
    /// Straight from the pod to GCS, through a resumable session the launcher opens.
    Gcs(Arc<crate::gcs::Gcs>),
    /// Straight from the pod to a URL made per target from a template.
    Template(String),
}

/// How the collector reaches the target container.
#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    /// `pods/exec` into the container: the bootstrap receives and runs the collector.
    Exec,
    /// An ephemeral container of the collector image beside the target
    /// (`targetContainerName`), into which the collection is exec'd.
    Ephemeral { image: String },
    /// The pod's collector sidecar (`cairn sidecar`), sharing the pod's PID namespace,
    /// into which the collection is exec'd.
    Sidecar,
    /// A short-lived pod on the target's node that reads the container from the
    /// runtime's directories, offline.
    Node { image: String },
}

impl Route {
    pub fn method(&self) -> &'static str {
        match self {
            Route::Exec => "exec",
            Route::Ephemeral { .. } => "ephemeral",
            Route::Sidecar => "sidecar",
            Route::Node { .. } => "node",
        }
    }
}

/// The placeholders of `--upload-url-template`.
pub const PLACEHOLDERS: [&str; 4] = ["{namespace}", "{pod}", "{container}", "{name}"];

/// Fills `--upload-url-template` for one target: `{namespace}`, `{pod}`, `{container}`
/// and `{name}` (the archive's file name), each percent-encoded as a path segment.
pub fn expand_template(template: &str, t: &Target, name: &str) -> String {
    let enc = |v: &str| {
        url::form_urlencoded::byte_serialize(v.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    template
        .replace("{namespace}", &enc(&t.namespace))
        .replace("{pod}", &enc(&t.pod))
        .replace("{container}", &enc(&t.container))
        .replace("{name}", &enc(name))
}

/// Checks `--upload-url-template` before anything runs: a URL once filled, and with a
/// placeholder when several targets would otherwise overwrite one object.
pub fn check_template(template: &str, targets: usize) -> anyhow::Result<()> {
    let sample = template
        .replace("{namespace}", "ns")
        .replace("{pod}", "pod")
        .replace("{container}", "c")
        .replace("{name}", "a.tar.zst");
    let u: url::Url = sample
        .parse()
        .map_err(|e| anyhow::anyhow!("--upload-url-template is not a URL once filled ({e})"))?;
    if !matches!(u.scheme(), "http" | "https") {
        bail!("--upload-url-template must be an http(s) URL");
    }
    if targets > 1 && !PLACEHOLDERS.iter().any(|p| template.contains(p)) {
        bail!("--upload-url-template has no placeholder ({}): the {targets} targets would overwrite one object", PLACEHOLDERS.join(", "));
    }
    Ok(())
}

/// Checks `--azure-sas`: a SAS for a container (`sr=c`), since every target writes
/// its own blob in it.
pub fn azure_container_sas(sas: &str) -> anyhow::Result<String> {
    let u: url::Url = sas
        .parse()
        .map_err(|_| anyhow::anyhow!("--azure-sas is not a URL"))?;
    let q: Vec<(String, String)> = u.query_pairs().into_owned().collect();
    let has = |k: &str, v: Option<&str>| q.iter().any(|(a, b)| a == k && v.is_none_or(|v| b == v));
    if !has("sig", None) {
        bail!("--azure-sas has no signature (sig=): give the container's SAS URL");
    }
    if !has("sr", Some("c")) {
        bail!("--azure-sas must be a container SAS (sr=c), so that every target writes its own blob in the container");
    }
    Ok(sas.to_owned())
}

/// The collector binary to deliver, read once.
pub struct Collector {
    pub bytes: Vec<u8>,
    pub sha256: String,
    /// Where targets download it from (`--collector-url`) instead of receiving it on
    /// the exec stdin; the bootstrap still checks it against `sha256`.
    pub url: Option<String>,
}

impl Collector {
    pub fn load(path: &Path) -> anyhow::Result<Collector> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading the collector {}", path.display()))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        Ok(Collector {
            bytes,
            sha256,
            url: None,
        })
    }
}

/// What one collection gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub target: String,
    pub method: &'static str,
    pub archive: Option<PathBuf>,
    pub bytes: u64,
    pub sha256: Option<String>,
    pub seconds: f64,
    pub error: Option<String>,
    /// Where the time went, in milliseconds: opening the exec stream (API round trip
    /// and upgrade), delivering and checking the binary (until the bootstrap starts it),
    /// and the collection with the archive's transfer.
    pub phases: Option<Phases>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Phases {
    pub exec_open_ms: u64,
    pub delivery_ms: u64,
    pub collection_ms: u64,
}

impl Outcome {
    pub fn failed(t: &Target, started: Instant, error: String) -> Outcome {
        Outcome {
            target: t.name(),
            method: "exec",
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
            "archive": self.archive.as_ref().map(|p| p.display().to_string()),
            "bytes": self.bytes, "sha256": self.sha256, "seconds": self.seconds,
            "status": if self.error.is_none() { "ok" } else { "failed" }, "error": self.error,
            "phases": self.phases.map(|p| serde_json::json!({
                "exec_open_ms": p.exec_open_ms, "delivery_ms": p.delivery_ms,
                "collection_ms": p.collection_ms,
            })),
        })
    }
}

/// The exit code an exec's final Status carries: 0 on Success, the ExitCode cause
/// otherwise; `None` when the runtime failed to run the command at all.
pub fn exit_code(s: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Status) -> Option<i32> {
    if s.status.as_deref() == Some("Success") {
        return Some(0);
    }
    s.details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .and_then(|c| c.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
        .and_then(|c| c.message.as_deref())
        .and_then(|m| m.parse::<i32>().ok())
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

/// Where the archive of `name` is written while it arrives (kept on failure: the
/// bytes that arrived are a valid zstd stream up to the break).
pub fn partial_path(dest: &Destination, name: &str) -> Option<PathBuf> {
    match dest {
        Destination::Dir(d) => Some(d.join(format!("{name}.part"))),
        _ => None,
    }
}

/// Collects from `t` by `route` into `dest`. Errors say what happened, with the
/// bootstrap's or the collector's own last words.
#[allow(clippy::too_many_arguments)]
pub async fn collect_one(
    client: &Client,
    t: &Target,
    route: &Route,
    collector: &Collector,
    dest: &Destination,
    extra: &[String],
    bar: Arc<TargetBar>,
    name: &str,
) -> Outcome {
    let started = Instant::now();
    let mut out = Outcome {
        target: t.name(),
        method: route.method(),
        archive: None,
        bytes: 0,
        sha256: None,
        seconds: 0.0,
        error: None,
        phases: None,
    };
    match run(client, t, route, collector, dest, extra, bar, name).await {
        Ok((path, bytes, sha, phases)) => {
            out.archive = Some(path);
            out.bytes = bytes;
            out.sha256 = Some(sha);
            out.phases = Some(phases);
        }
        Err(e) => out.error = Some(format!("{e:#}")),
    }
    out.seconds = started.elapsed().as_secs_f64();
    out
}

#[allow(clippy::too_many_arguments)]
async fn run(
    client: &Client,
    t: &Target,
    route: &Route,
    collector: &Collector,
    dest: &Destination,
    extra: &[String],
    bar: Arc<TargetBar>,
    name: &str,
) -> anyhow::Result<(PathBuf, u64, String, Phases)> {
    let t0 = Instant::now();
    let api: Api<Pod> = Api::namespaced(client.clone(), &t.namespace);
    let size = collector.bytes.len().to_string();
    let name = name.to_owned();
    // For uploads the plan (S3), the SAS URL (Azure) or the session URL (GCS) follows
    // the binary on stdin;
    // the bootstrap hands it to the collector from memory, so no presigned URL is in
    // an argument list or a file in the pod.
    let plan = match dest {
        Destination::S3(s3) => {
            let (s3, key) = (s3.clone(), s3.key(&name));
            Some(
                tokio::task::spawn_blocking(move || s3.plan(&key))
                    .await
                    .context("presigning")??,
            )
        }
        Destination::AzureSas(sas) => Some(sas.clone()),
        Destination::Gcs(gcs) => {
            let (gcs, key) = (gcs.clone(), gcs.key(&name));
            Some(
                tokio::task::spawn_blocking(move || gcs.session(&key))
                    .await
                    .context("opening the upload session")??,
            )
        }
        Destination::Template(tpl) => Some(expand_template(tpl, t, &name)),
        Destination::Dir(_) => None,
    };
    // Straight to the collector (ephemeral), a URL must end its line: the collector
    // reads one line, or one JSON document, since stdin stays open. The bootstrap
    // counts the bytes and ends the collector's stdin itself (its shell variable drops
    // a trailing newline, so none is added there).
    let plan = match route {
        Route::Exec => plan,
        _ => plan.map(|p| format!("{}\n", p.trim_end())),
    };
    let mut command: Vec<String> = match route {
        Route::Exec => {
            let mut c: Vec<String> = vec![
                "sh".into(),
                "-c".into(),
                BOOTSTRAP.into(),
                "cairn-bootstrap".into(),
            ];
            match &collector.url {
                Some(u) => c.extend(["url".into(), u.clone()]),
                None => c.extend(["stdin".into(), size]),
            }
            c.push(collector.sha256.clone());
            if let Some(p) = &plan {
                c.extend(["plan".into(), p.len().to_string()]);
            }
            // Stdin stays open while cairn is attached; its end (cancel, timeout, lost
            // connection) stops the collector, which runtimes would otherwise let run.
            c.extend(["watch".into(), "--".into(), "collect".into()]);
            c
        }
        Route::Ephemeral { .. } | Route::Sidecar | Route::Node { .. } => {
            let mut c: Vec<String> = vec![
                crate::ephemeral::COLLECTOR_PATH.into(),
                "collect".into(),
                "--target-pid".into(),
                "auto".into(),
            ];
            // The container's own processes, among the pod's, by the ID in their cgroups.
            if let Some(id) = &t.container_id {
                let bare = id.split_once("://").map_or(id.as_str(), |(_, i)| i);
                c.extend(["--target-id".into(), bare.to_owned()]);
            }
            c
        }
    };
    let mut node_pod = None;
    let container = match route {
        Route::Exec => t.container.clone(),
        Route::Ephemeral { image } => {
            bar.phase("starting an ephemeral container");
            crate::ephemeral::start(client, t, image, &bar).await?
        }
        Route::Sidecar => crate::sidecar::CONTAINER.to_owned(),
        Route::Node { image } => {
            bar.phase("starting a collector pod on the node");
            let (pod, id) = crate::node::start(client, t, image, &bar).await?;
            command = vec![
                crate::ephemeral::COLLECTOR_PATH.into(),
                "collect".into(),
                "--node-root".into(),
                crate::node::NODE_ROOT.into(),
                "--container".into(),
                id,
            ];
            node_pod = Some(pod);
            crate::node::CONTAINER.to_owned()
        }
    };
    let exec_pod = node_pod.clone().unwrap_or_else(|| t.pod.clone());
    let _node_guard = node_pod.as_ref().map(|name| crate::node::Guard {
        client: client.clone(),
        namespace: t.namespace.clone(),
        name: name.clone(),
    });
    match dest {
        Destination::S3(_) => command.extend(["--upload-plan".into(), "-".into()]),
        Destination::AzureSas(_) => command.extend([
            "--upload-url".into(),
            "-".into(),
            "--upload-name".into(),
            name.clone(),
        ]),
        Destination::Gcs(_) => command.extend(["--upload-url".into(), "-".into()]),
        Destination::Template(_) => command.extend([
            "--upload-url".into(),
            "-".into(),
            "--upload-name".into(),
            name.clone(),
        ]),
        Destination::Dir(_) => command.extend(["--output".into(), "-".into()]),
    }
    command.extend(["--progress".into(), "json".into()]);
    command.extend(extra.iter().cloned());
    let params = AttachParams::default()
        .container(container.clone())
        .stdin(true)
        .stdout(true)
        .stderr(true)
        .max_stdout_buf_size(1 << 20)
        .max_stderr_buf_size(1 << 20);
    let exec = api.exec(&exec_pod, command, &params).await;
    let mut proc = match exec {
        Ok(p) => p,
        Err(e) => {
            if let Some(pod) = &node_pod {
                crate::node::stop(client, t, pod).await;
            }
            return Err(e).with_context(|| format!("exec into {}", t.name()));
        }
    };
    let opened = t0.elapsed();
    bar.phase(&match (route, &collector.url) {
        (Route::Ephemeral { .. } | Route::Sidecar | Route::Node { .. }, _) => {
            "collector started".to_owned()
        }
        (_, Some(_)) => "the target downloads the collector".to_owned(),
        (_, None) => format!(
            "delivering the collector ({:.1} MiB)",
            collector.bytes.len() as f64 / 1048576.0
        ),
    });
    let mut stdin = proc.stdin().context("no stdin on the exec stream")?;
    let mut stdout = proc.stdout().context("no stdout on the exec stream")?;
    let stderr = proc.stderr().context("no stderr on the exec stream")?;
    let status = proc.take_status();

    let dir = match dest {
        Destination::Dir(d) => d.clone(),
        _ => std::env::temp_dir(),
    };
    let part = dir.join(format!("{name}.part"));
    let final_path = dir.join(&name);
    let mut file = tokio::fs::File::create(&part)
        .await
        .with_context(|| format!("creating {}", part.display()))?;

    // stdout (the archive) and stderr (progress JSON, bootstrap messages) are read
    // concurrently: kube-rs's pipes are bounded and one full pipe stalls the other.
    let binary = match (route, &collector.url) {
        (Route::Exec, None) => collector.bytes.clone(),
        _ => Vec::new(),
    };
    let plan_bytes = plan.clone().unwrap_or_default().into_bytes();
    let feed = tokio::spawn(async move {
        stdin.write_all(&binary).await?;
        stdin.write_all(&plan_bytes).await?;
        stdin.flush().await?;
        // Not closed: v4 would lose stdout. It closes with the stream.
        Ok::<_, std::io::Error>(stdin)
    });
    let errs = tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let (mut done, mut last, mut running) = (None, Vec::new(), None);
        while let Ok(Some(l)) = lines.next_line().await {
            if running.is_none() && l.starts_with("cairn-bootstrap: running ") {
                running = Some(t0.elapsed());
                bar.phase("collector started");
            }
            match serde_json::from_str::<serde_json::Value>(&l) {
                Ok(v) => {
                    bar.event(&v);
                    if v["event"] == "done" {
                        done = Some(v);
                    }
                }
                Err(_) => {
                    last.push(l);
                    if last.len() > 8 {
                        last.remove(0);
                    }
                }
            }
        }
        (done, last, running)
    });
    let mut h = Sha256::new();
    let mut bytes = 0u64;
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = stdout.read(&mut buf).await.context("reading the archive")?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        file.write_all(&buf[..n])
            .await
            .context("writing the archive")?;
        bytes += n as u64;
    }
    file.flush().await?;
    file.sync_all().await.ok();
    drop(file);
    let (done, last, running) = errs.await.unwrap_or_default();
    let total = t0.elapsed();
    let started = running.unwrap_or(opened);
    let phases = Phases {
        exec_open_ms: opened.as_millis() as u64,
        delivery_ms: started.saturating_sub(opened).as_millis() as u64,
        collection_ms: total.saturating_sub(started).as_millis() as u64,
    };
    let exit = match status {
        Some(s) => s.await,
        None => None,
    };
    // The command has ended: a feed still blocked (the command never read all of
    // its stdin, e.g. no shell to start the bootstrap) must not hold us.
    feed.abort();
    let _ = proc.join().await;
    if matches!(route, Route::Ephemeral { .. }) {
        // Ends the ephemeral container's idle command; Kubernetes cannot remove it.
        crate::ephemeral::stop(client, t, &container).await;
    }
    if let Some(pod) = &node_pod {
        crate::node::stop(client, t, pod).await;
    }
    let sha = hex::encode(h.finalize());
    let exit_code = exit.as_ref().and_then(exit_code);
    let words = last.join("\n");
    let message = exit
        .as_ref()
        .and_then(|s| s.message.clone())
        .unwrap_or_default();
    // No shell: the runtime says so in the Status, or the command ended 126/127 before
    // the bootstrap said a word (it always speaks before failing).
    let silent_start_failure = matches!(exit_code, Some(126 | 127))
        && running.is_none()
        && !words.contains("cairn-bootstrap:");
    if (exit_code.is_none() && message.contains("executable file not found"))
        || silent_start_failure
    {
        bail!(
            "{} has no shell (sh not found): a distroless container; collect through an ephemeral container or the node instead (--via ephemeral, --via node)",
            t.name()
        );
    }
    match exit_code {
        Some(0) | Some(3) => {}
        Some(90) => bail!("{}", words.trim()),
        Some(91) => bail!(
            "the collector that reached the target is not the one given (refused, not run): {}",
            words.trim()
        ),
        Some(c) => bail!("the collection exited with status {c}: {}", words.trim()),
        None => bail!(
            "the exec ended without an exit status ({}): {}",
            exit.and_then(|s| s.message).unwrap_or_default(),
            words.trim()
        ),
    }
    let Some(done) = done else {
        bail!("the collector did not report its end: {}", words.trim());
    };
    if plan.is_some() {
        let _ = std::fs::remove_file(&part);
        let up = &done["upload"];
        if up["complete"] != true {
            bail!(
                "the upload did not complete: {}",
                up["error"].as_str().unwrap_or("no reason given")
            );
        }
        let object = match dest {
            Destination::Gcs(g) => g.object(&g.key(&name)),
            _ => up["object"]
                .as_str()
                .or(up["location"].as_str())
                .unwrap_or_default()
                .to_owned(),
        };
        let sha = done["sha256"].as_str().unwrap_or_default().to_owned();
        return Ok((
            PathBuf::from(object),
            up["uploaded_bytes"].as_u64().unwrap_or(0),
            sha,
            phases,
        ));
    }
    let reported = done["sha256"].as_str().unwrap_or_default();
    if reported != sha {
        let _ = std::fs::rename(&part, dir.join(format!("{name}.corrupt")));
        bail!("the archive arrived altered: the collector reported sha256 {reported}, {bytes} bytes arrived with sha256 {sha}");
    }
    std::fs::rename(&part, &final_path)
        .with_context(|| format!("renaming to {}", final_path.display()))?;
    std::fs::write(
        dir.join(format!("{name}.sha256")),
        format!("{sha}  {name}\n"),
    )?;
    Ok((final_path, bytes, sha, phases))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::Verdict;

    #[test]
    fn templates_fill_every_placeholder_encoded_and_refuse_one_object_for_many() {
        let t = Target {
            namespace: "shop".into(),
            pod: "web 1".into(),
            container: "app".into(),
            image: String::new(),
            node: String::new(),
            phase: String::new(),
            user: None,
            container_id: None,
            verdict: Verdict::Exec,
        };
        assert_eq!(
            expand_template(
                "https://h/c/{namespace}/{pod}/{container}/{name}?sig=a%2Bb",
                &t,
                "x.tar.zst"
            ),
            "https://h/c/shop/web%201/app/x.tar.zst?sig=a%2Bb"
        );
        assert!(check_template("https://h/c/{pod}?sig=x", 3).is_ok());
        assert!(check_template("https://h/c/one.tar.zst?sig=x", 1).is_ok());
        let e = check_template("https://h/c/one.tar.zst?sig=x", 2).unwrap_err();
        assert!(e.to_string().contains("would overwrite one object"), "{e}");
        assert!(check_template("ftp://h/{name}", 1).is_err());
        assert!(check_template("not a url {name}", 1).is_err());
    }

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
