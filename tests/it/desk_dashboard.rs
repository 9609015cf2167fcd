//! The approval desk in a real browser over real HTTP (headless Chromium,
//! as in `dashboard`): a district editor signs in with a password and
//! writes a message; the provincial approver rejects it with a comment on
//! the "Chờ duyệt" page; the editor sees the comment (notification and
//! composer) and fixes the message; the approver sees the word diff
//! (insertions and deletions marked) and approves. Screenshots at
//! 1440×900 and 390×844 go to the target's tmp directory (`desk-*.png`).

use serde_json::json;

use super::accounts::{account, sign_in_with_password};
use super::dashboard::{browser_at, Browser};
use super::desk::two_districts;
use super::util::{eventually, Api, Server, ADMIN_TOKEN};

/// The password each person chose at their first sign-in.
const CHOSEN: &str = "một câu dễ nhớ của tôi";

/// Signs in again with the chosen password.
async fn sign_in_again(b: &Browser, base: &str, username: &str, name: &str) {
    b.goto(&format!("{base}/")).await;
    b.wait_js(
        "return !!document.querySelector('#username')",
        "the sign-in form",
    )
    .await;
    b.set_value("#username", username).await;
    b.set_value("#password", CHOSEN).await;
    b.click("#signin-password button[type=submit]").await;
    b.wait_js(
        &format!("const e = document.querySelector('[data-testid=me]'); return !!e && e.textContent === {name:?}"),
        &format!("signed in as {name}"),
    )
    .await;
}

async fn sign_out(b: &Browser) {
    b.click("#signout").await;
    b.wait_js(
        "return !!document.querySelector('#username')",
        "the sign-in form",
    )
    .await;
}

