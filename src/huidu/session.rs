//! The client side of SDK 2.0 for one card, as a state machine.
//!
//! The same machine serves both ways a connection comes about: bangtin
//! dials the card (port 10001), or the card dials bangtin's listener from
//! behind 4G NAT. In both cases bangtin speaks first, as the vendor's own
//! remote-server demo does on an accepted socket: version ask,
//! `GetIFVersion` (the card hands out the session guid), `GetDeviceInfo`,
//! then [`Event::Ready`].
//!
//! After that, operations run one at a time, each waiting for its answer:
//! [`Session::show`] uploads a PNG and sends a program with one full-screen
//! image area ([`Event::Shown`]); [`Session::set_brightness`] and
//! [`Session::sync_time`] send their XML ([`Event::Applied`]). A newer show
//! replaces one still queued. When idle the session sends a heartbeat every
//! [`HEARTBEAT_MS`]; a card silent for [`SILENCE_MS`] is given up.
//!
//! Feed it bytes with [`Session::receive`], call [`Session::tick`] by
//! [`Session::wake_at`], and write out whatever [`Session::transmit`]
//! returns. It never touches a socket or reads the clock: `now_ms` is any
//! monotonic millisecond count the caller keeps.

use std::collections::VecDeque;

use chrono::NaiveDateTime;

use super::packet::{self, cmd, Decoder, Fragment, Packet, Reassembler};
use super::sdk::{self, DeviceInfo, Document, ImageProgram};
use super::transfer::{self, FileKind, Upload};
use super::Error;

/// Idle time after which a heartbeat is sent (vendor C# library: 30 s).
pub const HEARTBEAT_MS: u64 = 30_000;
/// Silence after which the card is given up (vendor C# library: 90 s).
pub const SILENCE_MS: u64 = 90_000;

/// What the session reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Handshake done: what the card says it is.
    Ready {
        /// The card's id, from `GetDeviceInfo`.
        device_id: String,
        /// The card's model, from `GetDeviceInfo` (may be empty).
        model: String,
        /// The card's screen width in pixels.
        width: u32,
        /// The card's screen height in pixels.
        height: u32,
    },
    /// The card accepted the program showing this picture (by MD5).
    Shown {
        /// The shown PNG's MD5, 32 lower-case hex characters.
        md5: String,
    },
    /// The card accepted a setting (`SetLuminancePloy`, `SetTimeInfo`).
    Applied {
        /// The SDK method the card accepted.
        method: &'static str,
    },
    /// An operation failed. If [`Session::is_closed`] is now true the
    /// connection is unusable and must be dropped.
    Failed {
        /// What went wrong, in the technician's words.
        why: Error,
    },
}

/// A frame for the card: a PNG of exactly the card's screen size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    /// Width in pixels; must equal the card's screen width.
    pub width: u32,
    /// Height in pixels; must equal the card's screen height.
    pub height: u32,
    /// The PNG file's bytes (see [`super::png_for_frame`]).
    pub png: Vec<u8>,
    /// A number that grows with each frame (the BTF1 seq), used as the
    /// program's `timeStamps`.
    pub stamp: u64,
}

#[derive(Debug)]
enum Op {
    Show(Picture),
    Luminance(u8),
    Time(NaiveDateTime, String),
}

impl Op {
    fn method(&self) -> &'static str {
        match self {
            Op::Show(_) => "AddProgram",
            Op::Luminance(_) => "SetLuminancePloy",
            Op::Time(..) => "SetTimeInfo",
        }
    }
}

#[derive(Debug)]
enum Wait {
    Version,
    IfVersion,
    DeviceInfo,
    FileStart(Upload, ImageProgram),
    FileEnd(Upload, ImageProgram),
    Program(String),
    Setting(&'static str),
}

impl Wait {
    fn what(&self) -> &'static str {
        match self {
            Wait::Version => "the version answer",
            Wait::IfVersion => "GetIFVersion",
            Wait::DeviceInfo => "GetDeviceInfo",
            Wait::FileStart(..) => "the file start answer",
            Wait::FileEnd(..) => "the file end answer",
            Wait::Program(_) => "AddProgram",
            Wait::Setting(m) => m,
        }
    }
}

