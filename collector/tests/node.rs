//! Offline collection from a node's disk, on the test bed's real Docker engine and real
//! containerd (`ctr -n k8s.io`, labelled as the kubelet labels containers): files are
//! planted, modified and deleted in running containers; then `containers --node-root /`
//! must list them with their pod identity, the merged view rebuilt from the layers must
//! equal what the live container shows through /proc/PID/root (same paths, kinds,
//! sizes, hashes), and `drift` must list exactly the changes. Also a stopped container,
//! and a node root whose meta.db is corrupt.
//!
//! Runs as root (the runtimes' directories are root-only). Needs Docker and containerd
//! (tests/run-all.sh starts both); under CI=true their absence fails.

mod common;
use common::docker::{self, Container};
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// What the view comparison collects: every file under these directories.
const VIEW_DIRS: &[&str] = &["/bin", "/etc", "/root", "/tmp", "/opt", "/var", "/home"];
/// Bind-mounted by the runtime over the image's files: they differ by design.
const RUNTIME_MOUNTS: &[&str] = &["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"];

const CHANGES: &str = "echo implant > /tmp/dropped.sh; \
    echo 'evil:x:0:0::/:/bin/sh' >> /etc/passwd; \
    rm /etc/group /bin/ls; \
    chmod 700 /var/log/image.log; \
    mkdir -p /opt/x; echo hi > /opt/x/y";

fn view_spec(dir: &Path) -> String {
    let mut y = String::from("artifacts:\n");
    for d in VIEW_DIRS {
        y.push_str(&format!(
            "  - description: {d}\n    collector: file\n    path: {d}\n"
        ));
    }
    let f = dir.join("view.yaml");
    std::fs::write(&f, y).unwrap();
    f.to_str().unwrap().to_owned()
}

/// (path → (type, size, sha256)) of the collected files, runtime mounts left out.
fn view(archive: &Path) -> BTreeMap<String, (String, u64, String)> {
    Archive::read(archive)
        .manifest()
        .into_iter()
        .filter(|r| {
            r["artifact"]
                .as_str()
                .is_some_and(|a| a.starts_with("view"))
        })
        .filter_map(|r| {
            let src = r["source"].as_str()?.to_owned();
            if RUNTIME_MOUNTS.contains(&src.as_str()) {
                return None;
            }
            Some((
                src,
                (
                    r["type"].as_str().unwrap_or_default().to_owned(),
                    r["size"].as_u64().unwrap_or(0),
                    r["sha256"].as_str().unwrap_or_default().to_owned(),
                ),
            ))
        })
        .collect()
}

