//! Renderer tests over whole messages, and golden images.
//!
//! Golden images live in `tests/golden/<profile>-<text>-p<page>.png` and are
//! compared byte for byte with [`png_bytes`] of each page's preview. A
//! missing golden is written and the test fails, asking a person to look
//! at it and commit it; `BANGTIN_BLESS=1` rewrites goldens that differ.

use std::path::PathBuf;

use unicode_normalization::UnicodeNormalization;

use super::text::{self, Mask, Prepared, Rect, Size};
use super::*;
use crate::domain::{Align, Fit};
use crate::frame::raw_data_len;

fn profile(w: u16, h: u16, f: PixelFormat) -> Profile {
    Profile::new(w, h, f).unwrap()
}

fn profiles() -> Vec<(&'static str, Profile)> {
    vec![
        ("mono1-128x32", profile(128, 32, PixelFormat::Mono1)),
        ("mono1-192x64", profile(192, 64, PixelFormat::Mono1)),
        ("rgb565-192x96", profile(192, 96, PixelFormat::Rgb565)),
        ("rgb888-384x192", profile(384, 192, PixelFormat::Rgb888)),
        ("png-256x128", profile(256, 128, PixelFormat::Png)),
    ]
}

const SHORT: &str = "Cấm đỗ xe";
const POLICY: &str = "Thực hiện Nghị định 100/2019/NĐ-CP, người điều khiển xe mô tô, xe gắn máy không đội mũ bảo hiểm khi tham gia giao thông sẽ bị phạt tiền từ 400.000 đồng đến 600.000 đồng. Đề nghị người dân chấp hành nghiêm quy định về trật tự, an toàn giao thông.\nUBND phường Hải Châu";
const CAPS: &str = "TRUNG TÂM HÀNH CHÍNH CÔNG — ẪẶỄỢ";
const MIXED: &str = "Thông báo: Phường Hải Châu cắt điện từ 7 giờ đến 11 giờ ngày 15/12.";

/// Every vowel with its six tones, upper and lower case, then đ Đ.
fn all_tones() -> String {
    let mut words = Vec::new();
    for base in font::VOWELS.chars() {
        let w: String = font::TONES
            .iter()
            .flat_map(|t| [base].into_iter().chain(*t))
            .nfc()
            .collect();
        words.push(w);
    }
    words.push("đĐ".into());
    words.join(" ")
}

/// MIXED with its first half in NFD and the rest NFC.
fn mixed_nfd() -> String {
    let cut = MIXED
        .char_indices()
        .nth(MIXED.chars().count() / 2)
        .unwrap()
        .0;
    MIXED[..cut].nfd().chain(MIXED[cut..].chars()).collect()
}

