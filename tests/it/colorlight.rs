//! The edge agent with a Colorlight 5A-75 output, through a real server
//! process: in a network namespace made here (a veth pair, one end in
//! it), `bangtin controller --output colorlight:IFACE` writes the panel's
//! frames to the near end; a packet socket in the namespace captures them
//! and the card simulator (`sim::colorlight_rx`) decodes them back into
//! pixels, which must be the panel's frame. Needs root (CI runs as root):
//! without it the test fails and says why.

use std::time::{Duration, Instant};

use bangtin::frame::{self, FLAG_BLANK};
use serde_json::json;

use super::mqtt::TestClient;
use super::util::{Api, Server, ADMIN_TOKEN};
use super::vendor::schedule;

/// A network namespace with one end of a veth pair in it (the other stays
/// here, for the agent); removed on drop.
pub(crate) struct Netns {
    pub name: String,
    pub near: String,
    pub far: String,
    /// Held from the pair's making to its deletion: no browser runs then.
    _network: super::util::NetworkUse,
}

fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("run ip(8) (package iproute2)");
    assert!(
        out.status.success(),
        "`ip {}` failed: {} — this test makes a network namespace and a veth pair, which needs root (CI runs as root)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

impl Netns {
    pub fn new() -> Netns {
        // Unique per test in this process (interface names: 15 bytes at most).
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("{}{k}", std::process::id());
        let network = super::util::NetworkUse::change();
        let n = Netns {
            _network: network,
            name: format!("bangtin-cl-{id}"),
            near: format!("btcl{id}a"),
            far: format!("btcl{id}b"),
        };
        ip(&["netns", "add", &n.name]);
        ip(&[
            "link", "add", &n.near, "type", "veth", "peer", "name", &n.far,
        ]);
        ip(&["link", "set", &n.far, "netns", &n.name]);
        ip(&["link", "set", &n.near, "up"]);
        ip(&["-n", &n.name, "link", "set", &n.far, "up"]);
        n
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace deletes its veth end, and so the pair.
        let _ = std::process::Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
        let _ = std::process::Command::new("ip")
            .args(["link", "delete", &self.near])
            .output();
    }
}

/// A child process killed when the test ends, passed or not (a leaked
/// agent would hold the test's output open).
pub(crate) struct Reaped(pub std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Captures raw frames on `iface` inside namespace `ns` (a packet socket
/// in a Python process started there) and decodes them as the card would:
/// every picture latched by a display frame is sent on, with its
/// brightness.
pub(crate) fn capture(
    ns: &str,
    iface: &str,
    width: usize,
    height: usize,
) -> (Reaped, std::sync::mpsc::Receiver<(Vec<u8>, u8)>) {
    use super::sim::colorlight_rx::Receiver;
    use std::io::BufRead;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/sim/raw_capture.py");
    let mut child = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "python3", script, iface, "60"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the capture (ip netns exec … python3)");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.next().and_then(Result::ok);
    assert_eq!(ready.as_deref(), Some("ready"), "the capture did not start");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut card = Receiver::new(width, height);
        for line in lines.map_while(Result::ok) {
            card.feed(&hex::decode(line.trim()).expect("hex from the capture"));
            if let (Some(glass), Some(b)) = (card.glass.take(), card.brightness) {
                if tx.send((glass, b)).is_err() {
                    return;
                }
            }
        }
    });
    (Reaped(child), rx)
}

/// The edge agent for `panel`, its Colorlight output on `iface`.
pub(crate) fn agent(broker_url: &str, panel: &str, iface: &str) -> Reaped {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_bangtin"))
        .args([
            "controller",
            "--panel",
            panel,
            "--mqtt",
            broker_url,
            "--quiet",
        ])
        .args(["--output", &format!("colorlight:{iface}")])
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("start the agent");
    Reaped(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_agent_drives_a_colorlight_card_on_a_veth_pair() {
    let ns = Netns::new();
    let server = Server::start();
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    admin
        .create_panel(json!({"id": "cl1", "name": "Colorlight", "width": 96, "height": 48, "format": "rgb888"}))
        .await;
    let url = server.broker_url();
    let mut sub = TestClient::connect(&url, "cl-sub", &["bangtin/panels/cl1/frame"]).await;
    let (_capturing, glass) = capture(&ns.name, &ns.far, 96, 48);
    let _agent = agent(&url, "cl1", &ns.near);
    schedule(&admin, json!(["cl1"]), "Đèn đỏ dừng lại").await;
    let frame = loop {
        let p = tokio::time::timeout(
            Duration::from_secs(10),
            sub.next_on("bangtin/panels/cl1/frame"),
        )
        .await
        .expect("the panel's frame");
        if frame::decode(&p.payload).unwrap().header.flags & FLAG_BLANK == 0 {
            break p.payload;
        }
    };
    let f = frame::decode(&frame).unwrap();
    let want = f.data.to_vec();
    let got = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok((rgb, b)) = glass.recv_timeout(Duration::from_millis(500)) {
                if rgb == want {
                    return Some(b);
                }
            }
        }
        None
    })
    .await
    .unwrap();
    assert_eq!(
        got,
        Some(f.header.brightness),
        "the card never latched the panel's frame at its brightness"
    );
}
