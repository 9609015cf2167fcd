//! Official warnings through the real router: a `feed` token posts CAP
//! documents, the rules deploy or hold them as alerts, an operator
//! deploys or dismisses, Update and Cancel change the live alert, and bad
//! documents change nothing.

use chrono::Utc;
use serde_json::{json, Value};

use super::{Client, Reply, Rig};
use crate::cap::tests::{fixture, province, CANCEL, FLOOD, RAIN, STORM, STRANGER, UPDATE};
use crate::domain::Role;

/// A rig with the test province's panels (districts as groups) and
/// `cap.json` as given.
pub(super) async fn rig(cap_json: Value) -> Rig {
    let rig = Rig::new();
    std::fs::write(
        rig.dir.path().join("cap.json"),
        serde_json::to_vec(&cap_json).unwrap(),
    )
    .unwrap();
    let admin = rig.admin();
    for p in province() {
        let district = p.id.as_str().split('-').next().unwrap().to_string();
        let mut v = serde_json::to_value(&p).unwrap();
        v["groups"] = json!([district]);
        admin.create_panel(v).await;
    }
    rig
}

pub(super) fn auto_storms() -> Value {
    json!({
        "post": {"senders": ["canhbao@nchmf.gov.vn", "alerts@vndma.gov.vn"]},
        "rule_sets": {"default": [
            {"name": "storms", "event": ["Bão"], "action": "auto"},
            {"action": "hold"}
        ]}
    })
}

pub(super) async fn post_cap(c: &Client<'_>, body: impl Into<Vec<u8>>) -> Reply {
    c.send(
        c.req("POST", "/cap")
            .header("content-type", "application/cap+xml")
            .body(body.into()),
    )
    .await
}

pub(super) fn doc(text: &str) -> String {
    fixture(text, Utc::now())
}

#[tokio::test]
async fn only_a_feed_token_posts_warnings() {
    let rig = rig(auto_storms()).await;
    let editor = rig.user("lan", &[Role::Editor, Role::Operator]);
    assert_eq!(post_cap(&editor, doc(STORM)).await.status, 403);
    let feed = rig.user("nchmf", &[Role::Feed]);
    let r = feed
        .send(
            feed.req("POST", "/cap")
                .header("content-type", "text/plain")
                .body(doc(STORM)),
        )
        .await;
    assert_eq!(r.status, 415, "{:?}", r.json);
    // A feed token reads but does not operate.
    assert_eq!(
        feed.post(
            "/alerts",
            json!({"text": "x", "targets": ["all"], "duration_s": 60})
        )
        .await
        .0,
        403
    );
}

#[tokio::test]
async fn a_storm_warning_goes_to_exactly_its_districts_then_update_and_cancel() {
    let rig = rig(auto_storms()).await;
    let feed = rig.user("nchmf", &[Role::Feed]);
    let admin = rig.admin();
    let r = post_cap(&feed, doc(STORM)).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(
        (r.json["state"].as_str(), r.json["panels"].as_u64()),
        (Some("deployed"), Some(3))
    );
    let storm_id = r.json["id"].as_str().unwrap().to_string();
    let alert_id = r.json["alerts"][0].as_str().unwrap().to_string();
    let (_, a) = admin.get(&format!("/alerts/{alert_id}")).await;
    assert_eq!(
        a["targets"],
        json!(["group:vinh", "group:cualo"]),
        "whole districts"
    );
    assert_eq!(a["delivery"]["targets"], 3);
    assert!(
        a["text"]
            .as_str()
            .unwrap()
            .starts_with("Bão số 9 đổ bộ Vinh và Cửa Lò"),
        "{a}"
    );
    assert_eq!(a["active"], true);
    // The document is kept verbatim.
    let raw = admin
        .send(admin.req("GET", &format!("/cap/{storm_id}/document")))
        .await;
    assert_eq!(raw.body, doc(STORM).as_bytes());
    // A repeat changes nothing.
    let again = post_cap(&feed, doc(STORM)).await;
    assert_eq!(
        (again.status, again.json["duplicate"].as_bool()),
        (200, Some(true))
    );
    assert_eq!(admin.get("/alerts").await.1.as_array().unwrap().len(), 1);
    // The Update replaces the live alert: Nghi Lộc joins.
    let u = post_cap(&feed, doc(UPDATE)).await;
    assert_eq!(u.status, 200, "{:?}", u.json);
    assert_eq!(
        (u.json["state"].as_str(), u.json["panels"].as_u64()),
        (Some("deployed"), Some(7))
    );
    assert_eq!(u.json["ended"], json!([storm_id]));
    let (_, old) = admin.get(&format!("/alerts/{alert_id}")).await;
    assert_eq!(old["active"], false, "the storm's alert ended");
    let (_, w) = admin.get(&format!("/cap/{storm_id}")).await;
    assert_eq!(w["warning"]["state"], "replaced");
    let update_alert = u.json["alerts"][0].as_str().unwrap().to_string();
    // The Cancel ends it.
    let c = post_cap(&feed, doc(CANCEL)).await;
    assert_eq!((c.status, c.json["state"].as_str()), (200, Some("logged")));
    let (_, a) = admin.get(&format!("/alerts/{update_alert}")).await;
    assert!(a["cancelled_at"].is_string(), "{a}");
    // Every decision is in the audit trail.
    let (_, audit) = admin.get("/audit").await;
    let actions: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "cap")
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    for want in ["receive", "duplicate", "replaced", "cancelled"] {
        assert!(actions.iter().any(|a| a == want), "{want} in {actions:?}");
    }
}

