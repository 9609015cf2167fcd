//! Campaign timing: validation once ([`compile`]), then cheap questions about
//! activity windows at an instant.
//!
//! Windows (the campaign timing of the API, README "Schedulers"):
//! - **with cron**: every firing opens a window `[firing, firing + duration_s)`.
//!   The campaign is active while any window is open. When windows overlap
//!   (duration longer than the period), the window is the one opened by the
//!   latest firing, which is also the one that closes last; every firing
//!   restarts the window (the rotation goes on: see `rotation`). With
//!   `start`/`end`, only
//!   firings on local dates within `[start, end]` count (a window opened on
//!   the end date may run past midnight).
//! - **without cron**: one window from local midnight at the start of
//!   `start` to local midnight after `end` (both dates inclusive, in the
//!   campaign's time zone). A missing `start` reads as "since forever"
//!   ([`DateTime::<Utc>::MIN_UTC`]), a missing `end` as "forever"
//!   ([`DateTime::<Utc>::MAX_UTC`]).
//!
//! Windows are half open: active at their start instant, inactive at their end.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;

use super::cron::{earliest, parse_cron, CronSpec};
use super::{parse_tz, Catalog, DEFAULT_TZ};
use crate::domain::{Campaign, Id, Invalid, Panel, Profile, MAX_DWELL_S};
use crate::i18n::Reason;

/// Most messages in one campaign's playlist.
pub const MAX_PLAYLIST: usize = 100;
/// Longest window a cron firing may open: 31 days.
pub const MAX_DURATION_S: u32 = 31 * 86_400;

/// A validated campaign, ready to evaluate.
#[derive(Debug, Clone)]
pub struct CompiledCampaign {
    /// The campaign as stored, already validated.
    pub campaign: Campaign,
    tz: Tz,
    timing: Timing,
}

#[derive(Debug, Clone)]
enum Timing {
    Cron(Firings),
    Days {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
}

/// The firings of a campaign's cron in its time zone and dates, each
/// opening a window of `duration`.
#[derive(Debug, Clone)]
struct Firings {
    spec: CronSpec,
    tz: Tz,
    duration: TimeDelta,
    first: Option<NaiveDate>,
    last: Option<NaiveDate>,
}

/// A stretch of activity: `[start, end)`, and with a cron the firing
/// that opens the next one, when it is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
}

impl Firings {
    /// The stretch opened by the firing at `fired`, merged with the windows
    /// of the firings before its end, followed up to `horizon`.
    fn span(&self, mut fired: DateTime<Utc>, horizon: DateTime<Utc>) -> Span {
        let start = fired;
        let mut end = fired + self.duration;
        let mut next = None;
        while end <= horizon {
            next = self.next(fired);
            match next {
                Some(n) if n <= end => {
                    fired = n;
                    end = n + self.duration;
                    next = None;
                }
                _ => break,
            }
        }
        Span { start, end, next }
    }

    /// The last firing at or before `t`.
    fn prev(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.spec
            .prev_at_or_before_utc(self.tz, t, self.first, self.last)
    }

    /// The first firing after `t`.
    fn next(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.spec.next_after_utc(self.tz, t, self.first, self.last)
    }
}

/// Where a campaign stands at an instant ([`CompiledCampaign::phase_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No window is open, and one will open at `next`.
    Upcoming {
        /// When the next window opens.
        next: DateTime<Utc>,
    },
    /// A window is open.
    Running,
    /// No window is open and none ever will.
    Ended,
}

/// What a campaign looks like at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct State {
    /// The open window, if any.
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The next instant after `now` at which a window opens or closes.
    pub next: Option<DateTime<Utc>>,
    /// When the last window closed, if it closed at or before `now`.
    pub last_close: Option<DateTime<Utc>>,
}

/// Validates `c` in [`DEFAULT_TZ`] unless it names its own time zone.
pub fn compile(c: &Campaign) -> Result<CompiledCampaign, Invalid> {
    compile_in(c, DEFAULT_TZ)
}

