//! The dashboard in a real browser: headless Chromium driven by chromedriver
//! over the W3C WebDriver JSON protocol (plain HTTP through `reqwest`),
//! against a real `bangtin serve`.
//!
//! The story: an editor writes a Vietnamese message and sees its preview,
//! a second person approves it, a scheduler puts it on a panel for the day
//! (all-day campaign), and the panel wall shows that panel's new frame. Then
//! the message is edited behind the wall's back and the open wall follows
//! live (server-sent events).
//!
//! Chromium and chromedriver are required: without them this test fails and
//! says how to install them; it never passes silently.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::util::{free_port, Api, Server, ADMIN_TOKEN};

const INSTALL_HINT: &str =
    "the dashboard browser test needs Chromium and chromedriver: run `apt-get install -y chromium chromium-driver` (CI installs them)";

/// W3C name of the key under which an element reference travels.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn chromedriver_path() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMEDRIVER") {
        return PathBuf::from(p);
    }
    which("chromedriver")
        .unwrap_or_else(|| panic!("chromedriver not found on PATH: {INSTALL_HINT}"))
}

fn chromium_path() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROME_BIN") {
        return PathBuf::from(p);
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|n| which(n))
        .unwrap_or_else(|| panic!("Chromium not found on PATH: {INSTALL_HINT}"))
}

/// A chromedriver process in its own process group, so that dropping it
/// also ends the browsers it started.
struct Chromedriver {
    child: Child,
    base: String,
}

