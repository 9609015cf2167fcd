//! The live state the API reads: what each panel shows now ([`NowState`]),
//! what its controller last reported ([`LiveStatus`]), the frames it was
//! sent recently (to turn acks into proof of play, [`Played`]), and the
//! change events the dashboard hears ([`PanelEvent`]).
//!
//! The player writes `now` and `recent`; the inbound MQTT handler writes
//! `live` and reads `recent`; the API reads everything.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::renditions::Rendition;
use crate::domain::{Id, Profile};

/// How many published seqs per panel are remembered for matching acks.
const RECENT: usize = 32;
/// Snapshots kept, in bytes: the most recently received first; a panel's
/// next request replaces its own.
pub const SNAPSHOT_BUDGET: usize = 8 * 1024 * 1024;

/// What a controller's glass showed, as it answered a snapshot request:
/// a BTF1 frame whose data is a PNG (docs/protocol.md, "Snapshots").
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The BTF1 frame the controller sent (its data a PNG of the glass).
    pub frame: bytes::Bytes,
    /// When the server received it.
    pub received_at: DateTime<Utc>,
}

impl crate::memory::Weigh for Snapshot {
    fn weight(&self) -> usize {
        self.frame.len() + 64
    }
}

/// What a panel shows now, as `GET /panels/{id}/now` reports it.
#[derive(Clone, Serialize, schemars::JsonSchema)]
pub struct NowState {
    /// The message on the glass; absent when an alert or nothing shows.
    pub message: Option<Id>,
    /// The campaign that put the message there.
    pub campaign: Option<Id>,
    /// The alert on the glass, if one pre-empts the campaigns.
    pub alert: Option<Id>,
    /// The seq of the frame last sent to the panel (on a server that
    /// follows another: of the leader's frame its controller
    /// acknowledged with the pixels decided here; 0 until one is).
    pub seq: u32,
    /// When what shows began (for a blank panel: when the last window or
    /// alert ended).
    pub since: DateTime<Utc>,
    /// When the decision changes next; absent: nothing planned.
    pub until: Option<DateTime<Utc>>,
    /// The page shown, from 1.
    pub page: u32,
    /// How many pages the message or alert has.
    pub pages: u32,
    /// The brightness sent with the frame, 0–255.
    pub brightness: u8,
    /// Whether the panel was sent a blank frame (nothing to show).
    pub blank: bool,
    /// Unix seconds after which the controller blanks, as sent in the frame.
    pub valid_until: u64,
    /// The panel's profile the frame was rendered for.
    #[serde(skip)]
    pub profile: Profile,
    /// The rendered pages the frame came from (for `frame.png`).
    #[serde(skip)]
    pub rendition: Option<Arc<Rendition>>,
    /// CRC-32 of the page's pixels, as in the frame.
    #[serde(skip)]
    pub crc: u32,
    /// Decided while following another server: this server sent nothing,
    /// and `seq` is the leader's frame its controller acknowledged with
    /// these pixels (0 until one is).
    #[serde(skip)]
    pub followed: bool,
}

/// Last status a controller reported.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveStatus {
    /// Whether the controller's last status said online (its will says offline).
    pub online: bool,
    /// When anything was last heard from the controller.
    pub last_seen: Option<DateTime<Utc>>,
    /// The firmware its status names.
    pub firmware: Option<String>,
    /// The seq its status says is on the glass.
    pub reported_seq: Option<u32>,
    /// The newest frame the controller acknowledged as shown, and when.
    pub acked_seq: Option<u32>,
    /// When that acknowledgement came.
    pub acked_at: Option<DateTime<Utc>>,
    /// The compressed formats its controller decodes (from its status;
    /// forgotten while its frames go to a vendor card).
    #[serde(skip)]
    pub accepts: crate::codec::Accepts,
    /// The frames the controller last proved it holds, oldest first, at
    /// most `codec::HELD`: its status's seq, then each verified ack. A
    /// delta is sent only against one of them.
    #[serde(skip)]
    pub held: Vec<u32>,
    /// The last ack's seq and CRC, whichever frame it was for (a server
    /// that follows matches it against what it decides next).
    #[serde(skip)]
    pub last_ack: Option<(u32, Option<u32>)>,
    /// When its last status said offline (none since said online). An
    /// ack within [`ACK_BEHIND_OFFLINE`] of it was sent before it (a
    /// broker need not keep the order of two topics) and does not bring
    /// the panel back online; a later one does (a version-1 controller
    /// need not send "online" when it reconnects).
    #[serde(skip)]
    pub offline_at: Option<DateTime<Utc>>,
}