/// One card's protocol state.
#[derive(Debug)]
pub struct Session {
    decoder: Decoder,
    xml: Reassembler,
    outbox: Vec<u8>,
    queue: VecDeque<Op>,
    wait: Option<(Wait, u64)>,
    guid: String,
    device: Option<DeviceInfo>,
    closed: bool,
    /// Events raised outside `receive`/`tick`, handed out by the next call.
    pending: Vec<Event>,
    now: u64,
    last_sent: u64,
    last_heard: u64,
}

impl Session {
    /// A new connection (either direction); queues the version ask.
    pub fn new(now_ms: u64) -> Session {
        let mut s = Session {
            decoder: Decoder::new(),
            xml: Reassembler::new(),
            outbox: Vec::new(),
            queue: VecDeque::new(),
            wait: None,
            guid: String::new(),
            device: None,
            closed: false,
            pending: Vec::new(),
            now: now_ms,
            last_sent: now_ms,
            last_heard: now_ms,
        };
        s.send(&packet::version_ask(packet::TCP_VERSION));
        s.wait = Some((Wait::Version, now_ms));
        s
    }

    /// The card, once [`Event::Ready`] was reported.
    pub fn device(&self) -> Option<&DeviceInfo> {
        self.device.as_ref()
    }

    /// The session guid the card handed out.
    pub fn guid(&self) -> &str {
        &self.guid
    }

