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
#[derive(Clone, PartialEq, Eq)]
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
#[derive(Clone, PartialEq, Eq)]
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

/// A ping extension (clusterMsgPingExt): a 8-byte header (length of the whole extension, BE
/// u32; type, BE u16; 2 unused bytes) then the data, zero-padded to a multiple of 8. 7.0 sends
/// only the hostname; 7.2 adds the human node name, forgotten nodes and the shard id (7.2.0's
/// numbering: 7.2-rc1 had forgotten node = 1, shard id = 2); unknown types are kept as raw
/// bytes (Redis logs and ignores them; 7.0 ignores all but the hostname).
#[derive(Clone, PartialEq, Eq)]
pub enum PingExt {
    /// EXT_TYPE_HOSTNAME (0): `cluster-announce-hostname`, NUL-terminated on the wire.
    Hostname(String),
    /// EXT_TYPE_HUMAN_NODENAME (1, 7.2): `cluster-announce-human-nodename`, NUL-terminated.
    HumanNodename(String),
    /// EXT_TYPE_FORGOTTEN_NODE (2, 7.2): name and TTL in seconds (htonu64).
    ForgottenNode { name: NodeName, ttl: u64 },
    /// EXT_TYPE_SHARDID (3, 7.2).
    ShardId([u8; NAMELEN_HEX]),
    /// Any other type, or a known type whose data is too short for it: the data as on the
    /// wire (padding included).
    Unknown { type_: u16, data: Vec<u8> },
}

/// clusterMsgPingtypes (7.2.0's values).
pub const EXT_HOSTNAME: u16 = 0;
pub const EXT_HUMAN_NODENAME: u16 = 1;
pub const EXT_FORGOTTEN_NODE: u16 = 2;
pub const EXT_SHARDID: u16 = 3;
pub const NAMELEN_HEX: usize = super::NAMELEN;

/// The type-specific part of a message.
#[derive(Clone, PartialEq, Eq)]
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
    /// A type Redis does not know (>= TYPE_COUNT): whatever follows the header. Redis takes
    /// such a message as well formed (explen = totlen), applies its header's epochs and offset
    /// (clusterProcessPacket's common part) and logs "Received unknown packet type".
    Unknown {
        data: Vec<u8>,
    },
}

/// Node names and slot bitmaps printed short (names as text, slots as ranges), so failing
/// tests and logs stay readable.
struct Name<'a>(&'a [u8]);
impl std::fmt::Debug for Name<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.0))
    }
}
struct Slots<'a>(&'a [u8; SLOTS / 8]);
impl std::fmt::Debug for Slots<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let has = |i: usize| self.0[i >> 3] & (1 << (i & 7)) != 0;
        let mut first = true;
        let mut i = 0;
        write!(f, "[")?;
        while i < SLOTS {
            if !has(i) {
                i += 1;
                continue;
            }
            let start = i;
            while i + 1 < SLOTS && has(i + 1) {
                i += 1;
            }
            let sep = if first { "" } else { " " };
            first = false;
            if start == i {
                write!(f, "{sep}{start}")?;
            } else {
                write!(f, "{sep}{start}-{i}")?;
            }
            i += 1;
        }
        write!(f, "]")
    }
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("type_", &self.type_)
            .field("count", &self.count)
            .field("port", &self.port)
            .field("current_epoch", &self.current_epoch)
            .field("config_epoch", &self.config_epoch)
            .field("offset", &self.offset)
            .field("sender", &Name(&self.sender))
            .field("myslots", &Slots(&self.myslots))
            .field("slaveof", &Name(&self.slaveof))
            .field("myip", &self.myip)
            .field("pport", &self.pport)
            .field("cport", &self.cport)
            .field("flags", &self.flags)
            .field("state", &self.state)
            .field("mflags", &self.mflags)
            .finish()
    }
}

impl std::fmt::Debug for Gossip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gossip")
            .field("nodename", &Name(&self.nodename))
            .field("ping_sent", &self.ping_sent)
            .field("pong_received", &self.pong_received)
            .field("ip", &self.ip)
            .field("port", &self.port)
            .field("cport", &self.cport)
            .field("flags", &self.flags)
            .field("pport", &self.pport)
            .finish()
    }
}

impl std::fmt::Debug for PingExt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PingExt::Hostname(h) => f.debug_tuple("Hostname").field(h).finish(),
            PingExt::HumanNodename(h) => f.debug_tuple("HumanNodename").field(h).finish(),
            PingExt::ForgottenNode { name, ttl } => f
                .debug_struct("ForgottenNode")
                .field("name", &Name(name))
                .field("ttl", ttl)
                .finish(),
            PingExt::ShardId(id) => f.debug_tuple("ShardId").field(&Name(id)).finish(),
            PingExt::Unknown { type_, data } => f
                .debug_struct("Unknown")
                .field("type_", type_)
                .field("data", data)
                .finish(),
        }
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Ping { gossip, exts } => f
                .debug_struct("Ping")
                .field("gossip", gossip)
                .field("exts", exts)
                .finish(),
            Body::Fail { about } => f.debug_struct("Fail").field("about", &Name(about)).finish(),
            Body::Publish { channel, message } => f
                .debug_struct("Publish")
                .field("channel", &String::from_utf8_lossy(channel))
                .field("message", &String::from_utf8_lossy(message))
                .finish(),
            Body::Update {
                config_epoch,
                nodename,
                slots,
            } => f
                .debug_struct("Update")
                .field("config_epoch", config_epoch)
                .field("nodename", &Name(nodename))
                .field("slots", &Slots(slots))
                .finish(),
            Body::Module {
                module_id,
                type_,
                payload,
            } => f
                .debug_struct("Module")
                .field("module_id", module_id)
                .field("type_", type_)
                .field("payload", payload)
                .finish(),
            Body::Empty => write!(f, "Empty"),
            Body::Unknown { data } => f.debug_struct("Unknown").field("len", &data.len()).finish(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub body: Body,
}

