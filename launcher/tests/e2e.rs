//! The launcher end to end: `cairn` against cairn-test-apiserver on real Docker
//! containers labelled as pods. Collection through pods/exec from busybox as root and
//! Debian as uid 1000 on a read-only root; a pod where nothing allows execution; ten
//! pods by label with --concurrency 4; the v4-only exec protocol; a denied user; a
//! distroless image. Archives are verified, named after their target, and nothing is
//! left behind in the containers.

mod common;
use common::docker::{self, Container};
use common::{verify_ok, ApiServer};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CAIRN: &str = env!("CARGO_BIN_EXE_cairn");

fn pod(ns: &str, pod: &str, image: &str, extra: &[&str]) -> Container {
    let mut args: Vec<String> = vec![
        "run".into(),
        "-d".into(),
        "--label".into(),
        format!("io.kubernetes.pod.namespace={ns}"),
        "--label".into(),
        format!("io.kubernetes.pod.name={pod}"),
        "--label".into(),
        "io.kubernetes.container.name=main".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend([image.to_owned(), "sleep".into(), "3600".into()]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    Container(docker::ok(&a))
}

fn cairn(s: &ApiServer, args: &[&str]) -> Output {
    let bin = std::env::var("CAIRN_MUSL_BIN").unwrap();
    common::env::command(CAIRN)
        .arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args(args)
        .env("CAIRN_COLLECTOR_BIN", bin)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The archives in `dir`, checked: verified, with a matching `.sha256` beside each.
fn archives(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tar.zst"))
        .collect();
    names.sort();
    for n in &names {
        let p = dir.join(n);
        verify_ok(&p);
        let sha = std::fs::read_to_string(dir.join(format!("{n}.sha256"))).unwrap();
        let real = Command::new("sha256sum").arg(&p).output().unwrap();
        assert_eq!(
            sha.split_whitespace().next(),
            text(&real.stdout).split_whitespace().next()
        );
    }
    names
}

#[test]
fn collects_through_exec_from_busybox_root_and_debian_uid_1000_read_only() {
    let Some(_) = docker::setup() else { return };
    let tag = format!("e{}", std::process::id());
    let ns = format!("ir-{tag}");
    let bb = pod(&ns, "bb", docker::busybox_image(), &["--label", "app=bb"]);
    let deb = docker::debian_image().map(|img| {
        pod(
            &ns,
            "deb",
            img,
            &[
                "--user",
                "1000:1000",
                "--read-only",
                "--tmpfs",
                "/tmp:rw,exec,mode=1777",
            ],
        )
    });
    let s = ApiServer::start(&[]);
    let out = s.dir.path().join("out");

    // `pods` shows both as exec-able, with the user Debian runs as.
    let o = cairn(&s, &["-n", &ns, "pods", "-o", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["verdict"] == "exec-able"));

    let mut args = vec!["-n", &ns, "collect", "bb", "--output-dir"];
    let out_s = out.to_str().unwrap().to_owned();
    args.push(&out_s);
    if deb.is_some() {
        args.push("deb/main");
    }
    args.extend(["-o", "json"]);
    let o = cairn(&s, &args);
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // Not a terminal: a line as each target starts and ends.
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!("cairn: collecting {ns}/bb/main\n")),
        "{err}"
    );
    assert!(err.contains(&format!("cairn: {ns}/bb/main ok: ")), "{err}");
    let names = archives(&out);
    assert_eq!(names.len(), if deb.is_some() { 2 } else { 1 }, "{names:?}");
    assert!(names[0].starts_with(&format!("{ns}_bb_main_")), "{names:?}");
    for r in report.as_array().unwrap() {
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["method"], "exec");
    }
    assert_eq!(docker::leftovers(&bb.0), "");
    if let Some(d) = &deb {
        assert_eq!(docker::leftovers(&d.0), "");
        assert!(
            names[1].starts_with(&format!("{ns}_deb_main_")),
            "{names:?}"
        );
    }

    // On a terminal (a pty from script(1)): a bar per target fed by the collector's
    // progress, ending on its outcome, and the total.
    let out2 = s.dir.path().join("out2");
    let command = format!(
        "{CAIRN} --kubeconfig {} -n {ns} collect bb --output-dir {}",
        s.kubeconfig.display(),
        out2.display()
    );
    let o = common::env::command("script")
        .args(["-qec", &command, "/dev/null"])
        .env(
            "CAIRN_COLLECTOR_BIN",
            std::env::var("CAIRN_MUSL_BIN").unwrap(),
        )
        .env("COLUMNS", "160")
        .output()
        .unwrap();
    let screen = text(&o.stdout);
    assert!(o.status.success(), "{screen}");
    assert_eq!(archives(&out2).len(), 1);
    assert!(screen.contains("1/1 targets"), "{screen}");
    assert!(screen.contains(&format!("{ns}/bb/main")), "{screen}");
    let ok = screen.rfind(" ok: ").expect("the bar's end");
    assert!(screen[ok..].contains("iB in "), "{screen}");
    assert!(!screen.contains("cairn: collecting"), "{screen}");
}

