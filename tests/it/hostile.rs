//! Hostile input: raw HTTP bytes over a TcpStream (so every byte is ours),
//! the fuzz corpora replayed, auth-failure rate limiting, the audit
//! trail's read-only API, forged and replayed frames, and outsiders on the
//! broker (anonymous clients, one controller reaching for another's panel,
//! oversized reports).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::fuzz_targets;
use super::mqtt::TestClient;
use super::util::{
    controller, eventually, keep_logs, logged, next_shown, plays_query, succeeded, try_publish,
    walk, Api, MosquittoProcess, Server, ServerOpts, ADMIN_TOKEN,
};

/// What came back on a raw connection.
#[derive(Debug)]
struct Raw {
    /// None: the server closed without a status line.
    status: Option<u16>,
    head: String,
    body: Vec<u8>,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends `bytes`, optionally half-closes, and reads until the server closes
/// (every request here says `Connection: close`). A read timeout is a hang.
fn raw(port: u16, bytes: &[u8], half_close: bool) -> Raw {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    // The server may answer (and close) before reading everything we send:
    // a write error then is not a failure, the reply is what counts.
    let _ = s.write_all(bytes);
    if half_close {
        let _ = s.shutdown(Shutdown::Write);
    }
    let mut out = Vec::new();
    let started = Instant::now();
    let mut buf = [0u8; 16384];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                panic!(
                    "server hung: no end of reply after {:?}; got so far: {:?}",
                    started.elapsed(),
                    String::from_utf8_lossy(&out)
                )
            }
            // A reset after the reply (unread request bytes) is fine.
            Err(_) => break,
        }
    }
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(out.len(), |p| p + 4);
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| head.strip_prefix("HTTP/1.0 "))
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok());
    let mut body = out[split..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Raw { status, head, body }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(p) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(std::str::from_utf8(&b[..p]).unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if n == 0 || b.len() < p + 2 + n {
            break;
        }
        out.extend_from_slice(&b[p + 2..p + 2 + n]);
        b = &b[(p + 4 + n).min(b.len())..];
    }
    out
}

/// A request with the admin token and `Connection: close`.
fn req(method: &str, path: &str, headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nConnection: close\r\n"
    )
    .into_bytes();
    for h in headers {
        r.extend_from_slice(h.as_bytes());
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"\r\n");
    r.extend_from_slice(body);
    r
}

/// A JSON POST with a correct Content-Length.
fn post_json(path: &str, body: &[u8]) -> Vec<u8> {
    req(
        "POST",
        path,
        &[
            "Content-Type: application/json",
            &format!("Content-Length: {}", body.len()),
        ],
        body,
    )
}

/// How a case must end.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// One of these statuses, with the JSON error shape and a sentence.
    Api(&'static [u16]),
    /// Malformed HTTP that hyper refuses itself: a 4xx (its body is not
    /// ours) or, where hyper cannot even parse a request, a closed
    /// connection — but never a 5xx and never a hang.
    Hyper,
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    half_close: bool,
    want: Want,
}

fn case(name: &'static str, bytes: Vec<u8>, want: Want) -> Case {
    Case {
        name,
        bytes,
        half_close: false,
        want,
    }
}

const BAD: Want = Want::Api(&[400]);

