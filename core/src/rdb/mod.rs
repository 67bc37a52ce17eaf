//! RDB: Redis's snapshot format, encoded and decoded to bytes (pure; files are the host's).
//!
//! Writes version 10 exactly as Redis 7.0 does (`REDIS0010`, the aux fields redis-ver,
//! redis-bits, ctime, used-mem, aof-base, then per non-empty database SELECTDB + RESIZEDB and
//! its keys, each `[EXPIRETIME_MS] type key value`, then EOF and the CRC-64), with Redis's
//! choice of encoding for every value: strings int-encoded when they are short canonical
//! integers, LZF-compressed above 20 bytes when `rdbcompression` is on; lists as quicklist 2
//! (listpack nodes); small hashes and zsets as one listpack, large ones as their table
//! encodings (zset scores as binary doubles); integer sets as an intset blob.
//!
//! Reads every encoding Redis 7.0 writes for those types and the older ones still found in
//! files (linked list, ziplist, quicklist 1, zipmap, ziplist hashes/zsets, string-double zsets),
//! skips module aux data and LRU/LFU hints, and refuses with a clear error what Oxidis cannot
//! hold (module keys, streams, function libraries, versions newer than 10).
//!
//! DUMP payloads are the same value encoding + the 2-byte RDB version + the CRC-64.

mod crc64;
mod engine_api;
mod lzf;
pub(crate) mod packed;
pub(crate) mod persist;

pub(crate) use engine_api::replay_aof;
pub use engine_api::AofReplay;
pub use persist::{AofFiles, PersistHost};

use crate::cnum::parse_i64;
use crate::config::Config;
use crate::keyspace::Db;
use crate::rng::Rng;
use crate::types::listpack::Listpack;
use crate::types::stream::{Consumer, Group, Nack, StreamId, StreamMeta};
use crate::types::{hash, set::Member, zset, Hash, List, Set, Stream, Value, ZSet};
use packed::{Elem, ListpackWriter};
use std::io::{self, Write};

pub(crate) const RDB_VERSION: u16 = 10;

// Value types (rdb.h).
pub(crate) const TYPE_STRING: u8 = 0;
pub(crate) const TYPE_LIST: u8 = 1;
pub(crate) const TYPE_SET: u8 = 2;
pub(crate) const TYPE_ZSET: u8 = 3;
pub(crate) const TYPE_HASH: u8 = 4;
pub(crate) const TYPE_ZSET_2: u8 = 5;
pub(crate) const TYPE_MODULE_PRE_GA: u8 = 6;
pub(crate) const TYPE_MODULE_2: u8 = 7;
pub(crate) const TYPE_HASH_ZIPMAP: u8 = 9;
pub(crate) const TYPE_LIST_ZIPLIST: u8 = 10;
pub(crate) const TYPE_SET_INTSET: u8 = 11;
pub(crate) const TYPE_ZSET_ZIPLIST: u8 = 12;
pub(crate) const TYPE_HASH_ZIPLIST: u8 = 13;
pub(crate) const TYPE_LIST_QUICKLIST: u8 = 14;
pub(crate) const TYPE_STREAM_LISTPACKS: u8 = 15;
pub(crate) const TYPE_HASH_LISTPACK: u8 = 16;
pub(crate) const TYPE_ZSET_LISTPACK: u8 = 17;
pub(crate) const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub(crate) const TYPE_STREAM_LISTPACKS_2: u8 = 19;
pub(crate) const TYPE_SET_LISTPACK: u8 = 20;
pub(crate) const TYPE_STREAM_LISTPACKS_3: u8 = 21;

// Opcodes.
pub(crate) const OP_FUNCTION2: u8 = 245;
pub(crate) const OP_FUNCTION_PRE_GA: u8 = 246;
pub(crate) const OP_MODULE_AUX: u8 = 247;
pub(crate) const OP_IDLE: u8 = 248;
pub(crate) const OP_FREQ: u8 = 249;
pub(crate) const OP_AUX: u8 = 250;
pub(crate) const OP_RESIZEDB: u8 = 251;
pub(crate) const OP_EXPIRETIME_MS: u8 = 252;
pub(crate) const OP_EXPIRETIME: u8 = 253;
pub(crate) const OP_SELECTDB: u8 = 254;
pub(crate) const OP_EOF: u8 = 255;

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

const QUICKLIST_NODE_PLAIN: u64 = 1;
const QUICKLIST_NODE_PACKED: u64 = 2;

/// What the snapshot's header says and how values are encoded.
#[derive(Clone, Debug)]
pub struct SaveOptions {
    /// `rdbcompression`.
    pub compression: bool,
    /// `rdbchecksum` (no: the trailer is 0, which loaders accept).
    pub checksum: bool,
    pub redis_ver: String,
    pub ctime_secs: u64,
    pub used_mem: u64,
    /// 1 when written as an AOF base (preamble).
    pub aof_base: bool,
    /// `list-max-listpack-size`, for splitting lists into quicklist nodes.
    pub list_max_listpack_size: i64,
    /// The FUNCTION libraries' codes, written before the keys (rdbSaveFunctions).
    pub functions: Vec<Vec<u8>>,
    /// Each key's access data written before it, as the maxmemory policy says
    /// (rdbSaveKeyValuePair: IDLE under an LRU policy, FREQ under an LFU one).
    pub key_meta: KeyMeta,
    /// The replication aux fields (rdbSaveInfoAuxFields with an rsi): repl-stream-db,
    /// repl-id and repl-offset, written for a replica's full sync (and by a node that keeps
    /// its replication state across a restart).
    pub repl: Option<ReplAux>,
    /// `rdb-key-save-delay` (microseconds, a testing knob): the host's `sleep` is called
    /// with it before each key (Redis's debugDelay in rdbSaveRio). The core does no I/O, so
    /// it only takes effect where the host installs `sleep` (the forked children).
    pub key_save_delay_us: i64,
    pub sleep: Option<fn(i64)>,
    /// REPLCONF rdb-filter-only (SLAVE_REQ_RDB_EXCLUDE_DATA): no databases, only the header,
    /// the aux fields and what `functions` holds.
    pub exclude_data: bool,
}

/// The replication info an RDB carries (Redis's rdbSaveInfo).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplAux {
    pub stream_db: i64,
    pub replid: String,
    pub offset: i64,
}

/// Which access opcode precedes each key in a snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeyMeta {
    #[default]
    None,
    /// RDB_OPCODE_IDLE: seconds since the last access (allkeys-lru, volatile-lru).
    Idle,
    /// RDB_OPCODE_FREQ: the LFU counter (allkeys-lfu, volatile-lfu).
    Freq,
}

