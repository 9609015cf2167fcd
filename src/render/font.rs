//! The two embedded faces and their glyph caches.
//!
//! - [`Unifont`]: GNU Unifont 8×16 / 16×16 bitmaps, parsed once from the
//!   embedded `.hex` subset. Drawn at integer scales only, so every pixel is
//!   either on or off: the face for mono panels and for small lines.
//! - [`Vector`]: DejaVu Sans Bold through ab_glyph, antialiased, for colour
//!   panels once lines are tall enough. Rasterised coverage is cached per
//!   (glyph, size); the cache is bounded and cleared when full, which changes
//!   speed, never pixels.
//!
//! Neither face shapes text: callers hand them NFC-normalised characters,
//! for which both fonts have precomposed Vietnamese glyphs.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale};

const UNIFONT_HEX: &str = include_str!("../../assets/fonts/unifont-vi.hex");
const DEJAVU_BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// Height of a Unifont cell at 1×, in pixels.
pub const UNIFONT_CELL: u32 = 16;

/// Every letter of the Vietnamese alphabet with every tone, both cases:
/// the 12 vowels × 6 tones × 2 cases, đ/Đ and the plain consonants.
pub fn vietnamese_letters() -> Vec<char> {
    use unicode_normalization::UnicodeNormalization;
    let mut out = Vec::new();
    for base in VOWELS.chars() {
        for tone in TONES {
            let s: String = [base].into_iter().chain(tone).nfc().collect();
            let mut it = s.chars();
            let c = it.next().expect("one char");
            assert!(it.next().is_none(), "{s:?} has a precomposed form");
            out.push(c);
        }
    }
    out.extend("bcdđghklmnpqrstvxBCDĐGHKLMNPQRSTVX".chars());
    out
}

/// The 12 Vietnamese vowels, lower and upper case.
pub const VOWELS: &str = "aăâeêioôơuưyAĂÂEÊIOÔƠUƯY";
/// Level, grave, acute, hook above, tilde, dot below (as combining marks).
pub const TONES: [Option<char>; 6] = [
    None,
    Some('\u{300}'),
    Some('\u{301}'),
    Some('\u{309}'),
    Some('\u{303}'),
    Some('\u{323}'),
];

/// One Unifont glyph: 16 rows, bit 15 = leftmost pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bitmap {
    /// 8 or 16.
    pub width: u8,
    pub rows: [u16; 16],
}

impl Bitmap {
    #[cfg(test)]
    pub fn is_blank(&self) -> bool {
        self.rows.iter().all(|r| *r == 0)
    }
}

/// GNU Unifont, BMP only, indexed by code point.
pub struct Unifont {
    /// 1-based index into `glyphs` per BMP code point; 0 = missing.
    index: Vec<u16>,
    glyphs: Vec<Bitmap>,
    fallback: Bitmap,
}

impl Unifont {
    pub fn load() -> Unifont {
        let mut index = vec![0u16; 0x1_0000];
        let mut glyphs = Vec::new();
        for line in UNIFONT_HEX.lines() {
            let Some((cp, hex)) = line.trim().split_once(':') else {
                continue;
            };
            let (Ok(cp), width) = (u32::from_str_radix(cp, 16), hex.len()) else {
                continue;
            };
            let width = match width {
                32 => 8u8,
                64 => 16,
                _ => continue,
            };
            if cp > 0xFFFF {
                continue;
            }
            let per_row = usize::from(width / 4);
            let mut rows = [0u16; 16];
            for (r, row) in rows.iter_mut().enumerate() {
                let digits = &hex[r * per_row..(r + 1) * per_row];
                let v = u16::from_str_radix(digits, 16).unwrap_or(0);
                *row = if width == 8 { v << 8 } else { v };
            }
            glyphs.push(Bitmap { width, rows });
            index[cp as usize] = glyphs.len() as u16;
        }
        let mut u = Unifont {
            index,
            glyphs,
            fallback: Bitmap {
                width: 8,
                rows: [0; 16],
            },
        };
        // A missing glyph shows as the replacement character, or a box.
        u.fallback = u
            .get('\u{FFFD}')
            .or_else(|| u.get('\u{25A1}'))
            .unwrap_or(Bitmap {
                width: 8,
                rows: [
                    0, 0, 0, 0x7E00, 0x4200, 0x4200, 0x4200, 0x4200, 0x4200, 0x4200, 0x4200,
                    0x4200, 0x7E00, 0, 0, 0,
                ],
            });
        u
    }

