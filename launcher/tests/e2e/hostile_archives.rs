//! Archives made to blind or exhaust the responder's tools, each read by
//! `cairn-collector verify`, `cairn report` and `cairn timeline` under GNU time: a file
//! the target plants (a name with a newline and `size=0`, content shaped like a 2 GiB
//! GNU long-name header) collected by the genuine collector verifies, and the report
//! and timeline show the collection; the memory bombs that once took gigabytes are read
//! in under 64 MiB, each tool saying what it left out.

use super::*;
use cairn_archive::header::{encode, Fields};
use cairn_archive::write::{ArchiveWriter, EntryHeader};
use std::ffi::OsStr;
use std::io::Write;

/// The most a tool may hold reading any of these archives.
const MAX_RSS_KIB: u64 = 64 << 10;

/// What a run gave, and its peak resident memory.
struct Run {
    out: Output,
    rss_kib: u64,
}

impl Run {
    fn stdout(&self) -> String {
        text(&self.out.stdout)
    }
    fn stderr(&self) -> String {
        text(&self.out.stderr)
    }
}

/// Runs `bin ARGS` under GNU time (Debian's `time`), reading its peak RSS.
fn measured(dir: &Path, bin: &str, args: &[&OsStr]) -> Run {
    let rss = dir.join("rss");
    let out = common::env::command("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&rss)
        .arg(bin)
        .args(args)
        .output()
        .expect("/usr/bin/time (Debian time)");
    let rss_kib = std::fs::read_to_string(&rss)
        .unwrap_or_default()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RSS from time: {}", text(&out.stderr)));
    Run { out, rss_kib }
}

/// `verify`, `report` and `timeline` of `archive`, each within [`MAX_RSS_KIB`] and
/// none killed by a signal.
fn all_three(dir: &Path, archive: &Path) -> (Run, Run, Run) {
    let collector = std::env::var("CAIRN_MUSL_BIN").unwrap();
    let page = dir.join("page.html");
    let csv = dir.join("t.csv");
    let _ = std::fs::remove_file(&page);
    let _ = std::fs::remove_file(&csv);
    let v = measured(dir, &collector, &["verify".as_ref(), archive.as_os_str()]);
    let r = measured(
        dir,
        CAIRN,
        &[
            "report".as_ref(),
            archive.as_os_str(),
            "--output".as_ref(),
            page.as_os_str(),
        ],
    );
    let t = measured(
        dir,
        CAIRN,
        &[
            "timeline".as_ref(),
            archive.as_os_str(),
            "--format".as_ref(),
            "csv".as_ref(),
            "--output".as_ref(),
            csv.as_os_str(),
        ],
    );
    for (what, run) in [("verify", &v), ("report", &r), ("timeline", &t)] {
        assert!(
            run.out.status.code().is_some(),
            "{what} was killed: {}",
            run.stderr()
        );
        assert!(
            run.rss_kib < MAX_RSS_KIB,
            "{what} of {} held {} KiB: {}",
            archive.display(),
            run.rss_kib,
            run.stderr()
        );
    }
    (v, r, t)
}

/// A header block and its data, padded.
fn entry(tar: &mut Vec<u8>, name: &[u8], kind: u8, data: &[u8]) {
    tar.extend(encode(&Fields {
        name,
        kind,
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: data.len() as u64,
        mtime: 1_700_000_000,
        link: b"",
    }));
    tar.extend(data);
    tar.resize(tar.len().div_ceil(512) * 512, 0);
}

/// Writes entries (name, content) with the archive writer, as a crafted archive.
pub(super) fn crafted(path: &Path, entries: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = ArchiveWriter::new(f, 0).unwrap();
    let h = EntryHeader {
        mode: 0o644,
        mtime: 1_700_000_000,
        ..EntryHeader::default()
    };
    for (name, data) in entries {
        w.append_bytes(&name, &h, &data).unwrap();
    }
    w.finish().unwrap().flush().unwrap();
}

#[test]
fn a_planted_name_and_header_shaped_file_are_collected_verified_and_reported() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/hostname"), "planted\n").unwrap();
    let name = format!("{}\n10 size=0", "a".repeat(120));
    let mut fake = vec![0u8; 512];
    fake[..13].copy_from_slice(b"././@LongLink");
    fake[156] = b'L';
    fake[124..136].copy_from_slice(b"20000000000\0");
    fake[257..265].copy_from_slice(b"ustar  \0");
    std::fs::write(root.join("tmp").join(&name), &fake).unwrap();
    let archive = d.path().join("planted_web_main_20261207T100000Z.tar.zst");
    let collector = std::env::var("CAIRN_MUSL_BIN").unwrap();
    let o = common::env::command(&collector)
        .args(["collect", "--root"])
        .arg(&root)
        .arg("--output")
        .arg(&archive)
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&o);
    let (v, r, t) = all_three(d.path(), &archive);
    assert!(v.out.status.success(), "{}", v.stdout());
    assert!(v.stdout().starts_with("OK "), "{}", v.stdout());
    assert!(r.out.status.success(), "{}", r.stderr());
    let page = std::fs::read_to_string(d.path().join("page.html")).unwrap();
    assert!(
        page.contains("collected"),
        "the identity table names the collection"
    );
    assert!(!page.contains("damaged"), "the page reads as damaged");
    assert!(t.out.status.success(), "{}", t.stderr());
    let csv = std::fs::read_to_string(d.path().join("t.csv")).unwrap();
    assert!(csv.contains("cairn collection started"), "{csv}");
    assert!(
        csv.contains(&"a".repeat(120)),
        "the planted file's times are on the timeline"
    );
}

