//! `bangtin loadtest huidu`: many Huidu cards dialling one server's
//! `--huidu-listen` port (the 4G set-up), then a campaign change: how long
//! until every card shows the new frame, and the server's memory.
//!
//! The cards are simulated here, in this process, speaking SDK 2.0 as a
//! card does (written from the protocol, not with bangtin's codec): they
//! answer the version ask, hand out a session guid, report their Device
//! ID and screen, take file uploads (checking the MD5), apply one-image
//! programs and answer heartbeats. A card "shows" a frame when it accepts
//! the program naming the uploaded file.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use md5::{Digest, Md5};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{
    free_port, import_panels, rss_mib, seed_content, start_server, switch_campaign, wait_for_port,
    wait_until, Content, Http, Proc,
};

#[derive(clap::Args)]
pub struct HuiduArgs {
    /// Simulated cards (and panels), all dialling the listener.
    #[arg(long, default_value_t = 1000)]
    cards: u32,
    /// Panel (and card screen) size, mono1.
    #[arg(long, default_value_t = 128)]
    width: u16,
    #[arg(long, default_value_t = 32)]
    height: u16,
    /// Give up on any one wait after this many seconds.
    #[arg(long, default_value_t = 120)]
    wait_s: u64,
}

/// What each card shows: the program's file and when it was applied.
struct Board {
    shown: Mutex<Vec<Option<(String, Instant)>>>,
    connected: std::sync::atomic::AtomicUsize,
}

impl Board {
    /// Cards whose shown file satisfies `f`.
    fn count(&self, f: impl Fn(&str) -> bool) -> usize {
        self.shown
            .lock()
            .expect("board")
            .iter()
            .filter(|s| s.as_ref().is_some_and(|(name, _)| f(name)))
            .count()
    }

    /// The files the cards show now.
    fn files(&self) -> HashSet<String> {
        let shown = self.shown.lock().expect("board");
        shown.iter().flatten().map(|(f, _)| f.clone()).collect()
    }

    /// The latest time a card began showing a file satisfying `f`.
    fn last(&self, f: impl Fn(&str) -> bool) -> Option<Instant> {
        self.shown
            .lock()
            .expect("board")
            .iter()
            .filter_map(|s| s.as_ref().filter(|(name, _)| f(name)).map(|(_, t)| *t))
            .max()
    }
}

pub fn run(a: HuiduArgs) -> anyhow::Result<()> {
    let n = a.cards;
    let wait = Duration::from_secs(a.wait_s);
    let dir = std::env::temp_dir().join(format!("bangtin-loadtest-huidu-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data"))?;
    let (mut server, http, lport, content) = start(&dir, &a)?;
    let spid = server.pid();
    let rt = tokio::runtime::Runtime::new()?;
    let board = spawn_cards(&rt, &a, SocketAddr::from(([127, 0, 0, 1], lport)));
    let first = wait_until(wait, || board.count(|_| true) == n as usize);
    let Some(first) = first else {
        bail!(
            "only {} of {n} cards showed a frame within {wait:?} ({} connected); see {}",
            board.count(|_| true),
            board.connected.load(std::sync::atomic::Ordering::Relaxed),
            dir.display()
        );
    };
    eprintln!(
        "{n} cards connected and showing the first frame after {:.2} s",
        first.as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(2));
    let (rss_before, _) = rss_mib(spid);
    let old = board.files();

    let t0 = Instant::now();
    switch_campaign(&http, &content)?;
    let reply = t0.elapsed();
    let done = wait_until(wait, || board.count(|f| !old.contains(f)) == n as usize);
    let all = match done {
        Some(_) => board
            .last(|f| !old.contains(f))
            .map(|l| (l - t0).as_secs_f64()),
        None => None,
    };
    std::thread::sleep(Duration::from_secs(1));
    let (rss, hwm) = rss_mib(spid);
    let ok = board.count(|f| !old.contains(f));
    server.stop();
    rt.shutdown_timeout(Duration::from_secs(2));
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "{}",
        json!({
            "cards": n, "size": format!("{}x{}", a.width, a.height),
            "first_frame_all_s": first.as_secs_f64(),
            "change_reply_ms": reply.as_secs_f64() * 1e3,
            "change_all_shown_s": all,
            "cards_with_new_frame": ok,
            "server_rss_mib_before": rss_before,
            "server_rss_mib": rss, "server_hwm_mib": hwm,
        })
    );
    if all.is_none() {
        bail!("only {ok} of {n} cards showed the new frame within {wait:?}");
    }
    Ok(())
}

