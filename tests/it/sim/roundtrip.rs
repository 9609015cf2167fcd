//! bangtin's vendor codecs against the simulated cards, over real loopback
//! TCP: a rendered Vietnamese message arrives on the glass pixel-exact.

use std::time::Duration;

use bangtin::colorlight;
use bangtin::domain::{Color, PixelFormat, Profile, Style};
use bangtin::frame::{self, Header};
use bangtin::huidu::packet::{self, cmd, Packet};
use bangtin::huidu::realtime::{self, ColorType};
use bangtin::huidu::session::{Event, Picture, Session};
use bangtin::huidu::transfer::{FileAnswer, FileStart};
use bangtin::huidu::{self, Error};
use bangtin::render::{Content, Renderer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::colorlight_rx::Receiver;
use super::hd2020_card::{Hd2020Card, Leds};
use super::huidu_card::{Card, CardConfig};

const MESSAGE: &str = "Thông báo: Cắt điện khu phố 3 từ 7 giờ đến 11 giờ sáng Chủ nhật";

/// A BTF1 frame as the player would publish it for `profile`.
fn btf1(profile: &Profile, seq: u32) -> Vec<u8> {
    let style = Style::default();
    let rendered = Renderer::new().render(
        &Content {
            text: MESSAGE,
            image: None,
            style: &style,
        },
        profile,
    );
    let page = &rendered.pages[0];
    let header = Header {
        format: profile.format,
        brightness: 200,
        width: profile.width,
        height: profile.height,
        flags: 0,
        seq,
        valid_until: 0,
    };
    frame::encode(&header, &page.data())
}

fn profile(w: u16, h: u16, format: PixelFormat) -> Profile {
    Profile::new(w, h, format).unwrap()
}

fn picture(bytes: &[u8], led: Color) -> (Picture, Vec<u8>) {
    let f = frame::decode(bytes).unwrap();
    let glass = huidu::glass(&f, led).unwrap();
    let pic = Picture {
        width: glass.width(),
        height: glass.height(),
        png: huidu::png_for_frame(&f, led).unwrap(),
        stamp: u64::from(f.header.seq),
    };
    (pic, glass.into_raw())
}

/// A test-only driver: pumps a sans-IO session over a socket until an
/// event matches, failing on `Failed` (unless asked for) or after 20 s.
struct Driver {
    stream: TcpStream,
    session: Session,
    start: Instant,
}

impl Driver {
    fn new(stream: TcpStream) -> Driver {
        Driver {
            stream,
            session: Session::new(0),
            start: Instant::now(),
        }
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    async fn until(&mut self, want: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            while let Some(out) = self.session.transmit() {
                self.stream.write_all(&out).await.unwrap();
            }
            let wake = self.start + Duration::from_millis(self.session.wake_at());
            let events = tokio::select! {
                r = self.stream.read(&mut buf) => match r {
                    Ok(0) | Err(_) => self.session.close(),
                    Ok(n) => { let now = self.now(); self.session.receive(&buf[..n], now) }
                },
                _ = tokio::time::sleep_until(wake) => { let now = self.now(); self.session.tick(now) }
                _ = tokio::time::sleep_until(deadline) => panic!("no matching event within 20 s"),
            };
            for e in events {
                if want(&e) {
                    return e;
                }
                if let Event::Failed { why } = &e {
                    panic!("session failed: {why}");
                }
            }
        }
    }

    async fn ready(&mut self) -> (String, u32, u32) {
        match self.until(|e| matches!(e, Event::Ready { .. })).await {
            Event::Ready {
                device_id,
                width,
                height,
                ..
            } => (device_id, width, height),
            _ => unreachable!(),
        }
    }
}

#[tokio::test]
async fn bangtin_dials_a_colour_card_and_the_frame_shows_pixel_exact() {
    let card = Card::new(CardConfig {
        reply_chunk: 64, // every answer comes in several fragments
        ..CardConfig::new("C16-24-A0001", 192, 96)
    });
    let addr = card.listen().await;
    let mut d = Driver::new(TcpStream::connect(addr).await.unwrap());
    assert_eq!(d.ready().await, ("C16-24-A0001".into(), 192, 96));

    let bytes = btf1(&profile(192, 96, PixelFormat::Rgb888), 7);
    let (pic, expected) = picture(&bytes, Color::LED_RED);
    // For rgb888 the glass is the frame's data itself.
    assert_eq!(expected, frame::decode(&bytes).unwrap().data);
    d.session.show(pic).unwrap();
    let shown = d.until(|e| matches!(e, Event::Shown { .. })).await;
    let on_card = card
        .with(|s| s.shown.clone())
        .expect("card shows a picture");
    assert_eq!((on_card.width, on_card.height), (192, 96));
    assert!(on_card.rgb == expected, "the card shows other pixels");
    let Event::Shown { md5 } = shown else {
        unreachable!()
    };
    assert!(on_card.file.contains(&md5[..16]));

    d.session
        .set_brightness(huidu::sdk::brightness_percent(200));
    d.until(|e| {
        *e == Event::Applied {
            method: "SetLuminancePloy",
        }
    })
    .await;
    let noon = chrono::NaiveDate::from_ymd_opt(2026, 5, 1)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap();
    d.session.sync_time(noon, huidu::sdk::TIMEZONE_VIETNAM);
    d.until(|e| {
        *e == Event::Applied {
            method: "SetTimeInfo",
        }
    })
    .await;
    card.with(|s| {
        assert_eq!(s.brightness, Some(78));
        assert_eq!(s.clock.as_ref().unwrap().0, "2026-05-01 12:00:00");
        let file = format!("bangtin-{}.png", &md5[..16]);
        let expected = [
            "version".to_string(),
            "GetIFVersion".into(),
            "GetDeviceInfo".into(),
            format!("file-start {file}"),
            format!("file-end {file} 0"),
            "AddProgram".into(),
        ];
        assert_eq!(s.log[..6], expected);
    });
}

#[tokio::test]
async fn a_card_behind_nat_dials_in_and_shows_a_mono_frame_in_its_led_colour() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let card = Card::new(CardConfig::new("C16-24-B0002", 128, 32));
    card.dial(listener.local_addr().unwrap()).await;
    let (stream, _) = listener.accept().await.unwrap();
    let mut d = Driver::new(stream);
    assert_eq!(d.ready().await.0, "C16-24-B0002");

    let bytes = btf1(&profile(128, 32, PixelFormat::Mono1), 1);
    let (pic, expected) = picture(&bytes, Color::LED_RED);
    d.session.show(pic).unwrap();
    d.until(|e| matches!(e, Event::Shown { .. })).await;
    let shown = card.with(|s| s.shown.clone()).unwrap();
    assert!(shown.rgb == expected);
    // Lit pixels are the panel's red, the rest black, and the message
    // lights a fair share of them.
    let lit = shown
        .rgb
        .chunks(3)
        .filter(|p| *p == [0xff, 0x20, 0x00])
        .count();
    assert!(shown
        .rgb
        .chunks(3)
        .all(|p| p == [0xff, 0x20, 0x00] || p == [0, 0, 0]));
    assert!(lit > 300, "only {lit} lit pixels");
}

