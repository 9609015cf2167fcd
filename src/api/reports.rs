//! Reports for people and programs: proof of play with names and local
//! times; plays and time on air per group (district) and campaign, and per
//! day; signs online over time; how fast alerts reached the panels. As
//! JSON, CSV, or an Excel workbook laid out for a provincial office's
//! periodic report (`report_book.rs`).
//!
//! Every report takes its period as `from` and `to`: RFC 3339 instants, or
//! dates `YYYY-MM-DD` in the server's time zone (`to` then counts through
//! the end of that day). Play reports also take the filters `panel`,
//! `group` and `campaign`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use warp::http::HeaderValue;
use warp::reply::Response;

use super::error::ApiError;
use super::req::{bytes_reply, ok, Req};
use super::{alerts, blocking, report_book, Ctx};
use crate::domain::Id;
use crate::i18n::Reason;
use crate::store::online::OnlineSample;
use crate::store::plays::Play;
use crate::store::Snapshot;

/// Most proof-of-play rows one report reads.
const MAX_ROWS: usize = 1_000_000;
/// Most rows the workbook's detail sheet lists (the CSV has them all).
const BOOK_DETAIL_ROWS: usize = 100_000;
/// A frame stays on the glass at most this long without a newer one: the
/// player sends a fresh frame every 30 minutes, and a controller that hears
/// nothing blanks 5 minutes (the default grace) after that.
const ON_AIR_CAP_S: i64 = 35 * 60;
/// The group or campaign key of plays that have none.
const NONE_KEY: &str = "(none)";
/// Most points of the signs-online series.
const MAX_POINTS: usize = 2000;

/// The period of a report, `from <= t < to`.
#[derive(Debug, Clone, Copy)]
struct Period {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

fn bound(r: &Req, key: &str, tz: Tz, end: bool) -> Result<DateTime<Utc>, ApiError> {
    let s = r
        .q(key)
        .ok_or_else(|| ApiError::bad_request(Reason::ReportNeedPeriod))?;
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| if end { d.succ_opt() } else { Some(d) })
        .ok_or_else(|| {
            ApiError::bad_request(Reason::ReportBadBound {
                key: key.into(),
                value: s.into(),
            })
        })?;
    local_midnight(tz, day).ok_or_else(|| {
        ApiError::bad_request(Reason::ReportBadBound {
            key: key.into(),
            value: s.into(),
        })
    })
}

fn local_midnight(tz: Tz, day: NaiveDate) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

fn period(r: &Req, tz: Tz) -> Result<Period, ApiError> {
    let from = bound(r, "from", tz, false)?;
    let to = bound(r, "to", tz, true)?;
    if to < from {
        return Err(ApiError::bad_request(Reason::ReportToBeforeFrom));
    }
    Ok(Period { from, to })
}

/// Which plays a report counts.
#[derive(Debug, Default)]
struct Filter {
    panel: Option<Id>,
    /// A group name, or `(none)` for panels in no group.
    group: Option<String>,
    /// A campaign key as the summary gives it: a campaign id, `alert:ID`,
    /// `(none)`; or `alerts` for every alert.
    campaign: Option<String>,
}

impl Filter {
    fn parse(r: &Req) -> Result<Filter, ApiError> {
        let text = |k: &str| r.q(k).filter(|v| !v.is_empty()).map(str::to_string);
        Ok(Filter {
            panel: r
                .q("panel")
                .filter(|v| !v.is_empty())
                .map(Id::parse)
                .transpose()?,
            group: text("group"),
            campaign: text("campaign"),
        })
    }

    fn keeps(&self, p: &Play, names: &Names) -> bool {
        let group_ok = self
            .group
            .as_ref()
            .is_none_or(|g| names.groups(&p.panel).contains(g));
        let campaign_ok = self.campaign.as_deref().is_none_or(|c| {
            if c == "alerts" {
                p.alert.is_some()
            } else {
                campaign_key(p) == c
            }
        });
        group_ok && campaign_ok
    }

