//! The calendar: what runs where over a month or a week, and what a panel
//! will show at a chosen instant.
//!
//! `GET /calendar?from=&to=&group=` lists the occurrences of campaigns (each
//! a stretch of activity from `schedule`'s `CompiledCampaign::windows`)
//! with the panels they reach and, per occurrence, the other campaigns
//! that reach one of the same panels in an overlapping stretch and which
//! one wins by priority (equal priorities take turns). It also gives every
//! campaign's phase now (upcoming, running, ended). Bounded: at most
//! [`MAX_DAYS`] days and [`MAX_OCCURRENCES`] occurrences per answer, else
//! 400 with a sentence. A district's staff see only their panels and the
//! campaigns that reach them (`scope::visible`).
//!
//! `GET /panels/{id}/at?t=` answers with the player's own rule
//! (`ScheduleInputs::resolve`, which the live player calls): the campaign,
//! message and page, or the alert still on at that instant.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use warp::reply::Response;

use super::error::ApiError;
use super::panels::{known, parse_time};
use super::req::{ok, Req};
use super::{blocking, Ctx};
use crate::domain::{Id, Target};
use crate::i18n::Reason;
use crate::schedule::campaign::Phase;
use crate::schedule::Show;

/// The longest span one calendar answer covers (a month view with the
/// days of the weeks around it).
pub(super) const MAX_DAYS: i64 = 62;
/// The most occurrences one calendar answer carries.
pub(super) const MAX_OCCURRENCES: usize = 2000;

/// Most conflicts one calendar answer lists (`conflicts_truncated` says
/// when there were more).
pub(super) const MAX_CONFLICTS: usize = 5000;
/// Most panel ids a conflict names (`panel_count` counts them all).
const CONFLICT_PANELS: usize = 10;

/// A campaign and where it stands now.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct CampaignPhase {
    id: Id,
    name: String,
    priority: i32,
    /// `upcoming`, `running` or `ended`.
    status: &'static str,
    /// When an upcoming campaign's next window opens.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_start: Option<DateTime<Utc>>,
    targets: Vec<Target>,
    /// The panels it reaches that the viewer may see (within `group`).
    panels: Vec<Id>,
}

/// Another campaign on one of the same panels at the same time.
#[derive(Serialize, schemars::JsonSchema, Clone)]
pub(super) struct Conflict {
    campaign: Id,
    name: String,
    priority: i32,
    /// The overlap, `[start, end)`.
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// How many panels both reach, and the first of them.
    panel_count: usize,
    panels: Vec<Id>,
    /// For the occurrence that lists it: `wins` (its priority is higher,
    /// the other is not shown there meanwhile), `yields` (lower: it is not
    /// shown there meanwhile) or `shares` (equal: they take turns).
    outcome: &'static str,
}

/// One stretch of a campaign's activity; its panels are the campaign's
/// (in `campaigns`).
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct Occurrence {
    campaign: Id,
    name: String,
    priority: i32,
    targets: Vec<Target>,
    panel_count: usize,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    conflicts: Vec<Conflict>,
    /// The campaign's place in `campaigns`.
    #[serde(skip)]
    of: usize,
}

/// The answer of `GET /calendar`.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct Calendar {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    campaigns: Vec<CampaignPhase>,
    occurrences: Vec<Occurrence>,
    /// Whether more than [`MAX_CONFLICTS`] conflicts were found (the
    /// first are listed).
    conflicts_truncated: bool,
}

