//! The HTTP API over real HTTP against a real server process.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::util::{eventually, send, Api, Server, ServerOpts, ADMIN_TOKEN};

fn png(w: u32, h: u32) -> Vec<u8> {
    let img =
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, 120]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A valid PNG whose header claims 100000×100000 pixels: a decompression bomb.
fn bomb_png() -> Vec<u8> {
    let mut p = png(4, 4);
    // IHDR data starts at byte 16: width, height (big-endian).
    p[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    p[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32fast::hash(&p[12..29]);
    p[29..33].copy_from_slice(&crc.to_be_bytes());
    p
}

/// Sends raw request bytes and returns the status code of the reply.
fn raw_status(base: &str, head: &str) -> u16 {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    let line = String::from_utf8_lossy(&buf[..n]).to_string();
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn panel(id: &str, w: u32, h: u32, format: &str, groups: &[&str]) -> Value {
    json!({"id": id, "name": format!("Bảng {id}"), "width": w, "height": h, "format": format, "groups": groups})
}

async fn setup() -> (Server, Api) {
    let s = Server::start();
    let admin = Api::new(&s, Some(ADMIN_TOKEN));
    (s, admin)
}

#[tokio::test]
async fn health_metrics_openapi_and_auth() {
    let (s, admin) = setup().await;
    let r = reqwest::get(s.url("/healthz")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");
    let anon = Api::new(&s, None);
    let (st, v) = anon.get("/panels").await;
    assert_eq!(st, 401);
    assert_eq!(v["error"], "unauthorized");
    assert!(v["message"].as_str().unwrap().contains("Bearer"));
    let bad = Api::new(&s, Some("nope"));
    assert_eq!(bad.get("/panels").await.0, 401);
    let (st, me) = admin.get("/me").await;
    assert_eq!(st, 200);
    assert_eq!(me["name"], "admin");
    let (st, doc) = admin.get("/openapi.json").await;
    assert_eq!(st, 200);
    assert!(doc["paths"]["/api/v1/panels/{id}/now"]["get"].is_object());
    // Schemas come from the Rust types: the panel body has the contract's fields.
    let panel = &doc["components"]["schemas"]["Panel"];
    for f in ["id", "name", "width", "height", "format", "groups", "color"] {
        assert!(panel["properties"][f].is_object(), "Panel.{f} in {panel}");
    }
    assert_eq!(
        doc["paths"]["/api/v1/campaigns"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/CampaignBody"
    );
    let m = reqwest::get(s.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("bangtin_http_requests_total"), "{m}");
    assert_eq!(admin.get("/no/such/thing").await.0, 404);
    assert_eq!(
        admin
            .req(Method::PATCH, "/panels")
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
}

/// Every route, every role, and no token: 401 without a token, 403 exactly
/// when the route's role is missing, never 401/403 otherwise.
#[tokio::test]
async fn role_matrix_covers_every_route() {
    let (s, admin) = setup().await;
    assert_eq!(
        admin
            .post("/panels", panel("p1", 128, 32, "mono1", &["d1"]))
            .await
            .0,
        201
    );
    let roles = ["editor", "approver", "scheduler", "operator", "admin"];
    let mut clients = vec![("anonymous", Api::new(&s, None))];
    for r in roles {
        clients.push((r, admin.with_roles(&format!("only-{r}"), &[r]).await));
    }
    for route in bangtin::api::ROUTES {
        if route.path == "/events" {
            continue; // a stream: checked in its own test
        }
        let path = route
            .path
            .replace("{id}", "zz-missing")
            .replace("{name}", "zz-missing");
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        for (name, c) in &clients {
            let resp = c
                .req(method.clone(), &path)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let st = resp.status().as_u16();
            let want_forbidden = match (route.role, *name) {
                (_, "anonymous") => {
                    assert_eq!(st, 401, "{} {} as {name}", route.method, route.path);
                    continue;
                }
                (None, _) => false,
                (Some(role), n) => n != "admin" && role.name() != n,
            };
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            assert_ne!(
                body["error"], "no_route",
                "{} {} is in the route table but not routed",
                route.method, route.path
            );
            if want_forbidden {
                assert_eq!(st, 403, "{} {} as {name}", route.method, route.path);
            } else {
                assert!(
                    st != 403 && st != 401,
                    "{} {} as {name}: {st}",
                    route.method,
                    route.path
                );
            }
        }
    }
}

#[tokio::test]
async fn panels_crud_and_bad_input() {
    let (_s, admin) = setup().await;
    let (st, v) = admin
        .post("/panels", panel("p10-a", 128, 32, "mono1", &["hai-chau"]))
        .await;
    assert_eq!(st, 201, "{v}");
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
    // Malformed JSON, wrong content type, huge body.
    let r = admin
        .req(Method::POST, "/panels")
        .header("content-type", "application/json")
        .body("{\"id\":")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = admin
        .req(Method::POST, "/panels")
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let huge = format!("{{\"id\":\"p3\",\"name\":\"{}\"}}", "x".repeat(2 << 20));
    let r = admin
        .req(Method::POST, "/panels")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // Chunked body past the cap (no Content-Length).
    let chunks =
        futures_util::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024])));
    let r = admin
        .req(Method::POST, "/panels")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
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

/// Bulk import: 200 with counts and frames for the new panels; a file with
/// bad rows is refused whole (422) with each bad row named, and changes
/// nothing.
#[tokio::test]
async fn panels_import_is_all_or_nothing_with_a_report_per_row() {
    let (_s, admin) = setup().await;
    let import = |ct: &str, body: String| {
        admin
            .req(Method::POST, "/panels:import")
            .header("content-type", ct)
            .body(body)
    };
    let csv = "id,name,width,height,format,groups\n\
               b1,Bảng 1,128,32,mono1,xa-1;tinh\n\
               b2,Bảng 2,192,96,rgb565,tinh\n";
    let (st, v) = send(import("text/csv", csv.into())).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v, json!({"created": 2, "updated": 0, "unchanged": 0}));
    let shown = eventually(Duration::from_secs(5), || async {
        let (_, now) = admin.get("/panels/b2/now").await;
        (now["seq"].as_u64() > Some(0)).then_some(now)
    })
    .await;
    assert!(shown.is_some(), "an imported panel gets its frame");

    let mut wide = panel("b1", 64, 16, "mono1", &[]);
    wide["name"] = json!("Đổi tên");
    let rows = json!([
        panel("b3", 128, 32, "mono1", &[]),
        wide,
        panel("b4", 0, 16, "mono1", &[]),
        panel("b3", 128, 32, "mono1", &[]),
    ]);
    let (st, v) = send(import("application/json", rows.to_string())).await;
    assert_eq!(st, 422, "{v}");
    assert_eq!(v["error"], "invalid_rows");
    let named: Vec<(u64, &str)> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["row"].as_u64().unwrap(), r["id"].as_str().unwrap()))
        .collect();
    assert_eq!(named, vec![(3, "b4"), (4, "b3")], "{v}");
    assert!(
        v["rows"][1]["message"].as_str().unwrap().contains("row 1"),
        "{v}"
    );
    let (_, list) = admin.get("/panels").await;
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["b1", "b2"], "nothing imported");
    assert_eq!(list[0]["width"], 128, "b1 unchanged");

    let (st, v) = send(import("text/plain", csv.into())).await;
    assert_eq!(st, 415, "{v}");
    let (st, v) = send(import("application/json", "{\"id\": 1}".into())).await;
    assert_eq!(st, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("JSON array"), "{v}");
    let editor = admin.with_roles("ed", &["editor"]).await;
    let (st, _) = send(
        editor
            .req(Method::POST, "/panels:import")
            .header("content-type", "text/csv")
            .body(csv),
    )
    .await;
    assert_eq!(st, 403);
}

