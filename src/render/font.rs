//! The embedded faces and their glyph caches.
//!
//! - [`BitmapFace::unifont`]: GNU Unifont 8×16 / 16×16 bitmaps, parsed once
//!   from the embedded `.hex` subset. Drawn at integer scales only, so every
//!   pixel is either on or off: the face for mono panels and for small
//!   lines. Its Vietnamese capitals use the whole 16-px cell (stacked marks
//!   reach the top row, the dot below and descenders the bottom one).
//! - [`BitmapFace::compact`]: the same glyphs with the top row of every
//!   cell left dark, for lines stacked with no spare row between them (two
//!   lines on a 32-px P10 sign): one row dark between any two lines, and no
//!   mark lost. See [`Bitmap::compact`] for how each glyph is fitted.
//! - [`Vector`]: DejaVu Sans Bold through ab_glyph, antialiased, for colour
//!   panels once lines are tall enough. Rasterised coverage is cached per
//!   (glyph, size); the cache is bounded and cleared when full, which changes
//!   speed, never pixels.
//!
//! No face shapes text: callers hand them NFC-normalised characters, for
//! which every face has precomposed Vietnamese glyphs.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale};

const UNIFONT_HEX: &str = include_str!("../../assets/fonts/unifont-vi.hex");
const DEJAVU_BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// Height of a Unifont cell at 1×, in pixels.
pub(super) const UNIFONT_CELL: u32 = 16;

/// Every letter of the Vietnamese alphabet with every tone, both cases:
/// the 12 vowels × 6 tones × 2 cases, đ/Đ and the plain consonants.
pub(super) fn vietnamese_letters() -> Vec<char> {
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
pub(super) const VOWELS: &str = "aăâeêioôơuưyAĂÂEÊIOÔƠUƯY";
/// Level, grave, acute, hook above, tilde, dot below (as combining marks).
pub(super) const TONES: [Option<char>; 6] = [
    None,
    Some('\u{300}'),
    Some('\u{301}'),
    Some('\u{309}'),
    Some('\u{303}'),
    Some('\u{323}'),
];

/// One Unifont glyph: 16 rows, bit 15 = leftmost pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Bitmap {
    /// 8 or 16.
    pub width: u8,
    pub rows: [u16; 16],
}

impl Bitmap {
    #[cfg(test)]
    pub(super) fn is_blank(&self) -> bool {
        self.rows.iter().all(|r| *r == 0)
    }

    /// This glyph for the compact face: unchanged if its top row is dark,
    /// otherwise with one row taken out, everything above that row moved
    /// down one and the top row left dark. Width, baseline, dot below and
    /// descenders stay where they are, and every pixel of every mark is
    /// kept. The row taken out is, in this order:
    ///
    /// 1. for a mark or symbol with no ink below the middle of the cell,
    ///    the empty bottom row: it moves down whole;
    /// 2. one of two or more dark rows between a mark and its letter (À:
    ///    the acute keeps a dark row above the A);
    /// 3. the first row of the longest run of one repeated row, the lowest
    ///    such run on a tie (a straight stretch of the letter's stem or
    ///    side: Ẫ keeps its tilde and circumflex and its A is a row shorter;
    ///    lowercase ẫ loses a row of its bowl, never of its marks);
    /// 4. otherwise the faintest row, the lowest on a tie.
    ///
    /// Runs starting in the top row are not shortened, so a mark is never
    /// redrawn: Unifont's ẳ has its hook as two equal rows, and taking one
    /// out would leave an acute.
    pub(super) fn compact(self) -> Bitmap {
        if self.rows[0] == 0 {
            return self;
        }
        let out = self.spare_row();
        let mut rows = [0u16; 16];
        rows[1..=out].copy_from_slice(&self.rows[..out]);
        rows[out + 1..].copy_from_slice(&self.rows[out + 1..]);
        Bitmap {
            width: self.width,
            rows,
        }
    }

    /// The row [`Bitmap::compact`] takes out (1..=15).
    fn spare_row(&self) -> usize {
        let rows = &self.rows;
        let lowest = (0..16).rev().find(|&r| rows[r] != 0).unwrap_or(0);
        if lowest < 8 {
            return 15;
        }
        if let Some(r) = (1..lowest).find(|&r| rows[r] == 0 && rows[r + 1] == 0) {
            return r;
        }
        // Maximal runs of one lit row, (start, length), starting below row 0.
        let mut best: Option<(usize, usize)> = None;
        let mut start = 0;
        for r in 1..=16 {
            if r == 16 || rows[r] != rows[start] {
                let len = r - start;
                if start > 0 && rows[start] != 0 && len >= 2 && best.is_none_or(|b| len >= b.1) {
                    best = Some((start, len));
                }
                start = r;
            }
        }
        if let Some((r, _)) = best {
            return r;
        }
        (1..16)
            .rev()
            .min_by_key(|&r| rows[r].count_ones())
            .unwrap_or(15)
    }
}

