//! Uploads against real servers: s3s-fs (SigV4 checked: presigned PUT, multipart
//! through a plan, POST policy; tampered and expired URLs), Azurite (SAS checked: block
//! upload of a 200 MiB archive, sha256 metadata), fake-gcs-server (a 50 MiB resumable
//! upload and a V4 signed PUT), a fault-injecting proxy in front of s3s-fs, and a TLS
//! front with a private CA reached through an HTTPS_PROXY tunnel. Every uploaded object
//! is read back, verified entry by entry, and its sha256 compared with the reported one.

mod common;
use common::faults::{Fault, Proxy, Rule};
use common::stores::Server;
use common::tls::{ConnectProxy, TlsFront};
use common::*;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

/// A root with text evidence and `mib` MiB of incompressible data (so the archive is
/// about that large).
fn root_with(mib: usize) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::write(r.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
    common::stores::fill_random(&r.join("data"), mib);
    t
}

fn upload(root: &Path, extra: &[&str], stdin: Option<&str>) -> Output {
    upload_env(root, extra, stdin, &[])
}

/// `upload` with environment variables set for the collector; proxy variables of the
/// test's own environment are not passed on.
fn upload_env(root: &Path, extra: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let spec = spec_all(root, "/");
    let mut args = vec![
        "collect",
        "--root",
        root.to_str().unwrap(),
        "--artifacts",
        &spec,
        "--progress",
        "json",
        "--upload-backoff",
        "50ms",
    ];
    args.extend_from_slice(extra);
    let mut c = common::env::command(bin());
    c.envs(env.iter().copied());
    c.args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        let mut sin = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            std::io::Write::write_all(&mut sin, s.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The `done` event's sha256 and upload report.
fn done(o: &Output) -> serde_json::Value {
    stderr(o)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "done")
        .unwrap_or_else(|| panic!("no done event: {}", stderr(o)))
}

/// Writes `bytes` to a file, checks it verifies and that its sha256 is `sha`.
fn check_object(bytes: &[u8], sha: &str, dir: &Path) -> Archive {
    assert_eq!(hex::encode(Sha256::digest(bytes)), sha, "object sha256");
    let p = dir.join("object.tar.zst");
    std::fs::write(&p, bytes).unwrap();
    verify_ok(&p);
    Archive::read(&p)
}

fn assert_no_secret(o: &Output, secret: &str) {
    let e = stderr(o);
    assert!(!e.contains(secret), "the URL's signature leaked: {e}");
}

fn sig_of(url: &str) -> String {
    url.split("Signature=")
        .nth(1)
        .or_else(|| url.split("sig=").nth(1))
        .unwrap()
        .to_owned()
}

#[test]
fn s3_presigned_put_post_and_multipart_plan() {
    let Some(s3) = Server::s3() else { return };
    let t = tempfile::tempdir().unwrap();
    let root = root_with(12);

    // Presigned PUT: the archive is held in memory and sent in one request.
    let url = s3.put_url("case/put.tar.zst");
    let o = upload(root.path(), &["--upload-url", &url], None);
    cairn_testkit::env::succeeded(&o);
    assert_no_secret(&o, &sig_of(&url));
    let d = done(&o);
    assert_eq!(d["upload"]["complete"], true);
    assert_eq!(d["upload"]["kind"], "s3-put");
    let a = check_object(
        &s3.get("case/put.tar.zst"),
        d["sha256"].as_str().unwrap(),
        t.path(),
    );
    assert_eq!(a.text("files/etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    assert_eq!(a.summary()["destination"]["kind"], "s3-put");
    assert!(!a.contains_bytes(sig_of(&url).as_bytes()));

    // Multipart through a plan on stdin: 5 MiB parts, so three of them.
    let plan = s3.multipart_plan(s3.port, "case/multi.tar.zst", 5 << 20, 8);
    let o = upload(root.path(), &["--upload-plan", "-"], Some(&plan));
    cairn_testkit::env::succeeded(&o);
    let d = done(&o);
    assert_eq!(d["upload"]["kind"], "s3-multipart");
    assert_eq!(d["upload"]["parts"], 3, "{d}");
    assert_eq!(d["upload"]["object"], "s3://evidence/case/multi.tar.zst");
    let obj = s3.get("case/multi.tar.zst");
    assert_eq!(obj.len() as u64, d["bytes"].as_u64().unwrap());
    check_object(&obj, d["sha256"].as_str().unwrap(), t.path());
    assert!(stderr(&o).contains("preflight"), "{}", stderr(&o));

    // POST policy.
    let plan = s3.post_plan("case/post.tar.zst");
    let pf = t.path().join("post.json");
    std::fs::write(&pf, plan).unwrap();
    // s3s 0.14.1's form parser now and then fails a well-formed file part ("HTTP 400
    // InvalidRequest: failed to read file stream", from aggregate_file_stream_limited)
    // depending on how the body arrives in segments; the same bytes pass on the next
    // POST. Only that exact server error earns another try, at most twice.
    let mut o = upload(root.path(), &["--upload-plan", pf.to_str().unwrap()], None);
    for _ in 0..2 {
        if o.status.success()
            || !stderr(&o).contains("HTTP 400 InvalidRequest: failed to read file stream")
        {
            break;
        }
        eprintln!(
            "s3s-fs refused a POST body it accepts on retry (known s3s flake); posting again"
        );
        o = upload(root.path(), &["--upload-plan", pf.to_str().unwrap()], None);
    }
    cairn_testkit::env::succeeded(&o);
    let d = done(&o);
    assert_eq!(d["upload"]["kind"], "s3-post");
    check_object(
        &s3.get("case/post.tar.zst"),
        d["sha256"].as_str().unwrap(),
        t.path(),
    );
}

#[test]
fn tampered_and_expired_urls_fail_clearly_and_the_fallback_holds_the_archive() {
    let Some(s3) = Server::s3() else { return };
    let t = tempfile::tempdir().unwrap();
    let root = root_with(2);

    // Tampered signature on a presigned PUT: refused with 403 at the PUT; the archive,
    // held in memory, goes whole to the fallback.
    let url = s3.put_url("case/t.tar.zst");
    let sig = sig_of(&url);
    let bad = url.replace(&sig, &format!("{}{}", &sig[..sig.len() - 4], "0000"));
    let fb = t.path().join("fallback.tar.zst");
    let o = upload(
        root.path(),
        &[
            "--upload-url",
            &bad,
            "--fallback-output",
            fb.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("UPLOAD FAILED") && e.contains("HTTP 403"), "{e}");
    assert!(e.contains("SignatureDoesNotMatch"), "{e}");
    assert!(
        e.contains("http://127.0.0.1:") && e.contains("/evidence/case/t.tar.zst?[query redacted]"),
        "{e}"
    );
    assert_no_secret(&o, &sig[..40]);
    let d = done(&o);
    let a = check_object(
        &std::fs::read(&fb).unwrap(),
        d["sha256"].as_str().unwrap(),
        t.path(),
    );
    assert_eq!(a.text("files/etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    let side = std::fs::read_to_string(t.path().join("fallback.tar.zst.sha256")).unwrap();
    assert!(side.starts_with(d["sha256"].as_str().unwrap()));

    // Expired (signed two hours ago for one hour): refused before collecting; the
    // fallback gets the whole archive and the collection log says why.
    let expired = s3.presign(s3.port, "PUT", "case/e.tar.zst", &[], 3600, -7200);
    let fb2 = t.path().join("fallback2.tar.zst");
    let o = upload(
        root.path(),
        &[
            "--upload-url",
            &expired,
            "--fallback-output",
            fb2.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("expired at"), "{}", stderr(&o));
    let d = done(&o);
    let a = check_object(
        &std::fs::read(&fb2).unwrap(),
        d["sha256"].as_str().unwrap(),
        t.path(),
    );
    assert!(a
        .log()
        .iter()
        .any(|l| l["event"] == "upload_failed"
            && l["message"].as_str().unwrap().contains("expired at")));

    // Without a fallback, a bad URL stops the collector before it collects anything.
    let o = upload(root.path(), &["--upload-url", &expired], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("expired at"), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("\"event\":\"start\""),
        "{}",
        stderr(&o)
    );

    // A multipart plan whose part URL is tampered: the preflight (an empty part 1)
    // catches it before collecting.
    let plan = s3.multipart_plan(s3.port, "case/m.tar.zst", 5 << 20, 2);
    let v: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let p1 = v["parts"][0].as_str().unwrap();
    let mut v2 = v.clone();
    let flipped = if p1.ends_with('0') { "1" } else { "0" };
    v2["parts"][0] = serde_json::json!(format!("{}{flipped}", &p1[..p1.len() - 1]));
    let o = upload(root.path(), &["--upload-plan", "-"], Some(&v2.to_string()));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("preflight") && stderr(&o).contains("403"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn azure_block_upload_of_200_mib_with_sha256_metadata() {
    let Some(az) = Server::azurite() else { return };
    let t = tempfile::tempdir().unwrap();
    let root = root_with(200);
    // A container SAS: the collector inserts the blob name.
    let sas = az.azure_sas(None, "cw", 3600);
    let o = upload(
        root.path(),
        &["--upload-url", &sas, "--upload-name", "ns_pod_app.tar.zst"],
        None,
    );
    cairn_testkit::env::succeeded(&o);
    assert_no_secret(&o, &sig_of(&sas));
    let d = done(&o);
    assert_eq!(d["upload"]["kind"], "azure-blob");
    assert!(d["upload"]["parts"].as_u64().unwrap() >= 25, "{d}");
    let (blob, meta) = az.azure_get("ns_pod_app.tar.zst");
    let sha = d["sha256"].as_str().unwrap();
    assert!(
        meta.iter()
            .any(|(k, v)| k == "x-ms-meta-cairn_sha256" && v == sha),
        "{meta:?}"
    );
    let a = check_object(&blob, sha, t.path());
    // Byte for byte, the files are those an --output collection of the same root stores.
    let local = t.path().join("local.tar.zst");
    collect(
        root.path(),
        &local,
        &["--artifacts", &spec_all(root.path(), "/")],
    );
    let b = Archive::read(&local);
    let files = |a: &Archive| -> Vec<(Vec<u8>, Vec<u8>)> {
        a.entries
            .iter()
            .filter(|(k, _)| k.starts_with(b"files/"))
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect()
    };
    assert_eq!(files(&a), files(&b));
    let data = files(&a)
        .iter()
        .filter(|(k, _)| k.starts_with(b"files/data/"))
        .count();
    assert_eq!(data, 200);
}

#[test]
fn gcs_resumable_upload_of_50_mib() {
    let Some(gcs) = Server::gcs() else { return };
    let t = tempfile::tempdir().unwrap();
    let root = root_with(50);
    let session = gcs.gcs_session("case/gcs.tar.zst");
    let o = upload(root.path(), &["--upload-url", &session], None);
    cairn_testkit::env::succeeded(&o);
    let d = done(&o);
    assert_eq!(d["upload"]["kind"], "gcs-resumable");
    assert!(d["upload"]["parts"].as_u64().unwrap() >= 6, "{d}");
    check_object(
        &gcs.gcs_get("case%2Fgcs.tar.zst"),
        d["sha256"].as_str().unwrap(),
        t.path(),
    );
    // A V4 signed PUT (the XML API): recognised by X-Goog-Signature, sent in one
    // request, and the signature never shown.
    let small = root_with(3);
    let url = gcs.gcs_signed_put("case/put.tar.zst");
    let o = upload(small.path(), &["--upload-url", &url], None);
    cairn_testkit::env::succeeded(&o);
    assert_no_secret(&o, &"ab".repeat(256));
    let d = done(&o);
    assert_eq!(d["upload"]["kind"], "gcs-put");
    assert_eq!(d["upload"]["parts"], 1);
    check_object(
        &gcs.gcs_get("case%2Fput.tar.zst"),
        d["sha256"].as_str().unwrap(),
        t.path(),
    );
    // A session that is already finalized refuses the next chunk: the whole archive
    // goes to the fallback.
    let fb = t.path().join("gcs-fallback.tar.zst");
    let small = root_with(1);
    let o = upload(
        small.path(),
        &[
            "--upload-url",
            &session,
            "--fallback-output",
            fb.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let d = done(&o);
    check_object(
        &std::fs::read(&fb).unwrap(),
        d["sha256"].as_str().unwrap(),
        t.path(),
    );
}

#[test]
fn faults_between_collector_and_s3_are_retried_and_the_object_is_exact() {
    let Some(s3) = Server::s3() else { return };
    let t = tempfile::tempdir().unwrap();
    let root = root_with(22);
    let rules = vec![
        Rule {
            method: "PUT",
            query_has: "partNumber=2",
            nth: 1,
            fault: Fault::DropAfter(1 << 20),
        },
        Rule {
            method: "PUT",
            query_has: "partNumber=2",
            nth: 2,
            fault: Fault::Status(503),
        },
        Rule {
            method: "PUT",
            query_has: "partNumber=3",
            nth: 1,
            fault: Fault::Status(500),
        },
        Rule {
            method: "PUT",
            query_has: "partNumber=3",
            nth: 2,
            fault: Fault::Status(503),
        },
        Rule {
            method: "PUT",
            query_has: "partNumber=4",
            nth: 1,
            fault: Fault::Stall(Duration::from_secs(5)),
        },
        Rule {
            method: "POST",
            query_has: "uploadId=",
            nth: 1,
            fault: Fault::Status(503),
        },
    ];
    let proxy = Proxy::start(s3.port, rules);
    let plan = s3.multipart_plan(proxy.port, "case/faults.tar.zst", 5 << 20, 10);
    let o = upload(
        root.path(),
        &["--upload-plan", "-", "--upload-timeout", "2s"],
        Some(&plan),
    );
    assert!(
        o.status.success(),
        "{}\n{:?}",
        stderr(&o),
        proxy.seen.lock().unwrap()
    );
    let d = done(&o);
    assert_eq!(d["upload"]["complete"], true);
    assert!(d["upload"]["retries"].as_u64().unwrap() >= 6, "{d}");
    let obj = s3.get("case/faults.tar.zst");
    let a = check_object(&obj, d["sha256"].as_str().unwrap(), t.path());
    // The retries show in the progress stream. (Most happen after the collection log
    // was sealed: zstd hands over most compressed bytes at the end.)
    let e = stderr(&o);
    for what in ["part 2", "part 3", "part 4", "CompleteMultipartUpload"] {
        assert!(
            e.lines()
                .any(|l| l.contains("upload_retry") && l.contains(what)),
            "{what}: {e}"
        );
    }
    assert!(
        e.contains("HTTP 503 Injected503") && e.contains("timed out"),
        "{e}"
    );
    assert_eq!(a.summary()["destination"]["kind"], "s3-multipart");
}

#[test]
fn a_failure_mid_upload_commits_the_prefix_and_the_fallback_holds_the_rest() {
    let Some(s3) = Server::s3() else { return };
    let t = tempfile::tempdir().unwrap();
    let root = root_with(16);
    // Part 3 is refused for good (403 is not retried).
    let rules = vec![Rule {
        method: "PUT",
        query_has: "partNumber=3",
        nth: 1,
        fault: Fault::Status(403),
    }];
    let proxy = Proxy::start(s3.port, rules);
    let plan = s3.multipart_plan(proxy.port, "case/prefix.tar.zst", 5 << 20, 10);
    let fb = t.path().join("rest.bin");
    let o = upload(
        root.path(),
        &[
            "--upload-plan",
            "-",
            "--fallback-output",
            fb.to_str().unwrap(),
        ],
        Some(&plan),
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let d = done(&o);
    let from = d["upload"]["fallback_from"].as_u64().unwrap();
    assert_eq!(from, 10 << 20);
    assert_eq!(d["upload"]["uploaded_bytes"].as_u64().unwrap(), from);
    assert!(
        stderr(&o).contains("part 3") && stderr(&o).contains("403"),
        "{}",
        stderr(&o)
    );
    // Object + fallback = the whole archive.
    let mut whole = s3.get("case/prefix.tar.zst");
    assert_eq!(whole.len() as u64, from);
    whole.extend(std::fs::read(&fb).unwrap());
    check_object(&whole, d["sha256"].as_str().unwrap(), t.path());
    let note: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(t.path().join("rest.bin.upload.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(note["fallback_holds_from_byte"], from);
}

#[test]
fn tls_with_a_private_ca_through_https_proxy_and_no_proxy() {
    let Some(s3) = Server::s3() else { return };
    let t = tempfile::tempdir().unwrap();
    let front = TlsFront::start(s3.port, t.path());
    let proxy = ConnectProxy::start();
    let root = root_with(12);
    let https = |url: String| url.replace("http://", "https://");
    let ca = front.ca.to_str().unwrap().to_owned();
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);

    // The built-in web PKI roots do not know the private CA: the preflight's handshake
    // fails, before anything is collected, and says it is about TLS.
    let plan = https(s3.multipart_plan(front.port, "case/tls0.tar.zst", 8 << 20, 4));
    let o = upload(root.path(), &["--upload-plan", "-"], Some(&plan));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Not retried: another attempt cannot make the certificate trusted.
    let e = stderr(&o);
    assert!(
        e.contains("TLS: the server's certificate was refused")
            && e.contains("--ca-file")
            && e.contains("after 1 attempt(s)"),
        "{e}"
    );

    // With --ca-file and HTTPS_PROXY: multipart through the proxy's tunnels.
    let plan = https(s3.multipart_plan(front.port, "case/tls.tar.zst", 8 << 20, 4));
    let o = upload_env(
        root.path(),
        &["--upload-plan", "-", "--ca-file", &ca],
        Some(&plan),
        &[("HTTPS_PROXY", &proxy_url)],
    );
    cairn_testkit::env::succeeded(&o);
    let d = done(&o);
    assert_eq!(d["upload"]["complete"], true);
    assert_eq!(d["upload"]["parts"], 2);
    check_object(
        &s3.get("case/tls.tar.zst"),
        d["sha256"].as_str().unwrap(),
        t.path(),
    );
    let through = proxy.tunnels.load(std::sync::atomic::Ordering::SeqCst);
    assert!(through >= 1, "no tunnel went through HTTPS_PROXY");

    // NO_PROXY names the host: a presigned PUT goes straight to it.
    let url = https(s3.presign(front.port, "PUT", "case/direct.tar.zst", &[], 600, 0));
    let o = upload_env(
        root.path(),
        &["--upload-url", &url, "--ca-file", &ca],
        None,
        &[("HTTPS_PROXY", &proxy_url), ("NO_PROXY", "127.0.0.1")],
    );
    cairn_testkit::env::succeeded(&o);
    check_object(
        &s3.get("case/direct.tar.zst"),
        done(&o)["sha256"].as_str().unwrap(),
        t.path(),
    );
    assert_eq!(
        proxy.tunnels.load(std::sync::atomic::Ordering::SeqCst),
        through,
        "NO_PROXY was not honoured"
    );
}
