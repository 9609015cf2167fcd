//! What each panel shows, as a pure function of time.
//!
//! [`resolve`] answers "what does this panel show at `now`, since when, and
//! until when is that answer certain"; [`timeline`] repeats it over a span.
//! Everything here is computed from its arguments: this module never reads
//! the clock, the disk or the network, so `now` is always passed in.
//!
//! - [`cron`]: cron parsing (Unix 5-field, 6/7-field, `@daily`…) and
//!   evaluation in a time zone, including DST gaps and folds.
//! - [`campaign`]: campaign validation ([`compile`]) and activity windows.
//! - `rotation`: the equal-priority rotation, pages and dwell, replayed
//!   over the day.
//! - this file: alerts, priorities, brightness, and [`resolve`] and
//!   [`timeline`] themselves.
//!
//! # Deciding
//! 1. The newest active alert targeting the panel wins outright; its pages
//!    turn every [`ALERT_DWELL_S`] seconds counted from its creation.
//! 2. Otherwise, among campaigns targeting the panel whose window is open
//!    and which have at least one playable message (see [`Catalog`]), the
//!    highest priority wins.
//! 3. Campaigns sharing that priority take turns, message by message, in
//!    campaign id order: with A = `[A1, A2, A3]` and B = `[B1]` the panel shows
//!    A1 B1 A2 B1 A3 B1 A1 B1 … Each page of a message stays up for that
//!    message's `dwell_s`. Unplayable messages are left out of the turn.
//! 4. Each campaign keeps its own place in its playlist, which moves on only
//!    when one of its messages has played to its end: a short playlist
//!    repeats while a long one advances, and a campaign continues where it
//!    left off when another campaign's window opens or closes, after a
//!    higher priority or an alert, and from one of its own windows to the
//!    next. A window opening lets the message on the glass finish; a
//!    message cut short plays again, whole, at its campaign's next turn.
//!    The places are set again at local midnight (see `rotation`).
//! 5. Nothing: [`Show::Blank`].
//!
//! A message outside its validity window (`valid_from`, `valid_until`,
//! [`Catalog::window`]) counts as unplayable at that instant, and no
//! decision lasts past the next edge of such a window: the panel changes
//! there without any write.

pub mod campaign;
pub mod cron;
mod rotation;

#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;

pub use self::campaign::{compile, compile_in, CompiledCampaign, MAX_DURATION_S, MAX_PLAYLIST};
pub use self::cron::{parse_cron, CronSpec};
use self::rotation::Rotation;
use crate::domain::{Alert, Brightness, Id, Invalid, Panel, Profile};

/// Schedules are evaluated here unless a campaign or `BANGTIN_TZ` says otherwise.
pub const DEFAULT_TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;

/// The years campaigns may name and crons must fire in; a timeline is
/// clipped to them (every instant in them is plain RFC 3339).
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// Seconds each page of an alert stays up.
pub const ALERT_DWELL_S: u32 = 8;

/// Parses an IANA time zone name such as `Asia/Ho_Chi_Minh`.
pub fn parse_tz(name: &str) -> Result<Tz, Invalid> {
    name.trim().parse::<Tz>().map_err(|_| {
        Invalid::new(crate::i18n::Reason::UnknownTimeZone {
            shown: name.chars().take(80).collect(),
        })
    })
}

/// What the rest of the system knows about messages.
pub trait Catalog {
    /// How many pages `message` has on panels of `profile`; `None` when the
    /// message is missing or not approved (it is then skipped, never shown).
    /// `Some(0)` is treated like `None`.
    fn pages(&self, message: &Id, profile: &Profile) -> Option<u32>;
    /// How many pages `alert` has on panels of `profile` (0 is read as 1).
    fn alert_pages(&self, alert: &Alert, profile: &Profile) -> u32;
    /// The validity window of `message`: `valid_from` (inclusive) and
    /// `valid_until` (exclusive); `None` for an open side. Outside it the
    /// message is not playable, whatever [`Catalog::pages`] says.
    fn window(&self, message: &Id) -> Window {
        let _ = message;
        (None, None)
    }
}

