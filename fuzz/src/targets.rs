//! Fuzz target bodies, shared by the libFuzzer binaries in
//! `fuzz/fuzz_targets/` and by the integration test that replays
//! `fuzz/corpus/*/*` (`tests/it/hostile.rs`), so CI re-runs every input
//! the fuzzers ever kept.
//!
//! Each function must not panic on any input; where a call succeeds it also
//! checks a property (round trip, sizes, limits) so a wrong answer is a
//! finding too, not only a crash.

use bangtin::domain::{
    AlertBody, Align, Campaign, CampaignBody, Caption, Color, Fit, Id, MessageBody, Panel,
    PixelFormat, Profile, Style,
};
use bangtin::frame;
use bangtin::render::{self, Content, Renderer};
use chrono::{DateTime, TimeZone, Utc};

/// BTF1 decoding, as every controller runs it on bytes from the broker.
pub fn frame_decode(data: &[u8]) {
    let Ok(f) = frame::decode(data) else {
        return;
    };
    // A decoded frame re-encodes to exactly the input.
    let h = f.header;
    let mut again = frame::encode(&h, f.data);
    if let Some(sig) = f.signature {
        again.extend_from_slice(sig);
    }
    assert_eq!(again, data, "decode/encode round trip");
    assert_eq!(f.signed_part(data).len(), frame::HEADER_LEN + f.data.len());
    assert_eq!(f.signature.is_some(), h.flags & frame::FLAG_SIGNED != 0);
    // The reference controller turns it into pixels: must not panic either.
    if let Some(img) = bangtin::mqtt::controller::pixels(&f) {
        assert_eq!(img.dimensions(), (u32::from(h.width), u32::from(h.height)));
    }
}

/// Image uploads with the production limits, then the production fit and
/// dither onto a small panel (what a preview or a frame does with it).
pub fn image_decode(data: &[u8]) {
    let Ok(d) = render::decode_image(data) else {
        return;
    };
    assert!(d.width >= 1 && d.height >= 1);
    assert!(d.width <= 8192 && d.height <= 8192, "limits enforced");
    assert_eq!(d.image.dimensions(), (d.width, d.height));
    // Rendering a huge (but allowed) picture is slow and says nothing new
    // about the decoder; keep the fuzzer fast.
    if u64::from(d.width) * u64::from(d.height) > 1 << 20 {
        return;
    }
    let renderer = renderer();
    let picture = render::Picture::new(&d.image);
    let style = Style {
        fit: Some(match data.len() % 3 {
            0 => Fit::Contain,
            1 => Fit::Cover,
            _ => Fit::Stretch,
        }),
        ..Style::default()
    };
    for (w, h, f) in [(32, 16, PixelFormat::Mono1), (24, 12, PixelFormat::Rgb565)] {
        let profile = Profile::new(w, h, f).expect("valid profile");
        let r = renderer.render(
            &Content {
                text: if data.len().is_multiple_of(2) {
                    ""
                } else {
                    "Ảnh"
                },
                image: Some(&picture),
                style: &style,
            },
            &profile,
        );
        check_pages(&r, &profile);
    }
}

/// Campaign, panel, message and alert JSON as the API and the data files
/// take it, with cron, dates and time zones compiled and evaluated.
///
/// The first byte picks a mode: raw JSON of one of the types, or (mode 4)
/// the rest of the input as a cron expression inside a valid campaign, and
/// (mode 5) as a time zone name, so the cron parser is fuzzed directly.
pub fn domain_json(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 6 {
        0 => {
            if let Ok(b) = serde_json::from_slice::<CampaignBody>(rest) {
                campaign(b);
            }
        }
        1 => {
            if let Ok(p) = serde_json::from_slice::<Panel>(rest) {
                if p.validate().is_ok() {
                    let pr = p.profile();
                    assert!((8..=1024).contains(&pr.width) && (8..=1024).contains(&pr.height));
                    // Stored as pretty JSON and read back: the same panel.
                    let back: Panel =
                        serde_json::from_slice(&serde_json::to_vec_pretty(&p).unwrap()).unwrap();
                    assert_eq!(back, p);
                }
            }
        }
        2 => {
            if let Ok(m) = serde_json::from_slice::<MessageBody>(rest) {
                if m.validate().is_ok() {
                    assert!(m.text.as_deref().unwrap_or("").chars().count() <= 4000);
                    let back: MessageBody =
                        serde_json::from_slice(&serde_json::to_vec(&m).unwrap()).unwrap();
                    assert_eq!(back, m);
                }
            }
        }
        3 => {
            if let Ok(a) = serde_json::from_slice::<AlertBody>(rest) {
                let back: AlertBody =
                    serde_json::from_slice(&serde_json::to_vec(&a).unwrap()).unwrap();
                assert_eq!(back, a);
            }
        }
        4 => {
            let expr = String::from_utf8_lossy(rest);
            let _ = bangtin::schedule::explain(&expr, "Asia/Ho_Chi_Minh", instants()[2], 5);
            let body = CampaignBody {
                name: "fuzz".into(),
                messages: vec![bangtin::domain::PlaylistItem {
                    id: Id::parse("m").unwrap(),
                    dwell_s: 10,
                }],
                targets: vec![bangtin::domain::Target::All],
                cron: Some(expr.into_owned()),
                duration_s: Some(1 + u32::from(mode) * 97),
                start: None,
                end: None,
                priority: 1,
                tz: None,
            };
            campaign(body);
        }
        _ => {
            let tz = String::from_utf8_lossy(rest);
            let _ = bangtin::schedule::parse_tz(&tz);
            let _ = bangtin::schedule::explain("0 7 * * 1-5", &tz, instants()[2], 3);
        }
    }
}

