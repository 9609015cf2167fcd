//! Offline bundles ([`crate::bundle`]): each MQTT panel's next hours, as
//! the player's own timeline and renders make them, signed with the frame
//! key. When a bundle is due: a store change that touches the panel
//! (after [`SETTLE`], so that a burst of writes makes one bundle), a
//! (re)publication of every frame, and half-way through the current one.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};

use super::{Out, Player};
use crate::bundle;
use crate::domain::Id;
use crate::frame::FLAG_BLANK;
use crate::schedule::{self, Decision};

/// How long a store change waits before the bundles it touches are made
/// again: the writes of that span make one bundle per panel.
pub const SETTLE: Duration = Duration::seconds(2);

/// Bundles made in one pass at most: the rest wait for the next pass
/// (at once), so that page turns due meanwhile are not held up behind a
/// whole fleet's bundles (one takes tens of milliseconds).
const PER_PASS: usize = 32;

/// Slots a bundle may hold at most (a day of 2-second pages is 43,200).
const MAX_SLOTS: usize = 100_000;

/// When each panel's next bundle is due.
#[derive(Default)]
pub(super) struct Due {
    /// How far ahead a bundle reaches; `None`: no bundles.
    pub(super) horizon: Option<Duration>,
    at: HashMap<Id, DateTime<Utc>>,
    /// Lazy deletion: an entry counts only while `at` holds its instant.
    heap: BinaryHeap<Reverse<(DateTime<Utc>, Id)>>,
}

impl Due {
    /// The panel's bundle is due at `t`, or sooner if it already was.
    pub(super) fn mark(&mut self, id: &Id, t: DateTime<Utc>) {
        if self.horizon.is_none() || self.at.get(id).is_some_and(|d| *d <= t) {
            return;
        }
        self.at.insert(id.clone(), t);
        self.heap.push(Reverse((t, id.clone())));
    }

    pub(super) fn forget(&mut self, id: &Id) {
        self.at.remove(id);
    }

    /// The earliest instant a bundle is due (perhaps a stale one: waking
    /// for it costs a look).
    pub(super) fn next(&self) -> Option<DateTime<Utc>> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    fn pop(&mut self, now: DateTime<Utc>) -> Option<Id> {
        while let Some(Reverse((t, id))) = self.heap.peek().cloned() {
            if t > now {
                return None;
            }
            self.heap.pop();
            if self.at.get(&id) == Some(&t) {
                self.at.remove(&id);
                return Some(id);
            }
        }
        None
    }
}

fn unix_ms(t: DateTime<Utc>) -> u64 {
    t.timestamp_millis().max(0) as u64
}

impl Player {
    /// Sends every MQTT panel a bundle reaching `horizon` ahead (half-way
    /// through, a new one); `None` stops making them.
    pub fn set_bundle_horizon(&mut self, horizon: Option<Duration>) {
        self.bundles.horizon = horizon.filter(|h| *h > Duration::zero());
    }

    /// `id`'s bundle is due at `t`, if its controller plays bundles (the
    /// others never enter the queue).
    pub(super) fn bundle_due(&mut self, id: &Id, t: DateTime<Utc>) {
        if self.bundles.horizon.is_some() && self.shared.plays_bundles(id) {
            self.bundles.mark(id, t);
        }
    }

    /// A controller said it plays bundles: its bundle is due now.
    pub fn bundle_wanted(&mut self, id: &Id, now: DateTime<Utc>, out: &mut dyn FnMut(Out)) {
        self.bundles.mark(id, now);
        self.flush_bundles(now, out);
        self.outbox.settle(out);
    }

    /// Sends the bundles due at `now`. While following another server,
    /// none is made: they are let go (taking the lead makes every one due).
    pub(super) fn flush_bundles(&mut self, now: DateTime<Utc>, out: &mut dyn FnMut(Out)) {
        let Some(horizon) = self.bundles.horizon else {
            return;
        };
        let leading = (self.leading)();
        for _ in 0..PER_PASS {
            let Some(id) = self.bundles.pop(now) else {
                break;
            };
            if !leading {
                continue;
            }
            if let Some(bytes) = self.bundle(&id, now) {
                let bundle = Out::Bundle {
                    panel: id.clone(),
                    bundle: bytes,
                };
                self.outbox.push(bundle, out);
                self.bundles.mark(&id, now + horizon / 2);
            }
        }
    }

    /// The signed bundle of an MQTT panel from `now` to `now` + the
    /// horizon: the player's timeline for it (the schedule's own
    /// [`timeline`](crate::schedule::timeline)), each slot's page as the
    /// player would show it, and the brightness switches of that span.
    /// `None` without a horizon, for a panel that is gone or not on MQTT,
    /// and for one whose controller has not said it plays bundles (`btb1`
    /// in its status's `accepts`): a controller that knows only frames is
    /// not sent what it would ignore, and the broker keeps no bundle for it.
    pub fn bundle(&self, id: &Id, now: DateTime<Utc>) -> Option<Bytes> {
        let horizon = self.bundles.horizon?;
        if !self.shared.plays_bundles(id) {
            return None;
        }
        let inputs = self.inputs.clone();
        let panel = inputs
            .snapshot
            .panels
            .get(id)
            .filter(|p| p.transport.is_mqtt())?;
        let profile = panel.profile();
        let end = now + horizon;
        let shows: Vec<_> = inputs
            .timeline(panel, now, end, MAX_SLOTS)
            .into_iter()
            .map(|s| {
                let d = Decision {
                    show: s.show,
                    since: s.start,
                    until: Some(s.end),
                    brightness: 0,
                };
                (s.start, s.end, self.showing(&inputs, &d, &profile))
            })
            .collect();
        let slots: Vec<bundle::Slot<'_>> = shows
            .iter()
            .map(|(start, end, showing)| bundle::Slot {
                start: unix_ms(*start),
                end: unix_ms(*end),
                flags: showing.flags,
                pixels: (showing.flags & FLAG_BLANK == 0)
                    .then(|| (&showing.page().data[..], showing.page().crc)),
            })
            .collect();
        let policy = panel.brightness_policy();
        let mut switches = Vec::new();
        let mut t = now;
        while t < end {
            let (level, next) = schedule::brightness_at(&policy, inputs.tz, t);
            switches.push((unix_ms(t), level));
            t = next;
        }
        let head = bundle::Head {
            panel: id.to_string(),
            format: profile.format,
            width: profile.width,
            height: profile.height,
            issued_at: unix_ms(now),
            expires_at: unix_ms(end),
        };
        let accepts = self.shared.coding_of(id).0;
        let b = bundle::build(head, accepts, &slots, &switches);
        let signer = self.stamper.signer();
        let mut bytes = bundle::encode(&b, signer.is_some());
        if let Some(key) = signer {
            crate::frame::append_signature(&mut bytes, key);
        }
        Some(Bytes::from(bytes))
    }
}

#[cfg(test)]
mod tests;
