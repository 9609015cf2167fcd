//! Huidu full-colour cards over SDK 2.0: the sockets around
//! [`crate::huidu::session`].
//!
//! One task per panel drives its card. With an `address` the task dials the
//! card (port 10001 by default) and redials with exponential back-off and
//! jitter; without one it waits for the card to dial the `--huidu-listen`
//! port (cards on 4G behind NAT). An accepted socket is spoken to first by
//! bangtin, as the vendor's remote-server demo does; the card's Device ID
//! from `GetDeviceInfo` says which panel it is. An unknown id is refused
//! with a log line naming the id and where to add it.
//!
//! Each task keeps only the newest frame. On every (re)connection it sends
//! it again; a frame already on the glass (same picture, same brightness)
//! is confirmed without traffic. Everything the card can do wrong (a
//! half-written packet, a length over 9 KiB, XML that does not parse, an
//! upload it refuses, silence, a socket that stops reading) ends in a log
//! line, a [`LinkEvent`] and a retry after a back-off; nothing a card sends
//! can stop the server.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::{glass, Backoff, Cards, Delivery, LinkEvent, Report, Reporter, Timing};
use crate::domain::{host_port, Id, Panel, Transport, HUIDU_PORT};
use crate::huidu::sdk::{self, brightness_percent};
use crate::huidu::session::{Event, Picture, Session};
use crate::huidu::transfer::md5_hex;
use crate::i18n::{Reason, Text};
use crate::store::Store;

/// A frame ready for a card.
pub struct Job {
    seq: u32,
    picture: Picture,
    md5: String,
    brightness: u8,
    /// Show this, then let the card go (the panel was deleted).
    last: bool,
}

/// A card that dialled in and passed the handshake.
pub struct Accepted {
    conn: Conn,
    device: Device,
}

#[derive(Debug, Clone)]
struct Device {
    id: String,
    model: String,
    width: u32,
    height: u32,
}

impl Device {
    fn describe(&self) -> String {
        format!(
            "Huidu {} {} {}x{}",
            self.model, self.id, self.width, self.height
        )
    }
}

/// Every Huidu panel's task, and the listener's view of them.
pub struct Hub {
    store: Arc<Store>,
    reports: Reporter,
    timing: Arc<Timing>,
    rt: Handle,
    cards: Cards<Job>,
    /// PNGs by frame content, shared by panels showing the same thing.
    pngs: Mutex<HashMap<PngKey, Arc<Png>>>,
    /// Unknown Device IDs already logged (a card redials every few seconds).
    unknown: Mutex<HashMap<String, Instant>>,
}

/// A picture's CRC, width, height and the panel's LED colour.
type PngKey = (u32, u32, u32, [u8; 3]);

/// A frame's PNG file and its MD5.
struct Png {
    bytes: Vec<u8>,
    md5: String,
}

/// PNGs kept for sharing between panels.
const PNG_CACHE: usize = 256;
/// How long a card let go of gets to show its last (dark) frame.
const CLOSING: Duration = Duration::from_secs(10);
/// An unknown card's id is logged again after this long.
const UNKNOWN_RELOG: Duration = Duration::from_secs(600);

impl Hub {
    /// A hub with no cards yet: panels from `store`, tasks on `rt`, reports on `reports`.
    pub fn new(store: Arc<Store>, reports: Reporter, timing: Timing, rt: Handle) -> Hub {
        Hub {
            store,
            reports,
            timing: Arc::new(timing),
            rt,
            cards: Cards::new(),
            pngs: Mutex::new(HashMap::new()),
            unknown: Mutex::new(HashMap::new()),
        }
    }

    fn report(&self, panel: &Id, event: LinkEvent) {
        let _ = self.reports.send(Report {
            panel: panel.clone(),
            event,
        });
    }

