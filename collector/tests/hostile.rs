//! The collector on hostile filesystems: loops, escapes, FIFOs, devices, sparse giants,
//! files that change or vanish, unreadable entries, odd names, deep and wide trees.
//! Every case must end, not panic, produce a verifiable archive, and be recorded.

mod common;
use common::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

fn tree() -> TestDir {
    TestDir::new("hostile")
}

#[test]
fn symlink_loops_and_escapes_stay_inside_the_root() {
    let root = tree();
    let r = root.path();
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::create_dir_all(r.join("data/loop")).unwrap();
    std::fs::write(r.join("etc/passwd"), "inside:x:0:0::/root:/bin/sh\n").unwrap();
    symlink("/etc/passwd", r.join("data/abs")).unwrap();
    symlink("../../../../../../etc/shadow", r.join("data/up")).unwrap();
    symlink("..", r.join("data/loop/back")).unwrap();
    symlink("self", r.join("data/self")).unwrap();
    // A spec whose path itself goes through an absolute symlink must resolve inside.
    symlink("/data", r.join("datalink")).unwrap();
    let spec = spec_all(r, "/datalink");
    let out = root.out("out-loop.tar.zst");
    let start = Instant::now();
    collect(r, &out, &["--artifacts", &spec]);
    assert!(start.elapsed() < Duration::from_secs(20));
    verify_ok(&out);
    let a = Archive::read(&out);
    // Symlinks are stored as links, never followed out of the root.
    let (_, link) = &a.entries[b"files/data/abs".as_slice()];
    assert_eq!(link.as_deref(), Some(b"/etc/passwd".as_slice()));
    assert!(a.get("files/etc/shadow").is_none());
    assert!(a
        .entries
        .keys()
        .all(|k| !k.starts_with(b"files/etc/shadow")));
    assert_eq!(a.record("/data/self")["type"], "symlink");
    let log = a.log();
    assert!(log
        .iter()
        .any(|l| l["event"] == "symlink" && l["message"].as_str().unwrap().contains("/data")));
    // An artifact naming the absolute link's target collects the file inside the root.
    let spec = r.join("p.yaml");
    std::fs::write(
        &spec,
        "artifacts:\n  - collector: file\n    path: /data/abs\n",
    )
    .unwrap();
    let out2 = root.out("out-loop2.tar.zst");
    collect(r, &out2, &["--artifacts", spec.to_str().unwrap()]);
    let a = Archive::read(&out2);
    assert_eq!(a.text("files/etc/passwd"), "inside:x:0:0::/root:/bin/sh\n");
    let _ = std::fs::remove_file(out);
    let _ = std::fs::remove_file(out2);
}

#[test]
fn fifos_sockets_and_devices_are_recorded_not_read() {
    let root = tree();
    let r = root.path();
    std::fs::create_dir_all(r.join("x")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        r.join("x/fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(r.join("x/sock")).unwrap();
    let is_root = rustix::process::geteuid().is_root();
    if is_root {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            r.join("x/null"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0o666),
            rustix::fs::makedev(1, 3),
        )
        .unwrap();
    }
    std::fs::write(r.join("x/plain"), "ok").unwrap();
    let spec = spec_all(r, "/x");
    let out = root.out("out-fifo.tar.zst");
    let start = Instant::now();
    collect(r, &out, &["--artifacts", &spec]);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "a FIFO must never block"
    );
    verify_ok(&out);
    let a = Archive::read(&out);
    assert_eq!(a.text("files/x/plain"), "ok");
    let fifo = a.record("/x/fifo");
    assert_eq!(fifo["type"], "fifo");
    assert_eq!(fifo["status"], "skipped");
    assert!(a.get("files/x/fifo").is_none());
    assert_eq!(a.record("/x/sock")["type"], "socket");
    if is_root {
        let dev = a.record("/x/null");
        assert_eq!(dev["type"], "char_device");
        assert_eq!(dev["device"], "1:3");
    }
    assert!(a
        .log()
        .iter()
        .any(|l| l["event"] == "skipped" && l["path"] == "/x/fifo"));
    let _ = std::fs::remove_file(out);
}