/// Why bytes on the bus are not a message we accept. From `frame_len` (a bad signature, or a
/// totlen under HEADER_LEN): Redis frees the link (clusterReadHandler). From `decode`: Redis
/// 7.0.15 only drops the message and keeps the link (clusterProcessPacket's sanity checks
/// `return 1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BusError {
    /// Not "RCmb", or a version other than 1.
    BadSignature,
    /// totlen does not fit the type (clusterProcessPacket's explen checks), or is not the
    /// length of the bytes given.
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

/// clusterMsg's field offsets (cluster.h's static_asserts).
pub mod offset {
    pub const SIG: usize = 0;
    pub const TOTLEN: usize = 4;
    pub const VER: usize = 8;
    pub const PORT: usize = 10;
    pub const TYPE: usize = 12;
    pub const COUNT: usize = 14;
    pub const CURRENT_EPOCH: usize = 16;
    pub const CONFIG_EPOCH: usize = 24;
    pub const OFFSET: usize = 32;
    pub const SENDER: usize = 40;
    pub const MYSLOTS: usize = 80;
    pub const SLAVEOF: usize = 2128;
    pub const MYIP: usize = 2168;
    pub const EXTENSIONS: usize = 2214;
    pub const NOTUSED1: usize = 2216;
    pub const PPORT: usize = 2246;
    pub const CPORT: usize = 2248;
    pub const FLAGS: usize = 2250;
    pub const STATE: usize = 2252;
    pub const MFLAGS: usize = 2253;
    pub const DATA: usize = 2256;
}

/// CLUSTER_PROTO_VER.
pub const PROTO_VER: u16 = 1;
/// sizeof(clusterMsgDataGossip).
pub const GOSSIP_LEN: usize = 104;
/// sizeof(clusterMsgDataUpdate): configEpoch, nodename, slots.
pub const UPDATE_LEN: usize = 8 + NAMELEN_HEX + SLOTS / 8;
/// sizeof(clusterMsg): the header and the largest data (UPDATE's).
pub const MSG_LEN: usize = HEADER_LEN + UPDATE_LEN;
/// sizeof(clusterMsgPingExt): an extension's header (length, type, unused).
pub const EXT_HEADER_LEN: usize = 8;
/// clusterMsgDataPublish's two lengths before bulk_data.
pub const PUBLISH_PREFIX: usize = 8;
/// clusterMsgModule's module_id, len and type before bulk_data.
pub const MODULE_PREFIX: usize = 13;

