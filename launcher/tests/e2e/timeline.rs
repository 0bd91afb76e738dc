//! `cairn timeline` over what `cairn collect --output-dir` wrote for a busybox pod with
//! planted files (one dated 2021, one named as a spreadsheet formula) and a pod event:
//! Timesketch's CSV (one header row, its three required columns, ISO 8601 times, sorted)
//! and JSON lines, and a bodyfile that The Sleuth Kit's `mactime -b` reads.

use super::*;
use serde_json::{json, Value};

#[test]
fn a_collection_becomes_one_sorted_timeline_for_timesketch_and_mactime() {
    let Some(_) = docker::setup() else { return };
    let ns = format!("tl-{}", std::process::id());
    let p = pod(&ns, "web", docker::busybox_image(), &[]);
    docker::ok(&[
        "exec",
        &p.0,
        "sh",
        "-c",
        "echo x > /tmp/planted-2021 && touch -d '2021-02-03 04:05:06' /tmp/planted-2021 \
         && echo y > '/tmp/=HYPERLINK(\"x\")'",
    ]);
    let store = tempfile::tempdir().unwrap();
    std::fs::write(
        store.path().join("event.json"),
        json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web.1", "namespace": ns},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": ns},
            "reason": "Pulled", "message": "image pulled", "type": "Normal",
            "lastTimestamp": "2026-11-30T09:59:58Z", "count": 1})
        .to_string(),
    )
    .unwrap();
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
        ],
    );
    cairn_testkit::env::succeeded(&o);
    let timeline = |format: &str, file: &str| {
        let path = s.dir.path().join(file);
        let o = common::env::command(CAIRN)
            .arg("timeline")
            .arg(&out)
            .args(["--format", format, "--output"])
            .arg(&path)
            .output()
            .unwrap();
        cairn_testkit::env::succeeded(&o);
        let mode = std::fs::metadata(&path).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        assert!(
            text(&o.stderr).contains("from 1 collection(s)"),
            "{}",
            text(&o.stderr)
        );
        path
    };

    // CSV: one header row, Timesketch's columns, ISO 8601 times in order.
    let csv_path = timeline("csv", "t.csv");
    let mut r = csv::Reader::from_path(&csv_path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    for required in ["message", "datetime", "timestamp_desc"] {
        assert!(header.iter().any(|h| h == required), "{header:?}");
    }
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert!(rows.len() > 100, "{} rows", rows.len());
    let mut last = i64::MIN;
    for row in &rows {
        let dt = &row[col("datetime")];
        let parsed = time::OffsetDateTime::parse(
            dt,
            &time::format_description::well_known::Iso8601::DEFAULT,
        )
        .unwrap_or_else(|e| panic!("{dt}: {e}"));
        let ts: i64 = row[col("timestamp")].parse().unwrap();
        assert_eq!(parsed.unix_timestamp_nanos() / 1000, i128::from(ts), "{dt}");
        assert!(ts >= last, "not sorted at {dt}");
        last = ts;
    }
    let find = |pred: &dyn Fn(&csv::StringRecord) -> bool| rows.iter().find(|r| pred(r)).cloned();
    let planted =
        find(&|r| &r[col("path")] == "/tmp/planted-2021" && r[col("macb")].starts_with('m'))
            .expect("the planted file's modification time");
    assert_eq!(
        &planted[col("datetime")],
        "2021-02-03T04:05:06.000000+00:00"
    );
    assert!(planted[col("timestamp_desc")].contains("Content Modification Time"));
    assert_eq!(&planted[col("source")], "file");
    // The file was collected: its sha256 comes from the manifest.
    let x = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"x\n"));
    assert_eq!(&planted[col("sha256")], x, "the sha256 of its content");
    // A name a spreadsheet would run, were it at the start of a cell: it never is
    // (cells from the target that would be are prefixed with ').
    let formula = find(&|r| r[col("path")].contains("HYPERLINK")).expect("the formula-named file");
    assert_eq!(&formula[col("path")], "/tmp/=HYPERLINK(\"x\")");
    assert!(
        rows.iter()
            .all(|r| r.iter().all(|c| !c.starts_with(['=', '+', '@']))),
        "a cell a spreadsheet would run"
    );
    let sleep =
        find(&|r| &r[col("source")] == "process" && r[col("message")].contains("sleep 3600"))
            .expect("the container's process");
    assert_eq!(&sleep[col("timestamp_desc")], "Process Start Time");
    assert_eq!(sleep[col("sha256")].len(), 64, "{sleep:?}");
    let event =
        find(&|r| &r[col("source")] == "kubernetes" && r[col("message")].contains("Pulled"))
            .expect("the pod's event");
    assert_eq!(&event[col("datetime")], "2026-11-30T09:59:58.000000+00:00");
    assert!(find(&|r| r[col("message")].starts_with("pod web created")).is_some());
    assert!(find(&|r| r[col("message")].starts_with("cairn collection started")).is_some());

    // JSON lines: the same events, the formula-named path exact.
    let jsonl = std::fs::read_to_string(timeline("jsonl", "t.jsonl")).unwrap();
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), rows.len());
    assert!(lines.iter().all(|l| l["message"].is_string()
        && l["datetime"].is_string()
        && l["timestamp_desc"].is_string()));
    assert!(lines.iter().any(|l| l["path"] == "/tmp/=HYPERLINK(\"x\")"));

    // The bodyfile, as mactime reads it.
    let body = timeline("bodyfile", "t.body");
    let m = Command::new("mactime")
        .args(["-b"])
        .arg(&body)
        .args(["-d", "-z", "UTC"])
        .output()
        .expect("mactime (Debian sleuthkit)");
    cairn_testkit::env::succeeded(&m);
    let said = text(&m.stdout);
    assert!(
        said.lines()
            .any(|l| l.contains("/tmp/planted-2021") && l.contains("2021") && l.contains("m")),
        "{said}"
    );
    // An existing output is not replaced without --force.
    let o = common::env::command(CAIRN)
        .arg("timeline")
        .arg(&out)
        .arg("--output")
        .arg(&csv_path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("--force"), "{}", text(&o.stderr));
}
