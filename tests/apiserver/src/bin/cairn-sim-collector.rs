//! What a simulated pod's exec runs (src/sim.rs): the canned collector session of
//! `--sim-session DIR`, replayed after `--sim-delay-ms`. When the exec's command asks for
//! an upload (`--upload-plan -`, as cairn asks a collector that writes to a store), the
//! plan is read from stdin (found wherever it starts, whatever the delivery sent before
//! it) and the canned archive is uploaded through it with cairn's own uploader, as the
//! collector would upload it; the session's `done` event then carries the upload's
//! report and stdout stays empty. Otherwise the archive goes to stdout. Stdin is drained
//! either way and never waited on to its end: a launcher keeps it open while attached.
//!
//! Usage: cairn-sim-collector SESSION_DIR DELAY_SECONDS [THE EXEC'S COMMAND...]

use std::io::{Read, Write};
use std::time::Duration;

/// The most stdin read while looking for the plan.
const PLAN_SEARCH: usize = 32 << 20;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: cairn-sim-collector SESSION_DIR DELAY_SECONDS [COMMAND...]");
        std::process::exit(2);
    }
    match run(&args[1], &args[2], &args[3..]) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("cairn-sim-collector: {e}");
            std::process::exit(1);
        }
    }
}

fn run(session: &str, delay: &str, command: &[String]) -> Result<(), String> {
    let dir = std::path::Path::new(session);
    let read = |f: &str| std::fs::read(dir.join(f)).map_err(|e| format!("{session}/{f}: {e}"));
    let (stdout, stderr) = (read("stdout")?, read("stderr")?);
    let uploads = command.iter().any(|a| a == "--upload-plan");
    let plan = if uploads {
        Some(plan_from_stdin()?)
    } else {
        None
    };
    // The rest of stdin, drained so that the sender never blocks.
    std::thread::spawn(|| std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink()));
    let delay: f64 = delay.parse().map_err(|_| format!("bad delay {delay}"))?;
    std::thread::sleep(Duration::from_secs_f64(delay.max(0.0)));
    let mut err = std::io::stderr().lock();
    let Some(plan) = plan else {
        err.write_all(&stderr).map_err(|e| e.to_string())?;
        std::io::stdout()
            .lock()
            .write_all(&stdout)
            .map_err(|e| e.to_string())?;
        return Ok(());
    };
    let report = upload(&plan, &stdout)?;
    for line in String::from_utf8_lossy(&stderr).lines() {
        let out = match serde_json::from_str::<serde_json::Value>(line) {
            Ok(mut v) if v["event"] == "done" => {
                v["upload"] = serde_json::to_value(&report).map_err(|e| e.to_string())?;
                v.to_string()
            }
            _ => line.to_owned(),
        };
        writeln!(err, "{out}").map_err(|e| e.to_string())?;
    }
    if report.complete {
        Ok(())
    } else {
        Err(format!("the upload failed: {:?}", report.error))
    }
}

/// The upload plan: the first JSON object on stdin that begins `{"kind":"`, read as
/// far as its end and no further.
fn plan_from_stdin() -> Result<Vec<u8>, String> {
    const START: &[u8] = b"{\"kind\":\"";
    let mut seen = Vec::new();
    let mut stdin = std::io::stdin().lock();
    let mut buf = [0u8; 65536];
    // Where the plan starts, once seen; before, where a start not yet seen may begin.
    let (mut at, mut from) = (None, 0);
    loop {
        if at.is_none() {
            at = seen[from..]
                .windows(START.len())
                .position(|w| w == START)
                .map(|i| from + i);
            from = seen.len().saturating_sub(START.len() - 1);
        }
        if let Some(at) = at {
            let mut de =
                serde_json::Deserializer::from_slice(&seen[at..]).into_iter::<serde_json::Value>();
            match de.next() {
                Some(Ok(v)) => return serde_json::to_vec(&v).map_err(|e| e.to_string()),
                Some(Err(e)) if !e.is_eof() => return Err(format!("the upload plan: {e}")),
                _ => {}
            }
        }
        if seen.len() > PLAN_SEARCH {
            return Err(format!(
                "no upload plan in the first {PLAN_SEARCH} bytes of stdin"
            ));
        }
        let n = stdin.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("stdin ended before an upload plan".into());
        }
        seen.extend_from_slice(&buf[..n]);
    }
}

/// Uploads `archive` through `plan` as the collector does; the uploader's report.
fn upload(plan: &[u8], archive: &[u8]) -> Result<cairn_upload::UploadReport, String> {
    use sha2::Digest;
    let plan = cairn_upload::plan::Plan::parse(plan).map_err(|e| e.to_string())?;
    let name = plan.object().unwrap_or("sim.tar.zst").to_owned();
    let destination = cairn_upload::destination::Destination::new(None, Some(plan), None, &name)
        .map_err(|e| e.to_string())?;
    let config = cairn_upload::UploadConfig {
        destination,
        http: cairn_upload::http::HttpConfig::default(),
        fallback: None,
        name,
    };
    let mut up = cairn_upload::Uploader::start(config, cairn_upload::Events::default())
        .map_err(|e| e.to_string())?;
    let sha = hex(&sha2::Sha256::digest(archive));
    up.write_all(archive).map_err(|e| e.to_string())?;
    up.finish(archive.len() as u64, &sha)
        .map_err(|e| e.to_string())?;
    Ok(up.report().clone())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
