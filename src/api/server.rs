//! Serving HTTP: our own accept loop in front of hyper and the warp filter.
//!
//! `warp::serve` neither times out a request head nor counts connections,
//! so a client that opens connections and never finishes a request
//! (slowloris) holds a file descriptor each until the process has none
//! left and `/healthz` stops answering. Here:
//! - every connection is counted, overall and per client address (an IPv6
//!   client by its /64, which one host usually has whole); past the
//!   per-address cap a connection gets a `503` with a sentence and is
//!   closed at once;
//! - at the overall cap, the connection that has waited longest without
//!   sending a whole request head is closed to make room for the new one
//!   (only if there is none is the new one refused): half-sent requests
//!   from many addresses cannot lock out `/healthz`, the dashboard or an
//!   event stream, which have sent theirs;
//! - a request head, and on a kept-alive connection the next one, must
//!   arrive within [`Limits::header_timeout`] (hyper's
//!   `header_read_timeout`), or the connection is closed;
//! - request bodies must keep a minimum rate (`req.rs`);
//! - on shutdown the listener closes, event streams end, and in-flight
//!   requests get at most [`SHUTDOWN_GRACE`].
//!
//! Only HTTP/1.1 is spoken: browsers use HTTP/2 only over TLS, and
//! HTTP/2 prior knowledge would add a preface read that has no time limit.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use warp::Filter;

use super::{routes, Ctx};

/// Default cap on open connections, all clients together.
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Default cap on open connections from one client address.
pub(crate) const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 256;
/// Default time a client has to send a request head.
pub(crate) const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long in-flight requests may take once shutdown has begun (a
/// stalled upload from a client on a bad link must not hold the exit).
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What the HTTP side may hold at once.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub header_timeout: Duration,
    /// The memory budget; decoding and rendering get its work share.
    pub memory: crate::memory::Budget,
    /// Reverse proxies whose `X-Forwarded-For` is believed ([`client_ip`]);
    /// their connections count only against `max_connections`.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            memory: crate::memory::Budget::default(),
            trusted_proxies: Vec::new(),
        }
    }
}

/// The client address as the accept loop saw it, put into every request
/// (warp's own is private to `warp::serve`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub SocketAddr);

/// The remote address: ours, or warp's (`warp::test` sets that one).
pub(crate) fn peer() -> impl Filter<Extract = (Option<SocketAddr>,), Error = Infallible> + Clone {
    warp::ext::optional::<Peer>()
        .and(warp::addr::remote())
        .map(|p: Option<Peer>, r: Option<SocketAddr>| p.map(|p| p.0).or(r))
}

/// Open connections, overall and per client.
pub(crate) struct Conns {
    max_total: usize,
    max_per_client: usize,
    /// Reverse proxies: no per-client cap (their clients are many).
    trusted: Vec<IpAddr>,
    total: AtomicUsize,
    per_client: Mutex<HashMap<IpAddr, usize>>,
    /// Connections that have not sent a whole request head yet, by
    /// admission number (oldest first), each with the means to close it.
    waiting: Mutex<BTreeMap<u64, tokio::sync::oneshot::Sender<()>>>,
    admitted: AtomicU64,
    refused: AtomicU64,
    evicted: AtomicU64,
}

/// One admitted connection; counted until dropped.
struct Slot {
    conns: Arc<Conns>,
    client: IpAddr,
    /// Its admission number.
    id: u64,
}

impl Slot {
    /// Its first request head has arrived: no longer closed to make room.
    fn started(&self) {
        self.conns
            .waiting
            .lock()
            .expect("connections lock")
            .remove(&self.id);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.started();
        self.conns.total.fetch_sub(1, Ordering::Relaxed);
        let mut per = self.conns.per_client.lock().expect("connections lock");
        if let Some(n) = per.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                per.remove(&self.client);
            }
        }
    }
}

