//! Messages (write, edit, approve with the four-eyes rule) and previews.

use std::sync::Arc;

use chrono::Utc;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

use super::error::ApiError;
use super::media::{decode_too_large, image_refused};
use super::panels::led_scale;
use super::req::{bytes_reply, empty, json, ok, parse_json, Req, JSON_LIMIT};
use super::work::{mib, Room};
use super::{blocking, Ctx};
use crate::domain::{
    Color, Id, Message, MessageBody, MessageStatus, PixelFormat, Policy, Profile, Refusal,
};
use crate::player::{preview_profile, Rendition};
use crate::render::{self, Content};
use crate::store::StoreError;

pub(super) async fn list(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let want = match r.q("status") {
        None => None,
        Some("draft") => Some(MessageStatus::Draft),
        Some("approved") => Some(MessageStatus::Approved),
        Some(s) => {
            return Err(ApiError::bad_request(
                crate::i18n::Reason::UnknownStatusFilter {
                    shown: s.to_string(),
                },
            ))
        }
    };
    let snap = ctx.store.snapshot();
    let v: Vec<&Message> = snap
        .messages
        .values()
        .filter(|m| want.is_none_or(|w| m.status == w))
        .collect();
    ok(&v)
}

fn find(ctx: &Ctx, r: &Req) -> Result<Message, ApiError> {
    let id = r.id(1)?;
    ctx.store
        .snapshot()
        .messages
        .get(&id)
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(crate::i18n::Reason::NotFound {
                kind: crate::i18n::Kind::Message,
                id: id.as_str().to_string(),
            })
        })
}

pub(super) async fn get(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    Ok(versioned(&find(ctx, r)?))
}

/// A message as a reply, its version as the `ETag` (what an approver
/// sends back in `If-Match` to approve exactly what they read).
pub(super) fn versioned(m: &Message) -> Response {
    let mut resp = json(StatusCode::OK, m);
    resp.headers_mut().insert(header::ETAG, etag(m.version));
    resp
}

fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits and quotes")
}

pub(super) async fn create(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let body: MessageBody = r.json().await?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    let m = blocking(move || store.create_message(body, &who, Utc::now())).await??;
    Ok(versioned(&m))
}

pub(super) async fn replace(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let body: MessageBody = r.json().await?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    let m = blocking(move || store.edit_message(&id, body, &who, Utc::now())).await??;
    Ok(versioned(&m))
}

pub(super) async fn delete(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    blocking(move || store.delete_message(&id, &who)).await??;
    empty()
}

/// The optional body of an approval: the version the approver reviewed.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ApproveBody {
    /// The `version` of the message as the approver read it; another
    /// version is refused with 409 `version_conflict`.
    version: Option<u64>,
}

/// `If-Match`: absent, `*` (any version), or one ETag `"N"`.
fn if_match(r: &Req) -> Result<Option<Option<u64>>, ApiError> {
    let Some(v) = r.headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let v = v.to_str().unwrap_or("").trim();
    if v == "*" {
        return Ok(Some(None));
    }
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|n| n.parse().ok())
        .map(|n| Some(Some(n)))
        .ok_or_else(|| {
            ApiError::bad_request(crate::i18n::Reason::BadIfMatch {
                shown: v.to_string(),
            })
        })
}

pub(super) async fn approve(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    let header = if_match(r)?;
    let bytes = r.body(JSON_LIMIT).await?;
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        parse_json::<ApproveBody>(&bytes)?.version
    };
    let read = match (header.flatten(), body) {
        (Some(h), Some(b)) if h != b => {
            return Err(ApiError::bad_request(crate::i18n::Reason::TwoVersions {
                header: h,
                body: b,
            }))
        }
        (h, b) => h.or(b),
    };
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    let policy = Policy {
        allow_self_approval: ctx.allow_self_approval,
    };
    let m = blocking(move || store.approve_message(&id, &who, read, Utc::now(), policy))
        .await?
        .map_err(|e| match e {
            StoreError::Refused(stale @ Refusal::StaleVersion { .. }) if header.is_some() => {
                ApiError {
                    status: StatusCode::PRECONDITION_FAILED,
                    code: "precondition_failed",
                    ..ApiError::from(stale)
                }
            }
            e => e.into(),
        })?;
    let mut resp = json(
        StatusCode::OK,
        &serde_json::json!({"id": m.id, "status": m.status, "approved_by": m.approved_by, "version": m.version}),
    );
    resp.headers_mut().insert(header::ETAG, etag(m.version));
    Ok(resp)
}

