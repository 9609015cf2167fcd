//! Vietnamese text and images to panel-true pixels.
//!
//! [`Renderer::render`] turns a message (text, image, style) into one or
//! more pages for a panel profile. A page holds exactly what the panel's
//! pixel format can show: 1-bit for mono, the RGB565 grid for rgb565, so
//! [`Page::preview`] is what the glass shows and [`Page::data`] is the BTF1
//! payload.
//!
//! - `font`: the embedded faces (GNU Unifont bitmaps, their compact form
//!   for lines stacked with no spare row, DejaVu Sans Bold) and the glyph
//!   cache.
//! - `text`: NFC normalisation, word wrap, size search, pagination.
//! - `picture`: upload decoding, fitting in linear light, dithering.
//! - `color`: sRGB/linear tables, RGB565.
//!
//! This module is pure: it never reads the clock, the disk or the network
//! (fonts are compiled in), and the same input always gives the same pixels.

mod color;
mod font;
mod picture;
mod resample;
mod text;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

use image::{Rgb, RgbImage};

use crate::domain::{Caption, Color, PixelFormat, Profile, Style};
pub use picture::{decode_cost, decode_image, picture_cost, DecodedImage, ImageError, Picture};
use text::{Layout, Mask, Prepared, Rect};

/// Words a passer-by reads per second, for the reading-time warning.
pub const READING_WORDS_PER_S: f32 = 3.0;

/// What to render: text (may be empty), an optional image, and the style.
#[derive(Debug, Clone, Copy)]
pub struct Content<'a> {
    /// The message text, in any Unicode normalisation form (normalised to NFC
    /// before shaping); may be empty.
    pub text: &'a str,
    /// The prepared image to show, if any.
    pub image: Option<&'a Picture>,
    /// Text and background colours, alignment, image fit and caption placement.
    pub style: &'a Style,
}

/// The pages of one message on one panel; always at least one.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The pages in showing order.
    pub pages: Vec<Page>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pixels {
    /// mono1 rows, `ceil(w/8)` bytes each, MSB = leftmost, 1 = lit.
    Mono(Vec<u8>),
    /// Colour already reduced to what the panel shows.
    Rgb(RgbImage),
}

/// One frame's worth of pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    format: PixelFormat,
    width: u32,
    height: u32,
    /// LED colour of a mono panel, for previews.
    tint: Color,
    words: usize,
    pixels: Pixels,
}

impl Page {
    /// Words of text on this page (for the reading-time warning).
    pub fn words(&self) -> usize {
        self.words
    }

    /// Bytes its pixels hold (for caches bounded by bytes).
    pub fn bytes(&self) -> usize {
        match &self.pixels {
            Pixels::Mono(bits) => bits.len(),
            Pixels::Rgb(img) => img.as_raw().len(),
        }
    }

    /// The BTF1 data for the profile's pixel format (borrowed where the
    /// page's pixels already are that data: mono and RGB888).
    pub fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(match (&self.pixels, self.format) {
            (Pixels::Mono(bits), _) => return Cow::Borrowed(bits),
            (Pixels::Rgb(img), PixelFormat::Rgb565) => {
                let pack = color::Pack565::get();
                let raw = img.as_raw();
                let mut out = vec![0u8; raw.len() / 3 * 2];
                for (d, px) in out.chunks_exact_mut(2).zip(raw.chunks_exact(3)) {
                    d.copy_from_slice(&pack.word([px[0], px[1], px[2]]).to_le_bytes());
                }
                out
            }
            (Pixels::Rgb(img), PixelFormat::Png) => png_bytes(img),
            (Pixels::Rgb(img), _) => return Cow::Borrowed(img.as_raw()),
        })
    }

    /// What the glass shows, at panel size: mono pages light their LEDs in
    /// the panel's colour on black.
    pub fn preview(&self) -> RgbImage {
        match &self.pixels {
            Pixels::Rgb(img) => img.clone(),
            Pixels::Mono(bits) => {
                let stride = self.width.div_ceil(8) as usize;
                RgbImage::from_fn(self.width, self.height, |x, y| {
                    let byte = bits[y as usize * stride + x as usize / 8];
                    if byte & (0x80 >> (x % 8)) != 0 {
                        Rgb(self.tint.0)
                    } else {
                        Rgb([0, 0, 0])
                    }
                })
            }
        }
    }
}

