//! Process memory (`--memory`): a live process's resident pages as an ELF core file that
//! the field's own tools open (`readelf -l` lists its segments, `gdb -c` prints a
//! string planted in its heap), what each mapping became, nothing faulted into the
//! target, a huge sparse mapping scanned within its bound, and a collector without
//! ptrace access recording each process as denied with what would allow it.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const MARKER: &str = "CAIRN-MEMORY-MARKER-7f3a9c";

/// A python process holding MARKER in a heap buffer and a 2^46-byte sparse mapping
/// (x86_64's user address space is 2^47 bytes: a 2^47-byte mapping cannot exist there)
/// with one page touched, and a second thread; returns it and the buffer's address.
fn target() -> (Child, u64) {
    let script = format!(
        "import ctypes, mmap, sys, time\n\
         b = bytearray(b'{MARKER}' + b'\\0' * 64)\n\
         addr = ctypes.addressof((ctypes.c_char * len(b)).from_buffer(b))\n\
         huge = mmap.mmap(-1, 1 << 46, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x4000)\n\
         huge[1 << 20] = 1\n\
         import os\n\
         path = '/tmp/cairn-held-%d' % os.getpid()\n\
         held = open(path, 'w+b'); held.write(b'DELETED-PAYLOAD-41'); held.flush(); os.unlink(path)\n\
         mfd = os.memfd_create('payload'); os.write(mfd, b'MEMFD-PAYLOAD-42')\n\
         import threading; threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n\
         print(addr, flush=True)\n\
         time.sleep(600)\n"
    );
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no address: {line:?}"));
    (child, addr)
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

fn lines(a: &Archive, member: &str) -> Vec<serde_json::Value> {
    a.text(member)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn collect_memory(pid: u32, out: &std::path::Path, as_nobody: bool) -> std::process::Output {
    let mut c = if as_nobody {
        let mut c = env::command("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin()]);
        c
    } else {
        env::command(bin())
    };
    c.args(["collect", "--artifacts", "memory/*", "--memory-pids"])
        .arg(pid.to_string())
        .args(["--progress", "none", "--output", "-"]);
    let o = c.output().unwrap();
    std::fs::write(out, &o.stdout).unwrap();
    o
}

#[test]
fn a_processs_memory_is_a_core_file_gdb_reads_and_nothing_is_faulted_in() {
    let (mut child, addr) = target();
    let pid = child.id();
    let t = TestDir::new("memory");
    let out = t.path().join("mem.tar.zst");
    let before = rss_kb(pid);
    // The main thread sleeps in the kernel (once it has printed): its stack pointer and
    // program counter.
    let mut syscall = String::new();
    for _ in 0..100 {
        syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap();
        if syscall.split_whitespace().count() == 9 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let f: Vec<&str> = syscall.split_whitespace().collect();
    assert_eq!(f.len(), 9, "{syscall}");
    let (sp, pc) = (f[f.len() - 2], f[f.len() - 1]);
    let started = std::time::Instant::now();
    let o = collect_memory(pid, &out, false);
    let took = started.elapsed();
    let after = rss_kb(pid);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(took.as_secs() < 60, "the capture took {took:?}");
    assert!(
        after * 100 <= before * 101,
        "the target grew from {before} kB to {after} kB"
    );
    let a = Archive::read(&out);
    let procs = lines(&a, "live_response/memory/processes.jsonl");
    assert_eq!(procs.len(), 1, "{procs:?}");
    let p = &procs[0];
    assert_eq!(p["pid"], pid);
    let member = p["core"].as_str().unwrap_or_else(|| panic!("no core: {p}"));
    assert_eq!(member, format!("live_response/memory/{pid}.core"));
    let record = a
        .manifest()
        .into_iter()
        .find(|m| m["path"] == member)
        .unwrap();
    assert_eq!(record["sha256"], p["sha256"]);
    assert_eq!(record["status"], "complete");
    assert!(p["stored_bytes"].as_u64().unwrap() > 0);

    let core = t.path().join("python.core");
    std::fs::write(&core, a.get(member).unwrap()).unwrap();
    let readelf = Command::new("readelf")
        .arg("-lW")
        .arg(&core)
        .output()
        .unwrap();
    let segments = String::from_utf8_lossy(&readelf.stdout);
    assert!(segments.contains("Elf file type is CORE"), "{segments}");
    assert!(
        segments.contains("NOTE") && segments.matches("LOAD").count() > 3,
        "{segments}"
    );
    let gdb = Command::new("gdb")
        .args(["-batch", "-nx", "-c"])
        .arg(&core)
        .args(["-ex", &format!("x/s {addr:#x}")])
        .args(["-ex", "p/x $pc", "-ex", "p/x $sp", "-ex", "info threads"])
        .output()
        .expect("gdb");
    let said = String::from_utf8_lossy(&gdb.stdout);
    assert!(
        said.contains(MARKER),
        "gdb did not find the marker at {addr:#x}: {said}\n{}",
        String::from_utf8_lossy(&gdb.stderr)
    );
    // The registers known without stopping the process: gdb starts the thread there.
    assert!(said.contains(&format!("= {pc}\n")), "pc {pc} not in {said}");
    assert!(said.contains(&format!("= {sp}\n")), "sp {sp} not in {said}");
    // `info threads`: one row per thread (`* 1    LWP 123 ...`).
    let rows = said
        .lines()
        .filter(|l| {
            let l = l.trim_start_matches(['*', ' ']);
            l.starts_with(|c: char| c.is_ascii_digit()) && l.contains(" LWP ")
        })
        .count();
    assert_eq!(rows, 2, "{said}");
    assert_eq!(p["threads"], 2, "{p}");
    assert_eq!(p["threads_with_registers"], 2, "{p}");

    let regions = lines(&a, "live_response/memory/regions.jsonl");
    let within = |r: &serde_json::Value| {
        let h = |k: &str| u64::from_str_radix(r[k].as_str().unwrap(), 16).unwrap();
        h("start") <= addr && addr < h("end")
    };
    let heap = regions.iter().find(|r| within(r)).unwrap();
    assert!(heap["stored_bytes"].as_u64().unwrap() > 0, "{heap}");
    // The 2^46-byte mapping: scanned within its bound, and said so.
    let huge = regions
        .iter()
        .find(|r| {
            let h = |k: &str| u64::from_str_radix(r[k].as_str().unwrap(), 16).unwrap();
            h("end") - h("start") == 1 << 46
        })
        .unwrap_or_else(|| panic!("no 2^46-byte mapping in {regions:?}"));
    assert!(
        huge["skipped"]
            .as_str()
            .unwrap_or_default()
            .contains("only the first"),
        "{huge}"
    );
    assert_eq!(huge["stored_bytes"], 4096, "the one page touched");
    // The deleted file and the memfd it holds open, copied through its descriptors.
    let held = p["held"]
        .as_array()
        .unwrap_or_else(|| panic!("nothing held: {p}"));
    for (target, payload) in [
        (" (deleted)", "DELETED-PAYLOAD-41"),
        ("/memfd:payload", "MEMFD-PAYLOAD-42"),
    ] {
        let h = held
            .iter()
            .find(|h| h["target"].as_str().unwrap().contains(target))
            .unwrap_or_else(|| panic!("{target} not in {held:?}"));
        let copy = h["copy"].as_str().unwrap();
        assert!(
            copy.starts_with(&format!("live_response/memory/fds/{pid}_")),
            "{copy}"
        );
        assert_eq!(a.get(copy).unwrap(), payload.as_bytes());
        assert!(
            h["fd"].as_i64().unwrap() > 2 && h["complete"] == true,
            "{h}"
        );
    }
    // Mappings that cannot be read are listed, and said why.
    assert!(regions
        .iter()
        .any(|r| r["skipped"] == "not readable" && r["perms"].as_str().unwrap().starts_with('-')));
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn without_ptrace_access_each_process_is_recorded_denied_with_what_would_allow_it() {
    let (mut child, _) = target();
    let pid = child.id();
    let t = TestDir::new("memory-denied");
    let out = t.path().join("denied.tar.zst");
    let o = collect_memory(pid, &out, true);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let a = Archive::read(&out);
    let procs = lines(&a, "live_response/memory/processes.jsonl");
    assert_eq!(procs.len(), 1, "{procs:?}");
    let why = procs[0]["why"].as_str().unwrap_or_default();
    assert!(
        why.contains("needs CAP_SYS_PTRACE: use --via ephemeral"),
        "{why}"
    );
    assert!(procs[0]["core"].is_null());
    assert!(a.summary()["counts"]["live_denied"].as_u64().unwrap() >= 1);
    assert!(a.log().iter().any(|l| l["message"]
        .as_str()
        .unwrap_or_default()
        .contains(&format!("memory of process {pid}"))));
    child.kill().unwrap();
    let _ = child.wait();
}

/// A process that maps, fills and unmaps memory as fast as it can while it is read:
/// mappings change and vanish between the layout and the read. The capture neither
/// hangs nor fails; what vanished is zeros, counted.
#[test]
fn memory_that_changes_and_vanishes_while_read_neither_hangs_nor_fails_the_collection() {
    let script = "import mmap, sys\n\
                  print('ready', flush=True)\n\
                  while True:\n\
                  \x20   ms = [mmap.mmap(-1, 1 << 20) for _ in range(16)]\n\
                  \x20   for m in ms: m.write(b'x' * (1 << 20))\n\
                  \x20   for m in ms: m.close()\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    let t = TestDir::new("memory-churn");
    let out = t.path().join("churn.tar.zst");
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let o = collect_memory(child.id(), &out, false);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(started.elapsed().as_secs() < 60);
        let a = Archive::read(&out);
        let procs = lines(&a, "live_response/memory/processes.jsonl");
        assert_eq!(procs.len(), 1, "{procs:?}");
        assert!(procs[0]["core"].is_string(), "{}", procs[0]);
        std::fs::remove_file(&out).unwrap();
    }
    child.kill().unwrap();
    let _ = child.wait();
}

/// `--yara`: the responder's rules run over each process's memory and executable, hits
/// in hits.jsonl with where; without --memory nothing is stored; a rule that does not
/// compile stops the collection before anything is read, naming its file and line.
#[test]
fn yara_rules_find_a_marker_in_memory_and_a_string_in_the_executable() {
    let (mut child, _) = target();
    let pid = child.id();
    let t = TestDir::new("memory-yara");
    let rules = t.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("ir.yar"),
        format!(
            "rule planted_marker : memory {{ meta: author = \"ir\" strings: $m = \"{MARKER}\" condition: $m }}\n\
             rule elf_at_start {{ strings: $e = {{ 7F 45 4C 46 }} condition: $e at 0 }}\n"
        ),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let mut c = env::command(bin());
        c.args(["collect", "--artifacts", "memory/*", "--memory-pids"])
            .arg(pid.to_string())
            .arg("--yara")
            .arg(&rules)
            .args(extra)
            .args(["--progress", "none", "--output", "-"]);
        c.output().unwrap()
    };
    let o = run(&[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = t.path().join("yara.tar.zst");
    std::fs::write(&out, &o.stdout).unwrap();
    let a = Archive::read(&out);
    let hits = lines(&a, "live_response/yara/hits.jsonl");
    let memory = hits
        .iter()
        .find(|h| h["rule"] == "planted_marker")
        .unwrap_or_else(|| panic!("no memory hit in {hits:?}"));
    assert_eq!(memory["scanned"], "memory");
    assert_eq!(memory["pid"], pid);
    assert_eq!(memory["namespace"], "ir");
    assert_eq!(memory["tags"], serde_json::json!(["memory"]));
    assert_eq!(memory["meta"]["author"], "ir");
    assert!(u64::from_str_radix(memory["address"].as_str().unwrap(), 16).is_ok());
    let exe = hits
        .iter()
        .find(|h| h["rule"] == "elf_at_start" && h["scanned"] == "executable")
        .unwrap_or_else(|| panic!("no executable hit in {hits:?}"));
    assert!(exe["path"].as_str().unwrap().contains("python"), "{exe}");
    assert_eq!(exe["sha256"].as_str().unwrap().len(), 64);
    // Scanned, not stored: no core without --memory.
    let procs = lines(&a, "live_response/memory/processes.jsonl");
    assert!(procs[0]["core"].is_null(), "{}", procs[0]);

    std::fs::write(
        rules.join("broken.yara"),
        "rule broken {\n  condition: nope\n}\n",
    )
    .unwrap();
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("broken.yara") && err.contains(":2:"), "{err}");
    assert!(o.stdout.is_empty(), "something was collected");
    child.kill().unwrap();
    let _ = child.wait();
}

/// `--memory-on-hit`: every selected process is scanned, and only the one a rule matched
/// is stored; the other is recorded as scanned, not stored, and costs no budget.
#[test]
fn memory_on_hit_stores_only_the_processes_a_rule_matched() {
    let (mut hit, _) = target();
    let mut clean = Command::new("sleep").arg("600").spawn().unwrap();
    let t = TestDir::new("memory-on-hit");
    let rules = t.path().join("ir.yar");
    std::fs::write(
        &rules,
        format!("rule planted_marker {{ strings: $m = \"{MARKER}\" condition: $m }}\n"),
    )
    .unwrap();
    let o = env::command(bin())
        .args(["collect", "--artifacts", "memory/*", "--memory-pids"])
        .arg(format!("{},{}", hit.id(), clean.id()))
        .arg("--yara")
        .arg(&rules)
        .args(["--memory-on-hit", "--progress", "none", "--output", "-"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = t.path().join("on-hit.tar.zst");
    std::fs::write(&out, &o.stdout).unwrap();
    let a = Archive::read(&out);
    let procs = lines(&a, "live_response/memory/processes.jsonl");
    let of = |pid: u32| {
        procs
            .iter()
            .find(|p| p["pid"] == pid)
            .unwrap_or_else(|| panic!("no {pid} in {procs:?}"))
    };
    let stored = of(hit.id());
    let core = stored["core"]
        .as_str()
        .unwrap_or_else(|| panic!("{stored}"));
    assert!(a.get(core).is_some_and(|c| c.starts_with(b"\x7fELF")));
    assert!(stored["stored_bytes"].as_u64().unwrap() > 0);
    let skipped = of(clean.id());
    assert!(skipped["core"].is_null(), "{skipped}");
    assert_eq!(skipped["stored_bytes"], 0);
    assert!(
        skipped["why"].as_str().unwrap().contains("--memory-on-hit"),
        "{skipped}"
    );
    let regions = lines(&a, "live_response/memory/regions.jsonl");
    let of_clean: Vec<_> = regions.iter().filter(|r| r["pid"] == clean.id()).collect();
    assert!(!of_clean.is_empty());
    assert!(
        of_clean.iter().all(|r| r["stored_bytes"] == 0),
        "{of_clean:?}"
    );
    assert!(of_clean
        .iter()
        .any(|r| r["resident_bytes"].as_u64() > Some(0)));
    // Without --yara there is nothing to decide by: refused.
    let o = env::command(bin())
        .args(["collect", "--memory-on-hit", "--output", "-"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--yara"));
    for c in [&mut hit, &mut clean] {
        c.kill().unwrap();
        let _ = c.wait();
    }
}

/// `--yara` also scans the files a collection stores, as they stream (no second read):
/// a hit names the file and the sha256 the manifest gives it.
#[test]
fn yara_rules_scan_collected_files_as_they_stream() {
    let t = TestDir::new("yara-files");
    let root = t.path().join("root");
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    std::fs::write(
        root.join("tmp/dropper.sh"),
        "#!/bin/sh\n# EVIL-FILE-MARKER-93\n",
    )
    .unwrap();
    std::fs::write(root.join("tmp/clean.txt"), "nothing to see\n").unwrap();
    let rules = t.path().join("files.yar");
    std::fs::write(
        &rules,
        "rule dropper { strings: $m = \"EVIL-FILE-MARKER-93\" condition: $m }\n",
    )
    .unwrap();
    let spec = spec_all(t.base(), "/tmp");
    let out = t.path().join("files.tar.zst");
    let o = run(&[
        "collect",
        "--root",
        root.to_str().unwrap(),
        "--artifacts",
        &spec,
        "--yara",
        rules.to_str().unwrap(),
        "--progress",
        "none",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let a = Archive::read(&out);
    let hits = lines(&a, "live_response/yara/hits.jsonl");
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["scanned"], "file");
    assert_eq!(hits[0]["path"], "/tmp/dropper.sh");
    let record = a.record("/tmp/dropper.sh");
    assert_eq!(hits[0]["sha256"], record["sha256"]);
}
