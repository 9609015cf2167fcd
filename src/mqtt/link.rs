//! The server's MQTT link. One task owns the rumqttc event loop and polls
//! it continuously; [`Publisher`] clones only queue requests onto it.
//!
//! rumqttc reconnects immediately after an error; this task sleeps with
//! exponential back-off and jitter between attempts instead, and logs state
//! changes (connected, lost, refused) rather than every retry.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, Incoming, LastWill, MqttOptions, Outgoing,
    Publish, QoS, Request, Subscribe, SubscribeFilter,
};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::topics::{self, Kind};
use super::{guard, tls, Counters, LinkOptions, MqttError};
use crate::codec::Accepts;
use crate::domain::Id;

/// Requests queued between [`Publisher`]s and the event loop. When it is
/// full the player waits (back-pressure), which costs no throughput: the
/// event loop drains the queue in batches far faster than the socket takes
/// frames. Every queued frame is a copy (up to 1.5 MiB), so a deep queue
/// only raises the server's peak memory: 4096 held ~80 MB at 10,000 panels
/// (`bangtin loadtest province`, docs/PERFORMANCE.md).
const REQUEST_CAPACITY: usize = 256;
/// Unacknowledged QoS 1 publishes in flight. Mosquitto acks in order, so a
/// deep window keeps the socket busy (publish throughput in
/// docs/PERFORMANCE.md).
const INFLIGHT: u16 = 200;
const INBOUND_CAPACITY: usize = 8192;
pub(crate) const BACKOFF_MIN: Duration = Duration::from_millis(250);
/// At most 4 s (2–4 s with jitter) between attempts, so frames are back on
/// the glass within 5 s of a broker's return however long it was away.
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(4);
const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);

/// What the link reports to the player.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A (re)connection: republish every panel's current frame.
    Connected,
    /// The connection was lost (the link retries with back-off and reports
    /// [`Inbound::Connected`] when it is back). Frames published meanwhile
    /// are refused with [`MqttError::NotConnected`].
    Disconnected,
    /// A controller's retained status.
    Status {
        /// The panel, from the topic `{root}/panels/{panel}/status`.
        panel: Id,
        /// `false` from the controller's Last Will or a clean goodbye.
        online: bool,
        /// The controller's firmware version as it reports it, cut to 100
        /// characters.
        firmware: Option<String>,
        /// Seq of the last frame the controller shows; `None` if none yet.
        seq: Option<u32>,
        /// The compressed formats it decodes (`"accepts"`; none from a
        /// version-1 controller).
        accepts: Accepts,
    },
    /// A controller shows the frame with this seq (proof of play), and
    /// names the CRC-32 of its pixel data (acks of version 1 name none).
    Ack {
        /// The panel, from the topic `{root}/panels/{panel}/ack`.
        panel: Id,
        /// The BTF1 seq of the frame now shown.
        seq: u32,
        /// The CRC-32 of the shown frame's pixel data, if the ack names it.
        crc: Option<u32>,
    },
    /// What a controller's glass shows, answering a snapshot request: a
    /// BTF1 frame (checked by `frame::decode`) whose data is a PNG.
    Snapshot {
        /// The panel, from the topic `{root}/panels/{panel}/snapshot`.
        panel: Id,
        /// The frame as received.
        frame: Bytes,
    },
}

/// A cheap handle onto the link task.
#[derive(Clone)]
pub struct Publisher {
    client: AsyncClient,
    root: Arc<str>,
    connected: Arc<AtomicBool>,
    max_packet: usize,
    control: mpsc::Sender<oneshot::Sender<()>>,
}

impl Publisher {
    /// Publishes a panel's frame, QoS 1, retained. Returns once the request
    /// is queued (not when the broker acknowledged it). While disconnected
    /// it returns [`MqttError::NotConnected`]: the player republishes every
    /// panel on the next [`Inbound::Connected`].
    pub async fn publish_frame(&self, panel: &Id, frame: Bytes) -> Result<(), MqttError> {
        self.send_within_limit(topics::frame(&self.root, panel), frame)
            .await
    }

