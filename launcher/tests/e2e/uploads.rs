//! To a bucket: S3 through plans the launcher presigns and completes, GCS through
//! sessions it opens and cancels, Azure through a per-blob SAS it signs and a container
//! SAS or URL template it keeps to itself (the relay). Each test also reads what the
//! pods were given (every exec's arguments and stdin, as the test API server recorded
//! them): a credential for more than the pod's own object never appears there.

use super::*;
use cairn_testkit::faults::{Fault, Proxy, Rule};
use std::time::Duration;

/// `cairn -n NS ARGS -o json` with `env`; the collector is the static one.
fn collect_json(s: &ApiServer, ns: &str, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut c = common::env::command(CAIRN);
    c.arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args(["-n", ns, "collect"])
        .args(args)
        .args(["-o", "json"])
        .env(
            "CAIRN_COLLECTOR_BIN",
            std::env::var("CAIRN_MUSL_BIN").unwrap(),
        );
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

pub fn s3_env(endpoint: String) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", common::stores::AK.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", common::stores::SK.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ENDPOINT_URL", endpoint),
    ]
}

/// The multipart uploads s3s-fs holds open (its `.upload-ID.json` files).
pub fn open_uploads(s3: &common::stores::Server) -> Vec<String> {
    std::fs::read_dir(s3.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".upload"))
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes))
}

#[test]
fn straight_to_s3_through_plans_the_launcher_presigns_and_completes() {
    let Some(_) = docker::setup() else { return };
    let Some(s3) = common::stores::Server::s3() else {
        return;
    };
    let ns = format!("s3-{}", std::process::id());
    let a = pod(
        &ns,
        "web-a",
        docker::busybox_image(),
        &["--label", "app=web"],
    );
    let b = pod(
        &ns,
        "web-b",
        docker::busybox_image(),
        &["--label", "app=web"],
    );
    let s = ApiServer::start(&[]);
    let gw = docker::bridge_gateway();
    let port = common::relay(s3.port);
    let o = collect_json(
        &s,
        &ns,
        &["-l", "app=web", "--s3", "s3://evidence/case-42"],
        &s3_env(format!("http://{gw}:{port}")),
    );
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let t = tempfile::tempdir().unwrap();
    for r in report.as_array().unwrap() {
        let object = r["archive"].as_str().unwrap();
        let key = object.strip_prefix("s3://evidence/").expect(object);
        assert!(key.starts_with(&format!("case-42/{ns}_web-")), "{key}");
        // The object is the archive the collector reported, byte for byte.
        let bytes = s3.get(key);
        assert_eq!(bytes.len() as u64, r["bytes"].as_u64().unwrap());
        let p = t.path().join("o.tar.zst");
        std::fs::write(&p, &bytes).unwrap();
        verify_ok(&p);
        assert_eq!(Some(sha256_hex(&bytes).as_str()), r["sha256"].as_str());
        // What the launcher checked itself is told apart from the collector's claim.
        let v = &r["verified"];
        assert_eq!(v["bytes"].as_u64(), Some(bytes.len() as u64), "{r}");
        assert!(v["sha256"].is_null(), "{r}");
        assert!(
            v["how"]
                .as_str()
                .unwrap()
                .contains("completed by the launcher"),
            "{r}"
        );
    }
    assert_eq!(report.as_array().unwrap().len(), 2);
    assert!(open_uploads(&s3).is_empty(), "{:?}", open_uploads(&s3));
    // No credential and no presigned URL reached the terminal.
    let all = text(&o.stdout) + &text(&o.stderr);
    assert!(
        !all.contains(common::stores::SK) && !all.contains("X-Amz-Signature"),
        "{all}"
    );
    // The pods got part URLs only: nothing that completes, lists, reads or deletes.
    let saw = text(&s.what_pods_saw());
    let plans: Vec<serde_json::Value> = saw
        .match_indices("{\"kind\":\"s3-multipart\"")
        .map(|(i, _)| {
            serde_json::Deserializer::from_str(&saw[i..])
                .into_iter::<serde_json::Value>()
                .next()
                .unwrap()
                .unwrap()
        })
        .collect();
    assert_eq!(plans.len(), 2, "one plan per pod");
    for plan in &plans {
        assert!(plan.get("complete_url").is_none(), "{plan}");
        for u in plan["parts"].as_array().unwrap() {
            let u = u.as_str().unwrap();
            assert!(u.contains("partNumber=") && u.contains("uploadId="), "{u}");
            // Valid for the collection (the default --timeout of 30m) and two minutes.
            assert!(u.contains("X-Amz-Expires=1920&"), "{u}");
        }
    }
    assert!(!saw.contains(common::stores::SK));
    for p in [&a, &b] {
        assert_eq!(docker::leftovers(&p.0), "");
    }
}