#[tokio::test]
async fn an_upload_cut_by_a_dropped_link_resumes_where_it_stopped() {
    let card = Card::new(CardConfig::new("C16-24-C0003", 192, 96));
    card.with(|s| s.cut_upload_after = Some(packet::CHUNK));
    let addr = card.listen().await;
    // A busy colour picture: its PNG is larger than one chunk.
    let mut rgb = Vec::new();
    for i in 0..192u32 * 96 {
        rgb.extend_from_slice(&[(i * 7) as u8, ((i * 13) >> 3) as u8, ((i * 31) >> 5) as u8]);
    }
    let header = Header {
        format: PixelFormat::Rgb888,
        brightness: 255,
        width: 192,
        height: 96,
        flags: 0,
        seq: 3,
        valid_until: 0,
    };
    let bytes = frame::encode(&header, &rgb);
    let (pic, expected) = picture(&bytes, Color::LED_RED);
    assert!(
        pic.png.len() > 2 * packet::CHUNK,
        "PNG of {} bytes",
        pic.png.len()
    );

    let mut d = Driver::new(TcpStream::connect(addr).await.unwrap());
    d.ready().await;
    d.session.show(pic.clone()).unwrap();
    let failed = d.until(|e| matches!(e, Event::Failed { .. })).await;
    assert_eq!(failed, Event::Failed { why: Error::Closed });
    assert!(d.session.is_closed());

    let mut d = Driver::new(TcpStream::connect(addr).await.unwrap());
    d.ready().await;
    d.session.show(pic).unwrap();
    d.until(|e| matches!(e, Event::Shown { .. })).await;
    card.with(|s| {
        assert_eq!(s.resumed_from, [packet::CHUNK as u64]);
        assert!(s.shown.as_ref().unwrap().rgb == expected);
    });
}