#[test]
fn no_executable_place_distroless_and_denied_say_what_to_do() {
    let Some(_) = docker::setup() else { return };
    let tag = format!("f{}", std::process::id());
    let ns = format!("ir-{tag}");
    let s = ApiServer::start(&[]);
    let out = s.dir.path().join("out");
    let out_s = out.to_str().unwrap();

    // A distroless image (by name): reported with the hint, not exec'd.
    docker::ok(&[
        "tag",
        docker::busybox_image(),
        "gcr.io/distroless/static-debian12:cairn-test",
    ]);
    let _d = pod(
        &ns,
        "dl",
        "gcr.io/distroless/static-debian12:cairn-test",
        &[],
    );
    let o = cairn(&s, &["-n", &ns, "collect", "dl", "--output-dir", out_s]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let all = text(&o.stdout) + &text(&o.stderr);
    assert!(
        all.contains("distroless") && all.contains("--via ephemeral"),
        "{all}"
    );

    // Read-only root, noexec /tmp and /dev/shm, uid 1000: the bootstrap's plain words.
    if let Some(img) = docker::debian_image() {
        let ro = pod(
            &ns,
            "ro",
            img,
            &[
                "--user",
                "1000:1000",
                "--read-only",
                "--tmpfs",
                "/tmp:rw,noexec,mode=1777",
            ],
        );
        let o = cairn(&s, &["-n", &ns, "collect", "ro", "--output-dir", out_s]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
        let all = text(&o.stdout);
        assert!(
            all.contains("no writable place here allows execution")
                && all.contains("--via ephemeral"),
            "{all}"
        );
        assert_eq!(docker::leftovers(&ro.0), "");
    }

    // The denied user: refused before any exec, naming verb, resource and namespace.
    let _b = pod(&ns, "bb", docker::busybox_image(), &[]);
    let execs_before = s.log().matches("exec protocol").count();
    let o = cairn(
        &s,
        &[
            "--context",
            "cairn-test-denied",
            "-n",
            &ns,
            "collect",
            "bb",
            "--output-dir",
            out_s,
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(
        e.contains(&format!(
            "lacks 'create' on 'pods/exec' in namespace '{ns}'"
        )) && e.contains("deploy/rbac.yaml"),
        "{e}"
    );
    assert_eq!(
        s.log().matches("exec protocol").count(),
        execs_before,
        "an exec was attempted"
    );
}

#[test]
fn ten_pods_by_label_with_concurrency_4_over_the_v4_protocol() {
    let Some(_) = docker::setup() else { return };
    let tag = format!("g{}", std::process::id());
    let ns = format!("fleet-{tag}");
    let pods: Vec<Container> = (0..10)
        .map(|i| {
            pod(
                &ns,
                &format!("web-{i}"),
                docker::busybox_image(),
                &["--label", "app=web"],
            )
        })
        .collect();
    let _other = pod(&ns, "db", docker::busybox_image(), &["--label", "app=db"]);
    let s = ApiServer::start(&["--v4-only"]);
    let out = s.dir.path().join("out");
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "-l",
            "app=web",
            "collect",
            "--concurrency",
            "4",
            "--output-dir",
            out.to_str().unwrap(),
        ],
    );
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let names = archives(&out);
    assert_eq!(names.len(), 10, "{names:?}");
    assert!(names.iter().all(|n| n.contains("_web-")), "{names:?}");
    // Every exec went over v4 (stdin never closed early, stdout complete).
    let log = s.log();
    assert_eq!(
        log.matches("protocol=\"v4.channel.k8s.io\"").count()
            + log.matches("protocol=v4.channel.k8s.io").count(),
        10,
        "{log}"
    );
    for p in &pods {
        assert_eq!(docker::leftovers(&p.0), "");
    }
}

#[test]
fn a_target_past_its_timeout_is_cut_off_and_the_pod_is_left_clean() {
    let Some(_) = docker::setup() else { return };
    let ns = format!("slow-{}", std::process::id());
    let p = pod(&ns, "slow", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    // A stand-in collector that never ends but keeps writing, as a long collection does.
    let fake = s.dir.path().join("slow-collector");
    std::fs::write(
        &fake,
        "#!/bin/sh\n[ \"$1\" = --version ] && exit 0\nwhile :; do echo chunk; sleep 0.05; done\n",
    )
    .unwrap();
    let out = s.dir.path().join("out");
    let o = common::env::command(CAIRN)
        .arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args([
            "-n",
            &ns,
            "collect",
            "slow",
            "--timeout",
            "3s",
            "--collector-bin",
        ])
        .arg(&fake)
        .arg("--output-dir")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("timed out after 3s"),
        "{}",
        text(&o.stdout)
    );
    // What arrived is kept, named in the report, and not taken for a whole archive.
    let report = text(&o.stdout);
    let kept = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".tar.zst.part"))
        .expect("the partial archive");
    assert!(
        report.contains(&format!("kept in {} (incomplete)", kept.display())),
        "{report}"
    );
    assert!(archives(&out).is_empty());
    // The closed stream breaks the stand-in's stdout; the bootstrap removes it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let left = docker::leftovers(&p.0);
        let running = docker::ok(&[
            "exec",
            &p.0,
            "sh",
            "-c",
            "ps | grep -c 'slow-collecto[r]\\|cairn-collecto[r]' || true",
        ]);
        if left.is_empty() && running == "0" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left behind: {left} / {running} running"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn by_download_the_printed_bootstrap_line_and_collector_url_collect_and_refuse_a_wrong_file() {
    let Some(bin) = docker::setup() else { return };
    let port = docker::serve(std::fs::read(&bin).unwrap());
    let gw = docker::bridge_gateway();
    let url = format!("http://{gw}:{port}/cairn-collector?x='quoted'&y=1");
    let o = common::env::command(CAIRN)
        .args([
            "bootstrap",
            "--print",
            "--collector-url",
            &url,
            "--collector-bin",
        ])
        .arg(&bin)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let line = text(&o.stdout).trim().to_owned();
    assert_eq!(line.lines().count(), 1);
    let bb = docker::ok(&["run", "-d", docker::busybox_image(), "sleep", "600"]);
    let _bb = Container(bb.clone());
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("manual.tar.zst");
    let o = Command::new("docker")
        .args(["exec", &bb, "sh", "-c", &line])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    verify_ok(&out);
    assert_eq!(docker::leftovers(&bb), "");

    // The launcher with --collector-url: the pod downloads the collector, checks it
    // and runs it; a different file at the URL is refused and not run.
    let ns = format!("ir-u{}", std::process::id());
    let p = pod(&ns, "dl", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    let dir = t.path().join("out");
    let url = format!("http://{gw}:{port}/cairn-collector");
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "dl",
            "--collector-url",
            &url,
            "--output-dir",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "--output-dir needs its value");
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "dl",
            "--collector-url",
            &url,
            "--output-dir",
            dir.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(archives(&dir).len(), 1);
    assert!(
        s.log().contains("cairn-bootstrap url"),
        "the exec did not ask for a download: {}",
        s.log()
    );
    let wrong = docker::serve(b"#!/bin/sh\necho not the collector\n".to_vec());
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "dl",
            "--collector-url",
            &format!("http://{gw}:{wrong}/cairn-collector"),
            "--output-dir",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let all = text(&o.stdout);
    assert!(
        all.contains("is not the one given (refused, not run)") && all.contains("sha256 mismatch"),
        "{all}"
    );
    assert_eq!(archives(&dir).len(), 1);
    assert_eq!(docker::leftovers(&p.0), "");
}