fn cases() -> Vec<Case> {
    let panel = br#"{"id":"p2","name":"Bang","width":64,"height":16,"format":"mono1"}"#;
    let mut v = vec![
        // Content types.
        case(
            "no content type",
            req("POST", "/api/v1/panels", &["Content-Length: 2"], b"{}"),
            Want::Api(&[415]),
        ),
        case(
            "text/plain",
            req(
                "POST",
                "/api/v1/panels",
                &["Content-Type: text/plain", "Content-Length: 2"],
                b"{}",
            ),
            Want::Api(&[415]),
        ),
        case(
            "application/jsonx",
            req(
                "POST",
                "/api/v1/panels",
                &["Content-Type: application/jsonx", "Content-Length: 2"],
                b"{}",
            ),
            Want::Api(&[415]),
        ),
        case(
            "multipart form",
            req(
                "POST",
                "/api/v1/messages",
                &[
                    "Content-Type: multipart/form-data; boundary=x",
                    "Content-Length: 2",
                ],
                b"{}",
            ),
            Want::Api(&[415]),
        ),
        case(
            "JSON sent as an image",
            req(
                "POST",
                "/api/v1/assets",
                &["Content-Type: image/png", "Content-Length: 2"],
                b"{}",
            ),
            Want::Api(&[422]),
        ),
        // Every CRC right, a PLTE of 49 bytes: the png crate panics on it.
        case(
            "PNG whose palette is not whole colour triples",
            req(
                "POST",
                "/api/v1/assets",
                &["Content-Type: image/png", "Content-Length: 144"],
                include_bytes!("../fixtures/torn-palette.png"),
            ),
            Want::Api(&[422]),
        ),
        case(
            "image type not accepted",
            req(
                "POST",
                "/api/v1/assets",
                &["Content-Type: image/svg+xml", "Content-Length: 6"],
                b"<svg/>",
            ),
            Want::Api(&[415]),
        ),
        // Bodies.
        case("empty JSON body", post_json("/api/v1/panels", b""), BAD),
        // Past the 1 MiB cap, sent in full before reading: the server reads
        // and drops the rest so the client sees the 413, not a reset.
        case(
            "2 MiB JSON body",
            post_json(
                "/api/v1/panels",
                format!("{{\"name\":\"{}\"}}", "x".repeat(2 << 20)).as_bytes(),
            ),
            Want::Api(&[413]),
        ),
        case(
            "truncated JSON",
            post_json("/api/v1/panels", &panel[..20]),
            BAD,
        ),
        Case {
            name: "Content-Length larger than sent, then close",
            bytes: req(
                "POST",
                "/api/v1/panels",
                &["Content-Type: application/json", "Content-Length: 1000"],
                &panel[..30],
            ),
            half_close: true,
            want: Want::Hyper,
        },
        case(
            "chunked body, valid panel",
            req(
                "POST",
                "/api/v1/panels",
                &[
                    "Content-Type: application/json",
                    "Transfer-Encoding: chunked",
                ],
                &chunked(&[&panel[..10], &panel[10..]]),
            ),
            Want::Api(&[201]),
        ),
        case(
            "chunked body, bad JSON",
            req(
                "POST",
                "/api/v1/panels",
                &[
                    "Content-Type: application/json",
                    "Transfer-Encoding: chunked",
                ],
                &chunked(&[b"{\"id\":", b"[[["]),
            ),
            BAD,
        ),
        case(
            "chunked body, bad chunk size",
            req(
                "POST",
                "/api/v1/panels",
                &[
                    "Content-Type: application/json",
                    "Transfer-Encoding: chunked",
                ],
                b"zz\r\n{}\r\n0\r\n\r\n",
            ),
            Want::Hyper,
        ),
        case(
            "chunk size overflowing u64",
            req(
                "POST",
                "/api/v1/panels",
                &[
                    "Content-Type: application/json",
                    "Transfer-Encoding: chunked",
                ],
                b"FFFFFFFFFFFFFFFFFFFFFF\r\n{}\r\n0\r\n\r\n",
            ),
            Want::Hyper,
        ),
        Case {
            name: "chunked body cut off, then close",
            bytes: req(
                "POST",
                "/api/v1/panels",
                &[
                    "Content-Type: application/json",
                    "Transfer-Encoding: chunked",
                ],
                b"40\r\n{\"id\":\"p3\"",
            ),
            half_close: true,
            want: Want::Hyper,
        },
        case(
            "Content-Length and chunked together",
            req(
                "POST",
                "/api/v1/panels",
                &[
                    "Content-Type: application/json",
                    "Content-Length: 5",
                    "Transfer-Encoding: chunked",
                ],
                b"2\r\n{}\r\n0\r\n\r\n",
            ),
            // hyper drops the Content-Length and reads the chunks: `{}` is
            // a panel with missing fields.
            Want::Api(&[400]),
        ),
        case(
            "negative Content-Length",
            req(
                "POST",
                "/api/v1/panels",
                &["Content-Type: application/json", "Content-Length: -1"],
                b"{}",
            ),
            Want::Hyper,
        ),
        case(
            "two different Content-Lengths",
            req(
                "POST",
                "/api/v1/panels",
                &[
                    "Content-Type: application/json",
                    "Content-Length: 2",
                    "Content-Length: 3",
                ],
                b"{} ",
            ),
            Want::Hyper,
        ),
        // Headers.
        // hyper buffers up to about 400 KB of request head (its default
        // max_buf_size): a 100 KB header is served, 1 MB is refused.
        case(
            "a 100 KB header (within hyper's buffer)",
            req(
                "GET",
                "/api/v1/panels",
                &[&format!("X-Big: {}", "a".repeat(100 * 1024))],
                b"",
            ),
            Want::Api(&[200]),
        ),
        case(
            "a 1 MB header",
            req(
                "GET",
                "/api/v1/panels",
                &[&format!("X-Big: {}", "a".repeat(1024 * 1024))],
                b"",
            ),
            Want::Hyper,
        ),
        case(
            "200 headers",
            req(
                "GET",
                "/api/v1/panels",
                &(0..200).map(|i| format!("X-H{i}: v")).collect::<Vec<_>>().iter().map(String::as_str).collect::<Vec<_>>(),
                b"",
            ),
            Want::Hyper,
        ),
        case(
            "a 100 KB path",
            req("GET", &format!("/api/v1/panels/{}", "a".repeat(100 * 1024)), &[], b""),
            Want::Hyper,
        ),
        case(
            "a 1 MB path",
            req("GET", &format!("/api/v1/panels/{}", "a".repeat(1024 * 1024)), &[], b""),
            Want::Hyper,
        ),
        case(
            "NUL in a header value",
            req("GET", "/api/v1/panels", &["X-Bad: a\0b"], b""),
            Want::Hyper,
        ),
        case(
            "not HTTP at all",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n".to_vec(),
            Want::Hyper,
        ),
        case(
            "unknown method",
            req("BREW", "/api/v1/panels", &[], b""),
            Want::Api(&[405]),
        ),
        case(
            "token with non-ASCII bytes",
            b"GET /api/v1/panels HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xc3\xa9\xff\r\nConnection: close\r\n\r\n".to_vec(),
            Want::Api(&[401]),
        ),
        // JSON shapes.
        case(
            "100,000 nested arrays",
            post_json("/api/v1/panels", "[".repeat(100_000).as_bytes()),
            BAD,
        ),
        case(
            "100,000 nested objects in a field",
            post_json(
                "/api/v1/messages",
                format!("{{\"title\":{}", "{\"a\":".repeat(100_000)).as_bytes(),
            ),
            BAD,
        ),
        case(
            "nested arrays in the cron explainer",
            post_json(
                "/api/v1/cron/explain",
                format!("{{\"cron\":{}", "[".repeat(50_000)).as_bytes(),
            ),
            BAD,
        ),
        case(
            "invalid UTF-8 in a string",
            post_json(
                "/api/v1/panels",
                b"{\"id\":\"p9\",\"name\":\"B\xff\xfeng\",\"width\":64,\"height\":16,\"format\":\"mono1\"}",
            ),
            BAD,
        ),
        case(
            "UTF-8 byte order mark",
            post_json("/api/v1/panels", &[b"\xef\xbb\xbf".as_slice(), panel].concat()),
            BAD,
        ),
        case(
            "duplicate key",
            post_json(
                "/api/v1/panels",
                br#"{"id":"p4","id":"p5","name":"B","width":64,"height":16,"format":"mono1"}"#,
            ),
            BAD,
        ),
        case(
            "JSON null body",
            post_json("/api/v1/alerts", b"null"),
            BAD,
        ),
        case(
            "trailing garbage",
            post_json("/api/v1/panels", &[panel.as_slice(), b"}{"].concat()),
            BAD,
        ),
        // Numbers.
        case(
            "width 1e400",
            post_json(
                "/api/v1/panels",
                br#"{"id":"p6","name":"B","width":1e400,"height":16,"format":"mono1"}"#,
            ),
            BAD,
        ),
        case(
            "width 2^64",
            post_json(
                "/api/v1/panels",
                br#"{"id":"p6","name":"B","width":18446744073709551616,"height":16,"format":"mono1"}"#,
            ),
            BAD,
        ),
        case(
            "width 65536 (past u16)",
            post_json(
                "/api/v1/panels",
                br#"{"id":"p6","name":"B","width":65536,"height":16,"format":"mono1"}"#,
            ),
            BAD,
        ),
        case(
            "width 64.5",
            post_json(
                "/api/v1/panels",
                br#"{"id":"p6","name":"B","width":64.5,"height":16,"format":"mono1"}"#,
            ),
            BAD,
        ),
        case(
            "width as a string",
            post_json(
                "/api/v1/panels",
                br#"{"id":"p6","name":"B","width":"64","height":16,"format":"mono1"}"#,
            ),
            BAD,
        ),
        case(
            "alert duration_s -1",
            post_json(
                "/api/v1/alerts",
                br#"{"text":"x","targets":["all"],"duration_s":-1}"#,
            ),
            BAD,
        ),
        case(
            "alert duration_s 2^32",
            post_json(
                "/api/v1/alerts",
                br#"{"text":"x","targets":["all"],"duration_s":4294967296}"#,
            ),
            BAD,
        ),
        case(
            "campaign priority 2^31",
            post_json(
                "/api/v1/campaigns",
                br#"{"name":"x","messages":[],"targets":["all"],"priority":2147483648}"#,
            ),
            BAD,
        ),
        case(
            "campaign start year 300000",
            post_json(
                "/api/v1/campaigns",
                br#"{"name":"x","messages":[],"targets":["all"],"priority":1,"start":"300000-01-01"}"#,
            ),
            BAD,
        ),
        case(
            "audit limit 10^20",
            req("GET", "/api/v1/audit?limit=100000000000000000000", &[], b""),
            BAD,
        ),
        case(
            "timeline from year 99999",
            req(
                "GET",
                "/api/v1/panels/p1/timeline?from=99999-01-01T00:00:00Z",
                &[],
                b"",
            ),
            BAD,
        ),
        case(
            "timeline at the end of year 9999",
            req(
                "GET",
                "/api/v1/panels/p1/timeline?from=9999-12-31T00:00:00Z&to=9999-12-31T23:59:59Z",
                &[],
                b"",
            ),
            Want::Api(&[200, 400]),
        ),
        case(
            "plays report over all time",
            req(
                "GET",
                "/api/v1/reports/plays?from=0000-01-01T00:00:00Z&to=9999-12-31T00:00:00Z",
                &[],
                b"",
            ),
            Want::Api(&[200, 400]),
        ),
        case(
            "preview 65536 wide",
            req(
                "GET",
                "/api/v1/messages/m1/preview.png?width=65536&height=16&format=mono1",
                &[],
                b"",
            ),
            Want::Api(&[400, 404]),
        ),
    ];
    // Ids in paths and bodies: traversal, separators, NUL, look-alikes.
    for (name, path) in [
        ("dot-dot", "/api/v1/panels/.."),
        ("encoded dot-dot", "/api/v1/panels/%2e%2e"),
        (
            "encoded slash traversal",
            "/api/v1/panels/..%2F..%2Fsecrets%2Ftokens",
        ),
        ("encoded slash", "/api/v1/campaigns/a%2Fb"),
        ("NUL", "/api/v1/messages/a%00b"),
        ("overlong UTF-8 dot", "/api/v1/panels/%C0%AE%C0%AE"),
        ("Cyrillic a", "/api/v1/panels/p%D0%B0nel"),
        ("fullwidth letters", "/api/v1/panels/%EF%BD%90%EF%BC%91"),
        ("trailing space", "/api/v1/panels/p1%20"),
        ("uppercase", "/api/v1/panels/P1"),
        ("backslash", "/api/v1/alerts/..%5C..%5Cx"),
        (
            "asset id traversal",
            "/api/v1/assets/..%2F..%2Fsecrets%2Ftokens.json",
        ),
        ("token name traversal", "/api/v1/tokens/..%2Fadmin"),
    ] {
        let method = if name == "token name traversal" {
            "DELETE"
        } else {
            "GET"
        };
        v.push(case(
            name,
            req(method, path, &[], b""),
            Want::Api(&[400, 404]),
        ));
    }
    for (name, id) in [
        ("body id with dot-dot", r#""../p7""#),
        ("body id with slash", r#""a/b""#),
        ("body id with NUL", r#""p\u0000""#),
        ("body id Cyrillic", r#""p\u0430nel""#),
        ("body id zero-width space", r#""p\u200b1""#),
        ("body id 65 chars", &format!("\"{}\"", "a".repeat(65))),
        ("body id a number", "7"),
    ] {
        let body = format!(r#"{{"id":{id},"name":"B","width":64,"height":16,"format":"mono1"}}"#);
        v.push(case(
            name,
            post_json("/api/v1/panels", body.as_bytes()),
            BAD,
        ));
    }
    v
}

fn chunked(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(format!("{:x}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Every hostile request gets a 4xx with a sentence (or hyper's own 4xx),
/// never a 5xx or a hang; nothing but the one valid panel is stored, and the
/// server still answers afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_http_table() {
    let s = Server::start();
    let admin = Api::new(&s, Some(ADMIN_TOKEN));
    admin
        .create_panel(
            json!({"id": "p1", "name": "Cổng", "width": 64, "height": 16, "format": "mono1"}),
        )
        .await;
    let port = s.http_port;
    let cases = cases();
    let n = cases.len();
    let results = tokio::task::spawn_blocking(move || {
        cases
            .into_iter()
            .map(|c| {
                let started = Instant::now();
                let r = raw(port, &c.bytes, c.half_close);
                (c.name, c.want, r, started.elapsed())
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let mut failures = Vec::new();
    for (name, want, r, took) in &results {
        let ok = match want {
            Want::Api(codes) => {
                let v = r.json();
                r.status.is_some_and(|s| codes.contains(&s))
                    && (r.status.is_some_and(|s| s < 300)
                        || (v["error"].is_string()
                            && v["message"].as_str().is_some_and(|m| m.len() > 15)))
            }
            Want::Hyper => r.status.is_none_or(|s| (400..500).contains(&s)),
        };
        if !ok {
            failures.push(format!(
                "{name}: want {want:?}, got {:?} {}",
                r.status,
                String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
            ));
        }
        assert!(
            *took < Duration::from_secs(5),
            "{name} took {took:?}: the server should answer at once"
        );
    }
    for (name, _, r, took) in &results {
        eprintln!(
            "{name:45} {:>4} {:>6.1} ms {}",
            r.status.map_or("-".to_string(), |s| s.to_string()),
            took.as_secs_f64() * 1000.0,
            r.head.lines().next().unwrap_or("(closed, no reply)")
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {n} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Still serving, nothing stray stored.
    let r = reqwest::get(s.url("/healthz")).await.unwrap();
    assert_eq!(r.status(), 200);
    let (_, panels) = admin.get("/panels").await;
    let ids: Vec<&str> = panels
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["p1", "p2"], "only the valid panels were stored");
    // content/ only: the player may be writing state/seq.json right now.
    let stray: Vec<_> = walk(&s.data.join("content"))
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(".tmp"))
        })
        .collect();
    assert!(stray.is_empty(), "temp files left: {stray:?}");
}

/// 20 wrong tokens a minute from one address, then 429 with a sentence,
/// even for a right token (so guessing learns nothing); /healthz unaffected.
#[tokio::test]
async fn auth_failures_are_rate_limited() {
    let s = Server::start();
    let wrong = Api::new(&s, Some("guess-0000"));
    for i in 0..20 {
        let (st, v) = wrong.get("/panels").await;
        assert_eq!(st, 401, "attempt {i}: {v}");
    }
    let (st, v) = wrong.get("/panels").await;
    assert_eq!(st, 429, "{v}");
    assert_eq!(v["error"], "too_many_failures");
    assert!(v["message"].as_str().unwrap().contains("wait"), "{v}");
    let admin = Api::new(&s, Some(ADMIN_TOKEN));
    assert_eq!(admin.get("/panels").await.0, 429);
    assert_eq!(reqwest::get(s.url("/healthz")).await.unwrap().status(), 200);
}

/// The audit trail is read-only through the API: only GET exists, for
/// admins; every other method is refused and the trail is unchanged.
#[tokio::test]
async fn audit_trail_cannot_be_rewritten() {
    let s = Server::start();
    let admin = Api::new(&s, Some(ADMIN_TOKEN));
    let (_, before) = admin.get("/audit").await;
    for m in ["PUT", "DELETE", "POST", "PATCH"] {
        for path in ["/audit", "/audit/0", "/audit/1"] {
            let r = admin
                .req(reqwest::Method::from_bytes(m.as_bytes()).unwrap(), path)
                .header("content-type", "application/json")
                .body("[]")
                .send()
                .await
                .unwrap();
            let st = r.status().as_u16();
            assert!(st == 405 || st == 404, "{m} {path}: {st}");
        }
    }
    let (_, after) = admin.get("/audit").await;
    assert_eq!(before, after);
}

/// Every file in `fuzz/corpus/TARGET/` through the same function the fuzzer
/// runs: the corpora (and every crash ever found, kept there) replay here.
#[test]
fn fuzz_corpora_replay() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    type Target = fn(&[u8]);
    let targets: [(&str, Target); 4] = [
        ("frame_decode", fuzz_targets::frame_decode),
        ("image_decode", fuzz_targets::image_decode),
        ("domain_json", fuzz_targets::domain_json),
        ("render_text", fuzz_targets::render_text),
    ];
    for (name, f) in targets {
        let files = walk(&root.join(name));
        assert!(
            files.len() >= 5,
            "fuzz/corpus/{name} has {} files: the corpus is missing",
            files.len()
        );
        for p in files {
            let bytes = std::fs::read(&p).unwrap();
            let r = std::panic::catch_unwind(|| f(&bytes));
            assert!(r.is_ok(), "{name}: {} panics", p.display());
        }
    }
}

// ---- signed frames ---------------------------------------------------

/// Publishes each payload at QoS 1 from an outsider's client and waits for
/// the broker's PUBACKs, so they are delivered before anything sent later.
/// The outsider of a loosely configured broker: on the embedded broker,
/// which admits no outsider, it uses the credential in `url` (the server
/// principal's).
async fn publish_as_attacker(url: &str, topic: &str, retain: bool, payloads: Vec<Vec<u8>>) {
    use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS};
    let u: bangtin::mqtt::BrokerUrl = url.parse().unwrap();
    let mut mo = MqttOptions::new("attacker", &u.host, u.port);
    mo.set_max_packet_size(1 << 20, 1 << 20);
    if let Some(user) = &u.username {
        mo.set_credentials(user, u.password.clone().unwrap_or_default());
    }
    let (client, mut el) = AsyncClient::new(mo, 16);
    let n = payloads.len();
    for p in payloads {
        client
            .publish(topic, QoS::AtLeastOnce, retain, p)
            .await
            .unwrap();
    }
    let mut acked = 0;
    while acked < n {
        match tokio::time::timeout(Duration::from_secs(5), el.poll()).await {
            Ok(Ok(Event::Incoming(Incoming::PubAck(_)))) => acked += 1,
            Ok(Ok(_)) => {}
            other => panic!("attacker's publish failed: {other:?}"),
        }
    }
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(1), el.poll()).await;
}

/// `bangtin keys generate --out DIR/frame-signing.pem`: the private key's
/// path (the public key is beside it, `.pub`).
fn generate_signing_key(dir: &std::path::Path) -> std::path::PathBuf {
    let key = dir.join("frame-signing.pem");
    succeeded(
        std::process::Command::new(env!("CARGO_BIN_EXE_bangtin"))
            .args(["keys", "generate", "--out"])
            .arg(&key)
            .output()
            .unwrap(),
    );
    key
}

/// A server that signs every frame with `key`.
fn signing_server(key: &std::path::Path) -> Server {
    Server::start_with(ServerOpts {
        extra_args: vec!["--signing-key".into(), key.to_str().unwrap().into()],
        ..Default::default()
    })
}

/// `bangtin keys generate`, a server signing with it, the reference
/// controller checking with the public key: signed frames are shown;
/// unsigned, wrongly signed, altered, stripped and replayed frames are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_frames_shown_forgeries_rejected() {
    use bangtin::frame::{self, FLAG_EMERGENCY, FLAG_SIGNED};
    use bangtin::mqtt::controller::{spawn_fleet, ControllerArgs};
    use ed25519_dalek::{Signer, Verifier};

    let keys = tempfile::tempdir().unwrap();
    let key = generate_signing_key(keys.path());
    let pub_path = key.with_extension("pub");
    let pub_hex = std::fs::read_to_string(&pub_path).unwrap();
    let vk = ed25519_dalek::VerifyingKey::from_bytes(
        &hex::decode(pub_hex.trim()).unwrap().try_into().unwrap(),
    )
    .unwrap();
    // A second generate must not overwrite the key.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_bangtin"))
        .args(["keys", "generate", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert_eq!(std::fs::read_to_string(&pub_path).unwrap(), pub_hex);

    let s = signing_server(&key);
    let admin = Api::new(&s, Some(ADMIN_TOKEN));
    admin
        .create_panel(
            json!({"id": "s1", "name": "Ký số", "width": 64, "height": 16, "format": "mono1"}),
        )
        .await;
    let url = s.broker_url();
    let topic = "bangtin/panels/s1/frame";
    let ctl_url = admin.controller_url(&s, "s1").await;
    let mut args = ControllerArgs::new("s1".parse().unwrap(), ctl_url.parse().unwrap());
    args.public_key = Some(pub_path.clone());
    let mut c = spawn_fleet(&args).unwrap();
    let first = next_shown(&mut c).await;
    assert_ne!(first.flags & FLAG_SIGNED, 0, "signed frame shown");
    let mut watch = TestClient::connect(&url, "watch-s1", &[topic]).await;
    let original = watch.next_on(topic).await.payload.to_vec();
    let f = frame::decode(&original).unwrap();
    assert_eq!(f.header.seq, first.seq);
    vk.verify(
        f.signed_part(&original),
        &ed25519_dalek::Signature::from_bytes(f.signature.unwrap()),
    )
    .expect("the server's signature verifies with the generated public key");

    // A newer legitimate frame: an alert.
    let alert = admin
        .send_alert(json!({"text": "BÃO", "targets": ["s1"], "duration_s": 600}))
        .await;
    let second = next_shown(&mut c).await;
    assert!(second.seq > first.seq && second.flags & FLAG_EMERGENCY != 0);
    let alert_bytes = watch.next_on(topic).await.payload.to_vec();
    assert_eq!(frame::decode(&alert_bytes).unwrap().header.seq, second.seq);

    // Forgeries, each with a seq far above anything real.
    let hi = second.seq + 1000;
    let h = frame::Header {
        format: bangtin::domain::PixelFormat::Mono1,
        brightness: 255,
        width: 64,
        height: 16,
        flags: FLAG_EMERGENCY,
        seq: hi,
        valid_until: 0,
    };
    let data = vec![0xffu8; 8 * 16];
    let unsigned = frame::encode(&h, &data);
    let other_key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let wrong_key = {
        let mut hh = h;
        hh.flags |= FLAG_SIGNED;
        hh.seq = hi + 1;
        let mut v = frame::encode(&hh, &data);
        let sig = other_key.sign(&v);
        v.extend_from_slice(&sig.to_bytes());
        v
    };
    let altered = {
        let mut v = alert_bytes.clone();
        v[frame::HEADER_LEN] ^= 0xff; // a pixel
        let len = u32::from_le_bytes(v[24..28].try_into().unwrap()) as usize;
        let crc = frame::crc32(&v[32..32 + len]);
        v[28..32].copy_from_slice(&crc.to_le_bytes());
        v[12..16].copy_from_slice(&(hi + 2).to_le_bytes());
        v
    };
    let seq_bumped = {
        let mut v = alert_bytes.clone();
        v[12..16].copy_from_slice(&(hi + 3).to_le_bytes());
        v
    };
    let stripped = {
        // Signed flag cleared and the signature cut off: a "downgrade".
        let mut v = alert_bytes[..alert_bytes.len() - 64].to_vec();
        let flags = u16::from_le_bytes([v[10], v[11]]) & !FLAG_SIGNED;
        v[10..12].copy_from_slice(&flags.to_le_bytes());
        v[12..16].copy_from_slice(&(hi + 4).to_le_bytes());
        v
    };
    for (name, bytes) in [("altered", &altered), ("seq bumped", &seq_bumped)] {
        let f = frame::decode(bytes).unwrap_or_else(|e| panic!("{name} decodes: {e}"));
        assert!(
            vk.verify(
                f.signed_part(bytes),
                &ed25519_dalek::Signature::from_bytes(f.signature.unwrap())
            )
            .is_err(),
            "{name} must not verify"
        );
    }
    publish_as_attacker(
        &url,
        topic,
        false,
        vec![
            unsigned,
            wrong_key,
            altered,
            seq_bumped,
            stripped,
            original.clone(), // replay: a real, older signed frame
        ],
    )
    .await;

    // The next legitimate frame (alert cancelled) is the next thing shown:
    // none of the forgeries was, and none poisoned the seq check.
    admin.cancel_alert(&alert).await;
    let third = next_shown(&mut c).await;
    assert!(
        third.seq > second.seq && third.seq < hi,
        "a forged or replayed frame was shown: seq {} (real ones are {}..{})",
        third.seq,
        first.seq,
        second.seq
    );
    assert_eq!(third.flags & FLAG_EMERGENCY, 0);
    assert_ne!(third.flags & FLAG_SIGNED, 0);
    c.shutdown().await;
}

/// A reference controller restarted with `--state` remembers the last seq
/// it showed: an older, genuinely signed frame left as the retained
/// message (a replay) is refused after the restart, and the next real
/// frame is shown. Without the state file the restarted controller would
/// show the replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_controller_with_state_refuses_an_older_signed_frame() {
    use bangtin::frame;
    use bangtin::mqtt::controller::{spawn_fleet, ControllerArgs};

    let dir = tempfile::tempdir().unwrap();
    let key = generate_signing_key(dir.path());
    let s = signing_server(&key);
    let admin = Api::new(&s, Some(ADMIN_TOKEN));
    admin.create_panel(json!({"id": "r1", "name": "Khởi động lại", "width": 64, "height": 16, "format": "mono1"})).await;
    let url = s.broker_url();
    let topic = "bangtin/panels/r1/frame";
    let ctl_url = admin.controller_url(&s, "r1").await;
    let mut args = ControllerArgs::new("r1".parse().unwrap(), ctl_url.parse().unwrap());
    args.public_key = Some(key.with_extension("pub"));
    args.state = Some(dir.path().join("state"));
    let mut c = spawn_fleet(&args).unwrap();
    let first = next_shown(&mut c).await;
    let mut watch = TestClient::connect(&url, "watch-r1", &[topic]).await;
    let old = watch.next_on(topic).await.payload.to_vec();
    assert_eq!(frame::decode(&old).unwrap().header.seq, first.seq);
    let alert = admin
        .send_alert(json!({"text": "LŨ", "targets": ["r1"], "duration_s": 600}))
        .await;
    let second = next_shown(&mut c).await;
    assert!(second.seq > first.seq);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("state/r1.seq")).unwrap(),
        second.seq.to_string()
    );
    c.shutdown().await;

    // While it is down, the old signed frame becomes the retained one.
    publish_as_attacker(&url, topic, true, vec![old]).await;
    keep_logs();
    let mut c = spawn_fleet(&args).unwrap();
    // It is delivered on connect and refused; only then a real, newer frame.
    assert!(
        logged(
            Duration::from_secs(10),
            &[
                "rejected a replayed frame",
                &format!("panel=r1 seq={}", first.seq)
            ]
        )
        .await,
        "the restarted controller did not refuse the replayed frame (seq {})",
        first.seq
    );
    admin.cancel_alert(&alert).await;
    let shown = next_shown(&mut c).await;
    assert!(
        shown.seq > second.seq,
        "the replayed frame (seq {}) was shown after a restart; expected one above {}",
        shown.seq,
        second.seq
    );
    c.shutdown().await;
}

/// The event stream needs a token like every route; only it takes the
/// token from the query (EventSource cannot send headers), no other route.
#[tokio::test]
async fn query_tokens_only_for_the_event_stream() {
    let s = Server::start();
    let anon = Api::new(&s, None);
    let r = anon
        .req(reqwest::Method::GET, "/events")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = anon
        .req(
            reqwest::Method::GET,
            &format!("/events?access_token={ADMIN_TOKEN}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    drop(r);
    for path in ["/panels", "/tokens", "/audit", "/me"] {
        let (st, v) = anon
            .get(&format!("{path}?access_token={ADMIN_TOKEN}"))
            .await;
        assert_eq!(st, 401, "{path} took a token from the query: {v}");
    }
}

// ---- outsiders on the broker -----------------------------------------

/// A payload just over 4 MiB: the embedded broker used to take it on a
/// status topic, and the server's client refused it, reconnecting and
/// dropping about five times a second.
const OVER_4_MIB: usize = 4 * 1024 * 1024 + 512;

/// The server's broker link stays up for 3 s without coming up again, and
/// `/status` says it is connected.
async fn assert_link_steady(s: &Server, admin: &Api, after: &str) {
    let before = s.broker_links();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ups = s.broker_links() - before;
    assert_eq!(
        ups, 0,
        "after {after}: the server's broker link was cut and came up again {ups} times in 3 s"
    );
    let (_, status) = admin.get("/status").await;
    assert_eq!(status["mqtt_connected"], true, "after {after}: {status}");
}

/// A controller connecting with `url` shows `panel`'s frame, and its ack
/// becomes a proof-of-play row.
async fn shows_and_acks(admin: &Api, url: &str, panel: &str) {
    let mut c = controller(url, panel);
    let shown = next_shown(&mut c).await;
    let q = plays_query(panel);
    let counted = eventually(Duration::from_secs(10), || async {
        let (_, rows) = admin.get(&q).await;
        rows.as_array()?
            .iter()
            .any(|r| r["seq"] == shown.seq)
            .then_some(())
    })
    .await;
    assert!(
        counted.is_some(),
        "{panel}'s ack of seq {} did not become proof of play",
        shown.seq
    );
    c.shutdown().await;
}

/// A retained message just over 4 MiB on a panel's status topic of the
/// default embedded broker, anonymously or from that panel's own
/// controller: refused, and the server's link stays up (it used to be cut
/// five times a second, losing acks and republishing every panel each
/// time). A genuine controller's frame and ack still go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_status_does_not_cut_the_server_off_the_embedded_broker() {
    let s = Server::start();
    let admin = Api::new(&s, Some(ADMIN_TOKEN));
    let topic = "bangtin/panels/x1/status";
    let big = vec![b' '; OVER_4_MIB];
    let anonymous = try_publish(&s.anonymous_broker_url(), "x1", topic, true, big.clone()).await;
    assert_link_steady(&s, &admin, "an anonymous 4 MiB status").await;
    assert!(
        anonymous.is_err(),
        "the embedded broker took a 4 MiB status from an anonymous client"
    );
    let url = admin
        .create_panel_with_controller(
            &s,
            json!({"id": "x1", "name": "Cổng", "width": 64, "height": 16, "format": "mono1"}),
        )
        .await;
    let own = try_publish(&url, "x1", topic, true, big).await;
    assert!(
        own.is_err(),
        "the embedded broker took a 4 MiB status from x1's controller"
    );
    assert_link_steady(&s, &admin, "x1's controller sent a 4 MiB status").await;
    shows_and_acks(&admin, &url, "x1").await;
}

/// The same oversized status on a loosely configured Mosquitto (anonymous
/// clients, 8 MiB packets), which delivers it to the server: the server
/// drops it, keeps its link, says so in its log and in
/// `bangtin_mqtt_dropped_messages_total`, and acks keep counting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_status_from_a_loose_mosquitto_is_dropped_and_said() {
    let broker = MosquittoProcess::start("");
    let s = Server::start_with(ServerOpts {
        mqtt: Some(broker.url()),
        ..Default::default()
    });
    let admin = Api::new(&s, Some(ADMIN_TOKEN));
    let topic = "bangtin/panels/x1/status";
    try_publish(
        &broker.url(),
        "attacker",
        topic,
        true,
        vec![b' '; OVER_4_MIB],
    )
    .await
    .expect("this Mosquitto takes 4 MiB messages");
    assert_link_steady(&s, &admin, "a 4 MiB retained status on Mosquitto").await;
    let said = eventually(Duration::from_secs(5), || async {
        s.log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("dropped") && l.contains(topic))
            .then_some(())
    })
    .await;
    assert!(said.is_some(), "no log line names the dropped message");
    let dropped = metric(&s, "bangtin_mqtt_dropped_messages_total").await;
    assert!(dropped >= 1.0, "dropped messages counted: {dropped}");
    let url = admin
        .create_panel_with_controller(
            &s,
            json!({"id": "x1", "name": "Cổng", "width": 64, "height": 16, "format": "mono1"}),
        )
        .await;
    shows_and_acks(&admin, &url, "x1").await;
}

/// Reads what the broker at `port` answers to `bytes`, until it closes or
/// is silent for 3 s.
fn raw_mqtt(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// With the default embedded broker an anonymous client gets nothing: its
/// CONNECT is refused with return code 5 (as Mosquitto answers), and what
/// it sends after it in the same write (a subscription to everything, a
/// frame, an ack, a status) goes nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_clients_get_nothing_from_the_embedded_broker() {
    use bytes::BytesMut;
    use rumqttc::{Connect, Publish, QoS, Subscribe};

    let s = Server::start();
    let admin = Api::new(&s, Some(ADMIN_TOKEN));
    admin
        .create_panel(
            json!({"id": "a1", "name": "Chợ", "width": 64, "height": 16, "format": "mono1"}),
        )
        .await;
    let seq = eventually(Duration::from_secs(5), || async {
        let (_, now) = admin.get("/panels/a1/now").await;
        now["seq"].as_u64().filter(|s| *s > 0)
    })
    .await
    .expect("a1's first frame");
    let topic = "bangtin/panels/a1/frame";
    let forged = bangtin::frame::encode(
        &bangtin::frame::Header {
            format: bangtin::domain::PixelFormat::Mono1,
            brightness: 255,
            width: 64,
            height: 16,
            flags: bangtin::frame::FLAG_EMERGENCY,
            seq: u32::MAX - 1,
            valid_until: 0,
        },
        &[0xff; 8 * 16],
    );
    let mut out = BytesMut::new();
    Connect::new("a1").write(&mut out).unwrap();
    let mut sub = Subscribe::new("bangtin/#", QoS::AtLeastOnce);
    sub.pkid = 1;
    sub.write(&mut out).unwrap();
    let reports = [
        (topic, true, forged),
        (
            "bangtin/panels/a1/ack",
            false,
            format!(r#"{{"seq":{seq}}}"#).into_bytes(),
        ),
        (
            "bangtin/panels/a1/status",
            true,
            br#"{"online":true,"firmware":"evil"}"#.to_vec(),
        ),
    ];
    for (i, (t, retain, payload)) in reports.into_iter().enumerate() {
        let mut p = Publish::new(t, QoS::AtLeastOnce, payload);
        p.retain = retain;
        p.pkid = 2 + i as u16;
        p.write(&mut out).unwrap();
    }
    let port = s.broker_port;
    let reply = tokio::task::spawn_blocking(move || raw_mqtt(port, &out))
        .await
        .unwrap();
    assert_eq!(
        reply,
        [0x20, 0x02, 0x00, 0x05],
        "an anonymous CONNECT must be refused (return code 5) with nothing after it; got {reply:02x?}"
    );
    let mut watch = TestClient::connect(&s.broker_url(), "watch-a1", &[topic]).await;
    let retained = watch.next_on(topic).await;
    let f = bangtin::frame::decode(&retained.payload).expect("a frame");
    assert_ne!(f.header.seq, u32::MAX - 1, "the forged frame is retained");
    let (_, rows) = admin.get(&plays_query("a1")).await;
    assert_eq!(rows, json!([]), "an anonymous ack became proof of play");
    let (_, panel) = admin.get("/panels/a1").await;
    assert_eq!(panel["online"], false, "{panel}");
    assert!(panel["firmware"].is_null(), "{panel}");
}

/// Each controller has its own credential (`POST /panels/{id}/credential`,
/// admins only, shown once). With panel a's, a controller shows a's frames
/// and its acks count; it cannot read b's frame (SUBACK 0x80), publish a
/// frame, report for b, or connect as b; a rotated credential shuts the
/// old one out, also from a connection that is open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_credential_reaches_only_its_own_panel() {
    use rumqttc::SubscribeReasonCode;

    let s = Server::start();
    let admin = Api::new(&s, Some(ADMIN_TOKEN));
    let a_url = admin
        .create_panel_with_controller(
            &s,
            json!({"id": "a", "name": "A", "width": 64, "height": 16, "format": "mono1"}),
        )
        .await;
    admin
        .create_panel(json!({"id": "b", "name": "B", "width": 64, "height": 16, "format": "mono1"}))
        .await;
    let editor = admin.with_roles("lan", &["editor"]).await;
    let (st, v) = editor.post("/panels/b/credential", json!({})).await;
    assert_eq!(st, 403, "only admins issue controller credentials: {v}");
    let (st, v) = admin.post("/panels/nope/credential", json!({})).await;
    assert_eq!(st, 404, "{v}");
    shows_and_acks(&admin, &a_url, "a").await;

    // A controller of a's, as "a", reaching for b.
    let mut spy = TestClient::connect(
        &a_url,
        "a",
        &[
            "bangtin/panels/b/frame",
            "bangtin/#",
            "bangtin/panels/a/frame",
        ],
    )
    .await;
    assert_eq!(
        spy.suback,
        [
            SubscribeReasonCode::Failure,
            SubscribeReasonCode::Failure,
            SubscribeReasonCode::Success(rumqttc::QoS::AtLeastOnce)
        ]
    );
    assert_eq!(spy.next().await.topic, "bangtin/panels/a/frame");
    let (_, b_now) = admin.get("/panels/b/now").await;
    let b_seq = b_now["seq"].as_u64().unwrap();
    spy.publish("bangtin/panels/a/frame", true, "forged").await;
    spy.publish("bangtin/panels/b/frame", true, "forged").await;
    spy.publish(
        "bangtin/panels/b/ack",
        false,
        format!(r#"{{"seq":{b_seq}}}"#),
    )
    .await;
    spy.publish(
        "bangtin/panels/b/status",
        true,
        r#"{"online":true,"firmware":"spy"}"#,
    )
    .await;
    // Its own status still goes through: the barrier for what it sent before.
    spy.publish(
        "bangtin/panels/a/status",
        true,
        r#"{"online":true,"firmware":"spy-a"}"#,
    )
    .await;
    let own = eventually(Duration::from_secs(5), || async {
        let (_, p) = admin.get("/panels/a").await;
        (p["firmware"] == "spy-a").then_some(())
    })
    .await;
    assert!(own.is_some(), "a's own status did not arrive");
    let (_, rows) = admin.get(&plays_query("b")).await;
    assert_eq!(rows, json!([]), "a's controller made proof of play for b");
    let (_, b) = admin.get("/panels/b").await;
    assert_eq!(b["online"], false, "a's controller reported for b: {b}");
    let mut watch = TestClient::connect(
        &s.broker_url(),
        "watch",
        &["bangtin/panels/a/frame", "bangtin/panels/b/frame"],
    )
    .await;
    for _ in 0..2 {
        let p = watch.next().await;
        assert!(
            bangtin::frame::decode(&p.payload).is_ok(),
            "a forged frame is retained on {}",
            p.topic
        );
    }

    // Not as b, not with a wrong password.
    let b_as_a = a_url.replace("mqtt://a:", "mqtt://b:");
    assert!(
        try_publish(&a_url, "b", "bangtin/panels/b/ack", false, b"{}".to_vec())
            .await
            .is_err()
    );
    assert!(
        try_publish(&b_as_a, "b", "bangtin/panels/b/ack", false, b"{}".to_vec())
            .await
            .is_err()
    );

    // Rotation: the open connection with the old password is closed, a new
    // one is refused, the new password works.
    let old = controller(&a_url, "a");
    let deadline = Instant::now() + Duration::from_secs(10);
    while old.connected() == 0 {
        assert!(Instant::now() < deadline, "a's controller did not connect");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let new_url = admin.controller_url(&s, "a").await;
    assert_ne!(new_url, a_url);
    let deadline = Instant::now() + Duration::from_secs(20);
    while old.connected() > 0 {
        assert!(
            Instant::now() < deadline,
            "a connection with a rotated credential stays open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    old.shutdown().await;
    assert!(
        try_publish(&a_url, "a", "bangtin/panels/a/ack", false, b"{}".to_vec())
            .await
            .is_err()
    );
    shows_and_acks(&admin, &new_url, "a").await;
}

/// The reference controller's `--state` floor moves only on a verified
/// frame. `--state` without the server's public key is refused (anyone who
/// can publish on the frame topic could otherwise raise the floor for
/// good); with the key, fetched from `GET /keys/frames` (the server signs
/// by default), an unsigned frame with seq u32::MAX left retained on a
/// loose broker changes nothing, and after a restart genuine frames are
/// shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_top_seq_frame_cannot_lock_out_a_controller_with_state() {
    use bangtin::frame::{self, FLAG_SIGNED};
    use bangtin::mqtt::controller::{spawn_fleet, ControllerArgs};

    let broker = MosquittoProcess::start("");
    let s = Server::start_with(ServerOpts {
        mqtt: Some(broker.url()),
        ..Default::default()
    });
    let admin = Api::new(&s, Some(ADMIN_TOKEN));
    let url = admin
        .create_panel_with_controller(
            &s,
            json!({"id": "f1", "name": "Floor", "width": 64, "height": 16, "format": "mono1"}),
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut args = ControllerArgs::new("f1".parse().unwrap(), url.parse().unwrap());
    args.state = Some(dir.path().join("state"));
    let refused = spawn_fleet(&args)
        .err()
        .expect("--state without --public-key must be refused");
    assert!(refused.to_string().contains("--public-key"), "{refused}");

    let (st, key) = admin.get("/keys/frames").await;
    assert_eq!(st, 200, "{key}");
    let printed = succeeded(
        std::process::Command::new(env!("CARGO_BIN_EXE_bangtin"))
            .args(["keys", "public", "--data"])
            .arg(&s.data)
            .output()
            .unwrap(),
    );
    assert_eq!(
        String::from_utf8(printed.stdout).unwrap().trim(),
        key["public_key"],
        "`bangtin keys public` prints the key the API publishes"
    );
    let key_file = dir.path().join("server.pub");
    std::fs::write(&key_file, key["public_key"].as_str().expect("hex key")).unwrap();
    args.public_key = Some(key_file);
    keep_logs();
    let mut c = spawn_fleet(&args).unwrap();
    let first = next_shown(&mut c).await;
    assert_ne!(first.flags & FLAG_SIGNED, 0, "frames are signed by default");
    let floor = dir.path().join("state/f1.seq");
    assert_eq!(
        std::fs::read_to_string(&floor).unwrap(),
        first.seq.to_string()
    );

    let forged = frame::encode(
        &frame::Header {
            format: bangtin::domain::PixelFormat::Mono1,
            brightness: 255,
            width: 64,
            height: 16,
            flags: 0,
            seq: u32::MAX,
            valid_until: 0,
        },
        &[0xff; 8 * 16],
    );
    publish_as_attacker(&broker.url(), "bangtin/panels/f1/frame", true, vec![forged]).await;
    assert!(
        logged(
            Duration::from_secs(5),
            &["without a valid signature", "panel=f1", "seq=4294967295"]
        )
        .await,
        "the unsigned frame was not refused"
    );
    assert_eq!(
        std::fs::read_to_string(&floor).unwrap(),
        first.seq.to_string(),
        "an unsigned frame moved the floor"
    );
    c.shutdown().await;

    let mut c = spawn_fleet(&args).unwrap();
    let alert = admin
        .send_alert(json!({"text": "LŨ", "targets": ["f1"], "duration_s": 600}))
        .await;
    let shown = next_shown(&mut c).await;
    assert!(
        shown.seq > first.seq && shown.seq < u32::MAX,
        "after a restart the controller showed seq {} (genuine frames are above {})",
        shown.seq,
        first.seq
    );
    admin.cancel_alert(&alert).await;
    c.shutdown().await;
}

// ---- revocation, audit, memory, slowloris ------------------------------

/// Revoking a token ends its open event streams at once (over a real
/// connection; the token file's hand edit is covered in-process by
/// `api::tests::hardening::revoking_a_token_ends_its_event_streams`).
/// Before, a revoked token's stream kept delivering (25 s and counting
/// in the probe).
#[tokio::test]
async fn revoked_tokens_lose_their_event_streams_at_once() {
    let s = Server::start_with(ServerOpts {
        sample_data: true,
        ..Default::default()
    });
    let admin = Api::new(&s, Some(ADMIN_TOKEN));
    let user = admin.with_roles("lan", &["editor"]).await;
    let mut stream = user
        .req(reqwest::Method::GET, "/events")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.chunk().await.unwrap().is_some(),
        "the stream is open"
    );
    assert_eq!(admin.delete("/tokens/lan").await.0, 204);
    let ended = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(
        ended.is_ok(),
        "the event stream is still open 2 s after its token was revoked"
    );
    assert_eq!(user.get("/me").await.0, 401);
}

/// With `state/` read-only the audit trail cannot be written: a change is
/// then refused (503 read_only, a sentence) and not applied. Before, the
/// change was applied and acknowledged (201) and its audit line went only
/// to the server's log; a controller's credential was issued (200) and a
/// bulk import applied before their lines were written. Needs `mount`
/// (tests run as root).
#[tokio::test]
async fn no_change_is_acknowledged_without_its_audit_line() {
    let s = Server::start();
    let admin = Api::new(&s, Some(ADMIN_TOKEN));
    admin
        .create_panel(
            json!({"id": "p1", "name": "Cổng", "width": 64, "height": 16, "format": "mono1"}),
        )
        .await;
    let lan = admin.with_roles("lan", &["editor"]).await;
    let Some(ro) = super::faults::Mount::read_only(&s.data.join("state")) else {
        eprintln!("SKIPPED: cannot mount here (not root?); store::tests::no_change_without_its_audit_line covers the rule");
        return;
    };
    let (st, v) = admin
        .post("/messages", json!({"title": "Không ghi được", "text": "x"}))
        .await;
    assert_eq!((st, v["error"].as_str()), (503, Some("read_only")), "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("nothing was saved"),
        "{v}"
    );
    assert_eq!(admin.delete("/panels/p1").await.0, 503);
    assert_eq!(admin.delete("/tokens/lan").await.0, 503);
    let (st, v) = admin.post("/panels/p1/credential", json!(null)).await;
    assert_eq!((st, v["error"].as_str()), (503, Some("read_only")), "{v}");
    let (st, v) = admin
        .post(
            "/panels:import",
            json!([{"id": "p2", "name": "Chợ", "width": 64, "height": 16, "format": "mono1"}]),
        )
        .await;
    assert_eq!((st, v["error"].as_str()), (503, Some("read_only")), "{v}");
    assert!(
        !s.data.join("content/panels/p2.json").exists(),
        "not half-applied"
    );
    assert_eq!(lan.get("/me").await.0, 200, "the token was not revoked");
    assert_eq!(admin.get("/messages").await.1, json!([]));
    assert_eq!(admin.get("/panels").await.1.as_array().unwrap().len(), 1);
    assert!(walk(&s.data.join("content/messages")).is_empty());
    drop(ro);
    let (st, v) = admin
        .post("/messages", json!({"title": "Ghi được", "text": "x"}))
        .await;
    assert_eq!(st, 201, "{v}");
    let (_, audit) = admin.get("/audit?limit=1").await;
    assert_eq!(audit[0]["id"], v["id"], "{audit}");
}

/// A PNG of `w`×`h` zero pixels, 16 bits a channel (RGBA or RGB), written
/// without ever holding its pixels: one fixed-Huffman deflate block of
/// 258-byte runs (about 1/160 of the pixel bytes).
fn zero_png16(w: u32, h: u32, alpha: bool) -> Vec<u8> {
    #[derive(Default)]
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        /// `len` bits of `v`, least significant first (deflate's order).
        fn put(&mut self, v: u64, len: u32) {
            self.acc |= v << self.n;
            self.n += len;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, c: u64, len: u32) {
            for i in (0..len).rev() {
                self.put((c >> i) & 1, 1);
            }
        }
    }
    let channels = if alpha { 4 } else { 3 };
    let raw = u64::from(h) * (1 + u64::from(w) * channels * 2);
    let mut b = Bits::default();
    b.put(1, 1); // the last block
    b.put(1, 2); // fixed Huffman codes
    b.code(0x30, 8); // literal 0
    let mut left = raw - 1;
    while left >= 258 {
        b.code(0xC5, 8); // length 258
        b.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        b.code(0x30, 8);
    }
    b.code(0, 7); // end of block
    if b.n > 0 {
        b.out.push(b.acc as u8);
    }
    let mut z = vec![0x78, 0x01];
    z.extend(b.out);
    // Adler-32 of `raw` zero bytes: a stays 1, b counts the bytes.
    z.extend((((raw % 65521) << 16) as u32 | 1).to_be_bytes());
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend(kind);
        c.extend(data);
        c.extend(crc32fast::hash(&c[4..]).to_be_bytes());
        c
    };
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([16, if alpha { 6 } else { 2 }, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(b"IDAT", &z));
    png.extend(chunk(b"IEND", &[]));
    png
}

/// Sends `n` copies of a request at once; the statuses and the 503s'
/// bodies and Retry-After headers.
async fn at_once(n: usize, make: impl Fn() -> reqwest::RequestBuilder) -> Vec<(u16, Value, bool)> {
    let replies = futures_util::future::join_all((0..n).map(|_| async {
        let r = make().send().await.expect("a reply");
        let retry = r.headers().contains_key("retry-after");
        let st = r.status().as_u16();
        let body = r.bytes().await.unwrap_or_default();
        (
            st,
            serde_json::from_slice(&body).unwrap_or(Value::Null),
            retry,
        )
    }));
    replies.await
}

/// Publishes an ack for each of `n` made-up panel ids (QoS 1, all
/// acknowledged by the broker).
async fn flood_unknown_acks(url: &str, n: usize) {
    use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS};
    let u: bangtin::mqtt::BrokerUrl = url.parse().unwrap();
    let (client, mut el) = AsyncClient::new(MqttOptions::new("flood", &u.host, u.port), 1000);
    let acked = tokio::spawn(async move {
        let mut acked = 0;
        while acked < n {
            match tokio::time::timeout(Duration::from_secs(10), el.poll()).await {
                Ok(Ok(Event::Incoming(Incoming::PubAck(_)))) => acked += 1,
                Ok(Ok(_)) => {}
                other => panic!("flood publish failed after {acked}: {other:?}"),
            }
        }
    });
    for i in 0..n {
        client
            .publish(
                format!("bangtin/panels/made-up-{i}/ack"),
                QoS::AtLeastOnce,
                false,
                br#"{"seq":1}"#.to_vec(),
            )
            .await
            .unwrap();
    }
    acked.await.unwrap();
}

/// The probes that grew the server without a ceiling, scaled to a test,
/// against the default memory budget (512 MiB): its resident memory never
/// passes the budget, previews on made-up profiles are not kept, images
/// too large to decode within the budget are refused before decoding,
/// work beyond the budget waits briefly then gets 503 busy with a
/// sentence, and acks for made-up panel ids are counted and dropped.
/// Before: +2.2 GB for 10 previews, 8.4 GB peak for 24 uploads, 2.8 GB
/// for 16 previews, 77 → 481 MB for 1.4 million made-up ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_within_the_budget_under_the_probes() {
    const BUDGET_MIB: f64 = 512.0;
    // An external broker, so the server's memory is the server's alone
    // (the embedded broker keeps something per topic: see RELIABILITY.md).
    // Unlimited queues: every ack reaches the server, however fast.
    let broker =
        super::util::MosquittoProcess::start("max_queued_messages 0\nmax_inflight_messages 0");
    let s = Server::start_with(ServerOpts {
        mqtt: Some(broker.url()),
        ..Default::default()
    });
    let admin = Api::new(&s, Some(ADMIN_TOKEN));
    let (start, _) = s.rss_mib();

    // 1. Previews of one message on made-up profiles (sizes and colours
    // in the query): each was a new entry in the render cache, for ever.
    let id = admin
        .create_message(json!({"title": "Nhiều dòng", "text": "Đường\n".repeat(400)}))
        .await;
    for i in 0..10 {
        let r = admin
            .req(
                reqwest::Method::GET,
                &format!(
                    "/messages/{id}/preview.png?width={}&height={}&format=rgb888&color=%23{:06x}",
                    1024 - 48 * i,
                    16 + 2 * i,
                    0x10_0000 * i + 0xff
                ),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "preview {i}");
    }
    let (after, peak) = s.rss_mib();
    eprintln!("previews: RSS {start:.0} → {after:.0} MiB, peak {peak:.0}");
    assert!(
        after - start < 150.0,
        "10 previews kept {:.0} MiB",
        after - start
    );

    // 2. Uploads at once of an image too large to decode within the
    // budget (8192×4096, 16-bit RGBA: 436 MiB to decode and prepare):
    // refused from its header, nothing decoded.
    let huge = zero_png16(8192, 4096, true);
    assert!(huge.len() < 3 << 20, "{} bytes", huge.len());
    for (st, v, _) in at_once(24, || {
        admin
            .req(reqwest::Method::POST, "/assets")
            .header("content-type", "image/png")
            .body(huge.clone())
    })
    .await
    {
        assert_eq!(
            (st, v["error"].as_str()),
            (422, Some("image_too_large")),
            "{v}"
        );
        assert!(
            v["message"].as_str().unwrap().contains("--memory-budget"),
            "{v}"
        );
    }
    // … and of one that fits alone (4096×4096, 16-bit RGB: 234 MiB):
    // one at a time; who cannot get room within 2 s gets 503 busy.
    let big = zero_png16(4096, 4096, false);
    let replies = at_once(16, || {
        admin
            .req(reqwest::Method::POST, "/assets")
            .header("content-type", "image/png")
            .body(big.clone())
    })
    .await;
    let count = |code| replies.iter().filter(|r| r.0 == code).count();
    eprintln!(
        "16 uploads at once: {} × 201, {} × 503",
        count(201),
        count(503)
    );
    assert_eq!(count(201) + count(503), 16, "{replies:?}");
    assert!(count(201) >= 1 && count(503) >= 1, "{replies:?}");
    for (st, v, retry) in &replies {
        if *st == 503 {
            assert_eq!(v["error"], "busy", "{v}");
            assert!(v["message"].as_str().unwrap().contains("Try again"), "{v}");
            assert!(retry, "503 busy says when to retry");
        }
    }
    let (_, peak) = s.rss_mib();
    eprintln!("uploads: peak {peak:.0} MiB");
    assert!(peak < BUDGET_MIB, "peak {peak:.0} MiB during uploads");

    // 3. 16 previews of an unsaved body at once.
    let body = json!({"title": "x", "text": "Đường\n".repeat(400)});
    let replies = at_once(16, || {
        admin
            .req(
                reqwest::Method::POST,
                "/preview?width=1024&height=16&format=rgb888",
            )
            .json(&body)
    })
    .await;
    assert!(
        replies
            .iter()
            .all(|r| r.0 == 200 || (r.0 == 503 && r.1["error"] == "busy")),
        "{replies:?}"
    );
    let (_, peak) = s.rss_mib();
    eprintln!(
        "16 previews at once: {} × 200; peak {peak:.0} MiB",
        replies.iter().filter(|r| r.0 == 200).count()
    );
    assert!(peak < BUDGET_MIB, "peak {peak:.0} MiB during previews");

    // 4. Acks for made-up panel ids: counted, dropped, nothing kept.
    let (before, _) = s.rss_mib();
    // Half a million ids: about 140 MiB kept before (the probe's 1.4
    // million grew the server by 400 MiB). A flood may lose a few on the
    // way (the link drops what its inbound queue has no room for): 99% must
    // be counted.
    let n = 500_000;
    flood_unknown_acks(&s.broker_url(), n).await;
    let unknown = "bangtin_unknown_panel_messages_total";
    let counted = super::util::eventually(Duration::from_secs(60), || async {
        let v = metric(&s, unknown).await;
        (v >= n as f64 * 0.99).then_some(v)
    })
    .await;
    assert!(
        counted.is_some(),
        "acks for made-up ids are counted: {}",
        metric(&s, unknown).await
    );
    let (after, peak) = s.rss_mib();
    eprintln!("{n} made-up ids: RSS {before:.0} → {after:.0} MiB");
    assert!(
        after - before < 20.0,
        "{n} made-up ids kept {:.0} MiB",
        after - before
    );
    assert!(peak < BUDGET_MIB, "peak {peak:.0} MiB");
}

/// Slowloris: half-sent request heads from one address (1,000) and from
/// another (300). Each address holds at most 256 connections (the default
/// cap; loopback is not exempt); the rest are answered 503 and closed at
/// once. The held ones are closed once their head has not arrived within
/// the header timeout (6 s here: long enough that a loaded machine opens
/// all 1,300 before the first times out). Meanwhile `/healthz` and the
/// dashboard answer at once from a third address. Before, nothing was
/// capped or timed out: 19,990 half-sent requests used up the file
/// descriptors and `/healthz` stopped answering. With the caps and the
/// timeout lifted to the old behaviour (`--max-connections 1000000
/// --max-connections-per-ip 1000000 --header-timeout-s 3600`) this test
/// fails where it should: 0 of the 744 over the cap are closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_capped_and_timed_out_while_healthz_answers() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = Server::start_with(ServerOpts {
        extra_args: vec!["--header-timeout-s".into(), "6".into()],
        ..Default::default()
    });
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", s.http_port).parse().unwrap();
    let connect = |from: &str| {
        let from: std::net::IpAddr = from.parse().unwrap();
        async move {
            let sock = tokio::net::TcpSocket::new_v4().unwrap();
            sock.bind((from, 0).into()).unwrap();
            sock.connect(addr).await.unwrap()
        }
    };
    let mut watchers = Vec::new();
    let connecting = Instant::now();
    for (from, n) in [("127.0.0.1", 1000), ("127.0.0.2", 300)] {
        for _ in 0..n {
            let mut c = connect(from).await;
            let opened = Instant::now();
            let _ = c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
            // How long until the server closes it, and whether it said 503.
            watchers.push(tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 512];
                let deadline = Duration::from_secs(25);
                loop {
                    match tokio::time::timeout(deadline, c.read(&mut buf)).await {
                        Ok(Ok(0)) | Ok(Err(_)) => break,
                        Ok(Ok(k)) => got.extend_from_slice(&buf[..k]),
                        Err(_) => break,
                    }
                }
                (from, opened.elapsed(), got.starts_with(b"HTTP/1.1 503"))
            }));
        }
    }
    assert!(
        connecting.elapsed() < Duration::from_secs(5),
        "opening the connections took {:?}: the first would time out before the last",
        connecting.elapsed()
    );
    // The server answers others at once meanwhile.
    for path in ["/healthz", "/"] {
        let took = answers_200(addr, path).await;
        assert!(took < Duration::from_secs(1), "{path} took {took:?}");
    }
    let mut ends = Vec::new();
    for w in watchers {
        ends.push(w.await.unwrap());
    }
    for (from, n) in [("127.0.0.1", 1000), ("127.0.0.2", 300)] {
        let mine: Vec<_> = ends.iter().filter(|e| e.0 == from).collect();
        let at_once: Vec<_> = mine
            .iter()
            .filter(|e| e.1 < Duration::from_secs(3))
            .collect();
        let timed_out = mine
            .iter()
            .filter(|e| e.1 >= Duration::from_secs(5) && e.1 < Duration::from_secs(20))
            .count();
        eprintln!(
            "{from}: {} closed at once ({} said 503), {timed_out} after the header timeout",
            at_once.len(),
            at_once.iter().filter(|e| e.2).count()
        );
        assert_eq!(
            at_once.len(),
            n - 256,
            "{from}: over the cap of 256, closed at once"
        );
        assert_eq!(
            timed_out, 256,
            "{from}: the 256 held are closed after the 6 s header timeout"
        );
    }
    assert_eq!(reqwest::get(s.url("/healthz")).await.unwrap().status(), 200);
}

