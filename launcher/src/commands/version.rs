//! `cairn version`: this cairn's version, and each collector it would deliver (built
//! into it, or found as `collect` finds them), with its architecture, size and sha256,
//! so a responder can compare them with the release's checksums before an incident.

use crate::cli::VersionArgs;
use crate::collector::Collectors;
use cairn_protocol::exit;

pub fn run(a: VersionArgs) -> anyhow::Result<i32> {
    println!("cairn {}", env!("CARGO_PKG_VERSION"));
    match Collectors::find(&a.collector_bin) {
        Ok(all) => {
            for c in all.all() {
                println!(
                    "collector {:<8} {:>9} bytes  sha256 {}  {}",
                    c.arch.name(),
                    c.bytes.len(),
                    c.sha256,
                    c.source
                );
            }
            Ok(exit::OK)
        }
        Err(e) => {
            println!("collector: none usable: {e:#}");
            Ok(exit::FAILED)
        }
    }
}
