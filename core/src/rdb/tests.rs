//! The RDB codec's tests: DUMP payloads and a Redis 7.0 snapshot byte for byte, refusals of what
//! Oxidis cannot hold, the older encodings, and random keyspaces round-tripping through
//! encode and decode.

use super::*;
use crate::engine::{ConnInfo, Engine};
use crate::resp::{decode_reply, Reply};
use crate::rng::Rng;
use crate::time::UnixMillis;
use proptest::prelude::{any, prop_assert_eq, prop_oneof, proptest, ProptestConfig, Strategy};
use std::collections::BTreeMap;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// An engine holding what `cmds` (inline requests) make; each must answer with exactly one
/// reply that is not an error.
fn engine_with(cmds: &[&str]) -> Engine {
    let mut eng = Engine::new(Config::default(), 7);
    let id = eng.connect(UnixMillis(1000), ConnInfo::default());
    for c in cmds {
        let mut line = c.as_bytes().to_vec();
        line.extend_from_slice(b"\r\n");
        eng.feed(UnixMillis(1000), id, &line);
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        let (reply, used) = decode_reply(&out)
            .unwrap_or_else(|e| panic!("{c}: undecodable reply {e}"))
            .unwrap_or_else(|| panic!("{c}: incomplete reply {out:?}"));
        assert_eq!(used, out.len(), "{c}: more than one reply");
        if let Reply::Error(e) = &reply {
            panic!("{c}: -{}", String::from_utf8_lossy(e));
        }
    }
    eng
}

/// A canonical, encoding-independent rendering of a value.
pub fn canon(v: &Value) -> (String, Vec<Vec<u8>>) {
    let mut items: Vec<Vec<u8>> = match v {
        Value::Int(n) => vec![n.to_string().into_bytes()],
        Value::Str(s) => vec![s.as_bytes().to_vec()],
        Value::List(l) => l.iter().map(<[u8]>::to_vec).collect(),
        Value::Hash(h) => h.iter().map(|(f, v)| [f, b"=", v].concat()).collect(),
        Value::Set(s) => s.members(),
        Value::ZSet(z) => z
            .iter()
            .map(|(m, s)| [m, b"=", &s.to_bits().to_le_bytes()].concat())
            .collect(),
        // The listpacks themselves: a stream round-trips node for node.
        Value::Stream(s) => s
            .nodes()
            .iter()
            .map(|(id, lp)| [id.to_string().as_bytes(), b"=", lp.as_bytes()].concat())
            .collect(),
    };
    if matches!(v, Value::Hash(_) | Value::Set(_)) {
        items.sort();
    }
    (v.type_name().to_string(), items)
}

