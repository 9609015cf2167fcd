//! Fleet alarms: the incidents (open first), acknowledging one, and the
//! settings (secrets never shown; left out of a PUT, the stored ones stay).

use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;
use warp::reply::Response;

use super::admin::entry;
use super::error::ApiError;
use super::req::{ok, Req};
use super::{blocking, Ctx};
use crate::alarms::config::AlarmConfig;
use crate::store::alarms::Incident;

/// An incident with its panel's name.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct IncidentView {
    #[serde(flatten)]
    incident: Incident,
    panel_name: String,
}

/// `GET /alarms`: open incidents (newest first), then the latest closed.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct AlarmList {
    open: Vec<IncidentView>,
    closed: Vec<IncidentView>,
}

/// Closed incidents listed by default.
const CLOSED_SHOWN: usize = 100;

pub(super) async fn list(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let limit = match r.q("closed") {
        None => CLOSED_SHOWN,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= crate::store::alarms::KEEP_CLOSED)
            .ok_or_else(|| ApiError::bad_request(crate::i18n::Reason::BadClosedCount))?,
    };
    let snap = ctx.store.snapshot();
    let view = |i: &Incident| IncidentView {
        panel_name: snap.panel_name(&i.panel),
        incident: i.clone(),
    };
    // A district's staff see the incidents of their own panels only.
    let theirs = |i: &&Incident| super::scope::sees(&r.who, &snap, &i.panel);
    let (open, closed) = ctx.alarms.store.with_log(|log| {
        let open: Vec<_> = log
            .incidents
            .iter()
            .rev()
            .filter(theirs)
            .filter(|i| i.is_open())
            .map(view)
            .collect();
        let closed: Vec<_> = log
            .incidents
            .iter()
            .rev()
            .filter(theirs)
            .filter(|i| !i.is_open())
            .take(limit)
            .map(view)
            .collect();
        (open, closed)
    });
    ok(&AlarmList { open, closed })
}

pub(super) async fn acknowledge(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id: u64 = r.segs[1]
        .parse()
        .map_err(|_| ApiError::bad_request(crate::i18n::Reason::BadAlarmId))?;
    let (alarms, store, who) = (
        ctx.alarms.store.clone(),
        ctx.store.clone(),
        r.who.name.clone(),
    );
    let line = entry(&who, "acknowledge", "alarm", &id.to_string());
    let done = blocking(move || store.audited(line, || alarms.acknowledge(id, &who, Utc::now())))
        .await??;
    ok(&done)
}

/// `GET /alarms/config`: the settings without their secrets, which secrets
/// are set, and why the file is not in force if it is not.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct ConfigView {
    config: AlarmConfig,
    webhook_secret_set: bool,
    email_password_set: bool,
    problem: Option<String>,
}

fn config_view(
    c: &AlarmConfig,
    problem: Option<crate::i18n::Text>,
    lang: crate::i18n::Lang,
) -> ConfigView {
    ConfigView {
        config: c.without_secrets(),
        webhook_secret_set: c.webhook.as_ref().is_some_and(|w| w.secret.is_some()),
        email_password_set: c.email.as_ref().is_some_and(|e| e.password.is_some()),
        problem: problem.map(|t| t.render(lang)),
    }
}

pub(super) async fn get_config(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let s = &ctx.alarms.store;
    ok(&config_view(&s.config(), s.problem(), r.lang()))
}

pub(super) async fn put_config(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let body: AlarmConfig = r.json().await?;
    let (alarms, store) = (ctx.alarms.store.clone(), ctx.store.clone());
    let line = entry(&r.who.name, "update", "alarm-settings", "alarms");
    // The secrets left out are kept from the latest stored settings, read
    // inside the write (on PostgreSQL, another server's change included).
    let saved = blocking(move || store.audited(line, || alarms.set_config(body))).await??;
    ok(&config_view(&saved, None, r.lang()))
}