#[test]
fn straight_to_s3_through_plans_the_launcher_presigns() {
    let Some(_) = docker::setup() else { return };
    let Some(s3) = common::stores::Server::s3() else {
        return;
    };
    let ns = format!("s3-{}", std::process::id());
    let a = pod(
        &ns,
        "web-a",
        docker::busybox_image(),
        &["--label", "app=web"],
    );
    let b = pod(
        &ns,
        "web-b",
        docker::busybox_image(),
        &["--label", "app=web"],
    );
    let s = ApiServer::start(&[]);
    let gw = docker::bridge_gateway();
    let port = common::relay(s3.port);
    let bin = std::env::var("CAIRN_MUSL_BIN").unwrap();
    let o = common::env::command(CAIRN)
        .arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args([
            "-n",
            &ns,
            "-l",
            "app=web",
            "collect",
            "--s3",
            "s3://evidence/case-42",
            "-o",
            "json",
        ])
        .env("CAIRN_COLLECTOR_BIN", bin)
        .env("AWS_ACCESS_KEY_ID", common::stores::AK)
        .env("AWS_SECRET_ACCESS_KEY", common::stores::SK)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", format!("http://{gw}:{port}"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let t = tempfile::tempdir().unwrap();
    for r in report.as_array().unwrap() {
        let object = r["archive"].as_str().unwrap();
        let key = object.strip_prefix("s3://evidence/").expect(object);
        assert!(key.starts_with(&format!("case-42/{ns}_web-")), "{key}");
        // The object is the archive the collector reported, byte for byte.
        let bytes = s3.get(key);
        assert_eq!(bytes.len() as u64, r["bytes"].as_u64().unwrap());
        let p = t.path().join("o.tar.zst");
        std::fs::write(&p, &bytes).unwrap();
        verify_ok(&p);
        let sha = Command::new("sha256sum").arg(&p).output().unwrap();
        assert_eq!(
            text(&sha.stdout).split_whitespace().next(),
            r["sha256"].as_str()
        );
    }
    assert_eq!(report.as_array().unwrap().len(), 2);
    // No credential and no presigned URL reached the pods' files or the report.
    let all = text(&o.stdout) + &text(&o.stderr);
    assert!(
        !all.contains(common::stores::SK) && !all.contains("X-Amz-Signature"),
        "{all}"
    );
    for p in [&a, &b] {
        assert_eq!(docker::leftovers(&p.0), "");
    }
}

