//! UAC compatibility, against UAC 3.3.0 itself (vendored in `tests/uac-3.3`): every
//! artifact file and profile of the release loads, and on a root built with the cases
//! each field is about, cairn collects the files UAC collects, differences listed.

mod common;
use cairn_collector::spec::load::parse_artifact_file;
use cairn_collector::spec::{select, Catalog};
use common::*;
use std::collections::BTreeSet;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

fn uac_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/uac-3.3")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(yaml_files(&p));
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// All 421 artifact files and 4 profiles of UAC 3.3, byte for byte as released.
#[test]
fn every_artifact_file_and_profile_of_uac_3_3_loads() {
    let arts = uac_dir().join("artifacts");
    let files = yaml_files(&arts);
    assert_eq!(files.len(), 421, "the vendored release is incomplete");
    let mut failed = Vec::new();
    let mut entries = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let name = f
            .strip_prefix(&arts)
            .unwrap()
            .to_string_lossy()
            .trim_end_matches(".yaml")
            .to_owned();
        match parse_artifact_file(&name, &f.display().to_string(), &text) {
            Ok(set) => entries += set.entries.len(),
            Err(e) => failed.push(e.to_string()),
        }
    }
    assert!(
        failed.is_empty(),
        "{} refused:\n{}",
        failed.len(),
        failed.join("\n")
    );
    // Every `-` of every file became an entry.
    let dashes: usize = files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .filter(|l| l.trim() == "-")
                .count()
        })
        .sum();
    assert_eq!(entries, dashes);

    let catalog = Catalog::builtin().unwrap();
    let profiles = yaml_files(&uac_dir().join("profiles"));
    assert_eq!(profiles.len(), 4);
    for p in &profiles {
        let s = select(&catalog, Some(p.to_str().unwrap()), None)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(
            s.sets
                .iter()
                .all(|set| set.origin.contains("/tests/uac-3.3/artifacts/")),
            "{}: a UAC profile took a cairn built-in",
            p.display()
        );
    }
    // ir_triage: `live_response/packages/*` then `!live_response/packages/package_owns_file.yaml`.
    let s = select(
        &catalog,
        Some(uac_dir().join("profiles/ir_triage.yaml").to_str().unwrap()),
        None,
    )
    .unwrap();
    let names: Vec<&str> = s.sets.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"live_response/packages/rpm"), "{names:?}");
    assert!(
        !names.contains(&"live_response/packages/package_owns_file"),
        "{names:?}"
    );
    assert!(names.contains(&"chkrootkit/chkrootkit"), "{names:?}");
}

/// UAC's `files/` artifacts chosen so that each field of the file collector is
/// exercised: exclusions (etc), types and sizes (var_log), bracket globs over a whole
/// root with path exclusions (advanced_log_search), users and whole directories by
/// `file_type: [d]` (firefox, dnf), globs in paths (authorized_keys, anydesk), depth
/// limits (anydesk, desktop), several paths and `path_pattern` (jenkins).
const COMPARED: &[&str] = &[
    "files/system/etc.yaml",
    "files/logs/var_log.yaml",
    "files/logs/advanced_log_search.yaml",
    "files/browsers/firefox.yaml",
    "files/ssh/authorized_keys.yaml",
    "files/applications/anydesk.yaml",
    "files/system/desktop.yaml",
    "files/packages/dnf.yaml",
    "files/applications/jenkins.yaml",
];

/// What cairn leaves out on purpose where UAC collects, with why.
const UAC_ONLY: &[(&str, &str)] = &[
    ("/etc/shadow", "etc.yaml excludes it by name; UAC re-walks /etc without its exclusions"),
    ("/etc/sub/shadow", "the same exclusion, one level down"),
    (
        "/proc/1/status.log",
        "advanced_log_search.yaml excludes /proc; UAC's patterns are not prefixed with its mount point, so under -m they never match",
    ),
];

