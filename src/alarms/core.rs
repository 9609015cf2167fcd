//! The alarm state machine, pure: what the edge observed of each panel at
//! an instant goes in, raised and recovered incidents come out. No clock,
//! no disk, no network; the time is an argument.
//!
//! Each panel has one condition per [`Kind`]. An *outage* begins when the
//! condition first holds and ends only once it has been clear for the
//! minimum recovery time (`recover_after`, the hysteresis): a link that
//! drops again before that is the same outage. An incident is raised once
//! an outage has lasted the kind's threshold, and recovered once, when the
//! outage ends. So a flapping link fires once and recovers once.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::Id;

/// What is wrong with a panel.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The controller does not report online (or never did).
    Offline,
    /// The controller is online but has not acknowledged a frame sent to it.
    Unconfirmed,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Offline, Kind::Unconfirmed];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Offline => "offline",
            Kind::Unconfirmed => "unconfirmed",
        }
    }
}

/// The limits in force for one panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// How long an outage lasts before it is an alarm.
    pub offline_after: Duration,
    /// How long a frame may wait for its acknowledgement.
    pub unconfirmed_after: Duration,
    /// How long a condition must stay clear before the outage is over.
    pub recover_after: Duration,
}

/// What the edge saw of one panel at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Observation {
    /// The controller reports online.
    pub online: bool,
    /// When the controller was last heard from (for an offline controller,
    /// when it went offline); `None` if never.
    pub last_seen: Option<DateTime<Utc>>,
    /// When the oldest frame still waiting for its acknowledgement was
    /// sent; `None` if every frame sent was acknowledged.
    pub unacked_since: Option<DateTime<Utc>>,
}

/// An incident opened or closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transition {
    /// The outage that began at `since` has lasted the threshold.
    Raised {
        panel: Id,
        kind: Kind,
        since: DateTime<Utc>,
    },
    /// The outage that began at `since` ended at `at` (the condition has
    /// been clear since then, for the minimum recovery time).
    Recovered {
        panel: Id,
        kind: Kind,
        since: DateTime<Utc>,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Condition {
    /// The outage in progress began here.
    outage_since: Option<DateTime<Utc>>,
    /// The condition has been clear since here (within an outage).
    clear_since: Option<DateTime<Utc>>,
    /// An incident is open for this outage.
    raised: bool,
}

impl Condition {
    /// One step: `bad_since` is when the condition began (`None`: clear
    /// now). Returns whether an incident is raised (`Some(true)`) or
    /// recovered (`Some(false)`), with the outage's start.
    fn step(
        &mut self,
        now: DateTime<Utc>,
        bad_since: Option<DateTime<Utc>>,
        after: Duration,
        recover_after: Duration,
    ) -> Option<(bool, DateTime<Utc>, DateTime<Utc>)> {
        match bad_since {
            Some(began) => {
                self.clear_since = None;
                let since = *self.outage_since.get_or_insert(began.min(now));
                if !self.raised && now - since >= after {
                    self.raised = true;
                    return Some((true, since, now));
                }
                None
            }
            None => {
                let since = self.outage_since?;
                let clear = *self.clear_since.get_or_insert(now);
                if now - clear < recover_after {
                    return None;
                }
                let was_raised = self.raised;
                *self = Condition::default();
                was_raised.then_some((false, since, clear))
            }
        }
    }

    fn is_raised(&self) -> bool {
        self.raised
    }
}

/// Every panel's conditions.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    panels: HashMap<Id, [Condition; 2]>,
}

impl Kind {
    /// Its place in per-kind arrays (`Kind::ALL` order).
    pub(crate) fn index(self) -> usize {
        match self {
            Kind::Offline => 0,
            Kind::Unconfirmed => 1,
        }
    }
}

impl Tracker {
    /// An incident left open by an earlier run: it is not raised again.
    pub(crate) fn resume(&mut self, panel: &Id, kind: Kind, since: DateTime<Utc>) {
        let c = &mut self.panels.entry(panel.clone()).or_default()[kind.index()];
        c.outage_since = Some(since);
        c.raised = true;
    }

