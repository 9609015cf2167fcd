//! Ways out of a district that the first cut of scopes left open, each
//! through the real router: an admin role given a scope, messages that
//! no campaign places yet, reads that listed other districts' panels, a
//! scoped feed token's warnings, and approvals that did not cover where
//! a message runs.

use serde_json::{json, Value};

use super::{panel, raise_alarm, Client, Rig};
use crate::domain::{Id, Role};

/// Two districts: Vinh (one panel) and Cửa Lò (two).
async fn two_districts(rig: &Rig) {
    let admin = rig.admin();
    for (id, group) in [
        ("vinh-1", "vinh"),
        ("cua-lo-1", "cua-lo"),
        ("cua-lo-2", "cua-lo"),
    ] {
        admin
            .create_panel(panel(id, 128, 32, "mono1", &[group]))
            .await;
    }
}

fn campaign(msg: &str, targets: Value) -> Value {
    json!({"name": "Đề án 06", "messages": [{"id": msg, "dwell_s": 10}], "targets": targets,
           "cron": "0 7 * * *", "duration_s": 3600, "priority": 10})
}

async fn message(c: &Client<'_>, title: &str) -> String {
    let m = c
        .create_message(json!({"title": title, "text": "Định danh điện tử mức 2"}))
        .await;
    m["id"].as_str().unwrap().to_string()
}

/// The status and error code of a call.
async fn answer(c: &Client<'_>, method: &str, path: &str, body: Value) -> (u16, Value) {
    let r = c
        .send(
            c.req(method, path)
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await;
    (r.status, r.json)
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v[key].as_str().unwrap().to_string())
        .collect()
}

