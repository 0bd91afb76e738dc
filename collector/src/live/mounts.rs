//! Mounts: the collector's mount table (`/proc/self/mountinfo`, which inside a
//! container is the container's), parsed; the overlay layers of the root (`upperdir`,
//! `lowerdir`, `workdir`: host paths a responder needs to reach the node later); and
//! the capacity of each filesystem. Written under `live_response/mounts/`.

use super::parse;
use super::Emit;
use crate::source::procfs::ProcFs;
use cairn_archive::member::live;
use cairn_archive::records::mounts::{Capacity, Filesystem, Mount, Overlay, Overlays};
use cairn_archive::text::escape;
use cairn_protocol::{Level, LogEvent};

/// Filesystems whose statfs may block on a dead server: never asked for capacity.
const NETWORK_FILESYSTEMS: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "ceph",
    "glusterfs",
    "9p",
    "afs",
    "sshfs",
];

fn is_network(fstype: &str) -> bool {
    NETWORK_FILESYSTEMS.contains(&fstype) || fstype.starts_with("fuse")
}

/// The overlay layers of a mount, when it is one.
pub fn overlay_layers(m: &parse::MountInfo) -> Option<Overlay> {
    if m.fstype != "overlay" {
        return None;
    }
    let get = |k: &str| parse::option_value(&m.super_options, k);
    let lower: Vec<String> = get("lowerdir")
        .map(|l| {
            l.split(|&b| b == b':')
                .filter(|p| !p.is_empty())
                .map(escape)
                .collect()
        })
        .unwrap_or_default();
    Some(Overlay {
        mount_point: escape(&m.mount_point),
        upperdir: get("upperdir").map(|v| escape(&v)),
        lowerdir: lower,
        workdir: get("workdir").map(|v| escape(&v)),
    })
}

pub fn run(proc: &ProcFs, artifact: &str, emit: &mut dyn Emit) {
    let content = match proc.read("self/mountinfo", 16 << 20) {
        Ok(c) => c,
        Err(e) => {
            emit.log(
                Level::Error,
                LogEvent::Error,
                artifact,
                Some(b"/proc/self/mountinfo"),
                e.to_string(),
            );
            return;
        }
    };
    emit.output(artifact, live::MOUNTINFO_RAW, &content);
    let mounts = parse::mountinfo(&content);
    let mut lines = Vec::new();
    let mut fs = Vec::new();
    let mut overlays = Vec::new();
    for m in &mounts {
        let rec = Mount {
            mount_id: m.id,
            parent_id: m.parent,
            device: format!("{}:{}", m.major, m.minor),
            root: escape(&m.root),
            mount_point: escape(&m.mount_point),
            options: m.options.clone(),
            optional: m.optional.clone(),
            fstype: m.fstype.clone(),
            source: escape(&m.source),
            super_options: escape(&m.super_options),
        };
        super::push_line(&mut lines, &rec);
        if let Some(o) = overlay_layers(m) {
            overlays.push(o);
        }
        if emit.expired() {
            continue;
        }
        let cap = if is_network(&m.fstype) {
            Capacity::Skipped {
                skipped: "network filesystem: statfs could block".into(),
            }
        } else {
            match std::ffi::CString::new(m.mount_point.clone())
                .map_err(|e| std::io::Error::other(e.to_string()))
                .and_then(|p| rustix::fs::statvfs(p.as_c_str()).map_err(Into::into))
            {
                Ok(s) => Capacity::Known {
                    block_size: s.f_frsize,
                    size_bytes: s.f_blocks * s.f_frsize,
                    free_bytes: s.f_bfree * s.f_frsize,
                    available_bytes: s.f_bavail * s.f_frsize,
                    inodes: s.f_files,
                    inodes_free: s.f_ffree,
                },
                Err(e) => Capacity::Error {
                    error: e.to_string(),
                },
            }
        };
        fs.push(Filesystem {
            mount_point: escape(&m.mount_point),
            fstype: m.fstype.clone(),
            source: escape(&m.source),
            capacity: cap,
        });
    }
    let root = mounts
        .iter()
        .rev()
        .find(|m| m.mount_point == b"/")
        .and_then(overlay_layers);
    emit.output(artifact, live::MOUNTS, &lines);
    emit.output(artifact, live::FILESYSTEMS, &super::pretty(&fs));
    let overlays_len = overlays.len();
    emit.output(
        artifact,
        live::OVERLAY,
        &super::pretty(&Overlays {
            root,
            all: overlays,
        }),
    );
    emit.log(
        Level::Info,
        LogEvent::Live,
        artifact,
        None,
        format!("{} mounts, {} overlay", mounts.len(), overlays_len),
    );
}

/// The `mounts` native collector.
pub fn native(r: &mut super::Run<'_>) {
    if let Some(proc) = r.proc {
        run(proc, r.artifact, r.emit);
    }
}
