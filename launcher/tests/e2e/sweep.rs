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

/// How many collector pods this test's API server deleted, each with its container
/// (other tests' collector pods may run beside this one's).
fn deleted_collector_pods(s: &ApiServer) -> usize {
    s.log()
        .lines()
        .filter(|l| l.contains("pod deleted") && l.contains("namespace=cairn-system"))
        .filter(|l| l.ends_with("containers=1"))
        .count()
}

/// The sweeps that time their targets: one at a time, so that neither's CPU (the
/// other's collectors, qemu's for arm64) eats the reserve the other's `--timeout` keeps
/// for sealing an archive.
static TIMED: std::sync::Mutex<()> = std::sync::Mutex::new(());

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
    let _one = TIMED.lock().unwrap_or_else(|p| p.into_inner());
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
    assert_eq!(deleted_collector_pods(&s), 1, "{}", s.log());
    let left = crate::routes::collector_pods_left(&s);
    assert!(left.is_empty(), "collector pods left behind: {left:?}");
}

/// A sweep of two nodes, this machine (x86_64) and its arm64 twin (through qemu),
/// straight into a store: one collector pod per node, each of the node's architecture,
/// each collector uploading its own archive with its own per-object plan. One x86_64
/// target is killed half way and one arm64 target cut by `--timeout`: each says so
/// alone; every object is checked against the collector's sha256 and verifies, and the
/// case record beside them lists every target and checks with `cairn verify-case`.
#[test]
fn a_sweep_of_two_nodes_into_s3_keeps_each_targets_outcome_its_own() {
    use crate::uploads::{open_uploads, s3_env, sha256_hex};
    let _one = TIMED.lock().unwrap_or_else(|p| p.into_inner());
    let Some(bin) = docker::setup() else { return };
    let Some(s3) = common::stores::Server::s3() else {
        return;
    };
    let Some(arm_img) = docker::busybox_image_arm64() else {
        return;
    };
    let Some(arm) = std::env::var_os("CAIRN_MUSL_BIN_AARCH64").map(PathBuf::from) else {
        docker::require("CAIRN_MUSL_BIN_AARCH64 (the static aarch64 collector)");
        return;
    };
    let img = Images::build(&bin, "sweep-s3").with_arm64(&bin, &arm);
    let ns = img.ns.clone();
    let targets = [
        ("web-0", docker::busybox_image(), "linux/amd64"),
        ("web-1", docker::busybox_image(), "linux/amd64"),
        ("web-2", arm_img, "linux/arm64"),
        ("web-3", arm_img, "linux/arm64"),
    ];
    let pods: Vec<Container> = targets
        .iter()
        .map(|(name, image, platform)| {
            let extra = [
                "--network",
                "none",
                "--label",
                "app=web",
                "--platform",
                platform,
            ];
            pod(&ns, name, image, &extra)
        })
        .collect();
    // web-1 is killed half way through its large files; web-3, read through qemu, is
    // cut by --timeout. After the deadline, zeros fill the rest of the file being read
    // (its size is in its tar header already): under qemu, hashing the rest of a 1 GiB
    // file takes longer than the launcher's reserve, so web-3's files are 64 MiB.
    for (big, size, count) in [(&pods[1], "1G", 100), (&pods[3], "64M", 400)] {
        docker::ok(&[
            "exec",
            &big.0,
            "sh",
            "-c",
            &format!("mkdir /tmp/big; for i in $(seq {count}); do dd if=/dev/zero of=/tmp/big/f$i bs=1 count=0 seek={size} 2>/dev/null; done"),
        ]);
    }
    let s = ApiServer::start(&[]);
    let gw = docker::bridge_gateway();
    let port = common::relay(s3.port);
    let killer = kill_when_running(pods[1].0.clone());
    let mut c = common::env::command(CAIRN);
    c.arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args(["-n", &ns, "collect", "-l", "app=web", "--via", "node"])
        .args(["--collector-image", &img.collector, "--per-node", "2"])
        .args([
            "--timeout",
            "25s",
            "--s3",
            "s3://evidence/sweep",
            "-o",
            "json",
        ])
        .arg("--collector-bin")
        .arg(&bin)
        .arg("--collector-bin")
        .arg(&arm);
    for (k, v) in s3_env(format!("http://{gw}:{port}")) {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(
        killer.join().unwrap(),
        "web-1's collector never ran\n{out}\n{err}"
    );
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report.as_array().unwrap().len(), 4, "{report}");
    let by_pod = |p: &str| {
        report
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["target"].as_str().unwrap().contains(&format!("/{p}/")))
            .unwrap_or_else(|| panic!("no outcome for {p}: {report}"))
            .clone()
    };
    assert_eq!(by_pod("web-1")["status"], "failed", "{report}");
    let t = tempfile::tempdir().unwrap();
    for (name, want, machine) in [
        ("web-0", "ok", "x86_64"),
        ("web-2", "ok", "aarch64"),
        ("web-3", "cut-short", "aarch64"),
    ] {
        let r = by_pod(name);
        assert_eq!(
            (&r["status"], &r["method"]),
            (&want.into(), &"node".into()),
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
        let p = t.path().join(format!("{name}.tar.zst"));
        std::fs::write(&p, &bytes).unwrap();
        verify_ok(&p);
        // Collected offline by the collector of the node's own architecture.
        let a = cairn_testkit::archive::Archive::read(&p);
        let own = if machine == "aarch64" { &arm } else { &bin };
        let own = sha256_hex(&std::fs::read(own).unwrap());
        assert_eq!(
            a.summary()["collector"]["exe_sha256"],
            own.as_str(),
            "{name}"
        );
    }
    assert!(open_uploads(&s3).is_empty(), "{:?}", open_uploads(&s3));
    // One pod per node, each asked for the one image; each ran its node's variant.
    let created = collector_pods(&s);
    assert_eq!(created.len(), 2, "{created:?}");
    let saw = text(&s.what_pods_saw());
    assert_eq!(
        saw.matches("{\"kind\":\"s3-multipart\"").count(),
        4,
        "{saw}"
    );
    // The case record lists the four, and the prefix checks.
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
    assert_eq!(record["targets"].as_array().unwrap().len(), 4, "{record}");
    let v = common::env::command(CAIRN)
        .arg("verify-case")
        .arg(&prefix)
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&v);
    // Both pods are gone, deleted by the last target of each.
    assert_eq!(deleted_collector_pods(&s), 2, "{}", s.log());
    let left = crate::routes::collector_pods_left(&s);
    assert!(left.is_empty(), "collector pods left behind: {left:?}");
}
