//! Fleet alarms end to end: a real SMTP server (Python's aiosmtpd, with
//! STARTTLS on a certificate made here, and AUTH) and a webhook receiver
//! that checks the HMAC, both on loopback; reference controllers that are
//! stopped and started again.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use warp::Filter;

use super::util::{
    controller, eventually, free_port, succeeded, try_publish, Api, Server, ADMIN_TOKEN,
};

const SMTP_USER: &str = "canh-bao";
const SMTP_PASSWORD: &str = "mat-khau-thu";
const HOOK_SECRET: &str = "khoa-bi-mat-webhook";

/// An interpreter that has aiosmtpd (tools/test.sh installs Debian's
/// python3-aiosmtpd when it is missing).
fn python_with_aiosmtpd() -> String {
    for candidate in ["python3", "/usr/bin/python3"] {
        let ok = Command::new(candidate)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return candidate.to_string();
        }
    }
    panic!("no Python with aiosmtpd: run tools/test.sh (it installs python3-aiosmtpd) or apt-get install python3-aiosmtpd");
}

/// The SMTP server and the messages it received.
struct Smtp {
    child: Child,
    port: u16,
    cert: PathBuf,
    mails: Arc<Mutex<Vec<Value>>>,
    _dir: tempfile::TempDir,
}