/// A root with the cases each compared field is about.
fn synthetic_root(r: &Path) {
    let w = |rel: &str, body: &str| {
        let p = r.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    };
    w(
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/usr/sbin/nologin\ncarol:x:1002:1002::/srv/carol:/bin/zsh\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n",
    );
    // etc: everything but what it excludes by name, at any depth; links as links.
    w("etc/shadow", "root:*:1::::::\n");
    w("etc/hosts", "127.0.0.1 localhost\n");
    w("etc/sub/conf", "x\n");
    w("etc/sub/shadow", "y\n");
    symlink("hosts", r.join("etc/hosts.link")).unwrap();
    w("usr/local/etc/app.conf", "a\n");
    // var_log: regular files and links under 1 GiB, any depth; no FIFOs; a link to a
    // directory stays a link.
    w("var/log/x.log", "log\n");
    w("var/log/sub/y.log", "y\n");
    symlink("x.log", r.join("var/log/x.link")).unwrap();
    symlink("sub", r.join("var/log/sub.link")).unwrap();
    let big = std::fs::File::create(r.join("var/log/exactly-1GiB")).unwrap();
    big.set_len(1 << 30).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(r.join("var/log/fifo"))
        .status()
        .unwrap()
        .success());
    // advanced_log_search: log names in any case anywhere, files and links only.
    w("srv/app/APP.Log", "a\n");
    w("srv/app/logs/inner.txt", "not a log name\n");
    w("opt/tool/log", "named log\n");
    w("proc/1/status.log", "under /proc\n");
    // firefox: users with a login shell or a home under /home; named files, and
    // `sessionstore*` / `bookmarkbackups` directories whole.
    for home in ["home/alice", "home/bob", "usr/sbin"] {
        w(&format!("{home}/.mozilla/firefox/p1/places.sqlite"), "db\n");
    }
    w("home/alice/.mozilla/firefox/p1/other.txt", "no\n");
    w(
        "home/alice/.mozilla/firefox/p1/sessionstore-backups/recovery.jsonlz4",
        "s\n",
    );
    w(
        "home/alice/.mozilla/firefox/p1/sessionstore-backups/deeper/x.bin",
        "s\n",
    );
    w(
        "home/alice/.mozilla/firefox/p1/bookmarkbackups/b.json",
        "b\n",
    );
    // authorized_keys: a glob after %user_home%, every user (no nologin exclusion),
    // a home found only under /home.
    w("home/alice/.ssh/authorized_keys", "k\n");
    w("home/alice/.ssh/authorized_keys2", "k2\n");
    w("home/alice/.ssh/known_hosts", "no\n");
    w("usr/sbin/.ssh/authorized_keys", "daemon\n");
    w("home/dave/.ssh/authorized_keys", "dave\n");
    w("srv/carol/.ssh/authorized_keys", "carol\n");
    // anydesk: a directory whole, a glob in a middle component, a depth limit of 4.
    w("home/alice/.anydesk/service.conf", "c\n");
    w("home/alice/Videos/AnyDesk/rec.anydesk", "r\n");
    w("home/alice/a/b/anydesk1.png", "p\n");
    w("home/alice/a/b/c/d/e/anydesk2.png", "too deep\n");
    w("etc/anydesk/system.conf", "s\n");
    w("var/log/anydesk.trace", "t\n");
    // desktop: a name pattern within 6 levels.
    w("home/alice/.local/share/applications/x.desktop", "d\n");
    w("home/alice/.config/autostart/evil.desktop", "e\n");
    // dnf: a directory by name (file_type d) under /usr/lib, whole.
    w("usr/lib/python3/dist-packages/dnf-plugins/x.py", "p\n");
    w("usr/lib/python3/dist-packages/other/y.py", "no\n");
    // jenkins: two start paths, path_pattern and name_pattern together.
    w("opt/jenkins/jobs/a/config.xml", "c\n");
    w("var/lib/jenkins/build.xml", "b\n");
    w("opt/other/config.xml", "no\n");
    w("home/alice/.jenkins/config.xml", "c\n");
}

/// The files UAC 3.3 itself collects from `root` with `artifacts`, as paths in the root.
fn uac_collects(root: &Path, artifacts: &[&str], dest: &Path) -> BTreeSet<String> {
    std::fs::create_dir_all(dest).unwrap();
    let o = env::command("./uac")
        .current_dir(uac_dir())
        .args(["-u", "-s", "linux", "-a"])
        .arg(artifacts.join(","))
        .arg("-m")
        .arg(root)
        .args(["-o", "uac-run"])
        .arg(dest)
        .output()
        .expect("run UAC (sh, find, tar, gzip)");
    let log = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "UAC failed:\n{log}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let list = std::process::Command::new("tar")
        .arg("-tzf")
        .arg(dest.join("uac-run.tar.gz"))
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&list);
    String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("[root]"))
        .map(str::to_owned)
        .collect()
}

/// The files cairn collects from `root` with the same artifact files.
fn cairn_collects(root: &Path, artifacts: &[&str], out: &Path) -> BTreeSet<String> {
    let files: Vec<String> = artifacts
        .iter()
        .map(|a| uac_dir().join("artifacts").join(a).display().to_string())
        .collect();
    collect(root, out, &["--artifacts", &files.join(",")]);
    Archive::read(out)
        .entries
        .keys()
        .filter_map(|k| {
            String::from_utf8_lossy(k)
                .strip_prefix("files")
                .map(str::to_owned)
        })
        .collect()
}