// ---- caching ------------------------------------------------------------

/// The request's `If-None-Match`, if any.
pub(super) fn inm(r: &Req) -> Option<String> {
    r.headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Whether an `If-None-Match` value names `tag` (or is `*`).
pub(super) fn if_none_match(inm: Option<&str>, tag: &str) -> bool {
    inm.is_some_and(|v| super::web::matches(v, tag))
}

/// An authenticated reply only the client itself may keep, revalidated
/// each time with its ETag (never `public`: a shared cache must not hand
/// it to someone without a token).
pub(super) fn private(mut resp: Response, tag: &str) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    if let Ok(v) = HeaderValue::from_str(tag) {
        h.insert(header::ETAG, v);
    }
    resp
}

/// `304 Not Modified` for `tag` (its status is kept: 3xx is not a success
/// the route table replaces).
pub(super) fn not_modified(tag: &str) -> Response {
    let mut r = private(Response::default(), tag);
    *r.status_mut() = StatusCode::NOT_MODIFIED;
    r
}

/// A PNG made for this request, with a validator from its bytes.
/// A page as a PNG (`led`: with the LED look), tagged by its pixels, so a
/// client that has it already is answered before anything is scaled or
/// encoded.
pub(super) fn page_png(img: &image::RgbImage, led: bool, inm: Option<&str>) -> Response {
    let mut h = Sha256::new();
    h.update(img.width().to_le_bytes());
    h.update(img.height().to_le_bytes());
    h.update([u8::from(led)]);
    h.update(img.as_raw());
    let tag = format!("\"{}\"", hex::encode(&h.finalize()[..16]));
    if if_none_match(inm, &tag) {
        return not_modified(&tag);
    }
    let png = if led {
        render::png_bytes(&render::led_look(img, led_scale(img.width())))
    } else {
        render::png_bytes(img)
    };
    private(bytes_reply("image/png", png), &tag)
}

// ---- previews -----------------------------------------------------------

/// The profile to preview on: `panel=ID`, or `width`, `height`, `format`
/// (and optional `color`) for a panel that does not exist yet.
pub(super) fn preview_target(ctx: &Ctx, r: &Req) -> Result<Profile, ApiError> {
    if let Some(pid) = r.q("panel") {
        let id = Id::parse(pid)?;
        let snap = ctx.store.snapshot();
        let p = snap.panels.get(&id).ok_or_else(|| {
            ApiError::unprocessable(crate::i18n::Reason::NotFound {
                kind: crate::i18n::Kind::Panel,
                id: pid.to_string(),
            })
        })?;
        return Ok(p.profile());
    }
    let num = |k: &str| -> Result<u16, ApiError> {
        r.q(k)
            .ok_or_else(|| ApiError::bad_request(crate::i18n::Reason::PreviewTarget))?
            .parse()
            .map_err(|_| {
                ApiError::bad_request(crate::i18n::Reason::WholePixels {
                    what: k.to_string(),
                })
            })
    };
    let (w, h) = (num("width")?, num("height")?);
    let format: PixelFormat = r.q("format").unwrap_or("rgb888").parse()?;
    let color = r.q("color").map(Color::parse).transpose()?;
    Ok(preview_profile(w, h, format, color)?)
}

