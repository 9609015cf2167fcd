//! A request as the handlers see it, and the reply helpers.
//!
//! Bodies are read here with a hard cap, whether or not the client sent a
//! Content-Length (a chunked upload cannot sneak past the limit), and at
//! a minimum rate (a client trickling a body cannot hold a connection and
//! a handler for ever: [`BODY_GRACE`], [`BODY_MIN_RATE`]), and JSON
//! is parsed here so every syntax or shape mistake becomes a 400 with the
//! line, column and field serde reports.

use std::collections::HashMap;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use serde::{de::DeserializeOwned, Serialize};
use warp::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use warp::reply::{Reply, Response};

use super::error::ApiError;
use crate::domain::Id;
use crate::i18n::Reason;
use crate::store::tokens::Principal;

pub(crate) type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, warp::Error>> + Send + Sync>>;

/// Largest JSON body: 1 MiB is far more than any message or campaign needs.
pub(crate) const JSON_LIMIT: usize = 1 << 20;
/// Largest image upload: 20 MiB.
pub(crate) const ASSET_LIMIT: usize = 20 << 20;
/// A refused body up to this size is read and thrown away before the 413,
/// for at most [`DRAIN_TIME`]: a client still sending would otherwise get
/// a connection reset (unread bytes) instead of the answer. Larger bodies
/// are refused at once and the connection closed.
const DRAIN_MAX: usize = 64 << 20;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);
/// A body may take this long, plus its size at [`BODY_MIN_RATE`]; past
/// that it is refused with 408 and the connection closed.
pub(crate) const BODY_GRACE: std::time::Duration = std::time::Duration::from_secs(15);
/// Bytes per second a body must average after [`BODY_GRACE`] (64 kbit/s:
/// a 20 MiB image over a poor mobile link still arrives).
pub(crate) const BODY_MIN_RATE: u64 = 8 * 1024;

/// When a body of which `received` bytes came since `started` is too late.
fn body_deadline(started: tokio::time::Instant, received: usize) -> tokio::time::Instant {
    started + BODY_GRACE + std::time::Duration::from_millis(received as u64 * 1000 / BODY_MIN_RATE)
}

pub(crate) struct Req {
    pub method: Method,
    pub segs: Vec<String>,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub who: Principal,
    /// The client's address (per-address sign-in limits): the peer's, or
    /// the one a trusted proxy forwarded ([`super::server::client_ip`]).
    pub client: Option<std::net::IpAddr>,
    body: Option<BodyStream>,
    /// Set when the body was not read to its end (refused as too large):
    /// the reply then closes the connection, so no client reuses a
    /// connection that still has request bytes in flight.
    pub body_unread: bool,
}

impl Req {
    pub(crate) fn new(
        method: Method,
        segs: Vec<String>,
        query: HashMap<String, String>,
        headers: HeaderMap,
        who: Principal,
        client: Option<std::net::IpAddr>,
        body: BodyStream,
    ) -> Req {
        Req {
            method,
            segs,
            query,
            headers,
            who,
            client,
            body: Some(body),
            body_unread: false,
        }
    }

    pub(crate) fn content_type(&self) -> Option<String> {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
    }

