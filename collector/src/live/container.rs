//! Which container this is: the runtime and container ID, recognised from the cgroup
//! path (cgroup v1, or v2 without a cgroup namespace) and, when the cgroup namespace
//! hides it (`0::/`), from the host paths that mountinfo shows for the files runtimes
//! bind into a container (`hostname`, `resolv.conf`, `hosts`), plus the Kubernetes pod
//! UID from kubelet paths.

use super::parse::MountInfo;
pub use cairn_archive::records::system::ContainerId;

/// The first run of exactly 64 hex digits in `s`.
fn hex64(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_hexdigit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_hexdigit() {
                i += 1;
            }
            if i - start == 64 {
                return Some(s[start..i].to_ascii_lowercase());
            }
        } else {
            i += 1;
        }
    }
    None
}

/// (marker in the path, runtime name), most specific first.
const CGROUP_MARKERS: &[(&str, &str)] = &[
    ("cri-containerd-", "containerd"),
    ("crio-", "cri-o"),
    ("libpod-", "podman"),
    ("docker-", "docker"),
    ("/docker/", "docker"),
    ("/lxc/", "lxc"),
    ("/kubepods", "kubernetes"),
    ("/actions_job/", "docker"),
];

/// Kubernetes pod UID in a cgroup path (`pod<uid>` with `_` for `-` under systemd).
fn pod_uid_in(path: &str) -> Option<String> {
    path.match_indices("pod").find_map(|(at, _)| {
        let uid: String = path[at + 3..]
            .chars()
            .take_while(|c| c.is_ascii_hexdigit() || *c == '-' || *c == '_')
            .collect();
        (uid.len() == 36).then(|| uid.replace('_', "-"))
    })
}

/// Reads the identity from `/proc/self/cgroup` content.
pub fn from_cgroup(text: &str) -> ContainerId {
    let mut out = ContainerId::default();
    for line in text.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        for (marker, runtime) in CGROUP_MARKERS {
            if path.contains(marker) {
                if let Some(id) = hex64(path) {
                    if out.id.is_none() {
                        out.id = Some(id);
                        out.runtime = Some(runtime.to_string());
                        out.evidence.push(format!("cgroup: {path}"));
                    }
                }
                if out.pod_uid.is_none() && path.contains("kubepods") {
                    out.pod_uid = pod_uid_in(path);
                }
            }
        }
    }
    out
}

/// (marker in a bind-mount source path, runtime name).
const MOUNT_MARKERS: &[(&str, &str)] = &[
    ("/docker/containers/", "docker"),
    ("/io.containerd.grpc.v1.cri/sandboxes/", "containerd"),
    ("/io.containerd.grpc.v1.cri/containers/", "containerd"),
    ("/containers/storage/overlay-containers/", "cri-o"),
    ("/libpod/", "podman"),
];

/// Fills what `from_cgroup` could not see from the mount table.
pub fn from_mounts(mut id: ContainerId, mounts: &[MountInfo]) -> ContainerId {
    for m in mounts {
        let root = String::from_utf8_lossy(&m.root);
        let point = String::from_utf8_lossy(&m.mount_point);
        if id.pod_uid.is_none() {
            if let Some(rest) = root.split("/kubelet/pods/").nth(1) {
                let uid: String = rest.chars().take_while(|c| *c != '/').collect();
                if uid.len() == 36 {
                    id.pod_uid = Some(uid);
                    id.evidence.push(format!("mount {point} from {root}"));
                }
            }
        }
        if id.id.is_some() {
            continue;
        }
        for (marker, runtime) in MOUNT_MARKERS {
            if let Some(rest) = root.split(marker).nth(1) {
                if let Some(cid) = hex64(rest.split('/').next().unwrap_or("")) {
                    id.id = Some(cid);
                    id.runtime = Some(runtime.to_string());
                    id.evidence.push(format!("mount {point} from {root}"));
                    break;
                }
            }
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    const CID: &str = "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988";

    #[test]
    fn cgroup_patterns() {
        let v1 = format!("12:memory:/docker/{CID}\n11:cpu:/docker/{CID}\n");
        let c = from_cgroup(&v1);
        assert_eq!(c.runtime.as_deref(), Some("docker"));
        assert_eq!(c.id.as_deref(), Some(CID));
        let k8s = format!("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b2c3d_1111_2222_3333_444455556666.slice/cri-containerd-{CID}.scope\n");
        let c = from_cgroup(&k8s);
        assert_eq!(c.runtime.as_deref(), Some("containerd"));
        assert_eq!(c.id.as_deref(), Some(CID));
        assert_eq!(
            c.pod_uid.as_deref(),
            Some("0a1b2c3d-1111-2222-3333-444455556666")
        );
        let crio = format!(
            "0::/kubepods/besteffort/pod0a1b2c3d-1111-2222-3333-444455556666/crio-{CID}.scope"
        );
        assert_eq!(from_cgroup(&crio).runtime.as_deref(), Some("cri-o"));
        let c = from_cgroup("0::/\n");
        assert_eq!(c, ContainerId::default());
        // A 63-digit run is not an ID.
        assert!(from_cgroup(&format!("0::/docker/{}", &CID[1..]))
            .id
            .is_none());
    }

    #[test]
    fn mount_patterns_when_cgroup_is_namespaced() {
        let text = format!("610 600 8:1 /var/lib/docker/containers/{CID}/hostname /etc/hostname rw - ext4 /dev/sda1 rw\n611 600 8:1 /var/lib/kubelet/pods/0a1b2c3d-1111-2222-3333-444455556666/etc-hosts /etc/hosts rw - ext4 /dev/sda1 rw\n");
        let m = super::super::parse::mountinfo(text.as_bytes());
        let c = from_mounts(from_cgroup("0::/\n"), &m);
        assert_eq!(c.runtime.as_deref(), Some("docker"));
        assert_eq!(c.id.as_deref(), Some(CID));
        assert_eq!(
            c.pod_uid.as_deref(),
            Some("0a1b2c3d-1111-2222-3333-444455556666")
        );
        let text = format!("7 6 0:5 /run/containerd/io.containerd.grpc.v1.cri/sandboxes/{CID}/resolv.conf /etc/resolv.conf rw - tmpfs tmpfs rw\n");
        let m = super::super::parse::mountinfo(text.as_bytes());
        assert_eq!(
            from_mounts(ContainerId::default(), &m).runtime.as_deref(),
            Some("containerd")
        );
    }
}
