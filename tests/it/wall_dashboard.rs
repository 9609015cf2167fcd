//! The panel wall's layout and redraws in a real browser (headless
//! Chromium through chromedriver, as in `dashboard`): districts with one
//! panel share a row on a desk's 1440×900 and stack on a phone's 390×844,
//! each heading with its tiles; and a full redraw of the wall (the
//! district filter, a panel added) leaves an open snapshot box open with
//! its images. Screenshots are kept in the target's tmp directory
//! (`wall-*.png`).

use serde_json::{json, Value};

use super::dashboard::{browser_at, Browser};
use super::snapshot_dashboard::{open_snapshot_box, showing_an_alert, wall_done, PAIR};
use super::util::{Api, Server, ADMIN_TOKEN};

/// A 128×32 single-colour panel (a P10 sign) in one district.
fn p10(id: &str, name: &str, district: &str) -> Value {
    json!({"id": id, "name": name, "width": 128, "height": 32, "format": "mono1",
           "groups": [district]})
}

/// Each district section's box and whether its heading sits above its
/// tiles inside it, once every section has its tiles drawn.
const SECTIONS: &str = "const s = [...document.querySelectorAll('.wall section.district')];
    if (s.length !== 3 || s.some((x) => !x.querySelector('.tile'))) return null;
    return Object.fromEntries(s.map((x) => {
      const r = x.getBoundingClientRect();
      const h2 = x.querySelector('h2').getBoundingClientRect();
      const tiles = x.querySelector('.tiles').getBoundingClientRect();
      return [x.querySelector('h2').id.slice(2), { top: Math.round(r.top), bottom: Math.round(r.bottom),
        left: Math.round(r.left), right: Math.round(r.right),
        heading_above_tiles: h2.bottom <= tiles.top && h2.top >= r.top && tiles.bottom <= r.bottom }];
    }));";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_districts_share_a_row_on_a_desk_and_stack_on_a_phone() {
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    for p in [
        p10("cho-vinh", "Chợ Vinh", "hai-chau"),
        p10("cau-rong", "Cầu Rồng", "son-tra"),
        p10("tk-1", "Ngã tư Hà Huy Tập", "thanh-khe"),
        p10("tk-2", "Chợ Thanh Khê", "thanh-khe"),
        p10("tk-3", "UBND quận Thanh Khê", "thanh-khe"),
    ] {
        admin.create_panel(p).await;
    }
    for (width, height) in [(1440, 900), (390, 844)] {
        let (_driver, b) = browser_at(width, height).await;
        b.sign_in(&server.base, ADMIN_TOKEN, "admin").await;
        b.route("#/wall").await;
        let s = b.wait_js(SECTIONS, "three district sections").await;
        for d in ["hai-chau", "son-tra", "thanh-khe"] {
            assert_eq!(
                s[d]["heading_above_tiles"], true,
                "{d}'s heading with its tiles at {width}×{height}: {s}"
            );
        }
        let (one, two) = (&s["hai-chau"], &s["son-tra"]);
        if width > 1000 {
            assert_eq!(
                one["top"], two["top"],
                "two one-panel districts share a row on a desk: {s}"
            );
            assert!(
                one["right"].as_i64() < two["left"].as_i64(),
                "side by side: {s}"
            );
            assert!(
                s["thanh-khe"]["top"].as_i64() >= one["bottom"].as_i64(),
                "the three-panel district on a row below them: {s}"
            );
        } else {
            assert!(
                two["top"].as_i64() >= one["bottom"].as_i64(),
                "one-panel districts stack on a phone: {s}"
            );
        }
        wall_done(b, width, height, "wall-districts").await;
    }
}

/// Asserts that the snapshot box open before the redraw (marked) is still
/// its tile's open box, with both images and the note shown.
async fn assert_box_kept(b: &Browser, after: &str) {
    let kept = "const box = document.querySelector('details[data-snapshot-of=\"cho-vinh\"]');
        return !!box && box.open && box.dataset.kept === 'yes';";
    assert_eq!(
        b.js(kept, json!([])).await,
        json!(true),
        "the snapshot box stays open when {after} redraws the wall"
    );
    let pair = b.js(PAIR, json!([])).await;
    assert!(
        pair.is_object(),
        "both images still shown after {after}: {pair}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_redraw_keeps_the_snapshot_box_open() {
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    let glass = showing_an_alert(&server, &admin, p10("cho-vinh", "Chợ Vinh", "hai-chau")).await;
    admin
        .create_panel(p10("cau-rong", "Cầu Rồng", "son-tra"))
        .await;

    let (_driver, b) = browser_at(1440, 900).await;
    b.sign_in(&server.base, ADMIN_TOKEN, "admin").await;
    open_snapshot_box(&b).await;
    b.js(
        "document.querySelector('details[data-snapshot-of=\"cho-vinh\"]').dataset.kept = 'yes'; return true",
        json!([]),
    )
    .await;

    // The district filter redraws the whole wall.
    b.js(
        "const s = [...document.querySelectorAll('.toolbar select')].find((x) => [...x.options].some((o) => o.value === 'hai-chau'));
         s.value = 'hai-chau'; s.dispatchEvent(new Event('change')); return true",
        json!([]),
    )
    .await;
    b.wait_js(
        "return !document.querySelector('[data-panel=\"cau-rong\"]')",
        "the wall filtered to Hải Châu",
    )
    .await;
    assert_box_kept(&b, "the district filter").await;

    // A panel added through the API, in the district shown: its tile
    // appears (a full redraw) and the box stays open.
    admin
        .create_panel(p10("cho-han", "Chợ Hàn", "hai-chau"))
        .await;
    b.wait_js(
        "return !!document.querySelector('[data-panel=\"cho-han\"]')",
        "the added panel's tile on the wall",
    )
    .await;
    assert_box_kept(&b, "a panel added").await;

    // A panel in a district the wall has not seen: the district filter
    // offers it, and the choice made stays.
    admin
        .create_panel(p10("nui-thanh", "Núi Thành", "thanh-khe"))
        .await;
    b.wait_js(
        "const s = [...document.querySelectorAll('.toolbar select')].find((x) => [...x.options].some((o) => o.value === 'hai-chau'));
         return [...s.options].some((o) => o.value === 'thanh-khe') && s.value === 'hai-chau'",
        "the new district offered by the filter, Hải Châu still chosen",
    )
    .await;
    assert_box_kept(&b, "a new district").await;
    wall_done(b, 1440, 900, "wall-snapshot-kept").await;
    glass.shutdown().await;
}
