//! System and identity: hostname, os-release, kernel, uptime and boot time, loaded
//! kernel modules, the container's identity ([`super::container`]) and its Kubernetes
//! context (namespace from the service-account mount, `KUBERNETES_*` variables, the
//! hostname as pod name, and the service-account token's *claims*: the token itself
//! and its signature are never stored). Also the collector's own privileges.
//! Written as `live_response/system/system.json` and `modules.jsonl`.

use super::container;
use super::parse;
use super::Emit;
use crate::source::procfs::ProcFs;
use crate::source::Root;
use base64::Engine as _;
use cairn_archive::member::live::{MODULES, SYSTEM};
use cairn_archive::records::system::{
    Claims, Kernel, Kubernetes, Markers, ModulesLoaded, Privileges, System, Token,
};
use std::collections::BTreeMap;

/// Where Kubernetes mounts a pod's service-account credentials.
pub const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The claims (payload) of a JWT, decoded; the header is kept for `alg`/`kid`, the
/// signature is dropped and never leaves this function.
pub fn jwt_claims(token: &[u8]) -> Option<Token> {
    let text = std::str::from_utf8(token).ok()?.trim();
    let mut parts = text.split('.');
    let (header, payload) = (parts.next()?, parts.next()?);
    parts.next()?; // a signature must be present for this to be a JWS at all
    let raw = |p: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p.trim_end_matches('='))
            .ok()
    };
    #[derive(serde::Deserialize)]
    struct Header {
        alg: Option<serde_json::Value>,
        kid: Option<serde_json::Value>,
    }
    let header: Header = serde_json::from_slice(&raw(header)?).ok()?;
    let claims: Claims = serde_json::from_slice(&raw(payload)?).ok()?;
    Some(Token::Decoded {
        alg: header.alg,
        kid: header.kid,
        claims,
    })
}

fn os_release(root: &Root) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for path in [&b"/etc/os-release"[..], b"/usr/lib/os-release"] {
        if let Ok(text) = root.read_small(path, 64 << 10) {
            for line in String::from_utf8_lossy(&text).lines() {
                if let Some((k, v)) = line.split_once('=') {
                    map.insert(k.trim().to_owned(), v.trim().trim_matches('"').to_owned());
                }
            }
            break;
        }
    }
    if map.is_empty() {
        for (key, path) in [
            ("ALPINE_RELEASE", &b"/etc/alpine-release"[..]),
            ("DEBIAN_VERSION", b"/etc/debian_version"),
        ] {
            if let Ok(v) = root.read_small(path, 4096) {
                map.insert(key.into(), String::from_utf8_lossy(&v).trim().to_owned());
            }
        }
    }
    map
}

/// The collector's own credentials and capabilities, for the summary and the log.
pub fn privileges() -> Privileges {
    let status = std::fs::read("/proc/self/status").unwrap_or_default();
    let s = parse::status(&status);
    Privileges {
        uid: rustix::process::getuid().as_raw(),
        euid: rustix::process::geteuid().as_raw(),
        gid: rustix::process::getgid().as_raw(),
        egid: rustix::process::getegid().as_raw(),
        cap_eff: s.get("CapEff").cloned(),
        cap_prm: s.get("CapPrm").cloned(),
        cap_bnd: s.get("CapBnd").cloned(),
        no_new_privs: s.get("NoNewPrivs").map(|v| v == "1"),
        seccomp: s.get("Seccomp").cloned(),
    }
}

/// The `KUBERNETES_*` variables: the collector's own, else PID 1's (the container's
/// main process).
fn kubernetes_env(proc: Option<&ProcFs>) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let k = k.to_string_lossy().into_owned();
            k.starts_with("KUBERNETES_")
                .then(|| (k, v.to_string_lossy().into_owned()))
        })
        .collect();
    if env.is_empty() {
        if let Some(e) = proc
            .and_then(|p| p.process(1).ok())
            .and_then(|d| d.read("environ", 1 << 20).ok())
        {
            for item in parse::nul_list(&e) {
                let text = String::from_utf8_lossy(item);
                if let Some((k, v)) = text.split_once('=') {
                    if k.starts_with("KUBERNETES_") {
                        env.insert(k.to_owned(), v.to_owned());
                    }
                }
            }
        }
    }
    env
}

fn kubernetes(root: &Root, hostname: Option<&str>, proc: Option<&ProcFs>) -> Kubernetes {
    let read = |name: &str| {
        root.read_small(format!("{SA_DIR}/{name}").as_bytes(), 1 << 20)
            .ok()
    };
    let namespace = read("namespace").map(|n| String::from_utf8_lossy(&n).trim().to_owned());
    let token = read("token");
    let env = kubernetes_env(proc);
    let in_pod = namespace.is_some() || !env.is_empty();
    Kubernetes {
        in_pod,
        namespace,
        pod_name_from_hostname: in_pod.then_some(hostname).flatten().map(str::to_owned),
        env,
        service_account_token: token.map(|t| {
            jwt_claims(&t).unwrap_or(Token::Undecodable {
                error: "not a decodable JWT".into(),
                bytes: t.len() as u64,
            })
        }),
    }
}

