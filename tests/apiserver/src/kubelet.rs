//! What a kubelet gives a created pod's containers beyond `docker run`'s image and
//! command: its volumes (`hostPath` bind mounts, read-only when asked and moved by
//! `--host-path-map`; `emptyDir` as a tmpfs), its environment (`env` values and
//! `envFrom` Secrets, read from `--objects`), the pod's securityContext under the
//! container's, and, with `--pod-api-host`, what an in-cluster client needs: the
//! service account's token, the CA and the namespace at
//! /var/run/secrets/kubernetes.io/serviceaccount (unless `automountServiceAccountToken`
//! is false) and `KUBERNETES_SERVICE_HOST`/`PORT`. Every service account gets the
//! allowed user's token: this server has three users, not one per account.

use base64::Engine;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The image a kubelet on node `node` runs for `image`, and the `docker run` arguments
/// that go with it. A kubelet pulls the variant of a multi-architecture image that
/// matches its node; Docker's store holds one architecture per tag, so the tag
/// scripts/build-image.sh gives each architecture (`TAG-arm64`) stands for that variant
/// on the arm64 twin, which runs it through qemu binfmt. The pod still names `image`
/// (a label keeps it for the pod's listing).
pub async fn resolve(image: &str, node: Option<&str>) -> (String, Vec<String>) {
    let arch = node.and_then(crate::pods::node).and_then(|n| {
        n["metadata"]["labels"]["kubernetes.io/arch"]
            .as_str()
            .map(str::to_owned)
    });
    let Some(arch) = arch.filter(|a| a != "amd64") else {
        return (image.to_owned(), Vec::new());
    };
    let variant = format!("{image}-{arch}");
    let found = tokio::process::Command::new("docker")
        .args(["image", "inspect", "-f", "{{.Architecture}}", &variant])
        .output()
        .await
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == arch);
    let chosen = if found { variant } else { image.to_owned() };
    let args = vec![
        "--platform".into(),
        format!("linux/{arch}"),
        "--label".into(),
        format!("{}={image}", crate::pods::ASKED_IMAGE_LABEL),
    ];
    (chosen, args)
}

/// Where created pods reach this server, and what they are given to trust and prove.
pub struct InCluster {
    pub host: String,
    pub port: u16,
    pub ca_pem: String,
    pub token: String,
    /// Each pod's service-account directory is made below this one.
    pub dir: PathBuf,
}

const SA_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The `docker run` arguments for container `c` of `pod` in namespace `ns`, besides its
/// image, command and labels.
pub fn run_args(
    state: &crate::State,
    ns: &str,
    pod: &Value,
    c: &Value,
) -> Result<Vec<String>, String> {
    let spec = &pod["spec"];
    let mut args = mounts(spec, c, &state.host_paths)?;
    args.extend(env(state.objects.as_deref(), ns, c)?);
    let mut sc = spec["securityContext"].clone();
    for (k, v) in c["securityContext"].as_object().into_iter().flatten() {
        sc[k] = v.clone();
    }
    args.extend(crate::run_args::security(&sc)?);
    if let Some(ic) = &state.in_cluster {
        if spec["automountServiceAccountToken"] != false {
            let name = pod["metadata"]["name"].as_str().unwrap_or_default();
            let dir = service_account(ic, ns, name).map_err(|e| format!("service account: {e}"))?;
            args.extend(["-v".into(), format!("{}:{SA_PATH}:ro", dir.display())]);
        }
        args.extend([
            "-e".into(),
            format!("KUBERNETES_SERVICE_HOST={}", ic.host),
            "-e".into(),
            format!("KUBERNETES_SERVICE_PORT={}", ic.port),
        ]);
    }
    Ok(args)
}

/// Bind mounts and tmpfs mounts for the container's `volumeMounts`.
fn mounts(spec: &Value, c: &Value, host_paths: &[(String, String)]) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    for m in c["volumeMounts"].as_array().into_iter().flatten() {
        let vname = m["name"].as_str().unwrap_or_default();
        let volume = spec["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["name"] == vname)
            .ok_or_else(|| format!("volumeMounts: no volume {vname:?} in the pod"))?;
        let path = m["mountPath"].as_str().unwrap_or_default();
        if !path.starts_with('/') || path.contains([':', ',']) {
            return Err(format!("volumeMounts: bad mount path {path:?}"));
        }
        if volume.get("emptyDir").is_some() {
            args.extend(["--tmpfs".into(), format!("{path}:rw,mode=1777")]);
            continue;
        }
        let host = volume["hostPath"]["path"].as_str().ok_or_else(|| {
            format!("volumeMounts: volume {vname:?} is neither hostPath nor emptyDir")
        })?;
        if host.contains(':') {
            return Err(format!("volumeMounts: bad host path {host:?}"));
        }
        let ro = if m["readOnly"] == true { ":ro" } else { "" };
        let host = host_paths
            .iter()
            .find_map(|(from, to)| {
                let rest = host.strip_prefix(from.as_str())?;
                (rest.is_empty() || rest.starts_with('/')).then(|| format!("{to}{rest}"))
            })
            .unwrap_or_else(|| host.to_owned());
        args.extend(["-v".into(), format!("{host}:{path}{ro}")]);
    }
    Ok(args)
}

