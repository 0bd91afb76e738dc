//! The facts of one collection, read in one pass over its archive (and one over its
//! Kubernetes evidence): identity, processes and their executables, sockets, mounts,
//! logins, drift, the lines of shell histories, `/etc/ld.so.preload`, and the modes of
//! executable and set-id files from the bodyfile. Each list is capped (a hostile target
//! can make millions of anything); a cap reached is said in `problems`. Each member
//! read is hashed as it streams past, for the evidence of findings.

use crate::read::inputs::Collection;
use crate::read::stream;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufRead, Read};

/// The most records kept of each list.
pub const MAX_RECORDS: usize = 20_000;
/// The most history lines kept (those a rule may look at: every line, each capped).
pub const MAX_HISTORY_LINES: usize = 50_000;
/// The lines kept from the end of each container log.
pub const LOG_TAIL: usize = 200;
/// The most bytes kept of a document member (summary, system, pod, rbac).
const DOCUMENT_LIMIT: u64 = 16 << 20;
/// The most bytes of a member read.
const MEMBER_LIMIT: u64 = 4 << 30;

/// One line of a shell history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryLine {
    /// The member (`files/root/.ash_history`).
    pub member: String,
    pub number: usize,
    pub text: String,
}

/// What one collection holds that a person reads.
#[derive(Debug, Default)]
pub struct Facts {
    pub collection: Collection,
    pub summary: Value,
    pub system: Value,
    pub processes: Vec<Value>,
    pub executables: Vec<Value>,
    pub sockets: Vec<Value>,
    pub mounts: Vec<Value>,
    pub logins: Vec<Value>,
    pub drift: Vec<Value>,
    pub history: Vec<HistoryLine>,
    /// `/etc/ld.so.preload`'s content, when collected.
    pub preload: Option<String>,
    /// Bodyfile modes (`-rwsr-xr-x`) of files with an execute or set-id bit, by path.
    pub modes: HashMap<String, String>,
    /// Each member read, by path: its sha256.
    pub members: HashMap<String, String>,
    /// From the Kubernetes evidence.
    pub pod: Value,
    pub rbac: Value,
    pub events: Value,
    /// The last [`LOG_TAIL`] lines of each container log (`logs/C.log`,
    /// `logs/C.previous.log`), and how many lines it had.
    pub logs: Vec<(String, Vec<String>, usize)>,
    pub k8s_members: HashMap<String, String>,
    /// What could not be read, or was cut at a cap.
    pub problems: Vec<String>,
}

/// A reader that hashes what is consumed through it.
struct Hashing<'a> {
    inner: &'a mut dyn BufRead,
    hash: Sha256,
}

impl Read for Hashing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let have = self.fill_buf()?;
            let n = have.len().min(buf.len());
            buf[..n].copy_from_slice(&have[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Hashing<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        if let Ok(b) = self.inner.fill_buf() {
            self.hash.update(&b[..amt.min(b.len())]);
        }
        self.inner.consume(amt);
    }
}

impl Hashing<'_> {
    /// Reads what is left and returns the member's sha256.
    fn finish(mut self) -> String {
        let _ = std::io::copy(&mut self, &mut std::io::sink());
        hex::encode(self.hash.finalize())
    }
}

/// A shell history file, by its name.
pub fn is_history(member: &str) -> bool {
    let name = member.rsplit('/').next().unwrap_or(member);
    member.starts_with("files/")
        && (name.ends_with("_history") || name == "fish_history" || name == ".history")
}

use crate::read::member::{
    BODYFILE, DRIFT, EXECUTABLES, LOGINS, MOUNTS, PRELOAD, PROCESSES, SOCKETS, SUMMARY, SYSTEM,
};
const LISTS: &[&str] = &[PROCESSES, EXECUTABLES, SOCKETS, MOUNTS, LOGINS, DRIFT];
const DOCUMENTS: &[&str] = &[SUMMARY, SYSTEM];

/// Reads a collection.
pub fn read(c: &Collection) -> Facts {
    let mut f = Facts {
        collection: c.clone(),
        ..Facts::default()
    };
    if let Some(a) = &c.archive {
        if let Err(e) = stream::members(a, MEMBER_LIMIT, |name, r| {
            archive_member(&mut f, name, r);
            Ok(())
        }) {
            f.problems.push(format!("{}: {e:#}", a.display()));
        }
    }
    if let Some(k) = &c.k8s {
        if let Err(e) = stream::members(k, MEMBER_LIMIT, |name, r| {
            k8s_member(&mut f, name, r);
            Ok(())
        }) {
            f.problems.push(format!("{}: {e:#}", k.display()));
        }
    }
    f
}

