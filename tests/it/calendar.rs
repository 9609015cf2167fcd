//! Districts over a real event stream (a district's live wall hears only
//! its own panels), and the calendar page in a real browser.

use std::time::Duration;

use serde_json::json;

use super::util::{Api, Server, ADMIN_TOKEN};

/// Reads an event stream until `done` holds for what it has read, for at
/// most 15 seconds; returns everything read.
async fn read_until(
    stream: &mut reqwest::Response,
    seen: &mut String,
    done: impl Fn(&str) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !done(seen) {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("the stream did not say it in time; it said:\n{seen}"))
            .expect("the stream reads")
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// A district editor's `/events` carries the district's panels only, at
/// connect and after; the province's stream carries both. Before, every
/// panel's events went to everyone.
/// Opens the calendar, month then week, and steps to next week; returns
/// this week's label (as JSON) to tell the two apart.
pub(super) async fn next_week(b: &super::dashboard::Browser) -> serde_json::Value {
    b.route("#/calendar").await;
    b.wait_js(
        "return document.querySelectorAll('.cal-month .cal-day').length === 42",
        "the month grid",
    )
    .await;
    b.click("#cal-week").await;
    let this_week = b
        .wait_js(
            "const p = document.querySelector('#cal-period'); \
             return document.querySelectorAll('.cal-week .cal-day').length === 7 && p.textContent",
            "the week grid",
        )
        .await;
    b.click("#cal-next").await;
    this_week
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_event_stream_carries_only_the_district() {
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    for (id, group) in [("vinh-1", "vinh"), ("cua-lo-1", "cua-lo")] {
        admin
            .create_panel(json!({"id": id, "name": format!("Bảng {id}"), "width": 64,
                "height": 16, "format": "mono1", "groups": [group]}))
            .await;
    }
    let (st, t) = admin
        .post(
            "/tokens",
            json!({"name": "tuong-cua-lo", "roles": ["editor"], "scope": ["cua-lo"]}),
        )
        .await;
    assert_eq!(st, 201, "{t}");
    let district = Api::new(&server, t["token"].as_str());
    let open = |api: &Api| api.req(reqwest::Method::GET, "/events").send();
    let (mut mine, mut all) = (open(&district).await.unwrap(), open(&admin).await.unwrap());
    assert_eq!((mine.status().as_u16(), all.status().as_u16()), (200, 200));
    let (mut heard, mut heard_all) = (String::new(), String::new());
    read_until(&mut mine, &mut heard, |s| s.contains(r#""id":"cua-lo-1""#)).await;
    // Alerts make both panels show something new: vinh-1 first.
    let alert = |group: &str| json!({"text": "Bão số 3", "targets": [format!("group:{group}")], "duration_s": 600});
    let vinh = admin.send_alert(alert("vinh")).await;
    let cua_lo = admin.send_alert(alert("cua-lo")).await;
    read_until(&mut all, &mut heard_all, |s| {
        s.contains(&format!(r#""alert":"{vinh}""#)) && s.contains(&format!(r#""alert":"{cua_lo}""#))
    })
    .await;
    read_until(&mut mine, &mut heard, |s| {
        s.contains(&format!(r#""alert":"{cua_lo}""#))
    })
    .await;
    assert!(heard_all.contains(r#""id":"vinh-1""#), "{heard_all}");
    assert!(
        !heard.contains("vinh-1") && !heard.contains(&vinh),
        "another district's panel in the district's stream:\n{heard}"
    );
}

/// The Monday after today in Vietnam.
fn next_monday() -> chrono::NaiveDate {
    use chrono::Datelike;
    let today = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive();
    today + chrono::Days::new(7 - u64::from(today.weekday().num_days_from_monday()))
}

/// The calendar page in a real browser (headless Chromium, as in
/// `dashboard`), at 1440×900 and 390×844: next week shows a campaign,
/// flags its conflict with another on the same panel and says which wins;
/// navigation goes forward and back; the campaign list gives each
/// campaign's status; and the panel time picker says what the panel shows
/// next Monday at 07:00. Screenshots go to the target's tmp directory
/// (`calendar-*.png`).
#[tokio::test]
async fn the_calendar_shows_next_week_its_conflict_and_next_monday_at_seven() {
    use super::dashboard::{browser_at, NO_SIDEWAYS};
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    for (id, name, group) in [
        ("vinh-1", "Quảng trường Hồ Chí Minh", "vinh"),
        ("cua-lo-1", "Bãi biển Cửa Lò", "cua-lo"),
    ] {
        admin
            .create_panel(json!({"id": id, "name": name, "width": 128, "height": 32,
                "format": "mono1", "groups": [group]}))
            .await;
    }
    let approver = admin.with_roles("duyet", &["approver"]).await;
    let mut msgs = Vec::new();
    for title in ["Định danh mức 2", "Thanh toán không tiền mặt"] {
        let id = admin
            .create_message(json!({"title": title, "text": format!("{title} — Đề án 06")}))
            .await;
        approver.approve(&id).await;
        msgs.push(id);
    }
    let monday = next_monday();
    let post = |body: serde_json::Value| {
        let admin = admin.clone();
        async move {
            let (st, v) = admin.post("/campaigns", body).await;
            assert_eq!(st, 201, "{v}");
            v["id"].as_str().unwrap().to_string()
        }
    };
    let id06 = post(
        json!({"name": "Đề án 06 buổi sáng", "messages": [{"id": msgs[0], "dwell_s": 10}],
        "targets": ["group:cua-lo"], "cron": "0 7 * * 1", "duration_s": 7200, "priority": 10}),
    )
    .await;
    let cash = post(
        json!({"name": "Không dùng tiền mặt", "messages": [{"id": msgs[1], "dwell_s": 10}],
        "targets": ["all"], "start": monday.to_string(),
        "end": (monday + chrono::Days::new(6)).to_string(), "priority": 5}),
    )
    .await;

    for (w, h) in [(1440, 900), (390, 844)] {
        let (_driver, b) = browser_at(w, h).await;
        b.sign_in(&server.base, ADMIN_TOKEN, "admin").await;
        let this_week = next_week(&b).await;
        let monday_cell = format!("[data-day='{monday}']");
        b.wait_js(
            &format!(
                "return !!document.querySelector(\"{monday_cell} .cal-chip-conflict[data-campaign='{id06}'] [data-flag=conflict]\") \
                 && !!document.querySelector(\"{monday_cell} [data-campaign='{cash}']\")"
            ),
            "next Monday with both campaigns, flagged",
        )
        .await;
        let chip = b
            .text(&format!("{monday_cell} [data-campaign='{id06}']"))
            .await;
        assert!(
            chip.contains("07:00") && chip.contains("Đề án 06"),
            "{chip}"
        );
        // The two campaigns on that day are told apart by colour and
        // pattern, not by their names alone.
        let looks = b
            .js(
                "return arguments[0].map((id) => { \
                   const s = document.querySelector(`${arguments[1]} [data-campaign='${id}'] .swatch`); \
                   return [getComputedStyle(s).backgroundColor, [...s.classList].find((c) => c.startsWith('cal-pat-'))]; })",
                json!([[id06, cash], monday_cell]),
            )
            .await;
        let (a, c) = (&looks[0], &looks[1]);
        assert!(
            a[0].as_str().is_some_and(|s| s.starts_with("rgb")) && a[0] != c[0],
            "two campaigns, two colours: {looks}"
        );
        assert!(
            a[1].is_string() && a[1] != c[1],
            "two campaigns, two patterns: {looks}"
        );
        let conflicts = b.text("#cal-conflicts").await;
        assert!(
            conflicts.contains(
                "“Đề án 06 buổi sáng” (ưu tiên 10) thắng “Không dùng tiền mặt” (ưu tiên 5)"
            ),
            "{conflicts}"
        );
        let status = b
            .text(&format!("#cal-campaigns tr[data-campaign='{cash}']"))
            .await;
        assert!(status.contains("Sắp chạy"), "{status}");
        b.js(
            "document.querySelector('#cal-conflicts').scrollIntoView(); return true",
            json!([]),
        )
        .await;
        if w > 1000 {
            b.js(
                "document.querySelector('#main').scrollTop = 0; return true",
                json!([]),
            )
            .await;
        }
        b.screenshot(&format!("calendar-week-{w}x{h}.png")).await;
        // Back to this week.
        b.click("#cal-prev").await;
        b.wait_js(
            &format!("return document.querySelector('#cal-period').textContent === {this_week}"),
            "this week again",
        )
        .await;
        // What the Cửa Lò panel shows next Monday at 07:00, from its tile
        // on the panel wall.
        b.route("#/wall").await;
        b.click(".tile[data-panel='cua-lo-1'] a[data-at]").await;
        b.wait_js(
            "return document.querySelector('#at-panel')?.value === 'cua-lo-1'",
            "the picker open on the panel",
        )
        .await;
        b.set_value("#at-time", &format!("{monday}T07:00")).await;
        b.click("#at-go").await;
        b.wait_js(
            "return document.querySelector('#at-result [data-show=message]')?.innerText || false",
            "the answer for next Monday 07:00",
        )
        .await;
        let said = b.text("#at-result").await;
        assert!(
            said.contains("“Định danh mức 2”")
                && said.contains("“Đề án 06 buổi sáng”")
                && said.contains("07:00"),
            "{said}"
        );
        assert_eq!(b.js(NO_SIDEWAYS, json!([])).await, json!(true), "{w}×{h}");
        let page = b.text("main").await;
        assert!(
            !page.contains("null") && !page.contains("undefined"),
            "{page}"
        );
        b.js(
            "document.querySelector('#at-result').scrollIntoView(); return true",
            json!([]),
        )
        .await;
        b.screenshot(&format!("calendar-at-{w}x{h}.png")).await;
        assert_eq!(b.page_errors().await, Vec::<String>::new());
        b.quit().await;
    }
}
