//! Images: safe decoding of uploads, fitting to a panel rectangle in linear
//! light, and reduction to what the panel can show (1-bit error diffusion,
//! RGB565 ordered dithering).

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbaImage};

use super::{color, resample};
use crate::domain::{Color, Fit};
use crate::i18n::{Reason, Text};

/// Largest accepted image side, px.
pub(super) const MAX_IMAGE_SIDE: u32 = 8192;
/// Largest allocation a decoder may make, bytes.
pub(super) const MAX_IMAGE_ALLOC: u64 = 256 * 1024 * 1024;

/// Why an uploaded image was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Not PNG, JPEG, GIF or WebP, or a feature the decoder lacks; the sentence
    /// says what to upload instead.
    #[error("{0}")]
    Unsupported(Text),
    /// Over 8192 pixels a side, or over the decoder's 256 MiB allocation limit.
    #[error("{0}")]
    TooLarge(Text),
    /// The bytes do not decode (truncated or damaged) or hold no pixels.
    #[error("{0}")]
    Corrupt(Text),
}

/// An upload decoded to RGBA, upright (EXIF orientation applied).
#[derive(Debug, Clone)]
pub struct DecodedImage {
    /// The pixels, 8-bit sRGB with straight alpha, upright.
    pub image: RgbaImage,
    /// MIME type sniffed from the bytes: `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
    pub content_type: &'static str,
    /// Width in pixels, after the EXIF orientation.
    pub width: u32,
    /// Height in pixels, after the EXIF orientation.
    pub height: u32,
}

/// Decodes PNG, JPEG, GIF (first frame) or WebP, sniffed from the bytes.
/// Dimensions and allocations are limited before any pixel is decoded, so
/// a decompression bomb fails fast with [`ImageError::TooLarge`].
pub fn decode_image(bytes: &[u8]) -> Result<DecodedImage, ImageError> {
    let (format, content_type) = sniff(bytes)?;
    let mut decoder = decoder(bytes, format)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(map_error)?;
    img.apply_orientation(orientation);
    let image = img.into_rgba8();
    let (width, height) = image.dimensions();
    if width == 0 || height == 0 {
        return Err(ImageError::Corrupt(Reason::ImageEmpty.into()));
    }
    Ok(DecodedImage {
        image,
        content_type,
        width,
        height,
    })
}

/// The most memory [`decode_image`] and then [`Picture::new`] will hold
/// at once for these bytes, from the image's header alone: nothing is
/// decoded, so a caller can wait for that much room first. Refuses what
/// `decode_image` would refuse by its header (format, size limits).
pub fn decode_cost(bytes: &[u8]) -> Result<u64, ImageError> {
    let (format, _) = sniff(bytes)?;
    let mut decoder = decoder(bytes, format)?;
    let (w, h) = decoder.dimensions();
    let native = decoder.total_bytes();
    let turned = decoder
        .orientation()
        .is_ok_and(|o| o != image::metadata::Orientation::NoTransforms);
    let rgba = u64::from(w) * u64::from(h) * 4;
    let converted = if decoder.color_type() == image::ColorType::Rgba8 {
        0
    } else {
        rgba
    };
    // The decoded pixels (twice while a turn is applied) and their RGBA
    // copy, then the prepared picture made from that copy.
    Ok(native * (1 + u64::from(turned)) + converted + picture_cost(w, h))
}

/// Bytes a [`Picture`] of a `w`×`h` image holds at most.
pub fn picture_cost(w: u32, h: u32) -> u64 {
    let k = w.max(h).div_ceil(PICTURE_MAX_SIDE).max(1);
    u64::from(w.div_ceil(k)) * u64::from(h.div_ceil(k)) * 4 * 4
}

