//! Staff accounts in a real browser over real HTTP (headless Chromium, as
//! in `dashboard`): a district editor signs in with a password, must
//! first choose their own, sees only the district's panels, writes a
//! message; the provincial approver signs in with a password and approves
//! it; a cookie that was signed out stays refused. Screenshots at
//! 1440×900 and 390×844 go to the target's tmp directory
//! (`accounts-*.png`).

use serde_json::{json, Value};

use super::dashboard::{browser_at, Browser};
use super::util::{Api, Server, ServerOpts, ADMIN_TOKEN};

fn panel_in(id: &str, name: &str, group: &str) -> Value {
    json!({"id": id, "name": name, "width": 128, "height": 32, "format": "mono1",
           "groups": [group], "color": "#ff2000"})
}

/// A panel in Cửa Lò and one in Vinh.
async fn two_districts(admin: &Api) {
    admin
        .create_panel(panel_in("cua-lo-1", "Bãi biển Cửa Lò", "cua-lo"))
        .await;
    admin
        .create_panel(panel_in("vinh-1", "Quảng trường Hồ Chí Minh", "vinh"))
        .await;
}

pub(super) async fn account(
    admin: &Api,
    username: &str,
    name: &str,
    roles: &[&str],
    scope: Option<&[&str]>,
) {
    let (st, v) = admin
        .post(
            "/users",
            json!({"username": username, "display_name": name, "roles": roles, "scope": scope,
                   "password": "mật khẩu đầu tiên"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
}

/// Signs in with a password in the browser, changes the first password,
/// and waits for the shell to name the person.
pub(super) async fn sign_in_with_password(
    b: &Browser,
    base: &str,
    username: &str,
    name: &str,
    shot: Option<&str>,
) {
    b.goto(&format!("{base}/?signin")).await;
    b.js(
        "sessionStorage.clear(); location.hash = ''; return true",
        json!([]),
    )
    .await;
    b.goto(&format!("{base}/")).await;
    b.set_value("#username", username).await;
    b.set_value("#password", "mật khẩu đầu tiên").await;
    if let Some(s) = shot {
        b.screenshot(&format!("accounts-signin-{s}.png")).await;
    }
    b.click("#signin-password button[type=submit]").await;
    b.wait_js(
        "return !!document.querySelector('#change-password')",
        "the password change form",
    )
    .await;
    b.set_value("#current-password", "mật khẩu đầu tiên").await;
    b.set_value("#new-password", "một câu dễ nhớ của tôi").await;
    b.set_value("#new-password-again", "một câu dễ nhớ của tôi")
        .await;
    if let Some(s) = shot {
        b.screenshot(&format!("accounts-change-{s}.png")).await;
    }
    b.click("#change-password button[type=submit]").await;
    b.wait_js(
        &format!("const e = document.querySelector('[data-testid=me]'); return !!e && e.textContent === {name:?}"),
        &format!("signed in as {name}"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_editor_and_the_provincial_approver_work_with_passwords() {
    let server = Server::start();
    let base = server.base.clone();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    two_districts(&admin).await;
    account(
        &admin,
        "lan-cualo",
        "Nguyễn Thị Lan",
        &["editor"],
        Some(&["cua-lo"]),
    )
    .await;
    account(&admin, "hung-tinh", "Trần Văn Hùng", &["approver"], None).await;

    for (w, h) in [(1440, 900), (390, 844)] {
        let (_driver, b) = browser_at(w, h).await;
        let size = format!("{w}x{h}");
        // The district editor: password, own password, only Cửa Lò's panels.
        sign_in_with_password(&b, &base, "lan-cualo", "Nguyễn Thị Lan", Some(&size)).await;
        b.route("#/wall").await;
        b.wait_js(
            "return document.querySelector('main').innerText.includes('Bãi biển Cửa Lò')",
            "the district's panel on the wall",
        )
        .await;
        let wall = b.text("main").await;
        assert!(
            !wall.contains("Quảng trường Hồ Chí Minh"),
            "another district's panel is shown: {wall}"
        );
        b.screenshot(&format!("accounts-wall-{size}.png")).await;
        // Writes a message.
        b.route("#/messages/new").await;
        b.set_value("input[name=title]", &format!("Đề án 06 {size}"))
            .await;
        b.set_value(
            "#msg-text",
            "Kích hoạt định danh điện tử mức 2 tại công an phường.",
        )
        .await;
        let id = b.save_message().await;
        let (_, m) = admin.get(&format!("/messages/{id}")).await;
        assert_eq!(
            (&m["created_by"], &m["status"]),
            (&json!("lan-cualo"), &json!("draft"))
        );
        // The audit trail names her.
        let (_, audit) = admin.get("/audit").await;
        assert!(
            audit
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["kind"] == "message" && l["who_name"] == "Nguyễn Thị Lan"),
            "{audit}"
        );
        // Signing out ends the session on the server too.
        b.click("#signout").await;
        b.wait_js(
            "return !!document.querySelector('#username')",
            "the sign-in form",
        )
        .await;

        // The provincial approver approves it.
        sign_in_with_password(&b, &base, "hung-tinh", "Trần Văn Hùng", None).await;
        b.route(&format!("#/messages/{id}")).await;
        b.click("[data-action=approve]").await;
        let mut approved = false;
        for _ in 0..100 {
            let (_, m) = admin.get(&format!("/messages/{id}")).await;
            if m["status"] == "approved" {
                assert_eq!(m["approved_by"], "hung-tinh");
                approved = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(approved, "the approver's click approved the message");
        let errors = b.page_errors().await;
        assert!(errors.is_empty(), "{errors:#?}");
        b.click("#signout").await;
        b.wait_js(
            "return !!document.querySelector('#username')",
            "the sign-in form",
        )
        .await;
        // Accounts are the admin's next time: reset them for the other size.
        for u in ["lan-cualo", "hung-tinh"] {
            let r = admin
                .req(reqwest::Method::POST, &format!("/users/{u}/password"))
                .json(&json!({"password": "mật khẩu đầu tiên"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 204);
        }
        b.quit().await;
    }
}

/// Over real HTTP: the cookie works, a signed-out cookie replayed (as a
/// thief would) is refused, and a change without the CSRF token too.
#[tokio::test]
async fn a_stolen_cookie_after_sign_out_is_refused_over_http() {
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    account(&admin, "lan", "Nguyễn Thị Lan", &["editor"], None).await;
    let http = reqwest::Client::new();
    let r = http
        .post(server.url("/api/v1/session"))
        .json(&json!({"username": "lan", "password": "mật khẩu đầu tiên"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let v: Value = r.json().await.unwrap();
    let csrf = v["csrf"].as_str().unwrap().to_string();
    let with =
        |m: reqwest::Method, p: &str| http.request(m, server.url(p)).header("cookie", &cookie);
    let r = with(reqwest::Method::PUT, "/api/v1/session/password")
        .json(&json!({"current": "mật khẩu đầu tiên", "new": "mật khẩu mới của Lan"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no CSRF token");
    let r = with(reqwest::Method::PUT, "/api/v1/session/password")
        .header("x-csrf-token", &csrf)
        .json(&json!({"current": "mật khẩu đầu tiên", "new": "mật khẩu mới của Lan"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        with(reqwest::Method::GET, "/api/v1/panels")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = with(reqwest::Method::DELETE, "/api/v1/session")
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = with(reqwest::Method::GET, "/api/v1/panels")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "session_ended");
}

/// Signs `username` in over HTTP: (the `Cookie` header value, the CSRF token).
async fn cookie_for(server: &Server, username: &str) -> (String, String) {
    let r = reqwest::Client::new()
        .post(server.url("/api/v1/session"))
        .json(&json!({"username": username, "password": "mật khẩu đầu tiên"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let v: Value = r.json().await.unwrap();
    (cookie, v["csrf"].as_str().unwrap().to_string())
}

/// `GET path` with the cookie, as the page's own polling (`background`)
/// or as its person's click: (status, error code).
async fn get_as(server: &Server, cookie: &str, path: &str, background: bool) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .get(server.url(path))
        .header("cookie", cookie);
    if background {
        req = req.header("x-bangtin-background", "1");
    }
    let r = req.send().await.unwrap();
    let st = r.status().as_u16();
    (
        st,
        r.json::<Value>().await.unwrap_or_default()["error"].clone(),
    )
}

/// A server whose sessions end after `idle_s` seconds without their
/// person's requests, with the editor `lan` (first password not changed).
async fn server_with_lan(idle_s: u32) -> Server {
    let server = Server::start_with(ServerOpts {
        extra_env: vec![("BANGTIN_SESSION_IDLE_S".into(), idle_s.to_string())],
        ..Default::default()
    });
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    account(&admin, "lan", "Nguyễn Thị Lan", &["editor"], None).await;
    server
}

/// Over real HTTP with an 8-second idle time (margins of seconds for a
/// loaded machine): polling with
/// `X-Bangtin-Background: 1` twice a second does not keep a session
/// alive (it ends as `session_idle` about 8 s after sign-in, and stays
/// ended for a click after it); a click does, and background requests
/// are still answered until the idle time after that click.
#[tokio::test]
async fn background_requests_do_not_keep_a_session_alive_a_click_does() {
    let server = server_with_lan(8).await;

    // A tab left alone: only the page's own polling.
    let began = std::time::Instant::now();
    let (cookie, _) = cookie_for(&server, "lan").await;
    let ended = loop {
        let (st, code) = get_as(&server, &cookie, "/api/v1/session", true).await;
        if st != 200 {
            break (st, code);
        }
        assert!(
            began.elapsed() < std::time::Duration::from_secs(20),
            "still signed in after 20 s of background polling alone"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    let after = began.elapsed();
    assert_eq!(ended, (401, json!("session_idle")));
    assert!(after >= std::time::Duration::from_secs(8), "{after:?}");
    assert_eq!(
        get_as(&server, &cookie, "/api/v1/me", false).await,
        (401, json!("session_idle")),
        "a click after the idle end does not bring it back"
    );

    // A person who clicks: the click restarts the clock.
    let (cookie, _) = cookie_for(&server, "lan").await;
    let began = std::time::Instant::now();
    tokio::time::sleep(std::time::Duration::from_millis(5000)).await;
    assert_eq!(get_as(&server, &cookie, "/api/v1/me", false).await.0, 200);
    let clicked = std::time::Instant::now();
    tokio::time::sleep(
        std::time::Duration::from_millis(10_000)
            - began
                .elapsed()
                .min(std::time::Duration::from_millis(10_000)),
    )
    .await;
    assert!(
        clicked.elapsed() < std::time::Duration::from_millis(7000),
        "the machine is too slow for this timing: {:?}",
        clicked.elapsed()
    );
    assert_eq!(
        get_as(&server, &cookie, "/api/v1/session", true).await.0,
        200,
        "10 s after sign-in, 5 s after the click"
    );
    // And the background requests still do not extend it.
    let ended = super::util::eventually(std::time::Duration::from_secs(14), || async {
        let (st, code) = get_as(&server, &cookie, "/api/v1/session", true).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        (st == 401).then_some(code)
    })
    .await;
    assert_eq!(ended, Some(json!("session_idle")));
}

/// A dashboard tab left alone (headless Chromium) with a 12-second idle
/// time: its own polling (the alarm banner every 10 s, notifications, the
/// event stream) does not keep it signed in; it ends on the sign-in page,
/// which says the session ended for inactivity. Screenshots
/// `accounts-idle-1440x900.png` and `accounts-idle-390x844.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_tab_left_alone_ends_on_the_sign_in_page() {
    let server = server_with_lan(12).await;
    let (_driver, b) = browser_at(1440, 900).await;
    sign_in_with_password(&b, &server.base, "lan", "Nguyễn Thị Lan", None).await;
    b.route("#/wall").await;
    let left = std::time::Instant::now();
    let notice = "return document.querySelector('#signin-notice')?.textContent || ''";
    let Some(said) = b.try_wait(notice, 45).await else {
        panic!(
            "still signed in {:?} after the person's last click",
            left.elapsed()
        );
    };
    assert!(
        said.as_str().unwrap().contains("không có thao tác"),
        "{said}"
    );
    assert!(left.elapsed() >= std::time::Duration::from_secs(10));
    assert!(
        b.js("return !!document.querySelector('#username')", json!([]))
            .await
            == json!(true)
    );
    b.screenshot("accounts-idle-1440x900.png").await;
    b.viewport(390, 844).await;
    b.screenshot("accounts-idle-390x844.png").await;
    let errors = b.page_errors().await;
    assert!(errors.is_empty(), "{errors:#?}");
    b.quit().await;
}

/// The tokens tab (headless Chromium, 1440×900 and 390×844): an
/// administrator issues a token with an expiry date and a district, and
/// the list shows each token's scope, expiry and last use (one used
/// through the API, the new one not yet). Screenshots
/// `accounts-tokens-{size}.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_tab_sets_expiry_and_scope_and_lists_last_use() {
    use super::dashboard::NO_SIDEWAYS;
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    two_districts(&admin).await;
    let robot = admin.with_roles("bao-cao", &["operator"]).await;
    assert_eq!(robot.get("/panels").await.0, 200);

    for (w, h) in [(1440, 900), (390, 844)] {
        let (_driver, b) = browser_at(w, h).await;
        b.sign_in(&server.base, ADMIN_TOKEN, "admin").await;
        b.route("#/admin/tokens").await;
        let name = format!("lan-cualo-{w}");
        b.set_value("#token-form input.mono", &name).await;
        b.set_value("#token-expires", "2027-06-30").await;
        b.click("#token-scope input[value=cua-lo]").await;
        b.click("#token-form button[type=submit]").await;
        b.wait_js(
            &format!("return !!document.querySelector(\"tr[data-token='{name}']\")"),
            "the new token in the list",
        )
        .await;
        let (_, list) = admin.get("/tokens").await;
        let made = list
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name.as_str())
            .unwrap();
        assert_eq!(made["expires_at"], "2027-06-29T17:00:00Z", "{made}");
        assert_eq!(made["scope"], json!(["cua-lo"]), "{made}");
        assert_eq!(made["roles"], json!(["editor"]), "{made}");
        let cell =
            |token: &str, col: &str| format!("tr[data-token='{token}'] td[data-col='{col}']");
        let expires = b.text(&cell(&name, "expires")).await;
        assert!(
            expires.contains("30/06/2027") && expires.contains("00:00"),
            "{expires}"
        );
        assert_eq!(b.text(&cell(&name, "scope")).await, "Cua Lo");
        assert_eq!(b.text(&cell(&name, "last-used")).await, "Chưa dùng");
        assert_eq!(b.text(&cell("bao-cao", "scope")).await, "Toàn tỉnh");
        assert_eq!(b.text(&cell("bao-cao", "expires")).await, "Không hết hạn");
        let used = b.text(&cell("bao-cao", "last-used")).await;
        assert!(
            used.len() == "30/11/2026 09:00".len() && used.contains('/'),
            "the operator's token was used: {used:?}"
        );
        assert_eq!(b.js(NO_SIDEWAYS, json!([])).await, json!(true), "{w}×{h}");
        b.js(
            "document.querySelector(\"tr[data-token='bao-cao']\").scrollIntoView(); return true",
            json!([]),
        )
        .await;
        b.screenshot(&format!("accounts-tokens-{w}x{h}.png")).await;
        let errors = b.page_errors().await;
        assert!(errors.is_empty(), "{errors:#?}");
        b.quit().await;
    }
}