    /// The groups of `panel` this report counts under.
    fn groups_of(&self, panel: &str, names: &Names) -> Vec<String> {
        names
            .groups(panel)
            .into_iter()
            .filter(|g| self.group.as_ref().is_none_or(|want| want == g))
            .collect()
    }
}

/// The key a play is summed under: its campaign, `alert:ID`, or `(none)`.
fn campaign_key(p: &Play) -> String {
    p.campaign
        .clone()
        .or_else(|| p.alert.as_ref().map(|a| format!("alert:{a}")))
        .unwrap_or_else(|| NONE_KEY.into())
}

/// Names for the ids in a report, and local times.
struct Names<'a> {
    snap: &'a Snapshot,
    tz: Tz,
}

impl Names<'_> {
    fn panel_name(&self, id: &str) -> Option<String> {
        let id = Id::parse(id).ok()?;
        self.snap.panels.get(&id).map(|p| p.name.clone())
    }

    /// The panel's groups, or `(none)`.
    fn groups(&self, panel: &str) -> Vec<String> {
        Id::parse(panel)
            .ok()
            .and_then(|id| self.snap.panels.get(&id))
            .map(|p| p.groups.clone())
            .filter(|g| !g.is_empty())
            .unwrap_or_else(|| vec![NONE_KEY.into()])
    }

    fn message_title(&self, id: Option<&str>) -> Option<String> {
        let id = Id::parse(id?).ok()?;
        self.snap.messages.get(&id).map(|m| m.body.title.clone())
    }

    fn alert_text(&self, id: Option<&str>) -> Option<String> {
        let id = Id::parse(id?).ok()?;
        self.snap.alerts.get(&id).map(|a| a.body.text.clone())
    }

    /// The campaign's name, or the alert's text, for a campaign key.
    fn campaign_name(&self, key: &str) -> Option<String> {
        if let Some(a) = key.strip_prefix("alert:") {
            return self.alert_text(Some(a));
        }
        let id = Id::parse(key).ok()?;
        self.snap.campaigns.get(&id).map(|c| c.body.name.clone())
    }

    fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.with_timezone(&self.tz).naive_local()
    }

    fn local_text(&self, t: DateTime<Utc>) -> String {
        self.local(t).format("%d/%m/%Y %H:%M:%S").to_string()
    }
}

/// A group's name for people (its display name, "Thành phố Vinh"); none
/// for `(none)`.
fn group_name(snap: &Snapshot, g: &str) -> Option<String> {
    (g != NONE_KEY).then(|| snap.group_name(g))
}

/// Seconds each row's frame stayed on the glass: until the same panel's
/// next row, at most [`ON_AIR_CAP_S`], never past `end`. `rows` are in
/// time order.
fn on_air(rows: &[Play], end: DateTime<Utc>) -> Vec<u32> {
    let mut next: HashMap<&str, DateTime<Utc>> = HashMap::new();
    let mut out = vec![0; rows.len()];
    for (i, p) in rows.iter().enumerate().rev() {
        let until = next
            .get(p.panel.as_str())
            .copied()
            .unwrap_or(end)
            .min(end)
            .min(p.shown_at + chrono::Duration::seconds(ON_AIR_CAP_S));
        out[i] = (until - p.shown_at).num_seconds().max(0) as u32;
        next.insert(p.panel.as_str(), p.shown_at);
    }
    out
}

/// The plays a report counts, each with its seconds on air.
struct Loaded {
    period: Period,
    filter: Filter,
    rows: Vec<(Play, u32)>,
    truncated: bool,
}

