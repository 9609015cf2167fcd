//! Shared test harness: free loopback ports, server and broker processes,
//! an API client, in-process controllers, waiting on conditions.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use bangtin::mqtt::controller::{spawn_fleet, ControllerArgs, Fleet, Shown};

/// A free TCP port on 127.0.0.1 (bound then released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind loopback")
        .local_addr()
        .expect("local addr")
        .port()
}

/// A Mosquitto broker on a free loopback port, with a generated config in
/// its own temp dir (or on a configuration given); killed on drop.
/// `restart` keeps the port.
pub struct MosquittoProcess {
    pub port: u16,
    conf: PathBuf,
    /// The generated configuration's directory, removed on drop.
    _dir: Option<tempfile::TempDir>,
    child: Option<std::process::Child>,
}

impl MosquittoProcess {
    /// `extra_conf` lines are appended to the listener block (e.g.
    /// `password_file`, `acl_file`, `allow_anonymous false`).
    pub fn start(extra_conf: &str) -> MosquittoProcess {
        let allow = if extra_conf.contains("allow_anonymous") {
            ""
        } else {
            "allow_anonymous true\n"
        };
        // A port from free_port() can be taken again before Mosquitto binds
        // it (another test's outgoing connection): try a few.
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_port();
            let conf = format!(
                "per_listener_settings false\nlistener {port} 127.0.0.1\n{allow}max_packet_size 8388608\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n{extra_conf}\n"
            );
            let path = dir.path().join("mosquitto.conf");
            std::fs::write(&path, conf).expect("write config");
            let mut m = MosquittoProcess {
                port,
                conf: path,
                _dir: Some(dir),
                child: None,
            };
            if m.spawn() {
                return m;
            }
        }
        panic!("Mosquitto did not start on any of 5 free ports");
    }

    /// Mosquitto on the configuration `conf` (which listens on `port`).
    pub fn on_conf(conf: PathBuf, port: u16) -> MosquittoProcess {
        let mut m = MosquittoProcess {
            port,
            conf,
            _dir: None,
            child: None,
        };
        assert!(m.spawn(), "Mosquitto exited on {}", m.conf.display());
        m
    }

    /// Starts Mosquitto and waits until it listens; false if it exited.
    fn spawn(&mut self) -> bool {
        let mut child = Command::new("/usr/sbin/mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .spawn()
            .expect("start /usr/sbin/mosquitto");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                self.child = Some(child);
                return true;
            }
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            assert!(
                Instant::now() < deadline,
                "Mosquitto does not listen on 127.0.0.1:{} after 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the broker (abruptly, like a crash) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, as a service manager stops it: Mosquitto saves its
    /// persistence file (retained messages, bridge sessions) on the way out.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port (with `start`'s configuration,
    /// retained messages are gone: persistence is off).
    pub fn restart(&mut self) {
        self.kill();
        assert!(
            self.spawn(),
            "Mosquitto did not restart on port {}",
            self.port
        );
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for MosquittoProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP relay on loopback between controllers and a broker, for link
/// faults: `hold` keeps back what the controllers send (as a congested or
/// dying link does; sent on once cleared), `cut` closes every connection
/// and stops listening (the link is down and stays down). Either side
/// closing drops both (and whatever was held). Cut on drop.
pub struct Relay {
    pub port: u16,
    pub hold: std::sync::Arc<std::sync::atomic::AtomicBool>,
    tasks: std::sync::Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    pub async fn start(upstream: u16) -> Relay {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let relay = Relay {
            port,
            hold: Default::default(),
            tasks: Default::default(),
        };
        let (hold, tasks) = (relay.hold.clone(), relay.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((down, _)) = l.accept().await {
                let conn = tokio::spawn(relay_one(down, upstream, hold.clone()));
                tasks.lock().unwrap().push(conn);
            }
        });
        relay.tasks.lock().unwrap().push(accept);
        relay
    }

    /// Closes every connection and stops listening.
    pub fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
    }
}

/// One controller's connection through the relay.
async fn relay_one(
    down: tokio::net::TcpStream,
    upstream: u16,
    hold: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(up) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    let (mut dr, mut dw) = down.into_split();
    let (mut ur, mut uw) = up.into_split();
    let c2u = async {
        let mut buf = vec![0u8; 65536];
        let mut held = Vec::new();
        loop {
            let n = match dr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            held.extend_from_slice(&buf[..n]);
            if hold.load(Ordering::Acquire) {
                continue;
            }
            if uw.write_all(&held).await.is_err() {
                return;
            }
            held.clear();
        }
    };
    let u2c = async {
        let mut buf = vec![0u8; 65536];
        loop {
            let n = match ur.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if dw.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! { _ = c2u => {}, _ = u2c => {} }
}

/// A finished command's output, insisting that it succeeded (its stderr
/// is the failure message).
pub fn succeeded(out: std::process::Output) -> std::process::Output {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Waits up to 10 s until something accepts TCP connections on the port.
pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on 127.0.0.1:{port} after 10 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// What the server logs each time its broker link comes up (`app.rs`).
const BROKER_LINK_UP: &str = "broker link up";

/// Options for a bangtin server process.
#[derive(Default, Clone)]
pub struct ServerOpts {
    /// Copy the repo's sample content/ and schedules/ into the data dir.
    pub sample_data: bool,
    /// External broker URL; None = embedded broker on a free port.
    pub mqtt: Option<String>,
    pub extra_env: Vec<(String, String)>,
    pub extra_args: Vec<String>,
}

/// A real `bangtin serve` process on free loopback ports with its own data
/// directory; started means listening and linked to its broker. Killed on
/// drop.
pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub http_port: u16,
    pub broker_port: u16,
    pub data: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    opts: ServerOpts,
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// The embedded broker's server credential, issued on first use.
    server_password: std::sync::OnceLock<String>,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(ServerOpts::default())
    }

    pub fn start_with(opts: ServerOpts) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().to_path_buf();
        if opts.sample_data {
            let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
            copy_dir(&repo.join("content"), &data.join("content"));
            copy_dir(&repo.join("schedules"), &data.join("schedules"));
        }
        let mut s = Server {
            child: None,
            base: String::new(),
            http_port: 0,
            broker_port: free_port(),
            data,
            _tmp: Some(tmp),
            opts,
            log: Default::default(),
            server_password: Default::default(),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        // Ports picked by bind-and-release can be taken by someone else
        // before the server binds them; retry a few times.
        for _ in 0..5 {
            let links_before = self.broker_links();
            self.http_port = free_port();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_bangtin"));
            cmd.arg("serve")
                .arg("--http")
                .arg(format!("127.0.0.1:{}", self.http_port))
                .arg("--data")
                .arg(&self.data)
                .env("BANGTIN_ADMIN_TOKEN", ADMIN_TOKEN)
                .env("RUST_LOG", "info,rumqttd=warn,rumqttc=warn")
                .env_remove("BANGTIN_MQTT")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            match &self.opts.mqtt {
                Some(url) => {
                    cmd.arg("--mqtt").arg(url);
                }
                None => {
                    cmd.arg("--broker-listen")
                        .arg(format!("127.0.0.1:{}", self.broker_port));
                }
            }
            for (k, v) in &self.opts.extra_env {
                cmd.env(k, v);
            }
            cmd.args(&self.opts.extra_args);
            let mut child = cmd.spawn().expect("start bangtin");
            let (tx, rx) = mpsc::channel();
            for pipe in [
                Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
                Box::new(child.stderr.take().unwrap()),
            ] {
                let tx = tx.clone();
                let log = self.log.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                        if std::env::var("BANGTIN_TEST_LOG").is_ok() {
                            eprintln!("[server] {line}");
                        }
                        log.lock().unwrap().push(line.clone());
                        let _ = tx.send(line);
                    }
                });
            }
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut ready = false;
            while Instant::now() < deadline {
                match rx.recv_timeout(Duration::from_millis(200)) {
                    Ok(line) if line.contains("listening on") => {
                        ready = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        if let Ok(Some(_)) = child.try_wait() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            if ready {
                self.base = format!("http://127.0.0.1:{}", self.http_port);
                self.child = Some(child);
                self.wait_for_broker_link(links_before);
                return;
            }
            let _ = child.kill();
            let _ = child.wait();
            // The broker port may have been the one taken.
            if self.opts.mqtt.is_none() {
                self.broker_port = free_port();
            }
        }
        panic!(
            "bangtin did not start; its output:\n{}",
            self.log.lock().unwrap().join("\n")
        );
    }

    /// How often the server has logged that its broker link came up.
    pub fn broker_links(&self) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(BROKER_LINK_UP))
            .count()
    }

    /// Waits until the server's broker link is up. The server then
    /// republishes every panel's frame, so a test that adds a panel before
    /// that could see its first frame twice, with two seqs.
    fn wait_for_broker_link(&self, links_before: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.broker_links() <= links_before {
            assert!(
                Instant::now() < deadline,
                "the server's broker link did not come up within 10 s; its output:\n{}",
                self.log.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The Prometheus text of `/metrics` (no token needed).
    pub async fn metrics(&self) -> String {
        reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The server's resident memory now and at its peak (VmRSS, VmHWM),
    /// MiB, from /proc.
    pub fn rss_mib(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kb = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .expect("a VmRSS/VmHWM line")
                / 1024.0
        };
        (kb("VmRSS:"), kb("VmHWM:"))
    }

    /// The broker as a client without credentials reaches it.
    pub fn anonymous_broker_url(&self) -> String {
        self.opts
            .mqtt
            .clone()
            .unwrap_or_else(|| format!("mqtt://127.0.0.1:{}", self.broker_port))
    }

    /// A broker URL with full access, for watching every topic (and for
    /// playing an outsider on a loosely configured broker): the embedded
    /// broker's server credential (`bangtin credential --server`, issued
    /// once per server), or the external broker's URL as given.
    pub fn broker_url(&self) -> String {
        if self.opts.mqtt.is_some() {
            return self.anonymous_broker_url();
        }
        let password = self.server_password.get_or_init(|| {
            let out = succeeded(
                Command::new(env!("CARGO_BIN_EXE_bangtin"))
                    .args(["credential", "--server", "--data"])
                    .arg(&self.data)
                    .output()
                    .expect("run bangtin credential"),
            );
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        });
        with_credentials(&self.anonymous_broker_url(), SERVER_MQTT_USER, password)
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait; returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        c.wait().unwrap()
    }

    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// An HTTP client with a bearer token.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: Option<String>,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(server: &Server, token: Option<&str>) -> Api {
        Api {
            base: server.base.clone(),
            token: token.map(str::to_string),
            http: reqwest::Client::new(),
        }
    }

    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}/api/v1{}", self.base, path)
        };
        // The tests read the server's English sentences (Vietnamese is
        // the default, tested in the dashboard's walk).
        let mut b = self
            .http
            .request(method, url)
            .header("accept-language", "en");
        if let Some(t) = &self.token {
            b = b.bearer_auth(t);
        }
        b
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        send(self.req(reqwest::Method::GET, path)).await
    }
    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        send(self.req(reqwest::Method::POST, path).json(&body)).await
    }
    pub async fn put(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        send(self.req(reqwest::Method::PUT, path).json(&body)).await
    }
    /// `POST /panels`, insisting on 201: the set-up step of many tests.
    pub async fn create_panel(&self, body: serde_json::Value) -> serde_json::Value {
        let (st, v) = self.post("/panels", body).await;
        assert_eq!(st, 201, "creating a panel: {v}");
        v
    }

    /// `POST /panels/{id}/credential`, insisting on 201: the broker URL
    /// that panel's controller connects with (user name = client id =
    /// panel id, the password issued).
    pub async fn controller_url(&self, server: &Server, panel: &str) -> String {
        let (st, v) = self
            .post(
                &format!("/panels/{panel}/credential"),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(st, 201, "issuing {panel}'s controller credential: {v}");
        assert_eq!(v["username"], panel, "{v}");
        let password = v["password"].as_str().expect("the password");
        with_credentials(&server.anonymous_broker_url(), panel, password)
    }

    /// Creates a panel and its controller's credential: the set-up step of
    /// every test with a controller. Returns the controller's broker URL.
    pub async fn create_panel_with_controller(
        &self,
        server: &Server,
        body: serde_json::Value,
    ) -> String {
        let panel = self.create_panel(body).await;
        let id = panel["id"].as_str().expect("the panel's id").to_string();
        self.controller_url(server, &id).await
    }

    /// POSTs to a collection, insisting on 201; returns the new id.
    async fn post_created(&self, collection: &str, body: serde_json::Value) -> String {
        let (st, v) = self.post(collection, body).await;
        assert_eq!(st, 201, "POST {collection}: {v}");
        v["id"].as_str().expect("the new id").to_string()
    }

    /// `POST /messages`, insisting on 201; returns the new message's id.
    pub async fn create_message(&self, body: serde_json::Value) -> String {
        self.post_created("/messages", body).await
    }

    /// `POST /messages/{id}/approve`, insisting on 200 (so this client must
    /// not be the message's last editor: four-eyes rule).
    pub async fn approve(&self, id: &str) {
        let (st, v) = self
            .post(&format!("/messages/{id}/approve"), serde_json::json!({}))
            .await;
        assert_eq!(st, 200, "approving {id}: {v}");
    }

    /// `POST /alerts`, insisting on 201; returns the alert's id.
    pub async fn send_alert(&self, body: serde_json::Value) -> String {
        self.post_created("/alerts", body).await
    }

    /// `DELETE /alerts/{id}`, insisting on 204.
    pub async fn cancel_alert(&self, id: &str) {
        let (st, v) = self.delete(&format!("/alerts/{id}")).await;
        assert_eq!(st, 204, "cancelling alert {id}: {v}");
    }

    pub async fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        send(self.req(reqwest::Method::DELETE, path)).await
    }

    /// Creates a token with these roles (as the admin) and returns a client for it.
    pub async fn with_roles(&self, name: &str, roles: &[&str]) -> Api {
        let (s, v) = self
            .post("/tokens", serde_json::json!({"name": name, "roles": roles}))
            .await;
        assert_eq!(s, 201, "{v}");
        Api {
            base: self.base.clone(),
            token: Some(v["token"].as_str().unwrap().to_string()),
            http: self.http.clone(),
        }
    }
}

