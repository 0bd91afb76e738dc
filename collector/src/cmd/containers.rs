//! `cairn-collector containers --node-root DIR`: the containers on a node's disk.

use super::cli::ListFormat;
use anyhow::Result;
use cairn_collector::node;
use cairn_protocol::exit;
use std::path::Path;

pub fn run(node_root: &Path, output: ListFormat) -> Result<i32> {
    let (all, warnings) = node::list(node_root)?;
    for w in &warnings {
        eprintln!(
            "cairn-collector: warning: {}",
            cairn_protocol::escape::terminal(w)
        );
    }
    if output == ListFormat::Json {
        println!("{}", cairn_protocol::escape::json::to_string_pretty(&all)?);
        return Ok(exit::OK);
    }
    println!(
        "{:<11} {:<14} {:<10} {:<24} {:<36} {:<9} IMAGE",
        "RUNTIME", "ID", "NAMESPACE", "NAME", "POD", "STATE"
    );
    for c in &all {
        let pod = match (&c.pod_namespace, &c.pod_name) {
            (Some(n), Some(p)) => format!("{n}/{p}"),
            _ => "-".into(),
        };
        println!(
            "{:<11} {:<14} {:<10} {:<24} {:<36} {:<9} {}",
            format!("{:?}", c.runtime).to_lowercase(),
            c.id.chars().take(12).collect::<String>(),
            c.namespace.as_deref().unwrap_or("-"),
            c.name,
            pod,
            c.state,
            c.image
        );
    }
    Ok(exit::OK)
}