    /// Whether the connection is unusable (closed, or failed hard) and must
    /// be dropped.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// What the session waits for from the card, if anything.
    pub fn waiting(&self) -> Option<&'static str> {
        self.wait.as_ref().map(|(w, _)| w.what())
    }

    /// Bytes received that do not make a whole packet yet.
    pub fn pending(&self) -> usize {
        self.decoder.pending()
    }

    /// True when nothing is queued or awaited.
    pub fn is_idle(&self) -> bool {
        self.wait.is_none() && self.queue.is_empty()
    }

    /// Shows `picture`: upload, then a one-image program. Replaces a show
    /// that has not started yet. A picture whose size is not the card's is
    /// refused here; queued before the handshake, it is refused (as an
    /// [`Event::Failed`]) once the card's size is known.
    pub fn show(&mut self, picture: Picture) -> Result<(), Error> {
        if let Some(dev) = &self.device {
            size_check(&picture, dev)?;
        }
        self.enqueue(Op::Show(picture));
        Ok(())
    }

    /// Fixed brightness, 1–100 % (see [`sdk::brightness_percent`]).
    pub fn set_brightness(&mut self, percent: u8) {
        self.enqueue(Op::Luminance(percent));
    }

    /// Sets the card's clock to `local` in `timezone` (e.g.
    /// [`sdk::TIMEZONE_VIETNAM`]).
    pub fn sync_time(&mut self, local: NaiveDateTime, timezone: &str) {
        self.enqueue(Op::Time(local, timezone.to_string()));
    }

    /// Queues `op`, replacing a queued one of the same kind (only the
    /// newest frame or setting matters).
    fn enqueue(&mut self, op: Op) {
        if self.closed {
            return;
        }
        self.queue.retain(|q| q.method() != op.method());
        self.queue.push_back(op);
        self.pump();
    }

    /// Bytes to write to the socket, if any.
    pub fn transmit(&mut self) -> Option<Vec<u8>> {
        if self.outbox.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.outbox))
        }
    }

    /// When [`Session::tick`] must next be called.
    pub fn wake_at(&self) -> u64 {
        let silence = self.last_heard + SILENCE_MS;
        if self.wait.is_some() {
            silence
        } else {
            silence.min(self.last_sent + HEARTBEAT_MS)
        }
    }

    /// Heartbeats and time-outs.
    pub fn tick(&mut self, now_ms: u64) -> Vec<Event> {
        self.now = self.now.max(now_ms);
        let mut events = std::mem::take(&mut self.pending);
        if self.closed {
            return events;
        }
        if self.now >= self.last_heard + SILENCE_MS {
            let waiting = self
                .wait
                .as_ref()
                .map_or("a heartbeat answer", |(w, _)| w.what());
            self.fail_hard(
                Error::Timeout {
                    waiting,
                    secs: SILENCE_MS / 1000,
                },
                &mut events,
            );
            return events;
        }
        if self.wait.is_none() && self.now >= self.last_sent + HEARTBEAT_MS {
            self.send(&Packet::new(cmd::HEARTBEAT_ASK, Vec::new()));
        }
        events
    }

    /// Bytes from the socket.
    pub fn receive(&mut self, bytes: &[u8], now_ms: u64) -> Vec<Event> {
        self.now = self.now.max(now_ms);
        let mut events = std::mem::take(&mut self.pending);
        if self.closed {
            return events;
        }
        self.last_heard = self.now;
        self.decoder.push(bytes);
        loop {
            match self.decoder.next_packet() {
                Ok(Some(p)) => {
                    if let Err(e) = self.on_packet(p, &mut events) {
                        self.fail_hard(e, &mut events);
                    }
                    if self.closed {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    self.fail_hard(e, &mut events);
                    break;
                }
            }
        }
        self.pump();
        events.append(&mut self.pending);
        events
    }

    /// Marks the connection dead (e.g. the socket closed).
    pub fn close(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        if !self.closed {
            self.fail_hard(Error::Closed, &mut events);
        }
        events
    }

    fn fail_hard(&mut self, why: Error, events: &mut Vec<Event>) {
        self.closed = true;
        self.wait = None;
        self.queue.clear();
        self.outbox.clear();
        events.push(Event::Failed { why });
    }

    fn send(&mut self, p: &Packet) {
        self.outbox.extend_from_slice(&p.encode());
        self.last_sent = self.now;
    }

    fn send_xml(&mut self, xml: &[u8]) {
        for p in packet::fragments(cmd::SDK_ASK, xml, packet::CHUNK) {
            self.send(&p);
        }
    }

    fn await_(&mut self, w: Wait) {
        self.wait = Some((w, self.now));
    }

    /// Starts the next queued operation when nothing is awaited.
    fn pump(&mut self) {
        while !self.closed && self.wait.is_none() && self.device.is_some() {
            let Some(op) = self.queue.pop_front() else {
                return;
            };
            match op {
                Op::Luminance(percent) => {
                    self.send_xml(&sdk::set_luminance(&self.guid, percent));
                    self.await_(Wait::Setting("SetLuminancePloy"));
                }
                Op::Time(local, zone) => {
                    self.send_xml(&sdk::set_time(&self.guid, local, &zone));
                    self.await_(Wait::Setting("SetTimeInfo"));
                }
                Op::Show(pic) => {
                    let dev = self.device.as_ref().expect("ready");
                    if let Err(why) = size_check(&pic, dev) {
                        // Nothing was sent: the session goes on.
                        self.pending.push(Event::Failed { why });
                        continue;
                    }
                    let md5 = transfer::md5_hex(&pic.png);
                    let name = format!("bangtin-{}.png", &md5[..16]);
                    let mut upload = Upload::new(name.clone(), pic.png, FileKind::Image);
                    let program = ImageProgram {
                        width: pic.width,
                        height: pic.height,
                        file: name,
                        md5,
                        stamp: pic.stamp,
                    };
                    let start = upload.start();
                    self.send(&start);
                    self.await_(Wait::FileStart(upload, program));
                }
            }
        }
    }

    fn on_packet(&mut self, p: Packet, events: &mut Vec<Event>) -> Result<(), Error> {
        match p.cmd {
            cmd::HEARTBEAT_ASK => {
                self.send(&Packet::new(cmd::HEARTBEAT_ANSWER, Vec::new()));
                return Ok(());
            }
            cmd::HEARTBEAT_ANSWER | cmd::FILE_CONTENT_ANSWER | cmd::GPS_INFO_ANSWER => {
                return Ok(())
            }
            _ => {}
        }
        let Some((wait, _)) = self.wait.take() else {
            // Unsolicited (e.g. GPS reports): not ours to read.
            return Ok(());
        };
        if p.cmd == cmd::ERROR_ANSWER {
            let code = packet::error_code(&p)?;
            return self.op_failed(wait, Error::Card { code }, events);
        }
        match wait {
            Wait::Version => {
                packet::VersionAnswer::decode(&p)?;
                self.send_xml(&sdk::get_if_version());
                self.await_(Wait::IfVersion);
            }
            Wait::FileStart(mut upload, program) => match upload.on_start_answer(&p) {
                Ok(packets) => {
                    for q in &packets {
                        self.send(q);
                    }
                    self.await_(Wait::FileEnd(upload, program));
                }
                Err(e) => return self.op_failed(Wait::FileStart(upload, program), e, events),
            },
            Wait::FileEnd(mut upload, program) => match upload.on_end_answer(&p) {
                Ok(()) => {
                    let xml = sdk::add_image_program(&self.guid, &program);
                    self.send_xml(&xml);
                    self.await_(Wait::Program(program.md5));
                }
                Err(e) => return self.op_failed(Wait::FileEnd(upload, program), e, events),
            },
            wait @ (Wait::IfVersion | Wait::DeviceInfo | Wait::Program(_) | Wait::Setting(_)) => {
                packet::expect(&p, cmd::SDK_ANSWER, wait.what())?;
                let frag = Fragment::decode(&p)?;
                match self.xml.push(&frag)? {
                    None => self.wait = Some((wait, self.now)),
                    Some(xml) => self.on_reply(wait, &sdk::parse(&xml)?, events)?,
                }
            }
        }
        Ok(())
    }

    fn on_reply(
        &mut self,
        wait: Wait,
        doc: &Document,
        events: &mut Vec<Event>,
    ) -> Result<(), Error> {
        match wait {
            Wait::IfVersion => {
                doc.check()?;
                if doc.guid.is_empty() || doc.guid == sdk::PLACEHOLDER_GUID {
                    return Err(Error::Missing {
                        method: doc.method.clone(),
                        what: "guid",
                    });
                }
                self.guid = doc.guid.clone();
                self.send_xml(&sdk::get_device_info(&self.guid));
                self.await_(Wait::DeviceInfo);
            }
            Wait::DeviceInfo => {
                let info = DeviceInfo::from_reply(doc)?;
                events.push(Event::Ready {
                    device_id: info.id.clone(),
                    model: info.model.clone(),
                    width: info.width,
                    height: info.height,
                });
                self.device = Some(info);
            }
            Wait::Program(md5) => match doc.check() {
                Ok(()) => events.push(Event::Shown { md5 }),
                Err(e) => events.push(Event::Failed { why: e }),
            },
            Wait::Setting(method) => match doc.check() {
                Ok(()) => events.push(Event::Applied { method }),
                Err(e) => events.push(Event::Failed { why: e }),
            },
            Wait::Version | Wait::FileStart(..) | Wait::FileEnd(..) => {
                unreachable!("not an XML wait")
            }
        }
        Ok(())
    }

    /// An operation failed with the stream still in step: report it and go
    /// on, unless the handshake itself failed.
    fn op_failed(&mut self, wait: Wait, why: Error, events: &mut Vec<Event>) -> Result<(), Error> {
        match wait {
            Wait::Version | Wait::IfVersion | Wait::DeviceInfo => Err(why),
            Wait::FileStart(..) | Wait::FileEnd(..) | Wait::Program(_) | Wait::Setting(_) => {
                events.push(Event::Failed { why });
                Ok(())
            }
        }
    }
}

