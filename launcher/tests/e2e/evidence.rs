//! The Kubernetes evidence beside each archive (`NAME.k8s.tar.zst`): a pod whose
//! container printed a marker and was restarted once, with a service account, a role
//! binding, network policies, an owner chain and an event; collected as a user who may
//! read everything, and as one who may not read RBAC, whose refusal is recorded.

use super::*;
use cairn_testkit::archive::Archive;
use serde_json::{json, Value};

/// The objects the test API server serves beside the pod (`--objects`).
fn objects(dir: &Path, ns: &str) {
    let put = |name: &str, v: Value| {
        std::fs::write(dir.join(format!("{name}.json")), v.to_string()).unwrap();
    };
    put(
        "sa",
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "shop-sa", "namespace": ns}}),
    );
    put(
        "role",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "secret-reader", "namespace": ns},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]}),
    );
    put(
        "rb",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "web-reads-secrets", "namespace": ns},
        "subjects": [{"kind": "ServiceAccount", "name": "shop-sa", "namespace": ns}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "secret-reader"}}),
    );
    put(
        "rb-other",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "someone-else", "namespace": ns},
        "subjects": [{"kind": "ServiceAccount", "name": "other-sa", "namespace": ns}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "secret-reader"}}),
    );
    put(
        "crole",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "node-viewer"},
        "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]}),
    );
    put(
        "crb",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "shop-sa-nodes"},
        "subjects": [{"kind": "ServiceAccount", "name": "shop-sa", "namespace": ns}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "node-viewer"}}),
    );
    put(
        "np-web",
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "web-egress", "namespace": ns},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"]}}),
    );
    put(
        "np-db",
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "db-only", "namespace": ns},
        "spec": {"podSelector": {"matchLabels": {"app": "db"}}}}),
    );
    put(
        "rs",
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-5c9f", "namespace": ns,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "uid-web", "controller": true}]}}),
    );
    put(
        "deploy",
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns}}),
    );
    put(
        "event",
        json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "web.restart", "namespace": ns},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": ns},
        "reason": "BackOff", "message": "Back-off restarting failed container main", "type": "Warning"}),
    );
    put(
        "event-other",
        json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "db.start", "namespace": ns},
        "involvedObject": {"kind": "Pod", "name": "db", "namespace": ns},
        "reason": "Started", "type": "Normal"}),
    );
}

/// A pod whose container prints a marker, fails once and runs after its restart.
fn restarted_pod(ns: &str) -> Container {
    let c = Container(docker::ok(&[
        "run",
        "-d",
        "--restart",
        "on-failure:3",
        "--label",
        &format!("io.kubernetes.pod.namespace={ns}"),
        "--label",
        "io.kubernetes.pod.name=web",
        "--label",
        "io.kubernetes.container.name=main",
        "--label",
        "app=web",
        "--label",
        "cairn.test/service-account=shop-sa",
        "--label",
        "cairn.test/owner=ReplicaSet/web-5c9f",
        docker::busybox_image(),
        "sh",
        "-c",
        // The marker line carries a terminal escape (set the window title), as a
        // hostile workload's output may.
        "printf 'cairn-marker-to-stdout \\033]0;pwned\\007\\n'; if [ -f /tmp/ran ]; then exec sleep 3600; fi; touch /tmp/ran; exit 1",
    ]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let state = docker::ok(&[
            "inspect",
            "--format",
            "{{.RestartCount}} {{.State.Running}} {{.State.Restarting}}",
            &c.0,
        ]);
        if state == "1 true false" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not restarted: {state}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    c
}

fn evidence_of(out: &Path) -> (PathBuf, Archive) {
    let name = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".k8s.tar.zst"))
        .unwrap_or_else(|| panic!("no .k8s.tar.zst in {}", out.display()));
    let a = Archive::read(&name);
    (name, a)
}

