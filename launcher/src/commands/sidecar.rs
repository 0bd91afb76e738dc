//! `cairn sidecar --for WORKLOAD`: prints the patch that gives a workload's pods a
//! collector sidecar ([`crate::route::sidecar`]).

use crate::cli::SidecarArgs;
use crate::route::{default_image, sidecar};

pub fn run(a: SidecarArgs, namespace: Option<&str>) -> anyhow::Result<i32> {
    let (kind, name) = sidecar::workload(&a.workload)?;
    let image = a.collector_image.unwrap_or_else(default_image);
    let ns = namespace.unwrap_or("NAMESPACE");
    print!("{}", sidecar::render(&kind, &name, ns, &image));
    Ok(cairn_protocol::exit::OK)
}