#[test]
fn sparse_multi_terabyte_file_is_capped_quickly() {
    let root = tree();
    let r = root.path();
    std::fs::create_dir_all(r.join("var/log")).unwrap();
    let f = std::fs::File::create(r.join("var/log/sparse.db")).unwrap();
    f.set_len(4 << 40).unwrap();
    drop(f);
    let out = root.out("out-sparse.tar.zst");
    let start = Instant::now();
    collect(
        r,
        &out,
        &["--artifacts", "files/logs/var_log", "--max-file-size", "8M"],
    );
    assert!(start.elapsed() < Duration::from_secs(30));
    verify_ok(&out);
    let a = Archive::read(&out);
    let rec = a.record("/var/log/sparse.db");
    assert_eq!(rec["status"], "truncated");
    assert_eq!(rec["size"], 8 << 20);
    assert_eq!(rec["source_size"], 4u64 << 40);
    assert_eq!(rec["sparse"], true);
    assert_eq!(a.get("files/var/log/sparse.db").unwrap().len(), 8 << 20);
    let _ = std::fs::remove_file(out);
}

#[test]
fn sparse_lastlog_is_decoded_from_its_data_only() {
    // lastlog is indexed by UID: one login of uid 4,000,000,000 gives a file of
    // ~1.1 TiB apparent size. It must be decoded from its data regions in well under
    // a second, not read (or stored) whole.
    use std::os::unix::fs::FileExt;
    let root = tree();
    let r = root.path();
    std::fs::create_dir_all(r.join("var/log")).unwrap();
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::write(
        r.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nmallory:x:4000000000:100::/home/m:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
    )
    .unwrap();
    let f = std::fs::File::create(r.join("var/log/lastlog")).unwrap();
    let rec = |time: i32, line: &[u8], host: &[u8]| {
        let mut b = vec![0u8; 292];
        b[0..4].copy_from_slice(&time.to_le_bytes());
        b[4..4 + line.len()].copy_from_slice(line);
        b[36..36 + host.len()].copy_from_slice(host);
        b
    };
    f.write_all_at(&rec(1_700_000_000, b"pts/0", b"10.1.2.3"), 1000 * 292)
        .unwrap();
    f.write_all_at(
        &rec(1_700_000_100, b"pts/1", b"203.0.113.9"),
        4_000_000_000 * 292,
    )
    .unwrap();
    drop(f);
    let out = root.out("out-lastlog.tar.zst");
    let start = Instant::now();
    collect(r, &out, &["--artifacts", "live/users"]);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    verify_ok(&out);
    let a = Archive::read(&out);
    let text =
        String::from_utf8(a.get("live_response/users/lastlog.jsonl").unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["uid"], 1000);
    assert_eq!(lines[0]["user"], "app");
    assert_eq!(lines[0]["host"], "10.1.2.3");
    assert_eq!(lines[0]["time"], "2023-11-14T22:13:20Z");
    assert_eq!(lines[1]["uid"], 4_000_000_000u64);
    assert_eq!(lines[1]["user"], "mallory");
    assert_eq!(lines[1]["line"], "pts/1");
    // Too large to copy raw: skipped, with the reason in the log.
    assert!(a.get("live_response/users/raw/lastlog").is_none());
    let log = a.log();
    assert!(
        log.iter().any(|l| l["event"] == "skipped"
            && l["message"].as_str().unwrap().contains("2 records decoded")),
        "{log:?}"
    );
    let _ = std::fs::remove_file(out);
}

#[test]
fn proc_pseudo_files_are_read_with_a_bound() {
    let root = tree();
    let spec = root.path().join("proc.yaml");
    std::fs::write(&spec, "artifacts:\n  - collector: file\n    path: /proc/self\n    name_pattern: [status, cmdline, maps]\n    max_depth: 1\n").unwrap();
    let out = root.path().join("proc.tar.zst");
    collect(
        Path::new("/"),
        &out,
        &["--artifacts", spec.to_str().unwrap()],
    );
    verify_ok(&out);
    let a = Archive::read(&out);
    let status = a
        .manifest()
        .into_iter()
        .find(|r| r["source"].as_str().unwrap().ends_with("/status"))
        .unwrap();
    assert_eq!(status["status"], "complete");
    assert!(
        status["size"].as_u64().unwrap() > 100,
        "procfs size 0 must be read to learn it"
    );
    let p = status["path"].as_str().unwrap().to_owned();
    assert!(a.text(&p).contains("Pid:"));
}

