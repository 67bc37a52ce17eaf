//! The host's side of the cluster bus (Engine methods): links accepted, connected, failed,
//! fed, drained and closed, and nodes.conf handed over. Messages are framed here
//! (`bus::frame_len`) and processed by state.rs.

use super::bus;
use super::state::{
    cluster_before_sleep, create_link, free_link, log, process_packet, send_ping, with,
};
use super::{flags, LinkHandle};
use crate::engine::{Engine, Event};
use crate::time::UnixMillis;

impl Engine {
    /// The host accepted a connection on the bus port: a new inbound link.
    pub fn cluster_link_accepted(&mut self, now: UnixMillis, peer_ip: String) -> LinkHandle {
        with(&mut self.srv, |c, _| create_link(c, None, now.0, peer_ip))
            .unwrap_or(LinkHandle(usize::MAX))
    }

    /// Our own address on a link (the host's getsockname), which a MEET arriving on it
    /// teaches us (Redis learns its IP so): call it after `cluster_link_accepted`.
    pub fn cluster_link_local_ip(&mut self, link: LinkHandle, ip: String) {
        if let Some(l) = self
            .srv
            .cluster
            .as_mut()
            .and_then(|c| c.links.get_mut(link.0))
        {
            l.local_ip = ip;
        }
    }

    /// The connection asked for by `Event::ConnectClusterNode { link }` is up: it starts
    /// with a MEET (a node we were told to meet) or a PING.
    pub fn cluster_link_connected(&mut self, now: UnixMillis, link: LinkHandle) {
        let Engine { srv, clients } = self;
        with(srv, |c, srv| {
            let Some(l) = c.links.get_mut(link.0) else {
                return;
            };
            l.connecting = false;
            // Bytes queued while connecting (a broadcast) were not announced yet.
            let queued = !l.sndbuf.is_empty();
            let Some(name) = l.node.filter(|n| c.nodes.contains_key(n)) else {
                return;
            };
            let n = c.node(&name);
            let old_ping_sent = n.ping_sent;
            let type_ = if n.flags & flags::MEET != 0 {
                bus::TYPE_MEET
            } else {
                bus::TYPE_PING
            };
            send_ping(c, srv, link, type_, now.0);
            let n = c.node_mut(&name);
            if old_ping_sent != 0 {
                n.ping_sent = old_ping_sent;
            }
            n.flags &= !flags::MEET;
            if queued {
                srv.events.push_back(Event::ClusterOutput(link));
            }
            cluster_before_sleep(c, srv, clients, now.0);
        });
    }

    /// It could not be opened: the link is freed (the cron tries again). As Redis does for a
    /// connect that fails at once, a node we have no PING out to counts as pinged now, so
    /// an unreachable node turns PFAIL after node-timeout.
    pub fn cluster_link_failed(&mut self, now: UnixMillis, link: LinkHandle) {
        with(&mut self.srv, |c, srv| {
            let Some(name) = c.links.get(link.0).and_then(|l| l.node) else {
                free_link(c, srv, link, false);
                return;
            };
            if let Some(n) = c.nodes.get_mut(&name) {
                if n.ping_sent == 0 {
                    n.ping_sent = now.0;
                }
            }
            free_link(c, srv, link, false);
        });
    }

    /// Bytes read from a link. Whole messages are processed at once; a bad one frees the link
    /// (`Event::CloseClusterLink`).
    pub fn cluster_link_input(&mut self, now: UnixMillis, link: LinkHandle, bytes: &[u8]) {
        let Engine { srv, clients } = self;
        with(srv, |c, srv| {
            let Some(l) = c.links.get_mut(link.0) else {
                return;
            };
            l.rcvbuf.extend_from_slice(bytes);
            l.grow_rcvbuf();
            while let Some(l) = c.links.get_mut(link.0) {
                let len = match bus::frame_len(&l.rcvbuf) {
                    None => break,
                    Some(Err(_)) => {
                        log(
                            srv,
                            "Bad message length or signature received from Cluster bus.".into(),
                        );
                        free_link(c, srv, link, true);
                        break;
                    }
                    Some(Ok(len)) => len,
                };
                if l.rcvbuf.len() < len {
                    break;
                }
                let frame: Vec<u8> = l.rcvbuf.drain(..len).collect();
                // A whole message read: the buffer goes back to its initial size.
                l.rcvbuf_alloc = super::RCVBUF_INIT_LEN;
                l.grow_rcvbuf();
                let type_ = u16::from_be_bytes([frame[12], frame[13]]);
                if (type_ as usize) < bus::TYPE_COUNT {
                    c.stats_bus_messages_received[type_ as usize] += 1;
                }
                // clusterProcessPacket ignores (keeping the link) what fails its checks.
                let Ok(msg) = bus::decode(&frame) else {
                    continue;
                };
                if !process_packet(c, srv, clients, link, &msg, now.0) {
                    break;
                }
            }
            cluster_before_sleep(c, srv, clients, now.0);
        });
    }

    /// The bytes to write on a link (taken: the host keeps what the socket did not accept).
    pub fn cluster_link_output(&mut self, link: LinkHandle) -> Vec<u8> {
        self.srv
            .cluster
            .as_mut()
            .and_then(|c| c.links.get_mut(link.0))
            .map(|l| std::mem::take(&mut l.sndbuf))
            .unwrap_or_default()
    }

    /// How many bytes the host still holds for the link after a write (it waits for the
    /// socket to be writable while they remain: Redis's write handler).
    pub fn cluster_link_unsent(&mut self, link: LinkHandle, bytes: usize) {
        if let Some(l) = self
            .srv
            .cluster
            .as_mut()
            .and_then(|c| c.links.get_mut(link.0))
        {
            l.unsent = bytes;
        }
    }

    /// The host saw the connection close (or closed it): the link is freed.
    pub fn cluster_link_closed(&mut self, _now: UnixMillis, link: LinkHandle) {
        with(&mut self.srv, |c, srv| free_link(c, srv, link, false));
    }

    /// nodes.conf to write, if it changed: (text, fsync). The host writes it atomically.
    pub fn cluster_config_to_save(&mut self) -> Option<(String, bool)> {
        let c = self.srv.cluster.as_mut()?;
        if !c.config_dirty {
            return None;
        }
        c.config_dirty = false;
        let fsync = std::mem::take(&mut c.config_fsync);
        Some((super::nodes_conf::to_text(c), fsync))
    }

    /// Installs the host's nodes.conf writer (CLUSTER SAVECONFIG; without one it marks the
    /// config to save and the host writes it before the reply goes out).
    pub fn set_cluster_config_host(&mut self, host: Box<dyn super::ClusterConfigHost>) {
        self.srv.cluster_config_host = Some(host);
    }

    /// At startup, before serving: the nodes.conf the host found (cluster-config-file). Err:
    /// the line Redis logs before exiting.
    pub fn cluster_load_config(&mut self, text: &str, now: UnixMillis) -> Result<(), String> {
        if self.srv.cluster.is_none() {
            return Ok(());
        }
        // None: an empty file, a fresh node (the one made at startup stays).
        if let Some(loaded) = super::nodes_conf::load(text, now.0)? {
            self.srv.cluster = Some(Box::new(loaded));
        }
        Ok(())
    }
}
