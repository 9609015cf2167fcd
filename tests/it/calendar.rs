//! Districts over a real event stream, and the calendar: a district's
//! live wall hears only its own panels.

use std::time::Duration;

use serde_json::json;

use super::util::{Api, Server, ADMIN_TOKEN};

/// Reads an event stream until `done` holds for what it has read, for at
/// most 15 seconds; returns everything read.
async fn read_until(
    stream: &mut reqwest::Response,
    seen: &mut String,
    done: impl Fn(&str) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !done(seen) {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("the stream did not say it in time; it said:\n{seen}"))
            .expect("the stream reads")
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// A district editor's `/events` carries the district's panels only, at
/// connect and after; the province's stream carries both. Before, every
/// panel's events went to everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_event_stream_carries_only_the_district() {
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    for (id, group) in [("vinh-1", "vinh"), ("cua-lo-1", "cua-lo")] {
        admin
            .create_panel(json!({"id": id, "name": format!("Bảng {id}"), "width": 64,
                "height": 16, "format": "mono1", "groups": [group]}))
            .await;
    }
    let (st, t) = admin
        .post(
            "/tokens",
            json!({"name": "tuong-cua-lo", "roles": ["editor"], "scope": ["cua-lo"]}),
        )
        .await;
    assert_eq!(st, 201, "{t}");
    let district = Api::new(&server, t["token"].as_str());
    let open = |api: &Api| api.req(reqwest::Method::GET, "/events").send();
    let (mut mine, mut all) = (open(&district).await.unwrap(), open(&admin).await.unwrap());
    assert_eq!((mine.status().as_u16(), all.status().as_u16()), (200, 200));
    let (mut heard, mut heard_all) = (String::new(), String::new());
    read_until(&mut mine, &mut heard, |s| s.contains(r#""id":"cua-lo-1""#)).await;
    // Alerts make both panels show something new: vinh-1 first.
    let alert = |group: &str| json!({"text": "Bão số 3", "targets": [format!("group:{group}")], "duration_s": 600});
    let vinh = admin.send_alert(alert("vinh")).await;
    let cua_lo = admin.send_alert(alert("cua-lo")).await;
    read_until(&mut all, &mut heard_all, |s| {
        s.contains(&format!(r#""alert":"{vinh}""#)) && s.contains(&format!(r#""alert":"{cua_lo}""#))
    })
    .await;
    read_until(&mut mine, &mut heard, |s| {
        s.contains(&format!(r#""alert":"{cua_lo}""#))
    })
    .await;
    assert!(heard_all.contains(r#""id":"vinh-1""#), "{heard_all}");
    assert!(
        !heard.contains("vinh-1") && !heard.contains(&vinh),
        "another district's panel in the district's stream:\n{heard}"
    );
}