#[test]
fn a_long_history_name_times_many_lines_is_cut_not_copied() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("bomb_a_x_20261207T100000Z.tar.zst");
    let mut name = b"files/".to_vec();
    name.extend(b"d/".repeat(100_000));
    name.extend(b".bash_history");
    crafted(&a, [(name, b"x\n".repeat(50_000))]);
    let (_, r, _) = all_three(d.path(), &a);
    assert!(
        r.stderr().contains("shell history or cron file(s)"),
        "{}",
        r.stderr()
    );
}

#[test]
fn records_of_nothing_but_numbers_cost_nothing() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("bomb_b_x_20261207T100000Z.tar.zst");
    let mut line = b"[".to_vec();
    line.extend(b"0,".repeat(500_000));
    line.extend(b"0]\n");
    crafted(
        &a,
        [(
            cairn_archive::member::live::PROCESSES.as_bytes().to_vec(),
            line.repeat(100),
        )],
    );
    let (_, r, t) = all_three(d.path(), &a);
    assert!(
        r.stderr().contains("not what their member holds"),
        "{}",
        r.stderr()
    );
    assert!(t.stderr().contains("malformed"), "{}", t.stderr());
}

#[test]
fn processes_with_huge_command_lines_are_held_within_a_budget() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("bomb_f_x_20261207T100000Z.tar.zst");
    let args = vec!["\"\""; 300_000].join(",");
    let mut lines = Vec::new();
    for pid in 0..200 {
        writeln!(
            lines,
            "{{\"pid\":{pid},\"ppid\":1,\"comm\":\"x\",\"state\":\"S\",\"pgrp\":1,\"session\":1,\"tty_nr\":0,\"threads\":1,\"start_time\":\"2026-12-07T10:00:00Z\",\"start_ticks\":1,\"cpu_seconds\":0.0,\"rss_bytes\":0,\"vsz_bytes\":0,\"cmdline\":[{args}]}}"
        )
        .unwrap();
    }
    crafted(
        &a,
        [(
            cairn_archive::member::live::PROCESSES.as_bytes().to_vec(),
            lines,
        )],
    );
    let (_, r, t) = all_three(d.path(), &a);
    assert!(r.stderr().contains("processes past the"), "{}", r.stderr());
    assert!(
        t.stderr().contains("process or drift record(s) past"),
        "{}",
        t.stderr()
    );
}

