//! Keyspace notifications (Redis 7.0's notify.c): `notify-keyspace-events` selects event
//! classes; an event of a selected class is published, through the ordinary pub/sub delivery,
//! on `__keyspace@<db>__:<key>` (message: the event) when `K` is set and on
//! `__keyevent@<db>__:<event>` (message: the key) when `E` is set.
//!
//! Handlers call [`Ctx::notify`] where Redis calls notifyKeyspaceEvent, with Redis's event
//! names and in its order. Three events come from the keyspace itself, which cannot reach the
//! clients: `expired` (lazy and active expiry), `new` (dbAdd) and `keymiss` (a read lookup that
//! finds nothing). `Db` logs those in `notify_log` while their class is on, and the log is
//! published before the next handler event, at the end of every command and after each
//! active-expiry round ([`flush`]), so they keep their place in Redis's order. Eviction, which
//! runs outside a handler, calls [`evicted`].

use super::pubsub;
use super::Ctx;
use crate::engine::{Client, ClientHandle, Server};
use crate::time::UnixMillis;

pub use crate::config::notify::*;

/// A caller that is no client (expiry, eviction): every subscriber is "another client".
const NO_CALLER: ClientHandle = ClientHandle(usize::MAX);

/// The flags the keyspace logs events for: the configured ones, or none when neither `K` nor
/// `E` is set (nothing would be published).
fn db_flags(srv: &Server) -> u32 {
    let f = srv.config.notify_keyspace_events.0;
    if f & (KEYSPACE | KEYEVENT) == 0 {
        0
    } else {
        f
    }
}

/// Tells the databases which events to log; call after `notify-keyspace-events` changes.
pub fn sync(srv: &mut Server) {
    let f = db_flags(srv);
    for db in &mut srv.dbs {
        db.notify_flags = f;
        if f == 0 {
            db.notify_log.clear();
        }
    }
}

/// True while the databases log events (every database has the same flags): the one test
/// the per-command flushes cost when notifications are off.
#[inline]
fn logging(srv: &Server) -> bool {
    srv.dbs.first().is_some_and(|db| db.notify_flags != 0)
}

/// True when an event of `class` would be published.
#[inline]
pub fn enabled(srv: &Server, class: u32) -> bool {
    let f = srv.config.notify_keyspace_events.0;
    f & class != 0 && f & (KEYSPACE | KEYEVENT) != 0
}

/// One keyspace event: its class, its name, the key and the key's database.
#[derive(Clone, Copy, Debug)]
pub struct KeyEvent<'a> {
    pub class: u32,
    pub event: &'a str,
    pub key: &'a [u8],
    pub db: usize,
}

/// Redis's notifyKeyspaceEvent: publishes `ev` if its class is on. `caller` is the client
/// whose command caused it (its own pushes are not dropped by CLIENT REPLY OFF). Events the
/// keyspace logged earlier go first.
pub fn notify(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    caller: ClientHandle,
    ev: KeyEvent,
) {
    if !enabled(srv, ev.class) {
        return;
    }
    flush(now, srv, clients, caller);
    publish(now, srv, clients, caller, ev.event, ev.key, ev.db);
}

fn publish(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    caller: ClientHandle,
    event: &str,
    key: &[u8],
    db: usize,
) {
    let f = srv.config.notify_keyspace_events.0;
    if f & KEYSPACE != 0 {
        let mut chan = format!("__keyspace@{db}__:").into_bytes();
        chan.extend_from_slice(key);
        pubsub::publish_global(now, srv, clients, caller, &chan, event.as_bytes());
    }
    if f & KEYEVENT != 0 {
        let chan = format!("__keyevent@{db}__:{event}");
        pubsub::publish_global(now, srv, clients, caller, chan.as_bytes(), key);
    }
}

