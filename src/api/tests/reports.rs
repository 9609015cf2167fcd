//! Reports (names, local times, filters, the Excel workbook, charts' data),
//! the media library, and the server facts the dashboard used to work
//! around: acknowledged frames, the approval policy in `/me`, pending
//! alert panels, alert previews, reading warnings for programs, and the
//! campaigns named by a refused delete.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use super::{panel, png, Client, Reply, Rig};
use crate::domain::{Id, Profile};
use crate::player::Played;
use crate::store::online::OnlineSample;
use crate::store::plays::Play;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Two districts, three panels (one in both districts), a message in two
/// campaigns, an alert, and proof of play around the local day
/// 27/11/2026 (UTC+7).
struct Fixture {
    rig: Rig,
    msg: String,
    morning: String,
    evening: String,
    alert: String,
}

async fn fixture() -> Fixture {
    let rig = Rig::new();
    let admin = rig.admin();
    for (id, name, groups) in [
        ("cho-han", "Chợ Hàn", vec!["hai-chau"]),
        ("cau-rong", "Cầu Rồng", vec!["son-tra", "hai-chau"]),
        ("bien-my-khe", "Biển Mỹ Khê", vec!["son-tra"]),
    ] {
        let mut p = panel(id, 128, 32, "mono1", &groups);
        p["name"] = json!(name);
        admin.create_panel(p).await;
    }
    let m = admin
        .create_message(json!({"title": "Phòng chống sốt xuất huyết", "text": "Diệt lăng quăng"}))
        .await;
    let msg = m["id"].as_str().unwrap().to_string();
    let mut campaigns = vec![];
    for name in ["Buổi sáng", "Buổi tối"] {
        let (st, c) = admin
            .post(
                "/campaigns",
                json!({"name": name, "messages": [{"id": msg, "dwell_s": 8}], "targets": ["all"], "priority": 1}),
            )
            .await;
        assert_eq!(st, 201, "{c}");
        campaigns.push(c["id"].as_str().unwrap().to_string());
    }
    let (st, a) = admin
        .post(
            "/alerts",
            json!({"text": "Triều cường dâng cao", "targets": ["group:son-tra"], "duration_s": 600}),
        )
        .await;
    assert_eq!(st, 201, "{a}");
    let alert = a["id"].as_str().unwrap().to_string();
    let play = |panel: &str, campaign: Option<&str>, alert: Option<&str>, seq, at: &str| Play {
        panel: panel.into(),
        message: campaign.map(|_| msg.clone()),
        campaign: campaign.map(str::to_string),
        alert: alert.map(str::to_string),
        seq,
        shown_at: utc(at),
        verified: seq % 2 == 1,
    };
    let (morning, evening) = (campaigns[0].clone(), campaigns[1].clone());
    rig.ctx
        .plays
        .insert(&[
            // 23:59 on the 26th, local: outside the day.
            play("cho-han", Some(&morning), None, 1, "2026-11-26T16:59:00Z"),
            // 00:30 on the 27th, local.
            play("cho-han", Some(&morning), None, 2, "2026-11-26T17:30:00Z"),
            play("cho-han", Some(&evening), None, 3, "2026-11-26T17:40:00Z"),
            play("cau-rong", Some(&morning), None, 7, "2026-11-27T01:00:00Z"),
            play("bien-my-khe", None, Some(&alert), 9, "2026-11-27T02:00:00Z"),
            // 00:30 on the 28th, local: outside the day.
            play("cau-rong", Some(&evening), None, 8, "2026-11-27T17:30:00Z"),
        ])
        .unwrap();
    Fixture {
        rig,
        msg,
        morning,
        evening,
        alert,
    }
}

const DAY: &str = "from=2026-11-27&to=2026-11-27";

