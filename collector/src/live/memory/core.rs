//! An ELF core file of a process's memory, laid out as `gcore` writes one so that gdb,
//! readelf and memory-forensics tools open it: an ELF64 header of type `ET_CORE` for
//! the machine the collector runs on, a `PT_NOTE` segment (`NT_PRSTATUS` naming the
//! process, `NT_PRPSINFO` its command, `NT_FILE` the file behind each mapping), then one
//! `PT_LOAD` segment per run of resident pages, its bytes read from `/proc/PID/mem` as
//! the archive entry is written ([`CoreReader`]).
//!
//! Written by hand: it is a handful of fixed little-endian structures, and no
//! maintained crate writes core files (`object` writes relocatable objects and
//! executables). One `NT_PRSTATUS` per thread holds what can be known without stopping
//! it ([`super::threads`]): for a thread blocked in the kernel its stack pointer,
//! program counter and system call arguments; the other registers are zero (reading
//! them needs ptrace, which stops the process).

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

/// The most `PT_LOAD` segments one core holds (ELF's `e_phnum` is 16 bits, and the
/// note takes one).
pub const MAX_SEGMENTS: usize = 65_000;

const EHDR: usize = 64;
const PHDR: usize = 56;
const NT_PRSTATUS: u32 = 1;
const NT_PRPSINFO: u32 = 3;
const NT_FILE: u32 = 0x4649_4c45;

/// One `PT_LOAD`: `len` bytes of memory at `vaddr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub len: u64,
    /// `PF_R` 4, `PF_W` 2, `PF_X` 1.
    pub flags: u32,
}

/// A file-backed mapping, for `NT_FILE`.
#[derive(Debug, Clone)]
pub struct FileMap {
    pub start: u64,
    pub end: u64,
    /// The file offset in pages.
    pub page_offset: u64,
    pub name: Vec<u8>,
}

/// What is known of one thread's registers without stopping it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadRegs {
    pub tid: i32,
    /// Stack pointer and program counter (blocked in the kernel).
    pub sp_pc: Option<(u64, u64)>,
    /// The system call it is in: its number and six arguments.
    pub syscall: Option<(u64, [u64; 6])>,
}

/// Which process the memory is of.
#[derive(Debug, Clone, Default)]
pub struct Info {
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    pub gid: u32,
    /// `comm`, at most 15 bytes kept.
    pub fname: Vec<u8>,
    /// The command line, spaces between arguments, at most 79 bytes kept.
    pub psargs: Vec<u8>,
    /// Its threads, the main one first (none: one note with zero registers).
    pub threads: Vec<ThreadRegs>,
}

/// The core's head (ELF header, program headers, notes) and its whole size.
pub struct Layout {
    pub head: Vec<u8>,
    pub total: u64,
}

/// ELF's machine number of the collector's own architecture (that of the processes it
/// reads: a node runs one).
fn machine() -> (u16, usize) {
    // (e_machine, the size of elf_gregset_t)
    if cfg!(target_arch = "aarch64") {
        (183, 34 * 8)
    } else {
        (62, 27 * 8)
    }
}

/// Where the registers go in `elf_gregset_t`, by index: the six system call arguments,
/// the call's number, the stack pointer, the program counter, and fixed ones (index,
/// value).
struct GregIndex {
    args: [usize; 6],
    nr: usize,
    sp: usize,
    pc: usize,
    fixed: &'static [(usize, u64)],
}

fn greg_index() -> GregIndex {
    if cfg!(target_arch = "aarch64") {
        // x0..x30, sp, pc, pstate; the call's number in x8.
        GregIndex {
            args: [0, 1, 2, 3, 4, 5],
            nr: 8,
            sp: 31,
            pc: 32,
            fixed: &[],
        }
    } else {
        // user_regs_struct: rdi 14, rsi 13, rdx 12, r10 7, r8 9, r9 8, orig_rax 15,
        // rip 16, cs 17, rsp 19, ss 20 (cs and ss: the 64-bit user segments).
        GregIndex {
            args: [14, 13, 12, 7, 9, 8],
            nr: 15,
            sp: 19,
            pc: 16,
            fixed: &[(17, 0x33), (20, 0x2b)],
        }
    }
}