/// The format of the bytes and its content type, if it is one we take.
fn sniff(bytes: &[u8]) -> Result<(ImageFormat, &'static str), ImageError> {
    let format = image::guess_format(bytes)
        .map_err(|_| ImageError::Unsupported(Reason::NotAnImageFile.into()))?;
    let content_type = match format {
        ImageFormat::Png => "image/png",
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::Gif => "image/gif",
        ImageFormat::WebP => "image/webp",
        other => {
            let format = other
                .extensions_str()
                .first()
                .unwrap_or(&"?")
                .to_uppercase();
            return Err(ImageError::Unsupported(
                Reason::ImageFormatRefused { format }.into(),
            ));
        }
    };
    Ok((format, content_type))
}

/// A decoder for the bytes, with the size and allocation limits set (it
/// has read the header, nothing more).
fn decoder(bytes: &[u8], format: ImageFormat) -> Result<impl ImageDecoder + '_, ImageError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_ALLOC);
    reader.limits(limits);
    if format == ImageFormat::Png {
        check_png_palette(bytes)?;
    }
    reader.into_decoder().map_err(map_error)
}

/// Refuses a PNG whose PLTE chunk is not whole RGB triples (the PNG
/// specification, 11.2.3). The png crate (0.18.1) checks only the chunk's
/// range and then panics expanding such a palette, so the chunks are
/// walked here first: headers only, nothing is decompressed.
fn check_png_palette(bytes: &[u8]) -> Result<(), ImageError> {
    let mut rest = bytes.get(8..).unwrap_or_default();
    while let (Some(len), Some(kind)) = (rest.get(0..4), rest.get(4..8)) {
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if kind == b"PLTE" && !len.is_multiple_of(3) {
            return Err(ImageError::Corrupt(Reason::ImagePaletteTorn.into()));
        }
        // Length, type, data, CRC; a chunk running past the end ends the walk
        // and leaves the truncation to the decoder.
        rest = len
            .checked_add(12)
            .and_then(|end| rest.get(end..))
            .unwrap_or_default();
    }
    Ok(())
}

fn map_error(e: image::ImageError) -> ImageError {
    match e {
        image::ImageError::Limits(_) => ImageError::TooLarge(
            Reason::ImageTooManyPixels {
                max: MAX_IMAGE_SIDE,
            }
            .into(),
        ),
        image::ImageError::Unsupported(u) => ImageError::Unsupported(
            Reason::ImageFeature {
                detail: u.to_string(),
            }
            .into(),
        ),
        other => ImageError::Corrupt(
            Reason::ImageDamaged {
                detail: other.to_string(),
            }
            .into(),
        ),
    }
}

/// Where a fitted image lands in its area, and which part of the source.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Placement {
    dx: u32,
    dy: u32,
    dw: u32,
    dh: u32,
    crop: (f64, f64, f64, f64),
}

fn place(sw: u32, sh: u32, w: u32, h: u32, fit: Fit) -> Placement {
    let full = (0.0, 0.0, f64::from(sw), f64::from(sh));
    match fit {
        Fit::Stretch => Placement {
            dx: 0,
            dy: 0,
            dw: w,
            dh: h,
            crop: full,
        },
        Fit::Contain => {
            let s = (f64::from(w) / f64::from(sw)).min(f64::from(h) / f64::from(sh));
            let dw = ((f64::from(sw) * s).round() as u32).clamp(1, w);
            let dh = ((f64::from(sh) * s).round() as u32).clamp(1, h);
            Placement {
                dx: (w - dw) / 2,
                dy: (h - dh) / 2,
                dw,
                dh,
                crop: full,
            }
        }
        Fit::Cover => {
            let s = (f64::from(w) / f64::from(sw)).max(f64::from(h) / f64::from(sh));
            let cw = (f64::from(w) / s).min(f64::from(sw));
            let ch = (f64::from(h) / s).min(f64::from(sh));
            Placement {
                dx: 0,
                dy: 0,
                dw: w,
                dh: h,
                crop: (
                    (f64::from(sw) - cw) / 2.0,
                    (f64::from(sh) - ch) / 2.0,
                    cw,
                    ch,
                ),
            }
        }
    }
}

