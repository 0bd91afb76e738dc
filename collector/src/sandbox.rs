//! The collector's own confinement where it reads what is not its own container: a
//! node's disk (`--node-root`) or another container through procfs (`--target-pid`).
//! Applied after the arguments are parsed and the output is opened, before anything of
//! the target is read, and inherited by every thread started afterwards:
//! - Landlock, on a node's disk: reads only beneath the runtimes' state directories and
//!   the node's `/var/log` under the node root, procfs, its own binary and the
//!   resolver's files; writes only in the directories of `--output` and
//!   `--fallback-output`. Best effort: a kernel without Landlock (before 5.13, or not
//!   enabled) runs unconfined, and the log says so. Not for another container: a
//!   Landlock domain may not ptrace-access processes outside it, and the live response
//!   needs that access for `/proc/PID/exe`, `cwd`, `root`, `maps` and `environ`.
//! - seccomp: the calls a reader never needs are refused with EPERM, first of all
//!   `open_by_handle_at` and `name_to_handle_at` (with CAP_DAC_READ_SEARCH they open any
//!   file of the filesystem by its handle, past every mount and path check), then
//!   mounting, namespaces, tracing, writing another process's memory, module and
//!   kexec loading, BPF, io_uring (whose operations pass by seccomp) and the keyring.
//!
//! What applied is returned as one line for the collection log. The crates `landlock`
//! and `seccompiler` do the work; the lists are this module's.

use landlock::{
    path_beneath_rules, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
    ABI,
};
use seccompiler::{SeccompAction, SeccompFilter, TargetArch};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The newest Landlock ABI this code asks for; older kernels get what they have.
const LANDLOCK_ABI: ABI = ABI::V5;

/// What the confined collector may still reach.
#[derive(Debug, Default, Clone)]
pub struct Allowed {
    /// Read (and list, and execute) beneath these; missing ones are left out.
    pub read: Vec<PathBuf>,
    /// Create and write beneath these (the directories of `--output` and
    /// `--fallback-output`).
    pub write: Vec<PathBuf>,
    /// Why file access is not confined here, when it is not.
    pub no_landlock: Option<&'static str>,
}

impl Allowed {
    /// For a node's disk at `node_root`: the runtimes' state directories and the node's
    /// logs, nothing else of the node.
    pub fn node(node_root: &Path) -> Allowed {
        let under = |p: &str| node_root.join(p.trim_start_matches('/'));
        let mut read: Vec<PathBuf> = cairn_protocol::runtime::Runtime::ALL
            .iter()
            .map(|r| under(r.state_dir()))
            .collect();
        read.push(under("/var/log"));
        Allowed::with_own(read)
    }

    /// For another container through procfs: the system-call filter only (see the
    /// module's documentation for why not Landlock).
    pub fn process() -> Allowed {
        Allowed {
            no_landlock: Some("a Landlock domain may not ptrace-access the target's processes, which /proc/PID/exe, cwd, root, maps and environ need"),
            ..Allowed::default()
        }
    }

    /// `read` plus what the collector needs of its own: procfs (its own `/proc/self`),
    /// its binary (hashed for the footprint) and the resolver's files (uploads).
    fn with_own(mut read: Vec<PathBuf>) -> Allowed {
        read.push(PathBuf::from("/proc"));
        read.extend(std::env::current_exe().ok());
        read.extend(["/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf"].map(PathBuf::from));
        Allowed {
            read,
            ..Allowed::default()
        }
    }

    /// Also lets the directory of `file` be written (the archive is created there
    /// once the collection starts).
    pub fn write_beside(&mut self, file: &str) {
        if file == "-" {
            return;
        }
        let p = Path::new(file);
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        self.write.push(dir);
    }
}

/// What applied.
#[derive(Debug, Clone)]
pub struct Applied {
    /// One line for the log: each mechanism and what it allows, or why it did not apply.
    pub line: String,
    /// Both applied in full.
    pub complete: bool,
}

