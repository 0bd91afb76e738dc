//! Redaction of process environments, so the archive does not become a second copy of
//! the workload's credentials: the values of variables whose names look secret are
//! replaced by their length, and a password inside any other value (a URL's
//! `scheme://user:password@host`, as in `DATABASE_URL`) is replaced by `[REDACTED]`.
//! `--no-redact` keeps them.
//!
//! What this does not catch: a secret under an innocent name in a form other than a
//! URL (`FOO=hunter2`), secrets in command lines, files and memory maps, which are
//! collected as they are. docs/threat-model.md says so.

/// Name fragments (upper case) that mark a variable as secret.
pub const SECRET_MARKERS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "PWD_",
    "KEY",
    "CREDENTIAL",
    "AUTH",
    "COOKIE",
    "SESSION",
    "PRIVATE",
    "SIGNATURE",
    "DSN",
    "CONNECTION_STRING",
];

/// True when a variable name looks like it holds a secret.
pub fn is_secret_name(name: &[u8]) -> bool {
    let upper = String::from_utf8_lossy(name).to_ascii_uppercase();
    // `PWD` and `OLDPWD` are directories, not passwords.
    if upper == "PWD" || upper == "OLDPWD" {
        return false;
    }
    SECRET_MARKERS.iter().any(|m| upper.contains(m))
}

/// One `NAME=VALUE` entry, redacted when its name looks secret and `redact` is on.
/// Returns the entry to store and whether it was redacted.
pub fn entry(raw: &[u8], redact: bool) -> (Vec<u8>, bool) {
    let Some(eq) = raw.iter().position(|&b| b == b'=') else {
        return (raw.to_vec(), false);
    };
    let (name, value) = (&raw[..eq], &raw[eq + 1..]);
    if !redact {
        return (raw.to_vec(), false);
    }
    if is_secret_name(name) {
        let mut out = name.to_vec();
        out.extend_from_slice(format!("=[REDACTED {} bytes]", value.len()).as_bytes());
        return (out, true);
    }
    match url_password(value) {
        Some((start, end)) => {
            let mut out = raw[..eq + 1 + start].to_vec();
            out.extend_from_slice(b"[REDACTED]");
            out.extend_from_slice(&value[end..]);
            (out, true)
        }
        None => (raw.to_vec(), false),
    }
}

/// Where the password of the first `scheme://user:password@` in `value` is (byte
/// range within `value`), if there is one.
fn url_password(value: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(i) = find(&value[from..], b"://") {
        let auth_start = from + i + 3;
        let rest = &value[auth_start..];
        // The authority ends at the first '/', '?', '#' or whitespace.
        let end = rest
            .iter()
            .position(|b| matches!(b, b'/' | b'?' | b'#' | b' ' | b'\t'))
            .unwrap_or(rest.len());
        let authority = &rest[..end];
        if let Some(at) = authority.iter().rposition(|&b| b == b'@') {
            if let Some(colon) = authority[..at].iter().position(|&b| b == b':') {
                if colon + 1 < at {
                    return Some((auth_start + colon + 1, auth_start + at));
                }
            }
        }
        from = auth_start;
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            entry(b"API_TOKEN=hunter2", true),
            (b"API_TOKEN=[REDACTED 7 bytes]".to_vec(), true)
        );
        assert_eq!(
            entry(b"db_password=x=y", true).0,
            b"db_password=[REDACTED 3 bytes]"
        );
        assert!(entry(b"AWS_SECRET_ACCESS_KEY=abc", true).1);
        assert_eq!(entry(b"PATH=/bin", true), (b"PATH=/bin".to_vec(), false));
        assert!(!entry(b"PWD=/root", true).1);
        assert_eq!(entry(b"API_TOKEN=hunter2", false).0, b"API_TOKEN=hunter2");
        assert!(!entry(b"noequals", true).1);
    }

    #[test]
    fn passwords_inside_urls_are_redacted_whatever_the_name() {
        assert_eq!(
            entry(b"DATABASE_URL=postgres://app:s3cr3t@db:5432/shop", true),
            (
                b"DATABASE_URL=postgres://app:[REDACTED]@db:5432/shop".to_vec(),
                true
            )
        );
        assert_eq!(
            entry(b"UPSTREAM=http://example.com/a https://u:p@x/y", true).0,
            b"UPSTREAM=http://example.com/a https://u:[REDACTED]@x/y"
        );
        // No password, or an @ after the path: nothing to redact.
        assert!(!entry(b"HOME_URL=https://user@host/", true).1);
        assert!(!entry(b"MAILTO=https://host/a:b@c", true).1);
        assert!(!entry(b"DATABASE_URL=postgres://app:s3cr3t@db/x", false).1);
    }
}
