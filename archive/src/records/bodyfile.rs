//! The Sleuth Kit's bodyfile (3.x): `MD5|name|inode|mode|UID|GID|size|atime|mtime|ctime|crtime`,
//! one line per file, the form `mactime -b` reads. The collector writes the sha256 in
//! the first column when it knows it (else `0`), names escaped ([`crate::text::escape`]:
//! a `|` in a name is `\x7c`, so a line always has exactly eleven fields).

/// One bodyfile line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyfileLine {
    /// The sha256, or `0`.
    pub hash: String,
    /// The escaped path (` -> TARGET` after a symlink).
    pub name: String,
    pub inode: u64,
    /// `ls -l` style (`-rwsr-xr-x`).
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// Seconds since the epoch; 0 when unknown.
    pub atime: i64,
    pub mtime: i64,
    pub ctime: i64,
    pub crtime: i64,
}

impl BodyfileLine {
    /// The line, with its newline.
    pub fn to_line(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}\n",
            self.hash,
            self.name,
            self.inode,
            self.mode,
            self.uid,
            self.gid,
            self.size,
            self.atime,
            self.mtime,
            self.ctime,
            self.crtime
        )
    }

    /// Reads a line (without its newline); `None` unless it has exactly eleven fields
    /// and its numbers are numbers.
    pub fn parse(line: &str) -> Option<BodyfileLine> {
        let f: Vec<&str> = line.split('|').collect();
        if f.len() != 11 {
            return None;
        }
        Some(BodyfileLine {
            hash: f[0].to_owned(),
            name: f[1].to_owned(),
            inode: f[2].trim().parse().ok()?,
            mode: f[3].to_owned(),
            uid: f[4].trim().parse().ok()?,
            gid: f[5].trim().parse().ok()?,
            size: f[6].trim().parse().ok()?,
            atime: f[7].trim().parse().ok()?,
            mtime: f[8].trim().parse().ok()?,
            ctime: f[9].trim().parse().ok()?,
            crtime: f[10].trim().parse().ok()?,
        })
    }

    /// An executable or set-id file: the mode shows `x`, `s` or `S` on a regular file.
    pub fn is_executable_or_setid(&self) -> bool {
        self.mode.starts_with('-') && self.mode.contains(['x', 's', 'S'])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_reads_back_as_written_and_a_short_one_does_not() {
        let l = BodyfileLine {
            hash: "0".into(),
            name: "/tmp/a\\x7cb".into(),
            inode: 12,
            mode: "-rwsr-xr-x".into(),
            uid: 0,
            gid: 0,
            size: 5,
            atime: 1,
            mtime: 2,
            ctime: 3,
            crtime: 0,
        };
        let text = l.to_line();
        assert_eq!(BodyfileLine::parse(text.trim_end()), Some(l.clone()));
        assert!(l.is_executable_or_setid());
        assert_eq!(BodyfileLine::parse("0|/x|1|-rw|0|0|5|1|2|3"), None);
        assert_eq!(BodyfileLine::parse("0|/x|1|-rw|0|0|five|1|2|3|0"), None);
    }
}
