//! `cairn-collector artifacts --explain FILE|NAME`: what cairn does with each entry of
//! artifact files, before anything runs, and where that differs from UAC on purpose
//! ([`cairn_collector::spec::uac_differences`]).

use anyhow::Result;
use cairn_collector::spec::uac_differences::explain;
use cairn_collector::spec::{select, Catalog, CollectorKind};
use cairn_protocol::escape::terminal;
use cairn_protocol::exit;

pub fn run(items: &[String]) -> Result<i32> {
    let catalog = Catalog::builtin()?;
    let selection = select(&catalog, None, Some(&items.join(",")))?;
    for set in &selection.sets {
        let (mut same, mut differ, mut not_run) = (0, 0, 0);
        let mut lines = Vec::new();
        for art in &set.entries {
            let said = explain(&set.name, art);
            let runs = art.supports_linux() && art.collector != CollectorKind::Command;
            match (runs, said.first().map(String::as_str)) {
                (false, _) => not_run += 1,
                (true, Some("as UAC does" | "cairn's native collector")) => same += 1,
                (true, _) => differ += 1,
            }
            let what = match art.collector {
                CollectorKind::Command => String::new(),
                CollectorKind::Native => art.native.clone().unwrap_or_default(),
                _ => art.path.clone(),
            };
            lines.push(
                format!("  line {}: {} {what}", art.line, art.collector.as_str())
                    .trim_end()
                    .to_owned(),
            );
            lines.extend(said.iter().map(|s| format!("    {s}")));
        }
        println!(
            "{} ({}): {} entries: {same} as UAC does, {differ} with differences, {not_run} not run",
            terminal(&set.name),
            terminal(&set.origin),
            set.entries.len()
        );
        for l in lines {
            println!("{}", terminal(&l));
        }
    }
    Ok(exit::OK)
}
