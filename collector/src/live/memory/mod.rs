//! Process memory (the `memory/processes` artifact, opt-in: `--memory`): for each
//! process of the target but cairn's own, every readable mapping's resident pages
//! ([`resident`]), read from `/proc/PID/mem` straight into an ELF core file in the
//! archive ([`core`]; `gdb -c`, `readelf -l`), plus what became of each mapping
//! (`regions.jsonl`) and of each process (`processes.jsonl`).
//!
//! Nothing is faulted in: pages that are not resident are not read. Mappings that are
//! not readable, kernel pages (`[vvar]`, `[vsyscall]`) and device mappings are skipped
//! and said so. Caps per process and in total, the collection's deadline and a bounded
//! scan per mapping end a capture early, each cut recorded. Reading another process's
//! memory needs ptrace access: as root with CAP_SYS_PTRACE (the ephemeral and sidecar
//! routes), or the same user where the kernel allows it; each refusal is recorded with
//! what would allow it.

pub mod core;
pub mod held;
pub mod resident;
pub mod scan;
pub mod threads;
pub mod yara;

use super::parse::process::{maps_line, Mapping};
use super::processes::{Proc, Scan};
use super::{push_line, Emit, Run};
use crate::source::procfs::{ProcDir, ProcFs};
use cairn_archive::member::live::{MEMORY, MEMORY_PROCESSES, MEMORY_REGIONS};
use cairn_archive::records::memory::{MemoryProcess, MemoryRegion};
use cairn_archive::text::escape;
use cairn_protocol::{Level, LogEvent};

/// What a memory capture may take.
#[derive(Debug, Clone)]
pub struct MemoryOptions {
    /// The most bytes stored of one process.
    pub max_process: u64,
    /// The most bytes stored of all processes.
    pub max_total: u64,
    /// Only these PIDs (as the collector's procfs numbers them); empty: every process.
    pub pids: Vec<i32>,
    /// Write each process's core and copy its held files (`--memory`); without it only
    /// the YARA rules run.
    pub dump: bool,
    /// Only of the processes a YARA rule matched (`--memory-on-hit`).
    pub on_hit: bool,
    /// The responder's rules (`--yara`), run over memory and executables.
    pub yara: Option<std::sync::Arc<yara::Rules>>,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        MemoryOptions {
            max_process: 1 << 30,
            max_total: 4 << 30,
            pids: Vec::new(),
            dump: true,
            on_hit: false,
            yara: None,
        }
    }
}

/// Pages of one mapping scanned at most for residency (64 GiB of address space with
/// 4 KiB pages): beyond, the mapping is recorded as not scanned.
const SCAN_PAGES: u64 = 1 << 24;

/// The sentence for a process whose memory was refused.
pub const NEEDS_PTRACE: &str =
    "needs CAP_SYS_PTRACE: use --via ephemeral (or run as the process's user where ptrace is allowed)";

/// What was stored so far, for the caps.
struct Budget {
    total: u64,
    max_total: u64,
    max_process: u64,
}

/// What the captures of one collection share.
struct Shared {
    page: u64,
    budget: Budget,
    /// Held files copied already, by (device, inode).
    held: std::collections::HashMap<(u64, u64), cairn_archive::records::memory::HeldFile>,
    /// `regions.jsonl` so far.
    regions: Vec<u8>,
    dump: bool,
    on_hit: bool,
    yara: Option<std::sync::Arc<yara::Rules>>,
    /// `hits.jsonl` so far, and the executables scanned already by (device, inode).
    hits: Vec<u8>,
    exes: std::collections::HashSet<(u64, u64)>,
}

