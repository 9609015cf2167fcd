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
    // And each role held for one district only (admin is province-wide).
    for r in Role::ALL.into_iter().filter(|r| *r != Role::Admin) {
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

/// What a district's staff get from a route aimed at another district.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outside {
    /// 403 `outside_scope`: a change to something of another district.
    Refused,
    /// 404, as if it did not exist: another district's panel, campaign,
    /// alert or warning read by its address.
    Hidden,
    /// A success whose body never names another district's panel.
    Filtered,
    /// Not tied to a district (signing in, the media library, writing a
    /// new message of one's own, the API's description...).
    Unbound,
    /// An administrator's (accounts, tokens, panels, groups, settings):
    /// 403 by role, as no admin has a scope.
    AdminOnly,
}

/// Each route's answer to a district's staff about another district. A
/// route missing here fails the matrix: a new route is placed knowingly.
fn outside(route: &crate::api::table::Route) -> Outside {
    use Outside::*;
    if route.role == Some(Role::Admin) {
        return AdminOnly;
    }
    match (route.method, route.path) {
        (_, p) if p.starts_with("/panels/{id}") => Hidden,
        (_, "/messages/{id}/preview.png" | "/preview" | "/alerts/preview") => Hidden,
        ("GET", "/campaigns/{id}" | "/alerts/{id}" | "/cap/{id}" | "/cap/{id}/document") => Hidden,
        ("PUT" | "DELETE", "/messages/{id}" | "/campaigns/{id}")
        | ("POST", "/messages/{id}/approve" | "/messages/{id}/reject")
        | ("POST", "/campaigns" | "/alerts")
        | ("DELETE", "/alerts/{id}")
        | ("POST", "/cap/{id}/deploy" | "/cap/{id}/dismiss")
        | ("POST", "/alarms/{id}/acknowledge") => Refused,
        ("GET", p) if p.starts_with("/reports/") => Filtered,
        (
            "GET",
            "/panels"
            | "/groups"
            | "/messages"
            | "/messages/{id}"
            | "/messages/{id}/versions"
            | "/messages/{id}/diff"
            | "/desk"
            | "/notifications"
            | "/campaigns"
            | "/calendar"
            | "/alerts"
            | "/cap"
            | "/alarms"
            | "/status"
            | "/events",
        ) => Filtered,
        (_, "/session" | "/sessions" | "/session/password" | "/me" | "/openapi.json")
        | (_, "/keys/frames" | "/cron/explain" | "/cap/feeds")
        | (_, "/assets" | "/assets/{id}")
        | ("POST", "/messages" | "/cap") => Unbound,
        (method, path) => panic!(
            "{method} {path}: say what a district's staff get from it about another district"
        ),
    }
}

/// Vinh's real objects, by the address prefix that names them: a message
/// a Vinh editor wrote, a campaign placing it on a Vinh panel, an alert
/// there, the storm warning posted with a Vinh feed token, an alarm, the
/// panel itself.
async fn vinh_objects(rig: &super::Rig) -> Vec<(&'static str, String)> {
    use super::cap::{doc, post_cap};
    let admin = rig.admin();
    let vinh_editor = rig
        .person("vinh-bt", &[Role::Editor], Some(&["vinh"]))
        .await;
    let m = vinh_editor
        .create_message(json!({"title": "Vinh", "text": "Dịch vụ công trực tuyến"}))
        .await;
    let msg = m["id"].as_str().unwrap().to_string();
    let (st, c) = admin
        .post(
            "/campaigns",
            json!({"name": "Vinh", "messages": [{"id": msg, "dwell_s": 10}], "targets": ["vinh-1"],
                   "cron": "0 7 * * *", "duration_s": 3600, "priority": 10}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let (st, a) = admin
        .post(
            "/alerts",
            json!({"text": "Ngập tại Vinh", "targets": ["vinh-1"], "duration_s": 600}),
        )
        .await;
    assert_eq!(st, 201, "{a}");
    let (_, t) = admin
        .post(
            "/tokens",
            json!({"name": "feed-vinh", "roles": ["feed"], "scope": ["vinh"]}),
        )
        .await;
    let w = post_cap(
        &rig.client(t["token"].as_str()),
        doc(crate::cap::tests::STORM),
    )
    .await;
    assert_eq!(w.json["panels"], 2, "Vinh's two panels: {}", w.json);
    super::raise_alarm(rig, 1, "vinh-1");
    vec![
        ("/messages/", msg),
        ("/campaigns/", c["id"].as_str().unwrap().to_string()),
        ("/alerts/", a["id"].as_str().unwrap().to_string()),
        ("/cap/", w.json["id"].as_str().unwrap().to_string()),
        ("/alarms/", "1".to_string()),
        ("/panels/", "vinh-1".to_string()),
    ]
}

/// Whether `text` names the panel `id` (not merely an id that begins
/// with it: a message titled "Vinh" may be `vinh-2do1h8`, its random tail
/// starting with a digit).
fn names(text: &str, id: &str) -> bool {
    text.match_indices(id).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + id.len()..].chars().next();
        let part = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-');
        !part(before) && !part(after)
    })
}

