//! The server's sentences: Vietnamese by default, English when
//! `Accept-Language` prefers it; the error shape the same in both. And
//! groups' display names, with search that ignores diacritics.

use serde_json::{json, Value};

use super::{panel, Rig, ADMIN_TOKEN};
use crate::domain::Role;

/// A request as the dashboard or a script sends it, with `accept` as its
/// `Accept-Language` (none when `None`).
async fn call(
    rig: &Rig,
    method: &str,
    path: &str,
    body: Option<Value>,
    accept: Option<&str>,
) -> super::Reply {
    let mut b = warp::test::request()
        .method(method)
        .path(&format!("/api/v1{path}"))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"));
    if let Some(a) = accept {
        b = b.header("accept-language", a);
    }
    if let Some(v) = body {
        b = b.json(&v);
    }
    rig.admin().send(b).await
}

#[tokio::test]
async fn errors_speak_vietnamese_unless_english_is_preferred() {
    let rig = Rig::new();
    let bad = json!({"id": "p1", "name": " ", "width": 128, "height": 32, "format": "mono1"});
    let vi = call(&rig, "POST", "/panels", Some(bad.clone()), None).await;
    assert_eq!(vi.status, 400);
    assert_eq!(
        vi.json["error"], "invalid",
        "the code never depends on the language"
    );
    let m = vi.json["message"].as_str().unwrap();
    assert_eq!(m, "Tên bảng phải có từ 1 đến 200 ký tự.");
    assert_eq!(vi.header("content-language"), Some("vi"));
    for accept in ["en", "en-US,en;q=0.9,vi;q=0.5", "vi;q=0.3, en;q=0.7"] {
        let en = call(&rig, "POST", "/panels", Some(bad.clone()), Some(accept)).await;
        assert_eq!(en.json["error"], "invalid");
        let m = en.json["message"].as_str().unwrap();
        assert_eq!(m, "panel name must be 1 to 200 characters", "{accept}");
        assert_eq!(en.header("content-language"), Some("en"));
    }
    let vi = call(
        &rig,
        "POST",
        "/panels",
        Some(bad),
        Some("vi-VN,vi;q=0.9,en;q=0.8"),
    )
    .await;
    assert!(vi.json["message"].as_str().unwrap().starts_with("Tên bảng"));

    // Not found, and sign-in: the same.
    let nf = call(&rig, "GET", "/messages/khong-co", None, None).await;
    assert_eq!(nf.status, 404);
    assert!(
        nf.json["message"]
            .as_str()
            .unwrap()
            .contains("Không có tin"),
        "{}",
        nf.json
    );
    let anon = rig
        .anonymous()
        .send(warp::test::request().method("GET").path("/api/v1/panels"))
        .await;
    assert_eq!(anon.status, 401);
    assert!(
        anon.json["message"].as_str().unwrap().contains("đăng nhập"),
        "{}",
        anon.json
    );
}

#[tokio::test]
async fn a_cron_is_explained_and_refused_in_the_readers_language() {
    let rig = Rig::new();
    let body = json!({"cron": "0 7 * * 1-5", "tz": "Asia/Ho_Chi_Minh"});
    let vi = call(&rig, "POST", "/cron/explain", Some(body.clone()), None).await;
    assert_eq!(vi.status, 200, "{}", vi.json);
    assert_eq!(
        vi.json["description"],
        "lúc 07:00 từ thứ Hai đến thứ Sáu (Asia/Ho_Chi_Minh)"
    );
    let en = call(&rig, "POST", "/cron/explain", Some(body), Some("en")).await;
    assert_eq!(
        en.json["description"],
        "at 07:00 on Monday to Friday (Asia/Ho_Chi_Minh)"
    );
    let bad = json!({"cron": "0 25 * * *"});
    let vi = call(&rig, "POST", "/cron/explain", Some(bad.clone()), None).await;
    assert_eq!(vi.status, 400);
    let m = vi.json["message"].as_str().unwrap();
    assert!(
        m.contains("không hợp lệ") && m.contains("nằm ngoài khoảng 0–23"),
        "{m}"
    );
    let en = call(&rig, "POST", "/cron/explain", Some(bad), Some("en")).await;
    assert!(en.json["message"]
        .as_str()
        .unwrap()
        .contains("out of range 0-23"));
}