fn document(r: &mut Hashing<'_>) -> Value {
    crate::read::document(r, DOCUMENT_LIMIT)
}

fn archive_member(f: &mut Facts, name: &str, r: &mut dyn BufRead) {
    let wanted = LISTS.contains(&name)
        || DOCUMENTS.contains(&name)
        || name == BODYFILE
        || name == PRELOAD
        || is_history(name);
    if !wanted {
        return;
    }
    let mut h = Hashing {
        inner: r,
        hash: Sha256::new(),
    };
    match name {
        SUMMARY => f.summary = document(&mut h),
        SYSTEM => f.system = document(&mut h),
        BODYFILE => {
            let modes = &mut f.modes;
            let _ = stream::lines(&mut h, |l| {
                let line = String::from_utf8_lossy(l);
                let fields: Vec<&str> = line.split('|').collect();
                if fields.len() == 11
                    && fields[3].starts_with('-')
                    && fields[3].contains(['x', 's', 'S'])
                    && modes.len() < 20 * MAX_RECORDS
                {
                    modes.insert(fields[1].to_owned(), fields[3].to_owned());
                }
            });
        }
        PRELOAD => {
            let mut text = Vec::new();
            let _ = (&mut h).take(64 << 10).read_to_end(&mut text);
            f.preload = Some(String::from_utf8_lossy(&text).into_owned());
        }
        n if is_history(n) => {
            let mut number = 0;
            let (history, problems) = (&mut f.history, &mut f.problems);
            let _ = stream::lines(&mut h, |l| {
                number += 1;
                if history.len() < MAX_HISTORY_LINES {
                    history.push(HistoryLine {
                        member: n.to_owned(),
                        number,
                        text: String::from_utf8_lossy(&l[..l.len().min(4096)]).into_owned(),
                    });
                } else if history.len() == MAX_HISTORY_LINES {
                    problems.push(format!(
                        "more than {MAX_HISTORY_LINES} history lines: the rest not read"
                    ));
                }
            });
        }
        n => {
            let list = match n {
                PROCESSES => &mut f.processes,
                EXECUTABLES => &mut f.executables,
                SOCKETS => &mut f.sockets,
                MOUNTS => &mut f.mounts,
                LOGINS => &mut f.logins,
                _ => &mut f.drift,
            };
            let mut over = 0u64;
            let _ = stream::lines(&mut h, |l| {
                if list.len() >= MAX_RECORDS {
                    over += 1;
                } else if let Ok(v) = serde_json::from_slice::<Value>(l) {
                    list.push(v);
                }
            });
            if over > 0 {
                f.problems.push(format!(
                    "{n}: {over} record(s) past the first {MAX_RECORDS} not shown"
                ));
            }
        }
    }
    f.members.insert(name.to_owned(), h.finish());
}

fn k8s_member(f: &mut Facts, name: &str, r: &mut dyn BufRead) {
    let mut h = Hashing {
        inner: r,
        hash: Sha256::new(),
    };
    match name {
        "k8s/pod.json" => f.pod = document(&mut h),
        "k8s/rbac.json" => f.rbac = document(&mut h),
        "k8s/events.json" => f.events = document(&mut h),
        n if n.starts_with("logs/") && f.logs.len() < 64 => {
            let mut tail = std::collections::VecDeque::with_capacity(LOG_TAIL);
            let mut count = 0;
            let _ = stream::lines(&mut h, |l| {
                count += 1;
                if tail.len() == LOG_TAIL {
                    tail.pop_front();
                }
                tail.push_back(String::from_utf8_lossy(&l[..l.len().min(2048)]).into_owned());
            });
            f.logs.push((n.to_owned(), tail.into(), count));
        }
        _ => {}
    }
    f.k8s_members.insert(name.to_owned(), h.finish());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_histories_are_known_by_name_under_files() {
        assert!(is_history("files/root/.ash_history"));
        assert!(is_history("files/home/ada/.bash_history"));
        assert!(is_history("files/root/.local/share/fish/fish_history"));
        assert!(!is_history("live_response/x_history"));
        assert!(!is_history("files/etc/passwd"));
    }

    #[test]
    fn what_is_read_through_is_hashed_to_the_end() {
        let data = b"line one\nline two\n".to_vec();
        let mut r: &[u8] = &data;
        let mut h = Hashing {
            inner: &mut r,
            hash: Sha256::new(),
        };
        let mut first = String::new();
        h.read_line(&mut first).unwrap();
        assert_eq!(first, "line one\n");
        assert_eq!(h.finish(), hex::encode(Sha256::digest(&data)));
    }
}