/// A message's validity window: from (inclusive), until (exclusive).
pub type Window = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Whether `now` is inside `window`.
fn within(window: Window, now: DateTime<Utc>) -> bool {
    window.0.is_none_or(|f| f <= now) && window.1.is_none_or(|u| now < u)
}

/// The catalog as it stands at one instant: a message outside its
/// validity window has no pages, so it is skipped like an unapproved one.
struct ValidAt<'c> {
    inner: &'c dyn Catalog,
    now: DateTime<Utc>,
}

impl Catalog for ValidAt<'_> {
    fn pages(&self, message: &Id, profile: &Profile) -> Option<u32> {
        if within(self.inner.window(message), self.now) {
            self.inner.pages(message, profile)
        } else {
            None
        }
    }
    fn alert_pages(&self, alert: &Alert, profile: &Profile) -> u32 {
        self.inner.alert_pages(alert, profile)
    }
    fn window(&self, message: &Id) -> Window {
        self.inner.window(message)
    }
}

/// The first edge of a validity window after `now` among the messages of
/// the campaigns targeting `panel`: the answer may change there without
/// any write, so a decision never lasts past it.
fn validity_edge(
    panel: &Panel,
    campaigns: &[CompiledCampaign],
    catalog: &dyn Catalog,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    campaigns
        .iter()
        .filter(|c| c.targets(panel))
        .flat_map(|c| c.campaign.body.messages.iter())
        .flat_map(|m| {
            let (from, until) = catalog.window(&m.id);
            [from, until]
        })
        .flatten()
        .filter(|t| *t > now)
        .min()
}

/// What a panel shows at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Show {
    /// Nothing: no alert and no campaign with a playable message.
    Blank,
    /// A page of a campaign's message.
    Message {
        /// The campaign whose turn it is.
        campaign: Id,
        /// The message on the glass.
        message: Id,
        /// The page shown, 1-based.
        page: u32,
        /// The message's page count on this panel's profile.
        pages: u32,
        /// Seconds each page of the message stays up.
        dwell_s: u32,
    },
    /// A page of an alert, which overrides every campaign.
    Alert {
        /// The alert shown.
        alert: Id,
        /// The page shown, 1-based.
        page: u32,
        /// The alert's page count on this panel's profile.
        pages: u32,
    },
}

/// The answer of [`resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What the panel shows.
    pub show: Show,
    /// When the current show began: the start of the current page slot (for
    /// a campaign alone with a single one-page message, when it came on the
    /// glass, or the latest of its window openings before midnight); for
    /// [`Show::Blank`] it is the latest window or alert end at or before
    /// `now` (the Unix epoch if there is none).
    pub since: DateTime<Utc>,
    /// The next instant at which [`resolve`] may answer differently (page
    /// flip, a window opening, closing or firing again on a campaign that
    /// could matter, an alert starting or ending, a brightness switch, local
    /// midnight while a campaign plays); `None` only if nothing will ever
    /// change. Always later than `now`, and for every `t` in `[now, until)`
    /// `resolve` at `t` returns this same decision.
    pub until: Option<DateTime<Utc>>,
    /// 0–255, for byte 5 of the frame.
    pub brightness: u8,
}

/// One stretch of a [`timeline`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// When the stretch begins (inclusive).
    pub start: DateTime<Utc>,
    /// When the stretch ends (exclusive).
    pub end: DateTime<Utc>,
    /// What the panel shows throughout it.
    pub show: Show,
}

fn epoch() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

/// [`YEARS`] as instants: `[2000-01-01T00:00:00Z, 2101-01-01T00:00:00Z)`.
fn calendar() -> (DateTime<Utc>, DateTime<Utc>) {
    let instant = |y: i32| {
        NaiveDate::from_ymd_opt(y, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("valid date")
            .and_utc()
    };
    (instant(*YEARS.start()), instant(*YEARS.end() + 1))
}

fn min_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

fn default_brightness() -> &'static Brightness {
    static DEFAULT: OnceLock<Brightness> = OnceLock::new();
    DEFAULT.get_or_init(Brightness::default)
}

