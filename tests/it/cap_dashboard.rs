//! The official-warnings inbox and the wall's map in a real browser
//! (headless Chromium through chromedriver, as in `dashboard`), at a
//! desk's 1440×900 and a phone's 390×844: the warning's area drawn with
//! the signs inside and outside it, the matched panels by district, the
//! preview, one click to deploy a held warning, and its delivery.
//! Screenshots are kept in the target's tmp directory (`cap-*.png`).

use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};

use super::cap::fixture;
use super::dashboard::{browser_at, NO_SIDEWAYS};
use super::util::{eventually, Api, Server, ADMIN_TOKEN};

pub(super) async fn post_cap(server: &Server, doc: String) -> Value {
    let r = reqwest::Client::new()
        .post(server.url("/api/v1/cap"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/cap+xml")
        .body(doc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// The CAP rules: a storm (Bão) goes out at once, anything else waits.
pub(super) fn storms_go_out_at_once(server: &Server) {
    std::fs::write(
        server.data.join("cap.json"),
        json!({"rule_sets": {"default": [
            {"name": "bão: phát ngay", "event": ["Bão"], "action": "auto"},
            {"action": "hold"}
        ]}})
        .to_string(),
    )
    .unwrap();
}

#[tokio::test]
async fn the_inbox_draws_the_area_and_deploys_with_one_click() {
    let server = Server::start();
    let api = Api::new(&server, Some(ADMIN_TOKEN));
    let panels = [
        (
            "vinh-1",
            "Quảng trường Hồ Chí Minh",
            "vinh",
            ["40", "412"],
            (18.67, 105.69),
        ),
        ("vinh-2", "Chợ Vinh", "vinh", ["40", "412"], (18.68, 105.67)),
        (
            "cualo-1",
            "Bãi biển Cửa Lò",
            "cualo",
            ["40", "413"],
            (18.79, 105.72),
        ),
        (
            "nghiloc-west-1",
            "UBND xã Nghi Lâm",
            "nghiloc",
            ["40", "429"],
            (18.80, 105.58),
        ),
        (
            "nghiloc-west-2",
            "Chợ Nghi Văn",
            "nghiloc",
            ["40", "429"],
            (18.75, 105.62),
        ),
        (
            "nghiloc-east-1",
            "Cảng Cửa Hội",
            "nghiloc",
            ["40", "429"],
            (18.80, 105.70),
        ),
        (
            "nghiloc-east-2",
            "UBND huyện Nghi Lộc",
            "nghiloc",
            ["40", "429"],
            (18.76, 105.68),
        ),
    ];
    for (id, name, group, units, (lat, lon)) in panels {
        api.create_panel(json!({
            "id": id, "name": name, "width": 128, "height": 32, "format": "mono1",
            "groups": [group], "units": units, "location": {"lat": lat, "lon": lon}
        }))
        .await;
    }
    storms_go_out_at_once(&server);
    let storm = post_cap(&server, fixture("storm-vi", Utc::now())).await;
    assert_eq!(storm["state"], "deployed", "{storm}");
    let rain = post_cap(&server, fixture("rain-polygon-vi", Utc::now())).await;
    assert_eq!(rain["state"], "held", "{rain}");
    let rain_id = rain["id"].as_str().unwrap();

    let (_driver, b) = browser_at(1440, 900).await;
    b.sign_in(&server.base, ADMIN_TOKEN, "admin").await;
    b.route(&format!("#/inbox/{rain_id}")).await;
    // The rain's polygon, two signs inside it, five outside.
    let counts = b
        .wait_js(
            "const m = document.querySelector('.cap-map svg'); if (!m) return null; \
             const i = m.querySelectorAll('.map-inside').length, o = m.querySelectorAll('.map-outside').length; \
             return i + o === 7 && m.querySelector('.map-polygon') ? [i, o] : null",
            "the map of the rain warning",
        )
        .await;
    assert_eq!(counts, json!([2, 5]));
    let groups = b.text(".cap-groups").await;
    assert!(
        groups.contains("Nghiloc") || groups.contains("Nghi"),
        "{groups}"
    );
    assert!(
        groups.contains("UBND xã Nghi Lâm") && groups.contains("Chợ Nghi Văn"),
        "{groups}"
    );
    b.wait_js(
        "const f = document.querySelector('.cap-detail .screen-preview'); return f && !f.classList.contains('screen-idle')",
        "the preview on the sign",
    )
    .await;
    b.screenshot("cap-inbox-1440x900.png").await;
    // One click (and the confirmation) deploys it.
    b.click("[data-action=deploy]").await;
    b.click("dialog [data-role=confirm]").await;
    b.wait_js(
        "const d = document.querySelector('.cap-detail [data-testid=cap-delivery]'); return d && d.textContent",
        "the delivery of the deployed warning",
    )
    .await;
    let w = eventually(Duration::from_secs(10), || async {
        let (_, w) = api.get(&format!("/cap/{rain_id}")).await;
        (w["warning"]["state"] == "deployed").then_some(w)
    })
    .await
    .expect("deployed from the inbox");
    assert_eq!(w["warning"]["decided_by"], "admin");
    b.screenshot("cap-inbox-deployed-1440x900.png").await;

    // The storm: drawn by unit code (no shape), three signs inside.
    b.route(&format!("#/inbox/{}", storm["id"].as_str().unwrap()))
        .await;
    let inside = b
        .wait_js(
            "const m = document.querySelector('.cap-map svg'); return m && document.querySelector('.cap-detail h2').textContent.startsWith('Bão') \
             ? m.querySelectorAll('.map-inside').length : null",
            "the storm's map",
        )
        .await;
    assert_eq!(inside, json!(3));

    // The wall's map: every sign, coloured by what it shows.
    b.route("#/wall").await;
    b.wait_js(
        "return !!document.querySelector('.wall-map-card summary')",
        "the wall's map toggle",
    )
    .await;
    b.click(".wall-map-card summary").await;
    let states = b
        .wait_js(
            "const m = document.querySelector('.wall-map svg'); if (!m) return null; \
             return m.querySelectorAll('.map-panel').length === 7 ? m.querySelectorAll('.map-alert').length : null",
            "the wall's map with seven signs",
        )
        .await;
    assert!(
        states.as_u64().unwrap() >= 3,
        "the storm's and the rain's signs show alerts: {states}"
    );
    b.screenshot("cap-wall-map-1440x900.png").await;
    assert_eq!(b.page_errors().await, Vec::<String>::new());

    // A phone: the same inbox, nothing sideways.
    let (_driver2, p) = browser_at(390, 844).await;
    p.sign_in(&server.base, ADMIN_TOKEN, "admin").await;
    p.route(&format!("#/inbox/{rain_id}")).await;
    p.wait_js(
        "return document.querySelectorAll('.cap-map svg .map-panel').length === 7",
        "the map on a phone",
    )
    .await;
    assert_eq!(
        p.js(NO_SIDEWAYS, json!([])).await,
        json!(true),
        "the inbox scrolls sideways on a phone"
    );
    p.screenshot("cap-inbox-390x844.png").await;
    assert_eq!(p.page_errors().await, Vec::<String>::new());
    p.quit().await;
    b.quit().await;
}