    /// Asks a panel's controller what its glass shows (QoS 1, not
    /// retained: a controller offline now is not asked later).
    pub async fn request_snapshot(&self, panel: &Id) -> Result<(), MqttError> {
        self.send(
            topics::snapshot_request(&self.root, panel),
            Bytes::new(),
            false,
        )
        .await
    }

    /// Publishes a panel's offline bundle, QoS 1, retained, beside its
    /// frame (the same rules as [`Publisher::publish_frame`]).
    pub async fn publish_bundle(&self, panel: &Id, bundle: Bytes) -> Result<(), MqttError> {
        self.send_within_limit(topics::bundle(&self.root, panel), bundle)
            .await
    }

    /// [`Publisher::send`], refusing a packet over the broker's limit.
    async fn send_within_limit(&self, topic: String, payload: Bytes) -> Result<(), MqttError> {
        let size = payload.len() + topic.len() + 16;
        if size > self.max_packet {
            return Err(MqttError::TooLarge {
                size,
                limit: self.max_packet,
            });
        }
        self.send(topic, payload, true).await
    }

    /// Removes a panel's retained frame and bundle (the panel was deleted
    /// or moved to another transport).
    pub async fn clear_frame(&self, panel: &Id) -> Result<(), MqttError> {
        self.send(topics::frame(&self.root, panel), Bytes::new(), true)
            .await?;
        self.send(topics::bundle(&self.root, panel), Bytes::new(), true)
            .await
    }

    /// Publishes at QoS 1 while the link is up.
    async fn send(&self, topic: String, payload: Bytes, retain: bool) -> Result<(), MqttError> {
        if self.control.is_closed() {
            return Err(MqttError::Closed);
        }
        if !self.is_connected() {
            return Err(MqttError::NotConnected);
        }
        self.client
            .publish_bytes(topic, QoS::AtLeastOnce, retain, payload)
            .await
            .map_err(|_| MqttError::Closed)
    }

    /// Publishes `offline` (retained), waits for the broker's ack or about
    /// 2 s, and disconnects cleanly. Later publishes return [`MqttError::Closed`].
    pub async fn shutdown(&self) {
        let (done_tx, done_rx) = oneshot::channel();
        if self.control.send(done_tx).await.is_ok() {
            let _ = tokio::time::timeout(SHUTDOWN_WAIT * 2, done_rx).await;
        }
    }

    /// Whether the broker accepted the current connection (CONNACK seen and
    /// not lost since); publishes fail with [`MqttError::NotConnected`]
    /// while it is false.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }
}

/// rumqttc's options: it connects to the link's guard (which dials the
/// broker, with TLS if any), not to the broker itself.
fn mqtt_options(opts: &LinkOptions, guard: &guard::Guard) -> MqttOptions {
    let mut mo = MqttOptions::new(
        &guard.client_id,
        guard.addr.ip().to_string(),
        guard.addr.port(),
    );
    mo.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_max_packet_size(opts.max_packet, opts.max_packet)
        .set_inflight(INFLIGHT)
        .set_last_will(LastWill::new(
            topics::server_status(&opts.topic_root),
            "offline",
            QoS::AtLeastOnce,
            true,
        ));
    if let Some(user) = &opts.url.username {
        mo.set_credentials(user, opts.url.password.as_deref().unwrap_or(""));
    }
    mo
}

/// Starts the link; see [`try_connect`]. A configuration error (unreadable
/// TLS files) is logged and yields a publisher that is already closed.
pub fn connect(opts: LinkOptions) -> (Publisher, mpsc::Receiver<Inbound>) {
    match try_connect(opts.clone()) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "MQTT link not started");
            let (client, _no_loop) = AsyncClient::new(MqttOptions::new(&opts.client_id, "", 0), 1);
            let (control, _) = mpsc::channel(1);
            let (_, inbound) = mpsc::channel(1);
            let publisher = Publisher {
                client,
                root: opts.topic_root.as_str().into(),
                connected: Arc::new(AtomicBool::new(false)),
                max_packet: opts.max_packet,
                control,
            };
            (publisher, inbound)
        }
    }
}