pub async fn send(b: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let r = b.send().await.expect("request sent");
    let s = r.status().as_u16();
    let bytes = r.bytes().await.unwrap_or_default();
    let v = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
    });
    (s, v)
}

/// Polls `f` until it returns Some or the timeout passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `/reports/plays` for one panel over the 20 minutes around now (the
/// offsets URL-encoded, as a real client must).
pub fn plays_query(panel: &str) -> String {
    let around = |m: i64| {
        (chrono::Utc::now() + chrono::Duration::minutes(m))
            .to_rfc3339()
            .replace('+', "%2B")
            .replace(':', "%3A")
    };
    format!(
        "/reports/plays?from={}&to={}&panel={panel}",
        around(-10),
        around(10)
    )
}

/// The user name of the embedded broker's server credential.
pub const SERVER_MQTT_USER: &str = "bangtin-server";

/// `mqtt://host:port` (or `mqtts://`) with `user:password@` put in.
pub fn with_credentials(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("an mqtt:// URL");
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{rest}")
}

/// Connects to `url` (credentials from the URL) as `client_id` and
/// publishes one QoS 1 message: Ok once the broker acknowledged it,
/// otherwise what happened instead (the connection refused or cut).
pub async fn try_publish(
    url: &str,
    client_id: &str,
    topic: &str,
    retain: bool,
    payload: Vec<u8>,
) -> Result<(), String> {
    use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS};
    let u: bangtin::mqtt::BrokerUrl = url.parse().unwrap();
    let mut mo = MqttOptions::new(client_id, &u.host, u.port);
    mo.set_max_packet_size(8 << 20, 8 << 20);
    if let Some(user) = &u.username {
        mo.set_credentials(user, u.password.clone().unwrap_or_default());
    }
    let (client, mut el) = AsyncClient::new(mo, 4);
    client
        .publish(topic, QoS::AtLeastOnce, retain, payload)
        .await
        .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Incoming::PubAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err("no PUBACK within 10 s".into()));
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(1), el.poll()).await;
    outcome
}

