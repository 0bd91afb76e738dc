//! Every string the target gives reaches the responder escaped for its sink. A busybox
//! pod plants one payload (a spreadsheet formula, a terminal retitle and clear, a C1
//! CSI, bidi overrides, CR LF) in a process's command line, a file name, its shell
//! history and a pod event; a forged copy of each archive and of case.json then carries
//! it in every string the collector writes (sha256 values replaced by a formula), in a
//! member's name and in a forged bodyfile line; a YARA rule's hit on the planted file
//! carries it too. `cairn timeline` (csv, jsonl, bodyfile,
//! to the terminal), `cairn report`, `cairn verify-case` and `cairn-collector verify`
//! read both: no output holds a control, C1 or bidi character, no CSV cell starts a
//! formula, a sha256 cell is 64 hex digits or empty, JSON lines parse back to the
//! payload, and the payload is shown, escaped.

use super::*;
use cairn_protocol::escape::is_unsafe_char;
use serde_json::Value;
use std::io::Read;

const PAYLOAD: &str =
    "=HYPERLINK(\"evil\")\x1b]2;owned\x07\x1b[2J\u{9b}31m\u{202e}exe.txt\u{2066}\r\nforged";
/// How the payload's retitle reads once escaped for a terminal (and in CSV), and in JSON.
const SHOWN_TERMINAL: &str = "\\x1b]2;owned\\x07";
const SHOWN_JSON: &str = "\\u001b]2;owned\\u0007";

#[test]
fn every_output_escapes_what_the_target_wrote_and_what_a_forger_wrote() {
    let Some(_) = docker::setup() else { return };
    let ns = format!("esc-{}", std::process::id());
    let p = pod(&ns, "web", docker::busybox_image(), &[]);
    let plant = "echo \"$1\" > \"/tmp/$1\" && mkdir -p /root && echo \"$1\" >> /root/.ash_history";
    docker::ok(&["exec", &p.0, "sh", "-c", plant, "sh", PAYLOAD]);
    docker::ok(&["exec", "-d", &p.0, "sh", "-c", "sleep 3600; :", PAYLOAD]);
    let store = tempfile::tempdir().unwrap();
    let event = serde_json::json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "web.1", "namespace": ns},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": ns},
        "reason": "Killing", "message": PAYLOAD, "type": "Warning",
        "lastTimestamp": "2026-11-30T09:59:58Z", "count": 1});
    std::fs::write(store.path().join("event.json"), event.to_string()).unwrap();
    let s = ApiServer::start(&["--objects", store.path().to_str().unwrap()]);
    let out = s.dir.path().join("out");
    // A YARA rule that matches the planted file: its hit (the file's hostile name) is in
    // hits.jsonl, the report's findings and the timeline.
    let rules = s.dir.path().join("ir.yar");
    std::fs::write(
        &rules,
        "rule planted { strings: $a = \"HYPERLINK\" condition: $a }\n",
    )
    .unwrap();
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "web",
            "--yara",
            rules.to_str().unwrap(),
            "--output-dir",
            out.to_str().unwrap(),
        ],
    );
    cairn_testkit::env::succeeded(&o);
    let forged = s.dir.path().join("forged");
    std::fs::create_dir(&forged).unwrap();
    for e in std::fs::read_dir(&out).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tar.zst") {
            forge_archive(&e.path(), &forged.join(&name));
        } else if name.starts_with("case") && name.ends_with(".json") {
            let mut v: Value = serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
            taint(&mut v);
            std::fs::write(forged.join(&name), v.to_string()).unwrap();
        }
    }
    for (dir, honest) in [(&out, true), (&forged, false)] {
        check_timelines(dir, honest);
        check_report(dir);
        let v = run(CAIRN, &["verify-case".as_ref(), dir.as_os_str()]);
        assert_eq!(
            v.status.success(),
            honest,
            "verify-case {}",
            text(&v.stdout)
        );
        clean("verify-case", &v.stdout);
        clean("verify-case", &v.stderr);
        if !honest {
            let said = format!("{}{}", text(&v.stdout), text(&v.stderr));
            assert!(said.contains(SHOWN_TERMINAL), "{said}");
        }
        let collector = std::env::var("CAIRN_MUSL_BIN").unwrap();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.file_name().to_string_lossy().ends_with(".tar.zst") {
                let v = run(&collector, &["verify".as_ref(), e.path().as_os_str()]);
                clean("cairn-collector verify", &v.stdout);
                clean("cairn-collector verify", &v.stderr);
            }
        }
    }
}

