//! The HTTP API (CONTRACT.md section 4) and the dashboard: the only module
//! that names warp.
//!
//! warp does the serving; routing under `/api/v1` is one `match` over
//! (method, path segments) in [`route`], so every route, its role and its
//! error handling can be read in one place, and the route table in
//! [`ROUTES`] feeds the OpenAPI document and the role-matrix test.

pub mod error;
pub mod metrics;
pub mod req;

mod admin;
mod alerts;
pub mod broker;
mod campaigns;
mod events;
mod messages;
mod panels;
mod reports;
mod web;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Buf;
use chrono_tz::Tz;
use futures_util::StreamExt;
use warp::http::{header, HeaderMap, Method, StatusCode};
use warp::reply::Response;
use warp::Filter;

use crate::player::{Renditions, Shared};
use crate::store::plays::Plays;
use crate::store::tokens::{Principal, TokenStore};
use crate::store::Store;
use error::ApiError;
use req::{error_response, Req};

/// Everything a handler may use.
pub struct Ctx {
    pub store: Arc<Store>,
    pub tokens: Arc<TokenStore>,
    pub renditions: Arc<Renditions>,
    pub shared: Arc<Shared>,
    pub plays: Arc<Plays>,
    pub metrics: Arc<metrics::Metrics>,
    pub tz: Tz,
    pub allow_self_approval: bool,
    /// Controllers' credentials and the frame key (see [`Ctx::with_broker`]).
    pub broker: broker::BrokerSecurity,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    stopping: tokio::sync::watch::Sender<bool>,
}

impl Ctx {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<Store>,
        tokens: Arc<TokenStore>,
        renditions: Arc<Renditions>,
        shared: Arc<Shared>,
        plays: Arc<Plays>,
        metrics: Arc<metrics::Metrics>,
        tz: Tz,
        allow_self_approval: bool,
    ) -> Ctx {
        Ctx {
            store,
            tokens,
            renditions,
            shared,
            plays,
            metrics,
            tz,
            allow_self_approval,
            broker: broker::BrokerSecurity::default(),
            failures: Mutex::new(HashMap::new()),
            stopping: tokio::sync::watch::channel(false).0,
        }
    }

    /// Adds what the broker routes hand out: controllers' credentials
    /// and the frame-signing public key.
    pub fn with_broker(mut self, broker: broker::BrokerSecurity) -> Ctx {
        self.broker = broker;
        self
    }

    /// Ends long-lived replies (event streams) so a graceful shutdown is
    /// not held open by a dashboard tab.
    pub fn begin_shutdown(&self) {
        self.stopping.send_replace(true);
    }
}

/// Failed authentications allowed per client address per minute.
const AUTH_FAILURES_PER_MIN: u32 = 20;

/// Runs blocking work (disk writes with fsync, rendering) off the runtime.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal("a background task", e))
}

/// All routes: `/api/v1/…`, `/healthz`, `/metrics`, the dashboard.
pub fn routes(ctx: Arc<Ctx>) -> warp::filters::BoxedFilter<(Response,)> {
    let c = ctx.clone();
    let api = warp::path("api")
        .and(warp::path("v1"))
        .and(warp::path::tail())
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::body::stream().map(boxed_body))
        .and(warp::addr::remote())
        .then(
            move |tail: warp::path::Tail,
                  method,
                  headers,
                  query: String,
                  body: req::BodyStream,
                  remote| {
                let ctx = c.clone();
                async move {
                    dispatch(
                        ctx,
                        method,
                        tail.as_str().to_string(),
                        headers,
                        query,
                        body,
                        remote,
                    )
                    .await
                }
            },
        )
        .boxed();
    let site = web::routes(ctx.clone());
    api.or(site)
        .unify()
        .recover(|rej: warp::Rejection| async move { Ok::<_, Infallible>(rejection(rej)) })
        .unify()
        .boxed()
}

/// How long in-flight requests may take once shutdown has begun (a
/// stalled upload from a client on a bad link must not hold the exit).
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves the API and the dashboard on `listener` until `shutdown`
/// resolves; then ends event streams and lets in-flight requests finish,
/// for at most [`SHUTDOWN_GRACE`].
pub async fn serve(
    ctx: Arc<Ctx>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let c2 = ctx.clone();
    let (begun_tx, begun_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown.await;
        c2.begin_shutdown();
        let _ = begun_tx.send(());
    };
    let server = warp::serve(routes(ctx))
        .incoming(listener)
        .graceful(shutdown)
        .run();
    let grace_over = async {
        if begun_rx.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = server => {}
        () = grace_over => {
            tracing::warn!("requests still running {SHUTDOWN_GRACE:?} after shutdown began: stopping without them");
        }
    }
}

