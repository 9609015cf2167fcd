//! "What the sign really shows" in a real browser (headless Chromium
//! through chromedriver, as in `dashboard`) at a desk's 1440×900 and a
//! phone's 390×844: opening a wall tile's snapshot box asks the reference
//! controller for a snapshot of its glass and shows it beside the frame
//! the server sent, both at the panel's size, with the note that they are
//! the same frame. Screenshots are kept in the target's tmp directory
//! (`snapshot-*.png`).

use std::time::Duration;

use bangtin::frame::FLAG_EMERGENCY;
use serde_json::{json, Value};

use super::dashboard::{browser_at, Browser, NO_SIDEWAYS};
use bangtin::mqtt::controller::Fleet;

use super::util::{controller, shown_until, Api, Server, ADMIN_TOKEN};

const PANEL: &str = "cho-vinh";

/// Both images of the box once loaded, as `[naturalWidth, naturalHeight]`,
/// and the note under them (its class and text).
pub(super) const PAIR: &str = "const box = document.querySelector('details[data-snapshot-of=\"cho-vinh\"]');
    const imgs = box ? [...box.querySelectorAll('.snapshot-pair img')] : [];
    const note = box && box.querySelector('.snapshot-body > p.confirm');
    if (imgs.length !== 2 || !imgs.every((i) => i.complete && i.naturalWidth > 0) || !note) return null;
    return { sizes: imgs.map((i) => [i.naturalWidth, i.naturalHeight]),
             alts: imgs.map((i) => i.alt), note: note.className, text: note.textContent };";

/// Opens the snapshot box of the panel's wall tile, waits for both
/// images and the note, and leaves the box in the middle of the screen.
pub(super) async fn open_snapshot_box(b: &Browser) -> Value {
    b.route("#/wall").await;
    // Clicked from inside the page, where finding and clicking are one
    // step: a live event may redraw the tile between a WebDriver find and
    // its click (a stale element), never under a person's finger.
    b.wait_js(
        "const box = document.querySelector('details[data-snapshot-of=\"cho-vinh\"]');
         if (!box) return null;
         if (!box.open) box.querySelector('summary').click();
         return box.open || null;",
        "the wall tile's snapshot box, open",
    )
    .await;
    let pair = b
        .wait_js(PAIR, "the frame sent and the snapshot, both loaded")
        .await;
    b.js(
        "document.querySelector('details[data-snapshot-of=\"cho-vinh\"]').scrollIntoView({block: 'center'}); return true",
        json!([]),
    )
    .await;
    pair
}

/// Creates the panel `body` with its controller, sends an emergency alert
/// to every panel and waits until the controller's glass shows it: a
/// panel with a frame acknowledged, ready for a snapshot.
pub(super) async fn showing_an_alert(server: &Server, admin: &Api, body: Value) -> Fleet {
    let id = body["id"].as_str().expect("the panel's id").to_string();
    let url = admin.create_panel_with_controller(server, body).await;
    let mut glass = controller(&url, &id);
    admin
        .send_alert(json!({"text": "Bão số 3", "targets": ["all"], "duration_s": 600}))
        .await;
    shown_until(
        &mut glass,
        Duration::from_secs(20),
        "the alert on the glass",
        |s| s.flags & FLAG_EMERGENCY != 0,
    )
    .await;
    glass
}

/// The end of a wall check at `width`×`height`: no sideways scrolling, a
/// screenshot (`{shot}-{width}x{height}.png`), no page errors, and the
/// browser closed.
pub(super) async fn wall_done(b: Browser, width: u32, height: u32, shot: &str) {
    assert_eq!(
        b.js(NO_SIDEWAYS, json!([])).await,
        json!(true),
        "the wall scrolls sideways at {width}×{height}"
    );
    b.screenshot(&format!("{shot}-{width}x{height}.png")).await;
    assert_eq!(b.page_errors().await, Vec::<String>::new());
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_shows_the_snapshot_beside_the_frame_sent() {
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    let glass = showing_an_alert(
        &server,
        &admin,
        json!({"id": PANEL, "name": "Chợ Vinh", "width": 128, "height": 32, "format": "mono1"}),
    )
    .await;

    for (width, height) in [(1440, 900), (390, 844)] {
        let (_driver, b) = browser_at(width, height).await;
        b.sign_in(&server.base, ADMIN_TOKEN, "admin").await;
        let pair = open_snapshot_box(&b).await;
        assert_eq!(
            pair["sizes"],
            json!([[128, 32], [128, 32]]),
            "both images at the panel's size: {pair}"
        );
        assert_eq!(
            pair["alts"],
            json!([
                "Khung hình máy chủ gửi cho bảng Chợ Vinh",
                "Ảnh thực tế từ bảng Chợ Vinh"
            ]),
            "the frame sent, then the glass: {pair}"
        );
        assert_eq!(
            pair["text"], "Bảng hiển thị đúng khung máy chủ đang gửi.",
            "the note says the sign shows what was sent: {pair}"
        );
        assert!(
            pair["note"].as_str().unwrap().contains("confirm-shown"),
            "{pair}"
        );
        wall_done(b, width, height, "snapshot").await;
    }
    glass.shutdown().await;
}