    /// Whether observing `panel` as `seen` at `now` would change nothing:
    /// it is online, no frame sent to it has waited for its ack as long as
    /// `shortest` (the shortest `unconfirmed_after` of any panel: a lower
    /// bound of its own), and no condition of it is open or recovering.
    /// The monitor skips such panels (most of a healthy fleet every
    /// second, and the whole fleet in the seconds after a change, while
    /// its acks come back) without working out their thresholds.
    pub(crate) fn is_quiet(
        &self,
        panel: &Id,
        seen: &Observation,
        now: DateTime<Utc>,
        shortest: Duration,
    ) -> bool {
        seen.online
            && seen.unacked_since.is_none_or(|sent| now - sent < shortest)
            && !self.panels.contains_key(panel)
    }

    /// One panel observed at `now`. An offline controller is an offline
    /// condition only (its missing acknowledgements are not a second
    /// alarm).
    pub(crate) fn observe(
        &mut self,
        now: DateTime<Utc>,
        panel: &Id,
        seen: Observation,
        limits: &Thresholds,
        out: &mut Vec<Transition>,
    ) {
        let conds = self.panels.entry(panel.clone()).or_default();
        let offline = (!seen.online).then(|| seen.last_seen.unwrap_or(now));
        let unconfirmed = seen
            .unacked_since
            .filter(|sent| seen.online && now - *sent >= limits.unconfirmed_after);
        for (kind, bad, after) in [
            (Kind::Offline, offline, limits.offline_after),
            (Kind::Unconfirmed, unconfirmed, Duration::zero()),
        ] {
            if let Some((raised, since, at)) =
                conds[kind.index()].step(now, bad, after, limits.recover_after)
            {
                out.push(if raised {
                    Transition::Raised {
                        panel: panel.clone(),
                        kind,
                        since,
                    }
                } else {
                    Transition::Recovered {
                        panel: panel.clone(),
                        kind,
                        since,
                        at,
                    }
                });
            }
        }
        // Only panels with something to follow are kept.
        if conds.iter().all(|c| *c == Condition::default()) {
            self.panels.remove(panel);
        }
    }

    /// Panels no longer configured are forgotten; returns their open
    /// incidents' kinds (closed without a notice: there is no sign to
    /// repair).
    pub(crate) fn retain(&mut self, keep: impl Fn(&Id) -> bool) -> Vec<(Id, Kind)> {
        let mut gone = Vec::new();
        self.panels.retain(|id, conds| {
            if keep(id) {
                return true;
            }
            for kind in Kind::ALL {
                if conds[kind.index()].is_raised() {
                    gone.push((id.clone(), kind));
                }
            }
            false
        });
        gone
    }
}

/// A daily span of local time (may wrap past midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Span {
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start <= self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}

/// Whether a notice goes out now or waits for the digest: urgent alarms
/// always go; others wait during quiet hours.
pub(crate) fn held<Z: TimeZone>(
    urgent: bool,
    quiet: Option<Span>,
    now: DateTime<Utc>,
    tz: &Z,
) -> bool {
    !urgent && quiet.is_some_and(|q| q.contains(now.with_timezone(tz).time()))
}

/// How far an incident's notices have gone. The rule, so that a duty
/// officer is told of every alarm and of every recovery, once:
///
/// - an alarm raised outside quiet hours (or urgent) is sent at once; one
///   raised in quiet hours is *held* for the next digest;
/// - a recovery of an alarm nobody was told of yet (held, not yet in a
///   digest) sends nothing: the digest lists the incident once, raised and
///   recovered (a recovery alone would name an alarm nobody heard of);
/// - a recovery of an alarm already told (sent at once, or listed open by
///   a digest) is sent at once outside quiet hours; in quiet hours it waits
///   for the next digest, which lists it recovered;
/// - the digest lists every non-urgent incident not yet in one, and those
///   whose recovery waits for it;
/// - what quiet hours held does not wait for a digest time set after
///   their end: their end sends it ([`due_digest`]), and the daily digest
///   then lists only the rest.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Told {
    /// Its alarm notice was held for the digest (quiet hours).
    #[serde(default)]
    pub held: bool,
    /// Already listed in a digest.
    #[serde(default)]
    pub digested: bool,
    /// Its recovery notice waits for the next digest (it recovered in
    /// quiet hours after its alarm had been told).
    #[serde(default)]
    pub recovery_held: bool,
}

