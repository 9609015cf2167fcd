//! The alarm banner and the alarm list in a real browser (headless
//! Chromium through chromedriver, as in `dashboard`) at a desk's 1440×900
//! and a phone's 390×844: the banner above every page names the dark
//! signs, the list shows them and acknowledges one (who and when).
//! Screenshots are kept in the target's tmp directory (`alarms-*.png`).

use std::time::Duration;

use serde_json::json;

use super::dashboard::{browser_at, NO_SIDEWAYS};
use super::util::{eventually, Api, Server, ADMIN_TOKEN};

/// Alarms raised after a second offline; waits until `open` are open.
pub(super) async fn alarms_soon(api: &Api, open: usize) {
    let (st, v) = api
        .put("/alarms/config", json!({"offline_after_s": 1}))
        .await;
    assert_eq!(st, 200, "{v}");
    eventually(Duration::from_secs(20), || async {
        let (_, l) = api.get("/alarms").await;
        (l["open"].as_array().map(Vec::len) == Some(open)).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("{open} alarm(s) open"));
}

#[tokio::test]
async fn the_banner_and_the_alarm_list_show_dark_signs_and_take_an_acknowledgement() {
    let server = Server::start();
    let api = Api::new(&server, Some(ADMIN_TOKEN));
    for (id, name) in [
        ("cho-vinh", "Chợ Vinh"),
        ("ubnd-nghi-loc", "UBND huyện Nghi Lộc"),
    ] {
        api.create_panel(
            json!({"id": id, "name": name, "width": 128, "height": 32, "format": "mono1"}),
        )
        .await;
    }
    // Neither controller ever connects.
    alarms_soon(&api, 2).await;

    let (_driver, b) = browser_at(1440, 900).await;
    b.sign_in(&server.base, ADMIN_TOKEN, "admin").await;
    let banner = b
        .wait_js(
            "const e = document.getElementById('alarm-banner'); return e && !e.hidden ? e.textContent : null",
            "the alarm banner",
        )
        .await;
    let banner = banner.as_str().unwrap().to_string();
    assert!(banner.contains("2 bảng đang gặp sự cố"), "{banner}");
    assert!(banner.contains("Chợ Vinh"), "{banner}");
    b.screenshot("alarms-banner-wall-1440x900.png").await;
    b.click(".alarm-banner-link").await;
    let rows = b
        .wait_js(
            "const r = document.querySelectorAll('[data-page=alarms] tr[data-alarm]'); return r.length === 2 ? r.length : null",
            "the two open alarms listed",
        )
        .await;
    assert_eq!(rows, json!(2));
    assert!(b.text("[data-page=alarms]").await.contains("Mất kết nối"));
    b.click("[data-page=alarms] tr[data-alarm] button").await;
    b.wait_js(
        "return [...document.querySelectorAll('[data-page=alarms] tr[data-alarm]')].some((r) => r.textContent.includes('Đã xác nhận: admin'))",
        "the acknowledgement shown with who",
    )
    .await;
    let (_, l) = api.get("/alarms").await;
    let acked: Vec<_> = l["open"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["acked_by"] == "admin")
        .collect();
    assert_eq!(acked.len(), 1, "{l}");
    assert!(b
        .text("[data-testid=alarm-settings]")
        .await
        .contains("Giờ yên lặng"));
    b.screenshot("alarms-list-1440x900.png").await;
    assert_eq!(b.page_errors().await, Vec::<String>::new());

    let (_driver2, p) = browser_at(390, 844).await;
    p.sign_in(&server.base, ADMIN_TOKEN, "admin").await;
    p.route("#/alarms").await;
    p.wait_js(
        "const e = document.getElementById('alarm-banner'); return e && !e.hidden && document.querySelectorAll('tr[data-alarm]').length === 2",
        "the banner and the list on a phone",
    )
    .await;
    assert_eq!(
        p.js(NO_SIDEWAYS, json!([])).await,
        json!(true),
        "the alarm page scrolls sideways on a phone"
    );
    p.screenshot("alarms-list-390x844.png").await;
    assert_eq!(p.page_errors().await, Vec::<String>::new());
    p.quit().await;
    b.quit().await;
}
