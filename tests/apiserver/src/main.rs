//! `cairn-test-apiserver`: a Kubernetes API server for cairn's tests that does the real
//! work on the local Docker engine. Pods are running containers labelled as the kubelet
//! labels them; `pods/exec` runs `docker exec` behind a WebSocket speaking
//! v5.channel.k8s.io and v4.channel.k8s.io. It serves TLS with a CA generated at start
//! and writes a kubeconfig (an allowed, a denied and a limited user) for kubectl, kube-rs
//! and cairn. `pods/log` comes from `docker logs`; other objects (service accounts,
//! RBAC, network policies, owners, events) from a directory the test fills. Simulated
//! pods (`--sim-pods`, [`sim`]) replay a canned collector session without Docker, for
//! measuring the launcher at scale.
//! See tests/README.md.
#![forbid(unsafe_code)]

mod api;
mod auth;
mod create;
mod ephemeral;
mod exec;
mod kubelet;
mod logs;
mod objects;
mod pods;
mod proto;
mod run_args;
mod sim;
mod tls;
mod watch;

use anyhow::Context;
use base64::Engine as _;
use clap::Parser;
use hyper_util::rt::TokioIo;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on; port 0 picks a free one (the kubeconfig names it).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Where to write the kubeconfig: contexts `cairn-test` (allowed, the current one),
    /// `cairn-test-denied` (may list and get pods, not exec) and `cairn-test-limited`
    /// (everything but reading RBAC).
    #[arg(long)]
    kubeconfig_out: PathBuf,
    /// Offer exec only over v4.channel.k8s.io, as API servers before 1.30 did (under
    /// v4 closing stdin early loses stdout; cairn must cope).
    #[arg(long)]
    v4_only: bool,
    /// More names or IP addresses for the serving certificate (e.g. the Docker bridge's
    /// gateway, so that a launcher running in a container can reach the server).
    #[arg(long)]
    tls_san: Vec<String>,
    /// Also write what the kubelet mounts into a pod at
    /// /var/run/secrets/kubernetes.io/serviceaccount: `token` (the allowed user's),
    /// `ca.crt` and `namespace` (`default`), for in-cluster clients.
    #[arg(long)]
    service_account_out: Option<PathBuf>,
    /// The address created pods reach this server at (the Docker bridge's gateway; give
    /// it to --tls-san too and listen beyond the loopback). With it, each created pod is
    /// given what a kubelet gives an in-cluster client: a service-account token (the
    /// allowed user's), the CA and its namespace at
    /// /var/run/secrets/kubernetes.io/serviceaccount, and KUBERNETES_SERVICE_HOST/PORT.
    #[arg(long, value_name = "IP")]
    pod_api_host: Option<String>,
    /// Record what each exec's command sees: DIR/exec-N.argv (its arguments, one per
    /// line) and DIR/exec-N.stdin (every byte it was sent on stdin), so that a test
    /// can check what reached a pod.
    #[arg(long, value_name = "DIR")]
    record_execs: Option<PathBuf>,
    /// Serve the Kubernetes objects in DIR (one JSON object per `*.json` file, read at
    /// every request): service accounts, roles and bindings, network policies, owners
    /// of pods, events.
    #[arg(long, value_name = "DIR")]
    objects: Option<PathBuf>,
    /// Where a pod's hostPath FROM (or a path below it) is found on this machine
    /// instead, for node directories the test bed has no kubelet to make
    /// (`/var/log/pods=DIR`).
    #[arg(long, value_name = "FROM=TO", value_parser = host_path_map)]
    host_path_map: Vec<(String, String)>,
    /// Also serve this many simulated pods (namespace `sim`, label `app=sim`) whose exec
    /// replays --sim-session instead of running anything (src/sim.rs).
    #[arg(long, default_value_t = 0, requires = "sim_session")]
    sim_pods: usize,
    /// The nodes the simulated pods are spread over (`sim-node-00`...).
    #[arg(long, default_value_t = 1)]
    sim_nodes: usize,
    /// The collector session each simulated exec replays: DIR/stdout and DIR/stderr.
    #[arg(long, value_name = "DIR")]
    sim_session: Option<PathBuf>,
    /// How long each simulated collection takes before its output, in milliseconds.
    #[arg(long, default_value_t = 0)]
    sim_delay_ms: u64,
}

