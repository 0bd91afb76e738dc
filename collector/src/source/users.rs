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
}

impl User {
    /// True for accounts whose shell forbids logins (`nologin`, `false`, `sync`...).
    pub fn is_nologin(&self) -> bool {
        let shell = self.shell.rsplit(|&b| b == b'/').next().unwrap_or(b"");
        matches!(
            shell,
            b"nologin" | b"false" | b"sync" | b"halt" | b"shutdown"
        )
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
            })
        })
        .collect()
}

/// The users of `root`: passwd entries, plus `/root` and every directory under `/home`
/// that no passwd entry names (attackers delete accounts; their homes remain).
pub fn users_of(root: &Root) -> Vec<User> {
    let mut users = root
        .read_small(b"/etc/passwd", 16 << 20)
        .map(|c| parse_passwd(&c))
        .unwrap_or_default();
    let known: BTreeSet<Vec<u8>> = users.iter().map(|u| u.home.clone()).collect();
    let mut extra = vec![b"/root".to_vec()];
    for (n, kind) in root.list_dir(b"/home") {
        if kind == super::Kind::Dir {
            extra.push(super::join(b"/home", &n));
        }
    }
    for home in extra {
        if !known.contains(&home) {
            let name = home.rsplit(|&b| b == b'/').next().unwrap_or(b"").to_vec();
            users.push(User {
                name,
                uid: None,
                home,
                shell: Vec::new(),
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
