//! The whole path, over real sockets: HTTP API → store → player → broker
//! (embedded, or a real Mosquitto) → reference controller → ack → report.

use std::time::{Duration, Instant};

use bangtin::frame::{self, FLAG_BLANK, FLAG_EMERGENCY};
use bangtin::mqtt::controller::Shown;
use serde_json::json;
use tokio::time::timeout;

use super::mqtt::TestClient;
use super::util::{
    controller, eventually, plays_query, shown_until, Api, MosquittoProcess, Server, ServerOpts,
    ADMIN_TOKEN,
};

async fn setup_content(admin: &Api) -> (Api, Api, Api, Api) {
    for p in [
        json!({"id": "p1", "name": "Cổng UBND", "width": 128, "height": 32, "format": "mono1", "groups": ["d1"]}),
        json!({"id": "p2", "name": "Ngã tư", "width": 64, "height": 32, "format": "rgb565", "groups": ["d2"]}),
    ] {
        admin.create_panel(p).await;
    }
    let editor = admin.with_roles("lan", &["editor"]).await;
    let approver = admin.with_roles("hung", &["approver"]).await;
    let scheduler = admin.with_roles("minh", &["scheduler"]).await;
    let operator = admin.with_roles("tuan", &["operator"]).await;
    (editor, approver, scheduler, operator)
}

