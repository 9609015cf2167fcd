//! Staff accounts and sessions through the real router: password sign-in,
//! the cookie's attributes, the first password change, CSRF, fixation, a
//! stolen cookie after sign-out, sign-out everywhere, the throttle and the
//! lock, expired tokens, and the audit trail naming the person.

use serde_json::json;

use super::{panel, session_cookie, Reply, Rig};
use crate::auth::throttle::Policy;
use crate::domain::Role;

async fn new_account(rig: &Rig, name: &str, roles: &[&str]) {
    let (st, v) = rig
        .admin()
        .post(
            "/users",
            json!({"username": name, "display_name": "Nguyễn Thị Lan", "roles": roles,
                   "password": "mật khẩu đầu tiên"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["must_change_password"], true);
    assert!(v.get("password").is_none(), "{v}");
}

async fn post_session(rig: &Rig, body: serde_json::Value, headers: &[(&str, &str)]) -> Reply {
    let mut b = rig
        .anonymous()
        .req("POST", "/session")
        .remote_addr(([127, 0, 0, 9], 50000).into())
        .json(&body);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    rig.anonymous().send(b).await
}

#[tokio::test]
async fn a_person_signs_in_changes_the_first_password_and_is_named_in_the_audit() {
    let rig = Rig::new();
    new_account(&rig, "lan", &["editor"]).await;
    let r = post_session(
        &rig,
        json!({"username": "lan", "password": "mật khẩu đầu tiên"}),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let cookie = r.header("set-cookie").unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/api/v1"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    assert_eq!(r.json["display_name"], "Nguyễn Thị Lan");
    assert_eq!(r.json["must_change_password"], true);
    let tls = post_session(
        &rig,
        json!({"username": "lan", "password": "mật khẩu đầu tiên"}),
        &[("x-forwarded-proto", "https")],
    )
    .await;
    assert!(tls.header("set-cookie").unwrap().contains("; Secure"));

    let lan = rig.sign_in("lan", "mật khẩu đầu tiên").await.unwrap();
    let (st, v) = lan.get("/panels").await;
    assert_eq!((st, &v["error"]), (403, &json!("password_change_required")));
    let (st, me) = lan.get("/me").await;
    assert_eq!(st, 200);
    assert_eq!(me["display_name"], "Nguyễn Thị Lan");
    let (st, v) = lan
        .put(
            "/session/password",
            json!({"current": "sai rồi", "new": "mật khẩu của Lan"}),
        )
        .await;
    assert_eq!((st, &v["error"]), (403, &json!("wrong_password")));
    let (st, _) = lan
        .put(
            "/session/password",
            json!({"current": "mật khẩu đầu tiên", "new": "ngắn"}),
        )
        .await;
    assert_eq!(st, 400);
    let (st, v) = lan
        .put(
            "/session/password",
            json!({"current": "mật khẩu đầu tiên", "new": "mật khẩu của Lan"}),
        )
        .await;
    assert_eq!(st, 204, "{v}");
    assert_eq!(lan.get("/panels").await.0, 200);
    let m = lan
        .create_message(json!({"title": "Tiêm chủng", "text": "Tiêm chủng đầy đủ"}))
        .await;
    assert_eq!(m["created_by"], "lan", "{m}");
    // The other session, begun with the first password, ended with the change.
    let old = session_cookie(&r).unwrap();
    let stale = rig
        .anonymous()
        .req("GET", "/me")
        .header("cookie", format!("bangtin_session={old}"));
    assert_eq!(rig.anonymous().send(stale).await.status, 401);
    let (_, audit) = rig.admin().get("/audit").await;
    let line = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["action"] == "create" && l["kind"] == "message")
        .unwrap();
    assert_eq!(
        (&line["who"], &line["who_name"]),
        (&json!("lan"), &json!("Nguyễn Thị Lan"))
    );
    // Passwords never leave the server.
    let (_, users) = rig.admin().get("/users").await;
    assert!(!users.to_string().contains("argon2"), "{users}");
}

#[tokio::test]
async fn csrf_fixation_and_a_stolen_cookie_after_sign_out_are_refused() {
    let rig = Rig::new();
    let lan = rig.person("lan", &[Role::Editor], None).await;
    let (id, csrf) = lan.session.clone().unwrap();
    let body = json!({"title": "Tiêm chủng", "text": "Tiêm chủng đầy đủ"});
    // CSRF: the cookie alone (as a forged cross-site form would send it).
    for bad in [None, Some("0".repeat(64))] {
        let mut b = rig
            .anonymous()
            .req("POST", "/messages")
            .header("cookie", format!("bangtin_session={id}"))
            .json(&body);
        if let Some(t) = &bad {
            b = b.header("x-csrf-token", t);
        }
        let r = rig.anonymous().send(b).await;
        assert_eq!(
            (r.status, &r.json["error"]),
            (403, &json!("csrf")),
            "{bad:?}"
        );
    }
    assert_eq!(
        lan.post("/messages", body.clone()).await.0,
        201,
        "with the token"
    );
    // A bearer token needs no CSRF token.
    let machine = rig.user("script", &[Role::Editor]);
    assert_eq!(machine.post("/messages", body.clone()).await.0, 201);

    // Fixation: an id planted before sign-in is never the signed-in one.
    let planted = "a".repeat(64);
    let r = post_session(
        &rig,
        json!({"username": "lan", "password": "mật khẩu riêng của tôi"}),
        &[("cookie", &format!("bangtin_session={planted}"))],
    )
    .await;
    assert_eq!(r.status, 201);
    let fresh = session_cookie(&r).unwrap();
    assert_ne!(fresh, planted);
    let with_planted = rig
        .anonymous()
        .req("GET", "/me")
        .header("cookie", format!("bangtin_session={planted}"));
    assert_eq!(rig.anonymous().send(with_planted).await.status, 401);
    // Signing in again while signed in ends the session presented.
    let again = post_session(
        &rig,
        json!({"username": "lan", "password": "mật khẩu riêng của tôi"}),
        &[("cookie", &format!("bangtin_session={fresh}"))],
    )
    .await;
    let newer = session_cookie(&again).unwrap();
    assert_ne!(newer, fresh);
    let r = rig
        .anonymous()
        .send(
            rig.anonymous()
                .req("GET", "/me")
                .header("cookie", format!("bangtin_session={fresh}")),
        )
        .await;
    assert_eq!((r.status, &r.json["error"]), (401, &json!("session_ended")));

    // A stolen cookie after sign-out.
    let r = lan.send(lan.req("DELETE", "/session")).await;
    assert_eq!(r.status, 204);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    let (st, v) = lan.get("/panels").await;
    assert_eq!((st, &v["error"]), (401, &json!("session_ended")));
    let _ = csrf;

    // Sign-out everywhere ends every session of the person.
    let a = rig.sign_in("lan", "mật khẩu riêng của tôi").await.unwrap();
    let b = rig.sign_in("lan", "mật khẩu riêng của tôi").await.unwrap();
    assert_eq!(a.delete("/sessions").await.0, 204);
    assert_eq!(a.get("/me").await.0, 401);
    assert_eq!(b.get("/me").await.0, 401);
    // And so does an administrator's, for someone else.
    let c = rig.sign_in("lan", "mật khẩu riêng của tôi").await.unwrap();
    assert_eq!(rig.admin().delete("/users/lan/sessions").await.0, 204);
    assert_eq!(c.get("/me").await.0, 401);
    // Session routes are for sessions: a token gets 400, not a sign-out.
    assert_eq!(machine.delete("/session").await.0, 400);
}

#[tokio::test]
async fn repeated_failures_wait_then_lock_the_account_from_that_address_only() {
    let rig = Rig::new();
    new_account(&rig, "lan", &["editor"]).await;
    new_account(&rig, "hoa", &["approver"]).await;
    let wrong = json!({"username": "lan", "password": "đoán mò"});
    for _ in 0..5 {
        let r = post_session(&rig, wrong.clone(), &[]).await;
        assert_eq!(
            (r.status, &r.json["error"]),
            (401, &json!("wrong_credentials"))
        );
    }
    let r = post_session(&rig, wrong.clone(), &[]).await;
    assert_eq!(
        (r.status, &r.json["error"]),
        (429, &json!("too_many_failures"))
    );
    assert_eq!(r.header("retry-after"), Some("1"));
    // With no delay (a shortened policy), the lock per account and address.
    rig.ctx.accounts.set_throttle_policy(Policy {
        max_delay_s: 0,
        ..Policy::default()
    });
    for _ in 0..5 {
        post_session(&rig, wrong.clone(), &[]).await;
    }
    let right = json!({"username": "lan", "password": "mật khẩu đầu tiên"});
    let r = post_session(&rig, right.clone(), &[]).await;
    assert_eq!(
        (r.status, &r.json["error"]),
        (423, &json!("locked")),
        "{}",
        r.json
    );
    assert!(r.header("retry-after").unwrap().parse::<i64>().unwrap() > 60);
    assert!(r.json["message"].as_str().unwrap().contains("locked"));
    // A colleague behind the same address signs in as usual…
    let hoa = post_session(
        &rig,
        json!({"username": "hoa", "password": "mật khẩu đầu tiên"}),
        &[],
    )
    .await;
    assert_eq!(hoa.status, 201);
    // …and Lan from another address too (rig.sign_in comes from 127.0.0.1).
    assert!(rig
        .sign_in("lan", "mật khẩu đầu tiên")
        .await
        .is_ok_and(|c| c.session.is_some()));
    // That success leaves the lock from the first address in place.
    let r = post_session(&rig, right.clone(), &[]).await;
    assert_eq!(r.status, 423);
    // An administrator's reset lifts the lock.
    let (st, _) = rig
        .admin()
        .post(
            "/users/lan/password",
            json!({"password": "mật khẩu tạm mới"}),
        )
        .await;
    assert_eq!(st, 204);
    let r = post_session(
        &rig,
        json!({"username": "lan", "password": "mật khẩu tạm mới"}),
        &[],
    )
    .await;
    assert_eq!(r.status, 201);
    // English on request.
    let r = post_session(&rig, wrong, &[("accept-language", "en-GB,en")]).await;
    assert!(
        r.json["message"].as_str().unwrap().contains("wrong"),
        "{}",
        r.json
    );
}

#[tokio::test]
async fn tokens_expire_and_show_their_last_use() {
    let rig = Rig::new();
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    let (st, _) = rig
        .admin()
        .post(
            "/tokens",
            json!({"name": "old", "roles": ["feed"], "expires_at": past}),
        )
        .await;
    assert_eq!(st, 400, "an expiry in the past is refused");
    let expired = rig
        .ctx
        .tokens
        .create_limited(
            "feed-2025",
            &[Role::Feed],
            crate::store::tokens::Limits {
                expires_at: Some(past),
                scope: None,
            },
        )
        .unwrap();
    let (st, v) = rig.client(Some(&expired)).get("/panels").await;
    assert_eq!((st, &v["error"]), (401, &json!("token_expired")), "{v}");
    let future = chrono::Utc::now() + chrono::Duration::days(30);
    let (st, created) = rig
        .admin()
        .post(
            "/tokens",
            json!({"name": "cong-thong-tin", "roles": ["editor"], "expires_at": future, "scope": ["vinh"]}),
        )
        .await;
    assert_eq!(st, 201, "{created}");
    let t = created["token"].as_str().unwrap();
    assert_eq!(rig.client(Some(t)).get("/me").await.0, 200);
    let (_, list) = rig.admin().get("/tokens").await;
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "cong-thong-tin")
        .unwrap()
        .clone();
    assert!(row["last_used_at"].is_string(), "{row}");
    assert_eq!(row["scope"], json!(["vinh"]));
    // Existing tokens (no expiry) keep working unchanged.
    assert_eq!(rig.admin().get("/panels").await.0, 200);
    rig.admin()
        .create_panel(panel("p1", 128, 32, "mono1", &["vinh"]))
        .await;
}

/// Behind a trusted reverse proxy (the peer 127.0.0.9 here), the lock
/// counts the address the proxy forwards: one person's wrong passwords
/// lock that account from that person's address only, as without a proxy,
/// not from the proxy (everyone). An untrusted peer's `X-Forwarded-For`
/// is ignored: it cannot pick the address it is counted under.
#[tokio::test]
async fn behind_a_trusted_proxy_the_lock_counts_the_forwarded_address() {
    let trusted = crate::api::Limits {
        trusted_proxies: vec!["127.0.0.9".parse().unwrap()],
        ..crate::api::Limits::default()
    };
    let rig = Rig::new().with_limits(trusted);
    new_account(&rig, "lan", &["editor"]).await;
    rig.ctx.accounts.set_throttle_policy(Policy {
        max_delay_s: 0,
        ..Policy::default()
    });
    let wrong = json!({"username": "lan", "password": "đoán mò"});
    let right = json!({"username": "lan", "password": "mật khẩu đầu tiên"});
    let from = |a: &'static str| [("x-forwarded-for", a)];
    for _ in 0..10 {
        post_session(&rig, wrong.clone(), &from("127.0.0.20")).await;
    }
    let r = post_session(&rig, right.clone(), &from("127.0.0.20")).await;
    assert_eq!((r.status, &r.json["error"]), (423, &json!("locked")));
    // Lan at her own desk, through the same proxy, signs in.
    let r = post_session(&rig, right.clone(), &from("127.0.0.21")).await;
    assert_eq!(
        r.status, 201,
        "the proxy's other clients are not locked out: {}",
        r.json
    );
    // A client-written hop left of the proxy's entry proves nothing.
    let r = post_session(&rig, right.clone(), &from("127.0.0.21, 127.0.0.20")).await;
    assert_eq!((r.status, &r.json["error"]), (423, &json!("locked")));

    // Without the proxy trusted, the header is ignored: everyone through
    // 127.0.0.9 is one address, and a header cannot dodge its lock.
    let rig = Rig::new();
    new_account(&rig, "lan", &["editor"]).await;
    rig.ctx.accounts.set_throttle_policy(Policy {
        max_delay_s: 0,
        ..Policy::default()
    });
    for _ in 0..10 {
        post_session(&rig, wrong.clone(), &from("127.0.0.20")).await;
    }
    let r = post_session(&rig, right.clone(), &from("127.0.0.21")).await;
    assert_eq!((r.status, &r.json["error"]), (423, &json!("locked")));
}