/// How long after an offline status an ack is taken to have been sent
/// before it. Brokers reorder two topics by milliseconds; a controller
/// that lost its link takes seconds to come back.
pub const ACK_BEHIND_OFFLINE: chrono::Duration = chrono::Duration::seconds(2);

/// A change the dashboard hears about (server-sent events).
#[derive(Debug, Clone, Serialize)]
pub struct PanelEvent {
    /// The panel.
    pub id: Id,
    /// Whether its controller is online.
    pub online: bool,
    /// When its controller was last heard from.
    pub last_seen: Option<DateTime<Utc>>,
    /// The seq of the frame last sent.
    pub seq: u32,
    /// The message on the glass, if any.
    pub message: Option<Id>,
    /// The campaign that put it there.
    pub campaign: Option<Id>,
    /// The alert on the glass, if any.
    pub alert: Option<Id>,
    /// When the current show began.
    pub since: Option<DateTime<Utc>>,
    /// The newest frame the controller acknowledged as shown, and when.
    pub acked_seq: Option<u32>,
    /// When that acknowledgement came.
    pub acked_at: Option<DateTime<Utc>>,
}

/// What a published seq stood for; acks are turned into proof of play with it.
/// About 100 bytes each, [`RECENT`] per panel: 32 MB for 10,000 panels at
/// most, and only for panels that were sent frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Played {
    /// The seq the frame was published with.
    pub seq: u32,
    /// CRC-32 of the pixel data sent (the frame header's CRC): a verified
    /// ack names it.
    pub crc: u32,
    /// The message the frame showed, if any.
    pub message: Option<Id>,
    /// The campaign that put it there.
    pub campaign: Option<Id>,
    /// The alert the frame showed, if any.
    pub alert: Option<Id>,
    /// When an ack was turned into a proof-of-play row, and whether it was
    /// verified: a QoS 1 ack re-sent after a broker outage must not count
    /// twice, and a verified ack after an unverified one only marks that
    /// same row verified.
    pub acked: Option<(DateTime<Utc>, bool)>,
}

/// An ack turned into proof of play: what it showed, when, and whether the
/// controller named the CRC of the frame the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acked {
    /// The frame the ack named.
    pub played: Played,
    /// When it went on the glass: the arrival of the first ack for it.
    pub shown_at: DateTime<Utc>,
    /// Whether the ack named the CRC the server sent (a verified play).
    pub verified: bool,
}

/// State the player shares with the API and the inbound MQTT handler.
pub struct Shared {
    /// What each panel shows now; written by the player.
    pub now: RwLock<HashMap<Id, NowState>>,
    /// What each controller last reported; written by the inbound handler.
    pub live: RwLock<HashMap<Id, LiveStatus>>,
    /// The last [`RECENT`] frames sent to each panel, for matching acks.
    pub recent: Mutex<HashMap<Id, VecDeque<Played>>>,
    /// Change events for the dashboard's event stream.
    pub events: tokio::sync::broadcast::Sender<PanelEvent>,
    /// Frames handed to the delivery (the `/metrics` counter).
    pub frames_published: AtomicU64,
    /// Health of each vendor card's connection (`transport`).
    pub links: RwLock<HashMap<Id, crate::transport::Link>>,
    /// Per panel, when the oldest frame still waiting for its
    /// acknowledgement was sent (the alarms' "not confirming").
    unacked: Mutex<HashMap<Id, DateTime<Utc>>>,
    /// The latest snapshot per panel, within [`SNAPSHOT_BUDGET`].
    pub(crate) snapshots: Mutex<crate::memory::ByteLru<Id, Snapshot>>,
    /// Panels whose controllers the API asked for a snapshot; the MQTT
    /// edge publishes the requests.
    pub snapshot_requests: tokio::sync::broadcast::Sender<Id>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            now: Default::default(),
            live: Default::default(),
            recent: Default::default(),
            events: tokio::sync::broadcast::channel(4096).0,
            frames_published: Default::default(),
            links: Default::default(),
            unacked: Default::default(),
            snapshots: Mutex::new(crate::memory::ByteLru::new(SNAPSHOT_BUDGET)),
            snapshot_requests: tokio::sync::broadcast::channel(256).0,
        }
    }
}

/// What a controller's status makes the server send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Owed {
    /// It decodes deltas but does not hold the frame the server sends now
    /// (it came back from a reboot): that frame again, in full.
    pub full_frame: bool,
    /// It now says it plays offline bundles and did not before (a new
    /// controller, or the server started): its bundle, now.
    pub bundle: bool,
}