pub(super) async fn calendar(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let now = Utc::now();
    let from = parse_time(r, "from")?.unwrap_or(now);
    let to = parse_time(r, "to")?.unwrap_or(from + Duration::days(7));
    if to <= from || to - from > Duration::days(MAX_DAYS) {
        return Err(ApiError::bad_request(Reason::CalendarSpan {
            max_days: MAX_DAYS,
        }));
    }
    let group = r.q("group").map(Id::parse).transpose()?;
    let (schedules, who) = (ctx.schedules.clone(), r.who.clone());
    let cal = blocking(move || {
        let inputs = schedules.current();
        let snap = &inputs.snapshot;
        let scoped = who.scope.is_some() || group.is_some();
        // The panels the viewer may see here, numbered for the bit sets.
        let seen: Vec<&crate::domain::Panel> = snap
            .panels
            .values()
            .filter(|p| super::scope::visible(&who, p))
            .filter(|p| {
                group
                    .as_ref()
                    .is_none_or(|g| p.groups.iter().any(|x| x == g.as_str()))
            })
            .collect();
        let mut campaigns = Vec::new();
        let mut reach: Vec<PanelSet> = Vec::new();
        let mut occurrences = Vec::new();
        for c in inputs.campaigns.iter() {
            let set = PanelSet::of(seen.iter().map(|p| c.targets(p)));
            if scoped && set.count == 0 {
                continue;
            }
            let (status, next_start) = match c.phase_at(now) {
                Phase::Upcoming { next } => ("upcoming", Some(next)),
                Phase::Running => ("running", None),
                Phase::Ended => ("ended", None),
            };
            let left = MAX_OCCURRENCES + 1 - occurrences.len().min(MAX_OCCURRENCES + 1);
            for (start, end) in c.windows(from, to, left) {
                occurrences.push(Occurrence {
                    campaign: c.id().clone(),
                    name: c.campaign.body.name.clone(),
                    priority: c.priority(),
                    targets: c.campaign.body.targets.clone(),
                    panel_count: set.count,
                    start,
                    end,
                    conflicts: Vec::new(),
                    of: campaigns.len(),
                });
            }
            campaigns.push(CampaignPhase {
                id: c.id().clone(),
                name: c.campaign.body.name.clone(),
                priority: c.priority(),
                status,
                next_start,
                targets: c.campaign.body.targets.clone(),
                panels: set.ids(&seen, usize::MAX),
            });
            reach.push(set);
        }
        if occurrences.len() > MAX_OCCURRENCES {
            return Err(ApiError::bad_request(Reason::CalendarTooMany {
                max: MAX_OCCURRENCES,
            }));
        }
        occurrences.sort_by(|a, b| (a.start, &a.campaign).cmp(&(b.start, &b.campaign)));
        let conflicts_truncated = flag_conflicts(&mut occurrences, &reach, &seen);
        Ok(Calendar {
            from,
            to,
            now,
            campaigns,
            occurrences,
            conflicts_truncated,
        })
    })
    .await??;
    ok(&cal)
}

/// A set of the viewer's panels (by their place in its list), as bits.
struct PanelSet {
    bits: Vec<u64>,
    count: usize,
}

impl PanelSet {
    fn of(member: impl Iterator<Item = bool>) -> PanelSet {
        let mut bits: Vec<u64> = Vec::new();
        for (i, m) in member.enumerate() {
            if i % 64 == 0 {
                bits.push(0);
            }
            if m {
                bits[i / 64] |= 1u64 << (i % 64);
            }
        }
        let count = bits.iter().map(|w| w.count_ones() as usize).sum();
        PanelSet { bits, count }
    }

    fn and(&self, other: &PanelSet) -> PanelSet {
        let bits: Vec<u64> = self
            .bits
            .iter()
            .zip(&other.bits)
            .map(|(a, b)| a & b)
            .collect();
        let count = bits.iter().map(|w| w.count_ones() as usize).sum();
        PanelSet { bits, count }
    }

    /// The ids of the first `max` members.
    fn ids(&self, panels: &[&crate::domain::Panel], max: usize) -> Vec<Id> {
        (0..panels.len())
            .filter(|i| self.bits[i / 64] & (1u64 << (i % 64)) != 0)
            .take(max)
            .map(|i| panels[i].id.clone())
            .collect()
    }
}