#[test]
fn kubernetes_documents_of_a_million_empty_objects_cost_nothing() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("case");
    std::fs::create_dir(&dir).unwrap();
    crafted(
        &dir.join("bomb_g_x_20261207T100000Z.tar.zst"),
        [(b"files/etc/hostname".to_vec(), b"x\n".to_vec())],
    );
    let many = |n: usize| vec!["{}"; n].join(",");
    crafted(
        &dir.join("bomb_g_x_20261207T100000Z.k8s.tar.zst"),
        [
            (
                cairn_archive::member::k8s::EVENTS.as_bytes().to_vec(),
                format!("{{\"items\":[{}]}}", many(5_000_000)).into_bytes(),
            ),
            (
                cairn_archive::member::k8s::POD.as_bytes().to_vec(),
                format!(
                    "{{\"spec\":{{\"containers\":[{}]}},\"status\":{{\"containerStatuses\":[{}]}}}}",
                    many(2_000_000),
                    many(2_000_000)
                )
                .into_bytes(),
            ),
        ],
    );
    let page = d.path().join("pages");
    let csv = d.path().join("t.csv");
    let r = measured(
        d.path(),
        CAIRN,
        &[
            "report".as_ref(),
            dir.as_os_str(),
            "--output".as_ref(),
            page.as_os_str(),
        ],
    );
    assert!(r.rss_kib < MAX_RSS_KIB, "report held {} KiB", r.rss_kib);
    assert!(
        r.stderr().contains("event(s) past the first"),
        "{}",
        r.stderr()
    );
    let t = measured(
        d.path(),
        CAIRN,
        &[
            "timeline".as_ref(),
            dir.as_os_str(),
            "--output".as_ref(),
            csv.as_os_str(),
        ],
    );
    assert!(t.rss_kib < MAX_RSS_KIB, "timeline held {} KiB", t.rss_kib);
    assert!(
        t.stderr().contains("event(s) past the first"),
        "{}",
        t.stderr()
    );
}

#[test]
fn a_timeline_of_many_files_is_sorted_on_disk_within_its_budget() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("bomb_c_x_20261207T100000Z.tar.zst");
    let mut body = Vec::new();
    for i in 0..300_000u64 {
        writeln!(
            body,
            "0|/usr/lib/x/file-{i}|{i}|-rwxr-xr-x|0|0|{i}|{}|{}|{}|{}",
            1_600_000_000 + i * 7 % 100_000,
            1_600_000_000 + i * 13 % 100_000,
            1_600_000_000 + i * 17 % 100_000,
            1_600_000_000 + i * 19 % 100_000
        )
        .unwrap();
    }
    crafted(
        &a,
        [(
            cairn_archive::member::files::BODYFILE.as_bytes().to_vec(),
            body,
        )],
    );
    let (_, r, t) = all_three(d.path(), &a);
    assert!(t.stderr().contains("run(s) on disk"), "{}", t.stderr());
    let events: u64 = t
        .stderr()
        .split("timeline of ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(events > 1_000_000, "{}", t.stderr());
    assert!(r.stderr().contains("bodyfile modes"), "{}", r.stderr());
}

#[test]
fn thousands_of_long_unlisted_names_are_quoted_cut() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("bomb_d_x_20261207T100000Z.tar.zst");
    let entries = (0..2_000).map(|i| {
        let mut n = format!("files/{i}/").into_bytes();
        n.extend(b"n".repeat(128 << 10));
        (n, Vec::new())
    });
    let records = [
        (b"manifest.jsonl".to_vec(), Vec::new()),
        (b"summary.json".to_vec(), b"{}".to_vec()),
    ];
    crafted(&a, entries.chain(records));
    let (v, _, _) = all_three(d.path(), &a);
    assert_eq!(v.out.status.code(), Some(1), "{}", v.stdout());
    assert!(
        v.out.stdout.len() < 2 << 20,
        "{} bytes of stdout",
        v.out.stdout.len()
    );
    let out = v.stdout();
    assert!(
        out.contains("… (13108"),
        "names are quoted cut: {}",
        &out[..out.len().min(1500)]
    );
}

#[test]
fn a_malformed_pax_size_before_a_huge_header_stops_every_tool_at_once() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("bomb_e_x_20261207T100000Z.tar.zst");
    let mut tar = Vec::new();
    entry(&mut tar, b"././@PaxHeader", b'x', b"11 size= 0\n");
    entry(&mut tar, b"big", b'0', &[0u8; 1024]);
    let mut fake = encode(&Fields {
        name: b"././@LongLink",
        kind: b'L',
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: 8 << 30,
        mtime: 0,
        link: b"",
    })
    .to_vec();
    fake.extend(vec![0u8; 8192]);
    tar.extend(fake);
    std::fs::write(&a, zstd_bytes(&tar)).unwrap();
    let (v, r, t) = all_three(d.path(), &a);
    assert!(
        v.stdout().contains("malformed PAX record") || v.stdout().contains("PAX size record"),
        "{}",
        v.stdout()
    );
    for run in [&r, &t] {
        assert!(run.stderr().contains("PAX"), "{}", run.stderr());
    }
}

/// `bytes` compressed as the collector does.
fn zstd_bytes(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 3).unwrap()
}
