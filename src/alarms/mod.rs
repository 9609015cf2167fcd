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
use self::core::{Kind, Observation, Told, Tracker, Transition};
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
        let digest_due = |last| {
            let at = cfg.digest_time();
            self::core::due_digest(last, now, at, cfg.quiet(), &self.tz)
        };
        let quiet_tick = seen.transitions.is_empty()
            && seen.gone.is_empty()
            && self
                .store
                .with_log(|l| l.last_digest)
                .is_some_and(|last| digest_due(last).is_none());
        if quiet_tick {
            return;
        }
        let held_now = |urgent: bool| self::core::held(urgent, cfg.quiet(), now, &self.tz);
        let recorded = self.store.update(|log| {
            let notices = record(&self.fleet, log, &seen, now, held_now);
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
        let shortest = cfg.shortest_unconfirmed_after();
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
            if tracker.is_quiet(&p.id, &observed, now, shortest) {
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

/// Opens and closes incidents in the log for what was seen; returns
/// the notices to send now (held ones wait for the digest).
fn record(
    fleet: &Fleet,
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
                    told: Told::raised(held_now(urgent)),
                    acked_by: None,
                    acked_at: None,
                };
                fleet.raised[kind.index()].fetch_add(1, Ordering::Relaxed);
                tracing::warn!(panel = %panel, kind = kind.name(), "alarm raised");
                if !i.told.held {
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
                    if i.told.recovered(held_now(i.urgent)) {
                        notices.push((Event::Recovery, i.clone()));
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

/// The incidents a digest due now lists: for the daily one, the
/// non-urgent incidents not yet in a digest and those whose recovery waits
/// for one ([`Told::for_digest`]); at the end of quiet hours, only what
/// they held ([`Told::held_back`]). The first look only starts the clock.
fn take_digest(
    log: &mut AlarmLog,
    now: DateTime<Utc>,
    due: impl Fn(DateTime<Utc>) -> Option<self::core::Digest>,
) -> Vec<Incident> {
    let mut digest = Vec::new();
    match log.last_digest.map(due) {
        None => log.last_digest = Some(now),
        Some(Some(kind)) => {
            log.last_digest = Some(now);
            for i in log.incidents.iter_mut() {
                let listed = match kind {
                    self::core::Digest::Daily => i.told.for_digest(),
                    self::core::Digest::Held => i.told.held_back(),
                };
                if !i.urgent && !i.removed && listed {
                    i.told.in_digest();
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

#[cfg(test)]
mod tests {
    use chrono::{NaiveDateTime, NaiveTime, TimeZone};

    use super::core::Span;
    use super::*;

    /// The monitor's bookkeeping over a timeline in Việt Nam time, quiet
    /// hours 22:00–06:00 and the digest at 07:00, without the fleet and
    /// the notifier: what goes out at each step.
    struct Desk {
        log: AlarmLog,
        fleet: Fleet,
    }

    impl Desk {
        fn new(last_digest: &str) -> Desk {
            let log = AlarmLog {
                last_digest: Some(local(last_digest)),
                ..AlarmLog::default()
            };
            Desk {
                log,
                fleet: Fleet::default(),
            }
        }

        /// At local `when`, `raised` panels' outages reach the threshold
        /// (`!` before the id: urgent) and `recovered` ones end; returns
        /// the notices that go out, as `alarm p1`, `recovery p1`,
        /// `digest: p1 open, p2 recovered`.
        fn at(&mut self, when: &str, raised: &[&str], recovered: &[&str]) -> Vec<String> {
            let (now, tz) = (local(when), chrono_tz::Asia::Ho_Chi_Minh);
            let mut seen = Seen::default();
            for p in raised {
                let id = Id::parse(p.trim_start_matches('!')).unwrap();
                seen.urgent.insert(id.clone(), p.starts_with('!'));
                let (kind, since) = (Kind::Offline, now);
                seen.transitions.push(Transition::Raised {
                    panel: id,
                    kind,
                    since,
                });
            }
            for p in recovered {
                let (panel, kind) = (Id::parse(p).unwrap(), Kind::Offline);
                let (since, at) = (now, now);
                seen.transitions.push(Transition::Recovered {
                    panel,
                    kind,
                    since,
                    at,
                });
            }
            let quiet = Some(Span {
                start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
            });
            let held_now = |urgent| self::core::held(urgent, quiet, now, &tz);
            let notices = record(&self.fleet, &mut self.log, &seen, now, held_now);
            let seven = NaiveTime::from_hms_opt(7, 0, 0).unwrap();
            let digest = take_digest(&mut self.log, now, |last| {
                self::core::due_digest(last, now, seven, quiet, &tz)
            });
            let mut out: Vec<String> = notices
                .iter()
                .map(|(e, i)| format!("{e:?} {}", i.panel).to_lowercase())
                .collect();
            if !digest.is_empty() {
                let lines: Vec<String> = digest
                    .iter()
                    .map(|i| {
                        let state = if i.is_open() { "open" } else { "recovered" };
                        format!("{} {state}", i.panel)
                    })
                    .collect();
                out.push(format!("digest: {}", lines.join(", ")));
            }
            out
        }
    }

    fn local(s: &str) -> DateTime<Utc> {
        let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        let at = chrono_tz::Asia::Ho_Chi_Minh.from_local_datetime(&t);
        at.unwrap().with_timezone(&Utc)
    }

    const NONE: [&str; 0] = [];

    /// The bug this guards: an alarm held at night, listed open by the
    /// morning digest, that recovered later was told to nobody.
    #[test]
    fn a_held_alarm_listed_open_by_the_digest_has_its_recovery_sent() {
        let mut d = Desk::new("2027-01-10 12:00");
        assert_eq!(d.at("2027-01-10 23:00", &["p1"], &NONE), NONE);
        assert_eq!(d.at("2027-01-11 07:00", &NONE, &NONE), ["digest: p1 open"]);
        assert_eq!(d.at("2027-01-11 09:00", &NONE, &["p1"]), ["recovery p1"]);
        assert_eq!(d.at("2027-01-12 07:00", &NONE, &NONE), NONE, "told once");
    }

    /// An alarm told (live, then in a digest) that recovers at night: the
    /// recovery waits for the next digest, which lists it.
    #[test]
    fn a_recovery_at_night_of_an_alarm_told_goes_in_the_next_digest() {
        let mut d = Desk::new("2027-01-10 12:00");
        assert_eq!(d.at("2027-01-10 14:00", &["p1"], &NONE), ["alarm p1"]);
        assert_eq!(d.at("2027-01-11 07:00", &NONE, &NONE), ["digest: p1 open"]);
        assert_eq!(d.at("2027-01-11 23:00", &NONE, &["p1"]), NONE, "held");
        assert_eq!(
            d.at("2027-01-12 07:00", &NONE, &NONE),
            ["digest: p1 recovered"]
        );
        assert_eq!(d.at("2027-01-13 07:00", &NONE, &NONE), NONE);
    }

    /// Raised and recovered before anyone was told (at night): no notice
    /// of either; the end of quiet hours lists it once as raised and
    /// recovered, and the daily digest does not list it again.
    #[test]
    fn an_alarm_never_told_is_listed_raised_and_recovered_by_the_digest() {
        let mut d = Desk::new("2027-01-10 12:00");
        assert_eq!(d.at("2027-01-10 23:00", &["p1", "p2"], &NONE), NONE);
        assert_eq!(d.at("2027-01-11 02:00", &NONE, &["p1"]), NONE);
        assert_eq!(d.at("2027-01-11 05:30", &NONE, &["p2"]), NONE);
        assert_eq!(
            d.at("2027-01-11 06:00", &NONE, &NONE),
            ["digest: p1 recovered, p2 recovered"]
        );
        assert_eq!(d.at("2027-01-11 07:00", &NONE, &NONE), NONE);
        assert_eq!(d.at("2027-01-12 07:00", &NONE, &NONE), NONE);
    }

    /// Quiet hours end at 06:00, the digest is at 07:00: an alarm held at
    /// night goes out at 06:00, not an hour later; the alarm told by day
    /// still waits for the daily digest's summary.
    #[test]
    fn a_held_alarm_goes_out_when_quiet_hours_end_before_the_digest() {
        let mut d = Desk::new("2027-01-10 12:00");
        assert_eq!(d.at("2027-01-10 14:00", &["p2"], &NONE), ["alarm p2"]);
        assert_eq!(d.at("2027-01-10 23:00", &["p1"], &NONE), NONE);
        assert_eq!(d.at("2027-01-11 05:59", &NONE, &NONE), NONE);
        assert_eq!(d.at("2027-01-11 06:00", &NONE, &NONE), ["digest: p1 open"]);
        assert_eq!(d.at("2027-01-11 07:00", &NONE, &NONE), ["digest: p2 open"]);
        assert_eq!(d.at("2027-01-11 09:00", &NONE, &["p1"]), ["recovery p1"]);
        assert_eq!(d.at("2027-01-12 06:00", &NONE, &NONE), NONE, "told once");
    }

    /// Urgent alarms and their recoveries go at once, quiet hours or not,
    /// and are not in the digest.
    #[test]
    fn urgent_alarms_and_their_recoveries_go_at_once() {
        let mut d = Desk::new("2027-01-10 12:00");
        assert_eq!(d.at("2027-01-10 23:00", &["!p1"], &NONE), ["alarm p1"]);
        assert_eq!(d.at("2027-01-11 02:00", &NONE, &["p1"]), ["recovery p1"]);
        assert_eq!(d.at("2027-01-11 07:00", &NONE, &NONE), NONE);
    }
}