/// On the same root, cairn collects the files UAC collects, but for the differences
/// listed in [`UAC_ONLY`] with their reasons.
#[test]
fn cairn_collects_what_uac_collects_from_the_same_root() {
    let t = TestDir::new("uac-compare");
    synthetic_root(t.path());
    let uac = uac_collects(t.path(), COMPARED, &t.base().join("uac-out"));
    let cairn = cairn_collects(t.path(), COMPARED, &t.out("cairn.tar.zst"));
    // The cases are there: neither side is empty or trivially equal.
    for must in [
        "/home/alice/.mozilla/firefox/p1/sessionstore-backups/deeper/x.bin",
        "/home/bob/.mozilla/firefox/p1/places.sqlite",
        "/home/dave/.ssh/authorized_keys",
        "/home/alice/Videos/AnyDesk/rec.anydesk",
        "/var/log/sub.link",
        "/usr/lib/python3/dist-packages/dnf-plugins/x.py",
    ] {
        assert!(uac.contains(must), "UAC did not collect {must}: {uac:#?}");
    }
    let only_uac: Vec<&String> = uac.difference(&cairn).collect();
    let only_cairn: Vec<&String> = cairn.difference(&uac).collect();
    let intended: BTreeSet<&str> = UAC_ONLY.iter().map(|(p, _)| *p).collect();
    assert!(
        only_cairn.is_empty(),
        "cairn collected what UAC did not: {only_cairn:#?}"
    );
    assert_eq!(
        only_uac.iter().map(|s| s.as_str()).collect::<BTreeSet<_>>(),
        intended,
        "UAC collected what cairn did not (beyond the intended differences)"
    );
}

/// Where cairn does otherwise than UAC on purpose is said before a run
/// (`artifacts --explain`) and once per entry in the collection log.
#[test]
fn differences_from_uac_are_explained_before_and_logged_once_per_entry() {
    let file = |rel: &str| uac_dir().join("artifacts").join(rel).display().to_string();
    let (etc, ps, tomcat) = (
        file("files/system/etc.yaml"),
        file("live_response/process/ps.yaml"),
        file("files/logs/tomcat.yaml"),
    );
    let zsh = file("files/shell/zsh.yaml");
    let o = run(&[
        "artifacts",
        "--explain",
        &etc,
        "--explain",
        &ps,
        "--explain",
        &tomcat,
        "--explain",
        &zsh,
    ]);
    cairn_testkit::env::succeeded(&o);
    let said = String::from_utf8_lossy(&o.stdout);
    for want in [
        "files/system/etc (",
        "): 3 entries: 1 as UAC does, 1 with differences, 1 not run",
        "  line 3: file /etc\n    its exclusions also apply inside a directory it takes whole",
        "  line 10: file /usr/local/etc\n    as UAC does",
        "  line 16: file /private/etc\n    not run: for macos only",
        "  line 10: command\n    not run: a shell command (`ps auxwww`): cairn never runs commands on the target; native collectors cover the same ground: live/processes and live/executables",
        "`$` in `path: /\"${CATALINA_BASE}\"/logs` is not expanded",
        "is a shell command and is not evaluated: the entry runs whatever it would say",
        "  line 30: file /%temp_directory%/files/shell/zsh_histfile.txt\n    its file list `/%temp_directory%/files/shell/zsh_histfile.txt` is written by a command entry, which cairn does not run: it finds nothing",
    ] {
        assert!(said.contains(want), "missing {want:?} in:\n{said}");
    }
    // The log: one record per entry that runs with a difference, one per command.
    let t = TestDir::new("uac-log");
    t.write("etc/hosts", "h\n");
    let out = t.out("log.tar.zst");
    collect(
        t.path(),
        &out,
        &["--artifacts", &format!("{etc},{ps},{tomcat}")],
    );
    let log = Archive::read(&out).log();
    let differs: Vec<&serde_json::Value> = log
        .iter()
        .filter(|r| {
            r["message"]
                .as_str()
                .unwrap_or_default()
                .contains("differs from UAC on purpose")
        })
        .collect();
    // etc.yaml line 3, tomcat.yaml lines 11 and 19.
    assert_eq!(differs.len(), 3, "{differs:#?}");
    let not_run = log
        .iter()
        .filter(|r| {
            r["event"] == "not_run"
                && r["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("ps.yaml:")
        })
        .count();
    // 16 entries, 5 of them for aix, solaris or esxi only.
    assert_eq!(not_run, 11, "one per Linux command entry of ps.yaml");
}