/// (panel, seq) of each play row.
fn ids(v: &Value) -> Vec<(String, u64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["panel"].as_str().unwrap().to_string(),
                r["seq"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn plays_carry_names_and_local_times_and_filter_by_district_campaign_panel() {
    let f = fixture().await;
    let admin = f.rig.admin();
    let (st, rows) = admin.get(&format!("/reports/plays?{DAY}")).await;
    assert_eq!(st, 200, "{rows}");
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4, "the local day only: {rows:?}");
    let first = &rows[0];
    // The v1 fields, unchanged, and the names beside them.
    assert_eq!(first["panel"], "cho-han");
    assert_eq!(first["campaign"], f.morning.as_str());
    assert_eq!(first["message"], f.msg.as_str());
    assert_eq!(first["seq"], 2);
    assert_eq!(first["shown_at"], "2026-11-26T17:30:00Z");
    assert_eq!(first["panel_name"], "Chợ Hàn");
    assert_eq!(first["message_title"], "Phòng chống sốt xuất huyết");
    assert_eq!(first["campaign_name"], "Buổi sáng");
    assert_eq!(first["groups"], json!(["hai-chau"]));
    assert_eq!(first["shown_at_local"], "27/11/2026 00:30:00");
    // On air until the panel's next frame, ten minutes later.
    assert_eq!(first["on_air_s"], 600);
    // Verified and unverified plays are told apart (odd seqs verified here).
    assert_eq!(first["verified"], false);
    assert_eq!(rows[1]["verified"], true, "{:?}", rows[1]);
    let alert_row = rows
        .iter()
        .find(|r| r["alert"] == f.alert.as_str())
        .unwrap();
    assert_eq!(alert_row["alert_text"], "Triều cường dâng cao");

    let (_, v) = admin
        .get(&format!("/reports/plays?{DAY}&group=son-tra"))
        .await;
    assert_eq!(ids(&v), [("cau-rong".into(), 7), ("bien-my-khe".into(), 9)]);
    let (_, v) = admin
        .get(&format!("/reports/plays?{DAY}&campaign={}", f.evening))
        .await;
    assert_eq!(ids(&v), [("cho-han".into(), 3)]);
    let (_, v) = admin
        .get(&format!("/reports/plays?{DAY}&campaign=alerts"))
        .await;
    assert_eq!(ids(&v), [("bien-my-khe".into(), 9)]);
    let (_, v) = admin
        .get(&format!("/reports/plays?{DAY}&panel=cau-rong"))
        .await;
    assert_eq!(ids(&v), [("cau-rong".into(), 7)]);
    // RFC 3339 bounds still work as before.
    let (_, v) = admin
        .get("/reports/plays?from=2026-11-27T08:00:00%2B07:00&to=2026-11-27T09:00:00%2B07:00")
        .await;
    assert_eq!(ids(&v), [("cau-rong".into(), 7)]);
}

#[tokio::test]
async fn plays_export_as_csv_come_in_pages_and_refuse_bad_queries() {
    let f = fixture().await;
    let admin = f.rig.admin();
    // CSV: the original columns first, then names and local times.
    let r = admin
        .send(
            admin
                .req("GET", &format!("/reports/plays?{DAY}&group=hai-chau"))
                .header("accept", "text/csv"),
        )
        .await;
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    let mut lines = text.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("panel,message,campaign,alert,seq,shown_at,panel_name,"));
    let line = lines.next().unwrap();
    assert!(
        line.contains(
            ",Chợ Hàn,hai-chau,Phòng chống sốt xuất huyết,Buổi sáng,,27/11/2026 00:30:00,600"
        ),
        "{line}"
    );
    assert_eq!(text.lines().count(), 4, "{text}");

    // A page asks for the newest rows only, and how many there are.
    let r = admin
        .send(admin.req("GET", &format!("/reports/plays?{DAY}&limit=2")))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        ids(&r.json),
        [("cau-rong".into(), 7), ("bien-my-khe".into(), 9)]
    );
    assert_eq!(r.header("x-total-count"), Some("4"));
    let r = admin
        .send(admin.req(
            "GET",
            &format!("/reports/plays?{DAY}&group=hai-chau&limit=500"),
        ))
        .await;
    assert_eq!(ids(&r.json).len(), 3);
    assert_eq!(r.header("x-total-count"), Some("3"));

    for (q, why) in [
        (
            "from=2026-11-27&to=2026-11-27&limit=0",
            "a limit of nothing",
        ),
        ("from=2026-11-27", "no to"),
        ("from=27/11/2026&to=2026-11-27", "a date written dd/mm/yyyy"),
        ("from=2026-11-29&to=2026-11-27", "to before from"),
        (
            "from=2026-11-27&to=2026-11-27&panel=Bad%20Id",
            "a bad panel id",
        ),
    ] {
        let (st, v) = admin.get(&format!("/reports/plays?{q}")).await;
        assert_eq!(st, 400, "{why}: {v}");
        assert!(v["message"].as_str().unwrap().len() > 20, "{why}: {v}");
    }
}