/// What `panel` shows at `now`.
///
/// `campaigns` may include campaigns that do not target the panel (they are
/// skipped); `tz` is the zone of the brightness switch times.
pub fn resolve(
    panel: &Panel,
    campaigns: &[CompiledCampaign],
    alerts: &[Alert],
    catalog: &dyn Catalog,
    tz: Tz,
    now: DateTime<Utc>,
) -> Decision {
    decide(panel, campaigns, alerts, catalog, tz, now, None)
}

/// [`resolve`], with the rotation's walk kept in `walk` between calls at
/// increasing instants (for [`timeline`]); `None` walks afresh, and only
/// the priorities that matter at `now`.
#[allow(clippy::too_many_arguments)]
fn decide<'a>(
    panel: &Panel,
    campaigns: &'a [CompiledCampaign],
    alerts: &[Alert],
    catalog: &dyn Catalog,
    tz: Tz,
    now: DateTime<Utc>,
    walk: Option<(&mut Option<Rotation<'a>>, DateTime<Utc>)>,
) -> Decision {
    let policy = panel
        .brightness
        .as_ref()
        .unwrap_or_else(|| default_brightness());
    let valid = ValidAt {
        inner: catalog,
        now,
    };
    let catalog: &dyn Catalog = &valid;
    let (brightness, switch) = brightness_at(policy, tz, now);
    let until = (switch != DateTime::<Utc>::MAX_UTC).then_some(switch);
    let profile = panel.profile();

    // Alerts pre-empt everything.
    let alerts_now = AlertsAt::find(panel, alerts, now);
    let until = min_opt(until, alerts_now.next_start);
    if let Some(a) = alerts_now.winner {
        return alert_decision(a, catalog, &profile, now, until, brightness);
    }

    let open = OpenCampaigns::find(panel, campaigns, catalog, &profile, now);
    let until = min_opt(until, validity_edge(panel, campaigns, catalog, now));
    let mut until = min_opt(until, open.next_change());
    let Some(top) = open.top else {
        let since = open
            .seen
            .iter()
            .filter_map(|s| s.last_close)
            .chain(alerts_now.last_end)
            .max()
            .unwrap_or_else(epoch)
            .max(epoch());
        return Decision {
            show: Show::Blank,
            since,
            until,
            brightness,
        };
    };
    let mut fresh = None;
    let rotation = match walk {
        Some((kept, horizon)) => {
            if !kept.as_ref().is_some_and(|r| r.reaches(now)) {
                let all = open.seen.iter().map(|s| s.c);
                *kept = Some(Rotation::new(
                    panel, all, alerts, catalog, &profile, tz, now, horizon,
                ));
            }
            kept.as_mut().expect("a rotation was just made")
        }
        None => {
            // Lower priorities do not change what the top one plays.
            let above = open
                .seen
                .iter()
                .map(|s| s.c)
                .filter(|c| c.priority() >= top);
            fresh.insert(Rotation::new(
                panel, above, alerts, catalog, &profile, tz, now, now,
            ))
        }
    };
    rotation.advance(now);
    // The places in the playlists are set again at midnight.
    until = min_opt(until, Some(rotation.next_day()));
    let Some(on) = rotation.on_air() else {
        debug_assert!(false, "an open campaign at {now} but none on the glass");
        return Decision {
            show: Show::Blank,
            since: now,
            until,
            brightness,
        };
    };
    Decision {
        show: on.show,
        since: on.since,
        until: min_opt(until, on.flip),
        brightness,
    }
}

