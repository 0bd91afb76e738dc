//! Process memory end to end, on real containers: an attacker's fileless processes
//! (one from the image, one from a binary deleted while it runs, one from a memfd; see
//! `fixtures/planter.c`) captured through an ephemeral container with the responder's
//! YARA rules: each marker is found by the rule and, at the address the hit gives, by
//! gdb in the core; the deleted and memfd executables are recovered; the hits are high
//! findings in the report and events in the timeline. Over exec, a process of another
//! user is recorded as denied with what would allow it.

use super::routes::Images;
use super::*;
use cairn_archive::records::memory::{MemoryProcess, YaraHit};
use cairn_archive::records::process::Executable;

/// The planter, built static with Debian's musl-gcc, alone in an image (`docker
/// import` of a one-file tree: no builder cache, which concurrent builds and removals
/// by other tests once left pointing at an image that was gone).
fn planter_image() -> String {
    let t = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/fixtures/planter.c");
    let o = Command::new("musl-gcc")
        .args(["-static", "-O1", "-o"])
        .arg(t.path().join("planter"))
        .arg(&src)
        .output()
        .expect("musl-gcc (Debian's musl-tools)");
    cairn_testkit::env::succeeded(&o);
    let tar = t.path().join("planter.tar");
    let o = Command::new("tar")
        .arg("-C")
        .arg(t.path())
        .args(["--numeric-owner", "-cf"])
        .arg(&tar)
        .arg("planter")
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&o);
    let tag = format!("cairn-e2e-planter:{}", std::process::id());
    let o = Command::new("docker")
        .args(["import", "-c", "ENTRYPOINT [\"/planter\"]"])
        .arg(&tar)
        .arg(&tag)
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&o);
    tag
}

/// An image removed once its test ends (after its containers, declared later).
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = docker::docker(&["rmi", "-f", &self.0]);
    }
}

fn records<T: serde::de::DeserializeOwned>(a: &cairn_testkit::archive::Archive, m: &str) -> Vec<T> {
    a.text(m)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn fileless_processes_are_captured_scanned_and_their_executables_recovered() {
    let Some(bin) = docker::setup() else { return };
    let img = Images::build(&bin, "fl");
    let ns = img.ns.clone();
    let image = Image(planter_image());
    let planter = pod(&ns, "implant", &image.0, &[]);
    // The three processes are up once the memfd one runs.
    for _ in 0..100 {
        let top = docker::ok(&["top", &planter.0, "-o", "pid,args"]);
        if top.contains("payload run MEMFD") && top.contains("dropper run DELETED") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let s = ApiServer::start(&[]);
    let rules = s.dir.path().join("implant.yar");
    std::fs::write(
        &rules,
        "rule heap_marker : implant { strings: $m = /CAIRN-E2E-HEAP-[A-Z]+-5c2e/ condition: $m }\n",
    )
    .unwrap();
    let out = s.dir.path().join("out");
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "implant",
            "--via",
            "auto",
            "--memory",
            "--yara",
            rules.to_str().unwrap(),
            "--collector-image",
            &img.collector,
            "--output-dir",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let names = archives(&out);
    assert_eq!(names.len(), 1, "{names:?}");
    let a = cairn_testkit::archive::Archive::read(&out.join(&names[0]));
    let procs: Vec<MemoryProcess> = records(&a, "live_response/memory/processes.jsonl");
    let hits: Vec<YaraHit> = records(&a, "live_response/yara/hits.jsonl");
    let exes: Vec<Executable> = records(&a, "live_response/processes/executables.jsonl");
    for kind in ["PLAIN", "DELETED", "MEMFD"] {
        let marker = format!("CAIRN-E2E-HEAP-{kind}-5c2e");
        // The rule's hit in memory, with the address of the marker.
        let hit = hits
            .iter()
            .find(|h| {
                h.scanned == "memory" && h.rule == "heap_marker" && {
                    let pid = h.pid.unwrap();
                    procs
                        .iter()
                        .any(|p| p.pid == pid && p.comm != "cairn-collector")
                        && exes.iter().any(|e| e.pid == pid && exe_kind(e) == kind)
                }
            })
            .unwrap_or_else(|| panic!("no hit for {kind} in {hits:?}\n{exes:?}"));
        let pid = hit.pid.unwrap();
        let p = procs.iter().find(|p| p.pid == pid).unwrap();
        let core = p
            .core
            .as_deref()
            .unwrap_or_else(|| panic!("no core: {p:?}"));
        let file = s.dir.path().join(format!("{kind}.core"));
        std::fs::write(&file, a.get(core).unwrap()).unwrap();
        let addr = hit.address.as_deref().unwrap();
        let gdb = Command::new("gdb")
            .args(["-batch", "-nx", "-c"])
            .arg(&file)
            .args(["-ex", &format!("x/s 0x{addr}")])
            .output()
            .expect("gdb");
        assert!(
            text(&gdb.stdout).contains(&marker),
            "gdb at 0x{addr} in {kind}'s core: {}{}",
            text(&gdb.stdout),
            text(&gdb.stderr)
        );
        // The executable, recovered even though nothing on disk holds it any more.
        let e = exes.iter().find(|e| e.pid == pid).unwrap();
        if kind != "PLAIN" {
            assert!(e.deleted, "{e:?}");
            let copy = e
                .copy
                .as_deref()
                .unwrap_or_else(|| panic!("not copied: {e:?}"));
            let bytes = a.get(copy).unwrap();
            assert!(bytes.starts_with(b"\x7fELF"), "{copy}");
            assert_eq!(e.sha256.as_deref(), Some(sha256_hex(bytes).as_str()));
        }
    }
    // High findings in the report, events in the timeline.
    let page = s.dir.path().join("report.html");
    let r = common::env::command(CAIRN)
        .arg("report")
        .arg(&out)
        .arg("--output")
        .arg(&page)
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&r);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.matches("YARA rule implant:heap_marker [implant] matched the memory of process")
            .count()
            >= 3,
        "{html}"
    );
    let tl = common::env::command(CAIRN)
        .arg("timeline")
        .arg(&out)
        .args(["--format", "csv"])
        .output()
        .unwrap();
    cairn_testkit::env::succeeded(&tl);
    assert!(
        text(&tl.stdout).matches("YARA Match Time").count() >= 3,
        "{}",
        text(&tl.stdout)
    );
}

