//! Emergency alerts: pre-empt every campaign on their targets at once.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use serde::Serialize;
use warp::reply::Response;

use super::error::ApiError;
use super::req::{empty, ok, Req};
use super::{blocking, Ctx};
use crate::domain::{Alert, AlertBody, Id, MessageBody, Target, MAX_ALERT_CHARS};
use crate::player::ALERT_STYLE;
use crate::schedule::ALERT_DWELL_S;
use crate::store::Snapshot;

pub(super) async fn create(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let body: AlertBody = r.json().await?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    let a = blocking(move || store.create_alert(body, &who, Utc::now())).await??;
    let targets = target_panels(&ctx.store.snapshot(), &a.body.targets).len();
    ok(&serde_json::json!({"id": a.id, "ends_at": a.ends_at, "panels": targets}))
}

pub(super) fn target_panels(snap: &Snapshot, targets: &[Target]) -> BTreeSet<Id> {
    snap.panels
        .values()
        .filter(|p| targets.iter().any(|t| t.matches(p)))
        .map(|p| p.id.clone())
        .collect()
}

#[derive(Serialize)]
struct AlertView<'a> {
    #[serde(flatten)]
    alert: Cow<'a, Alert>,
    active: bool,
}

pub(super) async fn list(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let snap = ctx.store.snapshot();
    let now = Utc::now();
    let only_active = r.q("active") == Some("true");
    let mut v: Vec<AlertView> = snap
        .alerts
        .values()
        .filter_map(|a| super::scope::readable(&r.who, &snap, a))
        .map(|a| AlertView {
            active: a.active_at(now),
            alert: a,
        })
        .filter(|v| !only_active || v.active)
        .collect();
    v.sort_by_key(|a| std::cmp::Reverse(a.alert.created_at));
    ok(&v)
}

/// The first acknowledgement of `alert` by each panel, as (panel,
/// milliseconds after the alert was created), from proof of play.
pub(super) async fn first_acks(ctx: &Ctx, a: &Alert) -> Result<Vec<(Id, i64)>, ApiError> {
    let plays = ctx.plays.clone();
    let (from, to) = (
        a.created_at,
        a.ends_at.max(a.created_at) + Duration::minutes(1),
    );
    let alert = [a.id.to_string()];
    let rows = blocking(move || plays.of_alerts(from, to, &alert, 1_000_000))
        .await?
        .map_err(|e| ApiError::internal("reading proof of play", e))?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for row in &rows {
        if let Ok(pid) = Id::parse(&row.panel) {
            if seen.insert(pid.clone()) {
                out.push((pid, (row.shown_at - a.created_at).num_milliseconds()));
            }
        }
    }
    Ok(out)
}

pub(super) async fn get(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let snap = ctx.store.snapshot();
    // Another district's alert answers 404, as if it did not exist.
    let a = snap
        .alerts
        .get(&id)
        .and_then(|a| super::scope::readable(&r.who, &snap, a))
        .ok_or_else(|| {
            ApiError::not_found(crate::i18n::Reason::NotFound {
                kind: crate::i18n::Kind::Alert,
                id: id.as_str().to_string(),
            })
        })?;
    let mut targets = target_panels(&snap, &a.body.targets);
    targets.retain(|p| super::scope::sees(&r.who, &snap, p));
    let mut first = first_acks(ctx, &a).await?;
    first.retain(|(p, _)| targets.contains(p));
    let seen: BTreeSet<Id> = first.iter().map(|(p, _)| p.clone()).collect();
    let lat: Vec<i64> = first.iter().map(|(_, ms)| *ms).collect();
    // Targeted panels that have not acknowledged it (yet), with their names.
    let pending: Vec<_> = targets
        .iter()
        .filter(|p| !seen.contains(*p))
        .map(|p| {
            let name = snap.panels.get(p).map(|x| x.name.as_str()).unwrap_or("");
            serde_json::json!({"id": p, "name": name})
        })
        .collect();
    ok(&serde_json::json!({
        "id": a.id, "text": a.body.text, "targets": a.body.targets, "duration_s": a.body.duration_s,
        "created_by": a.created_by, "created_at": a.created_at, "ends_at": a.ends_at,
        "cancelled_at": a.cancelled_at, "active": a.active_at(Utc::now()),
        "delivery": {
            "targets": targets.len(),
            "acked": seen.len(),
            "first_ack_ms": lat.iter().min(),
            "last_ack_ms": lat.iter().max(),
            "panels_acked": seen,
            "pending": pending,
        }
    }))
}

/// The body of an alert preview: the alert as it would be sent; only the
/// text is drawn (targets and duration may be left out).
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PreviewBody {
    text: String,
    #[serde(default)]
    #[allow(dead_code)]
    targets: Vec<Target>,
    #[serde(default)]
    #[allow(dead_code)]
    duration_s: Option<u32>,
}

/// An alert drawn exactly as the player draws it (its text in the alert
/// style), on a panel or a profile given as for message previews.
pub(super) async fn preview(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let profile = super::messages::preview_target(ctx, r)?;
    let page = super::messages::page_param(r)?;
    let led = r.q("look") == Some("led");
    let body: PreviewBody = r.json().await?;
    let text = body.text.trim();
    if text.is_empty() || text.chars().count() > MAX_ALERT_CHARS {
        return Err(ApiError::bad_request(crate::i18n::Reason::AlertText {
            max: MAX_ALERT_CHARS,
        }));
    }
    let msg = MessageBody {
        title: "alert".into(),
        text: Some(text.to_string()),
        image: None,
        style: ALERT_STYLE,
        valid_from: None,
        valid_until: None,
    };
    super::messages::preview(
        ctx,
        super::messages::Preview {
            body: msg,
            cached: None,
            profile,
            page,
            led,
            dwell: ALERT_DWELL_S,
            inm: super::messages::inm(r),
            lang: r.lang(),
        },
    )
    .await
}

pub(super) async fn cancel(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    blocking(move || store.cancel_alert(&id, Utc::now(), &who)).await??;
    empty()
}
