//! Delivery: how the frames the player makes reach each panel's sign, and
//! what the sign says back.
//!
//! The player decides and renders; it hands every frame (BTF1 bytes) to
//! [`Transports::route`], which looks up the panel's
//! [`Transport`] and gives the frame to that
//! [`Delivery`]:
//!
//! - [`MqttDelivery`]: bangtin's own controllers, through the broker link,
//!   exactly as before (their status and acks come back on the link).
//! - [`huidu::Hub`]: Huidu full-colour cards over SDK 2.0, one task per
//!   card, dialled by bangtin or dialling in to the `--huidu-listen` port.
//! - [`hd2020::Hub`]: HD2020-generation cards, realtime bitmaps.
//!
//! Vendor deliveries report [`LinkEvent`]s (`Online`, `Offline`, `Shown`,
//! `Failed`); [`Transports`] turns them into what MQTT controllers' status
//! and acks give: online and last seen, proof-of-play rows, and the
//! connection's health ([`Link`]) the API shows per panel. Each card's
//! task holds only the newest frame: a newer one replaces a frame not yet
//! sent.
//!
//! [`colorlight`] is the edge agent's raw-Ethernet output, not a server
//! transport: the agent gets its frames over MQTT.

pub mod colorlight;
pub mod hd2020;
pub mod huidu;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use image::RgbImage;
use serde::Serialize;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};

use crate::domain::{Color, Id, Panel, Transport};
use crate::frame::{self, FLAG_BLANK};
use crate::i18n::{Reason, Text};
use crate::mqtt::Publisher;
use crate::player::{Acked, Out, Shared};
use crate::store::plays::Play;
use crate::store::Store;

/// What a delivery reports about a panel's sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// Connected and talking; `device` says what the card reported.
    Online {
        /// What the card says it is (model, id, size).
        device: String,
        /// The card's address.
        peer: String,
    },
    /// The connection is gone (and why); the delivery retries.
    Offline {
        /// What went wrong, for the technician.
        why: Text,
    },
    /// The frame with this seq is on the glass (proof of play).
    Shown {
        /// The frame's seq.
        seq: u32,
    },
    /// An operation failed but the connection stays; it is retried.
    Failed {
        /// What failed, for the technician.
        why: Text,
    },
}

/// One report, for one panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The panel the card drives.
    pub panel: Id,
    /// What happened.
    pub event: LinkEvent,
}

/// Where deliveries send their reports.
pub type Reporter = mpsc::UnboundedSender<Report>;

/// Where proof-of-play rows for what vendor cards confirmed go (the
/// server's proof-of-play writer).
pub type PlaySink = Box<dyn Fn(Play) + Send + Sync>;

/// A vendor card's connection as the API shows it (`link` of a panel);
/// `last_error` is rendered in the reader's language by the API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Link {
    /// Connected and past the handshake.
    pub connected: bool,
    /// The last time the card said anything.
    pub last_seen: Option<DateTime<Utc>>,
    /// Why the last connection or operation failed, for the technician.
    #[serde(skip)]
    #[schemars(skip)]
    pub last_error: Option<Text>,
    /// When the last error happened.
    pub last_error_at: Option<DateTime<Utc>>,
    /// What the card reported (model, id, size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The card's address on the current or last connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// The seq the card last confirmed on its glass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shown_seq: Option<u32>,
}

/// One way of getting frames to signs.
pub trait Delivery: Send + Sync {
    /// The panel's newest frame (BTF1). Must not block for long: it runs
    /// on the player's thread.
    fn deliver(&self, panel: &Panel, frame: Bytes);
    /// The panel was deleted or moved to another transport: blank its sign
    /// (best effort) and stop driving it.
    fn forget(&self, panel: &Id);
    /// The panel's newest offline bundle (BTB1); only controllers on the
    /// broker take one.
    fn deliver_bundle(&self, _panel: &Panel, _bundle: Bytes) {}
    /// This server stopped leading: stop driving every sign, without
    /// blanking it (the new leader drives it now; a connection kept here
    /// would resend this server's last picture when the card reconnects,
    /// and a card that takes one connection would refuse the leader's).
    fn release_all(&self) {}
}