#[test]
fn a_restarted_pods_logs_objects_and_permissions_are_kept_and_a_refusal_is_recorded() {
    let Some(_) = docker::setup() else { return };
    let ns = format!("k8s-{}", std::process::id());
    let _pod = restarted_pod(&ns);
    let store = tempfile::tempdir().unwrap();
    objects(store.path(), &ns);
    let s = ApiServer::start(&["--objects", store.path().to_str().unwrap()]);
    let out = s.dir.path().join("out");
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "web",
            "--output-dir",
            out.to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    // A user who may read everything gets no preflight warning.
    assert!(!text(&o.stderr).contains("may not"), "{}", text(&o.stderr));
    // Both archives verify (archives() checks the .k8s one too, its mode and .sha256).
    assert_eq!(archives(&out).len(), 1);
    // The pod's bytes are kept in the archive, never sent to the terminal raw.
    assert!(
        !o.stdout.contains(&0x1b) && !o.stderr.contains(&0x1b),
        "{}",
        text(&o.stderr)
    );
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let k = &report[0]["k8s_evidence"];
    assert_eq!(k["refused"], 0, "{k}");
    let (path, a) = evidence_of(&out);
    assert_eq!(k["archive"], path.to_str().unwrap());
    let current = a.text("logs/main.log");
    let previous = a.text("logs/main.previous.log");
    assert!(
        current.contains("cairn-marker-to-stdout \u{1b}]0;pwned\u{7}"),
        "{current:?}"
    );
    for log in [&current, &previous] {
        assert_eq!(
            log.matches("cairn-marker-to-stdout").count(),
            1,
            "{log:?} (current {current:?}, previous {previous:?})"
        );
        // With the kubelet's timestamps.
        assert!(log.starts_with("20"), "{log}");
    }
    let pod: Value = serde_json::from_str(&a.text("k8s/pod.json")).unwrap();
    assert_eq!(pod["spec"]["serviceAccountName"], "shop-sa");
    assert_eq!(pod["status"]["containerStatuses"][0]["restartCount"], 1);
    let rbac: Value = serde_json::from_str(&a.text("k8s/rbac.json")).unwrap();
    assert_eq!(rbac["service_account"]["name"], "shop-sa");
    let bindings: Vec<&str> = rbac["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        bindings,
        vec!["web-reads-secrets", "shop-sa-nodes"],
        "{rbac}"
    );
    assert_eq!(rbac["bindings"][0]["rules"][0]["resources"][0], "secrets");
    assert_eq!(rbac["bindings"][1]["rules"][0]["resources"][0], "nodes");
    let owners: Value = serde_json::from_str(&a.text("k8s/owners.json")).unwrap();
    let chain: Vec<&str> = owners
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(chain, vec!["ReplicaSet", "Deployment"]);
    let np: Value = serde_json::from_str(&a.text("k8s/networkpolicies.json")).unwrap();
    assert_eq!(np["selecting"].as_array().unwrap().len(), 1, "{np}");
    assert_eq!(np["selecting"][0]["metadata"]["name"], "web-egress");
    let ev: Value = serde_json::from_str(&a.text("k8s/events.json")).unwrap();
    assert_eq!(ev["items"].as_array().unwrap().len(), 1, "{ev}");
    assert_eq!(ev["items"][0]["reason"], "BackOff");
    let refs: Value = serde_json::from_str(&a.text("k8s/references.json")).unwrap();
    assert_eq!(refs["config_maps"], json!(["kube-root-ca.crt"]));
    assert_eq!(
        refs["service_account_tokens"][0]["expiration_seconds"],
        3607
    );
    assert!(a.get("k8s/node.json").is_some() && a.get("k8s/serviceaccount.json").is_some());
    // Every document is in the manifest with its sha256.
    for r in a.manifest() {
        assert_eq!(r["status"], "complete", "{r}");
        assert_eq!(r["sha256"].as_str().unwrap().len(), 64);
    }

    // A user who may not read RBAC: the refusal is recorded, not a silent gap.
    let out2 = s.dir.path().join("out-limited");
    let o = cairn(
        &s,
        &[
            "--context",
            "cairn-test-limited",
            "-n",
            &ns,
            "collect",
            "web",
            "--output-dir",
            out2.to_str().unwrap(),
        ],
    );
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(
        text(&o.stdout).contains(&format!(
            "k8s evidence: 2 read(s) refused, recorded in it: /apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings, "
        )),
        "{}",
        text(&o.stdout)
    );
    // The preflight said so before collecting, naming each read this user lacks.
    assert!(
        text(&o.stderr).contains(&format!(
            "may not list rolebindings.rbac.authorization.k8s.io, get roles.rbac.authorization.k8s.io, list clusterrolebindings.rbac.authorization.k8s.io (cluster-wide), get clusterroles.rbac.authorization.k8s.io (cluster-wide) in namespace {ns}: the Kubernetes evidence"
        )),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(archives(&out2).len(), 1);
    let (_, a) = evidence_of(&out2);
    let denied: Vec<Value> = a
        .manifest()
        .into_iter()
        .filter(|r| r["status"] == "denied")
        .collect();
    assert_eq!(denied.len(), 2, "{denied:#?}");
    assert!(denied[0]["source"]
        .as_str()
        .unwrap()
        .ends_with("/rolebindings"));
    assert!(
        denied[0]["reason"]
            .as_str()
            .unwrap()
            .contains("User \"cairn-limited\" cannot list resource \"rolebindings\""),
        "{}",
        denied[0]
    );
    assert!(a.log().iter().any(|l| l["event"] == "denied"));
    let rbac: Value = serde_json::from_str(&a.text("k8s/rbac.json")).unwrap();
    assert_eq!(rbac["unreadable"].as_array().unwrap().len(), 2, "{rbac}");
    assert!(a
        .text("logs/main.previous.log")
        .contains("cairn-marker-to-stdout"));

    // --no-k8s-evidence writes none.
    let out3 = s.dir.path().join("out-none");
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "web",
            "--no-k8s-evidence",
            "--output-dir",
            out3.to_str().unwrap(),
        ],
    );
    cairn_testkit::env::succeeded(&o);
    assert!(std::fs::read_dir(&out3)
        .unwrap()
        .flatten()
        .all(|e| !e.file_name().to_string_lossy().contains(".k8s.")));
}

