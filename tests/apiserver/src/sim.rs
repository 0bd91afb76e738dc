//! Simulated pods, for measuring the launcher apart from the containers
//! (`--sim-pods N --sim-nodes M --sim-session DIR`): N pods in the namespace `sim`,
//! labelled `app=sim`, spread over M nodes (`sim-node-00`...), each with one running
//! container whose exec does not start anything in Docker but replays a canned
//! collector session: DIR/stdout (an archive, as `collect --output -` wrote it) and
//! DIR/stderr (its `--progress json` lines), then ends with status 0. When the exec asks
//! for an upload, the archive is uploaded through the plan sent on stdin instead
//! (src/bin/cairn-sim-collector.rs); otherwise stdin is read and dropped. The cost of a
//! target is then the launcher's own (and this server's), not a container's.
//!
//! A pod created on a simulated node (the node route's collector pod) is simulated too:
//! kept in memory, listed as running at once, its exec the same replay, deleted from
//! memory; so a node sweep is measured the same way.

use crate::pods::{Container, Pod};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The namespace of the simulated pods, and the prefix of their containers' IDs.
pub const NAMESPACE: &str = "sim";
const ID_PREFIX: &str = "5e5e";

/// What `--sim-*` asked for.
#[derive(Debug, Clone)]
pub struct Sim {
    pub pods: usize,
    pub nodes: usize,
    pub session: PathBuf,
    /// How long each simulated collection takes before its output.
    pub delay: std::time::Duration,
}

static SIM: OnceLock<Sim> = OnceLock::new();

/// Sets the simulation up, once, at start.
pub fn init(sim: Sim) {
    let _ = SIM.set(sim);
}

fn get() -> Option<&'static Sim> {
    SIM.get().filter(|s| s.pods > 0)
}

/// Whether there are simulated pods: then they are the only pods, and Docker is not
/// asked.
pub fn on() -> bool {
    get().is_some()
}

/// Pods created on simulated nodes, by namespace and name.
static CREATED: std::sync::Mutex<BTreeMap<(String, String), Pod>> =
    std::sync::Mutex::new(BTreeMap::new());

fn created() -> std::sync::MutexGuard<'static, BTreeMap<(String, String), Pod>> {
    CREATED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Creates `pod` in `ns` when it is to run on a simulated node: `None` when it is not
/// (Docker runs it), else its name or why it was refused.
pub fn create(ns: &str, pod: &serde_json::Value) -> Option<Result<String, crate::create::Refusal>> {
    let node = pod["spec"]["nodeName"].as_str().filter(|n| is_node(n))?;
    let Some(name) = pod["metadata"]["name"].as_str().filter(|n| !n.is_empty()) else {
        return Some(Err((
            422,
            "Invalid",
            "metadata.name: Required value".into(),
        )));
    };
    let mut all = created();
    let key = (ns.to_owned(), name.to_owned());
    if all.contains_key(&key) {
        return Some(Err((
            409,
            "AlreadyExists",
            format!("pods \"{name}\" already exists"),
        )));
    }
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let containers = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| Container {
            id: format!(
                "{ID_PREFIX}c{:059}",
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ),
            name: c["name"].as_str().unwrap_or_default().to_owned(),
            image: c["image"].as_str().unwrap_or_default().to_owned(),
            user: String::new(),
            running: true,
            started: "2026-12-07T10:00:00Z".into(),
            created: "2026-12-07T10:00:00Z".into(),
            ephemeral_target: None,
            ephemeral_spec: None,
            exit_code: 0,
            restarts: 0,
        })
        .collect();
    let labels = pod["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    all.insert(
        key,
        Pod {
            namespace: ns.to_owned(),
            name: name.to_owned(),
            labels,
            containers,
            node: node.to_owned(),
            service_account: "default".into(),
            owner: None,
        },
    );
    tracing::info!(pod = %name, namespace = %ns, node = %node, "sim pod created");
    Some(Ok(name.to_owned()))
}

