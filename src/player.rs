//! The player: decides what every panel shows and publishes a frame exactly
//! when that changes.
//!
//! [`Player`] is a state machine driven from outside with the current time:
//! `on_store_change`, `on_timer`, `republish_all`. It keeps a heap of
//! next-change instants (one live entry per panel), so between changes it
//! costs nothing, whatever the number of panels. Frames go out through a
//! sink closure; the player knows nothing of MQTT or HTTP. [`spawn`] runs it
//! on its own thread, because rendering is CPU work that must not stall the
//! async runtime.
//!
//! Renders are cached in [`Renditions`] by (message, version, profile), so a
//! thousand identical panels cost one render; the cache is bounded by bytes
//! (`memory::ByteLru`, a share of the memory budget), least recently used
//! dropped first.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::domain::{Alert, Color, Id, Message, PixelFormat, Profile, Style};
use crate::frame::{self, Header};
use crate::memory::{Budget, ByteLru, Weigh};
use crate::render::{self, Content, Picture, Renderer};
use crate::schedule::{self, Catalog, CompiledCampaign, Show};
use crate::store::seq::SeqAllocator;
use crate::store::{Snapshot, Store};

/// A frame is republished at least this often, so that `valid_until` never
/// lies far in the future and a controller cut off from the server blanks
/// rather than show a stale message for ever.
pub const REFRESH: chrono::Duration = chrono::Duration::minutes(30);

/// How alerts look on colour panels: yellow on deep red.
pub const ALERT_STYLE: Style = Style {
    color: Some(Color([0xff, 0xe0, 0x00])),
    background: Some(Color([0xb0, 0x00, 0x00])),
    align: None,
    fit: None,
    caption: None,
};

/// One rendered page, ready to stamp into frames.
pub struct PageOut {
    pub page: render::Page,
    pub data: Bytes,
    pub crc: u32,
    pub words: usize,
}

/// All pages of one message on one profile.
pub struct Rendition {
    pub pages: Vec<PageOut>,
}

