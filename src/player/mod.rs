//! The player: decides what every panel shows and publishes a frame exactly
//! when that changes.
//!
//! [`Player`] is a state machine driven from outside with the current time:
//! `on_store_change`, `on_timer`, `republish_all`. It keeps a heap of
//! next-change instants (one live entry per panel), so between changes it
//! costs nothing, whatever the number of panels. Its output is [`Out`]:
//! a frame for a panel, or a panel to clear, handed to a sink closure in
//! order. The player knows nothing of MQTT or HTTP: what carries a frame
//! to a panel (the MQTT link today) is the caller's choice, per panel.
//! [`spawn`] runs it on its own thread, because rendering is CPU work that
//! must not stall the async runtime.
//!
//! - [`renditions`]: the render cache ([`Renditions`]): pages per (message
//!   version, profile), prepared pictures per asset; a thousand identical
//!   panels cost one render.
//! - [`affected`](mod@affected): which panels a store change touches (the rest are not
//!   re-decided).
//! - [`inputs`]: the schedule inputs of a store snapshot ([`Schedules`]),
//!   built once per generation and shared with the API's timeline.
//! - [`bundles`]: each MQTT panel's offline bundle, from its timeline.
//! - [`stamp`]: seq allocation, `valid_until`, BTF1 header and signature.
//! - [`compress`]: the BTZ1 coding of a frame for a controller that opted in, made once per page.
//! - [`live`]: the state the API reads ([`Shared`]: now, live status,
//!   recent frames for proof of play, events).
//! - this file: the state machine and its thread.

pub mod affected;
pub mod bundles;
pub mod compress;
pub mod inputs;
pub mod live;
mod outbox;
pub mod renditions;
pub mod stamp;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use self::affected::{affected, Affected};
pub use self::inputs::{ScheduleInputs, Schedules};
pub use self::live::{Acked, LiveStatus, NowState, PanelEvent, Played, Shared};
pub use self::renditions::{
    preview_profile, PageOut, Rendition, RenditionError, Renditions, ALERT_STYLE,
    PICTURE_CACHE_BYTES,
};
pub use self::stamp::FrameSettings;
use self::stamp::{Stamp, Stamper, Validity};
use crate::domain::{Id, Profile, Transport};
use crate::frame;
use crate::schedule::{Decision, Show};
use crate::store::seq::SeqAllocator;
use crate::store::Store;

/// A frame is republished at least this often, so that `valid_until` never
/// lies far in the future and a controller cut off from the server blanks
/// rather than show a stale message for ever.
pub const REFRESH: chrono::Duration = chrono::Duration::minutes(30);

/// How long the player gathers store changes before a pass (a burst of
/// writes becomes one pass; a single change waits this much longer).
const STORE_CHANGE_BATCH: Duration = Duration::from_millis(20);

/// After a frame could not be stamped (no seq: the disk refused the
/// high-water mark), the panel is tried again this much later.
const RETRY: chrono::Duration = chrono::Duration::seconds(5);

/// What the player asks the outside world to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// Deliver this BTF1 frame to the panel (it replaces the previous one).
    Frame {
        /// The panel.
        panel: Id,
        /// The signed BTF1 frame.
        frame: Bytes,
        /// The transport it was stamped for (coded and signed for the
        /// broker, or BTF1 for a vendor card): the store's word at
        /// stamping. Routed only while the panel still has it.
        via: Transport,
    },
    /// The panel was deleted: withdraw its frame.
    Clear {
        /// The panel that is gone.
        panel: Id,
    },
    /// The panel's offline bundle (BTB1, [`crate::bundle`]); MQTT panels
    /// only.
    Bundle {
        /// The panel.
        panel: Id,
        /// The signed BTB1 bundle.
        bundle: Bytes,
    },
}

/// What the player is built from.
pub struct PlayerParts {
    /// The data the player decides from; it follows the store's changes.
    pub store: Arc<Store>,
    /// The render cache (shared with the API's previews).
    pub renditions: Arc<Renditions>,
    /// The live state the API reads, written by the player.
    pub shared: Arc<Shared>,
    /// The schedule inputs per store generation (shared with the timeline).
    pub schedules: Arc<Schedules>,
    /// Each panel's next seq, persisted before use.
    pub seq: SeqAllocator,
    /// How frames are stamped and signed.
    pub frames: FrameSettings,
}