fn render(r: &Renderer, text: &str, p: &Profile) -> Rendered {
    r.render(
        &Content {
            text,
            image: None,
            style: &Style::default(),
        },
        p,
    )
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Compares `img` with its golden; returns a complaint instead of failing
/// at once so one run writes every missing golden.
fn check_golden(name: &str, img: &RgbImage) -> Option<String> {
    let path = golden_dir().join(format!("{name}.png"));
    let actual = png_bytes(img);
    let bless = std::env::var_os("BANGTIN_BLESS").is_some();
    match std::fs::read(&path) {
        Ok(expected) if expected == actual => None,
        Ok(_) if !bless => {
            let out = std::env::temp_dir().join(format!("{name}.actual.png"));
            std::fs::write(&out, &actual).unwrap();
            Some(format!(
                "{name}: differs from {} (actual written to {}; BANGTIN_BLESS=1 to accept)",
                path.display(),
                out.display()
            ))
        }
        _ => {
            std::fs::create_dir_all(golden_dir()).unwrap();
            std::fs::write(&path, &actual).unwrap();
            Some(format!(
                "{name}: golden written to {}: look at it and commit it",
                path.display()
            ))
        }
    }
}

/// A synthetic photo: sky gradient, sun, ground, with a soft alpha edge.
fn test_image() -> Picture {
    Picture::new(&image::RgbaImage::from_fn(320, 200, |x, y| {
        let (fx, fy) = (x as f32 / 320.0, y as f32 / 200.0);
        let sun = ((fx - 0.7).powi(2) + (fy - 0.3).powi(2)).sqrt() < 0.12;
        let px = if sun {
            [255, 210, 40]
        } else if fy > 0.7 {
            [30, (120.0 + 80.0 * fx) as u8, 40]
        } else {
            [(40.0 + 60.0 * fy) as u8, (110.0 + 100.0 * fy) as u8, 230]
        };
        let a = if x < 8 { (x * 32) as u8 } else { 255 };
        image::Rgba([px[0], px[1], px[2], a])
    }))
}

#[test]
fn goldens_match() {
    let r = Renderer::new();
    let tones = all_tones();
    let nfd = mixed_nfd();
    let texts: [(&str, &str); 5] = [
        ("cam-do-xe", SHORT),
        ("policy", POLICY),
        ("tones", &tones),
        ("caps", CAPS),
        ("mixed-nfd", &nfd),
    ];
    let mut complaints = Vec::new();
    for (pname, p) in profiles() {
        for (tname, text) in texts {
            for (i, page) in render(&r, text, &p).pages.iter().enumerate() {
                let name = format!("{pname}-{tname}-p{}", i + 1);
                complaints.extend(check_golden(&name, &page.preview()));
            }
        }
    }
    let img = test_image();
    let captioned = [
        ("mono1-128x32", Caption::Below),
        ("rgb565-192x96", Caption::Below),
        ("rgb888-384x192", Caption::Over),
        ("png-256x128", Caption::Above),
    ];
    for (pname, caption) in captioned {
        let p = profiles().into_iter().find(|(n, _)| *n == pname).unwrap().1;
        let style = Style {
            caption: Some(caption),
            color: Some(Color::AMBER),
            ..Style::default()
        };
        let content = Content {
            text: "Phường Hải Châu",
            image: Some(&img),
            style: &style,
        };
        for (i, page) in r.render(&content, &p).pages.iter().enumerate() {
            let name = format!("{pname}-image-caption-p{}", i + 1);
            complaints.extend(check_golden(&name, &page.preview()));
        }
    }
    assert!(complaints.is_empty(), "{}", complaints.join("\n"));
}

#[test]
fn nfc_and_nfd_give_identical_pixels() {
    let r = Renderer::new();
    for text in [SHORT, POLICY, CAPS, MIXED, &all_tones()] {
        let nfd: String = text.nfd().collect();
        assert_ne!(text, nfd);
        for (name, p) in profiles() {
            let a = render(&r, text, &p);
            let b = render(&r, &nfd, &p);
            assert_eq!(a.pages, b.pages, "{name}: {text}");
        }
    }
    assert_eq!(
        render(&r, &mixed_nfd(), &profiles()[2].1).pages,
        render(&r, MIXED, &profiles()[2].1).pages
    );
}

#[test]
fn data_matches_the_frame_format() {
    let r = Renderer::new();
    for (name, p) in profiles() {
        for page in render(&r, POLICY, &p).pages {
            let data = page.data();
            match raw_data_len(p.format, p.width, p.height) {
                Some(n) => assert_eq!(data.len(), n, "{name}"),
                None => {
                    let img = image::load_from_memory(&data).unwrap();
                    assert_eq!((img.width(), img.height()), (256, 128));
                    assert_eq!(img.to_rgb8(), page.preview());
                }
            }
            let prev = page.preview();
            assert_eq!(prev.dimensions(), (u32::from(p.width), u32::from(p.height)));
        }
    }
}

#[test]
fn data_encodes_pixels_as_documented() {
    let r = Renderer::new();
    let style = Style {
        color: Some(Color([255, 0, 0])),
        background: Some(Color([0, 0, 255])),
        ..Style::default()
    };
    let content = Content {
        text: "Ê",
        image: None,
        style: &style,
    };
    // rgb565: the first pixel is background blue, 0x001f little-endian.
    let page = &r
        .render(&content, &profile(16, 16, PixelFormat::Rgb565))
        .pages[0];
    assert_eq!(&page.data()[..2], &[0x1f, 0x00]);
    let page = &r
        .render(&content, &profile(16, 16, PixelFormat::Rgb888))
        .pages[0];
    assert_eq!(&page.data()[..3], &[0, 0, 255]);
    // mono1: lit pixels of the preview are exactly the set bits.
    let p = profile(20, 16, PixelFormat::Mono1);
    let page = &r
        .render(
            &Content {
                style: &Style::default(),
                ..content
            },
            &p,
        )
        .pages[0];
    let data = page.data();
    let prev = page.preview();
    for (x, y, px) in prev.enumerate_pixels() {
        let bit = data[(y * 3 + x / 8) as usize] & (0x80 >> (x % 8)) != 0;
        assert_eq!(bit, px.0 == p.color.0, "{x},{y}");
    }
    assert!(data.iter().any(|b| *b != 0));
}

#[test]
fn six_tones_differ_at_the_smallest_mono_size() {
    let r = Renderer::new();
    let draw1 = |s: &str| {
        let p = Prepared::new(s, &r.uni, None);
        let lines = text::wrap(&p, None, Size::Bitmap(1), 128, 2).unwrap();
        let mut m = Mask::new(128, 32);
        let area = Rect {
            x: 0,
            y: 0,
            w: 128,
            h: 32,
        };
        text::draw(
            &p,
            &r.uni,
            None,
            Size::Bitmap(1),
            &lines,
            Align::Left,
            area,
            area,
            &mut m,
        );
        m.data
    };
    for base in font::VOWELS.chars() {
        let masks: Vec<Vec<u8>> = font::TONES
            .iter()
            .map(|t| draw1(&[base].into_iter().chain(*t).collect::<String>()))
            .collect();
        for i in 0..6 {
            assert!(masks[i].iter().any(|&a| a > 0));
            for j in i + 1..6 {
                assert_ne!(masks[i], masks[j], "{base}: tones {i} and {j}");
            }
        }
    }
}

#[test]
fn long_text_paginates_instead_of_clipping() {
    let r = Renderer::new();
    let long = format!("{POLICY} Siêuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuudài {POLICY}");
    for (name, p) in profiles() {
        let mono = p.format == PixelFormat::Mono1;
        let vec = (!mono).then_some(&r.vec);
        let prep = Prepared::new(&long, &r.uni, vec);
        let (w, h) = (u32::from(p.width), u32::from(p.height));
        let sizes = text::candidate_sizes(mono, max_line(h));
        let layout = text::fit(&prep, vec, &sizes, w, h);
        assert!(layout.pages.len() > 1, "{name}");
        assert_eq!(
            layout.size,
            Size::Bitmap(1),
            "{name}: smallest legible size"
        );
        // Draw each page in the middle of a canvas three times the panel
        // size with no clipping: all ink must land inside the panel.
        let mut seen = Vec::new();
        for lines in &layout.pages {
            assert!(lines.len() as u32 * layout.size.line_height() <= h);
            let mut m = Mask::new(3 * w, 3 * h);
            let area = Rect { x: w, y: h, w, h };
            let all = Rect {
                x: 0,
                y: 0,
                w: 3 * w,
                h: 3 * h,
            };
            text::draw(
                &prep,
                &r.uni,
                vec,
                layout.size,
                lines,
                Align::Center,
                area,
                all,
                &mut m,
            );
            for (i, &a) in m.data.iter().enumerate() {
                let (x, y) = (i as u32 % (3 * w), i as u32 / (3 * w));
                if a > 0 {
                    assert!(
                        x >= w && x < 2 * w && y >= h && y < 2 * h,
                        "{name}: ink at {x},{y}"
                    );
                }
            }
            assert!(m.data.iter().any(|&a| a > 0));
            seen.extend(lines.iter().map(|l| l.words));
        }
        assert_eq!(seen.iter().sum::<usize>(), prep.word_count(), "{name}");
        let rendered = r.render(
            &Content {
                text: &long,
                image: None,
                style: &Style::default(),
            },
            &p,
        );
        assert_eq!(rendered.pages.len(), layout.pages.len());
        assert_eq!(
            rendered.pages.iter().map(Page::words).sum::<usize>(),
            prep.word_texts().len()
        );
    }
}

#[test]
fn short_text_takes_the_largest_size_that_fits() {
    let r = Renderer::new();
    let p = profile(192, 64, PixelFormat::Mono1);
    let prep = Prepared::new(SHORT, &r.uni, None);
    let layout = text::fit(&prep, None, &text::candidate_sizes(true, 64), 192, 64);
    assert_eq!(layout.size, Size::Bitmap(2));
    assert_eq!(render(&r, SHORT, &p).pages.len(), 1);
    let prep = Prepared::new(SHORT, &r.uni, Some(&r.vec));
    let layout = text::fit(
        &prep,
        Some(&r.vec),
        &text::candidate_sizes(false, 96),
        384,
        192,
    );
    assert!(
        matches!(layout.size, Size::Vector(l) if l >= 64),
        "{:?}",
        layout.size
    );
}

#[test]
fn empty_text_and_image_only() {
    let r = Renderer::new();
    for (name, p) in profiles() {
        let blank = render(&r, "  \n ", &p);
        assert_eq!(blank.pages.len(), 1, "{name}");
        assert_eq!(blank.pages[0].words(), 0);
        assert!(blank.pages[0]
            .preview()
            .pixels()
            .all(|px| px.0 == [0, 0, 0]));
        let img = test_image();
        let content = Content {
            text: "",
            image: Some(&img),
            style: &Style::default(),
        };
        let only = r.render(&content, &p);
        assert_eq!(only.pages.len(), 1);
        assert_eq!(only.pages[0].words(), 0);
        assert!(
            only.pages[0].preview().pixels().any(|px| px.0 != [0, 0, 0]),
            "{name}"
        );
    }
}

#[test]
fn fit_modes_and_background() {
    let r = Renderer::new();
    let img = test_image();
    let p = profile(64, 64, PixelFormat::Rgb888);
    let bg = Color([0, 0, 200]);
    let page = |fit| {
        let style = Style {
            fit: Some(fit),
            background: Some(bg),
            ..Style::default()
        };
        r.render(
            &Content {
                text: "",
                image: Some(&img),
                style: &style,
            },
            &p,
        )
        .pages[0]
            .preview()
    };
    // Contain letterboxes a wide image: the top row is background.
    assert_eq!(page(Fit::Contain).get_pixel(32, 0).0, bg.0);
    assert_ne!(page(Fit::Cover).get_pixel(32, 0).0, bg.0);
    assert_ne!(page(Fit::Stretch).get_pixel(32, 0).0, bg.0);
}

#[test]
fn rgb565_gradients_are_dithered_not_banded() {
    let r = Renderer::new();
    let grad = Picture::new(&image::RgbaImage::from_fn(256, 8, |x, _| {
        image::Rgba([x as u8, x as u8, x as u8, 255])
    }));
    let p = profile(256, 8, PixelFormat::Rgb565);
    let style = Style {
        fit: Some(Fit::Stretch),
        ..Style::default()
    };
    let page = &r
        .render(
            &Content {
                text: "",
                image: Some(&grad),
                style: &style,
            },
            &p,
        )
        .pages[0];
    let prev = page.preview();
    // Column averages over the 8×8 dither cell follow the ramp more finely
    // than the 32 red levels RGB565 has.
    let means: std::collections::BTreeSet<u32> = (0..256)
        .map(|x| (0..8).map(|y| u32::from(prev.get_pixel(x, y).0[0])).sum())
        .collect();
    assert!(means.len() > 100, "{}", means.len());
}

#[test]
fn mono_text_contrasts_with_a_light_background() {
    let r = Renderer::new();
    let style = Style {
        background: Some(Color::WHITE),
        ..Style::default()
    };
    let p = profile(128, 32, PixelFormat::Mono1);
    let page = &r
        .render(
            &Content {
                text: SHORT,
                image: None,
                style: &style,
            },
            &p,
        )
        .pages[0];
    let data = page.data();
    let lit = data.iter().map(|b| b.count_ones()).sum::<u32>();
    assert!(lit > 128 * 32 / 2, "background lit, text dark: {lit}");
}

#[test]
fn reading_warning_names_the_numbers() {
    assert_eq!(reading_warning(1, 9, 3), None);
    let w = reading_warning(2, 20, 4)
        .unwrap()
        .render(crate::i18n::Lang::En);
    assert!(
        w.contains("page 2") && w.contains("20 words") && w.contains("7 s") && w.contains("4 s"),
        "{w}"
    );
}

#[test]
fn led_look_draws_dots() {
    let img = RgbImage::from_pixel(2, 1, Rgb([255, 0, 0]));
    let big = led_look(&img, 8);
    assert_eq!(big.dimensions(), (16, 8));
    assert_eq!(big.get_pixel(4, 4).0, [255, 0, 0]);
    assert_ne!(big.get_pixel(0, 0).0, [255, 0, 0]);
}

#[test]
fn renderer_is_shareable() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Renderer>();
    send_sync::<Rendered>();
}