fn drift(archive: &Path) -> Vec<(String, String)> {
    let a = Archive::read(archive);
    let mut v: Vec<(String, String)> = a
        .text("live_response/drift/drift.jsonl")
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["change"].as_str().unwrap().to_owned(),
                v["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

fn containers(node_root: &str) -> (Vec<Value>, String) {
    let o = run(&["containers", "--node-root", node_root, "-o", "json"]);
    cairn_testkit::env::succeeded(&o);
    (
        serde_json::from_slice(&o.stdout).unwrap(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Collects the container offline (view + drift) and its live view, and compares.
fn offline_equals_live(id: &str, pid: &str, dir: &Path) -> std::path::PathBuf {
    let spec = view_spec(dir);
    let offline = dir.join("offline.tar.zst");
    let o = run(&[
        "collect",
        "--node-root",
        "/",
        "--container",
        id,
        "--artifacts",
        &format!("{spec},live/drift"),
        "--output",
        offline.to_str().unwrap(),
        "--progress",
        "none",
    ]);
    cairn_testkit::env::succeeded(&o);
    verify_ok(&offline);
    let live = dir.join("live.tar.zst");
    collect(
        Path::new(&format!("/proc/{pid}/root")),
        &live,
        &["--artifacts", &spec],
    );
    let (off, on) = (view(&offline), view(&live));
    assert!(on.len() > 50, "the live view is too small: {on:?}");
    assert!(on.contains_key("/tmp/dropped.sh") && !on.contains_key("/etc/group"));
    let only_off: Vec<_> = off.iter().filter(|(k, v)| on.get(*k) != Some(v)).collect();
    let only_on: Vec<_> = on.iter().filter(|(k, v)| off.get(*k) != Some(v)).collect();
    assert!(
        only_off.is_empty() && only_on.is_empty(),
        "offline and live views differ:\noffline only {only_off:?}\nlive only {only_on:?}"
    );
    offline
}

fn inspect(id: &str, what: &str) -> String {
    docker::ok(&["inspect", "-f", what, id])
}

#[test]
fn docker_containers_offline_equal_live_and_drift_lists_the_changes() {
    let Some(_) = docker::setup() else { return };
    let ns = format!("node-{}", std::process::id());
    let id = docker::ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--label",
        &format!("io.kubernetes.pod.namespace={ns}"),
        "--label",
        "io.kubernetes.pod.name=web",
        "--label",
        "io.kubernetes.container.name=app",
        docker::busybox_image(),
        "sleep",
        "3600",
    ]);
    let _c = Container(id.clone());
    docker::ok(&["exec", &id, "sh", "-c", CHANGES]);

    let (all, _) = containers("/");
    let me = all
        .iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not listed: {all:?}"));
    assert_eq!(me["runtime"], "docker");
    assert_eq!(me["state"], "running");
    assert_eq!(me["pod_namespace"], ns.as_str());
    assert_eq!(me["pod_name"], "web");
    assert_eq!(me["container_name"], "app");
    assert_eq!(me["image"], docker::busybox_image());
    // The writable layer, the init layer, the image's layer.
    assert_eq!(me["layers"].as_array().unwrap().len(), 3, "{me}");

    let dir = tempfile::tempdir().unwrap();
    let pid = inspect(&id, "{{.State.Pid}}");
    let offline = offline_equals_live(&id[..12], &pid, dir.path());
    assert_eq!(
        drift(&offline),
        pairs(&[
            ("added", "/opt"),
            ("added", "/opt/x"),
            ("added", "/opt/x/y"),
            ("added", "/tmp/dropped.sh"),
            ("deleted", "/bin/ls"),
            ("deleted", "/etc/group"),
            ("metadata", "/var/log/image.log"),
            ("modified", "/etc/passwd"),
        ])
    );
    let a = Archive::read(&offline);
    assert_eq!(
        a.text("live_response/drift/files/tmp/dropped.sh"),
        "implant\n"
    );
    // The deleted file's hash is the image's copy.
    let group_sha = a
        .text("live_response/drift/drift.jsonl")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["path"] == "/etc/group")
        .unwrap()["lower_sha256"]
        .clone();
    assert_eq!(
        group_sha,
        "db8630128500202bf2d53699c97275ac7f10d05ffc21f1bba6bd99e88059af74"
    );
    let s = a.summary();
    assert_eq!(
        s["options"]["invocation"]["container"]["id"],
        id.as_str(),
        "{s}"
    );

    // Stopped: still listed as such, still collected offline.
    docker::ok(&["stop", "-t", "0", &id]);
    let (all, _) = containers("/");
    let me = all.iter().find(|c| c["id"] == id.as_str()).unwrap();
    assert_eq!(me["state"], "exited");
    let out = dir.path().join("stopped.tar.zst");
    let o = run(&[
        "collect",
        "--node-root",
        "/",
        "--container",
        &id,
        "--artifacts",
        "live/drift",
        "--output",
        out.to_str().unwrap(),
        "--progress",
        "none",
    ]);
    cairn_testkit::env::succeeded(&o);
    assert!(drift(&out).contains(&("added".into(), "/tmp/dropped.sh".into())));
}

struct Ctr(String);
impl Drop for Ctr {
    fn drop(&mut self) {
        let _ = ctr(&["tasks", "kill", "-s", "KILL", &self.0]);
        std::thread::sleep(std::time::Duration::from_millis(300));
        let _ = ctr(&["tasks", "rm", "-f", &self.0]);
        let _ = ctr(&["containers", "rm", &self.0]);
    }
}

/// What the kubelet keeps of a container's output on the node
/// (`/var/log/pods/NS_POD_UID/CONTAINER/`, rotated files included) is collected with
/// it, under `node/`: a file the container plants at the same path neither hides nor
/// replaces it, a symlink there stays a link, and a container without the kubelet's
/// labels gets none.
#[test]
fn the_kubelets_logs_of_a_node_container_are_kept_under_node() {
    let Some(_) = docker::setup() else { return };
    let ns = format!("klog-{}", std::process::id());
    let uid = "6f1c2a9e-0d4b-4b7e-9f1a-2c3d4e5f6a7b";
    let id = docker::ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--label",
        &format!("io.kubernetes.pod.namespace={ns}"),
        "--label",
        "io.kubernetes.pod.name=web",
        "--label",
        &format!("io.kubernetes.pod.uid={uid}"),
        "--label",
        "io.kubernetes.container.name=app",
        docker::busybox_image(),
        "sleep",
        "3600",
    ]);
    let _c = Container(id.clone());
    let in_pod = format!("/var/log/pods/{ns}_web_{uid}/app");
    // The container's own file at the node's path: an attacker's decoy.
    docker::ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        &format!("mkdir -p {in_pod} && echo decoy > {in_pod}/0.log"),
    ]);
    // A node root: the real Docker state, and the kubelet's directory for the pod.
    let t = tempfile::tempdir().unwrap();
    let node = t.path();
    std::fs::create_dir_all(node.join("var/lib")).unwrap();
    std::os::unix::fs::symlink("/var/lib/docker", node.join("var/lib/docker")).unwrap();
    let kept = node.join(in_pod.trim_start_matches('/'));
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::write(
        kept.join("0.log"),
        "2026-11-30T10:00:00.000000001Z stdout F attacker ran curl | sh\n",
    )
    .unwrap();
    std::fs::write(kept.join("0.log.20261129-101010.gz"), b"\x1f\x8b rotated").unwrap();
    std::os::unix::fs::symlink("/etc/shadow", kept.join("escape")).unwrap();
    let out = t.path().join("out.tar.zst");
    let o = run(&[
        "collect",
        "--node-root",
        node.to_str().unwrap(),
        "--container",
        &id,
        "--artifacts",
        "files/logs/var_log",
        "--output",
        out.to_str().unwrap(),
        "--progress",
        "none",
    ]);
    cairn_testkit::env::succeeded(&o);
    verify_ok(&out);
    let a = Archive::read(&out);
    // Confined before the node's first file was read, and said.
    let log = a.text("collection.log");
    assert!(
        log.contains("sandbox: landlock enforced: reads only beneath")
            && log.contains("seccomp: 34 system calls refused"),
        "{log}"
    );
    let m = a.manifest();
    let by_path = |p: &str| {
        m.iter()
            .find(|r| r["path"] == p)
            .unwrap_or_else(|| panic!("{p} not in {m:#?}"))
            .clone()
    };
    let node_log = by_path(&format!("node{in_pod}/0.log"));
    assert_eq!(node_log["artifact"], "node/kubelet_logs");
    assert_eq!(node_log["source"], format!("{in_pod}/0.log"));
    assert!(a
        .text(&format!("node{in_pod}/0.log"))
        .contains("attacker ran curl | sh"));
    by_path(&format!("node{in_pod}/0.log.20261129-101010.gz"));
    assert_eq!(by_path(&format!("node{in_pod}/escape"))["type"], "symlink");
    // The decoy is the container's file, kept as such.
    assert_eq!(a.text(&format!("files{in_pod}/0.log")), "decoy\n");
    // Without --node-logs-since, none of the node's own logs.
    assert!(m.iter().all(|r| r["artifact"] != "node/system_logs"));

    // --node-logs-since: the kubelet's and the runtime's logs written since then; the
    // system journal, not users'; nothing else of /var/log.
    let journal = node.join("var/log/journal/0123456789abcdef0123456789abcdef");
    std::fs::create_dir_all(&journal).unwrap();
    for (name, old) in [
        ("system.journal", false),
        ("system@00062a-1b2c.journal~", false),
        ("system@0005f1-0a0b.journal", true),
        ("user-1000.journal", false),
    ] {
        std::fs::write(journal.join(name), format!("LPKSHHRH {name}")).unwrap();
        if old {
            touch_old(&journal.join(name));
        }
    }
    for (name, old) in [
        ("kubelet.log", false),
        ("kubelet.log.1", true),
        ("containerd.log", false),
        ("auth.log", false),
        ("syslog", false),
    ] {
        std::fs::write(node.join("var/log").join(name), name).unwrap();
        if old {
            touch_old(&node.join("var/log").join(name));
        }
    }
    let out3 = t.path().join("since.tar.zst");
    let o = run(&[
        "collect",
        "--node-root",
        node.to_str().unwrap(),
        "--container",
        &id,
        "--node-logs-since",
        "2025-06-01T00:00:00Z",
        "--artifacts",
        "files/logs/var_log",
        "--output",
        out3.to_str().unwrap(),
        "--progress",
        "none",
    ]);
    cairn_testkit::env::succeeded(&o);
    verify_ok(&out3);
    let m = Archive::read(&out3).manifest();
    let mut taken: Vec<String> = m
        .iter()
        .filter(|r| r["artifact"] == "node/system_logs" && r["status"] == "complete")
        .filter_map(|r| r["source"].as_str().map(str::to_owned))
        .collect();
    taken.sort();
    let j = "/var/log/journal/0123456789abcdef0123456789abcdef";
    assert_eq!(
        taken,
        [
            "/var/log/containerd.log".to_owned(),
            format!("{j}/system.journal"),
            format!("{j}/system@00062a-1b2c.journal~"),
            "/var/log/kubelet.log".to_owned(),
        ],
        "{m:#?}"
    );
    let mut skipped: Vec<String> = m
        .iter()
        .filter(|r| r["artifact"] == "node/system_logs" && r["status"] == "skipped")
        .map(|r| {
            assert!(
                r["reason"]
                    .as_str()
                    .unwrap()
                    .contains("2025-06-01T00:00:00Z"),
                "{r}"
            );
            r["source"].as_str().unwrap().to_owned()
        })
        .collect();
    skipped.sort();
    assert_eq!(
        skipped,
        [
            format!("{j}/system@0005f1-0a0b.journal"),
            "/var/log/kubelet.log.1".to_owned(),
        ]
    );
    // Without the pod's UID label there is no kubelet directory to name.
    let bare = docker::ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--label",
        &format!("io.kubernetes.pod.namespace={ns}"),
        "--label",
        "io.kubernetes.pod.name=bare",
        "--label",
        "io.kubernetes.container.name=app",
        docker::busybox_image(),
        "sleep",
        "3600",
    ]);
    let _b = Container(bare.clone());
    let out2 = t.path().join("bare.tar.zst");
    let o = run(&[
        "collect",
        "--node-root",
        node.to_str().unwrap(),
        "--container",
        &bare,
        "--artifacts",
        "files/logs/var_log",
        "--output",
        out2.to_str().unwrap(),
        "--progress",
        "none",
    ]);
    cairn_testkit::env::succeeded(&o);
    assert!(Archive::read(&out2)
        .manifest()
        .iter()
        .all(|r| !r["path"].as_str().unwrap_or_default().starts_with("node/")));

    // The kubelet's directory made a symlink into another container's files (a pod
    // with /var/log mounted can plant one): not followed, and said.
    let other = node.join("var/lib/other-container/rootfs");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("secret.txt"), "another tenant's secret").unwrap();
    std::fs::rename(&kept, kept.with_extension("real")).unwrap();
    std::os::unix::fs::symlink("/var/lib/other-container/rootfs", &kept).unwrap();
    let out4 = t.path().join("linked.tar.zst");
    let o = run(&[
        "collect",
        "--node-root",
        node.to_str().unwrap(),
        "--container",
        &id,
        "--artifacts",
        "files/logs/var_log",
        "--output",
        out4.to_str().unwrap(),
        "--progress",
        "none",
    ]);
    cairn_testkit::env::succeeded(&o);
    let a = Archive::read(&out4);
    let m = a.manifest();
    assert!(
        m.iter().all(|r| !r.to_string().contains("secret.txt")),
        "{m:#?}"
    );
    assert!(
        m.iter().all(|r| r["artifact"] != "node/kubelet_logs"),
        "{m:#?}"
    );
    let log = a.text("collection.log");
    assert!(
        log.contains("a symlink on the way") && log.contains(&in_pod),
        "{log}"
    );
}

