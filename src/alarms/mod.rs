//! Fleet alarms: a panel offline longer than its threshold, or not
//! confirming its frames, raises one incident per outage, and its end one
//! recovery notice.
//!
//! `core` is the pure state machine (observations and the time in,
//! transitions out; quiet hours and the digest's schedule); `config` the
//! settings and their checks; `text` every sentence of a notice (vi, en);
//! `notify` the delivery edge (webhook with an HMAC signature, e-mail over
//! SMTP, each with a bounded queue and retries). This file is the monitor:
//! once a second it reads every panel's live state, steps the tracker,
//! records incidents (`store::alarms`) and hands notices to the notifier.

pub(crate) mod config;
pub(crate) mod core;
pub(crate) mod notify;
pub(crate) mod text;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use self::config::AlarmConfig;
use self::core::{Kind, Observation, Tracker, Transition};
use self::notify::{Event, Named, Notice, Notifier};
use crate::domain::Id;
use crate::player::Shared;
use crate::store::alarms::{AlarmLog, AlarmStore, Incident};
use crate::store::{Snapshot, Store};

/// How often the fleet is looked at.
pub(crate) const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The fleet as last looked at, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct Fleet {
    /// Online, but a frame has waited longer than its threshold for its
    /// acknowledgement.
    pub stale: AtomicU64,
    /// Incidents raised since the start, by kind.
    pub raised: [AtomicU64; 2],
}

pub(crate) struct Alarms {
    pub store: Arc<AlarmStore>,
    tracker: Mutex<Tracker>,
    notifier: Notifier,
    pub fleet: Fleet,
    tz: chrono_tz::Tz,
    /// The store generation the tracker was last pruned at: deleted
    /// panels are looked for only when the store changed.
    pruned_at: AtomicU64,
}

impl Alarms {
    /// The incidents left open by an earlier run are resumed, not raised
    /// again.
    pub(crate) fn new(store: Arc<AlarmStore>, notifier: Notifier, tz: chrono_tz::Tz) -> Alarms {
        let mut tracker = Tracker::default();
        for i in store.log().incidents.iter().filter(|i| i.is_open()) {
            tracker.resume(&i.panel, i.kind, i.since);
        }
        Alarms {
            store,
            tracker: Mutex::new(tracker),
            notifier,
            fleet: Fleet::default(),
            tz,
            pruned_at: AtomicU64::new(u64::MAX),
        }
    }

    pub(crate) fn counters(&self) -> &notify::Counters {
        &self.notifier.counters
    }

    /// The fleet and alarm metrics, Prometheus text (labelled series,
    /// which `api::metrics` does not write).
    pub(crate) fn metrics_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::from(
            "# HELP bangtin_panels_stale Panels online whose oldest unacknowledged frame is older than its threshold.\n\
             # TYPE bangtin_panels_stale gauge\n",
        );
        let _ = writeln!(
            out,
            "bangtin_panels_stale {}",
            self.fleet.stale.load(Ordering::Relaxed)
        );
        out.push_str("# HELP bangtin_alarms_open Open alarm incidents by kind.\n# TYPE bangtin_alarms_open gauge\n");
        for (kind, n) in self.open_by_kind() {
            let _ = writeln!(out, "bangtin_alarms_open{{kind=\"{}\"}} {n}", kind.name());
        }
        out.push_str("# HELP bangtin_alarms_raised_total Alarm incidents raised since the start, by kind.\n# TYPE bangtin_alarms_raised_total counter\n");
        for (i, kind) in Kind::ALL.iter().enumerate() {
            let n = self.fleet.raised[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "bangtin_alarms_raised_total{{kind=\"{}\"}} {n}",
                kind.name()
            );
        }
        let c = self.counters();
        out.push_str("# HELP bangtin_alarm_deliveries_total Alarm notice delivery attempts by channel and result.\n# TYPE bangtin_alarm_deliveries_total counter\n");
        for (channel, result, n) in [
            ("webhook", "sent", &c.webhook_sent),
            ("webhook", "failed", &c.webhook_failed),
            ("email", "sent", &c.email_sent),
            ("email", "failed", &c.email_failed),
        ] {
            let _ = writeln!(
                out,
                "bangtin_alarm_deliveries_total{{channel=\"{channel}\",result=\"{result}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP bangtin_alarm_notices_dropped_total Alarm notices dropped (queue full, or every attempt failed).\n\
             # TYPE bangtin_alarm_notices_dropped_total counter\n\
             bangtin_alarm_notices_dropped_total {}",
            c.dropped.load(Ordering::Relaxed)
        );
        out
    }