#[test]
fn straight_to_gcs_through_sessions_the_launcher_opens() {
    let Some(_) = docker::setup() else { return };
    let Some(gcs) = common::stores::Server::gcs() else {
        return;
    };
    let ns = format!("gcs-{}", std::process::id());
    let p = pod(&ns, "web", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    let gw = docker::bridge_gateway();
    let port = common::relay(gcs.port);
    let o = common::env::command(CAIRN)
        .arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args([
            "-n",
            &ns,
            "collect",
            "web",
            "--gcs",
            "gs://evidence/ir/case-7",
            "-o",
            "json",
        ])
        .env(
            "CAIRN_COLLECTOR_BIN",
            std::env::var("CAIRN_MUSL_BIN").unwrap(),
        )
        // The session URL the emulator gives names the address it was asked at, so
        // the pod reaches it through the relay.
        .env("STORAGE_EMULATOR_HOST", format!("http://{gw}:{port}"))
        .output()
        .unwrap();
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{out}\n{err}");
    let r = &serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0];
    let object = r["archive"].as_str().unwrap();
    let key = object.strip_prefix("gs://evidence/").unwrap();
    assert!(
        key.starts_with(&format!("ir/case-7/{ns}_web_main_")),
        "{key}"
    );
    let bytes = gcs.gcs_get(&key.replace('/', "%2F"));
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("object.tar.zst");
    std::fs::write(&f, &bytes).unwrap();
    verify_ok(&f);
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    assert_eq!(r["sha256"].as_str(), Some(sha.as_str()));
    assert_eq!(r["bytes"].as_u64(), Some(bytes.len() as u64));
    // The session URL is a credential: it shows nowhere.
    assert!(!(out.clone() + &err).contains("upload_id"), "{out}\n{err}");
    assert_eq!(docker::leftovers(&p.0), "");
}