impl Smtp {
    fn start() -> Smtp {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        succeeded(
            Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                ])
                .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
                .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
                .args(["-addext", "basicConstraints=critical,CA:FALSE"])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .output()
                .unwrap(),
        );
        // A port from free_port() can be taken again before Python binds
        // it (another test's outgoing connection): try a few.
        for _ in 0..5 {
            let port = free_port();
            if let Some((child, mails)) = Smtp::spawn(port, &cert, &key) {
                return Smtp {
                    child,
                    port,
                    cert,
                    mails,
                    _dir: dir,
                };
            }
        }
        panic!("the SMTP server did not start on any of 5 free ports");
    }

    /// The SMTP server on `port`, once it says it is ready; `None` if it
    /// exited first.
    fn spawn(
        port: u16,
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> Option<(Child, Arc<Mutex<Vec<Value>>>)> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/alarms_smtp.py");
        let mut child = Command::new(python_with_aiosmtpd())
            .arg(script)
            .arg(port.to_string())
            .arg(cert)
            .arg(key)
            .args([SMTP_USER, SMTP_PASSWORD])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        let sink = mails.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line == "ready" {
                    let _ = ready_tx.send(());
                } else if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        match ready_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(()) => Some((child, mails)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                let _ = child.kill();
                let _ = child.wait();
                None
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                panic!("the SMTP server is not ready after 20 s")
            }
        }
    }

    fn mails(&self) -> Vec<Value> {
        self.mails.lock().unwrap().clone()
    }

    /// The settings' `email` for this server.
    fn settings(&self) -> Value {
        json!({
            "host": "127.0.0.1", "port": self.port, "security": "starttls",
            "username": SMTP_USER, "password": SMTP_PASSWORD,
            "from": "bangtin <canh-bao@so-tttt.example>", "to": ["truc-ban@so-tttt.example"],
            "ca_file": self.cert,
        })
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.child.stdin.take() {
            let _ = stdin.write_all(b"");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A webhook receiver: every request with whether its signature was
/// right; the first `fail_first` requests are answered 500.
#[derive(Clone)]
struct Hook {
    url: String,
    got: Arc<Mutex<Vec<(bool, Value)>>>,
    fail_first: usize,
}

impl Hook {
    async fn start(fail_first: usize) -> Hook {
        let got = Arc::new(Mutex::new(Vec::<(bool, Value)>::new()));
        let sink = got.clone();
        let route = warp::post()
            .and(warp::path("hook"))
            .and(warp::header::optional::<String>("x-bangtin-signature"))
            .and(warp::body::bytes())
            .map(move |sig: Option<String>, body: bytes::Bytes| {
                let mut mac = Hmac::<Sha256>::new_from_slice(HOOK_SECRET.as_bytes()).unwrap();
                mac.update(&body);
                let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
                let signed = sig.as_deref() == Some(want.as_str());
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let mut g = sink.lock().unwrap();
                g.push((signed, v));
                let status = if g.len() <= fail_first {
                    warp::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    warp::http::StatusCode::NO_CONTENT
                };
                warp::reply::with_status("", status)
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(warp::serve(route).incoming(listener).run());
        Hook {
            url,
            got,
            fail_first,
        }
    }

    /// Waits until a notice of `event` has been delivered.
    async fn wait_for(&self, event: &str, within: Duration) {
        settle_until(&format!("{event} webhook"), within, || {
            self.delivered()
                .iter()
                .any(|(e, _)| e == event)
                .then_some(())
        })
        .await
    }

    /// Every request answered 2xx, as (event, panels named).
    fn delivered(&self) -> Vec<(String, Vec<String>)> {
        let g = self.got.lock().unwrap();
        g.iter()
            .skip(self.fail_first)
            .map(|(_, v)| {
                let panels = v["incidents"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|i| i["panel"].as_str().unwrap_or("").to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                (v["event"].as_str().unwrap_or("").to_string(), panels)
            })
            .collect()
    }
}

async fn settle_until<T>(what: &str, within: Duration, f: impl Fn() -> Option<T>) -> T {
    eventually(within, || {
        let r = f();
        async move { r }
    })
    .await
    .unwrap_or_else(|| panic!("no {what} within {within:?}"))
}

/// The first e-mail whose subject contains `part`, once it has come.
async fn mail_titled(smtp: &Smtp, part: &str, within: Duration) -> Value {
    settle_until(&format!("e-mail titled {part:?}"), within, || {
        smtp.mails()
            .into_iter()
            .find(|m| m["subject"].as_str().unwrap_or("").contains(part))
    })
    .await
}

fn subjects(smtp: &Smtp) -> Vec<String> {
    smtp.mails()
        .iter()
        .map(|m| m["subject"].as_str().unwrap_or("").to_string())
        .collect()
}

/// A `digest_at` twelve hours from now (the default, 07:00 in Vietnam, is
/// midnight UTC: a test running then would get a digest it did not ask
/// for).
fn not_for_hours() -> String {
    let later = Utc::now() + chrono::Duration::hours(12);
    later
        .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .format("%H:%M")
        .to_string()
}

async fn online(api: &Api, panel: &str) -> bool {
    api.get(&format!("/panels/{panel}")).await.1["online"] == json!(true)
}

/// `/metrics` counts `n` panels online (the gauge is read at each scrape).
async fn assert_online(server: &Server, n: usize) {
    let metrics = server.metrics().await;
    let line = format!("\nbangtin_panels_online {n}\n");
    assert!(metrics.contains(&line), "{line:?} in {metrics}");
}

/// A controller whose link is cut raises one alarm (one e-mail over
/// STARTTLS with AUTH, one signed webhook, retried after a 500); the link
/// flapping (up for less than the recovery time, down again) is the same
/// incident; once it stays up, one recovery notice. The alarm is
/// acknowledged with who and when; /metrics counts it while it is open,
/// and counts the panel online before the cut, offline during it and
/// online again after.
#[tokio::test]
async fn a_cut_link_alarms_once_and_recovers_once_through_mail_and_webhook() {
    let smtp = Smtp::start();
    let hook = Hook::start(1).await;
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    let url = admin
        .create_panel_with_controller(
            &server,
            json!({"id": "cho-vinh", "name": "Chợ Vinh", "width": 64, "height": 16, "format": "mono1"}),
        )
        .await;
    // Online first: with the 2 s limit set before, a controller slow to
    // connect on a busy machine would raise an alarm before the cut.
    let fleet = controller(&url, "cho-vinh");
    eventually(Duration::from_secs(15), || async {
        online(&admin, "cho-vinh").await.then_some(())
    })
    .await
    .expect("the controller comes online");
    let (st, v) = admin
        .put(
            "/alarms/config",
            json!({
                "offline_after_s": 2, "recover_after_s": 4,
                "digest_at": not_for_hours(),
                "webhook": {"url": hook.url, "secret": HOOK_SECRET},
                "email": smtp.settings(),
            }),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["config"]["webhook"]["secret"],
        Value::Null,
        "never shown: {v}"
    );
    assert_eq!(v["webhook_secret_set"], true);
    assert_eq!(v["email_password_set"], true);
    assert_online(&server, 1).await;

    // The link is cut.
    fleet.shutdown().await;
    let alarm = match eventually(Duration::from_secs(30), || {
        let m = smtp
            .mails()
            .into_iter()
            .find(|m| m["subject"].as_str().unwrap_or("").contains("CẢNH BÁO"));
        async move { m }
    })
    .await
    {
        Some(m) => m,
        None => {
            // Say where it stopped: raised or not, delivered or failed.
            let (_, alarms) = admin.get("/alarms").await;
            let (_, panel) = admin.get("/panels/cho-vinh").await;
            let metrics = server.metrics().await;
            let deliveries: Vec<&str> = metrics
                .lines()
                .filter(|l| l.starts_with("bangtin_alarm"))
                .collect();
            panic!(
                "no alarm e-mail within 30 s; mails {:?}; alarms {alarms}; panel {panel}; {deliveries:#?}",
                subjects(&smtp)
            )
        }
    };
    assert!(
        alarm["subject"].as_str().unwrap().contains("Chợ Vinh"),
        "{alarm}"
    );
    assert!(
        alarm["body"].as_str().unwrap().contains("mất kết nối"),
        "Vietnamese by default: {alarm}"
    );
    assert_eq!(alarm["tls"], true, "STARTTLS: {alarm}");
    assert_eq!(alarm["authenticated"], true, "{alarm}");
    assert_eq!(alarm["to"], json!(["truc-ban@so-tttt.example"]));
    hook.wait_for("alarm", Duration::from_secs(15)).await;
    {
        let got = hook.got.lock().unwrap();
        assert!(
            got.iter().all(|(signed, _)| *signed),
            "every request carries the right HMAC"
        );
        assert_eq!(
            got[0].1["event"], "alarm",
            "the first try was answered 500 …"
        );
        assert_eq!(got[1].1, got[0].1, "… and the same notice was sent again");
    }

    // Open: listed, counted, acknowledged by who and when.
    let (_, list) = admin.get("/alarms").await;
    let open = list["open"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{list}");
    assert_eq!(open[0]["panel"], "cho-vinh");
    assert_eq!(open[0]["kind"], "offline");
    assert_eq!(open[0]["panel_name"], "Chợ Vinh");
    let id = open[0]["id"].as_u64().unwrap();
    let (st, acked) = admin
        .post(&format!("/alarms/{id}/acknowledge"), json!(null))
        .await;
    assert_eq!(st, 200, "{acked}");
    let me = admin.get("/me").await.1;
    assert_eq!(acked["acked_by"], me["name"]);
    assert!(acked["acked_at"].is_string(), "{acked}");
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("bangtin_alarms_open{kind=\"offline\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE bangtin_alarms_raised_total counter"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE bangtin_acks_total counter"),
        "counters are counters: {metrics}"
    );
    assert!(metrics.contains("bangtin_panels_stale 0"), "{metrics}");
    assert!(metrics.contains("\nbangtin_panels_online 0\n"), "{metrics}");

    // Flapping: up briefly, down again, three times.
    for _ in 0..3 {
        let f = controller(&url, "cho-vinh");
        eventually(Duration::from_secs(15), || async {
            online(&admin, "cho-vinh").await.then_some(())
        })
        .await
        .expect("the controller comes online");
        f.shutdown().await;
        eventually(Duration::from_secs(15), || async {
            (!online(&admin, "cho-vinh").await).then_some(())
        })
        .await
        .expect("the controller goes offline");
    }
    // Then it stays up: one recovery notice.
    let _fleet = controller(&url, "cho-vinh");
    mail_titled(&smtp, "Đã khôi phục", Duration::from_secs(30)).await;
    hook.wait_for("recovery", Duration::from_secs(15)).await;
    assert_online(&server, 1).await;
    let (_, list) = admin.get("/alarms").await;
    assert_eq!(list["open"], json!([]), "{list}");
    let closed = list["closed"].as_array().unwrap();
    assert_eq!(
        closed.len(),
        1,
        "one incident for the whole flapping outage: {list}"
    );
    assert!(closed[0]["recovered_at"].is_string());
    let mails = subjects(&smtp);
    assert_eq!(
        mails.len(),
        2,
        "one alarm and one recovery e-mail: {mails:?}"
    );
    let events: Vec<String> = hook.delivered().into_iter().map(|(e, _)| e).collect();
    assert_eq!(
        events,
        ["alarm", "recovery"],
        "{:?}",
        hook.got.lock().unwrap()
    );
}

/// During quiet hours a non-urgent alarm is held (no e-mail, no webhook)
/// while an urgent one goes at once; the daily digest then lists the held
/// one, and only non-urgent incidents.
#[tokio::test]
async fn quiet_hours_hold_non_urgent_alarms_for_the_digest() {
    let smtp = Smtp::start();
    let hook = Hook::start(0).await;
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    for (id, name, groups) in [
        ("tram-y-te", "Trạm y tế", json!(["khan-cap"])),
        ("nha-van-hoa", "Nhà văn hoá", json!([])),
    ] {
        admin
            .create_panel(json!({"id": id, "name": name, "width": 64, "height": 16, "format": "mono1", "groups": groups}))
            .await;
    }
    let local = Utc::now()
        .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .time();
    let hm = |t: chrono::NaiveTime| t.format("%H:%M").to_string();
    let digest_at = local + chrono::Duration::seconds(12);
    let (st, v) = admin
        .put(
            "/alarms/config",
            json!({
                "offline_after_s": 1, "recover_after_s": 2,
                "groups": {"khan-cap": {"urgent": true}},
                "quiet_hours": {
                    "start": hm(local - chrono::Duration::hours(1)),
                    "end": hm(local + chrono::Duration::hours(1)),
                },
                "digest_at": digest_at.format("%H:%M:%S").to_string(),
                "webhook": {"url": hook.url, "secret": HOOK_SECRET},
                "email": smtp.settings(),
            }),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    // Neither controller ever connects.
    let urgent = mail_titled(&smtp, "Trạm y tế", Duration::from_secs(30)).await;
    assert!(
        urgent["subject"].as_str().unwrap().contains("CẢNH BÁO"),
        "{urgent}"
    );
    let digest = mail_titled(&smtp, "Tổng hợp", Duration::from_secs(40)).await;
    let body = digest["body"].as_str().unwrap();
    assert!(body.contains("Nhà văn hoá (nha-van-hoa)"), "{body}");
    assert!(
        !body.contains("tram-y-te"),
        "urgent alarms are not in the digest: {body}"
    );
    let mails = subjects(&smtp);
    assert_eq!(
        mails.len(),
        2,
        "the held alarm had no e-mail of its own: {mails:?}"
    );
    hook.wait_for("digest", Duration::from_secs(15)).await;
    let delivered = hook.delivered();
    assert_eq!(
        delivered,
        [
            ("alarm".to_string(), vec!["tram-y-te".to_string()]),
            ("digest".to_string(), vec!["nha-van-hoa".to_string()]),
        ],
        "{delivered:?}"
    );
    let (_, list) = admin.get("/alarms").await;
    let held: Vec<(&str, bool)> = list["open"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["panel"].as_str().unwrap(), i["held"].as_bool().unwrap()))
        .collect();
    assert!(
        held.contains(&("nha-van-hoa", true)) && held.contains(&("tram-y-te", false)),
        "{held:?}"
    );
}

/// A controller that reports online but never acknowledges the frame it
/// is sent raises the `unconfirmed` alarm (not `offline`) and counts as
/// stale on /metrics.
#[tokio::test]
async fn a_controller_that_never_confirms_its_frame_raises_unconfirmed() {
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    let url = admin
        .create_panel_with_controller(
            &server,
            json!({"id": "xa-nghi-phu", "name": "UBND xã Nghi Phú", "width": 64, "height": 16, "format": "mono1"}),
        )
        .await;
    let (st, v) = admin
        .put(
            "/alarms/config",
            json!({"unconfirmed_after_s": 1, "recover_after_s": 60}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    // Says it is online (retained, no Last Will), then says nothing more.
    try_publish(
        &url,
        "xa-nghi-phu",
        "bangtin/panels/xa-nghi-phu/status",
        true,
        br#"{"online":true}"#.to_vec(),
    )
    .await
    .expect("the status is published");
    let open = eventually(Duration::from_secs(20), || async {
        let (_, l) = admin.get("/alarms").await;
        let open = l["open"].as_array().cloned().unwrap_or_default();
        (!open.is_empty()).then_some(open)
    })
    .await
    .expect("an alarm for the silent controller");
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["kind"], "unconfirmed", "{open:?}");
    assert!(
        online(&admin, "xa-nghi-phu").await,
        "it is online all along"
    );
    let metrics = server.metrics().await;
    assert!(metrics.contains("bangtin_panels_stale 1"), "{metrics}");
    assert!(
        metrics.contains("bangtin_alarms_open{kind=\"unconfirmed\"} 1"),
        "{metrics}"
    );
}
