//! Emergency alerts: pre-empt every campaign on their targets at once.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use serde::Serialize;
use warp::reply::Response;

use super::error::ApiError;
use super::req::{created, no_content, ok, Req};
use super::{blocking, Ctx};
use crate::domain::{Alert, AlertBody, Id, Role, Target, MAX_ALERT_S};
use crate::store::Snapshot;

/// Longest alert text: an alert must be read at a glance.
const MAX_ALERT_CHARS: usize = 500;

pub async fn create(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    r.require(Role::Operator)?;
    let body: AlertBody = r.json().await?;
    let n = body.text.trim().chars().count();
    if n == 0 || n > MAX_ALERT_CHARS {
        return Err(ApiError::bad_request(format!(
            "alert text must be 1 to {MAX_ALERT_CHARS} characters"
        )));
    }
    if body.duration_s == 0 || body.duration_s > MAX_ALERT_S {
        return Err(ApiError::bad_request(format!(
            "duration_s must be 1 to {MAX_ALERT_S} seconds (three days); send a new alert to extend"
        )));
    }
    let now = Utc::now();
    let mut a = Alert {
        id: alert_id(now),
        ends_at: now + Duration::seconds(i64::from(body.duration_s)),
        body,
        created_by: r.who.name.clone(),
        created_at: now,
        cancelled_at: None,
    };
    crate::store::check_targets(&ctx.store.snapshot(), &a.body.targets).map_err(ApiError::from)?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    // Ids are the second plus 32 random bits; two alerts in the same second
    // could still meet: an emergency must never fail on that, so draw again.
    let a = blocking(move || {
        let mut tries = 0;
        loop {
            match store.put_alert(a.clone(), &who) {
                Err(crate::store::StoreError::Conflict(_)) if tries < 5 => {
                    tries += 1;
                    a.id = alert_id(a.created_at);
                }
                other => return other,
            }
        }
    })
    .await??;
    let targets = target_panels(&ctx.store.snapshot(), &a.body.targets).len();
    created(&serde_json::json!({"id": a.id, "ends_at": a.ends_at, "panels": targets}))
}

fn alert_id(now: chrono::DateTime<Utc>) -> Id {
    Id::parse(&format!(
        "alert-{}-{:08x}",
        now.format("%Y%m%d-%H%M%S"),
        rand::random::<u32>()
    ))
    .expect("valid id")
}

pub fn target_panels(snap: &Snapshot, targets: &[Target]) -> BTreeSet<Id> {
    snap.panels
        .values()
        .filter(|p| targets.iter().any(|t| t.matches(p)))
        .map(|p| p.id.clone())
        .collect()
}

#[derive(Serialize)]
struct AlertView<'a> {
    #[serde(flatten)]
    alert: &'a Alert,
    active: bool,
}

pub fn list(ctx: &Arc<Ctx>, r: &Req) -> Result<Response, ApiError> {
    let snap = ctx.store.snapshot();
    let now = Utc::now();
    let only_active = r.q("active") == Some("true");
    let mut v: Vec<AlertView> = snap
        .alerts
        .values()
        .map(|a| AlertView {
            alert: a,
            active: a.active_at(now),
        })
        .filter(|v| !only_active || v.active)
        .collect();
    v.sort_by_key(|a| std::cmp::Reverse(a.alert.created_at));
    ok(&v)
}

pub async fn get(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let snap = ctx.store.snapshot();
    let a =
        snap.alerts.get(&id).cloned().ok_or_else(|| {
            ApiError::not_found(format!("no alert with id {:?} exists", id.as_str()))
        })?;
    let targets = target_panels(&snap, &a.body.targets);
    let plays = ctx.plays.clone();
    let (from, to) = (
        a.created_at,
        a.ends_at.max(a.created_at) + Duration::minutes(1),
    );
    let rows = blocking(move || plays.query(from, to, None, 1_000_000))
        .await?
        .map_err(|e| ApiError::internal("reading proof of play", e))?;
    let mut first: BTreeSet<(Id, i64)> = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for row in rows
        .iter()
        .filter(|p| p.alert.as_deref() == Some(id.as_str()))
    {
        if let Ok(pid) = Id::parse(&row.panel) {
            if seen.insert(pid.clone()) {
                first.insert((pid, (row.shown_at - a.created_at).num_milliseconds()));
            }
        }
    }
    let lat: Vec<i64> = first.iter().map(|(_, ms)| *ms).collect();
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
        }
    }))
}

pub async fn cancel(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    r.require(Role::Operator)?;
    let id = r.id(1)?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    blocking(move || store.cancel_alert(&id, Utc::now(), &who)).await??;
    no_content()
}
