//! A reference LED controller: what a real controller must do with BTF1
//! frames (docs/protocol.md), runnable alone or as a fleet of simulated
//! panels for tests and load tests.
//!
//! Each simulated panel is its own small MQTT client (client id = panel id)
//! with its own event-loop task; nothing here talks to the server directly.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use rumqttc::{
    AsyncClient, Event, EventLoop, Incoming, LastWill, MqttOptions, Publish, QoS, Request,
    Subscribe, SubscribeFilter, Transport,
};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::link::{feed, jitter, publish_then_disconnect, retained, BACKOFF_MAX, BACKOFF_MIN};
use super::{tls, topics, BrokerUrl, TlsFiles, DEFAULT_MAX_PACKET, MAX_SNAPSHOT};
use crate::bundle::{self, Bundle, Refusal};
use crate::codec;
use crate::domain::{Color, Id, PixelFormat, MAX_PANEL_SIDE};
use crate::frame::{self, FLAG_BLANK, FLAG_EMERGENCY, FLAG_SIGNED};
use crate::transport::colorlight;

/// `bangtin controller`: the reference controller's flags.
#[derive(clap::Args, Debug, Clone)]
pub struct ControllerArgs {
    /// Panel id, also the MQTT client id.
    #[arg(long, required_unless_present = "fleet")]
    pub panel: Option<Id>,
    /// Broker URL: `mqtt://[user[:password]@]host[:port]` or `mqtts://…`
    #[arg(long, env = "BANGTIN_MQTT", default_value = "mqtt://127.0.0.1:1883")]
    pub mqtt: BrokerUrl,
    /// CA certificate (PEM) for mqtts://; default: the system's roots.
    #[arg(long)]
    pub mqtt_ca: Option<PathBuf>,
    /// First level(s) of every MQTT topic, as the server's.
    #[arg(long, env = "BANGTIN_TOPIC_ROOT", default_value = "bangtin")]
    pub topic_root: String,
    /// Write each shown frame as DIR/{panel}-{seq}.png.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Simulate N controllers PREFIX0001..PREFIXnnnn in one process.
    #[arg(long, value_name = "N", conflicts_with = "panel")]
    pub fleet: Option<u32>,
    /// For --fleet: the panel ids' prefix, before four digits.
    #[arg(long, default_value = "p")]
    pub prefix: String,
    /// The firmware the status names.
    #[arg(long, default_value = concat!("bangtin-ref/", env!("CARGO_PKG_VERSION")))]
    pub firmware: String,
    /// The server's Ed25519 public key (PEM, or 64 hex digits): when given,
    /// unsigned or badly signed frames are rejected.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// No terminal drawing.
    #[arg(long)]
    pub quiet: bool,
    /// Keep each panel's last accepted seq in DIR/{panel}.seq (written
    /// atomically), so a restarted controller still refuses frames older
    /// than the last it showed (a replayed signed frame, say). Needs
    /// --public-key: only a verified frame may move the stored seq.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Where shown frames go, repeatable: `terminal`, `png:DIR` or
    /// `colorlight:IFACE` (a Colorlight 5A-75 card cabled to that network
    /// interface; one panel only, needs root or CAP_NET_RAW).
    #[arg(long, value_name = "KIND[:ARG]")]
    pub output: Vec<crate::transport::colorlight::Output>,
    /// For --fleet: a file of `PANEL PASSWORD` lines; each simulated
    /// controller connects with its panel id as user name and its own
    /// password. Without it, every one uses the URL's user and password.
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// Say in the status that this controller decodes compressed frames
    /// (BTZ1: run-length, deflate, deltas); the server then sends them.
    #[arg(long)]
    pub accept_compressed: bool,
    /// Play frames only, as a version-1 controller: say nothing of
    /// offline bundles (`btb1`), so the server sends none.
    #[arg(long)]
    pub no_bundles: bool,
}

impl ControllerArgs {
    /// A single controller for `panel` against `mqtt` (library use).
    pub fn new(panel: Id, mqtt: BrokerUrl) -> ControllerArgs {
        ControllerArgs {
            panel: Some(panel),
            mqtt,
            mqtt_ca: None,
            topic_root: "bangtin".into(),
            out: None,
            fleet: None,
            prefix: "p".into(),
            firmware: concat!("bangtin-ref/", env!("CARGO_PKG_VERSION")).into(),
            public_key: None,
            quiet: true,
            state: None,
            output: Vec::new(),
            credentials: None,
            accept_compressed: false,
            no_bundles: false,
        }
    }

    /// The panels this process simulates.
    pub fn panels(&self) -> anyhow::Result<Vec<Id>> {
        match (self.fleet, &self.panel) {
            (Some(n), _) => (1..=n)
                .map(|i| {
                    Id::parse(&format!("{}{i:04}", self.prefix))
                        .with_context(|| format!("--prefix {:?} makes a bad panel id", self.prefix))
                })
                .collect(),
            (None, Some(p)) => Ok(vec![p.clone()]),
            (None, None) => anyhow::bail!("give --panel ID or --fleet N"),
        }
    }
}

/// A frame put on the glass (including blank frames).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The controller's panel.
    pub panel: Id,
    /// The frame's seq (0 for a page of the bundle).
    pub seq: u32,
    /// Its BTF1 flags.
    pub flags: u16,
    /// Pixels across.
    pub width: u16,
    /// Pixels down.
    pub height: u16,
    /// Its pixel format.
    pub format: PixelFormat,
    /// When the message carrying it arrived (or the bundle's page turned).
    pub received_at: Instant,
    /// How it came: 0 for BTF1, else the BTZ1 encoding byte.
    pub encoding: u8,
    /// Its size on the wire, bytes (0 for a page of the bundle).
    pub wire_bytes: usize,
    /// CRC-32 of the pixel data on the glass (0 when blank by a bundle).
    pub crc: u32,
    /// Played from the offline bundle (the broker link is down); its seq
    /// is then 0.
    pub from_bundle: bool,
    /// When it went on the glass, Unix milliseconds.
    pub at_unix_ms: u64,
}

/// Running controllers. Drop `shown` or read it: a full channel holds the
/// controllers back, as a slow display would.
pub struct Fleet {
    /// Every frame any of them put on the glass, in order per controller.
    pub shown: mpsc::Receiver<Shown>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    connected: Arc<AtomicUsize>,
    losses: Arc<LinkLosses>,
}

/// How often the fleet's controllers lost their broker link or failed to
/// make it, by cause (a load test's trace of reconnection storms).
#[derive(Default)]
pub struct LinkLosses(std::sync::Mutex<std::collections::BTreeMap<String, u64>>);

