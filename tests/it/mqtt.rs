//! The MQTT edge over real sockets: the server's publisher, the embedded
//! broker, a real Mosquitto (restarts, ACLs) and the reference controller.

use std::time::Duration;

use bangtin::domain::{Id, PixelFormat};
use bangtin::frame::{self, Header};
use bangtin::mqtt::controller::{self, ControllerArgs};
use bangtin::mqtt::{
    self, topics, Access, Authenticate, BrokerUrl, Counters, EmbeddedBroker, Inbound, LinkOptions,
    Publisher, SERVER_USER,
};
use bytes::Bytes;
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, Publish, QoS, SubscribeReasonCode};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::util::{free_port, next_shown, try_publish, MosquittoProcess};

/// What the reference controller says it takes: bundles (`btb1`), and no
/// BTZ1 coding unless started with a decoder.
const PLAYS_BUNDLES: bangtin::codec::Accepts = bangtin::codec::Accepts {
    rle: false,
    deflate: false,
    delta: false,
    bundle: true,
};

const WAIT: Duration = Duration::from_secs(5);
const ROOT: &str = "bangtin";

fn id(s: &str) -> Id {
    Id::parse(s).unwrap()
}

fn mono_frame(seq: u32, valid_until: u64) -> Bytes {
    let h = Header {
        format: PixelFormat::Mono1,
        brightness: 255,
        width: 16,
        height: 8,
        flags: 0,
        seq,
        valid_until,
    };
    let data: Vec<u8> = (0..16)
        .map(|i| (i as u8).wrapping_mul(37) ^ seq as u8)
        .collect();
    Bytes::from(frame::encode(&h, &data))
}

fn link(url: &str, client_id: &str) -> (Publisher, mpsc::Receiver<Inbound>) {
    let mut opts = LinkOptions::new(url.parse().unwrap());
    opts.client_id = client_id.into();
    mqtt::connect(opts)
}

async fn next_inbound(rx: &mut mpsc::Receiver<Inbound>) -> Inbound {
    timeout(WAIT, rx.recv())
        .await
        .expect("no inbound event within 5 s")
        .expect("inbound channel closed")
}

/// Waits for an inbound event matching `f`, skipping others.
async fn wait_inbound(
    rx: &mut mpsc::Receiver<Inbound>,
    what: &str,
    f: impl Fn(&Inbound) -> bool,
) -> Inbound {
    wait_inbound_within(rx, what, WAIT, f).await
}

/// [`wait_inbound`] with its own deadline.
async fn wait_inbound_within(
    rx: &mut mpsc::Receiver<Inbound>,
    what: &str,
    within: Duration,
    f: impl Fn(&Inbound) -> bool,
) -> Inbound {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(m)) if f(&m) => return m,
            Ok(Some(_)) => {}
            Ok(None) => panic!("inbound channel closed waiting for {what}"),
            Err(_) => panic!("no {what} within {within:?}"),
        }
    }
}

/// Returns once the broker delivers `client`'s reports to the link. The
/// link says `Connected` at its CONNACK, before the broker has handled its
/// SUBSCRIBE: a report another client publishes in between is not sent to
/// the link, and one not retained is lost (a full test run lost the one a
/// test waited for). So `client` publishes a probe on `panel`'s `kind`
/// topic ("status" or "ack"), not retained, until one comes through;
/// other events are skipped. Use the topic of the reports the test sends
/// next: a broker keeps one client's order on one topic, so a probe that
/// arrives late still arrives before them.
async fn until_reports_reach_the_link(
    rx: &mut mpsc::Receiver<Inbound>,
    client: &TestClient,
    panel: &str,
    kind: &str,
) {
    let topic = format!("bangtin/panels/{panel}/{kind}");
    let (probe, is_probe): (&str, fn(&Inbound) -> bool) = match kind {
        "status" => (
            r#"{"online":true,"firmware":"probe"}"#,
            |m| matches!(m, Inbound::Status { firmware: Some(f), .. } if f == "probe"),
        ),
        "ack" => (r#"{"seq":4294967295}"#, |m| {
            matches!(m, Inbound::Ack { seq: u32::MAX, .. })
        }),
        other => panic!("no probe on {other}"),
    };
    let deadline = tokio::time::Instant::now() + 4 * WAIT;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the link heard none of {panel}'s probes within {:?}",
            4 * WAIT
        );
        client.publish(&topic, false, probe).await;
        let window = tokio::time::Instant::now() + Duration::from_millis(200);
        while let Ok(m) = tokio::time::timeout_at(window, rx.recv()).await {
            if is_probe(&m.expect("inbound channel closed")) {
                return;
            }
        }
    }
}

/// Waits for `panel`'s controller to acknowledge `seq`, skipping other events.
async fn wait_ack(rx: &mut mpsc::Receiver<Inbound>, panel: &str, seq: u32) {
    let want = id(panel);
    wait_inbound(
        rx,
        &format!("{panel}'s ack of seq {seq}"),
        |m| matches!(m, Inbound::Ack { panel, seq: s, .. } if *panel == want && *s == seq),
    )
    .await;
}