/// `-e` arguments for `env` (literal values) and `envFrom` (Secrets in `objects`).
fn env(objects: Option<&Path>, ns: &str, c: &Value) -> Result<Vec<String>, String> {
    let mut vars: Vec<(String, String)> = Vec::new();
    for from in c["envFrom"].as_array().into_iter().flatten() {
        let Some(name) = from["secretRef"]["name"].as_str() else {
            return Err("envFrom: only secretRef is served".into());
        };
        vars.extend(secret(objects, ns, name)?);
    }
    for e in c["env"].as_array().into_iter().flatten() {
        let (Some(k), Some(v)) = (e["name"].as_str(), e["value"].as_str()) else {
            return Err("env: only literal values are served".into());
        };
        vars.push((k.to_owned(), v.to_owned()));
    }
    let mut args = Vec::new();
    for (k, v) in vars {
        if k.is_empty() || k.contains('=') {
            return Err(format!("env: bad name {k:?}"));
        }
        args.extend(["-e".into(), format!("{k}={v}")]);
    }
    Ok(args)
}

/// The keys and values of Secret `ns/name` in the objects directory.
fn secret(objects: Option<&Path>, ns: &str, name: &str) -> Result<Vec<(String, String)>, String> {
    let missing = || format!("secret \"{name}\" not found in namespace {ns}");
    let dir = objects.ok_or_else(missing)?;
    let found = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .flatten()
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice::<Value>(&b).ok())
        .find(|o| {
            o["kind"] == "Secret"
                && o["metadata"]["namespace"] == ns
                && o["metadata"]["name"] == name
        })
        .ok_or_else(missing)?;
    let mut out = Vec::new();
    for (k, v) in found["data"].as_object().into_iter().flatten() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .map_err(|e| format!("secret {name} key {k}: {e}"))?;
        out.push((k.clone(), String::from_utf8_lossy(&bytes).into_owned()));
    }
    Ok(out)
}

/// The service-account directory for pod `ns/name`: token, ca.crt and namespace,
/// readable by any user as the kubelet's projected volume is (mode 0644).
fn service_account(ic: &InCluster, ns: &str, name: &str) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dns = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !s.starts_with('.')
    };
    if !dns(ns) || !dns(name) {
        return Err(std::io::Error::other(format!(
            "{ns}/{name} is not a valid pod name"
        )));
    }
    let dir = ic.dir.join(format!("{ns}_{name}"));
    std::fs::create_dir_all(&dir)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
    for (file, text) in [
        ("token", ic.token.as_str()),
        ("ca.crt", &ic.ca_pem),
        ("namespace", ns),
    ] {
        let p = dir.join(file);
        std::fs::write(&p, text)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(dir)
}

/// Forgets pod `ns/name`'s service-account directory.
pub fn forget(ic: Option<&InCluster>, ns: &str, name: &str) {
    if let Some(ic) = ic {
        let _ = std::fs::remove_dir_all(ic.dir.join(format!("{ns}_{name}")));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn volumes_become_bind_mounts_and_tmpfs_and_an_unknown_one_is_refused() {
        let spec = json!({"volumes": [
            {"name": "logs", "hostPath": {"path": "/var/log/pods"}},
            {"name": "tmp", "emptyDir": {}},
        ]});
        let c = json!({"volumeMounts": [
            {"name": "logs", "mountPath": "/node/logs", "readOnly": true},
            {"name": "tmp", "mountPath": "/tmp"},
        ]});
        let moved = [("/var/log/pods".to_owned(), "/srv/pods".to_owned())];
        assert_eq!(
            super::mounts(&spec, &c, &moved).unwrap(),
            [
                "-v",
                "/srv/pods:/node/logs:ro",
                "--tmpfs",
                "/tmp:rw,mode=1777"
            ]
        );
        let c = json!({"volumeMounts": [{"name": "nope", "mountPath": "/x"}]});
        assert!(super::mounts(&spec, &c, &[]).is_err());
        let c = json!({"volumeMounts": [{"name": "tmp", "mountPath": "/x,size=1"}]});
        assert!(super::mounts(&spec, &c, &[]).is_err());
    }

    #[test]
    fn env_takes_literal_values_and_secrets_of_the_pods_namespace_only() {
        let d = tempfile::tempdir().unwrap();
        let secret = json!({"kind": "Secret", "metadata": {"name": "store", "namespace": "ir"},
                            "data": {"AWS_REGION": "ZXUtd2VzdC0x"}});
        std::fs::write(d.path().join("s.json"), secret.to_string()).unwrap();
        let c = json!({"envFrom": [{"secretRef": {"name": "store"}}],
                       "env": [{"name": "HOME", "value": "/tmp"}]});
        assert_eq!(
            super::env(Some(d.path()), "ir", &c).unwrap(),
            ["-e", "AWS_REGION=eu-west-1", "-e", "HOME=/tmp"]
        );
        let err = super::env(Some(d.path()), "other", &c).unwrap_err();
        assert!(err.contains("not found in namespace other"), "{err}");
    }
}
