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
    /// The newest frame the controller acknowledged as shown, and when.
    pub acked_seq: Option<u32>,
    pub acked_at: Option<DateTime<Utc>>,
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
    /// The newest frame the controller acknowledged as shown, and when.
    pub acked_seq: Option<u32>,
    pub acked_at: Option<DateTime<Utc>>,
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
    pub frames_published: AtomicU64,
    /// Health of each vendor card's connection (`transport`).
    pub links: RwLock<HashMap<Id, crate::transport::Link>>,
    /// Per panel, when the oldest frame still waiting for its
    /// acknowledgement was sent (the alarms' "not confirming").
    unacked: Mutex<HashMap<Id, DateTime<Utc>>>,
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

    /// How many of these panels report online (status messages from ids
    /// that are not configured panels do not count).
    /// Vendor transports' links connected now.
    pub fn links_connected(&self) -> usize {
        let links = self.links.read().expect("links lock");
        links.values().filter(|l| l.connected).count()
    }

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
    /// A new acknowledgement becomes the panel's `acked_seq` (if no newer
    /// one came first) and is announced as a `panel` event.
    pub fn played(&self, panel: &Id, seq: u32, at: DateTime<Utc>) -> Option<Played> {
        let (played, newest) = {
            let mut recent = self.recent.lock().expect("recent lock");
            let q = recent.get_mut(panel);
            let newest = q.as_ref().and_then(|q| q.back()).map(|p| p.seq);
            let played = q
                .and_then(|q| q.iter_mut().find(|p| p.seq == seq))
                .filter(|p| !p.acked)
                .map(|p| {
                    p.acked = true;
                    p.clone()
                });
            (played, newest)
        };
        if played.is_some() {
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
            l.online = true;
            l.last_seen = Some(at);
            if played.is_some() && l.acked_seq.is_none_or(|s| s <= seq) {
                l.acked_seq = Some(seq);
                l.acked_at = Some(at);
            }
        }
        if played.is_some() {
            self.notify(panel);
        }
        played
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
