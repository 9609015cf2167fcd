//! Official warnings from a polled feed: a feed server on loopback
//! (real HTTP) serves an ATOM index and CAP documents written for these
//! tests; a real `bangtin serve` polls it with conditional GETs, deploys,
//! holds, updates and cancels, backs off while the source is down, and
//! shows each feed's health on /status. One panel has a real controller,
//! so the warning is seen on the glass.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use warp::Filter;

use bangtin::frame::FLAG_EMERGENCY;
use bangtin::mqtt::controller::Fleet;

use super::util::{controller, eventually, shown_until, Api, Server, ADMIN_TOKEN};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cap");
const TZ: chrono_tz::Tz = chrono_tz::Asia::Ho_Chi_Minh;

/// A fixture with its times filled in relative to `now` (as the unit
/// tests do).
pub(super) fn fixture(name: &str, now: DateTime<Utc>) -> String {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{name}.xml")).unwrap();
    let t = |d: DateTime<Utc>| {
        d.with_timezone(&TZ)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    };
    let m = chrono::Duration::minutes;
    text.replace("$SENT", &t(now - m(5)))
        .replace("$REFSENT", &t(now - m(5)))
        .replace("$ONSET", &t(now + m(120)))
        .replace("$EXPIRES", &t(now + m(720)))
        .replace("$PAST", &t(now - m(60)))
}

/// The feed server's state: the documents it serves, the index's entries,
/// whether it is down, and every request it saw.
#[derive(Default)]
struct Source {
    docs: BTreeMap<String, String>,
    entries: Vec<String>,
    down: bool,
    /// (path, If-None-Match, status answered)
    log: Vec<(String, Option<String>, u16)>,
}

impl Source {
    fn etag(&self) -> String {
        format!("\"v{}\"", self.entries.len())
    }
    fn index(&self) -> String {
        let entries: String = self
            .entries
            .iter()
            .map(|e| format!("<entry><id>urn:test:{e}</id><title>{e}</title><updated>2026-09-20T00:00:00Z</updated><link rel=\"alternate\" type=\"application/cap+xml\" href=\"/cap/{e}.xml\"/></entry>"))
            .collect();
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><id>urn:test</id><title>NCHMF</title><updated>2026-09-20T00:00:00Z</updated>{entries}</feed>")
    }
}

fn reply(status: u16, etag: Option<String>, body: String) -> warp::http::Response<String> {
    let mut b = warp::http::Response::builder().status(status);
    if let Some(e) = etag {
        b = b.header("etag", e);
    }
    b.header("content-type", "application/xml")
        .body(body)
        .unwrap()
}

/// Serves `/index.atom` and `/cap/{name}.xml` on a loopback port.
async fn feed_server(source: Arc<Mutex<Source>>) -> SocketAddr {
    let s = source.clone();
    let index = warp::path("index.atom")
        .and(warp::header::optional::<String>("if-none-match"))
        .map(move |inm: Option<String>| {
            let mut s = s.lock().unwrap();
            let (status, r) = if s.down {
                (503, reply(503, None, "down".into()))
            } else if inm.as_deref() == Some(s.etag().as_str()) {
                (304, reply(304, Some(s.etag()), String::new()))
            } else {
                (200, reply(200, Some(s.etag()), s.index()))
            };
            s.log.push(("/index.atom".into(), inm, status));
            r
        });
    let s = source.clone();
    let doc = warp::path!("cap" / String).map(move |name: String| {
        let mut s = s.lock().unwrap();
        let key = name.trim_end_matches(".xml").to_string();
        let (status, r) = match s.docs.get(&key) {
            Some(d) if !s.down => (200, reply(200, None, d.clone())),
            _ => (404, reply(404, None, String::new())),
        };
        s.log.push((format!("/cap/{name}"), None, status));
        r
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(index.or(doc)).incoming(listener).run());
    addr
}

/// Waits until the controller of vinh-1 shows a frame of `alert`.
async fn on_glass(api: &Api, glass: &mut Fleet, alert: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let s = shown_until(glass, left, &format!("alert {alert} on the glass"), |s| {
            s.flags & FLAG_EMERGENCY != 0
        })
        .await;
        let now = api.get("/panels/vinh-1/now").await.1;
        if now["alert"] == alert && now["seq"] == s.seq {
            return;
        }
    }
}

