//! The collector image as one tar file that the usual tools load without a registry:
//! an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/`) for
//! `ctr images import --all-platforms` and `skopeo copy oci-archive:`, and beside it
//! Docker's `manifest.json` over the same blobs for `docker load` (Docker keeps one
//! architecture per tag: NAME:TAG is this machine's, NAME:TAG-ARCH each one's).

use super::{json, Descriptor, Image, Index, INDEX_TYPE};
use crate::collector::Arch;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;

/// One image of Docker's `manifest.json`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerImage {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// `name` as the image is to be called: NAME:TAG, without a digest.
pub fn tags(name: &str, arch: Arch, native: Option<Arch>, only: bool) -> Vec<String> {
    let mut t = Vec::new();
    if only || native == Some(arch) {
        t.push(name.to_owned());
    }
    t.push(format!("{name}-{}", arch.k8s()));
    t
}

/// Writes `image`, named `name` (NAME:TAG), to `out`.
pub fn write(image: &Image, name: &str, out: impl Write) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(out);
    add(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut top: Descriptor = image.index.descriptor(None);
    top.annotations = Some(BTreeMap::from([
        // containerd's name for it on import; the OCI tag for skopeo.
        ("io.containerd.image.name".to_owned(), full_name(name)),
        (
            "org.opencontainers.image.ref.name".to_owned(),
            tag_of(name).to_owned(),
        ),
    ]));
    let index = Index {
        schema_version: 2,
        media_type: INDEX_TYPE.to_owned(),
        manifests: vec![top],
    };
    add(&mut tar, "index.json", &json(&index))?;
    let native = Arch::parse(std::env::consts::ARCH);
    let only = image.platforms.len() == 1;
    let docker: Vec<DockerImage> = image
        .platforms
        .iter()
        .map(|p| DockerImage {
            config: blob_path(p.config.hex()),
            repo_tags: tags(name, p.arch, native, only),
            layers: vec![blob_path(p.layer.hex())],
        })
        .collect();
    add(&mut tar, "manifest.json", &json(&docker))?;
    for b in image.blobs() {
        add(&mut tar, &blob_path(b.hex()), &b.bytes)?;
    }
    tar.into_inner()?.flush()
}

fn blob_path(hex: &str) -> String {
    format!("blobs/sha256/{hex}")
}

fn add<W: Write>(tar: &mut tar::Builder<W>, path: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_size(bytes.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, path, bytes)
}

/// The tag of NAME:TAG (`latest` when none is given).
fn tag_of(name: &str) -> &str {
    match name.rsplit_once(':') {
        Some((_, t)) if !t.contains('/') => t,
        _ => "latest",
    }
}

/// containerd's fully qualified name: a name without a registry is Docker Hub's.
fn full_name(name: &str) -> String {
    match oci_client::Reference::try_from(name) {
        Ok(r) => r.whole(),
        Err(_) => name.to_owned(),
    }
}
