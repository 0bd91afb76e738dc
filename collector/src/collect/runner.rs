//! The artifact runner: each entry of an artifact set is run against the root in
//! order. `file`, `find`, `hash` and `stat` entries walk their paths (`%user_home%`
//! expanded per user, or a file list an earlier entry produced) through UAC's filters
//! ([`super::filter`]); `native` entries run a live-response collector; `command`
//! entries are recorded and never run. find/hash/stat outputs are gathered per output
//! file and written when the set ends.

use super::engine::Engine;
use super::filter::{excluded, matches};
use crate::source::mounts::PSEUDO_FILESYSTEMS;
use crate::source::walk::{Entry, Flow, Visitor};
use crate::source::{Kind, Meta, ResolveError};
use crate::spec::words::{escape_glob, unescape_glob};
use crate::spec::{Artifact, ArtifactSet, CollectorKind};
use cairn_archive::member::OUTPUTS_DIR;
use cairn_archive::text::{escape, unescape};
use cairn_archive::write::Spool;
use cairn_protocol::{Level, LogEvent};
use std::collections::BTreeMap;
use std::io::{self, Read};

impl Engine<'_> {
    /// Runs every entry of `set`.
    pub fn run_set(&mut self, set: &ArtifactSet) {
        let mut outputs: BTreeMap<Vec<u8>, Spool> = BTreeMap::new();
        for art in &set.entries {
            if self.expired() {
                self.rec.log(
                    Level::Warn,
                    LogEvent::NotRun,
                    Some(&set.name),
                    None,
                    format!("entry at line {} not run: timeout", art.line),
                );
                continue;
            }
            if self.rec.failed.is_some() {
                return;
            }
            if !art.supports_linux() {
                continue;
            }
            self.rec.counts.entries_run += 1;
            if !matches!(
                art.collector,
                CollectorKind::Command | CollectorKind::Native
            ) {
                let d = crate::spec::uac_differences::differences(art);
                if !d.is_empty() {
                    let msg = format!(
                        "entry at {}:{} differs from UAC on purpose: {}",
                        set.origin,
                        art.line,
                        d.join("; ")
                    );
                    self.rec
                        .log(Level::Info, LogEvent::Spec, Some(&set.name), None, msg);
                }
            }
            match art.collector {
                CollectorKind::Command => self.not_run_command(set, art),
                CollectorKind::Native => self.run_native(set, art),
                _ => self.run_walk(set, art, &mut outputs),
            }
        }
        for (path, mut spool) in outputs {
            self.rec.output_spool(&set.name, &path, &mut spool);
        }
    }

    fn not_run_command(&mut self, set: &ArtifactSet, art: &Artifact) {
        self.rec.commands_not_run += 1;
        self.rec.log(
            Level::Info,
            LogEvent::NotRun,
            Some(&set.name),
            None,
            format!(
                "command collector at {}:{} not run: {}",
                set.origin,
                art.line,
                crate::spec::uac_differences::command_not_run(&set.name, art)
            ),
        );
    }

    fn run_native(&mut self, set: &ArtifactSet, art: &Artifact) {
        let name = art.native.clone().unwrap_or_default();
        let mut session = std::mem::take(&mut self.live);
        let root = self.root;
        crate::live::run(
            &name,
            &set.name,
            art.max_file_size,
            root,
            &mut session,
            self,
        );
        self.live = session;
        self.rec.tick(&set.name);
    }

    /// The paths an entry starts from: its own (expanded per user), or the lines of
    /// the file list an earlier entry of the set wrote.
    fn starts(
        &mut self,
        set: &ArtifactSet,
        art: &Artifact,
        outputs: &mut BTreeMap<Vec<u8>, Spool>,
    ) -> Option<Vec<Vec<u8>>> {
        if !art.is_file_list {
            return Some(self.expand(art));
        }
        let list_name = art.path.as_bytes();
        match outputs.iter_mut().find(|(k, _)| k.ends_with(list_name)) {
            Some((_, spool)) => {
                let mut text = String::new();
                let _ = spool.reader().and_then(|mut r| r.read_to_string(&mut text));
                Some(
                    text.lines()
                        .filter(|l| !l.is_empty())
                        .map(unescape)
                        .collect(),
                )
            }
            None => {
                self.rec.log(
                    Level::Warn,
                    LogEvent::Spec,
                    Some(&set.name),
                    None,
                    format!(
                        "{}:{}: file list `{}` was not produced by an earlier entry",
                        set.origin, art.line, art.path
                    ),
                );
                None
            }
        }
    }

    /// Runs a `file`, `find`, `hash` or `stat` entry: walks each start path.
    fn run_walk(
        &mut self,
        set: &ArtifactSet,
        art: &Artifact,
        outputs: &mut BTreeMap<Vec<u8>, Spool>,
    ) {
        let out_key = output_path(set, art);
        let Some(starts) = self.starts(set, art, outputs) else {
            return;
        };
        let mut out = out_key
            .as_ref()
            .map(|k| outputs.remove(k).unwrap_or_default());
        for start in starts {
            if self.expired() || self.rec.failed.is_some() {
                break;
            }
            // UAC walks a home of `/` two levels deep only (parse_artifact.sh).
            let depth_two = start == b"/"
                && art
                    .paths
                    .iter()
                    .any(|w| w.pattern.starts_with("%user_home%"));
            self.walk_from(set, art, &start, depth_two, out.as_mut());
        }
        if let (Some(k), Some(spool)) = (out_key, out) {
            outputs.insert(k, spool);
        }
    }

    /// Resolves `start` inside the root and walks from it.
    fn walk_from(
        &mut self,
        set: &ArtifactSet,
        art: &Artifact,
        start: &[u8],
        depth_two: bool,
        out: Option<&mut Spool>,
    ) {
        let resolved = match self.root.resolve(start) {
            Ok(r) => r,
            Err(ResolveError::NotFound) => {
                let msg = "not present on this root";
                self.rec.log(
                    Level::Info,
                    LogEvent::Absent,
                    Some(&set.name),
                    Some(start),
                    msg,
                );
                return;
            }
            Err(e) => {
                let msg = e.to_string();
                self.rec.log(
                    Level::Warn,
                    LogEvent::Resolve,
                    Some(&set.name),
                    Some(start),
                    msg,
                );
                return;
            }
        };
        if resolved.followed_symlinks() {
            let msg = format!(
                "resolved inside the root to {}",
                String::from_utf8_lossy(resolved.path())
            );
            self.rec.log(
                Level::Info,
                LogEvent::Symlink,
                Some(&set.name),
                Some(start),
                msg,
            );
        }
        let start_meta = crate::source::meta::stat_at(resolved.dir(), resolved.name()).ok();
        let start_pseudo = start_meta
            .as_ref()
            .map(|m| self.is_pseudo(m.dev))
            .unwrap_or(false);
        let max_depth = if art.is_file_list {
            Some(0)
        } else if depth_two {
            Some(2)
        } else {
            art.max_depth
        };
        let root = self.root;
        let mut v = ArtifactVisitor {
            engine: self,
            art,
            set: &set.name,
            start_pseudo,
            start_dev: start_meta.map(|m| m.dev),
            out,
            max_depth,
            whole: None,
        };
        // The depth is the visitor's to keep: a directory taken whole goes deeper.
        root.walk(&resolved, None, &mut v);
    }

    /// The paths an entry starts from: each word of its `path` ([`crate::spec::words`]),
    /// `%user_home%` and `%user%` replaced per user (leaving out users without a login
    /// shell where the entry says so), and globs expanded inside the root as UAC's
    /// shell expands them. Each path once, in order.
    fn expand(&mut self, art: &Artifact) -> Vec<Vec<u8>> {
        let per_user = art.paths.iter().any(|w| w.pattern.contains("%user"));
        // (pattern or literal path, is a glob)
        let mut wanted: Vec<(Vec<u8>, bool)> = Vec::new();
        if per_user {
            for u in self.users().to_vec() {
                if art.exclude_nologin_users && u.excluded_as_nologin() {
                    continue;
                }
                for w in &art.paths {
                    if w.glob {
                        let home = escape_glob(&String::from_utf8_lossy(&u.home));
                        let name = escape_glob(&String::from_utf8_lossy(&u.name));
                        let p = w
                            .pattern
                            .replace("%user_home%", &home)
                            .replace("%user%", &name);
                        wanted.push((p.into_bytes(), true));
                    } else {
                        let p = replace(w.literal().as_bytes(), b"%user_home%", &u.home);
                        wanted.push((replace(&p, b"%user%", &u.name), false));
                    }
                }
            }
        } else {
            for w in &art.paths {
                if w.glob {
                    wanted.push((w.pattern.clone().into_bytes(), true));
                } else {
                    wanted.push((w.literal().into_bytes(), false));
                }
            }
        }
        let mut out: Vec<Vec<u8>> = Vec::new();
        for (p, is_glob) in wanted {
            if !p.starts_with(b"/") {
                let msg = format!(
                    "{}: `{}` is not an absolute path (a space in `path: {}` not quoted?): skipped; UAC would look for it in its own working directory",
                    art.line,
                    String::from_utf8_lossy(&p),
                    art.path
                );
                self.rec
                    .log(Level::Warn, LogEvent::Spec, Some(&art.set), None, msg);
                continue;
            }
            let found = if is_glob {
                self.glob(&String::from_utf8_lossy(&p))
            } else {
                vec![p]
            };
            for f in found {
                if !out.contains(&f) {
                    out.push(f);
                }
            }
        }
        out
    }

    /// Expands a glob inside the root as `sh` does: component by component, a leading
    /// `.` matched only by a component that starts with one, every path found existing.
    /// No match leaves the pattern itself (unescaped), which then is not present.
    fn glob(&self, pattern: &str) -> Vec<Vec<u8>> {
        let literal = || vec![unescape_glob(pattern).into_bytes()];
        let mut current: Vec<Vec<u8>> = vec![b"/".to_vec()];
        for comp in pattern.split('/').filter(|c| !c.is_empty()) {
            let mut next = Vec::new();
            if !has_glob(comp) {
                let lit = unescape_glob(comp);
                for d in &current {
                    next.push(crate::source::join(d, lit.as_bytes()));
                }
            } else {
                let Ok(g) = globset::GlobBuilder::new(comp)
                    .literal_separator(true)
                    .backslash_escape(true)
                    .build()
                else {
                    return literal();
                };
                let m = g.compile_matcher();
                let dot_ok = comp.starts_with('.') || comp.starts_with("\\.");
                for d in &current {
                    let mut names: Vec<Vec<u8>> = self
                        .root
                        .list_dir(d)
                        .into_iter()
                        .map(|(n, _)| n)
                        .filter(|n| {
                            (dot_ok || !n.starts_with(b"."))
                                && m.is_match(std::path::Path::new(
                                    <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(
                                        n,
                                    ),
                                ))
                        })
                        .collect();
                    names.sort();
                    next.extend(names.iter().map(|n| crate::source::join(d, n)));
                }
            }
            current = next;
            if current.is_empty() {
                return literal();
            }
        }
        current.retain(|p| !matches!(self.root.resolve(p), Err(ResolveError::NotFound)));
        if current.is_empty() {
            literal()
        } else {
            current
        }
    }
}