/// The client a request comes from: the peer, or, when the peer is a
/// trusted reverse proxy, the last address in `X-Forwarded-For` that is
/// not one (proxies append the address they saw, so the addresses left of
/// the first untrusted one were written by the client and prove nothing).
/// A malformed entry stops the walk at the proxy before it.
pub(crate) fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|t| unmapped(*t) == unmapped(*ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_for.unwrap_or("").rsplit(',') {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// Every `X-Forwarded-For` line, in order, as one list: a proxy may add
/// its own line after the client's instead of extending it, and the last
/// hop is in the last line.
pub(crate) fn forwarded_for(headers: &warp::http::HeaderMap) -> String {
    let lines: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    lines.join(",")
}

/// An IPv4 address mapped into IPv6, as IPv4.
fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The address a cap counts against: an IPv4 address (also when mapped
/// into IPv6), or an IPv6 address's /64.
pub(super) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::V6(Ipv6Addr::from(s))
            }
        },
    }
}

impl Conns {
    pub(crate) fn new(limits: &Limits) -> Conns {
        Conns {
            max_total: limits.max_connections.max(1),
            max_per_client: limits.max_connections_per_ip.max(1),
            trusted: limits
                .trusted_proxies
                .iter()
                .map(|ip| unmapped(*ip))
                .collect(),
            total: AtomicUsize::new(0),
            per_client: Mutex::new(HashMap::new()),
            waiting: Mutex::new(BTreeMap::new()),
            admitted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
        }
    }

    /// A slot for a connection from `ip`, and what fires when it is to be
    /// closed to make room; `None` past a cap.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<(Slot, tokio::sync::oneshot::Receiver<()>)> {
        // A trusted proxy is counted by its own address, not its /64: its
        // many connections must not fill the count of hosts beside it.
        let trusted = self.trusted.contains(&unmapped(ip));
        let client = if trusted {
            unmapped(ip)
        } else {
            client_key(ip)
        };
        let mut per = self.per_client.lock().expect("connections lock");
        let mine = per.get(&client).copied().unwrap_or(0);
        let full = self.total.load(Ordering::Relaxed) >= self.max_total;
        let capped = mine >= self.max_per_client && !trusted;
        if capped || (full && !self.evict_one()) {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        per.insert(client, mine + 1);
        self.total.fetch_add(1, Ordering::Relaxed);
        let id = self.admitted.fetch_add(1, Ordering::Relaxed);
        let (close, closed) = tokio::sync::oneshot::channel();
        self.waiting
            .lock()
            .expect("connections lock")
            .insert(id, close);
        let slot = Slot {
            conns: self.clone(),
            client,
            id,
        };
        Some((slot, closed))
    }

    /// Closes the connection that has waited longest for its first
    /// request head; false if every connection has sent one. (Its slot is
    /// freed as its task ends, so the count may pass the cap by the
    /// evictions still under way.)
    fn evict_one(&self) -> bool {
        let oldest = self.waiting.lock().expect("connections lock").pop_first();
        match oldest {
            Some((_, close)) => {
                let _ = close.send(());
                self.evicted.fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// Connections refused at a cap since the start.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Connections closed before their first request head to make room.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }
}

const BUSY_BODY: &str = r#"{"error":"too_many_connections","message":"This server has too many open connections (from your address or in all): close idle connections and try again in a few seconds."}"#;

/// Answers a connection over a cap and closes it, without waiting for it.
fn refuse(stream: TcpStream) {
    let reply = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 10\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BUSY_BODY}",
        BUSY_BODY.len()
    );
    let _ = stream.try_write(reply.as_bytes());
}

/// warp's filter as a hyper service that knows the client's address
/// (and tells the connection's slot when its first request has come).
struct WithPeer<S> {
    inner: S,
    peer: SocketAddr,
    slot: Slot,
    started: std::sync::atomic::AtomicBool,
}

impl<S> hyper::service::Service<warp::http::Request<Incoming>> for WithPeer<S>
where
    S: tower_service::Service<warp::http::Request<Incoming>> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, mut req: warp::http::Request<Incoming>) -> Self::Future {
        if !self.started.swap(true, Ordering::Relaxed) {
            self.slot.started();
        }
        req.extensions_mut().insert(Peer(self.peer));
        self.inner.clone().call(req)
    }
}

