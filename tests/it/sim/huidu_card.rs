//! A Huidu full-colour card speaking SDK 2.0, for tests.
//!
//! Written from the public facts (vendor demo `huidutech/sdk`
//! RemoteServer, the vendor's C#/C++ SDK sources, `alparslanahmed/huidu-led`)
//! without bangtin's codecs, so that a wrong assumption in bangtin shows up
//! as a failure here instead of being mirrored. Where the public sources do
//! not say what a card does, the simulator is strict and the choice is
//! noted.
//!
//! It listens on loopback or dials a listener (a card behind 4G NAT dials
//! its server; the server then speaks first). It stores uploaded files,
//! applies programs and decodes the shown image back into pixels.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use md5::{Digest, Md5};
use quick_xml::events::Event as XmlEvent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

const MAX_TCP_PACKET: usize = 9 * 1024;
const CARD_TCP_VERSION: u32 = 0x0100_0005;

// Status codes, vendor numbering.
const K_SUCCESS: u16 = 0;
const K_FILE_CONTENT_ERROR: u16 = 14;
const K_INVALID_XML_INDEX: u16 = 21;
const K_PARSE_XML_FAILED: u16 = 22;

/// What the card is.
#[derive(Debug, Clone)]
pub struct CardConfig {
    pub device_id: String,
    pub model: String,
    pub width: u32,
    pub height: u32,
    /// XML bytes per answer fragment (real cards: up to ~9 KiB); small
    /// values force bangtin to reassemble.
    pub reply_chunk: usize,
}

impl CardConfig {
    pub fn new(device_id: &str, width: u32, height: u32) -> CardConfig {
        CardConfig {
            device_id: device_id.into(),
            model: "HD-C16".into(),
            width,
            height,
            reply_chunk: 9200,
        }
    }
}

/// The picture on the glass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
    pub file: String,
}

/// Everything a test may look at.
#[derive(Debug, Default)]
pub struct CardState {
    pub files: HashMap<String, Vec<u8>>,
    /// Partial uploads by MD5, offered back as the resume offset.
    pub partial: HashMap<String, Vec<u8>>,
    pub shown: Option<Shown>,
    pub brightness: Option<u32>,
    pub clock: Option<(String, String)>,
    /// Methods and packets seen, in order.
    pub log: Vec<String>,
    /// Resume offsets handed out (non-zero ones).
    pub resumed_from: Vec<u64>,
    pub heartbeats: usize,
    pub connections: usize,
    /// Drop the connection once this many content bytes of an upload
    /// arrived (a 4G link going down mid-transfer).
    pub cut_upload_after: Option<usize>,
    /// Why the last connection ended.
    pub closed_because: Option<String>,
    /// Corrupt this many uploads on arrival (a bad 4G link): the MD5 check
    /// at the end fails and the card answers kFileContentError.
    pub corrupt_uploads: usize,
}

/// A simulated card; clones share the state.
#[derive(Clone)]
pub struct Card {
    pub config: CardConfig,
    state: Arc<Mutex<CardState>>,
    changed: Arc<watch::Sender<u64>>,
    /// Switched off: connections are dropped and refused until on again.
    off: Arc<watch::Sender<bool>>,
}

impl Card {
    pub fn new(config: CardConfig) -> Card {
        Card {
            config,
            state: Arc::default(),
            changed: Arc::new(watch::channel(0).0),
            off: Arc::new(watch::channel(false).0),
        }
    }

    /// Power cut (or the 4G link gone): every connection drops, new ones
    /// are closed at once.
    pub fn power_off(&self) {
        self.off.send_replace(true);
    }