#[tokio::test]
async fn a_frame_of_the_wrong_size_is_refused_before_anything_is_sent() {
    let card = Card::new(CardConfig::new("C16-24-D0004", 192, 96));
    let addr = card.listen().await;
    let mut d = Driver::new(TcpStream::connect(addr).await.unwrap());
    d.ready().await;
    let (pic, _) = picture(
        &btf1(&profile(128, 32, PixelFormat::Mono1), 1),
        Color::LED_RED,
    );
    assert!(matches!(
        d.session.show(pic.clone()),
        Err(Error::SizeMismatch {
            card_width: 192,
            card_height: 96,
            ..
        })
    ));
    assert!(d.session.is_idle() && d.session.transmit().is_none());
    assert!(!d.session.is_closed());

    // Queued before the card said its size: refused once it does.
    let mut d = Driver::new(TcpStream::connect(addr).await.unwrap());
    d.session.show(pic).unwrap();
    let e = d.until(|e| matches!(e, Event::Failed { .. })).await;
    assert!(
        matches!(
            e,
            Event::Failed {
                why: Error::SizeMismatch { .. }
            }
        ),
        "{e:?}"
    );
    assert!(d.session.device().is_some() && !d.session.is_closed());
    assert!(card.with(|s| s.files.is_empty()));
}

/// Raw packets: what the simulated card refuses, read with bangtin's codec.
async fn exchange(
    stream: &mut TcpStream,
    out: &[u8],
    decoder: &mut packet::Decoder,
) -> Option<Packet> {
    stream.write_all(out).await.unwrap();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(p) = decoder.next_packet().unwrap() {
            return Some(p);
        }
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return None,
            Ok(Ok(n)) => decoder.push(&buf[..n]),
            Err(_) => panic!("card silent"),
        }
    }
}

#[tokio::test]
async fn the_card_refuses_garbage_xml_wrong_md5_and_oversized_packets() {
    let card = Card::new(CardConfig::new("C16-24-E0005", 64, 32));
    let addr = card.listen().await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut dec = packet::Decoder::new();

    let garbage = packet::fragments(
        cmd::SDK_ASK,
        b"<sdk guid='##GUID'><in method=",
        packet::CHUNK,
    );
    let p = exchange(&mut s, &garbage[0].encode(), &mut dec)
        .await
        .unwrap();
    assert_eq!(packet::error_code(&p), Ok(22)); // kParseXmlFailed
    assert_eq!(huidu::error_name(22), "kParseXmlFailed");

    let start = FileStart {
        md5: "00000000000000000000000000000000".into(),
        size: 3,
        kind: 0,
        name: "x.png".into(),
    };
    let p = exchange(&mut s, &start.encode().encode(), &mut dec)
        .await
        .unwrap();
    assert_eq!(
        FileAnswer::decode_start(&p).unwrap(),
        FileAnswer {
            status: 0,
            exist: 0
        }
    );
    let mut wire = Packet::new(cmd::FILE_CONTENT_ASK, vec![1, 2, 3]).encode();
    wire.extend(Packet::new(cmd::FILE_END_ASK, vec![]).encode());
    let p = exchange(&mut s, &wire, &mut dec).await.unwrap();
    assert_eq!(FileAnswer::decode_end(&p).unwrap().status, 14); // kFileContentError
    assert!(card.with(|s| s.files.is_empty()));

    // 9217 bytes announced: the card drops the link.
    let oversized = [0x01, 0x24, 0x03, 0x20];
    assert_eq!(exchange(&mut s, &oversized, &mut dec).await, None);
    card.wait_until("closed", |s| s.closed_because.is_some())
        .await;
    assert_eq!(
        card.with(|s| s.closed_because.clone()).unwrap(),
        "bad packet length 9217"
    );
}

#[tokio::test]
async fn an_idle_session_sends_heartbeats_and_gives_up_on_a_silent_card() {
    use huidu::session::{HEARTBEAT_MS, SILENCE_MS};
    let card = Card::new(CardConfig::new("C16-24-F0006", 64, 32));
    let addr = card.listen().await;
    let mut d = Driver::new(TcpStream::connect(addr).await.unwrap());
    d.ready().await;
    // Time is the session's argument: step it instead of waiting, from
    // its last exchange (a millisecond or more before the clock is read
    // here on a busy machine).
    let last = d.session.wake_at() - HEARTBEAT_MS.min(SILENCE_MS);
    assert!(
        last <= d.now() && d.now() - last < 5_000,
        "last {last}, now {}",
        d.now()
    );
    let mut now = last;
    for _ in 0..2 {
        now += HEARTBEAT_MS;
        assert_eq!(
            d.session.wake_at(),
            now - HEARTBEAT_MS + HEARTBEAT_MS.min(SILENCE_MS)
        );
        assert!(d.session.tick(now).is_empty());
        let out = d.session.transmit().expect("a heartbeat");
        assert_eq!(out, [0x04, 0x00, 0x5f, 0x00]);
        d.stream.write_all(&out).await.unwrap();
        let mut answer = [0u8; 4];
        d.stream.read_exact(&mut answer).await.unwrap();
        assert_eq!(answer, [0x04, 0x00, 0x60, 0x00]);
        assert!(d.session.receive(&answer, now).is_empty());
    }
    assert_eq!(card.with(|s| s.heartbeats), 2);
    // Then the card falls silent.
    let events = d.session.tick(now + SILENCE_MS);
    assert!(
        matches!(
            &events[..],
            [Event::Failed {
                why: Error::Timeout { .. }
            }]
        ),
        "{events:?}"
    );
    assert!(d.session.is_closed());
}

