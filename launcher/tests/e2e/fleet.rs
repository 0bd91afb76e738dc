//! Many targets without containers: the test API server's simulated pods
//! (`--sim-pods`) each replay one real collector session, so the launcher's scheduling
//! is seen apart from Docker: every target is collected and verified, and `--per-node`
//! caps what runs at once on one node while the nodes take turns, also in a node sweep
//! (one collector pod per node).

use super::*;

/// A real collection of a small tree, as a simulated pod replays it.
fn session(dir: &Path) {
    let tree = dir.join("tree/etc");
    std::fs::create_dir_all(&tree).unwrap();
    for i in 0..20 {
        std::fs::write(tree.join(format!("f{i}")), format!("file {i}\n")).unwrap();
    }
    let spec = dir.join("spec.yaml");
    std::fs::write(
        &spec,
        "artifacts:\n  - description: the tree\n    collector: file\n    path: /etc\n",
    )
    .unwrap();
    let s = dir.join("session");
    std::fs::create_dir_all(&s).unwrap();
    let o = common::env::command(std::env::var("CAIRN_MUSL_BIN").unwrap())
        .arg("collect")
        .arg("--root")
        .arg(dir.join("tree"))
        .arg("--artifacts")
        .arg(&spec)
        .args(["--progress", "json", "--output", "-"])
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&o);
    std::fs::write(s.join("stdout"), &o.stdout).unwrap();
    std::fs::write(s.join("stderr"), &o.stderr).unwrap();
}

/// The most simulated execs the server saw running at once on one node.
fn most_on_a_node(s: &ApiServer) -> (usize, usize) {
    let log = std::fs::read_to_string(s.dir.path().join("server.log")).unwrap();
    let running: Vec<usize> = log
        .lines()
        .filter(|l| l.contains("sim exec started"))
        .filter_map(|l| {
            l.split("running=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    (running.len(), running.into_iter().max().unwrap_or(0))
}

#[test]
fn every_simulated_target_is_collected_and_per_node_caps_each_nodes_share() {
    let t = tempfile::tempdir().unwrap();
    session(t.path());
    let sim = t.path().join("session");
    let run = |extra: &[&str]| {
        let s = ApiServer::start(&[
            "--sim-pods",
            "12",
            "--sim-nodes",
            "3",
            "--sim-session",
            sim.to_str().unwrap(),
            "--sim-delay-ms",
            "300",
        ]);
        let out = s.dir.path().join("out");
        let mut args = vec![
            "-n",
            "sim",
            "collect",
            "-l",
            "app=sim",
            "--concurrency",
            "6",
            "--collector-url",
            "http://127.0.0.1:9/cairn-collector",
            "--no-k8s-evidence",
            "--output-dir",
            out.to_str().unwrap(),
            "-o",
            "json",
        ];
        args.extend(extra);
        let o = cairn(&s, &args);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let ok = report
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"] == "ok")
            .count();
        assert_eq!(ok, 12, "{report}");
        // Each archive verifies and has its .sha256 (`archives` checks both).
        assert_eq!(archives(&out).len(), 12);
        let (execs, most) = most_on_a_node(&s);
        (execs, most, s.log())
    };
    // Six at once over three nodes: two per node at most, one with --per-node 1.
    let (execs, most, _) = run(&["--per-node", "1"]);
    assert_eq!((execs, most), (12, 1));
    let (execs, most, _) = run(&[]);
    assert_eq!(execs, 12);
    assert!(most >= 2, "without --per-node a node ran {most} at once");
    // A node sweep: one collector pod per node, each exec'd into for its node's four
    // targets, two at a time, and each deleted.
    let (execs, most, log) = run(&["--via", "node", "--per-node", "2"]);
    assert_eq!((execs, most), (12, 2));
    let made: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("sim pod created"))
        .collect();
    assert_eq!(made.len(), 3, "{made:?}");
    for node in ["sim-node-00", "sim-node-01", "sim-node-02"] {
        assert!(
            made.iter().any(|l| l.contains(&format!("node={node}"))),
            "{made:?}"
        );
    }
    assert_eq!(log.matches("sim pod deleted").count(), 3, "{log}");
}

/// A cluster of more pods than one page: the launcher reads the list a page at a time
/// (`limit`, `continue`), and every pod is there once.
#[test]
fn a_list_of_many_pods_is_read_page_by_page_and_loses_none() {
    let t = tempfile::tempdir().unwrap();
    session(t.path());
    let s = ApiServer::start(&[
        "--sim-pods",
        "1234",
        "--sim-nodes",
        "5",
        "--sim-session",
        t.path().join("session").to_str().unwrap(),
    ]);
    let o = cairn(&s, &["-n", "sim", "pods", "-l", "app=sim", "-o", "json"]);
    cairn_testkit::env::succeeded(&o);
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let names: std::collections::BTreeSet<&str> =
        listed.iter().filter_map(|p| p["pod"].as_str()).collect();
    assert_eq!((listed.len(), names.len()), (1234, 1234));
    let pages: Vec<String> = s
        .log()
        .lines()
        .filter(|l| l.contains("pods listed"))
        .map(str::to_owned)
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(
        pages[2].contains("from=1000") && pages[2].contains("items=234"),
        "{pages:?}"
    );
}
