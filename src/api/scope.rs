//! Districts as scopes, enforced here and only here (the router calls
//! [`gate`] after the role check, before any handler): a principal whose
//! roles hold for some groups may only aim campaigns and alerts inside
//! them (`auth::scope`), only change campaigns and alerts that stay
//! inside them, only edit messages written inside them ([`scope_of`] the
//! author) whose campaigns stay inside them, only approve (or reject)
//! such messages once some campaign places them there and none places
//! them elsewhere ([`may_approve`]; the approval queue is filtered by
//! the same rule, [`Approvals`]), only deploy or dismiss official
//! warnings whose panels all lie inside them, only acknowledge alarms of
//! their panels, and only read the panels inside them: every
//! `/panels/{id}…` address and every preview `?panel=` of another panel
//! answers 404, as if it did not exist, and so do another district's
//! warnings; the panel list, alarms, status and group counts are
//! filtered by [`visible`] and [`sees`], the event stream, the calendar
//! and the reports (plays, summaries, alert deliveries) by [`sees`],
//! campaigns, alerts and official warnings by [`readable`] (their lists
//! and their addresses alike). The admin role never has a scope
//! (`auth::scope`), so the admin-only writes (accounts, tokens, panels)
//! need no check here.
//! Province-wide principals (no scope) pass untouched, but for one rule
//! that holds for every scheduler: an approval covers the approver's
//! scope, so no campaign runs a message a district's approver approved
//! outside that district ([`approvals_cover`], 409).
//! A refusal is 403 `outside_scope` with a sentence naming the target.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use warp::http::StatusCode;

use super::error::ApiError;
use super::req::Req;
use super::Ctx;
use crate::auth::scope::{panel_inside, targets_inside};
use crate::cap::Warning;
use crate::domain::{Alert, AlertBody, Campaign, CampaignBody, Id, Message, Panel, Target};
use crate::i18n::{Kind, Reason};
use crate::store::tokens::Principal;
use crate::store::Snapshot;

/// Whether `who` may see `panel`.
pub(super) fn visible(who: &Principal, panel: &Panel) -> bool {
    who.scope.as_ref().is_none_or(|s| panel_inside(s, panel))
}

/// Whether `who` may see the panel named `id` (a scoped principal sees
/// no panel the store does not have): the event stream's filter.
pub(super) fn sees(who: &Principal, snap: &Snapshot, id: &Id) -> bool {
    who.scope.is_none() || snap.panels.get(id).is_some_and(|p| visible(who, p))
}

/// Whether `targets` concern `who`: province-wide principals everything;
/// a scoped one targets that stay inside the scope or reach a panel it
/// may see (a province campaign that plays on its panels). The lists of
/// campaigns and alerts, and their addresses, show only these.
pub(super) fn concerns(who: &Principal, snap: &Snapshot, targets: &[Target]) -> bool {
    let Some(scope) = &who.scope else {
        return true;
    };
    targets_inside(scope, targets, |p| snap.panels.get(p)).is_ok()
        || snap
            .panels
            .values()
            .any(|p| panel_inside(scope, p) && targets.iter().any(|t| t.matches(p)))
}

/// `targets` as `who` reads them: a panel it may not see is left out
/// (its id would name another district's sign).
pub(super) fn shown(who: &Principal, snap: &Snapshot, targets: &[Target]) -> Vec<Target> {
    targets
        .iter()
        .filter(|t| match t {
            Target::Panel(id) => sees(who, snap, id),
            _ => true,
        })
        .cloned()
        .collect()
}

/// What a district's staff may read, and what of it: campaigns and
/// alerts by their targets ([`concerns`], [`shown`]), official warnings
/// by the panels they reach. [`readable`] is the one rule over them.
pub(super) trait Readable: Clone {
    /// Whether it concerns the scoped `who` (else it is not theirs to
    /// read: 404 at its address).
    fn concerns(&self, who: &Principal, snap: &Snapshot) -> bool;
    /// Leaves out the panels `who` may not see.
    fn narrow(&mut self, who: &Principal, snap: &Snapshot);
}

