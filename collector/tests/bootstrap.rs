//! `scripts/bootstrap.sh` in real containers, run through `docker exec -i` (the same
//! stdio a pods/exec session gives): busybox ash, Debian dash and bash; root and uid
//! 1000; a read-only root with a writable /tmp, and one where nothing writable allows
//! execution. It must deliver the collector byte-exact, refuse a wrong sha256, leave
//! nothing behind (also when interrupted), and keep stdin intact after the binary.

mod common;
use common::docker::{self, Container};
use common::*;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const SCRIPT: &str = include_str!("../../scripts/bootstrap.sh");

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// Runs the bootstrap in `ct` under `shell` with `args`, writing `stdin` to it.
fn boot(ct: &str, user: Option<&str>, shell: &str, args: &[&str], stdin: Vec<u8>) -> Output {
    let mut c = Command::new("docker");
    c.args(["exec", "-i"]);
    if let Some(u) = user {
        c.args(["--user", u]);
    }
    c.arg(ct).args(shell.split(' ')).arg("-c").arg(SCRIPT);
    c.arg("cairn-bootstrap").args(args);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut sin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // The bootstrap may exit before reading everything (a refusal): not an error.
        let _ = sin.write_all(&stdin);
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    o
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn start(image: &str, extra: &[&str]) -> Container {
    let mut args = vec!["run", "-d"];
    args.extend_from_slice(extra);
    args.extend([image, "sleep", "3600"]);
    Container(docker::ok(&args))
}

/// A stand-in collector: a shell script that answers `--version` and otherwise runs
/// `body`.
fn fake(body: &str) -> Vec<u8> {
    format!("#!/bin/sh\n[ \"$1\" = --version ] && exit 0\n{body}\n").into_bytes()
}

#[test]
fn the_collector_arrives_checked_runs_and_is_removed() {
    let Some(bin) = docker::setup() else { return };
    let t = tempfile::tempdir().unwrap();
    let exe = std::fs::read(&bin).unwrap();
    let (size, want) = (exe.len().to_string(), sha(&exe));
    let args = [
        "stdin",
        &size,
        &want,
        "--",
        "collect",
        "--output",
        "-",
        "--progress",
        "json",
    ];

    // busybox ash as root. Docker mounts /dev/shm noexec, but /dev is a tmpfs that
    // allows execution: the collector runs from memory.
    let bb = start(docker::busybox_image(), &[]);
    let o = boot(&bb.0, None, "sh", &args, exe.clone());
    cairn_testkit::env::succeeded(&o);
    assert!(
        stderr(&o).contains("cairn-bootstrap: running /dev/.cairn.")
            && stderr(&o).contains("bytes on memory, tmpfs"),
        "{}",
        stderr(&o)
    );
    let out = t.path().join("bb.tar.zst");
    std::fs::write(&out, &o.stdout).unwrap();
    verify_ok(&out);
    let a = Archive::read(&out);
    assert!(a.text("files/etc/passwd").contains("app:x:1000"));
    let fp = &a.summary()["collector"];
    assert!(
        fp["exe"].as_str().unwrap().starts_with("/dev/.cairn."),
        "{fp}"
    );
    assert_eq!(fp["exe_sha256"], want.as_str());
    // The footprint says where the binary was and that it was memory.
    assert_eq!(fp["binary"]["filesystem"], "tmpfs", "{fp}");
    assert_eq!(fp["binary"]["memory"], true, "{fp}");
    assert_eq!(
        fp["binary"]["bytes"].as_u64(),
        Some(exe.len() as u64),
        "{fp}"
    );
    assert!(fp["writes"].as_str().unwrap().contains("memory"), "{fp}");
    // The log carries the same footprint as JSON, not as JSON inside a string.
    let logged = a
        .log()
        .into_iter()
        .find(|l| l["event"] == "footprint")
        .expect("a footprint record");
    assert_eq!(logged["data"]["exe_sha256"], want.as_str(), "{logged}");
    // Its own executable is neither collected as a file nor copied as a process's.
    let names: Vec<String> = a
        .entries
        .keys()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains(".cairn.")), "{names:?}");
    let own = a
        .text("live_response/processes/executables.jsonl")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["collector"] == true)
        .expect("the collector's own process");
    assert_eq!(own["sha256"], want.as_str());
    assert!(own["copy"].is_null());
    assert_eq!(docker::leftovers(&bb.0), "");

    // Debian, uid 1000, read-only root with a writable, executable /tmp: dash and bash.
    let Some(img) = docker::debian_image() else {
        return;
    };
    let deb = start(img, &["--read-only", "--tmpfs", "/tmp:rw,exec,mode=1777"]);
    for shell in ["dash", "bash"] {
        let o = boot(&deb.0, Some("1000:1000"), shell, &args, exe.clone());
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let out = t.path().join(format!("deb-{shell}.tar.zst"));
        std::fs::write(&out, &o.stdout).unwrap();
        verify_ok(&out);
        assert_eq!(docker::leftovers(&deb.0), "", "{shell}");
    }
}

