//! Districts as scopes through the real router: what a district's staff
//! see, and each way out of the district refused with 403 `outside_scope`
//! (or 404 for a panel they may not see), for sessions and tokens alike.

use serde_json::{json, Value};

use super::{panel, Client, Rig};
use crate::domain::Role;

async fn province(rig: &Rig) {
    let admin = rig.admin();
    admin
        .create_panel(panel("vinh-1", 128, 32, "mono1", &["vinh"]))
        .await;
    admin
        .create_panel(panel("cua-lo-1", 128, 32, "mono1", &["cua-lo"]))
        .await;
    admin
        .create_panel(panel("cua-lo-2", 128, 32, "mono1", &["cua-lo", "ven-bien"]))
        .await;
}

/// The province and one message (a draft); the message's id.
async fn province_with_message(rig: &Rig) -> String {
    province(rig).await;
    let m = rig
        .admin()
        .create_message(json!({"title": "Đề án 06", "text": "Định danh điện tử mức 2"}))
        .await;
    m["id"].as_str().unwrap().to_string()
}

fn campaign(msg: &str, targets: Value) -> Value {
    json!({"name": "Đề án 06", "messages": [{"id": msg, "dwell_s": 10}], "targets": targets,
           "cron": "0 7 * * *", "duration_s": 3600, "priority": 10})
}

async fn refused(c: &Client<'_>, method: &str, path: &str, body: Option<Value>) {
    let mut b = c.req(method, path);
    if let Some(v) = body {
        b = b.json(&v);
    }
    let r = c.send(b).await;
    assert_eq!(
        (r.status, &r.json["error"]),
        (403, &json!("outside_scope")),
        "{method} {path}: {}",
        r.json
    );
}