/// A plain MQTT client for checking what the broker holds and delivers.
pub(crate) struct TestClient {
    client: AsyncClient,
    rx: mpsc::UnboundedReceiver<Publish>,
    pub(crate) suback: Vec<SubscribeReasonCode>,
}

impl TestClient {
    pub(crate) async fn connect(url: &str, client_id: &str, filters: &[&str]) -> TestClient {
        let url: BrokerUrl = url.parse().unwrap();
        let mut mo = MqttOptions::new(client_id, &url.host, url.port);
        mo.set_max_packet_size(8 << 20, 8 << 20);
        if let Some(u) = &url.username {
            mo.set_credentials(u, url.password.clone().unwrap_or_default());
        }
        let (client, mut el) = AsyncClient::new(mo, 64);
        let (tx, rx) = mpsc::unbounded_channel();
        let (sub_tx, mut sub_rx) = mpsc::unbounded_channel();
        let filters: Vec<String> = filters.iter().map(|s| s.to_string()).collect();
        // One SUBACK per filter, or one marker on CONNACK when there are none.
        let want = filters.len().max(1);
        let c2 = client.clone();
        tokio::spawn(async move {
            loop {
                match el.poll().await {
                    Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                        if filters.is_empty() {
                            let _ = sub_tx.send((0, vec![]));
                        }
                        for f in &filters {
                            c2.try_subscribe(f, QoS::AtLeastOnce).unwrap();
                        }
                    }
                    Ok(Event::Incoming(Incoming::SubAck(s))) => {
                        let _ = sub_tx.send((s.pkid, s.return_codes));
                    }
                    Ok(Event::Incoming(Incoming::Publish(p))) => {
                        if tx.send(p).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        // SUBACKs may come in any order (MQTT orders only publish acks):
        // put them in the order of the filters, by packet id.
        let mut acks = Vec::new();
        for _ in 0..want {
            let ack = timeout(WAIT, sub_rx.recv())
                .await
                .expect("no CONNACK/SUBACK within 5 s")
                .unwrap();
            acks.push(ack);
        }
        acks.sort_by_key(|(pkid, _)| *pkid);
        let suback = acks.into_iter().flat_map(|(_, codes)| codes).collect();
        TestClient { client, rx, suback }
    }

    pub(crate) async fn next(&mut self) -> Publish {
        timeout(WAIT, self.rx.recv())
            .await
            .expect("no message within 5 s")
            .expect("client gone")
    }

    /// The next message on `topic`, skipping others.
    pub(crate) async fn next_on(&mut self, topic: &str) -> Publish {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let p = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("nothing on {topic} within 5 s"))
                .expect("client gone");
            if p.topic == topic {
                return p;
            }
        }
    }

    pub(crate) async fn publish(&self, topic: &str, retain: bool, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .await
            .unwrap();
    }
}

enum Broker {
    Embedded(EmbeddedBroker),
    Mosquitto(MosquittoProcess),
}

/// The password the embedded brokers of these tests take from `user`.
fn password_of(user: &str) -> String {
    format!("pw-{user}")
}

/// Admits the server principal and every panel's controller with
/// [`password_of`] their user name.
fn test_access() -> Arc<dyn Authenticate> {
    Arc::new(|user: &str, password: &str| {
        (password == password_of(user))
            .then(|| Access::for_user(user))
            .flatten()
    })
}

impl Broker {
    fn embedded() -> Broker {
        Broker::embedded_counting(Arc::default())
    }
    /// An embedded broker whose refusals and denials go to `counters`.
    fn embedded_counting(counters: Arc<Counters>) -> Broker {
        // A free port can be taken again before the broker binds it.
        for _ in 0..5 {
            let port = free_port();
            let listen = ([127, 0, 0, 1], port).into();
            match mqtt::start_embedded_broker(listen, ROOT, test_access(), counters.clone()) {
                Ok(b) => return Broker::Embedded(b),
                Err(e) => eprintln!("retrying: {e}"),
            }
        }
        panic!("the embedded broker did not start on any of 5 free ports");
    }
    fn mosquitto() -> Broker {
        Broker::Mosquitto(MosquittoProcess::start(""))
    }
    /// With `user`'s credential (a test Mosquitto takes anyone).
    fn url_as(&self, user: &str) -> String {
        match self {
            Broker::Embedded(b) => format!(
                "mqtt://{user}:{}@127.0.0.1:{}",
                password_of(user),
                b.listen.port()
            ),
            Broker::Mosquitto(m) => m.url(),
        }
    }
    /// Full access: the server principal on the embedded broker.
    fn url(&self) -> String {
        self.url_as(SERVER_USER)
    }
    /// Where a panel's controller connects, with its credential.
    fn controller_url(&self, panel: &str) -> BrokerUrl {
        self.url_as(panel).parse().unwrap()
    }
    /// Where the server's own link connects (rumqttd itself, embedded).
    fn link_url(&self) -> String {
        match self {
            Broker::Embedded(b) => {
                let u = &b.internal;
                let (user, pass) = (
                    u.username.as_deref().unwrap(),
                    u.password.as_deref().unwrap(),
                );
                format!("mqtt://{user}:{pass}@{}:{}", u.host, u.port)
            }
            Broker::Mosquitto(m) => m.url(),
        }
    }
}

/// Makes the broker-generic check `$name` two tests, `$name::embedded`
/// and `$name::mosquitto`: the same assertions against the embedded broker
/// and a real Mosquitto. Extra arguments follow the broker.
macro_rules! on_both_brokers {
    ($name:ident $(, $arg:expr)*) => {
        mod $name {
            use super::Broker;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                super::$name(&Broker::embedded() $(, $arg)*).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mosquitto() {
                super::$name(&Broker::mosquitto() $(, $arg)*).await;
            }
        }
    };
}

/// Publisher → retained frame for a late subscriber, byte for byte;
/// clear_frame removes it; controllers' reports come back as Inbound; the
/// server's status goes online, then offline on shutdown.
async fn publisher_round_trip(broker: &Broker) {
    let url = broker.url();
    let mut watcher = TestClient::connect(&url, "watcher", &["bangtin/#"]).await;
    let (publisher, mut inbound) = link(&broker.link_url(), "bangtin-server");
    assert_eq!(next_inbound(&mut inbound).await, Inbound::Connected);
    assert!(publisher.is_connected());
    let online = watcher.next_on("bangtin/server/status").await;
    assert_eq!(&online.payload[..], b"online");

    let (p1, p2) = (id("p1"), id("p2"));
    let f1 = mono_frame(10, 0);
    publisher.publish_frame(&p1, f1.clone()).await.unwrap();
    publisher
        .publish_frame(&p2, mono_frame(11, 0))
        .await
        .unwrap();
    // The broker has both once the watcher saw them.
    assert_eq!(watcher.next_on("bangtin/panels/p1/frame").await.payload, f1);
    watcher.next_on("bangtin/panels/p2/frame").await;

    let mut late = TestClient::connect(&url, "late", &["bangtin/panels/p1/frame"]).await;
    let got = late.next().await;
    assert!(got.retain, "a late subscriber gets the retained frame");
    assert_eq!(got.payload, f1, "byte for byte");

    publisher.clear_frame(&p1).await.unwrap();
    assert!(watcher
        .next_on("bangtin/panels/p1/frame")
        .await
        .payload
        .is_empty());
    let mut later = TestClient::connect(&url, "later", &["bangtin/panels/+/frame"]).await;
    let only = later.next().await;
    assert_eq!(
        only.topic, "bangtin/panels/p2/frame",
        "p1's retained frame is gone"
    );
    assert!(
        timeout(Duration::from_millis(300), later.rx.recv())
            .await
            .is_err(),
        "nothing retained for p1"
    );

    // Reports: malformed ones are dropped, the next good one arrives.
    let ctl = TestClient::connect(&broker.url_as("p7"), "p7", &[]).await;
    ctl.publish("bangtin/panels/p7/status", true, "not json")
        .await;
    ctl.publish("bangtin/panels/BAD/ack", false, r#"{"seq":1}"#)
        .await;
    ctl.publish(
        "bangtin/panels/p7/status",
        true,
        r#"{"online":true,"firmware":"fw 2.1","seq":9}"#,
    )
    .await;
    ctl.publish("bangtin/panels/p7/ack", false, r#"{"seq":"x"}"#)
        .await;
    ctl.publish("bangtin/panels/p7/ack", false, r#"{"seq":4000000000}"#)
        .await;
    // Different topics: rumqttd does not keep their relative order.
    let mut got = vec![
        next_inbound(&mut inbound).await,
        next_inbound(&mut inbound).await,
    ];
    got.sort_by_key(|m| matches!(m, Inbound::Ack { .. }));
    assert_eq!(
        got,
        [
            Inbound::Status {
                panel: id("p7"),
                online: true,
                firmware: Some("fw 2.1".into()),
                seq: Some(9),
                accepts: Default::default()
            },
            Inbound::Ack {
                panel: id("p7"),
                seq: 4_000_000_000,
                crc: None
            },
        ]
    );
    ctl.publish("bangtin/panels/p7/status", true, "").await; // clean up the retained status

    publisher.shutdown().await;
    assert!(!publisher.is_connected());
    let offline = watcher.next_on("bangtin/server/status").await;
    assert_eq!(&offline.payload[..], b"offline");
    assert!(matches!(
        publisher.publish_frame(&p1, f1).await,
        Err(mqtt::MqttError::Closed)
    ));
    let mut after = TestClient::connect(&url, "after", &["bangtin/server/status"]).await;
    assert_eq!(&after.next().await.payload[..], b"offline", "retained");
}

on_both_brokers!(publisher_round_trip);

/// The server's Last Will: its process dies (runtime dropped, socket closed
/// without DISCONNECT) and the broker publishes `offline`.
async fn last_will(broker: &Broker) {
    let mut watcher =
        TestClient::connect(&broker.url(), "watcher", &["bangtin/server/status"]).await;
    let url2 = broker.link_url();
    let (up_tx, up_rx) = std::sync::mpsc::channel();
    let (die_tx, die_rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (_publisher, mut inbound) = link(&url2, "doomed-server");
            assert_eq!(next_inbound(&mut inbound).await, Inbound::Connected);
            up_tx.send(()).unwrap();
            tokio::task::spawn_blocking(move || die_rx.recv())
                .await
                .ok();
            std::mem::forget(_publisher);
        });
        drop(rt); // every task and socket goes, as when the process is killed
    });
    tokio::task::spawn_blocking(move || up_rx.recv_timeout(WAIT).unwrap())
        .await
        .unwrap();
    assert_eq!(&watcher.next().await.payload[..], b"online");
    die_tx.send(()).unwrap();
    tokio::task::spawn_blocking(move || server.join().unwrap())
        .await
        .unwrap();
    let will = watcher.next().await;
    assert_eq!(&will.payload[..], b"offline", "Last Will");
}

on_both_brokers!(last_will);

/// The reference controller shows, acks, rejects bad CRC and replays, and
/// reports online/offline.
async fn controller_round_trip(broker: &Broker) {
    let (publisher, mut inbound) = link(&broker.link_url(), "bangtin-server");
    assert_eq!(next_inbound(&mut inbound).await, Inbound::Connected);
    let p1 = id("p1");
    // A frame waiting before the controller boots: it gets it retained.
    publisher
        .publish_frame(&p1, mono_frame(5, 0))
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut args = ControllerArgs::new(p1.clone(), broker.controller_url("p1"));
    args.firmware = "ref-test".into();
    args.out = Some(out.path().to_path_buf());
    let mut fleet = controller::spawn_fleet(&args).unwrap();

    let status = wait_inbound(&mut inbound, "p1 online", |m| {
        matches!(m, Inbound::Status { online: true, .. })
    })
    .await;
    assert_eq!(
        status,
        Inbound::Status {
            panel: p1.clone(),
            online: true,
            firmware: Some("ref-test".into()),
            seq: None,
            accepts: PLAYS_BUNDLES
        }
    );
    let shown = next_shown(&mut fleet).await;
    assert_eq!(
        (shown.panel.as_str(), shown.seq, shown.width, shown.height),
        ("p1", 5, 16, 8)
    );
    assert_eq!(shown.format, PixelFormat::Mono1);
    wait_ack(&mut inbound, "p1", 5).await;

    // Corrupt CRC, then a replay of an older seq, then a good frame.
    let mut bad = mono_frame(6, 0).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    publisher
        .publish_frame(&p1, Bytes::from(bad))
        .await
        .unwrap();
    publisher
        .publish_frame(&p1, mono_frame(4, 0))
        .await
        .unwrap();
    let expiring_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let seven = mono_frame(7, expiring_at);
    let seven_crc = frame::decode(&seven).unwrap().crc;
    publisher.publish_frame(&p1, seven).await.unwrap();
    let shown = next_shown(&mut fleet).await;
    assert_eq!(
        shown.seq, 7,
        "the corrupt frame and the replay were not shown"
    );
    assert_eq!(
        next_inbound(&mut inbound).await,
        Inbound::Ack {
            panel: p1.clone(),
            seq: 7,
            crc: Some(seven_crc)
        },
        "no ack for rejected frames; the ack names the CRC of what is shown"
    );
    let png = out.path().join("p1-7.png");
    let deadline = std::time::Instant::now() + WAIT;
    while !png.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} not written",
            png.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    fleet.shutdown().await;
    let bye = wait_inbound(&mut inbound, "p1 offline", |m| {
        matches!(m, Inbound::Status { .. })
    })
    .await;
    assert_eq!(
        bye,
        Inbound::Status {
            panel: p1.clone(),
            online: false,
            firmware: Some("ref-test".into()),
            seq: Some(7),
            accepts: PLAYS_BUNDLES
        }
    );
    publisher.clear_frame(&p1).await.unwrap();
    publisher.shutdown().await;
}

on_both_brokers!(controller_round_trip);

/// Mosquitto is killed and restarted on the same port: the link reconnects
/// with back-off, announces Connected within 5 s, and publishes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_reconnects_after_broker_restart() {
    let mut m = MosquittoProcess::start("");
    let url = m.url();
    let (publisher, mut inbound) = link(&url, "bangtin-server");
    assert_eq!(next_inbound(&mut inbound).await, Inbound::Connected);
    m.kill();
    let deadline = std::time::Instant::now() + WAIT;
    while publisher.is_connected() {
        assert!(std::time::Instant::now() < deadline, "loss not noticed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(matches!(
        publisher.publish_frame(&id("p1"), mono_frame(1, 0)).await,
        Err(mqtt::MqttError::NotConnected)
    ));
    assert_eq!(next_inbound(&mut inbound).await, Inbound::Disconnected);
    m.restart();
    let started = std::time::Instant::now();
    assert_eq!(next_inbound(&mut inbound).await, Inbound::Connected);
    assert!(started.elapsed() < WAIT);
    let f = mono_frame(2, 0);
    publisher.publish_frame(&id("p1"), f.clone()).await.unwrap();
    let mut late = TestClient::connect(
        &url,
        "late",
        &["bangtin/panels/p1/frame", "bangtin/server/status"],
    )
    .await;
    let mut got = [late.next().await, late.next().await];
    got.sort_by(|a, b| a.topic.cmp(&b.topic));
    assert_eq!(got[0].payload, f);
    assert_eq!(&got[1].payload[..], b"online");
    publisher.shutdown().await;
}