async fn warnings(api: &Api) -> Vec<Value> {
    api.get("/cap")
        .await
        .1
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn warning_with(api: &Api, identifier: &str, state: &str) -> Option<Value> {
    warnings(api)
        .await
        .into_iter()
        .find(|w| w["identifier"] == identifier && w["state"] == state)
}

async fn feed_health(api: &Api) -> Value {
    api.get("/status").await.1["cap"]["feeds"][0].clone()
}

#[tokio::test]
async fn a_polled_feed_deploys_updates_cancels_and_backs_off() {
    let now = Utc::now();
    let source = Arc::new(Mutex::new(Source::default()));
    {
        let mut s = source.lock().unwrap();
        for name in [
            "storm-vi",
            "storm-update",
            "storm-cancel",
            "rain-polygon-vi",
            "flood-en",
            "expired",
            "stranger",
        ] {
            s.docs.insert(name.into(), fixture(name, now));
        }
        // The same storm under a second address: a repeat.
        s.docs
            .insert("storm-vi-again".into(), fixture("storm-vi", now));
        s.entries = [
            "storm-vi",
            "rain-polygon-vi",
            "expired",
            "stranger",
            "storm-vi-again",
        ]
        .map(String::from)
        .to_vec();
    }
    let addr = feed_server(source.clone()).await;
    let server = Server::start();
    let api = Api::new(&server, Some(ADMIN_TOKEN));
    // The province: Vinh and Cửa Lò (the storm), Nghi Lộc cut in half by
    // the rain's polygon.
    let panels = [
        ("vinh-1", "vinh", ["40", "412"], (18.67, 105.69)),
        ("vinh-2", "vinh", ["40", "412"], (18.68, 105.67)),
        ("cualo-1", "cualo", ["40", "413"], (18.79, 105.72)),
        ("nghiloc-west-1", "nghiloc", ["40", "429"], (18.80, 105.58)),
        ("nghiloc-east-1", "nghiloc", ["40", "429"], (18.80, 105.70)),
        ("dienchau-1", "dienchau", ["40", "434"], (19.05, 105.60)),
    ];
    for (id, group, units, (lat, lon)) in panels {
        api.create_panel(json!({
            "id": id, "name": id, "width": 128, "height": 32, "format": "mono1",
            "groups": [group], "units": units, "location": {"lat": lat, "lon": lon}
        }))
        .await;
    }
    let mut glass = controller(&api.controller_url(&server, "vinh-1").await, "vinh-1");
    std::fs::write(
        server.data.join("cap.json"),
        serde_json::to_vec_pretty(&json!({
            "feeds": [{
                "name": "nchmf", "url": format!("http://{addr}/index.atom"), "interval_s": 1,
                "senders": ["canhbao@nchmf.gov.vn", "alerts@vndma.gov.vn"]
            }],
            "rule_sets": {"default": [
                {"name": "storms", "event": ["Bão"], "severity": ["Extreme"], "action": "auto"},
                {"name": "floods", "event": ["Flood"], "action": "auto"},
                {"action": "hold"}
            ]},
            "templates": [{"events": ["Flood"], "during": "CẢNH BÁO LŨ: {area}. Hết hiệu lực {expires}"}]
        }))
        .unwrap(),
    )
    .unwrap();

    // Within seconds: the storm on the glass of Vinh, in Vietnamese.
    let storm = eventually(Duration::from_secs(20), || {
        warning_with(&api, "NCHMF-2026-BAO-09-001", "deployed")
    })
    .await
    .expect("the storm warning deployed");
    assert_eq!(storm["panels"], json!(["cualo-1", "vinh-1", "vinh-2"]));
    on_glass(&api, &mut glass, storm["alerts"][0].as_str().unwrap()).await;
    // The whole index read: five documents handed over.
    eventually(Duration::from_secs(10), || async {
        (feed_health(&api).await["documents"].as_u64() >= Some(5)).then_some(())
    })
    .await
    .expect("the first index read whole");
    let rain = warning_with(&api, "NCHMF-2026-MUA-0417", "held")
        .await
        .expect("the rain warning held");
    assert_eq!(
        rain["panels"],
        json!(["nghiloc-west-1"]),
        "only the western half of Nghi Lộc"
    );
    assert!(warning_with(&api, "NCHMF-2026-NANG-0002", "expired")
        .await
        .is_some());
    let all = warnings(&api).await;
    assert!(
        !all.iter().any(|w| w["sender"] == "someone@example.org"),
        "the stranger is refused"
    );
    assert_eq!(
        all.iter()
            .filter(|w| w["identifier"] == "NCHMF-2026-BAO-09-001")
            .count(),
        1
    );

    // Conditional GET: the next polls send the ETag and get 304.
    let h = eventually(Duration::from_secs(10), || async {
        let h = feed_health(&api).await;
        (h["not_modified"].as_u64() >= Some(1)).then_some(h)
    })
    .await
    .expect("a 304");
    assert_eq!(
        (
            h["ok"].as_bool(),
            h["documents"].as_u64(),
            h["refused"].as_u64()
        ),
        (Some(true), Some(5), Some(1))
    );
    assert!(source
        .lock()
        .unwrap()
        .log
        .iter()
        .any(|(p, inm, st)| p == "/index.atom" && inm.as_deref() == Some("\"v5\"") && *st == 304));
    let fetched = source
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|(p, _, _)| p == "/cap/storm-vi.xml")
        .count();
    assert_eq!(fetched, 1, "a document is fetched once, not on every poll");

    // An English-only flood warning, worded by its template, newer: on the glass.
    source.lock().unwrap().entries.push("flood-en".into());
    let flood = eventually(Duration::from_secs(10), || {
        warning_with(&api, "VDDMA-FLOOD-2026-0031", "deployed")
    })
    .await
    .expect("the flood by template");
    assert_eq!(flood["text_source"], json!({"template": "Flood"}));
    assert!(flood["phases"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("CẢNH BÁO LŨ: Lam river banks, Vinh."));
    on_glass(&api, &mut glass, flood["alerts"][0].as_str().unwrap()).await;

    // The Update replaces the storm (and, newer, is on the glass); the Cancel ends it.
    source.lock().unwrap().entries.push("storm-update".into());
    let update = eventually(Duration::from_secs(10), || {
        warning_with(&api, "NCHMF-2026-BAO-09-002", "deployed")
    })
    .await
    .expect("the update deployed");
    assert_eq!(
        update["panels"].as_array().unwrap().len(),
        5,
        "Vinh, Cửa Lò and all of Nghi Lộc"
    );
    assert!(warning_with(&api, "NCHMF-2026-BAO-09-001", "replaced")
        .await
        .is_some());
    on_glass(&api, &mut glass, update["alerts"][0].as_str().unwrap()).await;
    source.lock().unwrap().entries.push("storm-cancel".into());
    eventually(Duration::from_secs(10), || {
        warning_with(&api, "NCHMF-2026-BAO-09-002", "cancelled")
    })
    .await
    .expect("the update cancelled");
    // The flood alert is still up on vinh-1, so the glass shows it now.
    on_glass(&api, &mut glass, flood["alerts"][0].as_str().unwrap()).await;

    // The source goes down: failures counted, the waits double, /status says so.
    source.lock().unwrap().down = true;
    let h = eventually(Duration::from_secs(15), || async {
        let h = feed_health(&api).await;
        (h["failures"].as_u64() >= Some(2)).then_some(h)
    })
    .await
    .expect("two failed polls");
    assert_eq!(h["ok"], false);
    assert!(h["last_error"].as_str().unwrap().contains("503"), "{h}");
    let next: DateTime<Utc> = h["next_poll_at"].as_str().unwrap().parse().unwrap();
    let last: DateTime<Utc> = h["last_poll_at"].as_str().unwrap().parse().unwrap();
    assert_eq!((next - last).num_seconds(), 4, "1 s doubled twice");
    source.lock().unwrap().down = false;
    eventually(Duration::from_secs(15), || async {
        (feed_health(&api).await["ok"] == true).then_some(())
    })
    .await
    .expect("healthy again");
    // The delivery of the storm: vinh-1 acknowledged it.
    let id = storm["id"].as_str().unwrap();
    let (_, d) = api.get(&format!("/cap/{id}")).await;
    assert_eq!(d["delivery"]["targets"], 3);
    assert_eq!(d["delivery"]["panels_acked"], json!(["vinh-1"]));
}