/// The head of the core for `segments` (at most [`MAX_SEGMENTS`]).
pub fn layout(info: &Info, files: &[FileMap], segments: &[Segment], page: u64) -> Layout {
    let notes = notes(info, files, page);
    let phnum = 1 + segments.len();
    let notes_at = EHDR + PHDR * phnum;
    let data_at = align(notes_at as u64 + notes.len() as u64, page);
    let mut h = Vec::with_capacity(data_at as usize);
    elf_header(&mut h, phnum as u16);
    // PT_NOTE
    phdr(&mut h, 4, 0, notes_at as u64, 0, notes.len() as u64, 0, 1);
    let mut at = data_at;
    for s in segments {
        phdr(&mut h, 1, s.flags, at, s.vaddr, s.len, s.len, page);
        at += s.len;
    }
    h.extend_from_slice(&notes);
    h.resize(data_at as usize, 0);
    Layout { head: h, total: at }
}

fn align(n: u64, to: u64) -> u64 {
    n.div_ceil(to) * to
}

fn elf_header(h: &mut Vec<u8>, phnum: u16) {
    let (machine, _) = machine();
    h.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&4u16.to_le_bytes()); // ET_CORE
    h.extend_from_slice(&machine.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
    h.extend_from_slice(&0u64.to_le_bytes()); // e_entry
    h.extend_from_slice(&(EHDR as u64).to_le_bytes()); // e_phoff
    h.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    h.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    h.extend_from_slice(&(EHDR as u16).to_le_bytes());
    h.extend_from_slice(&(PHDR as u16).to_le_bytes());
    h.extend_from_slice(&phnum.to_le_bytes());
    h.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
    h.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
    h.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
}

#[allow(clippy::too_many_arguments)]
fn phdr(
    h: &mut Vec<u8>,
    kind: u32,
    flags: u32,
    off: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
) {
    h.extend_from_slice(&kind.to_le_bytes());
    h.extend_from_slice(&flags.to_le_bytes());
    for v in [off, vaddr, 0, filesz, memsz, align] {
        h.extend_from_slice(&v.to_le_bytes());
    }
}

/// One note: name `CORE`, its type and its description, each padded to 4 bytes.
fn note(out: &mut Vec<u8>, kind: u32, desc: &[u8]) {
    out.extend_from_slice(&5u32.to_le_bytes());
    out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(b"CORE\0\0\0\0");
    out.extend_from_slice(desc);
    out.resize(align(out.len() as u64, 4) as usize, 0);
}

fn notes(info: &Info, files: &[FileMap], page: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let main = [ThreadRegs {
        tid: info.pid,
        ..ThreadRegs::default()
    }];
    let threads = if info.threads.is_empty() {
        &main[..]
    } else {
        &info.threads[..]
    };
    // gdb takes the first thread's note for the process, and its PRPSINFO after it.
    note(&mut out, NT_PRSTATUS, &prstatus(info, &threads[0]));
    note(&mut out, NT_PRPSINFO, &prpsinfo(info));
    for t in &threads[1..] {
        note(&mut out, NT_PRSTATUS, &prstatus(info, t));
    }
    let mut d = Vec::new();
    d.extend_from_slice(&(files.len() as u64).to_le_bytes());
    d.extend_from_slice(&page.to_le_bytes());
    for f in files {
        for v in [f.start, f.end, f.page_offset] {
            d.extend_from_slice(&v.to_le_bytes());
        }
    }
    for f in files {
        d.extend(f.name.iter().copied().filter(|&b| b != 0));
        d.push(0);
    }
    note(&mut out, NT_FILE, &d);
    out
}

