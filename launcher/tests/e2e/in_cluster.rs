//! The sweep run inside the cluster: deploy/sweep-job.yaml's pod, as written there
//! (its service account, security context, Secret-borne store credentials, read-only
//! root and /tmp volume, its args), run by the test API server as a kubelet runs an
//! in-cluster pod (the service account's token, CA and namespace mounted,
//! KUBERNETES_SERVICE_* set). Only the images, the selector (this test's pods) and the
//! store's endpoint (a Secret) are this test bed's. The launcher in the pod finds the
//! targets in every namespace, sweeps them from one node pod into s3s-fs and writes the
//! case record there; the test then checks every object and the record from outside.
//!
//! The launcher image is the one scripts/build-image.sh --launcher builds from a static
//! cairn when CAIRN_STATIC_LAUNCHER names one (scripts/build-launcher.sh; a 9-minute
//! build CI does not pay), and otherwise this test build's cairn on the test bed's Debian
//! image, run as the same non-root user.

use super::*;
use crate::routes::Images;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The manifest's documents, as JSON.
fn manifest() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/sweep-job.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| {
            let y = <serde_yaml_ng::Value as serde::Deserialize>::deserialize(d).unwrap();
            serde_json::to_value(y).unwrap()
        })
        .collect()
}

/// An image removed when the test ends, whatever its outcome.
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

/// The image the Job runs, tagged `tag`; `collector` goes next to a test build's cairn,
/// where cairn looks when none is built into it.
fn launcher_image(tag: &str, collector: &Path) -> Image {
    if let Ok(bin) = std::env::var("CAIRN_STATIC_LAUNCHER") {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-image.sh");
        let o = Command::new("bash")
            .arg(script)
            .args(["--launcher", &bin, "--tag", tag])
            .output()
            .unwrap();
        cairn_testkit::env::succeeded(&o);
        return Image(tag.to_owned());
    }
    let base = docker::debian_image().expect("the Debian test image");
    let t = tempfile::tempdir().unwrap();
    std::fs::copy(CAIRN, t.path().join("cairn")).unwrap();
    std::fs::copy(collector, t.path().join("cairn-collector-x86_64")).unwrap();
    std::fs::write(
        t.path().join("Dockerfile"),
        format!("FROM {base}\nCOPY cairn cairn-collector-x86_64 /\nUSER 65532:65532\nENTRYPOINT [\"/cairn\"]\n"),
    )
    .unwrap();
    let o = Command::new("docker")
        .args(["build", "-q", "-t", tag])
        .arg(t.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&o);
    Image(tag.to_owned())
}

/// The Job's pod, with this test bed's images and selector.
fn job_pod(docs: &[Value], image: &str, collector: &str, selector: &str) -> Value {
    let job = docs.iter().find(|d| d["kind"] == "Job").expect("a Job");
    let ns = job["metadata"]["namespace"].as_str().unwrap();
    let mut spec = job["spec"]["template"]["spec"].clone();
    let c = &mut spec["containers"][0];
    c["image"] = image.into();
    let args: Vec<Value> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_str().unwrap();
            if a.starts_with("--selector=") {
                format!("--selector={selector}").into()
            } else if a.starts_with("--collector-image=") {
                format!("--collector-image={collector}").into()
            } else {
                a.into()
            }
        })
        .collect();
    c["args"] = args.into();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "cairn-sweep-run", "namespace": ns,
                     "labels": job["spec"]["template"]["metadata"]["labels"]},
        "spec": spec,
    })
}