async fn whole_path(server: &Server) {
    let admin = Api::new(server, Some(ADMIN_TOKEN));
    let (editor, approver, scheduler, operator) = setup_content(&admin).await;
    let url = server.broker_url();
    let mut c1 = controller(&admin.controller_url(server, "p1").await, "p1");
    let mut c2 = controller(&admin.controller_url(server, "p2").await, "p2");
    // Nothing scheduled: blank frames.
    shown_until(&mut c1, Duration::from_secs(10), "blank frame on p1", |s| {
        s.flags & FLAG_BLANK != 0
    })
    .await;

    let approved = editor
        .create_message(
            json!({"title": "Tiêm chủng", "text": "Đưa trẻ đi tiêm chủng đầy đủ, đúng lịch"}),
        )
        .await;
    approver.approve(&approved).await;
    let draft = editor
        .create_message(json!({"title": "Nháp", "text": "Chưa duyệt"}))
        .await;
    let (st, c) = scheduler
        .post(
            "/campaigns",
            json!({"name": "Cả ngày", "messages": [{"id": approved, "dwell_s": 30}], "targets": ["p1"], "start": "2020-01-01", "priority": 1}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let campaign = c["id"].as_str().unwrap().to_string();
    let (st, _) = scheduler
        .post(
            "/campaigns",
            json!({"name": "Nháp", "messages": [{"id": draft, "dwell_s": 30}], "targets": ["p2"], "start": "2020-01-01", "priority": 1}),
        )
        .await;
    assert_eq!(st, 201);

    // The approved message reaches p1, panel-sized.
    let s = shown_until(&mut c1, Duration::from_secs(5), "message on p1", |s| {
        s.flags & FLAG_BLANK == 0
    })
    .await;
    assert_eq!((s.width, s.height, s.format.name()), (128, 32, "mono1"));
    // A late subscriber gets the same frame, retained.
    let mut late = TestClient::connect(&url, "late-sub", &["bangtin/panels/p1/frame"]).await;
    let p = late.next_on("bangtin/panels/p1/frame").await;
    assert!(p.retain);
    let f = frame::decode(&p.payload).expect("valid BTF1");
    assert_eq!(f.header.flags & FLAG_BLANK, 0);
    assert_eq!(f.data.len(), 16 * 32);
    let (_, now) = admin.get("/panels/p1/now").await;
    assert_eq!(now["message"], json!(approved));
    assert_eq!(now["seq"].as_u64(), Some(u64::from(f.header.seq)));
    assert!(f.header.valid_until > chrono::Utc::now().timestamp() as u64);

    // The draft never reaches p2: it stays blank.
    let (_, now2) = admin.get("/panels/p2/now").await;
    assert_eq!(now2["blank"], true, "{now2}");
    assert!(now2["message"].is_null());

    // The controller's ack becomes a proof-of-play row.
    let q = plays_query("p1");
    let row = eventually(Duration::from_secs(5), || async {
        let (_, rows) = admin.get(&q).await;
        rows.as_array()?
            .iter()
            .find(|r| r["message"] == json!(approved))
            .cloned()
    })
    .await
    .expect("a proof-of-play row");
    assert_eq!(row["campaign"], json!(campaign));
    assert_eq!(
        row["verified"], true,
        "the reference controller names the CRC: {row}"
    );
    let csv = admin
        .req(reqwest::Method::GET, &q)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("panel,message,campaign"), "{csv}");
    assert!(csv.contains(&approved));
    let (_, panels) = admin.get("/panels").await;
    let p1 = panels
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "p1")
        .unwrap()
        .clone();
    assert_eq!(p1["online"], true, "{p1}");

    // An alert reaches its target within a second of the reply.
    let started = Instant::now();
    let aid = operator
        .send_alert(
            json!({"text": "LŨ QUÉT: tránh xa suối", "targets": ["group:d2"], "duration_s": 300}),
        )
        .await;
    let replied = tokio::time::Instant::now();
    let s = shown_until(
        &mut c2,
        Duration::from_secs(1),
        "alert on p2 within 1 s",
        |s| s.flags & FLAG_EMERGENCY != 0,
    )
    .await;
    assert!(s.received_at.saturating_duration_since(replied) < Duration::from_secs(1));
    eprintln!(
        "alert: reply after {:?}, on the glass {:?} after the reply",
        replied.into_std() - started,
        s.received_at.saturating_duration_since(replied)
    );
    let delivered = eventually(Duration::from_secs(5), || async {
        let (_, v) = admin.get(&format!("/alerts/{aid}")).await;
        (v["delivery"]["acked"] == 1).then_some(v)
    })
    .await
    .expect("alert delivery counted");
    assert_eq!(delivered["delivery"]["targets"], 1);
    // Cancelled: back to the schedule (blank, since p2's only message is a draft).
    operator.cancel_alert(&aid).await;
    shown_until(
        &mut c2,
        Duration::from_secs(1),
        "p2 back to blank within 1 s",
        |s| s.flags & FLAG_EMERGENCY == 0 && s.flags & FLAG_BLANK != 0,
    )
    .await;

    // Deleting a panel clears its retained frame. The player does that
    // just after the 204 (asynchronously), so a subscriber arriving at once
    // may still get the old frame: look again until none is retained.
    assert_eq!(admin.delete("/panels/p2").await.0, 204);
    let mut attempt = 0;
    let cleared = eventually(Duration::from_secs(3), || {
        attempt += 1;
        let url = url.clone();
        async move {
            let mut gone = TestClient::connect(
                &url,
                &format!("gone-sub-{attempt}"),
                &["bangtin/panels/p2/frame"],
            )
            .await;
            let nothing = timeout(
                Duration::from_millis(500),
                gone.next_on("bangtin/panels/p2/frame"),
            )
            .await;
            (nothing.is_err() || nothing.unwrap().payload.is_empty()).then_some(())
        }
    })
    .await;
    assert!(
        cleared.is_some(),
        "the retained frame of a deleted panel is cleared"
    );
    c1.shutdown().await;
    c2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_path_on_the_embedded_broker() {
    let server = Server::start();
    whole_path(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_path_on_mosquitto() {
    let broker = MosquittoProcess::start("");
    let server = Server::start_with(ServerOpts {
        mqtt: Some(broker.url()),
        ..Default::default()
    });
    whole_path(&server).await;
}

/// Mosquitto restarted mid-run (retained messages lost: no persistence):
/// the server republishes every panel's frame within 5 s of its return.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_republishes_within_5_s() {
    let mut broker = MosquittoProcess::start("");
    let server = Server::start_with(ServerOpts {
        mqtt: Some(broker.url()),
        sample_data: true,
        ..Default::default()
    });
    let url = broker.url();
    let topic = "bangtin/panels/p10-vinh-ubnd-hung-dung/frame";
    let mut first = TestClient::connect(&url, "watch-1", &[topic]).await;
    let before = frame::decode(&first.next_on(topic).await.payload)
        .unwrap()
        .header
        .seq;
    drop(first);
    broker.kill();
    // The server notices the broker is gone, and the API keeps answering.
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    let noticed = eventually(Duration::from_secs(10), || async {
        let (_, status) = admin.get("/status").await;
        (status["mqtt_connected"] == false).then_some(())
    })
    .await;
    assert!(noticed.is_some(), "the server noticed the broker's loss");
    let (_, status) = admin.get("/status").await;
    assert_eq!(
        (&status["leading"], &status["leader_epoch"]),
        (&json!(true), &json!(0)),
        "one server on the file store always leads: {status}"
    );
    assert_eq!(admin.get("/panels").await.0, 200);
    broker.restart();
    let back = Instant::now();
    let mut again = TestClient::connect(&url, "watch-2", &[topic]).await;
    let p = timeout(Duration::from_secs(5), again.next_on(topic))
        .await
        .expect("republished within 5 s");
    let after = frame::decode(&p.payload).unwrap().header.seq;
    assert!(
        after > before,
        "new seq after the reconnect: {after} > {before}"
    );
    eprintln!("republished {:?} after the broker's return", back.elapsed());
}

/// A window opening and closing in real time: a 6-field cron firing every
/// 10 s with a 4 s window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_window_opens_and_closes() {
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    let url = admin
        .create_panel_with_controller(
            &server,
            json!({"id": "w1", "name": "W", "width": 64, "height": 16, "format": "mono1"}),
        )
        .await;
    let id = admin
        .create_message(json!({"title": "Nhắc", "text": "Giờ cao điểm"}))
        .await;
    let approver = admin.with_roles("ap", &["approver"]).await;
    approver.approve(&id).await;
    let mut c = controller(&url, "w1");
    let (st, v) = admin
        .post(
            "/campaigns",
            json!({"name": "Mỗi 10 giây", "messages": [{"id": id, "dwell_s": 60}], "targets": ["w1"], "cron": "*/10 * * * * *", "duration_s": 4, "priority": 1}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    // The campaign may be saved inside an open window (it is then active
    // for the rest of it), so the first opening may be seen mid-window.
    // Measure from the first close, which is always on the grid.
    let is_open = |s: &Shown| s.flags & FLAG_BLANK == 0;
    shown_until(&mut c, Duration::from_secs(15), "window open", is_open).await;
    let closed = shown_until(&mut c, Duration::from_secs(6), "window closed", |s| {
        !is_open(s)
    })
    .await;
    let reopened = shown_until(
        &mut c,
        Duration::from_secs(12),
        "window open again",
        is_open,
    )
    .await;
    let closed_again = shown_until(&mut c, Duration::from_secs(6), "window closed again", |s| {
        !is_open(s)
    })
    .await;
    let gap = reopened.received_at - closed.received_at;
    assert!(
        gap > Duration::from_millis(5500) && gap < Duration::from_millis(6500),
        "closed for {gap:?}, want 6 s"
    );
    let open_for = closed_again.received_at - reopened.received_at;
    assert!(
        open_for > Duration::from_millis(3500) && open_for < Duration::from_millis(4500),
        "open for {open_for:?}, want 4 s"
    );
    c.shutdown().await;
}
