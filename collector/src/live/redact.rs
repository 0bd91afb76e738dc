//! Redaction of process environments: values of variables whose names look secret
//! are replaced by their length, so the archive does not become a second copy of the
//! workload's credentials. `--no-redact` keeps them.

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
    if !redact || !is_secret_name(name) {
        return (raw.to_vec(), false);
    }
    let mut out = name.to_vec();
    out.extend_from_slice(format!("=[REDACTED {} bytes]", value.len()).as_bytes());
    (out, true)
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
}
