//! Writes LED-look contact sheets of the golden images (the pages of one
//! text stacked) for a person to inspect:
//! `cargo run --example contact_sheets -- [OUTDIR]` (default /tmp/bangtin-look).

use std::path::PathBuf;

use bangtin::render::led_look;
use image::{Rgb, RgbImage};

fn main() {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("bangtin-look"));
    std::fs::create_dir_all(&out).unwrap();
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut groups: std::collections::BTreeMap<String, Vec<PathBuf>> = Default::default();
    for e in std::fs::read_dir(golden).unwrap() {
        let path = e.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let group = stem
            .rsplit_once("-p")
            .map_or(stem.clone(), |g| g.0.to_string());
        groups.entry(group).or_default().push(path);
    }
    for (group, mut pages) in groups {
        pages.sort();
        let imgs: Vec<RgbImage> = pages
            .iter()
            .map(|p| image::open(p).unwrap().to_rgb8())
            .collect();
        let (w, h) = imgs[0].dimensions();
        let scale = (768 / w).clamp(1, 6);
        let gap = 8;
        let mut sheet = RgbImage::from_pixel(
            w * scale,
            (h * scale + gap) * imgs.len() as u32,
            Rgb([60, 0, 60]),
        );
        for (i, img) in imgs.iter().enumerate() {
            let look = led_look(img, scale);
            image::imageops::replace(
                &mut sheet,
                &look,
                0,
                i64::from((h * scale + gap) * i as u32),
            );
        }
        sheet.save(out.join(format!("{group}.png"))).unwrap();
    }
    println!("contact sheets in {}", out.display());
}