#[test]
fn odd_panels_and_odd_text_never_panic() {
    let r = Renderer::new();
    let img = test_image();
    let texts = [
        "",
        "x",
        "漢字 🚦 \u{7}\u{1b}[0m tab\there\r\nCRLF\u{a0}nbsp",
        "x\u{300}\u{301}\u{323} ̣ a\u{20dd}",
        "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        POLICY,
    ];
    for (w, h) in [(8, 8), (8, 64), (200, 8), (16, 16), (1024, 40), (1024, 8)] {
        for f in [PixelFormat::Mono1, PixelFormat::Rgb565] {
            let p = profile(w, h, f);
            for t in texts {
                for image in [None, Some(&img)] {
                    let captions = if image.is_some() {
                        &[Caption::Below, Caption::Above, Caption::Over][..]
                    } else {
                        &[Caption::Below][..]
                    };
                    for &caption in captions {
                        let style = Style {
                            caption: Some(caption),
                            ..Style::default()
                        };
                        let out = r.render(
                            &Content {
                                text: t,
                                image,
                                style: &style,
                            },
                            &p,
                        );
                        assert!(!out.pages.is_empty());
                        for page in &out.pages {
                            assert_eq!(page.preview().dimensions(), (u32::from(w), u32::from(h)));
                        }
                    }
                }
            }
        }
    }
    let big = profile(1024, 512, PixelFormat::Rgb888);
    let out = r.render(
        &Content {
            text: SHORT,
            image: None,
            style: &Style::default(),
        },
        &big,
    );
    assert_eq!(out.pages.len(), 1);
}

