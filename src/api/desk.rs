//! The approval desk: the queue of messages waiting for approval (with who
//! wrote them and where they will run, filtered to what the viewer may
//! approve), rejection with a comment, every version of a message, the
//! word-level diff between the last approved version and the edit in
//! front of the approver, and the dashboard's notifications.
//!
//! Notifications are a list computed from the messages as they stand
//! (`GET /notifications`), not a stream: an author sees their messages
//! rejected (with the comment) or approved, an approver the messages
//! waiting for them. Nothing is stored for them, so they survive restarts
//! and need no clean-up; the dashboard remembers what it has shown.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use warp::reply::Response;

use super::error::ApiError;
use super::req::{ok, Req};
use super::scope::Approvals;
use super::{blocking, Ctx};
use crate::domain::diff::{self, DiffPart};
use crate::domain::{Campaign, Id, Message, MessageBody, MessageVersion, Role};
use crate::store::tokens::Principal;
use crate::store::Snapshot;

/// A campaign that plays a message, and the places it targets.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct Placement {
    campaign: Id,
    name: String,
    /// Each target as written (`all`, `group:ID`, a panel id) with what
    /// people call it ("Thị xã Cửa Lò", a panel's name).
    targets: Vec<Place>,
}

/// One target of a campaign, named.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct Place {
    target: String,
    name: String,
}

/// A message waiting for approval.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct QueueItem<'a> {
    message: &'a Message,
    /// Where it will run: the campaigns that play it (empty: none yet).
    placements: Vec<Placement>,
    /// Whether the viewer may approve it now (false when they wrote the
    /// last edit: four eyes).
    can_approve: bool,
}

/// Where a message will run: the `campaigns` that play it.
fn placements(snap: &Snapshot, campaigns: &[&Campaign]) -> Vec<Placement> {
    campaigns
        .iter()
        .map(|c| Placement {
            campaign: c.id.clone(),
            name: c.body.name.clone(),
            targets: c
                .body
                .targets
                .iter()
                .map(|t| {
                    let name = match t {
                        crate::domain::Target::All => "all".to_string(),
                        crate::domain::Target::Group(g) => snap.group_name(g),
                        crate::domain::Target::Panel(p) => snap.panel_name(p),
                    };
                    Place {
                        target: t.to_string(),
                        name,
                    }
                })
                .collect(),
        })
        .collect()
}

/// The messages `who` may approve that wait for approval, newest first,
/// each with the campaigns that play it (what that takes is read once,
/// [`Approvals`]).
fn queue_for<'a>(
    ctx: &Ctx,
    snap: &'a Snapshot,
    who: &'a Principal,
) -> Vec<(&'a Message, Vec<&'a Campaign>)> {
    if !who.has(Role::Approver) {
        return Vec::new();
    }
    let approvals = Approvals::read(ctx, snap, who);
    let mut v: Vec<(&Message, Vec<&Campaign>)> = snap
        .messages
        .values()
        .filter(|m| m.waiting() && approvals.may_approve(m))
        .map(|m| (m, approvals.campaigns(&m.id).to_vec()))
        .collect();
    v.sort_by_key(|(m, _)| std::cmp::Reverse(m.updated_at));
    v
}

pub(super) async fn queue(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let snap = ctx.store.snapshot();
    let policy = crate::domain::Policy {
        allow_self_approval: ctx.allow_self_approval,
    };
    let items: Vec<QueueItem> = queue_for(ctx, &snap, &r.who)
        .into_iter()
        .map(|(m, campaigns)| QueueItem {
            placements: placements(&snap, &campaigns),
            can_approve: m.may_be_approved_by(&r.who.name, policy),
            message: m,
        })
        .collect();
    ok(&items)
}

/// A rejection: what the author should change.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RejectBody {
    /// Why, for the author: 1 to 1000 characters.
    comment: String,
    /// The `version` the approver read; another version is refused with
    /// 409 `version_conflict`.
    #[serde(default)]
    version: Option<u64>,
}

pub(super) async fn reject(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let body: RejectBody = r.json().await?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    let m =
        blocking(move || store.reject_message(&id, &who, body.version, &body.comment, Utc::now()))
            .await??;
    Ok(super::messages::versioned(&m))
}

pub(super) async fn versions(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let store = ctx.store.clone();
    let v = blocking(move || store.message_versions(&id)).await??;
    ok(&v)
}

pub(super) async fn deleted(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let store = ctx.store.clone();
    let v = blocking(move || store.deleted_versions(&id)).await??;
    ok(&v)
}

