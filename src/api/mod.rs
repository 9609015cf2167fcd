//! The HTTP API and the dashboard: the only module that names warp.
//!
//! warp does the serving; under `/api/v1` a request is authenticated here
//! and then served by the route table ([`ROUTES`], in `table.rs`), which is
//! the router: each row says method, path, role, handler, body and reply
//! shapes. The OpenAPI document and the role-matrix test read the same
//! rows. One file per resource holds its handlers; they parse, call the
//! store (which runs the domain's rules) and map errors (`error.rs`).
//! `server.rs` accepts connections (caps, header timeout, graceful
//! shutdown); `work.rs` bounds decoding and rendering by bytes.

pub(crate) mod error;
pub(crate) mod metrics;
pub(crate) mod req;

mod admin;
mod alarms;
mod alerts;
pub(crate) mod broker;
mod calendar;
mod campaigns;
pub(crate) mod cap;
mod desk;
mod events;
mod groups;
mod media;
mod messages;
mod panels;
mod public;
mod report_book;
mod reports;
mod scope;
pub(crate) mod server;
mod session;
mod snapshots;
mod table;
#[cfg(test)]
pub(crate) mod tests;
mod users;
mod web;
pub(crate) mod work;

pub(crate) use server::{serve, Limits};
pub(crate) use table::{Body, SchemaFn, ROUTES};

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Buf;
use chrono_tz::Tz;
use futures_util::StreamExt;
use warp::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use warp::reply::Response;
use warp::Filter;

use crate::i18n::{Lang, Reason};
use crate::player::{Renditions, Schedules, Shared};
use crate::store::plays::Plays;
use crate::store::tokens::{Principal, TokenRefusal, TokenStore, Via};
use crate::store::Store;
use error::ApiError;
use req::{error_response, Req};

/// Everything a handler may use: the [`Services`] (through `Deref`, so
/// `ctx.store`) and the API's own state.
pub(crate) struct Ctx {
    services: Services,
    /// Controllers' credentials and the frame key (see [`Ctx::with_broker`]).
    pub broker: broker::BrokerSecurity,
    pub limits: Limits,
    pub conns: Arc<server::Conns>,
    /// Decoding and rendering in flight, bounded by bytes.
    pub work: work::WorkGate,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    stopping: tokio::sync::watch::Sender<bool>,
}

/// What the API is built from.
pub(crate) struct Services {
    pub store: Arc<Store>,
    pub tokens: Arc<TokenStore>,
    /// Staff accounts and their signed-in sessions.
    pub accounts: Arc<crate::auth::Accounts>,
    pub renditions: Arc<Renditions>,
    pub shared: Arc<Shared>,
    pub schedules: Arc<Schedules>,
    pub plays: Arc<Plays>,
    pub metrics: Arc<metrics::Metrics>,
    pub tz: Tz,
    pub allow_self_approval: bool,
    /// CAP configuration and the polled feeds' health.
    pub feeds: Arc<crate::feeds::Feeds>,
    /// Fleet alarms: the monitor's own (one alarm store on the data
    /// directory's files).
    pub alarms: Arc<crate::alarms::Alarms>,
}

impl std::ops::Deref for Ctx {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

impl Ctx {
    pub(crate) fn new(services: Services) -> Ctx {
        Ctx {
            services,
            broker: broker::BrokerSecurity::default(),
            conns: Arc::new(server::Conns::new(&Limits::default())),
            work: work::WorkGate::new(Limits::default().memory.work()),
            limits: Limits::default(),
            failures: Mutex::new(HashMap::new()),
            stopping: tokio::sync::watch::channel(false).0,
        }
    }

    /// Adds what the broker routes hand out: controllers' credentials
    /// and the frame-signing public key.
    pub(crate) fn with_broker(mut self, broker: broker::BrokerSecurity) -> Ctx {
        self.broker = broker;
        self
    }

    /// With these connection caps, timeouts and memory for work (the
    /// defaults otherwise).
    pub(crate) fn with_limits(mut self, limits: Limits) -> Ctx {
        self.conns = Arc::new(server::Conns::new(&limits));
        self.work = work::WorkGate::new(limits.memory.work());
        self.limits = limits;
        self
    }

    /// Whether whoever `who` authenticated with still holds (a token not
    /// revoked, a session not ended): asked by long replies.
    pub(crate) fn still_valid(&self, who: &Principal) -> bool {
        match who.via {
            Via::Token(_) => self.tokens.still_valid(who),
            Via::Session(key) => self.accounts.alive(&key, chrono::Utc::now()),
            Via::Nobody => false,
        }
    }