type Snapshot = BTreeMap<(usize, Vec<u8>), ((String, Vec<Vec<u8>>), Option<u64>, &'static str)>;

fn snapshot(dbs: &[Db]) -> Snapshot {
    let mut m = BTreeMap::new();
    for (i, db) in dbs.iter().enumerate() {
        for (k, v) in db.keys.iter() {
            m.insert(
                (i, k.as_bytes().to_vec()),
                (canon(v), db.expire_at(k.as_bytes()), v.encoding()),
            );
        }
    }
    m
}

fn load(bytes: &[u8]) -> (Vec<Db>, LoadInfo) {
    let cfg = Config::default();
    let mut rng = Rng::new(3);
    let mut dbs: Vec<Db> = (0..16).map(Db::new).collect();
    let info = decode(bytes, &cfg, &mut rng, None, |k| {
        dbs[k.db].insert_new(&k.key, k.value);
        if let Some(at) = k.expire_ms {
            dbs[k.db].set_expire(&k.key, at);
        }
    })
    .unwrap();
    (dbs, info)
}

#[test]
fn dump_payloads_match_redis_byte_for_byte() {
    let eng = engine_with(&[
        "SET str hello",
        "SET int 12345",
        "SET bigint 9223372036854775807",
        "SET long aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "HSET hash f1 v1 f2 2 f3 x",
        "SADD iset 1 2 3 -5 100000",
        "ZADD zset 1 a 2.5 b -inf c 3 d",
        &format!("HSET longval f {}", "y".repeat(100)),
        &format!("ZADD longzm 1 {}", "z".repeat(100)),
        "SET neg -42",
        "RPUSH list a b 1 2 -3 \"longer element here\"",
    ]);
    // DUMP on Redis 7.0.15 of the same keys.
    let expected = [
        ("str", "000568656c6c6f0a006372df766534200a"),
        ("int", "00c139300a009d94ea2793fc08b9"),
        ("bigint", "0013393232333337323033363835343737353830370a003a657e9481e85f22"),
        ("long", "00c3094046016161e039000161610a0084de5889eb96baa3"),
        ("hash", "101c1c0000000600826631038276310382663203020182663303817802ff0a00a9290fe0dd46cbe0"),
        ("iset", "0b1c0400000005000000fbffffff010000000200000003000000a08601000a00d365f8d8af8752ac"),
        ("zset", "1122220000000800816302842d696e6605816102010181620283322e35048164020301ff0a00ce94c19e1c687cfa"),
        ("longval", "04010166c3094064017979e057000179790a0082f8268ffe40bcdb"),
        ("longzm", "0501c3094064017a7ae05700017a7a000000000000f03f0a005bc6d78ec98ca7f9"),
        ("neg", "00c0d60a00bcf2d2acd2eebeaa"),
        ("list", "1201022929000000060081610281620201010201dffd02936c6f6e67657220656c656d656e74206865726514ff0a00b3d73a2adbe6a259"),
    ];
    let cfg = Config::default();
    for (key, want) in expected {
        let v = eng.server().dbs[0].keys.get(key.as_bytes()).unwrap();
        let got = dump_payload(v, &cfg);
        assert_eq!(got, hex(want), "DUMP {key}");
        // And it restores to the same value.
        let mut rng = Rng::new(1);
        let back = restore_payload(&got, &cfg, &mut rng).unwrap();
        assert_eq!(canon(&back), canon(v));
        assert_eq!(back.encoding(), v.encoding(), "{key}");
    }
}

#[test]
fn restore_refuses_bad_payloads() {
    let cfg = Config::default();
    let mut rng = Rng::new(1);
    let good = hex("000568656c6c6f0a006372df766534200a");
    assert!(restore_payload(&good, &cfg, &mut rng).is_ok());
    let mut bad_crc = good.clone();
    bad_crc[3] ^= 1;
    assert_eq!(
        restore_payload(&bad_crc, &cfg, &mut rng),
        Err(PayloadError::VersionOrChecksum)
    );
    assert_eq!(
        restore_payload(b"short", &cfg, &mut rng),
        Err(PayloadError::VersionOrChecksum)
    );
    // Version 11 (Redis 7.2) is refused even with a valid checksum.
    let mut v11 = good[..good.len() - 10].to_vec();
    v11.extend_from_slice(&11u16.to_le_bytes());
    let crc = crc64::crc64(0, &v11);
    v11.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(
        restore_payload(&v11, &cfg, &mut rng),
        Err(PayloadError::VersionOrChecksum)
    );
    // A valid frame around garbage is a format error, never a panic.
    for body in [
        &[0x00, 0x3f][..],
        &[0x12, 0x01, 0x02, 0x03, 1, 2, 3],
        &[0x0f],
        &[0x07],
    ] {
        let mut p = body.to_vec();
        p.extend_from_slice(&10u16.to_le_bytes());
        let crc = crc64::crc64(0, &p);
        p.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            restore_payload(&p, &cfg, &mut rng),
            Err(PayloadError::BadFormat)
        );
    }
}

