//! The rotation: which campaign's message is on the glass, as a function of
//! time alone.
//!
//! Campaigns sharing the top priority take turns, one message each, in
//! campaign id order. A campaign's place in its playlist (its cursor) moves
//! on only when one of its messages has played to its end, so the campaign
//! continues where it left off when other campaigns' windows open or close,
//! when a higher priority or an alert pre-empts it, and from one of its own
//! windows to the next. A message cut short (its window closed, or something
//! pre-empted it) plays again from its first page at the campaign's next
//! turn; a window opening beside the message on the glass lets it finish.
//!
//! There is no memory between calls: the state at an instant is found by
//! replaying the day. [`Rotation`] starts at local midnight from a closed
//! form, then walks the day's changes (windows opening and closing, alerts)
//! and crosses each stretch between two changes in closed form too (a
//! binary search over rounds of turns), so the cost grows with the number
//! of changes since midnight, not with the time elapsed.
//!
//! At local midnight the places are set again: the campaigns whose windows
//! opened before midnight and are still open are taken to have shared the
//! panel in turn since the latest of those openings; the others start the
//! day at their first message. Where nothing opened, closed or pre-empted
//! them during the previous day, that is exactly where the walk arrived, so
//! nothing shows at midnight; otherwise their places jump there, once.
//! Bounding the replay to a day keeps its cost to a few thousand steps for
//! a campaign beside a window that opens every minute.

use std::ops::Range;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::campaign::{CompiledCampaign, Span};
use super::cron::earliest;
use super::{Catalog, Show};
use crate::domain::{Alert, Panel, Profile};

/// One playable entry of a campaign's playlist.
struct Entry {
    /// Index into the campaign's `messages`.
    message: usize,
    pages: u32,
    dwell_ms: i64,
    /// The duration of the playable entries before it.
    before: i64,
}

impl Entry {
    fn duration(&self) -> i64 {
        self.pages as i64 * self.dwell_ms
    }
}

struct Member<'a> {
    c: &'a CompiledCampaign,
    entries: Vec<Entry>,
    /// The duration of all entries.
    cycle: i64,
    shortest: i64,
    longest: i64,
    /// The entry on the glass, or the one that plays at the next turn.
    cursor: usize,
    /// The stretch of activity containing the walk's position, or the next
    /// one (see [`CompiledCampaign::span_from`]); `None`: no more today.
    span: Option<Span>,
    active: bool,
}

impl Member<'_> {
    fn n(&self) -> usize {
        self.entries.len()
    }

    /// The duration of entries `0..i`, `i` up to `n`.
    fn before(&self, i: usize) -> i64 {
        self.entries.get(i).map_or(self.cycle, |e| e.before)
    }

    /// How long `k` turns take, starting at the cursor (saturating: only
    /// compared with spans that fit).
    fn turns(&self, k: i64) -> i64 {
        let (c, n) = (self.cursor, self.n());
        let rest = (k % n as i64) as usize;
        let part = if c + rest <= n {
            self.before(c + rest) - self.before(c)
        } else {
            self.cycle - self.before(c) + self.before(c + rest - n)
        };
        (k / n as i64)
            .saturating_mul(self.cycle)
            .saturating_add(part)
    }

    fn entry_after(&self, k: i64) -> &Entry {
        &self.entries[(self.cursor + (k % self.n() as i64) as usize) % self.n()]
    }

    fn step(&mut self, k: i64) {
        self.cursor = (self.cursor + (k % self.n() as i64) as usize) % self.n();
    }
}

#[derive(Debug, Clone, Copy)]
struct Turn {
    member: usize,
    started: DateTime<Utc>,
    /// Since when this member has been on the glass without a break: when
    /// it is alone its turns follow one another.
    since: DateTime<Utc>,
}