/// What a diff is taken against.
#[derive(Serialize, schemars::JsonSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(super) enum Base {
    /// The last approved version.
    Approved,
    /// Never approved: the last version an approver sent back.
    Rejected,
}

/// What changed between the last approved version (or, for a message
/// never approved, the last rejected one) and the current one.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct Diff {
    /// The version diffed against, when there is one and it is kept (else
    /// the diff is against nothing: everything is inserted).
    from: Option<u64>,
    /// What `from` is.
    base: Option<Base>,
    /// The current version.
    to: u64,
    title: Vec<DiffPart>,
    text: Vec<DiffPart>,
    /// The validity window before and after, when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    window: Option<WindowChange>,
    /// Whether the image changed.
    image_changed: bool,
}

/// A validity window that changed.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct WindowChange {
    before: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    after: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
}

/// The diff of `to` against `from` (nothing: an empty body).
fn diff_of(from: Option<(&MessageVersion, Base)>, to: &MessageVersion) -> Diff {
    let empty = MessageBody {
        title: String::new(),
        text: None,
        image: None,
        style: Default::default(),
        valid_from: None,
        valid_until: None,
    };
    let old = from.map_or(&empty, |(v, _)| &v.body);
    let new = &to.body;
    let window = |b: &MessageBody| (b.valid_from, b.valid_until);
    Diff {
        from: from.map(|(v, _)| v.version),
        base: from.map(|(_, b)| b),
        to: to.version,
        title: diff::words(&old.title, &new.title),
        text: diff::words(
            old.text.as_deref().unwrap_or(""),
            new.text.as_deref().unwrap_or(""),
        ),
        window: (window(old) != window(new)).then(|| WindowChange {
            before: window(old),
            after: window(new),
        }),
        image_changed: old.image != new.image,
    }
}

pub(super) async fn diff(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let store = ctx.store.clone();
    let d = blocking(move || -> Result<Diff, ApiError> {
        let all = store.message_versions(&id)?;
        let current = all.first().expect("the current version is always listed");
        let approved = store
            .snapshot()
            .messages
            .get(&id)
            .and_then(|m| m.last_approved);
        let from = match approved {
            Some(a) => all
                .iter()
                .find(|v| v.version == a)
                .map(|v| (v, Base::Approved)),
            None => all
                .iter()
                .skip(1)
                .find(|v| v.rejection.is_some())
                .map(|v| (v, Base::Rejected)),
        };
        Ok(diff_of(from, current))
    })
    .await??;
    ok(&d)
}

/// What a notification is about.
#[derive(Serialize, schemars::JsonSchema, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(super) enum NoticeKind {
    /// Your message was sent back, with a comment.
    Rejected,
    /// Your message was approved.
    Approved,
    /// A message waits for your approval.
    Waiting,
}

/// One notification.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct Notice {
    kind: NoticeKind,
    message: Id,
    title: String,
    version: u64,
    /// Who rejected, approved or last edited.
    by: String,
    at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

/// Most notifications listed.
const MAX_NOTICES: usize = 50;

/// `who`'s notifications, newest first.
fn notices(ctx: &Ctx, snap: &Snapshot, who: &Principal) -> Vec<Notice> {
    let mut out: Vec<Notice> = Vec::new();
    for m in snap.messages.values() {
        let mine = m.created_by == who.name || m.updated_by == who.name;
        let notice = |kind, by: &str, at, comment: Option<String>| Notice {
            kind,
            message: m.id.clone(),
            title: m.body.title.clone(),
            version: m.version,
            by: by.to_string(),
            at,
            comment,
        };
        if let Some(r) = m.rejection.as_ref().filter(|_| mine) {
            out.push(notice(
                NoticeKind::Rejected,
                &r.by,
                r.at,
                Some(r.comment.clone()),
            ));
        } else if let (Some(by), Some(at)) = (&m.approved_by, m.approved_at) {
            if mine && by != &who.name {
                out.push(notice(NoticeKind::Approved, by, at, None));
            }
        }
    }
    out.extend(
        queue_for(ctx, snap, who)
            .into_iter()
            .filter(|(m, _)| m.updated_by != who.name)
            .map(|(m, _)| Notice {
                kind: NoticeKind::Waiting,
                message: m.id.clone(),
                title: m.body.title.clone(),
                version: m.version,
                by: m.updated_by.clone(),
                at: m.updated_at,
                comment: None,
            }),
    );
    out.sort_by_key(|n| std::cmp::Reverse(n.at));
    out.truncate(MAX_NOTICES);
    out
}

pub(super) async fn notifications(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    ok(&notices(ctx, &ctx.store.snapshot(), &r.who))
}