/// The ACL from docs/protocol.md: a controller reads only its own frame
/// and writes only its own status and ack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_confines_each_controller() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("passwd");
    std::fs::write(&pw, "").unwrap();
    for (user, pass) in [
        ("bangtin-server", "s3rv"),
        ("bangtin-ops", "0ps"),
        ("p1", "pw1"),
        ("p2", "pw2"),
    ] {
        let st = std::process::Command::new("mosquitto_passwd")
            .args(["-b", pw.to_str().unwrap(), user, pass])
            .status()
            .unwrap();
        assert!(st.success());
    }
    // The ACL docs/protocol.md gives, as it is written there.
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/protocol.md")).unwrap();
    let acl_text = doc
        .split("`/etc/mosquitto/bangtin.acl`:\n\n```\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/protocol.md shows bangtin.acl");
    assert!(
        acl_text.contains("pattern write bangtin/panels/%u/ack"),
        "{acl_text}"
    );
    let acl = dir.path().join("acl");
    std::fs::write(&acl, acl_text).unwrap();
    let m = MosquittoProcess::start(&format!(
        "allow_anonymous false\npassword_file {}\nacl_file {}\n",
        pw.display(),
        acl.display()
    ));
    let base = |cred: &str| format!("mqtt://{cred}@127.0.0.1:{}", m.port);
    let server_url = base("bangtin-server:s3rv");
    let ops_url = base("bangtin-ops:0ps");
    let (publisher, mut inbound) = link(&server_url, "bangtin-server");
    assert_eq!(next_inbound(&mut inbound).await, Inbound::Connected);
    let mut server_view =
        TestClient::connect(&ops_url, "server-view", &["bangtin/panels/+/frame"]).await;
    let (f1, f2) = (mono_frame(21, 0), mono_frame(22, 0));
    publisher
        .publish_frame(&id("p1"), f1.clone())
        .await
        .unwrap();
    publisher
        .publish_frame(&id("p2"), f2.clone())
        .await
        .unwrap();
    server_view.next_on("bangtin/panels/p2/frame").await;

    // p1's controller shows its own frame and acks (allowed writes).
    let args = ControllerArgs::new(id("p1"), base("p1:pw1").parse().unwrap());
    let mut fleet = controller::spawn_fleet(&args).unwrap();
    assert_eq!(next_shown(&mut fleet).await.seq, 21);
    wait_ack(&mut inbound, "p1", 21).await;

    fleet.shutdown().await;
    wait_inbound(&mut inbound, "p1 offline", |m| {
        matches!(m, Inbound::Status { online: false, .. })
    })
    .await;

    // p1 cannot read p2's frame.
    let mut spy = TestClient::connect(
        &base("p1:pw1"),
        "p1",
        &["bangtin/panels/p2/frame", "bangtin/panels/p1/frame"],
    )
    .await;
    // Mosquitto may refuse the subscription or grant it and deliver nothing;
    // p1's own frame arriving is the barrier.
    let own = spy.next().await;
    assert_eq!(
        own.topic, "bangtin/panels/p1/frame",
        "p2's frame leaked to p1 (suback {:?})",
        spy.suback
    );
    // p1 cannot publish frames, not even its own; it can report.
    spy.publish("bangtin/panels/p1/frame", true, "forged").await;
    spy.publish("bangtin/panels/p2/frame", true, "forged").await;
    spy.publish(
        "bangtin/panels/p1/status",
        true,
        r#"{"online":true,"firmware":"spy"}"#,
    )
    .await;
    spy.publish("bangtin/panels/p1/ack", false, r#"{"seq":99}"#)
        .await;
    wait_inbound(
        &mut inbound,
        "p1's status",
        |m| matches!(m, Inbound::Status { firmware: Some(f), .. } if f == "spy"),
    )
    .await;
    wait_ack(&mut inbound, "p1", 99).await;
    // The forged frames, published before the ack, never reached the server.
    while let Ok(p) = server_view.rx.try_recv() {
        assert_ne!(&p.payload[..], b"forged", "forged frame on {}", p.topic);
    }
    // p1 cannot report as p2 either.
    spy.publish("bangtin/panels/p2/ack", false, r#"{"seq":5}"#)
        .await;
    spy.publish("bangtin/panels/p1/ack", false, r#"{"seq":100}"#)
        .await;
    assert_eq!(
        next_inbound(&mut inbound).await,
        Inbound::Ack {
            panel: id("p1"),
            seq: 100,
            crc: None
        }
    );
    let mut check = TestClient::connect(&ops_url, "check", &["bangtin/panels/+/frame"]).await;
    let mut got = [check.next().await, check.next().await];
    got.sort_by(|a, b| a.topic.cmp(&b.topic));
    assert_eq!(
        (got[0].payload.clone(), got[1].payload.clone()),
        (f1, f2),
        "retained frames intact"
    );
    publisher.shutdown().await;
}

/// The embedded broker carries the largest panel's frame and serves
/// Mosquitto's own command-line clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_takes_big_frames_and_mosquitto_clients() {
    let broker = Broker::embedded();
    let Broker::Embedded(embedded) = &broker else {
        unreachable!()
    };
    let port = embedded.listen.port();
    let url = broker.url();
    let (publisher, mut inbound) = link(&broker.link_url(), "bangtin-server");
    assert_eq!(next_inbound(&mut inbound).await, Inbound::Connected);

    let h = Header {
        format: PixelFormat::Rgb888,
        brightness: 255,
        width: 1024,
        height: 512,
        flags: 0,
        seq: 1,
        valid_until: 0,
    };
    let data: Vec<u8> = (0..1024 * 512 * 3).map(|i: u32| (i % 251) as u8).collect();
    let big = Bytes::from(frame::encode(&h, &data));
    assert!(big.len() > 1_500_000);
    let mut args = ControllerArgs::new(id("big"), broker.controller_url("big"));
    args.quiet = true;
    let mut fleet = controller::spawn_fleet(&args).unwrap();
    wait_inbound(&mut inbound, "big online", |m| {
        matches!(m, Inbound::Status { online: true, .. })
    })
    .await;
    publisher
        .publish_frame(&id("big"), big.clone())
        .await
        .unwrap();
    let shown = next_shown(&mut fleet).await;
    assert_eq!((shown.width, shown.height, shown.seq), (1024, 512, 1));
    let mut late = TestClient::connect(&url, "late", &["bangtin/panels/big/frame"]).await;
    assert_eq!(
        late.next().await.payload,
        big,
        "1.5 MiB retained, byte for byte"
    );

    // mosquitto_sub (as the server principal) reads a retained frame from
    // the embedded broker.
    let small = mono_frame(3, 0);
    publisher
        .publish_frame(&id("p1"), small.clone())
        .await
        .unwrap();
    let mut w = TestClient::connect(&url, "w", &["bangtin/panels/p1/frame"]).await;
    assert_eq!(w.next().await.payload, small);
    let out = tokio::process::Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-u",
            SERVER_USER,
            "-P",
            &password_of(SERVER_USER),
            "-t",
            "bangtin/panels/p1/frame",
            "-C",
            "1",
            "-N",
            "-W",
            "5",
            "-q",
            "1",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "mosquitto_sub: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, small.to_vec());

    // mosquitto_pub reports as a controller would, with its credential.
    let st = tokio::process::Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-i",
            "p9",
            "-u",
            "p9",
            "-P",
            &password_of("p9"),
            "-t",
            "bangtin/panels/p9/ack",
            "-q",
            "1",
            "-m",
            r#"{"seq":12}"#,
        ])
        .status()
        .await
        .unwrap();
    assert!(st.success());
    wait_ack(&mut inbound, "p9", 12).await;
    fleet.shutdown().await;
    publisher.shutdown().await;
}

