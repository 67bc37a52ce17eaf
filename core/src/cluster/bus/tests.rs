//! The bus codec's tests: wire offsets, Redis's length rules, round trips and property tests
//! (a separate test-only file, so the long fuzz run may read its iteration count from the
//! environment).

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
    eprintln!("decode_fuzz_long: {iters} mutated messages, {decoded} decoded, {refused} refused");
}
