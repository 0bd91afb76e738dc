//! Getting the collector into a pod: the right static binary for each node's
//! architecture (an x86_64 and an arm64 pod in one run, the arm64 one through qemu
//! binfmt), a binary that cannot run refused before any exec, and nothing written to the
//! container's disk where memory allows execution (the writable layer compared byte for
//! byte before and after).

use super::*;

/// `cairn` with `args`, the collectors given by `--collector-bin`, not the environment.
fn cairn_with(s: &ApiServer, args: &[&str]) -> Output {
    common::env::command(CAIRN)
        .arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args(args)
        .output()
        .unwrap()
}

/// Every file of the container's writable (upper) layer: path, type, mode, size,
/// mtime, and the sha256 of regular files.
fn upper_layer(ct: &str) -> Vec<String> {
    let upper = docker::ok(&["inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", ct]);
    let upper = upper.trim();
    let listing = Command::new("sh")
        .arg("-c")
        .arg("cd \"$1\" && find . -printf '%p %y %m %s %T@\\n' | sort && find . -type f -exec sha256sum {} + | sort -k2")
        .args(["-", upper])
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&listing);
    text(&listing.stdout).lines().map(str::to_owned).collect()
}

/// The collector image (`scripts/build-image.sh`), removed on drop.
struct CollectorImage(String);

impl CollectorImage {
    fn build(bin: &Path) -> CollectorImage {
        let tag = format!("cairn-collector:e2e-delivery-{}", std::process::id());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-image.sh");
        let o = Command::new("bash")
            .arg(&script)
            .args(["--bin", bin.to_str().unwrap(), "--tag", &tag])
            .output()
            .unwrap();
        cairn_testkit::env::succeeded(&o);
        CollectorImage(tag)
    }
}

impl Drop for CollectorImage {
    fn drop(&mut self) {
        let _ = docker::docker(&["rmi", "-f", &self.0]);
    }
}

#[test]
fn a_dynamically_linked_collector_is_refused_before_any_exec_with_a_true_message() {
    let Some(_) = docker::setup() else { return };
    let ns = format!("glibc-{}", std::process::id());
    let _p = pod(&ns, "web", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    // What `cargo build` puts beside cairn: built for this machine's glibc.
    let glibc = PathBuf::from(env!("CARGO_BIN_EXE_cairn"));
    let out = s.dir.path().join("out");
    let o = cairn_with(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "web",
            "--collector-bin",
            glibc.to_str().unwrap(),
            "--output-dir",
            out.to_str().unwrap(),
        ],
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is dynamically linked") && err.contains("scripts/build-collectors.sh"),
        "{err}"
    );
    assert!(
        !err.contains("noexec") && !err.contains("ephemeral"),
        "{err}"
    );
    assert!(s.what_pods_saw().is_empty(), "an exec was made");
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().count() == 0);
}

