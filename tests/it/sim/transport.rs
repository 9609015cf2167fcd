//! bangtin's vendor transports (`transport::Transports`) in this process,
//! against simulated and misbehaving cards over loopback TCP, with short
//! time-outs: every fault ends in a sentence on the panel's link and a
//! retry, and the other cards carry on.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bangtin::domain::{Id, Panel, Transport};
use bangtin::frame::{self, Header};
use bangtin::player::{Out, Shared};
use bangtin::store::Store;
use bangtin::transport::{self, Delivery, Link, Timing, Transports};
use bytes::Bytes;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::huidu_card::{Card, CardConfig};
use crate::it::util::eventually;

/// MQTT panels are not in these tests.
struct NoMqtt;

impl Delivery for NoMqtt {
    fn deliver(&self, panel: &Panel, _: Bytes) {
        panic!("{} is not an MQTT panel", panel.id)
    }
    fn forget(&self, _: &Id) {}
}

struct Rig {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    shared: Arc<Shared>,
    transports: Transports,
    seq: u32,
}

fn short() -> Timing {
    Timing {
        connect: Duration::from_secs(2),
        answer: Duration::from_millis(800),
        write: Duration::from_millis(800),
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_millis(400),
    }
}

async fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let shared = Arc::new(Shared::default());
    let transports = Transports::start(
        store.clone(),
        shared.clone(),
        Box::new(|_| {}),
        Box::new(NoMqtt),
        transport::Options {
            huidu: short(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    Rig {
        _dir: dir,
        store,
        shared,
        transports,
        seq: 0,
    }
}

impl Rig {
    /// A 64x32 Huidu panel that bangtin dials at `addr`.
    fn panel(&self, id: &str, device: &str, addr: std::net::SocketAddr) {
        let p: Panel = serde_json::from_value(json!({
            "id": id, "name": id, "width": 64, "height": 32, "format": "mono1",
            "transport": {"kind": "huidu", "device_id": device, "address": addr.to_string()}
        }))
        .unwrap();
        self.store.put_panel(p, true, "test").unwrap();
    }

    /// Hands the panel a frame with a diagonal line (the player's job),
    /// stamped for the transport the panel has.
    fn frame(&mut self, id: &str) {
        let via = self.store.snapshot().panels[&Id::parse(id).unwrap()]
            .transport
            .clone();
        self.frame_via(id, via, *b"BTF1");
    }

    /// Hands the panel a frame stamped for `via`, with `magic` (`BTZ1`:
    /// coded for a controller on the broker).
    fn frame_via(&mut self, id: &str, via: Transport, magic: [u8; 4]) {
        self.seq += 1;
        let mut data = vec![0u8; 8 * 32];
        for y in 0..32usize {
            data[y * 8 + y / 8] |= 0x80 >> (y % 8);
        }
        let header = Header {
            format: bangtin::domain::PixelFormat::Mono1,
            brightness: 255,
            width: 64,
            height: 32,
            flags: 0,
            seq: self.seq,
            valid_until: 0,
        };
        let mut bytes = frame::encode(&header, &data);
        bytes[..4].copy_from_slice(&magic);
        self.transports.route(Out::Frame {
            panel: Id::parse(id).unwrap(),
            frame: Bytes::from(bytes),
            via,
        });
    }

    fn link(&self, id: &str) -> Link {
        self.shared
            .links
            .read()
            .unwrap()
            .get(&Id::parse(id).unwrap())
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until the panel's last error contains every one of `parts`.
    async fn error_with(&self, id: &str, parts: &[&str]) -> String {
        eventually(Duration::from_secs(10), || async {
            let e = self.link(id).last_error?.to_string();
            parts.iter().all(|p| e.contains(p)).then_some(e)
        })
        .await
        .unwrap_or_else(|| panic!("{id}: no error with {parts:?}; link {:?}", self.link(id)))
    }
}

/// A card that misbehaves: `act` gets each accepted socket. Returns the
/// address and a count of connections.
async fn bad_card<F, Fut>(act: F) -> (std::net::SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(act(s));
        }
    });
    (addr, count)
}

/// Reads the version ask (8 bytes) and answers it as a card does.
async fn version_exchange(s: &mut TcpStream) {
    let mut ask = [0u8; 8];
    s.read_exact(&mut ask).await.unwrap();
    let mut answer = vec![10, 0, 0x02, 0x20];
    answer.extend_from_slice(&0x0100_0005u32.to_le_bytes());
    answer.extend_from_slice(&[0, 0]);
    s.write_all(&answer).await.unwrap();
}

