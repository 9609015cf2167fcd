//! Compressed frames over a real broker: a controller that says it decodes
//! BTZ1 gets it, signed and verified, and proves what it shows; one that
//! does not gets BTF1 unchanged; a rebooted one is sent its frame in full.

use std::time::Duration;

use bangtin::codec::ENC_DELTA;
use bangtin::frame::FLAG_BLANK;
use bangtin::mqtt::controller::{spawn_fleet, ControllerArgs, Fleet};
use serde_json::json;

use super::util::{eventually, plays_query, shown_until, Api, Server, ADMIN_TOKEN};

const WAIT: Duration = Duration::from_secs(10);

fn compressed_controller(url: &str, panel: &str, key: &std::path::Path) -> Fleet {
    let mut args = ControllerArgs::new(panel.parse().unwrap(), url.parse().unwrap());
    args.accept_compressed = true;
    args.public_key = Some(key.to_path_buf());
    spawn_fleet(&args).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opted_in_controllers_get_btz1_others_btf1() {
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    let (_, key) = admin.get("/keys/frames").await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("frames.pub");
    std::fs::write(&key_file, key["public_key"].as_str().unwrap()).unwrap();
    let p1 = admin
        .create_panel_with_controller(
            &server,
            json!({"id": "p1", "name": "P10", "width": 128, "height": 32, "format": "mono1"}),
        )
        .await;
    let p2 = admin
        .create_panel_with_controller(
            &server,
            json!({"id": "p2", "name": "Old", "width": 128, "height": 32, "format": "mono1"}),
        )
        .await;
    let mut c1 = compressed_controller(&p1, "p1", &key_file);
    let mut c2 = super::util::controller(&p2, "p2");

    // Blank frames first: 512 bytes of zeros, a few bytes run-length coded.
    // The first frame may be the one published before the status arrived
    // (BTF1); the next is coded.
    let blank = shown_until(&mut c1, WAIT, "a BTZ1 frame on p1", |s| s.encoding != 0).await;
    assert!(blank.wire_bytes < 40 + 20 + 64, "{blank:?}");
    let old = shown_until(&mut c2, WAIT, "p2's first frame", |_| true).await;
    assert_eq!(old.encoding, 0, "p2 never asked for BTZ1");
    assert_eq!(old.wire_bytes, 32 + 512 + 64);

    let editor = admin.with_roles("lan", &["editor"]).await;
    let approver = admin.with_roles("hung", &["approver"]).await;
    let msg = editor
        .create_message(
            json!({"title": "Tiêm chủng", "text": "Đưa trẻ đi tiêm chủng đầy đủ, đúng lịch"}),
        )
        .await;
    approver.approve(&msg).await;
    let (st, c) = admin
        .post(
            "/campaigns",
            json!({"name": "Cả ngày", "messages": [{"id": msg, "dwell_s": 600}], "targets": ["all"], "start": "2020-01-01", "priority": 1}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let text = shown_until(&mut c1, WAIT, "the message on p1", |s| {
        s.flags & FLAG_BLANK == 0
    })
    .await;
    assert_ne!(text.encoding, 0, "{text:?}");
    assert!(
        text.wire_bytes < old.wire_bytes,
        "text coded in {} bytes, not less than BTF1's {}",
        text.wire_bytes,
        old.wire_bytes
    );
    // Proof of play from the decoded pixels: verified.
    let q = plays_query("p1");
    let row = eventually(WAIT, || async {
        let (_, rows) = admin.get(&q).await;
        rows.as_array()?
            .iter()
            .find(|r| r["seq"] == text.seq)
            .cloned()
    })
    .await
    .expect("p1's ack of the coded frame");
    assert_eq!(row["verified"], true, "{row}");

    // A reboot: a fresh controller holds nothing, so whatever is retained
    // (perhaps a delta) is followed by the frame in full.
    c1.shutdown().await;
    let mut again = compressed_controller(&p1, "p1", &key_file);
    let back = shown_until(&mut again, WAIT, "p1's message after a reboot", |s| {
        s.flags & FLAG_BLANK == 0
    })
    .await;
    assert_eq!(back.encoding & ENC_DELTA, 0, "{back:?}");
    again.shutdown().await;
    c2.shutdown().await;
}

/// The targets, over a whole day of the sample province's schedule (the
/// figures of `cargo bench --bench codec`, docs/PERFORMANCE.md): mono text
/// at least 5× fewer bytes than BTF1, colour text at least 3×, signatures
/// counted.
#[test]
fn the_sample_schedule_meets_the_compression_targets() {
    let panels = super::codec_day::day(24);
    let mut seen = 0;
    for (id, d) in &panels {
        let ratio = d.raw as f64 / d.coded as f64;
        eprintln!(
            "{id} {}: {} frames, {} bytes raw, {} compressed, {ratio:.1}×",
            d.format, d.frames, d.raw, d.coded
        );
        let target = match d.format.as_str() {
            "mono1" => 5.0,
            "rgb565" | "rgb888" => 3.0,
            _ => continue,
        };
        seen += 1;
        assert!(d.frames > 1000, "{id}: {} frames in a day", d.frames);
        assert!(d.largest.is_some(), "{id}: no frame was coded");
        assert!(
            ratio >= target,
            "{id} ({}): {} bytes raw, {} compressed: {ratio:.1}× < {target}×",
            d.format,
            d.raw,
            d.coded
        );
    }
    assert_eq!(seen, 4, "the sample's mono and colour panels");
}