fn host_path_map(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .ok_or_else(|| format!("{s}: give FROM=TO"))
}

pub struct State {
    pub tokens: auth::Tokens,
    pub v4_only: bool,
    /// Where execs are recorded, and how many so far.
    pub record_execs: Option<(PathBuf, std::sync::atomic::AtomicU64)>,
    /// Where the served objects are (`--objects`).
    pub objects: Option<PathBuf>,
    /// `--host-path-map`.
    pub host_paths: Vec<(String, String)>,
    /// `--pod-api-host`: what created pods are given to reach this server.
    pub in_cluster: Option<kubelet::InCluster>,
}

fn kubeconfig(server: &str, ca_pem: &str, t: &auth::Tokens) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: cairn-test
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: {allowed_user}
  user:
    token: {allowed}
- name: {denied_user}
  user:
    token: {denied}
- name: {limited_user}
  user:
    token: {limited}
contexts:
- name: cairn-test
  context:
    cluster: cairn-test
    user: {allowed_user}
    namespace: default
- name: cairn-test-denied
  context:
    cluster: cairn-test
    user: {denied_user}
    namespace: default
- name: cairn-test-limited
  context:
    cluster: cairn-test
    user: {limited_user}
    namespace: default
current-context: cairn-test
",
        allowed_user = auth::ALLOWED_USER,
        denied_user = auth::DENIED_USER,
        limited_user = auth::LIMITED_USER,
        allowed = t.allowed,
        denied = t.denied,
        limited = t.limited,
    )
}

/// Written whole, then renamed: a reader never sees half a file. Mode 0600: it holds
/// the users' tokens.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let tls = tls::generate(&args.tls_san)?;
    let tokens = auth::Tokens::random();
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let mut addr = listener.local_addr()?;
    if addr.ip().is_unspecified() {
        // Listening everywhere: clients on this machine use the loopback address.
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let server = format!("https://{addr}");
    if let Some(dir) = &args.service_account_out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        write_atomically(&dir.join("token"), &tokens.allowed)?;
        write_atomically(&dir.join("ca.crt"), &tls.ca_pem)?;
        write_atomically(&dir.join("namespace"), "default")?;
    }
    write_atomically(
        &args.kubeconfig_out,
        &kubeconfig(&server, &tls.ca_pem, &tokens),
    )?;
    eprintln!(
        "cairn-test-apiserver: serving {server}{}; kubeconfig {}",
        if args.v4_only { " (exec: v4 only)" } else { "" },
        args.kubeconfig_out.display()
    );
    if let Some(session) = args.sim_session.clone() {
        sim::init(sim::Sim {
            pods: args.sim_pods,
            nodes: args.sim_nodes,
            session,
            delay: std::time::Duration::from_millis(args.sim_delay_ms),
        });
    }
    let tokens_allowed = tokens.allowed.clone();
    let state = Arc::new(State {
        tokens,
        v4_only: args.v4_only,
        record_execs: args
            .record_execs
            .map(|d| (d, std::sync::atomic::AtomicU64::new(0))),
        objects: args.objects,
        host_paths: args.host_path_map,
        in_cluster: args.pod_api_host.map(|host| kubelet::InCluster {
            host,
            port: addr.port(),
            ca_pem: tls.ca_pem.clone(),
            token: tokens_allowed.clone(),
            dir: std::env::temp_dir().join(format!("cairn-test-apiserver-{}", std::process::id())),
        }),
    });
    loop {
        let (tcp, _) = tokio::select! {
            a = listener.accept() => a?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let (acceptor, state) = (tls.acceptor.clone(), state.clone());
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(api::handle(state, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(e) = conn.await {
                tracing::debug!("connection: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_kubeconfig_holding_tokens_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("kubeconfig");
        super::write_atomically(&p, "tokens").unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "tokens");
    }
}