#[test]
fn embedded_broker_reports_a_taken_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = mqtt::start_embedded_broker(
        taken.local_addr().unwrap(),
        ROOT,
        test_access(),
        Arc::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("cannot listen"), "{err}");
}

/// The topic names are those docs/protocol.md documents (version 1).
#[test]
fn topic_names_are_the_documented_ones() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/protocol.md")).unwrap();
    let p1 = id("p1");
    for (got, documented) in [
        (topics::frame(ROOT, &p1), "bangtin/panels/{panel}/frame"),
        (topics::status(ROOT, &p1), "bangtin/panels/{panel}/status"),
        (topics::ack(ROOT, &p1), "bangtin/panels/{panel}/ack"),
        (topics::server_status(ROOT), "bangtin/server/status"),
    ] {
        assert_eq!(got, documented.replace("{panel}", "p1"));
        assert!(
            doc.contains(&format!("`{documented}`")),
            "{documented} is not in docs/protocol.md"
        );
    }
}

/// Runs openssl; panics with its output on failure.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// openssl req: a new P-256 key, unencrypted.
const NEW_EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// `NAME.key` and `NAME.crt` in `d` for common name `cn`, signed by the
/// test CA there (`ca.crt`, `ca.key`), with the extensions `ext`
/// (openssl's extfile syntax).
fn issue_cert(d: &std::path::Path, name: &str, cn: &str, ext: &str) {
    let (key, csr, crt, extfile) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
        format!("{name}.ext"),
    );
    let subj = format!("/CN={cn}");
    let mut req = vec!["req"];
    req.extend(NEW_EC_KEY);
    req.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
    openssl(d, &req);
    std::fs::write(d.join(&extfile), ext).unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &extfile,
        ],
    );
}