/// The alerts that concern a panel at one instant.
struct AlertsAt<'a> {
    /// The newest active alert targeting the panel: it is on the glass.
    winner: Option<&'a Alert>,
    /// The soonest start of an alert still to come.
    next_start: Option<DateTime<Utc>>,
    /// The latest end of an alert that has ended.
    last_end: Option<DateTime<Utc>>,
}

impl<'a> AlertsAt<'a> {
    fn find(panel: &Panel, alerts: &'a [Alert], now: DateTime<Utc>) -> AlertsAt<'a> {
        let mut found = AlertsAt {
            winner: None,
            next_start: None,
            last_end: None,
        };
        for a in alerts {
            if a.cancelled_at.is_some() || !a.body.targets.iter().any(|t| t.matches(panel)) {
                continue;
            }
            if a.active_at(now) {
                if found
                    .winner
                    .is_none_or(|w| (a.created_at, &a.id) > (w.created_at, &w.id))
                {
                    found.winner = Some(a);
                }
            } else if a.created_at > now {
                found.next_start = min_opt(found.next_start, Some(a.created_at));
            } else if a.ends_at <= now {
                found.last_end = found.last_end.max(Some(a.ends_at));
            }
        }
        found
    }
}

/// An alert on the glass: its pages turn every [`ALERT_DWELL_S`] seconds
/// from its creation.
fn alert_decision(
    a: &Alert,
    catalog: &dyn Catalog,
    profile: &Profile,
    now: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
    brightness: u8,
) -> Decision {
    let pages = catalog.alert_pages(a, profile).max(1);
    let dwell = TimeDelta::seconds(ALERT_DWELL_S as i64);
    let (page, since, flip) = if pages == 1 {
        (1, a.created_at, None)
    } else {
        let elapsed = (now - a.created_at).num_milliseconds();
        let slot = elapsed / dwell.num_milliseconds();
        let since = a.created_at + TimeDelta::milliseconds(slot * dwell.num_milliseconds());
        ((slot % pages as i64) as u32 + 1, since, Some(since + dwell))
    };
    Decision {
        show: Show::Alert {
            alert: a.id.clone(),
            page,
            pages,
        },
        since,
        until: min_opt(min_opt(until, Some(a.ends_at)), flip),
        brightness,
    }
}

/// A campaign targeting the panel, with the instants around `now` that
/// matter to it.
struct Seen<'a> {
    c: &'a CompiledCampaign,
    next: Option<DateTime<Utc>>,
    last_close: Option<DateTime<Utc>>,
}

/// The campaigns targeting a panel at one instant, and the top priority
/// among those open with something playable.
struct OpenCampaigns<'a> {
    seen: Vec<Seen<'a>>,
    top: Option<i32>,
}

impl<'a> OpenCampaigns<'a> {
    fn find(
        panel: &Panel,
        campaigns: &'a [CompiledCampaign],
        catalog: &dyn Catalog,
        profile: &Profile,
        now: DateTime<Utc>,
    ) -> OpenCampaigns<'a> {
        let mut seen = Vec::new();
        let mut top = None;
        for c in campaigns {
            if !c.targets(panel) {
                continue;
            }
            let st = c.state_at(now);
            if st.window.is_some() && c.has_playable(catalog, profile) {
                top = top.max(Some(c.priority()));
            }
            seen.push(Seen {
                c,
                next: st.next,
                last_close: st.last_close,
            });
        }
        OpenCampaigns { seen, top }
    }

    /// The soonest change among campaigns that can change the answer: only
    /// those at or above the winning priority.
    fn next_change(&self) -> Option<DateTime<Utc>> {
        self.seen
            .iter()
            .filter(|s| self.top.is_none_or(|p| s.c.priority() >= p))
            .fold(None, |u, s| min_opt(u, s.next))
    }
}