async fn load(ctx: &Arc<Ctx>, r: &Req) -> Result<Loaded, ApiError> {
    let period = period(r, ctx.tz)?;
    let filter = Filter::parse(r)?;
    let plays = ctx.plays.clone();
    let panel = filter.panel.as_ref().map(|p| p.to_string());
    let (from, to) = (period.from, period.to);
    let rows = blocking(move || plays.query(from, to, panel.as_deref(), MAX_ROWS))
        .await?
        .map_err(|e| ApiError::internal("reading proof of play", e))?;
    let truncated = rows.len() >= MAX_ROWS;
    // On air is measured over every play of a panel, before the filters
    // (the next frame ends this one whatever its campaign).
    let secs = on_air(&rows, period.to.min(Utc::now()));
    let snap = ctx.store.snapshot();
    let names = Names {
        snap: &snap,
        tz: ctx.tz,
    };
    // A district's staff count the plays of their own panels only.
    let theirs: Option<HashSet<&str>> = r.who.scope.as_ref().map(|_| {
        snap.panels
            .values()
            .filter(|p| super::scope::visible(&r.who, p))
            .map(|p| p.id.as_str())
            .collect()
    });
    let rows = rows
        .into_iter()
        .zip(secs)
        .filter(|(p, _)| filter.keeps(p, &names))
        .filter(|(p, _)| theirs.as_ref().is_none_or(|t| t.contains(p.panel.as_str())))
        .collect();
    Ok(Loaded {
        period,
        filter,
        rows,
        truncated,
    })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_line(fields: &[&str]) -> String {
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

fn csv_reply(out: String) -> Result<Response, ApiError> {
    Ok(bytes_reply("text/csv; charset=utf-8", out.into_bytes()))
}

/// A proof-of-play row with names and the local time.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct PlayView {
    #[serde(flatten)]
    play: Play,
    panel_name: Option<String>,
    groups: Vec<String>,
    message_title: Option<String>,
    campaign_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alert_text: Option<String>,
    /// `shown_at` in the server's time zone, `dd/mm/yyyy HH:MM:SS`.
    shown_at_local: String,
    /// Seconds the frame stayed up (until the panel's next frame, at most
    /// 35 minutes, within the period).
    on_air_s: u32,
}

fn play_view(p: Play, on_air_s: u32, names: &Names) -> PlayView {
    PlayView {
        panel_name: names.panel_name(&p.panel),
        groups: names
            .groups(&p.panel)
            .into_iter()
            .filter(|g| g != NONE_KEY)
            .collect(),
        message_title: names.message_title(p.message.as_deref()),
        campaign_name: p.campaign.as_deref().and_then(|c| names.campaign_name(c)),
        alert_text: names.alert_text(p.alert.as_deref()),
        shown_at_local: names.local_text(p.shown_at),
        on_air_s,
        play: p,
    }
}

/// Most rows `limit=` asks for.
const MAX_LIMIT: usize = 100_000;

pub(super) async fn plays(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    // `limit=N`: only the newest N rows (a page shows a few hundred of a
    // period that may hold millions); `X-Total-Count` says how many match.
    let limit = match r.q("limit") {
        None => None,
        Some(n) => Some(
            n.parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| ApiError::bad_request(crate::i18n::Reason::BadLimit))?,
        ),
    };
    let mut loaded = load(ctx, r).await?;
    let total = loaded.rows.len();
    if let Some(n) = limit {
        loaded.rows.drain(..total.saturating_sub(n));
    }
    let snap = ctx.store.snapshot();
    let names = Names {
        snap: &snap,
        tz: ctx.tz,
    };
    let views: Vec<PlayView> = loaded
        .rows
        .into_iter()
        .map(|(p, s)| play_view(p, s, &names))
        .collect();
    let mut resp = plays_reply(r, &views)?;
    resp.headers_mut()
        .insert("x-total-count", HeaderValue::from(total as u64));
    resp.headers_mut().insert(
        "access-control-expose-headers",
        HeaderValue::from_static("X-Total-Count"),
    );
    Ok(resp)
}

