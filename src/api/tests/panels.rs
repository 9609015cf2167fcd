//! Panels: create, read, replace, delete, and every kind of bad input.

use serde_json::json;

use super::{panel, Rig};

#[tokio::test]
async fn panels_crud_and_bad_input() {
    let rig = Rig::new();
    let admin = rig.admin();
    let v = admin
        .create_panel(panel("p10-a", 128, 32, "mono1", &["hai-chau"]))
        .await;
    assert_eq!(v["online"], false);
    assert_eq!(
        admin
            .post("/panels", panel("p10-a", 128, 32, "mono1", &[]))
            .await
            .0,
        409
    );
    for (body, why) in [
        (panel("Bad Id", 128, 32, "mono1", &[]), "id"),
        (panel("../etc", 128, 32, "mono1", &[]), "id"),
        (panel("p2", 5000, 32, "mono1", &[]), "width"),
        (panel("p2", 128, 0, "mono1", &[]), "height"),
        (panel("p2", 128, 32, "cmyk", &[]), "format"),
        (panel("p2", 128, 32, "mono1", &["Bad Group"]), "group"),
        (
            json!({"id": "p2", "name": "x", "width": 128, "height": 32, "format": "mono1", "extra": 1}),
            "unknown field",
        ),
        (
            json!({"id": "p2", "name": "x", "width": -1, "height": 32, "format": "mono1"}),
            "negative",
        ),
        (
            json!({"id": "p2", "name": "x", "width": 1e10, "height": 32, "format": "mono1"}),
            "huge",
        ),
    ] {
        let (st, v) = admin.post("/panels", body).await;
        assert_eq!(st, 400, "{why}: {v}");
        assert!(v["message"].as_str().unwrap().len() > 10, "{why}: {v}");
    }
    // Read, replace, delete.
    let (st, v) = admin.get("/panels/p10-a").await;
    assert_eq!((st, v["width"].as_u64()), (200, Some(128)));
    let (st, _) = admin
        .put(
            "/panels/p10-a",
            panel("p10-a", 192, 64, "mono1", &["hai-chau"]),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        admin
            .put("/panels/p10-a", panel("other", 192, 64, "mono1", &[]))
            .await
            .0,
        400
    );
    assert_eq!(
        admin
            .put("/panels/nope", panel("nope", 192, 64, "mono1", &[]))
            .await
            .0,
        404
    );
    let (st, list) = admin.get("/panels").await;
    assert_eq!(st, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(admin.delete("/panels/p10-a").await.0, 204);
    assert_eq!(admin.get("/panels/p10-a").await.0, 404);
    assert_eq!(admin.delete("/panels/p10-a").await.0, 404);
}

#[tokio::test]
async fn broken_bodies_and_path_tricks_are_refused() {
    let rig = Rig::new();
    let admin = rig.admin();
    // Malformed JSON, wrong content type, huge body.
    let post = |ct: &str, body: String| {
        admin
            .req("POST", "/panels")
            .header("content-type", ct)
            .body(body)
    };
    let r = admin
        .send(post("application/json", "{\"id\":".into()))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json["message"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    let r = admin.send(post("text/plain", "{}".into())).await;
    assert_eq!(r.status, 415);
    let huge = format!("{{\"id\":\"p3\",\"name\":\"{}\"}}", "x".repeat(2 << 20));
    let r = admin.send(post("application/json", huge)).await;
    assert_eq!((r.status, &r.json["error"]), (413, &json!("too_large")));
    // Path tricks in ids.
    for p in [
        "/panels/..%2F..%2Fetc",
        "/panels/%2e%2e",
        "/panels/a%00b",
        "/panels/P10-A",
        "/panels/p%D0%B0nel",
    ] {
        let (st, v) = admin.get(p).await;
        assert!(st == 400 || st == 404, "{p}: {st} {v}");
    }
}

/// The sample data's timeline, computed by the API without a player: the
/// two sample messages alternate every 10 s; grouped by campaign the hour
/// is one slot (no rush-hour campaign at 03:00 local).
#[tokio::test]
async fn timeline_of_the_sample_data() {
    let rig = Rig::with_sample_data();
    let admin = rig.admin();
    let q = "/panels/p10-vinh-ubnd-hung-dung/timeline?from=2026-12-01T03:00:00%2B07:00&to=2026-12-01T04:00:00%2B07:00";
    let (st, slots) = admin.get(q).await;
    assert_eq!(st, 200, "{slots}");
    let slots = slots.as_array().unwrap().clone();
    assert!(slots.len() >= 300, "{}", slots.len());
    let msgs: std::collections::BTreeSet<String> = slots
        .iter()
        .filter_map(|s| s["message"].as_str().map(str::to_string))
        .collect();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert!(slots.windows(2).all(|w| w[0]["end"] == w[1]["start"]));
    let (_, grouped) = admin.get(&format!("{q}&group=campaign")).await;
    assert_eq!(grouped.as_array().unwrap().len(), 1, "{grouped}");
    assert_eq!(grouped[0]["campaign"], "chuyen-doi-so-2026");
    assert_eq!(admin.get(&format!("{q}&group=nope")).await.0, 400);
}

#[tokio::test]
async fn transports_are_checked_shown_and_stored_only_when_not_mqtt() {
    let rig = Rig::new();
    let admin = rig.admin();
    let v = admin
        .create_panel(panel("plain", 64, 32, "mono1", &[]))
        .await;
    assert_eq!(v["transport"], json!({"kind": "mqtt"}), "{v}");
    assert_eq!(v["link"]["kind"], "mqtt");
    assert_eq!(v["link"]["connected"], false);
    let mut h = panel("hd", 128, 32, "rgb888", &[]);
    h["transport"] =
        json!({"kind": "huidu", "device_id": "C16-19-A0001", "address": "192.168.1.50"});
    let v = admin.create_panel(h).await;
    assert_eq!(v["transport"]["device_id"], "C16-19-A0001", "{v}");
    assert_eq!(v["link"]["kind"], "huidu");
    // Stored: MQTT panels as before (no transport), vendor panels with it.
    let stored = |id: &str| {
        let path = rig.ctx.store.panel_path(&id.parse().unwrap());
        std::fs::read_to_string(path).unwrap()
    };
    assert!(!stored("plain").contains("transport"));
    assert!(stored("hd").contains("C16-19-A0001"));
    for (t, why) in [
        (json!({"kind": "huidu", "device_id": "C16 19"}), "device id"),
        (
            json!({"kind": "huidu", "device_id": "C16", "address": "1.2.3.4:0"}),
            "port",
        ),
        (
            json!({"kind": "hd2020", "address": "1.2.3.4:5005", "color_type": "single"}),
            "mono1",
        ),
        (json!({"kind": "hd2020", "address": "1.2.3.4"}), "port"),
        (json!({"kind": "lora"}), "unknown variant"),
    ] {
        let mut b = panel("bad", 128, 32, "rgb888", &[]);
        b["transport"] = t;
        let (st, v) = admin.post("/panels", b).await;
        assert_eq!(st, 400, "{why}: {v}");
        assert!(v["message"].as_str().unwrap().contains(why), "{why}: {v}");
    }
}
