//! The test Kubernetes API server (`cairn-test-apiserver`, built by cargo for the
//! workspace's tests), started per test with its own kubeconfig and log; and a TCP
//! relay that lets containers reach a server listening on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ApiServer {
    child: Child,
    pub kubeconfig: PathBuf,
    pub log: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ApiServer {
    /// Starts `cairn-test-apiserver` (built by cargo for the workspace's tests).
    pub fn start(extra: &[&str]) -> ApiServer {
        let bin =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/cairn-test-apiserver");
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let log = dir.path().join("server.log");
        let child = Command::new(&bin)
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .arg("--record-execs")
            .arg(dir.path().join("execs"))
            .args(extra)
            .env("CAIRN_LOG", "info")
            .env("NO_COLOR", "1")
            .stderr(std::fs::File::create(&log).unwrap())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (cargo build -p cairn-test-apiserver)",
                    bin.display()
                )
            });
        let deadline = Instant::now() + Duration::from_secs(20);
        while !kubeconfig.exists() {
            assert!(
                Instant::now() < deadline,
                "the test API server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        ApiServer {
            child,
            kubeconfig,
            log,
            dir,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Everything the pods were given through exec so far: every command's arguments
    /// and every byte sent on its stdin, concatenated (what a root attacker inside the
    /// target could read).
    pub fn what_pods_saw(&self) -> Vec<u8> {
        let mut all = Vec::new();
        let dir = self.dir.path().join("execs");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        for f in files {
            all.extend(std::fs::read(&f).unwrap_or_default());
            all.push(b'\n');
        }
        all
    }
}

/// Relays a port on every interface (so containers reach it through the bridge) to
/// `127.0.0.1:to`, bytes unchanged (so SigV4 signatures made for the relay's address
/// verify upstream). Returns the relay's port.
pub fn relay(to: u16) -> u16 {
    let l = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(c) = c else { continue };
            let Ok(u) = std::net::TcpStream::connect(("127.0.0.1", to)) else {
                continue;
            };
            let (mut c2, mut u2) = (c.try_clone().unwrap(), u.try_clone().unwrap());
            let (mut c, mut u) = (c, u);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c2, &mut u2);
                let _ = u2.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut u, &mut c);
                let _ = c.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}
