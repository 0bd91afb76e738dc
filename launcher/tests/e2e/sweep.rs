//! A sweep with the node route: every selected container on a node collected from one
//! collector pod on that node (one exec each, several at once), each target's outcome
//! its own (one collector killed half way fails that target only, one cut by
//! `--timeout` is kept as cut short), and the pod deleted at the end; and against it,
//! `--pod-per-target`, a pod for each.

use super::*;
use crate::routes::Images;
use std::time::{Duration, Instant};

/// The pods the test API server created in the collector namespace.
fn collector_pods(s: &ApiServer) -> Vec<serde_json::Value> {
    s.log()
        .lines()
        .filter(|l| l.contains("namespace=cairn-system") && l.contains("pod created: spec "))
        .map(|l| {
            let after = l.split("pod created: spec ").nth(1).unwrap();
            serde_json::Deserializer::from_str(after)
                .into_iter::<serde_json::Value>()
                .next()
                .unwrap()
                .unwrap()
        })
        .collect()
}

/// Kills, from the host, the collector that collects container `id` as soon as it
/// runs (it is then half way through the large file its container holds).
fn kill_when_running(id: String) -> std::thread::JoinHandle<bool> {
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let o = Command::new("pkill")
                .args(["-KILL", "-f", &format!("container {id}")])
                .output()
                .unwrap();
            if o.status.success() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    })
}

#[test]
fn a_sweep_collects_every_container_of_a_node_from_one_pod_each_outcome_its_own() {
    let Some(bin) = docker::setup() else { return };
    let img = Images::build(&bin, "sweep");
    let ns = img.ns.clone();
    let mut ids = Vec::new();
    for i in 0..5 {
        let c = pod(
            &ns,
            &format!("sweep-{i}"),
            docker::busybox_image(),
            &["--network", "none", "--label", "app=sweep"],
        );
        docker::ok(&[
            "exec",
            &c.0,
            "sh",
            "-c",
            &format!("echo implant-{i} > /tmp/dropped.sh"),
        ]);
        ids.push(c);
    }
    // Two targets hold many large files (sparse: no disk, but each read in full, a
    // minute in all): one is killed half way, the other cut by --timeout.
    for big in [&ids[3], &ids[4]] {
        docker::ok(&[
            "exec",
            &big.0,
            "sh",
            "-c",
            "mkdir /tmp/big; for i in $(seq 100); do dd if=/dev/zero of=/tmp/big/f$i bs=1 count=0 seek=1G 2>/dev/null; done",
        ]);
    }
    let s = ApiServer::start(&[]);
    let out = s.dir.path().join("out");
    let killer = kill_when_running(ids[3].0.clone());
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "-l",
            "app=sweep",
            "--via",
            "node",
            "--concurrency",
            "8",
            "--per-node",
            "3",
            "--timeout",
            "20s",
            "--collector-image",
            &img.collector,
            "--output-dir",
            out.to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    let err = text(&o.stderr);
    assert!(
        killer.join().unwrap(),
        "the collector of sweep-3 was never seen running\n{}\n{err}",
        text(&o.stdout)
    );
    assert_eq!(o.status.code(), Some(1), "{}\n{err}", text(&o.stdout));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let by_pod = |p: &str| {
        report
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["target"].as_str().unwrap().contains(&format!("/{p}/")))
            .unwrap_or_else(|| panic!("no outcome for {p}: {report}"))
            .clone()
    };
    for (i, c) in ids.iter().enumerate().take(3) {
        let r = by_pod(&format!("sweep-{i}"));
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["method"], "node", "{r}");
        let a = cairn_testkit::archive::Archive::read(Path::new(r["archive"].as_str().unwrap()));
        assert!(
            a.text("collection.log").contains(&c.0),
            "archive of sweep-{i} names another container"
        );
    }
    let killed = by_pod("sweep-3");
    assert_eq!(killed["status"], "failed", "{killed}");
    let cut = by_pod("sweep-4");
    let log = match cut["archive"].as_str() {
        Some(p) => cairn_testkit::archive::Archive::read(Path::new(p)).text("collection.log"),
        None => String::new(),
    };
    assert_eq!(cut["status"], "cut-short", "{cut}\n{log}");
    assert_eq!(report.as_array().unwrap().len(), 5);
    // One pod on the node served all five, its limits sized for three at once, and it
    // is gone.
    let pods = collector_pods(&s);
    assert_eq!(pods.len(), 1, "{pods:?}");
    let limits = &pods[0]["containers"][0]["resources"]["limits"];
    assert_eq!(limits["cpu"], "3", "{limits}");
    assert_eq!(limits["memory"], "1536Mi", "{limits}");
    let left = docker::ok(&[
        "ps",
        "-aq",
        "--filter",
        "label=app.kubernetes.io/name=cairn-node-collector",
    ]);
    assert_eq!(left, "", "the collector pod was left behind");
}