#[test]
fn straight_to_azure_through_a_container_sas_and_a_url_template() {
    let Some(_) = docker::setup() else { return };
    let Some(az) = common::stores::Server::azurite() else {
        return;
    };
    let ns = format!("az-{}", std::process::id());
    let p = pod(&ns, "web", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    let gw = docker::bridge_gateway();
    let port = common::relay(az.port);
    let sas = az
        .azure_sas(None, "cw", 3600)
        .replace(&format!("127.0.0.1:{}", az.port), &format!("{gw}:{port}"));
    let bin = std::env::var("CAIRN_MUSL_BIN").unwrap();
    let run = |sas: &str| {
        common::env::command(CAIRN)
            .arg("--kubeconfig")
            .arg(&s.kubeconfig)
            .args([
                "-n",
                &ns,
                "collect",
                "web",
                "--azure-sas",
                sas,
                "-o",
                "json",
            ])
            .env("CAIRN_COLLECTOR_BIN", &bin)
            .output()
            .unwrap()
    };
    let o = run(&sas);
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let r = &serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0];
    let location = r["archive"].as_str().unwrap();
    assert!(location.contains("?[query redacted]"), "{location}");
    let blob = location
        .split("/evidence/")
        .nth(1)
        .and_then(|b| b.split('?').next())
        .unwrap();
    assert!(blob.starts_with(&format!("{ns}_web_main_")), "{blob}");
    let (bytes, headers) = az.azure_get(blob);
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("blob.tar.zst");
    std::fs::write(&f, &bytes).unwrap();
    verify_ok(&f);
    let sha = r["sha256"].as_str().unwrap();
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "x-ms-meta-cairn_sha256" && v == sha),
        "{headers:?}"
    );
    let sig = sas.split("sig=").nth(1).unwrap().split('&').next().unwrap();
    assert!(
        !(text(&o.stdout) + &text(&o.stderr)).contains(sig),
        "the SAS leaked"
    );
    assert_eq!(docker::leftovers(&p.0), "");
    // A blob SAS would make every target overwrite one blob: refused up front.
    let o = run(&sas.replace("sr=c", "sr=b"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("container SAS (sr=c)"),
        "{}",
        text(&o.stderr)
    );

    // --upload-url-template: the blob path made per target from the placeholders.
    let p2 = pod(&ns, "api", docker::busybox_image(), &[]);
    let (base, query) = sas.split_once('?').unwrap();
    let template = format!("{base}/cases/{{namespace}}/{{pod}}-{{container}}.tar.zst?{query}");
    let with_template = |template: &str| {
        common::env::command(CAIRN)
            .arg("--kubeconfig")
            .arg(&s.kubeconfig)
            .args([
                "-n",
                &ns,
                "collect",
                "web",
                "api",
                "--upload-url-template",
                template,
            ])
            .args(["-o", "json"])
            .env("CAIRN_COLLECTOR_BIN", &bin)
            .output()
            .unwrap()
    };
    let o = with_template(&template);
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for (r, name) in report.as_array().unwrap().iter().zip(["api", "web"]) {
        let blob = format!("cases/{ns}/{name}-main.tar.zst");
        let (bytes, _) = az.azure_get(&blob);
        assert_eq!(
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
            r["sha256"].as_str().unwrap(),
            "{blob}"
        );
        std::fs::write(&f, &bytes).unwrap();
        verify_ok(&f);
    }
    assert!(
        !(text(&o.stdout) + &text(&o.stderr)).contains(sig),
        "the SAS leaked"
    );
    assert_eq!(docker::leftovers(&p2.0), "");
    // Without a placeholder two targets would overwrite one object: refused.
    let o = with_template(&format!("{base}/one.tar.zst?{query}"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("would overwrite one object"),
        "{}",
        text(&o.stderr)
    );
}

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
    assert!(st.status.success(), "{}", text(&st.stderr));
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
        assert!(o.status.success(), "{}", text(&o.stderr));
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
        [s3("api", "exec-able", "-"), s3("bb", "exec-able", "-")]
    );
    assert_eq!(
        verdicts(&["--probe"]),
        [
            s3("api", "distroless", "no shell"),
            s3("bb", "exec-able", "shell")
        ]
    );
}

