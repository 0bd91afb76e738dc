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
use serde_json::{json, Map, Value};

/// Where Kubernetes mounts a pod's service-account credentials.
pub const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The claims (payload) of a JWT, decoded; the header is kept for `alg`/`kid`, the
/// signature is dropped and never leaves this function.
pub fn jwt_claims(token: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(token).ok()?.trim();
    let mut parts = text.split('.');
    let (header, payload) = (parts.next()?, parts.next()?);
    parts.next()?; // a signature must be present for this to be a JWS at all
    let decode = |p: &str| -> Option<Value> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p.trim_end_matches('='))
            .ok()?;
        serde_json::from_slice(&raw).ok()
    };
    let header = decode(header)?;
    let claims = decode(payload)?;
    Some(json!({
        "alg": header.get("alg"),
        "kid": header.get("kid"),
        "claims": claims,
    }))
}

fn os_release(root: &Root) -> Value {
    let mut map = Map::new();
    for path in [&b"/etc/os-release"[..], b"/usr/lib/os-release"] {
        if let Ok(text) = root.read_small(path, 64 << 10) {
            for line in String::from_utf8_lossy(&text).lines() {
                if let Some((k, v)) = line.split_once('=') {
                    map.insert(k.trim().to_owned(), json!(v.trim().trim_matches('"')));
                }
            }
            break;
        }
    }
    if map.is_empty() {
        if let Ok(v) = root.read_small(b"/etc/alpine-release", 4096) {
            map.insert(
                "ALPINE_RELEASE".into(),
                json!(String::from_utf8_lossy(&v).trim()),
            );
        }
        if let Ok(v) = root.read_small(b"/etc/debian_version", 4096) {
            map.insert(
                "DEBIAN_VERSION".into(),
                json!(String::from_utf8_lossy(&v).trim()),
            );
        }
    }
    Value::Object(map)
}

/// The collector's own credentials and capabilities, for the summary and the log.
pub fn privileges() -> Value {
    let status = std::fs::read("/proc/self/status").unwrap_or_default();
    let s = parse::status(&status);
    json!({
        "uid": rustix::process::getuid().as_raw(),
        "euid": rustix::process::geteuid().as_raw(),
        "gid": rustix::process::getgid().as_raw(),
        "egid": rustix::process::getegid().as_raw(),
        "cap_eff": s.get("CapEff"),
        "cap_prm": s.get("CapPrm"),
        "cap_bnd": s.get("CapBnd"),
        "no_new_privs": s.get("NoNewPrivs").map(|v| v == "1"),
        "seccomp": s.get("Seccomp"),
    })
}

fn kubernetes(root: &Root, hostname: Option<&str>, proc: Option<&ProcFs>) -> Value {
    let read = |name: &str| {
        root.read_small(format!("{SA_DIR}/{name}").as_bytes(), 1 << 20)
            .ok()
    };
    let namespace = read("namespace").map(|n| String::from_utf8_lossy(&n).trim().to_owned());
    let token = read("token");
    let claims = token.as_deref().and_then(jwt_claims);
    // The collector's own environment, and PID 1's (the container's main process), for
    // the variables Kubernetes injects.
    let mut env: Map<String, Value> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let k = k.to_string_lossy().into_owned();
            k.starts_with("KUBERNETES_")
                .then(|| (k, json!(v.to_string_lossy())))
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
                        env.insert(k.to_owned(), json!(v));
                    }
                }
            }
        }
    }
    let in_pod = namespace.is_some() || !env.is_empty();
    json!({
        "in_pod": in_pod,
        "namespace": namespace,
        "pod_name_from_hostname": in_pod.then_some(hostname).flatten(),
        "env": env,
        "service_account_token": match (&token, &claims) {
            (None, _) => Value::Null,
            (Some(_), Some(c)) => c.clone(),
            (Some(t), None) => json!({"error": "not a decodable JWT", "bytes": t.len()}),
        },
    })
}

pub fn run(root: &Root, proc: Option<&ProcFs>, artifact: &str, emit: &mut dyn Emit) {
    let live = proc.is_some();
    let hostname = if live {
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
    let mut sys = Map::new();
    sys.insert("hostname".into(), json!(hostname));
    sys.insert("os_release".into(), os_release(root));
    if let Some(proc) = proc {
        let uts = rustix::system::uname();
        sys.insert(
            "kernel".into(),
            json!({
                "sysname": uts.sysname().to_string_lossy(),
                "release": uts.release().to_string_lossy(),
                "version": uts.version().to_string_lossy(),
                "machine": uts.machine().to_string_lossy(),
                "cmdline": proc.read("cmdline", 64 << 10).ok().map(|c| String::from_utf8_lossy(&c).trim().to_owned()),
            }),
        );
        let uptime = proc.read("uptime", 4096).ok().and_then(|u| {
            String::from_utf8_lossy(&u)
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok())
        });
        sys.insert("uptime_seconds".into(), json!(uptime));
        let boot = crate::source::procfs::boot_time(proc);
        sys.insert(
            "boot_time".into(),
            json!(boot.map(|b| crate::units::rfc3339(b, 0))),
        );
        sys.insert("collected_at".into(), json!(crate::units::now_rfc3339()));
        match proc.read("modules", 4 << 20) {
            Ok(m) => {
                let mods = parse::modules(&m);
                let mut out = Vec::new();
                for md in &mods {
                    out.extend_from_slice(
                        json!({"name": md.name, "size": md.size, "refcount": md.refcount, "used_by": md.used_by, "state": md.state}).to_string().as_bytes(),
                    );
                    out.push(b'\n');
                }
                sys.insert("modules_loaded".into(), json!(mods.len()));
                emit.output(artifact, "system/modules.jsonl", &out);
            }
            Err(e) => {
                sys.insert("modules_loaded".into(), json!({"error": e.to_string()}));
            }
        }
        let cgroup = proc.read("self/cgroup", 64 << 10).unwrap_or_default();
        let mounts = proc
            .read("self/mountinfo", 16 << 20)
            .map(|m| parse::mountinfo(&m))
            .unwrap_or_default();
        let id = container::from_mounts(
            container::from_cgroup(&String::from_utf8_lossy(&cgroup)),
            &mounts,
        );
        sys.insert("container".into(), json!(id));
        sys.insert("collector_privileges".into(), privileges());
    }
    let exists = |p: &[u8]| root.resolve(p).is_ok();
    sys.insert(
        "container_markers".into(),
        json!({
            "dockerenv": exists(b"/.dockerenv"),
            "containerenv": exists(b"/run/.containerenv"),
        }),
    );
    sys.insert(
        "kubernetes".into(),
        kubernetes(root, hostname.as_deref(), proc),
    );
    let text = serde_json::to_vec_pretty(&Value::Object(sys)).unwrap_or_default();
    emit.output(artifact, "system/system.json", &text);
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
        let v = jwt_claims(token.as_bytes()).unwrap();
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
