//! The calendar and "what at T" through the real router: occurrences,
//! conflicts by priority, status, bounds, district scopes, and the
//! player's own answer for an instant.

use chrono::{Datelike, Days, NaiveDate, TimeZone, Utc};
use serde_json::{json, Value};

use super::{panel, Client, Rig};
use crate::domain::Role;

/// The Monday after today in Vietnam.
fn next_monday() -> NaiveDate {
    let today = Utc::now()
        .with_timezone(&crate::schedule::DEFAULT_TZ)
        .date_naive();
    today + Days::new(7 - u64::from(today.weekday().num_days_from_monday()))
}

/// `day` at `hh:mm` in Vietnam, as RFC 3339 with `+07:00`.
fn vn(day: NaiveDate, hh: u32, mm: u32) -> String {
    crate::schedule::DEFAULT_TZ
        .from_local_datetime(&day.and_hms_opt(hh, mm, 0).unwrap())
        .unwrap()
        .to_rfc3339()
}

fn q(s: &str) -> String {
    s.replace('+', "%2B")
}

async fn approved(c: &Client<'_>, title: &str) -> String {
    let m = c
        .create_message(json!({"title": title, "text": format!("{title}: tin mẫu")}))
        .await;
    let id = m["id"].as_str().unwrap().to_string();
    let (st, v) = c.post(&format!("/messages/{id}/approve"), json!({})).await;
    assert_eq!(st, 200, "{v}");
    id
}

/// One panel `{district}-1` per district, and the two approved messages
/// of the Project 06 campaign the tests place.
async fn panels_and_messages(admin: &Client<'_>, districts: &[&str]) -> (String, String) {
    for d in districts {
        admin
            .create_panel(panel(&format!("{d}-1"), 128, 32, "mono1", &[d]))
            .await;
    }
    (
        approved(admin, "Định danh mức 2").await,
        approved(admin, "Thanh toán không tiền mặt").await,
    )
}