    pub fn power_on(&self) {
        self.off.send_replace(false);
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut CardState) -> T) -> T {
        let out = f(&mut self.state.lock().unwrap());
        self.changed.send_modify(|v| *v += 1);
        out
    }

    /// Waits (bounded) until `pred` holds on the state.
    pub async fn wait_until(&self, what: &str, pred: impl Fn(&CardState) -> bool) {
        let mut rx = self.changed.subscribe();
        let wait = async {
            loop {
                if pred(&self.state.lock().unwrap()) {
                    return;
                }
                rx.changed().await.expect("card dropped");
            }
        };
        if tokio::time::timeout(Duration::from_secs(20), wait)
            .await
            .is_err()
        {
            panic!(
                "card never reached: {what}; log {:?}",
                self.state.lock().unwrap().log
            );
        }
    }

    /// Listens on loopback; every accepted connection is served.
    pub async fn listen(&self) -> SocketAddr {
        let card = self.clone();
        super::listen(move |s| card.clone().serve(s)).await
    }

    /// Dials a server (the card's "remote server" setting) and serves the
    /// connection.
    pub async fn dial(&self, server: SocketAddr) {
        let stream = TcpStream::connect(server).await.unwrap();
        tokio::spawn(self.clone().serve(stream));
    }

    /// One connection, until it closes, the card drops it or is switched
    /// off.
    pub async fn serve(self, stream: TcpStream) {
        let mut off = self.off.subscribe();
        if *off.borrow_and_update() {
            return;
        }
        let card = self.clone();
        tokio::select! {
            _ = card.serve_on(stream) => {}
            _ = off.wait_for(|off| *off) => {
                self.with(|s| s.closed_because = Some("switched off".into()));
            }
        }
    }

    async fn serve_on(self, mut stream: TcpStream) {
        self.with(|s| s.connections += 1);
        let mut conn = Connection::default();
        let mut buf: Vec<u8> = Vec::new();
        let mut read = vec![0u8; 4096];
        let reason = 'outer: loop {
            let n = match stream.read(&mut read).await {
                Ok(0) => break "peer closed".to_string(),
                Ok(n) => n,
                Err(e) => break format!("read error {e}"),
            };
            buf.extend_from_slice(&read[..n]);
            while buf.len() >= 2 {
                let len = usize::from(u16::from_le_bytes([buf[0], buf[1]]));
                if !(4..=MAX_TCP_PACKET).contains(&len) {
                    // The vendor demo throws away a buffer it cannot frame;
                    // a card resets the link.
                    break 'outer format!("bad packet length {len}");
                }
                if buf.len() < len {
                    break;
                }
                let packet: Vec<u8> = buf.drain(..len).collect();
                match self.on_packet(&mut conn, &packet) {
                    Step::Reply(out) => {
                        if stream.write_all(&out).await.is_err() {
                            break 'outer "write error".into();
                        }
                    }
                    Step::Quiet => {}
                    Step::Drop(why) => break 'outer why,
                }
            }
        };
        let _ = stream.shutdown().await;
        self.with(|s| s.closed_because = Some(reason));
    }

    fn on_packet(&self, conn: &mut Connection, p: &[u8]) -> Step {
        let cmd = u16::from_le_bytes([p[2], p[3]]);
        let body = &p[4..];
        match cmd {
            0x2001 => {
                self.with(|s| s.log.push("version".into()));
                let mut out = packet_header(10, 0x2002);
                out.extend_from_slice(&CARD_TCP_VERSION.to_le_bytes());
                out.extend_from_slice(&K_SUCCESS.to_le_bytes());
                Step::Reply(out)
            }
            0x005f => {
                self.with(|s| s.heartbeats += 1);
                Step::Reply(packet_header(4, 0x0060))
            }
            0x2003 => {
                if body.len() < 8 {
                    return Step::Reply(error_answer(K_INVALID_XML_INDEX));
                }
                let total = u32::from_le_bytes(body[0..4].try_into().unwrap()) as usize;
                let index = u32::from_le_bytes(body[4..8].try_into().unwrap()) as usize;
                if index != conn.xml.len() || index + body.len() - 8 > total {
                    conn.xml.clear();
                    return Step::Reply(error_answer(K_INVALID_XML_INDEX));
                }
                conn.xml.extend_from_slice(&body[8..]);
                if conn.xml.len() < total {
                    return Step::Quiet;
                }
                let xml = std::mem::take(&mut conn.xml);
                self.on_xml(conn, &xml)
            }
            0x8001 => self.on_file_start(conn, body),
            0x8003 => {
                let Some(up) = conn.upload.as_mut() else {
                    return Step::Drop("file content without a start".into());
                };
                up.data.extend_from_slice(body);
                let cut = self.with(|s| s.cut_upload_after);
                if cut.is_some_and(|n| up.data.len() >= n) {
                    let (md5, data) = (up.md5.clone(), up.data.clone());
                    self.with(|s| {
                        s.cut_upload_after = None;
                        s.partial.insert(md5, data);
                    });
                    return Step::Drop("cut mid-upload".into());
                }
                Step::Quiet
            }
            0x8005 => {
                let Some(up) = conn.upload.take() else {
                    return Step::Drop("file end without a start".into());
                };
                let corrupt = self.with(|s| {
                    let c = s.corrupt_uploads > 0;
                    s.corrupt_uploads = s.corrupt_uploads.saturating_sub(1);
                    c
                });
                let mut actual = hex::encode(Md5::digest(&up.data));
                if corrupt {
                    actual = hex::encode(Md5::digest(b"bits flipped on the way"));
                }
                let ok = actual == up.md5 && up.data.len() as u64 == up.size;
                let status = if ok { K_SUCCESS } else { K_FILE_CONTENT_ERROR };
                self.with(|s| {
                    s.log.push(format!("file-end {} {}", up.name, status));
                    s.partial.remove(&up.md5);
                    if ok {
                        s.files.insert(up.name.clone(), up.data);
                    }
                });
                let mut out = packet_header(6, 0x8006);
                out.extend_from_slice(&status.to_le_bytes());
                Step::Reply(out)
            }
            other => {
                self.with(|s| s.log.push(format!("unknown 0x{other:04x}")));
                Step::Quiet
            }
        }
    }

    fn on_file_start(&self, conn: &mut Connection, body: &[u8]) -> Step {
        if body.len() < 33 + 8 + 2 + 1 {
            return Step::Drop("short file start".into());
        }
        let md5 = String::from_utf8_lossy(&body[..32]).into_owned();
        let size = u64::from_le_bytes(body[33..41].try_into().unwrap());
        let name_bytes = &body[43..];
        let end = name_bytes
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(name_bytes.len());
        let name = String::from_utf8_lossy(&name_bytes[..end]).into_owned();
        let (have, exist) = self.with(|s| {
            s.log.push(format!("file-start {name}"));
            if s.files
                .get(&name)
                .is_some_and(|f| hex::encode(Md5::digest(f)) == md5)
            {
                let f = s.files[&name].clone();
                let n = f.len() as u64;
                (f, n)
            } else {
                let p = s.partial.get(&md5).cloned().unwrap_or_default();
                let n = p.len() as u64;
                if n > 0 {
                    s.resumed_from.push(n);
                }
                (p, n)
            }
        });
        conn.upload = Some(Upload {
            md5,
            size,
            name,
            data: have,
        });
        let mut out = packet_header(14, 0x8002);
        out.extend_from_slice(&K_SUCCESS.to_le_bytes());
        out.extend_from_slice(&exist.to_le_bytes());
        Step::Reply(out)
    }

    fn on_xml(&self, conn: &mut Connection, xml: &[u8]) -> Step {
        let Some(doc) = read_sdk(xml) else {
            self.with(|s| s.log.push("garbage xml".into()));
            return Step::Reply(error_answer(K_PARSE_XML_FAILED));
        };
        self.with(|s| s.log.push(doc.method.clone()));
        let card = &self.config;
        if doc.method == "GetIFVersion" {
            let n = self.with(|s| s.connections);
            conn.guid = format!("{:032x}", 0x5eed_0000_u64 + n as u64);
            return self.answer(
                &conn.guid,
                "GetIFVersion",
                "kSuccess",
                r#"<version value="1000000"/>"#,
            );
        }
        if conn.guid.is_empty() || doc.guid != conn.guid {
            return self.answer(&doc.guid, &doc.method, "kInvalidGUID", "");
        }
        match doc.method.as_str() {
            "GetDeviceInfo" => {
                let body = format!(
                    r#"<device cpu="sim" model="{}" id="{}" name="sim"/><version fpga="1" app="7.10.0" kernel="3"/><screen width="{}" height="{}" rotation="0"/>"#,
                    card.model, card.device_id, card.width, card.height
                );
                self.answer(&conn.guid, "GetDeviceInfo", "kSuccess", &body)
            }
            "AddProgram" => {
                let result = self.apply_program(&doc);
                self.answer(&conn.guid, "AddProgram", result, "")
            }
            "SetLuminancePloy" => {
                let value = doc.attr("default", "value").and_then(|v| v.parse().ok());
                let ok = doc.attr("mode", "value") == Some("default")
                    && value.is_some_and(|v: u32| (1..=100).contains(&v));
                if ok {
                    self.with(|s| s.brightness = value);
                }
                let r = if ok { "kSuccess" } else { "kInvalidParam" };
                self.answer(&conn.guid, "SetLuminancePloy", r, "")
            }
            "SetTimeInfo" => {
                let time = doc.attr("time", "value").map(str::to_string);
                let zone = doc.attr("timezone", "value").map(str::to_string);
                let ok = time.as_ref().is_some_and(|t| {
                    chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").is_ok()
                });
                if ok {
                    self.with(|s| s.clock = Some((time.unwrap(), zone.unwrap_or_default())));
                }
                let r = if ok { "kSuccess" } else { "kInvalidParam" };
                self.answer(&conn.guid, "SetTimeInfo", r, "")
            }
            _ => self.answer(&conn.guid, &doc.method, "kInvalidMethod", ""),
        }
    }

    /// One full-screen area with one image whose file is on the card.
    /// Strict where a real card might scale: the image, the area and the
    /// screen must all be the same size.
    fn apply_program(&self, doc: &SdkDoc) -> &'static str {
        let card = &self.config;
        let (Some(file), Some(w), Some(h)) = (
            doc.attr("file", "name"),
            doc.attr("rectangle", "width"),
            doc.attr("rectangle", "height"),
        ) else {
            return "kInvalidParam";
        };
        if doc.count("area") != 1 || doc.count("image") != 1 || doc.count("program") != 1 {
            return "kInvalidParam";
        }
        if (w, h)
            != (
                card.width.to_string().as_str(),
                card.height.to_string().as_str(),
            )
            || doc.attr("rectangle", "x") != Some("0")
            || doc.attr("rectangle", "y") != Some("0")
        {
            return "kInvalidParam";
        }
        let Some(data) = self.with(|s| s.files.get(file).cloned()) else {
            return "kFileNotFound";
        };
        let Ok(img) = image::load_from_memory(&data) else {
            return "kInvalidFileData";
        };
        let img = img.to_rgb8();
        if img.dimensions() != (card.width, card.height) {
            return "kUnsupportResolution";
        }
        let file = file.to_string();
        self.with(|s| {
            s.shown = Some(Shown {
                width: img.width(),
                height: img.height(),
                rgb: img.into_raw(),
                file,
            })
        });
        "kSuccess"
    }

    fn answer(&self, guid: &str, method: &str, result: &str, body: &str) -> Step {
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<sdk guid=\"{guid}\">\n  <out method=\"{method}\" result=\"{result}\">{body}</out>\n</sdk>\n"
        );
        let bytes = xml.as_bytes();
        let mut out = Vec::new();
        for (i, part) in bytes.chunks(self.config.reply_chunk).enumerate() {
            out.extend(packet_header(12 + part.len(), 0x2004));
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(&((i * self.config.reply_chunk) as u32).to_le_bytes());
            out.extend_from_slice(part);
        }
        Step::Reply(out)
    }
}