/// The wire size of an extension whose data is `data_len` bytes (getAlignedPingExtSize:
/// the header plus the data rounded up to a multiple of 8).
pub fn ext_size(data_len: usize) -> usize {
    EXT_HEADER_LEN + data_len.div_ceil(8) * 8
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(x)
}
fn name(b: &[u8], at: usize) -> NodeName {
    let mut n = [0u8; NAMELEN_HEX];
    n.copy_from_slice(&b[at..at + NAMELEN_HEX]);
    n
}
fn slot_bitmap(b: &[u8], at: usize) -> Box<[u8; SLOTS / 8]> {
    let mut s = Box::new([0u8; SLOTS / 8]);
    s.copy_from_slice(&b[at..at + SLOTS / 8]);
    s
}
/// A C string in a fixed field: the bytes before the first NUL (all of them if none).
fn c_str(field: &[u8]) -> String {
    let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// One whole message (exactly `frame_len` bytes) → its typed form, with clusterProcessPacket's
/// checks (version 1, totlen == the length the type and its counts imply). Never panics,
/// whatever the bytes.
///
/// Where 7.0.15 would read past the message (an extension header or a forgotten-node/shard-id
/// body not within totlen, an extension length under 8 or over 65535 — Redis keeps it in a
/// uint16_t — or PUBLISH/MODULE lengths whose 32-bit sum wraps), the message is refused. A
/// PING/PONG/MEET without FLAG0_EXT_DATA has no extensions, whatever its `extensions` says
/// (Redis validates them only under that flag).
pub fn decode(b: &[u8]) -> Result<Message, BusError> {
    use offset as o;
    if b.len() < HEADER_LEN {
        return Err(BusError::BadLength);
    }
    if &b[..4] != b"RCmb" {
        return Err(BusError::BadSignature);
    }
    if be32(b, o::TOTLEN) as usize != b.len() {
        return Err(BusError::BadLength);
    }
    if be16(b, o::VER) != PROTO_VER {
        return Err(BusError::BadSignature);
    }
    let type_ = be16(b, o::TYPE);
    let count = be16(b, o::COUNT);
    let mut mflags = [0u8; 3];
    mflags.copy_from_slice(&b[o::MFLAGS..o::MFLAGS + 3]);
    let header = Header {
        type_,
        count,
        port: be16(b, o::PORT),
        current_epoch: be64(b, o::CURRENT_EPOCH),
        config_epoch: be64(b, o::CONFIG_EPOCH),
        offset: be64(b, o::OFFSET),
        sender: name(b, o::SENDER),
        myslots: slot_bitmap(b, o::MYSLOTS),
        slaveof: name(b, o::SLAVEOF),
        // nodeIp2String: NET_IP_STR_LEN bytes, the last forced to NUL.
        myip: c_str(&b[o::MYIP..o::MYIP + IP_LEN - 1]),
        pport: be16(b, o::PPORT),
        cport: be16(b, o::CPORT),
        flags: be16(b, o::FLAGS),
        state: b[o::STATE],
        mflags,
    };
    let data = &b[HEADER_LEN..];
    let exact = |len: usize| {
        if data.len() == len {
            Ok(())
        } else {
            Err(BusError::BadLength)
        }
    };
    let body = match type_ {
        TYPE_PING | TYPE_PONG | TYPE_MEET => {
            let glen = GOSSIP_LEN * count as usize;
            if data.len() < glen {
                return Err(BusError::BadLength);
            }
            let gossip = data[..glen]
                .chunks_exact(GOSSIP_LEN)
                .map(decode_gossip)
                .collect();
            let mut exts = Vec::new();
            let mut pos = glen;
            if mflags[0] & FLAG0_EXT_DATA != 0 {
                for _ in 0..be16(b, o::EXTENSIONS) {
                    if data.len() - pos < EXT_HEADER_LEN {
                        return Err(BusError::BadLength);
                    }
                    let len = be32(data, pos) as usize;
                    if len < EXT_HEADER_LEN
                        || !len.is_multiple_of(8)
                        || len > u16::MAX as usize
                        || len > data.len() - pos
                    {
                        return Err(BusError::BadLength);
                    }
                    let etype = be16(data, pos + 4);
                    exts.push(decode_ext(etype, &data[pos + EXT_HEADER_LEN..pos + len]));
                    pos += len;
                }
            }
            exact(pos)?;
            Body::Ping { gossip, exts }
        }
        TYPE_FAIL => {
            exact(NAMELEN_HEX)?;
            Body::Fail {
                about: name(data, 0),
            }
        }
        TYPE_PUBLISH | TYPE_PUBLISHSHARD => {
            if data.len() < PUBLISH_PREFIX {
                return Err(BusError::BadLength);
            }
            // u64: Redis's u32 sum may wrap (and then be taken); never here.
            let clen = be32(data, 0) as u64;
            let mlen = be32(data, 4) as u64;
            if data.len() as u64 != PUBLISH_PREFIX as u64 + clen + mlen {
                return Err(BusError::BadLength);
            }
            let clen = clen as usize;
            let bulk = &data[PUBLISH_PREFIX..];
            Body::Publish {
                channel: bulk[..clen].to_vec(),
                message: bulk[clen..].to_vec(),
            }
        }
        TYPE_FAILOVER_AUTH_REQUEST | TYPE_FAILOVER_AUTH_ACK | TYPE_MFSTART => {
            exact(0)?;
            Body::Empty
        }
        TYPE_UPDATE => {
            exact(UPDATE_LEN)?;
            Body::Update {
                config_epoch: be64(data, 0),
                nodename: name(data, 8),
                slots: slot_bitmap(data, 8 + NAMELEN_HEX),
            }
        }
        TYPE_MODULE => {
            if data.len() < MODULE_PREFIX {
                return Err(BusError::BadLength);
            }
            if data.len() as u64 != MODULE_PREFIX as u64 + be32(data, 8) as u64 {
                return Err(BusError::BadLength);
            }
            let mut id = [0u8; 8];
            id.copy_from_slice(&data[..8]);
            Body::Module {
                // Not byte-swapped by Redis ("Endian-safe ID"): the sender's memory order,
                // little-endian on the machines Redis runs on.
                module_id: u64::from_le_bytes(id),
                type_: data[12],
                payload: data[MODULE_PREFIX..].to_vec(),
            }
        }
        _ => Body::Unknown {
            data: data.to_vec(),
        },
    };
    Ok(Message { header, body })
}

fn decode_gossip(g: &[u8]) -> Gossip {
    Gossip {
        nodename: name(g, 0),
        ping_sent: be32(g, 40),
        pong_received: be32(g, 44),
        ip: c_str(&g[48..48 + IP_LEN]),
        port: be16(g, 94),
        cport: be16(g, 96),
        flags: be16(g, 98),
        pport: be16(g, 100),
    }
}

fn decode_ext(type_: u16, data: &[u8]) -> PingExt {
    match type_ {
        EXT_HOSTNAME => PingExt::Hostname(c_str(data)),
        EXT_HUMAN_NODENAME => PingExt::HumanNodename(c_str(data)),
        EXT_FORGOTTEN_NODE if data.len() >= NAMELEN_HEX + 8 => PingExt::ForgottenNode {
            name: name(data, 0),
            ttl: be64(data, NAMELEN_HEX),
        },
        EXT_SHARDID if data.len() >= NAMELEN_HEX => PingExt::ShardId(name(data, 0)),
        _ => PingExt::Unknown {
            type_,
            data: data.to_vec(),
        },
    }
}

/// A message → the bytes redis-server would send for it (clusterBuildMessageHdr and the
/// clusterSend* functions): totlen computed; for PING/PONG/MEET `count` and `extensions` from
/// the body and FLAG0_EXT_DATA set when there are extensions (writePingExt); other types send
/// `header.count` (Redis: 0) and no extensions. IPs longer than 45 bytes are cut (Redis's
/// strncpy into NET_IP_STR_LEN). The body is written as given, whatever `header.type_` says:
/// keeping them consistent is the caller's part.
pub fn encode(msg: &Message) -> Vec<u8> {
    use offset as o;
    let h = &msg.header;
    let mut out = vec![0u8; HEADER_LEN];
    out[o::SIG..o::SIG + 4].copy_from_slice(b"RCmb");
    out[o::VER..o::VER + 2].copy_from_slice(&PROTO_VER.to_be_bytes());
    out[o::PORT..o::PORT + 2].copy_from_slice(&h.port.to_be_bytes());
    out[o::TYPE..o::TYPE + 2].copy_from_slice(&h.type_.to_be_bytes());
    out[o::CURRENT_EPOCH..o::CURRENT_EPOCH + 8].copy_from_slice(&h.current_epoch.to_be_bytes());
    out[o::CONFIG_EPOCH..o::CONFIG_EPOCH + 8].copy_from_slice(&h.config_epoch.to_be_bytes());
    out[o::OFFSET..o::OFFSET + 8].copy_from_slice(&h.offset.to_be_bytes());
    out[o::SENDER..o::SENDER + NAMELEN_HEX].copy_from_slice(&h.sender);
    out[o::MYSLOTS..o::MYSLOTS + SLOTS / 8].copy_from_slice(&h.myslots[..]);
    out[o::SLAVEOF..o::SLAVEOF + NAMELEN_HEX].copy_from_slice(&h.slaveof);
    put_ip(&mut out[o::MYIP..o::MYIP + IP_LEN], &h.myip);
    out[o::PPORT..o::PPORT + 2].copy_from_slice(&h.pport.to_be_bytes());
    out[o::CPORT..o::CPORT + 2].copy_from_slice(&h.cport.to_be_bytes());
    out[o::FLAGS..o::FLAGS + 2].copy_from_slice(&h.flags.to_be_bytes());
    out[o::STATE] = h.state;
    out[o::MFLAGS..o::MFLAGS + 3].copy_from_slice(&h.mflags);
    let mut count = h.count;
    match &msg.body {
        Body::Ping { gossip, exts } => {
            count = gossip.len() as u16;
            for g in gossip {
                let at = out.len();
                out.resize(at + GOSSIP_LEN, 0);
                let e = &mut out[at..];
                e[..40].copy_from_slice(&g.nodename);
                e[40..44].copy_from_slice(&g.ping_sent.to_be_bytes());
                e[44..48].copy_from_slice(&g.pong_received.to_be_bytes());
                put_ip(&mut e[48..48 + IP_LEN], &g.ip);
                e[94..96].copy_from_slice(&g.port.to_be_bytes());
                e[96..98].copy_from_slice(&g.cport.to_be_bytes());
                e[98..100].copy_from_slice(&g.flags.to_be_bytes());
                e[100..102].copy_from_slice(&g.pport.to_be_bytes());
            }
            for x in exts {
                encode_ext(&mut out, x);
            }
            if !exts.is_empty() {
                out[o::MFLAGS] |= FLAG0_EXT_DATA;
            }
            out[o::EXTENSIONS..o::EXTENSIONS + 2]
                .copy_from_slice(&(exts.len() as u16).to_be_bytes());
        }
        Body::Fail { about } => out.extend_from_slice(about),
        Body::Publish { channel, message } => {
            out.extend_from_slice(&(channel.len() as u32).to_be_bytes());
            out.extend_from_slice(&(message.len() as u32).to_be_bytes());
            out.extend_from_slice(channel);
            out.extend_from_slice(message);
        }
        Body::Update {
            config_epoch,
            nodename,
            slots,
        } => {
            out.extend_from_slice(&config_epoch.to_be_bytes());
            out.extend_from_slice(nodename);
            out.extend_from_slice(&slots[..]);
        }
        Body::Module {
            module_id,
            type_,
            payload,
        } => {
            out.extend_from_slice(&module_id.to_le_bytes());
            out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            out.push(*type_);
            out.extend_from_slice(payload);
        }
        Body::Empty => {}
        Body::Unknown { data } => out.extend_from_slice(data),
    }
    out[o::COUNT..o::COUNT + 2].copy_from_slice(&count.to_be_bytes());
    let totlen = out.len() as u32;
    out[o::TOTLEN..o::TOTLEN + 4].copy_from_slice(&totlen.to_be_bytes());
    out
}

/// An IP into its NET_IP_STR_LEN field: at most 45 bytes, then NULs.
fn put_ip(field: &mut [u8], ip: &str) {
    let b = ip.as_bytes();
    let n = b.len().min(IP_LEN - 1);
    field[..n].copy_from_slice(&b[..n]);
}

/// One extension: header, data, zero padding to 8 (strings NUL-terminated first).
fn encode_ext(out: &mut Vec<u8>, x: &PingExt) {
    let (type_, data): (u16, std::borrow::Cow<[u8]>) = match x {
        PingExt::Hostname(s) => (EXT_HOSTNAME, nul_terminated(s)),
        PingExt::HumanNodename(s) => (EXT_HUMAN_NODENAME, nul_terminated(s)),
        PingExt::ForgottenNode { name, ttl } => {
            let mut d = name.to_vec();
            d.extend_from_slice(&ttl.to_be_bytes());
            (EXT_FORGOTTEN_NODE, d.into())
        }
        PingExt::ShardId(id) => (EXT_SHARDID, id[..].into()),
        PingExt::Unknown { type_, data } => (*type_, data[..].into()),
    };
    let len = ext_size(data.len());
    out.extend_from_slice(&(len as u32).to_be_bytes());
    out.extend_from_slice(&type_.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&data);
    out.resize(out.len() + len - EXT_HEADER_LEN - data.len(), 0);
}

fn nul_terminated(s: &str) -> std::borrow::Cow<'static, [u8]> {
    let mut d = s.as_bytes().to_vec();
    d.push(0);
    d.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(type_: u16) -> Header {
        Header {
            type_,
            count: 0,
            port: 7000,
            current_epoch: 5,
            config_epoch: 3,
            offset: 1234,
            sender: [b'a'; 40],
            myslots: Box::new([0; SLOTS / 8]),
            slaveof: [0; 40],
            myip: String::new(),
            pport: 0,
            cport: 17000,
            flags: crate::cluster::flags::MYSELF | crate::cluster::flags::MASTER,
            state: 1,
            mflags: [0; 3],
        }
    }

    #[test]
    fn sizes_are_cluster_h_s() {
        assert_eq!(HEADER_LEN, offset::DATA);
        assert_eq!(GOSSIP_LEN, 40 + 4 + 4 + IP_LEN + 2 * 5);
        assert_eq!(MSG_LEN, 4352);
        assert_eq!(ext_size(0), 8);
        assert_eq!(ext_size(1), 16);
        assert_eq!(ext_size(8), 16);
        assert_eq!(ext_size(9), 24);
    }

    /// Every field lands where cluster.h's static_asserts say, big-endian.
    #[test]
    fn header_fields_at_cluster_h_offsets() {
        let mut h = header(TYPE_UPDATE);
        h.count = 0x0102;
        h.port = 0x0304;
        h.current_epoch = 0x1112131415161718;
        h.config_epoch = 0x2122232425262728;
        h.offset = 0x3132333435363738;
        h.sender = [b's'; 40];
        h.myslots[0] = 0x81;
        h.myslots[2047] = 0x7e;
        h.slaveof = [b'm'; 40];
        h.myip = "10.1.2.3".into();
        h.pport = 0x4142;
        h.cport = 0x5152;
        h.flags = 0x6162;
        h.state = 0x71;
        h.mflags = [0x72, 0x73, 0x74];
        let msg = Message {
            header: h,
            body: Body::Update {
                config_epoch: 0x0a0b0c0d0e0f1011,
                nodename: [b'n'; 40],
                slots: Box::new([0x55; SLOTS / 8]),
            },
        };
        let b = encode(&msg);
        use offset as o;
        assert_eq!(b.len(), MSG_LEN);
        assert_eq!(&b[o::SIG..4], b"RCmb");
        assert_eq!(
            &b[o::TOTLEN..o::TOTLEN + 4],
            &(MSG_LEN as u32).to_be_bytes()
        );
        assert_eq!(&b[o::VER..o::VER + 2], &[0, 1]);
        assert_eq!(&b[o::PORT..o::PORT + 2], &[3, 4]);
        assert_eq!(&b[o::TYPE..o::TYPE + 2], &[0, 7]);
        assert_eq!(&b[o::COUNT..o::COUNT + 2], &[1, 2]);
        assert_eq!(
            &b[o::CURRENT_EPOCH..o::CURRENT_EPOCH + 8],
            &[0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18]
        );
        assert_eq!(
            &b[o::CONFIG_EPOCH..o::CONFIG_EPOCH + 8],
            &[0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28]
        );
        assert_eq!(
            &b[o::OFFSET..o::OFFSET + 8],
            &[0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38]
        );
        assert_eq!(&b[o::SENDER..o::SENDER + 40], &[b's'; 40]);
        assert_eq!(b[o::MYSLOTS], 0x81);
        assert_eq!(b[o::MYSLOTS + 2047], 0x7e);
        assert_eq!(&b[o::SLAVEOF..o::SLAVEOF + 40], &[b'm'; 40]);
        assert_eq!(&b[o::MYIP..o::MYIP + 9], b"10.1.2.3\0");
        assert_eq!(&b[o::EXTENSIONS..o::EXTENSIONS + 2], &[0, 0]);
        assert!(b[o::NOTUSED1..o::PPORT].iter().all(|&x| x == 0));
        assert_eq!(&b[o::PPORT..o::PPORT + 2], &[0x41, 0x42]);
        assert_eq!(&b[o::CPORT..o::CPORT + 2], &[0x51, 0x52]);
        assert_eq!(&b[o::FLAGS..o::FLAGS + 2], &[0x61, 0x62]);
        assert_eq!(b[o::STATE], 0x71);
        assert_eq!(&b[o::MFLAGS..o::MFLAGS + 3], &[0x72, 0x73, 0x74]);
        assert_eq!(
            &b[o::DATA..o::DATA + 8],
            &[0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11]
        );
        assert_eq!(&b[o::DATA + 8..o::DATA + 48], &[b'n'; 40]);
        assert!(b[o::DATA + 48..].iter().all(|&x| x == 0x55));
        assert_eq!(decode(&b).unwrap(), msg);
    }

    /// clusterMsgDataGossip's layout and writeHostnamePingExt's padding.
    #[test]
    fn gossip_and_hostname_layout() {
        let mut h = header(TYPE_PING);
        h.count = 1;
        h.mflags[0] = FLAG0_EXT_DATA;
        let msg = Message {
            header: h,
            body: Body::Ping {
                gossip: vec![Gossip {
                    nodename: [b'g'; 40],
                    ping_sent: 0x01020304,
                    pong_received: 0x05060708,
                    ip: "127.0.0.1".into(),
                    port: 0x1112,
                    cport: 0x2122,
                    flags: 0x3132,
                    pport: 0x4142,
                }],
                exts: vec![
                    PingExt::Hostname("host-1".into()),
                    PingExt::Hostname("12345678".into()),
                ],
            },
        };
        let b = encode(&msg);
        assert_eq!(b.len(), HEADER_LEN + GOSSIP_LEN + 16 + 24);
        assert_eq!(&b[offset::COUNT..offset::COUNT + 2], &[0, 1]);
        assert_eq!(&b[offset::EXTENSIONS..offset::EXTENSIONS + 2], &[0, 2]);
        assert_eq!(b[offset::MFLAGS], FLAG0_EXT_DATA);
        let g = &b[HEADER_LEN..HEADER_LEN + GOSSIP_LEN];
        assert_eq!(&g[..40], &[b'g'; 40]);
        assert_eq!(&g[40..48], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&g[48..58], b"127.0.0.1\0");
        assert_eq!(
            &g[94..104],
            &[0x11, 0x12, 0x21, 0x22, 0x31, 0x32, 0x41, 0x42, 0, 0]
        );
        let x = &b[HEADER_LEN + GOSSIP_LEN..];
        assert_eq!(&x[..16], b"\0\0\0\x10\0\0\0\0host-1\0\0");
        assert_eq!(&x[16..], b"\0\0\0\x18\0\0\0\x0012345678\0\0\0\0\0\0\0\0");
        assert_eq!(decode(&b).unwrap(), msg);
    }

    #[test]
    fn publish_module_and_7_2_extensions_layout() {
        let msg = Message {
            header: header(TYPE_PUBLISH),
            body: Body::Publish {
                channel: b"ch".to_vec(),
                message: b"hello".to_vec(),
            },
        };
        let b = encode(&msg);
        assert_eq!(b.len(), HEADER_LEN + 8 + 2 + 5);
        assert_eq!(&b[HEADER_LEN..], b"\0\0\0\x02\0\0\0\x05chhello");
        assert_eq!(decode(&b).unwrap(), msg);

        let msg = Message {
            header: header(TYPE_MODULE),
            body: Body::Module {
                module_id: 0x0102030405060708,
                type_: 9,
                payload: b"xyz".to_vec(),
            },
        };
        let b = encode(&msg);
        assert_eq!(b.len(), HEADER_LEN + 16 - 3 + 3);
        assert_eq!(
            &b[HEADER_LEN..],
            b"\x08\x07\x06\x05\x04\x03\x02\x01\0\0\0\x03\x09xyz"
        );
        assert_eq!(decode(&b).unwrap(), msg);

        let mut h = header(TYPE_PONG);
        h.mflags[0] = FLAG0_EXT_DATA;
        let msg = Message {
            header: h,
            body: Body::Ping {
                gossip: vec![],
                exts: vec![
                    PingExt::ForgottenNode {
                        name: [b'f'; 40],
                        ttl: 0x3c,
                    },
                    PingExt::ShardId([b'd'; 40]),
                    PingExt::HumanNodename("n".into()),
                    PingExt::Unknown {
                        type_: 77,
                        data: vec![1; 8],
                    },
                ],
            },
        };
        let b = encode(&msg);
        let x = &b[HEADER_LEN..];
        assert_eq!(&x[..8], b"\0\0\0\x38\0\x02\0\0");
        assert_eq!(&x[48..56], &[0, 0, 0, 0, 0, 0, 0, 0x3c]);
        assert_eq!(&x[56..64], b"\0\0\0\x30\0\x03\0\0");
        assert_eq!(&x[104..112], b"\0\0\0\x10\0\x01\0\0");
        assert_eq!(&x[120..128], b"\0\0\0\x10\0\x4d\0\0");
        assert_eq!(x.len(), 136);
        assert_eq!(decode(&b).unwrap(), msg);
    }

    fn set_be16(b: &mut [u8], at: usize, v: u16) {
        b[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
    fn set_be32(b: &mut [u8], at: usize, v: u32) {
        b[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }

    /// clusterProcessPacket's explen rules.
    #[test]
    fn redis_length_checks() {
        let ping = Message {
            header: header(TYPE_PING),
            body: Body::Ping {
                gossip: vec![],
                exts: vec![PingExt::Hostname("h".into())],
            },
        };
        let good = encode(&ping);
        // Wrong version, wrong signature, totlen not the buffer's length.
        let mut b = good.clone();
        set_be16(&mut b, offset::VER, 2);
        assert_eq!(decode(&b), Err(BusError::BadSignature));
        let mut b = good.clone();
        b[0] = b'X';
        assert_eq!(decode(&b), Err(BusError::BadSignature));
        assert_eq!(decode(&good[..good.len() - 1]), Err(BusError::BadLength));
        // An extension length not a multiple of 8, or past totlen.
        let mut b = good.clone();
        set_be32(&mut b, HEADER_LEN, 12);
        assert_eq!(decode(&b), Err(BusError::BadLength));
        let mut b = good.clone();
        set_be32(&mut b, HEADER_LEN, 24);
        assert_eq!(decode(&b), Err(BusError::BadLength));
        // Without FLAG0_EXT_DATA the extension is trailing garbage: explen != totlen.
        let mut b = good.clone();
        b[offset::MFLAGS] = 0;
        assert_eq!(decode(&b), Err(BusError::BadLength));
        // A gossip count beyond the message.
        let mut b = good.clone();
        set_be16(&mut b, offset::COUNT, 1);
        assert_eq!(decode(&b), Err(BusError::BadLength));
        // Fixed-size types.
        for (t, len) in [
            (TYPE_FAIL, 40),
            (TYPE_UPDATE, UPDATE_LEN),
            (TYPE_FAILOVER_AUTH_REQUEST, 0),
            (TYPE_FAILOVER_AUTH_ACK, 0),
            (TYPE_MFSTART, 0),
        ] {
            for n in [len.wrapping_sub(1), len, len + 1] {
                if n > UPDATE_LEN + 1 {
                    continue;
                }
                let mut b = vec![0u8; HEADER_LEN + n];
                b[..4].copy_from_slice(b"RCmb");
                set_be32(&mut b, 4, (HEADER_LEN + n) as u32);
                set_be16(&mut b, offset::VER, 1);
                set_be16(&mut b, offset::TYPE, t);
                assert_eq!(decode(&b).is_ok(), n == len, "type {t} len {n}");
            }
        }
        // PUBLISH lengths must add up (also when their 32-bit sum would wrap).
        let mut b = encode(&Message {
            header: header(TYPE_PUBLISH),
            body: Body::Publish {
                channel: b"c".to_vec(),
                message: b"m".to_vec(),
            },
        });
        assert!(decode(&b).is_ok());
        set_be32(&mut b, HEADER_LEN, 0xffff_ffff);
        set_be32(&mut b, HEADER_LEN + 4, 3);
        assert_eq!(decode(&b), Err(BusError::BadLength));
        // An unknown type is taken whole.
        let mut b = good.clone();
        set_be16(&mut b, offset::TYPE, 42);
        let m = decode(&b).unwrap();
        assert_eq!(m.header.type_, 42);
        assert_eq!(
            m.body,
            Body::Unknown {
                data: good[HEADER_LEN..].to_vec()
            }
        );
        assert_eq!(decode(&encode(&m)), Ok(m));
    }

    #[test]
    fn frame_len_rules() {
        assert_eq!(frame_len(b"RCmb"), None);
        assert_eq!(
            frame_len(b"RCmX\0\0\x10\0"),
            Some(Err(BusError::BadSignature))
        );
        assert_eq!(
            frame_len(b"RCmb\0\0\x08\xcf"),
            Some(Err(BusError::BadLength))
        );
        assert_eq!(frame_len(b"RCmb\0\0\x08\xd0"), Some(Ok(2256)));
    }

    // ---- property tests -----------------------------------------------------------------

    fn arb_name() -> impl Strategy<Value = NodeName> {
        prop::array::uniform32(any::<u8>()).prop_flat_map(|a| {
            prop::array::uniform8(any::<u8>()).prop_map(move |b| {
                let mut n = [0u8; 40];
                n[..32].copy_from_slice(&a);
                n[32..].copy_from_slice(&b);
                n
            })
        })
    }
    fn arb_slots() -> impl Strategy<Value = Box<[u8; SLOTS / 8]>> {
        prop::collection::vec((0usize..SLOTS / 8, any::<u8>()), 0..8).prop_map(|v| {
            let mut s = Box::new([0u8; SLOTS / 8]);
            for (i, x) in v {
                s[i] = x;
            }
            s
        })
    }
    fn arb_ip() -> impl Strategy<Value = String> {
        "[0-9a-f:.]{0,45}"
    }
    fn arb_header(type_: u16) -> impl Strategy<Value = Header> {
        (
            (
                any::<u16>(),
                any::<u16>(),
                any::<u64>(),
                any::<u64>(),
                any::<u64>(),
            ),
            (arb_name(), arb_slots(), arb_name(), arb_ip()),
            (
                any::<u16>(),
                any::<u16>(),
                any::<u16>(),
                any::<u8>(),
                any::<[u8; 3]>(),
            ),
        )
            .prop_map(
                move |(
                    (count, port, current_epoch, config_epoch, offset),
                    (sender, myslots, slaveof, myip),
                    (pport, cport, flags, state, mflags),
                )| Header {
                    type_,
                    count,
                    port,
                    current_epoch,
                    config_epoch,
                    offset,
                    sender,
                    myslots,
                    slaveof,
                    myip,
                    pport,
                    cport,
                    flags,
                    state,
                    mflags,
                },
            )
    }
    fn arb_gossip() -> impl Strategy<Value = Gossip> {
        (
            arb_name(),
            any::<u32>(),
            any::<u32>(),
            arb_ip(),
            (any::<u16>(), any::<u16>(), any::<u16>(), any::<u16>()),
        )
            .prop_map(
                |(nodename, ping_sent, pong_received, ip, (port, cport, flags, pport))| Gossip {
                    nodename,
                    ping_sent,
                    pong_received,
                    ip,
                    port,
                    cport,
                    flags,
                    pport,
                },
            )
    }
    fn arb_ext() -> impl Strategy<Value = PingExt> {
        prop_oneof![
            "[a-z0-9.-]{0,70}".prop_map(PingExt::Hostname),
            "[a-zA-Z0-9 _-]{0,20}".prop_map(PingExt::HumanNodename),
            (arb_name(), any::<u64>()).prop_map(|(name, ttl)| PingExt::ForgottenNode { name, ttl }),
            arb_name().prop_map(PingExt::ShardId),
            (4u16..=u16::MAX, prop::collection::vec(any::<u8>(), 0..4)).prop_map(|(type_, w)| {
                PingExt::Unknown {
                    type_,
                    data: w.iter().flat_map(|&x| [x; 8]).collect(),
                }
            }),
        ]
    }
    fn arb_message() -> impl Strategy<Value = Message> {
        let ping = (
            prop_oneof![Just(TYPE_PING), Just(TYPE_PONG), Just(TYPE_MEET)],
            prop::collection::vec(arb_gossip(), 0..5),
            prop::collection::vec(arb_ext(), 0..4),
        )
            .prop_flat_map(|(t, gossip, exts)| {
                arb_header(t).prop_map(move |mut header| {
                    header.count = gossip.len() as u16;
                    if !exts.is_empty() {
                        header.mflags[0] |= FLAG0_EXT_DATA;
                    }
                    Message {
                        header,
                        body: Body::Ping {
                            gossip: gossip.clone(),
                            exts: exts.clone(),
                        },
                    }
                })
            });
        let bytes = || prop::collection::vec(any::<u8>(), 0..40);
        let other = prop_oneof![
            arb_name().prop_map(|about| (TYPE_FAIL, Body::Fail { about })),
            (any::<bool>(), bytes(), bytes()).prop_map(|(s, channel, message)| (
                if s { TYPE_PUBLISHSHARD } else { TYPE_PUBLISH },
                Body::Publish { channel, message }
            )),
            (any::<u64>(), arb_name(), arb_slots()).prop_map(|(config_epoch, nodename, slots)| (
                TYPE_UPDATE,
                Body::Update {
                    config_epoch,
                    nodename,
                    slots
                }
            )),
            (any::<u64>(), any::<u8>(), bytes()).prop_map(|(module_id, type_, payload)| (
                TYPE_MODULE,
                Body::Module {
                    module_id,
                    type_,
                    payload
                }
            )),
            prop_oneof![
                Just(TYPE_FAILOVER_AUTH_REQUEST),
                Just(TYPE_FAILOVER_AUTH_ACK),
                Just(TYPE_MFSTART)
            ]
            .prop_map(|t| (t, Body::Empty)),
            (11u16..=u16::MAX, bytes()).prop_map(|(t, data)| (t, Body::Unknown { data })),
        ]
        .prop_flat_map(|(t, body)| {
            arb_header(t).prop_map(move |header| Message {
                header,
                body: body.clone(),
            })
        });
        prop_oneof![ping, other]
    }

    /// Bytes that pass the frame checks (signature, totlen, version) so decode looks further.
    fn framed(mut b: Vec<u8>) -> Vec<u8> {
        if b.len() < HEADER_LEN {
            b.resize(HEADER_LEN, 0);
        }
        b[..4].copy_from_slice(b"RCmb");
        let n = b.len() as u32;
        set_be32(&mut b, 4, n);
        set_be16(&mut b, offset::VER, 1);
        b
    }

    /// A mutation of a valid message: bytes overwritten (counts, lengths, flags...),
    /// truncated or extended, framed again or not.
    #[derive(Debug, Clone)]
    enum Mutation {
        Set(usize, u8),
        Be16(usize, u16),
        Be32(usize, u32),
        Resize(usize),
    }
    fn arb_mutation() -> impl Strategy<Value = Mutation> {
        let hot = prop_oneof![
            Just(offset::COUNT),
            Just(offset::EXTENSIONS),
            Just(offset::TYPE),
            Just(offset::MFLAGS),
            Just(HEADER_LEN),
            Just(HEADER_LEN + 4),
            Just(HEADER_LEN + 8),
            0usize..5000,
        ];
        prop_oneof![
            (0usize..5000, any::<u8>()).prop_map(|(i, v)| Mutation::Set(i, v)),
            (hot.clone(), any::<u16>()).prop_map(|(i, v)| Mutation::Be16(i, v)),
            (hot, any::<u32>()).prop_map(|(i, v)| Mutation::Be32(i, v)),
            (0usize..5000).prop_map(Mutation::Resize),
        ]
    }
    fn mutate(b: &mut Vec<u8>, m: &Mutation) {
        match *m {
            Mutation::Set(i, v) => {
                if let Some(x) = b.get_mut(i) {
                    *x = v;
                }
            }
            Mutation::Be16(i, v) => {
                if i + 2 <= b.len() {
                    set_be16(b, i, v);
                }
            }
            Mutation::Be32(i, v) => {
                if i + 4 <= b.len() {
                    set_be32(b, i, v);
                }
            }
            Mutation::Resize(n) => b.resize(n, 0),
        }
    }

    /// decode(encode(m)) == m; a decoded message re-encodes to the same bytes.
    fn check_round_trip(m: &Message) -> Result<(), TestCaseError> {
        let b = encode(m);
        let d = decode(&b);
        prop_assert_eq!(d.as_ref(), Ok(m));
        prop_assert_eq!(&frame_len(&b), &Some(Ok(b.len())));
        prop_assert_eq!(encode(d.as_ref().unwrap()), b);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn round_trip(m in arb_message()) {
            check_round_trip(&m)?;
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..3000), frame in any::<bool>()) {
            let b = if frame { framed(b) } else { b };
            let _ = frame_len(&b);
            if let Ok(m) = decode(&b) {
                // Whatever decodes encodes to a message that decodes (strings may have been
                // made valid UTF-8 on the way, so not necessarily to the same one).
                prop_assert!(decode(&encode(&m)).is_ok());
            }
        }

        #[test]
        fn mutated_messages_never_panic(
            m in arb_message(),
            muts in prop::collection::vec(arb_mutation(), 1..4),
            reframe in any::<bool>(),
        ) {
            let mut b = encode(&m);
            for x in &muts {
                mutate(&mut b, x);
            }
            if reframe {
                b = framed(b);
            }
            let _ = frame_len(&b);
            if let Ok(d) = decode(&b) {
                prop_assert!(decode(&encode(&d)).is_ok());
            }
        }
    }

    /// A long fuzz run outside CI (`BUS_FUZZ_ITERS=N cargo test -p oxidis-core --lib
    /// decode_fuzz_long -- --ignored`, default 1,000,000, seed from BUS_FUZZ_SEED): valid
    /// messages of every type mutated 1-4 times (bytes, counts and lengths set to random or
    /// boundary values, cut, grown, reframed); decode must not panic, and whatever decodes
    /// must encode to bytes that decode.
    #[test]
    #[ignore]
    fn decode_fuzz_long() {
        let env = |k: &str, d: u64| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        let iters = env("BUS_FUZZ_ITERS", 1_000_000);
        let mut rng = crate::rng::Rng::new(env("BUS_FUZZ_SEED", 18));
        let ping = |t, gossip: usize, exts: Vec<PingExt>| {
            let mut h = header(t);
            h.count = gossip as u16;
            Message {
                header: h,
                body: Body::Ping {
                    gossip: (0..gossip)
                        .map(|i| Gossip {
                            nodename: [b'0' + i as u8; 40],
                            ping_sent: 1,
                            pong_received: 2,
                            ip: "127.0.0.1".into(),
                            port: 3,
                            cport: 4,
                            flags: 1,
                            pport: 0,
                        })
                        .collect(),
                    exts,
                },
            }
        };
        let all_exts = vec![
            PingExt::Hostname("host".into()),
            PingExt::HumanNodename("human".into()),
            PingExt::ForgottenNode {
                name: [b'f'; 40],
                ttl: 60,
            },
            PingExt::ShardId([b's'; 40]),
            PingExt::Unknown {
                type_: 9,
                data: vec![7; 16],
            },
        ];
        let bases: Vec<Vec<u8>> = vec![
            encode(&ping(TYPE_PING, 0, vec![])),
            encode(&ping(TYPE_PONG, 3, vec![PingExt::Hostname("h".into())])),
            encode(&ping(TYPE_MEET, 1, all_exts)),
            encode(&Message {
                header: header(TYPE_FAIL),
                body: Body::Fail { about: [b'x'; 40] },
            }),
            encode(&Message {
                header: header(TYPE_PUBLISH),
                body: Body::Publish {
                    channel: b"chan".to_vec(),
                    message: b"message".to_vec(),
                },
            }),
            encode(&Message {
                header: header(TYPE_UPDATE),
                body: Body::Update {
                    config_epoch: 9,
                    nodename: [b'u'; 40],
                    slots: Box::new([0xf0; SLOTS / 8]),
                },
            }),
            encode(&Message {
                header: header(TYPE_MODULE),
                body: Body::Module {
                    module_id: 5,
                    type_: 1,
                    payload: b"pay".to_vec(),
                },
            }),
            encode(&Message {
                header: header(TYPE_MFSTART),
                body: Body::Empty,
            }),
        ];
        let hot = [
            offset::TOTLEN,
            offset::VER,
            offset::TYPE,
            offset::COUNT,
            offset::EXTENSIONS,
            offset::MFLAGS,
            HEADER_LEN,
            HEADER_LEN + 4,
            HEADER_LEN + 8,
            HEADER_LEN + GOSSIP_LEN,
            HEADER_LEN + 3 * GOSSIP_LEN,
        ];
        let boundary = [
            0u32,
            1,
            7,
            8,
            9,
            16,
            0xffff,
            0x10000,
            0x7fff_ffff,
            0xffff_ffff,
        ];
        let (mut decoded, mut refused) = (0u64, 0u64);
        for _ in 0..iters {
            let mut b = bases[rng.below(bases.len() as u64) as usize].clone();
            for _ in 0..1 + rng.below(4) {
                let at = if rng.below(2) == 0 {
                    hot[rng.below(hot.len() as u64) as usize]
                } else {
                    rng.below(b.len() as u64 + 8) as usize
                };
                let v = if rng.below(2) == 0 {
                    boundary[rng.below(boundary.len() as u64) as usize]
                } else {
                    rng.next_u64() as u32
                };
                match rng.below(5) {
                    0 => mutate(&mut b, &Mutation::Set(at, v as u8)),
                    1 => mutate(&mut b, &Mutation::Be16(at, v as u16)),
                    2 => mutate(&mut b, &Mutation::Be32(at, v)),
                    3 => {
                        let n = rng.below(b.len() as u64 + 64) as usize;
                        mutate(&mut b, &Mutation::Resize(n))
                    }
                    _ => {}
                }
            }
            if rng.below(2) == 0 {
                b = framed(b);
            }
            let _ = frame_len(&b);
            match decode(&b) {
                Ok(m) => {
                    decoded += 1;
                    assert!(decode(&encode(&m)).is_ok(), "{m:?}");
                }
                Err(_) => refused += 1,
            }
        }
        eprintln!(
            "decode_fuzz_long: {iters} mutated messages, {decoded} decoded, {refused} refused"
        );
    }
}
