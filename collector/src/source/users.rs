//! Users of the root being collected, read from the root's own `/etc/passwd` (never the
//! collector host's), for UAC's `%user_home%` and `%user%` variables.

use super::Root;
use std::collections::BTreeSet;

/// One account from the root's passwd file, or a home directory found under `/home`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: Vec<u8>,
    pub uid: Option<u32>,
    pub home: Vec<u8>,
    pub shell: Vec<u8>,
    /// The home is a directory under `/home`, `/Users`, `/export/home` or `/u`: found
    /// by looking, not only named by passwd.
    pub scanned: bool,
}

impl User {
    /// True for passwd accounts whose shell forbids logins, as UAC decides it
    /// (`get_user_home_list.sh`: a shell ending in `false`, `halt`, `nologin`,
    /// `shutdown`, `sync` or `git-shell`, or none).
    pub fn is_nologin(&self) -> bool {
        self.shell.is_empty()
            || [
                &b"false"[..],
                b"halt",
                b"nologin",
                b"shutdown",
                b"sync",
                b"git-shell",
            ]
            .iter()
            .any(|end| self.shell.ends_with(end))
    }

    /// Left out by `exclude_nologin_users`: a nologin account whose home was not also
    /// found under the usual home directories (UAC keeps those: someone lived there).
    pub fn excluded_as_nologin(&self) -> bool {
        self.is_nologin() && !self.scanned
    }
}

/// Parses passwd content; malformed lines are skipped.
pub fn parse_passwd(content: &[u8]) -> Vec<User> {
    content
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let f: Vec<&[u8]> = line.split(|&b| b == b':').collect();
            if f.len() < 7 || f[0].is_empty() || f[0].starts_with(b"#") {
                return None;
            }
            Some(User {
                name: f[0].to_vec(),
                uid: std::str::from_utf8(f[2]).ok().and_then(|s| s.parse().ok()),
                home: f[5].to_vec(),
                shell: f[6].to_vec(),
                scanned: false,
            })
        })
        .collect()
}

/// Where UAC looks for homes besides passwd (`get_user_home_list.sh`).
const HOME_PARENTS: &[&[u8]] = &[b"/home", b"/Users", b"/export/home", b"/u"];

/// The users of `root`, as UAC lists them: passwd entries, plus every directory under
/// `/home`, `/Users`, `/export/home` and `/u` (attackers delete accounts; their homes
/// remain), plus `/root`.
pub fn users_of(root: &Root) -> Vec<User> {
    let mut users = root
        .read_small(b"/etc/passwd", 16 << 20)
        .map(|c| parse_passwd(&c))
        .unwrap_or_default();
    let mut found: BTreeSet<Vec<u8>> = BTreeSet::new();
    for parent in HOME_PARENTS {
        for (n, kind) in root.list_dir(parent) {
            if kind == super::Kind::Dir && !n.starts_with(b".") {
                found.insert(super::join(parent, &n));
            }
        }
    }
    for u in &mut users {
        u.scanned = found.contains(&u.home);
    }
    let known: BTreeSet<Vec<u8>> = users.iter().map(|u| u.home.clone()).collect();
    for home in found.into_iter().chain([b"/root".to_vec()]) {
        if !known.contains(&home) {
            let name = home.rsplit(|&b| b == b'/').next().unwrap_or(b"").to_vec();
            users.push(User {
                name,
                uid: None,
                home,
                shell: Vec::new(),
                scanned: true,
            });
        }
    }
    users
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd() {
        let u = parse_passwd(
            b"root:x:0:0:root:/root:/bin/bash\nbad\nwww:x:33:33::/var/www:/usr/sbin/nologin\n",
        );
        assert_eq!(u.len(), 2);
        assert_eq!(u[1].home, b"/var/www");
        assert!(u[1].is_nologin());
        assert!(!u[0].is_nologin());
    }
}