/// On a 32-px mono sign two bitmap lines fill the panel with no spare
/// row: a descender on the upper line must never touch a stacked mark on
/// the lower one, straight or diagonally.
#[test]
fn stacked_marks_never_touch_the_line_above_on_32_px() {
    let r = Renderer::new();
    let style = Style::default();
    for text in [
        "gggggggggggggggg ẪẪẪẪẪẪẪẪẪẪẪẪẪẪẪẪ",
        "gjpqy ỵgjpqy ỵgj ẪẶỄỢẪẶỄỢẪẶỄỢẪẶỄỢ",
        "Quy định giờ giấc ẤP ĐÌNH ỦY BAN",
        "ygyg yg ygyg ygy ÀÁẢÃẠ ẰẮẲẴẶ ÈÉẺẼ",
    ] {
        let out = r.render(
            &Content {
                text,
                image: None,
                style: &style,
            },
            &profile(128, 32, PixelFormat::Mono1),
        );
        for (pi, page) in out.pages.iter().enumerate() {
            let img = page.preview();
            let lit =
                |x: i64, y: u32| (0..128).contains(&x) && img.get_pixel(x as u32, y).0 != [0, 0, 0];
            // A one-line page is centred (rows 8..24): only two-line pages
            // have a boundary at rows 15/16.
            let two_lines =
                (0..128).any(|x| (0..4).any(|y| lit(x, y)) || (28..32).any(|y| lit(x, y)));
            if !two_lines {
                continue;
            }
            for x in 0..128i64 {
                if lit(x, 16) {
                    for dx in -1..=1 {
                        assert!(
                            !lit(x + dx, 15),
                            "{text:?} page {}: touching at x={}",
                            pi + 1,
                            x + dx
                        );
                    }
                }
            }
        }
    }
}