impl Readable for Campaign {
    fn concerns(&self, who: &Principal, snap: &Snapshot) -> bool {
        concerns(who, snap, &self.body.targets)
    }
    fn narrow(&mut self, who: &Principal, snap: &Snapshot) {
        self.body.targets = shown(who, snap, &self.body.targets);
    }
}

impl Readable for Alert {
    fn concerns(&self, who: &Principal, snap: &Snapshot) -> bool {
        concerns(who, snap, &self.body.targets)
    }
    fn narrow(&mut self, who: &Principal, snap: &Snapshot) {
        self.body.targets = shown(who, snap, &self.body.targets);
    }
}

/// A warning concerns a district that one of its panels lies in.
impl Readable for Warning {
    fn concerns(&self, who: &Principal, snap: &Snapshot) -> bool {
        self.panels.iter().any(|p| sees(who, snap, p))
    }
    fn narrow(&mut self, who: &Principal, snap: &Snapshot) {
        self.panels.retain(|p| sees(who, snap, p));
    }
}

/// `item` as `who` may read it: everything for a province-wide principal
/// (borrowed, not copied); for a scoped one, none when it does not
/// concern them, else a copy without the panels of other districts. The
/// lists and addresses of campaigns, alerts and official warnings all
/// read through it.
pub(super) fn readable<'a, T: Readable>(
    who: &Principal,
    snap: &Snapshot,
    item: &'a T,
) -> Option<Cow<'a, T>> {
    if who.scope.is_none() {
        return Some(Cow::Borrowed(item));
    }
    item.concerns(who, snap).then(|| {
        let mut item = item.clone();
        item.narrow(who, snap);
        Cow::Owned(item)
    })
}

/// 404 for a panel outside `scope`, as if it did not exist; an unknown
/// panel is the handler's to answer.
fn unseen(scope: &[Id], snap: &Snapshot, id: Option<&Id>) -> Result<(), ApiError> {
    match id.and_then(|id| snap.panels.get(id)) {
        Some(p) if !panel_inside(scope, p) => Err(ApiError::not_found(Reason::NotFound {
            kind: Kind::Panel,
            id: p.id.to_string(),
        })),
        _ => Ok(()),
    }
}

/// Every campaign that plays message `id`, in the store's order.
fn campaigns_using<'a>(snap: &'a Snapshot, id: &Id) -> Vec<&'a Campaign> {
    snap.campaigns
        .values()
        .filter(|c| c.body.messages.iter().any(|m| &m.id == id))
        .collect()
}

/// The targets of every campaign that plays message `id`.
fn campaigns_of(snap: &Snapshot, id: &Id) -> Vec<Target> {
    campaigns_using(snap, id)
        .into_iter()
        .flat_map(|c| c.body.targets.iter().cloned())
        .collect()
}

/// The scope of the account or token named `name`, as it stands: `None`
/// for a province-wide one, and for a name that is neither (the
/// bootstrap admin, a removed account), so what they wrote stays
/// province-wide.
pub(super) fn scope_of(ctx: &Ctx, name: &str) -> Option<Vec<Id>> {
    match ctx.accounts.users().get(name) {
        Some(u) => u.scope,
        None => ctx
            .tokens
            .list()
            .into_iter()
            .find(|t| t.name == name)
            .and_then(|t| t.scope),
    }
}

/// Whether a message written by `author` belongs inside `scope`: its
/// author's scope lies within it. A province-wide author's message is
/// nobody's district's.
fn written_inside(ctx: &Ctx, scope: &[Id], author: &str) -> bool {
    within(scope_of(ctx, author).as_deref(), scope)
}

/// Whether an author of scope `author` writes inside `scope` (see
/// [`written_inside`]).
fn within(author: Option<&[Id]>, scope: &[Id]) -> bool {
    author.is_some_and(|a| a.iter().all(|g| scope.contains(g)))
}

