//! The exec route: busybox as root and Debian as uid 1000 on a read-only root, a pod
//! where nothing allows execution, a denied user, ten pods by label over the v4
//! protocol, a timeout, and the collector downloaded instead of streamed.

use super::*;

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

    // `pods` shows both as running (exec not tried), with the user Debian runs as.
    let o = cairn(&s, &["-n", &ns, "pods", "-o", "json"]);
    cairn_testkit::env::succeeded(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["verdict"] == "running"));

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
    // busybox's PID 1 (sleep) reaps nothing: the bootstrap reaped its helpers itself.
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(docker::zombies(&bb.0), "", "zombies left in the pod");
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
            "permission denied: user cairn-denied (context cairn-test-denied) lacks 'create' on 'pods/exec' in namespace '{ns}'"
        )) && e.contains(r#"{apiGroups: [""], resources: ["pods/exec"], verbs: ["create"]}"#)
            && e.contains("deploy/rbac.yaml"),
        "{e}"
    );
    assert_eq!(
        s.log().matches("exec protocol").count(),
        execs_before,
        "an exec was attempted"
    );
    // `pods` does not call its containers exec-able, and --probe does not try.
    for extra in [&[][..], &["--probe"][..]] {
        let mut args = vec![
            "--context",
            "cairn-test-denied",
            "-n",
            &ns,
            "pods",
            "-o",
            "json",
        ];
        args.extend_from_slice(extra);
        let o = cairn(&s, &args);
        cairn_testkit::env::succeeded(&o);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let bb = v
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["pod"] == "bb")
            .unwrap();
        assert_eq!(bb["verdict"], "exec-denied", "{v}");
        let e = text(&o.stderr);
        assert!(
            e.contains(&format!("you may not create pods/exec in {ns}")) && !e.contains("Status {"),
            "{e}"
        );
    }
    assert_eq!(
        s.log().matches("exec protocol").count(),
        execs_before,
        "a probe exec was attempted"
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
    let Some(fake) = slow_standin(&s) else { return };
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
        report.contains(&format!("kept in {} (incomplete", kept.display())),
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
    cairn_testkit::env::succeeded(&o);
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
    cairn_testkit::env::succeeded(&o);
    verify_ok(&out);
    assert_eq!(docker::leftovers(&bb), "");
    by_the_printed_line_a_presigned_url_on_stdin_uploads(&url, &bin, t.path());

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
    cairn_testkit::env::succeeded(&o);
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

/// What a pod says reaches the responder's terminal escaped: a collector (here a
/// stand-in the attacker controls) that writes escape sequences, bidi overrides, an
/// endless line and invalid UTF-8 on stderr, and a forged progress event, cannot
/// retitle, clear or reorder the terminal, and cannot stall the launcher.
#[test]
fn a_pods_words_reach_the_terminal_escaped_and_bounded() {
    let Some(_) = docker::setup() else { return };
    let ns = format!("words-{}", std::process::id());
    let _p = pod(&ns, "loud", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    let Some(fake) = common::standin::build(
        &s.dir.path().join("loud-collector"),
        "[ \"$1\" = --version ] && exit 0\n\
         printf '{\"event\":\"artifact\",\"name\":\"x\\033]0;owned\\007\"}\\n' >&2\n\
         head -c 300000 /dev/zero | tr '\\000' A >&2; echo >&2\n\
         printf '\\377\\376 broken\\n' >&2\n\
         printf 'bye \\033[2J\\342\\200\\256gpj.exe\\n' >&2\n\
         exit 7\n",
    ) else {
        return;
    };
    let out = s.dir.path().join("out");
    let o = common::env::command(CAIRN)
        .arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args([
            "-n",
            &ns,
            "collect",
            "loud",
            "--timeout",
            "60s",
            "--collector-bin",
        ])
        .arg(&fake)
        .arg("--output-dir")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    for (what, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        let t = text(bytes);
        assert!(
            !bytes.contains(&0x1b) && !t.contains('\u{202e}'),
            "raw control characters on {what}: {t:?}"
        );
    }
    let report = text(&o.stdout);
    assert!(report.contains("exited with status 7"), "{report}");
    assert!(report.contains("bye \\x1b[2J\\u{202e}gpj.exe"), "{report}");
}

/// The collector gets a deadline a little before the launcher's (`--timeout` less a
/// reserve), so a slow target still ends with a valid archive; a collection a limit
/// cut short is reported as such, in the table, the JSON and the exit status (4), and
/// `verify` says so too. `-o yaml` is refused rather than printed as a table.
#[test]
fn a_collection_cut_short_is_valid_and_says_so_in_the_report_verify_and_exit_status() {
    let Some(bin) = docker::setup() else { return };
    let ns = format!("cut-{}", std::process::id());
    let _p = pod(&ns, "web", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    let out = s.dir.path().join("out");
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "web",
            "--timeout",
            "10m",
            "--output-dir",
            out.to_str().unwrap(),
            "-o",
            "json",
            "--",
            "--max-total-size",
            "16",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let r = &report[0];
    assert_eq!(r["status"], "cut-short", "{r}");
    assert!(
        r["cut_short"][0]
            .as_str()
            .unwrap()
            .starts_with("--max-total-size 16 reached:"),
        "{r}"
    );
    assert!(text(&o.stderr).contains("1 of 1 target(s) cut short"));
    // The collector was given its own deadline: 10m less the reserve (a fifth, at
    // most a minute), so 9m and some seconds, never the launcher's 10m.
    let saw = text(&s.what_pods_saw());
    let given = saw
        .split("\n--timeout\n")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .expect("a --timeout given to the collector");
    assert!(
        ["8m59s", "8m58s"].contains(&given),
        "collector --timeout {given}"
    );
    // The archive is whole and verifies, and verify says it was cut short.
    let names = archives(&out);
    let v = common::env::command(&bin)
        .arg("verify")
        .arg(out.join(&names[0]))
        .output()
        .unwrap();
    let said = text(&v.stdout);
    assert!(
        said.starts_with("OK ")
            && said.contains("collection CUT SHORT: --max-total-size 16 reached"),
        "{said}"
    );
    // The table says it too.
    let out2 = s.dir.path().join("out2");
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "web",
            "--output-dir",
            out2.to_str().unwrap(),
            "--",
            "--timeout",
            "0s",
        ],
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    let table = text(&o.stdout);
    assert!(
        table.contains("cut-short: --timeout 0s reached: artifacts not yet run were left out"),
        "{table}"
    );
    // Unknown report formats are refused, not printed as a table.
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "web",
            "--output-dir",
            "x",
            "-o",
            "yaml",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("invalid value 'yaml'"),
        "{}",
        text(&o.stderr)
    );
    let o = cairn(&s, &["-n", &ns, "pods", "-o", "wide"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Naming and selecting targets: with -A a named pod is found in whatever namespace
/// holds it; a selection that matches nothing names the selector and where it looked;
/// a missing pod is said in one sentence, as kubectl would, without debug structures.
#[test]
fn targets_are_found_across_namespaces_and_misses_are_said_plainly() {
    let Some(_) = docker::setup() else { return };
    let ns = format!("find-{}", std::process::id());
    let _p = pod(&ns, "lonely", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    let out = s.dir.path().join("out");
    let o = cairn(
        &s,
        &[
            "-A",
            "collect",
            "lonely",
            "--output-dir",
            out.to_str().unwrap(),
        ],
    );
    cairn_testkit::env::succeeded(&o);
    assert!(archives(&out)[0].starts_with(&format!("{ns}_lonely_main_")));

    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "-l",
            "app=nothing",
            "collect",
            "--output-dir",
            "x",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains(&format!("no pods match -l app=nothing in namespace {ns}")),
        "{}",
        text(&o.stderr)
    );

    let o = cairn(
        &s,
        &["-n", &ns, "collect", "nosuchpod", "--output-dir", "x"],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!(
            "pod {ns}/nosuchpod not found (`cairn -n {ns} pods` lists"
        )),
        "{err}"
    );
    assert!(
        !err.contains("ApiError") && !err.contains("Status {") && err.lines().count() == 1,
        "{err}"
    );
    let o = cairn(&s, &["-A", "collect", "nosuchpod", "--output-dir", "x"]);
    assert!(
        text(&o.stderr).contains("no pod named nosuchpod in any namespace"),
        "{}",
        text(&o.stderr)
    );
}

/// Ctrl-C: cairn exits 130 after cleaning up, and the row of the cancelled target
/// names the partial archive it kept, with its size, as one that will not verify.
#[test]
fn ctrl_c_names_what_a_cancelled_target_left() {
    let Some(_) = docker::setup() else { return };
    let ns = format!("intr-{}", std::process::id());
    let p = pod(&ns, "slow", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    let Some(fake) = slow_standin(&s) else { return };
    let out = s.dir.path().join("out");
    let child = common::env::command(CAIRN)
        .arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args(["-n", &ns, "collect", "slow", "--collector-bin"])
        .arg(&fake)
        .arg("--output-dir")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once bytes have arrived, Ctrl-C.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let part = loop {
        let found = std::fs::read_dir(&out).ok().and_then(|d| {
            d.flatten()
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(".part"))
        });
        if let Some(f) =
            found.filter(|f| std::fs::metadata(f).map(|m| m.len() > 0).unwrap_or(false))
        {
            break f;
        }
        assert!(std::time::Instant::now() < deadline, "no bytes arrived");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o.stderr));
    let report = text(&o.stdout);
    assert!(
        report.contains("cancelled (Ctrl-C); the ")
            && report.contains(&format!(
                "bytes that arrived are kept in {} (incomplete",
                part.display()
            )),
        "{report}"
    );
    // The pod is left clean: the bootstrap stopped and removed the stand-in.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !docker::leftovers(&p.0).is_empty() {
        assert!(std::time::Instant::now() < deadline, "left in the pod");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// On a terminal, Ctrl-C (the key, through the terminal's line discipline) leaves the
/// screen as a person reads it: each bar once, the total once, then the report.
#[test]
fn ctrl_c_on_a_terminal_leaves_each_bar_once() {
    use std::io::Write;
    let Some(_) = docker::setup() else { return };
    let ns = format!("intr-tty-{}", std::process::id());
    let p = pod(&ns, "slow", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    let Some(fake) = slow_standin(&s) else { return };
    let out = s.dir.path().join("out");
    // A terminal of 140 x 60: nothing scrolls away, so the screen holds every line.
    // Afterwards, the terminal's echo of control keys as it was (a pty has it on).
    let command = format!(
        "stty cols 140 rows 60; trap : INT; {CAIRN} --kubeconfig '{}' -n {ns} collect slow --collector-bin '{}' --output-dir '{}'; rc=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -- '-*echoctl'; exit $rc",
        s.kubeconfig.display(),
        fake.display(),
        out.display()
    );
    let mut child = common::env::command("script")
        .args(["-qfec", &command, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_dir(&out)
        .map(|d| {
            d.flatten().any(|e| {
                e.path().to_string_lossy().ends_with(".part")
                    && e.metadata().map(|m| m.len() > 0).unwrap_or(false)
            })
        })
        .unwrap_or(false)
    {
        assert!(std::time::Instant::now() < deadline, "no bytes arrived");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Let the bars draw a few times, then the key.
    std::thread::sleep(std::time::Duration::from_millis(800));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"\x03").unwrap();
    stdin.flush().unwrap();
    let o = child.wait_with_output().unwrap();
    drop(stdin);
    let mut term = vt100::Parser::new(60, 140, 0);
    term.process(&o.stdout);
    let screen = term.screen().contents();
    assert_eq!(o.status.code(), Some(130), "{screen}");
    let count = |what: &str| screen.lines().filter(|l| l.contains(what)).count();
    assert_eq!(count("targets,"), 1, "the total bar, once:\n{screen}");
    assert_eq!(count("slow/main ["), 1, "the target's bar, once:\n{screen}");
    assert_eq!(count("0/0 cancelled (Ctrl-C)"), 1, "{screen}");
    assert_eq!(count("failed: cancelled (Ctrl-C); the "), 1, "{screen}");
    // Its SECONDS are how long it ran before the Ctrl-C, not 0.0.
    let row = screen
        .lines()
        .find(|l| l.contains("failed: cancelled (Ctrl-C); the "))
        .unwrap_or_default();
    let seconds: f64 = row
        .split_whitespace()
        .nth(5)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no SECONDS in {row}"));
    assert!(seconds > 0.0, "{row}");
    assert_eq!(count("cairn: interrupted (Ctrl-C);"), 1, "{screen}");
    assert!(
        screen.lines().any(|l| l == "echoctl"),
        "echoctl not restored:\n{screen}"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !docker::leftovers(&p.0).is_empty() {
        assert!(std::time::Instant::now() < deadline, "left in the pod");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// A stand-in collector that never ends but keeps writing, as a long collection does.
fn slow_standin(s: &ApiServer) -> Option<PathBuf> {
    common::standin::build(
        &s.dir.path().join("slow-collector"),
        "[ \"$1\" = --version ] && exit 0\nwhile :; do echo chunk; sleep 0.05; done\n",
    )
}

/// The README's manual upload: `printf '%s' "$URL" | LINE` with `-- collect --upload-url
/// -` uploads to the bucket, the URL on the collector's stdin; the same line with the
/// URL among its arguments is refused without repeating it.
fn by_the_printed_line_a_presigned_url_on_stdin_uploads(url: &str, bin: &Path, t: &Path) {
    let Some(s3) = common::stores::Server::s3() else {
        return;
    };
    let line = |args: &[&str]| {
        common::env::command(CAIRN)
            .args([
                "bootstrap",
                "--print",
                "--collector-url",
                url,
                "--collector-bin",
            ])
            .arg(bin)
            .arg("--")
            .args(args)
            .output()
            .unwrap()
    };
    let put = s3.put_url("manual/bootstrap.tar.zst");
    let refused = line(&["collect", "--upload-url", &put]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    let said = text(&refused.stderr);
    assert!(
        said.contains("--upload-url -") && !said.contains("X-Amz-Signature"),
        "{said}"
    );
    let o = line(&["collect", "--upload-url", "-"]);
    cairn_testkit::env::succeeded(&o);
    let printed = text(&o.stdout).trim().to_owned();
    // s3s-fs listens on the host's loopback: the container shares the host's network.
    let bb = docker::ok(&[
        "run",
        "-d",
        "--network",
        "host",
        docker::busybox_image(),
        "sleep",
        "600",
    ]);
    let _bb = Container(bb.clone());
    let mut child = Command::new("docker")
        .args(["exec", "-i", &bb, "sh", "-c", &printed])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), put.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    cairn_testkit::env::succeeded(&o);
    let archive = t.join("uploaded.tar.zst");
    std::fs::write(&archive, s3.get("manual/bootstrap.tar.zst")).unwrap();
    verify_ok(&archive);
    assert!(
        !text(&o.stderr).contains("X-Amz-Signature"),
        "{}",
        text(&o.stderr)
    );
}
