//! The cluster bus of an engine in a page: the core asks for links to other nodes
//! (`Event::ConnectClusterNode`), says when bytes are waiting on one (`ClusterOutput`) and when
//! it closed one (`CloseClusterLink`); there are no sockets here, so these events are queued
//! for the page's ClusterNetwork (web/js/cluster.js), which links the engines registered at
//! virtual host:port addresses and moves the bytes through the methods below — the wasm
//! counterpart of native/src/cluster_bus.rs. MIGRATE's connections (`Event::ConnectMigrate`)
//! go the same way once a ClusterNetwork hosts the engine: the network opens an in-memory
//! client connection to the engine registered at the target's host:port.

use crate::RawEngine;
use js_sys::Array;
use oxidis_core::LinkHandle;
use std::collections::VecDeque;
use wasm_bindgen::prelude::*;

/// Event kinds as `takeClusterEvents` hands them over.
const BUS_CONNECT: u32 = 1;
const BUS_OUTPUT: u32 = 2;
const BUS_CLOSE: u32 = 3;
const BUS_MIGRATE: u32 = 4;

enum BusEvent {
    Connect(LinkHandle, String, u16),
    Output(LinkHandle),
    Close(LinkHandle),
    /// MIGRATE's connection: (token, host, port).
    Migrate(u64, String, u16),
}

/// The bus events the page has not taken yet, in the order the engine raised them.
#[derive(Default)]
pub(crate) struct BusEvents(VecDeque<BusEvent>, bool);

impl BusEvents {
    /// MIGRATE's connection to host:port, queued for the page's ClusterNetwork: false if no
    /// network hosts this engine (the caller fails it).
    pub(crate) fn migrate(&mut self, token: u64, host: String, port: u16) -> bool {
        if self.1 {
            self.0.push_back(BusEvent::Migrate(token, host, port));
        }
        self.1
    }

    pub(crate) fn connect(&mut self, link: LinkHandle, ip: String, port: u16) {
        self.0.push_back(BusEvent::Connect(link, ip, port));
    }

    pub(crate) fn output(&mut self, link: LinkHandle) {
        // One notice per link is enough until the page takes the bytes.
        let dup = self
            .0
            .iter()
            .any(|e| matches!(e, BusEvent::Output(l) if *l == link));
        if !dup {
            self.0.push_back(BusEvent::Output(link));
        }
    }

    pub(crate) fn close(&mut self, link: LinkHandle) {
        // Bytes the core queued before closing are gone with the link.
        self.0
            .retain(|e| !matches!(e, BusEvent::Output(l) if *l == link));
        self.0.push_back(BusEvent::Close(link));
    }
}

fn handle(link: f64) -> LinkHandle {
    LinkHandle(if link.is_finite() && link >= 0.0 {
        link as usize
    } else {
        usize::MAX
    })
}

#[wasm_bindgen]
impl RawEngine {
    /// The bus events since the last call, oldest first, or `undefined` if none: each
    /// `[1, link, ip, port]` (open a link to the node whose bus listens at ip:port, then
    /// answer `clusterLinkConnected` or `clusterLinkFailed`), `[2, link]` (bytes are waiting:
    /// `clusterLinkOutput`), `[3, link]` (the engine closed the link: close the other end) or
    /// `[4, token, host, port]` (MIGRATE's connection to the node at host:port: answer
    /// `migrateLinkConnected` or `migrateLinkFailed`; only after `setClusterHosted(true)`).
    #[wasm_bindgen(js_name = takeClusterEvents)]
    pub fn take_cluster_events(&mut self) -> Option<Array> {
        self.collect_events();
        if self.bus.0.is_empty() {
            return None;
        }
        let all = Array::new();
        for ev in self.bus.0.drain(..) {
            let a = Array::new();
            let (kind, link) = match &ev {
                BusEvent::Connect(l, ..) => (BUS_CONNECT, l),
                BusEvent::Output(l) => (BUS_OUTPUT, l),
                BusEvent::Close(l) => (BUS_CLOSE, l),
                BusEvent::Migrate(token, host, port) => {
                    a.push(&JsValue::from(BUS_MIGRATE));
                    a.push(&JsValue::from_f64(*token as f64));
                    a.push(&JsValue::from_str(host));
                    a.push(&JsValue::from(*port));
                    all.push(&a);
                    continue;
                }
            };
            a.push(&JsValue::from(kind));
            a.push(&JsValue::from_f64(link.0 as f64));
            if let BusEvent::Connect(_, ip, port) = &ev {
                a.push(&JsValue::from_str(ip));
                a.push(&JsValue::from(*port));
            }
            all.push(&a);
        }
        Some(all)
    }