    pub fn get(&self, c: char) -> Option<Bitmap> {
        let i = *self.index.get(c as usize)?;
        (i > 0).then(|| self.glyphs[usize::from(i) - 1])
    }

    /// The glyph for `c`, or the replacement glyph.
    pub fn glyph(&self, c: char) -> Bitmap {
        self.get(c).unwrap_or(self.fallback)
    }
}

/// Metrics of one character in the vector face, in font units (y up).
#[derive(Debug, Clone, Copy)]
pub struct VMetrics {
    pub id: GlyphId,
    pub advance: f32,
    /// Ink left of the pen position (>= 0).
    pub overhang_left: f32,
    /// Ink right of the advance (>= 0).
    pub overhang_right: f32,
}

/// Antialiased coverage of one glyph at one size, placed relative to the
/// pen position on the baseline.
#[derive(Debug)]
pub struct Coverage {
    pub left: i32,
    pub top: i32,
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// Entries kept before the raster cache is cleared (a few MB at the sizes
/// billboards use).
const RASTER_CACHE_MAX: usize = 8192;

/// DejaVu Sans Bold with a coverage cache.
pub struct Vector {
    font: FontRef<'static>,
    /// Highest ink above the baseline and lowest below (positive), in font
    /// units, over every Vietnamese letter and printable ASCII: the line box
    /// that keeps stacked marks (Ẫ) and dots below descenders (ỵ) apart.
    pub ink_top: f32,
    pub ink_bottom: f32,
    cache: RwLock<HashMap<(u16, u32), Arc<Coverage>>>,
    /// Per-character metrics: building an outline just to read its bounds
    /// is the costly part of measuring, so it is done once per character.
    metrics: RwLock<HashMap<char, VMetrics>>,
}

impl Vector {
    pub fn load() -> Vector {
        let font = FontRef::try_from_slice(DEJAVU_BOLD).expect("embedded DejaVu Sans Bold parses");
        let mut top: f32 = font.ascent_unscaled();
        let mut bottom: f32 = -font.descent_unscaled();
        let ascii = (0x21u8..0x7f).map(char::from);
        for c in vietnamese_letters().into_iter().chain(ascii) {
            if let Some(o) = font.outline(font.glyph_id(c)) {
                top = top.max(o.bounds.min.y);
                bottom = bottom.max(-o.bounds.max.y);
            }
        }
        Vector {
            font,
            ink_top: top,
            ink_bottom: bottom,
            cache: RwLock::new(HashMap::new()),
            metrics: RwLock::new(HashMap::new()),
        }
    }

    pub fn has(&self, c: char) -> bool {
        self.font.glyph_id(c).0 != 0
    }

    /// Metrics of `c` (the replacement character's when the face lacks it), cached.
    pub fn metrics(&self, c: char) -> VMetrics {
        if let Some(m) = self.metrics.read().expect("metrics lock").get(&c) {
            return *m;
        }
        let m = self.measure(c);
        let mut cache = self.metrics.write().expect("metrics lock");
        if cache.len() >= RASTER_CACHE_MAX {
            cache.clear();
        }
        cache.insert(c, m);
        m
    }

    fn measure(&self, c: char) -> VMetrics {
        let mut id = self.font.glyph_id(c);
        if id.0 == 0 {
            id = self.font.glyph_id('\u{FFFD}');
        }
        let advance = self.font.h_advance_unscaled(id);
        let (l, r) = match self.font.outline(id) {
            Some(o) => (
                (-o.bounds.min.x).max(0.0),
                (o.bounds.max.x - advance).max(0.0),
            ),
            None => (0.0, 0.0),
        };
        VMetrics {
            id,
            advance,
            overhang_left: l,
            overhang_right: r,
        }
    }

