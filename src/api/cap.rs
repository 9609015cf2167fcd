//! Official warnings (CAP): documents posted by a `feed` token, the
//! inbox the dashboard shows, and an operator's one click (deploy or
//! dismiss) on a held warning. The decisions are `cap`'s and the store's;
//! these handlers parse, call and map errors.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use super::error::ApiError;
use super::req::{bytes_reply, ok, Req};
use super::scope::{self, Readable};
use super::{blocking, Ctx};
use crate::cap::{xml::MAX_DOC_BYTES, CapError, State, Warning};
use crate::domain::Id;
use crate::i18n::Lang;
use crate::store::cap::{CapFailure, Source};
use crate::store::Snapshot;

/// Content types a CAP document may be posted with.
const CAP_TYPES: [&str; 3] = ["application/cap+xml", "application/xml", "text/xml"];

/// The reply to a posted document.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Received {
    pub id: Id,
    /// The identifier was received before: nothing changed.
    pub duplicate: bool,
    pub state: State,
    pub panels: usize,
    pub alerts: Vec<Id>,
    /// Earlier warnings this document ended.
    pub ended: Vec<Id>,
    pub notes: Vec<String>,
}

pub(crate) async fn receive(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    match r.content_type().as_deref() {
        Some(t) if CAP_TYPES.contains(&t) => {}
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                crate::i18n::Reason::NotCap {
                    got: other.unwrap_or("-").to_string(),
                },
            ))
        }
    }
    let bytes = r.body(MAX_DOC_BYTES).await?;
    let config = ctx.feeds.config.current();
    let mut source = Source::post(&config, &r.who.name);
    // A scoped feed token's warnings reach the panels of its scope only.
    source.scope = r.who.scope.clone();
    let (store, tz) = (ctx.store.clone(), ctx.tz);
    let receipt = blocking(move || store.receive_cap(&bytes, &source, &config, tz, Utc::now()))
        .await?
        .map_err(failure)?;
    let w = &receipt.warning;
    ok(&Received {
        id: w.id.clone(),
        duplicate: receipt.duplicate,
        state: w.state,
        panels: w.panels.len(),
        alerts: w.alerts.clone(),
        ended: receipt.ended.clone(),
        notes: notes(w, r.lang()),
    })
}

/// A refused document: 403 for a sender off the allowlist, 413 for a
/// document too large, 400 for the rest.
pub(crate) fn failure(f: CapFailure) -> ApiError {
    match f {
        CapFailure::Store(e) => e.into(),
        CapFailure::Refused(e) => {
            let (status, code) = match &e {
                CapError::Sender(_) => (StatusCode::FORBIDDEN, "sender_not_allowed"),
                CapError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
                CapError::Dtd | CapError::Entity(_) => (StatusCode::BAD_REQUEST, "xml_refused"),
                _ => (StatusCode::BAD_REQUEST, "invalid_cap"),
            };
            ApiError::new(status, code, e.reason())
        }
    }
}

/// A warning as the inbox lists it.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct WarningView {
    #[serde(flatten)]
    pub warning: Warning,
    /// Whether one of its alerts is on the signs now.
    pub live: bool,
    /// Whether it is past its expiry.
    pub expired: bool,
    /// The matched panels by district (group; `-` for none).
    pub by_group: BTreeMap<String, Vec<Id>>,
    /// Why the rules decided as they did, in the reader's language (the
    /// warning keeps them typed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A warning's notes as sentences in `lang`.
fn notes(w: &Warning, lang: Lang) -> Vec<String> {
    w.notes.iter().map(|n| n.render(lang)).collect()
}

/// The view of `w`, a warning as its reader may read it
/// ([`scope::readable`], [`Readable::narrow`]).
fn view(snap: &Snapshot, mut w: Warning, now: DateTime<Utc>, lang: Lang) -> WarningView {
    let live = w
        .alerts
        .iter()
        .filter_map(|a| snap.alerts.get(a))
        .any(|a| a.active_at(now));
    let mut by_group: BTreeMap<String, Vec<Id>> = BTreeMap::new();
    for id in &w.panels {
        let groups = snap
            .panels
            .get(id)
            .map(|p| p.groups.clone())
            .unwrap_or_default();
        let first = groups.first().cloned().unwrap_or_else(|| "-".into());
        by_group.entry(first).or_default().push(id.clone());
    }
    let notes = notes(&w, lang);
    w.notes.clear();
    WarningView {
        live,
        expired: w.lapsed(now),
        by_group,
        notes,
        warning: w,
    }
}

