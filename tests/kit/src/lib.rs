//! What cairn's tests share, so each test file says only what it tests:
//! - [`dir`]: a directory of its own per test (the tree to collect and the outputs),
//!   nothing written anywhere else;
//! - [`archive`]: reading an archive back, entry by entry, with its manifest, log and
//!   summary; and [`verify_ok`] with the real collector;
//! - [`docker`]: images built locally from Debian packages, containers removed on drop,
//!   the host's address as containers see it;
//! - [`stores`], [`faults`], [`tls`]: real object stores (s3s-fs, Azurite,
//!   fake-gcs-server), a fault-injecting proxy, a private CA and a CONNECT proxy;
//! - [`apiserver`]: the test Kubernetes API server and a TCP relay;
//! - [`env`]: binaries run without the caller's cloud, kube and proxy settings.
//! - [`standin`]: static executables that stand in for the collector, as an attacker
//!   in the pod could.
//!
//! Under `CI=true` a missing service fails the test that needs it; elsewhere the test
//! skips loudly ([`docker::require`]).
#![forbid(unsafe_code)]
#![allow(dead_code)]

pub mod apiserver;
pub mod archive;
pub mod dir;
pub mod docker;
pub mod env;
pub mod faults;
pub mod standin;
pub mod stores;
pub mod tls;

use std::path::Path;

/// Verifies `archive` with the collector `bin` (`cairn-collector verify`), failing the
/// test with what it printed if it does not verify.
pub fn verify_ok(bin: &Path, archive: &Path) {
    let o = env::command(bin)
        .arg("verify")
        .arg(archive)
        .output()
        .expect("running the collector");
    assert!(
        o.status.success(),
        "verify {}: {}{}",
        archive.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The static collector the container tests deliver (`CAIRN_MUSL_BIN`).
pub fn musl_bin() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var("CAIRN_MUSL_BIN").expect("CAIRN_MUSL_BIN"))
}