    /// The px scale giving `k` pixels per font unit.
    fn px_scale(&self, k: f32) -> PxScale {
        PxScale::from(k * self.font.height_unscaled())
    }

    /// Coverage of glyph `id` at `k` px per unit, cached.
    pub fn coverage(&self, id: GlyphId, k: f32) -> Arc<Coverage> {
        let key = (id.0, k.to_bits());
        if let Some(c) = self.cache.read().expect("glyph cache lock").get(&key) {
            return Arc::clone(c);
        }
        let glyph = id.with_scale_and_position(self.px_scale(k), point(0.0, 0.0));
        let cov = match self.font.outline_glyph(glyph) {
            Some(og) => {
                let b = og.px_bounds();
                let (w, h) = (b.width() as u32, b.height() as u32);
                let mut data = vec![0u8; (w * h) as usize];
                og.draw(|x, y, v| {
                    if x < w && y < h {
                        data[(y * w + x) as usize] = (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
                    }
                });
                Coverage {
                    left: b.min.x as i32,
                    top: b.min.y as i32,
                    width: w,
                    height: h,
                    data,
                }
            }
            None => Coverage {
                left: 0,
                top: 0,
                width: 0,
                height: 0,
                data: Vec::new(),
            },
        };
        let cov = Arc::new(cov);
        let mut cache = self.cache.write().expect("glyph cache lock");
        if cache.len() >= RASTER_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&cov));
        cov
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet_is_complete() {
        let letters = vietnamese_letters();
        assert_eq!(letters.len(), 144 + 34);
        // 132 vowels with a diacritic or tone, plus đ/Đ: the 134 letters
        // plain ASCII lacks.
        let marked = letters.iter().filter(|c| !c.is_ascii()).count();
        assert_eq!(marked, 134);
    }

    #[test]
    fn every_vietnamese_letter_has_a_real_unifont_glyph() {
        let u = Unifont::load();
        for c in vietnamese_letters() {
            let g = u.get(c).unwrap_or_else(|| panic!("Unifont lacks {c}"));
            assert!(!g.is_blank(), "{c} is blank");
            assert_ne!(g, u.glyph('\u{FFFD}'), "{c} is the replacement glyph");
        }
    }

    #[test]
    fn every_vietnamese_letter_has_a_real_vector_glyph() {
        let v = Vector::load();
        for c in vietnamese_letters() {
            assert!(v.has(c), "DejaVu lacks {c}");
            let m = v.metrics(c);
            let cov = v.coverage(m.id, 0.02);
            assert!(cov.data.iter().any(|&a| a > 128), "{c} draws nothing");
        }
    }

    #[test]
    fn six_tones_give_six_bitmaps_at_1x() {
        use unicode_normalization::UnicodeNormalization;
        let u = Unifont::load();
        for base in VOWELS.chars() {
            let glyphs: Vec<Bitmap> = TONES
                .iter()
                .map(|t| {
                    let s: String = [base].into_iter().chain(*t).nfc().collect();
                    u.glyph(s.chars().next().unwrap())
                })
                .collect();
            for i in 0..6 {
                for j in i + 1..6 {
                    assert_ne!(glyphs[i], glyphs[j], "{base}: tones {i} and {j} look alike");
                }
            }
        }
    }

    #[test]
    fn vector_line_box_holds_stacked_marks() {
        let v = Vector::load();
        for c in ['Ẫ', 'Ặ', 'Ễ', 'Ợ', 'ỵ', 'g'] {
            let o = v.font.outline(v.font.glyph_id(c)).unwrap();
            assert!(o.bounds.min.y <= v.ink_top && -o.bounds.max.y <= v.ink_bottom);
        }
        assert!(v.ink_top > v.font.ascent_unscaled() * 0.99);
    }
}
