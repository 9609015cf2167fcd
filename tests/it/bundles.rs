//! Offline bundles over a real broker: a controller whose link is cut
//! plays its panel's rotation from the bundle by its own clock, page for
//! page as the bundle's timeline says, and blanks when the bundle ends; a
//! forged, foreign or expired bundle is refused (and the status says so);
//! a newer bundle replaces the one held.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bangtin::bundle::{self, Bundle};
use bangtin::frame::{FLAG_BLANK, FLAG_EMERGENCY};
use bangtin::mqtt::controller::{spawn_fleet, ControllerArgs, Fleet, Shown};
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signer, SigningKey};
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS};
use serde_json::json;

use super::util::{eventually, shown_until, Api, Relay, Server, ServerOpts, ADMIN_TOKEN};

const WAIT: Duration = Duration::from_secs(15);

/// What the server principal sees of one panel: its latest status and
/// every bundle published, by issued_at.
#[derive(Default)]
struct Seen {
    status: Option<serde_json::Value>,
    bundles: HashMap<u64, Vec<u8>>,
}

async fn watch(server: &Server, panel: &str) -> (Arc<Mutex<Seen>>, AsyncClient) {
    let u: bangtin::mqtt::BrokerUrl = server.broker_url().parse().unwrap();
    let mut mo = MqttOptions::new(format!("watch-{panel}"), &u.host, u.port);
    mo.set_max_packet_size(8 << 20, 8 << 20);
    mo.set_credentials(u.username.clone().unwrap(), u.password.clone().unwrap());
    let (client, mut el) = AsyncClient::new(mo, 16);
    client
        .subscribe(format!("bangtin/panels/{panel}/status"), QoS::AtLeastOnce)
        .await
        .unwrap();
    client
        .subscribe(format!("bangtin/panels/{panel}/bundle"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let seen: Arc<Mutex<Seen>> = Default::default();
    let s2 = seen.clone();
    tokio::spawn(async move {
        while let Ok(ev) = el.poll().await {
            let Event::Incoming(Incoming::Publish(p)) = ev else {
                continue;
            };
            let mut s = s2.lock().unwrap();
            if p.topic.ends_with("/status") {
                s.status = serde_json::from_slice(&p.payload).ok();
            } else if let Ok(b) = bundle::decode(&p.payload) {
                s.bundles
                    .insert(b.bundle.head.issued_at, p.payload.to_vec());
            }
        }
    });
    (seen, client)
}

/// The controller's status once `f` holds for it.
async fn status_where(
    seen: &Arc<Mutex<Seen>>,
    what: &str,
    f: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    eventually(WAIT, || {
        let s = seen.lock().unwrap().status.clone().filter(|v| f(v));
        async move { s }
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "no status with {what}; last: {:?}",
            seen.lock().unwrap().status
        )
    })
}

fn held_issued_at(status: &serde_json::Value) -> Option<u64> {
    status["bundle"]["issued_at"].as_u64()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A server making bundles of `horizon_s` seconds, a 128x32 panel
/// `panel` with its controller's broker URL, and the server's public
/// key in a file (in the returned directory).
struct Rig {
    server: Server,
    admin: Api,
    url: String,
    key: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn rig(panel: &str, horizon_s: u32) -> Rig {
    let server = Server::start_with(ServerOpts {
        extra_args: vec!["--bundle-horizon-s".into(), horizon_s.to_string()],
        ..ServerOpts::default()
    });
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    let dir = tempfile::tempdir().unwrap();
    let (_, k) = admin.get("/keys/frames").await;
    let key = dir.path().join("frames.pub");
    std::fs::write(&key, k["public_key"].as_str().unwrap()).unwrap();
    let url = admin
        .create_panel_with_controller(
            &server,
            json!({"id": panel, "name": "P10", "width": 128, "height": 32, "format": "mono1"}),
        )
        .await;
    Rig {
        server,
        admin,
        url,
        key,
        _dir: dir,
    }
}

fn controller(url: &str, panel: &str, key: &std::path::Path) -> Fleet {
    let mut args = ControllerArgs::new(panel.parse().unwrap(), url.parse().unwrap());
    args.public_key = Some(key.to_path_buf());
    spawn_fleet(&args).unwrap()
}

/// Two approved one-page messages rotating every 2 s on every panel.
async fn rotation(admin: &Api) {
    let editor = admin.with_roles("lan", &["editor"]).await;
    let approver = admin.with_roles("hung", &["approver"]).await;
    let mut ids = Vec::new();
    for text in ["Nộp thuế đúng hạn", "Phòng cháy chữa cháy"] {
        let id = editor
            .create_message(json!({"title": text, "text": text}))
            .await;
        approver.approve(&id).await;
        ids.push(id);
    }
    let (st, c) = admin
        .post(
            "/campaigns",
            json!({"name": "Luân phiên", "messages": [{"id": ids[0], "dwell_s": 2}, {"id": ids[1], "dwell_s": 2}],
                   "targets": ["all"], "start": "2020-01-01", "priority": 1}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
}

fn crc_at(b: &Bundle, t: u64) -> u32 {
    b.at(t)
        .and_then(|p| p.page)
        .map_or(0, |i| b.pages[i as usize].crc)
}

/// A controller for `panel` connected through a [`Relay`], the rotation
/// on, and the controller's status once it holds a bundle made after it.
struct Offline {
    relay: Relay,
    seen: Arc<Mutex<Seen>>,
    _watcher: AsyncClient,
    c: Fleet,
    status: serde_json::Value,
}

async fn rotating_behind_a_relay(rig: &Rig, panel: &str) -> Offline {
    let relay = Relay::start(rig.server.broker_port).await;
    let via_relay = rig.url.replace(
        &format!(":{}", rig.server.broker_port),
        &format!(":{}", relay.port),
    );
    let (seen, watcher) = watch(&rig.server, panel).await;
    let c = controller(&via_relay, panel, &rig.key);
    let before = now_ms();
    rotation(&rig.admin).await;
    // A bundle made after the campaign (the store change, then SETTLE)
    // held by the controller: one with the rotation's two pages (the
    // controller's first status is owed a bundle at once, which may come
    // before the campaign).
    let status = eventually(WAIT, || {
        let s = seen.lock().unwrap();
        let rotating = |t: u64| {
            s.bundles
                .get(&t)
                .and_then(|b| bundle::decode(b).ok())
                .is_some_and(|d| d.bundle.pages.len() == 2)
        };
        let held = s
            .status
            .clone()
            .filter(|v| held_issued_at(v).is_some_and(|t| t > before && rotating(t)));
        async move { held }
    })
    .await
    .unwrap_or_else(|| panic!("no status with a bundle of the rotation"));
    Offline {
        relay,
        seen,
        _watcher: watcher,
        c,
        status,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_controller_plays_its_bundle_then_blanks_at_its_end() {
    let rig = rig("p1", 12).await;
    let Offline {
        relay,
        seen,
        _watcher,
        mut c,
        status,
    } = rotating_behind_a_relay(&rig, "p1").await;
    shown_until(&mut c, WAIT, "the rotation from the server", |s| {
        s.flags & FLAG_BLANK == 0 && !s.from_bundle
    })
    .await;
    // Cut now, with at least 3 s of the bundle left to play.
    let issued = held_issued_at(&status).unwrap();
    let status = if now_ms() + 3_000 > issued + 12_000 {
        status_where(&seen, "a renewed bundle", |v| {
            held_issued_at(v).is_some_and(|t| t > issued)
        })
        .await
    } else {
        status
    };
    relay.cut();
    let cut_at = now_ms();
    let issued = held_issued_at(&status).unwrap();
    let bytes = seen.lock().unwrap().bundles[&issued].clone();
    let b = bundle::decode(&bytes).unwrap().bundle;
    assert_eq!(b.pages.len(), 2, "two distinct pages: {:?}", b.segments);
    assert!(b.head.expires_at > cut_at, "the held bundle has not ended");

    // Every page the controller shows from now on comes from the bundle,
    // is the one the bundle names for that instant, and changes when the
    // bundle's page ends; then the glass blanks when the bundle ends.
    let mut pages: Vec<Shown> = Vec::new();
    let end = loop {
        // (What was shown before the cut may still be queued.)
        let s = shown_until(&mut c, WAIT, "a page from the bundle", |s| {
            s.at_unix_ms >= cut_at
        })
        .await;
        assert!(s.from_bundle, "after the cut, only the bundle plays: {s:?}");
        if s.flags & FLAG_BLANK != 0 {
            break s;
        }
        assert_eq!(s.crc, crc_at(&b, s.at_unix_ms), "at {}", s.at_unix_ms);
        pages.push(s);
    };
    assert!(
        pages.len() >= 2,
        "the rotation turned while cut off: {pages:?}"
    );
    assert!(
        pages[0].at_unix_ms < cut_at + 1_000,
        "the bundle took over at once"
    );
    for w in pages.windows(2) {
        let turn = b.at(w[0].at_unix_ms).unwrap().next;
        assert_ne!(w[0].crc, w[1].crc);
        assert!(
            w[1].at_unix_ms >= turn && w[1].at_unix_ms < turn + 500,
            "page turned at {} for a dwell ending at {turn}",
            w[1].at_unix_ms
        );
        let dwell = w[1].at_unix_ms - w[0].at_unix_ms;
        assert!(dwell <= 2_500, "a page stayed {dwell} ms (dwell 2 s)");
    }
    assert!(
        end.at_unix_ms >= b.head.expires_at && end.at_unix_ms < b.head.expires_at + 1_000,
        "blanked at {}, the bundle ends at {}",
        end.at_unix_ms,
        b.head.expires_at
    );
    c.shutdown().await;
}

/// Signs `b` with `key` as the server would.
fn sign(b: &Bundle, key: &SigningKey) -> Vec<u8> {
    let mut v = bundle::encode(b, true);
    let sig = key.sign(&v);
    v.extend_from_slice(&sig.to_bytes());
    v
}

async fn publish(server: &Server, panel: &str, payload: Vec<u8>) {
    super::util::try_publish(
        &server.broker_url(),
        "bundle-forger",
        &format!("bangtin/panels/{panel}/bundle"),
        false,
        payload,
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_foreign_and_expired_bundles_are_refused_and_newer_ones_replace() {
    let Rig {
        server,
        admin,
        url,
        key,
        _dir,
    } = rig("p2", 600).await;
    let (seen, _watcher) = watch(&server, "p2").await;
    let mut c = controller(&url, "p2", &key);
    shown_until(&mut c, WAIT, "the first frame", |_| true).await;
    let first = status_where(&seen, "a bundle", |v| held_issued_at(v).is_some()).await;
    let first = held_issued_at(&first).unwrap();

    // New content: a new bundle replaces the one held.
    rotation(&admin).await;
    let status = status_where(&seen, "a newer bundle", |v| {
        held_issued_at(v).is_some_and(|t| t > first)
    })
    .await;
    let held = held_issued_at(&status).unwrap();
    let genuine = seen.lock().unwrap().bundles[&held].clone();
    let b = bundle::decode(&genuine).unwrap().bundle;
    assert_eq!(b.pages.len(), 2);

    let pem = std::fs::read_to_string(server.data.join("secrets/frame-signing.pem")).unwrap();
    let server_key = SigningKey::from_pkcs8_pem(&pem).unwrap();
    // The same timeline, from `issued_at` (segments keep their offsets),
    // for `panel`.
    let span = b.head.expires_at - b.head.issued_at;
    let at = |issued_at: u64, panel: &str| {
        let mut copy = b.clone();
        copy.head.issued_at = issued_at;
        copy.head.expires_at = issued_at + span;
        copy.head.panel = panel.into();
        copy
    };
    let refusals: [(&str, Vec<u8>); 3] = [
        // A newer bundle signed by someone else.
        (
            "signature",
            sign(&at(now_ms(), "p2"), &SigningKey::from_bytes(&[9; 32])),
        ),
        // Signed by the server's key, for another panel.
        ("panel", sign(&at(now_ms(), "p3"), &server_key)),
        // Signed by the server's key, ended.
        (
            "expired",
            sign(&at(now_ms() - span - 1_000, "p2"), &server_key),
        ),
    ];
    for (why, bytes) in refusals {
        publish(&server, "p2", bytes).await;
        let s = status_where(&seen, why, |v| v["bundle_refused"] == why).await;
        assert_eq!(held_issued_at(&s), Some(held), "the held bundle stays");
    }
    // A byte of the genuine bundle changed: its signature fails.
    // (Past the header, the id "p2", the counts and the first page's
    // header: a pixel of the first page.)
    let mut tampered = genuine.clone();
    tampered[bundle::HEADER_LEN + 2 + 8 + 12 + 5] ^= 0x40;
    publish(&server, "p2", tampered).await;
    // (The previous refusal was "expired": this one is new.)
    status_where(&seen, "the tampered bundle refused", |v| {
        v["bundle_refused"] == "signature"
    })
    .await;
    // A genuine newer bundle replaces it and clears the refusal.
    let fresh = at(now_ms(), "p2");
    publish(&server, "p2", sign(&fresh, &server_key)).await;
    let s = status_where(&seen, "the fresh bundle held", |v| {
        held_issued_at(v) == Some(fresh.head.issued_at)
    })
    .await;
    assert!(s.get("bundle_refused").is_none(), "{s}");
    c.shutdown().await;
}

/// An alert frame on the glass when the link goes keeps the glass until
/// its own end; only then does the bundle play.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_on_the_glass_outlasts_the_cut_then_the_bundle_plays() {
    let rig = rig("p3", 600).await;
    // (Everything kept: the relay and the watcher until the end.)
    let Offline {
        relay,
        mut c,
        seen: _seen,
        _watcher,
        status: _,
    } = rotating_behind_a_relay(&rig, "p3").await;
    let id = rig
        .admin
        .send_alert(json!({"text": "Bão số 3", "targets": ["all"], "duration_s": 5}))
        .await;
    let (_, a) = rig.admin.get(&format!("/alerts/{id}")).await;
    let ends: chrono::DateTime<chrono::Utc> = a["ends_at"].as_str().unwrap().parse().unwrap();
    // The frame's valid_until: the alert's end, in whole seconds.
    let valid_until_ms = ends.timestamp() as u64 * 1000;
    let alert = shown_until(&mut c, WAIT, "the alert frame", |s| {
        s.flags & FLAG_EMERGENCY != 0 && !s.from_bundle
    })
    .await;
    relay.cut();
    let cut_at = now_ms();
    let next = shown_until(&mut c, WAIT, "the bundle after the alert", |s| {
        s.at_unix_ms >= cut_at
    })
    .await;
    assert!(next.from_bundle, "{next:?}");
    assert!(
        next.at_unix_ms >= alert.at_unix_ms + 3_000,
        "the alert (5 s, shown at {}) left the glass at {}",
        alert.at_unix_ms,
        next.at_unix_ms
    );
    assert!(
        next.at_unix_ms + 50 >= valid_until_ms && next.at_unix_ms < valid_until_ms + 1_000,
        "the bundle took over at {}, the alert frame ended at {valid_until_ms}",
        next.at_unix_ms
    );
    c.shutdown().await;
}