/// Renders messages for panels. Built once (it parses the embedded fonts)
/// and shared; the glyph cache inside is behind a lock.
pub struct Renderer {
    uni: font::BitmapFace,
    compact: font::BitmapFace,
    vec: font::Vector,
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new()
    }
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renderer")
    }
}

/// Tallest text line for text alone on a panel: the full height on small
/// signs (one big word on a P10), half of it on big billboards.
fn max_line(h: u32) -> u32 {
    if h <= 64 {
        h
    } else {
        (h / 2).max(64)
    }
}

/// What the caption shares the panel with.
struct Regions {
    image: Option<Rect>,
    text: Rect,
    /// Solid background under the text when it sits over the image.
    band: Option<Rect>,
    /// Where the caption sits, when text shares the panel with an image.
    caption: Option<Caption>,
}

impl Regions {
    /// Moves the image's edge (or the band's top) so that one dark row
    /// stands between the picture and the ink rows `top..=bottom` of every
    /// page: a tone mark on the band's top row would otherwise touch the
    /// picture's last lit row and merge with it on the glass.
    fn clear_of_ink(mut self, top: u32, bottom: u32, h: u32) -> Regions {
        match self.caption {
            Some(Caption::Over) => {
                if let Some(b) = self.band.as_mut() {
                    let y = b.y.min(top.saturating_sub(1));
                    *b = Rect {
                        h: b.y + b.h - y,
                        y,
                        ..*b
                    };
                }
            }
            Some(Caption::Below) => {
                self.image = self
                    .image
                    .map(|r| Rect {
                        h: r.h.min(top.saturating_sub(1)),
                        ..r
                    })
                    .filter(|r| r.h > 0);
            }
            Some(Caption::Above) => {
                self.image = self
                    .image
                    .map(|r| {
                        let y = r.y.max(bottom + 2).min(h);
                        Rect { y, h: h - y, ..r }
                    })
                    .filter(|r| r.h > 0);
            }
            None => {}
        }
        self
    }
}

/// The first and last rows of `masks` with ink (coverage of at least
/// `min`), or `None` when no page has any.
fn ink_rows(masks: &[Mask], min: u8) -> Option<(u32, u32)> {
    let rows = masks.iter().flat_map(|m| {
        m.data
            .chunks_exact(m.w as usize)
            .enumerate()
            .filter(|(_, row)| row.iter().any(|&a| a >= min))
            .map(|(y, _)| y as u32)
    });
    rows.fold(None, |acc, y| match acc {
        None => Some((y, y)),
        Some((a, b)) => Some((a.min(y), b.max(y))),
    })
}

impl Renderer {
    /// Parses the embedded fonts and starts an empty glyph cache; costly, so
    /// build one and share it.
    pub fn new() -> Renderer {
        let uni = font::BitmapFace::unifont();
        Renderer {
            compact: uni.compact(),
            uni,
            vec: font::Vector::load(),
        }
    }

    /// How many pages `render` will make, from the layout alone (no pixel
    /// is drawn): what a caller that bounds memory needs to know first.
    pub fn pages(&self, content: &Content<'_>, profile: &Profile) -> usize {
        let (w, h) = (
            u32::from(profile.width).max(1),
            u32::from(profile.height).max(1),
        );
        let mono = profile.format == PixelFormat::Mono1;
        let vec = (!mono).then_some(&self.vec);
        let prep = Prepared::new(content.text, &self.uni, vec);
        self.layout(content, &prep, mono, w, h).1.pages.len()
    }