/// `mqtts://` against Mosquitto with a private CA: the server's link and
/// the reference controller both verify the broker's certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_mosquitto_with_private_ca() {
    let certs = tempfile::tempdir().unwrap();
    let d = certs.path();
    let mut ca = vec!["req", "-x509"];
    ca.extend(NEW_EC_KEY);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=bangtin test CA",
        "-days",
        "2",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(d, &ca);
    issue_cert(
        d,
        "broker",
        "localhost",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    );
    // Mosquitto started as root reads TLS files after dropping privileges.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    for f in ["ca.crt", "broker.crt", "broker.key"] {
        std::fs::set_permissions(d.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let m = MosquittoProcess::start(&format!(
        "cafile {0}/ca.crt\ncertfile {0}/broker.crt\nkeyfile {0}/broker.key\n",
        d.display()
    ));
    let url: BrokerUrl = format!("mqtts://127.0.0.1:{}", m.port).parse().unwrap();
    assert_eq!(url.port, m.port);

    let mut opts = LinkOptions::new(url.clone());
    opts.tls.ca = Some(d.join("missing.crt"));
    let err = mqtt::try_connect(opts.clone())
        .err()
        .expect("a missing CA file is an error");
    assert!(err.to_string().contains("missing.crt"), "{err}");

    opts.tls.ca = Some(d.join("ca.crt"));
    let (publisher, mut inbound) = mqtt::try_connect(opts).unwrap();
    assert_eq!(next_inbound(&mut inbound).await, Inbound::Connected);
    publisher
        .publish_frame(&id("t1"), mono_frame(3, 0))
        .await
        .unwrap();
    let mut args = ControllerArgs::new(id("t1"), url);
    args.mqtt_ca = Some(d.join("ca.crt"));
    let mut fleet = controller::spawn_fleet(&args).unwrap();
    assert_eq!(next_shown(&mut fleet).await.seq, 3);
    wait_ack(&mut inbound, "t1", 3).await;
    fleet.shutdown().await;
    publisher.shutdown().await;

    // Client certificates: a broker that requires one refuses a link
    // without, and takes one with a certificate signed by the CA.
    issue_cert(
        d,
        "server",
        "bangtin-server",
        "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n",
    );
    let strict = MosquittoProcess::start(&format!(
        "cafile {0}/ca.crt\ncertfile {0}/broker.crt\nkeyfile {0}/broker.key\nrequire_certificate true\n",
        d.display()
    ));
    let surl: BrokerUrl = format!("mqtts://127.0.0.1:{}", strict.port)
        .parse()
        .unwrap();
    let mut no_cert = LinkOptions::new(surl.clone());
    no_cert.client_id = "no-cert".into();
    no_cert.tls.ca = Some(d.join("ca.crt"));
    let (p1, mut in1) = mqtt::try_connect(no_cert).unwrap();
    assert!(
        timeout(Duration::from_secs(2), in1.recv()).await.is_err(),
        "a broker that requires a client certificate must refuse a link without one"
    );
    assert!(!p1.is_connected());
    drop(p1);
    let mut with_cert = LinkOptions::new(surl);
    with_cert.client_id = "with-cert".into();
    with_cert.tls.ca = Some(d.join("ca.crt"));
    with_cert.tls.cert = Some(d.join("server.crt"));
    with_cert.tls.key = Some(d.join("server.key"));
    let (p2, mut in2) = mqtt::try_connect(with_cert).unwrap();
    assert_eq!(next_inbound(&mut in2).await, Inbound::Connected);
    p2.publish_frame(&id("t2"), mono_frame(4, 0)).await.unwrap();
    p2.shutdown().await;
}