/// Owner chains of other controllers: a Job's pod leads to its CronJob, a
/// StatefulSet's pod to the StatefulSet. A pod whose creator named a Secret as its
/// owner does not make cairn read that Secret with the responder's credentials: the
/// reference is recorded as not followed.
#[test]
fn owner_chains_lead_from_jobs_to_cronjobs_and_to_statefulsets_and_never_elsewhere() {
    let Some(_) = docker::setup() else { return };
    let ns = format!("owners-{}", std::process::id());
    let store = tempfile::tempdir().unwrap();
    let put = |name: &str, v: Value| {
        std::fs::write(store.path().join(format!("{name}.json")), v.to_string()).unwrap();
    };
    put(
        "job",
        json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "backup-2891", "namespace": ns,
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "backup", "uid": "uid-backup", "controller": true}]}}),
    );
    put(
        "cronjob",
        json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "backup", "namespace": ns}, "spec": {"schedule": "17 3 * * *"}}),
    );
    put(
        "sts",
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": ns}}),
    );
    let pods = [
        ("backup-2891-x7k", "Job/backup-2891"),
        ("db-0", "StatefulSet/db"),
        ("sly", "Secret/db-password"),
    ];
    let _running: Vec<Container> = pods
        .iter()
        .map(|(name, owner)| {
            pod(
                &ns,
                name,
                docker::busybox_image(),
                &["--label", &format!("cairn.test/owner={owner}")],
            )
        })
        .collect();
    let s = ApiServer::start(&["--objects", store.path().to_str().unwrap()]);
    let out = s.dir.path().join("out");
    let mut args = vec!["-n", &ns, "collect"];
    args.extend(pods.iter().map(|(name, _)| *name));
    // --node-logs with no target going by the node: said, and nothing else changes.
    args.extend([
        "--node-logs",
        "--output-dir",
        out.to_str().unwrap(),
        "-o",
        "json",
    ]);
    let o = cairn(&s, &args);
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(
        text(&o.stderr)
            .contains("--node-logs reads the node's disk, which only --via node reaches"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(archives(&out).len(), 3);
    let chain_of = |pod: &str| -> Value {
        let path = std::fs::read_dir(&out)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                let n = p.file_name().unwrap().to_string_lossy().into_owned();
                n.starts_with(&format!("{ns}_{pod}_")) && n.ends_with(".k8s.tar.zst")
            })
            .unwrap();
        let a = Archive::read(&path);
        serde_json::from_str(&a.text("k8s/owners.json")).unwrap()
    };
    let kinds = |chain: &Value| -> Vec<String> {
        chain
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap_or("?"),
                    o["metadata"]["name"].as_str().unwrap_or("?")
                )
            })
            .collect()
    };
    let job = chain_of("backup-2891-x7k");
    assert_eq!(kinds(&job), ["Job/backup-2891", "CronJob/backup"], "{job}");
    assert_eq!(job[1]["spec"]["schedule"], "17 3 * * *");
    let sts = chain_of("db-0");
    assert_eq!(kinds(&sts), ["StatefulSet/db"], "{sts}");
    let sly = chain_of("sly");
    assert_eq!(sly.as_array().unwrap().len(), 1, "{sly}");
    assert_eq!(sly[0]["not_followed"]["kind"], "Secret", "{sly}");
    assert!(
        sly[0]["why"]
            .as_str()
            .unwrap()
            .contains("not a controller cairn follows"),
        "{sly}"
    );
}

