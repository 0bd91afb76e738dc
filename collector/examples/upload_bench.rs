//! Upload benchmark (run by `bench/upload.sh`): a 500 MiB archive to a local s3s-fs.
//! `cairn-collector` collecting, compressing, hashing and uploading at the same time (S3
//! multipart through a plan, 8 MiB parts) against, in the same run:
//! - `curl -T` of an already built archive of the same size to a presigned PUT (the
//!   issue's reference: it neither collects nor compresses nor hashes);
//! - collect to a file first, then `curl -T` it (the same work, one step after the other);
//! - `curl` uploading the already built archive through the same multipart protocol
//!   (8 MiB parts, two at a time, then CompleteMultipartUpload), which pays the same
//!   server-side cost: s3s-fs assembles the object on completion by copying every part,
//!   which S3 itself does not do.
//!
//! It prints medians and ratios, and measures the collector's peak RSS during the
//! 500 MiB S3 upload and a 200 MiB Azurite block upload, failing if either passes 64 MiB.

use cairn_testkit::stores;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn make_root(root: &Path, mib: usize) {
    if root.join(format!("data/blob{:04}.bin", mib - 1)).exists() {
        return;
    }
    stores::fill_random(&root.join("data"), mib);
}

/// Runs the collector under /usr/bin/time; returns (seconds, peak RSS KiB, seconds the
/// final commit took as the `done` event reports it).
fn run_collector(
    bin: &str,
    root: &Path,
    spec: &Path,
    extra: &[&str],
    stdin: &str,
) -> (f64, u64, f64) {
    let rss = root.parent().unwrap().join("rss.txt");
    let mut c = Command::new("/usr/bin/time");
    c.args(["-f", "%M", "-o"]).arg(&rss).arg(bin);
    c.args(["collect", "--progress", "json", "--root"])
        .arg(root);
    c.arg("--artifacts").arg(spec).args(extra);
    c.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let mut child = c.spawn().expect("collector");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let kib = std::fs::read_to_string(&rss)
        .unwrap()
        .trim()
        .lines()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    let commit_ms = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "done")
        .and_then(|v| v["upload"]["commit_ms"].as_u64())
        .unwrap_or(0);
    (secs, kib, commit_ms as f64 / 1000.0)
}

/// Throughputs (bytes per second) and the figures around them, one value per run.
#[derive(Default)]
struct Runs {
    curl: Vec<f64>,
    cairn: Vec<f64>,
    rss: Vec<u64>,
    then: Vec<f64>,
    curl_mp: Vec<f64>,
    complete: Vec<f64>,
    cairn_parts: Vec<f64>,
    cairn_commit: Vec<f64>,
}

/// Where the benchmark works: the tree, the spec, and the archive built once.
struct Setup {
    bin: String,
    work: std::path::PathBuf,
    root: std::path::PathBuf,
    spec: std::path::PathBuf,
    archive: std::path::PathBuf,
    size: f64,
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let setup = setup();
    let s3 = stores::Server::s3().expect("s3s-fs (run tests/run-all.sh once to install it)");
    let mut r = Runs::default();
    for i in 0..runs {
        one_run(&setup, &s3, i, &mut r);
    }
    drop(s3);
    let peak = report(&setup, runs, r);
    let az_peak = azure_rss(&setup);
    println!("peak RSS, 200 MiB Azure block upload: {az_peak:.1} MiB");
    if peak >= 64.0 || az_peak >= 64.0 {
        eprintln!("FAIL: peak RSS is over the 64 MiB bound");
        std::process::exit(1);
    }
}

/// Builds the 500 MiB tree and, once, its archive.
fn setup() -> Setup {
    let bin = std::env::var("CAIRN_BIN").expect("CAIRN_BIN: the release collector");
    let work = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/work/upload");
    let root = work.join("root");
    make_root(&root, 500);
    let spec = work.join("spec.yaml");
    std::fs::write(&spec, "artifacts:\n  - collector: file\n    path: /data\n").unwrap();
    let archive = work.join("archive.tar.zst");
    collect_to(&bin, &root, &spec, &archive);
    let size = std::fs::metadata(&archive).unwrap().len() as f64;
    Setup {
        bin,
        work,
        root,
        spec,
        archive,
        size,
    }
}

fn collect_to(bin: &str, root: &Path, spec: &Path, out: &Path) {
    let st = Command::new(bin)
        .args(["collect", "--progress", "none", "--root"])
        .arg(root)
        .arg("--artifacts")
        .arg(spec)
        .arg("--output")
        .arg(out)
        .status()
        .unwrap();
    assert!(st.success());
}

/// One run of every contender.
fn one_run(su: &Setup, s3: &stores::Server, i: usize, r: &mut Runs) {
    let size = su.size;
    let url = s3.put_url(&format!("bench/curl{i}.tar.zst"));
    let t = Instant::now();
    curl_put(&su.archive, &url);
    r.curl.push(size / t.elapsed().as_secs_f64());

    let plan = s3.multipart_plan(s3.port, &format!("bench/cairn{i}.tar.zst"), 8 << 20, 100);
    let (secs, kib, commit) =
        run_collector(&su.bin, &su.root, &su.spec, &["--upload-plan", "-"], &plan);
    r.cairn.push(size / secs);
    r.cairn_parts.push(size / (secs - commit));
    r.cairn_commit.push(commit);
    r.rss.push(kib);

    let url = s3.put_url(&format!("bench/then{i}.tar.zst"));
    let staged = su.work.join("staged.tar.zst");
    let t = Instant::now();
    collect_to(&su.bin, &su.root, &su.spec, &staged);
    curl_put(&staged, &url);
    r.then.push(size / t.elapsed().as_secs_f64());

    let plan = s3.multipart_plan(s3.port, &format!("bench/curlmp{i}.tar.zst"), 8 << 20, 100);
    let (secs, commit) = curl_multipart(&su.archive, &plan, &su.work);
    r.curl_mp.push(size / secs);
    r.complete.push(commit);
    eprintln!(
        "run {i}: curl -T {:.0} MiB/s, collect then curl -T {:.0} MiB/s, curl multipart {:.0} MiB/s (its CompleteMultipartUpload {:.2} s), cairn {:.0} MiB/s ({:.0} MiB/s to the last part, CompleteMultipartUpload {:.2} s), peak RSS {:.1} MiB",
        r.curl[i] / 1048576.0,
        r.then[i] / 1048576.0,
        r.curl_mp[i] / 1048576.0,
        commit,
        r.cairn[i] / 1048576.0,
        r.cairn_parts[i] / 1048576.0,
        r.cairn_commit[i],
        kib as f64 / 1024.0
    );
}