/// Confines this process as `allowed` says; returns what applied, for the log.
pub fn apply(allowed: &Allowed) -> Applied {
    // Both need it, and a confined process must not gain privileges by exec.
    let nnp = rustix::thread::set_no_new_privs(true);
    let (landlock, full) = landlock(allowed);
    let (seccomp, filtered) = match (nnp, seccomp()) {
        (Ok(()), Ok(n)) => (format!("seccomp: {n} system calls refused with EPERM (open_by_handle_at, name_to_handle_at, mount, ptrace, setns, bpf, io_uring, ...)"), true),
        (Err(e), _) => (format!("seccomp: not applied (no_new_privs: {e})"), false),
        (_, Err(e)) => (format!("seccomp: not applied ({e})"), false),
    };
    Applied {
        line: format!("sandbox: {landlock}; {seccomp}"),
        complete: full && filtered,
    }
}

/// Restricts file access; returns what it says and whether it is fully enforced.
fn landlock(allowed: &Allowed) -> (String, bool) {
    if let Some(why) = allowed.no_landlock {
        return (format!("landlock: not used ({why})"), true);
    }
    let existing = |paths: &[PathBuf]| -> Vec<PathBuf> {
        paths.iter().filter(|p| p.exists()).cloned().collect()
    };
    let (read, write) = (existing(&allowed.read), existing(&allowed.write));
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(LANDLOCK_ABI))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(&read, AccessFs::from_read(LANDLOCK_ABI))))
        .and_then(|r| r.add_rules(path_beneath_rules(&write, AccessFs::from_all(LANDLOCK_ABI))))
        .and_then(|r| r.restrict_self());
    let shown = |p: &[PathBuf]| {
        p.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let full = matches!(&status, Ok(s) if s.ruleset == RulesetStatus::FullyEnforced);
    let said = match status {
        Ok(s) => match s.ruleset {
            RulesetStatus::FullyEnforced | RulesetStatus::PartiallyEnforced => {
                let how = if s.ruleset == RulesetStatus::FullyEnforced {
                    "enforced"
                } else {
                    "partly enforced (an older kernel: some access rights are not restricted)"
                };
                let w = if write.is_empty() {
                    "nothing".to_owned()
                } else {
                    shown(&write)
                };
                format!("landlock {how}: reads only beneath {}; writes {w}", shown(&read))
            }
            RulesetStatus::NotEnforced => {
                "landlock: not available in this kernel (5.13 or later, enabled), so reads are not confined to the collection's paths".to_owned()
            }
        },
        Err(e) => format!("landlock: not applied ({e})"),
    };
    (said, full)
}

/// `kexec_file_load`: libc names it for x86_64 only; aarch64 has it as 294
/// (asm-generic/unistd.h).
#[cfg(target_arch = "aarch64")]
const SYS_KEXEC_FILE_LOAD: i64 = 294;
#[cfg(not(target_arch = "aarch64"))]
const SYS_KEXEC_FILE_LOAD: i64 = libc::SYS_kexec_file_load;

/// The calls refused, by number for this architecture.
fn refused() -> Vec<i64> {
    vec![
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_fsopen,
        libc::SYS_fsmount,
        libc::SYS_fsconfig,
        libc::SYS_fspick,
        libc::SYS_move_mount,
        libc::SYS_open_tree,
        libc::SYS_setns,
        libc::SYS_unshare,
        libc::SYS_ptrace,
        libc::SYS_process_vm_writev,
        libc::SYS_kexec_load,
        SYS_KEXEC_FILE_LOAD,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_userfaultfd,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_reboot,
        libc::SYS_acct,
    ]
}

/// Installs the filter on every thread of the process; returns how many calls it
/// refuses.
fn seccomp() -> Result<usize, seccompiler::Error> {
    let arch = if cfg!(target_arch = "aarch64") {
        TargetArch::aarch64
    } else {
        TargetArch::x86_64
    };
    let calls = refused();
    let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> =
        calls.iter().map(|&n| (n, Vec::new())).collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )?;
    let program: seccompiler::BpfProgram = filter.try_into()?;
    seccompiler::apply_filter_all_threads(&program)?;
    Ok(calls.len())
}