/// bangtin's own controllers: the frame is published retained on the
/// panel's MQTT topic. While the broker link is down frames are dropped:
/// the player republishes every panel when it comes back.
pub struct MqttDelivery {
    publisher: Publisher,
    rt: Handle,
}

impl MqttDelivery {
    /// Delivery over `publisher`; the player's thread waits on `rt` for each publish.
    pub fn new(publisher: Publisher, rt: Handle) -> MqttDelivery {
        MqttDelivery { publisher, rt }
    }
}

impl Delivery for MqttDelivery {
    fn deliver(&self, panel: &Panel, frame: Bytes) {
        if !self.publisher.is_connected() {
            return;
        }
        if let Err(e) = self
            .rt
            .block_on(self.publisher.publish_frame(&panel.id, frame))
        {
            tracing::warn!("frame not handed to the broker link: {e}");
        }
    }

    fn deliver_bundle(&self, panel: &Panel, bundle: Bytes) {
        if !self.publisher.is_connected() {
            return;
        }
        if let Err(e) = self
            .rt
            .block_on(self.publisher.publish_bundle(&panel.id, bundle))
        {
            tracing::warn!("bundle not handed to the broker link: {e}");
        }
    }

    fn forget(&self, panel: &Id) {
        if !self.publisher.is_connected() {
            return;
        }
        if let Err(e) = self.rt.block_on(self.publisher.clear_frame(panel)) {
            tracing::warn!("frame not handed to the broker link: {e}");
        }
    }
}

/// How long bangtin waits on a vendor card.
#[derive(Debug, Clone)]
pub struct Timing {
    /// To open the TCP connection.
    pub connect: Duration,
    /// Silence while bangtin waits for an answer (after its last byte
    /// went out); past it the card is taken as stalled.
    pub answer: Duration,
    /// For a write to be taken by the socket.
    pub write: Duration,
    /// Back-off between attempts (redial, or retrying a refused frame).
    pub backoff_min: Duration,
    /// The longest wait between attempts (the back-off doubles up to it).
    pub backoff_max: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            connect: Duration::from_secs(10),
            answer: Duration::from_secs(30),
            write: Duration::from_secs(30),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(15),
        }
    }
}

/// What the vendor transports need from the server's configuration.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Where Huidu cards behind NAT dial in; `None`: no listener.
    pub huidu_listen: Option<SocketAddr>,
    /// Time-outs and back-off for Huidu cards.
    pub huidu: Timing,
    /// Time-outs and back-off for HD2020 cards.
    pub hd2020: Timing,
}

/// The router: every frame goes out over its panel's transport.
pub struct Transports {
    store: Arc<Store>,
    mqtt: Box<dyn Delivery>,
    huidu: Arc<huidu::Hub>,
    hd2020: Arc<hd2020::Hub>,
    /// The transport each panel's last frame went over.
    current: Mutex<HashMap<Id, Transport>>,
    /// The task applying the cards' reports (it holds the play sink).
    reports: tokio::task::JoinHandle<()>,
}

impl Transports {
    /// Starts the vendor transports (and the Huidu listener if asked
    /// for). Reports become status, links and proof of play (`plays`).
    pub async fn start(
        store: Arc<Store>,
        shared: Arc<Shared>,
        plays: PlaySink,
        mqtt: Box<dyn Delivery>,
        opts: Options,
    ) -> anyhow::Result<Transports> {
        let (tx, rx) = mpsc::unbounded_channel();
        let reports = tokio::spawn(apply_reports(rx, shared, plays));
        let rt = Handle::current();
        let huidu = Arc::new(huidu::Hub::new(
            store.clone(),
            tx.clone(),
            opts.huidu,
            rt.clone(),
        ));
        if let Some(addr) = opts.huidu_listen {
            huidu::listen(&huidu, addr).await?;
        }
        Ok(Transports {
            store,
            mqtt,
            huidu,
            hd2020: Arc::new(hd2020::Hub::new(tx, opts.hd2020, rt)),
            current: Mutex::new(HashMap::new()),
            reports,
        })
    }

    fn by(&self, t: &Transport) -> &dyn Delivery {
        match t {
            Transport::Mqtt => self.mqtt.as_ref(),
            Transport::Huidu { .. } => self.huidu.as_ref(),
            Transport::Hd2020 { .. } => self.hd2020.as_ref(),
        }
    }

