//! The groups screen (Administration → Địa bàn) in a real browser (headless
//! Chromium through chromedriver, as in `dashboard`), at a desk's 1440×900
//! and a phone's 390×844, in Vietnamese and in English: the list with
//! display names and panel counts, creating a district, renaming one to a
//! name with diacritics, a search that ignores diacritics ("son tra" finds
//! "Sơn Trà"), and the server's refusal in the dashboard's language.
//! Screenshots are kept in the target's tmp directory (`groups-*.png`).

use serde_json::json;

use super::dashboard::{browser_at, Browser, NO_SIDEWAYS};
use super::util::{Api, Server, ADMIN_TOKEN};

/// The ids of the groups listed, in order.
const LISTED: &str = "return [...document.querySelectorAll('[data-page=groups] tr[data-group]')].map((r) => r.dataset.group).join(',')";

/// Types `query` in the search box and waits until the ids listed (`l`,
/// joined by commas) satisfy `when`.
async fn search(b: &Browser, query: &str, when: &str, what: &str) {
    b.set_value("[data-page=groups] input[name=group-search]", query)
        .await;
    b.wait_js(
        &format!("const l = (() => {{ {LISTED} }})(); return {when}"),
        what,
    )
    .await;
}

#[tokio::test]
async fn the_groups_screen_lists_creates_renames_and_finds_without_diacritics() {
    let server = Server::start();
    let api = Api::new(&server, Some(ADMIN_TOKEN));
    for (id, groups) in [
        ("cau-rong", vec!["son-tra"]),
        ("bai-tam", vec!["son-tra"]),
        ("cho-han", vec!["hai-chau"]),
    ] {
        api.create_panel(json!({"id": id, "name": id, "width": 128, "height": 32,
                                "format": "mono1", "groups": groups}))
            .await;
    }

    let (_driver, b) = browser_at(1440, 900).await;
    b.sign_in(&server.base, ADMIN_TOKEN, "admin").await;
    b.route("#/admin/groups").await;
    b.wait_js(
        &format!("const l = (() => {{ {LISTED} }})(); return l.split(',').length === 2"),
        "the two groups panels name",
    )
    .await;
    let row = |id: &str| format!("[data-page=groups] tr[data-group={id:?}]");
    let son_tra = b.text(&row("son-tra")).await;
    assert!(
        son_tra.contains("Son Tra") && son_tra.contains('2'),
        "a group without a display name reads as its id in words, with its 2 panels: {son_tra:?}"
    );

    // A new district, with its name in full.
    b.set_value("#new-group input[name=group-name]", "Thành phố Vinh")
        .await;
    b.set_value("#new-group input[name=group-id]", "tp-vinh")
        .await;
    b.click("#new-group button[type=submit]").await;
    b.wait_js(
        &format!(
            "const r = document.querySelector({:?}); return r && r.innerText.includes('Thành phố Vinh')",
            row("tp-vinh")
        ),
        "the new district listed with its name",
    )
    .await;
    let (_, groups) = api.get("/groups").await;
    assert!(
        groups
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["id"] == "tp-vinh" && g["name"] == "Thành phố Vinh" && g["panels"] == 0),
        "{groups}"
    );

    // Renamed in place to its name with diacritics.
    b.click(&format!("{} button[data-action=rename]", row("son-tra")))
        .await;
    b.set_value(&format!("{} input[name=rename]", row("son-tra")), "Sơn Trà")
        .await;
    b.click(&format!(
        "{} form.inline-edit button[type=submit]",
        row("son-tra")
    ))
    .await;
    b.wait_js(
        &format!(
            "const r = document.querySelector({:?}); return r && !r.querySelector('form') && r.innerText.includes('Sơn Trà')",
            row("son-tra")
        ),
        "the renamed district",
    )
    .await;
    let (_, groups) = api.get("/groups?q=son").await;
    assert_eq!(groups[0]["name"], "Sơn Trà", "{groups}");
    assert_eq!(groups[0]["panels"], 2, "panels keep the group: {groups}");

    // The search ignores case and diacritics.
    search(
        &b,
        "son tra",
        "l === 'son-tra'",
        "only Sơn Trà for \"son tra\"",
    )
    .await;
    search(
        &b,
        "THANH PHO",
        "l === 'tp-vinh'",
        "only Thành phố Vinh for \"THANH PHO\"",
    )
    .await;
    search(&b, "", "l.split(',').length === 3", "every district again").await;

    // A refusal from the server, in Vietnamese.
    b.set_value("#new-group input[name=group-name]", "Hải Châu")
        .await;
    b.set_value("#new-group input[name=group-id]", "Hải Châu")
        .await;
    b.click("#new-group button[type=submit]").await;
    let refused = b
        .wait_js(
            "const e = document.querySelector('#new-group .field-error'); return e && e.textContent",
            "the refused id",
        )
        .await;
    let refused = refused.as_str().unwrap().to_string();
    assert!(
        refused.contains("không phải mã hợp lệ") && !refused.contains("is not a valid"),
        "the id refused in Vietnamese, not in the JSON reader's English: {refused}"
    );
    b.screenshot("groups-vi-1440x900.png").await;
    assert_eq!(b.page_errors().await, Vec::<String>::new());

    // The same screen in English.
    b.click(".topbar button[lang=en]").await;
    b.route("#/admin/groups").await;
    b.wait_js(
        "const h = document.querySelector('[data-page=groups] h2'); return h && document.querySelector('[data-page=groups]').innerText.includes('3 districts')",
        "the English groups screen",
    )
    .await;
    let page = b.text("[data-page=groups]").await;
    assert!(
        page.contains("Add a district") && page.contains("Display name") && page.contains("Rename"),
        "{page}"
    );
    assert!(
        !page.contains("Thêm địa bàn") && !page.contains("Đổi tên"),
        "Vietnamese left in the English screen: {page}"
    );
    b.set_value("#new-group input[name=group-name]", "Hải Châu")
        .await;
    b.set_value("#new-group input[name=group-id]", "Hải Châu")
        .await;
    b.click("#new-group button[type=submit]").await;
    let refused = b
        .wait_js(
            "const e = document.querySelector('#new-group .field-error'); return e && e.textContent",
            "the refused id in English",
        )
        .await;
    let refused = refused.as_str().unwrap().to_string();
    assert!(refused.contains("is not a valid id"), "{refused}");
    b.screenshot("groups-en-1440x900.png").await;
    b.click(".topbar button[lang=vi]").await;
    assert_eq!(b.page_errors().await, Vec::<String>::new());

    let (_driver2, p) = browser_at(390, 844).await;
    p.sign_in(&server.base, ADMIN_TOKEN, "admin").await;
    p.route("#/admin/groups").await;
    p.wait_js(
        &format!("const l = (() => {{ {LISTED} }})(); return l.split(',').length === 3"),
        "the districts on a phone",
    )
    .await;
    assert_eq!(
        p.js(NO_SIDEWAYS, json!([])).await,
        json!(true),
        "the groups screen scrolls sideways on a phone"
    );
    p.screenshot("groups-vi-390x844.png").await;
    assert_eq!(p.page_errors().await, Vec::<String>::new());
    p.quit().await;
    b.quit().await;
}