/// A mono page's lit pixels.
struct Lit {
    w: u32,
    h: u32,
    bits: Vec<u8>,
}

impl Lit {
    fn of(page: &Page) -> Lit {
        Lit {
            w: page.width,
            h: page.height,
            bits: page.data().into_owned(),
        }
    }

    fn at(&self, x: u32, y: u32) -> bool {
        self.bits[(y * self.w.div_ceil(8) + x / 8) as usize] & (0x80 >> (x % 8)) != 0
    }

    fn pixels(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        (0..self.h).flat_map(move |y| {
            (0..self.w)
                .map(move |x| (x, y))
                .filter(|&(x, y)| self.at(x, y))
        })
    }
}

/// Renders `lines` as the lines of one mono page and checks what a reader
/// needs: (1) every pixel of each line, rendered alone in the same place
/// (the other lines replaced by as many no-break spaces, so the layout is
/// the same), is lit in the page: nothing of a letter is lost, least of all
/// a mark; (2) between the ink of two neighbouring lines there is a fully
/// dark row over the columns either line uses there.
fn check_lines(
    r: &Renderer,
    lines: &[&str],
    p: &Profile,
    alone: &mut std::collections::HashMap<(usize, String), Lit>,
) -> Result<(), String> {
    let one_page = |text: &str| {
        let out = render(r, text, p);
        assert_eq!(out.pages.len(), 1, "{text:?} takes one page");
        Lit::of(&out.pages[0])
    };
    let page = one_page(&lines.join("\n"));
    let blank = |l: &str| "\u{a0}".repeat(l.chars().count());
    let mut inks = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let key = (i, line.to_string());
        if !alone.contains_key(&key) {
            let text: Vec<String> = lines
                .iter()
                .enumerate()
                .map(|(j, l)| if j == i { l.to_string() } else { blank(l) })
                .collect();
            alone.insert(key.clone(), one_page(&text.join("\n")));
        }
        let ink: Vec<(u32, u32)> = alone[&key].pixels().collect();
        assert!(!ink.is_empty(), "{line:?} draws nothing");
        if let Some((x, y)) = ink.iter().find(|&&(x, y)| !page.at(x, y)) {
            return Err(format!(
                "{lines:?} on {}×{}: pixel {x},{y} of line {} {line:?} is dark",
                p.width,
                p.height,
                i + 1
            ));
        }
        inks.push(ink);
    }
    for (i, pair) in inks.windows(2).enumerate() {
        let bottom = pair[0].iter().map(|q| q.1).max().unwrap();
        let top = pair[1].iter().map(|q| q.1).min().unwrap();
        let x0 = pair.iter().flatten().map(|q| q.0).min().unwrap();
        let x1 = pair.iter().flatten().map(|q| q.0).max().unwrap();
        let dark_row = (bottom + 1..top).any(|y| (x0..=x1).all(|x| !page.at(x, y)));
        if !dark_row {
            return Err(format!(
                "{lines:?} on {}×{}: no dark row between lines {} and {} (ink down to row {bottom}, from row {top})",
                p.width,
                p.height,
                i + 1,
                i + 2
            ));
        }
    }
    Ok(())
}

