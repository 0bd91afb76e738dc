//! The launcher end to end: `cairn` against cairn-test-apiserver on real Docker
//! containers labelled as pods, one file per route or concern: [`exec`] (pods/exec,
//! delivery by stdin and by download, timeouts, many pods), [`uploads`] (straight to
//! S3, GCS, Azure), [`routes`] (distroless containers: ephemeral container, sidecar,
//! node), [`cluster`] (credential plugins, in-cluster config, `kubectl cairn`),
//! [`delivery`] (the collector per architecture, refused when unfit, and what lands
//! on the target), [`memory`] (fileless processes captured, scanned and recovered),
//! [`yara`] (the responder's rules sent into pods), [`fleet`] (simulated pods, many
//! at once), [`sweep`] (a node's containers from one pod), [`in_cluster`] (the sweep
//! Job of deploy/).
//! Archives are verified, named after their target, and nothing is left behind in the
//! containers.

mod common {
    //! The kit's helpers this suite uses.
    pub use cairn_testkit::apiserver::{relay, ApiServer};
    pub use cairn_testkit::dir::assert_private;
    pub use cairn_testkit::{docker, env, standin, stores};
}
mod cluster;
mod delivery;
mod evidence;
mod exec;
mod fleet;
mod hostile_archives;
mod hostile_strings;
mod image;
mod in_cluster;
mod memory;
mod report;
mod routes;
mod sweep;
mod timeline;
mod uploads;
mod yara;
use common::docker::{self, Container};
use common::ApiServer;
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

/// The collections' archives in `dir`, checked: verified, with a matching `.sha256`
/// beside each; the Kubernetes evidence archives beside them (`.k8s.tar.zst`) are
/// checked the same way but not returned.
fn archives(dir: &Path) -> Vec<String> {
    let mut all: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tar.zst"))
        .collect();
    all.sort();
    for n in &all {
        let p = dir.join(n);
        verify_ok(&p);
        // Evidence that may hold secrets: readable by its owner only.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{n}");
        let sha = std::fs::read_to_string(dir.join(format!("{n}.sha256"))).unwrap();
        let real = Command::new("sha256sum").arg(&p).output().unwrap();
        assert_eq!(
            sha.split_whitespace().next(),
            text(&real.stdout).split_whitespace().next()
        );
    }
    all.retain(|n| !n.ends_with(".k8s.tar.zst"));
    all
}

/// Verifies an archive with the static collector (`CAIRN_MUSL_BIN`).
fn verify_ok(path: &Path) {
    cairn_testkit::verify_ok(&cairn_testkit::musl_bin(), path);
}