/// Spawns the event-loop task (needs a Tokio runtime). It sets the server's
/// Last Will (`offline`, retained, QoS 1) on `{root}/server/status`,
/// publishes `online` there on every connection, subscribes to controllers'
/// status and ack topics, and reconnects with back-off.
pub fn try_connect(opts: LinkOptions) -> Result<(Publisher, mpsc::Receiver<Inbound>), MqttError> {
    let tls = match opts.url.tls {
        true => Some(tls::client_config(&opts.tls)?),
        false => None,
    };
    let guard = guard::start(
        &opts.url.host,
        opts.url.port,
        tls,
        &opts.client_id,
        opts.max_packet,
        opts.counters.clone(),
    )?;
    let mo = mqtt_options(&opts, &guard);
    let (client, mut eventloop) = AsyncClient::new(mo, REQUEST_CAPACITY);
    let mut net = eventloop.network_options();
    net.set_tcp_nodelay(true);
    net.set_connection_timeout(5);
    eventloop.set_network_options(net);
    let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_CAPACITY);
    let (control_tx, control_rx) = mpsc::channel(1);
    let connected = Arc::new(AtomicBool::new(false));
    let root: Arc<str> = opts.topic_root.as_str().into();
    let task = LinkTask {
        eventloop,
        root: root.clone(),
        url: opts.url.to_string(),
        connected: connected.clone(),
        inbound: inbound_tx,
        control: control_rx,
        state_pending: None,
        counters: opts.counters.clone(),
    };
    tokio::spawn(task.run());
    Ok((
        Publisher {
            client,
            root,
            connected,
            max_packet: opts.max_packet,
            control: control_tx,
        },
        inbound_rx,
    ))
}

struct LinkTask {
    eventloop: EventLoop,
    root: Arc<str>,
    url: String,
    connected: Arc<AtomicBool>,
    inbound: mpsc::Sender<Inbound>,
    control: mpsc::Receiver<oneshot::Sender<()>>,
    /// A link-state event still waiting for room in a full inbound queue;
    /// the next one waits for it, so the receiver sees them in order.
    state_pending: Option<tokio::task::JoinHandle<()>>,
    counters: Arc<Counters>,
}

pub(crate) fn retained(topic: String, payload: impl Into<Vec<u8>>) -> Request {
    let mut p = Publish::new(topic, QoS::AtLeastOnce, payload);
    p.retain = true;
    Request::Publish(p)
}