/// Keeps a socket open without reading, until the peer goes.
async fn hold(s: TcpStream) {
    let mut s = s;
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut sink)).await;
}

async fn retried(count: &AtomicUsize) {
    let again = eventually(Duration::from_secs(10), || async {
        (count.load(Ordering::SeqCst) >= 2).then_some(())
    })
    .await;
    assert!(again.is_some(), "bangtin did not dial the card again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_card_fault_is_named_retried_and_contained() {
    let mut r = rig().await;

    // A half-written packet, then silence.
    let (half, half_n) = bad_card(|mut s| async move {
        version_exchange_partial(&mut s).await;
        hold(s).await;
    })
    .await;
    r.panel("half", "C16-HALF", half);
    r.frame("half");
    let e = r
        .error_with("half", &["went silent", "unfinished packet"])
        .await;
    assert!(e.contains("the version answer"), "{e}");

    // A length field over the 9 KiB every card stays under.
    let (big, big_n) = bad_card(|mut s| async move {
        let mut ask = [0u8; 8];
        let _ = s.read_exact(&mut ask).await;
        let _ = s.write_all(&[0xff, 0x7f, 0x02, 0x20]).await;
        hold(s).await;
    })
    .await;
    r.panel("big", "C16-BIG", big);
    r.frame("big");
    r.error_with("big", &["32767 bytes", "more than the 9216"])
        .await;

    // XML that does not parse, in answer to GetIFVersion.
    let (garbage, garbage_n) = bad_card(|mut s| async move {
        version_exchange(&mut s).await;
        let mut head = [0u8; 12];
        if s.read_exact(&mut head).await.is_err() {
            return;
        }
        let xml = b"<sdk guid=\"x\"><out method=";
        let mut p = ((12 + xml.len()) as u16).to_le_bytes().to_vec();
        p.extend_from_slice(&0x2004u16.to_le_bytes());
        p.extend_from_slice(&(xml.len() as u32).to_le_bytes());
        p.extend_from_slice(&0u32.to_le_bytes());
        p.extend_from_slice(xml);
        let _ = s.write_all(&p).await;
        hold(s).await;
    })
    .await;
    r.panel("garbage", "C16-GARBAGE", garbage);
    r.frame("garbage");
    r.error_with("garbage", &["handshake failed", "not well formed"])
        .await;

    // A socket that takes the connection and then says nothing at all.
    let (mute, mute_n) = bad_card(hold).await;
    r.panel("mute", "C16-MUTE", mute);
    r.frame("mute");
    r.error_with("mute", &["went silent", "the version answer"])
        .await;

    for n in [&half_n, &big_n, &garbage_n, &mute_n] {
        retried(n).await;
    }
    for id in ["half", "big", "garbage", "mute"] {
        assert!(!r.link(id).connected, "{id}");
    }

    // Meanwhile a real card is served, and an upload it finds corrupt
    // (MD5 mismatch: kFileContentError) is retried until it shows.
    let card = Card::new(CardConfig::new("C16-GOOD", 64, 32));
    card.with(|s| s.corrupt_uploads = 1);
    let good = card.listen().await;
    r.panel("good", "C16-GOOD", good);
    r.frame("good");
    let e = r.error_with("good", &["kFileContentError"]).await;
    assert!(e.contains("refused the file"), "{e}");
    card.wait_until("the frame shown after the retry", |s| s.shown.is_some())
        .await;
    assert!(card.with(|s| s.shown.as_ref().unwrap().rgb == diagonal()));
    let l = eventually(Duration::from_secs(5), || async {
        let l = r.link("good");
        (l.connected && l.shown_seq.is_some()).then_some(l)
    })
    .await
    .expect("the good card connected and confirmed the frame");
    assert!(l.device.unwrap().contains("C16-GOOD"));
    assert_eq!(
        card.with(|s| s.log.iter().filter(|l| *l == "AddProgram").count()),
        1
    );
}

/// The frame [`Rig::frame`] sends, as a full-colour card shows it: the
/// lit pixels (x = y) in the default P10 red.
fn diagonal() -> Vec<u8> {
    (0..32u32)
        .flat_map(|y| (0..64u32).map(move |x| (x, y)))
        .flat_map(|(x, y)| {
            if x == y {
                [0xff, 0x20, 0x00]
            } else {
                [0, 0, 0]
            }
        })
        .collect()
}

/// Answers the version ask with 3 of its 10 bytes, then stops.
async fn version_exchange_partial(s: &mut TcpStream) {
    let mut ask = [0u8; 8];
    if s.read_exact(&mut ask).await.is_ok() {
        let _ = s.write_all(&[10, 0, 0x02]).await;
    }
}

/// A card that goes quiet in the middle of an upload is given up after
/// the answer time-out and dialled again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_silent_mid_upload_is_given_up_and_redialled() {
    let mut r = rig().await;
    let card = Card::new(CardConfig::new("C16-SLOW", 64, 32));
    let real = card.listen().await;
    // A proxy that forwards the handshake, then stops forwarding.
    let (addr, n) = bad_card(move |mut s| async move {
        let mut up = TcpStream::connect(real).await.unwrap();
        let (mut down, mut buf) = (vec![0u8; 4096], vec![0u8; 4096]);
        let mut answers = Vec::new();
        loop {
            tokio::select! {
                r = s.read(&mut down) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(n) => if up.write_all(&down[..n]).await.is_err() { return },
                },
                r = up.read(&mut buf) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        let _ = s.write_all(&buf[..n]).await;
                        answers.extend_from_slice(&buf[..n]);
                        // GetDeviceInfo answered: the handshake is done,
                        // and from now on nothing is passed on.
                        let text = String::from_utf8_lossy(&answers);
                        if text.contains("GetDeviceInfo") && text.ends_with("</sdk>\n") {
                            break;
                        }
                    }
                },
            }
        }
        hold_unread(s).await;
    })
    .await;
    r.panel("slow", "C16-SLOW", addr);
    r.frame("slow");
    let e = r.error_with("slow", &["went silent"]).await;
    assert!(e.contains("the file start answer"), "{e}");
    retried(&n).await;
}