impl LinkLosses {
    fn count(&self, e: &rumqttc::ConnectionError, was_connected: bool) {
        use rumqttc::{ConnectionError as C, StateError as S};
        let cause = match e {
            C::MqttState(S::AwaitPingResp) => "no answer to a ping".to_string(),
            C::MqttState(S::Io(e)) | C::Io(e) => format!("I/O {:?}", e.kind()),
            C::MqttState(S::ConnectionAborted) => "closed by the broker".to_string(),
            C::MqttState(other) => format!("protocol: {other}"),
            C::NetworkTimeout => "no CONNACK in time".to_string(),
            C::ConnectionRefused(code) => format!("refused: {code:?}"),
            other => other.to_string(),
        };
        let when = if was_connected { "lost" } else { "connecting" };
        *self
            .0
            .lock()
            .expect("losses lock")
            .entry(format!("{when}: {cause}"))
            .or_default() += 1;
    }

    /// Every cause so far and how often it came, by cause.
    pub fn by_cause(&self) -> Vec<(String, u64)> {
        let m = self.0.lock().expect("losses lock");
        m.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// How many there were in all.
    pub fn total(&self) -> u64 {
        self.0.lock().expect("losses lock").values().sum()
    }
}

impl Fleet {
    /// Controllers currently connected to the broker.
    pub fn connected(&self) -> usize {
        self.connected.load(Ordering::Acquire)
    }

    /// The broker links lost or not made so far, by cause.
    pub fn losses(&self) -> Arc<LinkLosses> {
        self.losses.clone()
    }

    /// Every controller publishes `{"online":false}` and disconnects.
    pub async fn shutdown(self) {
        drop(self.shown);
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Seconds a controller waits for the broker to accept its connection.
/// rumqttc's 5 s is short when a district's signs all come back at once
/// (after a broker restart or a cut uplink): a controller that gives up
/// dials again and takes over its own half-made session, which costs the
/// broker the work twice, so a storm of reconnections feeds itself.
const CONNECT_TIMEOUT_S: u64 = 20;

/// Starts one controller per panel of `args` (needs a Tokio runtime).
pub fn spawn_fleet(args: &ControllerArgs) -> anyhow::Result<Fleet> {
    let panels = args.panels()?;
    let setup = FleetSetup::prepare(args, panels.len() == 1)?;
    let (shown_tx, shown_rx) = mpsc::channel(16_384);
    let (stop_tx, stop_rx) = watch::channel(false);
    let connected = Arc::new(AtomicUsize::new(0));
    let losses = Arc::new(LinkLosses::default());
    let mut tasks = Vec::with_capacity(panels.len());
    for panel in panels {
        let (client, mut eventloop) = AsyncClient::new(setup.mqtt_options(args, &panel), 4);
        let mut net = eventloop.network_options();
        net.set_connection_timeout(CONNECT_TIMEOUT_S);
        eventloop.set_network_options(net);
        let mut c = Controller::new(args, &setup, panel, shown_tx.clone(), connected.clone())?;
        c.losses = losses.clone();
        tasks.push(tokio::spawn(c.run(eventloop, client, stop_rx.clone())));
    }
    Ok(Fleet {
        shown: shown_rx,
        stop: stop_tx,
        tasks,
        connected,
        losses,
    })
}

/// What every controller of a fleet shares, read and checked once from
/// the arguments before the first one starts.
struct FleetSetup {
    /// Each panel's own broker password (`--credentials`).
    passwords: HashMap<Id, String>,
    /// The server's key, when frames must be signed.
    key: Option<Arc<VerifyingKey>>,
    /// TLS for `mqtts://`; `None` for plain TCP.
    transport: Option<Transport>,
    /// Draw on the terminal (one panel only).
    draw: bool,
    /// Where shown frames are written as PNG.
    out: Option<PathBuf>,
    /// A Colorlight card cabled to this machine (one panel only).
    colorlight: Option<Arc<colorlight::Card>>,
    /// One panel: its connection is logged.
    single: bool,
}

impl FleetSetup {
    /// Checks the arguments, reads the files they name and creates the
    /// output and state directories.
    fn prepare(args: &ControllerArgs, single: bool) -> anyhow::Result<FleetSetup> {
        topics::validate_root(&args.topic_root)?;
        if args.state.is_some() && args.public_key.is_none() {
            anyhow::bail!("{STATE_NEEDS_KEY}");
        }
        let passwords = match &args.credentials {
            Some(path) => read_credentials(path)?,
            None => HashMap::new(),
        };
        let key = match &args.public_key {
            Some(path) => Some(Arc::new(read_public_key(path)?)),
            None => None,
        };
        let transport = if args.mqtt.tls {
            let files = TlsFiles {
                ca: args.mqtt_ca.clone(),
                ..TlsFiles::default()
            };
            Some(Transport::tls_with_config(
                rumqttc::TlsConfiguration::Rustls(tls::client_config(&files)?),
            ))
        } else {
            None
        };
        let (draw, out, colorlight) = outputs(args, single)?;
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the output directory {}", dir.display()))?;
        }
        if let Some(dir) = &args.state {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
        }
        Ok(FleetSetup {
            passwords,
            key,
            transport,
            draw,
            out,
            colorlight,
            single,
        })
    }

    /// One controller's MQTT session: client id the panel, a retained
    /// `{"online":false}` as its will, its own password when it has one.
    fn mqtt_options(&self, args: &ControllerArgs, panel: &Id) -> MqttOptions {
        let mut mo = MqttOptions::new(panel.as_str(), &args.mqtt.host, args.mqtt.port);
        mo.set_keep_alive(Duration::from_secs(30))
            .set_clean_session(true)
            .set_max_packet_size(DEFAULT_MAX_PACKET, 64 * 1024)
            .set_inflight(10)
            .set_last_will(LastWill::new(
                topics::status(&args.topic_root, panel),
                r#"{"online":false}"#,
                QoS::AtLeastOnce,
                true,
            ));
        if let Some(password) = self.passwords.get(panel) {
            mo.set_credentials(panel.as_str(), password.as_str());
        } else if let Some(user) = &args.mqtt.username {
            mo.set_credentials(user, args.mqtt.password.as_deref().unwrap_or(""));
        }
        if let Some(t) = &self.transport {
            mo.set_transport(t.clone());
        }
        mo
    }
}

/// Terminal drawing, PNG directory and Colorlight card from `--output`
/// (or, without it, from `--quiet` and `--out`).
fn outputs(
    args: &ControllerArgs,
    single: bool,
) -> anyhow::Result<(bool, Option<PathBuf>, Option<Arc<colorlight::Card>>)> {
    use colorlight::Output;
    if args.output.is_empty() {
        return Ok((single && !args.quiet, args.out.clone(), None));
    }
    let mut draw = false;
    let mut out = args.out.clone();
    let mut card = None;
    for o in &args.output {
        match o {
            Output::Terminal => draw = single,
            Output::Png(dir) => out = Some(dir.clone()),
            Output::Colorlight(iface) => {
                anyhow::ensure!(
                    single,
                    "--output colorlight:{iface} drives one card: give --panel, not --fleet"
                );
                card = Some(Arc::new(
                    colorlight::Card::open(iface).map_err(|e| anyhow::anyhow!("{e}"))?,
                ));
            }
        }
    }
    Ok((draw, out, card))
}

/// Runs the controller(s) until `shutdown` resolves, then publishes
/// `{"online":false}` for each and returns.
pub async fn run(args: ControllerArgs, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let mut fleet = spawn_fleet(&args)?;
    tracing::info!(
        panels = args.fleet.unwrap_or(1),
        broker = %args.mqtt,
        "controller started"
    );
    tokio::pin!(shutdown);
    let mut count: u64 = 0;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            s = fleet.shown.recv() => match s {
                Some(_) => count += 1,
                None => break,
            },
        }
    }
    tracing::info!(frames = count, "controller stopping");
    fleet.shutdown().await;
    Ok(())
}

