//! `cairn-collector`: collect, verify, list containers on a node, wait as a sidecar,
//! and list the built-in specs. The commands are in `cmd/`, one file each.
#![forbid(unsafe_code)]

mod cmd;

use anyhow::Result;
use cairn_collector::spec::Catalog;
use cairn_protocol::exit;
use clap::Parser;
use cmd::cli::{Cli, Command};

fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // Errors may name attacker-made paths: never raw to the terminal.
            let text = format!("{e:#}");
            eprintln!(
                "cairn-collector: error: {}",
                cairn_protocol::escape::terminal(&text)
            );
            std::process::exit(exit::ERROR);
        }
    }
}

fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Profiles => {
            let c = Catalog::builtin()?;
            for (name, p) in &c.profiles {
                println!("{name:24} {}", p.description);
            }
            Ok(exit::OK)
        }
        Command::Artifacts { explain } if !explain.is_empty() => cmd::explain::run(&explain),
        Command::Artifacts { .. } => {
            let c = Catalog::builtin()?;
            for (name, a) in &c.artifacts {
                println!("{name:32} {}", a.description);
            }
            Ok(exit::OK)
        }
        Command::Verify { archive } => cmd::verify::run(&archive),
        Command::Sandbox(a) => cmd::sandbox::run(a),
        Command::Collect(a) => cmd::collect::run(*a),
        Command::Idle {
            duration,
            stop,
            proc,
        } => cmd::idle::run(duration, stop, &proc),
        Command::Containers { node_root, output } => cmd::containers::run(&node_root, output),
    }
}