enum Step {
    Reply(Vec<u8>),
    Quiet,
    Drop(String),
}

#[derive(Default)]
struct Connection {
    guid: String,
    xml: Vec<u8>,
    upload: Option<Upload>,
}

struct Upload {
    md5: String,
    size: u64,
    name: String,
    data: Vec<u8>,
}

fn packet_header(len: usize, cmd: u16) -> Vec<u8> {
    let mut v = (len as u16).to_le_bytes().to_vec();
    v.extend_from_slice(&cmd.to_le_bytes());
    v
}

fn error_answer(code: u16) -> Vec<u8> {
    let mut v = packet_header(6, 0x2000);
    v.extend_from_slice(&code.to_le_bytes());
    v
}

/// A request as the card reads it: root guid, method, and every element's
/// attributes (name, attributes) in order.
struct SdkDoc {
    guid: String,
    method: String,
    elements: Vec<(String, Vec<(String, String)>)>,
}

impl SdkDoc {
    fn attr(&self, element: &str, attr: &str) -> Option<&str> {
        self.elements
            .iter()
            .find(|(n, _)| n == element)
            .and_then(|(_, a)| a.iter().find(|(k, _)| k == attr))
            .map(|(_, v)| v.as_str())
    }

    fn count(&self, element: &str) -> usize {
        self.elements.iter().filter(|(n, _)| n == element).count()
    }
}

