//! The store on PostgreSQL (`--store postgres://…`): the cluster is the
//! harness's own ([`super::postgres`]), on loopback, one database a test.

use std::time::Duration;

use serde_json::{json, Value};

use bangtin::domain::{Asset, Panel};
use bangtin::store::online::OnlineSample;
use bangtin::store::pg::Leadership;
use bangtin::store::plays::{Play, Plays};
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

    // b writes without having been told of a's second change: it reads
    // the store first (its turn to write), so the write is weighed
    // against it and refused as taken, as it would be on one server.
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
    let mut next = SeqAllocator::open_postgres(db.clone()).unwrap();
    let n = next.next("p1").unwrap();
    assert!(n > 3, "{n} is above what the first server used");
    assert_eq!(next.next("p2").unwrap(), 1, "a new panel starts at 1");

    // A follower's allocator hands out numbers too (its player runs; its
    // frames are not sent). The leader goes on past the follower's block;
    // when the follower takes the lead it reads the marks again and
    // starts above everything the leader used.
    let lead = std::sync::Arc::new(Leadership::default());
    let mut follower = SeqAllocator::open_postgres(db.clone())
        .unwrap()
        .following(lead.clone());
    let mut leader = SeqAllocator::open_postgres(db.clone()).unwrap();
    let low = follower.next("p3").unwrap();
    let used = (0..2500).map(|_| leader.next("p3").unwrap()).max().unwrap();
    assert_eq!(
        follower.next("p3").unwrap(),
        low + 1,
        "no lead yet: its own block"
    );
    db.campaign(lead.clone(), |_| {}).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !lead.leading() {
        assert!(std::time::Instant::now() < deadline, "the lead is taken");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(lead.epoch() >= 1);
    let n = follower.next("p3").unwrap();
    assert!(
        n > used,
        "after the takeover {n} is above the leader's {used}"
    );
}