impl KeyMeta {
    fn of(policy: crate::config::MaxmemoryPolicy) -> KeyMeta {
        use crate::config::MaxmemoryPolicy as P;
        match policy {
            P::AllkeysLru | P::VolatileLru => KeyMeta::Idle,
            P::AllkeysLfu | P::VolatileLfu => KeyMeta::Freq,
            _ => KeyMeta::None,
        }
    }
}

impl SaveOptions {
    pub fn from_config(cfg: &Config, ctime_secs: u64, used_mem: u64) -> SaveOptions {
        SaveOptions {
            compression: cfg.rdbcompression,
            checksum: cfg.rdbchecksum,
            redis_ver: crate::config::REDIS_VERSION.to_string(),
            ctime_secs,
            used_mem,
            aof_base: false,
            list_max_listpack_size: cfg.list_max_listpack_size,
            functions: Vec::new(),
            key_meta: KeyMeta::of(cfg.maxmemory_policy),
            repl: None,
            key_save_delay_us: cfg.rdb_key_save_delay,
            sleep: None,
            exclude_data: false,
        }
    }
}

impl Default for SaveOptions {
    fn default() -> Self {
        SaveOptions {
            compression: true,
            checksum: true,
            redis_ver: crate::config::REDIS_VERSION.to_string(),
            ctime_secs: 0,
            used_mem: 0,
            aof_base: false,
            list_max_listpack_size: -2,
            functions: Vec::new(),
            key_meta: KeyMeta::None,
            repl: None,
            key_save_delay_us: 0,
            sleep: None,
            exclude_data: false,
        }
    }
}

/// Writes RDB data to `W`, keeping the running CRC-64.
pub(crate) struct Encoder<W: Write> {
    w: W,
    crc: u64,
    checksum: bool,
    compress: bool,
    fill: i64,
    lzf: lzf::Lzf,
    key_meta: KeyMeta,
    key_delay: Option<(fn(i64), i64)>,
    /// The save's time (ctime), for IDLE's idle seconds and FREQ's decay.
    now_ms: u64,
}

/// Redis's rdbEncodeInteger: the 2/3/5-byte encodings for values that fit 8/16/32 bits.
fn encode_small_int(v: i64, buf: &mut [u8; 5]) -> usize {
    if (-(1 << 7)..(1 << 7)).contains(&v) {
        buf[0] = 0xc0 | ENC_INT8;
        buf[1] = v as u8;
        2
    } else if (-(1 << 15)..(1 << 15)).contains(&v) {
        buf[0] = 0xc0 | ENC_INT16;
        buf[1..3].copy_from_slice(&(v as i16).to_le_bytes());
        3
    } else if (-(1 << 31)..(1 << 31)).contains(&v) {
        buf[0] = 0xc0 | ENC_INT32;
        buf[1..5].copy_from_slice(&(v as i32).to_le_bytes());
        5
    } else {
        0
    }
}

/// Redis's quicklist node limit for `list-max-listpack-size` (bytes when negative).
fn node_fits(fill: i64, bytes: usize, count: usize) -> bool {
    const SIZES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
    if fill < 0 {
        let i = usize::try_from(-fill - 1).unwrap_or(4).min(4);
        bytes <= SIZES[i]
    } else {
        bytes <= 8192 && (count as i64) <= fill.max(1)
    }
}

impl<W: Write> Encoder<W> {
    pub fn new(w: W, opts: &SaveOptions) -> Encoder<W> {
        Encoder {
            w,
            crc: 0,
            checksum: opts.checksum,
            compress: opts.compression,
            fill: opts.list_max_listpack_size,
            lzf: lzf::Lzf::new(),
            key_meta: opts.key_meta,
            now_ms: opts.ctime_secs.saturating_mul(1000),
            key_delay: opts
                .sleep
                .filter(|_| opts.key_save_delay_us != 0)
                .map(|f| (f, opts.key_save_delay_us)),
        }
    }