/// The server with a Huidu listener, its content, and the cards' panels.
fn start(dir: &std::path::Path, a: &HuiduArgs) -> anyhow::Result<(Proc, Arc<Http>, u16, Content)> {
    let (bport, lport) = (free_port()?, free_port()?);
    let (server, http) = start_server(
        dir,
        &[
            "--broker-listen",
            &format!("127.0.0.1:{bport}"),
            "--huidu-listen",
            &format!("127.0.0.1:{lport}"),
        ],
    )?;
    wait_for_port(lport, Duration::from_secs(10))?;
    // One page each on a 128x32 sign: a card's new file means the new
    // message, not a page turn.
    let content = seed_content(
        &http,
        [
            ("Tạm trú", "Khai báo tạm trú"),
            ("Mũ bảo hiểm", "Đội mũ bảo hiểm"),
        ],
    )?;
    let t = Instant::now();
    import_panels(
        &http,
        (1..=a.cards)
            .map(|i| {
                json!({"id": format!("h{i:05}"), "name": format!("Huidu {i}"),
                    "width": a.width, "height": a.height, "format": "mono1",
                    "transport": {"kind": "huidu", "device_id": device_id(i)}})
            })
            .collect(),
    )?;
    eprintln!(
        "{} panels created in {:.1} s",
        a.cards,
        t.elapsed().as_secs_f64()
    );
    Ok((server, http, lport, content))
}

/// The simulated cards, each dialling `listen`.
fn spawn_cards(rt: &tokio::runtime::Runtime, a: &HuiduArgs, listen: SocketAddr) -> Arc<Board> {
    let board = Arc::new(Board {
        shown: Mutex::new(vec![None; a.cards as usize]),
        connected: Default::default(),
    });
    for i in 1..=a.cards {
        let card = SimCard {
            index: i,
            width: a.width.into(),
            height: a.height.into(),
            board: board.clone(),
        };
        rt.spawn(card.run(listen));
    }
    board
}

fn device_id(i: u32) -> String {
    format!("LT-{i:05}")
}

/// One simulated card: dials, serves the connection, dials again if it
/// drops (after a second), for as long as the runtime lives.
struct SimCard {
    index: u32,
    width: u32,
    height: u32,
    board: Arc<Board>,
}

/// An upload in progress.
struct Upload {
    md5: String,
    size: u64,
    name: String,
    data: Vec<u8>,
}