/// Largest side of a [`Picture`]: bigger uploads are box-averaged (in
/// linear light) down to this once, when the picture is prepared. Twice
/// the largest panel side, so even a full-panel fit still gets a real
/// Lanczos pass.
pub(super) const PICTURE_MAX_SIDE: u32 = 2048;

/// Before Lanczos, a source more than `REDUCING_GAP` times bigger than
/// the target is box-averaged by an integer factor (as Pillow's
/// `reducing_gap`): the Lanczos pass then reads at most about 3× the
/// target. The result differs from a full Lanczos pass by less than one
/// 8-bit level on average (`reduced_fit_matches_full_lanczos`).
const REDUCING_GAP: f64 = 3.0;

/// A decoded image prepared for fitting: linear light as `f32` on a
/// 0..65535 scale, interleaved RGB, or RGBA with premultiplied alpha when
/// any pixel is not opaque; at most `PICTURE_MAX_SIDE` a side. Made once
/// per asset and shared by every render of it (the resampler reads it
/// as is, with no per-render conversion).
#[derive(Debug, Clone)]
pub struct Picture {
    width: u32,
    height: u32,
    alpha: bool,
    data: Vec<f32>,
}

impl Picture {
    /// Prepares a decoded image: linear light, premultiplied alpha if any pixel
    /// is not opaque, box-averaged down to at most 2048 px a side.
    pub fn new(img: &RgbaImage) -> Picture {
        let (w, h) = img.dimensions();
        let t = color::linear_u16_table().map(f32::from);
        let raw: &[u8] = img.as_raw();
        let alpha = raw.chunks_exact(4).any(|px| px[3] != 255);
        let rgba = |px: &[u8]| {
            let a = f32::from(px[3]) / 255.0;
            [
                t[usize::from(px[0])] * a,
                t[usize::from(px[1])] * a,
                t[usize::from(px[2])] * a,
                a * 65535.0,
            ]
        };
        let rgb = |px: &[u8]| {
            [
                t[usize::from(px[0])],
                t[usize::from(px[1])],
                t[usize::from(px[2])],
            ]
        };
        // Bigger than PICTURE_MAX_SIDE: averaged while converting, so a
        // full-size f32 copy of an 8192² upload (1 GiB) never exists.
        let k = w.max(h).div_ceil(PICTURE_MAX_SIDE).max(1);
        let data = match (alpha, k) {
            (true, 1) => convert::<4>(raw, rgba),
            (false, 1) => convert::<3>(raw, rgb),
            (true, _) => convert_reduced::<4>(raw, w, h, k, rgba),
            (false, _) => convert_reduced::<3>(raw, w, h, k, rgb),
        };
        Picture {
            width: w.div_ceil(k),
            height: h.div_ceil(k),
            alpha,
            data,
        }
    }

    /// Width in pixels, after any reduction to 2048 px a side.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels, after any reduction to 2048 px a side.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Memory held, bytes (for cache budgets).
    pub fn bytes(&self) -> usize {
        self.data.len() * std::mem::size_of::<f32>()
    }

    /// The region `(x0, y0, x1, y1)` averaged over `k`×`k` blocks (the last
    /// row and column of blocks may be partial).
    fn reduced(&self, k: u32, region: (u32, u32, u32, u32)) -> Picture {
        let (x0, y0, x1, y1) = region;
        let data = if self.alpha {
            box_average::<4>(&self.data, self.width, k, region)
        } else {
            box_average::<3>(&self.data, self.width, k, region)
        };
        Picture {
            width: (x1 - x0).div_ceil(k),
            height: (y1 - y0).div_ceil(k),
            alpha: self.alpha,
            data,
        }
    }
}

/// RGBA bytes → `C` linear-light floats per pixel.
fn convert<const C: usize>(raw: &[u8], f: impl Fn(&[u8]) -> [f32; C]) -> Vec<f32> {
    let mut data = vec![0f32; raw.len() / 4 * C];
    for (d, px) in data.chunks_exact_mut(C).zip(raw.chunks_exact(4)) {
        d.copy_from_slice(&f(px));
    }
    data
}

