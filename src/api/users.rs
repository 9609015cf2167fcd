//! Staff accounts, for administrators: create (with a first password the
//! person must change), list, change name/roles/scope, reset a password,
//! sign someone out everywhere, remove. Every change has its audit line.

use std::sync::Arc;

use chrono::Utc;
use serde::Deserialize;
use warp::reply::Response;

use super::error::ApiError;
use super::req::{empty, ok, Req};
use super::{admin, blocking, Ctx};
use crate::auth::scope::admin_province_wide;
use crate::auth::{check_scope, check_user, password, NewUser, UserPatch};
use crate::i18n::{Kind, Reason};

pub(super) async fn create(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let body: NewUser = r.json().await?;
    check_user(&body.username, &body.display_name, &body.roles).map_err(ApiError::bad_request)?;
    check_scope(&body.scope).map_err(ApiError::bad_request)?;
    admin_province_wide(&body.roles, &body.scope).map_err(ApiError::unprocessable)?;
    password::acceptable(&body.password, &body.username).map_err(ApiError::bad_request)?;
    if ctx.tokens.list().iter().any(|t| t.name == body.username) {
        return Err(ApiError::conflict(Reason::AccountNameIsAToken {
            name: body.username.clone(),
        }));
    }
    let (accounts, store) = (ctx.accounts.clone(), ctx.store.clone());
    let line = admin::entry(&r.who.name, "create", "account", &body.username);
    let now = Utc::now();
    let info = blocking(move || {
        let phc = password::hash(&body.password);
        store.audited(line, || accounts.create(body, phc, now))
    })
    .await??;
    ok(&info)
}

pub(super) async fn list(ctx: &Arc<Ctx>, _r: &mut Req) -> Result<Response, ApiError> {
    ok(&ctx.accounts.users().list())
}

pub(super) async fn update(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let name = r.segs[1].clone();
    let patch: UserPatch = r.json().await?;
    let current = ctx.accounts.users().get(&name).ok_or_else(|| {
        ApiError::not_found(Reason::NotFound {
            kind: Kind::Account,
            id: name.clone(),
        })
    })?;
    check_user(
        &name,
        patch
            .display_name
            .as_deref()
            .unwrap_or(&current.display_name),
        patch.roles.as_deref().unwrap_or(&current.roles),
    )
    .map_err(ApiError::bad_request)?;
    if let Some(s) = &patch.scope {
        check_scope(s).map_err(ApiError::bad_request)?;
    }
    // The account as it would be: an admin role added to a scoped account
    // is refused as much as a scope given to an admin.
    admin_province_wide(
        patch.roles.as_deref().unwrap_or(&current.roles),
        patch.scope.as_ref().unwrap_or(&current.scope),
    )
    .map_err(ApiError::unprocessable)?;
    let (accounts, store) = (ctx.accounts.clone(), ctx.store.clone());
    let line = admin::entry(&r.who.name, "update", "account", &name);
    let info = blocking(move || store.audited(line, || accounts.update(&name, patch))).await??;
    ok(&info)
}

/// The body of `POST /users/{name}/password`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Reset {
    password: String,
}

pub(super) async fn reset_password(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let name = r.segs[1].clone();
    let body: Reset = r.json().await?;
    password::acceptable(&body.password, &name).map_err(ApiError::bad_request)?;
    let (accounts, store) = (ctx.accounts.clone(), ctx.store.clone());
    let line = admin::entry(&r.who.name, "reset-password", "account", &name);
    let now = Utc::now();
    blocking(move || {
        let phc = password::hash(&body.password);
        store.audited(line, || accounts.set_password(&name, phc, true, None, now))
    })
    .await??;
    ctx.tokens.notify_revoked();
    empty()
}

pub(super) async fn sign_out_everywhere(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let name = r.segs[1].clone();
    if ctx.accounts.users().get(&name).is_none() {
        return Err(ApiError::not_found(Reason::NotFound {
            kind: Kind::Account,
            id: name.clone(),
        }));
    }
    let (accounts, store) = (ctx.accounts.clone(), ctx.store.clone());
    let line = admin::entry(&r.who.name, "sign-out-everywhere", "session", &name);
    blocking(move || {
        store.audited(line, || {
            accounts.sign_out_everywhere(&name, None);
            Ok(())
        })
    })
    .await??;
    ctx.tokens.notify_revoked();
    empty()
}

pub(super) async fn delete(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let name = r.segs[1].clone();
    let (accounts, store) = (ctx.accounts.clone(), ctx.store.clone());
    let line = admin::entry(&r.who.name, "delete", "account", &name);
    blocking(move || store.audited(line, || accounts.delete(&name))).await??;
    ctx.tokens.notify_revoked();
    empty()
}
