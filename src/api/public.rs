//! What anyone may read without signing in, for the commune loudspeaker
//! systems, the provincial portal and other digital platforms:
//!
//! - `/public/alerts.atom` and `/public/alerts/{id}.xml`: bangtin's alerts
//!   (manual and from CAP) as CAP 1.2, listed in an ATOM feed;
//! - `/public/messages.atom`, `/public/messages.rss` and `/public/board`
//!   (`?district=GROUP`): the approved messages of the campaigns running
//!   today, as feeds and as an embeddable Vietnamese page with the alerts
//!   on top.
//!
//! Only what is already public on the signs is shown: approved messages of
//! campaigns in their dates, alerts of the last day.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use quick_xml::escape::escape;
use warp::http::{HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::Filter;

use super::req::bytes_reply;
use super::Ctx;
use crate::cap::out::{self, Publisher, Where};
use crate::domain::{Alert, Id, Message, Target};
use crate::store::Snapshot;

/// How long ended alerts stay in the feed.
const ALERTS_KEPT: i64 = 24;
/// How often the embeddable page reloads itself, seconds.
const BOARD_REFRESH_S: u32 = 60;

pub(super) fn routes(
    ctx: Arc<Ctx>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let base = warp::get()
        .and(warp::path("public"))
        .and(warp::header::headers_cloned())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify());
    let c = ctx.clone();
    let alerts_atom = base
        .and(warp::path("alerts.atom"))
        .and(warp::path::end())
        .map(move |h: HeaderMap, _q: String| alerts_feed(&c, &h));
    let c = ctx.clone();
    let alert_doc = base
        .and(warp::path("alerts"))
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .map(move |h: HeaderMap, _q: String, file: String| alert_doc(&c, &h, &file));
    let c = ctx.clone();
    let messages = base
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .and_then(move |h: HeaderMap, q: String, file: String| {
            let c = c.clone();
            async move {
                let district = super::req::parse_query(&q)
                    .remove("district")
                    .filter(|d| !d.is_empty());
                match file.as_str() {
                    "messages.atom" => Ok(messages_feed(&c, &h, district, Format::Atom)),
                    "messages.rss" => Ok(messages_feed(&c, &h, district, Format::Rss)),
                    "board" => Ok(board(&c, district)),
                    _ => Err(warp::reject::not_found()),
                }
            }
        });
    alerts_atom.or(alert_doc).unify().or(messages).unify()
}

/// This server's `/public` as its clients reach it.
fn base_url(h: &HeaderMap) -> String {
    let host = h
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let proto = match h.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) {
        Some("https") => "https",
        _ => "http",
    };
    format!("{proto}://{host}/public")
}

fn publisher<'a>(ctx: &Ctx, config: &'a crate::cap::CapConfig, base: &'a str) -> Publisher<'a> {
    Publisher {
        sender: &config.publish.sender,
        sender_name: &config.publish.sender_name,
        base,
        tz: ctx.tz,
    }
}

fn public(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        "cache-control",
        HeaderValue::from_static("public, max-age=30"),
    );
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    r
}

/// Alerts on now or ended within the last day, newest first.
fn recent_alerts(snap: &Snapshot, now: DateTime<Utc>) -> Vec<&Alert> {
    let since = now - Duration::hours(ALERTS_KEPT);
    let mut v: Vec<&Alert> = snap
        .alerts
        .values()
        .filter(|a| a.created_at <= now && a.cancelled_at.unwrap_or(a.ends_at) > since)
        .collect();
    v.sort_by_key(|a| std::cmp::Reverse(a.cancelled_at.unwrap_or(a.created_at)));
    v
}

fn alerts_feed(ctx: &Ctx, h: &HeaderMap) -> Response {
    let snap = ctx.store.snapshot();
    let config = ctx.feeds.config.current();
    let base = base_url(h);
    let now = Utc::now();
    let alerts = recent_alerts(&snap, now);
    let updated = alerts
        .iter()
        .map(|a| a.cancelled_at.unwrap_or(a.created_at))
        .max()
        .unwrap_or(now);
    let xml = out::alerts_atom(&alerts, &publisher(ctx, &config, &base), updated);
    public(bytes_reply(
        "application/atom+xml; charset=utf-8",
        xml.into_bytes(),
    ))
}