impl Weigh for Rendition {
    fn weight(&self) -> usize {
        self.pages
            .iter()
            .map(|p| p.data.len() + p.page.bytes())
            .sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum RenderKey {
    Message {
        id: Id,
        version: u64,
        profile: Profile,
    },
    Alert {
        id: Id,
        profile: Profile,
    },
    Blank {
        profile: Profile,
    },
}

/// The render cache, shared by the player and the preview endpoints.
pub struct Renditions {
    renderer: Arc<Renderer>,
    cache: Mutex<ByteLru<RenderKey, Arc<Rendition>>>,
    images: Mutex<Pictures>,
    pub renders: std::sync::atomic::AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum RenditionError {
    #[error("image {0} is missing from the store")]
    MissingImage(String),
    #[error("image {id} cannot be used: {reason}")]
    BadImage { id: String, reason: String },
}

/// Prepared pictures by asset id, least recently used dropped first once
/// they hold more than [`PICTURE_CACHE_BYTES`] (a dropped one is decoded
/// again when needed; renders are cached separately).
struct Pictures {
    map: HashMap<String, (Arc<Picture>, u64)>,
    bytes: usize,
    tick: u64,
    budget: usize,
}

impl Default for Pictures {
    fn default() -> Self {
        Pictures {
            map: HashMap::new(),
            bytes: 0,
            tick: 0,
            budget: PICTURE_CACHE_BYTES,
        }
    }
}

/// Memory budget of the prepared-picture cache.
pub const PICTURE_CACHE_BYTES: usize = 256 * 1024 * 1024;

impl Pictures {
    fn get(&mut self, id: &str) -> Option<Arc<Picture>> {
        self.tick += 1;
        let tick = self.tick;
        self.map.get_mut(id).map(|(p, used)| {
            *used = tick;
            p.clone()
        })
    }

    fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.map.retain(|id, _| keep(id));
        self.bytes = self.map.values().map(|(p, _)| p.bytes()).sum();
    }

    fn insert(&mut self, id: &str, pic: Arc<Picture>) {
        self.tick += 1;
        self.bytes += pic.bytes();
        if let Some((old, _)) = self.map.insert(id.to_string(), (pic, self.tick)) {
            self.bytes -= old.bytes();
        }
        while self.bytes > self.budget && self.map.len() > 1 {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
                .expect("not empty");
            if let Some((p, _)) = self.map.remove(&oldest) {
                self.bytes -= p.bytes();
            }
        }
    }
}

impl Renditions {
    /// With the shares of the default memory budget.
    pub fn new(renderer: Arc<Renderer>) -> Renditions {
        Renditions::with_budget(renderer, &Budget::default())
    }

    /// Renders and pictures kept within their shares of `budget`.
    pub fn with_budget(renderer: Arc<Renderer>, budget: &Budget) -> Renditions {
        Renditions {
            renderer,
            cache: Mutex::new(ByteLru::new(budget.renders())),
            images: Mutex::new(Pictures {
                budget: budget.pictures(),
                ..Pictures::default()
            }),
            renders: Default::default(),
        }
    }

    pub fn renderer(&self) -> &Renderer {
        &self.renderer
    }

    /// Whether the prepared picture of asset `id` is cached (using it
    /// then costs no decoding).
    pub fn has_picture(&self, id: &str) -> bool {
        self.images
            .lock()
            .expect("image cache")
            .map
            .contains_key(id)
    }

    /// Bytes the cached renders hold.
    pub fn bytes(&self) -> usize {
        self.cache.lock().expect("render cache").bytes()
    }

    fn build(&self, content: &Content<'_>, profile: &Profile) -> Rendition {
        self.renders
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let r = self.renderer.render(content, profile);
        Rendition {
            pages: r
                .pages
                .into_iter()
                .map(|page| {
                    let data = Bytes::from(page.data().into_owned());
                    PageOut {
                        crc: frame::crc32(&data),
                        data,
                        words: page.words(),
                        page,
                    }
                })
                .collect(),
        }
    }

    fn cached(
        &self,
        key: RenderKey,
        make: impl FnOnce() -> Result<Rendition, RenditionError>,
    ) -> Result<Arc<Rendition>, RenditionError> {
        if let Some(r) = self.cache.lock().expect("render cache").get(&key) {
            return Ok(r.clone());
        }
        let r = Arc::new(make()?);
        self.cache
            .lock()
            .expect("render cache")
            .insert(key, r.clone());
        Ok(r)
    }

    /// An asset image, decoded and prepared ([`Picture`]), cached.
    pub fn image(&self, store: &Store, id: &str) -> Result<Arc<Picture>, RenditionError> {
        if let Some(i) = self.images.lock().expect("image cache").get(id) {
            return Ok(i);
        }
        let (_, bytes) = store
            .read_asset(id)
            .map_err(|_| RenditionError::MissingImage(id.into()))?;
        let img = render::decode_image(&bytes).map_err(|e| RenditionError::BadImage {
            id: id.into(),
            reason: e.to_string(),
        })?;
        let pic = Arc::new(Picture::new(&img.image));
        self.images
            .lock()
            .expect("image cache")
            .insert(id, pic.clone());
        Ok(pic)
    }

    /// Renders a message body that need not be stored (live previews).
    pub fn render_body(
        &self,
        store: &Store,
        body: &crate::domain::MessageBody,
        profile: &Profile,
    ) -> Result<Rendition, RenditionError> {
        let img = match &body.image {
            Some(id) => Some(self.image(store, id)?),
            None => None,
        };
        Ok(self.build(
            &Content {
                text: body.text.as_deref().unwrap_or(""),
                image: img.as_deref(),
                style: &body.style,
            },
            profile,
        ))
    }

    pub fn message(
        &self,
        store: &Store,
        msg: &Message,
        profile: &Profile,
    ) -> Result<Arc<Rendition>, RenditionError> {
        let key = RenderKey::Message {
            id: msg.id.clone(),
            version: msg.version,
            profile: *profile,
        };
        self.cached(key, || self.render_body(store, &msg.body, profile))
    }

    pub fn alert(&self, alert: &Alert, profile: &Profile) -> Arc<Rendition> {
        let key = RenderKey::Alert {
            id: alert.id.clone(),
            profile: *profile,
        };
        self.cached(key, || {
            Ok(self.build(
                &Content {
                    text: &alert.body.text,
                    image: None,
                    style: &ALERT_STYLE,
                },
                profile,
            ))
        })
        .expect("alerts have no image")
    }

    pub fn blank(&self, profile: &Profile) -> Arc<Rendition> {
        self.cached(RenderKey::Blank { profile: *profile }, || {
            Ok(self.build(
                &Content {
                    text: "",
                    image: None,
                    style: &Style::default(),
                },
                profile,
            ))
        })
        .expect("blank has no image")
    }

    /// Drops renders of message versions that no longer exist.
    fn sweep(&self, snap: &Snapshot) {
        self.cache
            .lock()
            .expect("render cache")
            .retain(|k, _| match k {
                RenderKey::Message { id, version, .. } => {
                    snap.messages.get(id).is_some_and(|m| m.version == *version)
                }
                RenderKey::Alert { id, .. } => snap.alerts.contains_key(id),
                RenderKey::Blank { .. } => true,
            });
        self.images
            .lock()
            .expect("image cache")
            .retain(|id| snap.assets.contains_key(id));
    }

    pub fn len(&self) -> usize {
        self.cache.lock().expect("render cache").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a panel shows now, as `GET /panels/{id}/now` reports it.
#[derive(Clone, Serialize, schemars::JsonSchema)]
pub struct NowState {
    pub message: Option<Id>,
    pub campaign: Option<Id>,
    pub alert: Option<Id>,
    pub seq: u32,
    pub since: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub page: u32,
    pub pages: u32,
    pub brightness: u8,
    pub blank: bool,
    /// Unix seconds after which the controller blanks, as sent in the frame.
    pub valid_until: u64,
    #[serde(skip)]
    pub profile: Profile,
    #[serde(skip)]
    pub rendition: Option<Arc<Rendition>>,
}

/// Last status a controller reported.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveStatus {
    pub online: bool,
    pub last_seen: Option<DateTime<Utc>>,
    pub firmware: Option<String>,
    pub reported_seq: Option<u32>,
}

/// A change the dashboard hears about (server-sent events).
#[derive(Debug, Clone, Serialize)]
pub struct PanelEvent {
    pub id: Id,
    pub online: bool,
    pub last_seen: Option<DateTime<Utc>>,
    pub seq: u32,
    pub message: Option<Id>,
    pub campaign: Option<Id>,
    pub alert: Option<Id>,
    /// When the current show began.
    pub since: Option<DateTime<Utc>>,
}

/// What a published seq stood for; acks are turned into proof of play with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Played {
    pub seq: u32,
    pub message: Option<Id>,
    pub campaign: Option<Id>,
    pub alert: Option<Id>,
    /// An ack was already turned into a proof-of-play row: a QoS 1 ack
    /// re-sent after a broker outage must not count twice.
    pub acked: bool,
}

/// State the player shares with the API and the inbound MQTT handler.
pub struct Shared {
    pub now: RwLock<HashMap<Id, NowState>>,
    pub live: RwLock<HashMap<Id, LiveStatus>>,
    pub recent: Mutex<HashMap<Id, VecDeque<Played>>>,
    pub events: tokio::sync::broadcast::Sender<PanelEvent>,
    pub frames_published: std::sync::atomic::AtomicU64,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            now: Default::default(),
            live: Default::default(),
            recent: Default::default(),
            events: tokio::sync::broadcast::channel(4096).0,
            frames_published: Default::default(),
        }
    }
}

