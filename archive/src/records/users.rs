//! Logins from utmp, wtmp and btmp ([`Login`], `logins.jsonl`) and the last login of
//! each account from lastlog ([`LastLogin`], `lastlog.jsonl`). Text fields escaped.

use serde::{Deserialize, Serialize};

/// One utmp-format record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Login {
    /// The file it is from (`/var/log/wtmp`...).
    pub file: String,
    /// `utmp`, `wtmp`, `btmp` (failed logins).
    pub kind: String,
    /// `USER_PROCESS`, `DEAD_PROCESS`, `BOOT_TIME`...
    #[serde(rename = "type")]
    pub record_type: String,
    pub pid: i32,
    pub line: String,
    pub id: String,
    pub user: String,
    pub host: String,
    pub session: i32,
    /// RFC 3339, to the microsecond.
    pub time: String,
    pub address: Option<String>,
}

/// An account's last login.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastLogin {
    pub uid: u64,
    pub user: Option<String>,
    pub time: String,
    pub line: String,
    pub host: String,
}