/// The scopes of every account and token by name, read once for a
/// request that asks about many authors: [`scope_of`] for each of them.
struct Scopes(HashMap<String, Option<Vec<Id>>>);

impl Scopes {
    /// Reads every account's and token's scope; an account hides a token
    /// of its name, as in [`scope_of`].
    fn read(ctx: &Ctx) -> Scopes {
        let mut by_name = HashMap::new();
        for u in ctx.accounts.users().list() {
            by_name.entry(u.username).or_insert(u.scope);
        }
        for t in ctx.tokens.list() {
            by_name.entry(t.name).or_insert(t.scope);
        }
        Scopes(by_name)
    }

    /// [`scope_of`] `name`.
    fn of(&self, name: &str) -> Option<&[Id]> {
        self.0.get(name).and_then(|s| s.as_deref())
    }
}

/// Refuses a change to message `m` by a principal scoped to `scope` when
/// its author is not inside the scope.
fn mine(ctx: &Ctx, scope: &[Id], m: &Message) -> Result<(), ApiError> {
    if written_inside(ctx, scope, &m.created_by) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "outside_scope",
        Reason::MessageOutsideScope {
            author: m.created_by.clone(),
            scope: joined(scope),
        },
    ))
}

fn joined(scope: &[Id]) -> String {
    scope.iter().map(Id::as_str).collect::<Vec<_>>().join(", ")
}

/// Whether `who` may approve (or reject) message `id` as far as districts
/// go: province-wide principals any message; a scoped one only a message
/// written inside the scope that some campaign places inside the scope
/// and none places elsewhere.
fn may_approve(ctx: &Ctx, snap: &Snapshot, who: &Principal, id: &Id) -> bool {
    let Some(scope) = &who.scope else {
        return true;
    };
    snap.messages.get(id).is_some_and(|m| {
        let author = scope_of(ctx, &m.created_by);
        approvable(scope, snap, author.as_deref(), &campaigns_using(snap, id))
    })
}

/// [`may_approve`] for a message its author (of scope `author`) wrote,
/// which `campaigns` play, by an approver scoped to `scope`.
fn approvable(
    scope: &[Id],
    snap: &Snapshot,
    author: Option<&[Id]>,
    campaigns: &[&Campaign],
) -> bool {
    within(author, scope)
        && campaigns.iter().any(|c| !c.body.targets.is_empty())
        && campaigns
            .iter()
            .all(|c| targets_inside(scope, &c.body.targets, |p| snap.panels.get(p)).is_ok())
}

/// Who may approve what, for a request about many messages (the desk's
/// queue, the notifications): the campaigns of every message and the
/// scope of every author are read once, not once per message.
pub(super) struct Approvals<'a> {
    snap: &'a Snapshot,
    scope: Option<&'a [Id]>,
    /// The campaigns that play each message, in the store's order.
    campaigns: HashMap<&'a Id, Vec<&'a Campaign>>,
    /// Every author's scope; read only for a scoped approver.
    authors: Option<Scopes>,
}

impl<'a> Approvals<'a> {
    /// What `who`'s approvals in `snap` depend on, read once.
    pub(super) fn read(ctx: &Ctx, snap: &'a Snapshot, who: &'a Principal) -> Approvals<'a> {
        let mut campaigns: HashMap<&Id, Vec<&Campaign>> = HashMap::new();
        for c in snap.campaigns.values() {
            for m in &c.body.messages {
                let using = campaigns.entry(&m.id).or_default();
                // A campaign that names a message twice plays it once.
                if using.last().is_none_or(|l| l.id != c.id) {
                    using.push(c);
                }
            }
        }
        Approvals {
            snap,
            scope: who.scope.as_deref(),
            campaigns,
            authors: who.scope.is_some().then(|| Scopes::read(ctx)),
        }
    }

    /// The campaigns that play message `id`, in the store's order.
    pub(super) fn campaigns(&self, id: &Id) -> &[&'a Campaign] {
        self.campaigns.get(id).map_or(&[], Vec::as_slice)
    }

    /// [`may_approve`] for message `m` of the snapshot.
    pub(super) fn may_approve(&self, m: &Message) -> bool {
        let (Some(scope), Some(authors)) = (self.scope, &self.authors) else {
            return true;
        };
        let author = authors.of(&m.created_by);
        approvable(scope, self.snap, author, self.campaigns(&m.id))
    }
}

