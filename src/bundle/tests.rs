use super::*;
use ed25519_dalek::{Signer, SigningKey};

const T0: u64 = 1_767_225_600_000;

fn meta(panel: &str, span_ms: u64) -> Head {
    Head {
        panel: panel.into(),
        format: PixelFormat::Mono1,
        width: 16,
        height: 4,
        issued_at: T0,
        expires_at: T0 + span_ms,
    }
}

const RAW: Accepts = Accepts {
    rle: false,
    deflate: false,
    delta: false,
    bundle: false,
};

/// Two 16x4 pages: an outline and a filled block.
fn pages() -> [Vec<u8>; 2] {
    [
        vec![0xff, 0xff, 0x80, 0x01, 0x80, 0x01, 0xff, 0xff],
        vec![0xff; 8],
    ]
}

/// A and B alternating every `dwell` ms over `[from, to)` (the last cut).
fn rotation<'a>(p: &'a [Vec<u8>; 2], from: u64, to: u64, dwell: u64) -> Vec<Slot<'a>> {
    let mut out = Vec::new();
    let mut t = from;
    let mut i = 0;
    while t < to {
        let d = &p[i % 2];
        out.push(Slot {
            start: t,
            end: (t + dwell).min(to),
            flags: 0,
            pixels: Some((d, frame::crc32(d))),
        });
        t += dwell;
        i += 1;
    }
    out
}

fn signed(b: &Bundle, key: &SigningKey) -> Vec<u8> {
    let mut v = encode(b, true);
    let sig = key.sign(&v);
    v.extend_from_slice(&sig.to_bytes());
    v
}

/// What the bundle shows at `t`, as a CRC (0 for blank).
fn crc_at(b: &Bundle, t: u64) -> u32 {
    let p = b.at(t).expect("inside the bundle");
    p.page.map_or(0, |i| b.pages[i as usize].crc)
}

#[test]
fn an_hour_of_rotation_is_one_segment_of_two_pages() {
    let p = pages();
    let slots = rotation(&p, T0, T0 + 3_600_000, 10_000);
    assert_eq!(slots.len(), 360);
    let b = build(meta("p1", 3_600_000), RAW, &slots, &[(T0, 200)]);
    assert_eq!(b.pages.len(), 2, "each page stored once");
    assert_eq!(b.segments.len(), 1, "{:?}", b.segments);
    assert_eq!(b.segments[0].steps.len(), 2);
    assert_eq!(
        encode(&b, false).len(),
        32 + 2 + 8 + 2 * (12 + 8) + 12 + 2 * 6 + 5
    );
    for s in &slots {
        let crc = s.pixels.unwrap().1;
        assert_eq!(crc_at(&b, s.start), crc, "at {}", s.start - T0);
        assert_eq!(crc_at(&b, s.end - 1), crc);
        assert_eq!(b.at(s.start).unwrap().next, s.end);
    }
    assert_eq!(b.at(T0).unwrap().brightness, 200);
    assert_eq!(b.at(T0 + 3_600_000), None, "ended");
    assert_eq!(b.at(T0 - 1), None, "not yet");
}

/// Windows, gaps, a cut dwell at both ends, an alert and brightness
/// switches: every instant of the timeline reads back as it went in.
#[test]
fn every_instant_of_a_mixed_timeline_reads_back() {
    let p = pages();
    let alert = vec![0x0f; 8];
    // The bundle starts mid-page: A for 4 s, then B, A, ... every 10 s,
    // the last dwell cut by the window's end.
    let mut slots = vec![Slot {
        start: T0,
        end: T0 + 4_000,
        flags: 0,
        pixels: Some((&p[0], frame::crc32(&p[0]))),
    }];
    let swapped = [p[1].clone(), p[0].clone()];
    slots.extend(rotation(&swapped, T0 + 4_000, T0 + 95_000, 10_000));
    // A gap (blank), then an alert, then the rotation again from B.
    slots.push(Slot {
        start: T0 + 95_000,
        end: T0 + 100_000,
        flags: frame::FLAG_BLANK,
        pixels: None,
    });
    slots.push(Slot {
        start: T0 + 100_000,
        end: T0 + 108_500,
        flags: frame::FLAG_EMERGENCY,
        pixels: Some((&alert, frame::crc32(&alert))),
    });
    let later = rotation(&p, T0 + 108_500, T0 + 200_000, 7_000);
    slots.extend(later);
    let switches = [(T0, 80), (T0 + 50_000, 255), (T0 + 150_000, 80)];
    let b = build(meta("p1", 200_000), RAW, &slots, &switches);
    assert_eq!(b.pages.len(), 3);
    assert!(b.segments.len() <= 6, "{:#?}", b.segments);
    let bytes = encode(&b, false);
    let back = decode(&bytes).unwrap().bundle;
    assert_eq!(back, b);
    for t in (T0..T0 + 200_000).step_by(250) {
        let want = slots
            .iter()
            .find(|s| s.start <= t && t < s.end)
            .map(|s| (s.pixels.map_or(0, |p| p.1), s.flags & frame::FLAG_EMERGENCY));
        let got = back.at(t).unwrap();
        let crc = got.page.map_or(0, |i| back.pages[i as usize].crc);
        assert_eq!(Some((crc, got.flags)), want, "at +{} ms", t - T0);
        let level = if (50_000..150_000).contains(&(t - T0)) {
            255
        } else {
            80
        };
        assert_eq!(got.brightness, level);
        assert!(got.next > t);
    }
}