/// Why `--state` is refused without `--public-key`.
const STATE_NEEDS_KEY: &str = "--state needs --public-key: without the server's key, anyone who can publish on the frame topic could store a seq of 4294967295 and lock this controller out of every genuine frame for good; get the key with `bangtin keys public` or GET /api/v1/keys/frames";

/// `PANEL PASSWORD` lines (`--credentials`); blank lines and `#` comments skipped.
fn read_credentials(path: &Path) -> anyhow::Result<HashMap<Id, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the credentials file {}", path.display()))?;
    text.lines()
        .enumerate()
        .map(|(i, l)| (i, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(i, l)| {
            let bad = || anyhow::anyhow!("{} line {}: write PANEL PASSWORD", path.display(), i + 1);
            let (panel, password) = l.split_once(char::is_whitespace).ok_or_else(bad)?;
            Ok((
                Id::parse(panel).map_err(|_| bad())?,
                password.trim().to_string(),
            ))
        })
        .collect()
}

fn read_public_key(path: &Path) -> anyhow::Result<VerifyingKey> {
    use ed25519_dalek::pkcs8::DecodePublicKey;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the public key file {}", path.display()))?;
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return VerifyingKey::from_public_key_pem(text)
            .with_context(|| format!("{} is not an Ed25519 public key", path.display()));
    }
    let bytes: [u8; 32] = hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| {
            format!(
                "{} must hold an Ed25519 public key as PEM or 64 hex digits",
                path.display()
            )
        })?;
    Ok(VerifyingKey::from_bytes(&bytes)?)
}

struct Controller {
    panel: Id,
    frame_topic: String,
    bundle_topic: String,
    /// The latest valid offline bundle, replaced whole by a newer one.
    bundle: Option<Arc<Bundle>>,
    /// Why the last bundle offered was refused (for the status).
    bundle_refused: Option<&'static str>,
    /// What of the bundle is on the glass (page, flags, brightness),
    /// while it plays.
    on_bundle: Option<(Option<u16>, u16, u8)>,
    /// When the bundle's next change is due, while it plays.
    play_at: Option<Instant>,
    snapshot_request_topic: String,
    snapshot_topic: String,
    /// The last frame shown, as received (for snapshots), and whether the
    /// glass went dark since (expired, or the panel was removed).
    glass: Option<bytes::Bytes>,
    dark: bool,
    /// With `--accept-compressed`: the BTZ1 decoder (its fixed state),
    /// and the last frames shown, which deltas may name.
    decoder: Option<Box<codec::Decoder>>,
    /// Says `btb1` and takes bundles (not with `--no-bundles`).
    plays_bundles: bool,
    held: std::collections::VecDeque<bytes::Bytes>,
    /// Publish the status again (a delta came for a frame not held).
    status_due: bool,
    status_topic: String,
    ack_topic: String,
    firmware: String,
    /// The seq of the frame on the glass (since this process started).
    last_seq: Option<u32>,
    /// The last seq accepted before a restart (`--state`): anything lower
    /// is a replay. Equal is accepted once: the glass is dark after a boot.
    floor: Option<u32>,
    /// Where the last accepted seq is kept (`--state DIR`).
    state: Option<PathBuf>,
    /// When the frame on the glass expires (its `valid_until`).
    expires: Option<Instant>,
    draw: bool,
    log_state: bool,
    out: Option<PathBuf>,
    /// A Colorlight card on a local interface (`--output colorlight:IFACE`).
    colorlight: Option<Arc<colorlight::Card>>,
    key: Option<Arc<VerifyingKey>>,
    shown: mpsc::Sender<Shown>,
    connected: Arc<AtomicUsize>,
    is_connected: bool,
    /// The fleet's count of lost links, by cause.
    losses: Arc<LinkLosses>,
    /// Acks that were queued or in flight when the connection dropped.
    /// rumqttc forgets them when a clean session reconnects, so they are
    /// kept here and sent again (see [`Controller::flush_acks`]).
    unsent_acks: Vec<bytes::Bytes>,
    /// What it publishes (acks, statuses, snapshots), fed to the event
    /// loop as its in-flight limit allows ([`super::link::feed`]).
    outbox: VecDeque<Request>,
    /// When to send `unsent_acks` at the latest after a reconnect.
    flush_at: Option<Instant>,
    /// The size of the last picture shown (to blank a Colorlight card).
    size: Option<(u32, u32)>,
    /// Decodes the bundle's coded pages (made on first use).
    bundle_decoder: Option<Box<codec::Decoder>>,
}

/// Acks kept across a disconnection, at most (oldest dropped first).
const MAX_UNSENT_ACKS: usize = 1024;
/// After a reconnect, kept acks go out with the first new frame (the
/// server is subscribed again by then: it republishes after subscribing)
/// or after this long, whichever comes first.
const ACK_RESEND_WAIT: Duration = Duration::from_secs(10);

/// The reconnection back-off: doubling from `BACKOFF_MIN` up to
/// `BACKOFF_MAX`, with jitter; back to the start on every ConnAck.
struct Retry {
    /// The next wait before jitter.
    backoff: Duration,
    /// Failed attempts since the last connection (the first is logged).
    failures: u32,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            backoff: BACKOFF_MIN,
            failures: 0,
        }
    }
}

impl Retry {
    /// The wait before the next attempt; doubles the one after.
    fn next_delay(&mut self) -> Duration {
        let delay = jitter(self.backoff);
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        delay
    }
}