/// `struct elf_prstatus` of one thread: its ID, the process's, and the registers known.
fn prstatus(info: &Info, t: &ThreadRegs) -> Vec<u8> {
    let (_, gregs) = machine();
    let mut d = vec![0u8; align(112 + gregs as u64 + 4, 8) as usize];
    for (at, v) in [(32, t.tid), (36, info.ppid), (40, info.pid), (44, info.pid)] {
        d[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    let g = greg_index();
    let mut set = |i: usize, v: u64| d[112 + i * 8..120 + i * 8].copy_from_slice(&v.to_le_bytes());
    if let Some((sp, pc)) = t.sp_pc {
        set(g.sp, sp);
        set(g.pc, pc);
        for &(i, v) in g.fixed {
            set(i, v);
        }
    }
    if let Some((nr, args)) = t.syscall {
        set(g.nr, nr);
        for (i, a) in g.args.iter().zip(args) {
            set(*i, a);
        }
    }
    d
}

/// `struct elf_prpsinfo`: state, IDs, command name and arguments.
fn prpsinfo(info: &Info) -> Vec<u8> {
    let mut d = vec![0u8; 136];
    d[1] = b'R';
    d[16..20].copy_from_slice(&info.uid.to_le_bytes());
    d[20..24].copy_from_slice(&info.gid.to_le_bytes());
    for (at, v) in [
        (24, info.pid),
        (28, info.ppid),
        (32, info.pid),
        (36, info.pid),
    ] {
        d[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    let fname = &info.fname[..info.fname.len().min(15)];
    d[40..40 + fname.len()].copy_from_slice(fname);
    let args = &info.psargs[..info.psargs.len().min(79)];
    d[56..56 + args.len()].copy_from_slice(args);
    d
}

/// The core's bytes: the head, then each segment read from `/proc/PID/mem`. A page that
/// cannot be read when its turn comes (the mapping changed or went away since the
/// layout was taken) is written as zeros and counted in `vanished`; nothing else
/// changes, so the archive entry keeps the size its header announced.
pub struct CoreReader<'a> {
    head: Vec<u8>,
    at_head: usize,
    segments: &'a [Segment],
    seg: usize,
    done: u64,
    mem: &'a File,
    page: u64,
    /// Zero-filling up to this address of the current segment.
    zero_until: u64,
    pub vanished: u64,
}

impl<'a> CoreReader<'a> {
    pub fn new(head: Vec<u8>, segments: &'a [Segment], mem: &'a File, page: u64) -> Self {
        CoreReader {
            head,
            at_head: 0,
            segments,
            seg: 0,
            done: 0,
            mem,
            page,
            zero_until: 0,
            vanished: 0,
        }
    }
}

impl Read for CoreReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at_head < self.head.len() {
            let n = (self.head.len() - self.at_head).min(buf.len());
            buf[..n].copy_from_slice(&self.head[self.at_head..self.at_head + n]);
            self.at_head += n;
            return Ok(n);
        }
        let Some(s) = self.segments.get(self.seg).copied() else {
            return Ok(0);
        };
        let addr = s.vaddr + self.done;
        let left = s.len - self.done;
        let want = left.min(buf.len() as u64) as usize;
        let n = if addr < self.zero_until {
            let n = want.min((self.zero_until - addr) as usize);
            buf[..n].fill(0);
            self.vanished += n as u64;
            n
        } else {
            match self.mem.read_at(&mut buf[..want], addr) {
                Ok(n) if n > 0 => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return self.read(buf),
                // This page is gone: zeros to the next page, then try again.
                _ => {
                    self.zero_until = (addr / self.page + 1) * self.page;
                    return self.read(buf);
                }
            }
        };
        self.done += n as u64;
        if self.done == s.len {
            self.seg += 1;
            self.done = 0;
            self.zero_until = 0;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_announces_each_segment_at_its_offset_after_page_aligned_notes() {
        let segs = [
            Segment {
                vaddr: 0x1000,
                len: 0x2000,
                flags: 6,
            },
            Segment {
                vaddr: 0x8000,
                len: 0x1000,
                flags: 5,
            },
        ];
        let files = [FileMap {
            start: 0x8000,
            end: 0x9000,
            page_offset: 2,
            name: b"/bin/x".to_vec(),
        }];
        let info = Info {
            pid: 42,
            fname: b"a-very-long-command-name".to_vec(),
            ..Info::default()
        };
        let l = layout(&info, &files, &segs, 4096);
        assert_eq!(&l.head[..4], b"\x7fELF");
        assert_eq!(u16::from_le_bytes([l.head[16], l.head[17]]), 4, "ET_CORE");
        assert_eq!(u16::from_le_bytes([l.head[56], l.head[57]]), 3, "e_phnum");
        assert_eq!(l.head.len() % 4096, 0);
        let load = |i: usize| {
            let p = &l.head[EHDR + PHDR * i..EHDR + PHDR * (i + 1)];
            let u = |o: usize| u64::from_le_bytes(p[o..o + 8].try_into().unwrap());
            (
                u32::from_le_bytes(p[..4].try_into().unwrap()),
                u(8),
                u(16),
                u(32),
            )
        };
        assert_eq!(load(1), (1, l.head.len() as u64, 0x1000, 0x2000));
        assert_eq!(load(2), (1, l.head.len() as u64 + 0x2000, 0x8000, 0x1000));
        assert_eq!(l.total, l.head.len() as u64 + 0x3000);
        // The command name is cut to what prpsinfo holds, the file named in NT_FILE.
        let text = String::from_utf8_lossy(&l.head);
        assert!(text.contains("a-very-long-com\0"));
        assert!(text.contains("/bin/x\0"));
    }
}