/// Beside the archives in a store: the Kubernetes evidence and the case record, which
/// the launcher uploads itself with the responder's credentials. The record lists each
/// object with the sha256 it rests on and is signed; a copy of the prefix checks with
/// `cairn verify-case` and stock `ssh-keygen -Y verify`, and a changed byte is named.
#[test]
fn the_kubernetes_evidence_and_a_signed_case_record_go_beside_the_archives_in_s3() {
    let Some(_) = docker::setup() else { return };
    let Some(s3) = common::stores::Server::s3() else {
        return;
    };
    let ns = format!("s3-case-{}", std::process::id());
    let p = pod(&ns, "web", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    let key = s.dir.path().join("examiner");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ada@ir", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen (openssh-client)");
    assert!(made.success());
    let relay_dir = tempfile::tempdir().unwrap();
    let gw = docker::bridge_gateway();
    let port = common::relay(s3.port);
    let o = collect_json(
        &s,
        &ns,
        &[
            "web",
            "--s3",
            "s3://evidence/IR-7",
            "--case",
            "IR-7",
            "--sign-key",
            key.to_str().unwrap(),
            "--relay-dir",
            relay_dir.path().to_str().unwrap(),
        ],
        &s3_env(format!("http://{gw}:{port}")),
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{out}\n{err}");
    let r = &serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0];
    let k8s = &r["k8s_evidence"];
    let object = k8s["archive"].as_str().unwrap();
    assert!(
        object.starts_with(&format!("s3://evidence/IR-7/{ns}_web_main_"))
            && object.ends_with(".k8s.tar.zst"),
        "{r}"
    );
    assert!(k8s["not_stored"].is_null(), "{r}");
    // The prefix holds the archive, the evidence, the record and its signature; the
    // launcher left nothing behind, here or in the store.
    let prefix = s3.dir.path().join("evidence/IR-7");
    let mut names: Vec<String> = std::fs::read_dir(&prefix)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 4, "{names:?}");
    let record_name = names
        .iter()
        .find(|n| n.starts_with("case-") && n.ends_with(".json"))
        .expect("case-START.json")
        .clone();
    assert!(names.contains(&format!("{record_name}.sig")), "{names:?}");
    assert_eq!(std::fs::read_dir(relay_dir.path()).unwrap().count(), 0);
    assert!(open_uploads(&s3).is_empty(), "{:?}", open_uploads(&s3));
    let k8s_name = object.rsplit('/').next().unwrap();
    let k8s_bytes = s3.get(&format!("IR-7/{k8s_name}"));
    assert_eq!(
        Some(sha256_hex(&k8s_bytes).as_str()),
        k8s["sha256"].as_str()
    );
    verify_ok(&prefix.join(k8s_name));
    // The record names the store and each object, and says what each sha256 rests on.
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(prefix.join(&record_name)).unwrap()).unwrap();
    assert_eq!(record["case"], "IR-7");
    assert_eq!(record["destination"], "s3://evidence/IR-7");
    let files = record["targets"][0]["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{record}");
    assert_eq!(files[0]["object"], r["archive"]);
    assert_eq!(files[0]["sha256"], r["sha256"]);
    assert_eq!(files[0]["sha256_by_collector"], r["sha256"]);
    assert!(files[0]["sha256_on_arrival"].is_null(), "{record}");
    assert!(files[0]["checked"].as_str().unwrap().contains("HeadObject"));
    assert_eq!(files[1]["file"], k8s_name);
    assert_eq!(files[1]["kubernetes_evidence"], true);
    // Stock ssh-keygen checks the record as it lies in the store.
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let allowed = s.dir.path().join("allowed_signers");
    std::fs::write(&allowed, format!("ada@ir {public}")).unwrap();
    let v = std::process::Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f"])
        .arg(&allowed)
        .args(["-I", "ada@ir", "-n", "cairn", "-s"])
        .arg(prefix.join(format!("{record_name}.sig")))
        .stdin(std::fs::File::open(prefix.join(&record_name)).unwrap())
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&v);
    // A copy of the prefix checks with verify-case; a changed byte is named.
    let verify = || {
        common::env::command(CAIRN)
            .arg("verify-case")
            .arg(&prefix)
            .output()
            .unwrap()
    };
    let v = verify();
    cairn_testkit::env::succeeded(&v);
    assert!(
        text(&v.stdout).contains(&format!("{record_name}: signature good")),
        "{}",
        text(&v.stdout)
    );
    let mut bytes = k8s_bytes.clone();
    bytes[k8s_bytes.len() / 2] ^= 1;
    std::fs::write(prefix.join(k8s_name), &bytes).unwrap();
    let v = verify();
    assert_eq!(v.status.code(), Some(1), "{}", text(&v.stdout));
    assert!(
        text(&v.stdout)
            .lines()
            .any(|l| l.starts_with(&format!("FAILED {k8s_name}: sha256 "))),
        "{}",
        text(&v.stdout)
    );
    assert!(!(out + &err).contains(common::stores::SK));
    assert_eq!(docker::leftovers(&p.0), "");
}