pub fn native(run: &mut Run<'_>) {
    let artifact = run.artifact;
    let opts = run.options.memory.clone();
    let Some(proc) = run.proc else { return };
    let Some((scan, emit)) = run.scan() else {
        return;
    };
    let mut shared = Shared {
        page: rustix::param::page_size() as u64,
        budget: Budget {
            total: 0,
            max_total: opts.max_total,
            max_process: opts.max_process,
        },
        held: Default::default(),
        regions: Vec::new(),
        dump: opts.dump,
        on_hit: opts.on_hit && opts.yara.is_some(),
        yara: opts.yara.clone(),
        hits: Vec::new(),
        exes: Default::default(),
    };
    let skip = ours(proc, scan);
    let mut processes = Vec::new();
    for p in &scan.procs {
        if skip.contains(&p.pid) || (!opts.pids.is_empty() && !opts.pids.contains(&p.pid)) {
            continue;
        }
        if emit.expired() {
            break;
        }
        let rec = capture(proc, p, &mut shared, &mut *emit, artifact);
        push_line(&mut processes, &rec);
    }
    emit.output(artifact, MEMORY_PROCESSES, &processes);
    emit.output(artifact, MEMORY_REGIONS, &shared.regions);
    emit.yara_hits(&shared.hits);
}

/// cairn's own processes: the collector, its bootstrap, and any process running the
/// collector's executable (an ephemeral container's idle collector).
fn ours(proc: &ProcFs, scan: &Scan) -> std::collections::BTreeSet<i32> {
    let mut own = super::processes::own(&scan.procs, super::processes::self_pid(scan));
    if let Ok(me) = proc.identity("self/exe") {
        for p in &scan.procs {
            if proc
                .process(p.pid)
                .and_then(|d| d.identity("exe"))
                .is_ok_and(|e| e == me)
            {
                own.insert(p.pid);
            }
        }
    }
    own
}

/// Captures one process; returns its record.
fn capture(
    proc: &ProcFs,
    p: &Proc,
    shared: &mut Shared,
    emit: &mut dyn Emit,
    artifact: &str,
) -> MemoryProcess {
    let page = shared.page;
    let mut rec = MemoryProcess {
        pid: p.pid,
        comm: escape(p.comm.as_bytes()),
        ..MemoryProcess::default()
    };
    let opened = proc.process(p.pid).and_then(|d| {
        let mem = d.open("mem")?;
        let pagemap = d.open("pagemap")?;
        Ok((d, mem, pagemap))
    });
    let (dir, mem, pagemap) = match opened {
        Ok(x) => x,
        Err(e) => {
            refusal(&e, &mut rec, emit, artifact);
            return rec;
        }
    };
    let budget_before = shared.budget.total;
    let mut plan = plan(&dir, p.pid, &pagemap, page, &mut shared.budget, &mut rec);
    let hits_before = shared.hits.len();
    if let Some(rules) = shared.yara.clone() {
        let cut = scan::memory(&rules, p, &mem, &plan.resident, page, &mut shared.hits);
        if cut > 0 {
            emit.log(
                Level::Warn,
                LogEvent::Truncated,
                artifact,
                None,
                format!("YARA over process {}: {cut} window(s) of its memory were cut by the 10 s bound or could not be read; a rule may have missed them", p.pid),
            );
        }
        scan::executable(&rules, p, &dir, &mut shared.exes, &mut shared.hits);
    }
    if shared.on_hit && shared.hits.len() == hits_before {
        shared.budget.total = budget_before;
        not_hit(&mut plan, &mut rec);
    }
    for r in &plan.regions {
        push_line(&mut shared.regions, r);
    }
    if !shared.dump || rec.why.as_deref() == Some(NOT_HIT) {
        return rec;
    }
    let (held, unread) = held::copy(&dir, p.pid, &mut shared.held, emit, artifact);
    rec.held = held;
    if unread > 0 {
        emit.log(
            Level::Warn,
            LogEvent::Unreadable,
            artifact,
            None,
            format!(
                "process {}: {unread} deleted or memfd file(s) it holds could not be copied",
                p.pid
            ),
        );
    }
    if plan.segments.is_empty() {
        rec.why
            .get_or_insert_with(|| "no resident readable memory".into());
        return rec;
    }
    plan.threads = threads::read(&dir);
    rec.threads = plan.threads.len() as u64;
    rec.threads_with_registers = plan.threads.iter().filter(|t| t.sp_pc.is_some()).count() as u64;
    write_core(p, &plan, &mem, page, &mut rec, emit, artifact);
    rec
}