impl Shared {
    pub fn event_for(&self, id: &Id) -> PanelEvent {
        let now = self.now.read().expect("now lock");
        let live = self.live.read().expect("live lock");
        let n = now.get(id);
        let l = live.get(id).cloned().unwrap_or_default();
        PanelEvent {
            id: id.clone(),
            online: l.online,
            last_seen: l.last_seen,
            seq: n.map(|n| n.seq).unwrap_or(0),
            message: n.and_then(|n| n.message.clone()),
            campaign: n.and_then(|n| n.campaign.clone()),
            alert: n.and_then(|n| n.alert.clone()),
            since: n.map(|n| n.since),
        }
    }

    fn notify(&self, id: &Id) {
        let _ = self.events.send(self.event_for(id));
    }

    /// How many of these panels report online (status messages from ids
    /// that are not configured panels do not count).
    pub fn online_among<'a>(&self, ids: impl Iterator<Item = &'a Id>) -> usize {
        let live = self.live.read().expect("live lock");
        ids.filter(|id| live.get(*id).is_some_and(|l| l.online))
            .count()
    }

    /// A controller's status message arrived.
    pub fn status(
        &self,
        panel: &Id,
        online: bool,
        firmware: Option<String>,
        seq: Option<u32>,
        at: DateTime<Utc>,
    ) {
        {
            let mut live = self.live.write().expect("live lock");
            let l = live.entry(panel.clone()).or_default();
            l.online = online;
            l.last_seen = Some(at);
            if firmware.is_some() {
                l.firmware = firmware;
            }
            if seq.is_some() {
                l.reported_seq = seq;
            }
        }
        self.notify(panel);
    }

    /// What an acknowledged seq showed, if we still remember it and it was
    /// not acknowledged before (duplicates of a QoS 1 ack give `None`).
    pub fn played(&self, panel: &Id, seq: u32, at: DateTime<Utc>) -> Option<Played> {
        {
            let mut live = self.live.write().expect("live lock");
            let l = live.entry(panel.clone()).or_default();
            l.online = true;
            l.last_seen = Some(at);
        }
        self.recent
            .lock()
            .expect("recent lock")
            .get_mut(panel)
            .and_then(|q| q.iter_mut().find(|p| p.seq == seq))
            .filter(|p| !p.acked)
            .map(|p| {
                p.acked = true;
                p.clone()
            })
    }
}

/// How many published seqs per panel are remembered for matching acks.
const RECENT: usize = 32;

/// What the player asks the outside world to do.
pub enum Out {
    Frame { panel: Id, frame: Bytes },
    Clear { panel: Id },
}