pub(super) fn page_param(r: &Req) -> Result<usize, ApiError> {
    match r.q("page") {
        None => Ok(1),
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| ApiError::bad_request(crate::i18n::Reason::BadPage)),
    }
}

/// The dwell to judge reading time by: `dwell=` or the shortest dwell of the
/// campaigns that play this message, else 8 s.
fn dwell_for(ctx: &Ctx, r: &Req, msg: Option<&Id>) -> Result<u32, ApiError> {
    if let Some(d) = r.q("dwell") {
        return d
            .parse()
            .ok()
            .filter(|d| *d >= 1)
            .ok_or_else(|| ApiError::bad_request(crate::i18n::Reason::BadDwell));
    }
    let snap = ctx.store.snapshot();
    Ok(msg
        .and_then(|id| {
            snap.campaigns
                .values()
                .flat_map(|c| c.body.messages.iter())
                .filter(|m| &m.id == id)
                .map(|m| m.dwell_s)
                .min()
        })
        .unwrap_or(8))
}

/// A page of a rendition as PNG, with the page count, words and reading
/// warnings in headers.
fn preview_reply(rendition: &Rendition, p: &Preview) -> Result<Response, ApiError> {
    let (page, led, dwell, inm, lang) = (p.page, p.led, p.dwell, p.inm.as_deref(), p.lang);
    let pages = rendition.pages.len();
    if page > pages {
        return Err(ApiError::not_found(crate::i18n::Reason::NoSuchPage {
            page,
            pages,
        }));
    }
    let out = &rendition.pages[page - 1];
    let mut resp = page_png(&out.page.preview(), led, inm);
    let h = resp.headers_mut();
    h.insert("x-pages", HeaderValue::from(pages as u64));
    h.insert("x-words", HeaderValue::from(out.words as u64));
    let (dense, warnings): (Vec<String>, Vec<String>) = rendition
        .pages
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            render::reading_warning(i + 1, p.words, dwell)
                .map(|w| ((i + 1).to_string(), w.render(lang)))
        })
        .unzip();
    if !warnings.is_empty() {
        // For programs: the pages that hold too many words, and the dwell
        // they were judged by.
        if let Ok(v) = HeaderValue::from_str(&dense.join(",")) {
            h.insert("x-reading-pages", v);
        }
        h.insert("x-reading-dwell", HeaderValue::from(dwell));
        let text = warnings.join(" ");
        let enc: String = text
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b" .,:-".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&enc) {
            h.insert("x-reading-warning", v);
        }
    }
    h.insert(
        "access-control-expose-headers",
        HeaderValue::from_static(
            "X-Pages, X-Words, X-Reading-Warning, X-Reading-Pages, X-Reading-Dwell",
        ),
    );
    Ok(resp)
}

/// What to preview and how.
pub(super) struct Preview {
    pub(super) body: MessageBody,
    /// A stored message on a configured panel's profile: rendered through
    /// the player's cache (bounded), as the panel would get it. Anything
    /// else is rendered for this request only and not kept.
    pub(super) cached: Option<Message>,
    pub(super) profile: Profile,
    pub(super) page: usize,
    pub(super) led: bool,
    pub(super) dwell: u32,
    pub(super) inm: Option<String>,
    /// The language of the reading warning.
    pub(super) lang: crate::i18n::Lang,
}

/// Memory a render holds at its peak: every page (text mask, pixels,
/// frame data), the image fitted to the panel, and one page as PNG (with
/// its LED look, up to 8× a side).
fn render_cost(p: &Profile, pages: usize, led: bool, image: bool) -> u64 {
    let px = u64::from(p.width) * u64::from(p.height);
    let fitted = if image { px * 16 } else { 0 };
    pages as u64 * px * 8 + fitted + look_cost(p, led)
}

/// Bytes to draw one page as a PNG: the RGB page, and for the LED look
/// its scaled copy and that copy's encoding.
pub(super) fn look_cost(p: &Profile, led: bool) -> u64 {
    let px = u64::from(p.width) * u64::from(p.height);
    let scale = if led {
        u64::from(led_scale(u32::from(p.width)))
    } else {
        1
    };
    px * 3 * (1 + 2 * scale * scale)
}

