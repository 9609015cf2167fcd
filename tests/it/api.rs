//! The HTTP API where a real server process matters: body caps on a real
//! socket, durability across SIGKILL, the sample data reaching panels, and
//! alerts pre-empting within a second. Everything else about the API is
//! tested in-process beside the code (`src/api/tests/`).

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use super::util::{eventually, send, Api, Server, ServerOpts, ADMIN_TOKEN};

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

/// What only a real socket shows: a chunked body (no Content-Length) past
/// the cap, and a huge upload refused from its headers alone, before the
/// body. The rest of the API's behaviour is tested in-process
/// (`src/api/tests/`).
#[tokio::test]
async fn body_caps_over_a_real_socket() {
    let (_s, admin) = setup().await;
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
    let editor = admin.with_roles("ed", &["editor"]).await;
    let status = raw_status(
        &editor.base,
        &format!(
            "POST /api/v1/assets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: image/png\r\nContent-Length: {}\r\n\r\n",
            editor.token.as_deref().unwrap(),
            21 << 20
        ),
    );
    assert_eq!(status, 413);
}

#[tokio::test]
async fn sigkill_right_after_201_loses_nothing() {
    let (mut s, admin) = setup().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        admin
            .create_panel(panel(&format!("k{i}"), 128, 32, "mono1", &["d"]))
            .await;
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
        let (_, n) = admin.get("/panels/p10-vinh-ubnd-hung-dung/now").await;
        (n["seq"].as_u64().unwrap_or(0) > 0).then_some(n)
    })
    .await
    .expect("a frame for the sample panel");
    assert!(now["campaign"].is_string() || now["blank"] == true, "{now}");
    let r = admin
        .req(Method::GET, "/panels/p10-vinh-ubnd-hung-dung/frame.png")
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
        let (_, n) = admin.get("/panels/p10-cua-lo-cho/now").await;
        (n["alert"].as_str() == Some(aid.as_str())).then_some(())
    })
    .await;
    assert!(got.is_some(), "alert on the panel within 1 s");
    let (_, n) = admin.get("/panels/p10-vinh-ubnd-hung-dung/now").await;
    assert!(n["alert"].is_null(), "not a target: {n}");
    assert_eq!(op.delete(&format!("/alerts/{aid}")).await.0, 204);
    let back = eventually(Duration::from_secs(1), || async {
        let (_, n) = admin.get("/panels/p10-cua-lo-cho/now").await;
        n["alert"].is_null().then_some(())
    })
    .await;
    assert!(back.is_some(), "panel back to its schedule within 1 s");
    let (st, a) = admin.get(&format!("/alerts/{aid}")).await;
    assert_eq!(st, 200);
    assert_eq!(a["delivery"]["targets"], 2);
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
