//! Straight from the pod to a bucket: S3 through plans the launcher presigns, GCS
//! through sessions it opens, Azure through a container SAS and a URL template.

use super::*;

#[test]
fn straight_to_s3_through_plans_the_launcher_presigns() {
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
    let bin = std::env::var("CAIRN_MUSL_BIN").unwrap();
    let o = common::env::command(CAIRN)
        .arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args([
            "-n",
            &ns,
            "-l",
            "app=web",
            "collect",
            "--s3",
            "s3://evidence/case-42",
            "-o",
            "json",
        ])
        .env("CAIRN_COLLECTOR_BIN", bin)
        .env("AWS_ACCESS_KEY_ID", common::stores::AK)
        .env("AWS_SECRET_ACCESS_KEY", common::stores::SK)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", format!("http://{gw}:{port}"))
        .output()
        .unwrap();
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
        let sha = Command::new("sha256sum").arg(&p).output().unwrap();
        assert_eq!(
            text(&sha.stdout).split_whitespace().next(),
            r["sha256"].as_str()
        );
    }
    assert_eq!(report.as_array().unwrap().len(), 2);
    // No credential and no presigned URL reached the pods' files or the report.
    let all = text(&o.stdout) + &text(&o.stderr);
    assert!(
        !all.contains(common::stores::SK) && !all.contains("X-Amz-Signature"),
        "{all}"
    );
    for p in [&a, &b] {
        assert_eq!(docker::leftovers(&p.0), "");
    }
}

#[test]
fn straight_to_gcs_through_sessions_the_launcher_opens() {
    let Some(_) = docker::setup() else { return };
    let Some(gcs) = common::stores::Server::gcs() else {
        return;
    };
    let ns = format!("gcs-{}", std::process::id());
    let p = pod(&ns, "web", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    let gw = docker::bridge_gateway();
    let port = common::relay(gcs.port);
    let o = common::env::command(CAIRN)
        .arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args([
            "-n",
            &ns,
            "collect",
            "web",
            "--gcs",
            "gs://evidence/ir/case-7",
            "-o",
            "json",
        ])
        .env(
            "CAIRN_COLLECTOR_BIN",
            std::env::var("CAIRN_MUSL_BIN").unwrap(),
        )
        // The session URL the emulator gives names the address it was asked at, so
        // the pod reaches it through the relay.
        .env("STORAGE_EMULATOR_HOST", format!("http://{gw}:{port}"))
        .output()
        .unwrap();
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
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    assert_eq!(r["sha256"].as_str(), Some(sha.as_str()));
    assert_eq!(r["bytes"].as_u64(), Some(bytes.len() as u64));
    // The session URL is a credential: it shows nowhere.
    assert!(!(out.clone() + &err).contains("upload_id"), "{out}\n{err}");
    assert_eq!(docker::leftovers(&p.0), "");
}

#[test]
fn straight_to_azure_through_a_container_sas_and_a_url_template() {
    let Some(_) = docker::setup() else { return };
    let Some(az) = common::stores::Server::azurite() else {
        return;
    };
    let ns = format!("az-{}", std::process::id());
    let p = pod(&ns, "web", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    let gw = docker::bridge_gateway();
    let port = common::relay(az.port);
    let sas = az
        .azure_sas(None, "cw", 3600)
        .replace(&format!("127.0.0.1:{}", az.port), &format!("{gw}:{port}"));
    let bin = std::env::var("CAIRN_MUSL_BIN").unwrap();
    let run = |sas: &str| {
        common::env::command(CAIRN)
            .arg("--kubeconfig")
            .arg(&s.kubeconfig)
            .args([
                "-n",
                &ns,
                "collect",
                "web",
                "--azure-sas",
                sas,
                "-o",
                "json",
            ])
            .env("CAIRN_COLLECTOR_BIN", &bin)
            .output()
            .unwrap()
    };
    let o = run(&sas);
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
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
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "x-ms-meta-cairn_sha256" && v == sha),
        "{headers:?}"
    );
    let sig = sas.split("sig=").nth(1).unwrap().split('&').next().unwrap();
    assert!(
        !(text(&o.stdout) + &text(&o.stderr)).contains(sig),
        "the SAS leaked"
    );
    assert_eq!(docker::leftovers(&p.0), "");
    // A blob SAS would make every target overwrite one blob: refused up front.
    let o = run(&sas.replace("sr=c", "sr=b"));
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
    let with_template = |template: &str| {
        common::env::command(CAIRN)
            .arg("--kubeconfig")
            .arg(&s.kubeconfig)
            .args([
                "-n",
                &ns,
                "collect",
                "web",
                "api",
                "--upload-url-template",
                template,
            ])
            .args(["-o", "json"])
            .env("CAIRN_COLLECTOR_BIN", &bin)
            .output()
            .unwrap()
    };
    let o = with_template(&template);
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
        assert_eq!(
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
            r["sha256"].as_str().unwrap(),
            "{blob}"
        );
        std::fs::write(&f, &bytes).unwrap();
        verify_ok(&f);
    }
    assert!(
        !(text(&o.stdout) + &text(&o.stderr)).contains(sig),
        "the SAS leaked"
    );
    assert_eq!(docker::leftovers(&p2.0), "");
    // Without a placeholder two targets would overwrite one object: refused.
    let o = with_template(&format!("{base}/one.tar.zst?{query}"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("would overwrite one object"),
        "{}",
        text(&o.stderr)
    );
}