    /// Where the image and the text go, and the text's lines and pages.
    fn layout(
        &self,
        content: &Content<'_>,
        prep: &Prepared,
        mono: bool,
        w: u32,
        h: u32,
    ) -> (Regions, text::Layout) {
        let vec = (!mono).then_some(&self.vec);
        let full = Rect { x: 0, y: 0, w, h };
        match content.image {
            None => {
                let sizes = text::candidate_sizes(mono, max_line(h));
                let layout = text::fit(prep, vec, &sizes, w, h);
                (
                    Regions {
                        image: None,
                        text: full,
                        band: None,
                        caption: None,
                    },
                    layout,
                )
            }
            Some(_) if prep.is_empty() => (
                Regions {
                    image: Some(full),
                    text: full,
                    band: None,
                    caption: None,
                },
                text::fit(prep, vec, &[text::Size::Bitmap(1)], w, h),
            ),
            Some(_) => self.caption(prep, mono, w, h, content.style.caption.unwrap_or_default()),
        }
    }

    /// Pure and deterministic: same input, same pixels.
    pub fn render(&self, content: &Content<'_>, profile: &Profile) -> Rendered {
        // Profile fields are public; a zero side would be no panel at all.
        let (w, h) = (
            u32::from(profile.width).max(1),
            u32::from(profile.height).max(1),
        );
        let mono = profile.format == PixelFormat::Mono1;
        let style = content.style;
        let vec = (!mono).then_some(&self.vec);
        let prep = Prepared::new(content.text, &self.uni, vec);
        let (regions, layout) = self.layout(content, &prep, mono, w, h);

        // Lines packed with no spare row take the compact face, so a mark
        // never meets the line above.
        let bitmaps = if layout.needs_compact(regions.text.h) {
            &self.compact
        } else {
            &self.uni
        };
        let masks: Vec<Mask> = layout
            .pages
            .iter()
            .map(|lines| {
                let mut mask = Mask::new(w, h);
                text::draw(
                    &prep,
                    bitmaps,
                    vec,
                    layout.size,
                    lines,
                    style.align.unwrap_or_default(),
                    regions.text,
                    regions.text,
                    &mut mask,
                );
                mask
            })
            .collect();
        // Mono lights a pixel from half coverage; colour shows any.
        let regions = match ink_rows(&masks, if mono { 128 } else { 1 }) {
            Some((top, bottom)) => regions.clear_of_ink(top, bottom, h),
            None => regions,
        };

        // The image is fitted once and shared by every page.
        let fitted = content.image.zip(regions.image).map(|(img, r)| {
            let lin = picture::fit_linear(
                img,
                r.w,
                r.h,
                style.fit.unwrap_or_default(),
                style.background.unwrap_or(Color::BLACK),
            );
            (r, lin)
        });
        let pages = layout
            .pages
            .iter()
            .zip(&masks)
            .map(|(lines, mask)| {
                let words = lines.iter().map(|l| l.words).sum();
                let pixels = if mono {
                    compose_mono(mask, fitted.as_ref(), regions.band, style)
                } else {
                    compose_rgb(mask, fitted.as_ref(), regions.band, style, profile.format)
                };
                Page {
                    format: profile.format,
                    width: w,
                    height: h,
                    tint: profile.color,
                    words,
                    pixels,
                }
            })
            .collect();
        Rendered { pages }
    }

