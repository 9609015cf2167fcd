//! Images: safe decoding of uploads, fitting to a panel rectangle in linear
//! light, and reduction to what the panel can show (1-bit error diffusion,
//! RGB565 ordered dithering).

use std::io::Cursor;

use fast_image_resize as fr;
use fr::pixels::U16x4;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbaImage};

use super::color;
use crate::domain::{Color, Fit};

/// Largest accepted image side, px.
pub const MAX_IMAGE_SIDE: u32 = 8192;
/// Largest allocation a decoder may make, bytes.
pub const MAX_IMAGE_ALLOC: u64 = 256 * 1024 * 1024;

/// Why an uploaded image was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Corrupt(String),
}

/// An upload decoded to RGBA, upright (EXIF orientation applied).
#[derive(Debug, Clone)]
pub struct DecodedImage {
    pub image: RgbaImage,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
}

/// Decodes PNG, JPEG, GIF (first frame) or WebP, sniffed from the bytes.
/// Dimensions and allocations are limited before any pixel is decoded, so
/// a decompression bomb fails fast with [`ImageError::TooLarge`].
pub fn decode_image(bytes: &[u8]) -> Result<DecodedImage, ImageError> {
    let format = image::guess_format(bytes).map_err(|_| {
        ImageError::Unsupported(
            "the file is not a PNG, JPEG, GIF or WebP image: upload one of those".into(),
        )
    })?;
    let content_type = match format {
        ImageFormat::Png => "image/png",
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::Gif => "image/gif",
        ImageFormat::WebP => "image/webp",
        other => {
            return Err(ImageError::Unsupported(format!(
                "{} images are not accepted: upload PNG, JPEG, GIF or WebP",
                other
                    .extensions_str()
                    .first()
                    .unwrap_or(&"these")
                    .to_uppercase()
            )));
        }
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_ALLOC);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(map_error)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(map_error)?;
    img.apply_orientation(orientation);
    let image = img.into_rgba8();
    let (width, height) = image.dimensions();
    if width == 0 || height == 0 {
        return Err(ImageError::Corrupt("the image has no pixels".into()));
    }
    Ok(DecodedImage {
        image,
        content_type,
        width,
        height,
    })
}

