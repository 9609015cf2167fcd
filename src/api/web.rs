//! Outside `/api/v1`: the dashboard (built into the binary), `/healthz`,
//! `/metrics`, and the OpenAPI document built from the route table.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};

use sha2::{Digest, Sha256};
use warp::http::{HeaderValue, StatusCode};
use warp::path::Tail;
use warp::reply::Response;
use warp::Filter;

use super::error::ApiError;
use super::req::{bytes_reply, Req};
use super::{Body, Ctx, SchemaFn, ROUTES};

/// The dashboard: every file under `web/` (path there → bytes), listed by
/// `build.rs` and built into the binary.
static FILES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/web_files.rs"));

/// One dashboard file, ready to serve.
struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    /// A strong validator: the first 16 bytes of the file's SHA-256.
    etag: HeaderValue,
}

static ASSETS: LazyLock<HashMap<&'static str, Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|&(path, body)| {
            let etag = format!("\"{}\"", hex::encode(&Sha256::digest(body)[..16]));
            let asset = Asset {
                body,
                content_type: content_type(path),
                etag: HeaderValue::from_str(&etag).expect("hex is a valid header value"),
            };
            (path, asset)
        })
        .collect()
});

/// The content type for a dashboard file, by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// Whether an `If-None-Match` header names `etag` (or is `*`).
pub(super) fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(|t| t.trim())
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

/// A dashboard file, or 304 when the browser's copy is current. `no-cache`
/// makes the browser ask every time, so an upgraded server is never hidden
/// behind a stale module; the ETag keeps the asking cheap.
fn asset(path: &str, if_none_match: Option<&str>) -> Option<Response> {
    let a = ASSETS.get(path)?;
    let mut r = if if_none_match.is_some_and(|v| matches(v, a.etag.to_str().unwrap_or_default())) {
        let mut r = Response::default();
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        bytes_reply(a.content_type, a.body.to_vec())
    };
    let h = r.headers_mut();
    h.insert("cache-control", HeaderValue::from_static("no-cache"));
    h.insert("etag", a.etag.clone());
    Some(r)
}

pub(super) fn routes(
    ctx: Arc<Ctx>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let get = warp::get();
    let files = get
        .and(warp::path::tail())
        .and(warp::header::optional::<String>("if-none-match"))
        .and_then(|tail: Tail, inm: Option<String>| async move {
            let path = match tail.as_str() {
                "" => "index.html",
                p => p,
            };
            asset(path, inm.as_deref()).ok_or_else(warp::reject::not_found)
        });
    let health = get
        .and(warp::path("healthz"))
        .and(warp::path::end())
        .map(|| bytes_reply("text/plain; charset=utf-8", b"ok".to_vec()));
    let metrics = get
        .and(warp::path("metrics"))
        .and(warp::path::end())
        .map(move || metrics_page(&ctx));
    health.or(metrics).unify().or(files).unify().boxed()
}

/// `/metrics`: the request counters and the fleet's gauges, in
/// Prometheus' text format.
fn metrics_page(ctx: &Ctx) -> Response {
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
            "bangtin_vendor_links_connected",
            "Panels driven by a vendor transport (Huidu, HD2020, Colorlight agent) whose card is connected now.",
            ctx.shared.links_connected() as f64,
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
            "bangtin_render_cache_bytes",
            "Bytes held by cached renders (bounded by a share of the memory budget).",
            ctx.renditions.bytes() as f64,
        ),
        (
            "bangtin_memory_budget_bytes",
            "The memory budget (--memory-budget).",
            ctx.limits.memory.total() as f64,
        ),
        (
            "bangtin_work_bytes",
            "Bytes reserved now by decoding and rendering in flight.",
            ctx.work.in_use() as f64,
        ),
        (
            "bangtin_work_busy_total",
            "Requests refused with 503 busy: no room in the memory budget.",
            ctx.work.busy() as f64,
        ),
        (
            "bangtin_http_connections",
            "HTTP connections open.",
            ctx.conns.open() as f64,
        ),
        (
            "bangtin_http_connections_refused_total",
            "HTTP connections refused at a connection cap.",
            ctx.conns.refused() as f64,
        ),
        (
            "bangtin_http_connections_evicted_total",
            "HTTP connections closed before their first request head to make room at the overall cap.",
            ctx.conns.evicted() as f64,
        ),
        (
            "bangtin_data_problems",
            "Data files that could not be used.",
            snap.problems.len() as f64,
        ),
    ]) + &ctx.alarms.metrics_text();
    bytes_reply(
        "text/plain; version=0.0.4; charset=utf-8",
        text.into_bytes(),
    )
}