/// A bitmap face, BMP only, indexed by code point: GNU Unifont as shipped,
/// or its compact form.
pub(super) struct BitmapFace {
    /// 1-based index into `glyphs` per BMP code point; 0 = missing.
    index: Vec<u16>,
    glyphs: Vec<Bitmap>,
    fallback: Bitmap,
    /// Rows at the top of the cell that no glyph lights (0 for Unifont, 1
    /// for the compact face): line layout stacks lines by the rows below.
    dark_top: u32,
}

impl BitmapFace {
    /// GNU Unifont from the embedded subset.
    pub(super) fn unifont() -> BitmapFace {
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
        let mut u = BitmapFace {
            index,
            glyphs,
            fallback: Bitmap {
                width: 8,
                rows: [0; 16],
            },
            dark_top: 0,
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
        u.dark_top = u.count_dark_top();
        u
    }

    /// This face with every glyph made [`Bitmap::compact`]: the top row of
    /// every cell is dark, so lines stacked 16 px apart (×scale) always have
    /// a dark row between them.
    pub(super) fn compact(&self) -> BitmapFace {
        let mut c = BitmapFace {
            index: self.index.clone(),
            glyphs: self.glyphs.iter().map(|g| g.compact()).collect(),
            fallback: self.fallback.compact(),
            dark_top: 0,
        };
        c.dark_top = c.count_dark_top();
        c
    }

    fn count_dark_top(&self) -> u32 {
        let all = || self.glyphs.iter().chain([&self.fallback]);
        (0..16)
            .take_while(|&r| all().all(|g| g.rows[r] == 0))
            .count() as u32
    }

    /// Rows at the top of every cell that are dark in this face, at 1×.
    pub(super) fn dark_top(&self) -> u32 {
        self.dark_top
    }

    pub(super) fn get(&self, c: char) -> Option<Bitmap> {
        let i = *self.index.get(c as usize)?;
        (i > 0).then(|| self.glyphs[usize::from(i) - 1])
    }

    /// The glyph for `c`, or the replacement glyph.
    pub(super) fn glyph(&self, c: char) -> Bitmap {
        self.get(c).unwrap_or(self.fallback)
    }
}

/// Metrics of one character in the vector face, in font units (y up).
#[derive(Debug, Clone, Copy)]
pub(super) struct VMetrics {
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
pub(super) struct Coverage {
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
pub(super) struct Vector {
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
    pub(super) fn load() -> Vector {
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

    pub(super) fn has(&self, c: char) -> bool {
        self.font.glyph_id(c).0 != 0
    }

    /// Metrics of `c` (the replacement character's when the face lacks it), cached.
    pub(super) fn metrics(&self, c: char) -> VMetrics {
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
    pub(super) fn coverage(&self, id: GlyphId, k: f32) -> Arc<Coverage> {
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
        let u = BitmapFace::unifont();
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
        let u = BitmapFace::unifont();
        for face in [&u, &u.compact()] {
            for base in VOWELS.chars() {
                let glyphs: Vec<Bitmap> = TONES
                    .iter()
                    .map(|t| {
                        let s: String = [base].into_iter().chain(*t).nfc().collect();
                        face.glyph(s.chars().next().unwrap())
                    })
                    .collect();
                for i in 0..6 {
                    for j in i + 1..6 {
                        assert_ne!(glyphs[i], glyphs[j], "{base}: tones {i} and {j} look alike");
                    }
                }
            }
        }
    }

    /// Pixel groups that touch (also diagonally): a letter's body and each
    /// mark that stands apart from it.
    fn parts(g: &Bitmap) -> usize {
        let lit = |r: i32, c: i32| {
            (0..16).contains(&r)
                && (0..i32::from(g.width)).contains(&c)
                && g.rows[r as usize] & (0x8000 >> c) != 0
        };
        let mut seen = [0u16; 16];
        let mut n = 0;
        for r in 0..16 {
            for c in 0..i32::from(g.width) {
                if !lit(r, c) || seen[r as usize] & (0x8000 >> c) != 0 {
                    continue;
                }
                n += 1;
                let mut stack = vec![(r, c)];
                seen[r as usize] |= 0x8000 >> c;
                while let Some((r, c)) = stack.pop() {
                    for (dr, dc) in (-1..=1).flat_map(|a| (-1..=1).map(move |b| (a, b))) {
                        let (nr, nc) = (r + dr, c + dc);
                        if lit(nr, nc) && seen[nr as usize] & (0x8000 >> nc) == 0 {
                            seen[nr as usize] |= 0x8000 >> nc;
                            stack.push((nr, nc));
                        }
                    }
                }
            }
        }
        n
    }

    #[test]
    fn compact_face_leaves_the_top_row_dark() {
        let u = BitmapFace::unifont();
        let c = u.compact();
        assert_eq!(c.glyphs.len(), u.glyphs.len());
        for (a, b) in u.glyphs.iter().zip(&c.glyphs) {
            assert_eq!(b.rows[0], 0, "{a:?}");
            assert_eq!(a.width, b.width, "same advance");
            if a.rows[0] == 0 {
                assert_eq!(a, b, "a glyph that fits is left alone");
            }
        }
        assert_eq!(c.fallback.rows[0], 0);
        assert_eq!((u.dark_top(), c.dark_top()), (0, 1));
    }

    /// The compact letters are Unifont's with one spare blank row or one
    /// repeated row taken out: every mark is kept pixel for pixel, marks
    /// and letter touch exactly as before, and the baseline, dot below and
    /// descenders stay on their rows.
    #[test]
    fn compact_letters_keep_every_mark() {
        use unicode_normalization::UnicodeNormalization;
        let u = BitmapFace::unifont();
        let c = u.compact();
        let mut changed = 0;
        for ch in vietnamese_letters() {
            let (a, b) = (u.glyph(ch), c.glyph(ch));
            if a == b {
                continue;
            }
            changed += 1;
            let lowest = |g: &Bitmap| (0..16).rev().find(|&r| g.rows[r] != 0);
            assert_eq!(lowest(&a), lowest(&b), "{ch}: baseline moved");
            assert_eq!(parts(&a), parts(&b), "{ch}: marks merged or split");
            let out = (1..16)
                .find(|&r| {
                    let mut rows = [0u16; 16];
                    rows[1..=r].copy_from_slice(&a.rows[..r]);
                    rows[r + 1..].copy_from_slice(&a.rows[r + 1..]);
                    rows == b.rows
                })
                .unwrap_or_else(|| panic!("{ch}: not Unifont's glyph less one row"));
            let repeated = a.rows[out] == a.rows[out + 1] || a.rows[out] == a.rows[out - 1];
            assert!(
                repeated,
                "{ch}: row {out} taken out is neither spare nor repeated"
            );
            // Every lit row above where the plain letter starts (the marks)
            // is there, one row lower.
            let base = ch.nfd().next().unwrap();
            let top = (0..16).find(|&r| u.glyph(base).rows[r] != 0).unwrap();
            for r in 0..top {
                assert!(
                    a.rows[r] == 0 || b.rows[r + 1] == a.rows[r],
                    "{ch}: mark row {r}"
                );
            }
        }
        // The capitals with marks and the lowercase with stacked marks.
        assert_eq!(changed, 60);
    }

    #[test]
    fn compact_rule_on_its_own() {
        let g = |rows: &[u16]| {
            let mut r = [0u16; 16];
            r[..rows.len()].copy_from_slice(rows);
            Bitmap { width: 8, rows: r }
        };
        // A lone mark moves down whole.
        assert_eq!(g(&[0x1800, 0x2400]).compact(), g(&[0, 0x1800, 0x2400]));
        // Two dark rows between mark and letter: one goes.
        let a = g(&[
            0x0c00, 0x3000, 0, 0, 0x1800, 0x2400, 0x4200, 0x4200, 0x7e00, 0x4200, 0x4200, 0x4200,
            0x4200, 0x4200,
        ]);
        let b = g(&[
            0, 0x0c00, 0x3000, 0, 0x1800, 0x2400, 0x4200, 0x4200, 0x7e00, 0x4200, 0x4200, 0x4200,
            0x4200, 0x4200,
        ]);
        assert_eq!(a.compact(), b);
        // Otherwise the longest repeated stretch of the letter loses a row,
        // never the two equal rows of a mark that starts on the top row.
        let a = g(&[
            0x0800, 0x0800, 0x1000, 0, 0x7e00, 0x4000, 0x4000, 0x7c00, 0x4000, 0x4000, 0x4000,
            0x7e00,
        ]);
        let b = g(&[
            0, 0x0800, 0x0800, 0x1000, 0, 0x7e00, 0x4000, 0x4000, 0x7c00, 0x4000, 0x4000, 0x7e00,
        ]);
        assert_eq!(a.compact(), b);
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