/// A kubeconfig whose users authenticate through an exec credential plugin, as EKS
/// (`aws eks get-token`), AKS (`kubelogin`) and GKE (`gke-gcloud-auth-plugin`) ones do:
/// the plugin prints an ExecCredential holding the token it is given, and counts its calls.
fn plugin_kubeconfig(s: &ApiServer, dir: &Path) -> (PathBuf, PathBuf) {
    let kc = std::fs::read_to_string(&s.kubeconfig).unwrap();
    let field = |key: &str| -> Vec<String> {
        kc.lines()
            .filter_map(|l| l.trim().strip_prefix(key))
            .map(|v| v.trim().to_owned())
            .collect()
    };
    let (server, ca, tokens) = (
        field("server:")[0].clone(),
        field("certificate-authority-data:")[0].clone(),
        field("token:"),
    );
    let calls = dir.join("plugin-calls");
    let plugin = dir.join("get-token");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho \"$@\" >> {}\nprintf '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"%s\"}}}}' \"$2\"\n",
            calls.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let user = |name: &str, token: &str| {
        format!(
            "- name: {name}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      args: [\"--token\", \"{token}\"]\n      interactiveMode: Never\n",
            plugin.display()
        )
    };
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n{}{}contexts:\n- name: plugin\n  context: {{cluster: c, user: plugin}}\n- name: plugin-denied\n  context: {{cluster: c, user: plugin-denied}}\ncurrent-context: plugin\n",
        user("plugin", &tokens[0]),
        user("plugin-denied", &tokens[1]),
    );
    let path = dir.join("plugin-kubeconfig");
    std::fs::write(&path, text).unwrap();
    (path, calls)
}