/// Checks one answer against its route's class.
fn judge(kind: Outside, what: &str, r: &super::Reply) {
    match kind {
        Outside::Refused => assert_eq!(
            (r.status, &r.json["error"]),
            (403, &json!("outside_scope")),
            "{what} {}",
            r.json
        ),
        Outside::Hidden => assert_eq!(r.status, 404, "{what} {}", r.json),
        Outside::Filtered => {
            assert!((200..300).contains(&r.status), "{what} {}", r.json);
            let text = String::from_utf8_lossy(&r.body);
            assert!(
                !names(&text, "vinh-1") && !names(&text, "vinh-2"),
                "{what}: {text}"
            );
        }
        Outside::Unbound => assert!(r.status != 401 && r.status != 403, "{what}"),
        Outside::AdminOnly => assert_eq!(
            (r.status, &r.json["error"]),
            (403, &json!("forbidden")),
            "{what}"
        ),
    }
}

/// The role × route matrix with scopes: every route, called by a person
/// holding each role for Cửa Lò only, about a real object of Vinh (a
/// panel, a message a Vinh editor wrote and a campaign placing it there,
/// an alert, an alarm, an official warning; bodies that aim at Vinh):
/// 403 `outside_scope` for a change, 404 for an address, and for a read
/// a success that never names a Vinh panel. Admin-only routes are out of
/// a district's reach by role (no admin has a scope).
#[tokio::test]
async fn scope_matrix_covers_every_route() {
    let rig = super::cap::rig(super::cap::auto_storms()).await;
    let admin = rig.admin();
    let ids = vinh_objects(&rig).await;
    let msg = ids[0].1.clone();
    let to_vinh = json!({"name": "Vinh", "messages": [{"id": msg, "dwell_s": 10}],
        "targets": ["group:vinh"], "cron": "0 7 * * *", "duration_s": 3600, "priority": 10});
    let body = |method: &str, path: &str| match (method, path) {
        ("POST" | "PUT", p) if p.starts_with("/campaigns") => to_vinh.clone(),
        ("POST", "/alerts") => json!({"text": "Bão", "targets": ["vinh-1"], "duration_s": 60}),
        ("PUT", "/messages/{id}") => json!({"title": "Sửa", "text": "Sửa"}),
        ("POST", "/messages/{id}/reject") => json!({"comment": "Không đạt"}),
        ("POST", "/preview") => json!({"title": "Thử", "text": "Thử"}),
        ("POST", "/alerts/preview") => json!({"text": "Thử"}),
        _ => json!({}),
    };
    let mut staff = Vec::new();
    for r in Role::ALL.into_iter().filter(|r| *r != Role::Admin) {
        let name = format!("cualo-{}", r.name());
        staff.push((r, rig.person(&name, &[r], Some(&["cualo"])).await));
    }
    for route in ROUTES {
        let kind = outside(route);
        if route.path == "/events" || route.path.starts_with("/session") {
            continue; // a stream, and signing out: checked elsewhere
        }
        let mut path = route.path.replace("{name}", "zz-missing");
        let id = ids
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix))
            .map_or("zz-missing", |(_, id)| id.as_str());
        path = path.replace("{id}", id);
        if matches!(
            route.path,
            "/messages/{id}/preview.png" | "/preview" | "/alerts/preview"
        ) {
            path.push_str("?panel=vinh-1");
        } else if route.path.starts_with("/reports/") {
            path.push_str("?from=2020-01-01&to=2100-01-01");
        }
        for (role, c) in &staff {
            if kind != Outside::AdminOnly && route.role.is_some_and(|need| need != *role) {
                continue; // the role is missing: the matrix above
            }
            let r = c
                .send(
                    c.req(route.method, &path)
                        .header("content-type", "application/json")
                        .body(body(route.method, route.path).to_string()),
                )
                .await;
            let what = format!(
                "{} {path} as a Cửa Lò {}: {}",
                route.method,
                role.name(),
                r.status
            );
            judge(kind, &what, &r);
        }
    }
    // Nothing of Vinh's changed.
    let (_, after) = admin.get(&format!("/messages/{msg}")).await;
    assert_eq!(after["title"], "Vinh");
}