/// OpenAPI 3 document from the route table that is the router, with JSON
/// Schemas generated from the Rust types the handlers parse and return, so
/// the document cannot drift from the code.
pub(super) async fn openapi(_ctx: &Arc<Ctx>, _r: &mut Req) -> Result<Response, ApiError> {
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
            Body::CapXml => {
                let xml = serde_json::json!({"schema": {"type": "string", "description": "a CAP 1.2 (or 1.1, 1.0) document"}});
                op["requestBody"] = serde_json::json!({"required": true, "content": {
                    "application/cap+xml": xml, "application/xml": xml
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The specifiers a module imports from (`import … from '…'`,
    /// `export … from '…'`, `import '…'`), one statement a line or spread
    /// over several lines.
    fn imports(js: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = js;
        while let Some(i) = rest.find(" from '").or_else(|| rest.find("import '")) {
            let after = &rest[i..];
            let start = after.find('\'').expect("a quote") + 1;
            let len = after[start..].find('\'').expect("a closing quote");
            out.push(&after[start..start + len]);
            rest = &after[start + len..];
        }
        out
    }

    /// `dir/x.js` + `../y.js` → `y.js`.
    fn resolve(from: &str, spec: &str) -> String {
        let mut parts: Vec<&str> = from.split('/').collect();
        parts.pop();
        for seg in spec.split('/') {
            match seg {
                "." => {}
                ".." => {
                    parts.pop().expect("an import above web/");
                }
                s => parts.push(s),
            }
        }
        parts.join("/")
    }

    #[test]
    fn the_whole_dashboard_is_embedded_with_a_content_type_each() {
        for must in [
            "index.html",
            "app.js",
            "app.css",
            "lib/api.js",
            "lib/i18n.js",
        ] {
            assert!(ASSETS.contains_key(must), "{must} is not embedded");
        }
        assert!(
            !ASSETS.keys().any(|p| p.starts_with("screenshots/")),
            "the README's screenshots are not dashboard files"
        );
        for (path, a) in ASSETS.iter() {
            assert_ne!(
                a.content_type, "application/octet-stream",
                "web/{path}: add its extension to content_type()"
            );
        }
        assert_eq!(
            ASSETS["app.js"].content_type,
            "text/javascript; charset=utf-8"
        );
    }

    #[test]
    fn every_module_import_names_an_embedded_file_on_the_same_origin() {
        let mut checked = 0;
        for (path, a) in ASSETS.iter().filter(|(p, _)| p.ends_with(".js")) {
            let js = std::str::from_utf8(a.body).expect("modules are UTF-8");
            for spec in imports(js) {
                assert!(
                    spec.starts_with("./") || spec.starts_with("../"),
                    "web/{path} imports {spec:?}: only relative imports of our own files"
                );
                let target = resolve(path, spec);
                assert!(
                    ASSETS.contains_key(target.as_str()),
                    "web/{path} imports {spec:?}, but web/{target} is not there"
                );
                checked += 1;
            }
        }
        assert!(
            checked > 20,
            "only {checked} imports found: is the scan broken?"
        );
        // The page loads the entry and the style sheet from the server root.
        let index = std::str::from_utf8(ASSETS["index.html"].body).unwrap();
        assert!(index.contains(r#"<script type="module" src="/app.js">"#));
        assert!(index.contains(r#"href="/app.css""#));
    }

    #[test]
    fn if_none_match_lists_weak_tags_and_star() {
        let tag = "\"abc\"";
        assert!(matches("\"abc\"", tag));
        assert!(matches("\"x\", W/\"abc\"", tag));
        assert!(matches("*", tag));
        assert!(!matches("\"abcd\"", tag));
        assert!(!matches("", tag));
    }
}
