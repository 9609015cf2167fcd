//! Districts as scopes, enforced here and only here (the router calls
//! [`gate`] after the role check, before any handler): a principal whose
//! roles hold for some groups may only aim campaigns and alerts inside
//! them (`auth::scope`), only change campaigns and alerts that stay
//! inside them, only edit messages whose campaigns stay inside them,
//! only approve (or reject) messages that some campaign places there and
//! none places elsewhere ([`may_approve`], which also filters the approval
//! queue), only deploy or dismiss official warnings whose panels all lie
//! inside them, and only read the panels inside them: every
//! `/panels/{id}…` address and every preview `?panel=` of another panel
//! answers 404, as if it did not exist; the panel list is filtered by
//! [`visible`], the event stream, the calendar and the reports (plays,
//! summaries, alert deliveries) by [`sees`].
//! Province-wide principals (no scope) pass untouched.
//! A refusal is 403 `outside_scope` with a sentence naming the target.

use std::sync::Arc;

use warp::http::StatusCode;

use super::error::ApiError;
use super::req::Req;
use super::Ctx;
use crate::auth::scope::{panel_inside, targets_inside};
use crate::domain::{AlertBody, CampaignBody, Id, Panel, Target};
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

/// The targets of every campaign that plays message `id`.
fn campaigns_of(snap: &Snapshot, id: &Id) -> Vec<Target> {
    snap.campaigns
        .values()
        .filter(|c| c.body.messages.iter().any(|m| &m.id == id))
        .flat_map(|c| c.body.targets.iter().cloned())
        .collect()
}

/// Whether `who` may approve (or reject) message `id` as far as districts
/// go: province-wide principals any message; a scoped one only a message
/// that some campaign places inside the scope and none places elsewhere.
pub(super) fn may_approve(snap: &Snapshot, who: &Principal, id: &Id) -> bool {
    let Some(scope) = &who.scope else {
        return true;
    };
    let targets = campaigns_of(snap, id);
    !targets.is_empty() && targets_inside(scope, &targets, |p| snap.panels.get(p)).is_ok()
}

pub(super) async fn gate(ctx: &Arc<Ctx>, r: &mut Req, path: &str) -> Result<(), ApiError> {
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
        ("POST", "/campaigns") => {
            let body: CampaignBody = r.peek_json().await?;
            inside(&body.targets)
        }
        ("PUT", "/campaigns/{id}") => {
            if let Some(c) = id.and_then(|id| snap.campaigns.get(&id)) {
                inside(&c.body.targets)?;
            }
            let body: CampaignBody = r.peek_json().await?;
            inside(&body.targets)
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
        ("PUT" | "DELETE", "/messages/{id}") => match id {
            // An edit takes a message off the air everywhere it runs.
            Some(id) if snap.messages.contains_key(&id) => inside(&campaigns_of(&snap, &id)),
            _ => Ok(()),
        },
        ("POST", "/messages/{id}/approve" | "/messages/{id}/reject") => match id {
            Some(id) if snap.messages.contains_key(&id) => {
                let groups = scope.iter().map(Id::as_str).collect::<Vec<_>>().join(", ");
                if !may_approve(&snap, &r.who, &id) {
                    return Err(refuse(Reason::ApprovalOutsideScope { scope: groups }));
                }
                Ok(())
            }
            _ => Ok(()),
        },
        // An official warning: deployed or dismissed by an operator of the
        // district when every panel it reaches (and every panel of the
        // warnings an update replaces) lies inside it.
        ("POST", "/cap/{id}/deploy" | "/cap/{id}/dismiss") => {
            match id.as_ref().and_then(|id| snap.cap.get(id)) {
                Some(w) => {
                    let mut panels: Vec<&Id> = w.panels.iter().collect();
                    for old in &w.references {
                        panels.extend(snap.cap.get(old).into_iter().flat_map(|o| &o.panels));
                    }
                    let outside = panels.iter().find(|p| {
                        snap.panels
                            .get(**p)
                            .is_none_or(|p| !panel_inside(&scope, p))
                    });
                    match (panels.is_empty(), outside) {
                        (false, None) => Ok(()),
                        (_, outside) => Err(refuse(Reason::WarningOutsideScope {
                            panel: outside.map(|p| p.to_string()),
                            scope: scope.iter().map(Id::as_str).collect::<Vec<_>>().join(", "),
                        })),
                    }
                }
                None => Ok(()),
            }
        }
        // Every panel address, and previews on a panel (`?panel=`): a
        // panel outside the scope is answered as if it did not exist.
        (_, p) if p.starts_with("/panels/{id}") => unseen(&scope, &snap, id.as_ref()),
        ("GET" | "POST", "/messages/{id}/preview.png" | "/preview" | "/alerts/preview")
        | ("GET", "/reports/plays" | "/reports/summary" | "/reports/summary.xlsx")
        | ("GET", "/reports/daily") => {
            let on = r.q("panel").and_then(|s| Id::parse(s).ok());
            unseen(&scope, &snap, on.as_ref())
        }
        _ => Ok(()),
    }
}