#[tokio::test]
async fn a_held_warning_waits_for_one_click() {
    let rig = rig(auto_storms()).await;
    let feed = rig.user("nchmf", &[Role::Feed]);
    let op = rig.user("hung", &[Role::Operator]);
    let r = post_cap(&feed, doc(RAIN)).await;
    assert_eq!(
        (r.json["state"].as_str(), r.json["panels"].as_u64()),
        (Some("held"), Some(2))
    );
    let id = r.json["id"].as_str().unwrap().to_string();
    assert!(rig
        .admin()
        .get("/alerts")
        .await
        .1
        .as_array()
        .unwrap()
        .is_empty());
    let (_, inbox) = op.get("/cap?state=held").await;
    assert_eq!(
        inbox[0]["by_group"],
        json!({"nghiloc": ["nghiloc-west-1", "nghiloc-west-2"]})
    );
    assert_eq!(
        feed.post(&format!("/cap/{id}/deploy"), json!({})).await.0,
        403
    );
    let (st, v) = op.post(&format!("/cap/{id}/deploy"), json!({})).await;
    assert_eq!(
        (st, v["state"].as_str(), v["live"].as_bool()),
        (200, Some("deployed"), Some(true))
    );
    let (_, a) = op
        .get(&format!("/alerts/{}", v["alerts"][0].as_str().unwrap()))
        .await;
    assert_eq!(
        a["targets"],
        json!(["nghiloc-west-1", "nghiloc-west-2"]),
        "half a district, by panel"
    );
    let (st, v) = op.post(&format!("/cap/{id}/deploy"), json!({})).await;
    assert_eq!(st, 409, "{v}");
    assert_eq!(
        op.post(&format!("/cap/{id}/dismiss"), json!({})).await.0,
        409
    );
    // English only and no template: the operator writes the text.
    let f = post_cap(&feed, doc(FLOOD)).await;
    let fid = f.json["id"].as_str().unwrap().to_string();
    assert_eq!(f.json["state"], "held");
    let (st, v) = op.post(&format!("/cap/{fid}/deploy"), json!({})).await;
    assert!(
        st == 400
            && v["message"]
                .as_str()
                .unwrap()
                .contains("no Vietnamese text"),
        "{st} {v}"
    );
    let (st, _) = op.post(&format!("/cap/{fid}/dismiss"), json!({})).await;
    assert_eq!(st, 200);
    let (_, w) = op.get(&format!("/cap/{fid}")).await;
    assert_eq!(
        (
            w["warning"]["state"].as_str(),
            w["warning"]["decided_by"].as_str()
        ),
        (Some("dismissed"), Some("hung"))
    );
}