impl Controller {
    /// A controller for `panel` with a dark glass, its stored seq (with
    /// `--state`) as the floor below which frames are replays.
    fn new(
        args: &ControllerArgs,
        setup: &FleetSetup,
        panel: Id,
        shown: mpsc::Sender<Shown>,
        connected: Arc<AtomicUsize>,
    ) -> anyhow::Result<Controller> {
        let root = &args.topic_root;
        let state = args.state.as_ref().map(|d| d.join(format!("{panel}.seq")));
        let floor = match &state {
            Some(path) => read_seq(path)?,
            None => None,
        };
        Ok(Controller {
            frame_topic: topics::frame(root, &panel),
            bundle_topic: topics::bundle(root, &panel),
            bundle: None,
            bundle_refused: None,
            on_bundle: None,
            play_at: None,
            snapshot_request_topic: topics::snapshot_request(root, &panel),
            snapshot_topic: topics::snapshot(root, &panel),
            glass: None,
            dark: true,
            decoder: args
                .accept_compressed
                .then(|| Box::new(codec::Decoder::default())),
            plays_bundles: !args.no_bundles,
            status_due: false,
            held: Default::default(),
            ack_topic: topics::ack(root, &panel),
            status_topic: topics::status(root, &panel),
            panel,
            firmware: args.firmware.clone(),
            last_seq: None,
            floor,
            state,
            expires: None,
            draw: setup.draw,
            log_state: setup.single,
            out: setup.out.clone(),
            colorlight: setup.colorlight.clone(),
            key: setup.key.clone(),
            shown,
            connected,
            is_connected: false,
            losses: Arc::default(),
            unsent_acks: Vec::new(),
            outbox: VecDeque::new(),
            flush_at: None,
            size: None,
            bundle_decoder: None,
        })
    }

    fn status_json(&self, online: bool) -> String {
        let mut v = serde_json::json!({"online": online, "firmware": self.firmware});
        if let Some(seq) = self.last_seq {
            v["seq"] = seq.into();
        }
        let mut accepts = Vec::new();
        if self.decoder.is_some() {
            accepts.extend(["btz1-rle", "btz1-deflate", "btz1-delta"]);
        }
        if self.plays_bundles {
            accepts.push("btb1");
        }
        if !accepts.is_empty() {
            v["accepts"] = accepts.into();
        }
        if let Some(b) = &self.bundle {
            v["bundle"] =
                serde_json::json!({"issued_at": b.head.issued_at, "expires_at": b.head.expires_at});
        }
        if let Some(why) = self.bundle_refused {
            v["bundle_refused"] = why.into();
        }
        v.to_string()
    }

    /// A bundle from the server: checked ([`bundle::accept`]), then kept
    /// in place of the one held unless that one is newer. An empty
    /// payload (the panel was deleted) drops it. The status then says
    /// which bundle is held and why the last one offered was refused.
    fn on_bundle_message(&mut self, bytes: &[u8]) {
        self.status_due = true;
        if bytes.is_empty() {
            self.bundle = None;
            return;
        }
        let size = self
            .glass
            .as_deref()
            .and_then(|g| frame::decode(g).ok())
            .map(|f| (f.header.width, f.header.height));
        let checked = bundle::accept(
            bytes,
            self.key.as_deref(),
            self.panel.as_str(),
            size,
            unix_ms(),
        )
        .and_then(|b| match &self.bundle {
            Some(held) if held.head.issued_at > b.head.issued_at => Err(Refusal::Older),
            _ => Ok(b),
        });
        match checked {
            Ok(b) => {
                if self.bundle.as_ref().is_some_and(|h| **h == b) {
                    self.status_due = false;
                    return;
                }
                tracing::info!(panel = %self.panel, pages = b.pages.len(), expires_at = b.head.expires_at, "offline bundle kept");
                self.bundle = Some(Arc::new(b));
                self.bundle_refused = None;
            }
            Err(e) => {
                tracing::warn!(panel = %self.panel, error = %e, "refused an offline bundle");
                self.bundle_refused = Some(e.code());
            }
        }
    }

    /// With the broker link down: what the bundle shows now goes on the
    /// glass, and the next change is armed. An alert frame still valid on
    /// the glass keeps it until its own end; when the bundle ends (or
    /// there is none and the frame on the glass expires) the glass blanks.
    async fn play_bundle(&mut self) {
        self.play_at = None;
        if self.is_connected {
            return;
        }
        let Some(b) = self.bundle.clone() else {
            return;
        };
        let now = unix_ms();
        let alert_until = self.expires.filter(|e| {
            *e > Instant::now()
                && self.on_bundle.is_none()
                && !self.dark
                && self.glass_flags() & FLAG_EMERGENCY != 0
        });
        if let Some(until) = alert_until {
            self.expires = None;
            self.play_at = Some(until);
            return;
        }
        self.expires = None;
        if now < b.head.issued_at {
            // This clock is behind the server's: wait for the bundle's start.
            self.play_at = Some(Instant::now() + Duration::from_millis(b.head.issued_at - now));
            return;
        }
        let Some(p) = b.at(now) else {
            tracing::info!(panel = %self.panel, "offline bundle ended; blanking");
            self.bundle = None;
            if !self.dark {
                self.show_from_bundle(&b, None, 0, 0).await;
            }
            self.on_bundle = None;
            return;
        };
        self.play_at = Some(Instant::now() + Duration::from_millis(p.next.saturating_sub(now)));
        if self.on_bundle == Some((p.page, p.flags, p.brightness)) {
            return;
        }
        self.on_bundle = Some((p.page, p.flags, p.brightness));
        self.show_from_bundle(&b, p.page, p.flags, p.brightness)
            .await;
    }

    /// The flags of the frame on the glass.
    fn glass_flags(&self) -> u16 {
        self.glass
            .as_deref()
            .and_then(|g| frame::decode(g).ok())
            .map_or(0, |f| f.header.flags)
    }

    /// Puts a page of the bundle (or, `None`, nothing) on the glass, as
    /// an unsigned BTF1 frame with seq 0 (what a snapshot then shows).
    async fn show_from_bundle(
        &mut self,
        b: &Bundle,
        page: Option<u16>,
        flags: u16,
        brightness: u8,
    ) {
        let mut data = Vec::new();
        let decoded = match page {
            Some(i) => b.pixels(
                i,
                self.bundle_decoder.get_or_insert_with(Default::default),
                &mut data,
            ),
            None => Ok(()),
        };
        if let Err(e) = decoded {
            tracing::warn!(panel = %self.panel, page = ?page, error = %e, "a page of the offline bundle does not decode; blanking");
            data.clear();
        }
        let bh = &b.head;
        let blank = data.is_empty();
        // Dark glass: all zeros, as mono1 on a PNG panel (PNG has no raw size).
        let format = match bh.format {
            PixelFormat::Png if blank => PixelFormat::Mono1,
            f => f,
        };
        if blank {
            data = vec![0; frame::raw_data_len(format, bh.width, bh.height).unwrap_or(0)];
        }
        let h = frame::Header {
            format,
            brightness,
            width: bh.width,
            height: bh.height,
            flags: if blank {
                FLAG_BLANK
            } else {
                flags & !FLAG_SIGNED
            },
            seq: 0,
            valid_until: 0,
        };
        let bytes = bytes::Bytes::from(frame::encode(&h, &data));
        let Ok(fr) = frame::decode(&bytes) else {
            return;
        };
        let crc = if blank { 0 } else { fr.crc };
        if blank {
            self.blank();
        } else if self.draw || self.out.is_some() || self.colorlight.is_some() {
            if let Some(img) = pixels(&fr) {
                self.display(&img, &h);
            }
        }
        let shown = Shown {
            panel: self.panel.clone(),
            seq: 0,
            flags: h.flags,
            width: h.width,
            height: h.height,
            format: h.format,
            received_at: Instant::now(),
            encoding: 0,
            wire_bytes: 0,
            crc,
            from_bundle: true,
            at_unix_ms: unix_ms(),
        };
        let _ = self.shown.send(shown).await;
        self.dark = blank;
        self.glass = Some(bytes);
    }