/// `GET path` from 127.0.0.3 on a connection of its own is answered 200
/// within 5 s, connecting included (under a flood the listen queue can be
/// full, and the kernel retries a SYN after 1 s, then 2 s); how long it
/// took.
async fn answers_200(addr: std::net::SocketAddr, path: &str) -> Duration {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let started = Instant::now();
    let ask = async {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(([127, 0, 0, 3], 0).into()).unwrap();
        let mut c = sock.connect(addr).await.expect("connect from 127.0.0.3");
        let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        c.write_all(head.as_bytes()).await.unwrap();
        let mut reply = Vec::new();
        c.read_to_end(&mut reply)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        reply
    };
    let reply = tokio::time::timeout(Duration::from_secs(5), ask)
        .await
        .unwrap_or_else(|_| panic!("{path} answered within 5 s"));
    assert!(
        reply.starts_with(b"HTTP/1.1 200"),
        "{path}: {}",
        String::from_utf8_lossy(&reply[..reply.len().min(300)])
    );
    started.elapsed()
}

/// A value from `/metrics`.
async fn metric(s: &Server, name: &str) -> f64 {
    metric_in(&s.metrics().await, name)
}

/// `/metrics`, or the error of a request the server closed.
async fn try_metrics(s: &Server) -> Result<String, reqwest::Error> {
    reqwest::get(s.url("/metrics")).await?.text().await
}