impl Shared {
    /// The dashboard's event for `id`: its live status and what it shows now.
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
            acked_seq: l.acked_seq,
            acked_at: l.acked_at,
        }
    }

    /// A frame went out: remember what its seq stands for (acks come back
    /// with the seq only) and what the panel shows now.
    pub(super) fn published(&self, panel: &Id, played: Played, now: NowState) {
        {
            let mut recent = self.recent.lock().expect("recent lock");
            let q = recent.entry(panel.clone()).or_default();
            if q.len() >= RECENT {
                q.pop_front();
            }
            q.push_back(played);
        }
        self.now
            .write()
            .expect("now lock")
            .insert(panel.clone(), now);
        self.frames_published
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.unacked
            .lock()
            .expect("unacked lock")
            .entry(panel.clone())
            .or_insert_with(Utc::now);
    }

    /// What `panel` shows now, decided while following another server:
    /// nothing was sent, so no ack is awaited.
    pub(super) fn decided(&self, panel: &Id, mut now: NowState) {
        self.unacked.lock().expect("unacked lock").remove(panel);
        // The leader's frame with these pixels may have been acknowledged
        // before this server decided them.
        {
            let mut live = self.live.write().expect("live lock");
            if let Some(l) = live.get_mut(panel) {
                if let Some((seq, _)) = l.last_ack.filter(|(_, crc)| *crc == Some(now.crc)) {
                    now.seq = seq;
                    if l.acked_seq.is_none_or(|s| s < seq) {
                        l.acked_seq = Some(seq);
                        l.acked_at = l.last_seen;
                    }
                }
            }
        }
        let mut all = self.now.write().expect("now lock");
        // The same pixels decided again: what was confirmed still holds.
        if let Some(before) = all.get(panel).filter(|b| b.followed && b.crc == now.crc) {
            now.seq = now.seq.max(before.seq);
        }
        all.insert(panel.clone(), now);
    }

    /// When the oldest frame sent to `panel` and not yet acknowledged was
    /// sent; `None` if every frame was acknowledged.
    pub fn unacked_since(&self, panel: &Id) -> Option<DateTime<Utc>> {
        self.unacked
            .lock()
            .expect("unacked lock")
            .get(panel)
            .copied()
    }

    /// The panel was deleted: it shows nothing of ours any more.
    pub(super) fn forget(&self, panel: &Id) {
        self.now.write().expect("now lock").remove(panel);
        self.unacked.lock().expect("unacked lock").remove(panel);
    }

    pub(super) fn notify(&self, id: &Id) {
        let _ = self.events.send(self.event_for(id));
    }

    /// Vendor transports' links connected now.
    pub fn links_connected(&self) -> usize {
        let links = self.links.read().expect("links lock");
        links.values().filter(|l| l.connected).count()
    }

    /// How many of these panels report online (status messages from ids
    /// that are not configured panels do not count).
    pub fn online_among<'a>(&self, ids: impl Iterator<Item = &'a Id>) -> usize {
        let live = self.live.read().expect("live lock");
        ids.filter(|id| live.get(*id).is_some_and(|l| l.online))
            .count()
    }

    /// What a controller's status says it decodes and holds, and what
    /// the server owes it for that.
    pub fn decodes(&self, panel: &Id, accepts: crate::codec::Accepts, seq: Option<u32>) -> Owed {
        let had_bundles = {
            let mut live = self.live.write().expect("live lock");
            let l = live.entry(panel.clone()).or_default();
            let had = l.accepts.bundle;
            l.accepts = accepts;
            l.held = seq.into_iter().collect();
            had
        };
        let sent = self.now.read().expect("now lock").get(panel).map(|n| n.seq);
        Owed {
            full_frame: accepts.delta && sent.is_some() && sent != seq,
            bundle: accepts.bundle && !had_bundles,
        }
    }

    /// Whether `panel`'s controller said it plays offline bundles.
    pub fn plays_bundles(&self, panel: &Id) -> bool {
        self.live
            .read()
            .expect("live lock")
            .get(panel)
            .is_some_and(|l| l.accepts.bundle)
    }

    /// What compressing a frame for `panel` needs: what its controller
    /// decodes, and the seqs of the frames it holds.
    pub fn coding_of(&self, panel: &Id) -> (crate::codec::Accepts, Vec<u32>) {
        self.live
            .read()
            .expect("live lock")
            .get(panel)
            .map_or_else(Default::default, |l| {
                // The frames it holds matter only as delta bases.
                let held = if l.accepts.delta {
                    l.held.clone()
                } else {
                    Vec::new()
                };
                (l.accepts, held)
            })
    }

    /// `panel`'s frames go to a vendor card, not over the broker: what its
    /// MQTT controller said it decodes and holds is forgotten, so that,
    /// moved back to the broker, it is sent whole BTF1 frames (no delta
    /// against a frame from before) until its controller reports again
    /// ([`Shared::decodes`]). Costs a read when there is nothing to forget.
    pub fn off_the_broker(&self, panel: &Id) {
        let learned = |l: &LiveStatus| l.accepts.any() || !l.held.is_empty();
        if !self
            .live
            .read()
            .expect("live lock")
            .get(panel)
            .is_some_and(learned)
        {
            return;
        }
        if let Some(l) = self.live.write().expect("live lock").get_mut(panel) {
            l.accepts = crate::codec::Accepts::default();
            l.held.clear();
        }
    }

    /// A controller answered a snapshot request.
    pub fn snapshot_arrived(&self, panel: &Id, frame: bytes::Bytes, at: DateTime<Utc>) {
        self.snapshots.lock().expect("snapshots lock").insert(
            panel.clone(),
            Snapshot {
                frame,
                received_at: at,
            },
        );
    }

    /// The latest snapshot of a panel's glass, if one is kept.
    pub fn snapshot_of(&self, panel: &Id) -> Option<Snapshot> {
        self.snapshots
            .lock()
            .expect("snapshots lock")
            .get(panel)
            .cloned()
    }

    /// What the server sent a panel with this seq, if it is still
    /// remembered: its CRC, to compare with a snapshot.
    pub fn sent_crc(&self, panel: &Id, seq: u32) -> Option<u32> {
        self.recent
            .lock()
            .expect("recent lock")
            .get(panel)?
            .iter()
            .find(|p| p.seq == seq)
            .map(|p| p.crc)
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
            l.offline_at = (!online).then_some(at);
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
    /// `crc` is what the controller says is on the glass (version-1 acks
    /// name none): the play is verified only when it equals the CRC of the
    /// frame sent with that seq. A verified ack after an unverified one
    /// gives the first row again (same `shown_at`), now verified, so it
    /// overwrites that row instead of counting twice.
    /// A new acknowledgement becomes the panel's `acked_seq` (if no newer
    /// one came first) and is announced as a `panel` event.
    pub fn played(
        &self,
        panel: &Id,
        seq: u32,
        crc: Option<u32>,
        at: DateTime<Utc>,
    ) -> Option<Acked> {
        let (acked, newest) = {
            let mut recent = self.recent.lock().expect("recent lock");
            let q = recent.get_mut(panel);
            let newest = q.as_ref().and_then(|q| q.back()).map(|p| p.seq);
            let acked = q
                .and_then(|q| q.iter_mut().find(|p| p.seq == seq))
                .and_then(|p| {
                    let verified = crc == Some(p.crc);
                    let shown_at = match p.acked {
                        None => at,
                        Some((first, false)) if verified => first,
                        Some(_) => return None,
                    };
                    p.acked = Some((shown_at, verified));
                    Some(Acked {
                        played: p.clone(),
                        shown_at,
                        verified,
                    })
                });
            (acked, newest)
        };
        if acked.is_some() {
            // Confirmed up to the newest frame: nothing waits; behind it:
            // the controller is confirming, the clock starts again.
            let mut unacked = self.unacked.lock().expect("unacked lock");
            if newest.is_some_and(|n| n <= seq) {
                unacked.remove(panel);
            } else {
                unacked.insert(panel.clone(), at);
            }
        }
        {
            let mut live = self.live.write().expect("live lock");
            let l = live.entry(panel.clone()).or_default();
            if l.offline_at.is_none_or(|t| at - t > ACK_BEHIND_OFFLINE) {
                l.online = true;
                l.offline_at = None;
            }
            l.last_seen = Some(at);
            l.last_ack = Some((seq, crc));
            // What it holds matters only as a delta base.
            if l.accepts.delta && acked.as_ref().is_some_and(|a| a.verified) {
                if l.held.len() >= crate::codec::HELD {
                    l.held.remove(0);
                }
                l.held.push(seq);
            }
            if acked.is_some() && l.acked_seq.is_none_or(|s| s <= seq) {
                l.acked_seq = Some(seq);
                l.acked_at = Some(at);
            }
        }
        if acked.is_some() || self.confirm_followed(panel, seq, crc, at) {
            self.notify(panel);
        }
        acked
    }

    /// An ack on a server that follows: when the controller shows the
    /// pixels this server decided for it (its CRC), `now` says so with
    /// the leader's seq, and the controller counts as having
    /// acknowledged it. Nothing is recorded as played here (the leader
    /// records what it sent).
    fn confirm_followed(&self, panel: &Id, seq: u32, crc: Option<u32>, at: DateTime<Utc>) -> bool {
        {
            let mut now = self.now.write().expect("now lock");
            let Some(n) = now.get_mut(panel) else {
                return false;
            };
            if !n.followed || crc != Some(n.crc) || n.seq >= seq {
                return false;
            }
            // A late or repeated ack of an older frame moves nothing back.
            let mut live = self.live.write().expect("live lock");
            let l = live.entry(panel.clone()).or_default();
            if l.acked_seq.is_some_and(|s| s >= seq) {
                return false;
            }
            n.seq = seq;
            l.acked_seq = Some(seq);
            l.acked_at = Some(at);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(sh: &Shared, p: &Id, seq: u32, crc: u32) {
        sh.recent
            .lock()
            .unwrap()
            .entry(p.clone())
            .or_default()
            .push_back(Played {
                seq,
                crc,
                message: None,
                campaign: None,
                alert: None,
                acked: None,
            });
    }

    #[test]
    fn a_repeated_ack_counts_once() {
        let sh = Shared::default();
        let p = Id::parse("p1").unwrap();
        sent(&sh, &p, 7, 0xabcd);
        let now = Utc::now();
        let first = sh.played(&p, 7, Some(0xabcd), now).unwrap();
        assert!(first.verified);
        assert_eq!(first.played.seq, 7);
        assert_eq!(sh.played(&p, 7, Some(0xabcd), now), None, "a duplicate ack");
        assert_eq!(sh.played(&p, 7, None, now), None, "a duplicate v1 ack");
        assert_eq!(sh.played(&p, 8, Some(1), now), None, "unknown seq");
    }

    /// An ack that arrives just after the controller's offline status
    /// (sent before it, on another topic) leaves the panel offline; one
    /// seconds later is a controller back without saying so (version 1
    /// need not), and one from a controller that never sent a status
    /// brings it online.
    #[test]
    fn an_ack_behind_an_offline_status_leaves_the_panel_offline() {
        let sh = Shared::default();
        let (p, quiet) = (Id::parse("p1").unwrap(), Id::parse("p2").unwrap());
        sent(&sh, &p, 7, 0xabcd);
        sent(&sh, &p, 8, 0xabce);
        sent(&sh, &quiet, 3, 0x1111);
        let now = Utc::now();
        let online = |id: &Id| sh.live.read().unwrap().get(id).map(|l| l.online);
        sh.status(&p, true, None, None, now);
        sh.status(&p, false, None, None, now);
        let just_after = now + chrono::Duration::milliseconds(300);
        let play = sh.played(&p, 7, Some(0xabcd), just_after);
        assert!(play.is_some(), "still proof of play");
        assert_eq!(online(&p), Some(false));
        let back = now + ACK_BEHIND_OFFLINE + chrono::Duration::seconds(1);
        sh.played(&p, 8, Some(0xabce), back);
        assert_eq!(online(&p), Some(true));
        sh.played(&quiet, 3, None, now);
        assert_eq!(online(&quiet), Some(true));
    }

    #[test]
    fn only_the_sent_crc_verifies_and_a_late_proof_upgrades_the_same_row() {
        let sh = Shared::default();
        let p = Id::parse("p1").unwrap();
        sent(&sh, &p, 7, 0xabcd);
        let t0 = Utc::now();
        let t1 = t0 + chrono::Duration::seconds(3);
        let v1 = sh.played(&p, 7, None, t0).unwrap();
        assert!(!v1.verified, "a version-1 ack names no CRC");
        assert_eq!(
            sh.played(&p, 7, Some(0x1234), t1),
            None,
            "a wrong CRC adds nothing"
        );
        let proof = sh.played(&p, 7, Some(0xabcd), t1).unwrap();
        assert!(proof.verified);
        assert_eq!(proof.shown_at, t0, "the same row, now verified");
        assert_eq!(sh.played(&p, 7, Some(0xabcd), t1), None);
        sent(&sh, &p, 8, 0x5555);
        let wrong = sh.played(&p, 8, Some(0x1234), t1).unwrap();
        assert!(!wrong.verified, "a CRC that is not the one sent");
    }
}
