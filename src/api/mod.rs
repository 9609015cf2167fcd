//! The HTTP API and the dashboard: the only module that names warp.
//!
//! warp does the serving; under `/api/v1` a request is authenticated here
//! and then served by the route table ([`ROUTES`], in `table.rs`), which is
//! the router: each row says method, path, role, handler, body and reply
//! shapes. The OpenAPI document and the role-matrix test read the same
//! rows. One file per resource holds its handlers; they parse, call the
//! store (which runs the domain's rules) and map errors (`error.rs`).

pub mod error;
pub mod metrics;
pub mod req;

mod admin;
mod alerts;
pub mod broker;
mod campaigns;
pub mod cap;
mod events;
mod messages;
mod panels;
mod public;
mod reports;
mod table;
#[cfg(test)]
mod tests;
mod web;

pub use table::{path_matches, Body, Route, SchemaFn, ROUTES};

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

use crate::player::{Renditions, Schedules, Shared};
use crate::store::plays::Plays;
use crate::store::tokens::{Principal, TokenStore};
use crate::store::Store;
use error::ApiError;
use req::{error_response, Req};

/// Everything a handler may use: the [`Services`] (through `Deref`, so
/// `ctx.store`) and the API's own state.
pub struct Ctx {
    services: Services,
    /// Controllers' credentials and the frame key (see [`Ctx::with_broker`]).
    pub broker: broker::BrokerSecurity,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    stopping: tokio::sync::watch::Sender<bool>,
}

/// What the API is built from.
pub struct Services {
    pub store: Arc<Store>,
    pub tokens: Arc<TokenStore>,
    pub renditions: Arc<Renditions>,
    pub shared: Arc<Shared>,
    pub schedules: Arc<Schedules>,
    pub plays: Arc<Plays>,
    pub metrics: Arc<metrics::Metrics>,
    pub tz: Tz,
    pub allow_self_approval: bool,
    /// CAP configuration and the polled feeds' health.
    pub feeds: Arc<crate::feeds::Feeds>,
}

impl std::ops::Deref for Ctx {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

impl Ctx {
    pub fn new(services: Services) -> Ctx {
        Ctx {
            services,
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
    api.or(public::routes(ctx.clone()))
        .unify()
        .or(site)
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
            let (pattern, result) = table::route(&ctx, &mut r).await;
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
