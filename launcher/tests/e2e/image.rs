//! `cairn image`: the collector image from the `cairn` binary alone, written for
//! `docker load` (both architectures run), pushed to a real registry with the
//! responder's Docker credentials and used from there by an ephemeral collection, and
//! an image the registry does not hold refused before the pod's spec is touched.

use crate::common::{docker, stores::Server, ApiServer};
use crate::routes::Images;
use crate::{archives, text, CAIRN};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Command, Output};

fn musl(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set"))
}

/// `cairn ARGS` with the collectors of both architectures and Docker's config `dc`.
fn cairn_with(dc: &Path, args: &[&str]) -> Output {
    crate::common::env::command(CAIRN)
        .args(args)
        .env("DOCKER_CONFIG", dc)
        .output()
        .unwrap()
}

fn collectors() -> [String; 4] {
    [
        "--collector-bin".into(),
        musl("CAIRN_MUSL_BIN"),
        "--collector-bin".into(),
        musl("CAIRN_MUSL_BIN_AARCH64"),
    ]
}

/// Docker's config.json holding `user:password` for `registry`.
fn docker_config(dir: &Path, registry: &str, user: &str, password: &str) {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("config.json"),
        format!(r#"{{"auths":{{"{registry}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
}

fn sha256_of(path: &str) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn the_image_written_by_cairn_loads_in_docker_and_runs_on_both_architectures() {
    let Some(_) = docker::setup() else { return };
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("collector.image.tar");
    let tag = format!("cairn-test/image-{}:1", std::process::id());
    let mut args = vec!["image", "--output", out.to_str().unwrap(), "--tag", &tag];
    let bins = collectors();
    args.extend(bins.iter().map(String::as_str));
    let o = cairn_with(t.path(), &args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let said = text(&o.stdout);
    assert!(
        said.contains("(amd64, arm64)") && said.contains("docker load -i"),
        "{said}"
    );
    assert_eq!(crate::common::assert_private(t.path()), 1);
    // An existing file is refused, and left as it was.
    let before = std::fs::read(&out).unwrap();
    let again = cairn_with(t.path(), &args);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again.stdout));
    assert_eq!(std::fs::read(&out).unwrap(), before);
    let loaded = docker::ok(&["load", "-i", out.to_str().unwrap()]);
    for name in [tag.clone(), format!("{tag}-amd64"), format!("{tag}-arm64")] {
        assert!(
            loaded.contains(&format!("Loaded image: {name}")),
            "{loaded}"
        );
    }
    let x86 = docker::ok(&["run", "--rm", &tag, "--version"]);
    let arm = docker::ok(&[
        "run",
        "--rm",
        "--platform",
        "linux/arm64",
        &format!("{tag}-arm64"),
        "--version",
    ]);
    for v in [&x86, &arm] {
        assert!(v.starts_with("cairn-collector "), "{v}");
    }
    for (name, arch, bin) in [
        (format!("{tag}-amd64"), "amd64", "CAIRN_MUSL_BIN"),
        (format!("{tag}-arm64"), "arm64", "CAIRN_MUSL_BIN_AARCH64"),
    ] {
        let f = "{{.Architecture}} {{index .Config.Labels \"io.cairn.collector.sha256\"}}";
        let seen = docker::ok(&["image", "inspect", "-f", f, &name]);
        assert_eq!(seen.trim(), format!("{arch} {}", sha256_of(&musl(bin))));
    }
    for name in [tag.clone(), format!("{tag}-amd64"), format!("{tag}-arm64")] {
        let _ = docker::docker(&["rmi", "-f", &name]);
    }
}

#[test]
fn an_image_pushed_with_dockers_credentials_serves_an_ephemeral_collection_and_a_missing_one_changes_no_pod(
) {
    let Some(bin) = docker::setup() else { return };
    let Some(reg) = Server::registry("responder", "pw-for-the-test") else {
        return;
    };
    let registry = format!("127.0.0.1:{}", reg.port);
    let t = tempfile::tempdir().unwrap();
    let (bad, good) = (t.path().join("bad"), t.path().join("good"));
    docker_config(&bad, &registry, "responder", "wrong");
    docker_config(&good, &registry, "responder", "pw-for-the-test");
    let name = format!("{registry}/ir/cairn-collector:e2e");
    let mut args = vec!["image", "--push", name.as_str()];
    let bins = collectors();
    args.extend(bins.iter().map(String::as_str));
    let o = cairn_with(&bad, &args);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("not authorized"),
        "{}",
        text(&o.stderr)
    );
    let o = cairn_with(&good, &args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let said = text(&o.stdout);
    let by_digest = said
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{registry}/ir/cairn-collector@sha256:")))
        .unwrap_or_else(|| panic!("no image by digest in: {said}"))
        .to_owned();
    // The node pulls it from the registry, with the same credentials.
    let pull = Command::new("docker")
        .args(["pull", "-q", &by_digest])
        .env("DOCKER_CONFIG", &good)
        .output()
        .unwrap();
    assert!(pull.status.success(), "{}", text(&pull.stderr));

    let img = Images::build(&bin, "imgpush");
    img.app_pod("api");
    let s = ApiServer::start(&[]);
    let dir = s.dir.path().join("out");
    let collect = |image: &str| {
        let kubeconfig = s.kubeconfig.to_str().unwrap().to_owned();
        let out = dir.to_str().unwrap().to_owned();
        let mut a = vec!["--kubeconfig", &kubeconfig, "-n", &img.ns, "collect", "api"];
        a.extend(["--via", "ephemeral", "--collector-image", image]);
        a.extend(["--output-dir", &out, "-o", "json"]);
        let mut c = crate::common::env::command(CAIRN);
        c.args(&a)
            .env("DOCKER_CONFIG", &good)
            .env("CAIRN_COLLECTOR_BIN", musl("CAIRN_MUSL_BIN"));
        c.output().unwrap()
    };
    let o = collect(&by_digest);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(archives(&dir).len(), 1);
    let ephemeral = || {
        docker::ok(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=io.kubernetes.pod.namespace={}", img.ns),
            "--filter",
            "label=cairn.test/ephemeral-target",
        ])
        .lines()
        .count()
    };
    assert_eq!(ephemeral(), 1);
    // An image the registry does not hold: one sentence, and no ephemeral container.
    let o = collect(&format!("{registry}/ir/cairn-collector:no-such-tag"));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let r = &serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0];
    let error = r["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!("{registry} has no such image"))
            && error.contains("cairn image --push")
            && error.contains("--collector-image"),
        "{r}"
    );
    assert_eq!(ephemeral(), 1, "an ephemeral container was added anyway");
    let _ = docker::docker(&["rmi", "-f", &by_digest]);
}