/// Every Vietnamese letter (every vowel with every tone, both cases, and
/// the consonants) over every other, as two lines on a 128×32 sign and on
/// a 192×64 sign (two lines at 2×), and as four lines on the 192×64 sign
/// (upper, lower, upper, lower: both orders of each pair meet). A page
/// holds a row of one upper letter over a row of as many different lower
/// letters, each lower letter under a copy of the upper one.
#[test]
fn every_letter_over_every_letter_keeps_its_marks_and_a_dark_row() {
    let r = Renderer::new();
    let letters = font::vietnamese_letters();
    let small = profile(128, 32, PixelFormat::Mono1);
    let big = profile(192, 64, PixelFormat::Mono1);
    // Letters per line: 128 px at 1×, 192 px at 2× and at 1×.
    let cases: [(&Profile, usize, usize); 3] = [(&small, 16, 2), (&big, 12, 2), (&big, 24, 4)];
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (r, letters) = (&r, &letters);
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for &(p, per_line, n_lines) in &cases {
                        let mut alone = Default::default();
                        for up in letters.iter().skip(t).step_by(threads) {
                            for lows in letters.chunks(per_line) {
                                let low: String = lows.iter().collect();
                                let ups: String = std::iter::repeat_n(*up, lows.len()).collect();
                                let lines: Vec<&str> = [ups.as_str(), low.as_str()]
                                    .into_iter()
                                    .cycle()
                                    .take(n_lines)
                                    .collect();
                                failures.extend(check_lines(r, &lines, p, &mut alone).err());
                            }
                        }
                    }
                    failures
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let shown: Vec<&str> = failures.iter().take(12).map(String::as_str).collect();
    assert!(
        failures.is_empty(),
        "{} failures, first:\n{}",
        failures.len(),
        shown.join("\n")
    );
}