/// A leader deposed without knowing it (its link to the database was slow
/// or cut while another server took over) cannot reserve sequence numbers
/// after the takeover: every number a later leader hands out stays above
/// every number this one can still use, so a controller's seq rule also
/// refuses the deposed leader's frames. A follower reserves nothing.
#[test]
fn a_deposed_leader_reserves_no_numbers_the_next_one_uses() {
    let pg = Postgres::shared();
    let url = pg.database("deposed");
    let name = url.rsplit('/').next().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_postgres(&url, dir.path()).unwrap();
    let db = store.postgres().unwrap().clone();
    let mark = || {
        pg.sql(
            &name,
            "SELECT coalesce(max(mark), 0) FROM seq_marks WHERE panel = 'p1'",
        )
    };

    let follower_lead = std::sync::Arc::new(Leadership::default());
    let mut follower = SeqAllocator::open_postgres(db.clone())
        .unwrap()
        .following(follower_lead);
    assert_eq!(follower.next("p1").unwrap(), 1);
    assert_eq!(mark(), "0", "a follower reserved numbers");

    let lead = std::sync::Arc::new(Leadership::default());
    db.campaign(lead.clone(), |_| {}).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !lead.leading() {
        assert!(std::time::Instant::now() < deadline, "the lead is taken");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut leader = SeqAllocator::open_postgres(db.clone())
        .unwrap()
        .following(lead.clone());
    let used = leader.next("p1").unwrap();
    let reserved = mark();
    assert_ne!(reserved, "0", "the leader reserves its block");

    // Another server takes over: the epoch moves on while this one still
    // holds its lock and believes it leads.
    pg.sql(&name, "UPDATE leader SET epoch = epoch + 1");
    assert!(lead.leading());
    let mut last = used;
    let refused = loop {
        match leader.next("p1") {
            Ok(n) => last = n,
            Err(e) => break e,
        }
        assert!(
            last < used + 2 * bangtin::store::seq::BLOCK,
            "never refused"
        );
    };
    assert!(refused.to_string().contains("epoch"), "{refused}");
    assert_eq!(mark(), reserved, "the deposed leader raised its mark");
    let next_leader = SeqAllocator::open_postgres(db.clone())
        .unwrap()
        .next("p1")
        .unwrap();
    assert!(
        next_leader > last,
        "{next_leader} is above the deposed leader's {last}"
    );
}

/// `bangtin store migrate`: a data directory into PostgreSQL and back out
/// again. Every file the store wrote comes back byte for byte; a file
/// edited by hand comes back with the same content, written as the store
/// writes it; the sequence marks come back as one `seq.json`.
#[test]
fn a_data_directory_goes_into_postgres_and_back_unchanged() {
    let pg = Postgres::shared();
    let url = pg.database("migrate");
    let (from, back) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    {
        let s = Store::open(from.path()).unwrap();
        s.put_panel(panel("p1"), true, "an").unwrap();
        s.put_panel(panel("p2"), true, "an").unwrap();
        s.create_group(
            serde_json::from_value(json!({"id": "d1", "name": "Quận Một"})).unwrap(),
            "an",
        )
        .unwrap();
        let body = |t: &str| serde_json::from_value(json!({"title": t, "text": t})).unwrap();
        let m = s
            .create_message(body("Bão số 3"), "an", chrono::Utc::now())
            .unwrap();
        s.edit_message(&m.id, body("Bão số 3, cấp 12"), "an", chrono::Utc::now())
            .unwrap();
        let asset: Asset =
            serde_json::from_value(json!({"id": "cd34", "content_type": "image/png",
            "width": 1, "height": 1, "bytes": 0, "uploaded_by": "an",
            "uploaded_at": "2026-11-30T05:00:00Z"}))
            .unwrap();
        s.put_asset(b"\x89PNG bytes", asset, "an").unwrap();
        let mut seq = SeqAllocator::open(s.seq_file()).unwrap();
        seq.next("p1").unwrap();
    }
    // Proof of play and the fleet's online samples move with the store.
    let at = |s: i64| chrono::DateTime::from_timestamp(1_764_460_800 + s, 0).unwrap();
    let play = |panel: &str, seq: u32, s: i64, verified: bool| Play {
        panel: panel.into(),
        message: Some("bao-so-3".into()),
        campaign: (seq % 2 == 1).then(|| "mua-bao".to_string()),
        alert: None,
        seq,
        shown_at: at(s),
        verified,
    };
    let rows = vec![
        play("p1", 1, 0, true),
        play("p2", 1, 0, false),
        play("p1", 2, 60, true),
    ];
    let sample = OnlineSample {
        at: at(300),
        online: 1,
        panels: 2,
    };
    {
        let plays = Plays::open(&from.path().join("state/plays.redb")).unwrap();
        plays.insert(&rows).unwrap();
        plays.record_online(sample).unwrap();
    }
    std::fs::create_dir_all(from.path().join("secrets")).unwrap();
    std::fs::write(from.path().join("secrets/users.json"), "[]\n").unwrap();
    let hand = from.path().join("content/panels/p3.json");
    std::fs::write(
        &hand,
        r#"{"id":"p3","name":"Bảng p3","width":64,"height":16,"format":"mono1","groups":["d1"]}"#,
    )
    .unwrap();

    let migrate = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bangtin"))
            .args(["store", "migrate"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let data = |d: &tempfile::TempDir| d.path().to_str().unwrap().to_string();
    let said = migrate(&["--data", &data(&from), "--to", &url]);
    assert!(said.starts_with("8 documents, 1 images"), "{said}");
    assert!(
        said.contains("3 proof-of-play rows, 1 online samples"),
        "{said}"
    );
    // Not twice into one database.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_bangtin"))
        .args(["store", "migrate", "--data", &data(&from), "--to", &url])
        .output()
        .unwrap();
    assert!(!again.status.success(), "a second migration is refused");
    migrate(&["--from", &url, "--data", &data(&back)]);

    let mut files = Vec::new();
    for f in super::util::walk(from.path()) {
        let rel = f.strip_prefix(from.path()).unwrap().to_path_buf();
        let name = rel.to_string_lossy().into_owned();
        if name.starts_with("state/seq.")
            || name == "content/panels/p3.json"
            || name == "state/plays.redb"
        {
            continue;
        }
        let there = std::fs::read(back.path().join(&rel))
            .unwrap_or_else(|e| panic!("{name} did not come back: {e}"));
        assert!(std::fs::read(&f).unwrap() == there, "{name} differs");
        files.push(name);
    }
    for expected in [
        "content/panels/p1.json",
        "content/groups/d1.json",
        "state/audit.jsonl",
        "content/assets/cd34.png",
        "secrets/users.json",
    ] {
        assert!(
            files.iter().any(|f| f == expected),
            "{expected} was compared: {files:?}"
        );
    }
    assert!(
        files.iter().any(|f| f.starts_with("state/versions/")),
        "{files:?}"
    );
    let read =
        |p: &std::path::Path| serde_json::from_slice::<Value>(&std::fs::read(p).unwrap()).unwrap();
    let hand_back = back.path().join("content/panels/p3.json");
    assert_eq!(
        read(&hand),
        read(&hand_back),
        "a hand-edited file keeps its content"
    );
    assert!(std::fs::read_to_string(&hand_back)
        .unwrap()
        .starts_with("{\n  \"id\": \"p3\""));
    let marks = |d: &tempfile::TempDir| {
        SeqAllocator::open(d.path().join("state/seq.json"))
            .unwrap()
            .marks()
    };
    assert_eq!(marks(&from), marks(&back));
    let plays = Plays::open(&back.path().join("state/plays.redb")).unwrap();
    assert_eq!(plays.query(at(-1), at(3600), None, 10).unwrap(), rows);
    assert_eq!(
        plays.online_between(at(-1), at(3600), 10).unwrap(),
        [sample]
    );
}

/// Two servers on one store and one broker, writes through both, and the
/// leader killed (SIGKILL): the other takes the lead and publishes within
/// 10 s, above every sequence number the controller has shown, and every
/// write either server acknowledged is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_server_takes_over_when_the_leader_dies() {
    use super::util::{controller, shown_until, MosquittoProcess};
    let pg = Postgres::shared();
    let url = pg.database("failover");
    let broker = MosquittoProcess::start("");
    let opts = ServerOpts {
        mqtt: Some(broker.url()),
        extra_args: vec!["--store".into(), url],
        ..Default::default()
    };
    let leads = |s: &Server| {
        s.log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("leader: this server"))
    };
    let mut a = Server::start_with(opts.clone());
    let led = eventually(Duration::from_secs(10), || async {
        leads(&a).then_some(())
    })
    .await;
    assert!(led.is_some(), "the first server takes the lead");
    let b = Server::start_with(opts);
    let (api_a, api_b) = (
        Api::new(&a, Some(ADMIN_TOKEN)),
        Api::new(&b, Some(ADMIN_TOKEN)),
    );
    api_a
        .create_panel(
            json!({"id": "p1", "name": "Bảng p1", "width": 64, "height": 16,
            "format": "mono1", "groups": ["d1"]}),
        )
        .await;
    let mut sign = controller(&broker.url(), "p1");
    api_a
        .send_alert(json!({"text": "Bão số 3", "targets": ["all"], "duration_s": 3600}))
        .await;
    let first = shown_until(
        &mut sign,
        Duration::from_secs(10),
        "a frame from the leader",
        |_| true,
    )
    .await;
    assert!(!leads(&b), "one leader at a time");
    // Each server says whether it leads, for operators and load balancers.
    let said = |v: &Value| (v["leading"].as_bool(), v["leader_epoch"].as_i64());
    let (_, status_a) = api_a.get("/status").await;
    let (_, status_b) = api_b.get("/status").await;
    let epoch = status_a["leader_epoch"].as_i64().unwrap();
    assert!(epoch >= 1, "{status_a}");
    assert_eq!(said(&status_a), (Some(true), Some(epoch)));
    assert_eq!(said(&status_b), (Some(false), Some(0)), "{status_b}");
    // The follower's wall says the sign shows what it decided: the
    // leader's frame, acknowledged with the same pixels.
    let confirmed = eventually(Duration::from_secs(10), || async {
        let (_, now) = api_b.get("/panels/p1/now").await;
        (now["seq"] == first.seq && now["acked_seq"] == first.seq).then_some(())
    })
    .await;
    assert!(
        confirmed.is_some(),
        "the follower's now: {}",
        api_b.get("/panels/p1/now").await.1
    );
    // Proof of play is the store's: the leader records the sign's ack,
    // and the other server reports it.
    let played = |api: &Api, seqs: Vec<u32>| {
        let api = api.clone();
        async move {
            eventually(Duration::from_secs(10), || async {
                let (_, rows) = api.get(&super::util::plays_query("p1")).await;
                let have: Vec<u64> = rows
                    .as_array()?
                    .iter()
                    .filter_map(|r| r["seq"].as_u64())
                    .collect();
                seqs.iter()
                    .all(|s| have.contains(&u64::from(*s)))
                    .then_some(())
            })
            .await
            .is_some()
        }
    };
    assert!(
        played(&api_b, vec![first.seq]).await,
        "the follower reports the leader's play: {}",
        api_b.get(&super::util::plays_query("p1")).await.1
    );

    // Writes through both servers, before, during and after the kill.
    let load = {
        let (api_a, api_b) = (api_a.clone(), api_b.clone());
        tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..40 {
                let api = if i % 2 == 0 { &api_a } else { &api_b };
                // A refused connection (the killed server) is no
                // acknowledgement; only a 201 is.
                let sent = api
                    .req(reqwest::Method::POST, "/messages")
                    .json(&json!({"title": format!("Tin {i}"), "text": "Mưa lớn"}))
                    .send()
                    .await;
                if let Ok(r) = sent {
                    if r.status() == 201 {
                        let v: Value = r.json().await.unwrap();
                        acked.push(v["id"].as_str().unwrap().to_string());
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            acked
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut highest = first.seq;
    while let Ok(s) = sign.shown.try_recv() {
        highest = highest.max(s.seq);
    }
    a.kill9();
    let killed = tokio::time::Instant::now();
    let next = shown_until(
        &mut sign,
        Duration::from_secs(10),
        "a frame from the new leader",
        |s| s.received_at > killed,
    )
    .await;
    assert!(next.received_at - killed < Duration::from_secs(10));
    assert!(leads(&b), "the other server took the lead");
    let (_, status_b) = api_b.get("/status").await;
    assert_eq!(said(&status_b).0, Some(true), "{status_b}");
    assert!(said(&status_b).1.unwrap() > epoch, "{status_b}");
    let text = b.metrics().await;
    assert!(text.contains("\nbangtin_leading 1\n"), "{text}");
    assert!(
        next.seq > highest,
        "the new leader's seq {} is above the old one's {highest}",
        next.seq,
    );

    assert!(
        played(&api_b, vec![first.seq, next.seq]).await,
        "the survivor reports the plays of both leaders: {}",
        api_b.get(&super::util::plays_query("p1")).await.1
    );

    let acked = load.await.unwrap();
    assert!(acked.len() >= 10, "writes went through: {}", acked.len());
    for id in &acked {
        let (st, _) = api_b.get(&format!("/messages/{id}")).await;
        assert_eq!(st, 200, "acknowledged message {id} is there");
    }
}

/// A leader whose link to the database goes silent (a partition: the
/// socket stays open, nothing more arrives) loses the lock within
/// seconds, so another server can lead; without that the database keeps
/// the session and its lock until TCP keep-alive gives up (hours).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_database_lets_another_lead() {
    let pg = Postgres::shared();
    let url = pg.database("silent_leader");
    let dir = tempfile::tempdir().unwrap();
    // The schema (the leader row) is made by the store.
    let _store = Store::open_postgres(&url, dir.path()).unwrap();
    let relay = super::util::Relay::start(pg.port).await;
    let relayed = url.replace(&format!(":{}/", pg.port), &format!(":{}/", relay.port));
    assert_ne!(relayed, url);

    let first = std::sync::Arc::new(Leadership::default());
    bangtin::store::pg::campaign(&relayed, first.clone(), |_| {}).unwrap();
    eventually(Duration::from_secs(10), || async {
        first.leading().then_some(())
    })
    .await
    .expect("the first server leads");
    let second = std::sync::Arc::new(Leadership::default());
    bangtin::store::pg::campaign(&url, second.clone(), |_| {}).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!second.leading(), "one leader at a time");

    // The first server's link goes silent.
    relay.hold.store(true, std::sync::atomic::Ordering::SeqCst);
    let took = std::time::Instant::now();
    let led = eventually(Duration::from_secs(20), || async {
        second.leading().then_some(())
    })
    .await;
    assert!(led.is_some(), "the second server never led");
    assert!(!first.leading(), "the cut-off server stopped leading");
    eprintln!("the other server led {:?} after the cut", took.elapsed());
    assert!(
        took.elapsed() < Duration::from_secs(10),
        "{:?}",
        took.elapsed()
    );
}

/// Two servers on one store (a new database, named in the fourth), for
/// the tests of writes through both.
fn two_servers(db: &str) -> (std::sync::Arc<Postgres>, Server, Server, String) {
    let pg = Postgres::shared();
    let url = pg.database(db);
    let name = url.rsplit('/').next().unwrap().to_string();
    let opts = ServerOpts {
        extra_args: vec!["--store".into(), url],
        ..Default::default()
    };
    let a = Server::start_with(opts.clone());
    let b = Server::start_with(opts);
    (pg, a, b, name)
}

/// The names in a list that `GET path` answers (`key`: the name's field).
async fn names(api: &Api, path: &str, key: &str) -> Vec<String> {
    let (st, v) = api.get(path).await;
    assert_eq!(st, 200, "{v}");
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[key].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

/// Accounts and tokens created through both servers at once (well within
/// one interval of the shared files' sync): every creation answered 201
/// is there afterwards, on both servers. (Before, each server wrote its
/// own copy of the token and accounts files and the sync kept one: the
/// other server's creations were lost.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_and_tokens_made_through_both_servers_at_once_are_all_kept() {
    let (_pg, a, b, _) = two_servers("shared_writes");
    let apis = [
        Api::new(&a, Some(ADMIN_TOKEN)),
        Api::new(&b, Some(ADMIN_TOKEN)),
    ];
    let mut made = Vec::new();
    for i in 0..8 {
        let api = &apis[i % 2];
        let token = format!("may-{i}");
        let user = format!("nguoi-{i}");
        made.push(async move {
            let (st, v) = api
                .post("/tokens", json!({"name": token, "roles": ["editor"]}))
                .await;
            assert_eq!(st, 201, "{v}");
            if i < 4 {
                let (st, v) = api
                    .post(
                        "/users",
                        json!({"username": user, "display_name": format!("Người {i}"),
                            "roles": ["editor"], "password": "mật khẩu đầu tiên đủ dài"}),
                    )
                    .await;
                assert_eq!(st, 201, "{v}");
            }
        });
    }
    futures_util::future::join_all(made).await;
    let mut want_tokens: Vec<String> = (0..8).map(|i| format!("may-{i}")).collect();
    want_tokens.sort();
    let want_users: Vec<String> = (0..4).map(|i| format!("nguoi-{i}")).collect();
    for api in &apis {
        let all = eventually(Duration::from_secs(15), || async {
            let tokens = names(api, "/tokens", "name").await;
            let users = names(api, "/users", "username").await;
            (tokens == want_tokens && users == want_users).then_some(())
        })
        .await;
        assert!(
            all.is_some(),
            "{} lists every token and account: tokens {:?}, accounts {:?}",
            api.base,
            names(api, "/tokens", "name").await,
            names(api, "/users", "username").await
        );
    }
}

/// A token's last use is shown on both servers (`GET /tokens`), and
/// using tokens does not change the shared token file: each server
/// notes uses in a table of their own, the newest winning. (Before, each
/// server wrote last uses into the token file on its own, so the file
/// both servers share changed with every first use of the hour.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokens_last_use_is_shown_on_both_servers_without_changing_the_token_file() {
    let (pg, a, b, db) = two_servers("token_uses");
    let (api_a, api_b) = (
        Api::new(&a, Some(ADMIN_TOKEN)),
        Api::new(&b, Some(ADMIN_TOKEN)),
    );
    let editor = api_a.with_roles("bien-tap", &["editor"]).await;
    let file_sha = || {
        pg.sql(
            &db,
            "SELECT encode(sha, 'hex') FROM shared_files WHERE name = 'secrets/tokens.json'",
        )
    };
    let before = file_sha();
    assert!(!before.is_empty(), "the token file is shared");
    assert_eq!(editor.get("/panels").await.0, 200);
    let last_use = |api: &Api| {
        let api = api.clone();
        async move {
            let (_, v) = api.get("/tokens").await;
            v.as_array()?
                .iter()
                .find(|t| t["name"] == "bien-tap")?
                .get("last_used_at")?
                .as_str()
                .map(str::to_string)
        }
    };
    let on_b = eventually(Duration::from_secs(15), || last_use(&api_b)).await;
    assert!(on_b.is_some(), "server b shows the use made on server a");
    // The same instant (the database keeps it to the microsecond).
    let at = |t: Option<String>| chrono::DateTime::parse_from_rfc3339(&t.unwrap()).unwrap();
    let gap = at(last_use(&api_a).await) - at(on_b);
    assert!(
        gap.num_microseconds() == Some(0),
        "both show the same time: {gap}"
    );
    assert_eq!(
        file_sha(),
        before,
        "using a token changed the shared token file"
    );
}

/// Writes through both servers at once to different messages: none is
/// refused. (Before, a commit was refused whenever the other server had
/// committed anything since this one last read the store, so steady
/// writes through both servers answered many 409s for changes that
/// touched nothing in common.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_to_different_messages_through_both_servers_are_never_refused() {
    let (_pg, a, b, _) = two_servers("parallel_writes");
    let apis = [
        Api::new(&a, Some(ADMIN_TOKEN)),
        Api::new(&b, Some(ADMIN_TOKEN)),
    ];
    let mut ids = Vec::new();
    for i in 0..12 {
        let text = format!("Tin số {i}");
        ids.push(
            apis[0]
                .create_message(json!({"title": text, "text": text}))
                .await,
        );
    }
    let last = format!("/messages/{}", ids.last().unwrap());
    let seen = eventually(Duration::from_secs(10), || async {
        (apis[1].get(&last).await.0 == 200).then_some(())
    });
    assert!(seen.await.is_some(), "server b has the messages");
    let mut writes = Vec::new();
    for round in 0..3 {
        for (i, id) in ids.iter().enumerate() {
            let api = &apis[(i + round) % 2];
            let text = format!("Tin số {i}, sửa lần {round}");
            writes.push(async move {
                api.put(
                    &format!("/messages/{id}"),
                    json!({"title": text, "text": text}),
                )
                .await
            });
        }
    }
    let answers = futures_util::future::join_all(writes).await;
    let refused: Vec<&(u16, Value)> = answers.iter().filter(|(st, _)| *st != 200).collect();
    assert!(
        refused.is_empty(),
        "{} of {} writes refused: {:?}",
        refused.len(),
        answers.len(),
        refused.first()
    );
}

/// A text with the character U+0000 is refused alike on both stores,
/// with a sentence (PostgreSQL's jsonb cannot keep it; before, the file
/// store kept it and PostgreSQL failed with its own error); a text that
/// only shows the six characters `\u0000` is kept on both.
#[test]
fn a_nul_character_is_refused_alike_on_both_stores() {
    let pg = Postgres::shared();
    let url = pg.database("nul_text");
    let (dp, df) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let stores = [
        Store::open_postgres(&url, dp.path()).unwrap(),
        Store::open(df.path()).unwrap(),
    ];
    let body = |text: &str| -> bangtin::domain::MessageBody {
        serde_json::from_value(json!({"title": "Tin", "text": text})).unwrap()
    };
    let now = chrono::Utc::now();
    let mut said = Vec::new();
    for s in &stores {
        let refused = s.create_message(body("Thông\u{0}báo"), "an", now);
        match refused {
            Err(StoreError::Refused(r)) => said.push(r.to_string()),
            other => panic!("a NUL character is refused: {other:?}"),
        }
        let shown = s.create_message(body("gõ \\u0000 như thế"), "an", now);
        assert_eq!(
            shown.unwrap().body.text.as_deref(),
            Some("gõ \\u0000 như thế")
        );
    }
    assert_eq!(said[0], said[1], "the same refusal on both stores");
    assert!(said[0].contains("U+0000"), "{}", said[0]);
}

/// A relay on loopback to the database that can drop the connections it
/// carries (a link lost) and keeps taking new ones.
struct Dropper {
    port: u16,
    carried: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
    /// New connections are closed at once (the database out of reach).
    refusing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Dropper {
    fn start(upstream: u16) -> Dropper {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let carried = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let refusing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (list, closed) = (carried.clone(), refusing.clone());
        std::thread::spawn(move || {
            for down in l.incoming().flatten() {
                if closed.load(std::sync::atomic::Ordering::SeqCst) {
                    continue;
                }
                let Ok(up) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let pipe = |mut from: std::net::TcpStream, mut to: std::net::TcpStream| {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    })
                };
                list.lock().unwrap().push(down.try_clone().unwrap());
                pipe(down.try_clone().unwrap(), up.try_clone().unwrap());
                pipe(up, down);
            }
        });
        Dropper {
            port,
            carried,
            refusing,
        }
    }

    /// From now on closes new connections at once.
    fn refuse_new(&self) {
        self.refusing
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Closes every connection carried so far.
    fn drop_all(&self) {
        for c in self.carried.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Makes commits in database `db` wait two seconds at COMMIT (a deferred
/// trigger), so that the link can be dropped while the database commits.
fn slow_commits(pg: &Postgres, db: &str) {
    pg.sql(
        db,
        "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN PERFORM pg_sleep(2); RETURN NULL; END $$; \
         CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON audit \
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow();",
    );
}

/// Whether the slow COMMIT ([`slow_commits`]) is under way in database
/// `db`: one of this database (other tests commit in theirs at the same
/// time) running for half a second at least (another connection's quick
/// COMMIT, such as a token's last use, is not the one).
fn committing(pg: &Postgres, db: &str) -> bool {
    pg.sql(
        db,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND query = 'COMMIT' AND state = 'active' \
         AND now() - query_start > interval '500 milliseconds'",
    ) == "1"
}

/// A change whose COMMIT went through while the connection dropped
/// before its answer came is reported done (the server asks the database
/// once the transaction has ended), not failed: a person told it failed
/// would make it again. (Before: an error, though the change was there.)
#[test]
fn a_commit_whose_answer_was_lost_is_known_to_have_gone_through() {
    let pg = Postgres::shared();
    let url = pg.database("lost_commit");
    let db = url.rsplit('/').next().unwrap().to_string();
    let relay = Dropper::start(pg.port);
    let through = format!("postgres://postgres@127.0.0.1:{}/{db}", relay.port);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_postgres(&through, dir.path()).unwrap();
    slow_commits(&pg, &db);
    std::thread::scope(|s| {
        let write = s.spawn(|| store.put_panel(panel("p1"), true, "an"));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !committing(&pg, &db) {
            assert!(std::time::Instant::now() < deadline, "no COMMIT under way");
            std::thread::sleep(Duration::from_millis(20));
        }
        relay.drop_all();
        let done = write.join().unwrap();
        assert!(
            done.is_ok(),
            "a committed change is reported done: {done:?}"
        );
    });
    assert_eq!(
        pg.sql(&db, "SELECT count(*) FROM documents WHERE id = 'p1'"),
        "1"
    );
    assert!(store.snapshot().panels.contains_key(&panel("p1").id));
}

/// `bangtin store migrate` out of PostgreSQL is all or nothing: a failure
/// halfway leaves no directory behind, half-written or temporary.
/// (Before, the documents written before the failure stayed.)
#[test]
fn an_export_that_fails_halfway_leaves_nothing() {
    let pg = Postgres::shared();
    let url = pg.database("export_fails");
    let db = url.rsplit('/').next().unwrap().to_string();
    {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open_postgres(&url, dir.path()).unwrap();
        s.put_panel(panel("p1"), true, "an").unwrap();
    }
    // A blob whose path runs through the panel's file: the export writes
    // the documents, then cannot make that directory.
    pg.sql(
        &db,
        "INSERT INTO blobs (kind, name, bytes) VALUES ('content/panels', 'p1.json/x', '\\x00')",
    );
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("export");
    let failed = bangtin::store::migrate::out_of_postgres(&url, &out);
    assert!(failed.is_err(), "the export fails: {failed:?}");
    let left: Vec<_> = std::fs::read_dir(parent.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A server that holds the turn to write and does not give it back (cut
/// off from the database with its session still open) holds the other's
/// writes up for a few seconds at most: then they go on without the turn.
#[test]
fn a_turn_to_write_never_given_back_does_not_stop_writes() {
    let pg = Postgres::shared();
    let url = pg.database("stuck_turn");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_postgres(&url, dir.path()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _holder = rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .execute(
                "SELECT pg_advisory_lock($1)",
                &[&bangtin::store::pg::WRITE_LOCK],
            )
            .await
            .unwrap();
        client
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(store.put_panel(panel("p1"), true, "an"));
    });
    let done = rx.recv_timeout(Duration::from_secs(30));
    assert!(
        matches!(done, Ok(Ok(_))),
        "a write waits for the turn a few seconds at most, then goes through: {done:?}"
    );
}

/// The alarm settings saved through one server without their secrets
/// (the dashboard never sends stored secrets back) keep the secret the
/// other server set a moment before, though this server has not taken
/// that change into its own copy yet: the secrets left out are filled in
/// from the database's latest copy, under the file's lock. (Before, they
/// were filled in from this server's copy, so the other server's new
/// secret, acknowledged, was replaced with the old one.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_settings_saved_without_secrets_keep_the_other_servers_new_secret() {
    let (_pg, a, b, _) = two_servers("alarm_secrets");
    let (api_a, api_b) = (
        Api::new(&a, Some(ADMIN_TOKEN)),
        Api::new(&b, Some(ADMIN_TOKEN)),
    );
    let settings = |secret: Option<&str>, offline_after_s: u64| {
        let mut webhook = json!({"url": "http://127.0.0.1:9/hook"});
        if let Some(s) = secret {
            webhook["secret"] = json!(s);
        }
        json!({"offline_after_s": offline_after_s, "webhook": webhook,
            "email": {"host": "127.0.0.1", "from": "bangtin@vi.du", "to": ["truc@vi.du"],
                "password": secret}})
    };
    let stored = |s: &Server| -> Option<Value> {
        let text = std::fs::read_to_string(s.data.join("secrets/alarms.json")).ok()?;
        serde_json::from_str(&text).ok()
    };
    let (st, v) = api_a
        .put("/alarms/config", settings(Some("bi-mat-cu"), 600))
        .await;
    assert_eq!(st, 200, "{v}");
    let synced = eventually(Duration::from_secs(15), || async {
        stored(&b)
            .filter(|c| c["webhook"]["secret"] == "bi-mat-cu")
            .map(|_| ())
    })
    .await;
    assert!(synced.is_some(), "server b took the first settings");

    // A changes the secrets; B, which has not taken that change yet (it
    // takes the shared files every 2 s), saves a threshold at once.
    let (st, v) = api_a
        .put("/alarms/config", settings(Some("bi-mat-moi"), 600))
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = api_b.put("/alarms/config", settings(None, 300)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["webhook_secret_set"], true, "{v}");
    for s in [&a, &b] {
        let kept = eventually(Duration::from_secs(15), || async {
            stored(s).filter(|c| c["offline_after_s"] == 300)
        })
        .await
        .expect("both servers have the last settings");
        assert_eq!(
            (&kept["webhook"]["secret"], &kept["email"]["password"]),
            (&json!("bi-mat-moi"), &json!("bi-mat-moi")),
            "{}: the secrets server a set are kept",
            s.base
        );
    }
}

/// A change whose COMMIT was sent when the connection dropped, and the
/// database then out of reach, so that whether it went through cannot be
/// learnt: answered 503 with a sentence saying the change may or may not
/// have been saved and to look before making it again (not 500 "failed":
/// a person told it failed would make it again, though it may be there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_outcome_cannot_be_learnt_is_503_saying_so() {
    let pg = Postgres::shared();
    let url = pg.database("unknown_commit");
    let db = url.rsplit('/').next().unwrap().to_string();
    let relay = Dropper::start(pg.port);
    let through = format!("postgres://postgres@127.0.0.1:{}/{db}", relay.port);
    let server = Server::start_with(ServerOpts {
        extra_args: vec!["--store".into(), through],
        ..Default::default()
    });
    let api = Api::new(&server, Some(ADMIN_TOKEN));
    slow_commits(&pg, &db);
    let put = tokio::spawn({
        let api = api.clone();
        async move {
            api.post(
                "/panels",
                json!({"id": "p1", "name": "Bảng p1", "width": 64, "height": 16,
                    "format": "mono1", "groups": ["d1"]}),
            )
            .await
        }
    });
    let under_way = eventually(Duration::from_secs(10), || async {
        committing(&pg, &db).then_some(())
    })
    .await;
    assert!(under_way.is_some(), "no COMMIT under way");
    relay.refuse_new();
    relay.drop_all();
    let (st, v) = put.await.unwrap();
    assert_eq!(
        (st, v["error"].as_str()),
        (503, Some("outcome_unknown")),
        "{v}"
    );
    let said = v["message"].as_str().unwrap();
    assert!(
        said.contains("not known whether the change was saved") && said.contains("reload"),
        "{said}"
    );
}

/// `bangtin store migrate` carries tokens' last uses both ways: from the
/// token file into PostgreSQL's table of uses, and from that table back
/// into the exported token file, the newer time winning. (Before, the
/// way in left the table empty and the way out dropped every use noted
/// on PostgreSQL: an export showed tokens in use as never used.)
#[test]
fn tokens_last_uses_move_with_the_store_both_ways() {
    use bangtin::store::tokens::TokenStore;
    let pg = Postgres::shared();
    let url = pg.database("token_uses_migrate");
    let (from, back) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let at = |s: i64| chrono::DateTime::from_timestamp(1_790_000_000 + s, 0).unwrap();
    let file = |d: &std::path::Path| d.join("secrets/tokens.json");
    let tokens = TokenStore::open(&file(from.path()), None).unwrap();
    let may = tokens
        .create("may-tram", &[bangtin::domain::Role::Feed])
        .unwrap();
    tokens
        .create("cu", &[bangtin::domain::Role::Editor])
        .unwrap();
    tokens.check(&may, at(0)).unwrap();
    tokens.write_last_used();
    let sha: std::collections::HashMap<String, String> =
        serde_json::from_str::<Vec<Value>>(&std::fs::read_to_string(file(from.path())).unwrap())
            .unwrap()
            .into_iter()
            .map(|e| {
                (
                    e["name"].as_str().unwrap().into(),
                    e["sha256"].as_str().unwrap().into(),
                )
            })
            .collect();

    bangtin::store::migrate::into_postgres(from.path(), &url).unwrap();
    let db = bangtin::store::pg::Postgres::open(&url).unwrap();
    assert_eq!(
        db.token_uses().unwrap(),
        vec![(sha["may-tram"].clone(), at(0))],
        "the token file's last use is in the table"
    );
    // Uses noted on PostgreSQL: a newer one, and a first one.
    db.note_token_uses(&[
        (sha["may-tram"].clone(), at(60)),
        (sha["cu"].clone(), at(30)),
    ])
    .unwrap();

    let out = back.path().join("export");
    bangtin::store::migrate::out_of_postgres(&url, &out).unwrap();
    let shown: std::collections::HashMap<String, Option<chrono::DateTime<chrono::Utc>>> =
        TokenStore::open(&file(&out), None)
            .unwrap()
            .list()
            .into_iter()
            .map(|t| (t.name, t.last_used_at))
            .collect();
    assert_eq!(shown["may-tram"], Some(at(60)), "the newer use wins");
    assert_eq!(shown["cu"], Some(at(30)), "a use noted on PostgreSQL only");
}

/// A shared file whose lock another server holds and does not give back
/// (cut off with its session still open) is not written: after a few
/// seconds the write is refused as changed elsewhere, and nothing is
/// written; once the lock is free, the write goes through.
#[test]
fn a_shared_file_held_elsewhere_is_refused_after_a_few_seconds() {
    let pg = Postgres::shared();
    let url = pg.database("held_file");
    let db = bangtin::store::pg::Postgres::open(&url).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let holder = rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .execute(
                "SELECT pg_advisory_lock($1, hashtext($2))",
                &[&bangtin::store::pg::SHARED_FILE_LOCK, &"cap.json"],
            )
            .await
            .unwrap();
        client
    });
    let started = std::time::Instant::now();
    let refused = db.update_shared_file("cap.json", |_| Ok(b"{}".to_vec()));
    assert!(
        matches!(&refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(db.shared_file("cap.json").unwrap(), None, "nothing written");
    drop(holder);
    let written = db.update_shared_file("cap.json", |_| Ok(b"{}".to_vec()));
    assert_eq!(written.unwrap(), b"{}");
}

/// A relay on loopback to the database that can freeze: from then on it
/// carries nothing either way and closes nothing, so the client hears
/// nothing more (as on a link gone silent) while the database may end
/// the session on its side. New connections made while frozen hang.
struct Freezer {
    port: u16,
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The relay's own ports towards the database (the sessions' client
    /// ports there).
    ports: std::sync::Arc<std::sync::Mutex<Vec<u16>>>,
}

impl Freezer {
    fn start(upstream: u16) -> Freezer {
        use std::sync::atomic::Ordering;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let frozen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ports = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (f, list) = (frozen.clone(), ports.clone());
        std::thread::spawn(move || {
            // Every socket stays open as long as the relay runs.
            let mut kept = Vec::new();
            for down in l.incoming().flatten() {
                kept.push(down.try_clone().unwrap());
                if f.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(up) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                list.lock().unwrap().push(up.local_addr().unwrap().port());
                kept.push(up.try_clone().unwrap());
                let pipe = |mut from: std::net::TcpStream, mut to: std::net::TcpStream| {
                    let f = f.clone();
                    std::thread::spawn(move || {
                        use std::io::{Read, Write};
                        let mut buf = vec![0u8; 65536];
                        loop {
                            let n = from.read(&mut buf).unwrap_or(0);
                            if n == 0
                                || f.load(Ordering::SeqCst)
                                || to.write_all(&buf[..n]).is_err()
                            {
                                return;
                            }
                        }
                    });
                };
                pipe(down, up.try_clone().unwrap());
                pipe(up, kept[kept.len() - 2].try_clone().unwrap());
            }
        });
        Freezer {
            port,
            frozen,
            ports,
        }
    }
}

/// A server in [`a_leader_deposed_while_reserving_never_overlaps_the_next`]:
/// it campaigns through its own [`Freezer`] and runs a player's worth of
/// sequence numbers on a thread, following its lead (as a follower too).
struct Contender {
    lead: std::sync::Arc<Leadership>,
    relay: Freezer,
    /// Per panel, the numbers handed out while it led.
    used: std::sync::Arc<std::sync::Mutex<Vec<Vec<u32>>>>,
    /// Reservations refused while it still believed it led.
    refused: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    worker: std::thread::JoinHandle<()>,
}

impl Contender {
    fn start(pg: &Postgres, url: &str, panels: usize) -> Contender {
        use std::sync::atomic::Ordering;
        let relay = Freezer::start(pg.port);
        let relayed = url.replace(&format!(":{}/", pg.port), &format!(":{}/", relay.port));
        let lead = std::sync::Arc::new(Leadership::default());
        // As the player hears of each takeover (`Command::TookLead`).
        let (took, took_lead) = std::sync::mpsc::channel();
        bangtin::store::pg::campaign(&relayed, lead.clone(), move |_| {
            let _ = took.send(());
        })
        .unwrap();
        let db = std::sync::Arc::new(bangtin::store::pg::Postgres::open(url).unwrap());
        let mut seq = SeqAllocator::open_postgres(db)
            .unwrap()
            .following(lead.clone());
        let used = std::sync::Arc::new(std::sync::Mutex::new(vec![Vec::new(); panels]));
        let refused = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let names: Vec<String> = (0..panels).map(|i| format!("p{i}")).collect();
        let (l, u, r, s) = (lead.clone(), used.clone(), refused.clone(), stop.clone());
        let worker = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                // Between passes the player takes the lead it was told of.
                if took_lead.try_recv().is_ok() {
                    seq.took_lead().expect("the marks read again");
                }
                for (i, name) in names.iter().enumerate() {
                    // As the player does: a number, then the frame goes
                    // out only if this server sends (app.rs's gate).
                    match seq.next(name) {
                        Ok(n) if l.sends() => u.lock().unwrap()[i].push(n),
                        Ok(_) => {}
                        Err(e) => {
                            assert!(e.to_string().contains("epoch"), "{e}");
                            if l.sends() {
                                r.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    }
                }
            }
        });
        Contender {
            lead,
            relay,
            used,
            refused,
            stop,
            worker,
        }
    }

    /// How many numbers it handed out while it led.
    fn count(&self) -> usize {
        self.used.lock().unwrap().iter().map(Vec::len).sum()
    }

    /// Its link to the database goes silent, and the database ends the
    /// session that holds its lock: another server can take over at once,
    /// while this one believes it leads until its checks time out.
    fn cut(&self, pg: &Postgres, db: &str) {
        self.relay
            .frozen
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let ports: Vec<String> = self
            .relay
            .ports
            .lock()
            .unwrap()
            .iter()
            .map(u16::to_string)
            .collect();
        let ended = pg.sql(
            db,
            &format!(
                "SELECT count(pg_terminate_backend(a.pid)) FROM pg_locks l \
                 JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' \
                 AND l.granted AND a.client_port IN ({})",
                ports.join(",")
            ),
        );
        assert_eq!(ended, "1", "the session holding its lock was ended");
    }

    /// Stops its worker; the numbers it handed out while it led.
    fn finish(self) -> (Vec<Vec<u32>>, usize) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.worker.join().expect("the worker's numbers");
        let used = std::mem::take(&mut *self.used.lock().unwrap());
        (used, self.refused.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// Waits up to `secs` seconds for `f`.
fn wait_for(secs: u64, what: &str, f: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A real takeover while the leader reserves: the leader hands out
/// numbers for many panels in a loop (a block every few milliseconds),
/// its link goes silent and the database ends its lock's session, the
/// next server takes over and hands out numbers at once, while the first
/// still believes it leads (for a second or two). Every number the
/// deposed leader handed out while it believed it led is below every
/// number the next hands out, panel by panel, and its reservations are
/// refused from the takeover on. Round after round, each new leader is
/// the next one deposed.
#[test]
fn a_leader_deposed_while_reserving_never_overlaps_the_next() {
    const PANELS: usize = 40;
    const ROUNDS: usize = 10;
    let pg = Postgres::shared();
    let url = pg.database("takeover_race");
    let name = url.rsplit('/').next().unwrap().to_string();
    drop(Store::open_postgres(&url, tempfile::tempdir().unwrap().path()).unwrap());
    let mut leader = Contender::start(&pg, &url, PANELS);
    wait_for(10, "the first server leads", || leader.lead.leading());
    for round in 0..ROUNDS {
        let next = Contender::start(&pg, &url, PANELS);
        // The leader reserves a few blocks per panel under its epoch.
        let had = leader.count();
        wait_for(30, "the leader hands out numbers", || {
            leader.count() >= had + PANELS * 2 * bangtin::store::seq::BLOCK as usize
        });
        assert!(!next.lead.leading(), "one leader at a time");
        leader.cut(&pg, &name);
        wait_for(10, "the next server takes over", || {
            next.lead.leading() && next.lead.epoch() > leader.lead.epoch()
        });
        let overlapped = leader.lead.leading();
        wait_for(10, "the deposed server stops leading", || {
            !leader.lead.leading()
        });
        wait_for(10, "the next leader serves every panel", || {
            next.used.lock().unwrap().iter().all(|u| !u.is_empty())
        });
        let epoch = leader.lead.epoch();
        let (deposed, refused) = std::mem::replace(&mut leader, next).finish();
        let now = leader.used.lock().unwrap().clone();
        for (p, (old, new)) in deposed.iter().zip(&now).enumerate() {
            let (high, low) = (old.iter().max().unwrap(), new.iter().min().unwrap());
            assert!(
                high < low,
                "round {round}, panel p{p}: the deposed leader (epoch {epoch}) used {high}, \
                 the next leader (epoch {}) {low}",
                leader.lead.epoch()
            );
        }
        assert!(overlapped, "round {round}: the two never led at once");
        assert!(
            refused > 0,
            "round {round}: the deposed leader never needed a block while it believed it led"
        );
        eprintln!("round {round}: epoch {epoch} deposed, {refused} reservations refused");
    }
    leader.cut(&pg, &name);
    leader.finish();
}

/// Proof of play kept in PostgreSQL answers as `state/plays.redb` does:
/// the same rows in the same order, a verified ack marking the row an
/// unverified one made (also within one batch), queries by time, panel
/// and limit, pruning, and the fleet's online samples.
#[test]
fn proof_of_play_in_postgres_answers_as_the_file_does() {
    let pg = Postgres::shared();
    let url = pg.database("plays");
    let dir = tempfile::tempdir().unwrap();
    let file = Plays::open(&dir.path().join("plays.redb")).unwrap();
    let db = Plays::on_postgres(&url).unwrap();
    let at = |s: i64| chrono::DateTime::from_timestamp(1_764_460_800 + s, 0).unwrap();
    let play = |panel: &str, seq: u32, s: i64, verified: bool| Play {
        panel: panel.into(),
        message: Some("bao-so-3".into()),
        campaign: None,
        alert: (seq == 7).then(|| "canh-bao".to_string()),
        seq,
        shown_at: at(s),
        verified,
    };
    let mut answers = Vec::new();
    for plays in [&file, &db] {
        plays
            .insert(&[
                play("b", 1, 0, false),
                play("a", 1, 0, false),
                play("a", 2, 60, false),
                // The same frame acked twice in one batch, the second
                // time naming its CRC.
                play("c", 7, 60, false),
                play("c", 7, 60, true),
            ])
            .unwrap();
        plays.insert(&[play("a", 1, 0, true)]).unwrap();
        plays.insert(&[play("b", 1, 0, false)]).unwrap();
        for (s, online) in [(0, 1), (300, 3)] {
            plays
                .record_online(OnlineSample {
                    at: at(s),
                    online,
                    panels: 3,
                })
                .unwrap();
        }
        let all = plays.query(at(0), at(120), None, 100).unwrap();
        let of_a = plays.query(at(0), at(120), Some("a"), 100).unwrap();
        let first_two = plays.query(at(0), at(120), None, 2).unwrap();
        let of_alert = plays
            .of_alerts(at(0), at(120), &["canh-bao".to_string()], 10)
            .unwrap();
        let mut chunks = Vec::new();
        let n = plays
            .each_chunk(3, |rows| {
                chunks.push(rows.len());
                Ok(())
            })
            .unwrap();
        let online = plays.online_between(at(0), at(600), 10).unwrap();
        let pruned = (
            plays.prune_before(at(30)).unwrap(),
            plays.prune_online_before(at(30)).unwrap(),
        );
        let left = plays.query(at(0), at(120), None, 100).unwrap();
        answers.push((
            all,
            of_a,
            first_two,
            of_alert,
            (n, chunks),
            online,
            pruned,
            left,
        ));
    }
    let (all, of_a, first_two, of_alert, chunks, online, pruned, left) = &answers[0];
    let order: Vec<(&str, u32, bool)> = all
        .iter()
        .map(|p| (p.panel.as_str(), p.seq, p.verified))
        .collect();
    assert_eq!(
        order,
        [
            ("a", 1, true),
            ("b", 1, false),
            ("a", 2, false),
            ("c", 7, true)
        ]
    );
    assert_eq!(of_a.len(), 2);
    assert_eq!(first_two[..], all[..2]);
    assert_eq!(of_alert[..], all[3..]);
    assert_eq!(*chunks, (4, vec![3, 1]));
    assert_eq!(online.len(), 2);
    assert_eq!(*pruned, (2, 1));
    assert_eq!(left[..], all[2..]);
    assert_eq!(answers[1], answers[0], "PostgreSQL answers as the file");
}

/// A server that kept proof of play in its own `state/plays.redb` (the
/// file store, or a version before proof of play moved into the
/// database) moves those rows into the database when it starts on the
/// PostgreSQL store, so every server's reports show them; the file is
/// kept, renamed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proof_of_play_a_server_kept_itself_moves_into_the_database() {
    let pg = Postgres::shared();
    let url = pg.database("adopt_plays");
    let opts = ServerOpts {
        extra_args: vec!["--store".into(), url],
        ..Default::default()
    };
    let mut a = Server::start_with(opts.clone());
    a.kill9();
    let now = chrono::Utc::now();
    let kept: Vec<Play> = (1..=3)
        .map(|seq| Play {
            panel: "p1".into(),
            message: Some("bao-so-3".into()),
            campaign: None,
            alert: None,
            seq,
            shown_at: now - chrono::Duration::seconds(60 - i64::from(seq)),
            verified: seq != 2,
        })
        .collect();
    let file = a.data.join("state/plays.redb");
    Plays::open(&file).unwrap().insert(&kept).unwrap();
    a.restart();
    let b = Server::start_with(opts);
    let api_b = Api::new(&b, Some(ADMIN_TOKEN));
    let (_, rows) = api_b.get(&super::util::plays_query("p1")).await;
    let seen: Vec<(u64, bool)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["seq"].as_u64().unwrap(), r["verified"].as_bool().unwrap()))
        .collect();
    assert_eq!(seen, [(1, true), (2, false), (3, true)], "{rows}");
    assert!(!file.exists(), "the file was moved aside");
    assert!(a.data.join("state/plays.redb.moved").exists());
}
