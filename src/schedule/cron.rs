//! Cron expressions: parsing and evaluation in a time zone.
//!
//! Three forms are accepted (see [`parse_cron`]):
//! - the standard 5-field Unix form, translated here field by field (the
//!   `cron` crate rejects it and numbers weekdays differently);
//! - the 6/7-field form with seconds first and an optional year, parsed by
//!   the `cron` crate and kept with that crate's semantics;
//! - the `@` shorthands of crontab(5).
//!
//! Both long forms end up in the same bit sets, evaluated by one engine that
//! walks the local calendar month by month with bit tricks, so a query costs
//! a handful of operations plus one or two time zone look-ups, never a
//! minute-by-minute scan.
//!
//! # Local times that do not exist or exist twice
//! A firing is a local wall-clock time. It is mapped to an instant as "the
//! first instant at which the local clock shows that time or later":
//! - a local time skipped by a spring-forward transition (02:30 in Berlin on
//!   the last Sunday of March) fires at the first instant after the gap
//!   (03:00 CEST); several firings inside one gap merge into that instant;
//! - a local time that occurs twice on a fall-back day (02:30 in Berlin on
//!   the last Sunday of October) fires once, at its first occurrence (CEST).
//!   A cron that fires every few minutes therefore pauses during the
//!   repeated hour.
//!
//! This mapping never decreases as local time increases, which is what lets
//! [`CronSpec::next_after`] and [`CronSpec::prev_at_or_before`] search in
//! local time and stay exact.
//!
//! This module never reads the clock: every query takes its instant.

use std::fmt;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;

use crate::domain::Invalid;
use crate::i18n::catalogue::{CronField, CronUnit, Run};
use crate::i18n::{CronPart, CronText, CronWhy, Lang, Reason};

/// The calendar the search walks. The `cron` crate's years stop at 2100;
/// nothing here is scheduled before 1970.
const FIRST_YEAR: i32 = 1970;
const LAST_YEAR: i32 = 2399;
/// Years are kept as bits from 1970; three words reach 2161.
const YEAR_BITS: i32 = 192;

/// The parsed sets, one bit per allowed value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fields {
    sec: u64,
    min: u64,
    hour: u64,
    /// Bits 1..=31.
    dom: u64,
    /// Bits 1..=12.
    month: u64,
    /// Bits 0..=6, 0 = Sunday (chrono's `num_days_from_sunday`).
    dow: u64,
    /// Bit `y - 1970`; `None` = every year.
    years: Option<[u64; 3]>,
    /// crontab(5): when both day fields are restricted, a day matches if
    /// either does. Otherwise (and always in the 6/7-field form) both must.
    dom_or_dow: bool,
}

/// A parsed cron expression, with its original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSpec {
    text: String,
    fields: Fields,
}

impl fmt::Display for CronSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Parses a cron expression in any of the accepted forms.
///
/// **5 fields** (`minute hour day-of-month month day-of-week`), as crontab(5):
/// `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n` and `a-b/n` (and
/// `a/n`, read as `a-max/n`), month names `jan`–`dec`, weekday names
/// `sun`–`sat` (any case), weekdays 0–7 with 0 and 7 = Sunday. Day rule as in
/// Vixie cron/cronie: a day field counts as restricted unless its text
/// starts with `*`; when both day-of-month and day-of-week are restricted a
/// day matches if **either** matches (`0 7 1 * mon` = the 1st and every
/// Monday), otherwise both must (so `0 7 */2 * mon` = odd-numbered Mondays).
///
/// **6 or 7 fields** (`sec min hour dom month dow [year]`): exactly the
/// `cron` crate's syntax and semantics: numeric weekdays 1 = Sunday … 7 =
/// Saturday (0 is refused), day-of-month and day-of-week must **both** match,
/// `?` allowed in the day fields, years 1970–2100.
///
/// **Shorthands**: `@yearly` = `@annually` = `0 0 1 1 *`, `@monthly` =
/// `0 0 1 * *`, `@weekly` = `0 0 * * 0`, `@daily` = `@midnight` = `0 0 * * *`,
/// `@hourly` = `0 * * * *`. `@reboot` is refused.
///
/// Expressions that never fire within [`super::YEARS`] (`0 0 30 2 *`, a
/// year before 2000) are refused too.
pub fn parse_cron(expr: &str) -> Result<CronSpec, Invalid> {
    let text = expr.trim();
    let shown: String = text.chars().take(100).collect();
    let bad = |why: CronWhy| {
        Invalid::new(Reason::InvalidCron {
            shown: shown.clone(),
            why,
        })
    };
    let fields = if let Some(word) = text.strip_prefix('@') {
        let unix = match word.to_ascii_lowercase().as_str() {
            "yearly" | "annually" => "0 0 1 1 *",
            "monthly" => "0 0 1 * *",
            "weekly" => "0 0 * * 0",
            "daily" | "midnight" => "0 0 * * *",
            "hourly" => "0 * * * *",
            "reboot" => return Err(bad(CronWhy::Reboot)),
            _ => {
                return Err(bad(CronWhy::UnknownShorthand(
                    word.chars().take(40).collect(),
                )))
            }
        };
        parse_unix(&unix.split_whitespace().collect::<Vec<_>>()).map_err(bad)?
    } else {
        let parts: Vec<&str> = text.split_whitespace().collect();
        match parts.len() {
            0 => return Err(bad(CronWhy::Empty)),
            5 => parse_unix(&parts).map_err(bad)?,
            6 | 7 => parse_crate(text).map_err(bad)?,
            n => return Err(bad(CronWhy::FieldCount(n))),
        }
    };
    let spec = CronSpec {
        text: text.to_string(),
        fields,
    };
    let (first, last) = (*super::YEARS.start(), *super::YEARS.end());
    let from = NaiveDate::from_ymd_opt(first, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("valid date");
    let until = NaiveDate::from_ymd_opt(last, 12, 31).expect("valid date");
    if spec.next_naive(from, until).is_none() {
        return Err(Invalid::new(Reason::CronNeverFires { shown, first, last }));
    }
    Ok(spec)
}

fn last_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(LAST_YEAR, 12, 31).expect("valid date")
}