/// A fleet of simulated controllers in one process: every panel gets its
/// frame and every ack reaches the server.
async fn fleet_gets_every_frame(broker: &Broker, n: u32) {
    let (publisher, mut inbound) = link(&broker.link_url(), "bangtin-server");
    assert_eq!(next_inbound(&mut inbound).await, Inbound::Connected);
    let mut args = ControllerArgs::new(id("x"), broker.controller_url("x"));
    args.panel = None;
    args.fleet = Some(n);
    args.prefix = "f".into();
    // Each simulated controller with its own credential.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials");
    let lines: String = (1..=n)
        .map(|i| format!("f{i:04} {}\n", password_of(&format!("f{i:04}"))))
        .collect();
    std::fs::write(&file, lines).unwrap();
    args.credentials = Some(file);
    let mut fleet = controller::spawn_fleet(&args).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while fleet.connected() < n as usize {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {n} connected",
            fleet.connected()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for i in 1..=n {
        publisher
            .publish_frame(&id(&format!("f{i:04}")), mono_frame(100 + i, 0))
            .await
            .unwrap();
    }
    let mut shown = std::collections::HashSet::new();
    while shown.len() < n as usize {
        let s = next_shown(&mut fleet).await;
        assert_eq!(s.seq, 100 + s.panel.as_str()[1..].parse::<u32>().unwrap());
        shown.insert(s.panel);
    }
    let mut acked = std::collections::HashSet::new();
    while acked.len() < n as usize {
        if let Inbound::Ack { panel, .. } = next_inbound(&mut inbound).await {
            acked.insert(panel);
        }
    }
    fleet.shutdown().await;
    publisher.shutdown().await;
}

on_both_brokers!(fleet_gets_every_frame, 300);

/// A retained status just over 4 MiB (the largest packet both brokers
/// here carry): the link skips it unread, counts it, and stays connected;
/// the next good report arrives. It used to cut the link five times a
/// second, for as long as the message stayed retained.
async fn oversized_report_is_skipped_and_the_link_stays(broker: &Broker) {
    let counters = Arc::new(Counters::default());
    let mut opts = LinkOptions::new(broker.link_url().parse().unwrap());
    opts.client_id = "bangtin-server".into();
    opts.counters = counters.clone();
    let (publisher, mut inbound) = mqtt::connect(opts);
    assert_eq!(next_inbound(&mut inbound).await, Inbound::Connected);
    let big = vec![b' '; 4 * 1024 * 1024 + 512];
    let attacker = TestClient::connect(&broker.url(), "attacker", &[]).await;
    until_reports_reach_the_link(&mut inbound, &attacker, "p9", "status").await;
    attacker
        .publish("bangtin/panels/p9/status", true, big)
        .await;
    attacker
        .publish(
            "bangtin/panels/p9/status",
            false,
            r#"{"online":true,"firmware":"after"}"#,
        )
        .await;
    // 4 MiB through the broker and read past: slow when the machine is
    // busy (a full test run timed out at 5 s once; alone it takes 2 s).
    let after = wait_inbound_within(
        &mut inbound,
        "the status after the big one",
        Duration::from_secs(20),
        |m| matches!(m, Inbound::Status { firmware: Some(f), .. } if f == "after"),
    )
    .await;
    assert!(matches!(after, Inbound::Status { online: true, .. }));
    assert_eq!(
        counters.dropped.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert!(
        timeout(Duration::from_secs(2), inbound.recv())
            .await
            .is_err(),
        "the link was cut and came up again"
    );
    assert!(publisher.is_connected());
    // Not retained any more, for the next test on this broker.
    attacker.publish("bangtin/panels/p9/status", true, "").await;
    publisher.shutdown().await;
}

on_both_brokers!(oversized_report_is_skipped_and_the_link_stays);

/// The embedded broker's gateway counts what it refuses: an anonymous
/// client (CONNACK 5), a controller with another panel's client id
/// (CONNACK 2), a controller's publish outside its topics (acknowledged
/// and dropped), and it ends a controller's connection on a packet over
/// 64 KiB, which never reaches the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_refuses_denies_and_counts() {
    use rumqttc::{ConnectReturnCode, ConnectionError, Event, Incoming};
    use std::sync::atomic::Ordering::Relaxed;

    let counters = Arc::new(Counters::default());
    let broker = Broker::embedded_counting(counters.clone());
    let (publisher, mut inbound) = link(&broker.link_url(), "bangtin-server");
    assert_eq!(next_inbound(&mut inbound).await, Inbound::Connected);
    let first_connack = |url: String, client_id: &'static str| async move {
        let u: BrokerUrl = url.parse().unwrap();
        let mut mo = MqttOptions::new(client_id, &u.host, u.port);
        if let Some(user) = &u.username {
            mo.set_credentials(user, u.password.clone().unwrap_or_default());
        }
        let (_c, mut el) = AsyncClient::new(mo, 4);
        loop {
            match timeout(WAIT, el.poll()).await.expect("an answer") {
                Ok(Event::Incoming(Incoming::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(ConnectionError::ConnectionRefused(code)) => return Err(code),
                Err(e) => panic!("{e}"),
            }
        }
    };
    let anonymous = broker
        .url()
        .replace(&format!("{SERVER_USER}:{}@", password_of(SERVER_USER)), "");
    assert_eq!(
        first_connack(anonymous, "p1").await,
        Err(ConnectReturnCode::NotAuthorized)
    );
    assert_eq!(
        first_connack(broker.url_as("p1"), "p2").await,
        Err(ConnectReturnCode::BadClientId)
    );
    assert_eq!(first_connack(broker.url_as("p1"), "p1").await, Ok(()));
    assert_eq!(counters.refused.load(Relaxed), 2);

    let p1 = TestClient::connect(&broker.url_as("p1"), "p1", &[]).await;
    until_reports_reach_the_link(&mut inbound, &p1, "p1", "ack").await;
    p1.publish("bangtin/panels/p2/ack", false, r#"{"seq":1}"#)
        .await;
    p1.publish("bangtin/panels/p1/ack", false, r#"{"seq":2}"#)
        .await;
    wait_ack(&mut inbound, "p1", 2).await;
    assert_eq!(counters.denied.load(Relaxed), 1);
    let cut = try_publish(
        &broker.url_as("p1"),
        "p1",
        "bangtin/panels/p1/status",
        true,
        vec![b' '; 70_000],
    )
    .await;
    assert!(
        cut.is_err(),
        "a 70,000-byte packet from a controller was taken"
    );
    p1.publish("bangtin/panels/p1/ack", false, r#"{"seq":3}"#)
        .await;
    wait_ack(&mut inbound, "p1", 3).await;
    let no_big = timeout(Duration::from_millis(500), async {
        loop {
            if let Some(Inbound::Status { .. }) = inbound.recv().await {
                return;
            }
        }
    })
    .await;
    assert!(no_big.is_err(), "the 70,000-byte status reached the server");
    publisher.shutdown().await;
}