/// [`convert`] and the mean of each `k`×`k` block at once (the last row
/// and column of blocks may be partial), holding one row of sums.
fn convert_reduced<const C: usize>(
    raw: &[u8],
    w: u32,
    h: u32,
    k: u32,
    f: impl Fn(&[u8]) -> [f32; C],
) -> Vec<f32> {
    let (w, h, k) = (w as usize, h as usize, k as usize);
    let rw = w.div_ceil(k);
    let mut out = Vec::with_capacity(rw * h.div_ceil(k) * C);
    let mut acc = vec![[0f32; C]; rw];
    for by in (0..h).step_by(k) {
        let rows = k.min(h - by);
        acc.fill([0.0; C]);
        for y in by..by + rows {
            let row = &raw[y * w * 4..(y + 1) * w * 4];
            for (a, block) in acc.iter_mut().zip(row.chunks(k * 4)) {
                for px in block.chunks_exact(4) {
                    for (s, v) in a.iter_mut().zip(f(px)) {
                        *s += v;
                    }
                }
            }
        }
        for (bx, a) in acc.iter().enumerate() {
            let n = (rows * k.min(w - bx * k)) as f32;
            out.extend(a.map(|v| v / n));
        }
    }
    out
}

/// Mean of each `k`×`k` block of `region` in an interleaved `C`-channel
/// image `w` pixels wide.
fn box_average<const C: usize>(
    src: &[f32],
    w: u32,
    k: u32,
    (x0, y0, x1, y1): (u32, u32, u32, u32),
) -> Vec<f32> {
    let (k, w) = (k as usize, w as usize);
    let (x0, y0, x1, y1) = (x0 as usize, y0 as usize, x1 as usize, y1 as usize);
    let rw = (x1 - x0).div_ceil(k);
    let mut out = Vec::with_capacity(rw * (y1 - y0).div_ceil(k) * C);
    let mut acc = vec![0f32; (x1 - x0) * C];
    let mut sums = vec![[0f32; C]; rw];
    for by in (y0..y1).step_by(k) {
        let rows = k.min(y1 - by);
        // Sum the block's rows column by column (contiguous: vectorises),
        // then the columns of each block.
        acc.fill(0.0);
        for y in by..by + rows {
            let row = &src[(y * w + x0) * C..(y * w + x1) * C];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v;
            }
        }
        for (s, block) in sums.iter_mut().zip(acc.chunks(k * C)) {
            *s = [0.0; C];
            for px in block.chunks_exact(C) {
                for c in 0..C {
                    s[c] += px[c];
                }
            }
        }
        for (bx, s) in sums.iter().enumerate() {
            let n = (rows * k.min(x1 - x0 - bx * k)) as f32;
            out.extend(s.map(|v| v / n));
        }
    }
    out
}

/// Linear light (0..65535 per channel) of an sRGB colour.
fn linear_u16(c: Color) -> [u16; 3] {
    let t = color::linear_u16_table();
    c.0.map(|v| t[usize::from(v)])
}

/// Fits `pic` into `w`×`h` and composites it over `bg`, in linear light
/// (0..65535 per channel), row-major. Lanczos3 (after an integer box
/// reduction when the source is more than [`REDUCING_GAP`] times bigger).
pub(super) fn fit_linear(pic: &Picture, w: u32, h: u32, fit: Fit, bg: Color) -> Vec<[u16; 3]> {
    fit_with_gap(pic, w, h, fit, bg, REDUCING_GAP)
}