impl PlayerParts {
    /// The parts of a player over `store` alone, as benches, tests and
    /// tools run one without the server around it: a render cache without
    /// a memory budget, schedules in `tz`, fresh live state, the store's
    /// seq high-water marks, and 300 s of grace; frames signed with
    /// `signer` when given.
    pub fn over_store(
        store: Arc<Store>,
        tz: chrono_tz::Tz,
        signer: Option<ed25519_dalek::SigningKey>,
    ) -> std::io::Result<PlayerParts> {
        let renditions = Arc::new(Renditions::new(Arc::new(crate::render::Renderer::new())));
        Ok(PlayerParts {
            schedules: Arc::new(Schedules::new(store.clone(), renditions.clone(), tz)),
            seq: SeqAllocator::open(store.seq_file())?,
            store,
            renditions,
            shared: Arc::new(Shared::default()),
            frames: FrameSettings {
                grace_s: 300,
                signer,
                signing_threads: 0,
            },
        })
    }
}

/// What was last sent to a panel, and when to look at it again.
struct Published {
    wake: DateTime<Utc>,
    show: Show,
    crc: u32,
    flags: u16,
    brightness: u8,
    refresh_at: DateTime<Utc>,
    profile: Profile,
    /// How the frame was delivered: a panel moved to another transport is
    /// sent its frame again, over the new one.
    transport: Transport,
}

impl Published {
    /// Whether both would put the same frame on the glass (seq aside).
    fn same_frame(&self, other: &Published) -> bool {
        self.show == other.show
            && self.crc == other.crc
            && self.flags == other.flags
            && self.brightness == other.brightness
            && self.profile == other.profile
            && self.transport == other.transport
    }
}

/// Where a shown frame came from (for proof of play and `now`).
#[derive(Default)]
struct Origin {
    message: Option<Id>,
    campaign: Option<Id>,
    alert: Option<Id>,
}

/// When what is shown ends.
enum Ends {
    /// Blank: nothing to end.
    Never,
    /// An alert ends at a fixed instant.
    Alert(DateTime<Utc>),
    /// A message's dwell, when it ends before the horizon `resolve` sees.
    Dwell(Option<DateTime<Utc>>),
}

/// What a decision puts on the glass: a page of a rendition.
struct Showing {
    rendition: Arc<Rendition>,
    /// 0-based, within the rendition's pages.
    page: usize,
    flags: u16,
    ends: Ends,
    origin: Origin,
}

impl Showing {
    fn page(&self) -> &PageOut {
        &self.rendition.pages[self.page]
    }

    fn validity(&self, refresh_at: DateTime<Utc>) -> Validity {
        match self.ends {
            Ends::Never => Validity::Forever,
            Ends::Alert(t) => Validity::Until(t),
            Ends::Dwell(u) => Validity::Planned(u.map_or(refresh_at, |u| u.min(refresh_at))),
        }
    }
}

/// The state machine: what every panel was last sent, when to look at it again,
/// and the frames and bundles it makes.
pub struct Player {
    store: Arc<Store>,
    renditions: Arc<Renditions>,
    shared: Arc<Shared>,
    schedules: Arc<Schedules>,
    stamper: Stamper,
    /// What it made, handed out in order, signed on worker threads.
    outbox: outbox::Outbox,
    inputs: Arc<ScheduleInputs>,
    /// The snapshot the last store-change pass (or republish) applied to
    /// every panel: the next pass re-decides what changed since. (A timer
    /// pass may use newer inputs for the panels it wakes; it does not move
    /// this.)
    settled: Arc<crate::store::Snapshot>,
    panels: HashMap<Id, Published>,
    heap: BinaryHeap<Reverse<(DateTime<Utc>, Id)>>,
    /// Panel decisions made so far (how much work passes cost).
    decisions: u64,
    /// When each panel's next offline bundle is due.
    bundles: bundles::Due,
    /// Whether this server acts for the fleet ([`Player::follow_lead`]).
    leading: Box<dyn Fn() -> bool + Send>,
}

impl Player {
    /// A player over `parts`, with nothing published yet (call `republish_all` to start).
    pub fn new(parts: PlayerParts) -> Player {
        let inputs = parts.schedules.current();
        let coder = compress::Compressor::new(parts.shared.clone());
        let outbox = outbox::Outbox::new(parts.frames.signer.clone(), parts.frames.signing_threads);
        Player {
            outbox,
            settled: inputs.snapshot.clone(),
            store: parts.store,
            renditions: parts.renditions,
            shared: parts.shared,
            schedules: parts.schedules,
            stamper: Stamper::new(parts.seq, parts.frames, coder),
            inputs,
            panels: HashMap::new(),
            heap: BinaryHeap::new(),
            decisions: 0,
            bundles: bundles::Due::default(),
            leading: Box::new(|| true),
        }
    }

    /// How many times a panel was re-decided since the start.
    pub fn decisions(&self) -> u64 {
        self.decisions
    }

