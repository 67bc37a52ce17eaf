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
mod tests;
