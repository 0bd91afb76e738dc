//! `cairn collect --yara`: the responder's rules reach each collector on its stdin
//! (after the upload plan when the archive goes to a store), compiled once by the
//! launcher first; the hits are in the archive.

use super::routes::Images;
use super::*;

/// A rule over a file the attacker dropped, with text a shell in a UTF-8 locale
/// counts in characters rather than bytes (the exec route's bootstrap holds the
/// collector's stdin in a variable and checks its length).
const RULES: &str = "rule dropper : implant {\n  meta:\n    author = \"Müller 🦀\"\n  strings:\n    $a = \"CAIRN-YARA-DROP-71c4\"\n  condition:\n    $a\n}\n";

fn hits(a: &cairn_testkit::archive::Archive) -> Vec<cairn_archive::records::memory::YaraHit> {
    a.text("live_response/yara/hits.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn rules_reach_the_collector_after_the_upload_plan_through_exec_and_without_one_through_an_ephemeral_container(
) {
    let Some(bin) = docker::setup() else { return };
    let Some(s3) = common::stores::Server::s3() else {
        return;
    };
    let img = Images::build(&bin, "yr");
    let ns = img.ns.clone();
    let web = pod(&ns, "web", docker::busybox_image(), &[]);
    docker::ok(&[
        "exec",
        &web.0,
        "sh",
        "-c",
        "echo 'x CAIRN-YARA-DROP-71c4 y' > /tmp/dropper.sh",
    ]);
    let api = img.app_pod("api");
    let s = ApiServer::start(&[]);
    let rules = s.dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("ir.yar"), RULES).unwrap();
    // A broken rule stops the run before any pod is touched, naming its file and line.
    std::fs::write(rules.join("zz.yar"), "rule broken {\n condition: nope }\n").unwrap();
    let refused = s.dir.path().join("refused");
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "web",
            "--via",
            "exec",
            "--yara",
            rules.to_str().unwrap(),
            "--output-dir",
            refused.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("zz:2:"), "{}", text(&o.stderr));
    assert!(
        text(&s.what_pods_saw()).is_empty(),
        "a refused run reached a pod"
    );
    assert!(!refused.exists(), "a refused run left its output directory");
    std::fs::remove_file(rules.join("zz.yar")).unwrap();

    // exec, into S3: the plan first, then the rules, both from the bootstrap's memory.
    let gw = docker::bridge_gateway();
    let port = common::relay(s3.port);
    let mut c = common::env::command(CAIRN);
    c.arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args(["-n", &ns, "collect", "web", "--via", "exec", "--yara"])
        .arg(&rules)
        .args(["--s3", "s3://evidence/yara", "-o", "json"])
        .env(
            "CAIRN_COLLECTOR_BIN",
            std::env::var("CAIRN_MUSL_BIN").unwrap(),
        )
        .env("AWS_ACCESS_KEY_ID", common::stores::AK)
        .env("AWS_SECRET_ACCESS_KEY", common::stores::SK)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", format!("http://{gw}:{port}"));
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let r = &serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0];
    let key = r["archive"]
        .as_str()
        .unwrap()
        .strip_prefix("s3://evidence/")
        .unwrap();
    let local = s.dir.path().join("web.tar.zst");
    std::fs::write(&local, s3.get(key)).unwrap();
    verify_ok(&local);
    let a = cairn_testkit::archive::Archive::read(&local);
    let h = hits(&a);
    let dropped = h
        .iter()
        .find(|x| x.scanned == "file" && x.path.as_deref() == Some("/tmp/dropper.sh"))
        .unwrap_or_else(|| panic!("no hit on the dropped file in {h:?}"));
    assert_eq!(
        (dropped.namespace.as_str(), dropped.rule.as_str()),
        ("ir", "dropper")
    );
    assert_eq!(dropped.meta["author"], "Müller 🦀");
    assert_eq!(dropped.tags, ["implant"]);
    // The rules went on stdin: the collector's arguments name `--yara -` only.
    let saw = text(&s.what_pods_saw());
    assert!(
        saw.contains("CAIRN-YARA-DROP-71c4"),
        "the rules never reached the pod"
    );
    assert_eq!(docker::leftovers(&web.0), "");

    // --via auto: the ephemeral route (memory needs CAP_SYS_PTRACE); no destination payload.
    let out = s.dir.path().join("out");
    // The application's environment (Docker's HOSTNAME: its ID's first 12 digits) is
    // on its stack, resident; the collector's text is in its executable (/app).
    std::fs::write(
        rules.join("app.yar"),
        format!(
            "rule app_env {{ strings: $a = \"HOSTNAME={}\" condition: $a }}\nrule collector_text {{ strings: $a = \"forensic evidence collector\" condition: $a }}\n",
            &api[..12]
        ),
    )
    .unwrap();
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "api",
            "--via",
            "auto",
            "--yara",
            rules.to_str().unwrap(),
            "--memory-on-hit",
            "--collector-image",
            &img.collector,
            "--output-dir",
            out.to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let r = &serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()[0];
    assert_eq!(r["method"], "ephemeral", "{r}");
    let a = cairn_testkit::archive::Archive::read(Path::new(r["archive"].as_str().unwrap()));
    let h = hits(&a);
    // The application (the image's /app) in memory and as an executable; cairn's own
    // processes are not scanned.
    for (rule, scanned) in [("app_env", "memory"), ("collector_text", "executable")] {
        assert!(
            h.iter().any(|x| x.rule == rule
                && x.scanned == scanned
                && x.comm.as_deref() == Some("app")),
            "no {scanned} hit of the app in {h:?}"
        );
    }
    assert!(
        h.iter()
            .all(|x| x.comm.as_deref() != Some("cairn-collector")),
        "{h:?}"
    );
    // --memory-on-hit: the application, which a rule matched, is stored as a core.
    let procs: Vec<cairn_archive::records::memory::MemoryProcess> = a
        .text("live_response/memory/processes.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let app = procs.iter().find(|p| p.comm == "app").unwrap();
    let core = app.core.as_deref().unwrap_or_else(|| panic!("{app:?}"));
    assert!(a.get(core).is_some_and(|c| c.starts_with(b"\x7fELF")));
}