    pub fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        if self.checksum {
            self.crc = crc64::crc64(self.crc, b);
        }
        self.w.write_all(b)
    }

    pub fn len(&mut self, n: u64) -> io::Result<()> {
        if n < 1 << 6 {
            self.raw(&[n as u8])
        } else if n < 1 << 14 {
            self.raw(&[0x40 | (n >> 8) as u8, n as u8])
        } else if n <= u64::from(u32::MAX) {
            let mut b = [0x80, 0, 0, 0, 0];
            b[1..].copy_from_slice(&(n as u32).to_be_bytes());
            self.raw(&b)
        } else {
            let mut b = [0x81, 0, 0, 0, 0, 0, 0, 0, 0];
            b[1..].copy_from_slice(&n.to_be_bytes());
            self.raw(&b)
        }
    }

    /// rdbSaveRawString: int-encoded, LZF-compressed or verbatim.
    pub fn string(&mut self, s: &[u8]) -> io::Result<()> {
        if s.len() <= 11 {
            if let Some(v) = parse_i64(s) {
                let mut buf = [0u8; 5];
                let n = encode_small_int(v, &mut buf);
                if n > 0 {
                    return self.raw(&buf[..n]);
                }
            }
        }
        if self.compress && s.len() > 20 {
            if let Some(c) = self.lzf.compress(s, s.len() - 4) {
                self.raw(&[0xc0 | ENC_LZF])?;
                self.len(c.len() as u64)?;
                self.len(s.len() as u64)?;
                return self.raw(&c);
            }
        }
        self.len(s.len() as u64)?;
        self.raw(s)
    }

    /// rdbSaveLongLongAsStringObject (an int-encoded string value).
    pub fn int_string(&mut self, v: i64) -> io::Result<()> {
        let mut buf = [0u8; 5];
        let n = encode_small_int(v, &mut buf);
        if n > 0 {
            return self.raw(&buf[..n]);
        }
        let mut b = itoa::Buffer::new();
        let s = b.format(v).as_bytes();
        self.len(s.len() as u64)?;
        self.raw(s)
    }

    /// rdbSaveObjectType.
    pub fn value_type(v: &Value) -> u8 {
        match v {
            Value::Int(_) | Value::Str(_) => TYPE_STRING,
            Value::List(_) => TYPE_LIST_QUICKLIST_2,
            Value::Hash(h) if h.encoding() == "listpack" => TYPE_HASH_LISTPACK,
            Value::Hash(_) => TYPE_HASH,
            Value::Set(s) if s.is_intset() => TYPE_SET_INTSET,
            Value::Set(_) => TYPE_SET,
            Value::ZSet(z) if z.is_listpack() => TYPE_ZSET_LISTPACK,
            Value::ZSet(_) => TYPE_ZSET_2,
            Value::Stream(_) => TYPE_STREAM_LISTPACKS_2,
        }
    }

    /// rdbSaveObject.
    pub fn value(&mut self, v: &Value) -> io::Result<()> {
        match v {
            Value::Int(n) => self.int_string(*n),
            Value::Str(s) => self.string(s.as_bytes()),
            Value::List(l) => self.list(l),
            Value::Stream(s) => self.stream(s),
            Value::Hash(h) => {
                if h.encoding() == "listpack" {
                    let mut w = ListpackWriter::new();
                    for (f, v) in h.iter() {
                        w.push(f);
                        w.push(v);
                    }
                    self.string(&w.finish())
                } else {
                    self.len(h.len() as u64)?;
                    for (f, v) in h.iter() {
                        self.string(f)?;
                        self.string(v)?;
                    }
                    Ok(())
                }
            }
            Value::Set(s) => {
                if s.is_intset() {
                    let vals: Vec<i64> = s
                        .iter()
                        .filter_map(|m| match m {
                            Member::Int(n) => Some(n),
                            Member::Bytes(b) => parse_i64(b),
                        })
                        .collect();
                    self.string(&packed::intset_blob(&vals))
                } else {
                    self.len(s.len() as u64)?;
                    for m in s.iter() {
                        match m {
                            Member::Int(n) => {
                                self.string(itoa::Buffer::new().format(n).as_bytes())?
                            }
                            Member::Bytes(b) => self.string(b)?,
                        }
                    }
                    Ok(())
                }
            }
            Value::ZSet(z) => {
                if z.is_listpack() {
                    let mut w = ListpackWriter::new();
                    for (m, s) in z.iter() {
                        w.push(m);
                        w.push(d2string(s).as_bytes());
                    }
                    self.string(&w.finish())
                } else {
                    // Greatest to smallest, as Redis walks its skiplist from the tail.
                    let items: Vec<(&[u8], f64)> = z.iter().collect();
                    self.len(items.len() as u64)?;
                    for (m, s) in items.into_iter().rev() {
                        self.string(m)?;
                        self.raw(&s.to_le_bytes())?;
                    }
                    Ok(())
                }
            }
        }
    }

    /// rdbSaveObject's OBJ_STREAM: the nodes as they are (the master ID as a 16-byte
    /// big-endian key, the listpack blob), then the stream's counters and IDs, then the
    /// consumer groups (none until they exist: docs/design/streams.md).
    fn stream(&mut self, s: &Stream) -> io::Result<()> {
        self.len(s.nodes().len() as u64)?;
        for (id, lp) in s.nodes() {
            self.string(&stream_id_key(*id))?;
            self.string(lp.as_bytes())?;
        }
        self.len(s.len())?;
        for id in [s.last_id(), s.first_id(), s.max_deleted_id()] {
            self.len(id.ms)?;
            self.len(id.seq)?;
        }
        self.len(s.entries_added())?;
        self.len(s.groups().len() as u64)?;
        for (name, g) in s.groups() {
            self.string(name)?;
            self.len(g.last_id.ms)?;
            self.len(g.last_id.seq)?;
            // -1 (unknown) is written as a 64-bit length, as Redis's rdbSaveLen of it.
            self.len(g.entries_read as u64)?;
            self.len(g.pel.len() as u64)?;
            for (id, nack) in &g.pel {
                self.raw(&stream_id_key(*id))?;
                self.raw(&nack.delivery_time.to_le_bytes())?;
                self.len(nack.delivery_count)?;
            }
            self.len(g.consumers.len() as u64)?;
            for (name, c) in &g.consumers {
                self.string(name)?;
                self.raw(&c.seen_time.to_le_bytes())?;
                self.len(c.pel.len() as u64)?;
                for id in &c.pel {
                    self.raw(&stream_id_key(*id))?;
                }
            }
        }
        Ok(())
    }

    fn list(&mut self, l: &List) -> io::Result<()> {
        let mut nodes: Vec<Vec<u8>> = Vec::new();
        let mut cur = ListpackWriter::new();
        for item in l.iter() {
            let add = ListpackWriter::entry_size(item);
            if !cur.is_empty() && !node_fits(self.fill, cur.bytes() + add, cur.len() + 1) {
                nodes.push(std::mem::take(&mut cur).finish());
            }
            cur.push(item);
        }
        if !cur.is_empty() {
            nodes.push(cur.finish());
        }
        self.len(nodes.len() as u64)?;
        for n in nodes {
            self.len(QUICKLIST_NODE_PACKED)?;
            self.string(&n)?;
        }
        Ok(())
    }

    /// rdbSaveAuxField.
    pub fn aux(&mut self, key: &str, val: &[u8]) -> io::Result<()> {
        self.raw(&[OP_AUX])?;
        self.string(key.as_bytes())?;
        self.string(val)
    }

    /// rdbSaveKeyValuePair.
    pub fn key_value(&mut self, key: &[u8], val: &Value, expire: Option<u64>) -> io::Result<()> {
        if let Some(at) = expire {
            self.raw(&[OP_EXPIRETIME_MS])?;
            self.raw(&at.to_le_bytes())?;
        }
        self.raw(&[Self::value_type(val)])?;
        self.string(key)?;
        self.value(val)
    }

    /// The header: magic and aux fields.
    pub fn header(&mut self, opts: &SaveOptions) -> io::Result<()> {
        self.raw(format!("REDIS{RDB_VERSION:04}").as_bytes())?;
        self.aux("redis-ver", opts.redis_ver.as_bytes())?;
        self.aux("redis-bits", b"64")?;
        self.aux("ctime", opts.ctime_secs.to_string().as_bytes())?;
        self.aux("used-mem", opts.used_mem.to_string().as_bytes())?;
        if let Some(r) = &opts.repl {
            self.aux("repl-stream-db", r.stream_db.to_string().as_bytes())?;
            self.aux("repl-id", r.replid.as_bytes())?;
            self.aux("repl-offset", r.offset.to_string().as_bytes())?;
        }
        self.aux("aof-base", if opts.aof_base { b"1" } else { b"0" })
    }

    /// rdbSaveFunctions: each library's code after RDB_OPCODE_FUNCTION2.
    pub fn functions(&mut self, codes: &[Vec<u8>]) -> io::Result<()> {
        for code in codes {
            self.raw(&[OP_FUNCTION2])?;
            self.string(code)?;
        }
        Ok(())
    }

    /// One database: SELECTDB, RESIZEDB and every key (nothing for an empty one).
    pub fn database(&mut self, index: usize, db: &Db) -> io::Result<()> {
        if db.is_empty() {
            return Ok(());
        }
        self.raw(&[OP_SELECTDB])?;
        self.len(index as u64)?;
        self.raw(&[OP_RESIZEDB])?;
        self.len(db.len() as u64)?;
        self.len(db.expires.len() as u64)?;
        // The idle times and decays as of the save, not of the database's last command.
        let access = crate::evict::Access {
            now_ms: self.now_ms.max(db.access.now_ms),
            ..db.access
        };
        for (k, v) in db.keys.iter() {
            if let Some((sleep, us)) = self.key_delay {
                sleep(us);
            }
            let key = k.as_bytes();
            if let Some(at) = db.expire_at(key) {
                self.raw(&[OP_EXPIRETIME_MS])?;
                self.raw(&at.to_le_bytes())?;
            }
            match self.key_meta {
                KeyMeta::None => {}
                KeyMeta::Idle => {
                    self.raw(&[OP_IDLE])?;
                    self.len(access.idle_ms(k.lru()) / 1000)?;
                }
                KeyMeta::Freq => {
                    let freq = access.lfu_decr_and_return(k.lru()).min(255) as u8;
                    self.raw(&[OP_FREQ, freq])?;
                }
            }
            self.key_value(key, v, None)?;
        }
        Ok(())
    }

    /// EOF and the checksum; returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.raw(&[OP_EOF])?;
        let crc = if self.checksum { self.crc } else { 0 };
        self.w.write_all(&crc.to_le_bytes())?;
        Ok(self.w)
    }
}

