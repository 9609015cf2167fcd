//! Signing in with a user name and password: the session cookie, CSRF,
//! and the person's own password. The cookie (`bangtin_session`) is
//! HttpOnly, SameSite=Strict, limited to `/api/v1`, and Secure when the
//! request reached the proxy in front of us over TLS
//! (`X-Forwarded-Proto: https`; a client claiming it only makes its own
//! cookie stricter). A request authenticated by the cookie that changes
//! anything must carry the session's CSRF token in `X-CSRF-Token`;
//! bearer tokens are not sent by browsers on their own, so requests
//! with them cannot be forged that way and need none. A person whose
//! password an administrator set may only change it (and sign out).
//!
//! A request with `X-Bangtin-Background: 1` is one the page made by
//! itself (polling, the event stream): it is authenticated like any
//! other but does not restart the session's idle clock, so a tab left
//! open still ends; once it has, every request is refused with 401
//! `session_idle`.
//!
//! Sign-in starts a new session every time and ends any session the
//! request presented, so a session id planted before sign-in (fixation)
//! never becomes a signed-in one.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use warp::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use warp::reply::Response;

use super::error::ApiError;
use super::req::{error_response, json, Req};
use super::{admin, blocking, Ctx};
use crate::auth::throttle::Hold;
use crate::auth::{sessions, SignInError};
use crate::domain::{Id, Role};
use crate::i18n::Reason;
use crate::store::secret_file::digest;
use crate::store::tokens::{Principal, Via};

pub(super) const COOKIE: &str = "bangtin_session";
pub(super) const CSRF_HEADER: &str = "x-csrf-token";
/// Marks a request the page made by itself, not its person.
pub(super) const BACKGROUND_HEADER: &str = "x-bangtin-background";

/// Routes a person who must change the password may still use.
const BEFORE_PASSWORD_CHANGE: &[(&str, &str)] = &[
    ("GET", "me"),
    ("GET", "session"),
    ("DELETE", "session"),
    ("DELETE", "sessions"),
    ("PUT", "session/password"),
];

/// The reader's language (`Accept-Language`, Vietnamese by default).
fn lang(headers: &HeaderMap) -> crate::i18n::Lang {
    crate::i18n::Lang::from_accept_language(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// The session id in the request's cookies, if any.
pub(super) fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A request without a token: the person signed in with this cookie, if
/// the session is live, the CSRF token is right for a change, and the
/// route is allowed before a password change.
pub(super) fn authenticate(
    ctx: &Ctx,
    method: &Method,
    headers: &HeaderMap,
    tail: &str,
    no_credentials: ApiError,
) -> Result<Principal, ApiError> {
    let Some(id) = cookie(headers) else {
        return Err(no_credentials);
    };
    let (s, user) = live(ctx, &id, headers)?;
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let sent = headers
            .get(CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !bool::from(sent.ct_eq(s.csrf.as_bytes())) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                Reason::CsrfMissing,
            ));
        }
    }
    let path = tail.trim_matches('/');
    if user.must_change_password
        && !BEFORE_PASSWORD_CHANGE
            .iter()
            .any(|(m, p)| *m == method.as_str() && *p == path)
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "password_change_required",
            Reason::MustChangePassword,
        ));
    }
    Ok(Principal::person(
        &user.username,
        &user.display_name,
        user.roles,
        user.scope,
        user.must_change_password,
        digest(&id),
    ))
}

/// The body of `POST /session`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SignIn {
    username: String,
    password: String,
}

/// A signed-in session as its owner sees it; `csrf` goes into
/// `X-CSRF-Token` on every request that changes something.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct SessionView {
    username: String,
    display_name: String,
    roles: Vec<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<Vec<Id>>,
    must_change_password: bool,
    csrf: String,
    expires_at: DateTime<Utc>,
}

impl SessionView {
    fn of(user: crate::store::users::User, s: &crate::auth::Session) -> SessionView {
        SessionView {
            username: user.username,
            display_name: user.display_name,
            roles: user.roles,
            scope: user.scope,
            must_change_password: user.must_change_password,
            csrf: s.csrf.clone(),
            expires_at: s.expires(),
        }
    }
}

/// Whether the page made this request by itself (`X-Bangtin-Background: 1`).
fn background(headers: &HeaderMap) -> bool {
    headers
        .get(BACKGROUND_HEADER)
        .is_some_and(|v| v.as_bytes() == b"1")
}

/// The live session with cookie id `id` and its account, its idle clock
/// restarted unless the request is a background one; or 401 saying why.
fn live(
    ctx: &Ctx,
    id: &str,
    headers: &HeaderMap,
) -> Result<(crate::auth::Session, crate::store::users::User), ApiError> {
    ctx.accounts
        .session(id, Utc::now(), !background(headers))
        .map_err(|e| match e {
            sessions::Ended::Idle => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "session_idle",
                Reason::SessionIdle,
            ),
            sessions::Ended::Gone => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "session_ended",
                Reason::SessionEnded,
            ),
        })
}