#[tokio::test]
async fn bad_documents_get_a_clear_error_and_change_nothing() {
    let rig = rig(auto_storms()).await;
    let feed = rig.user("nchmf", &[Role::Feed]);
    let good = doc(STORM);
    let laughs = crate::cap::tests::billion_laughs();
    let xxe = good.replace(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "<?xml version=\"1.0\"?><!DOCTYPE alert [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>",
    );
    let e = good.find("<expires>").unwrap() + 9;
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "malformed",
            good.replace("</sender>", "</sendr>").into_bytes(),
            400,
            "well-formed",
        ),
        ("billion laughs", laughs.into_bytes(), 400, "DTD"),
        ("external entity", xxe.into_bytes(), 400, "DTD"),
        ("50 MB", vec![b' '; 50 << 20], 413, "larger than"),
        (
            "wrong namespace",
            good.replace("cap:1.2", "cap:9").into_bytes(),
            400,
            "namespace",
        ),
        (
            "open polygon",
            doc(RAIN)
                .replace("18.70,105.65 18.70,105.50", "18.70,105.65 18.71,105.50")
                .into_bytes(),
            400,
            "polygon",
        ),
        (
            "date out of range",
            format!("{}2150{}", &good[..e], &good[e + 4..]).into_bytes(),
            400,
            "2000–2100",
        ),
        (
            "sender not allowed",
            doc(STRANGER).into_bytes(),
            403,
            "allowlist",
        ),
    ];
    for (what, body, status, says) in cases {
        let r = post_cap(&feed, body).await;
        assert_eq!(r.status, status, "{what}: {:?}", r.json);
        let msg = r.json["message"].as_str().unwrap_or_default();
        assert!(
            msg.to_lowercase().contains(&says.to_lowercase()),
            "{what}: {msg}"
        );
    }
    let snap = rig.ctx.store.snapshot();
    assert!(
        snap.cap.is_empty() && snap.alerts.is_empty(),
        "nothing changed"
    );
    // Refusals are audited; the documents that were read are archived.
    let (_, audit) = rig.admin().get("/audit").await;
    let refused = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "refuse")
        .count();
    assert_eq!(
        refused, 7,
        "every document read and refused (the 50 MB body never was read)"
    );
}

#[tokio::test]
async fn alerts_and_running_messages_are_public_as_cap_feeds_and_a_page() {
    let rig = rig(auto_storms()).await;
    let feed = rig.user("nchmf", &[Role::Feed]);
    let storm = post_cap(&feed, doc(STORM)).await;
    let alert = storm.json["alerts"][0].as_str().unwrap().to_string();
    // No sign-in: the ATOM feed links each alert's CAP document.
    let atom = rig.site("/public/alerts.atom").await;
    assert_eq!(atom.status, 200);
    assert!(atom
        .header("content-type")
        .unwrap()
        .starts_with("application/atom+xml"));
    let links = match crate::cap::index::read(&atom.body).unwrap() {
        crate::cap::index::Polled::Index(l) => l,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        links,
        [format!("http://localhost/public/alerts/{alert}.xml")]
    );
    let doc = rig.site(&format!("/public/alerts/{alert}.xml")).await;
    assert_eq!(doc.status, 200);
    let cap = crate::cap::parse(&doc.body).expect("bangtin's own CAP reads back");
    assert_eq!(cap.identifier, format!("bangtin-{alert}"));
    let info = &cap.infos[0];
    assert_eq!(info.event, "Bão");
    assert!(info.headline.as_deref().unwrap().starts_with("Bão số 9"));
    assert_eq!(info.areas[0].desc, "Thành phố Vinh; Thị xã Cửa Lò");
    assert_eq!(
        info.areas[0].geocodes.len(),
        1,
        "the commune code of vinh-1: {:?}",
        info.areas[0].geocodes
    );
    assert_eq!(rig.site("/public/alerts/nope.xml").await.status, 404);

    // A running campaign's approved message, for Vinh only.
    let ed = rig.user("lan", &[Role::Editor]);
    let ap = rig.user("hung", &[Role::Approver]);
    let sch = rig.user("mai", &[Role::Scheduler]);
    let m = ed
        .create_message(json!({"title": "Phòng chống bão", "text": "Chằng chống nhà cửa <ngay>"}))
        .await;
    let mid = m["id"].as_str().unwrap();
    assert_eq!(
        ap.post(&format!("/messages/{mid}/approve"), json!({}))
            .await
            .0,
        200
    );
    let today = Utc::now().date_naive();
    let (st, c) = sch
        .post("/campaigns", json!({"name": "Bão", "messages": [{"id": mid, "dwell_s": 10}], "targets": ["group:vinh"],
            "priority": 1, "start": (today - chrono::Days::new(1)).to_string(), "end": (today + chrono::Days::new(1)).to_string()}))
        .await;
    assert_eq!(st, 201, "{c}");
    let vinh = rig.site("/public/messages.atom?district=vinh").await;
    let text = String::from_utf8_lossy(&vinh.body).to_string();
    assert!(
        text.contains("<title>Phòng chống bão</title>")
            && text.contains("Chằng chống nhà cửa &lt;ngay&gt;"),
        "{text}"
    );
    let cualo = rig.site("/public/messages.rss?district=cualo").await;
    assert!(cualo
        .header("content-type")
        .unwrap()
        .starts_with("application/rss+xml"));
    assert!(!String::from_utf8_lossy(&cualo.body).contains("Phòng chống bão"));
    let page = rig.site("/public/board?district=vinh").await;
    let html = String::from_utf8_lossy(&page.body).to_string();
    assert!(
        html.contains("CẢNH BÁO KHẨN") && html.contains("Bão số 9 đổ bộ"),
        "the alert on top"
    );
    assert!(
        html.contains("Chằng chống nhà cửa &lt;ngay&gt;"),
        "escaped: {html}"
    );
    assert!(page
        .header("content-security-policy")
        .unwrap()
        .contains("frame-ancestors *"));
    assert_eq!(page.header("x-frame-options"), None, "framing allowed");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
}