/// A whole snapshot of `dbs` into `w`.
pub fn encode<W: Write>(w: W, dbs: &[Db], opts: &SaveOptions) -> io::Result<W> {
    let mut e = Encoder::new(w, opts);
    e.header(opts)?;
    e.functions(&opts.functions)?;
    if !opts.exclude_data {
        for (i, db) in dbs.iter().enumerate() {
            e.database(i, db)?;
        }
    }
    e.finish()
}

/// A stream ID as Redis's rax keys and RDB files hold it: ms then seq, big-endian.
fn stream_id_key(id: StreamId) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&id.ms.to_be_bytes());
    key[8..].copy_from_slice(&id.seq.to_be_bytes());
    key
}

fn stream_id_from_key(key: &[u8]) -> StreamId {
    let mut ms = [0u8; 8];
    let mut seq = [0u8; 8];
    ms.copy_from_slice(&key[..8]);
    seq.copy_from_slice(&key[8..16]);
    StreamId::new(u64::from_be_bytes(ms), u64::from_be_bytes(seq))
}

/// A whole snapshot as bytes.
pub(crate) fn encode_to_vec(dbs: &[Db], opts: &SaveOptions) -> Vec<u8> {
    // Writing to a Vec cannot fail.
    encode(Vec::new(), dbs, opts).unwrap_or_default()
}

/// Redis's d2string (a listpack zset score): integers without a fraction in ±2^52 as
/// integers, others "%.17g".
pub(crate) fn d2string(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v < 0.0 { "-inf" } else { "inf" }.into()
    } else if v == 0.0 {
        if v.is_sign_negative() { "-0" } else { "0" }.into()
    } else if v > -4503599627370495.0 && v < 4503599627370496.0 && v == (v as i64) as f64 {
        (v as i64).to_string()
    } else {
        crate::resp::format_double_g17(v)
    }
}

/// DUMP's payload: the value, the RDB version (2 bytes LE), the CRC-64 of both (8 bytes LE).
pub(crate) fn dump_payload(v: &Value, cfg: &Config) -> Vec<u8> {
    let opts = SaveOptions {
        checksum: false,
        ..SaveOptions::from_config(cfg, 0, 0)
    };
    let mut e = Encoder::new(Vec::new(), &opts);
    // Writing to a Vec cannot fail.
    let _ = e.raw(&[Encoder::<Vec<u8>>::value_type(v)]);
    let _ = e.value(v);
    let mut out = e.w;
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// FUNCTION DUMP's payload: what rdbSaveFunctions writes, then the RDB version (2 bytes LE)
/// and the CRC-64 of both (8 bytes LE), as DUMP's.
pub(crate) fn function_dump_payload(codes: &[Vec<u8>], cfg: &Config) -> Vec<u8> {
    let opts = SaveOptions {
        checksum: false,
        ..SaveOptions::from_config(cfg, 0, 0)
    };
    let mut e = Encoder::new(Vec::new(), &opts);
    // Writing to a Vec cannot fail.
    let _ = e.functions(codes);
    let mut out = e.w;
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// verifyDumpPayload: the body before the version and checksum.
fn verify_payload(p: &[u8]) -> Result<&[u8], PayloadError> {
    if p.len() < 10 {
        return Err(PayloadError::VersionOrChecksum);
    }
    let footer = &p[p.len() - 10..];
    let ver = u16::from_le_bytes([footer[0], footer[1]]);
    if ver > RDB_VERSION {
        return Err(PayloadError::VersionOrChecksum);
    }
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&footer[2..]);
    if crc64::crc64(0, &p[..p.len() - 8]) != u64::from_le_bytes(crc) {
        return Err(PayloadError::VersionOrChecksum);
    }
    Ok(&p[..p.len() - 10])
}

/// FUNCTION RESTORE's payload: the libraries' codes, or Redis's error text.
pub(crate) fn function_restore_payload(
    p: &[u8],
    cfg: &Config,
    rng: &mut Rng,
) -> Result<Vec<Vec<u8>>, String> {
    let body =
        verify_payload(p).map_err(|_| "DUMP payload version or checksum are wrong".to_string())?;
    let mut d = Decoder::new(body, cfg, rng);
    let mut codes = Vec::new();
    while d.pos < body.len() {
        let t = d.u8()?;
        if t != OP_FUNCTION2 && t != OP_FUNCTION_PRE_GA {
            return Err("given type is not a function".into());
        }
        codes.push(d.function(t)?);
    }
    Ok(codes)
}

/// Why RESTORE refused a payload.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PayloadError {
    /// "DUMP payload version or checksum are wrong"
    VersionOrChecksum,
    /// "Bad data format" (also an empty collection).
    BadFormat,
}