#[test]
fn exec_credential_plugins_and_in_cluster_service_accounts_reach_the_cluster() {
    let Some(_) = docker::setup() else { return };
    let tag = format!("k{}", std::process::id());
    let ns = format!("ir-{tag}");
    let bb = pod(&ns, "bb", docker::busybox_image(), &[]);
    let gateway = docker::bridge_gateway();
    let work = tempfile::tempdir().unwrap();
    let sa = work.path().join("serviceaccount");
    let s = ApiServer::start(&[
        "--listen",
        "0.0.0.0:0",
        "--tls-san",
        &gateway,
        "--service-account-out",
        sa.to_str().unwrap(),
    ]);
    let bin = std::env::var("CAIRN_MUSL_BIN").unwrap();

    // Through the plugin: the token it hands over is the one used.
    let (kc, calls) = plugin_kubeconfig(&s, work.path());
    let out = work.path().join("out");
    let o = common::env::command(CAIRN)
        .args([
            "--kubeconfig",
            kc.to_str().unwrap(),
            "-n",
            &ns,
            "collect",
            "bb",
        ])
        .args(["--output-dir", out.to_str().unwrap()])
        .env("CAIRN_COLLECTOR_BIN", &bin)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(archives(&out).len(), 1);
    assert!(std::fs::read_to_string(&calls)
        .unwrap()
        .starts_with("--token "));
    // The denied user's plugin: refused with the RBAC message, no exec tried.
    let o = common::env::command(CAIRN)
        .args([
            "--kubeconfig",
            kc.to_str().unwrap(),
            "--context",
            "plugin-denied",
        ])
        .args([
            "-n",
            &ns,
            "collect",
            "bb",
            "--output-dir",
            out.to_str().unwrap(),
        ])
        .env("CAIRN_COLLECTOR_BIN", &bin)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("lacks 'create' on 'pods/exec'"),
        "{}",
        text(&o.stderr)
    );

    // In a pod: no kubeconfig, the service account the kubelet mounts and the
    // KUBERNETES_SERVICE_* variables; the collector found next to cairn.
    let Some(img) = docker::debian_image() else {
        return;
    };
    let port = std::fs::read_to_string(&s.kubeconfig)
        .unwrap()
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("server: https://127.0.0.1:")
                .map(str::to_owned)
        })
        .unwrap();
    let out_pod = work.path().join("out-pod");
    std::fs::create_dir_all(&out_pod).unwrap();
    let o = docker::docker(&[
        "run",
        "--rm",
        "-v",
        &format!(
            "{}:/var/run/secrets/kubernetes.io/serviceaccount:ro",
            sa.display()
        ),
        "-v",
        &format!("{CAIRN}:/usr/local/bin/cairn:ro"),
        "-v",
        &format!("{bin}:/usr/local/bin/cairn-collector:ro"),
        "-v",
        &format!("{}:/out", out_pod.display()),
        "-e",
        &format!("KUBERNETES_SERVICE_HOST={gateway}"),
        "-e",
        &format!("KUBERNETES_SERVICE_PORT={port}"),
        img,
        "cairn",
        "-n",
        &ns,
        "collect",
        "bb",
        "--output-dir",
        "/out",
        "-o",
        "json",
    ]);
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let names = archives(&out_pod);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with(&format!("{ns}_bb_main_")));
    assert_eq!(docker::leftovers(&bb.0), "");
}