fn read_sdk(xml: &[u8]) -> Option<SdkDoc> {
    let text = std::str::from_utf8(xml).ok()?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut doc = SdkDoc {
        guid: String::new(),
        method: String::new(),
        elements: Vec::new(),
    };
    let mut depth = 0usize;
    let mut roots = 0;
    loop {
        let ev = reader.read_event().ok()?;
        let (e, opens) = match &ev {
            XmlEvent::Start(e) => (e, true),
            XmlEvent::Empty(e) => (e, false),
            XmlEvent::End(_) => {
                depth = depth.checked_sub(1)?;
                continue;
            }
            XmlEvent::Eof => break,
            XmlEvent::DocType(_) => return None,
            _ => continue,
        };
        let name = e.name().as_ref().to_string();
        let mut attrs = Vec::new();
        for a in e.attributes() {
            let a = a.ok()?;
            let k = a.key.as_ref().to_string();
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()?
                .into_owned();
            attrs.push((k, v));
        }
        let get = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match depth {
            0 if name == "sdk" => {
                roots += 1;
                doc.guid = get("guid")?;
            }
            0 => return None,
            1 if name == "in" => doc.method = get("method")?,
            1 => return None,
            _ => doc.elements.push((name, attrs)),
        }
        if opens {
            depth += 1;
        }
    }
    (roots == 1 && depth == 0 && !doc.method.is_empty()).then_some(doc)
}