#[test]
fn an_s3_upload_that_fails_or_is_cut_off_is_aborted() {
    let Some(_) = docker::setup() else { return };
    let Some(s3) = common::stores::Server::s3() else {
        return;
    };
    let ns = format!("s3-abort-{}", std::process::id());
    let p = pod(&ns, "web", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    let gw = docker::bridge_gateway();
    // The pod's first part never gets an answer: the collection runs into --timeout.
    let proxy = Proxy::start(
        s3.port,
        vec![Rule {
            method: "PUT",
            query_has: "partNumber",
            nth: 1,
            fault: Fault::Stall(Duration::from_secs(60)),
        }],
    );
    let port = common::relay(proxy.port);
    let env = s3_env(format!("http://{gw}:{port}"));
    let o = collect_json(
        &s,
        &ns,
        &["web", "--s3", "s3://evidence/cut", "--timeout", "8s"],
        &env,
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(out.contains("timed out after 8s"), "{out}");
    let seen = proxy.seen.lock().unwrap().join("\n");
    assert!(
        seen.contains("DELETE /evidence/cut/"),
        "no abort sent:\n{seen}"
    );
    assert!(open_uploads(&s3).is_empty(), "{:?}", open_uploads(&s3));
    // A collection that fails on its own is aborted too.
    let o = collect_json(
        &s,
        &ns,
        &[
            "web",
            "--s3",
            "s3://evidence/failed",
            "--",
            "--profile",
            "no-such-profile",
        ],
        &s3_env(format!("http://{gw}:{}", common::relay(s3.port))),
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(open_uploads(&s3).is_empty(), "{:?}", open_uploads(&s3));
    assert_eq!(docker::leftovers(&p.0), "");
}

#[test]
fn straight_to_gcs_through_sessions_the_launcher_opens_checks_and_cancels() {
    let Some(_) = docker::setup() else { return };
    let Some(gcs) = common::stores::Server::gcs() else {
        return;
    };
    let ns = format!("gcs-{}", std::process::id());
    let p = pod(&ns, "web", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    let gw = docker::bridge_gateway();
    // Through a proxy that records what the launcher asks for.
    let proxy = Proxy::start(gcs.port, vec![]);
    let port = common::relay(proxy.port);
    // The session URL the emulator gives names the address it was asked at, so the
    // pod reaches it through the relay.
    let env = [("STORAGE_EMULATOR_HOST", format!("http://{gw}:{port}"))];
    let o = collect_json(&s, &ns, &["web", "--gcs", "gs://evidence/ir/case-7"], &env);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{out}\n{err}");
    let r = &serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0];
    let object = r["archive"].as_str().unwrap();
    let key = object.strip_prefix("gs://evidence/").unwrap();
    assert!(
        key.starts_with(&format!("ir/case-7/{ns}_web_main_")),
        "{key}"
    );
    let bytes = gcs.gcs_get(&key.replace('/', "%2F"));
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("object.tar.zst");
    std::fs::write(&f, &bytes).unwrap();
    verify_ok(&f);
    assert_eq!(r["sha256"].as_str(), Some(sha256_hex(&bytes).as_str()));
    assert_eq!(r["bytes"].as_u64(), Some(bytes.len() as u64));
    assert_eq!(r["verified"]["bytes"].as_u64(), Some(bytes.len() as u64));
    // The session URL is a credential: it shows nowhere.
    assert!(!(out.clone() + &err).contains("upload_id"), "{out}\n{err}");
    assert_eq!(docker::leftovers(&p.0), "");
    // A collection that fails: its session is cancelled (DELETE, which Google answers
    // 499; the emulator answers so but keeps the session, so the request is what
    // this checks).
    let o = collect_json(
        &s,
        &ns,
        &[
            "web",
            "--gcs",
            "gs://evidence/failed",
            "--",
            "--profile",
            "no-such-profile",
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let seen = proxy.seen.lock().unwrap().join("\n");
    assert!(
        seen.lines()
            .any(|l| l.starts_with("DELETE /upload/storage/v1/b/evidence/o?")
                && l.contains("failed")),
        "no cancel sent:\n{seen}"
    );
    // The run says how long a session it could not cancel stays usable.
    assert!(err.contains("usable for 7 days after it opens"), "{err}");
    a_terminated_run_cancels_its_gcs_session(&s, &ns, &gcs, gw);
}

/// SIGTERM while the pod uploads (its first chunk never answered): the run ends 130
/// and the session is cancelled before cairn exits.
fn a_terminated_run_cancels_its_gcs_session(
    s: &ApiServer,
    ns: &str,
    gcs: &common::stores::Server,
    gw: String,
) {
    let proxy = Proxy::start(
        gcs.port,
        vec![Rule {
            method: "PUT",
            query_has: "upload_id",
            nth: 1,
            fault: Fault::Stall(Duration::from_secs(60)),
        }],
    );
    let port = common::relay(proxy.port);
    let child = common::env::command(CAIRN)
        .arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args(["-n", ns, "collect", "web", "--gcs", "gs://evidence/termed"])
        .env(
            "CAIRN_COLLECTOR_BIN",
            std::env::var("CAIRN_MUSL_BIN").unwrap(),
        )
        .env("STORAGE_EMULATOR_HOST", format!("http://{gw}:{port}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !proxy
        .seen
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.starts_with("PUT "))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the pod never uploaded"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let o = child.wait_with_output().unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted (SIGTERM)"), "{err}");
    let seen = proxy.seen.lock().unwrap().join("\n");
    assert!(
        seen.lines()
            .any(|l| l.starts_with("DELETE /upload/storage/v1/b/evidence/o?")
                && l.contains("termed")),
        "no cancel sent:\n{seen}"
    );
}

#[test]
fn straight_to_azure_through_a_blob_sas_the_launcher_signs_for_one_blob() {
    let Some(_) = docker::setup() else { return };
    let Some(az) = common::stores::Server::azurite() else {
        return;
    };
    let ns = format!("azb-{}", std::process::id());
    let p = pod(&ns, "web", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    let gw = docker::bridge_gateway();
    let port = common::relay(az.port);
    let account = common::stores::AZ_ACCOUNT;
    let env = [("AZURE_STORAGE_KEY", common::stores::AZ_KEY.to_owned())];
    let o = collect_json(
        &s,
        &ns,
        &[
            "web",
            "--azure",
            &format!("http://{gw}:{port}/{account}/evidence/cases"),
        ],
        &env,
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{out}\n{err}");
    let r = &serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0];
    let location = r["archive"].as_str().unwrap();
    assert!(location.contains("?snapshot="), "{location}");
    let blob = location
        .split("/evidence/")
        .nth(1)
        .and_then(|b| b.split('?').next())
        .unwrap();
    assert!(blob.starts_with(&format!("cases/{ns}_web_main_")), "{blob}");
    let (bytes, _) = az.azure_get(blob);
    assert_eq!(r["sha256"].as_str(), Some(sha256_hex(&bytes).as_str()));
    assert_eq!(r["verified"]["bytes"].as_u64(), Some(bytes.len() as u64));
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("blob.tar.zst");
    std::fs::write(&f, &bytes).unwrap();
    verify_ok(&f);
    // The pod got a SAS for its own blob, create and write only; it cannot read
    // the blob back with it.
    let saw = text(&s.what_pods_saw());
    // The payload follows the collector's bytes on stdin, on the same line.
    let sas = saw
        .split(['\n', '\0'])
        .filter_map(|l| l.find("http://").map(|i| &l[i..]))
        .find(|l| l.contains("sig="))
        .expect("the pod's SAS")
        .to_owned();
    assert!(sas.contains("sr=b") && sas.contains("sp=cw"), "{sas}");
    assert!(sas.contains(&format!("/evidence/{blob}?")), "{sas}");
    let read = common::stores::direct()
        .get(&sas)
        .header("x-ms-version", "2021-08-06")
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    assert_eq!(read.status(), 403, "the pod's SAS could read");
    assert_eq!(docker::leftovers(&p.0), "");
}

#[test]
fn a_container_sas_or_a_url_template_never_enters_a_pod_the_launcher_uploads() {
    let Some(_) = docker::setup() else { return };
    let Some(az) = common::stores::Server::azurite() else {
        return;
    };
    let ns = format!("az-{}", std::process::id());
    let p = pod(&ns, "web", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    // The launcher uploads: the store need not be reachable from the pods.
    let sas = az.azure_sas(None, "cw", 3600);
    let sig = sas.split("sig=").nth(1).unwrap().split('&').next().unwrap();
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = relay_dir.path().to_str().unwrap();
    let o = collect_json(
        &s,
        &ns,
        &["web", "--azure-sas", &sas, "--relay-dir", relay],
        &[],
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{out}\n{err}");
    let r = &serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0];
    let location = r["archive"].as_str().unwrap();
    assert!(location.contains("?[query redacted]"), "{location}");
    let blob = location
        .split("/evidence/")
        .nth(1)
        .and_then(|b| b.split('?').next())
        .unwrap();
    assert!(blob.starts_with(&format!("{ns}_web_main_")), "{blob}");
    let (bytes, headers) = az.azure_get(blob);
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("blob.tar.zst");
    std::fs::write(&f, &bytes).unwrap();
    verify_ok(&f);
    let sha = r["sha256"].as_str().unwrap();
    assert_eq!(sha256_hex(&bytes), sha);
    // The launcher hashed what arrived itself.
    assert_eq!(r["verified"]["sha256"].as_str(), Some(sha), "{r}");
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "x-ms-meta-cairn_sha256" && v == sha),
        "{headers:?}"
    );
    assert!(!(out + &err).contains(sig), "the SAS leaked");
    assert!(
        !text(&s.what_pods_saw()).contains(sig),
        "the container SAS reached a pod"
    );
    // The launcher put the Kubernetes evidence and the case record beside it.
    let k8s = r["k8s_evidence"]["archive"].as_str().unwrap();
    let k8s_blob = k8s
        .split("/evidence/")
        .nth(1)
        .and_then(|b| b.split('?').next())
        .unwrap();
    assert_eq!(k8s_blob, blob.replace(".tar.zst", ".k8s.tar.zst"), "{r}");
    let (k8s_bytes, _) = az.azure_get(k8s_blob);
    assert_eq!(
        Some(sha256_hex(&k8s_bytes).as_str()),
        r["k8s_evidence"]["sha256"].as_str()
    );
    std::fs::write(&f, &k8s_bytes).unwrap();
    verify_ok(&f);
    let stored_at = err
        .lines()
        .find_map(|l| l.strip_prefix("cairn: case record "))
        .expect("where the case record went");
    let case_blob = stored_at
        .split("/evidence/")
        .nth(1)
        .and_then(|b| b.split('?').next())
        .unwrap();
    assert!(case_blob.starts_with("case-"), "{stored_at}");
    let (case, _) = az.azure_get(case_blob);
    let record: serde_json::Value = serde_json::from_slice(&case).unwrap();
    assert_eq!(
        record["targets"][0]["files"][0]["sha256_on_arrival"].as_str(),
        Some(sha)
    );
    assert!(
        !record.to_string().contains(sig),
        "the SAS is in the record"
    );
    // Nothing stays in the relay directory once uploaded.
    assert_eq!(std::fs::read_dir(relay_dir.path()).unwrap().count(), 0);
    assert_eq!(docker::leftovers(&p.0), "");
    // A blob SAS would make every target overwrite one blob: refused up front.
    let o = collect_json(
        &s,
        &ns,
        &["web", "--azure-sas", &sas.replace("sr=c", "sr=b")],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("container SAS (sr=c)"),
        "{}",
        text(&o.stderr)
    );

    // --upload-url-template: the blob path made per target from the placeholders.
    let p2 = pod(&ns, "api", docker::busybox_image(), &[]);
    let (base, query) = sas.split_once('?').unwrap();
    let template = format!("{base}/cases/{{namespace}}/{{pod}}-{{container}}.tar.zst?{query}");
    let o = collect_json(
        &s,
        &ns,
        &[
            "web",
            "api",
            "--upload-url-template",
            &template,
            "--relay-dir",
            relay,
        ],
        &[],
    );
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for (r, name) in report.as_array().unwrap().iter().zip(["api", "web"]) {
        let blob = format!("cases/{ns}/{name}-main.tar.zst");
        let (bytes, _) = az.azure_get(&blob);
        assert_eq!(sha256_hex(&bytes), r["sha256"].as_str().unwrap(), "{blob}");
        std::fs::write(&f, &bytes).unwrap();
        verify_ok(&f);
    }
    assert!(
        !(text(&o.stdout) + &text(&o.stderr)).contains(sig),
        "the SAS leaked"
    );
    assert!(
        !text(&s.what_pods_saw()).contains(sig),
        "the template's SAS reached a pod"
    );
    assert_eq!(docker::leftovers(&p2.0), "");
    // Without {name} in the template, the evidence and the record have no object of
    // their own: they stay in the relay directory, and the report says so.
    for r in report.as_array().unwrap() {
        let k8s = &r["k8s_evidence"];
        assert!(
            k8s["not_stored"]
                .as_str()
                .unwrap()
                .contains("has no {name}"),
            "{r}"
        );
        verify_ok(Path::new(k8s["archive"].as_str().unwrap()));
        assert!(k8s["archive"].as_str().unwrap().starts_with(relay), "{r}");
    }
    // In the run's own directory, made for it in --relay-dir.
    assert!(
        text(&o.stderr).contains(&format!("cairn: case record {relay}/cairn-"))
            && text(&o.stderr).contains("/case-"),
        "{}",
        text(&o.stderr)
    );
    common::assert_private(Path::new(relay));
    // Without a placeholder two targets would overwrite one object: refused.
    let o = collect_json(
        &s,
        &ns,
        &[
            "web",
            "api",
            "--upload-url-template",
            &format!("{base}/one.tar.zst?{query}"),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("would overwrite one object"),
        "{}",
        text(&o.stderr)
    );
    // An upload that fails keeps the archive, the evidence and the record in the
    // relay directory and says where.
    let failing = tempfile::tempdir().unwrap();
    let o = collect_json(
        &s,
        &ns,
        &[
            "web",
            "--azure-sas",
            &sas.replace(&format!(":{}/", az.port), ":9/"),
            "--relay-dir",
            failing.path().to_str().unwrap(),
        ],
        &[],
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{out}");
    // Kept in the run's own directory (0700, files 0600), not loose in --relay-dir.
    let run_dirs: Vec<_> = std::fs::read_dir(failing.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(run_dirs.len(), 1, "{run_dirs:?}");
    let run_dir = &run_dirs[0];
    assert!(
        run_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("cairn-"),
        "{run_dir:?}"
    );
    common::assert_private(failing.path());
    let mut kept: Vec<String> = std::fs::read_dir(run_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept.len(), 4, "{kept:?}");
    let archive = kept
        .iter()
        .find(|n| !n.starts_with("case-") && !n.contains(".k8s."))
        .unwrap();
    let k8s = kept.iter().find(|n| n.ends_with(".k8s.tar.zst")).unwrap();
    assert!(
        kept.iter().any(|n| n == &format!("{k8s}.sha256")),
        "{kept:?}"
    );
    assert!(kept.iter().any(|n| n.starts_with("case-")), "{kept:?}");
    for n in [archive, k8s] {
        let path = run_dir.join(n);
        assert!(out.contains(&path.display().to_string()), "{n}: {out}");
        verify_ok(&path);
    }
    assert!(
        err.contains("cairn: error: the case record: the store did not take case-")
            && err.contains("kept:"),
        "{err}"
    );
    assert!(!(out + &err).contains(sig), "the SAS leaked");
}