#[test]
fn pages_are_coded_only_for_a_controller_that_accepts_it_and_decode_back() {
    let p = [vec![0u8; 512], vec![0xffu8; 512]];
    let slots: Vec<Slot<'_>> = (0..4u64)
        .map(|i| {
            let d = &p[(i % 2) as usize];
            Slot {
                start: T0 + i * 1000,
                end: T0 + (i + 1) * 1000,
                flags: 0,
                pixels: Some((d, frame::crc32(d))),
            }
        })
        .collect();
    let mut m = meta("p1", 4000);
    (m.width, m.height) = (128, 32);
    let raw = build(m.clone(), RAW, &slots, &[]);
    assert!(raw.pages.iter().all(|p| p.encoding == ENC_RAW));
    let all = Accepts::from_names(["btz1-rle", "btz1-deflate"]);
    let coded = build(m, all, &slots, &[]);
    assert!(coded
        .pages
        .iter()
        .all(|p| p.encoding != ENC_RAW && p.data.len() < 20));
    let mut d = codec::Decoder::default();
    let mut out = Vec::new();
    for (i, want) in p.iter().enumerate() {
        coded.pixels(i as u16, &mut d, &mut out).unwrap();
        assert_eq!(&out, want);
    }
    let mut bad = coded.clone();
    bad.pages[0].crc ^= 1;
    assert!(matches!(
        bad.pixels(0, &mut d, &mut out),
        Err(CodecError::Crc { .. })
    ));
}

#[test]
fn forged_foreign_and_expired_bundles_are_refused() {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let other = SigningKey::from_bytes(&[8u8; 32]);
    let p = pages();
    let b = build(
        meta("p1", 60_000),
        RAW,
        &rotation(&p, T0, T0 + 60_000, 5_000),
        &[],
    );
    let good = signed(&b, &key);
    let vk = key.verifying_key();
    let now = T0 + 1;
    assert_eq!(
        accept(&good, Some(&vk), "p1", Some((16, 4)), now),
        Ok(b.clone())
    );
    // Any flipped byte of the signed part: refused.
    for i in [0, 5, 12, 20, 40, good.len() - 70, good.len() - 1] {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        assert!(
            accept(&bad, Some(&vk), "p1", None, now).is_err(),
            "byte {i}"
        );
    }
    let mut forged = good.clone();
    let n = forged.len();
    forged[n - 64..].copy_from_slice(&other.sign(&good[..n - 64]).to_bytes());
    assert_eq!(
        accept(&forged, Some(&vk), "p1", None, now),
        Err(Refusal::Signature)
    );
    assert_eq!(
        accept(&encode(&b, false), Some(&vk), "p1", None, now),
        Err(Refusal::Signature),
        "unsigned, with a key"
    );
    assert!(accept(&encode(&b, false), None, "p1", None, now).is_ok());
    let foreign = signed(&build(meta("p2", 60_000), RAW, &[], &[]), &key);
    assert_eq!(
        accept(&foreign, Some(&vk), "p1", None, now),
        Err(Refusal::Panel("p2".into()))
    );
    assert_eq!(
        accept(&good, Some(&vk), "p1", None, T0 + 60_000),
        Err(Refusal::Expired(T0 + 60_000))
    );
    assert_eq!(
        accept(&good, Some(&vk), "p1", Some((32, 16)), now),
        Err(Refusal::Size(16, 4))
    );
}

#[test]
fn decode_never_panics_and_rejects_every_prefix() {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let p = pages();
    let b = build(
        meta("p1", 60_000),
        RAW,
        &rotation(&p, T0, T0 + 60_000, 5_000),
        &[(T0, 9)],
    );
    let good = signed(&b, &key);
    for n in 0..good.len() {
        assert!(decode(&good[..n]).is_err(), "prefix {n}");
    }
    let mut x: u32 = 99;
    for i in 0..good.len() {
        for _ in 0..8 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let mut v = good.clone();
            v[i] = x as u8;
            if let Ok(p) = decode(&v) {
                for t in (T0..T0 + 60_000).step_by(999) {
                    let _ = p.bundle.at(t);
                }
            }
        }
    }
}

/// The example in docs/protocol.md ("Offline bundles") is this code's output.
#[test]
fn protocol_doc_bundle_example_is_real() {
    let p = pages();
    let slots = rotation(&p, T0, T0 + 60_000, 5_000);
    let b = build(meta("p1", 60_000), RAW, &slots, &[(T0, 200)]);
    let bytes = encode(&b, false);
    let doc = include_str!("../../docs/protocol.md");
    let section = doc
        .split("### Bundle example")
        .nth(1)
        .expect("the example section");
    let dump = section
        .split("```")
        .nth(1)
        .expect("a fenced dump")
        .trim_start_matches('\n');
    assert_eq!(dump, frame::hex_dump(&bytes));
    assert_eq!(decode(&bytes).unwrap().bundle, b);
}