#[tokio::test]
async fn a_refused_delete_names_its_campaigns_in_vietnamese() {
    let rig = Rig::new();
    let admin = rig.admin();
    let id = admin
        .panel_and_message(
            panel("p1", 128, 32, "mono1", &["d1"]),
            json!({"title": "Đề án 06", "text": "VNeID mức độ 2"}),
        )
        .await;
    let (st, v) = admin
        .post(
            "/campaigns",
            json!({"name": "Chuyển đổi số", "messages": [{"id": id, "dwell_s": 8}], "targets": ["all"], "priority": 1}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let r = call(&rig, "DELETE", &format!("/messages/{id}"), None, None).await;
    assert_eq!(r.status, 409);
    let m = r.json["message"].as_str().unwrap();
    assert!(
        m.contains("đang được dùng trong 1 lịch phát") && m.contains("Chuyển đổi số"),
        "{m}"
    );
    assert_eq!(
        r.json["campaigns"][0]["name"], "Chuyển đổi số",
        "the fields a program reads stay"
    );
}

#[tokio::test]
async fn groups_have_display_names_and_are_found_without_diacritics() {
    let rig = Rig::new();
    let admin = rig.admin();
    admin
        .create_panel(panel("p1", 128, 32, "mono1", &["son-tra"]))
        .await;
    admin
        .create_panel(panel("p2", 128, 32, "mono1", &["nghi-loc", "son-tra"]))
        .await;
    let (st, v) = admin
        .post("/groups", json!({"id": "son-tra", "name": "Sơn Trà"}))
        .await;
    assert_eq!(st, 201, "{v}");
    let (st, _) = admin
        .post("/groups", json!({"id": "nghi-loc", "name": "Nghi Loc"}))
        .await;
    assert_eq!(st, 201);
    let (st, v) = admin
        .post("/groups", json!({"id": "son-tra", "name": "X"}))
        .await;
    assert_eq!((st, v["error"].as_str()), (409, Some("conflict")), "{v}");
    let r = rig
        .admin()
        .send(
            rig.admin()
                .req("PATCH", "/groups/nghi-loc")
                .json(&json!({"name": "Nghi Lộc"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let (st, v) = admin
        .post("/groups", json!({"id": "Sơn Trà", "name": "Sơn Trà"}))
        .await;
    assert_eq!(st, 400, "{v}");
    let (_, list) = admin.get("/groups").await;
    assert_eq!(
        list,
        json!([{"id": "nghi-loc", "name": "Nghi Lộc", "panels": 1}, {"id": "son-tra", "name": "Sơn Trà", "panels": 2}])
    );
    for (q, want) in [
        ("son%20tra", "son-tra"),
        ("nghi%20loc", "nghi-loc"),
        ("S%C6%A0N", "son-tra"),
    ] {
        let (_, found) = admin.get(&format!("/groups?q={q}")).await;
        let ids: Vec<&str> = found
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [want], "q={q}");
    }
    // The file is the registry: on disk, and only admins write it.
    let file = rig.dir.path().join("content/groups/son-tra.json");
    let on_disk: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    assert_eq!(on_disk, json!({"id": "son-tra", "name": "Sơn Trà"}));
    let editor = rig.user("bien-tap", &[Role::Editor]);
    let (st, _) = editor
        .post("/groups", json!({"id": "cua-lo", "name": "Cửa Lò"}))
        .await;
    assert_eq!(st, 403);
    let (st, _) = editor.get("/groups").await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn the_public_page_names_the_district_with_its_diacritics() {
    let rig = Rig::new();
    let admin = rig.admin();
    admin
        .create_panel(panel("p1", 128, 32, "mono1", &["cua-lo"]))
        .await;
    let (st, _) = admin
        .post("/groups", json!({"id": "cua-lo", "name": "Cửa Lò"}))
        .await;
    assert_eq!(st, 201);
    let page = rig.site("/public/board?district=cua-lo").await;
    assert_eq!(page.status, 200);
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("Cửa Lò"), "{html}");
}
