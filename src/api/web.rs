//! Outside `/api/v1`: the dashboard (built into the binary), `/healthz`,
//! `/metrics`, and the OpenAPI document built from the route table.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use warp::http::HeaderValue;
use warp::reply::Response;
use warp::Filter;

use super::error::ApiError;
use super::req::{bytes_reply, Req};
use super::{Body, Ctx, SchemaFn, ROUTES};

const INDEX: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
const APP_CSS: &str = include_str!("../../web/app.css");

fn asset(ct: &'static str, body: &'static str) -> Response {
    let mut r = bytes_reply(ct, body.as_bytes().to_vec());
    r.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-cache"));
    r
}

pub fn routes(
    ctx: Arc<Ctx>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let get = warp::get();
    let index = get
        .and(warp::path::end())
        .map(|| asset("text/html; charset=utf-8", INDEX));
    let js = get
        .and(warp::path("app.js"))
        .and(warp::path::end())
        .map(|| asset("text/javascript; charset=utf-8", APP_JS));
    let css = get
        .and(warp::path("app.css"))
        .and(warp::path::end())
        .map(|| asset("text/css; charset=utf-8", APP_CSS));
    let health = get
        .and(warp::path("healthz"))
        .and(warp::path::end())
        .map(|| bytes_reply("text/plain; charset=utf-8", b"ok".to_vec()));
    let metrics = get
        .and(warp::path("metrics"))
        .and(warp::path::end())
        .map(move || {
            let snap = ctx.store.snapshot();
            let online = ctx.shared.online_among(snap.panels.keys());
            let text = ctx.metrics.render(&[
                (
                    "bangtin_panels",
                    "Panels configured.",
                    snap.panels.len() as f64,
                ),
                (
                    "bangtin_panels_online",
                    "Panels whose controller reports online.",
                    online as f64,
                ),
                (
                    "bangtin_frames_published_total",
                    "Frames handed to the broker link.",
                    ctx.shared.frames_published.load(Ordering::Relaxed) as f64,
                ),
                (
                    "bangtin_renders_total",
                    "Message renders (cache misses).",
                    ctx.renditions.renders.load(Ordering::Relaxed) as f64,
                ),
                (
                    "bangtin_render_cache_entries",
                    "Rendered (message, profile) entries cached.",
                    ctx.renditions.len() as f64,
                ),
                (
                    "bangtin_data_problems",
                    "Data files that could not be used.",
                    snap.problems.len() as f64,
                ),
            ]);
            bytes_reply(
                "text/plain; version=0.0.4; charset=utf-8",
                text.into_bytes(),
            )
        });
    index
        .or(js)
        .unify()
        .or(css)
        .unify()
        .or(health)
        .unify()
        .or(metrics)
        .unify()
        .boxed()
}

/// OpenAPI 3 document from the route table that is the router, with JSON
/// Schemas generated from the Rust types the handlers parse and return, so
/// the document cannot drift from the code.
pub async fn openapi(_ctx: &Arc<Ctx>, _r: &mut Req) -> Result<Response, ApiError> {
    let mut gen = schemars::generate::SchemaSettings::openapi3().into_generator();
    let mut paths = serde_json::Map::new();
    for r in ROUTES {
        let entry = paths
            .entry(format!("/api/v1{}", r.path))
            .or_insert_with(|| serde_json::json!({}));
        let params: Vec<_> = r
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| serde_json::json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"}}))
            .collect();
        let ok = r.ok.as_str().to_string();
        let mut op = serde_json::json!({
            "summary": r.summary,
            "description": match r.role { Some(role) => format!("Needs the {} role (admins have every role).", role.name()), None => "Any valid token.".into() },
            "x-role": r.role.map(|r| r.name()),
            "parameters": params,
            "security": [{"bearer": []}],
            "responses": {
                &ok: {"description": "success"},
                "default": {"description": "an error a person can act on", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        let json_body = |required: bool, f: SchemaFn, gen: &mut schemars::SchemaGenerator| serde_json::json!({"required": required, "content": {"application/json": {"schema": f(gen)}}});
        match r.body {
            Body::None => {}
            Body::Json(f) => op["requestBody"] = json_body(true, f, &mut gen),
            Body::OptionalJson(f) => op["requestBody"] = json_body(false, f, &mut gen),
            Body::Image => {
                let image = serde_json::json!({"schema": {"type": "string", "format": "binary"}});
                op["requestBody"] = serde_json::json!({"required": true, "content": {
                    "image/png": image, "image/jpeg": image, "image/gif": image, "image/webp": image
                }});
            }
        }
        if let Some(f) = r.reply {
            op["responses"][&ok]["content"] =
                serde_json::json!({"application/json": {"schema": f(&mut gen)}});
        }
        entry[r.method.to_ascii_lowercase()] = op;
    }
    let mut schemas = gen.take_definitions(true);
    schemas.insert(
        "Error".into(),
        serde_json::json!({"type": "object", "required": ["error", "message"], "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}),
    );
    let doc = serde_json::json!({
        "openapi": "3.0.3",
        "info": {"title": "bangtin", "version": env!("CARGO_PKG_VERSION"), "description": "Government public information on LED billboards."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas
        }
    });
    Ok(super::req::json(warp::http::StatusCode::OK, &doc))
}
