//! `cairn image`: the collector image from the `cairn` binary alone, so that a
//! responder who holds only `cairn` can still use the ephemeral and node routes:
//! written to a file (`docker load`, `ctr images import`, skopeo) or pushed to the
//! registry the cluster pulls from.

use crate::cli::ImageArgs;
use crate::collector::Collectors;
use crate::image::{layout, registry, Image};
use anyhow::Context;
use cairn_protocol::escape::terminal;
use cairn_protocol::exit;
use std::io::Write;
use std::path::PathBuf;

pub async fn run(a: ImageArgs) -> anyhow::Result<i32> {
    let collectors = Collectors::find(&a.collector_bin)?;
    let image = Image::build(collectors.all()).context("building the collector image")?;
    let archs: Vec<&str> = image.platforms.iter().map(|p| p.arch.k8s()).collect();
    let archs = archs.join(", ");
    for p in &image.platforms {
        println!(
            "{:<6} manifest {}  collector sha256 {}",
            p.arch.k8s(),
            p.manifest.digest,
            p.collector_sha256
        );
    }
    if let Some(name) = &a.push {
        let reference = registry::parse(name)?;
        let digest = registry::push(&image, &reference).await?;
        let by_digest = format!(
            "{}/{}@{digest}",
            reference.registry(),
            reference.repository()
        );
        println!("pushed {} ({archs}): index {digest}", terminal(name));
        println!("use it by digest, so that cairn checks each pod runs exactly this image:");
        println!("  cairn collect ... --via ephemeral --collector-image {by_digest}");
        return Ok(exit::OK);
    }
    let name = a.tag.unwrap_or_else(crate::route::default_image);
    registry::parse(&name)?;
    if name.contains('@') {
        anyhow::bail!("--tag {name}: a file's image needs a tag (NAME:TAG), not a digest");
    }
    let out = a.output.unwrap_or_else(|| {
        PathBuf::from(format!(
            "cairn-collector-{}.image.tar",
            env!("CARGO_PKG_VERSION")
        ))
    });
    let file = cairn_archive::private::create(&out, a.force)
        .with_context(|| format!("creating {}", out.display()))?;
    let mut w = std::io::BufWriter::new(file);
    layout::write(&image, &name, &mut w)
        .and_then(|_| w.flush())
        .with_context(|| format!("writing {}", out.display()))?;
    let f = out.display();
    println!("wrote {f}: {name} ({archs}), index {}", image.index.digest);
    println!("  docker load -i {f}             Docker: {name} is this machine's architecture, {name}-ARCH each one");
    println!(
        "  ctr -n k8s.io images import --all-platforms {f}   containerd, as the kubelet sees it"
    );
    println!("  skopeo copy --all oci-archive:{f} docker://REGISTRY/{name}   or: cairn image --push REGISTRY/{name}");
    println!("then: cairn collect ... --via ephemeral --collector-image {name}");
    Ok(exit::OK)
}
