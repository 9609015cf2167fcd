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
//! - this file: priorities, the equal-priority rotation, pages and dwell,
//!   alerts, brightness.
//!
//! # Deciding
//! 1. The newest active alert targeting the panel wins outright; its pages
//!    turn every [`ALERT_DWELL_S`] seconds counted from its creation.
//! 2. Otherwise, among campaigns targeting the panel whose window is open
//!    and which have at least one playable message (see [`Catalog`]), the
//!    highest priority wins.
//! 3. Campaigns sharing that priority take turns, message by message, in
//!    campaign id order: with A = [A1, A2, A3] and B = [B1] the panel shows
//!    A1 B1 A2 B1 A3 B1 A1 B1 … Each campaign keeps its own place in its
//!    playlist, so a short playlist repeats while a long one advances. Each
//!    page of a message stays up for that message's `dwell_s`. Unplayable
//!    messages are left out of the turn.
//! 4. The rotation is anchored at the latest window start among the sharing
//!    campaigns (so it restarts from the top whenever one of them opens a
//!    window), clamped to the Unix epoch for campaigns open since forever.
//! 5. Nothing: [`Show::Blank`].

pub mod campaign;
pub mod cron;

#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;

pub use self::campaign::{compile, compile_in, CompiledCampaign, MAX_DURATION_S, MAX_PLAYLIST};
pub use self::cron::{parse_cron, CronSpec};
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
        Invalid::new(format!(
            "unknown time zone {:?}: use an IANA name such as \"Asia/Ho_Chi_Minh\" or \"Europe/Berlin\"",
            name.chars().take(80).collect::<String>()
        ))
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
}

/// What a panel shows at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Show {
    Blank,
    Message {
        campaign: Id,
        message: Id,
        /// 1-based.
        page: u32,
        pages: u32,
        dwell_s: u32,
    },
    Alert {
        alert: Id,
        /// 1-based.
        page: u32,
        pages: u32,
    },
}

/// The answer of [`resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub show: Show,
    /// When the current show began: the start of the current page slot.
    /// For a campaign it is never before the rotation's anchor; for
    /// [`Show::Blank`] it is the latest window or alert end at or before
    /// `now` (the Unix epoch if there is none).
    pub since: DateTime<Utc>,
    /// The next instant at which [`resolve`] may answer differently (page
    /// flip, a window opening or closing on a campaign that could matter,
    /// an alert starting or ending, a brightness switch); `None` only if
    /// nothing will ever change. Always later than `now`, and for every `t`
    /// in `[now, until)` `resolve` at `t` returns this same decision.
    pub until: Option<DateTime<Utc>>,
    /// 0–255, for byte 5 of the frame.
    pub brightness: u8,
}

/// One stretch of a [`timeline`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
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
    let policy = panel
        .brightness
        .as_ref()
        .unwrap_or_else(|| default_brightness());
    let (brightness, switch) = brightness_at(policy, tz, now);
    let mut until = (switch != DateTime::<Utc>::MAX_UTC).then_some(switch);
    let profile = panel.profile();

    // Alerts pre-empt everything.
    let mut winner: Option<&Alert> = None;
    let mut last_alert_end: Option<DateTime<Utc>> = None;
    for a in alerts {
        if a.cancelled_at.is_some() || !a.body.targets.iter().any(|t| t.matches(panel)) {
            continue;
        }
        if a.active_at(now) {
            if winner.is_none_or(|w| (a.created_at, &a.id) > (w.created_at, &w.id)) {
                winner = Some(a);
            }
        } else if a.created_at > now {
            until = min_opt(until, Some(a.created_at));
        } else if a.ends_at <= now {
            last_alert_end = last_alert_end.max(Some(a.ends_at));
        }
    }
    if let Some(a) = winner {
        let pages = catalog.alert_pages(a, &profile).max(1);
        let dwell = TimeDelta::seconds(ALERT_DWELL_S as i64);
        let (page, since, flip) = if pages == 1 {
            (1, a.created_at, None)
        } else {
            let elapsed = (now - a.created_at).num_milliseconds();
            let slot = elapsed / dwell.num_milliseconds();
            let since = a.created_at + TimeDelta::milliseconds(slot * dwell.num_milliseconds());
            ((slot % pages as i64) as u32 + 1, since, Some(since + dwell))
        };
        return Decision {
            show: Show::Alert {
                alert: a.id.clone(),
                page,
                pages,
            },
            since,
            until: min_opt(min_opt(until, Some(a.ends_at)), flip),
            brightness,
        };
    }

    // Campaigns: which are open and playable, and the top priority among them.
    struct Seen<'a> {
        c: &'a CompiledCampaign,
        next: Option<DateTime<Utc>>,
        start: Option<DateTime<Utc>>,
        last_close: Option<DateTime<Utc>>,
    }
    let mut seen: Vec<Seen> = Vec::new();
    let mut top: Option<i32> = None;
    for c in campaigns {
        if !c.targets(panel) {
            continue;
        }
        let st = c.state_at(now);
        let start = st
            .window
            .filter(|_| c.has_playable(catalog, &profile))
            .map(|w| w.0);
        if start.is_some() {
            top = top.max(Some(c.priority()));
        }
        seen.push(Seen {
            c,
            next: st.next,
            start,
            last_close: st.last_close,
        });
    }
    // Only campaigns at or above the winning priority can change the answer.
    for s in &seen {
        if top.is_none_or(|p| s.c.priority() >= p) {
            until = min_opt(until, s.next);
        }
    }
    let Some(top) = top else {
        let since = seen
            .iter()
            .filter_map(|s| s.last_close)
            .chain(last_alert_end)
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
    let mut sharing: Vec<(&CompiledCampaign, DateTime<Utc>)> = seen
        .iter()
        .filter(|s| s.c.priority() == top)
        .filter_map(|s| s.start.map(|st| (s.c, st)))
        .collect();
    sharing.sort_by(|a, b| a.0.id().cmp(b.0.id()));
    let anchor = sharing
        .iter()
        .map(|s| s.1)
        .max()
        .unwrap_or_else(epoch)
        .max(epoch());
    let turn = rotate(&sharing, catalog, &profile, anchor, now);
    Decision {
        show: turn.show,
        since: turn.since,
        until: min_opt(until, turn.flip),
        brightness,
    }
}