    /// Hands one of the player's outputs to the panel's transport. Runs on
    /// the player's thread.
    pub fn route(&self, out: Out) {
        match out {
            Out::Frame { panel, frame, via } => {
                let Some(p) = self.store.snapshot().panels.get(&panel).cloned() else {
                    return;
                };
                if p.transport != via {
                    // Stamped for the transport the panel had a moment
                    // ago (a broker frame may be BTZ1, which no card
                    // shows): the move's own pass stamps it anew.
                    tracing::debug!(panel = %panel, "frame stamped for the panel's previous transport, not sent");
                    return;
                }
                let before = self
                    .current
                    .lock()
                    .expect("transports lock")
                    .insert(panel.clone(), p.transport.clone());
                if let Some(before) = before.filter(|b| *b != p.transport) {
                    // A different card (or none) now: the old one is let go.
                    self.by(&before).forget(&panel);
                }
                self.by(&p.transport).deliver(&p, frame);
            }
            Out::Bundle { panel, bundle } => {
                let snap = self.store.snapshot();
                if let Some(p) = snap.panels.get(&panel).filter(|p| p.transport.is_mqtt()) {
                    self.mqtt.deliver_bundle(p, bundle);
                }
            }
            Out::Clear { panel } => {
                let before = self.current.lock().expect("transports lock").remove(&panel);
                self.by(&before.unwrap_or_default()).forget(&panel);
            }
        }
    }

    /// This server does not lead (two servers on PostgreSQL): every
    /// vendor card is let go without blanking ([`Delivery::release_all`]),
    /// those it drove and those that dialled in; the player sends every
    /// panel again when it leads again. `deposed` is asked again under the
    /// lock [`Transports::route`] takes, so a frame routed after the lead
    /// came back is never let go. Cheap, so it may run every second.
    pub fn stand_down(&self, deposed: impl Fn() -> bool) {
        let mut current = self.current.lock().expect("transports lock");
        if !deposed() {
            return;
        }
        current.clear();
        self.huidu.release_all();
        self.hd2020.release_all();
    }

    /// A handle that stops applying the cards' reports (at shutdown, so
    /// that the proof-of-play writer is not held open by the play sink).
    pub fn reports_stopper(&self) -> tokio::task::AbortHandle {
        self.reports.abort_handle()
    }
}

/// Applies the vendor transports' reports to the shared state the API and
/// the dashboard read, and sends proof-of-play rows to the writer.
async fn apply_reports(
    mut rx: mpsc::UnboundedReceiver<Report>,
    shared: Arc<Shared>,
    plays: PlaySink,
) {
    while let Some(Report { panel, event }) = rx.recv().await {
        let now = Utc::now();
        let was_connected;
        {
            let mut links = shared.links.write().expect("links lock");
            let l = links.entry(panel.clone()).or_default();
            was_connected = l.connected;
            match &event {
                LinkEvent::Online { device, peer } => {
                    l.connected = true;
                    l.last_seen = Some(now);
                    l.device = Some(device.clone());
                    l.peer = Some(peer.clone());
                }
                LinkEvent::Offline { why } | LinkEvent::Failed { why } => {
                    l.connected &= matches!(event, LinkEvent::Failed { .. });
                    l.last_error = Some(why.clone());
                    l.last_error_at = Some(now);
                }
                LinkEvent::Shown { seq } => {
                    l.last_seen = Some(now);
                    l.shown_seq = Some(*seq);
                }
            }
        }
        match event {
            LinkEvent::Online { device, .. } => {
                shared.status(&panel, true, Some(device), None, now);
            }
            // A card that was talking until now goes offline; one that never
            // got through (a wrong address, a card not yet installed) keeps
            // "never seen" rather than a last contact it never made.
            LinkEvent::Offline { .. } if was_connected => {
                shared.status(&panel, false, None, None, now)
            }
            LinkEvent::Offline { .. } => {}
            LinkEvent::Failed { .. } => {}
            LinkEvent::Shown { seq } => {
                // A card names no CRC: its plays count as unverified.
                if let Some(a) = shared.played(&panel, seq, None, now) {
                    plays(play_of(&panel, a));
                }
            }
        }
    }
}