    /// Ends long-lived replies (event streams) so a graceful shutdown is
    /// not held open by a dashboard tab.
    pub(crate) fn begin_shutdown(&self) {
        self.stopping.send_replace(true);
    }
}

/// Failed authentications allowed per client address per minute.
const AUTH_FAILURES_PER_MIN: u32 = 20;
/// Addresses with failures remembered before the old ones are forgotten.
const FAILURES_KEPT: usize = 10_000;

/// Runs blocking work (disk writes with fsync, rendering) off the runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal("a background task", e))
}

/// All routes: `/api/v1/…`, `/healthz`, `/metrics`, the dashboard.
pub(crate) fn routes(ctx: Arc<Ctx>) -> warp::filters::BoxedFilter<(Response,)> {
    let c = ctx.clone();
    let api = warp::path("api")
        .and(warp::path("v1"))
        .and(warp::path::tail())
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::body::stream().map(boxed_body))
        .and(server::peer())
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
        .map(secure)
        .boxed()
}

/// What the dashboard may load and do: its own scripts, styles, images
/// (also `data:` for the icon and `blob:` for previews fetched with the
/// token) and API; no inline script, no plugins, never inside a frame.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Security headers on every reply. A reply that sets its own policy
/// (the public page meant to be framed by other sites) keeps it, and then
/// gets no `X-Frame-Options`, which would forbid what its policy allows.
fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    let own_policy = h.contains_key("content-security-policy");
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ] {
        if own_policy && matches!(name, "content-security-policy" | "x-frame-options") {
            continue;
        }
        h.insert(name, HeaderValue::from_static(value));
    }
    r
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
        ApiError::not_found(Reason::NoRoute)
    } else if rej.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            Reason::MethodNotAllowed,
        )
    } else {
        ApiError::bad_request(Reason::Unhandled(format!("{rej:?}")))
    };
    error_response(&e, Lang::default())
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
    let lang = Lang::from_accept_language(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let client = remote.map(|r| {
        let forwarded = server::forwarded_for(&headers);
        server::client_ip(r.ip(), Some(&forwarded), &ctx.limits.trusted_proxies)
    });
    let (pattern, result) = match authenticate(&ctx, &method, &headers, &tail, &query, client) {
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
                client,
                body,
            );
            let (pattern, result) = table::route(&ctx, &mut r).await;
            let mut resp = result.unwrap_or_else(|e| error_response(&e, lang));
            if r.has_pending_body() {
                resp.headers_mut().insert(
                    header::CONNECTION,
                    warp::http::HeaderValue::from_static("close"),
                );
            }
            (pattern, Ok(resp))
        }
    };
    let resp = result.unwrap_or_else(|e| error_response(&e, lang));
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
    method: &Method,
    headers: &HeaderMap,
    tail: &str,
    query: &str,
    client: Option<IpAddr>,
) -> Result<Principal, ApiError> {
    if table::is_public(method, tail) {
        return Ok(Principal::nobody());
    }
    let ip = client.map(server::client_key);
    if let Some(ip) = ip {
        let f = ctx.failures.lock().expect("failures lock");
        if let Some((n, since)) = f.get(&ip) {
            if *n >= AUTH_FAILURES_PER_MIN && since.elapsed().as_secs() < 60 {
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_failures",
                    Reason::TooManyFailures,
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
        // No token: a person signed in with a session cookie, if any.
        let none = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", Reason::NoToken);
        return session::authenticate(ctx, method, headers, tail, none);
    };
    match ctx.tokens.check(&token, chrono::Utc::now()) {
        Ok(p) => Ok(p),
        Err(TokenRefusal::Expired(at)) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "token_expired",
            Reason::TokenExpired { at },
        )),
        Err(TokenRefusal::Unknown) => {
            if let Some(ip) = ip {
                let mut f = ctx.failures.lock().expect("failures lock");
                if f.len() >= FAILURES_KEPT {
                    // Many addresses failing at once: forget those whose
                    // minute is over, so the map stays bounded.
                    f.retain(|_, (_, since)| since.elapsed().as_secs() < 60);
                }
                let e = f.entry(ip).or_insert((0, Instant::now()));
                if e.1.elapsed().as_secs() >= 60 {
                    *e = (0, Instant::now());
                }
                e.0 += 1;
            }
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                Reason::UnknownToken,
            ))
        }
    }
}