#[tokio::test]
async fn a_district_sees_only_its_panels() {
    let rig = Rig::new();
    province(&rig).await;
    let lan = rig.person("lan", &[Role::Editor], Some(&["cua-lo"])).await;
    let (st, list) = lan.get("/panels").await;
    assert_eq!(st, 200);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cua-lo-1", "cua-lo-2"]);
    for path in [
        "/panels/vinh-1",
        "/panels/vinh-1/now",
        "/panels/vinh-1/timeline",
        "/panels/vinh-1/frame.png",
    ] {
        assert_eq!(lan.get(path).await.0, 404, "{path}");
    }
    assert_eq!(lan.get("/panels/cua-lo-1").await.0, 200);
    let (_, me) = lan.get("/me").await;
    assert_eq!(me["scope"], json!(["cua-lo"]));
    // Province-wide staff see everything.
    let (_, all) = rig
        .person("hoa", &[Role::Editor], None)
        .await
        .get("/panels")
        .await;
    assert_eq!(all.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn campaigns_and_alerts_cannot_escape_the_district() {
    let rig = Rig::new();
    let msg = &province_with_message(&rig).await;
    let sched = rig
        .person("lich", &[Role::Scheduler], Some(&["cua-lo"]))
        .await;
    // A group id of another district, "all", a panel elsewhere, a panel
    // that is also in another group but not in this one's scope.
    for targets in [
        json!(["group:vinh"]),
        json!(["all"]),
        json!(["vinh-1"]),
        json!(["group:cua-lo", "group:ven-bien"]),
    ] {
        refused(&sched, "POST", "/campaigns", Some(campaign(msg, targets))).await;
    }
    let (st, inside) = sched
        .post(
            "/campaigns",
            campaign(msg, json!(["group:cua-lo", "cua-lo-2"])),
        )
        .await;
    assert_eq!(st, 201, "{inside}");
    let id = inside["id"].as_str().unwrap();
    // Widening its own campaign is an escape too.
    refused(
        &sched,
        "PUT",
        &format!("/campaigns/{id}"),
        Some(campaign(msg, json!(["group:cua-lo", "group:vinh"]))),
    )
    .await;
    // A province campaign is not theirs to change or remove.
    let (_, prov) = rig
        .admin()
        .post("/campaigns", campaign(msg, json!(["all"])))
        .await;
    let prov = prov["id"].as_str().unwrap();
    refused(
        &sched,
        "PUT",
        &format!("/campaigns/{prov}"),
        Some(campaign(msg, json!(["group:cua-lo"]))),
    )
    .await;
    refused(&sched, "DELETE", &format!("/campaigns/{prov}"), None).await;
    // The same for a scoped token.
    let (_, t) = rig
        .admin()
        .post(
            "/tokens",
            json!({"name": "lich-cua-lo", "roles": ["scheduler"], "scope": ["cua-lo"]}),
        )
        .await;
    let script = rig.client(t["token"].as_str());
    refused(
        &script,
        "POST",
        "/campaigns",
        Some(campaign(msg, json!(["group:vinh"]))),
    )
    .await;
    // Alerts: only to the district.
    let op = rig
        .person("truc", &[Role::Operator], Some(&["cua-lo"]))
        .await;
    let alert = |targets: Value| json!({"text": "Bão số 3", "targets": targets, "duration_s": 600});
    refused(&op, "POST", "/alerts", Some(alert(json!(["group:vinh"])))).await;
    refused(&op, "POST", "/alerts", Some(alert(json!(["all"])))).await;
    let (st, a) = op.post("/alerts", alert(json!(["group:cua-lo"]))).await;
    assert_eq!(st, 201, "{a}");
    let (_, prov_alert) = rig.admin().post("/alerts", alert(json!(["all"]))).await;
    refused(
        &op,
        "DELETE",
        &format!("/alerts/{}", prov_alert["id"].as_str().unwrap()),
        None,
    )
    .await;
    // Nothing of the refused reached the store.
    let (_, cs) = rig.admin().get("/campaigns").await;
    assert_eq!(cs.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_district_approver_approves_only_what_runs_inside_the_district() {
    let rig = Rig::new();
    province(&rig).await;
    let editor = rig.person("lan", &[Role::Editor], Some(&["cua-lo"])).await;
    let approver = rig
        .person("duyet", &[Role::Approver], Some(&["cua-lo"]))
        .await;
    let new_msg = || async {
        let m = editor
            .create_message(json!({"title": "Dịch vụ công", "text": "Nộp hồ sơ trực tuyến"}))
            .await;
        m["id"].as_str().unwrap().to_string()
    };
    // Not yet placed anywhere: only a province-wide approver may.
    let loose = new_msg().await;
    refused(
        &approver,
        "POST",
        &format!("/messages/{loose}/approve"),
        None,
    )
    .await;
    // Placed in the district: yes.
    let local = new_msg().await;
    let (st, _) = rig
        .admin()
        .post("/campaigns", campaign(&local, json!(["group:cua-lo"])))
        .await;
    assert_eq!(st, 201);
    let (st, v) = approver
        .post(&format!("/messages/{local}/approve"), json!({}))
        .await;
    assert_eq!(st, 200, "{v}");
    // Placed also in another district: no, and the editor may not edit it either.
    let wide = new_msg().await;
    rig.admin()
        .post("/campaigns", campaign(&wide, json!(["group:cua-lo"])))
        .await;
    rig.admin()
        .post("/campaigns", campaign(&wide, json!(["vinh-1"])))
        .await;
    refused(
        &approver,
        "POST",
        &format!("/messages/{wide}/approve"),
        None,
    )
    .await;
    refused(
        &editor,
        "PUT",
        &format!("/messages/{wide}"),
        Some(json!({"title": "Sửa", "text": "Sửa"})),
    )
    .await;
    let (st, _) = rig
        .person("tinh", &[Role::Approver], None)
        .await
        .post(&format!("/messages/{wide}/approve"), json!({}))
        .await;
    assert_eq!(st, 200, "the provincial approver may");
}

/// The role × route × scope matrix for panels: every row of the route
/// table addressed at `/panels/{id}…`, and every preview on a panel
/// (`?panel=`), answers a district's staff (holding every role, for their
/// district only) about another district's panel exactly as about a panel
/// that does not exist; inside the district the same addresses answer.
/// Before, snapshots and previews of other districts' panels were served.
#[tokio::test]
async fn every_panel_address_and_preview_hides_other_districts() {
    let rig = Rig::new();
    let msg = &province_with_message(&rig).await;
    // Every role but admin, which holds province-wide only.
    let roles: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| *r != Role::Admin)
        .collect();
    let lan = rig.person("lan", &roles, Some(&["cua-lo"])).await;
    let mut addresses: Vec<(&str, String, Option<Value>)> = crate::api::table::ROUTES
        .iter()
        .filter(|r| r.path.starts_with("/panels/{id}") && r.role != Some(Role::Admin))
        .map(|r| (r.method, r.path.to_string(), None))
        .collect();
    assert!(addresses.len() >= 7, "{}", addresses.len());
    let preview = json!({"title": "Thử", "text": "Xem trước"});
    addresses.extend([
        (
            "GET",
            format!("/messages/{msg}/preview.png?panel={{id}}"),
            None,
        ),
        ("POST", "/preview?panel={id}".to_string(), Some(preview)),
        (
            "POST",
            "/alerts/preview?panel={id}".to_string(),
            Some(json!({"text": "Bão số 3"})),
        ),
    ]);
    for (method, path, body) in &addresses {
        let call = |id: &str| {
            // Replacing a panel takes a whole panel.
            let body = match (*method, path.as_str()) {
                ("PUT", "/panels/{id}") => panel(id, 128, 32, "mono1", &["cua-lo"]),
                _ => body.clone().unwrap_or(json!({})),
            };
            lan.send(
                lan.req(method, &path.replace("{id}", id))
                    .header("content-type", "application/json")
                    .body(body.to_string()),
            )
        };
        let (hidden, missing) = (call("vinh-1").await, call("zz-missing").await);
        assert_eq!(
            (hidden.status, &hidden.json["error"]),
            (404, &json!("not_found")),
            "{method} {path}: {}",
            hidden.json
        );
        assert_eq!(
            hidden.json["message"].as_str().unwrap(),
            missing.json["message"]
                .as_str()
                .unwrap()
                .replace("zz-missing", "vinh-1"),
            "{method} {path}"
        );
    }
    // Inside the district the previews and reads answer.
    for (method, path, body) in &addresses[addresses.len() - 3..] {
        let b = lan
            .req(method, &path.replace("{id}", "cua-lo-1"))
            .header("content-type", "application/json")
            .body(body.as_ref().map_or("{}".to_string(), Value::to_string));
        assert_eq!(lan.send(b).await.status, 200, "{method} {path}");
    }
    for path in ["/panels/cua-lo-1/now", "/panels/cua-lo-1/timeline"] {
        assert_eq!(lan.get(path).await.0, 200, "{path}");
    }
    // Nothing of the hidden panel changed.
    assert_eq!(rig.admin().get("/panels/vinh-1").await.0, 200);
}