/// Fills each occurrence's `conflicts` from the others (sorted by start):
/// another campaign, an overlapping stretch and a panel in common. At
/// most [`MAX_CONFLICTS`]; true when there were more.
fn flag_conflicts(
    occ: &mut [Occurrence],
    reach: &[PanelSet],
    panels: &[&crate::domain::Panel],
) -> bool {
    let mut found: BTreeMap<usize, Vec<Conflict>> = BTreeMap::new();
    let mut shared_of: HashMap<(usize, usize), (usize, Vec<Id>)> = HashMap::new();
    let (mut listed, mut truncated) = (0, false);
    'all: for i in 0..occ.len() {
        let a = &occ[i];
        for (j, b) in occ.iter().enumerate().skip(i + 1) {
            if b.start >= a.end {
                break;
            }
            if b.of == a.of {
                continue;
            }
            let (count, shared) = shared_of
                .entry((a.of.min(b.of), a.of.max(b.of)))
                .or_insert_with(|| {
                    let both = reach[a.of].and(&reach[b.of]);
                    (both.count, both.ids(panels, CONFLICT_PANELS))
                });
            if *count == 0 {
                continue;
            }
            if listed + 2 > MAX_CONFLICTS {
                truncated = true;
                break 'all;
            }
            listed += 2;
            let (start, end) = (a.start.max(b.start), a.end.min(b.end));
            let against = |x: &Occurrence, me: i32| Conflict {
                campaign: x.campaign.clone(),
                name: x.name.clone(),
                priority: x.priority,
                start,
                end,
                panel_count: *count,
                panels: shared.clone(),
                outcome: match me.cmp(&x.priority) {
                    std::cmp::Ordering::Greater => "wins",
                    std::cmp::Ordering::Less => "yields",
                    std::cmp::Ordering::Equal => "shares",
                },
            };
            found.entry(i).or_default().push(against(b, a.priority));
            found.entry(j).or_default().push(against(a, b.priority));
        }
    }
    for (i, c) in found {
        occ[i].conflicts = c;
    }
    truncated
}

/// What a panel shows at an instant, by the live player's rule.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct AtView {
    panel: Id,
    at: DateTime<Utc>,
    /// `message`, `alert` or `blank`.
    show: &'static str,
    campaign: Option<Id>,
    campaign_name: Option<String>,
    message: Option<Id>,
    message_title: Option<String>,
    alert: Option<Id>,
    alert_text: Option<String>,
    page: Option<u32>,
    pages: Option<u32>,
    /// When this show began and until when it is certain.
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
    brightness: u8,
}

pub(super) async fn panel_at(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let p = known(ctx, r)?;
    let at = parse_time(r, "t")?.unwrap_or_else(Utc::now);
    let schedules = ctx.schedules.clone();
    let view = blocking(move || {
        let inputs = schedules.current();
        let d = inputs.resolve(&p, at);
        let snap = &inputs.snapshot;
        let mut v = AtView {
            panel: p.id.clone(),
            at,
            show: "blank",
            campaign: None,
            campaign_name: None,
            message: None,
            message_title: None,
            alert: None,
            alert_text: None,
            page: None,
            pages: None,
            since: d.since,
            until: d.until,
            brightness: d.brightness,
        };
        match d.show {
            Show::Blank => {}
            Show::Message {
                campaign,
                message,
                page,
                pages,
                ..
            } => {
                v.show = "message";
                v.campaign_name = snap.campaigns.get(&campaign).map(|c| c.body.name.clone());
                v.message_title = snap.messages.get(&message).map(|m| m.body.title.clone());
                (v.campaign, v.message) = (Some(campaign), Some(message));
                (v.page, v.pages) = (Some(page), Some(pages));
            }
            Show::Alert { alert, page, pages } => {
                v.show = "alert";
                v.alert_text = snap.alerts.get(&alert).map(|a| a.body.text.clone());
                v.alert = Some(alert);
                (v.page, v.pages) = (Some(page), Some(pages));
            }
        }
        v
    })
    .await?;
    ok(&view)
}