fn alert_doc(ctx: &Ctx, h: &HeaderMap, file: &str) -> Response {
    let snap = ctx.store.snapshot();
    let alert = file
        .strip_suffix(".xml")
        .and_then(|id| Id::parse(id).ok())
        .and_then(|id| snap.alerts.get(&id))
        .filter(|a| a.created_at <= Utc::now());
    let Some(a) = alert else {
        let mut r = bytes_reply(
            "text/plain; charset=utf-8",
            "Không có cảnh báo này.".as_bytes().to_vec(),
        );
        *r.status_mut() = StatusCode::NOT_FOUND;
        return r;
    };
    let config = ctx.feeds.config.current();
    let base = base_url(h);
    let warning = snap.cap.values().find(|w| w.alerts.contains(&a.id));
    let panels: Vec<_> = snap
        .panels
        .values()
        .filter(|p| a.body.targets.iter().any(|t| t.matches(p)))
        .collect();
    let mut units: BTreeSet<String> = panels
        .iter()
        .flat_map(|p| p.units.iter().filter(|u| u.len() >= 5).cloned())
        .collect();
    if units.is_empty() {
        units = panels
            .iter()
            .flat_map(|p| p.units.iter().cloned())
            .collect();
    }
    let desc = match warning.and_then(|w| w.info.as_ref()) {
        Some(i) if !i.area_desc().is_empty() => i.area_desc(),
        _ => describe_targets(&snap, &a.body.targets),
    };
    let at = Where {
        desc,
        units: units.into_iter().collect(),
        warning,
    };
    let xml = out::alert_document(a, &at, &publisher(ctx, &config, &base));
    public(bytes_reply(
        "application/cap+xml; charset=utf-8",
        xml.into_bytes(),
    ))
}

