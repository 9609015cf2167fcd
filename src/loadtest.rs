//! `bangtin loadtest`: the figures in docs/PERFORMANCE.md that criterion
//! cannot give.
//!
//! - `publish`: frames through the server's own MQTT link ([`Publisher`]),
//!   as fast as it goes, for `tools/baseline/baseline.py publish` to time
//!   against paho-mqtt and Mosquitto's C clients on the same broker.
//! - `image`: photo → panel frame per profile (decode excluded), frames/s.
//! - `province`: a real server process, a real Mosquitto and a simulated
//!   fleet on this machine; panels created through the API, then a campaign
//!   change and an alert, timed until every panel shows the new frame and
//!   every ack is counted; then an official warning (CAP 1.2) for the
//!   province under an auto-deploy rule, timed from its arrival until every
//!   matched panel shows it; server RSS and idle CPU from /proc.
//! - `soak`: the province scenario under everything at once for minutes
//!   (mixed API writes, previews, uploads, junk MQTT, a slowloris):
//!   server RSS (max), API latency (p99), lost acks, every sign lit.
//!
//! - `huidu`: a server with many simulated Huidu cards dialling its
//!   listener, a campaign change timed until every card shows it
//!   ([`huidu`]).
//! - `failover`: two servers on one PostgreSQL store, a change through
//!   the one that does not lead, then the leader killed under writes
//!   through both ([`failover`]).
//!
//! Every wait is bounded; the run stops by itself and prints its figures.

mod bridged;
mod failover;
mod huidu;
mod soak;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use serde_json::{json, Value};

use bangtin::domain::{Id, PixelFormat, Profile, Style};
use bangtin::frame::FLAG_EMERGENCY;
use bangtin::mqtt::controller::{spawn_fleet, ControllerArgs};
use bangtin::mqtt::{BrokerUrl, LinkOptions};
use bangtin::render::Picture;

#[derive(clap::Args)]
pub struct LoadtestArgs {
    #[command(subcommand)]
    cmd: LoadCmd,
}

#[derive(clap::Subcommand)]
enum LoadCmd {
    /// Publish frames (QoS 1, retained) round-robin over many topics through the server's link.
    Publish(PublishArgs),
    /// Photo → panel frame for the three profiles; prints frames/s as JSON lines.
    Image(ImageArgs),
    /// The province scenario: server + Mosquitto + simulated fleet on this machine.
    Province(ProvinceArgs),
    /// Many simulated Huidu cards dialling one server; a campaign change.
    Huidu(huidu::HuiduArgs),
    /// Two servers on one PostgreSQL store, the leader killed under load.
    Failover(failover::FailoverArgs),
    /// The province scenario under attack and load for minutes (run by hand).
    Soak(SoakArgs),
    /// One district's simulated fleet, for `province --districts`: its own
    /// process (so its sockets count against its own file limit); prints
    /// what each controller shows, one line each, until stdin closes.
    #[command(hide = true)]
    DistrictFleet(bridged::FleetArgs),
}

#[derive(clap::Args)]
struct PublishArgs {
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    mqtt: BrokerUrl,
    /// Topic root: frames go to ROOT/panels/tNNNN/frame.
    #[arg(long, default_value = "bench")]
    root: String,
    #[arg(long, default_value_t = 1000)]
    topics: u32,
    #[arg(long, default_value_t = 36_864)]
    size: usize,
    #[arg(long, default_value_t = 20_000)]
    count: u32,
    /// `thread`: a plain thread hands each frame over with `block_on`, as
    /// the player does; `async`: a task awaits each publish.
    #[arg(long, default_value = "thread")]
    via: String,
    /// Stay connected this long after the last frame is queued (the broker
    /// still has to receive them); the timing harness usually stops us first.
    #[arg(long, default_value_t = 60)]
    linger_s: u64,
}

#[derive(clap::Args)]
struct ImageArgs {
    #[arg(long)]
    photo: PathBuf,
    #[arg(long, default_value_t = 200)]
    repeat: u32,
    /// Only this profile (mono1, rgb565 or rgb888); all three by default.
    #[arg(long)]
    only: Option<String>,
}

#[derive(clap::Args)]
struct ProvinceArgs {
    /// Panel counts to run, one fresh server + broker + fleet each
    /// (70% mono1 128x32, 25% rgb565 192x96, 5% rgb888 384x192).
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    panels: Vec<u32>,
    #[arg(long, default_value = "/usr/sbin/mosquitto")]
    mosquitto: PathBuf,
    /// Seconds of idleness over which the server's CPU is measured.
    #[arg(long, default_value_t = 20)]
    idle_s: u64,
    /// The fleet plays offline bundles (says `btb1`): the server makes,
    /// signs and publishes one per panel, and the broker keeps them.
    /// Without it the fleet plays frames only, as version-1 controllers.
    #[arg(long)]
    bundles: bool,
    /// The fleet decodes compressed frames (says `btz1-rle`,
    /// `btz1-deflate` and `btz1-delta`, as controllers on 3G/4G links
    /// should): the server sends each panel the smallest coding.
    /// Without it every frame is BTF1, as version-1 controllers get.
    #[arg(long)]
    compressed: bool,
    /// Parallel HTTP clients creating panels (with `--create api`).
    #[arg(long, default_value_t = 4)]
    http_clients: usize,
    /// How the panels are created: `api` (one POST /panels each, from
    /// --http-clients clients) or `import` (one POST /panels:import).
    #[arg(long, default_value = "api")]
    create: String,
    /// Stop after creating the panels (no fleet, no change, no alert):
    /// the figure for writes at fleet scale.
    #[arg(long)]
    create_only: bool,
    /// With `--create api`, each client keeps its connection open between
    /// requests (HTTP/1.1 keep-alive, as browsers and scripts' HTTP
    /// libraries do) instead of a new connection per request.
    #[arg(long)]
    keep_alive: bool,
    /// Give up on any one wait after this many seconds.
    #[arg(long, default_value_t = 120)]
    wait_s: u64,
    /// Keep the data directory and logs (printed at the end).
    #[arg(long)]
    keep: bool,
    /// Run across a provincial broker and this many district brokers
    /// bridged to it (configured by `bangtin broker-config`); each
    /// district's panels connect to their own broker with their own
    /// passwords. 0: one broker, anonymous.
    #[arg(long, default_value_t = 0)]
    districts: u32,
}

impl ProvinceArgs {
    /// One run of `n` panels on one broker, created by one import (for
    /// the scenarios built on the province's: `soak`, `failover`).
    fn one_broker(n: u32, mosquitto: PathBuf, wait_s: u64, keep: bool) -> ProvinceArgs {
        ProvinceArgs {
            panels: vec![n],
            mosquitto,
            idle_s: 0,
            bundles: false,
            compressed: false,
            http_clients: 4,
            create: "import".into(),
            create_only: false,
            keep_alive: false,
            wait_s,
            keep,
            districts: 0,
        }
    }
}

#[derive(clap::Args)]
struct SoakArgs {
    /// How long the load runs.
    #[arg(long, default_value_t = 10)]
    minutes: u64,
    /// Panels in the fleet (same mix as `province`).
    #[arg(long, default_value_t = 1000)]
    panels: u32,
    #[arg(long, default_value = "/usr/sbin/mosquitto")]
    mosquitto: PathBuf,
    /// Half-sent requests the slowloris keeps open, 200 from each address
    /// from 127.0.2.1 on (past the server's overall cap of 4,096 by default,
    /// so it has to close the oldest to make room).
    #[arg(long, default_value_t = 5000)]
    slowloris: usize,
    /// Size of the oversized MQTT junk, KiB (above the link's 4 MiB packet limit by default).
    #[arg(long, default_value_t = 5 * 1024)]
    junk_oversize_kib: usize,
    /// Give up on any one wait after this many seconds.
    #[arg(long, default_value_t = 120)]
    wait_s: u64,
    /// Keep the data directory and logs (printed at the end).
    #[arg(long)]
    keep: bool,
}