/// Why a process's memory was scanned and not stored under `--memory-on-hit`.
pub const NOT_HIT: &str = "no YARA rule matched it (--memory-on-hit): scanned, not stored";

/// Undoes what `plan` chose to store of a process no rule matched.
fn not_hit(plan: &mut Plan, rec: &mut MemoryProcess) {
    plan.segments.clear();
    for r in &mut plan.regions {
        if r.stored_bytes > 0 {
            r.skipped.get_or_insert_with(|| NOT_HIT.to_owned());
        }
        r.stored_bytes = 0;
        r.segments = 0;
    }
    rec.stored_bytes = 0;
    rec.regions_stored = 0;
    rec.why = Some(NOT_HIT.to_owned());
}

/// Records and logs why a process's memory could not be opened.
fn refusal(e: &std::io::Error, rec: &mut MemoryProcess, emit: &mut dyn Emit, artifact: &str) {
    rec.why = Some(refused(e));
    let (level, event) = if denied(e) {
        emit.count_denied(1);
        (Level::Warn, LogEvent::Denied)
    } else {
        (Level::Info, LogEvent::Unreadable)
    };
    emit.log(
        level,
        event,
        artifact,
        None,
        format!(
            "memory of process {} ({}): {}",
            rec.pid,
            rec.comm,
            rec.why.as_deref().unwrap_or_default()
        ),
    );
}

/// Streams `p`'s core file into the archive.
fn write_core(
    p: &Proc,
    plan: &Plan,
    mem: &std::fs::File,
    page: u64,
    rec: &mut MemoryProcess,
    emit: &mut dyn Emit,
    artifact: &str,
) {
    let info = core::Info {
        pid: p.pid,
        ppid: p.ppid,
        uid: p.uid.unwrap_or(0),
        gid: 0,
        fname: p.comm.as_bytes().to_vec(),
        psargs: p.cmdline.as_bytes().to_vec(),
        threads: plan.threads.clone(),
    };
    let layout = core::layout(&info, &plan.files, &plan.segments, page);
    let member = format!("{MEMORY}{}.core", p.pid);
    let mut reader = core::CoreReader::new(layout.head, &plan.segments, mem, page);
    match emit.output_stream(artifact, &member, layout.total, &mut reader) {
        Ok(c) => {
            rec.core = Some(c.archive_path);
            rec.sha256 = Some(c.sha256);
        }
        Err(e) => rec.why = Some(format!("writing the core: {e}")),
    }
    rec.vanished_bytes = reader.vanished;
}

/// EPERM or EACCES.
fn denied(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(1 | 13))
}

fn refused(e: &std::io::Error) -> String {
    if denied(e) {
        format!(
            "{} ({NEEDS_PTRACE})",
            super::errno_name(e.raw_os_error().unwrap_or(0))
        )
    } else {
        format!("the process could not be read: {e}")
    }
}

/// What one process's core will hold.
struct Plan {
    segments: Vec<core::Segment>,
    /// Every resident run of a readable mapping (address, length, the mapping's
    /// start), stored or not: what the YARA rules scan.
    resident: Vec<(u64, u64, u64)>,
    files: Vec<core::FileMap>,
    regions: Vec<MemoryRegion>,
    /// Its threads' registers, as far as they are known without stopping them.
    threads: Vec<core::ThreadRegs>,
}