/// Instants a server can be asked about: the clock, and RFC 3339 times in
/// the API (years 0000–9999). chrono's own extremes (±262,143 years) are
/// out: local time there overflows `NaiveDateTime`, which no request and
/// no clock can reach.
fn instants() -> [DateTime<Utc>; 6] {
    [
        Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 27, 8, 30, 0).unwrap(),
        Utc.with_ymd_and_hms(2038, 1, 19, 3, 14, 8).unwrap(),
        Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
    ]
}

fn campaign(body: CampaignBody) {
    let c = Campaign {
        id: Id::parse("fuzz").unwrap(),
        body,
        updated_by: None,
        updated_at: None,
    };
    let Ok(cc) = bangtin::schedule::compile(&c) else {
        return;
    };
    for now in instants() {
        if let Some((open, close)) = cc.window_at(now) {
            assert!(open <= now && now < close, "window contains now");
        }
        if let Some(next) = cc.next_boundary_after(now) {
            assert!(next > now, "next boundary after now");
        }
    }
}

fn renderer() -> &'static Renderer {
    static R: std::sync::OnceLock<Renderer> = std::sync::OnceLock::new();
    R.get_or_init(Renderer::new)
}

fn check_pages(r: &render::Rendered, profile: &Profile) {
    assert!(!r.pages.is_empty(), "at least one page");
    for p in &r.pages {
        let data = p.data();
        if let Some(n) = frame::raw_data_len(profile.format, profile.width, profile.height) {
            assert_eq!(data.len(), n, "page data is exactly the panel's size");
        }
        let img = p.preview();
        assert_eq!(
            img.dimensions(),
            (u32::from(profile.width), u32::from(profile.height))
        );
    }
}

/// Text layout with arbitrary Unicode. Byte 0 picks the panel profile and
/// style; byte 1 a repeat count, so short inputs can grow into very long
/// words (up to 10,000 characters, past the API's 4,000-character cap: the
/// renderer must hold anyway).
pub fn render_text(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let (knobs, rest) = data.split_at(2);
    let profiles = [
        (128, 32, PixelFormat::Mono1),
        (64, 16, PixelFormat::Mono1),
        (8, 8, PixelFormat::Mono1),
        (192, 64, PixelFormat::Rgb565),
        (96, 48, PixelFormat::Rgb888),
        (33, 9, PixelFormat::Png),
    ];
    let (w, h, f) = profiles[usize::from(knobs[0]) % profiles.len()];
    let profile = Profile::new(w, h, f).expect("valid profile");
    let style = Style {
        color: (knobs[0] & 0x10 != 0).then_some(Color([255, 224, 102])),
        background: (knobs[0] & 0x20 != 0).then_some(Color([0, 0, 40])),
        align: Some(match knobs[0] >> 6 {
            0 => Align::Left,
            1 => Align::Center,
            _ => Align::Right,
        }),
        fit: None,
        caption: Some(Caption::Below),
    };
    let piece = String::from_utf8_lossy(rest);
    let repeat = usize::from(knobs[1] % 32).max(1);
    let mut text = piece.repeat(repeat);
    if text.chars().count() > 10_000 {
        text = text.chars().take(10_000).collect();
    }
    let r = renderer().render(
        &Content {
            text: &text,
            image: None,
            style: &style,
        },
        &profile,
    );
    check_pages(&r, &profile);
}