/// True when a pattern component has an unescaped `*`, `?` or `[`.
fn has_glob(comp: &str) -> bool {
    let mut escaped = false;
    for c in comp.chars() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '*' | '?' | '[') => return true,
            _ => {}
        }
    }
    false
}

fn replace(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

/// Where a find/hash/stat entry's output goes in the archive.
fn output_path(set: &ArtifactSet, art: &Artifact) -> Option<Vec<u8>> {
    let default = match art.collector {
        CollectorKind::Find => "find.txt",
        CollectorKind::Hash => "hash",
        CollectorKind::Stat => "bodyfile.txt",
        _ => return None,
    };
    let dir = art
        .output_directory
        .as_deref()
        .map(|d| d.trim_matches('/').to_owned())
        .filter(|d| !d.is_empty() && !d.split('/').any(|c| c == ".."))
        .unwrap_or_else(|| set.name.clone());
    let mut file = art
        .output_file
        .clone()
        .unwrap_or_else(|| default.to_owned());
    file = file.replace('/', "_");
    if art.collector == CollectorKind::Hash && !file.ends_with(".sha256") {
        file.push_str(".sha256");
    }
    Some(format!("{OUTPUTS_DIR}/{dir}/{file}").into_bytes())
}

/// A TSK 3.x bodyfile line; the first column is the sha256 when known, else 0.
fn bodyfile_line(path: &[u8], meta: &Meta, sha: Option<&str>, link: Option<&[u8]>) -> String {
    let mut name = escape(path);
    if let Some(l) = link {
        name.push_str(" -> ");
        name.push_str(&escape(l));
    }
    format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}\n",
        sha.unwrap_or("0"),
        name,
        meta.ino,
        cairn_archive::text::mode_string(meta.mode),
        meta.uid,
        meta.gid,
        meta.size,
        meta.atime.0,
        meta.mtime.0,
        meta.ctime.0,
        meta.btime.map(|b| b.0).unwrap_or(0)
    )
}

