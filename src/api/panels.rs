//! Panels: CRUD, what each shows now, its timeline and current frame.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::Response;

use super::error::ApiError;
use super::req::{empty, json, ok, Req};
use super::{blocking, Ctx};
use crate::domain::{Panel, Transport};
use crate::player::NowState;
use crate::schedule::Show;
use crate::store::import::{self, ImportError, ImportFormat};
use crate::transport::Link;

#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct PanelView {
    #[serde(flatten)]
    panel: Panel,
    online: bool,
    last_seen: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    firmware: Option<String>,
    /// Whether `online` and `last_seen` come from a report the broker
    /// authenticated as this panel's controller (the embedded broker
    /// does); false with an external broker, whose ACL the server cannot
    /// see, and for vendor cards, which name themselves by device id only.
    reports_authenticated: bool,
    /// `{"kind": "mqtt"}` for MQTT panels, whose stored form leaves it out
    /// (the others carry it in the panel itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    transport: Option<Transport>,
    /// How the sign's connection is doing.
    link: LinkView,
}

/// A panel's connection to its sign: for MQTT panels the controller's
/// status, for vendor cards bangtin's own connection to the card.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct LinkView {
    kind: &'static str,
    #[serde(flatten)]
    link: Link,
    /// Why the last connection or operation failed, in the reader's
    /// language, for the technician.
    last_error: Option<String>,
}

/// What the panel's controller last reported.
fn live_of(ctx: &Ctx, id: &crate::domain::Id) -> crate::player::LiveStatus {
    ctx.shared
        .live
        .read()
        .expect("live lock")
        .get(id)
        .cloned()
        .unwrap_or_default()
}

fn view(ctx: &Ctx, p: Panel, lang: crate::i18n::Lang) -> PanelView {
    let live = live_of(ctx, &p.id);
    let link = match &p.transport {
        Transport::Mqtt => Link {
            connected: live.online,
            last_seen: live.last_seen,
            ..Link::default()
        },
        _ => ctx
            .shared
            .links
            .read()
            .expect("links lock")
            .get(&p.id)
            .cloned()
            .unwrap_or_default(),
    };
    PanelView {
        transport: p.transport.is_mqtt().then_some(Transport::Mqtt),
        link: LinkView {
            kind: p.transport.kind(),
            last_error: link.last_error.as_ref().map(|t| t.render(lang)),
            link,
        },
        online: live.online,
        last_seen: live.last_seen,
        firmware: live.firmware,
        reports_authenticated: p.transport.is_mqtt() && ctx.broker.reports_authenticated,
        panel: p,
    }
}

pub(super) async fn list(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let snap = ctx.store.snapshot();
    let lang = r.lang();
    let v: Vec<PanelView> = snap
        .panels
        .values()
        .filter(|p| super::scope::visible(&r.who, p))
        .cloned()
        .map(|p| view(ctx, p, lang))
        .collect();
    ok(&v)
}

pub(super) async fn get(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let p = known(ctx, r)?;
    ok(&view(ctx, p, r.lang()))
}

pub(super) async fn create(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let p: Panel = r.json().await?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    let p = blocking(move || store.put_panel(p, true, &who)).await??;
    ok(&view(ctx, p, r.lang()))
}

pub(super) async fn replace(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let p: Panel = r.json().await?;
    if p.id != id {
        return Err(ApiError::bad_request(crate::i18n::Reason::IdMismatch {
            body: p.id.to_string(),
            path: id.to_string(),
        }));
    }
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    let p = blocking(move || store.put_panel(p, false, &who)).await??;
    ok(&view(ctx, p, r.lang()))
}

/// Largest bulk import body (10,000 panels are about 2 MB of JSON).
const IMPORT_LIMIT: usize = 32 << 20;

/// `POST /panels:import`: a JSON array or a CSV file of panels, created or
/// replaced all at once; 422 with every bad row named, and nothing changed.
pub(super) async fn import(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let format = match r.content_type().as_deref() {
        Some("application/json") => ImportFormat::Json,
        Some("text/csv") => ImportFormat::Csv,
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                crate::i18n::Reason::NotJsonOrCsv {
                    got: other.unwrap_or("-").to_string(),
                },
            ))
        }
    };
    let body = r.body(IMPORT_LIMIT).await?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    let imported = blocking(move || {
        let panels = import::parse_panels(&body, format)?;
        store.import_panels(panels, &who)
    })
    .await?;
    match imported {
        Ok(summary) => ok(&summary),
        Err(ImportError::Unreadable(m)) => Err(ApiError::bad_request(m)),
        Err(ImportError::Rows(rows)) => {
            let lang = r.lang();
            let each: Vec<_> = rows
                .iter()
                .map(|p| serde_json::json!({"row": p.row, "id": p.id, "message": p.message.render(lang)}))
                .collect();
            Ok(json(
                StatusCode::UNPROCESSABLE_ENTITY,
                &serde_json::json!({
                    "error": "invalid_rows",
                    "message": crate::i18n::Reason::ImportRows { n: rows.len() }.render(lang),
                    "rows": each,
                }),
            ))
        }
        Err(ImportError::Store(e)) => Err(e.into()),
    }
}