/// The admin role holds for the whole province: a scope on it is refused
/// with 422 when an account or a token is made or changed, and a scoped
/// admin already stored is no admin (its other roles stay, inside its
/// scope). Before, a Cửa Lò admin could make province-wide accounts and
/// tokens and move panels to other districts.
#[tokio::test]
async fn the_admin_role_cannot_be_scoped() {
    let rig = Rig::new();
    two_districts(&rig).await;
    let admin = rig.admin();
    let user = |name: &str, roles: Value, scope: Value| {
        json!({"username": name, "display_name": "Cán bộ", "roles": roles, "scope": scope,
               "password": "mật khẩu đầu tiên"})
    };
    let (st, v) = admin
        .post(
            "/users",
            user("quan-tri", json!(["admin"]), json!(["cua-lo"])),
        )
        .await;
    assert_eq!((st, &v["error"]), (422, &json!("unprocessable")), "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("whole province"),
        "{v}"
    );
    let (st, v) = admin
        .post(
            "/tokens",
            json!({"name": "script", "roles": ["admin"], "scope": ["cua-lo"]}),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    // Changing an account into a scoped admin, either way round.
    let (st, _) = admin
        .post("/users", user("lan", json!(["editor"]), json!(["cua-lo"])))
        .await;
    assert_eq!(st, 201);
    let (st, v) = answer(
        &admin,
        "PATCH",
        "/users/lan",
        json!({"roles": ["editor", "admin"]}),
    )
    .await;
    assert_eq!(st, 422, "{v}");
    let (st, _) = admin
        .post("/users", user("hoa", json!(["admin"]), Value::Null))
        .await;
    assert_eq!(st, 201);
    let (st, v) = answer(&admin, "PATCH", "/users/hoa", json!({"scope": ["cua-lo"]})).await;
    assert_eq!(st, 422, "{v}");
    // One stored before the rule: not an admin, still an editor inside.
    let token = rig
        .ctx
        .tokens
        .create_limited(
            "old-admin",
            &[Role::Admin, Role::Editor],
            crate::store::tokens::Limits {
                expires_at: None,
                scope: Some(vec![Id::parse("cua-lo").unwrap()]),
            },
        )
        .unwrap();
    let old = rig.client(Some(&token));
    for (method, path, body) in [
        (
            "POST",
            "/users",
            user("moi", json!(["editor"]), Value::Null),
        ),
        (
            "POST",
            "/tokens",
            json!({"name": "wide", "roles": ["scheduler"]}),
        ),
        (
            "PUT",
            "/panels/cua-lo-1",
            panel("cua-lo-1", 128, 32, "mono1", &["vinh"]),
        ),
        (
            "POST",
            "/panels",
            panel("new-1", 128, 32, "mono1", &["vinh"]),
        ),
    ] {
        let (st, v) = answer(&old, method, path, body).await;
        assert_eq!((st, &v["error"]), (403, &json!("forbidden")), "{path}: {v}");
        assert!(v["message"].as_str().unwrap().contains("old-admin"), "{v}");
    }
    assert_eq!(old.get("/panels").await.1.as_array().unwrap().len(), 2);
    let (st, _) = old
        .post("/messages", json!({"title": "Tin", "text": "Nội dung"}))
        .await;
    assert_eq!(st, 201, "its editor role holds");
    let (_, p) = admin.get("/panels/cua-lo-1").await;
    assert_eq!(p["groups"], json!(["cua-lo"]), "the panel stayed");
}

/// A message belongs to its author's district: a district's editor may
/// change, and its approver approve or reject, only messages written
/// inside the district, whether or not a campaign places them yet; the
/// province's messages are read-only to them. Before, a message no
/// campaign placed passed the check: Vinh edited Cửa Lò's drafts and the
/// province's approved messages.
#[tokio::test]
async fn a_message_is_its_authors_district() {
    let rig = Rig::new();
    two_districts(&rig).await;
    let lan = rig.person("lan", &[Role::Editor], Some(&["cua-lo"])).await;
    let vinh = rig
        .person("vinh-bt", &[Role::Editor], Some(&["vinh"]))
        .await;
    let duyet = rig
        .person("duyet", &[Role::Approver], Some(&["cua-lo"]))
        .await;
    let draft = message(&lan, "Dịch vụ công").await;
    let province = message(&rig.admin(), "Đề án 06").await;
    let (st, _) = rig
        .person("tinh", &[Role::Approver], None)
        .await
        .post(&format!("/messages/{province}/approve"), json!({}))
        .await;
    assert_eq!(st, 200);
    let edit = json!({"title": "Sửa", "text": "Sửa"});
    for (who, id) in [(&vinh, &draft), (&vinh, &province), (&lan, &province)] {
        for (method, body) in [("PUT", edit.clone()), ("DELETE", Value::Null)] {
            let (st, v) = answer(who, method, &format!("/messages/{id}"), body).await;
            assert_eq!(
                (st, &v["error"]),
                (403, &json!("outside_scope")),
                "{method} {id}: {v}"
            );
        }
    }
    // Placed in Cửa Lò only, the province's message is still not theirs.
    let (st, _) = rig
        .admin()
        .post("/campaigns", campaign(&province, json!(["group:cua-lo"])))
        .await;
    assert_eq!(st, 201);
    rig.admin()
        .put(&format!("/messages/{province}"), edit.clone())
        .await;
    for action in ["approve", "reject"] {
        let (st, v) = answer(
            &duyet,
            "POST",
            &format!("/messages/{province}/{action}"),
            json!({"comment": "Không đạt"}),
        )
        .await;
        assert_eq!((st, &v["error"]), (403, &json!("outside_scope")), "{v}");
    }
    let (_, q) = duyet.get("/desk").await;
    assert!(
        !q.to_string().contains(&province),
        "not in their queue: {q}"
    );
    // Its own district's draft: the editor changes it.
    let (st, v) = lan.put(&format!("/messages/{draft}"), edit).await;
    assert_eq!(st, 200, "{v}");
    let (_, m) = rig.admin().get(&format!("/messages/{province}")).await;
    assert_eq!(m["title"], "Sửa", "only the province changed it");
}

/// Reads show a district's staff their own panels only: the alarms (and
/// acknowledging one elsewhere is 403), official warnings, campaigns'
/// panel targets, the online report, the status counts and the groups'
/// panel counts. Before, each listed or counted the whole province.
#[tokio::test]
async fn reads_show_only_the_district() {
    let rig = Rig::new();
    two_districts(&rig).await;
    raise_alarm(&rig, 1, "vinh-1");
    raise_alarm(&rig, 2, "cua-lo-1");
    let msg = message(&rig.admin(), "Đề án 06").await;
    let admin = rig.admin();
    for targets in [json!(["vinh-1"]), json!(["cua-lo-1", "vinh-1"])] {
        let (st, _) = admin.post("/campaigns", campaign(&msg, targets)).await;
        assert_eq!(st, 201);
    }
    let op = rig
        .person("truc", &[Role::Operator], Some(&["cua-lo"]))
        .await;
    let (_, alarms) = op.get("/alarms").await;
    let panels: Vec<&str> = alarms["open"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["panel"].as_str().unwrap())
        .collect();
    assert_eq!(panels, ["cua-lo-1"], "{alarms}");
    let (st, v) = op.post("/alarms/1/acknowledge", json!({})).await;
    assert_eq!((st, &v["error"]), (403, &json!("outside_scope")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("vinh-1"), "{v}");
    assert_eq!(op.post("/alarms/2/acknowledge", json!({})).await.0, 200);
    // Campaigns: the Vinh-only one hidden, the shared one without Vinh.
    let (_, cs) = op.get("/campaigns").await;
    assert_eq!(cs.as_array().unwrap().len(), 1, "{cs}");
    assert_eq!(cs[0]["targets"], json!(["cua-lo-1"]), "{cs}");
    let vinh_only = ids(&admin.get("/campaigns").await.1, "id")
        .into_iter()
        .find(|id| id != cs[0]["id"].as_str().unwrap())
        .unwrap();
    assert_eq!(op.get(&format!("/campaigns/{vinh_only}")).await.0, 404);
    // Counts.
    let (_, status) = op.get("/status").await;
    assert_eq!(
        (status["panels"].as_u64(), status["campaigns"].as_u64()),
        (Some(2), Some(1))
    );
    let (_, online) = op
        .get("/reports/online?from=2020-01-01&to=2100-01-01")
        .await;
    let last = online.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["panels"], 2, "{online}");
    let (_, groups) = op.get("/groups").await;
    assert_eq!(ids(&groups, "id"), ["cua-lo"], "{groups}");
    assert_eq!(groups[0]["panels"], 2);
    let (_, all) = admin.get("/groups").await;
    assert_eq!(all.as_array().unwrap().len(), 2, "the province sees both");
}

/// A scoped feed token's warnings reach the panels of its scope only:
/// the storm that covers Vinh and Cửa Lò, posted with a Cửa Lò token,
/// goes to Cửa Lò's panel; posted with a Diễn Châu token it reaches no
/// panel. Before, every rule reached the whole province.
#[tokio::test]
async fn a_scoped_feed_reaches_its_scope_only() {
    use super::cap::{auto_storms, doc, post_cap, rig};
    for (scope, panels, targets) in [
        ("cualo", 1, json!(["group:cualo"])),
        ("dienchau", 0, Value::Null),
    ] {
        let rig = rig(auto_storms()).await;
        let (st, t) = rig
            .admin()
            .post(
                "/tokens",
                json!({"name": format!("feed-{scope}"), "roles": ["feed"], "scope": [scope]}),
            )
            .await;
        assert_eq!(st, 201, "{t}");
        let feed = rig.client(t["token"].as_str());
        let r = post_cap(&feed, doc(crate::cap::tests::STORM)).await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["panels"], panels, "{scope}: {}", r.json);
        let alert = r.json["alerts"][0].as_str();
        if let Some(id) = alert {
            let (_, a) = rig.admin().get(&format!("/alerts/{id}")).await;
            assert_eq!(a["targets"], targets, "{a}");
        }
        assert_eq!(alert.is_some(), !targets.is_null(), "{}", r.json);
    }
}