async fn hd2020_round_trip(leds: Leds, colors: ColorType, led: Color) -> (Vec<u8>, Vec<u8>) {
    let card = Hd2020Card::new(leds);
    let addr = card.listen().await;
    let bytes = btf1(&profile(128, 32, PixelFormat::Mono1), 9);
    let f = frame::decode(&bytes).unwrap();
    let glass = huidu::glass(&f, led).unwrap();
    let packets = realtime::area_packets(&glass, colors, f.header.seq as u16).unwrap();
    let mut send = realtime::AreaSend::new(packets);
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 512];
    while !send.is_done() {
        if let Some(p) = send.transmit() {
            s.write_all(&p).await.unwrap();
        }
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "card closed");
        send.receive(&buf[..n]).unwrap();
    }
    assert_eq!(send.card().unwrap().status, 0);
    let (w, h, rgb) = card.with(|st| st.shown.clone()).expect("shown");
    assert_eq!((w, h), (128, 32));
    (rgb, glass.into_raw())
}

/// `glass` with every lit pixel in `colour`.
fn lit_as(glass: &[u8], colour: [u8; 3]) -> Vec<u8> {
    glass
        .chunks(3)
        .flat_map(|p| if p == [0, 0, 0] { [0, 0, 0] } else { colour })
        .collect()
}

#[tokio::test]
async fn hd2020_single_colour_card_shows_the_mono_frame_in_red() {
    let red = [0xff, 0x20, 0x00];
    let (shown, glass) =
        hd2020_round_trip(Leds::Single(red), ColorType::Single, Color::LED_RED).await;
    assert!(shown == glass, "single-colour card shows other pixels");
}

#[tokio::test]
async fn hd2020_dual_colour_card_shows_an_amber_panel_as_red_and_green() {
    let (shown, glass) = hd2020_round_trip(Leds::Dual, ColorType::Dual, Color::AMBER).await;
    // Amber lights both LEDs of a pixel: yellow on a dual-colour card.
    assert!(shown == lit_as(&glass, [255, 255, 0]));
    assert!(shown.chunks(3).any(|p| p == [255, 255, 0]));

    // A red panel on the same card lights only the red LEDs.
    let (shown, glass) = hd2020_round_trip(Leds::Dual, ColorType::Dual, Color::LED_RED).await;
    assert!(shown == lit_as(&glass, [255, 0, 0]));
}

#[test]
fn colorlight_frames_decode_back_to_the_panel_pixels() {
    let bytes = btf1(&profile(192, 96, PixelFormat::Rgb888), 4);
    let f = frame::decode(&bytes).unwrap();
    let frames = colorlight::encode(
        f.data,
        192,
        96,
        f.header.brightness,
        colorlight::Macs::default(),
    )
    .unwrap();
    assert_eq!(frames.rows.len(), 96);
    let mut rx = Receiver::new(192, 96);
    for row in &frames.rows {
        rx.feed(row);
    }
    assert!(rx.glass.is_none(), "nothing shows before the display frame");
    rx.feed(&frames.display);
    assert_eq!(rx.ignored, 0);
    assert!(rx.glass.as_deref() == Some(f.data));
    assert_eq!(rx.brightness, Some(200));

    // A panel chain wider than 497 pixels: rows split, still exact.
    let wide: Vec<u8> = (0..600 * 2 * 3).map(|i| (i * 7 % 251) as u8).collect();
    let frames = colorlight::encode(&wide, 600, 2, 10, colorlight::Macs::default()).unwrap();
    assert_eq!(frames.rows.len(), 4);
    let mut rx = Receiver::new(600, 2);
    frames
        .rows
        .iter()
        .chain([&frames.display])
        .for_each(|f| rx.feed(f));
    assert!(rx.glass.as_deref() == Some(&wide[..]));
}