    /// The whole body, refused with 413 past `limit` bytes.
    pub(crate) async fn body(&mut self, limit: usize) -> Result<Bytes, ApiError> {
        let too_large = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                Reason::BodyTooLarge { kib: limit / 1024 },
            )
        };
        if let Some(len) = self
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            if len > limit as u64 {
                match self.body.take() {
                    Some(stream) if len <= DRAIN_MAX as u64 => self.drain(stream, 0).await,
                    _ => self.body_unread = true,
                }
                return Err(too_large());
            }
        }
        let Some(mut stream) = self.body.take() else {
            return Ok(Bytes::new());
        };
        let mut buf = BytesMut::new();
        let started = tokio::time::Instant::now();
        loop {
            let next = tokio::time::timeout_at(body_deadline(started, buf.len()), stream.next());
            let Ok(next) = next.await else {
                self.body_unread = true;
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "too_slow",
                    Reason::BodyTooSlow {
                        after_s: BODY_GRACE.as_secs(),
                        kib_per_s: BODY_MIN_RATE / 1024,
                    },
                ));
            };
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(|e| {
                ApiError::bad_request(Reason::BodyUnreadable {
                    detail: e.to_string(),
                })
            })?;
            if buf.len() + chunk.len() > limit {
                self.drain(stream, buf.len() + chunk.len()).await;
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    /// Reads and discards the rest of a refused body, within [`DRAIN_MAX`]
    /// bytes and [`DRAIN_TIME`]; if it does not end by then the reply
    /// closes the connection.
    async fn drain(&mut self, mut stream: BodyStream, mut seen: usize) {
        let deadline = tokio::time::sleep(DRAIN_TIME);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                chunk = stream.next() => match chunk {
                    None => return,
                    Some(Ok(c)) => {
                        seen += c.len();
                        if seen > DRAIN_MAX {
                            break;
                        }
                    }
                    Some(Err(_)) => break,
                },
            }
        }
        self.body_unread = true;
    }

    /// Parses a JSON body (Content-Type application/json).
    pub(crate) async fn json<T: DeserializeOwned>(&mut self) -> Result<T, ApiError> {
        let bytes = self.json_bytes().await?;
        parse_json(&bytes)
    }

    /// Parses the JSON body and keeps it for the handler, which reads it
    /// again (the scope gate looks at a body's targets first).
    pub(crate) async fn peek_json<T: DeserializeOwned>(&mut self) -> Result<T, ApiError> {
        let bytes = self.json_bytes().await?;
        let kept: Result<Bytes, warp::Error> = Ok(bytes.clone());
        self.body = Some(Box::pin(futures_util::stream::iter([kept])));
        parse_json(&bytes)
    }

    async fn json_bytes(&mut self) -> Result<Bytes, ApiError> {
        match self.content_type().as_deref() {
            Some("application/json") => {}
            other => {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    Reason::NotJson {
                        got: other.unwrap_or("-").to_string(),
                    },
                ))
            }
        }
        self.body(JSON_LIMIT).await
    }

    /// Whether a body was sent that nobody read to its end.
    pub(crate) fn has_pending_body(&self) -> bool {
        self.body_unread
            || (self.body.is_some()
                && (self.headers.contains_key(header::TRANSFER_ENCODING)
                    || self
                        .headers
                        .get(header::CONTENT_LENGTH)
                        .is_some_and(|v| v.as_bytes() != b"0")))
    }

    /// The language the caller reads (`Accept-Language`, Vietnamese by
    /// default).
    pub(crate) fn lang(&self) -> crate::i18n::Lang {
        crate::i18n::Lang::from_accept_language(
            self.headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        )
    }

    pub(crate) fn q(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(|s| s.as_str())
    }

    /// Path segment `i` as an id, 400 if it is not one.
    pub(crate) fn id(&self, i: usize) -> Result<Id, ApiError> {
        Ok(Id::parse(
            self.segs.get(i).map(|s| s.as_str()).unwrap_or(""),
        )?)
    }

    pub(crate) fn wants_csv(&self) -> bool {
        self.headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/csv"))
            || self.q("format") == Some("csv")
    }
}

pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Nothing left over from an earlier body read on this thread.
    let _ = crate::i18n::take_refused("");
    serde_json::from_slice(bytes).map_err(|e| {
        // A value refused by its own check (an id, a colour, a target)
        // says why in the reader's language, not in serde's words.
        if let Some(why) = crate::i18n::take_refused(&e.to_string()) {
            return ApiError::bad_request(why);
        }
        let syntax = matches!(
            e.classify(),
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof
        );
        ApiError::bad_request(Reason::BadJson {
            syntax,
            detail: e.to_string(),
        })
    })
}

pub(crate) fn json<T: Serialize>(status: StatusCode, v: &T) -> Response {
    let body = serde_json::to_vec(v).expect("replies serialize");
    let mut r = body.into_response();
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A JSON reply. Its status on success is the route's (the table's `ok`:
/// 200, 201 for a creation).
pub(crate) fn ok<T: Serialize>(v: &T) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, v))
}

/// A reply without a body (the table gives its status: 204).
pub(crate) fn empty() -> Result<Response, ApiError> {
    Ok(Vec::<u8>::new().into_response())
}

pub(crate) fn bytes_reply(content_type: &str, body: Vec<u8>) -> Response {
    let mut r = body.into_response();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

/// The error in its one JSON shape, its sentence in `lang`.
pub(crate) fn error_response(e: &ApiError, lang: crate::i18n::Lang) -> Response {
    let mut body = serde_json::json!({"error": e.code, "message": e.message.render(lang)});
    if let (Some(serde_json::Value::Object(extra)), Some(obj)) = (&e.extra, body.as_object_mut()) {
        for (k, v) in extra {
            obj.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let mut r = json(e.status, &body);
    r.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.tag()),
    );
    if e.code == "busy" {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    }
    r
}

/// Decodes `a=1&b=x%20y` (also `+` as space). Later keys win.
pub(crate) fn parse_query(raw: &str) -> HashMap<String, String> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// Percent-decoding; invalid escapes are kept literally, invalid UTF-8 is
/// replaced (then refused by the id check).
pub(crate) fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = parse_query("from=2026-01-01T00:00:00%2B07:00&panel=p1&x=a+b&bad=%zz&end=%4");
        assert_eq!(q["from"], "2026-01-01T00:00:00+07:00");
        assert_eq!(q["panel"], "p1");
        assert_eq!(q["x"], "a b");
        assert_eq!(q["bad"], "%zz");
        assert_eq!(q["end"], "%4");
        assert_eq!(percent_decode("%2e%2e", false), "..");
    }
}