impl Told {
    /// An incident raised; `quiet`: quiet hours hold its notice now
    /// ([`held`]). Its alarm notice goes out now unless [`Told::held`].
    pub(crate) fn raised(quiet: bool) -> Told {
        Told {
            held: quiet,
            ..Told::default()
        }
    }

    /// Its outage ended; `quiet` as for [`Told::raised`]. Returns whether
    /// the recovery notice goes out now; if not, the next digest tells it.
    pub(crate) fn recovered(&mut self, quiet: bool) -> bool {
        if self.held && !self.digested {
            // Nobody was told of the alarm: the digest lists both.
            return false;
        }
        self.recovery_held = quiet;
        !quiet
    }

    /// Whether the next digest lists it (for a non-urgent incident).
    pub(crate) fn for_digest(&self) -> bool {
        !self.digested || self.recovery_held
    }

    /// Whether quiet hours hold a notice of it that nobody has had yet:
    /// its alarm (held, not yet in a digest) or its recovery. The end of
    /// quiet hours sends these ([`Digest::Held`]).
    pub(crate) fn held_back(&self) -> bool {
        (self.held && !self.digested) || self.recovery_held
    }

    /// Listed by a digest: its alarm, and its recovery if it had one.
    pub(crate) fn in_digest(&mut self) {
        self.digested = true;
        self.recovery_held = false;
    }
}

/// A digest due now, and what it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Digest {
    /// The daily digest at `digest_at`: every non-urgent incident not yet
    /// in a digest, and the recoveries that wait for one.
    Daily,
    /// The end of quiet hours, before the digest time: only the notices
    /// quiet hours held ([`Told::held_back`]).
    Held,
}

/// Which digest is due at `now`, the previous one (of either kind) having
/// gone at `last`. The rule a duty officer wants: what quiet hours held
/// goes out when they end or at the digest time, whichever comes first,
/// so a digest set after the end of quiet hours never keeps a held alarm
/// waiting. The daily digest is due once its local time `at` has passed
/// since `last`; otherwise the held notices, once the end of `quiet` has.
pub(crate) fn due_digest<Z: TimeZone>(
    last: DateTime<Utc>,
    now: DateTime<Utc>,
    at: NaiveTime,
    quiet: Option<Span>,
    tz: &Z,
) -> Option<Digest> {
    if digest_due(last, now, at, tz) {
        Some(Digest::Daily)
    } else if quiet.is_some_and(|q| digest_due(last, now, q.end, tz)) {
        Some(Digest::Held)
    } else {
        None
    }
}

