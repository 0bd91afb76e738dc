//! Docker's containers on disk (`/var/lib/docker`, overlay2 storage driver):
//! `containers/<id>/config.v2.json` (ID, name, image, labels, created, state), then
//! `image/overlay2/layerdb/mounts/<id>/mount-id` → `overlay2/<mount-id>/diff` (the
//! container's writable layer) and `overlay2/<mount-id>/lower`, a `:`-separated list of
//! `l/<short>` links into the lower layers' `diff` directories, topmost first (the
//! first is the container's `-init` layer: hosts, resolv.conf, hostname, .dockerenv).

use super::{read_limited, safe_component, NodeContainer, Runtime};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const CONFIG_LIMIT: u64 = 16 << 20;

/// Every Docker container under `node_root`, and warnings.
/// The Docker explorer.
pub struct Docker;

impl super::Explorer for Docker {
    fn runtime(&self) -> Runtime {
        Runtime::Docker
    }

    fn list(&self, node_root: &Path) -> (Vec<NodeContainer>, Vec<String>) {
        list(node_root)
    }
}

pub fn list(node_root: &Path) -> (Vec<NodeContainer>, Vec<String>) {
    let base = super::state_dir(node_root, Runtime::Docker);
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let dir = match std::fs::read_dir(base.join("containers")) {
        Ok(d) => d,
        Err(e) => {
            if e.kind() != std::io::ErrorKind::NotFound {
                warnings.push(format!(
                    "docker: {}: {e}",
                    base.join("containers").display()
                ));
            }
            return (out, warnings);
        }
    };
    for entry in dir.flatten() {
        let id = entry.file_name().to_string_lossy().into_owned();
        let config = entry.path().join("config.v2.json");
        match read_container(&base, &id, &config) {
            Ok(c) => out.push(c),
            Err(e) => warnings.push(format!("docker container {id}: {e}")),
        }
    }
    (out, warnings)
}

/// True for a name metadata may give a layer or container directory (no `/`, not
/// `..`): what the explorer accepts before joining it to a path.
pub fn plausible_id(s: &str) -> bool {
    safe_component(s).is_some()
}

fn read_container(base: &Path, id: &str, config: &Path) -> Result<NodeContainer, String> {
    let bytes =
        read_limited(config, CONFIG_LIMIT).map_err(|e| format!("{}: {e}", config.display()))?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", config.display()))?;
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let labels: BTreeMap<String, String> = v["Config"]["Labels"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let st = &v["State"];
    let state = if st["Running"] == true {
        if st["Paused"] == true {
            "paused"
        } else {
            "running"
        }
    } else if st["Dead"] == true {
        "dead"
    } else if st["StartedAt"]
        .as_str()
        .is_some_and(|t| !t.starts_with("0001"))
    {
        "exited"
    } else {
        "created"
    };
    let driver = v["Driver"].as_str().unwrap_or("overlay2");
    let (layers, layers_error) = match layers(base, id, driver) {
        Ok(l) => (l, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let c = NodeContainer {
        runtime: Runtime::Docker,
        namespace: None,
        id: if v["ID"].is_string() {
            s(&v["ID"])
        } else {
            id.to_owned()
        },
        name: s(&v["Name"]).trim_start_matches('/').to_owned(),
        image: s(&v["Config"]["Image"]),
        created: v["Created"].as_str().map(str::to_owned),
        state: state.to_owned(),
        pod_namespace: None,
        pod_name: None,
        pod_uid: None,
        container_name: None,
        labels,
        layers,
        layers_error,
    };
    Ok(c.with_pod_labels())
}

/// The container's layer directories, upper first.
fn layers(base: &Path, id: &str, driver: &str) -> Result<Vec<PathBuf>, String> {
    if driver != "overlay2" {
        return Err(format!(
            "storage driver {driver} is not supported (overlay2 is)"
        ));
    }
    let id = safe_component(id).ok_or("unsafe container ID")?;
    let mount_file = base
        .join("image/overlay2/layerdb/mounts")
        .join(id)
        .join("mount-id");
    let mount =
        read_limited(&mount_file, 4096).map_err(|e| format!("{}: {e}", mount_file.display()))?;
    let mount = String::from_utf8_lossy(&mount).trim().to_owned();
    let mount = safe_component(&mount).ok_or_else(|| format!("unsafe mount-id {mount:?}"))?;
    let overlay = base.join("overlay2");
    let upper = overlay.join(mount).join("diff");
    if !upper.is_dir() {
        return Err(format!("{} is missing", upper.display()));
    }
    let mut out = vec![upper];
    let lower_file = overlay.join(mount).join("lower");
    match read_limited(&lower_file, 1 << 20) {
        Ok(text) => {
            for link in String::from_utf8_lossy(&text)
                .trim()
                .split(':')
                .filter(|l| !l.is_empty())
            {
                out.push(lower_dir(&overlay, link)?);
            }
        }
        // A container of a FROM-scratch image with no layers has no `lower`.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", lower_file.display())),
    }
    Ok(out)
}

/// `l/<short>` → the layer's `diff` directory. The link's target (`../<layer>/diff`)
/// is read, not followed, and checked to stay inside `overlay2/`.
fn lower_dir(overlay: &Path, link: &str) -> Result<PathBuf, String> {
    let short = link
        .strip_prefix("l/")
        .and_then(safe_component)
        .ok_or_else(|| format!("unexpected lower entry {link:?}"))?;
    let target = std::fs::read_link(overlay.join("l").join(short))
        .map_err(|e| format!("overlay2/l/{short}: {e}"))?;
    let t = target.to_string_lossy();
    let layer = t
        .strip_prefix("../")
        .and_then(|r| r.strip_suffix("/diff"))
        .and_then(safe_component)
        .ok_or_else(|| format!("overlay2/l/{short} points to {t:?}, outside overlay2"))?;
    Ok(overlay.join(layer).join("diff"))
}