/// Deletes the simulated pod `ns/name`: `None` when there is none.
pub fn delete(ns: &str, name: &str) -> Option<usize> {
    let p = created().remove(&(ns.to_owned(), name.to_owned()))?;
    tracing::info!(pod = %name, namespace = %ns, "sim pod deleted");
    Some(p.containers.len())
}

/// The simulated pods, those created on simulated nodes included.
pub fn pods() -> Vec<Pod> {
    let Some(sim) = get() else {
        return Vec::new();
    };
    let mut made: Vec<Pod> = created().values().cloned().collect();
    let mut all: Vec<Pod> = (0..sim.pods)
        .map(|i| Pod {
            namespace: NAMESPACE.into(),
            name: format!("sim-{i:05}"),
            labels: BTreeMap::from([("app".to_owned(), "sim".to_owned())]),
            containers: vec![Container {
                id: format!("{ID_PREFIX}{i:060}"),
                name: "main".into(),
                image: "cairn-sim:1".into(),
                user: String::new(),
                running: true,
                started: "2026-12-07T10:00:00Z".into(),
                created: "2026-12-07T10:00:00Z".into(),
                ephemeral_target: None,
                ephemeral_spec: None,
                exit_code: 0,
                restarts: 0,
            }],
            node: node_name(i % sim.nodes.max(1)),
            service_account: "default".into(),
            owner: None,
        })
        .collect();
    all.append(&mut made);
    all
}

fn node_name(i: usize) -> String {
    format!("sim-node-{i:02}")
}

/// Whether `name` is a simulated node.
pub fn is_node(name: &str) -> bool {
    get().is_some_and(|s| (0..s.nodes.max(1)).any(|i| node_name(i) == name))
}

/// The simulation, for an exec into `container_id`, if it is simulated.
pub fn for_container(container_id: &str) -> Option<&'static Sim> {
    get().filter(|_| container_id.starts_with(ID_PREFIX))
}

/// The replay: `cairn-sim-collector` (beside this server's binary) waits the delay and
/// sends the canned stderr and stdout, or uploads the archive through the plan on stdin
/// when `command` (the exec's) asks for an upload; it ends with status 0.
pub fn replay_command(sim: &Sim, command: &[String]) -> tokio::process::Command {
    let exe = std::env::current_exe()
        .map(|e| e.with_file_name("cairn-sim-collector"))
        .unwrap_or_else(|_| "cairn-sim-collector".into());
    let mut c = tokio::process::Command::new(exe);
    c.arg(&sim.session)
        .arg(format!("{:.3}", sim.delay.as_secs_f64()))
        .args(command);
    c
}

/// Simulated execs running, by node.
static RUNNING: std::sync::Mutex<BTreeMap<String, usize>> = std::sync::Mutex::new(BTreeMap::new());

/// A simulated exec while it runs: counted on its node (and logged, `sim exec started
/// node=N running=K`, so a test can check how many a client ran at once on one node).
pub struct Running(String);

impl Drop for Running {
    fn drop(&mut self) {
        let mut r = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = r.get_mut(&self.0) {
            *n = n.saturating_sub(1);
        }
    }
}

/// Counts an exec into `container_id` on its node, if it is simulated.
pub fn started(container_id: &str) -> Option<Running> {
    let sim = for_container(container_id)?;
    let node = match container_id[ID_PREFIX.len()..].parse::<usize>() {
        Ok(index) => node_name(index % sim.nodes.max(1)),
        // A pod created on a simulated node (a node route's collector pod).
        Err(_) => created()
            .values()
            .find(|p| p.containers.iter().any(|c| c.id == container_id))?
            .node
            .clone(),
    };
    let mut r = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    let n = r.entry(node.clone()).or_default();
    *n += 1;
    tracing::info!(node = %node, running = *n, "sim exec started");
    Some(Running(node))
}