#[tokio::test]
async fn assets_are_decoded_with_limits() {
    let (_s, admin) = setup().await;
    let editor = admin.with_roles("ed", &["editor"]).await;
    let bytes = png(300, 200);
    let r = editor
        .req(Method::POST, "/assets")
        .header("content-type", "image/png")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
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
        .req(Method::GET, &format!("/assets/{id}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], &bytes[..]);
    for (ct, body, want) in [
        ("image/png", b"this is not an image".to_vec(), 422),
        ("image/png", bytes[..bytes.len() / 2].to_vec(), 422),
        ("image/png", bomb_png(), 422),
        ("text/plain", bytes.clone(), 415),
        ("image/bmp", bytes.clone(), 415),
    ] {
        let (st, v) = send(
            editor
                .req(Method::POST, "/assets")
                .header("content-type", ct)
                .body(body),
        )
        .await;
        assert_eq!(st, want, "{ct}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| m.len() > 10), "{v}");
    }
    // A huge upload is refused from its headers alone, before the body.
    let status = raw_status(
        &editor.base,
        &format!(
            "POST /api/v1/assets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: image/png\r\nContent-Length: {}\r\n\r\n",
            editor.token.as_deref().unwrap(),
            21 << 20
        ),
    );
    assert_eq!(status, 413);
    assert_eq!(editor.get("/assets/not-a-hash").await.0, 400);
    assert_eq!(
        editor.get(&format!("/assets/{}", "0".repeat(64))).await.0,
        404
    );
}

#[tokio::test]
async fn messages_four_eyes_and_previews() {
    let (_s, admin) = setup().await;
    assert_eq!(
        admin
            .post("/panels", panel("p1", 128, 32, "mono1", &["d1"]))
            .await
            .0,
        201
    );
    let editor = admin.with_roles("lan", &["editor"]).await;
    let approver = admin.with_roles("hung", &["approver"]).await;
    let both = admin.with_roles("solo", &["editor", "approver"]).await;
    let (st, m) = editor
        .post("/messages", json!({"title": "Tiêm chủng", "text": "Tiêm chủng đầy đủ cho trẻ em", "style": {"align": "left"}}))
        .await;
    assert_eq!(st, 201, "{m}");
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
    let (_, m2) = admin
        .post(
            "/messages",
            json!({"title": "Admin viết", "text": "Xin chào"}),
        )
        .await;
    let (st, _) = admin
        .post(
            &format!("/messages/{}/approve", m2["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(st, 409);
    // Bad messages.
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
    // Preview: exactly the panel's size, page count header.
    let r = editor
        .req(Method::GET, &format!("/messages/{id}/preview.png?panel=p1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    let pages: u32 = r.headers()["x-pages"].to_str().unwrap().parse().unwrap();
    assert!(pages >= 1);
    let img = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (128, 32));
    let r = editor
        .req(
            Method::GET,
            &format!("/messages/{id}/preview.png?width=384&height=192&format=rgb888"),
        )
        .send()
        .await
        .unwrap();
    let img = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
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
    assert_eq!(editor.delete(&format!("/messages/{id}")).await.0, 204);
    assert_eq!(editor.get(&format!("/messages/{id}")).await.0, 404);
}

#[tokio::test]
async fn campaigns_are_validated() {
    let (_s, admin) = setup().await;
    assert_eq!(
        admin
            .post("/panels", panel("p1", 128, 32, "mono1", &["d1"]))
            .await
            .0,
        201
    );
    let (_, m) = admin
        .post("/messages", json!({"title": "A", "text": "Xin chào"}))
        .await;
    let mid = m["id"].as_str().unwrap().to_string();
    let sched = admin.with_roles("minh", &["scheduler"]).await;
    let base = json!({"name": "Sáng", "messages": [{"id": mid, "dwell_s": 8}], "targets": ["p1"], "priority": 1});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
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
                with("cron", json!(cron))
                    .as_object()
                    .map(|o| {
                        let mut o = o.clone();
                        o.insert("duration_s".into(), json!(3600));
                        Value::Object(o)
                    })
                    .unwrap(),
            )
            .await;
        assert_eq!(st, 201, "{cron}: {v}");
    }
    let (st, c) = sched
        .post("/campaigns", with("start", json!("2026-01-01")))
        .await;
    assert_eq!(st, 201, "{c}");
    let cid = c["id"].as_str().unwrap().to_string();
    for (body, want, why) in [
        (with("cron", json!("61 7 * * *")), 400, "minute 61"),
        (with("cron", json!("0 7 * *")), 400, "4 fields"),
        (with("tz", json!("Mars/Olympus")), 400, "time zone"),
        (with("start", json!("2026-13-01")), 400, "month 13"),
        (
            with("end", json!("2025-01-01"))
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.insert("start".into(), json!("2026-01-01"));
                    Value::Object(o)
                })
                .unwrap(),
            400,
            "end before start",
        ),
        (with("targets", json!(["nope"])), 422, "unknown panel"),
        (
            with("targets", json!(["group:nowhere"])),
            422,
            "unknown group",
        ),
        (with("targets", json!([])), 400, "no targets"),
        (
            with("messages", json!([{"id": "nope", "dwell_s": 8}])),
            422,
            "unknown message",
        ),
        (
            with("messages", json!([{"id": mid, "dwell_s": 0}])),
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
        .put(&format!("/campaigns/{cid}"), with("priority", json!(5)))
        .await;
    assert_eq!(st, 200);
    let (_, got) = sched.get(&format!("/campaigns/{cid}")).await;
    assert_eq!(got["priority"], 5);
    // A message in use cannot be deleted.
    assert_eq!(admin.delete(&format!("/messages/{mid}")).await.0, 409);
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
    assert_eq!(sched.delete(&format!("/campaigns/{cid}")).await.0, 204);
}

#[tokio::test]
async fn tokens_and_audit() {
    let (s, admin) = setup().await;
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
    let lan = Api::new(&s, Some(&token));
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
    let stored = std::fs::read_to_string(s.data.join("secrets/tokens.json")).unwrap();
    assert!(!stored.contains(&token));
}

#[tokio::test]
async fn sigkill_right_after_201_loses_nothing() {
    let (mut s, admin) = setup().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (st, _) = admin
            .post("/panels", panel(&format!("k{i}"), 128, 32, "mono1", &["d"]))
            .await;
        assert_eq!(st, 201);
        let (st, m) = admin
            .post(
                "/messages",
                json!({"title": format!("Tin {i}"), "text": "Nội dung"}),
            )
            .await;
        assert_eq!(st, 201);
        ids.push(m["id"].as_str().unwrap().to_string());
    }
    s.kill9();
    s.restart();
    let admin = Api::new(&s, Some(ADMIN_TOKEN));
    for i in 0..5 {
        assert_eq!(admin.get(&format!("/panels/k{i}")).await.0, 200);
    }
    for id in ids {
        assert_eq!(admin.get(&format!("/messages/{id}")).await.0, 200);
    }
}

#[tokio::test]
async fn sample_data_shows_something_and_alerts_preempt() {
    let s = Server::start_with(ServerOpts {
        sample_data: true,
        ..Default::default()
    });
    let admin = Api::new(&s, Some(ADMIN_TOKEN));
    let (st, panels) = admin.get("/panels").await;
    assert_eq!(st, 200);
    assert_eq!(panels.as_array().unwrap().len(), 5);
    // The all-day digital-transformation campaign runs on every panel.
    let now = eventually(Duration::from_secs(10), || async {
        let (_, n) = admin.get("/panels/p10-hai-chau-ubnd/now").await;
        (n["seq"].as_u64().unwrap_or(0) > 0).then_some(n)
    })
    .await
    .expect("a frame for the sample panel");
    assert!(now["campaign"].is_string() || now["blank"] == true, "{now}");
    // Timeline: the two sample messages alternate every 10 s; grouped by
    // campaign the hour is one slot (no rush-hour campaign at 03:00 local).
    let q = "/panels/p10-hai-chau-ubnd/timeline?from=2026-12-01T03:00:00%2B07:00&to=2026-12-01T04:00:00%2B07:00";
    let (st, slots) = admin.get(q).await;
    assert_eq!(st, 200, "{slots}");
    let slots = slots.as_array().unwrap().clone();
    assert!(slots.len() >= 300, "{}", slots.len());
    let msgs: std::collections::BTreeSet<String> = slots
        .iter()
        .filter_map(|s| s["message"].as_str().map(str::to_string))
        .collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(slots.windows(2).all(|w| w[0]["end"] == w[1]["start"]));
    let (_, grouped) = admin.get(&format!("{q}&group=campaign")).await;
    assert_eq!(grouped.as_array().unwrap().len(), 1, "{grouped}");
    assert_eq!(grouped[0]["campaign"], "chuyen-doi-so-2026");
    assert_eq!(admin.get(&format!("{q}&group=nope")).await.0, 400);
    let r = admin
        .req(Method::GET, "/panels/p10-hai-chau-ubnd/frame.png")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Alert pre-empts.
    let op = admin.with_roles("op", &["operator"]).await;
    let (st, a) = op.post("/alerts", json!({"text": "BÃO SỐ 9: KHÔNG RA KHƠI", "targets": ["group:ven-bien"], "duration_s": 600})).await;
    assert_eq!(st, 201, "{a}");
    let aid = a["id"].as_str().unwrap().to_string();
    let got = eventually(Duration::from_secs(1), || async {
        let (_, n) = admin.get("/panels/p10-son-tra-cho/now").await;
        (n["alert"].as_str() == Some(aid.as_str())).then_some(())
    })
    .await;
    assert!(got.is_some(), "alert on the panel within 1 s");
    let (_, n) = admin.get("/panels/p10-hai-chau-ubnd/now").await;
    assert!(n["alert"].is_null(), "not a target: {n}");
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
    assert_eq!(op.delete(&format!("/alerts/{aid}")).await.0, 204);
    let back = eventually(Duration::from_secs(1), || async {
        let (_, n) = admin.get("/panels/p10-son-tra-cho/now").await;
        n["alert"].is_null().then_some(())
    })
    .await;
    assert!(back.is_some(), "panel back to its schedule within 1 s");
    let (st, a) = admin.get(&format!("/alerts/{aid}")).await;
    assert_eq!(st, 200);
    assert_eq!(a["delivery"]["targets"], 2);
}