fn fit_with_gap(pic: &Picture, w: u32, h: u32, fit: Fit, bg: Color, gap: f64) -> Vec<[u16; 3]> {
    let bgl = linear_u16(bg);
    let mut out = vec![bgl; (w as usize) * (h as usize)];
    let (sw, sh) = (pic.width, pic.height);
    if sw == 0 || sh == 0 || w == 0 || h == 0 {
        return out;
    }
    let p = place(sw, sh, w, h, fit);
    let (cx, cy, cw, ch) = p.crop;
    let factor = (cw / f64::from(p.dw)).min(ch / f64::from(p.dh));
    let k = (factor / gap).floor() as u32;
    let reduced;
    let (src, crop) = if k >= 2 {
        // Blocks from the origin, over the whole picture (Lanczos reads
        // past the crop's edges too); the last column and row of blocks
        // may be partial (their mean stands for a whole reduced pixel).
        reduced = pic.reduced(k, (0, 0, sw, sh));
        let kf = f64::from(k);
        let crop = (cx / kf, cy / kf, cw / kf, ch / kf);
        (&reduced, crop)
    } else {
        (pic, p.crop)
    };

    let (dw, dh) = (p.dw as usize, p.dh as usize);
    let (rw, rh) = (src.width as usize, src.height as usize);
    let at = |y: usize| (p.dy as usize + y) * w as usize + p.dx as usize;
    if src.alpha {
        let px = resample::lanczos3::<4>(&src.data, rw, rh, crop, dw, dh);
        for (y, row) in px.chunks_exact(dw).enumerate() {
            let start = at(y);
            for (o, &[r, g, b, a]) in out[start..start + dw].iter_mut().zip(row) {
                // Premultiplied: colour + background × (1 − alpha).
                let rest = 65535 - u32::from(a);
                let over = |c: u16, bg: u16| {
                    (u32::from(c) + (u32::from(bg) * rest + 32767) / 65535).min(65535) as u16
                };
                *o = [over(r, bgl[0]), over(g, bgl[1]), over(b, bgl[2])];
            }
        }
    } else {
        let px = resample::lanczos3::<3>(&src.data, rw, rh, crop, dw, dh);
        for (y, row) in px.chunks_exact(dw).enumerate() {
            let start = at(y);
            out[start..start + dw].copy_from_slice(row);
        }
    }
    out
}

/// Floyd–Steinberg error diffusion (serpentine) on linear luminance:
/// `true` = LED lit. Average brightness is kept, so photos stay readable
/// on a 1-bit panel.
pub(super) fn dither_mono(lin: &[[u16; 3]], w: u32, h: u32) -> Vec<bool> {
    let (w, h) = (w as usize, h as usize);
    let mut cur: Vec<f32> = vec![0.0; w + 2];
    let mut next: Vec<f32> = vec![0.0; w + 2];
    let mut out = vec![false; w * h];
    const S: f32 = 1.0 / 65535.0;
    for y in 0..h {
        for (x, e) in cur.iter_mut().enumerate().skip(1).take(w) {
            let [r, g, b] = lin[y * w + x - 1].map(f32::from);
            *e += (0.2126 * r + 0.7152 * g + 0.0722 * b) * S;
        }
        let ltr = y % 2 == 0;
        for i in 0..w {
            let x = if ltr { i } else { w - 1 - i };
            let c = x + 1; // index into the padded rows
            let v = cur[c];
            let on = v >= 0.5;
            out[y * w + x] = on;
            let err = v - if on { 1.0 } else { 0.0 };
            let (fwd, back) = if ltr { (c + 1, c - 1) } else { (c - 1, c + 1) };
            cur[fwd] += err * 7.0 / 16.0;
            next[back] += err * 3.0 / 16.0;
            next[c] += err * 5.0 / 16.0;
            next[fwd] += err * 1.0 / 16.0;
        }
        std::mem::swap(&mut cur, &mut next);
        next.fill(0.0);
    }
    out
}