/// Waits until the admin reads message `id` satisfying `f`.
async fn message_until(admin: &Api, id: &str, what: &str, f: impl Fn(&serde_json::Value) -> bool) {
    let path = format!("/messages/{id}");
    let found = eventually(std::time::Duration::from_secs(10), || async {
        let (_, m) = admin.get(&path).await;
        f(&m).then_some(())
    })
    .await;
    assert!(found.is_some(), "{what}: {}", admin.get(&path).await.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_is_rejected_with_a_comment_fixes_it_and_the_approver_approves_the_diff() {
    let server = Server::start();
    let base = server.base.clone();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    two_districts(&admin).await;
    let (st, g) = admin
        .post("/groups", json!({"id": "cua-lo", "name": "Thị xã Cửa Lò"}))
        .await;
    assert_eq!(st, 201, "{g}");
    for (w, h) in [(1440, 900), (390, 844)] {
        let size = format!("{w}x{h}");
        let (editor, approver) = (format!("lan-{w}"), format!("hung-{w}"));
        let (lan, hung) = (format!("Nguyễn Thị Lan {w}"), format!("Trần Văn Hùng {w}"));
        account(&admin, &editor, &lan, &["editor"], Some(&["cua-lo"])).await;
        account(&admin, &approver, &hung, &["approver"], None).await;
        let (_driver, b) = browser_at(w, h).await;

        // The district editor sees only Cửa Lò's panels, and writes a
        // message; a campaign places it in Cửa Lò.
        sign_in_with_password(&b, &base, &editor, &lan, None).await;
        b.route("#/wall").await;
        b.wait_js(
            "return document.querySelector('main').innerText.includes('Bãi biển Cửa Lò')",
            "the district's panel on the wall",
        )
        .await;
        let wall = b.text("main").await;
        assert!(
            !wall.contains("Quảng trường"),
            "another district's panel is shown: {wall}"
        );
        b.route("#/messages/new").await;
        b.set_value("input[name=title]", &format!("Đề án 06 ({size})"))
            .await;
        b.set_value(
            "#msg-text",
            "Kích hoạt định danh điện tử mức 2 tại công an phường Thu Thuỷ.",
        )
        .await;
        let id = b.save_message().await;
        let (st, c) = admin
            .post(
                "/campaigns",
                json!({"name": format!("Đề án 06 Cửa Lò {w}"), "messages": [{"id": id, "dwell_s": 10}],
                       "targets": ["group:cua-lo"], "start": "2020-01-01", "priority": 1}),
            )
            .await;
        assert_eq!(st, 201, "{c}");
        let campaign = c["id"].as_str().unwrap().to_string();
        sign_out(&b).await;

        // The provincial approver rejects it with a comment.
        sign_in_with_password(&b, &base, &approver, &hung, None).await;
        b.route("#/desk").await;
        let item = format!("[data-message='{id}']");
        b.wait_js(
            &format!("const e = document.querySelector(\"{item}\"); return !!e && e.innerText.includes('Thị xã Cửa Lò') && e.innerText.includes('Đề án 06 Cửa Lò {w}') && e.innerText.includes({editor:?})"),
            "the queue item with who wrote it and where it runs",
        )
        .await;
        b.screenshot(&format!("desk-queue-{size}.png")).await;
        b.click(&format!("{item} [data-action=reject]")).await;
        let comment = "Ghi rõ giờ làm việc: sáng thứ Bảy.";
        b.set_value(&format!("#reject-{id}"), comment).await;
        b.click(&format!("{item} [data-action=send-reject]")).await;
        message_until(&admin, &id, "rejected", |m| {
            m["rejection"]["comment"] == comment
        })
        .await;
        b.wait_js(
            &format!("return !document.querySelector(\"{item}\")"),
            "the item leaving the queue",
        )
        .await;
        sign_out(&b).await;

        // The editor sees the comment, in the notifications and the composer.
        sign_in_again(&b, &base, &editor, &lan).await;
        b.wait_js(
            "const c = document.querySelector('#notify .notify-count'); return !!c && !c.hidden && c.textContent !== ''",
            "a new notification",
        )
        .await;
        b.click("#notify").await;
        b.wait_js(
            &format!("const p = document.querySelector('#notify-panel'); return !!p && !p.hidden && p.innerText.includes({comment:?})"),
            "the rejection with its comment in the notifications",
        )
        .await;
        b.screenshot(&format!("desk-notified-{size}.png")).await;
        b.click("#notify-close").await;
        b.route(&format!("#/messages/{id}")).await;
        b.wait_js(
            &format!("const e = document.querySelector('#rejection-note'); return !!e && e.innerText.includes({comment:?})"),
            "the comment in the composer",
        )
        .await;
        b.screenshot(&format!("desk-rejected-{size}.png")).await;
        // Fixes it.
        b.set_value(
            "#msg-text",
            "Kích hoạt định danh điện tử mức 2 tại công an phường Thu Thuỷ, sáng thứ Bảy.",
        )
        .await;
        b.click("#save-message").await;
        message_until(&admin, &id, "the fix saved", |m| {
            m["version"] == 2 && m.get("rejection").is_none()
        })
        .await;
        sign_out(&b).await;

        // The approver sees the diff, marked, and approves.
        sign_in_again(&b, &base, &approver, &hung).await;
        b.route("#/desk").await;
        let ins = b
            .wait_js(
                &format!("const e = document.querySelector(\"[data-diff='{id}'] ins\"); return !!e && e.innerText"),
                "the inserted words",
            )
            .await;
        assert!(
            ins.as_str().unwrap().contains("sáng thứ Bảy"),
            "insertion marked: {ins}"
        );
        // Marked by more than colour: a sign and a spoken label.
        let marks = b
            .js(
                &format!("const e = document.querySelector(\"[data-diff='{id}'] ins\"); return [getComputedStyle(e, '::before').content, e.querySelector('.visually-hidden').textContent]"),
                json!([]),
            )
            .await;
        assert_eq!(marks[0], "\"+\"", "{marks}");
        assert!(!marks[1].as_str().unwrap().is_empty(), "{marks}");
        // The history: both versions, the first with its rejection.
        b.click(&format!("{item} [data-action=history]")).await;
        b.wait_js(
            &format!("const v = document.querySelector(\"{item} .desk-versions li[data-version='1']\"); return !!v && v.innerText.includes({comment:?}) && !!document.querySelector(\"{item} .desk-versions li[data-version='2']\")"),
            "the version history with the rejection",
        )
        .await;
        b.screenshot(&format!("desk-diff-{size}.png")).await;
        b.click(&format!("{item} [data-action=approve]")).await;
        message_until(&admin, &id, "approved", |m| {
            m["status"] == "approved" && m["approved_by"] == approver.as_str()
        })
        .await;
        let errors = b.page_errors().await;
        assert!(errors.is_empty(), "{errors:#?}");
        sign_out(&b).await;

        // The editor's calendar shows the campaign next week.
        sign_in_again(&b, &base, &editor, &lan).await;
        let this_week = super::calendar::next_week(&b).await;
        b.wait_js(
            &format!(
                "const p = document.querySelector('#cal-period'); \
                 return p.textContent !== {this_week} \
                 && document.querySelectorAll(\".cal-week [data-campaign='{campaign}']\").length === 7"
            ),
            "the approved message's campaign on every day of next week",
        )
        .await;
        b.screenshot(&format!("desk-calendar-{size}.png")).await;
        sign_out(&b).await;
        b.quit().await;
    }
}
