//! Campaigns (every value checked, references must exist), the cron
//! explainer, and alert input.

use serde_json::{json, Value};

use super::{panel, Rig};
use crate::domain::Role;

#[tokio::test]
async fn campaigns_are_validated() {
    let rig = Rig::new();
    let admin = rig.admin();
    let mid = admin
        .panel_and_message(
            panel("p1", 128, 32, "mono1", &["d1"]),
            json!({"title": "A", "text": "Xin chào"}),
        )
        .await;
    let sched = rig.user("minh", &[Role::Scheduler]);
    let base = json!({"name": "Sáng", "messages": [{"id": mid, "dwell_s": 8}], "targets": ["p1"], "priority": 1});
    let with = |pairs: &[(&str, Value)]| {
        let mut b = base.clone();
        for (k, v) in pairs {
            b[*k] = v.clone();
        }
        b
    };
    for cron in [
        "0 7 * * 1-5",
        "0 0 7 * * Mon-Fri",
        "0 0 7 * * * 2026",
        "@daily",
    ] {
        let (st, v) = sched
            .post(
                "/campaigns",
                with(&[("cron", json!(cron)), ("duration_s", json!(3600))]),
            )
            .await;
        assert_eq!(st, 201, "{cron}: {v}");
    }
    let (st, c) = sched
        .post("/campaigns", with(&[("start", json!("2026-01-01"))]))
        .await;
    assert_eq!(st, 201, "{c}");
    let cid = c["id"].as_str().unwrap().to_string();
    for (body, want, why) in [
        (with(&[("cron", json!("61 7 * * *"))]), 400, "minute 61"),
        (with(&[("cron", json!("0 7 * *"))]), 400, "4 fields"),
        (with(&[("tz", json!("Mars/Olympus"))]), 400, "time zone"),
        (with(&[("start", json!("2026-13-01"))]), 400, "month 13"),
        (
            with(&[("end", json!("2025-01-01")), ("start", json!("2026-01-01"))]),
            400,
            "end before start",
        ),
        (with(&[("targets", json!(["nope"]))]), 422, "unknown panel"),
        (
            with(&[("targets", json!(["group:nowhere"]))]),
            422,
            "unknown group",
        ),
        (with(&[("targets", json!([]))]), 400, "no targets"),
        (
            with(&[("messages", json!([{"id": "nope", "dwell_s": 8}]))]),
            422,
            "unknown message",
        ),
        (
            with(&[("messages", json!([{"id": mid, "dwell_s": 0}]))]),
            400,
            "dwell 0",
        ),
    ] {
        let (st, v) = sched.post("/campaigns", body).await;
        assert_eq!(st, want, "{why}: {v}");
        assert!(
            v["message"].as_str().is_some_and(|m| m.len() > 10),
            "{why}: {v}"
        );
    }
    let (st, _) = sched
        .put(
            &format!("/campaigns/{cid}"),
            with(&[("priority", json!(5))]),
        )
        .await;
    assert_eq!(st, 200);
    let (_, got) = sched.get(&format!("/campaigns/{cid}")).await;
    assert_eq!(got["priority"], 5);
    // A message in use cannot be deleted.
    assert_eq!(admin.delete(&format!("/messages/{mid}")).await.0, 409);
    assert_eq!(sched.delete(&format!("/campaigns/{cid}")).await.0, 204);
}

#[tokio::test]
async fn cron_explain_lists_the_next_firings() {
    let rig = Rig::new();
    let sched = rig.user("minh", &[Role::Scheduler]);
    let (st, v) = sched
        .post(
            "/cron/explain",
            json!({"cron": "0 7 * * 1-5", "tz": "Asia/Ho_Chi_Minh"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["next"].as_array().unwrap().len(), 5);
    assert!(
        v["next"][0].as_str().unwrap().contains("07:00:00+07:00"),
        "{v}"
    );
    assert_eq!(
        sched.post("/cron/explain", json!({"cron": "bad"})).await.0,
        400
    );
}

/// Alert input: targets must match a panel, durations are bounded; the
/// delivery figures count the targets (acks need a player: tests/it).
#[tokio::test]
async fn alerts_are_validated() {
    let rig = Rig::with_sample_data();
    let op = rig.user("op", &[Role::Operator]);
    let (st, a) = op.post("/alerts", json!({"text": "BÃO SỐ 9: KHÔNG RA KHƠI", "targets": ["group:ven-bien"], "duration_s": 600})).await;
    assert_eq!(st, 201, "{a}");
    assert_eq!(a["panels"], 2);
    let aid = a["id"].as_str().unwrap().to_string();
    assert_eq!(
        op.post(
            "/alerts",
            json!({"text": "x", "targets": ["group:nowhere"], "duration_s": 60})
        )
        .await
        .0,
        422
    );
    assert_eq!(
        op.post(
            "/alerts",
            json!({"text": "x", "targets": ["all"], "duration_s": 0})
        )
        .await
        .0,
        400
    );
    for (body, why) in [
        (
            json!({"text": " ", "targets": ["all"], "duration_s": 60}),
            "blank text",
        ),
        (
            json!({"text": "x".repeat(501), "targets": ["all"], "duration_s": 60}),
            "long text",
        ),
        (
            json!({"text": "x", "targets": ["all"], "duration_s": 3 * 86_400 + 1}),
            "too long",
        ),
        (
            json!({"text": "x", "targets": [], "duration_s": 60}),
            "no targets",
        ),
    ] {
        let (st, v) = op.post("/alerts", body).await;
        assert_eq!(st, 400, "{why}: {v}");
        assert!(
            v["message"].as_str().is_some_and(|m| m.len() > 10),
            "{why}: {v}"
        );
    }
    let (st, a) = op.get(&format!("/alerts/{aid}")).await;
    assert_eq!(st, 200);
    assert_eq!(a["delivery"]["targets"], 2);
    assert_eq!(a["active"], true);
    assert_eq!(op.delete(&format!("/alerts/{aid}")).await.0, 204);
    let (_, a) = op.get(&format!("/alerts/{aid}")).await;
    assert_eq!(a["active"], false);
    assert!(a["cancelled_at"].is_string(), "{a}");
}
