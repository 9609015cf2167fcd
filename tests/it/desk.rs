//! The approval desk over real HTTP: the queue filtered by district,
//! rejection with a comment, the author's notifications, every version
//! kept across a crash, the word diff; and a message's validity window,
//! which takes it off a real controller's panel at `valid_until` with no
//! other write.

use std::time::Duration;

use bangtin::frame::FLAG_BLANK;
use serde_json::{json, Value};

use super::util::{controller, shown_until, Api, Server, ADMIN_TOKEN};

/// A token with these roles for these districts (`None`: province-wide).
async fn scoped(admin: &Api, name: &str, roles: &[&str], scope: Option<&[&str]>) -> Api {
    let (st, v) = admin
        .post(
            "/tokens",
            json!({"name": name, "roles": roles, "scope": scope}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let mut api = admin.clone();
    api.token = Some(v["token"].as_str().unwrap().to_string());
    api
}

/// The same token for the restarted server (a new address, new
/// connections).
fn fresh(server: &Server, api: &Api) -> Api {
    Api::new(server, api.token.as_deref())
}

/// A panel in Cửa Lò and one in Vinh.
pub(super) async fn two_districts(admin: &Api) {
    for (id, name, g) in [
        ("cl-1", "Bãi biển Cửa Lò", "cua-lo"),
        ("vinh-1", "Quảng trường", "vinh"),
    ] {
        admin
            .create_panel(json!({"id": id, "name": name, "width": 128, "height": 32,
                                 "format": "mono1", "groups": [g], "color": "#ff2000"}))
            .await;
    }
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| i[key].as_str().unwrap_or_default().to_string())
        .collect()
}

fn queue_ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| i["message"]["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn reject_with_a_comment_fix_and_approve_with_versions_and_a_word_diff() {
    let mut server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    two_districts(&admin).await;
    let editor = scoped(&admin, "lan", &["editor"], Some(&["cua-lo"])).await;
    let tinh = scoped(&admin, "hung", &["approver"], None).await;
    let vinh = scoped(&admin, "vinh-duyet", &["approver"], Some(&["vinh"])).await;
    let scheduler = scoped(&admin, "minh", &["scheduler"], None).await;

    let v1 = "Kích hoạt tài khoản định danh điện tử mức 2 tại công an phường Thu Thuỷ.";
    let id = editor
        .create_message(json!({"title": "Đề án 06", "text": v1}))
        .await;
    let (st, c) = scheduler
        .post(
            "/campaigns",
            json!({"name": "Đề án 06 Cửa Lò", "messages": [{"id": id, "dwell_s": 10}],
                   "targets": ["group:cua-lo"], "start": "2020-01-01", "priority": 1}),
        )
        .await;
    assert_eq!(st, 201, "{c}");

    // The provincial approver's queue has it, with where it will run; the
    // Vinh approver's does not (it runs in Cửa Lò); an editor has no queue.
    let (st, q) = tinh.get("/desk").await;
    assert_eq!(st, 200, "{q}");
    assert_eq!(queue_ids(&q), vec![id.clone()]);
    assert_eq!(q[0]["message"]["updated_by"], "lan");
    assert_eq!(q[0]["placements"][0]["name"], "Đề án 06 Cửa Lò");
    assert_eq!(
        q[0]["placements"][0]["targets"][0]["target"],
        "group:cua-lo"
    );
    assert_eq!(q[0]["can_approve"], true);
    let (_, q) = vinh.get("/desk").await;
    assert_eq!(queue_ids(&q), Vec::<String>::new(), "{q}");
    assert_eq!(editor.get("/desk").await.0, 403);
    // Nor may the Vinh approver reject it.
    let (st, v) = vinh
        .post(
            &format!("/messages/{id}/reject"),
            json!({"comment": "Không"}),
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (403, Some("outside_scope")),
        "{v}"
    );
    // The approver is told it waits.
    let (_, n) = tinh.get("/notifications").await;
    assert_eq!(
        (n[0]["kind"].as_str(), n[0]["message"].as_str()),
        (Some("waiting"), Some(id.as_str())),
        "{n}"
    );

    // A rejection needs a comment, bounded.
    for bad in [
        json!({}),
        json!({"comment": "  "}),
        json!({"comment": "x".repeat(1001)}),
    ] {
        let (st, v) = tinh.post(&format!("/messages/{id}/reject"), bad).await;
        assert_eq!(st, 400, "{v}");
    }
    let comment = "Ghi rõ giờ làm việc: sáng thứ Bảy.";
    let (st, m) = tinh
        .post(
            &format!("/messages/{id}/reject"),
            json!({"comment": comment, "version": 1}),
        )
        .await;
    assert_eq!(st, 200, "{m}");
    assert_eq!(m["status"], "draft");
    assert_eq!(m["rejection"]["comment"], comment);
    assert_eq!(m["rejection"]["by"], "hung");
    // Out of the queue; the author sees the comment.
    assert_eq!(queue_ids(&tinh.get("/desk").await.1), Vec::<String>::new());
    let (_, n) = editor.get("/notifications").await;
    assert_eq!(n[0]["kind"], "rejected", "{n}");
    assert_eq!(n[0]["comment"], comment);

    // A crash after the acknowledged rejection loses nothing.
    server.restart();
    let (editor, tinh) = (fresh(&server, &editor), fresh(&server, &tinh));
    let (_, m) = editor.get(&format!("/messages/{id}")).await;
    assert_eq!(m["rejection"]["comment"], comment, "{m}");

    // The author fixes it: back in the queue, the rejection cleared.
    let v2 =
        "Kích hoạt tài khoản định danh điện tử mức 2 tại công an phường Thu Thuỷ, sáng thứ Bảy.";
    let (st, m) = editor
        .put(
            &format!("/messages/{id}"),
            json!({"title": "Đề án 06", "text": v2}),
        )
        .await;
    assert_eq!(st, 200, "{m}");
    assert!(m.get("rejection").is_none(), "{m}");
    assert_eq!(queue_ids(&tinh.get("/desk").await.1), vec![id.clone()]);

    // Never approved yet: the diff is against the version sent back.
    let (_, d) = tinh.get(&format!("/messages/{id}/diff")).await;
    assert_eq!(
        (d["from"].clone(), d["base"].clone(), d["to"].clone()),
        (json!(1), json!("rejected"), json!(2)),
        "{d}"
    );
    assert_eq!(d["text"][1]["op"], "insert", "{d}");
    assert_eq!(d["text"][1]["text"], ", sáng thứ Bảy", "{d}");
    tinh.approve(&id).await;
    // An edit after the approval: the diff is against version 2, by words.
    let v3 =
        "Kích hoạt tài khoản định danh điện tử mức 2 tại công an xã Nghi Hương, sáng Chủ nhật.";
    let (st, _) = editor
        .put(
            &format!("/messages/{id}"),
            json!({"title": "Đề án 06", "text": v3}),
        )
        .await;
    assert_eq!(st, 200);
    let (st, d) = tinh.get(&format!("/messages/{id}/diff")).await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(
        (d["from"].clone(), d["base"].clone(), d["to"].clone()),
        (json!(2), json!("approved"), json!(3)),
        "{d}"
    );
    let parts: Vec<(String, String)> = d["text"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["op"].as_str().unwrap().into(),
                p["text"].as_str().unwrap().into(),
            )
        })
        .collect();
    let of = |op: &str| -> String {
        parts
            .iter()
            .filter(|(o, _)| o == op)
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join("|")
    };
    assert_eq!(of("delete"), "phường Thu Thuỷ|thứ Bảy", "{parts:?}");
    assert_eq!(of("insert"), "xã Nghi Hương|Chủ nhật", "{parts:?}");
    assert!(of("equal").starts_with("Kích hoạt tài khoản"));

    // Every version, newest first, with who and when; kept across a crash.
    server.restart();
    let (editor, tinh) = (fresh(&server, &editor), fresh(&server, &tinh));
    let (st, vs) = editor.get(&format!("/messages/{id}/versions")).await;
    assert_eq!(st, 200, "{vs}");
    let list = vs.as_array().unwrap();
    assert_eq!(
        list.iter()
            .map(|v| v["version"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![3, 2, 1]
    );
    assert_eq!(list[0]["text"], v3);
    assert_eq!(list[1]["approved_by"], "hung");
    assert_eq!(list[2]["rejection"]["comment"], comment);
    assert!(list.iter().all(|v| v["by"] == "lan" && v["at"].is_string()));
    assert_eq!(ids(&vs, "text")[1], v2);
    // The author is told of the approval (of version 2) no longer, now
    // that version 3 waits; the approver is told it waits.
    let (_, n) = tinh.get("/notifications").await;
    assert_eq!(n[0]["kind"], "waiting", "{n}");
    // An approved message cannot be rejected.
    tinh.approve(&id).await;
    let (st, v) = tinh
        .post(
            &format!("/messages/{id}/reject"),
            json!({"comment": "muộn"}),
        )
        .await;
    assert_eq!((st, v["error"].as_str()), (409, Some("not_waiting")), "{v}");
    let (_, n) = editor.get("/notifications").await;
    assert_eq!(
        (n[0]["kind"].as_str(), n[0]["by"].as_str()),
        (Some("approved"), Some("hung")),
        "{n}"
    );
}

#[tokio::test]
async fn data_written_before_versions_were_kept_still_loads() {
    let mut server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    let id = admin
        .create_message(json!({"title": "Cũ", "text": "Tin từ trước"}))
        .await;
    // As an older server left it: no versions directory, no new fields.
    server.kill9();
    let data = server.data.clone();
    std::fs::remove_dir_all(data.join("state/versions")).unwrap();
    let path = data.join(format!("content/messages/{id}.json"));
    let mut m: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(m.get("last_approved").is_none() && m.get("rejection").is_none());
    m.as_object_mut().unwrap().remove("valid_from");
    std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    server.restart();
    let admin = fresh(&server, &admin);
    let (st, vs) = admin.get(&format!("/messages/{id}/versions")).await;
    assert_eq!(st, 200, "{vs}");
    assert_eq!(vs.as_array().unwrap().len(), 1);
    assert_eq!(vs[0]["text"], "Tin từ trước");
    // And the first write after it starts the history.
    let (st, _) = admin
        .put(
            &format!("/messages/{id}"),
            json!({"title": "Cũ", "text": "Tin đã sửa"}),
        )
        .await;
    assert_eq!(st, 200);
    let (_, vs) = admin.get(&format!("/messages/{id}/versions")).await;
    assert_eq!(ids(&vs, "text"), vec!["Tin đã sửa".to_string()], "{vs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_leaves_the_panel_at_valid_until_without_another_write() {
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    let url = admin
        .create_panel_with_controller(
            &server,
            json!({"id": "p1", "name": "Cổng UBND", "width": 64, "height": 16, "format": "mono1"}),
        )
        .await;
    let mut c = controller(&url, "p1");
    shown_until(&mut c, Duration::from_secs(10), "blank frame", |s| {
        s.flags & FLAG_BLANK != 0
    })
    .await;
    let editor = admin.with_roles("lan", &["editor"]).await;
    // An empty window is refused.
    let now = chrono::Utc::now();
    let (st, v) = editor
        .post(
            "/messages",
            json!({"title": "x", "text": "x", "valid_from": now.to_rfc3339(), "valid_until": now.to_rfc3339()}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    let until = chrono::Utc::now() + chrono::TimeDelta::seconds(6);
    let id = editor
        .create_message(
            json!({"title": "Hạn chót", "text": "Nộp hồ sơ trước 17 giờ",
                               "valid_until": until.to_rfc3339()}),
        )
        .await;
    admin.approve(&id).await;
    let (st, v) = admin
        .post(
            "/campaigns",
            json!({"name": "Cả ngày", "messages": [{"id": id, "dwell_s": 30}], "targets": ["p1"],
                   "start": "2020-01-01", "priority": 1}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    shown_until(&mut c, Duration::from_secs(5), "the message", |s| {
        s.flags & FLAG_BLANK == 0
    })
    .await;
    assert!(
        chrono::Utc::now() < until,
        "the test machine is too slow for a 6 s window"
    );
    let audit_before = admin.get("/audit").await.1;
    // No write from here on: the panel goes blank at `valid_until` by itself.
    shown_until(
        &mut c,
        Duration::from_secs(15),
        "blank after valid_until",
        |s| s.flags & FLAG_BLANK != 0,
    )
    .await;
    let blank_at = chrono::Utc::now();
    assert!(
        blank_at >= until,
        "blank at {blank_at}, before valid_until {until}"
    );
    assert!(
        blank_at - until < chrono::TimeDelta::seconds(3),
        "blank at {blank_at}, long after valid_until {until}"
    );
    assert_eq!(
        admin.get("/audit").await.1,
        audit_before,
        "nothing was written"
    );
    let (_, now) = admin.get("/panels/p1/now").await;
    assert_eq!(now["message"], Value::Null, "{now}");
}