/// The rows as JSON, or as CSV when asked for.
fn plays_reply(r: &Req, views: &[PlayView]) -> Result<Response, ApiError> {
    if r.wants_csv() {
        // The first six columns are the original ones, in their order.
        let mut out = csv_line(&[
            "panel",
            "message",
            "campaign",
            "alert",
            "seq",
            "shown_at",
            "panel_name",
            "groups",
            "message_title",
            "campaign_name",
            "alert_text",
            "shown_at_local",
            "on_air_s",
            "verified",
        ]);
        for v in views {
            let p = &v.play;
            out.push_str(&csv_line(&[
                p.panel.as_str(),
                p.message.as_deref().unwrap_or(""),
                p.campaign.as_deref().unwrap_or(""),
                p.alert.as_deref().unwrap_or(""),
                p.seq.to_string().as_str(),
                p.shown_at.to_rfc3339().as_str(),
                v.panel_name.as_deref().unwrap_or(""),
                v.groups.join(" ").as_str(),
                v.message_title.as_deref().unwrap_or(""),
                v.campaign_name.as_deref().unwrap_or(""),
                v.alert_text.as_deref().unwrap_or(""),
                v.shown_at_local.as_str(),
                v.on_air_s.to_string().as_str(),
                if p.verified { "true" } else { "false" },
            ]));
        }
        return csv_reply(out);
    }
    ok(&views)
}

/// Plays per (campaign, group), with names and time on air.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct SummaryRow {
    /// A campaign id, `alert:ID`, or `(none)`.
    campaign: String,
    /// A group, or `(none)`.
    group: String,
    plays: u64,
    campaign_name: Option<String>,
    group_name: Option<String>,
    /// Distinct panels that played.
    panels: usize,
    /// Seconds on air, added up over the plays.
    on_air_s: u64,
    /// Of `plays`, those whose ack named the CRC of the frame sent.
    verified_plays: u64,
}

#[derive(Default)]
struct Sum {
    plays: u64,
    verified: u64,
    on_air_s: u64,
    panels: BTreeSet<String>,
}

impl Sum {
    fn add(&mut self, p: &Play, secs: u32) {
        let panel = p.panel.as_str();
        self.plays += 1;
        self.verified += u64::from(p.verified);
        self.on_air_s += u64::from(secs);
        self.panels.insert(panel.to_string());
    }
}

/// Sums per (campaign key, group): a panel in several groups counts in
/// each (of those the filter keeps).
fn sums(loaded: &Loaded, names: &Names) -> BTreeMap<(String, String), Sum> {
    let mut sums: BTreeMap<(String, String), Sum> = BTreeMap::new();
    for (p, secs) in &loaded.rows {
        let campaign = campaign_key(p);
        for g in loaded.filter.groups_of(&p.panel, names) {
            sums.entry((campaign.clone(), g)).or_default().add(p, *secs);
        }
    }
    sums
}

pub(super) async fn summary(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let loaded = load(ctx, r).await?;
    let snap = ctx.store.snapshot();
    let names = Names {
        snap: &snap,
        tz: ctx.tz,
    };
    let rows: Vec<SummaryRow> = sums(&loaded, &names)
        .into_iter()
        .map(|((campaign, group), s)| SummaryRow {
            campaign_name: names.campaign_name(&campaign),
            group_name: group_name(names.snap, &group),
            campaign,
            group,
            plays: s.plays,
            panels: s.panels.len(),
            on_air_s: s.on_air_s,
            verified_plays: s.verified,
        })
        .collect();
    if r.wants_csv() {
        let mut out = csv_line(&[
            "campaign",
            "group",
            "plays",
            "campaign_name",
            "group_name",
            "panels",
            "on_air_s",
            "verified_plays",
        ]);
        for s in &rows {
            out.push_str(&csv_line(&[
                s.campaign.as_str(),
                s.group.as_str(),
                s.plays.to_string().as_str(),
                s.campaign_name.as_deref().unwrap_or(""),
                s.group_name.as_deref().unwrap_or(""),
                s.panels.to_string().as_str(),
                s.on_air_s.to_string().as_str(),
                s.verified_plays.to_string().as_str(),
            ]));
        }
        return csv_reply(out);
    }
    ok(&rows)
}