#[test]
fn loads_redis_7_0_snapshot() {
    let bytes = include_bytes!("../../../testdata/rdb/redis-7.0.15-types.rdb");
    let (dbs, info) = load(bytes);
    assert_eq!(info.keys_loaded, 21);
    assert_eq!(info.consumed, bytes.len());
    assert_eq!(dbs[3].len(), 1);
    let snap = snapshot(&dbs);
    let get = |k: &[u8]| snap.get(&(0, k.to_vec())).unwrap().clone();
    assert_eq!(get(b"str").0 .1, vec![b"hello".to_vec()]);
    assert_eq!(
        get(b"bin\x00key\xff").0 .1,
        vec![b"\x01\x02\x00\xfe".to_vec()]
    );
    assert_eq!(get(b"ttl2").1, Some(4102444800000));
    assert_eq!(get(b"bighash").2, "hashtable");
    assert_eq!(get(b"bigiset").2, "hashtable");
    assert_eq!(get(b"iset").2, "intset");
    assert_eq!(get(b"bigzset").2, "skiplist");
    assert_eq!(get(b"zset").2, "listpack");
    assert_eq!(get(b"biglist").0 .1.len(), 3000);
    assert_eq!(get(b"biglist").0 .1[2999], b"element-2999".to_vec());
    assert_eq!(get(b"bigzset").0 .1.len(), 200);
    // Re-encoding and loading again gives the same contents and encodings.
    let again = encode_to_vec(&dbs, &SaveOptions::default());
    let (dbs2, _) = load(&again);
    assert_eq!(snapshot(&dbs2), snap);
    // A corrupted byte is caught by the checksum; a truncated file is an error, not a panic.
    let mut bad = bytes.to_vec();
    bad[100] ^= 0x55;
    let cfg = Config::default();
    let mut rng = Rng::new(1);
    assert!(decode(&bad, &cfg, &mut rng, None, |_| {}).is_err());
    for cut in (0..bytes.len()).step_by(97) {
        assert!(decode(&bytes[..cut], &cfg, &mut rng, None, |_| {}).is_err());
    }
}

#[test]
fn rejects_what_it_cannot_load() {
    let cfg = Config::default();
    let mut rng = Rng::new(1);
    let e = decode(b"REDIS0011\xff", &cfg, &mut rng, None, |_| {}).unwrap_err();
    assert_eq!(e, "Can't handle RDB format version 11");
    // Type 21 is 7.2's STREAM_LISTPACKS_3 (15 and 19 load).
    let e = decode(b"REDIS0010\x15\x01k", &cfg, &mut rng, None, |_| {}).unwrap_err();
    assert!(e.contains("stream"), "{e}");
    let e = decode(b"REDIS0010\x07\x01k", &cfg, &mut rng, None, |_| {}).unwrap_err();
    assert!(e.contains("module"), "{e}");
    assert!(decode(b"REDIS0010\xf5\x05x", &cfg, &mut rng, None, |_| {}).is_err());
    assert!(decode(b"NOTREDIS0", &cfg, &mut rng, None, |_| {}).is_err());
}

#[test]
fn function_libraries_decode_in_both_opcodes() {
    let cfg = Config::default();
    let mut rng = Rng::new(1);
    // RDB_OPCODE_FUNCTION2: the code; RDB_OPCODE_FUNCTION (7.0 rc1/rc2): name, engine, no
    // description, body, made into code with a shebang.
    let bytes = b"REDIS0010\xf5\x0a#!lua name\xf6\x03lib\x03LUA\x00\x05\nbody\xff\0\0\0\0\0\0\0\0";
    let info = decode(bytes, &cfg, &mut rng, None, |_| {}).unwrap();
    assert_eq!(
        info.functions,
        vec![b"#!lua name".to_vec(), b"#!LUA name=lib\n\nbody".to_vec()]
    );
    // FUNCTION DUMP's payload round-trips through RESTORE's reader.
    let codes = vec![b"#!lua name=a\nredis.register_function('f', function() end)".to_vec()];
    let p = super::function_dump_payload(&codes, &cfg);
    assert_eq!(
        super::function_restore_payload(&p, &cfg, &mut rng).unwrap(),
        codes
    );
    let e = super::function_restore_payload(&p[1..], &cfg, &mut rng).unwrap_err();
    assert_eq!(e, "DUMP payload version or checksum are wrong");
}