    /// Image with a caption band: the band is as tall as the caption needs
    /// at a legible size (at most half the panel), the image gets the rest.
    fn caption(
        &self,
        prep: &Prepared,
        mono: bool,
        w: u32,
        h: u32,
        caption: Caption,
    ) -> (Regions, Layout) {
        let vec = (!mono).then_some(&self.vec);
        let min_line = text::Size::Bitmap(1).line_height();
        let band_max = (h / 2).max(min_line.min(h));
        let sizes = text::candidate_sizes(mono, (h / 5).max(min_line));
        let layout = text::fit(prep, vec, &sizes, w, band_max);
        let band_h = layout.block_height().clamp(1, h);
        let rest = h - band_h;
        let regions = match caption {
            Caption::Below => Regions {
                image: (rest > 0).then_some(Rect {
                    x: 0,
                    y: 0,
                    w,
                    h: rest,
                }),
                text: Rect {
                    x: 0,
                    y: rest,
                    w,
                    h: band_h,
                },
                band: None,
                caption: Some(caption),
            },
            Caption::Above => Regions {
                image: (rest > 0).then_some(Rect {
                    x: 0,
                    y: band_h,
                    w,
                    h: rest,
                }),
                text: Rect {
                    x: 0,
                    y: 0,
                    w,
                    h: band_h,
                },
                band: None,
                caption: Some(caption),
            },
            Caption::Over => {
                let band = Rect {
                    x: 0,
                    y: rest,
                    w,
                    h: band_h,
                };
                Regions {
                    image: Some(Rect { x: 0, y: 0, w, h }),
                    text: band,
                    band: Some(band),
                    caption: Some(caption),
                }
            }
        };
        (regions, layout)
    }
}

/// Mono: the background is lit if it is light; text takes the other state
/// unless its own colour says otherwise, and always contrasts.
fn mono_states(style: &Style) -> (bool, bool) {
    let bg_on = style.background.is_some_and(|c| color::luminance(c) >= 0.5);
    let mut text_on = style.color.map_or(!bg_on, |c| color::luminance(c) >= 0.5);
    if text_on == bg_on {
        text_on = !bg_on;
    }
    (bg_on, text_on)
}

fn compose_mono(
    mask: &Mask,
    fitted: Option<&(Rect, Vec<[u16; 3]>)>,
    band: Option<Rect>,
    style: &Style,
) -> Pixels {
    let (w, h) = (mask.w as usize, mask.h as usize);
    let (bg_on, text_on) = mono_states(style);
    let mut lit = vec![bg_on; w * h];
    if let Some((r, lin)) = fitted {
        let bits = picture::dither_mono(lin, r.w, r.h);
        for (y, row) in bits.chunks_exact(r.w as usize).enumerate() {
            let at = (r.y as usize + y) * w + r.x as usize;
            lit[at..at + row.len()].copy_from_slice(row);
        }
    }
    if let Some(b) = band {
        for y in b.y..b.y + b.h {
            let at = y as usize * w + b.x as usize;
            lit[at..at + b.w as usize].fill(bg_on);
        }
    }
    for (l, &a) in lit.iter_mut().zip(&mask.data) {
        if a >= 128 {
            *l = text_on;
        }
    }
    let stride = w.div_ceil(8);
    let mut out = vec![0u8; stride * h];
    for (row, bits) in out.chunks_exact_mut(stride).zip(lit.chunks_exact(w)) {
        for (x, &on) in bits.iter().enumerate() {
            if on {
                row[x / 8] |= 0x80 >> (x % 8);
            }
        }
    }
    Pixels::Mono(out)
}