/// "Cấm lạng lách" (no weaving through traffic) lost the dot below Ạ to a
/// rule that blanked the upper line's bottom row where the line below had a
/// mark: the 128×32 sign read "CẤM LANG LÁCH".
#[test]
fn cam_lang_lach_keeps_its_dot_below_on_a_two_line_sign() {
    let r = Renderer::new();
    let p = profile(128, 32, PixelFormat::Mono1);
    let mut cache = Default::default();
    // The message wraps after "ĐỂ", with Ữ's tilde under the dot of Ạ.
    let wrapped = render(&r, "CẤM LẠNG LÁCH ĐỂ GIỮ AN TOÀN", &p);
    let lines = ["CẤM LẠNG LÁCH ĐỂ", "GIỮ AN TOÀN"];
    assert_eq!(wrapped.pages, render(&r, &lines.join("\n"), &p).pages);
    check_lines(&r, &lines, &p, &mut cache).unwrap();
    check_lines(&r, &["CẤM LẠNG LÁCH", "ĐỂ GIỮ AN TOÀN"], &p, &mut cache).unwrap();
}

/// "Rượu" (alcohol) read "RƯƠU" the same way.
#[test]
fn ruou_keeps_its_dot_below_on_a_two_line_sign() {
    let r = Renderer::new();
    let p = profile(128, 32, PixelFormat::Mono1);
    let mut cache = Default::default();
    for lines in [
        ["UỐNG RƯỢU BIA", "ĐỪNG LÁI XE"],
        ["ĐÃ UỐNG RƯỢU BIA", "ĐỀ NGHỊ TUÂN THỦ"],
    ] {
        check_lines(&r, &lines, &p, &mut cache).unwrap();
    }
}

/// The sample storm message's text (content/messages/phong-chong-bao.json).
const STORM: &str = "CHỦ ĐỘNG PHÒNG, CHỐNG BÃO: gia cố nhà cửa, chặt tỉa cây, chuẩn bị lương thực, nước uống. Theo dõi tin bão trên loa phát thanh.";

/// A picture every pixel of which is lit on a mono panel: the worst case
/// for ink meeting the picture.
fn white_picture() -> Picture {
    Picture::new(&image::RgbaImage::from_pixel(64, 40, image::Rgba([255; 4])))
}

/// A caption in the storm message's style over (above, below) a picture on
/// a mono P10: on every page a fully dark row stands between the picture
/// and the ink, so a tone mark never meets a lit picture pixel. The ink is
/// what the same page lights with a black picture (the layout depends on
/// the picture's presence, not its pixels).
#[test]
fn caption_ink_keeps_a_dark_row_from_the_picture() {
    let r = Renderer::new();
    let p = profile(128, 32, PixelFormat::Mono1);
    let black = Picture::new(&image::RgbaImage::from_pixel(
        64,
        40,
        image::Rgba([0, 0, 0, 255]),
    ));
    let mut complaints = Vec::new();
    for (pname, picture) in [("white", white_picture()), ("photo", test_image())] {
        for caption in [Caption::Over, Caption::Below, Caption::Above] {
            let style = Style {
                caption: Some(caption),
                color: Some(Color::WHITE),
                background: Some(Color([0x10, 0x20, 0x40])),
                ..Style::default()
            };
            let with = |img: &Picture| {
                r.render(
                    &Content {
                        text: STORM,
                        image: Some(img),
                        style: &style,
                    },
                    &p,
                )
            };
            let (shown, ink_only) = (with(&picture), with(&black));
            assert_eq!(shown.pages.len(), ink_only.pages.len());
            for (pi, (page, ink)) in shown.pages.iter().zip(&ink_only.pages).enumerate() {
                let (page, ink) = (Lit::of(page), Lit::of(ink));
                let what = format!("{pname} {caption:?} page {}", pi + 1);
                let top = ink.pixels().map(|q| q.1).min().expect("ink");
                let bottom = ink.pixels().map(|q| q.1).max().expect("ink");
                let edge = match caption {
                    Caption::Above => bottom + 1,
                    _ => top.checked_sub(1).expect("room above the ink"),
                };
                if let Some(x) = (0..128).find(|&x| page.at(x, edge)) {
                    complaints.push(format!(
                        "{what}: row {edge} next to the ink is lit at x={x}"
                    ));
                }
                let touch = ink.pixels().find_map(|(x, y)| {
                    [y.wrapping_sub(1), y + 1]
                        .into_iter()
                        .find(|&ny| ny < 32 && page.at(x, ny) && !ink.at(x, ny))
                        .map(|ny| (x, y, ny))
                });
                if let Some((x, y, ny)) = touch {
                    complaints.push(format!(
                        "{what}: picture pixel {x},{ny} touches ink at {x},{y}"
                    ));
                }
            }
        }
    }
    assert!(complaints.is_empty(), "{}", complaints.join("\n"));
}