#[tokio::test]
async fn summary_and_daily_sum_per_district_and_campaign_with_names() {
    let f = fixture().await;
    let admin = f.rig.admin();
    let (st, v) = admin.get(&format!("/reports/summary?{DAY}")).await;
    assert_eq!(st, 200, "{v}");
    let row = |campaign: &str, group: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|r| r["campaign"] == campaign && r["group"] == group)
            .cloned()
            .unwrap_or_else(|| panic!("no row {campaign} × {group} in {v}"))
    };
    let m = row(&f.morning, "hai-chau");
    assert_eq!(m["plays"], 2, "{m}");
    assert_eq!(m["verified_plays"], 1, "seq 7 verified, seq 2 not: {m}");
    assert_eq!(m["panels"], 2);
    assert_eq!(m["campaign_name"], "Buổi sáng");
    assert_eq!(m["group_name"], "Hai Chau");
    let a = row(&format!("alert:{}", f.alert), "son-tra");
    assert_eq!(a["campaign_name"], "Triều cường dâng cao");
    // A group filter counts under that group only.
    let (_, v) = admin
        .get(&format!("/reports/summary?{DAY}&group=son-tra"))
        .await;
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["group"] == "son-tra"));

    let (st, d) = admin
        .get(&format!("/reports/daily?{DAY}&by=campaign"))
        .await;
    assert_eq!(st, 200, "{d}");
    let d = d.as_array().unwrap();
    assert!(d.iter().all(|r| r["date"] == "2026-11-27"), "{d:?}");
    let morning = d.iter().find(|r| r["key"] == f.morning.as_str()).unwrap();
    assert_eq!(
        (morning["plays"].as_u64(), morning["name"].as_str()),
        (Some(2), Some("Buổi sáng"))
    );
    let (_, g) = admin.get(&format!("/reports/daily?{DAY}&by=group")).await;
    let hai_chau = g
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "hai-chau")
        .unwrap();
    assert_eq!(hai_chau["plays"], 3, "{g}");
    assert_eq!(hai_chau["verified_plays"], 2, "{g}");
    assert_eq!(
        admin.get(&format!("/reports/daily?{DAY}&by=week")).await.0,
        400
    );
}

