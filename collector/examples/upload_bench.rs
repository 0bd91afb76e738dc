//! Upload benchmark (run by `bench/upload.sh`): a 500 MiB archive to a local s3s-fs.
//! It compares `cairn-collector` collecting and uploading at the same time (S3 multipart
//! through a plan) against `curl -T` of an already built archive of the same size to a
//! presigned PUT, in the same run, and prints median throughputs and their ratio. It
//! also measures the collector's peak RSS during the 500 MiB S3 upload and a 200 MiB
//! Azurite block upload, and fails if either passes 64 MiB.

#[path = "../tests/common/stores.rs"]
mod stores;

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

/// Runs the collector under /usr/bin/time; returns (seconds, peak RSS KiB).
fn run_collector(bin: &str, root: &Path, spec: &Path, extra: &[&str], stdin: &str) -> (f64, u64) {
    let rss = root.parent().unwrap().join("rss.txt");
    let mut c = Command::new("/usr/bin/time");
    c.args(["-f", "%M", "-o"]).arg(&rss).arg(bin);
    c.args(["collect", "--progress", "none", "--root"])
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
    (secs, kib)
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let bin = std::env::var("CAIRN_BIN").expect("CAIRN_BIN: the release collector");
    let work = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/work/upload");
    let root = work.join("root");
    make_root(&root, 500);
    let spec = work.join("spec.yaml");
    std::fs::write(&spec, "artifacts:\n  - collector: file\n    path: /data\n").unwrap();
    let archive = work.join("archive.tar.zst");
    let st = Command::new(&bin)
        .args(["collect", "--progress", "none", "--root"])
        .arg(&root)
        .arg("--artifacts")
        .arg(&spec)
        .arg("--output")
        .arg(&archive)
        .status()
        .unwrap();
    assert!(st.success());
    let size = std::fs::metadata(&archive).unwrap().len() as f64;
    let s3 = stores::Server::s3().expect("s3s-fs (run tests/run-all.sh once to install it)");

    let (mut curl, mut cairn, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs {
        let url = s3.put_url(&format!("bench/curl{i}.tar.zst"));
        let t = Instant::now();
        let st = Command::new("curl")
            .args(["-sS", "-f", "-o", "/dev/null", "-T"])
            .arg(&archive)
            .arg(&url)
            .status()
            .unwrap();
        assert!(st.success());
        curl.push(size / t.elapsed().as_secs_f64());
        let plan = s3.multipart_plan(s3.port, &format!("bench/cairn{i}.tar.zst"), 16 << 20, 64);
        let (secs, kib) = run_collector(&bin, &root, &spec, &["--upload-plan", "-"], &plan);
        cairn.push(size / secs);
        rss.push(kib);
        eprintln!(
            "run {i}: curl -T {:.0} MiB/s, cairn collect+upload {:.0} MiB/s, peak RSS {:.1} MiB",
            curl[i] / 1048576.0,
            cairn[i] / 1048576.0,
            kib as f64 / 1024.0
        );
    }
    drop(s3);
    let (c, k) = (median(curl), median(cairn));
    let peak = *rss.iter().max().unwrap() as f64 / 1024.0;
    println!("archive: {:.0} MiB", size / 1048576.0);
    println!(
        "curl -T (archive already built): median {:.0} MiB/s",
        c / 1048576.0
    );
    println!(
        "cairn (collect + compress + upload in parts): median {:.0} MiB/s",
        k / 1048576.0
    );
    println!("throughput ratio cairn/curl: {:.2} (target >= 0.9)", k / c);
    println!("peak RSS, 500 MiB S3 multipart upload: {peak:.1} MiB (max of {runs} runs)");

    let az = stores::Server::azurite().expect("azurite");
    let small = work.join("root200");
    make_root(&small, 200);
    let sas = az.azure_sas(None, "cw", 3600);
    let (_, kib) = run_collector(
        &bin,
        &small,
        &spec,
        &["--upload-url", &sas, "--upload-name", "bench.tar.zst"],
        "",
    );
    let az_peak = kib as f64 / 1024.0;
    println!("peak RSS, 200 MiB Azure block upload: {az_peak:.1} MiB");
    if peak >= 64.0 || az_peak >= 64.0 {
        eprintln!("FAIL: peak RSS is over the 64 MiB bound");
        std::process::exit(1);
    }
}