/// The value of `name` in the Prometheus text `text`.
fn metric_in(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} in /metrics"))
        .parse()
        .unwrap()
}

/// A slowloris from many addresses: 20,000 half-sent request heads from
/// 100 addresses (at most 80 open from each, under the per-address cap),
/// up to 8,000 open at once on this side (the test process has 20,000 file
/// descriptors for everything it runs), each reopened as the server
/// closes it, with the server's defaults (4,096 connections overall, 10 s
/// header timeout). Meanwhile `/healthz` and the dashboard are asked
/// again and again from another address: every answer is 200 within 5 s
/// (measured: slowest 1.0 s alone, 3.1 s beside another test).
/// Before, the overall cap filled with half-sent heads and every newcomer,
/// `/healthz` included, got 503 until those timed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_from_many_addresses_cannot_lock_out_healthz() {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const TOTAL: usize = 20_000;
    const ADDRESSES: usize = 100;
    const AT_ONCE: usize = 8_000;
    let s = Server::start();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", s.http_port).parse().unwrap();
    let connect = move |from: std::net::IpAddr| async move {
        let sock = tokio::net::TcpSocket::new_v4().ok()?;
        sock.bind((from, 0).into()).ok()?;
        sock.connect(addr).await.ok()
    };
    let room = Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
    let flood = tokio::spawn(async move {
        let mut held = tokio::task::JoinSet::new();
        for i in 0..TOTAL {
            let permit = room.clone().acquire_owned().await.unwrap();
            let from = std::net::IpAddr::from([127, 0, 1, 1 + (i % ADDRESSES) as u8]);
            held.spawn(async move {
                let _permit = permit;
                let Some(mut c) = connect(from).await else {
                    return false;
                };
                let _ = c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
                // Held until the server closes it.
                let mut buf = [0u8; 512];
                while let Ok(Ok(k)) =
                    tokio::time::timeout(Duration::from_secs(30), c.read(&mut buf)).await
                {
                    if k == 0 {
                        break;
                    }
                }
                true
            });
        }
        let mut sent = 0;
        while let Some(r) = held.join_next().await {
            sent += usize::from(r.unwrap());
        }
        sent
    });
    let mut probes = 0;
    let mut slowest = Duration::ZERO;
    let mut most_open = 0.0f64;
    while !flood.is_finished() {
        for path in ["/healthz", "/"] {
            slowest = slowest.max(answers_200(addr, path).await);
            probes += 1;
        }
        // A measurement, not what is asserted: at the cap each newcomer
        // closes the connection that has waited longest for its first
        // request head, and on a starved machine that can be this read's
        // before the server has read its head (a fresh-clone run failed
        // on it once: IncompleteMessage). Such a read is skipped; the
        // probes above are never retried.
        if let Ok(text) = try_metrics(&s).await {
            most_open = most_open.max(metric_in(&text, "bangtin_http_connections"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = flood.await.unwrap();
    let evicted = metric(&s, "bangtin_http_connections_evicted_total").await;
    eprintln!(
        "{sent} half-sent requests; {probes} probes, slowest {slowest:?}; \
         at most {most_open} connections open; {evicted} closed to make room"
    );
    assert!(sent >= TOTAL * 99 / 100, "only {sent} of {TOTAL} connected");
    assert!(probes >= 4, "the probes ran during the flood");
    assert!(
        most_open >= 4000.0,
        "the overall cap was reached (at most {most_open} open)"
    );
    assert!(
        evicted >= (TOTAL - 4096) as f64 * 0.9,
        "the half-sent made room for the rest: {evicted} closed"
    );
}

/// Headers, validation and hand edits, over real HTTP:
/// - every reply (dashboard, API, errors, unauthenticated) carries a
///   Content-Security-Policy with `frame-ancestors 'none'`, `nosniff`,
///   `X-Frame-Options: DENY` and a Referrer-Policy;
/// - images and previews behind a token are never `public,
///   max-age=31536000` (a shared cache would hand them to anyone);
/// - 10,000 copies of one target and `day_starts == night_starts` are
///   refused with a sentence; so are a cron that never fires and dates
///   outside 2000–2100, and the timeline's instants are RFC 3339;
/// - a message file broken by hand is reported (file, line, column), keeps
///   its last good version and is not overwritten by the next PUT;
/// - a panel file broken by hand does not stop the start.
///
/// Before: no security header, assets `public, max-age=31536000`, the
/// targets and switch times accepted (201), the broken message file
/// silently replaced by the next PUT, and a broken panel file stopped the
/// start.
#[tokio::test]
async fn headers_validation_and_hand_edits() {
    let mut s = Server::start();
    let admin = Api::new(&s, Some(ADMIN_TOKEN));
    admin
        .create_panel(
            json!({"id": "p1", "name": "Cổng", "width": 64, "height": 16, "format": "mono1"}),
        )
        .await;
    let asset = {
        let png = bangtin::render::png_bytes(&image::RgbImage::new(32, 16));
        let r = admin
            .req(reqwest::Method::POST, "/assets")
            .header("content-type", "image/png")
            .body(png)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mid = admin
        .create_message(json!({"title": "Chào", "text": "Xin chào"}))
        .await;

    // Headers on every reply.
    let anon = reqwest::Client::new();
    let mut replies = Vec::new();
    for path in ["/", "/app.js", "/healthz", "/metrics", "/nothing-here"] {
        replies.push((
            path.to_string(),
            anon.get(s.url(path)).send().await.unwrap(),
        ));
    }
    for path in ["/api/v1/panels", "/api/v1/nope"] {
        replies.push((
            format!("anonymous {path}"),
            anon.get(s.url(path)).send().await.unwrap(),
        ));
    }
    for path in [
        "/panels".to_string(),
        format!("/assets/{asset}"),
        format!("/messages/{mid}/preview.png?panel=p1"),
        format!("/messages/{mid}/preview.png?width=64&height=16&format=rgb565"),
    ] {
        let r = admin.req(reqwest::Method::GET, &path).send().await.unwrap();
        replies.push((path, r));
    }
    for (path, r) in &replies {
        let h = |name: &str| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        assert!(
            h("content-security-policy").contains("frame-ancestors 'none'"),
            "{path}: {:?}",
            r.headers()
        );
        assert_eq!(h("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(h("x-frame-options"), "DENY", "{path}");
        assert_eq!(h("referrer-policy"), "no-referrer", "{path}");
        if path.starts_with("/assets") || path.contains("preview") {
            let cc = h("cache-control");
            assert!(
                cc.contains("private") && !cc.contains("public") && !cc.contains("31536000"),
                "{path}: {cc}"
            );
        }
    }

    // Validation, each refusal with a sentence.
    let today = chrono::Utc::now().date_naive().to_string();
    let campaign = |targets: Value, start: &str, end: &str, cron: Option<&str>| {
        let mut c = json!({"name": "Chiến dịch", "messages": [{"id": mid}], "priority": 1,
                           "targets": targets, "start": start, "end": end});
        if let Some(cron) = cron {
            c["cron"] = json!(cron);
            c["duration_s"] = json!(60);
        }
        c
    };
    let refused = [
        (
            "10,000 copies of one target",
            campaign(json!(vec!["p1"; 10_000]), &today, &today, None),
            "/campaigns",
        ),
        (
            "a cron that never fires",
            campaign(json!(["p1"]), &today, &today, Some("0 0 31 2 *")),
            "/campaigns",
        ),
        (
            "a start in 1999",
            campaign(json!(["p1"]), "1999-12-31", &today, None),
            "/campaigns",
        ),
        (
            "an end in 2101",
            campaign(json!(["p1"]), &today, "2101-01-01", None),
            "/campaigns",
        ),
        (
            "day_starts == night_starts",
            json!({"id": "p2", "name": "Chợ", "width": 64, "height": 16, "format": "mono1",
                   "brightness": {"day": 200, "night": 40,
                                  "day_starts": "06:00", "night_starts": "06:00"}}),
            "/panels",
        ),
    ];
    for (what, body, path) in refused {
        let (st, v) = admin.post(path, body).await;
        assert!(st == 400 || st == 422, "{what}: {st} {v}");
        let sentence = v["message"].as_str().unwrap_or_default();
        assert!(sentence.len() > 20, "{what}: a sentence, not {v}");
    }
    assert_eq!(admin.get("/campaigns").await.1, json!([]), "none saved");
    let (st, slots) = admin
        .get("/panels/p1/timeline?from=2100-12-31T20:00:00Z&to=2101-01-01T04:00:00Z")
        .await;
    assert_eq!(st, 200, "{slots}");
    for slot in slots.as_array().unwrap() {
        for k in ["start", "end"] {
            let t = slot[k].as_str().unwrap_or_default();
            assert!(
                chrono::DateTime::parse_from_rfc3339(t).is_ok(),
                "timeline {k} is RFC 3339: {slot}"
            );
        }
    }

    // A message file broken by hand.
    let path = s.data.join(format!("content/messages/{mid}.json"));
    let broken = "{\n  \"id\": \"x\",\n  \"title\": \"Sửa tay\"\n  \"version\": 1\n}\n";
    std::fs::write(&path, broken).unwrap();
    let file = format!("content/messages/{mid}.json");
    let problem = || async {
        let (_, v) = admin.get("/status").await;
        v["problems"]
            .as_array()?
            .iter()
            .find(|p| p["file"] == file.as_str())
            .cloned()
    };
    let reported = super::util::eventually(Duration::from_secs(6), problem)
        .await
        .expect("the broken message file is reported in /status");
    assert_eq!(reported["line"], 4, "{reported}");
    assert_eq!(
        admin.get(&format!("/messages/{mid}")).await.1["title"],
        "Chào",
        "the last good version stays"
    );
    let (st, v) = admin
        .put(
            &format!("/messages/{mid}"),
            json!({"title": "Sửa qua API", "text": "Xin chào"}),
        )
        .await;
    assert_eq!(st, 409, "{v}");
    assert!(v["message"].as_str().unwrap().contains(&file), "{v}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        broken,
        "not overwritten"
    );

    // A panel file broken by hand: the server still starts and serves.
    std::fs::write(s.data.join("content/panels/p1.json"), "{ \"id\": ").unwrap();
    s.restart();
    let admin = Api::new(&s, Some(ADMIN_TOKEN));
    assert_eq!(reqwest::get(s.url("/healthz")).await.unwrap().status(), 200);
    let (_, status) = admin.get("/status").await;
    assert!(
        status["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["file"] == "content/panels/p1.json"),
        "{status}"
    );
}

/// A request body that stalls after its first bytes. Without a token it is
/// never waited for: 401 at once and the connection closed. With one it
/// must keep up 8 KiB/s on average after its first 15 s, or it gets 408
/// `too_slow` with a sentence and the connection is closed. Before: the
/// server waited for the rest of the body for ever.
#[tokio::test]
async fn a_stalled_request_body_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = Server::start();
    let addr = format!("127.0.0.1:{}", s.http_port);
    let stall = |token: Option<&'static str>| {
        let addr = addr.clone();
        async move {
            let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let auth = token
                .map(|t| format!("Authorization: Bearer {t}\r\n"))
                .unwrap_or_default();
            let head = format!(
                "POST /api/v1/messages HTTP/1.1\r\nHost: x\r\n{auth}Accept-Language: en\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{\"title\": "
            );
            c.write_all(head.as_bytes()).await.unwrap();
            let started = Instant::now();
            let mut reply = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(40), c.read_to_end(&mut reply));
            assert!(read.await.is_ok(), "the connection is closed within 40 s");
            (
                started.elapsed(),
                String::from_utf8_lossy(&reply).into_owned(),
            )
        }
    };
    let ((anon_took, anon), (took, authed)) = tokio::join!(stall(None), stall(Some(ADMIN_TOKEN)));
    assert!(anon.starts_with("HTTP/1.1 401"), "{anon}");
    assert!(
        anon_took < Duration::from_secs(2),
        "401 after {anon_took:?}"
    );
    assert!(authed.starts_with("HTTP/1.1 408"), "{authed}");
    assert!(
        authed.contains("too_slow") && authed.contains("too slowly"),
        "{authed}"
    );
    assert!(
        took >= Duration::from_secs(14) && took < Duration::from_secs(30),
        "408 after {took:?}"
    );
    assert_eq!(
        Api::new(&s, Some(ADMIN_TOKEN)).get("/messages").await.1,
        json!([])
    );
}