/// Walks one start path of one entry: applies the entry's filters, does what its
/// collector does with each match, and decides where to descend.
struct ArtifactVisitor<'e, 'a> {
    engine: &'e mut Engine<'a>,
    art: &'e Artifact,
    set: &'e str,
    start_pseudo: bool,
    start_dev: Option<u64>,
    out: Option<&'e mut Spool>,
    /// How deep the entry's filters look (`max_depth`; 0 for a file list).
    max_depth: Option<usize>,
    /// The depth of the directory being taken whole, while inside it.
    whole: Option<usize>,
}

impl ArtifactVisitor<'_, '_> {
    /// What the entry's collector does with a matching object.
    fn take(&mut self, entry: &Entry<'_>) {
        let e = &mut *self.engine;
        match self.art.collector {
            CollectorKind::File => e.collect_entry(self.set, entry, self.art.truncate_size),
            CollectorKind::Find => {
                if let Some(out) = self.out.as_deref_mut() {
                    let mut line = escape(entry.path);
                    line.push('\n');
                    out.push(line.as_bytes());
                }
            }
            CollectorKind::Hash => match e.hash_file(self.set, entry) {
                Ok(sha) => {
                    if let Some(out) = self.out.as_deref_mut() {
                        out.push(format!("{sha}  {}\n", escape(entry.path)).as_bytes());
                    }
                }
                Err((status, reason)) => {
                    let mut rec = entry.meta.record(entry.path, self.set);
                    rec.status = Some(status);
                    rec.reason = Some(format!("hash: {reason}"));
                    e.rec.note(rec);
                }
            },
            CollectorKind::Stat => {
                let link = (entry.meta.kind() == Kind::Symlink)
                    .then(|| {
                        rustix::fs::readlinkat(
                            entry.dir,
                            crate::source::meta::cstr(entry.name).unwrap_or_default(),
                            Vec::new(),
                        )
                        .ok()
                        .map(|t| t.into_bytes())
                    })
                    .flatten();
                if let Some(out) = self.out.as_deref_mut() {
                    out.push(
                        bodyfile_line(entry.path, entry.meta, None, link.as_deref()).as_bytes(),
                    );
                }
            }
            CollectorKind::Command | CollectorKind::Native => {}
        }
        e.rec.tick(self.set);
    }

