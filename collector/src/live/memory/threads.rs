//! What a process's threads were doing when its memory was read, without stopping them
//! (ptrace would): `/proc/PID/task/TID/syscall` gives, for a thread blocked in the
//! kernel, its stack pointer and program counter, and inside a system call its number
//! and six arguments, which the ABI keeps in named registers. Those go into the core's
//! `NT_PRSTATUS` notes, one per thread, so `gdb -c` starts each thread at the right
//! place and can unwind its stack from there. A running thread, or one whose file
//! cannot be read, keeps zero registers. Reading it needs the same ptrace access as
//! the memory.

use super::core::ThreadRegs;
use crate::source::procfs::ProcDir;

/// The most threads of one process given notes (each about 350 bytes).
pub const MAX_THREADS: usize = 4096;

/// The threads of the process `dir`, its main thread first, at most [`MAX_THREADS`];
/// each with what its `syscall` file gave.
pub fn read(dir: &ProcDir) -> Vec<ThreadRegs> {
    let mut tids = dir.tasks().unwrap_or_default();
    tids.sort_by_key(|&t| (t != dir.pid, t));
    if tids.first() != Some(&dir.pid) {
        tids.insert(0, dir.pid);
    }
    tids.truncate(MAX_THREADS);
    tids.into_iter()
        .map(|tid| {
            let text = dir
                .read(&format!("task/{tid}/syscall"), 512)
                .unwrap_or_default();
            parse(tid, &String::from_utf8_lossy(&text))
        })
        .collect()
}

/// One `syscall` file: `running`; `-1 SP PC` (blocked, not in a system call); or
/// `NR A1 A2 A3 A4 A5 A6 SP PC` (numbers in hex but NR). Anything else gives nothing.
pub fn parse(tid: i32, text: &str) -> ThreadRegs {
    let mut r = ThreadRegs {
        tid,
        ..ThreadRegs::default()
    };
    let f: Vec<&str> = text.split_whitespace().collect();
    let hex = |s: &str| u64::from_str_radix(s.strip_prefix("0x")?, 16).ok();
    let (sp, pc) = match f.as_slice() {
        ["-1", sp, pc] => (hex(sp), hex(pc)),
        [nr, a1, a2, a3, a4, a5, a6, sp, pc] => {
            let args = [a1, a2, a3, a4, a5, a6].map(|a| hex(a));
            if let (Ok(nr), None) = (nr.parse::<u64>(), args.iter().position(Option::is_none)) {
                r.syscall = Some((nr, args.map(|a| a.unwrap_or(0))));
            }
            (hex(sp), hex(pc))
        }
        _ => (None, None),
    };
    if let (Some(sp), Some(pc)) = (sp, pc) {
        r.sp_pc = Some((sp, pc));
    } else {
        r.syscall = None;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_files_give_registers_and_anything_else_none() {
        let r = parse(
            7,
            "230 0x0 0x0 0x7ffd2c 0x7ffd30 0x0 0x0 0x7ffd28 0x7f12ab\n",
        );
        assert_eq!(r.tid, 7);
        assert_eq!(r.sp_pc, Some((0x7ffd28, 0x7f12ab)));
        assert_eq!(r.syscall, Some((230, [0, 0, 0x7ffd2c, 0x7ffd30, 0, 0])));
        let r = parse(8, "-1 0x10 0x20");
        assert_eq!((r.sp_pc, r.syscall), (Some((0x10, 0x20)), None));
        for bad in [
            "running",
            "",
            "230 0x1 0x2",
            "-1 0x10 zz",
            "x 0 0 0 0 0 0 0x1 0x2",
        ] {
            let r = parse(9, bad);
            assert!(r.sp_pc.is_none() || r.syscall.is_none(), "{bad}");
        }
        assert_eq!(parse(9, "-1 0x10 zz").sp_pc, None);
        assert_eq!(parse(9, "x 0x0 0x0 0x0 0x0 0x0 0x0 0x1 0x2").syscall, None);
    }
}