/// A ziplist with these entries (Redis < 7.0 small encodings).
fn ziplist(items: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut prev = 0usize;
    for it in items {
        let start = body.len();
        if prev < 254 {
            body.push(prev as u8);
        } else {
            body.push(254);
            body.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        match crate::cnum::parse_i64(it) {
            Some(v) if (0..=12).contains(&v) => body.push(0xf1 + v as u8),
            Some(v) if i16::try_from(v).is_ok() => {
                body.push(0xc0);
                body.extend_from_slice(&(v as i16).to_le_bytes());
            }
            Some(v) => {
                body.push(0xe0);
                body.extend_from_slice(&v.to_le_bytes());
            }
            None => {
                assert!(it.len() < 64);
                body.push(it.len() as u8);
                body.extend_from_slice(it);
            }
        }
        prev = body.len() - start;
    }
    let mut out = Vec::new();
    out.extend_from_slice(&((body.len() + 11) as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(items.len() as u16).to_le_bytes());
    out.extend_from_slice(&body);
    out.push(0xff);
    out
}

#[test]
fn loads_older_encodings() {
    let zl = ziplist(&[b"a", b"7", b"-300", b"5000000000"]);
    let zh = ziplist(&[b"f", b"v", b"n", b"12"]);
    let zz = ziplist(&[b"m", b"1.5", b"n", b"-inf"]);
    let zipmap = [2u8, 1, b'f', 1, 0, b'v', 1, b'g', 2, 0, b'w', b'x', 0xff];
    let mut e = Encoder::new(Vec::new(), &SaveOptions::default());
    e.raw(b"REDIS0009").unwrap();
    let kv = |e: &mut Encoder<Vec<u8>>, t: u8, k: &str, blob: &[u8]| {
        e.raw(&[t]).unwrap();
        e.string(k.as_bytes()).unwrap();
        e.string(blob).unwrap();
    };
    kv(&mut e, TYPE_LIST_ZIPLIST, "l", &zl);
    kv(&mut e, TYPE_HASH_ZIPLIST, "h", &zh);
    kv(&mut e, TYPE_ZSET_ZIPLIST, "z", &zz);
    kv(&mut e, TYPE_HASH_ZIPMAP, "zm", &zipmap);
    // Quicklist 1: two ziplist nodes.
    e.raw(&[TYPE_LIST_QUICKLIST]).unwrap();
    e.string(b"q").unwrap();
    e.len(2).unwrap();
    e.string(&ziplist(&[b"x", b"y"])).unwrap();
    e.string(&ziplist(&[b"1"])).unwrap();
    // Old ZSET with string doubles, old linked list, EXPIRETIME in seconds.
    e.raw(&[OP_EXPIRETIME]).unwrap();
    e.raw(&2_000_000_000u32.to_le_bytes()).unwrap();
    e.raw(&[TYPE_ZSET]).unwrap();
    e.string(b"oz").unwrap();
    e.len(2).unwrap();
    e.string(b"a").unwrap();
    e.raw(&[3, b'2', b'.', b'5']).unwrap();
    e.string(b"b").unwrap();
    e.raw(&[254]).unwrap();
    e.raw(&[TYPE_LIST]).unwrap();
    e.string(b"ol").unwrap();
    e.len(1).unwrap();
    e.string(b"only").unwrap();
    let bytes = e.finish().unwrap();
    let (dbs, info) = load(&bytes);
    assert_eq!(info.keys_loaded, 7);
    let s = snapshot(&dbs);
    let items = |k: &str| s.get(&(0, k.as_bytes().to_vec())).unwrap().0 .1.clone();
    let strs = |v: &[&str]| v.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
    assert_eq!(items("l"), strs(&["a", "7", "-300", "5000000000"]));
    assert_eq!(items("h"), strs(&["f=v", "n=12"]));
    assert_eq!(items("zm"), strs(&["f=v", "g=wx"]));
    assert_eq!(items("q"), strs(&["x", "y", "1"]));
    assert_eq!(items("ol"), strs(&["only"]));
    assert_eq!(items("z").len(), 2);
    assert_eq!(
        items("oz")[1],
        [b"b=".as_slice(), &f64::INFINITY.to_bits().to_le_bytes()].concat()
    );
    assert_eq!(
        s.get(&(0, b"oz".to_vec())).unwrap().1,
        Some(2_000_000_000_000)
    );
}

#[test]
fn expired_keys_are_skipped_when_asked() {
    let eng = engine_with(&["SET a 1", "SET b 2", "PEXPIREAT b 5000"]);
    let bytes = encode_to_vec(&eng.server().dbs, &SaveOptions::default());
    let cfg = Config::default();
    let mut rng = Rng::new(1);
    let mut n = 0;
    let info = decode(&bytes, &cfg, &mut rng, Some(6000), |_| n += 1).unwrap();
    assert_eq!((n, info.keys_loaded, info.keys_expired), (1, 1, 1));
}

fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..30),
        (-100000i64..100000).prop_map(|n| n.to_string().into_bytes()),
        any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        (1usize..300).prop_map(|n| b"ab".repeat(n)),
    ]
}