/// Plays and time on air on one local day, for one group or campaign.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct DailyRow {
    /// The day in the server's time zone, `YYYY-MM-DD`.
    date: NaiveDate,
    /// The group, or the campaign key.
    key: String,
    name: Option<String>,
    plays: u64,
    on_air_s: u64,
    /// Of `plays`, those whose ack named the CRC of the frame sent.
    verified_plays: u64,
}

pub(super) async fn daily(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let by_campaign = match r.q("by").unwrap_or("group") {
        "group" => false,
        "campaign" => true,
        other => {
            return Err(ApiError::bad_request(Reason::ReportBadBy {
                value: other.into(),
            }))
        }
    };
    let loaded = load(ctx, r).await?;
    let snap = ctx.store.snapshot();
    let names = Names {
        snap: &snap,
        tz: ctx.tz,
    };
    let mut days: BTreeMap<(NaiveDate, String), Sum> = BTreeMap::new();
    for (p, secs) in &loaded.rows {
        let date = names.local(p.shown_at).date();
        let keys = if by_campaign {
            vec![campaign_key(p)]
        } else {
            loaded.filter.groups_of(&p.panel, &names)
        };
        for k in keys {
            days.entry((date, k)).or_default().add(p, *secs);
        }
    }
    let rows: Vec<DailyRow> = days
        .into_iter()
        .map(|((date, key), s)| DailyRow {
            date,
            name: if by_campaign {
                names.campaign_name(&key)
            } else {
                group_name(names.snap, &key)
            },
            key,
            plays: s.plays,
            on_air_s: s.on_air_s,
            verified_plays: s.verified,
        })
        .collect();
    ok(&rows)
}

/// Signs online over a stretch of time (a bucket of samples).
#[derive(Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub(super) struct OnlinePoint {
    /// The first sample's instant in the bucket.
    at: DateTime<Utc>,
    /// Panels online, averaged over the bucket's samples (rounded).
    online: u32,
    min: u32,
    max: u32,
    /// Configured panels at the bucket's last sample.
    panels: u32,
}

/// Samples in time order into at most `points` buckets of equal length.
fn buckets(
    samples: &[OnlineSample],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    points: usize,
) -> Vec<OnlinePoint> {
    let span = (to - from).num_milliseconds().max(1);
    let width = (span / points.max(1) as i64).max(1);
    let mut out: Vec<(i64, Vec<&OnlineSample>)> = Vec::new();
    for s in samples {
        let b = (s.at - from).num_milliseconds() / width;
        match out.last_mut() {
            Some((k, v)) if *k == b => v.push(s),
            _ => out.push((b, vec![s])),
        }
    }
    out.into_iter()
        .map(|(_, v)| {
            let sum: u64 = v.iter().map(|s| u64::from(s.online)).sum();
            let n = v.len() as u64;
            OnlinePoint {
                at: v[0].at,
                online: ((sum + n / 2) / n) as u32,
                min: v.iter().map(|s| s.online).min().unwrap_or(0),
                max: v.iter().map(|s| s.online).max().unwrap_or(0),
                panels: v.last().map(|s| s.panels).unwrap_or(0),
            }
        })
        .collect()
}