#[tokio::test]
async fn the_workbook_opens_with_a_summary_per_district_and_the_detail() {
    let f = fixture().await;
    let admin = f.rig.admin();
    let r = admin
        .send(admin.req(
            "GET",
            &format!("/reports/summary.xlsx?{DAY}&unit=S%E1%BB%9F%20Th%C3%B4ng%20tin%20v%C3%A0%20Truy%E1%BB%81n%20th%C3%B4ng"),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    assert!(r
        .header("content-disposition")
        .unwrap()
        .contains("bao-cao-phat-20261127_20261127.xlsx"));
    let mut book = Xlsx::new(Cursor::new(r.body.to_vec())).expect("an xlsx that opens");
    assert_eq!(book.sheet_names(), ["Tổng hợp", "Chi tiết"]);
    let sum = book.worksheet_range("Tổng hợp").unwrap();
    let cell = |row: u32, col: u32| sum.get_value((row, col)).cloned().unwrap_or(Data::Empty);
    let text = |d: Data| d.to_string();
    assert_eq!(text(cell(0, 0)), "SỞ THÔNG TIN VÀ TRUYỀN THÔNG");
    assert_eq!(text(cell(0, 3)), "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM");
    assert_eq!(
        text(cell(3, 0)),
        "BÁO CÁO KẾT QUẢ PHÁT THÔNG TIN TRÊN BẢNG ĐIỆN TỬ"
    );
    assert_eq!(text(cell(4, 0)), "Ngày 27/11/2026");
    let headers: Vec<String> = (0..7).map(|c| text(cell(7, c))).collect();
    assert_eq!(headers, crate::api::report_book::SUMMARY_HEADERS);
    // Districts in order with their totals, each campaign under them.
    let rows: Vec<Vec<String>> = (8..14)
        .map(|r| (0..5).map(|c| text(cell(r, c))).collect())
        .collect();
    assert_eq!(rows[0][..3], ["I", "Hai Chau", "Cộng khu vực"]);
    assert_eq!(rows[0][3..5], ["2", "3"], "Hải Châu: 2 panels, 3 plays");
    assert_eq!(text(cell(8, 6)), "2", "Hải Châu: 2 of its plays verified");
    assert_eq!(rows[1][2..5], ["Buổi sáng", "2", "2"]);
    assert_eq!(rows[2][2..5], ["Buổi tối", "1", "1"]);
    assert_eq!(rows[3][..2], ["II", "Son Tra"]);
    let total_row = (8..20)
        .find(|r| text(cell(*r, 1)) == "TỔNG CỘNG")
        .expect("a total row");
    assert_eq!(text(cell(total_row, 4)), "4", "every play once");
    assert_eq!(text(cell(total_row, 6)), "3", "of which verified");
    // Hours on air: 10 minutes, then three frames at the 35-minute cap.
    match cell(total_row, 5) {
        Data::Float(h) => assert!((h - 6900.0 / 3600.0).abs() < 1e-9, "{h}"),
        other => panic!("hours as a number, not {other:?}"),
    }

    let detail = book.worksheet_range("Chi tiết").unwrap();
    let d = |row: u32, col: u32| detail.get_value((row, col)).cloned().unwrap_or(Data::Empty);
    let headers: Vec<String> = (0..10).map(|c| text(d(3, c))).collect();
    assert_eq!(headers, crate::api::report_book::DETAIL_HEADERS);
    assert_eq!(
        detail.height(),
        8,
        "title, period, a blank row, headers and 4 plays"
    );
    match d(4, 1) {
        Data::DateTime(t) => {
            // Excel counts days from 30/12/1899.
            let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap();
            let want = chrono::NaiveDate::from_ymd_opt(2026, 11, 27)
                .unwrap()
                .and_hms_opt(0, 30, 0)
                .unwrap();
            let days = (want - epoch.and_hms_opt(0, 0, 0).unwrap()).num_seconds() as f64 / 86400.0;
            assert!(
                (t.as_f64() - days).abs() < 1e-6,
                "{} is not 27/11/2026 00:30",
                t.as_f64()
            );
        }
        other => panic!("the time is an Excel date, not {other:?}"),
    }
    assert_eq!(text(d(4, 2)), "Chợ Hàn");
    assert_eq!(text(d(4, 5)), "Phòng chống sốt xuất huyết");
    assert_eq!(text(d(4, 6)), "Buổi sáng");
    assert_eq!(text(d(4, 9)), "Chưa", "seq 2: not verified");
    assert_eq!(text(d(5, 9)), "Có", "seq 3: verified");
    assert_eq!(text(d(7, 6)), "Cảnh báo khẩn: Triều cường dâng cao");
}

#[tokio::test]
async fn online_samples_are_bucketed_and_end_with_the_fleet_now() {
    let rig = Rig::new();
    let admin = rig.admin();
    admin.create_panel(panel("p1", 128, 32, "mono1", &[])).await;
    let t = |s: &str| utc(s);
    for (at, online) in [
        ("2026-11-27T00:00:00Z", 3),
        ("2026-11-27T00:05:00Z", 5),
        ("2026-11-27T12:00:00Z", 9),
    ] {
        rig.ctx
            .plays
            .record_online(OnlineSample {
                at: t(at),
                online,
                panels: 10,
            })
            .unwrap();
    }
    let (st, v) = admin
        .get("/reports/online?from=2026-11-27T00:00:00Z&to=2026-11-28T00:00:00Z&points=24")
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v,
        json!([
            {"at": "2026-11-27T00:00:00Z", "online": 4, "min": 3, "max": 5, "panels": 10},
            {"at": "2026-11-27T12:00:00Z", "online": 9, "min": 9, "max": 9, "panels": 10},
        ])
    );
    // A period that reaches now ends with the fleet as it is.
    let from = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let to = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (_, v) = admin
        .get(&format!(
            "/reports/online?from={}&to={}",
            from.replace('+', "%2B"),
            to.replace('+', "%2B")
        ))
        .await;
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(
        (v[0]["online"].as_u64(), v[0]["panels"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(
        admin
            .get("/reports/online?from=2026-11-27&to=2026-11-27&points=1")
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn alerts_name_their_pending_panels_and_report_delivery_times() {
    let rig = Rig::new();
    let admin = rig.admin();
    for (id, name) in [("p1", "Chợ Hàn"), ("p2", "Cầu Rồng"), ("p3", "Biển Mỹ Khê")] {
        let mut p = panel(id, 128, 32, "mono1", &["d1"]);
        p["name"] = json!(name);
        admin.create_panel(p).await;
    }
    let (_, a) = admin
        .post(
            "/alerts",
            json!({"text": "Bão số 9", "targets": ["group:d1"], "duration_s": 600}),
        )
        .await;
    let id = a["id"].as_str().unwrap().to_string();
    let created = rig.ctx.store.snapshot().alerts[&Id::parse(&id).unwrap()].created_at;
    let ack = |panel: &str, ms: i64| Play {
        panel: panel.into(),
        message: None,
        campaign: None,
        alert: Some(id.clone()),
        seq: 1,
        shown_at: created + chrono::Duration::milliseconds(ms),
        verified: true,
    };
    rig.ctx
        .plays
        .insert(&[ack("p1", 300), ack("p3", 900)])
        .unwrap();
    let (st, v) = admin.get(&format!("/alerts/{id}")).await;
    assert_eq!(st, 200, "{v}");
    let d = &v["delivery"];
    assert_eq!(
        (d["targets"].as_u64(), d["acked"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(d["pending"], json!([{"id": "p2", "name": "Cầu Rồng"}]));

    let from = (created - chrono::Duration::minutes(1))
        .to_rfc3339()
        .replace('+', "%2B");
    let to = (created + chrono::Duration::minutes(1))
        .to_rfc3339()
        .replace('+', "%2B");
    let (st, v) = admin
        .get(&format!("/reports/alerts?from={from}&to={to}"))
        .await;
    assert_eq!(st, 200, "{v}");
    let r = &v[0];
    assert_eq!(r["id"], id.as_str());
    assert_eq!(
        (r["targets"].as_u64(), r["acked"].as_u64()),
        (Some(3), Some(2))
    );
    // Proof of play keeps milliseconds; the alert's creation is finer, so
    // a delay may read one millisecond short.
    let near = |v: &Value, want: i64| v.as_i64().is_some_and(|g| (want - 1..=want).contains(&g));
    assert!(
        near(&r["first_ack_ms"], 300) && near(&r["median_ms"], 300) && near(&r["last_ack_ms"], 900),
        "{r}"
    );
    assert_eq!(
        (
            r["panels"][1]["id"].as_str(),
            r["panels"][1]["name"].as_str()
        ),
        (Some("p3"), Some("Biển Mỹ Khê"))
    );
    assert!(near(&r["panels"][1]["ms"], 900), "{r}");
    assert!(r["created_at_local"].as_str().unwrap().contains('/'));
}

#[tokio::test]
async fn an_acknowledgement_is_announced_and_shown_in_now() {
    let rig = Rig::new();
    let admin = rig.admin();
    admin.create_panel(panel("p1", 128, 32, "mono1", &[])).await;
    let id = Id::parse("p1").unwrap();
    let (_, now) = admin.get("/panels/p1/now").await;
    assert_eq!(now["acked_seq"], Value::Null, "{now}");
    let shared = &rig.ctx.shared;
    shared
        .recent
        .lock()
        .unwrap()
        .entry(id.clone())
        .or_default()
        .push_back(Played {
            seq: 41,
            crc: 0,
            message: None,
            campaign: None,
            alert: None,
            acked: None,
        });
    let mut events = shared.events.subscribe();
    let at = Utc.with_ymd_and_hms(2026, 11, 27, 1, 2, 3).unwrap();
    assert!(shared.played(&id, 41, None, at).is_some());
    let ev = events
        .try_recv()
        .expect("a panel event on the acknowledgement");
    let ev = serde_json::to_value(&ev).unwrap();
    assert_eq!(
        (ev["id"].as_str(), ev["acked_seq"].as_u64()),
        (Some("p1"), Some(41))
    );
    assert_eq!(ev["acked_at"], "2026-11-27T01:02:03Z");
    // A duplicate (QoS 1 re-delivery) is neither a play nor an event.
    assert!(shared.played(&id, 41, None, at).is_none());
    assert!(events.try_recv().is_err());
    let (_, now) = admin.get("/panels/p1/now").await;
    assert_eq!(
        (now["acked_seq"].as_u64(), now["acked_at"].as_str()),
        (Some(41), Some("2026-11-27T01:02:03Z"))
    );
}

#[tokio::test]
async fn me_says_whether_self_approval_is_allowed() {
    let (_, me) = Rig::new().admin().get("/me").await;
    assert_eq!(
        (me["name"].as_str(), me["allow_self_approval"].as_bool()),
        (Some("admin"), Some(false))
    );
    let (_, me) = Rig::self_approving().admin().get("/me").await;
    assert_eq!(me["allow_self_approval"], true);
}

#[tokio::test]
async fn an_alert_preview_is_the_players_own_drawing() {
    let rig = Rig::new();
    let admin = rig.admin();
    admin
        .create_panel(panel("p1", 128, 32, "rgb565", &[]))
        .await;
    let text = "Bão số 9 đổ bộ vào Đà Nẵng từ 18 giờ: người dân ở trong nhà kiên cố, không ra biển, tránh xa cây lớn và cột điện";
    let r = admin
        .send(
            admin
                .req("POST", "/alerts/preview?panel=p1&page=2")
                .json(&json!({"text": text, "targets": ["all"], "duration_s": 60})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("image/png"));
    let pages: usize = r.header("x-pages").unwrap().parse().unwrap();
    assert!(
        pages >= 2,
        "a long alert on a small sign has pages: {pages}"
    );
    // The same pixels as the frame the player makes of such an alert.
    let alert = crate::domain::Alert {
        id: Id::parse("a-1").unwrap(),
        body: crate::domain::AlertBody {
            text: text.into(),
            targets: vec![crate::domain::Target::All],
            duration_s: 60,
        },
        created_by: "x".into(),
        created_at: Utc::now(),
        ends_at: Utc::now(),
        cancelled_at: None,
    };
    let profile = Profile::new(128, 32, crate::domain::PixelFormat::Rgb565).unwrap();
    let player = rig.ctx.renditions.alert(&alert, &profile);
    let want = crate::render::png_bytes(&player.pages[1].page.preview());
    assert_eq!(
        &r.body[..],
        &want[..],
        "the preview differs from the player's frame"
    );
    let (st, v) = admin
        .post(
            "/alerts/preview?width=64&height=16&format=mono1",
            json!({"text": ""}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
}

#[tokio::test]
async fn reading_warnings_name_their_pages_for_programs() {
    let rig = Rig::new();
    let admin = rig.admin();
    let words =
        "Người dân thực hiện nghiêm quy định phòng cháy chữa cháy tại khu dân cư ".repeat(3);
    let r = admin
        .send(
            admin
                .req("POST", "/preview?width=128&height=64&format=rgb888&dwell=1")
                .json(&json!({"title": "t", "text": words})),
        )
        .await;
    assert_eq!(r.status, 200);
    let pages: usize = r.header("x-pages").unwrap().parse().unwrap();
    let listed: Vec<usize> = r
        .header("x-reading-pages")
        .expect("X-Reading-Pages")
        .split(',')
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(
        !listed.is_empty() && listed.iter().all(|p| (1..=pages).contains(p)),
        "{listed:?} of {pages}"
    );
    assert_eq!(r.header("x-reading-dwell"), Some("1"));
    assert!(r.header("x-reading-warning").is_some());
    assert!(r
        .header("access-control-expose-headers")
        .unwrap()
        .contains("X-Reading-Pages"));
}

#[tokio::test]
async fn a_refused_delete_names_every_campaign_that_uses_the_message() {
    let f = fixture().await;
    let r = f
        .rig
        .admin()
        .send(f.rig.admin().req("DELETE", &format!("/messages/{}", f.msg)))
        .await;
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (409, Some("conflict"))
    );
    let mut names: Vec<(&str, &str)> = r.json["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["name"].as_str().unwrap()))
        .collect();
    names.sort();
    let mut want = vec![
        (f.morning.as_str(), "Buổi sáng"),
        (f.evening.as_str(), "Buổi tối"),
    ];
    want.sort();
    assert_eq!(names, want);
    let sentence = r.json["message"].as_str().unwrap();
    assert!(
        sentence.contains("Buổi sáng") && sentence.contains("Buổi tối"),
        "{sentence}"
    );
}

/// Uploads a PNG as `admin`, with an optional naming header and query.
async fn upload(
    admin: &Client<'_>,
    bytes: Vec<u8>,
    header: Option<(&'static str, &'static str)>,
    query: &str,
) -> Reply {
    let mut b = admin
        .req("POST", &format!("/assets{query}"))
        .header("content-type", "image/png")
        .body(bytes);
    if let Some((k, v)) = header {
        b = b.header(k, v);
    }
    admin.send(b).await
}

#[tokio::test]
async fn uploads_are_named_from_their_headers_or_query() {
    let rig = Rig::new();
    let admin = rig.admin();
    let upload = |bytes, header, query| upload(&admin, bytes, header, query);
    // X-Filename, percent-encoded UTF-8 (as the dashboard sends it).
    let r = upload(
        png(20, 10),
        Some(("x-filename", "%E1%BA%A2nh%20b%C3%A3o%20s%E1%BB%91%209.png")),
        "",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["name"], "Ảnh bão số 9.png");
    // Content-Disposition (RFC 6266 filename*), with a path that is dropped.
    let r = upload(
        png(30, 10),
        Some((
            "content-disposition",
            "attachment; filename*=UTF-8''C%3A%5Canh%5Cl%C5%A9.png",
        )),
        "",
    )
    .await;
    assert_eq!(r.json["name"], "lũ.png", "{}", r.json);
    let r = upload(png(40, 10), None, "?name=Ch%E1%BB%A3%20H%C3%A0n").await;
    assert_eq!(r.json["name"], "Chợ Hàn");
    let r = upload(png(50, 10), None, "?name=%0A").await;
    assert_eq!(r.status, 400, "{}", r.json);
}

#[tokio::test]
async fn the_media_library_lists_where_images_are_used_and_guards_those_in_use() {
    let rig = Rig::new();
    let admin = rig.admin();
    let name = |r: Reply| r.json["id"].as_str().unwrap().to_string();
    let used = name(upload(&admin, png(20, 10), None, "?name=B%C3%A3o").await);
    let unused = name(upload(&admin, png(30, 10), None, "?name=L%C5%A9").await);
    let m = admin
        .create_message(json!({"title": "Tin có ảnh", "image": used}))
        .await;
    let (st, list) = admin.get("/assets").await;
    assert_eq!(st, 200);
    let find = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .unwrap()
            .clone()
    };
    let a = find(&used);
    assert_eq!(
        (a["width"].as_u64(), a["height"].as_u64()),
        (Some(20), Some(10))
    );
    assert_eq!(a["uploaded_by"], "admin");
    assert!(a["bytes"].as_u64().unwrap() > 0);
    assert_eq!(
        a["used_by"],
        json!([{"id": m["id"], "title": "Tin có ảnh", "status": "draft"}])
    );
    assert_eq!(find(&unused)["used_by"], json!([]));

    let (st, v) = admin
        .call(
            "PATCH",
            &format!("/assets/{used}"),
            Some(json!({"name": "  Bão số 9 (bản đẹp) "})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["name"], "Bão số 9 (bản đẹp)");
    let (st, _) = admin
        .call(
            "PATCH",
            &format!("/assets/{used}"),
            Some(json!({"name": ""})),
        )
        .await;
    assert_eq!(st, 400);
    let editor_less = rig.user("xem", &[crate::domain::Role::Operator]);
    assert_eq!(
        editor_less.delete(&format!("/assets/{unused}")).await.0,
        403
    );

    let (st, v) = admin.delete(&format!("/assets/{used}")).await;
    assert_eq!(st, 409, "{v}");
    assert_eq!(
        v["messages"],
        json!([{"id": m["id"], "title": "Tin có ảnh"}])
    );
    assert!(v["message"].as_str().unwrap().contains("Tin có ảnh"));
    assert_eq!(admin.get(&format!("/assets/{used}")).await.0, 200);

    let (st, _) = admin.delete(&format!("/assets/{unused}")).await;
    assert_eq!(st, 204);
    assert_eq!(admin.get(&format!("/assets/{unused}")).await.0, 404);
    let files: Vec<String> = std::fs::read_dir(rig.dir.path().join("content/assets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(files.iter().all(|f| !f.starts_with(&unused)), "{files:?}");
    // The name survives a restart of the store.
    let again = crate::store::Store::open(rig.dir.path()).unwrap();
    assert_eq!(
        again.snapshot().assets[&used].name.as_deref(),
        Some("Bão số 9 (bản đẹp)")
    );
}

/// A district's staff count the plays and alert deliveries of their own
/// panels only; a report on another district's panel answers 404 as the
/// panel itself does.
#[tokio::test]
async fn a_district_reports_on_its_own_panels() {
    let f = fixture().await;
    let hoa = f
        .rig
        .person("hoa", &[crate::domain::Role::Editor], Some(&["son-tra"]))
        .await;
    let (st, rows) = hoa.get(&format!("/reports/plays?{DAY}")).await;
    assert_eq!(st, 200, "{rows}");
    let mut got = ids(&rows);
    got.sort();
    assert_eq!(
        got,
        vec![("bien-my-khe".into(), 9), ("cau-rong".into(), 7)],
        "cho-han is Hải Châu's only"
    );
    let (st, v) = hoa
        .get(&format!("/reports/plays?{DAY}&panel=cho-han"))
        .await;
    assert_eq!(st, 404, "{v}");
    let (st, summary) = hoa.get(&format!("/reports/summary?{DAY}")).await;
    assert_eq!(st, 200, "{summary}");
    let plays_in = |group: &str| -> u64 {
        summary
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["group"] == group)
            .map(|r| r["plays"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(plays_in("son-tra"), 2, "{summary}");
    // cau-rong is in Hải Châu too: its play counts there; cho-han's two
    // plays do not.
    assert_eq!(plays_in("hai-chau"), 1, "{summary}");
    let an = f
        .rig
        .person("an", &[crate::domain::Role::Editor], Some(&["hai-chau"]))
        .await;
    let (st, alerts) = an
        .get("/reports/alerts?from=2020-01-01&to=2100-01-01")
        .await;
    assert_eq!(st, 200, "{alerts}");
    assert_eq!(
        alerts.as_array().unwrap().len(),
        1,
        "the Sơn Trà alert reached cau-rong, which Hải Châu shares: {alerts}"
    );
    assert_eq!(alerts[0]["targets"], 1, "cau-rong only: {alerts}");
    assert_eq!(f.alert, alerts[0]["id"].as_str().unwrap());
}
