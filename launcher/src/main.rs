//! `cairn` (also `kubectl cairn`): finds pods and collects forensic evidence from them.
//! Thin by design: it reaches the cluster, checks permissions, runs the collector in
//! or beside each target by a route ([`route`]), sends the archive to a destination
//! ([`dest`]), and reports. The evidence work is the collector's; what the collector
//! says is read through `cairn-protocol`.
//!
//! The data flow: [`cli`] → [`commands`] → [`targets`] → [`plan`] (a [`route`] per
//! target, [`rbac`] needs) → [`session`] (one exec: [`route`] + [`dest`]) → [`results`].
//! What cairn does with the evidence afterwards, with no cluster (`report`, `timeline`,
//! `verify-case`), is [`examine`].
#![forbid(unsafe_code)]

mod case;
mod cli;
mod cluster;
mod collector;
mod commands;
mod dest;
mod evidence;
mod examine;
mod exec;
mod image;
mod interrupt;
mod janitor;
mod kerror;
mod plan;
mod progress;
mod rbac;
mod results;
mod route;
mod session;
mod targets;

use cli::{Cli, Command};
use std::path::PathBuf;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
                // cairn's own warnings; the libraries' (kube's raw API errors, which
                // cairn says itself in a sentence) only when CAIRN_LOG asks for them.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("cairn=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = match parse() {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let code = match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            // An error may carry a pod's words: never raw to the terminal.
            let text = format!("{e:#}");
            eprintln!("cairn: error: {}", cairn_protocol::escape::terminal(&text));
            cairn_protocol::exit::ERROR
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Parses the command line. Installed as `kubectl-cairn` (a link or copy on PATH),
/// kubectl runs it for `kubectl cairn ...`; help and errors then name it that way.
fn parse() -> Result<Cli, clap::Error> {
    let as_plugin = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().starts_with("kubectl-"))
        })
        .unwrap_or(false);
    let mut command = <Cli as clap::CommandFactory>::command();
    let bin = if as_plugin { "kubectl cairn" } else { "cairn" };
    if as_plugin {
        command = command.bin_name(bin).display_name(bin);
    }
    command = command.mut_subcommand("collect", |c| c.override_usage(cli::collect_usage(bin)));
    <Cli as clap::FromArgMatches>::from_arg_matches(&command.try_get_matches()?)
}

async fn run(cli: Cli) -> anyhow::Result<i32> {
    let (flags, command) = match cli.command {
        Command::Bootstrap(a) => return commands::bootstrap::run(a),
        Command::Version(a) => return commands::version::run(a),
        Command::VerifyCase(a) => return examine::verify_case::verify(&a.dir, a.signer.as_deref()),
        Command::Timeline(a) => return commands::timeline::run(a),
        Command::Report(a) => return commands::report::run(a),
        Command::Image(a) => return commands::image::run(a).await,
        Command::Sidecar(a) => {
            let ns = a.namespace.clone().or(cli.cluster.namespace);
            return commands::sidecar::run(a, ns.as_deref());
        }
        Command::Pods(mut a) => (
            std::mem::take(&mut a.cluster).or(cli.cluster),
            Command::Pods(a),
        ),
        Command::Collect(mut a) => (
            std::mem::take(&mut a.cluster).or(cli.cluster),
            Command::Collect(a),
        ),
    };
    let c = cluster::connect(flags.kubeconfig.as_deref(), flags.context.as_deref()).await?;
    let ns = flags
        .namespace
        .clone()
        .unwrap_or_else(|| c.default_namespace.clone());
    let scope = (!flags.all_namespaces).then_some(ns.as_str());
    match command {
        Command::Pods(a) => commands::pods::run(a, &c, scope, flags.selector.as_deref()).await,
        Command::Collect(a) => {
            let sel = commands::collect::Selection {
                namespace: &ns,
                scope,
                selector: flags.selector.as_deref(),
            };
            commands::collect::run(a, &c, sel).await
        }
        Command::Bootstrap(_)
        | Command::Sidecar(_)
        | Command::Version(_)
        | Command::VerifyCase(_)
        | Command::Timeline(_)
        | Command::Image(_)
        | Command::Report(_) => {
            unreachable!("handled above")
        }
    }
}