/// Which planter process an executable record is.
fn exe_kind(e: &Executable) -> &'static str {
    if e.exe.starts_with("/memfd:payload") {
        "MEMFD"
    } else if e.exe.starts_with("/tmp/dropper") {
        "DELETED"
    } else if e.exe == "/planter" {
        "PLAIN"
    } else {
        "other"
    }
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b))
}

#[test]
fn over_exec_a_process_of_another_user_is_recorded_denied_with_what_would_allow_it() {
    let Some(_) = docker::setup() else { return };
    let ns = format!("memx-{}", std::process::id());
    let web = pod(&ns, "web", docker::busybox_image(), &[]);
    docker::ok(&["exec", "-d", "-u", "65534", &web.0, "sleep", "3600"]);
    let s = ApiServer::start(&[]);
    let out = s.dir.path().join("out");
    let o = cairn(
        &s,
        &[
            "-n",
            &ns,
            "collect",
            "web",
            "--via",
            "exec",
            "--memory",
            "--output-dir",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("--memory over exec"),
        "{}",
        text(&o.stderr)
    );
    let names = archives(&out);
    let a = cairn_testkit::archive::Archive::read(&out.join(&names[0]));
    let procs: Vec<MemoryProcess> = records(&a, "live_response/memory/processes.jsonl");
    // The container's root processes are root's to read; nobody's is not, without
    // CAP_SYS_PTRACE, which Docker does not give.
    let root = procs.iter().find(|p| p.comm == "sleep" && p.core.is_some());
    let nobody = procs
        .iter()
        .find(|p| {
            p.core.is_none()
                && p.why
                    .as_deref()
                    .is_some_and(|w| w.contains("needs CAP_SYS_PTRACE: use --via ephemeral"))
        })
        .unwrap_or_else(|| panic!("no denied process in {procs:?}"));
    assert_eq!(nobody.comm, "sleep", "{nobody:?}");
    assert!(root.is_some(), "{procs:?}");
    assert_eq!(docker::leftovers(&web.0), "");
}