fn set_cookie(resp: &mut Response, value: &str, max_age: i64, secure: bool) {
    let c = format!(
        "{COOKIE}={value}; Path=/api/v1; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    resp.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&c).expect("cookie is ASCII"),
    );
}

fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn clear_cookie(resp: &mut Response, headers: &HeaderMap) {
    set_cookie(resp, "", 0, over_tls(headers));
}

fn with_retry_after(e: ApiError, seconds: i64, headers: &HeaderMap) -> Response {
    let mut r = error_response(&e, lang(headers));
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    r
}

pub(super) async fn sign_in(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let body: SignIn = r.json().await?;
    // A session presented with the sign-in ends: never carried across.
    if let Some(old) = cookie(&r.headers) {
        if ctx.accounts.sign_out(&old) {
            ctx.tokens.notify_revoked();
        }
    }
    let ip = r
        .client
        .map(super::server::client_key)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let now = Utc::now();
    let accounts = ctx.accounts.clone();
    let (username, password) = (body.username, body.password);
    let result = blocking(move || accounts.sign_in(&username, &password, ip, now)).await?;
    let (id, s, user) = match result {
        Ok(ok) => ok,
        Err(SignInError::Wrong) => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "wrong_credentials",
                Reason::WrongCredentials,
            ))
        }
        Err(SignInError::Held(h)) => {
            let secs = h.retry_after(now);
            let e = match h {
                Hold::Wait { .. } => ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_failures",
                    Reason::PasswordWait { seconds: secs },
                ),
                Hold::Locked { .. } => ApiError::new(
                    StatusCode::LOCKED,
                    "locked",
                    Reason::AccountLocked {
                        minutes: (secs + 59) / 60,
                    },
                ),
            };
            return Ok(with_retry_after(e, secs, &r.headers));
        }
    };
    let store = ctx.store.clone();
    let line = admin::entry(&user.username, "sign-in", "session", &user.username);
    blocking(move || store.audited(line, || Ok(()))).await??;
    let mut resp = json(StatusCode::CREATED, &SessionView::of(user, &s));
    set_cookie(
        &mut resp,
        &id,
        sessions::ABSOLUTE.num_seconds(),
        over_tls(&r.headers),
    );
    Ok(resp)
}

/// The caller's session id, or 400 for a token.
fn session_id(r: &Req) -> Result<String, ApiError> {
    match (r.who.via, cookie(&r.headers)) {
        (Via::Session(_), Some(id)) => Ok(id),
        _ => Err(ApiError::bad_request(Reason::NotASession)),
    }
}

pub(super) async fn current(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = session_id(r)?;
    let (s, user) = live(ctx, &id, &r.headers)?;
    Ok(json(StatusCode::OK, &SessionView::of(user, &s)))
}

pub(super) async fn sign_out(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = session_id(r)?;
    ctx.accounts.sign_out(&id);
    ctx.tokens.notify_revoked();
    let mut resp = Vec::<u8>::new().into_response_204();
    clear_cookie(&mut resp, &r.headers);
    Ok(resp)
}

pub(super) async fn sign_out_everywhere(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    session_id(r)?;
    let n = ctx.accounts.sign_out_everywhere(&r.who.name, None);
    ctx.tokens.notify_revoked();
    let store = ctx.store.clone();
    let mut line = admin::entry(&r.who.name, "sign-out-everywhere", "session", &r.who.name);
    line.detail = serde_json::json!({"sessions": n});
    blocking(move || store.audited(line, || Ok(()))).await??;
    let mut resp = Vec::<u8>::new().into_response_204();
    clear_cookie(&mut resp, &r.headers);
    Ok(resp)
}

/// The body of `PUT /session/password`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PasswordChange {
    current: String,
    new: String,
}

pub(super) async fn change_password(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = session_id(r)?;
    let body: PasswordChange = r.json().await?;
    let (accounts, store) = (ctx.accounts.clone(), ctx.store.clone());
    let name = r.who.name.clone();
    let prepared = {
        let (accounts, name) = (accounts.clone(), name.clone());
        blocking(move || accounts.prepare_own_password(&name, &body.current, &body.new)).await?
    };
    let phc = match prepared {
        Ok(phc) => phc,
        Err(t @ Reason::CurrentPasswordWrong) => {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "wrong_password", t))
        }
        Err(t) => return Err(ApiError::bad_request(t)),
    };
    let line = admin::entry(&name, "change-password", "account", &name);
    let now = Utc::now();
    blocking(move || {
        store.audited(line, || {
            accounts.set_password(&name, phc, false, Some(&id), now)
        })
    })
    .await??;
    ctx.tokens.notify_revoked();
    Ok(Vec::<u8>::new().into_response_204())
}

trait NoContent {
    fn into_response_204(self) -> Response;
}

impl NoContent for Vec<u8> {
    fn into_response_204(self) -> Response {
        let mut r = warp::reply::Reply::into_response(self);
        *r.status_mut() = StatusCode::NO_CONTENT;
        r
    }
}