fn size_check(pic: &Picture, dev: &DeviceInfo) -> Result<(), Error> {
    if (pic.width, pic.height) == (dev.width, dev.height) {
        Ok(())
    } else {
        Err(Error::SizeMismatch {
            width: pic.width,
            height: pic.height,
            card_width: dev.width,
            card_height: dev.height,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::huidu::packet::VersionAnswer;

    fn answer_xml(xml: &[u8]) -> Vec<u8> {
        packet::fragments(cmd::SDK_ANSWER, xml, 100)
            .iter()
            .flat_map(Packet::encode)
            .collect()
    }

    /// A session that went through the handshake with a 64x32 card.
    fn ready() -> Session {
        let mut s = Session::new(0);
        assert_eq!(
            s.transmit().unwrap(),
            packet::version_ask(packet::TCP_VERSION).encode()
        );
        let v = VersionAnswer {
            version: packet::TCP_VERSION,
            status: Some(0),
        };
        assert!(s.receive(&v.encode().encode(), 1).is_empty());
        assert!(s.transmit().is_some());
        let guid = sdk::reply("g-1", "GetIFVersion", sdk::SUCCESS, |_| Ok(()));
        assert!(s.receive(&answer_xml(&guid), 2).is_empty());
        assert_eq!(s.guid(), "g-1");
        assert!(s.transmit().is_some());
        let info = sdk::reply("g-1", "GetDeviceInfo", sdk::SUCCESS, |w| {
            w.create_element("device")
                .with_attribute(("id", "X1"))
                .write_empty()?;
            w.create_element("screen")
                .with_attributes([("width", "64"), ("height", "32")])
                .write_empty()?;
            Ok(())
        });
        let events = s.receive(&answer_xml(&info), 3);
        assert!(matches!(
            &events[..],
            [Event::Ready {
                width: 64,
                height: 32,
                ..
            }]
        ));
        s
    }

    #[test]
    fn unsolicited_packets_are_ignored_and_heartbeats_answered() {
        let mut s = ready();
        s.set_brightness(50);
        let _ = s.transmit();
        let gps = Packet::new(cmd::GPS_INFO_ANSWER, vec![1, 2, 3]).encode();
        let ask = Packet::new(cmd::HEARTBEAT_ASK, vec![]).encode();
        assert!(s.receive(&[gps, ask].concat(), 4).is_empty());
        assert_eq!(s.transmit().unwrap(), [4, 0, 0x60, 0]);
        let ok = sdk::reply("g-1", "SetLuminancePloy", sdk::SUCCESS, |_| Ok(()));
        let events = s.receive(&answer_xml(&ok), 5);
        assert_eq!(
            events,
            [Event::Applied {
                method: "SetLuminancePloy"
            }]
        );
        assert!(s.is_idle());
    }

    #[test]
    fn a_refused_setting_fails_the_operation_not_the_connection() {
        let mut s = ready();
        s.set_brightness(50);
        let no = sdk::reply("g-1", "SetLuminancePloy", "kInvalidParam", |_| Ok(()));
        let events = s.receive(&answer_xml(&no), 5);
        assert!(matches!(
            &events[..],
            [Event::Failed {
                why: Error::Refused { .. }
            }]
        ));
        assert!(!s.is_closed());
        let card_error = Packet::new(cmd::ERROR_ANSWER, vec![22, 0]).encode();
        s.set_brightness(60);
        let events = s.receive(&card_error, 6);
        assert_eq!(
            events,
            [Event::Failed {
                why: Error::Card { code: 22 }
            }]
        );
        assert!(!s.is_closed());
    }

    #[test]
    fn garbage_and_oversized_packets_close_the_session() {
        let mut s = ready();
        s.set_brightness(50);
        let events = s.receive(&answer_xml(b"<sdk guid='g-1'><out"), 5);
        assert!(matches!(
            &events[..],
            [Event::Failed { why: Error::Xml(_) }]
        ));
        assert!(s.is_closed() && s.transmit().is_none());

        let mut s = ready();
        let events = s.receive(&[0xff, 0xff, 0x04, 0x20], 5);
        assert!(matches!(
            &events[..],
            [Event::Failed {
                why: Error::Oversized { .. }
            }]
        ));
        assert!(s.is_closed());
        assert!(s.receive(&[4, 0, 0x60, 0], 6).is_empty());
    }

    #[test]
    fn a_handshake_refusal_closes_the_session() {
        let mut s = Session::new(0);
        let _ = s.transmit();
        let events = s.receive(&Packet::new(cmd::ERROR_ANSWER, vec![3, 0]).encode(), 1);
        assert_eq!(
            events,
            [Event::Failed {
                why: Error::Card { code: 3 }
            }]
        );
        assert!(s.is_closed());
    }

    #[test]
    fn a_newer_frame_replaces_a_queued_one() {
        let mut s = ready();
        s.set_brightness(50); // busy: shows queue behind it
        let pic = |stamp| Picture {
            width: 64,
            height: 32,
            png: vec![stamp as u8; 10],
            stamp,
        };
        s.show(pic(1)).unwrap();
        s.show(pic(2)).unwrap();
        assert_eq!(s.queue.len(), 1);
        assert!(matches!(&s.queue[0], Op::Show(p) if p.stamp == 2));
    }
}