/// One playable playlist entry.
struct Entry {
    message: usize,
    pages: u32,
    dwell_ms: i64,
    /// Sum of the durations (pages × dwell) of the entries before it in its
    /// campaign's playlist.
    before: i64,
}

struct Turn {
    show: Show,
    since: DateTime<Utc>,
    flip: Option<DateTime<Utc>>,
}

/// The equal-priority rotation at `now`: round `k` plays, for each campaign
/// in order, its entry `k mod n`. Finding the round is a binary search on
/// the round number over the closed-form elapsed time, so the cost does not
/// grow with the time since the anchor.
fn rotate(
    sharing: &[(&CompiledCampaign, DateTime<Utc>)],
    catalog: &dyn Catalog,
    profile: &Profile,
    anchor: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Turn {
    let mut entries: Vec<Entry> = Vec::new();
    // (first entry, entry count, total duration) per campaign.
    let mut tracks: Vec<(usize, usize, i64)> = Vec::with_capacity(sharing.len());
    for (c, _) in sharing {
        let first = entries.len();
        let mut total = 0i64;
        for (i, m) in c.campaign.body.messages.iter().enumerate() {
            if let Some(pages) = catalog.pages(&m.id, profile).filter(|p| *p > 0) {
                let dwell_ms = m.dwell_s as i64 * 1000;
                entries.push(Entry {
                    message: i,
                    pages,
                    dwell_ms,
                    before: total,
                });
                total += pages as i64 * dwell_ms;
            }
        }
        tracks.push((first, entries.len() - first, total));
    }
    // Time spent in rounds 0..k.
    let elapsed_before = |k: i64| -> i64 {
        tracks
            .iter()
            .map(|&(first, n, total)| {
                let n = n as i64;
                (k / n) * total + entries[first + (k % n) as usize].before
            })
            .sum()
    };
    let x = (now - anchor).num_milliseconds().max(0);
    let shortest_round: i64 = tracks
        .iter()
        .map(|&(first, n, _)| {
            entries[first..first + n]
                .iter()
                .map(|e| e.pages as i64 * e.dwell_ms)
                .min()
                .unwrap_or(1000)
        })
        .sum();
    let (mut lo, mut hi) = (0i64, x / shortest_round.max(1) + 1);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if elapsed_before(mid) <= x {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let k = lo;
    let mut offset = elapsed_before(k);
    let mut pick = None;
    for (ci, &(first, n, _)) in tracks.iter().enumerate() {
        let e = &entries[first + (k % n as i64) as usize];
        let dur = e.pages as i64 * e.dwell_ms;
        if x < offset + dur {
            pick = Some((ci, e));
            break;
        }
        offset += dur;
    }
    let (ci, e) = pick.expect("the round containing x has an entry containing x");
    let page = ((x - offset) / e.dwell_ms) as u32;
    let slot_start = offset + page as i64 * e.dwell_ms;
    let single = tracks.len() == 1 && tracks[0].1 == 1 && e.pages == 1;
    let c = sharing[ci].0;
    let item = &c.campaign.body.messages[e.message];
    let since = anchor + TimeDelta::milliseconds(slot_start);
    Turn {
        show: Show::Message {
            campaign: c.id().clone(),
            message: item.id.clone(),
            page: page + 1,
            pages: e.pages,
            dwell_s: item.dwell_s,
        },
        since: if single { anchor } else { since },
        flip: (!single).then(|| since + TimeDelta::milliseconds(e.dwell_ms)),
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
    let mut t = from;
    while t < to {
        let d = resolve(panel, campaigns, alerts, catalog, tz, t);
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

/// For the dashboard: a description of `expr` and its next `n` firings
/// (at most 1000) after `now` in time zone `tz`.
pub fn explain(
    expr: &str,
    tz: &str,
    now: DateTime<Utc>,
    n: usize,
) -> Result<(String, Vec<DateTime<FixedOffset>>), Invalid> {
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
    Ok((format!("{} ({})", spec.describe(), zone.name()), out))
}