/// Renders a preview within the memory budget: the image is decoded (if
/// it is not prepared already) under room for its decoding, the pages are
/// counted from the layout, then the render runs under room for them.
pub(super) async fn preview(ctx: &Arc<Ctx>, p: Preview) -> Result<Response, ApiError> {
    let unusable = |e: crate::player::RenditionError| ApiError::unprocessable(e.to_string());
    if let Some(id) = p
        .body
        .image
        .clone()
        .filter(|id| !ctx.renditions.has_picture(id))
    {
        let store = ctx.store.clone();
        let i2 = id.clone();
        let cost = blocking(move || -> Result<u64, ApiError> {
            let (_, bytes) = store.read_asset(&i2)?;
            render::decode_cost(&bytes).map_err(image_refused)
        })
        .await??;
        let room = ctx.work.admit(cost, decode_too_large).await?;
        let c = ctx.clone();
        blocking(move || {
            let _room = room;
            c.renditions.image(&c.store, &id).map(|_| ())
        })
        .await?
        .map_err(unusable)?;
    }
    let (c, body) = (ctx.clone(), p.body.clone());
    let profile = p.profile;
    let pages = blocking(move || -> Result<usize, ApiError> {
        let pic = match &body.image {
            Some(id) => Some(c.renditions.image(&c.store, id).map_err(unusable)?),
            None => None,
        };
        let content = Content {
            text: body.text.as_deref().unwrap_or(""),
            image: pic.as_deref(),
            style: &body.style,
        };
        Ok(c.renditions.renderer().pages(&content, &profile))
    })
    .await??;
    let cost = render_cost(&profile, pages, p.led, p.body.image.is_some());
    let room: Room = ctx
        .work
        .admit(cost, |need, room| {
            ApiError::unprocessable(crate::i18n::Reason::PreviewTooBig {
                mib: mib(need),
                pages,
                width: profile.width,
                height: profile.height,
                room: mib(room),
            })
        })
        .await?;
    let c = ctx.clone();
    blocking(move || {
        let _room = room;
        let rendition = match &p.cached {
            Some(m) => c.renditions.message(&c.store, m, &p.profile),
            None => c
                .renditions
                .render_body(&c.store, &p.body, &p.profile)
                .map(Arc::new),
        }
        .map_err(unusable)?;
        preview_reply(&rendition, &p)
    })
    .await?
}

pub(super) async fn preview_stored(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let m = find(ctx, r)?;
    let profile = preview_target(ctx, r)?;
    let on_panel = r.q("panel").is_some();
    preview(
        ctx,
        Preview {
            body: m.body.clone(),
            page: page_param(r)?,
            dwell: dwell_for(ctx, r, Some(&m.id))?,
            led: r.q("look") == Some("led"),
            inm: inm(r),
            lang: r.lang(),
            cached: on_panel.then_some(m),
            profile,
        },
    )
    .await
}

pub(super) async fn preview_body(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let profile = preview_target(ctx, r)?;
    let page = page_param(r)?;
    let dwell = dwell_for(ctx, r, None)?;
    let led = r.q("look") == Some("led");
    let bytes = r.body(JSON_LIMIT).await?;
    let mut body: MessageBody = parse_json(&bytes)?;
    if body.title.trim().is_empty() {
        body.title = "preview".into();
    }
    if body.text.as_deref().unwrap_or("").chars().count() > crate::domain::MAX_TEXT_CHARS {
        return Err(ApiError::bad_request(crate::i18n::Reason::TooLongToPreview));
    }
    preview(
        ctx,
        Preview {
            body,
            cached: None,
            profile,
            page,
            led,
            dwell,
            inm: inm(r),
            lang: r.lang(),
        },
    )
    .await
}
