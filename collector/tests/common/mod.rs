//! What the collector's tests share: the kit ([`cairn_testkit`]), the binary under
//! test, and running it.
#![allow(dead_code, unused_imports)]

pub use cairn_testkit::archive::{spec_all, Archive, EntryData};
pub use cairn_testkit::dir::TestDir;
pub use cairn_testkit::{docker, env, faults, stores, tls};

use std::path::Path;
use std::process::Output;

/// The collector under test: the one this build made, or `CAIRN_TEST_COLLECTOR` (the
/// static aarch64 collector, which `tests/run-all.sh` runs these suites against under
/// qemu binfmt).
pub fn bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("CAIRN_TEST_COLLECTOR")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_cairn-collector").to_owned())
    })
}

pub fn run(args: &[&str]) -> Output {
    env::command(bin())
        .args(args)
        .output()
        .expect("spawn collector")
}

/// Runs `collect` of `root` into `out` with extra args, progress off.
fn collect_status(root: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "collect",
        "--root",
        root.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--progress",
        "none",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// Collects `root` into `out` with extra args, asserting success.
pub fn collect(root: &Path, out: &Path, extra: &[&str]) -> Output {
    let o = collect_status(root, out, extra);
    assert!(
        o.status.success(),
        "collect failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Like [`collect`], for a collection that a limit cuts short: the archive is valid,
/// and the exit status says it is incomplete (4).
pub fn collect_cut(root: &Path, out: &Path, extra: &[&str]) -> Output {
    let o = collect_status(root, out, extra);
    assert_eq!(
        o.status.code(),
        Some(cairn_protocol::exit::CUT_SHORT),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// `cairn-collector verify` on an archive that must verify: what it printed.
pub fn verify(path: &Path) -> String {
    let o = run(&["verify", path.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    said
}

/// Verifies an archive with the collector under test.
pub fn verify_ok(path: &Path) {
    cairn_testkit::verify_ok(Path::new(bin()), path);
}