struct Published {
    wake: DateTime<Utc>,
    show: Show,
    crc: u32,
    flags: u16,
    brightness: u8,
    refresh_at: DateTime<Utc>,
    profile: Profile,
}

pub struct Player {
    store: Arc<Store>,
    renditions: Arc<Renditions>,
    shared: Arc<Shared>,
    seq: SeqAllocator,
    tz: Tz,
    grace_s: u32,
    signer: Option<ed25519_dalek::SigningKey>,
    panels: HashMap<Id, Published>,
    heap: BinaryHeap<Reverse<(DateTime<Utc>, Id)>>,
    compiled: (u64, Arc<Vec<CompiledCampaign>>),
    /// Alerts not cancelled, gathered once per store generation (not once
    /// per panel); `resolve` decides which are on at an instant.
    alerts: Arc<Vec<Alert>>,
    snap: Arc<Snapshot>,
}

struct StoreCatalog<'a> {
    snap: &'a Snapshot,
    store: &'a Store,
    renditions: &'a Renditions,
}

impl Catalog for StoreCatalog<'_> {
    fn pages(&self, message: &Id, profile: &Profile) -> Option<u32> {
        let m = self.snap.messages.get(message)?;
        if !m.playable() {
            return None;
        }
        match self.renditions.message(self.store, m, profile) {
            Ok(r) => Some(r.pages.len() as u32),
            Err(e) => {
                tracing::warn!(message = %message, "message skipped: {e}");
                None
            }
        }
    }
    fn alert_pages(&self, alert: &Alert, profile: &Profile) -> u32 {
        self.renditions.alert(alert, profile).pages.len() as u32
    }
}

/// Compiles every campaign the store holds; the store already refused
/// invalid ones, so a failure here is logged and the campaign skipped.
pub fn compile_all(snap: &Snapshot, tz: Tz) -> Vec<CompiledCampaign> {
    snap.campaigns
        .values()
        .filter_map(|c| match schedule::compile_in(c, tz) {
            Ok(cc) => Some(cc),
            Err(e) => {
                tracing::error!(campaign = %c.id, "campaign skipped: {e}");
                None
            }
        })
        .collect()
}

impl Player {
    pub fn new(
        store: Arc<Store>,
        renditions: Arc<Renditions>,
        shared: Arc<Shared>,
        seq: SeqAllocator,
        tz: Tz,
        grace_s: u32,
        signer: Option<ed25519_dalek::SigningKey>,
    ) -> Player {
        let snap = store.snapshot();
        Player {
            store,
            renditions,
            shared,
            seq,
            tz,
            grace_s,
            signer,
            panels: HashMap::new(),
            heap: BinaryHeap::new(),
            compiled: (u64::MAX, Arc::new(Vec::new())),
            alerts: Arc::new(Vec::new()),
            snap,
        }
    }

    fn refresh_snapshot(&mut self) {
        self.snap = self.store.snapshot();
        if self.compiled.0 != self.snap.generation {
            self.compiled = (
                self.snap.generation,
                Arc::new(compile_all(&self.snap, self.tz)),
            );
            self.alerts = Arc::new(
                self.snap
                    .alerts
                    .values()
                    .filter(|a| a.cancelled_at.is_none())
                    .cloned()
                    .collect(),
            );
            self.renditions.sweep(&self.snap);
        }
    }

    /// The earliest instant at which some panel may change.
    pub fn next_wake(&self) -> Option<DateTime<Utc>> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    /// The store changed: re-decide every panel, publish what changed.
    pub fn on_store_change(&mut self, now: DateTime<Utc>, out: &mut dyn FnMut(Out)) {
        self.refresh_snapshot();
        let gone: Vec<Id> = self
            .panels
            .keys()
            .filter(|id| !self.snap.panels.contains_key(*id))
            .cloned()
            .collect();
        for id in gone {
            self.panels.remove(&id);
            self.shared.now.write().expect("now lock").remove(&id);
            out(Out::Clear { panel: id });
        }
        let ids: Vec<Id> = self.snap.panels.keys().cloned().collect();
        for id in ids {
            self.update(&id, now, false, out);
        }
    }

    /// After a start or a broker reconnect: every panel's current frame, each with a new seq.
    pub fn republish_all(&mut self, now: DateTime<Utc>, out: &mut dyn FnMut(Out)) {
        self.refresh_snapshot();
        let ids: Vec<Id> = self.snap.panels.keys().cloned().collect();
        let names: Vec<&str> = ids.iter().map(|i| i.as_str()).collect();
        if let Err(e) = self.seq.reserve(&names) {
            tracing::error!("cannot reserve frame sequence numbers: {e}");
        }
        for id in ids {
            self.update(&id, now, true, out);
        }
    }

