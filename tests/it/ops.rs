//! Operating the server: the CLI, broken files at start, hand edits of
//! content/ and schedules/ applied live.

use std::process::Command;
use std::time::Duration;

use serde_json::json;

use super::util::{eventually, request_in_flight, succeeded, Api, Server, ServerOpts, ADMIN_TOKEN};

#[tokio::test]
async fn token_add_prints_a_working_token_once() {
    let server = Server::start();
    let out = succeeded(
        Command::new(env!("CARGO_BIN_EXE_bangtin"))
            .args([
                "token",
                "add",
                "--name",
                "lan",
                "--roles",
                "editor,approver",
                "--data",
            ])
            .arg(&server.data)
            .output()
            .unwrap(),
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("bt_"), "{token}");
    // The running server picks the new token up from the file.
    let api = Api::new(&server, Some(&token));
    // (Polled slowly: wrong tokens are rate-limited per address.)
    let mut me = None;
    for _ in 0..12 {
        let (st, v) = api.get("/me").await;
        if st == 200 {
            me = Some(v);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let me = me.expect("the new token works on the running server");
    assert_eq!(me["roles"], json!(["editor", "approver"]));
    let bad = cli(Some("en_US.UTF-8"))
        .args(["token", "add", "--name", "x", "--roles", "king", "--data"])
        .arg(&server.data)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown role"));
}

/// content/ is watched like schedules/: a hand edit of a panel applies
/// live; a panel file broken by hand is reported in `/status` (file, line,
/// column), its last good version stays, and a PUT does not overwrite it
/// (409 naming the file). After a restart with the file still broken the
/// server starts, reports it and serves the other panels; fixing the file
/// applies live. (A broken file used to stop the start, so every sign went
/// dark at its frames' expiry, and content/ was read only at start.)
#[tokio::test]
async fn a_broken_content_file_is_reported_and_never_darkens_the_rest() {
    let mut server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    for id in ["p1", "p2"] {
        admin
            .create_panel(
                json!({"id": id, "name": "Bảng", "width": 64, "height": 16, "format": "mono1"}),
            )
            .await;
    }
    let path = server.data.join("content/panels/p1.json");
    let good = std::fs::read(&path).unwrap();
    let mut edited: serde_json::Value = serde_json::from_slice(&good).unwrap();
    edited["name"] = json!("Sửa tay");
    std::fs::write(&path, serde_json::to_vec_pretty(&edited).unwrap()).unwrap();
    let name = |admin: Api| async move { admin.get("/panels/p1").await.1["name"].clone() };
    let applied = eventually(Duration::from_secs(6), || async {
        (name(admin.clone()).await == "Sửa tay").then_some(())
    })
    .await;
    assert!(applied.is_some(), "a hand edit of content/ applies live");
    let broken = "{\n  \"id\": \"p1\",\n  \"name\": \"x\"\n  \"width\": 1\n}\n";
    std::fs::write(&path, broken).unwrap();
    let problem = |admin: Api| async move {
        let (_, v) = admin.get("/status").await;
        v["problems"]
            .as_array()?
            .iter()
            .find(|p| p["file"] == "content/panels/p1.json")
            .cloned()
    };
    let reported = eventually(Duration::from_secs(6), || problem(admin.clone()))
        .await
        .expect("the broken file is reported");
    assert_eq!(reported["line"], 4, "{reported}");
    assert!(reported["column"].is_u64(), "{reported}");
    assert_eq!(
        name(admin.clone()).await,
        "Sửa tay",
        "the last good version stays"
    );
    let (st, v) = admin.put("/panels/p1", edited.clone()).await;
    assert_eq!(st, 409, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("content/panels/p1.json"),
        "{v}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        broken,
        "not overwritten"
    );

    server.restart();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    assert!(
        problem(admin.clone()).await.is_some(),
        "reported after a restart"
    );
    let (_, panels) = admin.get("/panels").await;
    assert_eq!(
        panels.as_array().unwrap().len(),
        1,
        "the other panel is served: {panels}"
    );
    std::fs::write(&path, &good).unwrap();
    let fixed = eventually(Duration::from_secs(6), || async {
        let gone = problem(admin.clone()).await.is_none();
        (gone && admin.get("/panels/p1").await.0 == 200).then_some(())
    })
    .await;
    assert!(fixed.is_some(), "the fixed file applies live");
}

/// The binary, its language chosen by `LANG` alone (`None`: unset).
fn cli(lang: Option<&str>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bangtin"));
    c.env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("BANGTIN_LANG");
    match lang {
        Some(l) => c.env("LANG", l),
        None => c.env_remove("LANG"),
    };
    c
}

/// A bad flag is refused with a sentence, in Vietnamese unless the
/// locale is English.
#[test]
fn bad_configuration_is_refused_with_a_sentence() {
    let refused = |args: &[&str], lang: Option<&str>| {
        let out = cli(lang).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} is refused");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let vi = refused(&["--http", "not-an-address"], None);
    assert!(vi.contains("Lỗi:") && vi.contains("IP:CỔNG"), "{vi}");
    let en = refused(&["--http", "not-an-address"], Some("en_US.UTF-8"));
    assert!(en.contains("Error:") && en.contains("IP:PORT"), "{en}");
    for (args, vi_part) in [
        (&["--tz", "Asia/Hanoi_x"][..], "múi giờ"),
        (&["--mqtt", "http://broker"][..], "mqtt://"),
        (&["--topic-root", "a/+/b"][..], "Gốc chủ đề"),
        (&["--memory-budget", "1K"][..], "dung lượng"),
    ] {
        let said = refused(args, Some("C.UTF-8"));
        assert!(said.contains(vi_part), "{args:?}: {said}");
    }
}

#[tokio::test]
async fn hand_edited_schedules_apply_live_and_broken_ones_keep_the_last_good() {
    let server = Server::start_with(ServerOpts {
        sample_data: true,
        ..Default::default()
    });
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    let path = server.data.join("schedules/mua-bao-ven-bien.json");
    let mut c: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    c["priority"] = json!(42);
    std::fs::write(&path, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    let applied = eventually(Duration::from_secs(6), || async {
        let (_, v) = admin.get("/campaigns/mua-bao-ven-bien").await;
        (v["priority"] == 42).then_some(())
    })
    .await;
    assert!(
        applied.is_some(),
        "a hand edit is applied within a few seconds"
    );
    std::fs::write(&path, "{ \"name\": \"oops\", ").unwrap();
    let reported = eventually(Duration::from_secs(6), || async {
        let (_, v) = admin.get("/status").await;
        let p = v["problems"].as_array()?.first()?.clone();
        p["path"]
            .as_str()?
            .ends_with("mua-bao-ven-bien.json")
            .then_some(p)
    })
    .await
    .expect("the broken file is reported");
    assert!(
        reported["message"].as_str().unwrap().contains("line 1"),
        "{reported}"
    );
    let (_, v) = admin.get("/campaigns/mua-bao-ven-bien").await;
    assert_eq!(v["priority"], 42, "last good version kept");
    // And the API refuses to overwrite the hand-broken file.
    let mut body = c.clone();
    body.as_object_mut().unwrap().remove("id");
    body.as_object_mut().unwrap().remove("updated_by");
    body.as_object_mut().unwrap().remove("updated_at");
    let (st, v) = admin.put("/campaigns/mua-bao-ven-bien", body).await;
    assert_eq!(st, 409, "{v}");
    assert!(std::fs::read_to_string(&path).unwrap().contains("oops"));
}

/// SIGTERM with a dashboard's event stream open: the stream ends, the
/// server exits 0 promptly.
#[tokio::test]
async fn sigterm_exits_cleanly_even_with_an_event_stream_open() {
    let mut server = Server::start_with(ServerOpts {
        sample_data: true,
        ..Default::default()
    });
    let api = Api::new(&server, Some(ADMIN_TOKEN));
    let mut stream = api
        .req(reqwest::Method::GET, "/events")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let first = stream.chunk().await.unwrap().unwrap();
    assert!(
        String::from_utf8_lossy(&first).contains("event:panel")
            || String::from_utf8_lossy(&first).contains("event: panel")
    );
    let started = std::time::Instant::now();
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
}

/// A client that stalls in the middle of an upload (a bad 4G link) does
/// not hold the server's exit: after SIGTERM in-flight requests get
/// `SHUTDOWN_GRACE` (10 s), then the server stops without them, still
/// telling the broker it is offline and exiting 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_does_not_wait_forever_for_a_stalled_upload() {
    use std::io::Write;
    let server = Server::start();
    let mut tcp = request_in_flight(
        server.http_port,
        &format!(
            "POST /api/v1/assets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
             Content-Type: image/png\r\nContent-Length: 100000"
        ),
    );
    // The server is reading the body: send its first bytes, then stall.
    tcp.write_all(&[0x89, b'P', b'N', b'G']).unwrap();
    tcp.flush().unwrap();
    let started = std::time::Instant::now();
    let mut server = server;
    let status = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || server.terminate()),
    )
    .await
    .expect("the server did not exit within 30 s of SIGTERM")
    .unwrap();
    let took = started.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(20),
        "exit {took:?} after SIGTERM: expected the 10 s grace for the stalled upload, then the exit"
    );
    drop(tcp);
}