/// The proof-of-play row for a frame a sign confirmed (MQTT ack or a
/// vendor card's `Shown`).
pub fn play_of(panel: &Id, a: Acked) -> Play {
    let p = a.played;
    Play {
        panel: panel.to_string(),
        message: p.message.map(|m| m.to_string()),
        campaign: p.campaign.map(|c| c.to_string()),
        alert: p.alert.map(|a| a.to_string()),
        seq: p.seq,
        shown_at: a.shown_at,
        verified: a.verified,
    }
}

/// What a frame looks like on a card's glass, at panel size: mono frames
/// lit in the panel's LED colour, blank frames dark.
pub fn glass(panel: &Panel, bytes: &[u8]) -> Result<(frame::Header, RgbImage), Text> {
    let f = frame::decode(bytes).map_err(|e| {
        Text::from(Reason::FrameNotForCard {
            detail: e.to_string(),
        })
    })?;
    let h = f.header;
    if h.flags & FLAG_BLANK != 0 {
        return Ok((h, RgbImage::new(h.width.into(), h.height.into())));
    }
    let led = panel.color.unwrap_or(Color::LED_RED);
    crate::huidu::glass(&f, led)
        .map(|g| (h, g))
        .map_err(|e| e.reason().into())
}

/// The registry of per-panel card tasks a vendor hub keeps: each task gets
/// the newest job through a `watch` (a newer job replaces one not yet
/// taken) and ends when its entry is removed.
pub(crate) struct Cards<J> {
    map: Mutex<HashMap<Id, CardEntry<J>>>,
}

pub(crate) struct CardEntry<J> {
    pub transport: Transport,
    pub jobs: watch::Sender<Option<Arc<J>>>,
    pub extra: Option<mpsc::Sender<huidu::Accepted>>,
}

impl<J> Cards<J> {
    pub(crate) fn new() -> Cards<J> {
        Cards {
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The entry for `panel`, made (with `spawn`) if it is missing or was
    /// made for another transport. Returns the job sender and the extra
    /// channel.
    pub(crate) fn ensure(
        &self,
        panel: &Id,
        transport: &Transport,
        spawn: impl FnOnce(watch::Receiver<Option<Arc<J>>>) -> Option<mpsc::Sender<huidu::Accepted>>,
    ) -> (
        watch::Sender<Option<Arc<J>>>,
        Option<mpsc::Sender<huidu::Accepted>>,
    ) {
        let mut map = self.map.lock().expect("cards lock");
        if let Some(e) = map.get(panel).filter(|e| e.transport == *transport) {
            return (e.jobs.clone(), e.extra.clone());
        }
        let (tx, rx) = watch::channel(None);
        let extra = spawn(rx);
        map.insert(
            panel.clone(),
            CardEntry {
                transport: transport.clone(),
                jobs: tx.clone(),
                extra: extra.clone(),
            },
        );
        (tx, extra)
    }

    /// Removes the panel's entry; its task finishes the last job given
    /// (if any) and ends.
    pub(crate) fn remove(&self, panel: &Id) -> Option<CardEntry<J>> {
        self.map.lock().expect("cards lock").remove(panel)
    }

    /// Removes every entry: each task finishes the job in hand and ends.
    pub(crate) fn clear(&self) {
        self.map.lock().expect("cards lock").clear();
    }
}

/// Exponential back-off with jitter, between `min` and `max`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max,
            next: min,
        }
    }

    /// The next delay, in [d/2, d), d doubling up to `max`.
    pub(crate) fn next_delay(&mut self) -> Duration {
        use rand::Rng;
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        let half = d / 2;
        half + half.mul_f64(rand::thread_rng().gen::<f64>())
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_ceiling() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(400));
        let d: Vec<Duration> = (0..5).map(|_| b.next_delay()).collect();
        let within = |d: Duration, top: u64| {
            d >= Duration::from_millis(top / 2) && d < Duration::from_millis(top)
        };
        assert!(within(d[0], 100) && within(d[1], 200), "{d:?}");
        assert!(d[2..].iter().all(|x| within(*x, 400)), "{d:?}");
        b.reset();
        assert!(within(b.next_delay(), 100));
    }
}
