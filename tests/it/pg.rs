//! The store on PostgreSQL (`--store postgres://…`): the cluster is the
//! harness's own ([`super::postgres`]), on loopback, one database a test.

use std::time::Duration;

use serde_json::{json, Value};

use bangtin::domain::{Asset, Panel};
use bangtin::store::seq::SeqAllocator;
use bangtin::store::{Store, StoreError};

use super::postgres::Postgres;
use super::util::{eventually, Api, Server, ServerOpts, ADMIN_TOKEN};

fn panel(id: &str) -> Panel {
    serde_json::from_value(json!({"id": id, "name": format!("Bảng {id}"), "width": 64,
        "height": 16, "format": "mono1", "groups": ["d1"]}))
    .unwrap()
}

/// Two stores on one database, as two servers have: each sees the other's
/// changes once it reads the store again, never writes over a change it
/// has not seen, and everything acknowledged is there for a third.
#[test]
fn two_stores_share_one_database() {
    let pg = Postgres::shared();
    let url = pg.database("two_stores");
    let (da, db_, dc) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let a = Store::open_postgres(&url, da.path()).unwrap();
    let b = Store::open_postgres(&url, db_.path()).unwrap();

    a.put_panel(panel("p1"), true, "an").unwrap();
    assert!(b.snapshot().panels.is_empty(), "b has not read it yet");
    assert_eq!(b.reread().unwrap(), Some(true));
    assert!(b.snapshot().panels.contains_key(&panel("p1").id));
    assert_eq!(b.reread().unwrap(), Some(false), "nothing new");

    // b writes without having seen a's second change: refused, and then
    // b has read it, so that its next try is weighed against it.
    a.put_panel(panel("p2"), true, "an").unwrap();
    let stale = b.put_panel(panel("p2"), true, "binh");
    assert!(
        matches!(&stale, Err(StoreError::Conflict(_))),
        "a stale write is refused: {stale:?}"
    );
    assert!(b.snapshot().panels.contains_key(&panel("p2").id));
    let again = b.put_panel(panel("p2"), true, "binh");
    assert!(
        matches!(&again, Err(StoreError::Conflict(_))),
        "now refused as taken: {again:?}"
    );
    b.put_panel(panel("p3"), true, "binh").unwrap();

    // An image: its bytes are a row too.
    let bytes = b"\x89PNG not really".to_vec();
    let asset: Asset = serde_json::from_value(json!({"id": "ab12", "content_type": "image/png",
        "width": 1, "height": 1, "bytes": 0, "uploaded_by": "binh",
        "uploaded_at": "2026-11-30T05:00:00Z"}))
    .unwrap();
    b.put_asset(&bytes, asset, "binh").unwrap();
    assert_eq!(a.reread().unwrap(), Some(true));
    assert_eq!(a.read_asset("ab12").unwrap().1, bytes);

    // The audit trail is one, in commit order, whoever wrote.
    let trail: Vec<(String, String)> = a
        .audit_tail(10)
        .unwrap()
        .into_iter()
        .map(|e| (e.who, e.id))
        .collect();
    assert_eq!(
        trail,
        vec![
            ("binh".to_string(), "ab12".to_string()),
            ("binh".into(), "p3".into()),
            ("an".into(), "p2".into()),
            ("an".into(), "p1".into()),
        ]
    );

    // A third server starting now has everything acknowledged.
    let c = Store::open_postgres(&url, dc.path()).unwrap();
    let ids: Vec<String> = c.snapshot().panels.keys().map(|i| i.to_string()).collect();
    assert_eq!(ids, ["p1", "p2", "p3"]);
    assert_eq!(c.read_asset("ab12").unwrap().1, bytes);
    assert!(
        !da.path().join("content/panels/p1.json").exists(),
        "nothing is written as files"
    );
}

/// Two server processes on one store: a change made through one is
/// served by the other within a few seconds (its notification, not the
/// periodic read every 30 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_server_is_served_by_the_other() {
    let pg = Postgres::shared();
    let url = pg.database("two_servers");
    let opts = ServerOpts {
        extra_args: vec!["--store".into(), url],
        ..Default::default()
    };
    let a = Server::start_with(opts.clone());
    let b = Server::start_with(opts);
    let (api_a, api_b) = (
        Api::new(&a, Some(ADMIN_TOKEN)),
        Api::new(&b, Some(ADMIN_TOKEN)),
    );
    let (st, _) = api_b.get("/panels/p9").await;
    assert_eq!(st, 404);
    api_a
        .create_panel(
            json!({"id": "p9", "name": "Bảng p9", "width": 64, "height": 16,
            "format": "mono1", "groups": ["d1"]}),
        )
        .await;
    let seen = eventually(Duration::from_secs(10), || async {
        let (st, v): (u16, Value) = api_b.get("/panels/p9").await;
        (st == 200).then_some(v)
    })
    .await;
    assert_eq!(
        seen.expect("server b serves the panel made through a")["name"],
        "Bảng p9"
    );

    // A token made on a is taken on b (the shared token file).
    let editor = api_a.with_roles("bien-tap", &["editor"]).await;
    let on_b = Api {
        base: api_b.base.clone(),
        ..editor
    };
    // (Awaited on b's token file, not by trying the token: failed tries
    // from one address are throttled.)
    let tokens_b = b.data.join("secrets/tokens.json");
    let taken = eventually(Duration::from_secs(10), || async {
        let text = std::fs::read_to_string(&tokens_b).unwrap_or_default();
        text.contains("bien-tap").then_some(())
    })
    .await;
    assert!(taken.is_some(), "server b takes a token made on server a");
    let served = eventually(Duration::from_secs(5), || async {
        (on_b.get("/panels").await.0 == 200).then_some(())
    });
    assert!(served.await.is_some(), "server b lets the token in");

    // One frame-signing key for both: a controller checks every frame
    // against one public key, whichever server is leader.
    let key = |s: &Server| std::fs::read(s.data.join("secrets/frame-signing.pub")).unwrap();
    assert_eq!(key(&a), key(&b));
}

/// Sequence numbers kept in PostgreSQL: a server that opens them after
/// another (a takeover) starts every panel above anything the other could
/// have handed out.
#[test]
fn sequence_numbers_continue_above_the_last_server() {
    let pg = Postgres::shared();
    let url = pg.database("seq");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_postgres(&url, dir.path()).unwrap();
    let db = store.postgres().unwrap().clone();
    let mut first = SeqAllocator::open_postgres(db.clone()).unwrap();
    let used: Vec<u32> = (0..3).map(|_| first.next("p1").unwrap()).collect();
    assert_eq!(used, [1, 2, 3]);
    let mut next = SeqAllocator::open_postgres(db).unwrap();
    let n = next.next("p1").unwrap();
    assert!(n > 3, "{n} is above what the first server used");
    assert_eq!(next.next("p2").unwrap(), 1, "a new panel starts at 1");
}