/// Prints medians and ratios; returns the peak RSS in MiB.
fn report(su: &Setup, runs: usize, r: Runs) -> f64 {
    let mib = |v: f64| v / 1048576.0;
    let peak = *r.rss.iter().max().unwrap() as f64 / 1024.0;
    let (c, k, t, m) = (
        median(r.curl),
        median(r.cairn),
        median(r.then),
        median(r.curl_mp),
    );
    println!("archive: {:.0} MiB, medians of {runs} runs", mib(su.size));
    println!(
        "curl -T of the built archive:              {:.0} MiB/s",
        mib(c)
    );
    println!(
        "cairn --output FILE, then curl -T FILE:    {:.0} MiB/s",
        mib(t)
    );
    println!(
        "curl multipart of the built archive:       {:.0} MiB/s (s3s-fs assembles on completion: {:.2} s)",
        mib(m),
        median(r.complete)
    );
    println!(
        "cairn collect + compress + upload at once: {:.0} MiB/s",
        mib(k)
    );
    let kp = median(r.cairn_parts);
    println!(
        "  the same, until the last part is stored:  {:.0} MiB/s (then CompleteMultipartUpload: {:.2} s)",
        mib(kp),
        median(r.cairn_commit)
    );
    println!(
        "ratio cairn / curl -T:                     {:.2} (issue target >= 0.9)",
        k / c
    );
    println!("ratio cairn / (collect, then curl -T):     {:.2}", k / t);
    println!("ratio cairn / curl multipart:              {:.2}", k / m);
    println!(
        "ratio cairn until the last part / curl -T:  {:.2} (neither pays for assembling parts)",
        kp / c
    );
    println!("peak RSS, 500 MiB S3 multipart upload: {peak:.1} MiB (max of {runs} runs)");
    peak
}

/// Peak RSS (MiB) of a 200 MiB upload into Azurite's block API.
fn azure_rss(su: &Setup) -> f64 {
    let az = stores::Server::azurite().expect("azurite");
    let small = su.work.join("root200");
    make_root(&small, 200);
    let sas = az.azure_sas(None, "cw", 3600);
    let (_, kib, _) = run_collector(
        &su.bin,
        &small,
        &su.spec,
        &["--upload-url", &sas, "--upload-name", "bench.tar.zst"],
        "",
    );
    kib as f64 / 1024.0
}

fn curl_put(file: &Path, url: &str) {
    let st = Command::new("curl")
        .args(["-sS", "-f", "-o", "/dev/null", "-T"])
        .arg(file)
        .arg(url)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Uploads `file` through the plan with curl: parts of `part_size` bytes, two at a time
/// (`curl --range` is for downloads, so each part is cut with `dd` into a pipe), then
/// CompleteMultipartUpload. Returns (total seconds, seconds of the completion).
fn curl_multipart(file: &Path, plan: &str, work: &Path) -> (f64, f64) {
    let plan: serde_json::Value = serde_json::from_str(plan).unwrap();
    let part_size = plan["part_size"].as_u64().unwrap();
    let len = std::fs::metadata(file).unwrap().len();
    let n = len.div_ceil(part_size) as usize;
    let urls: Vec<String> = plan["parts"].as_array().unwrap()[..n]
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    let t = Instant::now();
    let mut etags = vec![String::new(); n];
    for pair in (0..n).collect::<Vec<_>>().chunks(2) {
        let children: Vec<_> = pair
            .iter()
            .map(|&i| {
                let headers = work.join(format!("part{i}.headers"));
                let sh = format!(
                    "dd if='{}' bs={part_size} skip={i} count=1 status=none | curl -sS -f -o /dev/null -D '{}' -T - -H 'Content-Length: {}' -H 'Transfer-Encoding:' '{}'",
                    file.display(),
                    headers.display(),
                    part_size.min(len - i as u64 * part_size),
                    urls[i]
                );
                (i, headers, Command::new("sh").arg("-c").arg(sh).spawn().unwrap())
            })
            .collect();
        for (i, headers, mut c) in children {
            assert!(c.wait().unwrap().success());
            let h = std::fs::read_to_string(&headers).unwrap();
            etags[i] = h
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .starts_with("etag:")
                        .then(|| l[5..].trim().to_owned())
                })
                .unwrap();
        }
    }
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (i, e) in etags.iter().enumerate() {
        xml.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{e}</ETag></Part>",
            i + 1
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    let c = Instant::now();
    let o = Command::new("curl")
        .args(["-sS", "-f", "-X", "POST", "--data-binary", &xml])
        .arg(plan["complete_url"].as_str().unwrap())
        .output()
        .unwrap();
    assert!(o.status.success() && !String::from_utf8_lossy(&o.stdout).contains("<Error>"));
    (t.elapsed().as_secs_f64(), c.elapsed().as_secs_f64())
}