    /// Open incidents by kind.
    pub(crate) fn open_by_kind(&self) -> [(Kind, usize); 2] {
        self.store.with_log(|log| {
            Kind::ALL.map(|k| {
                (
                    k,
                    log.incidents
                        .iter()
                        .filter(|i| i.is_open() && i.kind == k)
                        .count(),
                )
            })
        })
    }

    /// Looks at the fleet every [`CHECK_EVERY`]. `link_up` says whether the
    /// server's broker link is up (while it is down, missing
    /// acknowledgements say nothing about the controllers); `leading`
    /// whether this server is the one that publishes (two servers on one
    /// store: only the leader watches the fleet and sends notices, so
    /// each incident is told once).
    pub(crate) fn spawn(
        self: Arc<Self>,
        store: Arc<Store>,
        shared: Arc<Shared>,
        link_up: impl Fn() -> bool + Send + 'static,
        leading: impl Fn() -> bool + Send + 'static,
    ) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECK_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if !leading() {
                    continue;
                }
                let (me, store, shared, up) =
                    (self.clone(), store.clone(), shared.clone(), link_up());
                let _ =
                    tokio::task::spawn_blocking(move || me.check(&store, &shared, up, Utc::now()))
                        .await;
            }
        });
    }

    /// One look at the fleet at `now`: observe every panel, record what
    /// changed, send the notices.
    pub(crate) fn check(&self, store: &Store, shared: &Shared, link_up: bool, now: DateTime<Utc>) {
        let cfg = self.store.config();
        let snap = store.snapshot();
        let seen = self.observe(&snap, shared, &cfg, link_up, now);
        let digest_due = |last| self::core::digest_due(last, now, cfg.digest_time(), &self.tz);
        let quiet_tick = seen.transitions.is_empty()
            && seen.gone.is_empty()
            && self
                .store
                .with_log(|l| l.last_digest)
                .is_some_and(|last| !digest_due(last));
        if quiet_tick {
            return;
        }
        let held_now = |urgent: bool| self::core::held(urgent, cfg.quiet(), now, &self.tz);
        let recorded = self.store.update(|log| {
            let notices = self.record(log, &seen, now, held_now);
            let digest = take_digest(log, now, digest_due);
            Ok((notices, digest))
        });
        match recorded {
            Ok((notices, digest)) => self.send(&snap, notices, digest, now),
            Err(e) => tracing::error!("alarm incidents not saved: {e}"),
        }
    }

    /// Steps the tracker with every panel's live state.
    fn observe(
        &self,
        snap: &Snapshot,
        shared: &Shared,
        cfg: &AlarmConfig,
        link_up: bool,
        now: DateTime<Utc>,
    ) -> Seen {
        let mut seen = Seen::default();
        let live = shared.live.read().expect("live lock");
        let mut tracker = self.tracker.lock().expect("alarm tracker lock");
        if self.pruned_at.swap(snap.generation, Ordering::Relaxed) != snap.generation {
            seen.gone = tracker.retain(|id| snap.panels.contains_key(id));
        }
        let mut stale = 0;
        for p in snap.panels.values() {
            let l = live.get(&p.id);
            let observed = Observation {
                online: l.is_some_and(|l| l.online),
                last_seen: l.and_then(|l| l.last_seen),
                unacked_since: if link_up {
                    shared.unacked_since(&p.id)
                } else {
                    None
                },
            };
            if tracker.is_quiet(&p.id, &observed) {
                continue;
            }
            let limits = cfg.limits_for(p);
            if observed.online
                && observed
                    .unacked_since
                    .is_some_and(|t| now - t >= limits.thresholds.unconfirmed_after)
            {
                stale += 1;
            }
            let n = seen.transitions.len();
            tracker.observe(
                now,
                &p.id,
                observed,
                &limits.thresholds,
                &mut seen.transitions,
            );
            if seen.transitions.len() > n {
                seen.urgent.insert(p.id.clone(), limits.urgent);
            }
        }
        drop((live, tracker));
        self.fleet.stale.store(stale, Ordering::Relaxed);
        // Also urgent: a sign that carries an alert now (looked up for the
        // few panels whose state changed, not held over the walk: the
        // player's publish path writes this map).
        if !seen.urgent.is_empty() {
            let showing = shared.now.read().expect("now lock");
            for (id, urgent) in seen.urgent.iter_mut() {
                *urgent |= showing.get(id).is_some_and(|s| s.alert.is_some());
            }
        }
        seen
    }

    /// Opens and closes incidents in the log for what was seen; returns
    /// the notices to send now (held ones wait for the digest).
    fn record(
        &self,
        log: &mut AlarmLog,
        seen: &Seen,
        now: DateTime<Utc>,
        held_now: impl Fn(bool) -> bool,
    ) -> Vec<(Event, Incident)> {
        let mut notices = Vec::new();
        for t in &seen.transitions {
            match t {
                Transition::Raised { panel, kind, since } => {
                    let urgent = seen.urgent.get(panel).copied().unwrap_or(false);
                    log.next_id += 1;
                    let i = Incident {
                        id: log.next_id,
                        panel: panel.clone(),
                        kind: *kind,
                        urgent,
                        since: *since,
                        raised_at: now,
                        recovered_at: None,
                        removed: false,
                        held: held_now(urgent),
                        digested: false,
                        acked_by: None,
                        acked_at: None,
                    };
                    self.fleet.raised[kind.index()].fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(panel = %panel, kind = kind.name(), "alarm raised");
                    if !i.held {
                        notices.push((Event::Alarm, i.clone()));
                    }
                    log.incidents.push(i);
                }
                Transition::Recovered {
                    panel, kind, at, ..
                } => {
                    if let Some(i) = open_incident(&mut log.incidents, panel, *kind) {
                        i.recovered_at = Some(*at);
                        tracing::info!(panel = %panel, kind = kind.name(), "alarm recovered");
                        // A held alarm's recovery is for the digest too.
                        if !i.held && !held_now(i.urgent) {
                            notices.push((Event::Recovery, i.clone()));
                        } else {
                            i.held = true;
                        }
                    }
                }
            }
        }
        for (panel, kind) in &seen.gone {
            if let Some(i) = open_incident(&mut log.incidents, panel, *kind) {
                i.recovered_at = Some(now);
                i.removed = true;
            }
        }
        notices
    }

    /// Hands the notices and the digest to the notifier, with panel names.
    fn send(
        &self,
        snap: &Snapshot,
        notices: Vec<(Event, Incident)>,
        digest: Vec<Incident>,
        now: DateTime<Utc>,
    ) {
        let named = |i: Incident| Named {
            panel_name: snap.panel_name(&i.panel),
            incident: i,
        };
        for (event, i) in notices {
            self.notifier.send(Notice {
                event,
                sent_at: now,
                incidents: vec![named(i)],
            });
        }
        if !digest.is_empty() {
            self.notifier.send(Notice {
                event: Event::Digest,
                sent_at: now,
                incidents: digest.into_iter().map(named).collect(),
            });
        }
    }
}