#[test]
fn stdin_after_the_binary_reaches_the_collector_intact() {
    let Some(_) = docker::setup() else { return };
    let body = fake("exec cat");
    let (size, want) = (body.len().to_string(), sha(&body));
    // Not a multiple of dd's block, and larger than any read-ahead buffer.
    let trailer: Vec<u8> = (0..300_001u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut input = body.clone();
    input.extend_from_slice(&trailer);
    let bb = start(docker::busybox_image(), &[]);
    let mut runs = vec![(bb.0.clone(), "sh")];
    let deb = docker::debian_image().map(|img| start(img, &[]));
    if let Some(d) = &deb {
        runs.push((d.0.clone(), "dash"));
        runs.push((d.0.clone(), "bash"));
    }
    for (ct, shell) in runs {
        let o = boot(
            &ct,
            None,
            shell,
            &["stdin", &size, &want, "--"],
            input.clone(),
        );
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        assert_eq!(o.stdout.len(), trailer.len(), "{shell}");
        assert!(
            o.stdout == trailer,
            "{shell}: stdin after the binary was altered"
        );
    }
}

#[test]
fn a_wrong_sha256_is_refused_before_anything_runs() {
    let Some(_) = docker::setup() else { return };
    let body = fake("touch /tmp/ran");
    let size = body.len().to_string();
    let wrong = sha(b"something else");
    let bb = start(docker::busybox_image(), &[]);
    let o = boot(
        &bb.0,
        None,
        "sh",
        &["stdin", &size, &wrong, "--"],
        body.clone(),
    );
    assert_eq!(o.status.code(), Some(91), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("sha256 mismatch") && stderr(&o).contains("refusing to run it"),
        "{}",
        stderr(&o)
    );
    assert_eq!(docker::leftovers(&bb.0), "");
    assert!(!docker::docker(&["exec", &bb.0, "test", "-e", "/tmp/ran"])
        .status
        .success());
    // A short delivery is refused too.
    let o = boot(
        &bb.0,
        None,
        "sh",
        &["stdin", "999999", &sha(&body), "--"],
        body,
    );
    assert_eq!(o.status.code(), Some(93), "{}", stderr(&o));
    assert!(stderr(&o).contains("arrived short"), "{}", stderr(&o));
    assert_eq!(docker::leftovers(&bb.0), "");
}

#[test]
fn where_nothing_writable_allows_execution_cairn_says_so_plainly() {
    let Some(_) = docker::setup() else { return };
    let Some(img) = docker::debian_image() else {
        return;
    };
    let body = fake("exit 0");
    let (size, want) = (body.len().to_string(), sha(&body));
    // Read-only root, noexec /tmp (Docker's /dev/shm is noexec already), uid 1000.
    let ct = start(img, &["--read-only", "--tmpfs", "/tmp:rw,noexec,mode=1777"]);
    let o = boot(
        &ct.0,
        Some("1000:1000"),
        "sh",
        &["stdin", &size, &want, "--"],
        body,
    );
    assert_eq!(o.status.code(), Some(90), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("no writable place here allows execution") && e.contains("--via ephemeral"),
        "{e}"
    );
    assert_eq!(docker::leftovers(&ct.0), "");
}

#[test]
fn an_interrupted_bootstrap_stops_the_collector_and_removes_it() {
    let Some(_) = docker::setup() else { return };
    let body = fake("exec sleep 300");
    let (size, want) = (body.len().to_string(), sha(&body));
    let bb = start(docker::busybox_image(), &[]);
    let ct = bb.0.clone();
    let runner =
        std::thread::spawn(move || boot(&ct, None, "sh", &["stdin", &size, &want, "--"], body));
    // Wait for the stand-in collector to run, then TERM the bootstrap's shell.
    // The stand-in is `sleep 300`; its parent is the bootstrap's shell.
    let find = "for p in $(pidof sleep); do if [ \"$(tr '\\0' ' ' </proc/$p/cmdline)\" = 'sleep 300 ' ]; then cut -d' ' -f4 /proc/$p/stat; fi; done";
    let deadline = Instant::now() + Duration::from_secs(20);
    let pid = loop {
        let pid = docker::ok(&["exec", &bb.0, "sh", "-c", find]);
        if !pid.is_empty() {
            break pid;
        }
        assert!(Instant::now() < deadline, "the bootstrap did not start");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(docker::leftovers(&bb.0).contains(".cairn."));
    docker::ok(&["exec", &bb.0, "kill", "-TERM", pid.lines().next().unwrap()]);
    let o = runner.join().unwrap();
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    assert_eq!(docker::leftovers(&bb.0), "");
    // Only the container's own `sleep 3600` is left.
    let sleeps = docker::ok(&["exec", &bb.0, "sh", "-c", "pidof sleep || true"]);
    assert_eq!(sleeps.split_whitespace().count(), 1, "{sleeps}");
}

#[test]
fn download_delivery_with_busybox_wget_and_a_clear_error_without_a_fetcher() {
    let Some(bin) = docker::setup() else { return };
    let exe = std::fs::read(&bin).unwrap();
    let want = sha(&exe);
    let port = docker::serve(exe);
    let gw = docker::bridge_gateway();
    let url = format!("http://{gw}:{port}/cairn-collector");
    let bb = start(docker::busybox_image(), &[]);
    let o = boot(
        &bb.0,
        None,
        "sh",
        &["url", &url, &want, "--", "--version"],
        vec![],
    );
    cairn_testkit::env::succeeded(&o);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("cairn-collector "));
    assert_eq!(docker::leftovers(&bb.0), "");

    // Debian minbase has neither curl nor wget nor busybox.
    let Some(img) = docker::debian_image() else {
        return;
    };
    let deb = start(img, &[]);
    let o = boot(
        &deb.0,
        None,
        "sh",
        &["url", &url, &want, "--", "--version"],
        vec![],
    );
    assert_eq!(o.status.code(), Some(92), "{}", stderr(&o));
    assert!(stderr(&o).contains("use stdin delivery"), "{}", stderr(&o));
    assert_eq!(docker::leftovers(&deb.0), "");
}

#[test]
fn with_watch_the_end_of_stdin_stops_the_collector_and_removes_it() {
    let Some(_) = docker::setup() else { return };
    // Stdin ends right after the binary, as when the launcher is cancelled: the
    // never-ending stand-in is stopped at once and removed.
    let body = fake("while :; do echo chunk; sleep 0.05; done");
    let (size, want) = (body.len().to_string(), sha(&body));
    let bb = start(docker::busybox_image(), &[]);
    let started = Instant::now();
    let o = boot(
        &bb.0,
        None,
        "sh",
        &["stdin", &size, &want, "watch", "--"],
        body,
    );
    assert!(started.elapsed() < Duration::from_secs(10), "not stopped");
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    assert_eq!(docker::leftovers(&bb.0), "");
    let left = docker::ok(&[
        "exec",
        &bb.0,
        "sh",
        "-c",
        "ps | grep -c 'cairn-collecto[r]\\|ca[t]$' || true",
    ]);
    assert_eq!(left, "0");
}

/// The noexec fallback copies the collector to another place: a copy that is not the
/// checked file (here a `cp` the attacker replaced) is refused before it runs. Debian's
/// dash runs `cp` from PATH (busybox's ash would run its own applet).
#[test]
fn a_copy_that_is_not_the_checked_collector_never_runs() {
    let Some(_) = docker::setup() else { return };
    let Some(img) = docker::debian_image() else {
        return;
    };
    let body = fake("touch /tmp/ran");
    let (size, want) = (body.len().to_string(), sha(&body));
    // As uid 1000, /dev is not writable and /dev/shm is noexec (Docker's default), so
    // the bootstrap copies on to /tmp.
    let deb = start(img, &[]);
    docker::ok(&[
        "exec",
        &deb.0,
        "sh",
        "-c",
        "mv /usr/bin/cp /usr/bin/cp.real && printf '#!/bin/sh\\n/usr/bin/cp.real \"$@\" && echo \"touch /tmp/ran-tampered\" >> \"$2\"\\n' > /usr/bin/cp && chmod 755 /usr/bin/cp",
    ]);
    let o = boot(
        &deb.0,
        Some("1000:1000"),
        "sh",
        &["stdin", &size, &want, "--"],
        body,
    );
    assert_eq!(o.status.code(), Some(91), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("sha256 mismatch before trying"),
        "{}",
        stderr(&o)
    );
    for ran in ["/tmp/ran", "/tmp/ran-tampered"] {
        assert!(
            !docker::docker(&["exec", &deb.0, "test", "-e", ran])
                .status
                .success(),
            "{ran}: the tampered copy ran"
        );
    }
    assert_eq!(docker::leftovers(&deb.0), "");
}

/// A collector of another architecture is refused before anything is written, and one
/// that cannot run here for another reason is told apart from a noexec mount: the
/// message says which, and neither sends the responder to the wrong route.
#[test]
fn a_collector_that_cannot_run_here_is_told_apart_from_a_place_that_forbids_execution() {
    let Some(bin) = docker::setup() else { return };
    let bb = start(docker::busybox_image(), &[]);
    let exe = std::fs::read(&bin).unwrap();
    let (size, want) = (exe.len().to_string(), sha(&exe));
    // Said to be for aarch64, on this x86_64 machine: refused up front.
    let o = boot(
        &bb.0,
        None,
        "sh",
        &["stdin", &size, &want, "arch", "aarch64", "--", "--version"],
        exe.clone(),
    );
    assert_eq!(o.status.code(), Some(94), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("runs on x86_64, and the collector sent is built for aarch64"),
        "{}",
        stderr(&o)
    );
    assert_eq!(docker::leftovers(&bb.0), "");
    // An ELF for a machine no kernel here runs (RISC-V; no binfmt for it): execve says
    // ENOEXEC, which is not a noexec mount.
    let mut riscv = exe.clone();
    riscv[18..20].copy_from_slice(&243u16.to_le_bytes());
    let (size, want) = (riscv.len().to_string(), sha(&riscv));
    let o = boot(&bb.0, None, "sh", &["stdin", &size, &want, "--"], riscv);
    assert_eq!(o.status.code(), Some(94), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("cannot run on this system") && e.contains("It is not a noexec mount"),
        "{e}"
    );
    assert!(
        !e.contains("no writable place") && !e.contains('\u{fffd}'),
        "{e}"
    );
    assert_eq!(docker::leftovers(&bb.0), "");
}

/// `memory`: nothing may reach the container's disk. As root, /dev is memory and runs
/// it; as uid 1000 there is no memory-backed place that allows execution, and the
/// bootstrap stops (95) instead of falling back to /tmp.
#[test]
fn asked_for_memory_only_the_bootstrap_runs_from_dev_or_stops_without_touching_the_disk() {
    let Some(_) = docker::setup() else { return };
    let body = fake("echo ran");
    let (size, want) = (body.len().to_string(), sha(&body));
    let bb = start(docker::busybox_image(), &[]);
    let args = ["stdin", &size, &want, "memory", "--"];
    let o = boot(&bb.0, None, "sh", &args, body.clone());
    cairn_testkit::env::succeeded(&o);
    assert!(
        stderr(&o).contains("running /dev/.cairn."),
        "{}",
        stderr(&o)
    );
    let o = boot(&bb.0, Some("1000:1000"), "sh", &args, body);
    assert_eq!(o.status.code(), Some(95), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--via ephemeral") && stderr(&o).contains("noexec"),
        "{}",
        stderr(&o)
    );
    assert_eq!(docker::leftovers(&bb.0), "");
    let tmp = docker::ok(&["exec", &bb.0, "ls", "-a", "/tmp"]);
    assert!(!tmp.contains("cairn"), "{tmp}");
}