/// Publishes the events the databases logged (`expired`, `new`, `keymiss`), in order.
pub fn flush(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    caller: ClientHandle,
) {
    if !logging(srv) {
        return;
    }
    for db in 0..srv.dbs.len() {
        if srv.dbs[db].notify_log.is_empty() {
            continue;
        }
        let log = std::mem::take(&mut srv.dbs[db].notify_log);
        for (class, event, key) in &log {
            if enabled(srv, *class) {
                publish(now, srv, clients, caller, event, key, db);
            }
        }
    }
}

/// Publishes what the keyspace logged during a command and no handler event flushed (a read's
/// lazy expiry or miss). Redis publishes those during the lookup, before the command's reply:
/// pushes to the caller itself are moved in front of the reply it got (`out_start`: where its
/// output for this command began).
pub fn flush_after_command(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
    out_start: usize,
) {
    if !logging(srv) || srv.dbs.iter().all(|db| db.notify_log.is_empty()) {
        return;
    }
    let before = clients.get(id.0).map_or(0, |c| c.out.len());
    flush(now, srv, clients, id);
    if let Some(c) = clients.get_mut(id.0) {
        let end = c.out.len();
        if out_start <= before && before <= end {
            c.out[out_start..].rotate_right(end - before);
        }
    }
}

/// Publishes what expiry logged outside any command (the active cycle).
pub fn flush_server(now: UnixMillis, srv: &mut Server, clients: &mut slab::Slab<Client>) {
    flush(now, srv, clients, NO_CALLER);
}

/// The `evicted` event for a key eviction deleted (Redis's performEvictions): for the
/// eviction code, which runs outside a handler.
pub fn evicted(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    db: usize,
    key: &[u8],
) {
    let ev = KeyEvent {
        class: EVICTED,
        event: "evicted",
        key,
        db,
    };
    notify(now, srv, clients, NO_CALLER, ev);
}

