//! Rendering and frame encoding per panel profile: the corpus of 300
//! Vietnamese messages, a photo, BTF1 encoding. Compare with
//! `tools/baseline/compare.sh` (Pillow on the same corpus).

use std::hint::black_box;

use bangtin::domain::{PixelFormat, Profile, Style};
use bangtin::frame::{self, Header};
use bangtin::render::{decode_image, Content, Picture, Renderer};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const PROFILES: [(&str, u16, u16, PixelFormat); 3] = [
    ("mono1-128x32", 128, 32, PixelFormat::Mono1),
    ("rgb565-192x96", 192, 96, PixelFormat::Rgb565),
    ("rgb888-384x192", 384, 192, PixelFormat::Rgb888),
];

const PHOTO: &str =
    "content/assets/1670e596e599b6119e66ba944f2211431117f9a34600c7f09271f579f9be3714.png";

fn corpus() -> Vec<String> {
    include_str!("corpus/messages-vi.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn profile(w: u16, h: u16, f: PixelFormat) -> Profile {
    Profile::new(w, h, f).expect("valid profile")
}

/// The whole corpus per iteration, with one long-lived renderer (its glyph
/// cache warm, as in the server). Throughput is in messages.
fn text(c: &mut Criterion) {
    let lines = corpus();
    let renderer = Renderer::new();
    let style = Style::default();
    let mut g = c.benchmark_group("text");
    g.sample_size(20);
    g.throughput(Throughput::Elements(lines.len() as u64));
    for (name, w, h, f) in PROFILES {
        let p = profile(w, h, f);
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut bytes = 0;
                for l in &lines {
                    let r = renderer.render(
                        &Content {
                            text: l,
                            image: None,
                            style: &style,
                        },
                        &p,
                    );
                    for page in &r.pages {
                        bytes += page.data().len();
                    }
                }
                black_box(bytes)
            })
        });
    }
    g.finish();
}

/// Photo → frame data (decode excluded): Lanczos fit in linear light,
/// letterbox, dither / pack.
fn image(c: &mut Criterion) {
    let bytes = std::fs::read(PHOTO).expect("sample photo");
    let decoded = decode_image(&bytes).expect("decodes").image;
    let img = Picture::new(&decoded);
    let renderer = Renderer::new();
    let style = Style::default();
    let mut g = c.benchmark_group("image");
    g.sample_size(30);
    g.throughput(Throughput::Elements(1));
    for (name, w, h, f) in PROFILES {
        let p = profile(w, h, f);
        g.bench_function(name, |b| {
            b.iter(|| {
                let r = renderer.render(
                    &Content {
                        text: "",
                        image: Some(&img),
                        style: &style,
                    },
                    &p,
                );
                black_box(r.pages[0].data().len());
                black_box(r)
            })
        });
    }
    // Once per asset in the server (decode is separate and excluded).
    g.bench_function("prepare (once per asset)", |b| {
        b.iter(|| black_box(Picture::new(&decoded)))
    });
    g.finish();
}

/// BTF1: CRC + header + copy (what the player does per panel, the CRC
/// being cached per page), and the CRC alone.
fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame");
    for (name, w, h, f) in PROFILES {
        let len = frame::raw_data_len(f, w, h).expect("raw format");
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let crc = frame::crc32(&data);
        let header = Header {
            format: f,
            brightness: 200,
            width: w,
            height: h,
            flags: 0,
            seq: 7,
            valid_until: 1_800_000_000,
        };
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function(format!("encode-cached-crc/{name}"), |b| {
            b.iter(|| black_box(frame::encode_with_crc(&header, &data, crc)))
        });
        g.bench_function(format!("crc32/{name}"), |b| {
            b.iter(|| black_box(frame::crc32(&data)))
        });
        g.bench_function(format!("decode/{name}"), |b| {
            let bytes = frame::encode(&header, &data);
            b.iter(|| black_box(frame::decode(&bytes).map(|f| f.header.seq).ok()))
        });
    }
    g.finish();
}

criterion_group!(benches, text, image, encode);
criterion_main!(benches);