/// The turn that came last in a level.
#[derive(Debug, Clone, Copy)]
struct Last {
    member: usize,
    /// Cut short: its entry plays again at its next turn.
    cut: bool,
    end: DateTime<Utc>,
    since: DateTime<Utc>,
}

/// The campaigns of one priority.
struct Level {
    members: Range<usize>,
    on_air: Option<Turn>,
    last: Option<Last>,
}

/// What the rotation puts on the glass at an instant.
pub(super) struct OnAir {
    pub show: Show,
    /// The start of the current page slot, or of the campaign's unbroken
    /// stretch when it shows its only one-page message.
    pub since: DateTime<Utc>,
    /// The next page flip or turn, if any.
    pub flip: Option<DateTime<Utc>>,
}

/// The rotation of one panel replayed over one local day.
pub(super) struct Rotation<'a> {
    /// Sorted by priority (highest first), then id.
    members: Vec<Member<'a>>,
    /// Highest priority first.
    levels: Vec<Level>,
    /// Alerts on this panel, `[start, end)`.
    alerts: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    day: DateTime<Utc>,
    next_day: DateTime<Utc>,
    horizon: DateTime<Utc>,
    /// The walk has reached this instant.
    pos: DateTime<Utc>,
    /// The level on the glass at `pos`.
    top: Option<usize>,
    /// A buffer for the active members of a level.
    scratch: Vec<usize>,
}

/// The first instant of the local day containing `t`, and of the next day.
fn day_of(tz: Tz, t: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let date = t.with_timezone(&tz).date_naive();
    let midnight = |d: chrono::NaiveDate| earliest(tz, d.and_hms_opt(0, 0, 0).expect("midnight"));
    let start = midnight(date);
    let next = date.succ_opt().map_or(DateTime::<Utc>::MAX_UTC, midnight);
    (start.min(t), next)
}

