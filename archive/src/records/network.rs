//! Network state: one [`Socket`] per kernel socket (`sockets.jsonl`: internet and unix
//! sockets in one file, told apart by `proto`), with the processes holding it; and per
//! network namespace its [`Interfaces`], [`Route`]s and [`ArpEntry`]s.

use serde::{Deserialize, Serialize};

/// A process holding a socket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Holder {
    pub pid: i32,
    pub fd: i32,
    pub comm: Option<String>,
    /// The command line, joined.
    pub cmdline: Option<String>,
}

/// One socket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Socket {
    /// The network namespace's inode, or `self` where the collector's own is unknown.
    pub netns: String,
    /// `tcp`, `tcp6`, `udp`, `udp6`, `raw`, `raw6`, `unix`.
    pub proto: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_port: Option<u16>,
    /// tcp: `LISTEN`, `ESTABLISHED`...; udp and raw: `ESTABLISHED`, `UNCONN`, or the
    /// kernel's number; unix: `LISTEN`, `CONNECTED`...
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    pub inode: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_queue: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rx_queue: Option<u64>,
    /// unix: `stream`, `dgram`, `seqpacket`, `other`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// unix: the socket's path, escaped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_count: Option<u64>,
    #[serde(default)]
    pub processes: Vec<Holder>,
}

impl Socket {
    pub fn is_tcp(&self) -> bool {
        matches!(self.proto.as_str(), "tcp" | "tcp6")
    }
    pub fn is_unix(&self) -> bool {
        self.proto == "unix"
    }
}

/// A network interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    /// `ADDRESS/PREFIX`.
    pub ipv6: Vec<String>,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
}

/// The interfaces of one network namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interfaces {
    pub netns: String,
    pub interfaces: Vec<Interface>,
    pub ipv4_local_addresses: Vec<String>,
}

/// An IPv4 route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub netns: String,
    pub interface: String,
    pub destination: String,
    pub gateway: String,
    pub mask: String,
    pub flags: u32,
    pub metric: u32,
}

/// An entry of the ARP cache, as the kernel's table gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArpEntry {
    pub netns: String,
    pub ip: String,
    pub hw_type: String,
    pub flags: String,
    pub mac: String,
    pub mask: String,
    pub interface: String,
}