/// The case record: `--case`, `--examiner` and `--sign-key` give a `case.json` that
/// names the run, the identity cairn acted as and every file with its sha256, signed so
/// that stock `ssh-keygen -Y verify` checks it and each archive's `.sha256`; the case
/// reaches every summary; `cairn verify-case` passes, then names a changed byte.
#[test]
fn a_signed_case_record_verifies_with_ssh_keygen_and_names_a_changed_archive() {
    let Some(_) = docker::setup() else { return };
    let ns = format!("case-{}", std::process::id());
    let _p = pod(&ns, "web", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    let key = s.dir.path().join("examiner");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ada@ir", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen (openssh-client)");
    assert!(made.success());
    let out = s.dir.path().join("case");
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "web",
            "--output-dir",
            out.to_str().unwrap(),
            "--case",
            "IR-42",
            "--examiner",
            "Ada Lovelace",
            "--sign-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(
        text(&o.stderr).contains("case record "),
        "{}",
        text(&o.stderr)
    );
    let names = archives(&out);
    assert_eq!(names.len(), 1);
    // Everything the run left for the responder is owner-only, the directory it made
    // included.
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&out).unwrap().permissions())
            & 0o777,
        0o700
    );
    assert!(
        common::assert_private(&out) >= 7,
        "archives, .sha256s, .sigs, case.json"
    );
    let record: Value =
        serde_json::from_slice(&std::fs::read(out.join("case.json")).unwrap()).unwrap();
    assert_eq!(record["case"], "IR-42");
    assert_eq!(record["examiner"], "Ada Lovelace");
    assert_eq!(record["acted_as"]["user_info"]["username"], "cairn-allowed");
    assert!(record["collectors"][0]["sha256"].as_str().unwrap().len() == 64);
    let files = record["targets"][0]["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{record}");
    assert_eq!(files[0]["file"], names[0].as_str());
    assert_eq!(files[0]["sha256"], files[0]["sha256_on_arrival"]);
    // The case is in both archives' summaries.
    for f in files {
        let a = Archive::read(&out.join(f["file"].as_str().unwrap()));
        let sum = a.summary();
        assert_eq!(sum["case"]["id"], "IR-42", "{}", f["file"]);
        assert_eq!(sum["case"]["examiner"], "Ada Lovelace");
    }
    // Stock ssh-keygen checks case.json and each .sha256.
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let allowed = s.dir.path().join("allowed_signers");
    std::fs::write(&allowed, format!("ada@ir {public}")).unwrap();
    let mut signed = vec![out.join("case.json")];
    signed.extend(
        files
            .iter()
            .map(|f| out.join(format!("{}.sha256", f["file"].as_str().unwrap()))),
    );
    for f in &signed {
        let v = Command::new("ssh-keygen")
            .args(["-Y", "verify", "-f"])
            .arg(&allowed)
            .args(["-I", "ada@ir", "-n", "cairn", "-s"])
            .arg(format!("{}.sig", f.display()))
            .stdin(std::fs::File::open(f).unwrap())
            .output()
            .unwrap();
        assert!(
            v.status.success(),
            "{}: {}{}",
            f.display(),
            text(&v.stdout),
            text(&v.stderr)
        );
    }
    let verify = |extra: &[&str]| {
        let mut c = common::env::command(CAIRN);
        c.args(["verify-case"]).arg(&out).args(extra);
        c.output().unwrap()
    };
    let pubkey = key.with_extension("pub");
    let v = verify(&["--signer", pubkey.to_str().unwrap()]);
    cairn_testkit::env::succeeded(&v);
    assert!(
        text(&v.stdout).contains("case IR-42 (case.json): every file as recorded"),
        "{}",
        text(&v.stdout)
    );
    // One byte of the archive changed: named, exit 1.
    let archive = out.join(&names[0]);
    let mut bytes = std::fs::read(&archive).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&archive, &bytes).unwrap();
    let v = verify(&["--signer", pubkey.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(1), "{}", text(&v.stdout));
    let said = text(&v.stdout);
    assert!(
        said.lines()
            .any(|l| l.starts_with(&format!("FAILED {}: sha256 ", names[0]))
                && l.ends_with("changed since it was recorded")),
        "{said}"
    );
    // A record changed after signing: its signature fails.
    let case = out.join("case.json");
    let t = std::fs::read_to_string(&case)
        .unwrap()
        .replace("IR-42", "IR-43");
    std::fs::write(&case, t).unwrap();
    let v = verify(&["--signer", pubkey.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(1));
    assert!(
        text(&v.stdout).contains("FAILED case.json: signature"),
        "{}",
        text(&v.stdout)
    );
    forged_records_fail_with_signer(&out, &names[0], &bytes, &verify, &pubkey);
}

/// Whoever can write the evidence changes an archive, rewrites the record and the
/// `.sha256` to match, drops `signed_by` and deletes the signatures: `--signer` fails
/// and names each missing signature; without it the run says the record is unsigned.
fn forged_records_fail_with_signer(
    out: &Path,
    archive: &str,
    bytes: &[u8],
    verify: &dyn Fn(&[&str]) -> Output,
    pubkey: &Path,
) {
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(bytes));
    let case = out.join("case.json");
    let mut forged: Value = serde_json::from_slice(&std::fs::read(&case).unwrap()).unwrap();
    forged.as_object_mut().unwrap().remove("signed_by");
    forged["targets"][0]["files"][0]["sha256"] = Value::from(sha.as_str());
    forged["targets"][0]["files"][0]["bytes"] = Value::from(bytes.len());
    std::fs::write(&case, serde_json::to_vec_pretty(&forged).unwrap()).unwrap();
    std::fs::remove_file(out.join("case.json.sig")).unwrap();
    std::fs::remove_file(out.join(format!("{archive}.sha256"))).unwrap();
    std::fs::write(
        out.join(format!("{archive}.sha256")),
        format!("{sha}  {archive}\n"),
    )
    .unwrap();
    let signer = ["--signer", pubkey.to_str().unwrap()];
    let v = verify(&signer);
    let said = text(&v.stdout);
    assert_eq!(v.status.code(), Some(1), "{said}");
    assert!(
        said.contains("FAILED case.json: signature: case.json.sig: No such file")
            && said.contains("a signature is required"),
        "{said}"
    );
    assert!(
        said.contains(&format!("FAILED {archive}.sha256: signature:")),
        "{said}"
    );
    // Every signature deleted: each is named, and the record's own check passes.
    for e in std::fs::read_dir(out).unwrap().flatten() {
        if e.file_name().to_string_lossy().ends_with(".sig") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let v = verify(&signer);
    let said = text(&v.stdout);
    assert_eq!(v.status.code(), Some(1), "{said}");
    let missing = said
        .lines()
        .filter(|l| l.starts_with("FAILED ") && l.contains(".sig: No such file"))
        .count();
    assert_eq!(missing, 3, "case.json and two .sha256: {said}");
    assert!(
        said.contains(&format!("OK     {archive}: {} bytes", bytes.len())),
        "{said}"
    );
    // Without --signer nothing says who wrote it, and the run says so.
    let v = verify(&[]);
    let said = text(&v.stdout);
    assert_eq!(v.status.code(), Some(0), "{said}");
    assert!(
        said.contains("NOTE   case.json: not signed; nothing checks who wrote it"),
        "{said}"
    );
}

/// A container's log is its bytes: one byte that is not UTF-8 (`\377`, kept raw by
/// the runtime's log files, here Docker's `local` driver) and a character that
/// `--max-log-size` cuts in two keep the log, the cut recorded, nothing refused.
#[test]
fn a_log_that_is_not_utf8_or_is_cut_inside_a_character_is_kept_as_bytes() {
    let Some(_) = docker::setup() else { return };
    let ns = format!("bytes-{}", std::process::id());
    let _c = Container(docker::ok(&[
        "run",
        "-d",
        "--log-driver",
        "local",
        "--label",
        &format!("io.kubernetes.pod.namespace={ns}"),
        "--label",
        "io.kubernetes.pod.name=web",
        "--label",
        "io.kubernetes.container.name=main",
        docker::busybox_image(),
        "sh",
        "-c",
        "printf 'raw \\377 byte\\ncaf\\303\\251 cut\\n'; exec sleep 3600",
    ]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !docker::ok(&["logs", &_c.0]).contains("cut") {
        assert!(
            std::time::Instant::now() < deadline,
            "the container logged nothing"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let s = ApiServer::start(&[]);
    let collect = |out: &Path, extra: &[&str]| {
        let mut args = vec!["-n", &ns, "collect", "web", "--output-dir"];
        args.push(out.to_str().unwrap());
        args.extend(["-o", "json"]);
        args.extend(extra);
        let o = cairn(&s, &args);
        assert!(
            o.status.success(),
            "{}\n{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        let a = evidence_of(out).1;
        let refused: Vec<_> = a
            .manifest()
            .into_iter()
            .filter(|m| m["status"] != "complete")
            .collect();
        // (The service account is not in this test's cluster: the one refusal.)
        assert!(
            refused
                .iter()
                .all(|m| !m["source"].as_str().unwrap().contains("/log")),
            "{refused:?}"
        );
        a
    };
    let whole = collect(&s.dir.path().join("whole"), &[]);
    let log = whole.get("logs/main.log").expect("the log is kept").clone();
    assert!(log.windows(10).any(|w| w == b"raw \xff byte"), "{log:?}");
    assert!(log.windows(5).any(|w| w == "café".as_bytes()), "{log:?}");
    // Cut one byte into the é: the first byte of it is kept, and the cut recorded.
    let e = log.windows(2).position(|w| w == [0xc3, 0xa9]).unwrap();
    let limit = (e + 1).to_string();
    let cut = collect(&s.dir.path().join("cut"), &["--max-log-size", &limit]);
    let kept = cut.get("logs/main.log").expect("the cut log is kept");
    assert_eq!(kept.as_slice(), &log[..=e]);
    assert_eq!(*kept.last().unwrap(), 0xc3);
    let said = serde_json::to_string(&cut.log()).unwrap();
    assert!(
        said.contains(&format!(
            "logs/main.log kept up to --max-log-size ({limit} bytes)"
        )),
        "{said}"
    );
}