/// Linear light → sRGB bytes, written into `dst` rows (`stride` bytes
/// apart) with the area's top-left pixel at byte `at`; with `rgb565`,
/// ordered-dithered onto the panel's 5-6-5 grid so gradients don't band.
pub(super) fn write_srgb(
    lin: &[[u16; 3]],
    w: u32,
    rgb565: bool,
    dst: &mut [u8],
    at: usize,
    stride: usize,
) {
    let enc = color::srgb88_table();
    for (y, row) in lin.chunks_exact(w.max(1) as usize).enumerate() {
        let start = at + y * stride;
        let out = &mut dst[start..start + row.len() * 3];
        if rgb565 {
            let dither = color::Dither565::get();
            for (x, (d, px)) in out.chunks_exact_mut(3).zip(row).enumerate() {
                let s = px.map(|v| enc[usize::from(v)]);
                d.copy_from_slice(&dither.px(s, x as u32, y as u32));
            }
        } else {
            for (d, px) in out.chunks_exact_mut(3).zip(row) {
                for (c, v) in d.iter_mut().zip(px) {
                    *c = ((u32::from(enc[usize::from(*v)]) + 128) >> 8) as u8;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgba};

    fn png(img: &RgbaImage) -> Vec<u8> {
        let mut v = Vec::new();
        image::codecs::png::PngEncoder::new(&mut v)
            .write_image(
                img,
                img.width(),
                img.height(),
                image::ExtendedColorType::Rgba8,
            )
            .unwrap();
        v
    }

    #[test]
    fn decodes_png_and_sniffs_type() {
        let img = RgbaImage::from_pixel(5, 3, Rgba([1, 2, 3, 255]));
        let d = decode_image(&png(&img)).unwrap();
        assert_eq!((d.width, d.height, d.content_type), (5, 3, "image/png"));
        assert_eq!(d.image, img);
    }

    #[test]
    fn a_palette_of_torn_triples_is_refused_not_a_panic() {
        // A 2×2 palette PNG, every CRC right, whose PLTE chunk is 49 bytes
        // (not whole RGB triples), with a tRNS chunk: the png crate (0.18.1)
        // panics expanding it. The image_decode fuzz target found the shape.
        let bytes = include_bytes!("../../tests/fixtures/torn-palette.png");
        let e = decode_image(bytes).unwrap_err();
        assert!(matches!(e, ImageError::Corrupt(_)), "{e:?}");
        assert!(matches!(decode_cost(bytes), Err(ImageError::Corrupt(_))));
    }

    #[test]
    fn rejects_garbage_and_truncation() {
        let e = decode_image(b"hello, this is not an image").unwrap_err();
        assert!(matches!(e, ImageError::Unsupported(_)), "{e:?}");
        assert!(e.to_string().contains("PNG"));
        let img = RgbaImage::from_fn(64, 64, |x, y| Rgba([x as u8 * 4, y as u8 * 4, 7, 255]));
        let bytes = png(&img);
        let e = decode_image(&bytes[..bytes.len() / 2]).unwrap_err();
        assert!(matches!(e, ImageError::Corrupt(_)), "{e:?}");
        // A BMP is a real image, but not one we take.
        let e = decode_image(b"BM\x3a\0\0\0\0\0\0\0\x36\0\0\0").unwrap_err();
        assert!(matches!(e, ImageError::Unsupported(_)), "{e:?}");
    }

    #[test]
    fn decompression_bomb_fails_fast() {
        // A valid 1×1 PNG whose header is rewritten to claim 100000×100000.
        let mut bytes = png(&RgbaImage::new(1, 1));
        // IHDR data starts at 16: width, height (big-endian), then the CRC at 29.
        bytes[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crate::frame::crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        // TooLarge (not Corrupt, which running out of pixel data would
        // give) shows the header was refused by the limits before any
        // buffer for 10¹⁰ pixels was asked for. No timing: speed is for
        // the benchmarks.
        let e = decode_image(&bytes).unwrap_err();
        assert!(matches!(e, ImageError::TooLarge(_)), "{e:?}");
        let e = decode_cost(&bytes).unwrap_err();
        assert!(matches!(e, ImageError::TooLarge(_)), "{e:?}");
    }

    /// What decoding will hold, from the header: the pixels as stored, the
    /// RGBA copy (none when they are RGBA already) and the picture.
    #[test]
    fn decode_cost_is_read_from_the_header() {
        let rgba8 = png(&RgbaImage::new(100, 50));
        let px = 100 * 50;
        assert_eq!(decode_cost(&rgba8).unwrap(), px * 4 + px * 16);
        let mut rgb16 = Vec::new();
        image::codecs::png::PngEncoder::new(&mut rgb16)
            .write_image(
                &vec![0u8; 100 * 50 * 6],
                100,
                50,
                image::ExtendedColorType::Rgb16,
            )
            .unwrap();
        assert_eq!(decode_cost(&rgb16).unwrap(), px * 6 + px * 4 + px * 16);
        // The picture is at most 2048 a side.
        assert_eq!(picture_cost(8192, 4096), 2048 * 1024 * 16);
        assert!(matches!(
            decode_cost(b"not an image"),
            Err(ImageError::Unsupported(_))
        ));
    }

    #[test]
    fn honours_exif_orientation() {
        use image::codecs::jpeg::JpegEncoder;
        // 4 wide × 2 tall: left half white, right half black.
        let img = image::RgbImage::from_fn(16, 8, |x, _| {
            if x < 8 {
                image::Rgb([255, 255, 255])
            } else {
                image::Rgb([0, 0, 0])
            }
        });
        // Minimal little-endian TIFF with one IFD entry: Orientation = 6 (rotate 90° cw).
        let mut exif = b"II\x2a\x00\x08\x00\x00\x00\x01\x00".to_vec();
        exif.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]);
        exif.extend_from_slice(&[0, 0, 0, 0]);
        let mut bytes = Vec::new();
        let mut enc = JpegEncoder::new_with_quality(&mut bytes, 95);
        enc.set_exif_metadata(exif).unwrap();
        enc.write_image(&img, 16, 8, image::ExtendedColorType::Rgb8)
            .unwrap();
        let d = decode_image(&bytes).unwrap();
        assert_eq!((d.width, d.height), (8, 16), "rotated upright");
        // Rotating 90° clockwise puts the (white) left half on top.
        assert!(d.image.get_pixel(4, 2).0[0] > 200);
        assert!(d.image.get_pixel(4, 13).0[0] < 50);
    }

    #[test]
    fn fit_modes_place_the_image() {
        let red = Picture::new(&RgbaImage::from_pixel(100, 50, Rgba([255, 0, 0, 255])));
        let out = fit_linear(&red, 40, 40, Fit::Contain, Color::BLACK);
        // 40×20 band in the middle, black bars above and below.
        assert!(out[0][0] < 600 && out[(20 * 40 + 20) as usize][0] > 65000);
        let out = fit_linear(&red, 40, 40, Fit::Cover, Color::BLACK);
        assert!(out.iter().all(|p| p[0] > 65000));
        let half = Picture::new(&RgbaImage::from_pixel(10, 10, Rgba([255, 255, 255, 128])));
        let out = fit_linear(&half, 10, 10, Fit::Stretch, Color::BLACK);
        assert!(
            (f32::from(out[55][1]) / 65535.0 - 128.0 / 255.0).abs() < 0.02,
            "alpha over black in linear light"
        );
    }

    /// The box pre-reduction is a shortcut, not a different look: against
    /// a full Lanczos pass over the sample photo (sharp edges, gradients,
    /// text) and a noisy synthetic image, every profile-sized fit stays
    /// within a fraction of an 8-bit level on average.
    #[test]
    fn reduced_fit_matches_full_lanczos() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/content/assets/1670e596e599b6119e66ba944f2211431117f9a34600c7f09271f579f9be3714.png"
        );
        let photo = decode_image(&std::fs::read(path).unwrap()).unwrap().image;
        let mut seed = 1u32;
        let noisy = RgbaImage::from_fn(1000, 700, |x, y| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let n = (seed >> 24) as u8;
            let edge = if (x / 37 + y / 23) % 2 == 0 { 200 } else { 30 };
            Rgba([n, edge, (x % 256) as u8, 255])
        });
        let enc = color::srgb88_table();
        for img in [&photo, &noisy] {
            let pic = Picture::new(img);
            for (w, h) in [(32, 32), (96, 96), (128, 64), (192, 192), (60, 20)] {
                for fit in [Fit::Contain, Fit::Cover] {
                    let full = fit_with_gap(&pic, w, h, fit, Color::BLACK, f64::INFINITY);
                    let fast = fit_linear(&pic, w, h, fit, Color::BLACK);
                    // In linear light (what the LEDs emit), as a share of
                    // full scale; sRGB levels are printed too. Near black
                    // the sRGB curve magnifies tiny linear differences,
                    // mostly where full Lanczos undershoots below zero at a
                    // hard edge and is clipped.
                    let spread = |f: &dyn Fn(u16) -> f64| {
                        let mut d: Vec<f64> = full
                            .iter()
                            .zip(&fast)
                            .flat_map(|(a, b)| (0..3).map(move |c| (a[c], b[c])))
                            .map(|(a, b)| (f(a) - f(b)).abs())
                            .collect();
                        d.sort_by(f64::total_cmp);
                        let mean = d.iter().sum::<f64>() / d.len() as f64;
                        (mean, d[d.len() * 99 / 100], d[d.len() - 1])
                    };
                    let lin = spread(&|v| f64::from(v) / 65535.0 * 100.0);
                    let srgb = spread(&|v| f64::from(enc[usize::from(v)]) / 256.0);
                    eprintln!(
                        "{}x{} -> {w}x{h} {fit:?}: linear % mean {:.3} p99 {:.2} max {:.2}; sRGB levels mean {:.2} p99 {:.1} max {:.1}",
                        img.width(),
                        img.height(),
                        lin.0, lin.1, lin.2, srgb.0, srgb.1, srgb.2
                    );
                    assert!(lin.0 < 0.5, "{w}x{h} {fit:?}: mean difference {}%", lin.0);
                    assert!(
                        lin.1 < 3.0,
                        "{w}x{h} {fit:?}: 1% of values differ by {}%+",
                        lin.1
                    );
                    assert!(
                        srgb.0 < 1.5,
                        "{w}x{h} {fit:?}: mean difference {} levels",
                        srgb.0
                    );
                }
            }
        }
    }

    #[test]
    fn big_uploads_are_averaged_down_once() {
        // 4100 × 30: over 2048, so 3 × 3 blocks (the last ones partial).
        let img = RgbaImage::from_fn(4100, 30, |x, _| {
            let v = if x % 2 == 0 { 255 } else { 0 };
            Rgba([v, v, v, 255])
        });
        let pic = Picture::new(&img);
        assert_eq!((pic.width(), pic.height()), (1367, 10));
        // Alternating white/black columns average in linear light: a block
        // of 3 has 2 white + 1 black or 1 + 2, never an sRGB mid-grey.
        let first = pic.data[0];
        assert!((first - 65535.0 * 2.0 / 3.0).abs() < 1.0, "{first}");
        // The last block holds 4100 - 1366 × 3 = 2 columns: x 4098 (white)
        // and 4099 (black).
        let last = pic.data[(1366) * 3];
        assert!((last - 65535.0 / 2.0).abs() < 1.0, "{last}");
        // The same from the general box average over a full-size copy.
        let full = Picture {
            width: 4100,
            height: 30,
            alpha: false,
            data: convert::<3>(img.as_raw(), |px| {
                let t = color::linear_u16_table();
                [0, 1, 2].map(|c| f32::from(t[usize::from(px[c])]))
            }),
        };
        let r = full.reduced(3, (0, 0, 4100, 30));
        assert_eq!((r.width, r.height), (pic.width, pic.height));
        assert!(r
            .data
            .iter()
            .zip(&pic.data)
            .all(|(a, b)| (a - b).abs() < 0.5));
    }

    #[test]
    fn mono_dither_keeps_average_brightness() {
        let grey = vec![[16384u16; 3]; 64 * 64];
        let lit = dither_mono(&grey, 64, 64).iter().filter(|b| **b).count();
        assert!((lit as f32 / 4096.0 - 0.25).abs() < 0.02, "{lit}");
    }
}
