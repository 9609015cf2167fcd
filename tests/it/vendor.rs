//! Vendor cards end to end, through a real server process: a panel whose
//! transport is a simulated Huidu card (bangtin dialling it, or the card
//! dialling bangtin's listener) or HD2020 card; an approved message shows
//! on the card's glass pixel for pixel as the panel's frame
//! (`GET /panels/{id}/frame.png`, and the MQTT reference controller's
//! pixels for a twin panel); alerts pre-empt; the card going away shows
//! the panel offline and its return puts the frame back; proof of play.

use std::time::{Duration, Instant};

use bangtin::frame::{self, FLAG_BLANK};
use serde_json::{json, Value};

use super::mqtt::TestClient;
use super::sim::hd2020_card::{Hd2020Card, Leds};
use super::sim::huidu_card::{Card, CardConfig};
use super::util::{
    controller, eventually, free_port, plays_query, Api, Server, ServerOpts, ADMIN_TOKEN,
};

/// `frame.png` of a panel, as RGB.
async fn frame_png(api: &Api, panel: &str) -> Vec<u8> {
    let bytes = api
        .req(reqwest::Method::GET, &format!("/panels/{panel}/frame.png"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    image::load_from_memory(&bytes)
        .unwrap()
        .to_rgb8()
        .into_raw()
}

/// An approved message on a campaign for `targets`; returns the message id.
pub(crate) async fn schedule(admin: &Api, targets: Value, text: &str) -> String {
    let approver = admin
        .with_roles(&format!("ap-{}", free_port()), &["approver"])
        .await;
    let id = admin
        .create_message(json!({"title": text, "text": text}))
        .await;
    approver.approve(&id).await;
    let (st, v) = admin
        .post(
            "/campaigns",
            json!({"name": text, "messages": [{"id": id, "dwell_s": 60}], "targets": targets, "start": "2020-01-01", "priority": 1}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    id
}

fn lit(rgb: &[u8]) -> bool {
    rgb.iter().any(|b| *b != 0)
}

/// Waits until the card shows a lit picture other than `not`; returns it.
async fn card_shows_other_than(card: &Card, not: &[u8], what: &str) -> Vec<u8> {
    card.wait_until(what, |s| {
        s.shown
            .as_ref()
            .is_some_and(|p| lit(&p.rgb) && p.rgb != not)
    })
    .await;
    card.with(|s| s.shown.clone().unwrap().rgb)
}

async fn panel(api: &Api, id: &str) -> Value {
    let (st, v) = api.get(&format!("/panels/{id}")).await;
    assert_eq!(st, 200, "{v}");
    v
}

/// Waits until the panel reports `online` (and its link agrees).
async fn online_is(api: &Api, id: &str, want: bool) -> Value {
    eventually(Duration::from_secs(20), || async {
        let v = panel(api, id).await;
        (v["online"] == want && v["link"]["connected"] == want).then_some(v)
    })
    .await
    .unwrap_or_else(|| panic!("{id} never online={want}"))
}

async fn plays_of(api: &Api, panel: &str, message: &str) {
    let q = plays_query(panel);
    let row = eventually(Duration::from_secs(10), || async {
        let (_, rows) = api.get(&q).await;
        rows.as_array()?
            .iter()
            .find(|r| r["message"] == json!(message))
            .cloned()
    })
    .await;
    assert!(row.is_some(), "no proof-of-play row for {panel}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bangtin_dials_a_huidu_card_and_it_shows_the_panels_frame() {
    let card = Card::new(CardConfig::new("C16-24-DIAL1", 128, 32));
    let addr = card.listen().await;
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    admin
        .create_panel(json!({"id": "hd1", "name": "Cổng chợ", "width": 128, "height": 32, "format": "mono1", "groups": ["d1"],
            "transport": {"kind": "huidu", "device_id": "C16-24-DIAL1", "address": addr.to_string()}}))
        .await;
    // Its MQTT twin: same size and colour, shown by the reference controller.
    admin
        .create_panel(json!({"id": "mq1", "name": "Twin", "width": 128, "height": 32, "format": "mono1", "groups": ["d1"]}))
        .await;
    let url = server.broker_url();
    let mut twin = TestClient::connect(&url, "twin-sub", &["bangtin/panels/mq1/frame"]).await;
    let reference = controller(&url, "mq1");

    let v = online_is(&admin, "hd1", true).await;
    assert_eq!(v["transport"]["kind"], "huidu", "{v}");
    assert_eq!(v["link"]["kind"], "huidu", "{v}");
    // A card names itself by device id, without a secret.
    assert_eq!(v["reports_authenticated"], false, "{v}");
    assert!(
        v["link"]["device"]
            .as_str()
            .unwrap()
            .contains("C16-24-DIAL1"),
        "{v}"
    );
    let (_, mq) = admin.get("/panels/mq1").await;
    assert_eq!(mq["transport"], json!({"kind": "mqtt"}), "{mq}");
    assert_eq!(mq["reports_authenticated"], true, "{mq}");

    let message = schedule(
        &admin,
        json!(["group:d1"]),
        "Cắt điện khu phố 3 sáng Chủ nhật",
    )
    .await;
    let shown = card_shows_other_than(&card, &[], "the message on the card").await;
    assert_eq!(shown, frame_png(&admin, "hd1").await, "card ≠ frame.png");
    // The card's clock was set to Vietnam's time on connecting.
    let (time, zone) = card
        .with(|s| s.clock.clone())
        .expect("the card's clock was never set");
    let set = chrono::NaiveDateTime::parse_from_str(&time, "%Y-%m-%d %H:%M:%S").unwrap();
    let vietnam = chrono::Utc::now().naive_utc() + chrono::Duration::hours(7);
    assert!(
        (vietnam - set).num_seconds().abs() < 60,
        "card clock {time}"
    );
    assert!(zone.contains("Hanoi"), "{zone}");
    // What the reference controller shows for the same panel size.
    let twin_frame = loop {
        let p = twin.next_on("bangtin/panels/mq1/frame").await;
        let f = frame::decode(&p.payload).unwrap();
        if f.header.flags & FLAG_BLANK == 0 {
            break p.payload;
        }
    };
    let reference_pixels =
        bangtin::mqtt::controller::pixels(&frame::decode(&twin_frame).unwrap()).unwrap();
    assert!(
        shown == reference_pixels.into_raw(),
        "the card shows other pixels than the reference controller"
    );
    plays_of(&admin, "hd1", &message).await;

    // An alert pre-empts within 2 s.
    let operator = admin.with_roles("op", &["operator"]).await;
    let sent = Instant::now();
    operator
        .send_alert(json!({"text": "BÃO SỐ 5: ở trong nhà", "targets": ["hd1"], "duration_s": 600}))
        .await;
    let alert = card_shows_other_than(&card, &shown, "the alert on the card").await;
    let took = sent.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "alert on the glass after {took:?}"
    );
    assert_eq!(alert, frame_png(&admin, "hd1").await);

    // The card goes away: the panel is offline, with the reason.
    card.power_off();
    let v = online_is(&admin, "hd1", false).await;
    assert!(v["link"]["last_error"].as_str().is_some(), "{v}");
    // It comes back having lost its program: bangtin redials and puts the
    // current frame (the alert) back.
    card.with(|s| {
        s.shown = None;
        s.files.clear();
    });
    card.power_on();
    let back = card_shows_other_than(&card, &[], "the frame back after the return").await;
    assert_eq!(back, alert);
    online_is(&admin, "hd1", true).await;
    reference.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huidu_card_behind_nat_dials_the_listener() {
    let port = free_port();
    let server = Server::start_with(ServerOpts {
        extra_args: vec!["--huidu-listen".into(), format!("127.0.0.1:{port}")],
        ..Default::default()
    });
    let listen: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));

    // A card nobody configured is refused with a line naming its id.
    let stranger = Card::new(CardConfig::new("C16-UNKNOWN-9", 64, 32));
    stranger.dial(listen).await;
    let said = eventually(Duration::from_secs(10), || async {
        server
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("\"C16-UNKNOWN-9\"") && l.contains("no panel has this Device ID"))
            .then_some(())
    })
    .await;
    assert!(said.is_some(), "no log line for the unknown card");
    stranger
        .wait_until("the unknown card let go", |s| s.closed_because.is_some())
        .await;

    admin
        .create_panel(
            json!({"id": "nat1", "name": "Ngã ba", "width": 64, "height": 32, "format": "rgb888",
            "transport": {"kind": "huidu", "device_id": "C16-24-NAT01"}}),
        )
        .await;
    let card = Card::new(CardConfig::new("C16-24-NAT01", 64, 32));
    card.dial(listen).await;
    online_is(&admin, "nat1", true).await;
    let message = schedule(&admin, json!(["nat1"]), "Tiêm chủng đầy đủ").await;
    let shown = card_shows_other_than(&card, &[], "the message on the card").await;
    assert_eq!(shown, frame_png(&admin, "nat1").await);
    plays_of(&admin, "nat1", &message).await;

    // The 4G link drops: offline. The card dials again: the frame is back.
    card.power_off();
    online_is(&admin, "nat1", false).await;
    card.with(|s| {
        s.shown = None;
        s.files.clear();
    });
    card.power_on();
    card.dial(listen).await;
    let back = card_shows_other_than(&card, &[], "the frame after the card dialled again").await;
    assert_eq!(back, shown);
    online_is(&admin, "nat1", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hd2020_p10_card_shows_the_mono_frame() {
    let red = [0xff, 0x20, 0x00];
    let card = Hd2020Card::new(Leds::Single(red));
    let addr = card.listen().await;
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    admin
        .create_panel(
            json!({"id": "p10", "name": "P10", "width": 64, "height": 32, "format": "mono1",
            "transport": {"kind": "hd2020", "address": addr.to_string(), "color_type": "single"}}),
        )
        .await;
    let message = schedule(&admin, json!(["p10"]), "Giữ gìn vệ sinh").await;
    let shown = eventually(Duration::from_secs(20), || async {
        card.with(|s| s.shown.clone())
            .filter(|(_, _, rgb)| lit(rgb))
    })
    .await
    .expect("the HD2020 card shows the message");
    assert_eq!((shown.0, shown.1), (64, 32));
    assert!(
        shown.2 == frame_png(&admin, "p10").await,
        "card ≠ frame.png"
    );
    assert_eq!(card.with(|s| s.refused), 0);
    let v = online_is(&admin, "p10", true).await;
    assert_eq!(v["link"]["kind"], "hd2020");
    plays_of(&admin, "p10", &message).await;
}

/// What a card shows, watched from a capture thread (the Colorlight card).
type Latest = std::sync::Arc<std::sync::Mutex<Option<(Vec<u8>, u8)>>>;

/// The reference controller's picture of the panel's current frame (the
/// PNG it wrote for that seq), once `/now` satisfies `want`; with the
/// `/now` reply.
async fn reference_shows(
    api: &Api,
    dir: &std::path::Path,
    panel: &str,
    want: impl Fn(&Value) -> bool,
) -> (Vec<u8>, Value) {
    eventually(Duration::from_secs(20), || async {
        let (_, now) = api.get(&format!("/panels/{panel}/now")).await;
        if !want(&now) {
            return None;
        }
        let png = dir.join(format!("{panel}-{}.png", now["seq"]));
        let img = image::open(png).ok()?.to_rgb8().into_raw();
        Some((img, now))
    })
    .await
    .unwrap_or_else(|| panic!("the reference controller never showed {panel}'s frame"))
}

/// How many pixels of two same-sized RGB pictures differ.
fn differing(a: &[u8], b: &[u8]) -> usize {
    assert_eq!(a.len(), b.len(), "pictures of different sizes");
    a.chunks(3).zip(b.chunks(3)).filter(|(x, y)| x != y).count()
}

/// The four vendor outputs against bangtin's own MQTT controller, in one
/// server: a Huidu card bangtin dials, a Huidu card dialling the listener,
/// an HD2020 P10 card and a Colorlight 5A-75 captured on a veth pair (the
/// edge agent's output) show the same approved Vietnamese message, and
/// then the same alert, pixel for pixel as the reference controller; each
/// panel is online, at its brightness, with proof of play.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transport_shows_what_the_reference_controller_shows() {
    const RED: [u8; 3] = [0xff, 0x20, 0x00];
    let (w, h) = (64u32, 32u32);
    let port = free_port();
    let listen: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let server = Server::start_with(ServerOpts {
        extra_args: vec!["--huidu-listen".into(), listen.to_string()],
        ..Default::default()
    });
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    let url = server.broker_url();
    let dialled = Card::new(CardConfig::new("C16-SAME-DIAL", w, h));
    let dialled_at = dialled.listen().await;
    let nat = Card::new(CardConfig::new("C16-SAME-NAT", w, h));
    let p10 = Hd2020Card::new(Leds::Single(RED));
    let p10_at = p10.listen().await;
    let ns = super::colorlight::Netns::new();

    let panel = |id: &str, transport: Value| {
        let mut p = json!({"id": id, "name": id, "width": w, "height": h, "format": "mono1",
            "groups": ["so-sanh"], "brightness": {"day": 200, "night": 200}});
        if !transport.is_null() {
            p["transport"] = transport;
        }
        p
    };
    for p in [
        panel("ref", Value::Null),
        panel("cl", Value::Null),
        panel(
            "hdial",
            json!({"kind": "huidu", "device_id": "C16-SAME-DIAL", "address": dialled_at.to_string()}),
        ),
        panel(
            "hnat",
            json!({"kind": "huidu", "device_id": "C16-SAME-NAT"}),
        ),
        panel(
            "p10",
            json!({"kind": "hd2020", "address": p10_at.to_string(), "color_type": "single"}),
        ),
    ] {
        admin.create_panel(p).await;
    }
    nat.dial(listen).await;

    // The reference controller, writing what it shows as PNGs.
    let shots = tempfile::tempdir().unwrap();
    let mut args = bangtin::mqtt::controller::ControllerArgs::new(
        "ref".parse().unwrap(),
        url.parse().unwrap(),
    );
    args.out = Some(shots.path().to_path_buf());
    let reference = bangtin::mqtt::controller::spawn_fleet(&args).unwrap();
    // The edge agent driving the Colorlight card, and the capture.
    let (_capturing, glass) = super::colorlight::capture(&ns.name, &ns.far, w as usize, h as usize);
    let colorlight: Latest = Default::default();
    let latest = colorlight.clone();
    std::thread::spawn(move || {
        for shot in glass {
            *latest.lock().unwrap() = Some(shot);
        }
    });
    let _agent = super::colorlight::agent(&url, "cl", &ns.near);

    let message = schedule(&admin, json!(["group:so-sanh"]), "Cấm lạng lách").await;
    let (want, now) = reference_shows(&admin, shots.path(), "ref", |n| {
        n["message"] == json!(message)
    })
    .await;
    assert_eq!(
        now["pages"], 1,
        "one page, so every card shows the same one: {now}"
    );
    assert!(lit(&want), "the reference shows nothing");

    // Everyone shows something lit (the message is the only lit thing yet).
    let shows = |other_than: Vec<u8>| {
        let (dialled, nat, p10, colorlight) = (&dialled, &nat, &p10, &colorlight);
        async move {
            let fresh = |p: &Vec<u8>| lit(p) && *p != other_than;
            eventually(Duration::from_secs(20), || async {
                let d = dialled.with(|s| s.shown.as_ref().map(|p| p.rgb.clone()));
                let n = nat.with(|s| s.shown.as_ref().map(|p| p.rgb.clone()));
                let t = p10.with(|s| s.shown.as_ref().map(|p| p.2.clone()));
                let c = colorlight.lock().unwrap().as_ref().map(|p| p.0.clone());
                let all = [d?, n?, t?, c?];
                all.iter().all(fresh).then_some(all)
            })
            .await
        }
    };
    let names = [
        "Huidu (dialled)",
        "Huidu (dialling in)",
        "HD2020 P10",
        "Colorlight",
    ];
    let check = |what: &str, got: Option<[Vec<u8>; 4]>, want: &[u8]| {
        let got = got.unwrap_or_else(|| panic!("not every card showed {what}"));
        for (name, pixels) in names.iter().zip(&got) {
            assert_eq!(
                differing(pixels, want),
                0,
                "{name} shows {what} other than the reference controller"
            );
        }
    };
    check("the message", shows(Vec::new()).await, &want);

    // Online, at the panel's brightness (200 of 255: 78 % on a Huidu card,
    // the byte itself in the Colorlight brightness packet), proof of play.
    for id in ["ref", "cl", "hdial", "hnat", "p10"] {
        online_is(&admin, id, true).await;
        let (_, n) = admin.get(&format!("/panels/{id}/now")).await;
        assert_eq!(n["brightness"], 200, "{id}: {n}");
        plays_of(&admin, id, &message).await;
    }
    for card in [&dialled, &nat] {
        assert_eq!(card.with(|s| s.brightness), Some(78));
    }
    assert_eq!(colorlight.lock().unwrap().as_ref().unwrap().1, 200);

    // An alert: everyone within 2 s, the same pixels.
    let operator = admin.with_roles("op", &["operator"]).await;
    let sent = Instant::now();
    operator
        .send_alert(json!({"text": "BÃO SỐ 5", "targets": ["group:so-sanh"], "duration_s": 600}))
        .await;
    let alert = shows(want.clone()).await;
    let took = sent.elapsed();
    let (want_alert, now) =
        reference_shows(&admin, shots.path(), "ref", |n| n["alert"].is_string()).await;
    assert_eq!(now["pages"], 1, "{now}");
    check("the alert", alert, &want_alert);
    assert!(
        took < Duration::from_secs(2),
        "the alert on every card after {took:?}"
    );

    reference.shutdown().await;
}

/// The dashboard says each panel's transport and how its connection is
/// doing, on a desktop and on a phone: the panel list and the wall name
/// the card (Huidu, HD2020, bangtin's MQTT controller) and, for a card
/// bangtin cannot reach, the reason. Screenshots are left in the test
/// target directory (`transports-*.png`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_each_panels_transport_and_its_health() {
    let card = Card::new(CardConfig::new("C16-24-CHO", 128, 32));
    let card_at = card.listen().await;
    let p10 = Hd2020Card::new(Leds::Single([0xff, 0x20, 0x00]));
    let p10_at = p10.listen().await;
    // A card that is not there: nothing listens on this port.
    let gone = format!("127.0.0.1:{}", free_port());
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    let sign = |id: &str, name: &str, transport: Value| {
        let mut p = json!({"id": id, "name": name, "width": 128, "height": 32, "format": "mono1",
            "groups": ["hai-chau"]});
        if !transport.is_null() {
            p["transport"] = transport;
        }
        p
    };
    for p in [
        sign("ubnd", "UBND phường", Value::Null),
        sign(
            "cho-han",
            "Cổng chợ Hàn",
            json!({"kind": "huidu", "device_id": "C16-24-CHO", "address": card_at.to_string()}),
        ),
        sign(
            "nga-ba",
            "Ngã ba Huế",
            json!({"kind": "huidu", "device_id": "C16-24-NGABA", "address": gone}),
        ),
        sign(
            "truong",
            "Trường tiểu học",
            json!({"kind": "hd2020", "address": p10_at.to_string(), "color_type": "single"}),
        ),
    ] {
        admin.create_panel(p).await;
    }
    let reference = controller(&server.broker_url(), "ubnd");
    schedule(&admin, json!(["group:hai-chau"]), "Cắt điện khu phố 3").await;
    online_is(&admin, "cho-han", true).await;
    online_is(&admin, "truong", true).await;
    eventually(Duration::from_secs(20), || async {
        panel(&admin, "nga-ba").await["link"]["last_error"]
            .as_str()
            .map(str::to_string)
    })
    .await
    .expect("the missing card's error");
    // It never answered: never seen, not "lost" a moment ago.
    let never = panel(&admin, "nga-ba").await;
    assert!(
        never["last_seen"].is_null() && never["online"] == false,
        "a card that never answered has no last contact: {never}"
    );

    for (width, height) in [(1440, 900), (390, 844)] {
        let (_driver, b) = super::dashboard::browser_at(width, height).await;
        b.sign_in(&server.base, ADMIN_TOKEN, "admin").await;
        for (page, row) in [("#/admin/panels", "tr"), ("#/wall", "article")] {
            b.route(page).await;
            b.wait_js(
                &format!(
                    "return document.querySelectorAll('{row}[data-panel] [data-transport]').length === 4 \
                     && !!document.querySelector('{row}[data-panel=\"cho-han\"] [data-connected=\"true\"]') \
                     && !!document.querySelector('{row}[data-panel=\"truong\"] [data-connected=\"true\"]')"
                ),
                &format!("{page}: four transport lines, the two cards connected"),
            )
            .await;
            let shot = b
                .screenshot(&format!(
                    "transports-{width}x{height}-{}.png",
                    page.trim_start_matches("#/").replace('/', "-")
                ))
                .await;
            let line = |id: &str| format!("{row}[data-panel=\"{id}\"] .tile-link");
            let huidu = b.text(&line("cho-han")).await;
            assert!(
                huidu.contains("Card Huidu") && huidu.contains("C16-24-CHO"),
                "{page}: {huidu:?} ({})",
                shot.display()
            );
            assert!(b.text(&line("truong")).await.contains("HD2020"));
            assert!(b.text(&line("ubnd")).await.contains("MQTT"));
            if page == "#/wall" {
                let tile = b.text("article[data-panel=\"nga-ba\"]").await;
                assert!(tile.contains("Chưa từng kết nối"), "{tile:?}");
            }
            let missing = b.text(&line("nga-ba")).await;
            assert!(
                missing.contains("lỗi:") && missing.contains(&gone),
                "{page}: the unreachable card says why: {missing:?}"
            );
            // Nothing wider than the screen (long card errors wrap).
            let wide = b
                .js(
                    "return document.documentElement.scrollWidth - window.innerWidth",
                    json!([]),
                )
                .await;
            assert!(
                wide.as_i64().unwrap_or(1) <= 0,
                "{page} at {width}px scrolls sideways by {wide}px ({})",
                shot.display()
            );
        }
    }
    reference.shutdown().await;
}