fn describe_targets(snap: &Snapshot, targets: &[Target]) -> String {
    targets
        .iter()
        .map(|t| match t {
            Target::All => "Toàn tỉnh".to_string(),
            Target::Group(g) => snap.group_name(g),
            Target::Panel(p) => snap.panel_name(p),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a target list reaches a panel of `district` (or anything, when
/// no district is asked for).
fn reaches(snap: &Snapshot, targets: &[Target], district: Option<&str>) -> bool {
    let Some(d) = district else { return true };
    targets.iter().any(|t| match t {
        Target::All => true,
        Target::Group(g) => g == d,
        Target::Panel(id) => snap
            .panels
            .get(id)
            .is_some_and(|p| p.groups.iter().any(|g| g == d)),
    })
}

/// Approved messages of the campaigns whose dates include today and that
/// reach `district`, inside their validity window, newest approval first,
/// each once.
fn running_messages<'a>(
    snap: &'a Snapshot,
    district: Option<&str>,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Vec<&'a Message> {
    let today = now.with_timezone(&tz).date_naive();
    let mut ids = BTreeSet::new();
    for c in snap.campaigns.values() {
        let b = &c.body;
        let tz_c =
            b.tz.as_deref()
                .and_then(|z| crate::schedule::parse_tz(z).ok())
                .unwrap_or(tz);
        let today = if tz_c == tz {
            today
        } else {
            now.with_timezone(&tz_c).date_naive()
        };
        if b.start.is_some_and(|s| s > today)
            || b.end.is_some_and(|e| e < today)
            || !reaches(snap, &b.targets, district)
        {
            continue;
        }
        ids.extend(b.messages.iter().map(|m| m.id.clone()));
    }
    let mut v: Vec<&Message> = ids
        .iter()
        .filter_map(|id| snap.messages.get(id))
        .filter(|m| {
            m.playable()
                && m.body.valid_at(now)
                && m.body.text.as_deref().is_some_and(|t| !t.trim().is_empty())
        })
        .collect();
    v.sort_by_key(|m| std::cmp::Reverse(m.approved_at.unwrap_or(m.updated_at)));
    v
}

enum Format {
    Atom,
    Rss,
}

fn messages_feed(ctx: &Ctx, h: &HeaderMap, district: Option<String>, f: Format) -> Response {
    let snap = ctx.store.snapshot();
    let config = ctx.feeds.config.current();
    let base = base_url(h);
    let now = Utc::now();
    let msgs = running_messages(&snap, district.as_deref(), ctx.tz, now);
    let title = match &district {
        Some(d) => format!("Thông tin tuyên truyền – {}", snap.group_name(d)),
        None => "Thông tin tuyên truyền".to_string(),
    };
    let q = district
        .as_deref()
        .map(|d| format!("?district={d}"))
        .unwrap_or_default();
    let e = |s: &str| escape(s).into_owned();
    let text = |m: &Message| m.body.text.clone().unwrap_or_default();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    match f {
        Format::Atom => {
            let updated = msgs
                .iter()
                .filter_map(|m| m.approved_at)
                .max()
                .unwrap_or(now);
            x.push_str(&format!(
                "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"vi\">\n  <id>{base}/messages.atom{}</id>\n  <title>{}</title>\n  <updated>{}</updated>\n  <author><name>{}</name></author>\n  <link rel=\"self\" href=\"{base}/messages.atom{}\"/>\n  <link rel=\"alternate\" type=\"text/html\" href=\"{base}/board{}\"/>\n",
                e(&q), e(&title), updated.to_rfc3339(), e(&config.publish.sender_name), e(&q), e(&q)
            ));
            for m in &msgs {
                x.push_str(&format!(
                    "  <entry>\n    <id>urn:bangtin:message:{}:{}</id>\n    <title>{}</title>\n    <updated>{}</updated>\n    <content type=\"text\">{}</content>\n  </entry>\n",
                    m.id, m.version, e(&m.body.title), m.approved_at.unwrap_or(m.updated_at).to_rfc3339(), e(&text(m))
                ));
            }
            x.push_str("</feed>\n");
            public(bytes_reply(
                "application/atom+xml; charset=utf-8",
                x.into_bytes(),
            ))
        }
        Format::Rss => {
            x.push_str(&format!(
                "<rss version=\"2.0\">\n<channel>\n  <title>{}</title>\n  <link>{base}/board{}</link>\n  <description>{}</description>\n  <language>vi</language>\n",
                e(&title), e(&q), e(&config.publish.sender_name)
            ));
            for m in &msgs {
                x.push_str(&format!(
                    "  <item>\n    <guid isPermaLink=\"false\">urn:bangtin:message:{}:{}</guid>\n    <title>{}</title>\n    <description>{}</description>\n    <pubDate>{}</pubDate>\n  </item>\n",
                    m.id, m.version, e(&m.body.title), e(&text(m)), m.approved_at.unwrap_or(m.updated_at).to_rfc2822()
                ));
            }
            x.push_str("</channel>\n</rss>\n");
            public(bytes_reply(
                "application/rss+xml; charset=utf-8",
                x.into_bytes(),
            ))
        }
    }
}

/// The embeddable page: the alerts on now for the district, then the
/// running campaigns' messages. Plain HTML and a little CSS, no script.
fn board(ctx: &Ctx, district: Option<String>) -> Response {
    let snap = ctx.store.snapshot();
    let now = Utc::now();
    let d = district.as_deref();
    let e = |s: &str| escape(s).into_owned();
    let place = d
        .map(|d| snap.group_name(d))
        .unwrap_or_else(|| "Toàn tỉnh".into());
    let alerts: Vec<&Alert> = recent_alerts(&snap, now)
        .into_iter()
        .filter(|a| a.active_at(now) && reaches(&snap, &a.body.targets, d))
        .collect();
    let msgs = running_messages(&snap, d, ctx.tz, now);
    let time = |t: DateTime<Utc>| {
        t.with_timezone(&ctx.tz)
            .format("%H:%M %d/%m/%Y")
            .to_string()
    };
    let mut body = String::new();
    for a in &alerts {
        body.push_str(&format!(
            "<section class=\"alert\" role=\"alert\"><h2>CẢNH BÁO KHẨN</h2><p>{}</p><p class=\"when\">Hiệu lực đến {}</p></section>\n",
            e(&a.body.text),
            time(a.ends_at)
        ));
    }
    if msgs.is_empty() {
        body.push_str("<p class=\"empty\">Hiện chưa có thông tin tuyên truyền.</p>\n");
    }
    for m in &msgs {
        body.push_str(&format!(
            "<article><h3>{}</h3><p>{}</p></article>\n",
            e(&m.body.title),
            e(m.body.text.as_deref().unwrap_or_default()).replace('\n', "<br>")
        ));
    }
    let html = format!(
        "<!doctype html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta http-equiv=\"refresh\" content=\"{BOARD_REFRESH_S}\">\n<title>Bảng tin – {place}</title>\n<style>\nbody{{font-family:\"Noto Sans\",\"DejaVu Sans\",Arial,sans-serif;margin:0;padding:12px;background:#fff;color:#1a1a1a;line-height:1.45}}\nh1{{font-size:1.2rem;margin:0 0 10px;color:#0b3d91}}\n.alert{{background:#b00000;color:#fff;border-radius:6px;padding:10px 14px;margin:0 0 12px}}\n.alert h2{{font-size:1rem;margin:0 0 4px;letter-spacing:.05em}}\n.alert p{{margin:0;font-size:1.05rem;font-weight:600}}\n.alert .when{{font-weight:400;font-size:.85rem;margin-top:4px}}\narticle{{border-bottom:1px solid #ddd;padding:8px 0}}\narticle h3{{font-size:1rem;margin:0 0 2px}}\narticle p{{margin:0}}\n.empty{{color:#666}}\nfooter{{color:#666;font-size:.75rem;margin-top:10px}}\n</style>\n</head>\n<body>\n<h1>Bảng tin điện tử – {place}</h1>\n{body}<footer>Cập nhật {}</footer>\n</body>\n</html>\n",
        time(now),
        place = e(&place),
    );
    let mut r = public(bytes_reply("text/html; charset=utf-8", html.into_bytes()));
    // Meant to be embedded: any site may frame it.
    r.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static(
            "frame-ancestors *; default-src 'none'; style-src 'unsafe-inline'",
        ),
    );
    r
}
