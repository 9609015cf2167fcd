//! Messages (four-eyes, back to draft on edit), images and previews.

use serde_json::json;

use super::{bomb_png, panel, png, Client, Rig};
use crate::domain::Role;

#[tokio::test]
async fn assets_are_decoded_with_limits() {
    let rig = Rig::new();
    let editor = rig.user("ed", &[Role::Editor]);
    let bytes = png(300, 200);
    let upload = |ct: &str, body: Vec<u8>| {
        editor
            .req("POST", "/assets")
            .header("content-type", ct)
            .body(body)
    };
    let r = editor.send(upload("image/png", bytes.clone())).await;
    assert_eq!(r.status, 201);
    let v = r.json;
    assert_eq!(
        (
            v["width"].as_u64(),
            v["height"].as_u64(),
            v["bytes"].as_u64()
        ),
        (Some(300), Some(200), Some(bytes.len() as u64))
    );
    let id = v["id"].as_str().unwrap().to_string();
    let got = editor
        .send(editor.req("GET", &format!("/assets/{id}")))
        .await;
    assert_eq!(&got.body[..], &bytes[..]);
    assert_eq!(got.header("content-type"), Some("image/png"));
    for (ct, body, want) in [
        ("image/png", b"this is not an image".to_vec(), 422),
        ("image/png", bytes[..bytes.len() / 2].to_vec(), 422),
        ("image/png", bomb_png(), 422),
        ("text/plain", bytes.clone(), 415),
        ("image/bmp", bytes.clone(), 415),
    ] {
        let r = editor.send(upload(ct, body)).await;
        assert_eq!(r.status, want, "{ct}: {}", r.json);
        assert!(
            r.json["message"].as_str().is_some_and(|m| m.len() > 10),
            "{}",
            r.json
        );
    }
    assert_eq!(editor.get("/assets/not-a-hash").await.0, 400);
    assert_eq!(
        editor.get(&format!("/assets/{}", "0".repeat(64))).await.0,
        404
    );
}

