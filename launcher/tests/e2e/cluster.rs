//! Reaching the cluster: exec credential plugins, the in-cluster service account, and
//! `cairn` as a kubectl plugin.

use super::*;

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
    cairn_testkit::env::succeeded(&o);
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
    cairn_testkit::env::succeeded(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["pod"], "web");
    assert_eq!(v[0]["verdict"], "running");
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
    cairn_testkit::env::succeeded(&o);
    assert_eq!(archives(&out).len(), 1);
    let o = run(&["cairn", "--help"]);
    assert!(
        text(&o.stdout).contains("Usage: kubectl cairn"),
        "{}",
        text(&o.stdout)
    );
}

/// A kubeconfig that is missing, a context that is not in it, and a $KUBECONFIG that
/// points nowhere are each said once, with what to do; none is taken for "not running
/// in a cluster".
#[test]
fn kubeconfig_mistakes_are_said_once_with_what_to_do() {
    let s = ApiServer::start(&[]);
    let run = |args: &[&str], kubeconfig_env: Option<&str>| {
        let mut c = common::env::command(CAIRN);
        c.args(args);
        if let Some(k) = kubeconfig_env {
            c.env("KUBECONFIG", k);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
        text(&o.stderr)
    };
    let err = run(&["--kubeconfig", "/nonexistent/kc", "pods"], None);
    assert_eq!(
        err.trim(),
        "cairn: error: kubeconfig /nonexistent/kc does not exist"
    );
    let kc = s.kubeconfig.to_str().unwrap();
    let err = run(&["--kubeconfig", kc, "--context", "nope", "pods"], None);
    assert!(
        err.contains(&format!("context nope is not in {kc} (its contexts: "))
            && err.contains("cairn-test-denied"),
        "{err}"
    );
    let err = run(&["pods"], Some("/nonexistent/kc"));
    assert!(
        err.contains("cannot read $KUBECONFIG (/nonexistent/kc)") && !err.contains("cluster"),
        "{err}"
    );
    // A refusal is cairn's one sentence: no library log line, no debug dump before it.
    let err = run(
        &[
            "--kubeconfig",
            kc,
            "--context",
            "cairn-test-denied",
            "collect",
            "web",
            "--output-dir",
            s.dir.path().join("denied").to_str().unwrap(),
        ],
        None,
    );
    assert!(
        err.starts_with("cairn: error: ") && !err.contains("WARN") && !err.contains("Status {"),
        "{err}"
    );
}

/// kubectl's ways of naming a target work: `-c CONTAINER`, `pod/NAME`; a mistyped pod
/// or container is answered with the closest name and the pod's containers, and a run
/// that collected nothing leaves no output directory behind.
#[test]
fn kubectl_habits_name_targets_and_mistakes_get_did_you_mean() {
    let Some(_) = docker::setup() else { return };
    let ns = format!("habits-{}", std::process::id());
    let _p = pod(&ns, "web", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    let out = |n: &str| s.dir.path().join(n);
    for (i, target) in [["web", "-c", "main"], ["pod/web", "-c", "main"]]
        .iter()
        .enumerate()
    {
        let dir = out(&format!("ok{i}"));
        let mut args = vec!["-n", &ns, "collect"];
        args.extend(target.iter().copied());
        args.extend(["--output-dir", dir.to_str().unwrap()]);
        cairn_testkit::env::succeeded(&cairn(&s, &args));
        assert_eq!(archives(&dir).len(), 1, "{target:?}");
    }
    for (target, said) in [
        ("wbe", format!("pod {ns}/wbe not found; did you mean web?")),
        (
            "web/mian",
            format!(
                "pod {ns}/web has no container 'mian'; did you mean main?: its containers are main"
            ),
        ),
    ] {
        let dir = out("never");
        let o = cairn(
            &s,
            &[
                "-n",
                &ns,
                "collect",
                target,
                "--output-dir",
                dir.to_str().unwrap(),
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
        assert!(text(&o.stderr).contains(&said), "{}", text(&o.stderr));
        assert!(
            !dir.exists(),
            "a run that collected nothing left {}",
            dir.display()
        );
    }
}

/// docs/cli.md holds every command's --help as `cairn` prints it (examples and exit
/// statuses included), so every flag is documented and the reference is current.
#[test]
fn docs_cli_md_holds_every_commands_help() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/cli.md")).unwrap();
    let top = common::env::command(CAIRN).arg("--help").output().unwrap();
    let subs = common::env::subcommands(&text(&top.stdout));
    assert!(subs.len() >= 9, "{subs:?}");
    // collect first: the commands in the order a responder needs them.
    assert_eq!(subs[..3], ["pods", "collect", "report"], "{subs:?}");
    for sub in std::iter::once("").chain(subs.iter().map(String::as_str)) {
        let mut c = common::env::command(CAIRN);
        if !sub.is_empty() {
            c.arg(sub);
        }
        let o = c.arg("--help").env_remove("TMPDIR").output().unwrap();
        cairn_testkit::env::succeeded(&o);
        let help = text(&o.stdout);
        assert!(
            doc.contains(&format!("```text\n{help}```")),
            "docs/cli.md is not current for `cairn {sub} --help`: run scripts/cli-doc.sh"
        );
        if sub.is_empty() || sub == "collect" {
            assert!(
                help.contains("Exit status:") && help.contains("  4    every target collected"),
                "{help}"
            );
        }
        // Each command's help opens with its examples; the top-level one ends with them.
        if !sub.is_empty() {
            assert!(
                help.starts_with("Examples:\n  cairn"),
                "`cairn {sub} --help`: {help}"
            );
        }
    }
}

/// Each command's help shows the flags it uses and no others; kubectl's flags work
/// before or after the command (after wins); collect's usage line says a destination is
/// required, and clap refuses none or two before anything runs.
#[test]
fn each_command_shows_and_takes_its_own_flags() {
    let help = |sub: &str| {
        let o = common::env::command(CAIRN)
            .args([sub, "--help"])
            .output()
            .unwrap();
        cairn_testkit::env::succeeded(&o);
        text(&o.stdout)
    };
    for sub in ["bootstrap", "version"] {
        let h = help(sub);
        for flag in [
            "--namespace",
            "--all-namespaces",
            "--selector",
            "--kubeconfig",
            "--context",
        ] {
            assert!(!h.contains(flag), "`cairn {sub} --help` shows {flag}:\n{h}");
        }
    }
    let h = help("sidecar");
    assert!(
        h.contains("-n, --namespace") && !h.contains("--selector"),
        "{h}"
    );
    for sub in ["pods", "collect"] {
        let h = help(sub);
        assert!(
            h.contains("\nCluster:\n") && h.contains("-l, --selector"),
            "{h}"
        );
    }
    let h = help("collect");
    assert!(
        h.contains("Usage: cairn collect [OPTIONS] <DESTINATION> [POD[/CONTAINER]]...")
            && h.contains("DESTINATION: one of --output-dir DIR, --s3 URL"),
        "{h}"
    );
    let run = |args: &[&str]| {
        let o = common::env::command(CAIRN).args(args).output().unwrap();
        (o.status.code(), text(&o.stderr))
    };
    // After the command, and after wins over before.
    let (code, err) = run(&["pods", "--kubeconfig", "/nonexistent/after"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("kubeconfig /nonexistent/after does not exist"),
        "{err}"
    );
    let (_, err) = run(&[
        "--kubeconfig",
        "/nonexistent/before",
        "collect",
        "web",
        "--output-dir",
        "x",
        "--kubeconfig",
        "/nonexistent/after",
    ]);
    assert!(
        err.contains("kubeconfig /nonexistent/after does not exist"),
        "{err}"
    );
    // No destination, or two: refused by the parser, nothing contacted.
    let (code, err) = run(&["--kubeconfig", "/nonexistent/kc", "collect", "web"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("the following required arguments were not provided")
            && err.contains("--output-dir <DIR>|--s3")
            && !err.contains("/nonexistent/kc"),
        "{err}"
    );
    let (code, err) = run(&["collect", "web", "--output-dir", "x", "--s3", "s3://b/p"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot be used with"), "{err}");
}