impl SimCard {
    async fn run(self, server: SocketAddr) {
        let mut files = HashSet::new();
        loop {
            if let Ok(s) = TcpStream::connect(server).await {
                self.board
                    .connected
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let _ = self.serve(s, &mut files).await;
                self.board
                    .connected
                    .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn serve(&self, mut s: TcpStream, files: &mut HashSet<String>) -> std::io::Result<()> {
        let mut buf = Vec::new();
        let mut read = vec![0u8; 16 * 1024];
        let mut xml = Vec::new();
        let mut upload: Option<Upload> = None;
        let guid = format!("{:032x}", 0x4c54_0000_0000u64 + u64::from(self.index));
        // The server speaks first; after that it sends a heartbeat when
        // idle for 30 s. A card that hears nothing for longer redials.
        let mut silence = Duration::from_secs(10);
        loop {
            let n = match tokio::time::timeout(silence, s.read(&mut read)).await {
                Ok(r) => r?,
                Err(_) => return Ok(()),
            };
            silence = Duration::from_secs(100);
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&read[..n]);
            while buf.len() >= 4 {
                let len = usize::from(u16::from_le_bytes([buf[0], buf[1]]));
                if !(4..=9216).contains(&len) {
                    return Ok(()); // a card drops a link it cannot frame
                }
                if buf.len() < len {
                    break;
                }
                let p: Vec<u8> = buf.drain(..len).collect();
                let cmd = u16::from_le_bytes([p[2], p[3]]);
                let body = &p[4..];
                let out = match cmd {
                    0x2001 => {
                        // Transport version and status (kSuccess).
                        let mut b = 0x0100_0005u32.to_le_bytes().to_vec();
                        b.extend_from_slice(&[0, 0]);
                        packet(0x2002, &b)
                    }
                    0x005f => packet(0x0060, &[]),
                    0x2003 if body.len() >= 8 => {
                        let total = u32::from_le_bytes(body[0..4].try_into().expect("4")) as usize;
                        xml.extend_from_slice(&body[8..]);
                        if xml.len() < total {
                            continue;
                        }
                        let text = String::from_utf8_lossy(&std::mem::take(&mut xml)).into_owned();
                        self.on_xml(&text, &guid, files)
                    }
                    0x8001 if body.len() > 44 => {
                        let md5 = String::from_utf8_lossy(&body[..32]).into_owned();
                        let size = u64::from_le_bytes(body[33..41].try_into().expect("8"));
                        let name_end = body[43..].iter().position(|b| *b == 0).unwrap_or(0);
                        let name = String::from_utf8_lossy(&body[43..43 + name_end]).into_owned();
                        let exist = if files.contains(&name) { size } else { 0 };
                        upload = Some(Upload {
                            md5,
                            size,
                            name,
                            data: Vec::new(),
                        });
                        let mut b = vec![0, 0];
                        b.extend_from_slice(&exist.to_le_bytes());
                        packet(0x8002, &b)
                    }
                    0x8003 => {
                        if let Some(u) = upload.as_mut() {
                            u.data.extend_from_slice(body);
                        }
                        continue;
                    }
                    0x8005 => {
                        let status: u16 = match upload.take() {
                            Some(u) if files.contains(&u.name) => 0,
                            Some(u)
                                if u.data.len() as u64 == u.size
                                    && hex::encode(Md5::digest(&u.data)) == u.md5 =>
                            {
                                files.insert(u.name);
                                0
                            }
                            _ => 14, // kFileContentError
                        };
                        packet(0x8006, &status.to_le_bytes())
                    }
                    _ => continue,
                };
                s.write_all(&out).await?;
            }
        }
    }

    fn on_xml(&self, text: &str, guid: &str, files: &HashSet<String>) -> Vec<u8> {
        let method = attr(text, "in", "method").unwrap_or_default();
        let (result, body) = match method.as_str() {
            "GetIFVersion" => ("kSuccess", r#"<version value="1000000"/>"#.to_string()),
            "GetDeviceInfo" => (
                "kSuccess",
                format!(
                    r#"<device id="{}" model="HD-C16"/><screen width="{}" height="{}" rotation="0"/>"#,
                    device_id(self.index),
                    self.width,
                    self.height
                ),
            ),
            "AddProgram" => match attr(text, "file", "name") {
                Some(f) if files.contains(&f) => {
                    let mut shown = self.board.shown.lock().expect("board");
                    shown[self.index as usize - 1] = Some((f, Instant::now()));
                    ("kSuccess", String::new())
                }
                _ => ("kFileNotFound", String::new()),
            },
            _ => ("kSuccess", String::new()),
        };
        let reply = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<sdk guid=\"{guid}\"><out method=\"{method}\" result=\"{result}\">{body}</out></sdk>"
        );
        let mut b = (reply.len() as u32).to_le_bytes().to_vec();
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(reply.as_bytes());
        packet(0x2004, &b)
    }
}

fn packet(cmd: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = ((4 + payload.len()) as u16).to_le_bytes().to_vec();
    p.extend_from_slice(&cmd.to_le_bytes());
    p.extend_from_slice(payload);
    p
}

/// The value of `attr` on the first `<element …>` in `xml` (no escapes in
/// what bangtin sends for these).
fn attr(xml: &str, element: &str, attr: &str) -> Option<String> {
    let start = xml.find(&format!("<{element} "))?;
    let tag = &xml[start..start + xml[start..].find('>')?];
    let key = format!("{attr}=\"");
    let v = &tag[tag.find(&key)? + key.len()..];
    Some(v[..v.find('"')?].to_string())
}
