//! The router itself: auth, unknown addresses and methods, the OpenAPI
//! document, `/healthz` and `/metrics`, and the role matrix over every row
//! of the route table.

use serde_json::{json, Value};

use super::{panel, Rig};
use crate::api::ROUTES;
use crate::domain::Role;

#[tokio::test]
async fn health_metrics_openapi_and_auth() {
    let rig = Rig::new();
    let admin = rig.admin();
    let r = rig.site("/healthz").await;
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..], b"ok");
    let (st, v) = rig.anonymous().get("/panels").await;
    assert_eq!(st, 401);
    assert_eq!(v["error"], "unauthorized");
    assert!(v["message"].as_str().unwrap().contains("Bearer"));
    assert_eq!(rig.client(Some("nope")).get("/panels").await.0, 401);
    let (st, me) = admin.get("/me").await;
    assert_eq!(st, 200);
    assert_eq!(me["name"], "admin");
    let (st, doc) = admin.get("/openapi.json").await;
    assert_eq!(st, 200);
    assert!(doc["paths"]["/api/v1/panels/{id}/now"]["get"].is_object());
    // Schemas come from the Rust types: the panel body has the fields docs/api.md names.
    let panel = &doc["components"]["schemas"]["Panel"];
    for f in ["id", "name", "width", "height", "format", "groups", "color"] {
        assert!(panel["properties"][f].is_object(), "Panel.{f} in {panel}");
    }
    assert_eq!(
        doc["paths"]["/api/v1/campaigns"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/CampaignBody"
    );
    let m = rig.site("/metrics").await;
    let text = String::from_utf8_lossy(&m.body);
    assert!(text.contains("bangtin_http_requests_total"), "{text}");
    // Every `_total` series is a counter, whatever module owns it.
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let mut words = line.split_whitespace().skip(2);
        let (name, kind) = (words.next().unwrap(), words.next().unwrap());
        assert_eq!(name.ends_with("_total"), kind == "counter", "{line}");
    }
    assert!(
        text.contains("\nbangtin_vendor_links_connected 0\n"),
        "{text}"
    );
    let (st, v) = admin.get("/no/such/thing").await;
    assert_eq!((st, &v["error"]), (404, &Value::from("no_route")));
    let r = admin.send(admin.req("PATCH", "/panels")).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json["error"], "method_not_allowed");
    // Outside /api/v1: the one JSON error shape too.
    let r = rig.site("/nothing-here").await;
    assert_eq!(
        (r.status, &r.json["error"]),
        (404, &Value::from("not_found"))
    );
}