/// The three timeline formats on standard output, as a responder's terminal shows them.
fn check_timelines(dir: &Path, honest: bool) {
    let tl = |format: &str| {
        let o = run(
            CAIRN,
            &[
                "timeline".as_ref(),
                dir.as_os_str(),
                "--format".as_ref(),
                format.as_ref(),
            ],
        );
        if honest {
            cairn_testkit::env::succeeded(&o);
        }
        clean(&format!("timeline {format}"), &o.stdout);
        clean(&format!("timeline {format}"), &o.stderr);
        text(&o.stdout)
    };
    let csv = tl("csv");
    assert!(
        csv.contains(SHOWN_TERMINAL),
        "the payload is not shown in the CSV"
    );
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let header = r.headers().unwrap().clone();
    let sha = header.iter().position(|h| h == "sha256").unwrap();
    let mut rows = 0;
    for row in r.records() {
        let row = row.unwrap();
        rows += 1;
        for cell in row.iter().filter(|c| c.parse::<f64>().is_err()) {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '＝', '＋', '－', '＠']),
                "a cell a spreadsheet runs: {cell:?}"
            );
        }
        let h = &row[sha];
        assert!(
            h.is_empty() || (h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())),
            "sha256 cell {h:?}"
        );
    }
    assert!(rows > 10, "{rows} rows");
    let jsonl = tl("jsonl");
    assert!(
        jsonl.contains(SHOWN_JSON),
        "the payload is not in the JSON lines"
    );
    let mut payloads = 0;
    let mut yara = 0;
    for line in jsonl.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let has = v.to_string().contains("\\u001b]2;owned");
        payloads += usize::from(has);
        // The collector escaped the file's name itself: shown, not raw, either way.
        yara += usize::from(v["source"] == "yara" && v.to_string().contains("]2;owned"));
    }
    assert!(payloads > 0, "no JSON line reads back to the payload");
    assert!(yara > 0, "no YARA event names the planted file");
    let body = tl("bodyfile");
    assert!(
        body.contains(SHOWN_TERMINAL),
        "the payload is not in the bodyfile"
    );
}

/// The report's page (or pages), and what the command says.
fn check_report(dir: &Path) {
    let page = dir.with_extension("report");
    let o = run(
        CAIRN,
        &[
            "report".as_ref(),
            dir.as_os_str(),
            "--output".as_ref(),
            page.as_os_str(),
        ],
    );
    clean("report", &o.stdout);
    clean("report", &o.stderr);
    let pages: Vec<PathBuf> = if page.is_dir() {
        std::fs::read_dir(&page)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect()
    } else {
        vec![page]
    };
    let mut shown = false;
    for p in pages {
        let html = std::fs::read(&p).unwrap();
        clean(&p.display().to_string(), &html);
        shown |= text(&html).contains("owned");
    }
    assert!(shown, "the payload is not on any page");
}

fn run(bin: &str, args: &[&std::ffi::OsStr]) -> Output {
    common::env::command(bin).args(args).output().unwrap()
}

/// Fails naming the output and the place where a character no sink shows came through.
fn clean(what: &str, bytes: &[u8]) {
    let s: Vec<char> = text(bytes).chars().collect();
    if let Some(i) = s.iter().position(|&c| is_unsafe_char(c) && c != '\n') {
        let around: String = s[i.saturating_sub(60)..(i + 60).min(s.len())]
            .iter()
            .collect();
        panic!("{what}: raw {:?} in …{around:?}…", s[i]);
    }
}

/// A copy of `from` with the payload in every string a reader shows (see [`taint`]), in
/// text members, in one more member's name, and in a forged bodyfile line.
fn forge_archive(from: &Path, to: &Path) {
    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut r = cairn_archive::read::open(from).unwrap();
    while let Some(mut e) = r.next_entry().unwrap() {
        let name = e.header.name.clone();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        entries.push((name.clone(), forge_member(&name, data)));
    }
    let hostile = format!("files/tmp/{PAYLOAD}").into_bytes();
    entries.insert(1, (hostile, PAYLOAD.as_bytes().to_vec()));
    super::hostile_archives::crafted(to, entries);
}

fn forge_member(name: &[u8], data: Vec<u8>) -> Vec<u8> {
    let name = text(name);
    if name.ends_with(".json") {
        if let Ok(mut v) = serde_json::from_slice::<Value>(&data) {
            taint(&mut v);
            return v.to_string().into_bytes();
        }
    }
    let mut out = Vec::new();
    for line in data.split_inclusive(|&b| b == b'\n') {
        match serde_json::from_slice::<Value>(line) {
            Ok(mut v) if v.is_object() => {
                taint(&mut v);
                out.extend(v.to_string().as_bytes());
                out.push(b'\n');
            }
            _ => out.extend(line),
        }
    }
    if !name.ends_with(".jsonl") {
        if !out.ends_with(b"\n") && !out.is_empty() {
            out.push(b'\n');
        }
        if name.ends_with("bodyfile.txt") {
            let line = format!(
                "0|/tmp/{PAYLOAD}|1|-rw-r--r--|0|0|5|1700000000|1700000000|1700000000|1700000000\n"
            );
            out.extend(line.as_bytes());
        }
        out.extend(format!("{PAYLOAD}\n").as_bytes());
    }
    out
}

/// Puts the payload before every string but those a reader parses as a kind (short
/// lowercase words), a time or a number, so the forged records still read; a sha256
/// becomes a formula.
fn taint(v: &mut Value) {
    match v {
        Value::String(s) => {
            let kind = s.len() <= 24
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'-');
            let time = s.len() >= 10
                && s.as_bytes()[..4].iter().all(u8::is_ascii_digit)
                && s.as_bytes()[4] == b'-';
            let number = s.parse::<f64>().is_ok();
            if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
                *s = "=HYPERLINK(\"http://evil.example/\")".into();
            } else if !(kind || time || number || s.is_empty()) {
                *s = format!("{PAYLOAD}{s}");
            }
        }
        Value::Array(a) => a.iter_mut().for_each(taint),
        Value::Object(o) => o.values_mut().for_each(taint),
        _ => {}
    }
}
