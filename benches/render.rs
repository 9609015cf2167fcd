//! Renderer throughput: text frames per profile over a corpus of ~300
//! varied Vietnamese messages, image fitting per profile, and page data
//! encoding. `cargo bench --bench render -- --quick`

use std::hint::black_box;

use bangtin::domain::{PixelFormat, Profile, Style};
use bangtin::render::{Content, Renderer};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const WORDS: &[&str] = &[
    "thông",
    "báo",
    "người",
    "dân",
    "phường",
    "Hải",
    "Châu",
    "cấm",
    "đỗ",
    "xe",
    "ủy",
    "ban",
    "nhân",
    "dân",
    "quận",
    "cắt",
    "điện",
    "từ",
    "giờ",
    "đến",
    "ngày",
    "tháng",
    "năm",
    "tiêm",
    "chủng",
    "vắc-xin",
    "miễn",
    "phí",
    "trẻ",
    "em",
    "dưới",
    "tuổi",
    "phòng",
    "chống",
    "dịch",
    "sốt",
    "xuất",
    "huyết",
    "diệt",
    "lăng",
    "quăng",
    "bọ",
    "gậy",
    "đội",
    "mũ",
    "bảo",
    "hiểm",
    "khi",
    "tham",
    "gia",
    "giao",
    "thông",
    "nghiêm",
    "cấm",
    "đốt",
    "rác",
    "nơi",
    "công",
    "cộng",
    "trung",
    "tâm",
    "hành",
    "chính",
    "tiếp",
    "nhận",
    "hồ",
    "sơ",
    "trực",
    "tuyến",
    "bão",
    "số",
    "lũ",
    "lụt",
    "sơ",
    "tán",
    "khẩn",
    "cấp",
    "nước",
    "sạch",
    "đường",
    "Nguyễn",
    "Văn",
    "Linh",
    "Bạch",
    "Đằng",
    "Trần",
    "Phú",
    "ĐẶC",
    "BIỆT",
    "CHÚ",
    "Ý",
    "bầu",
    "cử",
    "đại",
    "biểu",
    "Quốc",
    "hội",
    "HĐND",
    "các",
    "cấp",
    "lúc",
    "7:00",
    "15/12/2025",
];

/// ~300 messages of 3 to 60 words, deterministic.
fn corpus() -> Vec<String> {
    let mut x: u32 = 0x1234_5678;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    (0..300)
        .map(|i| {
            let n = if i % 4 == 0 {
                3 + next() % 5
            } else {
                6 + next() % 55
            } as usize;
            let mut s = String::new();
            for k in 0..n {
                if k > 0 {
                    s.push(if next() % 23 == 0 { '\n' } else { ' ' });
                }
                s.push_str(WORDS[next() as usize % WORDS.len()]);
                if next() % 11 == 0 {
                    s.push(if next() % 2 == 0 { ',' } else { '.' });
                }
            }
            s
        })
        .collect()
}

fn profiles() -> Vec<(&'static str, Profile)> {
    vec![
        (
            "mono1-128x32",
            Profile::new(128, 32, PixelFormat::Mono1).unwrap(),
        ),
        (
            "rgb565-192x96",
            Profile::new(192, 96, PixelFormat::Rgb565).unwrap(),
        ),
        (
            "rgb888-384x192",
            Profile::new(384, 192, PixelFormat::Rgb888).unwrap(),
        ),
    ]
}

fn text(c: &mut Criterion) {
    let r = Renderer::new();
    let corpus = corpus();
    let style = Style::default();
    let mut g = c.benchmark_group("text");
    for (name, p) in profiles() {
        // Throughput counts messages; pages per message are printed below.
        let pages: usize = corpus
            .iter()
            .map(|t| {
                r.render(
                    &Content {
                        text: t,
                        image: None,
                        style: &style,
                    },
                    &p,
                )
                .pages
                .len()
            })
            .sum();
        eprintln!("{name}: {} messages -> {pages} pages", corpus.len());
        g.throughput(Throughput::Elements(corpus.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                for t in &corpus {
                    black_box(r.render(
                        &Content {
                            text: t,
                            image: None,
                            style: &style,
                        },
                        &p,
                    ));
                }
            })
        });
    }
    g.finish();
}

fn image_fit(c: &mut Criterion) {
    let r = Renderer::new();
    let img = image::RgbaImage::from_fn(1024, 768, |x, y| {
        image::Rgba([(x / 4) as u8, (y / 3) as u8, ((x + y) / 7) as u8, 255])
    });
    let style = Style::default();
    let mut g = c.benchmark_group("image");
    for (name, p) in profiles() {
        g.bench_function(format!("{name}-1024x768"), |b| {
            b.iter(|| {
                black_box(r.render(
                    &Content {
                        text: "",
                        image: Some(&img),
                        style: &style,
                    },
                    &p,
                ))
            })
        });
    }
    g.finish();
}

fn data(c: &mut Criterion) {
    let r = Renderer::new();
    let style = Style::default();
    let text = "Thông báo: Phường Hải Châu cắt điện từ 7 giờ đến 11 giờ ngày 15/12.";
    let mut g = c.benchmark_group("data");
    let mut ps = profiles();
    ps.push((
        "png-256x128",
        Profile::new(256, 128, PixelFormat::Png).unwrap(),
    ));
    for (name, p) in ps {
        let page = r
            .render(
                &Content {
                    text,
                    image: None,
                    style: &style,
                },
                &p,
            )
            .pages
            .remove(0);
        g.bench_function(name, |b| b.iter(|| black_box(page.data())));
    }
    g.finish();
}

criterion_group!(benches, text, image_fit, data);
criterion_main!(benches);