    /// The earliest instant at which some panel may change.
    pub fn next_wake(&self) -> Option<DateTime<Utc>> {
        let frames = self.heap.peek().map(|Reverse((t, _))| *t);
        match (frames, self.bundles.next()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The store changed: re-decide the panels the change touches (a
    /// changed panel, the panels a changed campaign, alert or message
    /// targets; every panel for a change aimed at `all`), publish what
    /// changed, clear deleted panels.
    pub fn on_store_change(&mut self, now: DateTime<Utc>, out: &mut dyn FnMut(Out)) {
        self.store_change(now, out);
        self.outbox.settle(out);
    }

    /// [`Player::on_store_change`] without waiting for its signatures
    /// (the caller settles).
    fn store_change(&mut self, now: DateTime<Utc>, out: &mut dyn FnMut(Out)) {
        self.inputs = self.schedules.current();
        let snap = self.inputs.snapshot.clone();
        let before = std::mem::replace(&mut self.settled, snap.clone());
        let ids: Vec<Id> = match affected(&before, &snap) {
            Affected::All => {
                self.clear_gone(&snap, out);
                snap.panels.keys().cloned().collect()
            }
            Affected::Panels(ids) => ids.into_iter().collect(),
        };
        // New panels take their first seqs with one durable write.
        let new: Vec<&str> = ids
            .iter()
            .filter(|id| !self.panels.contains_key(*id) && snap.panels.contains_key(*id))
            .map(|id| id.as_str())
            .collect();
        self.stamper.reserve(&new);
        for id in &ids {
            if snap.panels.contains_key(id) {
                self.update(id, now, false, out);
                self.bundle_due(id, now + bundles::SETTLE);
            } else {
                self.withdraw(id, out);
            }
        }
    }

    /// After a start or a broker reconnect: every panel's current frame,
    /// each with a new seq.
    pub fn republish_all(&mut self, now: DateTime<Utc>, out: &mut dyn FnMut(Out)) {
        self.inputs = self.schedules.current();
        let snap = self.inputs.snapshot.clone();
        self.settled = snap.clone();
        self.clear_gone(&snap, out);
        let names: Vec<&str> = snap.panels.keys().map(|i| i.as_str()).collect();
        self.stamper.reserve(&names);
        for id in snap.panels.keys() {
            self.update(id, now, true, out);
            self.bundle_due(id, now);
        }
        self.flush_bundles(now, out);
        self.outbox.settle(out);
    }

    /// This server took the lead: every panel gets its frame again, and
    /// no delta goes against a page it coded while following (its frames
    /// went nowhere, and their seqs may be the ones the leader used).
    pub fn took_lead(&mut self, now: DateTime<Utc>, out: &mut dyn FnMut(Out)) {
        self.stamper.took_lead();
        self.republish_all(now, out);
    }

    /// After the broker link came back: the frames of the panels it
    /// carries (MQTT), each with a new seq. Vendor cards have their own
    /// connections; sending them the same picture again would only record
    /// a play that did not happen.
    pub fn republish_mqtt(&mut self, now: DateTime<Utc>, out: &mut dyn FnMut(Out)) {
        self.store_change(now, out);
        let snap = self.settled.clone();
        let mqtt: Vec<&Id> = snap
            .panels
            .values()
            .filter(|p| p.transport.is_mqtt())
            .map(|p| &p.id)
            .collect();
        let names: Vec<&str> = mqtt.iter().map(|i| i.as_str()).collect();
        self.stamper.reserve(&names);
        for id in mqtt {
            self.update(id, now, true, out);
            self.bundle_due(id, now);
        }
        self.flush_bundles(now, out);
        self.outbox.settle(out);
    }

    /// One panel's frame again, with a new seq ([`Command::Resend`]).
    pub fn resend(&mut self, id: &Id, now: DateTime<Utc>, out: &mut dyn FnMut(Out)) {
        if self.panels.contains_key(id) {
            self.update(id, now, true, out);
        }
        self.outbox.settle(out);
    }

    /// Withdraws the frames of panels that are no longer in `snap`.
    fn clear_gone(&mut self, snap: &crate::store::Snapshot, out: &mut dyn FnMut(Out)) {
        let gone: Vec<Id> = self
            .panels
            .keys()
            .filter(|id| !snap.panels.contains_key(*id))
            .cloned()
            .collect();
        for id in gone {
            self.withdraw(&id, out);
        }
    }

    /// A deleted panel: its frame is withdrawn (if it was sent one).
    fn withdraw(&mut self, id: &Id, out: &mut dyn FnMut(Out)) {
        self.bundles.forget(id);
        if self.panels.remove(id).is_some() {
            self.shared.forget(id);
            self.outbox.push(Out::Clear { panel: id.clone() }, out);
        }
    }

    /// Time passed: handle every panel whose next change is due.
    pub fn on_timer(&mut self, now: DateTime<Utc>, out: &mut dyn FnMut(Out)) {
        self.inputs = self.schedules.current();
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
        self.flush_bundles(now, out);
        self.outbox.settle(out);
    }

    /// Re-decides one panel; publishes when its frame changed, when its
    /// refresh is due, or when `force`d.
    fn update(&mut self, id: &Id, now: DateTime<Utc>, force: bool, out: &mut dyn FnMut(Out)) {
        let inputs = self.inputs.clone();
        let Some(panel) = inputs.snapshot.panels.get(id) else {
            return;
        };
        let profile = panel.profile();
        self.decisions += 1;
        let d = inputs.resolve(panel, now);
        let showing = self.showing(&inputs, &d, &profile);
        // A campaign frame expires at its dwell's end (+ grace): it must be
        // replaced by then even when the next decision shows the same thing
        // (a window that fires again while it is open).
        let refresh_at = match showing.ends {
            Ends::Dwell(Some(u)) => u.min(now + REFRESH),
            _ => now + REFRESH,
        };
        let mut next = Published {
            wake: refresh_at,
            show: d.show.clone(),
            crc: showing.page().crc,
            flags: showing.flags,
            brightness: d.brightness,
            refresh_at,
            profile,
            transport: panel.transport.clone(),
        };
        match self.panels.get(id) {
            Some(prev) if !force && now < prev.refresh_at && prev.same_frame(&next) => {
                // Nothing to send: keep the refresh that is already due.
                next.refresh_at = prev.refresh_at;
            }
            _ => {
                if let Err(e) = self.publish(id, &d, &showing, &mut next, out) {
                    tracing::error!(panel = %id, "no sequence number (frame not sent): {e}");
                    next.wake = now + RETRY;
                    next.refresh_at = now;
                    self.schedule(id, next);
                    return;
                }
            }
        }
        next.wake = d.until.map_or(next.refresh_at, |u| u.min(next.refresh_at));
        self.schedule(id, next);
    }

    /// What a decision shows on this profile (blank when its message cannot
    /// be rendered).
    fn showing(&self, inputs: &ScheduleInputs, d: &Decision, profile: &Profile) -> Showing {
        let blank = || Showing {
            rendition: self.renditions.blank(profile),
            page: 0,
            flags: frame::FLAG_BLANK,
            ends: Ends::Never,
            origin: Origin::default(),
        };
        let mut s = match &d.show {
            Show::Blank => blank(),
            Show::Message {
                campaign,
                message,
                page,
                ..
            } => {
                let m = &inputs.snapshot.messages[message];
                match self.renditions.message(&self.store, m, profile) {
                    Ok(rendition) => Showing {
                        rendition,
                        page: *page as usize - 1,
                        flags: 0,
                        ends: Ends::Dwell(d.until),
                        origin: Origin {
                            message: Some(message.clone()),
                            campaign: Some(campaign.clone()),
                            alert: None,
                        },
                    },
                    Err(_) => blank(),
                }
            }
            Show::Alert { alert, page, .. } => {
                let a = &inputs.snapshot.alerts[alert];
                Showing {
                    rendition: self.renditions.alert(a, profile),
                    page: *page as usize - 1,
                    flags: frame::FLAG_EMERGENCY,
                    ends: Ends::Alert(a.ends_at),
                    origin: Origin {
                        alert: Some(alert.clone()),
                        ..Origin::default()
                    },
                }
            }
        };
        s.page = s.page.min(s.rendition.pages.len().saturating_sub(1));
        s
    }

    /// Stamps and sends one frame, and records what it stands for. While
    /// this server follows another (two servers on one PostgreSQL
    /// store), only what the panel shows is recorded, for the API: no
    /// seq is taken, nothing is coded, signed or sent, and no ack can
    /// match it (the leader's frames carry the leader's seqs); taking
    /// the lead sends every panel its frame ([`Player::took_lead`]).
    fn publish(
        &mut self,
        id: &Id,
        d: &Decision,
        showing: &Showing,
        next: &mut Published,
        out: &mut dyn FnMut(Out),
    ) -> std::io::Result<()> {
        let valid_until = self.stamper.valid_until(showing.validity(next.refresh_at));
        if !(self.leading)() {
            self.shared
                .decided(id, now_state(d, showing, next, 0, valid_until));
            self.shared.notify(id);
            return Ok(());
        }
        let via = stamp::transport_now(&self.store, &self.shared, id, &next.transport);
        // What it went over, for the next pass to compare: the store's
        // word, which may be newer than this pass's inputs.
        next.transport = via.clone();
        let (seq, bytes, sign) = self.stamper.stamp(
            id,
            Stamp {
                profile: &next.profile,
                brightness: d.brightness,
                flags: showing.flags,
                valid_until,
                page: showing.page(),
                mqtt: via.is_mqtt(),
            },
        )?;
        let o = &showing.origin;
        let played = Played {
            seq,
            crc: showing.page().crc,
            message: o.message.clone(),
            campaign: o.campaign.clone(),
            alert: o.alert.clone(),
            acked: None,
        };
        self.shared
            .published(id, played, now_state(d, showing, next, seq, valid_until));
        self.outbox.frame(id, via, bytes, sign, out);
        self.shared.notify(id);
        Ok(())
    }

    /// Whether this server acts for the fleet: `leading` is asked before
    /// each frame (always true unless set).
    pub fn follow_lead(&mut self, leading: impl Fn() -> bool + Send + 'static) {
        self.leading = Box::new(leading);
    }

    fn schedule(&mut self, id: &Id, next: Published) {
        let wake = next.wake;
        let same_wake = self.panels.get(id).is_some_and(|p| p.wake == wake);
        self.panels.insert(id.clone(), next);
        if !same_wake {
            self.heap.push(Reverse((wake, id.clone())));
        }
    }
}

/// What a panel shows after a decision, for the API's `now`.
fn now_state(
    d: &Decision,
    showing: &Showing,
    next: &Published,
    seq: u32,
    valid_until: u64,
) -> NowState {
    let (page, pages) = match &d.show {
        Show::Message { page, pages, .. } | Show::Alert { page, pages, .. } => (*page, *pages),
        Show::Blank => (0, 0),
    };
    let o = &showing.origin;
    NowState {
        message: o.message.clone(),
        campaign: o.campaign.clone(),
        alert: o.alert.clone(),
        seq,
        since: d.since,
        until: d.until,
        page,
        pages,
        brightness: d.brightness,
        blank: showing.flags & frame::FLAG_BLANK != 0,
        valid_until,
        profile: next.profile,
        rendition: Some(showing.rendition.clone()),
        crc: showing.page().crc,
        followed: seq == 0,
    }
}

/// Messages into the player thread.
pub enum Command {
    /// The store changed: re-decide the panels the change touches.
    StoreChanged,
    /// The broker link is back: MQTT panels get their frames again.
    BrokerReconnected,
    /// This server took the lead (two servers on one PostgreSQL store):
    /// every panel, vendor cards too, gets its frame again. What it
    /// decided while following went nowhere.
    TookLead,
    /// A controller that decodes deltas came back without the frame the
    /// server last sent it (a reboot): its frame again, with a new seq
    /// (and, having no base, coded in full).
    Resend(Id),
    /// A controller said it plays offline bundles: its bundle, now.
    Bundle(Id),
    /// Stop the thread (after the pass under way).
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
                        // Coalesce a burst of changes (a province created
                        // one panel at a time) into one pass: new panels'
                        // seq marks then cost one write for the burst.
                        let until = std::time::Instant::now() + STORE_CHANGE_BATCH;
                        let (mut republish, mut everyone) = (false, false);
                        loop {
                            let left = until.saturating_duration_since(std::time::Instant::now());
                            match rx.recv_timeout(left) {
                                Ok(Command::Shutdown) => return,
                                Ok(Command::BrokerReconnected) => republish = true,
                                Ok(Command::TookLead) => everyone = true,
                                Ok(Command::StoreChanged) => {}
                                Ok(Command::Resend(id)) => {
                                    player.resend(&id, Utc::now(), &mut sink)
                                }
                                Ok(Command::Bundle(id)) => {
                                    player.bundle_wanted(&id, Utc::now(), &mut sink)
                                }
                                Err(_) => break,
                            }
                        }
                        if everyone {
                            player.took_lead(Utc::now(), &mut sink);
                        } else if republish {
                            player.republish_mqtt(Utc::now(), &mut sink);
                        } else {
                            player.on_store_change(Utc::now(), &mut sink);
                        }
                    }
                    Ok(Command::BrokerReconnected) => player.republish_mqtt(Utc::now(), &mut sink),
                    Ok(Command::TookLead) => player.took_lead(Utc::now(), &mut sink),
                    Ok(Command::Resend(id)) => player.resend(&id, Utc::now(), &mut sink),
                    Ok(Command::Bundle(id)) => player.bundle_wanted(&id, Utc::now(), &mut sink),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        Alert, AlertBody, Campaign, Message, MessageBody, MessageStatus, Panel, Style, Target,
    };
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
                valid_from: None,
                valid_until: None,
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
            last_approved: None,
            rejection: None,
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
        let player = Player::new(
            PlayerParts::over_store(store.clone(), chrono_tz::Asia::Ho_Chi_Minh, None).unwrap(),
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
            Out::Frame { panel, frame, .. } => out.push((panel, frame.to_vec())),
            Out::Clear { panel } => out.push((panel, Vec::new())),
            Out::Bundle { .. } => {}
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

    /// A window that fires again while it is open (every 15 minutes for 30)
    /// never leaves the panel without a valid frame, and the player always
    /// wakes before the frame on the glass expires.
    #[test]
    fn a_re_firing_window_keeps_a_valid_frame_on_the_glass() {
        let mut r = rig(&[("m1", true)]);
        let c: Campaign = serde_json::from_value(serde_json::json!({
            "id": "c1", "name": "C", "messages": [{"id": "m1", "dwell_s": 10}], "targets": ["p1"],
            "cron": "*/15 * * * *", "duration_s": 1800, "priority": 1
        }))
        .unwrap();
        r.store.put_campaign(c, false, "a").unwrap();
        let t0 = t(3, 0, 5);
        let end = t0 + chrono::Duration::hours(3);
        let mut published: Vec<(DateTime<Utc>, frame::Header)> = Vec::new();
        let record = |published: &mut Vec<_>, at: DateTime<Utc>, out: Vec<(Id, Vec<u8>)>| {
            for (_, bytes) in out {
                published.push((at, frame::decode(&bytes).unwrap().header));
            }
        };
        record(
            &mut published,
            t0,
            frames(|o| r.player.republish_all(t0, o)),
        );
        let mut now = t0;
        while now < end {
            let wake = r.player.next_wake().unwrap();
            let on_glass = &published.last().unwrap().1;
            assert!(
                (wake.timestamp() as u64) < on_glass.valid_until,
                "at {now}: next wake {wake} is after the frame expires ({})",
                on_glass.valid_until
            );
            now = wake;
            record(&mut published, now, frames(|o| r.player.on_timer(now, o)));
        }
        let mut i = 0;
        let mut s = t0;
        while s < end {
            while i + 1 < published.len() && published[i + 1].0 <= s {
                i += 1;
            }
            let h = &published[i].1;
            assert_eq!(h.flags & frame::FLAG_BLANK, 0, "blank at {s}");
            assert!(
                h.valid_until > s.timestamp() as u64,
                "expired at {s}: {h:?}"
            );
            s += chrono::Duration::seconds(1);
        }
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
    fn a_panel_moved_to_another_transport_gets_its_frame_again() {
        let mut r = rig(&[("m1", true)]);
        let t0 = t(3, 0, 0);
        assert_eq!(frames(|o| r.player.republish_all(t0, o)).len(), 1);
        let id = Id::parse("p1").unwrap();
        let mut p = r.store.snapshot().panels[&id].clone();
        p.transport = Transport::Huidu {
            device_id: "C16-19-A0001".into(),
            address: None,
        };
        r.store.put_panel(p, false, "a").unwrap();
        let out = frames(|o| {
            r.player
                .on_store_change(t0 + chrono::Duration::seconds(1), o)
        });
        assert_eq!(out.len(), 1, "the same show, over the new transport");
        assert_eq!(out[0].0, id);
        // Nothing else changed: nothing more.
        assert!(frames(|o| r
            .player
            .on_store_change(t0 + chrono::Duration::seconds(2), o))
        .is_empty());
    }

    /// A panel moved off the broker to a vendor card is sent no BTZ1, not
    /// even by a frame decided on the player's inputs from before the
    /// move (a resend the controller asked for before the player heard
    /// of the change); moved back, it is sent whole BTF1 frames, no delta
    /// against a frame from before, until its controller reports again.
    #[test]
    fn a_panel_moved_to_a_vendor_card_is_never_sent_btz1() {
        let mut r = rig(&[("m1", true)]);
        let t0 = t(3, 0, 0);
        let at = |s| t0 + chrono::Duration::seconds(s);
        let id = Id::parse("p1").unwrap();
        let magic = |out: &[(Id, Vec<u8>)]| -> Vec<String> {
            out.iter()
                .map(|(_, f)| String::from_utf8_lossy(&f[..4]).into_owned())
                .collect()
        };
        let seq = |f: &[u8]| u32::from_le_bytes(f[12..16].try_into().unwrap());
        let all = crate::codec::Accepts::from_names(["btz1-rle", "btz1-deflate", "btz1-delta"]);
        r.player.shared.decodes(&id, all, None);
        let first = frames(|o| r.player.republish_all(t0, o));
        assert_eq!(magic(&first), ["BTZ1"], "an opted-in controller");
        // Its controller reports that frame on the glass: a delta base.
        r.player.shared.decodes(&id, all, Some(seq(&first[0].1)));

        let mut p = r.store.snapshot().panels[&id].clone();
        p.transport = Transport::Huidu {
            device_id: "C16-19-A0001".into(),
            address: None,
        };
        r.store.put_panel(p.clone(), false, "a").unwrap();
        let resent = frames(|o| r.player.resend(&id, at(1), o));
        assert_eq!(magic(&resent), ["BTF1"], "a vendor card takes BTF1 only");
        // The move's own pass sends nothing more: that frame went over
        // the card already (the player records the transport the frame
        // was stamped for, not its pass's older inputs).
        let moved = frames(|o| r.player.on_store_change(at(2), o));
        assert_eq!(magic(&moved), Vec::<String>::new());

        p.transport = Transport::Mqtt;
        r.store.put_panel(p, false, "a").unwrap();
        let back = frames(|o| r.player.on_store_change(at(3), o));
        assert_eq!(magic(&back), ["BTF1"], "nothing known of its controller");
        r.player.shared.decodes(&id, all, Some(seq(&back[0].1)));
        let reported = frames(|o| r.player.resend(&id, at(4), o));
        assert_eq!(magic(&reported), ["BTZ1"], "its controller reported again");
    }

    /// A broker reconnect re-sends MQTT panels' frames only: a vendor
    /// card already showing its picture would record a play for nothing.
    #[test]
    fn a_broker_reconnect_resends_only_mqtt_panels() {
        let mut r = rig(&[("m1", true)]);
        let t0 = t(3, 0, 0);
        let mut card = panel("card", &[]);
        card.transport = Transport::Huidu {
            device_id: "C16-19-A0001".into(),
            address: None,
        };
        r.store.put_panel(card, true, "a").unwrap();
        let c1 = Id::parse("c1").unwrap();
        let mut body = r.store.snapshot().campaigns[&c1].body.clone();
        body.targets = vec![
            crate::domain::Target::parse("p1").unwrap(),
            crate::domain::Target::parse("card").unwrap(),
        ];
        r.store.replace_campaign(c1, body, "a", t0).unwrap();
        assert_eq!(frames(|o| r.player.republish_all(t0, o)).len(), 2);
        let out = frames(|o| {
            r.player
                .republish_mqtt(t0 + chrono::Duration::seconds(1), o)
        });
        let ids: Vec<&str> = out.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["p1"]);
    }

    fn panel(id: &str, groups: &[&str]) -> Panel {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": "P", "width": 64, "height": 16, "format": "mono1", "groups": groups
        }))
        .unwrap()
    }

    /// Runs `f`; returns the panels it sent something to and how many
    /// panels it re-decided.
    fn pass(r: &mut Rig, f: impl FnOnce(&mut Player, &mut dyn FnMut(Out))) -> (Vec<String>, u64) {
        let before = r.player.decisions();
        let mut sent = Vec::new();
        f(&mut r.player, &mut |o| match o {
            Out::Frame { panel, .. } | Out::Clear { panel } => sent.push(panel.to_string()),
            Out::Bundle { .. } => {}
        });
        sent.sort();
        (sent, r.player.decisions() - before)
    }

    #[test]
    fn a_store_change_re_decides_only_the_panels_it_touches() {
        let mut r = rig(&[("m1", true), ("m2", true)]);
        for i in 0..200 {
            r.store
                .put_panel(panel(&format!("q{i:03}"), &["g2"]), true, "a")
                .unwrap();
        }
        r.store.put_panel(panel("solo", &[]), true, "a").unwrap();
        let t0 = t(3, 0, 0);
        let (sent, decided) = pass(&mut r, |p, o| p.republish_all(t0, o));
        assert_eq!((sent.len(), decided), (202, 202));
        // One more panel: only it is decided and sent its first frame.
        r.store.put_panel(panel("new", &["g9"]), true, "a").unwrap();
        let (sent, decided) = pass(&mut r, |p, o| p.on_store_change(t0, o));
        assert_eq!((sent, decided), (vec!["new".to_string()], 1));
        // A campaign on one group: its 200 panels, not the others.
        let c: Campaign = serde_json::from_value(serde_json::json!({
            "id": "c2", "name": "C2", "messages": [{"id": "m2", "dwell_s": 10}],
            "targets": ["group:g2"], "start": "2026-01-01", "priority": 2
        }))
        .unwrap();
        r.store.put_campaign(c, true, "a").unwrap();
        // A timer pass that runs first must not hide the change.
        let (sent, _) = pass(&mut r, |p, o| p.on_timer(t0, o));
        assert!(sent.is_empty());
        let (sent, decided) = pass(&mut r, |p, o| p.on_store_change(t0, o));
        assert_eq!((sent.len(), decided), (200, 200));
        assert!(sent.iter().all(|id| id.starts_with('q')));
        // An edit of m1, which only c1 (on p1) lists: p1 alone.
        let m1 = Id::parse("m1").unwrap();
        let mut body = r.store.snapshot().messages[&m1].body.clone();
        body.text = Some("Tin mới".into());
        r.store.edit_message(&m1, body, "a", t0).unwrap();
        r.store
            .approve_message(&m1, "b", None, t0, crate::domain::Policy::default())
            .unwrap();
        let (sent, decided) = pass(&mut r, |p, o| p.on_store_change(t0, o));
        assert_eq!((sent, decided), (vec!["p1".to_string()], 1));
        // A deleted panel is cleared, nothing else is touched.
        r.store
            .delete_panel(&Id::parse("solo").unwrap(), "a")
            .unwrap();
        let (sent, decided) = pass(&mut r, |p, o| p.on_store_change(t0, o));
        assert_eq!((sent, decided), (vec!["solo".to_string()], 0));
        // An alert to all: everything.
        let alert = Alert {
            id: Id::parse("a1").unwrap(),
            body: AlertBody {
                text: "BÃO".into(),
                targets: vec![Target::All],
                duration_s: 60,
            },
            created_by: "op".into(),
            created_at: t0,
            ends_at: t0 + chrono::Duration::seconds(60),
            cancelled_at: None,
        };
        r.store.put_alert(alert, "op").unwrap();
        let (sent, decided) = pass(&mut r, |p, o| p.on_store_change(t0, o));
        assert_eq!((sent.len(), decided), (202, 202));
    }

    #[test]
    fn a_follower_sends_nothing_and_takes_no_seq_until_it_leads() {
        let mut r = rig(&[("m1", true), ("m2", true)]);
        let lead = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let l = lead.clone();
        r.player
            .follow_lead(move || l.load(std::sync::atomic::Ordering::SeqCst));
        let p1 = Id::parse("p1").unwrap();
        let t0 = t(3, 0, 3);
        assert!(frames(|o| r.player.republish_all(t0, o)).is_empty());
        let crc_first = r.player.shared.now.read().unwrap()[&p1].crc;
        let wake = r.player.next_wake().unwrap();
        assert!(frames(|o| r.player.on_timer(wake, o)).is_empty());
        // The API still says what the panel shows; nothing awaits an ack.
        let now = r.player.shared.now.read().unwrap()[&p1].clone();
        assert_eq!(now.message, Some(Id::parse("m2").unwrap()));
        assert_eq!(now.seq, 0);
        assert_eq!(r.player.shared.unacked_since(&p1), None);
        // The leader's frame with other pixels is acknowledged: not ours.
        let shared = r.player.shared.clone();
        assert!(shared.played(&p1, 70, Some(now.crc ^ 1), wake).is_none());
        assert_eq!(shared.now.read().unwrap()[&p1].seq, 0);
        // With the pixels decided here: `now` says the panel shows them
        // (the wall's "shown"), and nothing is recorded as played here.
        assert!(shared.played(&p1, 71, Some(now.crc), wake).is_none());
        assert_eq!(shared.now.read().unwrap()[&p1].seq, 71);
        assert_eq!(shared.live.read().unwrap()[&p1].acked_seq, Some(71));
        // Decided again, the same pixels: still confirmed.
        assert!(frames(|o| r.player.resend(&p1, wake, o)).is_empty());
        assert_eq!(shared.now.read().unwrap()[&p1].seq, 71);
        // The leader turned back to the first message and its controller
        // acknowledged it before this server decided so: once it does,
        // `now` takes that ack.
        let seq_of = |sh: &Shared| sh.now.read().unwrap()[&p1].seq;
        let acked_of = |sh: &Shared| sh.live.read().unwrap()[&p1].acked_seq;
        assert!(shared.played(&p1, 80, Some(crc_first), wake).is_none());
        assert_eq!(seq_of(&shared), 71);
        let wake2 = r.player.next_wake().unwrap();
        assert!(frames(|o| r.player.on_timer(wake2, o)).is_empty());
        assert_eq!((seq_of(&shared), acked_of(&shared)), (80, Some(80)));
        // Late acks of older frames move nothing back.
        assert!(shared.played(&p1, 75, Some(crc_first), wake2).is_none());
        assert_eq!(seq_of(&shared), 80);
        let wake3 = r.player.next_wake().unwrap();
        assert!(frames(|o| r.player.on_timer(wake3, o)).is_empty());
        assert_eq!(seq_of(&shared), 0, "the second message, not yet confirmed");
        assert!(shared.played(&p1, 71, Some(now.crc), wake3).is_none());
        assert_eq!((seq_of(&shared), acked_of(&shared)), (0, Some(80)));
        assert_eq!(
            r.player
                .shared
                .frames_published
                .load(std::sync::atomic::Ordering::Relaxed),
            0
        );

        lead.store(true, std::sync::atomic::Ordering::SeqCst);
        let out = frames(|o| r.player.took_lead(wake3, o));
        assert_eq!(out.len(), 1, "the panel's frame, once it leads");
        let f = frame::decode(&out[0].1).unwrap();
        assert_eq!(f.header.seq, 1, "the follower took no seq");
        assert_eq!(r.player.shared.now.read().unwrap()[&p1].seq, 1);
        assert!(r.player.shared.unacked_since(&p1).is_some());
        // Deposed: nothing it sent is awaited any more (the monitor would
        // count it late when this server leads again).
        lead.store(false, std::sync::atomic::Ordering::SeqCst);
        assert!(frames(|o| r.player.resend(&p1, wake3, o)).is_empty());
        assert_eq!(r.player.shared.unacked_since(&p1), None);
    }
}