/// Redis's verifyDumpPayload + rdbLoadObjectType + rdbLoadObject.
pub(crate) fn restore_payload(
    p: &[u8],
    cfg: &Config,
    rng: &mut Rng,
) -> Result<Value, PayloadError> {
    let body = verify_payload(p)?;
    let mut d = Decoder::new(body, cfg, rng);
    let t = d.u8().map_err(|_| PayloadError::BadFormat)?;
    match d.object(t) {
        Ok(Some(v)) => Ok(v),
        _ => Err(PayloadError::BadFormat),
    }
}

/// What loading found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadInfo {
    /// Bytes of the input the RDB occupied (an AOF may follow an RDB preamble).
    pub consumed: usize,
    pub version: u32,
    pub keys_loaded: u64,
    pub keys_expired: u64,
    /// The `aof-base` aux field.
    pub aof_base: bool,
    /// The FUNCTION libraries' codes, in file order.
    pub functions: Vec<Vec<u8>>,
    /// The replication aux fields (rdbPopulateSaveInfo): repl-stream-db, repl-id,
    /// repl-offset.
    pub repl_stream_db: Option<usize>,
    pub repl_id: Option<String>,
    pub repl_offset: Option<i64>,
}

/// A loaded key, handed to the caller's sink.
pub(crate) struct LoadedKey {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    pub expire_ms: Option<u64>,
    /// The IDLE (seconds) and FREQ opcodes that preceded it, if any.
    pub idle_secs: Option<u64>,
    pub freq: Option<u8>,
}

/// Decodes a whole RDB (magic to checksum). Keys whose expiry is before `skip_expired_before`
/// are counted and dropped (Redis does so when loading as a master, not for an AOF preamble).
pub(crate) fn decode(
    bytes: &[u8],
    cfg: &Config,
    rng: &mut Rng,
    skip_expired_before: Option<u64>,
    sink: impl FnMut(LoadedKey),
) -> Result<LoadInfo, String> {
    let mut loader = Loader::new(skip_expired_before);
    let (consumed, done) = loader.step(bytes, true, cfg, rng, usize::MAX, sink)?;
    debug_assert!(done);
    let mut info = loader.info;
    info.consumed = consumed;
    Ok(info)
}

/// An RDB parser that can be fed a payload as it arrives (Redis's rdbLoadRio over a socket,
/// or over a file a budget at a time): it keeps its place between records (the selected db,
/// a pending expiry/IDLE/FREQ, the aux fields) and a running CRC of what it consumed, so the
/// caller may drop the consumed bytes.
#[derive(Default)]
pub(crate) struct Loader {
    pub info: LoadInfo,
    header: bool,
    db: usize,
    expire: Option<u64>,
    idle_secs: Option<u64>,
    freq: Option<u8>,
    crc: u64,
    /// Bytes consumed so far (record bytes and checksum).
    pub consumed: u64,
    /// After a short read: wait until this many unconsumed bytes are there (doubling, so a
    /// large record arriving slowly is parsed O(n) times in total, not O(n²)).
    retry_at: usize,
    skip_expired_before: Option<u64>,
    done: bool,
}

impl Loader {
    pub fn new(skip_expired_before: Option<u64>) -> Loader {
        Loader {
            skip_expired_before,
            ..Loader::default()
        }
    }

    pub fn done(&self) -> bool {
        self.done
    }

    /// Parses records from `bytes` (what follows the bytes already consumed) until the end
    /// of the RDB, the end of the input or about `max_bytes` consumed. `complete`: no more
    /// input will come, so a record cut short is an error. Returns (bytes consumed, finished).
    pub fn step(
        &mut self,
        bytes: &[u8],
        complete: bool,
        cfg: &Config,
        rng: &mut Rng,
        max_bytes: usize,
        mut sink: impl FnMut(LoadedKey),
    ) -> Result<(usize, bool), String> {
        if self.done {
            return Ok((0, true));
        }
        if !complete && bytes.len() < self.retry_at {
            return Ok((0, false));
        }
        if complete && !self.header && bytes.len() < 9 {
            return Err("Wrong signature trying to load DB from file".into());
        }
        let mut d = Decoder::new(bytes, cfg, rng);
        // Where the last whole record ended, and (at the end) the checksum's position.
        let mut mark = 0usize;
        let mut eof: Option<(usize, u64)> = None;
        match self.records(&mut d, &mut mark, &mut eof, max_bytes, &mut sink) {
            // With more input to come, a failed record may just be cut short (a short read,
            // or a count checked against the bytes present): parsed again once more arrived;
            // at the end of the input the error is final.
            Err(_) if !complete => {
                let left = bytes.len() - mark;
                self.retry_at = left.saturating_mul(2).max(left + 1);
            }
            Err(e) => return Err(e),
            Ok(()) => self.retry_at = 0,
        }
        let crc_end = eof.map_or(mark, |(at, _)| at);
        if cfg.rdbchecksum {
            self.crc = crc64::crc64(self.crc, &bytes[..crc_end]);
        }
        self.consumed += mark as u64;
        if let Some((_, stored)) = eof {
            if cfg.rdbchecksum && stored != 0 && self.crc != stored {
                return Err(format!(
                    "Wrong RDB checksum expected: ({stored:x}) got ({:x}). Aborting now.",
                    self.crc
                ));
            }
            self.done = true;
        }
        Ok((mark, self.done))
    }