/// Refuses a campaign that would run a message approved by a district's
/// approver outside that district, whoever schedules it: an approval
/// covers where the approver may approve (the approver's scope as it
/// stands; none for a province-wide or removed one).
fn approvals_cover(ctx: &Ctx, snap: &Snapshot, body: &CampaignBody) -> Result<(), ApiError> {
    for item in &body.messages {
        let Some(m) = snap.messages.get(&item.id) else {
            continue;
        };
        let Some(by) = &m.approved_by else {
            continue;
        };
        let Some(scope) = scope_of(ctx, by) else {
            continue;
        };
        if let Err(Reason::OutsideScope { target, .. }) =
            targets_inside(&scope, &body.targets, |p| snap.panels.get(p))
        {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "approval_outside_scope",
                Reason::ApprovalCoversLess {
                    message: m.id.to_string(),
                    approver: by.clone(),
                    scope: joined(&scope),
                    target,
                },
            ));
        }
    }
    Ok(())
}

pub(super) async fn gate(ctx: &Arc<Ctx>, r: &mut Req, path: &str) -> Result<(), ApiError> {
    // A campaign's body is read once, for both checks.
    let mut campaign: Option<CampaignBody> = None;
    if matches!(
        (r.method.as_str(), path),
        ("POST", "/campaigns") | ("PUT", "/campaigns/{id}")
    ) && r.content_type().as_deref() == Some("application/json")
    {
        let body = campaign.insert(r.peek_json().await?);
        approvals_cover(ctx, &ctx.store.snapshot(), body)?;
    }
    let Some(scope) = r.who.scope.clone() else {
        return Ok(());
    };
    let refuse = |t: Reason| ApiError::new(StatusCode::FORBIDDEN, "outside_scope", t);
    let snap = ctx.store.snapshot();
    let find = |id: &Id| snap.panels.get(id);
    let inside = |targets: &[Target]| targets_inside(&scope, targets, find).map_err(refuse);
    // An id that is not one, or names nothing, is the handler's to answer.
    let id = r.segs.get(1).and_then(|s| Id::parse(s).ok());
    let method = r.method.as_str().to_string();
    match (method.as_str(), path) {
        ("POST", "/campaigns") => inside(&campaign_body(r, campaign).await?.targets),
        ("PUT", "/campaigns/{id}") => {
            if let Some(c) = id.and_then(|id| snap.campaigns.get(&id)) {
                inside(&c.body.targets)?;
            }
            inside(&campaign_body(r, campaign).await?.targets)
        }
        ("DELETE", "/campaigns/{id}") => match id.and_then(|id| snap.campaigns.get(&id)) {
            Some(c) => inside(&c.body.targets),
            None => Ok(()),
        },
        ("POST", "/alerts") => {
            let body: AlertBody = r.peek_json().await?;
            inside(&body.targets)
        }
        ("DELETE", "/alerts/{id}") => match id.and_then(|id| snap.alerts.get(&id)) {
            Some(a) => inside(&a.body.targets),
            None => Ok(()),
        },
        // Every panel address, and previews on a panel (`?panel=`): a
        // panel outside the scope is answered as if it did not exist.
        (_, p) if p.starts_with("/panels/{id}") => unseen(&scope, &snap, id.as_ref()),
        ("GET" | "POST", "/messages/{id}/preview.png" | "/preview" | "/alerts/preview")
        | ("GET", "/reports/plays" | "/reports/summary" | "/reports/summary.xlsx")
        | ("GET", "/reports/daily") => {
            let on = r.q("panel").and_then(|s| Id::parse(s).ok());
            unseen(&scope, &snap, on.as_ref())
        }
        (m, p) => stored(ctx, r, &scope, &snap, id, (m, p)),
    }
}