/// Validates `c`; `default_tz` applies when the campaign names no time zone
/// (the server's `BANGTIN_TZ`). Checks values only: that the target panels,
/// groups and messages exist is the caller's job.
pub fn compile_in(c: &Campaign, default_tz: Tz) -> Result<CompiledCampaign, Invalid> {
    let b = &c.body;
    let name_len = b.name.trim().chars().count();
    if name_len == 0 || b.name.chars().count() > 200 {
        return Err(Invalid::new(Reason::CampaignName));
    }
    if b.messages.is_empty() || b.messages.len() > MAX_PLAYLIST {
        return Err(Invalid::new(Reason::PlaylistLength {
            max: MAX_PLAYLIST,
            n: b.messages.len(),
        }));
    }
    for m in &b.messages {
        if !(1..=MAX_DWELL_S).contains(&m.dwell_s) {
            return Err(Invalid::new(Reason::DwellRange {
                dwell: m.dwell_s,
                message: m.id.to_string(),
                max: MAX_DWELL_S,
            }));
        }
    }
    if b.targets.is_empty() {
        return Err(Invalid::new(Reason::CampaignNoTargets));
    }
    for (what, date) in [("start", b.start), ("end", b.end)] {
        if let Some(d) = date.filter(|d| !super::YEARS.contains(&d.year())) {
            return Err(Invalid::new(Reason::DateRange {
                end: what == "end",
                date: d.to_string(),
                first: *super::YEARS.start(),
                last: *super::YEARS.end(),
            }));
        }
    }
    if let (Some(s), Some(e)) = (b.start, b.end) {
        if s > e {
            return Err(Invalid::new(Reason::StartAfterEnd {
                start: s.to_string(),
                end: e.to_string(),
            }));
        }
    }
    let tz = match &b.tz {
        Some(name) => parse_tz(name)?,
        None => default_tz,
    };
    let timing = match (&b.cron, b.duration_s) {
        (Some(expr), Some(d)) => {
            if !(1..=MAX_DURATION_S).contains(&d) {
                return Err(Invalid::new(Reason::DurationRange {
                    duration: d,
                    max: MAX_DURATION_S,
                }));
            }
            Timing::Cron(Firings {
                spec: parse_cron(expr)?,
                tz,
                duration: TimeDelta::seconds(d as i64),
                first: b.start,
                last: b.end,
            })
        }
        (Some(_), None) => return Err(Invalid::new(Reason::CronNeedsDuration)),
        (None, Some(_)) => return Err(Invalid::new(Reason::DurationNeedsCron)),
        (None, None) => Timing::Days {
            start: b
                .start
                .map_or(DateTime::<Utc>::MIN_UTC, |d| midnight(tz, d)),
            end: b
                .end
                .and_then(|d| d.succ_opt())
                .map_or(DateTime::<Utc>::MAX_UTC, |d| midnight(tz, d)),
        },
    };
    Ok(CompiledCampaign {
        campaign: c.clone(),
        tz,
        timing,
    })
}