/// Whether the daily digest is due: the latest local `at` at or before
/// `now` is after the previous digest.
pub(crate) fn digest_due<Z: TimeZone>(
    last: DateTime<Utc>,
    now: DateTime<Utc>,
    at: NaiveTime,
    tz: &Z,
) -> bool {
    let local = now.with_timezone(tz);
    let mut day = local.date_naive();
    if local.time() < at {
        day = day.pred_opt().unwrap_or(day);
    }
    match tz.from_local_datetime(&day.and_time(at)).earliest() {
        Some(occurrence) => occurrence.with_timezone(&Utc) > last,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn limits() -> Thresholds {
        Thresholds {
            offline_after: Duration::seconds(600),
            unconfirmed_after: Duration::seconds(120),
            recover_after: Duration::seconds(300),
        }
    }

    fn online(up: bool, last_seen: i64) -> Observation {
        Observation {
            online: up,
            last_seen: Some(t(last_seen)),
            unacked_since: None,
        }
    }

    /// Steps one panel through `(second, observation)` pairs, every 10 s
    /// between them, and returns what happened.
    fn run(steps: &[(i64, Observation)], until: i64) -> Vec<Transition> {
        let mut tr = Tracker::default();
        let p = Id::parse("p1").unwrap();
        let mut out = Vec::new();
        let mut current = steps[0].1;
        let mut next = steps.iter().peekable();
        let mut s = 0;
        while s <= until {
            while next.peek().is_some_and(|(at, _)| *at <= s) {
                current = next.next().unwrap().1;
            }
            // As the monitor does: quiet panels are skipped.
            if !tr.is_quiet(&p, &current, t(s), limits().unconfirmed_after) {
                tr.observe(t(s), &p, current, &limits(), &mut out);
            }
            s += 10;
        }
        out
    }

    fn kinds(out: &[Transition]) -> Vec<&'static str> {
        out.iter()
            .map(|x| match x {
                Transition::Raised { kind, .. } => match kind {
                    Kind::Offline => "raised offline",
                    Kind::Unconfirmed => "raised unconfirmed",
                },
                Transition::Recovered { kind, .. } => match kind {
                    Kind::Offline => "recovered offline",
                    Kind::Unconfirmed => "recovered unconfirmed",
                },
            })
            .collect()
    }

    #[test]
    fn an_outage_longer_than_the_threshold_fires_once_and_recovers_once() {
        let out = run(
            &[
                (0, online(true, 0)),
                (100, online(false, 100)),
                (1000, online(true, 1000)),
            ],
            2000,
        );
        assert_eq!(kinds(&out), ["raised offline", "recovered offline"]);
        assert_eq!(
            out[0],
            Transition::Raised {
                panel: Id::parse("p1").unwrap(),
                kind: Kind::Offline,
                since: t(100)
            },
            "raised at 700 s for the outage that began at 100 s"
        );
        match &out[1] {
            Transition::Recovered { since, at, .. } => {
                assert_eq!((*since, *at), (t(100), t(1000)));
            }
            other => panic!("{other:?}"),
        }
    }

    /// The monitor skips quiet panels; a panel is quiet only once nothing
    /// of it is left to follow, so skipping it never loses a recovery.
    #[test]
    fn a_panel_is_quiet_again_only_after_its_recovery() {
        let mut tr = Tracker::default();
        let p = Id::parse("p1").unwrap();
        let mut out = Vec::new();
        let shortest = limits().unconfirmed_after;
        let quiet =
            |tr: &Tracker, seen: &Observation, at: i64| tr.is_quiet(&p, seen, t(at), shortest);
        assert!(quiet(&tr, &online(true, 0), 0));
        assert!(!quiet(&tr, &online(false, 0), 0), "offline is never quiet");
        let waiting = Observation {
            unacked_since: Some(t(0)),
            ..online(true, 0)
        };
        assert!(
            quiet(&tr, &waiting, 119),
            "a frame younger than any threshold: nothing to follow yet"
        );
        assert!(
            !quiet(&tr, &waiting, 120),
            "a frame waiting as long as a threshold is followed"
        );
        tr.observe(t(0), &p, online(false, 0), &limits(), &mut out);
        tr.observe(t(600), &p, online(false, 0), &limits(), &mut out);
        assert_eq!(kinds(&out), ["raised offline"]);
        // Back online, within the recovery time: still followed.
        tr.observe(t(610), &p, online(true, 610), &limits(), &mut out);
        assert!(!quiet(&tr, &online(true, 610), 610));
        tr.observe(t(610 + 300), &p, online(true, 610), &limits(), &mut out);
        assert_eq!(kinds(&out), ["raised offline", "recovered offline"]);
        assert!(quiet(&tr, &online(true, 610), 910), "recovered: forgotten");
        assert!(tr.panels.is_empty());
    }

    #[test]
    fn a_short_outage_raises_nothing() {
        let out = run(
            &[
                (0, online(true, 0)),
                (100, online(false, 100)),
                (500, online(true, 500)),
            ],
            2000,
        );
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn a_flapping_link_fires_once_and_recovers_once() {
        // Down at 100, then up for 60 s and down for 60 s for an hour:
        // never clear for the 300 s recovery time, so one outage.
        let mut steps = vec![(0, online(true, 0))];
        let mut s = 100;
        while s < 3700 {
            steps.push((s, online(false, s)));
            steps.push((s + 60, online(true, s + 60)));
            s += 120;
        }
        steps.push((3700, online(true, 3700)));
        let out = run(&steps, 5000);
        assert_eq!(
            kinds(&out),
            ["raised offline", "recovered offline"],
            "{out:?}"
        );
        match &out[1] {
            Transition::Recovered { since, at, .. } => {
                assert_eq!(*since, t(100));
                assert!(*at >= t(3580), "recovered at the last return: {at}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_never_seen_controller_is_an_outage_from_the_first_look() {
        let never = Observation::default();
        let out = run(&[(0, never)], 590);
        assert!(out.is_empty());
        let out = run(&[(0, never)], 600);
        assert_eq!(kinds(&out), ["raised offline"]);
    }

    #[test]
    fn frames_not_confirmed_within_the_threshold_raise_unconfirmed() {
        let waiting = |sent: i64| Observation {
            online: true,
            last_seen: Some(t(0)),
            unacked_since: Some(t(sent)),
        };
        // Every frame acknowledged quickly: nothing, however often.
        let mut steps = vec![];
        for s in (0..2000).step_by(60) {
            steps.push((s, waiting(s)));
            steps.push((s + 20, online(true, s + 20)));
        }
        assert!(run(&steps, 2000).is_empty());
        // A frame sent at 100 never acknowledged: raised at 220, once.
        let out = run(&[(0, online(true, 0)), (100, waiting(100))], 2000);
        assert_eq!(kinds(&out), ["raised unconfirmed"]);
        // Going offline is the offline alarm's business.
        let gone = Observation {
            online: false,
            ..waiting(100)
        };
        let out = run(&[(0, online(true, 0)), (100, gone)], 650);
        assert_eq!(kinds(&out), ["raised offline"]);
    }

    #[test]
    fn a_resumed_incident_is_not_raised_again() {
        let mut tr = Tracker::default();
        let p = Id::parse("p1").unwrap();
        tr.resume(&p, Kind::Offline, t(0));
        let mut out = Vec::new();
        tr.observe(t(1000), &p, online(false, 0), &limits(), &mut out);
        assert!(out.is_empty());
        tr.observe(t(1010), &p, online(true, 1010), &limits(), &mut out);
        tr.observe(t(1400), &p, online(true, 1400), &limits(), &mut out);
        assert_eq!(kinds(&out), ["recovered offline"]);
        assert_eq!(tr.retain(|_| false), vec![]);
    }

    #[test]
    fn quiet_hours_hold_only_non_urgent_notices() {
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        let quiet = Some(Span {
            start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
        });
        // 16:00 UTC = 23:00 in Vietnam; 05:00 UTC = 12:00.
        let night = "2027-01-10T16:00:00Z".parse().unwrap();
        let noon = "2027-01-10T05:00:00Z".parse().unwrap();
        assert!(held(false, quiet, night, &tz));
        assert!(!held(true, quiet, night, &tz), "urgent goes out");
        assert!(!held(false, quiet, noon, &tz));
        assert!(!held(false, None, night, &tz));
    }

    /// What each step of an incident tells: `A` alarm now, `R` recovery
    /// now, `-` nothing now, `D` listed by a digest; steps are `r`/`R`
    /// raised outside/inside quiet hours, `c`/`C` recovered outside/inside,
    /// `d` a digest.
    fn tell(steps: &str) -> String {
        let mut told = Told::default();
        let mut out = String::new();
        for s in steps.chars() {
            out.push(match s {
                'r' | 'R' => {
                    told = Told::raised(s == 'R');
                    if told.held {
                        '-'
                    } else {
                        'A'
                    }
                }
                'c' | 'C' if told.recovered(s == 'C') => 'R',
                'c' | 'C' => '-',
                'd' if told.for_digest() => {
                    told.in_digest();
                    'D'
                }
                'd' => '-',
                other => panic!("step {other}"),
            });
        }
        out
    }

    /// Every alarm and every recovery is told once: at once outside quiet
    /// hours, else by the next digest; a recovery never before its alarm.
    #[test]
    fn every_alarm_and_every_recovery_is_told_once() {
        // Day: alarm and recovery at once; the digest sums the incident up.
        assert_eq!(tell("rcdd"), "ARD-");
        // Held at night, digested open, recovered by day: sent at once.
        assert_eq!(tell("Rdcd"), "-DR-");
        // Held at night, digested open, recovered at night: next digest.
        assert_eq!(tell("RdCdd"), "-D-D-");
        // Told by day, digested open, recovered at night: next digest.
        assert_eq!(tell("rdCdd"), "AD-D-");
        // Held and recovered before anyone was told (at night, or by day
        // before the digest): the digest lists it once, raised and
        // recovered.
        assert_eq!(tell("RCdd"), "--D-");
        assert_eq!(tell("Rcdd"), "--D-");
        // Told by day, recovered at night before any digest: the digest
        // lists it recovered.
        assert_eq!(tell("rCdd"), "A-D-");
    }

    /// Held alarms go out at the end of quiet hours or at the digest time,
    /// whichever comes first; the daily digest still comes at its time.
    #[test]
    fn held_notices_go_at_the_end_of_quiet_hours_or_the_digest_whichever_first() {
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        // Local Việt Nam time (UTC+7) on 11 January 2027.
        let vn = |h: u32, m: u32| {
            tz.from_local_datetime(
                &chrono::NaiveDate::from_ymd_opt(2027, 1, 11)
                    .unwrap()
                    .and_time(hm(h, m)),
            )
            .unwrap()
            .with_timezone(&Utc)
        };
        let night = Some(Span {
            start: hm(22, 0),
            end: hm(6, 0),
        });
        let yesterday_noon = vn(12, 0) - chrono::Duration::days(1);
        // Digest at 09:00, after quiet hours end at 06:00: the held
        // notices go at 06:00, the daily digest at 09:00.
        let due = |last, now| due_digest(last, now, hm(9, 0), night, &tz);
        assert_eq!(due(yesterday_noon, vn(5, 59)), None, "still quiet");
        assert_eq!(due(yesterday_noon, vn(6, 0)), Some(Digest::Held));
        assert_eq!(due(vn(6, 0), vn(8, 59)), None, "held ones went at 06:00");
        assert_eq!(due(vn(6, 0), vn(9, 0)), Some(Digest::Daily));
        assert_eq!(due(vn(9, 0), vn(23, 0)), None, "not again that night");
        // A monitor down over both: one daily digest lists all.
        assert_eq!(due(yesterday_noon, vn(10, 0)), Some(Digest::Daily));
        // Digest at 05:00, inside quiet hours: the digest comes first;
        // what is held between it and 06:00 goes at 06:00.
        let early = |last, now| due_digest(last, now, hm(5, 0), night, &tz);
        assert_eq!(early(yesterday_noon, vn(5, 0)), Some(Digest::Daily));
        assert_eq!(early(vn(5, 0), vn(6, 0)), Some(Digest::Held));
        assert_eq!(early(vn(6, 0), vn(23, 30)), None);
        // No quiet hours: the daily digest alone.
        let plain = |last, now| due_digest(last, now, hm(9, 0), None, &tz);
        assert_eq!(plain(yesterday_noon, vn(6, 0)), None);
        assert_eq!(plain(yesterday_noon, vn(9, 0)), Some(Digest::Daily));
        // The end of quiet hours sends what they held, nothing else.
        let told = |steps: &[char]| {
            let mut t = Told::default();
            for s in steps {
                match s {
                    'r' | 'R' => t = Told::raised(*s == 'R'),
                    'C' => {
                        t.recovered(true);
                    }
                    _ => t.in_digest(),
                }
            }
            t.held_back()
        };
        assert!(told(&['R']), "an alarm held at night");
        assert!(!told(&['r']), "an alarm sent at once");
        assert!(told(&['r', 'd', 'C']), "a recovery held at night");
        assert!(!told(&['R', 'd']), "already in a digest");
    }

    #[test]
    fn the_digest_is_due_once_a_day_at_its_local_time() {
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        let at = NaiveTime::from_hms_opt(7, 0, 0).unwrap();
        let utc = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // 07:00 in Vietnam is 00:00 UTC.
        let last = utc("2027-01-10T00:00:05Z");
        assert!(!digest_due(last, utc("2027-01-10T23:59:59Z"), at, &tz));
        assert!(digest_due(last, utc("2027-01-11T00:00:00Z"), at, &tz));
        assert!(digest_due(last, utc("2027-01-12T08:00:00Z"), at, &tz));
        assert!(!digest_due(
            utc("2027-01-11T00:00:01Z"),
            utc("2027-01-11T12:00:00Z"),
            at,
            &tz
        ));
    }
}
