//! Campaigns (the store checks them: values and references) and the cron
//! explainer.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::Utc;
use serde::Deserialize;
use warp::reply::Response;

use super::error::ApiError;
use super::req::{empty, ok, Req};
use super::{blocking, scope, Ctx};
use crate::domain::{Campaign, CampaignBody};
use crate::schedule;

pub(super) async fn list(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let snap = ctx.store.snapshot();
    let v: Vec<Cow<Campaign>> = snap
        .campaigns
        .values()
        .filter_map(|c| scope::readable(&r.who, &snap, c))
        .collect();
    ok(&v)
}

/// One campaign; another district's answers 404, as if it did not exist.
pub(super) async fn get(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let snap = ctx.store.snapshot();
    let c = snap
        .campaigns
        .get(&id)
        .and_then(|c| scope::readable(&r.who, &snap, c))
        .ok_or_else(|| {
            ApiError::not_found(crate::i18n::Reason::NotFound {
                kind: crate::i18n::Kind::Campaign,
                id: id.as_str().to_string(),
            })
        })?;
    ok(&c)
}

pub(super) async fn create(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let body: CampaignBody = r.json().await?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    let c = blocking(move || store.create_campaign(body, &who, Utc::now())).await??;
    ok(&c)
}

pub(super) async fn replace(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let body: CampaignBody = r.json().await?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    let c = blocking(move || store.replace_campaign(id, body, &who, Utc::now())).await??;
    ok(&c)
}

pub(super) async fn delete(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    blocking(move || store.delete_campaign(&id, &who)).await??;
    empty()
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ExplainBody {
    cron: String,
    tz: Option<String>,
    count: Option<usize>,
}

pub(super) async fn explain(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let b: ExplainBody = r.json().await?;
    let tz = b.tz.unwrap_or_else(|| ctx.tz.name().to_string());
    let n = b.count.unwrap_or(5).clamp(1, 50);
    let (description, next) = schedule::explain(&b.cron, &tz, Utc::now(), n)?;
    let description = format!("{} ({tz})", description.render(r.lang()));
    ok(&serde_json::json!({"cron": b.cron, "tz": tz, "description": description, "next": next}))
}