    /// The task for `panel` (started if needed); returns its senders.
    fn ensure(
        &self,
        panel: &Id,
        transport: &Transport,
    ) -> (
        watch::Sender<Option<Arc<Job>>>,
        Option<mpsc::Sender<Accepted>>,
    ) {
        let Transport::Huidu { address, .. } = transport else {
            unreachable!("the Huidu hub only gets Huidu panels")
        };
        self.cards.ensure(panel, transport, |jobs| {
            let task = CardTask {
                panel: panel.clone(),
                reports: self.reports.clone(),
                timing: self.timing.clone(),
                jobs,
            };
            match address {
                Some(a) => {
                    let a = a.clone();
                    self.rt.spawn(task.dial(a));
                    None
                }
                None => {
                    let (tx, rx) = mpsc::channel(1);
                    self.rt.spawn(task.wait_for_card(rx));
                    Some(tx)
                }
            }
        })
    }

    fn job(&self, panel: &Panel, frame: &[u8], last: bool) -> Result<Job, Text> {
        let (h, img) = glass(panel, frame)?;
        let key = (
            crate::frame::crc32(img.as_raw()),
            img.width(),
            img.height(),
            panel.color.map_or([0; 3], |c| c.0),
        );
        let cached = self.pngs.lock().expect("png cache").get(&key).cloned();
        let png = match cached {
            Some(p) => p,
            None => {
                let png = crate::render::png_bytes(&img);
                let md5 = md5_hex(&png);
                let p = Arc::new(Png { bytes: png, md5 });
                let mut c = self.pngs.lock().expect("png cache");
                if c.len() >= PNG_CACHE {
                    c.clear();
                }
                c.insert(key, p.clone());
                p
            }
        };
        Ok(Job {
            seq: h.seq,
            picture: Picture {
                width: img.width(),
                height: img.height(),
                png: png.bytes.clone(),
                stamp: u64::from(h.seq),
            },
            md5: png.md5.clone(),
            brightness: brightness_percent(h.brightness),
            last,
        })
    }

    /// A card that passed the handshake on the listener: hand it to its
    /// panel's task, or refuse it with a line an installer can act on.
    fn attach(&self, conn: Conn, device: Device) {
        let snap = self.store.snapshot();
        let found = snap.panels.values().find(|p| {
            matches!(&p.transport, Transport::Huidu { device_id, .. }
                if device_id.eq_ignore_ascii_case(&device.id))
        });
        let Some(panel) = found else {
            let mut seen = self.unknown.lock().expect("unknown lock");
            let now = Instant::now();
            if seen
                .get(&device.id)
                .is_none_or(|t| now.duration_since(*t) > UNKNOWN_RELOG)
            {
                if seen.len() >= 1024 {
                    seen.clear(); // strangers do not get to fill the memory
                }
                seen.insert(device.id.clone(), now);
                tracing::warn!(
                    device_id = %device.id,
                    peer = %conn.peer,
                    "a Huidu card with Device ID {:?} ({} {}x{}) dialled in from {}, but no panel has this Device ID: add \"transport\": {{\"kind\": \"huidu\", \"device_id\": \"{}\"}} to its panel (dashboard: Panels, edit the sign; or PUT /api/v1/panels/ID). Connection closed; the card will dial again.",
                    device.id, device.model, device.width, device.height, conn.peer, device.id
                );
            }
            return;
        };
        if let Transport::Huidu {
            address: Some(a), ..
        } = &panel.transport
        {
            tracing::warn!(
                panel = %panel.id, device_id = %device.id, peer = %conn.peer,
                "Huidu card {} dialled in, but panel {} is set to dial it at {a}: remove the panel's transport address to let the card dial in. Connection closed.",
                device.id, panel.id
            );
            return;
        }
        let (_, conns) = self.ensure(&panel.id, &panel.transport);
        if let Some(conns) = conns {
            if conns.try_send(Accepted { conn, device }).is_err() {
                tracing::warn!(panel = %panel.id, "Huidu card dialled in twice at once; the newer connection is closed");
            }
        }
    }
}

impl Delivery for Hub {
    fn deliver(&self, panel: &Panel, frame: Bytes) {
        match self.job(panel, &frame, false) {
            Ok(job) => {
                let (jobs, _) = self.ensure(&panel.id, &panel.transport);
                jobs.send_replace(Some(Arc::new(job)));
            }
            Err(why) => {
                tracing::error!(panel = %panel.id, "frame not sent to the Huidu card: {why}");
                self.report(&panel.id, LinkEvent::Failed { why });
            }
        }
    }