fn plan(
    dir: &ProcDir,
    pid: i32,
    pagemap: &std::fs::File,
    page: u64,
    budget: &mut Budget,
    rec: &mut MemoryProcess,
) -> Plan {
    let maps = dir.read("maps", 64 << 20).unwrap_or_default();
    let rss = resident::rss_by_start(&dir.read("smaps", 256 << 20).unwrap_or_default());
    let mut out = Plan {
        segments: Vec::new(),
        resident: Vec::new(),
        files: Vec::new(),
        regions: Vec::new(),
        threads: Vec::new(),
    };
    for line in maps.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let m = maps_line(line);
        let (Ok(start), Ok(end)) = (
            u64::from_str_radix(&m.start, 16),
            u64::from_str_radix(&m.end, 16),
        ) else {
            continue;
        };
        let mut r = region(pid, &m);
        if let Some(path) = m
            .path
            .as_ref()
            .filter(|p| p.starts_with(b"/") && m.inode != 0)
        {
            out.files.push(core::FileMap {
                start,
                end,
                page_offset: u64::from_str_radix(&m.offset, 16).unwrap_or(0) / page,
                name: path.clone(),
            });
        }
        if let Some(why) = unreadable(&m) {
            r.skipped = Some(why.into());
        } else if rss.get(&start) == Some(&0) {
            r.skipped = Some("not resident".into());
        } else {
            rec.regions += 1;
            take(
                &mut out,
                &mut r,
                (start, end),
                &m,
                pagemap,
                page,
                budget,
                rec,
            );
        }
        out.regions.push(r);
    }
    out
}

/// The resident runs of one readable mapping, within the caps.
#[allow(clippy::too_many_arguments)]
fn take(
    out: &mut Plan,
    r: &mut MemoryRegion,
    (start, end): (u64, u64),
    m: &Mapping,
    pagemap: &std::fs::File,
    page: u64,
    budget: &mut Budget,
    rec: &mut MemoryProcess,
) {
    let (runs, whole) = match resident::runs(pagemap, start, end, page, SCAN_PAGES) {
        Ok(x) => x,
        Err(e) => {
            r.skipped = Some(format!("pagemap unreadable: {e}"));
            return;
        }
    };
    if !whole {
        r.skipped = Some(format!(
            "only the first {} GiB of address space were scanned for resident pages",
            (SCAN_PAGES * page) >> 30
        ));
    }
    let flags = perms_flags(&m.perms);
    for (addr, len) in runs {
        out.resident.push((addr, len, start));
        r.resident_bytes += len;
        rec.resident_bytes += len;
        let room = (budget.max_process - rec.stored_bytes.min(budget.max_process))
            .min(budget.max_total - budget.total.min(budget.max_total));
        let keep = len.min(room);
        if keep < len {
            r.skipped =
                Some("a cap (--memory-max-process or --memory-max-total) was reached".into());
        }
        if keep == 0 {
            continue;
        }
        if out.segments.len() >= core::MAX_SEGMENTS {
            r.skipped = Some(format!(
                "the core holds at most {} segments",
                core::MAX_SEGMENTS
            ));
            break;
        }
        out.segments.push(core::Segment {
            vaddr: addr,
            len: keep,
            flags,
        });
        r.stored_bytes += keep;
        r.segments += 1;
        rec.stored_bytes += keep;
        budget.total += keep;
    }
    if r.stored_bytes > 0 {
        rec.regions_stored += 1;
    }
    if rec.why.is_none() {
        if let Some(s) = r.skipped.as_ref().filter(|s| s.contains("cap")) {
            rec.why = Some(s.clone());
        }
    }
}

fn region(pid: i32, m: &Mapping) -> MemoryRegion {
    MemoryRegion {
        map: m.record(pid),
        ..MemoryRegion::default()
    }
}

/// Why a mapping is not read at all, if it is not.
fn unreadable(m: &Mapping) -> Option<&'static str> {
    let path = m.path.as_deref().unwrap_or_default();
    if !m.perms.starts_with('r') {
        Some("not readable")
    } else if path.starts_with(b"[vvar") || path == b"[vsyscall]" {
        Some("a kernel page (reading it fails or has side effects)")
    } else if path.starts_with(b"/dev/") && m.dev != "00:00" && !path.starts_with(b"/dev/shm/") {
        Some("a device mapping (reading it may have side effects)")
    } else {
        None
    }
}

fn perms_flags(perms: &str) -> u32 {
    let b = perms.as_bytes();
    let on = |i: usize, c: u8| b.get(i) == Some(&c);
    (u32::from(on(0, b'r')) << 2) | (u32::from(on(1, b'w')) << 1) | u32::from(on(2, b'x'))
}