/// Sets a file's modification time to 2020.
fn touch_old(p: &Path) {
    let st = Command::new("touch")
        .args(["-d", "2020-01-01T00:00:00Z"])
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success());
}

fn ctr(args: &[&str]) -> std::process::Output {
    Command::new("ctr")
        .args(["-n", "k8s.io"])
        .args(args)
        .output()
        .expect("ctr")
}

fn ctr_ok(args: &[&str]) -> String {
    let o = ctr(args);
    assert!(
        o.status.success(),
        "ctr {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

#[test]
fn containerd_containers_offline_equal_live_and_drift_lists_the_changes() {
    let Some(_) = docker::setup() else { return };
    if !ctr(&["version"]).status.success() {
        docker::require("containerd (ctr)");
        return;
    }
    // The busybox image, from Docker into containerd's k8s.io namespace.
    let t = tempfile::tempdir().unwrap();
    let tar = t.path().join("bb.tar");
    docker::ok(&["save", "-o", tar.to_str().unwrap(), docker::busybox_image()]);
    ctr_ok(&["images", "import", tar.to_str().unwrap()]);
    let image = format!("docker.io/library/{}", docker::busybox_image());
    let id = format!("cairn-node-{}", std::process::id());
    ctr_ok(&[
        "run",
        "-d",
        "--snapshotter",
        "overlayfs",
        "--label",
        "io.kubernetes.pod.namespace=shop",
        "--label",
        "io.kubernetes.pod.name=cart",
        "--label",
        "io.kubernetes.container.name=main",
        &image,
        &id,
        "sleep",
        "3600",
    ]);
    let _c = Ctr(id.clone());
    ctr_ok(&[
        "tasks",
        "exec",
        "--exec-id",
        "plant",
        &id,
        "sh",
        "-c",
        CHANGES,
    ]);

    let (all, _) = containers("/");
    let me = all
        .iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not listed: {all:?}"));
    assert_eq!(me["runtime"], "containerd");
    assert_eq!(me["namespace"], "k8s.io");
    assert_eq!(me["state"], "running");
    assert_eq!(me["pod_namespace"], "shop");
    assert_eq!(me["pod_name"], "cart");
    assert_eq!(me["container_name"], "main");
    assert_eq!(me["image"], image.as_str());
    assert!(me["created"].as_str().unwrap().starts_with("20"), "{me}");
    assert_eq!(me["layers"].as_array().unwrap().len(), 2, "{me}");

    let pid = ctr_ok(&["tasks", "ls"])
        .lines()
        .find(|l| l.split_whitespace().next() == Some(id.as_str()))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        .unwrap();
    let offline = offline_equals_live(&id, &pid, t.path());
    // containerd's runtime also creates /run in the container's layer.
    assert_eq!(
        drift(&offline),
        pairs(&[
            ("added", "/opt"),
            ("added", "/opt/x"),
            ("added", "/opt/x/y"),
            ("added", "/run"),
            ("added", "/tmp/dropped.sh"),
            ("deleted", "/bin/ls"),
            ("deleted", "/etc/group"),
            ("metadata", "/var/log/image.log"),
            ("modified", "/etc/passwd"),
        ])
    );
}

#[test]
fn a_corrupt_meta_db_is_a_clear_warning_and_an_empty_node_a_clear_error() {
    let Some(_) = docker::setup() else { return };
    let t = tempfile::tempdir().unwrap();
    let node = t.path();
    let err = run(&["containers", "--node-root", node.to_str().unwrap()]);
    assert_eq!(err.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&err.stderr)
            .contains("neither /var/lib/docker nor /var/lib/containerd"),
        "{}",
        String::from_utf8_lossy(&err.stderr)
    );
    let db_dir = node.join("var/lib/containerd/io.containerd.metadata.v1.bolt");
    std::fs::create_dir_all(&db_dir).unwrap();
    let real = std::fs::read("/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db")
        .expect("containerd's meta.db");
    for (what, bytes) in [
        ("garbage", b"not a database at all".to_vec()),
        ("zeroed meta pages", {
            let mut b = real.clone();
            b[..8192].fill(0);
            b
        }),
        ("truncated after the meta pages", real[..8192].to_vec()),
        ("scrambled data pages", {
            let mut b = real.clone();
            b[8192..].fill(0xab);
            b
        }),
    ] {
        std::fs::write(db_dir.join("meta.db"), &bytes).unwrap();
        let (all, warnings) = containers(node.to_str().unwrap());
        assert!(all.is_empty(), "{what}: {all:?}");
        assert!(
            warnings.contains("meta.db") && warnings.contains("bbolt"),
            "{what}: {warnings}"
        );
        let o = run(&[
            "collect",
            "--node-root",
            node.to_str().unwrap(),
            "--container",
            "anything",
            "--output",
            t.path().join("x.tar.zst").to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{what}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("no container matches 'anything'"),
            "{what}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// A static `setxattr PATH NAME VALUE`, built with musl-gcc, so a busybox container can
/// set an extended attribute from inside.
fn setxattr_tool(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("setx.c");
    std::fs::write(
        &src,
        "#include <string.h>\n#include <sys/xattr.h>\nint main(int c, char **v) { return c == 4 && setxattr(v[1], v[2], v[3], strlen(v[3]), 0) == 0 ? 0 : 1; }\n",
    )
    .unwrap();
    let bin = dir.join("setx");
    let o = Command::new("musl-gcc")
        .args(["-static", "-O1", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("musl-gcc (musl-tools)");
    cairn_testkit::env::succeeded(&o);
    bin
}

/// What an attacker inside writes to hide evidence from tools that merge layers
/// naively: a file and a whiteout for it, an opaque marker over the image's /bin, and
/// `user.overlay.opaque` on /etc; after the ordinary changes.
const MARKERS: &str = "echo evil > /tmp/evil; : > /tmp/.wh.evil; : > /bin/.wh..wh..opq; \
    /setx /etc user.overlay.opaque y";

fn changes_and_markers() -> String {
    format!("{CHANGES}; {MARKERS}")
}

/// The markers hide nothing (the offline view still equals what the kernel shows the
/// container) and drift flags each of them.
fn markers_are_flagged(offline: &Path) {
    let d = drift(offline);
    for (change, path) in [
        ("added", "/tmp/evil"),
        ("added", "/tmp/.wh.evil"),
        ("marker", "/tmp/.wh.evil"),
        ("added", "/bin/.wh..wh..opq"),
        ("marker", "/bin/.wh..wh..opq"),
        ("marker", "/etc"),
    ] {
        assert!(
            d.contains(&(change.to_owned(), path.to_owned())),
            "{change} {path} not in {d:?}"
        );
    }
    // Only what CHANGES deleted is deleted; nothing is opaque.
    let gone: Vec<&String> = d
        .iter()
        .filter(|(c, _)| c == "deleted" || c == "opaque")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(
        gone,
        ["/bin/ls", "/etc/group"],
        "a marker was obeyed: {d:?}"
    );
    let a = Archive::read(offline);
    assert_eq!(a.text("files/tmp/evil"), "evil\n");
    assert!(a.entries.contains_key(b"files/bin/sh".as_slice()));
    assert!(a.text("files/etc/passwd").contains("root:"));
    assert_eq!(a.text("live_response/drift/files/tmp/evil"), "evil\n");
}

#[test]
fn overlay_markers_written_inside_a_container_hide_nothing_and_are_flagged() {
    let Some(_) = docker::setup() else { return };
    let t = tempfile::tempdir().unwrap();
    let setx = setxattr_tool(t.path());
    let mount = format!("{}:/setx:ro", setx.display());
    let id = docker::ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "-v",
        &mount,
        docker::busybox_image(),
        "sleep",
        "3600",
    ]);
    let _c = Container(id.clone());
    docker::ok(&["exec", &id, "sh", "-c", &changes_and_markers()]);
    let pid = inspect(&id, "{{.State.Pid}}");
    let dir = t.path().join("docker");
    std::fs::create_dir_all(&dir).unwrap();
    markers_are_flagged(&offline_equals_live(&id[..12], &pid, &dir));

    // The same inside a containerd container (the overlayfs snapshotter).
    if !ctr(&["version"]).status.success() {
        docker::require("containerd (ctr)");
        return;
    }
    let tar = t.path().join("bb.tar");
    docker::ok(&["save", "-o", tar.to_str().unwrap(), docker::busybox_image()]);
    ctr_ok(&["images", "import", tar.to_str().unwrap()]);
    let image = format!("docker.io/library/{}", docker::busybox_image());
    let cid = format!("cairn-markers-{}", std::process::id());
    let bind = format!(
        "type=bind,src={},dst=/setx,options=rbind:ro",
        setx.display()
    );
    ctr_ok(&[
        "run",
        "-d",
        "--snapshotter",
        "overlayfs",
        "--mount",
        &bind,
        &image,
        &cid,
        "sleep",
        "3600",
    ]);
    let _c2 = Ctr(cid.clone());
    ctr_ok(&[
        "tasks",
        "exec",
        "--exec-id",
        "plant",
        &cid,
        "sh",
        "-c",
        &changes_and_markers(),
    ]);
    let pid = ctr_ok(&["tasks", "ls"])
        .lines()
        .find(|l| l.split_whitespace().next() == Some(cid.as_str()))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        .unwrap();
    let dir = t.path().join("containerd");
    std::fs::create_dir_all(&dir).unwrap();
    markers_are_flagged(&offline_equals_live(&cid, &pid, &dir));
}

/// On a node's disk the collector confines itself (`sandbox`, the same confinement
/// `collect --node-root` applies and logs): a file beside the node's logs is refused
/// while the logs are read, and `name_to_handle_at`/`open_by_handle_at`, which open any
/// file by its handle with CAP_DAC_READ_SEARCH, fail with EPERM in a program run under
/// it, where the same program outside succeeds.
#[test]
fn the_node_sandbox_refuses_reads_outside_and_file_handles() {
    let t = tempfile::tempdir().unwrap();
    let node = t.path();
    std::fs::create_dir_all(node.join("var/log/pods")).unwrap();
    std::fs::create_dir_all(node.join("etc")).unwrap();
    let log = node.join("var/log/pods/0.log");
    let outside = node.join("etc/shadow");
    std::fs::write(&log, "kubelet's log\n").unwrap();
    std::fs::write(&outside, "root:$6$secret\n").unwrap();
    assert!(
        std::fs::read(&outside).is_ok(),
        "readable outside the sandbox"
    );
    let o = run(&[
        "sandbox",
        "--node-root",
        node.to_str().unwrap(),
        "--try",
        log.to_str().unwrap(),
        "--try",
        outside.to_str().unwrap(),
    ]);
    cairn_testkit::env::succeeded(&o);
    let said = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(said.contains("landlock enforced"), "{said}");
    assert!(
        said.contains(&format!("read {}: allowed", log.display())),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "read {}: refused (Permission denied",
            outside.display()
        )),
        "{said}"
    );

    let probe = t.path().join("handle.py");
    std::fs::write(&probe, HANDLE_PROBE).unwrap();
    let outside_run = Command::new("python3")
        .arg(&probe)
        .arg(&log)
        .output()
        .expect("python3");
    let free = String::from_utf8_lossy(&outside_run.stdout).into_owned();
    assert_eq!(
        free, "name_to_handle_at ok\nopen_by_handle_at ok\n",
        "{outside_run:?}"
    );
    let mut args = vec!["sandbox", "--node-root", node.to_str().unwrap()];
    for dir in ["/usr", "/lib", "/lib64", "/etc", probe.to_str().unwrap()] {
        args.extend(["--allow-read", dir]);
    }
    args.extend([
        "--",
        "python3",
        probe.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    let o = run(&args);
    cairn_testkit::env::succeeded(&o);
    let said = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        said.ends_with("name_to_handle_at Operation not permitted\nopen_by_handle_at Operation not permitted\n"),
        "{said}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Gets a handle for argv[1] and opens it again by the handle, saying how each went.
const HANDLE_PROBE: &str = r#"import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
path = sys.argv[1].encode()
handle = ctypes.create_string_buffer(136)
ctypes.memmove(handle, (128).to_bytes(4, "little"), 4)
mount_id = ctypes.c_int()
r = libc.name_to_handle_at(-100, path, handle, ctypes.byref(mount_id), 0)
print("name_to_handle_at", "ok" if r == 0 else os.strerror(ctypes.get_errno()), flush=True)
d = os.open(os.path.dirname(sys.argv[1]), os.O_RDONLY)
r = libc.open_by_handle_at(d, handle, os.O_RDONLY)
print("open_by_handle_at", "ok" if r >= 0 else os.strerror(ctypes.get_errno()), flush=True)
"#;

/// Drift of the container `id` alone, with `extra` arguments: the run's output and the
/// drift lines.
fn drift_only(id: &str, dir: &Path, extra: &[&str]) -> (std::process::Output, Vec<Value>) {
    let out = dir.join(format!("drift-{}.tar.zst", extra.len()));
    let mut args = vec![
        "collect",
        "--node-root",
        "/",
        "--container",
        id,
        "--artifacts",
        "live/drift",
        "--output",
        out.to_str().unwrap(),
        "--progress",
        "none",
    ];
    args.extend(extra);
    let o = run(&args);
    verify_ok(&out);
    let lines = Archive::read(&out)
        .text("live_response/drift/drift.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (o, lines)
}

/// The container wrote its upper layer, so drift is bounded against it: a sparse file
/// of terabytes gets no sha256 (saying why) and a capped copy, fast; a layer whose
/// files would take minutes to hash is compared until --timeout, the changes found by
/// then kept and the stop said.
#[test]
fn drift_is_bounded_by_its_hash_cap_and_the_deadline() {
    let Some(_) = docker::setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let start = |script: &str| {
        let id = docker::ok(&[
            "run",
            "-d",
            "--network",
            "none",
            docker::busybox_image(),
            "sleep",
            "3600",
        ]);
        docker::ok(&["exec", &id, "sh", "-c", script]);
        id
    };
    let huge = Container(start(
        "dd if=/dev/zero of=/tmp/huge bs=1 count=0 seek=4096G 2>/dev/null; echo implant > /tmp/dropped.sh",
    ));
    let t0 = std::time::Instant::now();
    let (o, lines) = drift_only(&huge.0, dir.path(), &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(t0.elapsed().as_secs() < 60, "{:?}", t0.elapsed());
    let line = |path: &str| {
        lines
            .iter()
            .find(|l| l["path"] == path)
            .unwrap_or_else(|| panic!("no drift line for {path}: {lines:?}"))
            .clone()
    };
    let h = line("/tmp/huge");
    assert_eq!(
        (&h["change"], &h["size"]),
        (&"added".into(), &(4u64 << 40).into()),
        "{h}"
    );
    assert!(h["sha256"].is_null(), "{h}");
    assert!(
        h["detail"]
            .as_str()
            .unwrap()
            .contains("not hashed: 4398046511104 bytes"),
        "{h}"
    );
    assert_eq!(h["complete"], false, "{h}");
    assert!(line("/tmp/dropped.sh")["sha256"].is_string());

    // 60 files at the hash cap: a minute of hashing at least, cut at 3 s.
    let many = Container(start(
        "mkdir /tmp/many; for i in $(seq 60); do dd if=/dev/zero of=/tmp/many/f$i bs=1 count=0 seek=1G 2>/dev/null; done",
    ));
    let t0 = std::time::Instant::now();
    let (o, lines) = drift_only(&many.0, dir.path(), &["--timeout", "3s"]);
    let took = t0.elapsed();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(took.as_secs() < 20, "{took:?}\n{err}");
    let files = lines.iter().filter(|l| l["kind"] == "file").count();
    assert!(files < 60, "{files} files compared in {took:?}");
    let a = Archive::read(&dir.path().join("drift-2.tar.zst"));
    assert!(
        a.text("collection.log")
            .contains("the deadline stopped the comparison with the image"),
        "{}",
        a.text("collection.log")
    );
}