/// What the manifest promises about the account the Job runs as.
fn check_account(docs: &[Value], pod: &Value) {
    let ns = &pod["metadata"]["namespace"];
    let sa = &pod["spec"]["serviceAccountName"];
    let account = docs
        .iter()
        .find(|d| d["kind"] == "ServiceAccount" && &d["metadata"]["name"] == sa)
        .expect("the Job's service account");
    assert_eq!(&account["metadata"]["namespace"], ns);
    assert_eq!(account["automountServiceAccountToken"], false);
    assert_eq!(pod["spec"]["automountServiceAccountToken"], true);
    let bound: Vec<&str> = docs
        .iter()
        .filter(|d| {
            d["subjects"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| &s["name"] == sa && &s["namespace"] == ns))
        })
        .map(|d| d["roleRef"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        bound,
        ["cairn-read", "cairn-nodes", "cairn-node"],
        "{bound:?}"
    );
    let sc = &pod["spec"]["containers"][0]["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
}

/// Waits for pod `name`'s container to exit; its exit code and log.
fn wait_for(ns: &str, name: &str) -> (i64, String) {
    let filter = [
        "--filter".to_owned(),
        format!("label=io.kubernetes.pod.namespace={ns}"),
        "--filter".to_owned(),
        format!("label=io.kubernetes.pod.name={name}"),
    ];
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let mut args = vec!["ps".to_owned(), "-aq".to_owned()];
        args.extend(filter.iter().cloned());
        let id = docker::docker(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let id = text(&id.stdout).trim().to_owned();
        assert!(!id.is_empty(), "the Job's pod has no container");
        let state = docker::docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            &id,
        ]);
        let state = text(&state.stdout);
        if let Some(code) = state.trim().strip_prefix("exited ") {
            let log = docker::docker(&["logs", &id]);
            let log = format!("{}{}", text(&log.stdout), text(&log.stderr));
            return (code.parse().unwrap(), log);
        }
        assert!(
            Instant::now() < deadline,
            "the Job's pod still runs: {state}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn the_sweep_job_runs_in_the_cluster_with_its_service_account_into_the_store() {
    use crate::uploads::{open_uploads, sha256_hex};
    let Some(bin) = docker::setup() else { return };
    let Some(s3) = common::stores::Server::s3() else {
        return;
    };
    let pid = std::process::id();
    let img = Images::build(&bin, "job");
    let ns = img.ns.clone();
    let selector = format!("app=web-job-{pid}");
    let _pods: Vec<Container> = (0..3)
        .map(|i| {
            let label = format!("app=web-job-{pid}");
            pod(
                &ns,
                &format!("web-{i}"),
                docker::busybox_image(),
                &["--network", "none", "--label", &label],
            )
        })
        .collect();
    let docs = manifest();
    let launcher = launcher_image(&format!("cairn:e2e-job-{pid}"), &bin);
    let pod_json = job_pod(&docs, &launcher.0, &img.collector, &selector);
    check_account(&docs, &pod_json);
    let job_ns = pod_json["metadata"]["namespace"]
        .as_str()
        .unwrap()
        .to_owned();

    // The store's credentials, as the manifest's Secret; the endpoint is the test bed's.
    let gw = docker::bridge_gateway();
    let port = common::relay(s3.port);
    let objects = tempfile::tempdir().unwrap();
    let b64 = |s: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s);
    let mut data = serde_json::Map::new();
    for (k, v) in crate::uploads::s3_env(format!("http://{gw}:{port}")) {
        data.insert(k.to_owned(), b64(&v).into());
    }
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "cairn-store", "namespace": job_ns}, "data": data});
    std::fs::write(objects.path().join("secret.json"), secret.to_string()).unwrap();

    let s = ApiServer::start(&[
        "--listen",
        "0.0.0.0:0",
        "--tls-san",
        &gw,
        "--pod-api-host",
        &gw,
        "--objects",
        objects.path().to_str().unwrap(),
    ]);
    let pod_file = objects.path().join("job-pod.manifest");
    std::fs::write(&pod_file, pod_json.to_string()).unwrap();
    let kubectl = std::env::var("CAIRN_KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let o = Command::new(&kubectl)
        .arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args(["create", "--validate=false", "-f"])
        .arg(&pod_file)
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&o);
    let (code, log) = wait_for(&job_ns, "cairn-sweep-run");
    let _ = Command::new(&kubectl)
        .arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args(["-n", &job_ns, "delete", "pod", "cairn-sweep-run"])
        .output();
    assert_eq!(code, 0, "{log}\n{}", s.log());
    for i in 0..3 {
        assert!(log.contains(&format!("{ns}/web-{i}")), "{log}");
    }

    // Every object the collectors uploaded is whole, and the record lists them all.
    let prefix = s3.dir.path().join("evidence/sweep");
    let names: Vec<String> = std::fs::read_dir(&prefix)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let archives: Vec<&String> = names
        .iter()
        .filter(|n| n.ends_with(".tar.zst") && !n.contains(".k8s."))
        .collect();
    assert_eq!(archives.len(), 3, "{names:?}");
    assert!(open_uploads(&s3).is_empty(), "{:?}", open_uploads(&s3));
    let record = names
        .iter()
        .find(|n| n.starts_with("case-") && n.ends_with(".json"))
        .expect("the case record");
    let record: Value =
        serde_json::from_slice(&std::fs::read(prefix.join(record)).unwrap()).unwrap();
    assert_eq!(record["targets"].as_array().unwrap().len(), 3, "{record}");
    // The launcher acted as the pod's service account, no kubeconfig.
    assert_eq!(
        record["acted_as"]["kubeconfig"], "this pod's service account",
        "{record}"
    );
    // Each object is the archive the record names, by its sha256, and verifies.
    let t = tempfile::tempdir().unwrap();
    for a in &archives {
        let bytes = s3.get(&format!("sweep/{a}"));
        let listed = record["targets"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|t| t["files"].as_array().unwrap())
            .find(|f| {
                f["object"]
                    .as_str()
                    .is_some_and(|o| o.ends_with(a.as_str()))
            })
            .unwrap_or_else(|| panic!("{a} is not in the case record: {record}"));
        assert_eq!(listed["sha256"], sha256_hex(&bytes).as_str(), "{a}");
        let p = t.path().join("a.tar.zst");
        std::fs::write(&p, &bytes).unwrap();
        verify_ok(&p);
    }
    let v = common::env::command(CAIRN)
        .arg("verify-case")
        .arg(&prefix)
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&v);

    // The Job's pod was given the service account, and the node pod none; the node pod
    // is gone.
    let server_log = s.log();
    let created: Vec<&str> = server_log
        .lines()
        .filter(|l| l.contains("pod created: spec "))
        .collect();
    assert_eq!(created.len(), 2, "{server_log}");
    assert!(
        created.iter().any(|l| l.contains("namespace=cairn-system")
            && l.contains("\"automountServiceAccountToken\":false")),
        "{server_log}"
    );
    let node_pod = created
        .iter()
        .find(|l| l.contains("namespace=cairn-system"))
        .and_then(|l| l.rsplit(" pod=").next())
        .and_then(|r| r.split_whitespace().next())
        .unwrap();
    let left = docker::docker(&[
        "ps",
        "-aq",
        "--filter",
        "label=io.kubernetes.pod.namespace=cairn-system",
        "--filter",
        &format!("label=io.kubernetes.pod.name={node_pod}"),
    ]);
    assert_eq!(
        text(&left.stdout).trim(),
        "",
        "node pod {node_pod} was left behind"
    );
}
