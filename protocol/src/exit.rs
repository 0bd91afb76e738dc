//! Exit statuses, named once for the collector, the bootstrap and the launcher.
//! `scripts/bootstrap.sh` uses the same numbers (its header lists them).

/// Everything asked for was done.
pub const OK: i32 = 0;
/// Some of the work failed: a target was not collected (launcher), an archive did not
/// verify (`cairn-collector verify`).
pub const FAILED: i32 = 1;
/// Nothing was done: bad arguments, a refused permission check, an unusable input.
pub const ERROR: i32 = 2;
/// The archive is complete but the upload failed; the fallback output holds what the
/// object does not.
pub const UPLOAD_FELL_BACK: i32 = 3;
/// The archive is complete and valid, but the collection was cut short (`--timeout`,
/// `--max-total-size`): not everything asked for is in it. The launcher uses it too,
/// when every target was collected and one or more were cut short.
pub const CUT_SHORT: i32 = 4;
/// Bootstrap: no writable place allows execution, or the collector cannot be made
/// executable.
pub const NO_PLACE_TO_RUN: i32 = 90;
/// Bootstrap: the collector that arrived is not the one the launcher sent (sha256).
pub const CHECKSUM_MISMATCH: i32 = 91;
/// Bootstrap: no tool to fetch or hash the collector.
pub const NO_TOOL: i32 = 92;
/// Bootstrap: bad arguments, or the collector or plan arrived short.
pub const BAD_DELIVERY: i32 = 93;
/// Bootstrap: the collector cannot run on this system (another CPU architecture, not
/// an executable here), as opposed to no place allowing execution (90).
pub const CANNOT_RUN_HERE: i32 = 94;
/// Bootstrap, asked to write nothing to the container's disk (`memory`): no
/// memory-backed place allows execution.
pub const NO_MEMORY_PLACE: i32 = 95;
/// The runtime found the command but could not execute it (shell convention).
pub const CANNOT_EXECUTE: i32 = 126;
/// The runtime did not find the command (shell convention): no `sh` in the container.
pub const NOT_FOUND: i32 = 127;
/// Interrupted by Ctrl-C (128 + SIGINT).
pub const INTERRUPTED: i32 = 130;