    /// The records: `mark` moves past each whole one; at OP_EOF (with its checksum, RDB 5+)
    /// `eof` gets (where the checksummed bytes end, the stored checksum).
    fn records(
        &mut self,
        d: &mut Decoder<'_>,
        mark: &mut usize,
        eof: &mut Option<(usize, u64)>,
        max_bytes: usize,
        sink: &mut impl FnMut(LoadedKey),
    ) -> Result<(), String> {
        let cfg = d.cfg;
        if !self.header {
            let bytes = d.take(9).map_err(|e| {
                if d.b.len() >= 5 && &d.b[..5] != b"REDIS" {
                    "Wrong signature trying to load DB from file".to_string()
                } else {
                    e
                }
            })?;
            if &bytes[..5] != b"REDIS" {
                return Err("Wrong signature trying to load DB from file".into());
            }
            let ver_txt = std::str::from_utf8(&bytes[5..9]).unwrap_or("");
            let version: u32 = ver_txt
                .parse()
                .map_err(|_| "Wrong signature trying to load DB from file".to_string())?;
            if version < 1 || version > u32::from(RDB_VERSION) {
                return Err(format!("Can't handle RDB format version {version}"));
            }
            self.info.version = version;
            self.header = true;
            *mark = d.pos;
        }
        while *mark < max_bytes {
            let t = d.u8()?;
            match t {
                OP_EXPIRETIME_MS => {
                    let b = d.take(8)?;
                    self.expire = Some(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
                }
                OP_EXPIRETIME => {
                    let b = d.take(4)?;
                    let secs = u32::from_le_bytes(b.try_into().unwrap_or([0; 4]));
                    self.expire = Some(u64::from(secs) * 1000);
                }
                OP_FREQ => {
                    self.freq = Some(d.u8()?);
                }
                OP_IDLE => {
                    self.idle_secs = Some(d.len()?);
                }
                OP_EOF => {
                    let at = d.pos;
                    let stored = if self.info.version >= 5 {
                        let b = d.take(8)?;
                        u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))
                    } else {
                        0
                    };
                    *mark = d.pos;
                    *eof = Some((at, stored));
                    return Ok(());
                }
                OP_SELECTDB => {
                    let n = d.len()?;
                    if n >= cfg.databases as u64 {
                        return Err(format!(
                            "FATAL: Data file was created with a Redis server configured to handle more than {} databases. Exiting",
                            cfg.databases
                        ));
                    }
                    self.db = n as usize;
                }
                OP_RESIZEDB => {
                    d.len()?;
                    d.len()?;
                }
                OP_AUX => {
                    let k = d.string()?;
                    let v = d.string()?;
                    let num = || {
                        std::str::from_utf8(&v)
                            .ok()
                            .and_then(|s| s.parse::<i64>().ok())
                    };
                    let info = &mut self.info;
                    match &k[..] {
                        b"aof-base" => info.aof_base = v == b"1",
                        b"repl-stream-db" => info.repl_stream_db = num().map(|n| n as usize),
                        b"repl-id" => info.repl_id = Some(String::from_utf8_lossy(&v).into_owned()),
                        b"repl-offset" => info.repl_offset = num(),
                        _ => {}
                    }
                }
                OP_MODULE_AUX => {
                    d.len()?; // module id
                    d.skip_module_value()?;
                }
                OP_FUNCTION2 | OP_FUNCTION_PRE_GA => {
                    let code = d.function(t)?;
                    self.info.functions.push(code);
                }
                t => {
                    let key = d.string()?;
                    let v = d
                        .object(t)
                        .map_err(|e| format!("{e} (key '{}')", String::from_utf8_lossy(&key)))?;
                    let exp = self.expire.take();
                    let (idle_secs, freq) = (self.idle_secs.take(), self.freq.take());
                    *mark = d.pos;
                    let Some(value) = v else {
                        continue; // empty collection: Redis skips it too
                    };
                    if let (Some(at), Some(now)) = (exp, self.skip_expired_before) {
                        if at < now {
                            self.info.keys_expired += 1;
                            continue;
                        }
                    }
                    self.info.keys_loaded += 1;
                    sink(LoadedKey {
                        db: self.db,
                        key,
                        value,
                        expire_ms: exp,
                        idle_secs,
                        freq,
                    });
                    continue;
                }
            }
            *mark = d.pos;
        }
        Ok(())
    }
}

/// Reads RDB values from a byte slice; every read is bounds-checked.
pub(crate) struct Decoder<'a> {
    b: &'a [u8],
    pub pos: usize,
    cfg: &'a Config,
    rng: &'a mut Rng,
}

type DResult<T> = Result<T, String>;

fn type_name(t: u8) -> &'static str {
    match t {
        TYPE_MODULE_PRE_GA | TYPE_MODULE_2 => "module",
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => "stream",
        TYPE_SET_LISTPACK => "set (listpack, RDB 11)",
        _ => "unknown",
    }
}

impl<'a> Decoder<'a> {
    pub fn new(b: &'a [u8], cfg: &'a Config, rng: &'a mut Rng) -> Decoder<'a> {
        Decoder {
            b,
            pos: 0,
            cfg,
            rng,
        }
    }

    fn take(&mut self, n: usize) -> DResult<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| "Unexpected EOF reading RDB file".to_string())?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> DResult<u8> {
        Ok(self.take(1)?[0])
    }

    /// rdbLoadLenByRef: (value, is_encoded).
    fn len_enc(&mut self) -> DResult<(u64, bool)> {
        let c = self.u8()?;
        match c >> 6 {
            0 => Ok((u64::from(c & 0x3f), false)),
            1 => Ok(((u64::from(c & 0x3f) << 8) | u64::from(self.u8()?), false)),
            2 => match c {
                0x80 => {
                    let b = self.take(4)?;
                    Ok((
                        u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                        false,
                    ))
                }
                0x81 => {
                    let b = self.take(8)?;
                    Ok((u64::from_be_bytes(b.try_into().unwrap_or([0; 8])), false))
                }
                _ => Err(format!("Unknown length encoding {c} in rdbLoadLen()")),
            },
            _ => Ok((u64::from(c & 0x3f), true)),
        }
    }

    fn len(&mut self) -> DResult<u64> {
        match self.len_enc()? {
            (n, false) => Ok(n),
            _ => Err("unexpected encoded length".into()),
        }
    }

    /// A count of elements that must each take at least one byte of the input.
    fn count(&mut self) -> DResult<usize> {
        let n = self.len()?;
        if n > (self.b.len() - self.pos) as u64 {
            return Err("element count larger than the data".into());
        }
        Ok(n as usize)
    }