fn first_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(FIRST_YEAR, 1, 1).expect("valid date")
}

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DOW_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn parse_unix(parts: &[&str]) -> Result<Fields, CronWhy> {
    let min = unix_field(parts[0], CronField::Minute, 0, 59, &[], 0)?;
    let hour = unix_field(parts[1], CronField::Hour, 0, 23, &[], 0)?;
    let dom = unix_field(parts[2], CronField::DayOfMonth, 1, 31, &[], 0)?;
    let month = unix_field(parts[3], CronField::Month, 1, 12, &MONTH_NAMES, 1)?;
    let mut dow = unix_field(parts[4], CronField::DayOfWeek, 0, 7, &DOW_NAMES, 0)?;
    if dow & (1 << 7) != 0 {
        dow = (dow | 1) & 0x7f;
    }
    Ok(Fields {
        sec: 1,
        min,
        hour,
        dom,
        month,
        dow,
        years: None,
        dom_or_dow: !parts[2].starts_with('*') && !parts[4].starts_with('*'),
    })
}

/// One field of the Unix form as a bit set.
fn unix_field(
    text: &str,
    field: CronField,
    lo: u32,
    hi: u32,
    names: &[&str],
    name_base: u32,
) -> Result<u64, CronWhy> {
    let shown = || text.chars().take(40).collect::<String>();
    let value = |s: &str| -> Result<u32, CronWhy> {
        if let Ok(v) = s.parse::<u32>() {
            if v < lo || v > hi {
                return Err(CronWhy::OutOfRange {
                    field,
                    text: shown(),
                    value: v,
                    lo,
                    hi,
                });
            }
            return Ok(v);
        }
        let lower = s.to_ascii_lowercase();
        names
            .iter()
            .position(|n| *n == lower)
            .map(|i| i as u32 + name_base)
            .ok_or_else(|| CronWhy::NotANumber {
                field,
                text: shown(),
                item: s.chars().take(40).collect(),
            })
    };
    let mut bits = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 =
                    s.parse()
                        .ok()
                        .filter(|&n| n >= 1)
                        .ok_or_else(|| CronWhy::BadStep {
                            field,
                            text: shown(),
                            step: s.chars().take(40).collect(),
                        })?;
                (r, Some(step))
            }
            None => (item, None),
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let a = value(range)?;
            (a, if step.is_some() { hi } else { a })
        };
        if a > b {
            return Err(CronWhy::Backwards {
                field,
                text: shown(),
                range: range.chars().take(40).collect(),
            });
        }
        let step = step.unwrap_or(1);
        let mut v = a;
        while v <= b {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

fn parse_crate(text: &str) -> Result<Fields, CronWhy> {
    use cron::TimeUnitSpec;
    let s: cron::Schedule = text
        .parse()
        .map_err(|e: cron::error::Error| CronWhy::Library(e.to_string()))?;
    fn bits(spec: &impl TimeUnitSpec, shift: u32) -> u64 {
        spec.iter().fold(0, |m, v| m | 1 << (v - shift))
    }
    let years = if s.years().is_all() {
        None
    } else {
        let mut y = [0u64; 3];
        for v in s.years().iter() {
            let i = v as i32 - FIRST_YEAR;
            if (0..YEAR_BITS).contains(&i) {
                y[i as usize / 64] |= 1 << (i % 64);
            }
        }
        Some(y)
    };
    Ok(Fields {
        sec: bits(s.seconds(), 0),
        min: bits(s.minutes(), 0),
        hour: bits(s.hours(), 0),
        dom: bits(s.days_of_month(), 0),
        month: bits(s.months(), 0),
        // The crate numbers weekdays 1 = Sunday.
        dow: bits(s.days_of_week(), 1),
        years,
        dom_or_dow: false,
    })
}

/// Lowest set bit at or above `from`.
fn next_bit(mask: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let m = mask >> from;
    (m != 0).then(|| from + m.trailing_zeros())
}

/// Highest set bit at or below `upto`.
fn prev_bit(mask: u64, upto: u32) -> Option<u32> {
    let m = if upto >= 63 {
        mask
    } else {
        mask & ((2u64 << upto) - 1)
    };
    (m != 0).then(|| 63 - m.leading_zeros())
}

fn days_in_month(y: i32, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map_or(28, |d| d.day())
}

fn first_of_next_month(d: NaiveDate) -> Option<NaiveDate> {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
}

fn last_of_prev_month(d: NaiveDate) -> Option<NaiveDate> {
    d.with_day(1)?.pred_opt()
}

type Tod = (u32, u32, u32);

impl Fields {
    fn year_ok(&self, y: i32) -> bool {
        match &self.years {
            None => true,
            Some(bits) => {
                let i = y - FIRST_YEAR;
                (0..YEAR_BITS).contains(&i) && bits[i as usize / 64] >> (i % 64) & 1 == 1
            }
        }
    }

    /// The days of month `m` of year `y` on which this fires, as bits 1..=31.
    fn day_mask(&self, y: i32, m: u32) -> u64 {
        let dim = days_in_month(y, m);
        let valid = (1u64 << (dim + 1)) - 2;
        let first =
            NaiveDate::from_ymd_opt(y, m, 1).map_or(0, |d| d.weekday().num_days_from_sunday());
        let mut week = 0u64;
        for j in 0..7 {
            if self.dow >> ((first + j) % 7) & 1 == 1 {
                week |= 1 << j;
            }
        }
        let weekdays = (week | week << 7 | week << 14 | week << 21 | week << 28) << 1;
        let days = if self.dom_or_dow {
            self.dom | weekdays
        } else {
            self.dom & weekdays
        };
        days & valid
    }

    /// First time of day at or after `from` that fires (the mirror of
    /// `prev_tod`, deliberately kept apart).
    fn next_tod(&self, (h0, m0, s0): Tod) -> Option<Tod> {
        let first_s = next_bit(self.sec, 0)?;
        let first_m = next_bit(self.min, 0)?;
        let mut h = next_bit(self.hour, h0)?;
        if h == h0 {
            if let Some(m) = next_bit(self.min, m0) {
                if m > m0 {
                    return Some((h, m, first_s));
                }
                if let Some(s) = next_bit(self.sec, s0) {
                    return Some((h, m, s));
                }
                if let Some(m2) = next_bit(self.min, m0 + 1) {
                    return Some((h, m2, first_s));
                }
            }
            h = next_bit(self.hour, h0 + 1)?;
        }
        Some((h, first_m, first_s))
    }

    /// Last time of day at or before `upto` that fires (the mirror of
    /// `next_tod`).
    fn prev_tod(&self, (h0, m0, s0): Tod) -> Option<Tod> {
        let last_s = prev_bit(self.sec, 59)?;
        let last_m = prev_bit(self.min, 59)?;
        let mut h = prev_bit(self.hour, h0)?;
        if h == h0 {
            if let Some(m) = prev_bit(self.min, m0) {
                if m < m0 {
                    return Some((h, m, last_s));
                }
                if let Some(s) = prev_bit(self.sec, s0) {
                    return Some((h, m, s));
                }
                if m0 > 0 {
                    if let Some(m2) = prev_bit(self.min, m0 - 1) {
                        return Some((h, m2, last_s));
                    }
                }
            }
            if h0 == 0 {
                return None;
            }
            h = prev_bit(self.hour, h0 - 1)?;
        }
        Some((h, last_m, last_s))
    }
}

fn tod(n: NaiveDateTime) -> Tod {
    (n.hour(), n.minute(), n.second())
}

fn at(d: NaiveDate, (h, m, s): Tod) -> Option<NaiveDateTime> {
    d.and_hms_opt(h, m, s)
}

/// The first instant at which the local clock of `tz` shows `n` or later:
/// the instant itself, the first of two (fall-back), or the end of a
/// spring-forward gap.
pub(crate) fn earliest(tz: Tz, n: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&n) {
        LocalResult::Single(d) => d.with_timezone(&Utc),
        LocalResult::Ambiguous(e, _) => e.with_timezone(&Utc),
        LocalResult::None => gap_end(tz, n),
    }
}