pub(crate) async fn list(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let snap = ctx.store.snapshot();
    let now = Utc::now();
    let lang = r.lang();
    let state = r.q("state").map(str::to_string);
    let mut read: Vec<_> = snap
        .cap
        .values()
        .filter(|w| {
            state
                .as_deref()
                .is_none_or(|s| crate::cap::warning::state_name(w.state) == s)
        })
        .filter_map(|w| scope::readable(&r.who, &snap, w))
        .collect();
    read.sort_by_key(|w| std::cmp::Reverse(w.received_at));
    read.truncate(r.q("limit").and_then(|l| l.parse().ok()).unwrap_or(200));
    // Only the warnings listed are copied into views.
    let v: Vec<WarningView> = read
        .into_iter()
        .map(|w| view(&snap, w.into_owned(), now, lang))
        .collect();
    ok(&v)
}

pub(crate) async fn get(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let snap = ctx.store.snapshot();
    // Without the panels `who` may not see (the gate answered 404 for a
    // warning that reaches none of theirs): the delivery counts the rest.
    let mut w = found(&snap, &id)?;
    w.narrow(&r.who, &snap);
    let v = view(&snap, w, Utc::now(), r.lang());
    let w = &v.warning;
    // Delivery: panels that acknowledged a frame of one of its alerts.
    let plays = ctx.plays.clone();
    let alerts: Vec<String> = w.alerts.iter().map(|a| a.to_string()).collect();
    let from = w.received_at;
    let to = w
        .alerts
        .iter()
        .filter_map(|a| snap.alerts.get(a))
        .map(|a| a.ends_at)
        .max()
        .unwrap_or(from)
        .max(from)
        + Duration::minutes(1);
    let rows = blocking(move || plays.of_alerts(from, to, &alerts, 1_000_000))
        .await?
        .map_err(|e| ApiError::internal("reading proof of play", e))?;
    let mut acked: BTreeMap<String, i64> = BTreeMap::new();
    for row in rows
        .iter()
        .filter(|p| r.who.scope.is_none() || w.panels.iter().any(|x| x.as_str() == p.panel))
    {
        acked
            .entry(row.panel.clone())
            .or_insert((row.shown_at - w.received_at).num_milliseconds());
    }
    let ms: Vec<i64> = acked.values().copied().collect();
    ok(&serde_json::json!({
        "warning": v,
        "delivery": {
            "targets": w.panels.len(),
            "acked": acked.len(),
            "first_ack_ms": ms.iter().min(),
            "last_ack_ms": ms.iter().max(),
            "panels_acked": acked.keys().collect::<Vec<_>>(),
        }
    }))
}

pub(crate) async fn document(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let w = found(&ctx.store.snapshot(), &id)?;
    let store = ctx.store.clone();
    let bytes = blocking(move || store.cap_document(&w.document)).await??;
    Ok(bytes_reply("application/cap+xml; charset=utf-8", bytes))
}

/// What an operator may send with a deploy: their own Vietnamese text.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeployBody {
    #[serde(default)]
    pub text: Option<String>,
}

pub(crate) async fn deploy(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let body: DeployBody = if r.content_type().is_some() {
        r.json().await?
    } else {
        DeployBody::default()
    };
    let config = ctx.feeds.config.current();
    let (store, who) = (ctx.store.clone(), r.who.name.clone());
    let w = blocking(move || store.deploy_cap(&id, &who, body.text, &config, Utc::now())).await??;
    decided(ctx, r, w)
}

/// The reply to an operator's decision: the warning as they read it.
fn decided(ctx: &Ctx, r: &Req, mut w: Warning) -> Result<Response, ApiError> {
    let snap = ctx.store.snapshot();
    w.narrow(&r.who, &snap);
    ok(&view(&snap, w, Utc::now(), r.lang()))
}

pub(crate) async fn dismiss(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let (store, who) = (ctx.store.clone(), r.who.name.clone());
    let w = blocking(move || store.dismiss_cap(&id, &who, Utc::now())).await??;
    decided(ctx, r, w)
}

/// The feeds' health and the configuration's state (also in `/status`).
pub(crate) async fn feeds(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    ok(&status(ctx, r.lang()))
}

/// The CAP part of `/status`: each feed's health, the configuration file's
/// problem if any, and the map tiles the dashboard may use.
pub(crate) fn status(ctx: &Ctx, lang: Lang) -> serde_json::Value {
    let config = ctx.feeds.config.current();
    serde_json::json!({
        "config_problem": ctx.feeds.config.problem().map(|t| t.render(lang)),
        "feeds": ctx.feeds.health(&config, lang),
        "held": ctx.store.snapshot().cap.values().filter(|w| w.state == State::Held && !w.lapsed(Utc::now())).count(),
        "map_tiles": config.map_tiles,
    })
}

fn found(snap: &Snapshot, id: &Id) -> Result<Warning, ApiError> {
    snap.cap.get(id).cloned().ok_or_else(|| {
        ApiError::not_found(crate::i18n::Reason::NotFound {
            kind: crate::i18n::Kind::Warning,
            id: id.as_str().to_string(),
        })
    })
}