async fn campaign(c: &Client<'_>, body: Value) -> String {
    let (st, v) = c.post("/campaigns", body).await;
    assert_eq!(st, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

/// The campaigns the calendar test reads, and the week it asks about.
struct Week {
    /// Mondays 07:00–09:00 on Cửa Lò, priority 10.
    a: String,
    /// All of next week everywhere, priority 5.
    b: String,
    /// Vinh only, last year.
    ended: String,
    /// This week on Vinh.
    running: String,
    /// The message of B, ended and running.
    cash: String,
    monday: NaiveDate,
    /// `/calendar?from=…&to=…` for next week.
    path: String,
}

async fn four_campaigns(admin: &Client<'_>) -> Week {
    let (id06, cash) = panels_and_messages(admin, &["vinh", "cua-lo"]).await;
    let monday = next_monday();
    let day = |d: NaiveDate| d.to_string();
    let a = campaign(
        admin,
        json!({"name": "Đề án 06", "messages": [{"id": id06, "dwell_s": 10}],
        "targets": ["group:cua-lo"], "cron": "0 7 * * 1", "duration_s": 7200, "priority": 10}),
    )
    .await;
    let b = campaign(admin, json!({"name": "Không tiền mặt", "messages": [{"id": cash, "dwell_s": 10}],
        "targets": ["all"], "start": day(monday), "end": day(monday + Days::new(6)), "priority": 5})).await;
    let today = Utc::now()
        .with_timezone(&crate::schedule::DEFAULT_TZ)
        .date_naive();
    let ended = campaign(admin, json!({"name": "Cũ", "messages": [{"id": cash, "dwell_s": 10}],
        "targets": ["group:vinh"], "start": day(today - Days::new(400)), "end": day(today - Days::new(300)), "priority": 1})).await;
    let running = campaign(admin, json!({"name": "Đang chạy", "messages": [{"id": cash, "dwell_s": 10}],
        "targets": ["vinh-1"], "start": day(today - Days::new(1)), "end": day(today + Days::new(1)), "priority": 1})).await;
    let path = format!(
        "/calendar?from={}&to={}",
        q(&vn(monday, 0, 0)),
        q(&vn(monday + Days::new(7), 0, 0))
    );
    Week {
        a,
        b,
        ended,
        running,
        cash,
        monday,
        path,
    }
}

/// A campaign's entry in a calendar answer.
fn campaign_in(cal: &Value, id: &str) -> Option<Value> {
    cal["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
}

/// The panels a campaign reaches in a calendar answer.
fn panels(cal: &Value, id: &str) -> Option<Value> {
    campaign_in(cal, id).map(|c| c["panels"].clone())
}

#[tokio::test]
async fn the_calendar_shows_occurrences_conflicts_and_status_within_bounds() {
    let rig = Rig::self_approving();
    let admin = rig.admin();
    let w = four_campaigns(&admin).await;
    let Week { a, b, monday, .. } = &w;
    let (st, cal) = admin.get(&w.path).await;
    assert_eq!(st, 200, "{cal}");
    let occ = cal["occurrences"].as_array().unwrap();
    let of = |id: &str| {
        occ.iter()
            .filter(|o| o["campaign"] == id)
            .collect::<Vec<_>>()
    };
    let (oa, ob) = (of(a), of(b));
    assert_eq!((oa.len(), ob.len()), (1, 1), "{cal}");
    let instant = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert_eq!(instant(&oa[0]["start"]), instant(&json!(vn(*monday, 7, 0))));
    assert_eq!(instant(&oa[0]["end"]), instant(&json!(vn(*monday, 9, 0))));
    assert_eq!(panels(&cal, a), Some(json!(["cua-lo-1"])));
    assert_eq!(panels(&cal, b), Some(json!(["cua-lo-1", "vinh-1"])));
    assert_eq!(
        (oa[0]["panel_count"].as_u64(), ob[0]["panel_count"].as_u64()),
        (Some(1), Some(2))
    );
    // The conflict, both ways, on the one panel both reach: A wins by priority.
    assert_eq!(oa[0]["conflicts"][0]["campaign"], json!(b));
    assert_eq!(oa[0]["conflicts"][0]["outcome"], "wins");
    assert_eq!(oa[0]["conflicts"][0]["panels"], json!(["cua-lo-1"]));
    assert_eq!(oa[0]["conflicts"][0]["panel_count"], 1);
    assert_eq!(ob[0]["conflicts"][0]["campaign"], json!(a));
    assert_eq!(ob[0]["conflicts"][0]["outcome"], "yields");
    let status = |id: &str| campaign_in(&cal, id).map(|c| c["status"].clone());
    assert_eq!(status(b), Some(json!("upcoming")));
    assert_eq!(status(&w.ended), Some(json!("ended")));
    assert_eq!(status(&w.running), Some(json!("running")));
    a_district_and_a_group_see_their_panels(&rig, &admin, &w).await;
    the_bounds_hold(&admin, &w).await;
}

/// A district's scheduler sees Cửa Lò's panels only; `group=` keeps one
/// group's panels.
async fn a_district_and_a_group_see_their_panels(rig: &Rig, admin: &Client<'_>, w: &Week) {
    let lich = rig
        .person("lich", &[Role::Scheduler], Some(&["cua-lo"]))
        .await;
    let (_, mine) = lich.get(&w.path).await;
    let ids: Vec<&str> = mine["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&w.a.as_str()) && ids.contains(&w.b.as_str()),
        "{mine}"
    );
    assert!(!ids.contains(&w.running.as_str()) && !ids.contains(&w.ended.as_str()));
    assert!(!mine.to_string().contains("vinh-1"), "{mine}");
    let (_, vinh) = admin.get(&format!("{}&group=vinh", w.path)).await;
    let vinh_occ = vinh["occurrences"].as_array().unwrap();
    assert!(
        vinh_occ.iter().all(|o| o["campaign"] != json!(w.a)),
        "{vinh}"
    );
    assert!(
        vinh_occ.iter().any(|o| o["campaign"] == json!(w.b)),
        "{vinh}"
    );
    assert_eq!(panels(&vinh, &w.b), Some(json!(["vinh-1"])));
    assert_eq!(panels(&vinh, &w.a), None);
}

/// Bounds: a span too long, and too many occurrences.
async fn the_bounds_hold(admin: &Client<'_>, w: &Week) {
    let (st, v) = admin
        .get(&format!(
            "/calendar?from={}&to={}",
            q(&vn(w.monday, 0, 0)),
            q(&vn(w.monday + Days::new(63), 0, 0))
        ))
        .await;
    assert_eq!(st, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("62 days"), "{v}");
    campaign(
        admin,
        json!({"name": "Dày đặc", "messages": [{"id": w.cash, "dwell_s": 10}],
        "targets": ["vinh-1"], "cron": "*/2 * * * *", "duration_s": 60, "priority": 1}),
    )
    .await;
    let (st, v) = admin.get(&w.path).await;
    assert_eq!(st, 400, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("more than 2000"),
        "{v}"
    );
}

/// `GET /panels/{id}/at` answers with the live player's rules: next
/// Monday at 07:00 the higher priority's message, at 10:00 the other
/// campaign's; an alert on now wins now and has lapsed by Monday.
#[tokio::test]
async fn what_a_panel_shows_at_an_instant() {
    let rig = Rig::self_approving();
    let admin = rig.admin();
    let (id06, cash) = panels_and_messages(&admin, &["cua-lo"]).await;
    let monday = next_monday();
    campaign(
        &admin,
        json!({"name": "Đề án 06", "messages": [{"id": id06, "dwell_s": 10}],
        "targets": ["group:cua-lo"], "cron": "0 7 * * 1", "duration_s": 7200, "priority": 10}),
    )
    .await;
    campaign(&admin, json!({"name": "Không tiền mặt", "messages": [{"id": cash, "dwell_s": 10}],
        "targets": ["all"], "start": monday.to_string(), "end": (monday + Days::new(6)).to_string(), "priority": 5})).await;
    let at = |t: String| format!("/panels/cua-lo-1/at?t={}", q(&t));
    let (st, v) = admin.get(&at(vn(monday, 7, 0))).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (
            v["show"].as_str(),
            v["message_title"].as_str(),
            v["campaign_name"].as_str()
        ),
        (Some("message"), Some("Định danh mức 2"), Some("Đề án 06")),
        "{v}"
    );
    let (_, v) = admin.get(&at(vn(monday, 10, 0))).await;
    assert_eq!(v["message_title"], "Thanh toán không tiền mặt", "{v}");
    let (_, v) = admin.get(&at(vn(monday - Days::new(7), 3, 0))).await;
    assert_eq!(v["show"], "blank", "{v}");
    // The same answer the player gives for that instant.
    let inputs = rig.ctx.schedules.current();
    let p = inputs.snapshot.panels.values().next().unwrap().clone();
    let t = chrono::DateTime::parse_from_rfc3339(&vn(monday, 7, 0))
        .unwrap()
        .with_timezone(&Utc);
    let d = inputs.resolve(&p, t);
    assert!(
        matches!(d.show, crate::schedule::Show::Message { ref message, .. } if message.as_str() == id06)
    );
    // An alert on now comes first now, and is gone by Monday.
    let (st, al) = admin
        .post(
            "/alerts",
            json!({"text": "Bão số 3", "targets": ["all"], "duration_s": 600}),
        )
        .await;
    assert_eq!(st, 201, "{al}");
    let (_, v) = admin
        .get(&at((Utc::now() + chrono::Duration::minutes(1)).to_rfc3339()))
        .await;
    assert_eq!(
        (v["show"].as_str(), v["alert_text"].as_str()),
        (Some("alert"), Some("Bão số 3")),
        "{v}"
    );
    let (_, v) = admin.get(&at(vn(monday, 7, 0))).await;
    assert_eq!(v["show"], "message", "{v}");
    let (st, v) = admin.get("/panels/cua-lo-1/at?t=monday").await;
    assert_eq!(st, 400, "{v}");
}

/// Many campaigns on the same panels at once: the answer lists at most
/// `MAX_CONFLICTS` conflicts and says it left some out.
#[tokio::test]
async fn conflicts_are_capped_and_said_so() {
    let rig = Rig::self_approving();
    let admin = rig.admin();
    let (id06, _) = panels_and_messages(&admin, &["vinh", "cua-lo"]).await;
    let monday = next_monday();
    // n campaigns all on at once: n·(n−1) conflicts in all.
    let n = 72;
    assert!(n * (n - 1) > super::super::calendar::MAX_CONFLICTS);
    for i in 0..n {
        campaign(&admin, json!({"name": format!("Chiến dịch {i}"), "messages": [{"id": id06, "dwell_s": 10}],
            "targets": ["all"], "start": monday.to_string(), "end": monday.to_string(), "priority": i % 3})).await;
    }
    let (st, cal) = admin
        .get(&format!(
            "/calendar?from={}&to={}",
            q(&vn(monday, 0, 0)),
            q(&vn(monday + Days::new(1), 0, 0))
        ))
        .await;
    assert_eq!(st, 200);
    let listed: usize = cal["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["conflicts"].as_array().unwrap().len())
        .sum();
    assert_eq!(cal["conflicts_truncated"], true);
    assert!(
        listed > 0 && listed <= super::super::calendar::MAX_CONFLICTS,
        "{listed}"
    );
}