/// Binary search, in whole seconds, for the transition that skips over `n`.
/// Rare (once a year in zones with DST), so clarity beats speed.
fn gap_end(tz: Tz, n: NaiveDateTime) -> DateTime<Utc> {
    let local = |u: NaiveDateTime| {
        u + TimeDelta::seconds(tz.offset_from_utc_datetime(&u).fix().local_minus_utc() as i64)
    };
    // Offsets stay within ±15 h and gaps within a day, so these bracket it.
    let mut lo = n - TimeDelta::hours(40);
    let mut hi = n + TimeDelta::hours(40);
    while hi - lo > TimeDelta::seconds(1) {
        let mid = lo + TimeDelta::seconds((hi - lo).num_seconds() / 2);
        if local(mid) >= n {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Utc.from_utc_datetime(&hi)
}

fn floor_sec(n: NaiveDateTime) -> NaiveDateTime {
    n.with_nanosecond(0).unwrap_or(n)
}

impl CronSpec {
    /// The expression as written (trimmed).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The first firing strictly after `t`, in `t`'s time zone.
    pub fn next_after(&self, t: DateTime<Tz>) -> Option<DateTime<Tz>> {
        let tz = t.timezone();
        self.next_after_utc(tz, t.with_timezone(&Utc), None, None)
            .map(|u| u.with_timezone(&tz))
    }

    /// The last firing at or before `t`, in `t`'s time zone. A window that
    /// opened before `t` is found from here.
    pub fn prev_at_or_before(&self, t: DateTime<Tz>) -> Option<DateTime<Tz>> {
        let tz = t.timezone();
        self.prev_at_or_before_utc(tz, t.with_timezone(&Utc), None, None)
            .map(|u| u.with_timezone(&tz))
    }

    /// First firing after `t` whose local date is within `[first, last]`.
    /// Deliberately the mirror of `prev_at_or_before_utc`.
    pub(crate) fn next_after_utc(
        &self,
        tz: Tz,
        t: DateTime<Utc>,
        first: Option<NaiveDate>,
        last: Option<NaiveDate>,
    ) -> Option<DateTime<Utc>> {
        let last = last.map_or(last_date(), |l| l.min(last_date()));
        let mut start = floor_sec(t.with_timezone(&tz).naive_local()) + TimeDelta::seconds(1);
        if let Some(f) = first.and_then(|f| f.and_hms_opt(0, 0, 0)) {
            start = start.max(f);
        }
        loop {
            let n = self.next_naive(start, last)?;
            let u = earliest(tz, n);
            // Only false in the repeated hour of a fall-back day, for
            // firings whose first occurrence is already past.
            if u > t {
                return Some(u);
            }
            start = n + TimeDelta::seconds(1);
        }
    }

    /// Last firing at or before `t` whose local date is within `[first, last]`.
    /// Deliberately the mirror of `next_after_utc`.
    pub(crate) fn prev_at_or_before_utc(
        &self,
        tz: Tz,
        t: DateTime<Utc>,
        first: Option<NaiveDate>,
        last: Option<NaiveDate>,
    ) -> Option<DateTime<Utc>> {
        let first = first.map_or(first_date(), |f| f.max(first_date()));
        let lt = t.with_timezone(&tz);
        let local = lt.naive_local();
        let mut upto = floor_sec(local);
        // In the repeated hour of a fall-back day, local times later than
        // `t`'s first occurred an hour ago: they are still candidates.
        if let LocalResult::Ambiguous(e, _) = tz.from_local_datetime(&upto) {
            let ahead = e.offset().fix().local_minus_utc() - lt.offset().fix().local_minus_utc();
            if ahead > 0 {
                upto += TimeDelta::seconds(ahead as i64);
            }
        }
        if let Some(l) = last.and_then(|l| l.and_hms_opt(23, 59, 59)) {
            upto = upto.min(l);
        }
        loop {
            let n = self.prev_naive(upto, first)?;
            let u = earliest(tz, n);
            if u <= t {
                return Some(u);
            }
            upto = n - TimeDelta::seconds(1);
        }
    }

    /// First matching local time at or after `from`, on or before `last`.
    /// Deliberately the mirror of `prev_naive` (forward instead of back):
    /// the two walks are kept side by side, not folded into one.
    fn next_naive(&self, from: NaiveDateTime, last: NaiveDate) -> Option<NaiveDateTime> {
        let f = &self.fields;
        let mut date = from.date();
        let mut start = tod(from);
        loop {
            if date > last {
                return None;
            }
            let (y, m) = (date.year(), date.month());
            if !f.year_ok(y) {
                date = NaiveDate::from_ymd_opt(y + 1, 1, 1)?;
                start = (0, 0, 0);
                continue;
            }
            if f.month >> m & 1 == 1 {
                let days = f.day_mask(y, m);
                let mut d = date.day();
                while let Some(dd) = next_bit(days, d) {
                    let from_tod = if dd == date.day() { start } else { (0, 0, 0) };
                    if let Some(t) = f.next_tod(from_tod) {
                        let day = date.with_day(dd)?;
                        return (day <= last).then(|| at(day, t)).flatten();
                    }
                    d = dd + 1;
                }
            }
            date = first_of_next_month(date)?;
            start = (0, 0, 0);
        }
    }

    /// Last matching local time at or before `upto`, on or after `first`.
    /// Deliberately the mirror of `next_naive`.
    fn prev_naive(&self, upto: NaiveDateTime, first: NaiveDate) -> Option<NaiveDateTime> {
        let f = &self.fields;
        let mut date = upto.date();
        let mut end = tod(upto);
        loop {
            if date < first {
                return None;
            }
            let (y, m) = (date.year(), date.month());
            if !f.year_ok(y) {
                date = NaiveDate::from_ymd_opt(y - 1, 12, 31)?;
                end = (23, 59, 59);
                continue;
            }
            if f.month >> m & 1 == 1 {
                let days = f.day_mask(y, m);
                let mut d = date.day();
                while let Some(dd) = prev_bit(days, d) {
                    let upto_tod = if dd == date.day() { end } else { (23, 59, 59) };
                    if let Some(t) = f.prev_tod(upto_tod) {
                        let day = date.with_day(dd)?;
                        return (day >= first).then(|| at(day, t)).flatten();
                    }
                    if dd <= 1 {
                        break;
                    }
                    d = dd - 1;
                }
            }
            date = last_of_prev_month(date)?;
            end = (23, 59, 59);
        }
    }

    /// A description in English for people, e.g. "at 07:00 on Monday to
    /// Friday" or "every 15 minutes" (the logs' and tests' form).
    pub fn describe(&self) -> String {
        self.description().render(Lang::En)
    }

    /// What the expression means, phrase by phrase, for the catalogue to
    /// put in a person's language.
    pub fn description(&self) -> CronText {
        let f = &self.fields;
        let mut out = Vec::new();
        let secs = bits_of(f.sec, 0, 59);
        let mins = bits_of(f.min, 0, 59);
        let hours = bits_of(f.hour, 0, 23);
        if mins.len() == 1 && secs.len() == 1 && hours.len() <= 6 {
            let times: Vec<String> = hours
                .iter()
                .map(|h| {
                    if secs[0] == 0 {
                        format!("{h:02}:{:02}", mins[0])
                    } else {
                        format!("{h:02}:{:02}:{:02}", mins[0], secs[0])
                    }
                })
                .collect();
            out.push(CronPart::At(times));
        } else {
            if secs != [0] {
                out.push(unit_phrase(&secs, 0, 59, CronUnit::Second));
            }
            if !(secs.len() > 1 && mins.len() == 60) {
                if mins.len() == 1 && secs == [0] {
                    out.push(CronPart::AtMinute(mins[0]));
                } else {
                    out.push(unit_phrase(&mins, 0, 59, CronUnit::Minute));
                }
            }
            if hours.len() < 24 {
                match step_of(&hours, 0, 23) {
                    Some(step) if step > 1 => out.push(CronPart::EveryHours(step)),
                    _ => out.push(CronPart::DuringHours(runs(&hours))),
                }
            }
        }
        let dom_all = f.dom == 0xffff_fffe;
        let dow_all = f.dow == 0x7f;
        let doms = runs(&bits_of(f.dom, 1, 31));
        // Monday first (0), as people in Vietnam write the week.
        let dows = runs(
            &(0..7u32)
                .filter(|i| f.dow >> ((i + 1) % 7) & 1 == 1)
                .collect::<Vec<_>>(),
        );
        match (dom_all, dow_all) {
            (true, true) => {}
            (false, true) => out.push(CronPart::OnDays(doms)),
            (true, false) => out.push(CronPart::OnWeekdays(dows)),
            (false, false) if f.dom_or_dow => out.push(CronPart::DaysOrWeekdays(doms, dows)),
            (false, false) => out.push(CronPart::DaysIfWeekdays(doms, dows)),
        }
        if f.month != 0x1ffe {
            out.push(CronPart::InMonths(runs(&bits_of(f.month, 1, 12))));
        }
        if let Some(y) = &f.years {
            let years: Vec<u32> = (0..YEAR_BITS as u32)
                .filter(|i| y[*i as usize / 64] >> (i % 64) & 1 == 1)
                .map(|i| i + FIRST_YEAR as u32)
                .collect();
            out.push(CronPart::InYears(runs(&years)));
        }
        CronText { parts: out }
    }
}

fn bits_of(mask: u64, lo: u32, hi: u32) -> Vec<u32> {
    (lo..=hi).filter(|v| mask >> v & 1 == 1).collect()
}

/// If `vals` is exactly `lo, lo+step, …` up to `hi`, the step.
fn step_of(vals: &[u32], lo: u32, hi: u32) -> Option<u32> {
    if vals.len() < 2 || vals[0] != lo {
        return None;
    }
    let step = vals[1] - vals[0];
    let expected: Vec<u32> = (lo..=hi).step_by(step as usize).collect();
    (expected == vals).then_some(step)
}

fn unit_phrase(vals: &[u32], lo: u32, hi: u32, unit: CronUnit) -> CronPart {
    match step_of(vals, lo, hi) {
        Some(step) => CronPart::Every(step, unit),
        None => CronPart::AtUnit(unit, runs(vals)),
    }
}

/// Three or more consecutive values as a run, others one by one.
fn runs(vals: &[u32]) -> Vec<Run> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < vals.len() {
        let mut j = i;
        while j + 1 < vals.len() && vals[j + 1] == vals[j] + 1 {
            j += 1;
        }
        if j >= i + 2 {
            out.push(Run::Range(vals[i], vals[j]));
        } else {
            out.extend(vals[i..=j].iter().map(|v| Run::One(*v)));
        }
        i = j + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    fn hcm() -> Tz {
        chrono_tz::Asia::Ho_Chi_Minh
    }

    fn local(tz: Tz, s: &str) -> DateTime<Tz> {
        let n = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        tz.from_local_datetime(&n).earliest().unwrap()
    }

    /// The next `n` firings after local time `from`, as "Mon 2026-03-02 07:00:00 +07:00".
    fn fires(expr: &str, tz: Tz, from: &str, n: usize) -> Vec<String> {
        let spec = parse_cron(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        let mut t = local(tz, from);
        let mut out = Vec::new();
        for _ in 0..n {
            t = spec.next_after(t).unwrap();
            out.push(t.format("%a %Y-%m-%d %H:%M:%S %:z").to_string());
        }
        out
    }

    fn weekdays(expr: &str) -> Vec<Weekday> {
        // 2026-03-01 is a Sunday; two weeks of 07:00 firings.
        let spec = parse_cron(expr).unwrap();
        let mut t = local(hcm(), "2026-03-01 00:00:00");
        let end = local(hcm(), "2026-03-08 00:00:00");
        let mut out = Vec::new();
        while let Some(n) = spec.next_after(t).filter(|n| *n < end) {
            out.push(n.weekday());
            t = n;
        }
        out
    }

    #[test]
    fn unix_weekdays_use_unix_numbering() {
        use Weekday::*;
        let cases: &[(&str, &[Weekday])] = &[
            ("0 7 * * 1-5", &[Mon, Tue, Wed, Thu, Fri]),
            ("0 7 * * MON-FRI", &[Mon, Tue, Wed, Thu, Fri]),
            ("0 7 * * mon-fri", &[Mon, Tue, Wed, Thu, Fri]),
            ("0 7 * * 0", &[Sun]),
            ("0 7 * * 7", &[Sun]),
            ("0 7 * * sun", &[Sun]),
            ("0 7 * * 6,0", &[Sun, Sat]),
            ("0 7 * * sat,sun", &[Sun, Sat]),
            ("0 7 * * 5-7", &[Sun, Fri, Sat]),
            ("0 7 * * 0-7", &[Sun, Mon, Tue, Wed, Thu, Fri, Sat]),
            ("0 7 * * *", &[Sun, Mon, Tue, Wed, Thu, Fri, Sat]),
            ("0 7 * * 1-5/2", &[Mon, Wed, Fri]),
            // The 6-field form keeps the cron crate's numbering: 2-6 = Mon–Fri.
            ("0 0 7 * * 2-6", &[Mon, Tue, Wed, Thu, Fri]),
            ("0 0 7 * * Mon-Fri", &[Mon, Tue, Wed, Thu, Fri]),
            ("0 0 7 * * 1", &[Sun]),
            ("0 0 7 ? * 7", &[Sat]),
        ];
        for (expr, want) in cases {
            assert_eq!(&weekdays(expr), want, "{expr}");
        }
    }

    /// Expressions, a start (local time) and the firings that follow it.
    const FIRINGS: &[(&str, &str, &[&str])] = &[
        (
            "0 7 * * 1-5",
            "2026-03-01 12:00:00",
            &[
                "Mon 2026-03-02 07:00:00 +07:00",
                "Tue 2026-03-03 07:00:00 +07:00",
            ],
        ),
        (
            "*/15 * * * *",
            "2026-03-01 23:40:00",
            &[
                "Sun 2026-03-01 23:45:00 +07:00",
                "Mon 2026-03-02 00:00:00 +07:00",
                "Mon 2026-03-02 00:15:00 +07:00",
            ],
        ),
        (
            "@daily",
            "2026-12-31 00:00:00",
            &[
                "Fri 2027-01-01 00:00:00 +07:00",
                "Sat 2027-01-02 00:00:00 +07:00",
            ],
        ),
        (
            "@midnight",
            "2026-03-01 00:00:00",
            &["Mon 2026-03-02 00:00:00 +07:00"],
        ),
        (
            "@hourly",
            "2026-03-01 10:00:00",
            &[
                "Sun 2026-03-01 11:00:00 +07:00",
                "Sun 2026-03-01 12:00:00 +07:00",
            ],
        ),
        (
            "@weekly",
            "2026-03-02 00:00:00",
            &["Sun 2026-03-08 00:00:00 +07:00"],
        ),
        (
            "@monthly",
            "2026-03-02 00:00:00",
            &["Wed 2026-04-01 00:00:00 +07:00"],
        ),
        (
            "@yearly",
            "2026-03-02 00:00:00",
            &["Fri 2027-01-01 00:00:00 +07:00"],
        ),
        (
            "@annually",
            "2026-03-02 00:00:00",
            &["Fri 2027-01-01 00:00:00 +07:00"],
        ),
        // crontab(5): both day fields restricted → either matches.
        (
            "0 7 1 * mon",
            "2026-03-01 12:00:00",
            &[
                "Mon 2026-03-02 07:00:00 +07:00",
                "Mon 2026-03-09 07:00:00 +07:00",
                "Mon 2026-03-16 07:00:00 +07:00",
                "Mon 2026-03-23 07:00:00 +07:00",
                "Mon 2026-03-30 07:00:00 +07:00",
                "Wed 2026-04-01 07:00:00 +07:00",
            ],
        ),
        // A field starting with '*' is unrestricted: both must match.
        (
            "0 7 */2 * mon",
            "2026-03-01 12:00:00",
            &[
                "Mon 2026-03-09 07:00:00 +07:00",
                "Mon 2026-03-23 07:00:00 +07:00",
            ],
        ),
        // The 6/7-field form always needs both.
        (
            "0 0 7 13 * Fri",
            "2026-01-01 00:00:00",
            &["Fri 2026-02-13 07:00:00 +07:00"],
        ),
        (
            "30 0 7 1 1 * 2028",
            "2026-01-01 00:00:00",
            &["Sat 2028-01-01 07:00:30 +07:00"],
        ),
        (
            "0 0 29 2 *",
            "2026-01-01 00:00:00",
            &["Tue 2028-02-29 00:00:00 +07:00"],
        ),
        (
            "0 22 * jan,dec *",
            "2026-01-31 23:00:00",
            &["Tue 2026-12-01 22:00:00 +07:00"],
        ),
        (
            "5/20 8-9 * * *",
            "2026-03-01 00:00:00",
            &[
                "Sun 2026-03-01 08:05:00 +07:00",
                "Sun 2026-03-01 08:25:00 +07:00",
                "Sun 2026-03-01 08:45:00 +07:00",
                "Sun 2026-03-01 09:05:00 +07:00",
            ],
        ),
    ];

    #[test]
    fn firings_in_order() {
        let t = hcm();
        let cases = FIRINGS;
        for (expr, from, want) in cases {
            assert_eq!(
                &fires(expr, t, from, want.len()),
                want,
                "{expr} after {from}"
            );
        }
    }

    #[test]
    fn refuses_with_a_useful_sentence() {
        for (expr, says) in [
            ("", "empty"),
            ("0 7 * *", "4 fields"),
            ("0 7 * * * * * *", "8 fields"),
            ("61 * * * *", "61 is out of range 0-59"),
            ("0 24 * * *", "out of range 0-23"),
            ("0 7 * * 8", "out of range 0-7"),
            ("0 7 0 * *", "out of range 1-31"),
            ("0 7 * * 5-1", "backwards"),
            ("*/0 * * * *", "step"),
            ("0 7 * * funday", "not a number or name"),
            ("@reboot", "@reboot"),
            ("@often", "not a known shorthand"),
            ("0 0 7 * * 0", "not valid"),
        ] {
            let e = parse_cron(expr).expect_err(expr).0.to_string();
            assert!(e.contains(says), "{expr:?}: {e}");
            assert!(e.contains("accepted forms"), "{expr:?}: {e}");
        }
    }

    #[test]
    fn prev_at_or_before_includes_the_instant() {
        let spec = parse_cron("0 7 * * 1-5").unwrap();
        let t = local(hcm(), "2026-03-02 07:00:00");
        assert_eq!(spec.prev_at_or_before(t), Some(t));
        let p = spec
            .prev_at_or_before(local(hcm(), "2026-03-02 06:59:59"))
            .unwrap();
        assert_eq!(p, local(hcm(), "2026-02-27 07:00:00"));
        let p = spec
            .prev_at_or_before(t + TimeDelta::milliseconds(1))
            .unwrap();
        assert_eq!(p, t);
    }

    /// The engine agrees with the cron crate itself on the 6/7-field form,
    /// and with a plain minute-by-minute reading of crontab on the 5-field
    /// form, in a zone without DST.
    #[test]
    fn agrees_with_references() {
        for expr in [
            "0 0 7 * * Mon-Fri",
            "0 */7 * * * *",
            "15 30 6-8 1,15 * *",
            "0 0 12 * 2,5 Sun",
            "0 0 0 13 * Fri 2026-2030",
            "*/20 * 3 * * *",
        ] {
            let spec = parse_cron(expr).unwrap();
            let reference: cron::Schedule = expr.parse().unwrap();
            let from = local(hcm(), "2026-02-27 05:00:00");
            let want: Vec<_> = reference.after(&from).take(40).collect();
            let mut got = Vec::new();
            let mut t = from;
            while let Some(n) = spec.next_after(t).filter(|_| got.len() < 40) {
                got.push(n);
                t = n;
            }
            assert_eq!(got, want, "{expr}");
            // And backwards.
            for w in want.windows(2) {
                let mid = w[0] + (w[1] - w[0]) / 2;
                assert_eq!(spec.prev_at_or_before(mid), Some(w[0]), "{expr}");
            }
        }
        for expr in [
            "0 7 * * 1-5",
            "*/15 8-17 * * *",
            "0 7 1,15 * mon",
            "0 0 */2 * mon",
            "30 23 31 * *",
            "0 12 * feb,mar sat,sun",
        ] {
            let spec = parse_cron(expr).unwrap();
            let parts: Vec<&str> = expr.split_whitespace().collect();
            let f = &spec.fields;
            let matches = |n: NaiveDateTime| {
                let dom = f.dom >> n.day() & 1 == 1;
                let dow = f.dow >> n.weekday().num_days_from_sunday() & 1 == 1;
                let day = if !parts[2].starts_with('*') && !parts[4].starts_with('*') {
                    dom || dow
                } else {
                    dom && dow
                };
                day && f.month >> n.month() & 1 == 1
                    && f.hour >> n.hour() & 1 == 1
                    && f.min >> n.minute() & 1 == 1
            };
            let mut t = local(hcm(), "2026-02-20 00:00:00");
            let end = local(hcm(), "2026-04-05 00:00:00");
            let mut expected = None;
            while t < end {
                // `expected` is the next firing at or after t.
                if expected.is_none_or(|e| e < t) {
                    let mut u = t;
                    while !matches(u.naive_local()) {
                        u += TimeDelta::minutes(1);
                    }
                    expected = Some(u);
                }
                let got = spec.next_after(t - TimeDelta::seconds(1)).unwrap();
                assert_eq!(Some(got), expected, "{expr} at {t}");
                t += TimeDelta::minutes(7);
            }
        }
    }

    #[test]
    fn dst_gap_fires_at_the_end_of_the_gap() {
        // New York springs forward on 2026-03-08 at 02:00 EST → 03:00 EDT.
        let ny = chrono_tz::America::New_York;
        assert_eq!(
            fires("30 2 * * *", ny, "2026-03-07 12:00:00", 3),
            [
                "Sun 2026-03-08 03:00:00 -04:00",
                "Mon 2026-03-09 02:30:00 -04:00",
                "Tue 2026-03-10 02:30:00 -04:00",
            ]
        );
        // Berlin, 2026-03-29 02:00 CET → 03:00 CEST; quarter-hour firings in
        // the gap merge into 03:00.
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(
            fires("*/15 * * * *", berlin, "2026-03-29 01:40:00", 3),
            [
                "Sun 2026-03-29 01:45:00 +01:00",
                "Sun 2026-03-29 03:00:00 +02:00",
                "Sun 2026-03-29 03:15:00 +02:00",
            ]
        );
        let spec = parse_cron("30 2 * * *").unwrap();
        let t = local(berlin, "2026-03-29 03:10:00");
        assert_eq!(
            spec.prev_at_or_before(t).unwrap(),
            local(berlin, "2026-03-29 03:00:00")
        );
    }

    #[test]
    fn dst_fold_fires_once() {
        // New York falls back on 2026-11-01 at 02:00 EDT → 01:00 EST.
        let ny = chrono_tz::America::New_York;
        assert_eq!(
            fires("30 1 * * *", ny, "2026-10-31 12:00:00", 2),
            [
                "Sun 2026-11-01 01:30:00 -04:00",
                "Mon 2026-11-02 01:30:00 -05:00"
            ]
        );
        let spec = parse_cron("30 1 * * *").unwrap();
        let first = Utc.with_ymd_and_hms(2026, 11, 1, 5, 30, 0).unwrap();
        // 01:45 EST, in the repeated hour: the last firing is the 01:30 EDT one.
        let t = Utc
            .with_ymd_and_hms(2026, 11, 1, 6, 45, 0)
            .unwrap()
            .with_timezone(&ny);
        assert_eq!(spec.prev_at_or_before(t).unwrap(), first.with_timezone(&ny));
        // 01:15 EST: the 01:30 local time already happened (in EDT), so the
        // next firing is tomorrow's.
        let t = Utc
            .with_ymd_and_hms(2026, 11, 1, 6, 15, 0)
            .unwrap()
            .with_timezone(&ny);
        assert_eq!(
            spec.next_after(t).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 2, 6, 30, 0)
                .unwrap()
                .with_timezone(&ny)
        );
        // Every 20 minutes pauses during the repeated hour.
        let spec = parse_cron("*/20 * * * *").unwrap();
        let t = Utc
            .with_ymd_and_hms(2026, 11, 1, 5, 50, 0)
            .unwrap()
            .with_timezone(&ny);
        assert_eq!(
            spec.next_after(t).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 1, 7, 0, 0)
                .unwrap()
                .with_timezone(&ny)
        );
        let t = Utc
            .with_ymd_and_hms(2026, 11, 1, 6, 50, 0)
            .unwrap()
            .with_timezone(&ny);
        assert_eq!(
            spec.prev_at_or_before(t).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 1, 5, 40, 0)
                .unwrap()
                .with_timezone(&ny)
        );
    }

    #[test]
    fn descriptions() {
        for (expr, want) in [
            ("0 7 * * 1-5", "at 07:00 on Monday to Friday"),
            ("0 7 * * MON-FRI", "at 07:00 on Monday to Friday"),
            ("0 7 * * 6,0", "at 07:00 on Saturday and Sunday"),
            ("0 7,19 * * *", "at 07:00 and 19:00"),
            ("*/15 * * * *", "every 15 minutes"),
            ("* * * * *", "every minute"),
            ("@daily", "at 00:00"),
            ("@hourly", "at minute 0"),
            ("0 */2 * * *", "at minute 0 every 2 hours"),
            ("*/10 8-17 * * *", "every 10 minutes during hour 08 to 17"),
            ("0 7 1,15 * *", "at 07:00 on day 1 and 15 of the month"),
            ("0 7 1 * mon", "at 07:00 on day 1 of the month or on Monday"),
            (
                "0 0 7 13 * Fri",
                "at 07:00 on day 13 of the month if it falls on Friday",
            ),
            ("0 8 * 6-8 *", "at 08:00 in June to August"),
            (
                "30 0 7 1 1 * 2028",
                "at 07:00:30 on day 1 of the month in January in 2028",
            ),
        ] {
            assert_eq!(parse_cron(expr).unwrap().describe(), want, "{expr}");
        }
    }
}
