//! The reference documents match the running server: every route the
//! server serves (as its OpenAPI document lists them) is in docs/api.md,
//! and every route docs/api.md documents is served.

use std::collections::BTreeSet;

use super::util::{Api, Server, ADMIN_TOKEN};

/// `METHOD /path` of each route row of the "Routes" section of
/// docs/api.md (paths under /api/v1, without their query).
fn documented_routes(doc: &str) -> BTreeSet<String> {
    let section = doc.split("\n## Routes").nth(1).expect("a Routes section");
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| {
            let route = &l[..l.find(['`', '[', '?'])?];
            let (method, path) = route.split_once(' ')?;
            matches!(method, "GET" | "POST" | "PUT" | "PATCH" | "DELETE")
                .then(|| format!("{method} {path}"))
        })
        .collect()
}

#[tokio::test]
async fn api_md_documents_every_route_and_only_those() {
    let s = Server::start();
    let (st, openapi) = Api::new(&s, Some(ADMIN_TOKEN)).get("/openapi.json").await;
    assert_eq!(st, 200, "{openapi}");
    let served: BTreeSet<String> = openapi["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, ops)| {
            let path = path.strip_prefix("/api/v1").expect("under /api/v1");
            ops.as_object()
                .expect("operations")
                .keys()
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md"))
        .expect("docs/api.md");
    let documented = documented_routes(&doc);
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/api.md lacks {missing:?} and documents routes the server does not serve: {extra:?}"
    );
    assert!(served.len() > 30, "{served:?}");
}