/// What `panel` shows over `[from, to)` clipped to [`YEARS`], at most
/// `max_slots` slots, by calling [`resolve`] at each change. Consecutive
/// slots with the same show are merged (a brightness switch alone does not
/// start a slot).
#[allow(clippy::too_many_arguments)]
pub fn timeline(
    panel: &Panel,
    campaigns: &[CompiledCampaign],
    alerts: &[Alert],
    catalog: &dyn Catalog,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max_slots: usize,
) -> Vec<Slot> {
    let (first, last) = calendar();
    let (from, to) = (from.max(first), to.min(last));
    let mut out: Vec<Slot> = Vec::new();
    let mut walk = None;
    let mut t = from;
    // A rotation is walked only up to the next validity edge: past it the
    // playable messages differ, and it is made afresh.
    let mut edge = validity_edge(panel, campaigns, catalog, t);
    while t < to {
        if edge.is_some_and(|e| t >= e) {
            walk = None;
            edge = validity_edge(panel, campaigns, catalog, t);
        }
        let d = decide(
            panel,
            campaigns,
            alerts,
            catalog,
            tz,
            t,
            Some((&mut walk, to)),
        );
        let end = d.until.map_or(to, |u| u.min(to));
        match out.last_mut() {
            Some(last) if last.show == d.show && last.end == t => last.end = end,
            _ => {
                if out.len() == max_slots {
                    break;
                }
                out.push(Slot {
                    start: t,
                    end,
                    show: d.show,
                });
            }
        }
        t = end;
    }
    out
}

/// The brightness at `now` and the instant of the next switch.
///
/// `day` applies from `day_starts` until `night_starts` (local times in
/// `tz`; night may start before day, e.g. day 18:00, night 06:00), `night`
/// otherwise. Switch instants follow the cron rule for local times that do
/// not exist or exist twice (see [`cron`]). Equal switch times mean `day`
/// all the time, and the next switch is then [`DateTime::<Utc>::MAX_UTC`].
/// Unparseable switch times fall back to the defaults, 06:00 and 18:00.
pub fn brightness_at(policy: &Brightness, tz: Tz, now: DateTime<Utc>) -> (u8, DateTime<Utc>) {
    let (d, n) = policy.switch_times().unwrap_or(((6, 0), (18, 0)));
    if d == n {
        return (policy.day, DateTime::<Utc>::MAX_UTC);
    }
    // In local order within a day, so a tie (both in one DST gap) resolves
    // to the later one, as the wall clock would.
    let switches = if d < n {
        [(d, policy.day), (n, policy.night)]
    } else {
        [(n, policy.night), (d, policy.day)]
    };
    let today = now.with_timezone(&tz).date_naive();
    let mut current: Option<(DateTime<Utc>, u8)> = None;
    let mut next = DateTime::<Utc>::MAX_UTC;
    for days in -1..=2 {
        let Some(date) = today.checked_add_signed(TimeDelta::days(days)) else {
            continue;
        };
        for ((h, m), level) in switches {
            let at = local_instant(tz, date, h, m);
            if at <= now {
                if current.is_none_or(|(c, _)| at >= c) {
                    current = Some((at, level));
                }
            } else {
                next = next.min(at);
            }
        }
    }
    (current.map_or(policy.night, |c| c.1), next)
}

fn local_instant(tz: Tz, date: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    cron::earliest(tz, date.and_hms_opt(h, m, 0).expect("validated time"))
}

/// For the dashboard: what `expr` means and its next `n` firings
/// (at most 1000) after `now` in time zone `tz`.
pub fn explain(
    expr: &str,
    tz: &str,
    now: DateTime<Utc>,
    n: usize,
) -> Result<(crate::i18n::CronText, Vec<DateTime<FixedOffset>>), Invalid> {
    let spec = parse_cron(expr)?;
    let zone = parse_tz(tz)?;
    let mut out = Vec::with_capacity(n.min(1000));
    let mut t = now;
    while out.len() < n.min(1000) {
        match spec.next_after_utc(zone, t, None, None) {
            Some(u) => {
                out.push(u.with_timezone(&zone).fixed_offset());
                t = u;
            }
            None => break,
        }
    }
    Ok((spec.description(), out))
}