/// Every route, every role, and no token: 401 without a token (but for
/// the routes open to all: signing in), 403 exactly when the route's role
/// is missing, never 401/403 otherwise; the same for a token and for a
/// person signed in with a password, province-wide or for one district.
#[tokio::test]
async fn role_matrix_covers_every_route() {
    let rig = Rig::new();
    rig.admin()
        .create_panel(panel("p1", 128, 32, "mono1", &["d1"]))
        .await;
    let mut clients = vec![("anonymous", rig.anonymous())];
    for r in Role::ALL {
        clients.push((r.name(), rig.user(&format!("only-{}", r.name()), &[r])));
    }
    let mut people = Vec::new();
    for r in Role::ALL {
        people.push((
            r.name(),
            rig.person(&format!("person-{}", r.name()), &[r], None)
                .await,
        ));
    }
    // And each role held for one district only.
    for r in Role::ALL {
        people.push((
            r.name(),
            rig.person(&format!("d1-{}", r.name()), &[r], Some(&["d1"]))
                .await,
        ));
    }
    let people_count = people.len();
    clients.extend(people);
    for route in ROUTES {
        if route.path == "/events" {
            continue; // a stream: checked in tests/it
        }
        let path = route
            .path
            .replace("{id}", "zz-missing")
            .replace("{name}", "zz-missing");
        for (i, (name, c)) in clients.iter().enumerate() {
            let person = i >= clients.len() - people_count;
            if person && route.method == "DELETE" && route.path.starts_with("/session") {
                continue; // signing out: checked in api::tests::accounts
            }
            let r = c
                .send(
                    c.req(route.method, &path)
                        .header("content-type", "application/json")
                        .body("{}"),
                )
                .await;
            let want_forbidden = match (route.role, *name) {
                (_, "anonymous") => {
                    let public =
                        crate::api::table::is_public(&route.method.parse().unwrap(), route.path);
                    if public {
                        assert!(
                            r.status != 401 && r.status != 403,
                            "{} {}",
                            route.method,
                            route.path
                        );
                    } else {
                        assert_eq!(r.status, 401, "{} {} as {name}", route.method, route.path);
                    }
                    continue;
                }
                (None, _) => false,
                (Some(role), n) => n != "admin" && role.name() != n,
            };
            assert_ne!(
                r.json["error"], "no_route",
                "{} {} is in the route table but not routed",
                route.method, route.path
            );
            if want_forbidden {
                assert_eq!(r.status, 403, "{} {} as {name}", route.method, route.path);
                assert_eq!(r.json["error"], "forbidden");
                let msg = r.json["message"].as_str().unwrap();
                assert!(
                    msg.contains(&format!("needs the {} role", route.role.unwrap().name())),
                    "{msg}"
                );
            } else {
                assert!(
                    r.status != 403 && r.status != 401,
                    "{} {} as {name}: {}",
                    route.method,
                    route.path,
                    r.status
                );
            }
        }
    }
}

/// The table is the router: one row per (method, path), each path
/// parameter an `{id}` or `{name}`, and the OpenAPI document says what each
/// row says (role, body, success status).
#[tokio::test]
async fn the_table_is_the_router_and_the_document() {
    let mut seen = std::collections::BTreeSet::new();
    for r in ROUTES {
        assert!(
            seen.insert((r.method, r.path)),
            "{} {} twice",
            r.method,
            r.path
        );
        for seg in r.path.split('/').filter(|s| s.starts_with('{')) {
            assert!(seg == "{id}" || seg == "{name}", "{seg} in {}", r.path);
        }
    }
    let rig = Rig::new();
    let (_, doc) = rig.admin().get("/openapi.json").await;
    for r in ROUTES {
        let op = &doc["paths"][format!("/api/v1{}", r.path)][r.method.to_ascii_lowercase()];
        assert_eq!(op["summary"], r.summary, "{} {}", r.method, r.path);
        assert_eq!(op["x-role"], json!(r.role.map(|r| r.name())));
        assert!(
            op["responses"][r.ok.as_str()].is_object(),
            "{} {}: {op}",
            r.method,
            r.path
        );
    }
    let approve = &doc["paths"]["/api/v1/messages/{id}/approve"]["post"];
    assert_eq!(approve["requestBody"]["required"], false, "{approve}");
    assert!(approve["responses"]["200"].is_object());
    let upload = &doc["paths"]["/api/v1/assets"]["post"]["requestBody"]["content"];
    assert!(upload["image/webp"].is_object(), "{upload}");
    assert!(doc["paths"]["/api/v1/messages"]["post"]["responses"]["201"].is_object());
    assert!(doc["paths"]["/api/v1/panels/{id}"]["delete"]["responses"]["204"].is_object());
}

/// The role is checked before the handler reads anything: a caller
/// without it gets 403 even for a body the handler would refuse.
#[tokio::test]
async fn the_role_is_checked_before_the_body() {
    let rig = Rig::new();
    let editor = rig.user("lan", &[Role::Editor]);
    let r = editor
        .send(
            editor
                .req("POST", "/panels")
                .header("content-type", "text/plain")
                .body("not json"),
        )
        .await;
    assert_eq!((r.status, &r.json["error"]), (403, &json!("forbidden")));
    let r = editor
        .send(editor.req("PUT", "/campaigns/Not%20An%20Id"))
        .await;
    assert_eq!(r.status, 403);
}