    /// A BTZ1 frame, checked (signature with a key) and decoded against
    /// the last frame shown, as the BTF1 frame it stands for (unsigned:
    /// its signature was checked here). `None` (logged) if refused.
    fn expand(&mut self, bytes: &[u8]) -> Option<bytes::Bytes> {
        let decoder = self.decoder.as_mut()?;
        let p = match codec::parse(bytes) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(panel = %self.panel, error = %e, "rejected a malformed compressed frame");
                return None;
            }
        };
        let h = p.header.frame;
        if let Some(key) = &self.key {
            let ok = p.signature.is_some_and(|sig| {
                key.verify(p.signed_part(bytes), &Signature::from_bytes(sig))
                    .is_ok()
            });
            if !ok {
                tracing::warn!(panel = %self.panel, seq = h.seq, "rejected a compressed frame without a valid signature");
                return None;
            }
        }
        if h.width > MAX_PANEL_SIDE || h.height > MAX_PANEL_SIDE {
            tracing::warn!(panel = %self.panel, seq = h.seq, "rejected a compressed frame larger than any panel");
            return None;
        }
        let base = self
            .held
            .iter()
            .filter_map(|b| frame::decode(b).ok())
            .find(|b| b.header.seq == p.header.base_seq);
        let base = base.as_ref().map(|b| (b.header.seq, b.data));
        let mut scratch = vec![0u8; frame::raw_data_len(h.format, h.width, h.height)?];
        if let Err(e) = decoder.decode(&p, base, &mut scratch) {
            tracing::warn!(panel = %self.panel, seq = h.seq, error = %e, "rejected a compressed frame that does not decode");
            // A delta against a frame not held: the status says which one
            // is, and the server sends the frame in full.
            self.status_due |= matches!(e, codec::CodecError::NoBase { .. });
            return None;
        }
        let raw = frame::Header {
            flags: h.flags & !FLAG_SIGNED,
            ..h
        };
        Some(frame::encode(&raw, &scratch).into())
    }

    /// Takes the acks out of the event loop's queue when the connection
    /// drops: a clean-session reconnect would clear that queue, losing
    /// proof of play for frames that were on the glass.
    fn keep_unsent_acks(&mut self, el: &mut EventLoop) {
        let topic = &self.ack_topic;
        let kept = &mut self.unsent_acks;
        // Oldest first: the loop's own queue (what was in flight is put
        // back at its front), then the outbox. Nothing else is kept: the
        // clean session's reconnect would drop it, a new status goes out
        // on connecting, and a snapshot was for the server asking then.
        let queued = el.pending.drain(..).chain(self.outbox.drain(..));
        kept.extend(queued.filter_map(|r| match r {
            Request::Publish(p) if &p.topic == topic => Some(p.payload),
            _ => None,
        }));
        if kept.len() > MAX_UNSENT_ACKS {
            let extra = kept.len() - MAX_UNSENT_ACKS;
            kept.drain(..extra);
        }
    }

    /// Queues the kept acks again, oldest first.
    fn flush_acks(&mut self) {
        self.flush_at = None;
        if !self.unsent_acks.is_empty() {
            tracing::info!(panel = %self.panel, acks = self.unsent_acks.len(), "re-sending acks from before the disconnection");
        }
        for payload in self.unsent_acks.drain(..) {
            self.outbox.push_back(Request::Publish(Publish::from_bytes(
                &self.ack_topic,
                QoS::AtLeastOnce,
                payload,
            )));
        }
    }

    fn set_connected(&mut self, up: bool) {
        if up != self.is_connected {
            self.is_connected = up;
            if up {
                self.connected.fetch_add(1, Ordering::AcqRel);
            } else {
                self.connected.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// `_client` keeps the request channel open; requests go into the
    /// outbox, which never blocks, and from there into the event loop's
    /// queue as its in-flight limit allows.
    async fn run(
        mut self,
        mut el: EventLoop,
        _client: AsyncClient,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut retry = Retry::default();
        loop {
            if self.is_connected {
                feed(&mut el, &mut self.outbox);
            }
            let expiry = self.expires;
            let flush_at = self.flush_at;
            let play_at = self.play_at;
            let event = tokio::select! {
                ev = el.poll() => ev,
                _ = stop.changed() => break,
                _ = async { tokio::time::sleep_until(play_at.unwrap_or_else(Instant::now)).await },
                    if play_at.is_some() => {
                    self.play_bundle().await;
                    continue;
                }
                _ = async { tokio::time::sleep_until(flush_at.unwrap_or_else(Instant::now)).await },
                    if flush_at.is_some() => {
                    self.flush_acks();
                    continue;
                }
                _ = async { tokio::time::sleep_until(expiry.unwrap_or_else(Instant::now)).await },
                    if expiry.is_some() => {
                    self.on_expiry().await;
                    continue;
                }
            };
            match event {
                Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                    retry = Retry::default();
                    self.on_connected(&mut el);
                }
                Ok(Event::Incoming(Incoming::Publish(p))) => self.on_publish(&p).await,
                Ok(_) => {}
                Err(e) => {
                    if self.on_link_lost(&mut el, &e, &mut retry, &mut stop).await {
                        break;
                    }
                }
            }
        }
        if self.is_connected {
            let last = retained(self.status_topic.clone(), self.status_json(false));
            publish_then_disconnect(&mut el, &mut self.outbox, last).await;
            self.set_connected(false);
        }
    }

    /// The frame on the glass passed its `valid_until`: the glass goes
    /// dark, or, with the broker link down, the offline bundle plays.
    async fn on_expiry(&mut self) {
        self.expires = None;
        if !self.is_connected && self.bundle.is_some() {
            self.play_bundle().await;
            return;
        }
        tracing::info!(panel = %self.panel, seq = ?self.last_seq, "frame expired (valid_until passed); blanking");
        self.go_dark();
    }

    /// Connected: subscribe, say online in the retained status, and plan
    /// the resending of the acks kept from before.
    fn on_connected(&mut self, el: &mut EventLoop) {
        self.set_connected(true);
        // The frames rule again; the retained one is on its way.
        self.play_at = None;
        if self.log_state {
            tracing::info!(panel = %self.panel, "controller connected");
        }
        let mut topics = vec![
            SubscribeFilter::new(self.frame_topic.clone(), QoS::AtLeastOnce),
            SubscribeFilter::new(self.snapshot_request_topic.clone(), QoS::AtLeastOnce),
        ];
        if self.plays_bundles {
            topics.push(SubscribeFilter::new(
                self.bundle_topic.clone(),
                QoS::AtLeastOnce,
            ));
        }
        el.pending
            .push_front(Request::Subscribe(Subscribe::new_many(topics)));
        el.pending
            .push_front(retained(self.status_topic.clone(), self.status_json(true)));
        if !self.unsent_acks.is_empty() {
            self.flush_at = Some(Instant::now() + ACK_RESEND_WAIT);
        }
    }

    /// A message on one of the subscribed topics: a frame, a bundle or a
    /// snapshot request.
    async fn on_publish(&mut self, p: &Publish) {
        if p.topic == self.frame_topic {
            self.on_frame_message(&p.payload).await;
        } else if p.topic == self.bundle_topic {
            self.on_bundle_message(&p.payload);
            self.publish_status_if_due();
        } else if p.topic == self.snapshot_request_topic {
            self.answer_snapshot().await;
        }
    }

    /// A frame (BTF1, or BTZ1 expanded first) shown and acknowledged.
    async fn on_frame_message(&mut self, payload: &bytes::Bytes) {
        let (raw, encoding) = match payload.starts_with(codec::MAGIC) {
            true => (self.expand(payload), payload.get(32).copied().unwrap_or(0)),
            false => (Some(payload.clone()), 0),
        };
        let shown = match raw {
            Some(raw) => self.on_frame(&raw, (encoding, payload.len())).await,
            None => None,
        };
        self.publish_status_if_due();
        if let Some((seq, crc)) = shown {
            self.flush_acks();
            self.outbox.push_back(Request::Publish(Publish::new(
                &self.ack_topic,
                QoS::AtLeastOnce,
                ack_json(seq, crc),
            )));
        }
    }

    /// Publishes the retained status again when something asked for it.
    fn publish_status_if_due(&mut self) {
        if std::mem::take(&mut self.status_due) {
            self.outbox
                .push_back(retained(self.status_topic.clone(), self.status_json(true)));
        }
    }

    /// Answers `snapshot/request` with a PNG of the glass (made off the
    /// runtime), if something was ever shown and it fits.
    async fn answer_snapshot(&mut self) {
        let (glass, dark) = (self.glass.clone(), self.dark);
        let made = tokio::task::spawn_blocking(move || snapshot(glass.as_deref(), dark))
            .await
            .ok()
            .flatten();
        match made {
            Some(bytes) if bytes.len() <= MAX_SNAPSHOT => self.outbox.push_back(Request::Publish(
                Publish::new(&self.snapshot_topic, QoS::AtLeastOnce, bytes),
            )),
            Some(bytes) => {
                tracing::warn!(panel = %self.panel, bytes = bytes.len(), "snapshot larger than {MAX_SNAPSHOT} bytes; not sent")
            }
            None => {
                tracing::info!(panel = %self.panel, "snapshot asked for, but nothing was ever shown")
            }
        }
    }

    /// The broker link failed: keep the unsent acks, play the bundle, and
    /// wait out the back-off (playing the bundle's changes meanwhile).
    /// True when `stop` came during the wait.
    async fn on_link_lost(
        &mut self,
        el: &mut EventLoop,
        e: &rumqttc::ConnectionError,
        retry: &mut Retry,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        let was = self.is_connected;
        self.losses.count(e, was);
        self.set_connected(false);
        self.flush_at = None;
        self.keep_unsent_acks(el);
        retry.failures += 1;
        if self.log_state && (was || retry.failures == 1) {
            tracing::warn!(panel = %self.panel, error = %e, "controller disconnected; retrying with back-off");
        } else {
            tracing::debug!(panel = %self.panel, error = %e, "controller connect failed");
        }
        let delay = retry.next_delay();
        if was {
            self.play_bundle().await;
        }
        let retry_at = Instant::now() + delay;
        loop {
            let play_at = self.play_at;
            tokio::select! {
                _ = tokio::time::sleep_until(retry_at) => return false,
                _ = async { tokio::time::sleep_until(play_at.unwrap_or_else(Instant::now)).await },
                    if play_at.is_some() => self.play_bundle().await,
                _ = stop.changed() => return true,
            }
        }
    }

    /// Validates and shows a frame; returns the seq to acknowledge and the
    /// CRC-32 of the pixel data now on the glass.
    /// `wire`: how the frame came (BTZ1 encoding byte or 0, bytes on the
    /// wire); a decoded BTZ1 frame's signature was checked already.
    async fn on_frame(&mut self, bytes: &bytes::Bytes, wire: (u8, usize)) -> Option<(u32, u32)> {
        let received_at = Instant::now();
        if bytes.is_empty() {
            tracing::info!(panel = %self.panel, "frame cleared (panel removed from the server); blanking");
            self.go_dark();
            return None;
        }
        let fr = self.admit(bytes, wire.0 != 0)?;
        let h = fr.header;
        self.last_seq = Some(h.seq);
        self.save_seq(h.seq).await;
        self.on_bundle = None;
        self.play_at = None;
        let now_unix = unix_ms() / 1000;
        if h.valid_until != 0 && h.valid_until <= now_unix {
            tracing::warn!(panel = %self.panel, seq = h.seq, "frame arrived already expired; blanking");
            self.go_dark();
            return None;
        }
        self.expires = (h.valid_until != 0)
            .then(|| Instant::now() + Duration::from_secs(h.valid_until - now_unix));
        if self.draw || self.out.is_some() || self.colorlight.is_some() {
            match pixels(&fr) {
                Some(img) => self.display(&img, &h),
                None => {
                    tracing::warn!(panel = %self.panel, seq = h.seq, "rejected a frame whose pixels do not decode");
                    return None;
                }
            }
        }
        let shown = Shown {
            panel: self.panel.clone(),
            seq: h.seq,
            flags: h.flags,
            width: h.width,
            height: h.height,
            format: h.format,
            received_at,
            encoding: wire.0,
            wire_bytes: wire.1,
            crc: fr.crc,
            from_bundle: false,
            at_unix_ms: unix_ms(),
        };
        let _ = self.shown.send(shown).await;
        self.glass = Some(bytes.clone());
        self.dark = false;
        if self.decoder.is_some() {
            if self.held.len() >= codec::HELD {
                self.held.pop_front();
            }
            self.held.push_back(bytes.clone());
        }
        Some((h.seq, fr.crc))
    }

    /// The frame decoded, if it may be shown: well formed, signed with
    /// the server's key (unless `checked` already), its seq above the
    /// last shown and not below the floor, a PNG of its stated size.
    /// `None` (logged) if refused.
    fn admit<'a>(&self, bytes: &'a [u8], checked: bool) -> Option<frame::Frame<'a>> {
        let fr = match frame::decode(bytes) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(panel = %self.panel, error = %e, "rejected a malformed frame");
                return None;
            }
        };
        let h = fr.header;
        if let Some(key) = self.key.as_ref().filter(|_| !checked) {
            let ok = fr.signature.is_some_and(|sig| {
                key.verify(fr.signed_part(bytes), &Signature::from_bytes(sig))
                    .is_ok()
            });
            if !ok {
                tracing::warn!(panel = %self.panel, seq = h.seq, signed = h.flags & FLAG_SIGNED != 0, "rejected a frame without a valid signature");
                return None;
            }
        }
        match self.last_seq {
            // The retained frame again after a reconnect: already shown.
            Some(last) if h.seq == last && self.on_bundle.is_none() => return None,
            Some(last) if h.seq < last => {
                tracing::warn!(panel = %self.panel, seq = h.seq, last, "rejected a replayed frame (seq not above the last shown)");
                return None;
            }
            _ => {}
        }
        if let Some(floor) = self.floor.filter(|f| h.seq < *f) {
            tracing::warn!(panel = %self.panel, seq = h.seq, floor, "rejected a replayed frame (seq below the last shown before the restart)");
            return None;
        }
        if h.format == PixelFormat::Png && !png_size_matches(fr.data, h.width, h.height) {
            tracing::warn!(panel = %self.panel, seq = h.seq, "rejected a PNG frame that is not a {}x{} PNG", h.width, h.height);
            return None;
        }
        Some(fr)
    }

    /// With `--state`: keeps `seq` on disk before the frame is shown, so
    /// a crash right after must not forget it (a failure is logged).
    async fn save_seq(&self, seq: u32) {
        let Some(path) = &self.state else {
            return;
        };
        let path = path.clone();
        let text = seq.to_string();
        let saved =
            tokio::task::spawn_blocking(move || crate::fsio::write_atomic(&path, text.as_bytes()))
                .await;
        if !matches!(saved, Ok(Ok(()))) {
            tracing::warn!(panel = %self.panel, seq, "could not save the last seq: {saved:?}");
        }
    }

    /// Blanks the glass and forgets the expiry: nothing is shown.
    fn go_dark(&mut self) {
        self.expires = None;
        self.blank();
        self.dark = true;
    }

    fn blank(&self) {
        if let (Some(card), Some((w, h))) = (&self.colorlight, self.size) {
            card.show(&image::RgbImage::new(w, h), 0);
        }
        if self.draw {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "[{}] blank", self.panel);
        }
    }

    fn display(&mut self, img: &image::RgbImage, h: &frame::Header) {
        if let Some(card) = &self.colorlight {
            card.show(img, h.brightness);
            self.size = Some(img.dimensions());
        }
        if self.draw {
            let text = draw_half_blocks(img);
            let mut out = std::io::stdout().lock();
            if out.is_terminal() {
                let _ = write!(out, "\x1b[H\x1b[2J");
            }
            let mut tags = String::new();
            if h.flags & FLAG_EMERGENCY != 0 {
                tags.push_str(" EMERGENCY");
            }
            if h.flags & FLAG_BLANK != 0 {
                tags.push_str(" blank");
            }
            let _ = writeln!(
                out,
                "[{}] seq {} {}x{} {} brightness {}{tags}",
                self.panel,
                h.seq,
                h.width,
                h.height,
                h.format.name(),
                h.brightness
            );
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
        if let Some(dir) = &self.out {
            let path = dir.join(format!("{}-{}.png", self.panel, h.seq));
            let img = img.clone();
            tokio::task::spawn_blocking(move || {
                if let Err(e) = img.save_with_format(&path, image::ImageFormat::Png) {
                    tracing::warn!(path = %path.display(), error = %e, "cannot write frame PNG");
                }
            });
        }
    }
}