fn boxed_body<S, B>(s: S) -> req::BodyStream
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Send + Sync + 'static,
    B: Buf,
{
    Box::pin(s.map(|r| r.map(|mut b| b.copy_to_bytes(b.remaining()))))
}

fn rejection(rej: warp::Rejection) -> Response {
    let e = if rej.is_not_found() {
        ApiError::not_found(
            "there is nothing at this address: the API lives under /api/v1, the dashboard at /",
        )
    } else if rej.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this address does not accept that method",
        )
    } else {
        ApiError::bad_request(format!("the request could not be handled: {rej:?}"))
    };
    error_response(&e)
}

async fn dispatch(
    ctx: Arc<Ctx>,
    method: Method,
    tail: String,
    headers: HeaderMap,
    query: String,
    body: req::BodyStream,
    remote: Option<SocketAddr>,
) -> Response {
    let started = Instant::now();
    let (pattern, result) = match authenticate(&ctx, &headers, &tail, &query, remote) {
        Err(e) => ("(auth)", Err(e)),
        Ok(who) => {
            let segs: Vec<String> = tail
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| req::percent_decode(s, false))
                .collect();
            let mut r = Req::new(
                method.clone(),
                segs,
                req::parse_query(&query),
                headers,
                who,
                remote,
                body,
            );
            let (pattern, result) = route(&ctx, &mut r).await;
            let mut resp = result.unwrap_or_else(|e| error_response(&e));
            if r.has_pending_body() {
                resp.headers_mut().insert(
                    header::CONNECTION,
                    warp::http::HeaderValue::from_static("close"),
                );
            }
            (pattern, Ok(resp))
        }
    };
    let resp = result.unwrap_or_else(|e| error_response(&e));
    ctx.metrics.observe_http(
        method.as_str(),
        pattern,
        resp.status().as_u16(),
        started.elapsed(),
    );
    resp
}

fn authenticate(
    ctx: &Ctx,
    headers: &HeaderMap,
    tail: &str,
    query: &str,
    remote: Option<SocketAddr>,
) -> Result<Principal, ApiError> {
    let ip = remote.map(|r| r.ip());
    if let Some(ip) = ip {
        let f = ctx.failures.lock().expect("failures lock");
        if let Some((n, since)) = f.get(&ip) {
            if *n >= AUTH_FAILURES_PER_MIN && since.elapsed().as_secs() < 60 {
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_failures",
                    "too many requests with a wrong token from this address: wait a minute, then use a valid token",
                ));
            }
        }
    }
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string());
    // Browsers cannot set headers on EventSource; the event stream alone
    // also takes the token from the query. Nowhere else: a token in a URL
    // ends up in logs, proxies and browser history.
    let token = from_header.or_else(|| {
        (tail.trim_end_matches('/') == "events")
            .then(|| req::parse_query(query).remove("access_token"))
            .flatten()
            .filter(|t| !t.is_empty())
    });
    let Some(token) = token else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send your token in the header Authorization: Bearer TOKEN",
        ));
    };
    match ctx.tokens.authenticate(&token) {
        Some(p) => Ok(p),
        None => {
            if let Some(ip) = ip {
                let mut f = ctx.failures.lock().expect("failures lock");
                let e = f.entry(ip).or_insert((0, Instant::now()));
                if e.1.elapsed().as_secs() >= 60 {
                    *e = (0, Instant::now());
                }
                e.0 += 1;
            }
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this token is unknown or was revoked: ask an administrator for a valid one",
            ))
        }
    }
}

/// One row of the route table: method, path pattern, who may call it,
/// and the Rust types of its JSON body and reply (for the OpenAPI document).
pub struct RouteDoc {
    pub method: &'static str,
    pub path: &'static str,
    /// `None` = any valid token.
    pub role: Option<crate::domain::Role>,
    pub request: Option<SchemaFn>,
    pub response: Option<SchemaFn>,
    pub summary: &'static str,
}

/// Adds a type's JSON Schema to the generator and returns a reference to it.
pub type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

fn schema<T: schemars::JsonSchema>(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    g.subschema_for::<T>()
}

use crate::domain::Alert;
use crate::domain::Role::{Admin, Approver, Editor, Operator, Scheduler};
use crate::domain::{AlertBody, Asset, Campaign, CampaignBody, Message, MessageBody, Panel};
use crate::player::NowState;
use crate::store::plays::Play;
use crate::store::tokens::TokenInfo;
use crate::store::AuditEntry;
use admin::{CreatedToken, NewToken};
use broker::{FrameKey, IssuedCredential};
use panels::{PanelView, SlotView};

macro_rules! routes_table {
    ($( $m:literal $p:literal $role:expr, $req:expr, $resp:expr, $s:literal; )*) => {
        /// Every `/api/v1` route.
        pub const ROUTES: &[RouteDoc] = &[ $( RouteDoc { method: $m, path: $p, role: $role, request: $req, response: $resp, summary: $s } ),* ];
    };
}