impl LinkTask {
    async fn run(mut self) {
        let mut backoff = BACKOFF_MIN;
        let mut failures: u32 = 0;
        let mut ever_connected = false;
        loop {
            let event = tokio::select! {
                ev = self.eventloop.poll() => ev,
                done = self.control.recv() => {
                    self.shutdown().await;
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                    return;
                }
            };
            match event {
                Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                    backoff = BACKOFF_MIN;
                    failures = 0;
                    self.connected.store(true, Ordering::Release);
                    tracing::info!(broker = %self.url, reconnect = ever_connected, "MQTT connected");
                    ever_connected = true;
                    // Ahead of anything the player queued: pending requests
                    // go out before the request channel is read.
                    let root = &self.root;
                    self.eventloop
                        .pending
                        .push_front(Request::Subscribe(Subscribe::new_many([
                            SubscribeFilter::new(topics::status_filter(root), QoS::AtLeastOnce),
                            SubscribeFilter::new(topics::ack_filter(root), QoS::AtLeastOnce),
                            SubscribeFilter::new(topics::snapshot_filter(root), QoS::AtLeastOnce),
                        ])));
                    self.eventloop
                        .pending
                        .push_front(retained(topics::server_status(root), "online"));
                    self.deliver(Inbound::Connected);
                }
                Ok(Event::Incoming(Incoming::Publish(p))) => {
                    match parse_report(&self.root, &p.topic, &p.payload) {
                        Some(msg) => self.deliver(msg),
                        // An empty status only clears a retained one.
                        None if p.payload.is_empty() => {}
                        None => {
                            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let was = self.connected.swap(false, Ordering::AcqRel);
                    failures += 1;
                    if was {
                        tracing::warn!(broker = %self.url, error = %e, "MQTT connection lost; reconnecting");
                        self.deliver(Inbound::Disconnected);
                    } else if failures == 1
                        || failures.is_multiple_of(20)
                        || refused(&e) && failures < 3
                    {
                        tracing::warn!(broker = %self.url, error = %e, failures, "MQTT broker unreachable; retrying with back-off");
                    } else {
                        tracing::debug!(broker = %self.url, error = %e, failures, "MQTT connect failed");
                    }
                    let delay = jitter(backoff);
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        done = self.control.recv() => {
                            if let Some(done) = done {
                                let _ = done.send(());
                            }
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Never blocks the event loop: a full channel drops controllers'
    /// reports (with a warning); link-state events (`Connected`,
    /// `Disconnected`) are never dropped nor reordered: when they cannot go
    /// at once, a helper task delivers them in turn.
    fn deliver(&mut self, mut msg: Inbound) {
        let link_state = matches!(msg, Inbound::Connected | Inbound::Disconnected);
        let waiting = self
            .state_pending
            .as_ref()
            .is_some_and(|h| !h.is_finished());
        if !(link_state && waiting) {
            match self.inbound.try_send(msg) {
                Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => return,
                Err(mpsc::error::TrySendError::Full(m)) if !link_state => {
                    tracing::warn!(msg = ?m, "inbound MQTT queue full; report dropped");
                    return;
                }
                Err(mpsc::error::TrySendError::Full(m)) => msg = m,
            }
        }
        // A link-state event that has to wait for room, after any other.
        let prev = self.state_pending.take();
        let tx = self.inbound.clone();
        self.state_pending = Some(tokio::spawn(async move {
            if let Some(prev) = prev {
                let _ = prev.await;
            }
            let _ = tx.send(msg).await;
        }));
    }

    async fn shutdown(&mut self) {
        self.control.close();
        if self.connected.load(Ordering::Acquire) {
            let offline = retained(topics::server_status(&self.root), "offline");
            let mut nothing_else = VecDeque::new();
            if !publish_then_disconnect(&mut self.eventloop, &mut nothing_else, offline).await {
                tracing::warn!("broker did not acknowledge the offline status within 2 s: closing without DISCONNECT, so it publishes the Last Will");
            }
            tracing::info!("MQTT link closed");
        }
        self.connected.store(false, Ordering::Release);
    }
}

/// Sends `last` after what is queued (in `queue` and the event loop's own
/// queue), waits up to 2 s for its PUBACK, then disconnects cleanly (so
/// the broker discards the Last Will). Returns whether the ack arrived;
/// when it did not, there is no DISCONNECT: the caller drops the event
/// loop, and the broker publishes the Last Will (the same offline status),
/// so a last status lost under load never leaves the client "online" for
/// good.
///
/// What is queued goes first (a controller's unsent acks are proof of
/// play), except a publish on `last`'s own topic: an "online" status
/// queued a moment before the stop would follow the "offline" one and be
/// what the broker keeps, so it is dropped.
pub(crate) async fn publish_then_disconnect(
    eventloop: &mut EventLoop,
    queue: &mut VecDeque<Request>,
    last: Request,
) -> bool {
    if let Request::Publish(l) = &last {
        let other = |r: &Request| !matches!(r, Request::Publish(p) if p.topic == l.topic);
        eventloop.pending.retain(other);
        queue.retain(other);
        if eventloop
            .state
            .collision
            .as_ref()
            .is_some_and(|p| p.topic == l.topic)
        {
            eventloop.state.collision = None;
        }
    }
    // Every publish ahead of ours reports one `Outgoing::Publish` before
    // it: those queued, the one waiting for its packet id, and the events
    // the loop has made but not handed out yet.
    let waiting = eventloop
        .state
        .events
        .iter()
        .filter(|e| matches!(e, Event::Outgoing(Outgoing::Publish(_))))
        .count();
    let mut ahead = publishes(&eventloop.pending)
        + publishes(queue)
        + usize::from(eventloop.state.collision.is_some())
        + waiting;
    queue.push_back(last);
    let deadline = Instant::now() + SHUTDOWN_WAIT;
    let mut pkid = None;
    let acked = loop {
        feed(eventloop, queue);
        match tokio::time::timeout_at(deadline, eventloop.poll()).await {
            Ok(Ok(Event::Outgoing(Outgoing::Publish(_)))) if ahead > 0 => ahead -= 1,
            Ok(Ok(Event::Outgoing(Outgoing::Publish(id)))) if pkid.is_none() => pkid = Some(id),
            Ok(Ok(Event::Incoming(Incoming::PubAck(ack)))) if Some(ack.pkid) == pkid => break true,
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return false,
            Err(_) => break false,
        }
    };
    if !acked {
        // Leave the Will to the broker: it says the same, and it is
        // published for a connection that ends without a DISCONNECT. The
        // caller drops the event loop, which closes the socket.
        return false;
    }
    eventloop
        .pending
        .push_front(Request::Disconnect(rumqttc::Disconnect));
    let deadline = Instant::now() + Duration::from_millis(500);
    while let Ok(Ok(ev)) = tokio::time::timeout_at(deadline, eventloop.poll()).await {
        if matches!(ev, Event::Outgoing(Outgoing::Disconnect)) {
            break;
        }
    }
    acked
}

/// Moves requests from `queue` into the event loop's own queue while the
/// publishes there and in flight stay under its in-flight limit, and none
/// waits for its packet id. rumqttc sends what is in its own queue without
/// regard to that limit, and a publish that finds its packet id still in
/// flight waits in one slot, which the next such publish overwrites: that
/// one is lost, never sent. Requests from the channel are held back by
/// rumqttc itself.
pub(crate) fn feed(eventloop: &mut EventLoop, queue: &mut VecDeque<Request>) {
    let limit = usize::from(eventloop.mqtt_options.inflight());
    let mut used = usize::from(eventloop.state.inflight()) + publishes(&eventloop.pending);
    while eventloop.state.collision.is_none() {
        match queue.front() {
            None => break,
            Some(r) if counts(r) && used >= limit => break,
            Some(r) => used += usize::from(counts(r)),
        }
        eventloop.pending.extend(queue.pop_front());
    }
}

/// A publish that takes a packet id (QoS 1 or 2).
fn counts(r: &Request) -> bool {
    matches!(r, Request::Publish(p) if p.qos != QoS::AtMostOnce)
}

/// The publishes in `queue` (each reports one `Outgoing::Publish`).
fn publishes(queue: &VecDeque<Request>) -> usize {
    queue
        .iter()
        .filter(|r| matches!(r, Request::Publish(_)))
        .count()
}

fn refused(e: &ConnectionError) -> bool {
    matches!(e, ConnectionError::ConnectionRefused(_))
}

/// A delay in [d/2, d), so a fleet of reconnecting clients spreads out.
pub(crate) fn jitter(d: Duration) -> Duration {
    use rand::Rng;
    let half = d / 2;
    half + half.mul_f64(rand::thread_rng().gen::<f64>())
}

#[derive(Deserialize)]
struct StatusJson {
    online: bool,
    #[serde(default)]
    firmware: Option<String>,
    #[serde(default)]
    seq: Option<u32>,
    #[serde(default)]
    accepts: Vec<String>,
}

#[derive(Deserialize)]
struct AckJson {
    seq: u32,
    #[serde(default)]
    crc: Option<u32>,
}

/// Parses a controller's report; anything malformed or larger than
/// its topic's limit ([`super::report_limit`]) is logged and dropped.
pub(crate) fn parse_report(root: &str, topic: &str, payload: &[u8]) -> Option<Inbound> {
    let Some((panel, kind)) = topics::parse_inbound(root, topic) else {
        tracing::debug!(topic, "ignoring message on an unexpected topic");
        return None;
    };
    let limit = super::report_limit(kind);
    if payload.len() > limit {
        tracing::warn!(%panel, topic, bytes = payload.len(), "dropped a report of {} bytes: reports here are at most {limit} bytes", payload.len());
        return None;
    }
    match kind {
        // An empty retained payload is someone clearing the status.
        Kind::Status if payload.is_empty() => None,
        Kind::Status => match serde_json::from_slice::<StatusJson>(payload) {
            Ok(s) => Some(Inbound::Status {
                panel,
                online: s.online,
                firmware: s.firmware.map(|f| f.chars().take(100).collect()),
                seq: s.seq,
                accepts: Accepts::from_names(s.accepts.iter().map(String::as_str)),
            }),
            Err(e) => {
                tracing::warn!(%panel, error = %e, "malformed status from controller; dropped");
                None
            }
        },
        Kind::Ack => match serde_json::from_slice::<AckJson>(payload) {
            Ok(a) => Some(Inbound::Ack {
                panel,
                seq: a.seq,
                crc: a.crc,
            }),
            Err(e) => {
                tracing::warn!(%panel, error = %e, "malformed ack from controller; dropped");
                None
            }
        },
        Kind::Snapshot => match crate::frame::decode(payload) {
            Ok(f) if f.header.format == crate::domain::PixelFormat::Png => {
                Some(Inbound::Snapshot {
                    panel,
                    frame: Bytes::copy_from_slice(payload),
                })
            }
            Ok(f) => {
                tracing::warn!(%panel, format = f.header.format.name(), "a snapshot must hold a PNG; dropped");
                None
            }
            Err(e) => {
                tracing::warn!(%panel, error = %e, "malformed snapshot from controller; dropped");
                None
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::MAX_REPORT;

    /// The MQTT control packet types in `bytes` (the high nibble of each
    /// fixed header), walking the remaining lengths.
    fn packet_types(bytes: &[u8]) -> Vec<u8> {
        let mut types = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            types.push(bytes[i] >> 4);
            let (mut len, mut shift, mut j) = (0usize, 0, i + 1);
            while let Some(b) = bytes.get(j) {
                len |= usize::from(b & 0x7f) << shift;
                shift += 7;
                j += 1;
                if b & 0x80 == 0 {
                    break;
                }
            }
            i = j + len;
        }
        types
    }

    /// A broker on loopback that acknowledges each publish `ack_after`
    /// it read it, until a DISCONNECT; what it got, as "topic payload".
    fn recording_broker(
        ack_after: std::time::Duration,
    ) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
        use super::super::wire::{Codec, Item};
        use futures_util::{SinkExt, StreamExt};
        use rumqttc::mqttbytes::v4::{ConnAck, ConnectReturnCode, Packet, PubAck};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let broker = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (r, w) = tokio::io::split(s);
            let mut from = tokio_util::codec::FramedRead::new(r, Codec::new(4096));
            let mut to = tokio_util::codec::FramedWrite::new(w, Codec::new(0));
            let mut got = Vec::new();
            while let Some(Ok(Item::Packet(p))) = from.next().await {
                match p {
                    Packet::Connect(_) => {
                        let ok = ConnAck::new(ConnectReturnCode::Success, false);
                        to.send(Packet::ConnAck(ok)).await.unwrap();
                    }
                    Packet::Publish(p) => {
                        let payload = String::from_utf8_lossy(&p.payload);
                        got.push(format!("{} {payload}", p.topic));
                        tokio::time::sleep(ack_after).await;
                        to.send(Packet::PubAck(PubAck::new(p.pkid))).await.unwrap();
                    }
                    Packet::Disconnect => break,
                    _ => {}
                }
            }
            got
        });
        (port, broker)
    }

    /// A controller stopped just after it queued an ack and an "online"
    /// status (its frame and bundle had just come): the ack still goes,
    /// the offline status goes last, and the queued "online" not at all.
    /// The offline status used to jump the queue: what was queued was
    /// either cut off by the DISCONNECT (here: the ack, a lost proof of
    /// play) or sent after it while its PUBACK was awaited, and then the
    /// broker kept "online" for a controller that had gone.
    #[tokio::test]
    async fn the_last_status_goes_after_what_was_queued_and_replaces_a_queued_one() {
        let (port, broker) = recording_broker(std::time::Duration::ZERO);
        let (_client, mut el) = AsyncClient::new(MqttOptions::new("t", "127.0.0.1", port), 4);
        while !matches!(el.poll().await, Ok(Event::Incoming(Incoming::ConnAck(_)))) {}
        el.pending.push_back(retained("status".into(), "on"));
        let mut queue =
            VecDeque::from([Request::Publish(Publish::new("ack", QoS::AtLeastOnce, "7"))]);
        let off = retained("status".into(), "off");
        let acked = publish_then_disconnect(&mut el, &mut queue, off).await;
        assert!(acked, "this broker acknowledges every publish");
        assert_eq!(broker.await.unwrap(), ["ack 7", "status off"]);
    }

    /// rumqttc sends what is in its own queue without regard to its
    /// in-flight limit, and a publish whose packet id is still in flight
    /// waits in one slot that the next one overwrites. A controller queued
    /// its acks there (up to 1,024 kept across a reconnect at once): with
    /// a broker slower to acknowledge than they went out, most were lost.
    /// Fed as the limit allows, 30 acks behind a limit of 10 all arrive,
    /// in order, and the last status after them.
    #[tokio::test]
    async fn more_acks_than_the_in_flight_limit_all_arrive_in_order() {
        let (port, broker) = recording_broker(std::time::Duration::from_millis(5));
        let mut options = MqttOptions::new("t", "127.0.0.1", port);
        options.set_inflight(10);
        let (_client, mut el) = AsyncClient::new(options, 4);
        while !matches!(el.poll().await, Ok(Event::Incoming(Incoming::ConnAck(_)))) {}
        let ack = |i: usize| Request::Publish(Publish::new("ack", QoS::AtLeastOnce, i.to_string()));
        let mut queue: VecDeque<Request> = (0..30).map(ack).collect();
        let off = retained("status".into(), "off");
        let acked = publish_then_disconnect(&mut el, &mut queue, off).await;
        let mut want: Vec<String> = (0..30).map(|i| format!("ack {i}")).collect();
        want.push("status off".into());
        assert!(acked, "the last status was acknowledged");
        assert_eq!(broker.await.unwrap(), want);
    }

    /// A broker that takes the last status but never acknowledges it (it
    /// is overloaded, or the link is half dead): a clean DISCONNECT would
    /// make it drop the Last Will, and the status that never arrived
    /// would leave the client "online" for good. The connection is closed
    /// without one instead, so the broker publishes the Will.
    #[tokio::test]
    async fn an_unacknowledged_last_status_leaves_the_will_to_the_broker() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let broker = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            assert_eq!(packet_types(&buf[..n]), [1], "CONNECT first");
            s.write_all(&[0x20, 0x02, 0x00, 0x00]).await.unwrap();
            let mut rest = Vec::new();
            while let Ok(n @ 1..) = s.read(&mut buf).await {
                rest.extend_from_slice(&buf[..n]);
            }
            rest
        });
        let (_client, mut el) = AsyncClient::new(MqttOptions::new("t", "127.0.0.1", port), 4);
        while !matches!(el.poll().await, Ok(Event::Incoming(Incoming::ConnAck(_)))) {}
        let off = retained("s".into(), "off");
        let acked = publish_then_disconnect(&mut el, &mut VecDeque::new(), off).await;
        assert!(!acked, "this broker never acknowledges");
        drop(el);
        let rest = broker.await.unwrap();
        assert_eq!(
            packet_types(&rest),
            [3],
            "the status was sent (PUBLISH), and no DISCONNECT (14) after it"
        );
    }

    #[test]
    fn reports_parse_and_garbage_is_dropped() {
        let p = Id::parse("p1").unwrap();
        assert_eq!(
            parse_report(
                "bangtin",
                "bangtin/panels/p1/status",
                br#"{"online":true,"firmware":"1.2","seq":7}"#
            ),
            Some(Inbound::Status {
                panel: p.clone(),
                online: true,
                firmware: Some("1.2".into()),
                seq: Some(7),
                accepts: Accepts::default()
            })
        );
        assert_eq!(
            parse_report(
                "bangtin",
                "bangtin/panels/p1/status",
                br#"{"online":false}"#
            ),
            Some(Inbound::Status {
                panel: p.clone(),
                online: false,
                firmware: None,
                seq: None,
                accepts: Accepts::default()
            })
        );
        assert_eq!(
            parse_report("bangtin", "bangtin/panels/p1/ack", br#"{"seq":42}"#),
            Some(Inbound::Ack {
                panel: p.clone(),
                seq: 42,
                crc: None
            })
        );
        assert_eq!(
            parse_report(
                "bangtin",
                "bangtin/panels/p1/ack",
                br#"{"seq":42,"crc":2687655972}"#
            ),
            Some(Inbound::Ack {
                panel: p.clone(),
                seq: 42,
                crc: Some(0xa032_6024)
            })
        );
        for (t, b) in [
            ("bangtin/panels/p1/ack", &b"{\"seq\":-1}"[..]),
            ("bangtin/panels/p1/ack", b"{\"seq\":1,\"crc\":\"a0326024\"}"),
            ("bangtin/panels/p1/ack", b"\xff\xfe"),
            ("bangtin/panels/p1/status", b"online"),
            ("bangtin/panels/p1/status", b""),
            ("bangtin/panels/BAD/ack", b"{\"seq\":1}"),
        ] {
            assert_eq!(parse_report("bangtin", t, b), None, "{t} {b:?}");
        }
        assert_eq!(
            parse_report(
                "bangtin",
                "bangtin/panels/p1/status",
                br#"{"online":true,"accepts":["btz1-rle","btz1-delta","zip"]}"#
            ),
            Some(Inbound::Status {
                panel: p.clone(),
                online: true,
                firmware: None,
                seq: None,
                accepts: Accepts {
                    rle: true,
                    deflate: false,
                    delta: true,
                    bundle: false
                }
            })
        );
        let mut padded = br#"{"online":true,"firmware":"x"}"#.to_vec();
        padded.resize(MAX_REPORT, b' ');
        assert!(parse_report("bangtin", "bangtin/panels/p1/status", &padded).is_some());
        padded.push(b' ');
        assert_eq!(
            parse_report("bangtin", "bangtin/panels/p1/status", &padded),
            None,
            "a report over {MAX_REPORT} bytes"
        );
    }

    /// A broker on loopback that acknowledges every CONNECT and hangs up at
    /// the client's next packet: the link reports the loss, then the
    /// reconnection, each once and in order.
    #[tokio::test]
    async fn a_lost_connection_is_reported_then_the_reconnection() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await; // CONNECT
                socket.write_all(&[0x20, 0x02, 0x00, 0x00]).await.unwrap(); // CONNACK
                let _ = socket.read(&mut buf).await; // whatever comes next
            }
        });
        let url = format!("mqtt://127.0.0.1:{port}").parse().unwrap();
        let (publisher, mut inbound) = try_connect(super::super::LinkOptions::new(url)).unwrap();
        for (want, why) in [
            (Inbound::Connected, "first connection"),
            (Inbound::Disconnected, "the broker hung up"),
            (Inbound::Connected, "back after the back-off"),
        ] {
            let got = tokio::time::timeout(Duration::from_secs(5), inbound.recv())
                .await
                .unwrap_or_else(|_| panic!("no event within 5 s: expected {why}"));
            assert_eq!(got, Some(want), "{why}");
        }
        drop(publisher);
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..100 {
            let d = jitter(Duration::from_millis(1000));
            assert!(d >= Duration::from_millis(500) && d < Duration::from_millis(1000));
        }
    }
}
