//! Tokens (shown once, stored hashed, revoked at once) and the audit trail.

use serde_json::json;

use super::Rig;

#[tokio::test]
async fn tokens_and_audit() {
    let rig = Rig::new();
    let admin = rig.admin();
    let (st, v) = admin
        .post(
            "/tokens",
            json!({"name": "lan", "roles": ["editor", "editor"]}),
        )
        .await;
    assert_eq!(st, 201);
    let token = v["token"].as_str().unwrap().to_string();
    assert_eq!(v["roles"], json!(["editor"]));
    let (_, list) = admin.get("/tokens").await;
    assert!(!list.to_string().contains(&token));
    assert_eq!(
        admin
            .post("/tokens", json!({"name": "lan", "roles": ["editor"]}))
            .await
            .0,
        409
    );
    assert_eq!(
        admin
            .post("/tokens", json!({"name": "x", "roles": ["king"]}))
            .await
            .0,
        400
    );
    let lan = rig.client(Some(&token));
    assert_eq!(lan.get("/me").await.0, 200);
    assert_eq!(admin.delete("/tokens/lan").await.0, 204);
    assert_eq!(lan.get("/me").await.0, 401);
    let (st, audit) = admin.get("/audit?limit=10").await;
    assert_eq!(st, 200);
    let actions: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["kind"].as_str().unwrap()
            )
        })
        .collect();
    assert!(actions.contains(&"revoke token".to_string()), "{actions:?}");
    assert!(actions.contains(&"create token".to_string()), "{actions:?}");
    assert_eq!(admin.get("/audit?limit=0").await.0, 400);
    let stored = std::fs::read_to_string(rig.dir.path().join("secrets/tokens.json")).unwrap();
    assert!(!stored.contains(&token));
}