routes_table! {
    "GET" "/me" None, None, Some(schema::<Principal>), "who the token belongs to";
    "POST" "/tokens" Some(Admin), Some(schema::<NewToken>), Some(schema::<CreatedToken>), "create a token (shown once)";
    "GET" "/tokens" Some(Admin), None, Some(schema::<Vec<TokenInfo>>), "list token names and roles";
    "DELETE" "/tokens/{name}" Some(Admin), None, None, "revoke a token";
    "GET" "/audit" Some(Admin), None, Some(schema::<Vec<AuditEntry>>), "the audit trail, newest first";
    "POST" "/panels" Some(Admin), Some(schema::<Panel>), Some(schema::<PanelView>), "add a panel";
    "GET" "/panels" None, None, Some(schema::<Vec<PanelView>>), "list panels with online status";
    "GET" "/panels/{id}" None, None, Some(schema::<PanelView>), "one panel";
    "PUT" "/panels/{id}" Some(Admin), Some(schema::<Panel>), Some(schema::<PanelView>), "replace a panel";
    "DELETE" "/panels/{id}" Some(Admin), None, None, "remove a panel";
    "POST" "/panels/{id}/credential" Some(Admin), None, Some(schema::<IssuedCredential>), "issue or rotate the panel's controller credential (shown once)";
    "GET" "/keys/frames" None, None, Some(schema::<FrameKey>), "the public key frames are signed with";
    "GET" "/panels/{id}/now" None, None, Some(schema::<NowState>), "what the panel shows now";
    "GET" "/panels/{id}/timeline" None, None, Some(schema::<Vec<SlotView>>), "what the panel will show between from and to";
    "GET" "/panels/{id}/frame.png" None, None, None, "the panel's current frame as PNG";
    "POST" "/assets" Some(Editor), None, None, "upload an image";
    "GET" "/assets" None, None, Some(schema::<Vec<Asset>>), "list images";
    "GET" "/assets/{id}" None, None, None, "an image's original bytes";
    "POST" "/messages" Some(Editor), Some(schema::<MessageBody>), Some(schema::<Message>), "write a message (draft)";
    "GET" "/messages" None, None, Some(schema::<Vec<Message>>), "list messages";
    "GET" "/messages/{id}" None, None, Some(schema::<Message>), "one message";
    "PUT" "/messages/{id}" Some(Editor), Some(schema::<MessageBody>), Some(schema::<Message>), "replace a message (back to draft)";
    "DELETE" "/messages/{id}" Some(Editor), None, None, "remove a message";
    "POST" "/messages/{id}/approve" Some(Approver), None, None, "approve a message (four-eyes)";
    "GET" "/messages/{id}/preview.png" None, None, None, "preview a message on a panel or profile";
    "POST" "/preview" None, Some(schema::<MessageBody>), None, "preview an unsaved message body";
    "POST" "/campaigns" Some(Scheduler), Some(schema::<CampaignBody>), Some(schema::<Campaign>), "create a campaign";
    "GET" "/campaigns" None, None, Some(schema::<Vec<Campaign>>), "list campaigns";
    "GET" "/campaigns/{id}" None, None, Some(schema::<Campaign>), "one campaign";
    "PUT" "/campaigns/{id}" Some(Scheduler), Some(schema::<CampaignBody>), Some(schema::<Campaign>), "replace a campaign";
    "DELETE" "/campaigns/{id}" Some(Scheduler), None, None, "remove a campaign";
    "POST" "/cron/explain" None, None, None, "describe a cron expression and its next firings";
    "POST" "/alerts" Some(Operator), Some(schema::<AlertBody>), None, "send an emergency alert";
    "GET" "/alerts" None, None, Some(schema::<Vec<Alert>>), "list alerts";
    "GET" "/alerts/{id}" None, None, None, "one alert with delivery figures";
    "DELETE" "/alerts/{id}" Some(Operator), None, None, "cancel an alert";
    "GET" "/reports/plays" None, None, Some(schema::<Vec<Play>>), "proof-of-play rows";
    "GET" "/reports/summary" None, None, None, "plays per campaign and group";
    "GET" "/events" None, None, None, "server-sent events: panel changes";
    "GET" "/status" None, None, None, "server health: broker link, problems in data files";
    "GET" "/openapi.json" None, None, None, "this API described in OpenAPI 3";
}