impl Chromedriver {
    async fn start(http: &reqwest::Client) -> Chromedriver {
        let bin = chromedriver_path();
        let port = free_port();
        let child = Command::new(&bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; {INSTALL_HINT}", bin.display()));
        let d = Chromedriver {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{}/status", d.base)).send().await {
                if r.status().is_success() {
                    return d;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {}",
                d.base
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // SIGTERM lets chromedriver close the browsers it started; then make
        // sure. Only this pid is signalled: never a process group, since a
        // `kill` that misreads a negative pid signals every process (-1).
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").arg("-TERM").arg(&pid).status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session.
struct Browser {
    http: reqwest::Client,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn open(http: &reqwest::Client, driver: &Chromedriver) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            // No name lookups at all: Chromium otherwise resolves Google
            // hosts (component updates, variations) at start, and this
            // machine's network is loopback only.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--disable-extensions",
            "--disable-default-apps",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--disable-breakpad",
            "--no-pings",
            "--no-default-browser-check",
            "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
            "--window-size=1400,1000",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"binary": chromium_path(), "args": args}
        }}});
        let r = http
            .post(format!("{}/session", driver.base))
            .json(&caps)
            .send()
            .await
            .expect("new session request");
        let v: Value = r.json().await.expect("new session reply");
        let id = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver refused a session: {v}; {INSTALL_HINT}"))
            .to_string();
        Browser {
            http: http.clone(),
            session: format!("{}/session/{id}", driver.base),
            _profile: profile,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut b = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            b = b.json(&body);
        }
        let r = b.send().await.expect("webdriver request");
        let status = r.status();
        let v: Value = r.json().await.expect("webdriver reply");
        assert!(status.is_success(), "webdriver {path}: {status} {v}");
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn js(&self, script: &str, args: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    async fn find(&self, css: &str) -> String {
        self.wait_js(&format!("return !!document.querySelector({css:?})"), css)
            .await;
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT].as_str().expect("element id").to_string()
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Types into a field the way a person does (key events, one by one).
    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/clear"),
            Some(json!({})),
        )
        .await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        )
        .await;
        let got = self
            .js("return arguments[0].value", json!([{ ELEMENT: el }]))
            .await;
        assert_eq!(got.as_str(), Some(text), "typing into {css}");
    }

    /// Chooses a file in an `<input type=file>` (as the file dialog would).
    async fn choose_file(&self, css: &str, path: &std::path::Path) {
        let el = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({ "text": path.to_str().expect("utf-8 path") })),
        )
        .await;
    }

    /// Polls `script` (a function body) until it returns something truthy.
    async fn wait_js(&self, script: &str, what: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.js(script, json!([])).await;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let page = self
                    .js(
                        "return location.hash + '\\n' + document.body.innerText.slice(0, 3000)",
                        json!([]),
                    )
                    .await;
                let shot = self.screenshot("dashboard-failure.png").await;
                panic!(
                    "timed out waiting for {what}\nscreenshot: {}\npage:\n{}",
                    shot.display(),
                    page.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    async fn screenshot(&self, name: &str) -> PathBuf {
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64_decode(v.as_str().unwrap_or_default());
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let path = dir.join(name);
        let _ = std::fs::write(&path, png);
        path
    }

    /// Sizes the window so that the page itself (the viewport) is
    /// `width`×`height`: headless Chromium still keeps room for its
    /// toolbars, so the window is made that much taller.
    async fn viewport(&self, width: u32, height: u32) {
        let toolbars = self
            .js("return window.outerHeight - window.innerHeight", json!([]))
            .await
            .as_u64()
            .expect("a height");
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height as u64 + toolbars})),
        )
        .await;
        self.wait_js(
            &format!("return window.innerWidth === {width} && window.innerHeight === {height}"),
            &format!("a {width}×{height} viewport"),
        )
        .await;
    }

    /// What went wrong in the page since the last call, from the browser's
    /// log: uncaught exceptions, `console.error`, and files that did not
    /// load (a module among them). API answers are left out: a panel with
    /// no frame yet answers 404, and the page shows that as it should.
    async fn page_errors(&self) -> Vec<String> {
        let log = self
            .cmd(
                reqwest::Method::POST,
                "/se/log",
                Some(json!({"type": "browser"})),
            )
            .await;
        log.as_array()
            .expect("log entries")
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .filter(|e| {
                !(e["source"] == "network"
                    && e["message"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("/api/v1/"))
            })
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The error messages the page shows: error toasts (a request or a
    /// page's code that failed) and error boxes (a page that did not load).
    async fn shown_errors(&self) -> Vec<String> {
        let v = self
            .js(
                "return [...document.querySelectorAll('.toast-error, .error-box')].map((e) => e.textContent)",
                json!([]),
            )
            .await;
        serde_json::from_value(v).expect("a list of strings")
    }

    async fn sign_in(&self, base: &str, token: &str, name: &str) {
        // A fresh document: reload the app, then the sign-in form.
        self.goto(&format!("{base}/?signin")).await;
        self.js(
            "sessionStorage.clear(); location.hash = ''; return true",
            json!([]),
        )
        .await;
        self.goto(&format!("{base}/")).await;
        self.type_into("#token", token).await;
        self.click(".signin-card button[type=submit]").await;
        self.wait_js(
            &format!(
                "const e = document.querySelector('[data-testid=me]'); return e && e.textContent === {name:?}"
            ),
            &format!("signed in as {name}"),
        )
        .await;
    }

    async fn sign_out(&self) {
        self.click("#signout").await;
        self.wait_js("return !!document.querySelector('#token')", "sign-in form")
            .await;
    }

    async fn route(&self, hash: &str) {
        self.js(&format!("location.hash = {hash:?}; return true"), json!([]))
            .await;
    }

    async fn quit(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

/// Screenshots come back base64-encoded; a small decoder keeps us off new crates.
fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in s.bytes().filter_map(val) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_story_in_a_real_browser() {
    // Fail loudly, before starting anything, when the browser is missing.
    let _ = chromedriver_path();
    let _ = chromium_path();

    let server = Server::start();
    let base = server.base.clone();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    admin
        .create_panel(
            json!({"id": "cho-dong-ba", "name": "Chợ Đông Ba", "width": 128, "height": 32,
                   "format": "mono1", "groups": ["phu-hoa"], "color": "#ff2000"}),
        )
        .await;
    let editor = admin.with_roles("bien-tap-vien", &["editor"]).await;
    let approver = admin.with_roles("nguoi-duyet", &["approver"]).await;
    let scheduler = admin.with_roles("lap-lich", &["scheduler"]).await;
    let token = |a: &Api| a.token.clone().unwrap();

    let http = reqwest::Client::new();
    let driver = Chromedriver::start(&http).await;
    let b = Browser::open(&http, &driver).await;

    // 1. The editor writes a Vietnamese message and sees it rendered.
    b.sign_in(&base, &token(&editor), "bien-tap-vien").await;
    b.route("#/messages/new").await;
    let text = "Tiêm chủng miễn phí cho trẻ em dưới 5 tuổi tại trạm y tế phường.";
    b.type_into("input[name=title]", "Tiêm chủng mở rộng").await;
    b.type_into("#msg-text", text).await;
    b.wait_js(
        "const i = document.querySelector('.preview img.preview-img'); \
         return i && i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0",
        "the live preview image",
    )
    .await;
    // A picture too, through the file picker: uploaded, shown as a
    // thumbnail, and drawn into the preview.
    let photo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "content/assets/1670e596e599b6119e66ba944f2211431117f9a34600c7f09271f579f9be3714.png",
    );
    let before_upload = b
        .js(
            "return document.querySelector('.preview img.preview-img').src",
            json!([]),
        )
        .await;
    b.choose_file("#image-file", &photo).await;
    b.wait_js(
        "const i = document.querySelector('.image-set .thumb img'); return i && i.naturalWidth > 0",
        "the uploaded picture's thumbnail",
    )
    .await;
    b.wait_js(
        &format!(
            "const i = document.querySelector('.preview img.preview-img'); \
             return i && i.src !== {before_upload} && i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0"
        ),
        "the preview redrawn with the picture",
    )
    .await;
    b.screenshot("dashboard-composer-picture.png").await;
    let pages = b
        .wait_js(
            "const p = document.querySelector('.preview .page-no'); return p && p.textContent",
            "the page counter",
        )
        .await;
    assert!(
        pages.as_str().unwrap().contains('/'),
        "page counter: {pages}"
    );
    b.click("#save-message").await;
    let hash = b
        .wait_js(
            "return /^#\\/messages\\/(?!new)[^/]+$/.test(location.hash) && location.hash",
            "the saved message page",
        )
        .await;
    let msg_id = hash
        .as_str()
        .unwrap()
        .trim_start_matches("#/messages/")
        .to_string();
    let (s, m) = editor.get(&format!("/messages/{msg_id}")).await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["text"], text, "the server keeps the text as typed");
    assert_eq!(
        m["image"], "1670e596e599b6119e66ba944f2211431117f9a34600c7f09271f579f9be3714",
        "the picture chosen in the browser is the message's image (by its SHA-256)"
    );
    assert_eq!(m["status"], "draft");
    // The saved version renders for the real panel too.
    b.wait_js(
        "const i = [...document.querySelectorAll('.preview-card img.preview-img')].pop(); \
         return i && i.src.startsWith('blob:') && i.naturalWidth > 0",
        "the saved preview for panel cho-dong-ba",
    )
    .await;
    b.sign_out().await;

    // 2. Someone else approves it (four-eyes).
    b.sign_in(&base, &token(&approver), "nguoi-duyet").await;
    b.route(&format!("#/messages/{msg_id}")).await;
    b.click(".form-actions [data-action=approve]:not([disabled])")
        .await;
    b.wait_js(
        "return !!document.querySelector('.meta-box .badge-ok')",
        "the approved badge",
    )
    .await;
    let (_, m) = approver.get(&format!("/messages/{msg_id}")).await;
    assert_eq!(m["status"], "approved");
    assert_eq!(m["approved_by"], "nguoi-duyet");
    b.sign_out().await;

    // 3. The scheduler puts it on the panel for the day.
    b.sign_in(&base, &token(&scheduler), "lap-lich").await;
    b.route("#/wall").await;
    let before = b
        .wait_js(
            "const t = document.querySelector('[data-panel=\"cho-dong-ba\"]'); return t && {seq: t.dataset.seq, message: t.dataset.message}",
            "the panel's tile",
        )
        .await;
    assert_eq!(before["message"], "", "nothing scheduled yet: {before}");
    b.route("#/campaigns/new").await;
    b.type_into(".page form .field input[type=text]", "Tuần lễ tiêm chủng")
        .await;
    b.click("#add-item").await;
    b.click(&format!(".playlist select option[value=\"{msg_id}\"]"))
        .await;
    b.click("input[type=checkbox][value=\"cho-dong-ba\"]").await;
    // All-day is the default timing, from today to a week ahead.
    b.click("#save-campaign").await;
    b.wait_js(
        "return /^#\\/campaigns\\/(?!new)[^/]+$/.test(location.hash)",
        "the saved campaign page",
    )
    .await;
    let (_, campaigns) = scheduler.get("/campaigns").await;
    let c = &campaigns.as_array().unwrap()[0];
    assert_eq!(c["targets"], json!(["cho-dong-ba"]));
    assert!(
        c["start"].is_string() && c["cron"].is_null(),
        "all-day campaign: {c}"
    );

    // 4. The panel wall shows the message on that panel.
    b.route("#/wall").await;
    b.wait_js(
        &format!(
            "const t = document.querySelector('[data-panel=\"cho-dong-ba\"]'); \
             const i = t && t.querySelector('.screen img'); \
             return t && t.dataset.message === {msg_id:?} && t.dataset.seq !== {:?} \
               && i && i.naturalWidth > 0 && t.querySelector('.now-message').textContent === 'Tiêm chủng mở rộng'",
            before["seq"].as_str().unwrap_or_default()
        ),
        "the tile to show the scheduled message",
    )
    .await;
    let shown = b
        .js(
            "return document.querySelector('[data-panel=\"cho-dong-ba\"]').dataset.seq",
            json!([]),
        )
        .await;

    // 5. Live: the editor changes the message (back to draft), and the open
    //    wall follows without a reload.
    let (s, v) = editor
        .put(
            &format!("/messages/{msg_id}"),
            json!({"title": "Tiêm chủng mở rộng", "text": "Lịch tiêm đã thay đổi."}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    b.wait_js(
        &format!(
            "const t = document.querySelector('[data-panel=\"cho-dong-ba\"]'); \
             return t && t.dataset.seq !== {:?} && t.dataset.message === ''",
            shown.as_str().unwrap_or_default()
        ),
        "the tile to follow the server-sent event",
    )
    .await;
    b.screenshot("dashboard-wall.png").await;
    b.quit().await;
}

/// Every page of the dashboard once, as an admin, at a desktop and a phone
/// size: each must show its heading and its own content with nothing going
/// wrong in the page (no module that failed to load, no uncaught error, no
/// `console.error`). A screenshot of each lands in the test's temporary
/// folder (`dashboard-pages/`), for looking at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_loads_in_a_real_browser() {
    let _ = chromedriver_path();
    let _ = chromium_path();

    let server = Server::start();
    let base = server.base.clone();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    for panel in [
        json!({"id": "cho-dong-ba", "name": "Chợ Đông Ba", "width": 128, "height": 32,
               "format": "mono1", "groups": ["phu-hoa"], "color": "#ff2000"}),
        json!({"id": "ubnd-hai-chau", "name": "UBND Hải Châu", "width": 192, "height": 64,
               "format": "rgb565", "groups": ["hai-chau"]}),
    ] {
        admin.create_panel(panel).await;
    }
    let approver = admin.with_roles("nguoi-duyet", &["approver"]).await;
    let (s, m) = admin
        .post(
            "/messages",
            json!({"title": "Dịch vụ công trực tuyến", "text": "Nộp hồ sơ tại dichvucong.gov.vn"}),
        )
        .await;
    assert_eq!(s, 201, "{m}");
    let msg_id = m["id"].as_str().unwrap().to_string();
    let (s, v) = approver
        .post(&format!("/messages/{msg_id}/approve"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, c) = admin
        .post(
            "/campaigns",
            json!({"name": "Chuyển đổi số", "messages": [{"id": msg_id, "dwell_s": 10}],
                   "targets": ["all"], "start": "2020-01-01", "priority": 1}),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    let camp_id = c["id"].as_str().unwrap().to_string();
    let (s, a) = admin
        .post(
            "/alerts",
            json!({"text": "Triều cường: tránh đường ven sông", "targets": ["group:hai-chau"], "duration_s": 3600}),
        )
        .await;
    assert_eq!(s, 201, "{a}");

    // (name, route, heading, what shows that the page's own part rendered)
    let pages = [
        ("wall", "#/wall".to_string(), "Giám sát bảng",
         r#"[data-panel="cho-dong-ba"] .screen img, [data-panel="cho-dong-ba"] .screen-empty:not(.screen-loading)"#.to_string()),
        ("messages", "#/messages".into(), "Tin bài", format!(r#"tr[data-message="{msg_id}"]"#)),
        ("compose-new", "#/messages/new".into(), "Soạn tin mới", "#msg-text".into()),
        ("message", format!("#/messages/{msg_id}"), "Sửa tin", ".meta-box .badge-ok".into()),
        ("campaigns", "#/campaigns".into(), "Lịch phát", r#".timeline .tl-row[data-panel="cho-dong-ba"]"#.into()),
        ("campaign-new", "#/campaigns/new".into(), "Tạo lịch phát", "#save-campaign".into()),
        ("campaign", format!("#/campaigns/{camp_id}"), "Sửa lịch phát", r#".timeline .tl-row[data-panel="ubnd-hai-chau"]"#.into()),
        ("alerts", "#/alerts".into(), "Cảnh báo khẩn cấp", ".alert-item[data-alert]".into()),
        ("reports", "#/reports".into(), "Báo cáo phát", ".page section.card + section.card".into()),
        ("admin-panels", "#/admin/panels".into(), "Quản trị", r#"tr[data-panel="ubnd-hai-chau"]"#.into()),
        ("admin-tokens", "#/admin/tokens".into(), "Quản trị", ".two-col table code".into()),
        ("admin-audit", "#/admin/audit".into(), "Quản trị", ".table-dense tbody".into()),
    ];

    let http = reqwest::Client::new();
    let driver = Chromedriver::start(&http).await;
    let b = Browser::open(&http, &driver).await;
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-pages");
    std::fs::create_dir_all(&shots).unwrap();
    for (width, height) in [(1440, 900), (390, 844)] {
        b.goto(&format!("{base}/?signin")).await;
        b.js("sessionStorage.clear(); return true", json!([])).await;
        b.viewport(width, height).await;
        b.goto(&format!("{base}/")).await;
        // Loaded means every module was fetched and run (module scripts run
        // before the load event), so a module that failed is in the log now.
        let errors = b.page_errors().await;
        assert!(
            errors.is_empty(),
            "the sign-in page at {width}×{height}: {errors:#?}"
        );
        b.find("#token").await;
        b.screenshot(&format!("dashboard-pages/{width}x{height}-signin.png"))
            .await;
        b.sign_in(&base, ADMIN_TOKEN, "admin").await;
        for (name, hash, heading, ready) in &pages {
            b.route(hash).await;
            b.wait_js(
                &format!(
                    "const h = document.querySelector('main .page h1'); \
                     return !!h && h.textContent === {heading:?} && !!document.querySelector({ready:?})"
                ),
                &format!("the {name} page ({hash}) at {width}×{height}"),
            )
            .await;
            let mut errors = b.page_errors().await;
            errors.extend(b.shown_errors().await);
            assert!(
                errors.is_empty(),
                "the {name} page ({hash}) at {width}×{height}: {errors:#?}"
            );
            b.screenshot(&format!("dashboard-pages/{width}x{height}-{name}.png"))
                .await;
        }
    }

    // The language switch redraws the shell and the open page.
    let heading = |text: &str| {
        format!("const h = document.querySelector('main .page h1'); return !!h && h.textContent === {text:?}")
    };
    b.click(".topbar button[lang=en]").await;
    b.wait_js(&heading("Administration"), "the page in English")
        .await;
    b.click(".topbar button[lang=vi]").await;
    b.wait_js(&heading("Quản trị"), "the page in Vietnamese again")
        .await;
    let mut errors = b.page_errors().await;
    errors.extend(b.shown_errors().await);
    assert!(errors.is_empty(), "switching language: {errors:#?}");

    // A token revoked while its holder works: the next request signs them
    // out and says why.
    b.sign_out().await;
    b.sign_in(&base, approver.token.as_deref().unwrap(), "nguoi-duyet")
        .await;
    let (s, v) = admin.delete("/tokens/nguoi-duyet").await;
    assert_eq!(s, 204, "{v}");
    b.route("#/messages").await;
    b.wait_js(
        "return !!document.querySelector('#token') && [...document.querySelectorAll('.toast-error')]\
           .some((t) => t.textContent.includes('Phiên làm việc đã hết'))",
        "the sign-in form and the reason after the token was revoked",
    )
    .await;
    let errors = b.page_errors().await;
    assert!(
        errors.is_empty(),
        "after the token was revoked: {errors:#?}"
    );
    b.quit().await;
}

/// The dashboard's files over HTTP: each module with a JavaScript type, all
/// of them revalidated on every load (`no-cache` with an ETag) so that an
/// upgraded server is never hidden behind a stale copy, and a matching
/// `If-None-Match` answered with an empty 304.
#[tokio::test]
async fn dashboard_files_are_served_with_their_types_and_revalidated() {
    let server = Server::start();
    let http = reqwest::Client::new();
    let get = |path: &str, etag: Option<&str>| {
        let mut r = http.get(server.url(path));
        if let Some(etag) = etag {
            r = r.header("if-none-match", etag);
        }
        r.send()
    };
    for (path, ty) in [
        ("/", "text/html; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/lib/api.js", "text/javascript; charset=utf-8"),
        ("/pages/wall.js", "text/javascript; charset=utf-8"),
        ("/app.css", "text/css; charset=utf-8"),
    ] {
        let r = get(path, None).await.expect("GET");
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers().clone();
        assert_eq!(h["content-type"], ty, "{path}");
        assert_eq!(h["cache-control"], "no-cache", "{path}");
        let etag = h["etag"].to_str().unwrap().to_string();
        assert!(
            etag.starts_with('"') && etag.len() > 10,
            "{path}: etag {etag}"
        );
        assert!(!r.bytes().await.unwrap().is_empty(), "{path}");
        let again = get(path, Some(&etag)).await.expect("GET again");
        assert_eq!(again.status(), 304, "{path} with its own ETag");
        assert_eq!(again.headers()["etag"], etag.as_str());
        assert!(again.bytes().await.unwrap().is_empty());
        let other = get(path, Some("\"an-older-version\"")).await.expect("GET");
        assert_eq!(other.status(), 200, "{path} with another ETag");
    }
    let index = get("/", None).await.unwrap().text().await.unwrap();
    assert!(index.contains(r#"<script type="module" src="/app.js">"#));
    for missing in ["/lib/nothing.js", "/screenshots/compose.png", "/lib/"] {
        let r = get(missing, None).await.unwrap();
        assert_eq!(r.status(), 404, "{missing}");
    }
}
