//! `loadtest soak`: the province scenario under every kind of load at
//! once (API writes, previews, uploads, junk MQTT, a slowloris) for
//! minutes to an hour, reporting RSS, latency, lost acks and dark signs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use super::{
    campaign_body, metric, rss_mib, stop_fleet, wait_until, Content, Glass, Http, ProvinceArgs,
    Run, SoakArgs,
};

pub(super) fn soak(a: SoakArgs) -> anyhow::Result<()> {
    let n = a.panels;
    eprintln!("== soak: {n} panels, {} minutes", a.minutes);
    let province_args = ProvinceArgs::one_broker(n, a.mosquitto.clone(), a.wait_s, a.keep);
    let mut run = Run::new(&province_args, n)?;
    let p = run.start_province()?;
    let rt = tokio::runtime::Runtime::new()?;
    let glass = Arc::new(Glass::new(n));
    let fleet = run.start_fleet(&rt, p.mport, &glass)?;
    let load = Load {
        http: &p.http,
        content: &p.content,
        panels: n,
        until: Instant::now() + Duration::from_secs(a.minutes * 60),
        lat: Latencies::default(),
        tally: Arc::new(Tally::default()),
    };
    spawn_junk(
        &rt,
        p.mport,
        n,
        a.junk_oversize_kib * 1024,
        load.tally.clone(),
    );
    let huge = huge_png()?;
    std::thread::scope(|s| {
        s.spawn(|| load.write());
        s.spawn(|| load.read());
        s.spawn(|| load.upload(&huge));
        let slow = s.spawn(|| rt.block_on(slowloris(p.http.addr, a.slowloris, load.until)));
        s.spawn(|| load.watch(p.server.pid(), &glass, || fleet.connected()));
        let opened = slow.join().unwrap_or(0);
        eprintln!("   slowloris opened {opened} half-sent requests");
    });
    load.tally.stop.store(true, Ordering::Relaxed);
    load.settle(&glass, Duration::from_secs(a.wait_s));
    Report::gather(&load, &glass, p.server.pid()).print(n, a.minutes);
    stop_fleet(rt, fleet);
    p.stop();
    run.clean_up();
    Ok(())
}

/// What the load's threads share.
struct Load<'a> {
    http: &'a Http,
    content: &'a Content,
    panels: u32,
    until: Instant,
    lat: Latencies,
    tally: Arc<Tally>,
}

/// Counts kept while the load runs.
#[derive(Default)]
struct Tally {
    stop: AtomicBool,
    rss_max_kib: AtomicU64,
    dark_samples: AtomicU64,
    samples: AtomicU64,
    junk_sent: AtomicU64,
}