async fn route(ctx: &Arc<Ctx>, r: &mut Req) -> (&'static str, Result<Response, ApiError>) {
    let segs: Vec<String> = r.segs.clone();
    let s: Vec<&str> = segs.iter().map(|s| s.as_str()).collect();
    let m = r.method.clone();
    let g = m == Method::GET;
    let p = m == Method::POST;
    let u = m == Method::PUT;
    let d = m == Method::DELETE;
    match s.as_slice() {
        ["me"] if g => ("/me", admin::me(r)),
        ["tokens"] if p => ("/tokens", admin::create_token(ctx, r).await),
        ["tokens"] if g => ("/tokens", admin::list_tokens(ctx, r)),
        ["tokens", _] if d => ("/tokens/{name}", admin::revoke_token(ctx, r).await),
        ["audit"] if g => ("/audit", admin::audit(ctx, r).await),
        ["panels"] if p => ("/panels", panels::create(ctx, r).await),
        ["panels"] if g => ("/panels", panels::list(ctx)),
        ["panels", _] if g => ("/panels/{id}", panels::get(ctx, r)),
        ["panels", _] if u => ("/panels/{id}", panels::replace(ctx, r).await),
        ["panels", _] if d => ("/panels/{id}", panels::delete(ctx, r).await),
        ["panels", _, "credential"] if p => (
            "/panels/{id}/credential",
            broker::issue_credential(ctx, r).await,
        ),
        ["keys", "frames"] if g => ("/keys/frames", broker::frame_key(ctx)),
        ["panels", _, "now"] if g => ("/panels/{id}/now", panels::now(ctx, r)),
        ["panels", _, "timeline"] if g => ("/panels/{id}/timeline", panels::timeline(ctx, r).await),
        ["panels", _, "frame.png"] if g => {
            ("/panels/{id}/frame.png", panels::frame_png(ctx, r).await)
        }
        ["assets"] if p => ("/assets", messages::upload_asset(ctx, r).await),
        ["assets"] if g => ("/assets", messages::list_assets(ctx)),
        ["assets", _] if g => ("/assets/{id}", messages::get_asset(ctx, r).await),
        ["messages"] if p => ("/messages", messages::create(ctx, r).await),
        ["messages"] if g => ("/messages", messages::list(ctx, r)),
        ["messages", _] if g => ("/messages/{id}", messages::get(ctx, r)),
        ["messages", _] if u => ("/messages/{id}", messages::replace(ctx, r).await),
        ["messages", _] if d => ("/messages/{id}", messages::delete(ctx, r).await),
        ["messages", _, "approve"] if p => {
            ("/messages/{id}/approve", messages::approve(ctx, r).await)
        }
        ["messages", _, "preview.png"] if g => (
            "/messages/{id}/preview.png",
            messages::preview_stored(ctx, r).await,
        ),
        ["preview"] if p => ("/preview", messages::preview_body(ctx, r).await),
        ["campaigns"] if p => ("/campaigns", campaigns::create(ctx, r).await),
        ["campaigns"] if g => ("/campaigns", campaigns::list(ctx)),
        ["campaigns", _] if g => ("/campaigns/{id}", campaigns::get(ctx, r)),
        ["campaigns", _] if u => ("/campaigns/{id}", campaigns::replace(ctx, r).await),
        ["campaigns", _] if d => ("/campaigns/{id}", campaigns::delete(ctx, r).await),
        ["cron", "explain"] if p => ("/cron/explain", campaigns::explain(ctx, r).await),
        ["alerts"] if p => ("/alerts", alerts::create(ctx, r).await),
        ["alerts"] if g => ("/alerts", alerts::list(ctx, r)),
        ["alerts", _] if g => ("/alerts/{id}", alerts::get(ctx, r).await),
        ["alerts", _] if d => ("/alerts/{id}", alerts::cancel(ctx, r).await),
        ["reports", "plays"] if g => ("/reports/plays", reports::plays(ctx, r).await),
        ["reports", "summary"] if g => ("/reports/summary", reports::summary(ctx, r).await),
        ["events"] if g => ("/events", events::stream(ctx)),
        ["status"] if g => ("/status", admin::status(ctx)),
        ["openapi.json"] if g => ("/openapi.json", Ok(web::openapi())),
        _ => {
            let known = ROUTES.iter().any(|rd| path_matches(rd.path, &s));
            let e = if known {
                ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    format!("{m} is not accepted here: see /api/v1/openapi.json for the methods of each address"),
                )
            } else {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "no_route",
                    format!(
                        "there is no API address /api/v1/{}: see /api/v1/openapi.json",
                        s.join("/")
                    ),
                )
            };
            ("(none)", Err(e))
        }
    }
}

/// Whether a table pattern like `/panels/{id}/now` matches segments.
pub fn path_matches(pattern: &str, segs: &[&str]) -> bool {
    let pat: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    pat.len() == segs.len()
        && pat
            .iter()
            .zip(segs)
            .all(|(p, s)| p.starts_with('{') || p == s)
}