/// The wall clock, Unix milliseconds (a controller plays its bundle by it).
fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A version-2 ack: the seq and the CRC-32 of the data on the glass (a
/// version-1 ack was `{"seq":N}`).
fn ack_json(seq: u32, crc: u32) -> String {
    format!(r#"{{"seq":{seq},"crc":{crc}}}"#)
}

/// What the glass shows, as the snapshot topic carries it: a BTF1 frame
/// with the shown frame's header (seq, brightness, flags, valid_until),
/// unsigned, whose data is a PNG of the pixels as lit. A dark glass after
/// a frame was shown is that frame's header with the blank flag and a
/// black PNG; `None` when nothing was ever shown.
pub fn snapshot(glass: Option<&[u8]>, dark: bool) -> Option<Vec<u8>> {
    let bytes = glass?;
    let fr = frame::decode(bytes).ok()?;
    let mut flags = fr.header.flags & !FLAG_SIGNED;
    let img = if dark {
        flags |= FLAG_BLANK;
        let (w, h) = (u32::from(fr.header.width), u32::from(fr.header.height));
        (w <= u32::from(MAX_PANEL_SIDE) && h <= u32::from(MAX_PANEL_SIDE))
            .then(|| image::RgbImage::new(w, h))?
    } else {
        pixels(&fr)?
    };
    let png = crate::render::png_bytes(&img);
    let header = frame::Header {
        format: PixelFormat::Png,
        flags,
        ..fr.header
    };
    Some(frame::encode(&header, &png))
}

/// Checks a PNG's IHDR size without decoding it.
fn png_size_matches(data: &[u8], width: u16, height: u16) -> bool {
    const SIG: &[u8] = b"\x89PNG\r\n\x1a\n";
    data.len() >= 24
        && data.starts_with(SIG)
        && &data[12..16] == b"IHDR"
        && data[16..20] == u32::from(width).to_be_bytes()
        && data[20..24] == u32::from(height).to_be_bytes()
}

/// The frame as the panel shows it: mono lit pixels in LED red, a blank
/// frame all dark. `None` for frames larger than any panel the server
/// drives ([`MAX_PANEL_SIDE`] a side): BTF1 allows 65535×65535, and a
/// 32-byte blank or PNG header of that size would otherwise make the
/// controller allocate 12 GiB (found by fuzzing).
pub fn pixels(fr: &frame::Frame<'_>) -> Option<image::RgbImage> {
    let h = fr.header;
    if h.width > MAX_PANEL_SIDE || h.height > MAX_PANEL_SIDE {
        return None;
    }
    let (w, hh) = (u32::from(h.width), u32::from(h.height));
    if h.flags & FLAG_BLANK != 0 {
        return Some(image::RgbImage::new(w, hh));
    }
    let d = fr.data;
    let img = match h.format {
        PixelFormat::Mono1 => {
            let stride = (w as usize).div_ceil(8);
            let lit = Color::LED_RED.0;
            image::RgbImage::from_fn(w, hh, |x, y| {
                let byte = d[y as usize * stride + x as usize / 8];
                if byte & (0x80 >> (x % 8)) != 0 {
                    image::Rgb(lit)
                } else {
                    image::Rgb([0, 0, 0])
                }
            })
        }
        PixelFormat::Rgb565 => image::RgbImage::from_fn(w, hh, |x, y| {
            let i = 2 * (y * w + x) as usize;
            let v = u16::from_le_bytes([d[i], d[i + 1]]);
            let (r, g, b) = ((v >> 11) & 31, (v >> 5) & 63, v & 31);
            image::Rgb([
                (r * 255 / 31) as u8,
                (g * 255 / 63) as u8,
                (b * 255 / 31) as u8,
            ])
        }),
        PixelFormat::Rgb888 => image::RgbImage::from_raw(w, hh, d.to_vec())?,
        PixelFormat::Png => {
            let mut reader =
                image::ImageReader::with_format(std::io::Cursor::new(d), image::ImageFormat::Png);
            let mut limits = image::Limits::default();
            limits.max_image_width = Some(w);
            limits.max_image_height = Some(hh);
            limits.max_alloc = Some(64 << 20);
            reader.limits(limits);
            let img = reader.decode().ok()?.to_rgb8();
            if img.dimensions() != (w, hh) {
                return None;
            }
            img
        }
    };
    Some(img)
}

/// Two pixel rows per text row: `▀` with the top pixel as foreground and
/// the bottom pixel as background, in 24-bit colour.
pub fn draw_half_blocks(img: &image::RgbImage) -> String {
    let (w, h) = img.dimensions();
    let mut s = String::with_capacity((w * h.div_ceil(2) * 40) as usize);
    for y in (0..h).step_by(2) {
        for x in 0..w {
            let t = img.get_pixel(x, y).0;
            let b = if y + 1 < h {
                img.get_pixel(x, y + 1).0
            } else {
                [0, 0, 0]
            };
            s.push_str(&format!(
                "\x1b[38;2;{};{};{}m\x1b[48;2;{};{};{}m▀",
                t[0], t[1], t[2], b[0], b[1], b[2]
            ));
        }
        s.push_str("\x1b[0m\n");
    }
    s
}

/// The seq saved by `--state`, if any.
fn read_seq(path: &Path) -> anyhow::Result<Option<u32>> {
    match std::fs::read_to_string(path) {
        Ok(s) => s.trim().parse().map(Some).with_context(|| {
            format!(
                "{} does not hold a seq (a number); delete it to start afresh",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_pixels_and_half_blocks() {
        let h = frame::Header {
            format: PixelFormat::Mono1,
            brightness: 255,
            width: 9,
            height: 3,
            flags: 0,
            seq: 1,
            valid_until: 0,
        };
        let data = [0x80, 0x80, 0x00, 0x00, 0xff, 0x00];
        let bytes = frame::encode(&h, &data);
        let fr = frame::decode(&bytes).unwrap();
        let img = pixels(&fr).unwrap();
        assert_eq!(img.get_pixel(0, 0).0, Color::LED_RED.0);
        assert_eq!(img.get_pixel(8, 0).0, Color::LED_RED.0);
        assert_eq!(img.get_pixel(1, 0).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(3, 2).0, Color::LED_RED.0);
        let text = draw_half_blocks(&img);
        assert_eq!(text.lines().count(), 2);
        assert_eq!(text.matches('▀').count(), 18);
    }

    #[test]
    fn huge_frames_are_refused_without_allocating() {
        for (format, flags) in [
            (PixelFormat::Png, FLAG_BLANK),
            (PixelFormat::Png, 0),
            (PixelFormat::Rgb888, FLAG_BLANK),
        ] {
            let h = frame::Header {
                format,
                brightness: 255,
                width: 65535,
                height: 65535,
                flags,
                seq: 1,
                valid_until: 0,
            };
            // Raw formats need their full data to decode; the check must
            // hold for what decodes (PNG and blank PNG: no data at all).
            let bytes = frame::encode(&h, &[]);
            if let Ok(fr) = frame::decode(&bytes) {
                assert!(pixels(&fr).is_none(), "{format:?} {flags}");
            }
        }
    }

    #[test]
    fn rgb565_is_little_endian_red_high() {
        let h = frame::Header {
            format: PixelFormat::Rgb565,
            brightness: 255,
            width: 1,
            height: 1,
            flags: 0,
            seq: 1,
            valid_until: 0,
        };
        let bytes = frame::encode(&h, &0xf800u16.to_le_bytes());
        let img = pixels(&frame::decode(&bytes).unwrap()).unwrap();
        assert_eq!(img.get_pixel(0, 0).0, [255, 0, 0]);
    }

    #[test]
    fn protocol_doc_example_is_real() {
        let h = frame::Header {
            format: PixelFormat::Mono1,
            brightness: 200,
            width: 16,
            height: 4,
            flags: 0,
            seq: 42,
            valid_until: 1_767_225_600,
        };
        let bytes = frame::encode(&h, &[0xff, 0xff, 0x80, 0x01, 0x80, 0x01, 0xff, 0xff]);
        let dump = frame::hex_dump(&bytes);
        let doc = include_str!("../../docs/protocol.md");
        assert!(doc.contains(&dump), "docs/protocol.md should show:\n{dump}");
        // Its verified ack, as the document spells it.
        let crc = frame::decode(&bytes).unwrap().crc;
        assert_eq!(crc, 0xa032_6024);
        let ack = ack_json(42, crc);
        assert!(
            doc.contains(&format!("{ack}\n")),
            "docs/protocol.md should show {ack}"
        );
    }

    #[test]
    fn a_snapshot_is_a_btf1_png_of_the_glass_with_its_header() {
        let h = frame::Header {
            format: PixelFormat::Mono1,
            brightness: 200,
            width: 16,
            height: 4,
            flags: FLAG_SIGNED,
            seq: 42,
            valid_until: 1_767_225_600,
        };
        let mut bytes = frame::encode(&h, &[0xff, 0xff, 0x80, 0x01, 0x80, 0x01, 0xff, 0xff]);
        bytes.extend_from_slice(&[0u8; 64]);
        assert_eq!(snapshot(None, true), None, "nothing ever shown");
        for dark in [false, true] {
            let snap = snapshot(Some(&bytes), dark).unwrap();
            let fr = frame::decode(&snap).unwrap();
            assert_eq!(fr.header.format, PixelFormat::Png);
            assert_eq!((fr.header.seq, fr.header.brightness), (42, 200));
            assert_eq!(fr.header.flags & FLAG_SIGNED, 0, "a snapshot is unsigned");
            assert_eq!(fr.header.flags & FLAG_BLANK != 0, dark);
            let img = image::load_from_memory(fr.data).unwrap().to_rgb8();
            assert_eq!(img.dimensions(), (16, 4));
            let lit = img.pixels().filter(|p| p.0 != [0, 0, 0]).count();
            assert_eq!(lit, if dark { 0 } else { 16 + 16 + 2 + 2 }, "dark {dark}");
        }
    }
}