#[tokio::test]
async fn messages_four_eyes_and_previews() {
    let rig = Rig::new();
    let admin = rig.admin();
    admin
        .create_panel(panel("p1", 128, 32, "mono1", &["d1"]))
        .await;
    let editor = rig.user("lan", &[Role::Editor]);
    let approver = rig.user("hung", &[Role::Approver]);
    let both = rig.user("solo", &[Role::Editor, Role::Approver]);
    let m = editor
        .create_message(json!({"title": "Tiêm chủng", "text": "Tiêm chủng đầy đủ cho trẻ em", "style": {"align": "left"}}))
        .await;
    assert_eq!(m["status"], "draft");
    let id = m["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("tiem-chung"), "{id}");
    assert_eq!(
        editor
            .post(&format!("/messages/{id}/approve"), json!({}))
            .await
            .0,
        403
    );
    let (st, v) = approver
        .post(&format!("/messages/{id}/approve"), json!({}))
        .await;
    assert_eq!((st, &v["status"]), (200, &json!("approved")));
    let (_, list) = editor.get("/messages?status=approved").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(editor.get("/messages?status=bogus").await.0, 400);
    // Edit → back to draft; the editor who also approves cannot approve own edit.
    let (st, v) = both
        .put(
            &format!("/messages/{id}"),
            json!({"title": "Tiêm chủng", "text": "Đưa trẻ đi tiêm chủng"}),
        )
        .await;
    assert_eq!((st, &v["status"]), (200, &json!("draft")));
    let (st, v) = both
        .post(&format!("/messages/{id}/approve"), json!({}))
        .await;
    assert_eq!(st, 409, "{v}");
    assert_eq!(v["error"], "four_eyes");
    // Not even an admin may approve what the admin last edited.
    let m2 = admin
        .create_message(json!({"title": "Admin viết", "text": "Xin chào"}))
        .await;
    let (st, _) = admin
        .post(
            &format!("/messages/{}/approve", m2["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(st, 409);
    assert_eq!(editor.delete(&format!("/messages/{id}")).await.0, 204);
    assert_eq!(editor.get(&format!("/messages/{id}")).await.0, 404);
}

#[tokio::test]
async fn bad_messages_are_refused() {
    let rig = Rig::new();
    let editor = rig.user("lan", &[Role::Editor]);
    assert_eq!(editor.post("/messages", json!({"title": "x"})).await.0, 400);
    assert_eq!(
        editor
            .post("/messages", json!({"title": "", "text": "a"}))
            .await
            .0,
        400
    );
    assert_eq!(
        editor
            .post("/messages", json!({"title": "x", "image": "0".repeat(64)}))
            .await
            .0,
        422
    );
    assert_eq!(
        editor
            .post(
                "/messages",
                json!({"title": "x", "text": "a", "style": {"color": "red"}})
            )
            .await
            .0,
        400
    );
}

/// A 128×32 mono panel p1 and an editor's draft saying `text`.
async fn draft_on_p1<'a>(rig: &'a Rig, text: &str) -> (Client<'a>, String) {
    rig.admin()
        .create_panel(panel("p1", 128, 32, "mono1", &["d1"]))
        .await;
    let editor = rig.user("lan", &[Role::Editor]);
    let m = editor
        .create_message(json!({"title": "Tiêm chủng", "text": text}))
        .await;
    let id = m["id"].as_str().unwrap().to_string();
    (editor, id)
}

#[tokio::test]
async fn previews_have_the_panel_size_and_refuse_bad_requests() {
    let rig = Rig::new();
    let (editor, id) = draft_on_p1(&rig, "Tiêm chủng đầy đủ cho trẻ em").await;
    // Preview: exactly the panel's size, page count header.
    let r = editor
        .send(editor.req("GET", &format!("/messages/{id}/preview.png?panel=p1")))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/png"));
    let pages: u32 = r.header("x-pages").unwrap().parse().unwrap();
    assert!(pages >= 1);
    let img = image::load_from_memory(&r.body).unwrap();
    assert_eq!((img.width(), img.height()), (128, 32));
    let r = editor
        .send(editor.req(
            "GET",
            &format!("/messages/{id}/preview.png?width=384&height=192&format=rgb888"),
        ))
        .await;
    let img = image::load_from_memory(&r.body).unwrap();
    assert_eq!((img.width(), img.height()), (384, 192));
    assert_eq!(
        editor
            .get(&format!("/messages/{id}/preview.png?panel=nope"))
            .await
            .0,
        422
    );
    assert_eq!(
        editor
            .get(&format!("/messages/{id}/preview.png?panel=p1&page=99"))
            .await
            .0,
        404
    );
    assert_eq!(
        editor
            .get(&format!(
                "/messages/{id}/preview.png?width=9999&height=10&format=rgb888"
            ))
            .await
            .0,
        400
    );
}

/// With self-approval switched on, the last editor may approve; the edit
/// still sets the message back to draft first.
#[tokio::test]
async fn self_approval_when_switched_on() {
    let rig = Rig::self_approving();
    let solo = rig.user("solo", &[Role::Editor, Role::Approver]);
    let m = solo
        .create_message(json!({"title": "Một mình", "text": "Xin chào"}))
        .await;
    let id = m["id"].as_str().unwrap();
    let (st, v) = solo
        .post(&format!("/messages/{id}/approve"), json!({}))
        .await;
    assert_eq!((st, &v["approved_by"]), (200, &json!("solo")), "{v}");
    let (st, v) = solo
        .put(
            &format!("/messages/{id}"),
            json!({"title": "Một mình", "text": "Tạm biệt"}),
        )
        .await;
    assert_eq!(
        (st, &v["status"], &v["version"]),
        (200, &json!("draft"), &json!(2))
    );
    assert!(v["approved_by"].is_null(), "{v}");
}

/// An approver approves the version they reviewed: an approval naming an
/// older version (body `{"version": N}` → 409, `If-Match: "N"` → 412)
/// changes nothing; the current one is approved. Replies carry
/// `ETag: "version"`.
#[tokio::test]
async fn approval_names_the_version_reviewed() {
    let rig = Rig::new();
    let editor = rig.user("lan", &[Role::Editor]);
    let approver = rig.user("hung", &[Role::Approver]);
    let m = editor
        .create_message(json!({"title": "Lịch tiêm", "text": "Thứ hai"}))
        .await;
    let id = m["id"].as_str().unwrap().to_string();
    let path = format!("/messages/{id}");
    for text in ["Thứ ba", "Thứ tư"] {
        let r = editor
            .send(
                editor
                    .req("PUT", &path)
                    .json(&json!({"title": "Lịch tiêm", "text": text})),
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("etag"),
            Some(format!("\"{}\"", r.json["version"]).as_str())
        );
    }
    // The approver reads version 3.
    let read = approver.send(approver.req("GET", &path)).await;
    assert_eq!((read.status, &read.json["version"]), (200, &json!(3)));
    assert_eq!(read.header("etag"), Some("\"3\""));
    // Meanwhile the editor saves version 4.
    let (st, v) = editor
        .put(
            &path,
            json!({"title": "Lịch tiêm", "text": "Thứ năm: số liệu sai"}),
        )
        .await;
    assert_eq!((st, &v["version"]), (200, &json!(4)));
    let approve = format!("{path}/approve");
    let (st, v) = approver.post(&approve, json!({"version": 3})).await;
    assert_eq!((st, &v["error"]), (409, &json!("version_conflict")), "{v}");
    let sentence = v["message"].as_str().unwrap();
    assert!(sentence.contains("changed since"), "{sentence}");
    assert!(sentence.contains("read it again"), "{sentence}");
    let r = approver
        .send(approver.req("POST", &approve).header("if-match", "\"3\""))
        .await;
    assert_eq!(
        (r.status, &r.json["error"]),
        (412, &json!("precondition_failed")),
        "{}",
        r.json
    );
    let (_, now) = approver.get(&path).await;
    assert_eq!(
        (&now["status"], &now["version"]),
        (&json!("draft"), &json!(4))
    );
    assert!(now["approved_by"].is_null(), "{now}");
    // Approving what is there now works, by header or by body.
    let r = approver
        .send(approver.req("POST", &approve).header("if-match", "\"4\""))
        .await;
    assert_eq!(
        (r.status, &r.json["status"]),
        (200, &json!("approved")),
        "{}",
        r.json
    );
    assert_eq!(r.header("etag"), Some("\"4\""));
    let m2 = editor
        .create_message(json!({"title": "Khác", "text": "Một"}))
        .await;
    let r = editor
        .send(
            editor
                .req("POST", "/messages")
                .json(&json!({"title": "Ba", "text": "Ba"})),
        )
        .await;
    assert_eq!((r.status, r.header("etag")), (201, Some("\"1\"")));
    let (st, v) = approver
        .post(
            &format!("/messages/{}/approve", m2["id"].as_str().unwrap()),
            json!({"version": 1}),
        )
        .await;
    assert_eq!((st, &v["status"]), (200, &json!("approved")), "{v}");
    // A body that is not a version is a mistake, not an approval.
    let (st, v) = approver.post(&approve, json!({"verison": 4})).await;
    assert_eq!(st, 400, "{v}");
}

/// Ids made from one title never collide: 3,000 messages titled alike are
/// all created, each with its own id.
#[tokio::test]
async fn three_thousand_messages_with_one_title() {
    let rig = Rig::new();
    let editor = rig.user("lan", &[Role::Editor]);
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..3000 {
        let (st, v) = editor
            .post(
                "/messages",
                json!({"title": "Thông báo", "text": format!("Tin {i}")}),
            )
            .await;
        assert_eq!(st, 201, "message {i}: {v}");
        let id = v["id"].as_str().unwrap().to_string();
        assert!(id.starts_with("thong-bao-"), "{id}");
        assert!(crate::domain::Id::parse(&id).is_ok(), "{id}");
        assert!(ids.insert(id), "an id given twice");
    }
    assert_eq!(rig.ctx.store.snapshot().messages.len(), 3000);
}

/// A preview is tagged by its pixels and look: a client that has it gets
/// an empty 304, the LED look is another picture, and an edit that changes
/// the pixels changes the tag.
#[tokio::test]
async fn previews_revalidate_by_their_pixels() {
    let rig = Rig::new();
    let (editor, id) = draft_on_p1(&rig, "Tiêm chủng đầy đủ").await;
    let path = |look: &str| format!("/messages/{id}/preview.png?panel=p1{look}");
    let fetch = |p: String, tag: Option<String>| {
        let mut b = editor.req("GET", &p);
        if let Some(t) = tag {
            b = b.header("if-none-match", t);
        }
        editor.send(b)
    };
    let first = fetch(path(""), None).await;
    let tag = first.header("etag").unwrap().to_string();
    let again = fetch(path(""), Some(tag.clone())).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let led = fetch(path("&look=led"), Some(tag.clone())).await;
    assert_eq!(led.status, 200, "the LED look is another picture");
    assert_ne!(led.header("etag").unwrap(), tag);
    let (status, _) = editor
        .put(
            &format!("/messages/{id}"),
            json!({"title": "Tiêm chủng", "text": "Tiêm chủng mũi hai"}),
        )
        .await;
    assert_eq!(status, 200);
    let edited = fetch(path(""), Some(tag.clone())).await;
    assert_eq!(edited.status, 200, "the edit changed the pixels");
    assert_ne!(edited.header("etag").unwrap(), tag);
}