pub(super) async fn delete(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    blocking(move || store.delete_panel(&id, &who)).await??;
    empty()
}

pub(super) fn known(ctx: &Ctx, r: &Req) -> Result<Panel, ApiError> {
    let id = r.id(1)?;
    ctx.store
        .snapshot()
        .panels
        .get(&id)
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(crate::i18n::Reason::NotFound {
                kind: crate::i18n::Kind::Panel,
                id: id.to_string(),
            })
        })
}

fn now_of(ctx: &Ctx, p: &Panel) -> Option<NowState> {
    ctx.shared.now.read().expect("now lock").get(&p.id).cloned()
}

/// What a panel shows now, with the newest frame its controller
/// acknowledged (`acked_seq`, `acked_at`; null until one does).
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct NowView {
    #[serde(flatten)]
    now: NowState,
    acked_seq: Option<u32>,
    acked_at: Option<DateTime<Utc>>,
}

pub(super) async fn now(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let p = known(ctx, r)?;
    let live = live_of(ctx, &p.id);
    match now_of(ctx, &p) {
        Some(now) => ok(&NowView {
            now,
            acked_seq: live.acked_seq,
            acked_at: live.acked_at,
        }),
        None => ok(&serde_json::json!({
            "message": null, "campaign": null, "alert": null, "seq": 0,
            "since": Utc::now(), "until": null, "blank": true,
            "acked_seq": live.acked_seq, "acked_at": live.acked_at
        })),
    }
}

pub(super) fn parse_time(r: &Req, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match r.q(key) {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| {
                ApiError::bad_request(crate::i18n::Reason::NotATimestamp {
                    key: key.to_string(),
                    shown: s.chars().take(60).collect(),
                })
            }),
    }
}

/// Most slots one timeline request computes.
const MAX_SLOTS: usize = 20_000;

#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct SlotView {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    campaign: Option<String>,
    message: Option<String>,
    alert: Option<String>,
    page: Option<u32>,
}

pub(super) async fn timeline(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let p = known(ctx, r)?;
    let from = parse_time(r, "from")?.unwrap_or_else(Utc::now);
    let to = parse_time(r, "to")?.unwrap_or(from + Duration::days(1));
    if to <= from || to - from > Duration::days(31) {
        return Err(ApiError::bad_request(crate::i18n::Reason::BadSpan));
    }
    let schedules = ctx.schedules.clone();
    let slots = blocking(move || schedules.current().timeline(&p, from, to, MAX_SLOTS)).await?;
    // `group=campaign` merges consecutive slots of one campaign (or alert,
    // or blank) into one: a week at a glance for the dashboard.
    let by_campaign = match r.q("group") {
        None => false,
        Some("campaign") => true,
        Some(g) => {
            return Err(ApiError::bad_request(
                crate::i18n::Reason::UnknownGrouping {
                    shown: g.chars().take(40).collect(),
                },
            ))
        }
    };
    let mut v: Vec<SlotView> = Vec::new();
    for s in slots.into_iter().map(|s| {
        let (campaign, message, alert, page) = match s.show {
            Show::Blank => (None, None, None, None),
            Show::Message {
                campaign,
                message,
                page,
                ..
            } => (
                Some(campaign.to_string()),
                Some(message.to_string()),
                None,
                Some(page),
            ),
            Show::Alert { alert, page, .. } => (None, None, Some(alert.to_string()), Some(page)),
        };
        SlotView {
            start: s.start,
            end: s.end,
            campaign,
            message,
            alert,
            page,
        }
    }) {
        match v.last_mut() {
            Some(last)
                if by_campaign
                    && last.end == s.start
                    && last.campaign == s.campaign
                    && last.alert == s.alert =>
            {
                last.end = s.end;
                if last.message != s.message {
                    last.message = None;
                }
                last.page = None;
            }
            _ => v.push(s),
        }
    }
    ok(&v)
}

pub(super) async fn frame_png(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let p = known(ctx, r)?;
    let no_frame = || {
        ApiError::not_found(crate::i18n::Reason::NoFrameYet {
            panel: p.id.to_string(),
        })
    };
    let n = now_of(ctx, &p).ok_or_else(no_frame)?;
    let rendition = n.rendition.clone().ok_or_else(no_frame)?;
    let led = r.q("look") == Some("led");
    let inm = super::messages::inm(r);
    let cost = super::messages::look_cost(&p.profile(), led);
    let room = ctx.work.admit(cost, |_, _| super::work::busy()).await?;
    blocking(move || {
        let _room = room;
        let ix = (n.page.max(1) as usize - 1).min(rendition.pages.len().saturating_sub(1));
        let img = rendition.pages[ix].page.preview();
        super::messages::page_png(&img, led, inm.as_deref())
    })
    .await
}

/// LED-look previews of a page `width` pixels wide aim at roughly 640 px.
pub(super) fn led_scale(width: u32) -> u32 {
    (640 / width.max(1)).clamp(1, 8)
}