    /// rdbGenericLoadStringObject.
    pub fn string(&mut self) -> DResult<Vec<u8>> {
        let (n, enc) = self.len_enc()?;
        if !enc {
            let n = usize::try_from(n).map_err(|_| "string too long")?;
            return Ok(self.take(n)?.to_vec());
        }
        let v: i64 = match n as u8 {
            ENC_INT8 => i64::from(self.u8()? as i8),
            ENC_INT16 => {
                let b = self.take(2)?;
                i64::from(i16::from_le_bytes([b[0], b[1]]))
            }
            ENC_INT32 => {
                let b = self.take(4)?;
                i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            ENC_LZF => {
                let clen = usize::try_from(self.len()?).map_err(|_| "bad LZF length")?;
                let ulen = usize::try_from(self.len()?).map_err(|_| "bad LZF length")?;
                let data = self.take(clen)?;
                // LZF expands at most ~88x; refuse absurd sizes before allocating.
                if ulen > clen.saturating_mul(100).saturating_add(64) || ulen == 0 {
                    return Err("Invalid LZF compressed string".into());
                }
                return lzf::decompress(data, ulen)
                    .ok_or_else(|| "Invalid LZF compressed string".to_string());
            }
            e => return Err(format!("Unknown RDB string encoding type {e}")),
        };
        Ok(itoa::Buffer::new().format(v).as_bytes().to_vec())
    }

    /// The old ZSET type's string-encoded double (rdbLoadDoubleValue).
    fn string_double(&mut self) -> DResult<f64> {
        let n = self.u8()?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let s = self.take(n as usize)?;
                std::str::from_utf8(s)
                    .ok()
                    .and_then(|t| t.parse::<f64>().ok())
                    .ok_or_else(|| "bad double value".to_string())
            }
        }
    }

    /// rdbFunctionLoad's payload: the code (245), or the 7.0 release candidates' name, engine,
    /// description and body made into code (246).
    fn function(&mut self, t: u8) -> DResult<Vec<u8>> {
        if t == OP_FUNCTION2 {
            return self
                .string()
                .map_err(|_| "Failed loading library payload".to_string());
        }
        let name = self.string()?;
        let engine = self.string()?;
        if self.len()? != 0 {
            self.string()?;
        }
        let blob = self.string()?;
        let mut code = b"#!".to_vec();
        code.extend_from_slice(&engine);
        code.extend_from_slice(b" name=");
        code.extend_from_slice(&name);
        code.push(b'\n');
        code.extend_from_slice(&blob);
        Ok(code)
    }

    fn binary_double(&mut self) -> DResult<f64> {
        let b = self.take(8)?;
        Ok(f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    }

    /// rdbLoadCheckModuleValue: skips a module's opcode-tagged data up to its EOF.
    fn skip_module_value(&mut self) -> DResult<()> {
        loop {
            match self.len()? {
                0 => return Ok(()),         // EOF
                1 | 2 => drop(self.len()?), // SINT, UINT
                3 => drop(self.string_double()?),
                4 => drop(self.binary_double()?),
                5 => drop(self.string()?),
                o => return Err(format!("Unknown module opcode {o} in module aux data")),
            }
        }
    }

    fn hash_limits(&self) -> hash::Limits {
        hash::Limits {
            max_entries: self.cfg.hash_max_listpack_entries,
            max_value: self.cfg.hash_max_listpack_value,
        }
    }

    fn zset_limits(&mut self) -> zset::Limits {
        zset::Limits {
            max_entries: usize::try_from(self.cfg.zset_max_listpack_entries).unwrap_or(usize::MAX),
            max_value: usize::try_from(self.cfg.zset_max_listpack_value).unwrap_or(usize::MAX),
            seed: self.rng.next_u64(),
        }
    }

    fn build_hash(
        &mut self,
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
        table: bool,
    ) -> DResult<Option<Value>> {
        if pairs.is_empty() {
            return Ok(None);
        }
        let lim = self.hash_limits();
        let mut h = Hash::new();
        if table && pairs.len() as u64 > lim.max_entries {
            h.convert_to_table(self.rng);
        }
        for (f, v) in pairs {
            if !h.set(&f, &v, &lim, self.rng) {
                return Err("Duplicate hash fields detected".into());
            }
        }
        Ok(Some(Value::Hash(Box::new(h))))
    }

    fn build_set(&mut self, members: Vec<Member<'_>>, table: bool) -> DResult<Option<Value>> {
        if members.is_empty() {
            return Ok(None);
        }
        let max = self.cfg.set_max_intset_entries;
        let mut s = if table && members.len() as u64 > max {
            Set::new_hashtable(self.rng.next_u64())
        } else {
            Set::new_intset()
        };
        for m in members {
            if !s.add_member(m, max, self.rng) {
                return Err("Duplicate set members detected".into());
            }
        }
        Ok(Some(Value::Set(Box::new(s))))
    }

    fn build_zset(&mut self, pairs: Vec<(Vec<u8>, f64)>) -> DResult<Option<Value>> {
        if pairs.is_empty() {
            return Ok(None);
        }
        let lim = self.zset_limits();
        let first = pairs.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        let mut z = if pairs.len() > lim.max_entries {
            ZSet::new_skiplist(lim.seed)
        } else {
            ZSet::for_first_member(first, &lim)
        };
        for (m, s) in pairs {
            if s.is_nan() {
                return Err("Zset with NAN score detected".into());
            }
            if !z.insert(&m, s, &lim) {
                return Err("Duplicate zset fields detected".into());
            }
        }
        Ok(Some(Value::ZSet(Box::new(z))))
    }

    fn elems_to_pairs(elems: Vec<Elem>) -> DResult<Vec<(Vec<u8>, Vec<u8>)>> {
        if !elems.len().is_multiple_of(2) {
            return Err("odd number of elements in a field/value blob".into());
        }
        let mut out = Vec::with_capacity(elems.len() / 2);
        let mut it = elems.into_iter();
        while let (Some(a), Some(b)) = (it.next(), it.next()) {
            out.push((a.into_bytes(), b.into_bytes()));
        }
        Ok(out)
    }

    fn elems_to_scored(elems: Vec<Elem>) -> DResult<Vec<(Vec<u8>, f64)>> {
        let pairs = Self::elems_to_pairs(elems)?;
        pairs
            .into_iter()
            .map(|(m, s)| {
                let (score, used, _) = crate::cnum::strtod(&s);
                if used != s.len() || s.is_empty() {
                    return Err("bad zset score in blob".to_string());
                }
                Ok((m, score))
            })
            .collect()
    }

    /// rdbLoadObject: Ok(None) for an empty collection (Redis skips those keys).
    pub fn object(&mut self, t: u8) -> DResult<Option<Value>> {
        match t {
            TYPE_STRING => Ok(Some(Value::string_from_vec(self.string()?))),
            TYPE_LIST => {
                let n = self.count()?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.string()?);
                }
                Ok((!items.is_empty()).then(|| Value::List(Box::new(List::from_items(items)))))
            }
            TYPE_LIST_ZIPLIST => {
                let blob = self.string()?;
                let items = packed::ziplist_entries(&blob)?;
                Ok((!items.is_empty()).then(|| {
                    Value::List(Box::new(List::from_items(
                        items.into_iter().map(Elem::into_bytes),
                    )))
                }))
            }
            TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
                let nodes = self.count()?;
                let mut l = List::new();
                for _ in 0..nodes {
                    let container = if t == TYPE_LIST_QUICKLIST_2 {
                        self.len()?
                    } else {
                        QUICKLIST_NODE_PACKED
                    };
                    let blob = self.string()?;
                    match container {
                        QUICKLIST_NODE_PLAIN => l.push_back(&blob),
                        QUICKLIST_NODE_PACKED => {
                            let items = if t == TYPE_LIST_QUICKLIST_2 {
                                packed::listpack_entries(&blob)?
                            } else {
                                packed::ziplist_entries(&blob)?
                            };
                            for it in items {
                                l.push_back(&it.into_bytes());
                            }
                        }
                        c => {
                            return Err(format!("Quicklist integrity check failed: container {c}"))
                        }
                    }
                }
                Ok((!l.is_empty()).then(|| Value::List(Box::new(l))))
            }
            TYPE_SET => {
                let n = self.count()?;
                let mut raw = Vec::with_capacity(n);
                for _ in 0..n {
                    raw.push(self.string()?);
                }
                let members = raw.iter().map(|m| Member::Bytes(m)).collect();
                // Member::Bytes of an integer is stored as an integer by add_member.
                self.build_set_bytes(members)
            }
            TYPE_SET_INTSET => {
                let blob = self.string()?;
                let vals = packed::intset_values(&blob)?;
                self.build_set(vals.into_iter().map(Member::Int).collect(), false)
            }
            TYPE_ZSET | TYPE_ZSET_2 => {
                let n = self.count()?;
                let mut pairs = Vec::with_capacity(n);
                for _ in 0..n {
                    let m = self.string()?;
                    let s = if t == TYPE_ZSET {
                        self.string_double()?
                    } else {
                        self.binary_double()?
                    };
                    pairs.push((m, s));
                }
                self.build_zset(pairs)
            }
            TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
                let blob = self.string()?;
                let elems = if t == TYPE_ZSET_LISTPACK {
                    packed::listpack_entries(&blob)?
                } else {
                    packed::ziplist_entries(&blob)?
                };
                let pairs = Self::elems_to_scored(elems)?;
                self.build_zset(pairs)
            }
            TYPE_HASH => {
                let n = self.count()?;
                let mut pairs = Vec::with_capacity(n);
                for _ in 0..n {
                    let f = self.string()?;
                    let v = self.string()?;
                    pairs.push((f, v));
                }
                self.build_hash(pairs, true)
            }
            TYPE_HASH_ZIPMAP => {
                let blob = self.string()?;
                let pairs = packed::zipmap_pairs(&blob)?;
                self.build_hash(pairs, false)
            }
            TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
                let blob = self.string()?;
                let elems = if t == TYPE_HASH_LISTPACK {
                    packed::listpack_entries(&blob)?
                } else {
                    packed::ziplist_entries(&blob)?
                };
                let pairs = Self::elems_to_pairs(elems)?;
                self.build_hash(pairs, false)
            }
            TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => self.stream(t),
            TYPE_MODULE_PRE_GA | TYPE_MODULE_2 | TYPE_STREAM_LISTPACKS_3 | TYPE_SET_LISTPACK => {
                Err(format!(
                    "Oxidis cannot load a value of RDB type {t} ({}): not supported",
                    type_name(t)
                ))
            }
            t => Err(format!("Unknown RDB encoding type {t}")),
        }
    }

    /// rdbLoadObject's streams (types 15 and 19): the nodes, the counters, the groups.
    fn stream(&mut self, t: u8) -> DResult<Option<Value>> {
        let n = self.count()?;
        let mut nodes = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            let key = self.string()?;
            let Ok(key) = <[u8; 16]>::try_from(key.as_slice()) else {
                return Err("Stream node key entry is not the size of a stream ID".into());
            };
            let id = stream_id_from_key(&key);
            let blob = self.string()?;
            packed::listpack_entries(&blob)
                .map_err(|e| format!("Stream listpack integrity check failed: {e}"))?;
            nodes.push((id, Listpack::from_validated(blob)));
        }
        let length = self.len()?;
        let last_id = StreamId::new(self.len()?, self.len()?);
        let (first_id, max_deleted_id, entries_added) = if t == TYPE_STREAM_LISTPACKS_2 {
            let first = StreamId::new(self.len()?, self.len()?);
            let maxdel = StreamId::new(self.len()?, self.len()?);
            (Some(first), maxdel, Some(self.len()?))
        } else {
            (None, StreamId::MIN, None)
        };
        let meta = StreamMeta {
            length,
            last_id,
            first_id,
            max_deleted_id,
            entries_added,
        };
        let mut s = Stream::from_nodes(nodes, meta)?;
        let groups = self.len()?;
        for _ in 0..groups {
            let name = self.string()?;
            let last_id = StreamId::new(self.len()?, self.len()?);
            let entries_read = if t == TYPE_STREAM_LISTPACKS_2 {
                self.len()? as i64
            } else {
                s.estimate_distance(last_id)
            };
            let mut g = Group::new(last_id, entries_read);
            let n = self.len()?;
            for _ in 0..n {
                let id = stream_id_from_key(self.take(16)?);
                let delivery_time =
                    u64::from_le_bytes(self.take(8)?.try_into().unwrap_or_default());
                let delivery_count = self.len()?;
                let nack = Nack {
                    delivery_time,
                    delivery_count,
                    consumer: Box::from(&b""[..]),
                };
                if g.pel.insert(id, nack).is_some() {
                    return Err("Duplicated global PEL entry loading stream consumer group".into());
                }
            }
            let consumers = self.len()?;
            for _ in 0..consumers {
                let cname = self.string()?;
                let seen = u64::from_le_bytes(self.take(8)?.try_into().unwrap_or_default());
                let mut c = Consumer::new(seen);
                let n = self.len()?;
                for _ in 0..n {
                    let id = stream_id_from_key(self.take(16)?);
                    let Some(nack) = g.pel.get_mut(&id) else {
                        return Err("Consumer entry not found in group global PEL".into());
                    };
                    nack.consumer = Box::from(cname.as_slice());
                    if !c.pel.insert(id) {
                        return Err(
                            "Duplicated consumer PEL entry loading a stream consumer group".into(),
                        );
                    }
                }
                if g.consumers.insert(Box::from(cname.as_slice()), c).is_some() {
                    return Err("Duplicate stream consumer detected.".into());
                }
            }
            // Every pending entry needs an owner here (Redis checks this only when
            // sanitizing; a NACK without one would crash it later).
            if g.pel
                .values()
                .any(|n| !g.consumers.contains_key(&n.consumer))
            {
                return Err("Stream CG PEL entry without consumer".into());
            }
            if !s.load_group(&name, g) {
                return Err("Duplicated consumer group name".into());
            }
        }
        Ok(Some(Value::Stream(Box::new(s))))
    }

    fn build_set_bytes(&mut self, members: Vec<Member<'_>>) -> DResult<Option<Value>> {
        self.build_set(members, true)
    }
}

#[cfg(test)]
pub(crate) mod tests;
