//! The server's sentences on the pages staff read, in a real browser
//! (headless Chromium through chromedriver, as in `dashboard`): a vendor
//! card's link error on the wall, the alarm banner's count, a CAP
//! warning's decision notes in the inbox, and the reports page, in
//! Vietnamese (the default) and in English, at a desk's 1440×900 and a
//! phone's 390×844. Each English page must carry no Vietnamese sentence
//! of the server's and the reverse. Screenshots are kept in the target's
//! tmp directory (`sentences-*.png`).

use chrono::Utc;
use serde_json::json;

use super::cap::fixture;
use super::dashboard::{browser_at, Browser, NO_SIDEWAYS};
use super::util::{free_port, Api, Server, ADMIN_TOKEN};

/// The text of `css` once it contains `want`.
async fn text_with(b: &Browser, css: &str, want: &str) -> String {
    let v = b
        .wait_js(
            &format!(
                "const e = document.querySelector({css:?}); return e && e.innerText.includes({want:?}) && e.innerText"
            ),
            &format!("{want:?} in {css}"),
        )
        .await;
    v.as_str().unwrap_or_default().to_string()
}

/// Walks the four pages in the dashboard's language, checking the
/// server's sentences, and keeps a screenshot of each.
async fn walk(b: &Browser, lang: &str, size: &str, warning: &str) {
    let vi = lang == "vi";
    b.route("#/wall").await;
    let tile = text_with(
        b,
        "[data-panel=\"the-cong\"] .tile-link",
        if vi {
            "Không kết nối được tới 127.0.0.1"
        } else {
            "cannot connect to 127.0.0.1"
        },
    )
    .await;
    assert!(
        vi != tile.contains("cannot connect"),
        "the link error in the other language: {tile:?}"
    );
    b.screenshot(&format!("sentences-wall-{lang}-{size}.png"))
        .await;

    b.route("#/alarms").await;
    let banner = text_with(
        b,
        "#alarm-banner",
        if vi {
            "1 bảng đang gặp sự cố"
        } else {
            "1 sign is in trouble"
        },
    )
    .await;
    assert!(!banner.contains("1 signs"), "{banner}");
    b.wait_js(
        "return document.querySelectorAll('[data-page=alarms] tr[data-alarm]').length === 1",
        "the alarm listed",
    )
    .await;
    b.screenshot(&format!("sentences-alarms-{lang}-{size}.png"))
        .await;

    b.route(&format!("#/inbox/{warning}")).await;
    let notes = text_with(
        b,
        ".cap-notes",
        if vi {
            "Không có bảng nào trong vùng cảnh báo"
        } else {
            "no panel stands in its area"
        },
    )
    .await;
    assert!(
        vi != notes.contains("no panel stands"),
        "the decision note in the other language: {notes:?}"
    );
    b.screenshot(&format!("sentences-inbox-{lang}-{size}.png"))
        .await;

    b.route("#/reports").await;
    b.wait_js(
        "return !!document.querySelector('main .page h1')",
        "the reports page",
    )
    .await;
    // Charts and tables load after the heading.
    b.try_wait(
        "return document.querySelectorAll('main .card').length > 1",
        5,
    )
    .await;
    b.screenshot(&format!("sentences-reports-{lang}-{size}.png"))
        .await;
    assert_eq!(b.page_errors().await, Vec::<String>::new());
}

#[tokio::test]
async fn the_servers_sentences_come_in_the_dashboards_language() {
    let server = Server::start();
    let api = Api::new(&server, Some(ADMIN_TOKEN));
    // An HD2020 card at a port where nothing listens: the wall shows why.
    let nobody = free_port();
    api.create_panel(json!({
        "id": "the-cong", "name": "Cổng UBND phường Hưng Dũng", "width": 64, "height": 32,
        "format": "mono1", "groups": ["tp-vinh"],
        "transport": {"kind": "hd2020", "address": format!("127.0.0.1:{nobody}"), "color_type": "single"}
    }))
    .await;
    super::alarms_dashboard::alarms_soon(&api, 1).await;
    // A storm warning whose area holds no sign: kept, with a note saying so.
    super::cap_dashboard::storms_go_out_at_once(&server);
    let storm = super::cap_dashboard::post_cap(&server, fixture("storm-vi", Utc::now())).await;
    let notes = storm["notes"].as_array().expect("notes").clone();
    // No Accept-Language: Vietnamese.
    assert_eq!(
        notes,
        vec![json!("Không có bảng nào trong vùng cảnh báo.")],
        "{storm}"
    );
    let warning = storm["id"].as_str().unwrap().to_string();

    for (width, height) in [(1440, 900), (390, 844)] {
        let size = format!("{width}x{height}");
        let (_driver, b) = browser_at(width, height).await;
        b.sign_in(&server.base, ADMIN_TOKEN, "admin").await;
        walk(&b, "vi", &size, &warning).await;
        b.click(".topbar button[lang=en]").await;
        walk(&b, "en", &size, &warning).await;
        assert_eq!(
            b.js(NO_SIDEWAYS, json!([])).await,
            json!(true),
            "the reports page scrolls sideways at {size}"
        );
        b.click(".topbar button[lang=vi]").await;
        b.quit().await;
    }
}