/// What one look at the fleet found.
#[derive(Default)]
struct Seen {
    transitions: Vec<Transition>,
    /// Per panel with a transition: whether its incident is urgent.
    urgent: HashMap<Id, bool>,
    /// Conditions of panels that no longer exist.
    gone: Vec<(Id, Kind)>,
}

/// The non-urgent incidents not yet in a digest, when one is due (the
/// first look only starts the clock).
fn take_digest(
    log: &mut AlarmLog,
    now: DateTime<Utc>,
    due: impl Fn(DateTime<Utc>) -> bool,
) -> Vec<Incident> {
    let mut digest = Vec::new();
    match log.last_digest {
        None => log.last_digest = Some(now),
        Some(last) if due(last) => {
            log.last_digest = Some(now);
            for i in log.incidents.iter_mut() {
                if !i.urgent && !i.digested && !i.removed {
                    i.digested = true;
                    digest.push(i.clone());
                }
            }
        }
        Some(_) => {}
    }
    digest
}

fn open_incident<'a>(
    incidents: &'a mut [Incident],
    panel: &Id,
    kind: Kind,
) -> Option<&'a mut Incident> {
    incidents
        .iter_mut()
        .rev()
        .find(|i| i.is_open() && &i.panel == panel && i.kind == kind)
}