/// A sweep straight into a store: each collector in the one node pod uploads its own
/// archive with its own per-object plan, the launcher checks each object, and the case
/// record beside them lists every target and checks with `cairn verify-case`.
#[test]
fn a_sweep_into_s3_uploads_each_archive_from_the_one_node_pod() {
    use crate::uploads::{open_uploads, s3_env, sha256_hex};
    let Some(bin) = docker::setup() else { return };
    let Some(s3) = common::stores::Server::s3() else {
        return;
    };
    let img = Images::build(&bin, "sweep-s3");
    let ns = img.ns.clone();
    let _pods: Vec<Container> = (0..3)
        .map(|i| {
            pod(
                &ns,
                &format!("web-{i}"),
                docker::busybox_image(),
                &["--network", "none", "--label", "app=web"],
            )
        })
        .collect();
    let s = ApiServer::start(&[]);
    let gw = docker::bridge_gateway();
    let port = common::relay(s3.port);
    let mut c = common::env::command(CAIRN);
    c.arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args(["-n", &ns, "collect", "-l", "app=web", "--via", "node"])
        .args(["--collector-image", &img.collector, "--per-node", "3"])
        .args(["--s3", "s3://evidence/sweep", "-o", "json"])
        .env("CAIRN_COLLECTOR_BIN", &bin);
    for (k, v) in s3_env(format!("http://{gw}:{port}")) {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{out}\n{err}");
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report.as_array().unwrap().len(), 3, "{report}");
    let t = tempfile::tempdir().unwrap();
    for r in report.as_array().unwrap() {
        assert_eq!(
            (&r["status"], &r["method"]),
            (&"ok".into(), &"node".into()),
            "{r}"
        );
        let key = r["archive"]
            .as_str()
            .unwrap()
            .strip_prefix("s3://evidence/")
            .unwrap();
        let bytes = s3.get(key);
        assert_eq!(
            Some(sha256_hex(&bytes).as_str()),
            r["sha256"].as_str(),
            "{r}"
        );
        assert_eq!(
            r["verified"]["bytes"].as_u64(),
            Some(bytes.len() as u64),
            "{r}"
        );
        let p = t.path().join("a.tar.zst");
        std::fs::write(&p, &bytes).unwrap();
        verify_ok(&p);
    }
    assert!(open_uploads(&s3).is_empty(), "{:?}", open_uploads(&s3));
    assert_eq!(collector_pods(&s).len(), 1);
    // Each pod got a plan for its own object only.
    let saw = text(&s.what_pods_saw());
    assert_eq!(
        saw.matches("{\"kind\":\"s3-multipart\"").count(),
        3,
        "{saw}"
    );
    // The case record lists the three, and the prefix checks.
    let prefix = s3.dir.path().join("evidence/sweep");
    let record = std::fs::read_dir(&prefix)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with("case-") && n.ends_with(".json")
        })
        .expect("the case record");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(record).unwrap()).unwrap();
    assert_eq!(record["targets"].as_array().unwrap().len(), 3, "{record}");
    let v = common::env::command(CAIRN)
        .arg("verify-case")
        .arg(&prefix)
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&v);
}