#[test]
fn as_kubectl_cairn_it_runs_as_a_kubectl_plugin() {
    let Some(_) = docker::setup() else { return };
    let kubectl = match std::env::var("CAIRN_KUBECTL") {
        Ok(k) => PathBuf::from(k),
        Err(_) => {
            let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/.work/py/bin/kubectl");
            if !venv.exists() {
                docker::require("kubectl (tests/run-all.sh installs it)");
                return;
            }
            venv
        }
    };
    let ns = format!("kp-{}", std::process::id());
    let _p = pod(&ns, "web", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    // Installed the documented way: a link named kubectl-cairn on PATH.
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(CAIRN, bin.path().join("kubectl-cairn")).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |args: &[&str]| {
        common::env::command(&kubectl)
            .args(args)
            .env("PATH", &path)
            .env("KUBECONFIG", &s.kubeconfig)
            .env(
                "CAIRN_COLLECTOR_BIN",
                std::env::var("CAIRN_MUSL_BIN").unwrap(),
            )
            .output()
            .unwrap()
    };
    let o = run(&["plugin", "list"]);
    assert!(
        text(&o.stdout).contains("kubectl-cairn"),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let o = run(&["cairn", "-n", &ns, "pods", "-o", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["pod"], "web");
    assert_eq!(v[0]["verdict"], "exec-able");
    let out = s.dir.path().join("plugin-out");
    let o = run(&[
        "cairn",
        "-n",
        &ns,
        "collect",
        "web",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(archives(&out).len(), 1);
    let o = run(&["cairn", "--help"]);
    assert!(
        text(&o.stdout).contains("Usage: kubectl cairn"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn distroless_and_unreachable_containers_by_ephemeral_container_sidecar_and_node() {
    let Some(bin) = docker::setup() else { return };
    let pid = std::process::id();
    // The collector image, as a responder builds it.
    let image = format!("cairn-collector:e2e-{pid}");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-image.sh");
    let o = Command::new("bash")
        .arg(&script)
        .args(["--bin", bin.to_str().unwrap(), "--tag", &image])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    struct Cleanup(String, String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let ids = docker::docker(&[
                "ps",
                "-aq",
                "--filter",
                &format!("label=io.kubernetes.pod.namespace={}", self.1),
            ]);
            for id in text(&ids.stdout).split_whitespace() {
                let _ = docker::docker(&["rm", "-f", id]);
            }
            let _ = docker::docker(&["rmi", "-f", &self.0]);
        }
    }
    let ns = format!("eph-{pid}");
    let _cleanup = Cleanup(image.clone(), ns.clone());
    // A FROM-scratch application under uid 65532 with a planted file and no shell.
    let t = tempfile::tempdir().unwrap();
    std::fs::copy(&bin, t.path().join("app")).unwrap();
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
    let app_image = "cairn-launcher-distroless-evidence:1";
    let st = Command::new("docker")
        .args(["build", "-q", "-t", app_image])
        .arg(t.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", text(&st.stderr));
    for name in ["api", "auto"] {
        docker::ok(&[
            "run",
            "-d",
            "-i",
            "--network",
            "none",
            "--label",
            &format!("io.kubernetes.pod.namespace={ns}"),
            "--label",
            &format!("io.kubernetes.pod.name={name}"),
            "--label",
            "io.kubernetes.container.name=main",
            app_image,
            "verify",
            "-",
        ]);
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
                &image,
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
        let archive = r["archive"].as_str().unwrap();
        // The target's own filesystem, through /proc/PID/root.
        let z = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "zstd -dc '{archive}' | grep -ac evidence-planted.txt"
            ))
            .output()
            .unwrap();
        assert_ne!(
            text(&z.stdout).trim(),
            "0",
            "the target's files are not in the archive"
        );
    }
    assert_eq!(archives(&out).len(), 2);

    // A pod with a collector sidecar (shareProcessNamespace): the application, a
    // second container, and the sidecar waiting. Each container is found by its ID.
    let app = docker::ok(&[
        "run",
        "-d",
        "-i",
        "--network",
        "none",
        "--label",
        &format!("io.kubernetes.pod.namespace={ns}"),
        "--label",
        "io.kubernetes.pod.name=sc",
        "--label",
        "io.kubernetes.container.name=main",
        app_image,
        "verify",
        "-",
    ]);
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
        &image,
        "idle",
        "--for",
        "10m",
    ]);
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
        let z = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "zstd -dc '{}' | grep -ac evidence-planted.txt",
                r["archive"].as_str().unwrap()
            ))
            .output()
            .unwrap();
        assert_eq!(
            text(&z.stdout).trim() != "0",
            planted,
            "{target}: the wrong container was collected"
        );
    }
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
            "--collector-image",
            &image,
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
    let left = docker::ok(&[
        "ps",
        "-aq",
        "--filter",
        "label=app.kubernetes.io/name=cairn-node-collector",
        "--filter",
        &format!("label=io.kubernetes.pod.namespace={ns}"),
    ]);
    assert_eq!(left, "", "the collector pod was left behind");

    // The patch that adds such a sidecar to a workload.
    let o = common::env::command(CAIRN)
        .args([
            "-n",
            "shop",
            "sidecar",
            "--for",
            "deployment/web",
            "--collector-image",
            &image,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
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
    assert_eq!(spec["containers"][0]["image"], image.as_str());
    assert_eq!(
        spec["containers"][0]["securityContext"]["capabilities"]["add"][0],
        "SYS_PTRACE"
    );

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