fn arb_cmd() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let k = (0u8..12).prop_map(|i| format!("k{i}").into_bytes());
    prop_oneof![
        (k.clone(), arb_bytes()).prop_map(|(k, v)| vec![b"SET".to_vec(), k, v]),
        (k.clone(), proptest::collection::vec(arb_bytes(), 1..40)).prop_map(|(k, v)| [
            vec![b"RPUSH".to_vec(), k],
            v
        ]
        .concat()),
        (
            k.clone(),
            proptest::collection::vec((arb_bytes(), arb_bytes()), 1..20)
        )
            .prop_map(|(k, v)| [
                vec![b"HSET".to_vec(), k],
                v.into_iter().flat_map(|(a, b)| [a, b]).collect()
            ]
            .concat()),
        (k.clone(), proptest::collection::vec(arb_bytes(), 1..40)).prop_map(|(k, v)| [
            vec![b"SADD".to_vec(), k],
            v
        ]
        .concat()),
        (
            k.clone(),
            proptest::collection::vec((-1e6f64..1e6, arb_bytes()), 1..40)
        )
            .prop_map(|(k, v)| [
                vec![b"ZADD".to_vec(), k],
                v.into_iter()
                    .flat_map(|(s, m)| [format!("{s}").into_bytes(), m])
                    .collect()
            ]
            .concat()),
        (k.clone(), 2000u64..9_000_000_000_000).prop_map(|(k, t)| vec![
            b"PEXPIREAT".to_vec(),
            k,
            t.to_string().into_bytes()
        ]),
        (0u8..3).prop_map(|d| vec![b"SELECT".to_vec(), d.to_string().into_bytes()]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_keyspaces_round_trip(
        cmds in proptest::collection::vec(arb_cmd(), 1..60),
        compression in any::<bool>(),
    ) {
        let mut eng = Engine::new(Config::default(), 5);
        let id = eng.connect(UnixMillis(1000), ConnInfo::default());
        for c in &cmds {
            eng.feed(UnixMillis(1000), id, &crate::resp::encode_request(c));
        }
        let opts = SaveOptions { compression, ..SaveOptions::default() };
        let bytes = encode_to_vec(&eng.server().dbs, &opts);
        let (dbs, _) = load(&bytes);
        prop_assert_eq!(snapshot(&dbs), snapshot(&eng.server().dbs));
        // Every value also survives DUMP/RESTORE.
        let cfg = Config::default();
        let mut rng = Rng::new(9);
        for db in &eng.server().dbs {
            for (_, v) in db.keys.iter() {
                let p = dump_payload(v, &cfg);
                let back = restore_payload(&p, &cfg, &mut rng).unwrap();
                prop_assert_eq!(canon(&back), canon(v));
            }
        }
    }
}

/// Streams dump as Redis does (its node listpacks byte for byte: master entries, SAMEFIELDS,
/// tombstones, node splits) and restore to the same nodes. With rdbcompression off on both
/// sides: Redis's LZF starts from a stale hash table (left on the stack by earlier calls), so
/// its compressed bytes depend on what it compressed before; the blobs under it are what
/// this checks.
#[test]
fn stream_dump_payloads_match_redis_byte_for_byte() {
    let eng = engine_with(&[
        "XADD s 1-1 a 1 b 2",
        "XADD s 1-2 a 3 b 4",
        "XADD s 2-0 c 5",
        "XADD d 1-1 a 1 b 2",
        "XADD d 1-2 a 3 b 4",
        "XADD d 2-0 c 5",
        "XADD d 3-0 a 1000000 b -7",
        "XDEL d 1-2",
        &format!("XADD t 5-1 field {}", "a".repeat(83)),
        "XADD t 5-2 field 12",
        "XTRIM t MAXLEN 0",
        "CONFIG SET stream-node-max-entries 2",
        "XADD m 1 f v",
        "XADD m 2 f v",
        "XADD m 3 f v",
        "XADD m 4 f v",
        "XADD m 5 f v",
        "XDEL m 2",
        "XTRIM m MAXLEN 2",
    ]);
    // DUMP on Redis 7.0.15 (CONFIG SET rdbcompression no) after the same commands.
    let expected = [
        ("s", "130110000000000000000100000000000000013d3d0000001900030100010201816102816202000102010001000101010201050102010001010103010401050100010101dfff02010181630205010601ff0302000101000003000a00f022942e09714305"),
        ("d", "13011000000000000000010000000000000001404e4e0000001f00030101010201816102816202000102010001000101010201050103010001010103010401050100010101dfff0201018163020501060102010201dfff02f240420f04dff9020501ff0303000101010204000a009e45f500328ed0b0"),
        ("t", "13000005020000000002000a00ecf9c2d1ecc04737"),
        ("m", "1302100000000000000003000000000000000028280000000f00010101010101816602000103010001000181760204010201010100018176020401ff10000000000000000500000000000000001d1d0000000a0001010001010181660200010201000100018176020401ff0205000400020005000a0081412fecc6d03fcb"),
    ];
    let cfg = Config {
        rdbcompression: false,
        ..Config::default()
    };
    for (key, want) in expected {
        let v = eng.server().dbs[0].keys.get(key.as_bytes()).unwrap();
        let got = dump_payload(v, &cfg);
        assert_eq!(hex_of(&got), want, "DUMP {key}");
        let mut rng = Rng::new(1);
        let back = restore_payload(&got, &cfg, &mut rng).unwrap();
        assert_eq!(&back, v, "{key}");
        // Compressed, it restores alike too.
        let back = restore_payload(&dump_payload(v, &Config::default()), &cfg, &mut rng).unwrap();
        assert_eq!(&back, v, "{key}");
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A corrupt stream payload (with a valid checksum, so the decoder sees it) is refused or
/// loads into a stream that can be walked, trimmed and appended to: never a panic.
#[test]
fn corrupt_stream_payloads_never_panic() {
    let eng = engine_with(&[
        "XADD d 1-1 a 1 b 2",
        "XADD d 1-2 a 3 b 4",
        "XADD d 2-0 c 5",
        "XADD d 3-0 a 1000000 b -7",
        "XDEL d 1-2",
    ]);
    let cfg = Config {
        rdbcompression: false,
        ..Config::default()
    };
    let v = eng.server().dbs[0].keys.get(&b"d"[..]).unwrap();
    let good = dump_payload(v, &cfg);
    let body = &good[..good.len() - 10];
    let mut rng = Rng::new(7);
    let (mut ok, mut refused) = (0, 0);
    for i in 0..body.len() {
        for delta in [1u8, 0x80, 0xff] {
            let mut p = body.to_vec();
            p[i] = p[i].wrapping_add(delta);
            p.extend_from_slice(&good[good.len() - 10..good.len() - 8]);
            let crc = crc64::crc64(0, &p);
            p.extend_from_slice(&crc.to_le_bytes());
            match restore_payload(&p, &cfg, &mut rng) {
                Ok(Value::Stream(mut s)) => {
                    ok += 1;
                    s.walk(
                        crate::types::stream::StreamId::MIN,
                        crate::types::stream::StreamId::MAX,
                        true,
                        true,
                        |_| true,
                    );
                    s.trim(crate::types::stream::Trim::MaxLen(1), false, 0);
                    let _ = s.append(
                        &[b"f", b"v"],
                        crate::types::stream::IdSpec::Auto { now_ms: 1 },
                        Default::default(),
                    );
                }
                Ok(_) => ok += 1,
                Err(_) => refused += 1,
            }
        }
    }
    assert!(refused > 0 && ok > 0, "ok {ok} refused {refused}");
}

/// The incremental loader (a replica parsing its master's payload as it arrives) gives what
/// one decode of the whole file gives, however the bytes are split: a record cut short waits
/// for the rest, and only the end of the input makes it an error.
#[test]
fn the_loader_fed_in_pieces_matches_a_whole_decode() {
    let bytes = include_bytes!("../../../testdata/rdb/redis-7.0.15-types.rdb");
    let cfg = Config::default();
    let whole = {
        let mut keys = Vec::new();
        let info = decode(bytes, &cfg, &mut Rng::new(1), None, |k| keys.push(k.key)).unwrap();
        (keys, info.keys_loaded, info.consumed)
    };
    for piece in [1, 2, 7, 64, 1000] {
        let mut loader = Loader::new(None);
        let mut keys = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut done = false;
        for chunk in bytes.chunks(piece) {
            buf.extend_from_slice(chunk);
            let (used, fin) = loader
                .step(&buf, false, &cfg, &mut Rng::new(1), usize::MAX, |k| {
                    keys.push(k.key)
                })
                .unwrap();
            buf.drain(..used);
            done = fin;
        }
        // The end of the input (the transfer's size reached, or its EOF mark): what waited
        // for more (a doubling threshold after a short read) is parsed now.
        if !done {
            let (used, fin) = loader
                .step(&buf, true, &cfg, &mut Rng::new(1), usize::MAX, |k| {
                    keys.push(k.key)
                })
                .unwrap();
            buf.drain(..used);
            done = fin;
        }
        assert!(done, "piece {piece}");
        assert!(buf.is_empty());
        assert_eq!(
            (keys, loader.info.keys_loaded, loader.consumed as usize),
            whole.clone(),
            "piece {piece}"
        );
    }
    // Cut short: waits while more may come, fails at the end of the input.
    let cut = &bytes[..bytes.len() - 3];
    let mut loader = Loader::new(None);
    let (_, fin) = loader
        .step(cut, false, &cfg, &mut Rng::new(1), usize::MAX, |_| {})
        .unwrap();
    assert!(!fin);
    let mut loader = Loader::new(None);
    assert!(loader
        .step(cut, true, &cfg, &mut Rng::new(1), usize::MAX, |_| {})
        .is_err());
    // A budget stops between records and resumes where it stopped.
    let mut loader = Loader::new(None);
    let (mut pos, mut steps) = (0, 0);
    loop {
        let (used, fin) = loader
            .step(&bytes[pos..], true, &cfg, &mut Rng::new(1), 64, |_| {})
            .unwrap();
        pos += used;
        steps += 1;
        if fin {
            break;
        }
    }
    assert_eq!(pos, bytes.len());
    assert!(steps > 3, "{steps}");
    assert_eq!(loader.info.keys_loaded, whole.1);
}