/// The campaign body [`gate`] has read, or the request's (a body that is
/// not JSON: 415).
async fn campaign_body(r: &mut Req, read: Option<CampaignBody>) -> Result<CampaignBody, ApiError> {
    match read {
        Some(body) => Ok(body),
        None => r.peek_json().await,
    }
}

/// The gate's arms about what is stored (messages, official warnings,
/// alarms): their scope is theirs, no body to read.
fn stored(
    ctx: &Ctx,
    r: &Req,
    scope: &[Id],
    snap: &Snapshot,
    id: Option<Id>,
    route: (&str, &str),
) -> Result<(), ApiError> {
    let refuse = |t: Reason| ApiError::new(StatusCode::FORBIDDEN, "outside_scope", t);
    match route {
        // A message is its author's district's; an edit takes it off the
        // air everywhere it runs.
        ("PUT" | "DELETE", "/messages/{id}") => match id.and_then(|id| snap.messages.get(&id)) {
            Some(m) => {
                mine(ctx, scope, m)?;
                targets_inside(scope, &campaigns_of(snap, &m.id), |p| snap.panels.get(p))
                    .map_err(refuse)
            }
            None => Ok(()),
        },
        ("POST", "/messages/{id}/approve" | "/messages/{id}/reject") => {
            match id.and_then(|id| snap.messages.get(&id)) {
                Some(m) => {
                    mine(ctx, scope, m)?;
                    if !may_approve(ctx, snap, &r.who, &m.id) {
                        let scope = joined(scope);
                        return Err(refuse(Reason::ApprovalOutsideScope { scope }));
                    }
                    Ok(())
                }
                None => Ok(()),
            }
        }
        // An official warning: deployed or dismissed by an operator of the
        // district when every panel it reaches (and every panel of the
        // warnings an update replaces) lies inside it.
        ("POST", "/cap/{id}/deploy" | "/cap/{id}/dismiss") => {
            match id.as_ref().and_then(|id| snap.cap.get(id)) {
                Some(w) => warning_inside(scope, snap, w).map_err(refuse),
                None => Ok(()),
            }
        }
        // An alarm is its panel's: acknowledged inside the scope only.
        ("POST", "/alarms/{id}/acknowledge") => {
            let n = r.segs.get(1).and_then(|s| s.parse::<u64>().ok());
            let panel = ctx.alarms.store.with_log(|log| {
                let i = log.incidents.iter().find(|i| Some(i.id) == n);
                i.map(|i| i.panel.clone())
            });
            match panel {
                Some(p) if !sees(&r.who, snap, &p) => Err(refuse(Reason::OutsideScope {
                    target: p.to_string(),
                    scope: joined(scope),
                })),
                _ => Ok(()),
            }
        }
        // A warning that reaches none of the scope's panels is not theirs
        // to read: 404, as for a panel.
        ("GET", "/cap/{id}" | "/cap/{id}/document") => {
            match id.as_ref().and_then(|id| snap.cap.get(id)) {
                Some(w) if !w.concerns(&r.who, snap) => {
                    Err(ApiError::not_found(Reason::NotFound {
                        kind: Kind::Warning,
                        id: w.id.to_string(),
                    }))
                }
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// Whether every panel warning `w` reaches (and every panel of the
/// warnings it replaces) lies inside `scope`, and there is one.
fn warning_inside(scope: &[Id], snap: &Snapshot, w: &Warning) -> Result<(), Reason> {
    let mut panels: Vec<&Id> = w.panels.iter().collect();
    for old in &w.references {
        panels.extend(snap.cap.get(old).into_iter().flat_map(|o| &o.panels));
    }
    let outside = panels
        .iter()
        .find(|p| snap.panels.get(**p).is_none_or(|p| !panel_inside(scope, p)));
    match (panels.is_empty(), outside) {
        (false, None) => Ok(()),
        (_, outside) => Err(Reason::WarningOutsideScope {
            panel: outside.map(|p| p.to_string()),
            scope: joined(scope),
        }),
    }
}