#[test]
fn an_x86_64_and_an_arm64_pod_are_collected_in_one_run_each_with_its_own_collector() {
    let Some(x86) = docker::setup() else { return };
    let Some(arm_img) = docker::busybox_image_arm64() else {
        return;
    };
    let arm = std::env::var_os("CAIRN_MUSL_BIN_AARCH64")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/aarch64-unknown-linux-musl/release/cairn-collector")
        });
    if !arm.is_file() {
        docker::require(
            "CAIRN_MUSL_BIN_AARCH64 (the static aarch64 collector: scripts/build-collectors.sh)",
        );
        return;
    }
    let ns = format!("arch-{}", std::process::id());
    let a = pod(
        &ns,
        "intel",
        docker::busybox_image(),
        &["--label", "app=mixed"],
    );
    let b = pod(
        &ns,
        "graviton",
        arm_img,
        &["--label", "app=mixed", "--platform", "linux/arm64"],
    );
    let s = ApiServer::start(&[]);
    let out = s.dir.path().join("out");
    let o = cairn_with(
        &s,
        &[
            "-n",
            &ns,
            "-l",
            "app=mixed",
            "collect",
            "--collector-bin",
            x86.to_str().unwrap(),
            "--collector-bin",
            arm.to_str().unwrap(),
            "--output-dir",
            out.to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let names = archives(&out);
    assert_eq!(names.len(), 2, "{names:?}");
    for n in &names {
        let a = cairn_testkit::archive::Archive::read(&out.join(n));
        let machine = a.summary()["identity"]["machine"]
            .as_str()
            .unwrap()
            .to_owned();
        let want = if n.contains("_graviton_") {
            "aarch64"
        } else {
            "x86_64"
        };
        assert_eq!(machine, want, "{n}");
        // A live response from inside the pod, by the collector of its architecture:
        // the pod's `sleep 3600` is among the processes it saw.
        let procs = a.text("live_response/processes/processes.jsonl");
        assert!(
            procs.lines().any(|l| l.contains("\"comm\":\"sleep\"")),
            "{n}: no sleep process in the live response"
        );
        // And the archive verifies, manifest against content, with the collector's own
        // `verify` (the x86_64 one runs here).
        cairn_testkit::verify_ok(&x86, &out.join(n));
        // cairn's own processes are marked, and the bootstrap's script is not repeated
        // in the tree (processes.jsonl keeps its exact command line).
        let tree = a.text("live_response/processes/tree.txt");
        assert!(
            tree.lines()
                .any(|l| l.contains("cairn-collector") && l.ends_with(" (cairn)")),
            "{n}: {tree}"
        );
        assert!(
            tree.contains("sh -c <the bootstrap script> cairn-bootstrap stdin ")
                && !tree.contains("me=cairn-bootstrap"),
            "{n}: {tree}"
        );
        assert!(procs.contains("me=cairn-bootstrap"), "{n}");
    }
    // Each node got its own collector: the arm64 one never received the x86_64 binary.
    let saw = text(&s.what_pods_saw());
    assert!(
        saw.contains("\narch\naarch64\n"),
        "no arch given to the bootstrap"
    );
    assert!(
        saw.contains("\narch\nx86_64\n"),
        "no arch given to the bootstrap"
    );
    for p in [&a, &b] {
        assert_eq!(docker::leftovers(&p.0), "");
    }
}

#[test]
fn a_root_pod_keeps_its_writable_layer_and_a_non_root_pods_report_says_what_was_written() {
    let Some(bin) = docker::setup() else { return };
    let ns = format!("disk-{}", std::process::id());
    let root = pod(&ns, "root", docker::busybox_image(), &[]);
    let app = pod(
        &ns,
        "app",
        docker::busybox_image(),
        &["--user", "1000:1000"],
    );
    // Settle the layers (the runtime's own first writes) before looking.
    docker::ok(&["exec", &root.0, "true"]);
    docker::ok(&["exec", &app.0, "true"]);
    let before = upper_layer(&root.0);
    let s = ApiServer::start(&[]);
    let out = s.dir.path().join("out");
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "root",
            "app",
            "--output-dir",
            out.to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    // As root the collector ran from /dev (memory): not one byte reached the layer.
    assert_eq!(upper_layer(&root.0), before);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let by = |pod: &str| {
        report
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["target"].as_str().unwrap().contains(&format!("/{pod}/")))
            .unwrap()
            .clone()
    };
    let r = by("root");
    assert_eq!(r["target_writes"]["memory"], true, "{r}");
    assert!(
        r["target_writes"]["path"]
            .as_str()
            .unwrap()
            .starts_with("/dev/.cairn."),
        "{r}"
    );
    // uid 1000 cannot write /dev, and /dev/shm is noexec: the binary went to /tmp, on the
    // container's disk, and the report says how many bytes and where.
    let r = by("app");
    let w = &r["target_writes"];
    assert_eq!(w["memory"], false, "{r}");
    assert_eq!(w["filesystem"], "overlay", "{r}");
    assert!(
        w["path"].as_str().unwrap().starts_with("/tmp/.cairn."),
        "{r}"
    );
    assert_eq!(
        w["bytes"].as_u64(),
        Some(
            std::fs::metadata(std::env::var("CAIRN_MUSL_BIN").unwrap())
                .unwrap()
                .len()
        )
    );
    let a = cairn_testkit::archive::Archive::read(
        &out.join(
            archives(&out)
                .into_iter()
                .find(|n| n.contains("_app_"))
                .unwrap(),
        ),
    );
    let writes = a.summary()["collector"]["writes"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(writes.contains("the container's disk"), "{writes}");
    // In the table too.
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "app",
            "--output-dir",
            out.to_str().unwrap(),
        ],
    );
    assert!(
        text(&o.stdout).contains("to the target") && text(&o.stdout).contains("overlay"),
        "{}",
        text(&o.stdout)
    );
    // --no-disk-writes: the non-root pod has no memory to run from, so it is collected
    // through an ephemeral container instead, which writes nothing into it.
    let image = CollectorImage::build(&bin);
    let before = upper_layer(&app.0);
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "app",
            "--no-disk-writes",
            "--collector-image",
            &image.0,
            "--output-dir",
            out.to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    let r = &serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0];
    assert_eq!(r["method"], "ephemeral", "{r}\n{}", text(&o.stderr));
    assert_eq!(r["status"], "ok", "{r}");
    // The collector ran from its own image: nothing is said written to the target.
    assert_eq!(r["target_writes"], serde_json::Value::Null, "{r}");
    assert_eq!(upper_layer(&app.0), before);
    for p in [&root, &app] {
        assert_eq!(docker::leftovers(&p.0), "");
    }
}