/// What only a live system has: the kernel, uptime, modules, the container's identity
/// and the collector's privileges.
fn live_fields(sys: &mut System, proc: &ProcFs, artifact: &str, emit: &mut dyn Emit) {
    let uts = rustix::system::uname();
    sys.kernel = Some(Kernel {
        sysname: uts.sysname().to_string_lossy().into_owned(),
        release: uts.release().to_string_lossy().into_owned(),
        version: uts.version().to_string_lossy().into_owned(),
        machine: uts.machine().to_string_lossy().into_owned(),
        cmdline: proc
            .read("cmdline", 64 << 10)
            .ok()
            .map(|c| String::from_utf8_lossy(&c).trim().to_owned()),
    });
    sys.uptime_seconds = proc.read("uptime", 4096).ok().and_then(|u| {
        String::from_utf8_lossy(&u)
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
    });
    sys.boot_time =
        crate::source::procfs::boot_time(proc).map(|b| cairn_archive::text::rfc3339(b, 0));
    sys.collected_at = Some(cairn_archive::text::now_rfc3339());
    sys.modules_loaded = Some(match proc.read("modules", 4 << 20) {
        Ok(m) => {
            let mods = parse::modules(&m);
            let mut out = Vec::new();
            for md in &mods {
                if let Ok(line) = serde_json::to_vec(md) {
                    out.extend_from_slice(&line);
                    out.push(b'\n');
                }
            }
            emit.output(artifact, MODULES, &out);
            ModulesLoaded::Count(mods.len() as u64)
        }
        Err(e) => ModulesLoaded::Error {
            error: e.to_string(),
        },
    });
    let cgroup = proc.read("self/cgroup", 64 << 10).unwrap_or_default();
    let mounts = proc
        .read("self/mountinfo", 16 << 20)
        .map(|m| parse::mountinfo(&m))
        .unwrap_or_default();
    sys.container = Some(container::from_mounts(
        container::from_cgroup(&String::from_utf8_lossy(&cgroup)),
        &mounts,
    ));
    sys.collector_privileges = Some(privileges());
}

pub fn run(root: &Root, proc: Option<&ProcFs>, artifact: &str, emit: &mut dyn Emit) {
    let hostname = if proc.is_some() {
        Some(
            rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned(),
        )
    } else {
        root.read_small(b"/etc/hostname", 4096)
            .ok()
            .map(|h| String::from_utf8_lossy(&h).trim().to_owned())
    };
    let exists = |p: &[u8]| root.resolve(p).is_ok();
    let mut sys = System {
        os_release: os_release(root),
        container_markers: Markers {
            dockerenv: exists(b"/.dockerenv"),
            containerenv: exists(b"/run/.containerenv"),
        },
        kubernetes: kubernetes(root, hostname.as_deref(), proc),
        hostname,
        ..System::default()
    };
    if let Some(proc) = proc {
        live_fields(&mut sys, proc, artifact, emit);
    }
    let text = serde_json::to_vec_pretty(&sys).unwrap_or_default();
    emit.output(artifact, SYSTEM, &text);
}

/// The `system` native collector (what it can on an offline tree).
pub fn native(r: &mut super::Run<'_>) {
    run(r.root, r.proc, r.artifact, r.emit);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_claims_only() {
        let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let token = format!(
            "{}.{}.{}",
            enc(r#"{"alg":"RS256","kid":"k1"}"#),
            enc(
                r#"{"iss":"https://kubernetes.default.svc","sub":"system:serviceaccount:prod:web","kubernetes.io":{"namespace":"prod","pod":{"name":"web-0"}}}"#
            ),
            "c2lnbmF0dXJlLXNlY3JldA"
        );
        let v = serde_json::to_value(jwt_claims(token.as_bytes()).unwrap()).unwrap();
        assert_eq!(v["alg"], "RS256");
        assert_eq!(v["claims"]["sub"], "system:serviceaccount:prod:web");
        assert_eq!(v["claims"]["kubernetes.io"]["pod"]["name"], "web-0");
        let text = v.to_string();
        assert!(!text.contains("c2lnbmF0dXJl"), "signature leaked: {text}");
        assert!(!text.contains(&token), "raw token leaked");
        assert!(jwt_claims(b"not-a-jwt").is_none());
        assert!(jwt_claims(b"a.b").is_none());
        assert!(jwt_claims(b"\xff.\xfe.x").is_none());
    }
}
