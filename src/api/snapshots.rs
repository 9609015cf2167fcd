//! Snapshots on request: the API asks a panel's controller what its glass
//! shows (the MQTT edge publishes the request), the controller answers
//! with a PNG of it, and the dashboard shows that beside the frame the
//! server sent (`GET /panels/{id}/frame.png`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use warp::reply::Response;

use super::error::ApiError;
use super::req::{bytes_reply, ok, Req};
use super::Ctx;
use crate::domain::{Id, Panel};
use crate::frame::{self, FLAG_BLANK};
use crate::i18n::Reason;

/// The panel named in the path, if a controller of ours drives it over
/// MQTT (only those answer a snapshot request).
fn mqtt_panel(ctx: &Ctx, r: &Req) -> Result<Panel, ApiError> {
    let p = super::panels::known(ctx, r)?;
    if !p.transport.is_mqtt() {
        return Err(ApiError::conflict(Reason::SnapshotNotMqtt));
    }
    Ok(p)
}

/// The answer to a snapshot request.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct Requested {
    pub panel: Id,
    /// A snapshot received after this instant answers this request.
    pub requested_at: DateTime<Utc>,
}

/// `POST /panels/{id}/snapshot`: asks the panel's controller for a
/// snapshot (202; it arrives within seconds if the controller is online).
pub(super) async fn request(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let p = mqtt_panel(ctx, r)?;
    let requested_at = Utc::now();
    // No receiver only when no broker link runs (some API tests).
    let _ = ctx.shared.snapshot_requests.send(p.id.clone());
    ok(&Requested {
        panel: p.id,
        requested_at,
    })
}

/// The latest snapshot of a panel's glass, beside what the server sent.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct SnapshotView {
    pub panel: Id,
    pub received_at: DateTime<Utc>,
    /// The seq of the frame on the glass, as the controller says.
    pub seq: u32,
    /// The glass was dark (blank frame, expired, or cleared).
    pub blank: bool,
    pub brightness: u8,
    pub width: u16,
    pub height: u16,
    /// The seq the server sends this panel now (null before its first frame).
    pub sent_seq: Option<u32>,
    /// Whether the snapshot's seq is one the server sent this panel (among
    /// the last 32).
    pub seq_was_sent: bool,
}

/// The latest snapshot: when it came, its header, and its PNG.
fn latest(ctx: &Ctx, p: &Panel) -> Result<(DateTime<Utc>, frame::Header, Vec<u8>), ApiError> {
    let snap = ctx
        .shared
        .snapshot_of(&p.id)
        .ok_or_else(|| ApiError::not_found(Reason::NoSnapshotYet))?;
    // Checked when it arrived; a failure here would be a bug, said plainly.
    let fr = frame::decode(&snap.frame)
        .map_err(|e| ApiError::internal("a stored snapshot does not decode", e))?;
    Ok((snap.received_at, fr.header, fr.data.to_vec()))
}

/// `GET /panels/{id}/snapshot`.
pub(super) async fn get(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let p = mqtt_panel(ctx, r)?;
    let (received_at, h, _) = latest(ctx, &p)?;
    let sent_seq = ctx
        .shared
        .now
        .read()
        .expect("now lock")
        .get(&p.id)
        .map(|n| n.seq);
    ok(&SnapshotView {
        seq_was_sent: ctx.shared.sent_crc(&p.id, h.seq).is_some(),
        panel: p.id,
        received_at,
        seq: h.seq,
        blank: h.flags & FLAG_BLANK != 0,
        brightness: h.brightness,
        width: h.width,
        height: h.height,
        sent_seq,
    })
}

/// `GET /panels/{id}/snapshot.png`: the PNG the controller sent, as is.
pub(super) async fn png(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let p = mqtt_panel(ctx, r)?;
    let (_, _, png) = latest(ctx, &p)?;
    Ok(bytes_reply("image/png", png))
}