    /// Another node opened a link to this engine's bus: the new inbound link. `peer` is the
    /// other node's host, `local` this engine's own (what a MEET on the link teaches it).
    #[wasm_bindgen(js_name = clusterLinkAccepted)]
    pub fn cluster_link_accepted(&mut self, peer: &str, local: &str) -> f64 {
        let now = self.clock();
        let link = self.eng.cluster_link_accepted(now, peer.into());
        self.eng.cluster_link_local_ip(link, local.into());
        self.collect_events();
        if link.0 == usize::MAX {
            -1.0
        } else {
            link.0 as f64
        }
    }

    /// The link asked for by a connect event is up (it starts with a MEET or a PING).
    #[wasm_bindgen(js_name = clusterLinkConnected)]
    pub fn cluster_link_connected(&mut self, link: f64) {
        let now = self.clock();
        self.eng.cluster_link_connected(now, handle(link));
        self.collect_events();
    }

    /// The link asked for could not be opened (no node there, or the network is cut).
    #[wasm_bindgen(js_name = clusterLinkFailed)]
    pub fn cluster_link_failed(&mut self, link: f64) {
        let now = self.clock();
        self.eng.cluster_link_failed(now, handle(link));
        self.collect_events();
    }

    /// Bytes that arrived on a link.
    #[wasm_bindgen(js_name = clusterLinkInput)]
    pub fn cluster_link_input(&mut self, link: f64, bytes: &[u8]) {
        let now = self.clock();
        self.eng.cluster_link_input(now, handle(link), bytes);
        self.collect_events();
    }

    /// The bytes waiting to be written on a link (taken).
    #[wasm_bindgen(js_name = clusterLinkOutput)]
    pub fn cluster_link_output(&mut self, link: f64) -> Vec<u8> {
        self.eng.cluster_link_output(handle(link))
    }

    /// The other end closed the link (or the network cut it).
    #[wasm_bindgen(js_name = clusterLinkClosed)]
    pub fn cluster_link_closed(&mut self, link: f64) {
        let now = self.clock();
        self.eng.cluster_link_closed(now, handle(link));
        self.collect_events();
    }

    /// A ClusterNetwork hosts this engine (true) or no longer does: MIGRATE's connections are
    /// handed to it as bus events rather than failed at once.
    #[wasm_bindgen(js_name = setClusterHosted)]
    pub fn set_cluster_hosted(&mut self, on: bool) {
        self.bus.1 = on;
        if !on {
            let now = self.clock();
            let tokens: Vec<u64> = self
                .bus
                .0
                .iter()
                .filter_map(|e| match e {
                    BusEvent::Migrate(t, ..) => Some(*t),
                    _ => None,
                })
                .collect();
            self.bus.0.retain(|e| !matches!(e, BusEvent::Migrate(..)));
            for token in tokens {
                self.eng.migrate_link_failed(now, token, false);
            }
            self.collect_events();
        }
    }

    /// The page's connection for MIGRATE's `token` is up (a client of the target engine):
    /// returns the handle of the engine's end (its output goes to the target; the target's
    /// replies are fed with `send`), or 0 if the engine no longer waits for that token.
    #[wasm_bindgen(js_name = migrateLinkConnected)]
    pub fn migrate_link_connected(&mut self, token: f64, addr: &str) -> u32 {
        let now = self.clock();
        let Some(id) = self
            .eng
            .migrate_link_connected(now, token as u64, crate::peer(addr))
        else {
            self.collect_events();
            return 0;
        };
        let h = self.register(id);
        self.collect_events();
        h
    }

    /// No engine at MIGRATE's host:port in the network (or it is cut off): MIGRATE replies
    /// IOERR, as after a refused connect.
    #[wasm_bindgen(js_name = migrateLinkFailed)]
    pub fn migrate_link_failed(&mut self, token: f64) {
        let now = self.clock();
        self.eng.migrate_link_failed(now, token as u64, true);
        self.collect_events();
    }
}
