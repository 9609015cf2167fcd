//! The approval desk in process: what a validity window does to the
//! public feeds (a message past `valid_until` is no longer on the signs,
//! so it is no longer public either).

use chrono::Utc;
use serde_json::json;

use super::{panel, Rig};
use crate::domain::Role;

#[tokio::test]
async fn a_message_past_its_window_leaves_the_public_feeds() {
    let rig = Rig::new();
    rig.admin()
        .create_panel(panel("vinh-1", 128, 32, "mono1", &["vinh"]))
        .await;
    let ed = rig.user("lan", &[Role::Editor]);
    let ap = rig.user("hung", &[Role::Approver]);
    let now = Utc::now();
    let mut ids = Vec::new();
    for (title, until) in [
        ("Còn hạn", now + chrono::TimeDelta::days(1)),
        ("Hết hạn", now - chrono::TimeDelta::hours(1)),
    ] {
        let m = ed
            .create_message(json!({"title": title, "text": "Nộp hồ sơ trực tuyến",
                                   "valid_until": until.to_rfc3339()}))
            .await;
        let id = m["id"].as_str().unwrap().to_string();
        assert_eq!(
            ap.post(&format!("/messages/{id}/approve"), json!({}))
                .await
                .0,
            200
        );
        ids.push(json!({"id": id, "dwell_s": 10}));
    }
    let (st, c) = rig
        .admin()
        .post(
            "/campaigns",
            json!({"name": "Dịch vụ công", "messages": ids, "targets": ["group:vinh"],
                   "priority": 1, "start": "2020-01-01"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let atom = rig.site("/public/messages.atom?district=vinh").await;
    let text = String::from_utf8_lossy(&atom.body).to_string();
    assert!(text.contains("<title>Còn hạn</title>"), "{text}");
    assert!(
        !text.contains("Hết hạn"),
        "an expired message is public: {text}"
    );
}

/// Every version stays, and a deleted message's whole history stays
/// readable by administrators (only them), with who deleted it.
#[tokio::test]
async fn a_deleted_messages_history_is_kept_for_administrators() {
    let rig = Rig::new();
    let ed = rig.user("lan", &[Role::Editor]);
    let m = ed
        .create_message(json!({"title": "Đề án 06", "text": "bản 1"}))
        .await;
    let id = m["id"].as_str().unwrap().to_string();
    for i in 2..=60 {
        let (st, v) = ed
            .put(
                &format!("/messages/{id}"),
                json!({"title": "Đề án 06", "text": format!("bản {i}")}),
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }
    let (_, all) = ed.get(&format!("/messages/{id}/versions")).await;
    assert_eq!(all.as_array().unwrap().len(), 60, "every version is kept");
    assert_eq!(all[59]["text"], "bản 1");
    let (st, _) = rig.admin().delete(&format!("/messages/{id}")).await;
    assert_eq!(st, 204);
    assert_eq!(ed.get(&format!("/messages/{id}/deleted")).await.0, 403);
    let (st, gone) = rig.admin().get(&format!("/messages/{id}/deleted")).await;
    assert_eq!(st, 200, "{gone}");
    assert_eq!(gone[0]["deleted_by"], "admin");
    let versions = gone[0]["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 60);
    assert_eq!(
        (&versions[59]["text"], &versions[59]["by"]),
        (&json!("bản 1"), &json!("lan"))
    );
    let (st, none) = rig.admin().get("/messages/never-was/deleted").await;
    assert_eq!((st, none), (200, json!([])));
}
