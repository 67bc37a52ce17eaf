//! The cluster bus's messages (cluster.h's clusterMsg), as typed values and as the bytes
//! redis-server 7.0 reads and writes: a 2256-byte header ("RCmb", totlen, ver 1, port, type,
//! count, epochs, offset, sender, myslots, slaveof, myip, extensions, pport, cport, flags,
//! state, mflags) then the type's data (gossip sections + ping extensions, FAIL, PUBLISH,
//! UPDATE, MODULE). All integers big-endian on the wire (htonl/htons/htonu64).

use super::{NodeName, SLOTS};

/// CLUSTERMSG_TYPE_*.
pub const TYPE_PING: u16 = 0;
pub const TYPE_PONG: u16 = 1;
pub const TYPE_MEET: u16 = 2;
pub const TYPE_FAIL: u16 = 3;
pub const TYPE_PUBLISH: u16 = 4;
pub const TYPE_FAILOVER_AUTH_REQUEST: u16 = 5;
pub const TYPE_FAILOVER_AUTH_ACK: u16 = 6;
pub const TYPE_UPDATE: u16 = 7;
pub const TYPE_MFSTART: u16 = 8;
pub const TYPE_MODULE: u16 = 9;
pub const TYPE_PUBLISHSHARD: u16 = 10;
pub const TYPE_COUNT: usize = 11;

/// clusterMsg's fixed header before the data union (CLUSTERMSG_MIN_LEN).
pub const HEADER_LEN: usize = 2256;
/// NET_IP_STR_LEN: the ip fields' size.
pub const IP_LEN: usize = 46;

/// CLUSTERMSG_FLAG0_*.
pub const FLAG0_PAUSED: u8 = 1;
pub const FLAG0_FORCEACK: u8 = 2;
pub const FLAG0_EXT_DATA: u8 = 4;

/// The header every message carries: the sender's view of itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub type_: u16,
    /// Gossip sections in a PING/PONG/MEET; unused elsewhere.
    pub count: u16,
    pub port: u16,
    pub current_epoch: u64,
    pub config_epoch: u64,
    pub offset: u64,
    pub sender: NodeName,
    pub myslots: Box<[u8; SLOTS / 8]>,
    /// All zeros (CLUSTER_NODE_NULL_NAME) when the sender is a master.
    pub slaveof: NodeName,
    /// The sender's IP as it announces it; empty when all zeros (the receiver uses the
    /// connection's peer address).
    pub myip: String,
    pub pport: u16,
    pub cport: u16,
    pub flags: u16,
    /// 0 = ok, 1 = fail.
    pub state: u8,
    pub mflags: [u8; 3],
}

/// clusterMsgDataGossip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gossip {
    pub nodename: NodeName,
    /// Seconds (Redis sends ms/1000 truncated to 32 bits).
    pub ping_sent: u32,
    pub pong_received: u32,
    pub ip: String,
    pub port: u16,
    pub cport: u16,
    pub flags: u16,
    pub pport: u16,
}

/// A ping extension (clusterMsgPingExt). 7.0 sends only the hostname; later versions add the
/// forgotten node and shard id; unknown types are kept as raw bytes and ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PingExt {
    Hostname(String),
    /// CLUSTERMSG_EXT_TYPE_FORGOTTEN_NODE (7.2): name and TTL in seconds.
    ForgottenNode {
        name: NodeName,
        ttl: u64,
    },
    /// CLUSTERMSG_EXT_TYPE_SHARDID (7.2).
    ShardId([u8; NAMELEN_HEX]),
    Unknown {
        type_: u16,
        data: Vec<u8>,
    },
}
pub const NAMELEN_HEX: usize = super::NAMELEN;

/// The type-specific part of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// PING, PONG, MEET.
    Ping {
        gossip: Vec<Gossip>,
        exts: Vec<PingExt>,
    },
    Fail {
        about: NodeName,
    },
    /// PUBLISH and PUBLISHSHARD.
    Publish {
        channel: Vec<u8>,
        message: Vec<u8>,
    },
    Update {
        config_epoch: u64,
        nodename: NodeName,
        slots: Box<[u8; SLOTS / 8]>,
    },
    Module {
        module_id: u64,
        type_: u8,
        payload: Vec<u8>,
    },
    /// FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK, MFSTART: the header says it all.
    Empty,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub body: Body,
}

/// Why bytes on the bus are not a message we accept (the link is then freed, as Redis does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BusError {
    /// Not "RCmb", or a version other than 1.
    BadSignature,
    /// totlen does not fit the type (clusterIsValidPacket's length checks).
    BadLength,
}

/// How many bytes the message at the start of `buf` needs in all, once its 8-byte prefix
/// ("RCmb" + totlen) is there; None before that. The host-independent reader in state.rs
/// accumulates until then.
pub fn frame_len(buf: &[u8]) -> Option<Result<usize, BusError>> {
    if buf.len() < 8 {
        return None;
    }
    if &buf[..4] != b"RCmb" {
        return Some(Err(BusError::BadSignature));
    }
    let len = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
    // Redis frees a link announcing less than a minimal ping (clusterReadHandler).
    if len < HEADER_LEN {
        return Some(Err(BusError::BadLength));
    }
    Some(Ok(len))
}

/// One whole message (exactly `frame_len` bytes) → its typed form, with clusterIsValidPacket's
/// checks. Never panics, whatever the bytes.
pub fn decode(_bytes: &[u8]) -> Result<Message, BusError> {
    // Filled in by the bus codec work.
    Err(BusError::BadLength)
}

/// A message → the bytes redis-server would send for it (totlen computed, `count` and
/// `extensions` from the body, FLAG0_EXT_DATA set when there are extensions).
pub fn encode(_msg: &Message) -> Vec<u8> {
    // Filled in by the bus codec work.
    Vec::new()
}