/// An approval covers the approver's district: once a Cửa Lò approver
/// approves a Cửa Lò editor's message, nobody (a Vinh scheduler, nor the
/// province's) runs it in Vinh until a province-wide approver approves
/// it; inside Cửa Lò it runs. Before, the Cửa Lò approval let it run
/// anywhere.
#[tokio::test]
async fn an_approval_covers_the_approvers_district() {
    let rig = Rig::new();
    two_districts(&rig).await;
    let lan = rig.person("lan", &[Role::Editor], Some(&["cua-lo"])).await;
    let duyet = rig
        .person("duyet", &[Role::Approver], Some(&["cua-lo"]))
        .await;
    let lich = rig
        .person("lich", &[Role::Scheduler], Some(&["cua-lo"]))
        .await;
    let vinh = rig
        .person("vinh-lich", &[Role::Scheduler], Some(&["vinh"]))
        .await;
    let msg = message(&lan, "Thanh toán không dùng tiền mặt").await;
    let (st, c) = lich
        .post("/campaigns", campaign(&msg, json!(["group:cua-lo"])))
        .await;
    assert_eq!(st, 201, "{c}");
    let (st, v) = duyet
        .post(&format!("/messages/{msg}/approve"), json!({}))
        .await;
    assert_eq!(st, 200, "{v}");
    let province = rig.person("tinh-lich", &[Role::Scheduler], None).await;
    for (who, targets) in [
        (&vinh, json!(["group:vinh"])),
        (&province, json!(["all"])),
        (&province, json!(["vinh-1"])),
    ] {
        let (st, v) = who.post("/campaigns", campaign(&msg, targets)).await;
        assert_eq!(
            (st, &v["error"]),
            (409, &json!("approval_outside_scope")),
            "{v}"
        );
        assert!(v["message"].as_str().unwrap().contains("duyet"), "{v}");
    }
    // Widening the Cửa Lò campaign is the same escape.
    let id = c["id"].as_str().unwrap();
    let (st, v) = province
        .put(
            &format!("/campaigns/{id}"),
            campaign(&msg, json!(["group:cua-lo", "vinh-1"])),
        )
        .await;
    assert_eq!(st, 409, "{v}");
    // A province-wide approval covers the province.
    let tinh = rig.person("tinh", &[Role::Approver], None).await;
    lan.put(
        &format!("/messages/{msg}"),
        json!({"title": "Thanh toán số", "text": "Không dùng tiền mặt"}),
    )
    .await;
    let (st, v) = tinh
        .post(&format!("/messages/{msg}/approve"), json!({}))
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = vinh
        .post("/campaigns", campaign(&msg, json!(["group:vinh"])))
        .await;
    assert_eq!(st, 201, "{v}");
}