pub(super) async fn online(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let p = period(r, ctx.tz)?;
    let points = match r.q("points") {
        None => 288,
        Some(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| (2..=MAX_POINTS).contains(n))
            .ok_or_else(|| ApiError::bad_request(Reason::ReportBadPoints))?,
    };
    let plays = ctx.plays.clone();
    let samples = blocking(move || plays.online_between(p.from, p.to, MAX_ROWS))
        .await?
        .map_err(|e| ApiError::internal("reading the fleet samples", e))?;
    // The samples count the whole fleet: a district's staff get none of
    // them, only the present counted over their own panels.
    let mut out = match r.who.scope {
        None => buckets(&samples, p.from, p.to, points),
        Some(_) => Vec::new(),
    };
    // The fleet as it is now ends a period that reaches the present.
    let now = Utc::now();
    if p.from <= now && now < p.to {
        let snap = ctx.store.snapshot();
        let theirs: Vec<&Id> = snap
            .panels
            .values()
            .filter(|p| super::scope::visible(&r.who, p))
            .map(|p| &p.id)
            .collect();
        let online = ctx.shared.online_among(theirs.iter().copied()) as u32;
        out.push(OnlinePoint {
            at: now,
            online,
            min: online,
            max: online,
            panels: theirs.len() as u32,
        });
    }
    ok(&out)
}

/// An alert created in the period and how fast the panels showed it.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct AlertDelivery {
    id: Id,
    text: String,
    created_at: DateTime<Utc>,
    created_at_local: String,
    cancelled_at: Option<DateTime<Utc>>,
    /// Panels targeted now.
    targets: usize,
    acked: usize,
    /// Milliseconds from the alert's creation to each panel's first
    /// acknowledgement: the fastest, the median, the 90th percentile and
    /// the slowest.
    first_ack_ms: Option<i64>,
    median_ms: Option<i64>,
    p90_ms: Option<i64>,
    last_ack_ms: Option<i64>,
    /// Each panel that acknowledged, fastest first.
    panels: Vec<PanelAck>,
}

/// One panel's first acknowledgement of an alert.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct PanelAck {
    id: Id,
    name: Option<String>,
    ms: i64,
}

