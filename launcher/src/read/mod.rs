//! Reading cairn archives after the fact (`cairn timeline`): which archives the
//! arguments name ([`inputs`]), and one pass over each ([`stream`]). An archive holds
//! what a hostile target gave: every member and every line is read with a bound, and
//! nothing in it is trusted to be well formed.

pub mod inputs;
pub mod stream;

use serde_json::Value;
use std::io::Read;

/// The members of a collector's archive that reading back looks at.
pub mod member {
    pub const SUMMARY: &str = "summary.json";
    pub const SYSTEM: &str = "live_response/system/system.json";
    pub const PROCESSES: &str = "live_response/processes/processes.jsonl";
    pub const EXECUTABLES: &str = "live_response/processes/executables.jsonl";
    pub const SOCKETS: &str = "live_response/network/sockets.jsonl";
    pub const MOUNTS: &str = "live_response/mounts/mountinfo.jsonl";
    pub const LOGINS: &str = "live_response/users/logins.jsonl";
    pub const DRIFT: &str = "live_response/drift/drift.jsonl";
    pub const BODYFILE: &str = "outputs/live/timeline/bodyfile.txt";
    pub const PRELOAD: &str = "files/etc/ld.so.preload";
}

/// A JSON document member, up to `limit` bytes; `Null` when it is not JSON.
pub fn document(r: &mut dyn Read, limit: u64) -> Value {
    let mut text = Vec::new();
    if r.take(limit).read_to_end(&mut text).is_err() {
        return Value::Null;
    }
    serde_json::from_slice(&text).unwrap_or(Value::Null)
}

/// A JSON value as text: a string as it is, null as nothing, anything else as JSON.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}