/// A scoped feed token cannot end another area's warning: its Update of
/// the province's storm (the same sender, naming it) ends nothing, and
/// the storm's alert stays on the Vinh signs. Before, the Cửa Lò token's
/// Update ended the province-wide storm.
#[tokio::test]
async fn a_scoped_feed_ends_no_warning_beyond_its_scope() {
    use super::cap::{auto_storms, doc, post_cap, rig};
    use crate::cap::tests::{STORM, UPDATE};
    let rig = rig(auto_storms()).await;
    let admin = rig.admin();
    let province = rig.user("nchmf", &[Role::Feed]);
    let storm = post_cap(&province, doc(STORM)).await;
    assert_eq!(storm.json["panels"], 3, "{}", storm.json);
    let alert = storm.json["alerts"][0].as_str().unwrap().to_string();
    let (_, t) = admin
        .post(
            "/tokens",
            json!({"name": "feed-cualo", "roles": ["feed"], "scope": ["cualo"]}),
        )
        .await;
    let cualo = rig.client(t["token"].as_str());
    let update = post_cap(&cualo, doc(UPDATE)).await;
    assert_eq!(update.status, 200, "{}", update.json);
    assert_eq!(update.json["ended"], json!([]), "{}", update.json);
    let (_, a) = admin.get(&format!("/alerts/{alert}")).await;
    assert_eq!(a["active"], true, "{a}");
}