impl Ctx<'_> {
    /// Publishes what the keyspace logged in the client's database (a `new`, a lazy expiry)
    /// before a reply is written: Redis publishes those when they happen, so a subscriber that
    /// is the caller itself gets them ahead of the reply.
    #[inline]
    pub(crate) fn flush_keyspace_log(&mut self) {
        let db = self.clients[self.handle.0].db;
        if !self.srv.dbs[db].notify_log.is_empty() {
            flush(self.now, self.srv, self.clients, self.handle);
        }
    }

    /// Redis's notifyKeyspaceEvent(class, event, key, <the client's db>).
    #[inline]
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        let db = self.clients[self.handle.0].db;
        self.notify_in(db, class, event, key);
    }

    /// `event`, then `del` if that emptied the key away (a collection's last element went):
    /// the pattern of every removing command in Redis.
    pub fn notify_removal(&mut self, class: u32, event: &str, key: &[u8]) {
        if !enabled(self.srv, class | GENERIC) {
            return;
        }
        self.notify(class, event, key);
        if !self.db().exists(key) {
            self.notify(GENERIC, "del", key);
        }
    }

    /// `event` if the key holds a value now, `del` if it was deleted instead (a STORE whose
    /// result was empty).
    pub fn notify_store(&mut self, class: u32, event: &str, key: &[u8]) {
        if !enabled(self.srv, class | GENERIC) {
            return;
        }
        if self.db().exists(key) {
            self.notify(class, event, key);
        } else {
            self.notify(GENERIC, "del", key);
        }
    }

    /// Redis's notifyKeyspaceEvent for a key of any database (MOVE, COPY ... DB).
    #[inline]
    pub fn notify_in(&mut self, db: usize, class: u32, event: &str, key: &[u8]) {
        if enabled(self.srv, class) {
            let ev = KeyEvent {
                class,
                event,
                key,
                db,
            };
            notify(self.now, self.srv, self.clients, self.handle, ev);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::{ConnInfo, Engine};
    use crate::resp::encode_request;
    use crate::testing::NOW;
    use crate::{ClientHandle, Config, UnixMillis};

    fn send(eng: &mut Engine, id: ClientHandle, now: UnixMillis, args: &[&str]) -> String {
        eng.feed(now, id, &encode_request(args));
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        String::from_utf8_lossy(&out).replace("\r\n", " ")
    }

    fn setup(flags: &str) -> (Engine, ClientHandle, ClientHandle) {
        let mut eng = Engine::new(Config::default(), 7);
        let w = eng.connect(NOW, ConnInfo::default());
        let sub = eng.connect(NOW, ConnInfo::default());
        send(
            &mut eng,
            w,
            NOW,
            &["CONFIG", "SET", "notify-keyspace-events", flags],
        );
        send(&mut eng, sub, NOW, &["SUBSCRIBE", "__keyevent@0__:expired"]);
        send(&mut eng, sub, NOW, &["PSUBSCRIBE", "__keyevent@0__:key*"]);
        (eng, w, sub)
    }

    #[test]
    fn lazy_expiry_raises_expired_before_the_reads_keymiss() {
        // No tick between: only the GET's lookup can find the key dead.
        let (mut eng, w, sub) = setup("Exm");
        send(&mut eng, w, NOW, &["SET", "k", "v", "PX", "100"]);
        let later = UnixMillis(NOW.0 + 200);
        assert_eq!(send(&mut eng, w, later, &["GET", "k"]), "$-1 ");
        let mut out = Vec::new();
        eng.drain_output(sub, &mut out);
        assert_eq!(
            String::from_utf8_lossy(&out).replace("\r\n", " "),
            "*3 $7 message $22 __keyevent@0__:expired $1 k \
             *4 $8 pmessage $19 __keyevent@0__:key* $22 __keyevent@0__:keymiss $1 k "
        );
    }

    #[test]
    fn active_expiry_raises_expired_for_untouched_keys() {
        let (mut eng, w, sub) = setup("Ex");
        send(&mut eng, w, NOW, &["SET", "k", "v", "PX", "100"]);
        eng.tick(UnixMillis(NOW.0 + 200));
        let mut out = Vec::new();
        eng.drain_output(sub, &mut out);
        assert_eq!(
            String::from_utf8_lossy(&out).replace("\r\n", " "),
            "*3 $7 message $22 __keyevent@0__:expired $1 k "
        );
    }

    #[test]
    fn a_resp3_callers_own_lazy_events_come_before_its_reply() {
        // Redis publishes during the lookup, before the reply is written.
        let (mut eng, w, _) = setup("Exm");
        send(&mut eng, w, NOW, &["HELLO", "3"]);
        send(&mut eng, w, NOW, &["SUBSCRIBE", "__keyevent@0__:keymiss"]);
        assert_eq!(
            send(&mut eng, w, NOW, &["GET", "nosuch"]),
            ">3 $7 message $22 __keyevent@0__:keymiss $6 nosuch _ "
        );
    }

    #[test]
    fn nothing_is_logged_while_notifications_are_off() {
        let (mut eng, w, _) = setup("");
        send(&mut eng, w, NOW, &["SET", "k", "v", "PX", "100"]);
        send(&mut eng, w, NOW, &["GET", "nosuch"]);
        let later = UnixMillis(NOW.0 + 200);
        send(&mut eng, w, later, &["GET", "k"]);
        assert!(eng.server().dbs.iter().all(|db| db.notify_log.is_empty()));
        assert!(eng.server().dbs.iter().all(|db| db.notify_flags == 0));
    }

    #[test]
    fn evicted_publishes_as_a_server_event() {
        let (mut eng, _, sub) = setup("Ee");
        send(&mut eng, sub, NOW, &["SUBSCRIBE", "__keyevent@0__:evicted"]);
        let (srv, clients) = eng.parts_mut();
        super::evicted(NOW, srv, clients, 0, b"k");
        let mut out = Vec::new();
        eng.drain_output(sub, &mut out);
        assert_eq!(
            String::from_utf8_lossy(&out).replace("\r\n", " "),
            "*3 $7 message $22 __keyevent@0__:evicted $1 k "
        );
    }
}
