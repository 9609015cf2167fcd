//! Images: upload (named by the file they came from), the media library
//! (each image with its name, size and the messages that show it), rename,
//! and delete (refused, naming the messages, while one uses it).

use std::sync::Arc;

use chrono::Utc;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use warp::http::StatusCode;
use warp::reply::Response;

use super::error::ApiError;
use super::messages::{if_none_match, inm, not_modified, private};
use super::req::{bytes_reply, empty, ok, percent_decode, Req, ASSET_LIMIT};
use super::work::mib;
use super::{blocking, Ctx};
use crate::domain::{self, Asset, Id, MessageStatus};
use crate::render::{self, ImageError};
use crate::store::Snapshot;

pub(super) async fn upload_asset(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let ct = r.content_type().unwrap_or_default();
    if !matches!(
        ct.as_str(),
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    ) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            crate::i18n::Reason::NotAnImageType {
                got: if ct.is_empty() {
                    "-".into()
                } else {
                    ct.chars().take(60).collect()
                },
            },
        ));
    }
    let name = upload_name(r)?;
    let bytes = r.body(ASSET_LIMIT).await?;
    // Room for the decoding, weighed from the header before any pixel.
    let cost = render::decode_cost(&bytes).map_err(image_refused)?;
    let room = ctx.work.admit(cost, decode_too_large).await?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    let asset = blocking(move || -> Result<Asset, ApiError> {
        let _room = room;
        let decoded = render::decode_image(&bytes).map_err(image_refused)?;
        let id = hex::encode(Sha256::digest(&bytes));
        let asset = Asset {
            id,
            width: decoded.width,
            height: decoded.height,
            bytes: bytes.len() as u64,
            content_type: decoded.content_type.to_string(),
            uploaded_by: who.clone(),
            uploaded_at: Utc::now(),
            name,
        };
        Ok(store.put_asset(&bytes, asset, &who)?)
    })
    .await??;
    ok(&serde_json::json!({
        "id": asset.id, "width": asset.width, "height": asset.height, "bytes": asset.bytes,
        "content_type": asset.content_type, "name": asset.name
    }))
}

/// The declared type is one we take, so bytes that do not decode are a
/// well-formed request with an unusable image: 422.
pub(super) fn image_refused(e: ImageError) -> ApiError {
    match e {
        ImageError::TooLarge(m) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "image_too_large", m)
        }
        ImageError::Unsupported(m) | ImageError::Corrupt(m) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "image_unreadable", m)
        }
    }
}

/// An image whose decoding alone needs more than the whole work share of
/// the memory budget.
pub(super) fn decode_too_large(need: u64, room: u64) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "image_too_large",
        crate::i18n::Reason::ImageTooBig {
            mib: mib(need),
            room: mib(room),
        },
    )
}

/// The display name an upload carries: `?name=`, the header `X-Filename`
/// (percent-encoded UTF-8), or the `filename*=UTF-8''…` / `filename="…"`
/// of a `Content-Disposition` header, in that order.
fn upload_name(r: &Req) -> Result<Option<String>, ApiError> {
    let header = |n: &str| r.headers.get(n).and_then(|v| v.to_str().ok());
    let from_disposition = header("content-disposition").and_then(|d| {
        let params: Vec<(&str, &str)> = d
            .split(';')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        let find = |key: &str| params.iter().find(|(k, _)| k.eq_ignore_ascii_case(key));
        find("filename*")
            .and_then(|(_, v)| {
                v.split_once("''")
                    .map(|(_, enc)| percent_decode(enc, false))
            })
            .or_else(|| find("filename").map(|(_, v)| v.trim_matches('"').to_string()))
    });
    let raw = r
        .q("name")
        .map(str::to_string)
        .or_else(|| header("x-filename").map(|v| percent_decode(v, false)))
        .or(from_disposition);
    Ok(raw.map(|n| domain::asset_name(&n)).transpose()?)
}

/// An image as the media library lists it: what is stored, and the
/// messages that use it.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(super) struct AssetView {
    #[serde(flatten)]
    asset: Asset,
    used_by: Vec<AssetUse>,
}

/// A message that shows an image.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(super) struct AssetUse {
    id: Id,
    title: String,
    status: MessageStatus,
}

fn asset_view(snap: &Snapshot, a: &Asset) -> AssetView {
    AssetView {
        asset: a.clone(),
        used_by: snap
            .messages
            .values()
            .filter(|m| m.body.image.as_deref() == Some(a.id.as_str()))
            .map(|m| AssetUse {
                id: m.id.clone(),
                title: m.body.title.clone(),
                status: m.status,
            })
            .collect(),
    }
}

/// Every image, newest upload first, each with the messages that use it.
pub(super) async fn list_assets(ctx: &Arc<Ctx>, _r: &mut Req) -> Result<Response, ApiError> {
    let snap = ctx.store.snapshot();
    let mut v: Vec<AssetView> = snap.assets.values().map(|a| asset_view(&snap, a)).collect();
    v.sort_by_key(|a| std::cmp::Reverse(a.asset.uploaded_at));
    ok(&v)
}

/// The body of a rename.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AssetPatch {
    /// The image's new display name, 1 to 200 characters.
    name: String,
}

pub(super) async fn rename_asset(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.segs[1].clone();
    domain::validate_asset_id(&id)?;
    let body: AssetPatch = r.json().await?;
    let name = domain::asset_name(&body.name)?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    let a = blocking(move || store.rename_asset(&id, name, &who)).await??;
    ok(&asset_view(&ctx.store.snapshot(), &a))
}

/// Removes an image no message uses; 409 naming the messages otherwise.
pub(super) async fn delete_asset(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.segs[1].clone();
    domain::validate_asset_id(&id)?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    blocking(move || store.delete_asset(&id, &who)).await??;
    empty()
}

pub(super) async fn get_asset(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.segs[1].clone();
    domain::validate_asset_id(&id)?;
    let store = ctx.store.clone();
    // The id is the SHA-256 of the bytes: a strong validator for free.
    let tag = format!("\"{id}\"");
    let known = ctx.store.snapshot().assets.contains_key(&id);
    if known && if_none_match(inm(r).as_deref(), &tag) {
        return Ok(not_modified(&tag));
    }
    let (asset, bytes) = blocking(move || store.read_asset(&id)).await??;
    Ok(private(bytes_reply(&asset.content_type, bytes), &tag))
}