/// A district's operator deploys or dismisses a held warning when every
/// panel it reaches lies inside the district, and is refused (403
/// `outside_scope`, naming a panel outside) when one does not. Before,
/// every district operator was refused, even for their own district.
#[tokio::test]
async fn a_district_operator_handles_the_warnings_of_the_district() {
    let rig = rig(auto_storms()).await;
    // One panel the rain reaches is also on the coast road.
    let (_, mut west2) = rig.admin().get("/panels/nghiloc-west-2").await;
    west2["groups"] = json!(["nghiloc", "ven-bien"]);
    for k in [
        "online",
        "last_seen",
        "reports_authenticated",
        "link",
        "transport",
    ] {
        west2.as_object_mut().unwrap().remove(k);
    }
    let (st, v) = rig.admin().put("/panels/nghiloc-west-2", west2).await;
    assert_eq!(st, 200, "{v}");
    let feed = rig.user("nchmf", &[Role::Feed]);
    let rain = post_cap(&feed, doc(RAIN)).await;
    assert_eq!(rain.json["state"], "held", "{}", rain.json);
    let id = rain.json["id"].as_str().unwrap().to_string();
    let refused = |v: &Value, panel: &str| {
        assert_eq!(v["error"], "outside_scope", "{v}");
        assert!(
            v["message"].as_str().unwrap().contains(panel),
            "names {panel}: {v}"
        );
    };
    // Elsewhere, or only part of the way inside: refused.
    for (name, scope, outside) in [
        ("vinh-op", "vinh", "nghiloc-west-1"),
        ("coast-op", "ven-bien", "nghiloc-west-1"),
    ] {
        let op = rig.person(name, &[Role::Operator], Some(&[scope])).await;
        for action in ["deploy", "dismiss"] {
            let (st, v) = op.post(&format!("/cap/{id}/{action}"), json!({})).await;
            assert_eq!(st, 403, "{name} {action}: {v}");
            refused(&v, outside);
        }
    }
    let (_, w) = rig.admin().get(&format!("/cap/{id}")).await;
    assert_eq!(w["warning"]["state"], "held", "nothing was decided");
    // Every panel inside: the district's operator deploys it.
    let op = rig
        .person("nghiloc-op", &[Role::Operator], Some(&["nghiloc"]))
        .await;
    let (st, v) = op.post(&format!("/cap/{id}/deploy"), json!({})).await;
    assert_eq!((st, v["state"].as_str()), (200, Some("deployed")), "{v}");
}