/// Accept errors that concern one connection only.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Serves the API and the dashboard on `listener` until `shutdown`
/// resolves; then ends event streams and lets in-flight requests finish,
/// for at most [`SHUTDOWN_GRACE`].
pub(crate) async fn serve(
    ctx: Arc<Ctx>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let limits = ctx.limits.clone();
    let conns = ctx.conns.clone();
    let service = warp::service(routes(ctx.clone()));
    let c2 = ctx.clone();
    let (begun_tx, begun_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown.await;
        c2.begin_shutdown();
        let _ = begun_tx.send(());
    };
    let server = async move {
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) if is_connection_error(&e) => continue,
                    Err(e) => {
                        // Most likely out of file descriptors: wait for
                        // some to be closed rather than spin.
                        tracing::error!("accepting a connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let Some((slot, make_room)) = conns.admit(peer.ip()) else {
                refuse(stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(
                    TokioIo::new(stream),
                    WithPeer {
                        inner: service.clone(),
                        peer,
                        slot,
                        started: Default::default(),
                    },
                );
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                // Dropping the connection closes it and frees its slot.
                tokio::select! {
                    r = conn => if let Err(e) = r {
                        tracing::debug!(%peer, "connection ended: {e}");
                    },
                    Ok(()) = make_room => {
                        tracing::debug!(%peer, "closed before its first request to make room");
                    }
                }
            });
        }
        drop(listener);
        graceful.shutdown().await;
    };
    let grace_over = async {
        if begun_rx.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = server => {}
        () = grace_over => {
            tracing::warn!("requests still running {SHUTDOWN_GRACE:?} after shutdown began: stopping without them");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_per_client_and_in_all() {
        let conns = Arc::new(Conns::new(&Limits {
            max_connections: 5,
            max_connections_per_ip: 3,
            ..Limits::default()
        }));
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let held: Vec<_> = (0..3).map(|_| conns.admit(a).unwrap()).collect();
        for (slot, _) in &held {
            slot.started();
        }
        assert!(conns.admit(a).is_none(), "a fourth from one address");
        let b1 = conns.admit(b).unwrap();
        let b2 = conns.admit(b).unwrap();
        b1.0.started();
        b2.0.started();
        assert!(
            conns.admit(b).is_none(),
            "a sixth in all, every one started"
        );
        assert_eq!((conns.open(), conns.refused()), (5, 2));
        drop(b1);
        assert!(conns.admit(b).is_some(), "a slot freed is usable again");
        drop(held);
        assert_eq!(conns.open(), 1);
        drop(b2);
        let clients = conns.per_client.lock().unwrap().len();
        assert_eq!(clients, 0, "no entry kept for a gone client");
        assert!(conns.waiting.lock().unwrap().is_empty());
    }

    #[test]
    fn at_the_overall_cap_the_oldest_without_a_request_makes_room() {
        let conns = Arc::new(Conns::new(&Limits {
            max_connections: 3,
            max_connections_per_ip: 3,
            ..Limits::default()
        }));
        let ip = |i: u8| IpAddr::from([127, 0, 0, i]);
        let (served, mut served_rx) = conns.admit(ip(1)).unwrap();
        served.started();
        let (_slow1, mut slow1_rx) = conns.admit(ip(2)).unwrap();
        let (_slow2, mut slow2_rx) = conns.admit(ip(3)).unwrap();
        // Full: a newcomer closes the oldest that never sent a head.
        let (_new, _) = conns.admit(ip(4)).expect("room made");
        assert_eq!(slow1_rx.try_recv(), Ok(()), "the oldest waiting is closed");
        assert!(slow2_rx.try_recv().is_err(), "only one");
        assert!(
            served_rx.try_recv().is_err(),
            "a started one is never closed"
        );
        assert_eq!((conns.evicted(), conns.refused()), (1, 0));
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let k = |s: &str| client_key(s.parse().unwrap());
        assert_eq!(k("2001:db8:1:2:aaaa::1"), k("2001:db8:1:2:bbbb::9"));
        assert_ne!(k("2001:db8:1:2::1"), k("2001:db8:1:3::1"));
        assert_eq!(k("::ffff:10.0.0.7"), k("10.0.0.7"));
    }

    #[test]
    fn the_client_is_the_last_untrusted_forwarded_hop_of_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxies = [ip("127.0.0.9"), ip("127.0.0.8")];
        // An untrusted peer: its header is ignored.
        assert_eq!(
            client_ip(ip("127.0.0.5"), Some("127.0.0.7"), &proxies),
            ip("127.0.0.5")
        );
        // A trusted one: the address it saw, the one it appended last.
        assert_eq!(
            client_ip(ip("127.0.0.9"), Some("127.0.0.7"), &proxies),
            ip("127.0.0.7")
        );
        assert_eq!(
            client_ip(ip("127.0.0.9"), Some("127.0.0.1, 127.0.0.7"), &proxies),
            ip("127.0.0.7"),
            "what the client wrote itself is left of it"
        );
        // Through two trusted proxies; an IPv4-mapped peer.
        assert_eq!(
            client_ip(
                ip("::ffff:127.0.0.9"),
                Some("127.0.0.7, 127.0.0.8"),
                &proxies
            ),
            ip("127.0.0.7")
        );
        // A proxy given as an IPv4-mapped address is the same proxy.
        assert_eq!(
            client_ip(
                ip("127.0.0.9"),
                Some("127.0.0.7"),
                &[ip("::ffff:127.0.0.9")]
            ),
            ip("127.0.0.7")
        );
        // No header, or a malformed hop: the last trusted address.
        assert_eq!(client_ip(ip("127.0.0.9"), None, &proxies), ip("127.0.0.9"));
        assert_eq!(
            client_ip(ip("127.0.0.9"), Some("x, 127.0.0.8"), &proxies),
            ip("127.0.0.8")
        );
    }

    #[test]
    fn every_forwarded_line_counts_the_last_one_last() {
        let mut h = warp::http::HeaderMap::new();
        h.append("x-forwarded-for", "127.0.0.21".parse().unwrap());
        h.append("x-forwarded-for", "127.0.0.20".parse().unwrap());
        let proxies = ["127.0.0.9".parse().unwrap()];
        let peer = "127.0.0.9".parse().unwrap();
        assert_eq!(
            client_ip(peer, Some(&forwarded_for(&h)), &proxies),
            "127.0.0.20".parse::<IpAddr>().unwrap(),
            "the proxy's own line, not the client's"
        );
    }

    #[test]
    fn a_trusted_ipv6_proxy_leaves_the_hosts_of_its_64_their_own_cap() {
        let proxy: IpAddr = "2001:db8:0:1::9".parse().unwrap();
        let neighbour: IpAddr = "2001:db8:0:1::5".parse().unwrap();
        let conns = Arc::new(Conns::new(&Limits {
            max_connections: 100,
            max_connections_per_ip: 2,
            trusted_proxies: vec![proxy],
            ..Limits::default()
        }));
        let _held: Vec<_> = (0..10).map(|_| conns.admit(proxy).unwrap()).collect();
        let _two: Vec<_> = (0..2)
            .map(|_| conns.admit(neighbour).expect("a host beside the proxy"))
            .collect();
        assert!(conns.admit(neighbour).is_none(), "its own cap still holds");
    }

    #[test]
    fn a_trusted_proxy_is_capped_only_in_all() {
        let proxy: IpAddr = "127.0.0.9".parse().unwrap();
        let conns = Arc::new(Conns::new(&Limits {
            max_connections: 10,
            max_connections_per_ip: 2,
            trusted_proxies: vec![proxy],
            ..Limits::default()
        }));
        let held: Vec<_> = (0..10)
            .map(|_| {
                let (slot, closed) = conns.admit(proxy).expect("past the per-client cap");
                slot.started();
                (slot, closed)
            })
            .collect();
        assert!(conns.admit(proxy).is_none(), "the overall cap still holds");
        assert!(
            conns.admit("127.0.0.5".parse().unwrap()).is_none(),
            "and for everyone"
        );
        drop(held);
        let other: IpAddr = "127.0.0.5".parse().unwrap();
        let _two: Vec<_> = (0..2).map(|_| conns.admit(other).unwrap()).collect();
        assert!(
            conns.admit(other).is_none(),
            "others keep the per-client cap"
        );
    }
}