    /// Whether to descend into the directory `entry`: not into another filesystem
    /// with `one_file_system`, a pseudo-filesystem the walk did not start in, or a
    /// filesystem type the entry excludes.
    fn descend(&mut self, entry: &Entry<'_>) -> Flow {
        if entry.depth == 0 {
            return Flow::Descend;
        }
        let e = &mut *self.engine;
        if self.art.one_file_system && self.start_dev.is_some_and(|d| d != entry.meta.dev) {
            e.rec.log(
                Level::Info,
                LogEvent::Skipped,
                Some(self.set),
                Some(entry.path),
                "another filesystem is mounted here; not descending (one_file_system)",
            );
            return Flow::Prune;
        }
        if let Some(fstype) = e.mounts.fstype(entry.meta.dev) {
            let pseudo = PSEUDO_FILESYSTEMS.contains(&fstype);
            if (pseudo && !self.start_pseudo)
                || self.art.exclude_file_system.iter().any(|x| x == fstype)
            {
                let msg = format!("not descending into a {fstype} filesystem");
                e.rec.log(
                    Level::Info,
                    LogEvent::Skipped,
                    Some(self.set),
                    Some(entry.path),
                    msg,
                );
                return Flow::Prune;
            }
        }
        Flow::Descend
    }
}

impl Visitor for ArtifactVisitor<'_, '_> {
    /// UAC's `file` collector takes a directory its filters match whole: UAC hands every
    /// path `find` printed to a bare `find` again (`remove_non_regular_files.sh`), so the
    /// directory's files at any depth come along, whatever their names, sizes or dates.
    /// That is how UAC's browser artifacts take a profile's `sessionstore*` directories
    /// (`file_type: [d]`). cairn does the same, but keeps the entry's exclusions inside
    /// such a directory, where UAC loses them (its `etc.yaml` takes `/etc/shadow`).
    fn entry(&mut self, entry: &Entry<'_>) -> Flow {
        if self.engine.rec.failed.is_some() || self.engine.expired() {
            return Flow::Stop;
        }
        if self.whole.is_some_and(|d| entry.depth <= d) {
            self.whole = None;
        }
        let is_dir = entry.meta.kind() == Kind::Dir;
        if self.whole.is_some() {
            if excluded(self.art, entry) {
                return if is_dir { Flow::Prune } else { Flow::Descend };
            }
            if !is_dir {
                self.take(entry);
                return Flow::Descend;
            }
            return self.descend(entry);
        }
        if matches(self.art, entry, self.engine.opts.date_range) {
            if is_dir && self.art.collector == CollectorKind::File {
                self.whole = Some(entry.depth);
                return self.descend(entry);
            }
            self.take(entry);
        }
        if !is_dir {
            return Flow::Descend;
        }
        if excluded(self.art, entry) || self.max_depth.is_some_and(|m| entry.depth >= m) {
            return Flow::Prune;
        }
        self.descend(entry)
    }

    fn error(&mut self, path: &[u8], action: &'static str, err: &io::Error) {
        self.engine.walk_error(self.set, path, action, err);
    }
}