impl<'a> Rotation<'a> {
    /// The rotation of `panel` on the local day (in `tz`) containing `at`,
    /// among `candidates` (campaigns targeting the panel; those of lower
    /// priority than all the others may be left out); it can be walked up
    /// to `horizon`, at most the end of that day.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        panel: &Panel,
        candidates: impl Iterator<Item = &'a CompiledCampaign>,
        alerts: &[Alert],
        catalog: &dyn Catalog,
        profile: &Profile,
        tz: Tz,
        at: DateTime<Utc>,
        horizon: DateTime<Utc>,
    ) -> Rotation<'a> {
        let (day, next_day) = day_of(tz, at);
        let horizon = horizon.min(next_day).max(at);
        let mut members: Vec<Member> = candidates
            .filter_map(|c| {
                let mut entries = Vec::with_capacity(c.campaign.body.messages.len());
                let mut cycle = 0;
                for (i, m) in c.campaign.body.messages.iter().enumerate() {
                    let Some(pages) = catalog.pages(&m.id, profile).filter(|p| *p > 0) else {
                        continue;
                    };
                    let e = Entry {
                        message: i,
                        pages,
                        dwell_ms: m.dwell_s as i64 * 1000,
                        before: cycle,
                    };
                    cycle += e.duration();
                    entries.push(e);
                }
                let shortest = entries.iter().map(Entry::duration).min()?;
                let longest = entries.iter().map(Entry::duration).max()?;
                Some(Member {
                    c,
                    entries,
                    cycle,
                    shortest,
                    longest,
                    cursor: 0,
                    span: c.span_from(day, horizon),
                    active: false,
                })
            })
            .collect();
        members.sort_by(|a, b| (b.c.priority(), a.c.id()).cmp(&(a.c.priority(), b.c.id())));
        let mut levels: Vec<Level> = Vec::new();
        for (i, m) in members.iter().enumerate() {
            match levels.last_mut() {
                Some(l) if members[l.members.start].c.priority() == m.c.priority() => {
                    l.members.end = i + 1
                }
                _ => levels.push(Level {
                    members: i..i + 1,
                    on_air: None,
                    last: None,
                }),
            }
        }
        let alerts = alerts
            .iter()
            .filter(|a| a.cancelled_at.is_none() && a.body.targets.iter().any(|t| t.matches(panel)))
            .filter(|a| a.ends_at > day && a.created_at <= horizon)
            .map(|a| (a.created_at, a.ends_at))
            .collect();
        let mut r = Rotation {
            members,
            levels,
            alerts,
            day,
            next_day,
            horizon,
            pos: day,
            top: None,
            scratch: Vec::new(),
        };
        r.start_of_day();
        r
    }

    /// Whether [`Rotation::advance`] can reach `t`.
    pub(super) fn reaches(&self, t: DateTime<Utc>) -> bool {
        self.pos <= t && t <= self.horizon && t < self.next_day
    }

    /// The first instant of the next day: the places are set again there.
    pub(super) fn next_day(&self) -> DateTime<Utc> {
        self.next_day
    }

    /// Campaigns open since before midnight share the panel as if in turn
    /// since the latest of their openings.
    fn start_of_day(&mut self) {
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        for l in 0..self.levels.len() {
            let mut open = Vec::new();
            let mut anchor = None;
            for m in self.levels[l].members.clone() {
                // A span from midnight that starts before it starts at the
                // opening of the window open at midnight.
                if let Some(span) = self.members[m].span.filter(|s| s.start < self.day) {
                    open.push(m);
                    anchor = anchor.max(Some(span.start.max(epoch)));
                }
            }
            let Some(anchor) = anchor else { continue };
            if anchor < self.day {
                self.evolve(l, &open, anchor, self.day, false);
            }
        }
    }

    /// Walks to `to` (which [`Rotation::reaches`]).
    pub(super) fn advance(&mut self, to: DateTime<Utc>) {
        loop {
            let pos = self.pos;
            let mut next = to;
            for m in &mut self.members {
                while let Some(span) = m.span.filter(|s| s.end <= pos) {
                    m.span = m.c.span_after(&span, self.horizon);
                }
                m.active = m.span.is_some_and(|s| s.start <= pos);
                if let Some(s) = m.span {
                    next = next.min(if m.active { s.end } else { s.start });
                }
            }
            let mut alert = false;
            for &(s, e) in &self.alerts {
                alert |= s <= pos && pos < e;
                for edge in [s, e] {
                    if edge > pos {
                        next = next.min(edge);
                    }
                }
            }
            self.top = if alert {
                None
            } else {
                self.levels
                    .iter()
                    .position(|l| l.members.clone().any(|m| self.members[m].active))
            };
            // Turns that ended are done; cut those that may no longer play.
            for (i, l) in self.levels.iter_mut().enumerate() {
                let Some(t) = l.on_air else { continue };
                let m = &mut self.members[t.member];
                let end = t.started + TimeDelta::milliseconds(m.entries[m.cursor].duration());
                let done = end <= pos;
                if done || self.top != Some(i) || !m.active {
                    if done {
                        m.step(1);
                    }
                    l.on_air = None;
                    l.last = Some(Last {
                        member: t.member,
                        cut: !done,
                        end: end.min(pos),
                        since: t.since,
                    });
                }
            }
            if let Some(top) = self.top {
                let mut active = std::mem::take(&mut self.scratch);
                active.clear();
                active.extend(
                    self.levels[top]
                        .members
                        .clone()
                        .filter(|&m| self.members[m].active),
                );
                self.evolve(top, &active, pos, next, pos >= to);
                self.scratch = active;
            }
            if pos >= to {
                break;
            }
            self.pos = next;
        }
    }

    /// Plays level `l` with members `active` (sorted, not empty) from `from`
    /// to just before `to` (`to` itself when `at_to`, the state an instant
    /// shows), in closed form.
    fn evolve(
        &mut self,
        l: usize,
        active: &[usize],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        at_to: bool,
    ) {
        let mut t = from;
        if let Some(turn) = self.levels[l].on_air {
            let m = &mut self.members[turn.member];
            let end = turn.started + TimeDelta::milliseconds(m.entries[m.cursor].duration());
            if end > to || (end == to && !at_to) {
                return;
            }
            m.step(1);
            self.levels[l].on_air = None;
            self.levels[l].last = Some(Last {
                member: turn.member,
                cut: false,
                end,
                since: turn.since,
            });
            t = end;
        }
        let last = self.levels[l].last;
        let first = match last {
            Some(p) if p.cut && active.contains(&p.member) => {
                active.iter().position(|&a| a == p.member)
            }
            Some(p) => active.iter().position(|&a| a > p.member),
            None => None,
        }
        .unwrap_or(0);
        let order = |i: usize| active[(first + i) % active.len()];
        // Turns start on whole milliseconds from `t`: the last one to
        // start is the one running at `t + x`.
        let span = to - t;
        let whole = span.num_milliseconds();
        let x = if at_to || span > TimeDelta::milliseconds(whole) {
            whole
        } else {
            whole - 1
        };
        if x < 0 {
            return;
        }
        // Round k: every member, in turn from `first`, plays its k-th entry
        // from its cursor. Rounds last between the sums of the shortest and
        // of the longest entries.
        let elapsed = |k: i64| -> i64 {
            active
                .iter()
                .fold(0i64, |sum, &m| sum.saturating_add(self.members[m].turns(k)))
        };
        let (shortest, longest) = active.iter().fold((0i64, 0i64), |(s, l), &m| {
            let m = &self.members[m];
            (s.saturating_add(m.shortest), l.saturating_add(m.longest))
        });
        let (mut lo, mut hi) = (x / longest.max(1), x / shortest.max(1) + 1);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if elapsed(mid) <= x {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let k = lo;
        let mut offset = elapsed(k);
        let mut j = 0;
        for i in 0..active.len() {
            let d = self.members[order(i)].entry_after(k).duration();
            if x < offset + d {
                j = i;
                break;
            }
            offset += d;
        }
        for i in 0..active.len() {
            self.members[order(i)].step(if i < j { k + 1 } else { k });
        }
        let member = order(j);
        let started = t + TimeDelta::milliseconds(offset);
        // Alone, its turns follow one another from `t`, and from before `t`
        // if its previous turn ended right there.
        let since = if active.len() == 1 {
            last.filter(|p| p.member == member && !p.cut && p.end == t)
                .map_or(t, |p| p.since)
        } else {
            started
        };
        self.levels[l].on_air = Some(Turn {
            member,
            started,
            since,
        });
    }

    /// What is on the glass at the instant the walk has reached, if a
    /// campaign is.
    pub(super) fn on_air(&self) -> Option<OnAir> {
        let level = &self.levels[self.top?];
        let turn = level.on_air?;
        let m = &self.members[turn.member];
        let e = &m.entries[m.cursor];
        let item = &m.c.campaign.body.messages[e.message];
        let alone = level
            .members
            .clone()
            .filter(|&i| self.members[i].active)
            .count()
            == 1;
        // Its only one-page message, alone: the glass does not change from
        // one turn to the next.
        let (page, since, flip) = if alone && m.n() == 1 && e.pages == 1 {
            (0, turn.since, None)
        } else {
            let page = (self.pos - turn.started).num_milliseconds().max(0) / e.dwell_ms;
            let since = turn.started + TimeDelta::milliseconds(page * e.dwell_ms);
            (
                page as u32,
                since,
                Some(since + TimeDelta::milliseconds(e.dwell_ms)),
            )
        };
        Some(OnAir {
            show: Show::Message {
                campaign: m.c.id().clone(),
                message: item.id.clone(),
                page: page + 1,
                pages: e.pages,
                dwell_s: item.dwell_s,
            },
            since,
            flip,
        })
    }
}
