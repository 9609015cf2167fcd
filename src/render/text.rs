//! Text layout: NFC normalisation, word wrap, size choice, pagination, and
//! drawing into a coverage mask.
//!
//! The text is normalised and measured once ([`Prepared`]); each candidate
//! size is then pure arithmetic over those measurements, so the binary
//! search for the largest size that fits is cheap. Nothing here knows about
//! colours or pixel formats: the output is coverage (0 = background,
//! 255 = ink) which the caller turns into panel pixels.

use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

/// Whitespace-separated words with their byte offsets.
fn split_words(s: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut start = None;
    let mut out = Vec::new();
    for (i, c) in s.char_indices().chain([(s.len(), ' ')]) {
        // No-break spaces glue words together, as their name says.
        let breaks = c.is_whitespace() && !matches!(c, '\u{a0}' | '\u{202f}' | '\u{2007}');
        match (breaks, start) {
            (true, Some(a)) => {
                out.push((a, &s[a..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    out.into_iter()
}

use super::font::{BitmapFace, Vector, UNIFONT_CELL};
use crate::domain::Align;

/// Vector text is used only for lines at least this tall: below it Unifont
/// at 1× (16 px) is crisper than antialiased DejaVu.
pub(super) const VECTOR_MIN_LINE: u32 = 24;

/// A text size: Unifont at an integer scale, or DejaVu Sans Bold in a line
/// of a given height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Size {
    Bitmap(u32),
    Vector(u32),
}

impl Size {
    pub(super) fn line_height(self) -> u32 {
        match self {
            Size::Bitmap(s) => UNIFONT_CELL * s,
            Size::Vector(l) => l,
        }
    }
}

/// Vertical placement of vector text in its line box, px.
#[derive(Debug, Clone, Copy)]
struct VBox {
    /// Pixels per font unit.
    k: f32,
    /// Baseline, from the top of the line box.
    baseline: i32,
}

fn vbox(v: &Vector, line: u32) -> VBox {
    // At least two empty rows between the ink of two lines, more when big;
    // the ink box is the real extent of Ẫ-like stacks and ỵ-like tails.
    let gap = (line / 12).max(2);
    let k = (line - gap) as f32 / (v.ink_top + v.ink_bottom);
    let baseline = (gap / 2) as i32 + (v.ink_top * k).ceil() as i32;
    VBox { k, baseline }
}

/// Horizontal padding each side for a size, px: bitmap text runs edge to
/// edge (P10 panels have none to spare), vector text gets a little air.
fn pad_x(size: Size) -> u32 {
    match size {
        Size::Bitmap(_) => 0,
        Size::Vector(l) => l / 8,
    }
}

/// One grapheme cluster with its measurements in both faces.
#[derive(Debug, Clone, Copy)]
struct Gr {
    start: u32,
    end: u32,
    /// Unifont advance at 1×, px.
    bitmap_adv: u16,
    /// Vector advance and ink overhangs, font units.
    adv: f32,
    ol: f32,
    or: f32,
}

#[derive(Debug, Clone, Copy)]
struct Word {
    start: usize,
    end: usize,
}

/// Normalised text, split into paragraphs, words and graphemes, measured.
pub(super) struct Prepared {
    text: String,
    grs: Vec<Gr>,
    words: Vec<Word>,
    paragraphs: Vec<std::ops::Range<usize>>,
    space_adv: f32,
}

impl Prepared {
    pub(super) fn new(raw: &str, uni: &BitmapFace, vec: Option<&Vector>) -> Prepared {
        // NFC first: ab_glyph and the bitmap faces have precomposed glyphs
        // only. Both bitmap faces have the same advances.
        let text: String = raw
            .nfc()
            .filter_map(|c| match c {
                '\t' => Some(' '),
                '\n' => Some('\n'),
                '\u{2028}' | '\u{2029}' => Some('\n'),
                c if c.is_control() => None,
                c => Some(c),
            })
            .collect();
        let mut grs = Vec::new();
        let mut words = Vec::new();
        let mut paragraphs = Vec::new();
        let mut offset = 0usize;
        for para in text.split('\n') {
            let first_word = words.len();
            for (wofs, word) in split_words(para) {
                let start = grs.len();
                for (gofs, g) in word.grapheme_indices(true) {
                    let s = offset + wofs + gofs;
                    let base = g.chars().next().expect("non-empty grapheme");
                    let bitmap_adv = u16::from(uni.glyph(base).width);
                    let (adv, ol, or) = match vec {
                        Some(v) => {
                            let m = v.metrics(base);
                            (m.advance, m.overhang_left, m.overhang_right)
                        }
                        None => (0.0, 0.0, 0.0),
                    };
                    grs.push(Gr {
                        start: s as u32,
                        end: (s + g.len()) as u32,
                        bitmap_adv,
                        adv,
                        ol,
                        or,
                    });
                }
                words.push(Word {
                    start,
                    end: grs.len(),
                });
            }
            paragraphs.push(first_word..words.len());
            offset += para.len() + 1;
        }
        // Blank lines at the very start or end carry nothing.
        while paragraphs.last().is_some_and(|p| p.is_empty()) {
            paragraphs.pop();
        }
        let lead = paragraphs.iter().take_while(|p| p.is_empty()).count();
        paragraphs.drain(..lead);
        let space_adv = vec.map_or(0.0, |v| v.metrics(' ').advance);
        Prepared {
            text,
            grs,
            words,
            paragraphs,
            space_adv,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    #[cfg(test)]
    pub(super) fn word_count(&self) -> usize {
        self.words.len()
    }

    /// Every word, as text (for tests).
    #[cfg(test)]
    pub(super) fn word_texts(&self) -> Vec<&str> {
        self.words
            .iter()
            .map(|w| {
                let a = self.grs[w.start].start as usize;
                let b = self.grs[w.end - 1].end as usize;
                &self.text[a..b]
            })
            .collect()
    }
}

/// A laid-out line: grapheme ranges joined by single spaces.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Line {
    pub segs: Vec<(usize, usize)>,
    /// Words that start on this line.
    pub words: usize,
}

/// Measures runs of graphemes in one size.
struct Measure<'a> {
    p: &'a Prepared,
    size: Size,
    k: f32,
}

impl Measure<'_> {
    fn adv(&self, g: &Gr) -> f32 {
        match self.size {
            Size::Bitmap(_) => f32::from(g.bitmap_adv),
            Size::Vector(_) => g.adv,
        }
    }
    fn space(&self) -> f32 {
        match self.size {
            Size::Bitmap(_) => 8.0,
            Size::Vector(_) => self.p.space_adv,
        }
    }
    /// Pixel width of a run whose advances sum to `adv`, starting with a
    /// glyph overhanging `ol` on the left and ending with `or` on the right.
    fn px(&self, adv: f32, ol: f32, or: f32) -> u32 {
        match self.size {
            Size::Bitmap(s) => adv as u32 * s,
            Size::Vector(_) => ((adv + ol + or) * self.k).ceil() as u32 + 1,
        }
    }
    fn ol(&self, g: &Gr) -> f32 {
        if matches!(self.size, Size::Vector(_)) {
            g.ol
        } else {
            0.0
        }
    }
    fn or(&self, g: &Gr) -> f32 {
        if matches!(self.size, Size::Vector(_)) {
            g.or
        } else {
            0.0
        }
    }
}

fn scale_k(vec: Option<&Vector>, size: Size) -> f32 {
    match (size, vec) {
        (Size::Vector(l), Some(v)) => vbox(v, l).k,
        _ => 1.0,
    }
}

/// Greedy word wrap into lines at most `max_w` px wide. Returns `None` as
/// soon as more than `max_lines` lines are needed.
pub(super) fn wrap(
    p: &Prepared,
    vec: Option<&Vector>,
    size: Size,
    max_w: u32,
    max_lines: usize,
) -> Option<Vec<Line>> {
    let m = Measure {
        p,
        size,
        k: scale_k(vec, size),
    };
    let max_w = max_w.saturating_sub(2 * pad_x(size)).max(1);
    let mut lines: Vec<Line> = Vec::new();
    let push = |lines: &mut Vec<Line>, l: Line| -> Option<()> {
        lines.push(l);
        (lines.len() <= max_lines).then_some(())
    };
    for para in &p.paragraphs {
        let mut cur = Line {
            segs: Vec::new(),
            words: 0,
        };
        // Running measurements of `cur`.
        let (mut adv, mut ol) = (0.0f32, 0.0f32);
        for w in &p.words[para.clone()] {
            let grs = &p.grs[w.start..w.end];
            let wadv: f32 = grs.iter().map(|g| m.adv(g)).sum();
            let (wol, wor) = (m.ol(&grs[0]), m.or(&grs[grs.len() - 1]));
            if !cur.segs.is_empty() {
                let cand = adv + m.space() + wadv;
                if m.px(cand, ol, wor) <= max_w {
                    cur.segs.push((w.start, w.end));
                    cur.words += 1;
                    adv = cand;
                    continue;
                }
                push(
                    &mut lines,
                    std::mem::replace(
                        &mut cur,
                        Line {
                            segs: Vec::new(),
                            words: 0,
                        },
                    ),
                )?;
            }
            if m.px(wadv, wol, wor) <= max_w {
                cur.segs.push((w.start, w.end));
                cur.words += 1;
                (adv, ol) = (wadv, wol);
                continue;
            }
            // A word longer than a line: break it between graphemes.
            let mut start = w.start;
            let mut first = true;
            while start < w.end {
                let mut end = start + 1;
                let mut a = m.adv(&p.grs[start]);
                while end < w.end {
                    let na = a + m.adv(&p.grs[end]);
                    if m.px(na, m.ol(&p.grs[start]), m.or(&p.grs[end])) > max_w {
                        break;
                    }
                    a = na;
                    end += 1;
                }
                // A web address or file number reads better broken after
                // its punctuation ("dichvucong.gov." / "vn") than at the
                // last grapheme that fits, if that keeps half the line.
                if end < w.end {
                    let after_mark = (start + 1..end).rev().find(|&i| {
                        let g = &p.grs[i - 1];
                        p.text[g.start as usize..g.end as usize]
                            .starts_with(['.', '/', '-', '_', ':', '@', '?', '&', '='])
                    });
                    if let Some(b) = after_mark.filter(|b| 2 * (b - start) >= end - start) {
                        end = b;
                    }
                }
                let piece = Line {
                    segs: vec![(start, end)],
                    words: usize::from(first),
                };
                first = false;
                if end == w.end {
                    cur = piece;
                    (adv, ol) = (a, m.ol(&p.grs[start]));
                } else {
                    push(&mut lines, piece)?;
                }
                start = end;
            }
        }
        push(&mut lines, cur)?;
    }
    Some(lines)
}

/// The sizes text may use on a panel, smallest first, up to a line of
/// `max_line` px. Mono panels get Unifont only (1-bit glyphs stay clean);
/// colour panels switch to DejaVu from [`VECTOR_MIN_LINE`] up.
pub(super) fn candidate_sizes(mono: bool, max_line: u32) -> Vec<Size> {
    let mut v = vec![Size::Bitmap(1)];
    if mono {
        let mut s = 2;
        while UNIFONT_CELL * s <= max_line {
            v.push(Size::Bitmap(s));
            s += 1;
        }
    } else {
        v.extend((VECTOR_MIN_LINE..=max_line).map(Size::Vector));
    }
    v
}

/// Text placed for drawing: one size, lines grouped in pages.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    pub size: Size,
    pub pages: Vec<Vec<Line>>,
}

impl Layout {
    /// Height of the tallest page's text block, px.
    pub(super) fn block_height(&self) -> u32 {
        self.pages.iter().map(Vec::len).max().unwrap_or(0) as u32 * self.size.line_height()
    }

    /// Whether this layout, drawn in a box `h` px high, needs the compact
    /// bitmap face: some page stacks lines with less than one cell row
    /// (`s` px) between them, where Unifont's marks on the top row of a
    /// cell would meet a dot below or a descender on the bottom row of the
    /// cell above (two lines on a 32-px sign, four on a 64-px one). The
    /// whole message then uses it, so its pages look alike.
    pub(super) fn needs_compact(&self, h: u32) -> bool {
        let lh = self.size.line_height();
        match self.size {
            Size::Bitmap(s) => self
                .pages
                .iter()
                .any(|lines| lines.len() > 1 && leading(self.size, lines.len() as u32, h, lh) < s),
            Size::Vector(_) => false,
        }
    }
}

/// Dark rows between the ink boxes (`ink_h` px high) of `n` bitmap lines in
/// a box `h` px high: the spare rows, up to two per scale step. Two keep a
/// dot below nearer its own letter (one dark row above it) than the marks
/// of the line below. None for vector lines (their box has its own gap).
fn leading(size: Size, n: u32, h: u32, ink_h: u32) -> u32 {
    match size {
        Size::Bitmap(s) if n > 1 => (h.saturating_sub(n * ink_h) / (n - 1)).min(2 * s),
        _ => 0,
    }
}

/// The largest size in `sizes` (binary search) at which the text fits
/// `w`×`h` on one page; when even the smallest doesn't fit, the smallest
/// size split into pages, never smaller and never clipped.
pub(super) fn fit(p: &Prepared, vec: Option<&Vector>, sizes: &[Size], w: u32, h: u32) -> Layout {
    if p.is_empty() {
        return Layout {
            size: sizes[0],
            pages: vec![Vec::new()],
        };
    }
    let try_size = |s: Size| {
        let max_lines = (h / s.line_height()) as usize;
        if max_lines == 0 {
            return None;
        }
        wrap(p, vec, s, w, max_lines)
    };
    let (mut lo, mut hi) = (0usize, sizes.len());
    let mut best = None;
    // Invariant: sizes[..lo] fit or are untested below a fit; sizes[hi..] don't.
    while lo < hi {
        let mid = (lo + hi) / 2;
        match try_size(sizes[mid]) {
            Some(lines) => {
                best = Some((sizes[mid], lines));
                lo = mid + 1;
            }
            None => hi = mid,
        }
    }
    if let Some((size, lines)) = best {
        return Layout {
            size,
            pages: vec![lines],
        };
    }
    let size = sizes[0];
    let lines = wrap(p, vec, size, w, usize::MAX).expect("unbounded wrap");
    let per_page = ((h / size.line_height()) as usize).max(1);
    let n_pages = lines.len().div_ceil(per_page);
    // Spread lines evenly so the last page is not a lone line.
    let base = lines.len() / n_pages;
    let extra = lines.len() % n_pages;
    let mut pages = Vec::with_capacity(n_pages);
    let mut it = lines.into_iter();
    for i in 0..n_pages {
        let n = base + usize::from(i < extra);
        pages.push(it.by_ref().take(n).collect());
    }
    Layout { size, pages }
}

/// An 8-bit coverage mask the size of the panel.
pub(super) struct Mask {
    pub w: u32,
    pub h: u32,
    pub data: Vec<u8>,
}

impl Mask {
    pub(super) fn new(w: u32, h: u32) -> Mask {
        Mask {
            w,
            h,
            data: vec![0; (w * h) as usize],
        }
    }
}

/// A rectangle of the panel, px.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// Draws `lines` into `mask`, centred vertically in `area` and aligned
/// horizontally; nothing lands outside `clip` (normally `area`). Bitmap
/// sizes draw with `bitmaps` (Unifont, or the compact face where
/// [`Layout::needs_compact`] says so).
#[allow(clippy::too_many_arguments)]
pub(super) fn draw(
    p: &Prepared,
    bitmaps: &BitmapFace,
    vec: Option<&Vector>,
    size: Size,
    lines: &[Line],
    align: Align,
    area: Rect,
    clip: Rect,
    mask: &mut Mask,
) {
    let lh = size.line_height();
    let n = lines.len() as u32;
    // Lines stack by their ink box: the cell less the face's dark top rows.
    let dark_top = match size {
        Size::Bitmap(s) => bitmaps.dark_top() * s,
        Size::Vector(_) => 0,
    };
    let ink_h = lh - dark_top;
    let leading = leading(size, n, area.h, ink_h);
    let pitch = ink_h + leading;
    let block = n * ink_h + n.saturating_sub(1) * leading;
    let top = area.y as i32 + (area.h.saturating_sub(block) / 2) as i32 - dark_top as i32;
    let m = Measure {
        p,
        size,
        k: scale_k(vec, size),
    };
    let pad = pad_x(size);
    let inner_w = area.w.saturating_sub(2 * pad);
    let clip = (
        clip.x as i32,
        clip.y as i32,
        (clip.x + clip.w).min(mask.w) as i32,
        (clip.y + clip.h).min(mask.h) as i32,
    );
    for (i, line) in lines.iter().enumerate() {
        if line.segs.is_empty() {
            continue;
        }
        let y0 = top + (i as u32 * pitch) as i32;
        let first = &p.grs[line.segs[0].0];
        let last = &p.grs[line.segs[line.segs.len() - 1].1 - 1];
        let adv: f32 = line
            .segs
            .iter()
            .map(|&(a, b)| p.grs[a..b].iter().map(|g| m.adv(g)).sum::<f32>())
            .sum::<f32>()
            + m.space() * (line.segs.len() - 1) as f32;
        let width = m.px(adv, m.ol(first), m.or(last));
        let slack = inner_w.saturating_sub(width);
        let x0 = (area.x + pad) as i32
            + match align {
                Align::Left => 0,
                Align::Center => (slack / 2) as i32,
                Align::Right => slack as i32,
            };
        match size {
            Size::Bitmap(s) => bitmap_line(p, bitmaps, line, (x0, y0), s, clip, mask),
            Size::Vector(l) => {
                let v = vec.expect("vector face for vector sizes");
                let pen = x0 as f32 + m.ol(first) * vbox(v, l).k;
                vector_line(p, v, l, line, (pen, y0), clip, mask);
            }
        }
    }
}

/// The clip rectangle as `(left, top, right, bottom)`, right and bottom
/// exclusive.
type Clip = (i32, i32, i32, i32);

/// One line in a bitmap face at scale `s`, its cell's top left at `at`.
fn bitmap_line(
    p: &Prepared,
    bitmaps: &BitmapFace,
    line: &Line,
    at: (i32, i32),
    s: u32,
    clip: Clip,
    mask: &mut Mask,
) {
    let (mut x, y0) = at;
    for (n, &(a, b)) in line.segs.iter().enumerate() {
        if n > 0 {
            x += 8 * s as i32;
        }
        for g in &p.grs[a..b] {
            let text = &p.text[g.start as usize..g.end as usize];
            for (ci, c) in text.chars().enumerate() {
                // Marks left over after NFC overlay their base's cell.
                let bm = if ci == 0 {
                    bitmaps.glyph(c)
                } else {
                    match bitmaps.get(c) {
                        Some(b) => b,
                        None => continue,
                    }
                };
                blit_bitmap(mask, &bm, x, y0, s, clip);
            }
            x += i32::from(g.bitmap_adv) * s as i32;
        }
    }
}

/// One line in the vector face at `l` pixels, the pen starting at `at.0`
/// and the line's box at `at.1`.
fn vector_line(
    p: &Prepared,
    v: &Vector,
    l: u32,
    line: &Line,
    at: (f32, i32),
    clip: Clip,
    mask: &mut Mask,
) {
    let vb = vbox(v, l);
    let baseline = at.1 + vb.baseline;
    let mut pen = at.0;
    for (n, &(a, b)) in line.segs.iter().enumerate() {
        if n > 0 {
            pen += p.space_adv * vb.k;
        }
        for g in &p.grs[a..b] {
            let text = &p.text[g.start as usize..g.end as usize];
            for (ci, c) in text.chars().enumerate() {
                if ci > 0 && !v.has(c) {
                    continue;
                }
                let gm = v.metrics(c);
                let cov = v.coverage(gm.id, vb.k);
                // Leftover marks are zero-width glyphs drawn
                // back from the pen after their base.
                let at = if ci == 0 { pen } else { pen + g.adv * vb.k };
                blit_coverage(mask, &cov, at.round() as i32, baseline, clip);
            }
            pen += g.adv * vb.k;
        }
    }
}

fn blit_bitmap(mask: &mut Mask, bm: &super::font::Bitmap, x: i32, y: i32, s: u32, clip: Clip) {
    let s = s as i32;
    let bw = i32::from(bm.width);
    for (r, &row) in bm.rows.iter().enumerate() {
        if row == 0 {
            continue;
        }
        let py0 = y + r as i32 * s;
        for dy in 0..s {
            let py = py0 + dy;
            if py < clip.1 || py >= clip.3 {
                continue;
            }
            let base = (py as u32 * mask.w) as usize;
            for col in 0..bw {
                if row & (0x8000 >> col) == 0 {
                    continue;
                }
                let px0 = (x + col * s).max(clip.0);
                let px1 = (x + col * s + s).min(clip.2);
                if px0 < px1 {
                    mask.data[base + px0 as usize..base + px1 as usize].fill(255);
                }
            }
        }
    }
}

fn blit_coverage(mask: &mut Mask, cov: &super::font::Coverage, x: i32, y: i32, clip: Clip) {
    let gx = x + cov.left;
    let gy = y + cov.top;
    for r in 0..cov.height as i32 {
        let py = gy + r;
        if py < clip.1 || py >= clip.3 {
            continue;
        }
        let src = &cov.data[(r as u32 * cov.width) as usize..((r + 1) as u32 * cov.width) as usize];
        let c0 = (clip.0 - gx).max(0);
        let c1 = (clip.2 - gx).min(cov.width as i32);
        if c0 >= c1 {
            continue;
        }
        let base = (py as u32 * mask.w) as i32 + gx;
        for c in c0..c1 {
            let d = &mut mask.data[(base + c) as usize];
            *d = (*d).max(src[c as usize]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prep(s: &str) -> Prepared {
        Prepared::new(s, &BitmapFace::unifont(), None)
    }

    #[test]
    fn words_and_hard_breaks() {
        let p = prep("  Cấm  đỗ xe\n\nngày 15/12  \n");
        assert_eq!(p.word_texts(), ["Cấm", "đỗ", "xe", "ngày", "15/12"]);
        assert_eq!(p.paragraphs.len(), 3, "blank line kept, trailing dropped");
        let lines = wrap(&p, None, Size::Bitmap(1), 1000, 99).unwrap();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].segs.is_empty());
    }

    #[test]
    fn long_word_breaks_at_graphemes() {
        let p = prep("Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa xe");
        let lines = wrap(&p, None, Size::Bitmap(1), 128, 99).unwrap();
        // 44 letters of 8 px on 128 px: 16 + 16 + 12, then " xe" fits.
        let lens: Vec<usize> = lines
            .iter()
            .map(|l| l.segs.iter().map(|s| s.1 - s.0).sum())
            .collect();
        assert_eq!(lens, [16, 16, 14]);
        assert_eq!(lines.iter().map(|l| l.words).sum::<usize>(), 2);
    }

    #[test]
    fn long_addresses_break_after_their_punctuation() {
        // 17 graphemes on a 16-glyph line: "dichvucong.gov." + "vn", not
        // "dichvucong.gov.v" + "n".
        let p = prep("dichvucong.gov.vn");
        let lines = wrap(&p, None, Size::Bitmap(1), 128, 99).unwrap();
        let text: Vec<String> = lines
            .iter()
            .map(|l| {
                l.segs
                    .iter()
                    .map(|s| {
                        p.grs[s.0..s.1]
                            .iter()
                            .map(|g| &p.text[g.start as usize..g.end as usize])
                            .collect::<String>()
                    })
                    .collect()
            })
            .collect();
        assert_eq!(text, ["dichvucong.gov.", "vn"]);
    }

    #[test]
    fn nfd_and_nfc_prepare_the_same() {
        let nfc = "Trung tâm hành chính công ẪẶỄỢ";
        let nfd: String = nfc.nfd().collect();
        assert_ne!(nfc, nfd);
        assert_eq!(prep(nfc).text, prep(&nfd).text);
    }
}
