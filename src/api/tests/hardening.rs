//! What the outside probe found, in-process: security headers on every
//! reply, authenticated images never cached as public, duplicate targets
//! and equal brightness switch times refused, and a revoked token's event
//! stream ended at once.

use std::time::Duration;

use serde_json::json;

use super::{panel, png, Rig};
use crate::domain::Role;

/// Every reply, dashboard or API, success or error, carries the security
/// headers; the policy allows the dashboard's own scripts only.
#[tokio::test]
async fn every_reply_carries_the_security_headers() {
    let rig = Rig::new();
    let mut replies = Vec::new();
    for path in ["/", "/app.js", "/healthz", "/metrics", "/nothing-here"] {
        replies.push((path.to_string(), rig.site(path).await));
    }
    let admin = rig.admin();
    for path in ["/panels", "/nope", "/messages/NOT-AN-ID"] {
        replies.push((path.to_string(), admin.send(admin.req("GET", path)).await));
    }
    let anon = rig.anonymous();
    replies.push((
        "anonymous".into(),
        anon.send(anon.req("GET", "/panels")).await,
    ));
    for (path, r) in &replies {
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{path}");
        let csp = r.header("content-security-policy").unwrap_or_default();
        for part in [
            "script-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
    }
    // The page has no inline script for the policy to block.
    let index = String::from_utf8(rig.site("/").await.body.to_vec()).unwrap();
    assert_eq!(index.matches("<script").count(), 1);
    assert!(index.contains(r#"<script type="module" src="/app.js"></script>"#));
}

/// Images, previews and frames are shown only to a token holder: never
/// `public` (a shared cache would hand them to anyone), `private` with an
/// ETag instead, and 304 when the browser's copy is current.
#[tokio::test]
async fn authenticated_images_are_private_with_a_validator() {
    let rig = Rig::new();
    let admin = rig.admin();
    admin.create_panel(panel("p1", 64, 16, "mono1", &[])).await;
    let r = admin
        .send(
            admin
                .req("POST", "/assets")
                .header("content-type", "image/png")
                .body(png(32, 16)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let asset = r.json["id"].as_str().unwrap().to_string();
    let m = admin
        .create_message(json!({"title": "Ảnh", "text": "Xin chào"}))
        .await;
    let mid = m["id"].as_str().unwrap();
    for path in [
        format!("/assets/{asset}"),
        format!("/messages/{mid}/preview.png?panel=p1"),
        format!("/messages/{mid}/preview.png?width=64&height=16&format=rgb565"),
    ] {
        let r = admin.send(admin.req("GET", &path)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.json);
        let cc = r.header("cache-control").unwrap_or_default();
        assert!(
            cc.contains("private") && !cc.contains("public"),
            "{path}: {cc}"
        );
        let tag = r.header("etag").expect("a validator").to_string();
        let again = admin
            .send(admin.req("GET", &path).header("if-none-match", &tag))
            .await;
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty());
    }
    let r = admin
        .send(
            admin
                .req("POST", "/preview?panel=p1")
                .json(&json!({"title": "x", "text": "Chào"})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.header("cache-control").unwrap().contains("private"));
}

/// 10,000 copies of one target, a target named twice, more than 1,000
/// targets, and a brightness whose day and night start at the same time:
/// each refused with a sentence, nothing stored.
#[tokio::test]
async fn duplicate_targets_and_equal_switch_times_are_refused() {
    let rig = Rig::new();
    let admin = rig.admin();
    let id = admin
        .panel_and_message(
            panel("p1", 64, 16, "mono1", &["d1"]),
            json!({"title": "A", "text": "Xin chào"}),
        )
        .await;
    let base = json!({"name": "x", "messages": [{"id": id, "dwell_s": 8}], "priority": 1});
    let many: Vec<String> = (0..1001).map(|i| format!("p{i}")).collect();
    for (targets, want) in [
        (json!(vec!["p1"; 10_000]), "1000"),
        (json!(["p1", "group:d1", "p1"]), "twice"),
        (json!(many), "group:NAME"),
    ] {
        let mut c = base.clone();
        c["targets"] = targets.clone();
        let (st, v) = admin.post("/campaigns", c).await;
        let short: String = v.to_string().chars().take(300).collect();
        assert_eq!(st, 400, "{short}");
        assert!(v["message"].as_str().unwrap().contains(want), "{short}");
        let (st, v) = admin
            .post(
                "/alerts",
                json!({"text": "BÃO", "targets": targets, "duration_s": 60}),
            )
            .await;
        assert_eq!(
            st,
            400,
            "{}",
            v.to_string().chars().take(300).collect::<String>()
        );
    }
    assert_eq!(admin.get("/campaigns").await.1, json!([]));
    assert_eq!(admin.get("/alerts").await.1, json!([]));
    let mut p = panel("p2", 64, 16, "mono1", &[]);
    p["brightness"] =
        json!({"day": 200, "night": 40, "day_starts": "06:00", "night_starts": "06:00"});
    let (st, v) = admin.post("/panels", p).await;
    assert_eq!(st, 400, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("night_starts"),
        "{v}"
    );
}

/// A revoked token's open event stream ends at once, whether revoked
/// through the API or removed from the token file by hand (on the next
/// reload). Before, it kept streaming.
#[tokio::test]
async fn revoking_a_token_ends_its_event_streams() {
    let rig = Rig::new();
    for name in ["lan", "minh"] {
        let user = rig.user(name, &[Role::Editor]);
        let open = user.send(user.req("GET", "/events"));
        tokio::pin!(open);
        assert!(
            tokio::time::timeout(Duration::from_millis(300), &mut open)
                .await
                .is_err(),
            "the stream stays open while the token is valid"
        );
        if name == "lan" {
            assert_eq!(rig.admin().delete("/tokens/lan").await.0, 204);
        } else {
            let path = rig.dir.path().join("secrets/tokens.json");
            let mut entries: Vec<serde_json::Value> =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            entries.retain(|e| e["name"] != name);
            std::fs::write(&path, serde_json::to_vec(&entries).unwrap()).unwrap();
            // A later modification time, even within the clock's tick.
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(std::time::SystemTime::now() + Duration::from_secs(1))
                .unwrap();
            rig.ctx.tokens.reload_if_changed();
        }
        let ended = tokio::time::timeout(Duration::from_secs(2), open).await;
        assert_eq!(
            ended
                .expect("the stream ends when its token is revoked")
                .status,
            200
        );
    }
}
