//! The collector image, made from the collectors this `cairn` carries: FROM scratch,
//! one file (`/cairn-collector`, the entrypoint) per architecture, an OCI image
//! manifest for each and an index over them, so one name serves amd64 and arm64 nodes.
//! Built byte for byte the same from the same collectors (no timestamps, fixed tar
//! headers), so its digests are the collectors' own fingerprint.
//!
//! [`layout`] writes it to a file that `docker load`, `ctr images import` and skopeo
//! all read; [`registry`] pushes it and asks a registry whether it holds an image.

pub mod layout;
pub mod on_node;
pub mod registry;

use crate::collector::{Arch, Collector};
use crate::route::ephemeral::COLLECTOR_PATH;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";

/// Content addressed by its sha256, as registries and image layouts store it.
pub struct Blob {
    pub media_type: &'static str,
    pub bytes: Vec<u8>,
    /// `sha256:HEX`.
    pub digest: String,
}

impl Blob {
    fn new(media_type: &'static str, bytes: Vec<u8>) -> Blob {
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        Blob {
            media_type,
            bytes,
            digest,
        }
    }

    /// The blob's file name in an image layout: `HEX`.
    pub fn hex(&self) -> &str {
        self.digest.trim_start_matches("sha256:")
    }

    pub fn descriptor(&self, platform: Option<Platform>) -> Descriptor {
        Descriptor {
            media_type: self.media_type.to_owned(),
            digest: self.digest.clone(),
            size: self.bytes.len() as u64,
            platform,
            annotations: None,
        }
    }
}

/// One architecture's image: its layer, config and manifest.
pub struct PlatformImage {
    pub arch: Arch,
    pub layer: Blob,
    pub config: Blob,
    pub manifest: Blob,
    /// The collector's own sha256, as `cairn version` prints it.
    pub collector_sha256: String,
}

/// The whole image: one [`PlatformImage`] per collector, and the index naming them.
pub struct Image {
    pub platforms: Vec<PlatformImage>,
    pub index: Blob,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u8,
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u8,
    pub media_type: String,
    pub manifests: Vec<Descriptor>,
}

/// The image configuration: what runs, and the layer's content digest.
#[derive(Serialize, Deserialize, Debug)]
pub struct Config {
    pub architecture: String,
    pub os: String,
    pub config: RunConfig,
    pub rootfs: RootFs,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    pub entrypoint: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<String>,
}

/// The label that names the collector's sha256 in the image's config.
pub const SHA256_LABEL: &str = "io.cairn.collector.sha256";

impl Image {
    /// The image of `collectors` (at most one per architecture, x86_64 first).
    pub fn build<'a>(collectors: impl Iterator<Item = &'a Collector>) -> std::io::Result<Image> {
        let mut platforms = Vec::new();
        for c in collectors {
            platforms.push(platform_image(c)?);
        }
        let index = Index {
            schema_version: 2,
            media_type: INDEX_TYPE.to_owned(),
            manifests: platforms
                .iter()
                .map(|p| p.manifest.descriptor(Some(platform_of(p.arch))))
                .collect(),
        };
        Ok(Image {
            platforms,
            index: Blob::new(INDEX_TYPE, json(&index)),
        })
    }

    /// Every blob: each platform's layer, config and manifest, then the index.
    pub fn blobs(&self) -> impl Iterator<Item = &Blob> {
        self.platforms
            .iter()
            .flat_map(|p| [&p.layer, &p.config, &p.manifest])
            .chain(std::iter::once(&self.index))
    }
}

fn platform_of(arch: Arch) -> Platform {
    Platform {
        architecture: arch.k8s().to_owned(),
        os: "linux".into(),
    }
}

fn platform_image(c: &Collector) -> std::io::Result<PlatformImage> {
    let layer = Blob::new(LAYER_TYPE, layer_tar(&c.bytes)?);
    let labels = BTreeMap::from([
        (
            "org.opencontainers.image.title".to_owned(),
            "cairn-collector".to_owned(),
        ),
        (
            "org.opencontainers.image.version".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        ),
        (SHA256_LABEL.to_owned(), c.sha256.clone()),
    ]);
    let config = Config {
        architecture: c.arch.k8s().to_owned(),
        os: "linux".into(),
        config: RunConfig {
            entrypoint: vec![COLLECTOR_PATH.to_owned()],
            labels,
        },
        rootfs: RootFs {
            kind: "layers".into(),
            // Uncompressed: the layer's digest is its content's.
            diff_ids: vec![layer.digest.clone()],
        },
    };
    let config = Blob::new(CONFIG_TYPE, json(&config));
    let manifest = Manifest {
        schema_version: 2,
        media_type: MANIFEST_TYPE.to_owned(),
        config: config.descriptor(None),
        layers: vec![layer.descriptor(None)],
    };
    Ok(PlatformImage {
        arch: c.arch,
        manifest: Blob::new(MANIFEST_TYPE, json(&manifest)),
        layer,
        config,
        collector_sha256: c.sha256.clone(),
    })
}

pub fn json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// A tar of the one file `cairn-collector` (mode 0755, root, time 0).
fn layer_tar(collector: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::with_capacity(collector.len() + 2048));
    let mut h = tar::Header::new_ustar();
    h.set_size(collector.len() as u64);
    h.set_mode(0o755);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(
        &mut h,
        COLLECTOR_PATH.trim_start_matches('/'),
        std::io::Cursor::new(collector),
    )?;
    b.into_inner()
}
