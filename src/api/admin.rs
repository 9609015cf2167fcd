//! Who am I, tokens, the audit trail, server status.

use std::sync::Arc;

use serde::Deserialize;
use warp::reply::Response;

use super::error::ApiError;
use super::req::{empty, ok, Req};
use super::{blocking, Ctx};
use crate::domain::Role;
use crate::store::tokens::Principal;
use crate::store::AuditEntry;

/// Who the token belongs to, and the server's approval policy (whether a
/// message's last editor may approve it), so a client shows the right
/// approve button.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(super) struct Me<'a> {
    #[serde(flatten)]
    who: &'a Principal,
    allow_self_approval: bool,
}

pub(super) async fn me(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    ok(&Me {
        who: &r.who,
        allow_self_approval: ctx.allow_self_approval,
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewToken {
    name: String,
    roles: Vec<Role>,
    /// Refused from this instant on (RFC 3339); leave out for no expiry.
    #[serde(default)]
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The groups the roles hold for; leave out for the whole province.
    #[serde(default)]
    scope: Option<Vec<crate::domain::Id>>,
}

/// The reply to `POST /tokens`: the only time the token is shown.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(super) struct CreatedToken {
    name: String,
    roles: Vec<Role>,
    token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<Vec<crate::domain::Id>>,
}

pub(super) async fn create_token(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let body: NewToken = r.json().await?;
    if body.expires_at.is_some_and(|at| at <= chrono::Utc::now()) {
        return Err(ApiError::bad_request(crate::i18n::Reason::ExpiryPast));
    }
    crate::auth::check_scope(&body.scope).map_err(ApiError::bad_request)?;
    crate::auth::scope::admin_province_wide(&body.roles, &body.scope)
        .map_err(ApiError::unprocessable)?;
    let (tokens, store) = (ctx.tokens.clone(), ctx.store.clone());
    let (name, roles) = (body.name.clone(), body.roles.clone());
    let limits = crate::store::tokens::Limits {
        expires_at: body.expires_at,
        scope: body.scope.clone(),
    };
    let line = entry(&r.who.name, "create", "token", &body.name);
    let token =
        blocking(move || store.audited(line, || tokens.create_limited(&name, &roles, limits)))
            .await??;
    let mut roles = body.roles;
    roles.sort();
    roles.dedup();
    ok(&CreatedToken {
        name: body.name,
        roles,
        token,
        expires_at: body.expires_at,
        scope: body.scope,
    })
}

pub(super) async fn list_tokens(ctx: &Arc<Ctx>, _r: &mut Req) -> Result<Response, ApiError> {
    ok(&ctx.tokens.list())
}

pub(super) async fn revoke_token(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let name = r.segs[1].clone();
    let (tokens, store) = (ctx.tokens.clone(), ctx.store.clone());
    let line = entry(&r.who.name, "revoke", "token", &name);
    blocking(move || store.audited(line, || tokens.revoke(&name))).await??;
    empty()
}

pub(super) async fn audit(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let limit = match r.q("limit") {
        None => 500,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .ok_or_else(|| ApiError::bad_request(crate::i18n::Reason::BadLimit))?,
    };
    let store = ctx.store.clone();
    let rows = blocking(move || store.audit_tail(limit)).await??;
    // Each line names the person: a staff account's display name beside
    // its user name.
    let users = ctx.accounts.users();
    let rows: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|row| {
            let name = users.get(&row.who).map(|u| u.display_name);
            let mut v = serde_json::to_value(&row).expect("audit entry serializes");
            if let (Some(n), Some(o)) = (name, v.as_object_mut()) {
                o.insert("who_name".into(), n.into());
            }
            v
        })
        .collect();
    ok(&rows)
}

/// Server health. A district's staff count their own panels and the
/// campaigns that concern them, and see no problems in data files (a
/// file's name can name another district's panel).
pub(super) async fn status(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let snap = ctx.store.snapshot();
    let province = r.who.scope.is_none();
    let problems: Vec<_> = snap
        .problems
        .values()
        .filter(|_| province)
        .map(|p| {
            serde_json::json!({
                "path": p.path.display().to_string(),
                "file": ctx.store.relative(&p.path),
                "message": p.message.render(r.lang()),
                "line": p.line,
                "column": p.column,
            })
        })
        .collect();
    let panels: Vec<&crate::domain::Id> = snap
        .panels
        .values()
        .filter(|p| super::scope::visible(&r.who, p))
        .map(|p| &p.id)
        .collect();
    let online = ctx.shared.online_among(panels.iter().copied());
    let campaigns = snap
        .campaigns
        .values()
        .filter(|c| super::scope::concerns(&r.who, &snap, &c.body.targets))
        .count();
    let (leading, epoch) = ctx.metrics.leadership();
    ok(&serde_json::json!({
        "leading": leading,
        "leader_epoch": epoch,
        "mqtt_connected": ctx.metrics.mqtt_connected.load(std::sync::atomic::Ordering::Relaxed),
        "controller_reports_authenticated": ctx.broker.reports_authenticated,
        "panels": panels.len(),
        "panels_online": online,
        "messages": snap.messages.len(),
        "campaigns": campaigns,
        "problems": problems,
        "cap": super::cap::status(ctx, r.lang()),
    }))
}

pub(super) fn entry(who: &str, action: &str, kind: &str, id: &str) -> AuditEntry {
    AuditEntry {
        at: chrono::Utc::now(),
        who: who.into(),
        action: action.into(),
        kind: kind.into(),
        id: id.into(),
        detail: serde_json::Value::Null,
    }
}