/// The reference controller for one panel, in this process.
pub fn controller(broker_url: &str, panel: &str) -> Fleet {
    let args = ControllerArgs::new(panel.parse().unwrap(), broker_url.parse().unwrap());
    spawn_fleet(&args).unwrap()
}

/// The next frame the controller shows that satisfies `f`; panics naming
/// `what` if none comes `within`.
pub async fn shown_until(
    fleet: &mut Fleet,
    within: Duration,
    what: &str,
    f: impl Fn(&Shown) -> bool,
) -> Shown {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, fleet.shown.recv()).await {
            Ok(Some(s)) if f(&s) => return s,
            Ok(Some(_)) => {}
            Ok(None) => panic!("controller stopped waiting for {what}"),
            Err(_) => panic!("no {what} within {within:?}"),
        }
    }
}

/// The next frame the controller shows, within 5 s.
pub async fn next_shown(fleet: &mut Fleet) -> Shown {
    shown_until(fleet, Duration::from_secs(5), "frame shown", |_| true).await
}

/// Every file below `dir`, recursively.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Sends a request's head to the server on `port` with `Expect:
/// 100-continue` and waits for the server's `100 Continue`, which hyper
/// sends once the handler starts reading the body: from then on the
/// request is in flight. `head` is the request line and headers without
/// the blank line. The caller sends the body (or stalls).
pub fn request_in_flight(port: u16, head: &str) -> TcpStream {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(conn, "{head}\r\nExpect: 100-continue\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 256];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut b).expect("100 Continue within 10 s");
        assert!(n > 0, "closed before 100 Continue");
        got.extend_from_slice(&b[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    conn
}

/// Warnings and errors logged by library code running inside this test
/// process (the in-process controllers), kept so a test can wait for an
/// event that leaves no other trace, such as a refused frame.
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let line = String::from_utf8_lossy(buf).into_owned();
        if std::env::var("BANGTIN_TEST_LOG").is_ok() {
            eprint!("[test process] {line}");
        }
        LOG.lock().unwrap().push(line);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts keeping this process's warnings (idempotent; call it before
/// starting the code whose log lines a test waits for).
pub fn keep_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_writer(|| LogWriter)
            .with_ansi(false)
            .with_max_level(tracing_subscriber::filter::LevelFilter::WARN)
            .try_init();
    });
}