impl Load<'_> {
    fn running(&self) -> bool {
        Instant::now() < self.until
    }

    /// Every 2 s a new message, approved, put on the campaign, and the
    /// one before deleted; every minute an alert on one commune.
    fn write(&self) {
        let (http, lat) = (self.http, &self.lat);
        let mut i = 0u64;
        let mut old: Vec<String> = Vec::new();
        while self.running() {
            i += 1;
            let text = format!("Thông báo số {i}: lịch tiêm chủng tuần này tại trạm y tế xã.");
            let (st, body) = lat.time("write", || {
                http.call(
                    "POST",
                    "/api/v1/messages",
                    Some(&json!({"title": format!("Tin {i}"), "text": text})),
                )
            });
            let id = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["id"].as_str().map(String::from));
            if let (201, Some(id)) = (st, id) {
                let approve = format!("/api/v1/messages/{id}/approve");
                lat.time("write", || http.call("POST", &approve, None));
                let campaign = format!("/api/v1/campaigns/{}", self.content.campaign);
                lat.time("write", || {
                    http.call("PUT", &campaign, Some(&campaign_body(&id)))
                });
                if let Some(gone) = old.pop() {
                    let path = format!("/api/v1/messages/{gone}");
                    lat.time("write", || http.call("DELETE", &path, None));
                }
                old.push(id);
            }
            if i.is_multiple_of(30) {
                let alert = json!({"text": "NƯỚC LÊN: KHÔNG QUA NGẦM", "targets": ["group:xa-1"], "duration_s": 20});
                lat.time("write", || {
                    http.call("POST", "/api/v1/alerts", Some(&alert))
                });
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    /// Every 200 ms previews on made-up sizes and colours, and two reads.
    fn read(&self) {
        let (http, lat) = (self.http, &self.lat);
        let message = &self.content.messages[0];
        let mut i = 0u64;
        while self.running() {
            i += 1;
            let (w, h) = (64 + (i * 37) % 960, 16 + (i * 13) % 240);
            let colour = i % 0xffffff;
            let stored = format!("/api/v1/messages/{message}/preview.png?width={w}&height={h}&format=rgb888&color=%23{colour:06x}");
            lat.time("preview", || http.call("GET", &stored, None));
            let draft = json!({"title": "x", "text": "Đường\n".repeat(1 + (i % 200) as usize)});
            let path = format!("/api/v1/preview?width={w}&height={h}&format=rgb565");
            lat.time("preview", || http.call("POST", &path, Some(&draft)));
            lat.time("read", || {
                http.call("GET", "/api/v1/panels/p0001/now", None)
            });
            lat.time("read", || http.call("GET", "/api/v1/messages", None));
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A new photo-like image each second, and every tenth `huge`.
    fn upload(&self, huge: &[u8]) {
        let mut i = 0u64;
        while self.running() {
            i += 1;
            let noise;
            let png = if i.is_multiple_of(10) {
                huge
            } else {
                noise = noise_png(640, 480, i);
                &noise
            };
            self.lat.time("upload", || {
                self.http
                    .call_with("POST", "/api/v1/assets", "image/png", png)
            });
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// RSS every second; every 5 s, whether every sign is lit and every
    /// controller connected.
    fn watch(&self, server: u32, glass: &Glass, connected: impl Fn() -> usize) {
        let t = &self.tally;
        let mut tick = 0u64;
        while self.running() {
            t.rss_max_kib
                .fetch_max((rss_mib(server).0 * 1024.0) as u64, Ordering::Relaxed);
            if tick.is_multiple_of(5) {
                let dark = glass.dark();
                t.samples.fetch_add(1, Ordering::Relaxed);
                if dark > 0 || connected() < self.panels as usize {
                    t.dark_samples.fetch_add(1, Ordering::Relaxed);
                    eprintln!(
                        "   ! {dark} panels dark, {} controllers connected",
                        connected()
                    );
                }
            }
            if tick.is_multiple_of(60) {
                let calls = self.lat.calls.lock().expect("latencies").len();
                eprintln!(
                    "   {:>3} min: RSS {:.0} MiB, {calls} API calls",
                    tick / 60,
                    rss_mib(server).0
                );
            }
            tick += 1;
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// Waits (at most `within`) until every frame shown is acked and the
    /// count stops moving.
    fn settle(&self, glass: &Glass, within: Duration) {
        let mut last = -1.0;
        wait_until(within, || {
            let acks = metric(self.http, "bangtin_acks_total");
            let done = acks == last && acks >= glass.shown.load(Ordering::Relaxed) as f64;
            last = acks;
            if !done {
                std::thread::sleep(Duration::from_millis(500));
            }
            done
        });
    }
}

/// An image too large for the memory budget (8192×4096, 16-bit RGBA):
/// refused from its header.
fn huge_png() -> anyhow::Result<Vec<u8>> {
    let img = image::ImageBuffer::<image::Rgba<u16>, Vec<u16>>::new(8192, 4096);
    let mut out = Vec::new();
    image::DynamicImage::ImageRgba16(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)?;
    Ok(out)
}

/// Junk over MQTT every 5 ms until told to stop: acks and status for
/// made-up ids, garbage on real ids' topics, and now and then a payload
/// of `oversize` bytes (above the link's packet limit by default).
fn spawn_junk(
    rt: &tokio::runtime::Runtime,
    port: u16,
    panels: u32,
    oversize: usize,
    tally: Arc<Tally>,
) {
    let _g = rt.enter();
    let mut o = rumqttc::MqttOptions::new("soak-junk", "127.0.0.1", port);
    o.set_max_packet_size(64 << 20, 64 << 20);
    let (client, mut el) = rumqttc::AsyncClient::new(o, 100);
    rt.spawn(async move {
        loop {
            if el.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    });
    rt.spawn(async move {
        let mut i = 0u64;
        while !tally.stop.load(Ordering::Relaxed) {
            i += 1;
            let (topic, payload) = junk(i, panels, oversize);
            if client
                .publish(topic, rumqttc::QoS::AtMostOnce, false, payload)
                .await
                .is_ok()
            {
                tally.junk_sent.fetch_add(1, Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
}

/// The `i`th junk message: topic and payload.
fn junk(i: u64, panels: u32, oversize: usize) -> (String, Vec<u8>) {
    let real = 1 + i % u64::from(panels);
    match i % 4 {
        0 => (
            format!("bangtin/panels/made-up-{i}/ack"),
            br#"{"seq":1}"#.to_vec(),
        ),
        1 => (
            format!("bangtin/panels/made-up-{i}/status"),
            br#"{"online":true}"#.to_vec(),
        ),
        2 => (
            format!("bangtin/panels/p{real:04}/ack"),
            b"\xff\x00garbage{".to_vec(),
        ),
        _ if i % 2000 == 3 => (
            "bangtin/panels/p0001/status".to_string(),
            vec![b'x'; oversize],
        ),
        _ => (
            format!("bangtin/panels/p{real:04}/status"),
            b"not json".to_vec(),
        ),
    }
}

/// The figures of a finished soak.
struct Report {
    rss_max_mib: f64,
    rss_now: f64,
    hwm: f64,
    calls: usize,
    by_kind: BTreeMap<&'static str, Vec<Duration>>,
    statuses: BTreeMap<(&'static str, u16), u64>,
    shown: u64,
    acked: f64,
    dark_samples: u64,
    samples: u64,
    junk_sent: u64,
    /// Server counters by metric name.
    server: BTreeMap<&'static str, f64>,
}

impl Report {
    fn gather(load: &Load, glass: &Glass, server: u32) -> Report {
        let t = &load.tally;
        let (rss_now, hwm) = rss_mib(server);
        let calls = std::mem::take(&mut *load.lat.calls.lock().expect("latencies"));
        let mut by_kind: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
        let mut statuses = BTreeMap::new();
        for (kind, st, d) in &calls {
            by_kind.entry(*kind).or_default().push(*d);
            by_kind.entry("all").or_default().push(*d);
            *statuses.entry((*kind, *st)).or_default() += 1;
        }
        by_kind.values_mut().for_each(|v| v.sort());
        let server = [
            "bangtin_acks_total",
            "bangtin_work_busy_total",
            "bangtin_http_connections_refused_total",
            "bangtin_http_connections_evicted_total",
            "bangtin_unknown_panel_messages_total",
        ]
        .into_iter()
        .map(|m| (m, metric(load.http, m)))
        .collect::<BTreeMap<_, _>>();
        Report {
            rss_max_mib: t.rss_max_kib.load(Ordering::Relaxed) as f64 / 1024.0,
            rss_now,
            hwm,
            calls: calls.len(),
            by_kind,
            statuses,
            shown: glass.shown.load(Ordering::Relaxed),
            acked: server["bangtin_acks_total"],
            dark_samples: t.dark_samples.load(Ordering::Relaxed),
            samples: t.samples.load(Ordering::Relaxed),
            junk_sent: t.junk_sent.load(Ordering::Relaxed),
            server,
        }
    }

    fn p99_ms(&self, kind: &str) -> Option<f64> {
        self.by_kind
            .get(kind)
            .map(|v| percentile(v, 0.99).as_secs_f64() * 1e3)
    }

    fn print(&self, panels: u32, minutes: u64) {
        let lost = (self.shown as f64 - self.acked).max(0.0);
        let m = |name: &str| self.server[name];
        println!("\nsoak, {panels} panels, {minutes} minutes:");
        println!(
            "  server RSS: max {:.0} MiB sampled, peak (VmHWM) {:.0} MiB, at the end {:.0} MiB (budget 512 MiB)",
            self.rss_max_mib, self.hwm, self.rss_now
        );
        for (kind, v) in &self.by_kind {
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            println!(
                "  {kind:>8}: {:>6} calls, p50 {:>7.1} ms, p99 {:>7.1} ms, max {:>7.1} ms",
                v.len(),
                ms(percentile(v, 0.5)),
                ms(percentile(v, 0.99)),
                ms(v.last().copied().unwrap_or_default())
            );
        }
        let st: Vec<String> = self
            .statuses
            .iter()
            .map(|((k, s), c)| format!("{k} {s}: {c}"))
            .collect();
        println!("  statuses: {}", st.join(", "));
        println!(
            "  frames shown {}, acks counted {}, lost {lost}",
            self.shown, self.acked
        );
        let lit = if self.dark_samples == 0 { "yes" } else { "NO" };
        println!(
            "  every sign lit: {lit} ({} of {} samples with a dark sign or a controller off)",
            self.dark_samples, self.samples
        );
        println!(
            "  503 busy {}, connections refused at a cap {}, half-sent closed to make room {}, junk MQTT sent {}, made-up ids dropped {}",
            m("bangtin_work_busy_total"),
            m("bangtin_http_connections_refused_total"),
            m("bangtin_http_connections_evicted_total"),
            self.junk_sent,
            m("bangtin_unknown_panel_messages_total")
        );
        println!(
            "{}",
            json!({"work": "soak", "panels": panels, "minutes": minutes,
                   "rss_max_mib": self.rss_max_mib, "hwm_mib": self.hwm,
                   "p99_ms": {"all": self.p99_ms("all"), "write": self.p99_ms("write"), "read": self.p99_ms("read"),
                              "preview": self.p99_ms("preview"), "upload": self.p99_ms("upload")},
                   "calls": self.calls, "frames_shown": self.shown, "acks": self.acked, "lost_acks": lost,
                   "dark_samples": self.dark_samples, "busy": m("bangtin_work_busy_total"),
                   "connections_refused": m("bangtin_http_connections_refused_total"),
                   "connections_evicted": m("bangtin_http_connections_evicted_total"),
                   "unknown_dropped": m("bangtin_unknown_panel_messages_total")})
        );
    }
}

/// API call latencies by kind.
#[derive(Default)]
struct Latencies {
    calls: Mutex<Vec<(&'static str, u16, Duration)>>,
}

impl Latencies {
    /// Times one call; a transport error counts as status 0.
    fn time(
        &self,
        kind: &'static str,
        f: impl FnOnce() -> anyhow::Result<(u16, String)>,
    ) -> (u16, String) {
        let t = Instant::now();
        let r = f().unwrap_or((0, String::new()));
        self.calls
            .lock()
            .expect("latencies")
            .push((kind, r.0, t.elapsed()));
        r
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A noisy PNG no two of which are alike (a new asset each time).
fn noise_png(w: u32, h: u32, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        image::Rgb([x as u8, (x >> 8) as u8, (x >> 16) as u8])
    });
    bangtin::render::png_bytes(&img)
}

/// Keeps `n` half-sent request heads open, 200 from each address from
/// 127.0.2.1 on (addresses of their own: the other load comes from
/// 127.0.0.1), opening new ones as the server closes them; returns how
/// many it opened.
async fn slowloris(addr: SocketAddr, n: usize, until: Instant) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut open = tokio::task::JoinSet::new();
    let mut opened = 0u64;
    let connect = |i: u64| async move {
        let sock = tokio::net::TcpSocket::new_v4().ok()?;
        let from = [127, 0, 2 + (i / 200 / 250) as u8, 1 + (i / 200 % 250) as u8];
        sock.bind(SocketAddr::from((from, 0))).ok()?;
        tokio::time::timeout(Duration::from_secs(1), sock.connect(addr))
            .await
            .ok()?
            .ok()
    };
    while Instant::now() < until {
        while open.len() < n {
            let Some(mut c) = connect(opened % n as u64).await else {
                break;
            };
            let _ = c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
            opened += 1;
            open.spawn(async move {
                let mut b = [0u8; 256];
                while matches!(c.read(&mut b).await, Ok(k) if k > 0) {}
            });
        }
        tokio::select! {
            _ = open.join_next() => {}
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    open.abort_all();
    opened
}