    /// Time passed: handle every panel whose next change is due.
    pub fn on_timer(&mut self, now: DateTime<Utc>, out: &mut dyn FnMut(Out)) {
        self.refresh_snapshot();
        while let Some(Reverse((t, id))) = self.heap.peek().cloned() {
            if t > now {
                break;
            }
            self.heap.pop();
            // Lazy deletion: only the panel's current wake counts.
            if self.panels.get(&id).is_some_and(|p| p.wake == t) {
                self.update(&id, now, false, out);
            }
        }
    }

    fn update(&mut self, id: &Id, now: DateTime<Utc>, force: bool, out: &mut dyn FnMut(Out)) {
        let Some(panel) = self.snap.panels.get(id).cloned() else {
            return;
        };
        let profile = panel.profile();
        let catalog = StoreCatalog {
            snap: &self.snap,
            store: &self.store,
            renditions: &self.renditions,
        };
        let d = schedule::resolve(
            &panel,
            &self.compiled.1,
            &self.alerts,
            &catalog,
            self.tz,
            now,
        );
        let (rendition, page_ix, flags, valid_until, message, campaign, alert) = match &d.show {
            Show::Blank => (
                self.renditions.blank(&profile),
                0,
                frame::FLAG_BLANK,
                None,
                None,
                None,
                None,
            ),
            Show::Message {
                campaign,
                message,
                page,
                ..
            } => {
                let m = &self.snap.messages[message];
                match self.renditions.message(&self.store, m, &profile) {
                    Ok(r) => (
                        r,
                        *page as usize - 1,
                        0,
                        d.until,
                        Some(message.clone()),
                        Some(campaign.clone()),
                        None,
                    ),
                    Err(_) => (
                        self.renditions.blank(&profile),
                        0,
                        frame::FLAG_BLANK,
                        None,
                        None,
                        None,
                        None,
                    ),
                }
            }
            Show::Alert { alert, page, .. } => {
                let a = &self.snap.alerts[alert];
                (
                    self.renditions.alert(a, &profile),
                    *page as usize - 1,
                    frame::FLAG_EMERGENCY,
                    Some(a.ends_at),
                    None,
                    None,
                    Some(alert.clone()),
                )
            }
        };
        let page_ix = page_ix.min(rendition.pages.len().saturating_sub(1));
        let page = &rendition.pages[page_ix];
        let prev = self.panels.get(id);
        let refresh_due = prev.is_none_or(|p| now >= p.refresh_at);
        let changed = prev.is_none_or(|p| {
            p.show != d.show
                || p.crc != page.crc
                || p.flags != flags
                || p.brightness != d.brightness
                || p.profile != profile
        });
        let refresh_at = now + REFRESH;
        let wake = match d.until {
            Some(u) => u.min(refresh_at),
            None => refresh_at,
        };
        let (wake, refresh_at) = if force || changed || refresh_due {
            let valid_until = if flags & frame::FLAG_BLANK != 0 {
                0
            } else if alert.is_some() {
                valid_until
                    .map(|t| t.timestamp().max(0) as u64)
                    .unwrap_or(0)
            } else {
                let end = valid_until.map_or(refresh_at, |u| u.min(refresh_at));
                (end.timestamp() + i64::from(self.grace_s)).max(0) as u64
            };
            let seq = match self.seq.next(id.as_str()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(panel = %id, "no sequence number (frame not sent): {e}");
                    self.schedule(
                        id,
                        now + chrono::Duration::seconds(5),
                        &d.show,
                        page.crc,
                        flags,
                        d.brightness,
                        now,
                        profile,
                    );
                    return;
                }
            };
            let mut header = Header {
                format: profile.format,
                brightness: d.brightness,
                width: profile.width,
                height: profile.height,
                flags,
                seq,
                valid_until,
            };
            let bytes = match &self.signer {
                None => Bytes::from(frame::encode_with_crc(&header, &page.data, page.crc)),
                Some(key) => {
                    use ed25519_dalek::Signer;
                    header.flags |= frame::FLAG_SIGNED;
                    let mut v = frame::encode_with_crc(&header, &page.data, page.crc);
                    let sig = key.sign(&v);
                    v.extend_from_slice(&sig.to_bytes());
                    Bytes::from(v)
                }
            };
            {
                let mut recent = self.shared.recent.lock().expect("recent lock");
                let q = recent.entry(id.clone()).or_default();
                if q.len() >= RECENT {
                    q.pop_front();
                }
                q.push_back(Played {
                    acked: false,
                    seq,
                    message: message.clone(),
                    campaign: campaign.clone(),
                    alert: alert.clone(),
                });
            }
            let (page_no, pages) = match &d.show {
                Show::Message { page, pages, .. } | Show::Alert { page, pages, .. } => {
                    (*page, *pages)
                }
                Show::Blank => (0, 0),
            };
            self.shared.now.write().expect("now lock").insert(
                id.clone(),
                NowState {
                    message,
                    campaign,
                    alert,
                    seq,
                    since: d.since,
                    until: d.until,
                    page: page_no,
                    pages,
                    brightness: d.brightness,
                    blank: flags & frame::FLAG_BLANK != 0,
                    valid_until,
                    profile,
                    rendition: Some(rendition.clone()),
                },
            );
            self.shared
                .frames_published
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            out(Out::Frame {
                panel: id.clone(),
                frame: bytes,
            });
            self.shared.notify(id);
            (wake, refresh_at)
        } else {
            // Nothing to send: keep the refresh that is already due.
            let refresh_at = prev.map(|p| p.refresh_at).unwrap_or(refresh_at);
            (wake.min(refresh_at), refresh_at)
        };
        self.schedule(
            id,
            wake,
            &d.show,
            page.crc,
            flags,
            d.brightness,
            refresh_at,
            profile,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn schedule(
        &mut self,
        id: &Id,
        wake: DateTime<Utc>,
        show: &Show,
        crc: u32,
        flags: u16,
        brightness: u8,
        refresh_at: DateTime<Utc>,
        profile: Profile,
    ) {
        let same_wake = self.panels.get(id).is_some_and(|p| p.wake == wake);
        self.panels.insert(
            id.clone(),
            Published {
                wake,
                show: show.clone(),
                crc,
                flags,
                brightness,
                refresh_at,
                profile,
            },
        );
        if !same_wake {
            self.heap.push(Reverse((wake, id.clone())));
        }
    }
}

/// Messages into the player thread.
pub enum Command {
    StoreChanged,
    RepublishAll,
    Shutdown,
}

/// Runs the player on its own thread. `sink` receives every frame to
/// publish, in order; it may block (back-pressure from the broker link).
pub fn spawn(
    mut player: Player,
    sink: impl FnMut(Out) + Send + 'static,
) -> (
    std::sync::mpsc::Sender<Command>,
    std::thread::JoinHandle<()>,
) {
    let (tx, rx) = std::sync::mpsc::channel::<Command>();
    let handle = std::thread::Builder::new()
        .name("player".into())
        .spawn(move || {
            let mut sink = sink;
            player.republish_all(Utc::now(), &mut sink);
            loop {
                let timeout = player
                    .next_wake()
                    .map(|t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                    .unwrap_or(Duration::from_secs(3600));
                // Wake a hair after the instant, so `now >= until` holds.
                match rx.recv_timeout(timeout + Duration::from_millis(2)) {
                    Ok(Command::StoreChanged) => {
                        // Coalesce a burst of changes into one pass.
                        let mut republish = false;
                        while let Ok(c) = rx.try_recv() {
                            match c {
                                Command::Shutdown => return,
                                Command::RepublishAll => republish = true,
                                Command::StoreChanged => {}
                            }
                        }
                        if republish {
                            player.republish_all(Utc::now(), &mut sink);
                        } else {
                            player.on_store_change(Utc::now(), &mut sink);
                        }
                    }
                    Ok(Command::RepublishAll) => player.republish_all(Utc::now(), &mut sink),
                    Ok(Command::Shutdown)
                    | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        player.on_timer(Utc::now(), &mut sink)
                    }
                }
            }
        })
        .expect("spawn player thread");
    (tx, handle)
}

/// Preview helpers shared by the API: profile of a panel-less preview.
pub fn preview_profile(
    width: u16,
    height: u16,
    format: PixelFormat,
    color: Option<Color>,
) -> Result<Profile, crate::domain::Invalid> {
    let mut p = Profile::new(width, height, format)?;
    if let Some(c) = color {
        p.color = c;
    }
    Ok(p)
}

/// The catalog `resolve` and `timeline` use: approved messages, paged by
/// their (cached) renders.
pub fn catalog<'a>(
    snap: &'a Snapshot,
    store: &'a Store,
    renditions: &'a Renditions,
) -> impl Catalog + 'a {
    StoreCatalog {
        snap,
        store,
        renditions,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn picture_cache_keeps_the_recently_used_within_its_budget() {
        let pic = |side: u32| {
            Arc::new(Picture::new(&image::RgbaImage::from_pixel(
                side,
                side,
                image::Rgba([9, 9, 9, 255]),
            )))
        };
        let one = pic(10).bytes(); // 10 × 10 × 3 channels × 4 bytes
        assert_eq!(one, 1200);
        let mut c = Pictures {
            budget: 3 * one,
            ..Pictures::default()
        };
        c.insert("a", pic(10));
        c.insert("b", pic(10));
        c.insert("c", pic(10));
        assert!(c.get("a").is_some(), "a is used again: b is now the oldest");
        c.insert("d", pic(10));
        assert!(c.get("b").is_none(), "least recently used dropped");
        assert!(c.get("a").is_some() && c.get("c").is_some() && c.get("d").is_some());
        assert_eq!(c.bytes, 3 * one);
        // One picture over the budget on its own is still kept (it is in use).
        c.insert("big", pic(40));
        assert!(c.get("big").is_some());
        assert_eq!(c.map.len(), 1);
        assert_eq!(c.bytes, pic(40).bytes());
        c.retain(|id| id != "big");
        assert_eq!((c.map.len(), c.bytes), (0, 0));
    }

    use super::*;
    use crate::domain::{AlertBody, Campaign, MessageBody, MessageStatus, Panel, Target};
    use chrono::TimeZone;

    struct Rig {
        _dir: tempfile::TempDir,
        store: Arc<Store>,
        player: Player,
    }

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, h, m, s).unwrap()
    }

    fn message(id: &str, text: &str, approved: bool) -> Message {
        let now = t(0, 0, 0);
        Message {
            id: Id::parse(id).unwrap(),
            body: MessageBody {
                title: id.into(),
                text: Some(text.into()),
                image: None,
                style: Style::default(),
            },
            status: if approved {
                MessageStatus::Approved
            } else {
                MessageStatus::Draft
            },
            version: 1,
            created_by: "a".into(),
            created_at: now,
            updated_by: "a".into(),
            updated_at: now,
            approved_by: approved.then(|| "b".into()),
            approved_at: approved.then_some(now),
        }
    }

    fn rig(messages: &[(&str, bool)]) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let panel: Panel = serde_json::from_value(serde_json::json!({
            "id": "p1", "name": "P", "width": 64, "height": 16, "format": "mono1", "groups": ["d1"]
        }))
        .unwrap();
        store.put_panel(panel, true, "a").unwrap();
        for (id, approved) in messages {
            store
                .seed_message(message(id, &format!("Tin {id}"), *approved))
                .unwrap();
        }
        let c: Campaign = serde_json::from_value(serde_json::json!({
            "id": "c1", "name": "C",
            "messages": messages.iter().map(|(id, _)| serde_json::json!({"id": id, "dwell_s": 10})).collect::<Vec<_>>(),
            "targets": ["p1"], "start": "2026-01-01", "priority": 1
        }))
        .unwrap();
        store.put_campaign(c, true, "a").unwrap();
        let renditions = Arc::new(Renditions::new(Arc::new(Renderer::new())));
        let seq = SeqAllocator::open(dir.path().join("state/seq.json")).unwrap();
        let player = Player::new(
            store.clone(),
            renditions,
            Arc::new(Shared::default()),
            seq,
            chrono_tz::Asia::Ho_Chi_Minh,
            300,
            None,
        );
        Rig {
            _dir: dir,
            store,
            player,
        }
    }

    fn frames(f: impl FnOnce(&mut dyn FnMut(Out))) -> Vec<(Id, Vec<u8>)> {
        let mut out = Vec::new();
        f(&mut |o| match o {
            Out::Frame { panel, frame } => out.push((panel, frame.to_vec())),
            Out::Clear { panel } => out.push((panel, Vec::new())),
        });
        out
    }

    #[test]
    fn rotates_messages_at_dwell_boundaries_with_increasing_seq() {
        let mut r = rig(&[("m1", true), ("m2", true)]);
        let t0 = t(3, 0, 3);
        let out = frames(|o| r.player.republish_all(t0, o));
        assert_eq!(out.len(), 1);
        let f = frame::decode(&out[0].1).unwrap();
        assert_eq!(f.header.flags, 0);
        assert_eq!((f.header.width, f.header.height), (64, 16));
        let wake = r.player.next_wake().unwrap();
        assert!(
            wake > t0 && wake <= t0 + chrono::Duration::seconds(10),
            "{wake}"
        );
        // valid_until: the end of this dwell plus the grace margin.
        assert_eq!(f.header.valid_until, (wake.timestamp() + 300) as u64);
        let first = r.player.shared.now.read().unwrap()[&Id::parse("p1").unwrap()]
            .message
            .clone();
        // Nothing is due before the wake: no frame.
        assert!(frames(|o| r
            .player
            .on_timer(wake - chrono::Duration::milliseconds(1), o))
        .is_empty());
        let out2 = frames(|o| r.player.on_timer(wake, o));
        assert_eq!(out2.len(), 1);
        let f2 = frame::decode(&out2[0].1).unwrap();
        assert!(f2.header.seq > f.header.seq);
        let second = r.player.shared.now.read().unwrap()[&Id::parse("p1").unwrap()]
            .message
            .clone();
        assert_ne!(first, second, "the other message after one dwell");
        // A store change that changes nothing for the panel publishes nothing.
        assert!(frames(|o| r.player.on_store_change(wake, o)).is_empty());
    }

    #[test]
    fn drafts_never_reach_the_panel() {
        let mut r = rig(&[("m1", false)]);
        let out = frames(|o| r.player.republish_all(t(3, 0, 0), o));
        let f = frame::decode(&out[0].1).unwrap();
        assert_eq!(f.header.flags & frame::FLAG_BLANK, frame::FLAG_BLANK);
        assert!(f.data.iter().all(|b| *b == 0));
        assert_eq!(f.header.valid_until, 0);
    }

    #[test]
    fn alerts_preempt_then_lapse_and_deleted_panels_are_cleared() {
        let mut r = rig(&[("m1", true)]);
        let t0 = t(3, 0, 0);
        frames(|o| r.player.republish_all(t0, o));
        let ends = t0 + chrono::Duration::seconds(60);
        r.store
            .put_alert(
                Alert {
                    id: Id::parse("a1").unwrap(),
                    body: AlertBody {
                        text: "BÃO".into(),
                        targets: vec![Target::Group("d1".into())],
                        duration_s: 60,
                    },
                    created_by: "op".into(),
                    created_at: t0,
                    ends_at: ends,
                    cancelled_at: None,
                },
                "op",
            )
            .unwrap();
        let out = frames(|o| {
            r.player
                .on_store_change(t0 + chrono::Duration::seconds(1), o)
        });
        let f = frame::decode(&out[0].1).unwrap();
        assert_eq!(
            f.header.flags & frame::FLAG_EMERGENCY,
            frame::FLAG_EMERGENCY
        );
        assert_eq!(f.header.valid_until, ends.timestamp() as u64);
        assert_eq!(r.player.next_wake(), Some(ends));
        let out = frames(|o| r.player.on_timer(ends, o));
        let f = frame::decode(&out[0].1).unwrap();
        assert_eq!(
            f.header.flags & frame::FLAG_EMERGENCY,
            0,
            "alert lapsed by itself"
        );
        r.store
            .delete_panel(&Id::parse("p1").unwrap(), "a")
            .unwrap();
        let out = frames(|o| r.player.on_store_change(ends, o));
        assert_eq!(out, vec![(Id::parse("p1").unwrap(), Vec::new())]);
    }

    #[test]
    fn a_static_frame_is_refreshed_before_it_expires() {
        let mut r = rig(&[("m1", true)]);
        let t0 = t(3, 0, 0);
        let out = frames(|o| r.player.republish_all(t0, o));
        let f = frame::decode(&out[0].1).unwrap();
        // One single-page message all day: the frame is valid for REFRESH + grace.
        assert_eq!(
            f.header.valid_until,
            (t0 + REFRESH).timestamp() as u64 + 300
        );
        assert_eq!(r.player.next_wake(), Some(t0 + REFRESH));
        let out = frames(|o| r.player.on_timer(t0 + REFRESH, o));
        let f2 = frame::decode(&out[0].1).unwrap();
        assert!(f2.header.seq > f.header.seq);
        assert!(f2.header.valid_until > f.header.valid_until);
        assert_eq!(f2.data, f.data);
    }

    #[test]
    fn a_thousand_identical_panels_cost_one_render() {
        let mut r = rig(&[("m1", true)]);
        for i in 0..1000 {
            let p: Panel = serde_json::from_value(serde_json::json!({
                "id": format!("q{i}"), "name": "Q", "width": 64, "height": 16, "format": "mono1", "groups": ["d1"]
            }))
            .unwrap();
            r.store.put_panel(p, true, "a").unwrap();
        }
        let c: Campaign = serde_json::from_value(serde_json::json!({
            "id": "c2", "name": "C2", "messages": [{"id": "m1", "dwell_s": 10}], "targets": ["group:d1"],
            "start": "2026-01-01", "priority": 2
        }))
        .unwrap();
        r.store.put_campaign(c, true, "a").unwrap();
        let before = r
            .player
            .renditions
            .renders
            .load(std::sync::atomic::Ordering::Relaxed);
        let out = frames(|o| r.player.republish_all(t(3, 0, 0), o));
        assert_eq!(out.len(), 1001);
        let renders = r
            .player
            .renditions
            .renders
            .load(std::sync::atomic::Ordering::Relaxed)
            - before;
        assert_eq!(renders, 1, "one (message, profile) render for 1001 panels");
    }

    #[test]
    fn a_repeated_ack_counts_once() {
        let sh = Shared::default();
        let p = Id::parse("p1").unwrap();
        sh.recent
            .lock()
            .unwrap()
            .entry(p.clone())
            .or_default()
            .push_back(Played {
                seq: 7,
                message: None,
                campaign: None,
                alert: None,
                acked: false,
            });
        let now = Utc::now();
        assert_eq!(sh.played(&p, 7, now).map(|x| x.seq), Some(7));
        assert_eq!(sh.played(&p, 7, now), None, "a duplicate ack");
        assert_eq!(sh.played(&p, 8, now), None, "unknown seq");
    }
}