#[test]
fn file_growing_while_read_is_marked_changed() {
    let root = tree();
    let r = root.path().to_path_buf();
    std::fs::create_dir_all(r.join("g")).unwrap();
    std::fs::write(r.join("g/grow.log"), vec![b'a'; 64 << 20]).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let p = r.join("g/grow.log");
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(p).unwrap();
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            f.write_all(b"more\n").unwrap();
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    std::thread::sleep(Duration::from_millis(20));
    let spec = spec_all(&r, "/g");
    let out = root.out("out-grow.tar.zst");
    collect(&r, &out, &["--artifacts", &spec, "--threads", "1"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    verify_ok(&out);
    let a = Archive::read(&out);
    let rec = a.record("/g/grow.log");
    assert_eq!(rec["status"], "changed", "{rec}");
    assert!(rec["reason"]
        .as_str()
        .unwrap()
        .contains("changed while read"));
    assert!(a.log().iter().any(|l| l["event"] == "changed"));
    let _ = std::fs::remove_file(out);
}

#[test]
fn shrinking_source_is_zero_filled_and_marked() {
    use cairn_archive::write::{ArchiveWriter, EntryHeader};
    use cairn_collector::sink::{Sink, Target};
    let t = tree();
    let out = t.path().join("short.tar.zst");
    let sink = Sink::open(Target::File(out.clone())).unwrap();
    let mut w = ArchiveWriter::new(sink, 0).unwrap();
    let mut src: &[u8] = b"only ten b";
    let o = w
        .append_stream(b"files/x", &EntryHeader::default(), 100, &mut src, &|| {
            false
        })
        .unwrap();
    assert!(o.short);
    assert_eq!(o.read, 10);
    w.finish().unwrap().close().unwrap();
    let a = Archive::read(&out);
    let data = a.get("files/x").unwrap();
    assert_eq!(data.len(), 100);
    assert_eq!(&data[..10], b"only ten b");
    assert!(data[10..].iter().all(|&b| b == 0));
}

#[test]
fn vanished_entries_are_reported_by_the_walk() {
    use cairn_collector::source::walk::{Entry, Flow, Visitor};
    use cairn_collector::source::Root;
    struct V(Vec<(Vec<u8>, std::io::ErrorKind)>, std::path::PathBuf);
    impl Visitor for V {
        fn entry(&mut self, e: &Entry<'_>) -> Flow {
            if e.path == b"/a" {
                std::fs::remove_file(self.1.join("b")).unwrap();
            }
            Flow::Descend
        }
        fn error(&mut self, p: &[u8], _: &'static str, e: &std::io::Error) {
            self.0.push((p.to_vec(), e.kind()));
        }
    }
    let t = tree();
    std::fs::write(t.path().join("a"), "a").unwrap();
    std::fs::write(t.path().join("b"), "b").unwrap();
    let root = Root::open(t.path()).unwrap();
    let r = root.resolve(b"/").unwrap();
    let mut v = V(Vec::new(), t.path().to_path_buf());
    root.walk(&r, None, &mut v);
    assert_eq!(v.0, vec![(b"/b".to_vec(), std::io::ErrorKind::NotFound)]);
}

#[test]
fn odd_names_survive_byte_exactly_through_standard_tar() {
    let root = tree();
    let r = root.path();
    let d = r.join("n");
    std::fs::create_dir_all(&d).unwrap();
    let names: Vec<&[u8]> = vec![
        b"bad\xff\xfename",
        b"new\nline",
        b"pipe|and space",
        &[b'L'; 200],
    ];
    for n in &names {
        std::fs::write(d.join(OsStr::from_bytes(n)), n).unwrap();
    }
    let long_dir = d.join("x".repeat(120));
    std::fs::create_dir_all(&long_dir).unwrap();
    std::fs::write(long_dir.join("deep.txt"), "long").unwrap();
    let spec = spec_all(r, "/n");
    let out = root.out("out-names.tar.zst");
    collect(r, &out, &["--artifacts", &spec]);
    verify_ok(&out);
    let a = Archive::read(&out);
    for n in &names {
        let mut p = b"files/n/".to_vec();
        p.extend_from_slice(n);
        assert_eq!(a.entries[&p].0, n.to_vec());
    }
    // The manifest keeps the exact bytes of a non-UTF-8 name in hex.
    let rec = a
        .manifest()
        .into_iter()
        .find(|r| r["source_hex"].is_string())
        .unwrap();
    assert_eq!(rec["source_hex"], hex::encode(b"/n/bad\xff\xfename"));
    // GNU tar extracts every name byte-exactly, through both routes.
    for (i, cmd) in [
        "tar --zstd -xf {A} -C {D}",
        "zstd -dc {A} | tar -xf - -C {D}",
    ]
    .iter()
    .enumerate()
    {
        let dest = r.join(format!("x{i}"));
        std::fs::create_dir_all(&dest).unwrap();
        let c = cmd
            .replace("{A}", out.to_str().unwrap())
            .replace("{D}", dest.to_str().unwrap());
        let st = std::process::Command::new("sh")
            .arg("-c")
            .arg(&c)
            .status()
            .unwrap();
        assert!(st.success(), "{c}");
        for n in &names {
            let p = dest.join("files/n").join(OsStr::from_bytes(n));
            assert_eq!(std::fs::read(&p).unwrap(), n.to_vec());
        }
        assert_eq!(
            std::fs::read_to_string(dest.join("files/n").join("x".repeat(120)).join("deep.txt"))
                .unwrap(),
            "long"
        );
    }
    let _ = std::fs::remove_file(out);
}

#[test]
fn deep_and_wide_trees() {
    let root = tree();
    let r = root.path();
    // 2,000 levels, built with relative paths (the absolute path exceeds PATH_MAX).
    let mut cur = r.join("deep");
    std::fs::create_dir(&cur).unwrap();
    let fd = rustix::fs::open(
        &cur,
        rustix::fs::OFlags::DIRECTORY,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    let mut fd = fd;
    for _ in 0..2000 {
        rustix::fs::mkdirat(&fd, "d", rustix::fs::Mode::from_raw_mode(0o755)).unwrap();
        fd = rustix::fs::openat(
            &fd,
            "d",
            rustix::fs::OFlags::DIRECTORY,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
    }
    let f = rustix::fs::openat(
        &fd,
        "bottom.txt",
        rustix::fs::OFlags::CREATE | rustix::fs::OFlags::WRONLY,
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
    rustix::io::write(&f, b"bottom").unwrap();
    cur.push("unused");
    // 100,000 small files.
    let wide = r.join("wide");
    for i in 0..100 {
        let sub = wide.join(format!("{i:03}"));
        std::fs::create_dir_all(&sub).unwrap();
        for j in 0..1000 {
            std::fs::write(sub.join(format!("{j}")), format!("{i}-{j}")).unwrap();
        }
    }
    let spec = r.join("dw.yaml");
    std::fs::write(
        &spec,
        "artifacts:\n  - collector: file\n    path: /deep\n  - collector: file\n    path: /wide\n",
    )
    .unwrap();
    let out = root.out("out-deep.tar.zst");
    // Small manifest parts, so this tree exercises the bounded-memory manifest.
    collect(
        r,
        &out,
        &[
            "--artifacts",
            spec.to_str().unwrap(),
            "--manifest-part-size",
            "256K",
        ],
    );
    verify_ok(&out);
    let a = Archive::read(&out);
    let parts = a.summary()["manifest"]["earlier_parts"]
        .as_array()
        .unwrap()
        .len();
    assert!(parts >= 2, "expected manifest parts, got {parts}");
    assert!(a.get("manifest-0001.jsonl").is_some());
    let records: usize = a
        .entries
        .iter()
        .filter(|(k, _)| k.starts_with(b"manifest"))
        .map(|(_, (d, _))| d.iter().filter(|&&b| b == b'\n').count())
        .sum();
    assert_eq!(records, 100_001);
    let mut deep = b"files/deep".to_vec();
    for _ in 0..2000 {
        deep.extend_from_slice(b"/d");
    }
    deep.extend_from_slice(b"/bottom.txt");
    assert_eq!(a.entries[&deep].0, b"bottom");
    assert_eq!(a.text("files/wide/042/999"), "42-999");
    assert_eq!(a.summary()["counts"]["files"], 100_001);
    let _ = std::fs::remove_file(out);
}

/// Runs the collector as an unprivileged user (root bypasses permission checks).
#[test]
fn unreadable_files_and_directories_are_denied_and_logged() {
    let root = tree();
    let r = root.path();
    std::fs::create_dir_all(r.join("u/closed")).unwrap();
    std::fs::write(r.join("u/closed/inside"), "x").unwrap();
    std::fs::write(r.join("u/secret"), "x").unwrap();
    std::fs::write(r.join("u/open"), "fine").unwrap();
    std::fs::set_permissions(r.join("u/secret"), std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(r.join("u/closed"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let spec = spec_all(r, "/u");
    let outdir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(outdir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = outdir.path().join("u.tar.zst");
    let args = [
        "collect",
        "--root",
        r.to_str().unwrap(),
        "--artifacts",
        &spec,
        "--output",
        out.to_str().unwrap(),
    ];
    let o = if rustix::process::geteuid().is_root() {
        common::env::command("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", bin()])
            .args(args)
            .output()
            .expect("setpriv (util-linux) is needed to test a non-root run")
    } else {
        run(&args)
    };
    cairn_testkit::env::succeeded(&o);
    // Not root, and something was denied: said, with the count and what to do.
    let err = String::from_utf8_lossy(&o.stderr);
    let uid = match rustix::process::geteuid() {
        u if u.is_root() => 65534,
        u => u.as_raw(),
    };
    assert!(
        err.contains(&format!(
            "warning: 2 file(s) or folder(s) denied: this ran as uid {uid}, not root"
        )) && err.contains("run it as root"),
        "{err}"
    );
    verify_ok(&out);
    let a = Archive::read(&out);
    assert_eq!(a.text("files/u/open"), "fine");
    assert_eq!(a.record("/u/secret")["status"], "denied");
    let log = a.log();
    assert!(log
        .iter()
        .any(|l| l["event"] == "denied" && l["path"] == "/u/secret"));
    assert!(log
        .iter()
        .any(|l| l["event"] == "denied" && l["path"] == "/u/closed"));
    // Not the owner and no CAP_FOWNER: O_NOATIME is refused and that is said once.
    assert!(log.iter().any(|l| l["event"] == "atime"));
}

#[test]
fn nothing_on_the_target_is_modified() {
    let root = tree();
    let r = root.path();
    std::fs::create_dir_all(r.join("var/log")).unwrap();
    std::fs::write(r.join("var/log/app.log"), "line\n").unwrap();
    // An old atime that a read without O_NOATIME would move (strictatime-like check).
    let old = rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: 1_000_000,
            tv_nsec: 0,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: 1_000_000,
            tv_nsec: 0,
        },
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        r.join("var/log/app.log"),
        &old,
        rustix::fs::AtFlags::empty(),
    )
    .unwrap();
    let _warm = snapshot(r); // the snapshot's own directory reads settle relatime
    let before = snapshot(r);
    let out = tempfile::tempdir().unwrap();
    collect(r, &out.path().join("a.tar.zst"), &[]);
    assert_eq!(
        before,
        snapshot(r),
        "the collected tree must be unchanged, atimes included"
    );
}

fn snapshot(r: &Path) -> Vec<(std::path::PathBuf, u64, i64, i64, u32)> {
    use std::os::unix::fs::MetadataExt;
    let mut v = Vec::new();
    let mut stack = vec![r.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        v.push((p.clone(), m.size(), m.mtime(), m.atime(), m.mode()));
        if m.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    v.sort();
    v
}

#[test]
fn setuid_bits_never_reach_a_tar_header_and_the_manifest_keeps_them() {
    let root = tree();
    let r = root.path();
    std::fs::write(r.join("suid"), "#!/bin/sh\necho attacker\n").unwrap();
    std::fs::set_permissions(r.join("suid"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::write(r.join("sgid"), "x").unwrap();
    std::fs::set_permissions(r.join("sgid"), std::fs::Permissions::from_mode(0o2711)).unwrap();
    let spec = spec_all(r, "/");
    let out = root.out("suid.tar.zst");
    collect(r, &out, &["--artifacts", &spec]);
    verify_ok(&out);
    let f = std::fs::File::open(&out).unwrap();
    let mut ar = tar::Archive::new(zstd::stream::read::Decoder::new(f).unwrap());
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        let mode = e.header().mode().unwrap();
        assert_eq!(
            mode & 0o7000,
            0,
            "{} has mode {mode:o} in its header",
            String::from_utf8_lossy(&e.path_bytes())
        );
    }
    let a = Archive::read(&out);
    assert_eq!(a.record("/suid")["mode"], "4755");
    assert_eq!(a.record("/sgid")["mode"], "2711");
    // Extracted as root with permissions kept, nothing is setuid.
    let x = root.out("extracted");
    std::fs::create_dir_all(&x).unwrap();
    let st = std::process::Command::new("tar")
        .arg("--zstd")
        .arg("-xpf")
        .arg(&out)
        .arg("-C")
        .arg(&x)
        .status()
        .unwrap();
    assert!(st.success());
    let m = std::fs::metadata(x.join("files/suid"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(m & 0o7777, 0o755, "{m:o}");
}

/// A small archive whose manifest decompresses to 256 MiB on one line: verify reads it
/// as a stream, under an address-space limit that holding it (as verify once did)
/// exceeds, and says what is wrong.
#[test]
fn a_manifest_bomb_is_refused_within_bounded_memory() {
    use std::io::Read;
    let root = tree();
    let bomb = root.out("bomb.tar.zst");
    {
        let f = std::fs::File::create(&bomb).unwrap();
        let z = zstd::stream::write::Encoder::new(f, 1)
            .unwrap()
            .auto_finish();
        let mut b = tar::Builder::new(z);
        let mut h = tar::Header::new_ustar();
        h.set_size(256 << 20);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(
            &mut h,
            "manifest.jsonl",
            std::io::repeat(b'x').take(256 << 20),
        )
        .unwrap();
        let summary = b"{}";
        let mut h = tar::Header::new_ustar();
        h.set_size(summary.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "summary.json", &summary[..]).unwrap();
        b.finish().unwrap();
    }
    let small = std::fs::metadata(&bomb).unwrap().len();
    assert!(small < 1 << 20, "the bomb is {small} bytes");
    let start = Instant::now();
    let o = std::process::Command::new("prlimit")
        .arg("--as=400000000")
        .arg(bin())
        .arg("verify")
        .arg(&bomb)
        .output()
        .expect("prlimit (util-linux)");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("a line longer than"), "{out}");
    assert!(out.contains("FAILED"), "{out}");
    assert!(start.elapsed() < Duration::from_secs(120));
}

/// Entry names are the archive's, which an attacker may have chosen: `verify` prints
/// them escaped, so a name cannot retitle or clear the responder's terminal.
#[test]
fn verify_never_prints_an_entry_name_raw() {
    let root = tree();
    let out = root.out("names.tar.zst");
    let evil = "files/x\u{1b}]0;owned\u{7}\u{1b}[2J\u{202e}gpj.exe";
    {
        let f = std::fs::File::create(&out).unwrap();
        let z = zstd::stream::write::Encoder::new(f, 1)
            .unwrap()
            .auto_finish();
        let mut b = tar::Builder::new(z);
        let mut add = |name: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, data).unwrap();
        };
        add(evil, b"payload");
        let rec = format!(
            "{{\"path\":{},\"source\":\"/x\",\"type\":\"file\",\"size\":7,\"sha256\":\"{}\"}}\n",
            serde_json::to_string(evil).unwrap(),
            "0".repeat(64)
        );
        add("manifest.jsonl", rec.as_bytes());
        add("summary.json", b"{}");
        b.finish().unwrap();
    }
    let o = run(&["verify", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        !o.stdout.contains(&0x1b) && !text.contains('\u{202e}'),
        "raw control characters reached the terminal: {text:?}"
    );
    assert!(
        text.contains("x\\x1b]0;owned\\x07\\x1b[2J\\u{202e}gpj.exe"),
        "{text}"
    );
}
