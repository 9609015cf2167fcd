//! Proof of play you can trust, over real sockets: acks that name the CRC
//! of the frame sent are verified, acks from a client that never received
//! the frame are counted apart; and a snapshot of the glass on request.

use std::time::Duration;

use bangtin::frame::FLAG_BLANK;
use serde_json::{json, Value};

use super::mqtt::TestClient;
use super::util::{controller, eventually, plays_query, shown_until, Api, Server, ADMIN_TOKEN};

const WAIT: Duration = Duration::from_secs(10);

/// The rows of one panel's plays, once at least `n` are there.
async fn plays(admin: &Api, panel: &str, n: usize) -> Vec<Value> {
    let q = plays_query(panel);
    eventually(WAIT, || async {
        let (_, rows) = admin.get(&q).await;
        let rows = rows.as_array()?.clone();
        (rows.len() >= n).then_some(rows)
    })
    .await
    .unwrap_or_else(|| panic!("{n} play(s) of {panel} within {WAIT:?}"))
}

/// The seq the server sent `panel`, once it sent one.
async fn sent_seq(admin: &Api, panel: &str) -> u64 {
    let path = format!("/panels/{panel}/now");
    eventually(WAIT, || async {
        let (st, now) = admin.get(&path).await;
        // Before its first frame a panel's `now` says seq 0.
        (st == 200)
            .then(|| now["seq"].as_u64())
            .flatten()
            .filter(|s| *s > 0)
    })
    .await
    .unwrap_or_else(|| panic!("the server sent {panel} a frame"))
}

/// Clients holding p8's and p9's own credentials ack frames they never
/// received (they never subscribe to their frame topics; they learn the
/// seqs the server sent from the API, as someone who can guess them
/// would): p9 with a version-1 ack (no CRC), p8 with a guessed CRC. Each
/// play is counted, unverified. The reference controller on p1, which
/// received its frames, is verified, and the reports keep them apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_for_frames_never_received_are_unverified() {
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    let shape = |id: &str| json!({"id": id, "name": id, "width": 64, "height": 16, "format": "mono1", "groups": ["d1"]});
    let p1_url = admin
        .create_panel_with_controller(&server, shape("p1"))
        .await;
    let mut c1 = controller(&p1_url, "p1");
    shown_until(&mut c1, WAIT, "p1's first frame", |_| true).await;

    for (panel, crc) in [("p9", None), ("p8", Some(12345u32))] {
        let url = admin
            .create_panel_with_controller(&server, shape(panel))
            .await;
        let faker = TestClient::connect(&url, panel, &[]).await;
        let seq = sent_seq(&admin, panel).await;
        let mut ack = json!({ "seq": seq });
        if let Some(crc) = crc {
            ack["crc"] = crc.into();
        }
        faker
            .publish(
                &format!("bangtin/panels/{panel}/ack"),
                false,
                ack.to_string(),
            )
            .await;
        let rows = plays(&admin, panel, 1).await;
        assert_eq!(rows[0]["seq"], seq, "{rows:?}");
        assert_eq!(rows[0]["verified"], false, "{panel} acked {ack}: {rows:?}");
    }

    let p1 = plays(&admin, "p1", 1).await;
    assert!(
        p1.iter().all(|r| r["verified"] == true),
        "the reference controller's acks name the CRC it shows: {p1:?}"
    );

    // The reports tell them apart.
    let summary = plays_query("p1")
        .replace("/reports/plays", "/reports/summary")
        .replace("&panel=p1", "");
    let (_, sums) = admin.get(&summary).await;
    let d1 = sums
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"] == "d1")
        .cloned()
        .unwrap_or_else(|| panic!("a d1 row in {sums}"));
    let total = d1["plays"].as_u64().unwrap();
    let verified = d1["verified_plays"].as_u64().unwrap();
    assert_eq!(total - verified, 2, "p8's and p9's plays: {sums}");
    assert!(verified >= 1, "p1's: {sums}");
    c1.shutdown().await;
}

/// The dashboard asks p1's controller what its glass shows: the reference
/// controller answers with a PNG of its glass in a BTF1 frame, which the
/// API serves beside the seq the server sends. A panel whose controller
/// does not answer has no snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_on_request_shows_what_the_glass_shows() {
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    let url = admin
        .create_panel_with_controller(
            &server,
            json!({"id": "p1", "name": "Chợ", "width": 64, "height": 16, "format": "mono1"}),
        )
        .await;
    admin
        .create_panel(
            json!({"id": "p2", "name": "Cầu", "width": 64, "height": 16, "format": "mono1"}),
        )
        .await;
    let mut c1 = controller(&url, "p1");
    let shown = shown_until(&mut c1, WAIT, "p1's first frame", |_| true).await;
    assert_eq!(
        admin.get("/panels/p1/snapshot").await.0,
        404,
        "none asked for yet"
    );

    let (st, asked) = admin.post("/panels/p1/snapshot", json!({})).await;
    assert_eq!(st, 202, "{asked}");
    let at = |v: &Value, key: &str| {
        chrono::DateTime::parse_from_rfc3339(v[key].as_str().unwrap_or_default()).ok()
    };
    let requested_at = at(&asked, "requested_at").expect("an RFC 3339 requested_at");
    let snap = eventually(WAIT, || async {
        let (st, v) = admin.get("/panels/p1/snapshot").await;
        (st == 200 && at(&v, "received_at") >= Some(requested_at)).then_some(v)
    })
    .await
    .expect("p1's controller answered the snapshot request");
    assert_eq!(snap["seq"], shown.seq, "{snap}");
    assert_eq!(snap["sent_seq"], shown.seq, "{snap}");
    assert_eq!(snap["seq_was_sent"], true);
    assert_eq!(snap["blank"], shown.flags & FLAG_BLANK != 0);
    assert_eq!(
        (snap["width"].as_u64(), snap["height"].as_u64()),
        (Some(64), Some(16))
    );
    let png = admin
        .req(reqwest::Method::GET, "/panels/p1/snapshot.png")
        .send()
        .await
        .unwrap();
    assert_eq!(png.status(), 200);
    let png = png.bytes().await.unwrap();
    let img = image::load_from_memory(&png).expect("a PNG");
    assert_eq!((img.width(), img.height()), (64, 16));

    // p2 has no controller: asking is fine, no answer comes.
    assert_eq!(admin.post("/panels/p2/snapshot", json!({})).await.0, 202);
    assert_eq!(admin.get("/panels/p2/snapshot").await.0, 404);
    c1.shutdown().await;
}