pub fn run(a: LoadtestArgs) -> anyhow::Result<()> {
    match a.cmd {
        LoadCmd::Publish(p) => publish(p),
        LoadCmd::Image(i) => image(i),
        LoadCmd::Province(p) => province(p),
        LoadCmd::Huidu(h) => huidu::run(h),
        LoadCmd::Failover(f) => failover::run(f),
        LoadCmd::Soak(s) => soak::soak(s),
        LoadCmd::DistrictFleet(f) => bridged::fleet(f),
    }
}

// ------------------------------------------------------------------ publish

fn publish(a: PublishArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    let mut opts = LinkOptions::new(a.mqtt.clone());
    opts.topic_root = a.root.clone();
    opts.client_id = format!("bangtin-loadtest-{}", std::process::id());
    let publisher = {
        let _g = rt.enter();
        bangtin::mqtt::try_connect(opts)?.0
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !publisher.is_connected() {
        if Instant::now() > deadline {
            bail!("no connection to {} within 10 s", a.mqtt);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let ids: Vec<Id> = (0..a.topics)
        .map(|i| Id::parse(&format!("t{i:04}")))
        .collect::<Result<_, _>>()?;
    let payload = Bytes::from(
        (0..a.size)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761) as u8)
            .collect::<Vec<u8>>(),
    );
    let started = Instant::now();
    match a.via.as_str() {
        "thread" => {
            let handle = rt.handle().clone();
            let p = publisher.clone();
            let (ids, payload) = (ids.clone(), payload.clone());
            std::thread::spawn(move || {
                for i in 0..a.count as usize {
                    let r = handle.block_on(p.publish_frame(&ids[i % ids.len()], payload.clone()));
                    if let Err(e) = r {
                        eprintln!("publish failed: {e}");
                        return;
                    }
                }
            })
            .join()
            .map_err(|_| anyhow::anyhow!("publisher thread panicked"))?;
        }
        "async" => rt.block_on(async {
            for i in 0..a.count as usize {
                publisher
                    .publish_frame(&ids[i % ids.len()], payload.clone())
                    .await?;
            }
            anyhow::Ok(())
        })?,
        v => bail!("--via must be thread or async, not {v:?}"),
    }
    eprintln!(
        "bangtin: {} frames queued in {:.3} s",
        a.count,
        started.elapsed().as_secs_f64()
    );
    // The link task keeps sending what is queued; the harness stops us.
    rt.block_on(async {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(a.linger_s)) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    });
    Ok(())
}

// ------------------------------------------------------------------ image

const PROFILES: [(&str, u16, u16); 3] = [
    ("mono1", 128, 32),
    ("rgb565", 192, 96),
    ("rgb888", 384, 192),
];

fn image(a: ImageArgs) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(&a.photo).with_context(|| format!("reading {}", a.photo.display()))?;
    let img = bangtin::render::decode_image(&bytes)?.image;
    // What the server keeps per asset (decoded, linear light); made once
    // per asset, like the decoded image the Python side starts from.
    let started = Instant::now();
    for _ in 0..a.repeat {
        std::hint::black_box(Picture::new(&img));
    }
    let prepare_s = started.elapsed().as_secs_f64() / f64::from(a.repeat);
    let pic = Picture::new(&img);
    let renderer = bangtin::render::Renderer::new();
    let style = Style::default();
    for (name, w, h) in PROFILES {
        if a.only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let profile = Profile::new(w, h, name.parse::<PixelFormat>()?)?;
        let content = bangtin::render::Content {
            text: "",
            image: Some(&pic),
            style: &style,
        };
        let _ = renderer.render(&content, &profile);
        let started = Instant::now();
        let mut bytes = 0usize;
        for _ in 0..a.repeat {
            let r = renderer.render(&content, &profile);
            bytes += r.pages[0].data().len();
        }
        let secs = started.elapsed().as_secs_f64();
        let per_frame = secs / f64::from(a.repeat);
        println!(
            "{}",
            json!({"impl": "bangtin", "work": "image", "profile": name, "frames": a.repeat,
                   "bytes": bytes, "seconds": secs, "fps": 1.0 / per_frame,
                   "prepare_seconds": prepare_s,
                   "fps_with_prepare": 1.0 / (per_frame + prepare_s)})
        );
    }
    Ok(())
}

// ------------------------------------------------------------------ province

/// Minimal blocking HTTP/1.1 client (one connection per request): enough to
/// drive the API without pulling an HTTP client into the binary.
struct Http {
    addr: SocketAddr,
    token: String,
}

/// One client's kept-alive HTTP/1.1 connection to the API (reopened when
/// the server closes it between requests).
struct KeptAlive<'a> {
    http: &'a Http,
    conn: Option<std::io::BufReader<TcpStream>>,
}

impl KeptAlive<'_> {
    /// `POST path` with a JSON body; fails unless the answer is 2xx.
    fn post(&mut self, path: &str, body: &Value) -> anyhow::Result<()> {
        let body = body.to_string();
        let head = self
            .http
            .head("POST", path, "application/json", body.len(), false);
        let reused = self.conn.is_some();
        let first = match self.send(&head, &body) {
            Ok(()) => self.answer()?,
            Err(_) if reused => None,
            Err(e) => return Err(e),
        };
        let (status, close, text) = match first {
            Some(reply) => reply,
            // The server had closed the idle connection: the request was
            // not taken (no byte of a reply came back); a new connection
            // sends it once.
            None if reused => {
                self.conn = None;
                self.send(&head, &body)?;
                self.answer()?
                    .context("the server closed a new connection without a reply")?
            }
            None => bail!("POST {path}: the server closed the connection without a reply"),
        };
        if close {
            self.conn = None;
        }
        if !(200..300).contains(&status) {
            bail!("POST {path}: {status} {text}");
        }
        Ok(())
    }

    fn send(&mut self, head: &str, body: &str) -> anyhow::Result<()> {
        if self.conn.is_none() {
            let s = TcpStream::connect(self.http.addr)?;
            s.set_read_timeout(Some(Duration::from_secs(60)))?;
            s.set_nodelay(true)?;
            self.conn = Some(std::io::BufReader::new(s));
        }
        let s = self.conn.as_mut().expect("connected above").get_mut();
        s.write_all(head.as_bytes())?;
        s.write_all(body.as_bytes())?;
        Ok(())
    }

    /// The status, whether the server closes the connection, and the body
    /// (by `Content-Length`; a chunked body is read to its last chunk);
    /// `None` when the connection was closed before any byte of a reply.
    fn answer(&mut self) -> anyhow::Result<Option<(u16, bool, String)>> {
        use std::io::BufRead;
        let r = self.conn.as_mut().expect("a request was sent");
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("malformed HTTP status line {line:?}"))?;
        let (mut length, mut chunked, mut close) = (0usize, false, false);
        loop {
            line.clear();
            if r.read_line(&mut line)? == 0 {
                bail!("the connection closed inside a reply's head");
            }
            let h = line.trim_end().to_ascii_lowercase();
            if h.is_empty() {
                break;
            }
            if let Some(v) = h.strip_prefix("content-length:") {
                length = v.trim().parse()?;
            }
            chunked |= h.starts_with("transfer-encoding:") && h.contains("chunked");
            close |= h.starts_with("connection:") && h.contains("close");
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                r.read_line(&mut line)?;
                let n = usize::from_str_radix(line.trim(), 16)?;
                let mut chunk = vec![0; n + 2];
                r.read_exact(&mut chunk)?;
                body.extend_from_slice(&chunk[..n]);
                if n == 0 {
                    break;
                }
            }
        } else {
            body.resize(length, 0);
            r.read_exact(&mut body)?;
        }
        Ok(Some((
            status,
            close,
            String::from_utf8_lossy(&body).into_owned(),
        )))
    }
}