    fn forget(&self, panel: &Id) {
        let Some(entry) = self.cards.remove(panel) else {
            return;
        };
        // Blank the sign: the last frame it got, dark.
        let last = entry.jobs.borrow().clone();
        if let Some(prev) = last {
            let dark = image::RgbImage::new(prev.picture.width, prev.picture.height);
            let png = crate::render::png_bytes(&dark);
            entry.jobs.send_replace(Some(Arc::new(Job {
                seq: prev.seq,
                md5: md5_hex(&png),
                picture: Picture {
                    width: prev.picture.width,
                    height: prev.picture.height,
                    png,
                    stamp: prev.picture.stamp + 1,
                },
                brightness: prev.brightness,
                last: true,
            })));
        }
    }

    fn release_all(&self) {
        self.cards.clear();
    }
}

/// Binds the listener for cards that dial in and serves it.
pub async fn listen(hub: &Arc<Hub>, addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    let listener = bind(addr).map_err(|e| {
        anyhow::anyhow!(
            "cannot listen for Huidu cards on {addr}: {e} (is another program using the port?)"
        )
    })?;
    let bound = listener.local_addr()?;
    tracing::info!("listening for Huidu cards on {bound}");
    let hub = hub.clone();
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    let hub = hub.clone();
                    tokio::spawn(async move {
                        let _ = stream.set_nodelay(true);
                        let mut conn = Conn::new(stream, peer.to_string(), hub.timing.clone());
                        match conn.handshake().await {
                            Ok(device) => hub.attach(conn, device),
                            Err(why) => tracing::warn!(
                                %peer,
                                "a Huidu card connected from {peer} but the handshake failed: {why}; closed (the card will dial again)"
                            ),
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors, say: wait instead of spinning.
                    tracing::warn!("accepting a Huidu card failed: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    });
    Ok(bound)
}

/// Cards waiting to be accepted. Thousands of 4G cards redial at once
/// after a server restart; the default of 128 would drop some of their
/// connections, leaving those cards waiting on a link the server never saw.
const BACKLOG: u32 = 4096;

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// One panel's card.
struct CardTask {
    panel: Id,
    reports: Reporter,
    timing: Arc<Timing>,
    jobs: watch::Receiver<Option<Arc<Job>>>,
}

/// Why a connection ended.
enum End {
    /// The card or the link failed (the reason says how).
    Lost(Text),
    /// A newer connection from the same card took over.
    Replaced(Box<Accepted>),
    /// The panel is gone or moved to another transport.
    Stop,
}

impl CardTask {
    fn report(&self, event: LinkEvent) {
        let _ = self.reports.send(Report {
            panel: self.panel.clone(),
            event,
        });
    }

    /// Whether the panel still wants this card (the hub still has it).
    fn wanted(&self) -> bool {
        self.jobs.has_changed().is_ok()
    }

    /// Dial mode: connect, drive, redial with back-off.
    async fn dial(mut self, address: String) {
        let mut backoff = Backoff::new(self.timing.backoff_min, self.timing.backoff_max);
        let mut last_why: Option<Text> = None;
        while self.wanted() {
            let conn = match self.connect(&address).await {
                Ok(c) => c,
                Err(why) => {
                    if last_why.as_ref() != Some(&why) {
                        tracing::warn!(panel = %self.panel, "Huidu card at {address}: {why}; retrying with back-off");
                        self.report(LinkEvent::Offline { why: why.clone() });
                        last_why = Some(why);
                    }
                    self.pause(backoff.next_delay()).await;
                    continue;
                }
            };
            last_why = None;
            match self.drive(conn, None, &mut backoff).await {
                End::Stop => return,
                End::Replaced(_) => {}
                End::Lost(why) => {
                    tracing::warn!(panel = %self.panel, "Huidu card at {address}: {why}; redialling with back-off");
                    self.report(LinkEvent::Offline { why: why.clone() });
                    last_why = Some(why);
                }
            }
            self.pause(backoff.next_delay()).await;
        }
    }

    /// Waits `d`, or less if the panel is let go.
    async fn pause(&mut self, d: Duration) {
        let jobs = &mut self.jobs;
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = async { while jobs.changed().await.is_ok() {} } => {}
        }
        // Whatever arrived meanwhile is sent on the next connection.
        self.jobs.mark_changed();
    }

    async fn connect(&self, address: &str) -> Result<(Conn, Device), Text> {
        let (host, port) = host_port(address, Some(HUIDU_PORT))
            .map_err(|e| Text::from(Reason::LinkAddress { why: Box::new(e.0) }))?;
        let stream = match tokio::time::timeout(
            self.timing.connect,
            TcpStream::connect((host.as_str(), port)),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(Reason::LinkCannotConnect {
                    addr: format!("{host}:{port}"),
                    detail: e.to_string(),
                }
                .into())
            }
            Err(_) => {
                return Err(Reason::LinkNoAnswer {
                    addr: format!("{host}:{port}"),
                    within: span(self.timing.connect),
                }
                .into())
            }
        };
        let _ = stream.set_nodelay(true);
        let peer = stream
            .peer_addr()
            .map_or_else(|_| address.to_string(), |a| a.to_string());
        let mut conn = Conn::new(stream, peer, self.timing.clone());
        let device = conn.handshake().await?;
        Ok((conn, device))
    }

    /// Listen mode: drive each connection the listener hands over.
    async fn wait_for_card(mut self, mut conns: mpsc::Receiver<Accepted>) {
        let mut backoff = Backoff::new(self.timing.backoff_min, self.timing.backoff_max);
        let mut next: Option<Accepted> = None;
        loop {
            let a = match next.take() {
                Some(a) => a,
                None => {
                    let jobs = &mut self.jobs;
                    tokio::select! {
                        a = conns.recv() => match a {
                            Some(a) => a,
                            None => return,
                        },
                        _ = async { while jobs.changed().await.is_ok() {} } => return,
                    }
                }
            };
            self.jobs.mark_changed();
            match self
                .drive((a.conn, a.device), Some(&mut conns), &mut backoff)
                .await
            {
                End::Stop => return,
                End::Replaced(a) => {
                    tracing::info!(panel = %self.panel, "Huidu card dialled in again from {}; the older connection is closed", a.conn.peer);
                    next = Some(*a);
                }
                End::Lost(why) => {
                    tracing::warn!(panel = %self.panel, "Huidu card: {why}; waiting for it to dial in again");
                    self.report(LinkEvent::Offline { why });
                }
            }
        }
    }

    /// One connection, from a finished handshake until it ends.
    async fn drive(
        &mut self,
        (mut conn, device): (Conn, Device),
        mut conns: Option<&mut mpsc::Receiver<Accepted>>,
        backoff: &mut Backoff,
    ) -> End {
        tracing::info!(panel = %self.panel, peer = %conn.peer, "{} connected", device.describe());
        self.report(LinkEvent::Online {
            device: device.describe(),
            peer: conn.peer.clone(),
        });
        self.serve(&mut conn, &mut conns, backoff).await
    }

    async fn serve(
        &mut self,
        conn: &mut Conn,
        conns: &mut Option<&mut mpsc::Receiver<Accepted>>,
        backoff: &mut Backoff,
    ) -> End {
        let mut st = Served::default();
        loop {
            if let Err(why) = conn.flush().await {
                return End::Lost(why);
            }
            let listen = conns.is_some() && st.closing.is_none();
            let last_in_flight = st.given.iter().any(|g| g.2);
            let job_news = {
                let jobs = &mut self.jobs;
                let conns_rx = conns.as_deref_mut();
                tokio::select! {
                    r = conn.wait() => match r {
                        Ok(events) => Some(events),
                        Err(why) => return End::Lost(why),
                    },
                    r = jobs.changed(), if st.closing.is_none() => match r {
                        Ok(()) => None,
                        Err(_) if last_in_flight => {
                            st.closing = Some(Instant::now() + CLOSING);
                            continue;
                        }
                        Err(_) => return End::Stop,
                    },
                    a = async { conns_rx.expect("listen mode").recv().await }, if listen => match a {
                        Some(a) => return End::Replaced(Box::new(a)),
                        None if last_in_flight => {
                            st.closing = Some(Instant::now() + CLOSING);
                            continue;
                        }
                        None => return End::Stop,
                    },
                    _ = tokio::time::sleep_until(st.closing.unwrap_or_else(Instant::now)), if st.closing.is_some() => {
                        return End::Stop;
                    }
                    _ = tokio::time::sleep_until(st.retry_at.unwrap_or_else(Instant::now)), if st.retry_at.is_some() => {
                        st.retry_at = None;
                        st.on_glass = None;
                        st.given.clear();
                        None
                    }
                }
            };
            let end = match job_news {
                None => self.next_job(&mut st, conn, backoff),
                Some(events) => self.card_said(&mut st, events, conn, backoff),
            };
            if let Some(end) = end {
                return end;
            }
        }
    }

    /// Gives the card the newest job: the picture first (an alert must not
    /// wait), then the brightness if it changed.
    fn next_job(&mut self, st: &mut Served, conn: &mut Conn, backoff: &mut Backoff) -> Option<End> {
        let job = self.jobs.borrow_and_update().clone()?;
        if st.on_glass.as_deref() == Some(job.md5.as_str()) && st.given.is_empty() {
            // Already on the glass: nothing to send.
            self.report(LinkEvent::Shown { seq: job.seq });
            if job.last {
                return Some(End::Stop);
            }
        } else if let Err(e) = conn.session.show(job.picture.clone()) {
            self.failed(&mut st.last_failure, e.reason().into());
            st.retry_at = Some(Instant::now() + backoff.next_delay());
            return None;
        } else {
            st.given.push_back((job.md5.clone(), job.seq, job.last));
            while st.given.len() > 8 {
                st.given.pop_front();
            }
        }
        if st.brightness != Some(job.brightness) {
            conn.session.set_brightness(job.brightness);
            st.brightness = Some(job.brightness);
        }
        // A card keeps its own clock (its status and logs carry it, and a
        // program with times would run by it): set once per connection,
        // after the picture, which must never wait for it.
        if !st.clock_set {
            let vietnam = chrono::Utc::now().naive_utc() + chrono::Duration::hours(7);
            conn.session.sync_time(vietnam, sdk::TIMEZONE_VIETNAM);
            st.clock_set = true;
        }
        None
    }

    /// What the card reported: a picture on its glass (and those given
    /// before it, replaced unseen), or a refusal to retry after back-off.
    fn card_said(
        &mut self,
        st: &mut Served,
        events: Vec<Event>,
        conn: &mut Conn,
        backoff: &mut Backoff,
    ) -> Option<End> {
        for e in events {
            match e {
                Event::Shown { md5 } => {
                    backoff.reset();
                    st.last_failure = None;
                    let mut stop = false;
                    if let Some(pos) = st.given.iter().rposition(|g| g.0 == md5) {
                        for (m, seq, last) in st.given.drain(..=pos) {
                            if m == md5 {
                                self.report(LinkEvent::Shown { seq });
                                stop |= last;
                            }
                        }
                    }
                    st.on_glass = Some(md5);
                    if stop {
                        return Some(End::Stop);
                    }
                }
                Event::Applied { .. } | Event::Ready { .. } => {}
                Event::Failed { why } => {
                    if conn.session.is_closed() {
                        return Some(End::Lost(why.reason().into()));
                    }
                    self.failed(&mut st.last_failure, why.reason().into());
                    st.retry_at = Some(Instant::now() + backoff.next_delay());
                }
            }
        }
        None
    }

    /// An operation the card refused: logged once per distinct reason,
    /// reported, retried after the back-off.
    fn failed(&self, last: &mut Option<Text>, why: Text) {
        if last.as_ref() != Some(&why) {
            tracing::warn!(panel = %self.panel, "Huidu card refused the frame: {why}; retrying with back-off");
        }
        self.report(LinkEvent::Failed { why: why.clone() });
        *last = Some(why);
    }
}

/// What one connection's loop knows about the card.
#[derive(Default)]
struct Served {
    /// Pictures given to the session, oldest first: md5, seq, and whether
    /// it is the last (blanking) one.
    given: VecDeque<(String, u32, bool)>,
    on_glass: Option<String>,
    brightness: Option<u8>,
    /// The card's clock was set on this connection.
    clock_set: bool,
    retry_at: Option<Instant>,
    last_failure: Option<Text>,
    /// The panel was let go: only the last (blanking) frame is finished,
    /// for at most this long.
    closing: Option<Instant>,
}

/// Writes `bytes` to a card within `within`, or says why not (`shown`:
/// the size to name in a stall, when it helps the reader).
pub(crate) async fn write_within(
    s: &mut (impl tokio::io::AsyncWrite + Unpin),
    bytes: &[u8],
    within: Duration,
    shown: Option<usize>,
) -> Result<(), Text> {
    match tokio::time::timeout(within, s.write_all(bytes)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Reason::LinkWriteFailed {
            detail: e.to_string(),
        }
        .into()),
        Err(_) => Err(Reason::LinkStalledWrite {
            bytes: shown,
            within: span(within),
        }
        .into()),
    }
}

/// `30 s`, or `800 ms` below a second.
pub(crate) fn span(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// A socket and the session on it.
pub(crate) struct Conn {
    stream: TcpStream,
    session: Session,
    peer: String,
    epoch: Instant,
    /// The last time a byte came in or a write finished.
    progress: Instant,
    timing: Arc<Timing>,
    buf: Vec<u8>,
}

impl Conn {
    fn new(stream: TcpStream, peer: String, timing: Arc<Timing>) -> Conn {
        Conn {
            stream,
            session: Session::new(0),
            peer,
            epoch: Instant::now(),
            progress: Instant::now(),
            timing,
            buf: vec![0; 16 * 1024],
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Writes what the session has to send, each write bounded in time.
    async fn flush(&mut self) -> Result<(), Text> {
        while let Some(out) = self.session.transmit() {
            write_within(&mut self.stream, &out, self.timing.write, Some(out.len())).await?;
            self.progress = Instant::now();
        }
        Ok(())
    }

    /// Waits for bytes, the session's next tick or a stall, whichever is
    /// first. Cancel-safe: nothing is written here.
    async fn wait(&mut self) -> Result<Vec<Event>, Text> {
        let wake = self.epoch + Duration::from_millis(self.session.wake_at());
        let stall = (!self.session.is_idle()).then(|| self.progress + self.timing.answer);
        let events = tokio::select! {
            r = self.stream.read(&mut self.buf) => match r {
                Ok(0) => {
                    self.session.close();
                    return Err(Reason::LinkClosedByCard {
                        left: self.session.pending(),
                    }
                    .into());
                }
                Ok(n) => {
                    self.progress = Instant::now();
                    let now = self.now_ms();
                    self.session.receive(&self.buf[..n], now)
                }
                Err(e) => {
                    return Err(Reason::LinkReadFailed {
                        detail: e.to_string(),
                    }
                    .into())
                }
            },
            _ = tokio::time::sleep_until(wake) => {
                let now = self.now_ms();
                self.session.tick(now)
            }
            _ = tokio::time::sleep_until(stall.unwrap_or(wake)), if stall.is_some() => {
                let why = Reason::LinkSilent {
                    within: span(self.timing.answer),
                    waiting: self.session.waiting().map(str::to_string),
                    left: self.session.pending(),
                };
                self.session.close();
                return Err(why.into());
            }
        };
        Ok(events)
    }

    /// Runs the session until the card has said what it is.
    async fn handshake(&mut self) -> Result<Device, Text> {
        loop {
            self.flush().await?;
            for e in self.wait().await? {
                match e {
                    Event::Ready {
                        device_id,
                        model,
                        width,
                        height,
                    } => {
                        return Ok(Device {
                            id: device_id,
                            model,
                            width,
                            height,
                        })
                    }
                    Event::Failed { why } => {
                        return Err(Reason::LinkHandshake {
                            why: Box::new(why.reason().into()),
                        }
                        .into())
                    }
                    _ => {}
                }
            }
        }
    }
}