fn midnight(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    earliest(tz, d.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

impl CompiledCampaign {
    /// The campaign's id.
    pub fn id(&self) -> &Id {
        &self.campaign.id
    }

    /// The campaign's priority: among campaigns whose windows are open on
    /// a panel, the highest wins; equal ones take turns.
    pub fn priority(&self) -> i32 {
        self.campaign.body.priority
    }

    /// The campaign's time zone.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The cron, when the campaign has one.
    pub fn cron(&self) -> Option<&CronSpec> {
        match &self.timing {
            Timing::Cron(f) => Some(&f.spec),
            Timing::Days { .. } => None,
        }
    }

    /// Whether any of the campaign's targets (every panel, a group, or one
    /// panel) takes in `panel`.
    pub fn targets(&self, panel: &Panel) -> bool {
        self.campaign.body.targets.iter().any(|t| t.matches(panel))
    }

    /// The activity window containing `now` (start inclusive, end exclusive), or None.
    pub fn window_at(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        self.state_at(now).window
    }

    /// The next instant after `now` at which a window opens or closes.
    /// With a cron, a firing inside an open window counts: it restarts the
    /// window.
    pub fn next_boundary_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.state_at(now).next
    }

    /// The campaign's stretches of activity (windows that overlap or touch,
    /// merged) that overlap `[from, to)`, in order, at most `max` of them.
    /// The first may be reported to start later than it did and the last
    /// to end earlier (see [`Self::span_from`]): clip both to the span.
    pub fn windows(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        max: usize,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let mut out = Vec::new();
        let mut span = self.span_from(from, to);
        while let Some(s) = span.filter(|s| s.start < to && out.len() < max) {
            out.push((s.start, s.end));
            span = self.span_after(&s, to);
        }
        out
    }

    /// Whether the campaign runs at `now`, will run later, or has ended.
    pub fn phase_at(&self, now: DateTime<Utc>) -> Phase {
        let state = self.state_at(now);
        match (state.window, state.next) {
            (Some(_), _) => Phase::Running,
            (None, Some(next)) => Phase::Upcoming { next },
            (None, None) => Phase::Ended,
        }
    }

    /// Whether at least one message can be shown on `profile`.
    pub fn has_playable(&self, catalog: &dyn Catalog, profile: &Profile) -> bool {
        self.campaign
            .body
            .messages
            .iter()
            .any(|m| catalog.pages(&m.id, profile).is_some_and(|p| p > 0))
    }

    /// The stretch of activity (windows that overlap or touch, merged)
    /// containing `t`, or else the first one starting after `t` and no later
    /// than `horizon`. A stretch containing `t` may be reported to start
    /// later than it did (at the latest firing at or before `t`, never after
    /// `t`); its end is exact when it is at or before `horizon`, otherwise
    /// only known to be after it. Costs a cron step per firing up to
    /// `horizon`.
    pub(crate) fn span_from(&self, t: DateTime<Utc>, horizon: DateTime<Utc>) -> Option<Span> {
        match &self.timing {
            Timing::Days { start, end } => (*end > t && *start <= horizon).then_some(Span {
                start: *start,
                end: *end,
                next: None,
            }),
            Timing::Cron(f) => match f.prev(t) {
                Some(p) if p + f.duration > t => Some(f.span(p, horizon)),
                _ => f
                    .next(t)
                    .filter(|n| *n <= horizon)
                    .map(|n| f.span(n, horizon)),
            },
        }
    }

    /// The stretch after `span` (which came from [`Self::span_from`] or
    /// here with the same `horizon`) if it starts no later than `horizon`.
    pub(crate) fn span_after(&self, span: &Span, horizon: DateTime<Utc>) -> Option<Span> {
        match &self.timing {
            Timing::Days { .. } => None,
            Timing::Cron(f) => span
                .next
                .filter(|n| *n <= horizon && span.end <= horizon)
                .map(|n| f.span(n, horizon)),
        }
    }

    pub(crate) fn state_at(&self, now: DateTime<Utc>) -> State {
        match &self.timing {
            Timing::Cron(f) => {
                let prev = f.prev(now);
                let next_fire = f.next(now);
                let window = prev.map(|p| (p, p + f.duration)).filter(|w| now < w.1);
                let next = match (window, next_fire) {
                    (Some(w), Some(n)) => Some(w.1.min(n)),
                    (Some(w), None) => Some(w.1),
                    (None, n) => n,
                };
                State {
                    window,
                    next,
                    last_close: prev.map(|p| p + f.duration).filter(|e| *e <= now),
                }
            }
            Timing::Days { start, end } => {
                let open = *start <= now && now < *end;
                let next = if now < *start {
                    Some(*start)
                } else if now < *end && *end != DateTime::<Utc>::MAX_UTC {
                    Some(*end)
                } else {
                    None
                };
                State {
                    window: open.then_some((*start, *end)),
                    next,
                    last_close: (*end <= now).then_some(*end),
                }
            }
        }
    }
}