impl Http {
    /// A request's head, asking the server to close the connection after
    /// it or not.
    fn head(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        length: usize,
        close: bool,
    ) -> String {
        format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n{}\r\n",
            self.addr,
            self.token,
            if close { "Connection: close\r\n" } else { "" }
        )
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, String)> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.call_with(method, path, "application/json", body.as_bytes())
    }

    /// A request with a body of any type.
    fn call_with(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> anyhow::Result<(u16, String)> {
        let mut s = TcpStream::connect(self.addr)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        let head = self.head(method, path, content_type, body.len(), true);
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw);
        let (head, rest) = text
            .split_once("\r\n\r\n")
            .with_context(|| format!("{method} {path}: malformed HTTP reply"))?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("{method} {path}: no status"))?;
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(rest)
        } else {
            rest.to_string()
        };
        Ok((status, body))
    }

    fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let (status, text) = self.call(method, path, body)?;
        if !(200..300).contains(&status) {
            bail!("{method} {path}: {status} {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_for_port(port: u16, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("nothing listens on 127.0.0.1:{port} after {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Kills (SIGTERM, then SIGKILL) its process when dropped.
struct Proc {
    child: Child,
    name: &'static str,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }
    fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if matches!(self.child.try_wait(), Ok(None)) {
                eprintln!("{} did not stop within 10 s; killing it", self.name);
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// utime + stime of a process, seconds (clock ticks of 100 Hz, as on Linux).
fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat_cpu(&stat).1
}

/// A `/proc/…/stat` line's command name and utime + stime in seconds.
fn stat_cpu(stat: &str) -> (&str, f64) {
    // Fields after the command name (which may contain spaces).
    let (name, after) = match (stat.find('('), stat.rfind(')')) {
        (Some(open), Some(close)) => (&stat[open + 1..close], &stat[close + 1..]),
        _ => ("", ""),
    };
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime is field 14, stime 15 (1-based); `after` starts at field 3.
    (name, (ticks(11) + ticks(12)) / 100.0)
}

/// CPU seconds so far of each of a process's threads, summed by thread
/// name (`player`, `tokio-runtime-w`, …).
fn thread_cpu_s(pid: u32) -> std::collections::BTreeMap<String, f64> {
    let mut by_name = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return by_name;
    };
    for t in tasks.flatten() {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        let (name, s) = stat_cpu(&stat);
        *by_name.entry(name.to_string()).or_insert(0.0) += s;
    }
    by_name
}

/// The threads that spent CPU between two [`thread_cpu_s`] readings, the
/// busiest first.
fn thread_cpu_spent(
    before: &std::collections::BTreeMap<String, f64>,
    after: &std::collections::BTreeMap<String, f64>,
) -> Vec<(String, f64)> {
    let mut spent: Vec<(String, f64)> = after
        .iter()
        .map(|(name, s)| (name.clone(), s - before.get(name).copied().unwrap_or(0.0)))
        .filter(|(_, s)| *s >= 0.01)
        .collect();
    spent.sort_by(|a, b| b.1.total_cmp(&a.1));
    spent
}

/// (VmRSS, VmHWM) in MiB.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

#[derive(Clone, Copy, Default)]
struct Seen {
    seq: u32,
    flags: u16,
    at: Option<Instant>,
}

/// What the fleet has shown, per panel (index = panel number - 1).
struct Glass {
    seen: Mutex<Vec<Seen>>,
    /// Frames shown (each one acked by its controller).
    shown: std::sync::atomic::AtomicU64,
    /// Broker links the controllers lost or failed to make so far, by
    /// fleet process (0 for a fleet in this process).
    losses: Mutex<std::collections::BTreeMap<usize, u64>>,
}

impl Glass {
    fn new(n: u32) -> Glass {
        Glass {
            seen: Mutex::new(vec![Seen::default(); n as usize]),
            shown: Default::default(),
            losses: Default::default(),
        }
    }

    /// Broker links lost or not made so far, by the whole fleet.
    fn losses(&self) -> u64 {
        self.losses.lock().expect("glass").values().sum()
    }
}

impl Glass {
    /// The seq each panel shows now (0 before its first frame).
    fn seqs(&self) -> Vec<u32> {
        let seen = self.seen.lock().expect("glass");
        seen.iter().map(|s| s.seq).collect()
    }

    /// Panels showing nothing yet, or a blank frame.
    fn dark(&self) -> usize {
        let seen = self.seen.lock().expect("glass");
        seen.iter()
            .filter(|s| s.at.is_none() || s.flags & bangtin::frame::FLAG_BLANK != 0)
            .count()
    }

    /// When half, nine in ten and 99 in 100 of the panels showed their
    /// latest frame, in seconds after `since` (taken right after a wait
    /// that every panel passed).
    fn spread(&self, since: Instant) -> [f64; 3] {
        let mut t: Vec<f64> = {
            let seen = self.seen.lock().expect("glass");
            seen.iter()
                .filter_map(|s| s.at.filter(|t| *t >= since))
                .map(|t| (t - since).as_secs_f64())
                .collect()
        };
        t.sort_by(f64::total_cmp);
        let at = |q: f64| t.get(((t.len() as f64 * q) as usize).min(t.len().saturating_sub(1)));
        [0.5, 0.9, 0.99].map(|q| at(q).copied().unwrap_or(f64::NAN))
    }

    /// Waits until every panel shows a frame received after `since` that
    /// satisfies `ok`; returns the latest arrival, or how many were done.
    fn wait_all(
        &self,
        since: Instant,
        within: Duration,
        ok: impl Fn(usize, &Seen) -> bool,
    ) -> Result<Instant, usize> {
        self.wait_some(since, within, |_| true, ok)
    }

    /// [`Glass::wait_all`] over the panels `which` names (by index).
    fn wait_some(
        &self,
        since: Instant,
        within: Duration,
        which: impl Fn(usize) -> bool,
        ok: impl Fn(usize, &Seen) -> bool,
    ) -> Result<Instant, usize> {
        let deadline = Instant::now() + within;
        loop {
            {
                let seen = self.seen.lock().expect("glass");
                let wanted = (0..seen.len()).filter(|i| which(*i)).count();
                let done: Vec<Instant> = seen
                    .iter()
                    .enumerate()
                    .filter(|(i, s)| which(*i) && s.at.is_some_and(|t| t >= since) && ok(*i, s))
                    .filter_map(|(_, s)| s.at)
                    .collect();
                if done.len() == wanted {
                    return Ok(done.into_iter().max().unwrap_or(since));
                }
                if Instant::now() > deadline {
                    return Err(done.len());
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn metric(http: &Http, name: &str) -> f64 {
    http.call("GET", "/metrics", None)
        .ok()
        .and_then(|(_, text)| {
            text.lines()
                .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(f64::NAN)
}

/// Polls `f` every 10 ms until it is true; the time it took, or `None`.
fn wait_until(within: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[derive(Default, Debug, Clone)]
struct Figures {
    panels: u32,
    /// How the panels were created (`api` or `import`).
    create: String,
    create_only: bool,
    create_s: f64,
    fleet_ready_s: f64,
    /// Broker links the controllers lost or failed to make while the
    /// fleet connected, and in the whole run.
    link_losses: (u64, u64),
    settle_s: f64,
    idle_cpu_pct: f64,
    change_reply_ms: f64,
    change_all_frames_s: Option<f64>,
    /// Half, nine in ten and 99 in 100 panels showed the change by then (s).
    change_spread_s: [f64; 3],
    change_all_acks_s: Option<f64>,
    change_plays_s: Option<f64>,
    change_server_cpu_s: f64,
    /// CPU seconds the brokers, and the fleet with this tool, spent in
    /// the same span: on one machine the whole path shares its cores.
    change_rest_cpu_s: (f64, f64),
    /// The server's CPU for the change by thread name, the busiest first:
    /// the player's share is done on one thread, whatever the cores.
    change_threads_cpu_s: Vec<(String, f64)>,
    alert_reply_ms: f64,
    alert_all_s: Option<f64>,
    /// As `change_spread_s`, for the alert.
    alert_spread_s: [f64; 3],
    alert_server_cpu_s: f64,
    /// As `change_rest_cpu_s`, for the alert.
    alert_rest_cpu_s: (f64, f64),
    cap_reply_ms: f64,
    cap_panels: u64,
    cap_all_s: Option<f64>,
    cap_server_cpu_s: f64,
    cap_half_reply_ms: f64,
    cap_half_panels: u64,
    cap_half_all_s: Option<f64>,
    cap_half_server_cpu_s: f64,
    renders_change: f64,
    rss_mib: f64,
    hwm_mib: f64,
    mosquitto_rss_mib: f64,
    /// District brokers (bridged runs), and each one's RSS.
    districts: u32,
    district_rss_mib: Vec<f64>,
    missing: Vec<String>,
}

fn province(a: ProvinceArgs) -> anyhow::Result<()> {
    let mut all = Vec::new();
    for &n in &a.panels {
        eprintln!("== province run: {n} panels");
        let f = province_once(&a, n)?;
        print_figures(&f);
        all.push(f);
    }
    if all.len() > 1 {
        println!("\nscaling (each row against the first):");
        let b = &all[0];
        for f in &all {
            let r = |x: Option<f64>, y: Option<f64>| match (x, y) {
                (Some(x), Some(y)) if y > 0.0 => format!("{:.2}x", x / y),
                _ => "n/a".into(),
            };
            println!(
                "  {:>6} panels ({:.0}x): change-to-all-frames {}, server CPU for the change {:.2}x, renders for the change {} vs {}, RSS {:.2}x",
                f.panels,
                f64::from(f.panels) / f64::from(b.panels),
                r(f.change_all_frames_s, b.change_all_frames_s),
                f.change_server_cpu_s / b.change_server_cpu_s.max(1e-9),
                f.renders_change,
                b.renders_change,
                f.rss_mib / b.rss_mib.max(1e-9),
            );
        }
    }
    for f in &all {
        println!(
            "{}",
            json!({"work": "province", "panels": f.panels, "compressed": a.compressed, "create": f.create, "create_s": f.create_s,
                   "fleet_ready_s": f.fleet_ready_s, "idle_cpu_pct": f.idle_cpu_pct,
                   "link_losses": [f.link_losses.0, f.link_losses.1],
                   "change_all_frames_s": f.change_all_frames_s, "change_spread_s": f.change_spread_s, "alert_spread_s": f.alert_spread_s, "change_all_acks_s": f.change_all_acks_s,
                   "change_plays_s": f.change_plays_s, "change_server_cpu_s": f.change_server_cpu_s,
                   "change_rest_cpu_s": [f.change_rest_cpu_s.0, f.change_rest_cpu_s.1],
                   "change_threads_cpu_s": f.change_threads_cpu_s,
                   "alert_rest_cpu_s": [f.alert_rest_cpu_s.0, f.alert_rest_cpu_s.1],
                   "alert_all_s": f.alert_all_s, "alert_server_cpu_s": f.alert_server_cpu_s,
                   "cap_reply_ms": f.cap_reply_ms, "cap_panels": f.cap_panels, "cap_all_s": f.cap_all_s,
                   "cap_server_cpu_s": f.cap_server_cpu_s, "cap_half_reply_ms": f.cap_half_reply_ms,
                   "cap_half_panels": f.cap_half_panels, "cap_half_all_s": f.cap_half_all_s,
                   "cap_half_server_cpu_s": f.cap_half_server_cpu_s,
                   "renders_change": f.renders_change, "rss_mib": f.rss_mib, "hwm_mib": f.hwm_mib,
                   "mosquitto_rss_mib": f.mosquitto_rss_mib, "districts": f.districts,
                   "district_rss_mib": f.district_rss_mib, "missing": f.missing})
        );
    }
    Ok(())
}

fn fmt_s(v: Option<f64>, target: f64) -> String {
    match v {
        Some(s) => format!(
            "{s:.3} s (target {target} s: {})",
            if s <= target { "met" } else { "MISSED" }
        ),
        None => "did not complete (see below)".into(),
    }
}

/// The campaign change's lines of [`print_figures`].
fn print_change(f: &Figures) {
    println!(
        "  campaign change: API reply          {:.0} ms",
        f.change_reply_ms
    );
    println!(
        "    every panel has the new frame     {}",
        fmt_s(f.change_all_frames_s, 3.0)
    );
    println!(
        "      half / 90% / 99% of the panels  {:.3} / {:.3} / {:.3} s",
        f.change_spread_s[0], f.change_spread_s[1], f.change_spread_s[2]
    );
    println!(
        "    every ack counted (/metrics)      {}",
        fmt_s(f.change_all_acks_s, 5.0)
    );
    println!(
        "    every play row in the report      {}",
        fmt_s(f.change_plays_s, 5.0)
    );
    println!(
        "    server CPU for the change         {:.2} s; renders {}",
        f.change_server_cpu_s, f.renders_change
    );
    println!(
        "      by the server's threads         {}",
        f.change_threads_cpu_s
            .iter()
            .take(5)
            .map(|(name, s)| format!("{name} {s:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "      brokers / fleet and tool CPU    {:.2} / {:.2} s",
        f.change_rest_cpu_s.0, f.change_rest_cpu_s.1
    );
}

fn print_figures(f: &Figures) {
    println!("\nprovince scenario, {} panels:", f.panels);
    println!(
        "  panels created ({:<6})               {:.2} s",
        f.create, f.create_s
    );
    if f.create_only {
        println!(
            "  server RSS                          {:.1} MiB (peak {:.1} MiB)",
            f.rss_mib, f.hwm_mib
        );
        return;
    }
    println!(
        "  fleet connected, retained frames in {:.1} s",
        f.fleet_ready_s
    );
    println!(
        "    broker links lost or not made     {} while connecting, {} in the run",
        f.link_losses.0, f.link_losses.1
    );
    print_change(f);
    println!(
        "  alert to all: API reply            {:.0} ms",
        f.alert_reply_ms
    );
    println!(
        "    every panel shows it              {}",
        fmt_s(f.alert_all_s, 2.0)
    );
    println!(
        "      half / 90% / 99% of the panels  {:.3} / {:.3} / {:.3} s",
        f.alert_spread_s[0], f.alert_spread_s[1], f.alert_spread_s[2]
    );
    println!(
        "    server CPU for the alert          {:.2} s",
        f.alert_server_cpu_s
    );
    println!(
        "      brokers / fleet and tool CPU    {:.2} / {:.2} s",
        f.alert_rest_cpu_s.0, f.alert_rest_cpu_s.1
    );
    print_cap_figures(f);
    println!(
        "  server RSS                          {:.1} MiB (peak {:.1} MiB; target < 200 MB: {})",
        f.rss_mib,
        f.hwm_mib,
        if f.hwm_mib * 1.048_576 < 200.0 {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "  server CPU while idle               {:.2}% of a core (target < 1%: {})",
        f.idle_cpu_pct,
        if f.idle_cpu_pct < 1.0 {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "  mosquitto RSS                       {:.1} MiB{}",
        f.mosquitto_rss_mib,
        if f.districts > 0 {
            " (the provincial broker)"
        } else {
            ""
        }
    );
    for (d, rss) in f.district_rss_mib.iter().enumerate() {
        println!("  district broker huyen-{d} RSS        {rss:.1} MiB");
    }
    for m in &f.missing {
        println!("  ! {m}");
    }
}

/// The two CAP warnings' lines of [`print_figures`].
fn print_cap_figures(f: &Figures) {
    println!(
        "  CAP warning (auto rule): reply      {:.0} ms, {} panels matched",
        f.cap_reply_ms, f.cap_panels
    );
    println!(
        "    every matched panel shows it      {}",
        fmt_s(f.cap_all_s, 2.0)
    );
    println!(
        "    server CPU for the warning        {:.2} s",
        f.cap_server_cpu_s
    );
    println!(
        "  CAP warning, 15 of 30 districts:   reply {:.0} ms, {} panels matched",
        f.cap_half_reply_ms, f.cap_half_panels
    );
    println!(
        "    every matched panel shows it      {}",
        fmt_s(f.cap_half_all_s, 2.0)
    );
    println!(
        "    server CPU for the warning        {:.2} s",
        f.cap_half_server_cpu_s
    );
}

fn panel_body(i: u32, n: u32) -> Value {
    // 70% mono1 128x32, 25% rgb565 192x96, 5% rgb888 384x192, interleaved.
    let slot = (i - 1) % 20;
    let (w, h, fmt) = match slot {
        0..=13 => (128, 32, "mono1"),
        14..=18 => (192, 96, "rgb565"),
        _ => (384, 192, "rgb888"),
    };
    let _ = n;
    // Nghệ An (40), thirty districts (412–441), a commune code each.
    json!({"id": format!("p{i:04}"), "name": format!("Bảng {i}"), "width": w, "height": h,
           "format": fmt, "groups": [format!("xa-{}", i % 100), "tinh"],
           "units": ["40", (412 + i % 30).to_string(), (16000 + i % 1000).to_string()]})
}

/// This binary's `bangtin serve`, its own process (so its RSS and CPU are
/// its own), with its data in DIR/data, its log in DIR/server.log, self
/// approval on and `args` added; and an admin client for it.
fn start_server(dir: &std::path::Path, args: &[&str]) -> anyhow::Result<(Proc, Arc<Http>)> {
    let hport = free_port()?;
    let token = "loadtest-admin-token";
    let log = std::fs::File::create(dir.join("server.log"))?;
    let server = Proc {
        child: Command::new(std::env::current_exe()?)
            .arg("serve")
            .args(["--http", &format!("127.0.0.1:{hport}")])
            .args(args)
            .arg("--data")
            .arg(dir.join("data"))
            .env("BANGTIN_ADMIN_TOKEN", token)
            .env("BANGTIN_ALLOW_SELF_APPROVAL", "true")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?,
        name: "server",
    };
    wait_for_port(hport, Duration::from_secs(10))?;
    let http = Arc::new(Http {
        addr: SocketAddr::from(([127, 0, 0, 1], hport)),
        token: token.into(),
    });
    Ok((server, http))
}

/// Creates these panels with one bulk import.
fn import_panels(http: &Http, panels: Vec<Value>) -> anyhow::Result<()> {
    let n = panels.len();
    let summary = http.ok("POST", "/api/v1/panels:import", Some(&Value::from(panels)))?;
    if summary["created"] != json!(n) {
        bail!("the import created {} of {n} panels", summary["created"]);
    }
    Ok(())
}

/// One province run: its processes, its client and what it measured.
struct Run<'a> {
    args: &'a ProvinceArgs,
    n: u32,
    wait: Duration,
    dir: PathBuf,
    fig: Figures,
    /// The brokers' and the fleet processes' pids (this process runs an
    /// in-process fleet and the tool itself, and is always counted).
    brokers: Vec<u32>,
    fleets: Vec<u32>,
}

/// A province on this machine: Mosquitto, the server process, its
/// content and panels (the fleet comes separately: [`Run::start_fleet`]).
struct Province {
    mosq: Proc,
    mport: u16,
    /// District brokers bridged to `mosq` (`--districts`).
    districts: Vec<bridged::District>,
    server: Proc,
    http: Arc<Http>,
    content: Content,
}

impl Province {
    /// The server, then the brokers.
    fn stop(mut self) {
        self.server.stop();
        drop(self.districts);
        drop(self.mosq);
    }
}

/// A panel id's place in the fleet, 0-based.
type Indexer = Arc<dyn Fn(&str) -> Option<usize> + Send + Sync>;

/// Records what `fleet` shows on `glass`.
fn record(
    rt: &tokio::runtime::Runtime,
    fleet: &mut bangtin::mqtt::controller::Fleet,
    glass: &Arc<Glass>,
    index: Indexer,
) {
    let (_, none) = tokio::sync::mpsc::channel(1);
    let mut shown = std::mem::replace(&mut fleet.shown, none);
    let (losses, to) = (fleet.losses(), glass.clone());
    rt.spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            to.losses.lock().expect("glass").insert(0, losses.total());
        }
    });
    let seen = glass.clone();
    rt.spawn(async move {
        while let Some(s) = shown.recv().await {
            seen.shown
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(i) = index(s.panel.as_str()) else {
                continue;
            };
            if let Some(slot) = seen.seen.lock().expect("glass").get_mut(i) {
                *slot = Seen {
                    seq: s.seq,
                    flags: s.flags,
                    at: Some(s.received_at.into_std()),
                };
            }
        }
    });
}

/// The simulated fleet: in this process on one broker, or a process per
/// district broker (`--districts`).
enum Fleet {
    InProcess(bangtin::mqtt::controller::Fleet),
    Districts(Vec<Proc>),
}

impl Fleet {
    /// The fleet processes' pids (none for a fleet in this process).
    fn pids(&self) -> Vec<u32> {
        match self {
            Fleet::InProcess(_) => Vec::new(),
            Fleet::Districts(children) => children.iter().map(Proc::pid).collect(),
        }
    }

    /// Stops the fleet, then its runtime.
    fn stop(self, rt: tokio::runtime::Runtime) {
        match self {
            Fleet::InProcess(fleet) => stop_fleet(rt, fleet),
            Fleet::Districts(children) => {
                drop(children);
                rt.shutdown_timeout(Duration::from_secs(2));
            }
        }
    }
}

/// The fleet's runtime and the fleet, stopped in that order.
fn stop_fleet(rt: tokio::runtime::Runtime, fleet: bangtin::mqtt::controller::Fleet) {
    rt.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(15), fleet.shutdown()).await;
    });
    rt.shutdown_timeout(Duration::from_secs(2));
}

impl<'a> Run<'a> {
    fn new(args: &'a ProvinceArgs, n: u32) -> anyhow::Result<Run<'a>> {
        let dir = std::env::temp_dir().join(format!("bangtin-loadtest-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data"))?;
        Ok(Run {
            args,
            n,
            wait: Duration::from_secs(args.wait_s),
            dir,
            fig: Figures {
                panels: n,
                create: args.create.clone(),
                create_only: args.create_only,
                ..Figures::default()
            },
            brokers: Vec::new(),
            fleets: Vec::new(),
        })
    }

    /// CPU seconds so far of the brokers, and of the fleet with this tool.
    fn rest_cpu_s(&self) -> (f64, f64) {
        let sum = |pids: &[u32]| pids.iter().map(|&p| cpu_s(p)).sum::<f64>();
        (
            sum(&self.brokers),
            sum(&self.fleets) + cpu_s(std::process::id()),
        )
    }

    /// Broker(s), server, two approved messages and a campaign, the panels.
    fn start_province(&mut self) -> anyhow::Result<Province> {
        let (mosq, mport, districts, server, http) = if self.args.districts > 0 {
            let (n, k) = (self.n, self.args.districts);
            let b = bridged::start(&self.dir, &self.args.mosquitto, (n, k, 1), |i| {
                self.panel_body(i)
            })?;
            let (server, http) = start_server(&self.dir, &["--mqtt", &b.server_urls[0]])?;
            (b.province, b.province_port, b.districts, server, http)
        } else {
            let (mosq, mport) = self.start_mosquitto()?;
            let (server, http) = self.start_server(mport)?;
            (mosq, mport, Vec::new(), server, http)
        };
        let content = seed_content(&http, PROVINCE_MESSAGES)?;
        self.create_panels(&http)?;
        Ok(Province {
            mosq,
            mport,
            districts,
            server,
            http,
            content,
        })
    }

    /// Panel `i`'s body (in its district on a bridged run).
    fn panel_body(&self, i: u32) -> Value {
        let body = panel_body(i, self.n);
        match self.args.districts {
            0 => body,
            k => bridged::panel(body, i, self.n, k),
        }
    }
}

fn province_once(a: &ProvinceArgs, n: u32) -> anyhow::Result<Figures> {
    let mut run = Run::new(a, n)?;
    let p = run.start_province()?;
    let (http, spid) = (p.http.clone(), p.server.pid());
    if a.create_only {
        (run.fig.rss_mib, run.fig.hwm_mib) = rss_mib(spid);
        p.stop();
        run.clean_up();
        return Ok(run.fig);
    }
    let rt = tokio::runtime::Runtime::new()?;
    let glass = Arc::new(Glass::new(n));
    let fleet = run.start_any_fleet(&rt, p.mport, &p.districts, &glass)?;
    run.brokers = std::iter::once(p.mosq.pid())
        .chain(p.districts.iter().map(|d| d.proc.pid()))
        .collect();
    run.fleets = fleet.pids();
    run.settle(&http);
    run.idle_cpu(spid);
    run.campaign_change(&http, &glass, &p.content, spid)?;
    run.alert_to_all(&http, &glass, spid)?;
    run.cap_warning(&http, &glass, spid)?;
    (run.fig.rss_mib, run.fig.hwm_mib) = rss_mib(spid);
    run.fig.mosquitto_rss_mib = rss_mib(p.mosq.pid()).0;
    run.fig.link_losses.1 = glass.losses();
    run.fig.districts = p.districts.len() as u32;
    run.fig.district_rss_mib = p
        .districts
        .iter()
        .map(|d| rss_mib(d.proc.pid()).0)
        .collect();

    // Tear down: fleet, server, brokers.
    fleet.stop(rt);
    p.stop();
    run.clean_up();
    Ok(run.fig)
}

/// The approved messages and the campaign that shows the first on every panel.
struct Content {
    messages: Vec<String>,
    campaign: String,
}

/// A campaign on every panel, all day, showing `message`.
fn campaign_body(message: &str) -> Value {
    let today = chrono::Utc::now().date_naive();
    json!({"name": "Tuyên truyền", "messages": [{"id": message, "dwell_s": 3600}],
           "targets": ["all"], "priority": 1,
           "start": (today - chrono::Days::new(1)).to_string(),
           "end": (today + chrono::Days::new(1)).to_string()})
}

/// The province's two messages (title, text).
const PROVINCE_MESSAGES: [(&str, &str); 2] = [
    (
        "Khai báo tạm trú",
        "Khai báo tạm trú trực tuyến trên ứng dụng VNeID, không cần đến trụ sở.",
    ),
    (
        "Đội mũ bảo hiểm",
        "Đội mũ bảo hiểm đạt chuẩn khi đi xe máy, xe đạp điện để bảo vệ tính mạng.",
    ),
];

/// Two approved messages (title, text) and a campaign on every panel, all
/// day, showing the first.
fn seed_content(http: &Http, texts: [(&str, &str); 2]) -> anyhow::Result<Content> {
    let mut messages = Vec::new();
    for (title, text) in texts {
        let m = http.ok(
            "POST",
            "/api/v1/messages",
            Some(&json!({"title": title, "text": text, "style": {"color": "#ffe066"}})),
        )?;
        let id = m["id"].as_str().context("message id")?.to_string();
        http.ok("POST", &format!("/api/v1/messages/{id}/approve"), None)?;
        messages.push(id);
    }
    let c = http.ok(
        "POST",
        "/api/v1/campaigns",
        Some(&campaign_body(&messages[0])),
    )?;
    let campaign = c["id"].as_str().context("campaign id")?.to_string();
    Ok(Content { messages, campaign })
}

/// The campaign edit every run times: the campaign now shows the second
/// message.
fn switch_campaign(http: &Http, content: &Content) -> anyhow::Result<()> {
    http.ok(
        "PUT",
        &format!("/api/v1/campaigns/{}", content.campaign),
        Some(&campaign_body(&content.messages[1])),
    )?;
    Ok(())
}

impl Run<'_> {
    fn clean_up(&self) {
        if self.args.keep {
            eprintln!("   kept {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// Mosquitto: unlimited queues, so the server's ack stream is never cut.
    fn start_mosquitto(&self) -> anyhow::Result<(Proc, u16)> {
        let mport = free_port()?;
        let conf = self.dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {mport} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 max_connections -1\nmax_queued_messages 0\nmax_inflight_messages 0\n\
                 log_dest file {}\nlog_type error\nlog_type warning\n",
                self.dir.join("mosquitto.log").display()
            ),
        )?;
        let mosq = Proc {
            child: Command::new(&self.args.mosquitto)
                .arg("-c")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("starting {}", self.args.mosquitto.display()))?,
            name: "mosquitto",
        };
        wait_for_port(mport, Duration::from_secs(5))?;
        Ok((mosq, mport))
    }

    /// The server, as its own process, on the run's Mosquitto.
    fn start_server(&self, mport: u16) -> anyhow::Result<(Proc, Arc<Http>)> {
        start_server(&self.dir, &["--mqtt", &format!("mqtt://127.0.0.1:{mport}")])
    }

    /// Panels through the API, one request each from several clients in
    /// parallel, or all in one bulk import.
    fn create_panels(&mut self, http: &Arc<Http>) -> anyhow::Result<()> {
        let n = self.n;
        let t = Instant::now();
        match self.args.create.as_str() {
            "api" => self.create_one_by_one(http)?,
            "import" => import_panels(http, (1..=n).map(|i| self.panel_body(i)).collect())?,
            other => bail!("--create must be api or import, not {other:?}"),
        }
        self.fig.create_s = t.elapsed().as_secs_f64();
        eprintln!(
            "   {n} panels created ({}) in {:.1} s",
            self.args.create, self.fig.create_s
        );
        Ok(())
    }

    fn create_one_by_one(&self, http: &Arc<Http>) -> anyhow::Result<()> {
        let n = self.n;
        let clients = self.args.http_clients.max(1) as u32;
        std::thread::scope(|s| -> anyhow::Result<()> {
            let handles: Vec<_> = (0..clients)
                .map(|c| {
                    let http = http.clone();
                    s.spawn(move || -> anyhow::Result<()> {
                        let mut kept = KeptAlive {
                            http: &http,
                            conn: None,
                        };
                        let mut i = 1 + c;
                        while i <= n {
                            let body = self.panel_body(i);
                            if self.args.keep_alive {
                                kept.post("/api/v1/panels", &body)?;
                            } else {
                                http.ok("POST", "/api/v1/panels", Some(&body))?;
                            }
                            i += clients;
                        }
                        Ok(())
                    })
                })
                .collect();
            for h in handles {
                h.join()
                    .map_err(|_| anyhow::anyhow!("HTTP client panicked"))??;
            }
            Ok(())
        })
    }

    /// The fleet, in this process; returns once every panel shows a frame.
    fn start_fleet(
        &mut self,
        rt: &tokio::runtime::Runtime,
        mport: u16,
        glass: &Arc<Glass>,
    ) -> anyhow::Result<bangtin::mqtt::controller::Fleet> {
        let n = self.n;
        let mut args = ControllerArgs::new(
            Id::parse("p0001")?,
            format!("mqtt://127.0.0.1:{mport}").parse()?,
        );
        args.panel = None;
        args.fleet = Some(n);
        args.quiet = true;
        args.no_bundles = !self.args.bundles;
        args.accept_compressed = self.args.compressed;
        let t = Instant::now();
        let mut fleet = {
            let _g = rt.enter();
            spawn_fleet(&args)?
        };
        record(
            rt,
            &mut fleet,
            glass,
            Arc::new(|id: &str| id[1..].parse::<usize>().ok()?.checked_sub(1)),
        );
        self.fleet_ready(glass, t)?;
        Ok(fleet)
    }

    /// The fleet: in this process on the broker at `port`, or one
    /// process per district broker when there are any; returns once
    /// every panel shows a frame.
    fn start_any_fleet(
        &mut self,
        rt: &tokio::runtime::Runtime,
        port: u16,
        districts: &[bridged::District],
        glass: &Arc<Glass>,
    ) -> anyhow::Result<Fleet> {
        Ok(if districts.is_empty() {
            Fleet::InProcess(self.start_fleet(rt, port, glass)?)
        } else {
            Fleet::Districts(self.start_district_fleets(districts, glass)?)
        })
    }

    /// One fleet process per district broker (`--districts`), each
    /// reporting what it shows onto `glass`; returns once every panel
    /// shows a frame.
    fn start_district_fleets(
        &mut self,
        districts: &[bridged::District],
        glass: &Arc<Glass>,
    ) -> anyhow::Result<Vec<Proc>> {
        let t = Instant::now();
        let mut children = Vec::new();
        for (d, district) in districts.iter().enumerate() {
            let first = bridged::index(
                &format!("{}0001", district.prefix),
                self.n,
                districts.len() as u32,
            )
            .context("a district's first panel")?;
            children.push(bridged::spawn_fleet(
                district,
                d,
                first,
                glass.clone(),
                &self.dir,
                self.args.compressed,
            )?);
        }
        self.fleet_ready(glass, t)?;
        Ok(children)
    }

    /// Waits until every panel shows a frame (since `t`, the fleet's start).
    fn fleet_ready(&mut self, glass: &Glass, t: Instant) -> anyhow::Result<()> {
        let n = self.n;
        match glass.wait_all(t, self.wait, |_, _| true) {
            Ok(_) => {
                self.fig.fleet_ready_s = t.elapsed().as_secs_f64();
                // The in-process count is sampled twice a second.
                std::thread::sleep(Duration::from_millis(600));
                self.fig.link_losses.0 = glass.losses();
            }
            Err(k) => bail!(
                "only {k} of {n} controllers got their frame within {:?}",
                self.wait
            ),
        }
        eprintln!("   fleet ready in {:.1} s", self.fig.fleet_ready_s);
        Ok(())
    }

    /// Settle: every shown frame acked, then quiet.
    fn settle(&mut self, http: &Http) {
        let n = self.n;
        let t = Instant::now();
        let mut last = -1.0;
        let settled = wait_until(self.wait, || {
            let acks = metric(http, "bangtin_acks_total");
            let stable = acks == last && acks >= f64::from(n);
            last = acks;
            if !stable {
                std::thread::sleep(Duration::from_millis(500));
            }
            stable
        });
        if settled.is_none() {
            self.fig
                .missing
                .push(format!("acks did not settle (last count {last})"));
        }
        self.fig.settle_s = t.elapsed().as_secs_f64();
    }

    fn idle_cpu(&mut self, spid: u32) {
        let c0 = cpu_s(spid);
        let t = Instant::now();
        std::thread::sleep(Duration::from_secs(self.args.idle_s));
        self.fig.idle_cpu_pct = 100.0 * (cpu_s(spid) - c0) / t.elapsed().as_secs_f64();
    }

    /// One campaign edit switches every panel to the other message.
    fn campaign_change(
        &mut self,
        http: &Http,
        glass: &Glass,
        content: &Content,
        spid: u32,
    ) -> anyhow::Result<()> {
        let (n, wait) = (self.n, self.wait);
        let acks0 = metric(http, "bangtin_acks_total");
        let renders0 = metric(http, "bangtin_renders_total");
        let before = glass.seqs();
        let wall0 = chrono::Utc::now();
        let c0 = cpu_s(spid);
        let threads0 = thread_cpu_s(spid);
        let rest0 = self.rest_cpu_s();
        let t0 = Instant::now();
        switch_campaign(http, content)?;
        let fig = &mut self.fig;
        fig.change_reply_ms = t0.elapsed().as_secs_f64() * 1e3;
        match glass.wait_all(t0, wait, |i, s| {
            s.seq > before[i] && s.flags & FLAG_EMERGENCY == 0
        }) {
            Ok(last) => {
                fig.change_all_frames_s = Some((last - t0).as_secs_f64());
                fig.change_spread_s = glass.spread(t0);
            }
            Err(k) => fig.missing.push(format!(
                "campaign change: only {k} of {n} panels got a new frame"
            )),
        }
        fig.change_all_acks_s = wait_until(wait, || {
            metric(http, "bangtin_acks_total") >= acks0 + f64::from(n)
        })
        .map(|_| t0.elapsed().as_secs_f64());
        if fig.change_all_acks_s.is_none() {
            fig.missing.push(format!(
                "acks after the change: {} of {n}",
                metric(http, "bangtin_acks_total") - acks0
            ));
        }
        let rows = wait_for_play_rows(http, wall0, n, wait);
        fig.change_plays_s = rows.ok().map(|_| t0.elapsed().as_secs_f64());
        if let Err(rows) = rows {
            fig.missing
                .push(format!("play rows after the change: {rows} of {n}"));
        }
        fig.change_server_cpu_s = cpu_s(spid) - c0;
        let rest = self.rest_cpu_s();
        let fig = &mut self.fig;
        fig.change_rest_cpu_s = (rest.0 - rest0.0, rest.1 - rest0.1);
        fig.change_threads_cpu_s = thread_cpu_spent(&threads0, &thread_cpu_s(spid));
        fig.renders_change = metric(http, "bangtin_renders_total") - renders0;
        Ok(())
    }

    fn alert_to_all(&mut self, http: &Http, glass: &Glass, spid: u32) -> anyhow::Result<()> {
        std::thread::sleep(Duration::from_secs(1));
        let c0 = cpu_s(spid);
        let rest0 = self.rest_cpu_s();
        let t0 = Instant::now();
        http.ok(
            "POST",
            "/api/v1/alerts",
            Some(&json!({"text": "BÃO SỐ 9: KHÔNG RA KHƠI, GIA CỐ NHÀ CỬA", "targets": ["all"], "duration_s": 600})),
        )?;
        self.fig.alert_reply_ms = t0.elapsed().as_secs_f64() * 1e3;
        match glass.wait_all(t0, self.wait, |_, s| s.flags & FLAG_EMERGENCY != 0) {
            Ok(last) => {
                self.fig.alert_all_s = Some((last - t0).as_secs_f64());
                self.fig.alert_spread_s = glass.spread(t0);
            }
            Err(k) => self
                .fig
                .missing
                .push(format!("alert: only {k} of {} panels show it", self.n)),
        }
        std::thread::sleep(Duration::from_secs(1));
        self.fig.alert_server_cpu_s = cpu_s(spid) - c0;
        let rest = self.rest_cpu_s();
        self.fig.alert_rest_cpu_s = (rest.0 - rest0.0, rest.1 - rest0.1);
        Ok(())
    }
}

/// An official warning for the units `codes` (the province is 40, its
/// districts 412–441), as a forecasting agency writes it.
fn cap_document(now: chrono::DateTime<chrono::Utc>, codes: &[u32]) -> String {
    let geocodes: String = codes
        .iter()
        .map(|c| format!("<geocode><valueName>MaDVHC</valueName><value>{c}</value></geocode>"))
        .collect();
    let t = |d: chrono::DateTime<chrono::Utc>| d.format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>LOADTEST-{}-{}</identifier>
  <sender>canhbao@nchmf.gov.vn</sender>
  <sent>{}</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>vi-VN</language>
    <category>Met</category>
    <event>Bão</event>
    <urgency>Immediate</urgency>
    <severity>Extreme</severity>
    <certainty>Observed</certainty>
    <expires>{}</expires>
    <headline>Bão số 10 đổ bộ Nghệ An, gió giật cấp 15</headline>
    <instruction>Ở trong nhà kiên cố, không ra biển</instruction>
    <area>
      <areaDesc>Nghệ An</areaDesc>
      {geocodes}
    </area>
  </info>
</alert>
"#,
        now.timestamp_millis(),
        codes.len(),
        t(now),
        t(now + chrono::Duration::hours(6))
    )
}

impl Run<'_> {
    /// Official warnings posted as a forecasting agency's system would,
    /// each timed from its arrival until every matched panel shows a new
    /// emergency frame: the whole province (unit code 40: every panel,
    /// aimed at `all`), then 15 of its 30 districts (half the panels, in
    /// no group of their own: aimed at each panel by id).
    fn cap_warning(&mut self, http: &Http, glass: &Glass, spid: u32) -> anyhow::Result<()> {
        std::fs::write(
            self.dir.join("data/cap.json"),
            json!({"rule_sets": {"default": [{"name": "storms", "event": ["Bão"], "action": "auto"}]}}).to_string(),
        )?;
        std::thread::sleep(Duration::from_secs(1));
        let province = self.cap_step(http, glass, spid, &[40], |_| true)?;
        (
            self.fig.cap_reply_ms,
            self.fig.cap_panels,
            self.fig.cap_all_s,
            self.fig.cap_server_cpu_s,
        ) = province;
        std::thread::sleep(Duration::from_secs(1));
        let districts: Vec<u32> = (412..427).collect();
        // Panel p{i} (index i-1) stands in district 412 + i % 30.
        let half = self.cap_step(http, glass, spid, &districts, |idx| {
            (idx as u32 + 1) % 30 < 15
        });
        match half {
            Ok(half) => {
                (
                    self.fig.cap_half_reply_ms,
                    self.fig.cap_half_panels,
                    self.fig.cap_half_all_s,
                    self.fig.cap_half_server_cpu_s,
                ) = half
            }
            // Refused (the matched panels in no group of their own make more
            // targets than an alert may name): said, and the run goes on.
            Err(e) => self
                .fig
                .missing
                .push(format!("CAP warning for 15 districts: {e}")),
        }
        Ok(())
    }

    /// One warning for `codes`: (reply ms, panels matched, seconds to the
    /// last matched panel, server CPU seconds).
    fn cap_step(
        &mut self,
        http: &Http,
        glass: &Glass,
        spid: u32,
        codes: &[u32],
        matched: impl Fn(usize) -> bool,
    ) -> anyhow::Result<(f64, u64, Option<f64>, f64)> {
        let before = glass.seqs();
        let doc = cap_document(chrono::Utc::now(), codes);
        let c0 = cpu_s(spid);
        let t0 = Instant::now();
        let (status, body) =
            http.call_with("POST", "/api/v1/cap", "application/cap+xml", doc.as_bytes())?;
        let reply_ms = t0.elapsed().as_secs_f64() * 1e3;
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if status != 200 || v["state"] != "deployed" {
            bail!("POST /api/v1/cap: {status} {body}");
        }
        let panels = v["panels"].as_u64().unwrap_or(0);
        let all = match glass.wait_some(t0, self.wait, &matched, |i, s| {
            s.seq > before[i] && s.flags & FLAG_EMERGENCY != 0
        }) {
            Ok(last) => Some((last - t0).as_secs_f64()),
            Err(k) => {
                self.fig.missing.push(format!(
                    "CAP warning for {codes:?}: only {k} of {panels} panels show it"
                ));
                None
            }
        };
        std::thread::sleep(Duration::from_secs(1));
        Ok((reply_ms, panels, all, cpu_s(spid) - c0))
    }
}

/// Waits until `/reports/plays` lists `n` rows since `from`; the count seen
/// last when it gives up.
fn wait_for_play_rows(
    http: &Http,
    from: chrono::DateTime<chrono::Utc>,
    n: u32,
    wait: Duration,
) -> Result<(), usize> {
    let from = from.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut rows = 0usize;
    let done = wait_until(wait, || {
        rows = http
            .call(
                "GET",
                &format!("/api/v1/reports/plays?from={from}&to=2100-01-01T00:00:00Z"),
                None,
            )
            .map(|(_, b)| b.matches("\"panel\"").count())
            .unwrap_or(0);
        if rows < n as usize {
            std::thread::sleep(Duration::from_millis(200));
        }
        rows >= n as usize
    });
    done.map(|_| ()).ok_or(rows)
}