/// Keeps the socket open and never reads from it.
async fn hold_unread(s: TcpStream) {
    tokio::time::sleep(Duration::from_secs(20)).await;
    drop(s);
}

/// A server that stops leading (two servers on PostgreSQL) lets its cards
/// go without blanking them: its connection closes, the glass keeps its
/// picture, and nobody dials the card again (a task kept here would redial
/// it and resend this server's last picture over the new leader's). When
/// it leads again the player routes the panel and the card is driven.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_leading_lets_its_cards_go_without_blanking_them() {
    let mut r = rig().await;
    let card = Card::new(CardConfig::new("C16-LEAD", 64, 32));
    let addr = card.listen().await;
    r.panel("lead", "C16-LEAD", addr);
    r.frame("lead");
    card.wait_until("the frame on the glass", |s| s.shown.is_some())
        .await;
    let shown = card.with(|s| s.shown.clone());
    let dialled = card.with(|s| s.connections);

    r.transports.stand_down(|| true);
    card.wait_until("the deposed server's connection closed", |s| {
        s.closed_because.is_some()
    })
    .await;
    let redialled = eventually(Duration::from_secs(3), || async {
        (card.with(|s| s.connections) > dialled).then_some(())
    })
    .await;
    assert!(redialled.is_none(), "the card was dialled again");
    assert_eq!(
        card.with(|s| s.shown.clone()),
        shown,
        "the sign was blanked"
    );

    r.frame("lead");
    card.wait_until("driven again", |s| s.connections > dialled)
        .await;
}

/// A frame the player stamped for the broker (coded BTZ1, signed) while
/// the panel was still there, routed after the panel moved to a Huidu
/// card, is not handed to the card (which cannot show it, and would be
/// marked failed): the move's own pass sends the card its frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_stamped_for_the_broker_never_reaches_a_card() {
    let mut r = rig().await;
    let card = Card::new(CardConfig::new("C16-MOVED", 64, 32));
    let addr = card.listen().await;
    r.panel("moved", "C16-MOVED", addr);
    r.frame_via("moved", Transport::Mqtt, *b"BTZ1");
    r.frame("moved");
    card.wait_until("the card's own frame on the glass", |s| s.shown.is_some())
        .await;
    let l = eventually(Duration::from_secs(5), || async {
        let l = r.link("moved");
        (l.shown_seq == Some(2)).then_some(l)
    })
    .await
    .expect("the card confirmed the frame stamped for it");
    assert_eq!(l.last_error.map(|e| e.to_string()), None);
    assert!(card.with(|s| s.shown.as_ref().unwrap().rgb == diagonal()));
}