/// The nearest-rank percentile `q` (0–1) of sorted values.
fn percentile(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

pub(super) async fn alerts(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let p = period(r, ctx.tz)?;
    let snap = ctx.store.snapshot();
    let names = Names {
        snap: &snap,
        tz: ctx.tz,
    };
    // A district's staff see the alerts that reached their panels, and
    // only those panels' acknowledgements.
    let sees = |id: &Id| super::scope::sees(&r.who, &snap, id);
    let mut list: Vec<_> = snap
        .alerts
        .values()
        .filter(|a| p.from <= a.created_at && a.created_at < p.to)
        .filter(|a| {
            r.who.scope.is_none()
                || alerts::target_panels(&snap, &a.body.targets)
                    .iter()
                    .any(&sees)
        })
        .collect();
    list.sort_by_key(|a| a.created_at);
    let mut out = Vec::new();
    for a in list {
        let mut acks = alerts::first_acks(ctx, a).await?;
        acks.retain(|(id, _)| sees(id));
        acks.sort_by_key(|(_, ms)| *ms);
        let ms: Vec<i64> = acks.iter().map(|(_, ms)| *ms).collect();
        out.push(AlertDelivery {
            id: a.id.clone(),
            text: a.body.text.clone(),
            created_at: a.created_at,
            created_at_local: names.local_text(a.created_at),
            cancelled_at: a.cancelled_at,
            targets: alerts::target_panels(&snap, &a.body.targets)
                .iter()
                .filter(|id| sees(id))
                .count(),
            acked: acks.len(),
            first_ack_ms: ms.first().copied(),
            median_ms: percentile(&ms, 0.5),
            p90_ms: percentile(&ms, 0.9),
            last_ack_ms: ms.last().copied(),
            panels: acks
                .into_iter()
                .map(|(id, ms)| PanelAck {
                    name: names.panel_name(id.as_str()),
                    id,
                    ms,
                })
                .collect(),
        });
    }
    ok(&out)
}

/// The report as an Excel workbook: a summary sheet per district and
/// campaign (plays, panels, hours on air) under a title, the period and the
/// unit (`unit=`, the office's name), then a sheet with every play.
pub(super) async fn workbook(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let loaded = load(ctx, r).await?;
    let snap = ctx.store.snapshot();
    let names = Names {
        snap: &snap,
        tz: ctx.tz,
    };
    let (sections, total) = book_sections(&loaded, &names);
    let detail = book_detail(&loaded, &names);
    let scope = book_scope(&loaded.filter, &names);
    let book = report_book::Book {
        unit: r.q("unit").unwrap_or("").trim().to_string(),
        from: names.local(loaded.period.from),
        to: names.local(loaded.period.to),
        scope,
        sections,
        total,
        detail,
        detail_total: loaded.rows.len(),
        cut_short: loaded.truncated,
        made_at: names.local(Utc::now()),
    };
    let bytes = blocking(move || report_book::write(&book).map_err(|e| e.to_string()))
        .await?
        .map_err(|e| ApiError::internal("writing the workbook", e))?;
    let mut resp = bytes_reply(report_book::CONTENT_TYPE, bytes);
    let file = format!(
        "bao-cao-phat-{}_{}.xlsx",
        names.local(loaded.period.from).format("%Y%m%d"),
        names
            .local(loaded.period.to - chrono::Duration::seconds(1))
            .format("%Y%m%d")
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        resp.headers_mut().insert("content-disposition", v);
    }
    Ok(resp)
}

/// A district's name as the workbook shows it.
fn district_name(names: &Names, g: &str) -> String {
    group_name(names.snap, g).unwrap_or_else(|| report_book::NO_DISTRICT.into())
}

fn book_line(label: String, s: &Sum) -> report_book::Line {
    report_book::Line {
        label,
        panels: s.panels.len(),
        plays: s.plays,
        verified: s.verified,
        on_air_s: s.on_air_s,
    }
}

/// Per district its campaigns (most plays first) and its own totals,
/// districts by name and the panels in none last; and the grand total.
fn book_sections(loaded: &Loaded, names: &Names) -> (Vec<report_book::Section>, report_book::Line) {
    let mut districts: BTreeMap<String, (Sum, Vec<report_book::Line>)> = BTreeMap::new();
    let mut total = Sum::default();
    for (p, secs) in &loaded.rows {
        total.add(p, *secs);
        for g in loaded.filter.groups_of(&p.panel, names) {
            districts.entry(g).or_default().0.add(p, *secs);
        }
    }
    for ((campaign, group), s) in sums(loaded, names) {
        if let Some(d) = districts.get_mut(&group) {
            d.1.push(book_line(campaign_label(&campaign, names), &s));
        }
    }
    let mut sections: Vec<report_book::Section> = districts
        .into_iter()
        .map(|(g, (s, mut lines))| {
            lines.sort_by(|a, b| b.plays.cmp(&a.plays).then(a.label.cmp(&b.label)));
            report_book::Section {
                total: book_line(district_name(names, &g), &s),
                lines,
            }
        })
        .collect();
    sections.sort_by_key(|s| {
        (
            s.total.label == report_book::NO_DISTRICT,
            s.total.label.clone(),
        )
    });
    (sections, book_line(report_book::TOTAL.into(), &total))
}

/// The workbook's sheet of single plays (the first [`BOOK_DETAIL_ROWS`]).
fn book_detail(loaded: &Loaded, names: &Names) -> Vec<report_book::Play> {
    loaded
        .rows
        .iter()
        .take(BOOK_DETAIL_ROWS)
        .map(|(p, secs)| report_book::Play {
            at: names.local(p.shown_at),
            panel_name: names.panel_name(&p.panel).unwrap_or_default(),
            panel: p.panel.clone(),
            districts: names
                .groups(&p.panel)
                .iter()
                .map(|g| district_name(names, g))
                .collect::<Vec<_>>()
                .join(", "),
            message: names
                .message_title(p.message.as_deref())
                .or_else(|| p.message.clone())
                .unwrap_or_default(),
            campaign: campaign_label(&campaign_key(p), names),
            seq: p.seq,
            on_air_s: *secs,
            verified: p.verified,
        })
        .collect()
}

/// What the report was narrowed to, as the title block says it.
fn book_scope(filter: &Filter, names: &Names) -> Vec<String> {
    let mut scope = Vec::new();
    if let Some(g) = &filter.group {
        scope.push(format!("khu vực {}", district_name(names, g)));
    }
    if let Some(c) = &filter.campaign {
        scope.push(if c == "alerts" {
            "các cảnh báo khẩn".to_string()
        } else {
            format!("lịch phát {}", campaign_label(c, names))
        });
    }
    if let Some(p) = &filter.panel {
        scope.push(format!(
            "bảng {}",
            names
                .panel_name(p.as_str())
                .unwrap_or_else(|| p.to_string())
        ));
    }
    scope
}

/// A campaign key as a person reads it in the workbook.
fn campaign_label(key: &str, names: &Names) -> String {
    if key == NONE_KEY {
        return report_book::NO_CAMPAIGN.into();
    }
    match (key.strip_prefix("alert:"), names.campaign_name(key)) {
        (Some(_), Some(text)) => format!("{}{}", report_book::ALERT_PREFIX, short(&text, 80)),
        (Some(id), None) => format!("{}{id}", report_book::ALERT_PREFIX),
        (None, Some(name)) => name,
        (None, None) => key.to_string(),
    }
}

/// The first `max` characters of `s`, with "…" when cut.
fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn play(panel: &str, at: i64) -> Play {
        Play {
            panel: panel.into(),
            message: Some("m".into()),
            campaign: Some("c".into()),
            alert: None,
            seq: 1,
            shown_at: Utc.timestamp_opt(at, 0).unwrap(),
            verified: false,
        }
    }

    #[test]
    fn on_air_runs_to_the_panels_next_frame_within_the_cap_and_the_period() {
        let rows = [
            play("a", 0),
            play("b", 10),
            play("a", 100),
            play("b", 5000),
            play("a", 9000),
        ];
        let end = Utc.timestamp_opt(9060, 0).unwrap();
        // a: 0→100; b: 10→5000 capped at 35 min; a: 100→ capped; b: capped;
        // a: 9000→ the end of the period.
        assert_eq!(on_air(&rows, end), vec![100, 2100, 2100, 2100, 60]);
    }

    #[test]
    fn buckets_average_samples_and_keep_the_extremes() {
        let t = |s| Utc.timestamp_opt(s, 0).unwrap();
        let s = |at, online| OnlineSample {
            at: t(at),
            online,
            panels: 10,
        };
        let samples = [s(0, 4), s(10, 7), s(60, 9), s(95, 1)];
        let got = buckets(&samples, t(0), t(100), 2);
        assert_eq!(
            got,
            vec![
                OnlinePoint {
                    at: t(0),
                    online: 6,
                    min: 4,
                    max: 7,
                    panels: 10
                },
                OnlinePoint {
                    at: t(60),
                    online: 5,
                    min: 1,
                    max: 9,
                    panels: 10
                },
            ]
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!(percentile(&v, 0.5), Some(50));
        assert_eq!(percentile(&v, 0.9), Some(90));
        assert_eq!(percentile(&[7], 0.9), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn group_names_read_as_words() {
        let mut snap = Snapshot::default();
        assert_eq!(group_name(&snap, "hai-chau").as_deref(), Some("Hai Chau"));
        let id = crate::domain::Id::parse("hai-chau").unwrap();
        let name = "Hải Châu".to_string();
        snap.groups
            .insert(id.clone(), crate::domain::Group { id, name });
        assert_eq!(group_name(&snap, "hai-chau").as_deref(), Some("Hải Châu"));
        assert_eq!(group_name(&snap, NONE_KEY), None);
    }
}