fn compose_rgb(
    mask: &Mask,
    fitted: Option<&(Rect, Vec<[u16; 3]>)>,
    band: Option<Rect>,
    style: &Style,
    format: PixelFormat,
) -> Pixels {
    let (w, h) = (mask.w, mask.h);
    let bg = style.background.unwrap_or(Color::BLACK);
    let fg = style.color.unwrap_or(Color::WHITE);
    let rgb565 = format == PixelFormat::Rgb565;
    // On RGB565 panels every colour snaps to the grid; image pixels are
    // dithered onto it instead.
    let snap = |c: [u8; 3]| if rgb565 { color::round565(c) } else { c };
    let bg_px = snap(bg.0);
    let ramp = || color::ramp(bg, fg).map(snap);
    if fitted.is_none() && band.is_none() {
        // Text only: every pixel is its coverage's colour (ramp[0] = bg).
        let ramp = ramp();
        let mut buf = vec![0u8; mask.data.len() * 3];
        for (d, &a) in buf.chunks_exact_mut(3).zip(&mask.data) {
            d.copy_from_slice(&ramp[usize::from(a)]);
        }
        return Pixels::Rgb(RgbImage::from_raw(w, h, buf).expect("w × h × 3 bytes"));
    }
    let mut img = RgbImage::from_pixel(w, h, Rgb(bg_px));
    let stride = w as usize * 3;
    if let Some((r, lin)) = fitted {
        let at = r.y as usize * stride + r.x as usize * 3;
        picture::write_srgb(lin, r.w, rgb565, &mut img, at, stride);
    }
    if let Some(b) = band {
        let buf: &mut [u8] = &mut img;
        for y in b.y..b.y + b.h {
            let at = y as usize * stride + b.x as usize * 3;
            for d in buf[at..at + b.w as usize * 3].chunks_exact_mut(3) {
                d.copy_from_slice(&bg_px);
            }
        }
    }
    if mask.data.iter().all(|&a| a == 0) {
        return Pixels::Rgb(img);
    }
    let ramp = ramp();
    let buf: &mut [u8] = &mut img;
    for (d, &a) in buf.chunks_exact_mut(3).zip(&mask.data) {
        if a > 0 {
            d.copy_from_slice(&ramp[usize::from(a)]);
        }
    }
    Pixels::Rgb(img)
}

/// A PNG file of `img`.
pub fn png_bytes(img: &RgbImage) -> Vec<u8> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encoding a PNG into memory cannot fail");
    out
}

/// "LED look": every pixel drawn as a round dot `scale` px apart on a dark
/// ground; dark pixels show as dim dots so the LED grid stays visible.
pub fn led_look(img: &RgbImage, scale: u32) -> RgbImage {
    let s = scale.max(1);
    const GROUND: [u8; 3] = [10, 10, 10];
    const OFF: [u8; 3] = [34, 34, 34];
    // Dot coverage for one cell, 4×4 supersampled.
    let r = s as f32 * 0.42;
    let c = s as f32 / 2.0;
    let cell: Vec<f32> = (0..s * s)
        .map(|i| {
            let (x, y) = ((i % s) as f32, (i / s) as f32);
            let mut n = 0;
            for sy in 0..4 {
                for sx in 0..4 {
                    let dx = x + (sx as f32 + 0.5) / 4.0 - c;
                    let dy = y + (sy as f32 + 0.5) / 4.0 - c;
                    if dx * dx + dy * dy <= r * r {
                        n += 1;
                    }
                }
            }
            n as f32 / 16.0
        })
        .collect();
    let cell = if s < 3 {
        vec![1.0; (s * s) as usize]
    } else {
        cell
    };
    RgbImage::from_fn(img.width() * s, img.height() * s, |x, y| {
        let p = img.get_pixel(x / s, y / s).0;
        let dot = if p.iter().map(|&v| u32::from(v)).sum::<u32>() < 48 {
            OFF
        } else {
            p
        };
        let a = cell[((y % s) * s + x % s) as usize];
        Rgb(std::array::from_fn(|i| {
            (f32::from(GROUND[i]) + (f32::from(dot[i]) - f32::from(GROUND[i])) * a).round() as u8
        }))
    })
}

/// Why page `page` is too dense, when it holds more words than a
/// passer-by can read in `dwell_s` seconds at [`READING_WORDS_PER_S`].
pub fn reading_warning(page: usize, words: usize, dwell_s: u32) -> Option<crate::i18n::Reason> {
    let readable = dwell_s as f32 * READING_WORDS_PER_S;
    if words as f32 <= readable {
        return None;
    }
    let need = (words as f32 / READING_WORDS_PER_S).ceil() as u32;
    Some(crate::i18n::Reason::ReadingTooFast {
        page,
        words,
        need,
        dwell: dwell_s,
    })
}