/// Waits up to `within` for a kept log line containing every one of
/// `parts` (see [`keep_logs`]).
pub async fn logged(within: Duration, parts: &[&str]) -> bool {
    eventually(within, || async {
        LOG.lock()
            .unwrap()
            .iter()
            .any(|l| parts.iter().all(|p| l.contains(p)))
            .then_some(())
    })
    .await
    .is_some()
}

/// Who uses the box's network, for the one pair that cannot share it: a
/// browser fails every request in flight with `ERR_NETWORK_CHANGED` when an
/// interface comes or goes on the box, and the Colorlight tests make and
/// delete a veth pair. Browsers share the network (any number at once, the
/// same test may hold two); a test that changes it waits until no browser
/// runs and keeps the next from starting until its interfaces are gone.
pub(crate) struct NetworkUse {
    changes: bool,
}

static NETWORK: (Mutex<(usize, bool)>, std::sync::Condvar) =
    (Mutex::new((0, false)), std::sync::Condvar::new());

impl NetworkUse {
    /// For a browser: waits while a test is changing the network.
    pub(crate) fn browse() -> NetworkUse {
        let (lock, changed) = &NETWORK;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        while state.1 {
            state = changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.0 += 1;
        NetworkUse { changes: false }
    }

    /// For a test that adds or deletes interfaces: waits until no browser
    /// runs (nor another such test).
    pub(crate) fn change() -> NetworkUse {
        let (lock, changed) = &NETWORK;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        while state.0 > 0 || state.1 {
            state = changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.1 = true;
        NetworkUse { changes: true }
    }
}

impl Drop for NetworkUse {
    fn drop(&mut self) {
        let (lock, changed) = &NETWORK;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        if self.changes {
            state.1 = false;
        } else {
            state.0 -= 1;
        }
        changed.notify_all();
    }
}