fn map_error(e: image::ImageError) -> ImageError {
    match e {
        image::ImageError::Limits(_) => ImageError::TooLarge(format!(
            "the image is too large: at most {MAX_IMAGE_SIDE}×{MAX_IMAGE_SIDE} pixels are accepted; scale it down and upload it again"
        )),
        image::ImageError::Unsupported(u) => ImageError::Unsupported(format!(
            "this image uses a feature that cannot be decoded ({u}): save it again as a plain PNG or JPEG"
        )),
        other => ImageError::Corrupt(format!(
            "the image could not be decoded ({other}): the file may be truncated or damaged; export it again"
        )),
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

/// Sources bigger than this (pixels) are first shrunk in sRGB so the
/// linear-light pass never holds a huge 16-bit copy.
const LINEAR_PASS_MAX_PIXELS: f64 = 16.0 * 1024.0 * 1024.0;

/// Fits `img` into `w`×`h` and composites it over `bg`, in linear light
/// (0..1 per channel), row-major. Lanczos3, alpha-aware.
pub fn fit_linear(img: &RgbaImage, w: u32, h: u32, fit: Fit, bg: Color) -> Vec<[f32; 3]> {
    let bgl = bg.0.map(color::to_linear);
    let mut out = vec![bgl; (w * h) as usize];
    let (sw, sh) = img.dimensions();
    if sw == 0 || sh == 0 || w == 0 || h == 0 {
        return out;
    }
    let p = place(sw, sh, w, h, fit);
    let opaque = img.pixels().all(|px| px.0[3] == 255);
    let mut resizer = fr::Resizer::new();
    let lanczos = fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3);

    // Optional first pass in sRGB for very large sources.
    let (mut src_w, mut src_h) = (sw, sh);
    let mut crop = p.crop;
    let shrunk;
    let src_rgba: &RgbaImage = if crop.2 * crop.3 > LINEAR_PASS_MAX_PIXELS {
        let tw = (p.dw * 4).min(crop.2 as u32).max(1);
        let th = (p.dh * 4).min(crop.3 as u32).max(1);
        let mut dst = RgbaImage::new(tw, th);
        let opts = fr::ResizeOptions::new()
            .resize_alg(lanczos)
            .crop(crop.0, crop.1, crop.2, crop.3)
            .use_alpha(!opaque);
        resizer
            .resize(img, &mut dst, &opts)
            .expect("same pixel types");
        shrunk = dst;
        (src_w, src_h) = (tw, th);
        crop = (0.0, 0.0, f64::from(tw), f64::from(th));
        &shrunk
    } else {
        img
    };

    let t = color::linear_u16_table();
    let lin: Vec<U16x4> = src_rgba
        .pixels()
        .map(|px| {
            let [r, g, b, a] = px.0;
            U16x4::new([
                t[usize::from(r)],
                t[usize::from(g)],
                t[usize::from(b)],
                u16::from(a) * 257,
            ])
        })
        .collect();
    let src =
        fr::images::TypedImage::<U16x4>::from_pixels(src_w, src_h, lin).expect("size matches");
    let mut dst = fr::images::TypedImage::<U16x4>::new(p.dw, p.dh);
    let opts = fr::ResizeOptions::new()
        .resize_alg(lanczos)
        .crop(crop.0, crop.1, crop.2, crop.3)
        .use_alpha(!opaque);
    resizer
        .resize_typed(&src, &mut dst, &opts)
        .expect("same pixel types");

    // Row by row: no division per pixel.
    for (y, row) in dst.pixels().chunks_exact(p.dw as usize).enumerate() {
        let start = ((p.dy + y as u32) * w + p.dx) as usize;
        for (px, o) in row.iter().zip(&mut out[start..start + p.dw as usize]) {
            let [r, g, b, a] = px.0;
            let a = f32::from(a) / 65535.0;
            let c = [r, g, b].map(|v| f32::from(v) / 65535.0);
            for ch in 0..3 {
                o[ch] = c[ch] * a + bgl[ch] * (1.0 - a);
            }
        }
    }
    out
}

/// Floyd–Steinberg error diffusion (serpentine) on linear luminance:
/// `true` = LED lit. Average brightness is kept, so photos stay readable
/// on a 1-bit panel.
pub fn dither_mono(lin: &[[f32; 3]], w: u32, h: u32) -> Vec<bool> {
    let (w, h) = (w as usize, h as usize);
    let mut cur: Vec<f32> = vec![0.0; w + 2];
    let mut next: Vec<f32> = vec![0.0; w + 2];
    let mut out = vec![false; w * h];
    for y in 0..h {
        for (x, e) in cur.iter_mut().enumerate().skip(1).take(w) {
            let [r, g, b] = lin[y * w + x - 1];
            *e += 0.2126 * r + 0.7152 * g + 0.0722 * b;
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

/// Linear light → sRGB bytes; with `rgb565`, ordered-dithered onto the
/// panel's 5-6-5 grid so gradients don't band.
pub fn to_srgb(lin: &[[f32; 3]], w: u32, rgb565: bool) -> Vec<[u8; 3]> {
    let enc = color::SrgbEncoder::get();
    let mut out = Vec::with_capacity(lin.len());
    for (y, row) in lin.chunks(w.max(1) as usize).enumerate() {
        for (x, px) in row.iter().enumerate() {
            let s = px.map(|v| enc.encode(v));
            out.push(if rgb565 {
                color::dither565(s, x as u32, y as u32)
            } else {
                s.map(|v| (v + 0.5) as u8)
            });
        }
    }
    out
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
        let t = std::time::Instant::now();
        let e = decode_image(&bytes).unwrap_err();
        assert!(matches!(e, ImageError::TooLarge(_)), "{e:?}");
        assert!(t.elapsed().as_millis() < 500);
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
        let red = RgbaImage::from_pixel(100, 50, Rgba([255, 0, 0, 255]));
        let out = fit_linear(&red, 40, 40, Fit::Contain, Color::BLACK);
        // 40×20 band in the middle, black bars above and below.
        assert!(out[0][0] < 0.01 && out[(20 * 40 + 20) as usize][0] > 0.99);
        let out = fit_linear(&red, 40, 40, Fit::Cover, Color::BLACK);
        assert!(out.iter().all(|p| p[0] > 0.99));
        let half = RgbaImage::from_pixel(10, 10, Rgba([255, 255, 255, 128]));
        let out = fit_linear(&half, 10, 10, Fit::Stretch, Color::BLACK);
        assert!(
            (out[55][1] - 128.0 / 255.0).abs() < 0.02,
            "alpha over black in linear light"
        );
    }

    #[test]
    fn mono_dither_keeps_average_brightness() {
        let grey = vec![[0.25f32; 3]; 64 * 64];
        let lit = dither_mono(&grey, 64, 64).iter().filter(|b| **b).count();
        assert!((lit as f32 / 4096.0 - 0.25).abs() < 0.02, "{lit}");
    }
}
